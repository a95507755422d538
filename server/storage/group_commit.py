"""Group commit: single-event writes that arrive together share one write.

Under an alert storm a server holds many RecordAlertEvent calls at once, each
with one event. Written one by one, each costs a transaction of its own: three
round trips, a commit in PostgreSQL, and asyncpg's work for each, all on the
server's one core. Here an event joins a queue instead, and a writer takes
everything queued so far and records it as one batch (record_events(): one
statement in one transaction, exactly as a webhook body's alerts are).

- Nothing waits for company. When no batch is being written (WRITERS), an
  event's write starts at once; an event only waits while one is, and then
  joins the next batch. The busier the server, the larger the batch
  and the cheaper each event; a lone call costs what it did before.
- A caller's answer is its own: its event's Recorded once the batch has
  committed, in the order the events were queued (so a duplicate key sent
  twice is recorded once, then as a duplicate, as if sent one after the
  other). A batch refused for what one event holds (DATA_ERRORS) is written
  again one event at a time, so only that event's call fails. A batch that
  fails for any other reason (the database is down, a statement timed out)
  fails every call in it, as each alone would have.
- An event may come unprepared (prepare_and_record): the writer then
  decodes, checks, derives and redacts it when it takes the batch, one event
  after the other. The same work done on each call's own turn, between grpc's
  and asyncpg's work for other calls, ran with cold caches: a storm event
  cost ~470 µs of the server's core there and ~400 µs prepared in its batch
  (bench/RESULTS.md, the eighth pass). A preparation that fails (a bad field)
  answers its own call, and the batch is written without it. A batch takes
  at most PREPARE_BYTES of requests to prepare, so that a batch's preparation
  holds the event loop no longer than one big request's would. Behind a
  write that takes longer than PREPARE_AHEAD_AFTER (the database is slow or
  away), queued events are prepared ahead: a malformed one is refused then,
  not when the database answers.
- A call that ends early (its deadline passed, its client went away) takes
  its event back while it is still queued: nothing of it is written. Once its
  batch is being written it commits or fails with the others, unless every
  call of that batch has ended, in which case the write is cancelled and
  rolls back. A client that saw DEADLINE_EXCEEDED cannot know whether its
  event landed (it never could: a COMMIT may be lost on the way back); its
  retry is recorded as a duplicate, never as a second occurrence.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from server.domain.models import NewEvent, Recorded

# Batches written at once by one server. One: while it commits, the next
# batch gathers. Measured at 16 calls in flight, one writer recorded 1,348
# events/s, two 1,180, four 996, and one event per transaction 964: more
# writers only split a storm into smaller batches, and the per-batch work
# (three round trips, asyncpg's, PostgreSQL's commit) is what there is to save
# (bench/RESULTS.md, group commit).
WRITERS = 1
# Events per batch at most: a cursor has room for 2^20 per transaction
# (migration 0005), and a batch is one statement of this many array elements.
MAX_BATCH = 256

# Bytes of request (their encoded size) one batch prepares at most, but
# always at least one event: preparing is pure Python on the event loop, and
# this bounds how long a batch's preparation keeps the loop from every other
# call. The bound one big request is worked on the loop under
# (server/operations/cpu.py's OFFLOAD_BYTES); a storm event is ~1 KB.
PREPARE_BYTES = 64 * 1024

# How long a write runs before the events queued behind it are prepared
# ahead of their batch (and again as often while it runs). A write under a
# storm takes milliseconds; one that takes this long is waiting on the
# database, and a call with a malformed event should not wait with it.
PREPARE_AHEAD_AFTER = 0.05

# What PostgreSQL or asyncpg answers for a value it will not store (SQLSTATE
# classes 22 and 23, and asyncpg's own encoding errors, also DataError): the
# fault of one event, not of the batch.
DATA_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)

Write = Callable[[Sequence[NewEvent]], Awaitable[list[Recorded]]]
# Makes an event ready to store (decoding, checks, derivation, redaction).
Prepare = Callable[[], NewEvent]


@dataclass(slots=True)
class _Queued:
    # Cancelled when its call ends early (the caller's await is cancelled).
    answer: asyncio.Future[Recorded]
    # The event, once prepared; `prepare` makes it when its batch is taken
    # (or earlier, behind a slow write: _PreparingAhead).
    event: NewEvent | None
    prepare: Prepare | None = None
    # The size of the request `prepare` works on (PREPARE_BYTES).
    cost: int = 0


class GroupCommit:
    def __init__(self, write: Write, *, writers: int = WRITERS, max_batch: int = MAX_BATCH) -> None:
        # Records a batch, all or nothing, answering in the batch's order.
        self._write = write
        self._writers = writers
        self._max_batch = max_batch
        self._queue: deque[_Queued] = deque()
        self._running = 0
        # The writers' tasks: the loop holds only weak references to a task.
        self._tasks: set[asyncio.Task[None]] = set()
        # Batches written and events in them (metrics, benches and tests read them).
        self.batches = 0
        self.events = 0

    async def record(self, event: NewEvent) -> Recorded:
        """Records `event`, in a batch with whatever else is queued."""
        return await self._join(_Queued(asyncio.get_running_loop().create_future(), event))

    async def prepare_and_record(self, prepare: Prepare, cost: int) -> Recorded:
        """Records the event `prepare` makes, in a batch with whatever else is
        queued. The writer calls `prepare` when it takes the batch, unless this
        call has ended by then; what it raises is this call's answer. `cost`:
        the size of the request it works on, in bytes."""
        loop = asyncio.get_running_loop()
        return await self._join(_Queued(loop.create_future(), None, prepare, cost))

    async def _join(self, queued: _Queued) -> Recorded:
        self._queue.append(queued)
        if self._running < self._writers:
            self._start_writer()
        try:
            return await queued.answer
        except asyncio.CancelledError:
            # Still queued: taken back. Already taken: its batch decides.
            if queued in self._queue:
                self._queue.remove(queued)
            raise

    def _start_writer(self) -> None:
        self._running += 1
        task = asyncio.get_running_loop().create_task(self._write_next(), name="group-commit")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_next(self) -> None:
        # The batch is taken when the writer first runs, not when it was
        # started: events queued in between join it.
        batch = self._take_batch()
        ahead = _PreparingAhead(self._queue)
        try:
            if batch:
                ahead.start()
                await self._write_batch(batch)
        finally:
            ahead.stop()
            self._running -= 1
            if self._queue and self._running < self._writers:
                self._start_writer()

    def _take_batch(self) -> list[_Queued]:
        """The events at the head of the queue, prepared, up to max_batch of
        them and PREPARE_BYTES of preparation. An event whose call has ended
        is dropped unprepared; one whose preparation fails is answered with
        its error and left out."""
        batch: list[_Queued] = []
        budget = PREPARE_BYTES
        while self._queue and len(batch) < self._max_batch:
            queued = self._queue[0]
            if queued.event is None and queued.cost > budget and batch:
                break
            self._queue.popleft()
            if queued.answer.done():  # cancelled, its caller not yet resumed
                continue
            if queued.event is None:
                budget -= queued.cost
                if not _prepare(queued):
                    continue
            batch.append(queued)
        return batch

    async def _write_batch(self, batch: list[_Queued]) -> None:
        writing = asyncio.current_task()
        assert writing is not None

        def cancel_if_unwanted(_: asyncio.Future[Recorded]) -> None:
            if all_gone(batch):
                writing.cancel()

        for queued in batch:
            queued.answer.add_done_callback(cancel_if_unwanted)
        try:
            recorded = await self._write([_prepared(queued) for queued in batch])
        except asyncio.CancelledError:
            # Every caller has gone (the write rolled back), or the loop is
            # closing: no caller is left waiting for an answer.
            if all_gone(batch):
                return
            for queued in batch:
                queued.answer.cancel()
            raise
        except DATA_ERRORS as error:
            if len(batch) == 1:
                _fail(batch, error)
                return
            for queued in batch:  # find the one: each alone
                if not queued.answer.done():
                    await self._write_batch([queued])
            return
        except Exception as error:  # noqa: BLE001 - every caller gets it
            _fail(batch, error)
            return
        finally:
            for queued in batch:
                queued.answer.remove_done_callback(cancel_if_unwanted)
        self.batches += 1
        self.events += len(batch)
        for queued, result in zip(batch, recorded, strict=True):
            if not queued.answer.done():
                queued.answer.set_result(result)


class _PreparingAhead:
    """While a write runs, prepares the events queued behind it every
    PREPARE_AHEAD_AFTER, once it has run that long."""

    def __init__(self, queue: deque[_Queued]) -> None:
        self._queue = queue
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(PREPARE_AHEAD_AFTER, self._prepare)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _prepare(self) -> None:
        # A call refused here ends; its entry stays queued, answered, and the
        # writer drops it (_take_batch).
        for queued in self._queue:
            if queued.event is None and not queued.answer.done():
                _prepare(queued)
        self.start()


def _prepare(queued: _Queued) -> bool:
    """Makes the queued event; False, its call answered with the error,
    when preparing it fails."""
    assert queued.prepare is not None
    try:
        queued.event = queued.prepare()
    except Exception as error:  # noqa: BLE001 - the call's own answer
        queued.answer.set_exception(error)
        return False
    return True


def _prepared(queued: _Queued) -> NewEvent:
    assert queued.event is not None, "a batch holds prepared events only"
    return queued.event


def _fail(batch: list[_Queued], error: Exception) -> None:
    for queued in batch:
        if not queued.answer.done():
            queued.answer.set_exception(error)


def all_gone(batch: list[_Queued]) -> bool:
    """Every call of the batch has ended early."""
    return all(queued.answer.cancelled() for queued in batch)
