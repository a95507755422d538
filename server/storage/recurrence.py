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
from server.domain.recurrence import GroupFacts, LinkedRun, RecurrenceGroup, open_groups
from server.domain.work_item_rules import WorkItemKind
from server.storage.events import (
    filter_clauses,
    literal_limit,
    literal_word,
    ref_flag,
    ref_total,
    ref_total_aggregates,
)

# The window: the newest `limit` matching events, the only rows read from
# `events`. Built per call from its filters (see filter_clauses).
_RECENT_COLUMNS = (
    "id, cursor, project_id, provider, provider_event_id, recurrence_key, "
    "alertname, severity, namespace, target_resource, fingerprint, "
    "content_preview, is_duplicate, source_refs, source_ref_count, "
    + ", ".join(ref_flag(system) for system in REF_SYSTEMS)
    + ", received_at"
)

# Everything after the window, one CTE per fact, filled in by replacing the
# markers, never by str.format: braces in the SQL ('{}'::jsonb) stay SQL.
_LINKED = """
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
),"""

# The distinct refs of each group: only a handoff's proposal lists them, so
# only HandoffWorkItem reads them (with_refs).
_GROUP_REFS = """
group_refs AS (
    SELECT r.project_id, r.recurrence_key, jsonb_agg(DISTINCT ref) AS refs
    FROM recent r CROSS JOIN LATERAL jsonb_array_elements(r.source_refs) AS ref
    GROUP BY r.project_id, r.recurrence_key
),"""

_TOTALS = """
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
SELECT /* fact columns */,
       g.runs AS runs,
       /* handoffs column */ AS handoffs,
       now() AS as_of /* refs column */
FROM totals t
JOIN latest l USING (project_id, recurrence_key)
LEFT JOIN group_runs g USING (project_id, recurrence_key) /* refs join */
ORDER BY t.occurrence_total DESC, t.latest_cursor DESC
"""

# GroupFacts' fields that are columns, in its order: the SELECT lists them so,
# and a row becomes its GroupFacts by position (then runs, then refs).
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

# Where each fact comes from: the group's latest event (`l`), else its totals (`t`).
_FROM_LATEST = {
    "latest_event_id": "l.id",
    "latest_provider_event_id": "l.provider_event_id",
    "latest_content_preview": "l.content_preview",
    **{name: f"l.{name}" for name in (
        "provider", "alertname", "severity", "namespace", "target_resource", "fingerprint"
    )},
}
_FACT_SELECT = ",\n       ".join(
    f"{_FROM_LATEST[name]} AS {name}" if name in _FROM_LATEST else f"t.{name}"
    for name in _FACT_COLUMNS
)
_TOTALS = _TOTALS.replace("/* ref totals */", ref_total_aggregates("r.")).replace(
    "/* fact columns */", _FACT_SELECT
)


_REFS_COLUMN = ",\n       coalesce(f.refs, '[]'::jsonb) AS refs"
_REFS_JOIN = "\nLEFT JOIN group_refs f USING (project_id, recurrence_key)"


def _after_recent(with_refs: bool) -> str:
    if not with_refs:
        return _LINKED + _TOTALS.replace(" /* refs column */", "").replace(" /* refs join */", "")
    return (
        _LINKED
        + _GROUP_REFS
        + _TOTALS.replace(" /* refs column */", _REFS_COLUMN).replace(" /* refs join */", _REFS_JOIN)
    )


# A work item's id in SQL, for each kind of `kinds` (a text[]): the
# same sha256 as domain.work_item_rules.work_item_id (test_recurrence_sql.py
# holds the two together). Lets a work item call aggregate only its group.
def _work_item_id_sql(project: str, key: str, kind: str) -> str:
    return (
        f"'wi-' || left(encode(sha256(convert_to("
        f"{project} || '|' || {key} || '|' || {kind}, 'UTF8')), 'hex'), 16)"
    )


# Every work item kind, as a literal array: a constant of the code, and the
# planner then knows it has 3 elements (a parameter array counts as 10, which
# made the generic plan look dearer than the custom ones; see
# events.literal_limit for why that matters).
def _kinds_literal() -> str:
    words = []
    for kind in WorkItemKind:
        word = literal_word(kind.value)
        if word is None:
            raise ValueError(f"work item kind {kind.value!r} is not a plain word")
        words.append(word)
    return f"ARRAY[{', '.join(words)}]"


_KINDS = _kinds_literal()


def _handoffs(kinds_arg: str) -> str:
    """Each group's recorded handoffs, as "<work_item_id> <handoff_kind>", for
    the work item of any kind the group could yield (the caller keeps those
    of the one it does yield): read in the same statement, so in the same
    snapshot, as the counts that decide the work item."""
    item_id = _work_item_id_sql("t.project_id", "t.recurrence_key", "kind")
    return (
        "ARRAY(SELECT h.work_item_id || ' ' || h.handoff_kind "
        f"FROM unnest({kinds_arg}::text[]) AS kind "
        f"JOIN work_item_handoffs h ON h.work_item_id = {item_id})"
    )


