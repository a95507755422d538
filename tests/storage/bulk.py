"""A large `events` table made fast, and what a statement read of it: for
the tests that a hot statement's plan stays a bounded index walk however
the table grew (test_write_plan, test_final_cursor)."""

from __future__ import annotations

import asyncpg

from server.storage import events
from server.storage.database import connect


async def grow_events(dsn: str, rows: int) -> None:
    """`rows` more events, copies of one already stored, written set-based by
    another connection with cursors below every recorded one. Not analyzed:
    an ANALYZE makes every connection plan its statements again, which a
    test of a plan made on a small table must not do by accident."""
    other = await connect(dsn)
    try:
        columns = [c.name for c in events.COLUMNS if c.name not in ("id", "cursor", "provider_event_id")]
        await other.execute(
            f"""INSERT INTO events (id, cursor, provider_event_id, {", ".join(columns)})
                SELECT gen_random_uuid(), -k, 'alertmanager:bulk-' || k, {", ".join(columns)}
                FROM (SELECT * FROM events LIMIT 1) AS e CROSS JOIN generate_series(1, $1) AS k""",
            rows,
        )
    finally:
        await other.close()


async def rows_read(connection: asyncpg.Connection) -> int:
    """Rows of `events` (any partition) read so far by this connection's
    open transaction, by sequential scans and by index fetches."""
    scanned = await connection.fetchval(
        "SELECT coalesce(sum(seq_tup_read + idx_tup_fetch), 0) FROM pg_stat_xact_user_tables "
        "WHERE relname LIKE 'events%'"
    )
    return int(scanned)
