"""WatchEvents (SPEC section 5): the stream's guarantees, through a real
channel to a real server on a real PostgreSQL.

The `Subscription` helper is in tests/watching.py.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from awooop.channel_events.v1 import events_pb2

from server.storage.listener import APPLICATION_NAME
from tests.harness import Service, start_service, stop_service, violated_fields
from tests.watching import Subscription

async def test_a_live_subscriber_receives_each_new_event_once_in_cursor_order(
    service: Service,
) -> None:
    watcher = await Subscription(service.channel).open()
    recorded = [await service.record(title=f"t{i}") for i in range(5)]
    await watcher.until(lambda r: len(r.events) >= 5)
    await asyncio.sleep(0.2)  # room for a wrong extra delivery to show up
    assert watcher.received.event_ids == [r.event_id for r in recorded]
    assert watcher.received.cursors == sorted(r.cursor for r in recorded)
    assert watcher.received.events[0].event.project_id == "alpha"
    await watcher.cancel()


async def test_a_subscriber_starting_now_gets_nothing_recorded_before_it(service: Service) -> None:
    await service.record(title="before")
    watcher = await Subscription(service.channel).open()
    after = await service.record(title="after")
    await watcher.until(lambda r: len(r.events) >= 1)
    assert watcher.received.event_ids == [after.event_id]
    await watcher.cancel()


async def test_after_cursor_replays_then_goes_live_with_no_seam(service: Service) -> None:
    first = await service.record(title="first")
    replayed = [await service.record(title=f"old{i}") for i in range(3)]
    watcher = await Subscription(service.channel, after_cursor=first.cursor).open()
    live = [await service.record(title=f"new{i}") for i in range(3)]
    await watcher.until(lambda r: len(r.events) >= 6)
    await asyncio.sleep(0.2)
    assert watcher.received.event_ids == [r.event_id for r in replayed + live]
    await watcher.cancel()


async def test_the_opening_progress_names_the_start_position(service: Service) -> None:
    latest = await service.record(title="x")
    watcher = await Subscription(service.channel).open()
    assert watcher.received.progress[0] == latest.cursor
    await watcher.cancel()


@pytest.mark.parametrize("cursor", ["nope", "123", "000000000000000G", "00000000000000001"])
async def test_a_malformed_cursor_is_invalid_argument_naming_after_cursor(
    service: Service, cursor: str
) -> None:
    call = service.events.WatchEvents(events_pb2.WatchEventsRequest(after_cursor=cursor))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(caught.value) == ["after_cursor"]


async def test_a_cursor_beyond_the_last_event_is_invalid_argument(service: Service) -> None:
    recorded = await service.record()
    beyond = f"{int(recorded.cursor, 16) + 1:016x}"
    call = service.events.WatchEvents(events_pb2.WatchEventsRequest(after_cursor=beyond))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violated_fields(caught.value) == ["after_cursor"]


async def test_a_bad_project_filter_is_invalid_argument(service: Service) -> None:
    call = service.events.WatchEvents(events_pb2.WatchEventsRequest(project_id="no spaces"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert violated_fields(caught.value) == ["project_id"]


async def test_filters_are_honoured(fast: Service) -> None:
    by_project = await Subscription(fast.channel, project_id="beta").open()
    by_channel = await Subscription(fast.channel, channel_type="chat").open()
    by_prefix = await Subscription(fast.channel, provider_prefix="sentry:").open()
    combined = await Subscription(
        fast.channel, project_id="alpha", provider_prefix="sentry:"
    ).open()
    beta = await fast.record(project_id="beta", provider="signoz")
    chat = await fast.record(channel_type="chat")
    sentry = await fast.record(provider="sentry")
    beta_sentry = await fast.record(project_id="beta", provider="sentry")
    last = await fast.record(provider="alertmanager")
    for watcher in (by_project, by_channel, by_prefix, combined):
        await watcher.until_past(last.cursor)
    assert by_project.received.event_ids == [beta.event_id, beta_sentry.event_id]
    assert by_channel.received.event_ids == [chat.event_id]
    assert by_prefix.received.event_ids == [sentry.event_id, beta_sentry.event_id]
    assert combined.received.event_ids == [sentry.event_id]
    for watcher in (by_project, by_channel, by_prefix, combined):
        await watcher.cancel()


async def test_idle_streams_get_progress_that_moves_past_events_they_do_not_match(
    fast: Service,
) -> None:
    watcher = await Subscription(fast.channel, project_id="beta").open()
    other = await fast.record(project_id="alpha")
    await watcher.until_past(other.cursor, timeout=5)
    assert watcher.received.events == []
    count = len(watcher.received.progress)
    await asyncio.sleep(1.0)
    # Every 0.2 s while idle; generous bounds for a loaded machine.
    assert 2 <= len(watcher.received.progress) - count <= 6
    await watcher.cancel()


async def test_progress_keeps_coming_while_only_other_projects_events_flow(
    fast: Service,
) -> None:
    watcher = await Subscription(fast.channel, project_id="beta").open()
    loop = asyncio.get_running_loop()
    count = len(watcher.received.progress)
    started = loop.time()
    while loop.time() - started < 1.2:
        await fast.record(project_id="alpha")
        await asyncio.sleep(0.02)
    assert watcher.received.events == []
    assert len(watcher.received.progress) - count >= 3
    await watcher.cancel()


async def test_progress_default_is_at_most_five_seconds() -> None:
    from server.config import Settings

    assert Settings().watch_progress_interval <= 5.0
    with pytest.raises(ValueError):
        Settings(watch_progress_interval=6)


async def test_disconnecting_and_resuming_with_the_last_cursor_misses_and_repeats_nothing(
    service: Service,
) -> None:
    before = [await service.record(title=f"a{i}") for i in range(3)]
    first = await Subscription(service.channel, after_cursor="0" * 16).open()
    await first.until(lambda r: len(r.events) >= 3)
    await first.cancel()
    resume_from = first.received.last_cursor
    after = [await service.record(title=f"b{i}") for i in range(3)]
    second = await Subscription(service.channel, after_cursor=resume_from).open()
    await second.until_past(after[-1].cursor)
    assert first.received.event_ids + second.received.event_ids == [
        r.event_id for r in before + after
    ]
    await second.cancel()


async def test_a_cancelled_stream_leaves_no_subscriber_behind(service: Service) -> None:
    watchers = [await Subscription(service.channel).open() for _ in range(3)]
    assert service.app.watch.stats().streams == 3
    for watcher in watchers:
        await watcher.cancel()
    for _ in range(50):
        if service.app.watch.stats().streams == 0:
            break
        await asyncio.sleep(0.05)
    assert service.app.watch.stats().streams == 0


async def _listener_pids(service: Service) -> list[int]:
    async with service.store.pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = $1",
            APPLICATION_NAME,
        )
    return [row["pid"] for row in rows]


async def test_after_the_listener_connection_drops_subscribers_get_what_was_missed(
    service: Service,
) -> None:
    watcher = await Subscription(service.channel).open()
    [pid] = await _listener_pids(service)
    async with service.store.pool.acquire() as connection:
        await connection.execute("SELECT pg_terminate_backend($1)", pid)
    # Written while the listener is (most likely) still reconnecting.
    missed = [await service.record(title=f"m{i}") for i in range(3)]
    await watcher.until(lambda r: len(r.events) >= 3, timeout=15)
    assert service.app.watch.listener_connects >= 2
    later = await service.record(title="later")
    await watcher.until(lambda r: len(r.events) >= 4)
    assert watcher.received.event_ids == [r.event_id for r in missed + [later]]
    assert len(await _listener_pids(service)) == 1
    await watcher.cancel()


async def test_stopping_the_server_ends_streams_cleanly_and_closes_the_listener(
    database: str,
) -> None:
    server = await start_service(database)
    observer = await start_service(database)
    watchers = [await Subscription(server.channel).open() for _ in range(3)]
    assert len(await _listener_pids(observer)) == 2
    await server.app.stop(grace=5.0)
    for watcher in watchers:
        assert await watcher.until_ended() == grpc.StatusCode.UNAVAILABLE
    assert len(await _listener_pids(observer)) == 1
    # The watch's own tasks are gone (the observer's, still running, are named
    # alike: count them per server by stopping only one). A server has a watch
    # per transport (gRPC and SSE), sharing one commit listener.
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert names.count("watch-hub") == 2
    assert names.count("watch-progress") == 2
    assert names.count("commit-listener") == 1
    await server.channel.close()
    await server.store.pool.close()
    await stop_service(observer)
