"""/metrics after known calls: the gRPC series under their usual names, the
HTTP ones, the service's own, with the expected counts and bounded labels;
and the request id, given or made, returned and in an error's ErrorInfo."""

from __future__ import annotations

import asyncio
import json

import grpc
import httpx
import pytest
from awooop.channel_events.v1 import events_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client.parser import text_string_to_metric_families

from server.observability.grpc_calls import SETTLE_EVERY
from tests.harness import INGEST, TOKENS, Service, bearer
from tests.samples import sample_bytes
from tests.watching import Subscription

RECORD = {"grpc_type": "unary", "grpc_service": "awooop.channel_events.v1.EventService",
          "grpc_method": "RecordAlertEvent"}


async def scrape(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, by name and labels."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{service.app.http_port}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_unary_calls_are_counted_in_batches_without_a_scrape(service: Service) -> None:
    # Counted in batches of SETTLE_EVERY (and on every scrape): a server no
    # one scrapes keeps a bounded backlog, and its registry stays current.
    list_recent = {"grpc_type": "unary", "grpc_service": "awooop.channel_events.v1.EventService",
                   "grpc_method": "ListRecentEvents", "grpc_code": "OK"}
    for _ in range(SETTLE_EVERY):
        await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(limit=1))
    registry = service.app.metrics.registry
    assert registry.get_sample_value("grpc_server_handled_total", list_recent) == SETTLE_EVERY


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_grpc_calls_are_counted_under_the_usual_names(service: Service) -> None:
    await service.record(event_id="m-1", title="t")
    await service.record(event_id="m-1", title="t")  # a retry: a duplicate
    with pytest.raises(grpc.aio.AioRpcError):
        await service.events.RecordAlertEvent(
            events_pb2.RecordAlertEventRequest(project_id="alpha", provider="alertmanager", event_id="x"),
            metadata=bearer("reader"),
        )
    samples = await scrape(service)
    assert value(samples, "grpc_server_started_total", **RECORD) == 3
    assert value(samples, "grpc_server_msg_received_total", **RECORD) == 3
    assert value(samples, "grpc_server_handled_total", **RECORD, grpc_code="OK") == 2
    assert value(samples, "grpc_server_handled_total", **RECORD, grpc_code="PERMISSION_DENIED") == 1
    assert value(samples, "grpc_server_handling_seconds_count", **RECORD) == 3
    assert value(samples, "channel_events_recorded_total", provider="alertmanager", outcome="new") == 1
    assert value(samples, "channel_events_recorded_total", provider="alertmanager", outcome="duplicate") == 1
    assert value(samples, "channel_events_request_errors_total", transport="grpc",
                 method="/awooop.channel_events.v1.EventService/RecordAlertEvent", reason="ROLE_MISSING") == 1
    assert value(samples, "channel_events_db_pool_max") == service.store.pool.get_max_size()
    assert value(samples, "channel_events_db_pool_connections") >= 1


async def test_stream_messages_subscribers_and_redactions_are_counted(service: Service) -> None:
    watcher = await Subscription(service.channel).open()
    await service.record(title="login failed", annotations={"detail": "password=hunter2 for db"})
    await watcher.until(lambda r: len(r.events) >= 1)
    samples = await scrape(service)
    assert value(samples, "channel_events_watch_subscribers", transport="grpc") == 1
    assert value(samples, "channel_events_watch_subscribers", transport="sse") == 0
    # Caught up: the event was delivered.
    assert value(samples, "channel_events_watch_subscribers_behind", transport="grpc") == 0
    assert ("channel_events_watch_subscribers_behind", frozenset({("transport", "grpc")})) in samples
    assert value(samples, "channel_events_redactions_total", kind="password") >= 1
    watch = {"grpc_type": "server_stream", "grpc_service": "awooop.channel_events.v1.EventService",
             "grpc_method": "WatchEvents"}
    # The opening progress and the event, at least.
    assert value(samples, "grpc_server_msg_sent_total", **watch) >= 2
    assert value(samples, "channel_events_watch_delivery_lag_seconds_count", transport="grpc") >= 1
    await watcher.cancel()


