"""Dossier and coverage read models (SPEC section 3): the totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from server.domain.event_rows import DossierEvent


@dataclass(frozen=True)
class DossierSummary:
    source_count: int
    duplicate_total: int
    redacted_total: int
    source_ref_total: int


def dossier_summary(events: Sequence[DossierEvent]) -> DossierSummary:
    return DossierSummary(
        source_count=len(events),
        duplicate_total=sum(e.is_duplicate for e in events),
        redacted_total=sum(e.has_redacted_content for e in events),
        source_ref_total=sum(e.source_ref_count for e in events),
    )


@dataclass(frozen=True)
class ProviderCoverage:
    """One provider's totals over the events considered."""

    provider: str
    total: int
    duplicate_total: int
    redacted_total: int
    source_ref_total: int
    missing_source_refs_total: int
    # One <system>_ref_total per REF_SYSTEMS, in its order (models.py).
    sentry_ref_total: int
    signoz_ref_total: int
    alert_ref_total: int
    source_envelope_total: int
    latest_received_at: datetime | None


@dataclass(frozen=True)
class CoverageSummary:
    source_count: int
    duplicate_total: int
    redacted_total: int
    source_ref_total: int
    missing_source_refs_total: int
    # One <system>_ref_total per REF_SYSTEMS, in its order (models.py).
    sentry_ref_total: int
    signoz_ref_total: int
    alert_ref_total: int
    source_envelope_total: int
    missing_source_envelope_total: int
    with_source_refs_total: int
    latest_received_at: datetime | None


_SUMMED = [f.name for f in fields(ProviderCoverage) if f.name not in ("provider", "latest_received_at", "total")]


def coverage_summary(rows: Sequence[ProviderCoverage]) -> CoverageSummary:
    """The same totals over every provider row, so the rows always add up."""
    sums = {name: sum(getattr(row, name) for row in rows) for name in _SUMMED}
    source_count = sum(row.total for row in rows)
    latest = [row.latest_received_at for row in rows if row.latest_received_at is not None]
    return CoverageSummary(
        source_count=source_count,
        missing_source_envelope_total=source_count - sums["source_envelope_total"],
        with_source_refs_total=source_count - sums["missing_source_refs_total"],
        latest_received_at=max(latest, default=None),
        **sums,
    )
