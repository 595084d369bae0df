"""What changed between two plans (CONTRACT section 9): `Plan.diff`, `rebalance diff`
and the Slack revision, one implementation (rebalance.diff)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from util import REPO, trade_destinations, write_city
from util import courier as courier_row
from util import restaurant as restaurant_row
from util import zone as zone_row

import rebalance
from rebalance.cli import app
from rebalance.generate import generate_city
from rebalance.history import History
from rebalance.publish import publish

PARIS = REPO / "data" / "samples" / "paris"
SHIFT = "2026-11-30T19:00"
CHANNEL = "C0PLANS"


@pytest.fixture(scope="module")
def traders(tmp_path_factory):
    """A generated city of 200 zones and 6,000 couriers planned in one slot: zones that
    send couriers of one vehicle to several others, pairs of couriers who can trade
    destinations (`trade_destinations`)."""
    city = generate_city(
        tmp_path_factory.mktemp("traders") / "city",
        zones=200,
        couriers=6000,
        restaurants=2400,
        seed=0,
    )
    config = rebalance.load_config(city / "rebalance.toml").with_changes(
        shift={"slot_minutes": 240}
    )
    return rebalance.solve(rebalance.load(city, config), config, SHIFT)


@pytest.fixture(scope="module")
def revision():
    """The Paris plan, and its re-plan after the busiest restaurants of the zone that
    receives most couriers closed: (config, plan, re-plan, that zone)."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    zones = plan.zones.set_index("zone_id")
    target = zones[zones["moved_in"] > 0]["moved_in"].idxmax()
    rest = inputs.restaurants
    in_zone = rest[(rest["zone_id"] == target) & (rest["status"] == "open")]
    closed = in_zone.sort_values("expected_orders_per_hour").tail(3)["restaurant_id"]
    status = rest["status"].where(~rest["restaurant_id"].isin(closed), "closed")
    changed = inputs.replace(restaurants=rest.assign(status=status))
    again = rebalance.solve(changed, config, SHIFT, previous=plan)
    return config, plan, again, str(target)


def test_diff_names_who_is_rerouted_and_the_zone_whose_need_fell(revision):
    """Couriers sent to the zone whose restaurants closed are re-routed, and the diff
    says its need went down; a plan compared with itself shows no change."""
    _, plan, again, target = revision
    d = plan.diff(again)
    rerouted = d.of_kind("rerouted")
    # the model counts changed slot-0 instructions; the diff every changed move
    assert rerouted and d.changed_couriers >= again.kpis["changed_couriers"] > 0
    away = [c for c in rerouted if c.was_to == target]
    assert away, "a courier bound for the closed restaurants' zone is sent elsewhere"
    why = {zone: (x, y) for zone, x, y in d.need_changes(away[0])}
    assert why[target][0] > why[target][1]
    assert target in d.zones
    same = plan.diff(plan)
    assert same.empty and same.changed_couriers == 0 and same.unchanged == len(plan.moves)


def test_cli_diff_json_and_table(revision, tmp_path):
    """`rebalance diff A B` prints the KPIs side by side, the zones that changed and the
    re-routed couriers with why, as JSON and as a table."""
    _, plan, again, target = revision
    a, b = plan.write(tmp_path / "a"), again.write(tmp_path / "b")
    runner = CliRunner()
    out = runner.invoke(app, ["diff", str(a), str(b), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    kpis = {row["kpi"]: (row["a"], row["b"]) for row in data["kpis"]}
    assert kpis["moved_couriers"] == (plan.kpis["moved_couriers"], again.kpis["moved_couriers"])
    assert target in {z["zone_id"] for z in data["zones"]}
    d = plan.diff(again)
    assert {c["courier_id"] for c in data["couriers"]["rerouted"]} == {
        c.courier_id for c in d.of_kind("rerouted")
    }
    first = next(c for c in data["couriers"]["rerouted"] if c["was_to"] == target)
    assert first["slot_start"].startswith("2026-11-30T19:00") and first["why"]
    assert data["couriers"]["changed"] == d.changed_couriers
    table = runner.invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "Re-routed" in table.output and "Zones whose numbers changed" in table.output
    assert first["courier_id"] in table.output and "coverage" in table.output


def test_diff_on_a_narrow_terminal_cuts_no_number_and_no_short_name(revision, tmp_path):
    """README: numbers and ids are never cut, names wrap and end in "…" only past 60
    characters. At 40 columns the diff cut travel minutes to "1,45…", and at 80 every
    zone name past 25 characters ("75117 17e - Batignolles-M…")."""
    import dataclasses

    _, plan, again, _ = revision
    plan, again = (
        dataclasses.replace(p, zones=p.zones.assign(name=p.zones["name"] + " (quartier)"))
        for p in (plan, again)
    )
    a, b = plan.write(tmp_path / "a"), again.write(tmp_path / "b")
    for width in (40, 80):
        table = CliRunner().invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": str(width)})
        assert table.exit_code == 0, table.output
        assert "…" not in table.output, table.output
        for _, x, y in plan.diff(again).kpis():
            for value in (x, y):
                if isinstance(value, float) and value == value:
                    assert f"{value:,.1f}" in table.output or f"{value:.1%}" in table.output
        # zone ids of the couriers' tables stay whole on one line (75113, not 751 / 13),
        # and the Why column is not squeezed out (at 40: a wrapped line per group)
        words = [word.strip(",;") for word in table.output.split()]
        for change in plan.diff(again).changes:
            for zone in (change.from_zone, change.to_zone):
                assert zone in words, (width, zone, table.output)
        kinds = sum(bool(plan.diff(again).groups(kind)) for kind in ("rerouted", "dropped"))
        assert kinds and " ".join(table.output.split()).count("Why: need A -> B") >= kinds
    wide = CliRunner().invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "80"}).output
    names = dict(zip(plan.zones["zone_id"], plan.zones["name"], strict=True))
    changed = [z for z in plan.diff(again).zones if len(f"{z} {names[z]}") > 26]
    assert changed and all(f"{z} {names[z]}" in wide for z in changed)


