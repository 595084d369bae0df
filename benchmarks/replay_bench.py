"""Replay at scale: 1,000 zones / 100,000 couriers / 1 million orders (target <= 10 s).

Builds a generated city (staggered couriers), one million orders placed during the
19:00-23:00 shift (restaurants weighted by their rate, times along the evening profile),
two plans of `rebalance plan`: the shift in 8 slots, and a snapshot (one 30-minute slot,
every move at the start), then measures:

- ``rebalance replay DIR --orders orders.csv --plan snapshot --plan slots --format json``
  as a whole process (the console script, as users run it): wall, CPU, peak RSS, paired
  in turn with its floor (a process that imports pandas and reads the same CSV files,
  the city's, the orders and both plans' moves and zones, with the pyarrow engine), each
  in both memory states (``benchmarks/run.py``'s `in_states`: fresh and reused);
- in-process: reading and validating the orders (`load_orders`), and the replay itself
  on loaded tables (`replay`), medians of ``--repeat`` runs.

    .venv/bin/python benchmarks/replay_bench.py               # the target size
    .venv/bin/python benchmarks/replay_bench.py --orders 100000 --zones 200 --couriers 20000

Instances are cached in benchmarks/.work/replay/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from probe import TABLES  # noqa: E402
from run import (  # noqa: E402
    PY,
    by_state,
    checked,
    in_states,
    machine,
    measure,
    paired_table,
    rebalance_cmd,
    table_row,
)

from rebalance import load, load_config, load_orders, replay  # noqa: E402
from rebalance.generate import daily_profile, generate_city  # noqa: E402

SHIFT = "2026-11-30T19:00"
SEED = 2026


def build(work: Path, zones: int, couriers: int, orders: int) -> Path:
    """The city, its orders, and two plan folders, reused while the sizes match."""
    # "plans": 3 since both plans are `rebalance plan`'s (a random slot plan before)
    spec = {"zones": zones, "couriers": couriers, "orders": orders, "seed": SEED, "plans": 3}
    stamp = work / "spec.json"
    if stamp.exists() and json.loads(stamp.read_text()) == spec:
        return work
    shutil.rmtree(work, ignore_errors=True)
    city = generate_city(
        work / "city",
        zones=zones,
        couriers=couriers,
        restaurants=couriers * 2 // 5,
        seed=SEED,
        staggered=True,
    )
    rng = np.random.default_rng(SEED)
    rest = pd.read_csv(city / "restaurants.csv", dtype=str)
    rate = rest["expected_orders_per_hour"].astype(float).to_numpy()
    r = rng.choice(len(rest), size=orders, p=rate / rate.sum())
    minutes = np.arange(240)
    profile = daily_profile(19 + (minutes + 0.5) / 60)
    at = rng.choice(minutes, size=orders, p=profile / profile.sum()) * 60 + rng.integers(
        0, 60, size=orders
    )
    placed = np.datetime64("2026-11-30T19:00:00") + np.sort(at).astype("timedelta64[s]")
    pd.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in range(1, orders + 1)],
            "restaurant_id": rest["restaurant_id"].to_numpy()[r],
            "placed_at": np.datetime_as_string(placed, unit="s"),
        }
    ).to_csv(work / "orders.csv", index=False)
    # two real plans (read_plan refuses a folder `rebalance plan` did not write as it
    # is): the shift in 8 slots, and a snapshot (one 30-minute slot: every move at the
    # start, the couriers then staying where it sent them)
    for name, end in (("slots", []), ("snapshot", ["--shift-end", "2026-11-30T19:30"])):
        checked(
            measure(
                [
                    *rebalance_cmd(),
                    "plan",
                    str(city),
                    "--shift-start",
                    SHIFT,
                    *end,
                    "--out",
                    str(work / name),
                    "--format",
                    "json",
                ]
            ),
            f"rebalance plan ({name})",
        )
    stamp.write_text(json.dumps(spec))
    return work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--couriers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = build(HERE / ".work" / "replay", args.zones, args.couriers, args.orders)
    city = work / "city"
    cmd = [
        *rebalance_cmd(),
        "replay",
        str(city),
        "--orders",
        str(work / "orders.csv"),
        "--shift-start",
        SHIFT,
        "--plan",
        str(work / "snapshot"),
        "--plan",
        str(work / "slots"),
        "--format",
        "json",
    ]
    read = [work / "orders.csv"] + [
        work / p / f for p in ("snapshot", "slots") for f in ("moves.csv", "zones.csv")
    ]
    floor = [PY, str(HERE / "probe.py"), "floor", str(city), *map(str, read)]
    runs = in_states({"replay": cmd, "floor": floor}, args.repeat)
    doc = runs["replay", "fresh"][0].json()
    wall, cpu, rss = by_state(runs, "replay")
    floor_wall, _, floor_rss = by_state(runs, "floor")
    # what the floor reads: the city's tables (probe.TABLES, as it lists them) and ``read``
    tables = [city / f"{t}.csv" for t in TABLES]
    floor_mb = sum(p.stat().st_size for p in [*tables, *read] if p.exists()) / 1e6

    config = load_config(city / "rebalance.toml")
    inputs = load(city, config)
    load_times, replay_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        orders = load_orders(work / "orders.csv", inputs.restaurants, config)
        load_times.append(time.perf_counter() - t0)
    from rebalance import read_plan

    plans = {"snapshot": read_plan(work / "snapshot"), "slots": read_plan(work / "slots")}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        replay(inputs, orders, config, SHIFT, plans=plans)
        replay_times.append(time.perf_counter() - t0)

    info = machine()
    print(
        f"# Replay benchmark ({info['CPU']}, {info['cores']} cores, {info['RAM']}, "
        f"load average {os.getloadavg()[0]:.1f})\n"
    )
    print(
        f"{args.zones:,} zones, {args.couriers:,} couriers, {args.orders:,} orders, "
        f"2 plans (snapshot, one 30-minute slot: {len(plans['snapshot'].moves):,} moves; "
        f"the shift in 8 slots: {len(plans['slots'].moves):,} moves), 8 slots\n"
    )
    print(
        f"Median of {args.repeat} runs of replay and floor in turn, each with fresh memory "
        f"(after idle) and with reused memory (see benchmarks/README.md); the floor reads "
        f"the {floor_mb:.0f} MB of CSV files the replay reads.\n"
    )

    paired_table(
        "rebalance replay ... --format json",
        "replay",
        wall,
        cpu,
        f"{rss:.0f}",
        floor_wall,
        floor_rss,
    )
    table_row(
        "`load_orders` (read + validate 1 file, in-process)",
        [f"{statistics.median(load_times):.2f}", ""],
    )
    table_row(
        "`replay` on loaded tables (3 policies, in-process)",
        [f"{statistics.median(replay_times):.3f}", ""],
    )
    print()
    print("| policy | orders | served | share |")
    print("|---|---:|---:|---:|")
    for p in doc["policies"]:
        print(f"| {p['name']} | {p['orders']:,} | {p['served']:,.0f} | {p['share']:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
