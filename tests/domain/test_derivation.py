"""What the service derives for each event (SPEC section 2), pure: an
AlertEventInput in, a NewEvent out. No database, no server.

Redaction's own rules are in test_redaction.py; here only that derivation
sends every stored string through it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from server.domain.derivation import (
    MAX_CONTENT_REDACTED,
    TRUNCATED,
    PREVIEW_LENGTH,
    derive_event,
    log_correlation,
    provider_event_id,
    raw_content,
    recurrence_key,
    source_body,
    unique_refs,
)
from server.domain.models import AlertEventInput, NewEvent, SourceRef
from server.domain.redaction import REDACTION_VERSION


def alert(**fields: Any) -> AlertEventInput:
    values: dict[str, Any] = {"project_id": "alpha", "provider": "alertmanager", "event_id": "e-1"}
    values.update(fields)
    return AlertEventInput(**values)


def refs_of(event: NewEvent) -> list[tuple[str, str, str]]:
    return [(r.system, r.kind, r.id) for r in event.source_refs]


# --- identity and content -----------------------------------------------------


def test_the_provider_event_id_is_provider_colon_event_id() -> None:
    assert provider_event_id("sentry", "abc:1") == "sentry:abc:1"
    assert derive_event(alert(provider="signoz", event_id="fp:2025")).provider_event_id == (
        "signoz:fp:2025"
    )


def test_content_is_the_title_then_non_empty_annotation_values_in_key_order() -> None:
    annotations = {"summary": "s", "description": "d", "empty": "", "a_first": "a"}
    assert raw_content("Disk full", annotations) == "Disk full\na\nd\ns"


def test_the_derived_content_fields_describe_the_raw_content() -> None:
    content = "Disk full on db-0\ncheck the volume\nzürich"
    event = derive_event(
        alert(title="Disk full on db-0", annotations={"b": "zürich", "a": "check the volume"})
    )
    assert event.content_redacted == content
    assert event.content_preview == content
    assert event.content_length == len(content)
    assert event.content_length == 41  # characters, not UTF-8 bytes
    assert event.content_sha256 == hashlib.sha256(content.encode("utf-8")).hexdigest()
    assert event.has_redacted_content is False
    assert event.redaction_version == REDACTION_VERSION


def test_the_hash_and_length_are_of_the_raw_content_not_the_redacted_one() -> None:
    title = "login failed password=hunter2hunter2 for admin"
    event = derive_event(alert(title=title))
    assert event.has_redacted_content is True
    assert "hunter2hunter2" not in event.content_redacted
    assert event.content_redacted.startswith("login failed password=[REDACTED:")
    assert event.content_length == len(title)
    assert event.content_sha256 == hashlib.sha256(title.encode()).hexdigest()


def test_the_preview_is_the_first_200_characters_of_the_redacted_content() -> None:
    title = "password=hunter2hunter2 " + "x" * 400
    event = derive_event(alert(title=title))
    assert PREVIEW_LENGTH == 200
    assert len(event.content_preview) == 200
    assert event.content_preview == event.content_redacted[:200]
    assert "hunter2" not in event.content_preview


def test_a_short_content_is_previewed_whole() -> None:
    event = derive_event(alert(title="Pod restarted"))
    assert event.content_preview == "Pod restarted"


# --- source refs --------------------------------------------------------------


def test_a_sentry_event_carries_a_sentry_event_ref() -> None:
    event = derive_event(alert(provider="sentry", event_id="9f3c"))
    assert refs_of(event) == [("sentry", "event", "9f3c")]
    assert event.source_ref_count == 1


def test_a_signoz_event_with_a_rule_id_label_carries_a_rule_ref() -> None:
    event = derive_event(alert(provider="signoz", event_id="fp:t", labels={"ruleId": "42"}))
    assert refs_of(event) == [("signoz", "rule", "42")]


def test_a_signoz_event_without_a_rule_id_carries_an_alert_ref() -> None:
    event = derive_event(alert(provider="signoz", event_id="fp:t", labels={"ruleId": ""}))
    assert refs_of(event) == [("signoz", "alert", "fp:t")]


def test_an_alertmanager_event_with_a_fingerprint_carries_a_fingerprint_ref() -> None:
    event = derive_event(alert(fingerprint="abc123", labels={"alertname": "HighCPU"}))
    assert refs_of(event) == [("alert", "fingerprint", "abc123")]


def test_an_alertmanager_event_without_fingerprint_carries_an_alertname_ref() -> None:
    event = derive_event(alert(labels={"alertname": "HighCPU"}, title="CPU above 90%"))
    assert refs_of(event) == [("alert", "alertname", "HighCPU")]


def test_an_alertmanager_alertname_ref_falls_back_to_the_title() -> None:
    event = derive_event(alert(title="CPU above 90%"))
    assert refs_of(event) == [("alert", "alertname", "CPU above 90%")]


def test_an_alertmanager_event_without_fingerprint_or_alertname_carries_no_ref() -> None:
    event = derive_event(alert())
    assert event.source_refs == []
    assert event.source_ref_count == 0


def test_an_unknown_provider_derives_no_ref_of_its_own() -> None:
    event = derive_event(alert(provider="grafana", fingerprint="abc", labels={"ruleId": "1"}))
    assert event.source_refs == []


@pytest.mark.parametrize(
    ("name", "system", "kind"),
    [
        ("sentry_issue_id", "sentry", "issue"),
        ("sentry_event_id", "sentry", "event"),
        ("signoz_rule_id", "signoz", "rule"),
        ("signoz_alert_id", "signoz", "alert"),
    ],
)
@pytest.mark.parametrize("where", ["labels", "annotations"])
def test_a_ref_label_or_annotation_adds_the_matching_ref_for_any_provider(
    name: str, system: str, kind: str, where: str
) -> None:
    event = derive_event(alert(provider="grafana", **{where: {name: "777"}}))
    assert refs_of(event) == [(system, kind, "777")]


def test_caller_refs_come_first_and_refs_are_deduplicated_on_system_kind_and_id() -> None:
    event = derive_event(
        alert(
            provider="sentry",
            event_id="ev1",
            labels={"sentry_event_id": "ev1", "sentry_issue_id": "11"},
            annotations={"sentry_issue_id": "11", "signoz_rule_id": "5"},
            source_refs=[
                SourceRef(system="sentry", kind="issue", id="11", url="https://sentry.example/11"),
                SourceRef(system="ticket", kind="jira", id="OPS-1"),
            ],
        )
    )
    assert refs_of(event) == [
        ("sentry", "issue", "11"),
        ("ticket", "jira", "OPS-1"),
        ("sentry", "event", "ev1"),
        ("signoz", "rule", "5"),
    ]
    # The first of duplicates is kept, with its url.
    assert event.source_refs[0].url == "https://sentry.example/11"
    assert event.source_ref_count == 4


def test_refs_differing_only_in_kind_are_both_kept() -> None:
    refs = [
        SourceRef(system="signoz", kind="rule", id="7"),
        SourceRef(system="signoz", kind="alert", id="7"),
        SourceRef(system="signoz", kind="rule", id="7", url="u"),
    ]
    assert [(r.kind, r.url) for r in unique_refs(refs)] == [("rule", ""), ("alert", "")]


# --- alertname, log correlation, recurrence key -------------------------------


def test_the_alertname_is_the_alertname_label() -> None:
    assert derive_event(alert(title="t", labels={"alertname": "HighCPU"})).alertname == "HighCPU"


def test_the_alertname_falls_back_to_the_title() -> None:
    assert derive_event(alert(title="CPU above 90%")).alertname == "CPU above 90%"
    assert derive_event(alert(title="t", labels={"alertname": ""})).alertname == "t"


def test_log_correlation_takes_ids_from_labels_or_annotations() -> None:
    found = log_correlation(
        {"trace_id": "t-1", "other": "x"},
        {"span_id": "s-1", "request_id": "r-1"},
    )
    assert found == {"trace_id": "t-1", "span_id": "s-1", "request_id": "r-1"}


def test_log_correlation_accepts_camel_case_names() -> None:
    found = log_correlation({"traceId": "t-2", "spanId": "s-2"}, {"requestId": "r-2"})
    assert found == {"trace_id": "t-2", "span_id": "s-2", "request_id": "r-2"}


def test_log_correlation_prefers_labels_and_skips_empty_values() -> None:
    found = log_correlation(
        {"trace_id": "", "traceId": "from-label"}, {"trace_id": "from-annotation"}
    )
    assert found == {"trace_id": "from-label"}
    assert log_correlation({}, {}) == {}


def test_a_derived_event_carries_its_log_correlation() -> None:
    event = derive_event(alert(labels={"requestId": "3f1c2d4e-0000-4000-8000-000000000000"}))
    assert event.log_correlation == {"request_id": "3f1c2d4e-0000-4000-8000-000000000000"}


def test_the_recurrence_key_is_provider_and_fingerprint_when_there_is_one() -> None:
    assert recurrence_key("alertmanager", "fp1", "HighCPU", "prod", "api") == "alertmanager:fp1"
    event = derive_event(alert(fingerprint="fp1", labels={"alertname": "HighCPU"}))
    assert event.recurrence_key == "alertmanager:fp1"


def test_without_fingerprint_the_recurrence_key_is_alertname_namespace_and_target() -> None:
    event = derive_event(
        alert(labels={"alertname": "HighCPU"}, namespace="prod", target_resource="api-0")
    )
    assert event.recurrence_key == "alertmanager:HighCPU/prod/api-0"


def test_missing_parts_of_the_recurrence_key_are_empty() -> None:
    assert derive_event(alert(provider="sentry", title="Boom")).recurrence_key == "sentry:Boom//"
    assert recurrence_key("x", "", "", "", "") == "x://"


# --- the envelope and the body ------------------------------------------------


def test_the_envelope_is_the_redacted_request_with_its_payload() -> None:
    event = derive_event(
        alert(
            stage="resolved",
            title="t",
            labels={"a": "1"},
            annotations={"b": "2"},
            payload={"receiver": "ops", "count": 3},
            source_url="https://am.example/#/alerts",
        )
    )
    assert event.source_envelope == {
        "provider": "alertmanager",
        "event_id": "e-1",
        "stage": "resolved",
        "title": "t",
        "labels": {"a": "1"},
        "annotations": {"b": "2"},
        "source_url": "https://am.example/#/alerts",
        "payload": {"receiver": "ops", "count": 3},
    }
    assert event.source_body_id is None


def test_an_event_from_a_webhook_body_has_no_payload_and_names_its_body() -> None:
    body = source_body("alpha", "alertmanager", {"receiver": "ops", "api_key": "k-12345678"})
    assert body.fields == {"receiver": "ops", "api_key": "[REDACTED:api_key]"}
    assert (body.project_id, body.provider) == ("alpha", "alertmanager")
    event = derive_event(alert(title="t", payload={"ignored": True}), body)
    assert event.source_envelope is not None
    assert "payload" not in event.source_envelope
    assert event.source_envelope["title"] == "t"
    assert event.source_body_id == body.id


def test_every_derived_event_gets_a_new_id() -> None:
    e = alert(title="same")
    assert derive_event(e).id != derive_event(e).id


def test_stage_channel_and_times_pass_through() -> None:
    ts = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    event = derive_event(
        alert(
            stage="resolved",
            channel_type="chat",
            channel_chat_id="c-9",
            provider_ts=ts,
            severity="critical",
        )
    )
    assert (
        event.stage,
        event.channel_type,
        event.channel_chat_id,
        event.provider_ts,
        event.severity,
    ) == (
        "resolved",
        "chat",
        "c-9",
        ts,
        "critical",
    )


# --- secrets never reach the derived event ------------------------------------


def test_secrets_in_title_labels_payload_and_refs_never_appear_in_the_derived_event() -> None:
    pw = "hunter2-Sup3rSecret"
    aws = "AKIA" + "IOSFODNN7EXAMPLE"
    event = derive_event(
        alert(
            provider="signoz",
            title=f"db login failed password={pw}",
            fingerprint=f"fp password={pw}",
            namespace=f"ns token={pw}",
            target_resource=f"postgres://app:{pw}@db:5432/app",
            labels={
                "alertname": f"Login password={pw}",
                "ruleId": f"rule token={pw}",
                "trace_id": f"trace secret={pw}",
                "sentry_issue_id": f"i api_key={pw}",
                "aws": aws,
                "password": pw,
            },
            annotations={"summary": f"see https://u:{pw}@host.example/x"},
            payload={
                "nested": {"token": pw, "list": [f"password={pw}", aws, "third"]},
                "dsn": f"redis://:{pw}@r:6379",
            },
            source_url=f"https://admin:{pw}@grafana.example/d",
            channel_chat_id=f"chat token={pw}",
            source_refs=[
                SourceRef(system="ticket", kind="url", id="T-1", url=f"https://x:{pw}@t.example/1")
            ],
        )
    )
    dumped = event.model_dump_json()
    assert pw not in dumped
    assert aws not in dumped
    assert "[REDACTED:" in event.content_redacted
    assert event.has_redacted_content is True



def test_an_annotation_under_a_sensitive_key_never_reaches_the_content() -> None:
    secret = "correct-horse-battery"
    event = derive_event(
        alert(title="Login failed", annotations={"password": secret, "summary": "s"})
    )
    assert event.source_envelope is not None
    assert event.source_envelope["annotations"]["password"] == "[REDACTED:password]"
    assert secret not in event.model_dump_json()



def test_a_secret_in_a_two_item_list_of_the_payload_never_reaches_the_envelope() -> None:
    secret = "Zq9x-deploy-token"
    event = derive_event(alert(payload={"argv": [f"--password={secret}", "--verbose"]}))
    assert secret not in event.model_dump_json()


def test_a_content_longer_than_the_stored_maximum_is_cut_and_says_so() -> None:
    title = "disk full on db-0 " * 20_000  # 360,000 characters, no secret
    event = derive_event(alert(title=title))
    assert len(event.content_redacted) == MAX_CONTENT_REDACTED
    assert event.content_redacted.endswith(TRUNCATED)
    assert event.content_redacted.startswith("disk full on db-0 ")
    # Still the whole content's measure, and nothing was redacted.
    assert event.content_length == len(title)
    assert event.content_sha256 == hashlib.sha256(title.encode()).hexdigest()
    assert not event.has_redacted_content


def test_redaction_that_lengthens_the_content_stays_within_the_stored_maximum() -> None:
    # A marker is longer than the secret it replaces: "pwd=x " grows fourfold.
    event = derive_event(alert(title="pwd=x " * 30_000))
    assert len(event.content_redacted) == MAX_CONTENT_REDACTED
    assert "pwd=x" not in event.content_redacted
