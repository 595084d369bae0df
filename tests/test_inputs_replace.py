"""Inputs.replace: tables given from a notebook are validated as `load` validates files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from util import REPO, SHIFT, VALID

from rebalance import Config, DataError, load, solve

PARIS = REPO / "data" / "samples" / "paris"


def problems(call):
    """The problems of the DataError ``call()`` raises, as (file, row, column, message)."""
    with pytest.raises(DataError) as info:
        call()
    return [(p.file, p.row, p.column, p.message) for p in info.value.problems], str(info.value)


def test_naive_times_are_city_time_as_in_a_csv():
    """Naive availability times given to replace are read in the city's timezone, as the
    CSV's are: the same couriers, the same fingerprint (they were read as UTC, an hour
    off in Paris)."""
    inputs = load(VALID)
    local = inputs.couriers.assign(
        available_from=inputs.couriers["available_from"]
        .dt.tz_convert("Europe/Paris")
        .dt.tz_localize(None),
        available_until=inputs.couriers["available_until"]
        .dt.tz_convert("Europe/Paris")
        .dt.tz_localize(None),
    )
    same = inputs.replace(couriers=local)
    assert same.sha256 == inputs.sha256
    assert same.couriers["available_from"].dt.tz is not None
    pd.testing.assert_series_equal(
        same.couriers["available_from"], inputs.couriers["available_from"]
    )


def test_values_are_normalised_as_when_loaded():
    """'Bike', ' Open ' and a plain text status column become what `load` makes of them."""
    inputs = load(VALID)
    couriers = inputs.couriers.astype({"vehicle": str, "status": str})
    couriers["vehicle"] = couriers["vehicle"].str.title()
    restaurants = inputs.restaurants.astype({"status": str})
    restaurants["status"] = " " + restaurants["status"].str.upper() + " "
    again = inputs.replace(couriers=couriers, restaurants=restaurants)
    assert again.sha256 == inputs.sha256
    assert isinstance(again.couriers["vehicle"].dtype, pd.CategoricalDtype)
    assert set(again.restaurants["status"]) == {"open", "closed"}
    plan = solve(again, Config(), SHIFT)
    assert plan.objective == pytest.approx(solve(inputs, Config(), SHIFT).objective)


def test_bad_values_name_the_table_row_and_column():
    """Negative and NaN rates, a duplicate id and an unknown vehicle are refused, each
    named by table, row (from 1) and column with what would be valid; nothing is built."""
    inputs = load(VALID)
    restaurants = inputs.restaurants.copy()
    restaurants.loc[1, "expected_orders_per_hour"] = -2.0
    restaurants.loc[2, "expected_orders_per_hour"] = np.nan
    restaurants.loc[3, "restaurant_id"] = restaurants.loc[0, "restaurant_id"]
    couriers = inputs.couriers.astype({"vehicle": str})
    couriers.loc[4, "vehicle"] = "hoverboard"
    found, text = problems(lambda: inputs.replace(restaurants=restaurants, couriers=couriers))
    table = "restaurants (DataFrame, rows from 1)"
    assert (table, 2, "expected_orders_per_hour", "value out of range") in found
    assert (table, 3, "expected_orders_per_hour", "blank expected_orders_per_hour") in found
    assert (table, 4, "restaurant_id", "duplicate restaurant_id (first at row 1)") in found
    assert ("couriers (DataFrame, rows from 1)", 5, "vehicle", "invalid vehicle") in found
    assert "a finite number >= 0" in text and "one of bike, " in text


def test_types_a_file_could_not_have_are_refused():
    """Integer ids (which lose leading zeros) and mixed-type columns are refused by name."""
    inputs = load(VALID)
    zones = inputs.zones.assign(zone_id=np.arange(1, len(inputs.zones) + 1))
    found, text = problems(lambda: inputs.replace(zones=zones))
    assert found[0][:3] == ("zones (DataFrame, rows from 1)", None, "zone_id")
    assert "ids like '0042' must stay text" in text
    mixed = inputs.restaurants.astype({"name": object})
    mixed.loc[0, "name"] = 3
    found, _ = problems(lambda: inputs.replace(restaurants=mixed))
    assert found[0][2] == "name" and "mixed types" in found[0][3]
    with pytest.raises(TypeError, match="takes the tables zones"):
        inputs.replace(restuarants=inputs.restaurants)
    with pytest.raises(TypeError, match="couriers table cannot be None"):
        inputs.replace(couriers=None)


def test_timestamps_mixed_with_iso_text_are_accepted_when_every_value_parses():
    """A time column holding Timestamps with a few ISO 8601 strings typed in (naive ones
    in city time) is taken as if every value were a Timestamp: same couriers, same
    fingerprint; one value that is no timestamp is refused by table, row and column,
    saying what is valid."""
    inputs = load(VALID)
    couriers = inputs.couriers.astype({"available_from": object, "available_until": object})
    first = inputs.couriers["available_from"].iloc[0].tz_convert("Europe/Paris")
    until = inputs.couriers["available_until"].iloc[1].tz_convert("Europe/Paris")
    couriers.loc[0, "available_from"] = first.isoformat()  # with its offset
    couriers.loc[1, "available_until"] = until.strftime("%Y-%m-%dT%H:%M")  # city time
    same = inputs.replace(couriers=couriers)
    assert same.sha256 == inputs.sha256
    pd.testing.assert_frame_equal(same.couriers, inputs.couriers)

    couriers.loc[2, "available_until"] = "tomorrow evening"
    found, text = problems(lambda: inputs.replace(couriers=couriers))
    assert found == [
        (
            "couriers (DataFrame, rows from 1)",
            3,
            "available_until",
            "not an ISO 8601 timestamp",
        )
    ]
    assert "expected an ISO 8601 timestamp, e.g. 2026-11-30T19:00" in text


def test_a_huge_number_among_timestamps_is_refused_by_its_row():
    """1e308 typed into a time column of Timestamps made Arrow raise OverflowError from
    `replace` (a traceback, not a DataError): now it is read as text like any other
    value and refused by table, row and column (a run of 2,000 random edits of the Paris
    tables through `replace` and `solve` found it)."""
    inputs = load(VALID)
    couriers = inputs.couriers.astype({"available_until": object})
    couriers.loc[1, "available_until"] = 1e308
    found, text = problems(lambda: inputs.replace(couriers=couriers))
    assert found == [
        ("couriers (DataFrame, rows from 1)", 2, "available_until", "not an ISO 8601 timestamp")
    ]
    assert "'1e+308'" in text


def test_a_demand_table_whose_line_column_is_no_longer_numbers_names_its_rows():
    """A demand table from `load` names demand.csv's lines from its ``line`` column; one
    whose ``line`` holds text (overwritten in a notebook) was a ValueError from `replace`.
    It is validated as any DataFrame, its errors naming rows from 1."""
    paris = load(PARIS)
    demand = paris.demand.copy()
    demand["line"] = demand["line"].astype(object)
    demand.loc[demand.index[0], "line"] = "2026-11-30T19:00"
    kept = paris.replace(demand=demand)
    assert len(kept.demand) == len(paris.demand)
    demand.loc[demand.index[1], "expected_orders_per_hour"] = -2.0
    found, _ = problems(lambda: paris.replace(demand=demand))
    assert [(f, r, c) for f, r, c, _ in found] == [
        ("demand (DataFrame, rows from 1)", 2, "expected_orders_per_hour")
    ]


def test_tables_that_refer_to_a_changed_one_are_checked_again():
    """Dropping a zone that restaurants and couriers are in is refused by those tables;
    dropping restaurants the demand file names is refused by its own file and line."""
    inputs = load(VALID)
    found, _ = problems(lambda: inputs.replace(zones=inputs.zones.iloc[1:]))
    tables = {(f, c, m) for f, _, c, m in found}
    assert ("restaurants (DataFrame, rows from 1)", "zone_id", "unknown zone_id") in tables
    assert ("couriers (DataFrame, rows from 1)", "zone_id", "unknown zone_id") in tables
    paris = load(PARIS)
    first = paris.demand["restaurant_id"].iloc[0]
    with pytest.raises(DataError) as info:
        paris.replace(restaurants=paris.restaurants[paris.restaurants["restaurant_id"] != first])
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.column) == ("demand.csv", 2, "restaurant_id")
    assert problem.message == "unknown restaurant"


def test_a_scaled_demand_table_keeps_its_file_lines():
    """A demand table from `load`, edited and given back, still names demand.csv's lines
    in the errors found once the shift is known."""
    paris = load(PARIS)
    demand = paris.demand.copy()
    demand["expected_orders_per_hour"] *= 2
    doubled = paris.replace(demand=demand)
    assert doubled.demand["where"].astype(str).iloc[0] == "demand.csv, line"
    assert doubled.demand["line"].tolist() == paris.demand["line"].tolist()
    assert doubled.sha256 != paris.sha256


def test_tables_edited_in_place_are_refused_by_solve():
    """A table edited in place after load would plan other content under the loaded
    plan_id (which a publisher takes for the plan already posted): solve refuses it and
    says to use replace, which gives the plan its own id."""
    from rebalance.scenarios import Scenario, solve_scenario

    inputs = load(VALID)
    before = solve(inputs, Config(), SHIFT)
    inputs.restaurants.loc[0, "expected_orders_per_hour"] = 40.0
    with pytest.raises(ValueError, match=r"edited in place .* inputs\.replace\(restaurants="):
        solve(inputs, Config(), SHIFT)
    with pytest.raises(ValueError, match="edited in place"):
        solve_scenario(Scenario("as is"), inputs, Config(), SHIFT)
    changed = inputs.replace(restaurants=inputs.restaurants.copy())
    after = solve(changed, Config(), SHIFT)
    assert after.plan_id != before.plan_id
    assert after.objective != before.objective


def test_replace_refuses_to_keep_a_table_edited_in_place():
    """`replace` checks only the tables it is given (and those referring to them): a
    table edited in place and kept passed unchecked, and the copy's new fingerprint
    gave it a plan_id of its own, so a negative rate and a latitude of 999 planned as
    "optimal" (objective 0, demand -3150 orders/h). Refused now, as `solve` refuses it;
    a table edited in place and given to `replace` is checked as a new one."""
    from rebalance.scenarios import Scenario, apply

    inputs = load(VALID)
    inputs.restaurants.loc[:, "expected_orders_per_hour"] = -50.0
    inputs.zones.loc[0, "lat"] = 999.0
    for call in (
        lambda: inputs.replace(demand=None),
        lambda: inputs.replace(couriers=inputs.couriers.copy()),
        lambda: apply(Scenario("no-shows", no_show_rate=0.2), inputs, Config()),
    ):
        with pytest.raises(
            ValueError, match="the zones and restaurants tables were edited in place"
        ):
            call()
    with pytest.raises(DataError, match="expected_orders_per_hour"):
        inputs.replace(restaurants=inputs.restaurants.copy(), zones=inputs.zones.copy())
    # verify=False: for a caller that has just checked them
    unchecked = load(VALID).replace(demand=None, verify=False)
    assert unchecked.sha256 == load(VALID).replace(demand=None).sha256


def test_a_restaurant_id_with_a_semicolon_is_refused(tmp_path):
    """Pause lists are ";"-separated (CONTRACT section 4): a restaurant "R1;R2" was listed
    as two restaurants to pause, one made up and one twice, in zones.csv, the terminal
    and Slack. Now refused, in a CSV (file, line and column) and in a DataFrame given
    to `replace`, with what is valid; a ";" in a name is still loaded."""
    import shutil

    city = tmp_path / "city"
    shutil.copytree(VALID, city)
    path = city / "restaurants.csv"
    lines = path.read_text().splitlines()
    first = lines[1].split(",")[0]
    lines[1] = lines[1].replace(first, f'"{first};{first}x"', 1)
    path.write_text("\n".join(lines) + "\n")
    found, text = problems(lambda: load(city))
    assert ("restaurants.csv", None, "restaurant_id", "restaurant_id with ';'") in [
        (f, None, c, m) for f, _, c, m in found
    ]
    assert "restaurants.csv, line 2, column 'restaurant_id'" in text
    assert "without ';'" in text
    inputs = load(VALID)
    restaurants = inputs.restaurants.copy()
    restaurants.loc[0, "restaurant_id"] = "A;B"
    restaurants.loc[1, "name"] = "Fish; Chips"
    found, _ = problems(lambda: inputs.replace(restaurants=restaurants))
    assert found == [
        ("restaurants (DataFrame, rows from 1)", 1, "restaurant_id", "restaurant_id with ';'")
    ]


def test_text_with_a_lone_surrogate_is_a_data_error_naming_its_row():
    """A name with a lone surrogate ("\\ud800", from a badly decoded export) raised
    pyarrow's UnicodeEncodeError from `replace`; it is a DataError naming the table,
    row and column, as every bad value is."""
    inputs = load(VALID)
    zones = inputs.zones.copy()
    zones["name"] = zones["name"].astype(object)
    zones.loc[zones.index[2], "name"] = "lone \ud800 surrogate"
    found, _ = problems(lambda: inputs.replace(zones=zones))
    assert len(found) == 1
    file, row, column, message = found[0]
    assert (file, row, column) == ("zones (DataFrame, rows from 1)", 3, "name")
    assert "no UTF-8 form" in message and "'\\ud800'" in message
