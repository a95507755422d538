"""Ingest under an alert storm: events/s at 1, 4, 16 and 64 calls in flight.

For each concurrency, in one run against one PostgreSQL, from the load
client's processes (bench/load.py):

- raw: asyncpg BEGIN / INSERT / COMMIT of the same rows, derived by the
  bench before the measurement (no gRPC, no redaction, no record_events(),
  cursors from a sequence), connections shared by the client processes as
  many as one server's pool;
- the same raw write behind a bare gRPC method (bench/baseline.py), on the
  service's core: what any grpc.aio server of one core reaches with it;
- RecordAlertEvent through one `python -m server`, then through two on the
  same database (calls spread over both);
- IngestProviderPayload with an Alertmanager body of 20 alerts, the same way,
  beside a raw transaction inserting the 20 derived rows.

The three side by side per level (the median of BENCH_REPEATS rounds, the
three taking turns), so that machine noise hits all three.
Figures: events committed per second. Run: `make bench BENCH=ingest`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import asyncpg

from bench.calls import INGEST, RAW_SEQUENCE
from bench.load import LoadResult, Target
from bench.report import Check, Part, fmt
from bench.run import CLIENTS, Run, standalone
from bench.servers import running_servers

CONCURRENCY = (1, 4, 16, 64)
# The baseline handler's row: the raw write behind a bare gRPC method, on the
# service's core (bench/baseline.py).
BARE = "bare gRPC handler"


def events(result: LoadResult) -> float:
    return result.events_per_s


@dataclass
class IngestFigures:
    # (row name, in flight) -> result
    cells: dict[tuple[str, int], LoadResult] = field(default_factory=dict)
    # RecordAlertEvent at 16 in flight on one uvloop server, measured beside
    # the one-server cell (for the event-loop decision).
    uvloop: LoadResult | None = None
    asyncio_beside_uvloop: LoadResult | None = None

    def rate(self, name: str, level: int) -> float:
        return self.cells[(name, level)].events_per_s


async def measure_ingest(run: Run, with_uvloop: bool = True) -> IngestFigures:
    dsn = await run.cluster.database("ingest")
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(RAW_SEQUENCE)
    finally:
        await setup.close()
    figures = IngestFigures()
    workdir = run.cluster.workdir
    async with contextlib.AsyncExitStack() as stack:
        servers = await stack.enter_async_context(
            running_servers(dsn, workdir / "ingest", 2, cpus=run.pinning.servers))
        addresses = tuple(s.address for s in servers)
        [bare] = await stack.enter_async_context(running_servers(
            dsn, workdir / "ingest-baseline", 1, cpus=run.pinning.servers[:1],
            module="bench.baseline"))
        for label in INGEST:
            targets = {
                f"raw {label}": Target(f"raw {label}", dsn=dsn,
                                       params=(("workers", str(CLIENTS)),)),
                f"{label}, {BARE}": Target(label, addresses=(bare.address,)),
                f"{label}, 1 server": Target(label, addresses=addresses[:1]),
                f"{label}, 2 servers": Target(label, addresses=addresses),
            }
            for level in CONCURRENCY:
                results = await run.side_by_side([(t, level) for t in targets.values()], by=events)
                for name, result in zip(targets, results, strict=True):
                    figures.cells[(name, level)] = result
        if with_uvloop:
            [uvloop] = await stack.enter_async_context(running_servers(
                dsn, workdir / "ingest-uvloop", 1, {"AWOOOP_EVENT_LOOP": "uvloop"},
                cpus=run.pinning.servers[:1]))
            # Side by side: the asyncio server, then the uvloop one, same core.
            figures.asyncio_beside_uvloop, figures.uvloop = await run.side_by_side([
                (Target("RecordAlertEvent", addresses=addresses[:1]), 16),
                (Target("RecordAlertEvent", addresses=(uvloop.address,)), 16),
            ], by=events)
    return figures


def ingest_part(figures: IngestFigures) -> Part:
    part = Part("Ingest: events/s by calls in flight, beside raw inserts of the same rows")
    part.lines = [
        "| events/s (p50 ms) | " + " | ".join(f"{c} in flight" for c in CONCURRENCY) + " |",
        "|---|" + "---:|" * len(CONCURRENCY),
    ]
    names = list(dict.fromkeys(name for name, _ in figures.cells))
    for name in names:
        raw = None if name.startswith("raw ") else "raw " + name.split(",")[0]
        cells = []
        for level in CONCURRENCY:
            result = figures.cells[(name, level)]
            cell = f"{fmt(result.events_per_s)} ({fmt(result.p50_ms)})"
            if raw is not None:
                cell += f" {result.events_per_s / figures.rate(raw, level):.2f}×"
            if result.errors:
                cell += f" [{result.errors} errors: {result.first_error}]"
            cells.append(cell)
        lines_name = name if raw is None else f"{name} (× raw)"
        part.lines.append(f"| {lines_name} | " + " | ".join(cells) + " |")

    for label in INGEST:
        ratios = ", ".join(
            f"{figures.rate(f'{label}, 1 server', c) / figures.rate(f'{label}, {BARE}', c):.2f}"
            for c in CONCURRENCY)
        part.lines += ["", f"{label}, 1 server / the {BARE}, at 1, 4, 16, 64 in flight: {ratios}."]
    record = "RecordAlertEvent, 1 server"
    for level in (16, 64):
        ratio = figures.rate(record, level) / figures.rate("raw RecordAlertEvent", level)
        part.checks.append(Check(f"RecordAlertEvent ≥ 0.5 × raw insert at {level} in flight",
                                 f"{ratio:.2f}×", ratio >= 0.5))
    at64, at4 = figures.rate(record, 64), figures.rate(record, 4)
    part.checks.append(Check("RecordAlertEvent at 64 in flight ≥ at 4",
                             f"{fmt(at64)} vs {fmt(at4)} events/s", at64 >= at4))
    for label in INGEST:
        one = max(figures.rate(f"{label}, 1 server", c) for c in CONCURRENCY)
        two = max(figures.rate(f"{label}, 2 servers", c) for c in CONCURRENCY)
        part.checks.append(Check(f"two servers ingest more than one ({label}, best level)",
                                 f"{fmt(two)} vs {fmt(one)} events/s", two > one))
    return part


async def _standalone(run: Run) -> list[Part]:
    return [ingest_part(await measure_ingest(run, with_uvloop=False))]


def main() -> None:
    standalone(_standalone)
