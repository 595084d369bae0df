"""The OR-Tools boundary: min-cost flow for the assignment, knapsack for pause lists.

Nothing else in the package imports ortools, so swapping or faking the solver is local.
Costs reach OR-Tools as int64 (callers scale them): SimpleMinCostFlow silently truncates
float arrays, so the cast happens here, explicitly and rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FlowResult", "max_weight_subset", "min_cost_flow"]


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

    Integral data gives an integral optimum, proven by the network simplex / cost
    scaling algorithm: this is the whole optimality proof the plan reports.
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


def max_weight_subset(weights: np.ndarray, capacity: int) -> np.ndarray:
    """Indices of items of maximal total weight not exceeding ``capacity`` (0/1 knapsack).

    Weight and value are the same here (keep the most orders that the couriers can
    serve), so the complement loses the fewest orders.
    """
    weights = np.asarray(weights, dtype=np.int64)
    if capacity <= 0 or weights.size == 0:
        return np.flatnonzero(weights <= 0) if capacity >= 0 else np.array([], dtype=np.int64)
    if int(weights.sum()) <= capacity:
        return np.arange(weights.size)
    from ortools.algorithms.python import knapsack_solver as ks

    solver = ks.KnapsackSolver(
        ks.SolverType.KNAPSACK_MULTIDIMENSION_BRANCH_AND_BOUND_SOLVER, "pause"
    )
    solver.init(weights.tolist(), [weights.tolist()], [int(capacity)])
    solver.solve()
    chosen = [i for i in range(weights.size) if solver.best_solution_contains(i)]
    return np.asarray(chosen, dtype=np.int64)
