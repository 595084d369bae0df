"""`rebalance ARGS...` in a real process whose `rebalance run` sleeps after some phases,
the lock held: lets tests find a run holding its lock, or kill it at a known point.

Usage: python tests/pause_run.py PHASE:SECONDS[,PHASE:SECONDS] run --config F ...
"""

from __future__ import annotations

import functools
import sys
import time

import rebalance.runner
from rebalance.cli import main


def _pauses(spec: str) -> dict[str, float]:
    pairs = (item.partition(":") for item in spec.split(",") if item.strip())
    return {name.strip(): float(seconds) for name, _, seconds in pairs}


if __name__ == "__main__":
    pauses = _pauses(sys.argv[1])

    def after_phase(phase: str) -> None:
        time.sleep(pauses.get(phase, 0.0))

    rebalance.runner.run = functools.partial(rebalance.runner.run, after_phase=after_phase)
    sys.argv = ["rebalance", *sys.argv[2:]]
    main()
