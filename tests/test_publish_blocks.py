"""The Block Kit layout of a plan (rebalance.publish.blocks), within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from util import assert_within_limits, synthetic_plan

from rebalance.plan import read_plan
from rebalance.publish import (
    EVENT_TYPE,
    build_messages,
    content_hash,
    plan_key,
)

CHANNEL = "C0PLANS"


def test_parent_message_has_header_kpis_table_actions_moves_and_metadata(plans):
    """The parent has a header, the KPIs, one zone table, the moves, a text fallback and metadata."""
    plan = read_plan(plans["a"])
    [parent, *_] = build_messages(plan, channel=CHANNEL)
    kinds = [b["type"] for b in parent["blocks"]]
    assert kinds[0] == "header" and kinds.count("table") == 1
    header = parent["blocks"][0]["text"]["text"]
    assert header.startswith(plan.city) and "19:00–23:00" in header
    fields = " ".join(f["text"] for f in parent["blocks"][1]["fields"])
    assert "Coverage" in fields and "Couriers moved" in fields and "Shortage left" in fields
    assert "coverage" in parent["text"] and "couriers moved" in parent["text"]
    texts = json.dumps(parent["blocks"], ensure_ascii=False)
    assert "Largest moves" in texts
    assert parent["metadata"]["event_type"] == EVENT_TYPE
    assert parent["metadata"]["event_payload"] == {
        "plan_key": plan_key(plan.city, plan.local(plan.shift_start)),
        "content_hash": content_hash(plan),
        "plan_id": plan.plan_id,
    }
    assert_within_limits(build_messages(plan, channel=CHANNEL))


@pytest.mark.parametrize("zones_short, said", [(1, "in 1 zone"), (3, "in 3 zones")])
def test_shortage_left_counts_its_zones_in_words(plans, zones_short, said):
    """The parent's "Shortage left" read "5 couriers in 3 zone(s)"; it now says "in 1
    zone" or "in 3 zones", as every other count in the message."""
    import dataclasses

    plan = read_plan(plans["a"])
    kpis = {**plan.kpis, "shortage": 5, "zones_short": zones_short}
    parent = build_messages(dataclasses.replace(plan, kpis=kpis), channel=CHANNEL)[0]
    fields = " ".join(f["text"] for f in parent["blocks"][1]["fields"])
    assert f"*Shortage left*\n*5* couriers {said}" in fields and "(s)" not in fields


def test_one_courier_on_one_route_is_said_in_the_singular(plans):
    """The published and approval messages said "*Largest moves* (1 couriers on 1
    routes)". One courier on one route now reads "(1 courier on 1 route)"."""
    import dataclasses

    plan = read_plan(plans["a"])
    assert plan.slot_count == 1 and len(plan.moves) > 1
    one = dataclasses.replace(
        plan, moves=plan.moves.head(1), kpis={**plan.kpis, "moved_couriers": 1}
    )
    texts = json.dumps(build_messages(one, channel=CHANNEL)[0]["blocks"], ensure_ascii=False)
    assert "*Largest moves* (1 courier on 1 route)" in texts
    several = json.dumps(build_messages(plan, channel=CHANNEL)[0]["blocks"], ensure_ascii=False)
    assert f"*Largest moves* ({plan.kpis['moved_couriers']} couriers on " in several


def test_short_zones_list_restaurants_to_pause():
    """A short zone appears under "Action needed" with the restaurants to pause."""
    plan = synthetic_plan(5, 10, paused=2, seed=4)
    parent = build_messages(plan, channel=CHANNEL)[0]
    texts = json.dumps(parent["blocks"], ensure_ascii=False)
    first_short = plan.zones[plan.zones["action"] == "short"].iloc[0]
    assert "Action needed" in texts
    assert first_short["pause_restaurants"].split(";")[0] in texts
    assert "&lt;x&gt;" in texts  # zone names are escaped for mrkdwn


