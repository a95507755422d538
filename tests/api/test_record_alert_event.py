"""RecordAlertEvent: every derived field of SPEC section 2, read back over the wire."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

import grpc
import pytest
from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2
from google.protobuf import struct_pb2

from server.domain.redaction import REDACTION_VERSION
from tests.harness import INGEST, Service, violated_fields


async def dossier_event(service: Service, provider_event_id: str) -> common_pb2.ChannelEvent:
    response = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(provider_event_id=provider_event_id)
    )
    assert len(response.events) == 1
    return response.events[0]


async def test_recorded_event_carries_every_derived_field(service: Service) -> None:
    payload = struct_pb2.Struct()
    payload.update({"receiver": "webhook", "nested": {"password": "hunter2"}})
    recorded = await service.record(
        provider="alertmanager",
        event_id="f74798f72524fe89:2022-07-26T19:55:58.97Z",
        title="HighPodMemory",
        severity="critical",
        namespace="shop",
        target_resource="api-7d9f8b6c5-x2k4q",
        fingerprint="f74798f72524fe89",
        labels={"alertname": "MemoryHigh", "trace_id": "4bf92f3577b34da6", "requestId": "req-1"},
        annotations={"summary": "memory above 90%", "description": "", "b_runbook": "see wiki"},
        payload=payload,
        source_url="http://prometheus:9090/graph?g0.expr=up",
        channel_chat_id="chat-9",
    )
    assert uuid.UUID(recorded.event_id)
    assert recorded.provider_event_id == "alertmanager:f74798f72524fe89:2022-07-26T19:55:58.97Z"
    assert recorded.is_duplicate is False
    assert recorded.cursor

    event = await dossier_event(service, recorded.provider_event_id)
    content = "HighPodMemory\nsee wiki\nmemory above 90%"  # annotations in key order, empty skipped
    assert event.event_id == recorded.event_id
    assert event.project_id == "alpha"
    assert event.channel_type == "alert"
    assert event.stage == "firing"
    assert event.provider == "alertmanager"
    assert event.content_redacted == content
    assert event.content_preview == content
    assert event.has_redacted_content is False
    assert event.redaction_version == REDACTION_VERSION
    assert event.content_length == len(content)
    assert event.content_sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert event.alertname == "MemoryHigh"
    assert (event.severity, event.namespace, event.target_resource) == (
        "critical", "shop", "api-7d9f8b6c5-x2k4q",
    )
    assert event.fingerprint == "f74798f72524fe89"
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == [
        ("alert", "fingerprint", "f74798f72524fe89")
    ]
    assert event.source_ref_count == 1
    assert dict(event.log_correlation) == {"trace_id": "4bf92f3577b34da6", "request_id": "req-1"}
    assert event.source_url == "http://prometheus:9090/graph?g0.expr=up"
    assert event.channel_chat_id == "chat-9"
    assert event.cursor == recorded.cursor
    assert event.HasField("received_at") and not event.HasField("provider_ts")


async def test_alertname_falls_back_to_the_title(service: Service) -> None:
    recorded = await service.record(title="DiskFull", labels={"dev": "sda3"})
    event = await dossier_event(service, recorded.provider_event_id)
    assert event.alertname == "DiskFull"
    # No fingerprint: the alertmanager ref names the alertname instead.
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == [
        ("alert", "alertname", "DiskFull")
    ]


async def test_preview_is_the_first_200_characters_of_the_redacted_content(service: Service) -> None:
    recorded = await service.record(title="x" * 150, annotations={"summary": "y" * 150})
    event = await dossier_event(service, recorded.provider_event_id)
    assert event.content_length == 301
    assert event.content_preview == ("x" * 150 + "\n" + "y" * 150)[:200]


@pytest.mark.parametrize(
    ("provider", "event_id", "labels", "annotations", "expected"),
    [
        ("sentry", "e4874d66", {}, {}, [("sentry", "event", "e4874d66")]),
        ("signoz", "a1", {"ruleId": "42"}, {}, [("signoz", "rule", "42")]),
        ("signoz", "a1", {}, {}, [("signoz", "alert", "a1")]),
        (
            "custom",
            "c1",
            {"sentry_issue_id": "77", "signoz_rule_id": "9"},
            {"sentry_event_id": "ev", "signoz_alert_id": "al"},
            [
                ("sentry", "issue", "77"),
                ("signoz", "rule", "9"),
                ("sentry", "event", "ev"),
                ("signoz", "alert", "al"),
            ],
        ),
        # The sentry event ref derived twice (provider and label) is kept once.
        ("sentry", "ev", {"sentry_event_id": "ev"}, {}, [("sentry", "event", "ev")]),
    ],
)
async def test_refs_are_derived_per_provider_and_deduplicated(
    service: Service,
    provider: str,
    event_id: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    expected: list[tuple[str, str, str]],
) -> None:
    recorded = await service.record(
        provider=provider, event_id=event_id, labels=labels, annotations=annotations
    )
    event = await dossier_event(service, recorded.provider_event_id)
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == expected
    assert event.source_ref_count == len(expected)


async def test_caller_refs_are_kept_and_merged_with_derived_ones(service: Service) -> None:
    recorded = await service.record(
        provider="sentry",
        event_id="ev1",
        source_refs=[
            {"system": "jira", "kind": "ticket", "id": "OPS-1", "url": "https://jira/OPS-1"},
            {"system": "sentry", "kind": "event", "id": "ev1"},
        ],
    )
    event = await dossier_event(service, recorded.provider_event_id)
    assert [(r.system, r.kind, r.id, r.url) for r in event.source_refs] == [
        ("jira", "ticket", "OPS-1", "https://jira/OPS-1"),
        ("sentry", "event", "ev1", ""),
    ]


async def test_same_provider_event_and_stage_is_a_duplicate_but_another_stage_is_not(
    service: Service,
) -> None:
    first = await service.record(event_id="same")
    retry = await service.record(event_id="same")
    resolved = await service.record(event_id="same", stage="resolved")
    other_project = await service.record(event_id="same", project_id="beta")
    assert (first.is_duplicate, retry.is_duplicate, resolved.is_duplicate) == (False, True, False)
    assert other_project.is_duplicate is False
    assert first.event_id != retry.event_id  # the retry is stored as evidence
    assert await service.count_rows("events") == 4


async def test_concurrent_identical_events_flag_all_but_one_as_duplicates(service: Service) -> None:
    results = await asyncio.gather(*(service.record(event_id="storm") for _ in range(20)))
    assert sorted(r.is_duplicate for r in results) == [False] + [True] * 19
    first = min(results, key=lambda r: r.cursor)
    assert first.is_duplicate is False  # "earlier" means earlier in commit order


async def test_cursors_grow_with_each_recorded_event(service: Service) -> None:
    cursors = [(await service.record()).cursor for _ in range(5)]
    assert cursors == sorted(cursors) and len(set(cursors)) == 5


async def test_secrets_never_reach_any_output(service: Service) -> None:
    payload = struct_pb2.Struct()
    payload.update({"auth": {"token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}, "note": "password=hunter2"})
    recorded = await service.record(
        title="DB login failed password=hunter2",
        labels={"alertname": "DbLogin", "api_key": "s3cr3t-value"},
        annotations={"summary": "url postgres://app:hunter2@db:5432/shop"},
        payload=payload,
        source_url="https://user:hunter2@grafana.example/d/1",
    )
    event = await dossier_event(service, recorded.provider_event_id)
    assert event.has_redacted_content is True
    rendered = str(event)
    for secret in ("hunter2", "s3cr3t-value", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"):
        assert secret not in rendered
    async with service.store.pool.acquire() as connection:
        row = await connection.fetchrow("SELECT * FROM events WHERE id = $1", uuid.UUID(recorded.event_id))
    assert row is not None
    stored = repr(dict(row))
    for secret in ("hunter2", "s3cr3t-value", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"):
        assert secret not in stored
    assert "[REDACTED:" in str(row["source_envelope"])


async def test_stored_envelope_holds_the_redacted_request(service: Service) -> None:
    payload = struct_pb2.Struct()
    payload.update({"receiver": "webhook"})
    recorded = await service.record(
        title="T", labels={"a": "b"}, annotations={"summary": "s"}, payload=payload,
        source_url="http://x", stage="resolved",
    )
    async with service.store.pool.acquire() as connection:
        envelope = await connection.fetchval(
            "SELECT source_envelope FROM events WHERE id = $1", uuid.UUID(recorded.event_id)
        )
    assert envelope == {
        "provider": "alertmanager",
        "event_id": recorded.provider_event_id.split(":", 1)[1],
        "stage": "resolved",
        "title": "T",
        "labels": {"a": "b"},
        "annotations": {"summary": "s"},
        "payload": {"receiver": "webhook"},
        "source_url": "http://x",
    }


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"project_id": ""}, "project_id"),
        ({"project_id": "has space"}, "project_id"),
        ({"project_id": "p" * 65}, "project_id"),
        ({"provider": ""}, "provider"),
        ({"provider": "Sentry"}, "provider"),
        ({"provider": "p" * 33}, "provider"),
        ({"event_id": ""}, "event_id"),
        ({"event_id": "e" * 257}, "event_id"),
        ({"stage": ""}, "stage"),
        ({"channel_type": ""}, "channel_type"),
    ],
)
async def test_malformed_events_are_refused_naming_the_field_and_nothing_is_stored(
    service: Service, fields: dict[str, str], bad_field: str
) -> None:
    request = {"project_id": "alpha", "provider": "alertmanager", "event_id": "e1", **fields}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordAlertEvent(
            events_pb2.RecordAlertEventRequest(**request), metadata=INGEST
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == [bad_field]
    assert await service.count_rows("events") == 0


async def test_limits_at_their_edges_are_accepted(service: Service) -> None:
    recorded = await service.record(project_id="p" * 64, provider="p" * 32, event_id="e" * 256)
    assert recorded.provider_event_id == "p" * 32 + ":" + "e" * 256
