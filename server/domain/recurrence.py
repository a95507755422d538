"""The recurrence read model (SPEC section 3): groups, their runs, and totals.

Storage reads the facts of each group over the event window in one set-based
query (server/storage/recurrence.py); the rules that turn those facts into
what an operator sees live here: the latest run, the repair summary, the work
item, and the summary totals.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from server.domain.models import HEARTBEAT_STAGE, EventFilter, RepairStatus, RunState, SourceRef
from server.domain.work_item_rules import WorkItem, WorkItemKind, WorkItemStatus, derive_work_item

ACTIVE_RUN_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})


def recurrence_filter(project_id: str, provider: str) -> EventFilter:
    """The events a read model considers: heartbeats are freshness probes, not
    recurrences of an alert, so they never count."""
    return EventFilter(project_id=project_id, provider=provider, exclude_stage=HEARTBEAT_STAGE)


@dataclass(frozen=True)
class LinkedRun:
    """A run linked to at least one event of a group, as it is now."""

    run_id: UUID
    state: RunState
    agent_id: str | None
    incident_id: str | None
    repair_status: RepairStatus
    # Orders runs by "recorded or updated last".
    update_seq: int


class GroupFacts(NamedTuple):
    """What storage reads for one group, over the events considered.

    A NamedTuple: storage fills it straight from the record, in column order
    (server/storage/recurrence.py), for each of up to 300 groups a call."""

    project_id: str
    recurrence_key: str
    occurrence_total: int
    duplicate_total: int
    linked_run_total: int
    auto_repair_linked_total: int
    source_ref_total: int
    missing_source_refs_total: int
    # One <system>_ref_total per REF_SYSTEMS, in its order (models.py).
    sentry_ref_total: int
    signoz_ref_total: int
    alert_ref_total: int
    latest_event_id: UUID
    latest_provider_event_id: str
    latest_content_preview: str
    provider: str
    alertname: str
    severity: str
    namespace: str
    target_resource: str
    fingerprint: str
    first_received_at: datetime
    latest_received_at: datetime
    # Distinct refs of the group's events, for a handoff's evidence: read
    # only for a handoff (empty otherwise).
    source_refs: Sequence[SourceRef] = ()
    runs: Sequence[LinkedRun] = ()


@dataclass(frozen=True)
class RepairSummary:
    attempted: int
    verified: int
    failed: int
    latest_status: RepairStatus


class RecurrenceGroup(NamedTuple):
    """One group of the read model, with everything derived from its facts."""

    facts: GroupFacts
    run_state_counts: dict[str, int]
    latest_run: LinkedRun | None
    incident_ids: list[str]
    repair_summary: RepairSummary | None
    work_item: WorkItem | None

    @property
    def active_run_ids(self) -> list[str]:
        """Linked runs still queued or running."""
        return sorted(str(r.run_id) for r in self.facts.runs if r.state in ACTIVE_RUN_STATES)

    @property
    def has_source_refs(self) -> bool:
        return self.facts.source_ref_total > 0


@dataclass(frozen=True)
class RecurrenceSummary:
    source_event_total: int
    recurrence_group_total: int
    recurrent_group_total: int
    duplicate_event_total: int
    linked_run_total: int
    unlinked_event_total: int
    auto_repair_linked_total: int
    verified_repair_group_total: int
    failed_repair_group_total: int
    open_work_item_group_total: int
    manual_gate_group_total: int
    automation_gap_group_total: int
    latest_received_at: datetime | None


@dataclass(frozen=True)
class RecurrenceReadModel:
    groups: list[RecurrenceGroup]
    summary: RecurrenceSummary
    # work_item_id -> the handoff kinds recorded for it; absent when none.
    handoff_kinds: Mapping[str, Collection[str]]
    # The database's clock when the model was read: "recent" is measured from it.
    as_of: datetime

    def find_work_item(self, work_item_id: str) -> RecurrenceGroup | None:
        return next(
            (g for g in self.groups if g.work_item and g.work_item.work_item_id == work_item_id),
            None,
        )


def latest_run(runs: Sequence[LinkedRun]) -> LinkedRun | None:
    return max(runs, key=lambda run: run.update_seq, default=None)


def repair_summary(runs: Sequence[LinkedRun]) -> RepairSummary | None:
    """None when no linked run has a repair status other than none."""
    repaired = [run for run in runs if run.repair_status is not RepairStatus.NONE]
    latest = latest_run(repaired)
    if latest is None:
        return None
    # list.count, not a Counter: a group has a run or two (a Counter costs
    # more to build than counting them three times).
    statuses = [run.repair_status for run in repaired]
    return RepairSummary(
        attempted=statuses.count(RepairStatus.ATTEMPTED),
        verified=statuses.count(RepairStatus.VERIFIED),
        failed=statuses.count(RepairStatus.FAILED),
        latest_status=latest.repair_status,
    )


def _state_counts(runs: Sequence[LinkedRun]) -> dict[str, int]:
    """Runs by state, in the states' alphabetical order."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    return dict(sorted(counts.items()))


