"""The delivery rule of WatchEvents (SPEC section 5), pure: batches and
catch-up reads in, deliveries out. No database, no server.

The rule is in server/domain/watch.py; the streams that drive it over a real
database are tested in tests/api/. The property-based test at the end plays
the hub, a small queue and a "database" list against each other and checks
exactly once, in cursor order, with no gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from server.domain.models import EventFilter, StoredEvent
from server.domain.watch import Batch, Entry, Subscriber, caught_up_to, hub_scope
from tests.stored import stored_event

WATCHED = "alpha"
OTHER = "beta"
ONLY_ALPHA = EventFilter(project_id=WATCHED)


@cache
def event(cursor: int, project_id: str = WATCHED) -> StoredEvent:
    """A stored event at `cursor` (cached: the same object wherever it appears)."""
    return stored_event(cursor, project_id=project_id)


def batch(after: int, upto: int, events: list[StoredEvent]) -> Batch[int]:
    """A hub batch; the message of an entry is its cursor."""
    return Batch(after, upto, tuple(Entry(e, e.cursor) for e in events))


def full_batch(after: int, upto: int, others: frozenset[int] = frozenset()) -> Batch[int]:
    """Every cursor of (after, upto]; those in `others` belong to another project."""
    return batch(
        after,
        upto,
        [event(c, OTHER if c in others else WATCHED) for c in range(after + 1, upto + 1)],
    )


def cursors(entries: list[Entry[int]]) -> list[int]:
    return [entry.event.cursor for entry in entries]


# --- taking a batch -----------------------------------------------------------


def test_a_connecting_batch_delivers_only_matching_events_above_position_in_order() -> None:
    sub: Subscriber[int] = Subscriber(ONLY_ALPHA, position=3, max_queued=100)
    b = full_batch(1, 8, others=frozenset({5, 7}))
    assert sub.connects(b)
    assert cursors(sub.take(b)) == [4, 6, 8]
    assert sub.position == 8


def test_a_batch_starting_exactly_at_position_connects() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=5, max_queued=100)
    b = full_batch(5, 7)
    assert sub.connects(b)
    assert [entry.message for entry in sub.take(b)] == [6, 7]
    assert sub.position == 7


def test_a_batch_starting_above_position_does_not_connect() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=3, max_queued=100)
    assert sub.connects(full_batch(4, 9)) is False
    assert sub.position == 3


def test_a_batch_with_nothing_matching_still_advances_position_to_its_upper_bound() -> None:
    sub: Subscriber[int] = Subscriber(ONLY_ALPHA, position=10, max_queued=100)
    b = full_batch(10, 14, others=frozenset({11, 12, 13, 14}))
    assert sub.take(b) == []
    assert sub.position == 14


def test_an_empty_batch_advances_position_over_its_range() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=2, max_queued=100)
    assert sub.take(batch(2, 6, [])) == []
    assert sub.position == 6


def test_a_batch_already_behind_position_delivers_nothing_and_never_moves_position_back() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=20, max_queued=100)
    assert sub.take(full_batch(10, 15)) == []
    assert sub.position == 20


# --- the bounded queue --------------------------------------------------------


def test_batches_are_queued_and_handed_out_oldest_first() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=0, max_queued=10)
    first, second = full_batch(0, 3), full_batch(3, 5)
    sub.offer(first)
    sub.offer(second)
    assert sub.queued == 5
    assert sub.next_batch() is first
    assert sub.queued == 2
    assert sub.next_batch() is second
    assert sub.queued == 0
    assert sub.next_batch() is None


def test_a_batch_that_would_overflow_drops_the_whole_queue_and_is_counted() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=0, max_queued=4)
    sub.offer(full_batch(0, 3))
    sub.offer(full_batch(3, 5))
    assert sub.overflows == 1
    assert sub.queued == 0
    assert sub.next_batch() is None
    assert sub.position == 0


def test_a_batch_that_fits_exactly_is_queued() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=0, max_queued=4)
    sub.offer(full_batch(0, 2))
    sub.offer(full_batch(2, 4))
    assert (sub.queued, sub.overflows, sub.peak_queued) == (4, 0, 4)


def test_a_single_batch_larger_than_the_bound_overflows_an_empty_queue() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=0, max_queued=2)
    sub.offer(full_batch(0, 3))
    assert (sub.queued, sub.overflows) == (0, 1)


def test_queued_never_exceeds_max_queued() -> None:
    sub: Subscriber[int] = Subscriber(EventFilter(), position=0, max_queued=5)
    after = 0
    for size in [2, 2, 1, 3, 4, 1, 1, 1, 6, 2, 0, 5]:
        sub.offer(full_batch(after, after + size))
        after += size
        assert 0 <= sub.queued <= 5
        assert sub.queued == sum(len(b.entries) for b in sub.queue)
    assert sub.peak_queued == 5
    assert sub.overflows == 4


# --- where a catch-up read leaves position -----------------------------------


def test_a_full_catch_up_read_reaches_only_its_last_row() -> None:
    rows = [event(4), event(6), event(9)]
    assert caught_up_to(position=3, known=50, rows=rows, limit=3) == 9


def test_a_partial_catch_up_read_reaches_the_known_committed_cursor() -> None:
    rows = [event(4), event(6)]
    assert caught_up_to(position=3, known=50, rows=rows, limit=3) == 50


def test_a_partial_read_that_saw_rows_beyond_known_reaches_its_last_row() -> None:
    rows = [event(4), event(60)]
    assert caught_up_to(position=3, known=50, rows=rows, limit=3) == 60


def test_a_catch_up_read_with_no_rows_reaches_the_known_committed_cursor() -> None:
    assert caught_up_to(position=3, known=50, rows=[], limit=3) == 50


def test_a_catch_up_read_never_moves_position_back() -> None:
    assert caught_up_to(position=70, known=50, rows=[], limit=3) == 70


# --- the whole rule, against random interleavings -----------------------------


@dataclass
class World:
    """A database, the listener's `known`, the hub and one subscriber, driven
    the way server/operations/watch.py drives them."""

    matches: list[bool]  # per cursor to commit, in order: does it match the filter?
    start: int
    hub_limit: int
    catch_up_limit: int
    subscriber: Subscriber[int]
    committed: list[StoredEvent] = field(default_factory=list)
    known: int = 0
    published: int = 0
    pending: Batch[int] | None = None
    delivered: list[int] = field(default_factory=list)

    def commit(self, n: int) -> None:
        for _ in range(n):
            if len(self.committed) == len(self.matches):
                return
            cursor = len(self.committed) + 1
            project = WATCHED if self.matches[cursor - 1] else OTHER
            self.committed.append(event(cursor, project))

    def notify(self) -> None:
        self.known = max(self.known, len(self.committed))

    def read_after(self, position: int, event_filter: EventFilter, limit: int) -> list[StoredEvent]:
        rows = [e for e in self.committed[position:] if event_filter.matches(e)]
        return rows[:limit]

    def hub_publishes(self) -> bool:
        if self.published >= self.known:
            return False
        known = self.known
        rows = self.read_after(self.published, EventFilter(), self.hub_limit)
        b = batch(self.published, caught_up_to(self.published, known, rows, self.hub_limit), rows)
        self.published = b.upto
        self.subscriber.offer(b)
        assert self.subscriber.queued <= self.subscriber.max_queued
        assert self.subscriber.peak_queued <= self.subscriber.max_queued
        return True

    def subscriber_steps(self) -> bool:
        """One turn of a stream's delivery loop; False when it would wait."""
        sub = self.subscriber
        b = self.pending if self.pending is not None else sub.next_batch()
        self.pending = None
        if b is not None and sub.connects(b):
            self.delivered += [entry.message for entry in sub.take(b)]
            return True
        if b is not None or sub.position < self.published:
            self.pending = b
            sub.catch_ups += 1
            known = self.known
            rows = self.read_after(sub.position, sub.event_filter, self.catch_up_limit)
            sub.position = caught_up_to(sub.position, known, rows, self.catch_up_limit)
            self.delivered += [e.cursor for e in rows]
            return True
        return False


