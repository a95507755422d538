"""Pages of events, newest first, for every event list (ListRecentEvents,
GetEventDossier): page tokens bound to their filter (a malformed or forged
one is INVALID_ARGUMENT), and pages that end early when their text is large."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.cursors import (
    MalformedToken,
    decode_page_token,
    encode_page_token,
)
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.models import EventFilter, StoredEvent
from server.storage.store import Store


def page_start(page_token: str, filters: dict[str, str]) -> int | None:
    """The cursor below which the page starts; None for the first page."""
    if not page_token:
        return None
    try:
        return decode_page_token(page_token, filters)
    except MalformedToken as error:
        raise InvalidArgument([FieldViolation("page_token", str(error))]) from error


@dataclass(frozen=True, kw_only=True)
class PageQuery:
    """What every event list is asked besides its filters."""

    # 0 means the list's default.
    limit: int = 0
    # Empty: the first page; else a next_page_token of the same filters.
    page_token: str = ""


@dataclass(frozen=True)
class Page:
    events: list[StoredEvent]
    # The page size asked for (or its default); a page may hold fewer.
    limit: int
    # Empty on the last page.
    next_page_token: str

    @property
    def total(self) -> int:
        """The number of events returned."""
        return len(self.events)


# Text a page may carry before it ends early (with a next_page_token, as if
# `limit` had been reached). gRPC clients refuse responses over 4 MiB by
# default, and 50 large events would be far more; a page always holds at
# least one event, and one event's served text is bounded (derivation caps
# the content), so every page stays well under that limit.
PAGE_TEXT_BUDGET = 512 * 1024


def served_text(event: StoredEvent) -> int:
    """Characters of the event's largest served fields: a cheap stand-in for
    its encoded size (at most 4 bytes a character)."""
    return (
        len(event.content_redacted)
        + len(event.alertname) + len(event.source_url) + len(event.fingerprint)
        + len(event.namespace) + len(event.target_resource) + len(event.severity)
        + sum(len(value) for value in event.log_correlation.values())
        + sum(len(r.id) + len(r.url) + len(r.kind) + len(r.system) for r in event.source_refs)
    )


def within_budget(events: list[StoredEvent], budget: int = PAGE_TEXT_BUDGET) -> list[StoredEvent]:
    """The longest prefix of `events` whose text fits `budget`; never empty
    when `events` is not."""
    total = 0
    for index, event in enumerate(events):
        total += served_text(event)
        if total > budget and index > 0:
            return events[:index]
    return events


async def read_page(store: Store, event_filter: EventFilter, limit: int, page_token: str) -> Page:
    """One page of matching events, newest first, continuing below `page_token`.

    The token is bound to the filter it was made for; one more event than the
    page holds is read to know whether another page follows. A page of large
    events ends early (PAGE_TEXT_BUDGET), with a token to the rest.
    """
    filters = {k: str(v) for k, v in event_filter.model_dump(mode="json").items()}
    found = await store.list_events(event_filter, limit + 1, page_start(page_token, filters))
    events = within_budget(found[:limit])
    more = len(found) > len(events)
    return Page(events, limit, encode_page_token(events[-1].cursor, filters) if more else "")
