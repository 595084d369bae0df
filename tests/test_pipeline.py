"""The one path from a data folder to a plan and its files (rebalance.pipeline)."""

from __future__ import annotations

import pandas as pd
import pytest
from util import SHIFT, VALID, city_with

from rebalance import Config, DataError, InfeasibleError, load
from rebalance.errors import OutputExistsError
from rebalance.pipeline import plan_folder, plan_shift, solve_shift, write_plan

START = pd.Timestamp(SHIFT, tz="Europe/Paris").tz_convert("UTC")


def test_plan_folder_loads_validates_and_plans():
    """A valid folder gives a feasible plan for the shift asked for."""
    plan = plan_folder(VALID, Config(), START)
    assert plan.feasible and plan.shift_start == START
    assert plan.shift_end == START + pd.Timedelta(hours=4)


def test_plan_folder_rejects_bad_input_before_solving(tmp_path):
    """A folder with a bad file is a DataError (exit 3), not a plan."""
    with pytest.raises(DataError) as info:
        plan_folder(city_with(tmp_path, "DuplicateZoneId"), Config(), START)
    assert info.value.exit_code == 3


def test_infeasible_shift_raises_with_the_plan_that_says_why():
    """No feasible plan: exit 4 in the common words, the infeasible plan attached."""
    inputs = load(VALID)
    capped = inputs.replace(zones=inputs.zones.assign(max_couriers=0.0))
    assert solve_shift(capped, Config(), START).status == "infeasible"
    with pytest.raises(InfeasibleError) as info:
        plan_shift(capped, Config(), START)
    assert info.value.exit_code == 4 and str(info.value).startswith("no feasible plan: ")
    assert info.value.plan is not None and info.value.plan.status == "infeasible"


def test_write_plan_refuses_a_folder_with_other_files(tmp_path):
    """Writing into a folder holding other files is exit 2 naming --out, nothing written."""
    plan = plan_folder(VALID, Config(), START)
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as info:
        write_plan(plan, target)
    assert isinstance(info.value, FileExistsError)
    assert info.value.exit_code == 2 and info.value.option == "--out"
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_write_plan_without_overwrite_keeps_the_plan_there(tmp_path):
    """overwrite=False never replaces a plan already written."""
    plan = plan_folder(VALID, Config(), START)
    written = write_plan(plan, tmp_path / "out", overwrite=False)
    before = (written / "plan.json").read_text()
    with pytest.raises(OutputExistsError, match="already holds a plan"):
        write_plan(plan, written, overwrite=False)
    assert (written / "plan.json").read_text() == before
