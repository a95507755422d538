"""Work item and recurrence rules (SPEC sections 3 and 4), pure: facts in,
decisions out. No database, no server.

The same rules over gRPC and PostgreSQL are in tests/api/; these run in
milliseconds so that a refactor of server/domain/work_items.py or
server/domain/recurrence.py gets an answer at once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from server.domain.models import RepairStatus, RunState, SourceRef
from server.domain.recurrence import (
    GroupFacts,
    LinkedRun,
    RecurrenceGroup,
    build_group,
    build_read_model,
    candidate_work_item_ids,
    latest_run,
    open_groups,
    read_model,
    repair_summary,
    summarize,
    work_item_ids,
)
from server.domain.work_items import (
    EVIDENCE_LIST_CAP,
    DryRunOutcome,
    HandoffKind,
    PlanStep,
    PreflightCheck,
    StepActor,
    WorkItemKind,
    WorkItemMode,
    WorkItemStatus,
    build_proposal,
    derive_work_item,
    dry_run_outcome,
    evaluate,
    plan_steps,
    preflight_checks,
    work_item_id,
    work_item_kind,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PROJECT = "alpha"
KEY = "alertmanager:fp-disk"
LATEST_EVENT = UUID("00000000-0000-4000-8000-000000000001")


# --- factories ----------------------------------------------------------------


def facts(
    *,
    runs: list[LinkedRun] | None = None,
    ref_totals: tuple[int, int, int] = (1, 0, 1),
    source_refs: list[SourceRef] | None = None,
    **overrides: Any,
) -> GroupFacts:
    """A group's facts with plausible defaults. The only place that names
    GroupFacts' fields for the refs per system: a rename is one edit here.
    `ref_totals` = events with a (sentry, signoz, alert) ref."""
    sentry, signoz, alert = ref_totals
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "recurrence_key": KEY,
        "occurrence_total": 3,
        "duplicate_total": 1,
        "linked_run_total": 0,
        "auto_repair_linked_total": 0,
        "source_ref_total": 2,
        "missing_source_refs_total": 2,
        "sentry_ref_total": sentry,
        "signoz_ref_total": signoz,
        "alert_ref_total": alert,
        "latest_event_id": LATEST_EVENT,
        "latest_provider_event_id": "alertmanager:fp-disk:2025-03-01T11:00:00Z",
        "latest_content_preview": "Disk almost full",
        "provider": "alertmanager",
        "alertname": "DiskAlmostFull",
        "severity": "critical",
        "namespace": "prod",
        "target_resource": "db-0",
        "fingerprint": "fp-disk",
        "first_received_at": NOW - timedelta(hours=5),
        "latest_received_at": NOW - timedelta(hours=1),
        "source_refs": source_refs if source_refs is not None else [],
        "runs": runs if runs is not None else [],
    }
    values.update(overrides)
    return GroupFacts(**values)


def run(
    n: int,
    state: RunState = RunState.COMPLETED,
    repair: RepairStatus = RepairStatus.NONE,
    *,
    update_seq: int | None = None,
    incident: str | None = None,
    agent: str | None = None,
) -> LinkedRun:
    """Run number `n`; by default recorded in the order of `n`."""
    return LinkedRun(
        run_id=UUID(int=n),
        state=state,
        agent_id=agent,
        incident_id=incident,
        repair_status=repair,
        update_seq=n if update_seq is None else update_seq,
    )


def group(handed_off: tuple[str, ...] = (), **kwargs: Any) -> RecurrenceGroup:
    return build_group(facts(**kwargs), handed_off)


def checks_by_name(checks: list[PreflightCheck]) -> dict[str, PreflightCheck]:
    return {check.name: check for check in checks}


def expected_id(project_id: str, recurrence_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{project_id}|{recurrence_key}|{kind}".encode()).hexdigest()
    return "wi-" + digest[:16]


# --- which kind of work item a group yields (SPEC 4's table) ------------------


def test_a_failed_last_repair_outranks_a_manual_gate() -> None:
    kind = work_item_kind(
        occurrence_total=3,
        has_linked_run=True,
        latest_run_state=RunState.WAITING_APPROVAL,
        latest_repair_status=RepairStatus.FAILED,
    )
    assert kind is WorkItemKind.FAILED_REPAIR


def test_a_manual_gate_outranks_an_automation_gap() -> None:
    kind = work_item_kind(
        occurrence_total=5,
        has_linked_run=False,
        latest_run_state=RunState.WAITING_APPROVAL,
        latest_repair_status=None,
    )
    assert kind is WorkItemKind.MANUAL_GATE


def test_a_failed_repair_outranks_an_automation_gap() -> None:
    kind = work_item_kind(
        occurrence_total=5,
        has_linked_run=False,
        latest_run_state=None,
        latest_repair_status=RepairStatus.FAILED,
    )
    assert kind is WorkItemKind.FAILED_REPAIR


def test_a_group_whose_latest_run_waits_for_approval_is_a_manual_gate() -> None:
    g = group(runs=[run(1, RunState.FAILED), run(2, RunState.WAITING_APPROVAL)], occurrence_total=1)
    assert g.work_item is not None
    assert g.work_item.kind is WorkItemKind.MANUAL_GATE
    assert g.work_item.next_step == "approve_or_reject_run"


def test_an_older_run_waiting_for_approval_is_no_manual_gate() -> None:
    g = group(runs=[run(1, RunState.WAITING_APPROVAL), run(2, RunState.COMPLETED)])
    assert g.latest_run is not None and g.latest_run.run_id == UUID(int=2)
    assert g.work_item is None


def test_the_latest_run_is_the_one_updated_last_not_the_highest_id() -> None:
    g = group(
        runs=[
            run(1, RunState.WAITING_APPROVAL, update_seq=9),
            run(2, RunState.COMPLETED, update_seq=4),
        ]
    )
    assert g.work_item is not None and g.work_item.kind is WorkItemKind.MANUAL_GATE


def test_a_group_whose_latest_repair_failed_is_a_failed_repair() -> None:
    g = group(runs=[run(1, RunState.FAILED, RepairStatus.FAILED)], occurrence_total=1)
    assert g.work_item is not None
    assert g.work_item.kind is WorkItemKind.FAILED_REPAIR
    assert g.work_item.next_step == "review_failed_repair"


def test_a_later_run_without_a_repair_does_not_hide_a_failed_repair() -> None:
    g = group(
        runs=[run(1, RunState.FAILED, RepairStatus.FAILED), run(2, RunState.COMPLETED)],
    )
    assert g.repair_summary is not None
    assert g.repair_summary.latest_status is RepairStatus.FAILED
    assert g.work_item is not None and g.work_item.kind is WorkItemKind.FAILED_REPAIR


def test_a_failed_repair_followed_by_a_verified_one_yields_no_work_item() -> None:
    g = group(
        runs=[
            run(1, RunState.FAILED, RepairStatus.FAILED),
            run(2, RunState.COMPLETED, RepairStatus.VERIFIED),
        ]
    )
    assert g.repair_summary is not None
    assert g.repair_summary.latest_status is RepairStatus.VERIFIED
    assert g.work_item is None


def test_a_verified_repair_yields_no_work_item() -> None:
    g = group(runs=[run(1, RunState.COMPLETED, RepairStatus.VERIFIED)], occurrence_total=7)
    assert g.work_item is None


def test_a_repeated_group_without_runs_is_an_automation_gap() -> None:
    g = group(occurrence_total=2, runs=[])
    assert g.work_item is not None
    assert g.work_item.kind is WorkItemKind.AUTOMATION_GAP
    assert g.work_item.next_step == "propose_runbook"
    assert g.work_item.recurrence_key == KEY


def test_a_single_occurrence_without_runs_yields_no_work_item() -> None:
    assert group(occurrence_total=1, runs=[]).work_item is None


def test_duplicates_do_not_make_a_single_occurrence_recurrent() -> None:
    assert group(occurrence_total=1, duplicate_total=4, runs=[]).work_item is None


def test_a_repeated_group_with_a_completed_run_is_no_automation_gap() -> None:
    assert group(occurrence_total=9, runs=[run(1, RunState.COMPLETED)]).work_item is None


def test_no_rule_matching_yields_no_kind() -> None:
    kind = work_item_kind(
        occurrence_total=1,
        has_linked_run=True,
        latest_run_state=RunState.RUNNING,
        latest_repair_status=RepairStatus.ATTEMPTED,
    )
    assert kind is None


# --- identity and status ------------------------------------------------------


def test_the_work_item_id_is_wi_and_the_first_16_hex_of_the_sha256_of_project_key_and_kind() -> (
    None
):
    assert work_item_id("alpha", "sentry:issue-1", WorkItemKind.MANUAL_GATE) == expected_id(
        "alpha", "sentry:issue-1", "manual_gate"
    )
    item_id = work_item_id("alpha", "sentry:issue-1", WorkItemKind.MANUAL_GATE)
    assert len(item_id) == 3 + 16
    assert all(c in "0123456789abcdef" for c in item_id[3:])


def test_the_work_item_id_differs_by_project_key_and_kind() -> None:
    ids = {
        work_item_id("alpha", KEY, WorkItemKind.AUTOMATION_GAP),
        work_item_id("beta", KEY, WorkItemKind.AUTOMATION_GAP),
        work_item_id("alpha", KEY + "x", WorkItemKind.AUTOMATION_GAP),
        work_item_id("alpha", KEY, WorkItemKind.FAILED_REPAIR),
    }
    assert len(ids) == 4


def test_a_group_carries_the_work_item_id_of_its_project_key_and_kind() -> None:
    g = group(occurrence_total=2)
    assert g.work_item is not None
    assert g.work_item.work_item_id == expected_id(PROJECT, KEY, "automation_gap")


def test_a_work_item_without_a_handoff_is_open() -> None:
    g = group(handed_off=("wi-someoneelse",), occurrence_total=2)
    assert g.work_item is not None and g.work_item.status is WorkItemStatus.OPEN


def test_a_work_item_with_a_handoff_is_handed_off() -> None:
    handed = (expected_id(PROJECT, KEY, "automation_gap"),)
    g = group(handed_off=handed, occurrence_total=2)
    assert g.work_item is not None and g.work_item.status is WorkItemStatus.HANDED_OFF


def test_deriving_a_work_item_fills_every_field() -> None:
    item = derive_work_item(
        project_id="alpha",
        recurrence_key="signoz:rule-7",
        occurrence_total=1,
        has_linked_run=True,
        latest_run_state=RunState.WAITING_APPROVAL,
        latest_repair_status=None,
        handed_off=(),
    )
    assert item is not None
    assert (item.work_item_id, item.kind, item.status, item.next_step, item.recurrence_key) == (
        expected_id("alpha", "signoz:rule-7", "manual_gate"),
        WorkItemKind.MANUAL_GATE,
        WorkItemStatus.OPEN,
        "approve_or_reject_run",
        "signoz:rule-7",
    )
    assert item.handed_off().status is WorkItemStatus.HANDED_OFF


# --- the plan -----------------------------------------------------------------


def test_an_automation_gap_plan_in_auto_mode_leaves_decisions_to_an_operator() -> None:
    assert plan_steps(WorkItemKind.AUTOMATION_GAP, WorkItemMode.AUTO) == [
        PlanStep("run_preflight_checks", StepActor.SYSTEM),
        PlanStep("collect_recurrence_evidence", StepActor.SYSTEM),
        PlanStep("draft_runbook_proposal", StepActor.SYSTEM),
        PlanStep("propose_runbook", StepActor.OPERATOR),
        PlanStep("record_handoff", StepActor.OPERATOR),
    ]


def test_a_failed_repair_plan_in_auto_mode() -> None:
    assert plan_steps(WorkItemKind.FAILED_REPAIR, WorkItemMode.AUTO) == [
        PlanStep("run_preflight_checks", StepActor.SYSTEM),
        PlanStep("collect_repair_evidence", StepActor.SYSTEM),
        PlanStep("review_failed_repair", StepActor.OPERATOR),
        PlanStep("record_handoff", StepActor.OPERATOR),
    ]


def test_a_manual_gate_plan_in_auto_mode() -> None:
    assert plan_steps(WorkItemKind.MANUAL_GATE, WorkItemMode.AUTO) == [
        PlanStep("run_preflight_checks", StepActor.SYSTEM),
        PlanStep("collect_run_context", StepActor.SYSTEM),
        PlanStep("approve_or_reject_run", StepActor.OPERATOR),
        PlanStep("record_handoff", StepActor.OPERATOR),
    ]


@pytest.mark.parametrize("kind", list(WorkItemKind))
def test_in_manual_mode_every_step_is_an_operators_and_the_steps_are_the_same(
    kind: WorkItemKind,
) -> None:
    auto = plan_steps(kind, WorkItemMode.AUTO)
    manual = plan_steps(kind, WorkItemMode.MANUAL)
    assert [s.name for s in manual] == [s.name for s in auto]
    assert {s.actor for s in manual} == {StepActor.OPERATOR}
    assert StepActor.SYSTEM in {s.actor for s in auto}


@pytest.mark.parametrize("kind", list(WorkItemKind))
def test_every_plan_contains_the_kinds_next_step(kind: WorkItemKind) -> None:
    item = derive_work_item(
        project_id=PROJECT,
        recurrence_key=KEY,
        occurrence_total=2,
        has_linked_run=kind is not WorkItemKind.AUTOMATION_GAP,
        latest_run_state=RunState.WAITING_APPROVAL if kind is WorkItemKind.MANUAL_GATE else None,
        latest_repair_status=RepairStatus.FAILED if kind is WorkItemKind.FAILED_REPAIR else None,
        handed_off=(),
    )
    assert item is not None and item.kind is kind
    assert item.next_step in [s.name for s in plan_steps(kind, WorkItemMode.AUTO)]


# --- pre-flight checks --------------------------------------------------------


def test_pre_flight_checks_come_in_the_specs_order() -> None:
    checks = preflight_checks(group(occurrence_total=2), (), NOW)
    assert [c.name for c in checks] == [
        "work_item_open",
        "source_refs_present",
        "recent_activity",
        "no_active_run",
        "not_already_handed_off",
    ]


def test_every_check_passes_for_an_open_recent_referenced_idle_group() -> None:
    checks = preflight_checks(group(occurrence_total=2), (), NOW)
    assert all(c.passed for c in checks), checks
    assert all(c.detail for c in checks)


def test_work_item_open_fails_once_handed_off() -> None:
    handed = (expected_id(PROJECT, KEY, "automation_gap"),)
    check = checks_by_name(preflight_checks(group(handed, occurrence_total=2), (), NOW))[
        "work_item_open"
    ]
    assert check.passed is False
    assert "handed_off" in check.detail


def test_source_refs_present_fails_when_no_event_has_a_ref() -> None:
    g = group(
        occurrence_total=2, source_ref_total=0, missing_source_refs_total=3, ref_totals=(0, 0, 0)
    )
    check = checks_by_name(preflight_checks(g, (), NOW))["source_refs_present"]
    assert check.passed is False
    assert g.has_source_refs is False


def test_source_refs_present_passes_with_one_ref_and_says_how_many() -> None:
    g = group(occurrence_total=2, source_ref_total=1)
    check = checks_by_name(preflight_checks(g, (), NOW))["source_refs_present"]
    assert check.passed is True
    assert "1 source refs" in check.detail


@pytest.mark.parametrize(
    ("age", "passed"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(days=3), False),
    ],
)
def test_recent_activity_means_the_latest_event_is_at_most_24_hours_old(
    age: timedelta, passed: bool
) -> None:
    g = group(occurrence_total=2, latest_received_at=NOW - age)
    check = checks_by_name(preflight_checks(g, (), NOW))["recent_activity"]
    assert check.passed is passed


def test_recent_activity_says_how_old_the_latest_event_is() -> None:
    g = group(occurrence_total=2, latest_received_at=NOW - timedelta(hours=30))
    check = checks_by_name(preflight_checks(g, (), NOW))["recent_activity"]
    assert check.detail == "latest event 30.0h ago (limit 24h)"


@pytest.mark.parametrize("state", [RunState.QUEUED, RunState.RUNNING])
def test_no_active_run_fails_for_a_queued_or_running_run(state: RunState) -> None:
    g = group(
        runs=[run(1, RunState.FAILED, RepairStatus.FAILED), run(2, state, update_seq=0)],
        linked_run_total=2,
    )
    assert g.work_item is not None
    check = checks_by_name(preflight_checks(g, (), NOW))["no_active_run"]
    assert check.passed is False
    assert str(UUID(int=2)) in check.detail
    assert str(UUID(int=1)) not in check.detail


@pytest.mark.parametrize(
    "state",
    [RunState.WAITING_APPROVAL, RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED],
)
def test_no_active_run_passes_for_runs_that_are_not_queued_or_running(state: RunState) -> None:
    g = group(runs=[run(1, RunState.FAILED, RepairStatus.FAILED), run(2, state, update_seq=0)])
    check = checks_by_name(preflight_checks(g, (), NOW))["no_active_run"]
    assert check.passed is True


def test_not_already_handed_off_fails_and_names_the_kinds_handed_off() -> None:
    check = checks_by_name(
        preflight_checks(group(occurrence_total=2), {"manual_takeover", "ticket_proposal"}, NOW)
    )["not_already_handed_off"]
    assert check.passed is False
    assert check.detail == "already handed off as manual_takeover, ticket_proposal"


# --- dry-run outcome and evaluation -------------------------------------------


def test_a_dry_run_is_ready_only_when_every_check_passes() -> None:
    checks = [PreflightCheck("a", True, ""), PreflightCheck("b", True, "")]
    assert dry_run_outcome(checks) == (DryRunOutcome.READY, [])


def test_a_dry_run_is_blocked_and_lists_the_failed_checks_in_order() -> None:
    checks = [
        PreflightCheck("work_item_open", True, ""),
        PreflightCheck("source_refs_present", False, ""),
        PreflightCheck("recent_activity", True, ""),
        PreflightCheck("no_active_run", False, ""),
    ]
    assert dry_run_outcome(checks) == (
        DryRunOutcome.BLOCKED,
        ["source_refs_present", "no_active_run"],
    )


def test_a_stale_handed_off_group_is_blocked_on_exactly_those_checks() -> None:
    handed = (expected_id(PROJECT, KEY, "automation_gap"),)
    g = group(handed, occurrence_total=2, latest_received_at=NOW - timedelta(days=2))
    outcome, failed = dry_run_outcome(preflight_checks(g, {"ticket_proposal"}, NOW))
    assert outcome is DryRunOutcome.BLOCKED
    assert failed == ["work_item_open", "recent_activity", "not_already_handed_off"]


def test_an_evaluation_carries_the_item_mode_plan_and_checks() -> None:
    g = group(occurrence_total=2)
    evaluation = evaluate(g, WorkItemMode.MANUAL, (), NOW)
    assert evaluation.work_item == g.work_item
    assert evaluation.mode is WorkItemMode.MANUAL
    assert evaluation.next_step == "propose_runbook"
    assert evaluation.steps == plan_steps(WorkItemKind.AUTOMATION_GAP, WorkItemMode.MANUAL)
    assert evaluation.checks == preflight_checks(g, (), NOW)


# --- the handoff proposal -----------------------------------------------------


def test_a_proposal_title_names_the_kind_the_alert_and_where() -> None:
    proposal = build_proposal(group(occurrence_total=2), HandoffKind.TICKET_PROPOSAL)
    assert proposal.title == "[automation_gap] DiskAlmostFull on prod/db-0"
    assert proposal.severity == "critical"


def test_a_proposal_without_alertname_or_place_falls_back_to_the_recurrence_key() -> None:
    g = group(occurrence_total=2, alertname="", namespace="", target_resource="")
    assert build_proposal(g, HandoffKind.TICKET_PROPOSAL).title == f"[automation_gap] {KEY}"


def test_a_proposal_without_severity_is_a_warning() -> None:
    g = group(occurrence_total=2, severity="")
    assert build_proposal(g, HandoffKind.MANUAL_TAKEOVER).severity == "warning"


def test_a_proposal_describes_occurrences_refs_runs_and_incidents() -> None:
    refs = [
        SourceRef(system="sentry", kind="issue", id="4711", url="https://sentry.example/4711"),
        SourceRef(system="alert", kind="fingerprint", id="fp-disk"),
    ]
    runs = [
        run(1, RunState.FAILED, RepairStatus.FAILED, incident="INC-2", agent="agent-a"),
        run(2, RunState.COMPLETED, RepairStatus.FAILED, incident="INC-1", update_seq=5),
    ]
    g = group(
        runs=runs,
        source_refs=refs,
        occurrence_total=4,
        duplicate_total=2,
        linked_run_total=3,
        ref_totals=(1, 0, 1),
    )
    assert g.work_item is not None
    markdown = build_proposal(g, HandoffKind.MANUAL_TAKEOVER).description_markdown
    assert markdown.startswith("## [failed_repair] DiskAlmostFull on prod/db-0\n")
    assert markdown.endswith("\n")
    assert f"- work item: `{g.work_item.work_item_id}` (failed_repair)" in markdown
    assert "- handoff: manual_takeover" in markdown
    assert "- occurrences: 4; duplicates: 2" in markdown
    assert f"- latest event: `{LATEST_EVENT}`" in markdown
    assert "- sentry/issue: 4711 (https://sentry.example/4711)" in markdown
    assert "- alert/fingerprint: fp-disk\n" in markdown
    assert "- sentry: 1; signoz: 0; alert: 1" in markdown
    assert "- linked events: 3; runs: 2" in markdown
    # Runs newest first by update_seq, each with its state, repair, agent, incident.
    newer = f"`{UUID(int=2)}` completed, repair failed, agent -, incident INC-1"
    older = f"`{UUID(int=1)}` failed, repair failed, agent agent-a, incident INC-2"
    assert markdown.index(newer) < markdown.index(older)
    # Incidents distinct and sorted.
    incidents = markdown.split("### Incidents\n", 1)[1]
    assert incidents == "- INC-1\n- INC-2\n"


def test_a_proposal_says_none_for_empty_evidence_lists() -> None:
    markdown = build_proposal(
        group(occurrence_total=2), HandoffKind.TICKET_PROPOSAL
    ).description_markdown
    assert "### Source refs\n" in markdown
    assert markdown.count("- none") == 3  # refs, runs, incidents


def test_a_proposal_caps_long_evidence_lists_and_says_how_many_more() -> None:
    many = [
        run(n, RunState.COMPLETED, RepairStatus.FAILED) for n in range(1, EVIDENCE_LIST_CAP + 6)
    ]
    markdown = build_proposal(group(runs=many), HandoffKind.TICKET_PROPOSAL).description_markdown
    runs_section = markdown.split("### Runs\n", 1)[1].split("### Incidents", 1)[0]
    assert runs_section.count("repair failed") == EVIDENCE_LIST_CAP
    assert "- … and 5 more" in runs_section
    assert f"runs: {EVIDENCE_LIST_CAP + 5}" in runs_section


def test_a_proposal_redacts_secrets_in_run_fields() -> None:
    secret = "hunter2-very-secret"
    runs = [
        run(
            1,
            RunState.FAILED,
            RepairStatus.FAILED,
            agent=f"agent password={secret}",
            incident=f"https://ops:{secret}@tickets.example/INC-9",
        )
    ]
    proposal = build_proposal(group(runs=runs), HandoffKind.TICKET_PROPOSAL)
    assert secret not in proposal.description_markdown
    assert "[REDACTED:" in proposal.description_markdown
    assert "tickets.example/INC-9" in proposal.description_markdown


# --- the recurrence read model's own rules ------------------------------------


def test_the_latest_run_is_the_one_with_the_highest_update_seq() -> None:
    runs = [run(1, update_seq=3), run(2, update_seq=8), run(3, update_seq=5)]
    latest = latest_run(runs)
    assert latest is not None and latest.run_id == UUID(int=2)
    assert latest_run([]) is None


def test_a_group_without_runs_has_no_latest_run_repair_summary_or_incidents() -> None:
    g = group(occurrence_total=1)
    assert (g.latest_run, g.repair_summary, g.incident_ids, g.run_state_counts) == (
        None,
        None,
        [],
        {},
    )


def test_no_repair_summary_when_every_linked_run_has_repair_status_none() -> None:
    runs = [run(1, RunState.FAILED), run(2, RunState.COMPLETED)]
    assert repair_summary(runs) is None
    assert group(runs=runs).repair_summary is None


def test_the_repair_summary_counts_each_status_and_takes_the_latest_repaired_run() -> None:
    runs = [
        run(1, repair=RepairStatus.ATTEMPTED, update_seq=1),
        run(2, repair=RepairStatus.VERIFIED, update_seq=7),
        run(3, repair=RepairStatus.ATTEMPTED, update_seq=3),
        run(4, repair=RepairStatus.FAILED, update_seq=2),
        run(5, repair=RepairStatus.NONE, update_seq=99),
    ]
    summary = repair_summary(runs)
    assert summary is not None
    assert (summary.attempted, summary.verified, summary.failed) == (2, 1, 1)
    assert summary.latest_status is RepairStatus.VERIFIED


def test_run_state_counts_count_distinct_runs_by_current_state_in_key_order() -> None:
    runs = [
        run(1, RunState.RUNNING),
        run(2, RunState.COMPLETED),
        run(3, RunState.RUNNING),
        run(4, RunState.CANCELLED),
    ]
    assert group(runs=runs).run_state_counts == {"cancelled": 1, "completed": 1, "running": 2}
    assert list(group(runs=runs).run_state_counts) == ["cancelled", "completed", "running"]


def test_incident_ids_are_distinct_and_sorted_and_skip_runs_without_one() -> None:
    runs = [
        run(1, incident="INC-30"),
        run(2, incident="INC-10"),
        run(3, incident=None),
        run(4, incident="INC-30"),
        run(5, incident=""),
    ]
    assert group(runs=runs).incident_ids == ["INC-10", "INC-30"]


def test_active_run_ids_are_the_queued_and_running_runs_sorted() -> None:
    runs = [run(3, RunState.RUNNING), run(1, RunState.QUEUED), run(2, RunState.WAITING_APPROVAL)]
    assert group(runs=runs).active_run_ids == [str(UUID(int=1)), str(UUID(int=3))]


def _summary_groups() -> list[RecurrenceGroup]:
    handed_gap_key = "alertmanager:handed"
    handed = (expected_id(PROJECT, handed_gap_key, "automation_gap"),)
    return [
        # An open automation gap.
        build_group(
            facts(
                recurrence_key="a",
                occurrence_total=3,
                duplicate_total=2,
                latest_received_at=NOW - timedelta(hours=2),
            ),
            handed,
        ),
        # A handed-off automation gap: not open.
        build_group(
            facts(recurrence_key=handed_gap_key, occurrence_total=2, duplicate_total=0),
            handed,
        ),
        # An open manual gate, 2 events linked, one with a repair attempt.
        build_group(
            facts(
                recurrence_key="b",
                occurrence_total=1,
                duplicate_total=1,
                linked_run_total=2,
                auto_repair_linked_total=1,
                latest_received_at=NOW - timedelta(minutes=5),
                runs=[
                    run(1, RunState.COMPLETED, RepairStatus.ATTEMPTED),
                    run(2, RunState.WAITING_APPROVAL),
                ],
            ),
            handed,
        ),
        # A failed repair.
        build_group(
            facts(
                recurrence_key="c",
                occurrence_total=4,
                duplicate_total=0,
                linked_run_total=4,
                auto_repair_linked_total=4,
                runs=[run(3, RunState.FAILED, RepairStatus.FAILED)],
            ),
            handed,
        ),
        # A verified repair: no work item.
        build_group(
            facts(
                recurrence_key="d",
                occurrence_total=1,
                duplicate_total=0,
                linked_run_total=1,
                auto_repair_linked_total=1,
                runs=[run(4, RunState.COMPLETED, RepairStatus.VERIFIED)],
            ),
            handed,
        ),
    ]


def test_the_summary_totals_add_up_over_the_groups() -> None:
    s = summarize(_summary_groups())
    assert s.source_event_total == (3 + 2) + 2 + (1 + 1) + 4 + 1
    assert s.recurrence_group_total == 5
    assert s.recurrent_group_total == 3
    assert s.duplicate_event_total == 3
    assert s.linked_run_total == 7
    assert s.unlinked_event_total == s.source_event_total - 7
    assert s.auto_repair_linked_total == 6
    assert s.verified_repair_group_total == 1
    assert s.failed_repair_group_total == 1
    assert s.open_work_item_group_total == 3
    assert s.manual_gate_group_total == 1
    assert s.automation_gap_group_total == 1
    assert s.latest_received_at == NOW - timedelta(minutes=5)


def test_the_summary_of_no_groups_is_all_zero_and_has_no_latest_time() -> None:
    s = summarize([])
    assert (s.source_event_total, s.recurrence_group_total, s.open_work_item_group_total) == (
        0,
        0,
        0,
    )
    assert s.latest_received_at is None


def test_a_read_model_finds_a_work_item_by_id_and_reports_its_handoff_status() -> None:
    item = expected_id(PROJECT, "x", "automation_gap")
    model = build_read_model(
        [
            facts(recurrence_key="x", occurrence_total=2),
            facts(recurrence_key="y", occurrence_total=1),
        ],
        {item: {"ticket_proposal"}},
        NOW,
    )
    found = model.find_work_item(item)
    assert found is not None and found.facts.recurrence_key == "x"
    assert found.work_item is not None and found.work_item.status is WorkItemStatus.HANDED_OFF
    assert model.find_work_item(expected_id(PROJECT, "y", "automation_gap")) is None
    assert model.summary.open_work_item_group_total == 0
    assert model.as_of == NOW


def test_candidate_work_item_ids_are_those_of_the_groups_that_yield_one() -> None:
    ids = candidate_work_item_ids(
        [
            facts(recurrence_key="x", occurrence_total=2),
            facts(recurrence_key="y", occurrence_total=1),
            facts(recurrence_key="z", runs=[run(1, RunState.WAITING_APPROVAL)]),
        ]
    )
    assert ids == [
        expected_id(PROJECT, "x", "automation_gap"),
        expected_id(PROJECT, "z", "manual_gate"),
    ]


def test_groups_built_once_then_marked_equal_groups_built_knowing_the_handoffs() -> None:
    # The store builds each group once (open_groups) for the handoff lookup;
    # read_model only marks the handed-off ones: the same model either way.
    all_facts = [
        facts(recurrence_key="x", occurrence_total=2),
        facts(recurrence_key="y", occurrence_total=3),
        facts(recurrence_key="z", runs=[run(1, RunState.WAITING_APPROVAL)]),
    ]
    handed = {expected_id(PROJECT, "y", "automation_gap"): {"manual_takeover"}}
    marked = read_model(open_groups(all_facts), handed, NOW)
    direct = [build_group(f, handed.keys()) for f in all_facts]
    assert marked.groups == direct
    assert marked.summary == summarize(direct)
    assert work_item_ids(open_groups(all_facts)) == candidate_work_item_ids(all_facts)


def test_a_group_without_runs_is_built_as_the_rules_for_runs_would_build_it() -> None:
    """build_group's shortcut for unlinked groups gives what its general path gives."""
    gap_id = work_item_id(PROJECT, KEY, WorkItemKind.AUTOMATION_GAP)
    for occurrences in (1, 2, 5):
        for handed_off in ((), (gap_id,)):
            built = build_group(facts(occurrence_total=occurrences), handed_off)
            assert built.latest_run is latest_run([]) is None
            assert built.repair_summary is repair_summary([]) is None
            assert built.run_state_counts == {} and built.incident_ids == []
            assert built.work_item == derive_work_item(
                project_id=PROJECT, recurrence_key=KEY, occurrence_total=occurrences,
                has_linked_run=False, latest_run_state=None, latest_repair_status=None,
                handed_off=handed_off,
            )
