"""SQL of the re-redaction pass (server/operations/reredaction.py): rows
stored under an older redaction_version, read and rewritten in small batches.

Each batch is one short transaction that locks only its own rows (`FOR
UPDATE SKIP LOCKED`): writers, which only insert new rows, never wait on it,
and two servers running the pass at once take different rows. Nothing here
touches a cursor, an id or a duplicate flag, so a watch never sees a
rewritten event again, and a page token stays valid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

# The text of an event that the pass rewrites (every column a caller's text
# reaches; project_id and provider are checked identifiers).
EVENT_TEXT_COLUMNS = (
    "channel_type", "provider_event_id", "stage", "channel_chat_id", "alertname", "severity",
    "namespace", "target_resource", "fingerprint", "recurrence_key", "content_redacted",
    "content_preview", "source_url",
)
EVENT_JSON_COLUMNS = ("source_refs", "log_correlation", "source_envelope")
RUN_TEXT_COLUMNS = ("agent_id", "incident_id", "repair_summary")
HANDOFF_TEXT_COLUMNS = ("proposal_title", "proposal_description_markdown", "proposal_severity")


async def old_events(
    connection: asyncpg.Connection, version: str, after: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` events not under `version`, by id after `after`, locked
    for this transaction (rows another pass holds are skipped)."""
    columns = ", ".join(("id", "has_redacted_content", "source_body_id",
                         *EVENT_TEXT_COLUMNS, *EVENT_JSON_COLUMNS))
    rows = await connection.fetch(
        f"""SELECT {columns} FROM events
            WHERE redaction_version <> $1 AND ($2::uuid IS NULL OR id > $2)
            ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED""",
        version, after, limit,
    )
    return [dict(row) for row in rows]


async def rewrite_events(
    connection: asyncpg.Connection, version: str, events: Sequence[dict[str, Any]]
) -> None:
    assignments = ", ".join(
        [f"{name} = ${n}" for n, name in enumerate(EVENT_TEXT_COLUMNS, start=4)]
        + [f"{name} = ${n}" for n, name in
           enumerate(EVENT_JSON_COLUMNS, start=4 + len(EVENT_TEXT_COLUMNS))]
    )
    await connection.executemany(
        f"""UPDATE events SET redaction_version = $2, has_redacted_content = $3, {assignments}
            WHERE id = $1""",
        [
            (
                e["id"], version, e["has_redacted_content"],
                *(e[name] for name in EVENT_TEXT_COLUMNS),
                *(e[name] for name in EVENT_JSON_COLUMNS),
            )
            for e in events
        ],
    )


async def source_bodies(
    connection: asyncpg.Connection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    rows = await connection.fetch(
        "SELECT id, fields FROM source_bodies WHERE id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED",
        list(ids),
    )
    return {row["id"]: row["fields"] for row in rows}


async def rewrite_source_bodies(connection: asyncpg.Connection, bodies: dict[uuid.UUID, Any]) -> None:
    await connection.executemany(
        "UPDATE source_bodies SET fields = $2 WHERE id = $1",
        list(bodies.items()),
    )


async def texts_after(
    connection: asyncpg.Connection,
    table: str,
    key: str,
    columns: Sequence[str],
    after: Any,
    limit: int,
) -> list[dict[str, Any]]:
    """A batch of a table without a redaction_version (runs, handoffs): every
    row is looked at once per pass, by key."""
    rows = await connection.fetch(
        f"""SELECT {key}, {', '.join(columns)} FROM {table}
            WHERE ($1::uuid IS NULL OR {key} > $1)
            ORDER BY {key} LIMIT $2 FOR UPDATE SKIP LOCKED""",
        after, limit,
    )
    return [dict(row) for row in rows]


async def rewrite_texts(
    connection: asyncpg.Connection,
    table: str,
    key: str,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=2))
    await connection.executemany(
        f"UPDATE {table} SET {assignments} WHERE {key} = $1",
        [(row[key], *(row[name] for name in columns)) for row in rows],
    )
