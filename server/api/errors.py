"""The one table that turns domain errors into a gRPC status and an HTTP status.

The gRPC guard (server/api/guard.py) and the HTTP edge (server/http/edge.py)
both use it. Anything not in the table becomes a bare INTERNAL (HTTP 500): no
SQL, stack trace or secret ever reaches a caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from server.domain.errors import (
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    database_unavailable,
)
from server.domain.redaction import redact_text
from server.observability.context import current_request_id
from server.storage.database import CONNECTION_ERRORS

log = logging.getLogger(__name__)

ERROR_DOMAIN = "channel-events.awooop"



class Statuses(NamedTuple):
    grpc: grpc.StatusCode
    http: int


# HTTP 422 for invalid input is what the replaced router (FastAPI) answered and
# its clients expect; the webhook routes answer 400 instead (SPEC section 8:
# senders do not retry a 4xx, and 400 is what their docs show).
STATUS_BY_ERROR: dict[type[DomainError], Statuses] = {
    InvalidArgument: Statuses(grpc.StatusCode.INVALID_ARGUMENT, 422),
    NotFound: Statuses(grpc.StatusCode.NOT_FOUND, 404),
    FailedPrecondition: Statuses(grpc.StatusCode.FAILED_PRECONDITION, 409),
    # Gone, as Kubernetes answers a watch resumed from a compacted version.
    OutOfRange: Statuses(grpc.StatusCode.OUT_OF_RANGE, 410),
    Unauthenticated: Statuses(grpc.StatusCode.UNAUTHENTICATED, 401),
    PermissionDenied: Statuses(grpc.StatusCode.PERMISSION_DENIED, 403),
    Unavailable: Statuses(grpc.StatusCode.UNAVAILABLE, 503),
    Internal: Statuses(grpc.StatusCode.INTERNAL, 500),
}

# Anything that is not a DomainError.
INTERNAL = Statuses(grpc.StatusCode.INTERNAL, 500)


def as_safe_error(error: Exception) -> Exception:
    """The error a caller may be told about: a lost database becomes
    UNAVAILABLE; anything unexpected is logged here, with its stack, and
    stays itself (to become a bare INTERNAL)."""
    if isinstance(error, DomainError):
        return error
    if isinstance(error, CONNECTION_ERRORS):
        return database_unavailable()
    log.exception("unexpected error", exc_info=error)
    return error


def reason_of(error: Exception) -> str:
    """The stable reason a caller is told (for metrics: a bounded label)."""
    return error.reason if isinstance(error, DomainError) else "INTERNAL"


def statuses_of(error: Exception) -> Statuses:
    if isinstance(error, DomainError):
        return STATUS_BY_ERROR[type(error)]
    return INTERNAL


@dataclass
class ErrorStatus:
    """What the guard sends: a code, a safe message, packed google.rpc details."""

    code: grpc.StatusCode
    message: str
    details: list[any_pb2.Any] = field(default_factory=list)

    def to_rpc_status(self) -> status_pb2.Status:
        return status_pb2.Status(
            code=self.code.value[0], message=self.message, details=self.details
        )


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _error_info(reason: str, metadata: dict[str, str] | None = None) -> any_pb2.Any:
    """ErrorInfo, with the call's request id (server/observability/context.py),
    so that a caller can find the call in the server's logs."""
    metadata = dict(metadata or {})
    if request_id := current_request_id():
        metadata["request_id"] = request_id
    return _pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))


def _bad_request(error: InvalidArgument) -> any_pb2.Any:
    return _pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=redact_text(v.field), description=redact_text(v.description)
                )
                for v in error.violations
            ]
        )
    )


def to_error_status(error: Exception) -> ErrorStatus:
    """Maps any exception to what the caller may see."""
    if isinstance(error, DomainError):
        code = STATUS_BY_ERROR[type(error)].grpc
        details = [_error_info(error.reason, error.metadata)]
        if isinstance(error, InvalidArgument):
            details.insert(0, _bad_request(error))
        # A message may quote the caller's input: it passes the redactor too.
        return ErrorStatus(code, redact_text(error.message), details)
    return ErrorStatus(grpc.StatusCode.INTERNAL, "internal error", [_error_info("INTERNAL")])
