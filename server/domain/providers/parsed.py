"""What every provider's parser returns, and the one signature it has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from server.domain.models import AlertEventInput
from server.domain.providers.json_fields import JSONObject
from server.domain.validation import Violations


@dataclass(frozen=True)
class BodyEvent:
    """One event found in a body, and where in the body it came from. Its
    `payload` is empty: what the body says besides its events is `shared`."""

    origin: str
    event: AlertEventInput


@dataclass(frozen=True)
class ParsedBody:
    """A webhook body: its events, and the fields they share (SPEC 2b's
    `payload`: the top-level fields other than `alerts`; for Sentry the whole
    body), which are stored once per body however many events it holds."""

    shared: JSONObject
    events: list[BodyEvent]


class Parser(Protocol):
    """A provider's reading of a body already loaded as a JSON object.

    `provider` is the name it was registered under (one parser may serve
    several); `headers` are lower-cased names. Every problem is added to
    `violations`, naming where it is; what could be read is returned."""

    def __call__(
        self,
        project_id: str,
        provider: str,
        document: JSONObject,
        headers: Mapping[str, str],
        violations: Violations,
    ) -> ParsedBody: ...
