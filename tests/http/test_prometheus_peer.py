"""A real Prometheus scraping the service's /metrics, queried through its HTTP API.

Needs Debian's `prometheus` package (`.ci/run` installs it). Without the
binary the test is skipped locally, and fails when CI is set.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import TOKENS, Service
from tests.peers import free_port, peer_binary, until_ready
from tests.samples import sample_bytes


async def _query(client: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/query", params={"query": promql})
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


async def _until_value(client: httpx.AsyncClient, promql: str, expected: float) -> None:
    async with asyncio.timeout(40):
        while True:
            result = await _query(client, promql)
            if result and float(result[0]["value"][1]) == expected:
                return
            await asyncio.sleep(0.5)


@pytest.mark.timeout(90)
async def test_prometheus_scrapes_the_grpc_and_ingest_series(service: Service, tmp_path: Path) -> None:
    binary = peer_binary("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: channel-events\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{service.app.http_port}']}}]\n"
    )
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for i in range(3):
            await service.record(event_id=f"prom-{i}")
        async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as http:
            response = await http.post(
                "/webhooks/alertmanager/alpha",
                content=sample_bytes("alertmanager_firing_single_highpodmemory.json"),
                headers={"Authorization": f"Bearer {TOKENS['ingest']}"},
            )
            assert response.status_code == 200
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await until_ready(client, process)
            await _until_value(client, 'up{job="channel-events"}', 1)
            await _until_value(
                client,
                'grpc_server_handled_total{grpc_method="RecordAlertEvent",grpc_code="OK"}',
                3,
            )
            await _until_value(
                client,
                'sum(channel_events_recorded_total{provider="alertmanager",outcome="new"})',
                4,
            )
            await _until_value(
                client,
                'http_server_requests_total{route="/webhooks/{provider}/{project_id}",status="200"}',
                1,
            )
    finally:
        process.terminate()
        await process.wait()
