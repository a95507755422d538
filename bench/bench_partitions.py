"""What week partitions cost the read RPCs: events partitioned (migration
0006) over the same history in one plain table (issue 13: within 1.3 ×).

Two databases on the same PostgreSQL, each loaded with the same realistic
history (bench/history.py: the same rows but for their random ids, and
received_at a load's time apart) of HISTORY events spread over SPAN of
received_at, the retention's whole 90 days by default, so 14 weeks hold
events (15 partitions with the one made ahead):

- "partitioned": as migrated, `events` partitioned by week;
- "plain": `events` replaced, before the load, by a plain table with the same
  columns, defaults, constraints and indexes (`CREATE TABLE ... (LIKE events
  INCLUDING ALL)`, then the indexes renamed as the partitioned ones are
  named, then checked to be the same definitions).

One service on each (`python -m server`, pinned to the same CPU, with
AWOOOP_RETENTION_DAYS=0 so that no week is removed under the bench; on the
plain table the service's retention pass fails to create next week's
partition, logs it and carries on), the same requests (bench/calls.py READS)
at 1 call in flight, the two servers taking turns (bench/run.py,
side_by_side). The ratio: p50 partitioned / p50 plain, per RPC.

BENCH_PARTITIONS_BEFORE=<dir>: also a pair of servers run from that checkout
(e.g. `git archive <commit> | tar -x -C <dir>`) on the same two databases,
for a before/after in one run.

Run: `make bench BENCH=partitions` (BENCH_PARTITIONS_HISTORY, 1,000,000;
BENCH_PARTITIONS_DAYS, 90; BENCH_SCALE_SECONDS, 2 s a cell).
"""

from __future__ import annotations

import os
import re
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg

from bench.bench_reads import read_target, work_item_id
from bench.bench_scale import SECONDS, p50
from bench.calls import READS
from bench.history import write_history
from bench.load import LoadResult
from bench.report import Check, Part, fmt
from bench.run import Run, standalone
from bench.servers import ROOT, Server, running_servers
from server.domain.models import EventFilter
from server.domain.recurrence import recurrence_filter
from server.storage import partitions
from server.storage.events import coverage_query, list_events_query, recent_events_query
from server.storage.recurrence import group_query

HISTORY = int(os.environ.get("BENCH_PARTITIONS_HISTORY", "1000000"))
SPAN = timedelta(days=float(os.environ.get("BENCH_PARTITIONS_DAYS", "90")))
BEFORE = os.environ.get("BENCH_PARTITIONS_BEFORE", "")
TARGET_RATIO = 1.3
# Neither server may remove a week, nor history, while it is measured.
SERVER_ENV = {"AWOOOP_RETENTION_DAYS": "0", "AWOOOP_HISTORY_RETENTION_DAYS": "0"}

_INDEXES = """
SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'events'::regclass
"""
_CONSTRAINTS = """
SELECT conname AS name, contype AS kind, pg_get_constraintdef(oid) AS definition
FROM pg_constraint WHERE conrelid = 'events'::regclass
"""
_COLUMNS = """
SELECT attname, format_type(atttypid, atttypmod), attnotnull,
       pg_get_expr(d.adbin, d.adrelid) AS default_value
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = 'events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def _unnamed(definition: str) -> str:
    """An index definition without its name, and without the ONLY of a
    partitioned table's index."""
    return re.sub(r"INDEX \S+ ON (ONLY )?", "INDEX ON ", definition)


async def _shape(connection: asyncpg.Connection) -> tuple[list[tuple], set[str], set[tuple]]:
    """What must be equal between the two tables: columns (types, defaults),
    index definitions, constraints."""
    columns = [tuple(row) for row in await connection.fetch(_COLUMNS)]
    indexes = {_unnamed(row["definition"]) for row in await connection.fetch(_INDEXES)}
    constraints = {
        (row["kind"], row["definition"]) for row in await connection.fetch(_CONSTRAINTS)
    }
    return columns, indexes, constraints


