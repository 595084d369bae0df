"""The shift in slots as an exact integer program (CONTRACT section 7).

Formulation
-----------
Couriers who log off after the same slot and ride the same vehicle are interchangeable
once present: they can reach the same zones at the same cost, and they leave at the
same time. Such a class is a *commodity* ``c = (vehicle, last slot)``. Couriers of one
commodity who log on in different slots or zones are still the same commodity: each
*entry group* ``g`` (vehicle, last, first slot, entry zone, previous instruction)
injects its couriers at its first slot. Couriers who log off at different times can
*not* be merged (a flow could then hand one courier's remaining slots to another), so
the model is a multi-commodity flow over a time-expanded zone graph::

    entry group g --x[g,b]--> D(c, b, first) --y[c,k,a,b]--> D(c, b', k) ... D(c, ., last)

``x[g,b]``: couriers of g who start their first slot in zone b (b = entry zone: stay;
else a move, travel + fixed; + change_minutes when b is not what a previous plan told
them for now). ``y[c,k,a,b]``: couriers of c in a during slot k-1 and in b during
slot k (a = b: stay, free; else one move at slot k's start). n(z,k), the couriers in z
during k, is the inflow into D(., z, k). Each (zone, slot) splits n into ``covered``
(at most min(required, cap), each saving shortage x priority x L/H) and ``surplus``
(the rest up to the cap, each costing surplus x L/H). This is exactly the objective
of section 7 (minus the constant ``sum shortage x priority x required x L/H``).

Why the answer is proven optimal
--------------------------------
The number of x and y columns grows as groups x neighbours and commodities x slots x
moves (tens of millions in a 1,000-zone city), so the LP relaxation is solved over
courier *paths* by column generation (`rebalance.slotpaths`): its optimum ``L`` equals
the arc form's LP optimum, its duals give node potentials of the arc form, and its lower
bound is computed from the duals (weak duality), not read from the solver.

- If that LP optimum is integral it *is* an optimal plan: its cost equals the bound.
- The LP is not always integral (caps and staggered log-offs make half-integral
  vertices). Then the LP's whole couriers are kept on their paths and the few couriers
  left over re-choose among their groups' paths in a small integer program (SCIP); a
  plan found so that meets the bound is optimal like any other (at 1,000 zones this is
  what happens, in a tenth of a second). Otherwise an integer program (SCIP, to a zero
  gap) is solved over every path priced in, giving a plan of cost ``U``; if ``U`` meets
  the bound it is optimal. If not,
  in the arc form any plan using a column of reduced cost ``d`` costs at least ``L + d``
  (LP duality with the potentials above), so only columns with ``d <= U - L`` can lead
  to a better plan: every stay, the plan's own arcs and those columns go into an integer
  program over arcs, whose optimum is optimal for the full model.

While the LP is not yet optimal, the weak-duality bound of the last duals is still a
valid lower bound, so a time limit that stops the solve early reports a true bound with
its best plan (or the stay-put plan when the caps allow it).

Costs are integers (see `rebalance.model`), so bounds are rounded up to whole units.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .model import ProblemData, arc_cost_dtype, arc_costs
from .solver import linear_program

if TYPE_CHECKING:
    from collections.abc import Callable

    import scipy.sparse as sp

__all__ = ["SlotSolution", "solve_slots"]

_TOL = 1e-6


@dataclass
class SlotSolution:
    """An integer solution of the slot model, or why there is none.

    ``entry``: couriers per universe entry arc (``p.arc_*``); ``trans``: list of
    (commodity, slot, from zone, to zone, couriers) arrays of moves (stays omitted);
    ``status`` 'optimal', 'feasible' or 'infeasible'; ``objective``/``bound`` in cost
    units (the flow part, without the constant).
    """

    status: str
    entry: np.ndarray
    trans: dict[str, np.ndarray]
    objective: float
    bound: float
    stats: dict[str, float | int] = field(default_factory=dict)
    duals: np.ndarray | None = None  # (zones, slots) value of one more courier, cost units


class _Model:
    """Indexing of rows and columns of the slot model for one problem."""

    def __init__(self, p: ProblemData):
        self.p = p
        self.K = k = p.slots
        self.Z = z = len(p.zone_ids)
        self.G = len(p.group_size)
        com_key = p.group_vehicle * k + p.group_last
        self.com_keys, self.group_com = np.unique(com_key, return_inverse=True)
        self.C = len(self.com_keys)
        self.com_vehicle = self.com_keys // k
        self.com_hi = self.com_keys % k
        lo = np.full(self.C, k, dtype=np.int64)
        np.minimum.at(lo, self.group_com, p.group_first)
        self.com_lo = lo
        self.com_size = np.bincount(self.group_com, weights=p.group_size, minlength=self.C)
        # Rows: G entry rows, then N(c, z, k) for lo_c <= k < hi_c, then M(z, k).
        span = self.com_hi - self.com_lo
        self.n_base = self.G + np.concatenate([[0], np.cumsum(span * z)[:-1]]).astype(np.int64)
        self.m_base = self.G + int((span * z).sum())
        self.rows = self.m_base + z * k
        req = p.slot_required
        cap = p.cap_int
        big = np.iinfo(np.int64).max // 4
        cap_full = np.where(cap[:, None] >= 0, cap[:, None], big) * np.ones((1, k), np.int64)
        self.cov_hi = np.minimum(req, cap_full)
        self.sur_hi = np.where(cap[:, None] >= 0, cap_full - self.cov_hi, np.inf)
        self.capped = np.repeat(cap >= 0, k).reshape(z, k)
        self.short_cost = np.repeat(p.shortage_cost[:, None], k, axis=1)
        # Upper bound on any plan's cost: a penalty above it makes cap overflow a last resort.
        worst_move = max(
            (int(p.move_cost(np.array([m.minutes.max()]))[0]) for m in p.moves if m.minutes.size),
            default=0,
        )
        total = int(p.group_size.sum())
        self.overflow_cost = float(
            1
            + total * k * (worst_move + p.change_cost)
            + int((self.short_cost * req).sum())
            + p.surplus_cost * total * k
        )

    # ----------------------------------------------------------------- row helpers
    def n_row(self, c: np.ndarray, zone: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """Row of N(c, zone, slot), -1 where slot is the commodity's last (no row)."""
        has = slot < self.com_hi[c]
        row = self.n_base[c] + (slot - self.com_lo[c]) * self.Z + zone
        return np.where(has, row, -1)

    def m_row(self, zone: np.ndarray, slot: np.ndarray) -> np.ndarray:
        return self.m_base + slot * self.Z + zone

    def potential(
        self, duals: np.ndarray, c: np.ndarray, zone: np.ndarray, slot: np.ndarray
    ) -> np.ndarray:
        row = self.n_row(c, zone, slot)
        return np.where(row >= 0, duals[np.maximum(row, 0)], 0.0)


