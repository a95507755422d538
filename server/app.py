"""Building the server (separate from serving it, so tests bind port 0 with the
same factory) and its orderly shutdown."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TypeVar

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
from server.api.watch import GRPC_RENDERING, GrpcEventWatch
from server.api.work_items import WorkItemService
from server.auth import Authenticator
from server.config import Settings
from server.http.app import HttpCannotListen, HttpServer, build_asgi
from server.http.console import ConsoleRoutes
from server.http.edge import Edge
from server.http.watch import SSE_RENDERING, SseEventWatch, WatchRoute
from server.http.webhooks import WebhookRoutes
from server.operations.dossier import DossierOperations
from server.operations.events import EventOperations
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

    @property
    def http_port(self) -> int:
        return self.http.port

    async def start(self) -> None:
        """Listens at once; serves once the database is there (see Readiness)."""
        await self.server.start()
        await self.http.start()
        await self.readiness.start()

    async def stop(self, grace: float) -> None:
        """Stop accepting, let calls in flight finish within `grace`, end
        streams: health and /readyz turn NOT_SERVING first, then every stream
        ends, then both servers stop together."""
        try:
            await self.readiness.close()
            await self.health.enter_graceful_shutdown()
            await self.watch.close()
            await self.sse_watch.close()
        finally:
            await asyncio.gather(self.server.stop(grace), self.http.stop())


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


def create_app(
    settings: Settings,
    store: Store,
    authenticator: Authenticator,
    listen: str | None = None,
    http_listen: str | None = None,
) -> App:
    """Both servers over one set of operations; `listen` and `http_listen`
    override the settings' addresses (tests bind port 0)."""
    readiness: Readiness | None = None

    def is_ready() -> bool:
        return readiness is not None and readiness.ready

    server = grpc.aio.server(
        interceptors=[Guard(authenticator, is_ready, settings.call_timeout)],
        options=_SERVER_OPTIONS,
    )
    events = EventOperations(store, settings)
    dossier = DossierOperations(store)
    work_items = WorkItemOperations(store)
    # One watch per transport (each renders an event once for all of its
    # streams, and reads nothing while it has none), one commit listener.
    listener = CommitListener(store.dsn)
    watch = _watch(store, GRPC_RENDERING, settings, listener)
    sse_watch = _watch(store, SSE_RENDERING, settings, listener)
    events_pb2_grpc.add_EventServiceServicer_to_server(EventService(events, watch), server)
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(DossierService(dossier), server)
    work_items_pb2_grpc.add_WorkItemServiceServicer_to_server(WorkItemService(work_items), server)
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        DocumentedReflectionServicer(
            (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME)
        ),
        server,
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
    edge = Edge(authenticator, is_ready, settings.call_timeout)
    asgi = build_asgi(edge, endpoints, settings.http_prefix, lambda: readiness is not None and readiness.serving)
    try:
        http = HttpServer(asgi, http_listen or settings.http_listen, settings.shutdown_grace)
    except HttpCannotListen as error:
        raise CannotListen(str(error)) from error

    async def start_watches() -> None:
        await watch.start()
        await sse_watch.start()

    readiness = Readiness(
        store, health, SERVICE_NAMES, start_watches, probe_interval=settings.health_probe_interval
    )
    return App(
        server=server,
        port=port,
        health=health,
        watch=watch,
        readiness=readiness,
        http=http,
        sse_watch=sse_watch,
    )
