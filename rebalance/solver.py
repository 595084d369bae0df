"""The solvers: OR-Tools min-cost flow for the assignment, an exact DP for pause lists.

Nothing else in the package imports ortools, so swapping or faking the solver is local.
Costs reach OR-Tools as int64 (callers scale them): SimpleMinCostFlow silently truncates
float arrays, so the cast happens here, explicitly and rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FlowResult", "LinearResult", "linear_program", "min_cost_flow", "min_weight_cover"]


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


def min_weight_cover(weights: np.ndarray, demand: int) -> np.ndarray:
    """Indices of items whose total weight is >= ``demand`` and as small as possible.

    The pause list is a 0/1 knapsack: keep the most orders the couriers can serve, i.e.
    pause a set of restaurants of minimal total at least the deficit. Solved exactly by
    dynamic programming over reachable sums up to ``demand + max(weight)``: the deficit
    is a few couriers' worth of orders, so this is small and fast however many
    restaurants the zone has. (OR-Tools' branch-and-bound knapsack was tried first and
    can run for minutes on such subset-sum instances, where weight equals value.)
    Items are taken in the order given, so ties are broken deterministically.
    """
    weights = np.asarray(weights, dtype=np.int64)
    if demand <= 0 or weights.size == 0:
        return np.array([], dtype=np.int64)
    positive = np.flatnonzero(weights > 0)
    if int(weights[positive].sum()) <= demand:
        return positive  # everything must go (and may still not be enough)
    limit = int(demand + weights[positive].max())  # the optimum never exceeds this
    reached_by = np.full(limit + 1, -1, dtype=np.int64)  # item that first reached a sum
    reach = np.zeros(limit + 1, dtype=bool)
    reach[0] = True
    for item in positive.tolist():
        w = int(weights[item])
        # Sums above the limit are never needed: adding items until the demand is met
        # overshoots it by less than the largest weight.
        fresh = np.zeros_like(reach)
        fresh[w:] = reach[: limit + 1 - w]
        fresh &= ~reach
        reached_by[fresh] = item
        reach |= fresh
    total: int = demand + int(np.argmax(reach[demand:]))
    chosen = []
    while total > 0:
        # reached_by[total] was added on top of a sum reached by earlier items only,
        # so walking back uses each item at most once.
        item = int(reached_by[total])
        chosen.append(item)
        total -= int(weights[item])
    return np.sort(np.asarray(chosen, dtype=np.int64))


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
    """An LP that grows by columns and is re-solved from its last basis (GLOP).

    Column generation adds a few columns between solves; GLOP keeps its factorised basis
    in between, so a re-solve takes a few pivots instead of a solve from scratch.
    Rows are equalities ``row == rhs``. ``c - A^T y`` is the reduced-cost convention.
    """

    def __init__(self, rhs: np.ndarray) -> None:
        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

        self._solver = pywraplp.Solver.CreateSolver("GLOP")
        # without presolve GLOP keeps its basis between solves (incrementality)
        self._solver.SetSolverSpecificParametersAsString("use_preprocessing: false")
        self._inf = self._solver.infinity()
        self._rows = [self._solver.Constraint(float(b), float(b)) for b in np.asarray(rhs, float)]
        self._objective = self._solver.Objective()
        self._objective.SetMinimization()
        self._vars: list[Any] = []

    @property
    def n_columns(self) -> int:
        return len(self._vars)

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
        first = len(self._vars)
        for j, (c, u) in enumerate(
            zip(np.asarray(cost, float).tolist(), np.asarray(upper, float).tolist(), strict=True)
        ):
            var = self._solver.NumVar(0.0, u if np.isfinite(u) else self._inf, f"x{first + j}")
            self._objective.SetCoefficient(var, c)
            self._vars.append(var)
        for j, i, a in zip(
            np.asarray(column_of_entry).tolist(),
            np.asarray(row_of_entry).tolist(),
            np.asarray(value_of_entry, float).tolist(),
            strict=True,
        ):
            self._rows[i].SetCoefficient(self._vars[first + j], a)

    def set_costs(self, columns: np.ndarray, cost: np.ndarray) -> None:
        for j, c in zip(
            np.asarray(columns).tolist(), np.asarray(cost, float).tolist(), strict=True
        ):
            self._objective.SetCoefficient(self._vars[j], c)

    def set_upper(self, columns: np.ndarray, upper: np.ndarray) -> None:
        for j, u in zip(
            np.asarray(columns).tolist(), np.asarray(upper, float).tolist(), strict=True
        ):
            self._vars[j].SetUb(u if np.isfinite(u) else self._inf)

    def solve(self, time_limit: float | None = None) -> LinearResult:
        import time

        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]

        t0 = time.perf_counter()
        if time_limit is not None:
            self._solver.SetTimeLimit(max(int(time_limit * 1000), 10))
        status = self._solver.Solve()
        seconds = time.perf_counter() - t0
        empty = np.zeros(0)
        if status != pywraplp.Solver.OPTIMAL:
            name = "infeasible" if status == pywraplp.Solver.INFEASIBLE else "limit"
            return LinearResult(name, empty, np.nan, -np.inf, empty, empty, seconds)
        x = np.array([v.solution_value() for v in self._vars])
        duals = np.array([r.dual_value() for r in self._rows])
        obj = float(self._objective.Value())
        return LinearResult("optimal", x, obj, obj, duals, empty, seconds)
