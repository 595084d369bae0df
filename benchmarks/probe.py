"""Measurements that run in a fresh process of their own, printing one JSON line.

python benchmarks/probe.py floor DATA_DIR    # pandas' pyarrow CSV reader and nothing else
python benchmarks/probe.py floor DATA_DIR FILE...  # the same, and these CSV files too
python benchmarks/probe.py stages DATA_DIR   # rebalance's stages, timed in-process
python benchmarks/probe.py stages --one-slot DATA_DIR   # the same, one 30-minute slot
python benchmarks/probe.py cli ARGS...       # the `rebalance` command, in this process
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SHIFT = "2026-11-30T19:00"
TABLES = ("zones", "restaurants", "couriers", "travel_times", "demand")


def floor(data_dir: Path, extra: tuple[Path, ...] = ()) -> dict[str, float]:
    """Seconds to import pandas and to read the directory's CSV files (and ``extra``
    ones: a replay's orders and plan files) with pyarrow."""
    t0 = time.perf_counter()
    import pandas as pd

    t1 = time.perf_counter()
    rows = 0
    paths = [data_dir / f"{name}.csv" for name in TABLES]
    for path in [*paths, *extra]:
        if path.exists():
            rows += len(pd.read_csv(path, engine="pyarrow"))
    t2 = time.perf_counter()
    return {"import_seconds": t1 - t0, "read_seconds": t2 - t1, "rows": rows}


#: ``--one-slot``: the shift ends one 30-minute slot after it starts (the one-slot
#: min-cost flow of CONTRACT section 2, not the slot model).
ONE_SLOT_END = "2026-11-30T19:30"


def stages(data_dir: Path, shift_end: str | None = None) -> dict[str, float | int | str]:
    """Import, load+validate, build, solve and JSON output times of one plan, in-process.

    ``pause_seconds`` is the pause lists' share of the solve (inside ``post``).
    """
    t0 = time.perf_counter()
    import numpy as np

    import rebalance
    from rebalance import optimize
    from rebalance.optimize import solve_problem

    pause = [0.0]
    pause_lists = optimize._pause_lists

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return pause_lists(*args, **kwargs)
        finally:
            pause[0] += time.perf_counter() - start

    optimize._pause_lists = timed  # type: ignore[assignment]

    toml = data_dir / "rebalance.toml"
    config = rebalance.load_config(toml if toml.is_file() else None)
    t1 = time.perf_counter()
    inputs = rebalance.load(data_dir, config)
    t2 = time.perf_counter()
    problem = rebalance.build_problem(inputs, config, SHIFT, shift_end)
    t3 = time.perf_counter()
    plan = solve_problem(problem)
    t4 = time.perf_counter()
    timings = plan.timings
    plan.to_json()
    t5 = time.perf_counter()
    per_group = np.bincount(problem.arc_group, minlength=len(problem.group_size))
    return {
        "import_seconds": t1 - t0,
        "load_seconds": t2 - t1,
        "build_seconds": t3 - t2,
        "solve_total_seconds": t4 - t3,
        "json_seconds": t5 - t4,
        "flow_seconds": float(timings.get("solve", 0.0)),
        "post_seconds": float(timings.get("post", 0.0)),
        "pause_seconds": pause[0],
        "status": plan.status,
        "couriers": len(inputs.couriers),
        "eligible": len(problem.eligible),
        "groups": len(problem.group_size),
        "arcs": len(problem.arc_group),
        "binaries": int((per_group * problem.group_size).sum()),
        "slots": problem.slots,
        # the one-slot flow: arcs of the last network solved and rounds of arc generation
        "arcs_used": int(plan.solver.get("arcs", 0)),
        "rounds": int(plan.solver.get("rounds", 0)),
    }


def main(argv: list[str] | None = None) -> int:
    """``probe.py floor|stages DATA_DIR`` or ``probe.py cli ARGS``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["cli"]:
        rest = args[1:]
        from rebalance.cli import app

        sys.argv = ["rebalance", *rest]
        app()
        return 0
    shift_end = None
    if args[1:2] == ["--one-slot"]:
        shift_end = ONE_SLOT_END
        args = [args[0], *args[2:]]
    if args[:1] == ["floor"] and len(args) >= 2:
        print(json.dumps(floor(Path(args[1]), tuple(Path(a) for a in args[2:]))))
        return 0
    if len(args) != 2 or args[0] != "stages":
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(stages(Path(args[1]), shift_end)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
