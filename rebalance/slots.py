"""The shift and its slots (CONTRACT section 7): one value, computed once, read by every layer.

A `SlotGrid` is the shift ``[start, end)`` cut into ``count`` slots of ``minutes`` each.
With ``slot_minutes >= `` the shift length there is one slot covering the whole shift,
and every rule reduces to the snapshot model of CONTRACT section 2 (presence included).

`presence` applies the presence rule to a couriers table, vectorised: a courier's
present slots are one contiguous run ``first..last`` (both -1 when it is never present).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .timeparse import comes_twice

__all__ = ["SlotGrid", "check_shift_window", "presence", "slot_labels"]

_NS_PER_MINUTE = 60_000_000_000


def check_shift_window(
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    start_name: str = "shift_start",
    end_name: str | None = "shift_end",
    timezone: str | None = None,
) -> None:
    """ValueError unless the shift ends after it starts, a whole number of minutes later,
    and lasts at most `ranges.MAX_SHIFT_HOURS` (what ``[shift] hours`` allows).

    The messages name the two ends as the caller knows them: the library's arguments
    by default; the command line passes ``--shift-start`` and no end name (its usage
    error names ``--shift-end`` already). ``timezone``: the city's, to show the times in.
    """
    from .ranges import MAX_SHIFT_HOURS

    subject = f"{end_name} " if end_name else ""
    if end <= start:
        shown = [t.tz_convert(timezone) if timezone else t for t in (start, end)]
        # the command line shows nothing: the user sees what they typed
        got = f" (got {shown[0]} to {shown[1]})" if end_name else ""
        raise ValueError(f"{subject}must be after {start_name}{got}")
    hours = (end - start) / pd.Timedelta(hours=1)
    if hours > MAX_SHIFT_HOURS:
        raise ValueError(
            f"a shift lasts at most {MAX_SHIFT_HOURS:g} hours (as [shift] hours), and this "
            f"one would last {hours:,.4g} hours; plan a long period shift by shift"
        )
    if (end - start) % pd.Timedelta(minutes=1):
        raise ValueError(
            f"{subject}must be a whole number of minutes after {start_name} "
            f"(got {_span(end - start)}); slots are whole minutes"
        )


def _span(delta: pd.Timedelta) -> str:
    """A length as an operator reads it: ``1 h 0 min 30 s`` (pandas writes '0 days 01:00:30');
    exact to the nanosecond (whole nanoseconds, never a float's 9.99989e-10 s)."""
    hours, rest = divmod(int(delta.value), 3_600 * 10**9)
    minutes, nanos = divmod(rest, 60 * 10**9)
    whole, fraction = divmod(nanos, 10**9)
    seconds = f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")
    return f"{hours} h {minutes} min {seconds} s"


@dataclass(frozen=True)
class SlotGrid:
    """The shift ``[start, end)`` in ``count`` slots of ``minutes`` minutes.

    ``start`` and ``end`` are aware UTC timestamps; ``timezone`` is the city's, used
    only to show times.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    minutes: int
    timezone: str = "UTC"

    @classmethod
    def build(
        cls,
        start: pd.Timestamp,
        end: pd.Timestamp,
        slot_minutes: int,
        timezone: str = "UTC",
    ) -> SlotGrid:
        """The grid for a shift; ``ValueError`` when the slots do not divide the shift.

        A slot as long as the shift or longer gives one slot (``minutes`` = the shift).
        """
        if end <= start:
            raise ValueError("the shift must end after it starts")
        if slot_minutes <= 0:
            raise ValueError("slot_minutes must be a positive whole number of minutes")
        length_ns = int((end - start).value)
        slot_ns = int(slot_minutes) * _NS_PER_MINUTE
        if slot_ns >= length_ns:
            if length_ns % _NS_PER_MINUTE:
                raise ValueError("the shift must last a whole number of minutes")
            return cls(start, end, length_ns // _NS_PER_MINUTE, timezone)
        if length_ns % slot_ns:
            hours = length_ns / (60 * _NS_PER_MINUTE)
            raise ValueError(
                f"slot_minutes = {slot_minutes} does not divide the shift of {hours:g} h "
                f"({length_ns // _NS_PER_MINUTE} minutes); use a divisor such as "
                f"{_divisors_hint(length_ns // _NS_PER_MINUTE)}"
            )
        return cls(start, end, int(slot_minutes), timezone)

    @property
    def count(self) -> int:
        """K, the number of slots."""
        return int((self.end - self.start).value // (self.minutes * _NS_PER_MINUTE))

    @property
    def length(self) -> pd.Timedelta:
        """L as a Timedelta."""
        return pd.Timedelta(minutes=self.minutes)

    @property
    def shift_minutes(self) -> int:
        """H in minutes."""
        return int((self.end - self.start).value // _NS_PER_MINUTE)

    @property
    def weight(self) -> float:
        """L / H, the weight of one slot in the objective (1.0 with one slot)."""
        return self.minutes / self.shift_minutes

    @property
    def starts(self) -> pd.DatetimeIndex:
        """Slot starts, UTC."""
        return pd.date_range(self.start, periods=self.count, freq=self.length)

    @property
    def ends(self) -> pd.DatetimeIndex:
        """Slot ends, UTC."""
        return self.starts + self.length

    def local_starts(self) -> pd.DatetimeIndex:
        """Slot starts in the city's timezone."""
        return self.starts.tz_convert(self.timezone)

    def window(self) -> str:
        """The shift in city time as the plan's views say it: ``Mon 30 Nov 2026
        19:00–23:00 CET``, ``(+1 day)`` past midnight, each end's zone over a clock
        change (`rebalance.views.wording.window_text`)."""
        from .views.wording import window_text

        return window_text(self.start.tz_convert(self.timezone), self.end.tz_convert(self.timezone))

    def slot_of(self, times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """The slot index of each timestamp, -1 outside ``[start, end)`` and for NaT."""
        ns = utc_ns(times)
        offset = ns - self.start.value
        index = np.floor_divide(offset, self.minutes * _NS_PER_MINUTE)
        # compared as instants: NaT (the smallest int64) minus the start wraps round to
        # a huge offset, and read as inside the shift in slot ~10^9
        inside = (ns >= self.start.value) & (ns < self.end.value)
        return np.where(inside, index, -1).astype(np.int64)

    def is_boundary(self, times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
        """Whether each timestamp is the start of a slot of this grid."""
        ns = utc_ns(times)
        offset = ns - self.start.value
        inside = (ns >= self.start.value) & (ns < self.end.value)  # NaT: outside
        return inside & (offset % (self.minutes * _NS_PER_MINUTE) == 0)

    def label(self, k: int) -> str:
        """Slot k's start as `slot_labels` shows it (``HH:MM``, city time)."""
        return slot_labels(self.local_starts())[k]


#: How a start is shown when the clock alone shows it twice, most readable first: the
#: autumn change (02:30 CEST, then 02:30 CET), then a shift over a day (Mon 19:00, Tue
#: 19:00), then both; the last always tells two instants apart.
_LABEL_FORMATS = ("%H:%M %Z", "%a %H:%M", "%a %H:%M %Z", "%Y-%m-%d %H:%M UTC%z")


def slot_labels(starts: Iterable[pd.Timestamp]) -> list[str]:
    """The label of each slot start (aware, in city time): ``HH:MM``, unless the clock
    shows that time twice in the shift, and then with what tells them apart.

    A night shift over the autumn change passes 02:30 twice (CEST, then CET), and a
    shift over a day passes every time twice: views that key rows or columns by label
    (tables, heat strips, charts, Slack lines) need one label per slot.
    """
    starts = list(starts)
    # A clock time the night shows twice says which even where the shift shows it once:
    # a shift from the second 02:00 labelled its first slot "02:00", the hour before's.
    near = _near_a_change(starts)
    labels = [f"{s:%H:%M %Z}" if near and comes_twice(s) else f"{s:%H:%M}" for s in starts]
    for fmt in _LABEL_FORMATS:
        counts = Counter(labels)
        if len(counts) == len(labels):
            break
        labels = [f"{s:{fmt}}" if counts[t] > 1 else t for s, t in zip(starts, labels, strict=True)]
    return labels


def _near_a_change(starts: list[pd.Timestamp]) -> bool:
    """Whether the clock changes within 3 hours of the shift's slots (the per-slot test
    costs ~0.1 ms; the repeated hour is at most an hour long)."""
    if not starts:
        return False
    margin = pd.Timedelta(hours=3)
    edges = [min(starts) - margin, max(starts) + margin]
    return len({s.utcoffset() for s in [*edges, *starts]}) > 1


#: Couriers `presence` works on at a time.
_PRESENCE_ROWS = 1 << 20


def presence(
    couriers: pd.DataFrame,
    grid: SlotGrid,
    min_available_minutes: float,
    *,
    dtype: np.dtype | type = np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last present slot of every courier (-1, -1 when never present), as
    ``dtype`` (a signed integer type holding -1 .. the slot count; int64 unless asked).

    One slot: CONTRACT section 2's eligibility (from <= start, until >= start +
    min_available_minutes). Several: present in slot k iff from <= start_k and
    until >= start_k + min(min_available_minutes, L); both conditions are monotone in k,
    so the present slots are the run first..last.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "i" or np.iinfo(dtype).max < grid.count - 1:
        raise ValueError(f"{dtype} cannot hold the slots -1 .. {grid.count - 1}")
    n = len(couriers)
    # compared column-wise (Arrow's kernel for Arrow text): no object array of statuses
    available = (
        np.asarray((couriers["status"] == "available").to_numpy(dtype=bool, na_value=False))
        if n
        else np.zeros(0, bool)
    )
    frm = utc_ns(couriers["available_from"]) if n else np.zeros(0, np.int64)
    until = utc_ns(couriers["available_until"]) if n else np.zeros(0, np.int64)
    step = grid.minutes * _NS_PER_MINUTE
    if grid.count == 1:
        need = round(min_available_minutes * _NS_PER_MINUTE)
    else:
        need = round(min(min_available_minutes, grid.minutes) * _NS_PER_MINUTE)
    start = grid.start.value
    first = np.empty(n, dtype=dtype)
    last = np.empty(n, dtype=dtype)
    # A million couriers at a time, in place on two reused int64 buffers: at 10M
    # couriers every 80 MB temporary is memory touched for the first time, ~0.1 s on
    # this project's VM (benchmarks/README.md); the results in the type asked for.
    size = min(n, _PRESENCE_ROWS)
    buffers = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, bool)
    for lo in range(0, n, _PRESENCE_ROWS):
        hi = min(lo + _PRESENCE_ROWS, n)
        fst, lst, ok_ = (b[: hi - lo] for b in buffers)
        # first k with start + k*step >= from: -floor((start - from) / step), at least 0
        np.subtract(start, frm[lo:hi], out=fst)
        np.floor_divide(fst, step, out=fst)
        np.negative(fst, out=fst)
        np.maximum(fst, 0, out=fst)
        # last k with start + k*step + need <= until, at most count - 1
        np.subtract(until[lo:hi], need + start, out=lst)
        np.floor_divide(lst, step, out=lst)
        np.minimum(lst, grid.count - 1, out=lst)
        np.less_equal(fst, lst, out=ok_)
        ok_ &= available[lo:hi]
        ok_ &= fst < grid.count
        ok_ &= lst >= 0
        np.logical_not(ok_, out=ok_)
        fst[ok_] = -1
        lst[ok_] = -1
        first[lo:hi] = fst
        last[lo:hi] = lst
    return first, last


def utc_ns(times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """UTC nanoseconds since the epoch, as int64."""
    if isinstance(times, pd.Series):
        if isinstance(times.array, pd.arrays.DatetimeArray):
            # stored as UTC (aware) or wall time (naive) already: a view, no copy
            return np.asarray(times.array.as_unit("ns").asi8)
        values = times.dt.tz_convert("UTC") if times.dt.tz is not None else times
        return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if isinstance(times, pd.DatetimeIndex):
        values = times.tz_convert("UTC") if times.tz is not None else times
        return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return np.asarray(times, dtype="datetime64[ns]").astype(np.int64)


def _divisors_hint(total: int) -> str:
    """Slot lengths that divide a shift of ``total`` minutes: the usual ones, else the
    divisors from 5 minutes up (a 70-minute shift: 5, 7, 10, 14, 35 or 70)."""
    good = [d for d in (15, 20, 30, 60) if total % d == 0]
    if not good:
        good = [d for d in range(5, total + 1) if total % d == 0][:6] or [total]
    return ", ".join(str(d) for d in good[:-1]) + (" or " if len(good) > 1 else "") + str(good[-1])
