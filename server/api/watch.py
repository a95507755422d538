"""WatchEvents (SPEC section 5): live delivery of committed events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from awooop.channel_events.v1 import events_pb2

from server.errors import Unimplemented
from server.storage.store import Store


class EventWatch:
    """Serves every WatchEvents stream of this server process."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def start(self) -> None:
        """Called once before the server accepts calls."""

    async def close(self) -> None:
        """Called on shutdown, before the server stops: ends every stream cleanly."""

    async def stream(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.WatchEventsResponse]:
        raise Unimplemented("WatchEvents is not implemented yet")
        yield  # pragma: no cover - makes this an async generator
