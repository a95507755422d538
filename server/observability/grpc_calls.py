"""The outermost gRPC interceptor: a request id, metrics and one log line per call.

It runs around everything else (the guard, server/api/guard.py, decides the
status; this one only records it), for every method served, health included.
The caller's `x-request-id` metadata is kept when valid, else one is made; it
is sent back at once as initial metadata `x-request-id`, is on every log
line of the call, and in the ErrorInfo metadata of an error
(server/api/errors.py reads it from the call's context).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from server.observability.context import REQUEST_ID_HEADER, begin_call, request_id_from
from server.observability.logs import log_call
from server.observability.metrics import Metrics


def _header(details: grpc.HandlerCallDetails, name: str) -> str | None:
    for key, value in details.invocation_metadata or ():  # type: ignore[attr-defined]
        if key == name:
            return value if isinstance(value, str) else None
    return None


def _code(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


async def _begin(context: grpc.aio.ServicerContext, given: str | None) -> str:
    """Starts a call: its request id (the caller's, or a new one), sent back at
    once; returns the peer, read now: a finished call's context must not be
    touched (grpc crashes on peer() of a stream the client has cancelled)."""
    request_id = request_id_from(given)
    begin_call(request_id)
    peer: str = context.peer()
    await context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
    return peer


class _Observation:
    """One call being observed: its labels and its clock."""

    def __init__(self, metrics: Metrics, method: str, grpc_type: str) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        self.metrics = metrics
        self.method = method
        self.labels = (grpc_type, service, name)
        self.started = time.perf_counter()
        metrics.grpc_started.labels(*self.labels).inc()
        metrics.grpc_received.labels(*self.labels).inc()

    def sent(self) -> None:
        self.metrics.grpc_sent.labels(*self.labels).inc()

    def finish(self, code: str, peer: str) -> None:
        took = time.perf_counter() - self.started
        self.metrics.grpc_handled.labels(*self.labels, code).inc()
        self.metrics.grpc_seconds.labels(*self.labels).observe(took)
        level = logging.ERROR if code in ("INTERNAL", "UNKNOWN") else logging.INFO
        log_call(kind="grpc", method=self.method, status=code, duration=took, peer=peer, level=level)


class CallObserver(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method: str = details.method  # type: ignore[attr-defined]
        given = _header(details, REQUEST_ID_HEADER)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, given, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, given, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # reflection's bidirectional stream: a debugging tool, not observed

    def _unary(
        self, method: str, given: str | None, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            peer = await _begin(context, given)
            observation = _Observation(self._metrics, method, "unary")
            code = "OK"
            try:
                response = await behavior(request, context)
                observation.sent()
                return response
            except grpc.aio.AbortError:
                code = _code(context)
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception:
                code = "UNKNOWN"
                raise
            finally:
                observation.finish(code, peer)

        return observed

    def _stream(
        self, method: str, given: str | None, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            peer = await _begin(context, given)
            observation = _Observation(self._metrics, method, "server_stream")
            code = "OK"
            try:
                async for response in behavior(request, context):
                    observation.sent()
                    yield response
            except grpc.aio.AbortError:
                code = _code(context)
                raise
            except (asyncio.CancelledError, GeneratorExit):
                code = "CANCELLED"
                raise
            except Exception:
                code = "UNKNOWN"
                raise
            finally:
                observation.finish(code, peer)

        return observed
