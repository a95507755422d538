"""Re-redaction: rows stored under an older redaction_version are redacted
again under today's rules (SPEC section 6), in the background or by
`python -m server reredact`.

The raw text is gone (it is never stored), so the pass redacts what is
stored: the rules are idempotent, so earlier markers stay and only what
older rules missed is replaced. Events carry their version and are done once
(a row is rewritten with REDACTION_VERSION); a webhook body's shared fields
go with its events; runs and handoff proposals have no version and are
looked at once per pass, rewritten only when something changes. Batches are
small and each is its own short transaction (server/storage/reredaction.py):
writers never wait, cursors never change, and a pass stopped half-way goes on
where it stopped the next time, whichever server runs it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.derivation import PREVIEW_LENGTH, stored_content
from server.domain.redaction import REDACTION_VERSION
from server.domain.stored_text import reredacted_texts
from server.operations import cpu
from server.storage import reredaction as sql
from server.storage.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 200
# Between batches: the pass is background work and leaves room for calls.
PAUSE_SECONDS = 0.05


@dataclass
class Reredacted:
    """What a pass did."""

    events: int = 0
    changed_events: int = 0
    bodies: int = 0
    runs: int = 0
    handoffs: int = 0


def _reredact_event(event: dict[str, Any]) -> dict[str, Any]:
    texts = {name: event[name] for name in (*sql.EVENT_TEXT_COLUMNS, *sql.EVENT_JSON_COLUMNS)}
    new = reredacted_texts(texts)
    changed = new != texts
    # Still within the stored bound (a marker can be longer than what it hides),
    # and the preview a prefix of it, as when the event was derived.
    new["content_redacted"] = stored_content(new["content_redacted"])
    new["content_preview"] = new["content_redacted"][:PREVIEW_LENGTH]
    content_changed = new["content_redacted"] != event["content_redacted"]
    return {
        **event,
        **new,
        "has_redacted_content": event["has_redacted_content"] or content_changed,
        "changed": changed,
    }


def _reredact_events(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_reredact_event(row) for row in rows]


def _size(rows: Sequence[dict[str, Any]]) -> int:
    return sum(len(str(value)) for row in rows for value in row.values())


class Reredaction:
    def __init__(self, store: Store, batch_size: int = BATCH_SIZE, pause: float = PAUSE_SECONDS) -> None:
        self._store = store
        self._batch_size = batch_size
        self._pause = pause

    async def run(self) -> Reredacted:
        """One whole pass: every event under an older version, then runs and handoffs."""
        done = Reredacted()
        await self._events(done)
        done.runs = await self._texts("runs", "run_id", sql.RUN_TEXT_COLUMNS)
        done.handoffs = await self._texts(
            "work_item_handoffs", "handoff_id", sql.HANDOFF_TEXT_COLUMNS
        )
        if done.events or done.runs or done.handoffs:
            log.info("re-redaction to %s: %d events (%d changed), %d bodies, %d runs, "
                     "%d handoffs", REDACTION_VERSION, done.events, done.changed_events,
                     done.bodies, done.runs, done.handoffs)
        return done

    async def _events(self, done: Reredacted) -> None:
        after: uuid.UUID | None = None
        while True:
            async with self._store.connection() as connection, connection.transaction():
                rows = await sql.old_events(connection, REDACTION_VERSION, after, self._batch_size)
                if not rows:
                    return
                after = rows[-1]["id"]
                events = await cpu.run(_size(rows), _reredact_events, rows)
                await sql.rewrite_events(connection, REDACTION_VERSION, events)
                body_ids = {e["source_body_id"] for e in events if e["source_body_id"]}
                bodies = await sql.source_bodies(connection, sorted(body_ids))
                if bodies:
                    new_bodies = {k: reredacted_texts({"f": v})["f"] for k, v in bodies.items()}
                    await sql.rewrite_source_bodies(connection, new_bodies)
            done.events += len(events)
            done.changed_events += sum(e["changed"] for e in events)
            done.bodies += len(bodies)
            await asyncio.sleep(self._pause)

    async def _texts(self, table: str, key: str, columns: Sequence[str]) -> int:
        after: Any = None
        changed = 0
        while True:
            async with self._store.connection() as connection, connection.transaction():
                rows = await sql.texts_after(connection, table, key, columns, after, self._batch_size)
                if not rows:
                    return changed
                after = rows[-1][key]
                new = [{**row, **reredacted_texts({c: row[c] for c in columns})} for row in rows]
                different = [n for n, old in zip(new, rows, strict=True) if n != old]
                if different:
                    await sql.rewrite_texts(connection, table, key, columns, different)
            changed += len(different)
            await asyncio.sleep(self._pause)
