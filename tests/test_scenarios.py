"""What-if scenarios: validation, pure and seeded application, sweeps into one table."""

from __future__ import annotations

import dataclasses
import math
import pickle
import zlib
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import REPO, SHIFT

from rebalance import Config, Inputs, load, load_config, solve
from rebalance.scenarios import (
    FrozenMap,
    Scenario,
    SweepResult,
    apply,
    run_scenario,
    solve_scenario,
    sweep,
    vary,
)

SAMPLES = REPO / "data" / "samples"


@cache
def city(name: str) -> tuple[Inputs, Config]:
    """A sample city's inputs and configuration, loaded once per test session."""
    config = load_config(SAMPLES / name / "rebalance.toml")
    return load(SAMPLES / name, config), config


def snapshot(inputs: Inputs) -> dict[str, pd.DataFrame | None]:
    """Deep copies of every table, to check later that nothing was mutated."""
    return {
        name: None if getattr(inputs, name) is None else getattr(inputs, name).copy(deep=True)
        for name in ("zones", "restaurants", "couriers", "travel_times")
    }


def assert_unchanged(inputs: Inputs, before: dict[str, pd.DataFrame | None], sha: str) -> None:
    """Every table equals its snapshot and the fingerprint has not moved."""
    for name, frame in before.items():
        if frame is None:
            assert getattr(inputs, name) is None
        else:
            pd.testing.assert_frame_equal(getattr(inputs, name), frame)
    assert inputs.sha256 == sha


EVERYTHING = Scenario(
    "everything",
    close_restaurants=("R00001", "R00002"),
    close_share={"69381": 0.5, "69382": 1.0},
    no_show_rate=0.2,
    slowdown=0.3,
    demand_factor=1.5,
    orders_per_courier_hour=2.0,
    shortage_minutes=30,
    zone_caps={"69383": 4, "69384": None},
    config_changes={"vehicles": {"bike": {"max_move_minutes": 25}}},
    seed=7,
)


# ---------------------------------------------------------------------- the value


