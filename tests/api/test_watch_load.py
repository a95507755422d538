"""WatchEvents under load: many writers committing concurrently, many
subscribers, and a subscriber too slow to keep up."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import grpc

from tests.watching import Subscription
from tests.harness import Service, start_service, stop_service

WRITERS = 8
EVENTS_PER_WRITER = 500


@dataclass(frozen=True)
class Written:
    cursor: str
    event_id: str
    project_id: str
    provider: str
    channel_type: str


@dataclass(frozen=True)
class Filter:
    project_id: str = ""
    channel_type: str = ""
    provider_prefix: str = ""

    def matches(self, event: Written) -> bool:
        return (
            self.project_id in ("", event.project_id)
            and self.channel_type in ("", event.channel_type)
            and f"{event.provider}:".startswith(self.provider_prefix)
        )


async def _write(service: Service, writer: int, count: int, out: list[Written]) -> None:
    rng = random.Random(writer)
    for i in range(count):
        project_id = rng.choice(["alpha", "beta"])
        provider = rng.choice(["alertmanager", "sentry", "signoz"])
        channel_type = rng.choice(["alert", "alert", "chat"])
        recorded = await service.record(
            project_id=project_id,
            provider=provider,
            channel_type=channel_type,
            event_id=f"w{writer}-{i}",
            title=f"writer {writer} event {i}",
        )
        out.append(Written(recorded.cursor, recorded.event_id, project_id, provider, channel_type))


async def test_concurrent_writers_reach_every_subscriber_exactly_once_in_cursor_order(
    fast: Service,
) -> None:
    filters = (
        [Filter()] * 6
        + [Filter(project_id="alpha")] * 4
        + [Filter(project_id="beta")] * 2
        + [Filter(provider_prefix="sentry:")] * 2
        + [Filter(channel_type="chat")] * 2
        + [Filter(project_id="beta", provider_prefix="signoz:")] * 2
    )
    live = [
        (f, await Subscription(fast.channel, **f.__dict__).open()) for f in filters
    ]
    written: list[Written] = []
    writers = [
        asyncio.create_task(_write(fast, w, EVENTS_PER_WRITER, written)) for w in range(WRITERS)
    ]
    # Two more join mid-run, replaying from the very start.
    while len(written) < WRITERS * EVENTS_PER_WRITER // 2:
        await asyncio.sleep(0.05)
    late = [(Filter(), await Subscription(fast.channel, after_cursor="0" * 16).open())
            for _ in range(2)]
    await asyncio.gather(*writers)
    assert len(live) + len(late) == 20

    everything = sorted(written, key=lambda e: e.cursor)
    assert len({e.cursor for e in everything}) == WRITERS * EVENTS_PER_WRITER
    last = everything[-1].cursor
    for event_filter, watcher in live + late:
        await watcher.until_past(last, timeout=60)
        expected = [e.event_id for e in everything if event_filter.matches(e)]
        assert watcher.received.event_ids == expected, event_filter
        assert watcher.received.cursors == sorted(watcher.received.cursors)
        await watcher.cancel()


async def test_a_slow_subscriber_gets_everything_while_its_queue_stays_bounded(
    database: str,
) -> None:
    bound = 8
    service = await start_service(
        database, watch_progress_interval=0.2, watch_queue_events=bound, watch_batch_size=4
    )
    try:
        # Small HTTP/2 windows, so the server feels the slow reader soon.
        channel = grpc.aio.insecure_channel(
            service.address,
            options=[("grpc.http2.bdp_probe", 0), ("grpc.http2.max_frame_size", 16384)],
        )
        slow = await Subscription(channel, delay=0.01).open()
        brisk = await Subscription(service.channel).open()
        written: list[Written] = []
        await asyncio.gather(*(_write(service, w, 100, written) for w in range(4)))
        expected = [e.event_id for e in sorted(written, key=lambda e: e.cursor)]
        last = max(e.cursor for e in written)
        await brisk.until_past(last, timeout=30)
        await slow.until_past(last, timeout=60)
        assert brisk.received.event_ids == expected
        assert slow.received.event_ids == expected
        stats = service.app.watch.stats()
        assert stats.peak_queued <= bound
        assert stats.overflows >= 1, "the slow reader never fell behind: the test proves nothing"
        assert stats.catch_ups >= 1
        await slow.cancel()
        await brisk.cancel()
        await channel.close()
    finally:
        await stop_service(service)