actions = st.lists(
    st.one_of(
        st.tuples(st.just("commit"), st.integers(1, 6)),
        st.tuples(st.just("notify"), st.just(0)),
        st.tuples(st.just("hub"), st.just(0)),
        st.tuples(st.just("drain"), st.integers(1, 4)),
    ),
    max_size=40,
)


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    matches=st.lists(st.booleans(), max_size=60),
    already_committed=st.integers(0, 15),
    resume_back=st.integers(0, 15),
    max_queued=st.integers(1, 6),
    hub_limit=st.integers(1, 4),
    catch_up_limit=st.integers(1, 4),
    steps=actions,
)
# Resuming one below the hub: the first queued batch starts just above position.
@example(
    matches=[True] * 6,
    already_committed=3,
    resume_back=1,
    max_queued=4,
    hub_limit=2,
    catch_up_limit=2,
    steps=[("commit", 2), ("notify", 0), ("hub", 0), ("drain", 3)],
)
# Overflow: two batches do not fit, the subscriber catches up from the database.
@example(
    matches=[True, False] * 8,
    already_committed=0,
    resume_back=0,
    max_queued=2,
    hub_limit=2,
    catch_up_limit=1,
    steps=[("commit", 6), ("notify", 0), ("hub", 0), ("hub", 0), ("hub", 0), ("drain", 2)],
)
def test_every_matching_event_is_delivered_exactly_once_in_cursor_order_with_no_gap(
    matches: list[bool],
    already_committed: int,
    resume_back: int,
    max_queued: int,
    hub_limit: int,
    catch_up_limit: int,
    steps: list[tuple[str, int]],
) -> None:
    world = World(
        matches=matches,
        start=0,
        hub_limit=hub_limit,
        catch_up_limit=catch_up_limit,
        subscriber=Subscriber(ONLY_ALPHA, position=0, max_queued=max_queued),
    )
    # Some events exist when the stream opens; it resumes at or before "now".
    world.commit(already_committed)
    world.notify()
    world.published = world.known
    world.start = max(world.known - resume_back, 0)
    world.subscriber.position = world.start

    for action, n in steps:
        if action == "commit":
            world.commit(n)
        elif action == "notify":
            world.notify()
        elif action == "hub":
            world.hub_publishes()
        else:
            for _ in range(n):
                world.subscriber_steps()

    # Quiesce: everything committed becomes known, published and drained.
    world.commit(len(matches))
    world.notify()
    for _ in range(10_000):
        progressed = world.hub_publishes()
        progressed = world.subscriber_steps() or progressed
        if not progressed:
            break
    else:
        raise AssertionError("the subscriber never caught up")

    expected = [
        e.cursor for e in world.committed if e.cursor > world.start and ONLY_ALPHA.matches(e)
    ]
    assert world.delivered == expected
    assert world.subscriber.position == len(world.committed)
    assert world.subscriber.peak_queued <= max_queued


