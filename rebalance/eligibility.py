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
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .slots import SlotGrid, check_shift_window, presence
from .timeparse import factorize_text

if TYPE_CHECKING:
    from .config import Config
    from .plan import Plan

__all__ = [
    "Eligibility",
    "demand_warning",
    "eligibility",
    "plan_grid",
    "plan_warnings",
    "shift_grid",
]

#: Reasons that come from the availability window (not from the courier's status).
WINDOW_REASONS = ("gone", "late", "leaves_early", "short")
#: The shift start as the command line and the library take it, in the warnings that
#: send the user to check it (a notebook was told "Check --shift-start").
_SHIFT_START = "the shift start (--shift-start, or shift_start= in Python"


@dataclass(frozen=True)
class Eligibility:
    """Who is eligible for a shift, and why the others are not.

    ``reasons`` holds, per courier (the couriers table's order; a categorical), one of ``""``
    (eligible), ``busy``, ``offline``, ``gone`` (logged off before the shift),
    ``late`` (logs on after the last slot starts), ``leaves_early`` (logs off too soon
    after the shift starts) or ``short`` (window shorter than any slot needs).
    """

    grid: SlotGrid
    need_minutes: float
    reasons: pd.Series
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    #: ``reasons`` as positions in ``codes_of`` (distinct reasons, "" first): counting
    #: them is a bincount, not a comparison of a million strings. None: count ``reasons``.
    codes: np.ndarray | None = field(default=None, repr=False, compare=False)
    codes_of: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def total(self) -> int:
        """Couriers in the table."""
        return len(self.reasons)

    @property
    def eligible(self) -> int:
        """Couriers eligible for the shift."""
        return self._tally.get("", 0)

    def counts(self) -> dict[str, int]:
        """Couriers not eligible, by reason label, largest first (ties: the reason met
        first in the table first)."""
        tally = sorted(
            ((n, i, k) for i, (k, n) in enumerate(self._tally.items()) if k != ""),
            key=lambda t: (-t[0], t[1]),
        )
        return {self.labels.get(k, k): n for n, _, k in tally}

    @property
    def by_window(self) -> int:
        """Couriers with status available that the availability window rules out."""
        return sum(n for k, n in self._tally.items() if k in WINDOW_REASONS)

    @cached_property
    def _tally(self) -> dict[str, int]:
        """Couriers per reason ("" = eligible), in the order each is first met (counted
        once: the warnings and the counts all read it)."""
        if self.codes is None:
            values = self.reasons.astype(str)
            found = values.drop_duplicates()
            counts = values.value_counts()
            return {str(k): int(counts[k]) for k in found}
        n = np.bincount(self.codes, minlength=len(self.codes_of))
        return {self.codes_of[c]: int(n[c]) for c in _first_met(self.codes, n > 0)}

    def warnings(self) -> list[str]:
        """What an operator must hear before trusting the plan (empty when all is usual).

        No courier at all; nobody eligible; or most available couriers ruled out by
        their windows.
        """
        if not _warning_due(self.eligible, self.by_window):
            return []
        if not self.total:
            return [
                "the couriers table lists no courier: the plan moves nobody, and every zone "
                "that needs couriers stays short. Check the couriers file."
            ]
        shift, why = self.shift_text(), self.reasons_text()
        if not self.eligible:
            return [
                f"no courier is eligible for the shift starting {shift} ({why}): the plan "
                f"moves nobody. {self.check()}."
            ]
        available = self.eligible + self.by_window
        return [
            f"{self.by_window} of {available} available couriers are not eligible for the "
            f"shift starting {shift} because of their availability windows ({why}). "
            f"{self.check()}."
        ]

    def shift_text(self) -> str:
        """The shift start as the warnings say it: ``2026-11-30 19:00 CET``."""
        return f"{self.grid.start.tz_convert(self.grid.timezone):%Y-%m-%d %H:%M %Z}"

    def reasons_text(self) -> str:
        """The couriers not eligible, by reason: ``5 arriving after ..., 1 busy``."""
        return ", ".join(f"{n} {label}" for label, n in self.counts().items())

    def check(self, lead: str = "Check") -> str:
        """What to check, and where the couriers' windows run when known: ``Check the
        shift start (...; city time); the couriers' windows run from ... to ...``."""
        span = ""
        if self.window is not None:
            lo, hi = (t.tz_convert(self.grid.timezone) for t in self.window)
            span = f"; the couriers' windows run from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M}"
        return f"{lead} {_SHIFT_START}; city time){span}"


def _warning_due(eligible: int, by_window: int) -> bool:
    """Whether `Eligibility.warnings` has something to say: nobody eligible (no courier
    at all included: an empty couriers file planned silently), or most of the available
    ones (eligible + ruled out by their windows) ruled out by their windows."""
    available = eligible + by_window
    return not eligible or by_window * 2 > available


