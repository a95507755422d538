"""The events columns, pure: one declaration per column, and the SQL and the
row mapping made from it. No database; tests/api covers the real writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from server.domain.derivation import derive_event, source_body
from server.domain.models import (
    REF_SYSTEMS,
    AlertEventInput,
    EventFilter,
    NewEvent,
    SourceRef,
    StoredEvent,
)
from server.storage import events
from server.storage.events import COLUMNS, Column, row_to_event
from server.storage.migrations import MIGRATIONS_DIR
from server.storage.recurrence import group_query

# The casts of the declarations, as the migrations spell the types.
_MIGRATION_TYPE = {"int": "integer", "bool": "boolean"}


def _parenthesised_after(sql: str, opening: str) -> list[str]:
    """The comma-separated names in the parentheses that `opening` ends with."""
    start = sql.index(opening) + len(opening)
    return [name.strip() for name in sql[start : sql.index(")", start)].split(",")]


def _migrated_event_columns() -> dict[str, str]:
    """name -> type of every events column the migrations create."""
    columns: dict[str, str] = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        sql = path.read_text()
        table = re.search(r"CREATE TABLE events \((.*?)\n\);", sql, re.DOTALL)
        if table:
            for line in table.group(1).splitlines():
                column = re.match(r"\s+([a-z_0-9]+) ([a-z]+)", line)
                if column:
                    columns[column.group(1)] = column.group(2)
        for name, type_ in re.findall(r"ALTER TABLE events ADD COLUMN ([a-z_0-9]+) ([a-z]+)", sql):
            columns[name] = type_
    return columns


def _new_event(**changes: Any) -> NewEvent:
    """A derived event with a ref of some systems, not all, and a webhook body."""
    alert = AlertEventInput(
        project_id="alpha",
        provider="sentry",
        event_id="1",
        title="HighMemory",
        fingerprint="fp-1",
        labels={"trace_id": "abc"},
        annotations={"summary": "token=abc123secretvalue"},
        provider_ts=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        source_refs=[SourceRef(system="alert", kind="rule", id="r")],
    )
    event = derive_event(alert, source_body("alpha", "sentry", {"level": "error"}))
    return event.model_copy(update=changes)


def _stored_row(event: NewEvent, computed: dict[str, Any]) -> dict[str, Any]:
    """What PostgreSQL holds after the INSERT: each sent value as the pool's
    codecs read it back (jsonb arrives as text and leaves as JSON values)."""
    row = dict(computed)
    for column in events._SENT:
        [value] = column.batch_values([event])
        row[column.name] = json.loads(value) if column.pg_type == "jsonb" and value is not None else value
    return row


def test_every_events_column_is_declared_once_with_its_migrated_type() -> None:
    names = [c.name for c in COLUMNS]
    assert len(names) == len(set(names))
    declared = {c.name: _MIGRATION_TYPE.get(c.pg_type, c.pg_type) for c in COLUMNS}
    assert declared == _migrated_event_columns()


def _write_migration() -> Path:
    """The last migration that (re)defines record_events()."""
    return [p for p in sorted(MIGRATIONS_DIR.glob("*.sql")) if "FUNCTION record_events(" in p.read_text()][-1]


_WRITE_MIGRATION = _write_migration()


def _squeezed(sql: str) -> str:
    return " ".join(sql.split())


def _record_events_parameters() -> list[tuple[str, str]]:
    """(name, type) of each parameter of record_events(), as the migration declares them."""
    sql = _WRITE_MIGRATION.read_text()
    opening = "FUNCTION record_events("
    declared = sql[sql.index(opening) + len(opening) :]
    declared = declared[: declared.index("\n) RETURNS")]
    return [tuple(line.strip().rstrip(",").split(" ", 1)) for line in declared.splitlines() if line.strip()]  # type: ignore[misc]


def test_record_events_takes_one_array_per_sent_column_in_order() -> None:
    parameters = _record_events_parameters()
    assert parameters[:4] == [
        ("in_body_id", "uuid"),
        ("in_body_project_id", "text"),
        ("in_body_provider", "text"),
        ("in_body_fields", "text"),
    ]
    sent = [(c.parameter, _MIGRATION_TYPE.get(c.batch_type, c.batch_type) + "[]") for c in events._SENT]
    assert parameters[4:] == sent + [("in_repeated_in_batch", "boolean[]")]


def test_record_events_unnests_every_array_and_inserts_every_column_once() -> None:
    sql = _WRITE_MIGRATION.read_text()
    arrays = _parenthesised_after(sql, "SELECT * FROM unnest(")
    assert arrays == [c.parameter for c in events._SENT] + ["in_repeated_in_batch"]
    aliases = _parenthesised_after(sql, "WITH ORDINALITY AS b(")
    assert aliases == [c.name for c in events._SENT] + ["repeated_in_batch", "ord"]
    inserted = _parenthesised_after(sql, "INSERT INTO events AS e (")
    assert sorted(inserted) == sorted(c.name for c in COLUMNS)
    assert len(inserted) == len(set(inserted))


def test_record_events_computes_what_the_declarations_say_it_does() -> None:
    sql = _squeezed(_WRITE_MIGRATION.read_text())
    for column in COLUMNS:
        assert _squeezed(column.insert_value) in sql, column.name
    assert len(events._SENT) == sum(1 for c in COLUMNS if not c.computed)


def test_the_call_names_every_parameter_once() -> None:
    call = events._RECORD_EVENTS
    named = re.findall(r"(in_[a-z_0-9]+) => \$(\d+)", call)
    assert [name for name, _ in named] == [name for name, _ in _record_events_parameters()]
    assert [int(n) for _, n in named] == list(range(1, len(named) + 1))


def test_record_events_takes_its_locks_before_its_transaction_id_and_its_duplicate_check() -> None:
    # The key locks come before anything that takes a transaction id, and the
    # duplicate check's snapshot after them (see the migration).
    sql = _WRITE_MIGRATION.read_text()
    body = sql[sql.index("#variable_conflict") :]
    key_locks = body.index("pg_advisory_xact_lock(")
    assert key_locks < body.index("FOR KEY SHARE") < body.index("INSERT INTO source_bodies")
    assert body.index("INSERT INTO source_bodies") < body.index("pg_current_xact_id()")
    assert body.index("pg_current_xact_id()") < body.index("RETURN QUERY") < body.index("LEFT JOIN LATERAL")
    assert "pg_notify" not in body and "UPDATE event_cursor" not in body
    # One plan per connection, and one that probes the index (migration 0007).
    assert "SET plan_cache_mode = force_generic_plan\nSET enable_seqscan = off" in sql


def test_the_select_list_is_every_stored_event_field_but_the_source_body_and_envelope() -> None:
    selected = events._SELECT_EVENTS.removeprefix("SELECT ").removesuffix(" FROM events")
    names = selected.split(", ")
    assert len(names) == len(set(names))
    assert set(names) == set(StoredEvent.model_fields) - {"source_body_id", "source_envelope"}
    # Derived again by StoredEvent, or written only.
    assert "source_ref_count" not in names and "source_body_id" not in names


def test_each_ref_system_has_a_flag_column_written_from_the_refs() -> None:
    flags = {c.name: c for c in COLUMNS if c.name.startswith("has_") and c.name.endswith("_ref")}
    assert list(flags) == [f"has_{system}_ref" for system in REF_SYSTEMS]
    event = _new_event()
    assert {name: c.batch_values([event]) for name, c in flags.items()} == {
        "has_sentry_ref": [True],
        "has_signoz_ref": [False],
        "has_alert_ref": [True],
    }


def test_a_stored_row_reads_back_as_the_event_it_was_written_from() -> None:
    event = _new_event()
    received = datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)
    row = _stored_row(event, {"cursor": 7, "is_duplicate": True, "received_at": received})
    assert row["source_ref_count"] == len(event.source_refs) >= 2
    assert row["source_body_id"] == event.source_body_id is not None

    stored = row_to_event(row)

    # Neither the body nor the envelope is read back (no read returns them).
    expected = event.model_dump() | {"source_body_id": None, "source_envelope": None}
    assert stored == StoredEvent(**expected, cursor=7, is_duplicate=True, received_at=received)
    assert stored.source_refs == event.source_refs


def test_a_legacy_row_without_envelope_reads_back_with_none() -> None:
    event = _new_event(source_envelope=None, source_refs=[], provider_ts=None)
    received = datetime(2024, 5, 1, tzinfo=UTC)
    row = _stored_row(event, {"cursor": 1, "is_duplicate": False, "received_at": received})
    assert row["source_envelope"] is None

    stored = row_to_event(row)

    assert stored.source_envelope is None
    assert stored.source_refs == [] and stored.source_ref_count == 0


def test_a_column_is_either_sent_or_set_by_the_statement() -> None:
    with pytest.raises(ValueError):
        Column("neither", "text")
    with pytest.raises(ValueError):
        Column("both", "text", write=lambda e: e.id, computed="now()")
    with pytest.raises(TypeError):
        Column("cursor", "bigint", computed="$1").batch_values([_new_event()])


def test_the_coverage_and_recurrence_sql_total_every_ref_system() -> None:
    for qualifier in ("", "r."):
        sql = events.ref_total_aggregates(qualifier)
        for system in REF_SYSTEMS:
            assert f"FILTER (WHERE {qualifier}has_{system}_ref) AS {system}_ref_total" in sql


def test_the_recurrence_query_fills_in_its_window_and_ref_totals_without_format() -> None:
    sql, args = group_query(EventFilter(project_id="alpha", exclude_stage="heartbeat"), 50)

    assert args == ["alpha"]
    assert "WHERE project_id = $1 AND stage <> 'heartbeat' ORDER BY cursor DESC LIMIT 50" in sql
    assert "/* ref totals */" not in sql
    assert "g.runs AS runs" in sql  # NULL for a group without runs: nothing to decode
    for system in REF_SYSTEMS:
        assert f"has_{system}_ref" in sql.split("FROM events")[0]
        assert f"count(*) FILTER (WHERE r.has_{system}_ref) AS {system}_ref_total" in sql
