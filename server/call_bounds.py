"""The service's own bound on a call that brings no deadline (AWOOOP_CALL_TIMEOUT),
for both transports (server/api/guard.py, server/http/edge.py).

`asyncio.timeout` per call did the same with a timer each: a push onto the
event loop's heap and a cancellation, ~4 µs of the loop's time per call,
2.5% of a small read's throughput (bench/RESULTS.md, the eighth pass). Here
a call notes when it must end, and one timer for all of them sweeps the
calls in flight every SWEEP_SECONDS (a tenth of the bound, when that is
shorter): a call past its bound is cancelled, and the cancellation raises
TimeoutError out of `bound`, as asyncio.timeout's would. A call ends between
its bound and one sweep later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# How often the calls in flight are checked, at most: a bound of seconds
# needs no finer clock, and a sweep looks at every call in flight.
SWEEP_SECONDS = 0.1


class CallBounds:
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._every = min(SWEEP_SECONDS, seconds / 10)
        # The calls in flight, by the loop time each must end by.
        self._ends: dict[asyncio.Task[object], float] = {}
        # Those the sweep cancelled for their bound.
        self._expired: set[asyncio.Task[object]] = set()
        self._sweep_handle: asyncio.TimerHandle | None = None

    async def bound(self, call: Awaitable[T]) -> T:
        """`call`'s result; TimeoutError when it has not ended within the bound."""
        task = asyncio.current_task()
        assert task is not None, "a call runs in a task"
        loop = asyncio.get_running_loop()
        self._ends[task] = loop.time() + self._seconds
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(self._every, self._sweep)
        cancelled = False
        try:
            return await call
        except asyncio.CancelledError:
            cancelled = True
            # Ours alone (no one else asked this task to stop): a timeout.
            if task in self._expired and task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            del self._ends[task]
            if task in self._expired:
                self._expired.discard(task)
                if not cancelled:  # the call ended anyway: take our request back
                    task.uncancel()

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for task, ends in self._ends.items():
            if ends <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._sweep_handle = loop.call_later(self._every, self._sweep) if self._ends else None
