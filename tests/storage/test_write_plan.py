"""A write's duplicate check stays an index probe however the table grew
since its connection first wrote.

record_events() keeps one plan per connection (a generic one, migration
0005), and a pooled connection lives for hours. A plan made while `events`
(or this week's partition, new every Monday) was empty read the whole
partition for every write: measured, a server's ingest fell from ~840 to
~360 events/s within 20 s of a storm on a fresh database, PostgreSQL's CPU
per event growing with the rows (bench/RESULTS.md). The check must probe the
duplicate-key index whatever the statistics said when it was planned.

pg_stat_xact_user_tables counts the rows the current transaction read (by
sequential scans and by index fetches), so the write's own are read inside
its transaction."""

from __future__ import annotations

import asyncpg

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, NewEvent
from server.storage import events
from server.storage.database import connect
from tests.storage.bulk import grow_events, rows_read

GROWN = 20_000


def _event(event_id: str) -> NewEvent:
    return derive_event(AlertEventInput(
        project_id="alpha", provider="alertmanager", event_id=event_id, fingerprint=event_id
    ))


async def _write(connection: asyncpg.Connection, event: NewEvent) -> tuple[int, bool]:
    """(rows of `events` the write read, whether it was a duplicate)"""
    async with connection.transaction():
        [recorded] = await events.insert_events(connection, [event])
        scanned = await rows_read(connection)
    return scanned, recorded.is_duplicate


async def test_a_write_planned_on_an_empty_table_still_probes_the_index(database: str) -> None:
    connection = await connect(database)
    try:
        # Planned while `events` holds one row (5 times: past any custom plan).
        for n in range(6):
            async with connection.transaction():
                await events.insert_events(connection, [_event(f"early-{n}")])
        await grow_events(database, GROWN)

        first = await _write(connection, _event("late"))
        again = await _write(connection, _event("late"))
        bulk = await _write(connection, _event("bulk-7"))
    finally:
        await connection.close()

    assert (first[1], again[1], bulk[1]) == (False, True, True)  # the check still checks
    for scanned, _ in (first, again, bulk):
        assert scanned < 100, f"one write read {scanned} rows of a table of {GROWN:,}"
