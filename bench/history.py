"""Synthetic event histories for benchmarks, written set-based (no row-by-row Python).

A history of `events` events, as a busy installation would hold it:

- PROJECTS projects, each event in one (event g: project g % PROJECTS);
- three providers, each project receiving from all of them in turns of
  PROJECTS events (provider of g: PROVIDERS[(g / PROJECTS) % 3]);
- recurring alerts: 25 fingerprints per project and provider, a fifth of the
  events `resolved`, the rest `firing`;
- ~5% duplicates: one block of PROJECTS events in twenty repeats the
  provider_event_id of the same project's event 3 blocks earlier (same
  provider, same stage), with is_duplicate set as record_events() would;
- ~10% of the events linked to agent runs (runs + run_events), each run
  holding the linked events of one project within a stretch of 500 events,
  its state and repair status varied;
- cursors of the old scheme (1..events, event_cursor.last_cursor = events),
  which migration 0005 keeps valid below every transaction-id cursor.

Every events row is written by `insert_events` (one INSERT ... SELECT over
generate_series): the one place that writes them, so that a schema which
needs more before an insert (e.g. partitions covering the cursor range)
adds it there. A million events load in about a minute on this machine.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from server.storage.partitions import ensure_partitions

PROJECTS = 20
PROVIDERS = ("alertmanager", "sentry", "signoz")
# Events per INSERT statement: large enough to be set-based, small enough
# that one statement's WAL and sort memory stay modest.
CHUNK = 250_000

# $1, $2: the first and last cursor; $3: the history's size (ages);
# $4: PROJECTS; $5: PROVIDERS; $6: the time between two events (received_at).
_INSERT_EVENTS = """
INSERT INTO events (
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    alertname, severity, namespace, target_resource, fingerprint, recurrence_key,
    content_redacted, content_preview, has_redacted_content, redaction_version,
    content_sha256, content_length, source_url, source_refs, source_ref_count,
    has_sentry_ref, has_signoz_ref, has_alert_ref,
    log_correlation, source_envelope, is_duplicate, received_at)
SELECT gen_random_uuid(), g, s.project, 'alert', s.provider,
       s.provider || ':evt-' || CASE WHEN s.dup THEN g - 3 * $4 ELSE g END,
       s.stage, 'Alert' || s.fp, s.severity, 'ns-' || (g % 7),
       'pod-' || (g % 50), 'fp-' || s.fp, s.provider || ':fp-' || s.fp,
       s.text, left(s.text, 120), g % 9 = 0, 'v3', md5(g::text), length(s.text),
       'https://' || s.provider || '.example/e/' || g,
       s.refs, jsonb_array_length(s.refs),
       s.provider = 'sentry', s.provider = 'signoz', true,
       CASE WHEN g % 4 = 0 THEN jsonb_build_object('trace_id', md5(g::text)) ELSE '{}' END,
       jsonb_build_object('labels', jsonb_build_object(
           'alertname', 'Alert' || s.fp, 'pod', 'pod-' || (g % 50), 'namespace', 'ns-' || (g % 7)),
           'annotations', jsonb_build_object('summary', s.text)),
       s.dup, now() - ($3 - g) * $6::interval
