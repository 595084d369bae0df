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
    "MAX_SLOT_ROWS",
    "fold_slots",
    "heat_char",
    "shortage_grid",
    "slot_positions",
    "slot_summary",
    "strip",
    "strip_step",
    "zones_short_any_slot",
]

#: Slots listed one per row in a plan's views; a longer shift (a day of 15-minute slots
#: is 96) lists its first ones and says where the rest are.
MAX_SLOT_ROWS = 96

#: Characters of the heat strip: no shortage, then 1, 2, 3-4, 5-9, 10+ couriers short.
_LEVELS = (".", "1", "2", "4", "9", "#")


def slot_positions(plan: Plan, times: pd.Series) -> np.ndarray:
    """The slot of ``plan`` each aware timestamp (or ISO text with offset) starts, by its
    instant (-1 when it starts none): the clock alone can show a time twice (a night
    over the autumn change, a shift over a day), the instant cannot."""
    index = plan.slot_starts().tz_convert("UTC").as_unit("ns")
    return index.get_indexer(pd.to_datetime(times, utc=True).dt.as_unit("ns"))


def slot_summary(plan: Plan) -> pd.DataFrame:
    """Per slot: start (city time), label, moves, routes, logged_on, logged_off,
    required, present, short_before, short (after), zones_short, coverage.

    Column-wise over slots.csv's rows (each row's slot found by its instant): a day in
    5-minute slots took 0.7 s one slot at a time, as long as its solve."""
    starts = plan.slot_starts()
    count = len(starts)
    moves, routes = _moves_per_slot(plan, count)
    slots = plan.slots
    if len(slots):
        at = slot_positions(plan, slots["slot_start"])
        keep = at >= 0
        at = at[keep]

        def column(name: str) -> np.ndarray:
            return slots[name].to_numpy(dtype=float)[keep]

        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(at, weights=values, minlength=count)

        need, before, after = (
            column("required_couriers"),
            column("couriers_before"),
            column("couriers_after"),
        )
        shortage = column("shortage")
        sums = {
            "logged_on": total(column("logged_on")),
            "logged_off": total(column("logged_off")),
            "required": total(need),
            "present": total(after),
            "short_before": total(np.maximum(need - before, 0)),
            "short": total(shortage),
            "zones_short": total((shortage > 0).astype(float)),
        }
        covered = total(np.minimum(need, after))
    else:  # a one-slot plan: zones.csv is the slot
        z = plan.zones
        need = z["required_couriers"].to_numpy(dtype=float)
        after = z["couriers_after"].to_numpy(dtype=float)
        shortage = z["shortage"].to_numpy(dtype=float)
        one = {
            "logged_on": after.sum(),
            "logged_off": after.sum(),
            "required": need.sum(),
            "present": after.sum(),
            "short_before": np.maximum(need - z["couriers_before"].to_numpy(dtype=float), 0).sum(),
            "short": shortage.sum(),
            "zones_short": float((shortage > 0).sum()),
        }
        sums = {k: np.full(count, v) for k, v in one.items()}
        covered = np.full(count, np.minimum(need, after).sum())
    ints = {k: np.rint(v).astype(np.int64) for k, v in sums.items()}  # in column order
    required = ints["required"]
    coverage = np.where(required == 0, 1.0, covered / np.maximum(required, 1))
    return pd.DataFrame(
        {
            "slot_start": starts,
            "label": plan.slot_labels(),
            "moves": moves,
            "routes": routes,
            **ints,
            "coverage": coverage,
        }
    )


def _moves_per_slot(plan: Plan, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Moves and routes (distinct from -> to) made at the start of each of the ``count``
    slots, as `Plan.moves_at` gives them slot by slot."""
    moves = plan.moves
    n_moves = np.zeros(count, dtype=np.int64)
    n_routes = np.zeros(count, dtype=np.int64)
    if not len(moves) or not count:
        return n_moves, n_routes
    if "slot_start" not in moves.columns or plan.slot_count == 1:
        n_moves[0] = len(moves)
        n_routes[0] = moves.groupby(["from_zone", "to_zone"]).ngroups
        return n_moves, n_routes
    at = slot_positions(plan, moves["slot_start"])
    keep = at >= 0
    n_moves = np.bincount(at[keep], minlength=count).astype(np.int64)
    pairs = pd.DataFrame(
        {
            "k": at[keep],
            "a": moves["from_zone"].to_numpy()[keep],
            "b": moves["to_zone"].to_numpy()[keep],
        }
    ).drop_duplicates()
    n_routes = np.bincount(pairs["k"].to_numpy(), minlength=count).astype(np.int64)
    return n_moves, n_routes


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
    labels = plan.slot_labels()
    at = slot_positions(plan, slots["slot_start"])
    frame = slots[at >= 0].assign(label=np.asarray(labels)[at[at >= 0]])
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
    return "".join(heat_char(int(v)) for v in fold_slots(np.asarray(values, np.int64), per))


def fold_slots(values: np.ndarray, per: int) -> np.ndarray:
    """Each ``per`` slots in turn (the last axis) as one, the most short of them."""
    if per <= 1 or not values.shape[-1]:
        return values
    return np.maximum.reduceat(values, np.arange(0, values.shape[-1], per), axis=-1)


def strip_step(slots: int, room: int) -> int:
    """Slots per character so that a strip of ``slots`` fits in ``room`` characters."""
    return max(1, -(-slots // max(room, 1)))
