"""Violations.json_value: every item of a JSON value that cannot be stored is
named by its path, spelled as clients read it, in the order found."""

from __future__ import annotations

import math

from server.domain.validation import MAX_JSON_DEPTH, MAX_VIOLATIONS, Violations, json_path


def _found(value: object) -> list[tuple[str, str]]:
    violations = Violations()
    violations.json_value(value, "body")
    return [(v.field, v.description) for v in violations.found]


def test_a_storable_value_has_no_violation() -> None:
    assert _found({"alerts": [{"labels": {"pod": "api-1"}, "n": 1.5, "ok": True, "x": None}]}) == []


def test_each_bad_item_is_named_by_its_path() -> None:
    found = _found({
        "alerts": [{"labels": {"pod": "a\x00b"}}, {"value": math.inf}],
        "odd key.with dots": "\ud800",
        "k\x00": 1,
    })
    assert sorted(found) == sorted([
        ("body.alerts[0].labels.pod", "must not contain NUL characters (U+0000)"),
        ("body.alerts[1].value", "must be a finite number"),
        ('body."odd key.with dots"', "must be valid Unicode (no lone surrogates)"),
        ('body."k\\ufffd" (key)', "must not contain NUL characters (U+0000)"),
    ])


def test_too_deep_is_named_at_the_first_level_too_deep() -> None:
    value: object = "leaf"
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    assert _found(value) == [("body" + "[0]" * MAX_JSON_DEPTH, f"nested deeper than {MAX_JSON_DEPTH} levels")]


def test_the_answer_stays_bounded() -> None:
    assert len(_found(["\x00"] * (MAX_VIOLATIONS * 3))) == MAX_VIOLATIONS


def test_a_path_is_spelled_from_its_steps() -> None:
    assert json_path("payload") == "payload"
    assert json_path(((("payload", "alerts"), 3), "startsAt")) == "payload.alerts[3].startsAt"
    assert json_path(("payload", "a b")) == 'payload."a b"'
