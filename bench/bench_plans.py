"""bench/PLANS.md: EXPLAIN (ANALYZE, BUFFERS) of the hot queries at 1,000,000 events.

Each statement is the service's own: taken from its pure query builders
(recent_events_query, list_events_query, coverage_query, group_query), or,
for the functions that run their SQL themselves (the watch's events_after
and final_cursor, the write insert_events), recorded by handing them a
connection that keeps the statement instead of running it. Each is then
explained on the large history (bench/history.py), the write inside a
transaction that is rolled back. The write's plan is record_events()'s
function scan; with auto_explain (when the server lets this session load
it; pgserver's build has no auto_explain) the plans of the statements inside
the function follow it.

Run: `make bench BENCH=plans` (BENCH_LARGE_HISTORY to change the size).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.bench_scale import LARGE
from bench.report import Part
from bench.run import Run, standalone
from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, EventFilter, NewEvent
from server.domain.recurrence import recurrence_filter
from server.domain.work_item_rules import work_item_id
from server.domain.work_items import WorkItemKind
from server.storage import events
from server.storage.database import connect
from server.storage.events import coverage_query, list_events_query, recent_events_query
from server.storage.recurrence import group_query

PLANS = Path(__file__).with_name("PLANS.md")
PROJECT = "proj-1"


class Recorder:
    """A stand-in connection: keeps each statement and its arguments, runs nothing."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Any]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.statements.append((sql, list(args)))
        return []

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any]:
        self.statements.append((sql, list(args)))
        return {"final": 0, "pending": False}


async def recorded(function: Any, *args: Any) -> tuple[str, list[Any]]:
    """The (last) statement `function(connection, *args)` would run."""
    recorder = Recorder()
    await function(recorder, *args)
    return recorder.statements[-1]


def _new_events(count: int) -> list[NewEvent]:
    return [
        derive_event(AlertEventInput(
            project_id=PROJECT, provider="alertmanager", event_id=f"plan-{i}",
            title="HighPodMemory", severity="critical", namespace="payments",
            fingerprint=f"plan-{i}", labels={"alertname": "HighPodMemory", "pod": f"api-{i}"},
            annotations={"summary": f"memory above 90% on api-{i}"},
        ))
        for i in range(count)
    ]


@dataclass(frozen=True)
class Query:
    title: str
    source: str
    sql: str
    args: list[Any]
    write: bool = False


