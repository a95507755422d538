"""The JSON log line's own parts (server/observability/logs.py), without a
process: tests/server/test_process.py reads the lines a real server writes."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from server.observability.context import begin_call, note_caller
from server.observability.logs import JsonFormatter, _timestamp


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
