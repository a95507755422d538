"""WatchEvents over gRPC: how the stream's messages are worded.

Everything else (the hub, delivery, progress, catch-up) is the operation's,
in server/operations/watch.py, shared with any other transport.
"""

from __future__ import annotations

from awooop.channel_events.v1 import events_pb2

from server.api import convert
from server.domain.cursors import encode_cursor
from server.domain.models import StoredEvent
from server.operations.watch import EventWatch, Rendering, WatchRequest


def _event(event: StoredEvent) -> events_pb2.WatchEventsResponse:
    return events_pb2.WatchEventsResponse(event=convert.channel_event(event))


def _progress(position: int) -> events_pb2.WatchEventsResponse:
    return events_pb2.WatchEventsResponse(progress=events_pb2.Progress(cursor=encode_cursor(position)))


GRPC_RENDERING = Rendering(event=_event, progress=_progress)

GrpcEventWatch = EventWatch[events_pb2.WatchEventsResponse]


def watch_request(request: events_pb2.WatchEventsRequest) -> WatchRequest:
    return WatchRequest(
        project_id=request.project_id,
        channel_type=request.channel_type,
        provider_prefix=request.provider_prefix,
        after_cursor=request.after_cursor,
    )
