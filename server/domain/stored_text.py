"""The one place every string the service stores passes the redactor (SPEC section 6).

Redacting field by field, by convention, meant each new field was a new
chance to forget it (an event's channel_type, a run's agent_id and
incident_id were stored as given). Instead, what is about to be stored (an
event, a run, a handoff's proposal) goes through `redacted` as a whole: every
string in it, however deep (lists, maps, nested models), is redacted, except
the fields named below with the reason each may be left alone. A field added
to a model is therefore redacted unless someone says here why it need not be.

Also redacted at one place each: every error message (server/api/errors.py,
server/http/edge.py) and every log line (server/observability/logs.py).
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from server.domain.redaction import redact_json, redact_text

M = TypeVar("M")

# Fields left as they are, and why. Nothing else escapes the redactor.
NOT_REDACTED: dict[str, str] = {
    "project_id": "an identifier checked against [A-Za-z0-9_.-]{1,64}; one the redactor "
    "would change is refused (server/domain/validation.py)",
    "provider": "checked against [a-z0-9_-]{1,32}, refused like project_id",
    "content_redacted": "redacted as a whole by derivation.redacted_content",
    "content_preview": "a prefix of content_redacted",
    "content_sha256": "a hash the service computed",
    "redaction_version": "the service's own",
    "source_envelope": "built from redacted parts by derivation.source_envelope",
}


def redacted(value: M) -> M:
    """A copy of a model (pydantic or dataclass) with every string redacted,
    but for the fields of NOT_REDACTED."""
    if isinstance(value, BaseModel):
        changes = {
            name: _redacted_value(getattr(value, name)) for name in _redacted_fields(type(value))
        }
        return value.model_copy(update=changes)  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _redacted_value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in NOT_REDACTED
        }
        return dataclasses.replace(value, **changes)  # type: ignore[type-var]
    raise TypeError(f"not a model: {type(value).__name__}")


@functools.cache
def _redacted_fields(model: type[BaseModel]) -> tuple[str, ...]:
    # Asked once a model: pydantic computes `model_fields` anew on every access.
    return tuple(name for name in model.model_fields if name not in NOT_REDACTED)


# Types whose values hold no text to redact.
_TEXTLESS = frozenset({bool, int, float, type(None), UUID, datetime})


def _redacted_value(value: Any) -> Any:
    # Asked in the order values come: plain strings, values that hold no text
    # (ids, times, numbers), nested models and containers. The first two by
    # exact type, since a subclass (a StrEnum member) must reach the Enum check.
    if type(value) is str:
        return redact_text(value)
    if type(value) in _TEXTLESS:
        return value
    if isinstance(value, BaseModel):
        return redacted(value)
    if isinstance(value, list | tuple):
        return [_redacted_value(item) for item in value]
    if isinstance(value, dict):
        # JSON: values under sensitive key names go whole, [name, value] pairs are read as such.
        return redact_json(value)
    if isinstance(value, Enum):  # the service's own words (a StrEnum is a str too)
        return value
    if isinstance(value, str):
        return redact_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return redacted(value)
    return value


def reredacted_texts(texts: dict[str, Any]) -> dict[str, Any]:
    """Stored text redacted again under today's rules (the re-redaction pass,
    server/operations/reredaction.py): every string of every value. The
    rules are idempotent, so text that was already redacted keeps its markers
    and only what older rules missed changes."""
    return {name: _redacted_value(value) for name, value in texts.items()}
