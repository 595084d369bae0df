"""The solvers: OR-Tools min-cost flow for the assignment (LEMON's network simplex for the
small circulations that repair it round by round), exact branch and bound for pause lists,
OR-Tools (GLOP, SCIP) for LPs and MIPs, HiGHS for the slot model's incremental path LP.

Nothing else in the package imports ortools, pylmcf or highspy, so swapping or faking a
solver is local.
Costs reach OR-Tools as int64 (callers scale them): SimpleMinCostFlow silently truncates
float arrays, so the cast happens here, explicitly and rounded.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

__all__ = [
    "FlowResult",
    "LinearResult",
    "cover_largest_first",
    "linear_program",
    "min_cost_circulation",
    "min_cost_flow",
    "min_weight_cover",
    "network_simplex_available",
]


@dataclass(frozen=True)
class FlowResult:
    """Outcome of one min-cost-flow solve. ``status`` is 'optimal' or 'infeasible'."""

    status: str
    flows: np.ndarray
    cost: int
    detail: str = ""


def min_cost_flow(
    tails: np.ndarray,
    heads: np.ndarray,
    capacities: np.ndarray,
    unit_costs: np.ndarray,
    supplies: np.ndarray,
) -> FlowResult:
    """Solve a min-cost flow exactly; node ``i`` has supply ``supplies[i]``.

    OR-Tools' SimpleMinCostFlow: a max-flow check of feasibility, then cost-scaling
    push-relabel, exact on integer data (it ends with an epsilon-optimal flow for an
    epsilon below one over the node count, which for integer costs is optimal).
    `rebalance.flowgen` checks the result again on its own: its residual network has no
    negative cycle, and no arc left out prices negative.
    """
    from ortools.graph.python import min_cost_flow as mcf

    solver = mcf.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(
        np.asarray(tails, dtype=np.int32),
        np.asarray(heads, dtype=np.int32),
        np.asarray(capacities, dtype=np.int64),
        np.rint(np.asarray(unit_costs)).astype(np.int64),
    )
    nodes = np.flatnonzero(supplies)
    solver.set_nodes_supplies(nodes.astype(np.int32), np.asarray(supplies, np.int64)[nodes])
    status = solver.solve()
    if status == solver.OPTIMAL:
        return FlowResult("optimal", np.asarray(solver.flows(arcs)), int(solver.optimal_cost()))
    name = getattr(status, "name", str(status))
    return FlowResult("infeasible", np.zeros(len(tails), dtype=np.int64), 0, detail=name)


#: Circulations in which fewer than this share of the arcs cost < 0 go to LEMON's network
#: simplex, the others to OR-Tools (`min_cost_circulation`). The one-slot flow's repairs
#: at 10,000 zones / 1M couriers (2026-12-06, seconds, OR-Tools / network simplex):
#: 61% of the arcs negative 0.90-0.93 / 2.1; 25% 0.83-1.05 / 0.67-0.73; 3% 0.65-0.76 /
#: 0.17-0.19; 0.01% 0.40-0.60 / 0.08-0.10. At 1,000 zones: 71% 0.09-0.12 / 0.12; 17%
#: 0.08-0.09 / 0.03; 0.5% 0.06-0.07 / 0.01.
_SIMPLEX_BELOW = 0.3


def min_cost_circulation(
    tails: np.ndarray,
    heads: np.ndarray,
    capacities: np.ndarray,
    unit_costs: np.ndarray,
    nodes: int,
) -> FlowResult:
    """A min-cost circulation (every node's supply 0) on ``nodes`` nodes, exact on integer
    costs (rounded here, as `min_cost_flow` does). Always feasible: no flow is one.

    `rebalance.flowgen` repairs each round's optimum with one, in reduced costs where only
    the arcs that joined the round cost < 0. OR-Tools' cost scaling starts again from the
    largest cost whatever the flow in place, and takes ~0.5 s for a repair of a few dozen
    arcs at 10,000 zones. A network simplex starts from every arc empty (here: the
    negative ones saturated, as LEMON takes costs >= 0), so with few negative arcs it has
    little left to route. A circulation with fewer than `_SIMPLEX_BELOW` of its arcs
    negative goes to LEMON's (pylmcf), the others to OR-Tools, as does any where pylmcf
    cannot be imported or refuses the numbers. ``detail`` says which: "network simplex"
    or "cost scaling". Either way the caller proves the result optimal on its own
    (`rebalance.flowgen`: no negative cycle left).
    """
    costs = np.rint(np.asarray(unit_costs)).astype(np.int64)
    caps = np.asarray(capacities, dtype=np.int64)
    if costs.size and np.count_nonzero(costs < 0) < _SIMPLEX_BELOW * costs.size:
        flows = _network_simplex(np.asarray(tails), np.asarray(heads), caps, costs, nodes)
        if flows is not None:
            return FlowResult("optimal", flows, int(costs @ flows), "network simplex")
    result = min_cost_flow(
        tails=tails,
        heads=heads,
        capacities=caps,
        unit_costs=costs,
        supplies=np.zeros(nodes, dtype=np.int64),
    )
    return FlowResult(result.status, result.flows, result.cost, "cost scaling")


def network_simplex_available() -> bool:
    """Whether LEMON's network simplex (pylmcf) can be imported here."""
    return _lemon_graph() is not None


def _lemon_graph() -> Any:
    """pylmcf's graph class, or None where it is not installed or its library cannot
    be loaded (a repeated import is a look-up in ``sys.modules``)."""
    try:
        from pylmcf.pylmcf_cpp import CGraph
    except (ImportError, OSError):
        return None
    return CGraph


def _network_simplex(
    tails: np.ndarray, heads: np.ndarray, caps: np.ndarray, costs: np.ndarray, nodes: int
) -> np.ndarray | None:
    """Flows of a min-cost circulation by LEMON's network simplex; None when pylmcf is
    not installed or refuses the input. It checks each cost against 2**62 and each
    supply, not the totals: `rebalance.ranges` keeps those within int64, as it does for
    OR-Tools."""
    CGraph = _lemon_graph()
    if CGraph is None:
        return None
    # LEMON takes costs >= 0: an arc that costs < 0 is saturated and turned round, its
    # flow then its capacity minus the turned arc's; saturating moves its capacity from
    # its tail's supply to its head's.
    turned = costs < 0
    supply = np.zeros(nodes, dtype=np.int64)
    np.add.at(supply, heads[turned], caps[turned])
    np.subtract.at(supply, tails[turned], caps[turned])
    # pylmcf wants the arcs sorted by (tail, head), given as keys tail * nodes + head.
    # It copies what it is given, and its solver is the peak of the one-slot flow: only
    # ``order`` and ``turned`` are held beside it.
    key = np.where(turned, heads, tails).astype(np.int64)
    key *= nodes
    key += np.where(turned, tails, heads)
    order = np.argsort(key, kind="stable")
    try:
        key = key[order]
        graph = CGraph(nodes, (key // nodes).astype(np.int32), (key % nodes).astype(np.int32))
        del key
        graph.set_node_supply(supply)
        del supply
        graph.set_edge_capacities(np.ascontiguousarray(caps[order]))
        graph.set_edge_costs(np.abs(costs)[order])
        graph.set_pivot_rule("candidate_list")
        graph.solve()
        sorted_flows = graph.result()
    except (RuntimeError, ValueError, OverflowError, TypeError):
        return None
    flows = np.empty(costs.size, dtype=np.int64)
    flows[order] = sorted_flows
    return np.where(turned, caps - flows, flows)


#: Weights are compared on a grid of at most 2**30 steps of the zone's total weight.
_GRID_BITS = 30


def min_weight_cover(weights: np.ndarray, demand: int) -> np.ndarray:
    """Indices of items whose total weight is >= ``demand`` and as small as possible.

    The pause list: keep the most orders the couriers can serve, i.e. pause a set of
    restaurants of minimal total at least the deficit. Weights are integers (callers
    scale rates to thousandths of an order, which defines equality); items of weight 0
    are never chosen. When nothing covers the demand, every positive item is returned.

    Ties: among the covers of least total, the one chosen is the first in this order:
    list the items by weight, largest first (equal weights by position), and compare two
    covers at the first item where they differ; the cover holding that item comes
    first. So ties go to larger items; `_pause_lists` passes restaurants sorted by
    expected orders (descending) then restaurant_id, so equal weights go to the smaller
    id. The result does not depend on which method below found the optimum.

    Magnitudes: when the items' total exceeds 2**30 units (over a million orders per
    hour in thousandths), weights are compared on a grid of total / 2**30 instead:
    each weight rounded down and the demand up to a multiple of the step, so the
    chosen set still covers the demand and is least to within one step per item
    (10**-9 of the total). Below that, which covers every real zone, it is exact to
    the unit. Either way time and memory do not grow with the size of the numbers.

    Method, exact on that grid:

    1. Depth-first branch and bound over the items by weight, include before exclude,
       which visits covers in the tie order, so the first cover of least total found
       is the one the rule chooses. A branch that cannot reach the demand with all its
       remaining items is cut; items that alone reach the incumbent are skipped; the
       cheapest single item completing a branch is found by bisection; states (item,
       partial sum) are explored once; and the search stops when a cover equals the
       lower bound (the demand rounded up to a multiple of the weights' gcd), which
       proves it optimal. Real pause lists stop there after a few hundred states.
    2. If that has not finished after `_SEARCH_STATES` states (no cover at the bound,
       say) and at most `_MITM_ITEMS` items can still be in a better cover:
       meet-in-the-middle, all subset sums of each half (2**(n/2) each).
    3. Otherwise the branch and bound runs to the end: at most items x distinct partial
       sums below the incumbent (<= 2**30) states, like a DP over sums but touching only
       sums that occur. Subset sum is NP-hard, so some inputs are slow here; on the
       grid they need many items with no cover at the lower bound.
    """
    weights = np.asarray(weights)
    if demand <= 0 or weights.size == 0:
        return np.array([], dtype=np.int64)
    positive = np.flatnonzero(weights > 0)
    # Largest first, equal weights by position (a stable sort of the negated weights).
    order = positive[np.argsort(-weights[positive], kind="stable")]
    w = weights[order].tolist()  # Python ints (any other kind of number: truncated)
    if weights.dtype.kind not in "iu":
        w = [int(x) for x in w]
    return np.sort(order[cover_largest_first(w, int(demand))])


def cover_largest_first(w: list[int], demand: int) -> list[int]:
    """`min_weight_cover` of weights already in its order: ``w`` holds integers > 0,
    largest first, equal ones in the order their ties go. Positions in ``w``.

    For a caller that has its items in that order anyway (`rebalance.optimize`'s pause
    lists, 3,843 short zones at 10,000 zones): the array steps of `min_weight_cover`
    were a third of its time there.
    """
    if demand <= 0 or not w:
        return []
    total = sum(w)
    if total <= demand:
        return list(range(len(w)))  # everything must go (and may still not be enough)
    shift = max(0, total.bit_length() - _GRID_BITS)
    if shift:
        w = [x >> shift for x in w]  # floor
        demand = -(-demand >> shift)  # ceiling: a cover on the grid covers the demand
        nonzero = [k for k, x in enumerate(w) if x > 0]
        if sum(w) <= demand:
            return list(range(len(w)))
        return [nonzero[k] for k in _cover([w[k] for k in nonzero], demand)]
    return _cover(w, demand)


#: States the branch and bound explores before a small instance switches to
#: meet-in-the-middle (real pause lists need a few hundred).
_SEARCH_STATES = 5_000
#: Meet-in-the-middle enumerates 2**(items / 2) sums per half: up to 4M int64 values.
_MITM_ITEMS = 44


def _cover(w: list[int], demand: int) -> list[int]:
    """Positions in ``w`` (sorted descending, all > 0, sum > demand) of the tie-first
    cover of least total; see `min_weight_cover`."""
    best_total, best, done = _search(w, demand, _SEARCH_STATES)
    if done:
        return best
    # Items heavier than the incumbent are in no better cover; equal ones may be.
    keep = [k for k, x in enumerate(w) if x <= best_total]
    if len(keep) <= _MITM_ITEMS and sum(w[k] for k in keep) < 2**62:
        found = _meet_in_the_middle([w[k] for k in keep], demand)
        if found is not None:
            return [keep[k] for k in found]
    return _search(w, demand, None)[1]


#: Items taken on a branch, as a linked list of runs (first, end, rest): items first..end-1
#: were taken after those of rest. Branches share their prefix.
_Taken: TypeAlias = "tuple[int, int, _Taken] | None"


def _search(w: list[int], demand: int, budget: int | None) -> tuple[int, list[int], bool]:
    """Depth-first branch and bound: (best total, its positions, proven optimal).

    Not proven only when ``budget`` states were explored first.
    """
    m = len(w)
    neg = [-x for x in w]  # ascending, for bisect
    prefix = [*itertools.accumulate(w, initial=0)]  # prefix[k] = sum(w[:k]), increasing
    total = prefix[m]
    g = math.gcd(*w)
    bound = -(-demand // g) * g  # no cover totals less
    best_total = total
    best: _Taken = None
    best_all = True  # the incumbent is "everything", which always covers
    seen: set[int] = set()
    # Explicit stack of (next item, partial sum, items taken, end). With end < 0, a
    # branch. Otherwise a chain: the items next..end-1 were all taken from that sum,
    # and the entry stands for the "leave it" branch of each, the last one first (a
    # chain is walked in O(log m) by bisection on the prefix sums, its branches made
    # when they are reached). Exclusion branches are pushed below inclusion ones, so
    # inclusion is explored first.
    stack: list[tuple[int, int, _Taken, int]] = [(0, 0, None, -1)]
    done = True
    while stack:
        k, s, taken, end = stack.pop()
        if end >= 0:  # the chain's last "leave it" branch: items k..end-2 taken
            t = end - 1
            if t > k:
                stack.append((k, s, taken, t))
                s, taken = s + prefix[t] - prefix[k], (k, t, taken)
            k = t + 1
        key = s * (m + 1) + k
        if key in seen:
            continue
        if budget is not None and len(seen) >= budget:
            done = False
            break
        seen.add(key)
        need = demand - s  # > 0 on every branch on the stack
        # Items that alone would bring the branch to the incumbent cannot improve it.
        k = bisect.bisect_right(neg, s - best_total, lo=k)
        if total - prefix[k] < need:
            continue
        # Items that alone complete the branch: the cheapest is the last of them, the
        # first of its run of equal weights in the tie order.
        t = bisect.bisect_right(neg, -need, lo=k)
        if t > k:
            j = bisect.bisect_left(neg, neg[t - 1], lo=k)
            best_total, best, best_all = s + w[j], (j, j + 1, taken), False
            if best_total == bound:
                break
        if t < m and total - prefix[t] >= need:
            # Items below `need`: take t (then go on), or leave it. While the next item
            # still leaves the branch short, taking it is the only thing the search
            # would do there (nothing to skip, no single item completes): take the
            # whole chain t..e-1 at once, e the first item after t that completes the
            # branch together with the chain before it (or m).
            e = bisect.bisect_left(prefix, demand - s + prefix[t], lo=t + 2) - 1
            stack.append((t, s, taken, e))
            stack.append((e, s + prefix[e] - prefix[t], (t, e, taken), -1))
    if best_all:
        return best_total, list(range(m)), done
    items: list[int] = []
    while best is not None:
        first, last, best = best
        items.extend(range(last - 1, first - 1, -1))
    return best_total, items[::-1], done


def _meet_in_the_middle(w: list[int], demand: int) -> list[int] | None:
    """The tie-first least cover by enumerating the subset sums of each half.

    Exact in 2**(n/2) time and memory whatever the magnitudes: the optimum is the least
    ``a + b >= demand`` over sums a of the first half and b of the second (bisection in
    the sorted second half). In a half's enumeration the index of a subset has its
    first item as the highest bit, so the tie order is the largest index: the first
    half's largest index that completes to the optimum, then the second half's.
    None when no cover exists (never, given the caller's checks).
    """
    h = len(w) // 2
    first, second = _subset_sums(w[:h]), _subset_sums(w[h:])
    sorted_second = np.sort(second)
    pos = np.searchsorted(sorted_second, demand - first)
    ok = pos < sorted_second.size
    if not ok.any():
        return None
    totals = first[ok] + sorted_second[pos[ok]]
    optimum = int(totals.min())
    rest = optimum - first
    at = np.minimum(np.searchsorted(sorted_second, rest), sorted_second.size - 1)
    a = int(np.flatnonzero(sorted_second[at] == rest).max())
    b = int(np.flatnonzero(second == optimum - int(first[a])).max())
    return [k for k in range(h) if a >> (h - 1 - k) & 1] + [
        h + k for k in range(len(w) - h) if b >> (len(w) - h - 1 - k) & 1
    ]


def _subset_sums(w: list[int]) -> np.ndarray:
    """All 2**len(w) subset sums; bit len(w)-1-k of an index says whether item k is in."""
    sums = np.zeros(1, dtype=np.int64)
    for x in reversed(w):
        sums = np.concatenate([sums, sums + x])
    return sums


@dataclass(frozen=True)
class LinearResult:
    """Outcome of an LP or MIP solve.

    ``status``: 'optimal' (proven), 'feasible' (a limit stopped it with a solution),
    'infeasible', or 'limit' (stopped with no solution). ``bound`` is the solver's proven
    bound on the optimum (the objective itself for an LP solved to optimality).
    ``duals``/``reduced_costs`` are those of an LP (``c - A^T y`` convention).
    """

    status: str
    x: np.ndarray
    objective: float
    bound: float
    duals: np.ndarray
    reduced_costs: np.ndarray
    seconds: float


def _scip_memory_mb() -> int | None:
    """Half the memory the machine has available now, in MB (at least 256), or None
    where that cannot be read (not Linux). SCIP stops there as at the time limit, with
    its best solution if any: an integer programme of the slot model at 1,000 zones /
    100,000 couriers with a surplus cost took 11 GB in 19 s and, unbounded, the whole
    24 GB machine, until the kernel killed the plan."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return max(int(line.split()[1]) // 2048, 256)
    except (OSError, ValueError, IndexError):
        return None
    return None


def linear_program(
    cost: np.ndarray,
    matrix: object,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    col_lo: np.ndarray,
    col_hi: np.ndarray,
    *,
    integer: np.ndarray | None = None,
    time_limit: float | None = None,
) -> LinearResult:
    """Minimise ``cost @ x`` s.t. ``row_lo <= A x <= row_hi``, ``col_lo <= x <= col_hi``.

    ``matrix`` is a scipy CSR matrix. Without ``integer`` this is an LP solved by GLOP
    (primal simplex; its duals are exact for the basis it proves optimal). With an
    ``integer`` mask it is a MIP solved by SCIP to a zero gap, so 'optimal' is a proof.
    """
    import time

    from ortools.linear_solver.python import model_builder_helper as mbh

    t0 = time.perf_counter()
    model = mbh.ModelBuilderHelper()
    lo: Any = np.asarray(col_lo, float)
    hi: Any = np.asarray(col_hi, float)
    c: Any = np.asarray(cost, float)
    rlo: Any = np.asarray(row_lo, float)
    rhi: Any = np.asarray(row_hi, float)
    model.fill_model_from_sparse_data(lo, hi, c, rlo, rhi, matrix)
    is_mip = integer is not None and bool(np.any(integer))
    if is_mip:
        assert integer is not None
        for j in np.flatnonzero(integer).tolist():
            model.set_var_integrality(j, True)
    solver = mbh.ModelSolverHelper("scip" if is_mip else "glop")
    if time_limit is not None:
        solver.set_time_limit_in_seconds(max(float(time_limit), 0.01))
    memory = _scip_memory_mb() if is_mip else None
    if memory is not None:
        solver.set_solver_specific_parameters(f"limits/memory = {memory}")
    solver.solve(model)
    status = solver.status()
    seconds = time.perf_counter() - t0
    n = len(cost)
    empty = np.zeros(0)
    name = getattr(status, "name", str(status))
    if name == "OPTIMAL":
        x = np.asarray(solver.variable_values(), float)
        obj = float(solver.objective_value())
        if is_mip:
            return LinearResult(
                "optimal", x, obj, float(solver.best_objective_bound()), empty, empty, seconds
            )
        return LinearResult(
            "optimal",
            x,
            obj,
            obj,
            np.asarray(solver.dual_values(), float),
            np.asarray(solver.reduced_costs(), float),
            seconds,
        )
    if name == "FEASIBLE" and solver.has_solution():
        x = np.asarray(solver.variable_values(), float)
        bound = float(solver.best_objective_bound()) if is_mip else -np.inf
        return LinearResult(
            "feasible", x, float(solver.objective_value()), bound, empty, empty, seconds
        )
    if name == "INFEASIBLE":
        return LinearResult("infeasible", np.zeros(n), np.nan, np.nan, empty, empty, seconds)
    return LinearResult("limit", np.zeros(n), np.nan, -np.inf, empty, empty, seconds)


class IncrementalLP:
    """An LP that grows by columns and is re-solved from its last basis (HiGHS).

    Column generation adds a few columns between solves; HiGHS keeps its basis in
    between (the new columns enter nonbasic at 0), so a re-solve takes a few thousand
    pivots instead of a solve from scratch. Rows are equalities ``row == rhs``;
    ``c - A^T y`` is the reduced-cost convention. Columns arrive as arrays (one call per
    batch, not one per nonzero). Measured against the OR-Tools GLOP model this replaced
    (same rounds, same optimum; 8 slots, 2026-12-05): 1,000 zones / 100,000 couriers
    22.5 -> 12.5 s of solving, 10,000 zones / 1M couriers proven optimal in 142 s
    instead of 183 s, with 0.7 GB less memory (123 s once the first LP starts from
    `set_basis`).
    """

    def __init__(self, rhs: np.ndarray) -> None:
        self._highs = _new_highs()
        h = self._highs
        # presolve would drop the basis kept between solves
        h.setOptionValue("presolve", "off")
        # No cost perturbation: every re-solve perturbed the costs afresh and then took
        # ~1,500 pivots (at 10,000 zones ~14,000) to add a handful of columns. Without it
        # (same optimum; 8 slots, slots_bench's cities, 2026-12-05): 200 zones / 20k /
        # 50k 23,895 -> 19,446 pivots, 1,000 / 100k / 40k 64,115 -> 53,175, 1,000 / 100k
        # / 250k 153,417 -> 116,078 (25 -> 27 rounds, LP 15.1 -> 13.0 s), 10,000 / 1M /
        # 2.5M 607,853 -> 447,202 (21 -> 20 rounds, LP 84.4 -> 71.5 s).
        h.setOptionValue("dual_simplex_cost_perturbation_multiplier", 0.0)
        # "threads" is left alone: HiGHS refuses to run when it differs from what its
        # process-wide scheduler started with (a notebook's own highspy model, say)
        rhs = np.asarray(rhs, dtype=float)
        m = rhs.size
        empty = np.zeros(0, dtype=np.int32)
        h.addRows(m, rhs, rhs, 0, np.zeros(m, dtype=np.int32), empty, np.zeros(0))
        self._m, self._n = m, 0

    @property
    def n_columns(self) -> int:
        return self._n

    def add_columns(
        self,
        cost: np.ndarray,
        upper: np.ndarray,
        column_of_entry: np.ndarray,
        row_of_entry: np.ndarray,
        value_of_entry: np.ndarray,
    ) -> None:
        """Add columns (lower bound 0) with their nonzeros given as (column, row, value),
        columns numbered from 0 within this call."""
        cost = np.asarray(cost, dtype=float)
        k = cost.size
        upper = _highs_upper(upper)
        col = np.asarray(column_of_entry, dtype=np.int64)
        order = np.argsort(col, kind="stable")
        starts = np.zeros(k, dtype=np.int32)
        np.cumsum(np.bincount(col, minlength=k)[:-1], out=starts[1:])
        rows = np.asarray(row_of_entry)[order].astype(np.int32)
        values = np.asarray(value_of_entry, dtype=float)[order]
        self._highs.addCols(k, cost, np.zeros(k), upper, rows.size, starts, rows, values)
        self._n += k

    def delete(self, columns: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Delete columns, then rows; those after each one deleted move down, in order.
        The basis stays a basis when the columns deleted are all nonbasic and the rows
        deleted all basic; otherwise the next solve starts from the statuses left, HiGHS
        putting a row's slack where a column is missing (a column deleted basic at 0
        leaves the solution as it was: no pivot needed).

        Recent HiGHS keeps the statuses through deletions (1.16 does). Older ones (1.7.2,
        the lowest this package allows) drop them, and the next solve then starts from
        scratch: at 1,000 zones / 40,000 restaurants the slot LP took 2.28 million pivots
        and ran into the time limit instead of 53,175. With such a HiGHS the statuses are
        kept here and handed back (`_deleting_keeps_basis`), as a basis for HiGHS to
        complete ("alien")."""
        columns = np.unique(np.asarray(columns, dtype=np.int32))
        rows = np.unique(np.asarray([] if rows is None else rows, dtype=np.int32))
        h = self._highs
        kept = None
        if not _deleting_keeps_basis():
            basis = h.getBasis()
            if basis.valid:
                keep = np.ones(self._n, dtype=bool)
                keep[columns] = False
                keep_row = np.ones(self._m, dtype=bool)
                keep_row[rows] = False
                status = zip(basis.col_status, keep.tolist(), strict=True)
                row_status = zip(basis.row_status, keep_row.tolist(), strict=True)
                kept = ([s for s, k in status if k], [s for s, k in row_status if k])
        if columns.size:
            h.deleteCols(columns.size, columns)
            self._n -= columns.size
        if rows.size:
            h.deleteRows(rows.size, rows)
            self._m -= rows.size
        if kept is not None:
            self._set_statuses(*kept, alien=True)

    @property
    def n_rows(self) -> int:
        return self._m

    def add_rows(self, rhs: np.ndarray) -> None:
        """Add empty equality rows ``row == rhs``, last (columns added later fill them)."""
        rhs = np.asarray(rhs, dtype=float)
        k = rhs.size
        empty = np.zeros(0, dtype=np.int32)
        self._highs.addRows(k, rhs, rhs, 0, np.zeros(k, dtype=np.int32), empty, np.zeros(0))
        self._m += k

    def set_costs(self, columns: np.ndarray, cost: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int32)
        self._highs.changeColsCost(columns.size, columns, np.asarray(cost, dtype=float))

    def set_upper(self, columns: np.ndarray, upper: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int32)
        self._highs.changeColsBounds(
            columns.size, columns, np.zeros(columns.size), _highs_upper(upper)
        )

    def set_basis(self, basic: np.ndarray, at_upper: np.ndarray) -> None:
        """Start the next solve from a basis: the columns ``basic`` in it, the others at
        their upper bound where ``at_upper``, else at 0; every row's slack out (the rows
        are equalities). It must be a basis: as many columns as rows, nonsingular."""
        code = np.where(basic, 1, np.where(at_upper, 2, 0)).astype(np.int8)
        self._set_codes(code, np.zeros(self._m, dtype=np.int8))

    def statuses(self) -> tuple[np.ndarray, np.ndarray]:
        """The last solve's basis as codes (`highspy.HighsBasisStatus` values: 0 at the
        lower bound, 1 basic, 2 at the upper bound) per column and per row. Read one by
        one from HiGHS: ~0.5 s per million."""
        basis = self._highs.getBasis()
        return (
            np.array([s.value for s in basis.col_status], dtype=np.int8),
            np.array([s.value for s in basis.row_status], dtype=np.int8),
        )

    def set_statuses(self, columns: np.ndarray, rows: np.ndarray) -> None:
        """Start the next solve from these codes (`statuses`), as a basis for HiGHS to
        complete with slacks where it lacks a column."""
        self._set_codes(columns, rows, alien=True)

    def _set_codes(self, columns: np.ndarray, rows: np.ndarray, *, alien: bool = False) -> None:
        """`_set_statuses` from status codes (`statuses`)."""
        import highspy

        table = {s.value: s for s in highspy.HighsBasisStatus.__members__.values()}
        self._set_statuses(
            [table[c] for c in np.asarray(columns).tolist()],
            [table[c] for c in np.asarray(rows).tolist()],
            alien=alien,
        )

    def _set_statuses(self, columns: list[Any], rows: list[Any], *, alien: bool = False) -> None:
        """Hand HiGHS a basis: each column's and row's `highspy.HighsBasisStatus`.
        ``alien``: it may have too few basic columns, or be singular, and HiGHS is to
        complete it (with slacks)."""
        import highspy

        basis = highspy.HighsBasis()
        basis.col_status, basis.row_status, basis.valid = columns, rows, True
        basis.alien = alien
        self._highs.setBasis(basis)

    def solve(self, time_limit: float | None = None) -> LinearResult:
        import time

        import highspy

        h = self._highs
        # HiGHS counts its time limit from the object's first solve, not this one
        limit = math.inf if time_limit is None else max(time_limit, 0.01)
        h.setOptionValue("time_limit", h.getRunTime() + limit)
        t0 = time.perf_counter()
        ran = h.run()
        status = h.getModelStatus()
        kind = highspy.HighsModelStatus
        # HiGHS's dual simplex may end a solve from the kept basis without a verdict
        # ("Unknown", run status kWarning: a 7-zone, 6-courier city after 10 pivots, a
        # crash with exit 1); the same LP solved afresh is optimal in a few pivots.
        # Solve again from no basis, then once more with the cost perturbation this
        # object turns off; only a third failure is one.
        for retry in ("fresh", "perturbed"):
            if status != kind.kUnknown:
                break
            h.clearSolver()
            if retry == "perturbed":
                h.setOptionValue("dual_simplex_cost_perturbation_multiplier", 1.0)
            ran = h.run()
            status = h.getModelStatus()
            if retry == "perturbed":
                h.setOptionValue("dual_simplex_cost_perturbation_multiplier", 0.0)
        seconds = time.perf_counter() - t0
        empty = np.zeros(0)
        if status == kind.kModelEmpty:
            # no columns (a city without zones): HiGHS solves nothing and says "Empty";
            # the all-zero point is the optimum when every row admits 0, else none is
            lp = h.getLp()
            lower, upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
            if ((lower <= 0) & (upper >= 0)).all():
                obj = float(lp.offset_)
                x, duals = np.zeros(h.getNumCol()), np.zeros(h.getNumRow())
                return LinearResult("optimal", x, obj, obj, duals, empty, seconds)
            return LinearResult("infeasible", empty, np.nan, -np.inf, empty, empty, seconds)
        if status != kind.kOptimal:
            if status in {kind.kInfeasible, kind.kUnboundedOrInfeasible}:
                name = "infeasible"
            elif status in {kind.kTimeLimit, kind.kIterationLimit, kind.kInterrupt}:
                name = "limit"
            else:  # not a limit: saying "time limit" would send the user the wrong way
                raise RuntimeError(
                    f"HiGHS stopped the slot model's LP: {h.modelStatusToString(status)} "
                    f"(run status {ran})"
                )
            return LinearResult(name, empty, np.nan, -np.inf, empty, empty, seconds)
        solution = h.getSolution()
        x = np.asarray(solution.col_value, dtype=float)
        duals = np.asarray(solution.row_dual, dtype=float)
        obj = float(h.getInfo().objective_function_value)
        return LinearResult("optimal", x, obj, obj, duals, empty, seconds)


_keeps_basis: bool | None = None


def _deleting_keeps_basis() -> bool:
    """Whether this HiGHS keeps the basis statuses through deletions: a valid basis when
    nonbasic columns and then basic rows are deleted, and the statuses left (completed
    with a slack) when a column basic at 0 is deleted with its row; found once per
    process, on LPs of two and four rows."""
    global _keeps_basis
    if _keeps_basis is None:
        lp = IncrementalLP(np.ones(1))  # x0 + x1 = 1, 0 <= x <= 10
        lp.add_columns(
            np.array([1.0, 2.0]), np.full(2, 10.0), np.arange(2), np.zeros(2), np.ones(2)
        )
        h = lp._highs
        h.run()
        h.deleteCols(1, np.array([1], dtype=np.int32))  # the dearer one: nonbasic
        kept = bool(h.getBasis().valid)
        lp._n -= 1
        lp.add_rows(np.zeros(1))  # x2 = 0: the row's slack basic, x2 nonbasic
        lp.add_columns(np.ones(1), np.full(1, 10.0), np.zeros(1), np.ones(1), np.ones(1))
        h.run()
        h.deleteCols(1, np.array([1], dtype=np.int32))
        h.deleteRows(1, np.array([1], dtype=np.int32))
        kept = kept and bool(h.getBasis().valid)
        # p, basic at 0, deleted with m and their row: the re-solve needs at most one
        # pivot when the statuses are kept (three from scratch)
        lp = basic_at_zero_lp()
        h = lp._highs
        h.run()
        h.deleteCols(2, np.array([4, 5], dtype=np.int32))
        h.deleteRows(1, np.array([3], dtype=np.int32))
        h.run()
        _keeps_basis = kept and h.getInfo().simplex_iteration_count <= 1
    return _keeps_basis


def basic_at_zero_lp() -> IncrementalLP:
    """A small LP whose optimum holds a column basic at 0 (column 4), for the deletion
    probe and the tests: rows x0 + x1 = 2, x0 = c0, x1 = c1 (c0, c1 at most 5, worth -1
    each), and a group's row p - m = 0; p (column 4, cost 0) and m (column 5, cost 0, at
    most 4) also sit in the second and third rows."""
    lp = IncrementalLP(np.array([2.0, 0.0, 0.0, 0.0]))
    lp.add_columns(
        np.array([1.0, 3.0, -1.0, -1.0, 0.0, 0.0]),
        np.array([9.0, 9.0, 5.0, 5.0, 9.0, 4.0]),
        np.array([0, 0, 1, 1, 2, 3, 4, 4, 5, 5]),
        np.array([0, 1, 0, 2, 1, 2, 3, 1, 3, 2]),
        np.array([1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0]),
    )
    return lp


def _highs_upper(upper: np.ndarray) -> np.ndarray:
    """Upper bounds as HiGHS takes them: floats, its own infinity for none."""
    import highspy

    return np.where(np.isfinite(upper), np.asarray(upper, dtype=float), highspy.kHighsInf)


def _new_highs() -> Any:
    """A HiGHS instance that never writes to standard output (where ``--format json``
    writes the plan).

    HiGHS logs its banner the first time an instance with logging on is given a model
    or a callback, and ``highspy.Highs()`` sets a callback as it is made, while logging
    is still on. The binding's own class (``highspy._core._Highs``, of which
    ``highspy.Highs`` is a thin subclass adding callbacks and interrupt handling, none of
    which is used here) has no callback to set: with logging off before anything else,
    no banner is ever due. (Before, the banner was kept off by pointing fd 1 at the null
    device while the first instance was made, which could swallow what another thread
    of the process wrote at that moment.)"""
    from highspy._core import _Highs

    made = _Highs()
    made.setOptionValue("output_flag", False)
    return made
