"""The rebalancing model of CONTRACT section 2, built as a min-cost flow.

Couriers of the same current zone and vehicle are interchangeable for the objective,
so the model works on (zone, vehicle) *groups*::

    group (z, v) --[travel + fixed, cap n]--> zone b --[covered: cap required, -shortage*prio]--> sink
        supply n_zv                              \\--[surplus: cap rest or max, +surplus]---------^

Every eligible courier leaves its group once (stay = arc to its own zone at cost 0).
Flow into zone b is ``assigned_b``; the covered arc rewards up to ``required_b`` of
them with the shortage weight, so the flow's cost equals the contract's objective
minus the constant ``sum shortage*priority*required``. Caps bound the two arcs' total.
Costs are scaled to integers in thousandths of a minute: exact to 0.001 minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .inputs import Inputs
from .timeparse import parse_timestamp

__all__ = ["EARTH_RADIUS_KM", "ProblemData", "build_problem", "haversine_km"]

EARTH_RADIUS_KM = 6371.0088
SCALE = 1000  # integer cost units per minute
_EPS = 1e-9


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> Any:
    """Great-circle distance in km (broadcasts), earth radius 6371.0088 km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def pairwise_km(lat: np.ndarray, lon: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Great-circle distances from the zones ``rows`` to every zone, shape (rows, zones).

    The haversine formula rewritten on unit vectors (``a = chord**2 / 4``), so the
    trigonometry runs once per zone instead of once per pair: a 1,000-zone city costs a
    few array passes rather than a dozen transcendental ones over a million pairs.
    """
    p, q = np.radians(lat), np.radians(lon)
    x, y, z = np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)
    chord2 = np.subtract.outer(x[rows], x)
    chord2 *= chord2
    for comp in (y, z):
        diff = np.subtract.outer(comp[rows], comp)
        diff *= diff
        chord2 += diff
    np.sqrt(chord2, out=chord2)
    chord2 *= 0.5
    np.clip(chord2, 0.0, 1.0, out=chord2)
    np.arcsin(chord2, out=chord2)
    chord2 *= 2 * EARTH_RADIUS_KM
    return chord2


@dataclass(frozen=True)
class ProblemData:
    """Everything the solver needs, derived from inputs, config and shift.

    Arrays are indexed by zone position (``zone_ids``), by group, or by arc.
    """

    config: Config
    inputs: Inputs
    shift_start: pd.Timestamp
    shift_end: pd.Timestamp
    zone_ids: np.ndarray
    demand: np.ndarray
    open_restaurants: np.ndarray
    required: np.ndarray
    priority: np.ndarray
    cap: np.ndarray  # float, NaN = no cap
    vehicles: tuple[str, ...]
    eligible: pd.DataFrame  # eligible couriers with zone_idx, vehicle_idx, group
    group_zone: np.ndarray
    group_vehicle: np.ndarray
    group_size: np.ndarray
    arc_group: np.ndarray
    arc_zone: np.ndarray
    arc_minutes: np.ndarray  # travel minutes (0 for staying)
    build_seconds: float = 0.0

    @property
    def couriers_before(self) -> np.ndarray:
        """Eligible couriers currently in each zone."""
        return np.bincount(
            self.group_zone, weights=self.group_size, minlength=len(self.zone_ids)
        ).astype(np.int64)


def build_problem(
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
) -> ProblemData:
    """Derive demand, eligibility, groups and allowed moves (CONTRACT section 2)."""
    t0 = time.perf_counter()
    config = config or Config()
    tz = config.city.timezone
    if shift_start is None:
        raise ValueError("shift_start is required, e.g. '2026-11-30T19:00'")
    start = parse_timestamp(shift_start, tz)
    end = parse_timestamp(shift_end, tz) if shift_end is not None else start + pd.Timedelta(hours=4)
    if end <= start:
        raise ValueError("shift_end must be after shift_start")

    zones = inputs.zones
    zone_ids = zones["zone_id"].to_numpy(dtype=object)
    index = pd.Index(zone_ids)
    n_zones = len(zone_ids)

    # Demand: open restaurants only.
    rest = inputs.restaurants
    open_mask = rest["status"].to_numpy() == "open"
    rz = index.get_indexer(rest["zone_id"].to_numpy()[open_mask])
    demand = np.bincount(
        rz, weights=rest["expected_orders_per_hour"].to_numpy()[open_mask], minlength=n_zones
    )
    open_count = np.bincount(rz, minlength=n_zones)
    opch = config.demand.orders_per_courier_hour
    required = np.ceil(demand / opch - _EPS).clip(min=0).astype(np.int64)

    # Eligibility.
    cour = inputs.couriers
    min_until = start + pd.Timedelta(minutes=config.eligibility.min_available_minutes)
    eligible_mask = (
        (cour["status"].to_numpy() == "available")
        & (cour["available_from"] <= start).to_numpy()
        & (cour["available_until"] >= min_until).to_numpy()
    )
    vehicles = tuple(sorted(config.vehicles))
    elig = cour.loc[eligible_mask].copy()
    elig["zone_idx"] = index.get_indexer(elig["zone_id"].to_numpy())
    elig["vehicle_idx"] = pd.Index(vehicles).get_indexer(elig["vehicle"].to_numpy())
    key = elig["zone_idx"].to_numpy(np.int64) * len(vehicles) + elig["vehicle_idx"].to_numpy(
        np.int64
    )
    uniq, group_of, sizes = np.unique(key, return_inverse=True, return_counts=True)
    elig["group"] = group_of
    group_zone = (uniq // len(vehicles)).astype(np.int64)
    group_vehicle = (uniq % len(vehicles)).astype(np.int64)

    arc_group, arc_zone, arc_minutes = _arcs(
        inputs, config, vehicles, index, group_zone, group_vehicle
    )

    priority = zones["priority"].to_numpy(dtype=float)
    cap = zones["max_couriers"].to_numpy(dtype=float)
    return ProblemData(
        config=config,
        inputs=inputs,
        shift_start=start,
        shift_end=end,
        zone_ids=zone_ids,
        demand=demand,
        open_restaurants=open_count,
        required=required,
        priority=priority,
        cap=cap,
        vehicles=vehicles,
        eligible=elig,
        group_zone=group_zone,
        group_vehicle=group_vehicle,
        group_size=sizes.astype(np.int64),
        arc_group=arc_group,
        arc_zone=arc_zone,
        arc_minutes=arc_minutes,
        build_seconds=time.perf_counter() - t0,
    )


def _arcs(
    inputs: Inputs,
    config: Config,
    vehicles: tuple[str, ...],
    index: pd.Index,
    group_zone: np.ndarray,
    group_vehicle: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Allowed (group, destination zone, minutes) triples, staying always included."""
    n = len(index)
    zones = inputs.zones
    if inputs.travel_times is None:
        lat = zones["lat"].to_numpy(float)
        lon = zones["lon"].to_numpy(float)
        # Only rows of zones with couriers are ever read.
        origins = np.unique(group_zone)
        dist = np.full((n, n), np.nan)
        dist[origins] = pairwise_km(lat, lon, origins)

        def minutes_from(v: int, rows: np.ndarray) -> np.ndarray:
            # Only the rows of this vehicle's groups, in place: each 8 MB temporary of a
            # 1,000-zone city costs page faults, which dominated this function.
            block = dist[rows]
            block *= config.travel.detour_factor
            block /= config.vehicles[vehicles[v]].speed_kmh
            block *= 60.0
            return block
    else:
        tt = inputs.travel_times
        fi = index.get_indexer(tt["from_zone"].to_numpy())
        ti = index.get_indexer(tt["to_zone"].to_numpy())
        minutes = tt["minutes"].to_numpy(float)
        veh = tt["vehicle"].to_numpy(dtype=object)
        generic = np.full((n, n), np.nan)
        blank = veh == ""
        generic[fi[blank], ti[blank]] = minutes[blank]

        def minutes_from(v: int, rows: np.ndarray) -> np.ndarray:
            m = generic.copy()
            own = veh == vehicles[v]
            m[fi[own], ti[own]] = minutes[own]  # a vehicle's own row overrides the blank one
            return m[rows]

    tails, heads, mins = [], [], []
    for v, name in enumerate(vehicles):
        groups = np.flatnonzero(group_vehicle == v)
        if groups.size == 0:
            continue
        limit = config.vehicles[name].max_move_minutes
        block = minutes_from(v, group_zone[groups])  # (groups, zones), a fresh array
        with np.errstate(invalid="ignore"):
            allowed = block <= limit + _EPS
        rows = np.arange(groups.size)
        block[rows, group_zone[groups]] = 0.0  # staying is free and always allowed
        allowed[rows, group_zone[groups]] = True
        gi, zi = np.nonzero(allowed)
        tails.append(groups[gi])
        heads.append(zi)
        mins.append(block[gi, zi])
    if not tails:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=float)
    return (
        np.concatenate(tails).astype(np.int64),
        np.concatenate(heads).astype(np.int64),
        np.round(np.concatenate(mins), 3),
    )