FROM generate_series($1::bigint, $2::bigint) AS g
CROSS JOIN LATERAL (
    SELECT 'proj-' || (g % $4) AS project,
           ($5::text[])[1 + (g / $4) % 3] AS provider,
           g > 3 * $4 AND (g / $4) % 20 = 7 AS dup,
           CASE WHEN g % 5 = 4 THEN 'resolved' ELSE 'firing' END AS stage,
           (g / $4) % 25 AS fp,
           CASE WHEN g % 3 = 0 THEN 'critical' ELSE 'warning' END AS severity,
           'container api used ' || (g % 97) || '% of its memory limit on pod-' || (g % 50)
               || ' for 5 minutes (runbook https://runbooks.example/mem)' AS text,
           CASE WHEN ($5::text[])[1 + (g / $4) % 3] = 'sentry'
                THEN jsonb_build_array(
                    jsonb_build_object('system', 'alert', 'kind', 'fingerprint',
                                       'id', 'fp-' || g % 500, 'url', ''),
                    jsonb_build_object('system', 'sentry', 'kind', 'issue',
                                       'id', (g % 9000)::text,
                                       'url', 'https://sentry.example/i/' || (g % 9000)))
                ELSE jsonb_build_array(
                    jsonb_build_object('system', 'alert', 'kind', 'fingerprint',
                                       'id', 'fp-' || g % 500, 'url', ''))
           END AS refs
) AS s
"""

# Runs over the linked events: ~10% of them, chosen by a hash of the cursor
# so that every project has some; one run per project and 500 cursors.
_LINKED = """
CREATE TEMP TABLE bench_linked ON COMMIT DROP AS
SELECT id AS event_id, project_id,
       md5('run-' || project_id || '-' || (cursor / 500))::uuid AS run_id,
       cursor
FROM events
WHERE abs(hashtext(cursor::text)) % 10 = 0
"""

_INSERT_RUNS = """
INSERT INTO runs (run_id, project_id, state, agent_id, incident_id, repair_status,
                  repair_summary, update_seq)
SELECT run_id, project_id,
       (ARRAY['completed', 'failed', 'running', 'waiting_approval'])[1 + k % 4],
       'agent-' || (k % 5), 'inc-' || (k % 300),
       (ARRAY['none', 'attempted', 'verified', 'failed'])[1 + (k / 4) % 4],
       NULL, nextval('run_update_seq')
FROM (
    SELECT run_id, min(project_id) AS project_id, abs(hashtext(run_id::text)) AS k
    FROM bench_linked GROUP BY run_id
) AS r
"""

_INSERT_RUN_EVENTS = """
INSERT INTO run_events (run_id, event_id) SELECT run_id, event_id FROM bench_linked
"""


# The default time between two events of a history: a million events span
# 11.6 days (4 week partitions).
STEP = timedelta(seconds=1)


async def insert_events(
    connection: asyncpg.Connection, first: int, last: int, total: int, step: timedelta = STEP
) -> None:
    """Writes the history's events with cursors first..last (of `total`),
    `step` apart in received_at, the last one now."""
    await connection.execute(
        _INSERT_EVENTS, first, last, total, PROJECTS, list(PROVIDERS), step
    )


async def _partitioned(connection: asyncpg.Connection) -> bool:
    return bool(await connection.fetchval(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = 'events'::regclass"))


async def write_history(dsn: str, events: int, span: timedelta | None = None) -> float:
    """Writes the history into a migrated, empty database; returns the seconds it took.

    `span`: the time from the first event's received_at to the last's (now);
    by default one second between two events (`STEP`)."""
    started = time.perf_counter()
    step = span / max(events - 1, 1) if span is not None else STEP
    connection = await asyncpg.connect(dsn)
    try:
        # Bulk load: no need to wait for each chunk's WAL flush.
        await connection.execute("SET synchronous_commit = off")
        # events is partitioned by week (migration 0006): the weeks the
        # history reaches back to must exist before its rows arrive. (A bench
        # may have made it a plain table: bench/bench_partitions.py.)
        if await _partitioned(connection):
            now = datetime.now(UTC)
            await ensure_partitions(connection, now - step * events - timedelta(seconds=60), now)
        for first in range(1, events + 1, CHUNK):
            await insert_events(connection, first, min(first + CHUNK - 1, events), events, step)
        async with connection.transaction():
            await connection.execute(_LINKED)
            await connection.execute(_INSERT_RUNS)
            await connection.execute(_INSERT_RUN_EVENTS)
        await connection.execute("UPDATE event_cursor SET last_cursor = $1", events)
        # Fresh statistics and a visibility map, as autovacuum would leave them.
        await connection.execute("VACUUM (ANALYZE) events, runs, run_events")
    finally:
        await connection.close()
    return time.perf_counter() - started
