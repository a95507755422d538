"""IngestProviderPayload over a real channel, into a real PostgreSQL (SPEC 2b).

Every body is a real provider sample from tests/samples/ or built from one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2
from google.protobuf import json_format

from server.domain.cursors import encode_cursor
from server.domain.providers import MAX_BODY_BYTES, sentry_signature
from tests.harness import Service, bearer, start_service, stop_service, violated_fields
from tests.samples import METRIC_ALERT, SAMPLES, sample, sample_bytes
from tests.webhooks import (
    PERSONAL,
    SAMPLE_PROVIDERS,
    ingest,
    ingest_sample,
)


async def dossier(service: Service, **filters: Any) -> dossier_pb2.GetEventDossierResponse:
    filters.setdefault("project_id", "alpha")
    return await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(**filters))


def test_the_samples_are_all_known_to_these_tests() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(SAMPLE_PROVIDERS)


async def test_every_sample_ingests_and_reads_back_in_the_dossier(service: Service) -> None:
    for name in SAMPLE_PROVIDERS:
        await ingest_sample(service, name)

    found = await dossier(service)
    by_provider_event = {e.provider_event_id: e for e in found.events}

    assert found.total == 5
    assert sorted(by_provider_event) == [
        "alertmanager:f74798f72524fe89:2022-07-26T19:55:58.97Z",
        "alertmanager:fbab788ec4c1018b:2022-07-29T11:13:27.3Z",
        "sentry:e4874d664c3540c1a32eab185f12c5ab",
        "sentry:issue-1170820242",
        "signoz:ad592b0afcbe2e79:2022-04-25T14:35:19.490146+05:30",
    ]
    firing = by_provider_event["alertmanager:f74798f72524fe89:2022-07-26T19:55:58.97Z"]
    assert (firing.stage, firing.alertname, firing.severity) == ("firing", "HighPodMemory", "slack")
    assert firing.content_preview == "HighMemoryUsage\nHighMemoryUsage"
    assert firing.provider_ts.ToJsonString() == "2022-07-26T19:55:58.970Z"
    resolved = by_provider_event["alertmanager:fbab788ec4c1018b:2022-07-29T11:13:27.3Z"]
    assert (resolved.stage, resolved.namespace, resolved.target_resource) == (
        "resolved", "eric-eo-cm-ci406", "eric-log-transformer"
    )
    assert resolved.provider_ts.ToJsonString() == "2022-07-29T11:17:27.300Z"
    signoz = by_provider_event["signoz:ad592b0afcbe2e79:2022-04-25T14:35:19.490146+05:30"]
    assert signoz.provider_ts.ToJsonString() == "2022-04-25T09:05:19.490146Z"
    assert [(r.system, r.kind, r.id) for r in signoz.source_refs] == [
        ("signoz", "alert", "ad592b0afcbe2e79:2022-04-25T14:35:19.490146+05:30")
    ]
    sentry_alert = by_provider_event["sentry:e4874d664c3540c1a32eab185f12c5ab"]
    assert sentry_alert.fingerprint == "sentry-issue:1117540176"
    assert sorted((r.system, r.kind, r.id) for r in sentry_alert.source_refs) == [
        ("sentry", "event", "e4874d664c3540c1a32eab185f12c5ab"),
        ("sentry", "issue", "1117540176"),
    ]
    assert sentry_alert.content_preview.startswith("ReferenceError: heck is not defined\n")
    issue = by_provider_event["sentry:issue-1170820242"]
    assert (issue.stage, issue.fingerprint, issue.severity) == (
        "created", "sentry-issue:1170820242", "error"
    )
    assert not any(e.is_duplicate for e in found.events)


async def test_every_sample_shows_in_the_coverage_by_provider(service: Service) -> None:
    for name in SAMPLE_PROVIDERS:
        await ingest_sample(service, name)

    coverage = await service.dossier.GetDossierCoverage(
        dossier_pb2.GetDossierCoverageRequest(project_id="alpha")
    )

    rows = {row.provider: row for row in coverage.providers}
    assert [(p, rows[p].total) for p in sorted(rows)] == [
        ("alertmanager", 2), ("sentry", 2), ("signoz", 1)
    ]
    assert rows["alertmanager"].alert_ref_total == 2
    assert rows["sentry"].sentry_ref_total == 2
    assert rows["signoz"].signoz_ref_total == 1
    assert coverage.summary.source_count == 5
    assert coverage.summary.source_envelope_total == 5
    assert coverage.summary.missing_source_envelope_total == 0
    assert coverage.summary.missing_source_refs_total == 0


async def test_the_response_lists_each_event_of_the_body_in_order(service: Service) -> None:
    body = sample("alertmanager_firing_single_highpodmemory.json")
    first = body["alerts"][0]
    body["alerts"] = [
        {
            **first,
            "fingerprint": f"{index:016x}",
            "labels": {**first["labels"], "pod": f"api-{index}"},
        }
        for index in range(3)
    ]

    response = await ingest(service, "alertmanager", body)

    assert [e.provider_event_id for e in response.events] == [
        f"alertmanager:{index:016x}:2022-07-26T19:55:58.97Z" for index in range(3)
    ]
    cursors = [int(e.cursor, 16) for e in response.events]
    assert cursors == sorted(cursors)
    read = await dossier(service)
    assert sorted(e.event_id for e in read.events) == sorted(e.event_id for e in response.events)
    assert {e.target_resource for e in read.events} == {"api-0", "api-1", "api-2"}


async def test_a_retried_alertmanager_body_records_duplicates_not_new_occurrences(
    service: Service,
) -> None:
    first = await ingest_sample(service, "alertmanager_firing_single_highpodmemory.json")
    retry = await ingest_sample(service, "alertmanager_firing_single_highpodmemory.json")

    assert [e.is_duplicate for e in first.events] == [False]
    assert [e.is_duplicate for e in retry.events] == [True]
    assert retry.events[0].provider_event_id == first.events[0].provider_event_id
    found = await dossier(service)
    assert found.summary.source_count == 2
    assert found.summary.duplicate_total == 1


async def test_a_firing_then_resolved_alert_are_two_stages_of_one_fingerprint(
    service: Service,
) -> None:
    firing = sample("alertmanager_resolved_single_kube_deployment.json")
    firing["status"] = firing["alerts"][0]["status"] = "firing"
    firing["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"

    await ingest(service, "alertmanager", firing)
    await ingest_sample(service, "alertmanager_resolved_single_kube_deployment.json")

    found = await dossier(service)
    assert [(e.stage, e.is_duplicate) for e in found.events] == [
        ("resolved", False), ("firing", False)
    ]
    assert {e.provider_event_id for e in found.events} == {
        "alertmanager:fbab788ec4c1018b:2022-07-29T11:13:27.3Z"
    }
    assert {e.fingerprint for e in found.events} == {"fbab788ec4c1018b"}
    assert [e.provider_ts.ToJsonString() for e in found.events] == [
        "2022-07-29T11:17:27.300Z", "2022-07-29T11:13:27.300Z"
    ]


async def test_a_sentry_event_alert_and_the_issue_webhook_share_the_issue_fingerprint(
    service: Service,
) -> None:
    # The two samples are of different issues: make the issue webhook the one
    # the event alert belongs to.
    issue = sample("sentry_issue_created.json")
    issue["data"]["issue"]["id"] = sample("sentry_event_alert_triggered.json")["data"]["event"][
        "issue_id"
    ]

    await ingest_sample(service, "sentry_event_alert_triggered.json")
    await ingest(service, "sentry", issue, {"Sentry-Hook-Resource": "issue"})

    found = await dossier(service)
    assert [e.provider_event_id for e in found.events] == [
        "sentry:issue-1117540176", "sentry:e4874d664c3540c1a32eab185f12c5ab"
    ]
    assert {e.fingerprint for e in found.events} == {"sentry-issue:1117540176"}
    for event in found.events:
        assert ("sentry", "issue", "1117540176") in [
            (r.system, r.kind, r.id) for r in event.source_refs
        ]


async def test_a_signoz_rule_id_label_becomes_a_rule_ref(service: Service) -> None:
    body = sample("signoz_docs_sample_firing.json")
    body["alerts"][0]["labels"]["ruleId"] = "42"

    await ingest(service, "signoz", body)

    [event] = (await dossier(service)).events
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == [("signoz", "rule", "42")]


async def test_a_sentry_metric_alert_is_recorded_under_its_alert_rule(service: Service) -> None:
    headers = {"Sentry-Hook-Resource": "metric_alert"}
    response = await ingest(service, "sentry", METRIC_ALERT, headers)
    await ingest(service, "sentry", {**METRIC_ALERT, "action": "resolved"}, headers)

    assert [e.provider_event_id for e in response.events] == ["sentry:metric-alert-16"]
    found = await dossier(service)
    assert [(e.stage, e.severity, e.is_duplicate) for e in found.events] == [
        ("resolved", "", False), ("critical", "critical", False)
    ]
    assert {e.fingerprint for e in found.events} == {"sentry-metric-alert:7"}
    assert ("sentry", "metric_alert", "16") in [
        (r.system, r.kind, r.id) for r in found.events[0].source_refs
    ]


async def test_a_sentry_resource_header_matches_in_any_case(service: Service) -> None:
    response = await ingest(
        service, "sentry", sample_bytes("sentry_issue_created.json"),
        {"sentry-hook-resource": "issue"},
    )

    assert [e.provider_event_id for e in response.events] == ["sentry:issue-1170820242"]


# ---------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------


async def first_watched_event(service: Service) -> events_pb2.WatchEventsResponse:
    """The first event WatchEvents replays from the start of the stream."""
    stream = service.events.WatchEvents(
        events_pb2.WatchEventsRequest(project_id="alpha", after_cursor=encode_cursor(0))
    )
    try:
        async with asyncio.timeout(10):
            async for response in stream:
                if response.HasField("event"):
                    return response
    finally:
        stream.cancel()
    raise AssertionError("the watch ended without an event")


async def test_personal_data_of_a_sentry_event_never_comes_back_out(service: Service) -> None:
    await ingest_sample(service, "sentry_event_alert_triggered.json")

    watched = await first_watched_event(service)
    reads = [
        watched,
        await dossier(service),
        await service.events.ListRecentEvents(
            events_pb2.ListRecentEventsRequest(project_id="alpha")
        ),
        await service.dossier.GetDossierCoverage(
            dossier_pb2.GetDossierCoverageRequest(project_id="alpha")
        ),
    ]
    async with service.store.pool.acquire() as connection:
        rows = await connection.fetch("SELECT to_jsonb(events.*)::text AS row FROM events")

        body_row = await connection.fetchval("SELECT fields::text FROM source_bodies")

    [row] = [r["row"] for r in rows]
    envelope = json.loads(row)["source_envelope"]
    shared = json.loads(body_row)
    assert shared["data"]["event"]["user"] == {"ip_address": "[REDACTED:ip_address]"}
    assert "user" not in envelope["labels"]
    assert shared["data"]["event"]["title"] == "ReferenceError: heck is not defined"
    for text in [row, body_row, *(json_format.MessageToJson(read) for read in reads)]:
        for value in PERSONAL:
            assert value not in text


async def test_secrets_in_a_webhook_body_are_redacted_before_they_are_stored(
    service: Service,
) -> None:
    body = sample("alertmanager_firing_single_highpodmemory.json")
    body["alerts"][0]["annotations"]["description"] = "dsn postgres://app:hunter2@db:5432/shop"
    body["externalURL"] = "http://admin:hunter2@alertmanager:9093"

    await ingest(service, "alertmanager", body)

    [event] = (await dossier(service)).events
    assert event.has_redacted_content
    assert "hunter2" not in event.content_redacted
    async with service.store.pool.acquire() as connection:
        envelope = await connection.fetchval("SELECT source_envelope::text FROM events")
        shared = await connection.fetchval("SELECT fields::text FROM source_bodies")
    assert "hunter2" not in envelope + shared
    assert "alertmanager:9093" in shared


# ---------------------------------------------------------------------------
# Broken bodies: INVALID_ARGUMENT naming what is wrong, nothing recorded
# ---------------------------------------------------------------------------


async def invalid_fields(
    service: Service, provider: str, body: bytes | dict[str, Any], **kw: Any
) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest(service, provider, body, **kw)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return violated_fields(raised.value)


async def test_one_broken_alert_records_none_of_the_body(service: Service) -> None:
    body = sample("alertmanager_firing_single_highpodmemory.json")
    good = body["alerts"][0]
    broken = {k: v for k, v in good.items() if k != "startsAt"}
    body["alerts"] = [good, {**good, "fingerprint": "aaaa"}, broken]

    assert await invalid_fields(service, "alertmanager", body) == ["body.alerts[2].startsAt"]
    assert await service.count_rows("events") == 0


async def test_a_body_without_alerts_names_body_alerts(service: Service) -> None:
    body = sample("signoz_docs_sample_firing.json")
    del body["alerts"]

    assert await invalid_fields(service, "signoz", body) == ["body.alerts"]
    assert await service.count_rows("events") == 0


async def test_a_body_that_is_not_json_names_body(service: Service) -> None:
    html = b"<html>502 Bad Gateway</html>"
    assert await invalid_fields(service, "alertmanager", html) == ["body"]
    assert await invalid_fields(service, "sentry", b"") == ["body"]


async def test_a_body_over_one_mebibyte_names_body(service: Service) -> None:
    raw = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    at_limit = raw + b" " * (MAX_BODY_BYTES - len(raw))

    assert await invalid_fields(service, "alertmanager", at_limit + b" ") == ["body"]
    assert await service.count_rows("events") == 0
    response = await ingest(service, "alertmanager", at_limit)
    assert len(response.events) == 1


async def test_an_unknown_provider_and_a_bad_project_are_named(service: Service) -> None:
    raw = sample_bytes("alertmanager_firing_single_highpodmemory.json")

    assert await invalid_fields(service, "datadog", raw, project_id="no spaces") == [
        "project_id", "provider"
    ]


async def test_an_alert_field_over_its_limit_is_named_under_its_alert(service: Service) -> None:
    body = sample("alertmanager_firing_single_highpodmemory.json")
    body["alerts"].append({**body["alerts"][0], "fingerprint": "x" * 300})

    assert await invalid_fields(service, "alertmanager", body) == ["body.alerts[1].event_id"]
    assert await service.count_rows("events") == 0


async def test_a_reader_may_not_ingest(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest(
            service, "alertmanager", sample_bytes("alertmanager_firing_single_highpodmemory.json"),
            metadata=bearer("reader"),
        )

    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


# ---------------------------------------------------------------------------
# The Sentry signature
# ---------------------------------------------------------------------------

SECRET = "sentry-client-secret-for-tests"


@pytest.fixture
async def signed_service(database: str) -> Any:
    running = await start_service(database, sentry_client_secret=SECRET)
    yield running
    await stop_service(running)


async def test_with_a_client_secret_a_signed_sentry_body_is_recorded(
    signed_service: Service,
) -> None:
    raw = sample_bytes("sentry_issue_created.json")

    response = await ingest(
        signed_service, "sentry", raw,
        {"Sentry-Hook-Resource": "issue", "Sentry-Hook-Signature": sentry_signature(raw, SECRET)},
    )

    assert [e.provider_event_id for e in response.events] == ["sentry:issue-1170820242"]


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "0" * 64,
        sentry_signature(b"another body", SECRET),
        sentry_signature(b"{}", "wrong"),
        # The right signature, but not as Sentry sends it.
        sentry_signature(sample_bytes("sentry_issue_created.json"), SECRET).upper(),
        " " + sentry_signature(sample_bytes("sentry_issue_created.json"), SECRET) + " ",
    ],
)
async def test_with_a_client_secret_an_unsigned_or_badly_signed_sentry_body_is_unauthenticated(
    signed_service: Service, signature: str
) -> None:
    headers = {"Sentry-Hook-Resource": "issue"}
    if signature:
        headers["Sentry-Hook-Signature"] = signature

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest(signed_service, "sentry", sample_bytes("sentry_issue_created.json"), headers)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert SECRET not in (raised.value.details() or "")
    assert await signed_service.count_rows("events") == 0


async def test_the_client_secret_does_not_concern_other_providers(signed_service: Service) -> None:
    response = await ingest_sample(signed_service, "alertmanager_firing_single_highpodmemory.json")

    assert len(response.events) == 1


async def test_without_a_client_secret_sentry_bodies_need_no_signature(service: Service) -> None:
    body = sample("sentry_issue_created.json")

    response = await ingest(service, "sentry", body, {"Sentry-Hook-Signature": "anything"})

    assert len(response.events) == 1
