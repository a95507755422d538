"""Rules for recording events and runs: what a valid request is."""

from __future__ import annotations

from server.domain.models import AlertEventInput, EventFilter
from server.domain.validation import MAX_EVENT_ID, MAX_FIELD, Violations

MAX_NAME = 64
MAX_MAP_ENTRIES = 256
MAX_REFS = 64
# A provider_event_id is "{provider}:{event_id}": at most 32 + 1 + 256
# characters, so a filter on it (exact or a prefix) is at most this long.
MAX_PROVIDER_EVENT_ID = 300


def check_alert_event(event: AlertEventInput, violations: Violations, prefix: str = "") -> None:
    """Adds a violation for each field of `event` out of its limits."""
    violations.project_id(event.project_id, f"{prefix}project_id")
    violations.provider(event.provider, f"{prefix}provider")
    violations.length(event.event_id, f"{prefix}event_id", MAX_EVENT_ID, minimum=1)
    violations.length(event.stage, f"{prefix}stage", MAX_NAME, minimum=1)
    violations.length(event.channel_type, f"{prefix}channel_type", MAX_NAME, minimum=1)
    for name in ("title", "severity", "namespace", "target_resource", "fingerprint",
                 "source_url", "channel_chat_id"):
        violations.length(getattr(event, name), f"{prefix}{name}", MAX_FIELD)
    for name in ("labels", "annotations"):
        values: dict[str, str] = getattr(event, name)
        if len(values) > MAX_MAP_ENTRIES:
            violations.add(f"{prefix}{name}", f"at most {MAX_MAP_ENTRIES} entries")
        if any(len(k) > MAX_EVENT_ID or len(v) > MAX_FIELD for k, v in values.items()):
            violations.add(f"{prefix}{name}", "a key or value is too long")
    violations.json_value(event.payload, f"{prefix}payload")
    if len(event.source_refs) > MAX_REFS:
        violations.add(f"{prefix}source_refs", f"at most {MAX_REFS} refs")
    for index, ref in enumerate(event.source_refs):
        if not ref.system or not ref.kind or not ref.id:
            violations.add(f"{prefix}source_refs[{index}]", "system, kind and id are required")


def check_event_filter(
    violations: Violations, project_id: str, channel_type: str, provider_prefix: str
) -> EventFilter:
    """The filters the event list and the watch share (empty means any),
    each held to the limit of the field it matches."""
    violations.project_id(project_id, required=False)
    violations.length(channel_type, "channel_type", MAX_NAME)
    violations.length(provider_prefix, "provider_prefix", MAX_PROVIDER_EVENT_ID)
    return EventFilter(
        project_id=project_id, channel_type=channel_type, provider_prefix=provider_prefix
    )
