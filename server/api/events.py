"""EventService: validates and converts requests, calls the domain and the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
from awooop.channel_events.v1 import common_pb2, events_pb2, events_pb2_grpc

from server.api import convert, cpu
from server.api.guard import current_principal
from server.api.ingest import ingest_provider_payload
from server.api.paging import read_page
from server.api.watch import GrpcEventWatch, watch_request
from server.config import Settings
from server.domain import heartbeat
from server.domain.cursors import encode_cursor
from server.domain.derivation import derive_event
from server.domain.events import check_alert_event
from server.domain.models import EventFilter, NewEvent, RunInput
from server.domain.validation import LIST_RECENT_LIMIT, Violations
from server.storage.events import Recorded
from server.storage.store import Store


# Links per RecordRun call; a run may gather more over several calls.
MAX_RUN_EVENT_IDS = 1000


def _recorded_response(recorded: Recorded) -> events_pb2.RecordAlertEventResponse:
    return events_pb2.RecordAlertEventResponse(
        event_id=str(recorded.id),
        provider_event_id=recorded.provider_event_id,
        is_duplicate=recorded.is_duplicate,
        cursor=encode_cursor(recorded.cursor),
    )


def _prepare_alert_event(request: events_pb2.RecordAlertEventRequest) -> NewEvent:
    """Everything before the write: checks, derivation and redaction."""
    violations = Violations()
    event = convert.alert_event_input(request, violations)
    check_alert_event(event, violations)
    violations.raise_if_any()
    return derive_event(event)


class EventService(events_pb2_grpc.EventServiceServicer):
    def __init__(self, store: Store, settings: Settings, watch: GrpcEventWatch) -> None:
        self._store = store
        self._settings = settings
        self._watch = watch

    async def RecordAlertEvent(
        self, request: events_pb2.RecordAlertEventRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordAlertEventResponse:
        new_event = await cpu.run(request.ByteSize(), _prepare_alert_event, request)
        [recorded] = await self._store.record_events([new_event])
        return _recorded_response(recorded)

    async def IngestProviderPayload(
        self, request: events_pb2.IngestProviderPayloadRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.IngestProviderPayloadResponse:
        return await ingest_provider_payload(self._store, self._settings, request)

    async def RecordRun(
        self, request: events_pb2.RecordRunRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordRunResponse:
        violations = Violations()
        violations.project_id(request.project_id)
        run_id = violations.uuid(request.run_id, "run_id")
        if len(request.event_ids) > MAX_RUN_EVENT_IDS:
            violations.add("event_ids", f"at most {MAX_RUN_EVENT_IDS} per call")
        event_ids = [
            violations.uuid(value, f"event_ids[{index}]")
            for index, value in enumerate(request.event_ids[:MAX_RUN_EVENT_IDS])
        ]
        if request.state not in common_pb2.RunState.values():
            violations.add("state", "unknown run state")
        if request.repair_status not in common_pb2.RepairStatus.values():
            violations.add("repair_status", "unknown repair status")
        for name in ("agent_id", "incident_id"):
            violations.length(getattr(request, name), name, 256)
        violations.length(request.repair_summary, "repair_summary", 64 * 1024)
        violations.raise_if_any()
        assert run_id is not None
        run = await self._store.record_run(
            RunInput(
                run_id=run_id,
                project_id=request.project_id,
                event_ids=[e for e in event_ids if e is not None],
                state=convert.run_state_from_proto(request.state),
                agent_id=request.agent_id if request.HasField("agent_id") else None,
                incident_id=request.incident_id if request.HasField("incident_id") else None,
                repair_status=convert.repair_status_from_proto(request.repair_status),
                repair_summary=(
                    request.repair_summary if request.HasField("repair_summary") else None
                ),
            )
        )
        return events_pb2.RecordRunResponse(
            run_id=str(run.run_id),
            project_id=run.project_id,
            state=convert.run_state(run.state),
            repair_status=convert.repair_status(run.repair_status),
            created=run.created,
            linked_event_total=run.linked_event_total,
        )

    async def RecordProviderHeartbeat(
        self,
        request: events_pb2.RecordProviderHeartbeatRequest,
        context: grpc.aio.ServicerContext,
    ) -> events_pb2.RecordProviderHeartbeatResponse:
        beat = heartbeat.HeartbeatRequest(
            project_id=(
                request.project_id if request.HasField("project_id") else heartbeat.DEFAULT_PROJECT
            ),
            providers=list(request.providers) or list(heartbeat.HEARTBEAT_PROVIDERS),
            reason=request.reason if request.HasField("reason") else heartbeat.DEFAULT_REASON,
            run_ref=request.run_ref,
        )
        violations = Violations()
        heartbeat.check_heartbeat(beat, violations)
        violations.raise_if_any()
        principal = current_principal()
        now = datetime.now(UTC)
        new_events = [
            derive_event(
                heartbeat.heartbeat_event(
                    beat,
                    provider,
                    now,
                    self._settings.heartbeat_namespace,
                    principal.operator_id,
                    principal.auth_method,
                )
            )
            for provider in beat.providers
        ]
        runs: list[RunInput] = [heartbeat.shadow_run(beat.project_id, e.id) for e in new_events]
        recorded, _ = await self._store.record_events_with_runs(new_events, runs)
        return events_pb2.RecordProviderHeartbeatResponse(
            status="recorded",
            project_id=beat.project_id,
            items=[
                events_pb2.HeartbeatItem(
                    provider=provider,
                    event_id=heartbeat.heartbeat_event_id(now),
                    conversation_event_id=str(item.id),
                    run_id=str(run.run_id),
                )
                for provider, item, run in zip(beat.providers, recorded, runs, strict=True)
            ],
        )

    async def ListRecentEvents(
        self, request: events_pb2.ListRecentEventsRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.ListRecentEventsResponse:
        violations = Violations()
        violations.project_id(request.project_id, required=False)
        violations.length(request.channel_type, "channel_type", 64)
        violations.length(request.provider_prefix, "provider_prefix", 300)
        limit = violations.limit(request.limit, LIST_RECENT_LIMIT)
        violations.raise_if_any()
        page = await read_page(
            self._store,
            EventFilter(
                project_id=request.project_id,
                channel_type=request.channel_type,
                provider_prefix=request.provider_prefix,
            ),
            limit,
            request.page_token,
        )
        return events_pb2.ListRecentEventsResponse(
            events=[convert.event_summary(e) for e in page.events],
            total=len(page.events),
            limit=limit,
            next_page_token=page.next_page_token,
        )

    async def WatchEvents(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.WatchEventsResponse]:
        async for response in self._watch.stream(watch_request(request)):
            yield response
