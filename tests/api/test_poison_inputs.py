"""One event or one request never stops the service: values at the edges of
what the contract accepts are read back by every reader and the watch, and
what cannot be represented is refused at the door, naming the field.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.harness import ALL, INGEST, Service, error_details, violated_fields
from tests.watching import Subscription

GO_ZERO_TIME = "0001-01-01T00:00:00Z"
LAST_TIMESTAMP = "9999-12-31T23:59:59.999999999Z"


def timestamp(text: str) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromJsonString(text)
    return message


def webhook(starts_at: str, **top: Any) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "Edge", "pod": "api-0"},
        "annotations": {"summary": "at the edge of time"},
        "startsAt": starts_at,
        "endsAt": GO_ZERO_TIME,
        "fingerprint": "edge",
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert], **top}).encode()


async def ingest(service: Service, body: bytes) -> events_pb2.IngestProviderPayloadResponse:
    return await service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(project_id="alpha", provider="alertmanager", body=body),
        metadata=INGEST,
    )


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


@pytest.fixture
def no_error_logs(caplog: pytest.LogCaptureFixture) -> Any:
    """Fails the test if the server logged anything at ERROR: a caller's bad
    input is the caller's mistake, not a fault to page anyone about."""
    caplog.set_level(logging.ERROR)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_times_at_both_ends_of_the_range_are_served_by_every_reader_and_the_watch(
    fast: Service, no_error_logs: None
) -> None:
    live = await Subscription(fast.channel).open()
    start = live.received.last_cursor
    first = await fast.record(event_id="zero", provider_ts=timestamp(GO_ZERO_TIME))
    last = await fast.record(event_id="last", provider_ts=timestamp(LAST_TIMESTAMP))
    [hooked] = (await ingest(fast, webhook(GO_ZERO_TIME))).events
    after = await fast.record(event_id="after")
    expected = [first.event_id, last.event_id, hooked.event_id, after.event_id]

    await live.until(lambda r: len(r.events) >= 4)
    assert live.received.event_ids == expected
    resumed = await Subscription(fast.channel, after_cursor=start).open()
    await resumed.until(lambda r: len(r.events) >= 4)
    assert resumed.received.event_ids == expected
    await live.cancel()
    await resumed.cancel()

    dossier = await fast.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest())
    times = {e.provider_event_id: e.provider_ts.ToJsonString() for e in dossier.events}
    assert times["alertmanager:zero"] == GO_ZERO_TIME
    # Stored to the microsecond, PostgreSQL's precision.
    assert times["alertmanager:last"] == "9999-12-31T23:59:59.999999Z"
    assert times[f"alertmanager:edge:{GO_ZERO_TIME}"] == GO_ZERO_TIME
    recent = await fast.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())
    assert recent.total == 4
    coverage = await fast.dossier.GetDossierCoverage(dossier_pb2.GetDossierCoverageRequest())
    assert coverage.summary.source_count == 4
    recurrence = await fast.dossier.GetDossierRecurrence(dossier_pb2.GetDossierRecurrenceRequest())
    assert recurrence.summary.source_event_total == 4


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (-62_135_596_801, 0),  # a second before 0001-01-01
        (253_402_300_800, 0),  # 10000-01-01
        (0, -1),
        (0, 1_000_000_000),
        (-(2**62), 0),
    ],
)
async def test_a_timestamp_outside_its_range_is_refused_naming_provider_ts(
    service: Service, no_error_logs: None, seconds: int, nanos: int
) -> None:
    bad = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)
    error = await refused(service.record(provider_ts=bad))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["provider_ts"]
    assert await service.count_rows("events") == 0


