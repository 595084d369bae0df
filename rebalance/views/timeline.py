"""The time dimension of a plan, shared by every view (terminal, Slack, HTML, plots).

`slot_summary` is one row per slot: what happens then (moves, log-ons and log-offs) and
how short the city is before and after the plan. `shortage_grid` is zones x slots.
`strip` turns one zone's shortages into a compact heat strip of characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from rebalance.plan import Plan

__all__ = [
    "heat_char",
    "shortage_grid",
    "slot_summary",
    "strip",
    "strip_step",
    "zones_short_any_slot",
]

#: Characters of the heat strip: no shortage, then 1, 2, 3-4, 5-9, 10+ couriers short.
_LEVELS = (".", "1", "2", "4", "9", "#")


def slot_summary(plan: Plan) -> pd.DataFrame:
    """Per slot: start (city time), label, moves, routes, logged_on, logged_off,
    required, present, short_before, short (after), zones_short, coverage."""
    starts = plan.slot_starts()
    labels = plan.slot_labels()
    slots = plan.slots
    rows = []
    for k, start in enumerate(starts):
        moves = plan.moves_at(k)
        routes = moves.groupby(["from_zone", "to_zone"]).ngroups if len(moves) else 0
        if len(slots):
            here = slots[pd.to_datetime(slots["slot_start"], utc=True) == start]
            required = int(here["required_couriers"].sum())
            present = int(here["couriers_after"].sum())
            before = here["couriers_before"].to_numpy()
            after = here["couriers_after"].to_numpy()
            need = here["required_couriers"].to_numpy()
            short_before = int(np.maximum(need - before, 0).sum())
            short = int(here["shortage"].sum())
            zones_short = int((here["shortage"] > 0).sum())
            covered = float(np.minimum(need, after).sum())
            logged_on = int(here["logged_on"].sum())
            logged_off = int(here["logged_off"].sum())
        else:  # a one-slot plan: zones.csv is the slot
            z = plan.zones
            required = int(z["required_couriers"].sum())
            present = int(z["couriers_after"].sum())
            need = z["required_couriers"].to_numpy()
            short_before = int(np.maximum(need - z["couriers_before"].to_numpy(), 0).sum())
            short = int(z["shortage"].sum())
            zones_short = int((z["shortage"] > 0).sum())
            covered = float(np.minimum(need, z["couriers_after"].to_numpy()).sum())
            logged_on = present
            logged_off = present
        rows.append(
            {
                "slot_start": start,
                "label": labels[k],
                "moves": len(moves),
                "routes": routes,
                "logged_on": logged_on,
                "logged_off": logged_off,
                "required": required,
                "present": present,
                "short_before": short_before,
                "short": short,
                "zones_short": zones_short,
                "coverage": 1.0 if required == 0 else covered / required,
            }
        )
    return pd.DataFrame(rows)


def shortage_grid(plan: Plan, column: str = "shortage") -> pd.DataFrame:
    """Zones x slots of ``column`` (``shortage``, or ``before`` for the shortage without
    the plan), indexed by zone_id, columns the slot labels."""
    slots = plan.slots
    if not len(slots):
        z = plan.zones.set_index("zone_id")
        value = (
            (z["required_couriers"] - z["couriers_before"]).clip(lower=0)
            if column == "before"
            else z["shortage"]
        )
        return value.to_frame(f"{plan.local(plan.shift_start):%H:%M}")
    # keyed by the slot's instant, shown by its label: the clock alone can show a time
    # twice (a night over the autumn change, a shift over a day)
    labels = plan.slot_labels()
    label_of = dict(zip(plan.slot_starts().tz_convert("UTC"), labels, strict=True))
    frame = slots.assign(label=pd.to_datetime(slots["slot_start"], utc=True).map(label_of))
    if column == "before":
        frame = frame.assign(
            before=(frame["required_couriers"] - frame["couriers_before"]).clip(lower=0)
        )
    grid = frame.pivot(index="zone_id", columns="label", values=column)
    return grid.reindex(columns=labels).fillna(0).astype(int)


def zones_short_any_slot(plan: Plan, limit: int | None = None) -> pd.DataFrame:
    """Zones short in some slot after the plan, most shortage first (the strip's rows)."""
    grid = shortage_grid(plan)
    total = grid.sum(axis=1)
    order = total[total > 0].sort_values(ascending=False, kind="stable")
    rows = grid.loc[order.index]
    return rows if limit is None else rows.head(limit)


def heat_char(short: int) -> str:
    """One character for a zone's shortage in a slot."""
    if short <= 0:
        return _LEVELS[0]
    if short <= 2:
        return _LEVELS[short]
    if short <= 4:
        return _LEVELS[3]
    if short <= 9:
        return _LEVELS[4]
    return _LEVELS[5]


def strip(values: list[int] | np.ndarray, per: int = 1) -> str:
    """A zone's shortages over the slots as characters, e.g. ``..12449#``; with ``per``
    > 1, one character for each ``per`` slots in turn, the most short of them."""
    values = np.asarray(values, dtype=np.int64)
    if per > 1 and values.size:
        values = np.maximum.reduceat(values, np.arange(0, values.size, per))
    return "".join(heat_char(int(v)) for v in values)


def strip_step(slots: int, room: int) -> int:
    """Slots per character so that a strip of ``slots`` fits in ``room`` characters."""
    return max(1, -(-slots // max(room, 1)))
