"""Input rules and limits (SPEC sections 2, 3, 7), checked before any write.

Each check adds a FieldViolation naming the request field, so that one
INVALID_ARGUMENT reports every bad field at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from server.errors import FieldViolation, InvalidArgument

PROJECT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PROVIDER = re.compile(r"[a-z0-9_-]{1,32}")
MAX_EVENT_ID = 256
MAX_TEXT = 1024  # stage, channel_type and other short names
MAX_FIELD = 64 * 1024  # free text such as a title or one annotation


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
        self.found.append(FieldViolation(field_name, description))

    def raise_if_any(self) -> None:
        if self.found:
            raise InvalidArgument(self.found)

    def project_id(self, value: str, name: str = "project_id", required: bool = True) -> None:
        if not value and not required:
            return
        if not PROJECT_ID.fullmatch(value):
            self.add(name, "must match [A-Za-z0-9_.-]{1,64}")

    def provider(self, value: str, name: str = "provider", required: bool = True) -> None:
        if not value and not required:
            return
        if not PROVIDER.fullmatch(value):
            self.add(name, "must match [a-z0-9_-]{1,32}")

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

    def uuid(self, value: str, name: str, required: bool = True) -> uuid.UUID | None:
        if not value and not required:
            return None
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            self.add(name, "must be a UUID")
            return None
        if str(parsed) != value.lower():
            self.add(name, "must be a UUID in canonical form")
            return None
        return parsed
