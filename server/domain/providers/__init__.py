"""Provider webhook bodies as they arrive, turned into events (SPEC section 2b).

Pure: the raw body and its headers in, `AlertEventInput`s out. Every problem
with a body becomes a FieldViolation naming where it is (`body.alerts[2].startsAt`,
`headers.Sentry-Hook-Resource`), collected over the whole body so one answer
names them all. Keys a provider may add later are ignored, never rejected.

One module a provider format (webhook_v4, sentry), the JSON readers they share
(json_fields), and the registry that maps each provider name to its parser.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.domain.providers.json_fields import MAX_BODY_DEPTH, load_json, parse_rfc3339
from server.domain.providers.parsed import BodyEvent, ParsedBody
from server.domain.providers.registry import PROVIDERS, REGISTRY, Provider
from server.domain.providers.sentry import (
    SENTRY,
    SENTRY_RESOURCE_HEADER,
    SENTRY_RESOURCES,
    SENTRY_SIGNATURE_HEADER,
    sentry_signature,
    verify_sentry_signature,
)
from server.domain.providers.webhook_v4 import (
    ALERTMANAGER,
    MAX_ALERTS_PER_BODY,
    SIGNOZ,
    labels_fingerprint,
)
from server.domain.validation import Violations

__all__ = [
    "ALERTMANAGER",
    "MAX_ALERTS_PER_BODY",
    "MAX_BODY_BYTES",
    "MAX_BODY_DEPTH",
    "PROVIDERS",
    "REGISTRY",
    "SENTRY",
    "SENTRY_RESOURCES",
    "SENTRY_RESOURCE_HEADER",
    "SENTRY_SIGNATURE_HEADER",
    "SIGNOZ",
    "BodyEvent",
    "ParsedBody",
    "Provider",
    "check_request",
    "header_map",
    "labels_fingerprint",
    "parse_payload",
    "parse_rfc3339",
    "sentry_signature",
    "verify_sentry_signature",
]

MAX_BODY_BYTES = 1 << 20


def header_map(headers: Mapping[str, str], violations: Violations) -> dict[str, str]:
    """Headers by lower-cased name: HTTP header names are case-insensitive."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in found and found[key] != value:
            violations.add(f"headers.{name}", "given twice with different values")
        found[key] = value
    return found


def check_request(provider: str, body: bytes, violations: Violations) -> None:
    """The request's own fields, before the body is read: a known provider,
    a body of at most MAX_BODY_BYTES."""
    _check_provider(provider, violations)
    if not body:
        violations.add("body", "required: the webhook's raw JSON body")
    elif len(body) > MAX_BODY_BYTES:
        violations.add("body", f"at most {MAX_BODY_BYTES} bytes (1 MiB), got {len(body)}")


def parse_payload(
    project_id: str, provider: str, body: bytes, headers: Mapping[str, str]
) -> ParsedBody:
    """The events one webhook body holds, in the body's order, and what they share.

    `headers` are lower-cased names (see header_map). Raises InvalidArgument
    naming every problem found, an unknown provider among them; returns at
    least one event."""
    violations = Violations()
    _check_provider(provider, violations)
    document = load_json(body, violations)
    violations.raise_if_any()
    parsed = REGISTRY[provider].parse(project_id, provider, document, headers, violations)
    violations.raise_if_any()
    return parsed


def _check_provider(provider: str, violations: Violations) -> None:
    if provider not in REGISTRY:
        violations.add("provider", f"must be one of {', '.join(PROVIDERS)}")
