"""The store: the pool plus the transactions the service needs.

Every write that spans several statements happens here in one transaction, so
a failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg

from server.domain.dossier import ProviderCoverage
from server.domain.errors import database_unavailable
from server.domain.event_rows import DossierEvent, ListedEvent
from server.domain.models import (
    EventFilter,
    NewEvent,
    Recorded,
    Run,
    RunInput,
    SourceBody,
    StoredEvent,
)
from server.domain.work_items import DryRunRecord, HandoffRecord, HistoryRecord
from server.storage import database, events, partitions, recurrence, runs, work_items
from server.storage.commit_signal import CommitSignal
from server.storage.group_commit import GroupCommit, Prepare

R = TypeVar("R")


class PooledConnection:
    """`async with` a connection of the pool, given back after. Failing to
    get one, whatever PostgreSQL said, means the database is unavailable
    right now, not that the call was bad.

    A class rather than an @asynccontextmanager: every read passes through
    it, and the generator machinery cost a small read ~3% of the server's
    core (py-spy under bench/bench_reads.py's load)."""

    __slots__ = ("_pool", "_proxy")

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._proxy: Any = None

    async def __aenter__(self) -> asyncpg.Connection:
        try:
            self._proxy = await self._pool.acquire()
        except Exception as error:
            raise database_unavailable() from error
        # A pool proxy, used exactly like the Connection it wraps.
        return cast(asyncpg.Connection, self._proxy)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._pool.release(self._proxy)


class Store:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        # For connections that must not come from the pool (a LISTEN).
        self.dsn = dsn
        # Wakes every server's watch after each event write.
        self.commit_signal = CommitSignal(pool)
        # Single events written together (RecordAlertEvent under a storm).
        self.group_commit = GroupCommit(self.record_events)

    def connection(self) -> PooledConnection:
        """A pooled connection, for one `async with`."""
        return PooledConnection(self.pool)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection of its own, closed after: for work that keeps session
        state (a session advisory lock, a SET), which a pooled connection must
        never carry, since the pool does not reset it (database.py)."""
        try:
            connection = await database.connect(self.dsn, timeout=database.CONNECT_TIMEOUT)
        except Exception as error:
            raise database_unavailable() from error
        try:
            yield connection
        finally:
            await connection.close()

    async def record_events(
        self, new_events: Sequence[NewEvent], body: SourceBody | None = None
    ) -> list[Recorded]:
        """All of them or none, with the webhook body they came in, if any:
        one statement, in a transaction of its own. BEGIN and COMMIT cost two
        round trips, but no write waits on them (there is no shared lock), and
        a call cancelled meanwhile (its deadline passed) never reaches COMMIT:
        it leaves nothing, where a lone statement could commit after the
        client gave up."""
        try:
            return await self._write_events(
                lambda connection: events.insert_events(connection, new_events, body)
            )
        finally:
            self.commit_signal.written()

    async def record_event(self, new_event: NewEvent) -> Recorded:
        """One event, written in one batch with the others that arrive
        meanwhile (group_commit.py): committed when this returns."""
        return await self.group_commit.record(new_event)

    async def prepare_and_record_event(self, prepare: Prepare, request_bytes: int) -> Recorded:
        """As record_event, for the event `prepare` makes when its batch is
        taken (group_commit.py); what `prepare` raises is raised here."""
        return await self.group_commit.prepare_and_record(prepare, request_bytes)

    async def _write_events(self, write: Callable[[asyncpg.Connection], Awaitable[R]]) -> R:
        """`write` in a transaction of its own. A write never fails for want of
        a partition: the retention pass creates them a week ahead, and should
        no server have run it for that long, the write creates this week's
        and tries once more (server/storage/partitions.py)."""
        try:
            async with self.connection() as connection, connection.transaction():
                return await write(connection)
        except asyncpg.CheckViolationError as error:
            if not partitions.is_missing_partition(error):
                raise
        async with self.connection() as connection:
            await partitions.ensure_current(connection)
        async with self.connection() as connection, connection.transaction():
            return await write(connection)

    async def record_run(self, run: RunInput) -> Run:
        async with self.connection() as connection, connection.transaction():
            return await runs.upsert_run(connection, run)

    async def record_events_with_runs(
        self, new_events: Sequence[NewEvent], new_runs: Sequence[RunInput]
    ) -> tuple[list[Recorded], list[Run]]:
        """Events and the runs linked to them, in one transaction. The runs must
        follow the events they link to, so this transaction stays open across
        the runs' round trips (holding the watchers' bound back that long,
        storage/events.py): fine for heartbeats, a few calls an hour."""
        async def write(connection: asyncpg.Connection) -> tuple[list[Recorded], list[Run]]:
            recorded = await events.insert_events(connection, new_events)
            stored_runs = [await runs.upsert_run(connection, run) for run in new_runs]
            return recorded, stored_runs

        try:
            return await self._write_events(write)
        finally:
            self.commit_signal.written()

    async def recent_events(
        self, event_filter: EventFilter, limit: int, before_cursor: int | None = None
    ) -> list[ListedEvent]:
        async with self.connection() as connection:
            return await events.recent_events(connection, event_filter, limit, before_cursor)

    async def dossier_events(
        self, event_filter: EventFilter, limit: int, before_cursor: int | None = None
    ) -> list[DossierEvent]:
        async with self.connection() as connection:
            return await events.dossier_events(connection, event_filter, limit, before_cursor)

    async def events_after(
        self,
        event_filter: EventFilter,
        after_cursor: int,
        limit: int,
        upto: int | None = None,
        projects: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """Matching events above `after_cursor` and at most `upto` (of
        `projects`, when given), oldest first, at most `limit`."""
        async with self.connection() as connection:
            return await events.events_after(
                connection, event_filter, after_cursor, limit, upto, projects
            )

    async def final_cursor(self) -> int:
        """The highest cursor below which every event is final: no event will
        ever appear at or below it again (storage/events.py)."""
        async with self.connection() as connection:
            final, _ = await events.final_cursor(connection)
            return final

    async def coverage(self, event_filter: EventFilter, limit: int) -> list[ProviderCoverage]:
        async with self.connection() as connection:
            return await events.coverage_by_provider(connection, event_filter, limit)

    # --- recurrence and work items (SPEC sections 3 and 4) ---

    async def recurrence_window(
        self,
        event_filter: EventFilter,
        limit: int,
        *,
        work_item_id: str | None = None,
        with_refs: bool = False,
    ) -> recurrence.RecurrenceWindow:
        """Group facts and the handoffs of their work items, in one statement
        (one snapshot). With `work_item_id`, only the group of the window
        that may yield it; `with_refs`: the groups' distinct refs too (a
        handoff's evidence)."""
        async with self.connection() as connection:
            return await recurrence.read_window(
                connection, event_filter, limit, work_item_id=work_item_id, with_refs=with_refs
            )

    async def record_dry_run(self, **record: Any) -> DryRunRecord:
        """Appends one dry-run record: the only row a dry-run writes."""
        async with self.connection() as connection:
            return await work_items.insert_dry_run(connection, **record)

    async def latest_dry_run(self, work_item_id: str) -> DryRunRecord | None:
        async with self.connection() as connection:
            return await work_items.latest_dry_run(connection, work_item_id)

    async def record_handoff_once(self, **handoff: Any) -> tuple[HandoffRecord, bool]:
        """The first handoff of (work_item_id, handoff_kind), and whether this call made it."""
        async with self.connection() as connection:
            return await work_items.insert_handoff_once(connection, **handoff)

    async def work_item_history(self, work_item_id: str, project_id: str) -> list[HistoryRecord]:
        async with self.connection() as connection, connection.transaction(
            isolation="repeatable_read", readonly=True
        ):
            return await work_items.history(connection, work_item_id, project_id)
