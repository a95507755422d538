"""Real `python -m server` processes for benchmarks, on one database.

Shared by the benches that need servers apart from their clients: each server
is a subprocess with its own CPU and memory, the same DATABASE_URL and one key
file. BENCH_SERVER_ROOT runs the servers from another checkout (e.g. a
`git worktree` of an earlier commit) to measure a before/after in one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.auth import hash_token

TOKEN = "bench-token"
METADATA = (("authorization", f"Bearer {TOKEN}"),)
ROOT = Path(os.environ.get("BENCH_SERVER_ROOT") or Path(__file__).resolve().parents[1])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


async def fresh_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


def write_key_file(workdir: Path) -> Path:
    key_file = workdir / "keys.json"
    key_file.write_text(json.dumps({"keys": [{
        "operator_id": "bench",
        "token_sha256": hash_token(TOKEN),
        "roles": ["ingest", "operator", "reader"],
        "projects": ["*"],
    }]}))
    return key_file


async def wait_until_serving(address: str, process: asyncio.subprocess.Process) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(600):
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start serving")


@dataclass(frozen=True)
class Server:
    address: str
    pid: int


@contextlib.asynccontextmanager
async def running_servers(
    dsn: str,
    workdir: Path,
    count: int,
    extra_env: dict[str, str] | None = None,
    cpus: Sequence[set[int] | None] = (),
    module: str = "server",
    root: Path = ROOT,
) -> AsyncIterator[list[Server]]:
    """`count` servers on `dsn`, started one after the other (migrations).

    `cpus[i]`: the CPUs server i may run on (taskset, so that every thread
    it starts is pinned too); `module`: what `python -m` runs (the baseline
    handler is bench.baseline); `root`: the checkout it runs from (ROOT
    unless a bench compares two checkouts in one run)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = write_key_file(workdir)
    processes: list[asyncio.subprocess.Process] = []
    servers: list[Server] = []
    try:
        for index in range(count):
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": dsn,
                "AWOOOP_LISTEN": f"127.0.0.1:{port}",
                "AWOOOP_AUTH_FILE": str(key_file),
                "AWOOOP_DATA_DIR": str(workdir / f"data-{index}"),
                "PYTHONPATH": str(root),
                **(extra_env or {}),
            }
            # The HTTP front door, where the checkout has one, on a free port too.
            env.setdefault("AWOOOP_HTTP_LISTEN", f"127.0.0.1:{free_port()}")
            pinned = cpus[index] if index < len(cpus) else None
            taskset = ["taskset", "-c", ",".join(map(str, sorted(pinned)))] if pinned else []
            process = await asyncio.create_subprocess_exec(
                *taskset, sys.executable, "-m", module, cwd=root, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            processes.append(process)
            address = f"127.0.0.1:{port}"
            await wait_until_serving(address, process)
            servers.append(Server(address, process.pid))
        yield servers
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
