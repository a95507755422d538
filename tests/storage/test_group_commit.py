"""Group commit's rules (server/storage/group_commit.py), with a write whose
progress the test controls; tests/api/test_group_commit.py runs them against a
real PostgreSQL behind a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import asyncpg
import pytest

from server.domain.derivation import derive_event
from server.domain.models import AlertEventInput, NewEvent, Recorded
from server.storage.group_commit import PREPARE_AHEAD_AFTER, PREPARE_BYTES, GroupCommit

pytestmark = pytest.mark.timeout(10)


def new_event(name: str) -> NewEvent:
    return derive_event(AlertEventInput(project_id="alpha", provider="alertmanager", event_id=name))


class Writes:
    """The write behind GroupCommit: records each batch it is given, and
    holds it until the test lets it go (when `held`)."""

    def __init__(self, held: bool = False, refuse: str = "", fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.held = held
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled: list[list[str]] = []
        # A batch holding this event is refused as PostgreSQL refuses a value.
        self.refuse = refuse
        self.fail = fail

    async def __call__(self, events: Sequence[NewEvent]) -> list[Recorded]:
        names = [e.provider_event_id.removeprefix("alertmanager:") for e in events]
        self.batches.append(names)
        self.started.set()
        try:
            if self.held:
                await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(names)
            raise
        if self.refuse in names:
            raise asyncpg.CharacterNotInRepertoireError("invalid byte sequence")
        if self.fail:
            raise ConnectionResetError("the database went away")
        return [
            Recorded(id=e.id, provider_event_id=e.provider_event_id, cursor=i, is_duplicate=False)
            for i, e in enumerate(events)
        ]


async def test_a_lone_event_is_written_at_once_on_its_own() -> None:
    writes = Writes()
    recorded = await GroupCommit(writes).record(new_event("a"))
    assert recorded.provider_event_id == "alertmanager:a"
    assert writes.batches == [["a"]]


async def test_events_that_arrive_during_a_write_share_the_next_each_answered_its_own() -> None:
    writes = Writes(held=True)
    group = GroupCommit(writes)
    events = [new_event(name) for name in "abcd"]
    first = asyncio.create_task(group.record(events[0]))
    await writes.started.wait()
    rest = [asyncio.create_task(group.record(event)) for event in events[1:]]
    await asyncio.sleep(0.01)
    assert writes.batches == [["a"]]  # b, c and d wait for a's write
    writes.release.set()
    answers = await asyncio.gather(first, *rest)
    assert writes.batches == [["a"], ["b", "c", "d"]]  # in the order they came
    assert [a.id for a in answers] == [e.id for e in events]
    assert (group.batches, group.events) == (2, 4)


async def test_a_batch_is_at_most_max_batch_events() -> None:
    writes = Writes(held=True)
    group = GroupCommit(writes, max_batch=2)
    calls = [asyncio.create_task(group.record(new_event(name))) for name in "abcde"]
    await writes.started.wait()
    writes.release.set()
    await asyncio.gather(*calls)
    assert writes.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_an_event_the_database_refuses_fails_only_its_own_call() -> None:
    writes = Writes(held=True, refuse="c")
    group = GroupCommit(writes)
    first = asyncio.create_task(group.record(new_event("a")))
    await writes.started.wait()
    rest = [asyncio.create_task(group.record(new_event(name))) for name in "bcd"]
    await asyncio.sleep(0.01)
    writes.release.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)
    assert isinstance(answers[2], asyncpg.DataError)
    assert [a.provider_event_id for a in answers if isinstance(a, Recorded)] == [
        "alertmanager:a", "alertmanager:b", "alertmanager:d"
    ]
    # The batch was refused whole, then each of its events was written alone.
    assert writes.batches == [["a"], ["b", "c", "d"], ["b"], ["c"], ["d"]]


async def test_a_batch_that_fails_for_another_reason_fails_every_call_in_it_once() -> None:
    writes = Writes(held=True, fail=True)
    group = GroupCommit(writes)
    first = asyncio.create_task(group.record(new_event("a")))
    await writes.started.wait()
    rest = [asyncio.create_task(group.record(new_event(name))) for name in "bc"]
    await asyncio.sleep(0.01)
    writes.release.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)
    assert all(isinstance(a, ConnectionResetError) for a in answers)
    assert writes.batches == [["a"], ["b", "c"]]  # not tried again one by one


async def test_a_call_that_ends_while_queued_takes_its_event_back() -> None:
    writes = Writes(held=True)
    group = GroupCommit(writes)
    first = asyncio.create_task(group.record(new_event("a")))
    await writes.started.wait()
    gone = asyncio.create_task(group.record(new_event("b")))
    kept = asyncio.create_task(group.record(new_event("c")))
    await asyncio.sleep(0.01)
    gone.cancel()
    await asyncio.sleep(0.01)
    writes.release.set()
    await asyncio.gather(first, kept)
    assert gone.cancelled()
    assert writes.batches == [["a"], ["c"]]


async def test_a_batch_whose_every_call_ended_is_cancelled() -> None:
    writes = Writes(held=True)
    group = GroupCommit(writes)
    calls = [asyncio.create_task(group.record(new_event(name))) for name in "ab"]
    await writes.started.wait()
    for call in calls:
        call.cancel()
    await asyncio.sleep(0.01)
    assert writes.cancelled == [["a", "b"]]  # rolled back, not committed
    # And the group goes on: the next event is written at once.
    writes.held = False
    assert (await group.record(new_event("c"))).provider_event_id == "alertmanager:c"


async def test_a_batch_with_one_call_left_is_written_for_it() -> None:
    writes = Writes(held=True)
    group = GroupCommit(writes)
    gone, kept = [asyncio.create_task(group.record(new_event(name))) for name in "ab"]
    await writes.started.wait()
    gone.cancel()
    await asyncio.sleep(0.01)
    writes.release.set()
    assert (await kept).provider_event_id == "alertmanager:b"
    assert writes.cancelled == []
    assert writes.batches == [["a", "b"]]


class Preparing:
    """A group commit over a Writes (held, unless told otherwise), and events
    queued with it unprepared (GroupCommit.prepare_and_record), each in a task
    of its own. Notes which events were made, in order; `refuse`: the one
    whose preparation fails."""

    def __init__(self, refuse: str = "", held: bool = True) -> None:
        self.writes = Writes(held=held)
        self.group = GroupCommit(self.writes)
        self.made: list[str] = []
        self.refuse = refuse

    def queue(self, name: str, cost: int = 100) -> asyncio.Task[Recorded]:
        return asyncio.create_task(self.group.prepare_and_record(self._prepare(name), cost))

    async def while_a_is_written(self, *, a_prepared: bool = False) -> asyncio.Task[Recorded]:
        """Event "a", its write started and held: what is queued next waits
        behind it. `a_prepared`: "a" comes prepared (it is not made here)."""
        first = (
            asyncio.create_task(self.group.record(new_event("a"))) if a_prepared else self.queue("a")
        )
        await self.writes.started.wait()
        return first

    def _prepare(self, name: str) -> Callable[[], NewEvent]:
        def prepare() -> NewEvent:
            if name == self.refuse:
                raise ValueError(f"{name} is malformed")
            self.made.append(name)
            return new_event(name)

        return prepare


async def test_queued_events_are_prepared_when_their_batch_is_taken_in_their_order() -> None:
    preparing = Preparing()
    first = await preparing.while_a_is_written()
    rest = [preparing.queue(name) for name in "bcd"]
    await asyncio.sleep(0.01)
    assert preparing.made == ["a"]  # b, c and d wait, unprepared, for a's write
    preparing.writes.release.set()
    answers = await asyncio.gather(first, *rest)
    assert preparing.made == ["a", "b", "c", "d"]
    assert preparing.writes.batches == [["a"], ["b", "c", "d"]]
    assert [a.provider_event_id for a in answers] == [f"alertmanager:{n}" for n in "abcd"]


async def test_a_preparation_that_fails_answers_its_own_call_and_the_batch_goes_on() -> None:
    preparing = Preparing(refuse="c")
    first = await preparing.while_a_is_written()
    rest = [preparing.queue(name) for name in "bcd"]
    await asyncio.sleep(0.01)
    preparing.writes.release.set()
    answers = await asyncio.gather(first, *rest, return_exceptions=True)
    assert isinstance(answers[2], ValueError) and str(answers[2]) == "c is malformed"
    assert [a.provider_event_id for a in answers if isinstance(a, Recorded)] == [
        "alertmanager:a", "alertmanager:b", "alertmanager:d"
    ]
    assert preparing.writes.batches == [["a"], ["b", "d"]]
    assert (preparing.group.batches, preparing.group.events) == (2, 3)


async def test_a_batch_whose_every_preparation_fails_writes_nothing_and_the_next_goes_on() -> None:
    preparing = Preparing(refuse="b")
    first = await preparing.while_a_is_written()
    refused = preparing.queue("b")
    await asyncio.sleep(0.01)
    preparing.writes.release.set()
    await first
    with pytest.raises(ValueError):
        await refused
    preparing.writes.held = False
    assert (await preparing.queue("c")).provider_event_id == "alertmanager:c"
    assert preparing.writes.batches == [["a"], ["c"]]


async def test_a_batch_prepares_at_most_prepare_bytes_of_requests_but_always_one() -> None:
    preparing = Preparing()
    first = await preparing.while_a_is_written(a_prepared=True)
    costs = {"b": PREPARE_BYTES // 2, "c": PREPARE_BYTES // 2, "d": 1, "e": 3 * PREPARE_BYTES}
    rest = [preparing.queue(name, cost) for name, cost in costs.items()]
    # An event prepared already costs the batch nothing.
    rest.append(asyncio.create_task(preparing.group.record(new_event("f"))))
    await asyncio.sleep(0.01)
    preparing.writes.release.set()
    await asyncio.gather(first, *rest)
    assert preparing.writes.batches == [["a"], ["b", "c"], ["d"], ["e", "f"]]


async def test_a_call_that_ends_while_queued_is_never_prepared() -> None:
    preparing = Preparing()
    first = await preparing.while_a_is_written()
    gone = preparing.queue("b")
    kept = preparing.queue("c")
    await asyncio.sleep(0.01)
    gone.cancel()
    preparing.writes.release.set()  # before the cancelled call has run again
    await asyncio.gather(first, kept)
    assert gone.cancelled()
    assert preparing.made == ["a", "c"]
    assert preparing.writes.batches == [["a"], ["c"]]


async def test_a_call_that_ends_as_its_batch_is_taken_is_never_prepared() -> None:
    preparing = Preparing(held=False)
    gone = preparing.queue("b")
    await asyncio.sleep(0)  # queued, and the writer is to run before it again
    gone.cancel()
    await asyncio.sleep(0.01)
    assert gone.cancelled()
    assert preparing.made == []
    assert preparing.writes.batches == []


async def test_events_queued_behind_a_slow_write_are_checked_without_waiting_for_it() -> None:
    preparing = Preparing(refuse="b")
    first = await preparing.while_a_is_written(a_prepared=True)
    refused = preparing.queue("b")
    kept = preparing.queue("c")
    with pytest.raises(ValueError):  # while a's write is still held
        await asyncio.wait_for(refused, 10 * PREPARE_AHEAD_AFTER)
    assert preparing.made == ["c"]  # made ahead, not written
    assert preparing.writes.batches == [["a"]]
    preparing.writes.release.set()
    await asyncio.gather(first, kept)
    assert preparing.made == ["c"]
    assert preparing.writes.batches == [["a"], ["c"]]
