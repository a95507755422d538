"""ListRecentEvents, GetEventDossier and GetDossierCoverage: order, paging, totals, limits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2

from tests.harness import Service, violated_fields


async def list_recent(service: Service, **fields: object) -> events_pb2.ListRecentEventsResponse:
    return await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(**fields))


async def test_recent_events_are_newest_first_with_their_summary_fields(service: Service) -> None:
    ids = [(await service.record(title=f"t{i}", channel_chat_id="c")).event_id for i in range(3)]
    response = await list_recent(service, project_id="alpha")
    assert [e.event_id for e in response.events] == ids[::-1]
    assert response.total == 3 and response.limit == 20 and response.next_page_token == ""
    newest = response.events[0]
    assert (newest.content_preview, newest.channel_chat_id, newest.channel_type) == ("t2", "c", "alert")
    assert newest.provider_event_id.startswith("alertmanager:")


async def test_recent_events_filter_by_project_channel_and_provider_prefix(service: Service) -> None:
    await service.record(provider="sentry", event_id="s1")
    await service.record(provider="signoz", event_id="z1")
    await service.record(provider="sentry", event_id="s2", project_id="beta")
    await service.record(provider="sentry", event_id="s3", channel_type="chat")
    response = await list_recent(service, project_id="alpha", provider_prefix="sentry:", channel_type="alert")
    assert [e.provider_event_id for e in response.events] == ["sentry:s1"]
    everything = await list_recent(service)
    assert everything.total == 4


async def walk(service: Service, page_size: int, during_each_page: int) -> list[str]:
    """Pages through ListRecentEvents while recording new events between pages."""
    seen: list[str] = []
    token = ""
    while True:
        page = await list_recent(service, project_id="alpha", limit=page_size, page_token=token)
        seen += [e.event_id for e in page.events]
        assert page.total == len(page.events) <= page_size
        for _ in range(during_each_page):
            await service.record()
        if not page.next_page_token:
            return seen
        token = page.next_page_token


async def test_paging_walks_every_event_exactly_once_while_new_events_arrive(service: Service) -> None:
    existing = [(await service.record()).event_id for _ in range(23)]
    seen = await walk(service, page_size=5, during_each_page=3)
    assert seen == existing[::-1]  # each once, newest first; later arrivals not mixed in


async def test_dossier_paging_walks_every_event_exactly_once_while_new_events_arrive(
    service: Service,
) -> None:
    existing = [(await service.record()).event_id for _ in range(12)]
    seen, token = [], ""
    while True:
        page = await service.dossier.GetEventDossier(
            dossier_pb2.GetEventDossierRequest(project_id="alpha", limit=5, page_token=token)
        )
        seen += [e.event_id for e in page.events]
        await asyncio.gather(*(service.record() for _ in range(4)))
        if not page.next_page_token:
            break
        token = page.next_page_token
    assert seen == existing[::-1]


async def test_a_page_token_reused_with_other_filters_is_refused(service: Service) -> None:
    for _ in range(3):
        await service.record()
    page = await list_recent(service, project_id="alpha", limit=1)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await list_recent(service, project_id="beta", limit=1, page_token=page.next_page_token)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["page_token"]


@pytest.mark.parametrize("token", ["garbage", "eyJiIjogLTF9", "!!!"])
async def test_a_malformed_page_token_is_invalid(service: Service, token: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await list_recent(service, page_token=token)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["page_token"]


LIMITS = [
    ("ListRecentEvents", 20, 100),
    ("GetEventDossier", 20, 50),
    ("GetDossierCoverage", 100, 200),
]


async def call(service: Service, rpc: str, **fields: object) -> Any:
    if rpc == "ListRecentEvents":
        return await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(**fields))
    request_type = getattr(dossier_pb2, f"{rpc}Request")
    return await getattr(service.dossier, rpc)(request_type(**fields))


@pytest.mark.parametrize(("rpc", "default", "maximum"), LIMITS)
async def test_limit_zero_means_the_default_and_the_maximum_is_accepted(
    service: Service, rpc: str, default: int, maximum: int
) -> None:
    assert (await call(service, rpc, limit=0)).limit == default
    assert (await call(service, rpc, limit=maximum)).limit == maximum
    assert (await call(service, rpc, limit=1)).limit == 1


@pytest.mark.parametrize(("rpc", "default", "maximum"), LIMITS)
@pytest.mark.parametrize("offset", [1, "negative"])
async def test_limit_above_the_maximum_or_negative_is_invalid(
    service: Service, rpc: str, default: int, maximum: int, offset: object
) -> None:
    limit = -1 if offset == "negative" else maximum + 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(service, rpc, limit=limit)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["limit"]


async def test_dossier_limit_returns_exactly_that_many(service: Service) -> None:
    for _ in range(52):
        await service.record()
    page = await call(service, "GetEventDossier", limit=50)
    assert len(page.events) == 50 and page.next_page_token


async def test_dossier_filters_by_provider_event_id_and_summarises_the_page(service: Service) -> None:
    await service.record(provider="sentry", event_id="ev", title="password=hunter2")
    await service.record(provider="sentry", event_id="ev")
    await service.record(provider="sentry", event_id="other")
    response = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(provider_event_id="sentry:ev")
    )
    assert [e.is_duplicate for e in response.events] == [True, False]
    assert response.summary == dossier_pb2.DossierSummary(
        source_count=2, duplicate_total=1, redacted_total=1, source_ref_total=2
    )


async def test_dossier_run_filter_needs_a_uuid(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(run_id="run-1"))
    assert violated_fields(raised.value) == ["run_id"]
    unknown = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(run_id=str(uuid.uuid4()))
    )
    assert unknown.total == 0


async def test_coverage_rows_add_up_to_the_summary(service: Service) -> None:
    await service.record(provider="sentry", event_id="a", title="token=abc123def")
    await service.record(provider="sentry", event_id="a")
    await service.record(provider="signoz", event_id="z", labels={"ruleId": "7"})
    await service.record(provider="alertmanager", event_id="m1", fingerprint="fp")
    await service.record(provider="custom", event_id="c1")  # no refs at all
    await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(project_id="alpha"),
        metadata=(("authorization", "Bearer test-operator-token"),),
    )
    await service.record(provider="sentry", event_id="elsewhere", project_id="beta")

    coverage = await service.dossier.GetDossierCoverage(
        dossier_pb2.GetDossierCoverageRequest(project_id="alpha")
    )
    rows = {row.provider: row for row in coverage.providers}
    assert list(rows) == ["alertmanager", "custom", "sentry", "signoz"]  # by name
    assert (rows["sentry"].total, rows["sentry"].duplicate_total, rows["sentry"].redacted_total) == (3, 1, 1)
    assert rows["sentry"].sentry_ref_total == 3  # heartbeats count here
    assert rows["signoz"].total == 2 and rows["signoz"].signoz_ref_total == 2
    assert rows["custom"].missing_source_refs_total == 1
    assert rows["alertmanager"].alert_ref_total == 1
    summary = coverage.summary
    for name in (
        "duplicate_total", "redacted_total", "source_ref_total", "missing_source_refs_total",
        "sentry_ref_total", "signoz_ref_total", "alert_ref_total",
    ):
        assert getattr(summary, name) == sum(getattr(r, name) for r in coverage.providers), name
    assert summary.source_count == sum(r.total for r in coverage.providers) == 7
    assert summary.source_envelope_total == 7 and summary.missing_source_envelope_total == 0
    assert summary.with_source_refs_total == 6
    assert summary.latest_received_at.ToDatetime() == max(
        r.latest_received_at.ToDatetime() for r in coverage.providers
    )


async def test_coverage_considers_only_the_most_recent_limit_events(service: Service) -> None:
    for index in range(5):
        await service.record(provider="sentry" if index < 3 else "signoz")
    coverage = await service.dossier.GetDossierCoverage(
        dossier_pb2.GetDossierCoverageRequest(limit=2)
    )
    assert [(r.provider, r.total) for r in coverage.providers] == [("signoz", 2)]
    filtered = await service.dossier.GetDossierCoverage(
        dossier_pb2.GetDossierCoverageRequest(provider="sentry")
    )
    assert [(r.provider, r.total) for r in filtered.providers] == [("sentry", 3)]


async def test_legacy_rows_without_an_envelope_are_counted_as_missing(service: Service) -> None:
    await service.record()
    async with service.store.pool.acquire() as connection:
        await connection.execute("UPDATE events SET source_envelope = NULL")
    coverage = await service.dossier.GetDossierCoverage(dossier_pb2.GetDossierCoverageRequest())
    assert coverage.summary.missing_source_envelope_total == 1
    assert coverage.summary.source_envelope_total == 0