@dataclass
class _Columns:
    """Columns of the restricted model: entry arcs and transitions."""

    entry: np.ndarray  # indices into p.arc_* (universe of entry arcs)
    t_com: np.ndarray
    t_slot: np.ndarray
    t_from: np.ndarray
    t_to: np.ndarray
    t_minutes: np.ndarray
    t_move: np.ndarray  # index into p.moves[vehicle], -1 for a stay


def solve_slots(p: ProblemData, time_limit: float) -> SlotSolution:
    """Solve the slot model to proven optimality, or to the time limit (see module doc)."""
    from .slotpaths import PathMaster

    t0 = time.perf_counter()
    deadline = t0 + time_limit
    m = _Model(p)
    entry_cost = _entry_costs(p)
    master = PathMaster(
        p,
        m.group_com,
        m.com_vehicle,
        m.com_lo,
        m.com_hi,
        m.cov_hi,
        m.sur_hi,
        m.short_cost,
        entry_cost,
    )
    master.run(deadline)
    stats = master.stats
    stats["rows"] = int(m.G + m.Z * m.K)
    stats["arc_columns_universe"] = int(p.arc_group.size + _transition_universe(p, m))
    if master.status == "infeasible":
        return _infeasible(p, stats)
    assert master.paths is not None
    n = master.paths.group.size
    stats["paths"] = int(n)
    if master.status != "optimal":
        # Out of time before the LP was proven: an integer plan from the last LP solved
        # (its whole couriers kept, the rest re-choosing: `_repair`), else one over the
        # paths so far, with the Lagrangian bound.
        tm = time.perf_counter()
        counts, runs = _last_lp_plan(master, time.perf_counter() + _grace(time_limit))
        res = None
        if counts is None:
            res = _path_mip(master, deadline)
            runs += 1
        stats["mip_seconds"] = time.perf_counter() - tm
        stats["mip_runs"] = runs
        if counts is not None:
            stats["from_last_lp"] = 1
            sol = _path_solution(p, m, master, counts)
        elif res is not None and res.status in {"optimal", "feasible"}:
            sol = _path_solution(p, m, master, np.rint(res.x[:n]))
        else:  # nothing better in time
            stayed = _stays(p, m, master)
            if stayed is None:
                return _infeasible(p, stats, timed_out=True)
            sol = stayed
        lower = master.bound if math.isfinite(master.bound) else -_constant_upper(p, m)
        sol.status, sol.bound = _proof(sol.objective, lower, master.exact_bound)
        sol.stats = {**stats, "seconds": time.perf_counter() - t0}
        return sol
    assert master.x is not None and master.gamma is not None
    x = master.x[:n]
    integral = bool(np.all(np.abs(x - np.rint(x)) <= _TOL))
    stats["lp_integral"] = int(integral)
    stats["lp_bound"] = float(master.objective)
    zone_value = _zone_value(m, master.gamma)
    # the bound computed from the duals themselves (weak duality), not the LP solver's optimum
    lower = master.bound

    def done(sol: SlotSolution, status: str, bound: float) -> SlotSolution:
        """``sol`` with its status and bound, the stats and the zones' values."""
        sol.status, sol.bound = status, bound
        sol.stats = {**stats, "seconds": time.perf_counter() - t0}
        sol.duals = zone_value
        return sol

    if integral:
        sol = _path_solution(p, m, master, np.rint(x))
        return done(sol, *_proof(sol.objective, lower, master.exact_bound))
    # A fractional LP optimum. First the LP's integral part is kept and the couriers left
    # over choose among their groups' paths (a small integer programme): when that plan
    # meets the bound it is proven optimal, as any plan would be.
    tm = time.perf_counter()
    counts = _repair(master, x, deadline)
    stats["mip_seconds"] = time.perf_counter() - tm
    stats["mip_runs"] = 1
    # the best integer plan found so far (path counts, plan): what the plan is when the
    # time runs out or the last integer programme gives nothing better
    best: tuple[np.ndarray, SlotSolution] | None = None
    if counts is not None:
        sol = _path_solution(p, m, master, counts)
        status, bound = _proof(sol.objective, lower, master.exact_bound)
        stats["repaired"] = int(status == "optimal")
        if status == "optimal":
            return done(sol, status, bound)
        best = counts, sol
    # Then the integer programme over every path priced in.
    tm = time.perf_counter()
    res = _path_mip(master, deadline)
    stats["mip_seconds"] += time.perf_counter() - tm
    stats["mip_runs"] = 2
    if res.status in {"optimal", "feasible"}:
        counts = np.rint(res.x[:n])
        sol = _path_solution(p, m, master, counts)
        status, bound = _proof(sol.objective, lower, master.exact_bound)
        if status == "optimal":
            return done(sol, status, bound)
        if best is None or sol.objective < best[1].objective:
            best = counts, sol
    if time.perf_counter() >= deadline - _ARC_MIP_MIN_SECONDS:
        # Out of time: the arc form below would not be solved in what is left, and SCIP
        # builds and presolves it regardless of the limit (1,000 zones / 100,000 couriers,
        # 8 slots, a surplus cost: 11 GB in 19 s past the limit, then "no plan" although
        # the path programme had found one).
        stats["arc_mip_skipped"] = 1
        return _best_or_stays(p, m, master, best, lower, stats, done)
    if best is not None:
        gap = best[1].objective - lower
        support = master.arcs(best[0])
    else:
        gap, support = math.inf, master.arcs(np.rint(x) * 0)
    # Reduced-cost fixing in the arc form: only arcs of reduced cost <= gap can be in a
    # better plan; every other arc is left out, so SCIP's optimum over the rest is global.
    cols = _initial_columns(p, m)
    entry, _, trans = support
    trans_cols = (
        trans["com"],
        trans["slot"],
        trans["from"],
        trans["to"],
        trans["minutes"],
        trans["move"],
    )
    cols = _dedupe(_extend(cols, entry, trans_cols))
    y = master.arc_duals(m)
    extra_entry, extra_trans = _within(p, m, cols, y, entry_cost, gap)
    cols = _extend(cols, extra_entry, extra_trans)
    stats["columns_within_gap"] = int(extra_entry.size + extra_trans[0].size)
    tm = time.perf_counter()
    res = _mip(p, m, cols, entry_cost, deadline)
    stats["mip_seconds"] += time.perf_counter() - tm
    stats["mip_runs"] = 3
    if res.status == "infeasible" and best is None:
        return _infeasible(p, stats)
    if res.status not in {"optimal", "feasible"} or _overflow(m, cols, res.x) > 0.5:
        # nothing from the arc form (out of time): the best path plan, if any
        return _best_or_stays(p, m, master, best, lower, stats, done)
    n_xy = cols.entry.size + cols.t_com.size
    sol = _solution(p, m, cols, np.rint(res.x[:n_xy]), entry_cost)
    if res.status == "optimal":
        if sol.objective < lower - _lp_error(lower) - 0.5:
            raise AssertionError("integer plan below the LP bound: the slot model is wrong")
        return done(sol, "optimal", sol.objective)
    if best is not None and best[1].objective < sol.objective:
        sol = best[1]
    return done(sol, *_proof(sol.objective, max(lower, res.bound), master.exact_bound))


