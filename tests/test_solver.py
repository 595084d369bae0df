"""The OR-Tools boundary and the exact pause-list knapsack."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalance import solver
from rebalance.solver import min_cost_circulation, min_cost_flow, min_weight_cover


def brute_force_cover(weights: list[int], demand: int) -> list[int]:
    """The documented answer by enumeration: least total, then the tie order."""
    positive = [i for i, w in enumerate(weights) if w > 0]
    if demand <= 0:
        return []
    # The tie order: items by weight, largest first, equal weights by position; a cover
    # holding the first item where two covers differ comes first.
    order = sorted(positive, key=lambda i: (-weights[i], i))
    best: tuple[int, tuple[int, ...]] | None = None
    chosen: tuple[int, ...] = ()
    for k in range(len(order) + 1):
        for subset in itertools.combinations(order, k):
            total = sum(weights[i] for i in subset)
            if total >= demand:
                key = (total, tuple(0 if i in subset else 1 for i in order))
                if best is None or key < best:
                    best, chosen = key, subset
    return sorted(positive) if best is None else sorted(chosen)


weights_lists = st.lists(st.integers(0, 60), max_size=9) | st.lists(
    st.sampled_from([0, 3, 6, 9, 12]), max_size=10
)


@settings(max_examples=200, deadline=None)
@given(weights_lists, st.integers(-5, 250))
def test_cover_is_minimal(weights, demand):
    """min_weight_cover reaches the demand with the smallest total, ties by the rule (brute force)."""
    chosen = min_weight_cover(np.array(weights, dtype=np.int64), demand).tolist()
    assert chosen == brute_force_cover(weights, demand)


@settings(max_examples=100, deadline=None)
@given(weights_lists, st.integers(1, 250))
def test_meet_in_the_middle_agrees(weights, demand):
    """Meet-in-the-middle (after an unfinished search) gives the same cover, ties included."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "_SEARCH_STATES", 0)
        chosen = min_weight_cover(np.array(weights, dtype=np.int64), demand).tolist()
    assert chosen == brute_force_cover(weights, demand)