def test_200_zone_plan_posts_within_every_limit(plans):
    """A generated 200-zone plan: parent and thread parts within Slack's limits, "+N more" shown."""
    plan = read_plan(plans["big"])
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    texts = json.dumps(payloads[0]["blocks"], ensure_ascii=False)
    assert "more in the thread" in texts
    shown = sum(len(b["rows"]) - 1 for p in payloads for b in p["blocks"] if b["type"] == "table")
    assert shown == len(plan.attention())


def test_worst_case_200_zone_plan_within_every_limit():
    """200 short zones with long names and 6,000 moves on ~6,000 routes still fit, with the rest in the thread."""
    plan = synthetic_plan(200, 6000, name_chars=200, paused=60)
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    assert len(payloads[0]["blocks"][0]["text"]["text"]) <= 150
    rows = sum(len(b["rows"]) - 1 for p in payloads for b in p["blocks"] if b["type"] == "table")
    assert rows == 200


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zones=st.integers(0, 260),
    moves=st.integers(0, 800),
    name_chars=st.integers(1, 120),
    paused=st.integers(0, 40),
)
def test_any_city_size_fits_the_limits(zones, moves, name_chars, paused):
    """Whatever the city size, every payload respects every Slack limit."""
    plan = synthetic_plan(zones, moves, name_chars=name_chars, paused=paused)
    assert_within_limits(build_messages(plan, channel=CHANNEL))


def test_a_large_city_lists_a_bounded_part_in_the_thread_and_points_to_the_files():
    """A plan with thousands of zones changing lists, in the thread, the first
    `THREAD_ZONE_ROWS` zones after the parent's, `THREAD_ACTIONS` short zones and
    `THREAD_ROUTES` routes, and says that every zone and courier is in the CSV files the
    thread also holds: a 10,000-zone plan posted 253 messages (four minutes at Slack's
    one a second), now 18. Every payload stays within Slack's limits."""
    from rebalance.publish.blocks import (
        PARENT_ZONE_ROWS,
        THREAD_ACTIONS,
        THREAD_ROUTES,
        THREAD_ZONE_ROWS,
    )

    plan = synthetic_plan(1500, 3000, paused=2, seed=9)
    attention, short, routes = plan.attention(), plan.zones["shortage"] > 0, plan.routes()
    assert len(attention) > PARENT_ZONE_ROWS + THREAD_ZONE_ROWS
    assert int(short.sum()) > 10 + THREAD_ACTIONS and len(routes) > THREAD_ROUTES
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    assert len(payloads) <= 20
    rows = sum(len(b["rows"]) - 1 for p in payloads for b in p["blocks"] if b["type"] == "table")
    assert rows == PARENT_ZONE_ROWS + THREAD_ZONE_ROWS
    parent = json.dumps(payloads[0]["blocks"], ensure_ascii=False)
    rest = len(attention) - PARENT_ZONE_ROWS
    assert f"+{rest} more: {THREAD_ZONE_ROWS} in the thread, all in zones.csv" in parent
    assert f"{THREAD_ACTIONS} in the thread, all in zones.csv" in parent
    thread = json.dumps([p["blocks"] for p in payloads[1:]], ensure_ascii=False)
    unlisted = rest - THREAD_ZONE_ROWS
    assert f"+{unlisted} more zones that change or stay short: every zone is in zones.csv" in thread
    assert "the restaurants to pause are in zones.csv" in thread
    assert "every courier is in moves.csv" in thread


def _mrkdwn(value: Any) -> list[str]:
    """Every mrkdwn text in a payload's blocks (Slack parses entities there)."""
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "mrkdwn" else []
        return own + [t for v in value.values() for t in _mrkdwn(v)]
    if isinstance(value, list):
        return [t for v in value for t in _mrkdwn(v)]
    return []


