"""GetDossierRecurrence: groups, their runs and work items, the summary, the window.

Every history here is built through the public RPCs (RecordAlertEvent,
RecordRun, RecordProviderHeartbeat); every number of the response is checked.
"""

from __future__ import annotations


import grpc
import pytest
from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2, work_items_pb2

from tests.harness import OPERATOR, Service, start_service, stop_service, violated_fields
from tests.history import (
    ALPHA,
    build_history,
    by_key,
    expected_work_item_id,
    recurrence,
)

async def test_groups_come_ordered_by_occurrences_then_most_recent_event(service: Service) -> None:
    await build_history(service)
    response = await recurrence(service, project_id=ALPHA)
    # failed and verified both have 2 occurrences: verified's events are newer.
    assert [i.recurrence_key for i in response.items] == [
        "alertmanager:gap", "alertmanager:verified", "alertmanager:failed", "alertmanager:gate",
    ]
    assert response.limit == 100


async def test_a_recurrent_group_with_no_run_is_an_automation_gap(service: Service) -> None:
    history = await build_history(service)
    gap = by_key(await recurrence(service, project_id=ALPHA))["alertmanager:gap"]
    assert (gap.occurrence_total, gap.duplicate_total, gap.linked_run_total) == (3, 1, 0)
    # Every event carries its fingerprint ref; the first also a sentry issue ref.
    assert (gap.source_ref_total, gap.missing_source_refs_total) == (5, 0)
    assert (gap.sentry_ref_total, gap.signoz_ref_total, gap.alert_ref_total) == (1, 0, 4)
    assert dict(gap.run_state_counts) == {}
    assert gap.latest_event_id == history.gap_duplicate
    assert gap.latest_provider_event_id == "alertmanager:gap-1"
    assert gap.latest_content_preview == "DiskFull"
    assert (gap.provider, gap.alertname, gap.severity) == ("alertmanager", "DiskFull", "critical")
    assert (gap.namespace, gap.target_resource, gap.fingerprint) == ("prod", "db-0", "gap")
    assert not gap.HasField("latest_run_id")
    assert gap.latest_run_state == common_pb2.RUN_STATE_UNSPECIFIED
    assert not gap.HasField("latest_agent_id") and not gap.HasField("latest_incident_id")
    assert list(gap.incident_ids) == []
    assert not gap.HasField("repair_summary")
    assert gap.work_item == work_items_pb2.WorkItem(
        work_item_id=expected_work_item_id(ALPHA, "alertmanager:gap", "automation_gap"),
        kind=work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP,
        status=work_items_pb2.WORK_ITEM_STATUS_OPEN,
        next_step="propose_runbook",
        recurrence_key="alertmanager:gap",
    )
    assert gap.first_received_at.ToDatetime() < gap.latest_received_at.ToDatetime()


async def test_a_group_whose_last_repair_failed_is_a_failed_repair(service: Service) -> None:
    history = await build_history(service)
    failed = by_key(await recurrence(service, project_id=ALPHA))["alertmanager:failed"]
    assert (failed.occurrence_total, failed.duplicate_total, failed.linked_run_total) == (2, 0, 2)
    assert (failed.source_ref_total, failed.missing_source_refs_total, failed.alert_ref_total) == (2, 0, 2)
    assert dict(failed.run_state_counts) == {"completed": 1, "failed": 1}
    assert failed.latest_event_id == history.failed_events[1]
    assert failed.latest_run_id == history.failed_run
    assert failed.latest_run_state == common_pb2.RUN_STATE_FAILED
    assert (failed.latest_agent_id, failed.latest_incident_id) == ("agent-b", "INC-1")
    assert list(failed.incident_ids) == ["INC-1", "INC-2"]
    assert failed.repair_summary == dossier_pb2.RepairSummary(
        attempted=1, verified=0, failed=1, latest_status=common_pb2.REPAIR_STATUS_FAILED
    )
    assert failed.work_item.kind == work_items_pb2.WORK_ITEM_KIND_FAILED_REPAIR
    assert failed.work_item.next_step == "review_failed_repair"
    assert failed.work_item.work_item_id == expected_work_item_id(
        ALPHA, "alertmanager:failed", "failed_repair"
    )


async def test_a_group_waiting_for_approval_is_a_manual_gate(service: Service) -> None:
    history = await build_history(service)
    gate = by_key(await recurrence(service, project_id=ALPHA))["alertmanager:gate"]
    assert (gate.occurrence_total, gate.duplicate_total, gate.linked_run_total) == (1, 0, 1)
    assert dict(gate.run_state_counts) == {"waiting_approval": 1}
    assert gate.latest_run_id == history.gate_run
    assert gate.latest_run_state == common_pb2.RUN_STATE_WAITING_APPROVAL
    assert gate.latest_agent_id == "agent-c" and not gate.HasField("latest_incident_id")
    assert not gate.HasField("repair_summary")
    assert gate.work_item.kind == work_items_pb2.WORK_ITEM_KIND_MANUAL_GATE
    assert gate.work_item.next_step == "approve_or_reject_run"


async def test_a_verified_repair_calls_for_no_work(service: Service) -> None:
    history = await build_history(service)
    verified = by_key(await recurrence(service, project_id=ALPHA))["alertmanager:verified"]
    assert (verified.occurrence_total, verified.linked_run_total) == (2, 2)
    assert dict(verified.run_state_counts) == {"completed": 1}
    assert verified.latest_run_id == history.verified_run
    assert verified.repair_summary == dossier_pb2.RepairSummary(
        verified=1, latest_status=common_pb2.REPAIR_STATUS_VERIFIED
    )
    assert not verified.HasField("work_item")


