"""Replay (CONTRACT section 8): orders served per (zone, slot) under no plan and under plans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from util import courier, restaurant, write_city, zone

import rebalance
from rebalance import Config, PlanWarning, load, solve
from rebalance.cli import app
from rebalance.replaying import NO_PLAN, replay
from rebalance.slots import presence

SHIFT = "2026-11-30T19:00"
# two-hour shift in four 30-minute slots: one courier serves 2.5 x 0.5 = 1.25 orders a slot
CONFIG = Config().with_changes(shift={"hours": 2.0, "slot_minutes": 30})


@pytest.fixture
def city(tmp_path: Path) -> Path:
    """Zones A and B; A has one courier all shift, B has one all shift, one leaving at 20:00
    (present 19:00 and 19:30) and one logging on at 20:00."""
    return write_city(
        tmp_path / "city",
        zones=[zone("A", 48.86, 2.34), zone("B", 48.87, 2.35)],
        restaurants=[restaurant("RA", "A", 2.0), restaurant("RB", "B", 2.0)],
        couriers=[
            courier("CA", "A"),
            courier("CB1", "B"),
            courier("CB2", "B", until="2026-11-30T20:00"),
            courier("CB3", "B", start="2026-11-30T20:00"),
        ],
    )


def orders(*rows: tuple[str, str]) -> pd.DataFrame:
    """Orders from (restaurant, city time) pairs."""
    return pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(rows))],
            "restaurant_id": [r for r, _ in rows],
            "placed_at": [t for _, t in rows],
        }
    )


def burst(restaurant_id: str, time: str, n: int) -> list[tuple[str, str]]:
    """``n`` orders of one restaurant at one time."""
    return [(restaurant_id, time)] * n


def test_no_plan_counts_present_couriers_in_their_own_zone(city):
    """Served = min(orders, couriers present x 1.25) per zone and slot, summed per slot."""
    o = orders(
        *burst("RA", "2026-11-30T19:05", 3),
        *burst("RB", "2026-11-30T19:10", 3),
        *burst("RB", "2026-11-30T20:10", 3),
    )
    result = replay(load(city), o, CONFIG, SHIFT)
    slots = result.slots.set_index("slot_start")
    # 19:00: A 1 courier -> 1.25 of 3; B 2 couriers -> 2.5 of 3
    assert slots["served"].iloc[0] == pytest.approx(3.75)
    assert slots["orders"].tolist() == [6, 0, 3, 0]
    # 20:00: B has CB1 and CB3 (CB2 logged off): 2.5 of 3
    assert slots["served"].iloc[2] == pytest.approx(2.5)
    assert slots["couriers"].tolist() == [3, 3, 3, 3]
    (total,) = result.policies.itertuples()
    assert (total.name, total.orders, total.served) == (NO_PLAN, 9, pytest.approx(6.25))
    assert total.share == pytest.approx(6.25 / 9)


def test_moves_without_slot_start_apply_from_the_shift_start(city):
    """A moves table without slot_start (a snapshot plan) moves couriers at the start."""
    o = orders(*burst("RA", "2026-11-30T19:05", 3), *burst("RA", "2026-11-30T20:40", 3))
    moves = pd.DataFrame({"courier_id": ["CB1"], "to_zone": ["A"]})
    result = replay(load(city), o, CONFIG, SHIFT, plans={"snapshot": moves})
    share = result.policies.set_index("name")["served"]
    assert share[NO_PLAN] == pytest.approx(2.5)
    assert share["snapshot"] == pytest.approx(5.0)


def test_a_move_counts_from_its_slot_start(city):
    """A move at 20:00 changes the zone from the 20:00 slot on, not before."""
    o = orders(*burst("RA", "2026-11-30T19:05", 3), *burst("RA", "2026-11-30T20:05", 3))
    moves = pd.DataFrame(
        {"courier_id": ["CB1"], "to_zone": ["A"], "slot_start": ["2026-11-30T20:00:00+01:00"]}
    )
    result = replay(load(city), o, CONFIG, SHIFT, plans={"later": moves})
    later = result.slots[result.slots["policy"] == "later"]["served"].tolist()
    assert later == pytest.approx([1.25, 0.0, 2.5, 0.0])


def test_a_snapshot_plan_for_a_later_start_moves_its_couriers_from_that_start(city):
    """A plan made for 19:30 (moves without slot_start: one slot) replayed over the
    19:00 shift moves its couriers from 19:30, the start it was made for, and says
    that it was planned for another start."""
    import dataclasses

    inputs = load(city)
    one_slot = Config().with_changes(shift={"hours": 1.5, "slot_minutes": 90})
    plan = solve(inputs, one_slot, "2026-11-30T19:30")
    moves = pd.DataFrame(
        {
            "courier_id": ["CB1"],
            "vehicle": ["bike"],
            "from_zone": ["B"],
            "to_zone": ["A"],
            "travel_minutes": [5.0],
        }
    )
    o = orders(*burst("RA", "2026-11-30T19:05", 3), *burst("RA", "2026-11-30T19:35", 3))
    # no slot_start column, or one left blank: the same
    for table in (moves, moves.assign(slot_start="")):
        later = dataclasses.replace(plan, moves=table)
        result = replay(inputs, o, CONFIG, SHIFT, plans={"at 19:30": later}, warn=False)
        served = result.slots[result.slots["policy"] == "at 19:30"]["served"].tolist()
        assert served == pytest.approx([1.25, 2.5, 0.0, 0.0])
    expected = (
        "at 19:30: planned for a shift starting 2026-11-30 19:30, replayed from 2026-11-30 19:00"
    )
    assert expected in result.notes


def test_a_plan_named_like_the_baseline_gets_a_name_of_its_own_and_ghosts_count_once(city):
    """A plan called "no plan" would be read as the baseline: it is "no plan (2)". A move
    of an unknown courier to an unknown zone is counted once, as the courier's."""
    moves = pd.DataFrame({"courier_id": ["GHOST"], "to_zone": ["NOWHERE"]})
    with pytest.warns(PlanWarning, match="1 moves of couriers not in couriers ignored"):
        result = replay(
            load(city), orders(("RA", "2026-11-30T19:05")), CONFIG, SHIFT, plans={NO_PLAN: moves}
        )
    assert result.policies["name"].tolist() == [NO_PLAN, f"{NO_PLAN} (2)"]
    ignored = [n for n in result.notes if "ignored" in n]
    assert ignored == [f"{NO_PLAN} (2): 1 moves of couriers not in couriers ignored"]


