"""The console's REST API at the replaced router's paths: each answer compared
field by field with the gRPC answer for the same data, with the old router's
defaults, limits and error answers (SPEC section 8)."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2, work_items_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from tests.harness import OPERATOR, TOKENS, Service, start_service, stop_service
from tests.history import ALPHA, build_history, by_key, recurrence

_ENUM = re.compile(
    r"(RUN_STATE|REPAIR_STATUS|WORK_ITEM_KIND|WORK_ITEM_STATUS|WORK_ITEM_MODE|STEP_ACTOR"
    r"|DRY_RUN_OUTCOME|HANDOFF_KIND)_([A-Z_]+)"
)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _normal(value: Any) -> Any:
    """One form for both answers: absent, null and "" alike; enums by their
    domain value; times as instants; int64 (a string in proto JSON) as a number."""
    if isinstance(value, dict):
        normal = {k: _normal(v) for k, v in value.items()}
        return {k: v for k, v in normal.items() if v is not None}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        if value == "":
            return None
        if enum := _ENUM.fullmatch(value):
            return None if enum.group(2) == "UNSPECIFIED" else enum.group(2).lower()
        if _TIME.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        if value.isdigit() and len(value) < 16:
            return int(value)
    return value


def grpc_json(message: Message) -> Any:
    return _normal(
        json_format.MessageToDict(
            message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
    )


def refs_as_list(by_system: dict[str, list[dict[str, str]]]) -> list[dict[str, str]]:
    """The HTTP rendering of source_refs ({system: [{kind, id, url}]}) as gRPC's list."""
    return [{"system": system, **ref} for system, refs in by_system.items() for ref in refs]


def http_json(body: dict[str, Any]) -> Any:
    body = copy.deepcopy(body)
    for event in body.get("events", []):
        if isinstance(event.get("source_refs"), dict):
            event["source_refs"] = refs_as_list(event["source_refs"])
    return _normal(body)


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as http:
        yield http


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS['operator']}"}


async def test_dossier_is_the_grpc_answer_field_by_field(service: Service, client: httpx.AsyncClient) -> None:
    await build_history(service)
    await service.record(
        title="with refs", labels={"trace_id": "abc", "signoz_rule_id": "r-1"},
        source_refs=[{"system": "sentry", "kind": "issue", "id": "42", "url": "https://s/42"}],
    )
    response = await client.get("/events/dossier", params={"project_id": ALPHA})
    assert response.status_code == 200
    body = response.json()
    assert body["limit"] == 20 and body["total"] == len(body["events"]) > 0
    grpc = await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(project_id=ALPHA))
    assert http_json(body) == grpc_json(grpc)
    # The old model's types: UUID and ISO 8601 strings, null for an absent optional.
    first = body["events"][0]
    assert first["source_refs"]["sentry"][0] == {"kind": "issue", "id": "42", "url": "https://s/42"}
    assert first["channel_chat_id"] is None and first["provider_ts"] is None
    assert datetime.fromisoformat(first["received_at"]).tzinfo is not None


async def test_recent_coverage_and_recurrence_are_the_grpc_answers(
    service: Service, client: httpx.AsyncClient
) -> None:
    await build_history(service)
    pairs: list[tuple[str, dict[str, Any], Message]] = [
        ("/events/recent", {}, await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest())),
        ("/events/recent", {"project_id": ALPHA, "limit": 3},
         await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(project_id=ALPHA, limit=3))),
        ("/events/dossier/coverage", {"project_id": ALPHA},
         await service.dossier.GetDossierCoverage(dossier_pb2.GetDossierCoverageRequest(project_id=ALPHA))),
        ("/events/dossier/recurrence", {"project_id": ALPHA},
         await service.dossier.GetDossierRecurrence(dossier_pb2.GetDossierRecurrenceRequest(project_id=ALPHA))),
        ("/events/dossier/recurrence", {"provider": "alertmanager", "limit": 300},
         await service.dossier.GetDossierRecurrence(
             dossier_pb2.GetDossierRecurrenceRequest(provider="alertmanager", limit=300))),
    ]
    for path, params, grpc in pairs:
        response = await client.get(path, params=params)
        assert response.status_code == 200, (path, response.text)
        assert http_json(response.json()) == grpc_json(grpc), path
    coverage = (await client.get("/events/dossier/coverage", params={"project_id": ALPHA})).json()
    assert coverage["project_id"] == ALPHA and coverage["limit"] == 100
    recurrence_body = (await client.get("/events/dossier/recurrence")).json()
    assert recurrence_body["limit"] == 100
    assert all(item["latest_run_state"] in (None, "completed", "waiting_approval", "failed", "queued",
                                            "running", "cancelled") for item in recurrence_body["items"])


