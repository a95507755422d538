"""Operation results as the JSON the replaced router's clients read.

Field names, types and nullability are those of the old router's response
models (the router this service replaces): snake_case names, UUIDs
and ISO 8601 times as strings, an absent optional as null (where gRPC has an
empty string or an unset field). Fields the old router did not have are added
beside its own (`cursor`, `next_page_token`); none of its fields is renamed.
`source_refs`, a free-form object there, is rendered by ref system (see README).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from server.domain import dossier as dos
from server.domain import recurrence as rec
from server.domain import work_items as wi
from server.domain.cursors import encode_cursor
from server.domain.event_rows import DossierEvent, ListedEvent, RefRow
from server.domain.models import Recorded, SourceRef, StoredEvent
from server.operations import dossier as dossier_ops
from server.operations import events as event_ops
from server.operations import work_items as work_item_ops
from server.operations.paging import Page


def plain(value: Any) -> Any:
    """A domain value as JSON: dataclasses and pydantic models as objects,
    enums by value, UUIDs as strings, times in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return time(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _optional(value: str | None) -> str | None:
    """The old models' `str | None`: an empty string is absent."""
    return value or None


def source_refs(refs: Sequence[SourceRef | RefRow]) -> dict[str, list[dict[str, str]]]:
    """{system: [{kind, id, url}, ...]}: an object as the old field was, one
    list per ref system, in the refs' own order."""
    by_system: dict[str, list[dict[str, str]]] = {}
    for ref in refs:
        by_system.setdefault(ref.system, []).append({"kind": ref.kind, "id": ref.id, "url": ref.url})
    return by_system


# --- events ---


def recorded(item: Recorded) -> dict[str, Any]:
    return {
        "event_id": str(item.id),
        "provider_event_id": item.provider_event_id,
        "is_duplicate": item.is_duplicate,
        "cursor": encode_cursor(item.cursor),
    }


def ingested(items: list[Recorded]) -> dict[str, Any]:
    return {"events": [recorded(item) for item in items]}


def recent_event(event: ListedEvent) -> dict[str, Any]:
    """ChannelEventItem."""
    return {
        "event_id": str(event.id),
        "project_id": event.project_id,
        "channel_type": event.channel_type,
        "provider_event_id": event.provider_event_id,
        "channel_chat_id": _optional(event.channel_chat_id),
        "content_preview": _optional(event.content_preview),
        "is_duplicate": event.is_duplicate,
        "received_at": time(event.received_at),
        "cursor": encode_cursor(event.cursor),
    }


def recent_events(page: Page[ListedEvent]) -> dict[str, Any]:
    return {
        "events": [recent_event(e) for e in page.events],
        "total": page.total,
        "limit": page.limit,
        "next_page_token": page.next_page_token,
    }


def dossier_event(event: StoredEvent | DossierEvent) -> dict[str, Any]:
    """ChannelEventDossierItem, of a dossier's event or a watched one."""
    return {
        "event_id": str(event.id),
        "project_id": event.project_id,
        "channel_type": event.channel_type,
        "provider": _optional(event.provider),
        "stage": event.stage,
        "provider_event_id": event.provider_event_id,
        "channel_chat_id": _optional(event.channel_chat_id),
        "content_preview": _optional(event.content_preview),
        "content_redacted": _optional(event.content_redacted),
        "has_redacted_content": event.has_redacted_content,
        "redaction_version": _optional(event.redaction_version),
        "source_url": _optional(event.source_url),
        "content_sha256": _optional(event.content_sha256),
        "content_length": event.content_length,
        "source_refs": source_refs(event.source_refs),
        "source_ref_count": event.source_ref_count,
        "log_correlation": dict(event.log_correlation),
        "alertname": _optional(event.alertname),
        "severity": _optional(event.severity),
        "namespace": _optional(event.namespace),
        "target_resource": _optional(event.target_resource),
        "fingerprint": _optional(event.fingerprint),
        "is_duplicate": event.is_duplicate,
        "provider_ts": time(event.provider_ts),
        "received_at": time(event.received_at),
        "cursor": encode_cursor(event.cursor),
    }


def dossier(page: dossier_ops.DossierPage) -> dict[str, Any]:
    return {
        "events": [dossier_event(e) for e in page.events],
        "total": page.total,
        "limit": page.limit,
        "next_page_token": page.next_page_token,
        "summary": plain(page.summary),
    }


def heartbeat(result: event_ops.HeartbeatResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "project_id": result.project_id,
        "items": [plain(item) for item in result.items],
    }


# --- coverage and recurrence ---


def _coverage_row(row: dos.ProviderCoverage) -> dict[str, Any]:
    fields = plain(row)
    # Only the summary has it, as on gRPC and in the old model.
    fields.pop("source_envelope_total", None)
    return fields


def coverage(result: dossier_ops.Coverage) -> dict[str, Any]:
    return {
        "project_id": result.project_id,
        "limit": result.limit,
        "summary": plain(result.summary),
        "providers": [_coverage_row(row) for row in result.providers],
    }


def _repair_summary(summary: rec.RepairSummary | None) -> dict[str, Any] | None:
    return None if summary is None else plain(summary)


def recurrence_group(group: rec.RecurrenceGroup) -> dict[str, Any]:
    """ChannelEventRecurrenceItem."""
    facts = group.facts
    run = group.latest_run
    return {
        "recurrence_key": facts.recurrence_key,
        "provider": _optional(facts.provider),
        "alertname": _optional(facts.alertname),
        "severity": _optional(facts.severity),
        "namespace": _optional(facts.namespace),
        "target_resource": _optional(facts.target_resource),
        "fingerprint": _optional(facts.fingerprint),
        "latest_event_id": str(facts.latest_event_id),
        "latest_provider_event_id": facts.latest_provider_event_id,
        "latest_content_preview": _optional(facts.latest_content_preview),
        "latest_run_id": str(run.run_id) if run else None,
        "latest_run_state": run.state.value if run else None,
        "latest_agent_id": run.agent_id if run else None,
        "latest_incident_id": run.incident_id if run else None,
        "incident_ids": list(group.incident_ids),
        "repair_summary": _repair_summary(group.repair_summary),
        "work_item": plain(group.work_item) if group.work_item else None,
        "occurrence_total": facts.occurrence_total,
        "duplicate_total": facts.duplicate_total,
        "linked_run_total": facts.linked_run_total,
        "source_ref_total": facts.source_ref_total,
        "missing_source_refs_total": facts.missing_source_refs_total,
        "sentry_ref_total": facts.sentry_ref_total,
        "signoz_ref_total": facts.signoz_ref_total,
        "alert_ref_total": facts.alert_ref_total,
        "run_state_counts": dict(group.run_state_counts),
        "first_received_at": time(facts.first_received_at),
        "latest_received_at": time(facts.latest_received_at),
    }


def recurrence(result: dossier_ops.Recurrence) -> dict[str, Any]:
    return {
        "project_id": result.project_id,
        "limit": result.limit,
        "summary": plain(result.summary),
        "items": [recurrence_group(group) for group in result.groups],
    }


# --- work items: the same fields as the gRPC responses ---


def _plan(evaluation: wi.Evaluation, promised: wi.Guarantees) -> dict[str, Any]:
    return {
        "work_item": plain(evaluation.work_item),
        "mode": evaluation.mode.value,
        "next_step": evaluation.next_step,
        "steps": plain(evaluation.steps),
        "checks": plain(evaluation.checks),
        "guarantees": plain(promised),
    }


def preview(result: work_item_ops.Preview) -> dict[str, Any]:
    return _plan(result.evaluation, result.guarantees)


def dry_run(result: work_item_ops.DryRun) -> dict[str, Any]:
    record = result.record
    return {
        **_plan(result.evaluation, result.guarantees),
        "dry_run_id": str(record.dry_run_id),
        "outcome": record.outcome.value,
        "failed_checks": list(record.failed_checks),
        "created_at": time(record.created_at),
    }


def handoff(result: work_item_ops.Handoff) -> dict[str, Any]:
    return {
        "handoff": plain(result.handoff),
        "created": result.created,
        "work_item": plain(result.work_item),
        "guarantees": plain(result.guarantees),
    }
