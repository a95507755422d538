"""Event SQL: writing events in commit order, and reading them back.

How a write keeps cursor order equal to commit order: see the comment on
event_cursor in migrations/0001_events_and_runs.sql. In short, a writer takes
its cursors by updating the single event_cursor row as the last step before
COMMIT and holds that row lock until it commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from server.domain.dossier import ProviderCoverage
from server.domain.models import EventFilter, NewEvent, SourceBody, SourceRef, StoredEvent

NOTIFY_CHANNEL = "channel_events"

EVENT_COLUMNS = """
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    channel_chat_id, alertname, severity, namespace, target_resource, fingerprint,
    recurrence_key, content_redacted, content_preview, has_redacted_content,
    redaction_version, content_sha256, content_length, source_url, source_refs,
    source_ref_count, log_correlation, source_envelope, is_duplicate, provider_ts,
    received_at
"""


@dataclass(frozen=True)
class Recorded:
    """What a writer learns about an event it stored."""

    id: UUID
    provider_event_id: str
    cursor: int
    is_duplicate: bool


def _has_system(refs: Sequence[SourceRef], system: str) -> bool:
    return any(ref.system == system for ref in refs)


# Taken as late as possible and held until COMMIT: cursor order is commit order.
# The NOTIFY is queued here too and sent by PostgreSQL at commit, in commit order.
_TAKE_CURSORS = """
WITH taken AS (
    UPDATE event_cursor SET last_cursor = last_cursor + $1 RETURNING last_cursor
)
SELECT last_cursor, pg_notify($2, last_cursor::text) FROM taken
"""

_INSERT = """
WITH batch AS (
    SELECT * FROM unnest(
        $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
        $14::text[], $15::text[], $16::text[], $17::bool[], $18::text[], $19::text[],
        $20::int[], $21::text[], $22::text[], $23::int[], $24::bool[], $25::bool[],
        $26::bool[], $27::text[], $28::text[], $29::timestamptz[], $30::bool[],
        $31::uuid[]
    ) WITH ORDINALITY AS b(
        id, project_id, channel_type, provider, provider_event_id, stage,
        channel_chat_id, alertname, severity, namespace, target_resource, fingerprint,
        recurrence_key, content_redacted, content_preview, has_redacted_content,
        redaction_version, content_sha256, content_length, source_url, source_refs,
        source_ref_count, has_sentry_ref, has_signoz_ref, has_alert_ref,
        log_correlation, source_envelope, provider_ts, repeated_in_batch,
        source_body_id, ord)
)
INSERT INTO events (
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    channel_chat_id, alertname, severity, namespace, target_resource, fingerprint,
    recurrence_key, content_redacted, content_preview, has_redacted_content,
    redaction_version, content_sha256, content_length, source_url, source_refs,
    source_ref_count, has_sentry_ref, has_signoz_ref, has_alert_ref,
    log_correlation, source_envelope, provider_ts, is_duplicate, received_at,
    source_body_id)
SELECT
    b.id, $1 + b.ord - 1, b.project_id, b.channel_type, b.provider,
    b.provider_event_id, b.stage, b.channel_chat_id, b.alertname, b.severity,
    b.namespace, b.target_resource, b.fingerprint, b.recurrence_key,
    b.content_redacted, b.content_preview, b.has_redacted_content,
    b.redaction_version, b.content_sha256, b.content_length, b.source_url,
    b.source_refs::jsonb, b.source_ref_count, b.has_sentry_ref, b.has_signoz_ref,
    b.has_alert_ref, b.log_correlation::jsonb, b.source_envelope::jsonb,
    b.provider_ts,
    -- A statement of its own, run after the cursor lock was granted, so its
    -- snapshot holds every event committed before it: "earlier" is exact.
    b.repeated_in_batch OR EXISTS (
        SELECT 1 FROM events e
        WHERE e.project_id = b.project_id
          AND e.provider_event_id = b.provider_event_id
          AND e.stage = b.stage),
    clock_timestamp(),
    b.source_body_id