def test_groups_come_largest_first_and_a_zone_new_in_b_is_listed(revision):
    """Re-routed couriers are grouped by route, the largest group first (2 couriers, then
    1); a zone plan A does not have is a changed zone ("only in B"), not left out."""
    import dataclasses

    _, plan, again, _ = revision
    diff = plan.diff(again)
    sizes = [len(group) for _, group in diff.groups("rerouted")]
    assert sizes == sorted(sizes, reverse=True), sizes
    # a plan B whose re-routes are known, whatever the solver's choice among equal plans:
    # of one route's couriers, one is sent to zone y, then two to zone x
    moves = plan.moves
    route = moves.groupby(["slot_start", "from_zone", "to_zone"]).size().idxmax()
    on_route = moves.set_index(["slot_start", "from_zone", "to_zone"]).index == route
    (first, second, third), others = (
        np.flatnonzero(on_route)[:3],
        [z for z in plan.zones["zone_id"] if z not in route[1:]],
    )
    to = moves["to_zone"].to_numpy(dtype=object).copy()
    to[first], to[second], to[third] = others[1], others[0], others[0]
    moved = dataclasses.replace(plan, moves=moves.assign(to_zone=to))
    groups = plan.diff(moved).groups("rerouted")
    assert [(len(g), key[2]) for key, g in groups] == [(2, others[0]), (1, others[1])]
    ok = str(plan.zones.loc[plan.zones["action"] == "ok", "zone_id"].iloc[0])
    without = dataclasses.replace(
        plan,
        zones=plan.zones[plan.zones["zone_id"] != ok],
        slots=plan.slots[plan.slots["zone_id"] != ok],
    )
    x, y = without.diff(plan).zones[ok]
    assert x is None and y is not None


def test_a_replan_at_a_later_start_counts_the_couriers_under_way():
    """Plan B made at 19:30 against plan A of 19:00: A's moves that started before 19:30
    are under way, said in the headline and the JSON."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT)
    b = rebalance.solve(inputs, config, "2026-11-30T19:30", previous=a, warn=False)
    diff = a.diff(b)
    started = int((a.moves["slot_start"] < b.shift_start).sum())
    assert diff.under_way == started > 100
    assert diff.headline().endswith(f", {started} under way")


def test_a_replan_at_a_later_start_is_compared_with_the_old_plan_s_slot_then(tmp_path):
    """`rebalance diff` of the 19:00 plan and its 19:30 re-plan on the same data said
    "20 zones changed": it compared the 19:00 numbers with the 19:30 ones. The old
    plan's 19:30 slot (slots.csv) is what it had planned for then; against it nothing
    changed. A zone whose need changed at 19:30 is still listed, with those numbers."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT, warn=False)
    b = rebalance.solve(inputs, config, "2026-11-30T19:30", previous=a, warn=False)
    assert a.diff(b).zones == {}
    on_disk = rebalance.read_plan(a.write(tmp_path / "a")).diff(
        rebalance.read_plan(b.write(tmp_path / "b"))
    )
    assert on_disk.zones == {} and on_disk.headline().startswith("0 zones changed")
    zone = str(b.zones["zone_id"].iloc[0])
    need = b.zones["required_couriers"].iloc[0]
    bumped = b.zones.assign(
        required_couriers=b.zones["required_couriers"].where(b.zones["zone_id"] != zone, need + 5)
    )
    changed = a.diff(dataclasses.replace(b, zones=bumped)).zones
    (x, y) = changed[zone]
    at_1930 = a.slots[(a.slots["zone_id"] == zone) & (a.slots["slot_start"] == b.shift_start)]
    assert list(changed) == [zone] and (x[0], y[0]) == (
        int(at_1930["required_couriers"].iloc[0]),
        need + 5,
    )


def test_diff_never_cuts_a_zone_id_only_its_name(revision, tmp_path):
    """`rebalance diff` cut the whole "id name" label at 60 characters, so a zone id of
    more than 60 characters (as exported by some systems) lost its end, and the From /
    To / Was to columns of moved couriers cut ids at any width that did not fit them;
    now the name is cut, the id stays whole (and folds on a narrow terminal)."""
    import dataclasses

    _, plan, again, _ = revision
    long_ids = {z: f"{z}-" + "x" * 70 for z in plan.zones["zone_id"]}
    plan, again = (
        dataclasses.replace(
            p,
            zones=p.zones.assign(zone_id=p.zones["zone_id"].map(long_ids)),
            moves=p.moves.assign(
                from_zone=p.moves["from_zone"].map(long_ids),
                to_zone=p.moves["to_zone"].map(long_ids),
            ),
            slots=p.slots.assign(zone_id=p.slots["zone_id"].map(long_ids)),
        )
        for p in (plan, again)
    )
    a, b = plan.write(tmp_path / "a"), again.write(tmp_path / "b")
    out = CliRunner().invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "300"}).output
    diff = plan.diff(again)
    assert diff.zones and [z for z in diff.zones if z not in out] == [], out
    assert "…" not in out, out
    # on a narrow terminal the ids fold over lines; none is cut
    narrow = CliRunner().invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "80"}).output
    assert "…" not in narrow, narrow


