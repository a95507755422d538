"""A real Alertmanager pointing straight at the service: its own webhook
receiver, with basic auth, as an operator would configure it (README).

Needs Debian's `prometheus-alertmanager` package (`.ci/run` installs it).
Without the binary the test is skipped locally, and fails when CI is set.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from awooop.channel_events.v1 import dossier_pb2

from tests.harness import TOKENS, Service
from tests.peers import free_port, peer_binary, until_ready


def _config(service: Service) -> str:
    return f"""
route:
  receiver: channel-events
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: channel-events
    webhook_configs:
      - url: {service.http_url}/webhooks/alertmanager/alpha
        send_resolved: true
        http_config:
          basic_auth:
            username: alertmanager
            password: {TOKENS["ingest"]}
"""


async def _stages(service: Service) -> list[str]:
    dossier = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id="alpha")
    )
    return sorted(e.stage for e in dossier.events)


async def _until(service: Service, stages: list[str], process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(30):
        while await _stages(service) != stages:
            assert process.returncode is None, "alertmanager exited"
            await asyncio.sleep(0.2)


@pytest.mark.timeout(90)
async def test_alertmanager_webhooks_arrive_firing_then_resolved_as_one_group(
    service: Service, tmp_path: Path
) -> None:
    binary = peer_binary("prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(_config(service))
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await until_ready(client, process)
            now = datetime.now(UTC)
            alert = {
                "labels": {"alertname": "DiskFull", "namespace": "prod", "pod": "db-0",
                           "severity": "critical"},
                "annotations": {"summary": "Disk of db-0 is full"},
                "generatorURL": "http://prometheus.example/graph?g0.expr=disk",
                "startsAt": now.isoformat(),
            }
            assert (await client.post("/api/v2/alerts", json=[alert])).status_code == 200
            await _until(service, ["firing"], process)
            resolved = {**alert, "endsAt": (now + timedelta(seconds=1)).isoformat()}
            assert (await client.post("/api/v2/alerts", json=[resolved])).status_code == 200
            await _until(service, ["firing", "resolved"], process)
        recurrence = await service.dossier.GetDossierRecurrence(
            dossier_pb2.GetDossierRecurrenceRequest(project_id="alpha")
        )
        [group] = recurrence.items
        assert group.occurrence_total == 2 and group.duplicate_total == 0
        assert group.alertname == "DiskFull" and group.target_resource == "db-0"
    finally:
        process.terminate()
        await process.wait()