def test_several_moves_of_one_courier_chain_in_time_order(city):
    """B -> A at 19:30 then A -> B at 20:30: the courier is in A for 19:30 and 20:00 only."""
    moves = pd.DataFrame(
        {
            "courier_id": ["CB1", "CB1"],
            "to_zone": ["B", "A"],
            "slot_start": ["2026-11-30T20:30", "2026-11-30T19:30"],
        }
    )
    o = orders(
        *[("RA", f"2026-11-30T{t}") for t in ("19:05", "19:35", "20:05", "20:35") for _ in range(3)]
    )
    result = replay(load(city), o, CONFIG, SHIFT, plans={"p": moves})
    zones = result.zones[(result.zones["policy"] == "p") & (result.zones["zone_id"] == "A")]
    assert zones["couriers"].tolist() == [1, 2, 2, 1]


def test_moves_of_couriers_not_present_change_nothing(city):
    """A move at 20:00 of a courier who logged off at 20:00 is ignored; unknown couriers noted."""
    moves = pd.DataFrame(
        {
            "courier_id": ["CB2", "GHOST"],
            "to_zone": ["A", "A"],
            "slot_start": ["2026-11-30T20:00", "2026-11-30T19:00"],
        }
    )
    with pytest.warns(PlanWarning, match="1 moves of couriers not in couriers ignored"):
        result = replay(
            load(city), orders(("RA", "2026-11-30T19:05")), CONFIG, SHIFT, plans={"p": moves}
        )
    counts = result.zones.groupby(["policy", "zone_id"])["couriers"].apply(list)
    assert counts[("p", "A")] == counts[(NO_PLAN, "A")]
    assert any("1 moves of couriers not in couriers ignored" in n for n in result.notes)


def test_orders_outside_the_shift_are_ignored_and_counted(city):
    """Orders before 19:00 and from 21:00 on count in `outside`, not in any slot."""
    o = orders(
        ("RA", "2026-11-30T18:59:59"),
        ("RA", "2026-11-30T19:00"),
        ("RA", "2026-11-30T21:00"),
        ("RB", "2026-12-01T12:00"),
    )
    result = replay(load(city), o, CONFIG, SHIFT)
    assert result.outside == {"before": 1, "after": 2, "total": 3}
    assert int(result.policies["orders"].iloc[0]) == 1


