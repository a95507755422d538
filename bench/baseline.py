"""The baseline handler: the read RPCs with nothing but their SQL and protobuf
(and the two ingest RPCs with nothing but the raw client's INSERT).

A minimal grpc.aio server (a process of its own, started and pinned like the
service: bench/servers.py) serving the same read RPCs from the same generated
stubs. Each runs the SAME statements as the service, taken from the
service's own pure query builders (server/storage: recent_events_query,
list_events_query, coverage_query, group_query, AS_OF_QUERY), on a pool
made the same way (server.storage.database.create_pool: same codecs, same
size), and turns the rows straight into the response message: no
validation, no auth, no domain objects, no page-token signing, no work-item
rules. The read table's ratio is the service's QPS over this one's.

Where the service's answer needs domain rules to pick its rows, the baseline
keeps the SQL and skips the rule: GetDossierRecurrence returns every group
row as it is (the service: work items and statuses by its rules), and
PreviewWorkItem answers with the row of the group the query narrowed to
(the service: that group's work item, evaluated against its rules).

Run: `python -m bench.baseline` with DATABASE_URL and AWOOOP_LISTEN set
(AWOOOP_POOL_MAX_SIZE and AWOOOP_EVENT_LOOP as for the service).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
from awooop.channel_events.v1 import (
    common_pb2,
    dossier_pb2,
    dossier_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    work_items_pb2,
    work_items_pb2_grpc,
)
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from bench.calls import ALERTS, RawWrite
from server.domain.models import EventFilter
from server.domain.recurrence import recurrence_filter
from server.storage.database import create_pool
from server.storage.events import coverage_query, list_events_query, recent_events_query
from server.storage.recurrence import AS_OF_QUERY, group_query


def _ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value.astimezone(UTC))
    return message


def _cursor(value: int) -> str:
    return f"{value:016x}"


def _limit(asked: int, default: int) -> int:
    return asked or default


def _refs(values: list[dict[str, Any]]) -> list[common_pb2.SourceRef]:
    return [common_pb2.SourceRef(**ref) for ref in values]


class _Base:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch(self, sql_args: tuple[str, list[Any]]) -> list[asyncpg.Record]:
        sql, args = sql_args
        async with self.pool.acquire() as connection:
            return list(await connection.fetch(sql, *args))


class BaselineEvents(_Base, events_pb2_grpc.EventServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._one = RawWrite(1)
        self._body = RawWrite(ALERTS)

    # The writes: the raw client's BEGIN / INSERT / COMMIT of the same rows,
    # derived beforehand (bench/calls.py RawWrite), behind a bare method: the
    # ingest table's ceiling for a gRPC server of one core.
    async def RecordAlertEvent(
        self, request: events_pb2.RecordAlertEventRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordAlertEventResponse:
        [event_id] = await self._one.write(self.pool)
        return events_pb2.RecordAlertEventResponse(event_id=str(event_id))

    async def IngestProviderPayload(
        self, request: events_pb2.IngestProviderPayloadRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.IngestProviderPayloadResponse:
        ids = await self._body.write(self.pool)
        return events_pb2.IngestProviderPayloadResponse(
            events=[events_pb2.RecordedEvent(event_id=str(i)) for i in ids]
        )

    async def ListRecentEvents(
        self, request: events_pb2.ListRecentEventsRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.ListRecentEventsResponse:
        limit = _limit(request.limit, 20)
        event_filter = EventFilter(
            project_id=request.project_id, channel_type=request.channel_type,
            provider_prefix=request.provider_prefix,
        )
        # One more than the page, as the service reads, to know whether one follows.
        rows = await self.fetch(recent_events_query(event_filter, limit + 1))
        page = rows[:limit]
        return events_pb2.ListRecentEventsResponse(
            events=[
                events_pb2.EventSummary(
                    event_id=str(r["id"]), project_id=r["project_id"],
                    channel_type=r["channel_type"], provider_event_id=r["provider_event_id"],
                    channel_chat_id=r["channel_chat_id"], content_preview=r["content_preview"],
                    is_duplicate=r["is_duplicate"], received_at=_ts(r["received_at"]),
                    cursor=_cursor(r["cursor"]),
                )
                for r in page
            ],
            total=len(page), limit=limit,
            next_page_token=_cursor(page[-1]["cursor"]) if len(rows) > limit else "",
        )


def _channel_event(r: asyncpg.Record) -> common_pb2.ChannelEvent:
    return common_pb2.ChannelEvent(
        event_id=str(r["id"]), project_id=r["project_id"], channel_type=r["channel_type"],
        provider=r["provider"], stage=r["stage"], provider_event_id=r["provider_event_id"],
        content_preview=r["content_preview"], content_redacted=r["content_redacted"],
        has_redacted_content=r["has_redacted_content"],
        redaction_version=r["redaction_version"], source_url=r["source_url"],
        content_sha256=r["content_sha256"], content_length=r["content_length"],
        source_refs=_refs(r["source_refs"]), source_ref_count=len(r["source_refs"]),
        log_correlation=r["log_correlation"], alertname=r["alertname"],
        severity=r["severity"], namespace=r["namespace"],
        target_resource=r["target_resource"], fingerprint=r["fingerprint"],
        is_duplicate=r["is_duplicate"], provider_ts=_ts(r["provider_ts"]),
        received_at=_ts(r["received_at"]), cursor=_cursor(r["cursor"]),
        channel_chat_id=r["channel_chat_id"],
    )


_COVERAGE_TOTALS = (
    "duplicate_total", "redacted_total", "source_ref_total", "missing_source_refs_total",
    "sentry_ref_total", "signoz_ref_total", "alert_ref_total",
)


class BaselineDossier(_Base, dossier_pb2_grpc.DossierServiceServicer):
    async def GetEventDossier(
        self, request: dossier_pb2.GetEventDossierRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetEventDossierResponse:
        limit = _limit(request.limit, 20)
        event_filter = EventFilter(
            project_id=request.project_id, provider_event_id=request.provider_event_id
        )
        rows = await self.fetch(list_events_query(event_filter, limit + 1))
        page = rows[:limit]
        return dossier_pb2.GetEventDossierResponse(
            events=[_channel_event(r) for r in page],
            total=len(page), limit=limit,
            next_page_token=_cursor(page[-1]["cursor"]) if len(rows) > limit else "",
            summary=dossier_pb2.DossierSummary(
                source_count=len(page),
                duplicate_total=sum(r["is_duplicate"] for r in page),
                redacted_total=sum(r["has_redacted_content"] for r in page),
                source_ref_total=sum(len(r["source_refs"]) for r in page),
            ),
        )

    async def GetDossierCoverage(
        self, request: dossier_pb2.GetDossierCoverageRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierCoverageResponse:
        limit = _limit(request.limit, 100)
        event_filter = EventFilter(project_id=request.project_id, provider=request.provider)
        rows = await self.fetch(coverage_query(event_filter, limit))
        summary = dossier_pb2.CoverageSummary(
            source_count=sum(r["total"] for r in rows),
            source_envelope_total=sum(r["source_envelope_total"] for r in rows),
            latest_received_at=_ts(max((r["latest_received_at"] for r in rows), default=None)),
        )
        for name in _COVERAGE_TOTALS:
            setattr(summary, name, sum(r[name] for r in rows))
        return dossier_pb2.GetDossierCoverageResponse(
            providers=[
                dossier_pb2.ProviderCoverage(
                    provider=r["provider"], total=r["total"],
                    latest_received_at=_ts(r["latest_received_at"]),
                    **{name: r[name] for name in _COVERAGE_TOTALS},
                )
                for r in rows
            ],
            summary=summary, limit=limit, project_id=request.project_id,
        )

    async def GetDossierRecurrence(
        self, request: dossier_pb2.GetDossierRecurrenceRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierRecurrenceResponse:
        limit = _limit(request.limit, 100)
        rows, _ = await recurrence_rows(self.pool, request.project_id, request.provider, limit)
        return dossier_pb2.GetDossierRecurrenceResponse(
            items=[_group(r) for r in rows], limit=limit, project_id=request.project_id,
            summary=dossier_pb2.RecurrenceSummary(
                source_event_total=sum(r["occurrence_total"] + r["duplicate_total"] for r in rows),
                recurrence_group_total=len(rows),
            ),
        )


async def recurrence_rows(
    pool: asyncpg.Pool, project_id: str, provider: str, limit: int, work_item_id: str | None = None
) -> tuple[list[asyncpg.Record], datetime]:
    """The service's statement of a recurrence read: the groups (only the work
    item's, given one) with their handoffs and the clock, in one snapshot;
    the clock alone when the window is empty, as the service reads it."""
    async with pool.acquire() as connection:
        sql, args = group_query(
            recurrence_filter(project_id, provider), limit, work_item_id=work_item_id
        )
        rows = list(await connection.fetch(sql, *args))
        as_of = rows[0]["as_of"] if rows else await connection.fetchval(AS_OF_QUERY)
    return rows, as_of


def _group(r: asyncpg.Record) -> dossier_pb2.RecurrenceGroup:
    return dossier_pb2.RecurrenceGroup(
        recurrence_key=r["recurrence_key"], occurrence_total=r["occurrence_total"],
        duplicate_total=r["duplicate_total"], linked_run_total=r["linked_run_total"],
        source_ref_total=r["source_ref_total"],
        missing_source_refs_total=r["missing_source_refs_total"],
        sentry_ref_total=r["sentry_ref_total"], signoz_ref_total=r["signoz_ref_total"],
        alert_ref_total=r["alert_ref_total"],
        latest_event_id=str(r["latest_event_id"]),
        latest_provider_event_id=r["latest_provider_event_id"],
        latest_content_preview=r["latest_content_preview"], provider=r["provider"],
        alertname=r["alertname"], severity=r["severity"], namespace=r["namespace"],
        target_resource=r["target_resource"], fingerprint=r["fingerprint"],
        incident_ids=sorted({run["incident_id"] for run in r["runs"] or () if run["incident_id"]}),
        first_received_at=_ts(r["first_received_at"]),
        latest_received_at=_ts(r["latest_received_at"]),
    )


class BaselineWorkItems(_Base, work_items_pb2_grpc.WorkItemServiceServicer):
    async def PreviewWorkItem(
        self, request: work_items_pb2.PreviewWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.PreviewWorkItemResponse:
        rows, _ = await recurrence_rows(
            self.pool, request.project_id, request.provider, _limit(request.limit, 300),
            request.work_item_id,
        )
        first = rows[0] if rows else None
        return work_items_pb2.PreviewWorkItemResponse(
            work_item=work_items_pb2.WorkItem(
                work_item_id=request.work_item_id,
                recurrence_key=first["recurrence_key"] if first else "",
            ),
        )


async def serve() -> None:
    pool = await create_pool(
        os.environ["DATABASE_URL"], int(os.environ.get("AWOOOP_POOL_MAX_SIZE", "10"))
    )
    server = grpc.aio.server()
    # Only the read and ingest RPCs are served: the others stay UNIMPLEMENTED.
    events_pb2_grpc.add_EventServiceServicer_to_server(BaselineEvents(pool), server)  # type: ignore[abstract]
    dossier_pb2_grpc.add_DossierServiceServicer_to_server(BaselineDossier(pool), server)  # type: ignore[abstract]
    work_items_pb2_grpc.add_WorkItemServiceServicer_to_server(BaselineWorkItems(pool), server)  # type: ignore[abstract]
    health_pb2_grpc.add_HealthServicer_to_server(health_aio.HealthServicer(), server)
    server.add_insecure_port(os.environ["AWOOOP_LISTEN"])
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await server.stop(1.0)
    await pool.close()


def main() -> None:
    if os.environ.get("AWOOOP_EVENT_LOOP") == "uvloop":
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
