"""Rows stored under an older redaction_version are redacted again (SPEC
section 6): in small batches, resumable, by two servers at once without
double work, without blocking writers and without changing a cursor."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from awooop.channel_events.v1 import common_pb2, dossier_pb2, events_pb2

from server.domain.redaction import REDACTION_VERSION
from server.operations.reredaction import Reredaction
from tests.harness import INGEST, Service
from tests.history import record_run

ROOT = Path(__file__).resolve().parents[2]
# What older rules let through (issue 9's examples): a token family and a
# key/value syntax the first rule sets did not know.
MISSED = "hf_kX8vQ2mW9pLr4nTz7bYcD3sHd6FgJ1aEu5"
MISSED_PAIR = "password => 'Tr0ub4dor&3-horse'"


async def age(service: Service, count: int) -> list[str]:
    """Records `count` events, then makes them look as older rules stored them."""
    recorded = [await service.record(title=f"event {i}") for i in range(count)]
    async with service.store.pool.acquire() as connection:
        await connection.execute(
            """UPDATE events SET redaction_version = 'v1',
                   content_redacted = $1, content_preview = $1, alertname = $2,
                   source_envelope = jsonb_build_object('title', $1::text)""",
            f"deploy with {MISSED} and {MISSED_PAIR}", f"alert {MISSED}",
        )
    return [r.cursor for r in recorded]


async def event_rows(service: Service) -> list[dict[str, object]]:
    async with service.store.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT id, cursor, redaction_version, content_redacted, content_preview, alertname,"
            " source_envelope::text AS envelope, has_redacted_content FROM events ORDER BY cursor"
        )
    return [dict(r) for r in rows]


async def test_old_rows_are_redacted_again_and_keep_their_cursors(service: Service) -> None:
    await age(service, 5)
    before = await event_rows(service)
    done = await Reredaction(service.store, batch_size=2, pause=0).run()
    after = await event_rows(service)
    assert done.events == 5 and done.changed_events == 5
    assert [r["cursor"] for r in after] == [r["cursor"] for r in before]
    for row in after:
        assert row["redaction_version"] == REDACTION_VERSION
        for column in ("content_redacted", "content_preview", "alertname", "envelope"):
            text = str(row[column])
            assert MISSED not in text and "Tr0ub4dor" not in text and "[REDACTED:" in text
        assert row["has_redacted_content"] is True
        assert str(row["content_preview"]) == str(row["content_redacted"])[:200]
    dossier = await service.dossier.GetEventDossier(dossier_pb2.GetEventDossierRequest())
    assert {e.redaction_version for e in dossier.events} == {REDACTION_VERSION}
    # A second pass finds nothing to do.
    assert (await Reredaction(service.store, pause=0).run()).events == 0


async def test_runs_and_webhook_bodies_are_redacted_again(service: Service) -> None:
    recorded = await service.record(title="t")
    await record_run(service, event_ids=[recorded.event_id], state=common_pb2.RUN_STATE_RUNNING,
                     agent_id="agent-1")
    await service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(
            project_id="alpha", provider="alertmanager",
            body=json.dumps({"status": "firing", "alerts": [
                {"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2026-12-01T00:00:00Z"}
            ]}).encode(),
        ),
        metadata=INGEST,
    )
    async with service.store.pool.acquire() as connection:
        await connection.execute("UPDATE runs SET agent_id = $1", f"agent {MISSED}")
        await connection.execute(
            "UPDATE source_bodies SET fields = jsonb_build_object('note', $1::text)", MISSED_PAIR)
        await connection.execute("UPDATE events SET redaction_version = 'v2'")
    done = await Reredaction(service.store, pause=0).run()
    assert done.runs == 1 and done.bodies == 1
    async with service.store.pool.acquire() as connection:
        assert MISSED not in await connection.fetchval("SELECT agent_id FROM runs")
        assert "Tr0ub4dor" not in await connection.fetchval("SELECT fields::text FROM source_bodies")


async def test_two_passes_at_once_share_the_work_and_writers_never_wait(service: Service) -> None:
    await age(service, 40)
    writes = [service.record(title=f"new {i}") for i in range(20)]
    first, second, *_ = await asyncio.wait_for(
        asyncio.gather(
            Reredaction(service.store, batch_size=3, pause=0.01).run(),
            Reredaction(service.store, batch_size=3, pause=0.01).run(),
            *writes,
        ),
        timeout=60,
    )
    # Each old row was rewritten by one pass, and the new ones by none.
    assert first.events + second.events >= 40
    rows = await event_rows(service)
    assert len(rows) == 60
    assert {r["redaction_version"] for r in rows} == {REDACTION_VERSION}


async def test_python_m_server_reredact_runs_the_pass_to_its_end(service: Service) -> None:
    await age(service, 3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWOOOP_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", "reredact", cwd=ROOT,
        env={**env, "DATABASE_URL": service.dsn, "AWOOOP_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()
    [summary] = [json.loads(line) for line in output.decode().splitlines()
                 if "re-redaction done" in line]
    assert summary["events"] == 3 and summary["redaction_version"] == REDACTION_VERSION
    assert {r["redaction_version"] for r in await event_rows(service)} == {REDACTION_VERSION}
