"""WatchEvents fan-out: 1,000 subscribers, 20 events/s, against a bare grpc.aio server.

Both servers run as subprocesses so that their memory (RSS from /proc) is
measured apart from the clients, and both are driven by the same client code:
a writer calls RecordAlertEvent 20 times a second, 1,000 WatchEvents streams
(over 10 channels) receive every event, and each delivery's latency is taken
from the moment the writer issued the call to the moment a stream got it.

- "service": `python -m server` on a fresh database (DATABASE_URL's cluster, or
  a throwaway embedded PostgreSQL): commit, NOTIFY, the hub's read, fan-out.
- "bare": a grpc.aio server of the same generated EventService whose
  RecordAlertEvent puts one ready message on every stream's queue: the floor
  that gRPC and Python alone impose on this machine.

Bounded: DURATION seconds of writes, then at most DRAIN seconds to deliver.
Run: `make bench BENCH=watch` (or `python -m bench.bench_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from awooop.channel_events.v1 import common_pb2, events_pb2, events_pb2_grpc
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from server.auth import hash_token

SUBSCRIBERS = 1000
# A second, lighter pass: 1,000 streams saturate this 2-core machine (server
# and clients alike), so there latency is mostly queueing. 100 streams show
# what the path itself adds.
LIGHT_SUBSCRIBERS = 100
CHANNELS = 10
RATE = 20  # events per second
DURATION = 10.0  # seconds of writes
DRAIN = 20.0  # seconds allowed for the last deliveries
TOKEN = "bench-watch-token"
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- bare server


class BareEventService(events_pb2_grpc.EventServiceServicer):
    """Fans each recorded event out to every stream, nothing else."""

    def __init__(self) -> None:
        self._streams: set[asyncio.Queue[events_pb2.WatchEventsResponse]] = set()
        self._cursor = 0

    async def RecordAlertEvent(
        self, request: events_pb2.RecordAlertEventRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.RecordAlertEventResponse:
        self._cursor += 1
        cursor = f"{self._cursor:016x}"
        received_at = timestamp_pb2.Timestamp()
        received_at.GetCurrentTime()
        event = common_pb2.ChannelEvent(
            event_id=str(uuid.uuid4()),
            project_id=request.project_id,
            channel_type="alert",
            provider=request.provider,
            stage="firing",
            provider_event_id=f"{request.provider}:{request.event_id}",
            content_preview=request.title,
            content_redacted=request.title,
            redaction_version="v1",
            content_sha256="0" * 64,
            content_length=len(request.title),
            received_at=received_at,
            cursor=cursor,
        )
        message = events_pb2.WatchEventsResponse(event=event)
        for queue in self._streams:
            queue.put_nowait(message)
        return events_pb2.RecordAlertEventResponse(
            event_id=event.event_id, provider_event_id=event.provider_event_id, cursor=cursor
        )

    async def WatchEvents(
        self, request: events_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.WatchEventsResponse]:
        queue: asyncio.Queue[events_pb2.WatchEventsResponse] = asyncio.Queue()
        self._streams.add(queue)
        try:
            yield events_pb2.WatchEventsResponse(
                progress=events_pb2.Progress(cursor=f"{self._cursor:016x}")
            )
            while True:
                yield await queue.get()
        finally:
            self._streams.discard(queue)


async def serve_bare(port: int) -> None:
    server = grpc.aio.server()
    # Only WatchEvents is served: the baseline is a bare fan-out, nothing else.
    events_pb2_grpc.add_EventServiceServicer_to_server(BareEventService(), server)  # type: ignore[abstract]
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await stopping.wait()
    await server.stop(1.0)


# ---------------------------------------------------------------- measuring


@dataclass
class Figures:
    name: str
    subscribers: int
    deliveries: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    idle_rss: int = 0
    peak_rss: int = 0
    wall: float = 0.0
    # Server CPU seconds (user + system) from the first write to the last delivery.
    cpu: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.cpu / max(self.deliveries, 1) * 1e6

    @property
    def per_subscriber_kib(self) -> float:
        return (self.peak_rss - self.idle_rss) / self.subscribers / 1024


def rss(pid: int) -> int:
    """Resident set size of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until_serving(address: str, process: asyncio.subprocess.Process) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start serving")


