"""`redacted`: every string of a model passes the redactor, but the
service's own words (enum members, a StrEnum being a str too) stay as they are."""

from __future__ import annotations

import uuid

from server.domain.models import RepairStatus, RunInput, RunState
from server.domain.stored_text import redacted


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
