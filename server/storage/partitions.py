"""The week partitions of `events` (migrations/0006_events_partitioned_by_week.sql):
creating them ahead, listing them, removing whole weeks, and the compaction
horizon that removal leaves.

Weeks, not days: every read that is not bounded by received_at (all of them:
they order by cursor) plans and starts a scan of every partition, and that
cost grows with their number (measured at 1,000,000 events: 98 day
partitions made ListRecentEvents 2-7 times slower than one table, see
README "Retention"). A week is the precision retention pays for it: an event
is removed between RETENTION_DAYS and RETENTION_DAYS + 7 days of age.

Every statement here is chosen so that no reader or writer of `events` waits
on it (PostgreSQL's lock levels, by statement):

- a week is created as a plain table and then ATTACHed, which takes SHARE
  UPDATE EXCLUSIVE on `events` (CREATE TABLE ... PARTITION OF would take
  ACCESS EXCLUSIVE, and queue every reader behind it);
- a week is removed by DETACH ... CONCURRENTLY (SHARE UPDATE EXCLUSIVE; it
  waits for the queries that may still read the partition), and only then
  dropped: a table no query can reach any more;
- each takes its locks with a short lock_timeout, and is retried: a statement
  waiting for a lock would make every later one queue behind it.

Partition names are events_YYYYMMDD, the Monday (UTC) that starts the week
of received_at they hold, as the migration names them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^events_(\d{8})$")
# Creating a week takes this transaction-level advisory lock: two creators of
# the same week (two servers, a bench) take turns instead of colliding.
_CREATE_LOCK = 0x6576656E7473  # "events"

# DDL waits at most this long for a lock, then gives way and tries again.
LOCK_TIMEOUT = timedelta(milliseconds=100)
ATTEMPTS = 50


WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Partition:
    """One week of events: received_at in [starts, ends); `day` is its Monday."""

    name: str
    day: date

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def ends(self) -> datetime:
        return self.starts + WEEK


def partition_of(day: date) -> Partition:
    """The partition that holds `day`."""
    monday = day - timedelta(days=day.weekday())
    return Partition(f"events_{monday:%Y%m%d}", monday)


def day_of(moment: datetime) -> date:
    """The UTC day a received_at falls in."""
    return moment.astimezone(UTC).date()


def _day_from_name(name: str) -> date | None:
    match = _NAME.match(name)
    return datetime.strptime(match.group(1), "%Y%m%d").date() if match else None


_ATTACHED = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass AND NOT i.inhdetachpending
"""


async def partitions(connection: asyncpg.Connection) -> list[Partition]:
    """The attached day partitions, oldest first."""
    found = []
    for row in await connection.fetch(_ATTACHED):
        day = _day_from_name(row["relname"])
        if day is not None:
            found.append(Partition(row["relname"], day))
    return sorted(found, key=lambda p: p.day)


async def _with_lock_timeout(connection: asyncpg.Connection, sql: str, *args: object) -> None:
    """`sql` in a transaction of its own, giving way whenever a lock is not
    granted within LOCK_TIMEOUT, tried again (with a pause) up to ATTEMPTS times."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with connection.transaction():
                await connection.execute(
                    f"SET LOCAL lock_timeout = {int(LOCK_TIMEOUT.total_seconds() * 1000)}"
                )
                await connection.execute(sql, *args)
            return
        except asyncpg.LockNotAvailableError:
            if attempt == ATTEMPTS:
                raise
            await asyncio.sleep(min(0.05 * attempt, 1.0))


def _create_sql(partition: Partition) -> str:
    # Bounds are literals: DDL takes no parameters. Names and bounds are made
    # here from a date, never from input.
    return f"""
    DO $$
    BEGIN
        PERFORM pg_advisory_xact_lock({_CREATE_LOCK});
        IF to_regclass('{partition.name}') IS NULL THEN
            CREATE TABLE {partition.name} (LIKE events INCLUDING DEFAULTS);
            ALTER TABLE events ATTACH PARTITION {partition.name}
                FOR VALUES FROM ('{partition.starts.isoformat()}') TO ('{partition.ends.isoformat()}');
        END IF;
    END
    $$"""


async def create_partition(connection: asyncpg.Connection, day: date) -> None:
    """The partition that holds `day`, if missing. Idempotent; safe with
    concurrent callers."""
    await _with_lock_timeout(connection, _create_sql(partition_of(day)))


async def ensure_partitions(
    connection: asyncpg.Connection, start: datetime, end: datetime
) -> list[Partition]:
    """Creates the partitions that received_at values from `start` to `end`
    (both included) fall in, those missing; returns those it created.
    For anything that writes events with a received_at of its own (tests,
    bench/history.py): a row of a day without a partition is refused."""
    have = {p.day for p in await partitions(connection)}
    created = []
    week = partition_of(day_of(start))
    while week.day <= day_of(end):
        if week.day not in have:
            await create_partition(connection, week.day)
            created.append(week)
        week = partition_of(week.day + WEEK)
    return created


async def partitions_ahead(
    connection: asyncpg.Connection, today: date, days_ahead: int
) -> list[Partition]:
    """The partitions from today to `days_ahead` days ahead, those missing."""
    return await ensure_partitions(
        connection,
        datetime.combine(today, time(), UTC),
        datetime.combine(today + timedelta(days=days_ahead), time(), UTC),
    )


def is_missing_partition(error: BaseException) -> bool:
    """PostgreSQL refused a row: no partition of `events` holds its received_at."""
    return isinstance(error, asyncpg.CheckViolationError) and "no partition of relation" in str(error)


async def ensure_current(connection: asyncpg.Connection) -> list[Partition]:
    """This week's and next week's partitions by the database's clock (the one
    record_events() stamps received_at with), those missing."""
    now: datetime = await connection.fetchval("SELECT now()")
    return await partitions_ahead(connection, day_of(now), 7)


def older_than(found: Sequence[Partition], cutoff: datetime) -> list[Partition]:
    """The partitions whose every row is older than `cutoff`."""
    return [p for p in found if p.ends <= cutoff]


_DETACH_PENDING = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass AND i.inhdetachpending
"""

