"""Errors meant for the caller, free of any transport.

The domain and storage layers raise these; the transports turn them into a
status through one table (server/api/errors.py). Each carries a message that
is safe to show and a `reason`: a stable UPPER_SNAKE name that clients and
tests branch on (it travels as google.rpc.ErrorInfo.reason), where the
message is prose that may change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class DomainError(Exception):
    """Base of every error meant for the caller."""

    def __init__(self, message: str, reason: str, metadata: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        # Travels as ErrorInfo.metadata (e.g. retry_after_seconds).
        self.metadata = metadata or {}


class InvalidArgument(DomainError):
    """Every bad field of a request at once; `violations` name them."""

    def __init__(self, violations: Iterable[FieldViolation]) -> None:
        self.violations = list(violations)
        fields = ", ".join(v.field for v in self.violations)
        super().__init__(f"invalid argument: {fields}", "INVALID_ARGUMENT")


class NotFound(DomainError):
    pass


class FailedPrecondition(DomainError):
    pass


class OutOfRange(DomainError):
    """A position the service can no longer serve (a watch resumed below the
    compaction horizon: the events there were removed)."""


class Unauthenticated(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class Unavailable(DomainError):
    pass


class Internal(DomainError):
    """A fault of ours that was logged where it happened, with its context;
    the caller gets this safe message instead of a bare "internal error"."""


# Raised from several places.
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"


def database_unavailable() -> Unavailable:
    return Unavailable(
        "database unavailable; retry later", DATABASE_UNAVAILABLE, {"retry_after_seconds": "1"}
    )


def not_ready(retry_after_seconds: int) -> Unavailable:
    return Unavailable(
        "the service is starting: waiting for its database; retry later",
        "NOT_READY",
        {"retry_after_seconds": str(retry_after_seconds)},
    )