def _without_its_first_mover(tmp_path):
    """The Paris plan, the plan of the same inputs without the courier of its first
    move, that courier's id, and both written as folders a and b."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    gone = str(plan.moves["courier_id"].iloc[0])
    couriers = inputs.couriers[inputs.couriers["courier_id"] != gone]
    again = rebalance.solve(inputs.replace(couriers=couriers), config, SHIFT)
    return plan, again, gone, plan.write(tmp_path / "a"), again.write(tmp_path / "b")


def test_a_courier_who_left_the_data_is_dropped_because_gone_not_need(tmp_path):
    """A courier moved in plan A and absent from plan B's couriers: `rebalance diff`
    says in Why that the plan cannot use the courier (off shift, busy or offline, or
    gone from the data), not that no need changed; couriers still there keep their own
    reason."""
    from rebalance.views.wording import COURIER_GONE

    plan, again, gone, a, b = _without_its_first_mover(tmp_path)
    runner = CliRunner()
    table = runner.invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    dropped_table = table.output[table.output.index("Dropped") :]
    row = next(line for line in dropped_table.splitlines() if gone in line)
    assert "not among the couriers" in row and "no need changed" not in row, row
    words = " ".join(dropped_table.split())
    assert COURIER_GONE in words, words
    out = runner.invoke(app, ["diff", str(a), str(b), "--format", "json"])
    dropped = {c["courier_id"]: c for c in json.loads(out.stdout)["couriers"]["dropped"]}
    assert dropped[gone]["courier_gone"] is True
    assert all(c["courier_gone"] is False for k, c in dropped.items() if k != gone)
    # the Slack thread reply of the revision says it too
    from rebalance.publish.changes import describe_diff

    reply = next(x for x in describe_diff(plan.diff(again)).splitlines() if gone in x)
    assert f"because {COURIER_GONE}" in reply


@pytest.mark.parametrize("after", [0, 15])
def test_a_dropped_move_whose_courier_now_logs_off_before_it_says_so(slack_env, tmp_path, after):
    """A courier with a move at 20:00 who now logs off at 20:00, or at 20:15 (too soon to
    count in the 20:00 slot by section 7's rule: min_available_minutes 60, slots of 30),
    is still among the couriers, so his dropped move read "no need changed" in
    `rebalance diff` and in the Slack revision. Both now say he is no longer there then,
    and when he logs off; so does the JSON, and a plan read back from its folder (the
    times are kept in roster.parquet)."""
    import pyarrow.parquet as pq

    from rebalance.publish.changes import describe_diff

    config = rebalance.load_config(PARIS / "rebalance.toml").with_changes(
        slack={"channel": CHANNEL}
    )
    inputs = rebalance.load(PARIS, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    starts = sorted(plan.moves["slot_start"].unique())
    late = plan.moves[plan.moves["slot_start"] == starts[2]].iloc[0]
    leaver, due = str(late["courier_id"]), pd.Timestamp(late["slot_start"])
    couriers = inputs.couriers.copy()
    off = due + pd.Timedelta(minutes=after)
    couriers.loc[couriers["courier_id"] == leaver, "available_until"] = off
    again = rebalance.solve(inputs.replace(couriers=couriers), config, SHIFT, previous=plan)
    d = plan.diff(again)
    (change,) = [c for c in d.of_kind("dropped") if c.courier_id == leaver]
    assert leaver not in d.gone
    said = f"no longer there then (logs off at {d.b.label(int(off.value))})"
    assert d.courier_reason(change) == said
    a, b = plan.write(tmp_path / "a"), again.write(tmp_path / "b")
    assert pq.read_schema(b / "roster.parquet").names == [
        "courier_id",
        "available_from",
        "available_until",
    ]
    runner = CliRunner()
    table = runner.invoke(app, ["diff", str(a), str(b)], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    row = next(x for x in table.output[table.output.index("Dropped") :].splitlines() if leaver in x)
    assert said in row and "no need changed" not in row, row
    out = runner.invoke(app, ["diff", str(a), str(b), "--format", "json"])
    dropped = {c["courier_id"]: c for c in json.loads(out.stdout)["couriers"]["dropped"]}
    assert dropped[leaver]["courier_gone"] is False
    assert dropped[leaver]["courier_available_then"] is False
    assert pd.Timestamp(dropped[leaver]["available_until"]) == off
    assert all(c["courier_available_then"] for k, c in dropped.items() if k != leaver)
    reply = next(x for x in describe_diff(d).splitlines() if leaver in x)
    assert f"because {said}" in reply, reply
    with History(tmp_path / "history.sqlite3") as history:
        first = publish(plan, config=config, history=history)
        assert publish(again, config=config, history=history).action == "updated"
    note = " ".join(slack_env.replies(first.ts, CHANNEL)[-1]["text"].split())
    assert re.search(rf"{leaver}: no longer [^•]* because {re.escape(said)}", note), note


def test_a_move_dropped_for_need_is_not_blamed_on_hours_a_later_grid_does_not_match(
    tmp_path,
):
    """C1 logs on at 20:00 and plan A (19:00, 30-minute slots) sends him on at 20:00;
    plan B starts at 19:15, with the restaurant of his destination closed. His slots in
    B start at 20:15, but his hours did not change: the reason is the need that fell,
    not "not there yet". A courier B does not have at all is not available then."""
    folder = write_city(
        tmp_path / "grid",
        [zone_row("Z1", 48.850, 2.350), zone_row("Z2", 48.855, 2.350)],
        [restaurant_row("R1", "Z2", 2.5)],
        [courier_row("C1", "Z1", start="2026-11-30T20:00", until="2026-11-30T23:30")],
    )
    config = rebalance.Config().with_changes(shift={"slot_minutes": 30})
    inputs = rebalance.load(folder, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    assert plan.moves[["courier_id", "to_zone"]].values.tolist() == [["C1", "Z2"]]
    closed = inputs.restaurants.assign(status="closed")
    later = rebalance.solve(
        inputs.replace(restaurants=closed), config, "2026-11-30T19:15", previous=plan
    )
    d = plan.diff(later)
    (change,) = d.of_kind("dropped")
    assert d.absent(change) is None and d.courier_reason(change) is None
    assert d.need_changes(change) == [("Z2", 1, 0)]
    (item,) = d.to_dict()["couriers"]["dropped"]
    assert item["courier_available_then"] is True and "available_from" not in item
    # and one B does not have at all (offline now)
    offline = inputs.couriers.assign(status="offline")
    gone = plan.diff(
        rebalance.solve(inputs.replace(couriers=offline), config, "2026-11-30T19:15", warn=False)
    )
    (item,) = gone.to_dict()["couriers"]["dropped"]
    assert item["courier_gone"] is True and item["courier_available_then"] is False


def test_a_roster_in_a_folder_whose_name_holds_a_colon_is_read(tmp_path, monkeypatch):
    """`plan --out paris-19:00` then `--previous paris-19:00`: pyarrow read the relative
    path as a URI, so the roster was "unreadable" and every courier counted as known
    (those logged in since were charged change_minutes). It is read from the file."""
    monkeypatch.chdir(tmp_path)
    config = rebalance.load_config(PARIS / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(PARIS, config), config, SHIFT)
    plan.write(Path("paris-19:00"))
    back = rebalance.read_plan(Path("paris-19:00"))
    assert back.roster_note == "" and len(back.roster) == len(plan.roster)
    assert back.presence is not None and back.presence[1].tolist() == plan.presence[1].tolist()


def test_the_under_way_count_leaves_out_couriers_b_no_longer_has(tmp_path):
    """Couriers sent at 19:00 who went offline by 19:30 were still counted "under way"
    in the diff (139 against the re-plan's 136 on their way) and said nowhere else."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    first = plan.moves[plan.moves["slot_start"] == plan.moves["slot_start"].min()]
    off = first["courier_id"].astype(str).head(3).tolist()
    couriers = inputs.couriers.copy()
    couriers.loc[couriers["courier_id"].isin(off), "status"] = "offline"
    later = rebalance.solve(
        inputs.replace(couriers=couriers), config, "2026-11-30T19:30", previous=plan, warn=False
    )
    d = plan.diff(later)
    assert d.under_way == len(later.under_way) == len(first) - 3


def test_a_time_that_comes_twice_says_its_zone():
    """On the autumn night, a courier who "logs off at 02:45" after a 02:00 CET move
    read as 15 minutes after it; that 02:45 was CEST, before it. Times that are not
    slot starts say their zone where the clock shows them twice."""
    from rebalance.diff import PlanView

    start = pd.Timestamp("2026-10-25T01:00", tz="Europe/Paris").value
    view = PlanView(
        city="X",
        plan_id="p",
        timezone="Europe/Paris",
        shift_start=start,
        shift_end=start + 4 * 3600 * 10**9,
        slot_minutes=30,
        zones={},
        needs={},
        moves={},
    )
    cest = pd.Timestamp("2026-10-25T02:45+02:00").value
    cet = pd.Timestamp("2026-10-25T02:10+01:00").value
    assert (view.label(cest), view.label(cet)) == ("02:45 CEST", "02:10 CET")
    assert view.label(pd.Timestamp("2026-10-25T04:10+01:00").value) == "04:10"


def test_a_roster_without_presence_reads_as_unknown(tmp_path):
    """A roster.parquet written before the presence times were kept (courier ids only)
    still reads: the ids are the roster, and whether a dropped courier is there at his
    move's time is unknown (null in the JSON), not false."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, again, gone, a, b = _without_its_first_mover(tmp_path)
    ids = pq.read_table(b / "roster.parquet", columns=["courier_id"])
    pq.write_table(pa.table({"courier_id": ids.column(0)}), b / "roster.parquet")
    back = rebalance.read_plan(b)
    assert back.presence is None and len(back.roster) == len(again.roster)
    out = CliRunner().invoke(app, ["diff", str(a), str(b), "--format", "json"])
    dropped = json.loads(out.stdout)["couriers"]["dropped"]
    assert [c["courier_id"] for c in dropped if c["courier_gone"]] == [gone]
    # unknown for the others; a courier B does not have is not available, times or not
    assert all(
        c["courier_available_then"] is (False if c["courier_gone"] else None) for c in dropped
    )


def test_cli_diff_of_a_broken_folder_is_exit_3(revision, tmp_path):
    """A plan folder without moves.csv is exit 3 naming the file."""
    _, plan, _, _ = revision
    a = plan.write(tmp_path / "a")
    (a / "moves.csv").unlink()
    out = CliRunner().invoke(app, ["diff", str(a), str(a)])
    assert out.exit_code == 3 and "moves.csv" in out.output


def test_slack_revision_names_rerouted_couriers_and_why(revision, slack_env, tmp_path):
    """Publishing the re-plan of the same shift edits the parent ("revised HH:MM: N
    couriers re-routed") and its thread reply names the re-routed couriers and the zone
    whose need changed; route lines mark moves as new, changed or unchanged."""
    config, plan, again, target = revision
    config = config.with_changes(slack={"channel": CHANNEL})
    with History(tmp_path / "history.sqlite3") as history:
        first = publish(plan, config=config, history=history)
        revised = publish(again, config=config, history=history)
    assert (first.action, revised.action) == ("posted", "updated")
    [parent] = slack_env.messages(CHANNEL)
    d = plan.diff(again)
    line = re.search(r"revised (\d\d:\d\d): (\d+) couriers? with new instructions", parent["text"])
    assert line and int(line.group(2)) == d.changed_couriers
    # "re-routed" is the diff's word for one kind of change only ("0 re-routed, 2 added,
    # 6 dropped" beside "8 couriers re-routed" in the parent, QA)
    assert d.changed_couriers == sum(len(d.of_kind(k)) for k in ("rerouted", "added", "dropped"))
    assert "re-routed" not in parent["text"]
    context = [b for b in parent["blocks"] if b["type"] == "context"]
    assert any("with new instructions" in e["text"] for b in context for e in b["elements"])
    routes = "\n".join(
        b["text"]["text"] for b in parent["blocks"] if b["type"] == "section" and "text" in b
    )
    assert "_unchanged_" in routes or "unchanged_" in routes
    note = slack_env.replies(first.ts, CHANNEL)[-1]["text"]
    assert note.startswith("*Plan revised.*")
    assert f"*{d.changed_couriers}* courier" in note
    assert "*Sent elsewhere or at another time (" in note
    names = dict(zip(plan.zones["zone_id"], plan.zones["name"], strict=True))
    away = next(c for c in d.of_kind("rerouted") if c.was_to == target)
    assert away.courier_id in note
    assert re.search(
        rf"because [^\n]*{target} {re.escape(names[target])[:10]}[^\n]* needs \d+ → \d+", note
    )
    # the thread's two sets of files are told apart: by their names, and by the note
    # above the revision's (the first set kept the names the revision's had)
    uploads = [r for r in slack_env.replies(first.ts, CHANNEL) if r.get("files")]
    first_files, revised_files = ([f["name"] for f in r["files"]] for r in uploads)
    assert all(plan.plan_id[:8] in n for n in first_files)
    assert all(again.plan_id[:8] in n for n in revised_files)
    assert not set(first_files) & set(revised_files)
    assert "those posted earlier in this thread are not" in uploads[-1]["text"]
    assert "posted earlier" not in uploads[0]["text"]


def test_snapshot_of_a_slotted_plan_keeps_each_move_and_its_slot(revision):
    """The history snapshot keeps every move with its slot, so a diff read back from it
    equals the diff of the plans."""
    from rebalance.publish import snapshot
    from rebalance.publish.changes import snapshot_diff

    _, plan, again, _ = revision
    assert plan.slot_count > 1
    from_snapshots = snapshot_diff(snapshot(plan), snapshot(again))
    direct = plan.diff(again)
    assert from_snapshots.changes == direct.changes and from_snapshots.zones == direct.zones
    assert sum(map(len, snapshot(plan)["moves"].values())) == len(plan.moves)
    assert pd.Series([len(v) for v in snapshot(plan)["moves"].values()]).max() >= 1


def test_a_move_re_timed_across_the_re_plans_start_is_changed():
    """The re-plan at 18:15 moves c1 A -> B now, where the plan of 18:00 moved it at
    18:30: within one slot, but what c1 does now changed (section 9 charges
    change_minutes for it), so it is re-routed, not unchanged. The same move kept
    after the start (18:45) is unchanged, and so is one kept at the start."""
    from rebalance.diff import PlanView, diff_views

    minute = 60_000_000_000
    t0 = pd.Timestamp("2026-11-30T18:00", tz="UTC").value

    def view(start: int, moves: dict) -> PlanView:
        return PlanView("X", f"p{start}", "UTC", start, start + 120 * minute, 30, {}, {}, moves)

    old = view(t0, {"c1": [(t0 + 30 * minute, "A", "B")], "c2": [(t0 + 15 * minute, "A", "B")]})
    start = t0 + 15 * minute
    earlier = view(start, {"c1": [(start, "A", "B")], "c2": [(start, "A", "B")]})
    result = diff_views(old, earlier)
    assert result.status == {"c1": ["changed"], "c2": ["unchanged"]}
    assert [c.courier_id for c in result.of_kind("rerouted")] == ["c1"]
    later = view(start, {"c1": [(start + 30 * minute, "A", "B")]})
    assert diff_views(old, later).status["c1"] == ["unchanged"]


def test_a_courier_who_drifted_and_is_sent_to_the_same_zone_is_unchanged():
    """The 18:00 plan sends c1 A -> B at 18:30; at the 18:30 re-plan couriers.csv has
    c1 in C, and it is sent C -> B: its instruction (go to B now) is the one it had,
    and section 9 charges nothing, so it is unchanged, not re-routed."""
    from rebalance.diff import PlanView, diff_views

    minute = 60_000_000_000
    t0 = pd.Timestamp("2026-11-30T18:00", tz="UTC").value

    def view(start: int, moves: dict) -> PlanView:
        return PlanView("X", f"p{start}", "UTC", start, start + 120 * minute, 30, {}, {}, moves)

    start = t0 + 30 * minute
    old = view(t0, {"c1": [(start, "A", "B")]})
    result = diff_views(old, view(start, {"c1": [(start, "C", "B")]}))
    assert result.status == {"c1": ["unchanged"]} and result.of_kind("rerouted") == []
    moved_elsewhere = diff_views(old, view(start, {"c1": [(start, "C", "D")]}))
    assert moved_elsewhere.status == {"c1": ["changed"]}


def test_a_courier_on_his_way_sent_on_at_the_start_is_changed_not_new():
    """The 18:00 plan sends c1 A -> B at 18:00 (under way at the 18:30 re-plan); sent on
    B -> D at 18:30, what he does now changed (section 9 charges it), so it is re-routed
    from his move under way, not an added move; sent on later, it is a new move."""
    from rebalance.diff import PlanView, diff_views

    minute = 60_000_000_000
    t0 = pd.Timestamp("2026-11-30T18:00", tz="UTC").value

    def view(start: int, moves: dict) -> PlanView:
        return PlanView("X", f"p{start}", "UTC", start, start + 120 * minute, 30, {}, {}, moves)

    start = t0 + 30 * minute
    for old_moves in ([(t0, "A", "B")], [(t0, "A", "B"), (start + 60 * minute, "B", "E")]):
        old = view(t0, {"c1": old_moves})
        now = diff_views(old, view(start, {"c1": [(start, "B", "D")]}))
        assert now.status == {"c1": ["changed"]} and now.under_way == 0
        (change,) = now.of_kind("rerouted")
        assert (change.was_when, change.was_to, change.to_zone) == (t0, "B", "D")
        assert [c.kind for c in now.changes] == ["rerouted", "dropped"][: len(old_moves)]
    old = view(t0, {"c1": [(t0, "A", "B")]})
    later = diff_views(old, view(start, {"c1": [(start + 30 * minute, "B", "D")]}))
    assert later.status == {"c1": ["new"]} and later.under_way == 1


def test_the_moves_file_marks_as_changed_every_instruction_plan_json_counts_changed():
    """A re-plan at 19:30 that sends on couriers still on their way (their zone closed,
    changes free): moves.csv said ``new`` for each while plan.json counted them in
    ``changed_couriers``. Now the couriers marked changed at the start, with those whose
    move due then was dropped, are the ones plan.json counts."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    config = config.model_copy(
        update={"costs": config.costs.model_copy(update={"change_minutes": 0.0})}
    )
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT, warn=False)
    start = a.shift_start + pd.Timedelta(minutes=30)
    on_way = a.moves[a.moves["slot_start"] < start]
    busiest = on_way["to_zone"].value_counts().index[0]
    restaurants = inputs.restaurants.copy()
    restaurants.loc[restaurants["zone_id"] == busiest, "status"] = "closed"
    couriers = inputs.couriers.copy()
    couriers.loc[~couriers["courier_id"].isin(a.moves["courier_id"]), "status"] = "busy"
    later = inputs.replace(restaurants=restaurants, couriers=couriers)
    b = rebalance.solve(later, config, start.isoformat(), previous=a, warn=False)
    now = b.moves[b.moves["slot_start"] == b.shift_start]
    sent_on = now[now["courier_id"].isin(on_way["courier_id"])]
    assert len(sent_on) >= 5 and set(sent_on["since_previous"]) == {"changed"}
    diff = a.diff(b)
    dropped_now = {c.courier_id for c in diff.of_kind("dropped") if c.when == b.shift_start.value}
    changed_now = set(now.loc[now["since_previous"] == "changed", "courier_id"])
    assert len(changed_now | dropped_now) == b.kpis["changed_couriers"]


def test_a_courier_who_carried_out_his_move_is_unchanged_not_no_longer_moving(slack_env, tmp_path):
    """A revision of the 19:00 plan after the couriers it moved reached their zones
    (couriers.csv has them there): the Slack reply said "139 no longer moving" and the
    diff "139 dropped", although nobody was told anything new and plan.json charged
    nothing. The new plan now lists them as ``arrived`` (kept in plan.json), and the
    diff, in memory or from the folders, counts their moves unchanged."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT, warn=False)
    now = a.moves[a.moves["slot_start"] == a.shift_start]
    there = dict(zip(now["courier_id"].astype(str), now["to_zone"].astype(str), strict=True))
    couriers = inputs.couriers.copy()
    ids = couriers["courier_id"].astype(str)
    couriers["zone_id"] = ids.map(there).fillna(couriers["zone_id"].astype(str))
    b = rebalance.solve(inputs.replace(couriers=couriers), config, SHIFT, previous=a, warn=False)
    assert b.kpis["changed_couriers"] == 0
    assert set(b.arrived) == set(there) and len(there) > 100
    diff = a.diff(b)
    start = b.shift_start.value  # (later moves may be traded for others as good)
    assert not [c for c in diff.changes if start in (c.when, c.was_when)], diff.headline()
    assert diff.unchanged >= len(b.arrived)
    a_dir, b_dir = a.write(tmp_path / "a"), b.write(tmp_path / "b")
    again = rebalance.read_plan(a_dir).diff(rebalance.read_plan(b_dir))
    assert rebalance.read_plan(b_dir).arrived == b.arrived
    assert again.headline() == diff.headline()
    config = config.with_changes(slack={"channel": CHANNEL})
    with History(tmp_path / "history.sqlite3") as history:
        publish(a, config=config, history=history)
        assert publish(b, config=config, history=history).action == "updated"
    [parent] = slack_env.messages(CHANNEL)
    said = re.search(r"revised \d\d:\d\d: (\d+) couriers? with new instructions", parent["text"])
    assert said and int(said.group(1)) == diff.changed_couriers < 10, parent["text"]


def test_an_arrived_courier_sent_on_later_is_new_and_one_sent_on_now_is_changed():
    """Arrived (his move due at the start carried out): a later move of his is new, not
    paired with the move he made; a move at the start from where he is is re-routed (what
    he does now changed, as section 9 charges)."""
    from rebalance.diff import PlanView, diff_views

    minute = 60_000_000_000
    start = pd.Timestamp("2026-11-30T18:00", tz="UTC").value

    def view(moves: dict, arrived=frozenset()) -> PlanView:
        return PlanView(
            "X", "p", "UTC", start, start + 120 * minute, 30, {}, {}, moves, arrived=arrived
        )

    old = view({"c1": [(start, "A", "B")]})
    assert diff_views(old, view({})).of_kind("dropped")
    done = diff_views(old, view({}, frozenset({"c1"})))
    assert (done.changes, done.unchanged) == ([], 1)
    later = diff_views(old, view({"c1": [(start + 60 * minute, "B", "C")]}, frozenset({"c1"})))
    assert later.status == {"c1": ["new"]} and later.unchanged == 1
    assert [c.kind for c in later.changes] == ["added"]
    now = diff_views(old, view({"c1": [(start, "B", "C")]}, frozenset({"c1"})))
    assert now.status == {"c1": ["changed"]} and now.unchanged == 0


def test_the_revision_reply_s_numbers_add_up_when_a_courier_has_two_changes():
    """The reply said "139 couriers with new instructions (2 sent elsewhere ..., 0 newly
    moving, 139 no longer moving)": 141, because two couriers each lost two moves. When
    the moves outnumber the couriers, the parts are said to count moves."""
    from rebalance.diff import PlanView, diff_views
    from rebalance.publish.changes import describe_diff

    minute = 60_000_000_000
    start = pd.Timestamp("2026-11-30T18:00", tz="UTC").value

    def view(moves: dict) -> PlanView:
        return PlanView("X", "p", "UTC", start, start + 120 * minute, 30, {}, {}, moves)

    old = view(
        {"c1": [(start, "A", "B"), (start + 60 * minute, "B", "C")], "c2": [(start, "A", "D")]}
    )
    two = describe_diff(diff_views(old, view({"c2": [(start, "A", "E")]})))
    assert "*2* couriers with new instructions (3 moves: 1 sent elsewhere" in two, two
    assert "0 new, 2 no longer made)" in two
    one = describe_diff(diff_views(old, view({"c1": old.moves["c1"], "c2": [(start, "A", "E")]})))
    assert "(1 sent elsewhere or at another time, 0 newly moving, 0 no longer moving)" in one


def test_a_replan_of_a_replan_sees_couriers_on_their_way_by_the_first_plan(tmp_path):
    """19:00, then 19:30 against it (139 couriers on their way by 19:00 moves, kept in
    its plan.json's under_way), then 20:00 against 19:30 with the zone most of them are
    headed for closed: those it sends on at 20:00 were "added"/new (their moves were
    the 19:00 plan's, not in the 19:30 plan's moves.csv) while plan.json charged them.
    They are re-routed, in memory and from the folders; the 20:00 plan's own couriers
    on their way are not read as its moves."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    config = config.model_copy(
        update={"costs": config.costs.model_copy(update={"change_minutes": 0.0})}
    )
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT, warn=False)
    half = pd.Timedelta(minutes=30)
    b = rebalance.solve(inputs, config, (a.shift_start + half).isoformat(), previous=a, warn=False)
    on_way = {r["courier_id"]: r["to_zone"] for r in b.under_way}
    busiest = pd.Series(list(on_way.values())).value_counts().index[0]
    closed = inputs.restaurants.assign(
        status=inputs.restaurants["status"].where(
            inputs.restaurants["zone_id"].astype(str) != busiest, "closed"
        )
    )
    later = (a.shift_start + 2 * half).isoformat()
    c = rebalance.solve(inputs.replace(restaurants=closed), config, later, previous=b, warn=False)
    now = c.moves[c.moves["slot_start"] == c.shift_start]
    sent_on = now[now["courier_id"].astype(str).isin(list(on_way))]
    assert len(sent_on) >= 3 and set(sent_on["since_previous"]) == {"changed"}
    for diff in (b.diff(c), rebalance.read_plan(b.write(tmp_path / "b")).diff(c)):
        kinds = {x.courier_id: x.kind for x in diff.changes if x.courier_id in on_way}
        assert set(sent_on["courier_id"].astype(str)) <= {
            k for k, v in kinds.items() if v == "rerouted"
        }
        assert not [x for x in diff.changes if x.when < c.shift_start.value]


