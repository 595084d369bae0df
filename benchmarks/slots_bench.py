"""How fast the slot planner (CONTRACT section 7) is, printed as markdown tables.

Generated cities with an evening demand profile and staggered log-on/log-off
(``rebalance generate --demand --staggered``), a 4-hour shift from 19:00:

- end to end: `rebalance plan` as a fresh process at 200 zones / 20,000 couriers and
  1,000 zones / 100,000 couriers, 8 slots of 30 minutes; wall time, CPU (median of
  ``--repeat`` runs), peak RSS (max), each paired with the floor (a process importing
  pandas and reading the same CSV files, run right before it), both measured in two
  memory states, fresh and reused (`run.settle`);
- the model: rows, paths priced in against the arc-form column universe, whether the LP was already
  integral, rounds, MIP runs, status and gap (``plan.solver``);
- stages: import, load, build, LP, pricing, MIP, naming/post and writing, in-process;
- slots: 4, 8 and 16 slots (60, 30, 15 minutes) over the same shift;
- PuLP/CBC: the same commodity-level MILP written out in full in PuLP at 200 zones,
  time-limited: what it reached.

    .venv/bin/python benchmarks/slots_bench.py                 # everything
    .venv/bin/python benchmarks/slots_bench.py --quick         # 200 zones only, no PuLP
    .venv/bin/python benchmarks/slots_bench.py --only-10k --repeat 1   # 10,000 zones (minutes)
    .venv/bin/python benchmarks/slots_bench.py --only-10m --repeat 1   # 10M couriers (minutes)
    .venv/bin/python benchmarks/slots_bench.py stages DIR      # one in-process probe (JSON)
    .venv/bin/python benchmarks/slots_bench.py pulp DIR        # the PuLP model (JSON)

Numbers are noisy on a shared machine: every figure is the median of the runs made.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from probe import floor  # noqa: E402
from run import (  # noqa: E402
    PY,
    STATES,
    both,
    by_state,
    generate_in_child,
    in_states,
    measure,
    nearest_median,
    rebalance_cmd,
)

WORK = HERE / ".work"
SHIFT = "2026-11-30T19:00"
SEED = 2026
HOURS = 4.0
#: Opt-in (``--with-10k``): the shapes benchmark's 10,000-zone city (`shapes.instance`:
#: staggered windows, no demand table, so each restaurant's rate holds all evening),
#: planned over the default shift with the default time limit. Its target is issue
#: #12's for `rebalance plan` at 10,000 zones / 1M couriers, which the one-slot shapes
#: tables meet and this does not.
BIG = "10,000 zones, 2.5 r/c, no demand table"
#: Opt-in (``--only-10m``): the shapes benchmark's 10M-courier city, default shift and
#: time limit; issue #12's target there is 3x the floor and 8 GB.
HUGE = "10,000 zones, 10M couriers, no demand table"
#: name: (zones, couriers, restaurants per courier). 0.4 was the first benchmark's ratio;
#: real cities (and the Paris sample) have about 2.5, so 2.5 times more demand rows.
SIZES: dict[str, tuple[int, int, float]] = {
    "200 zones": (200, 20_000, 0.4),
    "200 zones, 2.5 r/c": (200, 20_000, 2.5),
    "1,000 zones": (1_000, 100_000, 0.4),
    "1,000 zones, 2.5 r/c": (1_000, 100_000, 2.5),
    BIG: (10_000, 1_000_000, 2.5),
    HUGE: (10_000, 10_000_000, 0.4),
}
TARGETS = {
    "200 zones": (5.0, None),
    "200 zones, 2.5 r/c": (5.0, None),
    "1,000 zones": (60.0, 4096.0),
    "1,000 zones, 2.5 r/c": (60.0, 4096.0),
    BIG: (10.0, 3072.0),
    HUGE: (None, 8192.0),
}
#: Targets as a multiple of the floor's wall time (in the same memory state).
RATIOS = {HUGE: 3.0}
SLOT_MINUTES = {4: 60, 8: 30, 16: 15}


# ------------------------------------------------------------------------- instances


def instance(zones: int, couriers: int, slot_minutes: int = 30, ratio: float = 0.4) -> Path:
    """The cached generated city (same seed: same couriers, demand cut into the slots)."""
    restaurants = round(ratio * couriers)
    tag = "" if ratio == 0.4 else f"_r{restaurants}"
    path = WORK / f"slots_z{zones}_c{couriers}{tag}_m{slot_minutes}_s{SEED}"
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
            shift_hours=HOURS,
            slot_minutes=slot_minutes,
        )
        (path / ".complete").touch()
    return path


# ---------------------------------------------------------------------- in-process


def stages(data_dir: Path) -> dict[str, Any]:
    """One plan in-process: seconds per stage, plus the plan's solver block."""
    import tempfile

    t0 = time.perf_counter()
    import rebalance
    from rebalance.optimize import solve_problem

    config = rebalance.load_config(data_dir / "rebalance.toml")
    t1 = time.perf_counter()
    inputs = rebalance.load(data_dir, config)
    t2 = time.perf_counter()
    problem = rebalance.build_problem(inputs, config, SHIFT)
    t3 = time.perf_counter()
    plan = solve_problem(problem)
    t4 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        plan.write(Path(out) / "plan")
    t5 = time.perf_counter()
    tm = plan.timings
    solve_other = tm["solve"] - sum(tm.get(k, 0.0) for k in ("lp_seconds", "pricing_seconds"))
    solve_other -= tm.get("mip_seconds", 0.0)
    return {
        "import": t1 - t0,
        "load": t2 - t1,
        "build": t3 - t2,
        "lp": tm.get("lp_seconds", 0.0),
        "pricing": tm.get("pricing_seconds", 0.0),
        "mip": tm.get("mip_seconds", 0.0),
        "solve_other": max(solve_other, 0.0),
        "post": tm.get("post", 0.0),
        "write": t5 - t4,
        "total": t5 - t0,
        "status": plan.status,
        "solver": plan.solver,
    }


