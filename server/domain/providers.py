"""Provider webhook bodies as they arrive, turned into events (SPEC section 2b).

Pure: the raw body and its headers in, `AlertEventInput`s out. Every problem
with a body becomes a FieldViolation naming where it is (`body.alerts[2].startsAt`,
`headers.Sentry-Hook-Resource`), collected over the whole body so one answer
names them all. Keys a provider may add later are ignored, never rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from server.domain.models import AlertEventInput, SourceRef
from server.domain.validation import MAX_JSON_DEPTH, Violations
from server.domain.errors import Unauthenticated

MAX_BODY_BYTES = 1 << 20
MAX_BODY_DEPTH = MAX_JSON_DEPTH
# Alerts in one webhook body. Each becomes an event written in one
# transaction that holds the cursor lock; a group of more alerts than this is
# better split by the sender (Alertmanager's webhook_config `max_alerts`).
MAX_ALERTS_PER_BODY = 1000

ALERTMANAGER = "alertmanager"
SIGNOZ = "signoz"
SENTRY = "sentry"
PROVIDERS = (ALERTMANAGER, SIGNOZ, SENTRY)

SENTRY_RESOURCE_HEADER = "Sentry-Hook-Resource"
SENTRY_SIGNATURE_HEADER = "Sentry-Hook-Signature"
SENTRY_RESOURCES = ("event_alert", "issue", "metric_alert")

# Labels that name what an alert is about, most specific first.
_TARGET_LABELS = ("pod", "deployment", "statefulset", "daemonset", "service", "instance")

# Go's zero time: Alertmanager sends it as endsAt of an alert that has not ended.
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)

# Sentry's `user` tag is its rendering of the event's user ("ip:1.2.3.4",
# "email:…", "id:…", "username:…"): personal data whatever its form, and a plain
# IP address is ordinary text to the redaction rules, so it is dropped here,
# where what the tag means is known.
_SENTRY_PERSONAL_TAGS = frozenset({"user"})
_PERSONAL_MARKER = "[REDACTED:user]"

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class BodyEvent:
    """One event found in a body, and where in the body it came from. Its
    `payload` is empty: what the body says besides its events is `shared`."""

    origin: str
    event: AlertEventInput


@dataclass(frozen=True)
class ParsedBody:
    """A webhook body: its events, and the fields they share (SPEC 2b's
    `payload`: the top-level fields other than `alerts`; for Sentry the whole
    body), which are stored once per body however many events it holds."""

    shared: JSONObject
    events: list[BodyEvent]


def parse_rfc3339(value: str) -> datetime | None:
    """An RFC 3339 time (any offset, fractional seconds of any length), or None,
    also for one whose offset moves it out of years 1-9999 in UTC
    ("0001-01-01T00:00:00+01:00"): no reader could represent that instant."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        zone: timezone = UTC
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone,
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def header_map(headers: Mapping[str, str], violations: Violations) -> dict[str, str]:
    """Headers by lower-cased name: HTTP header names are case-insensitive."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in found and found[key] != value:
            violations.add(f"headers.{name}", "given twice with different values")
        found[key] = value
    return found


def check_request(provider: str, body: bytes, violations: Violations) -> None:
    if provider not in PROVIDERS:
        violations.add("provider", f"must be one of {', '.join(PROVIDERS)}")
    if not body:
        violations.add("body", "required: the webhook's raw JSON body")
    elif len(body) > MAX_BODY_BYTES:
        violations.add("body", f"at most {MAX_BODY_BYTES} bytes (1 MiB), got {len(body)}")


def sentry_signature(body: bytes, secret: str) -> str:
    """What Sentry sends in Sentry-Hook-Signature: hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_sentry_signature(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Raises Unauthenticated unless the body carries Sentry's signature of it.

    `headers` are lower-cased names (see header_map)."""
    given = headers.get(SENTRY_SIGNATURE_HEADER.lower(), "").strip().lower()
    if not given:
        raise Unauthenticated(f"{SENTRY_SIGNATURE_HEADER} is required", "SIGNATURE_MISSING")
    if not hmac.compare_digest(given.encode(), sentry_signature(body, secret).encode()):
        raise Unauthenticated(f"{SENTRY_SIGNATURE_HEADER} does not match the body", "SIGNATURE_MISMATCH")


def parse_payload(
    project_id: str, provider: str, body: bytes, headers: Mapping[str, str]
) -> ParsedBody:
    """The events one webhook body holds, in the body's order, and what they share.

    `headers` are lower-cased names (see header_map). Raises InvalidArgument
    naming every problem found; returns at least one event."""
    violations = Violations()
    document = _load_json(body, violations)
    violations.raise_if_any()
    parse: Callable[[str, str, JSONObject, Mapping[str, str], Violations], ParsedBody]
    parse = _parse_sentry if provider == SENTRY else _parse_webhook_v4
    parsed = parse(project_id, provider, document, headers, violations)
    violations.raise_if_any()
    return parsed


# ---------------------------------------------------------------------------
# JSON reading
# ---------------------------------------------------------------------------


def _reject_constant(name: str) -> float:
    # NaN and Infinity are not JSON, and jsonb refuses them.
    raise ValueError(f"{name} is not valid JSON")


def _load_json(body: bytes, violations: Violations) -> JSONObject:
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        violations.add("body", "must be UTF-8 encoded JSON")
        return {}
    except RecursionError:
        violations.add("body", f"nested deeper than {MAX_BODY_DEPTH} levels")
        return {}
    except ValueError as error:
        # The decoder's message says where, never what: no body text leaks.
        violations.add("body", f"is not valid JSON: {error}")
        return {}
    if not isinstance(document, dict):
        violations.add("body", "must be a JSON object")
        return {}
    violations.json_value(document, "body")
    return document


def _object(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = True
) -> JSONObject | None:
    value = parent.get(key)
    if value is None:
        if required:
            violations.add(f"{path}.{key}", "required: a JSON object")
        return None
    if not isinstance(value, dict):
        violations.add(f"{path}.{key}", "must be a JSON object")
        return None
    return value


def _text(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> str:
    """A string field; null or absent is "" unless required."""
    value = parent.get(key)
    if value is None or value == "":
        if required:
            violations.add(f"{path}.{key}", "required: a non-empty string")
        return ""
    if not isinstance(value, str):
        violations.add(f"{path}.{key}", "must be a string")
        return ""
    return value


def _identifier(parent: JSONObject, key: str, path: str, violations: Violations) -> str:
    """A required id, sent as a string or a number (Sentry does both)."""
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        violations.add(f"{path}.{key}", "required: a non-empty string or integer id")
        return ""
    return str(value)


def _string_map(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> dict[str, str]:
    value = _object(parent, key, path, violations, required)
    if value is None:
        return {}
    if not all(isinstance(v, str) for v in value.values()):
        violations.add(f"{path}.{key}", "must map strings to strings")
        return {}
    return dict(value)


def _time(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> tuple[str, datetime | None]:
    """A time field as sent and parsed; ("", None) when absent and not required."""
    raw = _text(parent, key, path, violations, required)
    if not raw:
        return "", None
    parsed = parse_rfc3339(raw)
    if parsed is None:
        violations.add(f"{path}.{key}", "must be an RFC 3339 time")
    return raw, parsed


# ---------------------------------------------------------------------------
# Alertmanager and SigNoz: webhook v4
# ---------------------------------------------------------------------------


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stand-in for the fingerprint senders before Alertmanager 0.19 omit."""
    lines = "\n".join(f"{key}={labels[key]}" for key in sorted(labels))
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def _parse_webhook_v4(
    project_id: str,
    provider: str,
    document: JSONObject,
    headers: Mapping[str, str],
    violations: Violations,
) -> ParsedBody:
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
        event = _webhook_alert(project_id, provider, alert, path, violations)
        if event is not None:
            events.append(BodyEvent(path, event))
    return ParsedBody(shared, events)


def _webhook_alert(
    project_id: str,
    provider: str,
    alert: JSONObject,
    path: str,
    violations: Violations,
) -> AlertEventInput | None:
    found = len(violations.found)
    status = _text(alert, "status", path, violations, required=True)
    labels = _string_map(alert, "labels", path, violations, required=True)
    annotations = _string_map(alert, "annotations", path, violations)
    starts_raw, starts_at = _time(alert, "startsAt", path, violations, required=True)
    _, ends_at = _time(alert, "endsAt", path, violations)
    fingerprint = _text(alert, "fingerprint", path, violations)
    source_url = _text(alert, "generatorURL", path, violations)
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


# ---------------------------------------------------------------------------
# Sentry: integration platform webhooks
# ---------------------------------------------------------------------------


def _sentry_resource(
    data: JSONObject, headers: Mapping[str, str], violations: Violations
) -> str:
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


def _parse_sentry(
    project_id: str,
    provider: str,
    document: JSONObject,
    headers: Mapping[str, str],
    violations: Violations,
) -> ParsedBody:
    shared = _without_personal_tags(document)
    data = _object(document, "data", "body", violations)
    if data is None:
        return ParsedBody(shared, [])
    resource = _sentry_resource(data, headers, violations)
    if resource == "event_alert":
        event = _sentry_event_alert(project_id, provider, data, violations)
        origin = "body.data.event"
    elif resource == "issue":
        event = _sentry_issue(project_id, provider, document, data, violations)
        origin = "body.data.issue"
    elif resource == "metric_alert":
        event = _sentry_metric_alert(project_id, provider, document, data, violations)
        origin = "body.data.metric_alert"
    else:
        return ParsedBody(shared, [])
    return ParsedBody(shared, [BodyEvent(origin, event)] if event is not None else [])


def _sentry_tags(event: JSONObject, path: str, violations: Violations) -> dict[str, str]:
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
        if value is None or key in _SENTRY_PERSONAL_TAGS:
            continue
        labels[key] = value if isinstance(value, str) else json.dumps(value)
    return labels


def _without_personal_tags(document: JSONObject) -> JSONObject:
    """The body, with the value of Sentry's personal tags replaced."""
    event = document.get("data", {}).get("event")
    if not isinstance(event, dict) or not isinstance(event.get("tags"), list):
        return document
    tags = [
        [tag[0], _PERSONAL_MARKER]
        if isinstance(tag, list) and len(tag) == 2 and tag[0] in _SENTRY_PERSONAL_TAGS
        else tag
        for tag in event["tags"]
    ]
    return {**document, "data": {**document["data"], "event": {**event, "tags": tags}}}


def _sentry_time(value: object) -> datetime | None:
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


def _sentry_event_alert(
    project_id: str,
    provider: str,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    path = "body.data"
    event = _object(data, "event", path, violations)
    if event is None:
        return None
    path = "body.data.event"
    found = len(violations.found)
    event_id = _text(event, "event_id", path, violations, required=True)
    issue_id = _identifier(event, "issue_id", path, violations)
    title = _text(event, "title", path, violations)
    level = _text(event, "level", path, violations)
    labels = _sentry_tags(event, path, violations)
    web_url = _text(event, "web_url", path, violations) or _text(event, "url", path, violations)
    annotations = {
        "culprit": _text(event, "culprit", path, violations),
        "triggered_rule": _text(data, "triggered_rule", "body.data", violations),
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
        provider_ts=_sentry_time(event.get("datetime")) or _sentry_time(event.get("timestamp")),
        source_refs=[SourceRef(system="sentry", kind="issue", id=issue_id)],
    )


def _sentry_issue(
    project_id: str,
    provider: str,
    document: JSONObject,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    issue = _object(data, "issue", "body.data", violations)
    action = _text(document, "action", "body", violations, required=True)
    if issue is None:
        return None
    path = "body.data.issue"
    found = len(violations.found)
    issue_id = _identifier(issue, "id", path, violations)
    title = _text(issue, "title", path, violations)
    level = _text(issue, "level", path, violations)
    permalink = _text(issue, "permalink", path, violations)
    labels = {
        name: _text(issue, name, path, violations)
        for name in ("status", "substatus", "platform", "shortId")
    }
    culprit = _text(issue, "culprit", path, violations)
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
        provider_ts=_sentry_time(issue.get("lastSeen")) or _sentry_time(issue.get("firstSeen")),
        source_refs=[SourceRef(system="sentry", kind="issue", id=issue_id, url=permalink)],
    )


def _sentry_metric_alert(
    project_id: str,
    provider: str,
    document: JSONObject,
    data: JSONObject,
    violations: Violations,
) -> AlertEventInput | None:
    alert = _object(data, "metric_alert", "body.data", violations)
    action = _text(document, "action", "body", violations, required=True)
    if alert is None:
        return None
    path = "body.data.metric_alert"
    found = len(violations.found)
    alert_id = _identifier(alert, "id", path, violations)
    rule = _object(alert, "alert_rule", path, violations)
    rule_id = _identifier(rule, "id", f"{path}.alert_rule", violations) if rule else ""
    title = (
        _text(data, "description_title", "body.data", violations)
        or _text(alert, "title", path, violations)
        or (_text(rule, "name", f"{path}.alert_rule", violations) if rule else "")
    )
    description = _text(data, "description_text", "body.data", violations)
    web_url = _text(data, "web_url", "body.data", violations)
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
            _sentry_time(alert.get("date_detected"))
            or _sentry_time(alert.get("date_started"))
            or _sentry_time(alert.get("date_created"))
        ),
        source_refs=[SourceRef(system="sentry", kind="metric_alert", id=alert_id, url=web_url)],
    )
