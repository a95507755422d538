"""No secret is stored or served, whatever field it arrives in (SPEC section 6):
secrets sent in every field of every write, then every text column of every
table and every read answer searched for them."""

from __future__ import annotations

import json

import grpc
import httpx
import pytest
from awooop.channel_events.v1 import (
    common_pb2,
    dossier_pb2,
    events_pb2,
    work_items_pb2,
)
from google.protobuf import struct_pb2

from tests.harness import INGEST, OPERATOR, Service, reason_of, violated_fields
from tests.history import record_run

# Distinct secrets of shapes the rules know, one per field family, so that a
# leak names the field it came from.
GITHUB = "ghp_R8xkW2mQ7vLp4nZc9TbY3sHd6FgJ1aEu5KoN"
SLACK = "xoxb-2047183561-4420176635541-QmVfX7bRk2LpNw9zTc4HdYsE"
STRIPE = "sk_live_51HxQmVfX7bRk2LpNw9zTc4H"
AWS = "AKIAZ7QW3ER5TY2UI4OP"
GITLAB = "glpat-Xk8vQ2mW9pLr4nTz7bYc"
PASSWORD = "Tr0ub4dor&3-horse"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
SENTRY_TOKEN = "sntrys_eyJpYXQiOjE2ODczMzY1NDMuMTk4ODQyLCJ1cmwiOm51bGx9_k8Xv2QmW9pLr4nTz7bYc"
SECRETS = (GITHUB, SLACK, STRIPE, AWS, GITLAB, PASSWORD, JWT, SENTRY_TOKEN)


async def stored_text(service: Service) -> dict[str, str]:
    """Every text, text[] and json column of every table, as text, by table.column."""
    found: dict[str, str] = {}
    async with service.store.pool.acquire() as connection:
        columns = await connection.fetch(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public'
                 AND data_type IN ('text', 'jsonb', 'json', 'ARRAY', 'character varying')"""
        )
        for row in columns:
            values = await connection.fetch(
                f'SELECT "{row["column_name"]}"::text AS v FROM "{row["table_name"]}"'
            )
            found[f"{row['table_name']}.{row['column_name']}"] = "\n".join(
                v["v"] or "" for v in values
            )
    return found


def leaks(texts: dict[str, str]) -> list[tuple[str, str]]:
    return [(where, secret) for where, text in texts.items() for secret in SECRETS if secret in text]


async def test_secrets_in_every_field_of_every_write_are_stored_and_served_nowhere(
    service: Service,
) -> None:
    payload = struct_pb2.Struct()
    payload.update({"token": SLACK, "note": f"deploy key {GITHUB}", "nested": {"auth": [JWT]}})
    recorded = await service.events.RecordAlertEvent(
        events_pb2.RecordAlertEventRequest(
            project_id="alpha",
            provider="alertmanager",
            event_id=f"evt-{STRIPE}",
            stage=f"firing {GITLAB}",
            title=f"login as admin password={PASSWORD}",
            severity=AWS,
            namespace=f"ns-{GITHUB}",
            target_resource=f"pod {SLACK}",
            fingerprint=GITLAB,
            labels={"team": f"token {STRIPE}", "auth": JWT, "trace_id": GITHUB},
            annotations={"summary": f"Bearer {JWT}", "runbook": f"https://x:{PASSWORD}@wiki.example/r"},
            payload=payload,
            source_url=f"https://grafana.example/d?api_key={STRIPE}",
            channel_type=f"alert {GITHUB}",
            channel_chat_id=f"chat {SLACK}",
            source_refs=[common_pb2.SourceRef(system="sentry", kind="issue", id=SENTRY_TOKEN,
                                              url=f"https://sentry.example/?token={GITLAB}")],
        ),
        metadata=INGEST,
    )
    body = {
        "status": "firing", "commonLabels": {"password": PASSWORD}, "externalURL": f"https://am/?t={GITHUB}",
        "alerts": [{"status": "firing", "labels": {"alertname": "Leak", "token": SLACK},
                    "annotations": {"summary": f"key {AWS}"}, "startsAt": "2026-12-01T00:00:00Z",
                    "fingerprint": f"fp-{STRIPE}"}],
    }
    await service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(
            project_id="alpha", provider="alertmanager", body=json.dumps(body).encode()
        ),
        metadata=INGEST,
    )
    await record_run(
        service, event_ids=[recorded.event_id], state=common_pb2.RUN_STATE_COMPLETED,
        agent_id=f"agent {GITHUB}", incident_id=f"INC {SLACK}",
        repair_status=common_pb2.REPAIR_STATUS_FAILED, repair_summary=f"used {STRIPE}",
    )
    await service.events.RecordProviderHeartbeat(
        events_pb2.RecordProviderHeartbeatRequest(project_id="alpha", reason=f"smoke {AWS}",
                                                  run_ref=f"run {GITLAB}"),
        metadata=OPERATOR,
    )
    recurrence = await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id="alpha")
    )
    for group in recurrence.items:
        if group.HasField("work_item"):
            request = {"work_item_id": group.work_item.work_item_id, "project_id": "alpha"}
            await service.work_items.DryRunWorkItem(
                work_items_pb2.DryRunWorkItemRequest(**request), metadata=OPERATOR)
            await service.work_items.HandoffWorkItem(
                work_items_pb2.HandoffWorkItemRequest(**request), metadata=OPERATOR)

    texts = await stored_text(service)
    assert await service.count_rows("work_item_handoffs") >= 1
    assert leaks(texts) == []
    assert "[REDACTED:" in texts["runs.agent_id"] and "[REDACTED:" in texts["events.channel_type"]

    answers = [
        await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest(project_id="alpha")),
        await service.events.ListRecentEvents(events_pb2.ListRecentEventsRequest(project_id="alpha")),
        await service.dossier.GetDossierRecurrence(dossier_pb2.GetDossierRecurrenceRequest()),
        await service.dossier.GetDossierCoverage(dossier_pb2.GetDossierCoverageRequest()),
    ]
    served = {f"grpc {type(a).__name__}": str(a) for a in answers}
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as client:
        for path in ("/events/dossier", "/events/recent", "/events/dossier/recurrence"):
            served[f"http {path}"] = (await client.get(path)).text
    assert leaks(served) == []


async def test_an_identifier_that_looks_like_a_secret_is_refused(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.record(project_id=GITHUB)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(raised.value) == ["project_id"]
    assert GITHUB not in str(raised.value.details())


async def test_an_error_never_quotes_a_secret_back(service: Service) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await service.record(labels={GITHUB: "a\x00b"})
    assert reason_of(raised.value) == "INVALID_ARGUMENT"
    assert GITHUB not in (raised.value.details() or "")
    assert all(GITHUB not in field for field in violated_fields(raised.value))
    assert any("labels" in field for field in violated_fields(raised.value))
