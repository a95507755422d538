"""Sentry: integration platform webhooks, and the signature Sentry puts on them.

One event per body, of the resource the `Sentry-Hook-Resource` header names
(`event_alert`, `issue`, `metric_alert`), else the one the shape of `data` shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from server.domain.errors import Unauthenticated
from server.domain.models import AlertEventInput, SourceRef
from server.domain.providers.json_fields import (
    JSONObject,
    parse_rfc3339,
    read_identifier,
    read_object,
    read_text,
)
from server.domain.providers.parsed import BodyEvent, ParsedBody
from server.domain.validation import Violations

SENTRY = "sentry"

SENTRY_RESOURCE_HEADER = "Sentry-Hook-Resource"
SENTRY_SIGNATURE_HEADER = "Sentry-Hook-Signature"
SENTRY_RESOURCES = ("event_alert", "issue", "metric_alert")

# Sentry's `user` tag is its rendering of the event's user ("ip:1.2.3.4",
# "email:…", "id:…", "username:…"): personal data whatever its form, and a plain
# IP address is ordinary text to the redaction rules, so it is dropped here,
# where what the tag means is known.
_PERSONAL_TAGS = frozenset({"user"})
_PERSONAL_MARKER = "[REDACTED:user]"


def sentry_signature(body: bytes, secret: str) -> str:
    """What Sentry sends in Sentry-Hook-Signature: hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_sentry_signature(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Raises Unauthenticated unless the body carries Sentry's signature of it.

    `headers` are lower-cased names (see header_map)."""
    # Exactly as Sentry sends it: lower-case hex, nothing around it.
    given = headers.get(SENTRY_SIGNATURE_HEADER.lower(), "")
    if not given:
        raise Unauthenticated(f"{SENTRY_SIGNATURE_HEADER} is required", "SIGNATURE_MISSING")
    if not hmac.compare_digest(given.encode(), sentry_signature(body, secret).encode()):
        raise Unauthenticated(f"{SENTRY_SIGNATURE_HEADER} does not match the body", "SIGNATURE_MISMATCH")


def parse(
    project_id: str,
    provider: str,
    document: JSONObject,
    headers: Mapping[str, str],
    violations: Violations,
) -> ParsedBody:
    """The body's one event; the whole body, personal tags masked, is shared."""
    shared = _without_personal_tags(document)
    data = read_object(document, "data", "body", violations)
    if data is None:
        return ParsedBody(shared, [])
    resource = _resource(data, headers, violations)
    if resource == "event_alert":
        event = _event_alert(project_id, provider, data, violations)
        origin = "body.data.event"
    elif resource == "issue":
        event = _issue(project_id, provider, document, data, violations)
        origin = "body.data.issue"
    elif resource == "metric_alert":
        event = _metric_alert(project_id, provider, document, data, violations)
        origin = "body.data.metric_alert"
    else:
        return ParsedBody(shared, [])
    return ParsedBody(shared, [BodyEvent(origin, event)] if event is not None else [])


def _resource(data: JSONObject, headers: Mapping[str, str], violations: Violations) -> str:
    header = headers.get(SENTRY_RESOURCE_HEADER.lower(), "")
    if header:
        if header not in SENTRY_RESOURCES:
            violations.add(
                f"headers.{SENTRY_RESOURCE_HEADER}", f"must be one of {', '.join(SENTRY_RESOURCES)}"
            )
            return ""
        return header
    # No header (a relay that dropped it): the shape of `data` tells.
    if isinstance(data.get("metric_alert"), dict):
        return "metric_alert"
    if isinstance(data.get("event"), dict):
        return "event_alert"
    if isinstance(data.get("issue"), dict):
        return "issue"
    violations.add(
        f"headers.{SENTRY_RESOURCE_HEADER}",
        "required when body.data holds none of event, issue, metric_alert",
    )
    return ""


def _tags(event: JSONObject, path: str, violations: Violations) -> dict[str, str]:
    """Tags as labels. Sentry sends [key, value] pairs; its API also uses
    {"key": …, "value": …} objects, so both are read."""
    tags = event.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, list):
        violations.add(f"{path}.tags", "must be a list of [key, value] pairs")
        return {}
    labels: dict[str, str] = {}
    for index, tag in enumerate(tags):
        if isinstance(tag, dict):
            tag = [tag.get("key"), tag.get("value")]
        if not (isinstance(tag, list) and len(tag) == 2 and isinstance(tag[0], str) and tag[0]):
            violations.add(f"{path}.tags[{index}]", "must be a [key, value] pair")
            continue
        key, value = tag
        if value is None or key in _PERSONAL_TAGS:
            continue
        labels[key] = value if isinstance(value, str) else json.dumps(value)
    return labels


