"""A work item call reads and builds only its own group, and that group is the
one the whole recurrence read model holds (SPEC section 4: "a work item not
found in that read model")."""

from __future__ import annotations

from awooop.channel_events.v1 import work_items_pb2

from server.domain.models import SourceRef
from server.domain.recurrence import recurrence_filter
from tests.harness import OPERATOR, Service
from tests.history import ALPHA, build_history, recurrence


async def test_each_work_items_single_group_is_the_group_of_the_whole_read_model(
    service: Service,
) -> None:
    await build_history(service)
    for project_id, limit in ((ALPHA, 300), ("", 300), (ALPHA, 4)):
        event_filter = recurrence_filter(project_id, "")
        whole = await service.store.recurrence_window(event_filter, limit)
        with_items = [g for g in whole.groups if g.work_item is not None]
        assert with_items, (project_id, limit)
        for group in with_items:
            assert group.work_item is not None
            item_id = group.work_item.work_item_id
            one = await service.store.recurrence_window(event_filter, limit, work_item_id=item_id)
            assert one.groups == [group]
            assert one.handoff_kinds == {k: v for k, v in whole.handoff_kinds.items() if k == item_id}


async def test_a_handoffs_group_also_carries_its_distinct_refs(service: Service) -> None:
    await build_history(service)
    event_filter = recurrence_filter(ALPHA, "")
    [gap] = [g for g in (await service.store.recurrence_window(event_filter, 300)).groups
             if g.facts.recurrence_key == "alertmanager:gap"]
    assert gap.work_item is not None and gap.facts.source_refs == []  # not read for the list
    [one] = (await service.store.recurrence_window(
        event_filter, 300, work_item_id=gap.work_item.work_item_id, with_refs=True
    )).groups
    refs = one.facts.source_refs
    assert len(refs) == len(set(refs)) >= 2
    assert SourceRef(system="sentry", kind="issue", id="4711") in refs
    assert one == gap._replace(facts=gap.facts._replace(source_refs=refs))


async def test_preview_of_each_work_item_answers_with_its_group_of_the_read_model(
    service: Service,
) -> None:
    await build_history(service)
    items = [g for g in (await recurrence(service, project_id=ALPHA, limit=300)).items
             if g.HasField("work_item")]
    assert {g.work_item.kind for g in items} == {
        work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP,
        work_items_pb2.WORK_ITEM_KIND_FAILED_REPAIR,
        work_items_pb2.WORK_ITEM_KIND_MANUAL_GATE,
    }
    for group in items:
        response = await service.work_items.PreviewWorkItem(
            work_items_pb2.PreviewWorkItemRequest(
                work_item_id=group.work_item.work_item_id, project_id=ALPHA
            )
        )
        assert response.work_item == group.work_item
        refs_check = next(c for c in response.checks if c.name == "source_refs_present")
        assert refs_check.passed == (group.source_ref_total > 0)
        assert str(group.source_ref_total) in refs_check.detail or not refs_check.passed


async def test_a_handed_off_work_item_reads_as_handed_off_whole_or_alone(service: Service) -> None:
    await build_history(service)
    event_filter = recurrence_filter(ALPHA, "")
    gate = next(g for g in (await service.store.recurrence_window(event_filter, 300)).groups
                if g.facts.recurrence_key == "alertmanager:gate")
    assert gate.work_item is not None
    item_id = gate.work_item.work_item_id
    request = {"work_item_id": item_id, "project_id": ALPHA}
    await service.work_items.DryRunWorkItem(
        work_items_pb2.DryRunWorkItemRequest(**request), metadata=OPERATOR
    )
    for kind in (work_items_pb2.HANDOFF_KIND_TICKET_PROPOSAL, work_items_pb2.HANDOFF_KIND_MANUAL_TAKEOVER):
        await service.work_items.HandoffWorkItem(
            work_items_pb2.HandoffWorkItemRequest(**request, handoff_kind=kind), metadata=OPERATOR
        )

    whole = await service.store.recurrence_window(event_filter, 300)
    one = await service.store.recurrence_window(event_filter, 300, work_item_id=item_id)

    assert whole.handoff_kinds == one.handoff_kinds == {
        item_id: {"ticket_proposal", "manual_takeover"}
    }
    preview = await service.work_items.PreviewWorkItem(
        work_items_pb2.PreviewWorkItemRequest(**request)
    )
    assert preview.work_item.status == work_items_pb2.WORK_ITEM_STATUS_HANDED_OFF
    assert not next(c for c in preview.checks if c.name == "not_already_handed_off").passed
