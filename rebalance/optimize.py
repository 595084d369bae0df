"""`solve(inputs, ...) -> Plan`: the pure middle of rebalance, no disk or network."""

from __future__ import annotations

import hashlib
import json
import numbers
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import Config
from .flowgen import residual_distances, solve_flow
from .inputs import Inputs, as_inputs, config_for, index_dtype, release_memory
from .model import (
    SCALE,
    ProblemData,
    build_problem,
    changes_instruction,
    explain_infeasible,
    minutes_of,
)
from .plan import MOVES_COLUMNS, ZONES_COLUMNS, Plan, as_plan
from .ranges import MAX_TIME_LIMIT_SECONDS
from .reach import millis_of
from .slots import utc_ns
from .solver import cover_largest_first

__all__ = ["solve"]


def solve(
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
    *,
    previous: Plan | None = None,
    time_limit: float | None = None,
    verify: bool = True,
    warn: bool = True,
) -> Plan:
    """Plan a shift slot by slot: the optimal moves of present couriers between zones.

    ``shift_start`` is an aware ``pd.Timestamp`` (a string or naive value is read in the
    city's timezone); ``shift_end`` defaults to ``[shift] hours`` later. ``previous`` is
    the plan already published for an overlapping shift (CONTRACT section 9).
    ``time_limit`` (default ``[solver] time_limit_seconds``) bounds the search: a plan
    stopped by it says ``feasible`` and carries its proven bound. A plan that cannot
    satisfy the caps is returned with ``status == "infeasible"`` and ``message`` saying why.
    ``verify`` first refuses tables edited in place (`Inputs.check_unedited`); False
    when the caller made ``inputs`` itself and handed them to no one.

    ``warn``: say what the command line says on stderr before a plan is trusted, as a
    `rebalance.PlanWarning` (nobody eligible for the shift, most couriers ruled out by
    their windows, a shift start written in an hour the clocks skip or repeat); False
    where the caller says it itself.
    """
    call = "solve(inputs, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    if previous is not None:
        previous = as_plan(previous, call)
    if time_limit is not None and (
        isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real)
    ):  # numpy's numbers too (a sweep over np.arange)
        raise TypeError(
            f"time_limit must be seconds as a number (e.g. time_limit=30), got "
            f"{type(time_limit).__name__} {time_limit!r:.40}"
        )
    if time_limit is not None and not 0 < time_limit <= MAX_TIME_LIMIT_SECONDS:
        raise ValueError(
            f"time_limit must be seconds > 0 and at most {MAX_TIME_LIMIT_SECONDS:,.0f} "
            f"(a week), got {time_limit!r}"
        )
    if verify:
        inputs.check_unedited()
    if previous is not None:
        from .replan import check_previous

        check_previous(previous, config, pd.Index(inputs.zones["zone_id"]))
    problem = build_problem(inputs, config, shift_start, shift_end, previous=previous)
    plan = solve_problem(problem, time_limit=time_limit)
    # The model's arrays (the arcs: 46 MB at 5,000 zones) lie in malloc's heap among the
    # solve's temporaries; given back now, the writing and showing of the plan that come
    # next do not stack on them (5,000 zones / 1M couriers: see benchmarks/README.md).
    del problem
    release_memory()
    if previous is not None:
        from .replan import mark_since_previous

        plan = mark_since_previous(plan, previous)
    if warn:
        _warn(plan, inputs, config, shift_start)
    return plan


def _warn(plan: Plan, inputs: Inputs, config: Config, shift_start: Any) -> None:
    """`solve`'s warnings: a notebook planned a typo'd date ("0 of 0 couriers moved")
    or 02:30 on the night the clocks skip it without a word, where the command line
    warns."""
    from .eligibility import plan_warnings
    from .errors import warn_notes
    from .timeparse import clock_change_note

    said = [clock_change_note(shift_start, config.city.timezone)]
    if plan.status in {"optimal", "feasible"}:
        said += plan_warnings(inputs.couriers, plan, config, inputs.demand)
    warn_notes(said, stacklevel=3)  # _warn, solve, its caller


