"""The PostgreSQL of a bench run, its databases, and the histories loaded into them.

DATABASE_URL's cluster when set, else a throwaway embedded one (pgserver).
Every part of a run uses the same cluster, so their figures are comparable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.history import write_history
from bench.servers import fresh_database
from server.storage.database import EmbeddedPostgres, connect
from server.storage.migrations import apply_migrations


class Cluster:
    def __init__(self, admin_dsn: str, workdir: Path) -> None:
        self.admin_dsn = admin_dsn
        self.workdir = workdir
        self._histories: dict[int, str] = {}
        # Seconds each history took to load, by size.
        self.load_seconds: dict[int, float] = {}

    async def database(self, name: str) -> str:
        """A fresh database with every migration applied; returns its DSN."""
        dsn = await fresh_database(self.admin_dsn, f"bench_{name}_{os.getpid()}")
        connection = await connect(dsn)
        try:
            await apply_migrations(connection)
        finally:
            await connection.close()
        return dsn

    async def history(self, events: int) -> str:
        """A database holding a history of `events` events (bench/history.py),
        loaded once per run."""
        if events not in self._histories:
            dsn = await self.database(f"history_{events}")
            self.load_seconds[events] = await write_history(dsn, events)
            self._histories[events] = dsn
        return self._histories[events]


@contextmanager
def cluster() -> Iterator[Cluster]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        workdir = Path(tmp)
        embedded: EmbeddedPostgres | None = None
        admin_dsn = os.environ.get("DATABASE_URL")
        if not admin_dsn:
            embedded = EmbeddedPostgres(workdir / "pg", keep=False)
            admin_dsn = embedded.dsn
        try:
            yield Cluster(admin_dsn, workdir)
        finally:
            if embedded is not None:
                embedded.stop()
