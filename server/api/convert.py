"""Conversions between protobuf messages and the operations' inputs and
results: the gRPC edge.

Requests become the plain inputs of server/operations/ (a proto3 optional
field that is absent is left out or None, so the operation's or the domain's
default applies: no default is written here); results become responses.
No rule of the contract is checked here, the operations check them all; only
what protobuf itself allows and Python cannot hold (a Timestamp beyond its
documented range, an enum number the proto does not name) is passed on for
the operation to report with the request's other problems.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2, work_items_pb2
from google.protobuf import message as protobuf_message
from google.protobuf import struct_pb2, timestamp_pb2

from server.domain import dossier as dos
from server.domain import recurrence as rec
from server.domain import work_items as wi
from server.domain.cursors import encode_cursor
from server.domain.event_rows import DossierEvent, ListedEvent, RefRow
from server.domain.errors import FieldViolation
from server.domain.heartbeat import HeartbeatRequest
from server.domain.models import (
    AlertEventInput,
    Recorded,
    RepairStatus,
    Run,
    RunState,
    SourceRef,
    StoredEvent,
)
from server.operations import dossier as dossier_ops
from server.operations import events as event_ops
from server.operations import work_items as work_item_ops
from server.operations.paging import Page

# The two messages that describe a recorded event (RecordAlertEventResponse,
# and IngestProviderPayloadResponse's RecordedEvent) have the same fields.
RecordedMessage = TypeVar(
    "RecordedMessage", events_pb2.RecordAlertEventResponse, events_pb2.RecordedEvent
)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """The instant as a Timestamp, as Timestamp.FromDatetime(value in UTC)
    makes it, without its time tuple: a dossier page converts 100 of these."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone(UTC)
    # timedelta keeps 0 <= seconds < 86400 and 0 <= microseconds < 10**6, as
    # a Timestamp keeps its nanos non-negative.
    delta = value - _UNIX_EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000
    )


# google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z.
_TIMESTAMP_SECONDS = range(-62_135_596_800, 253_402_300_800)
_NANOS = range(1_000_000_000)


def from_timestamp(message: timestamp_pb2.Timestamp, name: str) -> datetime | FieldViolation:
    """The instant, to the microsecond; a Timestamp outside its documented
    range (which the wire format can still carry) is a violation of `name`."""
    if message.seconds not in _TIMESTAMP_SECONDS or message.nanos not in _NANOS:
        return FieldViolation(
            name, "must be a Timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
        )
    return message.ToDatetime(tzinfo=UTC)


