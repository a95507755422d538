"""The write path's ordering rule on a real PostgreSQL (migration 0005):
writers never wait for each other, yet no reader bounded by final_cursor can
move past an event still to commit, and duplicates stay exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, EventFilter, NewEvent, Recorded
from server.storage import events
from server.storage.database import connect
from tests.storage.bulk import grow_events, rows_read


def _event(event_id: str, project_id: str = "alpha") -> NewEvent:
    return derive_event(
        AlertEventInput(project_id=project_id, provider="sentry", event_id=event_id, title="Boom")
    )


@pytest.fixture
async def connections(database: str) -> AsyncIterator[list[asyncpg.Connection]]:
    opened = [await connect(database) for _ in range(3)]
    yield opened
    for connection in opened:
        await connection.close()


async def test_an_open_write_holds_the_final_cursor_below_itself_and_later_writes(
    connections: list[asyncpg.Connection],
) -> None:
    early, late, reader = connections
    [first] = await events.insert_events(reader, [_event("first")])
    assert (await events.final_cursor(reader))[0] == first.cursor

    transaction = early.transaction()
    await transaction.start()
    [slow] = await events.insert_events(early, [_event("slow")])  # began first, not committed
    [fast] = await events.insert_events(late, [_event("fast")])  # committed at once

    assert first.cursor < slow.cursor < fast.cursor
    final, pending = await events.final_cursor(reader)
    # The fast event is visible, but a reader must not move past the slow one's place.
    assert final == first.cursor and pending
    assert [e.cursor for e in await events.events_after(reader, EventFilter(), 0, 10, final)] == [
        first.cursor
    ]

    await transaction.commit()
    final, pending = await events.final_cursor(reader)
    assert final == fast.cursor and not pending
    after = await events.events_after(reader, EventFilter(), first.cursor, 10, final)
    assert [e.cursor for e in after] == [slow.cursor, fast.cursor]


async def test_an_aborted_write_leaves_nothing_and_releases_the_bound(
    connections: list[asyncpg.Connection],
) -> None:
    writer, other, reader = connections
    transaction = writer.transaction()
    await transaction.start()
    await events.insert_events(writer, [_event("doomed")])
    [kept] = await events.insert_events(other, [_event("kept")])
    assert (await events.final_cursor(reader))[0] < kept.cursor
    await transaction.rollback()
    assert await events.final_cursor(reader) == (kept.cursor, False)


async def test_old_cursors_stay_below_every_new_one(
    connections: list[asyncpg.Connection],
) -> None:
    writer, _, reader = connections
    # As if 5,000 events had been written the old way before migration 0005.
    await writer.execute("UPDATE event_cursor SET last_cursor = 5000")
    assert (await events.final_cursor(reader))[0] == 5000
    [new] = await events.insert_events(writer, [_event("new")])
    assert new.cursor > 5000
    assert (await events.final_cursor(reader))[0] == new.cursor


async def test_concurrent_writes_of_one_key_make_exactly_one_occurrence_and_the_later_is_the_duplicate(
    database: str,
) -> None:
    pool = await asyncpg.create_pool(database, min_size=8, max_size=8)
    assert pool is not None
    try:
        async def write(n: int) -> Recorded:
            async with pool.acquire() as connection:
                [recorded] = await events.insert_events(connection, [_event("same")])  # type: ignore[arg-type]
                return recorded

        recorded = await asyncio.gather(*(write(n) for n in range(16)))
    finally:
        await pool.close()
    by_cursor = sorted(recorded, key=lambda r: r.cursor)
    assert [r.is_duplicate for r in by_cursor] == [False] + [True] * 15


async def test_a_session_holding_event_cursor_for_update_pauses_every_write(
    connections: list[asyncpg.Connection],
) -> None:
    blocker, writer, _ = connections
    transaction = blocker.transaction()
    await transaction.start()
    await blocker.execute("SELECT * FROM event_cursor FOR UPDATE")
    write = asyncio.ensure_future(events.insert_events(writer, [_event("paused")]))
    await asyncio.sleep(0.3)
    assert not write.done()
    await transaction.rollback()
    [recorded] = await asyncio.wait_for(write, 5)
    assert not recorded.is_duplicate


async def test_the_final_cursor_is_read_off_the_cursor_index_however_large_the_table(
    connections: list[asyncpg.Connection], database: str
) -> None:
    # The watch's listener reads final_cursor on every commit signal while it
    # has streams: at 1,000,000 events a plan that scanned a partition took
    # ~100 ms per signal (bench/PLANS.md). Both halves of the answer are the
    # top of the cursor index, whatever the statistics say.
    writer, early, reader = connections
    await events.insert_events(writer, [_event("seed")])
    await grow_events(database, 20_000)
    await reader.execute("ANALYZE events")
    [last] = await events.insert_events(writer, [_event("last")])

    async with reader.transaction():
        answer = await events.final_cursor(reader)
        scanned = await rows_read(reader)
    assert answer == (last.cursor, False)
    assert scanned < 100, f"final_cursor read {scanned} rows of a table of 20,000"

    transaction = early.transaction()
    await transaction.start()
    [open_write] = await events.insert_events(early, [_event("open")])
    [after] = await events.insert_events(writer, [_event("after")])
    async with reader.transaction():
        answer = await events.final_cursor(reader)
        scanned = await rows_read(reader)
    await transaction.rollback()
    assert answer == (last.cursor, True) and last.cursor < open_write.cursor < after.cursor
    assert scanned < 100, f"final_cursor read {scanned} rows of a table of 20,000"
