"""EventService over gRPC: each RPC translates its request into the input of
its operation (server/operations/events.py), and the result into its response.

What each RPC does, checks and defaults is the operation's; the contract of
each is in protos/awooop/channel_events/v1/events.proto.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import grpc
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc

from server.api import convert
from server.api.guard import current_principal
from server.api.watch import GrpcEventWatch, watch_request
from server.operations.events import EventOperations


class EventService(events_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventOperations, watch: GrpcEventWatch) -> None:
        self._events = events
        self._watch = watch

    async def RecordAlertEvent(
        self, request: events_pb2.RecordAlertEventRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordAlertEventResponse:
        # Decoding (maps, a Struct, refs) is CPU work too: it runs where and
        # when the operation prepares the event (in its batch, or off the loop).
        recorded = await self._events.record_alert_event(
            request.provider, functools.partial(convert.alert_event_input, request),
            request.ByteSize(),
        )
        return convert.recorded_event(recorded, events_pb2.RecordAlertEventResponse)

    async def IngestProviderPayload(
        self, request: events_pb2.IngestProviderPayloadRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.IngestProviderPayloadResponse:
        recorded = await self._events.ingest_provider_payload(convert.provider_payload(request))
        return convert.ingest_response(recorded)

    async def RecordRun(
        self, request: events_pb2.RecordRunRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordRunResponse:
        run = await self._events.record_run(convert.run_request(request))
        return convert.run_response(run)

    async def RecordProviderHeartbeat(
        self,
        request: events_pb2.RecordProviderHeartbeatRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.RecordProviderHeartbeatResponse:
        result = await self._events.record_provider_heartbeat(
            convert.heartbeat_request(request), current_principal()
        )
        return convert.heartbeat_response(result)

    async def ListRecentEvents(
        self, request: events_pb2.ListRecentEventsRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.ListRecentEventsResponse:
        page = await self._events.list_recent_events(convert.recent_events_query(request))
        return convert.recent_events_response(page)

    async def WatchEvents(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.WatchEventsResponse]:
        async for response in self._watch.stream(watch_request(request)):
            yield response
