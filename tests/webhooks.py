"""Sending provider webhook bodies to a test server, as a relay would."""

from __future__ import annotations

import json
from typing import Any

from awooop.channel_events.v1 import events_pb2

from tests.harness import INGEST, Service
from tests.samples import sample_bytes

# sample file -> the provider that sends it
SAMPLE_PROVIDERS = {
    "alertmanager_firing_single_highpodmemory.json": "alertmanager",
    "alertmanager_resolved_single_kube_deployment.json": "alertmanager",
    "signoz_docs_sample_firing.json": "signoz",
    "sentry_event_alert_triggered.json": "sentry",
    "sentry_issue_created.json": "sentry",
}
SENTRY_RESOURCES = {
    "sentry_event_alert_triggered.json": "event_alert",
    "sentry_issue_created.json": "issue",
}

# Personal data in the Sentry event sample: user.ip_address, and the same user
# as Sentry's `user` tag.
PERSONAL = ("162.218.85.90", "162.217.75.90")


async def ingest(
    service: Service,
    provider: str,
    body: bytes | dict[str, Any],
    headers: dict[str, str] | None = None,
    project_id: str = "alpha",
    metadata: tuple[tuple[str, str], ...] = INGEST,
) -> events_pb2.IngestProviderPayloadResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await service.events.IngestProviderPayload(
        events_pb2.IngestProviderPayloadRequest(
            project_id=project_id, provider=provider, body=raw, headers=headers or {}
        ),
        metadata=metadata,
    )


def sample_headers(name: str) -> dict[str, str]:
    """The headers the sample's provider sends with it."""
    return {"Sentry-Hook-Resource": SENTRY_RESOURCES[name]} if name in SENTRY_RESOURCES else {}


async def ingest_sample(service: Service, name: str) -> events_pb2.IngestProviderPayloadResponse:
    return await ingest(service, SAMPLE_PROVIDERS[name], sample_bytes(name), sample_headers(name))
