"""The JSON log line's own parts (server/observability/logs.py), without a
process: tests/server/test_process.py reads the lines a real server writes."""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

import pytest

from hypothesis import example, given
from hypothesis import strategies as st

from server.observability.context import begin_call, note_caller
from server.observability import logs
from server.observability.logs import (
    JsonFormatter,
    _timestamp,
    configure_logging,
    log_call,
)


@given(st.floats(min_value=0, max_value=2**33, allow_nan=False))
@example(1e9 + 0.9999995)  # rounds up into the next second
@example(1764960000.0004999)
def test_the_cached_timestamp_reads_as_datetime_writes_it(created: float) -> None:
    assert _timestamp(created) == datetime.fromtimestamp(created, UTC).isoformat(
        timespec="milliseconds"
    )


def test_a_call_line_keeps_its_order_and_redacts_what_a_caller_chose() -> None:
    # In a context of its own: the call must not outlive the test.
    contextvars.copy_context().run(_a_call_line)


def _a_call_line() -> None:
    begin_call("caller-id-1")
    note_caller("ops", "proj-password=hunter2")
    record = logging.makeLogRecord({
        "name": "server.calls", "levelno": logging.INFO, "levelname": "INFO", "msg": "call",
        "created": 1764960000.25, "kind": "grpc", "peer": "ipv4:10.0.0.1:5 token=abc123secret",
    })

    line = json.loads(JsonFormatter().format(record))

    assert list(line) == [
        "ts", "level", "logger", "msg", "request_id", "operator_id", "project_id", "kind", "peer"
    ]
    assert line["ts"] == "2025-12-05T18:40:00.250+00:00"
    assert line["request_id"] == "caller-id-1"
    assert "hunter2" not in line["project_id"]
    assert "abc123secret" not in line["peer"]


@contextlib.contextmanager
def _logging_to(stdout: TextIO, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_logging writing to `stdout`; the root logger's handlers
    and level restored after, ours closed."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    monkeypatch.setattr(sys, "stdout", stdout)
    configure_logging("json", "info")
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    # No periodic flush while a test runs: each test flushes when it reads.
    monkeypatch.setattr(logs, "FLUSH_SECONDS", 60)
    stdout = io.StringIO()
    with _logging_to(stdout, monkeypatch):
        yield stdout


def _written(stdout: io.StringIO) -> list[str]:
    """The lines in `stdout` once the root logger's handlers are flushed."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    return stdout.getvalue().splitlines()


def _log_a_call() -> None:
    begin_call("caller-id-2")
    note_caller("ops", "proj-1")
    log_call(kind="grpc", method="/pkg.Service/Method", status="OK", duration=0.0012345,
             peer="ipv4:10.0.0.1:5 password=hunter2")


def test_a_call_line_written_directly_is_the_line_logging_would_write(configured: io.StringIO) -> None:
    # Formatted when flushed, after the call ended: from what log_call kept.
    contextvars.copy_context().run(_log_a_call)
    [direct] = _written(configured)

    # The same call's line through the logging module, by its own record.
    def through_logging() -> str:
        begin_call("caller-id-2")
        note_caller("ops", "proj-1")
        record = logging.makeLogRecord({
            "name": "server.calls", "levelno": logging.INFO, "levelname": "INFO", "msg": "call",
            "created": datetime.fromisoformat(json.loads(direct)["ts"]).timestamp(),
            "kind": "grpc", "method": "/pkg.Service/Method", "status": "OK", "duration_ms": 1.23,
            "peer": "ipv4:10.0.0.1:5 password=hunter2",
        })
        return JsonFormatter().format(record)

    assert direct == contextvars.copy_context().run(through_logging)
    assert "hunter2" not in direct


def test_a_handler_added_later_still_gets_each_call_line(configured: io.StringIO) -> None:
    seen: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Collect()
    logging.getLogger("server").addHandler(extra)
    try:
        contextvars.copy_context().run(_log_a_call)
    finally:
        logging.getLogger("server").removeHandler(extra)
    assert [r.getMessage() for r in seen] == ["call"]
    assert len(_written(configured)) == 1  # and ours, once


def test_a_call_line_below_the_level_is_not_written(configured: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    contextvars.copy_context().run(_log_a_call)
    assert _written(configured) == []


def test_lines_stay_in_order_and_a_warning_brings_out_those_before_it(
    configured: io.StringIO,
) -> None:
    contextvars.copy_context().run(_log_a_call)
    logging.getLogger("server.test").info("an info line through logging")
    assert configured.getvalue() == ""  # both wait for the flush

    logging.getLogger("server.test").warning("disk almost full")

    lines = [json.loads(line) for line in configured.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["call", "an info line through logging", "disk almost full"]


def test_past_max_pending_the_writer_flushes_itself(
    configured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "MAX_PENDING", 3)
    for _ in range(3):
        contextvars.copy_context().run(_log_a_call)
    assert configured.getvalue() == ""
    contextvars.copy_context().run(_log_a_call)
    assert len(configured.getvalue().splitlines()) == 4


def test_lines_pending_at_exit_are_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "FLUSH_SECONDS", 60)
    stdout = io.StringIO()
    with _logging_to(stdout, monkeypatch):
        contextvars.copy_context().run(_log_a_call)
        [handler] = logging.getLogger().handlers
        assert stdout.getvalue() == ""
        logging.shutdown([lambda: handler])  # what the interpreter runs at exit
    assert json.loads(stdout.getvalue())["msg"] == "call"


def test_an_info_line_is_written_out_within_the_flush_interval_a_warning_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A longer interval than the service's, so that the warning's arrival
    # right after a periodic flush (the one that brought the info line) can
    # only be its own: the next periodic flush is half a second away.
    interval = 0.5
    monkeypatch.setattr(logs, "FLUSH_SECONDS", interval)
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)

    def written(within: float) -> bytes:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                return os.read(read_end, 65536)
            except BlockingIOError:
                time.sleep(0.01)
        return b""

    with open(write_end, "w", buffering=65536, encoding="utf-8") as stdout, _logging_to(
        stdout, monkeypatch
    ):
        contextvars.copy_context().run(_log_a_call)
        assert b'"msg": "call"' in written(within=interval * 10)

        logging.getLogger("server.test").warning("disk almost full")
        assert b"disk almost full" in written(within=interval / 10)
    os.close(read_end)


def test_a_line_the_stream_cannot_encode_costs_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "FLUSH_SECONDS", 60)
    monkeypatch.setattr(logging, "raiseExceptions", False)  # handleError quietly
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    with _logging_to(stdout, monkeypatch):
        log_call(kind="http", method="GET /x", status="200", duration=0.001, peer="\ud800")
        log_call(kind="http", method="GET /y", status="200", duration=0.001, peer="ok")
        logging.getLogger().handlers[0].flush()
        [line] = raw.getvalue().decode().splitlines()
    assert json.loads(line)["method"] == "GET /y"