#: Seconds the arc-form integer programme needs at least to be worth starting.
_ARC_MIP_MIN_SECONDS = 1.0


def _best_or_stays(  # type: ignore[no-untyped-def]
    p: ProblemData,
    m: _Model,
    master,
    best: tuple[np.ndarray, SlotSolution] | None,
    lower: float,
    stats: dict[str, float | int],
    done: Callable[[SlotSolution, str, float], SlotSolution],
) -> SlotSolution:
    """The plan when the integer stage stops without proof: the best integer plan found,
    else everyone staying where they log on (when the caps allow it), with the bound;
    else no plan (the time ran out)."""
    sol = best[1] if best is not None else _stays(p, m, master)
    if sol is None:
        return _infeasible(p, stats, timed_out=True)
    return done(sol, *_proof(sol.objective, lower, master.exact_bound))


def _stays(p: ProblemData, m: _Model, master) -> SlotSolution | None:  # type: ignore[no-untyped-def]
    """The plan where everyone stays where they log on, or None when the caps forbid it."""
    if not master.stays_feasible():
        return None
    stays = np.zeros(master.paths.group.size)
    stays[: m.G] = p.group_size
    return _path_solution(p, m, master, stays)


def _repair(master, x: np.ndarray, deadline: float) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    """Path counts of an integer plan built from a fractional LP optimum ``x``, or None.

    Every path keeps the whole couriers the LP gives it (``floor(x)``); the couriers
    each group has left over choose among all that group's paths, in an integer
    programme (SCIP) whose (zone, slot) rows start from the couriers already placed. It
    is a restriction of the path MIP, so its plan is feasible but only a candidate: it
    is optimal only when its cost meets the LP bound (`_proof`).
    """
    paths = master.paths
    n, G = paths.group.size, master.G
    fixed = np.floor(x + _TOL)
    left = master.p.group_size - np.bincount(paths.group, weights=fixed, minlength=G)
    if (left < -_TOL).any():
        return None
    cand = np.flatnonzero(left[paths.group] > 0.5)
    cost, matrix, rhs, _, col_lo, col_hi = master._system(False)
    placed = np.zeros((master.Z, master.K))
    r, s = np.nonzero(paths.zones >= 0)
    np.add.at(placed, (paths.zones[r, s], s), fixed[r])
    rhs = np.concatenate([left, -placed.T.ravel()])
    keep = np.concatenate([cand, np.arange(n, cost.size)])
    integer = np.zeros(keep.size, dtype=bool)
    integer[: cand.size] = True
    res = linear_program(
        cost[keep],
        matrix[:, keep],
        rhs,
        rhs,
        col_lo[keep],
        col_hi[keep],
        integer=integer,
        time_limit=max(min(deadline - time.perf_counter(), 30.0), 0.5),
    )
    if res.status not in {"optimal", "feasible"}:
        return None
    counts = fixed.copy()
    counts[cand] += np.rint(res.x[: cand.size])
    return counts