def _present(message: protobuf_message.Message, *names: str) -> dict[str, Any]:
    """The named proto3 optional fields that are set: absent ones are left
    out, so that the input's own default applies."""
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def _enum_choice(enum_type: Any, prefix: str, domain: type[Enum], value: int) -> str | None:
    """The domain value a proto enum number names (RUN_STATE_WAITING_APPROVAL
    is "waiting_approval"); None for UNSPECIFIED (not given). A number the
    proto does not name stays its digits, which no domain value is, for the
    operation to refuse with the rest of the request's problems."""
    try:
        name = enum_type.Name(value).removeprefix(f"{prefix}_")
    except ValueError:
        return str(value)
    return None if name == "UNSPECIFIED" else str(domain[name].value)


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    """The Struct as JSON values. Never raises: a NaN or infinite number stays
    a float, for the domain's check to name (json_format raises on those)."""
    return {key: _value(value) for key, value in message.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    if kind in ("number_value", "string_value", "bool_value"):
        return getattr(value, kind)
    return None  # null_value, or no kind set


def source_ref(ref: SourceRef | RefRow) -> common_pb2.SourceRef:
    return common_pb2.SourceRef(system=ref.system, kind=ref.kind, id=ref.id, url=ref.url)


def alert_event_input(
    request: events_pb2.RecordAlertEventRequest,
) -> tuple[AlertEventInput, list[FieldViolation]]:
    """The event as its caller described it, and the fields that could not be
    decoded (for the operation to report with the event's own problems)."""
    given = _present(request, "stage", "channel_type")
    undecodable: list[FieldViolation] = []
    if request.HasField("provider_ts"):
        provider_ts = from_timestamp(request.provider_ts, "provider_ts")
        if isinstance(provider_ts, FieldViolation):
            undecodable.append(provider_ts)
        else:
            given["provider_ts"] = provider_ts
    event = AlertEventInput(
        project_id=request.project_id,
        provider=request.provider,
        event_id=request.event_id,
        title=request.title,
        severity=request.severity,
        namespace=request.namespace,
        target_resource=request.target_resource,
        fingerprint=request.fingerprint,
        labels=dict(request.labels),
        annotations=dict(request.annotations),
        payload=struct_to_dict(request.payload),
        source_url=request.source_url,
        channel_chat_id=request.channel_chat_id,
        source_refs=[
            SourceRef(system=r.system, kind=r.kind, id=r.id, url=r.url)
            for r in request.source_refs
        ],
        **given,
    )
    return event, undecodable


def recorded_event(recorded: Recorded, message_type: type[RecordedMessage]) -> RecordedMessage:
    """The one wording of a recorded event, in either message that carries it."""
    return message_type(
        event_id=str(recorded.id),
        provider_event_id=recorded.provider_event_id,
        is_duplicate=recorded.is_duplicate,
        cursor=encode_cursor(recorded.cursor),
    )


def provider_payload(request: events_pb2.IngestProviderPayloadRequest) -> event_ops.ProviderPayload:
    return event_ops.ProviderPayload(
        project_id=request.project_id,
        provider=request.provider,
        body=request.body,
        headers=dict(request.headers),
    )


def ingest_response(recorded: list[Recorded]) -> events_pb2.IngestProviderPayloadResponse:
    return events_pb2.IngestProviderPayloadResponse(
        events=[recorded_event(r, events_pb2.RecordedEvent) for r in recorded]
    )


def run_request(request: events_pb2.RecordRunRequest) -> event_ops.RunRequest:
    return event_ops.RunRequest(
        run_id=request.run_id,
        project_id=request.project_id,
        event_ids=list(request.event_ids),
        state=_enum_choice(common_pb2.RunState, "RUN_STATE", RunState, request.state),
        repair_status=_enum_choice(
            common_pb2.RepairStatus, "REPAIR_STATUS", RepairStatus, request.repair_status
        ),
        **_present(request, "agent_id", "incident_id", "repair_summary"),
    )


def run_response(run: Run) -> events_pb2.RecordRunResponse:
    return events_pb2.RecordRunResponse(
        run_id=str(run.run_id),
        project_id=run.project_id,
        state=run_state(run.state),
        repair_status=repair_status(run.repair_status),
        created=run.created,
        linked_event_total=run.linked_event_total,
    )


def heartbeat_request(request: events_pb2.RecordProviderHeartbeatRequest) -> HeartbeatRequest:
    given = _present(request, "project_id", "reason")
    # A repeated field cannot be absent: empty is how a request leaves it out.
    if request.providers:
        given["providers"] = list(request.providers)
    return HeartbeatRequest(run_ref=request.run_ref, **given)


def heartbeat_response(
    result: event_ops.HeartbeatResult,
) -> events_pb2.RecordProviderHeartbeatResponse:
    return events_pb2.RecordProviderHeartbeatResponse(
        status=result.status,
        project_id=result.project_id,
        items=[
            events_pb2.HeartbeatItem(
                provider=item.provider,
                event_id=item.event_id,
                conversation_event_id=str(item.conversation_event_id),
                run_id=str(item.run_id),
            )
            for item in result.items
        ],
    )


def recent_events_query(request: events_pb2.ListRecentEventsRequest) -> event_ops.RecentEventsQuery:
    return event_ops.RecentEventsQuery(
        project_id=request.project_id,
        channel_type=request.channel_type,
        provider_prefix=request.provider_prefix,
        limit=request.limit,
        page_token=request.page_token,
    )


def recent_events_response(page: Page[ListedEvent]) -> events_pb2.ListRecentEventsResponse:
    return events_pb2.ListRecentEventsResponse(
        events=[event_summary(e) for e in page.events],
        total=page.total,
        limit=page.limit,
        next_page_token=page.next_page_token,
    )


def channel_event(event: StoredEvent | DossierEvent) -> common_pb2.ChannelEvent:
    """A watched event (StoredEvent) or a dossier's (DossierEvent): the same fields."""
    return common_pb2.ChannelEvent(
        event_id=str(event.id),
        project_id=event.project_id,
        channel_type=event.channel_type,
        provider=event.provider,
        stage=event.stage,
        provider_event_id=event.provider_event_id,
        content_preview=event.content_preview,
        content_redacted=event.content_redacted,
        has_redacted_content=event.has_redacted_content,
        redaction_version=event.redaction_version,
        source_url=event.source_url,
        content_sha256=event.content_sha256,
        content_length=event.content_length,
        source_refs=[source_ref(r) for r in event.source_refs],
        source_ref_count=event.source_ref_count,
        log_correlation=event.log_correlation,
        alertname=event.alertname,
        severity=event.severity,
        namespace=event.namespace,
        target_resource=event.target_resource,
        fingerprint=event.fingerprint,
        is_duplicate=event.is_duplicate,
        provider_ts=timestamp(event.provider_ts),
        received_at=timestamp(event.received_at),
        cursor=encode_cursor(event.cursor),
        channel_chat_id=event.channel_chat_id,
    )


def event_summary(event: ListedEvent) -> events_pb2.EventSummary:
    return events_pb2.EventSummary(
        event_id=str(event.id),
        project_id=event.project_id,
        channel_type=event.channel_type,
        provider_event_id=event.provider_event_id,
        channel_chat_id=event.channel_chat_id,
        content_preview=event.content_preview,
        is_duplicate=event.is_duplicate,
        received_at=timestamp(event.received_at),
        cursor=encode_cursor(event.cursor),
    )


# Proto enum values are <PREFIX>_<NAME> for the domain enum member <NAME>.
def _proto_enum(enum_type: Any, prefix: str, value: Enum) -> Any:
    # Any: each proto enum's ValueType is a NewType of int of its own.
    # Looked up once per (enum, member): a recurrence response names a run
    # state and a work item kind and status per group.
    key = (prefix, value.name)
    number = _PROTO_ENUM_NUMBERS.get(key)
    if number is None:
        number = _PROTO_ENUM_NUMBERS[key] = enum_type.Value(f"{prefix}_{value.name}")
    return number


_PROTO_ENUM_NUMBERS: dict[tuple[str, str], int] = {}


def run_state(value: RunState) -> common_pb2.RunState.ValueType:
    return _proto_enum(common_pb2.RunState, "RUN_STATE", value)


def repair_status(value: RepairStatus) -> common_pb2.RepairStatus.ValueType:
    return _proto_enum(common_pb2.RepairStatus, "REPAIR_STATUS", value)


# --- recurrence and work items (SPEC sections 3 and 4) ---


def work_item(item: wi.WorkItem) -> work_items_pb2.WorkItem:
    return work_items_pb2.WorkItem(
        work_item_id=item.work_item_id,
        kind=_proto_enum(work_items_pb2.WorkItemKind, "WORK_ITEM_KIND", item.kind),
        status=_proto_enum(work_items_pb2.WorkItemStatus, "WORK_ITEM_STATUS", item.status),
        next_step=item.next_step,
        recurrence_key=item.recurrence_key,
    )


def work_item_mode(mode: wi.WorkItemMode) -> work_items_pb2.WorkItemMode.ValueType:
    return _proto_enum(work_items_pb2.WorkItemMode, "WORK_ITEM_MODE", mode)


def plan_step(step: wi.PlanStep) -> work_items_pb2.PlanStep:
    return work_items_pb2.PlanStep(
        name=step.name, actor=_proto_enum(work_items_pb2.StepActor, "STEP_ACTOR", step.actor)
    )


def preflight_check(check: wi.PreflightCheck) -> work_items_pb2.PreflightCheck:
    return work_items_pb2.PreflightCheck(name=check.name, passed=check.passed, detail=check.detail)


def dry_run_outcome(outcome: wi.DryRunOutcome) -> work_items_pb2.DryRunOutcome.ValueType:
    return _proto_enum(work_items_pb2.DryRunOutcome, "DRY_RUN_OUTCOME", outcome)


def guarantees(value: wi.Guarantees) -> work_items_pb2.Guarantees:
    return work_items_pb2.Guarantees(
        read_only=value.read_only,
        incident_mutation=value.incident_mutation,
        auto_repair_mutation=value.auto_repair_mutation,
        ticket_mutation=value.ticket_mutation,
    )


def dry_run_record(record: wi.DryRunRecord) -> work_items_pb2.DryRunRecord:
    return work_items_pb2.DryRunRecord(
        dry_run_id=str(record.dry_run_id),
        work_item_id=record.work_item_id,
        kind=_proto_enum(work_items_pb2.WorkItemKind, "WORK_ITEM_KIND", record.kind),
        mode=work_item_mode(record.mode),
        outcome=dry_run_outcome(record.outcome),
        checks=[preflight_check(c) for c in record.checks],
        failed_checks=record.failed_checks,
        operator_id=record.operator_id,
        created_at=timestamp(record.created_at),
    )


def handoff(record: wi.HandoffRecord) -> work_items_pb2.Handoff:
    return work_items_pb2.Handoff(
        handoff_id=str(record.handoff_id),
        work_item_id=record.work_item_id,
        handoff_kind=_proto_enum(work_items_pb2.HandoffKind, "HANDOFF_KIND", record.handoff_kind),
        dry_run_id=str(record.dry_run_id),
        proposal=work_items_pb2.Proposal(
            title=record.proposal.title,
            description_markdown=record.proposal.description_markdown,
            severity=record.proposal.severity,
        ),
        operator_id=record.operator_id,
        created_at=timestamp(record.created_at),
    )


def history_record(record: wi.HistoryRecord) -> work_items_pb2.WorkItemHistoryRecord:
    if isinstance(record, wi.DryRunRecord):
        return work_items_pb2.WorkItemHistoryRecord(dry_run=dry_run_record(record))
    return work_items_pb2.WorkItemHistoryRecord(handoff=handoff(record))


def _repair_summary(summary: rec.RepairSummary | None) -> dossier_pb2.RepairSummary | None:
    if summary is None:
        return None
    return dossier_pb2.RepairSummary(
        attempted=summary.attempted,
        verified=summary.verified,
        failed=summary.failed,
        latest_status=repair_status(summary.latest_status),
    )


def recurrence_group(group: rec.RecurrenceGroup) -> dossier_pb2.RecurrenceGroup:
    facts = group.facts
    message = dossier_pb2.RecurrenceGroup(
        recurrence_key=facts.recurrence_key,
        occurrence_total=facts.occurrence_total,
        duplicate_total=facts.duplicate_total,
        linked_run_total=facts.linked_run_total,
        source_ref_total=facts.source_ref_total,
        missing_source_refs_total=facts.missing_source_refs_total,
        sentry_ref_total=facts.sentry_ref_total,
        signoz_ref_total=facts.signoz_ref_total,
        alert_ref_total=facts.alert_ref_total,
        latest_event_id=str(facts.latest_event_id),
        latest_provider_event_id=facts.latest_provider_event_id,
        latest_content_preview=facts.latest_content_preview,
        provider=facts.provider,
        alertname=facts.alertname,
        severity=facts.severity,
        namespace=facts.namespace,
        target_resource=facts.target_resource,
        fingerprint=facts.fingerprint,
        first_received_at=timestamp(facts.first_received_at),
        latest_received_at=timestamp(facts.latest_received_at),
    )
    if group.work_item is not None:
        message.work_item.CopyFrom(work_item(group.work_item))
    if group.latest_run is not None:
        _set_runs(message, group)
    return message


def _set_runs(message: dossier_pb2.RecurrenceGroup, group: rec.RecurrenceGroup) -> None:
    """The fields of a group's linked runs, set only when it has one: most
    groups have none, and passing their empty values costs a third of the
    message (an absent optional stays absent either way)."""
    run = group.latest_run
    assert run is not None
    message.latest_run_id = str(run.run_id)
    message.latest_run_state = run_state(run.state)
    if run.agent_id is not None:
        message.latest_agent_id = run.agent_id
    if run.incident_id is not None:
        message.latest_incident_id = run.incident_id
    message.incident_ids.extend(group.incident_ids)
    message.run_state_counts.update(group.run_state_counts)
    summary = _repair_summary(group.repair_summary)
    if summary is not None:
        message.repair_summary.CopyFrom(summary)


def recurrence_summary(summary: rec.RecurrenceSummary) -> dossier_pb2.RecurrenceSummary:
    return dossier_pb2.RecurrenceSummary(
        source_event_total=summary.source_event_total,
        recurrence_group_total=summary.recurrence_group_total,
        recurrent_group_total=summary.recurrent_group_total,
        duplicate_event_total=summary.duplicate_event_total,
        linked_run_total=summary.linked_run_total,
        unlinked_event_total=summary.unlinked_event_total,
        auto_repair_linked_total=summary.auto_repair_linked_total,
        verified_repair_group_total=summary.verified_repair_group_total,
        failed_repair_group_total=summary.failed_repair_group_total,
        open_work_item_group_total=summary.open_work_item_group_total,
        manual_gate_group_total=summary.manual_gate_group_total,
        automation_gap_group_total=summary.automation_gap_group_total,
        latest_received_at=timestamp(summary.latest_received_at),
    )


# --- dossier and coverage (SPEC section 3) ---


def dossier_summary(summary: dos.DossierSummary) -> dossier_pb2.DossierSummary:
    return dossier_pb2.DossierSummary(
        source_count=summary.source_count,
        duplicate_total=summary.duplicate_total,
        redacted_total=summary.redacted_total,
        source_ref_total=summary.source_ref_total,
    )


def _coverage_totals(
    message: dossier_pb2.ProviderCoverage | dossier_pb2.CoverageSummary,
    totals: dos.ProviderCoverage | dos.CoverageSummary,
) -> None:
    """The totals a provider row and the summary share (the rows add up to it)."""
    message.duplicate_total = totals.duplicate_total
    message.redacted_total = totals.redacted_total
    message.source_ref_total = totals.source_ref_total
    message.missing_source_refs_total = totals.missing_source_refs_total
    message.sentry_ref_total = totals.sentry_ref_total
    message.signoz_ref_total = totals.signoz_ref_total
    message.alert_ref_total = totals.alert_ref_total


def provider_coverage(row: dos.ProviderCoverage) -> dossier_pb2.ProviderCoverage:
    # source_envelope_total only feeds the summary: the row message has no such field.
    message = dossier_pb2.ProviderCoverage(
        provider=row.provider,
        total=row.total,
        latest_received_at=timestamp(row.latest_received_at),
    )
    _coverage_totals(message, row)
    return message


def coverage_summary(summary: dos.CoverageSummary) -> dossier_pb2.CoverageSummary:
    message = dossier_pb2.CoverageSummary(
        source_count=summary.source_count,
        source_envelope_total=summary.source_envelope_total,
        missing_source_envelope_total=summary.missing_source_envelope_total,
        with_source_refs_total=summary.with_source_refs_total,
        latest_received_at=timestamp(summary.latest_received_at),
    )
    _coverage_totals(message, summary)
    return message


def dossier_query(request: dossier_pb2.GetEventDossierRequest) -> dossier_ops.DossierQuery:
    return dossier_ops.DossierQuery(
        project_id=request.project_id,
        run_id=request.run_id,
        provider_event_id=request.provider_event_id,
        limit=request.limit,
        page_token=request.page_token,
    )


def dossier_response(page: dossier_ops.DossierPage) -> dossier_pb2.GetEventDossierResponse:
    return dossier_pb2.GetEventDossierResponse(
        events=[channel_event(e) for e in page.events],
        total=page.total,
        limit=page.limit,
        next_page_token=page.next_page_token,
        summary=dossier_summary(page.summary),
    )


def read_model_query(
    request: dossier_pb2.GetDossierCoverageRequest | dossier_pb2.GetDossierRecurrenceRequest,
) -> dossier_ops.ReadModelQuery:
    return dossier_ops.ReadModelQuery(
        project_id=request.project_id, provider=request.provider, limit=request.limit
    )


def coverage_response(coverage: dossier_ops.Coverage) -> dossier_pb2.GetDossierCoverageResponse:
    return dossier_pb2.GetDossierCoverageResponse(
        providers=[provider_coverage(row) for row in coverage.providers],
        summary=coverage_summary(coverage.summary),
        limit=coverage.limit,
        project_id=coverage.project_id,
    )


def recurrence_response(
    recurrence: dossier_ops.Recurrence,
) -> dossier_pb2.GetDossierRecurrenceResponse:
    return dossier_pb2.GetDossierRecurrenceResponse(
        items=[recurrence_group(group) for group in recurrence.groups],
        summary=recurrence_summary(recurrence.summary),
        limit=recurrence.limit,
        project_id=recurrence.project_id,
    )


# --- work item requests and responses (SPEC section 4) ---


def work_item_query(
    request: work_items_pb2.PreviewWorkItemRequest | work_items_pb2.DryRunWorkItemRequest,
) -> work_item_ops.WorkItemQuery:
    return work_item_ops.WorkItemQuery(**_work_item_fields(request))


def handoff_request(request: work_items_pb2.HandoffWorkItemRequest) -> work_item_ops.HandoffRequest:
    return work_item_ops.HandoffRequest(
        **_work_item_fields(request),
        handoff_kind=_enum_choice(
            work_items_pb2.HandoffKind, "HANDOFF_KIND", wi.HandoffKind, request.handoff_kind
        ),
    )


def _work_item_fields(
    request: (
        work_items_pb2.PreviewWorkItemRequest
        | work_items_pb2.DryRunWorkItemRequest
        | work_items_pb2.HandoffWorkItemRequest
    ),
) -> dict[str, Any]:
    """The fields Preview, DryRun and Handoff requests share."""
    return {
        "work_item_id": request.work_item_id,
        "project_id": request.project_id,
        "provider": request.provider,
        "limit": request.limit,
        "mode": _enum_choice(
            work_items_pb2.WorkItemMode, "WORK_ITEM_MODE", wi.WorkItemMode, request.mode
        ),
    }


def _plan(evaluation: wi.Evaluation, promised: wi.Guarantees) -> dict[str, Any]:
    """The fields a preview and a dry-run both answer with."""
    return {
        "work_item": work_item(evaluation.work_item),
        "mode": work_item_mode(evaluation.mode),
        "next_step": evaluation.next_step,
        "steps": [plan_step(s) for s in evaluation.steps],
        "checks": [preflight_check(c) for c in evaluation.checks],
        "guarantees": guarantees(promised),
    }


def preview_response(preview: work_item_ops.Preview) -> work_items_pb2.PreviewWorkItemResponse:
    return work_items_pb2.PreviewWorkItemResponse(**_plan(preview.evaluation, preview.guarantees))


def dry_run_response(dry_run: work_item_ops.DryRun) -> work_items_pb2.DryRunWorkItemResponse:
    record = dry_run.record
    return work_items_pb2.DryRunWorkItemResponse(
        **_plan(dry_run.evaluation, dry_run.guarantees),
        dry_run_id=str(record.dry_run_id),
        outcome=dry_run_outcome(record.outcome),
        failed_checks=record.failed_checks,
        created_at=timestamp(record.created_at),
    )


def handoff_response(result: work_item_ops.Handoff) -> work_items_pb2.HandoffWorkItemResponse:
    return work_items_pb2.HandoffWorkItemResponse(
        handoff=handoff(result.handoff),
        created=result.created,
        work_item=work_item(result.work_item),
        guarantees=guarantees(result.guarantees),
    )


def history_query(request: work_items_pb2.ListWorkItemHistoryRequest) -> work_item_ops.HistoryQuery:
    return work_item_ops.HistoryQuery(
        work_item_id=request.work_item_id, project_id=request.project_id
    )


def history_response(
    records: list[wi.HistoryRecord],
) -> work_items_pb2.ListWorkItemHistoryResponse:
    return work_items_pb2.ListWorkItemHistoryResponse(
        records=[history_record(r) for r in records]
    )
