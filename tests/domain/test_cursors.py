"""Cursors and page tokens: what a forged one is answered with."""

from __future__ import annotations

import base64
import json

import pytest

from server.domain.cursors import (
    MAX_CURSOR,
    MalformedToken,
    decode_cursor,
    decode_page_token,
    encode_cursor,
    encode_page_token,
)

FILTERS = {"project_id": "alpha"}


def forged_token(before: object) -> str:
    token = encode_page_token(1, FILTERS)
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    data["b"] = before
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_up_to_the_largest_bigint() -> None:
    assert decode_cursor(encode_cursor(MAX_CURSOR)) == MAX_CURSOR
    assert decode_cursor(encode_cursor(0)) == 0


@pytest.mark.parametrize("cursor", ["8000000000000000", "ffffffffffffffff", "FFFF", "", "0" * 17])
def test_a_cursor_beyond_a_bigint_or_misspelt_is_malformed(cursor: str) -> None:
    with pytest.raises(MalformedToken):
        decode_cursor(cursor)


def test_a_page_token_round_trips_for_its_own_filters_only() -> None:
    token = encode_page_token(42, FILTERS)
    assert decode_page_token(token, FILTERS) == 42
    with pytest.raises(MalformedToken):
        decode_page_token(token, {"project_id": "beta"})


@pytest.mark.parametrize("before", [MAX_CURSOR + 1, -1, True, 1.5, "7", None])
def test_a_forged_page_token_is_malformed(before: object) -> None:
    with pytest.raises(MalformedToken):
        decode_page_token(forged_token(before), FILTERS)
