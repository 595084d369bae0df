"""The one-slot flow by arc generation equals the flow on every arc in range."""

from __future__ import annotations

import dataclasses
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

import rebalance
from rebalance import flowgen, model
from rebalance.inputs import Inputs, unique_sorted
from rebalance.model import arc_costs, build_problem, flow_network, stay_arcs
from rebalance.optimize import solve_problem, zone_values
from rebalance.solver import FlowResult, min_cost_flow

START = pd.Timestamp("2026-11-30T18:00Z")
VEHICLES = ("bike", "car", "ebike", "scooter")


def random_city(seed: int, *, zones: int = 30, couriers: int = 240, travel_times: bool = False):
    """Zones over ~12 km with random priorities, some caps, four vehicles, demand that
    leaves some zones short and others with couriers to spare; optionally a travel_times
    table (a random share of the pairs, some rows for one vehicle only)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "zone_id": [f"Z{i:02d}" for i in range(zones)],
            "name": [f"zone {i}" for i in range(zones)],
            "lat": 48.80 + rng.uniform(0, 0.11, zones),
            "lon": 2.30 + rng.uniform(0, 0.16, zones),
            "priority": rng.choice([1.0, 1.5, 2.0, 3.0], zones),
            "max_couriers": np.where(
                rng.random(zones) < 0.25, rng.integers(0, 12, zones), np.nan
            ).astype(float),
        }
    )
    n_rest = 4 * zones
    rests = pd.DataFrame(
        {
            "restaurant_id": [f"R{i:03d}" for i in range(n_rest)],
            "name": "r",
            "zone_id": rng.choice(frame["zone_id"], n_rest),
            "status": "open",
            "expected_orders_per_hour": rng.gamma(2.0, 6.0, n_rest).round(2),
        }
    )
    # couriers bunched in a few zones, so others are short
    weights = rng.gamma(0.5, 1.0, zones)
    cour = pd.DataFrame(
        {
            "courier_id": [f"C{i:04d}" for i in range(couriers)],
            "zone_id": rng.choice(frame["zone_id"], couriers, p=weights / weights.sum()),
            "vehicle": rng.choice(VEHICLES, couriers),
            "available_from": START,
            "available_until": START + pd.Timedelta(hours=5),
            "status": "available",
        }
    )
    tt = None
    if travel_times:
        pairs = [(a, b) for a in range(zones) for b in range(zones) if a != b]
        pick = rng.random(len(pairs)) < 0.5
        rows = [
            (
                f"Z{a:02d}",
                f"Z{b:02d}",
                round(float(rng.uniform(2, 35)), 3),
                str(rng.choice(["", "", "", "car", "bike"])),
            )
            for (a, b), keep in zip(pairs, pick, strict=True)
            if keep
        ]
        tt = pd.DataFrame(rows, columns=["from_zone", "to_zone", "minutes", "vehicle"])
        tt = tt.drop_duplicates(["from_zone", "to_zone", "vehicle"])
    inputs = Inputs(zones=frame, restaurants=rests, couriers=cour, travel_times=tt)
    config = rebalance.Config().with_changes(
        city={"timezone": "UTC"},
        shift={"hours": 0.5, "slot_minutes": 30},
        costs={
            "surplus_minutes": float(rng.choice([0.0, 2.0, 10.0])),
            "move_fixed_minutes": float(rng.choice([0.0, 2.0, 5.0])),
        },
    )
    return build_problem(inputs, config, START)


def whole(p):
    """The flow on every arc in range, solved at once, and its zone values."""
    net = flow_network(p)
    result = min_cost_flow(**net)
    values = zone_values(p, net, result.flows) if result.status == "optimal" else None
    return result, values


@pytest.fixture
def generate(monkeypatch):
    """Arc generation at every size, from a first subset of ``first`` moves per group,
    adding ``add`` arcs per group and round."""

    def setup(first: int = flowgen._FIRST_PER_GROUP, add: int = flowgen._ADD_PER_GROUP):
        monkeypatch.setattr(flowgen, "_WHOLE_BELOW", 0)
        monkeypatch.setattr(flowgen, "_FIRST_PER_GROUP", first)
        monkeypatch.setattr(flowgen, "_ADD_PER_GROUP", add)
        monkeypatch.setattr(flowgen, "_CHUNK", 97)  # several pricing chunks
        # several chunks of arcs for the costs, the stays and the first subset, some
        # shorter than one group's arcs
        monkeypatch.setattr(flowgen, "ARC_CHUNK", 61)
        monkeypatch.setattr(model, "ARC_CHUNK", 61)

    return setup


def check_as_whole(p, sol) -> bool:
    """``sol`` is the whole network's answer: infeasible with it, or its optimum with the
    same exact marginal values (and a valid flow). Whether it is optimal."""
    full, values = whole(p)
    if full.status != "optimal":
        assert sol.status == "infeasible"
        return False
    assert sol.status == "optimal" and sol.cost == full.cost
    check_flow(p, sol)
    np.testing.assert_array_equal(sol.zone_value, values)
    return True


def check_flow(p, sol) -> None:
    """Every courier leaves its group once, caps hold, and the flows cost what is said."""
    assert sol.flows.shape == p.arc_group.shape and (sol.flows >= 0).all()
    out = np.bincount(p.arc_group, weights=sol.flows, minlength=len(p.group_size))
    np.testing.assert_array_equal(out, p.group_size)
    into = np.bincount(p.arc_zone, weights=sol.flows, minlength=len(p.zone_ids))
    capped = ~np.isnan(p.cap)
    assert (into[capped] <= p.cap[capped]).all()
    covered = np.minimum(into, p.required)
    zone_cost = -(p.shortage_cost * covered).sum() + p.surplus_cost * (into - covered).sum()
    assert int(arc_costs(p) @ sol.flows + zone_cost) == sol.cost


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("first", [0, 2])
def test_same_optimum_as_every_arc(seed, first, generate):
    """On random cities (caps, four vehicles, a travel_times table every third seed),
    from a first subset of stays only or of two moves per group, arc generation proves
    the optimum of the whole network, with the same exact marginal values."""
    generate(first=first, add=1 + seed % 3)
    p = random_city(seed, travel_times=seed % 3 == 0)
    sol = flowgen.solve_flow(p)
    if not check_as_whole(p, sol):
        return
    assert sol.arcs_in_range == len(flow_network(p)["tails"])


def test_later_rounds_repair_the_last_optimum_exactly(generate, monkeypatch):
    """From the second round on, the subset is solved by a circulation on top of the last
    round's flow, over the residual arcs pricing at most the joined arcs' total negative
    reduced cost: each repaired flow is an optimum of its subset (the cost of solving the
    subset afresh, no negative cycle left), and each plan is the whole network's. Most
    circulations run through arcs of positive reduced cost, so the bound is needed:
    keeping only arcs of reduced cost <= 0 would miss those cycles. A round after one
    where some node could not reach the sink (a group whose only arc is full, a full
    capped zone) has no reduced costs and is solved afresh. The circulations go to the
    network simplex in the arcs' own or in reduced costs: both are checked."""
    from rebalance.flowgen import residual_distances

    real = flowgen._repair
    through_positive: list[bool] = []  # per repaired round
    methods: set[str] = set()

    def checked(net, arcs, last_arcs, last_flows, dist):
        got = real(net, arcs, last_arcs, last_flows, dist)
        if got is not None:
            fresh = min_cost_flow(**net)
            assert fresh.status == "optimal" and got.cost == fresh.cost
            assert residual_distances(p, net, got.flows)[1]  # no negative cycle
            assert (got.flows >= 0).all() and (got.flows <= net["capacities"]).all()
            # flow moved onto arcs that price above 0 at the last round's distances
            reduced = net["unit_costs"] + dist[net["heads"]] - dist[net["tails"]]
            before = flowgen._carried(arcs, last_arcs, last_flows)
            through_positive.append(bool(((got.flows > before) & (reduced > 0)).any()))
            methods.add(got.detail)
        return got

    monkeypatch.setattr(flowgen, "_repair", checked)
    for seed in range(10):
        generate(first=1 + seed % 3, add=1 + seed % 2)
        p = random_city(seed, zones=30, couriers=300)
        if seed % 2 == 0:  # no caps
            p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
        check_as_whole(p, flowgen.solve_flow(p))
    assert len(through_positive) >= 10
    assert any(through_positive) and not all(through_positive)
    # the network simplex, in the arcs' own costs where most joined arcs price negative
    # and in reduced costs where few do (both proven above)
    assert {"network simplex, own costs", "network simplex, reduced costs"} <= methods


