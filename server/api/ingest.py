"""IngestProviderPayload: provider webhook bodies in (SPEC section 2b)."""

from __future__ import annotations

from awooop.channel_events.v1 import events_pb2

from server.config import Settings
from server.errors import Unimplemented
from server.storage.store import Store


async def ingest_provider_payload(
    store: Store, settings: Settings, request: events_pb2.IngestProviderPayloadRequest
) -> events_pb2.IngestProviderPayloadResponse:
    raise Unimplemented("IngestProviderPayload is not implemented yet")