def test_a_replay_with_nobody_present_says_why_every_policy_serves_nothing(city):
    """Last week's orders replayed against tonight's couriers table: nobody is present,
    and every policy read 0% with no note (an audit), as if the plans had failed. The
    note says nobody is present, why, where the couriers' windows are, and what to do;
    as a PlanWarning in Python too. A replay with couriers present has no such note."""
    week_ago = "2026-11-23T19:00"
    o = orders(*burst("RA", "2026-11-23T19:10", 3))
    with pytest.warns(PlanWarning, match="no courier is present in the shift"):
        result = replay(load(city), o, CONFIG, week_ago)
    assert float(result.policies["served"].sum()) == 0.0
    note = next(n for n in result.notes if n.startswith("no courier is present"))
    assert "starting 2026-11-23 19:00 CET (4 arriving after the last slot starts" in note
    assert "that night's couriers table" in note
    assert "windows run from 2026-11-30 18:00 to 2026-11-30 23:00" in note
    tonight = replay(load(city), orders(*burst("RA", "2026-11-30T19:10", 3)), CONFIG, SHIFT)
    assert not any("no courier is present" in n for n in tonight.notes)


@pytest.mark.parametrize("bad", ["not a time", "", "   ", None, np.nan, pd.NaT], ids=repr)
def test_a_dataframe_order_without_a_readable_time_is_left_out_and_counted(city, bad):
    """One order of a DataFrame whose placed_at is unreadable, blank or NaN (inside the
    shift's rows or among those outside it) is left out and the notes say how many, as
    in a forecast; the replay died with numpy's "cannot reshape array of size ..."."""
    good = orders(
        ("RA", "2026-11-30T18:30"),
        ("RA", "2026-11-30T19:05"),
        ("RB", "2026-11-30T19:10"),
        ("RB", "2026-11-30T21:30"),
    )
    bad_rows = orders(("RA", "x"), ("RB", "x"), ("RA", "x")).assign(
        order_id=["B1", "B2", "B3"], placed_at=[bad] * 3
    )
    # one before the shift's rows, one among them, one after
    o = pd.concat([bad_rows[:1], good[:2], bad_rows[1:2], good[2:], bad_rows[2:]])
    if bad is pd.NaT:
        o["placed_at"] = pd.to_datetime(o["placed_at"]).dt.tz_localize("Europe/Paris")
    result = replay(load(city), o.reset_index(drop=True), CONFIG, SHIFT, warn=False)
    assert result.policies[["orders", "served"]].values.tolist() == [[2, 2.0]]
    assert result.outside == {"before": 1, "after": 1, "total": 2}
    assert "3 orders without a readable placed_at ignored" in result.notes


def test_shift_without_orders_serves_everything(city):
    """With no order in the shift, the share is 1.0 (nothing was missed), as coverage is."""
    with pytest.warns(PlanWarning, match="no order was placed during the shift"):
        result = replay(load(city), orders(("RA", "2026-11-30T12:00")), CONFIG, SHIFT)
    assert result.policies["share"].tolist() == [1.0]
    assert "no order was placed during the shift" in result.notes


def reference(inputs, o, config, grid, moves):
    """The rule of section 8 written as plainly as possible: loops over slots and couriers."""
    first, last = presence(inputs.couriers, grid, config.eligibility.min_available_minutes)
    per = config.demand.orders_per_courier_hour * grid.minutes / 60
    zone_of_rest = dict(
        zip(inputs.restaurants["restaurant_id"], inputs.restaurants["zone_id"], strict=True)
    )
    placed = pd.to_datetime(o["placed_at"]).dt.tz_localize(grid.timezone).dt.tz_convert("UTC")
    served = []
    for k, start in enumerate(grid.starts):
        in_slot = (placed >= start) & (placed < start + grid.length)
        demand = pd.Series([zone_of_rest[r] for r in o["restaurant_id"][in_slot]]).value_counts()
        couriers: dict[str, int] = {}
        for i, row in enumerate(inputs.couriers.itertuples()):
            if not (first[i] <= k <= last[i]) or first[i] < 0:
                continue
            where = row.zone_id
            mine = moves[moves["courier_id"] == row.courier_id].copy()
            mine["t"] = pd.to_datetime(mine["slot_start"]).dt.tz_localize(grid.timezone)
            for m in mine.sort_values("t", kind="stable").itertuples():
                if m.t <= start:
                    where = m.to_zone
            couriers[where] = couriers.get(where, 0) + 1
        served.append(sum(min(n, couriers.get(z, 0) * per) for z, n in demand.items()))
    return served


