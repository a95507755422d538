"""Fixtures: see tests/harness.py for what runs where."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType

import pytest

from tests.harness import PostgresForTests, Service, start_service, stop_service


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_sessionstart(session: pytest.Session) -> None:
    """A run killed with SIGTERM (CI's time limit, a tired developer) ends like
    Ctrl-C: fixtures tear down and the throwaway PostgreSQL is stopped and
    deleted, instead of being left running."""
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    cluster = PostgresForTests()
    yield cluster
    cluster.close()


@pytest.fixture
async def database(postgres: PostgresForTests) -> AsyncIterator[str]:
    """The DSN of a fresh, migrated, empty database for this test."""
    dsn = await postgres.fresh_database()
    yield dsn
    await postgres.drop_database(dsn)


@pytest.fixture
async def service(database: str) -> AsyncIterator[Service]:
    """A real server on a free port, on this test's database, and a channel to it."""
    running = await start_service(database)
    yield running
    await stop_service(running)


@pytest.fixture
async def fast(database: str) -> AsyncIterator[Service]:
    """Like `service`, but idle watch streams report progress every 0.2 s."""
    running = await start_service(database, watch_progress_interval=0.2)
    yield running
    await stop_service(running)
