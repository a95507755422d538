"""A soak: mixed traffic for a fixed time against one server, as on-call tools
make it during an incident, and what must hold after it.

`make test` runs a short version (AWOOOP_SOAK_SECONDS, default 6); `make soak`
runs three minutes. Writers (single events and webhook bodies), readers of
every read model, heartbeats, work item previews and dry-runs, and watchers,
all at once. Afterwards:

- no call answered anything but OK (the service is healthy: nothing may
  fail), but a work item that concurrent writes moved out of its window
  (NOT_FOUND, as the contract says);
- every write that was acknowledged is stored, and every watcher received
  every acknowledged event, exactly once, in cursor order;
- nothing grew after the warm-up: asyncio tasks, database connections
  (bounded by the pool), resident memory (within a margin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections import Counter
from pathlib import Path

import grpc
import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2, work_items_pb2

from tests.harness import INGEST, OPERATOR, Service

SECONDS = float(os.environ.get("AWOOOP_SOAK_SECONDS", "6"))
PROJECTS = ("alpha", "beta")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def database_connections(service: Service) -> int:
    async with service.store.pool.acquire() as connection:
        return int(await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ))


class Watcher:
    """A live WatchEvents stream that keeps only (event id, cursor) of what it
    receives, so that the soak measures the server's memory, not its own."""

    def __init__(self, service: Service) -> None:
        self.received: list[tuple[str, str]] = []
        self._call = service.events.WatchEvents(events_pb2.WatchEventsRequest())
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> Watcher:
        self._responses = self._call.__aiter__()
        # The opening progress: the server follows from here on.
        first = await self._responses.__anext__()
        assert first.HasField("progress")
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for response in self._responses:
            if response.HasField("event"):
                self.received.append((response.event.event_id, response.event.cursor))

    async def until_all(self, wanted: set[str], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            missing = wanted - {event_id for event_id, _ in self.received}
            if not missing:
                return
            assert loop.time() < deadline, (
                f"{len(missing)} of {len(wanted)} acknowledged events not delivered; "
                f"stream ended: {self._task.done() if self._task else None}"
            )
            await asyncio.sleep(0.1)

    async def cancel(self) -> None:
        self._call.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                await self._task


class Soak:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.codes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.acknowledged: list[str] = []
        self._n = 0

    def _ok(self, name: str) -> None:
        self.codes[f"{name} OK"] += 1

    def _failed(self, name: str, error: grpc.aio.AioRpcError) -> None:
        self.codes[f"{name} {error.code().name}"] += 1
        self.failures.append(f"{name}: {error.code().name} {error.details()}")

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def writer(self, until: float) -> None:
        rng = random.Random(self._next())
        while asyncio.get_running_loop().time() < until:
            project = rng.choice(PROJECTS)
            try:
                if rng.random() < 0.2:
                    alerts = [
                        {"status": "firing", "labels": {"alertname": f"Storm{rng.randrange(5)}"},
                         "startsAt": "2026-12-04T10:00:00Z", "fingerprint": f"fp{rng.randrange(8)}"}
                        for _ in range(rng.randrange(1, 6))
                    ]
                    response = await self.service.events.IngestProviderPayload(
                        events_pb2.IngestProviderPayloadRequest(
                            project_id=project, provider="alertmanager",
                            body=json.dumps({"version": "4", "alerts": alerts}).encode(),
                        ), metadata=INGEST,
                    )
                    self.acknowledged += [e.event_id for e in response.events]
                    self._ok("IngestProviderPayload")
                else:
                    recorded = await self.service.record(
                        project_id=project, event_id=f"e{rng.randrange(50)}",
                        fingerprint=f"fp{rng.randrange(8)}", title="DiskFull",
                        annotations={"summary": "password=hunter2 on db-0"},
                    )
                    self.acknowledged.append(recorded.event_id)
                    self._ok("RecordAlertEvent")
            except grpc.aio.AioRpcError as error:
                self._failed("write", error)

    async def reader(self, until: float) -> None:
        rng = random.Random(self._next())
        calls = {
            "ListRecentEvents": lambda p: self.service.events.ListRecentEvents(
                events_pb2.ListRecentEventsRequest(project_id=p, limit=50)),
            "GetEventDossier": lambda p: self.service.dossier.GetEventDossier(
                dossier_pb2.GetEventDossierRequest(project_id=p)),
            "GetDossierCoverage": lambda p: self.service.dossier.GetDossierCoverage(
                dossier_pb2.GetDossierCoverageRequest(project_id=p)),
            "GetDossierRecurrence": lambda p: self.service.dossier.GetDossierRecurrence(
                dossier_pb2.GetDossierRecurrenceRequest(project_id=p)),
        }
        while asyncio.get_running_loop().time() < until:
            name = rng.choice(list(calls))
            try:
                await calls[name](rng.choice(PROJECTS))
                self._ok(name)
            except grpc.aio.AioRpcError as error:
                self._failed(name, error)

    async def operator(self, until: float) -> None:
        rng = random.Random(self._next())
        while asyncio.get_running_loop().time() < until:
            project = rng.choice(PROJECTS)
            try:
                await self.service.events.RecordProviderHeartbeat(
                    events_pb2.RecordProviderHeartbeatRequest(project_id=project), metadata=OPERATOR
                )
                self._ok("RecordProviderHeartbeat")
                model = await self.service.dossier.GetDossierRecurrence(
                    dossier_pb2.GetDossierRecurrenceRequest(project_id=project, limit=300)
                )
                items = [g.work_item.work_item_id for g in model.items if g.HasField("work_item")]
                if items:
                    request = work_items_pb2.PreviewWorkItemRequest(
                        work_item_id=rng.choice(items), project_id=project
                    )
                    await self.service.work_items.PreviewWorkItem(request)
                    self._ok("PreviewWorkItem")
                    await self.service.work_items.DryRunWorkItem(
                        work_items_pb2.DryRunWorkItemRequest(
                            work_item_id=request.work_item_id, project_id=project
                        ), metadata=OPERATOR,
                    )
                    self._ok("DryRunWorkItem")
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    # Writes between reading the model and calling may move the
                    # group's work item out of the window: the contract's answer.
                    self.codes["work item moved NOT_FOUND"] += 1
                else:
                    self._failed("operator", error)
            await asyncio.sleep(0.05)


@pytest.mark.timeout(SECONDS * 4 + 120)
async def test_mixed_traffic_fails_nothing_loses_nothing_and_grows_nothing(
    service: Service,
) -> None:
    soak = Soak(service)
    watchers = [await Watcher(service).open() for _ in range(3)]
    loop = asyncio.get_running_loop()

    async def phase(seconds: float) -> None:
        until = loop.time() + seconds
        await asyncio.gather(
            *(soak.writer(until) for _ in range(4)),
            *(soak.reader(until) for _ in range(3)),
            soak.operator(until),
        )

    await phase(max(2.0, SECONDS / 3))  # warm-up: pools, caches, statements
    tasks, connections, rss = len(asyncio.all_tasks()), await database_connections(service), rss_mib()
    await phase(SECONDS)
    after_tasks = len(asyncio.all_tasks())
    after_connections = await database_connections(service)
    after_rss = rss_mib()

    assert not soak.failures, soak.failures[:10]
    assert sum(soak.codes.values()) > 50, soak.codes  # it really ran
    async with service.store.pool.acquire() as connection:
        stored = await connection.fetchval(
            "SELECT count(*) FROM events WHERE id = ANY($1::uuid[])", soak.acknowledged
        )
    assert stored == len(soak.acknowledged)
    acknowledged = set(soak.acknowledged)
    for watcher in watchers:
        await watcher.until_all(acknowledged, timeout=30)
        delivered = [event_id for event_id, _ in watcher.received]
        cursors = [cursor for _, cursor in watcher.received]
        assert len(delivered) == len(set(delivered))  # exactly once
        assert cursors == sorted(cursors)  # in cursor order
        await watcher.cancel()
    assert after_tasks <= tasks + 2, (tasks, after_tasks)
    assert after_connections <= max(connections, service.store.pool.get_max_size() + 2)
    assert after_rss - rss < 64, (rss, after_rss)