def _grace(time_limit: float) -> float:
    """Seconds allowed past the time limit to turn the last LP into a plan (`_repair`):
    a tenth of the limit, at most 10 s. Without them the plan at the limit at 10,000
    zones was everyone staying put, 4% above the bound, where the LP was within 0.01%."""
    return min(0.1 * time_limit, 10.0)


def _last_lp_plan(master, deadline: float) -> tuple[np.ndarray | None, int]:  # type: ignore[no-untyped-def]
    """Path counts of an integer plan from the last restricted LP the rounds solved (its
    values rounded when integral, else `_repair`), or None when there is none; and the
    integer programmes run for it (0 or 1)."""
    if master.last_x is None:
        return None, 0
    n = master.paths.group.size
    x = np.zeros(n)  # paths priced in after that LP carry nothing
    x[: min(n, master.last_x.size)] = master.last_x[:n]
    if np.all(np.abs(x - np.rint(x)) <= _TOL):
        return np.rint(x), 0
    return _repair(master, x, deadline), 1


def _path_mip(master, deadline: float):  # type: ignore[no-untyped-def]
    """The master over its paths as an integer programme (SCIP, zero gap)."""
    system = master._system(False)
    n = master.paths.group.size
    integer = np.zeros(len(system[0]), dtype=bool)
    integer[:n] = True
    return linear_program(
        *system, integer=integer, time_limit=max(deadline - time.perf_counter(), 0.5)
    )


