"""The benchmark's baselines are valid plans, and PuLP's optimum equals ours on tiny cities."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import rebalance
from benchmarks import run
from benchmarks.baselines import (
    BaselineResult,
    contract_objective,
    courier_binaries,
    greedy,
    load_problem,
    solve_pulp,
)
from rebalance.generate import generate_city

SHIFT = "2026-11-30T19:00"


def problem(tmp_path: Path, seed: int, *, travel_times: bool = False, **changes: dict) -> object:
    """A tiny synthetic city, built as `rebalance plan` builds it."""
    path = generate_city(
        tmp_path / f"city{seed}",
        zones=8,
        couriers=70,
        restaurants=35,
        seed=seed,
        travel_times=travel_times,
    )
    # The baselines model CONTRACT section 2: one slot for the whole shift.
    config = rebalance.load_config(path / "rebalance.toml").with_changes(
        shift={"slot_minutes": 24 * 60}
    )
    if changes:
        config = config.with_changes(**changes)
    inputs = rebalance.load(path, config)
    return rebalance.build_problem(inputs, config, SHIFT)


def with_caps(p: object) -> object:
    """The same problem with binding caps: the busiest zone and the shortest one."""
    inputs = p.inputs  # type: ignore[attr-defined]
    before = p.couriers_before  # type: ignore[attr-defined]
    busiest = int(np.argmax(before))
    shortest = int(np.argmax(p.required - before))  # type: ignore[attr-defined]
    zones = inputs.zones.copy()
    zones.loc[busiest, "max_couriers"] = before[busiest]
    zones.loc[shortest, "max_couriers"] = before[shortest] + 1
    return rebalance.build_problem(inputs.replace(zones=zones), p.config, SHIFT)  # type: ignore[attr-defined]


def assert_valid(p: object, result: BaselineResult) -> None:
    """Every eligible courier is assigned once and the caps hold."""
    assert result.assigned is not None
    assigned = np.asarray(result.assigned)
    assert assigned.sum() == len(p.eligible)  # type: ignore[attr-defined]
    cap = p.cap  # type: ignore[attr-defined]
    capped = ~np.isnan(cap)
    assert (assigned[capped] <= cap[capped]).all()


CASES = [
    pytest.param(1, {}, False, id="defaults"),
    pytest.param(
        2, {"costs": {"surplus_minutes": 4.0, "move_fixed_minutes": 2.0}}, False, id="surplus-cost"
    ),
    pytest.param(3, {}, True, id="travel-times-file"),
]


@pytest.mark.parametrize(("seed", "changes", "travel"), CASES)
def test_pulp_optimum_equals_ours(tmp_path: Path, seed: int, changes: dict, travel: bool) -> None:
    """The analyst's courier-level PuLP/CBC model reaches the flow's proven optimum."""
    for p in (problem(tmp_path, seed, travel_times=travel, **changes),):
        for instance in (p, with_caps(p)):
            ours = rebalance.solve_problem(instance)
            result = solve_pulp(instance, time_limit=60)
            assert result.status == "optimal"
            assert_valid(instance, result)
            assert result.objective == pytest.approx(ours.objective, abs=1e-6)
            assert result.bound == pytest.approx(ours.objective, abs=1e-6)
            assert result.binaries == courier_binaries(instance)


@pytest.mark.parametrize(("seed", "changes", "travel"), CASES)
def test_greedy_is_valid_and_never_beats_the_optimum(
    tmp_path: Path, seed: int, changes: dict, travel: bool
) -> None:
    """Greedy assigns everyone within the caps and scores no better than the optimum."""
    p = problem(tmp_path, seed, travel_times=travel, **changes)
    for instance in (p, with_caps(p)):
        ours = rebalance.solve_problem(instance)
        result = greedy(instance)
        assert_valid(instance, result)
        assert result.objective is not None
        assert result.objective >= ours.objective - 1e-6


def test_contract_objective_of_the_plan_matches_its_objective(tmp_path: Path) -> None:
    """The baselines' scoring function gives our plan's own objective back."""
    p = problem(tmp_path, 4)
    plan = rebalance.solve_problem(p)
    assigned = plan.zones["couriers_after"].to_numpy()
    minutes = float(plan.moves["travel_minutes"].sum())
    score = contract_objective(p, assigned, minutes, len(plan.moves))
    assert score == pytest.approx(plan.objective, abs=1e-6)


def test_greedy_moves_nobody_when_nothing_is_short(tmp_path: Path) -> None:
    """With no demand, no move can pay for itself."""
    p = problem(tmp_path, 5, demand={"orders_per_courier_hour": 1e9})
    result = greedy(p)
    assert result.moved == 0
    assert result.objective == 0.0


def test_make_bench_compares_the_plan_with_baselines_of_the_same_problem(tmp_path: Path) -> None:
    """`make bench` runs `rebalance plan` (`run.plan_command`) and the baselines
    (`load_problem`) on one data directory. Both must be the one-slot problem of CONTRACT
    section 2: the default 4-hour plan is the slot model, and scored against a one-slot
    baseline it printed "same objective: no" and a greedy gap of -95%."""
    path = generate_city(tmp_path / "city", zones=8, couriers=70, restaurants=35, seed=6)
    out = subprocess.run(run.plan_command(path), capture_output=True, text=True, check=True)
    plan = json.loads(out.stdout)
    assert plan["slots"] == 1 and plan["status"] == "optimal"
    p = load_problem(path)
    pulp = solve_pulp(p, time_limit=60)
    assert pulp.status == "optimal"
    assert pulp.objective == pytest.approx(plan["objective"], abs=1e-6)
    assert greedy(p).objective >= plan["objective"] - 1e-6
