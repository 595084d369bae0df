"""Re-planning against the published plan (CONTRACT section 9)."""

from __future__ import annotations

import json
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
    later = rebalance.solve(inputs, quarter, "2026-11-30T19:15", previous=plan, warn=False)
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


# ------------------------------------------------------------ since_previous, CLI


def _closed_busiest(inputs, plan, n=3):
    """The inputs with the ``n`` busiest restaurants of the zone receiving most couriers closed."""
    zones = plan.zones.set_index("zone_id")
    target = zones[zones["moved_in"] > 0]["moved_in"].idxmax()
    rest = inputs.restaurants
    in_zone = rest[(rest["zone_id"] == target) & (rest["status"] == "open")]
    closed = in_zone.sort_values("expected_orders_per_hour").tail(n)["restaurant_id"]
    status = rest["status"].where(~rest["restaurant_id"].isin(closed), "closed")
    return inputs.replace(restaurants=rest.assign(status=status)), target


def test_replan_marks_each_move_new_unchanged_or_changed(paris, tmp_path):
    """A re-plan's moves.csv says per move whether it is new, unchanged or changed; the
    counts agree with the diff, and a plan made from scratch has no such column."""
    config, inputs, plan = paris
    changed, _ = _closed_busiest(inputs, plan)
    again = rebalance.solve(changed, config, SHIFT, previous=plan)
    folder = again.write(tmp_path / "again")
    moves = pd.read_csv(folder / "moves.csv", dtype=str)
    assert list(moves.columns)[:6] == [
        "courier_id", "vehicle", "from_zone", "to_zone", "travel_minutes", "slot_start"
    ]  # fmt: skip
    assert set(moves["since_previous"]) <= {"new", "unchanged", "changed"}
    counts = moves["since_previous"].value_counts()
    d = plan.diff(again)
    assert counts.get("changed", 0) == len(d.of_kind("rerouted"))
    assert counts.get("new", 0) == len(d.of_kind("added"))
    assert counts["unchanged"] == d.unchanged > 0
    assert "since_previous" not in pd.read_csv(plan.write(tmp_path / "first") / "moves.csv").columns


def test_terminal_moves_table_marks_since_previous(paris):
    """The terminal's moves table of a re-plan has a "Since previous" column."""
    from rich.console import Console

    config, inputs, plan = paris
    again = rebalance.solve(inputs, config, SHIFT, previous=plan)
    console = Console(width=140, record=True)
    console.print(again)
    text = console.export_text()
    assert "Since previous" in text and "unchanged" in text
    console = Console(width=140, record=True)
    console.print(plan)
    assert "Since previous" not in console.export_text()


def _cli_plan(*args):
    from typer.testing import CliRunner

    from rebalance.cli import app

    return CliRunner().invoke(app, ["plan", *map(str, args)])


def test_cli_previous_of_another_city_or_data_set_is_exit_3(paris, tmp_path):
    """`plan --previous` refuses a plan of another city or another data set, saying which."""
    import dataclasses

    _, _, plan = paris
    lyon = dataclasses.replace(plan, city="Lyon").write(tmp_path / "lyon")
    bad = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", lyon)
    assert bad.exit_code == 3
    assert "is for 'Lyon', not 'Paris'" in bad.output and "plan.json" in bad.output
    # the same plan with every zone renamed (in zones, moves and slots): whole, but of
    # another data set
    alien = dataclasses.replace(
        plan,
        zones=plan.zones.assign(zone_id=plan.zones["zone_id"] + "x"),
        moves=plan.moves.assign(
            from_zone=plan.moves["from_zone"] + "x", to_zone=plan.moves["to_zone"] + "x"
        ),
        slots=plan.slots.assign(zone_id=plan.slots["zone_id"] + "x"),
    )
    other = alien.write(tmp_path / "alien")
    bad = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", other)
    assert bad.exit_code == 3 and "another data set" in bad.output and "zones.csv" in bad.output


def test_cli_previous_of_a_shift_that_does_not_overlap_is_exit_3(paris, tmp_path):
    """Yesterday's plan given as --previous is refused, naming both shifts: its moves
    would count today's couriers as on their way and send them back."""
    plan = paris[2]
    folder = plan.write(tmp_path / "yesterday")
    bad = _cli_plan(PARIS, "--shift-start", "2026-12-01T19:00", "--previous", folder)
    assert bad.exit_code == 3
    text = " ".join(bad.output.split())
    assert "the previous plan is for the shift 2026-11-30 19:00-23:00" in text
    assert "does not overlap this one (2026-12-01 19:00-23:00)" in text
    assert f"{folder}/plan.json" in text  # which plan.json: the folder given
    config, inputs, _ = paris
    with pytest.raises(InputError, match="does not overlap") as caught:
        rebalance.solve(inputs, config, "2026-11-30T23:00", previous=plan)
    # named as both take it (it said "or no --previous" to a notebook)
    assert "or no previous plan (--previous, previous= in Python)" in str(caught.value)
    with (
        pytest.warns(rebalance.PlanWarning, match="not eligible for the shift starting"),
        pytest.warns(rebalance.PlanWarning, match="demand table has no row for 7 of"),
    ):
        overlapping = rebalance.solve(inputs, config, "2026-11-30T22:30", previous=plan)
    assert overlapping.status == "optimal"
    # a plan of a later shift that overlaps: planned, with a word (it was silent)
    earlier = _cli_plan(PARIS, "--shift-start", "2026-11-30T18:30", "--previous", folder)
    assert earlier.exit_code == 0, earlier.output
    assert "warning: the previous plan" in earlier.stderr and "after this one" in earlier.stderr


