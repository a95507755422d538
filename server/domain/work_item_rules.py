"""Which work item a recurrence group yields (SPEC section 4's table) and its id.

Apart from work_items.py so that the recurrence read model, which attaches a
work item to each group, and the work item operations, which read that model,
do not import each other.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import StrEnum

from server.domain.models import RepairStatus, RunState


class WorkItemKind(StrEnum):
    FAILED_REPAIR = "failed_repair"
    MANUAL_GATE = "manual_gate"
    AUTOMATION_GAP = "automation_gap"


class WorkItemStatus(StrEnum):
    OPEN = "open"
    HANDED_OFF = "handed_off"


NEXT_STEP: dict[WorkItemKind, str] = {
    WorkItemKind.FAILED_REPAIR: "review_failed_repair",
    WorkItemKind.MANUAL_GATE: "approve_or_reject_run",
    WorkItemKind.AUTOMATION_GAP: "propose_runbook",
}


@dataclass(frozen=True)
class WorkItem:
    work_item_id: str
    kind: WorkItemKind
    status: WorkItemStatus
    next_step: str
    recurrence_key: str

    def handed_off(self) -> WorkItem:
        return replace(self, status=WorkItemStatus.HANDED_OFF)


# Remembered: a recurrence read derives one per group of its window (up to
# 300), mostly the same ones call after call.
@functools.lru_cache(maxsize=8192)
def work_item_id(project_id: str, recurrence_key: str, kind: WorkItemKind) -> str:
    """Stable across calls and servers: a hash of what identifies the work."""
    digest = hashlib.sha256(f"{project_id}|{recurrence_key}|{kind.value}".encode()).hexdigest()
    return f"wi-{digest[:16]}"


def work_item_kind(
    occurrence_total: int,
    has_linked_run: bool,
    latest_run_state: RunState | None,
    latest_repair_status: RepairStatus | None,
) -> WorkItemKind | None:
    """The first rule of the table that matches, in table order."""
    if latest_repair_status is RepairStatus.FAILED:
        return WorkItemKind.FAILED_REPAIR
    if latest_run_state is RunState.WAITING_APPROVAL:
        return WorkItemKind.MANUAL_GATE
    if occurrence_total >= 2 and not has_linked_run:
        return WorkItemKind.AUTOMATION_GAP
    return None


def derive_work_item(
    *,
    project_id: str,
    recurrence_key: str,
    occurrence_total: int,
    has_linked_run: bool,
    latest_run_state: RunState | None,
    latest_repair_status: RepairStatus | None,
    handed_off: Collection[str],
) -> WorkItem | None:
    kind = work_item_kind(occurrence_total, has_linked_run, latest_run_state, latest_repair_status)
    if kind is None:
        return None
    item_id = work_item_id(project_id, recurrence_key, kind)
    return WorkItem(
        work_item_id=item_id,
        kind=kind,
        status=WorkItemStatus.HANDED_OFF if item_id in handed_off else WorkItemStatus.OPEN,
        next_step=NEXT_STEP[kind],
        recurrence_key=recurrence_key,
    )