async def make_plain(dsn: str) -> None:
    """Replaces the (empty, migrated) partitioned `events` by a plain table of
    the same shape, its indexes and constraints named as before."""
    connection = await asyncpg.connect(dsn)
    try:
        before = await _shape(connection)
        names = {_unnamed(row["definition"]): row["name"]
                 for row in await connection.fetch(_INDEXES)}
        async with connection.transaction():
            await connection.execute("CREATE TABLE events_plain (LIKE events INCLUDING ALL)")
            await connection.execute("DROP TABLE events")
            await connection.execute("ALTER TABLE events_plain RENAME TO events")
            for row in await connection.fetch(_INDEXES):
                # Renaming an index renames the constraint it backs too.
                await connection.execute(
                    f'ALTER INDEX "{row["name"]}" RENAME TO "{names[_unnamed(row["definition"])]}"')
        after = await _shape(connection)
        plain = await connection.fetchval(
            "SELECT relkind = 'r' FROM pg_class WHERE oid = 'events'::regclass")
        if not plain or after != before:
            raise RuntimeError(f"the plain events table differs: {before} != {after}")
    finally:
        await connection.close()


@dataclass
class Databases:
    partitioned: str
    plain: str
    partitions: int
    load_seconds: float


async def databases(run: Run) -> Databases:
    started = time.perf_counter()
    partitioned = await run.cluster.database(f"partitioned_{HISTORY}")
    plain = await run.cluster.database(f"plain_{HISTORY}")
    await make_plain(plain)
    await write_history(partitioned, HISTORY, SPAN)
    await write_history(plain, HISTORY, SPAN)
    connection = await asyncpg.connect(partitioned)
    try:
        # Every week of the span, and the partitions the migration made ahead.
        weeks = len(await partitions.partitions(connection))
        holding = await connection.fetchval(
            "SELECT count(DISTINCT tableoid) FROM events")
    finally:
        await connection.close()
    print(f"partitions: {weeks} ({holding} holding events); "
          f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    return Databases(partitioned, plain, weeks, time.perf_counter() - started)


# The builders' statements as the service runs them (limit + 1: one more row
# tells whether there is a next page), for the plan counters below.
def _statements() -> dict[str, tuple[str, list]]:
    project = EventFilter(project_id="proj-1")
    window = recurrence_filter("proj-1", "")
    return {
        "recent_events_query(project, 21)": recent_events_query(project, 21),
        "recent_events_query(prefix, 101)": recent_events_query(
            EventFilter(provider_prefix="sentry:"), 101),
        "list_events_query(project, 51)": list_events_query(project, 51),
        "coverage_query(project, 200)": coverage_query(project, 200),
        "group_query(project, 300)": group_query(window, 300),
    }


async def plan_counts(dsn: str, executions: int = 10) -> dict[str, tuple[int, int]]:
    """(generic, custom) plans of each statement after `executions` runs on
    one connection, as the server's pool runs them (asyncpg prepares each)."""
    connection = await asyncpg.connect(dsn)
    try:
        for sql, args in _statements().values():
            for _ in range(executions):
                await connection.fetch(sql, *args)
        counts = {row["statement"]: (row["generic_plans"], row["custom_plans"])
                  for row in await connection.fetch(
                      "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")}
        return {name: counts.get(sql, (0, 0)) for name, (sql, _) in _statements().items()}
    finally:
        await connection.close()


@dataclass
class Row:
    name: str
    partitioned: LoadResult
    plain: LoadResult
    before_partitioned: LoadResult | None = None
    before_plain: LoadResult | None = None

    @property
    def ratio(self) -> float:
        return self.partitioned.p50_ms / self.plain.p50_ms

    @property
    def before_ratio(self) -> float | None:
        if self.before_partitioned is None or self.before_plain is None:
            return None
        return self.before_partitioned.p50_ms / self.before_plain.p50_ms


@dataclass
class Figures:
    databases: Databases
    rows: list[Row] = field(default_factory=list)
    plans: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


async def measure_partitions(run: Run) -> Figures:
    dbs = await databases(run)
    figures = Figures(dbs)
    figures.plans = {"partitioned": await plan_counts(dbs.partitioned),
                     "plain": await plan_counts(dbs.plain)}
    cpu = run.pinning.servers[0]
    workdir = run.cluster.workdir / "partitions"
    before_root = Path(BEFORE) if BEFORE else None

    def start(dsn: str, name: str, root: Path = ROOT) -> AbstractAsyncContextManager[list[Server]]:
        return running_servers(dsn, workdir / name, 1, SERVER_ENV, cpus=[cpu], root=root)

    async with start(dbs.partitioned, "partitioned") as [partitioned], \
            start(dbs.plain, "plain") as [plain]:
        servers: list[Server] = [partitioned, plain]
        if before_root is None:
            figures.rows = await _measure(run, servers)
            return figures
        async with start(dbs.partitioned, "before-partitioned", before_root) as [old_part], \
                start(dbs.plain, "before-plain", before_root) as [old_plain]:
            figures.rows = await _measure(run, [*servers, old_part, old_plain])
    return figures


async def _measure(run: Run, servers: list[Server]) -> list[Row]:
    items = {s.address: await work_item_id(s.address) for s in servers}
    rows = []
    for name in READS:
        results = await run.side_by_side(
            [(read_target(name, s.address, items[s.address]), 1) for s in servers],
            SECONDS, by=p50,
        )
        rows.append(Row(name, *results))
        print(f"{name}: {rows[-1].ratio:.2f}", flush=True)
    return rows


def partitions_part(figures: Figures) -> Part:
    dbs = figures.databases
    days = SPAN.total_seconds() / 86400
    part = Part(f"Partitions: latency over {dbs.partitions} week partitions / one plain table "
                f"({HISTORY:,} events over {days:g} days, 1 in flight)")
    before = any(r.before_ratio is not None for r in figures.rows)
    head = "| RPC | p50 ms partitioned | p99 ms | p50 ms plain | p99 ms | ratio (p50) |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if before:
        head += f" before: partitioned | plain | ratio ({Path(BEFORE).name}) |"
        rule += "---:|---:|---:|"
    part.lines = [head, rule]
    for r in figures.rows:
        line = (f"| {r.name} | {fmt(r.partitioned.p50_ms)} | {fmt(r.partitioned.p99_ms)} | "
                f"{fmt(r.plain.p50_ms)} | {fmt(r.plain.p99_ms)} | {r.ratio:.2f} |")
        if r.before_ratio is not None:
            assert r.before_partitioned and r.before_plain
            line += (f" {fmt(r.before_partitioned.p50_ms)} | {fmt(r.before_plain.p50_ms)} | "
                     f"{r.before_ratio:.2f} |")
        part.lines.append(line)
    errors = [f"{r.name}: {name} {result.errors} errors ({result.first_error})"
              for r in figures.rows
              for name, result in (("partitioned", r.partitioned), ("plain", r.plain),
                                   ("before partitioned", r.before_partitioned),
                                   ("before plain", r.before_plain))
              if result is not None and result.errors]
    if errors:
        part.lines += ["", "Calls that failed (a cell without a latency shows –):", "",
                       *(f"- {line}" for line in errors)]
    part.lines += [
        "",
        f"Both histories loaded in {dbs.load_seconds:.0f} s (bench/history.py, "
        f"{dbs.partitions} partitions including those made ahead).",
        "",
        "Plans of the read statements on one connection after 10 executions each "
        "(pg_prepared_statements: generic / custom):",
        "",
        "| statement | partitioned | plain |",
        "|---|---:|---:|",
        *(f"| {name} | {g} / {c} | {figures.plans['plain'][name][0]} / "
          f"{figures.plans['plain'][name][1]} |"
          for name, (g, c) in figures.plans["partitioned"].items()),
    ]
    part.checks = [
        Check(f"{r.name}: latency partitioned / plain ≤ {TARGET_RATIO}", f"{r.ratio:.2f}",
              r.ratio <= TARGET_RATIO)
        for r in figures.rows
    ]
    return part


async def _standalone(run: Run) -> list[Part]:
    return [partitions_part(await measure_partitions(run))]


def main() -> None:
    standalone(_standalone)
