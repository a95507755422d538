"""RecordRun and RecordProviderHeartbeat."""

from __future__ import annotations

import re
import uuid

import grpc
import pytest
from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2

from tests.harness import INGEST, OPERATOR, Service, bearer, violated_fields


async def record_run(service: Service, **fields: object) -> events_pb2.RecordRunResponse:
    fields.setdefault("project_id", "alpha")
    return await service.events.RecordRun(events_pb2.RecordRunRequest(**fields), metadata=INGEST)


async def test_a_run_is_created_then_updated_and_links_only_grow(service: Service) -> None:
    first, second = await service.record(), await service.record()
    run_id = str(uuid.uuid4())
    created = await record_run(service, run_id=run_id, event_ids=[first.event_id])
    assert created.created is True
    assert created.state == common_pb2.RUN_STATE_QUEUED
    assert created.repair_status == common_pb2.REPAIR_STATUS_NONE
    assert created.linked_event_total == 1

    updated = await record_run(
        service,
        run_id=run_id,
        event_ids=[second.event_id],
        state=common_pb2.RUN_STATE_WAITING_APPROVAL,
        repair_status=common_pb2.REPAIR_STATUS_ATTEMPTED,
        incident_id="INC-7",
    )
    assert updated.created is False
    assert updated.state == common_pb2.RUN_STATE_WAITING_APPROVAL
    assert updated.repair_status == common_pb2.REPAIR_STATUS_ATTEMPTED
    assert updated.linked_event_total == 2  # a call adds links, never removes

    again = await record_run(service, run_id=run_id)  # unspecified keeps the state
    assert again.state == common_pb2.RUN_STATE_WAITING_APPROVAL
    assert again.linked_event_total == 2

    linked = await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(run_id=run_id))
    assert {e.event_id for e in linked.events} == {first.event_id, second.event_id}


async def test_a_run_linking_an_unknown_event_is_not_found_and_writes_nothing(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record_run(service, run_id=str(uuid.uuid4()), event_ids=[str(uuid.uuid4())])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert await service.count_rows("runs") == 0


async def test_a_run_linking_another_projects_event_is_invalid(service: Service) -> None:
    other = await service.record(project_id="beta")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record_run(service, run_id=str(uuid.uuid4()), event_ids=[other.event_id])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["event_ids"]
    assert await service.count_rows("runs") == 0


async def test_a_run_of_another_project_cannot_be_taken_over(service: Service) -> None:
    run_id = str(uuid.uuid4())
    await record_run(service, run_id=run_id, project_id="beta")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record_run(service, run_id=run_id, state=common_pb2.RUN_STATE_CANCELLED)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["run_id"]


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"run_id": "not-a-uuid"}, "run_id"),
        ({"run_id": "6f9619ff8b86d011b42d00cf4fc964ff"}, "run_id"),  # not canonical
        ({"run_id": "6F9619FF-8B86-D011-B42D-00CF4FC964FF"}, "run_id"),  # upper case
        ({"event_ids": ["nope"]}, "event_ids[0]"),
        ({"state": 42}, "state"),
        ({"repair_status": 9}, "repair_status"),
        ({"event_ids": [str(uuid.uuid4()) for _ in range(1001)]}, "event_ids"),
    ],
)
async def test_malformed_runs_are_refused_naming_the_field(
    service: Service, fields: dict[str, object], bad_field: str
) -> None:
    fields.setdefault("run_id", str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record_run(service, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == [bad_field]


async def heartbeat(service: Service, **fields: object) -> events_pb2.RecordProviderHeartbeatResponse:
    return await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(**fields), metadata=OPERATOR
    )


async def test_heartbeat_writes_one_event_and_one_completed_shadow_run_per_provider(
    service: Service,
) -> None:
    before = await service.table_counts()
    response = await heartbeat(service, run_ref="smoke-1")
    after = await service.table_counts()
    written = {table: after[table] - before[table] for table in after if after[table] != before[table]}
    # event_cursor is updated in place, schema_migrations untouched: nothing else is written.
    assert written == {"events": 2, "runs": 2, "run_events": 2}
    assert response.status == "recorded"
    assert response.project_id == "awoooi"
    assert [item.provider for item in response.items] == ["sentry", "signoz"]
    for item in response.items:
        assert re.fullmatch(r"heartbeat-\d{8}T\d{6}Z", item.event_id)

    dossier = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id="awoooi")
    )
    by_provider = {e.provider: e for e in dossier.events}
    sentry = by_provider["sentry"]
    assert sentry.stage == "heartbeat"
    assert sentry.alertname == "SourceProviderHeartbeat"
    assert sentry.severity == "info"
    assert sentry.namespace == "awoooi-prod"
    assert sentry.target_resource == "source-provider-ingestion"
    assert sentry.fingerprint == "source-provider-heartbeat:sentry"
    assert sentry.provider_event_id == f"sentry:{response.items[0].event_id}"
    async with service.store.pool.acquire() as connection:
        runs = await connection.fetch("SELECT state, repair_status, project_id FROM runs")
        envelope = await connection.fetchval(
            "SELECT source_envelope FROM events WHERE id = $1",
            uuid.UUID(response.items[0].conversation_event_id),
        )
    assert {(r["state"], r["repair_status"], r["project_id"]) for r in runs} == {
        ("completed", "none", "awoooi")
    }
    assert envelope["labels"] == {
        "provider": "sentry",
        "synthetic": "true",
        "alert_category": "alertchain_provider_freshness",
        "telegram": "not_sent",
        "incident": "not_created",
    }
    assert envelope["payload"]["reason"] == "scheduled_provider_freshness_smoke"
    assert envelope["payload"]["run_ref"] == "smoke-1"
    assert envelope["payload"]["operator_id"] == "oncall"
    assert envelope["payload"]["auth_method"] == "bearer"
    assert not any(envelope["payload"]["side_effects"].values())


async def test_heartbeat_for_one_provider_uses_the_configured_project(service: Service) -> None:
    response = await heartbeat(service, project_id="alpha", providers=["signoz"], reason="manual")
    assert [item.provider for item in response.items] == ["signoz"]
    assert await service.count_rows("events") == 1 and await service.count_rows("runs") == 1


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"providers": ["sentry", "sentry"]}, "providers"),
        ({"providers": ["alertmanager"]}, "providers"),
        ({"providers": ["sentry", "signoz", "sentry"]}, "providers"),
        ({"reason": ""}, "reason"),
        ({"reason": "r" * 121}, "reason"),
        ({"run_ref": "r" * 121}, "run_ref"),
        ({"project_id": "bad project"}, "project_id"),
    ],
)
async def test_malformed_heartbeats_are_refused_and_write_nothing(
    service: Service, fields: dict[str, object], bad_field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await heartbeat(service, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == [bad_field]
    assert await service.count_rows("events") == 0


async def test_heartbeat_limits_at_their_edges_are_accepted(service: Service) -> None:
    response = await heartbeat(service, reason="r" * 120, run_ref="r" * 120)
    assert len(response.items) == 2


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer wrong-token"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Basic dXNlcjpwYXNz"),), grpc.StatusCode.UNAUTHENTICATED),
        (bearer("ingest"), grpc.StatusCode.PERMISSION_DENIED),
        (bearer("reader"), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_heartbeat_refuses_a_missing_or_wrong_token_and_writes_nothing(
    service: Service, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordProviderHeartbeat(
            events_pb2.RecordProviderHeartbeatRequest(), metadata=metadata
        )
    assert raised.value.code() == code
    assert await service.count_rows("events") == 0
    assert await service.count_rows("runs") == 0