def test_a_courier_on_his_way_is_not_arrived_where_his_next_move_ends(tmp_path):
    """A courier on his way to X (a 19:00 move) with a 19:30 move X -> Y, whom
    couriers.csv has in Y already: the 19:30 re-plan counts him at X and charges his
    19:30 instruction, but listed him as arrived, so the diff called him unchanged.
    He is not arrived, and the diff drops his 19:30 move as plan.json charges it."""
    config = rebalance.load_config(PARIS / "rebalance.toml")
    inputs = rebalance.load(PARIS, config)
    a = rebalance.solve(inputs, config, SHIFT, warn=False)
    start = a.shift_start + pd.Timedelta(minutes=30)
    row = a.moves[a.moves["slot_start"] == a.shift_start].iloc[0]
    courier, x = str(row["courier_id"]), str(row["to_zone"])
    y = next(z for z in a.zones["zone_id"].astype(str) if z not in (x, str(row["from_zone"])))
    extra = pd.DataFrame([{**row.to_dict(), "slot_start": start, "from_zone": x, "to_zone": y}])
    a2 = dataclasses.replace(
        a, moves=pd.concat([a.moves, extra.astype(a.moves.dtypes.to_dict())], ignore_index=True)
    )
    couriers = inputs.couriers.copy()
    couriers.loc[couriers["courier_id"].astype(str) == courier, "zone_id"] = y
    b = rebalance.solve(
        inputs.replace(couriers=couriers), config, start.isoformat(), previous=a2, warn=False
    )
    assert courier not in b.arrived and b.kpis["changed_couriers"] >= 1
    mine = [x for x in a2.diff(b).changes if x.courier_id == courier]
    assert [(x.kind, x.to_zone) for x in mine] == [("dropped", y)]


