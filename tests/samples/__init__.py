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