def test_scenario_is_hashable_and_picklable():
    """A scenario is a frozen, hashable value that survives pickling (for Dask)."""
    again = pickle.loads(pickle.dumps(EVERYTHING))
    assert again == EVERYTHING
    assert hash(again) == hash(EVERYTHING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        EVERYTHING.no_show_rate = 0.5  # type: ignore[misc]
    assert isinstance(EVERYTHING.close_share, FrozenMap)
    with pytest.raises(TypeError):
        EVERYTHING.close_share["69381"] = 0.9  # type: ignore[index]


def test_scenario_copies_the_callers_mappings():
    """Changing the dict a scenario was built from does not change the scenario."""
    shares = {"69381": 0.5}
    scenario = Scenario("s", close_share=shares)
    shares["69381"] = 1.0
    assert scenario.close_share["69381"] == 0.5


def test_single_restaurant_id_is_one_id():
    """close_restaurants="R00001" means one restaurant, not six characters."""
    assert Scenario("s", close_restaurants="R00001").close_restaurants == ("R00001",)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"no_show_rate": 1.5}, "no_show_rate"),
        ({"no_show_rate": -0.1}, "no_show_rate"),
        ({"no_show_rate": float("nan")}, "no_show_rate"),
        ({"no_show_rate": "0.1"}, "no_show_rate"),
        ({"slowdown": -1.0}, "slowdown"),
        ({"slowdown": float("inf")}, "slowdown"),
        ({"demand_factor": -1}, "demand_factor"),
        ({"orders_per_courier_hour": 0}, "orders_per_courier_hour"),
        ({"shortage_minutes": -5}, "shortage_minutes"),
        ({"close_share": {"69381": 1.2}}, "close_share['69381']"),
        ({"close_share": {69381: 0.5}}, "close_share"),
        ({"close_share": [0.5]}, "close_share"),
        ({"close_restaurants": (1, 2)}, "close_restaurants"),
        ({"zone_caps": {"69381": -1}}, "zone_caps['69381']"),
        ({"zone_caps": {"69381": 2.5}}, "zone_caps['69381']"),
        ({"zone_caps": {"69381": True}}, "zone_caps['69381']"),
        ({"config_changes": {"slack": {"channel": "C1"}}}, "config_changes"),
        ({"config_changes": {"costs": 5}}, "config_changes['costs']"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_values_name_the_field(changes, field):
    """Every invalid value raises ValueError naming the field."""
    kwargs = {"name": "bad", **changes}
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Scenario(**kwargs)


def test_describe_says_what_changes():
    """describe() lists every change in words; a baseline says 'no change'."""
    assert Scenario("b").describe() == "no change"
    assert Scenario("b").is_baseline
    text = EVERYTHING.describe()
    for part in (
        "close 2 restaurants",
        "50% in 69381",
        "20% no-shows",
        "vehicles 30% slower",
        "demand x1.5",
        "2 orders per courier-hour",
        "shortage cost 30 min",
        "69383 <= 4",
        "69384 uncapped",
        "vehicles.bike.max_move_minutes = 25",
    ):
        assert part in text
    assert "faster" in Scenario("s", slowdown=-0.1).describe()


def test_vary_builds_named_scenarios():
    """vary() makes one scenario per value, named after the field and value."""
    made = vary("no_show_rate", [0.1, 0.2])
    assert [s.name for s in made] == ["no_show_rate=0.1", "no_show_rate=0.2"]
    assert [s.no_show_rate for s in made] == [0.1, 0.2]
    rainy = vary("no_show_rate", [0.1], base=Scenario("rain", slowdown=0.2), label="ns")
    assert rainy[0].name == "rain, ns=0.1"
    assert rainy[0].slowdown == 0.2
    with pytest.raises(ValueError, match="unknown scenario field 'no_shows'"):
        vary("no_shows", [0.1])
    with pytest.raises(ValueError, match="no_show_rate"):
        vary("no_show_rate", [2.0])


# ------------------------------------------------------------------------- apply


def test_baseline_changes_nothing():
    """A scenario without changes returns the same inputs and configuration."""
    inputs, config = city("lyon")
    new_inputs, new_config = apply(Scenario("baseline"), inputs, config)
    assert new_inputs is inputs
    assert new_config == config


def test_apply_is_pure():
    """Applying a scenario that touches every table leaves the originals untouched."""
    inputs, config = city("lyon")
    before, sha, settings_before = snapshot(inputs), inputs.sha256, config.model_dump()
    new_inputs, new_config = apply(EVERYTHING, inputs, config)
    assert_unchanged(inputs, before, sha)
    assert config.model_dump() == settings_before
    assert new_inputs.sha256 != inputs.sha256
    for name in ("zones", "restaurants", "couriers", "travel_times"):
        assert getattr(new_inputs, name) is not getattr(inputs, name)
    assert new_config is not config


def test_apply_is_deterministic():
    """The same scenario applied twice gives identical tables; another seed differs."""
    inputs, config = city("paris")
    scenario = Scenario("s", no_show_rate=0.2, close_share={"75108": 0.5}, seed=3)
    first, _ = apply(scenario, inputs, config)
    second, _ = apply(scenario, inputs, config)
    pd.testing.assert_frame_equal(first.couriers, second.couriers)
    pd.testing.assert_frame_equal(first.restaurants, second.restaurants)
    assert first.sha256 == second.sha256
    other, _ = apply(dataclasses.replace(scenario, seed=4), inputs, config)
    assert other.sha256 != first.sha256


def no_show_ids(inputs: Inputs, changed: Inputs) -> set[str]:
    """Ids of couriers the scenario set offline."""
    was = inputs.couriers.set_index("courier_id")["status"]
    now = changed.couriers.set_index("courier_id")["status"]
    return set(now.index[(now == "offline") & (was != "offline")])


def test_demand_factor_scales_the_demand_table_too():
    """Paris has a demand table, which replaces the restaurants' rates in its slots: a
    demand factor of 2 doubles the demand of every (zone, slot), and of 0.5 halves it
    (it used to change nothing there: a flat sensitivity table that looked valid)."""
    from rebalance.model import build_problem

    inputs, config = city("paris")
    assert inputs.demand is not None and len(inputs.demand)
    before = inputs.demand.copy(deep=True)
    base = build_problem(inputs, config, SHIFT).slot_demand
    for factor in (2.0, 0.5):
        scenario = Scenario(f"x{factor:g}", demand_factor=factor)
        scaled_inputs, scaled_config = apply(scenario, inputs, config)
        scaled = build_problem(scaled_inputs, scaled_config, SHIFT).slot_demand
        np.testing.assert_allclose(scaled, base * factor)
    assert inputs.demand.equals(before)  # the caller's table is untouched


def test_no_shows_are_a_seeded_share_of_available_couriers():
    """round(rate x available) available couriers go offline; none of the others change."""
    inputs, config = city("paris")
    available = int(inputs.couriers["status"].eq("available").sum())
    changed, _ = apply(Scenario("s", no_show_rate=0.1), inputs, config)
    gone = no_show_ids(inputs, changed)
    assert len(gone) == round(0.1 * available)
    was_available = set(inputs.couriers.loc[inputs.couriers["status"] == "available", "courier_id"])
    assert gone <= was_available
    untouched = ~inputs.couriers["courier_id"].isin(gone)
    pd.testing.assert_frame_equal(changed.couriers[untouched], inputs.couriers[untouched])


def test_no_shows_are_nested_and_order_independent():
    """With one seed, the 10% no-shows are among the 20%; row order does not matter."""
    inputs, config = city("paris")
    ten = no_show_ids(inputs, apply(Scenario("a", no_show_rate=0.1), inputs, config)[0])
    twenty = no_show_ids(inputs, apply(Scenario("b", no_show_rate=0.2), inputs, config)[0])
    assert ten < twenty
    shuffled = inputs.replace(couriers=inputs.couriers.sample(frac=1.0, random_state=1))
    again = no_show_ids(shuffled, apply(Scenario("a", no_show_rate=0.1), shuffled, config)[0])
    assert again == ten


def test_close_share_closes_that_share_of_the_zone_only():
    """Half of a zone's open restaurants close; other zones keep theirs."""
    inputs, config = city("paris")
    rest = inputs.restaurants
    open_8e = int(((rest["zone_id"] == "75108") & (rest["status"] == "open")).sum())
    changed, _ = apply(Scenario("s", close_share={"75108": 0.5}), inputs, config)
    new = changed.restaurants
    closed = (rest["status"] == "open") & (new["status"] == "closed")
    assert int(closed.sum()) == int(np.floor(open_8e * 0.5 + 0.5))
    assert set(new.loc[closed, "zone_id"]) == {"75108"}
    everything, _ = apply(Scenario("s", close_share={"75108": 1.0}), inputs, config)
    assert not (
        (everything.restaurants["zone_id"] == "75108")
        & (everything.restaurants["status"] == "open")
    ).any()


def test_closures_and_no_shows_follow_the_id_order_rule_whatever_the_row_order():
    """close_share closes, in each zone, the first of its open restaurants drawn by
    ``default_rng([seed, crc32(zone)]).permutation`` over them sorted by id (code points:
    "R\uffff" before "R\U0001f600"), and no_show_rate the first couriers drawn by
    ``default_rng(seed)`` over the available ones sorted by id: worked out here in plain
    Python, on tables whose rows are shuffled (the scenario sorts them column-wise)."""
    inputs, config = city("paris")
    zone = "75108"
    rest = inputs.restaurants.copy()
    ids = rest["restaurant_id"].astype(str).to_numpy(dtype=object)
    in_zone = np.flatnonzero((rest["zone_id"] == zone).to_numpy(dtype=bool))
    ids[in_zone[:5]] = ["R\uffff", "R\U0001f600", "R\u00e9", "R0", "Rz"]
    rest["restaurant_id"] = ids
    base = inputs.replace(
        restaurants=rest.sample(frac=1.0, random_state=3).reset_index(drop=True),
        couriers=inputs.couriers.sample(frac=1.0, random_state=4).reset_index(drop=True),
        demand=None,  # it names the restaurants renamed here
    )
    changed, _ = apply(
        Scenario("s", close_share={zone: 0.5}, no_show_rate=0.3, seed=5), base, config
    )

    before = base.restaurants
    was_open = (before["zone_id"] == zone) & (before["status"] == "open")
    open_ids = sorted(before.loc[was_open, "restaurant_id"].astype(str))
    assert len(open_ids) > 5
    draw = np.random.default_rng([5, zlib.crc32(zone.encode("utf-8"))]).permutation(len(open_ids))
    count = math.floor(0.5 * len(open_ids) + 0.5 + 1e-9)
    now = changed.restaurants
    closed = now.loc[(before["status"] == "open") & (now["status"] == "closed"), "restaurant_id"]
    assert set(closed.astype(str)) == {open_ids[i] for i in draw[:count]}

    couriers = base.couriers
    available = sorted(couriers.loc[couriers["status"] == "available", "courier_id"].astype(str))
    draw = np.random.default_rng(5).permutation(len(available))
    count = math.floor(0.3 * len(available) + 0.5 + 1e-9)
    assert no_show_ids(base, changed) == {available[i] for i in draw[:count]}


def test_close_restaurants_and_demand_factor():
    """Named restaurants close; demand_factor scales every expected order rate."""
    inputs, config = city("lyon")
    ids = inputs.restaurants["restaurant_id"].iloc[:3].tolist()
    changed, _ = apply(Scenario("s", close_restaurants=ids, demand_factor=2.0), inputs, config)
    assert set(
        changed.restaurants.loc[changed.restaurants["status"] == "closed", "restaurant_id"]
    ) >= set(ids)
    np.testing.assert_allclose(
        changed.restaurants["expected_orders_per_hour"],
        inputs.restaurants["expected_orders_per_hour"] * 2.0,
    )


def test_unknown_ids_name_the_field():
    """A restaurant or zone the inputs do not have is a ValueError naming the field."""
    inputs, config = city("lyon")
    with pytest.raises(ValueError, match="close_restaurants names unknown restaurant ids 'R9'"):
        apply(Scenario("s", close_restaurants=["R9"]), inputs, config)
    with pytest.raises(ValueError, match="close_share names unknown zones '75101'"):
        apply(Scenario("s", close_share={"75101": 0.5}), inputs, config)
    with pytest.raises(ValueError, match="zone_caps names unknown zones"):
        apply(Scenario("s", zone_caps={"nowhere": 1}), inputs, config)
    with pytest.raises(ValueError, match="config_changes"):
        apply(Scenario("s", config_changes={"costs": {"shortage_minute": 1}}), inputs, config)


def test_zone_caps_set_and_remove_caps():
    """zone_caps sets max_couriers; None removes a cap."""
    inputs, config = city("paris")
    capped = inputs.zones.set_index("zone_id")["max_couriers"]
    assert capped["75104"] == 16
    changed, _ = apply(Scenario("s", zone_caps={"75101": 3, "75104": None}), inputs, config)
    caps = changed.zones.set_index("zone_id")["max_couriers"]
    assert caps["75101"] == 3
    assert np.isnan(caps["75104"])


def test_slowdown_scales_speeds_and_travel_times():
    """Rain at 20% divides every speed by 1.2 and multiplies travel_times minutes by 1.2."""
    inputs, config = city("lyon")
    changed, rainy = apply(Scenario("rain", slowdown=0.2), inputs, config)
    for name, vehicle in config.vehicles.items():
        assert rainy.vehicles[name].speed_kmh == pytest.approx(vehicle.speed_kmh / 1.2)
        assert rainy.vehicles[name].max_move_minutes == vehicle.max_move_minutes
    assert inputs.travel_times is not None and changed.travel_times is not None
    np.testing.assert_allclose(
        changed.travel_times["minutes"], inputs.travel_times["minutes"] * 1.2
    )


def test_config_fields_and_config_changes():
    """Named settings override config_changes; slowdown applies to the changed speed."""
    inputs, config = city("lyon")
    scenario = Scenario(
        "s",
        orders_per_courier_hour=3.0,
        shortage_minutes=90,
        slowdown=1.0,
        config_changes={
            "demand": {"orders_per_courier_hour": 1.0},
            "vehicles": {"bike": {"speed_kmh": 10.0}},
        },
    )
    _, changed = apply(scenario, inputs, config)
    assert changed.demand.orders_per_courier_hour == 3.0
    assert changed.costs.shortage_minutes == 90
    assert changed.vehicles["bike"].speed_kmh == pytest.approx(5.0)
    assert changed.city == config.city


@settings(max_examples=25, deadline=None)
@given(
    rate=st.floats(0, 1),
    slowdown=st.floats(0, 3),
    share=st.floats(0, 1),
    factor=st.floats(0, 3),
    cap=st.none() | st.integers(0, 50),
    seed=st.integers(0, 2**32),
)
def test_apply_pure_and_deterministic_property(rate, slowdown, share, factor, cap, seed):
    """For any valid scenario, apply never mutates and always gives the same result."""
    inputs, config = city("lyon")
    before, sha = snapshot(inputs), inputs.sha256
    scenario = Scenario(
        "any",
        no_show_rate=rate,
        slowdown=slowdown,
        close_share={"69382": share},
        demand_factor=factor,
        zone_caps={"69381": cap},
        seed=seed,
    )
    first, config_a = apply(scenario, inputs, config)
    second, config_b = apply(scenario, inputs, config)
    assert_unchanged(inputs, before, sha)
    assert first.sha256 == second.sha256
    assert config_a == config_b
    assert len(first.couriers) == len(inputs.couriers)
    assert len(first.restaurants) == len(inputs.restaurants)


# ------------------------------------------------------------------------- sweep


def test_sweep_gives_one_row_per_scenario():
    """sweep returns the scenarios in order with status, objective and every KPI."""
    inputs, config = city("paris")
    scenarios = [Scenario("baseline"), *vary("no_show_rate", [0.1, 0.3])]
    table = sweep(scenarios, inputs, config, SHIFT)
    assert table["scenario"].tolist() == ["baseline", "no_show_rate=0.1", "no_show_rate=0.3"]
    plan = solve(inputs, config, SHIFT)
    for key in ("coverage", "coverage_before", "moved_couriers", "travel_minutes", "shortage"):
        assert table.loc[0, key] == plan.kpis[key]
    assert table.loc[0, "objective"] == plan.objective
    assert table.loc[0, "plan_id"] == plan.plan_id
    for column in ("status", "description", "objective_move", "no_show_rate", "couriers_no_show"):
        assert column in table.columns
    assert (table["status"] == "optimal").all()
    # fewer couriers can only lower the eligible supply
    assert table["eligible_couriers"].is_monotonic_decreasing
    assert table.loc[2, "couriers_no_show"] > table.loc[1, "couriers_no_show"] > 0
    # what the scenario removed, not what was already off: the sample has 437 restaurants
    # closed and 34 couriers offline before any scenario
    assert table.loc[0, "restaurants_closed"] == table.loc[0, "couriers_no_show"] == 0
    available = int((inputs.couriers["status"] == "available").sum())
    assert table.loc[1, "couriers_no_show"] == round(0.1 * available)
    rest = inputs.restaurants
    open_id = rest.loc[rest["status"] == "open", "restaurant_id"].iloc[0]
    closed_id = rest.loc[rest["status"] == "closed", "restaurant_id"].iloc[0]
    close = sweep(
        [Scenario("close", close_restaurants=(open_id, closed_id))], inputs, config, SHIFT
    )
    assert close.loc[0, "restaurants_closed"] == 1


def test_infeasible_scenario_is_a_row():
    """A scenario no plan can satisfy is a row with status infeasible and its message."""
    inputs, config = city("lyon")
    tight = Scenario("tight", zone_caps={z: 0 for z in inputs.zones["zone_id"]})
    table = sweep([Scenario("baseline"), tight], inputs, config, SHIFT)
    row = table.set_index("scenario").loc["tight"]
    assert row["status"] == "infeasible"
    assert "max_couriers" in row["message"]
    assert pd.isna(row["coverage"])
    assert table["shortage"].dtype == "Int64"  # counts stay whole next to the missing row


def test_sweep_is_deterministic():
    """Two sweeps of the same seeded scenarios give identical tables."""
    inputs, config = city("lyon")
    scenarios = [
        Scenario("mix", no_show_rate=0.25, close_share={"69382": 0.4}, slowdown=0.5, seed=11),
        *vary("no_show_rate", [0.1, 0.2], base=Scenario("seeded", seed=5)),
    ]
    pd.testing.assert_frame_equal(
        sweep(scenarios, inputs, config, SHIFT), sweep(scenarios, inputs, config, SHIFT)
    )


def test_sweep_with_zones():
    """zones=True returns (table, zones): one row per scenario and zone."""
    inputs, config = city("lyon")
    scenarios = [Scenario("baseline"), Scenario("rain", slowdown=0.2)]
    result = sweep(scenarios, inputs, config, SHIFT, zones=True)
    assert isinstance(result, SweepResult)
    table, zones = result
    assert len(table) == 2
    assert len(zones) == 2 * len(inputs.zones)
    assert zones.columns[0] == "scenario"
    assert set(zones["scenario"]) == {"baseline", "rain"}
    baseline = zones[zones["scenario"] == "baseline"]
    assert int(baseline["shortage"].sum()) == table.loc[0, "shortage"]


def test_sweep_rejects_duplicate_names_and_bad_scenarios_before_solving():
    """Duplicate names and scenarios naming unknown zones fail fast with ValueError."""
    inputs, config = city("lyon")
    with pytest.raises(ValueError, match="two scenarios are named 'a'"):
        sweep([Scenario("a"), Scenario("a", slowdown=0.1)], inputs, config, SHIFT)
    with pytest.raises(ValueError, match="close_share names unknown zones"):
        sweep([Scenario("a"), Scenario("b", close_share={"x": 1.0})], inputs, config, SHIFT)
    with pytest.raises(TypeError, match="Scenario"):
        sweep(["baseline"], inputs, config, SHIFT)  # type: ignore[list-item]


def test_scenario_calls_given_a_folder_or_a_toml_path_say_what_to_pass():
    """The data folder where the Inputs go, the toml path where the Config goes, or one
    Scenario where a list goes: a TypeError naming the call and the fix, as `solve`
    gives (it was "'str' object has no attribute 'zones'" from deep inside)."""
    inputs, config = city("lyon")
    folder = str(REPO / "data" / "samples" / "lyon")
    calls = [
        (lambda: sweep([Scenario("a")], folder, config, SHIFT), "sweep(", "rebalance.load("),
        (
            lambda: apply(Scenario("a"), inputs, folder + "/rebalance.toml"),
            "apply(",
            "load_config(",
        ),
        (
            lambda: solve_scenario(Scenario("a"), folder, config, SHIFT),
            "solve_scenario(",
            "rebalance.load(",
        ),
        (lambda: sweep(Scenario("a"), inputs, config, SHIFT), "sweep(", "give [scenario]"),
    ]
    for call, name, fix in calls:
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value).startswith(name) and fix in str(info.value), info.value


