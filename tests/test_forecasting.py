"""Forecast (CONTRACT section 8): the demand table of section 7 from past orders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from util import courier, restaurant, write_city, zone

from rebalance import Config, PlanWarning, load
from rebalance.cli import app
from rebalance.forecasting import DEMAND_COLUMNS, forecast, run_forecast

SHIFT = "2026-11-30T19:00"  # a Monday
CONFIG = Config().with_changes(shift={"hours": 2.0, "slot_minutes": 60})


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """Zone A with restaurants RA1, RA2, RNEW; zone B with RB."""
    return write_city(
        tmp_path / "city",
        zones=[zone("A", 48.86, 2.34), zone("B", 48.87, 2.35)],
        restaurants=[
            restaurant("RA1", "A", 3.0),
            restaurant("RA2", "A", 3.0),
            restaurant("RNEW", "A", 7.0),
            restaurant("RB", "B", 1.0),
        ],
        couriers=[courier("C1", "A")],
    )


def history(per_day: dict[str, dict[str, int]], days: list[str]) -> pd.DataFrame:
    """Orders: on each day, ``per_day[restaurant][HH:MM]`` orders at that clock time."""
    rows = []
    for day in days:
        for rid, times in per_day.items():
            for clock, n in times.items():
                rows += [(rid, f"{day}T{clock}")] * n
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(rows))],
            "restaurant_id": [r for r, _ in rows],
            "placed_at": [t for _, t in rows],
        }
    )


def days_before(n: int, step: int = 1) -> list[str]:
    """``n`` dates before the shift's day, ``step`` days apart, oldest first."""
    end = pd.Timestamp("2026-11-30")
    return [f"{end - pd.Timedelta(days=step * i):%Y-%m-%d}" for i in range(n, 0, -1)]


#: A busy steady city: 40 + 20 orders a day in A's restaurants, 10 + 10 in B's.
STEADY = {
    "RA1": {"19:10": 40, "20:10": 20},
    "RA2": {"19:20": 40, "20:20": 20},
    "RB": {"19:30": 10, "20:30": 10},
}


def test_steady_history_gives_its_own_rates_on_slot_boundaries(city):
    """Identical days give the observed rate per slot (up to the shape's small pull toward
    the zone), with the city's offset."""
    demand = forecast(history(STEADY, days_before(28)), load(city), CONFIG, SHIFT)
    assert list(demand.columns) == list(DEMAND_COLUMNS)
    rates = demand.set_index(["restaurant_id", "slot_start"])["expected_orders_per_hour"]
    assert rates[("RA1", "2026-11-30T19:00:00+01:00")] == pytest.approx(40.0, rel=0.01)
    assert rates[("RA1", "2026-11-30T20:00:00+01:00")] == pytest.approx(20.0, rel=0.01)
    # RB, one small restaurant alone in its zone, leans partly on the city's shape
    assert rates[("RB", "2026-11-30T20:00:00+01:00")] == pytest.approx(10.0, rel=0.15)
    assert not demand.duplicated(["restaurant_id", "slot_start"]).any()


def test_restaurant_without_orders_gets_no_row_and_is_reported(city):
    """A restaurant absent from the history has no row (the plan falls back to
    restaurants.csv) and the report names it."""
    result = run_forecast(history(STEADY, days_before(5)), load(city), CONFIG, SHIFT)
    assert "RNEW" not in set(result.demand["restaurant_id"])
    assert result.without_history == ("RNEW",)
    assert any("1 without any order: no row" in line and "RNEW" in line for line in result.report())


def test_same_weekday_only_with_two_of_them(city):
    """With two or more Mondays in the history only Mondays count; with one, every day does."""
    mondays = {"RA1": {"19:10": 8}, "RA2": {"19:10": 8}, "RB": {"19:10": 8}}
    others = {"RA1": {"19:10": 2}, "RA2": {"19:10": 2}, "RB": {"19:10": 2}}
    two_weeks = days_before(14)
    is_monday = [pd.Timestamp(d).weekday() == 0 for d in two_weeks]
    h = pd.concat(
        [
            history(mondays, [d for d, m in zip(two_weeks, is_monday, strict=True) if m]),
            history(others, [d for d, m in zip(two_weeks, is_monday, strict=True) if not m]),
        ],
        ignore_index=True,
    ).assign(order_id=lambda d: [f"O{i}" for i in range(len(d))])
    result = run_forecast(h, load(city), CONFIG, SHIFT, warn=False)
    assert result.same_weekday and len(result.days) == 2
    # RNEW took orders on a Tuesday only: outside the Mondays used, from its zone alone
    tuesday = history({"RNEW": {"19:10": 5}}, ["2026-11-24"])
    both = pd.concat([h, tuesday], ignore_index=True).assign(
        order_id=lambda d: [f"O{i}" for i in range(len(d))]
    )
    zone_only = run_forecast(both, load(city), CONFIG, SHIFT, warn=False)
    assert zone_only.zone_only == ("RNEW",)
    assert any(
        "1 with orders only outside the days used: estimated from their zone alone" in line
        and "RNEW" in line
        for line in zone_only.report()
    )
    first = result.demand[result.demand["slot_start"].str.startswith("2026-11-30T19")]
    assert first["expected_orders_per_hour"].to_numpy() == pytest.approx(8.0, rel=0.01)
    # one week only: a single Monday, so all seven days are used
    last_week = h[pd.to_datetime(h["placed_at"]) >= pd.Timestamp("2026-11-23")]
    result = run_forecast(last_week, load(city), CONFIG, SHIFT)
    assert not result.same_weekday and len(result.days) == 7
    first = result.demand[result.demand["slot_start"].str.startswith("2026-11-30T19")]
    assert first["expected_orders_per_hour"].to_numpy() == pytest.approx((8 + 6 * 2) / 7, rel=0.05)


def test_few_orders_are_shrunk_toward_the_zone(city):
    """A restaurant seen on one day only leans on its zone far more than one with eight
    weeks of history, and its rate lies between its own and its zone's."""
    rng = np.random.default_rng(0)
    rows = []
    days = days_before(56)
    for day in days:
        for rid, lam in (("RA1", 3.0), ("RA2", 6.0), ("RB", 2.0)):
            rows += [(rid, f"{day}T19:{m:02d}") for m in rng.integers(0, 60, rng.poisson(lam))]
    rows += [("RNEW", "2026-11-23T19:05")]  # one order, last Monday
    h = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(rows))],
            "restaurant_id": [r for r, _ in rows],
            "placed_at": [t for _, t in rows],
        }
    )
    demand = forecast(h, load(city), CONFIG.with_changes(shift={"hours": 1.0}), SHIFT)
    by = demand.set_index("restaurant_id")
    assert by.loc["RNEW", "history_days"] == 1 and by.loc["RA2", "history_days"] == 8
    assert by.loc["RNEW", "prior_weight"] > 2 * by.loc["RA2", "prior_weight"]
    # its own rate would be 1 order/h; the zone's restaurants average about 4.5
    assert 1.0 < by.loc["RNEW", "expected_orders_per_hour"] < 4.5
    assert by.loc["RA2", "expected_orders_per_hour"] > by.loc["RA1", "expected_orders_per_hour"]