def test_a_repair_that_is_not_optimal_is_solved_afresh(generate, monkeypatch):
    """Should a repair hand back a flow that is not optimal (here: the last round's flow,
    unchanged, though arcs pricing negative joined), its residual network's negative
    cycle is found and the subset solved afresh: the plan is still the optimum."""
    generate(first=1, add=1)
    p = random_city(2, zones=30, couriers=300)
    p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
    full, _ = whole(p)
    lazy, fresh = [], []
    real_solve = flowgen._solve

    def unchanged(net, arcs, last_arcs, last_flows, dist):
        flows = flowgen._carried(arcs, last_arcs, last_flows)
        lazy.append(len(fresh))
        return FlowResult("optimal", flows, int(net["unit_costs"] @ flows))

    def spy(*args):
        fresh.append(1)
        return real_solve(*args)

    monkeypatch.setattr(flowgen, "_repair", unchanged)
    monkeypatch.setattr(flowgen, "_solve", spy)
    sol = flowgen.solve_flow(p)
    assert sol.status == "optimal" and sol.cost == full.cost
    check_flow(p, sol)
    assert lazy and len(fresh) == 1 + len(lazy)  # the first round, then each bad repair


def test_first_subset_without_the_optimal_moves(generate):
    """Stays only at first, one arc per group and round: the moves of the optimum come
    from pricing, over several rounds, on far fewer arcs than are in range, and the plan
    is the whole network's, file for file (a city where the optimum is unique)."""
    p = random_city(7, zones=40, couriers=400)
    p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})  # stays fit
    full, _ = whole(p)
    moved = (full.flows[: len(p.arc_group)] > 0) & (p.arc_zone != p.group_zone[p.arc_group])
    assert (
        moved.sum() >= 10
    )  # the optimum moves couriers: none of those arcs is in the first subset
    generate(first=0, add=1)
    plan = solve_problem(p)
    assert plan.solver["rounds"] >= 2
    assert plan.solver["arcs"] < plan.solver["arcs_in_range"] / 2
    assert {"flow_seconds", "pricing_seconds", "potentials_seconds"} <= set(plan.timings)
    flowgen._WHOLE_BELOW = 10**12  # restored by monkeypatch
    reference = solve_problem(p)
    assert reference.solver["rounds"] == 1
    assert reference.solver["arcs"] == reference.solver["arcs_in_range"]
    assert plan.objective == reference.objective
    pd.testing.assert_frame_equal(plan.moves, reference.moves)
    pd.testing.assert_frame_equal(plan.zones, reference.zones)


