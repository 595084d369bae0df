"""The public face of the package: exactly the intended names, and a notebook-friendly Plan."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from util import REPO, SHIFT, VALID, snapshot

import rebalance
from rebalance import Config, load, read_plan, solve

EXPECTED = [
    "Config",
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "InputError",
    "Inputs",
    "Issue",
    "LockHeldError",
    "Plan",
    "PlanWarning",
    "ProblemData",
    "PublishError",
    "RebalanceError",
    "build_problem",
    "forecast",
    "load",
    "load_config",
    "load_orders",
    "read_plan",
    "replay",
    "solve",
    "solve_problem",
]


def test_exports_are_exactly_the_intended_names():
    """rebalance.__all__ is sorted and lists exactly the public API."""
    assert rebalance.__all__ == sorted(EXPECTED)
    for name in EXPECTED:
        assert getattr(rebalance, name) is not None


def test_unknown_attribute_raises():
    """A misspelt name is an AttributeError, not a silent None."""
    with pytest.raises(AttributeError):
        rebalance.sovle  # noqa: B018


def test_solve_stays_the_function_after_submodule_imports():
    """Importing the CLI, scenarios or batch modules never turns rebalance.solve into a module."""
    code = (
        "import rebalance.cli, rebalance.scenarios, rebalance.batch, rebalance.optimize\n"
        "import rebalance.forecasting, rebalance.replaying\n"
        "import rebalance\nprint(callable(rebalance.solve), callable(rebalance.load), "
        "callable(rebalance.forecast), callable(rebalance.replay))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True True True True"


def test_import_is_light():
    """Importing the CLI module does not import pandas or OR-Tools (fast --help)."""
    code = "import sys, rebalance.cli; print(any(m in sys.modules for m in ('pandas', 'ortools')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_submodules_are_reached_from_a_plain_import():
    """``import rebalance`` then ``rebalance.forecasting.run_forecast`` works, as the README
    writes it (an AttributeError before); unknown and private names still raise."""
    code = (
        "import rebalance\n"
        "print(rebalance.forecasting.run_forecast.__name__, rebalance.plots.__name__)\n"
        "for name in ('nosuch', '_nosuch'):\n"
        "    try:\n"
        "        getattr(rebalance, name)\n"
        "    except AttributeError as e:\n"
        "        print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "run_forecast rebalance.plots",
        "module 'rebalance' has no attribute 'nosuch'",
        "module 'rebalance' has no attribute '_nosuch'",
    ]


@pytest.mark.parametrize(
    ("chosen", "first", "expected"),
    [
        (None, "import rebalance, pyarrow", "system"),
        (None, "import pyarrow, rebalance", "system"),  # a notebook that imported pandas first
        ("mimalloc", "import rebalance, pyarrow", "mimalloc"),  # the user's choice stands
    ],
)
def test_arrow_allocates_with_malloc_unless_told_otherwise(chosen, first, expected):
    """Arrow and numpy share one allocator, so the text `load` drops is reused by the model."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = f"{first}\nprint(pyarrow.default_memory_pool().backend_name)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == expected


def test_plan_roundtrips_through_files(tmp_path):
    """read_plan(plan.write(dir)) gives back the same zones, moves and KPIs."""
    plan = solve(load(VALID), Config(), SHIFT)
    again = read_plan(plan.write(tmp_path / "p"))
    pd.testing.assert_frame_equal(again.moves, plan.moves, check_dtype=False)
    assert again.zones["zone_id"].tolist() == plan.zones["zone_id"].tolist()
    assert again.kpis == plan.kpis and again.plan_id == plan.plan_id
    assert again.shift_start == plan.shift_start


