"""The one path from a data folder to a plan and its files (rebalance.pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

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


@pytest.mark.parametrize("shift_end", [None, "2026-11-30T19:30"])
def test_a_city_read_in_many_blocks_plans_as_one_read_whole(shift_end, monkeypatch):
    """Large files come back from Arrow in several chunks per column (one per ~1 MB):
    every step after loading accepts them, and the plan (pause lists, named moves,
    explanation, JSON) is the same as from the file read in one block."""
    import numpy as np

    from rebalance import inputs as inputs_module
    from rebalance.config import load_config
    from rebalance.model import build_problem
    from rebalance.optimize import solve_problem

    paris = Path(__file__).resolve().parents[1] / "data" / "samples" / "paris"
    config = load_config(paris / "rebalance.toml")

    def planned():
        data = load(paris, config)
        return data, solve_problem(build_problem(data, config, SHIFT, shift_end))

    whole_data, whole = planned()
    monkeypatch.setattr(inputs_module, "_READ_BLOCK", 4096)
    # load makes its text columns whole (see the next test); frames built by hand, or
    # columns a notebook read itself, may still come in chunks
    monkeypatch.setattr(inputs_module, "_compact_text", lambda frame: None)
    data, chunked = planned()
    column = data.restaurants["restaurant_id"].array.__arrow_array__()
    assert getattr(column, "num_chunks", 1) > 1  # the test reads what it says
    assert data.sha256 == whole_data.sha256
    assert chunked.status == whole.status == "optimal"
    assert (chunked.zones["pause_restaurants"].fillna("") != "").any()  # pause lists made
    pd.testing.assert_frame_equal(chunked.zones, whole.zones)
    pd.testing.assert_frame_equal(chunked.moves, whole.moves)
    assert chunked.explanation == whole.explanation
    np.testing.assert_equal(chunked.objective, whole.objective)
    plan_json = [json.loads(plan.to_json()) for plan in (chunked, whole)]
    for content in plan_json:
        content.pop("timings"), content.pop("solve_seconds")
    assert plan_json[0] == plan_json[1]


def test_load_gives_text_columns_read_in_many_blocks_back_whole(monkeypatch):
    """A file Arrow reads in many blocks comes back from `load` with each text column in
    one piece (so the raw blocks' memory can go back to the system), with the same
    values, dtypes and fingerprint as a file read in one block."""
    from rebalance import inputs as inputs_module
    from rebalance.config import load_config

    paris = Path(__file__).resolve().parents[1] / "data" / "samples" / "paris"
    config = load_config(paris / "rebalance.toml")
    whole = load(paris, config)
    monkeypatch.setattr(inputs_module, "_READ_BLOCK", 4096)
    monkeypatch.setattr(inputs_module, "_COMPACT_ABOVE", 0)  # the sample is small
    data = load(paris, config)
    assert data.sha256 == whole.sha256
    for table in ("restaurants", "couriers"):
        frame = getattr(data, table)
        pd.testing.assert_frame_equal(frame, getattr(whole, table))
        for name in frame.columns:
            column = frame[name].array
            if hasattr(column, "__arrow_array__"):
                assert getattr(column.__arrow_array__(), "num_chunks", 1) == 1, (table, name)
