"""What one heavy request costs everyone else: a 1 MiB webhook body vs a tiny one.

One server, in this process. For each body, the ingest's wall time and the
slowest health check answered while it ran, beside the same figures for a
one-alert body measured in the same run (the baseline). A heavy request that
blocked the event loop would show as a health check as slow as the ingest.

Bodies (all at the 1 MiB body limit but the baseline):
- wide: 200 tiny alerts and one shared field of ordinary words (the shape
  that once multiplied into 880 MiB of work);
- many: 1,000 alerts, the most a body may hold;
- backtracking: one alert and a shared field of 'secret access key' followed
  by long runs of spaces (once quadratic in the redaction rules).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from awooop.channel_events.v1 import events_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.domain.providers import MAX_ALERTS_PER_BODY, MAX_BODY_BYTES
from tests.harness import INGEST, PostgresForTests, Service, start_service, stop_service

RUNS = 5


def _alert(index: int) -> dict[str, object]:
    return {
        "status": "firing", "labels": {"alertname": f"A{index}", "pod": f"api-{index}"},
        "annotations": {"summary": "memory above 90%"},
        "startsAt": "2026-12-01T00:00:00Z", "fingerprint": f"fp{index}",
    }


def _body(alerts: int, shared_text: str = "") -> bytes:
    doc: dict[str, object] = {"version": "4", "status": "firing",
                              "alerts": [_alert(i) for i in range(alerts)]}
    if shared_text:
        doc["commonAnnotations"] = {"description": ""}
        room = MAX_BODY_BYTES - len(json.dumps(doc).encode())
        per_char = (len(json.dumps(shared_text).encode()) - 2) / len(shared_text)
        chars = int(room / per_char)
        doc["commonAnnotations"] = {"description": (shared_text * (chars // len(shared_text) + 1))[:chars]}
    return json.dumps(doc).encode()


BODIES = {
    "baseline (1 alert)": _body(1),
    "wide (200 alerts + 1 MiB shared)": _body(200, "word "),
    f"many ({MAX_ALERTS_PER_BODY} alerts)": _body(MAX_ALERTS_PER_BODY),
    "backtracking (1 MiB of runs)": _body(1, "secret access key" + " " * 40_000 + "x"),
}


async def _slowest_health(service: Service, stop: asyncio.Event) -> float:
    stub = health_pb2_grpc.HealthStub(service.channel)
    slowest = 0.0
    while not stop.is_set():
        started = time.perf_counter()
        await stub.Check(health_pb2.HealthCheckRequest())
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.002)
    return slowest


async def _one(service: Service, body: bytes, run: int) -> tuple[float, float]:
    stop = asyncio.Event()
    prober = asyncio.create_task(_slowest_health(service, stop))
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    await service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(
            project_id=f"bench-{run}", provider="alertmanager", body=body
        ),
        metadata=INGEST,
    )
    took = time.perf_counter() - started
    stop.set()
    return took, await prober


async def _run() -> None:
    postgres = PostgresForTests()
    try:
        service = await start_service(await postgres.fresh_database())
        try:
            print(f"{'body':36} {'bytes':>9} {'ingest p50':>11} {'worst health':>13}")
            for name, body in BODIES.items():
                results = [await _one(service, body, run) for run in range(RUNS)]
                took = statistics.median(t for t, _ in results)
                health = max(h for _, h in results)
                print(f"{name:36} {len(body):>9,} {took * 1000:>9.0f}ms {health * 1000:>11.1f}ms")
        finally:
            await stop_service(service)
    finally:
        postgres.close()


def main() -> None:
    asyncio.run(_run())
