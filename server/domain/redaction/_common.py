"""What every rule module shares: the marker, the rule row, the Luhn check,
and how much of the redactor's answers is remembered."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

MARKER_PREFIX = "[REDACTED:"

# Short texts repeat: an alert storm's label values and titles, a log line's
# method, status, peer and project, the ids an event's derived keys are made
# of. Answers that are pure functions of a text up to REMEMBERED_UP_TO
# characters are remembered, the REMEMBERED_MOST most recent of each
# (functools.lru_cache: ~0.1 µs a hit, ~0.2 µs a miss beside ~5-20 µs of
# redaction, and safe beside the worker threads of server/operations/cpu.py).
REMEMBERED_UP_TO = 256
REMEMBERED_MOST = 8192


def marker(kind: str) -> str:
    return f"{MARKER_PREFIX}{kind}]"


# Every rule that captures a secret refuses to start it at an existing marker,
# which keeps a second pass from redacting "[REDACTED:password]" again.
NM = r"(?!\[REDACTED:)"


# A reference to a secret, not a secret: $DB_PASS, ${password}, $(vault read ..),
# {{ .Values.token }}, <password>, [PASSWORD], %(password)s.
_PLACEHOLDER = re.compile(
    r"\$\{[^{}\s]{1,128}\}|\$[A-Za-z_][A-Za-z0-9_]{0,127}|\$\([^()]{1,128}\)"
    r"|\{\{[^{}]{1,128}\}\}|\{[A-Za-z_][\w.\-]{0,63}\}|<[^<>\s]{1,64}>|\[[A-Z][A-Z_ ]{0,63}\]"
    r"|%\([A-Za-z_]\w{0,63}\)s"
)


@dataclass(frozen=True)
class Rule:
    """One row of a rule table: what to find, what kind it is, what it needs.

    ``hints``: lower-case substrings one of which every match contains; the rule is
    skipped when the text has none.  ``accept``: a last check on the secret span
    (Luhn, entropy) that can keep a match as it is.  ``kind`` may be a function of
    the match (the kind of a key word); it may also return None to keep the match.
    """

    name: str
    pattern: re.Pattern[str]
    kind: str | Callable[[re.Match[str]], str | None]
    hints: tuple[str, ...] = ()
    accept: Callable[[str], bool] | None = None
    # What a match whose kind is None becomes (default: itself).  The key/value
    # rule uses it to look inside a value it consumed ("config.ini": "X_TOKEN=...").
    fallback: Callable[[re.Match[str]], str] | None = None
    # Every match lies within one line, so on a long text the rule only needs to
    # read the lines that hold a hint (see redact_text).
    single_line: bool = True
    # No match holds a whitespace character, and the look-arounds only look for
    # letters and digits: a long text may then be scanned in pieces cut at
    # whitespace with the same result (see redact_text's _sub_in_pieces).
    whitespace_free: bool = False
    # Numbers, not names, of the "secret*" groups: replace() runs once per match
    # and a text can hold a hundred thousand of them.
    secret_groups: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        groups = tuple(
            number for name, number in self.pattern.groupindex.items() if name.startswith("secret")
        )
        object.__setattr__(self, "secret_groups", groups)

    def replace(self, match: re.Match[str]) -> str:
        text = match.string
        match_start, match_end = match.span()
        start = end = -1
        for group in self.secret_groups:
            start, end = match.span(group)
            if start != -1:
                break
        if start == -1:
            start, end = match_start, match_end
        secret = text[start:end]
        if self.accept is not None and not self.accept(secret):
            return text[match_start:match_end]
        if secret[:1] in "$<[{%" and _PLACEHOLDER.fullmatch(secret):
            return text[match_start:match_end]
        kind = self.kind if isinstance(self.kind, str) else self.kind(match)
        if kind is None:
            if self.fallback is not None:
                return self.fallback(match)
            return text[match_start:match_end]
        return text[match_start:start] + marker(kind) + text[end:match_end]


# Luhn doubles every second digit from the right and subtracts 9 from a
# two-digit result: the digit (as an ASCII code) each one becomes.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def luhn_ok(digits: str) -> bool:
    """The Luhn check of a string of ASCII digits (sums codes in C, not a loop)."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    codes = digits.encode("ascii")
    total = sum(codes[-1::-2]) + sum(codes[-2::-2].translate(_LUHN_DOUBLED)) - 48 * len(codes)
    return total % 10 == 0