@settings(max_examples=100, deadline=None)
@given(weights_lists, st.integers(1, 250))
def test_exhaustive_search_agrees(weights, demand):
    """The branch and bound run to the end (too many items to meet in the middle) agrees."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "_SEARCH_STATES", 0)
        mp.setattr(solver, "_MITM_ITEMS", 0)
        chosen = min_weight_cover(np.array(weights, dtype=np.int64), demand).tolist()
    assert chosen == brute_force_cover(weights, demand)


def test_huge_rates_cover_on_the_documented_grid():
    """1e12 orders/h: no huge allocation, a true cover, least on the 2**30-step grid."""
    rng = np.random.default_rng(11)
    for _ in range(30):
        rates = rng.uniform(1e11, 1e12, int(rng.integers(1, 11)))
        weights = np.rint(rates * 1000).astype(np.int64)
        demand = int(rng.integers(1, int(weights.sum())))
        start = time.perf_counter()
        chosen = min_weight_cover(weights, demand)
        assert time.perf_counter() - start < 0.5
        assert int(weights[chosen].sum()) >= demand
        shift = max(0, int(weights.sum()).bit_length() - 30)
        grid = [int(w) >> shift for w in weights]
        assert chosen.tolist() == brute_force_cover(grid, -(-demand >> shift))


def test_tiny_rates_are_exact():
    """1e-6 orders/h in millionths (weights of 1): the cover is exact, not rounded away."""
    weights = np.array([1, 1, 2, 1, 3, 1], dtype=np.int64)
    assert min_weight_cover(weights, 4).tolist() == brute_force_cover(weights.tolist(), 4)
    assert int(weights[min_weight_cover(weights, 4)].sum()) == 4


def test_no_subset_hits_the_demand():
    """Adversarial: even weights, odd demand; the gcd bound proves demand + 1 at once."""
    rng = np.random.default_rng(5)
    weights = rng.integers(1, 10**6, 1_000) * 2
    demand = int(weights.sum() // 3) | 1
    start = time.perf_counter()
    chosen = min_weight_cover(weights, demand)
    assert time.perf_counter() - start < 0.5
    assert int(weights[chosen].sum()) == demand + 1


def test_no_cover_near_the_demand_with_large_numbers():
    """Adversarial: 40 random 15-digit weights, no subset near the demand; still exact."""
    rng = np.random.default_rng(9)
    weights = rng.integers(10**14, 10**15, 40)
    demand = int(weights.sum() // 2)
    chosen = min_weight_cover(weights, demand)
    # On the grid the optimum is checked by meet-in-the-middle over all 2**40 subsets:
    shift = int(weights.sum()).bit_length() - 30
    grid = [int(w) >> shift for w in weights]
    need = -(-demand >> shift)
    halves = []
    for part in (grid[:20], grid[20:]):
        sums = np.array([0], dtype=np.int64)
        for w in part:
            sums = np.concatenate([sums, sums + w])
        halves.append(sums)
    firsts, other = halves[0], np.sort(halves[1])
    pos = np.searchsorted(other, need - firsts)
    ok = pos < other.size
    optimum = int((firsts[ok] + other[pos[ok]]).min())
    assert sum(grid[i] for i in chosen) == optimum
    assert int(weights[chosen].sum()) >= demand


def test_subset_sum_instance_is_fast():
    """A subset-sum instance that stalls branch and bound is solved in well under a second."""
    rng = np.random.default_rng(7)
    weights = rng.integers(100, 8_000, 68)
    start = time.perf_counter()
    chosen = min_weight_cover(weights, int(weights.sum()) - 12_500)
    assert time.perf_counter() - start < 1.0
    assert weights.sum() - weights[chosen].sum() <= 12_500


def test_short_zone_of_a_thousand_restaurants_takes_milliseconds():
    """1,000 open restaurants with real-looking rates: a few milliseconds per zone."""
    rng = np.random.default_rng(1)
    worst = 0.0
    for _ in range(20):
        rates = np.sort(np.round(rng.exponential(2.0, 1_000), 3))[::-1]
        weights = np.rint(rates * 1000).astype(np.int64)
        demand = int(rng.integers(1, 40)) * 2_500 + int(rng.integers(0, 2_500))
        start = time.perf_counter()
        chosen = min_weight_cover(weights, demand)
        worst = max(worst, time.perf_counter() - start)
        assert int(weights[chosen].sum()) == demand  # such a zone always has an exact cover
    assert worst < 0.05  # measured ~0.3 ms; generous for a loaded machine


def test_min_cost_flow_reports_infeasible():
    """An unbalanced network is a status, not an exception."""
    result = min_cost_flow(
        np.array([0]), np.array([1]), np.array([1]), np.array([1]), np.array([2, -2])
    )
    assert result.status == "infeasible"


def test_min_cost_flow_rounds_float_costs():
    """Float costs are rounded, never truncated (2.9 must cost 3, not 2)."""
    result = min_cost_flow(
        np.array([0, 0]),
        np.array([1, 1]),
        np.array([1, 1]),
        np.array([2.9, 2.6]),
        np.array([2, -2]),
    )
    assert result.status == "optimal" and result.cost == 6


def _circulation_lp(tails, heads, caps, costs, nodes) -> int:
    """The optimum of a circulation as an LP in scipy (HiGHS), an independent formulation:
    a network matrix, so the LP's optimum is whole."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    m = len(tails)
    rows = np.concatenate([tails, heads])
    cols = np.concatenate([np.arange(m), np.arange(m)])
    signs = np.concatenate([np.ones(m), -np.ones(m)])
    balance = sp.csr_matrix((signs, (rows, cols)), shape=(nodes, m))
    res = linprog(
        costs, A_eq=balance, b_eq=np.zeros(nodes), bounds=np.c_[np.zeros(m), caps], method="highs"
    )
    assert res.status == 0
    return round(res.fun)


