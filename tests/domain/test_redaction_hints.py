"""The redactor's quick look for hints (_rules_for) picks exactly the rules
that asking each rule for its own hints picks, in the same order: a rule
skipped by mistake would be a secret left in."""

from __future__ import annotations

import json
import random
import string
import uuid
from pathlib import Path

from server.domain.redaction import _RULES, _rules_for, redact_text
from server.domain.redaction._common import Rule

CORPUS = Path(__file__).parent / "redaction_corpus"


def _each_rule_asked(lowered: str) -> list[Rule]:
    return [rule for rule in _RULES if not rule.hints or any(h in lowered for h in rule.hints)]


def _texts() -> list[str]:
    texts: list[str] = []
    for line in (CORPUS / "gitleaks_cases.jsonl").read_text().splitlines():
        texts += [value for value in json.loads(line).values() if isinstance(value, str)]
    texts += (CORPUS / "ordinary.txt").read_text().splitlines()
    hints = sorted({hint for rule in _RULES for hint in rule.hints})
    texts += hints  # each hint alone
    texts += [f"x{hint}y" for hint in hints]  # each inside other text
    texts += [f"HEADER {hint.upper()} trailer" for hint in hints]  # in another case
    chance = random.Random(10)
    alphabet = string.ascii_letters + string.digits + ":/?&|@-_~%.<> "
    texts += ["".join(chance.choices(alphabet, k=chance.randint(1, 60))) for _ in range(2000)]
    texts += [f"alertmanager:{uuid.UUID(int=chance.getrandbits(128)).hex}" for _ in range(200)]
    return texts


def test_the_quick_look_picks_the_rules_each_rule_would_pick() -> None:
    texts = _texts()
    assert len(texts) > 3000
    for text in texts:
        lowered = text.lower()
        assert list(_rules_for(lowered)) == _each_rule_asked(lowered), text


def test_a_text_without_any_hint_still_meets_the_rules_that_need_none() -> None:
    # No hint in it, yet a shape the unhinted rules know: a card number and a
    # random-looking token.
    text = "charged 4111 1111 1111 1111 with ref Zx9Qw2Er7Ty5Ui3Op1As8Df"
    assert _rules_for(text.lower()) == tuple(rule for rule in _RULES if not rule.hints)
    assert "4111 1111 1111 1111" not in redact_text(text)
    assert "Zx9Qw2Er7Ty5Ui3Op1As8Df" not in redact_text(text)
