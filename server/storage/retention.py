"""SQL of the retention pass (server/operations/retention.py) besides the
event partitions (server/storage/partitions.py): operator records (runs,
work-item dry-runs and handoffs) and webhook bodies, removed oldest first in
small batches.

Each batch is one short transaction over rows nobody writes any more (older
than the retention), locked with SKIP LOCKED: a writer never waits on it,
and two passes at once take different rows. Every function returns how many
rows it removed; 0 means nothing older is left.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

# Also the advisory lock that makes one server at a time run the pass.
PASS_LOCK = 0x72657465  # "rete"


async def try_pass_lock(connection: asyncpg.Connection) -> bool:
    """The pass's session-level advisory lock, if no other server holds it."""
    return bool(await connection.fetchval("SELECT pg_try_advisory_lock($1)", PASS_LOCK))


async def release_pass_lock(connection: asyncpg.Connection) -> None:
    await connection.execute("SELECT pg_advisory_unlock($1)", PASS_LOCK)


async def delete_runs(connection: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Runs not updated since `before`, with their links to events."""
    async with connection.transaction():
        ids = await connection.fetch(
            """SELECT run_id FROM runs WHERE updated_at < $1
               ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            before, limit,
        )
        if not ids:
            return 0
        run_ids = [row["run_id"] for row in ids]
        await connection.execute("DELETE FROM run_events WHERE run_id = ANY($1::uuid[])", run_ids)
        await connection.execute("DELETE FROM runs WHERE run_id = ANY($1::uuid[])", run_ids)
        return len(run_ids)


async def delete_handoffs(connection: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Work-item handoffs recorded before `before`."""
    result = await connection.execute(
        """DELETE FROM work_item_handoffs WHERE handoff_id IN (
               SELECT handoff_id FROM work_item_handoffs WHERE created_at < $1
               ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        before, limit,
    )
    return _count(result)


async def delete_dry_runs(connection: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Work-item dry-runs recorded before `before`, except those a kept
    handoff names (a handoff refers to the dry-run it followed)."""
    result = await connection.execute(
        """DELETE FROM work_item_dry_runs WHERE dry_run_id IN (
               SELECT d.dry_run_id FROM work_item_dry_runs d
               WHERE d.created_at < $1
                 AND NOT EXISTS (SELECT 1 FROM work_item_handoffs h
                                 WHERE h.dry_run_id = d.dry_run_id)
               ORDER BY d.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        before, limit,
    )
    return _count(result)


async def delete_bodies(connection: asyncpg.Connection, before: datetime, limit: int) -> int:
    """Webhook bodies received before `before` that no event names any more
    (their events were in removed partitions)."""
    result = await connection.execute(
        """DELETE FROM source_bodies WHERE id IN (
               SELECT b.id FROM source_bodies b
               WHERE b.received_at < $1
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.source_body_id = b.id)
               ORDER BY b.received_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        before, limit,
    )
    return _count(result)


def _count(status: str) -> int:
    """Rows of a command status such as "DELETE 12"."""
    return int(status.rsplit(" ", 1)[-1])