def test_names_of_ampersands_and_emoji_are_cut_whole_and_counted_as_slack_counts():
    """Cuts ran on escaped text, so lines and the fallback ended in "&am…" or a bare "&"
    (markup to Slack); and limits were counted in characters, where an emoji beyond
    U+FFFF is two UTF-16 units: an "Action needed" section of 2,473 characters was
    4,135 units. A long city name pushed the shift window out of the header."""
    import dataclasses
    import re

    from rebalance.publish.limits import cut, slack_len

    assert slack_len("🍕a") == 3 and cut("🍕" * 10, 5) == "🍕🍕…"
    assert cut("R&amp;D " * 3, 7) == "R&amp;…" and cut("R&amp;D", 4) == "R…"
    plan = synthetic_plan(60, 400, paused=12, seed=4)
    zones = plan.zones.copy()
    zones["name"] = ["Pizza & Co " * 300 if i % 2 else "🍕" * 1500 for i in range(len(zones))]
    zones["pause_restaurant_names"] = [
        ";".join(["R&D 🍕" * 200] * len(str(p).split(";"))) if p else ""
        for p in zones["pause_restaurants"]
    ]
    window = "Mon 30 Nov 19:00–23:00 CET"
    for city in ("Paris&" * 700, "Saint-Rémy-de-Provence " * 6, "🚲" * 200):
        payloads = build_messages(
            dataclasses.replace(plan, city=city, zones=zones), channel=CHANNEL
        )
        assert_within_limits(payloads)
        for payload in payloads:
            for text in [payload["text"], *_mrkdwn(payload["blocks"])]:
                assert not re.search(r"&(?!amp;|lt;|gt;)", text), text[-60:]
        header = payloads[0]["blocks"][0]["text"]["text"]
        assert header.endswith(f" · {window}") and slack_len(header) <= 150
        assert window in payloads[0]["text"]


def test_names_cannot_format_a_line_or_hide_the_restaurant_ids():
    """Slack has no escape for * _ ~ `: a zone "Gare*: short *0* ok" read as a bold label
    with a shortage of 0, and zones "~North" and "South~" struck the route between them
    through. One long restaurant name filled the 600-character action line, so the other
    ids to pause (what operators act on) were cut off."""
    import dataclasses

    plan = synthetic_plan(6, 40, paused=5, seed=1)
    zones = plan.zones.copy()
    zones["name"] = ["Gare*: short *0* ok", "~North", "South~", "`code", "_x_", "plain"]
    zones["shortage"] = [3, 1, 1, 1, 1, 1]
    zones["action"] = "short"
    zones["pause_restaurants"] = [
        ";".join(f"rest_{i}{j:03d}" for j in range(5)) for i in range(len(zones))
    ]
    zones["pause_restaurant_names"] = [";".join(["*_~` R&D " + "🍕" * 300] * 5)] * len(zones)
    moves = plan.moves.assign(from_zone="Z0001", to_zone="Z0002")
    plan = dataclasses.replace(plan, zones=zones, moves=moves)
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    text = "\n".join(t for p in payloads for t in _mrkdwn(p["blocks"]))
    assert "Gare∗: short ∗0∗ ok" in text and "*Z0000 Gare∗: short ∗0∗ ok*: short *3*" in text
    assert "Z0001 ∼North → Z0002 South∼" in text
    for ids in zones["pause_restaurants"]:  # as typed back in /rebalance close: rest_0000
        assert all(rid in text for rid in ids.split(";")), ids
    for line in text.splitlines():
        # every * ~ ` left is ours: bold figures and labels in pairs, no strike, no code
        assert line.count("*") % 2 == 0 and "~" not in line and "`" not in line, line


def test_zone_ids_are_never_cut_in_action_and_route_lines_only_their_names():
    """Zone ids are what `/rebalance` commands and the plan files know a zone by: a UUID
    (36 characters) lost its end in a route line (labels cut at 32) and an action line
    (40), so the zone could not be found. The name is cut instead."""
    import dataclasses
    import uuid

    plan = synthetic_plan(8, 60, seed=2)
    ids = {z: str(uuid.uuid5(uuid.NAMESPACE_URL, z)) for z in plan.zones["zone_id"]}
    zones = plan.zones.assign(
        zone_id=plan.zones["zone_id"].map(ids), name="Quartier Saint-Germain-des-Prés"
    )
    moves = plan.moves.assign(
        from_zone=plan.moves["from_zone"].map(ids), to_zone=plan.moves["to_zone"].map(ids)
    )
    plan = dataclasses.replace(plan, zones=zones, moves=moves)
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    text = "\n".join(t for p in payloads for t in _mrkdwn(p["blocks"]))
    routes = [line for line in text.splitlines() if " courier" in line and "→" in line]
    assert routes
    for line in routes:
        found = [z for z in ids.values() if z in line]
        assert len(found) == 2 or line.count(found[0]) == 2, line
    for zone in zones[zones["action"] == "short"]["zone_id"]:
        assert f"*{zone} Q" in text or f"*{zone}*" in text, zone


