"""`redacted`: every string of a model passes the redactor, but the
service's own words (enum members, a StrEnum being a str too) stay as they are."""

from __future__ import annotations

import dataclasses
import enum
import uuid
from datetime import UTC, datetime

from server.domain.models import RepairStatus, RunInput, RunState
from server.domain.stored_text import redacted


class _Level(enum.IntEnum):
    HIGH = 2


def test_strings_are_redacted_and_enum_members_kept() -> None:
    run = redacted(RunInput(
        run_id=uuid.uuid4(),
        project_id="demo",
        state=RunState.RUNNING,
        repair_status=RepairStatus.NONE,
        agent_id="agent password=hunter2",
        repair_summary="used token ghp_" + "a" * 36,
    ))
    assert type(run.state) is RunState and run.state is RunState.RUNNING
    assert type(run.repair_status) is RepairStatus
    assert run.agent_id is not None and "hunter2" not in run.agent_id
    assert run.repair_summary is not None and "ghp_" + "a" * 36 not in run.repair_summary


@dataclasses.dataclass(frozen=True)
class _Stored:
    id: uuid.UUID
    at: datetime
    count: int
    flag: bool
    ratio: float
    missing: str | None
    level: _Level
    note: str
    notes: list[str]
    labels: dict[str, str]


def test_values_without_text_are_kept_as_they_are_and_every_string_is_redacted() -> None:
    value = _Stored(
        id=uuid.uuid4(),
        at=datetime.now(UTC),
        count=3,
        flag=True,
        ratio=0.5,
        missing=None,
        level=_Level.HIGH,
        note="password=hunter2",
        notes=["ok", "token ghp_" + "a" * 36],
        labels={"api_key": "k-123", "team": "payments"},
    )
    stored = redacted(value)
    for name in ("id", "at", "count", "flag", "ratio", "missing", "level"):
        assert getattr(stored, name) is getattr(value, name)
    assert stored.note == "password=[REDACTED:password]"
    assert stored.notes[0] == "ok" and "ghp_" not in stored.notes[1]
    assert stored.labels == {"api_key": "[REDACTED:api_key]", "team": "payments"}