def test_a_chain_through_a_zone_that_is_not_short(generate):
    """The optimum sends a bike to a zone that needs nobody, so that the car there can
    reach a short zone beyond the bike's range: no first guess holds that arc, pricing
    finds it."""
    zones = pd.DataFrame(
        {
            "zone_id": ["A", "M", "F"],
            "name": ["a", "m", "f"],
            "lat": [48.85, 48.85 + 3.0 / 111.195, 48.85 + 11.0 / 111.195],
            "lon": [2.35, 2.35, 2.35],
            "priority": [1.0, 1.0, 1.0],
            "max_couriers": [np.nan, np.nan, np.nan],
        }
    )
    rests = pd.DataFrame(
        {
            "restaurant_id": ["r1", "r2"],
            "name": "r",
            "zone_id": ["M", "F"],
            "status": "open",
            "expected_orders_per_hour": [2.5, 2.5],
        }
    )
    cour = pd.DataFrame(
        {
            "courier_id": ["b1", "b2", "c1"],
            "zone_id": ["A", "A", "M"],
            "vehicle": ["bike", "bike", "car"],
            "available_from": START,
            "available_until": START + pd.Timedelta(hours=5),
            "status": "available",
        }
    )
    config = rebalance.Config().with_changes(
        city={"timezone": "UTC"}, shift={"hours": 0.5, "slot_minutes": 30}
    )
    p = build_problem(Inputs(zones=zones, restaurants=rests, couriers=cour), config, START)
    generate(first=0, add=1)
    plan = solve_problem(p)
    assert plan.status == "optimal" and plan.solver["rounds"] >= 2
    routes = set(zip(plan.moves["from_zone"], plan.moves["to_zone"], strict=True))
    assert routes == {("A", "M"), ("M", "F")}
    full, _ = whole(p)
    assert round(full.cost / p.units_per_minute, 3) == round(
        plan.objective - float(p.shortage_cost @ p.required) / p.units_per_minute, 3
    )