def flow_network(p: ProblemData) -> dict[str, np.ndarray]:
    """The min-cost-flow arrays for a problem (see the module docstring)."""
    n_groups, n_zones = len(p.group_size), len(p.zone_ids)
    sink = n_groups + n_zones
    total = int(p.group_size.sum())
    c = p.config.costs
    move_cost = np.where(
        p.arc_zone == p.group_zone[p.arc_group],
        0.0,
        np.round((p.arc_minutes + c.move_fixed_minutes) * SCALE),
    )
    capped = ~np.isnan(p.cap)
    cap = np.where(capped, np.nan_to_num(p.cap), total).astype(np.int64)
    covered_cap = np.minimum(p.required, cap)
    surplus_cap = np.maximum(cap - covered_cap, 0)
    zone_nodes = n_groups + np.arange(n_zones)
    tails = np.concatenate([p.arc_group, zone_nodes, zone_nodes])
    heads = np.concatenate([n_groups + p.arc_zone, np.full(n_zones, sink), np.full(n_zones, sink)])
    caps = np.concatenate([p.group_size[p.arc_group], covered_cap, surplus_cap])
    costs = np.concatenate(
        [
            move_cost,
            -np.round(c.shortage_minutes * p.priority * SCALE),
            np.full(n_zones, round(c.surplus_minutes * SCALE)),
        ]
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_groups] = p.group_size
    supplies[sink] = -total
    return {
        "tails": tails,
        "heads": heads,
        "capacities": caps,
        "unit_costs": costs,
        "supplies": supplies,
    }


