"""The outermost layer of every gRPC call: a request id, metrics and one log line.

It wraps everything else (the guard, server/api/guard.py, decides the
status; this one only records it), for every method served, health included.
The caller's `x-request-id` metadata is kept when valid, else one is made;
it is on every log line of the call and in the ErrorInfo metadata of an
error (server/api/errors.py reads it from the call's context), and comes
back to the caller: in the trailing metadata of a unary call (it travels
with the status, costing no message of its own), and at once, as initial
metadata, on a stream (which may run for hours before its first event).

Handlers are wrapped once, when they are registered (server/api/registration.py),
not by a grpc interceptor: an interceptor runs its chain again on every call
(two awaits and a new handler object each), a fixed cost that weighed most
on the smallest reads (bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import grpc

from server.observability.context import REQUEST_ID_HEADER, begin_call
from server.observability.logs import log_call
from server.observability.metrics import Metrics


def _header(context: grpc.aio.ServicerContext, name: str) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == name:
            return value if isinstance(value, str) else None
    return None


def _code(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _begin(context: grpc.aio.ServicerContext) -> tuple[str, str]:
    """Starts a call: its request id (the caller's, or a new one) and its
    peer, read now: a finished call's context must not be touched (grpc
    crashes on peer() of a stream the client has cancelled)."""
    return begin_call(_header(context, REQUEST_ID_HEADER)).request_id, context.peer()


class _MethodMetrics:
    """One method's series, looked up once (a labels() lookup per use costs
    a lock and a dictionary probe)."""

    def __init__(self, metrics: Metrics, method: str, grpc_type: str) -> None:
        service, _, name = method.lstrip("/").rpartition("/")
        labels = (grpc_type, service, name)
        self.started = metrics.grpc_started.labels(*labels)
        self.received = metrics.grpc_received.labels(*labels)
        self.sent = metrics.grpc_sent.labels(*labels)
        self.seconds = metrics.grpc_seconds.labels(*labels)
        self._handled = metrics.grpc_handled
        self._labels = labels
        self._handled_by_code: dict[str, Any] = {}

    def handled(self, code: str) -> Any:
        child = self._handled_by_code.get(code)
        if child is None:
            child = self._handled_by_code[code] = self._handled.labels(*self._labels, code)
        return child


class _Ended(NamedTuple):
    """A unary call that ended, not counted yet (CallObserver.settle)."""

    series: _MethodMetrics
    code: str
    took: float
    sent: bool


# Unary calls that ended are counted in batches of this many, and on every
# scrape (Metrics.before_render): counted one call at a time, on the server's
# pinned core, their metrics cost a small read ~20-30 us, several times what
# the same counting costs in a batch (bench/RESULTS.md, the fifth pass).
SETTLE_EVERY = 256


class _Observation:
    """One call being observed: its method's series and its clock. A call
    is counted as started at once (started - handled is what is in flight)."""

    def __init__(self, series: _MethodMetrics, method: str) -> None:
        self.series = series
        self.method = method
        self.started = time.perf_counter()
        series.started.inc()
        series.received.inc()

    def sent(self) -> None:
        self.series.sent.inc()

    def finish(self, code: str, peer: str, ended: deque[_Ended] | None = None, sent: bool = False) -> None:
        """The call's line, and its counts: at once, or queued on `ended`."""
        took = time.perf_counter() - self.started
        if ended is None:
            self.series.handled(code).inc()
            self.series.seconds.observe(took)
        else:
            ended.append(_Ended(self.series, code, took, sent))
        level = logging.ERROR if code in ("INTERNAL", "UNKNOWN") else logging.INFO
        log_call(kind="grpc", method=self.method, status=code, duration=took, peer=peer, level=level)


class CallObserver:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._ended: deque[_Ended] = deque()
        metrics.before_render(self.settle)

    def settle(self) -> None:
        """Counts every unary call that ended and is not counted yet."""
        ended = self._ended
        while ended:
            series, code, took, sent = ended.popleft()
            if sent:
                series.sent.inc()
            series.handled(code).inc()
            series.seconds.observe(took)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` of `method`, observed."""
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # reflection's bidirectional stream: a debugging tool, not observed

    def _unary(
        self, method: str, behavior: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        series = _MethodMetrics(self._metrics, method, "unary")

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request_id, peer = _begin(context)
            # The guard's abort keeps it (server/api/guard.py).
            context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
            observation = _Observation(series, method)
            code = "OK"
            sent = False
            try:
                response = await behavior(request, context)
                sent = True
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
                observation.finish(code, peer, self._ended, sent)
                if len(self._ended) >= SETTLE_EVERY:
                    self.settle()

        return observed

    def _stream(
        self, method: str, behavior: Callable[..., AsyncIterator[Any]]
    ) -> Callable[..., AsyncIterator[Any]]:
        series = _MethodMetrics(self._metrics, method, "server_stream")

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            request_id, peer = _begin(context)
            await context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
            observation = _Observation(series, method)
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
