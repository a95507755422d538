"""Retention (SPEC section 9): the pass that keeps the history from growing
forever, run by the service itself at start and every `retention_interval`.

One pass, under a PostgreSQL advisory lock (one server at a time; another
that finds it taken skips its turn):

1. creates the week partitions of `events` ahead (this week and the next),
   so that a write always finds its partition;
2. when AWOOOP_RETENTION_DAYS is set, removes every week wholly older than
   it: first raises the compaction horizon to the week's highest cursor (a
   watch resuming below it is then told CURSOR_COMPACTED, never skipped
   ahead), then detaches the week concurrently, removes the run links to its
   events and drops it; then the webhook bodies no event names any more;
3. when AWOOOP_HISTORY_RETENTION_DAYS is set, removes runs (with their
   links), handoffs and dry-runs older than it, a batch at a time.

Nothing here makes a reader or writer wait (server/storage/partitions.py
says how), and a pass stopped half-way is finished by the next one,
whichever server runs it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from server.observability.metrics import Metrics
from server.storage import partitions
from server.storage import retention as sql
from server.storage.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# Between batches: the pass is background work and leaves room for calls.
PAUSE_SECONDS = 0.02
# Partitions exist this far ahead of now (at least the next week).
DAYS_AHEAD = 7


@dataclass
class RetentionPass:
    """What one pass did; `ran` is False when another server held the lock."""

    ran: bool = True
    created: list[str] = field(default_factory=list)
    removed_partitions: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)
    partitions: int = 0
    oldest_kept: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Retention:
    def __init__(
        self,
        store: Store,
        retention_days: int,
        history_retention_days: int,
        metrics: Metrics | None = None,
        batch_size: int = BATCH_SIZE,
        pause: float = PAUSE_SECONDS,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """`retention_days`, `history_retention_days`: 0 keeps everything."""
        self._store = store
        self._retention = timedelta(days=retention_days) if retention_days else None
        self._history = timedelta(days=history_retention_days) if history_retention_days else None
        self._metrics = metrics
        self._batch_size = batch_size
        self._pause = pause
        self._clock = clock

    async def run(self) -> RetentionPass:
        """One pass, if no other server is running one."""
        # A connection of its own: the pass holds a session lock, and sleeps
        # between batches, neither of which a pooled connection may.
        async with self._store.session() as connection:
            if not await sql.try_pass_lock(connection):
                return RetentionPass(ran=False)
            try:
                done = await self._pass(connection)
            finally:
                await sql.release_pass_lock(connection)
        self._report(done)
        return done

    async def _pass(self, connection: asyncpg.Connection) -> RetentionPass:
        done = RetentionPass()
        now = self._clock()
        created = await partitions.partitions_ahead(
            connection, partitions.day_of(now), DAYS_AHEAD
        )
        done.created = [p.name for p in created]
        if self._retention is not None:
            await self._remove_old_weeks(connection, now - self._retention, done)
        kept = await partitions.partitions(connection)
        done.partitions = len(kept)
        done.oldest_kept = kept[0].starts if kept else None
        if self._retention is not None and kept:
            # A body is shared by the events of one webhook; it goes once the
            # last of them has (storage/retention.py checks that none is left).
            await self._batches(connection, "bodies", sql.delete_bodies, kept[0].starts, done)
        if self._history is not None:
            before = now - self._history
            await self._batches(connection, "runs", sql.delete_runs, before, done)
            await self._batches(connection, "handoffs", sql.delete_handoffs, before, done)
            await self._batches(connection, "dry_runs", sql.delete_dry_runs, before, done)
        return done

    async def _remove_old_weeks(
        self, connection: asyncpg.Connection, cutoff: datetime, done: RetentionPass
    ) -> None:
        await partitions.finish_detaches(connection)
        for old in partitions.older_than(await partitions.partitions(connection), cutoff):
            highest = await partitions.highest_cursor(connection, old)
            if highest is not None:
                await partitions.raise_horizon(connection, highest)
            await partitions.detach(connection, old.name)
            done.removed_partitions.append(old.name)
        # Those just detached, and any an earlier pass detached but did not drop.
        for name in await partitions.detached_tables(connection):
            events = await partitions.drop_detached(connection, name)
            done.removed["events"] = done.removed.get("events", 0) + events

    async def _batches(
        self,
        connection: asyncpg.Connection,
        kind: str,
        delete: Callable[[asyncpg.Connection, datetime, int], Awaitable[int]],
        before: datetime,
        done: RetentionPass,
    ) -> None:
        while removed := await delete(connection, before, self._batch_size):
            done.removed[kind] = done.removed.get(kind, 0) + removed
            await asyncio.sleep(self._pause)

    def _report(self, done: RetentionPass) -> None:
        if done.removed_partitions or done.removed:
            log.info("retention: removed %s; partitions %s",
                     ", ".join(f"{n} {k}" for k, n in sorted(done.removed.items())) or "nothing",
                     ", ".join(done.removed_partitions) or "none")
        if self._metrics is None:
            return
        for kind, removed in done.removed.items():
            self._metrics.retention_removed.labels(kind).inc(removed)
        self._metrics.partitions_removed.inc(len(done.removed_partitions))
        self._metrics.partitions.set(done.partitions)
        if done.oldest_kept is not None:
            age = (self._clock() - done.oldest_kept).total_seconds()
            self._metrics.horizon_age.set(max(0.0, age))

    async def run_every(self, interval: float) -> None:
        """A pass now and every `interval` seconds, until cancelled. A failed
        pass is logged, never fatal: the next one finishes its work."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - background work must not take the server down
                log.warning("retention pass failed; the next one resumes it", exc_info=True)
            await asyncio.sleep(interval)
