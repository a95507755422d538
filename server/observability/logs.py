"""Log lines: JSON for machines, a readable line on a terminal, and nothing
secret in either.

The standard library's logging with one formatter of our own, rather than a
logging library: every library this process runs (grpc, asyncpg, uvicorn,
the embedded PostgreSQL's pgserver) already logs through it, so one handler
on the root logger formats them all alike. Every line passes the redactor
(server/domain/redaction): the message, each field, and a traceback.

Fields of a line: `ts`, `level`, `logger`, `msg`, then the call's
`request_id` (and `operator_id`, `project_id`) when the line is written
during a call, then whatever the line adds (a call's own line adds `kind`,
`method`, `status`, `duration_ms`, `peer`; see `log_call`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from server.domain.redaction import redact_text
from server.observability.context import current_call

CALL_LOGGER = "server.calls"

# Attributes every LogRecord has; anything else was passed in `extra`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

# Libraries that say too much at INFO for an operator.
_QUIET = {"pgserver": logging.WARNING, "asyncpg": logging.WARNING, "uvicorn.error": logging.WARNING}


# One encoder for every line: json.dumps with options of its own builds a new
# JSONEncoder each time.
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

# The last second formatted (most lines share it with the line before) and
# its text; a tuple, so that a thread reads one consistent pair.
_last_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """`created` as datetime.isoformat(timespec="milliseconds") in UTC gives it."""
    global _last_second
    second = int(created)
    # Rounded to the microsecond first, as datetime.fromtimestamp does.
    microseconds = round((created - second) * 1e6)
    if microseconds >= 1_000_000 or created < 0:
        return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    cached_second, text = _last_second
    if second != cached_second:
        text = datetime.fromtimestamp(second, UTC).isoformat()[:19]
        _last_second = (second, text)
    return f"{text}.{microseconds // 1000:03d}+00:00"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    # The time, level and logger name are the formatter's and the code's
    # own, and the request id was redacted when the call began (context.py):
    # they pass as they are. Everything else passes the redactor.
    fields: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": _safe(record.getMessage()),
    }
    call = current_call()
    if call is not None:
        fields["request_id"] = call.logged_request_id
        if call.operator_id:
            fields["operator_id"] = _safe(call.operator_id)
        if call.project_id:
            fields["project_id"] = _safe(call.project_id)
    for key, value in record.__dict__.items():
        if key not in _STANDARD and key[0] != "_":
            fields[key] = _safe(value)
    if record.exc_info:
        fields["error"] = _safe(logging.Formatter().formatException(record.exc_info))
    return fields


def _safe(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    # Most fields repeat from line to line: redact_text remembers short answers.
    return redact_text(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _encode(_fields(record))


class ConsoleFormatter(logging.Formatter):
    """`18:01:02.345 info  server.calls  call  method=… status=OK duration_ms=3.1`"""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        head = (
            f"{fields.pop('ts')[11:23]} {fields.pop('level'):<7} {fields.pop('logger')}  "
            f"{fields.pop('msg')}"
        )
        error = fields.pop("error", None)
        tail = " ".join(f"{key}={value}" for key, value in fields.items())
        line = f"{head}  {tail}" if tail else head
        return f"{line}\n{error}" if error else line


def configure_logging(log_format: str, level: str) -> None:
    """`log_format`: "json", "console", or "auto" (JSON unless stdout is a terminal)."""
    if log_format == "auto":
        log_format = "console" if sys.stdout.isatty() else "json"
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    # Neither format shows where a line was logged from, or which thread or
    # process wrote it: the logging HOWTO's "Optimization" settings spare
    # every record that work (a stack walk, getpid, the thread's name).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))


_calls = logging.getLogger(CALL_LOGGER)


def log_call(
    *, kind: str, method: str, status: str, duration: float, peer: str, level: int = logging.INFO
) -> None:
    """The one line of a call (gRPC or HTTP), written when it ends."""
    _calls.log(
        level,
        "call",
        extra={
            "kind": kind,
            "method": method,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "peer": peer,
        },
    )