def generated_with_caps(p, cap, generate):
    """``p`` with these caps, and its flow by generation from a first subset without
    moves, checked against the whole network (cost, flows, marginal values)."""
    p = type(p)(**{**p.__dict__, "cap": cap})
    generate(first=0)
    sol = flowgen.solve_flow(p)
    assert check_as_whole(p, sol)  # the whole network is feasible, and this its optimum
    return p, sol


def test_caps_the_first_subset_cannot_hold(generate):
    """A zone capped at 0 whose couriers can only leave by arcs outside the first subset:
    the subset is infeasible, the plan is not, and it is the whole network's optimum."""
    p = random_city(3, zones=12, couriers=80)
    cap = p.cap.copy()
    busiest = int(np.argmax(p.couriers_before))
    cap[busiest] = 0.0
    p, sol = generated_with_caps(p, cap, generate)
    # each group of the capped zone starts with a way out to an uncapped zone, so the
    # subset held them and the whole network was never solved
    assert sol.arcs < len(p.arc_group) + 2 * len(p.zone_ids)


def test_caps_with_no_uncapped_zone_in_reach(generate):
    """Every zone capped (one at 0, the others with room): no arc to an uncapped zone
    makes the first subset feasible, the whole network decides, and it is optimal."""
    p = random_city(3, zones=12, couriers=80)
    cap = np.full(len(p.zone_ids), float(p.couriers_before.sum()))
    cap[int(np.argmax(p.couriers_before))] = 0.0
    p, sol = generated_with_caps(p, cap, generate)
    assert sol.arcs == len(p.arc_group) + 2 * len(p.zone_ids)  # the whole network


def test_caps_nothing_can_hold_are_infeasible(generate):
    """When no arc in range gives the couriers room, arc generation says infeasible (exit
    4) like the whole network, and the plan says why."""
    p = random_city(4, zones=12, couriers=80)
    p = type(p)(**{**p.__dict__, "cap": np.zeros(len(p.zone_ids))})
    generate()
    assert flowgen.solve_flow(p).status == "infeasible"
    plan = solve_problem(p)
    assert plan.status == "infeasible" and "max_couriers" in plan.message


@pytest.mark.parametrize("seed", [1, 2])
def test_replan_with_change_costs(seed, generate):
    """After a previous plan (a change costs ``change_minutes`` unless the courier goes
    where it was sent) and with demand moved around, arc generation still proves the whole
    network's optimum."""
    generate(first=1, add=1)
    p = random_city(seed, zones=25, couriers=200)
    p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
    plan = solve_problem(p)
    assert plan.status == "optimal" and len(plan.moves)
    rests = p.inputs.restaurants.copy()
    rests["zone_id"] = np.roll(rests["zone_id"].to_numpy(), 7)
    q = build_problem(p.inputs.replace(restaurants=rests), p.config, START, previous=plan)
    assert (q.group_prev >= 0).any()
    full, values = whole(q)
    sol = flowgen.solve_flow(q)
    assert full.status == sol.status == "optimal" and sol.cost == full.cost
    check_flow(q, sol)
    np.testing.assert_array_equal(sol.zone_value, values)


