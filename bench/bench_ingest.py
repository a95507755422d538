"""Ingest under an alert storm: events/s at 1, 4, 16 and 64 calls in flight.

For each concurrency, in one run against one PostgreSQL:

- raw: asyncpg BEGIN / INSERT / COMMIT of the same rows (derived by the
  bench beforehand: no gRPC, no redaction, no cursor, no NOTIFY), a pool of
  10 connections like a server's;
- RecordAlertEvent through one `python -m server`, then through two on the
  same database (the calls split evenly between them);
- IngestProviderPayload with an Alertmanager body of 20 alerts, the same way,
  beside a raw transaction inserting the 20 derived rows.

The client is this process; every server is a subprocess. Each cell is the
median of REPEATS windows of SECONDS. Run: `make bench BENCH=ingest`.
Figures: events committed per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc

from bench.servers import METADATA, fresh_database, running_servers
from server.domain.derivation import derive_event, source_body
from server.domain.models import AlertEventInput, NewEvent
from server.storage import events

CONCURRENCY = (1, 4, 16, 64)
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "1"))
ALERTS = 20
POOL = 10

_NAMES = ", ".join(c.name for c in events._SENT)
_VALUES = ", ".join(
    f"${n}::jsonb" if c.pg_type == "jsonb" else f"${n}"
    for n, c in enumerate(events._SENT, start=1)
)
_RAW_INSERT = (
    f"INSERT INTO events ({_NAMES}, cursor, is_duplicate, received_at) "
    f"VALUES ({_VALUES}, nextval('bench_raw_cursor'), false, clock_timestamp())"
)


# ---------------------------------------------------------------- requests


def _alert_request(tag: str) -> events_pb2.RecordAlertEventRequest:
    return events_pb2.RecordAlertEventRequest(
        project_id="storm", provider="alertmanager", event_id=tag,
        title="HighPodMemory", severity="critical", namespace="payments",
        fingerprint=f"fp-{tag}",
        labels={"alertname": "HighPodMemory", "pod": "api-7d9f8b6c5-x2k4q", "team": "payments"},
        annotations={"summary": "memory above 90% on api-7d9f8b6c5-x2k4q",
                     "description": "container api used 1.9GiB of 2GiB for 5 minutes"},
    )


def _webhook(tag: str) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighPodMemory", "severity": "critical",
                       "pod": f"api-{i}", "namespace": "payments"},
            "annotations": {"summary": f"memory above 90% on api-{i}",
                            "description": "container api used 1.9GiB of 2GiB for 5 minutes"},
            "startsAt": "2026-12-04T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=mem",
            "fingerprint": f"{tag}-{i}",
        }
        for i in range(ALERTS)
    ]
    return json.dumps({
        "receiver": "webhook", "status": "firing", "alerts": alerts,
        "groupLabels": {"alertname": "HighPodMemory"},
        "commonLabels": {"alertname": "HighPodMemory", "severity": "critical"},
        "externalURL": "http://alertmanager:9093", "version": "4",
    }).encode()


def _payload_request(tag: str) -> events_pb2.IngestProviderPayloadRequest:
    return events_pb2.IngestProviderPayloadRequest(
        project_id="storm", provider="alertmanager", body=_webhook(tag)
    )


# ---------------------------------------------------------------- raw rows


def _derived(count: int) -> list[NewEvent]:
    body = source_body("storm", "alertmanager", {"receiver": "webhook"}) if count > 1 else None
    return [
        derive_event(
            AlertEventInput(
                project_id="storm", provider="alertmanager", event_id=f"raw-{i}",
                title="HighPodMemory", severity="critical", namespace="payments",
                fingerprint=f"raw-{i}",
                labels={"alertname": "HighPodMemory", "pod": f"api-{i}"},
                annotations={"summary": f"memory above 90% on api-{i}"},
            ),
            body,
        )
        for i in range(count)
    ]


def _raw_rows(templates: list[NewEvent]) -> list[list[Any]]:
    """The rows of one raw transaction: fresh ids, otherwise the templates."""
    rows = []
    for template in templates:
        event = template.model_copy(update={
            "id": uuid.uuid4(), "provider_event_id": f"alertmanager:raw-{uuid.uuid4()}",
            "source_body_id": None,
        })
        rows.append([column.batch_values([event])[0] for column in events._SENT])
    return rows


# ---------------------------------------------------------------- measuring


Call = Callable[[int], Awaitable[int]]


async def _rate(call: Call, in_flight: int) -> float:
    """Events per second over SECONDS with `in_flight` calls always pending."""
    done = 0
    stop = time.perf_counter() + SECONDS

    async def worker(index: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            done += await call(index)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    return done / (time.perf_counter() - start)


async def _median_rate(call: Call, in_flight: int) -> float:
    return statistics.median([await _rate(call, in_flight) for _ in range(REPEATS)])


@dataclass
class Rates:
    rows: dict[str, dict[int, float]] = field(default_factory=dict)

    def put(self, name: str, in_flight: int, rate: float) -> None:
        self.rows.setdefault(name, {})[in_flight] = rate


def _raw_call(pool: asyncpg.Pool, templates: list[NewEvent]) -> Call:
    async def call(_: int) -> int:
        rows = _raw_rows(templates)
        async with pool.acquire() as connection, connection.transaction():
            if len(rows) == 1:
                await connection.execute(_RAW_INSERT, *rows[0])
            else:
                await connection.executemany(_RAW_INSERT, rows)
        return len(rows)

    return call


def _rpc_call(stubs: list[events_pb2_grpc.EventServiceStub], payload: bool) -> Call:
    async def call(index: int) -> int:
        stub = stubs[index % len(stubs)]
        tag = uuid.uuid4().hex
        if payload:
            response = await stub.IngestProviderPayload(_payload_request(tag), metadata=METADATA)
            return len(response.events)
        await stub.RecordAlertEvent(_alert_request(tag), metadata=METADATA)
        return 1

    return call


async def measure(dsn: str, workdir: Path) -> Rates:
    rates = Rates()
    setup = await asyncpg.connect(dsn)
    pool = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)
    assert pool is not None
    try:
        async with running_servers(dsn, workdir, 2) as servers:
            await setup.execute("CREATE SEQUENCE IF NOT EXISTS bench_raw_cursor INCREMENT BY -1 START WITH -1")
            channels = [grpc.aio.insecure_channel(s.address) for s in servers]
            stubs = [events_pb2_grpc.EventServiceStub(c) for c in channels]
            try:
                for payload, label in ((False, "RecordAlertEvent"), (True, f"IngestProviderPayload({ALERTS})")):
                    raw = _raw_call(pool, _derived(ALERTS if payload else 1))
                    one, two = _rpc_call(stubs[:1], payload), _rpc_call(stubs, payload)
                    await one(0), await two(1)  # warm-up
                    for in_flight in CONCURRENCY:
                        # Side by side per level, so that machine noise hits all three.
                        rates.put(f"raw {label}", in_flight, await _median_rate(raw, in_flight))
                        rates.put(f"{label}, 1 server", in_flight, await _median_rate(one, in_flight))
                        rates.put(f"{label}, 2 servers", in_flight, await _median_rate(two, in_flight))
            finally:
                for channel in channels:
                    await channel.close()
    finally:
        await pool.close()
        await setup.close()
    return rates


def table(rates: Rates) -> list[str]:
    lines = [
        "| events/s | " + " | ".join(f"{c} in flight" for c in CONCURRENCY) + " |",
        "|---|" + "---:|" * len(CONCURRENCY),
    ]
    for name, by_level in rates.rows.items():
        raw = rates.rows["raw " + name.split(",")[0]] if not name.startswith("raw ") else None
        cells = []
        for level in CONCURRENCY:
            cell = f"{by_level[level]:,.0f}"
            if raw is not None:
                cell += f" ({by_level[level] / raw[level]:.2f}× raw)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def targets(rates: Rates) -> list[str]:
    record = rates.rows["RecordAlertEvent, 1 server"]
    raw = rates.rows["raw RecordAlertEvent"]
    two = rates.rows["RecordAlertEvent, 2 servers"]
    lines = []
    for level in (16, 64):
        ratio = record[level] / raw[level]
        lines.append(f"RecordAlertEvent >= 0.5 x raw at {level}: {ratio:.2f} "
                     f"{'met' if ratio >= 0.5 else 'NOT met'}")
    lines.append(f"RecordAlertEvent at 64 >= at 4: {record[64]:,.0f} vs {record[4]:,.0f} "
                 f"{'met' if record[64] >= record[4] else 'NOT met'}")
    best_two, best_one = max(two.values()), max(record.values())
    lines.append(f"two servers ingest more than one (best level): {best_two:,.0f} vs {best_one:,.0f} "
                 f"{'met' if best_two > best_one else 'NOT met'}")
    return lines


async def run(admin_dsn: str, workdir: Path) -> Rates:
    dsn = await fresh_database(admin_dsn, f"bench_ingest_{os.getpid()}")
    return await measure(dsn, workdir)


def main() -> None:
    from server.storage.database import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        embedded: EmbeddedPostgres | None = None
        admin_dsn = os.environ.get("DATABASE_URL")
        if not admin_dsn:
            embedded = EmbeddedPostgres(workdir / "pg", keep=False)
            admin_dsn = embedded.dsn
        try:
            rates = asyncio.run(run(admin_dsn, workdir))
        finally:
            if embedded is not None:
                embedded.stop()
    print(f"{os.cpu_count()} cores; median of {REPEATS} x {SECONDS:.0f} s per cell")
    print("\n".join(table(rates)))
    print("\n".join(targets(rates)))


if __name__ == "__main__":
    main()