def _without_personal_tags(document: JSONObject) -> JSONObject:
    """The body, with the value of Sentry's personal tags replaced."""
    data = document.get("data")
    event = data.get("event") if isinstance(data, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("tags"), list):
        return document
    tags = [
        [tag[0], _PERSONAL_MARKER]
        if isinstance(tag, list) and len(tag) == 2 and tag[0] in _PERSONAL_TAGS
        else tag
        for tag in event["tags"]
    ]
    return {**document, "data": {**document["data"], "event": {**event, "tags": tags}}}


def _time(value: object) -> datetime | None:
    """Sentry's times are ISO strings or epoch seconds. They only inform
    provider_ts, so one that does not parse is left out, not an error."""
    if isinstance(value, str):
        return parse_rfc3339(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _event_alert(
    project_id: str,
    provider: str,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    path = "body.data"
    event = read_object(data, "event", path, violations)
    if event is None:
        return None
    path = "body.data.event"
    found = len(violations.found)
    event_id = read_text(event, "event_id", path, violations, required=True)
    issue_id = read_identifier(event, "issue_id", path, violations)
    title = read_text(event, "title", path, violations)
    level = read_text(event, "level", path, violations)
    labels = _tags(event, path, violations)
    web_url = (
        read_text(event, "web_url", path, violations) or read_text(event, "url", path, violations)
    )
    annotations = {
        "culprit": read_text(event, "culprit", path, violations),
        "triggered_rule": read_text(data, "triggered_rule", "body.data", violations),
    }
    if len(violations.found) > found:
        return None
    return AlertEventInput(
        project_id=project_id,
        provider=provider,
        event_id=event_id,
        title=title,
        severity=level,
        fingerprint=f"sentry-issue:{issue_id}",
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        source_url=web_url,
        provider_ts=_time(event.get("datetime")) or _time(event.get("timestamp")),
        source_refs=[SourceRef(system="sentry", kind="issue", id=issue_id)],
    )


def _issue(
    project_id: str,
    provider: str,
    document: JSONObject,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    issue = read_object(data, "issue", "body.data", violations)
    action = read_text(document, "action", "body", violations, required=True)
    if issue is None:
        return None
    path = "body.data.issue"
    found = len(violations.found)
    issue_id = read_identifier(issue, "id", path, violations)
    title = read_text(issue, "title", path, violations)
    level = read_text(issue, "level", path, violations)
    permalink = read_text(issue, "permalink", path, violations)
    labels = {
        name: read_text(issue, name, path, violations)
        for name in ("status", "substatus", "platform", "shortId")
    }
    culprit = read_text(issue, "culprit", path, violations)
    if len(violations.found) > found or not action:
        return None
    return AlertEventInput(
        project_id=project_id,
        provider=provider,
        event_id=f"issue-{issue_id}",
        stage=action,
        title=title,
        severity=level,
        fingerprint=f"sentry-issue:{issue_id}",
        labels={k: v for k, v in labels.items() if v},
        annotations={"culprit": culprit} if culprit else {},
        source_url=permalink,
        provider_ts=_time(issue.get("lastSeen")) or _time(issue.get("firstSeen")),
        source_refs=[SourceRef(system="sentry", kind="issue", id=issue_id, url=permalink)],
    )


def _metric_alert(
    project_id: str,
    provider: str,
    document: JSONObject,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    alert = read_object(data, "metric_alert", "body.data", violations)
    action = read_text(document, "action", "body", violations, required=True)
    if alert is None:
        return None
    path = "body.data.metric_alert"
    found = len(violations.found)
    alert_id = read_identifier(alert, "id", path, violations)
    rule = read_object(alert, "alert_rule", path, violations)
    rule_id = read_identifier(rule, "id", f"{path}.alert_rule", violations) if rule else ""
    title = (
        read_text(data, "description_title", "body.data", violations)
        or read_text(alert, "title", path, violations)
        or (read_text(rule, "name", f"{path}.alert_rule", violations) if rule else "")
    )
    description = read_text(data, "description_text", "body.data", violations)
    web_url = read_text(data, "web_url", "body.data", violations)
    if len(violations.found) > found or not action:
        return None
    return AlertEventInput(
        project_id=project_id,
        provider=provider,
        event_id=f"metric-alert-{alert_id}",
        stage=action,
        title=title,
        # Sentry's metric alert actions are its severities: critical, warning.
        severity=action if action in ("critical", "warning") else "",
        fingerprint=f"sentry-metric-alert:{rule_id}",
        annotations={"description": description} if description else {},
        source_url=web_url,
        provider_ts=(
            _time(alert.get("date_detected"))
            or _time(alert.get("date_started"))
            or _time(alert.get("date_created"))
        ),
        source_refs=[SourceRef(system="sentry", kind="metric_alert", id=alert_id, url=web_url)],
    )
