"""The identity of a published plan: key, content hash, snapshot (rebalance.publish.identity)."""

from __future__ import annotations

import dataclasses

import pandas as pd
from util import SHIFT

from rebalance.config import load_config
from rebalance.generate import generate_city
from rebalance.inputs import load
from rebalance.optimize import solve
from rebalance.plan import read_plan
from rebalance.publish import (
    build_messages,
    content_hash,
    plan_key,
    snapshot,
)

CHANNEL = "C0PLANS"


def test_plan_key_normalises_city_and_instant():
    """The plan key ignores city case, seconds and the offset: it names the UTC minute."""
    seven = pd.Timestamp("2026-11-30T19:00", tz="Europe/Paris")
    assert plan_key("Paris", seven) == plan_key(" paris ", seven + pd.Timedelta(seconds=30))
    assert plan_key("Saint Denis", seven) == "saint-denis@2026-11-30T18:00Z"
    assert plan_key("Paris", seven) == plan_key("Paris", seven.tz_convert("America/New_York"))
    assert plan_key("Paris", seven) != plan_key("Paris", seven + pd.Timedelta(hours=1))


def test_content_hash_ignores_timings_and_row_order(plans):
    """The content hash depends on zones and moves only, not on timings or row order."""
    plan = read_plan(plans["a"])
    shuffled = dataclasses.replace(
        plan,
        zones=plan.zones.iloc[::-1].reset_index(drop=True),
        moves=plan.moves.sample(frac=1, random_state=1),
        timings={"solve": 99.0},
        solve_seconds=99.0,
    )
    assert content_hash(shuffled) == content_hash(plan)
    assert content_hash(read_plan(plans["b"])) != content_hash(plan)


def test_plan_in_memory_and_read_back_publish_the_same(tmp_path):
    """A plan published straight from memory (`rebalance run`) and from its folder
    (`rebalance publish`) has the same key, content hash and payloads."""
    city = generate_city(tmp_path / "c", zones=6, couriers=60, restaurants=30, seed=5)
    cfg = load_config(city / "rebalance.toml")
    plan = solve(load(city, cfg), cfg, SHIFT)
    back = read_plan(plan.write(tmp_path / "plan"))
    assert content_hash(plan) == content_hash(back)
    assert snapshot(plan) == snapshot(back)
    assert build_messages(plan, channel=CHANNEL) == build_messages(back, channel=CHANNEL)
