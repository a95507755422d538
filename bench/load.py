"""A load client of several processes: C calls always in flight for S seconds.

One process cannot load a server on this machine: a single asyncio client
of asyncpg or grpc.aio spends more per call than some of the servers it
measures (bench/RESULTS.md, "Through the service"), so it measured itself.
Here N worker processes (spawned, not forked: gRPC's threads do not survive a
fork) each run an asyncio loop and their share of the C calls in flight, each
call followed at once by the next. The workers stay up between measurements
and keep their channels and pools, so a table of many cells pays for start-up
once.

A measurement: every worker starts its calls at once, runs WARMUP seconds
unmeasured (connections, caches, the servers' pools), then counts the calls
that complete within the next S seconds (one clock for all:
CLOCK_MONOTONIC is system-wide) and keeps each one's latency; the parent
merges the samples and takes the percentiles over all of them.

What a call is, is named, not pickled: bench/calls.py makes it in the worker
from a `Target` (the call's name, the server addresses or the DSN, parameters).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

# Unmeasured seconds at the start of each measurement.
WARMUP = float(os.environ.get("BENCH_WARMUP", "0.5"))


@dataclass(frozen=True)
class Target:
    """What the workers call: `call` from bench/calls.py, against `addresses`
    (gRPC servers, calls spread over them in turn) or `dsn` (raw SQL)."""

    call: str
    addresses: tuple[str, ...] = ()
    dsn: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str, default: str = "") -> str:
        return dict(self.params).get(name, default)


@dataclass
class LoadResult:
    seconds: float
    calls: int = 0
    # What the calls did: events written (ingest) or 1 a call (reads).
    events: int = 0
    errors: int = 0
    # Seconds, one a completed call.
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    def merge(self, other: LoadResult) -> None:
        self.calls += other.calls
        self.events += other.events
        self.errors += other.errors
        self.latencies.extend(other.latencies)
        self.first_error = self.first_error or other.first_error


def shares(in_flight: int, workers: int) -> list[int]:
    """`in_flight` calls split as evenly as can be over `workers`."""
    return [in_flight // workers + (1 if i < in_flight % workers else 0) for i in range(workers)]


# ---------------------------------------------------------------- the worker


async def _measure(
    caller_for: Any, target: Target, share: int, offset: int, start_at: float, end_at: float
) -> LoadResult:
    result = LoadResult(seconds=end_at - start_at)
    if share == 0:
        return result
    call = await caller_for(target)

    async def loop(index: int) -> None:
        while (now := time.monotonic()) < end_at:
            try:
                events = await call(index)
            except Exception as error:  # counted and shown: a bench must not hide failures
                result.errors += 1
                result.first_error = result.first_error or f"{type(error).__name__}: {error}"[:300]
                await asyncio.sleep(0.01)
                continue
            done = time.monotonic()
            # Every call that completes in the window counts (throughput in a
            # steady state), however long ago it started: calls longer than
            # the warm-up would otherwise be undercounted.
            if start_at <= done <= end_at:
                result.calls += 1
                result.events += events
                result.latencies.append(done - now)

    await asyncio.gather(*(loop(offset + i) for i in range(share)))
    return result


async def _serve(connection: Connection) -> None:
    from bench.calls import Callers

    callers = Callers()
    try:
        while True:
            message = connection.recv()  # blocks the loop: nothing runs between measurements
            if message[0] == "stop":
                return
            _, target, share, offset, start_at, end_at = message
            connection.send(await _measure(callers.get, target, share, offset, start_at, end_at))
    finally:
        await callers.close()


def _worker_main(connection: Connection, cpus: set[int] | None) -> None:
    # First, before gRPC or asyncpg start threads: they inherit it.
    if cpus:
        os.sched_setaffinity(0, cpus)
    asyncio.run(_serve(connection))


# ---------------------------------------------------------------- the parent


class LoadClient:
    """N worker processes, kept between measurements. Use as a context manager."""

    def __init__(self, processes: int, cpus: set[int] | None = None) -> None:
        self.processes = processes
        self.cpus = cpus
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._workers: list[Any] = []
        for _ in range(processes):
            parent_end, child_end = context.Pipe()
            worker = context.Process(target=_worker_main, args=(child_end, cpus), daemon=True)
            worker.start()
            self._pipes.append(parent_end)
            self._workers.append(worker)

    def measure(self, target: Target, in_flight: int, seconds: float) -> LoadResult:
        """`in_flight` calls of `target` always pending, over `seconds` (after WARMUP)."""
        # Far enough ahead that every worker has its message before it starts.
        start_at = time.monotonic() + WARMUP + 0.2
        end_at = start_at + seconds
        offset = 0
        for pipe, share in zip(self._pipes, shares(in_flight, self.processes), strict=True):
            pipe.send(("run", target, share, offset, start_at, end_at))
            offset += share
        total = LoadResult(seconds=seconds)
        for pipe in self._pipes:
            total.merge(pipe.recv())
        return total

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
        for worker in self._workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()

    def __enter__(self) -> LoadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def load_client(processes: int, cpus: set[int] | None) -> Iterator[LoadClient]:
    client = LoadClient(processes, cpus)
    try:
        yield client
    finally:
        client.close()
