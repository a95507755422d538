"""What every HTTP route of ours goes through: the HTTP twin of server/api/guard.py.

A route is an `Endpoint`: its method and path, the role it needs, the
parameters it reads (which also make its OpenAPI entry, server/http/openapi.py)
and a handler that translates a `Call` into an operation's input and its
result into JSON. Around the handler, `Edge.asgi` authenticates the caller
(server/auth.py, as gRPC does), checks the project scope, refuses calls until
the service is ready, bounds the call in time, and turns every exception into
a status and a JSON body through the one error table (server/api/errors.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from server.api.errors import as_safe_error, reason_of, statuses_of
from server.auth import Authenticator, Principal, Role, require_project
from server.call_bounds import CallBounds
from server.domain.errors import (
    DomainError,
    InvalidArgument,
    Unauthenticated,
    Unavailable,
    not_ready,
)
from server.domain.redaction import redact_text
from server.domain.validation import Limit, Violations
from server.observability.context import current_request_id, note_caller
from server.observability.metrics import Metrics
from server.readiness import RETRY_AFTER_SECONDS

JSON_TYPE = "application/json"

def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Compact UTF-8 JSON; NaN and infinities cannot occur (stored data is checked)."""
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(body.encode(), status, headers=dict(headers or {}), media_type=JSON_TYPE)


def _detail(error: InvalidArgument, where: str) -> list[dict[str, Any]]:
    """FastAPI's 422 shape, which the console's client reads: one entry per
    bad field, `loc` = where it was, then its path."""
    return [
        {
            "loc": [where, *redact_text(v.field).split(".")],
            "msg": redact_text(v.description),
            "type": "value_error",
        }
        for v in error.violations
    ]


def error_response(
    safe: Exception, *, where: str = "query", invalid_status: int | None = None
) -> Response:
    """The status and JSON body for an error as `as_safe_error` returned it
    (never its internals).

    `where`: "query" or "body", the location of the fields an InvalidArgument
    names; `invalid_status`: the route's status for invalid input when it is
    not the table's (the webhooks answer 400)."""
    status = statuses_of(safe).http
    headers: dict[str, str] = {}
    body: dict[str, Any] = {"detail": "internal error", "reason": "INTERNAL"}
    if request_id := current_request_id():
        body["request_id"] = request_id
    if not isinstance(safe, DomainError):
        return json_response(body, status)
    # A message may quote the caller's input: it passes the redactor too.
    body.update(detail=redact_text(safe.message), reason=safe.reason)
    if isinstance(safe, InvalidArgument):
        status = invalid_status or status
        body["detail"] = _detail(safe, where)
    if safe.metadata:
        body["metadata"] = safe.metadata
    if isinstance(safe, Unavailable):
        headers["Retry-After"] = safe.metadata.get("retry_after_seconds", str(RETRY_AFTER_SECONDS))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer, Basic realm="channel-events"'
    return json_response(body, status, headers)