def _random_circulation(rng, negative_share: float):
    """Arcs between random distinct nodes (parallel and opposite arcs included), some
    of zero capacity, the given share of them costing < 0."""
    nodes = int(rng.integers(2, 25))
    m = int(rng.integers(1, 90))
    tails = rng.integers(0, nodes, m)
    heads = (tails + rng.integers(1, nodes, m)) % nodes
    caps = rng.integers(0, 30, m)
    costs = rng.integers(0, 200, m)
    negative = rng.random(m) < negative_share
    costs[negative] = -rng.integers(1, 200, int(negative.sum()))
    return tails, heads, caps, costs, nodes


def _check_circulation(result, tails, heads, caps, costs, nodes) -> None:
    """A circulation within the capacities, costing what is said, the LP's optimum."""
    flows = result.flows
    assert result.status == "optimal"
    assert (flows >= 0).all() and (flows <= caps).all()
    balance = np.bincount(tails, weights=flows, minlength=nodes) - np.bincount(
        heads, weights=flows, minlength=nodes
    )
    assert not balance.any()
    assert int(costs @ flows) == result.cost == _circulation_lp(tails, heads, caps, costs, nodes)


@pytest.mark.parametrize("share", [0.05, 0.2, 0.6])
def test_circulations_are_optimal_by_either_solver(share, monkeypatch):
    """Random circulations come out optimal (checked against an LP in scipy) from the
    network simplex when few arcs cost < 0, from OR-Tools otherwise, and from each of
    the two whatever the share."""
    rng = np.random.default_rng(int(share * 100))
    seen = set()
    for _ in range(40):
        case = _random_circulation(rng, share)
        result = min_cost_circulation(*case)
        _check_circulation(result, *case)
        negative = np.count_nonzero(case[3] < 0) < solver._SIMPLEX_BELOW * len(case[3])
        assert result.detail == ("network simplex" if negative else "cost scaling")
        seen.add(result.detail)
        for below, method in ((1.1, "network simplex"), (0.0, "cost scaling")):
            with monkeypatch.context() as m:
                m.setattr(solver, "_SIMPLEX_BELOW", below)
                forced = min_cost_circulation(*case)
            assert forced.detail == method
            _check_circulation(forced, *case)
    assert ("network simplex" if share < 0.3 else "cost scaling") in seen


def test_a_negative_arc_is_not_simply_saturated():
    """The network simplex starts from every negative arc saturated; the optimum here
    sends 3 of its 5 units round (the cheap way back holds 3) and leaves another
    negative arc empty (its way back costs more than it gains): 3 x (-10 + 9) = -3."""
    tails = np.array([0, 1, 1, 2, 3, 2])
    heads = np.array([1, 0, 0, 3, 2, 0])
    caps = np.array([5, 3, 10, 4, 4, 9])
    costs = np.array([-10, 9, 12, -5, 7, 0])
    result = min_cost_circulation(tails, heads, caps, costs, 4)
    assert result.detail == "cost scaling"  # 2 of 6 arcs negative: above the share
    _check_circulation(result, tails, heads, caps, costs, 4)
    # four more arcs that hold nothing take the negative share below the network
    # simplex's threshold
    tails, heads = np.r_[tails, 0, 1, 2, 3], np.r_[heads, 3, 0, 1, 2]
    caps, costs = np.r_[caps, 0, 0, 0, 0], np.r_[costs, 1, 1, 1, 1]
    result = min_cost_circulation(tails, heads, caps, costs, 4)
    assert result.detail == "network simplex"  # 2 of 10 arcs negative
    _check_circulation(result, tails, heads, caps, costs, 4)
    assert result.cost == -3 and list(result.flows[:6]) == [3, 3, 0, 0, 0, 0]


def test_circulations_without_pylmcf_go_to_or_tools(monkeypatch):
    """Where pylmcf cannot be imported (no wheel for the platform), OR-Tools solves every
    circulation, to the same optimum."""
    import sys

    monkeypatch.setitem(sys.modules, "pylmcf.pylmcf_cpp", None)  # import fails
    rng = np.random.default_rng(7)
    for _ in range(10):
        case = _random_circulation(rng, 0.05)
        result = min_cost_circulation(*case)
        assert result.detail == "cost scaling"
        _check_circulation(result, *case)
