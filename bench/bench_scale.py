"""How each read RPC's latency grows with the history: 1,000,000 events over 10,000.

Two databases on the same PostgreSQL, each with a realistic history
(bench/history.py, loaded set-based), one service on each (pinned to the same
CPU), the same requests against both at 1 call in flight (latency, not
throughput), the two sizes back to back per RPC. A ratio near 1: the cost
follows the window asked for, not the size of the table.

Run: `make bench BENCH=scale` (BENCH_LARGE_HISTORY to change the large size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.bench_reads import read_target, work_item_id
from bench.calls import READS
from bench.load import LoadResult
from bench.report import Check, Part, fmt
from bench.run import Run, standalone
from bench.servers import running_servers

SMALL = 10_000
LARGE = int(os.environ.get("BENCH_LARGE_HISTORY", "1000000"))
TARGET_RATIO = 1.3
# Latency needs fewer seconds than throughput: at 1 in flight each call is a sample.
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "2"))


def p50(result: LoadResult) -> float:
    return result.p50_ms


@dataclass
class ScaleRow:
    name: str
    small: LoadResult
    large: LoadResult

    @property
    def ratio(self) -> float:
        return self.large.p50_ms / self.small.p50_ms


async def measure_scale(run: Run) -> list[ScaleRow]:
    small_dsn = await run.cluster.history(SMALL)
    large_dsn = await run.cluster.history(LARGE)
    cpu = run.pinning.servers[0]
    workdir = run.cluster.workdir
    async with running_servers(small_dsn, workdir / "small", 1, cpus=[cpu]) as [small], \
            running_servers(large_dsn, workdir / "large", 1, cpus=[cpu]) as [large]:
        items = {small.address: await work_item_id(small.address),
                 large.address: await work_item_id(large.address)}
        rows = []
        for name in READS:
            at_small, at_large = await run.side_by_side(
                [(read_target(name, s.address, items[s.address]), 1) for s in (small, large)],
                SECONDS, by=p50,
            )
            rows.append(ScaleRow(name, at_small, at_large))
    return rows


def scale_part(rows: list[ScaleRow], load_seconds: dict[int, float]) -> Part:
    part = Part(f"Scale: latency at {LARGE:,} events over {SMALL:,} (1 in flight)")
    loaded = load_seconds.get(LARGE)
    part.lines = [
        f"| RPC | p50 ms @{SMALL:,} | p99 ms | p50 ms @{LARGE:,} | p99 ms | ratio (p50) |",
        "|---|---:|---:|---:|---:|---:|",
        *(f"| {r.name} | {fmt(r.small.p50_ms)} | {fmt(r.small.p99_ms)} | "
          f"{fmt(r.large.p50_ms)} | {fmt(r.large.p99_ms)} | {r.ratio:.2f} |" for r in rows),
        "",
        f"The {LARGE:,}-event history loaded in {loaded:.0f} s (bench/history.py)."
        if loaded else "",
    ]
    part.checks = [
        Check(f"{r.name}: latency at {LARGE:,} / {SMALL:,} ≤ {TARGET_RATIO}", f"{r.ratio:.2f}",
              r.ratio <= TARGET_RATIO)
        for r in rows
    ]
    return part


async def _standalone(run: Run) -> list[Part]:
    return [scale_part(await measure_scale(run), run.cluster.load_seconds)]


def main() -> None:
    standalone(_standalone)
