"""Batch planning on Dask: serial loop vs a local Dask cluster, and Dask's per-task cost.

Plans N generated cities (default 50 of 200 zones / 20,000 couriers / 8,000 restaurants,
one seed each) twice: serially in this process (a loop over `plan_city`, imports
warmed first) and with `run_batch` on a Dask cluster. Then measures what Dask adds per
task with no-op tasks. Prints markdown tables (``--json``: one JSON line instead).

    .venv/bin/python benchmarks/batch_bench.py                  # 50 cities, local cluster
    .venv/bin/python benchmarks/batch_bench.py --cities 8       # a quick look
    .venv/bin/python benchmarks/batch_bench.py --scheduler tcp://10.0.0.5:8786 \\
        --work /shared/bench --skip-serial                      # a real cluster

Cities are generated once and cached in benchmarks/.work/batch/ (or ``--work``). On a
real cluster ``--work`` must be a folder every worker sees at the same path: workers
read the cities and write the plans themselves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from rebalance.batch import plan_city, run_batch
from rebalance.generate import generate_city

HERE = Path(__file__).resolve().parent

SHIFT = "2026-11-30T19:00"
SEED = 2026
NOOP_TASKS = 200


def noop(i: int) -> int:
    """A task that does nothing: what remains of its time is Dask's."""
    return i


def make_cities(work: Path, n: int, zones: int, couriers: int, restaurants: int) -> Path:
    """N generated cities under ``work/cities``, reused while the parameters match."""
    root = work / "cities"
    spec = {"n": n, "zones": zones, "couriers": couriers, "restaurants": restaurants}
    stamp = work / "cities.json"
    if stamp.exists() and json.loads(stamp.read_text()) == spec:
        return root
    shutil.rmtree(root, ignore_errors=True)
    for i in range(n):
        generate_city(
            root / f"city-{i:03d}",
            zones=zones,
            couriers=couriers,
            restaurants=restaurants,
            seed=SEED + i,
            city=f"City {i:03d}",
            shift_start=SHIFT,
        )
    stamp.write_text(json.dumps(spec))
    return root


def serial(cities: Path, out: Path) -> dict[str, Any]:
    """Plan every city in this process, one after the other."""
    folders = sorted(p for p in cities.iterdir() if p.is_dir())
    plan_city(str(folders[0]), SHIFT, None)  # warm imports and caches, untimed
    t0 = time.perf_counter()
    results = [plan_city(str(p), SHIFT, str(out)) for p in folders]
    wall = time.perf_counter() - t0
    bad = [r.folder for r in results if not r.planned]
    assert not bad, f"serial run failed for {bad}"
    return {"wall": wall, "task_sum": sum(r.total_seconds for r in results)}


def floor(cities: Path) -> dict[str, Any]:
    """The floor of the serial run, paired in the same process: pandas (imported already)
    reading every city's CSV files with the pyarrow engine, one city after the other."""
    import pandas as pd

    folders = sorted(p for p in cities.iterdir() if p.is_dir())
    files = [f for p in folders for f in sorted(p.glob("*.csv"))]
    pd.read_csv(files[0], engine="pyarrow")  # warm, untimed, as the serial run's first city
    t0 = time.perf_counter()
    rows = sum(len(pd.read_csv(f, engine="pyarrow")) for f in files)
    return {
        "wall": time.perf_counter() - t0,
        "rows": rows,
        "mb": sum(f.stat().st_size for f in files) / 1e6,
    }


def on_dask(cities: Path, out: Path, client: Any, workers: int | None) -> dict[str, Any]:
    """`run_batch` on ``client`` (None: a local cluster it starts and stops itself)."""
    t0 = time.perf_counter()
    result = run_batch(cities, SHIFT, out=out, client=client, workers=workers)
    wall = time.perf_counter() - t0
    bad = [r.folder for r in result.results if not r.planned]
    assert not bad, f"Dask run failed for {bad}"
    task_sum = sum(r.total_seconds for r in result.results)
    return {
        "wall": wall,
        "task_sum": task_sum,
        "workers": result.workers,
        # Worker-seconds not spent inside plan_city, per city: scheduling, transfer,
        # the first task's imports on each worker, and idle workers at the tail.
        "overhead_per_task": (wall * result.workers - task_sum) / len(result.results),
    }


def noop_overhead(client: Any) -> dict[str, float]:
    """Per-task cost of Dask itself: a burst of no-op tasks, and one-at-a-time latency."""
    client.gather(client.map(noop, range(10), pure=False))  # warm
    t0 = time.perf_counter()
    client.gather(client.map(noop, range(NOOP_TASKS), pure=False))
    burst = (time.perf_counter() - t0) / NOOP_TASKS
    latencies = []
    for i in range(50):
        t = time.perf_counter()
        client.submit(noop, i, pure=False).result()
        latencies.append(time.perf_counter() - t)
    return {"burst": burst, "round_trip": statistics.median(latencies)}


