"""`make bench`: runs every bench/bench_*.py (or those named on the command line).

Each module has `main() -> None` and prints its own figures, always beside a
baseline measured in the same run: this machine is shared and noisy, so only
ratios mean anything.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    names = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = sys.argv[1:] or names
    for name in names:
        if name in wanted or name.removeprefix("bench_") in wanted:
            print(f"== {name}", flush=True)
            importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main()
