"""The HTTP server: Starlette routes on uvicorn, in the gRPC server's process
and event loop (SPEC section 8).

Uvicorn is driven by hand (startup, its tick loop, shutdown) rather than by
`Server.serve()`, which would install its own SIGTERM handler: the process
has one shutdown sequence (server/app.py `App.stop`), and the HTTP server is
one step of it. The listening socket is bound here, so a taken address fails
at start-up like the gRPC one, and tests can bind port 0.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from server.http.edge import Edge, Endpoint, json_response
from server.http.openapi import openapi_document
from server.observability.http_calls import CallObserverMiddleware
from server.observability.metrics import CONTENT_TYPE, Metrics
from server.readiness import RETRY_AFTER_SECONDS


class HttpCannotListen(Exception):
    pass


def build_asgi(
    edge: Edge,
    endpoints: Sequence[Endpoint],
    prefix: str,
    is_serving: Callable[[], bool],
    metrics: Metrics,
) -> Starlette:
    document = openapi_document(endpoints, prefix)

    async def metrics_route(request: Request) -> Response:
        """The Prometheus text format (README: Metrics). Open, like the
        probes: it holds counts and names, never an id, a token or text."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        """The process is up and its event loop answers (a liveness probe)."""
        return json_response({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Migrated, and the database answered the last probe (a readiness probe):
        a load balancer sends traffic elsewhere while this says 503."""
        if is_serving():
            return json_response({"status": "ready"})
        return json_response(
            {"status": "not_ready"}, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        )

    async def openapi(request: Request) -> Response:
        return json_response(document)

    routes = [
        Route(prefix + e.path, edge.asgi(e), methods=[e.method]) for e in endpoints
    ] + [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    return Starlette(
        routes=routes, middleware=[Middleware(CallObserverMiddleware, metrics=metrics)]
    )


def _bind(address: str) -> socket.socket:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
    except (OSError, ValueError) as error:
        raise HttpCannotListen(
            f"cannot listen on {address} (HTTP): address in use or not available"
        ) from error
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class HttpServer:
    def __init__(self, asgi: ASGIApp, address: str, grace: float) -> None:
        # uvicorn counts the grace in whole seconds.
        self._socket = _bind(address)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            asgi,
            lifespan="off",
            # Our own call log replaces uvicorn's access log (and its loggers
            # go through the process's logging set-up, not uvicorn's).
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=max(1, round(grace)),
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._ticks: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self._server.config
        if not config.loaded:
            config.load()
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        self._ticks = asyncio.create_task(self._server.main_loop(), name="http-ticks")

    async def stop_accepting(self) -> None:
        """Close the listening socket: new connections are refused from here
        on, while requests in flight go on."""
        self._server.should_exit = True
        ticks, self._ticks = self._ticks, None
        if ticks is not None:
            try:
                await ticks  # uvicorn's loop sees should_exit within 0.1 s
            except asyncio.CancelledError:
                # The ticks were cancelled (the event loop is closing): they
                # are over. A cancellation of this call itself goes on.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        for server in self._server.servers:
            server.close()
        self._socket.close()

    async def stop(self) -> None:
        """Finish requests in flight (streams were ended before, by the watch),
        within the grace given at construction, then close every connection."""
        await self.stop_accepting()
        await self._server.shutdown(sockets=[self._socket])
