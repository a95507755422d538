"""What makes it a first-class gRPC service: health, reflection, safe errors,
recovery from a database outage."""

from __future__ import annotations

import asyncio
import grpc
import pytest
from awooop.channel_events.v1 import events_pb2
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.harness import PostgresForTests, Service, error_details, set_database_open


async def test_health_reports_serving_for_the_server_and_each_service(service: Service) -> None:
    health = health_pb2_grpc.HealthStub(service.channel)
    for name in (
        "",
        "awooop.channel_events.v1.EventService",
        "awooop.channel_events.v1.DossierService",
        "awooop.channel_events.v1.WorkItemService",
    ):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_reflection_lists_the_three_services_and_health(service: Service) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(service.channel)
    call = stub.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    response = await call.read()
    await call.done_writing()
    names = {s.name for s in response.list_services_response.service}
    assert {
        "awooop.channel_events.v1.EventService",
        "awooop.channel_events.v1.DossierService",
        "awooop.channel_events.v1.WorkItemService",
        "grpc.health.v1.Health",
    } <= names


async def test_reflection_serves_the_contract_with_its_comments(service: Service) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(service.channel)
    call = stub.ServerReflectionInfo()
    await call.write(
        reflection_pb2.ServerReflectionRequest(
            file_containing_symbol="awooop.channel_events.v1.EventService"
        )
    )
    response = await call.read()
    await call.done_writing()
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(serialized)
        for serialized in response.file_descriptor_response.file_descriptor_proto
    ]
    events_file = next(f for f in files if f.name == "awooop/channel_events/v1/events.proto")
    comments = [loc.leading_comments for loc in events_file.source_code_info.location]
    assert any("Records alert events and agent runs" in c for c in comments)


async def test_the_database_going_away_is_unavailable_and_the_server_recovers(
    service: Service, postgres: PostgresForTests
) -> None:
    await service.record()
    await set_database_open(postgres, service.dsn, False)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        _, info = error_details(raised.value)
        assert info is not None and info.reason == "DATABASE_UNAVAILABLE"
        assert "asyncpg" not in (raised.value.details() or "")
    finally:
        await set_database_open(postgres, service.dsn, True)
    for _ in range(50):  # the pool reconnects by itself
        try:
            response = await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())
            break
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            await asyncio.sleep(0.1)
    assert response.total == 1
