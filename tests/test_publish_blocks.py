"""The Block Kit layout of a plan (rebalance.publish.blocks), within Slack's limits."""

from __future__ import annotations

import json

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
    one a second), now 15. Every payload stays within Slack's limits."""
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
