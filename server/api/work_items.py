"""WorkItemService: plans, dry-runs and handoffs of recurrence work items.

A work item is found again in the recurrence read model on every call (same
filters, limit 1-300, default 300), so it always reflects the events and runs
as they are now. Preview writes nothing; a dry-run appends one history
record; a handoff appends one the first time and none after. No call touches
an event, a run or an incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from awooop.channel_events.v1 import work_items_pb2, work_items_pb2_grpc

from server.api import convert
from server.api.guard import current_principal
from server.api.recurrence import load_read_model, validate_filters
from server.domain.recurrence import RecurrenceGroup
from server.domain.validation import WORK_ITEM_LIMIT, Violations
from server.domain.work_items import (
    DRY_RUN_REQUIRED_MESSAGE,
    NOT_FOUND_MESSAGE,
    Evaluation,
    build_proposal,
    dry_run_outcome,
    evaluate,
)
from server.domain.errors import FailedPrecondition, NotFound
from server.storage.store import Store

MAX_WORK_ITEM_ID = 64


class WorkItemRequest(Protocol):
    """The fields Preview, DryRun and Handoff requests share."""

    @property
    def work_item_id(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def limit(self) -> int: ...
    @property
    def mode(self) -> int: ...


@dataclass(frozen=True)
class Found:
    group: RecurrenceGroup
    evaluation: Evaluation


def _validate(request: WorkItemRequest, violations: Violations) -> int:
    """Checks the shared fields; returns the effective limit."""
    violations.length(request.work_item_id, "work_item_id", MAX_WORK_ITEM_ID, minimum=1)
    if request.mode not in work_items_pb2.WorkItemMode.values():
        violations.add("mode", "must be auto or manual")
    return validate_filters(
        violations, request.project_id, request.provider, request.limit, WORK_ITEM_LIMIT
    )


def _plan(evaluation: Evaluation) -> dict[str, Any]:
    """The fields a preview and a dry-run both answer with."""
    return {
        "work_item": convert.work_item(evaluation.work_item),
        "mode": convert.work_item_mode(evaluation.mode),
        "next_step": evaluation.next_step,
        "steps": [convert.plan_step(s) for s in evaluation.steps],
        "checks": [convert.preflight_check(c) for c in evaluation.checks],
        "guarantees": convert.READ_ONLY_GUARANTEES,
    }


async def _find(store: Store, request: WorkItemRequest, limit: int) -> Found:
    """The work item in the read model of the request's filters, evaluated."""
    model = await load_read_model(store, request.project_id, request.provider, limit)
    group = model.find_work_item(request.work_item_id)
    if group is None:
        raise NotFound(NOT_FOUND_MESSAGE, NOT_FOUND_MESSAGE.upper())
    evaluation = evaluate(
        group,
        convert.work_item_mode_from_proto(request.mode),
        model.handoff_kinds.get(request.work_item_id, ()),
        model.as_of,
    )
    return Found(group=group, evaluation=evaluation)


class WorkItemService(work_items_pb2_grpc.WorkItemServiceServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    async def PreviewWorkItem(
        self, request: work_items_pb2.PreviewWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.PreviewWorkItemResponse:
        violations = Violations()
        limit = _validate(request, violations)
        violations.raise_if_any()
        found = await _find(self._store, request, limit)
        evaluation = found.evaluation
        return work_items_pb2.PreviewWorkItemResponse(**_plan(evaluation))

    async def DryRunWorkItem(
        self, request: work_items_pb2.DryRunWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.DryRunWorkItemResponse:
        violations = Violations()
        limit = _validate(request, violations)
        violations.raise_if_any()
        found = await _find(self._store, request, limit)
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
            operator_id=current_principal().operator_id,
        )
        return work_items_pb2.DryRunWorkItemResponse(
            **_plan(evaluation),
            dry_run_id=str(record.dry_run_id),
            outcome=convert.dry_run_outcome(outcome),
            failed_checks=failed,
            created_at=convert.timestamp(record.created_at),
        )

    async def HandoffWorkItem(
        self, request: work_items_pb2.HandoffWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.HandoffWorkItemResponse:
        violations = Violations()
        limit = _validate(request, violations)
        if request.handoff_kind not in work_items_pb2.HandoffKind.values():
            violations.add("handoff_kind", "must be ticket_proposal or manual_takeover")
        violations.raise_if_any()
        found = await _find(self._store, request, limit)
        item = found.evaluation.work_item
        dry_run = await self._store.latest_dry_run(item.work_item_id)
        if dry_run is None:
            raise FailedPrecondition(DRY_RUN_REQUIRED_MESSAGE, DRY_RUN_REQUIRED_MESSAGE.upper())
        kind = convert.handoff_kind_from_proto(request.handoff_kind)
        handoff, created = await self._store.record_handoff_once(
            work_item_id=item.work_item_id,
            project_id=found.group.facts.project_id,
            handoff_kind=kind,
            dry_run_id=dry_run.dry_run_id,
            proposal=build_proposal(found.group, kind),
            operator_id=current_principal().operator_id,
        )
        return work_items_pb2.HandoffWorkItemResponse(
            handoff=convert.handoff(handoff),
            created=created,
            work_item=convert.work_item(item.handed_off()),
            guarantees=convert.READ_ONLY_GUARANTEES,
        )

    async def ListWorkItemHistory(
        self,
        request: work_items_pb2.ListWorkItemHistoryRequest,
        context: grpc.aio.ServicerContext,
    ) -> work_items_pb2.ListWorkItemHistoryResponse:
        violations = Violations()
        violations.length(request.work_item_id, "work_item_id", MAX_WORK_ITEM_ID, minimum=1)
        violations.project_id(request.project_id, required=False)
        violations.raise_if_any()
        records = await self._store.work_item_history(request.work_item_id, request.project_id)
        return work_items_pb2.ListWorkItemHistoryResponse(
            records=[convert.history_record(r) for r in records]
        )
