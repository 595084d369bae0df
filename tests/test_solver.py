"""The OR-Tools boundary and the exact pause-list knapsack."""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalance.solver import min_cost_flow, min_weight_cover


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=9), st.integers(-5, 250))
def test_cover_is_minimal(weights, demand):
    """min_weight_cover reaches the demand with the smallest possible total (brute force)."""
    chosen = min_weight_cover(np.array(weights, dtype=np.int64), demand)
    assert len(set(chosen.tolist())) == len(chosen)
    got = sum(weights[i] for i in chosen)
    covers = [
        sum(weights[i] for i in s)
        for k in range(len(weights) + 1)
        for s in itertools.combinations(range(len(weights)), k)
        if sum(weights[i] for i in s) >= demand
    ]
    if demand <= 0:
        assert got == 0
    elif covers:
        assert got == min(covers)
        assert all(weights[i] > 0 for i in chosen)
    else:
        assert got == sum(weights)  # nothing covers: everything with orders is paused


def test_subset_sum_instance_is_fast():
    """A subset-sum instance that stalls branch and bound is solved in well under a second."""
    rng = np.random.default_rng(7)
    weights = rng.integers(100, 8_000, 68)
    start = time.perf_counter()
    chosen = min_weight_cover(weights, int(weights.sum()) - 12_500)
    assert time.perf_counter() - start < 1.0
    assert weights.sum() - weights[chosen].sum() <= 12_500


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
