"""Stored events built in memory, for the unit tests of rules that read them
(the watch's delivery rule, the page budget): every required field filled."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from server.domain.models import StoredEvent

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def stored_event(cursor: int, **fields: Any) -> StoredEvent:
    """An ordinary firing alert at `cursor`; `fields` override any field."""
    values: dict[str, Any] = {
        "id": UUID(int=cursor),
        "project_id": "alpha",
        "channel_type": "alert",
        "provider": "alertmanager",
        "provider_event_id": f"alertmanager:e{cursor}",
        "stage": "firing",
        "channel_chat_id": "",
        "alertname": "DiskAlmostFull",
        "severity": "warning",
        "namespace": "prod",
        "target_resource": "db-0",
        "fingerprint": f"fp-{cursor}",
        "recurrence_key": f"alertmanager:fp-{cursor}",
        "content_redacted": "Disk almost full",
        "content_preview": "Disk almost full",
        "has_redacted_content": False,
        "redaction_version": "v1",
        "content_sha256": "0" * 64,
        "content_length": 16,
        "source_url": "",
        "source_refs": [],
        "log_correlation": {},
        "source_envelope": {},
        "provider_ts": None,
        "cursor": cursor,
        "is_duplicate": False,
        "received_at": RECEIVED,
    }
    values.update(fields)
    return StoredEvent(**values)
