"""`rebalance plan` at every shape of city, each next to its floor, measured in one run.

Cities at 2.5 restaurants per courier (as in real cities and the bundled Paris sample,
where most short zones need a pause list) and at 0.4 (the older benchmark shape, few
short zones), from 200 zones / 20,000 couriers to 10,000 zones / 1,000,000 couriers
(10,000,000 with ``--with-10m``). For each city, ``--repeat`` times in turn: the plan
(the ``rebalance plan`` command as a whole process, ``--format json``), the operator's
run (the same plan with ``--out``: the plan folder written and the tables shown) and the
floor (a process that imports pandas and reads the same CSV files with the pyarrow
engine, probe.py floor), so all see the same load on a shared machine; then one
in-process probe for the share of time per stage and the model size.

Each run starts in a stated memory state (`settle`), the same for plan and floor:
"fresh" after 10 s idle, "reused" right after another process used and freed more
memory than it needs. On this VM the two differ by ~2.5 ms per MB touched; in one
uncontrolled sequence the floor always followed the plan's 1 GB and reused it, while
the plan followed the floor's 0.5 GB and paid for the rest.

    .venv/bin/python benchmarks/run.py --shapes                 # = this script
    .venv/bin/python benchmarks/shapes.py --sizes 200,1000 --ratios 2.5
    .venv/bin/python benchmarks/shapes.py --with-10m --write-readme
    .venv/bin/python benchmarks/shapes.py --one-slot --sizes 10000 --ratios 2.5

``--one-slot`` plans one 30-minute slot (``--shift-end`` 19:30): the min-cost flow of
CONTRACT section 2 (arc generation, `rebalance.flowgen`) instead of the slot model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.probe import ONE_SLOT_END  # noqa: E402
from benchmarks.run import (  # noqa: E402
    COLD_SECONDS,
    PY,
    SEED,
    SHIFT,
    STATES,
    WORK,
    byte_compile,
    checked,
    generate_in_child,
    in_states,
    log,
    machine,
    measure,
    rebalance_cmd,
    table,
)

README = HERE / "README.md"
START, END = "<!-- shapes:start -->", "<!-- shapes:end -->"
#: (zones, couriers); restaurants = ratio x couriers.
SIZES = ((200, 20_000), (1_000, 100_000), (5_000, 1_000_000), (10_000, 1_000_000))
BIG = (10_000, 10_000_000)
RATIOS = (2.5, 0.4)


def instance(zones: int, couriers: int, restaurants: int) -> Path:
    """The cached synthetic city (rebalance.generate, seed 2026)."""
    path = WORK / f"z{zones}_c{couriers}_r{restaurants}_s{SEED}"
    if not (path / ".complete").exists():
        log(f"generating {zones:,} / {couriers:,} / {restaurants:,}")
        generate_in_child(path, zones=zones, couriers=couriers, restaurants=restaurants, seed=SEED)
        (path / ".complete").touch()
    return path


def input_mb(path: Path) -> float:
    """Size of the city's CSV tables, MB."""
    return sum(p.stat().st_size for p in path.glob("*.csv")) / 1e6


def bench(path: Path, repeat: int, one_slot: bool = False) -> dict[str, Any]:
    """Plan and floor, ``repeat`` times in turn, each with fresh and with reused memory
    (`settle`); then one stage probe. Every figure is a median over ``repeat`` runs but
    peak RSS (the max over every run)."""
    window = ["--shift-start", SHIFT, *(["--shift-end", ONE_SLOT_END] if one_slot else [])]
    plan_cmd = [*rebalance_cmd(), "plan", str(path), *window, "--format", "json"]
    # what an operator runs: the plan folder written, and the plan shown as tables (to a
    # pipe here, 80 columns); its escaping and routes once cost 1.9 s at 1M couriers,
    # which the JSON run above never showed
    # (a folder per city: `plan --out` refuses one holding another city's plan)
    folder = WORK / "operator-plans" / path.name
    operator_cmd = [*rebalance_cmd(), "plan", str(path), *window, "--out", str(folder)]
    floor_cmd = [PY, str(HERE / "probe.py"), "floor", str(path)]
    runs = in_states({"plan": plan_cmd, "operator": operator_cmd, "floor": floor_cmd}, repeat)
    probe = [
        PY,
        str(HERE / "probe.py"),
        "stages",
        *(["--one-slot"] if one_slot else []),
        str(path),
    ]
    stages = checked(measure(probe), "stages").json()
    plan = runs["plan", "fresh"][0].json()
    out: dict[str, Any] = {}
    for state in STATES:
        plans, floors = runs["plan", state], runs["floor", state]
        out[state] = {
            "plan_wall": statistics.median(r.wall for r in plans),
            "plan_cpu": statistics.median(r.cpu for r in plans),
            "plan_sys": statistics.median(r.sys for r in plans),
            "operator_wall": statistics.median(r.wall for r in runs["operator", state]),
            "floor_wall": statistics.median(r.wall for r in floors),
            "floor_sys": statistics.median(r.sys for r in floors),
            "floor_read": statistics.median(r.json()["read_seconds"] for r in floors),
        }
    return {
        **out,
        "plan_rss": max(r.rss_mb for k, rs in runs.items() if k[0] == "plan" for r in rs),
        "operator_rss": max(r.rss_mb for k, rs in runs.items() if k[0] == "operator" for r in rs),
        "floor_rss": max(r.rss_mb for k, rs in runs.items() if k[0] == "floor" for r in rs),
        "status": plan["status"],
        "zones_short": plan["kpis"].get("zones_short_before"),
        "stages": stages,
    }