# ----------------------------------------------------------------------------- PuLP


def pulp_model(data_dir: Path, time_limit: float) -> dict[str, Any]:
    """The slot model of CONTRACT section 7 written out in full in PuLP, solved by CBC.

    Commodity-level (couriers of one vehicle leaving after the same slot), as
    `rebalance.slotmodel` states it, but with every column from the start: entry arcs
    x[g, b], transitions y[c, k, a, b] (stays and every allowed move), and per (zone,
    slot) covered/surplus. The objective is the section-7 cost minus its constant, in the
    same integer units as the planner, so the two compare exactly.
    """
    import numpy as np
    import pulp

    import rebalance
    from rebalance.slotmodel import _entry_costs, _Model

    t0 = time.perf_counter()
    config = rebalance.load_config(data_dir / "rebalance.toml")
    p = rebalance.build_problem(rebalance.load(data_dir, config), config, SHIFT)
    m = _Model(p)
    entry_cost = _entry_costs(p)
    prob = pulp.LpProblem("slots", pulp.LpMinimize)
    # inflow[(c, z, k)]: terms of couriers of c in zone z during slot k
    inflow: dict[tuple[int, int, int], list[Any]] = {}
    objective: list[Any] = []
    x = pulp.LpVariable.dicts("x", range(p.arc_group.size), lowBound=0, cat="Integer")
    order = np.argsort(p.arc_group, kind="stable")
    bounds = np.searchsorted(p.arc_group[order], np.arange(m.G + 1))
    for g in range(m.G):
        arcs = order[bounds[g] : bounds[g + 1]]
        prob += pulp.lpSum(x[int(a)] for a in arcs) == int(p.group_size[g])
        c, k = int(m.group_com[g]), int(p.group_first[g])
        for a in arcs:
            inflow.setdefault((c, int(p.arc_zone[a]), k), []).append(x[int(a)])
            if entry_cost[a]:
                objective.append(float(entry_cost[a]) * x[int(a)])
    n_y = 0
    for c in range(m.C):
        mv = p.moves[int(m.com_vehicle[c])]
        for k in range(int(m.com_lo[c]) + 1, int(m.com_hi[c]) + 1):
            out: dict[int, list[Any]] = {}
            for a in range(m.Z):
                dests = [a, *mv.dest[mv.start[a] : mv.start[a + 1]].tolist()]
                mins = [0.0, *mv.minutes[mv.start[a] : mv.start[a + 1]].tolist()]
                costs = [0, *p.move_cost(np.asarray(mins[1:])).tolist()]
                for b, cost in zip(dests, costs, strict=True):
                    var = pulp.LpVariable(f"y_{c}_{k}_{a}_{b}", lowBound=0, cat="Integer")
                    n_y += 1
                    out.setdefault(a, []).append(var)
                    inflow.setdefault((c, b, k), []).append(var)
                    if cost:
                        objective.append(float(cost) * var)
            for a, terms in out.items():  # what was in a during k-1 leaves a at k
                prob += pulp.lpSum(terms) == pulp.lpSum(inflow.get((c, a, k - 1), []))
    for z in range(m.Z):
        for k in range(m.K):
            n = pulp.lpSum(v for c in range(m.C) for v in inflow.get((c, z, k), []))
            cov = pulp.LpVariable(f"cov_{z}_{k}", 0, float(m.cov_hi[z, k]))
            hi = m.sur_hi[z, k]
            sur = pulp.LpVariable(f"sur_{z}_{k}", 0, None if np.isinf(hi) else float(hi))
            prob += cov + sur == n
            objective.append(-float(m.short_cost[z, k]) * cov + float(p.surplus_cost) * sur)
    prob += pulp.lpSum(objective)
    built = time.perf_counter() - t0
    solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, threads=1)
    t1 = time.perf_counter()
    prob.solve(solver)
    solved = time.perf_counter() - t1
    units = p.units_per_minute
    constant = float((p.shortage_cost[:, None] * p.slot_required).sum()) / units
    value = pulp.value(prob.objective)
    status = pulp.LpStatus[prob.status]
    sol_status = getattr(prob, "sol_status", None)
    # CBC stopped without a solution still leaves values in the variables (at 200 zones,
    # 2026-12-04: the root LP's, equal to our optimum): they are not a plan, so they are
    # reported apart, never as PuLP's objective.
    found = sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    held = None if value is None else round(value / units + constant, 3)
    return {
        "status": status,
        "sol_status": pulp.LpSolution.get(sol_status, str(sol_status)),
        "objective": held if found else None,
        "values_without_solution": None if found else held,
        "integer_variables": p.arc_group.size + n_y,
        "constraints": len(prob.constraints),
        "build_seconds": built,
        "solve_seconds": solved,
    }


