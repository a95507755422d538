"""GetDossierRecurrence with 100 events in the table vs 200,000, in one run.

Two databases on the same PostgreSQL (an embedded one, or DATABASE_URL), one
server each, the same call against both, interleaved so that the noise of this
shared machine hits both alike. Both windows hold the same 100 events (the
default limit), so only the size of the table differs: a ratio near 1 means
the read model's cost follows `limit`, not the table.

Why (EXPLAIN ANALYZE of the group query at 200,000 events, printed below; the
full reasoning is in server/storage/recurrence.py): the window CTE is a LIMIT
over a backward index walk, on (project_id, cursor) for a project that is rare
among the newest rows,

    Limit (actual rows=100)
      -> Index Scan Backward using events_project_cursor on events
           Index Cond: (project_id = 'proj-rare')
           Filter: (stage <> 'heartbeat')

or on (cursor) with a filter when the project fills the newest rows, as proj-1
does here (the planner's choice; it also stops after `limit` matches). The
joins to run_events (by its event_id index) and runs (by primary key) and the
GROUP BYs only ever see those rows.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from awooop.channel_events.v1 import dossier_pb2

from server.domain.recurrence import recurrence_filter
from server.storage.partitions import ensure_partitions
from server.storage.recurrence import group_query
from tests.harness import PostgresForTests, Service, start_service, stop_service

SMALL, LARGE = 100, 200_000
WINDOW = 100
CALLS = 100
PROJECT = "proj-1"

# The newest WINDOW events are the same in both databases: project proj-1,
# 40 recurrence keys, a duplicate every 7th, a run for every 3rd with states
# and repair statuses cycling so that every kind of work item appears. The
# older ones (the large database only) spread over 20 projects, proj-1
# included, with a heartbeat every 25th and runs of their own. `h` numbers
# the window's events 1..WINDOW in both databases; ids derive from the row
# number, so the runs and links are written set-based too.
_ROWS = """
WITH rows AS (
    SELECT g, g > $1 - {window} AS in_window,
           CASE WHEN g > $1 - {window} THEN g - ($1 - {window}) ELSE g END AS h
    FROM generate_series(1, $1) AS g
)
""".format(window=WINDOW)

_PROJECT = "CASE WHEN in_window THEN $2 ELSE 'proj-' || (g % 20) END"

_EVENTS = _ROWS + f"""
INSERT INTO events (
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    alertname, severity, namespace, target_resource, fingerprint, recurrence_key,
    content_redacted, content_preview, has_redacted_content, redaction_version,
    content_sha256, content_length, source_refs, source_ref_count, has_alert_ref,
    source_envelope, is_duplicate, received_at)
SELECT md5('evt' || g)::uuid, g, {_PROJECT}, 'alert', 'alertmanager', 'alertmanager:evt-' || g,
       CASE WHEN NOT in_window AND g % 25 = 0 THEN 'heartbeat' ELSE 'firing' END,
       'Alert' || (h % 40), 'warning', 'ns', 'pod-' || (h % 40), 'fp-' || (h % 40),
       'alertmanager:fp-' || (h % 40), 'content ' || h, 'content ' || h, false, 'v1',
       md5(h::text), 10,
       '[{{"system": "alert", "kind": "fingerprint", "id": "fp", "url": ""}}]', 1, true,
       '{{}}', h % 7 = 0, now() - ($1 - g) * interval '1 second'
FROM rows
"""

_RUNS = _ROWS + f"""
INSERT INTO runs (run_id, project_id, state, agent_id, incident_id, repair_status, update_seq)
SELECT md5('run' || g)::uuid, {_PROJECT},
       (ARRAY['completed', 'failed', 'waiting_approval', 'running'])[1 + (h / 3) % 4],
       'agent-' || (h % 3), 'INC-' || (h % 11),
       (ARRAY['none', 'attempted', 'verified', 'failed'])[1 + (h / 6) % 4], g
FROM rows WHERE h % 3 = 0
"""

_LINKS = _ROWS + """
INSERT INTO run_events (run_id, event_id)
SELECT md5('run' || g)::uuid, md5('evt' || g)::uuid FROM rows WHERE h % 3 = 0
"""


async def write_history(dsn: str, events: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            # The weeks the history reaches back to (events is partitioned, 0006).
            now = datetime.now(UTC)
            await ensure_partitions(connection, now - timedelta(seconds=events + 60), now)
            await connection.execute(_EVENTS, events, PROJECT)
            await connection.execute(_RUNS, events, PROJECT)
            await connection.execute(_LINKS, events)
            await connection.execute("UPDATE event_cursor SET last_cursor = $1", events)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def explain(dsn: str, limit: int) -> str:
    sql, args = group_query(recurrence_filter(PROJECT, ""), limit)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", *args)
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


async def _call(service: Service, limit: int) -> dossier_pb2.GetDossierRecurrenceResponse:
    return await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id=PROJECT, limit=limit)
    )


def _shape(response: dossier_pb2.GetDossierRecurrenceResponse) -> list[tuple[object, ...]]:
    summary = dossier_pb2.RecurrenceSummary()
    summary.CopyFrom(response.summary)
    summary.ClearField("latest_received_at")
    return [(summary.SerializeToString(deterministic=True),)] + [
        (i.recurrence_key, i.occurrence_total, i.linked_run_total, i.work_item.work_item_id)
        for i in response.items
    ]


async def _median_ms(service: Service, limit: int) -> float:
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        await _call(service, limit)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def _run() -> None:
    postgres = PostgresForTests()
    services: list[Service] = []
    dsns: list[str] = []
    try:
        for size in (SMALL, LARGE):
            dsn = await postgres.fresh_database()
            await write_history(dsn, size)
            dsns.append(dsn)
            services.append(await start_service(dsn))
        small, large = services
        for service in services:
            await _call(service, WINDOW)  # warm-up
        # Same window, same read model: only the table around it differs.
        seen = [await _call(service, WINDOW) for service in services]
        assert [_shape(r) for r in seen] == [_shape(seen[0])] * 2, "read models differ"
        print(f"window: {seen[0].summary.source_event_total} events, "
              f"{seen[0].summary.recurrence_group_total} groups, "
              f"{seen[0].summary.linked_run_total} linked, "
              f"{seen[0].summary.open_work_item_group_total} open work items")
        print(f"{'call':32} {'p50 @100 (ms)':>14} {'p50 @200k (ms)':>15} {'ratio':>7}")
        for limit in (WINDOW, 300):
            at_small, at_large = [], []
            for _ in range(3):  # interleaved rounds: noise hits both sizes alike
                at_small.append(await _median_ms(small, limit))
                at_large.append(await _median_ms(large, limit))
            s, g = statistics.median(at_small), statistics.median(at_large)
            name = f"GetDossierRecurrence(limit={limit})"
            note = "" if limit == WINDOW else "  (small table holds only 100)"
            print(f"{name:32} {s:14.2f} {g:15.2f} {g / s:7.2f}{note}")
        print("\nEXPLAIN of the group query at 200,000 events, limit 100 (window part):")
        plan = (await explain(dsns[1], WINDOW)).splitlines()
        start = next(i for i, line in enumerate(plan) if "CTE recent" in line)
        print("\n".join(plan[start : start + 5]))
    finally:
        for service in services:
            await stop_service(service)
        postgres.close()


def main() -> None:
    asyncio.run(_run())


if __name__ == "__main__":
    main()