FROM batch b
ORDER BY b.ord
RETURNING id, provider_event_id, cursor, is_duplicate
"""


async def insert_source_body(connection: asyncpg.Connection, body: SourceBody) -> None:
    """Stores a webhook body's shared fields, once, before its events."""
    await connection.execute(
        "INSERT INTO source_bodies (id, project_id, provider, fields) VALUES ($1, $2, $3, $4)",
        body.id,
        body.project_id,
        body.provider,
        body.fields,
    )


async def insert_events(connection: asyncpg.Connection, events: Sequence[NewEvent]) -> list[Recorded]:
    """Stores events in the caller's transaction, which should commit soon after:
    from here to its COMMIT every other writer waits for the cursor lock."""
    if not events:
        return []
    seen: set[tuple[str, str, str]] = set()
    repeated: list[bool] = []
    for event in events:
        key = (event.project_id, event.provider_event_id, event.stage)
        repeated.append(key in seen)
        seen.add(key)

    def column(name: str) -> list[Any]:
        return [getattr(e, name) for e in events]

    def as_json(values: list[Any]) -> list[str | None]:
        return [None if v is None else json.dumps(v) for v in values]

    top = await connection.fetchval(_TAKE_CURSORS, len(events), NOTIFY_CHANNEL)
    rows = await connection.fetch(
        _INSERT,
        top - len(events) + 1,
        column("id"),
        column("project_id"),
        column("channel_type"),
        column("provider"),
        column("provider_event_id"),
        column("stage"),
        column("channel_chat_id"),
        column("alertname"),
        column("severity"),
        column("namespace"),
        column("target_resource"),
        column("fingerprint"),
        column("recurrence_key"),
        column("content_redacted"),
        column("content_preview"),
        column("has_redacted_content"),
        column("redaction_version"),
        column("content_sha256"),
        column("content_length"),
        column("source_url"),
        as_json([[r.model_dump() for r in e.source_refs] for e in events]),
        [e.source_ref_count for e in events],
        [_has_system(e.source_refs, "sentry") for e in events],
        [_has_system(e.source_refs, "signoz") for e in events],
        [_has_system(e.source_refs, "alert") for e in events],
        as_json(column("log_correlation")),
        as_json(column("source_envelope")),
        column("provider_ts"),
        repeated,
        column("source_body_id"),
    )
    return [
        Recorded(
            id=row["id"],
            provider_event_id=row["provider_event_id"],
            cursor=row["cursor"],
            is_duplicate=row["is_duplicate"],
        )
        for row in rows
    ]


def row_to_event(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        id=row["id"],
        cursor=row["cursor"],
        project_id=row["project_id"],
        channel_type=row["channel_type"],
        provider=row["provider"],
        provider_event_id=row["provider_event_id"],
        stage=row["stage"],
        channel_chat_id=row["channel_chat_id"],
        alertname=row["alertname"],
        severity=row["severity"],
        namespace=row["namespace"],
        target_resource=row["target_resource"],
        fingerprint=row["fingerprint"],
        recurrence_key=row["recurrence_key"],
        content_redacted=row["content_redacted"],
        content_preview=row["content_preview"],
        has_redacted_content=row["has_redacted_content"],
        redaction_version=row["redaction_version"],
        content_sha256=row["content_sha256"],
        content_length=row["content_length"],
        source_url=row["source_url"],
        source_refs=[SourceRef(**ref) for ref in row["source_refs"]],
        log_correlation=row["log_correlation"],
        source_envelope=row["source_envelope"],
        is_duplicate=row["is_duplicate"],
        provider_ts=row["provider_ts"],
        received_at=row["received_at"],
    )


