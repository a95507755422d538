"""Conversions between protobuf messages and domain models: the service edge."""

from __future__ import annotations

from datetime import UTC, datetime

from awooop.channel_events.v1 import common_pb2, events_pb2
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from server.domain.cursors import encode_cursor
from server.domain.models import (
    DEFAULT_CHANNEL_TYPE,
    DEFAULT_STAGE,
    AlertEventInput,
    RepairStatus,
    RunState,
    SourceRef,
    StoredEvent,
)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value.astimezone(UTC))
    return message


def from_timestamp(message: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return message.ToDatetime(tzinfo=UTC) if present else None


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, object]:
    return json_format.MessageToDict(message)


def dict_to_struct(value: dict[str, object]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def source_ref(ref: SourceRef) -> common_pb2.SourceRef:
    return common_pb2.SourceRef(system=ref.system, kind=ref.kind, id=ref.id, url=ref.url)


def alert_event_input(request: events_pb2.RecordAlertEventRequest) -> AlertEventInput:
    return AlertEventInput(
        project_id=request.project_id,
        provider=request.provider,
        event_id=request.event_id,
        stage=request.stage if request.HasField("stage") else DEFAULT_STAGE,
        title=request.title,
        severity=request.severity,
        namespace=request.namespace,
        target_resource=request.target_resource,
        fingerprint=request.fingerprint,
        labels=dict(request.labels),
        annotations=dict(request.annotations),
        payload=struct_to_dict(request.payload),
        source_url=request.source_url,
        provider_ts=from_timestamp(request.provider_ts, request.HasField("provider_ts")),
        channel_type=(
            request.channel_type if request.HasField("channel_type") else DEFAULT_CHANNEL_TYPE
        ),
        channel_chat_id=request.channel_chat_id,
        source_refs=[
            SourceRef(system=r.system, kind=r.kind, id=r.id, url=r.url)
            for r in request.source_refs
        ],
    )


def channel_event(event: StoredEvent) -> common_pb2.ChannelEvent:
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


def event_summary(event: StoredEvent) -> events_pb2.EventSummary:
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


# Enum names in the proto are RUN_STATE_<NAME>; the domain uses <name>.
def run_state(value: RunState) -> common_pb2.RunState.ValueType:
    return common_pb2.RunState.Value(f"RUN_STATE_{value.name}")


def run_state_from_proto(value: common_pb2.RunState.ValueType) -> RunState | None:
    if value == common_pb2.RUN_STATE_UNSPECIFIED:
        return None
    return RunState[common_pb2.RunState.Name(value).removeprefix("RUN_STATE_")]


def repair_status(value: RepairStatus) -> common_pb2.RepairStatus.ValueType:
    return common_pb2.RepairStatus.Value(f"REPAIR_STATUS_{value.name}")


def repair_status_from_proto(value: common_pb2.RepairStatus.ValueType) -> RepairStatus | None:
    if value == common_pb2.REPAIR_STATUS_UNSPECIFIED:
        return None
    return RepairStatus[common_pb2.RepairStatus.Name(value).removeprefix("REPAIR_STATUS_")]