def test_shape_follows_the_zone_when_a_restaurant_has_few_orders(city):
    """A restaurant with a single order at 19:xx still gets some demand at 20:00, as its zone has."""
    busy = {"RA1": {"19:10": 2, "20:10": 6}, "RA2": {"19:10": 2, "20:10": 6}, "RB": {"19:10": 1}}
    h = history(busy, days_before(7))
    extra = pd.DataFrame(
        {"order_id": ["X"], "restaurant_id": ["RNEW"], "placed_at": ["2026-11-29T19:20"]}
    )
    demand = forecast(pd.concat([h, extra], ignore_index=True), load(city), CONFIG, SHIFT)
    new = demand[demand["restaurant_id"] == "RNEW"]["expected_orders_per_hour"].to_numpy()
    assert new[1] > new[0] > 0


def test_orders_from_the_shift_on_are_ignored(city):
    """Orders at or after the shift start never feed the forecast; they are counted."""
    h = history(STEADY, days_before(3))
    late = history({"RA1": {"19:10": 50}}, ["2026-11-30", "2026-12-01"])
    h = pd.concat([h, late], ignore_index=True).assign(
        order_id=lambda d: [f"O{i}" for i in range(len(d))]
    )
    result = run_forecast(h, load(city), CONFIG, SHIFT)
    assert result.orders_ignored_after == 100
    assert "  orders at or after the shift's start ignored: 100" in result.report()
    rates = result.demand.set_index(["restaurant_id", "slot_start"])["expected_orders_per_hour"]
    assert rates[("RA1", "2026-11-30T19:00:00+01:00")] == pytest.approx(40.0, rel=0.01)


def test_partial_first_day_and_gaps_are_left_out(city):
    """A history that starts after a day's evening or skips a day does not read as zero orders."""
    days = days_before(6)
    h = history(STEADY, days[:2] + days[3:])  # day 3 missing
    lunch = history({"RA1": {"12:00": 1}}, ["2026-11-23"])  # the first day: lunch only
    h = pd.concat([lunch, h], ignore_index=True).assign(
        order_id=lambda d: [f"O{i}" for i in range(len(d))]
    )
    result = run_forecast(h, load(city), CONFIG, SHIFT)
    assert len(result.days) == 5 and len(result.gaps) == 1
    rates = result.demand.set_index(["restaurant_id", "slot_start"])["expected_orders_per_hour"]
    assert rates[("RA1", "2026-11-30T19:00:00+01:00")] == pytest.approx(40.0, rel=0.01)


def test_a_missing_daily_export_is_a_gap_though_its_day_holds_next_mornings_orders(city):
    """Orders around the clock, one date's export missing: a day runs from the shift's
    clock time to the next day's, so it still holds the next morning's orders; its
    evening must be a gap (reported, left out), not an evening without orders."""
    around_the_clock = {
        rid: {f"{h:02d}:{m:02d}": 1 for h in range(24) for m in (5, 35)}
        for rid in ("RA1", "RA2", "RB")
    }
    days = days_before(28)  # four Mondays: 11-02, 11-09, 11-16, 11-23
    h = history(around_the_clock, [d for d in days if d != "2026-11-16"])
    result = run_forecast(h, load(city), CONFIG, SHIFT)
    assert [f"{g:%Y-%m-%d}" for g in result.gaps] == ["2026-11-16"]
    assert [f"{d:%Y-%m-%d}" for d in result.days] == ["2026-11-02", "2026-11-09", "2026-11-23"]
    rates = result.demand["expected_orders_per_hour"]
    assert rates.to_numpy() == pytest.approx(2.0)  # not 2 x 3/4 from an empty evening
    assert "  days without any order (left out): 2026-11-16" in result.report()


def test_level_spread_is_estimated_without_the_bias_of_the_zone_mean(tmp_path):
    """phi, the spread of true levels around the zone's mean, from restaurants two to a
    zone: the zone's mean comes from the same two restaurants, so the plain moment
    estimate is ~2.5x too small (0.10 for a true 0.25) and pulls restaurants toward their
    zone; corrected, it comes out near the truth."""
    rng = np.random.default_rng(11)
    zones = [zone(f"Z{i}", 48.80 + 0.01 * i, 2.30) for i in range(60)]
    rests, rows = [], []
    days = days_before(8, step=7)  # eight Mondays
    for i in range(60):
        mean = rng.uniform(2.0, 8.0)
        for j in range(2):
            rid = f"R{i}_{j}"
            rests.append(restaurant(rid, f"Z{i}", 1.0))
            level = mean * rng.gamma(4.0, 0.25)  # phi = 1 / 4
            for day in days:
                for minute in rng.uniform(0, 120, rng.poisson(level * 2.0)):
                    t = pd.Timestamp(f"{day}T19:00") + pd.Timedelta(minutes=float(minute))
                    rows.append((rid, f"{t:%Y-%m-%dT%H:%M:%S}"))
    city = write_city(tmp_path / "c", zones=zones, restaurants=rests, couriers=[courier("C", "Z0")])
    h = pd.DataFrame(
        {
            "order_id": [f"O{k}" for k in range(len(rows))],
            "restaurant_id": [r for r, _ in rows],
            "placed_at": [t for _, t in rows],
        }
    )
    result = run_forecast(h, load(city), CONFIG, SHIFT)
    assert 0.17 < result.phi < 0.35


