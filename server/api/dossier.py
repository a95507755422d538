"""DossierService: the dossier, coverage and recurrence read models."""

from __future__ import annotations

import grpc
from awooop.channel_events.v1 import dossier_pb2, dossier_pb2_grpc

from server.api import convert
from server.api.paging import read_page
from server.api.recurrence import get_dossier_recurrence
from server.domain.dossier import coverage_summary, dossier_summary
from server.domain.models import EventFilter
from server.domain.validation import COVERAGE_LIMIT, DOSSIER_LIMIT, Violations
from server.storage.store import Store


class DossierService(dossier_pb2_grpc.DossierServiceServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    async def GetEventDossier(
        self, request: dossier_pb2.GetEventDossierRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetEventDossierResponse:
        violations = Violations()
        violations.project_id(request.project_id, required=False)
        run_id = violations.uuid(request.run_id, "run_id", required=False)
        violations.length(request.provider_event_id, "provider_event_id", 300)
        limit = violations.limit(request.limit, DOSSIER_LIMIT)
        violations.raise_if_any()
        page = await read_page(
            self._store,
            EventFilter(
                project_id=request.project_id,
                run_id=run_id,
                provider_event_id=request.provider_event_id,
            ),
            limit,
            request.page_token,
        )
        return dossier_pb2.GetEventDossierResponse(
            events=[convert.channel_event(e) for e in page.events],
            total=len(page.events),
            limit=limit,
            next_page_token=page.next_page_token,
            summary=convert.dossier_summary(dossier_summary(page.events)),
        )

    async def GetDossierCoverage(
        self, request: dossier_pb2.GetDossierCoverageRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierCoverageResponse:
        violations = Violations()
        violations.project_id(request.project_id, required=False)
        violations.provider(request.provider, required=False)
        limit = violations.limit(request.limit, COVERAGE_LIMIT)
        violations.raise_if_any()
        rows = await self._store.coverage(
            EventFilter(project_id=request.project_id, provider=request.provider), limit
        )
        return dossier_pb2.GetDossierCoverageResponse(
            providers=[convert.provider_coverage(row) for row in rows],
            summary=convert.coverage_summary(coverage_summary(rows)),
            limit=limit,
        )

    async def GetDossierRecurrence(
        self, request: dossier_pb2.GetDossierRecurrenceRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierRecurrenceResponse:
        return await get_dossier_recurrence(self._store, request)
