"""Where CPU-heavy work of a request runs: off the event loop when it is big.

Parsing, checking and redacting a request is pure Python. On the event loop,
a 1 MiB webhook body held every other call, the health check included, for
the whole of its work. Big requests run that work on a small pool of threads
instead; the loop then gets the interpreter at least every switch interval
(5 ms), so no call waits on another's parsing for more than a few
milliseconds at a time. Small requests (nearly all of them) stay on the loop,
where a thread hop would cost more than the work.

Two threads: more would only queue on the interpreter lock, and would let a
burst of big bodies take turns with the loop more often.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

# Requests whose encoded size is below this are worked on the loop.
OFFLOAD_BYTES = 64 * 1024

# Set on the pool's threads only: see `yielding`.
_worker = threading.local()


def _mark_worker() -> None:
    _worker.active = True


_POOL = ThreadPoolExecutor(
    max_workers=2, thread_name_prefix="request-cpu", initializer=_mark_worker
)

P = ParamSpec("P")
T = TypeVar("T")


async def run(size: int, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)`, on a worker thread when `size` (bytes of the
    request it works on) is at least OFFLOAD_BYTES."""
    if size < OFFLOAD_BYTES:
        return work(*args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_POOL, lambda: work(*args, **kwargs))


def yielding(value: T) -> T:
    """`value`, after offering the interpreter lock to the other threads.

    A worker's pure Python keeps the lock for a switch interval (5 ms) at a
    time, and the event loop and gRPC's poller each need it several times per
    call they serve: a loop over a thousand alerts delayed a health check by
    160 ms. Offered after each item, the lock goes to a waiting thread at once.

    Only on a worker thread: a small request's work runs on the loop itself,
    where offering the lock only hands it to gRPC's poller and waits to get
    it back (py-spy: 22% of a server's samples under IngestProviderPayload
    of 20 alerts, one call in flight).
    """
    if getattr(_worker, "active", False):
        time.sleep(0)
    return value