def test_backtest_is_exact_on_a_steady_history_and_signs_its_bias(city):
    """Steady days: MAE near 0 on the last day; a busier last day: negative bias there."""
    inputs = load(city)
    # without RNEW, whose flat restaurants.csv rate would count as the plan's guess for it
    inputs = inputs.replace(
        restaurants=inputs.restaurants[inputs.restaurants["restaurant_id"] != "RNEW"]
    )
    bt = run_forecast(
        history(STEADY, days_before(5)), inputs, CONFIG, SHIFT, backtest=True
    ).backtest
    assert bt is not None and bt.mae < 0.05 * bt.mae_flat
    assert bt.day == pd.Timestamp("2026-11-29")
    h = pd.concat(
        [history(STEADY, days_before(5)), history({"RB": {"19:40": 10}}, ["2026-11-29"])],
        ignore_index=True,
    ).assign(order_id=lambda d: [f"O{i}" for i in range(len(d))])
    bt = run_forecast(h, inputs, CONFIG, SHIFT, backtest=True).backtest
    assert bt is not None
    slot = bt.by_slot.set_index(bt.by_slot["slot_start"].dt.strftime("%H:%M"))
    assert slot.loc["19:00", "bias"] == pytest.approx(-5.0, abs=1.0)  # 10 missed in B / 2 zones
    assert slot.loc["20:00", "bias"] == pytest.approx(0.0, abs=1.0)
    zone = bt.by_zone.set_index("zone_id")
    assert zone.loc["B", "mae"] == pytest.approx(5.0, abs=1.0) and zone.loc["A", "mae"] < 1.0
    # the shift's bias: the mean error over zones and slots, negative (too low)
    errors = bt.zones["forecast"] - bt.zones["actual"]
    assert bt.bias == pytest.approx(errors.mean()) and bt.bias < -1.0
    # the terminal view lists the zones of largest error first
    from rich.console import Console

    console = Console(width=100, record=True, color_system=None)
    console.print(run_forecast(h, inputs, CONFIG, SHIFT, backtest=True))
    lines = console.export_text().split("zone (largest MAE)")[1].splitlines()[1:]
    assert [line.split()[0] for line in lines if line.strip()] == ["B", "A"]


def test_backtest_uses_the_flat_rate_for_restaurants_it_had_not_seen_yet(city):
    """The backtest forecasts the last day as a plan would have then: a restaurant with
    no order before that day (RNEW: none at all, or only on that day) counts with its
    restaurants.csv rate (7 orders/h), not with an estimate from orders it had not
    taken yet."""
    inputs = load(city)
    steady = history(STEADY, days_before(5))
    first_day = pd.concat(
        [steady, history({"RNEW": {"19:40": 30}}, ["2026-11-29"])], ignore_index=True
    ).assign(order_id=lambda d: [f"O{i}" for i in range(len(d))])
    for h in (steady, first_day):
        bt = run_forecast(h, inputs, CONFIG, SHIFT, backtest=True).backtest
        assert bt is not None
        a = bt.zones[bt.zones["zone_id"] == "A"]
        a = a.set_index(a["slot_start"].dt.strftime("%H:%M"))
        # RA1 and RA2 take 40 orders each in the 19:00 hour, every day; RNEW's flat 7
        assert a.loc["19:00", "forecast"] == pytest.approx(80.0 + 7.0, abs=0.5)


def test_few_days_of_history_are_said_and_a_steady_shape_follows_the_zone(city):
    """With under 3 days of history the report says estimates lean on the zones; days
    whose shapes differ no more than chance give the shape prior its upper end (500
    pseudo-orders: follow the zone's shape)."""
    from rebalance.forecasting import SHAPE_PRIOR_RANGE

    with pytest.warns(PlanWarning, match=r"only 2 days of history"):
        two = run_forecast(history(STEADY, days_before(2)), load(city), CONFIG, SHIFT)
    assert "  note: only 2 days of history: estimates lean on the zones' profiles" in (two.report())
    three = run_forecast(history(STEADY, days_before(3)), load(city), CONFIG, SHIFT)
    assert not any("days of history" in line for line in three.report())
    assert three.shape_prior == SHAPE_PRIOR_RANGE[1]


def test_a_history_that_ended_months_before_the_shift_says_so(city):
    """A history exported six months ago forecasts a city that may have changed: the
    report dates the days used, and now also notes how long before the shift the last of
    them was (an audit found nothing said). A history up to last week says nothing."""
    old = history(STEADY, days_before(28))
    later = "2027-06-07T19:00"  # a Monday, 27 weeks on
    with pytest.warns(PlanWarning, match="is 196 days before the shift"):
        result = run_forecast(old, load(city), CONFIG, later)
    (note,) = [n for n in result.notes if "before the shift" in n]
    assert note.startswith("the last day used, 2026-11-23, is 196 days before the shift")
    recent = run_forecast(old, load(city), CONFIG, SHIFT)
    assert not [n for n in recent.notes if "before the shift" in n]


def test_history_before_nothing_is_an_input_error(city):
    """A history with only orders after the shift starts is refused (exit 3 in the CLI)."""
    from rebalance import DataError

    with pytest.raises(DataError, match="no order before the shift"):
        run_forecast(history(STEADY, ["2026-12-01"]), load(city), CONFIG, SHIFT)


def test_generated_city_forecast_recovers_the_evening_profile(tmp_path):
    """On a generated city with 28 days of history, the zone forecast follows the generated
    demand profile closely and beats the flat restaurants.csv rate in the backtest."""
    from rebalance.generate import generate_city

    city = generate_city(
        tmp_path / "g", zones=12, couriers=50, restaurants=150, seed=5, demand=True, history_days=28
    )
    inputs = load(city)
    result = run_forecast(city / "orders.csv", inputs, Config(), SHIFT, backtest=True)
    truth = pd.read_csv(city / "demand.csv", dtype={"restaurant_id": str})
    zone_of = inputs.restaurants.set_index("restaurant_id")["zone_id"]
    got = result.demand.groupby(["zone_id", "slot_start"])["expected_orders_per_hour"].sum()
    want = (
        truth.assign(zone_id=truth["restaurant_id"].map(zone_of))
        .groupby(["zone_id", "slot_start"])["expected_orders_per_hour"]
        .sum()
    )
    both = pd.concat([got.rename("got"), want.rename("want")], axis=1).dropna()
    assert np.corrcoef(both["got"], both["want"])[0, 1] > 0.9
    city_got = got.groupby(level="slot_start").sum()
    assert city_got.idxmax()[11:16] in {"19:30", "20:00", "20:30"}
    assert city_got.iloc[-1] < 0.3 * city_got.max()
    assert result.backtest is not None and result.backtest.mae < result.backtest.mae_flat
    # rates to the thousandth: a small restaurant's 0.04 orders/h is not rounded to 0
    rates = result.demand["expected_orders_per_hour"]
    assert (rates.round(3) == rates).all() and (rates.round(1) != rates).mean() > 0.5


def test_cli_writes_the_table_and_reports(tmp_path, city):
    """`rebalance forecast --out` writes the demand table and prints days and restaurants used."""
    h = history(STEADY, days_before(14))
    h.to_csv(tmp_path / "orders.csv", index=False)
    out = tmp_path / "out" / "demand.csv"
    result = CliRunner().invoke(
        app,
        [
            "forecast",
            str(tmp_path / "orders.csv"),
            "--data",
            str(city),
            "--shift-start",
            SHIFT,
            "--out",
            str(out),
            "--backtest",
        ],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out, dtype=str)
    assert len(written) == 3 * 8 and list(written.columns)[:3] == list(DEMAND_COLUMNS)[:3]
    assert "days used: 2 (only Mondays)" in result.stdout
    assert "3 of 4 with history" in result.stdout and "RNEW" in result.stdout
    assert "Backtest: Sun 2026-11-29 forecast from 13 earlier days" in result.stdout