def test_vectorised_replay_matches_the_plain_rule(tmp_path):
    """On a random city with staggered couriers and random multi-slot moves, the vectorised
    replay serves exactly what the plain loop over couriers and slots serves."""
    from rebalance.generate import generate_city

    city = generate_city(
        tmp_path / "g",
        zones=8,
        couriers=120,
        restaurants=40,
        seed=3,
        staggered=True,
        history_days=1,
    )
    inputs = load(city)
    o = pd.read_csv(city / "shift_orders.csv", dtype=str)
    rng = np.random.default_rng(0)
    n = 150
    slot_times = pd.date_range("2026-11-30T18:45", periods=12, freq="15min").strftime(
        "%Y-%m-%dT%H:%M"
    )
    moves = pd.DataFrame(
        {
            "courier_id": rng.choice(inputs.couriers["courier_id"], size=n),
            "to_zone": rng.choice(inputs.zones["zone_id"], size=n),
            "slot_start": rng.choice(slot_times, size=n),
        }
    )
    config = Config().with_changes(shift={"hours": 3.0, "slot_minutes": 30})
    result = replay(inputs, o, config, SHIFT, plans={"random": moves})
    from rebalance.forecasting import shift_grid

    expected = reference(inputs, o, config, shift_grid(config, SHIFT), moves)
    got = result.slots[result.slots["policy"] == "random"]["served"].tolist()
    assert got == pytest.approx(expected)
    assert sum(expected) > 0


def test_plan_folder_from_solve_replays_by_name(tmp_path, city):
    """A plan written by Plan.write is read back and named after its folder."""
    inputs = load(city)
    plan = solve(inputs, Config(), SHIFT)
    folder = plan.write(tmp_path / "tonight")
    result = replay(inputs, orders(("RA", "2026-11-30T19:05")), CONFIG, SHIFT, plans=[folder])
    assert result.policies["name"].tolist() == [NO_PLAN, "tonight"]


def test_cli_json_is_the_contract_document(tmp_path, city):
    """--format json prints {"policies": [...]} with "no plan" first, per-slot orders and served."""
    (tmp_path / "o.csv").write_text(
        "order_id,restaurant_id,placed_at\nO1,RA,2026-11-30T19:05\nO2,RA,2026-11-30T19:06\n"
        "O3,RB,2026-11-30T23:10\n"
    )
    plan = solve(load(city), Config(), SHIFT).write(tmp_path / "p1")
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(city),
            "--orders",
            str(tmp_path / "o.csv"),
            "--shift-start",
            SHIFT,
            "--plan",
            str(plan),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    names = [p["name"] for p in doc["policies"]]
    assert names == ["no plan", "p1"]
    first = doc["policies"][0]
    assert set(first) == {"name", "orders", "served", "share", "slots"}
    assert set(first["slots"][0]) == {"slot_start", "orders", "served"}
    assert first["slots"][0]["slot_start"] == "2026-11-30T19:00:00+01:00"
    assert len(first["slots"]) == 8  # default [shift] 4 h in 30-minute slots
    assert first["orders"] == 2 and first["served"] == pytest.approx(1.25)
    assert doc["orders_outside_shift"]["total"] == 1


def test_cli_table_shows_each_policy_and_ignored_orders(tmp_path, city):
    """The table shows served and share per slot for each policy, and the ignored orders."""
    (tmp_path / "o.csv").write_text(
        "order_id,restaurant_id,placed_at\nO1,RA,2026-11-30T19:05\nO2,RA,2026-11-30T12:00\n"
    )
    result = CliRunner().invoke(
        app, ["replay", str(city), "--orders", str(tmp_path / "o.csv"), "--shift-start", SHIFT]
    )
    assert result.exit_code == 0, result.output
    assert "no plan" in result.stdout
    assert "1.0 (100.0%)" in result.stdout
    assert "orders outside the shift ignored: 1 (1 before, 0 after)" in result.stdout