def _path_solution(p: ProblemData, m: _Model, master, counts: np.ndarray) -> SlotSolution:  # type: ignore[no-untyped-def]
    """An integer path solution as entry counts and moving transitions, with its cost."""
    paths = master.paths
    entry_idx, cnt, trans = master.arcs(counts)
    # couriers per universe arc: int32 (at 10 million couriers the universe is 109
    # million arcs, and an int64 array of them set the plan's peak memory)
    entry = np.zeros(p.arc_group.size, dtype=np.int32)
    np.add.at(entry, entry_idx, np.asarray(cnt, dtype=np.int32))
    take = counts > 0
    zones, c = paths.zones[take], counts[take].astype(np.int64)
    n = np.zeros((m.Z, m.K), dtype=np.int64)
    r, s = np.nonzero(zones >= 0)
    np.add.at(n, (zones[r, s], s), c[r])
    cov = np.minimum(n, m.cov_hi)
    objective = float(
        (paths.cost[take] * c).sum() - (m.short_cost * cov).sum() + p.surplus_cost * (n - cov).sum()
    )
    trans.pop("move", None)
    return SlotSolution("optimal", entry, trans, objective, objective)


def _dedupe(cols: _Columns) -> _Columns:
    """The same columns once each."""
    _, first = np.unique(cols.entry, return_index=True)
    entry = cols.entry[np.sort(first)]
    key = np.stack([cols.t_com, cols.t_slot, cols.t_from, cols.t_to], axis=1)
    _, keep = np.unique(key, axis=0, return_index=True)
    keep = np.sort(keep)
    return _Columns(
        entry,
        cols.t_com[keep],
        cols.t_slot[keep],
        cols.t_from[keep],
        cols.t_to[keep],
        cols.t_minutes[keep],
        cols.t_move[keep],
    )


# ------------------------------------------------------------------------ columns


def _entry_costs(p: ProblemData) -> np.ndarray:
    """Integer cost of every universe entry arc (move + change): a chunk at a time (at
    10,000 zones there are 56 million, and whole-array temporaries took 4.8 s and GBs),
    as int32 when the dearest arc fits (0.44 GB instead of 0.87 for the 109 million arcs
    of 10 million couriers, held through the solve), else as float64."""
    return arc_costs(p, dtype=arc_cost_dtype(p, np.float64))


def _initial_columns(p: ProblemData, m: _Model) -> _Columns:
    """Every stay: entry stays and, per commodity and slot, staying in every zone."""
    stay = np.flatnonzero(p.arc_zone == p.group_zone[p.arc_group])
    coms, slots = [], []
    for c in range(m.C):
        ks = np.arange(m.com_lo[c] + 1, m.com_hi[c] + 1)
        coms.append(np.full(ks.size, c))
        slots.append(ks)
    com = np.concatenate(coms).astype(np.int64) if coms else np.zeros(0, np.int64)
    slot = np.concatenate(slots).astype(np.int64) if slots else np.zeros(0, np.int64)
    zones = np.arange(m.Z)
    t_com = np.repeat(com, m.Z)
    t_slot = np.repeat(slot, m.Z)
    t_zone = np.tile(zones, com.size)
    return _Columns(
        stay, t_com, t_slot, t_zone, t_zone.copy(), np.zeros(t_zone.size), np.full(t_zone.size, -1)
    )