def test_cli_without_out_prints_csv_on_stdout_only(tmp_path, city):
    """Without --out the table is CSV on stdout and the report goes to stderr."""
    history(STEADY, days_before(3)).to_csv(tmp_path / "orders.csv", index=False)
    result = CliRunner().invoke(
        app, ["forecast", str(tmp_path / "orders.csv"), "--data", str(city), "--shift-start", SHIFT]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(DEMAND_COLUMNS)
    assert "days used: 3" in result.stderr


def test_cli_bad_history_exits_3_and_writes_nothing(tmp_path, city):
    """An unknown restaurant in the history exits 3, names line and column, writes no file."""
    (tmp_path / "orders.csv").write_text(
        "order_id,restaurant_id,placed_at\nO1,RZZ,2026-11-29T19:10\nO2,RA1,2026-11-29T19:10\n"
    )
    out = tmp_path / "demand.csv"
    result = CliRunner().invoke(
        app,
        [
            "forecast",
            str(tmp_path / "orders.csv"),
            "--data",
            str(city),
            "--shift-start",
            SHIFT,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 3
    assert "orders.csv, line 2, column 'restaurant_id': unknown restaurant" in result.stderr
    assert not out.exists()


def test_zone_without_evening_orders_is_forecast_zero_and_reported(city):
    """A zone whose restaurants only sell at lunch gets 0 per slot, and the report says so."""
    h = history({"RA1": {"19:10": 5, "20:10": 5}, "RB": {"12:10": 5}}, days_before(7))
    with pytest.warns(PlanWarning, match="had no order in the shift's hours"):
        result = run_forecast(h, load(city), CONFIG, SHIFT)
    rb = result.demand[result.demand["restaurant_id"] == "RB"]
    assert (rb["expected_orders_per_hour"] == 0).all() and len(rb) == 2
    assert any("1 zone had no order in the shift's hours" in n and "B" in n for n in result.notes)


def test_past_days_are_read_at_the_same_wall_clock_across_a_dst_change(city):
    """Orders at 19:10 city time every day, across the end of summer time, all land in the
    19:00 slot of a shift after the change: windows follow the clock, not UTC."""
    days = [f"2026-10-{d:02d}" for d in range(19, 27)]  # summer time ends on 25 October
    h = history({"RA1": {"19:10": 6}, "RA2": {"19:10": 6}, "RB": {"19:10": 6}}, days)
    result = run_forecast(h, load(city), CONFIG, "2026-10-27T19:00")
    first = result.demand[result.demand["slot_start"] == "2026-10-27T19:00:00+01:00"]
    assert first["expected_orders_per_hour"].to_numpy() == pytest.approx(6.0, rel=0.01)
    assert len(result.days) == 8 and result.partial_days == 0


def test_a_shift_across_the_clock_change_reads_each_slot_at_its_own_clock_time(city):
    """A night shift across the change: each slot reads the past days at its own clock
    time. Spring: the slot after the gap is 03:00 and gets the 03:00 orders (it got the
    02:00 ones, and every later slot the hour before its own). Autumn: both 02:00 slots
    read the past days' 02:00 hour."""
    night = Config().with_changes(shift={"hours": 3.0, "slot_minutes": 30})
    orders = {"RA1": {"02:10": 4, "03:10": 10}}
    spring = [f"2026-03-{d:02d}" for d in range(1, 29)]
    demand = forecast(history(orders, spring), load(city), night, "2026-03-29T01:00")
    rate = demand[demand["restaurant_id"] == "RA1"].set_index("slot_start")
    rate = rate["expected_orders_per_hour"]
    assert list(rate.index) == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:00:00+02:00",
        "2026-03-29T04:30:00+02:00",
    ]
    assert rate["2026-03-29T03:00:00+02:00"] == pytest.approx(20.0, rel=0.05)
    assert rate["2026-03-29T04:00:00+02:00"] < 1.0
    autumn = [f"2026-10-{d:02d}" for d in range(1, 25)]
    demand = forecast(history(orders, autumn), load(city), night, "2026-10-25T01:00")
    rate = demand[demand["restaurant_id"] == "RA1"].set_index("slot_start")
    rate = rate["expected_orders_per_hour"]
    assert rate["2026-10-25T02:00:00+02:00"] == pytest.approx(8.0, rel=0.05)
    assert rate["2026-10-25T02:00:00+01:00"] == pytest.approx(8.0, rel=0.05)
    assert rate["2026-10-25T01:00:00+02:00"] < 1.0


def steady_real_time(first: str, last: str, per_half_hour: int) -> pd.DataFrame:
    """Orders of RA1 and RA2, ``per_half_hour`` in every real half hour from 00:00 to
    04:00 city time of each day ``first``..``last``, written with their UTC offsets: on
    a night the clocks go back, its repeated hour has twice the orders of an hour."""
    rows = []
    for day in pd.date_range(first, last, freq="D"):
        start = pd.Timestamp(day).tz_localize("Europe/Paris")
        end = (pd.Timestamp(day) + pd.Timedelta(hours=4)).tz_localize("Europe/Paris")
        for t in pd.date_range(start, end, freq="30min", inclusive="left"):
            for rid in ("RA1", "RA2"):
                for n in range(per_half_hour):
                    rows.append((rid, (t + pd.Timedelta(minutes=3 + 5 * n)).isoformat()))
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(rows))],
            "restaurant_id": [r for r, _ in rows],
            "placed_at": [t for _, t in rows],
        }
    )


@pytest.mark.parametrize(
    ("first", "last", "shift", "orders"),
    [
        # 4 Sundays, the last one 25 October: its 02:00-03:00 happened twice
        ("2026-10-04", "2026-10-31", "2026-11-01T00:00", 4 * 8 * 2 * 4 + 2 * 2 * 4),
        # 4 Sundays, the last one 29 March: its 02:00-03:00 never happened
        ("2026-03-08", "2026-04-04", "2026-04-05T00:00", 4 * 8 * 2 * 4 - 2 * 2 * 4),
    ],
)
def test_a_clock_change_in_the_history_does_not_bend_the_forecast(city, first, last, shift, orders):
    """Every real half hour has the same orders. The Sunday the clocks went back counted
    two hours of orders in its 02:00 and 02:30 slots, the Sunday they skipped an hour
    none: four Sundays of history forecast 10.0 (autumn) and 6.0 (spring) orders an
    hour there against 8.0 in every other slot, for weeks. Each slot's orders are now
    read per its real time; and the orders of the repeated hour count once among the
    orders used (they were counted for both its slots)."""
    night = Config().with_changes(shift={"hours": 4.0, "slot_minutes": 30})
    result = run_forecast(steady_real_time(first, last, 4), load(city), night, shift)
    assert result.same_weekday and len(result.days) == 4
    rates = result.demand.set_index(["restaurant_id", "slot_start"])["expected_orders_per_hour"]
    for rid in ("RA1", "RA2"):
        assert rates[rid].to_numpy() == pytest.approx(8.0, abs=0.01), rates[rid]
    assert result.orders_used == orders


