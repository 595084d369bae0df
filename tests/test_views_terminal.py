"""A plan in a terminal (rebalance.views.terminal): golden output, width, hostile names."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
from rich.console import Console
from util import REPO, SHIFT, VALID

from rebalance import Config, PlanWarning, load, solve

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def paris_plan():
    """The Paris sample's plan as one slot (19 zones needing attention, long names; the
    min-cost-flow plan, stable across solver work on slots), timing fixed."""
    config = Config().with_changes(shift={"slot_minutes": 240})
    # one 4-hour slot: the sample's 30-minute demand.csv rows would be off its grid, so
    # the snapshot reads restaurants.csv's rates, as a one-slot plan of this sample did
    inputs = load(REPO / "data/samples/paris").replace(demand=None)
    plan = solve(inputs, config, SHIFT)
    return dataclasses.replace(plan, solve_seconds=0.01)


@pytest.fixture(scope="module")
def paris_slots():
    """The Paris sample's plan in 30-minute slots (the slot table and heat strip too)."""
    return solve(load(REPO / "data/samples/paris"), Config(), SHIFT)


def render(plan, width: int) -> str:
    """The plan as a terminal of this width shows it (a real tty: force_terminal)."""
    console = Console(width=width, record=True, color_system=None, force_terminal=True)
    console.print(plan)
    return console.export_text()


