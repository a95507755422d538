"""The calls the load client makes, by name (bench/load.py runs them in its workers).

Reads go to either the service or the baseline handler (bench/baseline.py):
the same request to both. Ingest calls go to the service; each has a raw
twin, "raw <name>", that writes the same rows with asyncpg's BEGIN / INSERT /
COMMIT, rows derived in the worker before the measurement starts (no gRPC,
no validation, no redaction, no record_events()).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import grpc
from awooop.channel_events.v1 import (
    dossier_pb2,
    dossier_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    work_items_pb2,
    work_items_pb2_grpc,
)

from bench.load import Target
from bench.servers import METADATA

Call = Callable[[int], Awaitable[int]]
ALERTS = 20
# Raw inserts: the connections of all workers together, as many as one
# server's pool (AWOOOP_POOL_MAX_SIZE's default).
RAW_POOL = 10


# ---------------------------------------------------------------- reads


def _read_request(name: str, target: Target) -> tuple[str, str, Any]:
    """(service, method, request) of read call `name`."""
    project = target.param("project", "proj-1")
    requests: dict[str, tuple[str, str, Any]] = {
        "ListRecentEvents(project,20)": ("events", "ListRecentEvents",
            events_pb2.ListRecentEventsRequest(project_id=project, limit=20)),
        "ListRecentEvents(project,100)": ("events", "ListRecentEvents",
            events_pb2.ListRecentEventsRequest(project_id=project, limit=100)),
        "ListRecentEvents(prefix,100)": ("events", "ListRecentEvents",
            events_pb2.ListRecentEventsRequest(provider_prefix="sentry:", limit=100)),
        "GetEventDossier(project,20)": ("dossier", "GetEventDossier",
            dossier_pb2.GetEventDossierRequest(project_id=project, limit=20)),
        "GetEventDossier(project,50)": ("dossier", "GetEventDossier",
            dossier_pb2.GetEventDossierRequest(project_id=project, limit=50)),
        "GetEventDossier(provider_event_id)": ("dossier", "GetEventDossier",
            dossier_pb2.GetEventDossierRequest(
                provider_event_id=target.param("provider_event_id", "sentry:evt-25"))),
        "GetDossierCoverage(project,200)": ("dossier", "GetDossierCoverage",
            dossier_pb2.GetDossierCoverageRequest(project_id=project, limit=200)),
        "GetDossierRecurrence(project,300)": ("dossier", "GetDossierRecurrence",
            dossier_pb2.GetDossierRecurrenceRequest(project_id=project, limit=300)),
        "PreviewWorkItem(project,300)": ("work_items", "PreviewWorkItem",
            work_items_pb2.PreviewWorkItemRequest(
                work_item_id=target.param("work_item_id"), project_id=project, limit=300)),
    }
    return requests[name]


READS = (
    "ListRecentEvents(project,20)",
    "ListRecentEvents(project,100)",
    "ListRecentEvents(prefix,100)",
    "GetEventDossier(project,20)",
    "GetEventDossier(project,50)",
    "GetEventDossier(provider_event_id)",
    "GetDossierCoverage(project,200)",
    "GetDossierRecurrence(project,300)",
    "PreviewWorkItem(project,300)",
)


def _stub(service: str, channel: grpc.aio.Channel) -> Any:
    if service == "events":
        return events_pb2_grpc.EventServiceStub(channel)
    if service == "dossier":
        return dossier_pb2_grpc.DossierServiceStub(channel)
    return work_items_pb2_grpc.WorkItemServiceStub(channel)


# ---------------------------------------------------------------- ingest


def alert_request(tag: str) -> events_pb2.RecordAlertEventRequest:
    return events_pb2.RecordAlertEventRequest(
        project_id="storm", provider="alertmanager", event_id=tag,
        title="HighPodMemory", severity="critical", namespace="payments",
        fingerprint=f"fp-{tag}",
        labels={"alertname": "HighPodMemory", "pod": "api-7d9f8b6c5-x2k4q", "team": "payments"},
        annotations={"summary": "memory above 90% on api-7d9f8b6c5-x2k4q",
                     "description": "container api used 1.9GiB of 2GiB for 5 minutes"},
    )


_TAG = "@TAG@"


def webhook(tag: str) -> bytes:
    """An Alertmanager webhook body of ALERTS alerts, fingerprints unique to `tag`."""
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


# Built once: a call only substitutes its tag (the client's own cost stays small).
_WEBHOOK = webhook(_TAG)


def _raw_templates(count: int) -> tuple[str, list[list[Any]], int, int]:
    """The INSERT and the derived rows of one raw write of `count` events,
    and the positions of the id and provider_event_id in a row."""
    from server.domain.derivation import derive_event, source_body
    from server.domain.models import AlertEventInput
    from server.storage import events

    sent = events._SENT
    names = ", ".join(c.name for c in sent)
    values = ", ".join(
        f"${n}::jsonb" if c.pg_type == "jsonb" else f"${n}" for n, c in enumerate(sent, start=1)
    )
    # Cursors below every real one (negative), from a sequence: no ordering
    # point, no duplicate check, no NOTIFY: the bare cost of the row.
    insert = (
        f"INSERT INTO events ({names}, cursor, is_duplicate, received_at) "
        f"VALUES ({values}, nextval('bench_raw_cursor'), false, clock_timestamp())"
    )
    body = source_body("storm", "alertmanager", {"receiver": "webhook"}) if count > 1 else None
    rows = []
    for i in range(count):
        event = derive_event(
            AlertEventInput(
                project_id="storm", provider="alertmanager", event_id=f"raw-{i}",
                title="HighPodMemory", severity="critical", namespace="payments",
                fingerprint=f"raw-{i}",
                labels={"alertname": "HighPodMemory", "pod": f"api-{i}", "team": "payments"},
                annotations={"summary": f"memory above 90% on api-{i}",
                             "description": "container api used 1.9GiB of 2GiB for 5 minutes"},
            ),
            body,
        ).model_copy(update={"source_body_id": None})
        rows.append([column.batch_values([event])[0] for column in sent])
    names_list = [c.name for c in sent]
    return insert, rows, names_list.index("id"), names_list.index("provider_event_id")


class RawWrite:
    """One raw write of `count` derived events: BEGIN, the INSERT, COMMIT.
    The raw client sends it straight to PostgreSQL; the baseline handler
    (bench/baseline.py) runs it behind a bare gRPC method."""

    def __init__(self, count: int) -> None:
        self.insert, self._templates, self._id_at, self._event_id_at = _raw_templates(count)

    def rows(self) -> list[list[Any]]:
        """The template rows with fresh ids (no two writes are duplicates)."""
        fresh = []
        for template in self._templates:
            row = list(template)
            row[self._id_at] = uuid.uuid4()
            row[self._event_id_at] = f"alertmanager:raw-{row[self._id_at].hex}"
            fresh.append(row)
        return fresh

    async def write(self, pool: asyncpg.Pool) -> list[uuid.UUID]:
        """The rows written, in a transaction: their ids."""
        batch = self.rows()
        async with pool.acquire() as connection, connection.transaction():
            if len(batch) == 1:
                await connection.execute(self.insert, *batch[0])
            else:
                await connection.executemany(self.insert, batch)
        return [row[self._id_at] for row in batch]


RAW_SEQUENCE = "CREATE SEQUENCE IF NOT EXISTS bench_raw_cursor INCREMENT BY -1 START WITH -1"

INGEST = ("RecordAlertEvent", f"IngestProviderPayload({ALERTS})")


# ---------------------------------------------------------------- in a worker


class Callers:
    """A worker's calls, channels and pools, made once and kept."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._pools: dict[str, asyncpg.Pool] = {}
        self._calls: dict[Target, Call] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self._channels:
            self._channels[address] = grpc.aio.insecure_channel(address)
        return self._channels[address]

    async def pool(self, dsn: str, size: int) -> asyncpg.Pool:
        if dsn not in self._pools:
            pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)
            assert pool is not None
            self._pools[dsn] = pool
        return self._pools[dsn]

    async def get(self, target: Target) -> Call:
        if target not in self._calls:
            self._calls[target] = await self._make(target)
        return self._calls[target]

    async def _make(self, target: Target) -> Call:
        name = target.call
        if name.startswith("raw "):
            return await self._raw(target)
        if name in INGEST:
            return self._ingest(target)
        service, method, request = _read_request(name, target)
        methods = [getattr(_stub(service, self.channel(a)), method) for a in target.addresses]

        async def read(index: int) -> int:
            await methods[index % len(methods)](request, metadata=METADATA)
            return 1

        return read

    def _ingest(self, target: Target) -> Call:
        stubs = [events_pb2_grpc.EventServiceStub(self.channel(a)) for a in target.addresses]
        if target.call == "RecordAlertEvent":
            async def record(index: int) -> int:
                request = alert_request(uuid.uuid4().hex)
                await stubs[index % len(stubs)].RecordAlertEvent(request, metadata=METADATA)
                return 1

            return record

        async def ingest(index: int) -> int:
            body = _WEBHOOK.replace(_TAG.encode(), uuid.uuid4().hex.encode())
            request = events_pb2.IngestProviderPayloadRequest(
                project_id="storm", provider="alertmanager", body=body
            )
            response = await stubs[index % len(stubs)].IngestProviderPayload(
                request, metadata=METADATA
            )
            return len(response.events)

        return ingest

    async def _raw(self, target: Target) -> Call:
        count = ALERTS if target.call == f"raw IngestProviderPayload({ALERTS})" else 1
        write = RawWrite(count)
        workers = int(target.param("workers", "1"))
        pool = await self.pool(target.dsn, max(1, RAW_POOL // workers))

        async def raw(index: int) -> int:
            return len(await write.write(pool))

        return raw

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        for pool in self._pools.values():
            await pool.close()
