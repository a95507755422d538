"""The pool does not reset a connection on release (server/storage/database.py):
what it relies on, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server.operations.retention import Retention
from server.observability.metrics import Metrics
from server.storage.database import connect, create_pool
from server.storage.store import Store


@pytest.fixture
async def one_connection_pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database, max_size=1)
    yield pool
    await pool.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(
    one_connection_pool: asyncpg.Pool,
) -> None:
    async with one_connection_pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("CREATE TABLE left_open (x int)")
        backend = await connection.fetchval("SELECT pg_backend_pid()")
    async with one_connection_pool.acquire() as connection:
        # The same session (a pool of one), no longer in the transaction.
        assert await connection.fetchval("SELECT pg_backend_pid()") == backend
        assert not connection.is_in_transaction()
        assert await connection.fetchval("SELECT to_regclass('left_open')") is None


async def test_the_retention_pass_leaves_no_session_state_on_pooled_connections(
    database: str, one_connection_pool: asyncpg.Pool
) -> None:
    store = Store(one_connection_pool, database)
    # The pool's only connection stays taken: a pass that needed it would hang.
    async with one_connection_pool.acquire():
        done = await asyncio.wait_for(Retention(store, 90, 365, Metrics(), pause=0).run(), 30)
    assert done.ran
    observer = await connect(database)
    try:
        # The pass's session lock went with its own connection.
        assert await observer.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    finally:
        await observer.close()
    async with one_connection_pool.acquire() as connection:
        assert await connection.fetchval("SHOW lock_timeout") == "0"