def test_cli_slots_that_do_not_divide_the_shift_name_the_key(tmp_path, city):
    """[shift] slot_minutes = 25 for a 4 h shift exits 3 naming the key."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[shift]\nslot_minutes = 25\n")
    (tmp_path / "o.csv").write_text("order_id,restaurant_id,placed_at\nO1,RA,2026-11-30T19:05\n")
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(city),
            "--orders",
            str(tmp_path / "o.csv"),
            "--shift-start",
            SHIFT,
            "--config",
            str(cfg),
        ],
    )
    assert result.exit_code == 3
    assert "shift.slot_minutes" in result.stderr and str(cfg) in result.stderr
    # a config without [shift]: the default 30 does not divide 75 minutes; the error
    # says it is the default rather than naming a file that does not set the key
    (tmp_path / "plain.toml").write_text('[city]\nname = "Paris"\n')
    args = ["replay", str(city), "--orders", str(tmp_path / "o.csv"), "--shift-start", SHIFT]
    result = CliRunner().invoke(
        app, [*args, "--shift-end", "2026-11-30T20:15", "--config", str(tmp_path / "plain.toml")]
    )
    assert result.exit_code == 3
    text = " ".join(result.stderr.split())
    assert "([shift] slot_minutes is not set: 30 is its default)" in text
    assert "plain.toml" not in result.stderr
    # it read as if 15 were the default; the slot boundaries around the end are offered
    assert "such as 15 ([shift] slot_minutes is not set" in text
    assert "or end the shift at 20:00 or 20:30" in text
    # 70 minutes: none of 15, 20, 30, 60 divides it; the lengths that do are listed
    result = CliRunner().invoke(
        app, [*args, "--shift-end", "2026-11-30T20:10", "--config", str(tmp_path / "plain.toml")]
    )
    assert "such as 5, 7, 10, 14, 35 or 70 ([shift]" in " ".join(result.stderr.split())


def test_replay_as_a_real_process(tmp_path, city):
    """The installed console script prints the JSON document and exits 0."""
    import subprocess
    import sys

    (tmp_path / "o.csv").write_text("order_id,restaurant_id,placed_at\nO1,RB,2026-11-30T19:05\n")
    script = Path(sys.executable).parent / "rebalance"
    out = subprocess.run(
        [
            str(script),
            "replay",
            str(city),
            "--orders",
            str(tmp_path / "o.csv"),
            "--shift-start",
            SHIFT,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["policies"][0]["served"] == pytest.approx(1.0)


def test_terminal_view_fits_80_columns_with_many_plans(city):
    """With four policies the table shows shares only so every line fits 80 columns,
    the key below it too (wrapped under "cells: ")."""
    from rich.console import Console

    moves = pd.DataFrame({"courier_id": ["CB1"], "to_zone": ["A"]})
    plans = {f"a long plan name {i}": moves for i in range(3)}
    result = replay(load(city), orders(("RA", "2026-11-30T19:05")), CONFIG, SHIFT, plans=plans)
    console = Console(width=80, record=True, highlight=False)
    console.print(result)
    lines = console.export_text().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert any(line.startswith("  19:00") and "100.0%" in line for line in lines)
    at = next(i for i, line in enumerate(lines) if line.startswith("cells: share of the"))
    assert lines[at + 1].startswith(" " * len("cells: ") + lines[at + 1].strip()), lines


@pytest.mark.parametrize("plans", [6, 12])
def test_many_plans_or_long_names_are_never_cut_at_80_columns(city, plans):
    """With six plans even the shares-only table was wider than 80 columns: cells cut
    to "100.…", the header "orde…"; and two long folder names, cut, read alike. Each
    value is now whole and each policy told apart: numbered columns with a key below,
    else one row per policy with the shift's figures."""
    from rich.console import Console

    moves = pd.DataFrame({"courier_id": ["CB1"], "to_zone": ["A"]})
    names = [f"plan_2026-11-30_replanned_at_slot_{i:02d}" for i in range(plans)]
    result = replay(
        load(city),
        orders(("RA", "2026-11-30T19:05")),
        CONFIG,
        SHIFT,
        plans=dict.fromkeys(names, moves),
    )
    console = Console(width=80, record=True, highlight=False)
    console.print(result)
    text = console.export_text()
    table = text.split("\ncells:")[0].split("\nover the shift")[0]
    assert "…" not in table, text
    for name in ["no plan", *names]:  # each named whole, once, in the table or its key
        assert text.count(name) >= 1, (name, text)
    headers = [line.split() for line in text.splitlines() if line.strip().startswith(("slot", "#"))]
    assert headers and all(len(h) == len(set(h)) for h in headers), headers