@pytest.mark.parametrize("simplex", [True, False])
def test_a_wrong_optimum_from_the_solver_is_caught(simplex, monkeypatch):
    """If the solver called a flow optimal that is not (here: everyone stays while moves
    pay), the residual network's negative cycle stops the plan instead of publishing it:
    from the network simplex's circulation (which here changes nothing) or from OR-Tools'
    flow (without pylmcf)."""
    p = random_city(1, zones=12, couriers=80)
    full, _ = whole(p)
    assert (full.flows[: len(p.arc_group)][p.arc_zone != p.group_zone[p.arc_group]] > 0).any()

    def stays_only(tails, heads, capacities, unit_costs, supplies):
        # the network as flowgen._solve hands it over: couriers start in their zones,
        # their stay arcs turned round (zone -> group, the movers); nobody moves
        n_arcs, n_zones, n_groups = len(p.arc_group), len(p.zone_ids), len(p.group_size)
        assert (supplies[:n_groups] == 0).all()
        flows = np.zeros(len(tails), dtype=np.int64)
        into = supplies[n_groups : n_groups + n_zones]
        covered = np.minimum(into, capacities[n_arcs : n_arcs + n_zones])
        flows[n_arcs : n_arcs + n_zones] = covered
        flows[n_arcs + n_zones :] = into - covered
        return FlowResult("optimal", flows, int(flows @ np.rint(unit_costs).astype(np.int64)))

    def nothing_changes(tails, heads, capacities, unit_costs, nodes):
        return FlowResult("optimal", np.zeros(len(tails), dtype=np.int64), 0, "network simplex")

    monkeypatch.setattr(flowgen, "_WHOLE_BELOW", 10**12)
    monkeypatch.setattr(flowgen, "network_simplex_available", lambda: simplex)
    monkeypatch.setattr(flowgen, "min_cost_flow", stays_only)
    monkeypatch.setattr(flowgen, "min_cost_circulation", nothing_changes)
    with pytest.raises(AssertionError, match="not optimal"):
        flowgen.solve_flow(p)


@pytest.mark.parametrize("seed", range(6))
def test_first_round_from_everyone_staying(seed):
    """With pylmcf, `flowgen._solve` starts from every courier staying and adds the
    network simplex's best circulation on top: an optimum of the network, the cost
    OR-Tools finds for it as built, with and without a previous plan (whose stays cost a
    change). Where a cap cannot hold a zone's own couriers it solves the network as
    OR-Tools does."""
    p = random_city(seed, zones=20, couriers=160)
    capped = seed % 3 == 0
    if not capped:
        p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
    if seed % 2:
        plan = solve_problem(p)
        rests = p.inputs.restaurants.copy()
        rests["zone_id"] = np.roll(rests["zone_id"].to_numpy(), 5)
        p = build_problem(p.inputs.replace(restaurants=rests), p.config, START, previous=plan)
        p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
        assert (p.group_prev >= 0).any() and (arc_costs(p)[stay_arcs(p)] > 0).any()
    net = flow_network(p)
    plain = min_cost_flow(**net)
    got = flowgen._solve(p, net, stay_arcs(p))
    assert got.status == plain.status
    held = np.bincount(p.group_zone, weights=p.group_size, minlength=len(p.zone_ids))
    fits = bool((np.isnan(p.cap) | (held <= np.nan_to_num(p.cap))).all())
    assert (got.detail == "network simplex from stays") == fits
    assert fits or capped
    if plain.status != "optimal":
        return
    assert got.cost == plain.cost
    assert flowgen.residual_distances(p, net, got.flows)[1]  # no negative cycle left
    n = len(p.arc_group)
    check_flow(
        p,
        flowgen.OneSlotFlow(
            "optimal", got.flows[:n], got.cost, np.zeros(0), np.zeros((0, 1)), 1, 0, 0
        ),
    )