async def test_the_summary_adds_up_over_the_events_considered(service: Service) -> None:
    await build_history(service)
    response = await recurrence(service, project_id=ALPHA)
    summary = response.summary
    assert summary.source_event_total == 9  # 4 gap + 2 failed + 2 verified + 1 gate
    assert summary.recurrence_group_total == 4
    assert summary.recurrent_group_total == 3
    assert summary.duplicate_event_total == 1
    assert summary.linked_run_total == 5
    assert summary.unlinked_event_total == 4
    assert summary.auto_repair_linked_total == 4  # failed (2) and verified (2) events
    assert summary.verified_repair_group_total == 1
    assert summary.failed_repair_group_total == 1
    assert summary.open_work_item_group_total == 3
    assert summary.manual_gate_group_total == 1
    assert summary.automation_gap_group_total == 1
    assert summary.latest_received_at == response.items[-1].latest_received_at  # gate is newest


async def test_heartbeats_and_other_projects_never_show(service: Service) -> None:
    await build_history(service)
    alpha = await recurrence(service, project_id=ALPHA)
    assert all(not i.recurrence_key.startswith(("sentry:", "signoz:")) for i in alpha.items)
    assert by_key(alpha)["alertmanager:gap"].occurrence_total == 3  # beta's 3 stay out
    beta = await recurrence(service, project_id="beta")
    assert [(i.recurrence_key, i.occurrence_total) for i in beta.items] == [("alertmanager:gap", 3)]
    # The same key in another project is another work item.
    assert beta.items[0].work_item.work_item_id == expected_work_item_id(
        "beta", "alertmanager:gap", "automation_gap"
    )
    assert beta.items[0].work_item.work_item_id != by_key(alpha)["alertmanager:gap"].work_item.work_item_id


async def test_only_heartbeats_make_an_empty_read_model(service: Service) -> None:
    await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(project_id=ALPHA), metadata=OPERATOR
    )
    response = await recurrence(service, project_id=ALPHA)
    assert list(response.items) == []
    assert response.summary == dossier_pb2.RecurrenceSummary()


async def test_the_window_holds_only_the_most_recent_events(service: Service) -> None:
    await build_history(service)
    # The last three non-heartbeat events of alpha: verified x2, gate.
    response = await recurrence(service, project_id=ALPHA, limit=3)
    assert response.limit == 3
    assert [(i.recurrence_key, i.occurrence_total) for i in response.items] == [
        ("alertmanager:verified", 2), ("alertmanager:gate", 1),
    ]
    assert response.summary.source_event_total == 3
    # Four events of gap in the window: the duplicate and two more occurrences.
    window = await recurrence(service, project_id=ALPHA, limit=8)
    gap = by_key(window)["alertmanager:gap"]
    assert (gap.occurrence_total, gap.duplicate_total) == (2, 1)
    assert window.summary.source_event_total == 8


async def test_the_provider_filter_keeps_one_provider(service: Service) -> None:
    await build_history(service)
    await service.record(provider="sentry", event_id="abc", fingerprint="issue-1", title="KeyError")
    await service.record(provider="sentry", event_id="abd", fingerprint="issue-1", title="KeyError")
    response = await recurrence(service, project_id=ALPHA, provider="sentry")
    assert [(i.recurrence_key, i.occurrence_total) for i in response.items] == [("sentry:issue-1", 2)]
    item = response.items[0]
    assert (item.sentry_ref_total, item.alert_ref_total, item.source_ref_total) == (2, 0, 2)
    assert item.work_item.kind == work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP
    assert response.summary.source_event_total == 2


async def test_a_group_without_fingerprint_is_keyed_by_alertname_namespace_and_target(
    service: Service,
) -> None:
    for i in range(2):
        await service.record(provider="custom", event_id=f"c-{i}", title="Slow",
                             labels={"alertname": "SlowQueries"}, namespace="prod")
    item = (await recurrence(service, project_id=ALPHA)).items[0]
    assert item.recurrence_key == "custom:SlowQueries/prod/"
    assert (item.source_ref_total, item.missing_source_refs_total) == (0, 2)


async def test_limit_zero_means_one_hundred_and_out_of_range_names_limit(service: Service) -> None:
    assert (await recurrence(service, limit=0)).limit == 100
    assert (await recurrence(service, limit=300)).limit == 300
    for bad in (-1, 301):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await recurrence(service, limit=bad)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert violated_fields(raised.value) == ["limit"]


async def test_malformed_filters_are_invalid(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await recurrence(service, project_id="no spaces", provider="UPPER")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert sorted(violated_fields(raised.value)) == ["project_id", "provider"]


async def test_work_item_ids_are_the_same_on_two_calls_and_two_servers(service: Service) -> None:
    await build_history(service)
    first = await recurrence(service, project_id=ALPHA)
    second = await recurrence(service, project_id=ALPHA)
    other = await start_service(service.dsn)
    try:
        third = await recurrence(other, project_id=ALPHA)
    finally:
        await stop_service(other)
    ids = [[i.work_item.work_item_id for i in r.items] for r in (first, second, third)]
    assert ids[0] == ids[1] == ids[2]
    assert len([i for i in ids[0] if i]) == 3
    assert first == second == third
