"""Versioned SQL migrations, applied at start-up.

Files in migrations/ named NNNN_name.sql are applied in order, each in its own
transaction, and recorded with a checksum. A session-level advisory lock makes
two servers starting at once take turns. An applied file whose text changed
stops the start-up: a migration is never edited once applied, a new one is added.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x61776F6F6F70  # "awooop": any constant shared by every server


class MigrationError(RuntimeError):
    pass


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def apply_migrations(connection: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies what is pending; returns the names applied by this call."""
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   sha256 text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await connection.fetch("SELECT name, sha256 FROM schema_migrations")
        applied = {row["name"]: row["sha256"] for row in rows}
        for path in migration_files(directory):
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if path.name in applied:
                if applied[path.name] != checksum:
                    raise MigrationError(f"applied migration {path.name} was edited")
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
                    path.name,
                    checksum,
                )
            log.info("applied migration %s", path.name)
            applied_now.append(path.name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
