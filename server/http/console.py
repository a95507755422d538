"""The operator console's REST API, at the replaced router's paths (SPEC section 8).

Each route translates its query or JSON body into the input of the same
operation its gRPC twin calls, and the result into the old router's JSON
(server/http/render.py). Limits, defaults and checks are the operations';
only what the wire itself says (a number that is not one, a repeated
parameter) is found here. Who may call each route is the same as its RPC.
"""

from __future__ import annotations

from starlette.responses import Response

from server.auth import Role
from server.domain.heartbeat import (
    DEFAULT_PROJECT,
    DEFAULT_REASON,
    HEARTBEAT_PROVIDERS,
    MAX_REASON,
    HeartbeatRequest,
)
from server.domain.validation import (
    COVERAGE_LIMIT,
    DOSSIER_LIMIT,
    LIST_RECENT_LIMIT,
    RECURRENCE_LIMIT,
    WORK_ITEM_LIMIT,
    Limit,
)
from server.domain.work_items import HandoffKind, WorkItemMode
from server.http import render
from server.http.edge import Call, Endpoint, Param, json_response
from server.operations.dossier import DossierOperations, DossierQuery, ReadModelQuery
from server.operations.events import EventOperations, RecentEventsQuery
from server.operations.work_items import HandoffRequest, WorkItemOperations, WorkItemQuery


def _limit_param(limit: Limit, what: str) -> Param:
    return Param(
        "limit", "integer", what, default=limit.default, minimum=1, maximum=limit.maximum
    )


_PROJECT = Param("project_id", description="Only this project's events (absent: every project).")
_PROVIDER = Param("provider", description="Only this provider's events, e.g. sentry, signoz.")
_PAGE_TOKEN = Param("page_token", description="next_page_token of the previous page.")
_MODE = Param("mode", description="auto, or manual (every step an operator's).", default="auto",
              enum=[m.value for m in WorkItemMode])
# What preview, dry-run and handoff share (as query parameters or JSON fields).
_WORK_ITEM_PARAMS = [
    Param("work_item_id", required=True, description="The recurrence work item."),
    _PROJECT,
    _PROVIDER,
    _MODE,
    _limit_param(WORK_ITEM_LIMIT, "Events considered."),
]