def shift_grid(config: Config, start: pd.Timestamp, end: pd.Timestamp | None = None) -> SlotGrid:
    """The slot grid of a shift under ``config`` (end default: start + [shift] hours).

    ValueError for a window no plan could have (`rebalance.slots.check_shift_window`),
    as `rebalance.forecasting.shift_grid` gives; unlike that one, slots that do not divide
    the shift give one slot over all of it."""
    if end is None:
        end = start + config.shift.length
    check_shift_window(start, end)
    try:
        return SlotGrid.build(start, end, config.shift.slot_minutes, config.city.timezone)
    except ValueError:
        # A slot length that does not divide this shift is the planner's error to
        # report; the reasons are still worth giving, over the shift as one slot.
        return SlotGrid.build(start, end, 10**9, config.city.timezone)


def _first_met(codes: np.ndarray, present: np.ndarray) -> list[int]:
    """The codes marked in ``present``, in the order of their first position in
    ``codes``; looked for in growing blocks (they nearly all show in the first rows)."""
    first = np.full(present.size, codes.size)
    missing = int(present.sum())
    start, step = 0, 4096
    while missing and start < codes.size:
        block = codes[start : start + step]
        seen = np.unique(block)
        new = seen[first[seen] == codes.size]
        for c in new.tolist():
            first[c] = start + int(np.argmax(block == c))
        missing -= new.size
        start, step = start + step, step * 4
    return sorted(np.flatnonzero(present).tolist(), key=lambda c: first[c])


def plan_grid(plan: Plan, config: Config) -> SlotGrid:
    """The slot grid a solved plan was made on (its own slot length, else the config's)."""
    if getattr(plan, "slot_minutes", 0):
        return SlotGrid.build(plan.shift_start, plan.shift_end, plan.slot_minutes, plan.timezone)
    return shift_grid(config, plan.shift_start, plan.shift_end)


def demand_warning(
    demand: pd.DataFrame | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
    timezone: str,
    slot_minutes: int | None = None,
) -> str | None:
    """What to say when a demand table has rows but none in the shift [start, end): the
    restaurants' own rates are used (CONTRACT 7: rows outside the shift are ignored),
    and a table written for another day planned the evening on them without a word,
    while `validate` said the table was used. With ``slot_minutes``, also when some of
    the shift's slots have no row (a table forecast for 19:00-23:00, planned at 20:00:
    23:00 and 23:30 on the restaurants' own rates)."""
    if demand is None or not len(demand):
        return None
    slots = pd.to_datetime(demand["slot_start"], utc=True)
    lo, hi = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    inside = ((slots >= lo) & (slots < hi)).to_numpy()
    if inside.any():
        return _second_hour_note(slots, lo, hi, timezone) or _missing_slots_note(
            slots[inside], lo, hi, timezone, slot_minutes
        )
    first, last = (t.tz_convert(timezone) for t in (slots.min(), slots.max()))
    return (
        f"no row of the demand table ({len(demand):,} rows, {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M}) falls in this shift: every restaurant is planned at its "
        f"expected_orders_per_hour. Check {_SHIFT_START}), or the demand file's dates."
    )


def _missing_slots_note(
    slots: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp, timezone: str, minutes: int | None
) -> str | None:
    """What to say when the demand table has rows in the shift but none at some of its
    slots: those are planned at each restaurant's own rate, without a word until now."""
    from .slots import slot_labels

    if not minutes or minutes <= 0:
        return None
    grid = pd.date_range(lo, hi, freq=f"{int(minutes)}min", inclusive="left")
    if len(grid) < 2:
        return None
    have = pd.DatetimeIndex(slots.unique()).as_unit("ns")
    missing = grid[~grid.as_unit("ns").isin(have)]
    if not len(missing):
        return None
    labels = slot_labels(grid.tz_convert(timezone))
    shown = [labels[i] for i in grid.get_indexer(missing)]
    listed = ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
    return (
        f"the demand table has no row for {len(shown)} of the shift's {len(grid)} slots "
        f"({listed}): {'it is' if len(shown) == 1 else 'those are'} planned at each "
        "restaurant's expected_orders_per_hour. Forecast the whole shift, or check the "
        "demand file's times."
    )