def _one_group(work_item_id_arg: str, kinds_arg: str) -> str:
    """`recent` narrowed to the group of the window whose work item, of any
    kind, would have that id (at most one: the ids are hashes)."""
    item_id = _work_item_id_sql("k.project_id", "k.recurrence_key", "kind")
    return f"""
recent AS MATERIALIZED (
    SELECT c.* FROM considered c
    WHERE (c.project_id, c.recurrence_key) IN (
        SELECT k.project_id, k.recurrence_key
        FROM (SELECT DISTINCT project_id, recurrence_key FROM considered) k
        CROSS JOIN unnest({kinds_arg}::text[]) AS kind
        WHERE {item_id} = {work_item_id_arg})
),"""




def group_query(
    event_filter: EventFilter,
    limit: int,
    *,
    work_item_id: str | None = None,
    with_refs: bool = False,
) -> tuple[str, list[Any]]:
    """The statement and its arguments: the facts of each group over the
    newest `limit` matching events, by occurrence_total desc, then most
    recent event first, with the handoffs of the work items it could yield
    and the database clock: the whole read, in one snapshot, in one round
    trip. GetDossierRecurrence runs it as it is; a work item
    call passes `work_item_id` (only the group that may yield it, of that
    same window), and a handoff `with_refs` (the group's distinct refs).
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL, and
    bench/bench_recurrence.py EXPLAINs it."""
    args: list[Any] = []
    where = " AND ".join(filter_clauses(event_filter, args)) or "true"
    # A literal LIMIT, so that the generic plan is costed for the window's
    # rows and kept (events.literal_limit says why).
    window = (
        f"SELECT {_RECENT_COLUMNS} FROM events WHERE {where} "
        f"ORDER BY cursor DESC LIMIT {literal_limit(limit)}"
    )
    kinds = _KINDS
    if work_item_id is None:
        head = "WITH recent AS MATERIALIZED (\n    " + window + "\n),"
    else:
        args.append(work_item_id)
        head = (
            "WITH considered AS MATERIALIZED (\n    " + window + "\n),"
            + _one_group(f"${len(args)}", kinds)
        )
    return head + _after_recent(with_refs).replace("/* handoffs column */", _handoffs(kinds)), args


# The enums by their stored values: a dictionary probe, where calling the
# enum class walks its metaclass (a recurrence read decodes every linked run).
_RUN_STATES = {state.value: state for state in RunState}
_REPAIR_STATUSES = {status.value: status for status in RepairStatus}


def _linked_run(value: dict[str, Any]) -> LinkedRun:
    return LinkedRun(
        run_id=UUID(value["run_id"]),
        state=_RUN_STATES[value["state"]],
        agent_id=value["agent_id"],
        incident_id=value["incident_id"],
        repair_status=_REPAIR_STATUSES[value["repair_status"]],
        update_seq=int(value["update_seq"]),
    )


# A row: the GroupFacts columns, then runs, handoffs, as_of, and (only when
# the query asked for them: with_refs) refs.
_RUNS = len(_FACT_COLUMNS)
_HANDOFFS, _AS_OF, _REFS = _RUNS + 1, _RUNS + 2, _RUNS + 3


def _facts(row: asyncpg.Record) -> GroupFacts:
    values = list(row)
    refs = [SourceRef(**ref) for ref in values[_REFS]] if len(values) > _REFS else []
    # NULL runs for a group without any: no jsonb to decode for most groups.
    runs = [_linked_run(run) for run in values[_RUNS]] if values[_RUNS] is not None else []
    return GroupFacts._make((*values[:_RUNS], refs, runs))


# The database clock, for a window with no group (the query returned no row).
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


def _handoff_kinds(
    rows: list[asyncpg.Record], groups: list[RecurrenceGroup]
) -> dict[str, set[str]]:
    """The handoff kinds of each group's own work item (absent: none)."""
    found: dict[str, set[str]] = {}
    for row, group in zip(rows, groups, strict=True):
        if group.work_item is None:
            continue
        own = group.work_item.work_item_id
        for handoff in row[_HANDOFFS]:
            item_id, _, kind = handoff.partition(" ")
            if item_id == own:
                found.setdefault(own, set()).add(kind)
    return found


async def read_window(
    connection: asyncpg.Connection,
    event_filter: EventFilter,
    limit: int,
    *,
    work_item_id: str | None = None,
    with_refs: bool = False,
) -> RecurrenceWindow:
    """Groups ordered by occurrence_total desc, then most recent event first
    (only the one that may yield `work_item_id`, when given; see group_query),
    each built once, with the handoffs of their work items."""
    sql, args = group_query(event_filter, limit, work_item_id=work_item_id, with_refs=with_refs)
    rows = await connection.fetch(sql, *args)
    facts = [_facts(row) for row in rows]
    groups = open_groups(facts)
    as_of = rows[0][_AS_OF] if rows else await connection.fetchval(AS_OF_QUERY)
    return RecurrenceWindow(
        facts=facts, handoff_kinds=_handoff_kinds(rows, groups), as_of=as_of, groups=groups
    )