def explain_infeasible(p: ProblemData) -> tuple[str, tuple[str, ...]]:
    """Why no assignment respects the caps, naming zones (for exit 4)."""
    zone_ids = p.zone_ids
    names = p.inputs.zones["name"].to_numpy(dtype=object)
    capped = ~np.isnan(p.cap)
    before = p.couriers_before
    # Per origin zone: the couriers starting there versus the caps of every zone they can reach.
    for z in np.argsort(zone_ids):
        count = int(before[z])
        if count == 0:
            continue
        groups = np.flatnonzero(p.group_zone == z)
        reach = np.unique(p.arc_zone[np.isin(p.arc_group, groups)])
        if (~capped[reach]).any():
            continue
        room = int(np.nan_to_num(p.cap[reach]).sum())
        if count > room:
            listed = ", ".join(str(zone_ids[r]) for r in reach[:8]) + (
                " ..." if reach.size > 8 else ""
            )
            return (
                f"zone {zone_ids[z]} ({names[z]}) has {count} eligible couriers but the zones "
                f"they can reach ({listed}) allow at most {room} by max_couriers; raise "
                "max_couriers there, or the vehicles' max_move_minutes so they can go further",
                tuple(str(zone_ids[r]) for r in reach),
            )
    total = int(p.group_size.sum())
    room_all = int(np.nan_to_num(p.cap[capped]).sum()) if capped.all() else None
    capped_ids = tuple(str(z) for z in zone_ids[capped])
    if room_all is not None and total > room_all:
        return (
            f"{total} eligible couriers but the max_couriers caps of all zones add up to "
            f"{room_all}; every courier must be assigned to a zone, so raise the caps",
            capped_ids,
        )
    shown = ", ".join(capped_ids[:10]) + (" ..." if len(capped_ids) > 10 else "")
    return (
        "the max_couriers caps cannot all hold: some couriers cannot reach any zone with room "
        f"left (capped zones: {shown}); raise the caps or max_move_minutes",
        capped_ids,
    )