@dataclass
class Call:
    """One HTTP request to a route, as its handler sees it."""

    request: Request
    principal: Principal
    # The JSON body's fields for a route that takes a body ({} for an empty body).
    body: dict[str, Any] = field(default_factory=dict)
    violations: Violations = field(default_factory=Violations)

    def text(self, name: str, default: str = "") -> str:
        """A string parameter of the query or body; `default` when absent."""
        value = self._value(name)
        if value is None:
            return default
        if not isinstance(value, str):
            self.violations.add(name, "must be a string")
            return default
        return value

    def texts(self, name: str) -> list[str] | None:
        """A list of strings from the body; None when absent."""
        value = self._value(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.violations.add(name, "must be a list of strings")
            return None
        return value

    def limit(self, limit: Limit, name: str = "limit") -> int:
        """A window or page size, 1 to the operation's maximum; absent: 0,
        which the operation reads as its default. Unlike gRPC, where 0 is
        how a message leaves a number out, an explicit 0 here is out of range."""
        value = self._value(name)
        if value is None:
            return 0
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                value = None
        if not isinstance(value, int) or isinstance(value, bool):
            self.violations.add(name, "must be an integer")
            return 0
        if not 1 <= value <= limit.maximum:
            self.violations.add(name, f"must be 1-{limit.maximum} (absent means {limit.default})")
            return 0
        return value

    def raise_if_invalid(self) -> None:
        self.violations.raise_if_any()

    def _value(self, name: str) -> Any:
        if self.request.method == "GET":
            values = self.request.query_params.getlist(name)
            # FastAPI took the last of several silently; a request that says
            # two things is refused instead.
            if len(values) > 1:
                self.violations.add(name, "given more than once")
            return values[-1] if values else None
        return self.body.get(name)


Handler = Callable[[Call], Awaitable[Response]]
# Where a route finds the project it acts on (for the key's project scope).
ProjectOf = Callable[[Call], str]


def project_param(call: Call) -> str:
    return call.text("project_id")


@dataclass(frozen=True)
class Param:
    """A parameter a route reads, for its OpenAPI entry."""

    name: str
    type: str = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    # For type "array": the type of the items.
    items: str = "string"
    # Allowed values.
    enum: Sequence[str] = ()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    role: Role
    handler: Handler
    params: Sequence[Param] = ()
    # Parameters of a JSON body (POST routes of the console API).
    body: Sequence[Param] | None = None
    project_of: ProjectOf = project_param
    # Streams are bounded by their caller, not by the call timeout.
    streaming: bool = False
    # How the caller is found when not from a bearer token (the webhooks:
    # basic auth, Sentry's signature).
    authenticate: Callable[[Edge, Request], Principal] | None = None
    # The status for invalid input, when not the table's 422 (the webhooks: 400).
    invalid_status: int | None = None
    # The handler reads the raw body itself (the webhooks).
    raw_body: bool = False


@dataclass
class Edge:
    """What every endpoint needs from the server around it."""

    authenticator: Authenticator
    is_ready: Callable[[], bool]
    call_timeout: float
    metrics: Metrics

    def __post_init__(self) -> None:
        # A request gets this bound on its time (streams are exempt).
        self._bounds = CallBounds(self.call_timeout)

    def asgi(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        """The Starlette endpoint of `endpoint`."""
        where = "body" if endpoint.body is not None or endpoint.raw_body else "query"

        async def serve(request: Request) -> Response:
            try:
                call = await self._admit(endpoint, request)
                if endpoint.streaming:
                    return await endpoint.handler(call)
                return await self._bounds.bound(endpoint.handler(call))
            except Exception as error:  # noqa: BLE001 - every error gets a safe status
                safe = as_safe_error(error)
                self.metrics.call_failed("http", endpoint.path, reason_of(safe), error)
                return error_response(safe, where=where, invalid_status=endpoint.invalid_status)

        return serve

    async def _admit(self, endpoint: Endpoint, request: Request) -> Call:
        if endpoint.authenticate is not None:
            principal = endpoint.authenticate(self, request)
        else:
            principal = self.authenticate(request, endpoint.role)
        call = Call(request=request, principal=principal)
        if endpoint.body is not None:
            call.body = await _json_object(request)
        # Only a caller who may call the route learns what is wrong with its request.
        project_id = endpoint.project_of(call)
        note_caller(principal.operator_id, project_id)
        require_project(principal, project_id)
        if not self.is_ready():
            raise not_ready(RETRY_AFTER_SECONDS)
        return call

    def authenticate(self, request: Request, role: Role, allow_basic: bool = False) -> Principal:
        """The caller, from its one Authorization header (two are refused,
        as on gRPC: which one a proxy would honour is anybody's guess)."""
        values = request.headers.getlist("authorization")
        if len(values) > 1:
            raise Unauthenticated("send one authorization header, not several", "TOKEN_AMBIGUOUS")
        return self.authenticator.authenticate(
            values[0] if values else None, role, allow_basic=allow_basic
        )


# The largest JSON body a console route reads: its requests are a few fields.
MAX_CONSOLE_BODY = 64 * 1024


async def read_body(request: Request, maximum: int) -> bytes | None:
    """The raw body, or None when it is longer than `maximum` bytes (read no
    further than that: a sender cannot make the server buffer more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > maximum:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > maximum:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await read_body(request, MAX_CONSOLE_BODY)
    violations = Violations()
    if raw is None:
        violations.add("body", f"at most {MAX_CONSOLE_BODY} bytes")
        violations.raise_if_any()
    assert raw is not None
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        violations.add("body", "must be a JSON object")
        violations.raise_if_any()
    if not isinstance(value, dict):
        violations.add("body", "must be a JSON object")
        violations.raise_if_any()
    violations.json_value(value, "body")
    violations.raise_if_any()
    return value

