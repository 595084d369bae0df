"""Re-planning cost (CONTRACT section 9): `rebalance plan --previous` next to a plan
from scratch, on a city with demand per slot and staggered couriers.

    .venv/bin/python benchmarks/replan_bench.py                       # 1,000 zones / 100,000 couriers
    .venv/bin/python benchmarks/replan_bench.py --zones 50 --couriers 2000 --repeat 1

For the shift start (19:00) and one slot later (19:30) it runs, each in a fresh
process (the installed console script, reaped with ``os.wait4``):

- ``scratch``: ``rebalance plan DIR --shift-start T --format json``;
- ``--previous``: the same with ``--previous P0``, P0 the 19:00 plan from scratch
  (at 19:00 an unchanged re-plan; at 19:30 couriers sent at 19:00 are on their way).

The two run in turn, each in both memory states (`run.in_states`: fresh, after an idle
pause, and reused, right after a process used and freed more memory than the plan). It
prints wall and CPU seconds (median of ``--repeat`` per state, as ``fresh / reused``),
peak RSS, the solve time and the ``since_previous`` marking from the plan's own timings
(its fresh run), and the ratio ``--previous / scratch`` per state. The target is at most
1.5x in both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    WORK,
    both,
    by_state,
    checked,
    generate_in_child,
    in_states,
    measure,
    ratio,
    rebalance_cmd,
)

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


def plan_cmd(
    data: Path,
    shift: str,
    previous: Path | None,
    out: Path | None = None,
    time_limit: float = 1800.0,
) -> list[str]:
    cmd = [*rebalance_cmd(), "plan", str(data), "--shift-start", shift, "--format", "json"]
    cmd += ["--time-limit", str(time_limit)]
    if previous is not None:
        cmd += ["--previous", str(previous)]
    if out is not None:
        cmd += ["--out", str(out)]
    return cmd


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
        checked(measure(plan_cmd(data, SHIFT, None, out=p0, time_limit=limit)), "plan P0")
        for shift in (SHIFT, LATER):
            cmds = {
                "scratch": plan_cmd(data, shift, None, time_limit=limit),
                "--previous": plan_cmd(data, shift, p0, time_limit=limit),
            }
            rows.append((shift, in_states(cmds, args.repeat)))
    load1 = os.getloadavg()[0]

    print(
        f"## Re-plan cost: {args.zones:,} zones, {args.couriers:,} couriers "
        f"(demand per slot, staggered), median of {args.repeat} per memory state "
        "(fresh / reused); "
        f"load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} CPUs\n"
    )
    print(
        "| shift | run | wall s, fresh / reused | CPU s, fresh / reused | peak RSS MB | solve s "
        "| since_previous s "
        "| moves | changed | on the way | status |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for shift, runs in rows:
        for label in ("scratch", "--previous"):
            meta = runs[label, "fresh"][-1].json()
            k = meta["kpis"]
            wall, cpu, peak = by_state(runs, label)
            print(
                f"| {shift[-5:]} | {label} | {both(wall)} | "
                f"{both(cpu)} | {peak:.0f} | {meta['solve_seconds']:.2f} | "
                f"{meta['timings'].get('since_previous', 0):.2f} | {k.get('moves')} | "
                f"{k.get('changed_couriers', '')} | {k.get('on_the_way', '')} | {meta['status']} |"
            )
    print("\n| shift | wall ratio --previous / scratch, fresh / reused | CPU ratio | target |")
    print("|---|---|---|---|")
    for shift, runs in rows:
        again, scratch = by_state(runs, "--previous"), by_state(runs, "scratch")
        print(
            f"| {shift[-5:]} | {ratio(again[0], scratch[0], digits=2)} | "
            f"{ratio(again[1], scratch[1], digits=2)} | <= 1.5x in both |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
