"""Which CPUs the bench's processes run on, and the sentence that says so.

On a machine of two or more cores the service and the baseline handler run
on CPU 0 (the second server of a two-server run on CPU 1) and the load
client's processes on CPU 1: a server's Python then never competes with its
own clients for a core, and the service and its baseline get the same core.
PostgreSQL is not pinned (it runs where the scheduler puts it). BENCH_PIN=0
turns pinning off; one core: nothing is pinned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Pinning:
    # servers[i]: the CPUs of the i-th server of a run (None: anywhere).
    servers: tuple[set[int] | None, ...]
    clients: set[int] | None

    def describe(self) -> str:
        if self.clients is None:
            return "nothing pinned"
        return (
            f"servers and the baseline handler on CPU {sorted(self.servers[0] or ())}, "
            f"a second server on CPU {sorted(self.servers[1] or ())}, "
            f"the load client's processes on CPU {sorted(self.clients)}; PostgreSQL not pinned"
        )


def pinning() -> Pinning:
    cpus = sorted(os.sched_getaffinity(0))
    if os.environ.get("BENCH_PIN", "1") == "0" or len(cpus) < 2:
        return Pinning(servers=(None, None), clients=None)
    first, second = cpus[0], cpus[1]
    return Pinning(servers=({first}, {second}), clients={second})