@pytest.mark.parametrize("seed", range(6))
def test_stayers_not_routed_give_the_same_flow(seed, monkeypatch):
    """`flowgen._solve` starts the couriers of each group whose stay is free in their
    zone and turns the stay arc round: OR-Tools sees supplies only at zones (and at
    groups whose stay costs a change), and the flows it gives back, in the network's
    own terms, are an optimum of that network: same cost as solving it as built,
    every courier leaving its group once. With and without a previous plan. (This is
    the way without pylmcf, or where a cap cannot hold a zone's couriers.)"""
    monkeypatch.setattr(flowgen, "network_simplex_available", lambda: False)
    p = random_city(seed, zones=20, couriers=160)
    if seed % 2:
        p = type(p)(**{**p.__dict__, "cap": np.full(len(p.zone_ids), np.nan)})
        plan = solve_problem(p)
        rests = p.inputs.restaurants.copy()
        rests["zone_id"] = np.roll(rests["zone_id"].to_numpy(), 5)
        p = build_problem(p.inputs.replace(restaurants=rests), p.config, START, previous=plan)
        assert (p.group_prev >= 0).any()
    net = flow_network(p)
    plain = min_cost_flow(**net)
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return min_cost_flow(**kwargs)

    monkeypatch.setattr(flowgen, "min_cost_flow", spy)
    turned = flowgen._solve(p, net, stay_arcs(p))
    assert turned.status == plain.status
    if plain.status != "optimal":
        return
    n_groups = len(p.group_size)
    stay = p.arc_zone == p.group_zone[p.arc_group]
    free = stay & (arc_costs(p) == 0)
    # the free stays were turned round, their groups' couriers start in the zones
    assert (seen["tails"][: len(stay)][free] == n_groups + p.arc_zone[free]).all()
    assert (seen["supplies"][p.arc_group[free]] == 0).all()
    assert seen["supplies"].sum() == 0 and seen["supplies"][-1] == -p.group_size.sum()
    assert turned.cost == plain.cost
    check_flow(
        p,
        flowgen.OneSlotFlow(
            "optimal",
            turned.flows[: len(stay)],
            turned.cost,
            np.zeros(0),
            np.zeros((0, 1)),
            1,
            0,
            0,
        ),
    )


@pytest.mark.parametrize("k", [1, 3, 4, 16])
def test_least_per_run_matches_a_sort(k):
    """The k smallest finite values of each run, ties to the first position, as a sort
    by (run, value, position) finds them: long runs (where only values up to a bound
    from k disjoint parts are looked at) between short ones, ties, and infinities."""
    rng = np.random.default_rng(k)
    for trial in range(300):
        lengths = rng.choice([1, 2, k - 1 or 1, k, 40, 200], size=int(rng.integers(1, 40)))
        keys = np.repeat(np.arange(lengths.size), lengths)
        if trial % 3 == 0:
            value = rng.integers(0, 4, keys.size).astype(float)  # many ties
        else:
            value = rng.normal(size=keys.size)
        if trial % 3 == 2:
            value[rng.random(keys.size) < 0.3] = np.inf
            value[rng.random(keys.size) < 0.05] = -np.inf
        order = np.lexsort((np.arange(keys.size), value, keys))
        rank = np.empty(keys.size, dtype=np.int64)
        first = np.r_[0, np.cumsum(lengths)[:-1]]
        rank[order] = np.arange(keys.size) - np.repeat(first, lengths)
        expected = (rank < k) & (value < np.inf)
        assert np.array_equal(flowgen._least_per_run(value, keys, k), expected), trial


