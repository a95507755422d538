"""`python -m server`: the whole start-up, as `make run` does it.

Embedded PostgreSQL when DATABASE_URL is unset, a dev key when AWOOOP_AUTH_FILE
is unset, then serve until SIGTERM or SIGINT. `python -m server reredact` runs
the re-redaction pass to its end instead (server/operations/reredaction.py). The server listens at once;
migrations are applied as soon as the database is reachable (server/readiness.py).
"""

from __future__ import annotations

import os

# gRPC's C core logs to stderr on its own, past Python's logging: only its errors.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from server.app import CannotListen, create_app
from server.auth import Authenticator, ensure_dev_key_file
from server.config import Settings
from server.domain.redaction import REDACTION_VERSION
from server.observability.logs import configure_logging
from server.observability.tracing import start_tracing
from server.operations.reredaction import Reredaction
from server.storage.database import EmbeddedPostgres, connect, create_pool
from server.storage.migrations import apply_migrations
from server.storage.store import Store

log = logging.getLogger("server")


async def serve(settings: Settings, dsn: str, traced: bool) -> None:
    if settings.auth_file is None:
        key_file, token = ensure_dev_key_file(settings.data_dir)
        settings = settings.model_copy(update={"auth_file": key_file})
        print(
            f"dev token (every role, every project; kept in {settings.data_dir}/dev-token):\n"
            f"  {token}\n"
            "try:\n"
            f"  grpcurl -plaintext -H 'authorization: Bearer {token}' "
            "-d '{\"project_id\":\"demo\",\"provider\":\"alertmanager\",\"event_id\":\"e1\","
            "\"title\":\"HighPodMemory\"}' "
            f"{settings.listen} awooop.channel_events.v1.EventService/RecordAlertEvent\n"
            "or post a provider's webhook body (README: Point your alerts here):\n"
            f"  curl -u alertmanager:{token} --data-binary @alertmanager.json "
            f"http://{settings.http_listen}/webhooks/alertmanager/demo",
            # Not a log line (logs never hold a token): for the developer's terminal.
            file=sys.stderr,
            flush=True,
        )
    assert settings.auth_file is not None
    authenticator = Authenticator.from_file(settings.auth_file, settings.require_read_auth)
    pool = await create_pool(dsn, settings.pool_max_size, settings.statement_timeout)
    app = create_app(settings, Store(pool, dsn), authenticator, traced=traced)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await app.start()
    log.info("listening on %s (gRPC) and %s (HTTP); calls wait for the database",
             settings.listen, settings.http_listen)
    ready = asyncio.create_task(app.readiness.wait_ready(timeout=None))
    stop = asyncio.create_task(stopping.wait())
    await asyncio.wait({ready, stop}, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        log.info("serving on %s (gRPC) and http://%s (HTTP)", settings.listen, settings.http_listen)
    await stop
    log.info("stopping: finishing calls in flight (grace %.0fs)", settings.shutdown_grace)
    await app.stop(settings.shutdown_grace)
    await pool.close()
    log.info("stopped")


async def reredact(settings: Settings, dsn: str) -> None:
    """`python -m server reredact`: the re-redaction pass to its end, with no
    pause between batches (a server also runs it, in the background, at start)."""
    connection = await connect(dsn, timeout=10)
    try:
        await apply_migrations(connection)
    finally:
        await connection.close()
    pool = await create_pool(dsn, settings.pool_max_size, settings.statement_timeout)
    try:
        done = await Reredaction(Store(pool, dsn), pause=0).run()
    finally:
        await pool.close()
    log.info("re-redaction done", extra={
        "redaction_version": REDACTION_VERSION, "events": done.events,
        "changed_events": done.changed_events, "bodies": done.bodies,
        "runs": done.runs, "handoffs": done.handoffs,
    })


COMMANDS = ("serve", "reredact")


def run(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Runs `main` on the event loop AWOOOP_EVENT_LOOP names; uvloop is
    imported only when asked for (an optional dependency)."""
    if event_loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    else:
        asyncio.run(main)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command not in COMMANDS or len(args) > 1:
        print(f"usage: python -m server [{' | '.join(COMMANDS)}]", file=sys.stderr)
        return 2
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    traced = start_tracing()
    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        log.info("DATABASE_URL unset: starting an embedded PostgreSQL under %s", settings.data_dir)
        embedded = EmbeddedPostgres(settings.data_dir / "postgres")
        dsn = embedded.create_database("channel_events")
    else:
        dsn = settings.database_url.get_secret_value()
    try:
        if command == "reredact":
            run(reredact(settings, dsn), settings.event_loop)
        else:
            run(serve(settings, dsn, traced), settings.event_loop)
    except CannotListen as error:
        log.error("%s (is another server running there? set AWOOOP_LISTEN)", error)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
