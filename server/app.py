"""Building the server (separate from serving it, so tests bind port 0 with the
same factory) and its orderly shutdown."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from server.operations.dossier import DossierOperations
from server.operations.events import EventOperations
from server.operations.watch import EventWatch
from server.operations.work_items import WorkItemOperations
from server.readiness import Readiness
from server.storage.store import Store

log = logging.getLogger(__name__)

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

    async def start(self) -> None:
        """Listens at once; serves once the database is there (see Readiness)."""
        await self.server.start()
        await self.readiness.start()

    async def stop(self, grace: float) -> None:
        """Stop accepting, let calls in flight finish within `grace`, end streams."""
        try:
            await self.readiness.close()
            await self.health.enter_graceful_shutdown()
            await self.watch.close()
        finally:
            await self.server.stop(grace)


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


def create_app(settings: Settings, store: Store, authenticator: Authenticator, listen: str | None = None) -> App:
    readiness: Readiness | None = None
    server = grpc.aio.server(
        interceptors=[
            Guard(
                authenticator,
                lambda: readiness is not None and readiness.ready,
                settings.call_timeout,
            )
        ],
        options=_SERVER_OPTIONS,
    )
    watch = EventWatch(
        store,
        GRPC_RENDERING,
        progress_interval=settings.watch_progress_interval,
        max_queued=settings.watch_queue_events,
        batch_size=settings.watch_batch_size,
    )
    events_pb2_grpc.add_EventServiceServicer_to_server(
        EventService(EventOperations(store, settings), watch), server
    )
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(
        DossierService(DossierOperations(store)), server
    )
    work_items_pb2_grpc.add_WorkItemServiceServicer_to_server(
        WorkItemService(WorkItemOperations(store)), server
    )
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
    readiness = Readiness(
        store, health, SERVICE_NAMES, watch.start, probe_interval=settings.health_probe_interval
    )
    return App(server=server, port=port, health=health, watch=watch, readiness=readiness)
