"""`make bench`: every figure of issue 10 in one run, one table, into bench/RESULTS.md.

One PostgreSQL, one pinning, one load client for all of it, in this order:
the read table (service and service-on-uvloop against the baseline handler),
the scale table (1,000,000 events over 10,000), the partitions table (the
reads over 90 days of week partitions against one plain table, issue 13's
1.3 ×: bench/bench_partitions.py), the ingest table (with
RecordAlertEvent on uvloop at 16 in flight), the plans (bench/PLANS.md) and
the watch figures (bench/bench_watch.py, as it prints them). Then the targets,
each met or not, and the whole written between the markers in RESULTS.md.

About 20 minutes on this machine at the defaults (BENCH_SECONDS=3,
BENCH_REPEATS=3); BENCH_REPEATS=1 makes a quick, rougher run.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import bench_watch
from bench.bench_ingest import IngestFigures, ingest_part, measure_ingest
from bench.bench_partitions import measure_partitions, partitions_part
from bench.bench_plans import write_plans
from bench.bench_reads import ReadRow, measure_reads, read_part
from bench.bench_scale import SECONDS as SCALE_SECONDS
from bench.bench_scale import measure_scale, scale_part
from bench.report import Part, fmt, targets_table, write_results
from bench.load import WARMUP
from bench.run import CLIENTS, REPEATS, Run, standalone

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def commit() -> str:
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in _git("status", "--porcelain").splitlines()
               if line[3:].startswith(("server/", "bench/")) and line[3:].endswith(".py")]
    return head + (" + uncommitted changes" if changed else "")


def uvloop_part(reads: list[ReadRow], ingest: IngestFigures) -> Part:
    part = Part("Event loop: the service on asyncio and on uvloop (AWOOOP_EVENT_LOOP)")
    part.lines = [
        "| call | asyncio QPS | p50 ms | uvloop QPS | p50 ms | uvloop / asyncio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    gains = []
    for row in reads:
        if row.uvloop is None:
            continue
        gain = row.uvloop.calls_per_s / row.service.calls_per_s
        gains.append(gain)
        part.lines.append(
            f"| {row.name} | {fmt(row.service.calls_per_s)} | {fmt(row.service.p50_ms)} | "
            f"{fmt(row.uvloop.calls_per_s)} | {fmt(row.uvloop.p50_ms)} | {gain:.2f} |")
    if ingest.uvloop is not None and ingest.asyncio_beside_uvloop is not None:
        a, u = ingest.asyncio_beside_uvloop, ingest.uvloop
        part.lines.append(
            f"| RecordAlertEvent at 16 in flight (events/s) | {fmt(a.events_per_s)} | "
            f"{fmt(a.p50_ms)} | {fmt(u.events_per_s)} | {fmt(u.p50_ms)} | "
            f"{u.events_per_s / a.events_per_s:.2f} |")
    if gains:
        mean = math.exp(sum(math.log(g) for g in gains) / len(gains))
        part.lines += ["", f"Reads, geometric mean of uvloop / asyncio: {mean:.2f}."]
    return part


async def measure_all(run: Run) -> list[Part]:
    reads = await measure_reads(run)
    scale = await measure_scale(run)
    partitions = await measure_partitions(run)
    ingest = await measure_ingest(run)
    plans = await write_plans(run)
    watch_dir = run.cluster.workdir / "watch"
    watch_dir.mkdir(parents=True, exist_ok=True)
    watch = Part("Watch: bench/bench_watch.py, as it prints")
    watch.lines = ["```", *bench_watch.report(
        await bench_watch.run_all(run.cluster.admin_dsn, watch_dir)), "```"]
    return [read_part(reads), scale_part(scale, run.cluster.load_seconds),
            partitions_part(partitions), ingest_part(ingest), uvloop_part(reads, ingest),
            watch, plans]


def section(parts: list[Part], run: Run, minutes: float) -> str:
    checks = [check for part in parts for check in part.checks]
    met = sum(check.met for check in checks)
    head = [
        f"### Targets of issue 10, measured by `make bench` "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{os.cpu_count()} cores (`nproc`); {run.pinning.describe()}; "
        f"{CLIENTS} load-client processes; each cell the median of {REPEATS} rounds of "
        f"{run.seconds:g} s (scale: {SCALE_SECONDS:g} s) after {WARMUP:g} s of warm-up, "
        f"the compared servers taking turns; commit {commit()}; "
        f"the whole run took {minutes:.1f} min. Only ratios measured in this run mean "
        "anything: the machine is shared.",
        "",
        "Rerun: `make bench` (all of it, ~20 min, rewrites this section and bench/PLANS.md); "
        "parts: `make bench BENCH=reads` (or `scale`, `partitions`, `ingest`, `plans`, "
        "`watch`), printed "
        "only. Shorter and rougher: `BENCH_REPEATS=1 make bench`. Also: BENCH_CLIENTS (load-client "
        "processes, 2), BENCH_REPEATS (3), BENCH_WARMUP (s, 0.5), BENCH_PIN=0 (no pinning), "
        "BENCH_READ_HISTORY (10,000), BENCH_LARGE_HISTORY (1,000,000), BENCH_SCALE_SECONDS "
        "(2), BENCH_PARTITIONS_HISTORY (1,000,000), BENCH_PARTITIONS_DAYS (90), "
        "BENCH_PARTITIONS_BEFORE (a checkout to compare, see bench/bench_partitions.py), "
        "DATABASE_URL "
        "(a PostgreSQL of your own instead of the embedded one).",
        "",
        f"{met} of {len(checks)} targets met.",
        "",
        *targets_table(checks),
        "",
    ]
    return "\n".join(head + [part.markdown() for part in parts])


async def _suite(run: Run) -> list[Part]:
    started = time.perf_counter()
    parts = await measure_all(run)
    text = section(parts, run, (time.perf_counter() - started) / 60)
    write_results(text)
    print(text)
    return []


def main() -> None:
    standalone(_suite)