def _reference_diff(a, b):
    """The pairing rule of `rebalance.diff` courier by courier, written plainly."""
    from rebalance.diff import Change

    changes, status, unchanged, under_way = [], {}, 0, 0
    for courier in sorted(set(a.moves) | set(b.moves)):
        old_all = a.moves.get(courier, [])
        old = [m for m in old_all if b.shift_start <= m[0] < b.shift_end]
        under_way += sum(1 for m in old_all if m[0] < b.shift_start)
        # b's moves before its start: its couriers on their way, not instructions
        new = [m for m in b.moves.get(courier, []) if m[0] >= b.shift_start]
        marks, used, rest_new = ["new"] * len(new), [False] * len(old), []
        for i, (t, _, to) in enumerate(new):
            for j, (t0, _, to0) in enumerate(old):
                same_start = (t0 == b.shift_start) == (t == b.shift_start)
                if not used[j] and to0 == to and abs(t0 - t) < b.slot_ns and same_start:
                    used[j], marks[i] = True, "unchanged"
                    unchanged += 1
                    break
            else:
                rest_new.append(i)
        rest_old = [m for j, m in enumerate(old) if not used[j]]
        ahead = [m for m in old_all if m[0] < b.shift_start]
        due_now = [i for i in rest_new if new[i][0] == b.shift_start]
        if ahead and due_now and not any(m0[0] == b.shift_start for m0 in rest_old):
            # on his way, and sent on at the start: re-routed from the move under way
            marks[due_now[0]] = "changed"
            changes.append(Change("rerouted", courier, *new[due_now[0]], *ahead[-1]))
            rest_new.remove(due_now[0])
            under_way -= 1
        for i, m0 in zip(rest_new, rest_old, strict=False):
            marks[i] = "changed"
            changes.append(Change("rerouted", courier, *new[i], *m0))
        changes += [Change("added", courier, *new[i]) for i in rest_new[len(rest_old) :]]
        changes += [Change("dropped", courier, *m0) for m0 in rest_old[len(rest_new) :]]
        if new:
            status[courier] = marks
    return changes, status, unchanged, under_way


