"""Provider heartbeats (SPEC section 2): one synthetic event and one completed
shadow run per provider, so that each provider's freshness shows in the
coverage. Nothing else is written and nobody is notified."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel

from server.domain.models import HEARTBEAT_STAGE, AlertEventInput, RepairStatus, RunInput, RunState
from server.domain.validation import Violations

HEARTBEAT_PROVIDERS = ("sentry", "signoz")
DEFAULT_PROJECT = "awoooi"
DEFAULT_REASON = "scheduled_provider_freshness_smoke"
MAX_REASON = 120
SHADOW_AGENT_ID = "provider-heartbeat"


class HeartbeatRequest(BaseModel):
    project_id: str = DEFAULT_PROJECT
    providers: list[str] = list(HEARTBEAT_PROVIDERS)
    reason: str = DEFAULT_REASON
    run_ref: str = ""


def check_heartbeat(request: HeartbeatRequest, violations: Violations) -> None:
    violations.project_id(request.project_id)
    if not 1 <= len(request.providers) <= len(HEARTBEAT_PROVIDERS):
        violations.add("providers", "1-2 of sentry, signoz")
    elif len(set(request.providers)) != len(request.providers):
        violations.add("providers", "no provider may repeat")
    elif any(p not in HEARTBEAT_PROVIDERS for p in request.providers):
        violations.add("providers", "only sentry and signoz are allowed")
    violations.length(request.reason, "reason", MAX_REASON, minimum=1)
    violations.length(request.run_ref, "run_ref", MAX_REASON)


def heartbeat_event_id(now: datetime) -> str:
    return "heartbeat-" + now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def heartbeat_event(
    request: HeartbeatRequest,
    provider: str,
    now: datetime,
    namespace: str,
    operator_id: str,
    auth_method: str,
) -> AlertEventInput:
    return AlertEventInput(
        project_id=request.project_id,
        provider=provider,
        event_id=heartbeat_event_id(now),
        stage=HEARTBEAT_STAGE,
        title="SourceProviderHeartbeat",
        severity="info",
        namespace=namespace,
        target_resource="source-provider-ingestion",
        fingerprint=f"source-provider-heartbeat:{provider}",
        labels={
            "provider": provider,
            "synthetic": "true",
            "alert_category": "alertchain_provider_freshness",
            "telegram": "not_sent",
            "incident": "not_created",
        },
        payload={
            "reason": request.reason,
            "run_ref": request.run_ref,
            "operator_id": operator_id,
            "auth_method": auth_method,
            "side_effects": {"incident": False, "telegram": False, "auto_repair": False, "ticket": False},
        },
        provider_ts=now,
    )


def shadow_run(project_id: str, event_id: uuid.UUID) -> RunInput:
    """The completed run that stands for the heartbeat's handling."""
    return RunInput(
        run_id=uuid.uuid4(),
        project_id=project_id,
        event_ids=[event_id],
        state=RunState.COMPLETED,
        agent_id=SHADOW_AGENT_ID,
        repair_status=RepairStatus.NONE,
    )
