"""The read model over 200,000 stored events is the read model over its window.

The large history is inserted set-based in SQL (one INSERT ... SELECT
generate_series) into the test database, older than the history recorded
through the RPCs; the response must be what the same RPC history gives on an
empty table. This checks correctness, not timing (bench/bench_recurrence.py
measures the time).
"""

from __future__ import annotations

from collections import Counter

import asyncpg
from awooop.channel_events.v1 import dossier_pb2, work_items_pb2
from google.protobuf import json_format

from tests.history import ALPHA, build_history, by_key, recurrence
from tests.harness import PostgresForTests, Service, start_service, stop_service

BULK_ALPHA = 150_000
BULK_OTHER = 50_000
OLD_KEYS = 7

# Alpha's old events: every 10th is a heartbeat, keys cycle over OLD_KEYS
# fingerprints; then another project's. Cursors are taken from event_cursor
# the way a writer takes them, so the RPC events recorded afterwards are newer.
BULK_INSERT = """
WITH taken AS (
    UPDATE event_cursor SET last_cursor = last_cursor + $1 + $2 RETURNING last_cursor - $1 - $2 AS base
)
INSERT INTO events (
    id, cursor, project_id, channel_type, provider, provider_event_id, stage,
    fingerprint, alertname, recurrence_key, content_redacted, content_preview,
    has_redacted_content, redaction_version, content_sha256, content_length,
    source_refs, source_ref_count, has_alert_ref, is_duplicate)
SELECT gen_random_uuid(), taken.base + i,
       CASE WHEN i <= $1 THEN 'alpha' ELSE 'bulk' END,
       'alert', 'alertmanager', 'alertmanager:old-' || i,
       CASE WHEN i <= $1 AND i % 10 = 0 THEN 'heartbeat' ELSE 'firing' END,
       'old-' || (i % $3), 'Old', 'alertmanager:old-' || (i % $3), 'Old', 'Old',
       false, 'v1', repeat('0', 64), 3,
       jsonb_build_array(jsonb_build_object('system', 'alert', 'kind', 'fingerprint',
                                            'id', 'old-' || (i % $3), 'url', '')),
       1, true, false
FROM taken, generate_series(1, $1 + $2) AS i
"""


async def insert_bulk(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(BULK_INSERT, BULK_ALPHA, BULK_OTHER, OLD_KEYS)
        await connection.execute("ANALYZE events")
    finally:
        await connection.close()


def comparable(response: dossier_pb2.GetDossierRecurrenceResponse) -> dict[str, object]:
    """The response without what differs between two databases by nature:
    generated event and run ids, and times."""
    as_dict = json_format.MessageToDict(response, preserving_proto_field_name=True)
    for item in as_dict.get("items", []):
        for name in ("latest_event_id", "latest_run_id", "first_received_at", "latest_received_at"):
            item.pop(name, None)
    as_dict.get("summary", {}).pop("latest_received_at", None)
    return as_dict


def newest_old_keys(count: int) -> Counter[str]:
    """The keys of alpha's `count` newest non-heartbeat bulk events."""
    picked = (i for i in range(BULK_ALPHA, 0, -1) if i % 10 != 0)
    return Counter(f"alertmanager:old-{next(picked) % OLD_KEYS}" for _ in range(count))


async def test_two_hundred_thousand_stored_events_give_the_same_read_model(
    service: Service, postgres: PostgresForTests
) -> None:
    await build_history(service)
    small = await recurrence(service, project_id=ALPHA, limit=9)

    large_dsn = await postgres.fresh_database()
    await insert_bulk(large_dsn)
    large = await start_service(large_dsn)
    try:
        assert await large.count_rows("events") == BULK_ALPHA + BULK_OTHER
        await build_history(large)
        windowed = await recurrence(large, project_id=ALPHA, limit=9)
        assert comparable(windowed) == comparable(small)
        assert windowed.summary.source_event_total == 9

        # A wider window reaches into the old events, and only the newest ones.
        wide = await recurrence(large, project_id=ALPHA, limit=100)
        expected_old = newest_old_keys(91)
        groups = by_key(wide)
        assert {k: groups[k].occurrence_total for k in expected_old} == dict(expected_old)
        assert wide.summary.source_event_total == 100
        assert wide.summary.recurrence_group_total == 4 + len(expected_old)
        assert groups["alertmanager:gap"].occurrence_total == 3

        # The work item RPCs find the same work item over the large table.
        gap_id = groups["alertmanager:gap"].work_item.work_item_id
        assert gap_id == by_key(small)["alertmanager:gap"].work_item.work_item_id
        preview = await large.work_items.PreviewWorkItem(
            work_items_pb2.PreviewWorkItemRequest(work_item_id=gap_id, project_id=ALPHA)
        )
        assert all(c.passed for c in preview.checks)
    finally:
        await stop_service(large)
        await postgres.drop_database(large_dsn)
