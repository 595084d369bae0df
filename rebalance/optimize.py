"""`solve(inputs, ...) -> Plan`: the pure middle of rebalance, no disk or network."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import Config
from .inputs import Inputs
from .model import SCALE, ProblemData, build_problem, explain_infeasible, flow_network
from .plan import MOVES_COLUMNS, ZONES_COLUMNS, Plan
from .solver import min_cost_flow, min_weight_cover

__all__ = ["solve"]


def solve(
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
) -> Plan:
    """Plan a shift: the optimal assignment of eligible couriers to zones.

    ``shift_start`` is an ISO 8601 string, datetime or Timestamp (city time when it has
    no offset); ``shift_end`` defaults to four hours later. A plan that cannot satisfy
    the caps is returned with ``status == "infeasible"`` and ``message`` saying why.
    """
    config = config or Config()
    problem = build_problem(inputs, config, shift_start, shift_end)
    return solve_problem(problem)


def solve_problem(p: ProblemData) -> Plan:
    """Solve a built problem and turn group flows into named couriers and zone actions."""
    t0 = time.perf_counter()
    net = flow_network(p)
    result = min_cost_flow(**net)
    solve_seconds = time.perf_counter() - t0
    base = _identity(p)
    if result.status != "optimal":
        message, zones = explain_infeasible(p)
        return Plan(
            **base,
            status="infeasible",
            objective=None,
            best_bound=None,
            solve_seconds=round(solve_seconds, 4),
            kpis=_kpis_before(p),
            zones=pd.DataFrame(columns=ZONES_COLUMNS),
            moves=pd.DataFrame(columns=MOVES_COLUMNS),
            message=message,
            infeasible_zones=zones,
            timings={"build": round(p.build_seconds, 4), "solve": round(solve_seconds, 4)},
        )
    n_arcs = len(p.arc_group)
    arc_flow = result.flows[:n_arcs]
    moves = _name_moves(p, arc_flow)
    assigned = np.bincount(p.arc_zone, weights=arc_flow, minlength=len(p.zone_ids)).astype(np.int64)
    zones, paused_orders = _zone_table(p, moves, assigned)
    objective, parts = _objective(p, moves, assigned)
    kpis = _kpis(p, moves, assigned, paused_orders)
    kpis["objective_breakdown"] = parts
    # The flow's own optimum, shifted by the constant, must match the recomputed objective.
    flow_obj = result.cost / SCALE + float(
        (p.config.costs.shortage_minutes * p.priority * p.required).sum()
    )
    t_total = time.perf_counter() - t0
    return Plan(
        **base,
        status="optimal",
        objective=round(objective, 3),
        best_bound=round(flow_obj, 3),
        solve_seconds=round(solve_seconds, 4),
        kpis=kpis,
        zones=zones,
        moves=moves,
        message="",
        timings={
            "build": round(p.build_seconds, 4),
            "solve": round(solve_seconds, 4),
            "post": round(t_total - solve_seconds, 4),
        },
    )


def _identity(p: ProblemData) -> dict[str, Any]:
    c = p.config
    settings = c.model_dump(
        mode="json", include={"demand", "eligibility", "costs", "travel", "vehicles"}
    )
    key = json.dumps(
        {
            "inputs": p.inputs.sha256,
            "city": c.city.name,
            "start": p.shift_start.isoformat(),
            "end": p.shift_end.isoformat(),
            "settings": settings,
        },
        sort_keys=True,
    )
    return {
        "plan_id": hashlib.sha256(key.encode()).hexdigest()[:16],
        "city": c.city.name,
        "timezone": c.city.timezone,
        "shift_start": p.shift_start,
        "shift_end": p.shift_end,
        "inputs_sha256": p.inputs.sha256,
        "settings": settings,
    }


def _name_moves(p: ProblemData, arc_flow: np.ndarray) -> pd.DataFrame:
    """Turn group flows into named couriers.

    Within a group, the couriers with the most time left in their window move first
    (ties by courier_id); destinations are filled in zone_id order. Deterministic.
    """
    moving = (arc_flow > 0) & (p.arc_zone != p.group_zone[p.arc_group])
    if not moving.any():
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in MOVES_COLUMNS.items()})
    a_group = p.arc_group[moving]
    a_zone = p.arc_zone[moving]
    a_flow = arc_flow[moving].astype(np.int64)
    a_min = p.arc_minutes[moving]
    order = np.lexsort((p.zone_ids[a_zone].astype(str), a_group))
    a_group, a_zone, a_flow, a_min = a_group[order], a_zone[order], a_flow[order], a_min[order]
    dest_zone = np.repeat(a_zone, a_flow)
    dest_min = np.repeat(a_min, a_flow)
    dest_group = np.repeat(a_group, a_flow)
    rank_in_group = np.arange(dest_group.size) - np.searchsorted(
        dest_group, dest_group, side="left"
    )

    elig = p.eligible
    until = (
        elig["available_until"]
        .dt.tz_convert(None)
        .to_numpy()
        .astype("datetime64[ns]")
        .astype(np.int64)
    )
    ids = elig["courier_id"].to_numpy(dtype=object).astype(str)
    groups = elig["group"].to_numpy()
    # lexsort: last key is primary -> group, then latest until first, then courier_id.
    ordered = np.lexsort((ids, -until, groups))
    sorted_groups = groups[ordered]
    starts = np.searchsorted(sorted_groups, dest_group, side="left")
    picked = ordered[starts + rank_in_group]
    moves = pd.DataFrame(
        {
            "courier_id": ids[picked],
            "vehicle": elig["vehicle"].to_numpy(dtype=object)[picked],
            "from_zone": p.zone_ids[p.group_zone[dest_group]],
            "to_zone": p.zone_ids[dest_zone],
            "travel_minutes": np.round(dest_min, 3),
        }
    )
    return moves.sort_values(["from_zone", "to_zone", "courier_id"], kind="stable").reset_index(
        drop=True
    )


def _zone_table(
    p: ProblemData, moves: pd.DataFrame, assigned: np.ndarray
) -> tuple[pd.DataFrame, float]:
    index = pd.Index(p.zone_ids)
    n = len(p.zone_ids)
    before = p.couriers_before
    moved_in = (
        np.bincount(index.get_indexer(moves["to_zone"]), minlength=n)
        if len(moves)
        else np.zeros(n, int)
    )
    moved_out = (
        np.bincount(index.get_indexer(moves["from_zone"]), minlength=n)
        if len(moves)
        else np.zeros(n, int)
    )
    after = before - moved_out + moved_in
    assert (after == assigned).all(), "named moves disagree with the flow"
    shortage = np.maximum(p.required - after, 0)
    surplus = np.maximum(after - p.required, 0)
    action = np.where(
        shortage > 0,
        "short",
        np.where(moved_in > 0, "receive", np.where(moved_out > 0, "send", "ok")),
    )
    pause, pause_names, paused_orders = _pause_lists(p, after, shortage)
    zones = pd.DataFrame(
        {
            "zone_id": p.zone_ids.astype(str),
            "name": p.inputs.zones["name"].to_numpy(dtype=object).astype(str),
            "open_restaurants": p.open_restaurants.astype(np.int64),
            "demand_orders_per_hour": np.round(p.demand, 3),
            "required_couriers": p.required,
            "couriers_before": before,
            "couriers_after": after,
            "moved_in": moved_in.astype(np.int64),
            "moved_out": moved_out.astype(np.int64),
            "shortage": shortage,
            "surplus": surplus,
            "action": action,
            "pause_restaurants": pause,
            "paused_orders_per_hour": np.round(paused_orders, 3),
            "pause_restaurant_names": pause_names,
        }
    )
    return zones, float(paused_orders.sum())


def _pause_lists(
    p: ProblemData, after: np.ndarray, shortage: np.ndarray
) -> tuple[list[str], list[str], np.ndarray]:
    """For each short zone, the open restaurants to pause losing the fewest orders.

    Keeping a set of restaurants needs ceil(kept / opch) <= couriers_after couriers,
    i.e. kept <= couriers_after * opch: keep the most orders under that (a knapsack);
    pause the rest. Restaurants expecting no orders never need pausing.
    """
    n = len(p.zone_ids)
    pause = [""] * n
    names = [""] * n
    lost = np.zeros(n)
    short = np.flatnonzero(shortage > 0)
    if short.size == 0:
        return pause, names, lost
    rest = p.inputs.restaurants
    opch = p.config.demand.orders_per_courier_hour
    # Arrow kernels: 2.5 million restaurants as Python objects cost seconds.
    is_open = rest["status"].eq("open").to_numpy(dtype=bool)
    zone_col = pa.array(rest["zone_id"].array)
    known = pa.array(p.zone_ids.astype(str)).cast(zone_col.type)
    rz = pc.index_in(zone_col, value_set=known).fill_null(-1).to_numpy(zero_copy_only=False)
    is_short = np.zeros(n, dtype=bool)
    is_short[short] = True
    all_orders = rest["expected_orders_per_hour"].to_numpy(float)
    rows = np.flatnonzero(is_open & (all_orders > 0) & is_short[rz])
    # Numbers only until the lists are joined: zone, orders (largest first), then the
    # rank of restaurant_id in string order (Arrow's sort, code point order like str).
    rid_rank = np.empty(rows.size, dtype=np.int64)
    rid_rank[rest["restaurant_id"].iloc[rows].argsort(kind="stable").to_numpy()] = np.arange(
        rows.size
    )
    zone_of, orders = rz[rows], all_orders[rows]
    order = np.lexsort((rid_rank, -orders, zone_of))
    rows, zone_of, orders, rid_rank = rows[order], zone_of[order], orders[order], rid_rank[order]
    # At least one unit: a restaurant expecting 1e-6 orders still needs pausing when the
    # zone has no courier left.
    all_weights = np.maximum(np.rint(orders * SCALE), 1).astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, zone_of[1:] != zone_of[:-1], True]) if rows.size else [0]
    chosen: list[tuple[int, np.ndarray]] = []
    for start, end in itertools.pairwise(bounds):
        z = int(zone_of[start])
        weights = all_weights[start:end]
        # Keeping demand d needs ceil(d / opch) <= couriers_after, i.e. d <= after * opch:
        # pause at least the excess, as little beyond it as possible.
        keep_limit = int(np.floor(after[z] * opch * SCALE + 1e-6))
        deficit = int(weights.sum()) - keep_limit
        picked = start + min_weight_cover(weights, deficit)
        picked = picked[np.argsort(rid_rank[picked])]  # listed by restaurant_id
        chosen.append((z, picked))
        lost[z] = float(orders[picked].sum())
    # Strings only for the paused restaurants, fetched at once.
    every = np.concatenate([c for _, c in chosen]) if chosen else np.array([], dtype=np.int64)
    rids = rest["restaurant_id"].iloc[rows[every]].tolist()
    # ";" separates the list, so a name may not carry one
    rnames = [name.replace(";", ",") for name in rest["name"].iloc[rows[every]].tolist()]
    at = 0
    for z, picked in chosen:
        pause[z] = ";".join(rids[at : at + picked.size])
        names[z] = ";".join(rnames[at : at + picked.size])
        at += picked.size
    return pause, names, lost


def _objective(
    p: ProblemData, moves: pd.DataFrame, assigned: np.ndarray
) -> tuple[float, dict[str, float]]:
    c = p.config.costs
    move = float(moves["travel_minutes"].sum()) + c.move_fixed_minutes * len(moves)
    short = float((c.shortage_minutes * p.priority * np.maximum(p.required - assigned, 0)).sum())
    surplus = float(c.surplus_minutes * np.maximum(assigned - p.required, 0).sum())
    return move + short + surplus, {
        "move_minutes": round(move, 3),
        "shortage_minutes": round(short, 3),
        "surplus_minutes": round(surplus, 3),
    }


def _coverage(required: np.ndarray, couriers: np.ndarray) -> float:
    need = int(required.sum())
    return 1.0 if need == 0 else round(float(np.minimum(required, couriers).sum()) / need, 6)


def _kpis_before(p: ProblemData) -> dict[str, Any]:
    """What is known without a plan: supply, need and coverage as things stand."""
    before = p.couriers_before
    return {
        "eligible_couriers": int(p.group_size.sum()),
        "ineligible_couriers": int(len(p.inputs.couriers) - p.group_size.sum()),
        "required_couriers": int(p.required.sum()),
        "shortage_before": int(np.maximum(p.required - before, 0).sum()),
        "coverage_before": _coverage(p.required, before),
        "zones": len(p.zone_ids),
        "zones_short_before": int((p.required > before).sum()),
    }


def _kpis(
    p: ProblemData, moves: pd.DataFrame, assigned: np.ndarray, paused_orders: float
) -> dict[str, Any]:
    """The plan's KPIs: what was known before planning, then what the plan achieves."""
    return {
        **_kpis_before(p),
        "moved_couriers": len(moves),
        "travel_minutes": round(float(moves["travel_minutes"].sum()), 3),
        "shortage": int(np.maximum(p.required - assigned, 0).sum()),
        "surplus": int(np.maximum(assigned - p.required, 0).sum()),
        "coverage": _coverage(p.required, assigned),
        "zones_short": int((p.required > assigned).sum()),
        "paused_orders_per_hour": round(paused_orders, 3),
    }
