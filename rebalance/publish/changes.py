"""What changed between two versions of a plan, in words: the thread reply posted when a
revised plan updates the shift's message in place, and the line the parent gains.

The changes themselves come from `rebalance.diff` (the one diff implementation, also
behind `rebalance diff` and `Plan.diff`); this module only words them in mrkdwn.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from rebalance.diff import ZONE_FIELDS, Change, PlanDiff, PlanView, diff_views
from rebalance.views.wording import percent, plural

from .blocks import context_block, escape_mrkdwn, mrkdwn_name, zone_label
from .limits import MAX_BLOCKS, MAX_FALLBACK_CHARS, MAX_MESSAGE_CHARS, cut, visible_chars

__all__ = [
    "SUPERSEDED",
    "describe_changes",
    "describe_diff",
    "mark_revised",
    "mark_superseded",
    "revision_line",
    "snapshot_diff",
]

#: How the line an older parent gains when a later shift's plan is posted begins.
SUPERSEDED = ":arrow_heading_down: *Superseded*"

#: Couriers named per group before "+N more".
COURIERS_PER_GROUP = 8


def snapshot_diff(old: dict[str, Any], new: dict[str, Any], plan: Any = None) -> PlanDiff:
    """The diff of two history snapshots (an older snapshot takes the newer's times);
    ``plan``: the newer plan, whose roster (`PlanView.roster_of`) a snapshot does not
    keep, so that a courier no longer there, or not at the move's time, is said to be
    (the revision reply left it out)."""
    import dataclasses

    b = PlanView.from_snapshot(new)
    if plan is not None and plan.roster is not None:
        b = dataclasses.replace(b, **PlanView.roster_of(plan))
    a = PlanView.from_snapshot(
        old,
        shift_start=new.get("shift_start"),
        shift_end=new.get("shift_end"),
        timezone=b.timezone,
    )
    return diff_views(a, b)


def describe_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    names: dict[str, str] | None = None,
    limit: int = 2800,
    plan: Any = None,
) -> str:
    """The thread reply of a revised plan; ``old`` and ``new`` are `snapshot`s;
    ``names`` maps zone ids to names; ``plan``: the new plan, to say which dropped
    couriers are gone or not there at the move's time. See `describe_diff`."""
    return describe_diff(snapshot_diff(old, new, plan), names=names, limit=limit)


def revision_line(diff: PlanDiff, when: pd.Timestamp) -> str:
    """The parent's line: ``revised 19:40: 3 couriers with new instructions``.

    The couriers the diff adds, drops or re-routes together: "8 couriers re-routed" beside
    `rebalance diff`'s "0 re-routed, 2 added, 6 dropped" said two things (QA)."""
    n = diff.changed_couriers
    return f"revised {when:%H:%M}: {n} {_with_new_instructions(n)}"


def _with_new_instructions(n: int) -> str:
    """What ``n`` couriers the diff changes are, after their number."""
    return f"courier{'s' if n != 1 else ''} with new instructions"


def mark_revised(payload: dict[str, Any], line: str) -> dict[str, Any]:
    """The parent payload with ``line`` under its header and first in its fallback text."""
    blocks = list(payload.get("blocks") or [])
    block = context_block(f":arrows_counterclockwise: *{escape_mrkdwn(line)}*")
    if len(blocks) < MAX_BLOCKS and visible_chars([*blocks, block]) <= MAX_MESSAGE_CHARS:
        blocks.insert(1 if blocks else 0, block)
    text = cut(f"({line}) {payload.get('text', '')}", MAX_FALLBACK_CHARS)
    return {**payload, "blocks": blocks, "text": text}


def mark_superseded(message: dict[str, Any], line: str) -> dict[str, Any] | None:
    """The blocks and fallback text of an older parent (``message`` as Slack shows it)
    with ``line`` (mrkdwn, escaped) under its header; None when it says so already."""
    blocks = [dict(b) for b in message.get("blocks") or []]
    said = [b for b in blocks[:3] if b.get("type") == "context"]
    if any(SUPERSEDED in str(b) for b in said) or SUPERSEDED in str(message.get("text", ""))[:200]:
        return None
    block = context_block(f"{SUPERSEDED} {line}")
    # room made in the body, before the footer (the plan id, what the thread holds):
    # the header and the footer stay, and the fallback text keeps the whole
    while len(blocks) > 2 and (
        len(blocks) >= MAX_BLOCKS or visible_chars([*blocks, block]) > MAX_MESSAGE_CHARS
    ):
        del blocks[-2]
    blocks.insert(1 if blocks else 0, block)
    plain = line.replace("*", "")
    text = cut(f"(Superseded {plain}) {message.get('text', '')}", MAX_FALLBACK_CHARS)
    return {"blocks": blocks, "text": text}


def describe_diff(diff: PlanDiff, *, names: dict[str, str] | None = None, limit: int = 2800) -> str:
    """The thread reply of a revised plan: KPIs, who is re-routed and why (per courier
    group: the zone whose need changed), couriers added to or dropped from the moves,
    zones whose numbers moved. Lists are cut with "+N more"; the text stays within
    ``limit`` characters."""
    names = {**diff.a.names, **diff.b.names, **(names or {})}
    ok, nk = diff.a.kpis, diff.b.kpis
    head = (
        "*Plan revised.* "
        f"Coverage {percent(ok.get('coverage'), missing='–')} → "
        f"{percent(nk.get('coverage'), missing='–')} · "
        f"couriers moved {ok.get('moved_couriers', '–')} → {nk.get('moved_couriers', '–')} · "
        f"shortage {ok.get('shortage', '–')} → {nk.get('shortage', '–')} · "
        f"*{diff.changed_couriers}* {_with_new_instructions(diff.changed_couriers)}"
    )
    n_re, n_add, n_drop = (len(diff.of_kind(k)) for k in ("rerouted", "added", "dropped"))
    if diff.changes and len(diff.changes) == diff.changed_couriers:
        head += (
            f" ({n_re} sent elsewhere or at another time, {n_add} newly moving, "
            f"{n_drop} no longer moving)"
        )
    elif diff.changes:  # a courier with two changed moves: the parts count moves
        head += (
            f" ({len(diff.changes)} moves: {n_re} sent elsewhere or at another time, "
            f"{n_add} new, {n_drop} no longer made)"
        )
    several = diff.b.slot_minutes * 60 * 10**9 < diff.b.shift_end - diff.b.shift_start

    def z(zone: str | None) -> str:
        return mrkdwn_name(zone_label(str(zone), names.get(str(zone), "")))

    def who(group: list[Change]) -> str:
        ids = [mrkdwn_name(c.courier_id) for c in group[:COURIERS_PER_GROUP]]
        more = (
            f" +{len(group) - COURIERS_PER_GROUP} more" if len(group) > COURIERS_PER_GROUP else ""
        )
        return ", ".join(ids) + more

    def at(ns: int) -> str:
        return f" at {diff.b.label(ns)}" if several else ""

    def why(change: Change) -> str:
        reasons = [
            f"{z(zone)} needs {'–' if x is None else x} → {y}"
            for zone, x, y in diff.need_changes(change)
        ]
        return "; ".join(reasons) or "no need changed on these zones (couriers came or went)"

    def was(c: Change) -> str:
        # the same route at another time is not "elsewhere": say when it was due
        if c.was_to == c.to_zone and c.was_when is not None and several:
            return f"(was at {diff.b.label(c.was_when)})"
        return f"(was → {z(c.was_to)})"

    rerouted = [
        f"*{len(g)}* {who(g)}{at(c.when)}: {z(c.from_zone)} → {z(c.to_zone)} "
        f"{was(c)} because {why(c)}"
        for (_, group) in diff.groups("rerouted")
        for c, g in [(group[0], group)]
    ]
    added = [
        f"*{len(g)}* {who(g)}{at(c.when)}: {z(c.from_zone)} → {z(c.to_zone)}"
        for (_, group) in diff.groups("added")
        for c, g in [(group[0], group)]
    ]

    def why_dropped(change: Change) -> str:
        if (courier := diff.courier_reason(change)) is not None:
            return f" because {courier}"
        return f" because {why(change)}" if diff.need_changes(change) else ""

    dropped = [
        f"*{len(g)}* {who(g)}: no longer {z(c.from_zone)} → {z(c.to_zone)}{at(c.when)}"
        + why_dropped(c)
        for (_, group) in diff.groups("dropped")
        for c, g in [(group[0], group)]
    ]
    zone_lines = []
    for zone, (x, y) in diff.zones.items():
        if x is None:
            zone_lines.append(f"{z(zone)}: new zone")
        elif y is None:
            zone_lines.append(f"{z(zone)}: no longer in the plan")
        else:
            moved = [
                f"{label} {u} → {v}"
                for (_, label), u, v in zip(ZONE_FIELDS, x, y, strict=False)
                if u != v
            ]
            zone_lines.append(f"{z(zone)}: {', '.join(moved)}")
    groups = [
        (f"Sent elsewhere or at another time ({n_re})", rerouted),
        (f"Newly moving ({n_add})", added),
        (f"No longer moving ({n_drop})", dropped),
        (f"{plural(len(zone_lines), 'zone')} changed", zone_lines),
    ]
    present = [g for g in groups if g[1]]
    if not present:
        # no courier's instruction and no zone's numbers changed: what did (a closed
        # restaurant's demand, travel minutes) is in the files, not "travel details"
        return cut(
            head + "\nNo instruction and no zone's couriers changed; the files below are current.",
            limit,
        )
    budget = max(200, (limit - len(head)) // len(present) - 40)
    parts = [head]
    for label, items in present:
        shown: list[str] = []
        used = 0
        for item in items:
            if used + len(item) + 3 > budget and shown:
                break
            shown.append(cut(item, budget))
            used += len(item) + 3
        more = f"\n• +{len(items) - len(shown)} more" if len(shown) < len(items) else ""
        parts.append(f"*{label}:*\n• " + "\n• ".join(shown) + more)
    return cut("\n".join(parts), limit)