def same_plans(a: Path, b: Path) -> bool:
    """Whether two OUT folders hold byte-identical moves.csv and zones.csv per city."""
    for city in sorted(p.name for p in a.iterdir()):
        for name in ("moves.csv", "zones.csv"):
            if (a / city / name).read_bytes() != (b / city / name).read_bytes():
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=50)
    parser.add_argument("--zones", type=int, default=200)
    parser.add_argument("--couriers", type=int, default=20_000)
    parser.add_argument("--restaurants", type=int, default=8_000)
    parser.add_argument("--workers", type=int, default=2, help="local cluster size")
    parser.add_argument("--scheduler", help="a running Dask scheduler instead of a local one")
    parser.add_argument("--work", type=Path, default=HERE / ".work" / "batch")
    parser.add_argument("--skip-serial", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()

    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    work = args.work.resolve()
    t0 = time.perf_counter()
    cities = make_cities(work, args.cities, args.zones, args.couriers, args.restaurants)
    gen = time.perf_counter() - t0
    outs = {k: work / f"out-{k}" for k in ("serial", "dask", "dask-warm")}
    for out in outs.values():
        shutil.rmtree(out, ignore_errors=True)

    report: dict[str, Any] = {
        "cities": args.cities,
        "zones": args.zones,
        "couriers": args.couriers,
        "restaurants": args.restaurants,
        "cores": CPU_COUNT,
        "python": platform.python_version(),
        "generate_seconds": round(gen, 1),
        # Other work on the host skews every number: show how busy it was.
        "load_before": round(os.getloadavg()[0], 2),
    }
    report["floor"] = floor(cities)
    if not args.skip_serial:
        report["serial"] = serial(cities, outs["serial"])

    if args.scheduler:
        cold = None
        with Client(args.scheduler) as client:
            warm = on_dask(cities, outs["dask-warm"], client, None)
            per_task = noop_overhead(client)
    else:
        # Cold: what `rebalance batch` costs, cluster start-up and shutdown included.
        cold = on_dask(cities, outs["dask"], None, args.workers)
        t = time.perf_counter()
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            report["cluster_start_seconds"] = time.perf_counter() - t
            client.run(lambda: __import__("rebalance.optimize"))  # warm worker imports
            warm = on_dask(cities, outs["dask-warm"], client, None)
            per_task = noop_overhead(client)
    report.update({"dask_cold": cold, "dask_warm": warm, "noop": per_task})
    report["load_after"] = round(os.getloadavg()[0], 2)
    if not args.skip_serial:
        report["identical_plans"] = same_plans(outs["serial"], outs["dask-warm"])

    if args.json:
        print(json.dumps(report))
    else:
        print(markdown(report, args.scheduler))


def markdown(r: dict[str, Any], scheduler: str | None) -> str:
    """The report as markdown tables."""
    where = scheduler or f"local cluster, {r['dask_warm']['workers']} worker processes"
    lines = [
        f"{r['cities']} cities x ({r['zones']} zones, {r['couriers']:,} couriers, "
        f"{r['restaurants']:,} restaurants); {r['cores']} cores; Python {r['python']}; "
        f"Dask on {where}. Load average {r['load_before']} before, {r['load_after']} after.",
        "",
        "| run | wall s | speed-up | x floor | sum of task s | overhead per city s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = r.get("serial", {}).get("wall")
    low = r["floor"]["wall"]

    def row(name: str, m: dict[str, Any] | None) -> None:
        if not m:
            return
        speed = f"{base / m['wall']:.2f}x" if base else ""
        over = f"{m['overhead_per_task']:.3f}" if "overhead_per_task" in m else ""
        lines.append(
            f"| {name} | {m['wall']:.1f} | {speed} | {m['wall'] / low:.1f}x | "
            f"{m['task_sum']:.1f} | {over} |"
        )

    lines.append(
        f"| floor: pandas reading the {r['floor']['mb']:.0f} MB of CSV files (pyarrow), "
        f"one process | {low:.1f} | | 1.0x | | |"
    )
    row("serial, one process (loop over plan_city)", r.get("serial"))
    row("`rebalance batch` (cluster start-up included)", r.get("dask_cold"))
    row("`run_batch` on a running cluster", r.get("dask_warm"))
    lines += [
        "",
        "| Dask per-task cost (no-op tasks) | ms |",
        "|---|---:|",
        f"| {NOOP_TASKS} tasks submitted at once, per task | {r['noop']['burst'] * 1e3:.2f} |",
        f"| one task submitted and awaited (median round trip) | "
        f"{r['noop']['round_trip'] * 1e3:.2f} |",
    ]
    if "cluster_start_seconds" in r:
        lines.append(f"| local cluster start-up (once) | {r['cluster_start_seconds'] * 1e3:.0f} |")
    if "identical_plans" in r:
        lines += ["", f"Plans identical between serial and Dask runs: {r['identical_plans']}."]
    return "\n".join(lines)


if __name__ == "__main__":  # Dask's worker processes are spawned: guard the entry point
    main()