def test_orders_without_offset_in_the_repeated_hour_are_named(tmp_path, city):
    """On the autumn change, orders written without an offset between 02:00 and 03:00
    all count in the first 02:00-03:00 (CEST); the replay of a shift over that hour says
    how many, which hour and how to write the second one. Written with offsets, or far
    from the shift, nothing is said."""
    night = Config().with_changes(shift={"hours": 4.0, "slot_minutes": 30})
    naive = orders(
        ("RA", "2026-10-25T01:50"),
        *burst("RA", "2026-10-25T02:15", 2),
        ("RB", "2026-10-25T02:45:30"),
        ("RB", "2026-10-25T03:10"),
    )
    path = tmp_path / "orders.csv"
    naive.to_csv(path, index=False)
    inputs = load(city)
    # that night's couriers (the city's are tonight's: a replay with nobody says so)
    inputs = inputs.replace(
        couriers=inputs.couriers.assign(
            available_from=pd.Timestamp("2026-10-24T22:00Z"),
            available_until=pd.Timestamp("2026-10-25T06:00Z"),
        )
    )
    for source in (path, naive):
        with pytest.warns(PlanWarning, match="the clocks show those times twice"):
            result = replay(inputs, source, night, "2026-10-25T01:00")
        slots = result.slots.set_index("slot_start")["orders"]
        assert slots.iloc[2:6].tolist() == [2, 1, 0, 0]  # 02:00, 02:30 CEST; 02:00, 02:30 CET
        (note,) = [n for n in result.notes if "twice" in n]
        assert note.startswith("3 orders placed between 02:00 and 03:00 on Sun 25 Oct 2026")
        assert "(CEST)" in note and "(CET)" in note and "2026-10-25T02:15:00+01:00" in note
    later = replay(inputs, path, night, "2026-10-25T19:00", warn=False)
    assert not [n for n in later.notes if "twice" in n]
    aware = naive.assign(
        placed_at=[
            "2026-10-25T01:50+02:00",
            "2026-10-25T02:15+02:00",
            "2026-10-25T02:15+01:00",
            "2026-10-25T02:45:30+01:00",
            "2026-10-25T03:10+01:00",
        ]
    )
    result = replay(inputs, aware, night, "2026-10-25T01:00")
    assert not [n for n in result.notes if "twice" in n]
    assert result.slots["orders"].iloc[2:6].tolist() == [1, 0, 1, 1]


def test_repeated_hour_notes_elsewhere():
    """New York repeats 01:00-02:00; Lord Howe goes back half an hour (01:30-02:00); a
    time of no clock change, or the spring gap, says nothing; one order reads singular."""
    from rebalance.timeparse import parse_timestamps, repeated_hour_notes

    def notes(times: list[str], tz: str) -> list[str]:
        return repeated_hour_notes(parse_timestamps(pd.Series(times), tz), tz)

    (ny,) = notes(["2026-11-01T01:30", "2026-11-01T01:59", "2026-11-01T02:00"], "America/New_York")
    assert ny.startswith("2 orders placed between 01:00 and 02:00 on Sun 01 Nov 2026")
    assert "(EDT)" in ny and "(EST)" in ny and "2026-11-01T01:30:00-05:00" in ny
    (howe,) = notes(["2026-04-05T01:40"], "Australia/Lord_Howe")
    assert howe.startswith("1 order placed between 01:30 and 02:00 on Sun 05 Apr 2026 has no")
    assert "it was counted at the first" in howe and "2026-04-05T01:40:00+10:30" in howe
    assert notes(["2026-11-30T19:00", "2026-03-29T02:30"], "Europe/Paris") == []
    assert notes(["2026-11-01T01:30"], "UTC") == []


def test_a_plan_of_another_city_is_refused(tmp_path, city):
    """A plan made from other data (its zones are not this city's): exit 3 naming the
    plan's zones.csv, as `map` does; it was scored as 'no plan' with a note and exit 0."""
    from util import VALID

    from rebalance import DataError

    other = solve(load(VALID), None, SHIFT).write(tmp_path / "other-plan")
    (tmp_path / "orders.csv").write_text(
        "order_id,restaurant_id,placed_at\nO1,RA,2026-11-30T19:10\n"
    )
    with pytest.raises(DataError, match="zones of other-plan"):
        replay(load(city), tmp_path / "orders.csv", CONFIG, SHIFT, plans=[other])
    result = CliRunner().invoke(
        app,
        [
            "replay",
            str(city),
            "--orders",
            str(tmp_path / "orders.csv"),
            "--shift-start",
            SHIFT,
            "--plan",
            str(other),
        ],
    )
    assert result.exit_code == 3 and "plan and data do not match" in result.output


