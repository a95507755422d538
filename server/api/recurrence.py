"""GetDossierRecurrence (SPEC section 3): recurrence groups and their work items."""

from __future__ import annotations

from awooop.channel_events.v1 import dossier_pb2

from server.errors import Unimplemented
from server.storage.store import Store


async def get_dossier_recurrence(
    store: Store, request: dossier_pb2.GetDossierRecurrenceRequest
) -> dossier_pb2.GetDossierRecurrenceResponse:
    raise Unimplemented("GetDossierRecurrence is not implemented yet")
