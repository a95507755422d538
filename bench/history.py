"""Synthetic event histories for benchmarks, written set-based in one statement."""

from __future__ import annotations

import asyncpg

PROJECTS = 20
PROVIDERS = ("alertmanager", "sentry", "signoz")

_INSERT_HISTORY = """
INSERT INTO events (
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    alertname, severity, namespace, target_resource, fingerprint, recurrence_key,
    content_redacted, content_preview, has_redacted_content, redaction_version,
    content_sha256, content_length, source_refs, source_ref_count, has_alert_ref,
    log_correlation, source_envelope, is_duplicate, received_at)
SELECT gen_random_uuid(), g, 'proj-' || (g % $2), 'alert', p.provider,
       p.provider || ':evt-' || g, 'firing', 'Alert' || (g % 500), 'warning', 'ns',
       'pod-' || (g % 50), 'fp-' || (g % 500), p.provider || ':fp-' || (g % 500),
       'content ' || g, 'content ' || g, false, 'v1', md5(g::text), 10,
       '[{"system": "alert", "kind": "fingerprint", "id": "fp", "url": ""}]', 1, true,
       '{}', '{}', g % 7 = 0, now() - ($1 - g) * interval '1 second'
FROM generate_series(1, $1) AS g
CROSS JOIN LATERAL (SELECT ($3::text[])[1 + g % 3] AS provider) AS p
"""


async def write_history(dsn: str, events: int) -> None:
    """`events` events over PROJECTS projects and three providers, then ANALYZE."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(_INSERT_HISTORY, events, PROJECTS, list(PROVIDERS))
        await connection.execute("UPDATE event_cursor SET last_cursor = $1", events)
        await connection.execute("ANALYZE events")
    finally:
        await connection.close()