@pytest.mark.parametrize(
    ("path", "default", "maximum"),
    [
        ("/events/recent", 20, 100),
        ("/events/dossier", 20, 50),
        ("/events/dossier/coverage", 100, 200),
        ("/events/dossier/recurrence", 100, 300),
    ],
)
async def test_limits_have_the_old_defaults_and_edges(
    client: httpx.AsyncClient, path: str, default: int, maximum: int
) -> None:
    assert (await client.get(path)).json()["limit"] == default
    assert (await client.get(path, params={"limit": 1})).json()["limit"] == 1
    assert (await client.get(path, params={"limit": maximum})).json()["limit"] == maximum
    for bad in (0, maximum + 1, -1, "ten"):
        response = await client.get(path, params={"limit": bad})
        assert response.status_code == 422, (path, bad)
        [detail] = response.json()["detail"]
        assert detail["loc"] == ["query", "limit"] and detail["msg"]


async def test_every_bad_parameter_is_named_in_the_422_detail(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/events/dossier", params={"run_id": "not-a-uuid", "project_id": "bad project"}
    )
    assert response.status_code == 422
    assert sorted(d["loc"][1] for d in response.json()["detail"]) == ["project_id", "run_id"]
    twice = await client.get("/events/recent?limit=5&limit=6")
    assert twice.status_code == 422


async def test_work_item_routes_plan_dry_run_and_hand_off(service: Service, client: httpx.AsyncClient) -> None:
    await build_history(service)
    item_id = by_key(await recurrence(service, project_id=ALPHA))["alertmanager:gap"].work_item.work_item_id
    preview = await client.get(
        "/events/dossier/recurrence/work-item/preview", params={"work_item_id": item_id, "project_id": ALPHA}
    )
    assert preview.status_code == 200
    grpc_preview = await service.work_items.PreviewWorkItem(
        work_items_pb2.PreviewWorkItemRequest(work_item_id=item_id, project_id=ALPHA)
    )
    assert http_json(preview.json()) == grpc_json(grpc_preview)
    assert preview.json()["mode"] == "auto" and preview.json()["guarantees"]["read_only"] is True

    body = {"work_item_id": item_id, "project_id": ALPHA}
    refused = await client.post("/events/dossier/recurrence/work-item/dry-run", json=body)
    assert refused.status_code == 401
    dry_run = await client.post("/events/dossier/recurrence/work-item/dry-run", json=body, headers=operator())
    assert dry_run.status_code == 200, dry_run.text
    assert dry_run.json()["outcome"] in ("ready", "blocked")
    handoff = await client.post(
        "/events/dossier/recurrence/work-item/handoff",
        json={**body, "handoff_kind": "manual_takeover"}, headers=operator(),
    )
    assert handoff.status_code == 200, handoff.text
    assert handoff.json()["created"] is True
    assert handoff.json()["handoff"]["dry_run_id"] == dry_run.json()["dry_run_id"]
    again = await client.post(
        "/events/dossier/recurrence/work-item/handoff",
        json={**body, "handoff_kind": "manual_takeover"}, headers=operator(),
    )
    assert again.json()["created"] is False
    assert again.json()["handoff"]["handoff_id"] == handoff.json()["handoff"]["handoff_id"]
    history = await service.work_items.ListWorkItemHistory(
        work_items_pb2.ListWorkItemHistoryRequest(work_item_id=item_id), metadata=OPERATOR
    )
    assert len(history.records) == 2


async def test_an_unknown_work_item_is_404_recurrence_work_item_not_found(
    service: Service, client: httpx.AsyncClient
) -> None:
    await build_history(service)
    missing = {"work_item_id": "wi-0000000000000000"}
    preview = await client.get("/events/dossier/recurrence/work-item/preview", params=missing)
    assert preview.status_code == 404
    assert preview.json()["detail"] == "recurrence_work_item_not_found"
    for route in ("dry-run", "handoff"):
        response = await client.post(
            f"/events/dossier/recurrence/work-item/{route}", json=missing, headers=operator()
        )
        assert response.status_code == 404
        assert response.json()["detail"] == "recurrence_work_item_not_found"


