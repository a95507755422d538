"""WatchEvents across server restarts and across several server processes
sharing one database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import grpc
from awooop.channel_events.v1 import events_pb2, events_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.auth import hash_token
from tests.watching import Subscription
from tests.harness import Service, start_service, stop_service

ROOT = Path(__file__).resolve().parents[2]


async def _record_through(service: Service, count: int, tag: str) -> list[str]:
    return [(await service.record(title=f"{tag}{i}")).event_id for i in range(count)]


async def test_resuming_on_a_restarted_server_misses_and_repeats_nothing(database: str) -> None:
    first = await start_service(database)
    before = await _record_through(first, 3, "before")
    watcher = await Subscription(first.channel, after_cursor="0" * 16).open()
    during = await _record_through(first, 3, "during")
    await watcher.until(lambda r: len(r.events) >= 6)
    await first.app.stop(grace=5.0)
    assert await watcher.until_ended() == grpc.StatusCode.UNAVAILABLE
    await stop_service(first)

    second = await start_service(database)
    try:
        after = await _record_through(second, 3, "after")
        resumed = await Subscription(
            second.channel, after_cursor=watcher.received.last_cursor
        ).open()
        more = await _record_through(second, 2, "more")
        await resumed.until(lambda r: len(r.events) >= 5)
        await asyncio.sleep(0.2)
        assert watcher.received.event_ids + resumed.received.event_ids == (
            before + during + after + more
        )
        await resumed.cancel()
    finally:
        await stop_service(second)


async def test_events_recorded_through_one_server_reach_subscribers_of_another(
    database: str,
) -> None:
    one = await start_service(database, watch_progress_interval=0.2)
    two = await start_service(database, watch_progress_interval=0.2)
    try:
        watchers = [await Subscription(s.channel).open() for s in (one, two, one, two)]
        written = await asyncio.gather(
            *(_record_through(s, 50, f"via{n}-") for n, s in enumerate((one, two)))
        )
        total = sum(len(w) for w in written)
        for watcher in watchers:
            await watcher.until(lambda r: len(r.events) >= total, timeout=30)
        await asyncio.sleep(0.3)
        reference = watchers[0].received.event_ids
        assert sorted(reference) == sorted(written[0] + written[1])
        for watcher in watchers:
            assert watcher.received.event_ids == reference
            assert watcher.received.cursors == sorted(watcher.received.cursors)
            await watcher.cancel()
    finally:
        await stop_service(one)
        await stop_service(two)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_until_serving(channel: grpc.aio.Channel, process: asyncio.subprocess.Process) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for _ in range(150):
        if process.returncode is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.aio.AioRpcError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("server did not start serving")


async def test_a_python_m_server_process_and_an_in_process_server_see_each_others_events(
    service: Service, tmp_path: Path
) -> None:
    token = "subprocess-all-roles"
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"keys": [{
        "operator_id": "test", "token_sha256": hash_token(token),
        "roles": ["ingest", "operator", "reader"], "projects": ["*"],
    }]}))
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": service.dsn,
        "AWOOOP_LISTEN": f"127.0.0.1:{port}",
        "AWOOOP_AUTH_FILE": str(key_file),
        "AWOOOP_WATCH_PROGRESS_INTERVAL": "0.2",
        "AWOOOP_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        await _wait_until_serving(channel, process)
        there = await Subscription(channel).open()
        here = await Subscription(service.channel).open()
        mine = await _record_through(service, 5, "here")
        ingest = (("authorization", f"Bearer {token}"),)
        remote = events_pb2.RecordAlertEventRequest(
            project_id="alpha", provider="sentry", event_id="remote-1", title="remote"
        )
        stub = events_pb2_grpc.EventServiceStub(channel)
        theirs = (await stub.RecordAlertEvent(remote, metadata=ingest)).event_id
        for watcher in (there, here):
            await watcher.until(lambda r: len(r.events) >= 6, timeout=15)
            assert watcher.received.event_ids == mine + [theirs]

        process.send_signal(signal.SIGTERM)
        assert await there.until_ended(timeout=15) == grpc.StatusCode.UNAVAILABLE
        assert await asyncio.wait_for(process.wait(), 20) == 0
        await here.cancel()
    finally:
        await channel.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
        if process.stderr is not None:
            await process.stderr.read()