def filter_clauses(event_filter: EventFilter, args: list[Any]) -> list[str]:
    """SQL conditions for the filters that are set; appends their arguments.

    Built per call so that each query only names the filters in use and the
    planner can pick the matching index.
    """
    clauses: list[str] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if event_filter.project_id:
        clauses.append(f"project_id = {arg(event_filter.project_id)}")
    if event_filter.channel_type:
        clauses.append(f"channel_type = {arg(event_filter.channel_type)}")
    if event_filter.provider_prefix:
        clauses.append(f"starts_with(provider_event_id, {arg(event_filter.provider_prefix)})")
    if event_filter.provider:
        clauses.append(f"provider = {arg(event_filter.provider)}")
    if event_filter.provider_event_id:
        clauses.append(f"provider_event_id = {arg(event_filter.provider_event_id)}")
    if event_filter.exclude_stage:
        clauses.append(f"stage <> {arg(event_filter.exclude_stage)}")
    if event_filter.run_id is not None:
        clauses.append(
            f"id IN (SELECT event_id FROM run_events WHERE run_id = {arg(event_filter.run_id)})"
        )
    return clauses


async def list_events(
    connection: asyncpg.Connection,
    event_filter: EventFilter,
    limit: int,
    before_cursor: int | None = None,
) -> list[StoredEvent]:
    """The newest `limit` matching events below `before_cursor`, newest first."""
    args: list[Any] = []
    clauses = filter_clauses(event_filter, args)
    if before_cursor is not None:
        args.append(before_cursor)
        clauses.append(f"cursor < ${len(args)}")
    args.append(limit)
    where = " AND ".join(clauses) or "true"
    rows = await connection.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {where} ORDER BY cursor DESC LIMIT ${len(args)}",
        *args,
    )
    return [row_to_event(row) for row in rows]


async def events_after(
    connection: asyncpg.Connection, event_filter: EventFilter, after_cursor: int, limit: int
) -> list[StoredEvent]:
    """Matching events above `after_cursor`, oldest first (catch-up reads)."""
    args: list[Any] = []
    clauses = filter_clauses(event_filter, args)
    args.append(after_cursor)
    clauses.append(f"cursor > ${len(args)}")
    args.append(limit)
    rows = await connection.fetch(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} "
        f"ORDER BY cursor LIMIT ${len(args)}",
        *args,
    )
    return [row_to_event(row) for row in rows]


async def last_cursor(connection: asyncpg.Connection) -> int:
    """The highest cursor committed so far."""
    value = await connection.fetchval("SELECT last_cursor FROM event_cursor")
    return int(value)


async def coverage_by_provider(
    connection: asyncpg.Connection, event_filter: EventFilter, limit: int
) -> list[ProviderCoverage]:
    """Per-provider totals over the most recent `limit` matching events."""
    args: list[Any] = []
    where = " AND ".join(filter_clauses(event_filter, args)) or "true"
    args.append(limit)
    rows = await connection.fetch(
        f"""
        WITH recent AS (
            SELECT * FROM events WHERE {where} ORDER BY cursor DESC LIMIT ${len(args)}
        )
        SELECT provider,
               count(*) AS total,
               count(*) FILTER (WHERE is_duplicate) AS duplicate_total,
               count(*) FILTER (WHERE has_redacted_content) AS redacted_total,
               coalesce(sum(source_ref_count), 0) AS source_ref_total,
               count(*) FILTER (WHERE source_ref_count = 0) AS missing_source_refs_total,
               count(*) FILTER (WHERE has_sentry_ref) AS sentry_ref_total,
               count(*) FILTER (WHERE has_signoz_ref) AS signoz_ref_total,
               count(*) FILTER (WHERE has_alert_ref) AS alert_ref_total,
               count(*) FILTER (WHERE source_envelope IS NOT NULL) AS source_envelope_total,
               max(received_at) AS latest_received_at
        FROM recent GROUP BY provider ORDER BY provider
        """,
        *args,
    )
    return [ProviderCoverage(**dict(row)) for row in rows]