def solve_problem(p: ProblemData, *, time_limit: float | None = None) -> Plan:
    """Solve a built problem and turn its flows into named moves and zone actions."""
    if not isinstance(p, ProblemData):
        raise TypeError(
            "solve_problem(p): p must be the ProblemData that rebalance.build_problem(inputs, "
            f"config, shift_start) returns, got {type(p).__name__}"
        )
    if not p.with_moves:
        raise ValueError(
            "solve_problem(p): p was built with with_moves=False, so it has no moves to "
            "solve; build it again without that argument"
        )
    limit = p.config.solver.time_limit_seconds if time_limit is None else time_limit
    t0 = time.perf_counter()
    if p.slots == 1:
        status, entry, trans, cost, bound, stats, zone_value = _solve_one_slot(p)
    else:
        from .slotmodel import solve_slots  # here: a one-slot plan never needs it

        sol = solve_slots(p, limit)
        status, entry, trans, cost, bound = (
            sol.status,
            sol.entry,
            sol.trans,
            sol.objective,
            sol.bound,
        )
        stats = sol.stats
        zone_value = sol.duals if sol.duals is not None else np.zeros((0, p.slots))
    if status != "optimal":
        # A plan the time limit stopped may still carry the duals of the last LP solved;
        # they bound nothing about this unproven plan, and `explain` says values are
        # given for proven plans only: blank, not numbers that read as facts.
        zone_value = np.zeros((0, p.slots))
    solve_seconds = time.perf_counter() - t0
    base = _identity(p)
    timings = {"build": round(p.build_seconds, 4), "solve": round(solve_seconds, 4)}
    if status not in {"optimal", "feasible"}:
        if status == "timeout":
            message = (
                f"the solver found no plan within the time limit of {limit:g} s; raise "
                "[solver] time_limit_seconds (--time-limit at the command line)"
            )
            zones: tuple[str, ...] = ()
        else:
            message, zones = explain_infeasible(p)
            if p.on_the_way:  # counted where couriers.csv does not have them
                message += f" (previous plan: {p.previous_note})"
        return Plan(
            **base,
            status="infeasible",
            objective=None,
            best_bound=None,
            solve_seconds=round(solve_seconds, 4),
            kpis=_kpis_before(p),
            zones=pd.DataFrame(columns=ZONES_COLUMNS),
            moves=pd.DataFrame(columns=list(MOVES_COLUMNS)),
            message=message,
            infeasible_zones=zones,
            timings=timings,
        )
    moves, position, where = _name_moves(p, entry, trans)
    if status == "optimal" and p.slots > 1 and p.planned_before is not None:
        moves, position, where = _keep_previous_course(p, cost, moves, position, where)
    # a one-slot plan's entry flows are a number per arc (7.8 million at 10,000 zones):
    # not held through the pause lists and the explanation
    del entry, trans
    after = _counts(p, position)
    changes = _changed(p, moves)
    objective, parts = _objective(p, moves, after, changes)
    slots = _slot_table(p, moves, position, after, zone_value, where)
    zones, paused_orders = _zone_table(p, moves, after[:, 0], slots, zone_value, objective)
    units = p.units_per_minute
    constant = float((p.shortage_cost[:, None] * p.slot_required).sum()) / units
    solver_objective = cost / units + constant
    # The solver's costs are whole units (`model.SCALE` per minute): each courier short
    # or over in a (zone, slot) and each change carries at most half a unit of rounding
    # against the contract's objective recomputed here in floats (a move: its unit and
    # its travel minutes as moves.csv rounds them, 1e-3 min). Ignoring the first made
    # shortage_minutes = 7.77777 on the Paris sample a crash (exit 1, 857.499 against
    # 857.525); anything beyond them is a plan named wrong.
    off = float(np.abs(p.slot_required - after).sum())
    rounding = 0.5 * (off + p.slots * changes) / units + 1e-3 * (len(moves) + 1)
    if abs(solver_objective - objective) > rounding + 1e-6 * max(1.0, abs(objective)):
        raise AssertionError(
            f"named plan costs {objective:.3f}, the solver's optimum is {solver_objective:.3f}"
        )
    kpis = _kpis(p, moves, after, paused_orders)
    kpis["objective_breakdown"] = parts
    # in the solver's rounded costs; a bound above the objective (the rounding of a
    # shortage_minutes such as 7.77777) would read as a contradiction. Every term of the
    # objective is >= 0, so 0 is a bound too: a time limit that stops the slot model
    # before its first LP dual bound had reported -8,112.8 min on the Paris sample.
    best_bound = min(max(round(bound / units + constant, 3), 0.0), round(objective, 3))
    from .explain import facts

    explanation = facts(p, zones, moves, position, where)
    t_total = time.perf_counter() - t0
    timings["post"] = round(t_total - solve_seconds, 4)
    # how long each solver stage took goes with the timings, so plan.json's "solver" stays
    # the same for the same inputs
    timings.update({k: round(float(v), 4) for k, v in stats.items() if k.endswith("seconds")})
    return Plan(
        **base,
        status=status,
        objective=round(objective, 3),
        best_bound=best_bound,
        solve_seconds=round(solve_seconds, 4),
        kpis=kpis,
        zones=zones,
        moves=moves,
        slots=slots,
        slot_minutes=p.grid.minutes,
        message=p.previous_note,
        timings=timings,
        solver={k: v for k, v in stats.items() if not k.endswith("seconds")},
        explanation=explanation,
        under_way=p.under_way,
        arrived=p.arrived,
        roster=pa.array(p.eligible["courier_id"].array),
        presence=_presence(p),
    )


def _presence(p: ProblemData) -> tuple[np.ndarray, np.ndarray]:
    """`Plan.presence`: when each present courier logs on and off (couriers.csv's
    available_from and available_until, UTC nanoseconds), in the order of
    ``p.eligible``: views of its columns, no copy."""
    return utc_ns(p.eligible["available_from"]), utc_ns(p.eligible["available_until"])


def _solve_one_slot(
    p: ProblemData,
) -> tuple[str, np.ndarray, dict[str, np.ndarray], float, float, dict[str, Any], np.ndarray]:
    """One slot: the min-cost flow of CONTRACT section 2, solved exactly on the arcs that
    matter and proven optimal over every arc in range (`rebalance.flowgen`)."""
    sol = solve_flow(p)
    empty: dict[str, np.ndarray] = {
        k: np.zeros(0, np.int64) for k in ("com", "slot", "from", "to", "count")
    }
    empty["minutes"] = np.zeros(0)
    if sol.status != "optimal":
        return "infeasible", np.zeros(0), empty, 0.0, 0.0, {}, np.zeros((0, 1))
    stats: dict[str, Any] = {
        "method": "min-cost flow",
        "arcs": sol.arcs,
        "arcs_in_range": sol.arcs_in_range,
        "rounds": sol.rounds,
        **sol.seconds,
    }
    return "optimal", sol.flows, empty, float(sol.cost), float(sol.cost), stats, sol.zone_value


