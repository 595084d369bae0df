"""Slots shown by their start time, when the clock shows a time twice: a night shift
over the autumn change (02:30 CEST, then 02:30 CET) and a shift longer than a day.

Before `rebalance.slots.slot_labels`, every view keyed slots by ``HH:MM``: such a plan
was solved and written, then `rebalance plan` died on a traceback while printing it
(pandas: "Index contains duplicate entries"), as did the slot heatmap and a notebook's
view of the plan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import matplotlib
import matplotlib.dates

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from util import VALID

from rebalance import Config, Plan, load, plots, solve
from rebalance.diff import PlanView
from rebalance.publish.blocks import build_messages
from rebalance.slots import SlotGrid, slot_labels
from rebalance.views.timeline import shortage_grid, slot_summary
from rebalance.views.wording import shift_window

PARIS = "Europe/Paris"
#: the autumn change in Paris: 03:00 CEST becomes 02:00 CET
FALL_BACK = "2026-10-25T01:30"


def local_range(start: str, periods: int, tz: str = PARIS) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start, tz=tz), periods=periods, freq="30min")


def test_plain_times_are_just_the_clock():
    """An evening shift: each slot is its clock time, nothing added."""
    assert slot_labels(local_range("2026-11-30T19:00", 8)) == [
        "19:00", "19:30", "20:00", "20:30", "21:00", "21:30", "22:00", "22:30",
    ]  # fmt: skip


def test_the_autumn_change_names_the_zone_of_the_repeated_times():
    """02:00 and 02:30 come twice on 25 Oct 2026 in Paris: those four say CEST or CET; the times that come once stay plain."""
    labels = slot_labels(local_range(FALL_BACK, 6))
    assert labels == ["01:30", "02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET", "03:00"]


def test_a_time_of_the_repeated_hour_says_which_even_when_the_shift_shows_it_once():
    """A shift from the second 02:00 (CET) labelled its first slot "02:00", which that
    night is also the hour before's (CEST); and a shift ending in the first 02:30 had
    "02:30" for what the clock shows again an hour later."""
    second = pd.Timestamp("2026-10-25T02:00+01:00").tz_convert(PARIS)
    after = pd.date_range(second, periods=4, freq="30min")
    assert slot_labels(after) == ["02:00 CET", "02:30 CET", "03:00", "03:30"]
    assert slot_labels(local_range("2026-10-25T01:00", 4)) == [
        "01:00", "01:30", "02:00 CEST", "02:30 CEST",
    ]  # fmt: skip
    assert slot_labels(local_range("2026-10-25T03:00", 2)) == ["03:00", "03:30"]


def test_the_spring_change_has_nothing_to_tell_apart():
    """The spring change skips an hour; no time repeats, so no label changes."""
    # 02:00-03:00 does not exist on 2026-03-29: 01:30 CET is followed by 03:00 CEST
    assert slot_labels(local_range("2026-03-29T01:00", 4)) == ["01:00", "01:30", "03:00", "03:30"]


def test_a_shift_over_a_day_names_the_day_of_the_repeated_times():
    """A 25-hour shift passes 19:00 and 19:30 twice: those say their weekday."""
    labels = slot_labels(local_range("2026-11-30T19:00", 50))
    assert labels[:3] == ["Mon 19:00", "Mon 19:30", "20:00"]
    assert labels[-2:] == ["Tue 19:00", "Tue 19:30"]


@pytest.mark.parametrize(
    ("start", "periods", "tz"),
    [
        (FALL_BACK, 6, PARIS),
        ("2026-10-24T01:00", 60, PARIS),  # over a day and over the change
        ("2026-11-30T19:00", 24 * 2 * 9, PARIS),  # nine days: the weekday repeats too
        ("2026-11-01T00:00", 8, "America/New_York"),  # EDT -> EST
        ("2026-10-04T01:00", 6, "Australia/Lord_Howe"),  # a half-hour change
        ("2026-11-30T19:00", 50, "UTC"),
    ],
)
def test_labels_are_always_one_per_slot(start, periods, tz):
    """Whatever the timezone, clock change or shift length, no two slots share a label."""
    starts = local_range(start, periods, tz)
    labels = slot_labels(starts)
    assert len(set(labels)) == len(labels) == periods


def test_the_grid_labels_its_slots_the_same_way():
    """`SlotGrid.label` (used in eligibility warnings) gives the same labels."""
    grid = SlotGrid.build(
        pd.Timestamp(FALL_BACK, tz=PARIS).tz_convert("UTC"),
        pd.Timestamp("2026-10-25T04:00", tz=PARIS).tz_convert("UTC"),
        30,
        PARIS,
    )
    assert [grid.label(k) for k in range(grid.count)] == slot_labels(grid.local_starts())
    assert grid.label(1) == "02:00 CEST" and grid.label(3) == "02:00 CET"


@cache
def night_plan() -> Plan:
    """The test city planned 01:30-04:00 on the night of the autumn change, every
    courier available all night (so the plan moves some)."""
    inputs = load(VALID)
    couriers = inputs.couriers.assign(
        available_from=pd.Timestamp("2026-10-24T22:00", tz=PARIS).tz_convert("UTC"),
        available_until=pd.Timestamp("2026-10-25T06:00", tz=PARIS).tz_convert("UTC"),
    )
    return solve(
        inputs.replace(couriers=couriers), Config(), FALL_BACK, shift_end="2026-10-25T04:00"
    )


def test_a_plan_over_the_autumn_change_has_one_column_per_slot():
    """A night plan over the change: the slot table and the shortage grids have one column per slot, each holding that slot's own numbers."""
    plan = night_plan()
    assert plan.status == "optimal" and plan.slot_count == 7  # 01:30-04:00 is 3.5 hours
    assert plan.slot_labels() == [
        "01:30", "02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET", "03:00", "03:30",
    ]  # fmt: skip
    summary = slot_summary(plan)
    assert list(summary["label"]) == plan.slot_labels()
    for column in ("shortage", "before"):
        grid = shortage_grid(plan, column)
        assert list(grid.columns) == plan.slot_labels()
        # each slot's own numbers, not another slot's with the same clock time
        slots = plan.slots.assign(start=pd.to_datetime(plan.slots["slot_start"], utc=True))
        for k, start in enumerate(plan.slot_starts().tz_convert("UTC")):
            here = slots[slots["start"] == start].set_index("zone_id")
            want = (
                here["shortage"]
                if column == "shortage"
                else (here["required_couriers"] - here["couriers_before"]).clip(lower=0)
            )
            assert (
                grid.iloc[:, k].to_dict()
                == want.reindex(grid.index).fillna(0).astype(int).to_dict()
            )