@pytest.mark.parametrize("kinds", [3, 70])
def test_routes_count_couriers_and_name_each_vehicle_once(kinds):
    """Plan.routes: per (from, to) the couriers, the longest travel and the distinct
    vehicles sorted and joined, most couriers first: as grouping with a set per route
    gives them, with a few kinds of vehicle and with more kinds than a bit mask holds; a
    move without a zone is on no route."""
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(kinds)
    n = 400
    plan = solve(load(VALID), Config(), SHIFT)
    moves = pd.DataFrame(
        {
            "courier_id": [f"C{i}" for i in range(n)],
            "vehicle": [f"v{k}" for k in rng.integers(0, kinds, n)],
            "from_zone": [f"Z{k}" for k in rng.integers(0, 6, n)],
            "to_zone": [f"Z{k}" for k in rng.integers(0, 6, n)],
            "travel_minutes": rng.uniform(1, 30, n).round(2),
        }
    )
    moves.loc[5, "from_zone"] = None  # on no route, as grouping leaves it
    routes = dataclasses.replace(plan, moves=moves).routes()
    want = (
        moves.groupby(["from_zone", "to_zone"])
        .agg(
            couriers=("courier_id", "size"),
            minutes=("travel_minutes", "max"),
            vehicles=("vehicle", lambda s: ", ".join(sorted(set(s)))),
        )
        .reset_index()
        .sort_values(["couriers", "from_zone", "to_zone"], ascending=[False, True, True])
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(routes, want, check_dtype=False)
    assert routes["vehicles"].str.count(", ").max() >= 2


def test_one_slot_plan_reads_back_with_every_move_at_the_shift_start(tmp_path):
    """A one-slot plan's moves.csv has no slot_start: read back, every move starts at
    the shift start, in city time, as the plan in memory has it."""
    from util import snapshot

    config = snapshot()
    plan = solve(load(VALID), config, SHIFT)
    assert plan.slot_count == 1 and len(plan.moves) > 1
    again = read_plan(plan.write(tmp_path / "p"))
    starts = again.moves["slot_start"]
    assert str(starts.dtype) == f"datetime64[ns, {plan.timezone}]"
    assert (starts == plan.local(plan.shift_start)).all()
    pd.testing.assert_series_equal(starts, plan.moves["slot_start"], check_dtype=False)


def test_plan_shows_itself_in_a_notebook():
    """Plan._repr_html_ shows the KPIs and the zones needing attention. In slots the
    coverage is the whole shift's and the shortage the first slot's, and the labels
    say so ("Shift coverage", "Shortage now"); one slot keeps "Coverage" and "Shortage
    left"."""
    html = solve(load(VALID), Config(), SHIFT)._repr_html_()
    assert "Shift coverage" in html and "0001" in html and "<table" in html
    assert "Shortage now" in html and "Required now" in html and "Shortage left" not in html
    one = solve(load(VALID), snapshot(), SHIFT)._repr_html_()
    assert ">Coverage<" in one and "Shortage left" in one and "Shift coverage" not in one


def test_plan_repr_and_summary():
    """repr and summary() give the headline numbers in one glance."""
    plan = solve(load(VALID), Config(), SHIFT)
    assert "status='optimal'" in repr(plan)
    assert "coverage 40.0% -> 71.2%" in plan.summary()


def test_infeasible_plan_cannot_be_written(tmp_path):
    """An infeasible plan is a status; writing it is refused instead of leaving empty files."""
    inputs = load(VALID)
    zones = inputs.zones.assign(max_couriers=0.0)
    plan = solve(inputs.replace(zones=zones), Config(), SHIFT)
    assert plan.status == "infeasible"
    with pytest.raises(ValueError, match="infeasible"):
        plan.write(tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_a_shift_start_without_a_time_is_refused_as_on_the_command_line():
    """solve(..., "2026-11-30") planned from midnight without a word, where the command
    line refuses a date alone (a forgotten time is likelier than a midnight shift): the
    library now refuses it too, saying how to write midnight."""
    inputs = load(VALID)
    with pytest.raises(ValueError, match=r"date without a time.*T00:00"):
        solve(inputs, None, "2026-11-30")
    with pytest.raises(ValueError, match="date without a time"):
        solve(inputs, None, "2026-11-30T19:00", "2026-12-01")


def test_arguments_in_the_wrong_place_say_what_to_pass():
    """A notebook passing a config file's path, forgetting the config, or swapping the
    arguments met "'str' object has no attribute 'city'" or "'Config' object has no
    attribute 'check_unedited'" from deep inside; now a TypeError naming the call and
    what to pass. A shift ending before it starts shows the times in city time."""
    inputs = load(VALID)
    with pytest.raises(TypeError, match=r"load\(data_dir, config\): config must be a "):
        load(VALID, str(VALID / "rebalance.toml"))
    with pytest.raises(TypeError, match=r"rebalance\.load_config") as info:
        load(VALID, VALID / "rebalance.toml")
    assert "PosixPath" in str(info.value) or "Path" in str(info.value)
    with pytest.raises(TypeError, match="give the shift start third"):
        solve(inputs, SHIFT)
    with pytest.raises(TypeError, match="inputs must be the Inputs"):
        solve(Config(), inputs, SHIFT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\+01:00 to 2026-11-30 18:00:00\+01:00"):
        solve(inputs, None, SHIFT, "2026-11-30T18:00")
    assert solve(inputs, None, SHIFT).status == "optimal"


def test_every_entry_point_says_what_to_pass_in_place_of_a_wrong_object(tmp_path):
    """A folder where the Inputs go, a plan folder where a Plan goes, a path where the
    Config goes, a moves table without its columns: build_problem, solve_problem,
    solve's previous, forecast, replay and load_orders each raise a TypeError (or
    ValueError) naming the call and what to pass. They met "'str' object has no
    attribute 'zones'" (or 'city', 'config', 'restaurants') from deep inside: 18 kinds
    found by passing 30 odd values to each argument of the API."""
    inputs = load(VALID)
    plan = solve(inputs, None, SHIFT, "2026-11-30T19:30")
    folder = plan.write(tmp_path / "plan")
    orders = pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "restaurant_id": inputs.restaurants["restaurant_id"].astype(str).iloc[:3],
            "placed_at": pd.Timestamp("2026-11-23 19:05", tz="Europe/Paris"),
        }
    )
    cases = [
        (
            lambda: rebalance.build_problem(str(VALID), None, SHIFT),
            r"build_problem\(.*rebalance\.load\(folder",
        ),
        (
            lambda: rebalance.build_problem(inputs, str(VALID), SHIFT),
            r"build_problem\(.*config must be",
        ),
        (
            lambda: rebalance.build_problem(inputs, None, SHIFT, previous=folder),
            r"previous must be a rebalance\.Plan.*read_plan",
        ),
        (
            lambda: solve(inputs, None, SHIFT, previous=str(folder)),
            r"solve\(.*previous must be a rebalance\.Plan",
        ),
        (lambda: rebalance.solve_problem(inputs), r"solve_problem\(p\): p must be the ProblemData"),
        (
            lambda: rebalance.forecast(orders, str(VALID), None, SHIFT),
            r"forecast\(.*inputs must be the Inputs",
        ),
        (
            lambda: rebalance.replay(str(VALID), orders, None, SHIFT),
            r"replay\(.*inputs must be the Inputs",
        ),
        (
            lambda: rebalance.replay(inputs, orders, None, SHIFT, plans=[orders]),
            r"a DataFrame without courier_id and to_zone",
        ),
        (
            lambda: rebalance.replay(inputs, orders, None, SHIFT, plans=[42]),
            r"plan 1 \(a Plan, a plan folder or a moves DataFrame\) must be",
        ),
        (
            lambda: rebalance.load_orders(tmp_path, inputs, None),
            r"load_orders\(.*restaurants must be the city's restaurants table",
        ),
        (
            lambda: rebalance.load_orders(tmp_path, inputs.restaurants, SHIFT),
            r"load_orders\(.*config must be",
        ),
    ]
    for call, message in cases:
        with pytest.raises((TypeError, ValueError), match=message):
            call()
    # the right objects still work: a plan folder and a moves table score
    scored = rebalance.replay(inputs, orders, None, SHIFT, plans=[folder, plan.moves], warn=False)
    assert len(scored.policies) == 3  # no plan, the folder, the moves


def test_a_plans_slot_and_other_plan_arguments_say_what_they_take(tmp_path):
    """``plan.moves_at`` and ``plan.routes`` take a slot number: text, a float or a list
    raised numpy's "only integers, slices ... are valid indices", and a one-slot plan
    answered slot 5 with no moves. ``plan.diff`` takes a Plan: a folder met "'str'
    object has no attribute 'slot_minutes'"."""
    inputs = load(VALID)
    plan = solve(inputs, None, SHIFT)
    one = solve(inputs, None, SHIFT, "2026-11-30T19:30")
    assert plan.slot_count > 1
    assert plan.moves_at(-1).equals(plan.moves_at(plan.slot_count - 1))
    for wrong in ("0", 1.0, [0], None, True):
        with pytest.raises(TypeError, match=r"slot must be a slot number from 0 \(now\) to"):
            plan.moves_at(wrong)  # type: ignore[arg-type]
    with pytest.raises(
        IndexError, match=rf"slot 99 is out of range: this plan has {plan.slot_count}"
    ):
        plan.routes(99)
    with pytest.raises(IndexError, match=r"this plan has 1 slot, 0 to 0"):
        one.moves_at(5)
    assert one.moves_at(0).equals(one.moves)
    folder = one.write(tmp_path / "one")
    with pytest.raises(
        TypeError, match=r"Plan\.diff\(other\): other must be a rebalance\.Plan.*read_plan"
    ):
        plan.diff(str(folder))  # type: ignore[arg-type]
    assert plan.diff(read_plan(folder)) is not None


def test_a_configuration_without_a_couriers_vehicle_is_refused_naming_it():
    """Inputs loaded with a [vehicles.cargo] and solved with a config that lacks it
    (left out, or popped from config.vehicles) failed the plan's own check with
    "AssertionError: named plan costs ..., the solver's optimum is ...", as a bug. A
    range made negative through pydantic's unchecked model_copy crashed likewise."""
    cargo = Config().with_changes(vehicles={"cargo": {"speed_kmh": 12.0, "max_move_minutes": 20.0}})
    inputs = load(VALID, cargo)
    couriers = inputs.couriers.copy()
    couriers["vehicle"] = couriers["vehicle"].astype(str)
    couriers.loc[couriers.index[:5], "vehicle"] = "cargo"
    inputs = inputs.replace(couriers=couriers, config=cargo)
    assert solve(inputs, cargo, SHIFT).status == "optimal"
    # left out, the config the inputs were loaded with is used
    assert solve(inputs, None, SHIFT).plan_id == solve(inputs, cargo, SHIFT).plan_id
    with pytest.raises(ValueError, match=r"vehicle 'cargo' is not in the configuration's"):
        solve(inputs, Config(), SHIFT)
    popped = Config().with_changes(vehicles={"cargo": {"speed_kmh": 12.0, "max_move_minutes": 9.0}})
    popped.vehicles.pop("cargo")
    with pytest.raises(ValueError, match=r"'cargo' is not in the configuration's \[vehicles\]"):
        solve(inputs, popped, SHIFT)
    bad = cargo.model_copy(
        update={
            "vehicles": {
                **cargo.vehicles,
                "cargo": cargo.vehicles["cargo"].model_copy(update={"max_move_minutes": -5.0}),
            }
        }
    )
    with pytest.raises(ValueError, match=r"\[vehicles\.cargo\] max_move_minutes = -5\.0"):
        solve(inputs, bad, SHIFT)


def test_the_config_the_inputs_were_read_with_is_the_one_planned_with(tmp_path):
    """A notebook that left the config out planned a Tokyo city in Paris time with the
    default costs and slots: `load(folder)` ignored the folder's rebalance.toml (the
    command line reads it), and `solve(inputs)` took the defaults though the inputs were
    read in Tokyo time; the couriers' naive times were read in one timezone and the
    shift in another, without a word. Now `load` reads the folder's file as the command
    line does, calls given no config use the one the inputs were read with, and a
    config of another timezone is refused."""
    import shutil

    folder = tmp_path / "tokyo"
    shutil.copytree(VALID, folder)
    (folder / "rebalance.toml").write_text(
        '[city]\nname = "Tokyo"\ntimezone = "Asia/Tokyo"\n[shift]\nslot_minutes = 60\n'
        "[demand]\norders_per_courier_hour = 4.0\n"
    )
    config = rebalance.load_config(folder / "rebalance.toml")
    inputs = load(folder)
    assert inputs.config == config and inputs.timezone == "Asia/Tokyo"
    plan = solve(inputs, shift_start=SHIFT)
    assert plan.shift_start == pd.Timestamp(SHIFT, tz="Asia/Tokyo")
    assert plan.slot_minutes == 60 and plan.city == "Tokyo"
    assert plan.plan_id == solve(load(folder, config), config, SHIFT).plan_id
    # the same tables through `replace` keep it
    again = inputs.replace(restaurants=inputs.restaurants.copy())
    assert solve(again, shift_start=SHIFT).plan_id == plan.plan_id
    for call in (
        lambda: solve(inputs, Config(), SHIFT),
        lambda: rebalance.build_problem(inputs, Config(), SHIFT),
        lambda: rebalance.replay(inputs, pd.DataFrame(columns=["order_id"]), Config(), SHIFT),
    ):
        with pytest.raises(ValueError, match=r"timezone is 'Europe/Paris', but the inputs' "):
            call()
    # nor through replace: the couriers kept were read in Tokyo time
    with pytest.raises(ValueError, match=r"the tables kept were read in 'Asia/Tokyo'"):
        inputs.replace(config=Config(), demand=None)


def test_solve_warns_where_the_command_line_warns():
    """`rebalance plan` warns on stderr when nobody is eligible for the shift (a typo'd
    date) or its start is an hour the clocks skip; `solve` in a notebook returned
    "optimal", 0 of 0 couriers moved, and said nothing. It now says the same as a
    `rebalance.PlanWarning`, and nothing on a usual shift."""
    import warnings

    inputs = load(VALID)
    with pytest.warns(rebalance.PlanWarning, match=r"no courier is eligible for the shift"):
        plan = solve(inputs, None, "2026-11-03T19:00")
    assert plan.status == "optimal" and plan.kpis["eligible_couriers"] == 0
    with pytest.warns(rebalance.PlanWarning) as said:  # (nobody is eligible then either)
        solve(inputs, None, "2026-03-29T02:30")
    assert any("2026-03-29 02:30 does not exist" in str(w.message) for w in said)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solve(inputs, None, SHIFT)


def test_the_next_wrong_arguments_an_analyst_writes_say_what_to_pass():
    """One plan where `replay` takes a list ("'Plan' object is not iterable"), a time
    limit as text ("'<' not supported between 'int' and 'str'"), a number where
    `with_changes` takes a section's keys ("'int' object is not a mapping"): each now
    names the argument and what to pass. An infeasible plan given to `replay` was scored
    as moving nobody, its row the same as "no plan": it is refused, as plots refuse it."""
    from rebalance.scenarios import Scenario, solve_scenario

    inputs = load(VALID)
    plan = solve(inputs, None, SHIFT)
    orders = pd.DataFrame(
        {
            "order_id": ["O1"],
            "restaurant_id": inputs.restaurants["restaurant_id"].astype(str).iloc[:1],
            "placed_at": pd.Timestamp("2026-11-30 19:05", tz="Europe/Paris"),
        }
    )
    tight = Scenario("tight", zone_caps={str(z): 0 for z in inputs.zones["zone_id"]})
    infeasible = solve_scenario(tight, inputs, None, SHIFT)
    assert infeasible.status == "infeasible"
    cases = [
        (
            lambda: rebalance.replay(inputs, orders, None, SHIFT, plans=plan),
            TypeError,
            r"plans must be a list of plans or a mapping.*pass plans=\[plan\]",
        ),
        (
            lambda: rebalance.replay(inputs, orders, None, SHIFT, plans={"tight": infeasible}),
            ValueError,
            r"tight is infeasible, nothing to replay: ",
        ),
        (
            lambda: solve(inputs, None, SHIFT, time_limit="30"),
            TypeError,
            r"time_limit must be seconds as a number \(e\.g\. time_limit=30\), got str '30'",
        ),
        (
            lambda: Config().with_changes(demand=3),
            TypeError,
            r"with_changes\(demand=\.\.\.\): each section takes a mapping of its keys",
        ),
    ]
    for call, kind, message in cases:
        with pytest.raises(kind, match=message):
            call()
    assert len(rebalance.replay(inputs, orders, None, SHIFT, plans=[plan]).policies) == 2
    import numpy as np

    assert solve(inputs, None, SHIFT, time_limit=np.int64(30)).status == "optimal"


def test_a_summary_without_shortage_names_no_zones():
    """`plan.summary()` read "shortage 49 -> 0 couriers in 0 zones" (notebook 04 showed
    it); the zones are named only where some are short, as the HTML and terminal views
    do."""
    config = Config().with_changes(demand={"orders_per_courier_hour": 1000.0})
    plan = solve(load(VALID, config), config, SHIFT)
    assert plan.kpis["shortage"] == 0
    assert plan.summary().endswith("-> 0 couriers")
    short = solve(load(VALID), None, SHIFT)
    assert short.kpis["shortage"] > 0 and short.summary().endswith(
        f"in {short.kpis['zones_short']} zone" + ("s" if short.kpis["zones_short"] > 1 else "")
    )


def test_inputs_show_themselves_in_a_line():
    """A notebook cell holding ``inputs`` printed the dataclass's repr, every table
    whole (5.6 KB for 40 zones). It is one line: where from, each table's rows, the
    timezone and the fingerprint; `summary()` counts the demand rows as validate does."""
    inputs = load(REPO / "data" / "samples" / "paris")
    text = repr(inputs)
    assert text.startswith("<Inputs from ") and "\n" not in text and len(text) < 250
    assert "20 zones, 1,500 restaurants, 600 couriers, 12,000 demand rows" in text
    assert "times in Europe/Paris" in text and inputs.sha256[:12] in text
    assert inputs.summary()["demand"] == 12_000 and load(VALID).summary()["demand"] is None


def test_a_loaded_object_where_a_path_goes_is_named_with_what_to_pass(tmp_path):
    """Re-running a cell as load(inputs), read_plan(plan) or load_config({...}) met
    pathlib's bare "expected str, bytes or os.PathLike object, not Inputs". Each call
    now names itself, the argument, what it takes and, where it helps, what to do."""
    from rebalance import load_config

    inputs = load(VALID)
    plan = solve(inputs, None, SHIFT)
    cases = [
        (lambda: load(inputs), "load(data_dir, config): data_dir must be the folder", "Inputs"),
        (lambda: load(42), "load(data_dir, config): data_dir must be the folder", "int"),
        (lambda: read_plan(plan), "read_plan(directory): directory must be a plan folder", "Plan"),
        (lambda: load_config({"city": {}}), "load_config(path): path must be a TOML", "dict"),
        (lambda: plan.write(123), "Plan.write(directory): directory must be a folder", "int"),
    ]
    for call, says, got in cases:
        with pytest.raises(TypeError) as caught:
            call()
        assert str(caught.value).startswith(says) and f"got {got}" in str(caught.value)
    with pytest.raises(TypeError, match="loaded already: pass them to solve"):
        load(inputs)
    with pytest.raises(TypeError, match=r"Config\(\)\.with_changes"):
        load_config({"city": {}})
    assert load(str(VALID)).zones.equals(load(VALID).zones)  # paths as text still do
    from pathlib import PurePosixPath

    from rebalance import DataError, load_orders

    with pytest.raises(DataError, match="orders file not found"):  # any path, read as one
        load_orders(PurePosixPath(tmp_path / "orders.csv"), inputs.restaurants, inputs.config)


def test_plans_compare_and_hash_as_objects():
    """plan == its read-back copy raised pandas' "truth value of a DataFrame is
    ambiguous", and hash(plan) a TypeError. A plan now equals itself only, goes in a
    set or a dict, and its copy tells the same problem by plan_id."""
    plan = solve(load(VALID), None, SHIFT)
    again = solve(load(VALID), None, SHIFT)
    assert plan == plan and plan != again and plan != "plan"
    assert len({plan, again, plan}) == 2 and {plan: 1}[plan] == 1
    assert plan.plan_id == again.plan_id


def test_a_plan_edited_in_place_is_refused_before_its_folder_is_written(tmp_path):
    """plan.moves edited in place, then plan.write: the folder was written
    with the solved plan's KPIs and plan_id, and read_plan, publish and diff refused it
    afterwards ("the plan was edited"). write now refuses at once, naming what no
    longer adds up and what to do, and writes nothing."""
    plan = solve(load(REPO / "data" / "samples" / "paris"), None, SHIFT)
    plan.write(tmp_path / "solved")
    assert read_plan(tmp_path / "solved").kpis == plan.kpis
    plan.moves.loc[plan.moves.index[:40], "travel_minutes"] = 0.0  # as if those stayed
    with pytest.raises(
        ValueError, match=r"counted from plan\.moves' travel_minutes it is"
    ) as caught:
        plan.write(tmp_path / "edited")
    assert "solve again" in str(caught.value)
    assert not (tmp_path / "edited").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["solved"]


def test_a_plan_whose_zone_counts_no_longer_agree_is_refused_before_it_is_written(tmp_path):
    """An edit every KPI survives (one zone's couriers_after changed in a notebook) was
    written, then refused by read_plan, publish and diff ("the plan was edited"). write
    refuses it at once with the table, row, column and count, and writes nothing."""
    plan = solve(load(REPO / "data" / "samples" / "paris"), None, SHIFT)
    # a zone with a courier to spare: its coverage, and every KPI, stay as they are
    spare = plan.zones["couriers_after"] > plan.zones["required_couriers"]
    row = int(spare.to_numpy().nonzero()[0][0])
    plan.zones.loc[plan.zones.index[row], "couriers_after"] -= 1
    with pytest.raises(ValueError) as caught:
        plan.write(tmp_path / "edited")
    message = str(caught.value)
    assert message.startswith(f"Plan.write: the plan's tables disagree (plan.zones, position {row}")
    assert "column 'couriers_after'" in message and "it is" in message
    assert "solve again" in message
    assert not (tmp_path / "edited").exists()


def test_a_wrong_shift_start_is_named_as_the_library_takes_it():
    """From Python, a shift start on no courier's day or off the demand table's slots
    was met with "Check --shift-start" and "key '--shift-start'": options of a command
    the analyst did not run. The messages now name the shift start as both take it."""
    import rebalance

    inputs = load(REPO / "data" / "samples" / "paris")
    with pytest.warns(rebalance.PlanWarning) as said:
        solve(inputs, None, shift_start="2026-12-05T19:00")
    assert "Check the shift start (--shift-start, or shift_start= in Python" in str(said[0].message)
    with pytest.raises(rebalance.DataError) as caught:
        solve(inputs, None, shift_start="2026-11-30T19:10")
    first = caught.value.problems[0]
    assert first.key is None and str(first).startswith("the shift start: no row of the demand")
    assert "--shift-start 2026-11-30T19:00, or shift_start= in Python" in str(first)


def test_warnings_point_at_the_notebooks_own_line():
    """solve, forecast and replay say their notes as PlanWarning at the line of the
    caller's cell, not inside rebalance (where a notebook shows a path it cannot act
    on): one rule for the three (errors.warn_notes)."""
    import warnings

    import rebalance

    inputs = load(REPO / "data" / "samples" / "paris")
    known = str(inputs.restaurants["restaurant_id"].iloc[0])
    orders = pd.DataFrame(  # one order of a restaurant not in the city: left out, said
        {
            "order_id": ["1", "2"],
            "restaurant_id": [known, "nowhere"],
            "placed_at": ["2026-11-23T19:05", "2026-11-23T19:06"],
        }
    )
    calls = {
        "solve": lambda: solve(inputs, None, "2026-12-05T19:00"),
        "forecast": lambda: rebalance.forecast(orders, inputs, None, SHIFT),
        "replay": lambda: rebalance.replay(inputs, orders, None, SHIFT),
    }
    for name, call in calls.items():
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            call()
        plan_warnings = [w for w in said if issubclass(w.category, rebalance.PlanWarning)]
        assert plan_warnings, name
        assert {w.filename for w in plan_warnings} == {__file__}, (name, plan_warnings)