def _extend(cols: _Columns, entry: np.ndarray, trans: tuple[np.ndarray, ...]) -> _Columns:
    com, slot, a, b, minutes, move = trans
    return _Columns(
        np.concatenate([cols.entry, entry]),
        np.concatenate([cols.t_com, com]),
        np.concatenate([cols.t_slot, slot]),
        np.concatenate([cols.t_from, a]),
        np.concatenate([cols.t_to, b]),
        np.concatenate([cols.t_minutes, minutes]),
        np.concatenate([cols.t_move, move]),
    )


def _members(
    p: ProblemData, m: _Model, cols: _Columns
) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """Which universe columns the restricted model holds: entry mask, and per (c, k) moves."""
    entry = np.zeros(p.arc_group.size, dtype=bool)
    entry[cols.entry] = True
    trans: dict[tuple[int, int], np.ndarray] = {}
    moving = cols.t_move >= 0
    for c, k, i in zip(
        cols.t_com[moving].tolist(),
        cols.t_slot[moving].tolist(),
        cols.t_move[moving].tolist(),
        strict=True,
    ):
        mask = trans.get((c, k))
        if mask is None:
            mask = trans[(c, k)] = np.zeros(p.moves[m.com_vehicle[c]].origin.size, dtype=bool)
        mask[i] = True
    return entry, trans


def _scan(
    p: ProblemData,
    m: _Model,
    cols: _Columns,
    y: np.ndarray,
    entry_cost: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, ...]], list[np.ndarray], float]:
    """Reduced costs of every column outside the restricted model; those below threshold.

    Returns entry indices and their reduced costs, transition candidates (com, slot,
    from, to, minutes, move) with their reduced costs, and the Lagrangian term
    ``sum min(0, d) x upper`` over everything outside.
    """
    in_entry, in_trans = _members(p, m, cols)
    g = p.arc_group
    f = p.group_first[g]
    b = p.arc_zone
    # Entry arcs: cost - alpha_g - B(c, b, first) - gamma(b, first).
    rc = entry_cost - y[g] - m.potential(y, m.group_com[g], b, f) - y[m.m_row(b, f)]
    rc[in_entry] = np.inf
    lagrangian = float(np.minimum(rc, 0.0)[np.isfinite(rc)] @ p.group_size[g][np.isfinite(rc)])
    entry = np.flatnonzero(rc <= threshold)
    found: list[tuple[np.ndarray, ...]] = []
    scores: list[np.ndarray] = []
    # Transitions: cost + B(c, a, k-1) - B(c, b, k) - gamma(b, k).
    for ci in range(m.C):
        mv = p.moves[m.com_vehicle[ci]]
        if mv.origin.size == 0:
            continue
        cost = p.move_cost(mv.minutes).astype(float)
        cc = np.full(mv.origin.size, ci)
        for k in range(int(m.com_lo[ci]) + 1, int(m.com_hi[ci]) + 1):
            kk = np.full(mv.origin.size, k)
            r = (
                cost
                + m.potential(y, cc, mv.origin, kk - 1)
                - m.potential(y, cc, mv.dest, kk)
                - y[m.m_row(mv.dest, kk)]
            )
            held = in_trans.get((ci, k))
            if held is not None:
                r[held] = np.inf
            neg = r < 0
            lagrangian += float(r[neg].sum() * m.com_size[ci])
            idx = np.flatnonzero(r <= threshold)
            if idx.size:
                found.append((cc[idx], kk[idx], mv.origin[idx], mv.dest[idx], mv.minutes[idx], idx))
                scores.append(r[idx])
    return entry, rc[entry], found, scores, lagrangian


