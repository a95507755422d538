"""Pages of large events end early, so a default gRPC client can receive them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from server.operations.paging import PAGE_TEXT_BUDGET, served_text, within_budget
from server.domain.models import StoredEvent


def stored(cursor: int, content: str) -> StoredEvent:
    return StoredEvent(
        id=uuid.uuid4(), cursor=cursor, project_id="alpha", channel_type="alert",
        provider="alertmanager", provider_event_id=f"alertmanager:{cursor}", stage="firing",
        channel_chat_id="", alertname="A", severity="", namespace="", target_resource="",
        fingerprint="", recurrence_key="alertmanager:A//", content_redacted=content,
        content_preview=content[:200], has_redacted_content=False, redaction_version="v1",
        content_sha256="0" * 64, content_length=len(content), source_url="", source_refs=[],
        log_correlation={}, source_envelope={}, provider_ts=None, is_duplicate=False,
        received_at=datetime.now(UTC),
    )


def test_small_events_fill_the_page_up_to_its_limit() -> None:
    events = [stored(i, "x" * 100) for i in range(50)]
    assert within_budget(events) == events


def test_large_events_end_the_page_once_the_budget_is_spent() -> None:
    events = [stored(i, "x" * 100_000) for i in range(50)]
    kept = within_budget(events)
    assert 1 <= len(kept) < 50
    assert sum(served_text(e) for e in kept) <= PAGE_TEXT_BUDGET
    assert kept == events[: len(kept)]


def test_a_page_always_holds_one_event_however_large() -> None:
    events = [stored(1, "x" * (PAGE_TEXT_BUDGET * 2)), stored(2, "y")]
    assert within_budget(events) == events[:1]
