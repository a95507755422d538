"""WorkItemService: preview, dry-run, handoff, history, and what each may write."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from awooop.channel_events.v1 import common_pb2, work_items_pb2

from tests.history import ALPHA, build_history, by_key, record_run, recurrence
from tests.harness import OPERATOR, Service, bearer, reason_of, violated_fields

TABLES = ("events", "runs", "run_events", "event_cursor", "work_item_dry_runs", "work_item_handoffs")

READ_ONLY = work_items_pb2.Guarantees(
    read_only=True, incident_mutation=False, auto_repair_mutation=False, ticket_mutation=False
)
CHECK_NAMES = [
    "work_item_open", "source_refs_present", "recent_activity", "no_active_run",
    "not_already_handed_off",
]


async def row_counts(service: Service) -> dict[str, int]:
    return {table: await service.count_rows(table) for table in TABLES}


async def work_item_id(service: Service, key: str, project_id: str = ALPHA) -> str:
    return by_key(await recurrence(service, project_id=project_id))[key].work_item.work_item_id


async def preview(service: Service, item_id: str, **fields: object) -> work_items_pb2.PreviewWorkItemResponse:
    fields.setdefault("project_id", ALPHA)
    return await service.work_items.PreviewWorkItem(
        work_items_pb2.PreviewWorkItemRequest(work_item_id=item_id, **fields)
    )


async def dry_run(service: Service, item_id: str, **fields: object) -> work_items_pb2.DryRunWorkItemResponse:
    fields.setdefault("project_id", ALPHA)
    return await service.work_items.DryRunWorkItem(
        work_items_pb2.DryRunWorkItemRequest(work_item_id=item_id, **fields), metadata=OPERATOR
    )


async def handoff(service: Service, item_id: str, **fields: object) -> work_items_pb2.HandoffWorkItemResponse:
    fields.setdefault("project_id", ALPHA)
    return await service.work_items.HandoffWorkItem(
        work_items_pb2.HandoffWorkItemRequest(work_item_id=item_id, **fields), metadata=OPERATOR
    )


async def history(service: Service, item_id: str, project_id: str = ALPHA) -> list[work_items_pb2.WorkItemHistoryRecord]:
    response = await service.work_items.ListWorkItemHistory(
        work_items_pb2.ListWorkItemHistoryRequest(work_item_id=item_id, project_id=project_id)
    )
    return list(response.records)


def checks(response: object) -> dict[str, bool]:
    return {c.name: c.passed for c in response.checks}  # type: ignore[attr-defined]


async def test_preview_shows_the_plan_checks_and_guarantees_and_writes_nothing(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    before = await row_counts(service)
    response = await preview(service, item_id)
    assert await row_counts(service) == before
    assert response.work_item.work_item_id == item_id
    assert response.work_item.kind == work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP
    assert response.work_item.status == work_items_pb2.WORK_ITEM_STATUS_OPEN
    assert response.mode == work_items_pb2.WORK_ITEM_MODE_AUTO  # unspecified means auto
    assert response.next_step == "propose_runbook"
    assert [(s.name, s.actor) for s in response.steps] == [
        ("run_preflight_checks", work_items_pb2.STEP_ACTOR_SYSTEM),
        ("collect_recurrence_evidence", work_items_pb2.STEP_ACTOR_SYSTEM),
        ("draft_runbook_proposal", work_items_pb2.STEP_ACTOR_SYSTEM),
        ("propose_runbook", work_items_pb2.STEP_ACTOR_OPERATOR),
        ("record_handoff", work_items_pb2.STEP_ACTOR_OPERATOR),
    ]
    assert [c.name for c in response.checks] == CHECK_NAMES
    assert all(c.passed and c.detail for c in response.checks)
    assert response.guarantees == READ_ONLY


async def test_manual_mode_makes_every_step_an_operators(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:failed")
    response = await preview(service, item_id, mode=work_items_pb2.WORK_ITEM_MODE_MANUAL)
    assert response.mode == work_items_pb2.WORK_ITEM_MODE_MANUAL
    assert response.next_step == "review_failed_repair"
    assert [s.name for s in response.steps] == [
        "run_preflight_checks", "collect_repair_evidence", "review_failed_repair", "record_handoff",
    ]
    assert {s.actor for s in response.steps} == {work_items_pb2.STEP_ACTOR_OPERATOR}


async def test_a_dry_run_adds_exactly_one_history_record_and_nothing_else(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    before = await row_counts(service)
    response = await dry_run(service, item_id)
    after = await row_counts(service)
    assert after == {**before, "work_item_dry_runs": before["work_item_dry_runs"] + 1}
    assert response.outcome == work_items_pb2.DRY_RUN_OUTCOME_READY
    assert list(response.failed_checks) == []
    assert uuid.UUID(response.dry_run_id)
    assert response.work_item.work_item_id == item_id
    assert response.next_step == "propose_runbook"
    assert [c.name for c in response.checks] == CHECK_NAMES
    assert response.guarantees == READ_ONLY
    assert response.HasField("created_at")
    [record] = await history(service, item_id)
    assert record.dry_run.dry_run_id == response.dry_run_id
    assert record.dry_run.operator_id == "oncall"
    assert record.dry_run.kind == work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP
    assert record.dry_run.outcome == work_items_pb2.DRY_RUN_OUTCOME_READY
    assert list(record.dry_run.checks) == list(response.checks)


async def test_a_group_without_refs_is_blocked_on_source_refs_present(service: Service) -> None:
    for i in range(2):
        await service.record(provider="custom", event_id=f"c-{i}", title="Slow")
    item_id = await work_item_id(service, "custom:Slow//")
    response = await dry_run(service, item_id)
    assert response.outcome == work_items_pb2.DRY_RUN_OUTCOME_BLOCKED
    assert list(response.failed_checks) == ["source_refs_present"]


async def test_a_queued_or_running_linked_run_blocks_on_no_active_run(service: Service) -> None:
    event = await service.record(fingerprint="busy")
    running = await record_run(service, event_ids=[event.event_id], state=common_pb2.RUN_STATE_RUNNING)
    await record_run(service, event_ids=[event.event_id], state=common_pb2.RUN_STATE_WAITING_APPROVAL)
    item_id = await work_item_id(service, "alertmanager:busy")
    response = await dry_run(service, item_id)
    assert list(response.failed_checks) == ["no_active_run"]
    assert running.run_id in {c.detail for c in response.checks if c.name == "no_active_run"}.pop()


async def test_an_old_group_is_blocked_on_recent_activity(service: Service) -> None:
    await build_history(service)
    async with service.store.pool.acquire() as connection:
        await connection.execute(
            "UPDATE events SET received_at = received_at - interval '25 hours' "
            "WHERE fingerprint = 'gap'"
        )
    response = await preview(service, await work_item_id(service, "alertmanager:gap"))
    assert checks(response)["recent_activity"] is False
    assert [name for name, ok in checks(response).items() if not ok] == ["recent_activity"]


async def test_a_handoff_without_a_dry_run_is_refused_and_writes_nothing(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    before = await row_counts(service)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await handoff(service, item_id)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details() == "dry_run_required"
    assert reason_of(raised.value) == "DRY_RUN_REQUIRED"
    assert await row_counts(service) == before


async def test_a_handoff_is_recorded_once_and_a_repeat_returns_the_first(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    await dry_run(service, item_id)
    latest = await dry_run(service, item_id)
    before = await row_counts(service)

    first = await handoff(service, item_id)
    after_first = await row_counts(service)
    assert after_first == {**before, "work_item_handoffs": before["work_item_handoffs"] + 1}
    assert first.created is True
    assert first.handoff.dry_run_id == latest.dry_run_id  # names the latest dry-run
    assert first.handoff.handoff_kind == work_items_pb2.HANDOFF_KIND_TICKET_PROPOSAL
    assert first.handoff.operator_id == "oncall"
    assert first.work_item.status == work_items_pb2.WORK_ITEM_STATUS_HANDED_OFF
    assert first.guarantees == READ_ONLY

    again = await handoff(service, item_id, handoff_kind=work_items_pb2.HANDOFF_KIND_TICKET_PROPOSAL)
    assert again.created is False
    assert again.handoff == first.handoff
    assert await row_counts(service) == after_first

    # Another kind is another handoff.
    takeover = await handoff(service, item_id, handoff_kind=work_items_pb2.HANDOFF_KIND_MANUAL_TAKEOVER)
    assert takeover.created is True and takeover.handoff.handoff_id != first.handoff.handoff_id


async def test_a_handed_off_work_item_shows_so_in_the_read_model_and_the_checks(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    await dry_run(service, item_id)
    await handoff(service, item_id)
    response = await recurrence(service, project_id=ALPHA)
    gap = by_key(response)["alertmanager:gap"]
    assert gap.work_item.status == work_items_pb2.WORK_ITEM_STATUS_HANDED_OFF
    assert gap.work_item.work_item_id == item_id
    assert response.summary.open_work_item_group_total == 2
    assert response.summary.automation_gap_group_total == 0
    assert response.summary.manual_gate_group_total == 1
    blocked = await dry_run(service, item_id)
    assert blocked.outcome == work_items_pb2.DRY_RUN_OUTCOME_BLOCKED
    assert list(blocked.failed_checks) == ["work_item_open", "not_already_handed_off"]


async def test_twenty_concurrent_identical_handoffs_leave_one_record(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:failed")
    await dry_run(service, item_id)
    responses = await asyncio.gather(*(handoff(service, item_id) for _ in range(20)))
    assert await service.count_rows("work_item_handoffs") == 1
    assert sum(r.created for r in responses) == 1
    assert len({r.handoff.handoff_id for r in responses}) == 1


async def test_the_proposal_carries_the_evidence_and_no_secret(service: Service) -> None:
    secret = "hunter2-S3cr3t-value"
    events = [
        await service.record(
            fingerprint="leaky", title="LoginFailures", severity="critical", namespace="auth",
            event_id=f"leak-{i}",
            annotations={"description": f"db url postgres://app:{secret}@db:5432/app"},
        )
        for i in range(2)
    ]
    run = await record_run(
        service, event_ids=[e.event_id for e in events], state=common_pb2.RUN_STATE_COMPLETED,
        repair_status=common_pb2.REPAIR_STATUS_FAILED, incident_id="INC-42",
    )
    item_id = await work_item_id(service, "alertmanager:leaky")
    await dry_run(service, item_id)
    proposal = (await handoff(service, item_id)).handoff.proposal
    assert proposal.title == "[failed_repair] LoginFailures on auth"
    assert proposal.severity == "critical"
    text = proposal.description_markdown
    assert "occurrences: 2; duplicates: 0" in text
    assert "alert/fingerprint: leaky" in text
    assert run.run_id in text and "INC-42" in text
    assert item_id in text
    assert secret not in text and secret not in proposal.title
    assert "[REDACTED" in text  # the redacted preview is the evidence


async def test_history_lists_dry_runs_and_handoffs_newest_first(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gate")
    first = await dry_run(service, item_id)
    second = await dry_run(service, item_id, mode=work_items_pb2.WORK_ITEM_MODE_MANUAL)
    handed = await handoff(service, item_id, handoff_kind=work_items_pb2.HANDOFF_KIND_MANUAL_TAKEOVER)
    records = await history(service, item_id)
    assert [r.WhichOneof("record") for r in records] == ["handoff", "dry_run", "dry_run"]
    assert records[0].handoff.handoff_id == handed.handoff.handoff_id
    assert records[0].handoff.dry_run_id == second.dry_run_id
    assert records[1].dry_run.mode == work_items_pb2.WORK_ITEM_MODE_MANUAL
    assert records[2].dry_run.dry_run_id == first.dry_run_id
    assert await history(service, item_id, project_id="beta") == []
    assert len(await history(service, item_id, project_id="")) == 3


async def test_an_unknown_work_item_is_not_found(service: Service) -> None:
    await build_history(service)
    for call in (preview, dry_run, handoff):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call(service, "wi-0000000000000000")
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert raised.value.details() == "recurrence_work_item_not_found"
        assert reason_of(raised.value) == "RECURRENCE_WORK_ITEM_NOT_FOUND"
    # A work item of another project is not in this project's read model.
    beta_item = await work_item_id(service, "alertmanager:gap", project_id="beta")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await preview(service, beta_item)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_work_item_outside_the_window_is_not_found(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await preview(service, item_id, limit=3)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await preview(service, item_id, limit=300, provider="alertmanager")).work_item.work_item_id == item_id


async def test_bad_requests_name_each_bad_field(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await preview(service, "", limit=301, mode=7, provider="Bad Provider")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(violated_fields(raised.value)) == ["limit", "mode", "provider", "work_item_id"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await handoff(service, "wi-x", handoff_kind=9, limit=-1)
    assert sorted(violated_fields(raised.value)) == ["handoff_kind", "limit"]


async def test_dry_run_and_handoff_need_the_operator_role(service: Service) -> None:
    await build_history(service)
    item_id = await work_item_id(service, "alertmanager:gap")
    request = work_items_pb2.DryRunWorkItemRequest(work_item_id=item_id, project_id=ALPHA)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.work_items.DryRunWorkItem(request, metadata=bearer("reader"))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.work_items.HandoffWorkItem(
            work_items_pb2.HandoffWorkItemRequest(work_item_id=item_id, project_id=ALPHA)
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await service.count_rows("work_item_dry_runs") == 0
    # Preview and history are reads.
    assert (await preview(service, item_id)).work_item.work_item_id == item_id

