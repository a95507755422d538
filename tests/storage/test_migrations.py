"""Migrations: applied once, in order, safely by two servers at once, never edited."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from server.storage.migrations import MIGRATIONS_DIR, MigrationError, apply_migrations, migration_files
from tests.harness import PostgresForTests, with_database


@pytest.fixture
async def empty_database(postgres: PostgresForTests) -> str:
    admin = await asyncpg.connect(postgres.admin_dsn)
    try:
        await admin.execute('DROP DATABASE IF EXISTS "migrations_empty" WITH (FORCE)')
        await admin.execute('CREATE DATABASE "migrations_empty"')
    finally:
        await admin.close()
    return with_database(postgres.admin_dsn, "migrations_empty")


async def applied_names(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        return [r["name"] for r in await connection.fetch("SELECT name FROM schema_migrations ORDER BY name")]
    finally:
        await connection.close()


async def test_two_servers_migrating_at_once_apply_each_migration_once(empty_database: str) -> None:
    connections = [await asyncpg.connect(empty_database) for _ in range(2)]
    try:
        results = await asyncio.gather(*(apply_migrations(c) for c in connections))
    finally:
        for connection in connections:
            await connection.close()
    every = [p.name for p in migration_files()]
    assert sorted(results[0] + results[1]) == every  # each applied by exactly one of them
    assert await applied_names(empty_database) == every


async def test_a_second_start_applies_nothing(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        assert await apply_migrations(connection)
        assert await apply_migrations(connection) == []
    finally:
        await connection.close()


async def test_an_edited_applied_migration_stops_the_start_up(empty_database: str, tmp_path: Path) -> None:
    edited = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, edited)
    connection = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(connection, edited)
        first = sorted(edited.glob("0001_*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited after it was applied\n")
        with pytest.raises(MigrationError):
            await apply_migrations(connection, edited)
    finally:
        await connection.close()


async def test_a_failing_migration_leaves_no_trace(empty_database: str, tmp_path: Path) -> None:
    broken = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, broken)
    (broken / "9999_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT 1/0;\n")
    connection = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
            await apply_migrations(connection, broken)
        assert await connection.fetchval("SELECT to_regclass('half_done')") is None
        assert "9999_broken.sql" not in await applied_names(empty_database)
    finally:
        await connection.close()


async def test_events_written_before_partitioning_keep_their_ids_cursors_and_links(
    empty_database: str, tmp_path: Path
) -> None:
    """0006 moves every event of an existing database into its week's
    partition: ids, cursors and received_at as they were, run links kept."""
    before = tmp_path / "before"
    before.mkdir()
    for path in migration_files():
        if path.name < "0006":
            shutil.copy(path, before)
    connection = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(connection, before)
        await connection.execute(
            """INSERT INTO events (id, cursor, project_id, channel_type, provider,
                   provider_event_id, stage, recurrence_key, content_redacted, content_preview,
                   has_redacted_content, redaction_version, content_sha256, content_length,
                   is_duplicate, received_at)
               SELECT gen_random_uuid(), g, 'alpha', 'alert', 'sentry', 'sentry:' || g, 'firing',
                      'k', 'c', 'c', false, 'v1', 'h', 1, false,
                      now() - (40 - g) * interval '1 day'
               FROM generate_series(1, 40) AS g"""
        )
        await connection.execute(
            """INSERT INTO runs (run_id, project_id, state, update_seq)
               VALUES ('00000000-0000-0000-0000-000000000001', 'alpha', 'queued', 1)"""
        )
        await connection.execute(
            """INSERT INTO run_events (run_id, event_id)
               SELECT '00000000-0000-0000-0000-000000000001', id FROM events WHERE cursor = 1"""
        )
        rows_before = await connection.fetch(
            "SELECT id, cursor, received_at FROM events ORDER BY cursor"
        )

        assert await apply_migrations(connection) == [
            "0006_events_partitioned_by_week.sql", "0007_duplicate_check_by_index.sql"
        ]

        assert await connection.fetchval(
            "SELECT relkind::text FROM pg_class WHERE relname = 'events'"
        ) == "p"
        rows_after = await connection.fetch(
            "SELECT id, cursor, received_at FROM events ORDER BY cursor"
        )
        assert rows_after == rows_before
        weeks = await connection.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass"
        )
        assert weeks >= 6  # 40 days of events, this week and the next
        assert await connection.fetchval(
            "SELECT count(*) FROM run_events JOIN events ON events.id = run_events.event_id"
        ) == 1
    finally:
        await connection.close()