def test_group_chunks_end_where_a_group_ends():
    """The chunks the per-arc steps work in cover every arc once, in order, each ending
    with a group's last arc, about ``size`` long (longer only by one group's arcs)."""
    rng = np.random.default_rng(5)
    for _ in range(300):
        runs = rng.permutation(int(rng.integers(1, 60)))
        groups = np.repeat(runs, rng.integers(1, 25, size=runs.size))
        size = int(rng.integers(1, 40))
        chunks = flowgen._group_chunks(groups, size)
        assert chunks[0].start == 0 and chunks[-1].stop == groups.size
        for before, after in pairwise(chunks):
            assert before.stop == after.start
            assert groups[after.start] != groups[after.start - 1]
        longest_run = max(np.bincount(groups))
        assert all(c.stop - c.start <= size + longest_run for c in chunks)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_arcs_in_chunks_give_the_same_costs_stays_and_first_subset(seed, monkeypatch):
    """Stays, costs (with a previous plan's change costs) and the first subset are the
    same worked out in many small chunks as in one."""
    p = random_city(seed, zones=25, couriers=200)
    plan = solve_problem(p)
    q = build_problem(p.inputs, p.config, START, previous=plan)
    assert (q.group_prev >= 0).any()
    results = []
    for chunk in (1 << 30, 13):
        monkeypatch.setattr(flowgen, "ARC_CHUNK", chunk)
        monkeypatch.setattr(model, "ARC_CHUNK", chunk)
        stay = model.stay_arcs(q)
        cost = model.arc_costs(q)  # its stays found a chunk at a time
        some = np.flatnonzero(np.arange(stay.size) % 3 == 1)
        results.append(
            (
                stay,
                cost,
                model.arc_costs(q, stay),
                model.stay_arcs(q, some),
                model.arc_costs(q, arcs=some),
                flowgen._first_arcs(q),
            )
        )
    np.testing.assert_array_equal(results[0][3], results[0][0][some])
    np.testing.assert_array_equal(results[0][4], results[0][1][some])
    for whole_run, chunked in zip(*results, strict=True):
        np.testing.assert_array_equal(whole_run, chunked)
    np.testing.assert_array_equal(results[0][1], results[0][2])
    assert results[0][1].dtype == np.int64


@pytest.mark.parametrize("seed", [3, 4])
def test_pricing_on_two_threads_is_the_pricing_on_one(seed, generate, monkeypatch):
    """Chunks of arcs priced by two threads: the same rounds, arcs and flow as one
    thread pricing them in order (one arc added per group and round, so a group whose
    arcs straddle two chunks tells if the chunks came back out of order)."""
    generate(first=1, add=1)
    p = random_city(seed, zones=30, couriers=300)
    solutions = []
    for threads in (1, 2):
        monkeypatch.setattr(flowgen, "_THREADS", threads)
        solutions.append(flowgen.solve_flow(p))
    one, two = solutions
    assert one.rounds == two.rounds > 1 and one.arcs == two.arcs
    np.testing.assert_array_equal(one.flows, two.flows)
    np.testing.assert_array_equal(one.distance, two.distance)


@pytest.mark.parametrize("seed", [3, 8])
def test_pricing_in_chunks_of_whole_groups_adds_what_pricing_at_once_adds(seed, monkeypatch):
    """A pricing chunk with many negative arcs keeps only its groups' most negative; with
    chunks of whole groups that is the same set of arcs, in the same order, as choosing
    over every arc priced at once (a round's arcs and so its optimum do not depend on
    the chunking or on which chunks choose first)."""
    p = random_city(seed, zones=40, couriers=400)
    stay = stay_arcs(p)
    in_subset = flowgen._first_arcs(p)
    arcs = np.flatnonzero(in_subset)
    net = flow_network(p, arcs)
    result = flowgen._solve(p, net, stay[arcs])
    dist, converged = flowgen.residual_distances(p, net, result.flows)
    assert converged
    n = len(p.arc_group)
    for near in (False, True):
        at_once = flowgen._price(p, dist, in_subset, near, [slice(0, n)])
        for size, preselect in ((1, 0), (7, 3), (50, 10**9)):
            monkeypatch.setattr(flowgen, "_PRESELECT", preselect)
            chunks = flowgen._group_chunks(p.arc_group, size)
            assert len(chunks) > 1
            got = flowgen._price(p, dist, in_subset, near, chunks)
            assert np.array_equal(got[0], at_once[0]) and np.array_equal(got[1], at_once[1])
        assert at_once[0].size  # the first subset leaves negative arcs out


