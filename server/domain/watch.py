"""The delivery rule of WatchEvents (SPEC section 5), free of I/O.

What the rule relies on (storage/migrations/0005_writes_without_a_global_lock.sql,
storage/events.py): the store gives a "final cursor" F at any moment, such
that every event with a cursor <= F has committed (or never will), and no
event will ever take a cursor <= F afterwards. So a reader that knows F
(from the listener, or read when the stream opens) sees every event <= F in
any snapshot it takes afterwards, and a read bounded by F (`cursor <= F`)
is the whole range it covers, forever. Every `known` below is such an F; no
read goes above the `known` it was started with.

The rule itself, per subscriber:

- `position` is the highest cursor such that every matching event <= it has
  been delivered. It starts at the resume cursor, or at "now"
  (the final cursor when the stream opens), and only goes up.
- The process's hub reads each new range of final cursors ONCE from the
  database, and hands it to every subscriber as a `Batch` `(after, upto]`
  that holds every event in that range of the batch's `projects` (None:
  every project). The hub reads only the projects its subscribers asked for
  (every project as soon as one of them asked for none), so a subscriber
  that arrived after the read may find its project missing: for it, such a
  batch covers nothing above its position.
- A subscriber takes a batch only when `batch.after <= position` and the
  batch covers its project (or lies wholly at or below `position`): it
  delivers the batch's matching events whose cursor is above `position`, in
  order, then sets `position = max(position, batch.upto)`. Any other batch
  would leave a hole, so the subscriber reads `(position, ...]` from the
  database instead (catch-up), with its filter.
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

A catch-up read of at most `limit` events after `position`, bounded by a
final cursor `known` (`cursor <= known`), has read every matching event up
to `known`, or up to its last row when it was full (`caught_up_to`).
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
    """Every committed event with `after < cursor <= upto` of `projects`
    (None: of every project), oldest first."""

    after: int
    upto: int
    entries: tuple[Entry[T], ...]
    projects: frozenset[str] | None = None

    def covers(self, event_filter: EventFilter) -> bool:
        """Whether every event `event_filter` matches in the range is here."""
        return self.projects is None or (
            bool(event_filter.project_id) and event_filter.project_id in self.projects
        )


def hub_scope(filters: Sequence[EventFilter]) -> frozenset[str] | None:
    """The projects a hub read must cover for these subscribers: None (every
    project) as soon as one of them watches every project."""
    projects = {f.project_id for f in filters}
    return None if "" in projects else frozenset(projects)


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
        return batch.after <= self.position and (
            batch.covers(self.event_filter) or batch.upto <= self.position
        )

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
