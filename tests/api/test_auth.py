"""Auth (SPEC section 7): roles, project scopes, open or closed reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2, work_items_pb2

from server.api.guard import REQUIRED_ROLE
from tests.harness import (
    TOKENS,
    Service,
    bearer,
    error_details,
    reason_of,
    start_service,
    stop_service,
)


def event(project_id: str = "alpha") -> events_pb2.RecordAlertEventRequest:
    return events_pb2.RecordAlertEventRequest(project_id=project_id, provider="sentry", event_id="e1")


@pytest.mark.parametrize(
    ("metadata", "code", "reason"),
    [
        ((), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING"),
        ((("authorization", "Bearer "),), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING"),
        (
            (("authorization", "Bearer not-a-known-token"),),
            grpc.StatusCode.UNAUTHENTICATED,
            "TOKEN_UNKNOWN",
        ),
        ((("authorization", "test-ingest-token"),), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING"),
        (bearer("reader"), grpc.StatusCode.PERMISSION_DENIED, "ROLE_MISSING"),
        (bearer("operator"), grpc.StatusCode.PERMISSION_DENIED, "ROLE_MISSING"),
    ],
)
async def test_writes_need_a_known_token_with_the_ingest_role(
    service: Service, metadata: tuple[tuple[str, str], ...], code: grpc.StatusCode, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordAlertEvent(event(), metadata=metadata)
    assert raised.value.code() == code
    _, info = error_details(raised.value)
    assert info is not None and info.reason == reason
    assert "not-a-known-token" not in (raised.value.details() or "")
    assert await service.count_rows("events") == 0


@pytest.mark.parametrize("token", ["ingest", "all", "alpha_only"])
async def test_keys_with_the_ingest_role_may_write(service: Service, token: str) -> None:
    response = await service.events.RecordAlertEvent(event(), metadata=bearer(token))
    assert response.event_id


async def test_a_scoped_key_may_not_touch_another_project(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordAlertEvent(event("beta"), metadata=bearer("alpha_only"))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.dossier.GetEventDossier(
            dossier_pb2.GetEventDossierRequest(project_id="beta"), metadata=bearer("alpha_only")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_scoped_key_must_name_its_project_when_reading(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.ListRecentEvents(
            events_pb2.ListRecentEventsRequest(), metadata=bearer("alpha_only")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    allowed = await service.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(project_id="alpha"), metadata=bearer("alpha_only")
    )
    assert allowed.total == 0


async def test_reads_are_open_by_default(service: Service) -> None:
    response = await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())
    assert response.limit == 20


@pytest.fixture
async def closed_service(database: str) -> AsyncIterator[Service]:
    running = await start_service(database, require_read_auth=True)
    yield running
    await stop_service(running)


async def test_reads_need_a_key_when_read_auth_is_required(closed_service: Service) -> None:
    request = events_pb2.ListRecentEventsRequest()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await closed_service.events.ListRecentEvents(request)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for token in ("reader", "ingest", "operator"):  # any key may read
        assert (await closed_service.events.ListRecentEvents(request, metadata=bearer(token))).limit == 20


def test_every_served_method_declares_the_role_it_needs() -> None:
    served = {
        f"{service.name}/{method.name}"
        for module in (events_pb2, dossier_pb2, work_items_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert served == set(REQUIRED_ROLE)


async def test_two_authorization_headers_are_refused_even_if_one_is_good(service: Service) -> None:
    metadata = (
        ("authorization", f"Bearer {TOKENS['ingest']}"),
        ("authorization", "Bearer not-a-known-token"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordAlertEvent(event(), metadata=metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert reason_of(raised.value) == "TOKEN_AMBIGUOUS"
    assert await service.count_rows("events") == 0


async def test_a_heartbeat_without_project_is_checked_against_its_default_project(
    service: Service,
) -> None:
    # The heartbeat's project defaults to "awoooi": a key scoped to alpha may
    # not write there, and is told so, not asked to name a project.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordProviderHeartbeat(
            events_pb2.RecordProviderHeartbeatRequest(), metadata=bearer("alpha_only")
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert reason_of(raised.value) == "PROJECT_FORBIDDEN"
    response = await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(), metadata=bearer("operator")
    )
    assert response.project_id == "awoooi"
