"""Real provider webhook bodies (see README.md here for where each comes from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent


def sample_paths() -> list[Path]:
    return sorted(SAMPLES.glob("*.json"))


def sample_bytes(name: str) -> bytes:
    """A sample's raw bytes, exactly as its provider sent them."""
    return (SAMPLES / name).read_bytes()


def sample(name: str) -> dict[str, Any]:
    return json.loads(sample_bytes(name))


# A Sentry metric alert body (resource `metric_alert`), after the example in
# Sentry's integration-platform documentation; there is no file of it above.
METRIC_ALERT = {
    "action": "critical",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": {
        "description_text": "1001 events in the last 10 minutes\nFilter: level:error",
        "description_title": "Critical: Too many errors",
        "metric_alert": {
            "alert_rule": {"id": "7", "name": "Too many errors", "aggregate": "count()"},
            "date_created": "2022-04-15T15:09:04.986000Z",
            "date_detected": "2022-04-15T15:08:00Z",
            "date_started": "2022-04-15T15:08:00Z",
            "id": "16",
            "identifier": "1",
            "status": 2,
            "title": "Too many errors",
        },
        "web_url": "https://sentry.io/organizations/test-org/alerts/rules/details/16/",
    },
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
}
