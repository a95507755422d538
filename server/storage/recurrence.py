"""Recurrence SQL: the facts of every group over the most recent events.

One statement, set-based over the window: it never runs a query per group or
per event, so its cost follows `limit`, not the size of the events table.

Why it stays cheap with a large table (EXPLAIN ANALYZE on 200,000 events in
20 projects, bench/bench_recurrence.py). The window CTE is always a LIMIT over
a backward index walk that stops after `limit` matching rows:

    project filter, project rare among the newest rows:
      Limit (rows=100)
        -> Index Scan Backward using events_project_cursor on events
             Index Cond: (project_id = 'proj-rare')
             Filter: (stage <> 'heartbeat')
    project filter, project common among the newest rows (the planner finds
    the (cursor) index cheaper: its heap order is perfectly correlated):
      Limit (rows=100)
        -> Index Scan Backward using events_cursor_key on events
             Filter: ((stage <> 'heartbeat') AND (project_id = 'proj-1'))
    provider filter:
      Limit -> Index Scan Backward using events_provider_cursor (or
               events_project_provider_cursor), Index Cond: (provider = ...)

Every later step (run_events by its event_id index, runs by primary key, the
GROUP BYs, the DISTINCT ON) works on at most `limit` events and their links.
The walk grows only with the rows it must skip among the newest ones
(heartbeats, other projects), never with the table's total size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from server.domain.models import REF_SYSTEMS, EventFilter, RepairStatus, RunState, SourceRef
from server.domain.recurrence import GroupFacts, LinkedRun, RecurrenceGroup
from server.storage.events import filter_clauses, ref_flag, ref_total, ref_total_aggregates

# The window: the newest `limit` matching events, the only rows read from
# `events`. Built per call from its filters (see filter_clauses).
_RECENT_COLUMNS = (
    "id, cursor, project_id, provider, provider_event_id, recurrence_key, "
    "alertname, severity, namespace, target_resource, fingerprint, "
    "content_preview, is_duplicate, source_refs, source_ref_count, "
    + ", ".join(ref_flag(system) for system in REF_SYSTEMS)
    + ", received_at"
)

# Stands for the <system>_ref_total aggregates in _AFTER_RECENT.
_REF_TOTALS = "/* ref totals */"

# Everything after the window. Joined to it by concatenation and filled in by
# replacing _REF_TOTALS, never by str.format: braces in the SQL ('{}'::jsonb)
# stay SQL.
_AFTER_RECENT = """
linked AS (
    SELECT r.project_id, r.recurrence_key, r.id AS event_id, ru.run_id, ru.state,
           ru.agent_id, ru.incident_id, ru.repair_status, ru.update_seq
    FROM recent r
    JOIN run_events re ON re.event_id = r.id
    JOIN runs ru ON ru.run_id = re.run_id
),
event_links AS (
    SELECT event_id, bool_or(repair_status <> 'none') AS auto_repair
    FROM linked
    GROUP BY event_id
),
group_runs AS (
    SELECT project_id, recurrence_key,
           jsonb_agg(DISTINCT jsonb_build_object(
               'run_id', run_id, 'state', state, 'agent_id', agent_id,
               'incident_id', incident_id, 'repair_status', repair_status,
               'update_seq', update_seq)) AS runs
    FROM linked
    GROUP BY project_id, recurrence_key
),
group_refs AS (
    SELECT r.project_id, r.recurrence_key, jsonb_agg(DISTINCT ref) AS refs
    FROM recent r CROSS JOIN LATERAL jsonb_array_elements(r.source_refs) AS ref
    GROUP BY r.project_id, r.recurrence_key
),
totals AS (
    SELECT r.project_id, r.recurrence_key,
           count(*) FILTER (WHERE NOT r.is_duplicate) AS occurrence_total,
           count(*) FILTER (WHERE r.is_duplicate) AS duplicate_total,
           count(l.event_id) AS linked_run_total,
           count(*) FILTER (WHERE l.auto_repair) AS auto_repair_linked_total,
           coalesce(sum(r.source_ref_count), 0) AS source_ref_total,
           count(*) FILTER (WHERE r.source_ref_count = 0) AS missing_source_refs_total,
           /* ref totals */,
           min(r.received_at) AS first_received_at,
           max(r.received_at) AS latest_received_at,
           max(r.cursor) AS latest_cursor
    FROM recent r
    LEFT JOIN event_links l ON l.event_id = r.id
    GROUP BY r.project_id, r.recurrence_key
),
latest AS (
    SELECT DISTINCT ON (project_id, recurrence_key)
           project_id, recurrence_key, id, provider_event_id, content_preview,
           provider, alertname, severity, namespace, target_resource, fingerprint
    FROM recent
    ORDER BY project_id, recurrence_key, cursor DESC
)
SELECT t.*,
       l.id AS latest_event_id,
       l.provider_event_id AS latest_provider_event_id,
       l.content_preview AS latest_content_preview,
       l.provider, l.alertname, l.severity, l.namespace, l.target_resource, l.fingerprint,
       coalesce(g.runs, '[]'::jsonb) AS runs,
       coalesce(f.refs, '[]'::jsonb) AS refs
