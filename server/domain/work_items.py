"""Work items (SPEC section 4): what a recurrence group calls for, its plan,
its pre-flight checks and the proposal a handoff carries.

Everything here is pure: the read model comes in, decisions come out. The
only writes (dry-run and handoff records) happen in server/storage/work_items.py.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from server.domain.recurrence import RecurrenceGroup
from server.domain.redaction import redact_text
from server.domain.work_item_rules import (
    NEXT_STEP,
    WorkItem,
    WorkItemKind,
    WorkItemStatus,
    derive_work_item,
    work_item_id,
    work_item_kind,
)

__all__ = [
    "NEXT_STEP",
    "WorkItem",
    "WorkItemKind",
    "WorkItemStatus",
    "derive_work_item",
    "work_item_id",
    "work_item_kind",
]

RECENT_ACTIVITY = timedelta(hours=24)
NOT_FOUND_MESSAGE = "recurrence_work_item_not_found"
DRY_RUN_REQUIRED_MESSAGE = "dry_run_required"
# Evidence lists in a proposal stop here; the totals above them stay exact.
EVIDENCE_LIST_CAP = 20


class WorkItemMode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


DEFAULT_MODE = WorkItemMode.AUTO


class StepActor(StrEnum):
    SYSTEM = "system"
    OPERATOR = "operator"


class DryRunOutcome(StrEnum):
    READY = "ready"
    BLOCKED = "blocked"


class HandoffKind(StrEnum):
    TICKET_PROPOSAL = "ticket_proposal"
    MANUAL_TAKEOVER = "manual_takeover"


DEFAULT_HANDOFF_KIND = HandoffKind.TICKET_PROPOSAL


@dataclass(frozen=True)
class Guarantees:
    """What a work item call promises it did not touch."""

    read_only: bool
    incident_mutation: bool
    auto_repair_mutation: bool
    ticket_mutation: bool


# Every work item call writes at most its own history record.
READ_ONLY_GUARANTEES = Guarantees(
    read_only=True, incident_mutation=False, auto_repair_mutation=False, ticket_mutation=False
)


# --- the plan ---------------------------------------------------------------

@dataclass(frozen=True)
class PlanStep:
    name: str
    actor: StepActor


# What each kind asks for between gathering evidence and handing off. In auto
# mode the system does what needs no judgement; a decision is an operator's.
_KIND_STEPS: dict[WorkItemKind, tuple[tuple[str, StepActor], ...]] = {
    WorkItemKind.FAILED_REPAIR: (
        ("collect_repair_evidence", StepActor.SYSTEM),
        ("review_failed_repair", StepActor.OPERATOR),
    ),
    WorkItemKind.MANUAL_GATE: (
        ("collect_run_context", StepActor.SYSTEM),
        ("approve_or_reject_run", StepActor.OPERATOR),
    ),
    WorkItemKind.AUTOMATION_GAP: (
        ("collect_recurrence_evidence", StepActor.SYSTEM),
        ("draft_runbook_proposal", StepActor.SYSTEM),
        ("propose_runbook", StepActor.OPERATOR),
    ),
}


def plan_steps(kind: WorkItemKind, mode: WorkItemMode) -> list[PlanStep]:
    """Ordered steps; in manual mode every step is an operator's."""
    steps = [
        ("run_preflight_checks", StepActor.SYSTEM),
        *_KIND_STEPS[kind],
        ("record_handoff", StepActor.OPERATOR),
    ]
    return [
        PlanStep(name, StepActor.OPERATOR if mode is WorkItemMode.MANUAL else actor)
        for name, actor in steps
    ]


# --- pre-flight checks ------------------------------------------------------

@dataclass(frozen=True)
class PreflightCheck:
    name: str
    passed: bool
    detail: str


def preflight_checks(
    group: RecurrenceGroup, handoff_kinds: Collection[str], now: datetime
) -> list[PreflightCheck]:
    """`handoff_kinds`: the kinds already handed off for this work item."""
    item = group.work_item
    assert item is not None
    facts = group.facts
    age = now - facts.latest_received_at
    active = group.active_run_ids
    is_open = item.status is WorkItemStatus.OPEN
    return [
        PreflightCheck(
            "work_item_open",
            is_open,
            "the work item is open" if is_open else f"the work item is {item.status.value}",
        ),
        PreflightCheck(
            "source_refs_present",
            group.has_source_refs,
            f"{facts.source_ref_total} source refs on the group's events"
            if group.has_source_refs
            else "no event of the group carries a source ref",
        ),
        PreflightCheck(
            "recent_activity",
            age <= RECENT_ACTIVITY,
            f"latest event {_hours(age)} ago (limit 24h)",
        ),
        PreflightCheck(
            "no_active_run",
            not active,
            "no linked run is queued or running"
            if not active
            else f"linked runs still active: {', '.join(active[:EVIDENCE_LIST_CAP])}",
        ),
        PreflightCheck(
            "not_already_handed_off",
            not handoff_kinds,
            "no handoff recorded"
            if not handoff_kinds
            else f"already handed off as {', '.join(sorted(handoff_kinds))}",
        ),
    ]


