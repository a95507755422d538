"""How an event write should reach PostgreSQL: the options, SQL only.

No gRPC and no derivation: the same derived event row is written by each
option at 1, 4, 16 and 64 writers in flight (a pool of at most 16
connections, as a server's would be), for SECONDS each, on one fresh database.
The figure is rows committed per second, as a ratio to "raw" measured in
the same run.

- raw: BEGIN; INSERT of the row with a cursor from a plain sequence; COMMIT.
  What PostgreSQL and asyncpg alone allow; no order, no notification.
- held lock (before issue 10): BEGIN; UPDATE event_cursor (the cursor lock)
  and pg_notify; INSERT; COMMIT. The lock is held across two round trips.
- one call, global lock (migration 0004, tried first): one call of a
  server-side function that takes the cursor lock, INSERTs and NOTIFYs; the
  lock is still held through the COMMIT and its WAL flush, so commits never
  share a flush.
- record_events() (migration 0005, the write now): BEGIN, one call, COMMIT
  (as Store.record_events: a cancelled call never commits); no global lock
  (cursor from the transaction id, a lock per duplicate key, event_cursor
  FOR KEY SHARE), no NOTIFY inside (the server sends one after the commit,
  coalesced, storage/commit_signal.py; not included here).
- INSERT + NOTIFY, no lock: a plain INSERT that NOTIFYs: what NOTIFY alone
  costs (PostgreSQL serialises the commits of notifying transactions).

Run: `make bench BENCH=write_paths`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, NewEvent
from server.storage import events
from server.storage.database import create_pool
from server.storage.migrations import MIGRATIONS_DIR
from tests.harness import PostgresForTests

SECONDS = 3.0
CONCURRENCY = (1, 4, 16, 64)
POOL = 16

# The write before issue 10, kept here to measure it against.
_HELD_TAKE = """
WITH taken AS (
    UPDATE event_cursor SET last_cursor = last_cursor + $1 RETURNING last_cursor
)
SELECT last_cursor, pg_notify($2, last_cursor::text) FROM taken
"""
_NAMES = ", ".join(c.name for c in events._SENT)


def _insert_sql(cursor_sql: str, notify: bool) -> str:
    """An INSERT of one event row: its sent columns as $1.., then the cursor."""
    values = ", ".join(
        f"${n}::jsonb" if c.pg_type == "jsonb" else f"${n}"
        for n, c in enumerate(events._SENT, start=1)
    )
    returning = "RETURNING cursor"
    if notify:
        returning = "RETURNING cursor, pg_notify('channel_events', cursor::text)"
    return (
        f"INSERT INTO events ({_NAMES}, cursor, is_duplicate, received_at) "
        f"VALUES ({values}, {cursor_sql}, false, clock_timestamp()) {returning}"
    )


_RAW = _insert_sql("nextval('bench_cursor')", notify=False)
_GLOBAL_LOCK_FUNCTION = (
    (MIGRATIONS_DIR / "0004_one_round_trip_writes.sql").read_text()
    .replace("CREATE FUNCTION record_events(", "CREATE OR REPLACE FUNCTION bench_global_lock(")
)
_GLOBAL_LOCK_CALL = events._RECORD_EVENTS.replace("record_events(", "bench_global_lock(")
_HELD_INSERT = _insert_sql(f"${len(events._SENT) + 1}", notify=False)
_UNORDERED = _insert_sql("nextval('bench_cursor')", notify=True)


def _event(n: int) -> NewEvent:
    alert = AlertEventInput(
        project_id="proj-1", provider="alertmanager", event_id=f"w-{n}",
        title="HighPodMemory", fingerprint="fp-1", labels={"alertname": "HighPodMemory"},
        annotations={"summary": "memory above 90% on api-7d9f8b6c5-x2k4q"},
    )
    return derive_event(alert)


_TEMPLATE = _event(0)


def _fresh() -> NewEvent:
    return _TEMPLATE.model_copy(
        update={"id": uuid.uuid4(), "provider_event_id": f"alertmanager:w-{uuid.uuid4()}"}
    )


def _row_values(event: NewEvent) -> list[Any]:
    return [column.batch_values([event])[0] for column in events._SENT]


Write = Callable[[asyncpg.Connection, NewEvent], Awaitable[object]]


async def _raw(connection: asyncpg.Connection, event: NewEvent) -> object:
    async with connection.transaction():
        return await connection.execute(_RAW, *_row_values(event))


async def _held(connection: asyncpg.Connection, event: NewEvent) -> object:
    async with connection.transaction():
        top = await connection.fetchval(_HELD_TAKE, 1, events.NOTIFY_CHANNEL)
        return await connection.execute(_HELD_INSERT, *_row_values(event), top)


async def _global_lock(connection: asyncpg.Connection, event: NewEvent) -> object:
    batch = [event]
    return await connection.fetch(
        _GLOBAL_LOCK_CALL, None, None, None, None,
        *(column.batch_values(batch) for column in events._SENT),
        [False],
    )


async def _function(connection: asyncpg.Connection, event: NewEvent) -> object:
    async with connection.transaction():  # as Store.record_events does
        return await events.insert_events(connection, [event])


async def _unordered(connection: asyncpg.Connection, event: NewEvent) -> object:
    return await connection.fetch(_UNORDERED, *_row_values(event))


OPTIONS: dict[str, Write] = {
    "raw BEGIN/INSERT/COMMIT": _raw,
    "held lock (before issue 10)": _held,
    "one call, global lock (0004)": _global_lock,
    "record_events() (0005, now)": _function,
    "INSERT + NOTIFY, no lock": _unordered,
}


async def _rate(pool: asyncpg.Pool, write: Write, in_flight: int) -> float:
    done = 0
    stop = time.perf_counter() + SECONDS

    async def writer() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            event = _fresh()
            async with pool.acquire() as proxy:
                await write(cast(asyncpg.Connection, proxy), event)
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(in_flight)))
    return done / (time.perf_counter() - start)


async def measure(dsn: str) -> dict[str, dict[int, float]]:
    """rows/s per option and concurrency; the options interleaved per level,
    so that a burst of machine noise hits them all."""
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute("CREATE SEQUENCE IF NOT EXISTS bench_cursor INCREMENT BY -1 START WITH -1")
        await setup.execute(_GLOBAL_LOCK_FUNCTION)
    finally:
        await setup.close()
    pool = await create_pool(dsn, max_size=POOL)
    results: dict[str, dict[int, float]] = {name: {} for name in OPTIONS}
    try:
        for in_flight in CONCURRENCY:
            for name, write in OPTIONS.items():
                results[name][in_flight] = await _rate(pool, write, in_flight)
    finally:
        await pool.close()
    return results


def table(results: dict[str, dict[int, float]]) -> list[str]:
    raw = results["raw BEGIN/INSERT/COMMIT"]
    header = f"| write path | {' | '.join(f'{c} in flight' for c in CONCURRENCY)} |"
    lines = [header, "|---|" + "---:|" * len(CONCURRENCY)]
    for name, rates in results.items():
        cells = [f"{rates[c]:,.0f} ({rates[c] / raw[c]:.2f}×)" for c in CONCURRENCY]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


async def _run() -> None:
    postgres = PostgresForTests()
    try:
        dsn = await postgres.fresh_database()
        results = await measure(dsn)
    finally:
        postgres.close()
    print(f"rows committed per second (ratio to raw), pool of {POOL}, {SECONDS:.0f} s each")
    print("\n".join(table(results)))


def main() -> None:
    asyncio.run(_run())
