"""DossierService over gRPC: each RPC translates its request into the input of
its operation (server/operations/dossier.py), and the result into its response.

What each RPC does, checks and defaults is the operation's; the contract of
each is in protos/awooop/channel_events/v1/dossier.proto.
"""

from __future__ import annotations

import grpc
from awooop.channel_events.v1 import dossier_pb2, dossier_pb2_grpc

from server.api import convert
from server.operations.dossier import DossierOperations


class DossierService(dossier_pb2_grpc.DossierServiceServicer):
    def __init__(self, dossier: DossierOperations) -> None:
        self._dossier = dossier

    async def GetEventDossier(
        self, request: dossier_pb2.GetEventDossierRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetEventDossierResponse:
        page = await self._dossier.get_event_dossier(convert.dossier_query(request))
        return convert.dossier_response(page)

    async def GetDossierCoverage(
        self, request: dossier_pb2.GetDossierCoverageRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierCoverageResponse:
        coverage = await self._dossier.get_dossier_coverage(convert.read_model_query(request))
        return convert.coverage_response(coverage)

    async def GetDossierRecurrence(
        self, request: dossier_pb2.GetDossierRecurrenceRequest, context: grpc.aio.ServicerContext
    ) -> dossier_pb2.GetDossierRecurrenceResponse:
        recurrence = await self._dossier.get_dossier_recurrence(convert.read_model_query(request))
        return convert.recurrence_response(recurrence)
