"""Retention (SPEC section 9): old weeks of events are dropped whole with
their links, runs and work-item history follow their own setting, one pass
at a time, and a watch resumed below what was removed is told so."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import httpx
import pytest
from awooop.channel_events.v1 import events_pb2

from server.domain.cursors import decode_cursor, encode_cursor
from server.operations.retention import Retention, RetentionPass
from server.storage import partitions
from tests.harness import INGEST, Service, error_details, reason_of, start_service, stop_service
from tests.watching import Subscription

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=120)


@pytest.fixture
async def service(database: str) -> AsyncIterator[Service]:
    """A server whose own pass only creates partitions (it keeps everything),
    so that each test runs the passes it asserts on."""
    running = await start_service(database, retention_days=0, history_retention_days=0)
    yield running
    await stop_service(running)


async def _aged(service: Service, responses: list[events_pb2.RecordAlertEventResponse],
                received_at: datetime) -> None:
    """Moves events into the past (their week's partition is made first)."""
    async with service.store.connection() as connection:
        await partitions.ensure_partitions(connection, received_at, received_at)
        await connection.execute(
            "UPDATE events SET received_at = $1 WHERE id = ANY($2::uuid[])",
            received_at, [uuid.UUID(r.event_id) for r in responses],
        )


async def _pass(service: Service, retention_days: int = 90, history_days: int = 365) -> RetentionPass:
    """One pass; waits its turn if the server's own pass holds the lock."""
    retention = Retention(service.store, retention_days, history_days, pause=0)
    for _ in range(100):
        done = await retention.run()
        if done.ran:
            return done
        await asyncio.sleep(0.05)
    raise AssertionError("the retention lock was never free")


async def _ids(service: Service) -> set[str]:
    async with service.store.connection() as connection:
        return {str(r["id"]) for r in await connection.fetch("SELECT id FROM events")}


async def _old_and_new(service: Service) -> tuple[list[events_pb2.RecordAlertEventResponse],
                                                  list[events_pb2.RecordAlertEventResponse]]:
    old = [await service.record(event_id=f"old-{i}") for i in range(5)]
    new = [await service.record(event_id=f"new-{i}") for i in range(3)]
    await _aged(service, old, OLD)
    return old, new


async def test_the_pass_drops_weeks_older_than_the_retention_and_nothing_newer(
    service: Service,
) -> None:
    old, new = await _old_and_new(service)
    recent = [await service.record(event_id="recent")]
    await _aged(service, recent, NOW - timedelta(days=30))
    run_id = str(uuid.uuid4())
    await service.events.RecordRun(
        events_pb2.RecordRunRequest(run_id=run_id, project_id="alpha",
                                    event_ids=[old[0].event_id, new[0].event_id]),
        metadata=INGEST,
    )

    done = await _pass(service)

    assert done.removed_partitions == [partitions.partition_of(OLD.date()).name]
    assert done.removed["events"] == 5
    assert await _ids(service) == {r.event_id for r in new + recent}
    async with service.store.connection() as connection:
        links = await connection.fetch("SELECT event_id FROM run_events")
        assert [str(r["event_id"]) for r in links] == [new[0].event_id]
        assert await partitions.horizon(connection) == max(decode_cursor(r.cursor) for r in old)
    # Nothing left to do: a second pass removes nothing.
    assert not (await _pass(service)).removed_partitions


async def test_zero_days_keeps_every_event(service: Service) -> None:
    old, new = await _old_and_new(service)
    done = await _pass(service, retention_days=0)
    assert not done.removed_partitions
    assert await _ids(service) == {r.event_id for r in old + new}


async def test_the_pass_creates_the_partitions_ahead(service: Service) -> None:
    done = await _pass(service)
    async with service.store.connection() as connection:
        weeks = {p.day for p in await partitions.partitions(connection)}
    assert partitions.partition_of(NOW.date()).day in weeks
    assert partitions.partition_of((NOW + timedelta(days=7)).date()).day in weeks
    assert done.partitions == len(weeks)


async def test_runs_and_history_follow_their_own_setting(service: Service) -> None:
    async with service.store.connection() as connection:
        for age_days, name in ((400, "ancient"), (200, "old")):
            at = NOW - timedelta(days=age_days)
            run = uuid.uuid4()
            await connection.execute(
                """INSERT INTO runs (run_id, project_id, state, created_at, updated_at, update_seq)
                   VALUES ($1, 'alpha', 'completed', $2, $2, nextval('run_update_seq'))""", run, at)
            dry_run = uuid.uuid4()
            await connection.execute(
                """INSERT INTO work_item_dry_runs (dry_run_id, work_item_id, project_id,
                       recurrence_key, kind, mode, outcome, checks, failed_checks, operator_id,
                       created_at)
                   VALUES ($1, $2, 'alpha', 'k', 'kind', 'mode', 'passed', '[]', '{}', 'op', $3)""",
                dry_run, f"wi-{name}", at)
            await connection.execute(
                """INSERT INTO work_item_handoffs (handoff_id, work_item_id, project_id,
                       handoff_kind, dry_run_id, proposal_title, proposal_description_markdown,
                       proposal_severity, operator_id, created_at)
                   VALUES ($1, $2, 'alpha', 'issue', $3, 't', 'd', 'info', 'op', $4)""",
                uuid.uuid4(), f"wi-{name}", dry_run, at)

    done = await _pass(service, retention_days=90, history_days=365)

    assert done.removed == {"runs": 1, "handoffs": 1, "dry_runs": 1}
    async with service.store.connection() as connection:
        for table in ("runs", "work_item_dry_runs", "work_item_handoffs"):
            assert await connection.fetchval(f"SELECT count(*) FROM {table}") == 1
        assert await connection.fetchval("SELECT work_item_id FROM work_item_handoffs") == "wi-old"


async def test_two_passes_at_once_do_the_work_once_without_error(service: Service) -> None:
    await _old_and_new(service)
    passes = [Retention(service.store, 90, 365, pause=0) for _ in range(4)]
    results = await asyncio.gather(*(p.run() for p in passes))
    while not any(r.removed_partitions for r in results):  # the server's own pass was first
        results = [await _pass(service)]
    assert sum(r.removed.get("events", 0) for r in results) == 5
    assert sum(len(r.removed_partitions) for r in results) == 1


async def test_a_watch_resumed_below_the_horizon_is_out_of_range_with_the_oldest_cursor(
    service: Service,
) -> None:
    old, _ = await _old_and_new(service)
    await _pass(service)
    horizon = encode_cursor(max(decode_cursor(r.cursor) for r in old))

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in service.events.WatchEvents(
            events_pb2.WatchEventsRequest(after_cursor=old[0].cursor)
        ):
            pass
    assert raised.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert reason_of(raised.value) == "CURSOR_COMPACTED"
    _, info = error_details(raised.value)
    assert info is not None and info.metadata["oldest_cursor"] == horizon

    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        response = await client.get("/events/watch", params={"after_cursor": old[0].cursor})
    assert response.status_code == 410
    assert response.json()["reason"] == "CURSOR_COMPACTED"
    assert response.json()["metadata"]["oldest_cursor"] == horizon

    # From the horizon on, the watch serves again.
    watch = await Subscription(service.channel, after_cursor=horizon).open()
    await watch.until(lambda r: len(r.events) == 3)
    await watch.cancel()


async def test_a_live_watch_across_a_drop_gets_every_event(service: Service) -> None:
    await _old_and_new(service)
    watch = await Subscription(service.channel).open()
    written = []

    async def write() -> None:
        for i in range(40):
            written.append((await service.record(event_id=f"live-{i}")).event_id)
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(write())
    done = await _pass(service)
    await writer
    assert done.removed_partitions
    await watch.until(lambda r: len(r.events) == 40)
    assert watch.received.event_ids == written
    await watch.cancel()


async def test_writers_and_readers_do_not_wait_while_weeks_are_dropped(service: Service) -> None:
    """No call fails, none waits for a lock the pass holds, and none takes
    longer than 3 x its usual p99 (with a floor: on a shared machine the
    scheduler alone costs tens of milliseconds now and then)."""

    async def call() -> float:
        start = time.perf_counter()
        await service.record(event_id=f"w-{uuid.uuid4()}")
        await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(limit=20))
        return time.perf_counter() - start

    usual = sorted([await call() for _ in range(100)])
    p99 = usual[98]

    async def drop_weeks() -> int:
        dropped = 0
        for weeks_ago in range(20, 26):
            old = [await service.record(event_id=f"d-{weeks_ago}")]
            await _aged(service, old, NOW - timedelta(weeks=weeks_ago))
            dropped += len((await _pass(service)).removed_partitions)
        return dropped

    lock_waits: list[str] = []

    async def watch_lock_waits() -> None:
        # A call's statement waiting on a heavyweight lock is the pause the
        # pass must never cause (the pass's own DDL may wait: it gives way).
        async with service.store.connection() as connection:
            while True:
                lock_waits.extend(
                    row["query"] for row in await connection.fetch(
                        """SELECT query FROM pg_stat_activity
                           WHERE datname = current_database() AND wait_event_type = 'Lock'
                             AND query NOT ILIKE 'ALTER TABLE%' AND query NOT ILIKE '%DO $$%'""")
                )
                await asyncio.sleep(0.005)

    dropping = asyncio.create_task(drop_weeks())
    watching = asyncio.create_task(watch_lock_waits())
    during = []
    while not dropping.done():
        during.append(await call())
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    assert await dropping == 6
    assert lock_waits == []
    assert max(during) <= max(3 * p99, 0.2), (max(during), p99, statistics.median(during))