# ---------------------------------------------------------------------------- driver


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def plan_cmd(path: Path, limit: float | None = None) -> list[str]:
    cmd = [*rebalance_cmd(), "plan", str(path), "--shift-start", SHIFT, "--format", "json"]
    return cmd + (["--time-limit", str(limit)] if limit else [])


def paired(path: Path, n: int, limit: float | None = None) -> dict[str, Any]:
    """n x (floor, then `rebalance plan`) in fresh processes, each in both memory states
    (`run.in_states`: fresh, after an idle pause, and reused, right after a process used
    and freed more memory than the command): medians per state, and the plan.json of the
    fresh run nearest its median (None when no run found a plan: exit 4 at the time
    limit)."""
    floor = [PY, str(HERE / "probe.py"), "floor", str(path)]
    runs = in_states({"floor": floor, "plan": plan_cmd(path, limit)}, n, {"plan": (0, 4)})
    for state in STATES:
        walls = ", ".join(f"{r.wall:.2f}" for r in runs["plan", state])
        log(f"    {state}: plan {walls} s, floor {runs['floor', state][-1].wall:.2f} s")
    wall, cpu, rss_max = by_state(runs, "plan")
    floor_wall, _, floor_rss = by_state(runs, "floor")
    median_run = nearest_median(runs["plan", "fresh"])
    planned = [r for state in STATES for r in runs["plan", state] if r.code == 0]
    return {
        "wall": wall,
        "walls": {state: [r.wall for r in runs["plan", state]] for state in STATES},
        "cpu": cpu,
        "rss_max": rss_max,
        "floor_wall": floor_wall,
        "floor_rss": floor_rss,
        "plan": (median_run if median_run.code == 0 else planned[0]).json() if planned else None,
        "error": "" if planned else median_run.stderr.strip().splitlines()[-1],
        "limit": limit,
    }


