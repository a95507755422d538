"""Domain models: what the rules work on, free of protobuf and SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_STAGE = "firing"
HEARTBEAT_STAGE = "heartbeat"
DEFAULT_CHANNEL_TYPE = "alert"

# The ref systems the read models count one by one: an event counts for a
# system when at least one of its refs is of that system. Storage keeps a
# has_<system>_ref column for each; the coverage and recurrence models have a
# <system>_ref_total field for each (tests/domain/test_ref_systems.py).
REF_SYSTEMS: tuple[str, ...] = ("sentry", "signoz", "alert")


class SourceRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    system: str
    kind: str
    id: str
    url: str = ""


class AlertEventInput(BaseModel):
    """One event as a caller describes it, before anything is derived."""

    project_id: str
    provider: str
    event_id: str
    stage: str = DEFAULT_STAGE
    title: str = ""
    severity: str = ""
    namespace: str = ""
    target_resource: str = ""
    fingerprint: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    source_url: str = ""
    provider_ts: datetime | None = None
    channel_type: str = DEFAULT_CHANNEL_TYPE
    channel_chat_id: str = ""
    source_refs: list[SourceRef] = Field(default_factory=list)


class NewEvent(BaseModel):
    """An event with every derived field, redacted, ready to store.

    Holds no raw content: only its redacted form, hash and length.
    """

    id: UUID
    project_id: str
    channel_type: str
    provider: str
    provider_event_id: str
    stage: str
    channel_chat_id: str
    alertname: str
    severity: str
    namespace: str
    target_resource: str
    fingerprint: str
    recurrence_key: str
    content_redacted: str
    content_preview: str
    has_redacted_content: bool
    redaction_version: str
    content_sha256: str
    content_length: int
    source_url: str
    source_refs: list[SourceRef]
    log_correlation: dict[str, str]
    # None only for rows imported from a legacy mirror.
    source_envelope: dict[str, Any] | None
    provider_ts: datetime | None
    # The webhook body the event came in, whose shared fields are the
    # envelope's payload (stored once per body); None for RecordAlertEvent.
    source_body_id: UUID | None = None

    @property
    def source_ref_count(self) -> int:
        return len(self.source_refs)


class SourceBody(BaseModel):
    """What one webhook body says besides its events, redacted, stored once
    and shared by every event of the body (SPEC 2b's `payload`)."""

    id: UUID
    project_id: str
    provider: str
    fields: dict[str, Any]


class StoredEvent(NewEvent):
    """An event as read back: what the store added at commit."""

    cursor: int
    is_duplicate: bool
    received_at: datetime


@dataclass(frozen=True)
class Recorded:
    """What a writer learns about an event it stored."""

    id: UUID
    provider_event_id: str
    cursor: int
    is_duplicate: bool


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RepairStatus(StrEnum):
    NONE = "none"
    ATTEMPTED = "attempted"
    VERIFIED = "verified"
    FAILED = "failed"


class RunInput(BaseModel):
    """An upsert of an agent run; None fields keep what the run has."""

    run_id: UUID
    project_id: str
    event_ids: list[UUID] = Field(default_factory=list)
    state: RunState | None = None
    agent_id: str | None = None
    incident_id: str | None = None
    repair_status: RepairStatus | None = None
    repair_summary: str | None = None


class Run(BaseModel):
    run_id: UUID
    project_id: str
    state: RunState
    agent_id: str | None
    incident_id: str | None
    repair_status: RepairStatus
    repair_summary: str | None
    created: bool
    linked_event_total: int


class EventFilter(BaseModel):
    """Filters shared by the event lists and the watch. Empty means any."""

    project_id: str = ""
    channel_type: str = ""
    provider_prefix: str = ""
    provider: str = ""
    provider_event_id: str = ""
    run_id: UUID | None = None
    exclude_stage: str = ""

    def matches(self, event: StoredEvent) -> bool:
        return (
            (not self.project_id or event.project_id == self.project_id)
            and (not self.channel_type or event.channel_type == self.channel_type)
            and event.provider_event_id.startswith(self.provider_prefix)
            and (not self.provider or event.provider == self.provider)
            and (not self.provider_event_id or event.provider_event_id == self.provider_event_id)
            and (not self.exclude_stage or event.stage != self.exclude_stage)
        )
