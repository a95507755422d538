"""The server as an operator runs it: `python -m server` in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import grpc
import pytest
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc

from server.auth import hash_token

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "process-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def key_file(directory: Path) -> Path:
    path = directory / "keys.json"
    path.write_text(json.dumps({"keys": [{
        "operator_id": "ops", "token_sha256": hash_token(TOKEN),
        "roles": ["ingest", "operator", "reader"], "projects": ["*"],
    }]}))
    return path


def inherited_environment() -> dict[str, str]:
    """This process's environment without the service's own settings."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("AWOOOP_") and k != "DATABASE_URL"
    }


@asynccontextmanager
async def server_process(env: dict[str, str]) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """Starts `python -m server` and waits until it serves; yields it and its stdout lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server",
        cwd=ROOT, env={**inherited_environment(), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            while not any(line.startswith("serving on") for line in lines):
                raw = await process.stdout.readline()
                assert raw, "server exited early:\n" + "".join(lines)
                lines.append(raw.decode())

        async def drain() -> None:
            assert process.stdout is not None
            async for raw in process.stdout:
                lines.append(raw.decode())

        drainer = asyncio.create_task(drain())
        yield process, lines
        await drainer
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def record_request(event_id: str) -> events_pb2.RecordAlertEventRequest:
    return events_pb2.RecordAlertEventRequest(project_id="ops", provider="sentry", event_id=event_id)


async def test_sigterm_finishes_calls_in_flight_refuses_new_ones_and_exits_zero(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {"DATABASE_URL": database, "AWOOOP_LISTEN": f"127.0.0.1:{port}",
           "AWOOOP_AUTH_FILE": str(key_file(tmp_path)), "AWOOOP_SHUTDOWN_GRACE": "10"}
    async with server_process(env) as (process, _):
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            await stub.RecordAlertEvent(record_request("warm-up"), metadata=metadata)
            # Hold the cursor lock so that the next write stays in flight.
            blocker = await asyncpg.connect(database)
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("SELECT * FROM event_cursor FOR UPDATE")
            in_flight = asyncio.ensure_future(
                stub.RecordAlertEvent(record_request("in-flight"), metadata=metadata)
            )
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert not in_flight.done()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as late_channel:
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await events_pb2_grpc.EventServiceStub(late_channel).RecordAlertEvent(
                        record_request("too-late"), metadata=metadata, timeout=2
                    )
                assert raised.value.code() in (
                    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED
                )
            await transaction.rollback()
            await blocker.close()
            response = await in_flight
            assert response.provider_event_id == "sentry:in-flight"
        assert await asyncio.wait_for(process.wait(), 15) == 0
    connection = await asyncpg.connect(database)
    try:
        stored = await connection.fetchval("SELECT count(*) FROM events")
    finally:
        await connection.close()
    assert stored == 2  # the warm-up and the call that was in flight; nothing of the late one


async def test_first_start_makes_a_dev_key_prints_its_token_and_the_token_writes(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {"DATABASE_URL": database, "AWOOOP_LISTEN": f"127.0.0.1:{port}",
           "AWOOOP_DATA_DIR": str(tmp_path / "data")}
    async with server_process(env) as (process, lines):
        token = (tmp_path / "data" / "dev-token").read_text().strip()
        output = "".join(lines)
        assert token in output and "grpcurl" in output
        key_data = (tmp_path / "data" / "dev-auth.json").read_text()
        assert token not in key_data  # only its hash is in the key file
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            response = await events_pb2_grpc.EventServiceStub(channel).RecordAlertEvent(
                record_request("dev"), metadata=(("authorization", f"Bearer {token}"),)
            )
        assert response.event_id
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