def _second_hour_note(
    slots: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp, timezone: str
) -> str | None:
    """What to say when the shift plans the second of the hour the clocks go back over
    and the demand table has rows at the first of those times but none at the second:
    a time written without its offset is the first (`timeparse.in_timezone`), so the
    second hour's slots fell back to the restaurants' rates without a word. None for
    any shift not within 3 hours of such a change (two offsets looked up)."""
    from zoneinfo import ZoneInfo

    from .timeparse import _next_change

    tz = ZoneInfo(timezone)
    ahead = lo - pd.Timedelta(hours=3)
    before, after = ahead.tz_convert(tz).utcoffset(), hi.tz_convert(tz).utcoffset()
    if before is None or after is None or before <= after:
        return None
    change = _next_change(ahead, tz)
    delta = before - after
    a, b = max(change, lo), min(change + delta, hi)
    if a >= b:
        return None
    times = pd.DatetimeIndex(slots.unique())
    if ((times >= a) & (times < b)).any():
        return None  # rows given with the second hour's offset: nothing was lost
    firsts = times[(times >= a - delta) & (times < b - delta)].sort_values()
    if not len(firsts):
        return None
    shown = ", ".join(f"{t.tz_convert(tz):%H:%M}" for t in firsts[:4])
    early, late = (t.tz_convert(tz) for t in (change - pd.Timedelta(1, "ns"), change))
    example = (firsts[0] + delta).tz_convert(tz)
    return (
        f"the demand table has rows at {shown} {early:%Z} but none at those times "
        f"{late:%Z}, which this shift plans (on {late:%a %d %b %Y} the clocks show them "
        "twice, and a time written without its offset is the first): those slots are "
        "planned at each restaurant's expected_orders_per_hour. Give slot_start with its "
        f"offset for the second (e.g. {example.isoformat(timespec='seconds')})."
    )


def plan_warnings(
    couriers: pd.DataFrame, plan: Plan, config: Config, demand: pd.DataFrame | None = None
) -> list[str]:
    """`Eligibility.warnings` for the shift ``plan`` was made for (what `plan` and `run`
    say after planning).

    The plan counted its eligible couriers already (``kpis["eligible_couriers"]``), and
    with the number whose status is available that settles whether there is anything to
    say: nobody eligible, or most available couriers ruled out by their windows (those
    are the available ones not eligible). Only then is every courier's reason found
    (0.5 s at 10 million couriers, for a warning that is rarely due)."""
    tz = getattr(plan, "timezone", None) or config.city.timezone
    no_rows = demand_warning(
        demand, plan.shift_start, plan.shift_end, tz, getattr(plan, "slot_minutes", None)
    )
    said = [no_rows] if no_rows else []
    eligible = (getattr(plan, "kpis", None) or {}).get("eligible_couriers")
    if eligible is not None:
        available = int(
            (couriers["status"] == "available").to_numpy(dtype=bool, na_value=False).sum()
        )
        if not _warning_due(int(eligible), available - int(eligible)):
            return said
    grid = plan_grid(plan, config)
    found = eligibility(couriers, grid, config.eligibility.min_available_minutes).warnings()
    return found + said


def eligibility(
    couriers: pd.DataFrame, grid: SlotGrid, min_available_minutes: float
) -> Eligibility:
    """The reason each courier is not eligible for the shift of ``grid`` ("" if it is)."""
    first, _ = presence(couriers, grid, min_available_minutes)
    status = couriers["status"]
    if not isinstance(status.dtype, pd.CategoricalDtype):  # (load gives a categorical)
        status = status.astype(str)
    frm = couriers["available_from"]
    until = couriers["available_until"]
    if grid.count == 1:
        need = float(min_available_minutes)
    else:
        need = float(min(min_available_minutes, grid.minutes))
    last_start = grid.starts[-1]
    # The first condition that holds gives the reason: eligible, the status when it is not
    # available, gone, late, leaving early, else a window too short. As small codes into
    # `names`, assigned from the last condition to the first.
    names = ["", *WINDOW_REASONS]
    codes = np.full(len(couriers), names.index("short"), dtype=np.int64)
    codes[(until < grid.start + pd.Timedelta(minutes=need)).to_numpy(bool)] = names.index(
        "leaves_early"
    )
    codes[(frm > last_start).to_numpy(bool)] = names.index("late")
    codes[(until <= grid.start).to_numpy(bool)] = names.index("gone")
    status_code, distinct = factorize_text(status)  # Arrow's encoding, not pandas'
    statuses = distinct.to_numpy(dtype=object)
    for value in statuses:
        if str(value) not in names:
            names.append(str(value))
    status_name = np.array([names.index(str(v)) for v in statuses], dtype=np.int64)
    not_available = (statuses != "available")[status_code]
    codes[not_available] = status_name[status_code[not_available]]
    codes[first >= 0] = 0
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
        # categories, not a Python string per courier (10M couriers: 80 MB and 0.2 s)
        reasons=pd.Series(pd.Categorical.from_codes(codes, categories=names), index=couriers.index),
        window=window,
        labels=labels,
        codes=codes,
        codes_of=tuple(names),
    )
