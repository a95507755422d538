"""Domain errors, and the one table that turns them into gRPC status.

The domain and storage layers raise these; only the interceptor in
server/api/guard.py turns them into a status. Anything not in the table becomes
a generic INTERNAL error: no SQL, stack trace or secret ever reaches a caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

ERROR_DOMAIN = "channel-events.awooop"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error meant for the caller. `message` is safe to show."""

    reason = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    reason = "INVALID_ARGUMENT"

    def __init__(self, violations: Iterable[FieldViolation]) -> None:
        self.violations = list(violations)
        fields = ", ".join(v.field for v in self.violations)
        super().__init__(f"invalid argument: {fields}")


class NotFound(DomainError):
    reason = "NOT_FOUND"


class FailedPrecondition(DomainError):
    reason = "FAILED_PRECONDITION"


class Unauthenticated(DomainError):
    reason = "UNAUTHENTICATED"


class PermissionDenied(DomainError):
    reason = "PERMISSION_DENIED"


class Unavailable(DomainError):
    reason = "UNAVAILABLE"


class Internal(DomainError):
    """A fault of ours that was logged where it happened, with its context;
    the caller gets this safe message instead of a bare "internal error"."""

    reason = "INTERNAL"


_STATUS_BY_ERROR: dict[type[DomainError], grpc.StatusCode] = {
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


def to_error_status(error: Exception) -> ErrorStatus:
    """Maps any exception to what the caller may see."""
    for error_type, code in _STATUS_BY_ERROR.items():
        if isinstance(error, error_type):
            details = [
                _pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN))
            ]
            if isinstance(error, InvalidArgument):
                details.insert(
                    0,
                    _pack(
                        error_details_pb2.BadRequest(
                            field_violations=[
                                error_details_pb2.BadRequest.FieldViolation(
                                    field=v.field, description=v.description
                                )
                                for v in error.violations
                            ]
                        )
                    ),
                )
            return ErrorStatus(code, error.message, details)
    return ErrorStatus(
        grpc.StatusCode.INTERNAL,
        "internal error",
        [_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))],
    )


