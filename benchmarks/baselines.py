"""What users would write instead of `rebalance plan`, on the same problem.

- `solve_pulp`: the model an analyst writes first, one binary per (courier, reachable
  zone) in PuLP, solved by its bundled CBC.
- `greedy`: send the nearest surplus courier to the most short zone, until no move pays.

Both start from `rebalance.build_problem` (same eligibility, demand, travel minutes and
ranges) and are scored by `contract_objective`, the formula of CONTRACT section 2, so
their objectives compare with the plan's. Run as a script, each prints one JSON line::

    python benchmarks/baselines.py pulp DATA_DIR --time-limit 600
    python benchmarks/baselines.py greedy DATA_DIR
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.probe import ONE_SLOT_END

SHIFT = "2026-11-30T19:00"


@dataclass(frozen=True)
class BaselineResult:
    """Outcome of one baseline on one instance (objective in minutes, as the plan's)."""

    method: str
    status: str  # optimal, feasible (stopped with a solution), no solution, infeasible
    objective: float | None
    assigned: list[int] | None
    moved: int
    binaries: int = 0
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    bound: float | None = None
    detail: str = ""


def load_problem(
    data_dir: str | Path, shift_start: str = SHIFT, shift_end: str = ONE_SLOT_END
) -> Any:
    """Load, validate and build a data directory exactly as `rebalance plan
    --shift-start ... --shift-end ...` does (`benchmarks.run.plan_command`, with the same
    one-slot end): the baselines model CONTRACT section 2, one slot (the default 4-hour
    shift is the slot model, another problem)."""
    import rebalance

    directory = Path(data_dir)
    toml = directory / "rebalance.toml"
    config = rebalance.load_config(toml if toml.is_file() else None)
    inputs = rebalance.load(directory, config)
    p = rebalance.build_problem(inputs, config, shift_start, shift_end)
    if p.slots != 1:  # never: a guard, as the objectives would not compare
        raise ValueError(f"the baselines model one slot; the shift has {p.slots}")
    return p


def contract_objective(p: Any, assigned: np.ndarray, move_minutes: float, moved: int) -> float:
    """CONTRACT section 2: moves (travel + fixed) + weighted shortage + surplus, in minutes."""
    c = p.config.costs
    assigned = np.asarray(assigned, dtype=np.int64)
    short = (c.shortage_minutes * p.priority * np.maximum(p.required - assigned, 0)).sum()
    surplus = c.surplus_minutes * np.maximum(assigned - p.required, 0).sum()
    return float(move_minutes + c.move_fixed_minutes * moved + short + surplus)


def _move_cost(p: Any) -> np.ndarray:
    """Minutes charged per courier on each arc: travel + fixed when moving, 0 staying."""
    stay = p.arc_zone == p.group_zone[p.arc_group]
    return np.where(stay, 0.0, p.arc_minutes + p.config.costs.move_fixed_minutes)


def courier_binaries(p: Any) -> int:
    """How many x[courier, zone] binaries the analyst's model has."""
    per_group = np.bincount(p.arc_group, minlength=len(p.group_size))
    return int((per_group * p.group_size).sum())


# ------------------------------------------------------------------------ PuLP / CBC


def solve_pulp(p: Any, time_limit: float = 600.0, threads: int | None = None) -> BaselineResult:
    """The analyst's model: binary x[c, z] per eligible courier c and zone z it can reach.

    Every courier is assigned once; short[z] >= required - assigned and
    surplus[z] >= assigned - required are non-negative integers; assigned <= cap.
    ``time_limit`` counts from the start of model building (CBC gets what is left).
    """
    import pulp

    t0 = time.perf_counter()
    c = p.config.costs
    n_zones = len(p.zone_ids)
    cost = _move_cost(p)
    # Arcs of each group, as plain lists: one courier of group g may take any of them.
    order = np.argsort(p.arc_group, kind="stable")
    starts = np.searchsorted(p.arc_group[order], np.arange(len(p.group_size) + 1))
    arcs_of = [order[starts[g] : starts[g + 1]].tolist() for g in range(len(p.group_size))]
    arc_zone = p.arc_zone.tolist()
    arc_cost = cost.tolist()

    prob = pulp.LpProblem("rebalance", pulp.LpMinimize)
    into: list[list[pulp.LpVariable]] = [[] for _ in range(n_zones)]
    objective: list[tuple[pulp.LpVariable, float]] = []
    x: list[tuple[pulp.LpVariable, int]] = []
    groups = p.eligible["group"].to_numpy(np.int64)
    for i, g in enumerate(groups.tolist()):
        row = []
        for a in arcs_of[g]:
            var = prob.add_variable(f"x_{i}_{arc_zone[a]}", cat=pulp.LpBinary)
            row.append(var)
            into[arc_zone[a]].append(var)
            x.append((var, a))
            if arc_cost[a]:
                objective.append((var, arc_cost[a]))
        prob += pulp.lpSum(row) == 1, f"assign_{i}"
    short = [prob.add_variable(f"short_{z}", 0, cat=pulp.LpInteger) for z in range(n_zones)]
    surplus = [prob.add_variable(f"surp_{z}", 0, cat=pulp.LpInteger) for z in range(n_zones)]
    for z in range(n_zones):
        assigned = pulp.lpSum(into[z])
        required = int(p.required[z])
        prob += short[z] >= required - assigned, f"short_{z}"
        prob += surplus[z] >= assigned - required, f"surplus_{z}"
        if not math.isnan(p.cap[z]):
            prob += assigned <= int(p.cap[z]), f"cap_{z}"
        objective.append((short[z], c.shortage_minutes * float(p.priority[z])))
        if c.surplus_minutes:
            objective.append((surplus[z], c.surplus_minutes))
    prob += pulp.LpAffineExpression(objective)
    build = time.perf_counter() - t0

    left = max(1.0, time_limit - build)
    # PuLP's bundled CBC binary, driven by COIN_CMD (PULP_CBC_CMD is deprecated in PuLP 3).
    cbc = pulp.COIN_CMD.executableExtension(pulp.apis.coin_api.pulp_cbc_path)
    solver = pulp.COIN_CMD(path=cbc, msg=False, timeLimit=left, threads=threads)
    t1 = time.perf_counter()
    prob.solve(solver)
    solve_seconds = time.perf_counter() - t1
    status = {
        pulp.LpSolutionOptimal: "optimal",
        pulp.LpSolutionIntegerFeasible: "feasible",
        pulp.LpSolutionInfeasible: "infeasible",
    }.get(prob.sol_status, "no solution")
    if status not in {"optimal", "feasible"}:
        return BaselineResult(
            "pulp",
            status,
            None,
            None,
            0,
            binaries=len(x),
            build_seconds=build,
            solve_seconds=solve_seconds,
            detail=pulp.LpStatus[prob.status],
        )
    chosen = np.array([a for var, a in x if (var.varValue or 0.0) > 0.5], dtype=np.int64)
    assigned = np.bincount(p.arc_zone[chosen], minlength=n_zones)
    moving = chosen[p.arc_zone[chosen] != p.group_zone[p.arc_group[chosen]]]
    objective_value = contract_objective(
        p, assigned, float(p.arc_minutes[moving].sum()), int(moving.size)
    )
    return BaselineResult(
        "pulp",
        status,
        objective_value,
        assigned.tolist(),
        int(moving.size),
        binaries=len(x),
        build_seconds=build,
        solve_seconds=solve_seconds,
        bound=float(pulp.value(prob.objective)),
    )


# ----------------------------------------------------------------------------- greedy


def greedy(p: Any) -> BaselineResult:
    """Nearest surplus courier to the most short zone, within ranges and caps.

    First, zones over their cap send their excess to the nearest zones with room. Then,
    repeatedly, the zone with the largest weighted shortage receives the nearest courier
    from a zone with surplus, as long as the move costs less than the shortage it removes.
    Couriers of one (zone, vehicle) group are interchangeable, so it works on counts.
    """
    t0 = time.perf_counter()
    c = p.config.costs
    n_zones = len(p.zone_ids)
    required = p.required.tolist()
    weight = (c.shortage_minutes * p.priority).tolist()
    cap = [math.inf if math.isnan(v) else int(v) for v in p.cap.tolist()]
    assigned = p.couriers_before.tolist()
    left = p.group_size.tolist()  # couriers of each group not moved yet
    group_zone = p.group_zone.tolist()
    moving = p.arc_zone != p.group_zone[p.arc_group]
    arcs = np.flatnonzero(moving)
    move_minutes = 0.0
    moved = 0

    def move(g: int, to: int, minutes: float) -> None:
        nonlocal move_minutes, moved
        left[g] -= 1
        assigned[group_zone[g]] -= 1
        assigned[to] += 1
        move_minutes += minutes
        moved += 1

    # Over-cap zones: each excess courier goes to the nearest zone with room.
    for z in range(n_zones):
        if assigned[z] <= cap[z]:
            continue
        out = arcs[p.group_zone[p.arc_group[arcs]] == z]
        out = out[np.argsort(p.arc_minutes[out], kind="stable")].tolist()
        for a in out:
            g, to, minutes = int(p.arc_group[a]), int(p.arc_zone[a]), float(p.arc_minutes[a])
            while assigned[z] > cap[z] and left[g] > 0 and assigned[to] < cap[to]:
                move(g, to, minutes)
        if assigned[z] > cap[z]:
            return BaselineResult(
                "greedy", "infeasible", None, None, moved, solve_seconds=time.perf_counter() - t0
            )

    # Arcs into each zone, nearest first; a per-zone cursor only moves forward because
    # sources only lose couriers (a source never becomes short, a target never has surplus).
    by_dest = arcs[np.lexsort((p.arc_group[arcs], p.arc_minutes[arcs], p.arc_zone[arcs]))]
    starts = np.searchsorted(p.arc_zone[by_dest], np.arange(n_zones + 1)).tolist()
    a_group = p.arc_group[by_dest].tolist()
    a_min = p.arc_minutes[by_dest].tolist()
    cursor = starts[:-1]
    heap = [(-weight[z] * (required[z] - assigned[z]), z) for z in range(n_zones)]
    heap = [h for h in heap if required[h[1]] > assigned[h[1]]]
    heapq.heapify(heap)
    while heap:
        _, t = heapq.heappop(heap)
        if assigned[t] >= required[t] or assigned[t] >= cap[t]:
            continue
        i, end = cursor[t], starts[t + 1]
        while i < end:
            g = a_group[i]
            s = group_zone[g]
            if left[g] > 0 and assigned[s] > required[s]:
                break
            i += 1
        cursor[t] = i
        if i == end or a_min[i] + c.move_fixed_minutes >= weight[t] + c.surplus_minutes:
            continue  # nobody left to send, or the nearest courier costs more than he saves
        move(a_group[i], t, a_min[i])
        if assigned[t] < required[t]:
            heapq.heappush(heap, (-weight[t] * (required[t] - assigned[t]), t))
    objective = contract_objective(p, np.asarray(assigned), move_minutes, moved)
    return BaselineResult(
        "greedy",
        "heuristic",
        objective,
        assigned,
        moved,
        solve_seconds=time.perf_counter() - t0,
    )


# -------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Run one baseline on a data directory and print its result as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("method", choices=["pulp", "greedy", "count"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--shift-start", default=SHIFT)
    parser.add_argument("--shift-end", default=ONE_SLOT_END, help="one slot after the start")
    parser.add_argument("--time-limit", type=float, default=600.0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    p = load_problem(args.data_dir, args.shift_start, args.shift_end)
    load_seconds = time.perf_counter() - t0
    if args.method == "count":
        print(json.dumps({"binaries": courier_binaries(p), "eligible": len(p.eligible)}))
        return 0
    result = solve_pulp(p, args.time_limit) if args.method == "pulp" else greedy(p)
    out = asdict(result)
    out.pop("assigned")
    out["load_seconds"] = load_seconds
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
