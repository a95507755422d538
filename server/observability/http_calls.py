"""The outermost HTTP middleware: a request id, metrics and one log line per
request, the HTTP twin of server/observability/grpc_calls.py.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which would
buffer a streaming response): it watches the response start go by for the
status, and adds `x-request-id` to it. The route label is the route's path
template (`/webhooks/{provider}/{project_id}`), never the path itself, so
its values stay bounded; a path that matches no route is "unmatched".
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.observability.context import REQUEST_ID_HEADER, begin_call
from server.observability.logs import log_call
from server.observability.metrics import Metrics


def _route(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else ""


class CallObserverMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1") or None
        request_id = begin_call(given).request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        except asyncio.CancelledError:
            status = 499  # the client went away (nginx's code for it)
            raise
        finally:
            took = time.perf_counter() - started
            route = _route(scope)
            method = str(scope.get("method", ""))
            self._metrics.http_requests.labels(method, route, str(status)).inc()
            self._metrics.http_seconds.labels(method, route).observe(took)
            log_call(
                kind="http",
                method=f"{method} {route}",
                status=str(status),
                duration=took,
                peer=_peer(scope),
                level=logging.ERROR if status >= 500 and status != 503 else logging.INFO,
            )
