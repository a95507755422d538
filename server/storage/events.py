"""Event SQL: writing events, and reading them back in one order for everyone.

A write is ONE call of the server-side function record_events()
(migrations/0005_writes_without_a_global_lock.sql; the argument is there):
no write waits for another (except one of the same duplicate key), and
commits share WAL flushes. An event's cursor is its transaction's id << 20
plus its place in the batch; everything below (xmin << 20), xmin the oldest
transaction still running, is final (no event can appear there any more).
Readers that must not miss an event (the watch) read only up to
`final_cursor`: the highest cursor below which every event is final.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Protocol

import asyncpg

from server.domain.dossier import ProviderCoverage
from server.domain.event_rows import DossierEvent, ListedEvent, RefRow
from server.domain.models import (
    REF_SYSTEMS,
    EventFilter,
    NewEvent,
    Recorded,
    SourceBody,
    SourceRef,
    StoredEvent,
)

NOTIFY_CHANNEL = "channel_events"


def ref_flag(system: str) -> str:
    """The events column that says whether an event has a ref of `system`."""
    return f"has_{system}_ref"


def ref_total(system: str) -> str:
    """The read models' count of events with a ref of `system`."""
    return f"{system}_ref_total"


def ref_total_aggregates(qualifier: str = "") -> str:
    """One `<system>_ref_total` aggregate per ref system, over the events
    named by `qualifier` ("r." for an alias, "" for none)."""
    return ", ".join(
        f"count(*) FILTER (WHERE {qualifier}{ref_flag(s)}) AS {ref_total(s)}" for s in REF_SYSTEMS
    )