async def drive(name: str, address: str, pid: int, subscribers: int) -> Figures:
    """Opens the streams, writes RATE events/s for DURATION s, collects latencies."""
    figures = Figures(name=name, subscribers=subscribers, idle_rss=rss(pid))
    figures.peak_rss = figures.idle_rss
    sent_at: dict[str, float] = {}
    total = int(RATE * DURATION)
    figures.expected = total * subscribers
    all_in = asyncio.Event()
    channels = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    opened = 0
    all_open = asyncio.Event()

    async def subscribe(channel: grpc.aio.Channel) -> None:
        nonlocal opened
        call = events_pb2_grpc.EventServiceStub(channel).WatchEvents(
            events_pb2.WatchEventsRequest(project_id="bench")
        )
        got = 0
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
            async for response in call:
                if not response.HasField("event"):
                    if got == 0 and response.progress.cursor and not all_open.is_set():
                        opened += 1
                        if opened == subscribers:
                            all_open.set()
                    continue
                now = time.perf_counter()
                figures.latencies.append(now - sent_at[response.event.provider_event_id])
                figures.deliveries += 1
                got += 1
                if figures.deliveries >= figures.expected:
                    all_in.set()

    async def sample_memory() -> None:
        while True:
            figures.peak_rss = max(figures.peak_rss, rss(pid))
            await asyncio.sleep(0.25)

    readers = [
        asyncio.create_task(subscribe(channels[i % CHANNELS])) for i in range(subscribers)
    ]
    sampler = asyncio.create_task(sample_memory())
    try:
        await asyncio.wait_for(all_open.wait(), 60)
        stub = events_pb2_grpc.EventServiceStub(channels[0])
        metadata = (("authorization", f"Bearer {TOKEN}"),)
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        writes = []
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / RATE - time.perf_counter()))
            event_id = f"bench-{i}"
            sent_at[f"alertmanager:{event_id}"] = time.perf_counter()
            writes.append(asyncio.ensure_future(stub.RecordAlertEvent(
                events_pb2.RecordAlertEventRequest(
                    project_id="bench", provider="alertmanager", event_id=event_id,
                    title=f"HighPodMemory {i}", severity="warning", namespace="bench",
                    labels={"alertname": "HighPodMemory", "pod": f"api-{i % 7}"},
                ),
                metadata=metadata,
            )))
        await asyncio.gather(*writes)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(all_in.wait(), DRAIN)
        figures.wall = time.perf_counter() - started
        figures.cpu = cpu_seconds(pid) - cpu_before
    finally:
        sampler.cancel()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, sampler, return_exceptions=True)
        for channel in channels:
            await channel.close()
    return figures


# ---------------------------------------------------------------- the two servers


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def fresh_database(admin_dsn: str) -> str:
    name = f"bench_watch_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


async def run_subprocess(
    name: str, argv: list[str], env: dict[str, str], port: int, subscribers: int
) -> Figures:
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        address = f"127.0.0.1:{port}"
        await wait_until_serving(address, process)
        await asyncio.sleep(1.0)  # let start-up allocations settle before the idle RSS
        return await drive(name, address, process.pid, subscribers)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


async def run_all(admin_dsn: str, workdir: Path) -> list[Figures]:
    key_file = workdir / "keys.json"
    key_file.write_text(json.dumps({"keys": [{
        "operator_id": "bench",
        "token_sha256": hash_token(TOKEN),
        "roles": ["ingest", "operator", "reader"],
        "projects": ["*"],
    }]}))
    dsn = await fresh_database(admin_dsn)
    results = []
    for subscribers in (SUBSCRIBERS, LIGHT_SUBSCRIBERS):
        port = free_port()
        service_env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "AWOOOP_LISTEN": f"127.0.0.1:{port}",
            "AWOOOP_AUTH_FILE": str(key_file),
            "AWOOOP_DATA_DIR": str(workdir / "data"),
        }
        results.append(await run_subprocess(
            "service", [sys.executable, "-m", "server"], service_env, port, subscribers
        ))
        port = free_port()
        results.append(await run_subprocess(
            "bare grpc.aio",
            [sys.executable, "-m", "bench.bench_watch", "bare", str(port)],
            dict(os.environ),
            port,
            subscribers,
        ))
    return results


def report(results: list[Figures]) -> list[str]:
    """The figures as text lines (printed by main, and put in RESULTS.md by `make bench`)."""
    lines = []
    for service, bare in zip(results[::2], results[1::2], strict=True):
        n = service.subscribers
        lines.append(f"{n} subscribers, {RATE} events/s for {DURATION:.0f} s ({RATE * n} deliveries/s)")
        lines.append(f"  {'server':<14} {'delivered':>13} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                     f"{'idle MiB':>9} {'peak MiB':>9} {'KiB/sub':>8} {'CPU us/deliv':>12}")
        for f in (service, bare):
            lines.append(
                f"  {f.name:<14} {f.deliveries:>6}/{f.expected:<6} "
                f"{f.percentile(50) * 1000:>8.1f} {f.percentile(99) * 1000:>8.1f} "
                f"{max(f.latencies, default=float('nan')) * 1000:>8.1f} "
                f"{f.idle_rss / 2**20:>9.1f} {f.peak_rss / 2**20:>9.1f} "
                f"{f.per_subscriber_kib:>8.1f} {f.cpu_us_per_delivery:>12.1f}")
        lines.append(
            f"  ratio service/bare: p50 x{service.percentile(50) / bare.percentile(50):.1f}, "
            f"p99 x{service.percentile(99) / bare.percentile(99):.1f}, "
            f"memory per subscriber "
            f"x{service.per_subscriber_kib / max(bare.per_subscriber_kib, 0.1):.1f}, "
            f"server CPU per delivery "
            f"x{service.cpu_us_per_delivery / bare.cpu_us_per_delivery:.1f}")
    lines.append(
        "Latency: from the writer issuing RecordAlertEvent to a stream receiving the event "
        "(the service's includes the write, commit, NOTIFY and the hub's read). "
        "PostgreSQL's CPU is not in the service's CPU figure. Both servers share 2 cores "
        "with their clients: at 1,000 streams latency is mostly queueing behind them.")
    return lines


def main() -> None:
    from bench.cluster import cluster

    with cluster() as postgres:
        print("\n".join(report(asyncio.run(run_all(postgres.admin_dsn, postgres.workdir)))))


if __name__ == "__main__":
    if sys.argv[1:2] == ["bare"]:
        asyncio.run(serve_bare(int(sys.argv[2])))
    else:
        main()