def test_the_terminal_shows_both_halves_of_the_repeated_hour():
    """The plan prints (it died on a traceback before) and names both 02:30s."""
    console = Console(width=120, record=True, color_system=None, force_terminal=True)
    console.print(night_plan())
    text = console.export_text()
    for label in ("02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET"):
        assert label in text


def test_charts_slack_and_notebook_views_draw_the_night():
    """The heatmap's ticks, the Slack post and the notebook view use the same labels;
    the couriers chart runs in real time (it drew the repeated hour back over itself)."""
    plan = night_plan()
    ax = plots.slot_heatmap(plan, shortage="before")
    assert [t.get_text() for t in ax.get_xticklabels()] == plan.slot_labels()
    # the couriers chart runs in real time: the repeated hour is not drawn back over itself
    ax = plots.couriers_over_time(plan)
    (need,) = [line for line in ax.get_lines() if line.get_label() == "Need (required)"]
    x = matplotlib.dates.date2num(need.get_xdata())
    assert len(x) == plan.slot_count + 1 and (np.diff(x) > 0).all()
    assert np.allclose(np.diff(x) * 24 * 60, 30)  # every slot 30 real minutes wide
    text = json.dumps(build_messages(plan, channel="C1"))
    assert "02:30 CET" in text
    assert "CEST" in plan._repr_html_() and "02:30 CET" in plan._repr_html_()


def test_the_shift_window_says_each_ends_zone():
    """Over the change, the shift window gives each end its own zone."""
    assert shift_window(night_plan()) == "Sun 25 Oct 2026 01:30 CEST–04:00 CET"


