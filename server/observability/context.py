"""What a call is, for its log lines and its error details: the request id
and who called, carried in context variables through the whole call (every
log line of the call reads them, server/observability/logs.py)."""

from __future__ import annotations

import contextvars
import re
import uuid
from dataclasses import dataclass

REQUEST_ID_HEADER = "x-request-id"

# A caller's id is kept when it is a short token of safe characters (it goes
# into logs and response headers); anything else is replaced by our own.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


@dataclass
class CallInfo:
    request_id: str
    # Filled in as the call learns them (after authentication, from the request).
    operator_id: str = ""
    project_id: str = ""


_call: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar("call", default=None)


def request_id_from(given: str | None) -> str:
    """The caller's request id when it is a valid one, else a new one."""
    if given and _VALID_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def begin_call(request_id: str) -> CallInfo:
    info = CallInfo(request_id=request_id)
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
