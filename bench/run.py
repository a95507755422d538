"""What every part of `make bench` shares: one PostgreSQL, one pinning, one
load client, and the length of a measurement."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from dataclasses import dataclass

from bench.cluster import Cluster, cluster
from bench.load import LoadClient, LoadResult, Target
from bench.pinning import Pinning, pinning
from bench.report import Part

# Seconds of each measured cell (after the load client's warm-up).
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
# Rounds of each side-by-side comparison; each cell is its median round.
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
# Processes of the load client.
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "2"))


def throughput(result: LoadResult) -> float:
    return result.calls_per_s


def median(results: Sequence[LoadResult], by: Callable[[LoadResult], float]) -> LoadResult:
    """The round whose figure `by` is the median (its latencies come with it)."""
    return sorted(results, key=by)[len(results) // 2]


@dataclass
class Run:
    cluster: Cluster
    pinning: Pinning
    client: LoadClient
    seconds: float = SECONDS

    async def measure(self, target: Target, in_flight: int, seconds: float | None = None) -> LoadResult:
        """One cell, off this process's loop (the workers do the calling)."""
        return await asyncio.to_thread(
            self.client.measure, target, in_flight, seconds or self.seconds
        )

    async def side_by_side(
        self,
        cells: Sequence[tuple[Target, int]],
        seconds: float | None = None,
        by: Callable[[LoadResult], float] = throughput,
    ) -> list[LoadResult]:
        """Each cell (a target at a concurrency) measured REPEATS times, the
        cells taking turns in every round so that a burst of machine noise
        hits them alike; per cell, its median round by `by`."""
        rounds = [[await self.measure(t, c, seconds) for t, c in cells] for _ in range(REPEATS)]
        return [median([r[i] for r in rounds], by) for i in range(len(cells))]


def standalone(part: Callable[[Run], Coroutine[Any, Any, list[Part]]]) -> list[Part]:
    """Runs one part on its own (`make bench BENCH=<part>`) and prints it."""
    pins = pinning()
    with cluster() as pg, LoadClient(CLIENTS, pins.clients) as client:
        parts: list[Part] = asyncio.run(part(Run(pg, pins, client)))
    print(f"{os.cpu_count()} cores; {pins.describe()}; {CLIENTS} client processes, "
          f"{SECONDS:g} s a cell")
    for p in parts:
        print(p.markdown())
        for check in p.checks:
            print(check.row)
    return parts
