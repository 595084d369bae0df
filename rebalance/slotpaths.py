"""The LP of the slot model over courier *paths* (Dantzig-Wolfe form), for `slotmodel`.

A path is what one courier of an entry group does over its present slots: the zone it
is in during each slot. The master LP has one row per entry group (its couriers take
paths: the counts add up to the group's size) and one row per (zone, slot) (couriers
there = covered + surplus); one column per path priced in so far. It has far fewer rows
than the arc form (groups + zones x slots instead of commodities x zones x slots), so
each LP is small, and its optimum equals the arc form's LP optimum (each commodity's
subproblem is a shortest path, a network: Dantzig-Wolfe loses nothing). The LP solved
holds only the groups with a path besides their stay in it, the others' couriers all
staying, a constant (`PathMaster.run`).

Pricing is exact and vectorised: with the coupling duals ``gamma(z, k)``, the cheapest
continuation ``W_c(z, k)`` from being in zone z during slot k to the end of commodity
c's last slot is a backward dynamic programme over the allowed moves (Bellman), and the
best new path of every group follows from it. ``-W`` are node potentials of the arc
form: with them every arc's reduced cost is known, which is what the integer stage of
`slotmodel` uses to fix columns.

Stabilisation: a round prices with the LP's duals smoothed towards those of the best
bound so far (`SMOOTHING`), which stops the duals swinging and the LP filling with paths
it never uses; paths are kept only when they price in at the LP's own duals, and the
last word is the LP's own duals', so the optimum and the bound are those of plain
column generation. Any duals give a valid bound (`_dual_bound`), smoothed ones too.

Caps: when staying put breaks a cap, a first phase minimises the overflow (the LP is
infeasible when it cannot reach 0); then overflow is fixed at 0.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .cores import threads
from .model import ProblemData

__all__ = ["PathMaster"]

_TOL = 1e-6
#: A path column out of the LP's solution whose reduced cost exceeds this many minutes of
#: courier time is retired (deleted from the LP) until pricing asks for it again.
RETIRE_MINUTES = 2.0
#: Dual smoothing (Wentges): each round prices with ``SMOOTHING x`` the duals of the
#: best bound so far ``+ (1 - SMOOTHING) x`` the LP's own. The LP's duals swing from
#: round to round, and paths priced at a swing are rarely used (62% were retired at
#: 1,000 zones without smoothing). Paths found so are kept only if they price in at the
#: LP's own duals; when fewer than `TAIL` x groups do, the LP's duals price instead (a
#: "mispricing": at the end, only they can say the LP is optimal). Solve times of the
#: benchmark cities (8 slots; 2026-12-04, same optimum and LP bound both ways), without
#: -> with: 1,000 zones / 40,000 restaurants 21.9 -> 17.7 s, 1,000 / 250,000 61.0 ->
#: 47.9 s, 10,000 zones / 1M couriers 419 -> 194 s (39 -> 20 rounds); 200 zones even.
#: 0.5 and 0.85 did worse than 0.7 at 1,000 zones.
SMOOTHING = 0.7
#: See `SMOOTHING`. Without it (0) the last rounds each priced in a handful of paths
#: while the bound closed in by 0.7 a round: 26 rounds instead of 12 at 200 zones.
TAIL = 0.01
#: Moves (summed over vehicles) from which `PathMaster.price` walks commodities on two
#: threads: below it a thread pool costs more than it saves. In-process, same rounds and
#: moves (2026-12-05): pricing at 1,000 zones / 100k 2.40 -> 2.16 s (the walk is about
#: half of it there), 10,000 zones / 1M 29.6 -> 21.1 s, the solve 113.7 -> 100.4 s.
_THREAD_MOVES = 200_000
#: Groups woken at once (`PathMaster._regroup`) from which their movers enter the basis:
#: at least one per this many rows of the LP.
_WAKE_BASIS = 20
#: Values checked at a time by `_whole`.
_BLOCK = 1 << 20


@dataclass
class _Paths:
    group: np.ndarray  # (n,)
    zones: np.ndarray  # (n, K), -1 outside the group's present slots
    cost: np.ndarray  # (n,) integer cost units, as float

    def take(self, index: np.ndarray) -> _Paths:
        """The paths at ``index`` (positions or a mask), in that order."""
        return _Paths(self.group[index], self.zones[index], self.cost[index])


@dataclass
class PathMaster:
    """Column generation over paths. ``run`` leaves the LP optimum and its duals."""

    p: ProblemData
    group_com: np.ndarray
    com_vehicle: np.ndarray
    com_lo: np.ndarray
    com_hi: np.ndarray
    cov_hi: np.ndarray
    sur_hi: np.ndarray
    short_cost: np.ndarray
    entry_cost: np.ndarray
    stats: dict[str, float | int] = field(default_factory=dict)
    paths: _Paths | None = None
    x: np.ndarray | None = None
    #: the path values of the last restricted LP solved with real costs (not phase 1): a
    #: feasible solution of the master even when the time limit stops the rounds
    last_x: np.ndarray | None = None
    alpha: np.ndarray | None = None
    gamma: np.ndarray | None = None  # (Z, K)
    objective: float = math.nan
    bound: float = -math.inf  # a proven lower bound on every plan (weak duality)
    #: the best bound computed exactly (`_dual_bound`), -inf when none was
    exact_bound: float = -math.inf
    #: whether the last pricing's bound was computed exactly (`_dual_bound`)
    priced_exact: bool = False
    status: str = "limit"  # 'optimal' (LP), 'infeasible' (LP), 'limit'
    potentials: dict[int, np.ndarray] = field(default_factory=dict)  # c -> W (Z, K)
    #: (commodity, zone, slot): where the last pricing's step found a move cheaper than
    #: staying
    _moving: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), bool))
    _keys: dict[bytes, int] | None = None
    #: the path of each path column of the LP, in the LP's order: the paths not in it are
    #: the retired ones
    _lp_paths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: per path: retired once already (`_retire`)
    _left_once: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    # ------------------------------------------------------------------ set-up
    def __post_init__(self) -> None:
        p = self.p
        self.Z, self.K, self.G = len(p.zone_ids), p.slots, len(p.group_size)
        # Each group's arcs are one run, by destination (`reach.group_arcs`): an arc is
        # found by bisection within its group's run. (A sorted int64 key of every arc and
        # its order were 2.6 GB held through the solve at 10 million couriers.)
        g = p.arc_group
        runs = np.concatenate([[0], np.flatnonzero(g[1:] != g[:-1]) + 1]).astype(np.int64)
        self._arc_start = np.zeros(self.G, dtype=np.int64)
        self._arc_count = np.zeros(self.G, dtype=np.int64)
        if g.size:
            self._arc_start[g[runs]] = runs
            self._arc_count[g[runs]] = np.diff(np.append(runs, g.size))
        # A group without a previous instruction enters through its stay and exactly its
        # vehicle's moves out of its zone, at move cost: its best entry is one more step
        # of the pricing recursion. Groups with a previous instruction (a change cost on
        # some arcs) are priced over their own entry arcs: their runs, one after another.
        self._gen_group = np.flatnonzero((p.group_prev >= 0) & (self._arc_count > 0))
        lengths = self._arc_count[self._gen_group]
        self._gen_start = np.cumsum(lengths) - lengths
        self._gen_arcs = np.repeat(self._arc_start[self._gen_group] - self._gen_start, lengths)
        self._gen_arcs += np.arange(self._gen_arcs.size)
        self._move_key = [m.origin * self.Z + m.dest for m in p.moves]
        self._move_cost = [p.move_cost(m.minutes).astype(float) for m in p.moves]
        self._n_moves = sum(m.origin.size for m in p.moves)
        self._origins = []
        for m in p.moves:
            has = np.flatnonzero(m.start[1:] > m.start[:-1])
            self._origins.append((has, m.start[has]))
        self.capped = (p.cap_int >= 0)[:, None] & np.ones((1, self.K), dtype=bool)
        # (whole by construction: `rebalance.model.arc_costs`, `ProblemData.move_cost`)
        self._whole_costs = (
            _whole(self.entry_cost)
            and all(_whole(c) for c in self._move_cost)
            and _whole(self.short_cost)
            and float(p.surplus_cost).is_integer()
        )
        # Each group's stay: its (group, row of its (zone, slot)) pairs, the LP's coupling
        # rows being numbered (slot, zone) from 0.
        k = np.arange(self.K)
        present = (k[None, :] >= p.group_first[:, None]) & (k[None, :] <= p.group_last[:, None])
        stay_group, stay_slot = np.nonzero(present)
        self._stay_group = stay_group
        self._stay_row = stay_slot * self.Z + p.group_zone[stay_group]
        #: LP row of each group (-1: resting, not in the LP) and the group of each group
        #: row (rows Z x K on)
        self._row_of = np.full(self.G, -1, dtype=np.int64)
        self._row_group = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------- costs
    def entry_arc(self, group: np.ndarray, zone: np.ndarray) -> np.ndarray:
        """Index in the entry-arc universe of (group, zone) (the arc must exist)."""
        lo = self._arc_start[group]
        hi = lo + self._arc_count[group]
        zone = np.asarray(zone)
        arc_zone = self.p.arc_zone
        open_ = np.flatnonzero(lo < hi)
        while open_.size:  # lo: the first arc of the run whose zone is not below `zone`
            a, b = lo[open_], hi[open_]
            mid = (a + b) >> 1
            below = arc_zone[mid] < zone[open_]
            lo[open_] = np.where(below, mid + 1, a)
            hi[open_] = np.where(below, b, mid)
            open_ = open_[lo[open_] < hi[open_]]
        return lo

    def move_index(self, vehicle: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Index in ``p.moves[vehicle]`` of the move a -> b (the move must exist)."""
        return np.searchsorted(self._move_key[vehicle], a.astype(np.int64) * self.Z + b)

    def path_cost(self, group: np.ndarray, zones: np.ndarray) -> np.ndarray:
        """Integer cost of paths: entry arc, then one move cost per zone change."""
        p = self.p
        first = p.group_first[group]
        rows = np.arange(group.size)
        cost = self.entry_cost[self.entry_arc(group, zones[rows, first])].astype(float)
        veh = p.group_vehicle[group]
        for k in range(1, self.K):
            a, b = zones[:, k - 1], zones[:, k]
            moving = (a >= 0) & (b >= 0) & (a != b)
            for v in np.unique(veh[moving]).tolist():
                sel = moving & (veh == v)
                idx = self.move_index(v, a[sel], b[sel])
                cost[sel] += self._move_cost[v][idx]
        return cost

    # ------------------------------------------------------------------ master
    def _stay_paths(self) -> _Paths:
        zones = np.full((self.G, self.K), -1, dtype=np.int64)
        zones[self._stay_group, self._stay_row // self.Z] = self.p.group_zone[self._stay_group]
        group = np.arange(self.G)
        return _Paths(group, zones, self.path_cost(group, zones))

    def _system(self, phase1: bool) -> tuple:  # type: ignore[type-arg]
        """The master LP over the current paths (columns: paths, covered, surplus, overflow)."""
        paths = self.paths
        assert paths is not None
        n, zk = paths.group.size, self.Z * self.K
        r, s = np.nonzero(paths.zones >= 0)
        rows = np.concatenate(
            [
                paths.group,
                self.G + s * self.Z + paths.zones[r, s],
                self.G + np.arange(zk),
                self.G + np.arange(zk),
            ]
        )
        cols = np.concatenate([np.arange(n), r, n + np.arange(zk), n + zk + np.arange(zk)])
        data = np.concatenate([np.ones(n + r.size), -np.ones(2 * zk)])
        cell = np.flatnonzero(self.capped.T.ravel())  # (slot, zone) order, as the M rows
        rows = np.concatenate([rows, self.G + cell])
        cols = np.concatenate([cols, n + 2 * zk + np.arange(cell.size)])
        data = np.concatenate([data, -np.ones(cell.size)])
        n_cols = n + 2 * zk + cell.size
        import scipy.sparse as sp  # here: a one-slot plan never needs it (0.1 s to import)

        matrix = sp.csr_matrix((data, (rows, cols)), shape=(self.G + zk, n_cols))
        cov_hi = self.cov_hi.T.ravel().astype(float)
        sur_hi = self.sur_hi.T.ravel().astype(float)
        if phase1:
            cost = np.concatenate([np.zeros(n + 2 * zk), np.ones(cell.size)])
            ov_hi = np.full(cell.size, np.inf)
        else:
            cost = np.concatenate(
                [
                    paths.cost,
                    -self.short_cost.T.ravel().astype(float),
                    np.full(zk, float(self.p.surplus_cost)),
                    np.zeros(cell.size),
                ]
            )
            ov_hi = np.zeros(cell.size)
        col_hi = np.concatenate([np.full(n, np.inf), cov_hi, sur_hi, ov_hi])
        rhs = np.zeros(self.G + zk)
        rhs[: self.G] = self.p.group_size
        return cost, matrix, rhs, rhs.copy(), np.zeros(n_cols), col_hi

    # ------------------------------------------------------------------ pricing
    def price(self, gamma: np.ndarray, alpha: np.ndarray, phase1: bool) -> tuple[_Paths, float]:
        """The best path of every group under the duals; those with negative reduced
        cost, and the Lagrangian term sum size_g x min(0, reduced cost)."""
        p = self.p
        scale = 0.0 if phase1 else 1.0
        n_com = int(self.group_com.max()) + 1 if self.G else 0
        # entry[c, a, f]: cheapest way for a courier of c in zone a at the start of slot f
        # (staying or one move) to spend slot f and the rest of c's slots
        entry = np.zeros((n_com, self.Z, self.K))
        stacked = np.zeros((n_com, self.Z, self.K))  # W of every commodity
        self._moving = np.zeros((n_com, self.Z, self.K), dtype=bool)

        def walk(c: int) -> None:
            v, lo, hi = int(self.com_vehicle[c]), int(self.com_lo[c]), int(self.com_hi[c])
            W = stacked[c]
            moving = self._moving[c]
            mv = p.moves[v]
            origins, starts = self._origins[v]
            mcost = self._move_cost[v] * scale
            for k in range(hi, lo - 1, -1):
                here = W[:, k] - gamma[:, k]
                best = here.copy()  # staying at a: 0 + W(a, k) - gamma(a, k)
                if mv.origin.size:
                    seg = np.minimum.reduceat(mcost + here[mv.dest], starts)
                    better = seg < best[origins] - 1e-9
                    best[origins[better]] = seg[better]
                    moving[origins[better], k] = True
                entry[c, :, k] = best
                if k > lo:
                    W[:, k - 1] = best

        # Commodities are independent: two walk side by side where two cores may be used
        # (numpy lets go of the interpreter lock in the gathers and minima). The same
        # operations per commodity as one after the other, so the same floats.
        workers = threads(2) if n_com > 1 and self._n_moves >= _THREAD_MOVES else 1
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(walk, range(n_com)))
        else:
            for c in range(n_com):
                walk(c)
        self.potentials = {c: stacked[c] for c in range(n_com)}
        empty = _Paths(np.zeros(0, np.int64), np.zeros((0, self.K), np.int64), np.zeros(0))
        if self.G == 0:
            return empty, 0.0
        value = entry[self.group_com, p.group_zone, p.group_first]
        first_arc = np.full(self.G, -1, dtype=np.int64)
        if self._gen_arcs.size:
            # min over the group's arcs of cost - gamma(b, f) + W_c(b, f)
            arcs = self._gen_arcs
            g = p.arc_group[arcs]
            f = p.group_first[g]
            b = p.arc_zone[arcs]
            val = self.entry_cost[arcs] * scale - gamma[b, f] + stacked[self.group_com[g], b, f]
            lengths = np.diff(np.append(self._gen_start, val.size))
            seg, first = _first_min(val, self._gen_start, lengths)
            value[self._gen_group] = seg
            first_arc[self._gen_group] = arcs[first]
        rc = value - alpha
        grp = np.flatnonzero(rc < -_TOL)
        lagrangian = self._dual_bound(alpha, gamma, rc, np.arange(self.G), phase1)
        if grp.size == 0:
            return empty, lagrangian
        zones = np.full((grp.size, self.K), -1, dtype=np.int64)
        rows = np.arange(grp.size)
        fs = p.group_first[grp]
        ls = p.group_last[grp]
        coms = self.group_com[grp]
        given = first_arc[grp] >= 0
        zones[rows[given], fs[given]] = p.arc_zone[first_arc[grp[given]]]
        # the others enter as the recursion's step at their first slot does
        for f in np.unique(fs[~given]).tolist():
            sel = ~given & (fs == f)
            at = p.group_zone[grp[sel]]
            zones[sel, f] = self._follow(coms[sel], f, at, gamma, scale, stacked)
        for k in range(1, self.K):
            cont = np.flatnonzero((fs < k) & (ls >= k))
            if cont.size:
                at = zones[cont, k - 1]
                zones[cont, k] = self._follow(coms[cont], k, at, gamma, scale, stacked)
        return _Paths(grp, zones, self.path_cost(grp, zones)), lagrangian

    def _follow(
        self,
        com: np.ndarray,
        k: int,
        at: np.ndarray,
        gamma: np.ndarray,
        scale: float,
        stacked: np.ndarray,
    ) -> np.ndarray:
        """Zone during slot k of couriers of commodities ``com`` in zones ``at`` during
        slot k-1, on their cheapest continuation: the argmin of the step `price` took the
        min of (same floats; staying unless a move is cheaper by more than 1e-9, else the
        first cheapest move). ``stacked``: the pricing's W of every commodity.

        Only the (commodity, zone) pairs where that step found a move cheaper than
        staying are looked at (it noted them): the others stay. Looking at every origin's
        moves instead, to find that most stay, was 82 million moves over the pricing
        rounds of the 1,000-zone / 250k city, for 21% of the paths' steps moving. All
        commodities of a slot at once, a vehicle at a time: one call per commodity was
        ~100 calls a pricing, a quarter of the time of a small city's plan."""
        out = np.array(at, dtype=np.int64)
        rows = np.flatnonzero(self._moving[com, at, k])
        if rows.size == 0:
            return out
        vehicle = self.com_vehicle[com[rows]]
        # W(z, k) - gamma(z, k) of every commodity, one row each: read by c * Z + zone
        here = (stacked[:, :, k] - gamma[:, k]).ravel()
        for v in np.unique(vehicle).tolist():
            mine = rows[vehicle == v]
            mv = self.p.moves[v]
            # each (commodity, origin) once
            pair, back = np.unique(com[mine] * self.Z + out[mine], return_inverse=True)
            c, a = np.divmod(pair, self.Z)
            lo = mv.start[a]
            n = mv.start[a + 1] - lo
            offsets = np.concatenate([[0], np.cumsum(n)[:-1]])
            idx = np.repeat(lo - offsets, n) + np.arange(int(n.sum()))
            dest = mv.dest[idx]
            val = self._move_cost[v][idx] * scale + here[np.repeat(c * self.Z, n) + dest]
            _, first = _first_min(val, offsets, n)
            out[mine] = dest[first][back.reshape(-1)]
        return out

    def _dual_bound(
        self, alpha: np.ndarray, gamma: np.ndarray, rc: np.ndarray, groups: np.ndarray, phase1: bool
    ) -> float:
        """A lower bound on every plan from any duals (weak duality), in float64.

        b'y plus, for each column, min(0, reduced cost) x its upper bound: groups' sizes
        for paths (``rc`` is each group's best path, so every path is covered), the caps
        of covered and surplus couriers (surplus at most every courier present). Computed
        from the duals themselves, it does not trust the LP solver's reported optimum.

        Sets ``priced_exact``: whether the bound is exact, not just float64's rounding of
        it. The costs are whole cost units; with whole duals too (the LP's own are
        snapped to them when they are within a hair: `_snapped`) every number summed is
        a whole number, and while their magnitudes add up to less than 2^52 float64
        holds each sum exactly. At 10M couriers the bound is ~10^12 cost units, where
        the rounding allowed otherwise (`rebalance.slotmodel._lp_error`) is one unit: a
        plan meeting the bound could not have been proven optimal.
        """
        self.priced_exact = False
        if phase1:
            return -math.inf
        p = self.p
        size = p.group_size.astype(float)
        total = float(p.slot_before.sum(axis=0).max()) if self.K else 0.0
        sur_ub = np.minimum(self.sur_hi, total)
        terms = [
            alpha * size,
            np.minimum(rc, 0.0) * size[groups],
            np.minimum(gamma - self.short_cost, 0.0) * self.cov_hi,
            np.minimum(gamma + p.surplus_cost, 0.0) * sur_ub,
        ]
        bound = sum(float(t.sum()) for t in terms)
        self.priced_exact = (
            self._whole_costs
            and _whole(alpha)
            and _whole(gamma)
            and sum(float(np.abs(t).sum()) for t in terms) < 2.0**52
        )
        return bound

    def _add(self, new: _Paths) -> None:
        assert self.paths is not None
        self._left_once = np.concatenate([self._left_once, np.zeros(new.group.size, bool)])
        self.paths = _Paths(
            np.concatenate([self.paths.group, new.group]),
            np.concatenate([self.paths.zones, new.zones]),
            np.concatenate([self.paths.cost, new.cost]),
        )

    # --------------------------------------------------------------------- run
    def run(self, deadline: float, max_rounds: int | None = None) -> None:
        """Column generation to the LP optimum (or the deadline), on one LP model (HiGHS)
        that grows by paths and is re-solved from its last basis. ``max_rounds`` (tests):
        stop after that many LP solves as if out of time.

        Only the *active* groups are in the LP: those with a path other than their stay
        in it. Every courier is counted on their stay path (the (zone, slot) rows hold
        minus those couriers, and their cost is a constant); an active group has a row,
        ``its other paths - movers = 0``, and a column of movers (at most its size, -1
        on its row and on each (zone, slot) of its stay, minus its stay's cost): the
        master LP with ``stay = size - movers``, the same optimum (the duals: `_alphas`).
        A resting group has neither: its couriers all stay, and its dual is the one that
        prices its stay at 0 (its stay would be basic), so pricing, bound and proof are
        the full master's. The LP has far fewer rows: at 10M couriers 587,478 groups and
        80,000 (zone, slot) rows, and at the end ~60,000 groups active (the second round
        wakes about half; 10,000 zones / 1M: ~70,000 of 296,655). A group is made
        active when a path of it prices in, and rests again once its other paths are
        retired (`_regroup`)."""
        from .solver import IncrementalLP

        self.paths = self._stay_paths()
        self._left_once = np.zeros(self.G, dtype=bool)
        stats = self.stats
        stats.update(rounds=0, lp_seconds=0.0, pricing_seconds=0.0)
        p = self.p
        zk = self.Z * self.K
        cap = np.where(p.cap_int[:, None] >= 0, p.cap_int[:, None], 0)
        overflow = self.capped & (p.slot_before > cap)
        phases = [True, False] if overflow.any() else [False]
        # every courier on their stay: the (zone, slot) rows hold minus them
        here = self._stay_here()
        lp = IncrementalLP(-here)
        cell = np.flatnonzero(self.capped.T.ravel()) if phases[0] else np.zeros(0, np.int64)
        fixed = 2 * zk + cell.size
        real_cost = np.concatenate(
            [
                -self.short_cost.T.ravel().astype(float),
                np.full(zk, float(p.surplus_cost)),
                np.zeros(cell.size),
            ]
        )
        phase1_cost = np.concatenate([np.zeros(2 * zk), np.ones(cell.size)])
        lp.add_columns(
            phase1_cost if phases[0] else real_cost,
            np.concatenate(
                [
                    self.cov_hi.T.ravel().astype(float),
                    self.sur_hi.T.ravel().astype(float),
                    np.full(cell.size, np.inf),
                ]
            ),
            np.arange(fixed),
            np.concatenate([np.arange(zk), np.arange(zk), cell]),
            -np.ones(fixed),
        )
        lp.set_basis(*self._stay_basis(here, cell, fixed))
        result = None
        center: tuple[np.ndarray, np.ndarray] | None = None  # duals of the best bound

        def bounded(bound: float, duals: tuple[np.ndarray, np.ndarray]) -> None:
            """Keep the best bound (any duals give one), and its duals as the centre;
            and the best of those computed exactly."""
            nonlocal center
            if center is None or bound > self.bound:
                center = duals
            self.bound = max(self.bound, bound)
            if self.priced_exact:
                self.exact_bound = max(self.exact_bound, bound)

        for phase1 in phases:
            if not phase1 and phases[0]:
                lp.set_costs(np.arange(fixed), real_cost)
                lp.set_upper(np.arange(2 * zk, fixed), np.zeros(cell.size))
                lp.set_costs(np.arange(fixed, lp.n_columns), self._column_costs(self._lp_paths))
            while True:
                stats["rounds"] = int(stats["rounds"]) + 1
                result = lp.solve(max(deadline - time.perf_counter(), 0.01))
                stats["lp_seconds"] = float(stats["lp_seconds"]) + result.seconds
                stats["lp_rows"] = lp.n_rows
                if result.status != "optimal":
                    self.status = "infeasible" if result.status == "infeasible" else "limit"
                    return
                x = self._path_values(result.x[fixed:])
                objective = float(result.objective) + self._stays_cost(phase1)
                if not phase1:
                    self.last_x = x
                y = _snapped(result.duals)
                gamma = y[:zk].reshape(self.K, self.Z).T
                alpha = self._alphas(y, phase1)
                tp = time.perf_counter()
                new = None
                if not phase1 and center is not None and SMOOTHING > 0:
                    # the smoothed duals' best paths, kept if they price in at the LP's
                    # own duals; their bound is as valid as any (weak duality)
                    a_s = SMOOTHING * center[0] + (1 - SMOOTHING) * alpha
                    g_s = SMOOTHING * center[1] + (1 - SMOOTHING) * gamma
                    new, bound = self.price(g_s, a_s, False)
                    bounded(bound, (a_s, g_s))
                    keep = self._reduced_costs(new, alpha, gamma) < -_TOL
                    new = new.take(keep)
                    if new.group.size <= TAIL * self.G:  # a mispricing: ask the LP's duals
                        new = None
                        stats["mispriced"] = int(stats.get("mispriced", 0)) + 1
                if new is None:
                    new, bound = self.price(gamma, alpha, phase1)
                    if not phase1:
                        bounded(bound, (alpha.copy(), gamma.copy()))
                stats["pricing_seconds"] = (
                    float(stats["pricing_seconds"]) + time.perf_counter() - tp
                )
                if new.group.size == 0:
                    break
                back = np.zeros(0, dtype=np.int64)
                retire = np.zeros(0, dtype=np.int64)
                if not phase1:
                    new, back = self._revive(new)
                    own = alpha.copy()  # the LP's own duals
                    own[self._row_group] = y[zk:]
                    retire = self._retire(x, alpha, gamma, own)
                start = self.paths.group.size
                if new.group.size:
                    self._add(new)
                added = np.concatenate([back, start + np.arange(new.group.size)])
                self._regroup(lp, retire, added, phase1, fixed)
                out_of_rounds = max_rounds is not None and int(stats["rounds"]) >= max_rounds
                if time.perf_counter() > deadline or out_of_rounds:
                    self.status = "limit"
                    return
            if phase1 and result.objective > 1e-6:
                self.status = "infeasible"
                return
        assert result is not None
        self.status = "optimal"
        self.objective = objective
        self.x = x
        self.alpha, self.gamma = alpha, gamma

    def _stay_here(self) -> np.ndarray:
        """Couriers in each (zone, slot) when all stay, in the LP's row order."""
        return np.bincount(
            self._stay_row,
            weights=self.p.group_size[self._stay_group].astype(float),
            minlength=self.Z * self.K,
        )

    def _stays_cost(self, phase1: bool) -> float:
        """What every courier staying costs (0 in the first phase): the LP's constant."""
        if phase1 or self.G == 0:
            return 0.0
        assert self.paths is not None
        return float(self.p.group_size @ self.paths.cost[: self.G])

    def _column_costs(self, columns: np.ndarray) -> np.ndarray:
        """Costs of the LP's columns of ``columns`` (paths; a group's movers for its stay)."""
        assert self.paths is not None
        cost = self.paths.cost[columns]
        return np.where(columns < self.G, -cost, cost)

    def _through(self, y: np.ndarray) -> np.ndarray:
        """Per group, the (zone, slot) duals summed along its stay."""
        return np.bincount(self._stay_group, weights=y[self._stay_row], minlength=self.G)

    def _alphas(self, y: np.ndarray, phase1: bool) -> np.ndarray:
        """Every group's dual in the master LP (a row ``stay + other paths = size``), from
        the LP's row duals ``y``.

        A resting group's is the value that prices its stay at 0: its stay's cost minus
        the (zone, slot) duals along it. An active group's is its row's dual, but at
        most that: the movers' bound (at most the group's size, i.e. ``stay >= 0``) is
        explicit in the LP, and with the movers at 0 out of the basis the row's dual may
        exceed it (the stay then prices below 0, a column the master does not have to
        take: its couriers all stay already). The smaller of the two is an optimal dual
        of the master over the same columns (complementary slackness holds case by
        case: movers at 0, between the bounds, at the size), so the master's pricing and
        its proof are unchanged."""
        assert self.paths is not None
        zk = self.Z * self.K
        stay_cost = np.zeros(self.G) if phase1 else self.paths.cost[: self.G]
        alpha = stay_cost - self._through(y)
        rows = self._row_group
        alpha[rows] = np.minimum(y[zk:], alpha[rows])
        return alpha

    def _regroup(
        self,
        lp: object,
        retire: np.ndarray,
        added: np.ndarray,
        phase1: bool,
        fixed: int,
    ) -> None:
        """The LP of the next round: the path columns at positions ``retire`` (among the
        LP's path columns) deleted; the groups left with no other path made to rest (row
        and movers deleted); the groups of the paths ``added`` made active (row and
        movers added); then those paths added, nonbasic at 0. The next solve starts from
        the last basis, what was deleted taken out of it."""
        from .solver import IncrementalLP

        assert isinstance(lp, IncrementalLP) and self.paths is not None
        G, zk = self.G, self.Z * self.K
        paths = self.paths
        ours = self._lp_paths
        kept = np.ones(ours.size, dtype=bool)
        kept[retire] = False
        wanted = np.zeros(G, dtype=bool)
        wanted[paths.group[added]] = True
        left = ours[kept]
        other = np.zeros(G, dtype=bool)
        other[paths.group[left[left >= G]]] = True
        movers_at = np.full(G, -1, dtype=np.int64)
        is_movers = ours < G
        movers_at[ours[is_movers]] = np.flatnonzero(is_movers)
        # To rest: no other path left, so nobody moves. Its row and movers go together:
        # only they and the row's slack fill the row, so what is left is a basis but for
        # a slack where both were basic (HiGHS completes it).
        active = self._row_group
        cand = active[~other[active] & ~wanted[active]]
        kept[movers_at[cand]] = False
        if cand.size:
            self.stats["rested"] = int(self.stats.get("rested", 0)) + int(cand.size)
        drop_rows = self._row_of[cand]
        woken = np.flatnonzero(wanted & (self._row_of < 0))
        # Woken with its row's slack basic (HiGHS' way with a new row), a group's dual is
        # 0 and its movers price at minus its stay's dual: many woken at once (the second
        # round wakes most) and the dual simplex starts far from its optimum (10M
        # couriers: 21 s instead of 5). With the movers basic instead, the group's dual is
        # its stay's, as when it rested. That basis is read from HiGHS and handed back
        # whole, only when it pays.
        statuses = lp.statuses() if woken.size * _WAKE_BASIS >= lp.n_rows else None
        lp.delete(fixed + np.flatnonzero(~kept), drop_rows)
        self._row_group = active[~np.isin(active, cand)]
        self._row_of[cand] = -1
        self._row_of[self._row_group] = zk + np.arange(self._row_group.size)
        self._row_of[woken] = zk + self._row_group.size + np.arange(woken.size)
        self._row_group = np.concatenate([self._row_group, woken])
        if woken.size:
            lp.add_rows(np.zeros(woken.size))
        columns = np.concatenate([woken, added])
        self._lp_paths = np.concatenate([ours[kept], columns])
        block = paths.take(columns)
        r, s = np.nonzero(block.zones >= 0)
        n = columns.size
        sign = np.where(columns < G, -1.0, 1.0)  # movers: minus the stay's column
        lp.add_columns(
            np.zeros(n) if phase1 else self._column_costs(columns),
            np.where(columns < G, self.p.group_size[np.minimum(columns, G - 1)], np.inf),
            np.concatenate([np.arange(n), r]),
            np.concatenate([self._row_of[block.group], s * self.Z + block.zones[r, s]]),
            np.concatenate([sign, sign[r]]),
        )
        if statuses is not None:
            col, row = statuses
            keep_row = np.ones(row.size, dtype=bool)
            keep_row[drop_rows] = False
            lp.set_statuses(
                np.concatenate([col[:fixed], col[fixed:][kept], np.where(columns < G, 1, 0)]),
                np.concatenate([row[keep_row], np.zeros(woken.size, dtype=np.int8)]),
            )

    def _stay_basis(
        self, here: np.ndarray, cell: np.ndarray, fixed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first LP's basis: everyone on their stay path (``here``: `_stay_here`),
        and in each (zone, slot) the couriers there split as covered, then surplus, then
        overflow, the first that is not full being basic. From HiGHS' own start
        (slacks), the 10,000-zone city's first LP took 386,000 pivots and 24 s."""
        zk = self.Z * self.K
        cov, sur = self.cov_hi.T.ravel(), self.sur_hi.T.ravel()
        covered = here <= cov
        surplus = ~covered & (here <= cov + sur)
        overflow = ~covered & ~surplus
        basic = np.zeros(fixed, dtype=bool)
        upper = np.zeros(fixed, dtype=bool)
        basic[:zk], basic[zk : 2 * zk] = covered, surplus
        basic[2 * zk : fixed] = overflow[cell]
        upper[:zk], upper[zk : 2 * zk] = ~covered, overflow
        return basic, upper

    def _reduced_costs(self, paths: _Paths, alpha: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """Reduced cost of each path under the duals ``alpha`` (groups), ``gamma`` (Z, K)."""
        r, s = np.nonzero(paths.zones >= 0)
        through = np.bincount(r, weights=gamma[paths.zones[r, s], s], minlength=paths.group.size)
        return paths.cost - alpha[paths.group] - through

    def _path_keys(self, paths: _Paths) -> list[bytes]:
        rows = np.column_stack([paths.group, paths.zones]).astype(np.int32)
        return [r.tobytes() for r in rows]

    def _revive(self, new: _Paths) -> tuple[_Paths, np.ndarray]:
        """The paths of ``new`` never priced in before, and the positions (in
        ``self.paths``) of those that were and were retired: these go back into the LP as
        they were (the same path, not a second copy of it)."""
        assert self.paths is not None
        if self._keys is None:
            self._keys = {k: i for i, k in enumerate(self._path_keys(self.paths))}
        keys = self._path_keys(new)
        old = np.array([self._keys.get(k, -1) for k in keys], dtype=np.int64)
        back = np.unique(old[old >= 0])
        # (a path still in the LP, or a stay, prices in again only by a rounding hair:
        # nothing to do)
        back = back[(back >= self.G) & ~np.isin(back, self._lp_paths)]
        if back.size:
            self.stats["revived"] = int(self.stats.get("revived", 0)) + int(back.size)
        keep = old < 0
        start = self.paths.group.size
        for j, k in enumerate(np.array(keys, dtype=object)[keep].tolist()):
            self._keys[k] = start + j
        return new.take(keep), back

    def _retire(
        self, x: np.ndarray, alpha: np.ndarray, gamma: np.ndarray, own: np.ndarray
    ) -> np.ndarray:
        """The positions, among the LP's path columns, of those to take out of the LP:
        the path columns it does not use whose reduced cost is above `RETIRE_MINUTES`.
        Most paths priced in early are never used again, and the simplex's every pivot
        passes over the LP's columns. Pricing is over every path, retired or not, so the
        LP's optimum and its proof are unchanged; a retired path priced in again is
        revived (`_revive`).

        Retired columns used to stay in the LP bounded to 0 (which took the 1,000-zone
        LP from 104 s to 49-60 s with GLOP). HiGHS still computes their entries in each
        pivot's row: with them deleted, a pivot at 1,000 zones / 250k took ~20% less
        time (0.100 instead of 0.125 ms over 4 x ~14,000 pivots). ``x``: the LP's value
        of each path (`_path_values`); ``alpha``: the master's group duals (`_alphas`),
        ``own`` the LP's own. A column retired may be basic at 0 (where a group's own
        dual is above the master's, its movers at 0): HiGHS then forms the next basis
        from the statuses left, a slack in its place (`IncrementalLP.delete`). Retiring
        those paths lets their groups rest: at 1,000 zones / 250k the LP ended with
        17,598 rows instead of 22,868 and took 6.9 s instead of 7.9. But such a path can
        price in again at the next duals and leave again, round after round (seen at
        10,000 zones / 1M): it leaves once at most."""
        assert self.paths is not None
        ours = self._lp_paths  # the LP's path columns, in its order (only they can retire)
        taken = self.paths.take(ours)
        rc = self._reduced_costs(taken, alpha, gamma)
        out = (x[ours] <= _TOL) & (rc > RETIRE_MINUTES * self.p.units_per_minute)
        # A column the LP may hold basic at 0 (its own reduced cost 0, where the group's
        # own dual is above the master's) leaves it once at most: so the rounds end.
        own_rc = rc + (alpha - own)[taken.group]  # the same path costs and duals along
        out &= (own_rc > _TOL * np.maximum(1.0, np.abs(taken.cost))) | ~self._left_once[ours]
        out &= ours >= self.G  # stays never retire (their group rests instead)
        idx = np.flatnonzero(out)
        if idx.size:
            self.stats["retired"] = int(self.stats.get("retired", 0)) + int(idx.size)
            self._left_once[ours[idx]] = True
        return idx

    def _path_values(self, values: np.ndarray) -> np.ndarray:
        """The value of each path, from the values of the LP's path columns: on a stay
        its group's size minus its movers, 0 on the retired."""
        assert self.paths is not None
        x = np.zeros(self.paths.group.size)
        x[: self.G] = self.p.group_size
        ours = self._lp_paths
        is_movers = ours < self.G
        x[ours[~is_movers]] = values[~is_movers]
        x[ours[is_movers]] -= values[is_movers]
        return x

    def stays_feasible(self) -> bool:
        """Whether everyone staying where they log on respects the caps in every slot."""
        cap = np.where(
            self.p.cap_int[:, None] >= 0, self.p.cap_int[:, None], np.iinfo(np.int64).max
        )
        return bool((self.p.slot_before <= cap).all())

    # ----------------------------------------------------------------- results
    def arc_duals(self, m: object) -> np.ndarray:
        """Duals in the arc form's row layout: alpha, beta = -W, gamma (see module doc)."""
        from .slotmodel import _Model

        assert isinstance(m, _Model) and self.alpha is not None and self.gamma is not None
        y = np.zeros(m.rows)
        y[: m.G] = self.alpha
        for c, W in self.potentials.items():
            lo, hi = int(m.com_lo[c]), int(m.com_hi[c])
            for k in range(lo, hi):
                y[m.n_base[c] + (k - lo) * m.Z : m.n_base[c] + (k - lo + 1) * m.Z] = -W[:, k]
        y[m.m_base : m.m_base + m.Z * m.K] = self.gamma.T.ravel()
        return y

    def arcs(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Entry arcs and moving transitions of paths taken ``counts`` times.

        Returns (entry arc indices, their counts, transitions dict com/slot/from/to/count/
        minutes/move) with duplicates summed.
        """
        p = self.p
        paths = self.paths
        assert paths is not None
        take = np.flatnonzero(counts > 0)
        grp, zones, cnt = paths.group[take], paths.zones[take], counts[take].astype(np.int64)
        rows = np.arange(grp.size)
        entry = self.entry_arc(grp, zones[rows, p.group_first[grp]])
        parts = []
        for k in range(1, self.K):
            a, b = zones[:, k - 1], zones[:, k]
            moving = (a >= 0) & (b >= 0) & (a != b)
            if moving.any():
                parts.append(
                    (
                        self.group_com[grp[moving]],
                        np.full(int(moving.sum()), k),
                        a[moving],
                        b[moving],
                        cnt[moving],
                    )
                )
        keys = ("com", "slot", "from", "to", "count")
        if parts:
            trans = {k: np.concatenate([part[i] for part in parts]) for i, k in enumerate(keys)}
        else:
            trans = {k: np.zeros(0, np.int64) for k in keys}
        veh = self.com_vehicle[trans["com"]]
        minutes = np.zeros(trans["com"].size)
        move = np.zeros(trans["com"].size, dtype=np.int64)
        for v in np.unique(veh).tolist():
            sel = veh == v
            idx = self.move_index(v, trans["from"][sel], trans["to"][sel])
            move[sel] = idx
            minutes[sel] = p.moves[v].minutes[idx]
        trans["minutes"] = minutes
        trans["move"] = move
        return entry, cnt, trans


def _whole(values: np.ndarray) -> bool:
    """Whether every value is a whole number (a block at a time: the entry costs are
    ~100 million at 10M couriers)."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return True
    flat = values.ravel()
    return all(
        bool(np.all(np.floor(flat[lo : lo + _BLOCK]) == flat[lo : lo + _BLOCK]))
        for lo in range(0, flat.size, _BLOCK)
    )


def _snapped(duals: np.ndarray) -> np.ndarray:
    """The LP's duals, each rounded to a whole cost unit when every one is within 10^-9
    (relative) of one, as they nearly always are (whole costs, a matrix of +-1): only
    float rounding of the LP solver's is lost. Any duals give a valid bound, and whole
    ones an exact one (`PathMaster._dual_bound`)."""
    whole = np.rint(duals)
    close = np.abs(duals - whole) <= 1e-9 * np.maximum(1.0, np.abs(duals))
    return whole if bool(close.all()) else duals


def _first_min(
    val: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per segment of ``val`` (``starts``, ``lengths``, none empty): its least value and
    the position in ``val`` of the first element reaching it."""
    seg = np.minimum.reduceat(val, starts)
    hit = val == np.repeat(seg, lengths)
    pos = np.where(hit, np.arange(val.size), np.iinfo(np.int64).max)
    return seg, np.minimum.reduceat(pos, starts)