def stages_of(r: dict[str, Any]) -> dict[str, Any]:
    """Stage seconds from plan.json's timings; the rest of the wall time is import, load
    and writing (``other``)."""
    tm = r["plan"]["timings"]
    out = {
        "build": tm.get("build", 0.0),
        "lp": tm.get("lp_seconds", 0.0),
        "pricing": tm.get("pricing_seconds", 0.0),
        "mip": tm.get("mip_seconds", 0.0),
        "post": tm.get("post", 0.0),
    }
    out["solve_other"] = max(tm.get("solve", 0.0) - out["lp"] - out["pricing"] - out["mip"], 0.0)
    out["other"] = max(r["wall"]["fresh"] - sum(out.values()), 0.0)  # of the fresh run
    out["total"] = r["wall"]["fresh"]
    return out


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def gap(plan: dict[str, Any] | None) -> str:
    if plan is None:
        return "-"
    obj, bound = plan.get("objective"), plan.get("best_bound")
    if obj is None or bound is None:
        return "-"
    return f"{(obj - bound) / max(abs(obj), 1e-9):.2%}"


def status(r: dict[str, Any]) -> str:
    plan = r["plan"]
    if plan is None:
        return f"no plan within {r['limit'] or 'the default'} s"
    return f"{plan['status']} (gap {gap(plan)})"


def size_table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| size | time limit s | status | plan wall s, fresh / reused memory (runs) | target "
        "(both states) | CPU s, fresh / reused | peak RSS MB | floor wall s, fresh / reused "
        "| floor RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        secs, mb = TARGETS[name]
        ratio = RATIOS.get(name)
        parts = [] if secs is None else [f"<= {secs:g} s"]
        parts += [] if ratio is None else [f"<= {ratio:g}x the floor"]
        parts += [] if mb is None else [f"<= {mb / 1024:g} GB"]
        target = ", ".join(parts)
        met = (
            r["plan"] is not None
            and (secs is None or all(r["wall"][state] <= secs for state in STATES))
            and (
                ratio is None
                or all(r["wall"][state] <= ratio * r["floor_wall"][state] for state in STATES)
            )
            and (mb is None or r["rss_max"] <= mb)
        )
        runs = "; ".join(", ".join(f"{w:.1f}" for w in r["walls"][state]) for state in STATES)
        lines.append(
            f"| {name} / {SIZES[name][1]:,} couriers / {round(SIZES[name][1] * SIZES[name][2]):,}"
            f" restaurants | {r['limit'] or 'default'} | {status(r)} | "
            f"{both(r['wall'], bold=True, digits=1)} ({runs}) | "
            f"{target} {'met' if met else 'MISSED'} | {both(r['cpu'], digits=1)} | "
            f"{r['rss_max']:.0f} | {both(r['floor_wall'])} | {r['floor_rss']:.0f} |"
        )
    return "\n".join(lines)


