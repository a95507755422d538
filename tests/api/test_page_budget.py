"""Pages of large events end early, so a default gRPC client can receive them."""

from __future__ import annotations

from server.domain.models import StoredEvent
from server.operations.paging import PAGE_TEXT_BUDGET, served_text, within_budget
from tests.stored import stored_event


def stored(cursor: int, content: str) -> StoredEvent:
    return stored_event(cursor, content_redacted=content, content_preview=content[:200])


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