def test_a_replan_is_replayed_with_its_couriers_on_their_way_where_it_counts_them():
    """A re-plan at 19:30 against the 19:00 plan counts the couriers on their way (139 in
    Paris) at their destination; its replay left them at home, so a re-plan of 200 zones
    scored 20.8% of orders served against 32.5% for the same start planned afresh. Now
    the replay has every zone's couriers in every slot where the re-plan has them."""
    from util import REPO

    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    inputs = load(paris, config)
    first = solve(inputs, config, SHIFT)
    again = solve(inputs, config, "2026-11-30T19:30", previous=first, warn=False)
    assert len(again.under_way) > 100
    one = inputs.restaurants["restaurant_id"].iloc[0]
    result = replay(
        inputs,
        orders((one, "2026-11-30T19:40")),
        config,
        "2026-11-30T19:30",
        plans={"re-plan": again},
    )
    replayed = result.zones[result.zones["policy"] == "re-plan"]
    # the couriers on their way join the moves as times, not text (a column of two
    # timezones was text: each of a million moves' times parsed again, 0.01 -> 9.4 s)
    from rebalance.replaying import _moves

    assert isinstance(_moves(again)[0]["slot_start"].dtype, pd.DatetimeTZDtype)
    planned = again.slots
    for start, want in planned.groupby("slot_start"):
        got = replayed[replayed["slot_start"] == start].set_index("zone_id")["couriers"]
        want = want.set_index("zone_id")["couriers_after"]
        assert got.reindex(want.index).tolist() == want.tolist(), start


def test_a_courier_on_its_way_and_moved_again_by_the_re_plan_ends_where_the_re_plan_sends_it():
    """A re-plan may send a courier on its way on from its destination, at its start: the
    replay applies the courier's arrival first, then the re-plan's move (the other way
    round it was scored at the first destination)."""
    import dataclasses

    from util import REPO

    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    inputs = load(paris, config)
    first = solve(inputs, config, SHIFT)
    again = solve(inputs, config, "2026-11-30T19:30", previous=first, warn=False)
    on_way = again.under_way[0]
    there = on_way["to_zone"]
    onward = next(z for z in again.zones["zone_id"] if z != there)
    extra = again.moves.iloc[:1].assign(
        courier_id=on_way["courier_id"],
        from_zone=there,
        to_zone=onward,
        slot_start=again.shift_start.tz_convert(again.moves["slot_start"].dt.tz),
    )
    moved_on = dataclasses.replace(again, moves=pd.concat([again.moves, extra], ignore_index=True))
    one = inputs.restaurants["restaurant_id"].iloc[0]
    plans = {"re-plan": again, "moved on": moved_on}
    result = replay(
        inputs, orders((one, "2026-11-30T19:40")), config, "2026-11-30T19:30", plans=plans
    )
    first_slot = result.zones[result.zones["slot_start"] == result.zones["slot_start"].min()]
    count = first_slot.pivot(index="zone_id", columns="policy", values="couriers")
    assert count.loc[onward, "moved on"] == count.loc[onward, "re-plan"] + 1
    assert count.loc[there, "moved on"] == count.loc[there, "re-plan"] - 1


@pytest.mark.parametrize("layout", ["full", "shares", "numbered", "totals"])
def test_a_slot_or_shift_without_orders_reads_no_orders_not_a_full_share(city, layout):
    """A slot in which no order was placed read "0.0 (100.0%)", a slot well served; in
    every layout of the table it now reads "–", with a key line saying no order was
    placed; and a shift without any order reads so in its total. JSON keeps share 1.0."""
    from rich.console import Console

    from rebalance.replaying import _LAYOUTS

    assert layout in _LAYOUTS
    dash = "–"
    moves = pd.DataFrame({"courier_id": ["CB1"], "to_zone": ["A"]})
    # five orders at 19:05 in A: 25% served without a plan, 50% with CB1 moved there
    came_then = orders(*burst("RA", "2026-11-30T19:05", 5))
    for came, empty_shift in [(came_then, False), (orders(("RA", "2026-11-30T12:00")), True)]:
        result = replay(load(city), came, CONFIG, SHIFT, plans={"snapshot": moves}, warn=False)
        names = list(result.policies["name"])
        totals = result.policies.set_index("name")
        table, lines = result._slot_table(names, names, totals, layout)
        console = Console(width=200, record=True, highlight=False, color_system=None)
        console.print(table)
        rows = console.export_text().splitlines()
        assert "100.0%" not in "\n".join(rows)
        if layout == "totals":
            shares = [row.split()[-1] for row in rows[1:]]
            assert shares == ([dash] * 2 if empty_shift else ["25.0%", "50.0%"]), rows
        else:
            cells = {row.split()[0]: row.split()[2:] for row in rows[1:]}
            assert cells["19:30"] == cells["20:30"] == [dash, dash], rows
            assert (cells["shift"] == [dash, dash]) is empty_shift, rows
        key = [line for line in lines if line.startswith(f"{dash}: no order was placed")]
        assert len(key) == (layout != "totals" or empty_shift), lines
        # the data keep the share of 1.0 where nothing was missed
        assert result.to_dict()["policies"][1]["slots"][1] == {
            "slot_start": "2026-11-30T19:30:00+01:00",
            "orders": 0,
            "served": 0.0,
        }
        assert result.slots.loc[result.slots["orders"] == 0, "share"].eq(1.0).all()
        assert result.to_dict()["policies"][0]["share"] == (1.0 if empty_shift else 0.25)


