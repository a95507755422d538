"""Each read RPC against the baseline handler: QPS, p50 and p99 at 16 in flight.

On a history of READ_HISTORY events (bench/history.py), one run, one
PostgreSQL: the baseline handler (bench/baseline.py: the same SQL, rows
straight to protobuf), the service (`python -m server`), and the service on
uvloop (AWOOOP_EVENT_LOOP=uvloop), each a process pinned to the same CPU,
loaded in turn by the load client's processes (bench/load.py) with the same
requests. The ratio is the service's QPS over the baseline's, measured side
by side per RPC (bench/run.py, side_by_side: the median of BENCH_REPEATS
rounds, the servers taking turns) so that a burst of machine noise hits both.

Run: `make bench BENCH=reads`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import grpc
from awooop.channel_events.v1 import dossier_pb2, dossier_pb2_grpc

from bench.calls import READS
from bench.load import LoadResult, Target
from bench.report import Check, Part, fmt
from bench.run import Run, standalone
from bench.servers import METADATA, running_servers

READ_HISTORY = int(os.environ.get("BENCH_READ_HISTORY", "10000"))
IN_FLIGHT = 16
TARGET_RATIO = 0.8
PROJECT = "proj-1"


async def work_item_id(address: str, project: str = PROJECT) -> str:
    """A work item of the project's recurrence window, for PreviewWorkItem."""
    async with grpc.aio.insecure_channel(address) as channel:
        response = await dossier_pb2_grpc.DossierServiceStub(channel).GetDossierRecurrence(
            dossier_pb2.GetDossierRecurrenceRequest(project_id=project, limit=300),
            metadata=METADATA,
        )
    for item in response.items:
        if item.work_item.work_item_id:
            return item.work_item.work_item_id
    raise RuntimeError(f"no work item in {project}'s recurrence window")


def read_target(name: str, address: str, work_item: str) -> Target:
    return Target(name, addresses=(address,),
                  params=(("project", PROJECT), ("work_item_id", work_item)))


@dataclass
class ReadRow:
    name: str
    baseline: LoadResult
    service: LoadResult
    uvloop: LoadResult | None

    @property
    def ratio(self) -> float:
        # NaN when the baseline answered nothing (its errors are in the table).
        return self.service.calls_per_s / (self.baseline.calls_per_s or float("nan"))

    @property
    def uvloop_ratio(self) -> float:
        assert self.uvloop is not None
        return self.uvloop.calls_per_s / (self.baseline.calls_per_s or float("nan"))


def _cell(result: LoadResult) -> str:
    errors = f" ({result.errors} errors: {result.first_error})" if result.errors else ""
    return f"{fmt(result.calls_per_s)} | {fmt(result.p50_ms)} | {fmt(result.p99_ms)}{errors}"


async def measure_reads(run: Run, with_uvloop: bool = True) -> list[ReadRow]:
    dsn = await run.cluster.history(READ_HISTORY)
    cpu = run.pinning.servers[0]
    workdir = run.cluster.workdir
    async with contextlib.AsyncExitStack() as stack:
        [baseline] = await stack.enter_async_context(
            running_servers(dsn, workdir / "baseline", 1, cpus=[cpu], module="bench.baseline"))
        [service] = await stack.enter_async_context(
            running_servers(dsn, workdir / "reads", 1, cpus=[cpu]))
        uvloop = None
        if with_uvloop:
            [uvloop] = await stack.enter_async_context(running_servers(
                dsn, workdir / "reads-uvloop", 1, {"AWOOOP_EVENT_LOOP": "uvloop"}, cpus=[cpu]))
        work_item = await work_item_id(service.address)
        rows = []
        for name in READS:
            results = await run.side_by_side([
                (read_target(name, server.address, work_item), IN_FLIGHT)
                for server in (baseline, service, *([uvloop] if uvloop else []))
            ])
            rows.append(ReadRow(name, results[0], results[1], results[2] if uvloop else None))
    return rows


def read_part(rows: list[ReadRow]) -> Part:
    part = Part(f"Reads: each RPC at {IN_FLIGHT} in flight, against the baseline handler "
                f"({READ_HISTORY:,} events)")
    part.lines = [
        "| RPC | baseline QPS | p50 ms | p99 ms | service QPS | p50 ms | p99 ms | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {r.name} | {_cell(r.baseline)} | {_cell(r.service)} | {r.ratio:.2f} |" for r in rows),
    ]
    part.checks = [
        Check(f"{r.name} ≥ {TARGET_RATIO} × baseline", f"{r.ratio:.2f}×", r.ratio >= TARGET_RATIO)
        for r in rows
    ]
    return part


async def _standalone(run: Run) -> list[Part]:
    return [read_part(await measure_reads(run, with_uvloop=False))]


def main() -> None:
    standalone(_standalone)