def _identity(p: ProblemData) -> dict[str, Any]:
    c = p.config
    # The slot length changes a plan only when the shift has several slots.
    sections = {"demand", "eligibility", "costs", "travel", "vehicles"}
    settings = c.model_dump(mode="json", include=sections | ({"shift"} if p.slots > 1 else set()))
    key = json.dumps(
        {
            "inputs": p.inputs.sha256,
            "city": c.city.name,
            "start": p.shift_start.isoformat(),
            "end": p.shift_end.isoformat(),
            "settings": settings,
            **({"previous": p.previous_plan_id} if p.previous_plan_id else {}),
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


class MoveIndex(NamedTuple):
    """Each move's courier (its row in ``p.eligible``), zones (positions in ``p.zone_ids``)
    and slot, in the order of the moves table."""

    row: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    slot: np.ndarray


def _name_moves(
    p: ProblemData, entry: np.ndarray, trans: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray, MoveIndex]:
    """Turn group and commodity flows into named couriers' moves and positions.

    Within a group (or a commodity's couriers in one zone), the couriers with the most
    time left in their window move first (ties by courier_id); destinations are filled
    in zone_id order. Deterministic. Returns the moves, each present courier's zone
    per slot (int32, -1 where absent), rows in the order of ``p.eligible``, and the moves as
    positions (`MoveIndex`).

    Ids are compared as numpy compares text (code points, trailing NULs ignored), by
    ranks: Arrow sorts a million courier ids in a tenth of the time numpy takes.
    """
    elig = p.eligible
    n, k = len(elig), p.slots
    until = utc_ns(elig["available_until"])  # a view of the column, no copy
    id_text = _id_text(elig["courier_id"])
    # positions in the frame's narrow integers (millions of rows): widened only where
    # they are multiplied, and in the moves (few)
    groups = elig["group"].to_numpy()
    first = elig["first"].to_numpy()
    last = elig["last"].to_numpy()
    zone = elig["zone_idx"].to_numpy(np.int32).copy()

    def preference(rows: np.ndarray) -> np.ndarray:
        """Ranks of ``rows`` (ascending positions) among themselves: most time left
        first, then courier_id (= np.lexsort((ids, -until)), stable sorts). Only the
        couriers that can take a flow are ranked: the order of a subset is the whole
        order restricted to it, and at 10 million couriers most never move."""
        by_id = _text_order(id_text.take(pa.array(rows, pa.int64())))
        order = by_id[np.argsort(-until[rows][by_id], kind="stable")]
        rank = np.empty(rows.size, dtype=np.int64)
        rank[order] = np.arange(rows.size)
        return rank

    zone_rank = _zone_rank(p)
    rows: list[tuple[np.ndarray, ...]] = []
    before = p.planned_before  # a re-plan: the previous plan's moves on these slots

    def sticky(at_slot: np.ndarray | int) -> np.ndarray | None:
        """Each courier's zone in the previous plan's move at ``at_slot`` (its own slot
        per courier, or one for all), -1 where it had none; None without any."""
        if before is None:
            return None
        slot, row, to = before
        want = at_slot[row] if isinstance(at_slot, np.ndarray) else at_slot
        hit = slot == want
        if not hit.any():
            return None
        out = np.full(n, -1, dtype=np.int64)
        out[row[hit]] = to[hit]
        return out

    # Entry moves, at each group's first slot.
    moving = np.flatnonzero(entry > 0)  # the few arcs with flow, stays dropped next
    moving = moving[p.arc_zone[moving] != p.group_zone[p.arc_group[moving]]]
    if moving.size:
        a_group, a_zone = p.arc_group[moving], p.arc_zone[moving]
        a_flow, a_min = entry[moving].astype(np.int64), minutes_of(p.arc_millis[moving])
        order = np.lexsort((zone_rank[a_zone], a_group))
        a_group, a_zone, a_flow, a_min = a_group[order], a_zone[order], a_flow[order], a_min[order]
        sends = np.zeros(len(p.group_size), dtype=bool)
        sends[a_group] = True
        keys = np.where(sends[groups], groups, -1)  # couriers of groups that send someone
        picked, dest, mins = _pick(
            keys, preference, a_group, a_zone, a_flow, a_min, sticky(first.astype(np.int64))
        )
        rows.append((picked, zone[picked], dest, mins, first[picked]))
        zone[picked] = dest
    if k == 1:  # every courier present is present in slot 0: no mask of millions
        position = zone.reshape(n, 1)
    else:
        # column-major: everything after reads and writes it a slot (column) at a time;
        # row-major, each column was a stride of k over every courier. At 10M couriers and
        # 8 slots, made in 0.6 s instead of 1.6 s, and its columns counted in 0.7 s
        # instead of 1.1 s.
        position = np.empty((n, k), dtype=np.int32, order="F")
        for s in range(k):
            position[:, s] = np.where((first <= s) & (last >= s), zone, -1)

    # Moves at later slot starts, commodity by commodity (vehicle, last slot).
    if trans["count"].size:
        n_zones = len(p.zone_ids)
        com_key = elig["vehicle_idx"].to_numpy(np.int64) * k + last
        com_keys = np.unique(p.group_vehicle * k + p.group_last)
        at_key = np.minimum(np.searchsorted(com_keys, com_key), max(com_keys.size - 1, 0))
        com_of = np.where(com_keys[at_key] == com_key, at_key, -1) if n else com_key
        for slot in np.unique(trans["slot"]).tolist():
            sel = trans["slot"] == slot
            t_com, t_from = trans["com"][sel], trans["from"][sel]
            t_to, t_count, t_min = trans["to"][sel], trans["count"][sel], trans["minutes"][sel]
            t_key = t_com * n_zones + t_from
            here = position[:, slot - 1]
            # only couriers of a (commodity, zone) that sends someone are ranked: at 10
            # million couriers ranking every one present took 1 s a slot, for ~100 moves
            sends = np.zeros(com_keys.size * n_zones, dtype=bool)
            sends[t_key] = True
            can = np.flatnonzero((here >= 0) & (last >= slot) & (com_of >= 0))
            can_key = com_of[can] * n_zones + here[can]
            sending = sends[can_key]
            key = np.full(n, -1, dtype=np.int64)
            key[can[sending]] = can_key[sending]
            order = np.lexsort((zone_rank[t_to], t_key))
            picked, dest, mins = _pick(
                key,
                preference,
                t_key[order],
                t_to[order],
                t_count[order],
                t_min[order],
                sticky(int(slot)),
            )
            rows.append((picked, here[picked], dest, mins, np.full(picked.size, slot)))
            for s in range(slot, k):
                upd = picked[last[picked] >= s]
                position[upd, s] = dest[last[picked] >= s]

    if rows:
        picked = np.concatenate([r[0] for r in rows])
        frm = np.concatenate([r[1] for r in rows])
        to = np.concatenate([r[2] for r in rows])
        mins = np.concatenate([r[3] for r in rows])
        at = np.concatenate([r[4] for r in rows]).astype(np.int64)
        frm = frm.astype(np.int64)
    else:
        picked = frm = to = at = np.zeros(0, np.int64)
        mins = np.zeros(0)
    moves, where = _moves_frame(p, picked, frm, to, mins, at, zone_rank)
    return moves, position, where


def _zone_rank(p: ProblemData) -> np.ndarray:
    """Each zone's rank in zone_id order as numpy orders the ids' text (equal texts
    equal ranks)."""
    return np.unique(p.zone_ids.astype(str), return_inverse=True)[1].reshape(-1)


def _moves_frame(
    p: ProblemData,
    picked: np.ndarray,
    frm: np.ndarray,
    to: np.ndarray,
    mins: np.ndarray,
    at: np.ndarray,
    zone_rank: np.ndarray,
) -> tuple[pd.DataFrame, MoveIndex]:
    """The moves table of couriers ``picked`` (rows of ``p.eligible``) moving from
    ``frm`` to ``to`` (zone positions) at slot ``at``, in moves.csv's order
    (``zone_rank``: `_zone_rank`)."""
    elig = p.eligible
    # = sort_values(["slot_start", "from_zone", "to_zone", "courier_id"], kind="stable");
    # a courier moving in several slots is one id: ranked once, its text made once
    movers, mover_of = np.unique(picked, return_inverse=True)
    mover_of = mover_of.reshape(-1)
    mover_ids = _id_text(elig["courier_id"].iloc[movers])
    id_rank = np.empty(movers.size, dtype=np.int64)
    id_rank[_text_order(mover_ids)] = np.arange(movers.size)
    order = np.lexsort((id_rank[mover_of], zone_rank[to], zone_rank[frm], at))
    picked, frm, to, mins, at = picked[order], frm[order], to[order], mins[order], at[order]
    starts = p.grid.starts.tz_convert(p.grid.timezone)
    # text columns as pandas infers them from Python strings ("str"), whatever the inputs'
    zone_text = pd.array(pd.Series(p.zone_ids, dtype=object).array, dtype="str")
    moves = pd.DataFrame(
        {
            "courier_id": pd.array(mover_ids.take(pa.array(mover_of[order])), dtype="str"),
            "vehicle": pd.array(elig["vehicle"].array.take(picked), dtype="str"),
            "from_zone": zone_text.take(frm),
            "to_zone": zone_text.take(to),
            "travel_minutes": np.round(mins.astype(float), 3),
            "slot_start": starts[at] if at.size else pd.DatetimeIndex([], tz=p.grid.timezone),
        }
    )
    if moves.empty:
        moves = pd.DataFrame({c: pd.Series(dtype=t) for c, t in MOVES_COLUMNS.items()})
        moves["slot_start"] = pd.Series(dtype=f"datetime64[ns, {p.grid.timezone}]")
    return moves, MoveIndex(picked, frm, to, at)


def _keep_previous_course(
    p: ProblemData,
    cost: float,
    moves: pd.DataFrame,
    position: np.ndarray,
    where: MoveIndex,
) -> tuple[pd.DataFrame, np.ndarray, MoveIndex]:
    """A re-plan's moves, positions and `MoveIndex`: the previous plan's course
    (`_previous_course`) where it costs no more than the proven optimum (``cost``, the
    solver's units without the constant), else the solver's plan as named.

    Section 9 charges a change of slot 0 only, so later moves may have equally good
    alternatives, and a re-plan picked one of them, telling couriers of later slots
    something else than the channel showed for nothing. The previous course is checked
    on the integers: kept only when its cost is at most the optimum, so it is optimal
    too and the bound proves it; the objective is the one the solver proved."""
    kept = _previous_course(p)
    if kept is None:
        return moves, position, where
    units, (row, frm, to, mins, slot) = kept
    optimum = round(cost) + int((p.shortage_cost[:, None] * p.slot_required).sum())
    if units > optimum:
        return moves, position, where
    # the positions of the couriers either plan moves, again from where they enter
    elig = p.eligible
    redo = np.union1d(where.row, row)
    first = elig["first"].to_numpy()[redo, None]
    last = elig["last"].to_numpy()[redo, None]
    span = np.arange(p.slots)
    present = (first <= span) & (span <= last)
    grid = np.where(present, elig["zone_idx"].to_numpy()[redo, None], -1)
    at = np.searchsorted(redo, row)
    for s in np.unique(slot).tolist():  # the slots, in order: a courier's moves chain
        here = slot == s
        grid[at[here], s:] = np.where(present[at[here], s:], to[here, None], -1)
    position[redo] = grid  # the solver's positions, no longer used
    kept_moves, kept_where = _moves_frame(p, row, frm, to, mins, slot, _zone_rank(p))
    return kept_moves, position, kept_where


def _previous_course(
    p: ProblemData,
) -> tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None:
    """A re-plan's candidate that keeps the previous plan: every courier where the
    previous plan has them, its moves on this plan's slots (``p.planned_before``) made
    where the courier is present; None when it breaks a cap.

    Returns its cost in the solver's units (the objective of CONTRACT sections 7 and 9
    times `ProblemData.units_per_minute`, computed as the slot model prices it: an entry
    move's minutes in whole thousandths, the move's cost, ``change_minutes`` where the
    slot-0 zone is not the instruction, shortage and surplus per (zone, slot)) and its
    moves as (row of ``p.eligible``, from, to, travel minutes, slot). Only the couriers
    with a planned move are visited (at 10 million couriers, a few thousand); None too
    when a move is not allowed by these inputs, or a courier has two in one slot."""
    before = p.planned_before
    if before is None:
        return None
    elig = p.eligible
    k, n_zones = p.slots, len(p.zone_ids)
    # the frame's narrow columns, read at the few rows with a planned move only
    first_of, last_of = elig["first"].to_numpy(), elig["last"].to_numpy()
    slot, row, to = (np.asarray(a, np.int64) for a in before)
    present = (first_of[row] <= slot) & (slot <= last_of[row])
    slot, row, to = slot[present], row[present], to[present]
    first, last = first_of[row].astype(np.int64), last_of[row].astype(np.int64)
    vehicle = elig["vehicle_idx"].to_numpy()[row].astype(np.int64)
    # each move starts where the courier enters, or where its move before ended
    by_row = np.lexsort((slot, row))
    same = row[by_row][1:] == row[by_row][:-1]
    if (same & (slot[by_row][1:] == slot[by_row][:-1])).any():
        return None  # a hand-edited plan: two moves of one courier at one start
    frm = elig["zone_idx"].to_numpy()[row].astype(np.int64)
    frm[by_row[1:][same]] = to[by_row[:-1][same]]
    mins = np.full(row.size, np.nan)
    for v in np.unique(vehicle).tolist():
        sel = np.flatnonzero((vehicle == v) & (frm != to))
        if not sel.size:
            continue
        m = p.moves[v]
        a = frm[sel]
        lo, hi = m.start[a], m.start[a + 1]
        span = hi - lo
        idx = np.repeat(lo, span) + (
            np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
        )
        keys = m.origin[idx] * n_zones + m.dest[idx]
        keyed = np.argsort(keys, kind="stable")
        want = a * n_zones + to[sel]
        at = np.minimum(np.searchsorted(keys[keyed], want), max(keys.size - 1, 0))
        found = keys[keyed][at] == want if keys.size else np.zeros(sel.size, dtype=bool)
        mins[sel[found]] = m.minutes[idx[keyed[at[found]]]]
    if ((frm != to) & np.isnan(mins)).any():  # a move these inputs do not allow
        return None
    move = frm != to
    slot, row, frm, to, mins = slot[move], row[move], frm[move], to[move], mins[move]
    first, last = first[move], last[move]
    entry = slot == first
    mins[entry] = minutes_of(millis_of(mins[entry]))
    # couriers per (zone, slot): nobody moving, then each move's courier taken from its
    # from_zone and put in its to_zone from its slot to its last (a courier's moves chain)
    n_zones_k = (n_zones, k + 1)
    delta = np.zeros(n_zones_k, dtype=np.int64)
    np.add.at(delta, (frm, slot), -1)
    np.add.at(delta, (frm, last + 1), 1)
    np.add.at(delta, (to, slot), 1)
    np.add.at(delta, (to, last + 1), -1)
    after = p.slot_before + np.cumsum(delta, axis=1)[:, :k]
    cap = p.cap_int
    if ((cap[:, None] >= 0) & (after > cap[:, None])).any():
        return None
    required = p.slot_required
    units = int(p.move_cost(mins).sum())
    units += int((p.shortage_cost[:, None] * np.maximum(required - after, 0)).sum())
    units += p.surplus_cost * int(np.maximum(after - required, 0).sum())
    # changes of the couriers present in slot 0 (`changes_instruction`): where they
    # enter, then, for the few who move at slot 0, where they go instead
    prev, zone = elig["prev_idx"].to_numpy(), elig["zone_idx"].to_numpy()
    present = elig["first"].to_numpy() == 0
    moved, dest = row[slot == 0], to[slot == 0]
    changed = int((present & changes_instruction(prev, zone)).sum())
    changed -= int((present[moved] & changes_instruction(prev[moved], zone[moved])).sum())
    changed += int((present[moved] & changes_instruction(prev[moved], dest)).sum())
    units += p.change_cost * changed
    return units, (row, frm, to, mins, slot)


def _text_order(text: pa.Array) -> np.ndarray:
    """The stable sort order of Arrow text (code points): the identity when it is sorted
    already, as exports listing ids in order are (a comparison instead of a sort)."""
    if _is_sorted(text):
        return np.arange(len(text), dtype=np.int64)
    return np.asarray(pc.sort_indices(text).to_numpy(), dtype=np.int64)


def _is_sorted(text: pa.Array) -> bool:
    """Whether Arrow text is in (non-decreasing) code point order."""
    n = len(text)
    if n < 2:
        return True
    pairs = pc.less_equal(text.slice(0, n - 1), text.slice(1))
    return bool(pc.all(pairs, skip_nulls=False).as_py())  # a null: not known to be sorted


def _id_text(ids: pd.Series) -> pa.Array:
    """Ids as Arrow text, as numpy's ``astype(str)`` holds them (trailing NULs dropped)."""
    text = pa.array(ids.array) if len(ids) else pa.array([], pa.large_string())
    if len(text) and pc.any(pc.ends_with(text, "\x00")).as_py():
        text = pc.utf8_rtrim(text, characters="\x00")
    return text


def _pick(
    keys: np.ndarray,
    preference: Callable[[np.ndarray], np.ndarray],
    a_key: np.ndarray,
    a_zone: np.ndarray,
    a_flow: np.ndarray,
    a_min: np.ndarray,
    sticky: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which couriers take which flows: ``a_flow`` couriers of key ``a_key`` go to ``a_zone``.

    Couriers with key ``keys`` (-1 = not available) are taken in preference order
    (``preference(rows)``: distinct ranks of those rows); flows must be sorted by key.
    ``sticky`` (a re-plan): each courier's zone in the previous plan's move at this
    slot, -1 for none; those couriers take a seat to that zone first, so a re-plan that
    changes nothing for a route names the couriers it named before (two couriers of one
    key are alike to the model, and a swap read as new instructions for both).
    """
    dest_zone = np.repeat(a_zone, a_flow)
    dest_min = np.repeat(a_min, a_flow)
    dest_key = np.repeat(a_key, a_flow)
    if sticky is not None and dest_key.size:
        picked = _sticky_seats(keys, preference, dest_key, dest_zone, sticky)
        rest = picked < 0
        if rest.any():
            free = keys.copy()
            free[picked[~rest]] = -1
            picked[rest] = _seats(free, preference, dest_key[rest])
    else:
        picked = _seats(keys, preference, dest_key)
    if not np.array_equal(keys[picked], dest_key):
        raise AssertionError("flows move more couriers than a zone holds")
    return picked, dest_zone, dest_min


def _sticky_seats(
    keys: np.ndarray,
    preference: Callable[[np.ndarray], np.ndarray],
    dest_key: np.ndarray,
    dest_zone: np.ndarray,
    sticky: np.ndarray,
) -> np.ndarray:
    """For each seat (key, zone), a courier of that key whose previous move at this slot
    went to that zone (in preference order), or -1."""
    picked = np.full(dest_key.size, -1, dtype=np.int64)
    ours = np.flatnonzero((keys >= 0) & (sticky >= 0))
    if not ours.size:
        return picked
    width = int(max(dest_zone.max(), sticky[ours].max())) + 1
    seat = dest_key.astype(np.int64) * width + dest_zone.astype(np.int64)
    theirs = keys[ours].astype(np.int64) * width + sticky[ours].astype(np.int64)
    order = np.lexsort((preference(ours), theirs))
    ours, theirs = ours[order], theirs[order]
    by_seat = np.argsort(seat, kind="stable")
    sorted_seat = seat[by_seat]
    at = np.searchsorted(theirs, sorted_seat, side="left") + _rank_within(sorted_seat)
    inside = at < theirs.size
    ok = np.zeros(sorted_seat.size, dtype=bool)
    ok[inside] = theirs[at[inside]] == sorted_seat[inside]
    picked[by_seat[ok]] = ours[at[ok]]
    return picked


def _seats(
    keys: np.ndarray, preference: Callable[[np.ndarray], np.ndarray], dest_key: np.ndarray
) -> np.ndarray:
    """The courier of each seat (``dest_key``, sorted): the couriers of each key in
    preference order."""
    rank_in_key = _rank_within(dest_key)
    candidates = np.flatnonzero(keys >= 0)
    c_keys, c_rank = keys[candidates].astype(np.int64), preference(candidates)
    span = max(candidates.size, 1)
    if c_keys.size and int(c_keys.max()) < 2**62 // span:
        # = the lexsort below: ranks are distinct, so one key sorts the same
        ordered = candidates[np.argsort(c_keys * span + c_rank)]
    else:
        ordered = candidates[np.lexsort((c_rank, c_keys))]
    sorted_keys = keys[ordered]
    starts = np.searchsorted(sorted_keys, dest_key, side="left")
    at = np.minimum(starts + rank_in_key, max(ordered.size - 1, 0))
    return ordered[at] if ordered.size else np.zeros(dest_key.size, dtype=np.int64)


def _rank_within(sorted_keys: np.ndarray) -> np.ndarray:
    """Each entry's place among the equal keys before it (0, 1, ...) in sorted keys."""
    return np.arange(sorted_keys.size) - np.searchsorted(sorted_keys, sorted_keys, side="left")


def _counts(p: ProblemData, position: np.ndarray) -> np.ndarray:
    """Couriers per (zone, slot) after the plan."""
    n_zones, k = len(p.zone_ids), p.slots
    out = np.zeros((n_zones, k), dtype=np.int64)
    for s in range(k):
        col = position[:, s]
        out[:, s] = np.bincount(col[col >= 0], minlength=n_zones)
    return out


def _slot_table(
    p: ProblemData,
    moves: pd.DataFrame,
    position: np.ndarray,
    after: np.ndarray,
    zone_value: np.ndarray | None,
    where: MoveIndex,
) -> pd.DataFrame:
    """slots.csv: one row per (zone, slot) (CONTRACT section 7); ``where``: the moves as
    positions."""
    n_zones, k = len(p.zone_ids), p.slots
    starts = p.grid.starts.tz_convert(p.grid.timezone)
    moved_in = np.bincount(where.dst * k + where.slot, minlength=n_zones * k).reshape(n_zones, k)
    moved_out = np.bincount(where.src * k + where.slot, minlength=n_zones * k).reshape(n_zones, k)
    elig = p.eligible
    entry_zone = elig["zone_idx"].to_numpy(np.int64)
    if k == 1:
        # every courier present is present in slot 0, their first and last: counted by
        # zone alone (at 10M couriers five 55 MB temporaries fewer)
        logged_on = np.bincount(entry_zone, minlength=n_zones).reshape(n_zones, 1)
        logged_off = np.bincount(position[:, 0], minlength=n_zones).reshape(n_zones, 1)
    else:
        first = elig["first"].to_numpy(np.int64)
        last = elig["last"].to_numpy(np.int64)
        cells = n_zones * k
        logged_on = np.bincount(entry_zone * k + first, minlength=cells).reshape(n_zones, k)
        off_zone = (
            position[np.arange(len(elig)), last].astype(np.int64) if len(elig) else entry_zone
        )
        logged_off = np.bincount(off_zone * k + last, minlength=cells).reshape(n_zones, k)
    required = p.slot_required
    marginal = (
        np.full((n_zones, k), np.nan)
        if zone_value is None or zone_value.shape != (n_zones, k)
        else zone_value / p.units_per_minute
    )
    if k > 1:  # a zone capped at 0 takes no courier in any slot: no value to give
        marginal[p.cap == 0] = np.nan
    frame = pd.DataFrame(
        {
            "zone_id": np.repeat(p.zone_ids.astype(str), k),
            "slot_start": starts[np.tile(np.arange(k), n_zones)],
            "slot_end": (starts + p.grid.length)[np.tile(np.arange(k), n_zones)],
            "demand_orders_per_hour": np.round(p.slot_demand, 3).ravel(),
            "required_couriers": required.ravel(),
            "couriers_before": p.slot_before.ravel(),
            "couriers_after": after.ravel(),
            "moved_in": moved_in.ravel(),
            "moved_out": moved_out.ravel(),
            "logged_on": logged_on.ravel(),
            "logged_off": logged_off.ravel(),
            "shortage": np.maximum(required - after, 0).ravel(),
            "surplus": np.maximum(after - required, 0).ravel(),
            "marginal_minutes": (np.round(marginal, 3) + 0.0).ravel(),  # + 0.0: no -0.0
        }
    )
    return frame


def _zone_table(
    p: ProblemData,
    moves: pd.DataFrame,
    after: np.ndarray,
    slots: pd.DataFrame,
    zone_value: np.ndarray | None,
    objective: float,
) -> tuple[pd.DataFrame, float]:
    """zones.csv: slot 0, what to do now (CONTRACT sections 4 and 7)."""
    k = p.slots
    first_slot = slots.iloc[::k] if k > 1 else slots
    before = p.couriers_before
    moved_in = first_slot["moved_in"].to_numpy(np.int64)
    moved_out = first_slot["moved_out"].to_numpy(np.int64)
    required = p.required
    shortage = np.maximum(required - after, 0)
    surplus = np.maximum(after - required, 0)
    action = np.where(
        shortage > 0,
        "short",
        np.where(moved_in > 0, "receive", np.where(moved_out > 0, "send", "ok")),
    )
    pause, pause_names, paused_orders = _pause_lists(p, after, shortage)
    marginal = (
        np.full(len(p.zone_ids), np.nan)
        if zone_value is None or zone_value.size == 0
        else zone_value.sum(axis=1) / p.units_per_minute
    )
    if k > 1:
        # The slot model's value is its LP's dual sum, an upper bound on the saving
        # (`rebalance.explain`), and duals of a degenerate LP can be anything up to the
        # costs: 50,050 min of a 50-min plan with no demand at all. Every cost is >= 0,
        # so no courier saves more than the whole objective: a bound as valid, and
        # tighter. A zone capped at 0 cannot take the courier at all: blank, as in one
        # slot.
        marginal = np.minimum(marginal, max(objective, 0.0))
        marginal[p.cap == 0] = np.nan
    zones = pd.DataFrame(
        {
            "zone_id": p.zone_ids.astype(str),
            "name": p.inputs.zones["name"].to_numpy(dtype=object).astype(str),
            "open_restaurants": p.open_restaurants.astype(np.int64),
            "demand_orders_per_hour": np.round(p.demand, 3),
            "required_couriers": required,
            "couriers_before": before,
            "couriers_after": after,
            "moved_in": moved_in,
            "moved_out": moved_out,
            "shortage": shortage,
            "surplus": surplus,
            "action": action,
            "pause_restaurants": pause,
            "paused_orders_per_hour": np.round(paused_orders, 3),
            "pause_restaurant_names": pause_names,
            "marginal_minutes": np.round(marginal, 3) + 0.0,  # + 0.0: no -0.0 in the CSV
        }
    )
    return zones, float(paused_orders.sum())


def _pause_lists(
    p: ProblemData, after: np.ndarray, shortage: np.ndarray
) -> tuple[Any, Any, np.ndarray]:
    """For each short zone, the open restaurants to pause losing the fewest orders.

    Keeping a set of restaurants needs ceil(kept / opch) <= couriers_after couriers,
    i.e. kept <= couriers_after * opch: keep the most orders under that (a knapsack);
    pause the rest. Restaurants expecting no orders never need pausing.

    Returns the ids and the names, ";"-joined, per zone ("" for none) as pandas text
    arrays, and the orders lost per zone.
    """
    n = len(p.zone_ids)
    lost = np.zeros(n)
    short = np.flatnonzero(shortage > 0)
    if short.size == 0:
        return _no_lists(n), _no_lists(n), lost
    rest = p.inputs.restaurants
    opch = p.config.demand.orders_per_courier_hour
    # Arrow kernels: 2.5 million restaurants as Python objects cost seconds.
    is_open = rest["status"].eq("open").to_numpy(dtype=bool)
    rz = p.restaurant_zone  # found once, by build_problem
    is_short = np.zeros(n, dtype=bool)
    is_short[short] = True
    all_orders = p.restaurant_rate0  # slot 0's rate: what to pause now
    rows = np.flatnonzero(is_open & (all_orders > 0) & is_short[rz])
    if rows.size == 0:
        return _no_lists(n), _no_lists(n), lost
    # Numbers only until the lists are joined. Rows by zone, then restaurant_id (Arrow's
    # sort, code point order like str): the order the lists are written in. A stable sort
    # of small integers is a radix sort in numpy.
    ids = pa.array(rest["restaurant_id"].array)
    # rows keep the table's order: a table listed by id needs neither the take nor a sort
    # (Arrays here are a number per open restaurant of a short zone, ~1M at 10,000 zones:
    # no copy is made that is not needed, as this step can be the plan's peak.)
    if not _is_sorted(ids):
        rows = rows[_text_order(ids.take(pa.array(rows)))]
    rows = rows[np.argsort(rz[rows].astype(index_dtype(n)), kind="stable")]
    zone_of, orders = rz[rows], all_orders[rows]
    # At least one unit: a restaurant expecting 1e-6 orders still needs pausing when the
    # zone has no courier left.
    all_weights = np.rint(orders * SCALE)
    np.maximum(all_weights, 1, out=all_weights)
    all_weights = all_weights.astype(np.int64)
    bounds = np.flatnonzero(np.r_[True, zone_of[1:] != zone_of[:-1], True])
    starts = bounds[:-1]
    zones = zone_of[starts]
    totals = np.add.reduceat(all_weights, starts).tolist()
    # Keeping demand d needs ceil(d / opch) <= couriers_after, i.e. d <= after * opch:
    # pause at least the excess, as little beyond it as possible.
    keep_limits = np.floor(after[zones] * opch * SCALE + 1e-6).tolist()
    chosen: list[np.ndarray] = []
    listed = np.zeros(n, dtype=np.int64)  # restaurants paused per zone
    for z, start, end, total, keep in zip(
        zones.tolist(), starts.tolist(), bounds[1:].tolist(), totals, keep_limits, strict=True
    ):
        deficit = total - int(keep)
        if deficit <= 0:
            continue  # nothing to pause
        if deficit >= total:
            picked = np.arange(start, end)  # everything, and maybe still not enough
        else:
            # The knapsack (`min_weight_cover`) sees the zone's restaurants by expected
            # orders (largest first), then restaurant_id: its tie rule picks the smaller
            # id. Weights follow orders, so that is its own order (largest first).
            # (minus orders ascending: largest first)
            by_orders = np.argsort(-orders[start:end], kind="stable")
            cover = cover_largest_first(all_weights[start:end][by_orders].tolist(), deficit)
            picked = start + np.sort(by_orders[cover])  # listed by restaurant_id
        chosen.append(picked)
        listed[z] = picked.size
        lost[z] = float(orders[picked].sum())
    if not chosen:
        return _no_lists(n), _no_lists(n), lost
    # Each zone's list joined by Arrow, zones without one as empty lists: the columns
    # stay Arrow text (22 MB of lists at 10,000 zones, no Python string per zone), made
    # a block of zones at a time (`_PAUSE_BLOCK` restaurants): the restaurants' ids and
    # names taken, cleaned and joined whole were 125 MB of temporaries there.
    every = rows[np.concatenate(chosen)]  # zone by zone, in zone order (rows are)
    offsets = np.r_[0, np.cumsum(listed)]
    cut = np.searchsorted(offsets, np.arange(_PAUSE_BLOCK, offsets[-1], _PAUSE_BLOCK))
    bounds = np.unique(np.r_[0, cut, n]).tolist()

    def joined(column: pd.Series, *, names: bool = False) -> Any:
        text = pa.array(column.array)
        blocks = []
        for a, b in pairwise(bounds):
            lo, hi = int(offsets[a]), int(offsets[b])
            values = text.take(pa.array(every[lo:hi]))
            if isinstance(values, pa.ChunkedArray):  # text read in several blocks
                values = values.combine_chunks()
            if names:  # ";" separates the list, so a name may not carry one
                values = pc.replace_substring(values, ";", ",")
            values = values.cast(pa.large_string())
            lists = pa.LargeListArray.from_arrays(pa.array(offsets[a : b + 1] - lo), values)
            blocks.append(pc.binary_join(lists, pa.scalar(";", pa.large_string())))
        return pd.array(pa.chunked_array(blocks, pa.large_string()), dtype="str")

    return joined(rest["restaurant_id"]), joined(rest["name"], names=True), lost


#: Restaurants whose ids and names are joined into pause lists at a time.
_PAUSE_BLOCK = 1 << 16


def _no_lists(n: int) -> Any:
    """A text column of ``n`` empty pause lists."""
    return pd.array(pa.array([""] * n, pa.large_string()), dtype="str")


def _objective(
    p: ProblemData, moves: pd.DataFrame, after: np.ndarray, changes: int
) -> tuple[float, dict[str, float]]:
    """The objective of CONTRACT sections 7 and 9 recomputed from the named plan;
    ``changes``: its couriers with a new instruction (`_changed`)."""
    c = p.config.costs
    w = 1.0 / p.slots  # L / H
    move = float(moves["travel_minutes"].sum()) + c.move_fixed_minutes * len(moves)
    required = p.slot_required
    short = float(
        (w * c.shortage_minutes * p.priority[:, None] * np.maximum(required - after, 0)).sum()
    )
    surplus = float(w * c.surplus_minutes * np.maximum(after - required, 0).sum())
    change = c.change_minutes * changes
    parts = {
        "move_minutes": round(move, 3),
        "shortage_minutes": round(short, 3),
        "surplus_minutes": round(surplus, 3),
    }
    if p.previous_plan_id is not None:
        parts["change_minutes"] = round(change, 3)
    return move + short + surplus + change, parts


def _changed(p: ProblemData, moves: pd.DataFrame) -> int:
    """Couriers present in slot 0 whose slot-0 destination differs from their instruction."""
    elig = p.eligible
    prev = elig["prev_idx"].to_numpy(np.int64)
    if not (prev >= 0).any():
        return 0
    dest = elig["zone_idx"].to_numpy(np.int64).copy()
    if len(moves):
        at0 = moves[moves["slot_start"] == p.grid.starts[0]]
        row = pd.Index(elig["courier_id"].astype(str)).get_indexer(at0["courier_id"].astype(str))
        dest[row] = pd.Index(p.zone_ids).get_indexer(at0["to_zone"])
    return int(((prev >= 0) & (dest != prev)).sum())


def _coverage(required: np.ndarray, couriers: np.ndarray) -> float:
    need = int(required.sum())
    return 1.0 if need == 0 else round(float(np.minimum(required, couriers).sum()) / need, 6)


def _kpis_before(p: ProblemData) -> dict[str, Any]:
    """What is known without a plan: supply, need and coverage as things stand."""
    before = p.slot_before
    required = p.slot_required
    present0 = int((p.eligible["first"] == 0).sum())
    return {
        "eligible_couriers": len(p.eligible),
        "ineligible_couriers": int(len(p.inputs.couriers) - len(p.eligible)),
        "present_at_start": present0,
        "required_couriers": int(p.required.sum()),
        "shortage_before": int(np.maximum(p.required - before[:, 0], 0).sum()),
        "coverage_before": _coverage(required, before),
        "zones": len(p.zone_ids),
        "zones_short_before": int((p.required > before[:, 0]).sum()),
    }


def _kpis(
    p: ProblemData, moves: pd.DataFrame, after: np.ndarray, paused_orders: float
) -> dict[str, Any]:
    """The plan's KPIs: what was known before planning, then what the plan achieves.

    ``shortage``, ``surplus`` and ``zones_short`` are slot 0's (what to do now);
    ``coverage`` and ``coverage_before`` are over every (zone, slot).
    """
    required = p.slot_required
    kpis = {
        **_kpis_before(p),
        "moved_couriers": int(moves["courier_id"].nunique()) if len(moves) else 0,
        "moves": len(moves),
        "travel_minutes": round(float(moves["travel_minutes"].sum()), 3),
        "shortage": int(np.maximum(p.required - after[:, 0], 0).sum()),
        "surplus": int(np.maximum(after[:, 0] - p.required, 0).sum()),
        "coverage": _coverage(required, after),
        "zones_short": int((p.required > after[:, 0]).sum()),
        "paused_orders_per_hour": round(paused_orders, 3),
    }
    if p.slots > 1:
        kpis["shortage_all_slots"] = int(np.maximum(required - after, 0).sum())
        kpis["shortage_all_slots_before"] = int(np.maximum(required - p.slot_before, 0).sum())
    if p.previous_plan_id is not None:
        kpis["changed_couriers"] = _changed(p, moves)
        kpis["on_the_way"] = p.on_the_way
    return kpis


def zone_values(p: ProblemData, net: dict[str, np.ndarray], flows: np.ndarray) -> np.ndarray:
    """One slot: the exact decrease of the optimum with one more courier fixed in each zone.

    Adding a unit of supply at a zone node (and of demand at the sink) changes an
    optimal flow's cost by the shortest-path distance from that node to the sink in the
    residual network (no negative cycles at an optimum). Computed for every zone at once
    by Bellman-Ford towards the sink (`rebalance.flowgen.residual_distances`), in exact
    integer costs. Shape (zones, 1); NaN where no path exists (the zone is at its cap and
    nobody there can leave). ``net`` and ``flows`` are any optimal flow's network and
    flows; plans get the same values from the arc generation's last round
    (`rebalance.flowgen`). Checked against re-solving with one more courier that cannot
    move in tests/test_explain.py.
    """
    dist, _ = residual_distances(p, net, flows)
    n_groups = len(p.group_size)
    d = dist[n_groups : n_groups + len(p.zone_ids)]
    return np.where(np.isfinite(d), -d, np.nan)[:, None]
