"""Re-planning against the published plan (CONTRACT section 9)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from util import REPO

import rebalance
from rebalance.errors import InputError

PARIS = REPO / "data" / "samples" / "paris"
SHIFT = "2026-11-30T19:00"


@pytest.fixture(scope="module")
def paris():
    """The Paris sample, its config and its plan for the dinner shift, written to a folder."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    return config, inputs, rebalance.solve(inputs, config, SHIFT)


def test_unchanged_inputs_change_nothing(paris):
    """Re-planning the same inputs against the plan just made gives the same moves."""
    config, inputs, plan = paris
    again = rebalance.solve(inputs, config, SHIFT, previous=plan)
    assert again.status == "optimal"
    cols = ["courier_id", "from_zone", "to_zone", "slot_start"]
    # What to do now is kept (section 9 prices a change in slot 0 only). Later moves may
    # come out as another optimum of the same cost: on the Paris sample with its demand.csv
    # one 20:00 move becomes an equivalent 20:30 move by another courier.
    pd.testing.assert_frame_equal(
        again.moves_at(0)[cols].reset_index(drop=True),
        plan.moves_at(0)[cols].reset_index(drop=True),
    )
    assert again.kpis["changed_couriers"] == 0
    assert again.objective == pytest.approx(plan.objective, abs=1e-3)
    assert again.kpis["objective_breakdown"]["change_minutes"] == 0


def test_couriers_on_their_way_count_at_their_destination(paris):
    """Fifteen minutes in, couriers sent at the start count where they were sent."""
    config, inputs, plan = paris
    # 15-minute slots: the sample's demand rows (every 30 minutes from 19:00) lie on them.
    quarter = config.with_changes(shift={"slot_minutes": 15})
    later = rebalance.solve(inputs, quarter, "2026-11-30T19:15", previous=plan)
    first = plan.moves_at(0)
    assert later.kpis["on_the_way"] == len(first)
    assert "on their way" in later.message
    # none of them is told to make the move it is already making
    again = later.moves.merge(first, on=["courier_id", "from_zone", "to_zone"])
    assert again.empty


def test_closed_restaurant_moves_the_fewest_couriers(paris):
    """Closing the busiest restaurant of a receiving zone re-routes at most as many couriers
    as the zone no longer needs; without the previous plan the solver is free to reshuffle."""
    config, inputs, plan = paris
    zones = plan.zones.set_index("zone_id")
    target = zones[zones["moved_in"] > 0]["moved_in"].idxmax()
    rest = inputs.restaurants
    in_zone = rest[(rest["zone_id"] == target) & (rest["status"] == "open")]
    closed = in_zone.sort_values("expected_orders_per_hour").tail(3)["restaurant_id"]
    status = rest["status"].where(~rest["restaurant_id"].isin(closed), "closed")
    changed = inputs.replace(restaurants=rest.assign(status=status))
    drop = plan.zones.set_index("zone_id").loc[target, "required_couriers"]
    replanned = rebalance.solve(changed, config, SHIFT, previous=plan)
    fresh_need = rebalance.solve(changed, config, SHIFT)
    fewer = drop - fresh_need.zones.set_index("zone_id").loc[target, "required_couriers"]
    assert 0 < replanned.kpis["changed_couriers"] <= fewer
    assert replanned.status == "optimal"


def test_previous_plan_of_another_city_is_refused(paris, tmp_path):
    """A previous plan of another city is exit 3 naming both cities."""
    config, inputs, plan = paris
    other = config.with_changes(city={"name": "Lyon"})
    with pytest.raises(InputError, match="'Paris', not 'Lyon'"):
        rebalance.solve(inputs, other, SHIFT, previous=plan)


def test_previous_plan_from_another_data_set_is_refused(paris, tmp_path):
    """A previous plan naming zones these inputs do not have is exit 3 saying so."""
    config, inputs, plan = paris
    zones = plan.zones.assign(zone_id=plan.zones["zone_id"] + "x")
    import dataclasses

    alien = dataclasses.replace(plan, zones=zones)
    with pytest.raises(InputError, match="another data set"):
        rebalance.solve(inputs, config, SHIFT, previous=alien)


def test_couriers_no_longer_present_are_dropped_with_a_count(paris):
    """Previous moves of couriers who are gone are dropped and counted, never a crash."""
    config, inputs, plan = paris
    gone = plan.moves["courier_id"].iloc[:3]
    fewer = inputs.replace(couriers=inputs.couriers[~inputs.couriers["courier_id"].isin(gone)])
    again = rebalance.solve(fewer, config, SHIFT, previous=plan)
    assert again.status == "optimal"
    assert "3 couriers of the previous plan no longer present" in again.message


def test_plan_previous_on_the_command_line(paris, tmp_path):
    """`rebalance plan --previous DIR` re-plans; an unreadable folder is exit 3."""
    from typer.testing import CliRunner

    from rebalance.cli import app

    _, _, plan = paris
    first = plan.write(tmp_path / "first")
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["plan", str(PARIS), "--shift-start", SHIFT, "--previous", str(first), "--format", "json"],
    )
    assert ok.exit_code == 0, ok.output
    broken = tmp_path / "broken"
    shutil.copytree(first, broken)
    (broken / "plan.json").unlink()
    bad = runner.invoke(
        app, ["plan", str(PARIS), "--shift-start", SHIFT, "--previous", str(broken)]
    )
    assert bad.exit_code == 3
    assert "plan.json" in bad.output
