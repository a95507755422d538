"""Dropping a detached week (partitions.drop_detached) makes no one wait.

A writer whose transaction began before a week's detach committed still
locks that week's table once (its cached plan names it) before it replans.
A DROP TABLE that queued for its lock behind such a writer made every later
one queue behind the DROP (tests/api/test_retention.py saw a record_events()
waiting on a lock once). Here a second session holds the table, as that
writer would, and a third reads it while the drop waits for its turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from server.storage import partitions
from server.storage.database import connect

pytestmark = pytest.mark.timeout(30)


async def test_a_drop_gives_way_to_a_holder_and_no_one_queues_behind_it(database: str) -> None:
    dropper, holder, reader = [await connect(database) for _ in range(3)]
    try:
        week = partitions.partition_of((datetime.now(UTC) - timedelta(weeks=30)).date())
        await partitions.create_partition(dropper, week.day)
        await partitions.detach(dropper, week.name)
        assert week.name in await partitions.detached_tables(dropper)

        holding = holder.transaction()
        await holding.start()
        await holder.fetchval(f"SELECT count(*) FROM {week.name}")
        dropping = asyncio.create_task(partitions.drop_detached(dropper, week.name))
        await asyncio.sleep(0.3)
        assert not dropping.done(), "the drop did not wait for the session holding the table"
        # Not queued behind the drop's ACCESS EXCLUSIVE request: answered at once.
        assert await asyncio.wait_for(reader.fetchval(f"SELECT count(*) FROM {week.name}"), 2) == 0
        waiting = await reader.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        )
        assert waiting == 0
        await holding.rollback()

        assert await asyncio.wait_for(dropping, 10) == 0
        assert week.name not in await partitions.detached_tables(dropper)
    finally:
        for connection in (dropper, holder, reader):
            await connection.close()
