"""The store: the pool plus the transactions the service needs.

Every write that spans several statements happens here in one transaction, so
a failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from server.domain.dossier import ProviderCoverage
from server.domain.models import EventFilter, NewEvent, Run, RunInput, StoredEvent
from server.storage import events, runs
from server.storage.events import Recorded


class Store:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        # For connections that must not come from the pool (a LISTEN).
        self.dsn = dsn

    async def record_events(self, new_events: Sequence[NewEvent]) -> list[Recorded]:
        """All of them or none."""
        async with self.pool.acquire() as connection, connection.transaction():
            return await events.insert_events(connection, new_events)

    async def record_run(self, run: RunInput) -> Run:
        async with self.pool.acquire() as connection, connection.transaction():
            return await runs.upsert_run(connection, run)

    async def record_events_with_runs(
        self, new_events: Sequence[NewEvent], new_runs: Sequence[RunInput]
    ) -> tuple[list[Recorded], list[Run]]:
        """Events and the runs linked to them, in one transaction. The runs must
        follow the events they link to, so this holds the cursor lock a little
        longer than record_events: fine for heartbeats, which are rare."""
        async with self.pool.acquire() as connection, connection.transaction():
            recorded = await events.insert_events(connection, new_events)
            stored_runs = [await runs.upsert_run(connection, run) for run in new_runs]
            return recorded, stored_runs

    async def list_events(
        self, event_filter: EventFilter, limit: int, before_cursor: int | None = None
    ) -> list[StoredEvent]:
        async with self.pool.acquire() as connection:
            return await events.list_events(connection, event_filter, limit, before_cursor)

    async def coverage(self, event_filter: EventFilter, limit: int) -> list[ProviderCoverage]:
        async with self.pool.acquire() as connection:
            return await events.coverage_by_provider(connection, event_filter, limit)
