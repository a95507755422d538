"""What the event lists read: one plain row per event, with only the fields
its list answers with (SPEC sections 2 and 3).

NamedTuples, not models: a list of 100 events built no pydantic model per
row (validation already happened at write time, and the columns are typed),
and storage fills each row straight from the database record, in column
order. The watch still reads whole StoredEvents (server/domain/models.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID


class RefRow(NamedTuple):
    """A stored source ref, as read back."""

    system: str
    kind: str
    id: str
    url: str = ""


class ListedEvent(NamedTuple):
    """ListRecentEvents' event: the EventSummary fields, and nothing else."""

    id: UUID
    project_id: str
    channel_type: str
    provider_event_id: str
    channel_chat_id: str
    content_preview: str
    is_duplicate: bool
    received_at: datetime
    cursor: int

    def served_text(self) -> int:
        """Characters of its served text (see operations/paging.py)."""
        return len(self.content_preview) + len(self.provider_event_id) + len(self.channel_chat_id)


class DossierEvent(NamedTuple):
    """GetEventDossier's event: every field of SPEC section 2 it returns."""

    id: UUID
    project_id: str
    channel_type: str
    provider: str
    stage: str
    provider_event_id: str
    channel_chat_id: str
    content_preview: str
    content_redacted: str
    has_redacted_content: bool
    redaction_version: str
    source_url: str
    content_sha256: str
    content_length: int
    source_refs: list[RefRow]
    log_correlation: dict[str, str]
    alertname: str
    severity: str
    namespace: str
    target_resource: str
    fingerprint: str
    is_duplicate: bool
    provider_ts: datetime | None
    received_at: datetime
    cursor: int

    @property
    def source_ref_count(self) -> int:
        return len(self.source_refs)

    def served_text(self) -> int:
        """Characters of its largest served fields: a cheap stand-in for its
        encoded size (at most 4 bytes a character)."""
        return (
            len(self.content_redacted)
            + len(self.alertname) + len(self.source_url) + len(self.fingerprint)
            + len(self.namespace) + len(self.target_resource) + len(self.severity)
            + sum(len(value) for value in self.log_correlation.values())
            + sum(len(r.id) + len(r.url) + len(r.kind) + len(r.system) for r in self.source_refs)
        )
