"""The work item id PostgreSQL computes to find a work item's group is the id
the domain gives the work item (server/domain/work_item_rules.py)."""

from __future__ import annotations

from server.domain.models import EventFilter
from server.domain.work_item_rules import WorkItemKind, work_item_id
from server.storage.database import connect
from server.domain.recurrence import GroupFacts
from server.storage.recurrence import _FACT_COLUMNS, _work_item_id_sql, group_query

KEYS = [
    ("alpha", "alertmanager:fp-1"),
    ("proj|with|bars", "sentry:HighMemory/prod/api-7d9f"),
    ("ünïcode-プロジェクト", "signoz:Ärger/名前空間/pod-0"),
    ("", ""),
]


async def test_the_sql_work_item_id_is_the_domains_for_every_kind(database: str) -> None:
    connection = await connect(database)
    try:
        for project_id, key in KEYS:
            for kind in WorkItemKind:
                in_sql = await connection.fetchval(
                    f"SELECT {_work_item_id_sql('$1::text', '$2::text', '$3::text')}",
                    project_id, key, kind.value,
                )
                assert in_sql == work_item_id(project_id, key, kind)
    finally:
        await connection.close()


def test_a_work_item_query_narrows_the_same_window_to_one_group() -> None:
    event_filter = EventFilter(project_id="alpha", exclude_stage="heartbeat")
    whole, whole_args = group_query(event_filter, 300)
    one, one_args = group_query(event_filter, 300, work_item_id="wi-0123456789abcdef")

    # The stage, the limit and the kinds are the code's constants: literals.
    assert whole_args == ["alpha"]
    assert one_args == [*whole_args, "wi-0123456789abcdef"]
    window = whole.split("\n")[1]
    assert "stage <> 'heartbeat' ORDER BY cursor DESC LIMIT 300" in window
    assert window in one and "considered AS MATERIALIZED" in one
    kinds = ", ".join(f"'{k.value}'" for k in WorkItemKind)
    assert "FROM considered c" in one and "= $2)" in one
    assert f"unnest(ARRAY[{kinds}]::text[])" in one


def test_only_a_handoffs_query_reads_the_refs() -> None:
    event_filter = EventFilter(project_id="alpha")
    without, _ = group_query(event_filter, 300)
    with_refs, _ = group_query(event_filter, 300, work_item_id="wi-1", with_refs=True)

    assert "group_refs" not in without and " AS refs" not in without
    assert "jsonb_array_elements(r.source_refs)" in with_refs
    assert "LEFT JOIN group_refs f USING (project_id, recurrence_key)" in with_refs


def test_the_query_selects_the_facts_in_group_facts_order_then_the_rest() -> None:
    assert GroupFacts._fields == (*_FACT_COLUMNS, "source_refs", "runs")
    sql, _ = group_query(EventFilter(), 100)
    select = sql[sql.rindex("\nSELECT ") + 1 : sql.rindex("FROM totals")]
    names = [item.split(" AS ")[-1].split(".")[-1].strip() for item in select[7:].split(",\n")]
    assert names == [*_FACT_COLUMNS, "runs", "handoffs", "as_of"]