def _stack(
    found: list[tuple[np.ndarray, ...]], pick: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    if not found:
        z = np.zeros(0, np.int64)
        return (z, z, z, z, np.zeros(0), z)
    out = tuple(np.concatenate([f[i] for f in found]) for i in range(6))
    return out if pick is None else tuple(a[pick] for a in out)


def _transition_universe(p: ProblemData, m: _Model) -> int:
    total = 0
    for c in range(m.C):
        total += int(m.com_hi[c] - m.com_lo[c]) * (m.Z + p.moves[m.com_vehicle[c]].origin.size)
    return total


def _trans_cost(p: ProblemData, cols: _Columns) -> np.ndarray:
    moving = cols.t_from != cols.t_to
    return np.where(moving, p.move_cost(cols.t_minutes), 0).astype(float)


def _system(
    p: ProblemData, m: _Model, cols: _Columns, entry_cost: np.ndarray
) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cost, matrix and bounds of the restricted model (columns: x, y, cov, sur, ov)."""
    ne, nt = cols.entry.size, cols.t_com.size
    zk = m.Z * m.K
    g = p.arc_group[cols.entry]
    b = p.arc_zone[cols.entry]
    f = p.group_first[g]
    c = m.group_com[g]
    e_cols = np.arange(ne)
    e_n = m.n_row(c, b, f)
    t_cols = ne + np.arange(nt)
    t_out = m.n_row(cols.t_com, cols.t_from, cols.t_slot - 1)
    t_in = m.n_row(cols.t_com, cols.t_to, cols.t_slot)
    zone = np.tile(np.arange(m.Z), m.K)
    slot = np.repeat(np.arange(m.K), m.Z)
    s_rows = m.m_row(zone, slot)
    cov_cols = ne + nt + np.arange(zk)
    sur_cols = cov_cols + zk
    capped = m.capped[zone, slot]
    ov_rows = s_rows[capped]
    ov_cols = ne + nt + 2 * zk + np.arange(ov_rows.size)
    rows = np.concatenate(
        [
            g,
            e_n[e_n >= 0],
            m.m_row(b, f),
            t_out,
            t_in[t_in >= 0],
            m.m_row(cols.t_to, cols.t_slot),
            s_rows,
            s_rows,
            ov_rows,
        ]
    )
    cidx = np.concatenate(
        [
            e_cols,
            e_cols[e_n >= 0],
            e_cols,
            t_cols,
            t_cols[t_in >= 0],
            t_cols,
            cov_cols,
            sur_cols,
            ov_cols,
        ]
    )
    data = np.concatenate(
        [
            np.ones(ne),
            np.ones(int((e_n >= 0).sum())),
            np.ones(ne),
            -np.ones(nt),
            np.ones(int((t_in >= 0).sum())),
            np.ones(nt),
            -np.ones(zk),
            -np.ones(zk),
            -np.ones(ov_rows.size),
        ]
    )
    n_cols = ne + nt + 2 * zk + ov_rows.size
    import scipy.sparse as sp  # here: a one-slot plan never needs it (0.1 s to import)

    matrix = sp.csr_matrix((data, (rows, cidx)), shape=(m.rows, n_cols))
    cost = np.concatenate(
        [
            entry_cost[cols.entry],
            _trans_cost(p, cols),
            -m.short_cost[zone, slot].astype(float),
            np.full(zk, float(p.surplus_cost)),
            np.full(ov_rows.size, m.overflow_cost),
        ]
    )
    col_lo = np.zeros(n_cols)
    col_hi = np.concatenate(
        [
            np.full(ne + nt, np.inf),
            m.cov_hi[zone, slot].astype(float),
            m.sur_hi[zone, slot],
            np.full(ov_rows.size, np.inf),
        ]
    )
    rhs = np.zeros(m.rows)
    rhs[: m.G] = p.group_size
    return cost, matrix, rhs, rhs.copy(), col_lo, col_hi


def _overflow(m: _Model, cols: _Columns, x: np.ndarray) -> float:
    zk = m.Z * m.K
    start = cols.entry.size + cols.t_com.size + 2 * zk
    return float(x[start:].sum())


def _lp_error(value: float) -> float:
    """Float64 rounding in a bound summed from duals (cost units): far below one unit."""
    return 1e-12 * abs(value) + 1e-3


def _proof(objective: float, lower: float, exact: float = -math.inf) -> tuple[str, float]:
    """Status and bound of an integer plan of cost ``objective`` against a lower bound
    ``lower`` (computed in float64) and one computed exactly (``exact``, -inf if none).

    Costs are integers: when the plan is less than one unit above the bound (less the
    bound's numerical error), no integer plan can be cheaper, so it is proven optimal.
    """
    if objective - exact < 1.0:
        return "optimal", objective
    slack = _lp_error(lower)
    if objective - lower < 1.0 - slack:
        return "optimal", objective
    bound = lower - slack if math.isfinite(lower) else lower
    bound = max(bound, exact)
    return "feasible", float(math.ceil(bound)) if math.isfinite(bound) else bound


def _zone_value(m: _Model, gamma: np.ndarray) -> np.ndarray:
    """Decrease of the LP optimum per extra fixed courier in (zone, slot): the dual of the
    (zone, slot) coupling row, cost units (see `rebalance.explain` for what it is and is
    not). NaN in a slot where every zone is capped and the caps are full: one more
    courier cannot be placed, whichever side of the kink the dual sits on."""
    value = np.array(gamma, dtype=float, copy=True)
    cap = m.p.cap
    if cap.size and not np.isnan(cap).any():
        full = m.p.slot_before.sum(axis=0) >= int(cap.sum())
        value[:, full] = np.nan
    return value


# ---------------------------------------------------------------- integer stage


def _constant_upper(p: ProblemData, m: _Model) -> float:
    """sum shortage x required: the flow part of any plan is at least minus this."""
    return float((m.short_cost * p.slot_required).sum())


def _mip(p: ProblemData, m: _Model, cols: _Columns, entry_cost: np.ndarray, deadline: float):  # type: ignore[no-untyped-def]
    system = _system(p, m, cols, entry_cost)
    n_xy = cols.entry.size + cols.t_com.size
    integer = np.zeros(len(system[0]), dtype=bool)
    integer[:n_xy] = True
    return linear_program(
        *system, integer=integer, time_limit=max(deadline - time.perf_counter(), 0.5)
    )


def _within(
    p: ProblemData, m: _Model, cols: _Columns, y: np.ndarray, entry_cost: np.ndarray, gap: float
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Columns outside the restricted model with reduced cost <= gap (they might help)."""
    entry, _, found, _, _ = _scan(p, m, cols, y, entry_cost, gap + _TOL)
    return entry, _stack(found)


def _infeasible(
    p: ProblemData, stats: dict[str, float | int], timed_out: bool = False
) -> SlotSolution:
    z = np.zeros(0, np.int64)
    return SlotSolution(
        "timeout" if timed_out else "infeasible",
        np.zeros(p.arc_group.size, np.int64),
        {"com": z, "slot": z, "from": z, "to": z, "count": z, "minutes": np.zeros(0)},
        math.nan,
        math.nan,
        stats,
    )


def _solution(
    p: ProblemData, m: _Model, cols: _Columns, x: np.ndarray, entry_cost: np.ndarray
) -> SlotSolution:
    """Integer column values as entry counts and moving transitions, with their cost."""
    ne = cols.entry.size
    entry = np.zeros(p.arc_group.size, dtype=np.int64)
    np.add.at(entry, cols.entry, x[:ne].astype(np.int64))
    t = x[ne:].astype(np.int64)
    moving = (t > 0) & (cols.t_from != cols.t_to)
    trans = {
        "com": cols.t_com[moving],
        "slot": cols.t_slot[moving],
        "from": cols.t_from[moving],
        "to": cols.t_to[moving],
        "count": t[moving],
        "minutes": cols.t_minutes[moving],
    }
    # n(z, k) from the integer flows, then the exact objective (flow part).
    # couriers per (zone, slot): entries and transitions per commodity, conservation checked
    n = _commodity_counts(p, m, cols, x).sum(axis=0)
    cov = np.minimum(n, m.cov_hi)
    sur = n - cov
    objective = float(
        (entry_cost * entry).sum()
        + (p.move_cost(trans["minutes"]) * trans["count"]).sum()
        - (m.short_cost * cov).sum()
        + p.surplus_cost * sur.sum()
    )
    return SlotSolution("optimal", entry, trans, objective, objective)


def _commodity_counts(p: ProblemData, m: _Model, cols: _Columns, x: np.ndarray) -> np.ndarray:
    """Couriers per (commodity, zone, slot) of an integer solution, checking conservation."""
    ne = cols.entry.size
    cnt = np.zeros((m.C, m.Z, m.K), dtype=np.int64)
    g = p.arc_group[cols.entry]
    np.add.at(
        cnt, (m.group_com[g], p.arc_zone[cols.entry], p.group_first[g]), x[:ne].astype(np.int64)
    )
    t = x[ne:].astype(np.int64)
    np.add.at(cnt, (cols.t_com, cols.t_to, cols.t_slot), t)
    out = np.zeros((m.C, m.Z, m.K), dtype=np.int64)
    np.add.at(out, (cols.t_com, cols.t_from, cols.t_slot - 1), t)
    # conservation: everything in D(c, z, k) with k < last leaves through a transition
    for c in range(m.C):
        for k in range(int(m.com_lo[c]), int(m.com_hi[c])):
            if not np.array_equal(cnt[c, :, k], out[c, :, k]):
                raise AssertionError("slot model solution breaks flow conservation")
    return cnt
