"""The delivery rule of WatchEvents (SPEC section 5), free of I/O.

What the rule relies on (see storage/migrations/0001_events_and_runs.sql):
cursor order is commit order, so at any moment the committed events are
exactly the cursors 1..K for some K, and a reader that knows some committed
cursor N (from a NOTIFY, or from event_cursor.last_cursor) will see every
event <= N in any snapshot it takes afterwards.

The rule itself, per subscriber:

- `position` is the highest cursor such that every matching event <= it has
  been delivered. It starts at the resume cursor, or at "now"
  (event_cursor.last_cursor when the stream opens), and only goes up.
- The process's hub reads each new range of committed cursors ONCE from the
  database, unfiltered, and hands it to every subscriber as a `Batch`
  `(after, upto]` that holds every event in that range.
- A subscriber takes a batch only when `batch.after <= position`: it delivers
  the batch's matching events whose cursor is above `position`, in order, then
  sets `position = max(position, batch.upto)`. A batch with
  `batch.after > position` would leave a hole, so the subscriber reads
  `(position, ...]` from the database instead (catch-up), with its filter.
- Filtered subscribers never compare consecutive cursor numbers: the batch
  bounds say which range was checked, whatever matched in it.

Exactly once, in order, no gap: events are delivered only above `position`,
in cursor order, and `position` only moves past a range that was wholly read
(a batch, or a catch-up read, below). Nothing is skipped because a batch that
does not start at or below `position` is never taken.

Bounded memory: a subscriber queues at most `max_queued` events (in batches
shared by all subscribers). A batch that does not fit empties the queue
instead, and the subscriber, now behind the hub, catches up from the database
one batch at a time, then takes the hub's batches again once they connect.

A catch-up read of at most `limit` events after `position`, started when
`known` committed cursors were visible, has read every matching event up to
`known`, or up to its last row when it was full (`caught_up_to`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from server.domain.models import EventFilter, StoredEvent

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """An event and what the transport sends for it, made once per process."""

    event: StoredEvent
    message: T


@dataclass(frozen=True)
class Batch(Generic[T]):
    """Every committed event with `after < cursor <= upto`, oldest first."""

    after: int
    upto: int
    entries: tuple[Entry[T], ...]


def caught_up_to(position: int, known: int, rows: Sequence[StoredEvent], limit: int) -> int:
    """Where a catch-up read leaves `position` (see the module docstring)."""
    if rows and len(rows) >= limit:
        return max(position, rows[-1].cursor)
    last = rows[-1].cursor if rows else position
    return max(position, known, last)


@dataclass
class Subscriber(Generic[T]):
    """One stream's place in the event sequence and its bounded queue."""

    event_filter: EventFilter
    position: int
    max_queued: int
    queue: deque[Batch[T]] = field(default_factory=deque)
    queued: int = 0
    # What a test or an operator may want to know: the bound held, and how
    # often this subscriber fell behind.
    peak_queued: int = 0
    overflows: int = 0
    catch_ups: int = 0

    def offer(self, batch: Batch[T]) -> None:
        """Queues a batch from the hub, or drops the queue when it would not fit."""
        if self.queued + len(batch.entries) > self.max_queued:
            self.queue.clear()
            self.queued = 0
            self.overflows += 1
            return
        self.queue.append(batch)
        self.queued += len(batch.entries)
        self.peak_queued = max(self.peak_queued, self.queued)

    def next_batch(self) -> Batch[T] | None:
        if not self.queue:
            return None
        batch = self.queue.popleft()
        self.queued -= len(batch.entries)
        return batch

    def connects(self, batch: Batch[T]) -> bool:
        """Whether taking `batch` leaves no hole after `position`."""
        return batch.after <= self.position

    def take(self, batch: Batch[T]) -> list[Entry[T]]:
        """The batch's entries to deliver; advances `position` past the batch.
        Only for a batch that connects."""
        assert self.connects(batch)
        start = self.position
        self.position = max(self.position, batch.upto)
        return [
            entry
            for entry in batch.entries
            if entry.event.cursor > start and self.event_filter.matches(entry.event)
        ]
