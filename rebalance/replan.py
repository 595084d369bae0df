"""Re-planning against the plan already published (CONTRACT section 9).

What a previous plan says about each courier *now* (at the new ``shift_start``):

- on its way: its latest previous move that started before now; it counts at that
  move's ``to_zone``, whatever couriers.csv says;
- its instruction now: where the previous plan has it after every move that starts at
  or before now. A courier the previous plan never moved was told to stay where it is,
  so its instruction is its current zone. Keeping the instruction costs nothing; a
  different slot-0 destination costs ``[costs] change_minutes``.

Previous moves of couriers that no longer exist are dropped and counted, never a crash.
A previous plan of another city or another data set (zones it names that these inputs
do not have) is refused with a message naming what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import InputError, Issue

if TYPE_CHECKING:
    from .config import Config
    from .plan import Plan

__all__ = ["PreviousPositions", "check_previous", "previous_positions"]


@dataclass(frozen=True)
class PreviousPositions:
    """Entry zone and instruction (zone index, -1 = none) of each present courier."""

    zone_idx: np.ndarray
    prev_idx: np.ndarray
    on_the_way: int
    note: str


def check_previous(previous: Plan, config: Config, zone_ids: pd.Index, where: str = "") -> None:
    """Refuse a previous plan of another city or another data set (exit 3)."""
    label = where or "the previous plan"
    if previous.city != config.city.name:
        raise InputError(
            Issue(
                f"{label} is for {previous.city!r}, not {config.city.name!r}",
                file=f"{where}/plan.json" if where else None,
                column="city",
                valid=f"a plan of {config.city.name!r} (the [city] name of this configuration)",
            ),
            title="invalid previous plan",
        )
    named = set(previous.zones["zone_id"].astype(str)) if len(previous.zones) else set()
    unknown = sorted(named - set(zone_ids.astype(str)))
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise InputError(
            Issue(
                f"{label} comes from another data set: {len(unknown)} of its zones are not in "
                f"these inputs ({shown})",
                file=f"{where}/zones.csv" if where else None,
                column="zone_id",
                valid="a plan made from the same city's zones",
            ),
            title="invalid previous plan",
        )


def previous_positions(
    previous: Plan, present: pd.DataFrame, zone_index: pd.Index, now: pd.Timestamp
) -> PreviousPositions:
    """Entry zones and instructions of ``present`` couriers under ``previous``."""
    zone_idx = present["zone_idx"].to_numpy(np.int64).copy()
    prev_idx = zone_idx.copy()
    moves = previous.moves
    if moves.empty:
        return PreviousPositions(zone_idx, prev_idx, 0, "")
    starts = _move_starts(previous)
    ids = moves["courier_id"].astype(str).to_numpy(dtype=object)
    to_idx = zone_index.get_indexer(moves["to_zone"].astype(str).to_numpy(dtype=object))
    known = pd.Index(present["courier_id"].astype(str).to_numpy(dtype=object))
    row = known.get_indexer(ids)
    gone_ids = set(ids[row < 0]) - set(known)
    usable = (row >= 0) & (to_idx >= 0)
    frame = pd.DataFrame(
        {"row": row[usable], "to": to_idx[usable], "start": starts[usable].astype(np.int64)}
    ).sort_values(["row", "start"], kind="stable")
    now_ns = now.value
    started = frame[frame["start"] < now_ns].groupby("row", sort=False).tail(1)
    zone_idx[started["row"].to_numpy()] = started["to"].to_numpy()
    prev_idx[:] = zone_idx
    due = frame[frame["start"] <= now_ns].groupby("row", sort=False).tail(1)
    prev_idx[due["row"].to_numpy()] = due["to"].to_numpy()
    on_the_way = int((zone_idx != present["zone_idx"].to_numpy(np.int64)).sum())
    notes = []
    if gone_ids:
        notes.append(
            f"{len(gone_ids)} courier{'s' if len(gone_ids) != 1 else ''} of the previous plan "
            "no longer present (dropped)"
        )
    if on_the_way:
        notes.append(f"{on_the_way} on their way count at their destination")
    return PreviousPositions(zone_idx, prev_idx, on_the_way, "; ".join(notes))


def _move_starts(plan: Plan) -> np.ndarray:
    """Each previous move's start as UTC nanoseconds (the shift start without slot_start)."""
    moves = plan.moves
    if "slot_start" in moves.columns:
        ts = pd.to_datetime(moves["slot_start"].astype(str), utc=True, format="ISO8601")
        return ts.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.full(len(moves), plan.shift_start.value, dtype=np.int64)
