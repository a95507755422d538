"""The read statements keep their generic plan once warmed up, on a
partitioned `events` of many weeks (events.literal_limit says why it matters:
a statement planned anew on every call plans every week partition).

PostgreSQL's plan cache plans a prepared statement's first 5 executions for
their parameters (custom plans), then keeps the generic plan whenever it is
not dearer than their average; pg_prepared_statements counts both. With a
`LIMIT $n` the generic plan was costed for 10% of the rows and never kept
(10 executions: 0 generic, 10 custom): that must not come back.

The data: 200 events recorded, copied 100 times, spread over 90 days (13-14
weeks), 4 projects, 3 providers, firing, resolved and heartbeat stages.
Too few rows and the generic plan of a `LIMIT $n` is cheap anyway (10% of a
few hundred rows is a page): the test would pass without the fix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, EventFilter
from server.domain.recurrence import recurrence_filter
from server.storage import events, partitions
from server.storage.database import connect
from server.storage.events import coverage_query, list_events_query, recent_events_query
from server.storage.recurrence import group_query

DAYS = 90
PROJECTS = 4
SAMPLE = 200
COPIES = 100
EXECUTIONS = 10
# The plan cache's custom plans before it weighs the generic one (plancache.c).
WARM_UP = 5


def _stage(n: int) -> str:
    """Alerts fire, resolve, and heartbeats come between them."""
    return "heartbeat" if n % 10 == 9 else "resolved" if n % 5 == 4 else "firing"


@pytest.fixture
async def connection(database: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database whose events span DAYS days of week partitions."""
    opened = await connect(database)
    now = datetime.now(UTC)
    await partitions.ensure_partitions(opened, now - timedelta(days=DAYS + 1), now)
    await events.insert_events(opened, [
        derive_event(AlertEventInput(
            project_id=f"proj-{n % PROJECTS}",
            provider=("alertmanager", "sentry", "signoz")[n % 3],
            event_id=f"evt-{n}",
            title="HighPodMemory" if n % 2 else "DiskFull",
            stage=_stage(n),
        ))
        for n in range(SAMPLE)
    ])
    # COPIES times as many, with cursors of their own (below the recorded
    # ones), spread over the days as a history is: the generic plan of
    # `LIMIT $n` is costed for 10% of the matching rows, which must be many
    # more than a page for the test to tell the difference.
    columns = [c.name for c in events.COLUMNS if c.name not in ("id", "cursor")]
    await opened.execute(
        f"""INSERT INTO events (id, cursor, {", ".join(columns)})
            SELECT gen_random_uuid(), k * $1 + row_number() OVER (PARTITION BY k),
                   {", ".join(columns)}
            FROM events CROSS JOIN generate_series(1, $2) AS k""",
        SAMPLE, COPIES,
    )
    await opened.execute(
        "UPDATE events SET received_at = now() - (cursor % $1) * interval '1 day'", DAYS
    )
    await opened.execute("ANALYZE events")
    yield opened
    await opened.close()


async def _plans_after_executions(
    connection: asyncpg.Connection, sql: str, args: list[Any]
) -> tuple[int, int]:
    """(generic, custom) plans of `sql` after EXECUTIONS executions."""
    for _ in range(EXECUTIONS):
        await connection.fetch(sql, *args)
    return await _plans(connection, sql)


async def _plans(connection: asyncpg.Connection, sql: str) -> tuple[int, int]:
    row = await connection.fetchrow(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
        sql,
    )
    assert row is not None, "the statement was not prepared"
    return row["generic_plans"], row["custom_plans"]


def _statements() -> dict[str, tuple[str, list[Any]]]:
    project = EventFilter(project_id="proj-1")
    window = recurrence_filter("proj-1", "")
    return {
        "ListRecentEvents": recent_events_query(project, 21),
        "ListRecentEvents, next page": recent_events_query(project, 21, before_cursor=1 << 62),
        "GetEventDossier": list_events_query(project, 51),
        "GetEventDossier by provider_event_id": list_events_query(
            EventFilter(provider_event_id="sentry:evt-1"), 21
        ),
        "ListRecentEvents by a provider's prefix": recent_events_query(
            EventFilter(provider_prefix="sentry:"), 101
        ),
        "GetDossierCoverage": coverage_query(project, 200),
        "GetDossierRecurrence": group_query(window, 300),
        "PreviewWorkItem": group_query(window, 300, work_item_id="wi-0123456789abcdef"),
        "HandoffWorkItem": group_query(
            window, 300, work_item_id="wi-0123456789abcdef", with_refs=True
        ),
    }


def _still_custom() -> dict[str, tuple[str, list[Any]]]:
    """Known, not fixed: a statement whose generic plan is costed with a
    default selectivity for an unknown prefix (0.5%), so the custom plans
    (which know how many rows the prefix holds) always look cheaper. Planned
    on every call, on purpose: a prefix other than a provider's whole one
    ("sentry:", a literal) may be rare, and its custom plan can use the
    provider_event_id index where a generic one would walk the cursor index."""
    return {
        "ListRecentEvents by a longer prefix": recent_events_query(
            EventFilter(provider_prefix="sentry:evt-1"), 101
        ),
    }


async def test_the_history_spans_many_week_partitions(connection: asyncpg.Connection) -> None:
    holding = await connection.fetchval("SELECT count(DISTINCT tableoid) FROM events")
    assert holding >= 13


@pytest.mark.parametrize("name", list(_statements()))
async def test_a_read_statement_runs_on_its_generic_plan_after_warm_up(
    connection: asyncpg.Connection, name: str
) -> None:
    sql, args = _statements()[name]
    # A statement without parameters has only the one plan, generic from the start.
    expected = (EXECUTIONS - WARM_UP, WARM_UP) if args else (EXECUTIONS, 0)
    assert await _plans_after_executions(connection, sql, args) == expected


@pytest.mark.parametrize("name", list(_still_custom()))
async def test_a_prefix_listing_is_still_planned_on_every_call(
    connection: asyncpg.Connection, name: str
) -> None:
    """When this fails, the statement has a generic plan now: move it up."""
    sql, args = _still_custom()[name]
    assert await _plans_after_executions(connection, sql, args) == (0, EXECUTIONS)


async def test_the_watch_read_is_still_planned_on_every_call(
    connection: asyncpg.Connection,
) -> None:
    """As _still_custom says (its cursor range); when this fails, it has a
    generic plan now."""
    upto, _ = await events.final_cursor(connection)
    for _ in range(EXECUTIONS):
        await events.events_after(connection, EventFilter(), 0, 256, upto, {"proj-1", "proj-2"})
    [sql] = [
        row["statement"]
        for row in await connection.fetch("SELECT statement FROM pg_prepared_statements")
        if "cursor > $2 AND cursor <= $3 ORDER BY cursor LIMIT 256" in row["statement"]
    ]
    assert await _plans(connection, sql) == (0, EXECUTIONS)


def test_a_limit_is_spelled_as_digits_or_refused() -> None:
    assert events.literal_limit(21) == "21"
    for wrong in (True, "21", 21.0, None):
        with pytest.raises(TypeError):
            events.literal_limit(wrong)  # type: ignore[arg-type]
    for wrong in (-1, events.MAX_LITERAL_LIMIT + 1):
        with pytest.raises(ValueError):
            events.literal_limit(wrong)
    for sql, _ in [*_statements().values(), *_still_custom().values()]:
        assert "LIMIT $" not in sql