async def test_a_week_removed_while_a_stream_catches_up_through_it_ends_the_stream(
    service: Service,
) -> None:
    """The horizon is checked after each catch-up read too: a stream that
    was above it when it opened is told, not skipped ahead, when a removal
    overtakes it (simulated: the horizon rises just before a catch-up read)."""
    written = [await service.record(event_id=f"c-{i}") for i in range(5)]
    store = service.app.watch._store
    read = store.events_after

    async def removal_overtakes(*args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        if len(args) == 4:  # a stream's catch-up read (the hub's names its projects too)
            async with store.connection() as connection:
                await partitions.raise_horizon(connection, decode_cursor(written[-1].cursor))
        return await read(*args, **kwargs)  # type: ignore[arg-type]

    store.events_after = removal_overtakes  # type: ignore[method-assign]
    watch = await Subscription(service.channel, after_cursor=written[0].cursor).open()
    assert await watch.until_ended() == grpc.StatusCode.OUT_OF_RANGE
    assert len(watch.received.events) < 4


async def test_a_write_never_fails_for_want_of_a_partition(service: Service) -> None:
    """Should no pass have run for a week, a write makes its week itself."""
    week = partitions.partition_of(datetime.now(UTC).date())
    async with service.store.connection() as connection:
        await connection.execute(f"ALTER TABLE events DETACH PARTITION {week.name}")
        await connection.execute(f"DROP TABLE {week.name}")
    recorded = await service.record(event_id="after-a-lost-week")
    assert recorded.event_id in await _ids(service)
