"""Reading the fields of a JSON body, each problem a violation naming its path.

Shared by every provider: a field's path (`body.alerts[2].startsAt`) and the
message for it are the same whichever provider's body holds it.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from server.domain.validation import MAX_JSON_DEPTH, Violations

MAX_BODY_DEPTH = MAX_JSON_DEPTH

JSONObject = dict[str, Any]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339(value: str) -> datetime | None:
    """An RFC 3339 time (any offset, fractional seconds of any length), or None,
    also for one whose offset moves it out of years 1-9999 in UTC
    ("0001-01-01T00:00:00+01:00"): no reader could represent that instant."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        zone: timezone = UTC
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            int((fraction or "0")[:6].ljust(6, "0")), tzinfo=zone,
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _reject_constant(name: str) -> float:
    # NaN and Infinity are not JSON, and jsonb refuses them.
    raise ValueError(f"{name} is not valid JSON")


def load_json(body: bytes, violations: Violations) -> JSONObject:
    """The body as a JSON object; {} (and a violation) when it is not one."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        violations.add("body", "must be UTF-8 encoded JSON")
        return {}
    except RecursionError:
        violations.add("body", f"nested deeper than {MAX_BODY_DEPTH} levels")
        return {}
    except ValueError as error:
        # The decoder's message says where, never what: no body text leaks.
        violations.add("body", f"is not valid JSON: {error}")
        return {}
    if not isinstance(document, dict):
        violations.add("body", "must be a JSON object")
        return {}
    violations.json_value(document, "body")
    return document


def read_object(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = True
) -> JSONObject | None:
    """An object field; None when absent (a violation if required) or not an object."""
    value = parent.get(key)
    if value is None:
        if required:
            violations.add(f"{path}.{key}", "required: a JSON object")
        return None
    if not isinstance(value, dict):
        violations.add(f"{path}.{key}", "must be a JSON object")
        return None
    return value


def read_text(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> str:
    """A string field; null or absent is "" unless required."""
    value = parent.get(key)
    if value is None or value == "":
        if required:
            violations.add(f"{path}.{key}", "required: a non-empty string")
        return ""
    if not isinstance(value, str):
        violations.add(f"{path}.{key}", "must be a string")
        return ""
    return value


def read_identifier(parent: JSONObject, key: str, path: str, violations: Violations) -> str:
    """A required id, sent as a string or a number (Sentry does both)."""
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        violations.add(f"{path}.{key}", "required: a non-empty string or integer id")
        return ""
    return str(value)


def read_string_map(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> dict[str, str]:
    """An object of strings to strings; {} when absent or not one."""
    value = read_object(parent, key, path, violations, required)
    if value is None:
        return {}
    if not all(isinstance(v, str) for v in value.values()):
        violations.add(f"{path}.{key}", "must map strings to strings")
        return {}
    return dict(value)


def read_time(
    parent: JSONObject, key: str, path: str, violations: Violations, required: bool = False
) -> tuple[str, datetime | None]:
    """A time field as sent and parsed; ("", None) when absent and not required."""
    raw = read_text(parent, key, path, violations, required)
    if not raw:
        return "", None
    parsed = parse_rfc3339(raw)
    if parsed is None:
        violations.add(f"{path}.{key}", "must be an RFC 3339 time")
    return raw, parsed