def build_group(facts: GroupFacts, handed_off: Collection[str]) -> RecurrenceGroup:
    """`handed_off`: the work item ids that have at least one handoff."""
    if not facts.runs:
        return _build_unlinked_group(facts, handed_off)
    latest = latest_run(facts.runs)
    repairs = repair_summary(facts.runs)
    incidents = sorted({run.incident_id for run in facts.runs if run.incident_id})
    return RecurrenceGroup(
        facts=facts,
        run_state_counts=_state_counts(facts.runs),
        latest_run=latest,
        incident_ids=incidents,
        repair_summary=repairs,
        work_item=derive_work_item(
            project_id=facts.project_id,
            recurrence_key=facts.recurrence_key,
            occurrence_total=facts.occurrence_total,
            has_linked_run=bool(facts.runs),
            latest_run_state=latest.state if latest else None,
            latest_repair_status=repairs.latest_status if repairs else None,
            handed_off=handed_off,
        ),
    )


def _build_unlinked_group(facts: GroupFacts, handed_off: Collection[str]) -> RecurrenceGroup:
    """build_group of a group without a linked run (most groups): what the
    runs would give is empty, and only the automation gap rule can match.
    tests/domain/test_work_item_rules.py holds it to build_group's answer."""
    return RecurrenceGroup(
        facts=facts,
        run_state_counts={},
        latest_run=None,
        incident_ids=[],
        repair_summary=None,
        work_item=derive_work_item(
            project_id=facts.project_id,
            recurrence_key=facts.recurrence_key,
            occurrence_total=facts.occurrence_total,
            has_linked_run=False,
            latest_run_state=None,
            latest_repair_status=None,
            handed_off=handed_off,
        ),
    )


def _open_of_kind(groups: Sequence[RecurrenceGroup], kind: WorkItemKind | None) -> int:
    return sum(
        1
        for g in groups
        if g.work_item is not None
        and g.work_item.status is WorkItemStatus.OPEN
        and (kind is None or g.work_item.kind is kind)
    )


def _latest_repair_is(groups: Sequence[RecurrenceGroup], status: RepairStatus) -> int:
    return sum(1 for g in groups if g.repair_summary and g.repair_summary.latest_status is status)


def summarize(groups: Sequence[RecurrenceGroup]) -> RecurrenceSummary:
    """Totals over the groups, so that the items and the summary always agree."""
    source_total = sum(g.facts.occurrence_total + g.facts.duplicate_total for g in groups)
    linked = sum(g.facts.linked_run_total for g in groups)
    return RecurrenceSummary(
        source_event_total=source_total,
        recurrence_group_total=len(groups),
        recurrent_group_total=sum(1 for g in groups if g.facts.occurrence_total >= 2),
        duplicate_event_total=sum(g.facts.duplicate_total for g in groups),
        linked_run_total=linked,
        unlinked_event_total=source_total - linked,
        auto_repair_linked_total=sum(g.facts.auto_repair_linked_total for g in groups),
        verified_repair_group_total=_latest_repair_is(groups, RepairStatus.VERIFIED),
        failed_repair_group_total=_latest_repair_is(groups, RepairStatus.FAILED),
        open_work_item_group_total=_open_of_kind(groups, None),
        manual_gate_group_total=_open_of_kind(groups, WorkItemKind.MANUAL_GATE),
        automation_gap_group_total=_open_of_kind(groups, WorkItemKind.AUTOMATION_GAP),
        latest_received_at=max((g.facts.latest_received_at for g in groups), default=None),
    )


def open_groups(facts: Sequence[GroupFacts]) -> list[RecurrenceGroup]:
    """Every group, built once, as if no work item had been handed off: what
    the handoff lookup needs (the work item ids), and what `read_model` then
    completes without building any group again."""
    return [build_group(f, handed_off=()) for f in facts]


def read_model(
    groups: Sequence[RecurrenceGroup],
    handoff_kinds: Mapping[str, Collection[str]],
    as_of: datetime,
) -> RecurrenceReadModel:
    """The read model of `open_groups`, with the handed-off work items marked."""
    marked = [
        g._replace(work_item=g.work_item.handed_off())
        if g.work_item is not None and g.work_item.work_item_id in handoff_kinds
        else g
        for g in groups
    ]
    return RecurrenceReadModel(
        groups=marked, summary=summarize(marked), handoff_kinds=handoff_kinds, as_of=as_of
    )


def build_read_model(
    facts: Sequence[GroupFacts], handoff_kinds: Mapping[str, Collection[str]], as_of: datetime
) -> RecurrenceReadModel:
    """Groups in storage order: occurrence_total desc, then most recent event first."""
    return read_model(open_groups(facts), handoff_kinds, as_of)


def work_item_ids(groups: Sequence[RecurrenceGroup]) -> list[str]:
    """The ids of the work items the groups yield."""
    return [g.work_item.work_item_id for g in groups if g.work_item is not None]


def candidate_work_item_ids(facts: Sequence[GroupFacts]) -> list[str]:
    """The ids of the work items the groups would yield, to look up their handoffs
    in one query before the statuses are known."""
    return work_item_ids(open_groups(facts))
