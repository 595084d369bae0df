"""Re-planning cost (CONTRACT section 9): `rebalance plan --previous` next to a plan
from scratch, on a city with demand per slot and staggered couriers.

    .venv/bin/python benchmarks/replan_bench.py                       # 1,000 zones / 100,000 couriers
    .venv/bin/python benchmarks/replan_bench.py --zones 50 --couriers 2000 --repeat 1

For the shift start (19:00) and one slot later (19:30) it runs, each in a fresh
process (the installed console script, reaped with ``os.wait4``):

- ``scratch``: ``rebalance plan DIR --shift-start T --format json``;
- ``--previous``: the same with ``--previous P0``, P0 the 19:00 plan from scratch
  (at 19:00 an unchanged re-plan; at 19:30 couriers sent at 19:00 are on their way).

It prints wall and CPU seconds (median of ``--repeat``), peak RSS, the solve time and
the ``since_previous`` marking from the plan's own timings, and the ratio
``--previous / scratch``. The target is at most 1.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import WORK, Run, checked, generate_in_child, measure, rebalance_cmd

SHIFT = "2026-11-30T19:00"
LATER = "2026-11-30T19:30"  # on the 30-minute slot grid of demand.csv
SEED = 2026


def instance(zones: int, couriers: int) -> Path:
    """The cached city of that size with demand.csv and staggered couriers."""
    restaurants = round(0.4 * couriers)
    path = WORK / f"replan_z{zones}_c{couriers}_r{restaurants}_s{SEED}"
    if not (path / ".complete").exists():
        generate_in_child(
            path,
            zones=zones,
            couriers=couriers,
            restaurants=restaurants,
            seed=SEED,
            shift_start=SHIFT,
            demand=True,
            staggered=True,
        )
        (path / ".complete").touch()
    return path


def plan_runs(
    data: Path,
    shift: str,
    n: int,
    previous: Path | None,
    out: Path | None = None,
    time_limit: float = 1800.0,
) -> tuple[list[Run], dict[str, Any]]:
    cmd = [*rebalance_cmd(), "plan", str(data), "--shift-start", shift, "--format", "json"]
    cmd += ["--time-limit", str(time_limit)]
    if previous is not None:
        cmd += ["--previous", str(previous)]
    if out is not None:
        cmd += ["--out", str(out)]
    runs = [checked(measure(cmd), f"plan {shift} previous={previous}") for _ in range(n)]
    return runs, json.loads(runs[-1].stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--couriers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=1800.0, help="solver seconds")
    args = parser.parse_args(argv)
    data = instance(args.zones, args.couriers)
    load0 = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        p0 = Path(tmp) / "p0"
        limit = args.time_limit
        plan_runs(data, SHIFT, 1, None, out=p0, time_limit=limit)
        for shift in (SHIFT, LATER):
            scratch, s_meta = plan_runs(data, shift, args.repeat, None, time_limit=limit)
            again, a_meta = plan_runs(data, shift, args.repeat, p0, time_limit=limit)
            rows.append((shift, scratch, s_meta, again, a_meta))
    load1 = os.getloadavg()[0]

    def wall(runs: list[Run]) -> float:
        return statistics.median(r.wall for r in runs)

    def cpu(runs: list[Run]) -> float:
        return statistics.median(r.cpu for r in runs)

    print(
        f"## Re-plan cost: {args.zones:,} zones, {args.couriers:,} couriers "
        f"(demand per slot, staggered), median of {args.repeat}; "
        f"load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} CPUs\n"
    )
    print(
        "| shift | run | wall s | CPU s | peak RSS MB | solve s | since_previous s "
        "| moves | changed | on the way | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for shift, scratch, s_meta, again, a_meta in rows:
        for label, runs, meta in (("scratch", scratch, s_meta), ("--previous", again, a_meta)):
            k = meta["kpis"]
            print(
                f"| {shift[-5:]} | {label} | {wall(runs):.2f} | {cpu(runs):.2f} | "
                f"{max(r.rss_mb for r in runs):.0f} | {meta['solve_seconds']:.2f} | "
                f"{meta['timings'].get('since_previous', 0):.2f} | {k.get('moves')} | "
                f"{k.get('changed_couriers', '')} | {k.get('on_the_way', '')} | {meta['status']} |"
            )
    print("\n| shift | wall ratio --previous / scratch | CPU ratio | target |")
    print("|---|---|---|---|")
    for shift, scratch, _, again, _ in rows:
        print(
            f"| {shift[-5:]} | {wall(again) / wall(scratch):.2f}x | "
            f"{cpu(again) / cpu(scratch):.2f}x | <= 1.5x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
