"""The read RPCs' SQL as pure builders (the bench baseline runs the same
statements): the filters in use, and nothing else, become parameters; the
limit is a literal (events.literal_limit says why)."""

from __future__ import annotations

from uuid import UUID

from server.domain.models import EventFilter
from server.storage import events, work_items


def test_the_list_query_names_only_the_filters_in_use_and_ends_with_its_limit() -> None:
    sql, args = events.list_events_query(EventFilter(project_id="alpha"), 21)

    assert args == ["alpha"]
    assert sql.endswith("WHERE project_id = $1 ORDER BY cursor DESC LIMIT 21")


def test_the_list_query_continues_below_a_page_start() -> None:
    run = UUID(int=1)
    sql, args = events.list_events_query(EventFilter(run_id=run), 51, before_cursor=99)

    assert args == [run, 99]
    assert "run_events WHERE run_id = $1" in sql
    assert "cursor < $2 ORDER BY cursor DESC LIMIT 51" in sql


def test_the_list_query_without_filters_reads_the_newest_events() -> None:
    sql, args = events.list_events_query(EventFilter(), 20)

    assert args == []
    assert "WHERE true ORDER BY cursor DESC LIMIT 20" in sql


def test_the_coverage_query_groups_the_newest_matching_events_by_provider() -> None:
    sql, args = events.coverage_query(EventFilter(project_id="alpha", provider="sentry"), 100)

    assert args == ["alpha", "sentry"]
    assert "WHERE project_id = $1 AND provider = $2\n" in sql
    assert "ORDER BY cursor DESC LIMIT 100" in sql
    assert "GROUP BY provider ORDER BY provider" in sql
    # Flags and counts only: no text or jsonb value is carried into the totals.
    window = sql[sql.index("SELECT") : sql.index("FROM events")]
    assert "source_envelope IS NOT NULL AS has_source_envelope" in window
    for wide in ("content_redacted", "source_refs,", "log_correlation", "*"):
        assert wide not in window


def test_the_work_item_queries_take_the_work_item_and_an_optional_project() -> None:
    assert work_items.latest_dry_run_query("wi-1")[1] == ["wi-1"]
    (dry_runs, dry_args), (handoffs, handoff_args) = work_items.history_queries("wi-1", "")
    assert dry_args == handoff_args == ["wi-1"] and "$2" not in dry_runs + handoffs
    (dry_runs, dry_args), (handoffs, _) = work_items.history_queries("wi-1", "alpha")
    assert dry_args == ["wi-1", "alpha"]
    assert "FROM work_item_dry_runs" in dry_runs and "AND project_id = $2" in handoffs
