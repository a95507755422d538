"""Pages of large events end early, so a default gRPC client can receive them."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from server.domain.event_rows import DossierEvent, ListedEvent, RefRow
from server.operations.paging import PAGE_TEXT_BUDGET, within_budget

RECEIVED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def stored(cursor: int, content: str) -> DossierEvent:
    return DossierEvent(
        id=UUID(int=cursor), project_id="alpha", channel_type="alert", provider="alertmanager",
        stage="firing", provider_event_id=f"alertmanager:e{cursor}", channel_chat_id="",
        content_preview=content[:200], content_redacted=content, has_redacted_content=False,
        redaction_version="v1", source_url="", content_sha256="0" * 64,
        content_length=len(content), source_refs=[RefRow("sentry", "issue", "1", "")],
        log_correlation={"trace_id": "t"}, alertname="DiskAlmostFull", severity="warning",
        namespace="prod", target_resource="db-0", fingerprint="fp", is_duplicate=False,
        provider_ts=None, received_at=RECEIVED, cursor=cursor,
    )


def test_small_events_fill_the_page_up_to_its_limit() -> None:
    events = [stored(i, "x" * 100) for i in range(50)]
    assert within_budget(events) == events


def test_large_events_end_the_page_once_the_budget_is_spent() -> None:
    events = [stored(i, "x" * 100_000) for i in range(50)]
    kept = within_budget(events)
    assert 1 <= len(kept) < 50
    assert sum(e.served_text() for e in kept) <= PAGE_TEXT_BUDGET
    assert kept == events[: len(kept)]


def test_a_page_always_holds_one_event_however_large() -> None:
    events = [stored(1, "x" * (PAGE_TEXT_BUDGET * 2)), stored(2, "y")]
    assert within_budget(events) == events[:1]


def test_a_dossier_event_counts_its_content_fields_and_refs() -> None:
    event = stored(1, "x" * 10)
    text = 10 + len("DiskAlmostFull") + len("fp") + len("prod") + len("db-0") + len("warning")
    assert event.served_text() == text + len("t") + len("sentry") + len("issue") + len("1")


def test_a_listed_event_counts_only_what_a_summary_serves() -> None:
    event = ListedEvent(UUID(int=1), "alpha", "alert", "am:e1", "chat", "preview", False, RECEIVED, 1)
    assert event.served_text() == len("preview") + len("am:e1") + len("chat")