def test_scenario_errors_name_the_scenario_field_not_the_config_file():
    """Values out of the configuration's ranges are refused when the Scenario is made,
    naming the field; a bad config_changes key is not blamed on the toml file the
    scenario is applied to; a demand_factor that takes rates out of range says so
    (it was 2,687 lines about restaurants.csv rows, the scenario unnamed)."""
    with pytest.raises(ValueError, match=r"shortage_minutes must be .*<= 100000"):
        Scenario("x", shortage_minutes=1e9)
    with pytest.raises(ValueError, match=r"orders_per_courier_hour must be .*>= 0.01"):
        Scenario("x", orders_per_courier_hour=0.001)
    inputs, config = city("lyon")
    with pytest.raises(ValueError) as info:
        apply(Scenario("x", config_changes={"costs": {"shortage_minute": 5}}), inputs, config)
    assert "config_changes: key 'costs.shortage_minute'" in str(info.value)
    assert "rebalance.toml" not in str(info.value)
    with pytest.raises(ValueError) as info:
        apply(Scenario("big", demand_factor=1e6), inputs, config)
    text = str(info.value)
    assert text.startswith("Scenario 'big': demand x1e+06 makes inputs no plan can take")
    assert "expected_orders_per_hour" in text and len(text.splitlines()) == 1