@pytest.mark.parametrize("seed", range(6))
def test_diff_of_random_moves_follows_the_pairing_rule(seed):
    """Random previous and new moves (couriers in one plan only, moves under way, before,
    at and after the new start, beyond its end, several per courier): the diff's
    changes, marks and counts are the rule's, courier by courier."""
    import random

    from rebalance.diff import PlanView, diff_views

    rng = random.Random(seed)
    slot = 30 * 60 * 10**9
    start = 100 * slot

    def view(shift_start, couriers):
        moves = {}
        for c in couriers:
            n = rng.choice([0, 1, 1, 1, 2, 3])
            times = sorted(
                shift_start + rng.randint(-3, 9) * slot // rng.choice([1, 2]) for _ in range(n)
            )
            if n:
                moves[c] = [(t, f"Z{rng.randint(1, 4)}", f"Z{rng.randint(1, 4)}") for t in times]
        return PlanView("c", "id", "UTC", shift_start, shift_start + 8 * slot, 30, {}, {}, moves)

    ids = [f"C{i:03d}" for i in range(300)]
    a = view(start - rng.choice([0, 1]) * slot, rng.sample(ids, 200))
    b = view(start, rng.sample(ids, 200))
    got = diff_views(a, b)
    assert (got.changes, got.status, got.unchanged, got.under_way) == _reference_diff(a, b)
    assert {c.kind for c in got.changes} == {"added", "dropped", "rerouted"}
    assert got.unchanged and got.under_way


