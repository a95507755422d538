"""Page tokens and cursors at the edge: malformed ones are INVALID_ARGUMENT."""

from __future__ import annotations

from server.domain.cursors import MalformedToken, decode_cursor, decode_page_token
from server.errors import FieldViolation, InvalidArgument


def page_start(page_token: str, filters: dict[str, str]) -> int | None:
    """The cursor below which the page starts; None for the first page."""
    if not page_token:
        return None
    try:
        return decode_page_token(page_token, filters)
    except MalformedToken as error:
        raise InvalidArgument([FieldViolation("page_token", str(error))]) from error


def parse_cursor(cursor: str, field_name: str) -> int:
    try:
        return decode_cursor(cursor)
    except MalformedToken as error:
        raise InvalidArgument([FieldViolation(field_name, str(error))]) from error
