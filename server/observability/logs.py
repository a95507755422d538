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
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

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
    extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k[0] != "_"}
    return _line_fields(
        record.created, record.levelname, record.name, record.getMessage(), extras, record.exc_info
    )


def _line_fields(
    created: float,
    level_name: str,
    logger: str,
    message: str,
    extras: dict[str, Any],
    exc_info: Any = None,
) -> dict[str, Any]:
    """A line's fields, in their documented order: every line, whether it
    came through logging (a LogRecord) or is a call's own (log_call)."""
    # The time, level and logger name are the formatter's and the code's
    # own, and the request id was redacted when the call began (context.py):
    # they pass as they are. Everything else passes the redactor.
    fields: dict[str, Any] = {
        "ts": _timestamp(created),
        "level": level_name.lower(),
        "logger": logger,
        "msg": _safe(message),
    }
    call = current_call()
    if call is not None:
        fields["request_id"] = call.logged_request_id
        if call.operator_id:
            fields["operator_id"] = _safe(call.operator_id)
        if call.project_id:
            fields["project_id"] = _safe(call.project_id)
    for key, value in extras.items():
        fields[key] = _safe(value)
    if exc_info:
        fields["error"] = _safe(logging.Formatter().formatException(exc_info))
    return fields


def _safe(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    # Most fields repeat from line to line: redact_text remembers short answers.
    return redact_text(value if isinstance(value, str) else str(value))


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return self.format_fields(_fields(record))

    def format_fields(self, fields: dict[str, Any]) -> str:
        raise NotImplementedError


class JsonFormatter(_LineFormatter):
    def format_fields(self, fields: dict[str, Any]) -> str:
        return _encode(fields)


class ConsoleFormatter(_LineFormatter):
    """`18:01:02.345 info  server.calls  call  method=… status=OK duration_ms=3.1`"""

    def format_fields(self, fields: dict[str, Any]) -> str:
        head = (
            f"{fields.pop('ts')[11:23]} {fields.pop('level'):<7} {fields.pop('logger')}  "
            f"{fields.pop('msg')}"
        )
        error = fields.pop("error", None)
        tail = " ".join(f"{key}={value}" for key, value in fields.items())
        line = f"{head}  {tail}" if tail else head
        return f"{line}\n{error}" if error else line


# An INFO line reaches the stream within this many seconds.
FLUSH_SECONDS = 0.1


class LineHandler(logging.StreamHandler[TextIO]):
    """Writes each line into the stream's buffer, and makes the stream write
    it out at once only for a warning or worse; a thread of its own flushes
    the rest every FLUSH_SECONDS, and logging flushes it at exit.

    A flush per line was a write(2) per call: on a server's one core, each
    let go of the GIL to grpc's poller thread and took it back, ~5% of a
    small read's throughput (bench/RESULTS.md). Run with PYTHONUNBUFFERED
    set, every line is still a write."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._closed = threading.Event()
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(self.format(record), record.levelno)
        except Exception:  # noqa: BLE001 - as logging does: a failed line never fails its caller
            self.handleError(record)

    def write_line(self, line: str, level: int) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self.stream.write(line + self.terminator)
            if level >= logging.WARNING:
                self.stream.flush()

    def close(self) -> None:
        self._closed.set()
        super().close()

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except (OSError, ValueError):  # the stream went away (a closed pipe, exit)
                return


# The handler configure_logging installed, while it is the only one: a call's
# line then goes to it directly (log_call).
_ours: LineHandler | None = None


def configure_logging(log_format: str, level: str) -> None:
    """`log_format`: "json", "console", or "auto" (JSON unless stdout is a terminal)."""
    if log_format == "auto":
        log_format = "console" if sys.stdout.isatty() else "json"
    handler = LineHandler(sys.stdout)
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
        if isinstance(existing, LineHandler):
            existing.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
    global _ours
    _ours = handler
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))


_calls = logging.getLogger(CALL_LOGGER)


def log_call(
    *, kind: str, method: str, status: str, duration: float, peer: str, level: int = logging.INFO
) -> None:
    """The one line of a call (gRPC or HTTP), written when it ends.

    Written straight to our handler when it is the only one the line would
    reach: the same fields, formatter and stream as through logging, without
    a LogRecord and the logging module's dispatch, which were a third of the
    line's cost (13-15 -> 10 us in process, where a small read costs ~0.5 ms
    of the server's core). A handler added since (a test's, an embedding
    program's) gets it the ordinary way."""
    extras = {
        "kind": kind,
        "method": method,
        "status": status,
        "duration_ms": round(duration * 1000, 2),
        "peer": peer,
    }
    handler = _direct_handler(level)
    if handler is None:
        _calls.log(level, "call", extra=extras)
        return
    formatter = handler.formatter
    assert isinstance(formatter, _LineFormatter)
    line = formatter.format_fields(
        _line_fields(time.time(), logging.getLevelName(level), CALL_LOGGER, "call", extras)
    )
    try:
        handler.write_line(line, level)
    except Exception:  # noqa: BLE001 - as logging does: a failed line never fails the call
        handler.handleError(logging.makeLogRecord({"msg": line}))


def _direct_handler(level: int) -> LineHandler | None:
    """Our handler, when a call's line at `level` would reach it and nothing
    else (no other handler or filter on the way), else None."""
    handler = _ours
    if handler is None or not _calls.isEnabledFor(level) or level < handler.level or handler.filters:
        return None
    logger: logging.Logger | None = _calls
    while logger is not None and logger is not logging.root:
        if logger.handlers or logger.filters or not logger.propagate:
            return None
        logger = logger.parent
    if logging.root.handlers != [handler] or logging.root.filters:
        return None
    return handler
