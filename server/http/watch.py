"""`GET /events/watch`: WatchEvents as Server-Sent Events (SPEC sections 5 and 8).

The stream is the operation's (server/operations/watch.py), with every
guarantee of WatchEvents; this module only words it as SSE frames:

- `event: event`, `id:` the event's cursor, `data:` the event as the dossier
  renders it (server/http/render.py);
- `event: progress`, `id:` the position, `data: {"cursor": ...}`, first at the
  stream's start and then whenever it has been idle for the progress interval;
- `event: error`, `data: {status, reason, detail}`, last, when the stream ends
  on the server's side (shutdown, database lost): reconnect and resume.

Every frame's `id:` is a cursor, so a browser's EventSource resumes by itself
(it sends the last one as `Last-Event-ID`), and so does any client that keeps
the last id it saw. `Last-Event-ID` wins over the `after_cursor` parameter:
a reconnect repeats the first URL, whose `after_cursor` is older.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from server.api.errors import as_safe_error, statuses_of
from server.auth import Role
from server.domain.cursors import encode_cursor
from server.domain.errors import DomainError
from server.domain.models import StoredEvent
from server.http import render
from server.http.edge import Call, Endpoint, Param
from server.operations.watch import EventWatch, Rendering, WatchRequest

# How long a browser waits before it reconnects, in milliseconds.
_RETRY_MS = 1000


def _frame(kind: str, cursor: str, data: dict[str, Any]) -> bytes:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {cursor}\nevent: {kind}\ndata: {body}\n\n".encode()


def _event(event: StoredEvent) -> bytes:
    return _frame("event", encode_cursor(event.cursor), render.dossier_event(event))


def _progress(position: int) -> bytes:
    cursor = encode_cursor(position)
    return _frame("progress", cursor, {"cursor": cursor})


def _error(error: Exception) -> bytes:
    safe = as_safe_error(error)
    data: dict[str, Any] = {"status": statuses_of(safe).http}
    if isinstance(safe, DomainError):
        data.update(reason=safe.reason, detail=safe.message)
    else:
        data.update(reason="INTERNAL", detail="internal error")
    body = json.dumps(data, separators=(",", ":"))
    return f"event: error\ndata: {body}\n\n".encode()


SSE_RENDERING = Rendering(event=_event, progress=_progress)

SseEventWatch = EventWatch[bytes]


class WatchRoute:
    def __init__(self, watch: SseEventWatch) -> None:
        self._watch = watch

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "GET",
                "/events/watch",
                "New events as Server-Sent Events, in commit order, resumable by cursor.",
                Role.READER,
                self.watch,
                params=[
                    Param("project_id", description="Only this project's events."),
                    Param("channel_type", description="Only this channel type."),
                    Param("provider_prefix", description="A prefix of provider_event_id."),
                    Param("after_cursor", description="Resume after this cursor "
                          "(the Last-Event-ID header wins over it). Below what retention "
                          "removed: 410, reason CURSOR_COMPACTED, metadata oldest_cursor."),
                ],
                streaming=True,
            )
        ]

    async def watch(self, call: Call) -> Response:
        request = WatchRequest(
            project_id=call.text("project_id"),
            channel_type=call.text("channel_type"),
            provider_prefix=call.text("provider_prefix"),
            after_cursor=call.request.headers.get("last-event-id") or call.text("after_cursor"),
        )
        call.raise_if_invalid()
        stream = self._watch.stream(request)
        # A bad request fails here, before the response starts: a status, not a frame.
        first = await anext(stream)
        return StreamingResponse(
            _frames(first, stream),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _frames(first: bytes, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield f"retry: {_RETRY_MS}\n\n".encode() + first
        async for frame in stream:
            yield frame
    except Exception as error:  # noqa: BLE001 - the stream's end is told as a frame
        yield _error(error)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