async def highest_cursor(connection: asyncpg.Connection, partition: Partition) -> int | None:
    """The highest cursor in the partition (one index probe), None when empty."""
    value = await connection.fetchval(f"SELECT max(cursor) FROM {partition.name}")
    return None if value is None else int(value)


async def raise_horizon(connection: asyncpg.Connection, removed_through: int) -> None:
    """Records that events up to `removed_through` may be gone. Done before
    they go: a watch resuming below it must be told, never skipped ahead."""
    await connection.execute(
        """UPDATE event_horizon
           SET removed_through = greatest(removed_through, $1), removed_at = now()""",
        removed_through,
    )


async def horizon(connection: asyncpg.Connection) -> int:
    """The highest cursor of any removed event; 0 when none was."""
    return int(await connection.fetchval("SELECT removed_through FROM event_horizon"))


async def detach(connection: asyncpg.Connection, name: str) -> None:
    """Takes the partition out of `events` without pausing anyone: DETACH
    CONCURRENTLY waits for the queries that may read it, not the reverse.
    Outside any transaction (PostgreSQL requires it). A detach interrupted
    half-way leaves the partition pending; it is completed here, or by the
    next pass (`finish_detaches`)."""
    try:
        await _outside_transaction_with_lock_timeout(
            connection, f"ALTER TABLE events DETACH PARTITION {_checked(name)} CONCURRENTLY"
        )
    except asyncpg.PostgresError:
        if name not in await _pending(connection):
            raise
        await _finish(connection, name)


async def _pending(connection: asyncpg.Connection) -> list[str]:
    return [row["relname"] for row in await connection.fetch(_DETACH_PENDING)]


async def _finish(connection: asyncpg.Connection, name: str) -> None:
    await _outside_transaction_with_lock_timeout(
        connection, f"ALTER TABLE events DETACH PARTITION {_checked(name)} FINALIZE"
    )


async def finish_detaches(connection: asyncpg.Connection) -> list[str]:
    """Completes the detaches an earlier pass left half-way; returns their names."""
    names = await _pending(connection)
    for name in names:
        await _finish(connection, name)
    return names


async def detached_tables(connection: asyncpg.Connection) -> list[str]:
    """Day tables that are no longer partitions of `events` (see `drop_detached`)."""
    attached = {row["relname"] for row in await connection.fetch(_ATTACHED)}
    pending = set(await _pending(connection))
    rows = await connection.fetch(
        """SELECT relname FROM pg_class
           WHERE relkind = 'r' AND relname ~ '^events_[0-9]{8}$'
             AND relnamespace = current_schema()::regnamespace"""
    )
    return sorted(r["relname"] for r in rows if r["relname"] not in attached | pending)


async def drop_detached(connection: asyncpg.Connection, name: str) -> int:
    """Removes a detached day: the run links to its events, then the table.
    Returns how many events it held (the same when a drop that gave up is
    done again: nothing writes to a detached table).

    No query should reach the table any more, but one still can: a writer
    whose transaction began before the detach committed runs record_events()
    with its generic plan, which names every week it was made with, and
    locks each of them before it finds that plan out of date. DROP TABLE
    queued for its ACCESS EXCLUSIVE lock behind such a writer, and every
    later one queued behind the DROP. So the lock is asked for NOWAIT, and
    the drop gives way and tries again, as the other DDL here does."""
    table = _checked(name)
    async with connection.transaction():
        held = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        await connection.execute(
            f"DELETE FROM run_events WHERE event_id IN (SELECT id FROM {table})"
        )
    await _with_lock_timeout(
        connection, f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE NOWAIT; DROP TABLE {table}"
    )
    return held


def _checked(name: str) -> str:
    """A day table's name, checked before it is spelled into DDL."""
    if not _NAME.match(name):
        raise ValueError(f"not a day partition of events: {name!r}")
    return name


async def _outside_transaction_with_lock_timeout(connection: asyncpg.Connection, sql: str) -> None:
    timeout = int(LOCK_TIMEOUT.total_seconds() * 1000)
    for attempt in range(1, ATTEMPTS + 1):
        await connection.execute(f"SET lock_timeout = {timeout}")
        try:
            await connection.execute(sql)
            return
        except asyncpg.LockNotAvailableError:
            if attempt == ATTEMPTS:
                raise
        finally:
            await connection.execute("RESET lock_timeout")
        await asyncio.sleep(min(0.05 * attempt, 1.0))
