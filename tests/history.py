"""A recurrence history built through the public RPCs, and readers of the
recurrence read model, shared by the recurrence and work item tests."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2

from tests.harness import INGEST, OPERATOR, Service

ALPHA = "alpha"


async def record_run(service: Service, **fields: object) -> events_pb2.RecordRunResponse:
    fields.setdefault("project_id", ALPHA)
    fields.setdefault("run_id", str(uuid.uuid4()))
    return await service.events.RecordRun(events_pb2.RecordRunRequest(**fields), metadata=INGEST)


async def recurrence(service: Service, **fields: object) -> dossier_pb2.GetDossierRecurrenceResponse:
    return await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(**fields)
    )


def expected_work_item_id(project_id: str, recurrence_key: str, kind: str) -> str:
    digest = hashlib.sha256(f"{project_id}|{recurrence_key}|{kind}".encode()).hexdigest()
    return "wi-" + digest[:16]


@dataclass
class History:
    """What build_history recorded, for the assertions."""

    gap_events: list[str]
    gap_duplicate: str
    failed_events: list[str]
    failed_run: str
    attempted_run: str
    gate_event: str
    gate_run: str
    verified_events: list[str]
    verified_run: str


async def build_history(service: Service) -> History:
    """Four groups in project alpha, recorded oldest first:

    - am:gap       3 occurrences + 1 duplicate, no run        -> automation_gap
    - am:failed    2 occurrences, an attempted then a failed run -> failed_repair
    - am:verified  2 occurrences, one verified completed run   -> no work item
    - am:gate      1 occurrence, a run waiting for approval    -> manual_gate

    plus heartbeats of alpha and events of project beta, which must not show.
    """
    gap = [
        await service.record(fingerprint="gap", title="DiskFull", namespace="prod",
                             target_resource="db-0", severity="critical", event_id=f"gap-{i}",
                             labels={"sentry_issue_id": "4711"} if i == 0 else {})
        for i in range(3)
    ]
    gap_duplicate = await service.record(fingerprint="gap", title="DiskFull", event_id="gap-1",
                                         namespace="prod", target_resource="db-0",
                                         severity="critical")
    assert gap_duplicate.is_duplicate

    failed = [
        await service.record(fingerprint="failed", title="ApiErrors", event_id=f"failed-{i}",
                             severity="warning")
        for i in range(2)
    ]
    attempted_run = await record_run(
        service, event_ids=[failed[0].event_id], state=common_pb2.RUN_STATE_COMPLETED,
        repair_status=common_pb2.REPAIR_STATUS_ATTEMPTED, incident_id="INC-2", agent_id="agent-a",
    )
    failed_run = await record_run(
        service, event_ids=[e.event_id for e in failed], state=common_pb2.RUN_STATE_FAILED,
        repair_status=common_pb2.REPAIR_STATUS_FAILED, incident_id="INC-1", agent_id="agent-b",
    )

    verified = [
        await service.record(fingerprint="verified", title="CpuHigh", event_id=f"ok-{i}")
        for i in range(2)
    ]
    verified_run = await record_run(
        service, event_ids=[e.event_id for e in verified], state=common_pb2.RUN_STATE_COMPLETED,
        repair_status=common_pb2.REPAIR_STATUS_VERIFIED,
    )

    gate = await service.record(fingerprint="gate", title="RestartLoop", event_id="gate-0")
    gate_run = await record_run(
        service, event_ids=[gate.event_id], state=common_pb2.RUN_STATE_WAITING_APPROVAL,
        agent_id="agent-c",
    )

    await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(project_id=ALPHA), metadata=OPERATOR
    )
    for i in range(3):
        await service.record(project_id="beta", fingerprint="gap", event_id=f"beta-{i}")

    return History(
        gap_events=[e.event_id for e in gap],
        gap_duplicate=gap_duplicate.event_id,
        failed_events=[e.event_id for e in failed],
        failed_run=failed_run.run_id,
        attempted_run=attempted_run.run_id,
        gate_event=gate.event_id,
        gate_run=gate_run.run_id,
        verified_events=[e.event_id for e in verified],
        verified_run=verified_run.run_id,
    )


def by_key(response: dossier_pb2.GetDossierRecurrenceResponse) -> dict[str, dossier_pb2.RecurrenceGroup]:
    return {item.recurrence_key: item for item in response.items}