def test_a_diff_names_a_move_in_the_repeated_hour_by_its_slot():
    """A diff names a move at the second 02:30 by that slot's label; other times (a
    courier's log-on or log-off) say their zone only where the clock shows them twice."""
    view = PlanView.of(night_plan())
    second_0230 = pd.Timestamp("2026-10-25T02:30+01:00").value
    assert view.label(second_0230) == "02:30 CET"
    assert view.label(pd.Timestamp("2026-10-25T02:45+01:00").value) == "02:45 CET"
    assert view.label(pd.Timestamp("2026-10-25T03:45+01:00").value) == "03:45"


def test_plan_command_prints_a_night_over_the_autumn_change(tmp_path):
    """`rebalance plan` as an operator runs it: the plan is printed, written, exit 0."""
    out = tmp_path / "plan"
    done = subprocess.run(
        [sys.executable, "-m", "rebalance", "plan", str(VALID), "--shift-start",
         "2026-10-25T01:30", "--shift-end", "2026-10-25T04:00", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "02:30 CEST" in done.stdout and "02:30 CET" in done.stdout
    assert (out / "slots.csv").exists()


def test_plan_says_which_0230_it_planned():
    """`--shift-start 2026-10-25T02:30` is the first 02:30 (CEST): the command says so
    on stderr and how to ask for the second; with the offset written, no note."""
    from typer.testing import CliRunner

    from rebalance.cli import app

    args = ["plan", str(VALID), "--shift-end", "2026-10-25T04:00", "--format", "json"]
    runner = CliRunner()
    first = runner.invoke(app, [*args, "--shift-start", "2026-10-25T02:30"])
    assert first.exit_code == 0, first.output
    assert "note: --shift-start 2026-10-25 02:30 comes twice" in first.stderr
    assert "write 2026-10-25T02:30+01:00 for the second" in first.stderr
    assert json.loads(first.stdout)["shift_start"] == "2026-10-25T02:30:00+02:00"
    second = runner.invoke(app, [*args, "--shift-start", "2026-10-25T02:30+01:00"])
    assert second.exit_code == 0, second.output
    assert "note:" not in second.stderr
    assert json.loads(second.stdout)["shift_start"] == "2026-10-25T02:30:00+01:00"


def test_move_now_names_the_second_0200_in_the_terminal_and_in_slack():
    """A shift from the second 02:00 of the autumn night: the terminal's "Move now" said
    "02:00 CET" (this stop) but the Slack parent still "02:00", the hour before's."""
    from rebalance.publish.blocks import build_messages

    inputs = load(VALID)
    couriers = inputs.couriers.assign(
        available_from=pd.Timestamp("2026-10-24T22:00", tz=PARIS).tz_convert("UTC"),
        available_until=pd.Timestamp("2026-10-25T06:00", tz=PARIS).tz_convert("UTC"),
    )
    plan = solve(
        inputs.replace(couriers=couriers),
        Config(),
        "2026-10-25T02:00+01:00",
        shift_end="2026-10-25T04:00",
    )
    assert len(plan.moves_at(0)) and plan.slot_labels()[0] == "02:00 CET"
    assert "*Move now, 02:00 CET*" in str(build_messages(plan, channel="C1"))


def test_a_time_that_could_not_be_read_is_in_no_slot():
    """NaT (a placed_at that could not be read) minus the shift's start wrapped round
    to a huge offset, so SlotGrid put it inside the shift, in slot ~10^9: a replay of
    such a frame died reshaping its counts. It is in no slot, and no slot's start."""
    from rebalance.slots import SlotGrid

    start = pd.Timestamp("2026-11-30T18:00", tz="UTC")
    grid = SlotGrid.build(start, start + pd.Timedelta(hours=2), 30, "Europe/Paris")
    times = pd.Series(
        [pd.NaT, start, start + pd.Timedelta(minutes=45), start - pd.Timedelta(minutes=1)],
        dtype="datetime64[ns, UTC]",
    )
    assert grid.slot_of(times).tolist() == [-1, 0, 1, -1]
    assert grid.is_boundary(times).tolist() == [False, True, False, False]
