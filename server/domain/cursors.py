"""Cursors and page tokens: opaque strings for callers, integers inside.

A cursor is the event's position in commit order (see storage/events.py for
how the store guarantees that order). It travels as 16 hex digits, so that
cursors also sort as strings. A page token carries the cursor to continue
below and a hash of the filters it was made for: reusing it with other
filters is an error (AIP-158), never a silently wrong page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

_CURSOR = re.compile(r"[0-9a-f]{16}")


# Cursors are PostgreSQL bigints: a larger number, which 16 hex digits or a
# forged page token can spell, is malformed, not a query error.
MAX_CURSOR = 2**63 - 1


class MalformedToken(ValueError):
    pass


def encode_cursor(position: int) -> str:
    return f"{position:016x}"


def decode_cursor(cursor: str) -> int:
    if not _CURSOR.fullmatch(cursor) or int(cursor, 16) > MAX_CURSOR:
        raise MalformedToken("malformed cursor")
    return int(cursor, 16)


def _filters_hash(filters: dict[str, str]) -> str:
    canonical = json.dumps(filters, sort_keys=True).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_page_token(before: int, filters: dict[str, str]) -> str:
    raw = json.dumps({"b": before, "f": _filters_hash(filters)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, filters: dict[str, str]) -> int:
    """The cursor below which the next page starts."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        before, filters_hash = data["b"], data["f"]
    except (ValueError, KeyError, TypeError) as error:
        raise MalformedToken("malformed page token") from error
    if not isinstance(before, int) or isinstance(before, bool) or not 0 <= before <= MAX_CURSOR:
        raise MalformedToken("malformed page token")
    if filters_hash != _filters_hash(filters):
        raise MalformedToken("page token was made for other filters")
    return before
