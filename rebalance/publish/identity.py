"""The identity of a published plan: ONE rule each for the key of a (city, shift), the
hash of a plan's content, and the snapshot kept in history to say later what changed.

The key and hash travel in each message's metadata (event types below), which is how
the publisher finds its own messages in a channel again.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pandas as pd

from rebalance.paths import (
    SLUG_CHARS,
    slug,
    slug_before_marks,
    slug_words,
    slug_words_before_marks,
)
from rebalance.plan import MOVES_COLUMNS, ZONES_COLUMNS, Plan

__all__ = [
    "DUPLICATE_EVENT_TYPE",
    "EVENT_TYPE",
    "PART_EVENT_TYPE",
    "content_hash",
    "earlier_plan_keys",
    "plan_key",
    "same_plan_key",
    "snapshot",
    "utc_plan_key",
]

#: Metadata event types: the parent message, and a thread part holding what did not fit.
EVENT_TYPE = "rebalance_plan"
PART_EVENT_TYPE = "rebalance_plan_part"
#: A parent posted twice by a race, marked so when it could not be deleted: ignored.
DUPLICATE_EVENT_TYPE = "rebalance_plan_duplicate"


def plan_key(city: str, shift_start: pd.Timestamp) -> str:
    """The identity of a (city, shift): ``paris@2026-11-30T18:00Z``.

    The city is its slug (`rebalance.paths.slug`); the shift start is the instant, in
    UTC to the minute, so the same shift written with another offset or timezone
    (``19:00+01:00``, ``18:00Z``, ``13:00-05:00``) has the same key.
    """
    return f"{slug(city)}@{_utc_minute(shift_start)}"


def _utc_minute(ts: pd.Timestamp) -> str:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        raise ValueError(f"a plan key needs an aware shift start, got {ts}")
    return f"{ts.tz_convert('UTC'):%Y-%m-%dT%H:%M}Z"


#: Shifts starting from then on are never looked for under the keys of the slug rules
#: that let two cities share one (ended 2026-12-07; a week for shifts posted ahead).
SHARED_KEYS_UNTIL = pd.Timestamp("2026-12-14T00:00Z")


def earlier_plan_keys(city: str, shift_start: pd.Timestamp) -> tuple[str, ...]:
    """Keys this (city, shift) had under earlier rules, when they differ: the start with
    its local offset (``paris@2026-11-30T19:00+01:00``), and the city case-folded with
    only blanks turned into ``-`` (``st.-louis@...``). The publisher still recognises
    them, so a message posted before an upgrade is updated in place, never posted a
    second time."""
    local = pd.Timestamp(shift_start).isoformat(timespec="minutes")
    before = re.sub(r"\s+", "-", city.strip().casefold())
    keys = [f"{slug(city)}@{local}", f"{before}@{local}"]
    # Until 2026-12-07 two rules let two cities share a key: a slug past 60 characters
    # was cut without the hash it ends in now (names alike in their first 60 characters),
    # and marks were separators (Delhi was `द-ल-ल`; `पटना` and `पटन` were one). Their keys
    # still find a message posted with them, on shifts a release of before then could
    # have posted; never on later ones, where they could find another city's message.
    # A name without a letter or digit was `city`, every such city's: never taken up.
    utc = _utc_minute(shift_start)
    if pd.Timestamp(shift_start) < SHARED_KEYS_UNTIL:

        def cut_at_60(words: str) -> str:  # the slug before it ended in a hash
            return words[:SLUG_CHARS].rstrip("-")

        whole = slug_words(city)
        if whole:
            keys.append(f"{cut_at_60(whole)}@{utc}")
        if (marks_apart := slug_words_before_marks(city)) and marks_apart != whole:
            old = slug_before_marks(city)
            keys += [f"{old}@{utc}", f"{old}@{local}", f"{cut_at_60(marks_apart)}@{utc}"]
    current = plan_key(city, shift_start)
    return tuple(dict.fromkeys(k for k in keys if k != current))


def same_plan_key(a: object, b: object) -> bool:
    """Whether two plan keys name the same (city, shift), whatever offset each was written
    with: messages posted before keys were in UTC carry ``paris@2026-11-30T19:00+01:00``."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    if a == b:
        return True
    ours = utc_plan_key(a)  # the city and the UTC instant
    return ours is not None and ours == utc_plan_key(b)


def utc_plan_key(key: object) -> str | None:
    """``key`` with its shift start as the UTC instant (``paris@2026-11-30T18:00Z`` for
    ``paris@2026-11-30T19:00+01:00``): equal for keys `same_plan_key` takes as one;
    None for what is not a plan key with an aware start."""
    if not isinstance(key, str):
        return None
    city, _, start = key.partition("@")
    try:
        return f"{city}@{_utc_minute(pd.Timestamp(start))}"
    except (ValueError, TypeError):
        return None


def _canonical_csv(frame: pd.DataFrame, columns: list[str], key: str) -> str:
    present = [c for c in columns if c in frame.columns]
    ordered = frame[present].sort_values(key, kind="stable") if len(frame) else frame[present]
    text: str = ordered.to_csv(index=False, lineterminator="\n")
    return text


def content_hash(plan: Plan) -> str:
    """sha256 of the plan's zones and moves in a canonical form (not its timings)."""
    digest = hashlib.sha256()
    digest.update(b"zones.csv\n")
    digest.update(_canonical_csv(plan.zones, ZONES_COLUMNS, "zone_id").encode())
    digest.update(b"moves.csv\n")
    digest.update(_canonical_csv(plan.moves, list(MOVES_COLUMNS), "courier_id").encode())
    return digest.hexdigest()


def snapshot(plan: Plan) -> dict[str, Any]:
    """The compact view of a plan kept in history, to say later what changed
    (`rebalance.diff.PlanView.from_snapshot` reads it back): the zones' numbers, each
    courier's moves as ``[slot, from, to]``, the needs per slot and the KPIs."""
    from rebalance.diff import KPI_KEYS, PlanView

    view = PlanView.of(plan)
    step = view.slot_ns or 1
    moves = {
        courier: [[(t - view.shift_start) // step, a, b] for t, a, b in items]
        for courier, items in view.moves.items()
    }
    k = plan.kpis
    snap: dict[str, Any] = {
        "city": plan.city,
        "plan_id": plan.plan_id,
        "timezone": plan.timezone,
        "shift_start": plan.local(plan.shift_start).isoformat(),
        "shift_end": plan.local(plan.shift_end).isoformat(),
        "slot_minutes": view.slot_minutes,
        "kpis": {key: k.get(key) for key in KPI_KEYS if key in k},
        "zones": {z: list(v) for z, v in view.zones.items()},
        "moves": moves,
    }
    if plan.slot_count > 1:
        snap["needs"] = view.needs
    if view.arrived:  # their moves due now were carried out: not "no longer moving"
        snap["arrived"] = sorted(view.arrived)
    if plan.under_way:  # on their way by an earlier plan's move: sent on is re-routed
        snap["under_way"] = [[r["courier_id"], r["to_zone"], r["started"]] for r in plan.under_way]
    return snap
