"""Measurements that run in a fresh process of their own, printing one JSON line.

python benchmarks/probe.py floor DATA_DIR    # pandas' pyarrow CSV reader and nothing else
python benchmarks/probe.py stages DATA_DIR   # rebalance's stages, timed in-process
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SHIFT = "2026-11-30T19:00"
TABLES = ("zones", "restaurants", "couriers", "travel_times")


def floor(data_dir: Path) -> dict[str, float]:
    """Seconds to import pandas and to read the directory's CSV files with pyarrow."""
    t0 = time.perf_counter()
    import pandas as pd

    t1 = time.perf_counter()
    rows = 0
    for name in TABLES:
        path = data_dir / f"{name}.csv"
        if path.exists():
            rows += len(pd.read_csv(path, engine="pyarrow"))
    t2 = time.perf_counter()
    return {"import_seconds": t1 - t0, "read_seconds": t2 - t1, "rows": rows}


def stages(data_dir: Path) -> dict[str, float | int]:
    """Import, load+validate, build, solve and JSON output times of one plan, in-process."""
    t0 = time.perf_counter()
    import numpy as np

    import rebalance
    from rebalance.optimize import solve_problem

    toml = data_dir / "rebalance.toml"
    config = rebalance.load_config(toml if toml.is_file() else None)
    t1 = time.perf_counter()
    inputs = rebalance.load(data_dir, config)
    t2 = time.perf_counter()
    problem = rebalance.build_problem(inputs, config, SHIFT)
    t3 = time.perf_counter()
    plan = solve_problem(problem)
    t4 = time.perf_counter()
    plan.to_json()
    t5 = time.perf_counter()
    per_group = np.bincount(problem.arc_group, minlength=len(problem.group_size))
    return {
        "import_seconds": t1 - t0,
        "load_seconds": t2 - t1,
        "build_seconds": t3 - t2,
        "solve_total_seconds": t4 - t3,
        "json_seconds": t5 - t4,
        "couriers": len(inputs.couriers),
        "eligible": len(problem.eligible),
        "groups": len(problem.group_size),
        "arcs": len(problem.arc_group),
        "binaries": int((per_group * problem.group_size).sum()),
    }


def main(argv: list[str] | None = None) -> int:
    """``probe.py floor|stages DATA_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in {"floor", "stages"}:
        print(__doc__, file=sys.stderr)
        return 2
    what, directory = args[0], Path(args[1])
    print(json.dumps(floor(directory) if what == "floor" else stages(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
