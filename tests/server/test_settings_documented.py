"""Every setting is in README.md's Configuration table, with its default.

Two settings (AWOOOP_DATA_DIR, AWOOOP_EVENT_LOOP) were served for a while
with no row there, and a newcomer could not find them.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from server.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
# A row of the table: | `NAME` | default | meaning |
_ROW = re.compile(r"^\| `([A-Z_]+)` \| ([^|]*) \|", re.MULTILINE)


def _configuration_table() -> dict[str, str]:
    text = README.read_text()
    start = text.index("## Configuration")
    section = text[start : text.index("\n## ", start + 1)]
    return {name: default.strip() for name, default in _ROW.findall(section)}


def _variables() -> dict[str, object]:
    """Each setting's environment variable (its first alias) and default."""
    found: dict[str, object] = {}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices), "every setting names its variable"
        name = alias.choices[0]
        assert isinstance(name, str)
        found[name] = field.default
    return found


def test_every_setting_has_a_row_and_every_row_a_setting() -> None:
    table = _configuration_table()
    assert set(table) == set(_variables())


def test_each_row_states_the_default_the_code_has() -> None:
    table = _configuration_table()
    for name, default in _variables().items():
        if default is None:
            assert table[name].startswith("unset"), name
        elif default == "":
            assert table[name] == "empty", name
        elif isinstance(default, bool):
            assert table[name] == f"`{str(default).lower()}`", name
        elif isinstance(default, float) and default.is_integer():
            assert table[name] == f"`{int(default)}`", name
        else:  # words are case-insensitive where they are settings (log levels)
            assert table[name].lower() == f"`{default}`".lower(), name