def test_a_hand_edited_previous_moves_csv_is_read_as_written_or_refused(paris, tmp_path):
    """In a previous plan's moves.csv, a slot_start without an offset is city time (it
    was read as UTC: 19:00 became 20:00 and the move had not started yet), and a zone
    neither the plan's zones.csv nor these inputs have is refused naming the file, line
    and column (the move was dropped without a word)."""
    config, inputs, plan = paris
    folder = plan.write(tmp_path / "edited")
    moves = pd.read_csv(folder / "moves.csv", dtype=str, keep_default_na=False)
    first = moves["slot_start"] == "2026-11-30T19:00:00+01:00"
    moves.loc[first, "slot_start"] = "2026-11-30T19:00:00"
    moves.to_csv(folder / "moves.csv", index=False)
    edited = rebalance.read_plan(folder)
    quarter = config.with_changes(shift={"slot_minutes": 15})
    later = rebalance.solve(inputs, quarter, "2026-11-30T19:15", previous=edited, warn=False)
    assert later.kpis["on_the_way"] == int(first.sum()) > 0
    moves.loc[0, "to_zone"] = "nowhere"
    moves.to_csv(folder / "moves.csv", index=False)
    bad = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", folder)
    assert bad.exit_code == 3
    text = " ".join(bad.output.split())
    # refused as it is read: the zone is not even one of the plan's own zones
    assert "moves.csv, line 2, column 'to_zone'" in text
    assert "zone 'nowhere' is not in zones.csv" in text


def test_cli_unreadable_previous_is_exit_3_naming_the_file(paris, tmp_path):
    """A broken plan.json or a missing folder given to --previous is exit 3, not a traceback."""
    _, _, plan = paris
    broken = plan.write(tmp_path / "broken")
    (broken / "plan.json").write_text("{not json", encoding="utf-8")
    bad = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", broken)
    assert bad.exit_code == 3, bad.output
    assert "not valid JSON" in bad.output and str(broken / "plan.json") in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("dropped", ["shortage_before", "zones_short"])
