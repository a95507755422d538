"""Every call is bounded: a database that does not answer yields UNAVAILABLE
in seconds, for callers that bring no deadline of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2

from tests.harness import INGEST, Service, reason_of, start_service, stop_service


async def held_cursor_lock(dsn: str) -> tuple[asyncpg.Connection, Any]:
    """Another session holding the row every write must take: the write hangs."""
    blocker = await asyncpg.connect(dsn)
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("SELECT * FROM event_cursor FOR UPDATE")
    return blocker, transaction


@pytest.fixture
async def bounded(database: str) -> AsyncIterator[Service]:
    running = await start_service(database, statement_timeout=1.0, call_timeout=30.0)
    yield running
    await stop_service(running)


@pytest.fixture
async def short_calls(database: str) -> AsyncIterator[Service]:
    running = await start_service(database, statement_timeout=30.0, call_timeout=1.0)
    yield running
    await stop_service(running)


async def test_a_statement_that_waits_too_long_is_unavailable_and_writes_nothing(
    bounded: Service,
) -> None:
    blocker, transaction = await held_cursor_lock(bounded.dsn)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await bounded.record(event_id="stuck")  # no deadline
        took = asyncio.get_running_loop().time() - started
    finally:
        await transaction.rollback()
        await blocker.close()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert reason_of(raised.value) == "DATABASE_UNAVAILABLE"
    assert took < 5
    assert await bounded.count_rows("events") == 0
    assert (await bounded.record(event_id="later")).event_id  # and it recovers at once


async def test_a_call_without_a_deadline_gets_the_servers_own(short_calls: Service) -> None:
    blocker, transaction = await held_cursor_lock(short_calls.dsn)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await short_calls.record(event_id="stuck")
        took = asyncio.get_running_loop().time() - started
    finally:
        await transaction.rollback()
        await blocker.close()
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert took < 5
    assert await short_calls.count_rows("events") == 0


async def backend_pids(service: Service) -> list[int]:
    """The PostgreSQL processes serving this test's database."""
    connection = await asyncpg.connect(service.dsn)  # not a pooled one: it is left out
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@pytest.mark.timeout(90)
async def test_a_frozen_database_answers_unavailable_in_seconds_then_recovers(
    database: str,
) -> None:
    service = await start_service(database, statement_timeout=1.0, call_timeout=30.0)
    try:
        await asyncio.gather(*(service.record() for _ in range(4)))  # open pooled connections
        pids = await backend_pids(service)
        if not pids or not all(os.path.exists(f"/proc/{pid}") for pid in pids):
            pytest.skip("the database's processes are not on this machine")
        signal_all(pids, signal.SIGSTOP)  # hung: connected, never answering
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())
            took = asyncio.get_running_loop().time() - started
        finally:
            signal_all(pids, signal.SIGCONT)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert took < 8, f"a frozen database held a call without a deadline for {took:.1f}s"
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await service.record(event_id="after-thaw")
                    break
                await asyncio.sleep(0.2)
    finally:
        await stop_service(service)


async def test_a_write_past_its_deadline_leaves_nothing_and_retries_make_one_occurrence(
    service: Service,
) -> None:
    """A client whose deadline passed cannot know whether its write landed.
    Here it did not (gRPC cancels the call on the server, and its transaction
    rolls back), and retrying it as it was, once or twice, makes exactly one
    occurrence: a write that did commit (a connection lost at COMMIT) would
    make the first retry a duplicate instead, never a second occurrence."""
    blocker, transaction = await held_cursor_lock(service.dsn)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await service.events.RecordAlertEvent(
                events_pb2.RecordAlertEventRequest(
                    project_id="alpha", provider="alertmanager", event_id="maybe", fingerprint="fp"
                ),
                metadata=INGEST,
                timeout=0.5,
            )
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        await transaction.rollback()
        await blocker.close()
    await asyncio.sleep(0.5)
    assert await service.count_rows("events") == 0  # nothing half-written

    first = await service.record(event_id="maybe", fingerprint="fp")
    again = await service.record(event_id="maybe", fingerprint="fp")

    assert (first.is_duplicate, again.is_duplicate) == (False, True)
    model = await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id="alpha")
    )
    [group] = model.items
    assert (group.occurrence_total, group.duplicate_total) == (1, 1)