async def hot_queries(size: int, work_item: str) -> list[Query]:
    project = EventFilter(project_id=PROJECT)
    window = recurrence_filter(PROJECT, "")
    queries = [
        Query("ListRecentEvents(project, 20)", "events.recent_events_query",
              *recent_events_query(project, 21)),
        Query("ListRecentEvents(project, 100)", "events.recent_events_query",
              *recent_events_query(project, 101)),
        Query("ListRecentEvents(provider_prefix 'sentry:', 100)", "events.recent_events_query",
              *recent_events_query(EventFilter(provider_prefix="sentry:"), 101)),
        Query("ListRecentEvents(project, 20), a page deep in the history",
              "events.recent_events_query", *recent_events_query(project, 21, size // 2)),
        Query("GetEventDossier(project, 50)", "events.list_events_query",
              *list_events_query(project, 51)),
        Query("GetEventDossier(provider_event_id)", "events.list_events_query",
              *list_events_query(EventFilter(provider_event_id="sentry:evt-25"), 21)),
        Query("GetDossierCoverage(project, 200)", "events.coverage_query",
              *coverage_query(project, 200)),
        Query("GetDossierRecurrence(project, 300): groups, handoffs and clock in one statement",
              "recurrence.group_query", *group_query(window, 300)),
        Query("PreviewWorkItem(project, 300): the window narrowed to one group",
              "recurrence.group_query(work_item_id=...)",
              *group_query(window, 300, work_item_id=work_item)),
        Query("WatchEvents: the hub's read of two projects (256 rows)", "events.events_after",
              *await recorded(events.events_after, EventFilter(), size - 5000, 256, size,
                              ["proj-1", "proj-2"])),
        Query("WatchEvents: a subscriber's catch-up of one project", "events.events_after",
              *await recorded(events.events_after, project, size - 50_000, 256, size)),
        Query("WatchEvents: final_cursor", "events.final_cursor",
              *await recorded(events.final_cursor)),
        Query("RecordAlertEvent: record_events(), 1 event", "events.insert_events",
              *await recorded(events.insert_events, _new_events(1)), write=True),
        Query("IngestProviderPayload: record_events(), 20 events", "events.insert_events",
              *await recorded(events.insert_events, _new_events(20)), write=True),
    ]
    return queries


_INDEX = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)")
_TOP = re.compile(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+)")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
_BUFFERS = re.compile(r"Buffers: shared (.*)")
_NODE_ROWS = re.compile(r"actual time=\S+ rows=(\d+) loops=(\d+)")
_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")


def _rows_sequentially_read(plan: Sequence[str]) -> int:
    """Rows the plan's sequential scans of `events` (any partition) read.
    A scan of a partition made ahead, still empty, reads none and is no
    finding: PostgreSQL scans an empty table rather than probe its index."""
    total = 0
    for at, line in enumerate(plan):
        if "Seq Scan on events" not in line:
            continue
        node = _NODE_ROWS.search(line)
        if node:
            total += int(node.group(1)) * int(node.group(2))
        for detail in plan[at + 1:]:
            if "->" in detail:
                break
            removed = _REMOVED.search(detail)
            if removed:
                total += int(removed.group(1)) * (int(node.group(2)) if node else 1)
    return total


def summary(plan: Sequence[str]) -> str:
    """One sentence from the plan: indexes used, rows returned, time, buffers."""
    text = "\n".join(plan)
    indexes = list(dict.fromkeys(_INDEX.findall(text)))
    top = _TOP.search(plan[0]) if plan else None
    execution = _EXECUTION.search(text)
    buffers = _BUFFERS.search(text)
    seq = _rows_sequentially_read(plan)
    parts = [
        f"Indexes: {', '.join(indexes)}." if indexes else "No index scan.",
        f"A sequential scan of events read {seq:,} rows!" if seq else "",
        f"Returns {top.group(2)} rows" if top else "",
        f"in {execution.group(1)} ms" if execution else "",
        f"(top node's buffers: shared {buffers.group(1)})." if buffers else ".",
    ]
    return " ".join(p for p in parts if p)


async def explain(connection: asyncpg.Connection, query: Query) -> list[str]:
    nested: list[str] = []

    def keep(_connection: Any, message: Any) -> None:
        nested.append(str(message))

    if query.write:
        transaction = connection.transaction()
        await transaction.start()
        try:
            try:
                async with connection.transaction():  # a savepoint: a refusal aborts only it
                    await connection.execute(
                        "LOAD 'auto_explain'; SET LOCAL auto_explain.log_min_duration = 0; "
                        "SET LOCAL auto_explain.log_analyze = on; "
                        "SET LOCAL auto_explain.log_buffers = on; "
                        "SET LOCAL auto_explain.log_nested_statements = on; "
                        "SET LOCAL client_min_messages = log"
                    )
                connection.add_log_listener(keep)
            except asyncpg.PostgresError:
                pass
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query.sql}", *query.args)
        finally:
            await transaction.rollback()
            connection.remove_log_listener(keep)
    else:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query.sql}", *query.args)
    plan = [row[0] for row in rows]
    inner = [m for m in nested if "Query Text" in m and "record_events" not in m.split("\n")[0]]
    if inner:
        plan += ["", "-- inside record_events() (auto_explain):", *inner]
    return plan


async def a_work_item(connection: asyncpg.Connection) -> str:
    """The id of a work item of the project's window (of one of its possible kinds:
    the narrowed query matches the group whichever kind its rules give it)."""
    sql, args = group_query(recurrence_filter(PROJECT, ""), 300)
    row = await connection.fetchrow(sql, *args)
    assert row is not None
    return work_item_id(row["project_id"], row["recurrence_key"], next(iter(WorkItemKind)))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=PLANS.parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def write_plans(run: Run) -> Part:
    dsn = await run.cluster.history(LARGE)
    connection = await connect(dsn)
    try:
        # Warm: the plans show a server that has served these queries before.
        queries = await hot_queries(LARGE, await a_work_item(connection))
        for query in queries:
            if not query.write:
                await connection.fetch(query.sql, *query.args)
        sections = []
        summaries = []
        for query in queries:
            plan = await explain(connection, query)
            summaries.append(f"- {query.title}: {summary(plan)}")
            sections.append(
                f"## {query.title}\n\nFrom `{query.source}`. {summary(plan)}\n\n"
                "```sql\n" + query.sql.strip() + "\n```\n\n```\n" + "\n".join(plan) + "\n```\n"
            )
    finally:
        await connection.close()
    PLANS.write_text(
        "# Plans of the hot queries at "
        f"{LARGE:,} events\n\n"
        f"Written by `make bench BENCH=plans` (bench/bench_plans.py) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_commit()}, on the history of "
        "bench/history.py (20 projects, 3 providers, ~5% duplicates, ~10% linked to runs), "
        "each query run once before it is explained. The sentence under each title is "
        "made from its plan: the indexes it uses, the rows it returns, the time, and the "
        "top node's buffers. Arguments: project 'proj-1'.\n\n" + "\n".join(sections)
    )
    part = Part(f"Plans at {LARGE:,} events: bench/PLANS.md")
    part.lines = summaries
    return part


async def _standalone(run: Run) -> list[Part]:
    await write_plans(run)
    print(f"wrote {PLANS}")
    return []


def main() -> None:
    standalone(_standalone)