async def test_work_item_bodies_are_checked_like_the_old_models(client: httpx.AsyncClient) -> None:
    route = "/events/dossier/recurrence/work-item/dry-run"
    missing_id = await client.post(route, json={}, headers=operator())
    assert missing_id.status_code == 422
    assert ["body", "work_item_id"] in [d["loc"] for d in missing_id.json()["detail"]]
    bad = await client.post(
        route, json={"work_item_id": "wi-1", "mode": "yolo", "limit": 301}, headers=operator()
    )
    assert bad.status_code == 422
    # What the wire says (a number out of range) is found first, then the rest.
    assert [d["loc"] for d in bad.json()["detail"]] == [["body", "limit"]]
    bad_mode = await client.post(route, json={"work_item_id": "wi-1", "mode": "yolo"}, headers=operator())
    assert [d["loc"] for d in bad_mode.json()["detail"]] == [["body", "mode"]]
    not_json = await client.post(route, content=b"{nope", headers=operator())
    assert not_json.status_code == 422
    handoff_kind = await client.post(
        "/events/dossier/recurrence/work-item/handoff",
        json={"work_item_id": "wi-1", "handoff_kind": "email"}, headers=operator(),
    )
    assert handoff_kind.status_code == 422
    assert ["body", "handoff_kind"] in [d["loc"] for d in handoff_kind.json()["detail"]]


async def test_provider_heartbeat_needs_an_operator_key_and_keeps_the_old_defaults(
    service: Service, client: httpx.AsyncClient
) -> None:
    route = "/events/dossier/provider-heartbeat"
    assert (await client.post(route, json={})).status_code == 401
    reader = {"Authorization": f"Bearer {TOKENS['reader']}"}
    assert (await client.post(route, json={}, headers=reader)).status_code == 403
    response = await client.post(route, json={}, headers=operator())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "recorded" and body["project_id"] == "awoooi"
    assert [item["provider"] for item in body["items"]] == ["sentry", "signoz"]
    assert all(item["event_id"].startswith("heartbeat-") for item in body["items"])
    one = await client.post(route, json={"providers": ["signoz"], "project_id": ALPHA}, headers=operator())
    assert [item["provider"] for item in one.json()["items"]] == ["signoz"]
    for bad in ({"providers": []}, {"providers": ["pagerduty"]}, {"reason": ""}, {"reason": "r" * 121},
                {"providers": "sentry"}):
        refused = await client.post(route, json=bad, headers=operator())
        assert refused.status_code == 422, bad
    coverage = await service.dossier.GetDossierCoverage(dossier_pb2.GetDossierCoverageRequest(project_id=ALPHA))
    assert [p.provider for p in coverage.providers] == ["signoz"]


async def test_the_prefix_moves_the_api_but_not_the_probes(database: str) -> None:
    service = await start_service(database, http_prefix="/api/v1")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.app.http_port}", timeout=10) as client:
            assert (await client.get("/api/v1/events/recent")).status_code == 200
            assert (await client.get("/events/recent")).status_code == 404
            assert (await client.get("/healthz")).status_code == 200
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert "/api/v1/events/dossier" in paths and "/api/v1/webhooks/{provider}/{project_id}" in paths
    finally:
        await stop_service(service)


async def test_probes_and_the_openapi_document(service: Service, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    expected = {
        "/events/dossier", "/events/dossier/coverage", "/events/dossier/provider-heartbeat",
        "/events/dossier/recurrence", "/events/dossier/recurrence/work-item/preview",
        "/events/dossier/recurrence/work-item/dry-run", "/events/dossier/recurrence/work-item/handoff",
        "/events/recent", "/events/watch", "/webhooks/{provider}/{project_id}", "/healthz", "/readyz",
    }
    assert expected <= set(document["paths"])
    limit = next(p for p in document["paths"]["/events/recent"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "default": 20, "minimum": 1, "maximum": 100}


async def test_reads_need_a_key_when_read_auth_is_required(database: str) -> None:
    service = await start_service(database, require_read_auth=True)
    try:
        async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
            assert (await client.get("/events/recent")).status_code == 401
            reader = {"Authorization": f"Bearer {TOKENS['reader']}"}
            assert (await client.get("/events/recent", headers=reader)).status_code == 200
            scoped = {"Authorization": f"Bearer {TOKENS['alpha_only']}"}
            assert (await client.get("/events/recent", headers=scoped)).status_code == 403
            assert (await client.get("/events/recent", params={"project_id": ALPHA}, headers=scoped)).status_code == 200
    finally:
        await stop_service(service)