@pytest.mark.parametrize(
    ("golden_name", "slot_minutes"),
    [("valid_plan_100.txt", 30), ("valid_plan_100_one_slot.txt", 240)],
)
def test_terminal_view_golden(golden_name, slot_minutes):
    """The terminal view of the test city at 100 columns matches the golden file, with
    slots and with one slot for the whole shift."""
    config = Config().with_changes(shift={"slot_minutes": slot_minutes})
    plan = solve(load(VALID), config, SHIFT)
    plan = dataclasses.replace(plan, solve_seconds=0.01)
    text = render(plan, 100)
    golden = GOLDEN / golden_name
    if os.environ.get("REBALANCE_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("width", [80, 100, 160])
def test_terminal_view_golden_paris(paris_plan, width):
    """Paris at 80, 100 and 160 columns matches its golden file (REBALANCE_UPDATE_GOLDEN=1)."""
    text = render(paris_plan, width)
    golden = GOLDEN / f"paris_plan_{width}.txt"
    if os.environ.get("REBALANCE_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("slots", [False, True])
@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_terminal_view_never_cuts_numbers_ids_or_headers(paris_plan, paris_slots, width, slots):
    """No line is wider than the terminal, nothing ends in "…", every zone id and number is whole."""
    plan = paris_slots if slots else paris_plan
    text = render(plan, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text.split("Zones needing attention")[1]
    body = text.split("Zones needing attention")[1].split("Actions needed")[0]
    lines = body.splitlines()
    for row in plan.attention().itertuples(index=False):
        [line] = [x for x in lines if x.startswith(f"{row.zone_id} ")]
        cells = line.split()
        assert str(row.required_couriers) in cells and str(row.couriers_after) in cells
        if row.shortage:
            assert cells[-1] == str(row.shortage)
    for header in ("Need", "After", "Short", "Couriers", "Longest"):
        assert header in text


def test_terminal_view_uses_the_width_when_it_is_there(paris_plan):
    """At 160 columns the extra columns appear and no zone name wraps; at 80 they do not."""
    wide, narrow = render(paris_plan, 160), render(paris_plan, 80)
    assert "Orders/h" in wide.split("Actions needed")[0] and "Surplus" in wide
    assert "Orders/h" not in narrow.split("Actions needed")[0]
    assert "75117 17e - Batignolles-Monceau" in wide and "75117 17e - Batignolles-Monceau" in narrow
    assert "Vehicles" in wide and "bike, car, ebike, scooter" in wide


def test_terminal_view_very_narrow_keeps_numbers_whole():
    """At 30 columns the routes fall back to one line per route, numbers and names whole."""
    plan = solve(load(VALID), Config(), SHIFT)
    text = render(plan, 30)
    assert max(len(line) for line in text.splitlines()) <= 30
    moves = " ".join(text.split("Move now, 19:00")[1].split())
    assert "0005 Belleville, To 0002 Bourse, Couriers 1, Longest 16.8 min" in moves
    assert "19:00, Moves 4, On 8, Off 1, Need 10, Present 8" in moves


def test_one_move_now_is_one_courier_on_one_route(paris_slots):
    """The title of the moves table read "Move now, 19:30 (1 couriers on 1 routes)"."""
    import dataclasses

    first = paris_slots.moves_at(0).head(1)
    plan = dataclasses.replace(paris_slots, moves=first)
    text = " ".join(render(plan, 120).split())
    assert "Move now, 19:00 (1 courier on 1 route)" in text
    many = " ".join(render(paris_slots, 120).split())
    assert re.search(r"Move now, 19:00 \(\d+ couriers on \d+ routes\)", many)


@pytest.mark.parametrize("width", [24, 30, 40, 60])
def test_the_kpi_panel_keeps_every_value_and_the_shift_whole_on_a_narrow_terminal(
    paris_plan, width
):
    """A terminal pane of 24-60 columns (a tmux split): each KPI's value is there in
    words that are whole ("eligible", "3,506.3", never "eligi…" or "3,506…"), and the
    shift's window is whole (the panel's title had cut it to "19:00–2", and its time
    zone at 40 columns)."""
    text = render(paris_plan, width)
    panel = text.split("Zones needing attention")[0]
    assert "…" not in panel
    words = " ".join(line.strip("│╭╮╰╯─ ") for line in panel.splitlines()).split()
    k = paris_plan.kpis
    for value in (
        "eligible",
        f"{k['eligible_couriers']}",
        f"{paris_plan.objective:,.1f}",
        "optimal,",
        "zones",
    ):
        assert value in words, (value, panel)
    from rebalance.views.wording import shift_window

    assert shift_window(paris_plan) in " ".join(words), panel
    assert max(len(line) for line in panel.splitlines()) <= width


def test_an_infeasible_plan_keeps_its_shift_whole_in_its_100_column_panel(tmp_path):
    """The panel of a plan with no feasible solution is at most 100 columns wide, also on
    a wider terminal: with a long city name its title was cut there (rich cuts a title
    that does not fit), the end of the shift with it; the window goes inside instead."""
    from util import city_with

    from rebalance.views.wording import shift_window

    city = city_with(tmp_path)
    text = (city / "zones.csv").read_text().replace("48.8634,2.4011,,3", "48.8634,2.4011,,0")
    (city / "zones.csv").write_text(text)
    far = "\n".join(f"X{i},0005,bike,2026-11-30T18:00,2026-11-30T23:00," for i in range(5))
    (city / "couriers.csv").write_text((city / "couriers.csv").read_text() + far + "\n")
    config = Config().with_changes(
        vehicles={v: {"max_move_minutes": 1} for v in ("bike", "ebike", "scooter")}
    )
    plan = solve(load(city), config, SHIFT)
    assert not plan.feasible
    plan = dataclasses.replace(plan, city="Communauté urbaine de Saint-Rémy-de-Provence-Nord")
    shown = render(plan, 160)
    assert " ".join(shift_window(plan).split()) in " ".join(shown.split())
    assert max(len(line) for line in shown.splitlines()) <= 100


def test_terminal_view_fits_80_columns():
    """At 80 columns no line of the view is wider than the terminal."""
    plan = solve(load(REPO / "data/samples/paris"), Config(), SHIFT)
    console = Console(width=80, record=True, color_system=None)
    console.print(plan)
    assert max(len(line) for line in console.export_text().splitlines()) <= 80


def test_partner_names_are_shown_as_text_never_as_markup():
    """Zone and restaurant names with rich markup are printed literally, not interpreted."""
    inputs = load(VALID)
    zones = inputs.zones.assign(name="[red]Evil[/red]")
    restaurants = inputs.restaurants.assign(name="[blink]Pizza")
    plan = solve(inputs.replace(zones=zones, restaurants=restaurants), Config(), SHIFT)
    console = Console(width=160, record=True, color_system=None)
    console.print(plan)
    text = console.export_text()
    assert "0001 [red]Evil[/red]" in text
    assert "[blink]Pizza" in text


def test_very_long_names_are_cut_in_the_terminal_and_kept_whole_in_the_files(tmp_path):
    """A restaurant named in 5,000 characters filled 200 lines of the pause table at 80
    columns; now zone and restaurant names past 60 characters end in "…" on screen
    (every other restaurant of the list still shown), and the plan's files and data
    keep them whole."""
    from rebalance.views.terminal import NAME_CHARS

    inputs = load(VALID)
    zones = inputs.zones.assign(name="Zone " + "z" * 3000)
    restaurants = inputs.restaurants.assign(name="Pizza " + "p" * 5000)
    plan = solve(inputs.replace(zones=zones, restaurants=restaurants), Config(), SHIFT)
    assert (plan.zones["shortage"] > 0).any() and plan.zones["pause_restaurants"].str.len().max()
    text = render(plan, 80)
    assert len(text.splitlines()) < 120
    assert "z" * 80 not in text.replace("\n", "") and "p" * 80 not in text.replace("\n", "")
    assert "…" in text
    paused = plan.zones["pause_restaurants"].str.split(";").str.len().max()
    row = plan.zones.loc[plan.zones["pause_restaurants"].str.split(";").str.len() == paused]
    assert text.count("Pizza") >= min(paused, 6) and NAME_CHARS == 60
    folder = plan.write(tmp_path / "plan")
    written = (folder / "zones.csv").read_text()
    assert "z" * 3000 in written and "p" * 5000 in written
    assert row["pause_restaurant_names"].iloc[0].count("p" * 5000) == paused


def test_only_pause_lists_holding_a_long_name_are_cut_and_each_of_its_names_at_60():
    """The screen cuts a pause list's names one by one: a list of many short names (far
    longer than 60 characters in all) is shown as it is; in a list holding a long name,
    that name alone ends in "…" (60 characters, an emoji or accent counting one), and a
    name of exactly 60 characters is whole. Checked on random lists against the rule
    applied name by name."""
    import random

    import pandas as pd

    from rebalance.views.terminal import NAME_CHARS, _short_names
    from rebalance.views.wording import cut

    rng = random.Random(7)
    alphabet = ["a", "é", "🍕", " ", "-", "ß"]
    lists = ["x" * NAME_CHARS, "x" * (NAME_CHARS + 1), ";".join(["Chez Lulu"] * 40), ""]
    for _ in range(300):
        names = [
            "".join(rng.choice(alphabet) for _ in range(rng.choice([1, 30, 59, 60, 61, 200])))
            for _ in range(rng.randint(1, 12))
        ]
        lists.append(";".join(names))
    zones = pd.DataFrame(
        {"name": ["Z"] * len(lists), "pause_restaurant_names": pd.Series(lists, dtype="str")}
    )
    shown = _short_names(zones)["pause_restaurant_names"].tolist()
    expected = [";".join(cut(n, NAME_CHARS) for n in v.split(";")) for v in lists]
    assert shown == expected
    assert shown[0] == "x" * NAME_CHARS and shown[1] == "x" * (NAME_CHARS - 1) + "…"
    assert shown[2] == lists[2]


def test_a_day_of_short_slots_fits_the_terminal():
    """A day in 5-minute slots (288) lists its first `MAX_SLOT_ROWS` slots and says where
    the rest are; the heat strip gives a character to a few slots each (the most short
    of them) and says so, and no line is wider than the terminal. Before, the strips
    wrapped over several lines per zone and every slot had a row."""
    from rebalance.views.timeline import MAX_SLOT_ROWS, shortage_grid, strip

    config = Config().with_changes(shift={"slot_minutes": 5, "hours": 24})
    plan = dataclasses.replace(solve(load(VALID), config, SHIFT), solve_seconds=0.01)
    assert plan.slot_count == 288
    text = render(plan, 100)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert f"{288 - MAX_SLOT_ROWS} more slots in slots.csv" in text
    assert "one character per 6 slots (30 min, the most short)" in text
    grid = shortage_grid(plan)
    zone = grid.sum(axis=1).idxmax()
    folded = strip(grid.loc[zone].to_numpy(), 6)
    assert len(folded) == 48 and any(folded in line for line in lines)


def test_a_folded_strip_keeps_the_worst_slot_of_each_group():
    """`strip(values, per)`: each character is the largest shortage of its slots."""
    from rebalance.views.timeline import strip

    assert strip([0, 0, 1, 0, 0, 12, 3], 1) == "..1..#4"
    assert strip([0, 0, 1, 0, 0, 12, 3], 2) == ".1#4"
    assert strip([0, 0, 1, 0, 0, 12, 3], 3) == "1#4"


def test_a_plan_whose_moves_all_come_later_does_not_say_no_moves_needed(tmp_path):
    """Nothing to do at 19:00 but two moves later: every view says so, instead of 'no
    moves needed' above a slot table full of moves."""
    from util import courier, restaurant, write_city, zone

    from rebalance.publish.blocks import build_messages
    from rebalance.views.html import plan_html

    folder = write_city(
        tmp_path / "later",
        [zone("A", 48.85, 2.35), zone("B", 48.86, 2.36), zone("C", 48.87, 2.35)],
        [restaurant("RB", "B", 0.0), restaurant("RC", "C", 0.0)],
        [courier("C1", "A")],
    )
    (folder / "demand.csv").write_text(
        "restaurant_id,slot_start,expected_orders_per_hour\n"
        "RB,2026-11-30T19:30,2.5\nRC,2026-11-30T20:00,2.5\n"
    )
    config = Config().with_changes(shift={"hours": 1.5, "slot_minutes": 30})
    with pytest.warns(PlanWarning, match=r"no row for 1 of the shift's 3 slots \(19:00\)"):
        plan = solve(load(folder, config), config, SHIFT)
    assert len(plan.moves_at(0)) == 0 and len(plan.moves) == 2
    text = " ".join(render(plan, 100).split())
    assert "Every zone is covered now: no moves at 19:00; 2 moves later in the shift." in text
    assert "no moves needed" not in text
    assert "Required now 0 couriers in 3 zones" in text
    assert "2 moves later in the shift" in plan_html(plan)
    slack = str(build_messages(plan, channel="C1"))
    assert "*Every zone is covered now:* no moves at 19:00; 2 moves later in the shift." in slack


def test_a_long_zone_name_is_cut_and_every_key_column_stays_at_80_columns(tmp_path):
    """`rebalance plan` at COLUMNS=80 with one zone named in 90 characters: the zones
    table still shows Action, Need, Before, After, In, Out and Short, the long name
    ends in "…" on one line, and no line is wider than 80 (the name pushed Action,
    Before, In and Out out of the table)."""
    import shutil
    import subprocess
    import sys

    city = Path(shutil.copytree(REPO / "data/samples/paris", tmp_path / "paris"))
    zones = (city / "zones.csv").read_text()
    long = "2e - Bourse - Sentier - Bonne-Nouvelle - Vivienne - Mail - Gaillon - Choiseul - Opéra"
    assert "75102,2e - Bourse," in zones and len(long) > 80
    (city / "zones.csv").write_text(zones.replace("75102,2e - Bourse,", f"75102,{long},"))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rebalance"), "plan", str(city), "--shift-start", SHIFT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    table = result.stdout.split("Zones needing attention")[1].split("Actions needed")[0]
    header = table.splitlines()[1].split()
    assert header == ["Zone", "Action", "Need", "Before", "After", "In", "Out", "Short"]
    [row] = [line for line in table.splitlines() if line.startswith("75102 ")]
    assert "75102 2e - Bourse - Sentier" in row and "…" in row
    assert row.split("…")[1].split()[0] == "short"
