"""Provider webhooks straight in over HTTP: POST /webhooks/{provider}/{project_id},
with the statuses each sender's retry rules need (SPEC section 8)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from awooop.channel_events.v1 import dossier_pb2
from pydantic import SecretStr

from server.domain.providers import MAX_BODY_BYTES
from tests.harness import (
    TOKENS,
    PostgresForTests,
    Service,
    set_database_open,
    start_service,
    stop_service,
)
from tests.samples import sample_bytes
from tests.webhooks import SAMPLE_PROVIDERS, ingest, sample_headers

SENTRY_SECRET = "sentry-client-secret-for-tests"


def basic(token: str, user: str = "alertmanager") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as http:
        yield http


@pytest.mark.parametrize("name", sorted(SAMPLE_PROVIDERS))
async def test_each_sample_is_recorded_as_ingest_would_and_a_retry_is_a_duplicate(
    service: Service, client: httpx.AsyncClient, name: str
) -> None:
    provider = SAMPLE_PROVIDERS[name]
    headers = {**sample_headers(name), **bearer(TOKENS["ingest"]), "Content-Type": "application/json"}
    first = await client.post(f"/webhooks/{provider}/alpha", content=sample_bytes(name), headers=headers)
    assert first.status_code == 200, first.text
    events = first.json()["events"]
    assert events and not any(e["is_duplicate"] for e in events)
    retry = await client.post(f"/webhooks/{provider}/alpha", content=sample_bytes(name), headers=headers)
    assert retry.status_code == 200
    assert [e["is_duplicate"] for e in retry.json()["events"]] == [True] * len(events)
    assert [e["provider_event_id"] for e in retry.json()["events"]] == [
        e["provider_event_id"] for e in events
    ]
    # The same body over gRPC is the same events again: one operation, two doors.
    over_grpc = await ingest(service, provider, sample_bytes(name), sample_headers(name), "beta")
    assert [e.provider_event_id for e in over_grpc.events] == [e["provider_event_id"] for e in events]


async def test_basic_auth_with_the_key_as_password_is_accepted(client: httpx.AsyncClient) -> None:
    body = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    accepted = await client.post("/webhooks/alertmanager/alpha", content=body, headers=basic(TOKENS["ingest"]))
    assert accepted.status_code == 200
    wrong = await client.post("/webhooks/alertmanager/alpha", content=body, headers=basic("nope"))
    assert wrong.status_code == 401
    assert wrong.json()["reason"] == "TOKEN_UNKNOWN"
    assert "Basic" in wrong.headers["www-authenticate"]
    not_base64 = await client.post(
        "/webhooks/alertmanager/alpha", content=body, headers={"Authorization": "Basic !!!"}
    )
    assert not_base64.status_code == 401


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, "TOKEN_MISSING"),
        (bearer("wrong-token"), 401, "TOKEN_UNKNOWN"),
        (bearer(TOKENS["reader"]), 403, "ROLE_MISSING"),
        (bearer(TOKENS["operator"]), 403, "ROLE_MISSING"),
    ],
)
async def test_a_sender_without_an_ingest_key_is_refused_and_nothing_is_written(
    service: Service, client: httpx.AsyncClient, headers: dict[str, str], status: int, reason: str
) -> None:
    body = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    response = await client.post("/webhooks/alertmanager/alpha", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["reason"] == reason
    assert await service.count_rows("events") == 0


async def test_a_key_scoped_to_other_projects_is_forbidden(
    service: Service, client: httpx.AsyncClient
) -> None:
    body = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    response = await client.post(
        "/webhooks/alertmanager/beta", content=body, headers=bearer(TOKENS["alpha_only"])
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "PROJECT_FORBIDDEN"
    ok = await client.post(
        "/webhooks/alertmanager/alpha", content=body, headers=bearer(TOKENS["alpha_only"])
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/webhooks/alertmanager/alpha", b"this is not json", "body"),
        ("/webhooks/alertmanager/alpha", b'{"status": "firing"}', "body.alerts"),
        ("/webhooks/alertmanager/alpha", b"", "body"),
        ("/webhooks/pagerduty/alpha", b'{"alerts": []}', "provider"),
        ("/webhooks/alertmanager/bad%20project", b'{"alerts": []}', "project_id"),
    ],
)
async def test_a_body_that_will_never_be_accepted_is_400_naming_the_field(
    service: Service, client: httpx.AsyncClient, path: str, body: bytes, field: str
) -> None:
    response = await client.post(path, content=body, headers=bearer(TOKENS["all"]))
    assert response.status_code == 400, response.text
    fields = [".".join(d["loc"][1:]) for d in response.json()["detail"]]
    assert any(f.startswith(field) for f in fields), fields
    assert await service.count_rows("events") == 0


async def test_a_body_over_one_mebibyte_is_413_and_is_not_read_further(
    service: Service, client: httpx.AsyncClient
) -> None:
    body = b'{"alerts": [], "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await client.post("/webhooks/alertmanager/alpha", content=body, headers=bearer(TOKENS["ingest"]))
    assert response.status_code == 413
    assert response.json()["reason"] == "PAYLOAD_TOO_LARGE"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    chunked = await client.post("/webhooks/alertmanager/alpha", content=chunks(), headers=bearer(TOKENS["ingest"]))
    assert chunked.status_code == 413
    assert await service.count_rows("events") == 0


async def test_a_body_of_exactly_one_mebibyte_is_read(client: httpx.AsyncClient) -> None:
    sample = json.loads(sample_bytes("alertmanager_firing_single_highpodmemory.json"))
    raw = json.dumps(sample).encode()
    padded = raw[:-1] + b', "pad": "' + b"x" * (MAX_BODY_BYTES - len(raw) - 11) + b'"}'
    assert len(padded) == MAX_BODY_BYTES
    response = await client.post("/webhooks/alertmanager/alpha", content=padded, headers=bearer(TOKENS["ingest"]))
    assert response.status_code == 200, response.text


def _signature(body: bytes) -> str:
    return hmac.new(SENTRY_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_sentry_is_authenticated_by_its_signature_when_the_secret_is_set(
    database: str,
) -> None:
    service = await start_service(database, sentry_client_secret=SecretStr(SENTRY_SECRET))
    try:
        name = "sentry_issue_created.json"
        body = sample_bytes(name)
        async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
            signed = {**sample_headers(name), "Sentry-Hook-Signature": _signature(body)}
            accepted = await client.post("/webhooks/sentry/alpha", content=body, headers=signed)
            assert accepted.status_code == 200, accepted.text
            forged = {**signed, "Sentry-Hook-Signature": _signature(b"something else")}
            refused = await client.post("/webhooks/sentry/alpha", content=body, headers=forged)
            assert refused.status_code == 401
            unsigned = await client.post("/webhooks/sentry/alpha", content=body, headers=sample_headers(name))
            assert unsigned.status_code == 401
            # The signature authenticates Sentry only: another provider still needs a key.
            other = await client.post(
                "/webhooks/alertmanager/alpha",
                content=sample_bytes("alertmanager_firing_single_highpodmemory.json"),
                headers={"Sentry-Hook-Signature": _signature(body)},
            )
            assert other.status_code == 401
        assert await service.count_rows("events") == 1
    finally:
        await stop_service(service)


async def test_database_down_is_503_with_retry_after_then_the_retry_is_recorded(
    postgres: PostgresForTests, database: str
) -> None:
    service = await start_service(database, statement_timeout=2.0)
    body = sample_bytes("alertmanager_firing_single_highpodmemory.json")
    try:
        async with httpx.AsyncClient(base_url=service.http_url, timeout=30) as client:
            await set_database_open(postgres, database, False)
            try:
                down = await client.post("/webhooks/alertmanager/alpha", content=body, headers=bearer(TOKENS["ingest"]))
                assert down.status_code == 503, down.text
                assert int(down.headers["retry-after"]) >= 1
                assert down.json()["reason"] == "DATABASE_UNAVAILABLE"
                assert "asyncpg" not in down.text and "SELECT" not in down.text
            finally:
                await set_database_open(postgres, database, True)
            back = await client.post("/webhooks/alertmanager/alpha", content=body, headers=bearer(TOKENS["ingest"]))
            assert back.status_code == 200, back.text
            assert [e["is_duplicate"] for e in back.json()["events"]] == [False]
        dossier = await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(project_id="alpha"))
        assert dossier.total == 1
    finally:
        await stop_service(service)