def row(zones: int, couriers: int, ratio: float, mb: float, r: dict[str, Any]) -> list[str]:
    """One table row."""
    st = r["stages"]
    parts = {
        "load": st["load_seconds"],
        "build": st["build_seconds"],
        "flow": st["flow_seconds"],
        "pause": st["pause_seconds"],
        "rest": max(0.0, st["post_seconds"] - st["pause_seconds"]) + st["json_seconds"],
    }
    work = sum(parts.values())
    share = " / ".join(f"{100 * v / work:.0f}" for v in parts.values()) if work else "–"
    fresh, reused = r["fresh"], r["reused"]
    return [
        f"{zones:,} / {couriers:,} / {round(ratio * couriers):,}",
        f"{ratio}",
        f"{mb:,.0f}",
        f"**{fresh['plan_wall']:.2f}** / {reused['plan_wall']:.2f}",
        f"{fresh['plan_cpu']:.2f} ({fresh['plan_sys']:.2f}) / "
        f"{reused['plan_cpu']:.2f} ({reused['plan_sys']:.2f})",
        f"{fresh['floor_wall']:.2f} / {reused['floor_wall']:.2f}",
        f"**{fresh['plan_wall'] / fresh['floor_wall']:.1f}x** / "
        f"**{reused['plan_wall'] / reused['floor_wall']:.1f}x**",
        f"{r['plan_rss']:,.0f}",
        f"{fresh['operator_wall']:.2f} / {reused['operator_wall']:.2f} "
        f"({r['operator_rss']:,.0f} MB)",
        f"{r['floor_rss']:,.0f}",
        f"{work:.2f}",
        share,
        f"{st['groups']:,} / {st['arcs']:,}"
        + (f" ({st['arcs_used']:,} in {st['rounds']} rounds)" if st.get("rounds", 0) > 1 else ""),
        f"{r['zones_short']:,}",
        r["status"],
    ]


HEADER = [
    "zones / couriers / restaurants",
    "restaurants per courier",
    "CSV MB",
    "plan wall s, fresh / reused memory",
    "plan CPU s (system), fresh / reused",
    "floor wall s, fresh / reused",
    "plan / floor, fresh / reused",
    "plan peak RSS MB",
    "operator's run (--out, tables) wall s, fresh / reused (peak RSS)",
    "floor peak RSS MB",
    "in-process work s",
    "load / build / flow / pause lists / rest, %",
    "groups / arcs in range (arcs of the last flow, rounds)",
    "zones short before",
    "status",
]


def main(argv: list[str] | None = None) -> int:
    """Run the shapes asked for and print (and optionally keep) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="", help="zone counts to keep, e.g. 200,1000")
    parser.add_argument("--ratios", default="2.5,0.4", help="restaurants per courier")
    parser.add_argument("--with-10m", action="store_true", help="also 10,000 / 10,000,000")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of plan and floor per memory state (median)"
    )
    parser.add_argument("--write-readme", action="store_true", help="update benchmarks/README.md")
    parser.add_argument(
        "--one-slot", action="store_true", help="one 30-minute slot (min-cost flow)"
    )
    args = parser.parse_args(argv)
    keep = {int(x) for x in args.sizes.split(",") if x.strip()}
    sizes = [s for s in SIZES if not keep or s[0] in keep]
    if args.with_10m:
        sizes.append(BIG)
    ratios = [float(x) for x in args.ratios.split(",") if x.strip()]
    import os

    byte_compile()
    load_before = os.getloadavg()[0]
    rows, raw = [], []
    for ratio in ratios:
        for zones, couriers in sizes:
            path = instance(zones, couriers, round(ratio * couriers))
            log(f"[{zones:,} / {couriers:,} / ratio {ratio}] plan and floor x{args.repeat}")
            result = bench(path, args.repeat, args.one_slot)
            raw.append({"zones": zones, "couriers": couriers, "ratio": ratio, **result})
            rows.append(row(zones, couriers, ratio, input_mb(path), result))
            log("  " + " | ".join(rows[-1]))
    load_after = os.getloadavg()[0]
    (WORK / "last_shapes.json").write_text(json.dumps(raw, indent=1))
    info = machine()
    how = "the `rebalance` console script" + ("; one 30-minute slot" if args.one_slot else "")
    markdown = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `benchmarks/shapes.py "
            f"{' '.join(sys.argv[1:] if argv is None else argv)}`".rstrip()
            + f" ({how}; seed {SEED}, shift {SHIFT}; median of {args.repeat} runs of "
            "plan and floor in turn, each with fresh memory (after "
            f"{COLD_SECONDS:.0f} s idle) and with reused memory (right after a process "
            "used and freed more than it needs); peak RSS = max).",
            "",
            "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
            f"1-minute load average {load_before:.1f} at the start, {load_after:.1f} at the "
            "end: the machine is shared with other agents, so wall times are noisy; the "
            "floor, measured in turn with each plan, sees the same load.",
            "",
            table(HEADER, rows),
            "",
        ]
    )
    print(markdown)
    if args.write_readme:
        text = README.read_text()
        if START not in text:
            text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{markdown}{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
