"""GetDossierRecurrence (SPEC section 3): recurrence groups and their work items."""

from __future__ import annotations

from awooop.channel_events.v1 import dossier_pb2

from server.api import convert
from server.domain.recurrence import RecurrenceReadModel, build_read_model, recurrence_filter
from server.domain.validation import RECURRENCE_LIMIT, Limit, Violations
from server.storage.store import Store


async def load_read_model(
    store: Store, project_id: str, provider: str, limit: int
) -> RecurrenceReadModel:
    """The read model over the most recent `limit` events (heartbeats excluded);
    shared with the work item RPCs, which find their work item in it."""
    window = await store.recurrence_window(recurrence_filter(project_id, provider), limit)
    return build_read_model(window.facts, window.handoff_kinds, window.as_of)


def validate_filters(
    violations: Violations, project_id: str, provider: str, limit: int, window: Limit
) -> int:
    """Checks the read-model filters; returns the effective limit."""
    violations.project_id(project_id, required=False)
    violations.provider(provider, required=False)
    return violations.limit(limit, window)


async def get_dossier_recurrence(
    store: Store, request: dossier_pb2.GetDossierRecurrenceRequest
) -> dossier_pb2.GetDossierRecurrenceResponse:
    violations = Violations()
    limit = validate_filters(
        violations, request.project_id, request.provider, request.limit, RECURRENCE_LIMIT
    )
    violations.raise_if_any()
    model = await load_read_model(store, request.project_id, request.provider, limit)
    return dossier_pb2.GetDossierRecurrenceResponse(
        items=[convert.recurrence_group(group) for group in model.groups],
        summary=convert.recurrence_summary(model.summary),
        limit=limit,
    )
