"""Provider webhook parsing, pure: bodies in, events or named violations out.

The real-channel behaviour (one transaction, duplicates, read models) is in
tests/api/test_ingest.py.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from server.domain import providers
from server.domain.errors import InvalidArgument, Unauthenticated
from server.domain.providers import BodyEvent
from tests.samples import METRIC_ALERT, sample


def parse_body(
    provider: str, body: object, headers: dict[str, str] | None = None
) -> providers.ParsedBody:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return providers.parse_payload("alpha", provider, raw, lowered)


def parse(provider: str, body: object, headers: dict[str, str] | None = None) -> list[BodyEvent]:
    return parse_body(provider, body, headers).events


def violations_of(provider: str, body: object, headers: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(InvalidArgument) as raised:
        parse(provider, body, headers)
    return [v.field for v in raised.value.violations]


def alert(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": "firing",
        "labels": {"alertname": "HighPodMemory", "namespace": "shop", "pod": "api-0"},
        "annotations": {"summary": "memory above 90%"},
        "startsAt": "2026-11-27T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": "f74798f72524fe89",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def webhook(*alerts: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"receiver": "relay", "status": "firing", "version": "4", "alerts": list(alerts), **top}


# ---------------------------------------------------------------------------
# The samples
# ---------------------------------------------------------------------------


def test_the_alertmanager_firing_sample_becomes_one_firing_event() -> None:
    [found] = parse("alertmanager", sample("alertmanager_firing_single_highpodmemory.json"))
    event = found.event

    assert found.origin == "body.alerts[0]"
    assert event.event_id == "f74798f72524fe89:2022-07-26T19:55:58.97Z"
    assert event.stage == "firing"
    assert event.fingerprint == "f74798f72524fe89"
    assert event.title == "HighMemoryUsage"
    assert event.severity == "slack"
    assert event.source_url.startswith("http://prometheus-deployment-87cc8fb88-4kgsr:9090/graph")
    assert event.provider_ts == datetime(2022, 7, 26, 19, 55, 58, 970000, tzinfo=UTC)
    shared = parse_body("alertmanager", sample("alertmanager_firing_single_highpodmemory.json")).shared
    assert "alerts" not in shared
    assert shared["groupKey"] == '{}/{}:{alertname="HighPodMemory"}'
    assert shared["truncatedAlerts"] == 0
    assert event.payload == {}  # the body's shared fields are stored once, not per event


def test_the_alertmanager_resolved_sample_ends_at_its_ends_at() -> None:
    [found] = parse("alertmanager", sample("alertmanager_resolved_single_kube_deployment.json"))
    event = found.event

    assert event.stage == "resolved"
    assert event.provider_ts == datetime(2022, 7, 29, 11, 17, 27, 300000, tzinfo=UTC)
    assert event.namespace == "eric-eo-cm-ci406"
    # deployment comes before instance in the target order.
    assert event.target_resource == "eric-log-transformer"
    assert event.title == "Kubernetes Deployment Replicas Mismatch"
    assert event.annotations["description"].startswith("Deployment Replicas mismatch")


def test_the_signoz_sample_keeps_its_offset_and_microseconds() -> None:
    [found] = parse("signoz", sample("signoz_docs_sample_firing.json"))
    event = found.event

    assert event.provider == "signoz"
    assert event.event_id == "ad592b0afcbe2e79:2022-04-25T14:35:19.490146+05:30"
    assert event.provider_ts == datetime(
        2022, 4, 25, 14, 35, 19, 490146, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert event.target_resource == "example3"
    assert event.source_url == ""


def test_the_sentry_event_alert_sample_names_its_issue() -> None:
    body = sample("sentry_event_alert_triggered.json")
    [found] = parse("sentry", body, {"Sentry-Hook-Resource": "event_alert"})
    event = found.event

    assert found.origin == "body.data.event"
    assert event.event_id == "e4874d664c3540c1a32eab185f12c5ab"
    assert event.fingerprint == "sentry-issue:1117540176"
    assert event.title == "ReferenceError: heck is not defined"
    assert event.severity == "error"
    assert event.labels["browser.name"] == "Chrome"
    assert event.labels["handled"] == "no"
    assert event.source_url.endswith("/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/")
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == [
        ("sentry", "issue", "1117540176")
    ]
    assert event.provider_ts == datetime(2019, 8, 19, 21, 6, 17, 677000, tzinfo=UTC)


def test_the_sentry_issue_sample_is_staged_by_its_action() -> None:
    body = sample("sentry_issue_created.json")
    [found] = parse("sentry", body, {"Sentry-Hook-Resource": "issue"})
    event = found.event

    assert event.event_id == "issue-1170820242"
    assert event.stage == "created"
    assert event.fingerprint == "sentry-issue:1170820242"
    assert event.title == "ReferenceError: blooopy is not defined"
    assert [(r.system, r.kind, r.id) for r in event.source_refs] == [
        ("sentry", "issue", "1170820242")
    ]


def test_the_sentry_resource_comes_from_the_shape_of_data_without_the_header() -> None:
    [alert_event] = parse("sentry", sample("sentry_event_alert_triggered.json"))
    [issue_event] = parse("sentry", sample("sentry_issue_created.json"))

    assert alert_event.event.event_id == "e4874d664c3540c1a32eab185f12c5ab"
    assert issue_event.event.event_id == "issue-1170820242"


def test_the_sentry_user_tag_is_dropped_from_labels_and_blanked_in_the_payload() -> None:
    parsed = parse_body("sentry", sample("sentry_event_alert_triggered.json"))
    [found] = parsed.events

    assert "user" not in found.event.labels
    assert "162.217.75.90" not in json.dumps(parsed.shared)
    assert ["user", "[REDACTED:user]"] in parsed.shared["data"]["event"]["tags"]


# ---------------------------------------------------------------------------
# Webhook v4 rules
# ---------------------------------------------------------------------------


def test_a_missing_fingerprint_is_the_hash_of_the_sorted_labels() -> None:
    labels = {"severity": "page", "alertname": "Down", "job": "api"}
    [found] = parse("alertmanager", webhook(alert(fingerprint=None, labels=labels)))
    expected = hashlib.sha256(b"alertname=Down\njob=api\nseverity=page").hexdigest()[:16]

    assert found.event.fingerprint == expected
    assert found.event.event_id == f"{expected}:2026-11-27T10:00:00Z"


def test_a_resolved_alert_with_the_zero_ends_at_is_resolved_at_its_start() -> None:
    [found] = parse("alertmanager", webhook(alert(status="resolved")))

    assert found.event.stage == "resolved"
    assert found.event.provider_ts == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_a_firing_alert_with_a_future_ends_at_is_timed_at_its_start() -> None:
    # Alertmanager sets endsAt of a firing alert to when it would time out.
    [found] = parse("alertmanager", webhook(alert(endsAt="2026-11-27T10:05:00Z")))

    assert found.event.stage == "firing"
    assert found.event.provider_ts == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_stage_follows_status_not_ends_at() -> None:
    ended = alert(status="resolved", endsAt="2026-11-27T10:07:30.123456789Z")
    [found] = parse("alertmanager", webhook(ended))

    assert found.event.stage == "resolved"
    assert found.event.provider_ts == datetime(2026, 11, 27, 10, 7, 30, 123456, tzinfo=UTC)


def test_the_title_falls_back_to_the_alertname() -> None:
    [found] = parse("alertmanager", webhook(alert(annotations={"description": "d"})))

    assert found.event.title == "HighPodMemory"


def test_the_target_resource_is_the_first_label_present_in_order() -> None:
    labels = {"alertname": "A", "instance": "10.0.0.1:9100", "service": "api", "daemonset": "node"}
    [found] = parse("alertmanager", webhook(alert(labels=labels)))

    assert found.event.target_resource == "node"


def test_every_alert_of_a_body_becomes_an_event_in_order() -> None:
    body = webhook(alert(fingerprint="a1"), alert(fingerprint="b2"), alert(fingerprint="c3"))

    found = parse("alertmanager", body)

    assert [f.event.fingerprint for f in found] == ["a1", "b2", "c3"]
    assert [f.origin for f in found] == ["body.alerts[0]", "body.alerts[1]", "body.alerts[2]"]


def test_unknown_top_level_and_alert_keys_are_tolerated_and_kept_in_the_payload() -> None:
    body = webhook(
        alert(notification_extra={"x": 1}), notification_reason="repeat", relay={"hop": 2}
    )

    shared = parse_body("alertmanager", body).shared

    assert shared["notification_reason"] == "repeat"
    assert shared["relay"] == {"hop": 2}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-07-26T19:55:58.97Z", datetime(2022, 7, 26, 19, 55, 58, 970000, tzinfo=UTC)),
        ("2022-07-26T19:55:58Z", datetime(2022, 7, 26, 19, 55, 58, tzinfo=UTC)),
        ("2022-07-26t19:55:58.123456789z", datetime(2022, 7, 26, 19, 55, 58, 123456, tzinfo=UTC)),
        ("2022-07-26T19:55:58.1-07:00", datetime(2022, 7, 27, 2, 55, 58, 100000, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_rfc3339_times_parse_with_any_offset_and_fraction(value: str, expected: datetime) -> None:
    assert providers.parse_rfc3339(value) == expected


@pytest.mark.parametrize(
    "value", ["2022-07-26T19:55:58", "2022-07-26", "2022-13-01T00:00:00Z", "yesterday", ""]
)
def test_times_without_an_offset_or_out_of_range_do_not_parse(value: str) -> None:
    assert providers.parse_rfc3339(value) is None


# ---------------------------------------------------------------------------
# Broken bodies name what is missing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"alerts"', b'{"alerts": NaN}']
)
def test_a_body_that_is_not_a_json_object_names_body(raw: bytes) -> None:
    assert violations_of("alertmanager", raw) == ["body"]


def test_a_body_without_alerts_names_body_alerts() -> None:
    assert violations_of("alertmanager", {"receiver": "x"}) == ["body.alerts"]
    assert violations_of("signoz", {"alerts": []}) == ["body.alerts"]
    assert violations_of("alertmanager", {"alerts": {"0": alert()}}) == ["body.alerts"]


def test_every_broken_alert_is_named_by_its_index_and_field() -> None:
    body = webhook(
        alert(),
        alert(labels={"alertname": 3}),
        alert(startsAt=None),
        alert(startsAt="last tuesday", status=None),
        "not an alert",
    )

    assert violations_of("alertmanager", body) == [
        "body.alerts[1].labels",
        "body.alerts[2].startsAt",
        "body.alerts[3].status",
        "body.alerts[3].startsAt",
        "body.alerts[4]",
    ]


def test_a_body_of_more_alerts_than_one_transaction_should_carry_is_refused() -> None:
    many = webhook(*(alert(fingerprint=f"f{i}") for i in range(providers.MAX_ALERTS_PER_BODY + 1)))
    assert violations_of("alertmanager", many) == ["body.alerts"]
    at_limit = webhook(*(alert(fingerprint=f"f{i}") for i in range(providers.MAX_ALERTS_PER_BODY)))
    assert len(parse("alertmanager", at_limit)) == providers.MAX_ALERTS_PER_BODY


def test_a_body_with_a_nul_character_is_refused_naming_where() -> None:
    body = webhook(alert(annotations={"summary": "a\u0000b"}))
    assert violations_of("alertmanager", body) == ["body.alerts[0].annotations.summary"]


def test_a_body_nested_too_deeply_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(providers.MAX_BODY_DEPTH + 1):
        deep = {"d": deep}

    [where] = violations_of("alertmanager", webhook(alert(), relay=deep))
    # body is level 1, body.relay level 2: the first level too deep is named.
    assert where == "body.relay" + ".d" * (providers.MAX_BODY_DEPTH - 1)


def test_the_request_checks_name_provider_and_body() -> None:
    from server.domain.validation import Violations

    violations = Violations()
    providers.check_request("datadog", b"", violations)
    oversized = Violations()
    providers.check_request("sentry", b" " * (providers.MAX_BODY_BYTES + 1), oversized)
    at_limit = Violations()
    providers.check_request("sentry", b" " * providers.MAX_BODY_BYTES, at_limit)

    assert [v.field for v in violations.found] == ["provider", "body"]
    assert [v.field for v in oversized.found] == ["body"]
    assert at_limit.found == []


# ---------------------------------------------------------------------------
# Sentry
# ---------------------------------------------------------------------------


def test_a_sentry_metric_alert_is_keyed_by_its_rule_and_staged_by_its_action() -> None:
    [found] = parse("sentry", METRIC_ALERT, {"sentry-hook-resource": "metric_alert"})
    event = found.event

    assert event.event_id == "metric-alert-16"
    assert event.stage == "critical"
    assert event.severity == "critical"
    assert event.fingerprint == "sentry-metric-alert:7"
    assert event.title == "Critical: Too many errors"
    assert event.annotations["description"].startswith("1001 events")
    assert event.source_url == "https://sentry.io/organizations/test-org/alerts/rules/details/16/"
    assert event.provider_ts == datetime(2022, 4, 15, 15, 8, tzinfo=UTC)


def test_sentry_header_names_match_in_any_case() -> None:
    [found] = parse("sentry", METRIC_ALERT, {"SENTRY-HOOK-RESOURCE": "metric_alert"})

    assert found.event.event_id == "metric-alert-16"


def test_sentry_tags_also_read_as_key_value_objects() -> None:
    body = sample("sentry_event_alert_triggered.json")
    body["data"]["event"]["tags"] = [{"key": "environment", "value": "prod"}, ["release", None]]

    [found] = parse("sentry", body)

    assert found.event.labels == {"environment": "prod"}


def test_a_sentry_resource_header_that_is_not_supported_is_named() -> None:
    body = sample("sentry_issue_created.json")

    assert violations_of("sentry", body, {"Sentry-Hook-Resource": "installation"}) == [
        "headers.Sentry-Hook-Resource"
    ]


def test_a_sentry_body_missing_what_its_resource_needs_names_it() -> None:
    event_alert = sample("sentry_event_alert_triggered.json")
    del event_alert["data"]["event"]["issue_id"]
    issue = sample("sentry_issue_created.json")
    del issue["action"]
    del issue["data"]["issue"]["id"]
    metric = copy.deepcopy(METRIC_ALERT)
    del metric["data"]["metric_alert"]["alert_rule"]

    assert violations_of("sentry", event_alert) == ["body.data.event.issue_id"]
    assert violations_of("sentry", issue, {"Sentry-Hook-Resource": "issue"}) == [
        "body.action",
        "body.data.issue.id",
    ]
    assert violations_of("sentry", metric, {"Sentry-Hook-Resource": "metric_alert"}) == [
        "body.data.metric_alert.alert_rule"
    ]
    assert violations_of("sentry", {"action": "created"}) == ["body.data"]
    assert violations_of("sentry", {"data": {"comment": {}}}) == ["headers.Sentry-Hook-Resource"]
    assert violations_of("sentry", issue, {"Sentry-Hook-Resource": "event_alert"}) == [
        "body.data.event"
    ]


def test_a_sentry_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"action": "created"}'
    signature = providers.sentry_signature(body, "shh")

    assert signature == hmac.new(b"shh", body, hashlib.sha256).hexdigest()
    providers.verify_sentry_signature(body, {"sentry-hook-signature": signature}, "shh")
    # Only as Sentry sends it: lower-case hex, nothing around it.
    for respelt in (signature.upper(), f" {signature} "):
        with pytest.raises(Unauthenticated):
            providers.verify_sentry_signature(body, {"sentry-hook-signature": respelt}, "shh")
    with pytest.raises(Unauthenticated):
        providers.verify_sentry_signature(body + b" ", {"sentry-hook-signature": signature}, "shh")
    with pytest.raises(Unauthenticated):
        providers.verify_sentry_signature(body, {"sentry-hook-signature": signature}, "other")
    with pytest.raises(Unauthenticated):
        providers.verify_sentry_signature(body, {}, "shh")