class ConsoleRoutes:
    def __init__(
        self, events: EventOperations, dossier: DossierOperations, work_items: WorkItemOperations
    ) -> None:
        self._events = events
        self._dossier = dossier
        self._work_items = work_items

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "GET", "/events/dossier", "The source dossier: events with every field, newest first.",
                Role.READER, self.dossier,
                params=[
                    _PROJECT,
                    Param("run_id", description="Only events linked to this run (a UUID)."),
                    Param("provider_event_id", description="Exact provider_event_id."),
                    _limit_param(DOSSIER_LIMIT, "Events per page."),
                    _PAGE_TOKEN,
                ],
            ),
            Endpoint(
                "GET", "/events/dossier/coverage",
                "Per-provider coverage of the most recent events (heartbeats included).",
                Role.READER, self.coverage,
                params=[_PROJECT, _PROVIDER, _limit_param(COVERAGE_LIMIT, "Events considered.")],
            ),
            Endpoint(
                "POST", "/events/dossier/provider-heartbeat",
                "Records a low-noise freshness heartbeat per provider (operator key).",
                Role.OPERATOR, self.heartbeat,
                body=[
                    Param("project_id", default=DEFAULT_PROJECT),
                    Param("providers", "array", default=list(HEARTBEAT_PROVIDERS),
                          enum=list(HEARTBEAT_PROVIDERS)),
                    Param("reason", default=DEFAULT_REASON, maximum=MAX_REASON),
                    Param("run_ref", maximum=MAX_REASON),
                ],
                # The heartbeat's project when the body names none.
                project_of=lambda call: call.text("project_id", DEFAULT_PROJECT),
            ),
            Endpoint(
                "GET", "/events/dossier/recurrence",
                "Recurrence groups of the most recent events, their runs and work items.",
                Role.READER, self.recurrence,
                params=[_PROJECT, _PROVIDER, _limit_param(RECURRENCE_LIMIT, "Events considered.")],
            ),
            Endpoint(
                "GET", "/events/dossier/recurrence/work-item/preview",
                "The plan and pre-flight checks of a work item. Writes nothing.",
                Role.READER, self.preview,
                params=_WORK_ITEM_PARAMS,
            ),
            Endpoint(
                "POST", "/events/dossier/recurrence/work-item/dry-run",
                "Evaluates a work item and appends the outcome to its history (operator key).",
                Role.OPERATOR, self.dry_run,
                body=_WORK_ITEM_PARAMS,
            ),
            Endpoint(
                "POST", "/events/dossier/recurrence/work-item/handoff",
                "Records a handoff proposal after a dry-run; idempotent (operator key).",
                Role.OPERATOR, self.handoff,
                body=[*_WORK_ITEM_PARAMS,
                      Param("handoff_kind", default=HandoffKind.TICKET_PROPOSAL.value,
                            enum=[k.value for k in HandoffKind])],
            ),
            Endpoint(
                "GET", "/events/recent", "The most recent events, newest first.",
                Role.READER, self.recent,
                params=[
                    _PROJECT,
                    Param("channel_type", description="Only this channel type, e.g. alert."),
                    Param("provider_prefix", description="A prefix of provider_event_id."),
                    _limit_param(LIST_RECENT_LIMIT, "Events per page."),
                    _PAGE_TOKEN,
                ],
            ),
        ]

    async def dossier(self, call: Call) -> Response:
        query = DossierQuery(
            project_id=call.text("project_id"),
            run_id=call.text("run_id"),
            provider_event_id=call.text("provider_event_id"),
            limit=call.limit(DOSSIER_LIMIT),
            page_token=call.text("page_token"),
        )
        call.raise_if_invalid()
        return json_response(render.dossier(await self._dossier.get_event_dossier(query)))

    async def coverage(self, call: Call) -> Response:
        query = self._read_model_query(call, COVERAGE_LIMIT)
        return json_response(render.coverage(await self._dossier.get_dossier_coverage(query)))

    async def recurrence(self, call: Call) -> Response:
        query = self._read_model_query(call, RECURRENCE_LIMIT)
        return json_response(render.recurrence(await self._dossier.get_dossier_recurrence(query)))

    async def heartbeat(self, call: Call) -> Response:
        given: dict[str, object] = {}
        for name in ("project_id", "reason", "run_ref"):
            if name in call.body:
                given[name] = call.text(name)
        providers = call.texts("providers")
        if providers is not None:
            given["providers"] = providers
        call.raise_if_invalid()
        beat = HeartbeatRequest.model_validate(given)
        result = await self._events.record_provider_heartbeat(beat, call.principal)
        return json_response(render.heartbeat(result))

    async def preview(self, call: Call) -> Response:
        query = self._work_item_query(call)
        call.raise_if_invalid()
        return json_response(render.preview(await self._work_items.preview_work_item(query)))

    async def dry_run(self, call: Call) -> Response:
        query = self._work_item_query(call)
        call.raise_if_invalid()
        result = await self._work_items.dry_run_work_item(query, call.principal)
        return json_response(render.dry_run(result))

    async def handoff(self, call: Call) -> Response:
        query = self._work_item_query(call)
        request = HandoffRequest(
            work_item_id=query.work_item_id,
            project_id=query.project_id,
            provider=query.provider,
            limit=query.limit,
            mode=query.mode,
            handoff_kind=self._optional(call, "handoff_kind"),
        )
        call.raise_if_invalid()
        result = await self._work_items.handoff_work_item(request, call.principal)
        return json_response(render.handoff(result))

    async def recent(self, call: Call) -> Response:
        query = RecentEventsQuery(
            project_id=call.text("project_id"),
            channel_type=call.text("channel_type"),
            provider_prefix=call.text("provider_prefix"),
            limit=call.limit(LIST_RECENT_LIMIT),
            page_token=call.text("page_token"),
        )
        call.raise_if_invalid()
        return json_response(render.recent_events(await self._events.list_recent_events(query)))

    @staticmethod
    def _read_model_query(call: Call, limit: Limit) -> ReadModelQuery:
        query = ReadModelQuery(
            project_id=call.text("project_id"),
            provider=call.text("provider"),
            limit=call.limit(limit),
        )
        call.raise_if_invalid()
        return query

    @staticmethod
    def _optional(call: Call, name: str) -> str | None:
        value = call.text(name)
        return value or None

    def _work_item_query(self, call: Call) -> WorkItemQuery:
        """The fields preview, dry-run and handoff share (work_item_id is
        required: an absent one is an empty one, which the operation refuses)."""
        return WorkItemQuery(
            work_item_id=call.text("work_item_id"),
            project_id=call.text("project_id"),
            provider=call.text("provider"),
            limit=call.limit(WORK_ITEM_LIMIT),
            mode=self._optional(call, "mode"),
        )
