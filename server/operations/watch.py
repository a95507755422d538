"""Watching events (SPEC section 5): live delivery of committed events,
for any transport.

One `EventWatch` serves every stream of a server process. The delivery rule
and why it delivers every matching event exactly once, in cursor order, with
no gap, is in server/domain/watch.py. How this module feeds it:

- One commit listener per process (server/storage/listener.py) reports the
  highest final cursor it knows (every event at or below it committed or
  never to be: storage/events.py), read on each NOTIFY and periodically.
- One hub task reads each new range of events, up to that final cursor and
  never above it, ONCE, from the database, for the projects its streams
  watch (every project once one stream watches them all), turns each event into the transport's message once (`render`,
  given by the transport: server/api/watch.py for gRPC), and offers the
  batch to every subscriber (a bounded queue each; see `Subscriber.offer`).
  With 1,000 subscribers and 20 commits/s that is 20 reads/s, where a read
  per subscriber per commit would be 20,000/s: the pool could not keep up.
- Each stream drains its queue; when it is behind (its queue overflowed, or
  a batch does not connect to its position) it reads from the database with
  its own filter, a batch at a time, at most `catch_up_reads` streams at once
  so that catching up never takes the whole pool.
- Idle streams get `progress` at their position every `progress_interval`.
- A stream opens with a `progress` at its start position: the caller knows
  at once where it stands (and may resume from there).
- A stream resumed below the compaction horizon (the highest cursor of any
  event removed by retention: server/operations/retention.py) ends at once
  with OUT_OF_RANGE, reason CURSOR_COMPACTED, metadata `oldest_cursor` (the
  lowest cursor it may resume from): events it was owed are gone, and it
  must re-read the dossier. A catch-up read checks the horizon again after
  reading, so a week removed while a stream catches up through it is told,
  not skipped. A live stream is far above any week old enough to go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from server.domain.cursors import MalformedToken, decode_cursor, encode_cursor
from server.domain.errors import DATABASE_UNAVAILABLE, Internal, OutOfRange, Unavailable
from server.domain.events import check_event_filter
from server.domain.models import EventFilter, StoredEvent
from server.domain.validation import Violations
from server.domain.watch import Batch, Entry, Subscriber, caught_up_to, hub_scope
from server.storage import partitions
from server.storage.database import CONNECTION_ERRORS
from server.storage.listener import CommitListener
from server.storage.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")

# Events the hub renders before it lets other calls run.
_RENDER_SLICE = 32


@dataclass(frozen=True)
class WatchRequest:
    """What a subscriber asks for, as any transport receives it."""

    project_id: str = ""
    channel_type: str = ""
    provider_prefix: str = ""
    after_cursor: str = ""


def _parse(request: WatchRequest) -> tuple[EventFilter, int | None]:
    violations = Violations()
    event_filter = check_event_filter(
        violations, request.project_id, request.channel_type, request.provider_prefix
    )
    after: int | None = None
    if request.after_cursor:
        try:
            after = decode_cursor(request.after_cursor)
        except MalformedToken:
            violations.add("after_cursor", "must be a cursor from an event or a progress message")
    violations.raise_if_any()
    return event_filter, after


@dataclass(frozen=True)
class Rendering(Generic[T]):
    """How a transport words what a stream sends: an event, and a progress
    report at a position (an encoded cursor is `encode_cursor(position)`)."""

    event: Callable[[StoredEvent], T]
    progress: Callable[[int], T]


def _deliverable(entry: Entry[T | None]) -> T:
    if entry.message is None:
        raise Internal(
            f"the event at cursor {encode_cursor(entry.event.cursor)} cannot be served; "
            "the server logged why",
            "EVENT_UNSERVABLE",
        )
    return entry.message


# What a catch-up read raises when the database is gone.
_LOST: tuple[type[BaseException], ...] = (Unavailable, *CONNECTION_ERRORS)


def _database_lost() -> Unavailable:
    return Unavailable(
        "the database is unavailable; resume from your last cursor, here or on another server",
        DATABASE_UNAVAILABLE,
        {"retry_after_seconds": "1"},
    )


CURSOR_COMPACTED = "CURSOR_COMPACTED"


def _compacted(horizon: int) -> OutOfRange:
    return OutOfRange(
        "events after this cursor were removed by retention; re-read the dossier, "
        "then resume from oldest_cursor",
        CURSOR_COMPACTED,
        {"oldest_cursor": encode_cursor(horizon)},
    )


def _shutting_down() -> Unavailable:
    return Unavailable(
        "server is shutting down; resume from your last cursor, here or on another server",
        "SHUTTING_DOWN",
    )


@dataclass(frozen=True)
class WatchStats:
    """Figures over every stream this process served (tests read them)."""

    streams: int
    peak_queued: int
    overflows: int
    catch_ups: int
    # Open streams behind the hub right now: catching up from the database.
    behind: int = 0


class _Stream(Generic[T]):
    """A subscriber, what wakes it, and when it last sent something."""

    def __init__(self, subscriber: Subscriber[T | None], now: float) -> None:
        self.subscriber = subscriber
        self.wake = asyncio.Event()
        self.last_sent = now


class EventWatch(Generic[T]):
    """Serves every watch stream of this server process, in messages of type T."""

    def __init__(
        self,
        store: Store,
        rendering: Rendering[T],
        progress_interval: float = 5.0,
        max_queued: int = 1024,
        batch_size: int = 256,
        catch_up_reads: int | None = None,
        listener: CommitListener | None = None,
    ) -> None:
        """`listener`: the process's commit listener, when another watch (of
        another transport) shares it; otherwise this watch has its own."""
        self._store = store
        self._render = rendering
        self._progress_interval = progress_interval
        self._max_queued = max_queued
        self._batch_size = batch_size
        self._catch_up_reads = asyncio.Semaphore(
            catch_up_reads or max(1, store.pool.get_max_size() // 2)
        )
        self._listener = listener or CommitListener(store.dsn)
        # Reads only while this watch has streams: an idle replica reads nothing.
        self._listener.subscribe(self._on_commit, lambda: bool(self._streams))
        self._streams: set[_Stream[T]] = set()
        # Highest cursor known final: every event at or below it is visible to
        # any new snapshot, and none will ever appear there again.
        self._known = 0
        self._known_changed = asyncio.Event()
        # Upper bound of the last batch offered to the subscribers.
        self._published = 0
        self._hub: asyncio.Task[None] | None = None
        # One ticker wakes the streams whose progress is due, instead of a
        # timeout per stream per wait (a task each with asyncio.wait_for).
        # A stream sends progress once idle for `progress_interval - tick`;
        # the ticker wakes it at most `tick` later: never later than the interval.
        self._tick = progress_interval / 4
        self._progress_due = progress_interval - self._tick
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False
        self._finished = WatchStats(streams=0, peak_queued=0, overflows=0, catch_ups=0)

    async def start(self) -> None:
        """Called once before the server accepts calls."""
        self._published = self._known = await self._last_cursor()
        self._hub = asyncio.create_task(self._follow(), name="watch-hub")
        self._ticker = asyncio.create_task(self._tick_progress(), name="watch-progress")
        for task in (self._hub, self._ticker):
            task.add_done_callback(self._on_task_end)
        await self._listener.start()

    def _on_task_end(self, task: asyncio.Task[None]) -> None:
        # Neither task ends before close(); if one does, every stream would
        # silently stop getting events, so it is said loudly.
        if not task.cancelled() and task.exception() is not None:
            log.error("watch: %s stopped", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Called on shutdown, before the server stops: ends every stream cleanly.
        Never raises: whatever happened to the tasks, the server must stop."""
        self._closing = True
        for stream in self._streams:
            stream.wake.set()
        try:
            await self._listener.close()
        except Exception:  # noqa: BLE001 - shutdown goes on
            log.exception("watch: the commit listener did not close cleanly")
        tasks = [task for task in (self._hub, self._ticker) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._hub = self._ticker = None

    @property
    def listener_connects(self) -> int:
        return self._listener.connects

    def stats(self) -> WatchStats:
        live = [s.subscriber for s in self._streams]
        done = self._finished
        return WatchStats(
            streams=len(live),
            peak_queued=max([done.peak_queued, *(s.peak_queued for s in live)]),
            overflows=done.overflows + sum(s.overflows for s in live),
            catch_ups=done.catch_ups + sum(s.catch_ups for s in live),
            behind=sum(s.position < self._published for s in live),
        )

    async def stream(self, request: WatchRequest) -> AsyncIterator[T]:
        """One subscriber's messages, until close() or the caller stops reading."""
        event_filter, after = _parse(request)
        if self._closing:
            raise _shutting_down()
        newest = await self._last_cursor()
        self._on_commit(newest)
        if after is not None and after > newest:
            # Resuming there would skip the events that will take those cursors.
            violations = Violations()
            violations.add("after_cursor", "is beyond the last recorded event")
            violations.raise_if_any()
        if after is not None:
            await self._check_horizon(after)
        start = newest if after is None else after
        stream: _Stream[T] = _Stream(
            Subscriber(event_filter, start, self._max_queued), self._clock()
        )
        self._streams.add(stream)
        subscriber = stream.subscriber
        # Delivery loop (rule: server/domain/watch.py). Inlined rather than a
        # generator of its own: every layer of `async for ... yield` costs on
        # each of the 20,000 messages a second that 1,000 streams may carry.
        pending: Batch[T | None] | None = None
        try:
            yield self._render.progress(start)
            while not self._closing:
                if self._clock() - stream.last_sent >= self._progress_due:
                    stream.last_sent = self._clock()
                    yield self._render.progress(subscriber.position)
                batch = pending if pending is not None else subscriber.next_batch()
                pending = None
                if batch is not None and subscriber.connects(batch):
                    entries = subscriber.take(batch)
                    for entry in entries:
                        yield _deliverable(entry)
                    if entries:
                        stream.last_sent = self._clock()
                    continue
                if batch is not None or subscriber.position < self._published:
                    # Behind the hub: read from the database, then look again
                    # at the batch that did not connect.
                    pending = batch
                    try:
                        rows = await self._catch_up(subscriber)
                    except _LOST as error:
                        raise _database_lost() from error
                    for event in rows:
                        yield self._render.event(event)
                    if rows:
                        stream.last_sent = self._clock()
                    continue
                # Woken by the hub's next batch, by the ticker when progress
                # is due, or by close().
                stream.wake.clear()
                await stream.wake.wait()
            # Only close() ends the loop. UNAVAILABLE, not OK: a subscriber must
            # tell a shutdown from an end it asked for, and resume elsewhere.
            raise _shutting_down()
        finally:
            self._retire(stream)

    async def _check_horizon(self, position: int) -> None:
        """Raises CURSOR_COMPACTED when events above `position` may have been removed."""
        async with self._store.connection() as connection:
            horizon = await partitions.horizon(connection)
        if position < horizon:
            raise _compacted(horizon)

    async def _catch_up(self, subscriber: Subscriber[T | None]) -> list[StoredEvent]:
        subscriber.catch_ups += 1
        async with self._catch_up_reads:
            known = self._known  # read before the query's snapshot is taken
            rows = await self._read_after(subscriber.event_filter, subscriber.position, known)
            # After the read: had a week been removed before it, the read
            # would have gone past the missing events without a sign.
            await self._check_horizon(subscriber.position)
        subscriber.position = caught_up_to(subscriber.position, known, rows, self._batch_size)
        return rows

    async def _tick_progress(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            due = self._clock() - self._progress_due
            for stream in self._streams:
                if stream.last_sent <= due:
                    stream.wake.set()

    def _clock(self) -> float:
        return asyncio.get_running_loop().time()

    def _on_commit(self, cursor: int) -> None:
        if cursor > self._known:
            self._known = cursor
            self._known_changed.set()

    async def _follow(self) -> None:
        """The hub: reads each new range of committed events once, offers it
        to every subscriber. Never dies: a failed read is retried, and an
        event that cannot be converted fails only the streams that must
        deliver it (see `_hub_entry`)."""
        backoff = 0.1
        while True:
            await self._known_changed.wait()
            self._known_changed.clear()
            while self._published < self._known:
                known = self._known
                if not self._streams:
                    # Nobody to offer a batch to: reading it would only cost the
                    # database and the loop. A stream that opens later starts at
                    # the newest cursor, or catches up from the database.
                    self._published = known
                    continue
                projects = hub_scope([s.subscriber.event_filter for s in self._streams])
                try:
                    rows = await self._store.events_after(
                        EventFilter(), self._published, self._batch_size, known, projects
                    )
                    batch = Batch(
                        after=self._published,
                        upto=caught_up_to(self._published, known, rows, self._batch_size),
                        entries=await self._hub_entries(rows),
                        projects=projects,
                    )
                except Exception:  # noqa: BLE001 - the hub must outlive any failed read
                    log.warning("watch hub: read failed; retrying in %.1fs", backoff, exc_info=True)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                self._published = batch.upto
                for stream in self._streams:
                    stream.subscriber.offer(batch)
                    stream.wake.set()

    async def _hub_entries(self, rows: list[StoredEvent]) -> tuple[Entry[T | None], ...]:
        """Every row's entry, letting other calls run between slices: a batch
        of 256 rendered in one go held the loop for tens of milliseconds."""
        entries = []
        for index, event in enumerate(rows, 1):
            entries.append(self._hub_entry(event))
            if index % _RENDER_SLICE == 0:
                await asyncio.sleep(0)
        return tuple(entries)

    def _hub_entry(self, event: StoredEvent) -> Entry[T | None]:
        """The event and its message; None when it cannot be rendered, so that
        one bad row costs the streams that must deliver it (they end with a
        status), never the hub that serves every other stream."""
        try:
            return Entry(event, self._render.event(event))
        except Exception:  # noqa: BLE001 - logged here once, with its context
            log.exception("watch hub: event %s at cursor %d cannot be served", event.id, event.cursor)
            return Entry(event, None)

    def _retire(self, stream: _Stream[T]) -> None:
        self._streams.discard(stream)
        s, done = stream.subscriber, self._finished
        self._finished = WatchStats(
            streams=0,
            peak_queued=max(done.peak_queued, s.peak_queued),
            overflows=done.overflows + s.overflows,
            catch_ups=done.catch_ups + s.catch_ups,
        )

    async def _read_after(
        self, event_filter: EventFilter, position: int, known: int
    ) -> list[StoredEvent]:
        """Never above `known`: a visible event above the final cursor may
        have an event still to commit below it."""
        return await self._store.events_after(event_filter, position, self._batch_size, known)

    async def _last_cursor(self) -> int:
        return await self._store.final_cursor()
