"""`make bench`: issue 10's whole bench in one table (bench/suite.py), written
into bench/RESULTS.md. `make bench BENCH="name ..."` runs bench/bench_<name>.py
instead (each prints its own figures, beside a baseline measured in the same
run: this machine is shared and noisy, so only ratios mean anything).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    wanted = sys.argv[1:]
    if not wanted:
        from bench import suite

        suite.main()
        return
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    unknown = [w for w in wanted if w not in names and f"bench_{w}" not in names]
    if unknown:
        sys.exit(f"no bench named {', '.join(unknown)}; there are: "
                 + ", ".join(n.removeprefix("bench_") for n in names))
    for name in names:
        if name in wanted or name.removeprefix("bench_") in wanted:
            print(f"== {name}", flush=True)
            importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
