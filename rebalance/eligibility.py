"""Why couriers are not eligible for a shift, and when to warn about it.

A courier is eligible when its status is available and it is present in at least one
slot of the shift (CONTRACT sections 2 and 7; `slots.presence`). This module names, for
every courier that is not, the reason an operator can check: its status, or which end
of its availability window misses the shift. `validate` shows the counts by reason;
`plan` and `run` warn when nobody is eligible, or when most couriers are not eligible
because of their windows (the usual sign of a wrong --shift-start or timezone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .slots import SlotGrid, presence

if TYPE_CHECKING:
    from .config import Config
    from .plan import Plan

__all__ = ["Eligibility", "eligibility", "plan_grid", "shift_grid"]

#: Reasons that come from the availability window (not from the courier's status).
WINDOW_REASONS = ("gone", "late", "leaves_early", "short")


@dataclass(frozen=True)
class Eligibility:
    """Who is eligible for a shift, and why the others are not.

    ``reasons`` holds, per courier (the couriers table's order), one of ``""``
    (eligible), ``busy``, ``offline``, ``gone`` (logged off before the shift),
    ``late`` (logs on after the last slot starts), ``leaves_early`` (logs off too soon
    after the shift starts) or ``short`` (window shorter than any slot needs).
    """

    grid: SlotGrid
    need_minutes: float
    reasons: pd.Series
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Couriers in the table."""
        return len(self.reasons)

    @property
    def eligible(self) -> int:
        """Couriers eligible for the shift."""
        return int((self.reasons == "").sum())

    def counts(self) -> dict[str, int]:
        """Couriers not eligible, by reason label, largest first."""
        counts = self.reasons[self.reasons != ""].value_counts()
        return {self.labels.get(str(k), str(k)): int(n) for k, n in counts.items()}

    @property
    def by_window(self) -> int:
        """Couriers with status available that the availability window rules out."""
        return int(self.reasons.isin(WINDOW_REASONS).sum())

    def warnings(self) -> list[str]:
        """What an operator must hear before trusting the plan (empty when all is usual).

        Nobody eligible; or most available couriers ruled out by their windows.
        """
        local = self.grid.start.tz_convert(self.grid.timezone)
        shift = f"{local:%Y-%m-%d %H:%M %Z}"
        span = ""
        if self.window is not None:
            lo, hi = (t.tz_convert(self.grid.timezone) for t in self.window)
            span = f"; the couriers' windows run from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M}"
        why = ", ".join(f"{n} {label}" for label, n in self.counts().items())
        if self.total and not self.eligible:
            return [
                f"no courier is eligible for the shift starting {shift} ({why}): the plan "
                f"moves nobody. Check --shift-start (city time){span}."
            ]
        available = self.eligible + self.by_window
        if available and self.by_window * 2 > available:
            return [
                f"{self.by_window} of {available} available couriers are not eligible for the "
                f"shift starting {shift} because of their availability windows ({why}). "
                f"Check --shift-start (city time){span}."
            ]
        return []


def shift_grid(config: Config, start: pd.Timestamp, end: pd.Timestamp | None = None) -> SlotGrid:
    """The slot grid of a shift under ``config`` (end default: start + [shift] hours)."""
    if end is None:
        end = start + pd.Timedelta(hours=config.shift.hours)
    try:
        return SlotGrid.build(start, end, config.shift.slot_minutes, config.city.timezone)
    except ValueError:
        # A slot length that does not divide this shift is the planner's error to
        # report; the reasons are still worth giving, over the shift as one slot.
        return SlotGrid.build(start, end, 10**9, config.city.timezone)


def plan_grid(plan: Plan, config: Config) -> SlotGrid:
    """The slot grid a solved plan was made on (its own slot length, else the config's)."""
    if getattr(plan, "slot_minutes", 0):
        return SlotGrid.build(plan.shift_start, plan.shift_end, plan.slot_minutes, plan.timezone)
    return shift_grid(config, plan.shift_start, plan.shift_end)


def eligibility(
    couriers: pd.DataFrame, grid: SlotGrid, min_available_minutes: float
) -> Eligibility:
    """The reason each courier is not eligible for the shift of ``grid`` ("" if it is)."""
    first, _ = presence(couriers, grid, min_available_minutes)
    status = couriers["status"].astype(str).to_numpy()
    frm = couriers["available_from"]
    until = couriers["available_until"]
    if grid.count == 1:
        need = float(min_available_minutes)
    else:
        need = float(min(min_available_minutes, grid.minutes))
    last_start = grid.starts[-1]
    reasons = np.select(
        [
            first >= 0,
            status != "available",
            (until <= grid.start).to_numpy(),
            (frm > last_start).to_numpy(),
            (until < grid.start + pd.Timedelta(minutes=need)).to_numpy(),
        ],
        ["", status, "gone", "late", "leaves_early"],
        default="short",
    )
    if grid.count == 1:
        late = "arriving after the shift starts"
    else:
        late = f"arriving after the last slot starts ({grid.label(grid.count - 1)})"
    labels = {
        "busy": "busy",
        "offline": "offline",
        "gone": "gone before the shift starts",
        "late": late,
        "leaves_early": f"leaving less than {need:g} min after the shift starts",
        "short": f"with a window too short for any slot ({need:g} min from a slot start)",
    }
    window = None
    if len(couriers):
        window = (pd.Timestamp(frm.min()), pd.Timestamp(until.max()))
    return Eligibility(
        grid=grid,
        need_minutes=need,
        reasons=pd.Series(reasons, index=couriers.index, dtype=object),
        window=window,
        labels=labels,
    )
