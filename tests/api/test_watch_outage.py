"""WatchEvents across a database outage: a stream may end, an event may not be lost."""

from __future__ import annotations

import asyncio
import grpc
import pytest

from tests.watching import Subscription
from tests.harness import PostgresForTests, Service, set_database_open


async def record_when_possible(service: Service, title: str) -> str:
    """Records an event, retrying while the database is still coming back."""
    for _ in range(100):
        try:
            return (await service.record(title=title)).event_id
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            await asyncio.sleep(0.1)
    raise AssertionError("the database did not come back")


async def test_a_subscriber_loses_no_event_across_a_database_outage(
    fast: Service, postgres: PostgresForTests
) -> None:
    watcher = await Subscription(fast.channel).open()
    before = [(await fast.record(title=f"before {i}")).event_id for i in range(3)]
    await watcher.until(lambda r: len(r.events) >= 3)

    await set_database_open(postgres, fast.dsn, False)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await fast.record(title="during")
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        await asyncio.sleep(1.5)  # the listener and the hub retry meanwhile
    finally:
        await set_database_open(postgres, fast.dsn, True)

    after = [await record_when_possible(fast, f"after {i}") for i in range(3)]
    expected = before + after
    received = watcher.received
    try:
        await watcher.until(lambda r: len(r.events) >= len(expected), timeout=15)
    except AssertionError:
        # The stream ended during the outage: that is allowed, and the client
        # resumes with the last cursor it saw. Nothing may be missing then.
        assert watcher.ended == grpc.StatusCode.UNAVAILABLE, watcher.ended
        resumed = await Subscription(fast.channel, after_cursor=received.last_cursor).open()
        await resumed.until(lambda r: len(received.events) + len(r.events) >= len(expected), 15)
        received.events.extend(resumed.received.events)
        await resumed.cancel()
    await asyncio.sleep(0.3)  # room for a wrong extra delivery to show up
    assert received.event_ids == expected
    assert received.cursors == sorted(received.cursors)
    await watcher.cancel()