async def test_http_requests_are_counted_by_route_template(service: Service) -> None:
    body = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        auth = {"Authorization": f"Bearer {TOKENS['ingest']}"}
        assert (await client.post("/webhooks/alertmanager/alpha", content=body, headers=auth)).status_code == 200
        assert (await client.post("/webhooks/alertmanager/alpha", content=b"{", headers=auth)).status_code == 400
        assert (await client.get("/no/such/path")).status_code == 404
    samples = await scrape(service)
    route = "/webhooks/{provider}/{project_id}"
    assert value(samples, "http_server_requests_total", method="POST", route=route, status="200") == 1
    assert value(samples, "http_server_requests_total", method="POST", route=route, status="400") == 1
    assert value(samples, "http_server_requests_total", method="GET", route="unmatched", status="404") == 1
    assert value(samples, "channel_events_ingest_rejected_total", provider="alertmanager",
                 reason="INVALID_ARGUMENT") == 1
    assert value(samples, "channel_events_request_errors_total", transport="http", method=route,
                 reason="INVALID_ARGUMENT") == 1


async def test_labels_stay_bounded_no_ids_tokens_or_text(service: Service) -> None:
    secret = "sk_live_abcdefghijklmnopqrstuvwx"
    recorded = await service.record(provider="custom-pager", title=f"token {secret}",
                                    labels={"team": "x"}, event_id="evt-label-check")
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        await client.get("/events/recent", params={"project_id": "alpha"},
                         headers={"Authorization": f"Bearer {TOKENS['all']}"})
        await client.get(f"/events/dossier/{recorded.event_id}")
        text = (await client.get(f"http://127.0.0.1:{service.app.http_port}/metrics")).text
    for forbidden in (recorded.event_id, recorded.cursor, "evt-label-check", secret, TOKENS["all"],
                      "custom-pager"):
        assert forbidden not in text
    samples = await scrape(service)
    assert value(samples, "channel_events_recorded_total", provider="other", outcome="new") == 1


async def test_a_request_id_is_taken_or_made_returned_and_in_error_details(service: Service) -> None:
    call = service.events.RecordAlertEvent(
        events_pb2.RecordAlertEventRequest(project_id="alpha", provider="alertmanager", event_id="r1"),
        metadata=(*INGEST, ("x-request-id", "req-123")),
    )
    await call
    # A unary call's id comes back with its status (trailing metadata).
    assert dict(await call.trailing_metadata())["x-request-id"] == "req-123"
    made = service.events.RecordAlertEvent(
        events_pb2.RecordAlertEventRequest(project_id="alpha", provider="alertmanager", event_id="r2"),
        metadata=(*INGEST, ("x-request-id", "bad id with spaces")),
    )
    await made
    made_id = dict(await made.trailing_metadata())["x-request-id"]
    assert made_id != "bad id with spaces" and len(made_id) == 32
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.events.RecordAlertEvent(
            events_pb2.RecordAlertEventRequest(project_id="alpha"),
            metadata=(*INGEST, ("x-request-id", "req-456")),
        )
    status = rpc_status.from_call(raised.value)
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert info.metadata["request_id"] == "req-456"
    assert dict(raised.value.trailing_metadata())["x-request-id"] == "req-456"
    # A stream's id comes at once, before its first event.
    stream = service.events.WatchEvents(
        events_pb2.WatchEventsRequest(project_id="alpha"),
        metadata=(*bearer("all"), ("x-request-id", "req-789")),
    )
    try:
        assert dict(await asyncio.wait_for(stream.initial_metadata(), 5))["x-request-id"] == "req-789"
    finally:
        stream.cancel()
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        ok = await client.get("/events/recent", headers={"x-request-id": "http-1"})
        assert ok.headers["x-request-id"] == "http-1"
        bad = await client.get("/events/recent", params={"limit": 0}, headers={"x-request-id": "http-2"})
        assert bad.headers["x-request-id"] == "http-2"
        assert json.loads(bad.text)["request_id"] == "http-2"
        assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_group_commit_is_counted_in_batches_and_events(service: Service) -> None:
    await asyncio.gather(*(service.record(event_id=f"g-{n}") for n in range(5)))
    samples = await scrape(service)
    events = value(samples, "channel_events_group_commit_events_total")
    batches = value(samples, "channel_events_group_commit_batches_total")
    assert events == 5
    assert 1 <= batches <= 5
