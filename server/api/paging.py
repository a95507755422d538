"""Page tokens and cursors at the edge: malformed ones are INVALID_ARGUMENT."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.cursors import (
    MalformedToken,
    decode_page_token,
    encode_page_token,
)
from server.domain.models import EventFilter, StoredEvent
from server.domain.errors import FieldViolation, InvalidArgument
from server.storage.store import Store


def page_start(page_token: str, filters: dict[str, str]) -> int | None:
    """The cursor below which the page starts; None for the first page."""
    if not page_token:
        return None
    try:
        return decode_page_token(page_token, filters)
    except MalformedToken as error:
        raise InvalidArgument([FieldViolation("page_token", str(error))]) from error


@dataclass(frozen=True)
class Page:
    events: list[StoredEvent]
    # Empty on the last page.
    next_page_token: str


async def read_page(store: Store, event_filter: EventFilter, limit: int, page_token: str) -> Page:
    """One page of matching events, newest first, continuing below `page_token`.

    The token is bound to the filter it was made for; one more event than the
    page holds is read to know whether another page follows.
    """
    filters = {k: str(v) for k, v in event_filter.model_dump(mode="json").items()}
    found = await store.list_events(event_filter, limit + 1, page_start(page_token, filters))
    events = found[:limit]
    more = len(found) > limit
    return Page(events, encode_page_token(events[-1].cursor, filters) if more else "")