def model_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        "| instance | rows (master LP) | paths priced in | arc-form column universe | rounds "
        "| LP integral | MIP runs | columns within gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        integral = {1: "yes", 0: "no"}.get(s.get("lp_integral", -1), "-")
        lines.append(
            f"| {name} | {int(s.get('rows', 0)):,} | {int(s.get('paths', 0)):,} | "
            f"{int(s.get('arc_columns_universe', 0)):,} | {s.get('rounds', '-')} | {integral} "
            f"| {s.get('mip_runs', 0)} | {int(s.get('columns_within_gap', 0)):,} |"
        )
    return "\n".join(lines)


STAGES = ("other", "build", "lp", "pricing", "mip", "solve_other", "post")


def stage_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    head = " | ".join(STAGES)
    lines = [f"| instance | {head} | total |", "|---" * (len(STAGES) + 2) + "|"]
    for name, s in rows:
        total = s["total"]
        cells = " | ".join(f"{s[k]:.2f} ({s[k] / total:.0%})" for k in STAGES)
        lines.append(f"| {name} | {cells} | {total:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"floor", "stages", "pulp"}:
        directory = Path(args[1])
        if args[0] == "floor":
            result: dict[str, Any] = floor(directory)
        elif args[0] == "stages":
            result = stages(directory)
        else:
            result = pulp_model(directory, float(args[2]) if len(args) > 2 else 120.0)
        print(json.dumps(result, default=str))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median)")
    parser.add_argument("--quick", action="store_true", help="200 zones only, no PuLP")
    parser.add_argument("--pulp-limit", type=float, default=120.0, help="CBC seconds")
    parser.add_argument("--pulp-kill", type=float, default=900.0, help="kill PuLP after (s)")
    parser.add_argument("--no-pulp", action="store_true")
    parser.add_argument("--only-1000", action="store_true", help="1,000 zones only, no PuLP")
    parser.add_argument("--no-slots", action="store_true", help="skip the 4/8/16 table")
    parser.add_argument("--limit-200", type=float, default=None, help="--time-limit, 200 zones")
    parser.add_argument("--limit-1000", type=float, default=None, help="--time-limit, 1,000")
    parser.add_argument("--with-10k", action="store_true", help=f"add {BIG} (minutes)")
    parser.add_argument("--only-10k", action="store_true", help=f"{BIG} only, no PuLP")
    parser.add_argument("--only-10m", action="store_true", help=f"{HUGE} only (minutes, 6 GB)")
    opts = parser.parse_args(args)
    sizes = [n for n in SIZES if n.startswith("200")] if opts.quick else list(SIZES)
    if opts.only_1000:
        sizes = [n for n in SIZES if n.startswith("1,000")]
    sizes = [n for n in sizes if n != HUGE]
    if not (opts.with_10k or opts.only_10k):
        sizes = [n for n in sizes if n != BIG]
    if opts.only_10k:
        sizes, opts.no_pulp, opts.no_slots = [BIG], True, True
    if opts.only_10m:
        sizes, opts.no_pulp, opts.no_slots = [HUGE], True, True
    limits = {n: opts.limit_200 if n.startswith("200") else opts.limit_1000 for n in SIZES}
    limits[BIG] = limits[HUGE] = None  # the default time_limit_seconds, as a user runs it

    results: dict[str, dict[str, Any]] = {}
    model_rows: list[tuple[str, dict[str, Any]]] = []
    stage_rows: list[tuple[str, dict[str, Any]]] = []
    for name in sizes:
        zones, couriers, ratio = SIZES[name]
        if name in {BIG, HUGE}:
            from shapes import instance as shapes_city

            path = shapes_city(zones, couriers, round(ratio * couriers))
        else:
            path = instance(zones, couriers, ratio=ratio)
        log(f"[{name}] floor and rebalance plan x{opts.repeat}, fresh and reused memory")
        results[name] = r = paired(path, opts.repeat, limits[name])
        if r["plan"] is not None:
            model_rows.append((f"{name}, 8 slots", r["plan"].get("solver", {})))
            stage_rows.append((f"{name}, 8 slots", stages_of(r)))
    print("\n### End to end (8 slots of 30 minutes)\n")
    print(size_table(results))

    slot_rows: list[str] = []
    if not opts.no_slots:
        name = "200 zones"
        zones, couriers, _ = SIZES[name]
        if opts.only_1000:
            name, (zones, couriers, _) = "1,000 zones", SIZES["1,000 zones"]
        for k, minutes in SLOT_MINUTES.items():
            if k == 8 and name in results:
                r = results[name]
            else:
                log(f"[{name}] {k} slots of {minutes} min x{opts.repeat}")
                r = paired(instance(zones, couriers, minutes), opts.repeat, limits[name])
                if r["plan"] is not None:
                    model_rows.append((f"{name}, {k} slots", r["plan"].get("solver", {})))
                    stage_rows.append((f"{name}, {k} slots", stages_of(r)))
            plan = r["plan"] or {"timings": {}, "solver": {}}
            slot_rows.append(
                f"| {name} | {k} x {minutes} min | {status(r)} | "
                f"{both(r['wall'], digits=1)} | {both(r['cpu'], digits=1)} | "
                f"{r['rss_max']:.0f} | "
                f"{plan['timings'].get('solve', 0):.1f} | "
                f"{int(plan['solver'].get('paths', 0)):,} | "
                f"{int(plan['solver'].get('rows', 0)):,} |"
            )
        print("\n### Slots: the same 4-hour shift in 4, 8 and 16 slots\n")
        print(
            "| size | slots | status | plan wall s, fresh / reused | CPU s, fresh / reused | "
            "peak RSS MB | solve s | paths | rows |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(slot_rows))

    print("\n### The model (plan.solver)\n")
    print(model_table(model_rows))
    print("\n### Stages (seconds, share of the wall time; other = import, load, write)\n")
    print(stage_table(stage_rows))
    sys.stdout.flush()

    if not (opts.quick or opts.no_pulp or opts.only_1000):
        zones, couriers, ratio = SIZES["200 zones"]
        path = instance(zones, couriers, ratio=ratio)
        log(f"[PuLP] 200 zones, CBC limit {opts.pulp_limit:g} s")
        run = measure([PY, __file__, "pulp", str(path), str(opts.pulp_limit)], opts.pulp_kill)
        ours = results["200 zones"]["plan"] or {
            "status": "no plan",
            "objective": None,
            "best_bound": None,
        }
        print("\n### PuLP/CBC, the same model written out in full, 200 zones\n")
        print("| solver | status | objective | wall s | peak RSS MB | detail |")
        print("|---|---|---|---|---|---|")
        print(
            f"| rebalance | {ours['status']} | {ours['objective']} | "
            f"{results['200 zones']['wall']['fresh']:.2f} (fresh memory) | "
            f"{results['200 zones']['rss_max']:.0f} | "
            f"bound {ours['best_bound']} |"
        )
        if run.code == 0:
            pj = run.json()
            print(
                f"| PuLP/CBC | {pj['status']} / {pj['sol_status']} | "
                f"{'-' if pj['objective'] is None else pj['objective']} | "
                f"{run.wall:.1f} | {run.rss_mb:.0f} | {pj['integer_variables']:,} integer "
                f"variables, {pj['constraints']:,} constraints; build {pj['build_seconds']:.0f}"
                f" s, CBC {pj['solve_seconds']:.0f} s (limit {opts.pulp_limit:g} s)"
                + (
                    f"; no solution: its variables hold {pj['values_without_solution']}"
                    if pj["values_without_solution"] is not None
                    else ""
                )
                + " |"
            )
        else:
            why = "killed" if run.timed_out else f"exit {run.code}"
            print(
                f"| PuLP/CBC | {why} | - | {run.wall:.0f} | {run.rss_mb:.0f} | "
                f"{run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ''} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