@pytest.mark.parametrize(
    "starts_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
async def test_a_webhook_time_whose_offset_leaves_years_1_to_9999_is_refused_naming_it(
    service: Service, no_error_logs: None, starts_at: str
) -> None:
    error = await refused(ingest(service, webhook(starts_at)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["body.alerts[0].startsAt"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"alerts": [], "n": 1e400}', "body.n"),
        (b'{"alerts": [], "n": [-1e400]}', "body.n[0]"),
        (b'{"alerts": [], "s": "\\ud800"}', "body.s"),
        (b'{"alerts": [], "\\udfff": 1}', 'body."\\udfff" (key)'),
        (b'{"alerts": [], "s": "a\\u0000b"}', "body.s"),
        (b'{"alerts": [], "n": ' + b"1" * 5000 + b"}", "body"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
        (b'{"alerts": "\xff\xfe"}', "body"),
    ],
)
async def test_a_webhook_body_no_reader_could_serve_is_refused_naming_where(
    service: Service, no_error_logs: None, raw: bytes, field: str
) -> None:
    error = await refused(ingest(service, raw))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in violated_fields(error)
    assert await service.count_rows("events") == 0


@pytest.mark.parametrize("data", ['"x"', "null", "[1]", "7"])
async def test_a_sentry_body_whose_data_is_not_an_object_is_refused_naming_it(
    service: Service, no_error_logs: None, data: str
) -> None:
    call = service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(
            project_id="alpha", provider="sentry", body=b'{"action": "created", "data": ' + data.encode() + b"}"
        ),
        metadata=INGEST,
    )
    error = await refused(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "body.data" in violated_fields(error)


async def test_a_nul_character_in_any_string_field_is_refused_naming_the_field(
    service: Service, no_error_logs: None
) -> None:
    cases: list[tuple[Any, str]] = [
        (service.record(title="a\x00b"), "title"),
        (service.record(labels={"team": "a\x00"}), "labels[team]"),
        (service.record(annotations={"k\x00": "v"}), 'annotations["k\\ufffd"] (key)'),
        (service.record(payload={"nested": {"x": ["ok", "a\x00"]}}), "payload.nested.x[1]"),
        (
            service.events.ListRecentEvents(
                events_pb2.ListRecentEventsRequest(provider_prefix="alert\x00")
            ),
            "provider_prefix",
        ),
        (
            service.dossier.GetEventDossier(
                dossier_pb2.GetEventDossierRequest(provider_event_id="\x00")
            ),
            "provider_event_id",
        ),
        (
            service.events.RecordRun(
                events_pb2.RecordRunRequest(
                    project_id="alpha",
                    run_id="5b0f5c1e-8f4a-4c1e-9d59-3f0a6f8e9a10",
                    agent_id="agent\x00",
                ),
                metadata=ALL,
            ),
            "agent_id",
        ),
    ]
    for call, field in cases:
        error = await refused(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert violated_fields(error) == [field]
    assert await service.count_rows("events") == 0


async def test_a_payload_with_a_non_finite_number_is_refused_naming_it(
    service: Service, no_error_logs: None
) -> None:
    error = await refused(service.record(payload={"ratio": float("nan"), "ok": 1}))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["payload.ratio"]


def length_delimited(tag: int, payload: bytes) -> bytes:
    size, encoded = len(payload), b""
    while True:
        byte, size = size & 0x7F, size >> 7
        encoded += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([tag]) + encoded + payload


def deep_struct(levels: int) -> bytes:
    """A google.protobuf.Struct nested `levels` deep, encoded by hand (the
    Python runtime refuses to build one past its own limit)."""
    value = length_delimited(0x1A, b"leaf")  # Value.string_value
    struct = b""
    for _ in range(levels):
        struct = length_delimited(0x0A, length_delimited(0x0A, b"a") + length_delimited(0x12, value))
        value = length_delimited(0x2A, struct)  # Value.struct_value
    return struct


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a\x02\xff\xfe",  # project_id holding invalid UTF-8
        b"\xff\xff\xff\xff",  # not a message at all
        events_pb2.RecordAlertEventRequest(
            project_id="alpha", provider="alertmanager", event_id="deep"
        ).SerializeToString()
        + length_delimited(0x62, deep_struct(60)),  # payload (field 12) nested 60 deep
    ],
    ids=["invalid-utf8", "garbage", "deep-struct"],
)
async def test_bytes_that_do_not_decode_are_invalid_argument_not_unknown(
    service: Service, no_error_logs: None, raw: bytes
) -> None:
    call = service.channel.unary_unary("/awooop.channel_events.v1.EventService/RecordAlertEvent")
    error = await refused(call(raw, metadata=INGEST))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(error) == ["request"]
    _, info = error_details(error)
    assert info is not None and "DecodeError" not in error.details()
    health = health_pb2_grpc.HealthStub(service.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_an_unauthenticated_caller_learns_nothing_about_its_request(service: Service) -> None:
    call = service.channel.unary_unary("/awooop.channel_events.v1.EventService/RecordAlertEvent")
    error = await refused(call(b"\x0a\x02\xff\xfe"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_request_over_two_mib_is_refused_by_the_transport(service: Service) -> None:
    error = await refused(service.record(title="x" * (2 * 1024 * 1024)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
