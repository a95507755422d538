"""What a call is, for its log lines and its error details: the request id
and who called, carried in context variables through the whole call (every
log line of the call reads them, server/observability/logs.py)."""

from __future__ import annotations

import contextvars
import itertools
import re
import secrets
from dataclasses import dataclass

from server.domain.redaction import redact_text

REQUEST_ID_HEADER = "x-request-id"

# A caller's id is kept when it is a short token of safe characters (it goes
# into logs and response headers); anything else is replaced by our own.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


@dataclass
class CallInfo:
    request_id: str
    # The request id as log lines show it: ours as it is, a caller's after
    # the redactor (a token sent as a request id must not reach a log). Done
    # once a call: ours are new every call, and redaction would find nothing.
    logged_request_id: str = ""
    # Filled in as the call learns them (after authentication, from the request).
    operator_id: str = ""
    project_id: str = ""


# Our own ids: this process's random half, then a count. Unique without a
# uuid4 per call (16 bytes from the OS, a UUID object, its hex): an id only
# ties a call's lines and its answer together, it guards nothing.
_PROCESS_PART = secrets.token_hex(8)
_calls_begun = itertools.count(1)

_call: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar("call", default=None)


def begin_call(given: str | None) -> CallInfo:
    """Starts a call: its request id is the caller's when it is a valid one,
    else a new one."""
    if given and _VALID_REQUEST_ID.fullmatch(given):
        info = CallInfo(request_id=given, logged_request_id=redact_text(given))
    else:
        made = f"{_PROCESS_PART}{next(_calls_begun):016x}"
        info = CallInfo(request_id=made, logged_request_id=made)
    _call.set(info)
    return info


def current_call() -> CallInfo | None:
    return _call.get()


def current_request_id() -> str:
    info = _call.get()
    return info.request_id if info else ""


def note_caller(operator_id: str, project_id: str) -> None:
    """Who the call acts as, once the transport's guard knows."""
    info = _call.get()
    if info is not None:
        info.operator_id = operator_id
        info.project_id = project_id
