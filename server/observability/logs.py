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
from collections import deque
from datetime import UTC, datetime
from typing import Any, NamedTuple, TextIO

from server.domain.redaction import redact_text
from server.observability.context import CallInfo, current_call

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
        record.created,
        record.levelname,
        record.name,
        record.getMessage(),
        extras,
        current_call(),
        record.exc_info,
    )


def _line_fields(
    created: float,
    level_name: str,
    logger: str,
    message: str,
    extras: dict[str, Any],
    call: CallInfo | None,
    exc_info: Any = None,
) -> dict[str, Any]:
    """A line's fields, in their documented order: every line, whether it
    came through logging (a LogRecord) or is a call's own (log_call), of
    `call` (the call it was written during, if any)."""
    # The time, level and logger name are the formatter's and the code's
    # own, and the request id was redacted when the call began (context.py):
    # they pass as they are. Everything else passes the redactor.
    fields: dict[str, Any] = {
        "ts": _timestamp(created),
        "level": level_name.lower(),
        "logger": logger,
        "msg": _safe(message),
    }
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
# Lines waiting for the flush: past this many, the writer flushes them itself
# (a stream that cannot keep up slows its writers, as a write per line did,
# rather than filling memory).
MAX_PENDING = 10_000
# Lines formatted and written at a time by the flushing thread, which lets
# the event loop run between two such chunks.
_CHUNK = 64


class _CallLine(NamedTuple):
    """A call's own line, not formatted yet (log_call): what it will say."""

    created: float
    level: int
    extras: dict[str, Any]
    call: CallInfo | None


class LineHandler(logging.StreamHandler[TextIO]):
    """Writes lines out in order, in batches: a warning or worse at once
    (with every line before it), the rest within FLUSH_SECONDS, by a thread
    of its own, and whatever is left at exit (logging.shutdown flushes).

    A call's own line (log_call) is queued unformatted and formatted by the
    flush, many at a time. Formatting it on the call's path cost a small read
    ~50 us of the server's core, five times what the same formatting costs in
    a batch (measured with the flush thread's own CPU time, bench/RESULTS.md):
    done between grpc's and asyncpg's work, a call's bits of Python run with
    cold caches. Redaction happens when a line is formatted, so nothing
    unredacted is ever written. And a write per line had been a write(2) per
    call, which let go of the GIL to grpc's poller thread: the batch is one
    write, with or without PYTHONUNBUFFERED."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        # Lines not written yet, in order: formatted, or a call's to format.
        self._pending: deque[str | _CallLine] = deque()
        self._stopping = threading.Event()
        threading.Thread(target=self._flush_periodically, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        # Formatted now: a record reads the call it was logged in, and may
        # carry objects that change after.
        try:
            self._queue(self.format(record), record.levelno)
        except Exception:  # noqa: BLE001 - as logging does: a failed line never fails its caller
            self.handleError(record)

    def write_call_line(self, line: _CallLine) -> None:
        try:
            self._queue(line, line.level)
        except Exception:  # noqa: BLE001 - as logging does: a failed line never fails the call
            self.handleError(logging.makeLogRecord({"msg": "call", "levelno": line.level}))

    def _queue(self, line: str | _CallLine, level: int) -> None:
        self._pending.append(line)
        if level >= logging.WARNING or len(self._pending) > MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        """Every line pending now written out, in order, and the stream flushed."""
        self._write_chunk(len(self._pending))
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()

    def _write_chunk(self, most: int) -> bool:
        """Writes up to `most` pending lines as one write; False when none was pending."""
        with self.lock:  # type: ignore[union-attr]
            lines: list[str] = []
            for _ in range(most):
                try:
                    pending = self._pending.popleft()
                except IndexError:
                    break
                line = pending if isinstance(pending, str) else self._format_call_line(pending)
                if line is not None:
                    lines.append(line + self.terminator)
            if not lines:
                return False
            self._write(lines)
            return True

    def _write(self, lines: list[str]) -> None:
        try:
            self.stream.write("".join(lines))
        except UnicodeError:
            # One line the stream cannot encode: the others still go out.
            for line in lines:
                try:
                    self.stream.write(line)
                except UnicodeError:
                    self.handleError(logging.makeLogRecord({"msg": "unencodable log line"}))

    def _format_call_line(self, line: _CallLine) -> str | None:
        try:
            formatter = self.formatter
            assert isinstance(formatter, _LineFormatter)
            return formatter.format_fields(_line_fields(
                line.created, logging.getLevelName(line.level), CALL_LOGGER, "call",
                line.extras, line.call,
            ))
        except Exception:  # noqa: BLE001 - as logging does: one bad line never stops the rest
            self.handleError(logging.makeLogRecord({"msg": "call", "levelno": line.level}))
            return None

    def close(self) -> None:
        self._stopping.set()
        try:
            self.flush()
        except (OSError, ValueError):  # the stream went away first
            pass
        super().close()

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            try:
                while self._write_chunk(_CHUNK):
                    time.sleep(0)  # the event loop's turn between two chunks
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

    Handed straight to our handler when it is the only one the line would
    reach, unformatted: the handler formats it with the others of its batch
    (LineHandler says why), with the same fields and formatter as through
    logging, and skips the LogRecord and the logging module's dispatch. A
    handler added since (a test's, an embedding program's) gets it the
    ordinary way."""
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
    handler.write_call_line(_CallLine(time.time(), level, extras, current_call()))


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
