"""Explanations (CONTRACT section 11): marginal values against re-solving with one more
courier who cannot move, why short zones stay short, what routes save, and every view."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from test_slotmodel import random_city
from typer.testing import CliRunner
from util import REPO, SHIFT, courier, restaurant, snapshot, write_city, zone

import rebalance
from rebalance.cli import app
from rebalance.inputs import Inputs
from rebalance.model import build_problem
from rebalance.optimize import solve_problem
from rebalance.plan import read_plan

#: A vehicle that cannot move anywhere: the extra courier of the re-solve.
PARKED = {"parked": {"speed_kmh": 0.001, "max_move_minutes": 0.0}}


def with_parked(inputs: Inputs, zone_id: str, start: pd.Timestamp, end: pd.Timestamp) -> Inputs:
    """The same city with one more courier in ``zone_id``, present all shift, unable to move."""
    cour = inputs.couriers
    extra = pd.DataFrame(
        {
            "courier_id": ["EXTRA"],
            "zone_id": [zone_id],
            "vehicle": ["parked"],
            "available_from": pd.Series([start - pd.Timedelta(hours=1)]).astype(
                cour["available_from"].dtype
            ),
            "available_until": pd.Series([end + pd.Timedelta(hours=1)]).astype(
                cour["available_until"].dtype
            ),
            "status": ["available"],
        }
    )
    return Inputs(
        zones=inputs.zones,
        restaurants=inputs.restaurants,
        couriers=pd.concat([cour, extra], ignore_index=True),
        travel_times=inputs.travel_times,
        demand=inputs.demand,
    )


def resolve_gain(inputs: Inputs, config, start, zone_id: str, base: float) -> float:
    """Objective now minus objective with the parked courier; NaN when that is infeasible."""
    p = build_problem(inputs, config, start)
    extra = build_problem(with_parked(inputs, zone_id, p.shift_start, p.shift_end), config, start)
    plan = solve_problem(extra)
    return math.nan if plan.status == "infeasible" else base - plan.objective


@pytest.mark.parametrize("seed", range(8))
def test_one_slot_marginal_equals_the_resolve_on_random_cities(seed):
    """One slot: marginal_minutes is exactly the drop of the optimum with one more parked
    courier in that zone, NaN exactly where that courier cannot be placed (caps)."""
    inputs, config, start = random_city(seed, zones=6, couriers=10, slots=1)
    config = config.with_changes(vehicles=PARKED)
    plan = solve_problem(build_problem(inputs, config, start))
    if plan.status == "infeasible":
        return
    for zid, value in zip(plan.zones["zone_id"], plan.zones["marginal_minutes"], strict=True):
        gain = resolve_gain(inputs, config, start, zid, plan.objective)
        if math.isnan(gain):
            assert math.isnan(value), (zid, value)
        else:
            assert value == pytest.approx(gain, abs=2e-3), zid


def _two_zone_city(tmp_path, *, cap="", surplus=0.0, tie=False):
    """A short zone B next to A, which has couriers to spare (and C, a twin of B, if tie)."""
    zones = [zone("A", 48.85, 2.35), zone("B", 48.85, 2.36, cap=cap)]
    rests = [restaurant("R1", "B", 5.0), restaurant("R0", "A", 2.5)]
    if tie:
        zones.append(zone("C", 48.85, 2.34))
        rests.append(restaurant("R2", "C", 5.0))
    cour = [courier(f"C{i}", "A") for i in range(3)]
    folder = write_city(tmp_path / "city", zones, rests, cour)
    config = snapshot(costs={"surplus_minutes": surplus}).with_changes(vehicles=PARKED)
    return rebalance.load(folder, config), config


@pytest.mark.parametrize(
    ("cap", "surplus", "tie"),
    [("", 0.0, False), ("", 7.0, False), ("0", 0.0, False), ("", 0.0, True), ("2", 3.0, True)],
)
def test_one_slot_marginal_at_caps_surplus_and_ties(tmp_path, cap, surplus, tie):
    """A zone at its cap says NaN (no room), a zone with surplus 0 or minus the surplus
    cost, and tied optima (two equal short zones) agree with the re-solve."""
    inputs, config = _two_zone_city(tmp_path, cap=cap, surplus=surplus, tie=tie)
    plan = rebalance.solve(inputs, config, SHIFT)
    zones = plan.zones.set_index("zone_id")
    for zid in zones.index:
        gain = resolve_gain(inputs, config, SHIFT, zid, plan.objective)
        value = zones.at[zid, "marginal_minutes"]
        assert (math.isnan(gain) and math.isnan(value)) or value == pytest.approx(gain, abs=2e-3)
    if cap == "0":
        assert math.isnan(zones.at["B", "marginal_minutes"])
    if surplus and not tie:
        # A keeps a courier it does not need: one more there only costs surplus.
        assert zones.at["A", "marginal_minutes"] == pytest.approx(-surplus)


@pytest.mark.parametrize("seed", range(4))
def test_several_slots_marginal_bounds_the_resolve(seed):
    """Several slots: NaN means one more courier cannot be placed, and only a zone flagged
    as filling its cap can refuse one; otherwise, when the LP was integral, the LP dual
    bounds the real drop from above (LP duality)."""
    inputs, config, start = random_city(seed, zones=5, couriers=8, slots=3)
    config = config.with_changes(vehicles=PARKED)
    plan = solve_problem(build_problem(inputs, config, start))
    if plan.status == "infeasible":
        return
    per_slot = plan.slots.groupby("zone_id")["marginal_minutes"].agg(lambda s: s.to_numpy().sum())
    assert per_slot.reindex(plan.zones["zone_id"]).to_numpy() == pytest.approx(
        plan.zones["marginal_minutes"].to_numpy(), abs=0.01, nan_ok=True
    )
    full = plan.explain().ranking.set_index("zone_id")["full_slots"]
    for zid, value in zip(plan.zones["zone_id"], plan.zones["marginal_minutes"], strict=True):
        gain = resolve_gain(inputs, config, start, zid, plan.objective)
        if math.isnan(value):
            assert math.isnan(gain), zid
        elif math.isnan(gain):
            assert full[zid] > 0, zid  # only a zone filling its cap can refuse one more
        elif plan.solver["lp_integral"] == 1:
            assert value >= gain - 2e-3, (zid, value, gain)


def test_several_slots_full_caps_everywhere_is_nan():
    """Every zone capped and full in some slot: no zone has room for one more courier."""
    inputs, config, start = random_city(31, zones=5, couriers=8, slots=3)
    plan = solve_problem(build_problem(inputs, config, start))
    assert plan.status == "optimal"
    assert plan.zones["marginal_minutes"].isna().all()


# ------------------------------------------------------------------ reasons


def _city(tmp_path, name="Z", *, far=False, cap=""):
    """B short; A has couriers to spare 1.1 km away (or 8 km: out of a bike's range)."""
    lon_a = 2.35 + (0.11 if far else 0.015)
    zones = [zone("A", 48.85, lon_a, name="Spare <b>&"), zone("B", 48.85, 2.35, cap=cap)]
    rests = [restaurant("R1", "B", 10.0), restaurant("R2", "A", 2.5)]
    cour = [courier(f"C{i}", "A") for i in range(4)] + [courier("CB", "B")]
    return write_city(tmp_path / name, zones, rests, cour)


def test_out_of_range_names_the_nearest_spare_zone_and_the_range(tmp_path):
    """A zone no spare courier can reach says which zone is nearest, how far, and the range."""
    folder = _city(tmp_path, far=True)
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    expl = plan.explain()
    row = expl.short.set_index("zone_id").loc["B"]
    assert row["reason"] == "out_of_range"
    travel = plan.explanation["short"][0]["nearest_spare"]["travel_minutes"]
    assert travel > 20  # 8 km by bike at 15 km/h x 1.3
    assert "Spare <b>&" in row["why"] and "range is 20 min" in row["why"]
    assert f"{travel:.1f}" in row["why"] or f"{travel:.0f} min" in row["why"]


def test_couriers_moved_ahead_of_later_demand_are_not_spares_out_of_range(tmp_path):
    """A short zone whose only 'spare' couriers were moved into their zone for a later
    slot (and cannot move again now) is explained as having none to spare, not as a
    missing route in a travel_times table the city does not have."""
    folder = write_city(
        tmp_path / "ahead",
        [zone("H", 48.800, 2.34, cap=0), zone("X", 48.827, 2.34), zone("S", 48.854, 2.34)],
        [restaurant("RS", "S", 0.0), restaurant("RX", "X", 0.0)],
        [courier("c1", "H"), courier("c2", "H")],
    )
    (folder / "demand.csv").write_text(
        "restaurant_id,slot_start,expected_orders_per_hour\n"
        "RS,2026-11-30T19:00,2.5\nRX,2026-11-30T19:30,5\n"
    )
    config = rebalance.Config().with_changes(shift={"hours": 1.0, "slot_minutes": 30})
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    row = plan.explain().short.set_index("zone_id").loc["S"]
    assert row["reason"] == "no_spare"
    assert "travel_times" not in row["why"]
    assert "(2 in X Zone X) are there by the plan's own moves" in row["why"]
    assert "the plan may need them there later in the shift" in row["why"]


def _moved_in_city(tmp_path):
    """A, capped at 0, holds two bikes that the plan must move to B next door, which
    needs none; C, out of their range, is short."""
    return write_city(
        tmp_path / "moved",
        [
            zone("A", 48.850, 2.30, cap=0, name="Capped"),
            zone("B", 48.855, 2.30, name="Next door"),
            zone("C", 48.950, 2.30, name="Far"),
        ],
        [restaurant("R1", "C", 5.0)],
        [courier("K1", "A"), courier("K2", "A")],
    )


def test_spare_couriers_the_plan_moved_in_are_not_called_needed(tmp_path):
    """A's cap (0) sends its two bikes to B, which needs none; C, out of their range, is
    short. The reason read "No zone has a courier to spare: every courier is needed
    where the plan has them", which B's two idle couriers belie. It now says that the
    only couriers to spare are there by the plan's own moves and cannot move again now;
    a zone with nothing to spare keeps the old sentence."""
    folder = _moved_in_city(tmp_path)
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    assert sorted(plan.moves["to_zone"]) == ["B", "B"]
    row = plan.explain().short.set_index("zone_id").loc["C"]
    assert row["reason"] == "no_spare"
    assert "every courier is needed" not in row["why"]
    assert (
        "the only ones to spare (2 in B Next door) are there by the plan's own moves"
        in (row["why"])
    )
    (entry,) = plan.explanation["short"]
    assert entry["spare_moved_in"] == [{"zone_id": "B", "couriers": 2}]


@pytest.mark.parametrize(
    "damage",
    [
        lambda e: e["spare_moved_in"][0].pop("couriers"),
        lambda e: e["spare_moved_in"].append("B"),
        lambda e: e.update(spare_moved_in="B"),
        lambda e: e.update(spare_moved_in_total="two"),
    ],
)
def test_a_hand_edited_spare_moved_in_is_refused_naming_the_field(tmp_path, damage):
    """plan.json's `spare_moved_in` edited by hand got past the check of the stored
    explanation, and `explain` then failed as "Invalid value for --zone: couriers"
    (exit 2) with no --zone given. It is refused as the plan folder's damage, exit 3,
    naming the field, as the other facts are."""
    folder = _moved_in_city(tmp_path)
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    out = plan.write(tmp_path / "plan")
    meta = json.loads((out / "plan.json").read_text())
    damage(meta["explanation"]["short"][0])
    (out / "plan.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(app, ["explain", str(out)])
    assert result.exit_code == 3, result.output
    assert "spare_moved_in" in result.output and "--zone" not in result.output


def test_a_cap_reached_by_one_courier_is_said_in_the_singular(tmp_path):
    """ "max_couriers is 1 and it has 1 couriers"."""
    folder = _city(tmp_path, cap="1")
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    why = plan.explain().short.set_index("zone_id").loc["B", "why"]
    assert "max_couriers is 1 and it has 1 courier." in why, why


def test_a_courier_the_plan_already_sends_here_is_not_needed_where_it_is(tmp_path):
    """B needs 3 couriers; the only courier in range, in A, is sent to B. B's reason must
    not name A as a zone whose couriers are needed where they are (A keeps none)."""
    folder = write_city(
        tmp_path / "sent",
        [zone("A", 48.85, 2.35, name="Alpha"), zone("B", 48.85, 2.365, name="Bravo")],
        [restaurant("R1", "B", 7.5)],
        [courier("C1", "A")],
    )
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    assert plan.moves[["courier_id", "to_zone"]].values.tolist() == [["C1", "B"]]
    row = plan.explain().short.set_index("zone_id").loc["B"]
    assert row["reason"] == "no_spare"
    assert "Alpha" not in row["why"] and "needed where the plan has them" in row["why"]
    assert plan.explanation["short"][0]["nearest_in_range"] is None


def test_cap_and_route_savings(tmp_path):
    """A capped zone says its cap; a route's saving is shortage removed minus moving."""
    folder = _city(tmp_path, cap="2")
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    expl = plan.explain()
    assert expl.short.set_index("zone_id").loc["B", "reason"] == "cap"
    route = expl.routes.iloc[0]
    assert (route["from_zone"], route["to_zone"], route["couriers"]) == ("A", "B", 1)
    travel = float(plan.moves["travel_minutes"].sum())
    assert route["move_minutes"] == pytest.approx(travel + 5.0)
    assert route["shortage_removed_minutes"] == pytest.approx(60.0)
    assert route["saves_minutes"] == pytest.approx(60.0 - travel - 5.0)
    assert not route["cap_forced"]


def test_not_worth_the_move_and_ranking(tmp_path):
    """A spare courier within range that is not sent: the move costs more than it saves;
    the ranking puts the zone where one more courier saves most first."""
    folder = _city(tmp_path)
    config = snapshot(costs={"shortage_minutes": 6.0})
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    expl = plan.explain()
    assert expl.short["reason"].tolist() == ["not_worth_the_move"]
    assert "costs more than it saves" in expl.short["why"].iloc[0]
    assert expl.ranking["zone_id"].iloc[0] == "B"
    assert expl.ranking["marginal_minutes"].iloc[0] == pytest.approx(6.0)


def _later_need_city(tmp_path, name: str, a_later: float, until: str = "2026-11-30T23:00"):
    """B short all shift next to A, whose 4 couriers are to spare at 19:00; A's demand
    from 19:30 is ``a_later`` orders/h (10: it needs all 4 then)."""
    zones = [zone("A", 48.85, 2.365, name="Spare"), zone("B", 48.85, 2.35, name="Short")]
    rests = [restaurant("RB", "B", 10.0), restaurant("RA", "A", 2.5)]
    cour = [courier(f"C{i}", "A", until=until) for i in range(4)] + [courier("CB", "B")]
    folder = write_city(tmp_path / name, zones, rests, cour)
    rows = [("RB", t, 10) for t in ("19:00", "19:30", "20:00")]
    rows += [("RA", "19:00", 2.5), ("RA", "19:30", a_later), ("RA", "20:00", a_later)]
    (folder / "demand.csv").write_text(
        "restaurant_id,slot_start,expected_orders_per_hour\n"
        + "".join(f"{r},2026-11-30T{t},{v}\n" for r, t, v in rows)
    )
    return folder


@pytest.mark.parametrize(
    "a_later, until, said",
    [
        (10.0, "2026-11-30T23:00", "19:30"),  # A needs all its couriers from 19:30
        (2.5, "2026-11-30T23:00", None),  # A has couriers to spare all shift
        (10.0, "2026-11-30T19:30", None),  # A's couriers are gone from 19:30: none needed
    ],
)
def test_a_spare_zone_with_none_to_spare_later_is_said_when(tmp_path, a_later, until, said):
    """In slots, a short zone next to one with a courier to spare read "the move costs
    more than it saves here or it is needed there later in the shift", whichever held.
    When that zone has no courier to spare in a later slot (it holds couriers and needs
    them all), the sentence now names the first such slot, and the JSON's spare_in_range
    gives its start; a zone with couriers to spare in every later slot it holds any, or
    with none left to need, gets no such clause."""
    folder = _later_need_city(tmp_path, f"c{a_later}{until[-5:-3]}", a_later, until)
    config = rebalance.Config().with_changes(
        shift={"hours": 1.5, "slot_minutes": 30}, costs={"shortage_minutes": 6.0}
    )
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    assert plan.status == "optimal" and plan.moves.empty
    expl = plan.explain()
    row = expl.short.set_index("zone_id").loc["B"]
    assert row["reason"] == "not_worth_the_move"
    assert "or it is needed there later in the shift" in row["why"]
    spare = expl.to_dict()["short_zones"][0]["spare_in_range"]
    assert spare["zone_id"] == "A"
    if said is None:
        assert "no courier to spare at" not in row["why"]
        assert "none_to_spare_at" not in spare
    else:
        assert f"(that zone has no courier to spare at {said})." in row["why"]
        assert spare["none_to_spare_at"] == f"2026-11-30T{said}:00+01:00"
    # the facts stored in the plan are unchanged: the clause is read from its slots
    assert "none_to_spare_at" not in plan.explanation["short"][0]["spare_in_range"]


def test_equal_marginal_values_rank_the_short_zone_first(tmp_path):
    """In slots, a zone's marginal value is an LP dual, an upper bound that an exactly
    balanced zone out of everyone's reach can share with a short one (60 min each,
    where one more courier there saves nothing). "Where one extra courier helps most"
    listed the idle zones first, by id; equal values now put the shorter zone first."""
    folder = write_city(
        tmp_path / "ties",
        [
            zone("A", 48.85, 2.30, name="Balanced near"),
            zone("B", 48.86, 2.30, name="Short near"),
            zone("I", 49.30, 2.30, name="Isolated balanced"),
        ],
        [restaurant("R1", "A", 5.0), restaurant("R2", "B", 5.0), restaurant("R3", "I", 5.0)],
        [
            courier(c, z, until="2026-11-30T23:30")
            for c, z in [("A1", "A"), ("A2", "A"), ("B1", "B"), ("I1", "I"), ("I2", "I")]
        ],
    )
    config = rebalance.Config().with_changes(shift={"hours": 4.0, "slot_minutes": 60})
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    ranking = plan.explain().ranking
    values = ranking.set_index("zone_id")["marginal_minutes"]
    tied = values[values == values.max()]
    assert "B" in tied.index and len(tied) > 1, values  # the bound shared with B
    assert ranking["zone_id"].iloc[0] == "B", ranking


def test_zone_asked_with_padding_is_found_and_a_long_unknown_one_is_cut(tmp_path):
    """`explain --zone " B"` (pasted from a table) said "unknown zone"; ids hold no
    padding, so it is B. An unknown id of 5,000 characters was echoed whole."""
    folder = _city(tmp_path)
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    assert (
        plan.explain(" B ").short["zone_id"].tolist() == plan.explain("B").short["zone_id"].tolist()
    )
    with pytest.raises(KeyError) as info:
        plan.explain("Q" * 5000)
    message = str(info.value.args[0])
    assert len(message) < 300 and "…" in message and "valid zones: A, B" in message


def test_the_route_table_adds_up_as_shown(tmp_path):
    """The README says the route table's columns add up; rounded each on its own they
    did not (Lyon: 135 - 8 - 50 shown beside Saves 78, from 135, 7.5, 49.5). Each row
    now adds up as shown, every figure within a minute of its value."""
    import re

    lyon = REPO / "data" / "samples" / "lyon"
    config = rebalance.load_config(lyon / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(lyon, config), config, SHIFT)
    folder = plan.write(tmp_path / "lyon")
    routes = plan.explain().routes
    keys = [
        "shortage_removed_minutes",
        "shortage_added_minutes",
        "surplus_change_minutes",
        "move_minutes",
        "instruction_change_minutes",
    ]
    naive = [
        round(r[keys[0]]) - sum(round(r[k]) for k in keys[1:]) != round(r["saves_minutes"])
        for _, r in routes.iterrows()
    ]
    assert any(naive), "no route here whose figures rounded alone would not add up"
    out = CliRunner().invoke(app, ["explain", str(folder)], env={"COLUMNS": "250"}).output
    section = out[out.index("What each move saves") :]
    rows = 0
    for line in section.splitlines():
        figures = [int(x.replace(",", "")) for x in re.findall(r"(-?[\d,]+) min", line)]
        if len(figures) >= 3:
            rows += 1
            assert figures[0] - sum(figures[1:-1]) == figures[-1], line
    from rebalance.views.terminal import MAX_EXPLAIN_ROWS

    assert rows == min(len(routes), MAX_EXPLAIN_ROWS)


# ------------------------------------------------------------------ views


@pytest.fixture
def plan_dir(tmp_path):
    folder = _city(tmp_path, far=True)
    out = tmp_path / "plan"
    result = CliRunner().invoke(
        app, ["plan", str(folder), "--shift-start", SHIFT, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def test_cli_explains_from_the_folder_alone(plan_dir):
    """`rebalance explain DIR` reads only the folder: table and json say the same."""
    runner = CliRunner()
    table = runner.invoke(app, ["explain", str(plan_dir)])
    assert table.exit_code == 0, table.output
    assert "Why 1 zone stays short" in table.output
    assert "Where one extra courier helps most" in table.output
    out = runner.invoke(app, ["explain", str(plan_dir), "--format", "json", "--zone", "B"])
    assert out.exit_code == 0
    data = json.loads(out.stdout)
    assert [z["zone_id"] for z in data["short_zones"]] == ["B"]
    assert data["short_zones"][0]["reason"] == "out_of_range"
    # the facts behind the sentence, for scripts that should not parse prose
    spare = data["short_zones"][0]["nearest_spare"]
    assert (spare["zone_id"], spare["vehicle"], spare["range_minutes"]) == ("A", "bike", 20.0)
    assert spare["travel_minutes"] > 20 and data["short_zones"][0]["spare_in_range"] is None
    assert (
        read_plan(plan_dir).explain().to_dict() == rebalance.read_plan(plan_dir).explain().to_dict()
    )


def test_a_zone_asked_for_that_is_not_short_is_said_so_not_every_zone(plan_dir):
    """`explain --zone A` on a plan where B stays short printed "No zone stays short.":
    false, and an operator asking about A would stop looking. It now says that A is
    not short (terminal, notebook HTML, escaped), the JSON names the zone asked for, and
    the whole plan's explanation still lists B."""
    runner = CliRunner()
    one = runner.invoke(app, ["explain", str(plan_dir), "--zone", "A"])
    assert one.exit_code == 0, one.output
    assert "No zone stays short" not in one.output
    assert "A Spare <b>& is not short now." in one.output
    data = json.loads(
        runner.invoke(app, ["explain", str(plan_dir), "--format", "json", "--zone", "A"]).stdout
    )
    assert data["zone"] == "A" and data["short_zones"] == []
    plan = read_plan(plan_dir)
    page = plan.explain("A")._repr_html_()
    assert "A Spare &lt;b&gt;&amp; is not short now." in page and "No zone stays short" not in page
    whole = plan.explain()
    assert whole.zone is None and whole.to_dict()["zone"] is None
    assert whole.short["zone_id"].tolist() == ["B"]


def test_cli_unknown_zone_is_a_usage_error_naming_valid_zones(plan_dir):
    """--zone with an id not in the plan: exit 2, and the message lists the valid ids."""
    result = CliRunner().invoke(app, ["explain", str(plan_dir), "--zone", "NOPE"])
    assert result.exit_code == 2
    assert "NOPE" in result.output and "A, B" in result.output


def test_a_name_with_a_line_break_stays_on_its_row_in_the_terminal(tmp_path):
    """`explain` printed a zone named "line1\\nline2" over two rows of its tables, where
    `plan` writes "line1\\x0aline2": a partner's name could fake a row. Each name is one
    line in every table of `explain`."""
    lon_a = 2.35 + 0.11
    zones = [
        zone("A", 48.85, lon_a, name="Spare\nFAKE ROW"),
        zone("B", 48.85, 2.35, name="Short\nFAKE ROW"),
    ]
    rests = [restaurant("R1", "B", 10.0), restaurant("R2", "A", 2.5)]
    cour = [courier(f"C{i}", "A") for i in range(4)] + [courier("CB", "B")]
    folder = write_city(tmp_path / "city", zones, rests, cour)
    out = tmp_path / "plan"
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["plan", str(folder), "--shift-start", SHIFT, "--out", str(out)]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["explain", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Where one extra courier helps most" in result.output
    rows = [line for line in result.output.splitlines() if "FAKE ROW" in line]
    assert len(rows) >= 3 and all("\\x0aFAKE ROW" in line for line in rows), result.output


def test_html_and_slack_show_the_why_escaped(plan_dir):
    """The notebook view folds the explanation in; Slack's thread has an escaped why line."""
    from rebalance.publish.blocks import build_messages

    plan = read_plan(plan_dir)
    page = plan._repr_html_()
    assert "Why this plan?" in page and "Spare &lt;b&gt;&amp;" in page and "<b>&" not in page
    text = json.dumps(build_messages(plan, channel="C1"), ensure_ascii=False)
    assert "Why they stay short" in text and "Spare &lt;b&gt;&amp;" in text


def test_marginal_map_colours_every_zone(plan_dir):
    """The plot draws one point per zone, coloured by marginal value, from the plan alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rebalance import plots

    plan = read_plan(plan_dir)
    ax = plots.marginal_map(plan)
    values = np.concatenate([c.get_array() for c in ax.collections if c.get_array() is not None])
    assert sorted(values.tolist()) == pytest.approx(
        sorted(plan.zones["marginal_minutes"].dropna().tolist())
    )
    plt.close(ax.figure)


def test_marginal_map_takes_the_inputs_second_as_zone_map_does(plan_dir, tmp_path):
    """`plots.marginal_map(plan, inputs)`, as `zone_map(plan, inputs)` is called, met
    "'Inputs' object has no attribute 'scatter'" (its second argument is the axes):
    the inputs are taken there too; a wrong object is a TypeError naming the call."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rebalance import load, plots

    plan = read_plan(plan_dir)
    inputs = load(_city(tmp_path / "again", far=True))
    for given in (inputs, inputs.zones):
        ax = plots.marginal_map(plan, given)
        assert len(ax.collections) >= 1
        plt.close(ax.figure)
    with pytest.raises(TypeError, match=r"marginal_map\(plan, ax.*ax must be a matplotlib Axes"):
        plots.marginal_map(plan, 42)


def test_folder_written_before_explanations_still_explains_marginal_values(plan_dir):
    """A plan.json without 'explanation' still ranks zones and says what is missing."""
    meta = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    del meta["explanation"]
    (plan_dir / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    result = CliRunner().invoke(app, ["explain", str(plan_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["short_zones"] == [] and len(data["marginal_values"]) == 2
    assert any("re-run `rebalance plan`" in note for note in data["notes"])


@pytest.fixture(scope="module")
def paris_plan():
    """The Paris sample's dinner plan (short zones and routes to explain)."""
    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    return rebalance.solve(rebalance.load(paris, config), config, SHIFT)


def test_several_slots_claim_only_bounds_and_one_slot_exact_values(paris_plan):
    """With several slots a short zone's value is an upper bound (the LP dual sum): its
    sentence says "at most", a route saves "over the shift", and no sentence derives
    what taking a courier from elsewhere would cost (that needs an exact value). One
    slot: exact values, said without "at most", and the cost of taking one is given."""
    expl = paris_plan.explain()
    valued = expl.short[expl.short["marginal_minutes"].notna()]
    assert len(valued) and all("would save at most " in w for w in valued["why"])
    assert all(w.endswith(" over the shift.") for w in expl.routes["why"])
    inputs, config, start = random_city(31, zones=8, couriers=30, slots=3)
    several_plan = rebalance.solve(inputs, config, start)
    several = several_plan.explain().short
    needed = several[several["reason"] == "needed_where_they_are"]
    assert len(needed) and needed["marginal_minutes"].notna().all()
    assert not any("taking one from there" in w for w in needed["why"])
    paris = REPO / "data" / "samples" / "paris"
    one_slot = rebalance.load_config(paris / "rebalance.toml").with_changes(
        shift={"slot_minutes": 240}
    )
    plan = rebalance.solve(rebalance.load(paris, one_slot).replace(demand=None), one_slot, SHIFT)
    one = plan.explain()
    assert not any("at most" in w for w in one.short["why"])
    assert not any("over the shift" in w for w in one.routes["why"])
    [why] = one.short[one.short["reason"] == "needed_where_they_are"]["why"]
    assert "taking one from there would cost at least the 47.2 min it would net here" in why
    # the ranking: most saved first, ties by zone id (Z1 and Z4 both -5 min), and the
    # slots in which each zone's cap is full (Z6 in two of three; Paris' 75104 in one)
    ranking = several_plan.explain().ranking
    assert list(ranking["zone_id"]) == ["Z7", "Z5", "Z6", "Z3", "Z0", "Z2", "Z1", "Z4"]
    assert ranking.set_index("zone_id")["full_slots"].to_dict() == {
        "Z7": 0, "Z5": 0, "Z6": 2, "Z3": 0, "Z0": 0, "Z2": 0, "Z1": 0, "Z4": 0
    }  # fmt: skip
    full = one.ranking.set_index("zone_id")["full_slots"]
    assert full["75104"] == 1 and full.drop("75104").eq(0).all()


def test_a_route_from_a_zone_its_couriers_could_stay_in_at_its_cap_is_not_forced(tmp_path):
    """`cap_forced` means staying would break the origin's cap: A (cap 2) keeping both
    its couriers is at its cap, not over it, so its route to B is a choice, and its
    saving is told as one."""
    folder = write_city(
        tmp_path / "c",
        [zone("A", 48.85, 2.365, cap="2"), zone("B", 48.85, 2.35)],
        [restaurant("RB", "B", 2.5)],
        [courier("C1", "A"), courier("C2", "A")],
    )
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    [route] = plan.explain().routes.to_dict("records")
    assert (route["from_zone"], route["to_zone"], route["couriers"]) == ("A", "B", 1)
    assert route["cap_forced"] is False and "could not have stayed" not in route["why"]


def _route_without_its_saving(info):
    del info["routes"][0]["shortage_removed_minutes"]
    return "explanation.routes[0] lacks shortage_removed_minutes"


def _reason_unknown(info):
    info["short"][0]["reason"] = "bad luck"
    return "explanation.short[0].reason is 'bad luck'"


def _spare_without_vehicle(info):
    entry = next(e for e in info["short"] if e["reason"] == "not_worth_the_move")
    at = info["short"].index(entry)
    del entry["spare_in_range"]["vehicle"]
    return f"explanation.short[{at}].spare_in_range is not a zone, a vehicle and its minutes"


def _text_for_a_latitude(info):
    info["lat"][3] = "48.8"
    return "explanation.lat is not a list of numbers"


@pytest.mark.parametrize(
    "edit",
    [_route_without_its_saving, _reason_unknown, _spare_without_vehicle, _text_for_a_latitude],
)
def test_a_hand_edited_explanation_is_refused_naming_the_field(paris_plan, tmp_path, edit):
    """plan.json's explanation is read by explain, publish, the map and the notebook view.
    One edited by hand (a route's field dropped or swapped with another route's, an
    unknown reason, a zone's facts without their vehicle, text for a number) is exit 3
    naming plan.json and the field, not a ValueError from deep in a view (exit 1: a
    mutation run over plan folders found it). The plan as written reads and explains."""
    folder = paris_plan.write(tmp_path / "plan")
    assert CliRunner().invoke(app, ["explain", str(folder)]).exit_code == 0
    meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    said = edit(meta["explanation"])
    (folder / "plan.json").write_text(json.dumps(meta), encoding="utf-8")
    for args in (
        ["explain", str(folder)],
        ["publish", str(folder), "--dry-run", "--channel", "C0PLANS"],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 3, result.output
        text = " ".join(result.output.split())
        assert str(folder / "plan.json") in text and said in text
        assert "Traceback" not in result.output


def test_explain_of_a_folder_that_is_no_plan_exits_3(tmp_path):
    """A folder without plan files: exit 3 naming the missing file."""
    result = CliRunner().invoke(app, ["explain", str(tmp_path)])
    assert result.exit_code == 3
    assert "plan.json" in result.output


def test_why_lines_of_200_hostile_short_zones_fit_slack_limits():
    """200 short zones with long hostile names, each with a why: every payload within
    Slack's limits, the names escaped, the rest pointed to `rebalance explain`."""
    import dataclasses

    from util import assert_within_limits, synthetic_plan

    from rebalance.publish.blocks import build_messages

    plan = synthetic_plan(200, 300, name_chars=200, paused=5)
    short = plan.zones[plan.zones["shortage"] > 0]
    spare = {"zone_id": "Z0000", "vehicle": "bike", "travel_minutes": 42.0, "range_minutes": 20.0}
    info = {
        "short": [
            {
                "zone_id": z,
                "shortage": 1,
                "cap": None,
                "reason": "out_of_range",
                "nearest_spare": spare,
                "spare_in_range": None,
                "nearest_in_range": None,
            }
            for z in short["zone_id"]
        ],
        "routes": [],
    }
    payloads = build_messages(dataclasses.replace(plan, explanation=info), channel="C1")
    assert_within_limits(payloads)
    text = json.dumps(payloads, ensure_ascii=False)
    assert "Why they stay short" in text and "rebalance explain" in text
    why = [
        b["text"]["text"]
        for p in payloads
        for b in p["blocks"]
        if b["type"] == "section" and "Why they stay short" in b.get("text", {}).get("text", "")
    ]
    assert why and all("<x>" not in t and "&lt;x&gt;" in t for t in why)


def test_lyon_short_zone_whose_reachable_couriers_are_needed_where_they_are():
    """Lyon in one slot: the 3e stays short because every courier within range is needed
    where it is; the sentence names the nearest zone and what a move would net."""
    from util import REPO

    folder = REPO / "data" / "samples" / "lyon"
    config = rebalance.load_config(folder / "rebalance.toml").with_changes(
        shift={"slot_minutes": 240}
    )
    # one 4-hour slot would find the sample's 30-minute demand.csv rows off its grid: the
    # snapshot reads restaurants.csv's rates (= the 19:00 rows)
    inputs = rebalance.load(folder, config).replace(demand=None)
    plan = rebalance.solve(inputs, config, SHIFT)
    row = plan.explain(zone="69383").short.iloc[0]
    assert row["reason"] == "needed_where_they_are"
    assert "69386 6e - Brotteaux" in row["why"] and "none to spare" in row["why"]
    assert "60 saved" in row["why"] and row["marginal_minutes"] == pytest.approx(60.0)


def _nearest_rule(lat, lon, donors, short):
    """The documented nearest donor by enumeration: least squared chord summed as
    (dx*dx + dy*dy) + dz*dz, not the zone itself, ties to the lower zone index."""
    from rebalance.reach import unit_vectors

    xyz = np.column_stack(unit_vectors(np.asarray(lat, float), np.asarray(lon, float)))
    out = []
    for s in short.tolist():
        best = (math.inf, -1)
        for d in donors.tolist():
            if d != s:
                a, b = xyz[s], xyz[d]
                square = 0.0
                for k in range(3):
                    square += (a[k] - b[k]) * (a[k] - b[k])
                best = min(best, (square, d))
        out.append(best)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_nearest_donor_dense_and_kdtree_agree_with_ties(monkeypatch, seed):
    """The nearest zone with a courier to spare is the same from dense blocks and from the
    k-d tree, on a grid city full of equal distances and twin zones, and is the rule's."""
    from types import SimpleNamespace

    from rebalance import explain
    from rebalance.config import Config

    rng = np.random.default_rng(seed)
    n = 120
    lat = 48.8 + rng.integers(0, 6, n) * 0.01  # a grid: many equal distances, some twins
    lon = 2.3 + rng.integers(0, 6, n) * 0.01
    p = SimpleNamespace(
        inputs=SimpleNamespace(zones=pd.DataFrame({"lat": lat, "lon": lon})),
        config=Config(),
        vehicles=("bike",),
    )
    donors = np.flatnonzero(rng.random(n) < 0.4)
    short = np.flatnonzero(rng.random(n) < 0.5)
    expected = _nearest_rule(lat, lon, donors, short)
    answers = []
    for dense in (True, False):
        monkeypatch.setattr(explain, "_dense", lambda pairs, dense=dense: dense)
        minutes, src = explain._nearest_by_distance(p, 0, donors, short)
        assert src.tolist() == [d for _, d in expected]
        answers.append(minutes)
    assert np.array_equal(answers[0], answers[1])
    assert np.isfinite(answers[0]).all()


def test_route_facts_from_positions_equal_those_looked_up_by_id():
    """The explanation facts built from the moves' positions (as solve does) equal those
    found by looking every move up by courier and zone id, on a city with several slots."""
    from rebalance import explain, optimize

    inputs, config, start = random_city(3, zones=8, couriers=30, slots=3)
    p = build_problem(inputs, config, start)
    captured = {}
    real = explain.facts

    def spy(*args):
        captured["args"] = args
        return real(*args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(explain, "facts", spy)
        plan = optimize.solve_problem(p)
    q, zones, moves, position, where = captured["args"]
    assert len(moves) and plan.explanation["routes"]
    assert real(q, zones, moves, position) == real(q, zones, moves, position, where)


class _FromFiles:
    """A plan of 30-minute slots read from its files alone (CONTRACT 7): its moves with
    their slot number, its couriers per (zone, slot), the zones' shortage and surplus
    cost of any such counts, and what undoing a slot-0 route saves in them."""

    def __init__(self, plan, inputs, config, start):
        step = pd.Timedelta(minutes=30)
        self.costs, self.start, self.step = config.costs, start, step
        slots = plan.slots.assign(s=lambda d: ((d["slot_start"] - start) / step).astype(int))
        self.k = int(slots["s"].max()) + 1
        self.priority = inputs.zones.set_index("zone_id")["priority"]
        self.required = {(r.zone_id, r.s): r.required_couriers for r in slots.itertuples()}
        self.after = {(r.zone_id, r.s): r.couriers_after for r in slots.itertuples()}
        self.moves = plan.moves.assign(s=lambda d: ((d["slot_start"] - start) / step).astype(int))
        self.couriers = inputs.couriers.set_index("courier_id")
        self.least = min(config.eligibility.min_available_minutes, 30)

    def zone_costs(self, counts):
        c = self.costs
        return sum(
            (c.shortage_minutes * self.priority[z] * max(need - counts[z, s], 0)
             + c.surplus_minutes * max(counts[z, s] - need, 0)) / self.k
            for (z, s), need in self.required.items()
        )  # fmt: skip

    def present(self, cid, s):
        row = self.couriers.loc[cid]
        at = self.start + self.step * s
        return (
            row["status"] == "available"
            and row["available_from"] <= at
            and row["available_until"] >= at + pd.Timedelta(minutes=self.least)
        )

    def route(self, a, b):
        """The slot-0 moves from zone ``a`` to ``b``."""
        m = self.moves
        return m[(m["s"] == 0) & (m["from_zone"] == a) & (m["to_zone"] == b)]

    def undone(self, mine, a, b):
        """The zones' cost with the couriers of ``mine`` kept in ``a`` for the slots the
        plan has them in ``b`` (until they move on or leave), less the plan's."""
        alt = dict(self.after)
        for cid in mine["courier_id"]:
            m = self.moves
            later = m[(m["courier_id"] == cid) & (m["s"] > 0)]["s"]
            for s in range(int(later.min()) if len(later) else self.k):
                if not self.present(cid, s):
                    break
                alt[a, s] += 1
                alt[b, s] -= 1
        return self.zone_costs(alt) - self.zone_costs(self.after)


@pytest.mark.parametrize("seed", [1, 4, 9, 10, 11, 15])
def test_route_savings_are_the_objective_with_the_route_undone(seed):
    """Each slot-0 route's numbers, recomputed from the plan's files alone: its couriers
    kept in their origin for the slots the plan has them in the destination (until they
    move on or leave), the zones' shortage and surplus costs by slot, priority and slot
    weight, minus the route's travel and fixed cost per courier; and the routes ranked
    by what they save. (Cities with priorities 1-3, surplus costs, routes of several
    couriers and couriers who move twice.)"""
    inputs, config, start = random_city(seed, zones=6, couriers=30, slots=4)
    plan = rebalance.solve(inputs, config, start)
    c = config.costs
    files = _FromFiles(plan, inputs, config, start)
    moves = files.moves
    move_cost = moves["travel_minutes"].sum() + c.move_fixed_minutes * len(moves)
    assert files.zone_costs(files.after) + move_cost == pytest.approx(plan.objective, abs=1e-6)
    expl = plan.explain().routes
    assert len(expl)
    for route in expl.to_dict("records"):
        mine = files.route(route["from_zone"], route["to_zone"])
        moving = mine["travel_minutes"].sum() + c.move_fixed_minutes * len(mine)
        assert route["couriers"] == len(mine)
        assert route["move_minutes"] == pytest.approx(moving, abs=2e-3)
        saves = files.undone(mine, route["from_zone"], route["to_zone"]) - moving
        assert route["saves_minutes"] == pytest.approx(saves, abs=5e-3), route
    order = sorted(
        expl.to_dict("records"), key=lambda r: (-r["saves_minutes"], r["from_zone"], r["to_zone"])
    )
    assert expl.to_dict("records") == order


def test_a_route_whose_courier_comes_back_later_saves_only_until_it_moves_on():
    """A courier sent A -> B at 19:00, on to C at 19:30 and back to B at 20:00: had the
    first move not been made, B would lack it at 19:00 only; the 20:00 slot belongs to
    the move back. The route removes one slot's shortage (120 / 3 = 40 min), not two."""
    start = pd.Timestamp("2026-11-30T18:00Z")
    zones = pd.DataFrame(
        {
            "zone_id": ["A", "B", "C"],
            "name": ["a", "b", "c"],
            "lat": [48.85, 48.86, 48.87],
            "lon": [2.35] * 3,
            "priority": [1.0] * 3,
            "max_couriers": [math.nan] * 3,
        }
    )
    rests = pd.DataFrame(
        {
            "restaurant_id": ["RB", "RC"],
            "name": "r",
            "zone_id": ["B", "C"],
            "status": "open",
            "expected_orders_per_hour": [2.5, 2.5],
        }
    )
    hour = pd.Timedelta(hours=1)
    cour = pd.DataFrame(
        {
            "courier_id": ["X"],
            "zone_id": ["A"],
            "vehicle": ["bike"],
            "available_from": [start - hour],
            "available_until": [start + 3 * hour],
            "status": ["available"],
        }
    )
    rates = {"RB": [2.5, 0.0, 2.5], "RC": [0.0, 2.5, 0.0]}
    demand = pd.DataFrame(
        [
            (rid, start + pd.Timedelta(minutes=30 * s), rate)
            for rid, by_slot in rates.items()
            for s, rate in enumerate(by_slot)
        ],
        columns=["restaurant_id", "slot_start", "expected_orders_per_hour"],
    ).assign(where="demand.csv")
    inputs = Inputs(zones=zones, restaurants=rests, couriers=cour, demand=demand)
    config = rebalance.Config().with_changes(
        city={"timezone": "UTC"},
        shift={"hours": 1.5, "slot_minutes": 30},
        costs={"shortage_minutes": 120.0},
    )
    plan = rebalance.solve(inputs, config, start)
    assert list(zip(plan.moves["from_zone"], plan.moves["to_zone"], strict=True)) == [
        ("A", "B"),
        ("B", "C"),
        ("C", "B"),
    ]
    [route] = plan.explain().routes.to_dict("records")
    assert (route["from_zone"], route["to_zone"]) == ("A", "B")
    assert route["shortage_removed_minutes"] == pytest.approx(40.0)
    assert route["saves_minutes"] == pytest.approx(40.0 - route["move_minutes"])


def _within_range_rule(p, short, spare, kept):
    """The couriers within range by enumeration: per short zone and spare or not, the arc
    of least cost (thousandths of a minute: travel, and in a re-plan change_minutes for
    an instruction the move changes, less one it restores), then lowest origin, then
    first arc; from entry groups present now with a courier the plan keeps in its zone."""
    change = round(p.config.costs.change_minutes * 1000) if (p.group_prev >= 0).any() else 0
    found = {}
    for a in range(len(p.arc_zone)):
        g, to = int(p.arc_group[a]), int(p.arc_zone[a])
        src, veh = int(p.group_zone[g]), int(p.group_vehicle[g])
        if to in short and p.group_first[g] == 0 and kept[g] and src != to:
            flag = bool(spare[src] > 0)
            prev = int(p.group_prev[g])
            delta = change * (int(prev >= 0 and prev != to) - int(prev >= 0 and prev != src))
            rank = (round(float(p.arc_minutes[a]) * 1000) + delta, src, a)
            if (to, flag) not in found or rank < found[to, flag][0]:
                found[to, flag] = (rank, src, veh, float(p.arc_minutes[a]), delta)
    out = {int(z): {"spare": None, "other": None} for z in short}
    for (to, flag), (_, src, veh, minutes, delta) in found.items():
        entry = {
            "zone_id": str(p.zone_ids[src]),
            "vehicle": p.vehicles[veh],
            "travel_minutes": round(minutes, 3),
        }
        if delta:
            entry["change_minutes"] = delta / 1000
        out[to]["spare" if flag else "other"] = entry
    return out


@pytest.mark.parametrize("replan", [False, True])
@pytest.mark.parametrize("seed", [9, 14, 15, 35, 38])
def test_within_range_facts_follow_the_rule_in_any_arc_blocks(monkeypatch, seed, replan):
    """The couriers within range of short zones are the rule's (least cost, lowest
    origin, first arc), whether the arcs are read in one block or in blocks of three,
    in one pass (rank and arc packed in one number) or two;
    bikes and cars alike (same speed and range), so equal times from one zone go to the
    first arc (the vehicle order), across blocks too; in a re-plan (of fewer couriers,
    so that instructions change) the change cost counts."""
    from rebalance import explain

    inputs, config, start = random_city(seed, zones=9, couriers=40, slots=1)
    config = config.with_changes(vehicles={"car": {"speed_kmh": 15.0, "max_move_minutes": 20.0}})
    p = build_problem(inputs, config, start)
    if replan:
        first = solve_problem(p)
        fewer = inputs.replace(couriers=inputs.couriers.iloc[::2])
        p = build_problem(fewer, config, start, previous=first)
    calls = []
    real = explain._within_range

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(explain, "_within_range", spy)
    solve_problem(p)
    q, short, spare, kept = calls[0]
    expected = _within_range_rule(q, set(short.tolist()), spare, kept)
    if replan:  # the change cost is in play: some couriers in range would change theirs
        found = [e for v in expected.values() for e in (v["spare"], v["other"]) if e]
        assert any("change_minutes" in e for e in found)
    else:
        assert any(v["spare"] and v["other"] for v in expected.values())
    for block in (1 << 20, 3):
        monkeypatch.setattr(explain, "_ARC_BLOCK", block)
        for packed in (np.iinfo(np.int64).max, 0):  # one pass, or two when it cannot pack
            monkeypatch.setattr(explain, "_PACKED_BELOW", packed)
            assert real(q, short, spare, kept) == expected


def test_a_re_plans_reasons_count_the_instruction_a_move_would_change(tmp_path):
    """A re-plan keeps a spare courier where the previous plan told it to stay, because
    the move (travel + fixed) plus change_minutes costs more than the shortage it would
    save: the reason names that change cost, and its numbers then add up to more than
    the saving (without it they read 10.7 min against 15 saved, a false reason). With
    change_minutes 0 the same re-plan does send the courier."""
    folder = _city(tmp_path)
    before = snapshot(costs={"shortage_minutes": 6.0})
    first = rebalance.solve(rebalance.load(folder, before), before, SHIFT)
    assert first.moves.empty  # the spare couriers in A were told to stay
    config = snapshot(costs={"shortage_minutes": 15.0})
    inputs = rebalance.load(folder, config)
    plan = rebalance.solve(inputs, config, SHIFT, previous=first)
    assert plan.moves.empty
    entry = plan.explanation["short"][0]
    assert entry["reason"] == "not_worth_the_move"
    spare = entry["spare_in_range"]
    assert spare["change_minutes"] == 10.0
    why = plan.explain().short["why"].iloc[0]
    cost = spare["travel_minutes"] + 5.0 + 10.0
    assert f"the move ({cost:.1f} min with the fixed 5 min and 10 min for changing" in why
    assert cost > 15.0 > spare["travel_minutes"] + 5.0
    free = config.with_changes(costs={"change_minutes": 0.0})
    assert not rebalance.solve(inputs, free, SHIFT, previous=first).moves.empty


def test_a_re_plans_needed_where_they_are_sentence_adds_up(tmp_path):
    """Short zone B next to A, whose couriers are all needed there and were told to stay:
    taking one costs the travel, the fixed minutes and the change of its instruction,
    each once (a review found the change counted twice: "60 saved, 20.7 moving and 10
    min for changing" beside a net of 39.3)."""

    def city(name: str, b_rate: float):
        zones = [zone("A", 48.85, 2.365), zone("B", 48.85, 2.35)]
        rests = [restaurant("R1", "B", b_rate), restaurant("R2", "A", 5.0)]
        cour = [courier(f"C{i}", "A") for i in range(2)] + [courier("CB", "B")]
        return write_city(tmp_path / name, zones, rests, cour)

    config = snapshot()
    first = rebalance.solve(rebalance.load(city("first", 2.5), config), config, SHIFT)
    plan = rebalance.solve(
        rebalance.load(city("second", 10.0), config), config, SHIFT, previous=first
    )
    entry = plan.explanation["short"][0]
    assert entry["reason"] == "needed_where_they_are"
    near = entry["nearest_in_range"]
    assert near["change_minutes"] == 10.0
    why = plan.explain().short["why"].iloc[0]
    moving = near["travel_minutes"] + 5.0
    net = 60.0 - moving - 10.0
    assert (
        f"would net here (60 saved, {moving:.1f} moving, 10 min for changing the instruction" in why
    )
    assert f"cost at least the {net:.1f} min" in why


def test_the_numbers_of_a_reason_add_up_as_shown():
    """A 7.05-minute move with the fixed 5 minutes read '7 min away ... (12.1 min with
    the fixed 5 min)': the total is now the sum of the numbers shown."""
    from rebalance.explain import _why

    e = {
        "reason": "not_worth_the_move",
        "spare_in_range": {"zone_id": "B", "travel_minutes": 7.05, "vehicle": "scooter"},
    }
    text = _why(e, lambda z: f"zone {z}", 20.0, {"move_fixed_minutes": 5.0}, 1)
    assert "7 min away by scooter" in text and "(12 min with the fixed 5 min)" in text


def test_several_slot_marginal_values_stay_within_the_objective_and_blank_at_cap_0(tmp_path):
    """The slot model's marginal value is its LP's dual sum, an upper bound on the saving;
    with no demand at all the duals were degenerate: 25,000 and 50,050 min in a plan of
    50 min, and 25,000 in a zone capped at 0 that can take no courier (an auditor's MILP
    re-solved with one more courier: a saving of 0 everywhere). Now no value exceeds the
    objective (every cost is >= 0), the zone capped at 0 is blank, and the sentences say
    "at most"."""
    from rebalance import Config, load, solve
    from rebalance.explain import explain

    city = write_city(
        tmp_path / "c",
        zones=[
            zone("00", 48.85052, 2.35867, priority=1.0),
            zone("01", 48.88063, 2.35638, priority=0.001),
            zone("02", 48.88063, 2.35638, priority=0.5, cap=0),
            zone("03", 48.88063, 2.35638, cap=3),
        ],
        restaurants=[],
        couriers=[
            courier("C00", "01", "scooter", start="2026-11-30T18:00Z", until="2026-11-30T18:45Z"),
            courier("C01", "01", "ebike", start="2026-11-30T18:00Z", until="2026-11-30T19:00Z"),
            courier("C02", "02", "car", start="2026-11-30T18:00Z", until="2026-11-30T18:15Z"),
            courier("C03", "00", "scooter", start="2026-11-30T18:00Z", until="2026-11-30T19:30Z"),
        ],
    )
    config = Config().with_changes(
        city={"timezone": "UTC"},
        shift={"hours": 2.0, "slot_minutes": 30},
        demand={"orders_per_courier_hour": 0.7},
        eligibility={"min_available_minutes": 15.0},
        costs={
            "move_fixed_minutes": 50.0,
            "shortage_minutes": 100000.0,
            "surplus_minutes": 0.0,
            "change_minutes": 40.0,
        },
        travel={"detour_factor": 1.0},
        vehicles={
            "bike": {"speed_kmh": 10.0, "max_move_minutes": 0.0},
            "ebike": {"speed_kmh": 15.0, "max_move_minutes": 5.0},
            "scooter": {"speed_kmh": 10.0, "max_move_minutes": 0.0},
            "car": {"speed_kmh": 25.0, "max_move_minutes": 10.0},
        },
    )
    plan = solve(load(city, config), config, "2026-11-30T18:00Z")
    assert plan.status == "optimal" and plan.slot_count == 4
    assert plan.objective == pytest.approx(50.0)
    value = plan.zones.set_index("zone_id")["marginal_minutes"]
    assert value.drop("02").le(plan.objective + 1e-9).all(), value.to_dict()
    assert math.isnan(value["02"])
    slots = plan.slots[plan.slots["zone_id"] == "02"]["marginal_minutes"]
    assert slots.isna().all()
    assert "upper bound" in explain(plan).notes[0]


def test_the_one_slot_note_says_what_the_star_means():
    """A one-slot ranking marks zones at their cap with `*`; its note said nothing of it
    (only the several-slot note did)."""
    from util import VALID

    from rebalance import load, solve
    from rebalance.explain import explain

    plan = solve(load(VALID), snapshot(), SHIFT)
    assert plan.slot_count == 1
    assert "* = the zone is at its cap" in explain(plan).notes[0]


def test_a_plan_stopped_by_its_time_limit_claims_no_optimality(paris_plan):
    """A time-limited (feasible) plan: a note says it is not proven optimal, no reason says
    a move 'costs more than it saves', the ranking shows n/a (not 'cap full': Paris has no
    caps) and the note does not call an unknown LP 'fractional'; the bound is >= 0."""
    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(paris, config), config, SHIFT, time_limit=0.001)
    assert plan.status == "feasible"
    assert 0 <= plan.best_bound < plan.objective
    expl = plan.explain()
    assert "not proven optimal" in expl.notes[0]
    assert len(expl.short) and not expl.short["why"].str.contains("costs more than it").any()
    assert not expl.short["why"].str.contains("would cost at least").any()
    text = expl.text()
    assert "cap full" not in text and "n/a" in text and "fractional" not in text
    # the note speaks of "the reasons below": it comes before them, under the title
    assert text.index("not proven optimal") < text.index("stay short")
    # the optimal plan keeps its claims
    proven = paris_plan.explain()
    assert proven.short["why"].str.contains("costs more than it saves").all()


def test_a_route_forced_by_its_origin_cap_says_so_and_its_columns_add_up(tmp_path):
    """A's cap is 0 and its courier must leave: the route 'saves' a negative number, so it
    is flagged as required by the cap, and the table shows the shortage it adds."""
    folder = write_city(
        tmp_path / "forced",
        [zone("A", 48.85, 2.35, name="Alpha", cap=0), zone("B", 48.85, 2.365, name="Bravo")],
        [restaurant("R1", "A", 2.5)],
        [courier("C1", "A")],
    )
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    route = plan.explain().routes.iloc[0]
    assert route["cap_forced"] and route["saves_minutes"] < 0
    assert "Required: A Alpha is at its max_couriers cap" in route["why"]
    text = plan.explain().text()
    assert "Shortage added" in text and "(cap)" in text
    # slots.csv wrote this plan's zero values as -0.0
    for frame in (plan.slots, plan.zones):
        values = frame["marginal_minutes"].to_numpy(float)
        assert not np.signbit(values[values == 0]).any()


def test_the_ranking_table_says_how_many_zones_it_leaves_out(paris_plan, monkeypatch):
    """The terminal ranking prints at most MAX_EXPLAIN_ROWS zones and says how many more."""
    from rebalance.views import terminal

    monkeypatch.setattr(terminal, "MAX_EXPLAIN_ROWS", 5)
    text = paris_plan.explain().text()
    assert "... 15 more zones (--format json, or --zone ZONE_ID)" in text


def test_a_plan_not_proven_optimal_carries_no_marginal_values(monkeypatch):
    """When the time limit stops the integer stage after the LP, the last LP's duals were
    written as marginal values under a note saying there are none for an unproven plan.
    Such a plan now has none, and explain shows n/a."""
    from rebalance import slotmodel

    real = slotmodel.solve_slots

    def stopped(p, limit):
        sol = real(p, limit)
        assert sol.duals is not None  # what a stop after the LP leaves
        sol.status = "feasible"
        return sol

    monkeypatch.setattr(slotmodel, "solve_slots", stopped)
    folder = REPO / "tests" / "data" / "slots" / "HighsUnknown"
    config = rebalance.load_config(folder / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(folder, config), config, "2026-11-30T18:30")
    assert plan.status == "feasible" and plan.slot_count == 2
    assert plan.zones["marginal_minutes"].isna().all()
    assert plan.slots["marginal_minutes"].isna().all()
    text = plan.explain().text()
    assert "computed only for a proven optimal plan" in text and "n/a" in text


def test_a_cap_in_the_json_is_a_whole_number_beside_zones_without_one(tmp_path):
    """Two short zones, one capped: the JSON wrote the cap as 2.0 (a column of numbers and
    nulls); it is 2, and null for the other."""
    folder = write_city(
        tmp_path / "caps",
        [zone("B", 48.85, 2.35, cap=2), zone("C", 45.0, 2.35)],
        [restaurant("R1", "B", 10.0), restaurant("R2", "C", 10.0)],
        [courier("b1", "B"), courier("b2", "B")],
    )
    config = snapshot()
    plan = rebalance.solve(rebalance.load(folder, config), config, SHIFT)
    short = {z["zone_id"]: z for z in plan.explain().to_dict()["short_zones"]}
    assert json.dumps(short["B"]["cap"]) == "2" and short["C"]["cap"] is None


def test_a_long_zone_id_stays_whole_in_the_sentences_and_long_names_are_cut(tmp_path):
    """Names in an explanation's sentences are cut (a partner's 10,000 characters made
    70,000-character replies); ids are never cut (README), however long."""
    long_id = "Z" * 50
    city = write_city(
        tmp_path / "c",
        [
            zone("A", 48.85, 2.35, name="Nord " * 400),
            zone(long_id, 48.95, 2.35, name="Sud " * 400),
        ],
        [restaurant("r1", "A", 5.0), restaurant("r2", long_id, 1.0)],
        [courier(f"c{i}", long_id) for i in range(4)],  # spares, out of A's range
    )
    config = snapshot()
    plan = rebalance.solve(rebalance.load(city, config), config, SHIFT)
    whys = " ".join(plan.explain().short["why"])
    assert long_id in whys and len(whys) < 2000, whys[:300]
    # the name cut at 40 characters, with its "…": not 1,600 characters of "Sud Sud"
    assert f"{long_id} {('Sud ' * 10).strip()}…," in whys and whys.count("Sud") == 10


@pytest.mark.parametrize("seed", [1, 4, 9])
def test_a_re_plans_route_savings_count_the_instructions_it_changes(seed):
    """In a re-plan, a route that changes a courier's instruction pays `change_minutes`
    for it, and leaving its couriers where they were would pay it for those the
    previous plan had sent elsewhere: "saves" left both out, 10 min too much for a
    changed instruction and 10 min too little per kept one. Recomputed from the files
    (the previous plan's slot-0 destinations, or the courier's own zone), each route
    saves the objective with it undone minus the plan's."""
    inputs, config, start = random_city(seed, zones=6, couriers=30, slots=4)
    first = rebalance.solve(inputs, config, start)
    rests = inputs.restaurants.copy()
    rests["zone_id"] = np.roll(rests["zone_id"].to_numpy(), 3)
    again = inputs.replace(restaurants=rests)
    plan = rebalance.solve(again, config, start, previous=first)
    c = config.costs
    files = _FromFiles(plan, inputs, config, start)
    told = inputs.couriers.set_index("courier_id")["zone_id"].astype(str).to_dict()
    for m in first.moves[first.moves["slot_start"] == start].itertuples():
        told[m.courier_id] = m.to_zone  # the previous plan's instruction now
    expl = plan.explain().routes
    assert len(expl)
    kinds = set()
    for route in expl.to_dict("records"):
        a, b = route["from_zone"], route["to_zone"]
        mine = files.route(a, b)
        moving = mine["travel_minutes"].sum() + c.move_fixed_minutes * len(mine)
        change = c.change_minutes * sum(
            int(told[cid] != b) - int(told[cid] != a) for cid in mine["courier_id"]
        )
        kinds.add(int(np.sign(change)))
        assert route["instruction_change_minutes"] == pytest.approx(change, abs=1e-6)
        saves = files.undone(mine, a, b) - moving - change
        assert route["saves_minutes"] == pytest.approx(saves, abs=5e-3), route
    assert kinds - {0}, "no route changed or kept an instruction: the case is not tested"


def test_the_notes_wrap_under_their_label_in_an_80_column_terminal(tmp_path):
    """`rebalance explain` was printed with soft_wrap: in an 80-column terminal its
    note on marginal values (300 characters) ran off the edge, folded mid-word at the
    margin by the terminal. In a terminal it now wraps at words under "Marginal value:
    "; piped, it stays one line for a log or a script."""
    import re

    paris = REPO / "data" / "samples" / "paris"
    rebalance.solve(rebalance.load(paris), None, SHIFT).write(tmp_path / "plan")
    args = ["explain", str(tmp_path / "plan")]
    env = {"COLUMNS": "80", "NO_COLOR": "1"}
    shown = CliRunner().invoke(app, args, env={**env, "TTY_COMPATIBLE": "1"})
    assert shown.exit_code == 0, shown.output
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.stdout).splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    at = next(i for i, line in enumerate(lines) if line.startswith("Marginal value: "))
    assert lines[at + 1].startswith(" " * len("Marginal value: ") + "shift"), lines[at:]
    piped = CliRunner().invoke(app, args, env=env)
    (note,) = [line for line in piped.stdout.splitlines() if line.startswith("Marginal value")]
    assert len(note) > 200  # whole
