"""What a bench part reports (a table, the targets it checks) and how a run
is written into bench/RESULTS.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- make bench: begin (written by `make bench`; edits here are replaced) -->"
END = "<!-- make bench: end -->"


@dataclass(frozen=True)
class Check:
    """One target of issue 10: what it asks, what was measured, met or not."""

    target: str
    measured: str
    met: bool

    @property
    def row(self) -> str:
        return f"| {self.target} | {self.measured} | {'met' if self.met else '**not met**'} |"


@dataclass
class Part:
    title: str
    # Markdown: the table, then any notes.
    lines: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def markdown(self) -> str:
        return "\n".join([f"#### {self.title}", "", *self.lines, ""])


def fmt(value: float) -> str:
    """A rate or a latency, as precise as it is meaningful here."""
    if value != value:  # NaN: nothing measured
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def targets_table(checks: list[Check]) -> list[str]:
    return ["| target | measured | status |", "|---|---|---|", *(c.row for c in checks)]


def write_results(section: str) -> None:
    """Puts `section` between the markers in RESULTS.md. The first time, it
    replaces the hand-written "### Targets of issue 10" subsection (up to the
    next heading of that level or higher)."""
    text = RESULTS.read_text()
    block = f"{BEGIN}\n{section.rstrip()}\n{END}"
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    else:
        match = re.search(r"^### Targets of issue 10\n.*?(?=^#{1,3} |\Z)", text, re.M | re.S)
        if match:
            text = text[: match.start()] + block + "\n\n" + text[match.end():]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
