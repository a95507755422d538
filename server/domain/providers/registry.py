"""Which providers there are, and how each one's body is read.

A new provider is a module with a `parse` of the `Parser` signature and one
line here; its name then appears in PROVIDERS and in the message that lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from server.domain.providers import sentry, webhook_v4
from server.domain.providers.parsed import Parser


@dataclass(frozen=True)
class Provider:
    """How one provider's bodies are read, and whether they carry Sentry's
    signature (checked against AWOOOP_SENTRY_CLIENT_SECRET when it is set)."""

    parse: Parser
    sentry_signed: bool = False


# In the order the provider violation lists them.
REGISTRY: Mapping[str, Provider] = MappingProxyType({
    webhook_v4.ALERTMANAGER: Provider(webhook_v4.parse),
    webhook_v4.SIGNOZ: Provider(webhook_v4.parse),
    sentry.SENTRY: Provider(sentry.parse, sentry_signed=True),
})

PROVIDERS = tuple(REGISTRY)
