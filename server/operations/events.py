"""EventService's operations (SPEC sections 2 and 2b): recording alert events,
provider webhook bodies, runs and heartbeats, and listing recent events.

Each is one method of `EventOperations`, in one shape: validate (every bad
field at once, as InvalidArgument), apply the domain rules, call the store,
return domain results. A transport translates its messages into the inputs
below and the results back; no rule, limit or default lives there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from server.auth import Principal
from server.config import Settings
from server.domain import heartbeat, providers
from server.domain.derivation import derive_event, source_body
from server.domain.event_rows import ListedEvent
from server.domain.errors import DomainError, FieldViolation, Unavailable
from server.domain.events import check_alert_event, check_event_filter
from server.domain.stored_text import redacted
from server.domain.models import (
    AlertEventInput,
    NewEvent,
    Recorded,
    RepairStatus,
    Run,
    RunInput,
    RunState,
    SourceBody,
)
from server.domain.validation import LIST_RECENT_LIMIT, MAX_FIELD, Violations
from server.observability.metrics import Metrics
from server.operations import cpu
from server.operations.paging import Page, PageQuery, read_page
from server.storage.store import Store

# Links per RecordRun call; a run may gather more over several calls.
MAX_RUN_EVENT_IDS = 1000
# A run's agent_id and incident_id: ids another system gave.
MAX_RUN_REF = 256


@dataclass(frozen=True)
class ProviderPayload:
    """IngestProviderPayload's input: one webhook as it arrived."""

    project_id: str
    provider: str
    # The raw JSON body, as received.
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class RunRequest:
    """RecordRun's input: an upsert of run `run_id`. None keeps what the run
    has (a new run starts queued, repair status none: server/storage/runs.py)."""

    run_id: str
    project_id: str
    # Conversation event ids; added to the run's links, never removed.
    event_ids: Sequence[str] = ()
    # A RunState value.
    state: str | None = None
    agent_id: str | None = None
    incident_id: str | None = None
    # A RepairStatus value.
    repair_status: str | None = None
    repair_summary: str | None = None


RECORDED = "recorded"


@dataclass(frozen=True)
class HeartbeatItem:
    provider: str
    # The provider-side id: "heartbeat-" + the UTC time.
    event_id: str
    conversation_event_id: UUID
    # The completed shadow run linked to the event.
    run_id: UUID


@dataclass(frozen=True)
class HeartbeatResult:
    project_id: str
    items: list[HeartbeatItem]
    status: str = RECORDED


@dataclass(frozen=True, kw_only=True)
class RecentEventsQuery(PageQuery):
    """ListRecentEvents' input (limit: LIST_RECENT_LIMIT). Empty filters match any event."""

    project_id: str = ""
    channel_type: str = ""
    # A prefix of provider_event_id.
    provider_prefix: str = ""


# How the transport hands over a RecordAlertEvent it has not decoded yet:
# the event, and the fields it could not decode.
DecodeEvent = Callable[[], tuple[AlertEventInput, Sequence[FieldViolation]]]


def _prepare_alert_event(
    event: AlertEventInput, undecodable: Sequence[FieldViolation]
) -> NewEvent:
    """Everything before the write: checks, derivation and redaction."""
    violations = Violations()
    for violation in undecodable:
        violations.add(violation.field, violation.description)
    check_alert_event(event, violations)
    violations.raise_if_any()
    return derive_event(event)


def _prepare_payload(
    settings: Settings, payload: ProviderPayload
) -> tuple[SourceBody, list[NewEvent]]:
    """Everything before the write: checks, parsing, derivation and redaction.

    A body becomes its events (server/domain/providers/), each checked and
    derived exactly as RecordAlertEvent would."""
    violations = Violations()
    violations.project_id(payload.project_id)
    providers.check_request(payload.provider, payload.body, violations)
    headers = providers.header_map(payload.headers, violations)
    violations.raise_if_any()
    secret = settings.sentry_client_secret
    # Checked before the body is parsed: an unsigned body is not read at all.
    if providers.REGISTRY[payload.provider].sentry_signed and secret and secret.get_secret_value():
        providers.verify_sentry_signature(payload.body, headers, secret.get_secret_value())
    parsed = providers.parse_payload(payload.project_id, payload.provider, payload.body, headers)
    for item in parsed.events:
        check_alert_event(item.event, violations, prefix=f"{item.origin}.")
    violations.raise_if_any()
    body = source_body(payload.project_id, payload.provider, parsed.shared)
    return body, [cpu.yielding(derive_event(item.event, body)) for item in parsed.events]