def test_keys_and_notes_wrap_under_their_label_in_an_80_column_terminal(tmp_path, city):
    """In a terminal the replay's notes and key lines were printed whole: at 80
    columns the terminal folded them mid-word at its left margin ("...2026-10-25T02:1"
    / "5:00+01:00"). They now wrap at words, continuing under their label, and so does
    the title; piped, each line stays whole for a log or a script."""
    import re

    naive = orders(*burst("RA", "2026-10-25T02:15", 2), ("RB", "2026-10-25T02:45:30"))
    naive.to_csv(tmp_path / "o.csv", index=False)
    args = ["replay", str(city), "--orders", str(tmp_path / "o.csv")]
    args += ["--shift-start", "2026-10-25T01:00", "--shift-end", "2026-10-25T05:00"]
    env = {"COLUMNS": "80", "NO_COLOR": "1"}
    night = ("2026-10-25T01:00", "2026-10-25T05:00")
    note = replay(load(city), naive, Config(), *night, warn=False).notes[0]
    assert len(f"note: {note}") > 80

    shown = CliRunner().invoke(app, args, env={**env, "TTY_COMPATIBLE": "1"})  # a terminal
    assert shown.exit_code == 0, shown.output
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout).splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith("Replay of ") and lines[1] == "  30 min)", lines
    at = next(i for i, line in enumerate(lines) if line.startswith("note: "))
    wrapped = [lines[at]]
    for line in lines[at + 1 :]:  # the continuation lines, under the note's text
        if not line.startswith(" " * len("note: ")):
            break
        wrapped.append(line)
    assert len(wrapped) > 1 and " ".join(" ".join(wrapped).split()) == " ".join(
        f"note: {note}".split()
    ), lines

    piped = CliRunner().invoke(app, args, env=env)
    assert piped.exit_code == 0, piped.output
    assert f"note: {note}" in piped.stdout.splitlines()


def test_a_replay_shows_in_one_line_and_as_html_in_a_notebook(city):
    """A Replay shown in a REPL or Jupyter dumped the dataclass: 34 lines of nested
    tables, the shift in UTC first. Now one line says the shift in city time, the
    orders and each policy's share; the notebook gets HTML of the shift's figures
    per policy, the shares per slot (folded) and the notes, plan names escaped."""
    moves = pd.DataFrame({"courier_id": ["CB1", "GHOST"], "to_zone": ["A", "A"]})
    o = orders(*burst("RA", "2026-11-30T19:05", 5), ("RA", "2026-11-30T18:00"))
    with pytest.warns(PlanWarning):
        result = replay(load(city), o, CONFIG, SHIFT, plans={"<b>$5 & co</b>": moves})
    text = repr(result)
    assert "\n" not in text and len(text) < 200
    assert text == (
        "Replay(Mon 30 Nov 2026 19:00–21:00 CET, 4 slots of 30 min: 5 orders, "
        "served no plan 25.0%, <b>$5 & co</b> 50.0%; 1 note)"
    )
    page = result._repr_html_()
    assert "<b>$5" not in page and page.count("&lt;b&gt;$5 &amp; co&lt;/b&gt;") == 3
    assert page.startswith("<div class='tex2jax_ignore mathjax_ignore'>")  # $5 as written
    assert "Replay · Mon 30 Nov 2026 19:00–21:00 CET · 4 slots of 30 min" in page
    assert "<b>25.0%</b>" in page and "<b>50.0%</b>" in page
    assert "orders outside the shift ignored: 1 (1 before, 0 after)" in page
    assert "note: &lt;b&gt;$5 &amp; co&lt;/b&gt;: 1 moves of couriers not in couriers" in page
