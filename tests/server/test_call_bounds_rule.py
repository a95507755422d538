"""server/call_bounds.py: a call's bound without a timer of its own.
tests/api/test_call_bounds.py holds the end-to-end behaviour (a call that
overruns answers DEADLINE_EXCEEDED, on a real server)."""

from __future__ import annotations

import asyncio

import pytest

from server.call_bounds import CallBounds

pytestmark = pytest.mark.timeout(10)


async def test_a_call_within_its_bound_returns_its_result() -> None:
    bounds = CallBounds(1.0)

    async def quick() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert await bounds.bound(quick()) == "done"


async def test_a_call_past_its_bound_raises_timeout_within_one_sweep() -> None:
    bounds = CallBounds(0.2)  # swept every 0.02 s
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError):
        await bounds.bound(asyncio.sleep(5))
    took = asyncio.get_running_loop().time() - started
    assert 0.2 <= took < 0.4
    # The task is not left with a cancellation pending.
    current = asyncio.current_task()
    assert current is not None and current.cancelling() == 0
    await asyncio.sleep(0)


async def test_calls_in_flight_each_keep_their_own_bound() -> None:
    bounds = CallBounds(0.3)

    async def call(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    slow = asyncio.create_task(bounds.bound(call(5)))
    await asyncio.sleep(0.2)
    quick = asyncio.create_task(bounds.bound(call(0.05)))
    assert await quick == 0.05
    with pytest.raises(TimeoutError):
        await slow
    # And a call after them gets a fresh bound (the sweep starts again).
    assert await bounds.bound(call(0.05)) == 0.05


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    bounds = CallBounds(5.0)
    task = asyncio.create_task(bounds.bound(asyncio.sleep(5)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_a_call_cancelled_from_elsewhere_after_its_bound_passed_is_cancelled() -> None:
    # Both asked it to stop: the caller's cancellation wins, as with
    # asyncio.timeout (the timeout only claims a cancellation that is its own).
    bounds = CallBounds(0.1)

    async def stubborn() -> None:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cleanup, during which the caller cancels too
            raise

    task = asyncio.create_task(bounds.bound(stubborn()))
    await asyncio.sleep(0.13)  # the bound has fired; the call is cleaning up
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
