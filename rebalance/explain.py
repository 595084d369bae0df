"""Why a plan is what it is (CONTRACT section 11): what one more courier is worth where,
why each short zone stays short, and what each route of slot 0 buys.

Two halves:

- `facts` runs at solve time, where the `ProblemData` is at hand, and returns a small
  JSON-able dict stored in plan.json under ``explanation``: the zones' coordinates, and
  per short zone of slot 0 the facts behind its reason (its cap; the nearest zone with a
  courier to spare and that courier's travel time against its vehicle's range; the
  nearest courier within range and where it is needed), and per slot-0 route what
  cancelling it would cost. Spatial look-ups use the sparse allowed-move arrays and a
  k-d tree (dense blocks of short x donor distances when those pairs are few), never a
  zones x zones matrix.
- `explain` turns a `Plan` (in memory or read back from its folder) into an
  `Explanation`: tables and plain sentences for an operator.

What ``marginal_minutes`` means
-------------------------------
It is how much the objective (minutes) would fall with one more courier in that zone,
present for the whole shift and unable to move; negative when the courier would only
add surplus cost; blank (NaN) when one more courier there cannot be placed at all (the
zone is at its ``max_couriers`` cap and nobody there can be sent elsewhere).

- One slot: exact. It is minus the shortest-path distance from the zone to the sink in
  the residual network of the optimal min-cost flow (`rebalance.optimize.zone_values`):
  the cost of pushing the extra unit of supply from that zone, which is exactly the
  change of the integer optimum (network matrices are totally unimodular, so the
  optimum with one more unit is again an integral flow). Degenerate optima do not
  matter: the distance is a property of the residual network, whichever optimal flow
  the solver returns.
- Several slots: the sum over the slots of the duals ``gamma(z, k)`` of the (zone, slot)
  coupling rows of the slot model's LP relaxation at its optimum (`rebalance.slotmodel`,
  `rebalance.slotpaths`), divided by the cost units per minute; per (zone, slot) in
  slots.csv, the one-slot term. By LP duality this sum is a subgradient of the LP optimum
  as a function of the couriers fixed in that zone, so ``LP(now) - LP(one more) <=
  marginal_minutes``. When the LP optimum is integral (``solver.lp_integral == 1`` in
  plan.json, the usual case) the plan's objective equals ``LP(now)`` and the plan with one
  more courier costs at least ``LP(one more)``: the true decrease is **at most**
  ``marginal_minutes``, an upper bound, equal to it when the extra courier's step stays on
  the side of the LP's kink the dual describes (``benchmarks/marginal_values.py`` on 30
  random small cities with 2 and 3 slots: 148 of 270 zones equal, 84 above, none below).
  When the LP is fractional the value is the relaxation's, not a bound on the integer
  change. zones.csv's value is cut at the plan's objective: every cost is >= 0, so no
  courier saves more than the whole objective, and the duals of a degenerate LP went
  far above it (50,050 min in a plan of 50 with no demand). A zone capped at 0 is blank
  (no courier fits there in any slot). Otherwise NaN is certain only in a slot where
  every zone is capped and full. Elsewhere a
  finite value does not promise that one more courier fits: only a capped zone that the
  plan fills in some slot can refuse one (the plan plus that courier is otherwise a
  plan), and `Explanation.ranking` flags those zones (``full_slots`` > 0, a ``*`` in the
  terminal); on the same cities 38 zones were such and the re-solve found no room.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .escape import visible
from .model import changes_instruction, minutes_of

if TYPE_CHECKING:
    from .model import ProblemData
    from .optimize import MoveIndex
    from .plan import Plan

__all__ = ["Explanation", "explain", "facts"]

#: Reason codes of a short zone, in the order they are checked.
REASONS = ("cap", "no_spare", "out_of_range", "needed_where_they_are", "not_worth_the_move")

#: A zone's name in an explanation's sentences is cut to this many characters (its id,
#: never cut, starts the label).
WHY_NAME_CHARS = 40


#: Columns of each route of a stored explanation, and of `Explanation.routes`.
ROUTE_FIELDS = (
    "from_zone",
    "to_zone",
    "couriers",
    "travel_minutes",
    "shortage_removed_minutes",
    "shortage_added_minutes",
    "surplus_change_minutes",
    "move_minutes",
    "saves_minutes",
)
#: The facts of a short zone beside its sentence in `Explanation.short` (and the JSON):
#: its cap, the nearest zone with a courier to spare, the nearest such zone within range
#: and the nearest courier within range (each a zone, a vehicle and minutes, or None;
#: in slots, ``spare_in_range`` also has ``none_to_spare_at`` when that zone has no
#: courier to spare in a later slot: `_none_to_spare`).
SHORT_FACTS = ("cap", "nearest_spare", "spare_in_range", "nearest_in_range")
#: The facts of a short zone each reason is told with (`_why`), and their numbers.
_NEAR_FIELDS = {
    "nearest_spare": ("travel_minutes", "range_minutes"),
    "spare_in_range": ("travel_minutes",),
    "nearest_in_range": ("travel_minutes",),
}


def _routes_whole(routes: list[Any]) -> bool:
    """Whether every route holds its zones as text and its numbers as finite numbers
    (the check of `explanation_problem`, without saying what is wrong)."""
    isfinite = math.isfinite
    numbers = ROUTE_FIELDS[2:]
    try:
        for route in routes:
            if type(route) is not dict:
                return False
            if type(route["from_zone"]) is not str or type(route["to_zone"]) is not str:
                return False
            if type(route.get("cap_forced", False)) is not bool:
                return False
            change = route.get("instruction_change_minutes", 0.0)
            if type(change) not in (int, float) or not isfinite(change):
                return False
            for key in numbers:
                value = route[key]
                if type(value) not in (int, float) or not isfinite(value):
                    return False
    except KeyError:
        return False
    return True


def explanation_problem(info: Any) -> str:
    """What is wrong with a plan.json's stored explanation ("" if nothing): the shape
    `facts` writes and the views read. A hand edit that dropped or misplaced a field
    made `rebalance explain` and `publish` fail with a ValueError (exit 1); `read_plan`
    refuses such a plan.json instead, naming the field."""

    from .ranges import finite_number as number

    if not isinstance(info, dict):
        return "explanation is not a JSON object"
    if not info:
        return ""  # written before explanations were stored
    for key in ("move_fixed_minutes", "shortage_minutes"):
        if key in info and not number(info[key]):
            return f"explanation.{key} is {info[key]!r}, not a number"
    full = info.get("full_slots", {})
    if not isinstance(full, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in full.values()
    ):
        return "explanation.full_slots is not an object of whole numbers by zone"
    lat, lon = info.get("lat", []), info.get("lon", [])
    for name, values in (("lat", lat), ("lon", lon)):
        if not isinstance(values, list) or not all(number(x) for x in values):
            return f"explanation.{name} is not a list of numbers"
    if len(lat) != len(lon):
        return "explanation.lat and explanation.lon differ in length"
    vehicles = info.get("vehicles", {})
    if not isinstance(vehicles, dict) or not all(
        isinstance(v, dict) and all(number(x) for x in v.values()) for v in vehicles.values()
    ):
        return "explanation.vehicles is not an object of numbers by vehicle"
    routes = info.get("routes", [])
    if not isinstance(routes, list):
        return "explanation.routes is not a list"
    if _routes_whole(routes):  # the common case, fast (10,000 zones: 0.09 -> 0.04 s in all)
        routes = []
    for i, route in enumerate(routes):
        where = f"explanation.routes[{i}]"
        if not isinstance(route, dict):
            return f"{where} is not an object"
        for key in ROUTE_FIELDS:
            value = route.get(key)
            ok = isinstance(value, str) if key in ("from_zone", "to_zone") else number(value)
            if not ok:
                return f"{where}.{key} is {value!r}" if key in route else f"{where} lacks {key}"
        if not isinstance(route.get("cap_forced", False), bool):
            return f"{where}.cap_forced is {route['cap_forced']!r}, not true or false"
        if not number(route.get("instruction_change_minutes", 0.0)):
            value = route["instruction_change_minutes"]
            return f"{where}.instruction_change_minutes is {value!r}, not a number"
    short = info.get("short", [])
    if not isinstance(short, list):
        return "explanation.short is not a list"
    for i, entry in enumerate(short):
        where = f"explanation.short[{i}]"
        if not isinstance(entry, dict):
            return f"{where} is not an object"
        if not isinstance(entry.get("zone_id"), str):
            return f"{where}.zone_id is {entry.get('zone_id')!r}, not text"
        if not number(entry.get("shortage")):
            return f"{where}.shortage is {entry.get('shortage')!r}, not a number"
        if entry.get("reason") not in REASONS:
            return f"{where}.reason is {entry.get('reason')!r}, not one of {', '.join(REASONS)}"
        for key, numbers in _NEAR_FIELDS.items():
            near = entry.get(key)
            if near is None:
                continue
            if not (
                isinstance(near, dict)
                and isinstance(near.get("zone_id"), str)
                and isinstance(near.get("vehicle"), str)
                and all(number(near.get(n)) for n in numbers)
                and number(near.get("marginal_minutes"), none=True)
                and number(near.get("change_minutes", 0.0))
            ):
                return f"{where}.{key} is not a zone, a vehicle and its minutes"
        # the reasons told with a fact of their own (`_why`)
        if entry["reason"] == "cap" and not number(entry.get("cap")):
            return f"{where} has reason 'cap' but its cap is {entry.get('cap')!r}"
        if entry["reason"] == "not_worth_the_move" and entry.get("spare_in_range") is None:
            return f"{where} has reason 'not_worth_the_move' but no spare_in_range"
        moved_in = entry.get("spare_moved_in")
        if moved_in is not None and not (
            isinstance(moved_in, list)
            and all(
                isinstance(d, dict)
                and isinstance(d.get("zone_id"), str)
                and isinstance(d.get("couriers"), int)
                and not isinstance(d.get("couriers"), bool)
                for d in moved_in
            )
            and number(entry.get("spare_moved_in_total", 0))
        ):
            return f"{where}.spare_moved_in is not a list of zones and their couriers"
    return ""


# ====================================================================== solve time


def facts(
    p: ProblemData,
    zones: pd.DataFrame,
    moves: pd.DataFrame,
    position: np.ndarray,
    where: MoveIndex | None = None,
) -> dict[str, Any]:
    """The facts `explain` needs that the plan files do not hold (stored in plan.json).

    ``zones`` is zones.csv's frame, ``moves`` the named moves, ``position`` each present
    courier's zone per slot (-1 when absent), rows in the order of ``p.eligible``;
    ``where``, when known, the moves as positions (else looked up by id).
    """
    n_zones = len(p.zone_ids)
    elig = p.eligible
    vehicle = elig["vehicle_idx"].to_numpy(np.int64)
    now = position[:, 0] if position.size else np.zeros(0, np.int64)
    required = p.required
    after = zones["couriers_after"].to_numpy(np.int64)
    spare = after - required  # > 0: a courier to spare now
    # (zone, vehicle) pairs with a courier who could still be sent: present now, not moved
    stayed = (now >= 0) & (now == elig["zone_idx"].to_numpy(np.int64))
    present = np.zeros((n_zones, len(p.vehicles)), dtype=bool)
    present[now[stayed], vehicle[stayed]] = True
    short = np.flatnonzero(zones["shortage"].to_numpy(np.int64) > 0)
    out: dict[str, Any] = {
        "version": 1,
        "vehicles": {
            v: {
                "range_minutes": float(p.config.vehicles[v].max_move_minutes),
                "speed_kmh": float(p.config.vehicles[v].speed_kmh),
            }
            for v in p.vehicles
        },
        "move_fixed_minutes": float(p.config.costs.move_fixed_minutes),
        "shortage_minutes": float(p.config.costs.shortage_minutes),
        "lat": np.round(p.inputs.zones["lat"].to_numpy(float), 6).tolist(),
        "lon": np.round(p.inputs.zones["lon"].to_numpy(float), 6).tolist(),
        # capped zones at their cap in some slot of the plan: only there can one more
        # courier fail to fit (elsewhere the plan plus that courier is a plan)
        "full_slots": _full_slots(p, position),
        "short": [],
        "routes": _route_facts(p, moves, position, where),
    }
    if short.size == 0:
        return out
    nearest_spare = _nearest_spare(p, short, spare, present)
    # a courier to spare that could still be sent (as `_nearest_spare` counts them): not
    # one moved into a zone with surplus, say ahead of its demand later in the shift
    any_donor = bool(((spare > 0)[:, None] & present).any())
    # zones with couriers to spare that are all there by the plan's own moves (a zone
    # emptied by its cap, say): none of them can be sent again now, so "no zone has a
    # courier to spare" would be false
    moved_in: list[int] = (
        [] if any_donor else sorted(np.flatnonzero(spare > 0).tolist(), key=lambda z: -spare[z])
    )
    # entry groups with a courier the plan keeps in its zone now: only they can be sent
    kept = np.bincount(
        elig["group"].to_numpy(np.int64)[stayed], minlength=len(p.group_zone)
    ).astype(bool)
    reach = _within_range(p, short, spare, kept)
    cap = p.cap
    marginal = zones["marginal_minutes"].to_numpy(float)
    index = pd.Index(p.zone_ids.astype(str))
    for i, z in enumerate(short.tolist()):
        entry: dict[str, Any] = {
            "zone_id": str(p.zone_ids[z]),
            "shortage": int(required[z] - after[z]),
            "priority": float(p.priority[z]),
            "cap": None if math.isnan(cap[z]) else int(cap[z]),
            "nearest_spare": nearest_spare[i],
            "spare_in_range": reach[z]["spare"],
            "nearest_in_range": reach[z]["other"],
        }
        if entry["nearest_in_range"] is not None:
            b = index.get_loc(entry["nearest_in_range"]["zone_id"])
            entry["nearest_in_range"]["marginal_minutes"] = _num(marginal[b])
        entry["reason"] = _reason(entry, after[z], any_spare=any_donor)
        if entry["reason"] == "no_spare" and moved_in:
            entry["spare_moved_in"] = [
                {"zone_id": str(p.zone_ids[d]), "couriers": int(spare[d])} for d in moved_in[:3]
            ]
            entry["spare_moved_in_total"] = int(spare[moved_in].sum())
        out["short"].append(entry)
    return out


def _full_slots(p: ProblemData, position: np.ndarray) -> dict[str, int]:
    """Zone id -> number of slots in which the plan fills its ``max_couriers`` cap."""
    capped = ~np.isnan(p.cap)
    if not capped.any():
        return {}
    n_zones = len(p.zone_ids)
    full = np.zeros(n_zones, dtype=np.int64)
    for s in range(p.slots):
        col = position[:, s] if position.size else np.zeros(0, np.int64)
        n = np.bincount(col[col >= 0], minlength=n_zones)
        full += capped & (n >= np.nan_to_num(p.cap))
    return {str(p.zone_ids[z]): int(full[z]) for z in np.flatnonzero(full)}


def _changing(minutes: float) -> str:
    """A re-plan's change cost of a move, as a sentence's words (it is counted in the
    move's minutes just before): > 0 the courier's instruction changes, < 0 one the plan
    changed is restored."""
    if minutes > 0:
        return f"{_fmt(minutes)} min for changing the instruction its courier already has"
    return f"{_fmt(-minutes)} min less for giving its courier back the instruction it had"


def _num(x: float) -> float | None:
    return None if not math.isfinite(float(x)) else round(float(x), 3)


def _reason(entry: dict[str, Any], after: int, *, any_spare: bool) -> str:
    """The binding reason, checked in the order of `REASONS`."""
    if entry["cap"] is not None and after >= entry["cap"]:
        return "cap"
    if entry["spare_in_range"] is not None:
        return "not_worth_the_move"
    if not any_spare:
        return "needed_where_they_are" if entry["nearest_in_range"] is not None else "no_spare"
    return "out_of_range"


#: Arcs handled at once when looking for the couriers within range of short zones.
_ARC_BLOCK = 1 << 18
#: (minutes, origin, arc) ranks below this are packed in one int64 (one pass).
_PACKED_BELOW = np.iinfo(np.int64).max


def _within_range(
    p: ProblemData, short: np.ndarray, spare: np.ndarray, kept: np.ndarray
) -> dict[int, Any]:
    """Per short zone: the couriers present now, and kept in their zone by the plan,
    whose zone can reach it in one move, split into zones with a courier to spare and
    the others; the nearest of each, or in a re-plan the cheapest to send (travel, then
    ``change_minutes`` for an instruction the move would change, less one it would
    restore: the courier nearest by travel may have been told to stay where it is, and
    its move then costs more than its minutes). ``kept``: per entry group, whether the
    plan keeps one of its couriers in its zone now."""
    out: dict[int, Any] = {int(z): {"spare": None, "other": None} for z in short}
    n = len(p.zone_ids)
    is_short = np.zeros(n, dtype=bool)
    is_short[short] = True
    # per entry group: usable now (present in slot 0, and a courier still in its zone:
    # one the plan already sends away, say to this very zone, cannot be named as "needed
    # where it is"), and whether that zone has a courier to spare
    usable = (p.group_first == 0) & kept
    spare_group = (spare[p.group_zone] > 0) & usable
    # a re-plan's change cost, thousandths of a minute: the move's minus staying's
    change = round(p.config.costs.change_minutes * 1000) if (p.group_prev >= 0).any() else 0

    def changed(group: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """``change`` x (-1, 0 or 1) for couriers of ``group`` sent to ``zone``."""
        prev, src = p.group_prev[group], p.group_zone[group]
        move, stay = changes_instruction(prev, zone), changes_instruction(prev, src)
        return change * (move.astype(np.int64) - stay)

    # Per (zone, spare or not): least minutes, then lowest origin, then first arc (the
    # vehicle order). Minutes are whole thousandths (<= 10,080 min), so (minutes, origin)
    # is one int64 and a per-key minimum replaces a sort of millions of arcs. When
    # (minutes, origin, arc) fits in an int64 too (10,000 zones and 7.8M arcs use 1/12
    # of it), one pass over the arcs in blocks finds it: 0.23 -> 0.13 s there.
    # Otherwise two passes (the least rank, then the first arc holding it). Blocks keep
    # the temporaries small whatever the number of arcs.
    big = np.iinfo(np.int64).max
    best = np.full(2 * n, big)
    first_arc = np.full(2 * n, big)
    n_arcs = len(p.arc_zone)
    top = (int(p.arc_millis.max(initial=0)) + 2 * change) * n + n
    one_pass = (top + 1) * (n_arcs + 1) < _PACKED_BELOW

    def block(lo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        zone, group = p.arc_zone[lo : lo + _ARC_BLOCK], p.arc_group[lo : lo + _ARC_BLOCK]
        src = p.group_zone[group]
        into = np.flatnonzero(is_short[zone] & usable[group] & (src != zone))
        cost = p.arc_millis[lo + into].astype(np.int64)
        if change:  # + change keeps the rank >= 0
            cost += changed(group[into], zone[into]) + change
        rank = cost * n + src[into]
        key = zone[into] * 2 + spare_group[group[into]]
        return lo + into, key, rank

    if one_pass:
        for lo in range(0, n_arcs, _ARC_BLOCK):
            arc, key, rank = block(lo)
            rank *= n_arcs
            rank += arc
            np.minimum.at(best, key, rank)
        first_arc = np.where(best < big, best % max(n_arcs, 1), big)
    else:
        for lo in range(0, n_arcs, _ARC_BLOCK):
            _, key, rank = block(lo)
            np.minimum.at(best, key, rank)
        for lo in range(0, n_arcs, _ARC_BLOCK):
            arc, key, rank = block(lo)
            hit = rank == best[key]
            np.minimum.at(first_arc, key[hit], arc[hit])
    found = np.flatnonzero(first_arc < big)
    if found.size == 0:
        return out
    rows = first_arc[found]
    group = p.arc_group[rows]
    first = {
        "to": p.arc_zone[rows],
        "spare": found % 2 == 1,
        "from": p.group_zone[group],
        "vehicle": p.group_vehicle[group],
        "minutes": minutes_of(p.arc_millis[rows]),
        "change": changed(group, p.arc_zone[rows]) / 1000,
    }
    for z, spare_z, src_z, veh_v, minutes_z, change_z in zip(
        first["to"].tolist(),
        first["spare"].tolist(),
        first["from"].tolist(),
        first["vehicle"].tolist(),
        first["minutes"].tolist(),
        first["change"].tolist(),
        strict=True,
    ):
        entry: dict[str, Any] = {
            "zone_id": str(p.zone_ids[src_z]),
            "vehicle": p.vehicles[veh_v],
            "travel_minutes": round(float(minutes_z), 3),
        }
        if change_z:  # a re-plan's instruction changed (> 0) or restored (< 0)
            entry["change_minutes"] = round(float(change_z), 3)
        out[int(z)]["spare" if spare_z else "other"] = entry
    return out


def _nearest_spare(
    p: ProblemData, short: np.ndarray, spare: np.ndarray, present: np.ndarray
) -> list[dict[str, Any] | None]:
    """Per short zone: the zone with a courier to spare (now) closest in travel time
    relative to its vehicle's range, whether or not in range. ``None`` when no zone has one."""
    best: list[dict[str, Any] | None] = [None] * short.size
    score = np.full(short.size, np.inf)
    tt = p.inputs.travel_times
    for v, name in enumerate(p.vehicles):
        donors = np.flatnonzero((spare > 0) & present[:, v])
        if donors.size == 0:
            continue
        rng = float(p.config.vehicles[name].max_move_minutes)
        if tt is None:
            minutes, src = _nearest_by_distance(p, v, donors, short)
        else:
            minutes, src = _nearest_by_table(p, v, donors, short)
        ratio = minutes / rng if rng > 0 else np.where(minutes > 0, np.inf, 0.0)
        better = np.isfinite(minutes) & (ratio < score)
        for i in np.flatnonzero(better).tolist():
            score[i] = ratio[i]
            best[i] = {
                "zone_id": str(p.zone_ids[src[i]]),
                "vehicle": name,
                "travel_minutes": round(float(minutes[i]), 3),
                "range_minutes": rng,
            }
    return best


#: Up to this many (short zone, donor) pairs per vehicle, and while scipy's k-d tree is
#: not loaded (0.1-0.15 s to import, a tenth of a small plan), the nearest donor comes
#: from dense blocks of distances (~25 ns a pair); otherwise from a k-d tree. Both give
#: the same answer (`_nearest_by_distance`).
_DENSE_PAIRS = 1_000_000


def _nearest_by_distance(
    p: ProblemData, v: int, donors: np.ndarray, short: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest donor zone by great-circle distance: the least chord between unit vectors,
    squared as ``(dx*dx + dy*dy) + dz*dz`` (the k-d tree's own sum), the zone itself
    excluded, ties to the lower zone index. ``donors`` ascending."""
    from .reach import EARTH_RADIUS_KM, unit_vectors

    zones = p.inputs.zones
    xyz = np.column_stack(unit_vectors(zones["lat"].to_numpy(float), zones["lon"].to_numpy(float)))
    if _dense(short.size * donors.size):
        square, src = _nearest_dense(xyz, donors, short)
    else:
        square, src = _nearest_tree(xyz, donors, short)
    c = np.sqrt(square)
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(c / 2, 0.0, 1.0))
    cfg = p.config
    minutes = km * cfg.travel.detour_factor / cfg.vehicles[p.vehicles[v]].speed_kmh * 60.0
    return np.where(np.isfinite(c), minutes, np.inf), src


def _dense(pairs: int) -> bool:
    """Whether to find nearest donors by dense blocks (see `_DENSE_PAIRS`)."""
    return pairs <= _DENSE_PAIRS and "scipy.spatial._ckdtree" not in sys.modules


def _square_chords(xyz: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared chords of the pairs (rows, cols) (broadcast), summed as the k-d tree sums."""
    total = np.zeros(np.broadcast_shapes(rows.shape, cols.shape))
    for k in range(3):
        d = xyz[rows, k] - xyz[cols, k]
        total += d * d
    return total


def _nearest_dense(
    xyz: np.ndarray, donors: np.ndarray, short: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_nearest_by_distance` from blocks of the short x donors distances."""
    square = np.full(short.size, np.inf)
    src = np.full(short.size, donors[0] if donors.size else 0, dtype=np.int64)
    step = max(1, (1 << 20) // max(donors.size, 1))
    for lo in range(0, short.size, step):
        block = short[lo : lo + step]
        d = _square_chords(xyz, block[:, None], donors[None, :])
        d[block[:, None] == donors[None, :]] = np.inf  # not from itself
        best = np.argmin(d, axis=1)  # the first least: the lower zone index
        square[lo : lo + step] = d[np.arange(block.size), best]
        src[lo : lo + step] = donors[best]
    return square, src


def _nearest_tree(
    xyz: np.ndarray, donors: np.ndarray, short: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_nearest_by_distance` from a k-d tree: the two nearest give the least distance
    (one of them may be the zone itself), then every donor up to it, for the ties."""
    from .reach import kdtree

    tree = kdtree()(xyz[donors])
    k = min(2, donors.size)
    chord, idx = tree.query(xyz[short], k=k)
    chord, idx = chord.reshape(short.size, k), idx.reshape(short.size, k)
    chord = np.where(donors[idx] == short[:, None], np.inf, chord)
    least = chord.min(axis=1)
    square = np.full(short.size, np.inf)
    src = np.full(short.size, donors[0], dtype=np.int64)
    found = np.flatnonzero(np.isfinite(least))
    # a margin: the ball's own rounding may not keep a point at exactly that distance
    balls = tree.query_ball_point(xyz[short[found]], least[found] * (1 + 1e-9) + 1e-15)
    sizes = np.fromiter((len(b) for b in balls), dtype=np.int64, count=found.size)
    near = donors[np.fromiter(itertools.chain.from_iterable(balls), np.int64, int(sizes.sum()))]
    which = np.repeat(found, sizes)
    d = _square_chords(xyz, short[which], near)
    d[near == short[which]] = np.inf
    # per short zone, the least square, then the lower zone index
    order = np.lexsort((near, d, which))
    first = order[np.r_[True, which[order][1:] != which[order][:-1]]] if order.size else order
    square[which[first]] = d[first]
    src[which[first]] = near[first]
    return square, src


def _nearest_by_table(
    p: ProblemData, v: int, donors: np.ndarray, short: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest donor zone by the travel_times file (rows of this vehicle or blank)."""
    tt = p.inputs.travel_times
    assert tt is not None
    index = pd.Index(p.zone_ids)
    frame = pd.DataFrame(
        {
            "from": index.get_indexer(tt["from_zone"].to_numpy()),
            "to": index.get_indexer(tt["to_zone"].to_numpy()),
            "minutes": tt["minutes"].to_numpy(float),
            "own": tt["vehicle"].to_numpy(dtype=object) == p.vehicles[v],
            "blank": tt["vehicle"].to_numpy(dtype=object) == "",
        }
    )
    frame = frame[(frame["own"] | frame["blank"]) & frame["from"].isin(donors)]
    frame = frame[frame["to"].isin(short) & (frame["from"] != frame["to"])]
    # a vehicle's own row overrides the blank one
    frame = frame.sort_values(["from", "to", "own"]).drop_duplicates(["from", "to"], keep="last")
    best = frame.sort_values(["minutes", "from"]).drop_duplicates("to")
    pos = pd.Series(np.arange(short.size), index=short)
    minutes = np.full(short.size, np.inf)
    src = np.zeros(short.size, np.int64)
    at = pos.loc[best["to"].to_numpy()].to_numpy()
    minutes[at] = best["minutes"].to_numpy()
    src[at] = best["from"].to_numpy()
    return minutes, src


def _route_facts(
    p: ProblemData, moves: pd.DataFrame, position: np.ndarray, where: MoveIndex | None = None
) -> list[dict[str, Any]]:
    """Per slot-0 route: the objective if its couriers had stayed where they were (until
    the plan moves them again), everything else unchanged, minus the plan's. Vectorised
    over routes: only the route's two zones change. ``cap_forced``: staying would put
    more couriers in the origin than its ``max_couriers`` in some slot, so that
    comparison is with no plan at all: the route is required, whatever it "saves"."""
    if moves.empty:
        return []
    index = pd.Index(p.zone_ids.astype(str))
    if where is not None:
        at_start = where.slot == 0
        if not at_start.any():
            return []
        rows, src, dst = where.row[at_start], where.src[at_start], where.dst[at_start]
        minutes = moves["travel_minutes"].to_numpy(float)[at_start]
    else:
        at0 = moves[pd.to_datetime(moves["slot_start"], utc=True) == p.grid.starts[0]]
        if at0.empty:
            return []
        ids = pd.Index(p.eligible["courier_id"].astype(str))
        rows = ids.get_indexer(at0["courier_id"].astype(str))
        src = index.get_indexer(at0["from_zone"].astype(str))
        dst = index.get_indexer(at0["to_zone"].astype(str))
        minutes = at0["travel_minutes"].to_numpy(float)
    k, c = p.slots, p.config.costs
    w = 1.0 / k
    route_key = src.astype(np.int64) * len(index) + dst
    keys, route = np.unique(route_key, return_inverse=True)
    a, b = keys // len(index), keys % len(index)
    n_routes = keys.size
    counts = np.zeros((len(index), k), dtype=np.int64)
    for s in range(k):
        col = position[:, s]
        counts[:, s] = np.bincount(col[col >= 0], minlength=len(index))
    # slots each mover spends in its destination before it moves on (contiguous from 0)
    stays = np.cumprod(position[rows] == dst[:, None], axis=1)
    held = np.zeros((n_routes, k), dtype=np.int64)
    np.add.at(held, route, stays)
    required = p.slot_required
    short_w = c.shortage_minutes * p.priority[:, None] * w
    plan_a, plan_b = counts[a], counts[b]
    alt_a, alt_b = plan_a + held, plan_b - held

    def lack(z: np.ndarray, n: np.ndarray) -> np.ndarray:
        return (short_w[z] * np.maximum(required[z] - n, 0)).sum(axis=1)

    def extra(z: np.ndarray, n: np.ndarray) -> np.ndarray:
        return (w * c.surplus_minutes * np.maximum(n - required[z], 0)).sum(axis=1)

    # a route whose couriers could not have stayed: their origin's cap, full without them
    cap_a = p.cap[a]
    forced = ~np.isnan(cap_a) & (alt_a > np.nan_to_num(cap_a)[:, None]).any(axis=1)
    removed = lack(b, alt_b) - lack(b, plan_b)
    added = lack(a, plan_a) - lack(a, alt_a)
    surplus = extra(a, plan_a) + extra(b, plan_b) - extra(a, alt_a) - extra(b, alt_b)
    couriers = np.bincount(route, minlength=n_routes)
    travel = np.bincount(route, weights=minutes, minlength=n_routes)
    move = travel + c.move_fixed_minutes * couriers
    # A re-plan's change_minutes (CONTRACT 9): the plan pays it for a mover whose
    # previous instruction was elsewhere; staying would pay it if that was not the
    # origin. Left out, a route that changes an instruction read as saving 10 min more
    # than it does, and one that keeps one 10 min less per courier.
    prev = p.eligible["prev_idx"].to_numpy()[rows]
    changed = changes_instruction(prev, dst).astype(float) - changes_instruction(prev, src)
    change = c.change_minutes * np.bincount(route, weights=changed, minlength=n_routes)
    saves = removed - added - surplus - move - change
    columns = {
        "from_zone": index[a].tolist(),
        "to_zone": index[b].tolist(),
        "couriers": couriers.tolist(),
        "cap_forced": forced.tolist(),
        **{
            key: [round(x, 3) for x in values.tolist()]
            for key, values in (
                ("travel_minutes", travel),
                ("move_minutes", move),
                ("shortage_removed_minutes", removed),
                ("shortage_added_minutes", added),
                ("surplus_change_minutes", surplus),
                ("instruction_change_minutes", change),
                ("saves_minutes", saves),
            )
        },
    }
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


# ====================================================================== the view


@dataclass(frozen=True)
class Explanation:
    """Why a plan is what it is: short zones with their reason, what each slot-0 route
    saves, and the zones ranked by what one more courier is worth there.

    ``short``: zone_id, name, shortage, reason (a code of `REASONS`), why (a sentence);
    ``routes``: from_zone, to_zone, couriers, travel_minutes, shortage_removed_minutes,
    shortage_added_minutes, surplus_change_minutes, move_minutes, saves_minutes, why,
    cap_forced, instruction_change_minutes (a re-plan's change_minutes the route pays,
    less what staying would pay);
    ``ranking``: zone_id, name, action, shortage, marginal_minutes, most valuable first.
    Prints itself in a terminal (rich) and a notebook (HTML); `to_dict` is the JSON form.
    """

    city: str
    shift: str
    slots: int
    status: str
    short: pd.DataFrame
    routes: pd.DataFrame
    ranking: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    #: What ``marginal_minutes`` is here (`marginal_kind`): "exact", "at most",
    #: "relaxation", or "none" (not computed: a plan stopped by its time limit, or
    #: written without the column).
    marginal: str = "exact"
    #: The zone asked for (`explain`'s ``zone``), whose rows alone are kept; None: all.
    zone: str | None = None

    def zone_name(self) -> str:
        """The name of the zone asked for (`zone`), "" when none was or it has none."""
        if self.zone is None:
            return ""
        names = self.ranking.loc[self.ranking["zone_id"].astype(str) == self.zone, "name"]
        return str(names.iloc[0]) if len(names) else ""

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in r.items()
                }
                for r in frame.to_dict(orient="records")
            ]

        return {
            "city": self.city,
            "shift": self.shift,
            "slots": self.slots,
            "status": self.status,
            "short_zones": records(self.short),
            "routes": records(self.routes),
            "marginal_values": records(self.ranking),
            "notes": self.notes,
            "zone": self.zone,
        }

    def text(self) -> str:
        """Plain text, as in a terminal without colour."""
        from io import StringIO

        from rich.console import Console

        buffer = StringIO()
        Console(file=buffer, width=110, color_system=None, highlight=False).print(self)
        return buffer.getvalue()

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from .views.terminal import explanation_renderables

        yield from explanation_renderables(self)

    def _repr_html_(self) -> str:
        from .views.html import explanation_html

        return explanation_html(self)

    def __repr__(self) -> str:
        return (
            f"Explanation(city={self.city!r}, short_zones={len(self.short)}, "
            f"routes={len(self.routes)})"
        )


def explain(plan: Plan, zone: str | None = None) -> Explanation:
    """The explanation of a plan (see `Explanation`); ``zone`` keeps one zone's rows.

    Raises `KeyError` naming valid zones when ``zone`` is not one of the plan's.
    """
    from .views.wording import cut, shift_window, zone_label

    if not plan.feasible:
        raise ValueError(f"an infeasible plan has nothing to explain: {plan.message}")
    zones = plan.zones.copy()
    zones["zone_id"] = zones["zone_id"].astype(str)
    if "marginal_minutes" not in zones.columns:  # a plan built without marginal values
        zones["marginal_minutes"] = math.nan
    kind = marginal_kind(plan)
    names = dict(zip(zones["zone_id"], zones["name"].astype(str), strict=True))
    if zone is not None and zone not in names and str(zone).strip() in names:
        zone = str(zone).strip()  # " Z0001" pasted from a table: ids hold no padding
    if zone is not None and zone not in names:
        listed = [visible(z, one_line=True) for z in sorted(names)[:20]]
        shown = ", ".join(listed) + (" ..." if len(names) > 20 else "")
        raise KeyError(f"unknown zone {cut(str(zone), 60)!r}; valid zones: {shown}")
    info = plan.explanation or {}
    marginal = dict(zip(zones["zone_id"], zones["marginal_minutes"].astype(float), strict=True))

    def label(z: str) -> str:
        # cut: a name is a partner's text, and a sentence is no place for 10,000 of it
        return zone_label(z, cut(names.get(z, ""), WHY_NAME_CHARS))

    # One zone's rows are picked before their texts are written: at 10,000 zones the
    # texts of every short zone and route took 0.4 s of each explain(zone).
    short_entries = info.get("short", [])
    route_entries = info.get("routes", [])
    if zone is not None:
        short_entries = [e for e in short_entries if e["zone_id"] == zone]
        route_entries = [r for r in route_entries if zone in (r["from_zone"], r["to_zone"])]
    # several slots: when the zone with a courier to spare has none to spare in a later
    # slot, the sentence says when (a fact of the plan, not a guess at the reason)
    spare_zones = {
        str(e["spare_in_range"]["zone_id"]) for e in short_entries if e.get("spare_in_range")
    }
    none_spare = _none_to_spare(plan, spare_zones) if plan.slot_count > 1 else {}
    short_rows = []
    for e in short_entries:
        z = e["zone_id"]
        spare = e.get("spare_in_range")
        later = none_spare.get(str(spare["zone_id"])) if spare else None
        if later is not None:
            e = {**e, "spare_in_range": {**spare, "none_to_spare_at": later[1]}}
        short_rows.append(
            {
                "zone_id": z,
                "name": names.get(z, ""),
                "shortage": e["shortage"],
                "marginal_minutes": marginal.get(z, math.nan),
                "reason": e["reason"],
                "why": _why(
                    e,
                    label,
                    marginal.get(z, math.nan),
                    info,
                    plan.slot_count,
                    proven=plan.status == "optimal",
                    kind=kind,
                    spare_gone=None if later is None else later[0],
                ),
                # the facts the sentence is told with, for scripts (objects or null)
                **{key: e.get(key) for key in SHORT_FACTS},
            }
        )
    short = pd.DataFrame(
        short_rows,
        columns=["zone_id", "name", "shortage", "marginal_minutes", "reason", "why", *SHORT_FACTS],
    )
    # a cap is a whole number or none: a column of both would turn 5 into 5.0
    short["cap"] = pd.Series([r["cap"] for r in short_rows], index=short.index, dtype=object)
    routes = pd.DataFrame(
        route_entries, columns=[*ROUTE_FIELDS, "cap_forced", "instruction_change_minutes"]
    )
    # folders written before routes said whether a cap forced them, or what changing an
    # instruction costs (0 where there was no previous plan)
    routes["cap_forced"] = routes["cap_forced"].map(lambda x: x is True).astype(bool)
    routes["instruction_change_minutes"] = (
        pd.to_numeric(routes["instruction_change_minutes"], errors="coerce")
        .fillna(0.0)
        .astype(float)
    )
    if len(routes):
        routes = routes.sort_values(
            ["saves_minutes", "from_zone", "to_zone"], ascending=[False, True, True]
        ).reset_index(drop=True)
    routes["why"] = [_route_why(r, label, plan.slot_count) for r in routes.itertuples(index=False)]
    ranking = zones[["zone_id", "name", "action", "shortage", "marginal_minutes"]].copy()
    full = info.get("full_slots", {})
    ranking["full_slots"] = [int(full.get(z, 0)) for z in ranking["zone_id"]]
    # equal values (several slots: upper bounds, which a zone with nothing to do can share
    # with a short one) put the shorter zone first
    ranking = ranking.assign(_nan=ranking["marginal_minutes"].isna()).sort_values(
        ["_nan", "marginal_minutes", "shortage", "zone_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    ranking = ranking.drop(columns="_nan").reset_index(drop=True)
    notes = [_marginal_note(plan, kind)]
    if plan.status != "optimal":
        notes.insert(0, _unproven_note(plan))
    if not info:
        notes.append(
            "This plan folder was written before explanations were stored: the reasons "
            "for short zones and the route savings are not available; re-run `rebalance plan`."
        )
    if zone is not None:
        short = short[short["zone_id"] == zone].reset_index(drop=True)
        routes = routes[(routes["from_zone"] == zone) | (routes["to_zone"] == zone)].reset_index(
            drop=True
        )
        ranking = ranking[ranking["zone_id"] == zone].reset_index(drop=True)
    return Explanation(
        city=plan.city,
        shift=shift_window(plan),
        slots=plan.slot_count,
        status=plan.status,
        short=short,
        routes=routes,
        ranking=ranking,
        notes=notes,
        marginal=kind,
        zone=zone,
    )


def _none_to_spare(plan: Plan, zones: set[str]) -> dict[str, tuple[str, str]]:
    """For each of ``zones`` that holds couriers in a slot after the first and has none
    of them to spare there (as many as it requires, or fewer): that first such slot, as
    its label and its start (ISO, city time). Zones with a courier to spare in every
    later slot they hold one are left out. Read from the plan's slots table."""
    slots = plan.slots
    wanted = {"zone_id", "slot_start", "couriers_after", "required_couriers"}
    if not zones or slots is None or slots.empty or not wanted <= set(slots.columns):
        return {}
    rows = slots[slots["zone_id"].astype(str).isin(zones)]
    starts = plan.slot_starts()
    at = pd.Index(starts).get_indexer(pd.DatetimeIndex(rows["slot_start"]))
    after = pd.to_numeric(rows["couriers_after"], errors="coerce").to_numpy(float)
    needed = pd.to_numeric(rows["required_couriers"], errors="coerce").to_numpy(float)
    full = (at > 0) & (after > 0) & (after <= needed)
    if not full.any():
        return {}
    found = (
        pd.DataFrame({"zone": rows["zone_id"].astype(str).to_numpy()[full], "at": at[full]})
        .groupby("zone")["at"]
        .min()
    )
    from .slots import slot_labels

    labels = slot_labels(starts)  # (Plan.slot_labels would make the starts again)
    return {z: (labels[k], starts[k].isoformat()) for z, k in found.items()}


def marginal_kind(plan: Plan) -> str:
    """What a plan's ``marginal_minutes`` are (module docstring): "exact" (one slot),
    "at most" (several slots, the LP integral: an upper bound on the saving),
    "relaxation" (several slots, the LP fractional: the relaxation's value, not a
    bound), or "none" (not computed: a plan not proven optimal, or a zones.csv without
    the column)."""
    if plan.status != "optimal" or "marginal_minutes" not in plan.zones.columns:
        return "none"
    # a zones.csv written without them reads back as all blank: only zones at their cap
    # (`facts`' full_slots) can be blank in a plan that has them
    full = (plan.explanation or {}).get("full_slots") or {}
    if not full and pd.to_numeric(plan.zones["marginal_minutes"], errors="coerce").isna().all():
        return "none"
    if plan.slot_count == 1:
        return "exact"
    return "at most" if plan.solver.get("lp_integral") == 1 else "relaxation"


def worth_words(kind: str, amount: str, verb: str = "would save") -> str:
    """ "would save [at most] X min" for a marginal value of that `marginal_kind`,
    ``amount`` as the caller shows numbers (the sentences, `/rebalance why`)."""
    most = " at most" if kind == "at most" else ""
    relaxed = " in the LP relaxation (not a bound)" if kind == "relaxation" else ""
    return f"{verb}{most} {amount} min{relaxed}"


def _unproven_note(plan: Plan) -> str:
    """What a plan the solver did not prove optimal (a time limit) lets `explain` say."""
    bound, objective = plan.best_bound, plan.objective
    gap = (
        f" (objective {objective:,.1f} min, best bound {bound:,.1f} min)"
        if bound is not None
        and objective is not None
        and math.isfinite(bound)
        and math.isfinite(objective)
        else ""
    )
    return (
        f"This plan is {plan.status}, not proven optimal: the solver stopped at its time "
        f"limit{gap}. A move it does not make may still pay, so the reasons below name "
        "the facts without claiming the move would cost more than it saves; re-plan "
        "with a longer time limit ([solver] time_limit_seconds, --time-limit at the command "
        "line) for an optimal plan and its marginal values."
    )


def _marginal_note(plan: Plan, kind: str) -> str:
    """What the marginal values are here; ``kind``: `marginal_kind` of ``plan``."""
    if plan.status != "optimal":
        return "Marginal values are computed only for a proven optimal plan: they are blank here."
    if kind == "none":
        return (
            "This plan's zones.csv has no marginal_minutes (written without them): the "
            "values are blank here; re-run `rebalance plan` for them."
        )
    if plan.slot_count == 1:
        return (
            "Marginal value: how many minutes of the objective one more courier in that zone "
            "would save (exact; negative = it would only add surplus cost; blank = the zone's "
            "cap leaves no room; * = the zone is at its cap, so the value counts one of its "
            "couriers leaving to make room)."
        )
    integral = plan.solver.get("lp_integral")
    tail = (
        "the LP was integral here, so it is an upper bound on the real saving"
        if integral == 1
        else "the LP was fractional here, so it is the relaxation's value, not a bound"
    )
    return (
        "Marginal value: the LP dual of one more courier in that zone for the whole shift, "
        f"summed over the {plan.slot_count} slots (minutes; {tail}; blank = the zone's cap "
        "leaves no room; * = the zone fills its cap in some slot, so one more courier may "
        "not fit there)."
    )


def _fmt(x: float) -> str:
    """A number of minutes in a sentence: whole when within 0.05, else one decimal; never
    "-0" (a route saving -0.04 minutes read "saves -0 min")."""
    return f"{round(x) + 0:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def _shown(x: float) -> float:
    """``x`` as `_fmt` shows it, as a number: sums of shown numbers then add up."""
    return float(_fmt(x))


def _why(
    e: dict[str, Any],
    label: Any,
    value: float,
    info: dict[str, Any],
    slots: int,
    *,
    proven: bool = True,
    kind: str | None = None,
    spare_gone: str | None = None,
) -> str:
    """The binding reason of a short zone, in one or two plain sentences. ``proven``:
    the plan is optimal, so a move it does not make costs at least what it would save;
    a plan stopped by a time limit proves no such thing, and its sentences say so.
    ``kind``: what the marginal values are (`marginal_kind`; by default "at most" in
    slots, else "exact"). ``spare_gone``: the label of the first later slot in which the
    zone with a courier to spare has none (`_none_to_spare`), told beside the reason."""
    if kind is None:
        kind = "at most" if slots > 1 else "exact"
    worth = (
        f" One more courier here {worth_words(kind, _fmt(value))}." if math.isfinite(value) else ""
    )
    reason = e["reason"]
    spare = e.get("nearest_spare")
    near = e.get("nearest_in_range")
    from .views.wording import plural

    if reason == "cap":
        return (
            f"Its cap is reached: max_couriers is {e['cap']} and it has "
            f"{plural(int(e['cap']), 'courier')}."
        )
    if reason == "no_spare" and e.get("spare_moved_in"):
        where = ", ".join(f"{d['couriers']} in {label(d['zone_id'])}" for d in e["spare_moved_in"])
        total = int(e.get("spare_moved_in_total", 0))
        shown = sum(int(d["couriers"]) for d in e["spare_moved_in"])
        more = f" and {total - shown} elsewhere" if total > shown else ""
        later = " (the plan may need them there later in the shift)" if slots > 1 else ""
        return (
            "No courier to spare can be sent here now: the only ones to spare "
            f"({where}{more}) are there by the plan's own moves, and a courier moves once "
            f"a slot{later}." + worth
        )
    if reason == "no_spare":
        later = ", or later in the shift where the plan sends them" if slots > 1 else ""
        return (
            f"No zone has a courier to spare: every courier is needed where the plan has "
            f"them{later}." + worth
        )
    if reason == "out_of_range" and spare is not None:
        text = (
            f"No zone with a courier to spare is within range: the closest to it for "
            f"its vehicle's range, {label(spare['zone_id'])}, is "
            f"{_fmt(spare['travel_minutes'])} min away by "
            f"{spare['vehicle']}, whose range is {_fmt(spare['range_minutes'])} min."
        )
        if near is not None:
            change = float(near.get("change_minutes", 0.0))
            text += (
                f" The couriers within range ({'cheapest to send' if change else 'nearest'} "
                f"in {label(near['zone_id'])}, {_fmt(near['travel_minutes'])} min by "
                f"{near['vehicle']}" + (f", {_changing(change)}" if change else "") + ") "
                "are needed where they are"
                + (
                    f" (one more there {worth_words(kind, _fmt(near['marginal_minutes']))})."
                    if near.get("marginal_minutes") is not None
                    else "."
                )
            )
        return text + worth
    if reason == "needed_where_they_are" and near is not None:
        # The plan is optimal, so taking a courier from there costs at least what it nets here.
        there = ""
        # only from an exact value: an upper bound on the saving here bounds nothing there
        change = float(near.get("change_minutes", 0.0))
        if math.isfinite(value) and slots == 1 and proven:
            moving = float(near["travel_minutes"]) + float(info.get("move_fixed_minutes", 0))
            there = (
                f"; taking one from there would cost at least the "
                f"{_fmt(value - moving - change)} min it would net here ({_fmt(value)} saved, "
                f"{_fmt(moving)} moving" + (f", {_changing(change)}" if change else "") + ")"
            )
        return (
            f"Every courier within range is needed where they are: the "
            f"{'cheapest to send' if change else 'nearest'} is in "
            f"{label(near['zone_id'])}, {_fmt(near['travel_minutes'])} min away by "
            f"{near['vehicle']}, and that zone has none to spare{there}."
        )
    if reason == "not_worth_the_move":
        s = e["spare_in_range"]
        fixed = float(info.get("move_fixed_minutes", 0.0))
        # the sum of the numbers shown (7.05 shown as 7 made '7 + 5 = 12.1')
        travel = _shown(float(s["travel_minutes"]))
        change = _shown(float(s.get("change_minutes", 0.0)))
        cost = travel + fixed + change
        later = " or it is needed there later in the shift" if slots > 1 else ""
        if slots > 1 and spare_gone:
            later += f" (that zone has no courier to spare at {spare_gone})"
        opening = (
            f"{label(s['zone_id'])} has a courier to spare {_fmt(travel)} min away "
            f"by {s['vehicle']}, but the move ({_fmt(cost)} min with the fixed "
            f"{_fmt(fixed)} min" + (f" and {_changing(change)}" if change else "") + ")"
        )
        if not proven:
            return (
                f"{opening} is not in this plan, and the solver stopped before proving "
                "whether it would pay."
            )
        return f"{opening} costs more than it saves here{later}." + worth
    if reason == "out_of_range":
        return "No zone with a courier to spare has a route to it in travel_times." + worth
    return "No courier can reach it." + worth


def _route_why(r: Any, label: Any, slots: int) -> str:
    n = int(r.couriers)
    who = f"{n} courier{'s' if n != 1 else ''}"
    parts = f"removes {_fmt(r.shortage_removed_minutes)} min of shortage in {label(r.to_zone)}"
    if r.shortage_added_minutes:
        parts += f", adds {_fmt(r.shortage_added_minutes)} min in {label(r.from_zone)}"
    if r.surplus_change_minutes:
        parts += f", surplus cost {r.surplus_change_minutes:+.0f} min"
    cost = f"{_fmt(r.move_minutes)} min of moving"
    change = float(getattr(r, "instruction_change_minutes", 0.0) or 0.0)
    if change > 0:
        cost += f" and {_fmt(change)} min for changing instructions already given"
    elif change < 0:
        cost += f", keeping instructions already given ({_fmt(-change)} min)"
    text = (
        f"{who} {label(r.from_zone)} → {label(r.to_zone)}: {parts}, for "
        f"{cost}; saves {_fmt(r.saves_minutes)} min"
        + (" over the shift" if slots > 1 else "")
        + "."
    )
    if getattr(r, "cap_forced", False):
        text += (
            f" Required: {label(r.from_zone)} is at its max_couriers cap without them, so "
            "they could not have stayed."
        )
    return text
