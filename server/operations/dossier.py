"""DossierService's operations (SPEC section 3): the dossier, coverage and
recurrence read models.

Same shape as every operation: validate, read through the store, apply the
domain's read-model rules, return domain results. The recurrence read model
is also where the work item operations find their work item
(server/operations/work_items.py), with the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.dossier import (
    CoverageSummary,
    DossierSummary,
    ProviderCoverage,
    coverage_summary,
    dossier_summary,
)
from server.domain.event_rows import DossierEvent
from server.domain.events import MAX_PROVIDER_EVENT_ID
from server.domain.models import EventFilter
from server.domain.recurrence import (
    RecurrenceGroup,
    RecurrenceReadModel,
    RecurrenceSummary,
    read_model,
    recurrence_filter,
)
from server.domain.validation import (
    COVERAGE_LIMIT,
    DOSSIER_LIMIT,
    RECURRENCE_LIMIT,
    Limit,
    Violations,
)
from server.operations.paging import Page, PageQuery, read_page
from server.storage.store import Store


@dataclass(frozen=True, kw_only=True)
class DossierQuery(PageQuery):
    """GetEventDossier's input (limit: DOSSIER_LIMIT). Empty filters match any event."""

    project_id: str = ""
    # Events linked to this run (a UUID).
    run_id: str = ""
    # Exact match.
    provider_event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ReadModelQuery:
    """The filters of the coverage and recurrence read models: the most
    recent `limit` matching events (0 means the read model's default)."""

    project_id: str = ""
    provider: str = ""
    limit: int = 0


@dataclass(frozen=True)
class DossierPage(Page[DossierEvent]):
    # Totals over the page's events.
    summary: DossierSummary


@dataclass(frozen=True)
class Coverage:
    # The project_id filter ("" = every project).
    project_id: str
    # One row per provider, by provider name.
    providers: list[ProviderCoverage]
    summary: CoverageSummary
    limit: int


@dataclass(frozen=True)
class Recurrence:
    # The project_id filter ("" = every project).
    project_id: str
    # By occurrence_total desc, then most recent event first.
    groups: list[RecurrenceGroup]
    summary: RecurrenceSummary
    limit: int


def check_read_model_query(violations: Violations, query: ReadModelQuery, window: Limit) -> int:
    """Checks the read-model filters; returns the effective limit."""
    violations.project_id(query.project_id, required=False)
    violations.provider(query.provider, required=False)
    return violations.limit(query.limit, window)


async def load_read_model(store: Store, query: ReadModelQuery, limit: int) -> RecurrenceReadModel:
    """The recurrence read model over the most recent `limit` events of the
    query's filters (heartbeats excluded)."""
    window = await store.recurrence_window(recurrence_filter(query.project_id, query.provider), limit)
    # Each group was built once, in the store's snapshot; only the handed-off
    # work items change here.
    return read_model(window.groups, window.handoff_kinds, window.as_of)


class DossierOperations:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_event_dossier(self, query: DossierQuery) -> DossierPage:
        """GetEventDossier: one page of events with every field, newest first,
        and totals over that page."""
        violations = Violations()
        violations.project_id(query.project_id, required=False)
        run_id = violations.uuid(query.run_id, "run_id", required=False)
        violations.length(query.provider_event_id, "provider_event_id", MAX_PROVIDER_EVENT_ID)
        limit = violations.limit(query.limit, DOSSIER_LIMIT)
        violations.raise_if_any()
        event_filter = EventFilter(
            project_id=query.project_id, run_id=run_id, provider_event_id=query.provider_event_id
        )
        page = await read_page(self._store.dossier_events, event_filter, limit, query.page_token)
        return DossierPage(
            events=page.events,
            limit=page.limit,
            next_page_token=page.next_page_token,
            summary=dossier_summary(page.events),
        )

    async def get_dossier_coverage(self, query: ReadModelQuery) -> Coverage:
        """GetDossierCoverage: per-provider totals over the most recent
        events, heartbeats included (they show each provider's freshness)."""
        violations = Violations()
        limit = check_read_model_query(violations, query, COVERAGE_LIMIT)
        violations.raise_if_any()
        rows = await self._store.coverage(
            EventFilter(project_id=query.project_id, provider=query.provider), limit
        )
        return Coverage(project_id=query.project_id, providers=rows, summary=coverage_summary(rows), limit=limit)

    async def get_dossier_recurrence(self, query: ReadModelQuery) -> Recurrence:
        """GetDossierRecurrence: recurrence groups, their work items, and totals."""
        violations = Violations()
        limit = check_read_model_query(violations, query, RECURRENCE_LIMIT)
        violations.raise_if_any()
        model = await load_read_model(self._store, query, limit)
        return Recurrence(project_id=query.project_id, groups=model.groups, summary=model.summary, limit=limit)