FROM totals t
JOIN latest l USING (project_id, recurrence_key)
LEFT JOIN group_runs g USING (project_id, recurrence_key)
LEFT JOIN group_refs f USING (project_id, recurrence_key)
ORDER BY t.occurrence_total DESC, t.latest_cursor DESC
""".replace(_REF_TOTALS, ref_total_aggregates("r."))

_FACT_COLUMNS = (
    "project_id",
    "recurrence_key",
    "occurrence_total",
    "duplicate_total",
    "linked_run_total",
    "auto_repair_linked_total",
    "source_ref_total",
    "missing_source_refs_total",
    *(ref_total(system) for system in REF_SYSTEMS),
    "latest_event_id",
    "latest_provider_event_id",
    "latest_content_preview",
    "provider",
    "alertname",
    "severity",
    "namespace",
    "target_resource",
    "fingerprint",
    "first_received_at",
    "latest_received_at",
)


def group_query(event_filter: EventFilter, limit: int) -> tuple[str, list[Any]]:
    """GetDossierRecurrence's (and every work item call's) statement and its
    arguments: the facts of each group over the newest `limit` matching events.
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL, and
    bench/bench_recurrence.py EXPLAINs it."""
    args: list[Any] = []
    where = " AND ".join(filter_clauses(event_filter, args)) or "true"
    args.append(limit)
    recent = (
        f"SELECT {_RECENT_COLUMNS} FROM events WHERE {where} "
        f"ORDER BY cursor DESC LIMIT ${len(args)}"
    )
    return "WITH recent AS MATERIALIZED (\n    " + recent + "\n)," + _AFTER_RECENT, args


def _linked_run(value: dict[str, Any]) -> LinkedRun:
    return LinkedRun(
        run_id=UUID(value["run_id"]),
        state=RunState(value["state"]),
        agent_id=value["agent_id"],
        incident_id=value["incident_id"],
        repair_status=RepairStatus(value["repair_status"]),
        update_seq=int(value["update_seq"]),
    )


def _facts(row: asyncpg.Record) -> GroupFacts:
    return GroupFacts(
        **{name: row[name] for name in _FACT_COLUMNS},
        source_refs=[SourceRef(**ref) for ref in row["refs"]],
        runs=[_linked_run(run) for run in row["runs"]],
    )


# The database clock of the recurrence snapshot (the checks' "now"), read in
# the same transaction as group_query and handoff_kinds_query; the bench
# baseline (bench/baseline.py) runs it too.
AS_OF_QUERY = "SELECT now()"


@dataclass(frozen=True)
class RecurrenceWindow:
    """The facts of the groups, and the handoffs of their work items, read from
    one snapshot so that the counts and the statuses agree."""

    facts: list[GroupFacts]
    # work_item_id -> handoff kinds recorded; absent when never handed off.
    handoff_kinds: dict[str, set[str]]
    # The database clock of that snapshot.
    as_of: datetime
    # The groups of `facts`, built once (domain.recurrence.open_groups).
    groups: list[RecurrenceGroup]


async def group_facts(
    connection: asyncpg.Connection, event_filter: EventFilter, limit: int
) -> list[GroupFacts]:
    """Groups ordered by occurrence_total desc, then most recent event first."""
    sql, args = group_query(event_filter, limit)
    return [_facts(row) for row in await connection.fetch(sql, *args)]