def steady_all_day(first: str, last: str, until: int = 12) -> pd.DataFrame:
    """Orders of RA1 and RA2, four in every real hour of every day from ``first``
    00:00 to ``last`` ``until``:00 city time, with their UTC offsets."""
    start = pd.Timestamp(first).tz_localize("Europe/Paris")
    end = (pd.Timestamp(last) + pd.Timedelta(hours=until)).tz_localize("Europe/Paris")
    times = pd.date_range(start, end, freq="15min", inclusive="left") + pd.Timedelta(minutes=5)
    placed = [t.isoformat() for t in times]
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(2 * len(placed))],
            "restaurant_id": ["RA1"] * len(placed) + ["RA2"] * len(placed),
            "placed_at": placed * 2,
        }
    )


@pytest.mark.parametrize(
    ("first", "last", "shift", "hours", "until"),
    [
        ("2026-11-02", "2026-11-29", "2026-11-30T19:00", 26, 12),
        # a history up to the shift start and one slot over a day: the day before's
        # window ends in the shift, its last slot unseen (a review: 6.7 for 8 orders/h);
        # under two Mondays, so every past day is used
        ("2026-11-24", "2026-11-30", "2026-11-30T19:00", 25, 19),
        # 48 hours over the history's autumn clock change (25 October)
        ("2026-10-03", "2026-11-06", "2026-11-07T19:00", 48, 12),
        # a shift of 24 real hours over the spring change: its last slot is 24 clock
        # hours in
        ("2026-02-28", "2026-03-28", "2026-03-28T19:00", 24, 12),
    ],
)
def test_a_shift_longer_than_a_day_forecasts_every_slot(city, first, last, shift, hours, until):
    """Shifts run up to 48 hours. Each order was read in one past day's window only, so
    every slot more than 24 clock hours after the start read no order and forecast 0
    (an audit: a steady 8 orders/h zone planned with nobody there for the last two slots
    of a 26-hour shift). A steady history now gives its rate in every slot, over clock
    changes too, and the report says on which day the shift ends."""
    long = Config().with_changes(shift={"hours": float(hours), "slot_minutes": 60})
    result = run_forecast(steady_all_day(first, last, until), load(city), long, shift)
    rates = result.demand.set_index(["restaurant_id", "slot_start"])["expected_orders_per_hour"]
    for rid in ("RA1", "RA2"):
        assert len(rates[rid]) == result.demand["slot_start"].nunique() >= 23
        assert rates[rid].to_numpy() == pytest.approx(4.0, abs=0.01), rates[rid]
    days = (pd.Timestamp(shift) + pd.Timedelta(hours=hours)).date() - pd.Timestamp(shift).date()
    assert f"(+{days.days} day" in result.report()[0]


