"""Input rules and limits (SPEC sections 2, 3, 7), checked before any write.

Each check adds a FieldViolation naming the request field, so that one
INVALID_ARGUMENT reports every bad field at once.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeAlias, TypeVar

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.redaction import redact_text

PROJECT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PROVIDER = re.compile(r"[a-z0-9_-]{1,32}")
MAX_EVENT_ID = 256
MAX_FIELD = 64 * 1024  # free text such as a title or one annotation
# JSON values (a payload Struct, a webhook body): deep enough for any real
# webhook, shallow enough that recursive redaction and PostgreSQL's jsonb never
# hit their own limits.
MAX_JSON_DEPTH = 64
# One answer names at most this many fields: a request with 100,000 bad
# strings gets a bounded error, not a 100,000-entry BadRequest.
MAX_VIOLATIONS = 50
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")

E = TypeVar("E", bound=Enum)


# Identifiers are stored and served as given (server/domain/stored_text.py):
# one that looks like a secret is refused instead.
_LOOKS_SECRET = "looks like a secret (the redaction rules match it): use another identifier"


@dataclass(frozen=True)
class Limit:
    """A page or window size: 0 means the default, above maximum is an error."""

    default: int
    maximum: int


LIST_RECENT_LIMIT = Limit(default=20, maximum=100)
DOSSIER_LIMIT = Limit(default=20, maximum=50)
COVERAGE_LIMIT = Limit(default=100, maximum=200)
RECURRENCE_LIMIT = Limit(default=100, maximum=300)
WORK_ITEM_LIMIT = Limit(default=300, maximum=300)


@dataclass
class Violations:
    found: list[FieldViolation] = field(default_factory=list)

    def add(self, field_name: str, description: str) -> None:
        if len(self.found) < MAX_VIOLATIONS:
            self.found.append(FieldViolation(field_name, description))

    def raise_if_any(self) -> None:
        if self.found:
            raise InvalidArgument(self.found)

    def project_id(self, value: str, name: str = "project_id", required: bool = True) -> None:
        if not value and not required:
            return
        if not PROJECT_ID.fullmatch(value):
            self.add(name, "must match [A-Za-z0-9_.-]{1,64}")
        elif redact_text(value) != value:
            self.add(name, _LOOKS_SECRET)

    def provider(self, value: str, name: str = "provider", required: bool = True) -> None:
        if not value and not required:
            return
        if not PROVIDER.fullmatch(value):
            self.add(name, "must match [a-z0-9_-]{1,32}")
        elif redact_text(value) != value:
            self.add(name, _LOOKS_SECRET)

    def length(self, value: str, name: str, maximum: int, minimum: int = 0) -> None:
        if not minimum <= len(value) <= maximum:
            self.add(name, f"must be {minimum}-{maximum} characters")

    def limit(self, value: int, limit: Limit, name: str = "limit") -> int:
        """The effective limit; records a violation when out of range."""
        if value == 0:
            return limit.default
        if not 1 <= value <= limit.maximum:
            self.add(name, f"must be 1-{limit.maximum} (0 means {limit.default})")
            return limit.default
        return value

    def choice(self, value: str | None, choices: type[E], name: str, description: str) -> E | None:
        """The member of `choices` whose value `value` is; None when it was not
        given (None), or names no member (then a violation of `name`)."""
        if value is None:
            return None
        try:
            return choices(value)
        except ValueError:
            self.add(name, description)
            return None

    def uuid(self, value: str, name: str, required: bool = True) -> uuid.UUID | None:
        if not value and not required:
            return None
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            self.add(name, "must be a UUID")
            return None
        if str(parsed) != value:
            self.add(name, "must be a UUID in canonical form")
            return None
        return parsed

    def text(self, value: str, name: str) -> None:
        """A string PostgreSQL can store and UTF-8 can carry (`text_problem`)."""
        problem = text_problem(value)
        if problem is not None:
            self.add(name, problem)

    def json_value(self, value: object, name: str) -> None:
        """A JSON value the service can store and every reader can serve back:
        nested at most MAX_JSON_DEPTH deep, finite numbers, storable strings
        and keys. Iterative, so no input can exhaust the Python stack.

        An item's path is spelled out only when it is reported: a webhook's
        payload has dozens of keys, and making each one's path string cost
        more than checking it (bench/RESULTS.md, the sixth pass)."""
        stack: list[tuple[object, _JsonPath, int]] = [(value, name, 1)]
        while stack and len(self.found) < MAX_VIOLATIONS:
            item, path, depth = stack.pop()
            if depth > MAX_JSON_DEPTH:
                self.add(json_path(path), f"nested deeper than {MAX_JSON_DEPTH} levels")
            elif isinstance(item, str):
                problem = text_problem(item)
                if problem is not None:
                    self.add(json_path(path), problem)
            elif isinstance(item, float):
                if not math.isfinite(item):
                    self.add(json_path(path), "must be a finite number")
            elif isinstance(item, dict):
                for key, child in item.items():
                    child_path = (path, key)
                    problem = text_problem(key)
                    if problem is not None:
                        self.add(f"{json_path(child_path)} (key)", problem)
                    stack.append((child, child_path, depth + 1))
            elif isinstance(item, list):
                stack.extend((child, (path, i), depth + 1) for i, child in enumerate(item))


# Where an item of a JSON value is: the field's name, or (the path of its
# parent, its key or index), spelled out by `json_path` only when reported.
_JsonPath: TypeAlias = str | tuple["_JsonPath", str | int]


def json_path(path: _JsonPath) -> str:
    """`body.alerts[0].labels.pod`: keys as `key_path` writes them."""
    steps: list[str | int] = []
    while isinstance(path, tuple):
        path, step = path
        steps.append(step)
    return path + "".join(
        f"[{step}]" if isinstance(step, int) else f".{key_path(step)}" for step in reversed(steps)
    )


def text_problem(value: str) -> str | None:
    """What keeps a string from being stored, or None: PostgreSQL's text and
    jsonb refuse a NUL character, and no UTF-8 encoder accepts a lone
    surrogate (a JSON body may escape one, "\\ud800")."""
    if "\x00" in value:
        return "must not contain NUL characters (U+0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None


def key_path(key: str) -> str:
    """A map or object key as it appears in a field path: bare when it is a plain name,
    else quoted and cut short, so an odd key never makes an odd path."""
    if _SAFE_KEY.fullmatch(key):
        return key
    return json.dumps(key[:64].replace("\x00", "\ufffd"), ensure_ascii=True)
