"""Whether the service can serve, told to the orchestrator and to callers.

The server listens at once, whatever the database is doing: an orchestrator
must see the process and its health, not a port that stays closed for a
minute. Until the database is reachable and migrated (and the watch follows
its commits), grpc.health.v1 answers NOT_SERVING, overall and per service,
and every RPC of ours answers UNAVAILABLE with a retry hint (the guard asks
`ready`). It becomes SERVING by itself when PostgreSQL arrives. After that,
a probe every `probe_interval` seconds keeps health following the database:
NOT_SERVING during an outage, SERVING again when it is back (the RPCs
themselves already answer UNAVAILABLE then, from the pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio

from server.storage.database import connect
from server.storage.migrations import apply_migrations
from server.storage.store import Store

log = logging.getLogger(__name__)

# How long a caller is told to wait before retrying while the service starts.
RETRY_AFTER_SECONDS = 1
_PROBE_TIMEOUT = 2.0


class Readiness:
    def __init__(
        self,
        store: Store,
        health: health_aio.HealthServicer,
        service_names: Sequence[str],
        on_database: Callable[[], Awaitable[None]],
        probe_interval: float = 2.0,
    ) -> None:
        self._store = store
        self._health = health
        self._names = ("", *service_names)
        # What must run once the database is there (the watch's start).
        self._on_database = on_database
        self._probe_interval = probe_interval
        self._ready = asyncio.Event()
        # Ready, and the database answered the last probe.
        self._serving = False
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Migrated and following commits: RPCs may run."""
        return self._ready.is_set()

    @property
    def serving(self) -> bool:
        """Ready and the database answered the last probe (HTTP /readyz)."""
        return self._serving

    async def start(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)
        self._task = asyncio.create_task(self._run(), name="readiness")

    async def wait_ready(self, timeout: float | None) -> None:
        # asyncio.timeout, not wait_for: see server/storage/listener.py.
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    async def close(self) -> None:
        # A load balancer stops sending before the server stops accepting.
        self._serving = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        await self._become_ready()
        serving = True
        while True:
            await asyncio.sleep(self._probe_interval)
            reachable = await self._database_reachable()
            self._serving = reachable
            if reachable != serving:
                serving = reachable
                log.warning("database %s: health is %s", "back" if serving else "unreachable",
                            "SERVING" if serving else "NOT_SERVING")
                await self._set(
                    health_pb2.HealthCheckResponse.SERVING
                    if serving
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )

    async def _become_ready(self) -> None:
        delay = 0.2
        while True:
            try:
                connection = await connect(self._store.dsn, timeout=5)
                try:
                    await apply_migrations(connection)
                finally:
                    await connection.close()
                await self._on_database()
                break
            except Exception as error:  # noqa: BLE001 - keep waiting, say why
                log.warning("waiting for the database (%s); retrying in %.1fs",
                            type(error).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._ready.set()
        self._serving = True
        await self._set(health_pb2.HealthCheckResponse.SERVING)
        log.info("database ready: serving")

    async def _database_reachable(self) -> bool:
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT), self._store.connection() as connection:
                await connection.fetchval("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - any failure means not reachable now
            return False

    async def _set(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in self._names:
            await self._health.set(name, status)
