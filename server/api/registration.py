"""Where every gRPC method handler is wrapped: once, when it is registered.

The generated `add_*Servicer_to_server` functions (ours, health's,
reflection's) register their handlers twice over: as a generic handler and
as "registered method handlers" (looked up first). `WrappingServer` stands in
for the server while they do, and wraps each handler with the call's layers
(the call observer and the guard, server/app.py) before passing it on. A grpc
interceptor would do the same wrapping again on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import grpc

# (full method name "/package.Service/Method", its handler) -> the wrapped handler
Wrap = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


class _WrappedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose handlers are wrapped on first use, then kept."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: Wrap) -> None:
        self._inner = inner
        self._wrap = wrap
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:
                return None  # not one of its methods: a caller-chosen name, not kept
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped


class WrappingServer:
    """Give this to `add_*Servicer_to_server` instead of the server."""

    def __init__(self, server: grpc.aio.Server, wrap: Wrap) -> None:
        self._server = server
        self._wrap = wrap

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_WrappedGeneric(handler, self._wrap) for handler in handlers)
        )

    def add_registered_method_handlers(
        self, service_name: str, handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service_name,
            {
                name: self._wrap(f"/{service_name}/{name}", handler)
                for name, handler in handlers.items()
            },
        )
