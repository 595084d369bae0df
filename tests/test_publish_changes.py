"""What changed between two versions of a plan, for the thread (rebalance.publish.changes)."""

from __future__ import annotations

import re

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
    assert re.search(r"\b(1 zone|[02-9]\d* zones|\d{2,} zones) changed\b", text)
    assert "zone(s)" not in text and "CNEW: Z3 → Z4" in text
    assert "CGONE: no longer Z1 → Z2" in text
    assert len(text) <= 2800
    huge = {"zones": {f"Z{i}": [i, 0, 0, 0, 0, 0] for i in range(500)}, "moves": {}}
    assert len(describe_changes({}, huge)) <= 2800


def test_a_full_parent_marked_superseded_keeps_its_header_and_footer():
    """A parent of 50 blocks marked superseded lost its last block, the footer (the
    plan id, what the thread holds), which the approval flow reads as well. The room is
    made in the body; the header and the footer stay, and it is marked once."""
    from rebalance.publish.changes import SUPERSEDED, mark_superseded
    from rebalance.publish.limits import MAX_BLOCKS

    def section(text: str) -> dict:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    header = {"type": "header", "text": {"type": "plain_text", "text": "Paris"}}
    footer = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Plan abc · optimal"}]}
    body = [section(f"zone {i}") for i in range(MAX_BLOCKS - 2)]
    message = {"blocks": [header, *body, footer], "text": "Paris 19:00"}
    marked = mark_superseded(message, "by the plan for 19:15–23:15")
    assert marked is not None
    blocks = marked["blocks"]
    assert len(blocks) == MAX_BLOCKS and blocks[0] == header and blocks[-1] == footer
    assert SUPERSEDED in str(blocks[1]) and marked["text"].startswith("(Superseded by")
    assert mark_superseded({**message, **marked}, "by another") is None
