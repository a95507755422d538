"""Group commit on a real PostgreSQL: RecordAlertEvent calls that arrive
together are written together, and each caller, and each watcher, still sees
exactly what one write per event would have shown."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

import asyncpg
import grpc
import httpx
import pytest
from awooop.channel_events.v1 import events_pb2

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput
from server.storage.database import create_pool
from server.storage.store import Store
from tests.harness import Service, violated_fields
from tests.watching import Subscription

pytestmark = pytest.mark.timeout(60)

KEYS = 8
REPEATS = 8


async def test_a_storm_of_single_events_is_written_in_batches_each_answered_exactly(
    service: Service,
) -> None:
    watching = await Subscription(service.channel, project_id="alpha").open()
    try:
        answers = await asyncio.gather(*(
            service.record(event_id=f"storm-{n % KEYS}", fingerprint=f"fp-{n % KEYS}")
            for n in range(KEYS * REPEATS)
        ))
        # Each call its own event; each key one occurrence, the rest duplicates.
        assert len({a.event_id for a in answers}) == KEYS * REPEATS
        occurrences = Counter(a.provider_event_id for a in answers if not a.is_duplicate)
        assert occurrences == {f"alertmanager:storm-{k}": 1 for k in range(KEYS)}
        assert await service.count_rows("events") == KEYS * REPEATS

        group = service.store.group_commit
        assert group.events == KEYS * REPEATS
        assert group.batches < KEYS * REPEATS, "no two events shared a write"

        # A watcher gets every one of them, once, in one order.
        await watching.until(lambda r: len(r.events) >= KEYS * REPEATS, timeout=20)
        assert sorted(watching.received.event_ids) == sorted(a.event_id for a in answers)
        cursors = watching.received.cursors  # fixed-width: string order is their order
        assert cursors == sorted(set(cursors))
        # The first of each key in cursor order is its occurrence.
        first_seen: dict[str, bool] = {}
        for response in watching.received.events:
            first_seen.setdefault(response.event.provider_event_id, response.event.is_duplicate)
        assert set(first_seen.values()) == {False}
    finally:
        await watching.cancel()


async def test_an_event_postgresql_refuses_fails_alone_and_its_batch_is_written(
    database: str,
) -> None:
    # Validation keeps such values out of every RPC; the store must still not
    # let one refused event sink the others written with it.
    pool = await create_pool(database, statement_timeout=10.0)
    store = Store(pool, database)
    try:
        def event(event_id: str, title: str = "") -> asyncio.Future[object]:
            new = derive_event(AlertEventInput(
                project_id="alpha", provider="alertmanager", event_id=event_id, title=title
            ))
            return asyncio.ensure_future(store.record_event(new))

        answers = await asyncio.gather(
            event("a"), event("b"), event("nul", title="a\x00b"), event("c"),
            return_exceptions=True,
        )
        assert isinstance(answers[2], asyncpg.DataError)
        assert not any(isinstance(a, BaseException) for i, a in enumerate(answers) if i != 2)
        async with pool.acquire() as connection:
            stored = await connection.fetch("SELECT provider_event_id FROM events ORDER BY cursor")
        assert [r["provider_event_id"] for r in stored] == [
            "alertmanager:a", "alertmanager:b", "alertmanager:c"
        ]
    finally:
        await pool.close()


async def test_malformed_events_in_a_storm_are_refused_alone_and_the_rest_are_written(
    service: Service,
) -> None:
    # Events are checked when their batch is taken (group_commit.py): a
    # malformed one must still answer its own call, naming its field, and
    # cost no other call anything.
    def call(n: int) -> Awaitable[events_pb2.RecordAlertEventResponse]:
        if n % 4 == 1:
            return service.record(event_id=f"storm-{n}", stage="")
        return service.record(event_id=f"storm-{n}", title=f"password=hunter{n}")

    answers = await asyncio.gather(*(call(n) for n in range(32)), return_exceptions=True)
    for n, answer in enumerate(answers):
        if n % 4 == 1:
            assert isinstance(answer, grpc.aio.AioRpcError), n
            assert answer.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert violated_fields(answer) == ["stage"]
        else:
            assert isinstance(answer, events_pb2.RecordAlertEventResponse), (n, answer)
            assert answer.provider_event_id == f"alertmanager:storm-{n}"
    assert service.store.group_commit.batches < 24, "no two events shared a write"
    async with service.store.pool.acquire() as connection:
        stored = await connection.fetch("SELECT provider_event_id, content_redacted FROM events")
    assert sorted(r["provider_event_id"] for r in stored) == sorted(
        f"alertmanager:storm-{n}" for n in range(32) if n % 4 != 1
    )
    assert all("hunter" not in r["content_redacted"] for r in stored)
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"http://127.0.0.1:{service.app.http_port}/metrics")).text
    assert (
        'channel_events_ingest_rejected_total{provider="alertmanager",reason="INVALID_ARGUMENT"} 8.0'
        in text
    )
    assert 'channel_events_redactions_total{kind="password"} 24.0' in text