def test_why_lists_only_needs_that_changed_and_gone_is_unknown_without_a_roster(tmp_path):
    """CONTRACT 9: a change's `why` names the zones whose need changed (a mutant listed
    zones at 0 -> 0 too); and a dropped move's `courier_gone` is null, not false, when
    plan B has no roster (a folder from before rosters): nothing is known of who left."""
    import dataclasses

    from util import courier, restaurant, write_city, zone

    from rebalance.diff import diff_plans

    zones = [zone("A", 48.85, 2.33), zone("B", 48.86, 2.34), zone("C", 48.87, 2.35)]
    travel = [
        {"from_zone": a, "to_zone": b, "minutes": 5, "vehicle": ""}
        for a in "ABC"
        for b in "ABC"
        if a != b
    ]
    config = rebalance.Config().with_changes(shift={"slot_minutes": 24 * 60})
    couriers = [courier(c, "A") for c in ("c1", "c2", "c3")]

    def plan(name, restaurants, previous=None):
        city = write_city(tmp_path / name, zones, restaurants, couriers, travel)
        return rebalance.solve(rebalance.load(city, config), config, SHIFT, previous=previous)

    a = plan("one", [restaurant("r1", "B", 2.0), restaurant("r2", "C", 2.0)])
    b = plan("two", [restaurant("r1", "B", 4.0), restaurant("r2", "C", 2.0, "closed")], a)
    changes = diff_plans(a, b).to_dict()["couriers"]
    whys = [w for kind in ("rerouted", "dropped") for item in changes[kind] for w in item["why"]]
    assert whys and all(w["need_before"] != w["need_after"] for w in whys), whys
    c = plan("three", [restaurant("r1", "B", 0.0), restaurant("r2", "C", 2.0)], a)
    dropped = diff_plans(a, dataclasses.replace(c, roster=None)).to_dict()["couriers"]["dropped"]
    assert dropped and all(item["courier_gone"] is None for item in dropped)