def test_file_titles_stay_short_with_their_marker_at_the_end():
    """The marker that finds a version's upload again ends each file title; with the
    whole city name in front (any length) Slack could shorten the title and lose it,
    and each re-run would upload the files again."""
    import dataclasses

    from rebalance.publish.blocks import build_files

    plan = dataclasses.replace(synthetic_plan(3, 5), city="Agglomération " * 40)
    for f in build_files(plan, marker="0123456789.2"):
        assert f["title"].endswith(" [0123456789.2]") and len(f["title"]) <= 120, f["title"]


def _paris_with_routes(per_slot: int, slots: list[int]) -> tuple[Any, list[Any]]:
    """The Paris plan with its moves replaced: ``per_slot`` routes of one courier each
    (every pair of distinct zones in turn) at each slot of ``slots``; and the slot starts."""
    import dataclasses
    import itertools

    import pandas as pd
    from util import REPO

    import rebalance

    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(paris, config), config, "2026-11-30T19:00")
    pairs = list(itertools.permutations(plan.zones["zone_id"], 2))[:per_slot]
    starts = sorted(plan.slots["slot_start"].unique())
    moves = pd.DataFrame(
        [
            {
                "courier_id": f"C{k}-{i}",
                "vehicle": "bike",
                "from_zone": a,
                "to_zone": b,
                "travel_minutes": 10.0,
                "slot_start": starts[k],
            }
            for k in slots
            for i, (a, b) in enumerate(pairs)
        ]
    )
    return dataclasses.replace(plan, moves=moves), starts


def _thread_routes(plan: Any) -> tuple[str, list[str]]:
    """The thread's text of ``plan``'s messages (within Slack's limits), and its route lines."""
    payloads = build_messages(plan, channel=CHANNEL)
    assert_within_limits(payloads)
    thread = "\n".join(_mrkdwn([p["blocks"] for p in payloads[1:]]))
    routes = [line for line in thread.splitlines() if " → " in line and "Moves at" not in line]
    return thread, routes


def test_the_later_slots_share_one_budget_of_routes_in_the_thread():
    """Each later slot listed up to `THREAD_ROUTES` routes of its own: a 1,000-zone plan of
    8 slots posted 24 messages (875 routes), 27 s at Slack's one message a second. The
    later slots now share that budget, each with moves getting an equal part (at least
    `LATER_SLOT_ROUTES`), the rest in moves.csv; the first slot keeps all of its own."""
    from rebalance.publish.blocks import LATER_SLOT_ROUTES, THREAD_ROUTES

    plan, starts = _paris_with_routes(60, list(range(8)))  # 60 routes a slot
    thread, later = _thread_routes(plan)
    share = max(LATER_SLOT_ROUTES, THREAD_ROUTES // (len(starts) - 1))
    assert thread.count(f"+{60 - share} more routes in moves.csv") == len(starts) - 1
    first = 60 - 8  # the first slot's routes after the parent's 8: all of them
    assert len(later) == first + share * (len(starts) - 1) <= first + THREAD_ROUTES


def test_the_route_budget_goes_to_the_later_slots_that_move():
    """Only the later slots with moves share the budget: two of seven moving get 75
    routes each (they got 150 // 7 = 21, the rest said to be in moves.csv), and a slot
    with exactly its share lists them all without a "+0 more"."""
    from rebalance.publish.blocks import THREAD_ROUTES

    share = THREAD_ROUTES // 2
    thread, later = _thread_routes(_paris_with_routes(share, [2, 5])[0])
    assert len(later) == 2 * share
    assert "more routes in moves.csv" not in thread
