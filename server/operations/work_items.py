"""WorkItemService's operations (SPEC section 4): plans, dry-runs and
handoffs of recurrence work items.

A work item is found again in the recurrence read model on every call (same
filters, limit 1-300, default 300), so it always reflects the events and runs
as they are now. Preview writes nothing; a dry-run appends one history
record; a handoff appends one the first time and none after. No call touches
an event, a run or an incident.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.auth import Principal
from server.domain.errors import FailedPrecondition, NotFound
from server.domain.recurrence import RecurrenceGroup, read_model, recurrence_filter
from server.domain.stored_text import redacted
from server.domain.validation import WORK_ITEM_LIMIT, Violations
from server.domain.work_items import (
    DEFAULT_HANDOFF_KIND,
    DEFAULT_MODE,
    DRY_RUN_REQUIRED_MESSAGE,
    NOT_FOUND_MESSAGE,
    READ_ONLY_GUARANTEES,
    DryRunRecord,
    Evaluation,
    Guarantees,
    HandoffKind,
    HandoffRecord,
    HistoryRecord,
    WorkItem,
    WorkItemMode,
    build_proposal,
    dry_run_outcome,
    evaluate,
)
from server.operations.dossier import ReadModelQuery, check_read_model_query
from server.storage.store import Store

# A work_item_id is "wi-" and 16 hex characters; this leaves room.
MAX_WORK_ITEM_ID = 64


@dataclass(frozen=True, kw_only=True)
class WorkItemQuery(ReadModelQuery):
    """Preview's and DryRun's input: the work item, the read-model filters it
    is found with (limit 0 means 300), and the mode."""

    work_item_id: str
    # A WorkItemMode value; None means auto.
    mode: str | None = None


@dataclass(frozen=True, kw_only=True)
class HandoffRequest(WorkItemQuery):
    # A HandoffKind value; None means ticket_proposal.
    handoff_kind: str | None = None


@dataclass(frozen=True)
class HistoryQuery:
    work_item_id: str
    # Empty: any project.
    project_id: str = ""


@dataclass(frozen=True, kw_only=True)
class Preview:
    """The plan and its checks."""

    evaluation: Evaluation
    guarantees: Guarantees = READ_ONLY_GUARANTEES


@dataclass(frozen=True, kw_only=True)
class DryRun(Preview):
    # The history record the dry-run appended: its id, outcome and failed checks.
    record: DryRunRecord


@dataclass(frozen=True, kw_only=True)
class Handoff:
    # The first handoff of (work_item_id, handoff_kind), this call's or an earlier one.
    handoff: HandoffRecord
    # Whether this call recorded it.
    created: bool
    # The work item, now handed off.
    work_item: WorkItem
    guarantees: Guarantees = READ_ONLY_GUARANTEES


@dataclass(frozen=True)
class _Found:
    group: RecurrenceGroup
    evaluation: Evaluation


def _check_query(violations: Violations, query: WorkItemQuery) -> tuple[WorkItemMode, int]:
    """Checks the fields every work item request has; returns the mode and
    the effective limit."""
    violations.length(query.work_item_id, "work_item_id", MAX_WORK_ITEM_ID, minimum=1)
    mode = violations.choice(query.mode, WorkItemMode, "mode", "must be auto or manual")
    limit = check_read_model_query(violations, query, WORK_ITEM_LIMIT)
    return mode or DEFAULT_MODE, limit


class WorkItemOperations:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def _find(
        self, query: WorkItemQuery, mode: WorkItemMode, limit: int, with_refs: bool = False
    ) -> _Found:
        """The work item in the read model of the query's filters, evaluated.

        Only its group is read and built: the store narrows the window to the
        one group whose work item may have that id, and that group's facts
        are those it has in the whole read model (each is an aggregate over
        the group's own events of the same window). `with_refs`: the group's
        refs too, for a handoff's proposal."""
        window = await self._store.recurrence_window(
            recurrence_filter(query.project_id, query.provider),
            limit,
            work_item_id=query.work_item_id,
            with_refs=with_refs,
        )
        model = read_model(window.groups, window.handoff_kinds, window.as_of)
        group = model.find_work_item(query.work_item_id)
        if group is None:
            raise NotFound(NOT_FOUND_MESSAGE, NOT_FOUND_MESSAGE.upper())
        evaluation = evaluate(
            group, mode, model.handoff_kinds.get(query.work_item_id, ()), model.as_of
        )
        return _Found(group=group, evaluation=evaluation)

    async def _found(self, query: WorkItemQuery) -> _Found:
        violations = Violations()
        mode, limit = _check_query(violations, query)
        violations.raise_if_any()
        return await self._find(query, mode, limit)

    async def preview_work_item(self, query: WorkItemQuery) -> Preview:
        """PreviewWorkItem: the plan and its checks. Writes nothing."""
        found = await self._found(query)
        return Preview(evaluation=found.evaluation)

    async def dry_run_work_item(self, query: WorkItemQuery, caller: Principal) -> DryRun:
        """DryRunWorkItem: the preview's evaluation and its outcome, appended to
        the work item's history under the calling operator."""
        found = await self._found(query)
        evaluation = found.evaluation
        outcome, failed = dry_run_outcome(evaluation.checks)
        record = await self._store.record_dry_run(
            work_item_id=evaluation.work_item.work_item_id,
            project_id=found.group.facts.project_id,
            recurrence_key=evaluation.work_item.recurrence_key,
            kind=evaluation.work_item.kind,
            mode=evaluation.mode,
            outcome=outcome,
            checks=evaluation.checks,
            failed_checks=failed,
            operator_id=caller.operator_id,
        )
        return DryRun(evaluation=evaluation, record=record)

    async def handoff_work_item(self, request: HandoffRequest, caller: Principal) -> Handoff:
        """HandoffWorkItem: needs an earlier dry-run of the work item
        (FAILED_PRECONDITION otherwise); idempotent per (work_item_id, handoff_kind)."""
        violations = Violations()
        mode, limit = _check_query(violations, request)
        kind = violations.choice(
            request.handoff_kind,
            HandoffKind,
            "handoff_kind",
            "must be ticket_proposal or manual_takeover",
        )
        violations.raise_if_any()
        found = await self._find(request, mode, limit, with_refs=True)
        item = found.evaluation.work_item
        dry_run = await self._store.latest_dry_run(item.work_item_id)
        if dry_run is None:
            raise FailedPrecondition(DRY_RUN_REQUIRED_MESSAGE, DRY_RUN_REQUIRED_MESSAGE.upper())
        kind = kind or DEFAULT_HANDOFF_KIND
        handoff, created = await self._store.record_handoff_once(
            work_item_id=item.work_item_id,
            project_id=found.group.facts.project_id,
            handoff_kind=kind,
            dry_run_id=dry_run.dry_run_id,
            proposal=redacted(build_proposal(found.group, kind)),
            operator_id=caller.operator_id,
        )
        return Handoff(handoff=handoff, created=created, work_item=item.handed_off())

    async def list_work_item_history(self, query: HistoryQuery) -> list[HistoryRecord]:
        """ListWorkItemHistory: the work item's dry-runs and handoffs, newest first."""
        violations = Violations()
        violations.length(query.work_item_id, "work_item_id", MAX_WORK_ITEM_ID, minimum=1)
        violations.project_id(query.project_id, required=False)
        violations.raise_if_any()
        return await self._store.work_item_history(query.work_item_id, query.project_id)