def _run_input(request: RunRequest) -> RunInput:
    violations = Violations()
    violations.project_id(request.project_id)
    run_id = violations.uuid(request.run_id, "run_id")
    if len(request.event_ids) > MAX_RUN_EVENT_IDS:
        violations.add("event_ids", f"at most {MAX_RUN_EVENT_IDS} per call")
    event_ids = [
        violations.uuid(value, f"event_ids[{index}]")
        for index, value in enumerate(request.event_ids[:MAX_RUN_EVENT_IDS])
    ]
    state = violations.choice(request.state, RunState, "state", "unknown run state")
    repair_status = violations.choice(
        request.repair_status, RepairStatus, "repair_status", "unknown repair status"
    )
    for name in ("agent_id", "incident_id"):
        violations.length(getattr(request, name) or "", name, MAX_RUN_REF)
    violations.length(request.repair_summary or "", "repair_summary", MAX_FIELD)
    violations.raise_if_any()
    assert run_id is not None
    return redacted(RunInput(
        run_id=run_id,
        project_id=request.project_id,
        event_ids=[e for e in event_ids if e is not None],
        state=state,
        agent_id=request.agent_id,
        incident_id=request.incident_id,
        repair_status=repair_status,
        repair_summary=request.repair_summary,
    ))


class EventOperations:
    def __init__(self, store: Store, settings: Settings, metrics: Metrics) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics

    def _count(self, provider: str, new_events: Sequence[NewEvent], recorded: Sequence[Recorded]) -> None:
        self._metrics.events_recorded(provider, [r.is_duplicate for r in recorded])
        self._metrics.redacted(e.content_redacted for e in new_events)

    @contextlib.contextmanager
    def _counting_rejections(self, provider: str) -> Iterator[None]:
        """An ingest call refused by a rule (a bad field, a bad signature) is
        counted by provider and reason; an unreachable database is not a
        rejection (the sender retries), and is counted with the database errors."""
        try:
            yield
        except DomainError as error:
            if not isinstance(error, Unavailable):
                self._metrics.ingest_rejected(provider, error.reason)
            raise

    async def record_alert_event(
        self, provider: str, decode: DecodeEvent, request_bytes: int
    ) -> Recorded:
        """RecordAlertEvent. `provider`: the request's, as sent (for metrics);
        `decode`: the event as its caller described it, and the fields the
        transport could not decode (reported with the event's own violations);
        `request_bytes`: the size of the request as received.

        A small request is decoded, checked, derived and redacted by the group
        commit's writer, with the other events of its batch, for a storm's
        sake (server/storage/group_commit.py); a big one first, off the event
        loop (server/operations/cpu.py)."""
        prepared: list[NewEvent] = []

        def prepare() -> NewEvent:
            event, undecodable = decode()
            new_event = _prepare_alert_event(event, undecodable)
            prepared.append(new_event)
            return new_event

        with self._counting_rejections(provider):
            if request_bytes < cpu.OFFLOAD_BYTES:
                recorded = await self._store.prepare_and_record_event(prepare, request_bytes)
            else:
                recorded = await self._store.record_event(await cpu.run(request_bytes, prepare))
        self._count(provider, prepared, [recorded])
        return recorded

    async def ingest_provider_payload(self, payload: ProviderPayload) -> list[Recorded]:
        """IngestProviderPayload: the body's events, recorded in one transaction
        (a body with one bad alert records none of them), in the body's order."""
        with self._counting_rejections(payload.provider):
            body, new_events = await cpu.run(
                len(payload.body), _prepare_payload, self._settings, payload
            )
        recorded = await self._store.record_events(new_events, body)
        self._count(payload.provider, new_events, recorded)
        return recorded

    async def record_run(self, request: RunRequest) -> Run:
        """RecordRun: unknown event ids are NOT_FOUND, an event of another
        project INVALID_ARGUMENT (both from the store)."""
        return await self._store.record_run(_run_input(request))

    async def record_provider_heartbeat(
        self, beat: heartbeat.HeartbeatRequest, caller: Principal
    ) -> HeartbeatResult:
        """RecordProviderHeartbeat: per provider, one synthetic event naming the
        calling operator and one completed shadow run, in one transaction."""
        violations = Violations()
        heartbeat.check_heartbeat(beat, violations)
        violations.raise_if_any()
        now = datetime.now(UTC)
        new_events = [
            derive_event(
                heartbeat.heartbeat_event(
                    beat,
                    provider,
                    now,
                    self._settings.heartbeat_namespace,
                    caller.operator_id,
                    caller.auth_method,
                )
            )
            for provider in beat.providers
        ]
        runs: list[RunInput] = [
            redacted(heartbeat.shadow_run(beat.project_id, e.id)) for e in new_events
        ]
        recorded, _ = await self._store.record_events_with_runs(new_events, runs)
        for new_event, item in zip(new_events, recorded, strict=True):
            self._count(new_event.provider, [new_event], [item])
        return HeartbeatResult(
            project_id=beat.project_id,
            items=[
                HeartbeatItem(
                    provider=provider,
                    event_id=heartbeat.heartbeat_event_id(now),
                    conversation_event_id=item.id,
                    run_id=run.run_id,
                )
                for provider, item, run in zip(beat.providers, recorded, runs, strict=True)
            ],
        )

    async def list_recent_events(self, query: RecentEventsQuery) -> Page[ListedEvent]:
        """ListRecentEvents: one page of the matching events, newest first."""
        violations = Violations()
        event_filter = check_event_filter(
            violations, query.project_id, query.channel_type, query.provider_prefix
        )
        limit = violations.limit(query.limit, LIST_RECENT_LIMIT)
        violations.raise_if_any()
        return await read_page(self._store.recent_events, event_filter, limit, query.page_token)
