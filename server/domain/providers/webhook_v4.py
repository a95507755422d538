"""Alertmanager and SigNoz: the webhook v4 body, one event per entry of `alerts[]`.

SigNoz sends Alertmanager's shape, so one parser serves both names; the name
it is registered under becomes the events' `provider`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from server.domain.models import AlertEventInput
from server.domain.providers.json_fields import (
    JSONObject,
    read_string_map,
    read_text,
    read_time,
)
from server.domain.providers.parsed import BodyEvent, ParsedBody
from server.domain.validation import Violations

ALERTMANAGER = "alertmanager"
SIGNOZ = "signoz"

# Alerts in one webhook body. Each becomes an event written in one
# transaction that holds the cursor lock; a group of more alerts than this is
# better split by the sender (Alertmanager's webhook_config `max_alerts`).
MAX_ALERTS_PER_BODY = 1000

# Labels that name what an alert is about, most specific first.
_TARGET_LABELS = ("pod", "deployment", "statefulset", "daemonset", "service", "instance")

# Go's zero time: Alertmanager sends it as endsAt of an alert that has not ended.
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stand-in for the fingerprint senders before Alertmanager 0.19 omit."""
    lines = "\n".join(f"{key}={labels[key]}" for key in sorted(labels))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def parse(
    project_id: str,
    provider: str,
    document: JSONObject,
    headers: Mapping[str, str],
    violations: Violations,
) -> ParsedBody:
    """The body's alerts, in order; `headers` say nothing to this format."""
    # Shared by every alert of the body: the group's labels, receiver, URLs.
    shared = {key: value for key, value in document.items() if key != "alerts"}
    alerts = document.get("alerts")
    if alerts is None:
        violations.add("body.alerts", "required: the list of alerts")
        return ParsedBody(shared, [])
    if not isinstance(alerts, list) or not alerts:
        violations.add("body.alerts", "must be a non-empty list of alerts")
        return ParsedBody(shared, [])
    if len(alerts) > MAX_ALERTS_PER_BODY:
        violations.add(
            "body.alerts",
            f"at most {MAX_ALERTS_PER_BODY} alerts per body, got {len(alerts)} "
            "(set max_alerts in the sender's webhook_config)",
        )
        return ParsedBody(shared, [])
    events = []
    for index, alert in enumerate(alerts):
        path = f"body.alerts[{index}]"
        if not isinstance(alert, dict):
            violations.add(path, "must be a JSON object")
            continue
        event = _alert(project_id, provider, alert, path, violations)
        if event is not None:
            events.append(BodyEvent(path, event))
    return ParsedBody(shared, events)


def _alert(
    project_id: str,
    provider: str,
    alert: JSONObject,
    path: str,
    violations: Violations,
) -> AlertEventInput | None:
    found = len(violations.found)
    status = read_text(alert, "status", path, violations, required=True)
    labels = read_string_map(alert, "labels", path, violations, required=True)
    annotations = read_string_map(alert, "annotations", path, violations)
    starts_raw, starts_at = read_time(alert, "startsAt", path, violations, required=True)
    _, ends_at = read_time(alert, "endsAt", path, violations)
    fingerprint = read_text(alert, "fingerprint", path, violations)
    source_url = read_text(alert, "generatorURL", path, violations)
    if len(violations.found) > found:
        return None
    fingerprint = fingerprint or labels_fingerprint(labels)
    # A resolved alert may still carry the zero endsAt: status decides the
    # stage, and only a real endsAt is when it ended.
    ended = status == "resolved" and ends_at is not None and ends_at != _ZERO_TIME
    return AlertEventInput(
        project_id=project_id,
        provider=provider,
        event_id=f"{fingerprint}:{starts_raw}",
        stage=status,
        title=annotations.get("summary") or labels.get("alertname", ""),
        severity=labels.get("severity", ""),
        namespace=labels.get("namespace", ""),
        target_resource=next((labels[k] for k in _TARGET_LABELS if labels.get(k)), ""),
        fingerprint=fingerprint,
        labels=labels,
        annotations=annotations,
        source_url=source_url,
        provider_ts=ends_at if ended else starts_at,
    )
