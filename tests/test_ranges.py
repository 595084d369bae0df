"""The supported ranges (`rebalance.ranges`) keep the solver's int64 costs exact."""

from __future__ import annotations

import pandas as pd
import pytest
from util import courier, restaurant, write_city, zone

from rebalance import Config, ConfigError, load, ranges, solve
from rebalance.config import load_config
from rebalance.model import SCALE


def test_largest_arc_cost_fits_the_flow_solver():
    """At the limits, |arc cost| x (nodes + 1) and the total flow cost stay below int64."""
    largest = ranges.largest_arc_cost(SCALE)
    assert largest * (ranges.MAX_NODES + 1) < ranges.INT64_MAX
    assert 2 * ranges.MAX_NODES * largest < ranges.INT64_MAX


def test_a_city_at_the_limits_plans_optimally(tmp_path):
    """Every number at its supported maximum still gives a proven-optimal, exact plan."""
    city = write_city(
        tmp_path / "edge",
        zones=[
            zone("A", 48.85, 2.35, priority=ranges.MAX_PRIORITY, cap=ranges.MAX_CAP),
            zone("B", 48.86, 2.36),
        ],
        restaurants=[
            restaurant("R1", "A", ranges.MAX_ORDERS_PER_HOUR / 2),
            restaurant("R2", "A", ranges.MAX_ORDERS_PER_HOUR / 2),
            restaurant("R3", "B", 1.0),
        ],
        couriers=[courier(f"C{i}", "B", until="2026-12-08T00:00") for i in range(3)],
    )
    top = ranges.MAX_COST_MINUTES
    config = Config().with_changes(
        costs={"shortage_minutes": top, "move_fixed_minutes": top, "surplus_minutes": top},
        eligibility={"min_available_minutes": 60},
        # One slot: the int64 min-cost flow these ranges are derived for. (The slotted
        # integer program works in floating point; at these magnitudes it may report
        # "feasible" with its bound, never a false "optimal".)
        shift={"slot_minutes": 240},
    )
    plan = solve(load(city, config), config, "2026-11-30T19:00")
    assert plan.status == "optimal"
    assert plan.objective == plan.best_bound
    # required in A is 10,000 / 2.5 = 4,000; moving all three couriers to A is optimal.
    assert plan.kpis["moved_couriers"] == 3


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("costs", "shortage_minutes", 1e20),
        ("costs", "move_fixed_minutes", 1e6),
        ("demand", "orders_per_courier_hour", 1e-300),
        ("eligibility", "min_available_minutes", 1e20),
        ("shift", "slot_minutes", 2**62),
        ("solver", "time_limit_seconds", 1e17),
    ],
)
def test_absurd_config_numbers_name_the_key_and_range(tmp_path, section, key, value):
    """A finite but absurd config number is refused naming its key and the supported bound."""
    path = tmp_path / "rebalance.toml"
    path.write_text(f"[{section}]\n{key} = {value!r}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problem = info.value.problems[0]
    assert problem.key == f"{section}.{key}"
    assert "value out of range" in problem.message and problem.valid


def test_a_time_limit_past_a_week_is_refused_before_any_solve(tmp_path):
    """`--time-limit 1e17` is a usage error (exit 2) naming the option and its bound, and
    `solve(time_limit=1e17)` a ValueError saying the range: it crashed in OR-Tools
    (int64 milliseconds overflowed, exit 1) after `validate` had passed it."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance.cli import app

    result = CliRunner().invoke(
        app, ["plan", str(VALID), "--shift-start", SHIFT, "--time-limit", "1e17"]
    )
    assert result.exit_code == 2, result.output
    assert "--time-limit" in result.output and "604800" in result.output
    with pytest.raises(ValueError, match="at most 604,800"):
        solve(load(VALID), None, SHIFT, time_limit=1e17)
    week = solve(load(VALID), None, SHIFT, time_limit=604_800)
    assert week.status == "optimal"


@pytest.mark.parametrize(
    ("command", "option", "value", "said"),
    [
        (["plan", "{valid}", "--shift-start", "{shift}"], "--time-limit", "nan", "is not a number"),
        (["plan", "{valid}", "--shift-start", "{shift}"], "--time-limit", "NaN", "is not a number"),
        (["plan", "{valid}", "--shift-start", "{shift}"], "--time-limit", "ten", "is not a number"),
        (["plan", "{valid}", "--shift-start", "{shift}"], "--time-limit", "inf", "out of range"),
        (["plan", "{valid}", "--shift-start", "{shift}"], "--time-limit", "0", "out of range"),
        (
            ["generate", "{out}", "--zones", "2", "--couriers", "3", "--restaurants", "3"],
            "--shift-hours",
            "nan",
            "is not a number",
        ),
        (
            ["generate", "{out}", "--zones", "2", "--couriers", "3", "--restaurants", "3"],
            "--shift-hours",
            "25",
            "out of range",
        ),
    ],
)
def test_a_float_option_that_is_not_a_number_says_so(tmp_path, command, option, value, said):
    """`--time-limit nan` was told it "should be less than or equal to 604800" (NaN
    compares false with both ends of the range); now a NaN or a word is "not a number",
    a number outside the range "out of range", both with the range and its unit, exit 2,
    and nothing is planned or written."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance.cli import app

    out = tmp_path / "city"
    args = [a.format(valid=VALID, shift=SHIFT, out=out) for a in command]
    result = CliRunner().invoke(app, [*args, option, value])
    assert result.exit_code == 2, result.output
    assert option in result.output and said in result.output
    unit = "seconds" if option == "--time-limit" else "hours"
    span = "from 0.01 to 604800" if option == "--time-limit" else "from 0.25 to 24"
    assert f"{span} {unit}" in result.output
    assert "less than or equal" not in result.output
    assert not out.exists()


def test_a_shift_end_past_two_days_is_refused_as_hours_past_48_are(tmp_path):
    """`--shift-end` a year after the start (with 1-minute slots: 525,600 slots) was
    taken, and plan ended in a MemoryError (exit 1); [shift] hours stops at 48. Now
    plan, forecast and replay refuse it as a usage error (exit 2) naming the option,
    and `solve` as a ValueError; 48 hours exactly still plans."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance.cli import app

    cfg = tmp_path / "c.toml"
    cfg.write_text("[shift]\nslot_minutes = 1\n")
    year = "2027-11-30T19:00"
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,restaurant_id,placed_at\n")
    for args in (
        ["plan", str(VALID), "--shift-start", SHIFT],
        ["replay", str(VALID), "--orders", str(orders), "--shift-start", SHIFT],
        ["forecast", str(orders), "--data", str(VALID), "--shift-start", SHIFT],
    ):
        result = CliRunner().invoke(app, [*args, "--shift-end", year, "--config", str(cfg)])
        assert result.exit_code == 2, (args, result.output)
        text = " ".join(result.output.split())
        assert "--shift-end" in text and "at most 48 hours" in text, text
    with pytest.raises(ValueError, match="at most 48 hours"):
        solve(load(VALID), None, SHIFT, year)
    two_days = solve(load(VALID), None, SHIFT, "2026-12-02T19:00")
    assert two_days.status == "optimal"


def test_a_shift_end_with_seconds_names_the_option():
    """--shift-end 30 minutes 30 seconds after the start: exit 2 naming --shift-end (it
    blamed shift.slot_minutes, exit 3)."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance.cli import app

    result = CliRunner().invoke(
        app, ["plan", str(VALID), "--shift-start", SHIFT, "--shift-end", "2026-11-30T19:30:30"]
    )
    assert result.exit_code == 2, result.output
    assert "--shift-end" in result.output and "whole number of minutes" in result.output
    assert "(got 0 h 30 min 30 s)" in " ".join(result.output.split())  # not '0 days 00:30:30'
    from rebalance.slots import _span

    # exact, never a float's '59 min 60 s' or '9.99989e-10 s'
    assert _span(pd.Timedelta("1:59:59.9999999")) == "1 h 59 min 59.9999999 s"
    assert _span(pd.Timedelta("1:00:00.000000001")) == "1 h 0 min 0.000000001 s"


def test_the_library_names_its_own_arguments_for_a_bad_shift_window():
    """`solve`, `forecasting.shift_grid` and `eligibility.shift_grid` say "shift_end must
    be after shift_start", the names a notebook passed (they said "--shift-start", an
    option the notebook never saw); the command line still says "--shift-start", once.
    `eligibility.shift_grid` also refuses a window past 48 hours, as the other does (it
    built one slot per minute of a year)."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance import eligibility, forecasting
    from rebalance.cli import app
    from rebalance.config import Config
    from rebalance.timeparse import parse_timestamp

    earlier = "2026-11-30T18:00"
    with pytest.raises(ValueError, match=r"^shift_end must be after shift_start") as info:
        solve(load(VALID), None, SHIFT, earlier)
    assert "--" not in str(info.value)
    with pytest.raises(ValueError, match=r"^shift_end must be after shift_start"):
        forecasting.shift_grid(Config(), SHIFT, earlier)
    start = parse_timestamp(SHIFT, "Europe/Paris")
    for end, said in (
        (start, "must be after shift_start"),
        (start + pd.Timedelta(days=365), "at most 48 hours"),
    ):
        with pytest.raises(ValueError, match=said):
            eligibility.shift_grid(Config(), start, end)
    assert eligibility.shift_grid(Config(), start).count == 8  # the default shift
    result = CliRunner().invoke(
        app, ["plan", str(VALID), "--shift-start", SHIFT, "--shift-end", earlier]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--shift-end: must be after --shift-start" in text, text
    assert "shift_start" not in text and "+00:00" not in text
