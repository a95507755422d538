"""The server as an operator runs it: `python -m server` in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.auth import hash_token
from server.domain.providers import MAX_BODY_BYTES
from server.domain.validation import MAX_FIELD
from tests.harness import PostgresForTests, error_details, set_database_open

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
    """This process's environment without the service's own settings (traces' included)."""
    return {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AWOOOP_", "OTEL_")) and k != "DATABASE_URL"
    }


@asynccontextmanager
async def server_process(env: dict[str, str]) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """Starts `python -m server` and waits until it serves; yields it and its stdout lines.
    Its HTTP server gets a free port unless `env` names one."""
    env = {"AWOOOP_HTTP_LISTEN": f"127.0.0.1:{free_port()}", **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server",
        cwd=ROOT, env={**inherited_environment(), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            while not any("serving on" in line for line in lines):
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


async def test_sigterm_finishes_http_requests_in_flight_ends_sse_and_exits_zero(
    database: str, tmp_path: Path
) -> None:
    port, http_port = free_port(), free_port()
    env = {**server_environment(database, tmp_path, port),
           "AWOOOP_HTTP_LISTEN": f"127.0.0.1:{http_port}", "AWOOOP_SHUTDOWN_GRACE": "10"}
    body = json.dumps({"alerts": [{"status": "firing", "labels": {"alertname": "A"},
                                   "startsAt": "2026-12-01T00:00:00Z"}]}).encode()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with server_process(env) as (process, _):
        base = f"http://127.0.0.1:{http_port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client, \
                client.stream("GET", "/events/watch") as watch:
            assert (await client.get("/readyz")).status_code == 200
            # Hold the cursor lock so that the webhook stays in flight.
            blocker = await asyncpg.connect(database)
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("SELECT * FROM event_cursor FOR UPDATE")
            in_flight = asyncio.ensure_future(
                client.post("/webhooks/alertmanager/ops", content=body, headers=auth)
            )
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            # The SSE stream ends with an error frame telling the subscriber to resume.
            frames = b""
            async with asyncio.timeout(10):
                async for chunk in watch.aiter_bytes():
                    frames += chunk
            assert b"event: error" in frames and b"SHUTTING_DOWN" in frames
            assert not in_flight.done()
            await transaction.rollback()
            await blocker.close()
            response = await in_flight
            assert response.status_code == 200, response.text
        with pytest.raises(httpx.TransportError):
            async with httpx.AsyncClient(timeout=2) as late:
                await late.post(f"{base}/webhooks/alertmanager/ops", content=body, headers=auth)
        assert await asyncio.wait_for(process.wait(), 15) == 0


SECRET_IN_LABEL = "ghp_0123456789abcdefghijABCDEFGHIJ012345"


async def test_every_output_line_is_json_with_the_call_fields_and_no_secret(
    database: str, tmp_path: Path
) -> None:
    port, http_port = free_port(), free_port()
    env = {**server_environment(database, tmp_path, port),
           "AWOOOP_HTTP_LISTEN": f"127.0.0.1:{http_port}"}
    wrong_token = "wrong-token-0123456789abcdef"
    async with server_process(env) as (process, lines):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            await stub.RecordAlertEvent(
                events_pb2.RecordAlertEventRequest(
                    project_id="ops", provider="alertmanager", event_id="secret-label",
                    labels={"github_token": SECRET_IN_LABEL, "note": f"token={SECRET_IN_LABEL}"},
                ),
                metadata=(("authorization", f"Bearer {TOKEN}"), ("x-request-id", "req-log-1")),
            )
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.RecordAlertEvent(
                    record_request("refused"),
                    metadata=(("authorization", f"Bearer {wrong_token}"), ("x-request-id", "req-log-2")),
                )
            # A token sent as a request id: a valid id, kept for the caller, not logged.
            await stub.RecordAlertEvent(
                record_request("token-as-id"),
                metadata=(("authorization", f"Bearer {TOKEN}"), ("x-request-id", SECRET_IN_LABEL)),
            )
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(f"http://127.0.0.1:{http_port}/events/recent",
                             headers={"x-request-id": "req-log-3"})
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    await asyncio.sleep(0.1)
    records = [json.loads(line) for line in lines if line.strip()]
    assert records, "no output"
    for record in records:
        assert {"ts", "level", "logger", "msg"} <= set(record), record
    output = "".join(lines)
    for secret in (SECRET_IN_LABEL, TOKEN, wrong_token):
        assert secret not in output
    calls = {r["request_id"]: r for r in records if r["msg"] == "call" and "request_id" in r}
    written = calls["req-log-1"]
    assert written["kind"] == "grpc" and written["status"] == "OK"
    assert written["method"] == "/awooop.channel_events.v1.EventService/RecordAlertEvent"
    assert written["operator_id"] == "ops" and written["project_id"] == "ops"
    assert written["duration_ms"] >= 0 and written["peer"]
    assert calls["req-log-2"]["status"] == "UNAUTHENTICATED"
    assert calls["req-log-3"]["kind"] == "http" and calls["req-log-3"]["status"] == "200"
    assert calls["req-log-3"]["method"] == "GET /events/recent"


async def test_with_otel_variables_set_each_call_and_query_has_a_span(
    database: str, tmp_path: Path
) -> None:
    port, http_port = free_port(), free_port()
    env = {**server_environment(database, tmp_path, port),
           "AWOOOP_HTTP_LISTEN": f"127.0.0.1:{http_port}", "OTEL_TRACES_EXPORTER": "console"}
    async with server_process(env) as (process, lines):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await events_pb2_grpc.EventServiceStub(channel).RecordAlertEvent(
                record_request("traced"), metadata=(("authorization", f"Bearer {TOKEN}"),)
            )
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(f"http://127.0.0.1:{http_port}/events/recent")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    await asyncio.sleep(0.1)
    output = "".join(lines)
    assert '"name": "/awooop.channel_events.v1.EventService/RecordAlertEvent"' in output
    assert '"db.system": "postgresql"' in output or '"db.system.name": "postgresql"' in output
    assert '"http.method": "GET"' in output or '"http.request.method": "GET"' in output
    assert TOKEN not in output


async def test_without_otel_variables_nothing_is_traced(database: str, tmp_path: Path) -> None:
    port = free_port()
    async with server_process(server_environment(database, tmp_path, port)) as (process, lines):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await events_pb2_grpc.EventServiceStub(channel).RecordAlertEvent(
                record_request("untraced"), metadata=(("authorization", f"Bearer {TOKEN}"),)
            )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    assert "trace_id" not in "".join(lines)


def server_environment(database: str, tmp_path: Path, port: int) -> dict[str, str]:
    return {"DATABASE_URL": database, "AWOOOP_LISTEN": f"127.0.0.1:{port}",
            "AWOOOP_AUTH_FILE": str(key_file(tmp_path))}


async def test_a_second_server_on_a_taken_address_exits_non_zero_saying_why(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = server_environment(database, tmp_path, port)
    async with server_process(env) as (first, _):
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server",
            cwd=ROOT, env={**inherited_environment(), **env},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 2
        assert f"cannot listen on 127.0.0.1:{port}" in output.decode()
        assert "serving on" not in output.decode()
        first.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(first.wait(), 15) == 0


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


async def slowest_health_check(channel: grpc.aio.Channel, stop: asyncio.Event) -> float:
    """Seconds taken by the slowest health check made until `stop` is set."""
    stub = health_pb2_grpc.HealthStub(channel)
    slowest = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        slowest = max(slowest, loop.time() - started)
        await asyncio.sleep(0.005)
    return slowest


def wide_body(shared_text: str, alerts: int) -> bytes:
    """An Alertmanager body of `alerts` tiny alerts and one big shared field,
    as close to the 1 MiB limit as it goes."""
    doc = {
        "version": "4", "status": "firing", "commonAnnotations": {"description": ""},
        "alerts": [
            {"status": "firing", "labels": {"alertname": f"A{i}"},
             "startsAt": "2026-12-01T00:00:00Z", "fingerprint": f"fp{i}"}
            for i in range(alerts)
        ],
    }
    room = MAX_BODY_BYTES - len(json.dumps(doc).encode())
    # Characters JSON escapes (a tab is \t) take more than one byte each.
    encoded_per_char = (len(json.dumps(shared_text).encode()) - 2) / len(shared_text)
    chars = int(room / encoded_per_char)
    doc["commonAnnotations"]["description"] = (shared_text * (chars // len(shared_text) + 1))[:chars]
    body = json.dumps(doc).encode()
    assert MAX_BODY_BYTES - 16 <= len(body) <= MAX_BODY_BYTES
    return body


# Inputs that once made a redaction rule backtrack quadratically, each at the
# largest size a request allows (a 1 MiB body's shared field, a 64 KiB title).
BACKTRACKING = {
    "spaces after 'secret access key'": "secret access key" + " " * 40_000 + "x",
    "tabs after 'aws_secret_key'": "aws_secret_key" + "\t" * 40_000,
}


@pytest.mark.timeout(180)
async def test_heavy_requests_finish_in_time_and_never_hold_up_a_health_check(
    database: str, tmp_path: Path
) -> None:
    port = free_port()
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    async with server_process(server_environment(database, tmp_path, port)) as (process, _):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = events_pb2_grpc.EventServiceStub(channel)
            await stub.RecordAlertEvent(record_request("warm-up"), metadata=metadata)
            loop = asyncio.get_running_loop()

            async def timed(call: Any) -> tuple[Any, float, float]:
                stop = asyncio.Event()
                prober = asyncio.create_task(slowest_health_check(channel, stop))
                await asyncio.sleep(0.05)
                started = loop.time()
                response = await call
                took = loop.time() - started
                stop.set()
                return response, took, await prober

            wide = wide_body("word ", 200)
            response, took, health = await timed(stub.IngestProviderPayload(
                events_pb2.IngestProviderPayloadRequest(
                    project_id="ops", provider="alertmanager", body=wide
                ), metadata=metadata,
            ))
            assert len(response.events) == 200
            assert took < 2.0, f"200 alerts and a 1 MiB shared field took {took:.2f}s"
            assert health < 0.1, f"a health check waited {health * 1000:.0f} ms"
            assert peak_rss_mib(process.pid) < 200

            for name, text in BACKTRACKING.items():
                for call in (
                    stub.IngestProviderPayload(events_pb2.IngestProviderPayloadRequest(
                        project_id="ops", provider="alertmanager", body=wide_body(text, 1)
                    ), metadata=metadata),
                    stub.RecordAlertEvent(events_pb2.RecordAlertEventRequest(
                        project_id="ops", provider="sentry", event_id=name,
                        title=text[:MAX_FIELD], annotations={"note": text[:MAX_FIELD]},
                    ), metadata=metadata),
                ):
                    _, took, health = await timed(call)
                    assert took < 1.0, f"{name}: {took:.2f}s"
                    assert health < 0.1, f"{name}: a health check waited {health * 1000:.0f} ms"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0


async def health_status(channel: grpc.aio.Channel, service: str = "") -> int:
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=2
    )
    return int(response.status)


async def until_health(channel: grpc.aio.Channel, status: int, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with contextlib.suppress(grpc.aio.AioRpcError):
                if await health_status(channel) == status:
                    return
            await asyncio.sleep(0.2)


@pytest.mark.timeout(180)
async def test_a_server_started_before_its_database_listens_and_serves_when_it_arrives(
    database: str, postgres: PostgresForTests, tmp_path: Path
) -> None:
    port = free_port()
    env = {**server_environment(database, tmp_path, port), "AWOOOP_HEALTH_PROBE_INTERVAL": "0.3"}
    await set_database_open(postgres, database, False)
    log = (tmp_path / "server.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", cwd=ROOT, env={**inherited_environment(), **env},
        stdout=log, stderr=asyncio.subprocess.STDOUT,
    )
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            # Listening at once, and saying it cannot serve yet.
            await until_health(channel, health_pb2.HealthCheckResponse.NOT_SERVING)
            assert await health_status(channel, "awooop.channel_events.v1.EventService") == (
                health_pb2.HealthCheckResponse.NOT_SERVING
            )
            stub = events_pb2_grpc.EventServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await stub.RecordAlertEvent(record_request("early"), metadata=metadata, timeout=5)
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            _, info = error_details(raised.value)
            assert info is not None and info.reason == "NOT_READY"
            assert info.metadata["retry_after_seconds"] == "1"

            await set_database_open(postgres, database, True)
            await until_health(channel, health_pb2.HealthCheckResponse.SERVING)
            assert (await stub.RecordAlertEvent(record_request("on-time"), metadata=metadata)).event_id

            # Health follows a later outage, and the recovery.
            await set_database_open(postgres, database, False)
            await until_health(channel, health_pb2.HealthCheckResponse.NOT_SERVING, timeout=15)
            await set_database_open(postgres, database, True)
            await until_health(channel, health_pb2.HealthCheckResponse.SERVING, timeout=15)
            assert (await stub.RecordAlertEvent(record_request("after"), metadata=metadata)).event_id
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
    finally:
        await set_database_open(postgres, database, True)
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