def _as_stored(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """One stored column of `events`, declared once in COLUMNS: the INSERT,
    the SELECT list and the row mapping are all made from that tuple."""

    name: str
    # Its PostgreSQL type.
    pg_type: str
    # Its value for a new event, sent to record_events() as the array
    # `in_<name>`; None for a column the function sets itself (`computed`).
    write: Callable[[NewEvent], Any] | None = None
    # record_events()'s SQL for a column that no event gives (`b` is the
    # batch row), as migrations/0004_one_round_trip_writes.sql spells it:
    # tests/storage/test_columns.py holds the two together.
    computed: str = ""
    # The StoredEvent field of the same name, from the stored value; None for
    # a column that is written but not read back.
    read: Callable[[Any], Any] | None = _as_stored

    def __post_init__(self) -> None:
        if (self.write is None) == (not self.computed):
            raise ValueError(f"column {self.name}: give exactly one of write and computed")

    @property
    def batch_type(self) -> str:
        """The element type of its array: jsonb travels as text and is cast
        in record_events()'s INSERT."""
        return "text" if self.pg_type == "jsonb" else self.pg_type

    def batch_values(self, events: Sequence[NewEvent]) -> list[Any]:
        """Its unnest array for the batch."""
        if self.write is None:
            raise TypeError(f"column {self.name} is set by the INSERT, not sent")
        values = [self.write(event) for event in events]
        if self.pg_type == "jsonb":
            return [None if v is None else json.dumps(v) for v in values]
        return values

    @property
    def insert_value(self) -> str:
        """Its expression in record_events()'s INSERT."""
        if self.computed:
            return self.computed
        return f"b.{self.name}::jsonb" if self.pg_type == "jsonb" else f"b.{self.name}"

    @property
    def parameter(self) -> str:
        """Its array parameter of record_events()."""
        return f"in_{self.name}"


def _field(name: str, pg_type: str) -> Column:
    """A NewEvent field stored as it is and read back as it is."""
    return Column(name, pg_type, write=attrgetter(name))


def _refs_to_json(event: NewEvent) -> list[dict[str, Any]]:
    return [ref.model_dump() for ref in event.source_refs]


def _refs_from_json(value: list[dict[str, Any]]) -> list[SourceRef]:
    return [SourceRef(**ref) for ref in value]


def _has_ref_of(system: str) -> Callable[[NewEvent], bool]:
    def has_ref(event: NewEvent) -> bool:
        return any(ref.system == system for ref in event.source_refs)

    return has_ref


# `earlier`: record_events()'s probe of the duplicate-key index for the event
# (migration 0007), in a statement run after the write's advisory locks on its
# keys were granted, so its snapshot holds every earlier event: exact.
_IS_DUPLICATE = "b.repeated_in_batch OR earlier.found IS NOT NULL"

COLUMNS: tuple[Column, ...] = (
    _field("id", "uuid"),
    # stamp: the writing transaction's id << 20; b.ord counts from 1.
    Column("cursor", "bigint", computed="stamp + b.ord"),
    _field("project_id", "text"),
    _field("channel_type", "text"),
    _field("provider", "text"),
    _field("provider_event_id", "text"),
    _field("stage", "text"),
    _field("channel_chat_id", "text"),
    _field("alertname", "text"),
    _field("severity", "text"),
    _field("namespace", "text"),
    _field("target_resource", "text"),
    _field("fingerprint", "text"),
    _field("recurrence_key", "text"),
    _field("content_redacted", "text"),
    _field("content_preview", "text"),
    _field("has_redacted_content", "bool"),
    _field("redaction_version", "text"),
    _field("content_sha256", "text"),
    _field("content_length", "int"),
    _field("source_url", "text"),
    Column("source_refs", "jsonb", write=_refs_to_json, read=_refs_from_json),
    # Derived from source_refs and kept as columns so that the coverage and
    # recurrence totals are plain sums; a StoredEvent derives them again.
    Column("source_ref_count", "int", write=attrgetter("source_ref_count"), read=None),
    *(Column(ref_flag(s), "bool", write=_has_ref_of(s), read=None) for s in REF_SYSTEMS),
    _field("log_correlation", "jsonb"),
    # Not read back: no read returns it (a StoredEvent's source_envelope is
    # None), and decoding it cost more than every returned field of a row.
    Column("source_envelope", "jsonb", write=attrgetter("source_envelope"), read=None),
    _field("provider_ts", "timestamptz"),
    Column("is_duplicate", "bool", computed=_IS_DUPLICATE),
    Column("received_at", "timestamptz", computed="clock_timestamp()"),
    # Migration 0003; not read back: a StoredEvent's source_body_id stays None.
    Column("source_body_id", "uuid", write=attrgetter("source_body_id"), read=None),
)

# The columns sent in the INSERT's batch, one unnest array each, in order.
_SENT = tuple(c for c in COLUMNS if c.write is not None)
# The columns a read selects, and how each becomes its StoredEvent field.
_READERS = tuple((c.name, c.read) for c in COLUMNS if c.read is not None)

_SELECT_EVENTS = f"SELECT {', '.join(name for name, _ in _READERS)} FROM events"


# The write, one statement and one round trip, run outside any transaction
# of ours (or as the first statement of one that must hold more: heartbeats).
# Parameters by name, so that a column added to COLUMNS but not to the
# function fails on the first call, loudly.
_BODY_PARAMETERS = ("in_body_id", "in_body_project_id", "in_body_provider", "in_body_fields")
_ARGUMENTS = ", ".join(
    [f"{name} => ${n}" for n, name in enumerate(_BODY_PARAMETERS, start=1)]
    + [
        f"{c.parameter} => ${n}::{c.batch_type}[]"
        for n, c in enumerate(_SENT, start=len(_BODY_PARAMETERS) + 1)
    ]
    + [f"in_repeated_in_batch => ${len(_BODY_PARAMETERS) + len(_SENT) + 1}::bool[]"]
)
_RECORD_EVENTS = f"SELECT id, provider_event_id, cursor, is_duplicate FROM record_events({_ARGUMENTS})"


def _repeated_in_batch(events: Sequence[NewEvent]) -> list[bool]:
    """Per event: an earlier event of the same batch has its duplicate key."""
    seen: set[tuple[str, str, str]] = set()
    repeated: list[bool] = []
    for event in events:
        key = (event.project_id, event.provider_event_id, event.stage)
        repeated.append(key in seen)
        seen.add(key)
    return repeated


async def insert_events(
    connection: asyncpg.Connection, events: Sequence[NewEvent], body: SourceBody | None = None
) -> list[Recorded]:
    """Stores events, and the webhook body they came in, all or nothing, in one
    statement. Until the caller's transaction ends, the events' cursors stay
    above final_cursor (watchers wait for them): keep it short."""
    if not events and body is None:
        return []
    body_arguments = (
        (body.id, body.project_id, body.provider, json.dumps(body.fields))
        if body is not None
        else (None, None, None, None)
    )
    rows = await connection.fetch(
        _RECORD_EVENTS,
        *body_arguments,
        *(column.batch_values(events) for column in _SENT),
        _repeated_in_batch(events),
    )
    return [
        Recorded(
            id=row["id"],
            provider_event_id=row["provider_event_id"],
            cursor=row["cursor"],
            is_duplicate=row["is_duplicate"],
        )
        for row in rows
    ]


class Row(Protocol):
    """An asyncpg.Record, or any mapping of column names to stored values."""

    def __getitem__(self, name: str, /) -> Any: ...


# Fields a StoredEvent has that no read fills in (see COLUMNS).
_NOT_READ: dict[str, Any] = {"source_envelope": None, "source_body_id": None}


def row_to_event(row: Row) -> StoredEvent:
    """Validated, as every StoredEvent is: pydantic's validation of a row
    (~10 us) costs no more than model_construct, which runs in Python."""
    return StoredEvent(**_NOT_READ, **{name: read(row[name]) for name, read in _READERS})


# The LIMIT of every read is spelled into the statement as a literal, never
# passed as a parameter. Why: `events` is partitioned by week (migration
# 0006), so planning a read costs a plan per partition, and PostgreSQL's plan
# cache only saves that when it keeps a statement's generic plan. It compares
# the generic plan's cost with the average of the custom ones; with `LIMIT $n`
# the generic plan is costed as if it returned 10% of the matching rows (the
# planner's default for an unknown LIMIT), so it always looked dearer and
# every execution was planned anew over every partition: at 1,000,000 events
# over 90 days (~14 weeks) the listings took 1.6-2.7 x the time they take on
# one table (README "Retention", bench/bench_partitions.py). With the literal,
# the generic plan is costed for the rows asked for and is kept from the 6th
# execution of a prepared statement on (pg_prepared_statements counts them:
# tests/storage/test_generic_plans.py). Not enough for two reads, still
# planned on every call: a provider_prefix listing and the watch's read,
# whose generic plans are costed with PostgreSQL's default selectivity for an
# unknown prefix or cursor range. A provider's whole prefix ("sentry:") is a
# literal too (literal_provider_prefix); any other prefix is still planned
# per call.
# Each limit is then a statement of its own in asyncpg's statement cache (100
# per connection, LRU) and in PostgreSQL's. Not bucketed: the limits are the
# page and window sizes of server/domain/validation.py (clients use a few:
# mostly the defaults), rounding a coverage or recurrence window up would
# change its answer, and rounding a page up would fetch and decode rows for
# nothing. Should a connection ever cycle through more than 100 statements,
# each is prepared again: one more round trip and the custom plan that the
# parameter cost on every call anyway.
MAX_LITERAL_LIMIT = 100_000


def literal_limit(limit: int) -> str:
    """`limit` as it is spelled into the SQL: checked to be a plain int in
    range, so that nothing but digits can reach the statement."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int, not {type(limit).__name__}")
    if not 0 <= limit <= MAX_LITERAL_LIMIT:
        raise ValueError(f"limit out of range: {limit}")
    return str(limit)


_WORD = re.compile(r"[a-z][a-z0-9_]{0,63}")


def literal_word(value: str) -> str | None:
    """`value` as an SQL string literal when it is a plain lower-case word
    (a constant of the code: a stage, a work item kind), else None.

    For the same reason as literal_limit: a generic plan estimates
    `stage <> $n` as 1 - 1/(distinct stages), half the rows or less, where
    `stage <> 'heartbeat'` is nearly all of them, so its window walk looked
    dearer than every custom plan's and was never kept."""
    return _quoted_if(_WORD, value)


# A provider's whole prefix: a provider name (server/domain/validation.py)
# and the colon every provider_event_id puts after it (derivation.py).
_PROVIDER_PREFIX = re.compile(r"[a-z0-9_-]{1,32}:")


def literal_provider_prefix(value: str) -> str | None:
    """`value` as an SQL string literal when it is a provider's whole prefix
    ("sentry:"), else None (then it stays a parameter).

    For the same reason as literal_limit: a generic plan costs an unknown
    prefix at PostgreSQL's default selectivity (0.5%), where "sentry:" is a
    third of the rows, so the listing by prefix was planned anew over every
    partition on every call. A provider's prefix is what the console asks for
    (a few values, one statement each); any other prefix, which may be rare,
    keeps its parameter and its custom plan, which can then pick the
    provider_event_id index instead of walking the cursor index."""
    return _quoted_if(_PROVIDER_PREFIX, value)


def _quoted_if(pattern: re.Pattern[str], value: str) -> str | None:
    """`value` quoted as an SQL literal when the whole of it matches
    `pattern` (patterns that admit no quote), else None."""
    return f"'{value}'" if pattern.fullmatch(value) else None


def filter_clauses(event_filter: EventFilter, args: list[Any]) -> list[str]:
    """SQL conditions for the filters that are set; appends their arguments.

    Built per call so that each query only names the filters in use and the
    planner can pick the matching index.
    """
    clauses: list[str] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if event_filter.project_id:
        clauses.append(f"project_id = {arg(event_filter.project_id)}")
    if event_filter.channel_type:
        clauses.append(f"channel_type = {arg(event_filter.channel_type)}")
    if event_filter.provider_prefix:
        prefix = literal_provider_prefix(event_filter.provider_prefix) or arg(
            event_filter.provider_prefix
        )
        clauses.append(f"starts_with(provider_event_id, {prefix})")
    if event_filter.provider:
        clauses.append(f"provider = {arg(event_filter.provider)}")
    if event_filter.provider_event_id:
        clauses.append(f"provider_event_id = {arg(event_filter.provider_event_id)}")
    if event_filter.exclude_stage:
        # Set by the code only (the read models leave heartbeats out): a literal.
        stage = literal_word(event_filter.exclude_stage) or arg(event_filter.exclude_stage)
        clauses.append(f"stage <> {stage}")
    if event_filter.run_id is not None:
        clauses.append(
            f"id IN (SELECT event_id FROM run_events WHERE run_id = {arg(event_filter.run_id)})"
        )
    return clauses


def _newest_query(
    columns: Sequence[str], event_filter: EventFilter, limit: int, before_cursor: int | None
) -> tuple[str, list[Any]]:
    """`columns` of the newest `limit` matching events below `before_cursor`."""
    args: list[Any] = []
    clauses = filter_clauses(event_filter, args)
    if before_cursor is not None:
        args.append(before_cursor)
        clauses.append(f"cursor < ${len(args)}")
    where = " AND ".join(clauses) or "true"
    return (
        f"SELECT {', '.join(columns)} FROM events WHERE {where} "
        f"ORDER BY cursor DESC LIMIT {literal_limit(limit)}",
        args,
    )


def recent_events_query(
    event_filter: EventFilter, limit: int, before_cursor: int | None = None
) -> tuple[str, list[Any]]:
    """ListRecentEvents' statement and its arguments: the EventSummary columns
    (ListedEvent's, in its order) of the newest `limit` matching events below
    `before_cursor`, newest first.
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL."""
    return _newest_query(ListedEvent._fields, event_filter, limit, before_cursor)


def list_events_query(
    event_filter: EventFilter, limit: int, before_cursor: int | None = None
) -> tuple[str, list[Any]]:
    """GetEventDossier's statement and its arguments: every ChannelEvent column
    (DossierEvent's, in its order) of the newest `limit` matching events below
    `before_cursor`, newest first.
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL."""
    return _newest_query(DossierEvent._fields, event_filter, limit, before_cursor)


async def recent_events(
    connection: asyncpg.Connection,
    event_filter: EventFilter,
    limit: int,
    before_cursor: int | None = None,
) -> list[ListedEvent]:
    """ListRecentEvents' rows, newest first: the record's values are the
    row's fields, in order (recent_events_query selects them so)."""
    sql, args = recent_events_query(event_filter, limit, before_cursor)
    make = ListedEvent._make
    return [make(record) for record in await connection.fetch(sql, *args)]


_REFS = DossierEvent._fields.index("source_refs")


def _ref(value: dict[str, str]) -> RefRow:
    # Tolerant as SourceRef is: a ref without a url has an empty one.
    return RefRow(value["system"], value["kind"], value["id"], value.get("url", ""))


def _dossier_event(record: asyncpg.Record) -> DossierEvent:
    values = list(record)
    values[_REFS] = [_ref(ref) for ref in values[_REFS]]
    return DossierEvent._make(values)


async def dossier_events(
    connection: asyncpg.Connection,
    event_filter: EventFilter,
    limit: int,
    before_cursor: int | None = None,
) -> list[DossierEvent]:
    """GetEventDossier's rows, newest first."""
    sql, args = list_events_query(event_filter, limit, before_cursor)
    return [_dossier_event(record) for record in await connection.fetch(sql, *args)]


async def events_after(
    connection: asyncpg.Connection,
    event_filter: EventFilter,
    after_cursor: int,
    limit: int,
    upto: int | None = None,
    projects: Collection[str] | None = None,
) -> list[StoredEvent]:
    """Matching events above `after_cursor` (and at most `upto`, and of
    `projects` when given), oldest first.

    A reader that moves a position past what it read (the watch) passes
    `upto` = a final_cursor read earlier: events above it may be visible
    while an event below them is still to commit."""
    args: list[Any] = []
    clauses = filter_clauses(event_filter, args)
    if projects is not None:
        args.append(sorted(projects))
        clauses.append(f"project_id = ANY(${len(args)}::text[])")
    args.append(after_cursor)
    clauses.append(f"cursor > ${len(args)}")
    if upto is not None:
        args.append(upto)
        clauses.append(f"cursor <= ${len(args)}")
    # A literal LIMIT (see literal_limit); planned anew on every call all the
    # same: a generic plan cannot know how many events the cursor range holds.
    rows = await connection.fetch(
        f"{_SELECT_EVENTS} WHERE {' AND '.join(clauses)} "
        f"ORDER BY cursor LIMIT {literal_limit(limit)}",
        *args,
    )
    return [row_to_event(row) for row in rows]


# Below (xmin << 20) every event is final: each transaction with a smaller id
# has ended, each later one gets a larger id (migration 0005). The highest
# event there, or the highest cursor of the old scheme, whichever is larger.
# `pending`: a committed event exists above it (a transaction still open
# holds the bound back; the listener looks again soon).
# An uncorrelated subquery, computed once per statement (one snapshot: the same
# value at both places) and so usable as an index bound; joined in as a CTE
# it made max() read every index entry and `pending` scan the table
# (650-1,125 ms at 1,000,000 events, bench/PLANS.md).
# Both halves are max(cursor), which PostgreSQL answers with one backward step
# down each partition's cursor index whatever its statistics say. `pending`
# as `EXISTS (… WHERE cursor >= horizon)` was costed as if a third of the rows
# lay above the horizon and ran as a sequential scan of the largest
# partition: ~100 ms per commit signal at 1,000,000 events.
_HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20"
_FINAL_CURSOR = f"""
SELECT greatest(
           (SELECT last_cursor FROM event_cursor),
           (SELECT max(cursor) FROM events WHERE cursor < ({_HORIZON}))
       ) AS final,
       coalesce((SELECT max(cursor) FROM events) >= ({_HORIZON}), false) AS pending
"""


async def final_cursor(connection: asyncpg.Connection) -> tuple[int, bool]:
    """The highest cursor below which every event is final, and whether a
    committed event waits above it."""
    row = await connection.fetchrow(_FINAL_CURSOR)
    assert row is not None
    return int(row["final"]), bool(row["pending"])


_COVERAGE_REF_TOTALS = ref_total_aggregates()
# What the totals read of each event: flags and counts, never a text or a
# jsonb value (whether an envelope exists is all coverage needs of it).
_COVERAGE_COLUMNS = ", ".join(
    [
        "provider", "is_duplicate", "has_redacted_content", "source_ref_count",
        *(ref_flag(system) for system in REF_SYSTEMS),
        "source_envelope IS NOT NULL AS has_source_envelope", "received_at",
    ]
)


def coverage_query(event_filter: EventFilter, limit: int) -> tuple[str, list[Any]]:
    """GetDossierCoverage's statement and its arguments: per-provider totals
    over the most recent `limit` matching events, by provider name.
    Pure; the bench baseline (bench/baseline.py) runs exactly this SQL."""
    args: list[Any] = []
    where = " AND ".join(filter_clauses(event_filter, args)) or "true"
    sql = f"""
        WITH recent AS (
            SELECT {_COVERAGE_COLUMNS} FROM events WHERE {where}
            ORDER BY cursor DESC LIMIT {literal_limit(limit)}
        )
        SELECT provider,
               count(*) AS total,
               count(*) FILTER (WHERE is_duplicate) AS duplicate_total,
               count(*) FILTER (WHERE has_redacted_content) AS redacted_total,
               coalesce(sum(source_ref_count), 0) AS source_ref_total,
               count(*) FILTER (WHERE source_ref_count = 0) AS missing_source_refs_total,
               {_COVERAGE_REF_TOTALS},
               count(*) FILTER (WHERE has_source_envelope) AS source_envelope_total,
               max(received_at) AS latest_received_at
        FROM recent GROUP BY provider ORDER BY provider
        """
    return sql, args


async def coverage_by_provider(
    connection: asyncpg.Connection, event_filter: EventFilter, limit: int
) -> list[ProviderCoverage]:
    """Per-provider totals over the most recent `limit` matching events."""
    sql, args = coverage_query(event_filter, limit)
    rows = await connection.fetch(sql, *args)
    return [ProviderCoverage(**dict(row)) for row in rows]
