"""The test harness: a real PostgreSQL, a real grpc.aio server on a free port,
and a real channel to it. Nothing is mocked.

The PostgreSQL is the one DATABASE_URL names, or a throwaway embedded cluster
for the run. Each test gets a database of its own, cloned from a migrated
template, so tests cannot see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from awooop.channel_events.v1 import (
    dossier_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    work_items_pb2_grpc,
)
from google.rpc import error_details_pb2, status_pb2
from pydantic import SecretStr

from server.app import App, create_app
from server.auth import ApiKey, Authenticator, Role, hash_token
from server.config import Settings
from server.storage.database import EmbeddedPostgres, connect, create_pool
from server.storage.migrations import apply_migrations
from server.storage.store import Store

TEMPLATE_DB = "channel_events_template"
_counter = itertools.count()


def with_database(dsn: str, name: str) -> str:
    """`dsn` pointing at database `name` instead."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


class PostgresForTests:
    """The cluster of this test run, and fresh databases in it."""

    def __init__(self) -> None:
        self._embedded: EmbeddedPostgres | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if os.environ.get("DATABASE_URL"):
            self.admin_dsn = os.environ["DATABASE_URL"]
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="channel-events-pg-")
            self._embedded = EmbeddedPostgres(Path(self._tmp.name) / "pg", keep=False)
            self.admin_dsn = self._embedded.dsn
        self._template_ready = False

    async def _prepare_template(self, admin: asyncpg.Connection) -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        connection = await connect(with_database(self.admin_dsn, TEMPLATE_DB))
        try:
            await apply_migrations(connection)
        finally:
            await connection.close()
        self._template_ready = True

    async def fresh_database(self) -> str:
        """A new, migrated, empty database; returns its DSN."""
        name = f"test_{os.getpid()}_{next(_counter)}"
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            if not self._template_ready:
                await self._prepare_template(admin)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        finally:
            await admin.close()
        return with_database(self.admin_dsn, name)

    async def drop_database(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


# Tokens of the test keys, by what they may do.
TOKENS = {
    "ingest": "test-ingest-token",
    "operator": "test-operator-token",
    "reader": "test-reader-token",
    "all": "test-all-roles-token",
    "alpha_only": "test-alpha-only-token",
}

TEST_KEYS = [
    ApiKey(operator_id="ingest-bot", token_sha256=hash_token(TOKENS["ingest"]), roles=[Role.INGEST]),
    ApiKey(operator_id="oncall", token_sha256=hash_token(TOKENS["operator"]), roles=[Role.OPERATOR]),
    ApiKey(operator_id="viewer", token_sha256=hash_token(TOKENS["reader"]), roles=[Role.READER]),
    ApiKey(
        operator_id="admin",
        token_sha256=hash_token(TOKENS["all"]),
        roles=[Role.INGEST, Role.OPERATOR, Role.READER],
    ),
    ApiKey(
        operator_id="alpha-team",
        token_sha256=hash_token(TOKENS["alpha_only"]),
        roles=[Role.INGEST, Role.OPERATOR, Role.READER],
        projects=["alpha"],
    ),
]


def bearer(token_name: str) -> tuple[tuple[str, str], ...]:
    """Call metadata for one of the test keys."""
    return (("authorization", f"Bearer {TOKENS[token_name]}"),)


INGEST = bearer("ingest")
OPERATOR = bearer("operator")
ALL = bearer("all")


@dataclass
class Service:
    """A running server and a channel to it."""

    app: App
    channel: grpc.aio.Channel
    store: Store
    dsn: str
    settings: Settings
    events: events_pb2_grpc.EventServiceStub = field(init=False)
    dossier: dossier_pb2_grpc.DossierServiceStub = field(init=False)
    work_items: work_items_pb2_grpc.WorkItemServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.events = events_pb2_grpc.EventServiceStub(self.channel)
        self.dossier = dossier_pb2_grpc.DossierServiceStub(self.channel)
        self.work_items = work_items_pb2_grpc.WorkItemServiceStub(self.channel)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.app.port}"

    @property
    def http_url(self) -> str:
        """The HTTP server's base URL, with the configured prefix."""
        return f"http://127.0.0.1:{self.app.http_port}{self.settings.http_prefix}"

    async def record(self, **fields: Any) -> events_pb2.RecordAlertEventResponse:
        """RecordAlertEvent with defaults for the required fields."""
        fields.setdefault("project_id", "alpha")
        fields.setdefault("provider", "alertmanager")
        fields.setdefault("event_id", f"evt-{next(_counter)}")
        return await self.events.RecordAlertEvent(
            events_pb2.RecordAlertEventRequest(**fields), metadata=INGEST
        )

    async def count_rows(self, table: str) -> int:
        async with self.store.pool.acquire() as connection:
            return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))

    async def table_counts(self) -> dict[str, int]:
        """Rows in every table of the schema, to prove what a call wrote (a
        partitioned table counts as one: its partitions are how it is stored)."""
        async with self.store.pool.acquire() as connection:
            tables = await connection.fetch(
                """SELECT c.relname AS tablename FROM pg_class c
                   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                     AND NOT c.relispartition
                   ORDER BY c.relname"""
            )
            return {
                t["tablename"]: int(await connection.fetchval(f'SELECT count(*) FROM "{t["tablename"]}"'))
                for t in tables
            }


async def start_service(dsn: str, **settings_overrides: Any) -> Service:
    settings = Settings(
        database_url=SecretStr(dsn),
        listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        **settings_overrides,
    )
    pool = await create_pool(dsn, statement_timeout=settings.statement_timeout)
    store = Store(pool, dsn)
    authenticator = Authenticator(TEST_KEYS, settings.require_read_auth)
    app = create_app(settings, store, authenticator)
    await app.start()
    await app.readiness.wait_ready(timeout=30)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    return Service(app=app, channel=channel, store=store, dsn=dsn, settings=settings)


async def stop_service(service: Service) -> None:
    await service.channel.close()
    await service.app.stop(grace=1.0)
    await service.store.pool.close()


async def set_database_open(postgres: PostgresForTests, dsn: str, is_open: bool) -> None:
    """Closes the database to new connections and kills every session in it
    (an outage, as the server sees it), or opens it again."""
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(postgres.admin_dsn)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(is_open).lower()}')
        if not is_open:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


def error_details(error: grpc.aio.AioRpcError) -> tuple[
    error_details_pb2.BadRequest | None, error_details_pb2.ErrorInfo | None
]:
    """The google.rpc details the server packed into a failed call."""
    bad_request: error_details_pb2.BadRequest | None = None
    info: error_details_pb2.ErrorInfo | None = None
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
    return bad_request, info


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    bad_request, _ = error_details(error)
    return [v.field for v in bad_request.field_violations] if bad_request else []


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The stable ErrorInfo.reason of a failed call, "" when it has none."""
    _, info = error_details(error)
    return info.reason if info is not None else ""
