"""The commit signal (server/storage/commit_signal.py) on a real PostgreSQL,
heard by a real LISTEN: every write is followed by a NOTIFY, and a storm of
writes shares them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server.storage import commit_signal
from server.storage.commit_signal import CommitSignal
from server.storage.database import connect, create_pool
from server.storage.events import NOTIFY_CHANNEL


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def heard(database: str) -> AsyncIterator[list[float]]:
    """The loop time of every notification a listener receives."""
    listener = await connect(database)
    times: list[float] = []
    loop = asyncio.get_running_loop()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *_: times.append(loop.time()))
    yield times
    await listener.close()


async def _heard_after(times: list[float], moment: float, within: float = 5.0) -> bool:
    async with asyncio.timeout(within):
        while not any(t >= moment for t in times):
            await asyncio.sleep(0.005)
    return True


async def test_a_lone_write_is_announced_at_once(pool: asyncpg.Pool, heard: list[float]) -> None:
    signal = CommitSignal(pool)
    written = asyncio.get_running_loop().time()
    signal.written()
    assert await _heard_after(heard, written)
    assert heard[0] - written < 0.5
    assert signal.sent == 1


async def test_a_storm_shares_notifies_and_its_last_write_is_announced(
    pool: asyncpg.Pool, heard: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commit_signal, "NOTIFY_INTERVAL", 0.05)
    signal = CommitSignal(pool)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(100):  # a write ending every 5 ms for half a second
        signal.written()
        await asyncio.sleep(0.005)
    last = loop.time()
    signal.written()
    assert await _heard_after(heard, last)
    took = loop.time() - started
    # One NOTIFY per interval at most (and one more at the start), never one per write.
    assert 2 <= signal.sent <= took / 0.05 + 2
    await asyncio.sleep(0.2)
    assert signal.sent == len(heard)  # and each one reached the listener
