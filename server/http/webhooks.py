"""Provider webhooks straight in: `POST /webhooks/{provider}/{project_id}`.

Exactly IngestProviderPayload (server/operations/events.py): the raw body as
the provider sent it, one transaction per body, a retry recorded as
duplicates. What is HTTP's own is who may send and which status tells each
sender what to do (SPEC section 8), since Alertmanager, SigNoz and Sentry
retry on 5xx and give up on 4xx:

- 200 with the recorded events (duplicates too): done, do not retry;
- 400 naming the bad field: this body will never be accepted;
- 401 / 403: the sender's credentials are wrong or lack role ingest;
- 413 over 1 MiB (read no further);
- 503 with Retry-After while the database is unreachable: retry, nothing was written.

Auth: `Authorization: Bearer <key>` or HTTP Basic with the key as the password
(Alertmanager's `http_config`, SigNoz's webhook channel), resolved against the
same keys as gRPC. Sentry cannot send either: with AWOOOP_SENTRY_CLIENT_SECRET
set, a Sentry webhook without an Authorization header is authenticated by its
`Sentry-Hook-Signature` over the raw body, which the operation verifies.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.auth import ALL_PROJECTS, Principal, Role
from server.config import Settings
from server.domain import providers
from server.http import render
from server.http.edge import Call, Edge, Endpoint, Param, json_response, read_body
from server.operations.events import EventOperations, ProviderPayload

# Sentry's webhooks, when signed with the integration's client secret.
SENTRY_SIGNED = Principal(
    operator_id="sentry-integration",
    auth_method="sentry-signature",
    roles=frozenset({Role.INGEST}),
    projects=frozenset({ALL_PROJECTS}),
)

# The headers a provider's parser reads; no other header (Authorization above
# all) reaches the operation.
_PROVIDER_HEADER_PREFIX = "sentry-hook-"


def _provider_headers(request: Request) -> dict[str, str]:
    return {
        name: value
        for name, value in request.headers.items()
        if name.startswith(_PROVIDER_HEADER_PREFIX)
    }


class WebhookRoutes:
    def __init__(self, events: EventOperations, settings: Settings) -> None:
        self._events = events
        self._settings = settings

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "POST",
                "/webhooks/{provider}/{project_id}",
                "A provider's webhook body, recorded as IngestProviderPayload would.",
                Role.INGEST,
                self.ingest,
                params=[
                    Param("provider", required=True, enum=list(providers.PROVIDERS),
                          description="alertmanager, signoz or sentry"),
                    Param("project_id", required=True, description="The project the body is for."),
                ],
                project_of=lambda call: call.request.path_params["project_id"],
                authenticate=self.authenticate,
                invalid_status=400,
                raw_body=True,
            )
        ]

    def authenticate(self, edge: Edge, request: Request) -> Principal:
        secret = self._settings.sentry_client_secret
        provider = providers.REGISTRY.get(request.path_params["provider"])
        if (
            provider is not None
            and provider.sentry_signed
            and "authorization" not in request.headers
            and secret is not None
            and secret.get_secret_value()
        ):
            return SENTRY_SIGNED
        return edge.authenticate(request, Role.INGEST, allow_basic=True)

    async def ingest(self, call: Call) -> Response:
        request = call.request
        body = await read_body(request, providers.MAX_BODY_BYTES)
        if body is None:
            return json_response(
                {
                    "detail": f"the body is over {providers.MAX_BODY_BYTES} bytes (1 MiB); "
                    "send fewer alerts per webhook (Alertmanager: max_alerts)",
                    "reason": "PAYLOAD_TOO_LARGE",
                },
                413,
            )
        payload = ProviderPayload(
            project_id=request.path_params["project_id"],
            provider=request.path_params["provider"],
            body=body,
            headers=_provider_headers(request),
        )
        return json_response(render.ingested(await self._events.ingest_provider_payload(payload)))