def test_a_previous_plan_json_without_some_kpis_is_planned_afresh(paris, tmp_path, dropped):
    """With unchanged inputs a re-plan keeps the previous plan whole, KPIs included. A
    plan.json lacking a KPI beyond the contract's (`read_plan` requires those; an older
    plan may lack later ones) is not kept: the plan is made and shown with its own KPIs
    (it was exit 1, a KeyError in the terminal view, and would have written the
    incomplete KPIs into the new plan.json)."""
    _, _, plan = paris
    folder = plan.write(tmp_path / "edited")
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    del meta["kpis"][dropped]
    (folder / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    out = tmp_path / "out"
    ok = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", folder, "--out", out)
    assert ok.exit_code == 0, ok.output
    assert "Shortage now" in ok.output and "Traceback" not in ok.output
    kpis = json.loads((out / "plan.json").read_text(encoding="utf-8"))["kpis"]
    assert kpis["shortage_before"] == plan.kpis["shortage_before"]
    assert kpis["zones_short"] == plan.kpis["zones_short"]
    assert kpis["moved_couriers"] == plan.kpis["moved_couriers"]  # same instructions kept
    assert kpis["changed_couriers"] == 0
    # the file as written is kept whole, as before: the same plan, KPIs and all
    from rebalance.publish import content_hash

    kept = tmp_path / "kept"
    untouched = _cli_plan(
        PARIS, "--shift-start", SHIFT, "--previous", plan.write(tmp_path / "ok"), "--out", kept
    )
    assert untouched.exit_code == 0 and "Shortage now" in untouched.output
    again = rebalance.read_plan(kept)
    assert content_hash(again) == content_hash(plan) and again.kpis["changed_couriers"] == 0
    assert {k: again.kpis[k] for k in plan.kpis if k != "objective_breakdown"} == {
        k: v for k, v in plan.kpis.items() if k != "objective_breakdown"
    }


def test_a_previous_plan_with_text_for_a_kpi_is_refused_or_not_kept(paris, tmp_path):
    """Text where plan.json has a number, in any KPI or part of the objective, is exit 3
    naming plan.json and the KPI (`read_plan`). A previous plan made in a notebook with
    such KPIs (never read from a folder) is not kept by an unchanged re-plan: its KPIs
    would be the new plan's."""
    import dataclasses

    _, _, plan = paris
    folder = plan.write(tmp_path / "edited")
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    meta["kpis"]["objective_breakdown"]["move_minutes"] = "n/a"
    (folder / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    bad = _cli_plan(PARIS, "--shift-start", SHIFT, "--previous", folder)
    assert bad.exit_code == 3 and "Traceback" not in bad.output
    text = " ".join(bad.output.split())
    assert str(folder / "plan.json") in text and "kpis.objective_breakdown" in text
    config, inputs, _ = paris
    odd = dataclasses.replace(plan, kpis={**plan.kpis, "zones_short": "several"})
    again = rebalance.solve(inputs, config, SHIFT, previous=odd)
    assert again.kpis["zones_short"] == plan.kpis["zones_short"]
    assert again.kpis["changed_couriers"] == 0


def test_cli_previous_with_couriers_gone_counts_them(paris, tmp_path):
    """`plan --previous` whose couriers are partly gone plans, and says how many were dropped."""
    _, _, plan = paris
    data = tmp_path / "data"
    shutil.copytree(PARIS, data)
    gone = set(plan.moves["courier_id"].iloc[:4])
    couriers = pd.read_csv(data / "couriers.csv", dtype=str, keep_default_na=False)
    couriers[~couriers["courier_id"].isin(gone)].to_csv(data / "couriers.csv", index=False)
    first = plan.write(tmp_path / "first")
    ok = _cli_plan(data, "--shift-start", SHIFT, "--previous", first)
    assert ok.exit_code == 0, ok.output
    assert "4 couriers of the previous plan no longer present (dropped)" in ok.output


def test_a_courier_on_its_way_stays_so_through_every_later_re_plan(tmp_path):
    """c1 drives A -> B (25 min) from 18:00; couriers.csv still says A. The 18:15 re-plan
    counts it at B, and so does a retry of the 18:15 shift made against that re-plan
    (whose moves do not list c1): it used to send c1 on the same drive again, charge
    change_minutes and revise the Slack message."""
    from util import courier, restaurant, write_city, zone

    folder = write_city(
        tmp_path / "drive",
        [zone("A", 48.85, 2.33), zone("B", 48.86, 2.34)],
        [restaurant("r1", "B", 2.0)],
        [courier("c1", "A", "car")],
        [
            {"from_zone": "A", "to_zone": "B", "minutes": 25, "vehicle": ""},
            {"from_zone": "B", "to_zone": "A", "minutes": 25, "vehicle": ""},
        ],
    )
    config = rebalance.Config().with_changes(shift={"hours": 2.0, "slot_minutes": 30})
    inputs = rebalance.load(folder, config)
    first = rebalance.solve(inputs, config, "2026-11-30T18:00")
    assert first.moves[["courier_id", "to_zone"]].values.tolist() == [["c1", "B"]]
    later = rebalance.solve(inputs, config, "2026-11-30T18:15", previous=first)
    assert later.kpis["on_the_way"] == 1 and later.moves.empty and later.objective == 0
    assert later.under_way == [
        {"courier_id": "c1", "to_zone": "B", "started": "2026-11-30T18:00:00+01:00"}
    ]
    kept = rebalance.read_plan(later.write(tmp_path / "later"))  # through plan.json
    assert kept.under_way == later.under_way
    # hand-edited without an offset: city time, as moves.csv's times
    meta = json.loads((tmp_path / "later" / "plan.json").read_text())
    meta["under_way"][0]["started"] = "2026-11-30T18:00:00"
    (tmp_path / "later" / "plan.json").write_text(json.dumps(meta))
    assert rebalance.read_plan(tmp_path / "later").under_way == later.under_way
    for previous in (later, kept):
        retry = rebalance.solve(inputs, config, "2026-11-30T18:15", previous=previous)
        assert retry.kpis["on_the_way"] == 1
        assert retry.moves.empty and retry.objective == 0
        assert retry.kpis["objective_breakdown"]["change_minutes"] == 0
    # once the feed shows c1 in B, nothing is on its way any more
    arrived = inputs.replace(couriers=inputs.couriers.assign(zone_id="B"))
    settled = rebalance.solve(arrived, config, "2026-11-30T18:30", previous=later)
    assert settled.kpis["on_the_way"] == 0 and settled.under_way == []
    assert settled.moves.empty


def test_an_infeasible_re_plan_says_couriers_on_their_way_were_counted(tmp_path):
    """Zone B (cap 1) holds c2, and the previous plan sent c1 there: the re-plan has no
    feasible plan, and its message says a courier on its way was counted, since
    couriers.csv shows only one courier in B."""
    import dataclasses

    from util import courier, restaurant, write_city, zone

    folder = write_city(
        tmp_path / "capped",
        [zone("A", 48.85, 2.33), zone("B", 48.86, 2.34, cap=1)],
        [restaurant("r1", "B", 5.0)],
        [courier("c1", "A"), courier("c2", "B")],
        [
            {"from_zone": "A", "to_zone": "B", "minutes": 50, "vehicle": ""},
            {"from_zone": "B", "to_zone": "A", "minutes": 50, "vehicle": ""},
        ],
    )
    config = rebalance.Config().with_changes(shift={"hours": 1.5, "slot_minutes": 30})
    inputs = rebalance.load(folder, config)
    plan = rebalance.solve(inputs, config, "2026-11-30T18:00")
    sent = pd.DataFrame(
        {
            "courier_id": ["c1"],
            "vehicle": ["bike"],
            "from_zone": ["A"],
            "to_zone": ["B"],
            "travel_minutes": [15.0],
            "slot_start": [pd.Timestamp("2026-11-30T18:00", tz="Europe/Paris")],
        }
    )
    previous = dataclasses.replace(plan, moves=sent)
    again = rebalance.solve(inputs, config, "2026-11-30T18:15", previous=previous)
    assert again.status == "infeasible"
    assert "zone B (Zone B) has 2 present couriers" in again.message
    assert "(previous plan: 1 on their way count at their destination)" in again.message


# ------------------------------------------------------------------ rebalance run


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """A small synthetic city in one 4-hour slot."""
    from rebalance.generate import generate_city

    return generate_city(
        tmp_path_factory.mktemp("town") / "town",
        zones=12,
        couriers=120,
        restaurants=50,
        seed=4,
        shift_start=SHIFT,
    )


def _town_config(tmp_path, data, name="Town"):
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[city]\nname = "{name}"\ntimezone = "Europe/Paris"\n'
        f'[data]\ndir = "{data}"\n'
        "[shift]\nslot_minutes = 240\n"
        '[slack]\nchannel = "C0PLANS"\n'
        f'[history]\npath = "{tmp_path / "state" / "history.sqlite3"}"\n'
    )
    return rebalance.load_config(path)


def _run(config, shift, data=None, **kw):
    from fakeslack import FakeSlack, InProcessSlack

    from rebalance.runner import run

    fake = kw.pop("fake", None) or FakeSlack()
    return run(config, data, shift_start=shift, client=InProcessSlack(fake), **kw)


def test_run_replans_against_the_last_overlapping_plan(town, tmp_path, caplog):
    """Two runs of overlapping shifts: the second re-plans against the first, says so in
    its log and history, and its moves say what is new; a later shift that overlaps
    nothing plans from scratch."""
    import logging

    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    assert first.record.extra["previous"]["used"] is False
    assert "planning from scratch" in first.record.extra["previous"]["note"]
    with caplog.at_level(logging.INFO, logger="rebalance"):
        second = _run(config, "2026-11-30T19:15")
    chosen = second.record.extra["previous"]
    assert chosen["used"] is True and chosen["run_id"] == first.run_id
    assert chosen["plan_dir"] == str(first.plan_dir) and chosen["plan_id"] == first.plan.plan_id
    assert any(f"re-planning against run {first.run_id}" in r.getMessage() for r in caplog.records)
    assert second.plan.kpis["on_the_way"] == len(first.plan.moves)
    from rich.console import Console

    from rebalance.views.history import run_details

    console = Console(width=200, record=True)
    console.print(run_details(second.record))
    assert f"re-planning against run {first.run_id}" in console.export_text()
    moves = pd.read_csv(second.plan_dir / "moves.csv")
    assert "since_previous" in moves.columns
    # the third run overlaps the second (19:15-23:15) and picks it, the newest
    third = _run(config, "2026-11-30T21:00")
    assert third.record.extra["previous"]["run_id"] == second.run_id
    late = _run(config, "2026-12-01T09:00")
    assert late.record.extra["previous"]["used"] is False
    assert "no earlier plan of Town overlaps" in late.record.extra["previous"]["note"]


def test_run_finds_the_published_plan_behind_many_newer_dry_runs(town, tmp_path):
    """Only the newest 200 runs of the city were read, dry runs and failures included,
    so an analyst's afternoon of dry runs hid the published plan and the run planned
    from scratch (its couriers on their way sent again). Kept runs are chosen by the
    query now."""
    import sqlite3
    from datetime import datetime, timedelta

    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    db = sqlite3.connect(config.history.path)
    with db:
        row = db.execute("SELECT * FROM runs WHERE run_id = ?", (first.run_id,)).fetchone()
        names = [d[0] for d in db.execute("SELECT * FROM runs LIMIT 0").description]
        at = {n: i for i, n in enumerate(names)}
        for i in range(250):
            copy = list(row)
            copy[at["run_id"]] = f"dry-{i:03d}"
            copy[at["dry_run"]] = 1
            after = datetime.fromisoformat(row[at["started_at"]]) + timedelta(milliseconds=i + 1)
            copy[at["started_at"]] = after.isoformat(timespec="milliseconds")
            marks = ", ".join("?" * len(copy))
            db.execute(f"INSERT INTO runs VALUES ({marks})", copy)
    db.close()
    second = _run(config, "2026-11-30T19:15")
    chosen = second.record.extra["previous"]
    assert chosen["used"] is True and chosen["run_id"] == first.run_id


def test_run_with_unreadable_or_missing_previous_plans_from_scratch(town, tmp_path, caplog):
    """A previous run folder whose plan.json is broken, or that is gone, is named in a
    warning; the run plans from scratch and succeeds."""
    import logging

    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    (first.plan_dir / "plan.json").write_text("{", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="rebalance"):
        second = _run(config, SHIFT)
    note = second.record.extra["previous"]
    assert note["used"] is False and note["run_id"] == first.run_id
    assert "not used, planning from scratch" in note["note"] and "plan.json" in note["note"]
    assert "not valid JSON" in note["note"]
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any(first.run_id in r.getMessage() for r in warned)
    shutil.rmtree(second.plan_dir)
    third = _run(config, SHIFT)
    assert third.record.extra["previous"]["run_id"] == second.run_id
    assert "does not exist" in third.record.extra["previous"]["note"]
    assert third.record.status == "succeeded"


def test_run_ignores_other_cities_dry_runs_and_other_data_sets(town, tmp_path):
    """Another city's runs and dry runs are never the previous plan; a plan of another
    data set (zones these inputs lack) is named and not used."""
    from rebalance.generate import generate_city

    config = _town_config(tmp_path, town)
    other = _town_config(tmp_path, town, name="Elsewhere")
    _run(other, SHIFT)
    _run(config, SHIFT, dry_run=True)
    first = _run(config, SHIFT)
    assert first.record.extra["previous"]["used"] is False
    smaller = generate_city(tmp_path / "smaller", zones=8, couriers=60, restaurants=20, seed=5)
    second = _run(config, SHIFT, smaller)
    note = second.record.extra["previous"]
    assert note["used"] is False and "another data set" in note["note"]
    assert second.record.status == "succeeded"


def test_run_drops_couriers_who_left_with_a_count(town, tmp_path):
    """Couriers of the previous plan missing from this run's data are counted in the
    run's history, never a crash."""
    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    data = tmp_path / "later"
    shutil.copytree(town, data)
    gone = set(first.plan.moves["courier_id"].iloc[:2])
    assert len(gone) == 2
    couriers = pd.read_csv(data / "couriers.csv", dtype=str, keep_default_na=False)
    couriers[~couriers["courier_id"].isin(gone)].to_csv(data / "couriers.csv", index=False)
    second = _run(config, SHIFT, data)
    chosen = second.record.extra["previous"]
    assert chosen["used"] is True
    assert "2 couriers of the previous plan no longer present (dropped)" in chosen["plan_note"]


def test_rerun_with_unchanged_inputs_keeps_every_later_slot_too(tmp_path):
    """Later slots have equally good alternatives that cost no change_minutes; a re-plan
    of unchanged inputs still keeps the previous plan's every move (a re-run posts nothing)."""
    from rebalance.generate import generate_city
    from rebalance.publish import content_hash

    data = generate_city(tmp_path / "tv", zones=10, couriers=100, restaurants=40, seed=1)
    config = rebalance.load_config(data / "rebalance.toml")
    inputs = rebalance.load(data, config)
    first = rebalance.solve(inputs, config, SHIFT)
    assert first.slot_count > 1 and len(first.moves_at(0)) < len(first.moves)
    previous = rebalance.read_plan(first.write(tmp_path / "first"))
    again = rebalance.solve(inputs, config, SHIFT, previous=previous)
    assert again.status == "optimal" and again.objective == pytest.approx(first.objective)
    assert content_hash(again) == content_hash(first)
    assert set(again.moves["since_previous"]) == {"unchanged"}
    assert first.diff(again).empty


def test_a_courier_who_logged_in_since_the_previous_plan_moves_without_change_cost(tmp_path):
    """c1 was placed by the 18:00 plan and told to stay in A; c2 logged in since. When B
    needs a courier at 18:30, sending c2 changes no instruction (CONTRACT section 9: a
    cost for a destination that differs from what the previous plan had for the
    courier, and it had nothing for c2): the re-plan sends c2 at the plan-from-scratch
    cost, and says so. The roster goes through the plan folder; a folder written without
    one (before rosters were kept) counts everyone as known, as before."""
    from util import courier, restaurant, write_city, zone

    city = [zone("A", 48.85, 2.33), zone("B", 48.86, 2.34)]
    travel = [{"from_zone": "A", "to_zone": "B", "minutes": 10, "vehicle": ""}]
    config = rebalance.Config().with_changes(shift={"hours": 1.0, "slot_minutes": 30})
    before = rebalance.load(
        write_city(tmp_path / "before", city, [], [courier("c1", "A")], travel), config
    )
    first = rebalance.solve(before, config, "2026-11-30T18:00")
    assert first.moves.empty and first.roster.to_pylist() == ["c1"]
    now = rebalance.load(
        write_city(
            tmp_path / "now",
            city,
            [restaurant("r1", "B", 2.0)],
            [courier("c1", "A"), courier("c2", "A")],
            travel,
        ),
        config,
    )
    scratch = rebalance.solve(now, config, "2026-11-30T18:30")
    assert len(scratch.moves) == 1 and scratch.objective > 0
    kept = rebalance.read_plan(first.write(tmp_path / "first"))
    assert kept.roster.to_pylist() == ["c1"]
    for previous in (first, kept):
        again = rebalance.solve(now, config, "2026-11-30T18:30", previous=previous)
        assert again.moves[["courier_id", "to_zone"]].values.tolist() == [["c2", "B"]]
        assert again.kpis["objective_breakdown"]["change_minutes"] == 0
        assert again.objective == pytest.approx(scratch.objective)
        assert "1 new since the previous plan" in again.message
    (tmp_path / "first" / "roster.parquet").unlink()
    old = rebalance.read_plan(tmp_path / "first")
    assert old.roster is None
    charged = rebalance.solve(now, config, "2026-11-30T18:30", previous=old)
    assert charged.kpis["objective_breakdown"]["change_minutes"] == 10.0
    assert charged.objective == pytest.approx(scratch.objective + 10.0)


def test_an_unreadable_roster_is_noted_and_everyone_counts_as_known(paris, tmp_path):
    """roster.parquet is optional and only re-plans read it: one that cannot be read
    (junk, a foreign table, integers, a folder, an id's bytes that are not UTF-8)
    leaves the plan readable (explain, diff and publish need nothing of it), and a
    re-plan counts everyone as known and says why in its message. A flipped byte in an
    id was read as another id: that courier counted as new, his instruction free to
    change, without a word. One written from a pandas category (dictionary text) is
    read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    config, inputs, plan = paris
    folder = plan.write(tmp_path / "plan")
    roster = folder / "roster.parquet"
    raw = [i.encode() for i in plan.roster.to_pylist()]
    raw[3] = raw[3][:2] + b"\xff" + raw[3][3:]
    flipped = pa.array(raw, pa.large_binary()).view(pa.large_string())
    damage = {
        "junk": lambda: roster.write_bytes(b"PAR1 not really"),
        "foreign": lambda: pq.write_table(pa.table({"id": ["a"]}), roster),
        "integers": lambda: pq.write_table(pa.table({"courier_id": [1, 2]}), roster),
        "folder": lambda: (roster.unlink(), roster.mkdir()),
        "not utf-8": lambda: pq.write_table(pa.table({"courier_id": flipped}), roster),
    }
    for name, spoil in damage.items():
        if roster.is_dir():
            roster.rmdir()
        spoil()
        kept = rebalance.read_plan(folder)
        assert kept.roster is None, name
        assert str(roster) in kept.roster_note and "counted as known" in kept.roster_note
        again = rebalance.solve(inputs, config, SHIFT, previous=kept)
        assert kept.roster_note in again.message, name
        assert again.objective == pytest.approx(plan.objective, abs=1e-3)
    assert "not UTF-8" in kept.roster_note
    roster.unlink()
    ids = plan.roster.to_pylist()
    pq.write_table(pa.table({"courier_id": pa.array(ids).dictionary_encode()}), roster)
    kept = rebalance.read_plan(folder)
    assert kept.roster.to_pylist() == ids and kept.roster_note == ""


def test_a_missing_roster_is_noted_unless_the_folder_predates_rosters(paris, tmp_path):
    """plan.json names roster.parquet when the plan was written with one: a folder
    without it lost the file, and a re-plan against it (everyone counted as known, so a
    courier who logged on since pays change_minutes) says so, as for an unreadable
    roster. A folder written before (no such key), or a plan without a roster read and
    written again, is read quietly, as before (a review found the latter noted)."""
    import json

    config, inputs, plan = paris
    folder = plan.write(tmp_path / "plan")
    (folder / "roster.parquet").unlink()
    kept = rebalance.read_plan(folder)
    assert kept.roster is None
    assert (
        kept.roster_note == f"{folder / 'roster.parquet'} missing: every courier counted as known"
    )
    again = rebalance.solve(inputs, config, SHIFT, previous=kept)
    assert kept.roster_note in again.message
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert meta["roster"] == "roster.parquet"
    del meta["roster"]
    (folder / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    older = rebalance.read_plan(folder)
    assert older.roster_note == ""
    again = rebalance.read_plan(older.write(tmp_path / "again"))
    assert again.roster is None and again.roster_note == ""


def _two_zones(tmp_path, name, orders, couriers):
    """A two-zone city (A, B five minutes apart) with one restaurant r1 in B."""
    from util import courier, restaurant, write_city, zone

    travel = [{"from_zone": a, "to_zone": b, "minutes": 5, "vehicle": ""} for a, b in ("AB", "BA")]
    config = rebalance.Config().with_changes(shift={"slot_minutes": 24 * 60})
    city = write_city(
        tmp_path / name,
        [zone("A", 48.85, 2.33), zone("B", 48.86, 2.34)],
        [restaurant("r1", "B", orders)],
        [courier(c, "A") for c in couriers],
        travel,
    )
    return rebalance.load(city, config), config


def test_a_courier_new_since_the_previous_plan_costs_no_change(tmp_path):
    """CONTRACT 9 charges a destination that differs from what the previous plan had for
    the courier; one who logged on since had nothing. With a previous plan that moved
    someone (the earlier test's had no moves), a newcomer sent A -> B was charged."""
    one, config = _two_zones(tmp_path, "one", 2.0, ["c1"])
    first = rebalance.solve(one, config, "2026-11-30T19:00")
    assert len(first.moves) == 1
    two, _ = _two_zones(tmp_path, "two", 4.0, ["c1", "c2"])
    again = rebalance.solve(two, config, "2026-11-30T19:00", previous=first)
    assert sorted(again.moves["courier_id"]) == ["c1", "c2"]
    assert again.kpis["changed_couriers"] == 0
    assert again.kpis["objective_breakdown"]["change_minutes"] == 0


def test_a_re_plan_on_changed_inputs_shows_these_inputs(tmp_path):
    """A re-plan with the same moves and cost hands back the previous plan only when the
    inputs are the same: r1's rate went 2.0 -> 2.4 (still one courier), and zones.csv
    must say 2.4."""
    one, config = _two_zones(tmp_path, "one", 2.0, ["c1"])
    first = rebalance.solve(one, config, "2026-11-30T19:00")
    two, _ = _two_zones(tmp_path, "two", 2.4, ["c1"])
    again = rebalance.solve(two, config, "2026-11-30T19:00", previous=first)
    demand = dict(zip(again.zones["zone_id"], again.zones["demand_orders_per_hour"], strict=True))
    assert demand["B"] == pytest.approx(2.4) and again.inputs_sha256 == two.sha256


def test_a_previous_plan_with_a_courier_under_way_to_an_unknown_zone_is_refused(tmp_path):
    """plan.json's under_way naming a zone these inputs lack is refused as the same in
    moves.csv is (exit 3); otherwise the courier on its way was silently dropped."""
    from rebalance.errors import InputError

    inputs, config = _two_zones(tmp_path, "one", 2.0, ["c1", "c2"])
    folder = rebalance.solve(inputs, config, "2026-11-30T19:00").write(tmp_path / "prev")
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    meta["under_way"] = [
        {"courier_id": "c2", "to_zone": "ZZ", "started": "2026-11-30T18:45:00+01:00"}
    ]
    (folder / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(InputError) as info:
        rebalance.solve(inputs, config, "2026-11-30T19:00", previous=rebalance.read_plan(folder))
    [issue] = info.value.problems  # named where it stands, not as moves.csv's to_zone
    assert "under way" in issue.message and "ZZ" in issue.message
    assert issue.column == "under_way" and issue.file in (None, f"{folder}/plan.json")


def test_the_next_shift_is_not_re_planned_against_the_one_before(tmp_path):
    """CONTRACT 9 re-plans against the history's plan when its shift overlaps this one.
    19:00-23:00 ends where 23:00-03:00 starts: they do not overlap, and a mutant that
    counted touching shifts took it as previous and failed the next shift with exit 3."""
    from fakeslack import FakeSlack, InProcessSlack

    from rebalance.generate import generate_city
    from rebalance.runner import run

    data = generate_city(
        tmp_path / "town",
        zones=6,
        couriers=40,
        restaurants=20,
        seed=4,
        shift_start="2026-11-30T19:00",
    )
    path = tmp_path / "town.toml"
    path.write_text(
        f'[city]\nname = "Town"\ntimezone = "Europe/Paris"\n[data]\ndir = "{data}"\n'
        '[shift]\nslot_minutes = 240\n[slack]\nchannel = "C0PLANS"\n'
        f'[history]\npath = "{tmp_path / "history.sqlite3"}"\n',
        encoding="utf-8",
    )
    config = rebalance.load_config(path)
    fake = FakeSlack()
    first = run(config, None, shift_start="2026-11-30T19:00", client=InProcessSlack(fake))
    second = run(config, None, shift_start="2026-11-30T23:00", client=InProcessSlack(fake))
    assert first.record.status == second.record.status == "succeeded"
    assert second.record.extra["previous"]["used"] is False


def test_the_plan_in_force_is_the_latest_shift_not_the_run_started_last(town, tmp_path):
    """19:00 and 19:30 published, then 19:00 run again (the retry command an exit 5
    prints carries its --shift-start): the 20:00 run re-planned against that retry, the
    run started last, not against the 19:30 plan its couriers had. The latest shift up
    to this one is the plan in force; the retry itself re-plans against 19:00's."""
    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    later = _run(config, "2026-11-30T19:30")
    retry = _run(config, SHIFT)
    assert retry.record.extra["previous"]["run_id"] == first.run_id
    next_one = _run(config, "2026-11-30T20:00")
    assert next_one.record.extra["previous"]["run_id"] == later.run_id


def _approval_config(tmp_path, town):
    """A config file for the town with an approval channel (C0APPROVE), one slot."""
    path = tmp_path / "approve.toml"
    path.write_text(
        f'[city]\nname = "Town"\ntimezone = "Europe/Paris"\n[data]\ndir = "{town}"\n'
        '[shift]\nslot_minutes = 240\n[slack]\nchannel = "C0PLANS"\n'
        'approval_channel = "C0APPROVE"\n'
        f'[history]\npath = "{tmp_path / "state" / "history.sqlite3"}"\n'
    )
    return path


def test_a_plan_up_for_approval_is_in_force_only_once_approved(town, tmp_path):
    """With an approval channel, a plan put up for approval and not approved (or held)
    was taken for the plan in force: the next run counted its moves as couriers on their
    way though nobody was told. It now counts once approved."""
    from fakeslack import FakeSlack

    from rebalance.history import History

    path = _approval_config(tmp_path, town)
    config = rebalance.load_config(path)
    fake = FakeSlack()
    # a request that could not be posted (the bot not in the channel: exit 5, plan kept)
    # was a plan nobody approved too
    with pytest.raises(rebalance.errors.PublishError):
        _run(config, "2026-11-30T18:45", fake=fake)
    fake.add_channel("C0APPROVE", "ops-approve", member=True)
    asked = _run(config, SHIFT, fake=fake)
    assert asked.record.extra["previous"]["used"] is False
    assert asked.record.extra["publish_action"] == "approval-requested"
    assert len(asked.plan.moves) > 0
    unapproved = _run(config, "2026-11-30T19:15", fake=fake)
    assert unapproved.record.extra["previous"]["used"] is False
    assert unapproved.plan.kpis.get("on_the_way", 0) == 0
    with History(config.history.path) as history:
        extra = asked.record.extra
        assert history.transition_approval(
            extra["plan_key"], extra["content_hash"], from_states=("pending",), status="approved"
        )
    approved = _run(config, "2026-11-30T19:30", fake=fake)
    assert approved.record.extra["previous"]["run_id"] == asked.run_id
    assert 0 < approved.plan.kpis["on_the_way"] <= len(asked.plan.moves)


def test_history_says_where_a_plan_up_for_approval_stands(town, tmp_path):
    """A plan put up for approval read "approval-requested" in `history` and `history
    show` for good: held, approved or superseded, the record never said so. The table's
    slack column, `show` and JSON now say where each approval stands, who decided, when."""
    from fakeslack import FakeSlack
    from typer.testing import CliRunner

    from rebalance.cli import app
    from rebalance.history import History

    path = _approval_config(tmp_path, town)
    config = rebalance.load_config(path)
    fake = FakeSlack()
    fake.add_channel("C0APPROVE", "ops-approve", member=True)
    held = _run(config, SHIFT, fake=fake)
    waiting = _run(config, "2026-11-30T20:00", fake=fake)
    with History(config.history.path) as history:
        extra = held.record.extra
        assert history.transition_approval(
            extra["plan_key"],
            extra["content_hash"],
            from_states=("pending",),
            status="held",
            decided_by="U0LEAD",
            decided_at="2026-11-30T18:05:00+00:00",
        )
    cli = CliRunner()
    table = cli.invoke(app, ["history", "--config", str(path)], terminal_width=120)
    assert table.exit_code == 0, table.output
    lines = {line.split()[0]: line for line in table.output.splitlines() if line.strip()}
    assert lines[held.run_id].rstrip().endswith("held")
    assert lines[waiting.run_id].rstrip().endswith("awaiting approval")
    shown = cli.invoke(app, ["history", "show", held.run_id, "--config", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "held in C0APPROVE, by U0LEAD at 2026-11-30T18:05:00+00:00" in shown.output
    data = json.loads(
        cli.invoke(app, ["history", "--config", str(path), "--format", "json"]).output
    )
    states = {run["run_id"]: run.get("approval", {}).get("status") for run in data}
    assert states == {held.run_id: "held", waiting.run_id: "pending"}


def test_a_run_still_posting_its_plan_is_the_plan_in_force(town, tmp_path):
    """The 23:45 run, started while the 23:30 one was still posting the plan it had
    written, re-planned against 23:15 and sent 34 couriers moving again. A run of this
    city in its publish phase, its plan folder written and its process alive, is the
    plan in force."""
    import os
    import sqlite3

    config = _town_config(tmp_path, town)
    first = _run(config, SHIFT)
    posting = _run(config, "2026-11-30T19:15")
    db = sqlite3.connect(config.history.path)
    with db:  # as it was while it posted (this process stands for it: alive)
        db.execute(
            "UPDATE runs SET status = 'running', phase = 'publish', ended_at = NULL, "
            "exit_code = NULL, pid = ? WHERE run_id = ?",
            (os.getpid(), posting.run_id),
        )
    db.close()
    after = _run(config, "2026-11-30T19:30")
    assert after.record.extra["previous"]["run_id"] == posting.run_id
    # one of another host (or a dead one) may have died before posting anything
    db = sqlite3.connect(config.history.path)
    with db:
        db.execute("UPDATE runs SET host = 'other-host' WHERE run_id = ?", (posting.run_id,))
        db.execute("DELETE FROM runs WHERE run_id = ?", (after.run_id,))
    db.close()
    again = _run(config, "2026-11-30T19:30")
    assert again.record.extra["previous"]["run_id"] == first.run_id


@pytest.mark.parametrize("logs_in", [False, True])
def test_a_replan_names_the_couriers_it_named_before_for_the_same_later_move(tmp_path, logs_in):
    """Two couriers alike to the model (same zone, vehicle and window) and one move at
    19:30 (from A, busy at 19:00, or as they log in at 19:30): the plan names C1 (the
    tie rule: most time left, then id). A previous plan that named C2 for it (its run's
    data ranked them otherwise) was re-planned with C1 instead: "C2 no longer moving,
    C1 newly moving" in the channel for nothing (a re-plan on other inputs: on the same
    ones the previous plan is kept whole). The re-plan now keeps C2 on that move;
    without a previous plan, C1 as before."""
    import dataclasses

    from util import courier, restaurant, write_city, zone

    from rebalance import Config

    start = "2026-11-30T19:30" if logs_in else "2026-11-30T18:00"
    folder = write_city(
        tmp_path / "town",
        [zone("A", 48.85, 2.35), zone("B", 48.86, 2.36)],
        [restaurant("RA", "A", 0.0), restaurant("RB", "B", 0.0)],
        [courier("C1", "A", start=start), courier("C2", "A", start=start)],
    )
    (folder / "demand.csv").write_text(
        "restaurant_id,slot_start,expected_orders_per_hour\n"
        "RA,2026-11-30T19:00,5\nRB,2026-11-30T19:30,2.5\nRB,2026-11-30T20:00,2.5\n"
    )
    config = Config().with_changes(shift={"hours": 1.5, "slot_minutes": 30})
    inputs = rebalance.load(folder, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    assert plan.moves["courier_id"].tolist() == ["C1"]
    assert plan.moves["slot_start"].iloc[0] == plan.shift_start + pd.Timedelta(minutes=30)
    named_c2 = dataclasses.replace(plan, moves=plan.moves.assign(courier_id=["C2"]))
    # other inputs (a name), so that the re-plan is solved, not the previous plan kept
    renamed = inputs.replace(restaurants=inputs.restaurants.assign(name="Chez Autre"))
    again = rebalance.solve(renamed, config, SHIFT, previous=named_c2)
    assert again.moves["courier_id"].tolist() == ["C2"]
    assert again.moves["since_previous"].tolist() == ["unchanged"]
    assert named_c2.diff(again).changed_couriers == 0


def _later_moves(plan, after, until):
    """(courier, slot start, from, to) of ``plan``'s moves in [after, until)."""
    moves = plan.moves
    at = moves["slot_start"]
    sel = moves[(at >= after) & (at < until)]
    return sorted(
        zip(sel["courier_id"], sel["slot_start"], sel["from_zone"], sel["to_zone"], strict=True)
    )


def _replan_next_slot(data, tmp_path, *, same_end):
    """A plan of ``data`` at 19:00, read back from its folder, and the re-plan of the
    same inputs at the next slot start (to the same end, or the shift's hours on)."""
    config = rebalance.load_config(data / "rebalance.toml")
    inputs = rebalance.load(data, config)
    first = rebalance.read_plan(rebalance.solve(inputs, config, SHIFT).write(tmp_path / "first"))
    start = first.shift_start + pd.Timedelta(minutes=first.slot_minutes)
    end = first.local(first.shift_end).tz_localize(None) if same_end else None
    # (to 23:30 the sample's demand table has no row for 23:00: warned, not wanted here)
    again = rebalance.solve(
        inputs, config, first.local(start).tz_localize(None), end, previous=first, warn=False
    )
    return config, inputs, first, again


@pytest.mark.parametrize("same_end", [False, True])
def test_a_re_plan_at_the_next_slot_keeps_the_later_moves_it_showed(tmp_path, same_end):
    """The Paris sample planned at 19:00 and re-planned at 19:30 with the same inputs
    (to 23:30, as cron does, or to 23:00): the previous plan's moves from 20:00 on are
    still optimal, and they are kept, courier for courier. Before 2026-12-07 the re-plan
    picked another optimum for them (section 9 charges a change of slot 0 only): 4
    couriers were told something else at 20:00 than the channel showed, for nothing."""
    _, _, first, again = _replan_next_slot(PARIS, tmp_path, same_end=same_end)
    assert again.status == "optimal"
    after = again.shift_start + pd.Timedelta(minutes=again.slot_minutes)
    until = min(first.shift_end, again.shift_end)
    kept = _later_moves(first, after, until)
    assert kept  # the sample has moves after 19:30 to keep
    assert _later_moves(again, after, until) == kept
    assert again.kpis["changed_couriers"] == 0
    assert set(again.moves["since_previous"]) == {"unchanged"}


def test_keeping_the_later_moves_leaves_the_objective_as_proven(tmp_path, monkeypatch):
    """The re-plan that keeps the previous plan's later moves has the objective of the
    re-plan without that preference, proven optimal with the same bound: the kept
    course is taken only when it costs no more than the optimum."""
    from rebalance import optimize

    _, _, first, again = _replan_next_slot(PARIS, tmp_path, same_end=False)
    monkeypatch.setattr(optimize, "_previous_course", lambda p: None)
    plain = rebalance.solve(
        rebalance.load(PARIS),
        rebalance.load_config(PARIS / "rebalance.toml"),
        first.local(again.shift_start).tz_localize(None),
        previous=first,
        warn=False,
    )
    assert plain.status == again.status == "optimal"
    assert plain.moves.equals(again.moves) is False  # the old pick: other couriers later
    assert again.objective == plain.objective
    assert again.best_bound == plain.best_bound
    assert again.kpis["objective_breakdown"] == plain.kpis["objective_breakdown"]


def test_a_kept_later_course_matches_the_courier_milp(tmp_path):
    """A generated 10-zone city re-planned at 19:30 to the same 23:00 end, unchanged
    inputs: the later moves are kept (the old pick named another courier for the
    20:30 move), and the objective is the optimum of the independent courier-level
    MILP of the same problem (tests/milp.py)."""
    from milp import courier_milp

    from rebalance.generate import generate_city
    from rebalance.model import build_problem

    data = generate_city(
        tmp_path / "c10",
        zones=10,
        couriers=100,
        restaurants=40,
        seed=1,
        demand=True,
        staggered=True,
    )
    config, inputs, first, again = _replan_next_slot(data, tmp_path, same_end=True)
    after = again.shift_start + pd.Timedelta(minutes=again.slot_minutes)
    kept = _later_moves(first, after, first.shift_end)
    assert kept
    assert _later_moves(again, after, first.shift_end) == kept
    p = build_problem(
        inputs,
        config,
        first.local(again.shift_start).tz_localize(None),
        first.local(again.shift_end).tz_localize(None),
        previous=first,
    )
    assert again.objective == pytest.approx(courier_milp(p), abs=1e-3 * (1 + len(again.moves)))