def test_unique_sorted_is_numpys_unique():
    """`unique_sorted` (a sort, in place of numpy 2.3+'s hashing ``np.unique``) gives
    ``np.unique``'s values, sorted, for empty, one-value and repeating integer arrays."""
    rng = np.random.default_rng(7)
    for n, high in ((0, 1), (1, 5), (2, 1), (50, 7), (10_000, 3_000), (10_000, 10**9)):
        for dtype in (np.int32, np.int64):
            values = rng.integers(0, high, n).astype(dtype)
            got = unique_sorted(values)
            np.testing.assert_array_equal(got, np.unique(values))
            assert got.dtype == dtype


def test_an_arc_leaves_the_subset_once_at_most():
    """Subset arcs without flow that price above `_NEAR` leave it, but an arc that left
    once and came back stays (so the rounds end); stays never leave. The arcs that have
    left are kept as sorted positions, without repeats."""
    p = random_city(5, zones=40, couriers=400)
    cost = arc_costs(p)  # of every arc: the subset is all of them
    in_subset = np.ones(len(p.arc_group), dtype=bool)
    arcs = np.flatnonzero(in_subset)
    net = flow_network(p, arcs)
    stay = stay_arcs(p, arcs)
    result = flowgen._solve(p, net, stay)
    dist, converged = flowgen.residual_distances(p, net, result.flows)
    assert converged
    flows = result.flows[: arcs.size]
    none = np.zeros(0, dtype=np.int64)
    left = flowgen._leave(p, cost, dist, arcs, stay, flows, in_subset, none)
    assert left.size and np.array_equal(left, np.flatnonzero(~in_subset))
    assert not stay[left].any() and not flows[left].any()
    # every arc comes back: those that left before stay, the others leave as before
    in_subset[:] = True
    again = flowgen._leave(p, cost, dist, arcs, stay, flows, in_subset, left[::2])
    assert np.array_equal(np.flatnonzero(~in_subset), left[1::2])
    assert np.array_equal(again, left)
    in_subset[:] = True
    assert np.array_equal(flowgen._leave(p, cost, dist, arcs, stay, flows, in_subset, left), left)
    assert in_subset.all()


@pytest.mark.parametrize("fixed", [0.0, 2.0, 1.5, 0.123, 7.0005, 0.1 + 0.2, 12345.678])
def test_arc_costs_by_addition_are_the_move_costs(fixed, monkeypatch):
    """Where the fixed minutes are whole thousandths, `arc_costs` adds them to each arc's
    thousandths of a minute instead of rounding ``move_cost`` of its minutes: the same
    integers, for every travel time up to the longest move allowed, with and without
    change costs, over one slot and several. Fixed minutes that are not whole
    thousandths (7.0005) take ``move_cost`` itself."""
    p = random_city(2, zones=25, couriers=200)
    p = build_problem(p.inputs, p.config, START, previous=solve_problem(p))
    assert (p.group_prev >= 0).any()  # change costs too
    costs = p.config.costs.model_copy(update={"move_fixed_minutes": fixed})
    p = dataclasses.replace(p, config=p.config.model_copy(update={"costs": costs}))
    assert (model._fixed_units(p) is None) == (fixed == 7.0005)
    rng = np.random.default_rng(3)
    most = int(rebalance.ranges.MAX_MOVE_MINUTES * 1000)
    millis = np.concatenate(
        [np.arange(0, 5000), rng.integers(0, most + 1, p.arc_millis.size), [most]]
    ).astype(np.int32)
    at = rng.integers(0, p.arc_millis.size, millis.size)
    p = dataclasses.replace(
        p, arc_millis=millis, arc_group=p.arc_group[at], arc_zone=p.arc_zone[at]
    )
    for slots in (1, 3):
        monkeypatch.setattr(model.ProblemData, "slots", property(lambda _, k=slots: k))
        fast = arc_costs(p)
        monkeypatch.setattr(model, "_fixed_units", lambda _: None)
        slow = arc_costs(p)
        monkeypatch.undo()
        assert (fast != 0).any()
        np.testing.assert_array_equal(fast, slow)
