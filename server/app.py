"""Building the server (separate from serving it, so tests bind port 0 with the
same factory) and its orderly shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from awooop.channel_events.v1 import (
    dossier_pb2,
    dossier_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    work_items_pb2,
    work_items_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from server.api.dossier import DossierService
from server.api.events import EventService
from server.api.guard import Guard
from server.api.reflection import DocumentedReflectionServicer
from server.api.registration import WrappingServer
from server.api.watch import GRPC_RENDERING, GrpcEventWatch
from server.api.work_items import WorkItemService
from server.auth import Authenticator
from server.config import Settings
from server.domain.models import StoredEvent
from server.http.app import HttpCannotListen, HttpServer, build_asgi
from server.http.console import ConsoleRoutes
from server.http.edge import Edge
from server.http.watch import SSE_RENDERING, SseEventWatch, WatchRoute
from server.http.webhooks import WebhookRoutes
from server.observability import tracing
from server.observability.grpc_calls import CallObserver
from server.observability.metrics import Metrics
from server.operations.dossier import DossierOperations
from server.operations.events import EventOperations
from server.operations.reredaction import Reredaction
from server.operations.retention import Retention
from server.operations.watch import EventWatch, Rendering
from server.operations.work_items import WorkItemOperations
from server.readiness import Readiness
from server.storage.listener import CommitListener
from server.storage.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE_NAMES = (
    events_pb2.DESCRIPTOR.services_by_name["EventService"].full_name,
    dossier_pb2.DESCRIPTOR.services_by_name["DossierService"].full_name,
    work_items_pb2.DESCRIPTOR.services_by_name["WorkItemService"].full_name,
)


@dataclass
class App:
    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    watch: GrpcEventWatch
    readiness: Readiness
    http: HttpServer
    # The SSE stream's watch: the same operation, worded as SSE frames.
    sse_watch: SseEventWatch
    # Work the server does on its own (the re-redaction and retention passes),
    # cancelled at stop.
    background: set[asyncio.Task[Any]]
    # What /metrics renders.
    metrics: Metrics

    @property
    def http_port(self) -> int:
        return self.http.port

    async def start(self) -> None:
        """Listens at once; serves once the database is there (see Readiness)."""
        await self.server.start()
        await self.http.start()
        await self.readiness.start()

    async def stop(self, grace: float) -> None:
        """Health and /readyz turn NOT_SERVING, both servers stop accepting,
        every stream ends (UNAVAILABLE SHUTTING_DOWN, an SSE error frame), and
        calls and requests in flight finish within `grace`. Never raises
        before both servers are stopped."""
        stopping: list[asyncio.Task[None]] = []
        try:
            for task in list(self.background):
                task.cancel()
            await asyncio.gather(*self.background, return_exceptions=True)
            await self.readiness.close()
            await self.health.enter_graceful_shutdown()
            await self.http.stop_accepting()
            # gRPC refuses new calls from here on, and waits for those in flight.
            stopping.append(asyncio.create_task(self.server.stop(grace)))
            await asyncio.sleep(0)
            await self.watch.close()
            await self.sse_watch.close()
        finally:
            if not stopping:
                stopping.append(asyncio.create_task(self.server.stop(grace)))
            await asyncio.gather(*stopping, self.http.stop())


class CannotListen(Exception):
    """The listen address is taken or not ours to bind."""


# The largest request message: a 1 MiB webhook body and its headers fit, and
# it bounds the work any one request can ask for (larger: RESOURCE_EXHAUSTED,
# from gRPC itself, before anything is decoded).
MAX_REQUEST_BYTES = 2 * 1024 * 1024

_SERVER_OPTIONS = [
    # gRPC turns SO_REUSEPORT on by default: a second server on the same
    # address would then start, say "serving on", and silently share the
    # traffic with the first (a stale process goes unnoticed). Off, binding a
    # taken address fails.
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
]


def _watch(
    store: Store, rendering: Rendering[T], settings: Settings, listener: CommitListener
) -> EventWatch[T]:
    return EventWatch(
        store,
        rendering,
        progress_interval=settings.watch_progress_interval,
        max_queued=settings.watch_queue_events,
        batch_size=settings.watch_batch_size,
        listener=listener,
    )


async def _reredact(store: Store) -> None:
    """The re-redaction pass, once per start; a failure is logged, never fatal
    (the next start goes on where this one stopped)."""
    try:
        await Reredaction(store).run()
    except asyncio.CancelledError:
        raise
    except Exception:  # background work must not take the server down
        log.warning("re-redaction pass stopped; the next start resumes it", exc_info=True)


def _timed(rendering: Rendering[T], metrics: Metrics, transport: str) -> Rendering[T]:
    """The rendering, observing each event's delivery lag as it is rendered."""
    lag = metrics.watch_lag.labels(transport)

    def event(stored: StoredEvent) -> T:
        lag.observe(max(0.0, time.time() - stored.received_at.timestamp()))
        return rendering.event(stored)

    return Rendering(event=event, progress=rendering.progress)


