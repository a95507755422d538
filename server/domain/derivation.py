"""What the service derives for each event (SPEC section 2).

The raw content exists only inside derive_event: it is hashed and measured,
then only its redacted form leaves.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from server.domain.models import AlertEventInput, NewEvent, SourceBody, SourceRef
from server.domain.redaction import REDACTION_VERSION, redact_json, redact_mapping, redact_text
from server.domain.stored_text import redacted

PREVIEW_LENGTH = 200
# The longest content_redacted stored, in characters. Redaction can make text
# longer (a marker is longer than a short secret), and an event is read back
# whole by the dossier and the watch: an unbounded content made events that
# no default gRPC client could receive (over 4 MiB). Longer content is cut,
# and says so; content_length and content_sha256 still describe it whole.
MAX_CONTENT_REDACTED = 128 * 1024
TRUNCATED = "…[truncated]"

# Label or annotation names that point at a record in another system.
_REF_KEYS: dict[str, tuple[str, str]] = {
    "sentry_issue_id": ("sentry", "issue"),
    "sentry_event_id": ("sentry", "event"),
    "signoz_rule_id": ("signoz", "rule"),
    "signoz_alert_id": ("signoz", "alert"),
}

# log_correlation key -> the label or annotation names it is taken from.
_CORRELATION_KEYS: dict[str, tuple[str, ...]] = {
    "trace_id": ("trace_id", "traceId"),
    "span_id": ("span_id", "spanId"),
    "request_id": ("request_id", "requestId"),
}


def provider_event_id(provider: str, event_id: str) -> str:
    return f"{provider}:{event_id}"


def raw_content(title: str, annotations: Mapping[str, str]) -> str:
    parts = [title] if title else []
    parts += [annotations[key] for key in sorted(annotations) if annotations[key]]
    return "\n".join(parts)


def redacted_content(title: str, annotations: Mapping[str, str]) -> str:
    """The content as it may be stored. Built from the annotations redacted as
    a map, so that a value under a sensitive key ("password") is replaced
    whole, as in the envelope: in the joined text nothing says which key a
    line came from. The join is redacted once more for a secret that spans
    two parts (redaction is idempotent)."""
    return redact_text(raw_content(redact_text(title), redact_mapping(annotations)))


def stored_content(text: str) -> str:
    """The redacted content as stored: cut at MAX_CONTENT_REDACTED."""
    if len(text) > MAX_CONTENT_REDACTED:
        return text[: MAX_CONTENT_REDACTED - len(TRUNCATED)] + TRUNCATED
    return text


def recurrence_key(
    provider: str, fingerprint: str, alertname: str, namespace: str, target_resource: str
) -> str:
    if fingerprint:
        return f"{provider}:{fingerprint}"
    return f"{provider}:{alertname}/{namespace}/{target_resource}"


def derived_refs(event: AlertEventInput, alertname: str) -> list[SourceRef]:
    refs: list[SourceRef] = []
    if event.provider == "sentry":
        refs.append(SourceRef(system="sentry", kind="event", id=event.event_id))
    elif event.provider == "signoz":
        rule_id = event.labels.get("ruleId", "")
        refs.append(
            SourceRef(system="signoz", kind="rule", id=rule_id)
            if rule_id
            else SourceRef(system="signoz", kind="alert", id=event.event_id)
        )
    elif event.provider == "alertmanager":
        if event.fingerprint:
            refs.append(SourceRef(system="alert", kind="fingerprint", id=event.fingerprint))
        elif alertname:
            refs.append(SourceRef(system="alert", kind="alertname", id=alertname))
    for source in (event.labels, event.annotations):
        for key, (system, kind) in _REF_KEYS.items():
            if source.get(key):
                refs.append(SourceRef(system=system, kind=kind, id=source[key]))
    return refs


def unique_refs(refs: Iterable[SourceRef]) -> list[SourceRef]:
    """First of each (system, kind, id), in order."""
    seen: dict[tuple[str, str, str], SourceRef] = {}
    for ref in refs:
        seen.setdefault((ref.system, ref.kind, ref.id), ref)
    return list(seen.values())


def log_correlation(labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, names in _CORRELATION_KEYS.items():
        for source in (labels, annotations):
            value = next((source[name] for name in names if source.get(name)), "")
            if value:
                found[key] = value
                break
    return found


def source_envelope(event: AlertEventInput, in_body: bool) -> dict[str, object]:
    """The redacted request, kept as evidence of what the provider said. An
    event from a webhook body has no payload of its own: its body's shared
    fields are its payload (`source_body`)."""
    envelope: dict[str, object] = {
        "provider": redact_text(event.provider),
        "event_id": redact_text(event.event_id),
        "stage": redact_text(event.stage),
        "title": redact_text(event.title),
        "labels": redact_mapping(event.labels),
        "annotations": redact_mapping(event.annotations),
        "source_url": redact_text(event.source_url),
    }
    if not in_body:
        envelope["payload"] = redact_json(event.payload)
    return envelope


def source_body(project_id: str, provider: str, shared: dict[str, Any]) -> SourceBody:
    """A webhook body's shared fields, redacted once for all its events."""
    redacted = redact_json(shared)
    assert isinstance(redacted, dict)  # redact_json keeps an object an object
    return SourceBody(id=uuid.uuid4(), project_id=project_id, provider=provider, fields=redacted)


def derive_event(event: AlertEventInput, body: SourceBody | None = None) -> NewEvent:
    """Every derived field of one event, with every stored string redacted
    (server/domain/stored_text.py); `body` is the webhook body it came in, if any."""
    alertname = event.labels.get("alertname") or event.title
    content = raw_content(event.title, event.annotations)
    redacted_text = redacted_content(event.title, event.annotations)
    # The parts of the recurrence key, redacted before the key is made of them.
    fingerprint = redact_text(event.fingerprint)
    namespace = redact_text(event.namespace)
    target_resource = redact_text(event.target_resource)
    safe_alertname = redact_text(alertname)
    return redacted(
        NewEvent(
            id=uuid.uuid4(),
            project_id=event.project_id,
            channel_type=event.channel_type,
            provider=event.provider,
            provider_event_id=provider_event_id(event.provider, event.event_id),
            stage=event.stage,
            channel_chat_id=event.channel_chat_id,
            alertname=safe_alertname,
            severity=event.severity,
            namespace=namespace,
            target_resource=target_resource,
            fingerprint=fingerprint,
            recurrence_key=recurrence_key(
                event.provider, fingerprint, safe_alertname, namespace, target_resource
            ),
            content_redacted=stored_content(redacted_text),
            content_preview=redacted_text[:PREVIEW_LENGTH],
            has_redacted_content=redacted_text != content,
            redaction_version=REDACTION_VERSION,
            content_sha256=hashlib.sha256(content.encode()).hexdigest(),
            content_length=len(content),
            source_url=event.source_url,
            source_refs=unique_refs(
                redacted(r) for r in [*event.source_refs, *derived_refs(event, alertname)]
            ),
            log_correlation=log_correlation(event.labels, event.annotations),
            source_envelope=source_envelope(event, in_body=body is not None),
            provider_ts=event.provider_ts,
            source_body_id=body.id if body is not None else None,
        )
    )