def _hours(age: timedelta) -> str:
    return f"{max(age.total_seconds(), 0) / 3600:.1f}h"


def dry_run_outcome(checks: Sequence[PreflightCheck]) -> tuple[DryRunOutcome, list[str]]:
    failed = [check.name for check in checks if not check.passed]
    return (DryRunOutcome.BLOCKED if failed else DryRunOutcome.READY), failed


@dataclass(frozen=True)
class Evaluation:
    """What Preview, DryRun and Handoff all show: the plan and its checks."""

    work_item: WorkItem
    mode: WorkItemMode
    steps: list[PlanStep]
    checks: list[PreflightCheck]

    @property
    def next_step(self) -> str:
        return self.work_item.next_step


def evaluate(
    group: RecurrenceGroup, mode: WorkItemMode, handoff_kinds: Collection[str], now: datetime
) -> Evaluation:
    item = group.work_item
    assert item is not None
    return Evaluation(
        work_item=item,
        mode=mode,
        steps=plan_steps(item.kind, mode),
        checks=preflight_checks(group, handoff_kinds, now),
    )


# --- history records --------------------------------------------------------

@dataclass(frozen=True)
class DryRunRecord:
    dry_run_id: UUID
    work_item_id: str
    project_id: str
    recurrence_key: str
    kind: WorkItemKind
    mode: WorkItemMode
    outcome: DryRunOutcome
    checks: list[PreflightCheck]
    failed_checks: list[str]
    operator_id: str
    created_at: datetime


@dataclass(frozen=True)
class Proposal:
    title: str
    description_markdown: str
    severity: str


@dataclass(frozen=True)
class HandoffRecord:
    handoff_id: UUID
    work_item_id: str
    project_id: str
    handoff_kind: HandoffKind
    dry_run_id: UUID
    proposal: Proposal
    operator_id: str
    created_at: datetime


HistoryRecord = DryRunRecord | HandoffRecord


# --- the proposal -----------------------------------------------------------

_DEFAULT_SEVERITY = "warning"


def _listed(values: Sequence[str]) -> list[str]:
    shown = [f"- {value}" for value in values[:EVIDENCE_LIST_CAP]]
    if len(values) > EVIDENCE_LIST_CAP:
        shown.append(f"- … and {len(values) - EVIDENCE_LIST_CAP} more")
    return shown or ["- none"]


def _safe(value: str | None) -> str:
    """Run fields (agent, incident ids) come from callers unredacted: redact them here."""
    return redact_text(value) if value else "-"


def build_proposal(group: RecurrenceGroup, handoff_kind: HandoffKind) -> Proposal:
    """Title, markdown evidence and severity, all from stored (redacted) data."""
    item = group.work_item
    assert item is not None
    facts = group.facts
    subject = facts.alertname or facts.recurrence_key
    where = "/".join(part for part in (facts.namespace, facts.target_resource) if part)
    title = f"[{item.kind.value}] {subject}" + (f" on {where}" if where else "")
    runs = sorted(facts.runs, key=lambda run: run.update_seq, reverse=True)
    refs = [f"{r.system}/{r.kind}: {r.id}" + (f" ({r.url})" if r.url else "") for r in facts.source_refs]
    lines = [
        f"## {title}",
        "",
        f"- work item: `{item.work_item_id}` ({item.kind.value}), next step `{item.next_step}`",
        f"- handoff: {handoff_kind.value}",
        f"- project: `{facts.project_id}`",
        f"- recurrence key: `{facts.recurrence_key}`",
        f"- provider: {facts.provider}; severity: {facts.severity or '-'}",
        "",
        "### Occurrences",
        f"- occurrences: {facts.occurrence_total}; duplicates: {facts.duplicate_total}",
        f"- first received: {facts.first_received_at.isoformat()}",
        f"- latest received: {facts.latest_received_at.isoformat()}",
        f"- latest event: `{facts.latest_event_id}` ({facts.latest_provider_event_id})",
        f"- latest content: {facts.latest_content_preview or '-'}",
        "",
        "### Source refs",
        f"- total: {facts.source_ref_total}; events without a ref: "
        f"{facts.missing_source_refs_total}",
        f"- sentry: {facts.sentry_ref_total}; signoz: {facts.signoz_ref_total}; "
        f"alert: {facts.alert_ref_total}",
        *_listed(refs),
        "",
        "### Runs",
        f"- linked events: {facts.linked_run_total}; runs: {len(runs)}",
        *_listed(
            [
                f"`{run.run_id}` {run.state.value}, repair {run.repair_status.value}, "
                f"agent {_safe(run.agent_id)}, incident {_safe(run.incident_id)}"
                for run in runs
            ]
        ),
        "",
        "### Incidents",
        *_listed([_safe(incident) for incident in group.incident_ids]),
    ]
    return Proposal(
        title=title,
        description_markdown="\n".join(lines) + "\n",
        severity=facts.severity or _DEFAULT_SEVERITY,
    )
