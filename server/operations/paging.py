"""Pages of events, newest first, for every event list (ListRecentEvents,
GetEventDossier): page tokens bound to their filter (a malformed or forged
one is INVALID_ARGUMENT), and pages that end early when their text is large.
Each list reads its own rows (server/domain/event_rows.py): only the fields
it answers with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from server.domain.cursors import (
    MalformedToken,
    decode_page_token,
    encode_page_token,
)
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.models import EventFilter


def token_filters(event_filter: EventFilter) -> dict[str, str]:
    """What a page token is bound to: every field of the filter, as text."""
    return {k: str(v) for k, v in event_filter.model_dump(mode="json").items()}


def page_start(page_token: str, event_filter: EventFilter) -> int | None:
    """The cursor below which the page starts; None for the first page."""
    if not page_token:
        return None
    try:
        return decode_page_token(page_token, token_filters(event_filter))
    except MalformedToken as error:
        raise InvalidArgument([FieldViolation("page_token", str(error))]) from error


@dataclass(frozen=True, kw_only=True)
class PageQuery:
    """What every event list is asked besides its filters."""

    # 0 means the list's default.
    limit: int = 0
    # Empty: the first page; else a next_page_token of the same filters.
    page_token: str = ""


class PagedRow(Protocol):
    """What a page needs of its rows: their position, and their size."""

    @property
    def cursor(self) -> int: ...

    def served_text(self) -> int:
        """Characters of the row's largest served fields: a cheap stand-in for
        its encoded size (at most 4 bytes a character)."""
        ...


RowT = TypeVar("RowT", bound=PagedRow)


@dataclass(frozen=True)
class Page(Generic[RowT]):
    events: list[RowT]
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


def within_budget(events: list[RowT], budget: int = PAGE_TEXT_BUDGET) -> list[RowT]:
    """The longest prefix of `events` whose text fits `budget`; never empty
    when `events` is not."""
    total = 0
    for index, event in enumerate(events):
        total += event.served_text()
        if total > budget and index > 0:
            return events[:index]
    return events


# Reads the newest `limit` rows of a filter below a cursor (a Store method).
ReadRows = Callable[[EventFilter, int, int | None], Awaitable[list[RowT]]]


async def read_page(
    read: ReadRows[RowT], event_filter: EventFilter, limit: int, page_token: str
) -> Page[RowT]:
    """One page of matching rows, newest first, continuing below `page_token`.

    The token is bound to the filter it was made for; one more row than the
    page holds is read to know whether another page follows. A page of large
    events ends early (PAGE_TEXT_BUDGET), with a token to the rest.
    """
    found = await read(event_filter, limit + 1, page_start(page_token, event_filter))
    events = within_budget(found[:limit])
    if len(found) == len(events):
        return Page(events, limit, "")
    return Page(events, limit, encode_page_token(events[-1].cursor, token_filters(event_filter)))
