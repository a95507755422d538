"""The layer every RPC of ours passes through: auth first, then errors.

It authenticates the caller for the role the RPC needs (one table below; a
method missing there is refused), checks the rules every request obeys
(server/api/wire.py) and the project the request acts on, refuses calls
until the service is ready (server/readiness.py), bounds a unary call that
brings no deadline, makes the caller available to the servicer through
`current_principal()`, and turns every exception into a status through
server/api/errors.py: domain errors by their table, an unreachable database
into UNAVAILABLE, anything else into a bare INTERNAL.

It wraps each of our method handlers once, when registered
(server/api/registration.py), inside the call observer.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_status import rpc_status

from server.api.errors import as_safe_error, reason_of, to_error_status
from server.api.wire import HoldsNul, Undecodable, tolerant
from server.auth import Authenticator, Principal, Role, require_project
from server.call_bounds import CallBounds
from server.domain.errors import (
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    not_ready,
)
from server.domain.heartbeat import DEFAULT_PROJECT
from server.observability.context import REQUEST_ID_HEADER, current_request_id, note_caller
from server.observability.metrics import Metrics
from server.readiness import RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

_PACKAGE = "/awooop.channel_events.v1."

# SPEC section 1: who may call what, every method named. A method of ours
# missing here is refused (fail closed): a new write RPC forgotten in this
# table must not become callable by anyone. tests/api/test_auth.py walks the
# served descriptors to keep the table complete.
REQUIRED_ROLE: dict[str, Role] = {
    "EventService/RecordAlertEvent": Role.INGEST,
    "EventService/IngestProviderPayload": Role.INGEST,
    "EventService/RecordRun": Role.INGEST,
    "EventService/RecordProviderHeartbeat": Role.OPERATOR,
    "EventService/ListRecentEvents": Role.READER,
    "EventService/WatchEvents": Role.READER,
    "DossierService/GetEventDossier": Role.READER,
    "DossierService/GetDossierCoverage": Role.READER,
    "DossierService/GetDossierRecurrence": Role.READER,
    "WorkItemService/PreviewWorkItem": Role.READER,
    "WorkItemService/DryRunWorkItem": Role.OPERATOR,
    "WorkItemService/HandoffWorkItem": Role.OPERATOR,
    "WorkItemService/ListWorkItemHistory": Role.READER,
}

# The project a request acts on when it names none, where the contract gives
# a default (SPEC section 2: a heartbeat's project is "awoooi"): scope is
# checked on the project the operation will use, not on the raw field.
_DEFAULT_PROJECT: dict[str, str] = {
    "EventService/RecordProviderHeartbeat": DEFAULT_PROJECT,
}

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served."""
    return _principal.get()


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    """The one authorization header; two are refused, since which one a
    proxy or the server would honour is anybody's guess."""
    values = [
        value if isinstance(value, str) else value.decode()
        for key, value in context.invocation_metadata() or ()
        if key == "authorization"
    ]
    if len(values) > 1:
        raise Unauthenticated("send one authorization header, not several", "TOKEN_AMBIGUOUS")
    return values[0] if values else None


def _project_of(method: str, request: Any) -> str:
    project_id = getattr(request, "project_id", "")
    if not isinstance(project_id, str):
        return ""
    if not project_id and method in _DEFAULT_PROJECT:
        return _DEFAULT_PROJECT[method]
    return project_id


async def _abort(
    context: grpc.aio.ServicerContext, error: Exception, method: str, metrics: Metrics
) -> None:
    safe = as_safe_error(error)
    error_status = to_error_status(safe)
    metrics.call_failed("grpc", method, reason_of(safe), error)
    status = rpc_status.to_status(error_status.to_rpc_status())
    # abort's trailing metadata replaces what the call observer set: the
    # request id is sent again beside the error's details.
    request_id = current_request_id()
    trailing = (*status.trailing_metadata, *(((REQUEST_ID_HEADER, request_id),) if request_id else ()))
    await context.abort(status.code, status.details, trailing)


def _check_wire_rules(request: Any) -> None:
    """The rules every request of ours obeys (server/api/wire.py)."""
    if isinstance(request, Undecodable):
        raise InvalidArgument(
            [FieldViolation("request", f"is not a valid message: {request.problem}")]
        )
    if isinstance(request, HoldsNul):
        raise InvalidArgument([
            FieldViolation(path, "must not contain NUL characters (U+0000)")
            for path in request.paths
        ])


class Guard:
    def __init__(
        self,
        authenticator: Authenticator,
        is_ready: Callable[[], bool],
        call_timeout: float,
        metrics: Metrics,
    ) -> None:
        self._authenticator = authenticator
        self._metrics = metrics
        # A unary call without a deadline of its own gets this one.
        self._bounds = CallBounds(call_timeout)
        # False until the database is reachable and migrated (server/readiness.py).
        self._is_ready = is_ready

    def _admit(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        name = method.removeprefix(_PACKAGE)
        role = REQUIRED_ROLE.get(name)
        if role is None:
            log.error("method %s has no declared role; refused", name)
            raise PermissionDenied("this method is not open to callers", "METHOD_NOT_DECLARED")
        principal = self._authenticator.authenticate(_authorization(context), role)
        # Only a caller who may call the RPC learns what is wrong with its request.
        _check_wire_rules(request)
        project_id = _project_of(name, request)
        note_caller(principal.operator_id, project_id)
        require_project(principal, project_id)
        if not self._is_ready():
            raise not_ready(RETRY_AFTER_SECONDS)
        _principal.set(principal)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` of `method`, guarded; a method not of our package
        (health, reflection) is open to all and returned as it is."""
        if not method.startswith(_PACKAGE):
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._guard_unary(method, handler.unary_unary),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._guard_stream(method, handler.unary_stream),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler

    def _guard_unary(self, method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                self._admit(method, request, context)
                if context.time_remaining() is not None:
                    return await behavior(request, context)
                return await self._bounds.bound(behavior(request, context))
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a safe status
                await _abort(context, error, method, self._metrics)

        return guarded

    def _guard_stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                self._admit(method, request, context)
                async for response in behavior(request, context):
                    yield response
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error gets a safe status
                await _abort(context, error, method, self._metrics)

        return guarded
