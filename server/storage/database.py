"""The connection pool, and the embedded PostgreSQL used when DATABASE_URL is unset."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

# Errors that mean "the database cannot be reached right now", as opposed to a
# bad query: the guard answers UNAVAILABLE and the pool reconnects by itself.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionFailureError,
    # A pooled connection whose server side was killed while idle can fail its
    # next query with a protocol-state error before asyncpg notices it is gone.
    asyncpg.exceptions.InternalClientError,
    # statement_timeout: the database did not answer in time (a lock held,
    # a hung server); the caller may retry.
    asyncpg.exceptions.QueryCanceledError,
)


# timestamptz on the wire: microseconds since 2000-01-01 UTC.
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# PostgreSQL's -infinity and infinity, which this service never writes.
_PG_INFINITIES = (-(2**63), 2**63 - 1)


def encode_timestamptz(value: datetime) -> tuple[int]:
    """Every aware datetime as the instant it is. asyncpg's own codec writes
    datetime.min and datetime.max (Go's zero time 0001-01-01T00:00:00Z is
    one) as -infinity and infinity, and reads them back as naive datetimes,
    which no reader can convert: a stored year-1 time broke every read path."""
    if value.tzinfo is None:
        raise ValueError("timestamptz needs an aware datetime")
    return ((value - _PG_EPOCH) // _MICROSECOND,)


def decode_timestamptz(value: tuple[int]) -> datetime:
    """Always an aware UTC datetime; the infinities (never written here, but a
    hand-edited row may hold them) read as the ends of datetime's range."""
    [microseconds] = value
    if microseconds in _PG_INFINITIES:
        return (datetime.min if microseconds < 0 else datetime.max).replace(tzinfo=UTC)
    return _PG_EPOCH + timedelta(microseconds=microseconds)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
    await connection.set_type_codec(
        "timestamptz",
        encoder=encode_timestamptz,
        decoder=decode_timestamptz,
        schema="pg_catalog",
        format="tuple",
    )


async def _keep_as_is(connection: asyncpg.Connection) -> None:
    """A pooled connection's reset on release: nothing.

    asyncpg's default runs `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release, a round trip of its own: one of the two of
    a read call. Pooled connections never carry session state (a session
    advisory lock, a SET, a LISTEN): what needs it takes a connection of its
    own (Store.session(), the commit listener, migrations), and everything
    else uses SET LOCAL and transaction-scoped locks. asyncpg still rolls back
    a transaction left open before calling this
    (tests/storage/test_pool.py)."""


# Opening a connection gives up after this many seconds (asyncpg waits 60).
CONNECT_TIMEOUT = 5.0


async def create_pool(
    dsn: str, max_size: int = 10, statement_timeout: float = 10.0
) -> asyncpg.Pool:
    """No connection is opened here (min_size 0): the pool exists, and the
    server listens, before the database is reachable (server/readiness.py).
    Every statement is bounded on both sides: PostgreSQL cancels it after
    `statement_timeout`, and the client stops waiting a second later."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_as_is,
        timeout=CONNECT_TIMEOUT,
        command_timeout=statement_timeout + 1,
        server_settings={"statement_timeout": str(int(statement_timeout * 1000))},
    )
    assert pool is not None
    return pool


async def connect(dsn: str, timeout: float = 60) -> asyncpg.Connection:
    """A connection outside the pool (migrations, the event listener)."""
    connection = await asyncpg.connect(dsn, timeout=timeout)
    await _init_connection(connection)
    return connection


class EmbeddedPostgres:
    """A PostgreSQL cluster under `directory`, started with pgserver (a pip
    package carrying the server binaries). Stopped by stop()."""

    def __init__(self, directory: Path, keep: bool = True) -> None:
        import pgserver  # imported here: only the embedded case needs it

        directory.mkdir(parents=True, exist_ok=True)
        self._server: Any = pgserver.get_server(
            directory.resolve(), cleanup_mode="stop" if keep else "delete"
        )

    @property
    def dsn(self) -> str:
        return str(self._server.get_uri())

    def create_database(self, name: str) -> str:
        """Creates database `name` if missing; returns its DSN."""
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')
        return str(self._server.get_uri(name))

    def stop(self) -> None:
        self._server.cleanup()
