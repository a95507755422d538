"""The one table that turns domain errors into a gRPC status.

Only the guard (server/api/guard.py) uses it. Anything not in the table
becomes a bare INTERNAL: no SQL, stack trace or secret ever reaches a caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from server.domain.errors import (
    DomainError,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

ERROR_DOMAIN = "channel-events.awooop"

STATUS_BY_ERROR: dict[type[DomainError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Internal: grpc.StatusCode.INTERNAL,
}


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
    return _pack(
        error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {})
    )


def _bad_request(error: InvalidArgument) -> any_pb2.Any:
    return _pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
    )


def to_error_status(error: Exception) -> ErrorStatus:
    """Maps any exception to what the caller may see."""
    if isinstance(error, DomainError):
        code = STATUS_BY_ERROR[type(error)]
        details = [_error_info(error.reason, error.metadata)]
        if isinstance(error, InvalidArgument):
            details.insert(0, _bad_request(error))
        return ErrorStatus(code, error.message, details)
    return ErrorStatus(grpc.StatusCode.INTERNAL, "internal error", [_error_info("INTERNAL")])
