"""IngestProviderPayload: provider webhook bodies in (SPEC section 2b).

A body becomes its events (server/domain/providers/), each checked and
derived exactly as RecordAlertEvent would, then recorded in one transaction:
a body with one bad alert records none of them.
"""

from __future__ import annotations

from awooop.channel_events.v1 import events_pb2

from server.api import cpu
from server.config import Settings
from server.domain import providers
from server.domain.cursors import encode_cursor
from server.domain.derivation import derive_event, source_body
from server.domain.events import check_alert_event
from server.domain.models import NewEvent, SourceBody
from server.domain.validation import Violations
from server.storage.store import Store


async def ingest_provider_payload(
    store: Store, settings: Settings, request: events_pb2.IngestProviderPayloadRequest
) -> events_pb2.IngestProviderPayloadResponse:
    body, new_events = await cpu.run(len(request.body), _prepare, settings, request)
    recorded = await store.record_events(new_events, body)
    return events_pb2.IngestProviderPayloadResponse(
        events=[
            events_pb2.RecordedEvent(
                event_id=str(r.id),
                provider_event_id=r.provider_event_id,
                is_duplicate=r.is_duplicate,
                cursor=encode_cursor(r.cursor),
            )
            for r in recorded
        ]
    )


def _prepare(
    settings: Settings, request: events_pb2.IngestProviderPayloadRequest
) -> tuple[SourceBody, list[NewEvent]]:
    """Everything before the write: checks, parsing, derivation and redaction."""
    violations = Violations()
    violations.project_id(request.project_id)
    providers.check_request(request.provider, request.body, violations)
    headers = providers.header_map(request.headers, violations)
    violations.raise_if_any()
    secret = settings.sentry_client_secret
    # Checked before the body is parsed: an unsigned body is not read at all.
    if providers.REGISTRY[request.provider].sentry_signed and secret and secret.get_secret_value():
        providers.verify_sentry_signature(request.body, headers, secret.get_secret_value())
    parsed = providers.parse_payload(request.project_id, request.provider, request.body, headers)
    for item in parsed.events:
        check_alert_event(item.event, violations, prefix=f"{item.origin}.")
    violations.raise_if_any()
    body = source_body(request.project_id, request.provider, parsed.shared)
    return body, [derive_event(item.event, body) for item in parsed.events]