def test_sweep_refuses_inputs_edited_in_place_once_before_solving(monkeypatch):
    """Inputs edited in place would be planned under the loaded fingerprint: a sweep with
    a scenario that plans them as they are refuses them before any solve, having
    checked them once for the whole sweep (it was once per scenario, each check a
    fingerprint of every table: 20% of each solve on the Paris sample)."""
    import rebalance.scenarios

    loaded, config = city("lyon")
    inputs = dataclasses.replace(loaded, restaurants=loaded.restaurants.copy())
    checks, solves = [], []
    real_check, real_solve = Inputs.check_unedited, rebalance.scenarios.solve_shift

    def counted_check(self, tables=None):
        checks.append(1)
        return real_check(self, tables)

    def counted_solve(*args, **kwargs):
        solves.append(1)
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(Inputs, "check_unedited", counted_check)
    monkeypatch.setattr(rebalance.scenarios, "solve_shift", counted_solve)
    rates = vary("orders_per_courier_hour", [2.0, 2.5, 3.0])
    table = sweep(rates, inputs, config, SHIFT)
    assert list(table["status"]) == ["optimal"] * 3
    assert (len(checks), len(solves)) == (1, 3)

    inputs.restaurants.loc[0, "expected_orders_per_hour"] = 40.0
    checks.clear()
    solves.clear()
    with pytest.raises(ValueError, match="edited in place"):
        sweep(rates, inputs, config, SHIFT)
    assert (len(checks), solves) == (1, [])
    # a scenario that changes another table kept the edited one unchecked, and its
    # plan had a plan_id of its own (an invalid rate planned as "optimal"): refused too
    checks.clear()
    with pytest.raises(ValueError, match="edited in place"):
        sweep([Scenario("rain", slowdown=0.2)], inputs, config, SHIFT)
    assert (len(checks), solves) == (1, [])
    # a table every scenario replaces is checked as a new one: an edited rate is swept
    busy = sweep([Scenario("busy", demand_factor=1.2)], inputs, config, SHIFT)
    assert list(busy["status"]) == ["optimal"]
    # tables the scenario replaces are checked as new ones
    fresh = inputs.replace(restaurants=inputs.restaurants.copy())
    checks.clear()
    changed = sweep([Scenario("rain", slowdown=0.2)], fresh, config, SHIFT)
    assert list(changed["status"]) == ["optimal"]
    assert len(checks) == 1