# --- a hub that reads only its subscribers' projects ---------------------------


def scoped(after: int, upto: int, projects: frozenset[str] | None) -> Batch[int]:
    """A hub batch read for `projects` only: the other projects' events are absent."""
    events = [event(c) for c in range(after + 1, upto + 1)]
    kept = [e for e in events if projects is None or e.project_id in projects]
    return Batch(after, upto, tuple(Entry(e, e.cursor) for e in kept), projects)


def test_the_hub_reads_every_project_once_a_subscriber_watches_them_all() -> None:
    assert hub_scope([ONLY_ALPHA, EventFilter(project_id=OTHER)]) == frozenset({WATCHED, OTHER})
    assert hub_scope([ONLY_ALPHA, EventFilter(channel_type="alert")]) is None
    assert hub_scope([]) == frozenset()


def test_a_batch_of_the_subscribers_project_connects() -> None:
    sub: Subscriber[int] = Subscriber(ONLY_ALPHA, position=2, max_queued=100)
    b = scoped(2, 5, frozenset({WATCHED}))
    assert sub.connects(b)
    assert cursors(sub.take(b)) == [3, 4, 5]


def test_a_batch_read_without_the_subscribers_project_never_connects_above_its_position() -> None:
    # The subscriber arrived after the hub's read: its project was not read.
    sub: Subscriber[int] = Subscriber(ONLY_ALPHA, position=2, max_queued=100)
    assert not sub.connects(scoped(2, 5, frozenset({OTHER})))
    every_project: Subscriber[int] = Subscriber(EventFilter(), position=2, max_queued=100)
    assert not every_project.connects(scoped(2, 5, frozenset({WATCHED})))
    assert every_project.connects(scoped(2, 5, None))


def test_a_batch_wholly_below_the_position_connects_whatever_it_read_and_delivers_nothing() -> None:
    # After a catch-up past it, the stale batch must not send the stream back to the database.
    sub: Subscriber[int] = Subscriber(ONLY_ALPHA, position=9, max_queued=100)
    b = scoped(2, 5, frozenset({OTHER}))
    assert sub.connects(b)
    assert sub.take(b) == [] and sub.position == 9
