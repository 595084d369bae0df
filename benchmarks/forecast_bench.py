"""Forecast at scale: weeks of past orders of a large city (target: peak RSS <= ~2.5x the CSV).

Builds a generated city with ``--history-days`` of past orders (`rebalance generate
--history-days`: restaurants weighted by their rate, times along the daily profile,
weekends busier), then measures:

- ``rebalance forecast HISTORY --data DIR --shift-start ... --out demand.csv --backtest``
  as a whole process (the console script, as users run it): wall, CPU, peak RSS, paired
  in turn with its floor (a process that imports pandas and reads the same CSV files,
  the city's and the orders, with the pyarrow engine), each in both memory states
  (``benchmarks/run.py``'s `in_states`: fresh and reused);
- in-process, once: reading and validating the orders (`load_orders`) and the forecast
  on them (`run_forecast` with the backtest).

    .venv/bin/python benchmarks/forecast_bench.py                 # 100 zones, 7.9M orders
    .venv/bin/python benchmarks/forecast_bench.py --zones 1000 --restaurants 250000 --repeat 1
        # 73M orders, a 2.9 GB CSV: ~5 min to generate, ~8 GB per run

Instances are cached in benchmarks/.work/forecast_<zones>_<restaurants>_<days>/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from probe import TABLES  # noqa: E402
from run import (  # noqa: E402
    PY,
    by_state,
    checked,
    in_states,
    machine,
    paired_table,
    rebalance_cmd,
    table_row,
)

from rebalance import load, load_config, load_orders  # noqa: E402
from rebalance.forecasting import run_forecast  # noqa: E402
from rebalance.generate import generate_city  # noqa: E402

SHIFT = "2026-11-30T19:00"
SEED = 3


def build(work: Path, zones: int, restaurants: int, couriers: int, days: int) -> Path:
    """The city with its orders.csv, reused while the sizes match."""
    spec = {"zones": zones, "restaurants": restaurants, "couriers": couriers, "days": days}
    stamp = work / "spec.json"
    if stamp.exists() and json.loads(stamp.read_text()) == {**spec, "seed": SEED}:
        return work / "city"
    shutil.rmtree(work, ignore_errors=True)
    generate_city(
        work / "city",
        zones=zones,
        couriers=couriers,
        restaurants=restaurants,
        seed=SEED,
        history_days=days,
    )
    stamp.write_text(json.dumps({**spec, "seed": SEED}))
    return work / "city"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=100)
    parser.add_argument("--restaurants", type=int, default=25_000)
    parser.add_argument("--couriers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=14, help="days of past orders")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    work = HERE / ".work" / f"forecast_{args.zones}_{args.restaurants}_{args.days}"
    city = build(work, args.zones, args.restaurants, args.couriers, args.days)
    history = city / "orders.csv"
    out = work / "demand.csv"
    cmd = [
        *rebalance_cmd(),
        "forecast",
        str(history),
        "--data",
        str(city),
        "--shift-start",
        SHIFT,
        "--out",
        str(out),
        "--backtest",
    ]
    floor = [PY, str(HERE / "probe.py"), "floor", str(city), str(history)]
    runs = in_states({"forecast": cmd, "floor": floor}, args.repeat)
    checked(runs["forecast", "fresh"][0], "rebalance forecast")
    wall, cpu, rss = by_state(runs, "forecast")
    floor_wall, _, floor_rss = by_state(runs, "floor")
    tables = [city / f"{t}.csv" for t in TABLES]
    csv_mb = history.stat().st_size / 1e6
    floor_mb = csv_mb + sum(p.stat().st_size for p in tables if p.exists()) / 1e6

    config = load_config(city / "rebalance.toml")
    inputs = load(city, config)
    t0 = time.perf_counter()
    orders = load_orders(history, inputs.restaurants, config)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_forecast(orders, inputs, config, SHIFT, backtest=True)
    forecast_s = time.perf_counter() - t0

    info = machine()
    print(
        f"# Forecast benchmark ({info['CPU']}, {info['cores']} cores, {info['RAM']}, "
        f"load average {os.getloadavg()[0]:.1f})\n"
    )
    print(
        f"{args.zones:,} zones, {args.restaurants:,} restaurants, {args.days} days of "
        f"orders: {len(orders):,} orders, a {csv_mb:,.0f} MB CSV; forecast of "
        f"{SHIFT} from {len(result.days)} days ({result.orders_used:,} orders in the "
        f"shift's hours), {len(result.demand):,} demand rows\n"
    )
    print(
        f"Median of {args.repeat} runs of forecast and floor in turn, each with fresh memory "
        f"(after idle) and with reused memory (see benchmarks/README.md); the floor reads "
        f"the {floor_mb:,.0f} MB of CSV files the forecast reads.\n"
    )

    paired_table(
        "rebalance forecast ... --out demand.csv --backtest",
        "forecast",
        wall,
        cpu,
        f"{rss:,.0f} ({rss / csv_mb:.1f}x the orders CSV)",
        floor_wall,
        floor_rss,
    )
    table_row("`load_orders` (read + validate, in-process)", [f"{load_s:.2f}", ""])
    table_row(
        "`run_forecast` on loaded orders (with backtest, in-process)", [f"{forecast_s:.2f}", ""]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