def test_run_scenario_is_a_picklable_unit_of_work():
    """run_scenario pickles by reference and returns a picklable row and zone table."""
    inputs, config = city("lyon")
    assert pickle.loads(pickle.dumps(run_scenario)) is run_scenario
    result = run_scenario(Scenario("rain", slowdown=0.2), inputs, config, SHIFT)
    assert set(result) == {"row", "zones"}
    again = pickle.loads(pickle.dumps(result))
    assert again["row"] == result["row"]
    pd.testing.assert_frame_equal(again["zones"], result["zones"])


def test_solve_scenario_returns_the_plan():
    """solve_scenario gives the same plan as solving the applied inputs by hand."""
    inputs, config = city("lyon")
    scenario = Scenario("ns", no_show_rate=0.2, seed=2)
    plan = solve_scenario(scenario, inputs, config, SHIFT)
    by_hand = solve(*apply(scenario, inputs, config), SHIFT)
    assert plan.plan_id == by_hand.plan_id
    pd.testing.assert_frame_equal(plan.moves, by_hand.moves)


def test_run_scenario_without_a_config_plans_with_the_one_the_inputs_came_with(tmp_path):
    """A folder whose rebalance.toml sets 3.5 orders per courier-hour: sweep and
    solve_scenario planned with it, but run_scenario (what a Dask client maps, and
    what an analyst calls for one scenario) planned with the defaults, 2.5, and gave
    another objective without a word. All three now agree."""
    import shutil

    city = tmp_path / "paris"
    shutil.copytree(SAMPLES / "paris", city)
    with (city / "rebalance.toml").open("a") as fh:
        fh.write("\n[demand]\norders_per_courier_hour = 3.5\n[costs]\nshortage_minutes = 30.0\n")
    inputs = load(city)
    base = Scenario("baseline")
    row = run_scenario(base, inputs, None, SHIFT)["row"]
    assert row["orders_per_courier_hour"] == 3.5 and row["shortage_minutes"] == 30.0
    plan = solve_scenario(base, inputs, None, SHIFT)
    assert row["objective"] == plan.objective == solve(inputs, None, SHIFT).objective
    assert row["objective"] == sweep([base], inputs, None, SHIFT).loc[0, "objective"]
