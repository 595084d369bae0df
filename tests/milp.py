"""An independent courier-level MILP of CONTRACT sections 7 and 9, solved by HiGHS (scipy).

Nothing here is shared with `rebalance.slotmodel`: one binary per (courier, slot, zone)
position and per (courier, slot, from, to) transition, presence and moves taken from the
contract's words. Used by the tests to cross-check the optimum on small random cities.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from rebalance.model import ProblemData


def courier_milp(p: ProblemData, *, relax: bool = False) -> float:
    """The optimum (minutes) of the problem, courier by courier (LP relaxation if ``relax``)."""
    cfg = p.config
    Z, K = len(p.zone_ids), p.slots
    w = 1.0 / K
    elig = p.eligible.reset_index(drop=True)
    # travel minutes per vehicle as a dense matrix (NaN = not allowed), staying = 0
    travel = {}
    for v in range(len(p.vehicles)):
        t = np.full((Z, Z), np.nan)
        m = p.moves[v]
        t[m.origin, m.dest] = m.minutes
        np.fill_diagonal(t, 0.0)
        travel[v] = t
    cols_cost: list[float] = []
    rows: list[list[tuple[int, float]]] = []
    lo: list[float] = []
    hi: list[float] = []
    integer: list[int] = []

    def var(cost: float, is_int: bool = True) -> int:
        cols_cost.append(cost)
        integer.append(1 if is_int else 0)
        return len(cols_cost) - 1

    def row(terms: list[tuple[int, float]], low: float, high: float) -> None:
        rows.append(terms)
        lo.append(low)
        hi.append(high)

    in_zone: dict[tuple[int, int], list[int]] = {}
    fixed = cfg.costs.move_fixed_minutes
    for c in range(len(elig)):
        v = int(elig.at[c, "vehicle_idx"])
        z0 = int(elig.at[c, "zone_idx"])
        f, last = int(elig.at[c, "first"]), int(elig.at[c, "last"])
        prev = int(elig.at[c, "prev_idx"])
        t = travel[v]
        pos: dict[tuple[int, int], int] = {}
        for k in range(f, last + 1):
            for z in range(Z):
                pos[(k, z)] = var(0.0)
                in_zone.setdefault((z, k), []).append(pos[(k, z)])
            row([(pos[(k, z)], 1.0) for z in range(Z)], 1, 1)
        # entry: from z0 to b at the first slot
        for b in range(Z):
            if math.isnan(t[z0, b]):
                row([(pos[(f, b)], 1.0)], 0, 0)
                continue
            cost = 0.0 if b == z0 else t[z0, b] + fixed
            if f == 0 and prev >= 0 and b != prev:
                cost += cfg.costs.change_minutes
            cols_cost[pos[(f, b)]] += cost
        for k in range(f + 1, last + 1):
            outs: dict[int, list[int]] = {a: [] for a in range(Z)}
            ins: dict[int, list[int]] = {b: [] for b in range(Z)}
            for a in range(Z):
                for b in range(Z):
                    if math.isnan(t[a, b]):
                        continue
                    x = var(0.0 if a == b else t[a, b] + fixed)
                    outs[a].append(x)
                    ins[b].append(x)
            for a in range(Z):
                row([(pos[(k - 1, a)], 1.0)] + [(x, -1.0) for x in outs[a]], 0, 0)
            for b in range(Z):
                row([(pos[(k, b)], 1.0)] + [(x, -1.0) for x in ins[b]], 0, 0)
    constant = 0.0
    for z in range(Z):
        for k in range(K):
            n = [(x, 1.0) for x in in_zone.get((z, k), [])]
            req = int(p.slot_required[z, k])
            short = var(w * cfg.costs.shortage_minutes * p.priority[z], False)
            surplus = var(w * cfg.costs.surplus_minutes, False)
            # short >= req - n ; surplus >= n - req
            row([*n, (short, 1.0)], req, np.inf)
            row([*n, (surplus, -1.0)], -np.inf, req)
            if not math.isnan(p.cap[z]):
                row(n, -np.inf, float(p.cap[z]))
    n_vars = len(cols_cost)
    data, ri, ci = [], [], []
    for i, terms in enumerate(rows):
        for j, a in terms:
            ri.append(i)
            ci.append(j)
            data.append(a)
    matrix = sp.csr_matrix((data, (ri, ci)), shape=(len(rows), n_vars))
    upper = np.where(np.array(integer) == 1, 1.0, np.inf)
    res = milp(
        np.array(cols_cost),
        constraints=LinearConstraint(matrix, np.array(lo), np.array(hi)),
        integrality=None if relax else np.array(integer),
        bounds=Bounds(np.zeros(n_vars), upper),
        options={"mip_rel_gap": 0.0, "time_limit": 60},
    )
    if res.status == 2:
        return math.inf
    assert res.status == 0, res.message
    return float(res.fun) + constant