def test_a_backtest_across_the_clock_change_labels_each_slot_by_its_clock_time(city):
    """The backtest of a shift across the change labelled its slots k slot lengths after
    the start (autumn: 03:00 for the rows of the second 02:00, 04:30 for 03:30; spring:
    02:00 for the 03:00 orders). Each row now carries the clock time its numbers are of."""
    rising = {"RA1": {f"{h:02d}:{m:02d}": 1 + 2 * h + m // 30 for h in range(6) for m in (5, 35)}}
    night = Config().with_changes(shift={"hours": 4.0, "slot_minutes": 30})
    autumn = history(rising, [f"2026-10-{d:02d}" for d in range(1, 25)])
    result = run_forecast(autumn, load(city), night, "2026-10-25T00:00", backtest=True)
    test = result.backtest
    assert test is not None
    # shown as the forecast's own slots are: the two 02:00 rows told apart (an audit
    # found "02:00" twice in the terminal's backtest table), in the notebook's too
    from rich.console import Console

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(result)
    shown = console.export_text()
    assert "02:00 CEST" in shown and "02:00 CET " in shown and "02:30 CET " in shown
    assert "<td>02:00 CEST</td>" in result._repr_html_()
    slots = test.by_slot
    assert [f"{t:%H:%M}" for t in slots["slot_start"]] == [
        "00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "02:00", "02:30"
    ]  # fmt: skip
    # the two alike are told apart by their slot, in both tables (a pivot by slot_start
    # alone has duplicates)
    assert list(slots["slot"]) == list(range(8))
    assert test.zones.pivot(index="zone_id", columns="slot", values="actual").shape[1] == 8
    per_clock = {f"{h:02d}:{m:02d}": 1 + 2 * h + m // 30 for h in range(6) for m in (0, 30)}
    for row in slots.itertuples():
        assert row.actual == pytest.approx(per_clock[f"{row.slot_start:%H:%M}"] * 2)
    spring = history(rising, [f"2026-03-{d:02d}" for d in range(1, 29)])
    test = run_forecast(spring, load(city), night, "2026-03-29T01:00", backtest=True).backtest
    assert test is not None
    assert [f"{t:%H:%M}" for t in test.by_slot["slot_start"]][:4] == [
        "01:00",
        "01:30",
        "03:00",
        "03:30",
    ]
    for row in test.by_slot.itertuples():
        assert row.actual == pytest.approx(per_clock[f"{row.slot_start:%H:%M}"] * 2)


def test_cli_out_must_be_a_csv_or_parquet_file(tmp_path, city):
    """--out naming a folder (or another suffix) is a usage error before any work."""
    history(STEADY, days_before(3)).to_csv(tmp_path / "orders.csv", index=False)
    base = ["forecast", str(tmp_path / "orders.csv"), "--data", str(city), "--shift-start", SHIFT]
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--out" in result.output
    parquet = tmp_path / "demand.parquet"
    assert CliRunner().invoke(app, [*base, "--out", str(parquet)]).exit_code == 0
    assert pd.read_parquet(parquet)["restaurant_id"].map(type).eq(str).all()


def test_cli_out_never_replaces_a_file_that_is_not_a_demand_table(tmp_path, city):
    """--out naming the order history or zones.csv (a slip of the finger) is refused
    before any work, the file untouched: it replaced the history with the forecast. A
    demand table written before is replaced, CSV or Parquet, with the umask's mode
    (mkstemp's 0600 kept other users, such as a cron job's, from reading it)."""
    import os
    import stat

    orders = tmp_path / "orders.csv"
    history(STEADY, days_before(3)).to_csv(orders, index=False)
    base = ["forecast", str(orders), "--data", str(city), "--shift-start", SHIFT]
    for victim in (orders, city / "zones.csv"):
        before = victim.read_bytes()
        result = CliRunner().invoke(app, [*base, "--out", str(victim)])
        assert result.exit_code == 2, result.output
        assert "is not a demand table; not replacing it" in result.output
        assert victim.read_bytes() == before
    old = os.umask(0o022)
    try:
        for out in (tmp_path / "demand.csv", tmp_path / "demand.parquet"):
            for _ in range(2):  # written, then replaced
                assert CliRunner().invoke(app, [*base, "--out", str(out)]).exit_code == 0
            assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_cli_out_that_cannot_be_written_exits_3_with_what_to_do(tmp_path, city):
    """--out under a file (so its folder cannot be made): exit 3 naming the place and
    the fix, not a traceback with exit 1; no temporary file left."""
    history(STEADY, days_before(3)).to_csv(tmp_path / "orders.csv", index=False)
    (tmp_path / "blocker").write_text("x")
    out = tmp_path / "blocker" / "demand.csv"
    base = ["forecast", str(tmp_path / "orders.csv"), "--data", str(city), "--shift-start", SHIFT]
    result = CliRunner().invoke(app, [*base, "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert "cannot write the table" in result.output and "Traceback" not in result.output


def test_a_forecast_replaces_the_demand_table_as_it_is_returned(city):
    """`inputs.replace(demand=forecast(...))` plans with the forecast: its text
    slot_start (city time, with offset) is read as the file's would be."""
    from rebalance import solve

    inputs = load(city)
    demand = forecast(history(STEADY, days_before(28)), inputs, CONFIG, SHIFT)
    planned = inputs.replace(demand=demand)
    assert str(planned.demand["slot_start"].dt.tz) == "UTC"
    assert planned.demand["slot_start"].iloc[0] == pd.Timestamp("2026-11-30T18:00", tz="UTC")
    assert planned.demand["where"].astype(str).iloc[0] == "demand (DataFrame, rows from 1), row"
    plan = solve(planned, CONFIG, SHIFT)
    flat = solve(inputs, CONFIG, SHIFT)
    assert plan.status == "optimal"
    # 40 orders an hour in RA1 at 19:00 against its flat 3: a larger requirement
    assert plan.zones["required_couriers"].sum() > flat.zones["required_couriers"].sum()


def test_a_repeated_order_id_in_a_frame_is_named_at_its_repeat(city):
    """A DataFrame of orders with one id twice (rows 2 and 5, counted from 1): the
    error names row 5, the repeat, and says where the id was first."""
    from rebalance import DataError

    h = history(STEADY, days_before(2))
    h.loc[4, "order_id"] = h.loc[1, "order_id"]
    with pytest.raises(DataError) as info:
        forecast(h, load(city), CONFIG, SHIFT)
    [issue] = info.value.problems
    assert (issue.row, issue.column) == (5, "order_id")
    assert "duplicate order_id (got 'O1', first in row 2; 1 repeated in all)" in str(issue)


def test_orders_read_in_blocks_give_the_same_forecast(city, monkeypatch):
    """The orders are counted a block at a time (the history's size must not set the
    memory): blocks of 5 orders give the same table, days, gaps and backtest as one block,
    on a shuffled history with a partial first day, a gap, a last day that stops before
    the hour one earlier day's orders reach (partial too), a day in the shift's hours,
    orders of no restaurant of the city and a night with a repeated clock hour."""
    from rebalance import forecasting

    usual = {"RA1": {"01:40": 3, "02:10": 4}, "RB": {"02:40": 2, "12:00": 1}}
    days = [f"2026-10-{d:02d}" for d in (3, 4, 5, 7, 8, 10, 11, 12, 14, 17, 18, 19, 21)]
    h = pd.concat(
        [
            history({"RA2": {"23:00": 2}}, ["2026-10-02"]),  # the first day: after its window
            history(usual, days),
            history({"RA2": {"02:50": 6}}, ["2026-10-12"]),  # the latest any day reaches
            history({"RA1": {"01:40": 3, "02:10": 4}}, ["2026-10-24"]),  # stops at 02:10
            history({"RNEW": {"02:20": 3}}, ["2026-10-25"]),  # the shift's day: ignored
            history({"NOWHERE": {"02:20": 2}}, ["2026-10-18"]),  # no restaurant of the city
        ],
        ignore_index=True,
    )
    h = h.sample(frac=1.0, random_state=7).assign(
        order_id=lambda d: [f"O{i}" for i in range(len(d))]
    )
    night = Config().with_changes(shift={"hours": 3.0, "slot_minutes": 30})

    def run():
        return run_forecast(h, load(city), night, "2026-10-25T01:00", backtest=True, warn=False)

    whole = run()
    monkeypatch.setattr(forecasting, "_BLOCK_ROWS", 5)
    blocks = run()
    pd.testing.assert_frame_equal(blocks.demand, whole.demand)
    assert (blocks.days, blocks.gaps, blocks.partial_days) == (
        whole.days,
        whole.gaps,
        whole.partial_days,
    )
    assert blocks.orders_ignored_after == whole.orders_ignored_after == 3
    # the last day stops inside its window; the first day's window (01:00-04:00) closed
    # before its one order at 23:00: not in the history at all, not "partly"
    assert whole.partial_days == 1 and len(whole.gaps) > 0
    assert whole.partial == (pd.Timestamp("2026-10-24"),)
    pd.testing.assert_frame_equal(blocks.backtest.by_zone, whole.backtest.by_zone)
    pd.testing.assert_frame_equal(blocks.backtest.by_slot, whole.backtest.by_slot)
    rate = whole.demand[whole.demand["restaurant_id"] == "RA1"].set_index("slot_start")
    assert rate.loc["2026-10-25T02:00:00+01:00", "history_orders"] > 0  # the repeated hour


def test_a_frame_with_unreadable_times_and_unknown_restaurants_says_what_it_ignored(city):
    """A DataFrame history is not validated as a file is: orders whose placed_at cannot be
    read and orders of restaurants not in the city are left out of the counts, and the
    report says how many (they used to be counted on a day 292 years back, or silently)."""
    clean = history(STEADY, days_before(4))
    dirty = pd.concat(
        [
            clean,
            pd.DataFrame(
                {
                    "order_id": ["X1", "X2", "X3", "X4", "X5"],
                    "restaurant_id": ["RA1", "RB", "NOWHERE", "NOWHERE", "NOWHERE"],
                    "placed_at": [
                        "yesterday evening",
                        "",
                        "2026-11-29T19:10",
                        "2026-11-28T19:10",
                        "2026-11-27T19:10",
                    ],
                }
            ),
        ],
        ignore_index=True,
    )
    want = run_forecast(clean, load(city), CONFIG, SHIFT)
    got = run_forecast(dirty, load(city), CONFIG, SHIFT, warn=False)
    pd.testing.assert_frame_equal(got.demand, want.demand)
    assert got.days == want.days and got.gaps == want.gaps
    assert "2 orders without a readable placed_at ignored" in got.notes
    assert "3 orders of restaurants not in this city ignored" in got.notes
    assert not any("ignored" in note for note in want.notes)


def test_orders_left_out_of_a_frame_are_said_as_warnings_once(tmp_path, city):
    """`forecast` returns a bare table: 2,000 of 56,376 orders of a DataFrame left out
    (times in another format, renamed restaurants) were said only in `run_forecast`'s
    report, and a replay's only in its `notes`. Both now say them as
    `rebalance.PlanWarning`, as `solve` does; ``warn=False`` keeps them quiet, and the
    command line, which prints its notes, prints each once."""
    import warnings

    from rebalance.replaying import replay

    clean = history(STEADY, days_before(4))
    dirty = pd.concat(
        [
            clean,
            pd.DataFrame(
                {
                    "order_id": ["X1", "X2", "X3"],
                    "restaurant_id": ["RA1", "NOWHERE", "NOWHERE"],
                    "placed_at": ["2026-11-30 7pm", "2026-11-30T19:10", "2026-11-29T19:10"],
                }
            ),
        ],
        ignore_index=True,
    )
    inputs = load(city)
    with pytest.warns(PlanWarning) as said:
        demand = forecast(dirty, inputs, CONFIG, SHIFT)
    assert len(demand) > 0
    texts = [str(w.message) for w in said]
    assert "1 order without a readable placed_at ignored" in texts
    assert "2 orders of restaurants not in this city ignored" in texts
    assert all(w.filename == __file__ for w in said)  # shown at the caller's line
    came = dirty.assign(placed_at=dirty["placed_at"].str.replace("2026-11-29", "2026-11-30"))
    with pytest.warns(PlanWarning) as said:
        replay(inputs, came, CONFIG, SHIFT)
    texts = [str(w.message) for w in said]
    assert "1 order without a readable placed_at ignored" in texts
    assert "2 orders of restaurants not in this city ignored" in texts
    assert all(w.filename == __file__ for w in said)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forecast(dirty, inputs, CONFIG, SHIFT, warn=False)
        replay(inputs, came, CONFIG, SHIFT, warn=False)
    # the command line prints its notes in its report, each once, and warns nothing
    # (pytest makes a warning an error: the command would fail)
    history(STEADY, days_before(2)).to_csv(tmp_path / "short.csv", index=False)
    noon = {"order_id": ["N1"], "restaurant_id": ["RA1"], "placed_at": ["2026-11-30T12:00"]}
    pd.DataFrame(noon).to_csv(tmp_path / "noon.csv", index=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[shift]\nhours = 2.0\nslot_minutes = 60\n")
    for args, note in (
        (["forecast", str(tmp_path / "short.csv"), "--data", str(city)], "only 2 days"),
        (
            ["replay", str(city), "--orders", str(tmp_path / "noon.csv")],
            "note: no order was placed during",
        ),
    ):
        result = CliRunner().invoke(app, [*args, "--shift-start", SHIFT, "--config", str(cfg)])
        assert result.exit_code == 0, result.output
        assert result.output.count(note) == 1, result.output
        assert "Warning" not in result.output


def test_a_frame_wrong_as_a_whole_is_refused_by_forecast_and_replay(city):
    """Orders given as a DataFrame are read leniently row by row, but not as a whole:
    ids pandas read as numbers ("00208" -> 208) named no restaurant, and a replay said
    100% of no order was served while a forecast said "no order before the shift"; a
    missing column was a KeyError from deep inside; an order given twice was counted
    twice. Each is a DataError naming the column (and row), as for a file."""
    from rebalance import DataError
    from rebalance.replaying import replay

    inputs = load(city)
    good = history(STEADY, days_before(4))
    numbers = good.assign(restaurant_id=np.arange(len(good)) % 3)
    twice = pd.concat([good, good.iloc[[5]]], ignore_index=True)
    elsewhere = good.assign(restaurant_id="NOWHERE")
    cases = [
        (numbers, r"column 'restaurant_id': DataFrame column has type int64; expected text"),
        (good.drop(columns="placed_at"), r"column 'placed_at': missing column"),
        (twice, rf"row {len(good) + 1}, column 'order_id': duplicate order_id .*first in row 6"),
        (elsewhere, r"none of the .* orders names a restaurant of this city"),
    ]
    for frame, message in cases:
        with pytest.raises(DataError, match=message):
            run_forecast(frame, inputs, CONFIG, SHIFT)
        with pytest.raises(DataError, match=message):
            replay(inputs, frame, CONFIG, SHIFT)
    assert len(run_forecast(good, inputs, CONFIG, SHIFT).demand)


def test_orders_of_a_shift_over_the_autumn_change_are_counted_once(city):
    """A shift over the night the clocks go back reads the past days' 02:00 hour in two
    slots: "orders in the shift's hours" counted those orders twice (8,460 reported
    where 6,480 orders were). Each order counts once."""
    night = Config().with_changes(shift={"hours": 4.0, "slot_minutes": 30})
    history = steady_real_time("2026-10-01", "2026-10-24", 4)
    result = run_forecast(history, load(city), night, "2026-10-25T00:00")
    # the clock windows 00:00-03:00 of each Sunday used: 6 half hours x 2 restaurants x 4
    assert result.same_weekday and result.orders_used == len(result.days) * 6 * 2 * 4
    rates = result.demand.groupby("slot_start")["expected_orders_per_hour"].sum()
    assert len(rates) == 8 and rates.to_numpy() == pytest.approx(2 * 8.0, abs=0.05)


def test_the_backtest_holds_forecast_flat_rate_and_orders_of_the_same_restaurants(city):
    """The backtest's flat rate left out the restaurants closed tonight (counted 0),
    while their forecast and their orders of that past day were counted: a third of a
    city closed made the forecast look twice as good as it was against the flat rate.
    All three are now of every restaurant."""
    inputs = load(city)
    restaurants = inputs.restaurants.copy()
    restaurants.loc[restaurants["restaurant_id"] == "RB", "status"] = "closed"
    inputs = inputs.replace(restaurants=restaurants)
    bt = run_forecast(
        history(STEADY, days_before(5)), inputs, CONFIG, SHIFT, backtest=True
    ).backtest
    assert bt is not None
    flat = bt.zones.groupby("zone_id")["flat"].first()
    listed = restaurants.groupby("zone_id")["expected_orders_per_hour"].sum()
    assert flat.to_dict() == pytest.approx(listed.to_dict())
    # zone B (its one restaurant closed tonight): the day's orders, the forecast and the
    # flat rate all count RB, so the flat rate's error is that of 1.0 orders/h
    b = bt.zones[bt.zones["zone_id"] == "B"]
    assert (b["actual"] > 0).all() and (b["forecast"] > 0).all()
    assert (b["flat"] == 1.0).all()


def test_a_day_whose_window_closed_before_the_history_began_is_not_partly_in_it(city):
    """A history whose first order came at 10:40 on a Sunday reported "days only partly
    in the history: 1": the Saturday, whose 19:00 window had closed before that order
    (it holds the next morning's orders only). That day is not in the history at all.
    A history starting inside a day's window still reports that day, by its date."""
    steady = history(STEADY, days_before(8))
    morning = history({"RA1": {"10:40": 2}}, ["2026-11-22"])
    h = pd.concat([morning, steady], ignore_index=True).assign(
        order_id=lambda d: [f"O{i}" for i in range(len(d))]
    )
    h = h[h["placed_at"] >= "2026-11-22T10:40"]
    result = run_forecast(h, load(city), CONFIG, SHIFT)
    assert result.partial_days == 0, result.report()
    assert not any("partly" in line for line in result.report())
    late = h[h["placed_at"] >= "2026-11-22T20:10"]  # more than a slot into the window
    result = run_forecast(late, load(city), CONFIG, SHIFT)
    assert result.partial_days == 1 and result.partial == (pd.Timestamp("2026-11-22"),)
    assert "  days only partly in the history (left out): 2026-11-22" in result.report()


def test_the_report_wraps_at_words_under_its_labels_at_80_columns(tmp_path):
    """At 80 columns the report's long lines ran past the terminal's edge, folded back
    mid-word at its left margin. In a terminal they now wrap at words, each
    continuation under its label's value; ids stay whole and as written ("[b]" too).
    Piped, each line stays whole as it was."""
    import re

    long_ids = [f"R[b]-{i}-restaurant-with-a-rather-long-partner-identifier" for i in range(3)]
    city = write_city(
        tmp_path / "city",
        zones=[zone("A", 48.86, 2.34), zone("B", 48.87, 2.35)],
        restaurants=[
            restaurant("RA1", "A", 3.0),
            restaurant("RA2", "A", 3.0),
            restaurant("RB", "B", 1.0),
            *(restaurant(rid, "B", 2.0) for rid in long_ids),
        ],
        couriers=[courier("C1", "A")],
    )
    history(STEADY, days_before(14)).to_csv(tmp_path / "orders.csv", index=False)
    args = ["forecast", str(tmp_path / "orders.csv"), "--data", str(city), "--shift-start", SHIFT]
    args += ["--out", str(tmp_path / "demand.csv"), "--backtest"]
    env = {"COLUMNS": "80", "NO_COLOR": "1"}
    report = run_forecast(tmp_path / "orders.csv", load(city), None, SHIFT, warn=False).report()
    ids_line = next(line for line in report if "without any order" in line)
    assert len(ids_line) > 80 and all(rid in ids_line for rid in long_ids)

    shown = CliRunner().invoke(app, args, env={**env, "TTY_COMPATIBLE": "1"})  # a terminal
    assert shown.exit_code == 0, shown.output
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    restaurants = next(i for i, line in enumerate(lines) if line.startswith("  restaurants: "))
    assert lines[restaurants + 1].startswith(" " * len("  restaurants: ") + "(level)"), lines
    backtest = next(i for i, line in enumerate(lines) if line.startswith("Backtest: "))
    assert re.match(r" {10}\S", lines[backtest + 1]), lines
    text = "\n".join(lines)
    for rid in long_ids:  # whole, on one line, brackets shown
        assert rid in text, text
    for line in report:  # every word there, in order
        assert " ".join(line.split()) in " ".join(text.split()), line

    piped = CliRunner().invoke(app, args, env=env)
    assert piped.exit_code == 0, piped.output
    assert ids_line in piped.stdout.splitlines()


def test_the_demand_tables_path_is_shown_as_written(tmp_path, city):
    """A folder named like rich markup ("[red]", "[/]") was read as markup in the line
    that says where the table went: the path lost its brackets, or the command ended
    in a MarkupError after writing the table. It is shown as written, and whole on
    one line when the report goes to a pipe or a log."""
    history(STEADY, days_before(14)).to_csv(tmp_path / "orders.csv", index=False)
    for folder in ("[red]night", "a[/]b"):
        out = tmp_path / folder / "demand.csv"
        args = ["forecast", str(tmp_path / "orders.csv"), "--data", str(city)]
        args += ["--shift-start", SHIFT, "--out", str(out)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert out.exists()
        assert f"Demand table written to {out} (24 rows)" in result.stdout


def test_a_forecast_shows_in_one_line_and_as_html_in_a_notebook(tmp_path):
    """A Forecast shown in a REPL or Jupyter dumped the dataclass: 49 lines of nested
    tables, UTC first. Now one line says the shift in city time and the key figures,
    and the notebook gets HTML of the report, the backtest and (folded) the demand's
    first rows, with partner ids escaped."""
    city = write_city(
        tmp_path / "city",
        zones=[zone("A", 48.86, 2.34)],
        restaurants=[restaurant("RA1", "A", 3.0), restaurant("<i>R&1</i>", "A", 2.0)],
        couriers=[courier("C1", "A")],
    )
    h = history({"RA1": STEADY["RA1"]}, days_before(14, step=7))
    result = run_forecast(h, load(city), CONFIG, SHIFT, backtest=True, warn=False)
    text = repr(result)
    assert "\n" not in text and len(text) < 250
    assert text.startswith("Forecast(Mon 30 Nov 2026 19:00–21:00 CET, 2 slots of 60 min:")
    assert "2 rows, 1 of 2 restaurants with history, 14 days used" in text
    assert f"backtest MAE {result.backtest.mae:.2f}" in text
    page = result._repr_html_()
    assert "<i>R&1</i>" not in page and "&lt;i&gt;R&amp;1&lt;/i&gt;" in page
    assert page.startswith("<div class='tex2jax_ignore mathjax_ignore'>")  # no math
    assert "Forecast · Mon 30 Nov 2026 19:00–21:00 CET" in page
    assert "<b>Backtest</b>" in page and "<details>" in page
