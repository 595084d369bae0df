"""What changed between two versions of a plan, for the thread (rebalance.publish.changes)."""

from __future__ import annotations

from rebalance.plan import read_plan
from rebalance.publish import (
    describe_changes,
    snapshot,
)

CHANNEL = "C0PLANS"


def test_describe_changes_names_zones_and_couriers(plans):
    """The "what changed" text lists zones whose numbers moved and couriers added or dropped."""
    old = snapshot(read_plan(plans["a"]))
    old["moves"]["CGONE"] = ["Z1", "Z2"]
    new = snapshot(read_plan(plans["b"]))
    new["moves"]["CNEW"] = ["Z3", "Z4"]
    text = describe_changes(old, new)
    assert text.startswith("*Plan revised.*")
    assert "zone(s) changed" in text and "CNEW: Z3 → Z4" in text
    assert "CGONE: no longer Z1 → Z2" in text
    assert len(text) <= 2800
    huge = {"zones": {f"Z{i}": [i, 0, 0, 0, 0, 0] for i in range(500)}, "moves": {}}
    assert len(describe_changes({}, huge)) <= 2800