def _observe_live(
    metrics: Metrics, store: Store, watches: dict[str, EventWatch[Any]], listener: CommitListener
) -> None:
    """What /metrics reads at scrape time: the pool, each transport's watch, the
    listener, group commit."""
    pool = store.pool
    metrics.live.pool = lambda: (
        pool.get_size(), pool.get_size() - pool.get_idle_size(), pool.get_max_size()
    )
    for transport, watch in watches.items():
        metrics.live.watches[transport] = lambda watch=watch: _watch_figures(watch)  # type: ignore[misc]
    metrics.live.listener_connects = lambda: listener.connects
    group = store.group_commit
    metrics.live.group_commit = lambda: (group.batches, group.events)


def _watch_figures(watch: EventWatch[Any]) -> tuple[int, int, int, int]:
    stats = watch.stats()
    return stats.streams, stats.behind, stats.catch_ups, stats.overflows


def create_app(
    settings: Settings,
    store: Store,
    authenticator: Authenticator,
    listen: str | None = None,
    http_listen: str | None = None,
    traced: bool = False,
) -> App:
    """Both servers over one set of operations; `listen` and `http_listen`
    override the settings' addresses (tests bind port 0); `traced`: spans
    for every call (server/observability/tracing.py, started by the caller)."""
    readiness: Readiness | None = None

    def is_ready() -> bool:
        return readiness is not None and readiness.ready

    metrics = Metrics()
    server = grpc.aio.server(
        interceptors=tracing.grpc_interceptors() if traced else None,
        options=_SERVER_OPTIONS,
    )
    observer = CallObserver(metrics)
    guard = Guard(authenticator, is_ready, settings.call_timeout, metrics)
    # Every handler wrapped once, the observer outermost: it sees the status
    # the guard decides (server/api/registration.py).
    wrapping = WrappingServer(server, lambda method, handler: observer.wrap(method, guard.wrap(method, handler)))
    events = EventOperations(store, settings, metrics)
    dossier = DossierOperations(store)
    work_items = WorkItemOperations(store)
    # One watch per transport (each renders an event once for all of its
    # streams, and reads nothing while it has none), one commit listener.
    listener = CommitListener(store.dsn)
    watch = _watch(store, _timed(GRPC_RENDERING, metrics, "grpc"), settings, listener)
    sse_watch = _watch(store, _timed(SSE_RENDERING, metrics, "sse"), settings, listener)
    events_pb2_grpc.add_EventServiceServicer_to_server(EventService(events, watch), wrapping)
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(DossierService(dossier), wrapping)
    work_items_pb2_grpc.add_WorkItemServiceServicer_to_server(WorkItemService(work_items), wrapping)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, wrapping)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        DocumentedReflectionServicer(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
        ),
        wrapping,
    )
    address = listen or settings.listen
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:  # grpc's way of saying the bind failed
        raise CannotListen(f"cannot listen on {address}: address in use or not available") from error
    if port == 0:
        raise CannotListen(f"cannot listen on {address}: address in use or not available")
    endpoints = [
        *WebhookRoutes(events, settings).endpoints(),
        *ConsoleRoutes(events, dossier, work_items).endpoints(),
        *WatchRoute(sse_watch).endpoints(),
    ]
    edge = Edge(authenticator, is_ready, settings.call_timeout, metrics)
    asgi = build_asgi(
        edge,
        endpoints,
        settings.http_prefix,
        lambda: readiness is not None and readiness.serving,
        metrics,
    )
    try:
        http = HttpServer(
            tracing.asgi_middleware(asgi) if traced else asgi,
            http_listen or settings.http_listen,
            settings.shutdown_grace,
        )
    except HttpCannotListen as error:
        raise CannotListen(str(error)) from error

    background: set[asyncio.Task[Any]] = set()

    async def on_database() -> None:
        await watch.start()
        await sse_watch.start()
        # Rows stored under older redaction rules are redacted again, a small
        # batch at a time (server/operations/reredaction.py).
        task = asyncio.create_task(_reredact(store), name="reredaction")
        background.add(task)
        task.add_done_callback(background.discard)
        # Partitions ahead, old weeks and history removed: now and then
        # periodically (server/operations/retention.py).
        retention = Retention(
            store, settings.retention_days, settings.history_retention_days, metrics
        )
        task = asyncio.create_task(
            retention.run_every(settings.retention_interval), name="retention"
        )
        background.add(task)
        task.add_done_callback(background.discard)

    readiness = Readiness(
        store, health, SERVICE_NAMES, on_database, probe_interval=settings.health_probe_interval
    )
    _observe_live(metrics, store, {"grpc": watch, "sse": sse_watch}, listener)
    return App(
        server=server,
        port=port,
        health=health,
        watch=watch,
        readiness=readiness,
        http=http,
        sse_watch=sse_watch,
        background=background,
        metrics=metrics,
    )