def test_the_two_shifts_at_the_same_clock_time_of_the_autumn_night_are_told_apart(tmp_path):
    """The night the clocks go back has 02:30 twice. A diff of the plans of the two
    02:30 shifts read "2026-10-25 02:30 (...) -> 2026-10-25 02:30 (...)": the header now
    gives such a time its offset, and no other time one."""
    from rebalance.generate import generate_city

    city = generate_city(
        tmp_path / "night", zones=4, couriers=40, restaurants=10, shift_start="2026-10-25T02:00"
    )
    folders = []
    for start in ("2026-10-25T02:30+02:00", "2026-10-25T02:30+01:00", "2026-10-25T04:00"):
        folders.append(tmp_path / start.replace(":", ""))
        planned = CliRunner().invoke(
            app, ["plan", str(city), "--shift-start", start, "--out", str(folders[-1])]
        )
        assert planned.exit_code == 0, planned.output
    first, second, later = folders
    head = " ".join(CliRunner().invoke(app, ["diff", str(first), str(second)]).output.split())
    assert re.match(r"Synthetic City 2026-10-25 02:30\+02:00 \(\w+\) -> ", head), head
    assert re.search(r" -> Synthetic City 2026-10-25 02:30\+01:00 \(\w+\): ", head), head
    head = " ".join(CliRunner().invoke(app, ["diff", str(second), str(later)]).output.split())
    assert " -> Synthetic City 2026-10-25 04:00 (" in head, head


def test_a_move_only_re_timed_is_explained_slot_for_slot_and_said_so():
    """A move of the same route one slot earlier, needs unchanged: the diff compared the
    need at the old move's slot in A with the new move's slot in B ("75105 15 -> 22"
    where no need had changed), and the Slack reply said "sent elsewhere (was → the
    same zone)". Needs are compared within a slot, and the reply says when it was due."""
    import dataclasses

    from rebalance.publish.changes import describe_diff

    config = rebalance.load_config(PARIS / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(PARIS, config), config, SHIFT)
    starts = sorted(plan.slots["slot_start"].unique())
    moves = plan.moves.copy()
    row = int(np.flatnonzero(moves["slot_start"] == starts[2])[0])  # 20:00 -> 19:30
    moves.loc[row, "slot_start"] = starts[1]
    earlier = dataclasses.replace(plan, moves=moves)
    d = plan.diff(earlier)
    (change,) = d.of_kind("rerouted")
    assert change.was_to == change.to_zone and change.when < change.was_when
    assert d.need_changes(change) == []
    note = describe_diff(d)
    assert f"(was at {d.b.label(change.was_when)}) because no need changed" in note


def test_the_slack_revision_says_a_dropped_courier_is_no_longer_there(slack_env, tmp_path):
    """`rebalance diff` said a dropped courier was "no longer among the couriers", but the
    thread reply of the same revision did not: it compares the history's snapshots,
    which keep no roster. It is given the new plan's."""
    from rebalance.views.wording import COURIER_GONE

    config = rebalance.load_config(PARIS / "rebalance.toml").with_changes(
        slack={"channel": CHANNEL}
    )
    inputs = rebalance.load(PARIS, config)
    plan = rebalance.solve(inputs, config, SHIFT)
    gone = str(plan.moves["courier_id"].iloc[0])
    couriers = inputs.couriers[inputs.couriers["courier_id"] != gone]
    again = rebalance.solve(inputs.replace(couriers=couriers), config, SHIFT, previous=plan)
    assert gone in plan.diff(again).gone
    with History(tmp_path / "history.sqlite3") as history:
        first = publish(plan, config=config, history=history)
        assert publish(again, config=config, history=history).action == "updated"
    note = " ".join(slack_env.replies(first.ts, CHANNEL)[-1]["text"].split())
    assert re.search(rf"{gone}: no longer [^•]* because {re.escape(COURIER_GONE)}", note), note


def test_a_revision_without_new_instructions_does_not_blame_travel():
    """A revision whose instructions and zone numbers are all the same (a restaurant
    closed, its zone's demand fell a little) was replied "Only travel details changed",
    which no travel time had. The reply now says what did not change."""
    from rebalance.publish.changes import describe_diff

    config = rebalance.load_config(PARIS / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(PARIS, config), config, SHIFT)
    note = describe_diff(plan.diff(plan))
    assert note.endswith(
        "\nNo instruction and no zone's couriers changed; the files below are current."
    )
    assert "travel" not in note.lower()


def test_a_diff_too_narrow_for_its_tables_still_says_how_many_groups_are_not_listed(
    traders, tmp_path
):
    """Where no table fits (40 columns), each group is a line; the "... N more groups
    (--format json)" notice was the table's caption and went with it: a reader took the
    list for complete. (Plan b: 12 pairs of couriers of plan a trading destinations, 24
    re-routed groups, a folder whose every count holds.)"""
    from rebalance.views.terminal import MAX_MOVES_SHOWN

    plan = traders
    b = trade_destinations(plan, 12)
    groups = len(plan.diff(b).groups("rerouted"))
    assert groups > MAX_MOVES_SHOWN
    a_dir, b_dir = plan.write(tmp_path / "a"), b.write(tmp_path / "b")
    for width in (40, 160):
        out = CliRunner().invoke(app, ["diff", str(a_dir), str(b_dir)], env={"COLUMNS": str(width)})
        assert out.exit_code == 0, out.output
        said = " ".join(out.output.split())
        assert f"... {groups - MAX_MOVES_SHOWN} more groups (--format json)" in said, width


def test_one_group_past_the_table_is_said_to_be_there(traders, tmp_path):
    """With one group more than the table lists (16 re-routed groups, 15 shown), the
    "... 1 more groups" notice is there: a rule off by one left a list that read as
    complete (mutation testing found no test of the boundary). (Plan b: 8 pairs of
    couriers trading destinations, each pair 2 groups.)"""
    from rebalance.views.terminal import MAX_MOVES_SHOWN

    plan = traders
    b = trade_destinations(plan, (MAX_MOVES_SHOWN + 1) // 2)
    assert len(plan.diff(b).groups("rerouted")) == MAX_MOVES_SHOWN + 1
    a_dir, b_dir = plan.write(tmp_path / "a"), b.write(tmp_path / "b")
    out = CliRunner().invoke(app, ["diff", str(a_dir), str(b_dir)], env={"COLUMNS": "160"})
    assert out.exit_code == 0, out.output
    assert "... 1 more groups (--format json)" in out.output
