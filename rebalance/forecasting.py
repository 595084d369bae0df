"""Forecast demand by slot from past orders (CONTRACT section 8) into a ``demand`` table (section 7).

For the shift being planned, cut into the slots of `SlotGrid`, every past day of the
history is looked at through the same wall-clock windows (slot k of 19:00-23:00 on a
past day is that day's 19:00-19:30 ...). Days on or after the shift are never used.
When the history holds at least two days on the shift's weekday, only those are used;
otherwise every past day is.

The estimate of restaurant r in slot k is its rate over the shift (its *level*) times its
time-of-day *shape*, each shrunk toward its zone:

- Level, Gamma-Poisson empirical Bayes. With C_r orders over an exposure of T_r hours
  (the used days since its first order x the shift's hours), the posterior mean is
  ``(C_r + a) / (T_r + a / m_z)``: m_z is the zone's pooled rate per restaurant-hour and
  a = 1 / phi, where phi, the squared coefficient of variation of true levels around
  their zone's mean, is estimated from the whole city by the method of moments (observed
  variance around the zone's mean minus the Poisson part, both corrected for that mean
  being estimated from the same restaurants; zones of one restaurant weigh nothing).
  ``prior_weight`` = (a / m_z) / (T_r + a / m_z) is how much of the level came from the
  zone: near 0 for a restaurant with a long busy history, 1 for one with no exposure at
  all.
- Shape, Dirichlet-multinomial empirical Bayes: ``(c_rk + b s_zk) / (C_r + b)``, s_zk
  the zone's shape (itself shrunk toward the city's the same way) and b, in
  pseudo-orders, estimated by the method of moments from how far restaurants' shapes
  spread around their zone's beyond multinomial noise (`_concentration`). A restaurant
  with a handful of orders follows its zone's evening curve; a busy one keeps its own.

With a long history both reduce to the plain average (orders in the slot over the days,
per hour). On a past night the clocks changed, a slot's clock window may have lasted
twice its length (autumn) or not at all (spring): its orders count per its real time
(`_real_minutes`), and a window that did not happen is left out of that slot's days.
What it cannot estimate it says: a restaurant with no order in the history gets no row (the planner then uses ``expected_orders_per_hour`` of restaurants.csv, as
section 7 says), and the report lists these restaurants.

The backtest forecasts the history's last used day from the days before it (the same
weekday rule, relative to that day) and compares with the orders that came, per zone and
slot: MAE and bias in orders per hour, beside the error of the flat
``expected_orders_per_hour`` of restaurants.csv, which is what a plan uses without a
demand table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .errors import DataError, Issue, warn_notes
from .inputs import Inputs, as_inputs, config_for, index_dtype, unique_sorted
from .model import positions
from .orders import Orders, check_frame
from .orders import _load as _load_orders
from .slots import SlotGrid, check_shift_window
from .timeparse import parse_timestamp
from .views.wording import plural

__all__ = [
    "DEMAND_COLUMNS",
    "SHAPE_PRIOR_ORDERS",
    "Backtest",
    "Forecast",
    "forecast",
    "run_forecast",
    "shift_grid",
]

#: The demand table of CONTRACT section 7, then the columns saying how each row was made.
DEMAND_COLUMNS = (
    "restaurant_id",
    "slot_start",
    "expected_orders_per_hour",
    "zone_id",
    "history_orders",
    "history_days",
    "prior_weight",
)
#: How many orders of its own a restaurant (or a zone) needs before its time-of-day shape
#: counts as much as its zone's (or the city's), when the data cannot say (one slot, or no
#: restaurant with two orders); otherwise estimated from the data within SHAPE_PRIOR_RANGE.
SHAPE_PRIOR_ORDERS = 20.0
SHAPE_PRIOR_RANGE = (0.5, 500.0)
#: Floor on phi (squared coefficient of variation of true levels around the zone's): with
#: few days the moment estimate drowns in Poisson noise and can come out <= 0, which would
#: make every restaurant its zone's average; real restaurants differ by far more than
#: sqrt(0.05) = 22%.
MIN_PHI = 0.05
_DAY = pd.Timedelta(days=1)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def shift_grid(config: Config, shift_start: Any, shift_end: Any = None) -> SlotGrid:
    """The slot grid of a shift: ``[shift] hours`` and ``slot_minutes`` of the config."""
    tz = config.city.timezone
    start = parse_timestamp(shift_start, tz, require_time=True)
    end = (
        parse_timestamp(shift_end, tz, require_time=True)
        if shift_end is not None
        else start + config.shift.length
    )
    check_shift_window(start, end)
    return SlotGrid.build(start, end, config.shift.slot_minutes, tz)


@dataclass(frozen=True)
class Backtest:
    """The forecast of ``day`` (the history's last used day) from the days before it.

    ``zones``: one row per (zone, slot): zone_id, slot (0, 1, ...), slot_start, actual,
    forecast, flat (orders per hour), error = forecast - actual. ``by_slot`` and
    ``by_zone``: MAE and bias of the forecast (and MAE of the flat rate) over zones,
    resp. slots. ``slot_start`` is the clock time the slot reads on that day: on a shift
    across the autumn clock change two slots read the same one (``slot`` tells them
    apart).
    """

    day: pd.Timestamp
    training_days: int
    same_weekday: bool
    zones: pd.DataFrame
    by_slot: pd.DataFrame
    by_zone: pd.DataFrame

    @property
    def mae(self) -> float:
        """Mean absolute error over every (zone, slot), orders per hour."""
        return float(self.zones["error"].abs().mean())

    @property
    def bias(self) -> float:
        """Mean error over every (zone, slot): > 0 the forecast was too high."""
        return float(self.zones["error"].mean())

    @property
    def mae_flat(self) -> float:
        """The same MAE for the flat expected_orders_per_hour of restaurants.csv."""
        return float((self.zones["flat"] - self.zones["actual"]).abs().mean())


@dataclass(frozen=True)
class Forecast:
    """A demand forecast and how it was made."""

    demand: pd.DataFrame
    grid: SlotGrid
    days: tuple[pd.Timestamp, ...]
    same_weekday: bool
    orders_used: int
    orders_ignored_after: int
    gaps: tuple[pd.Timestamp, ...]
    partial_days: int
    restaurants_with_history: int
    without_history: tuple[str, ...]
    zone_only: tuple[str, ...]
    phi: float
    shape_prior: float
    backtest: Backtest | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The days counted in ``partial_days`` (their dates, city time).
    partial: tuple[pd.Timestamp, ...] = ()

    def __repr__(self) -> str:
        # one line: the dataclass's own ran to 49 lines of nested tables
        total = self.restaurants_with_history + len(self.without_history)
        bt = self.backtest
        tested = f"; backtest MAE {bt.mae:.2f} (flat {bt.mae_flat:.2f})" if bt is not None else ""
        notes = f"; {plural(len(self.notes), 'note')}" if self.notes else ""
        return (
            f"Forecast({self.grid.window()}, {plural(self.grid.count, 'slot')} of "
            f"{self.grid.minutes} min: {len(self.demand):,} rows, "
            f"{self.restaurants_with_history} of {total} restaurants with history, "
            f"{plural(len(self.days), 'day')} used, {self.orders_used:,} orders{tested}{notes})"
        )

    def _repr_html_(self) -> str:
        """The report, the backtest by slot and (folded) the first rows of the demand
        table: restaurant and zone ids escaped."""
        import html

        from .views.html import ROOT  # ids with $ not typeset as math

        esc = html.escape
        head = (
            f"<h4 style='margin:0 0 4px 0'>Forecast · {esc(self.grid.window())} · "
            f"{plural(self.grid.count, 'slot')} of {self.grid.minutes} min</h4>"
        )
        report = "".join(
            f"<p style='margin:2px 0'>{esc(line.strip())}</p>" for line in self.report()[1:]
        )
        tested = ""
        bt = self.backtest
        if bt is not None:
            labels = self._backtest_labels()
            rows = "".join(
                f"<tr><td>{labels[row.slot]}</td><td>{row.actual:.1f}</td>"
                f"<td>{row.forecast:.1f}</td><td>{row.mae:.2f}</td><td>{row.bias:+.2f}</td>"
                f"<td>{row.mae_flat:.2f}</td></tr>"
                for row in bt.by_slot.itertuples()
            )
            columns = "".join(
                f"<th>{c}</th>"
                for c in ("slot", "actual/h", "forecast/h", "MAE", "bias", "MAE flat")
            )
            tested = (
                f"<p style='margin:8px 0 2px 0'><b>Backtest</b>: {bt.day:%a %Y-%m-%d} forecast "
                f"from {bt.training_days} earlier days; MAE {bt.mae:.2f} orders/h per zone and "
                f"slot (flat rate: {bt.mae_flat:.2f}), bias {bt.bias:+.2f}</p>"
                f"<table><tr>{columns}</tr>{rows}</table>"
            )
        shown = self.demand.head(_HTML_ROWS)
        more = (
            f" (first {len(shown)} of {len(self.demand):,})"
            if len(self.demand) > len(shown)
            else ""
        )
        demand = (
            f"<details><summary>The demand table{more}: <code>.demand</code></summary>"
            f"{shown.to_html(index=False, border=0)}</details>"
        )
        return f"{ROOT}{head}{report}{tested}{demand}</div>"

    def _backtest_labels(self) -> list[str]:
        """The backtest's rows are the shift's slots read on a past day: labelled as the
        shift's (`rebalance.slots.slot_labels`), so the autumn night's two 02:00 slots
        read "02:00 CEST" and "02:00 CET", not "02:00" twice."""
        from .slots import slot_labels

        return slot_labels(self.grid.local_starts())

    def report(self) -> list[str]:
        """What the forecast used and could not estimate, one line each."""
        from .views.wording import days_later

        tz = self.grid.timezone
        start, end = self.grid.start.tz_convert(tz), self.grid.end.tz_convert(tz)
        lines = [
            f"Forecast for {start:%a %Y-%m-%d %H:%M}-{end:%H:%M}{days_later(start, end)} "
            f"({plural(self.grid.count, 'slot')} of {self.grid.minutes} min)",
        ]
        if self.days:
            first, last = self.days[0], self.days[-1]
            which = f"only {_WEEKDAYS[start.weekday()]}s" if self.same_weekday else "every past day"
            lines.append(
                f"  days used: {len(self.days)} ({which}), {first:%Y-%m-%d} to {last:%Y-%m-%d}, "
                f"{self.orders_used:,} orders in the shift's hours"
            )
        if self.gaps:
            shown = ", ".join(f"{d:%Y-%m-%d}" for d in self.gaps[:5])
            more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
            lines.append(f"  days without any order (left out): {shown}{more}")
        if self.partial_days:
            dates = ", ".join(f"{d:%Y-%m-%d}" for d in self.partial[:5])
            more = f" and {len(self.partial) - 5} more" if len(self.partial) > 5 else ""
            lines.append(
                f"  days only partly in the history (left out): {dates or self.partial_days}{more}"
            )
        if self.orders_ignored_after:
            lines.append(
                f"  orders at or after the shift's start ignored: {self.orders_ignored_after:,}"
            )
        total = self.restaurants_with_history + len(self.without_history)
        lines.append(
            f"  restaurants: {self.restaurants_with_history} of {total} with history; "
            f"shrunk toward their zone by phi = {self.phi:.3f} (level) and "
            f"{self.shape_prior:.0f} pseudo-orders (shape)"
        )
        if self.zone_only:
            lines.append(
                f"  {len(self.zone_only)} with orders only outside the days used: "
                f"estimated from their zone alone ({_ids(self.zone_only)})"
            )
        if self.without_history:
            lines.append(
                f"  {len(self.without_history)} without any order: no row, the plan uses their "
                f"expected_orders_per_hour from restaurants ({_ids(self.without_history)})"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.table import Table

        from .escape import terminal as escape  # partner ids: markup and control characters
        from .views.fit import Hanging

        # prose wraps at words under its label (at 80 columns the lines ran off the
        # terminal's edge, folded mid-word); partner ids in them are plain text there
        for line in self.report():
            yield Hanging(line)
        bt = self.backtest
        if bt is None:
            return
        yield ""
        yield Hanging(
            f"Backtest: {bt.day:%a %Y-%m-%d} forecast from {bt.training_days} earlier days; "
            f"MAE {bt.mae:.2f} orders/h per zone and slot (flat rate: {bt.mae_flat:.2f}), "
            f"bias {bt.bias:+.2f}"
        )
        table = Table(box=None, padding=(0, 2), title=None)
        for col in ("slot", "actual/h", "forecast/h", "MAE", "bias", "MAE flat"):
            table.add_column(col, justify="left" if col == "slot" else "right")
        labels = self._backtest_labels()
        for row in bt.by_slot.itertuples():
            table.add_row(
                labels[row.slot],
                f"{row.actual:.1f}",
                f"{row.forecast:.1f}",
                f"{row.mae:.2f}",
                f"{row.bias:+.2f}",
                f"{row.mae_flat:.2f}",
            )
        yield table
        worst = bt.by_zone.sort_values("mae", ascending=False).head(5)
        zt = Table(box=None, padding=(0, 2), title=None)
        for col in ("zone (largest MAE)", "actual/h", "MAE", "bias"):
            zt.add_column(col, justify="left" if col.startswith("zone") else "right")
        for row in worst.itertuples():
            zt.add_row(
                escape(str(row.zone_id)), f"{row.actual:.1f}", f"{row.mae:.2f}", f"{row.bias:+.2f}"
            )
        yield zt


#: Rows of the demand table a notebook cell shows folded (the rest: ``.demand``).
_HTML_ROWS = 50


def _ids(ids: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", ... {len(ids) - limit} more" if len(ids) > limit else "")


def forecast(
    history: str | Path | Orders | pd.DataFrame,
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
    *,
    warn: bool = True,
) -> pd.DataFrame:
    """The demand table (CONTRACT section 7) for a shift, forecast from past orders.

    ``history``: an orders file or folder, a loaded `Orders`, or a DataFrame with
    restaurant_id and placed_at. Columns: restaurant_id, slot_start (city time),
    expected_orders_per_hour, then zone_id, history_orders, history_days and prior_weight
    saying how each row was made. `run_forecast` also returns the report and a backtest.

    ``warn``: say the report's notes (orders left out of a DataFrame for a time that
    cannot be read or a restaurant not in the city, a short history ...) as
    `rebalance.PlanWarning`, as `solve` says its own; the table alone does not show them.
    """
    result = run_forecast(history, inputs, config, shift_start, shift_end, warn=False)
    if warn:
        warn_notes(result.notes, stacklevel=2)
    return result.demand


def run_forecast(
    history: str | Path | Orders | pd.DataFrame,
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
    *,
    backtest: bool = False,
    warn: bool = True,
) -> Forecast:
    """`forecast` with its report (days, restaurants with and without history) and,
    with ``backtest``, the error on the history's last day forecast from the days before.
    ``warn``: say its notes as `rebalance.PlanWarning` too (False where the caller
    shows the report, as the command line does)."""
    call = "forecast(history, inputs, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    if shift_start is None:
        raise ValueError("shift_start is required, e.g. '2026-11-30T19:00'")
    grid = shift_grid(config, shift_start, shift_end)
    orders, rows = _orders_table(history, inputs, config, call)
    source = str(history) if isinstance(history, str | Path) else None
    result = _Forecaster(orders, inputs, grid, source, rows).run(backtest)
    if warn:
        warn_notes(result.notes, stacklevel=2)
    return result


def _orders_table(
    history: str | Path | Orders | pd.DataFrame, inputs: Inputs, config: Config, call: str
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The orders, and each one's row in ``inputs.restaurants`` when read here."""
    if isinstance(history, Orders):
        history.check_timezone(config.city.timezone, call)
        return history.table, None
    if isinstance(history, pd.DataFrame):
        check_frame(history, inputs.restaurants)
        table = history.copy()
        if "zone_id" not in table.columns:
            zone_of = inputs.restaurants.set_index("restaurant_id")["zone_id"]
            table["zone_id"] = zone_of.reindex(table["restaurant_id"].astype(str)).to_numpy()
        if not isinstance(table["placed_at"].dtype, pd.DatetimeTZDtype):
            from .timeparse import parse_timestamps

            table["placed_at"] = parse_timestamps(
                table["placed_at"].astype(str), config.city.timezone
            )
        return table, None
    orders, rows = _load_orders(history, inputs.restaurants, config)
    return orders.table, rows


@dataclass(frozen=True)
class _Estimate:
    """Rates (R x K), counts (R x K), prior weight and exposed days per restaurant, phi."""

    rate: np.ndarray
    counts: np.ndarray
    weight: np.ndarray
    days: np.ndarray
    phi: float
    beta: float


def _concentration(counts: np.ndarray, expected: np.ndarray) -> float:
    """Dirichlet-multinomial concentration (in pseudo-orders) of the shapes of ``counts``
    (rows) around ``expected`` shapes, by the method of moments.

    Pearson's X_r = sum_k (c_rk - C_r s_k)^2 / (C_r s_k) has expectation
    (K - 1)(C_r + b) / (1 + b); pooling rows with C_r >= 2 and solving for b gives the
    estimate, clipped to `SHAPE_PRIOR_RANGE`. Rows no more spread than multinomial noise
    give the upper end (follow the prior); very different shapes give the lower end.
    """
    K = counts.shape[1]
    C = counts.sum(axis=1)
    rows = (C >= 2) & (expected > 0).all(axis=1)
    lo, hi = SHAPE_PRIOR_RANGE
    if K < 2 or not rows.any():
        return SHAPE_PRIOR_ORDERS
    e = C[rows, None] * expected[rows]
    X = ((counts[rows] - e) ** 2 / e).sum()
    S, N, total = X / (K - 1), rows.sum(), C[rows].sum()
    if S <= N:
        return hi
    return float(np.clip((total - S) / (S - N), lo, hi))


def _clock_offsets(grid: SlotGrid, start_local: pd.Timestamp) -> pd.TimedeltaIndex:
    """Where each slot's window starts on the clock, after the shift start's clock time
    (``start_local``, naive): k slot lengths in, but on a night the clocks change
    (autumn: two slots at the same clock time; spring: the slot after the gap an hour
    further)."""
    starts = grid.local_starts().tz_localize(None).as_unit("ns")
    return pd.TimedeltaIndex(starts - start_local.as_unit("ns"))


def _clock_slots(
    rel: np.ndarray, grid: SlotGrid, start_local: pd.Timestamp
) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """The slot whose clock window holds each order (``rel``: ns of clock time after
    the shift start's clock time on the order's day), -1 for none; and, for a slot
    whose window repeats an earlier one's (the autumn night's repeated hour), the rows
    that fall in it too. On other nights slot k's window starts k slot lengths in."""
    length = grid.minutes * 60_000_000_000
    offsets = _clock_offsets(grid, start_local).asi8
    slot = np.full(rel.shape, -1, dtype=np.int64)
    repeated: list[tuple[np.ndarray, int]] = []
    for k, offset in enumerate(offsets.tolist()):
        inside = (rel >= offset) & (rel < offset + length)
        again = inside & (slot >= 0)
        if again.any():
            repeated.append((np.flatnonzero(again), k))
        slot[inside & (slot < 0)] = k
    return slot, repeated


def _windows_per_order(grid: SlotGrid) -> int:
    """In how many past days' windows one instant can fall: 1 for a shift of a day or
    less, 2 up to two days (the longest `rebalance plan` takes), ... (a clock change
    makes a window up to an hour longer on the clock)."""
    clock = grid.count * grid.minutes * 60_000_000_000 + 3_600_000_000_000
    return max(1, -(-clock // _DAY.value))


def _windows(
    j: np.ndarray, rel: np.ndarray, grid: SlotGrid, start_local: pd.Timestamp
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[np.ndarray, int]]]]:
    """Each past day's window that instants fall in (``j``: their day relative to the
    shift's, ``rel``: ns of clock time after its clock start), as (day, clock time in
    that day's window, slot, repeated rows) of `_clock_slots`. Each slot reads the past
    days at its own clock times: on a night the clocks change, tonight's slots are not
    evenly spaced on the clock (spring: the slot after the gap starts at 03:00; autumn:
    two slots read the repeated hour). A shift longer than a day reads an instant in its
    day's window and, a day further in, in the day before's, while the window lasts (a
    26-hour shift's last two slots read the past days' next evenings; read once, they
    forecast 0). `_Tally.add` counts the orders so, `_real_minutes` the minutes."""
    day_ns = _DAY.value
    for extra in range(_windows_per_order(grid)):
        shifted = rel + extra * day_ns
        slot, repeated = _clock_slots(shifted, grid, start_local)
        yield j - extra, shifted, slot, repeated


#: A forecast whose last day used is more days than this before the shift says so.
STALE_DAYS = 28

#: Orders `_Forecaster` reads at a time: its temporaries are a few arrays of this many
#: rows instead of a dozen of the whole history's (7.9 million orders: 0.8 GB).
_BLOCK_ROWS = 1 << 21


class _Tally:
    """What `_Forecaster` keeps of the orders, read a block at a time: of each order
    placed before the shift's day (by a restaurant of the city), its (restaurant x slot
    cell, day) when in the shift's clock windows (twice in the autumn's repeated hour);
    per day which restaurants took an order (a restaurants-long mask: a year of days at
    250,000 restaurants is 91 MB) and how far into the window its orders come; and the
    first and last instant. ``day``: days relative to the shift's day (-1 = yesterday)."""

    def __init__(self, k: int, restaurants: int) -> None:
        self.k = k
        self.restaurants = restaurants
        self.cell_dtype = index_dtype(restaurants * k)  # int32 but in huge cities
        self.ignored_after = 0
        # only from an unvalidated frame (load_orders refuses both)
        self.unreadable = 0  # orders without a time (NaT)
        self.unknown = 0  # orders of no restaurant of the city
        self.first = np.iinfo(np.int64).max  # ns after the shift start's clock time
        self.last = np.iinfo(np.int64).min
        self.reach: dict[int, int] = {}  # day -> the latest clock time of its window's orders
        self.dates: set[int] = set()  # local calendar dates (days since 1970-01-01) with an order
        self._cells: list[np.ndarray] = []
        self._days: list[np.ndarray] = []
        # the day of each order read a second time (the autumn's repeated clock hour)
        self._again: list[np.ndarray] = []
        self._seen: dict[int, np.ndarray] = {}  # day -> which restaurants took an order

    @property
    def days(self) -> np.ndarray:
        """The days holding an order, sorted."""
        return np.array(sorted(self._seen), dtype=np.int64)

    def add(
        self, placed: pd.Series, restaurant: np.ndarray, grid: SlotGrid, start_local: pd.Timestamp
    ) -> None:
        """Count a block of orders: ``placed`` (aware), ``restaurant`` (positions, -1 for
        none of the city's)."""
        local = placed.dt.tz_convert(grid.timezone).dt.tz_localize(None)
        valid = local.notna().to_numpy()
        ns = local.to_numpy(dtype="datetime64[ns]").astype(np.int64) - start_local.value
        day_ns = _DAY.value
        j = np.floor_divide(ns, day_ns)  # day relative to the shift's day: -1 = yesterday
        rel = ns - j * day_ns
        self.ignored_after += int(((j >= 0) & valid).sum())
        self.unreadable += int((~valid).sum())
        self.unknown += int(((restaurant < 0) & valid).sum())
        # unknown restaurants only come from unvalidated frames
        past = (j < 0) & (restaurant >= 0) & valid
        if not past.any():
            return
        t = ns[past]
        self.first, self.last = min(self.first, int(t.min())), max(self.last, int(t.max()))
        # by a count over the block's few hundred dates, not a sort of its orders
        dates = np.floor_divide(t + start_local.value, day_ns)
        low = int(dates.min())
        self.dates.update((np.flatnonzero(np.bincount(dates - low)) + low).tolist())
        r, jp = restaurant[past].astype(np.int64), j[past]
        # the distinct (day, restaurant) pairs, sorted by day: each day's run of them
        n = self.restaurants
        keys = unique_sorted(jp * n + r)
        day = np.floor_divide(keys, n)
        starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
        for d, a, b in zip(
            day[starts].tolist(),
            starts.tolist(),
            np.r_[starts[1:], keys.size].tolist(),
            strict=True,
        ):
            seen = self._seen.get(d)
            if seen is None:
                seen = self._seen[d] = np.zeros(n, dtype=bool)
            seen[keys[a:b] - d * n] = True
        cells: list[np.ndarray] = []
        days: list[np.ndarray] = []
        for jw, relw, slot, repeated in _windows(j, rel, grid, start_local):
            inside = past & (slot >= 0)
            ji, reli = jw[inside], relw[inside]
            if ji.size:
                order = np.argsort(ji, kind="stable")
                ji, reli = ji[order], reli[order]
                starts = np.flatnonzero(np.r_[True, ji[1:] != ji[:-1]])
                for d, latest in zip(
                    ji[starts].tolist(), np.maximum.reduceat(reli, starts).tolist(), strict=True
                ):
                    self.reach[d] = max(self.reach.get(d, latest), latest)
            cells.append(restaurant[inside].astype(np.int64) * self.k + slot[inside])
            days.append(jw[inside])
            for rows, k in repeated:  # the repeated clock hour's second slot reads them too
                rows = rows[past[rows]]
                cells.append(restaurant[rows].astype(np.int64) * self.k + k)
                days.append(jw[rows])
                self._again.append(jw[rows].astype(np.int32))
        self._cells.append(np.concatenate(cells).astype(self.cell_dtype))
        self._days.append(np.concatenate(days).astype(np.int32))  # any supported day fits

    def cells(self, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each counted order of the ``days`` (sorted): its (restaurant x slot cell,
        position of its day in ``days``). The blocks' arrays go as they are read."""
        cells, positions = [], []
        while self._cells:
            cell, day = self._cells.pop(0), self._days.pop(0)
            keep = np.isin(day, days)
            cells.append(cell[keep])
            positions.append(np.searchsorted(days, day[keep]).astype(np.int32))
        return _joined(cells, self.cell_dtype), _joined(positions, np.int32)

    def again(self) -> np.ndarray:
        """The day of each order counted in a second slot, that slot's window repeating
        the clock times of an earlier one."""
        return _joined(self._again, np.int32)

    def first_days(self, days: np.ndarray) -> np.ndarray:
        """Per restaurant, the position in ``days`` (sorted) of the first of them it took
        an order on (any time of day): its exposure starts there; ``len(days)`` if none."""
        first = np.full(self.restaurants, len(days), dtype=np.int64)
        for pos in range(len(days) - 1, -1, -1):  # the earliest written last
            seen = self._seen.get(int(days[pos]))
            if seen is not None:
                first[seen] = pos
        return first


def _real_minutes(days: np.ndarray, grid: SlotGrid, start_local: pd.Timestamp) -> np.ndarray | None:
    """Minutes of real time in each past day's clock window of each slot (``days`` x
    slots), found as the orders' slots are (`_clock_slots`, a minute at a time); None
    when every window lasted its slot's length (the city's clocks never changed over
    the history). A night the clocks went back, a window in the repeated hour lasts
    twice its length; a night they skipped it, none."""
    if not days.size:
        return None
    margin = 2 * _DAY  # more than any UTC offset on either side
    first = (start_local + int(days.min()) * _DAY - margin).tz_localize("UTC")
    last = (start_local + int(days.max()) * _DAY + margin).tz_localize("UTC")
    instants = pd.date_range(first, last, freq="1min").as_unit("ns")
    local = instants.tz_convert(grid.timezone).tz_localize(None)
    offset = local.asi8 - instants.tz_localize(None).asi8
    if (offset == offset[0]).all():
        return None
    ns = local.asi8 - start_local.value
    day_ns = _DAY.value
    j0 = np.floor_divide(ns, day_ns)
    K = grid.count
    minutes = np.zeros(days.size * K, dtype=np.int64)
    for j, _, slot, repeated in _windows(j0, ns - j0 * day_ns, grid, start_local):
        at = np.minimum(np.searchsorted(days, j), days.size - 1)
        on = days[at] == j
        minutes += np.bincount(
            at[on & (slot >= 0)] * K + slot[on & (slot >= 0)], minlength=days.size * K
        )
        for rows, k in repeated:
            rows = rows[on[rows]]
            minutes += np.bincount(at[rows] * K + k, minlength=days.size * K)
    real = minutes.reshape(days.size, K).astype(float)
    return None if (real == grid.minutes).all() else real


def _joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class _Forecaster:
    """Counts orders by (restaurant, slot, past day) once; estimates from any subset of days."""

    def __init__(
        self,
        orders: pd.DataFrame,
        inputs: Inputs,
        grid: SlotGrid,
        source: str | None = None,
        restaurant: np.ndarray | None = None,
    ):
        """``restaurant``: each order's row in ``inputs.restaurants`` when known."""
        self.grid = grid
        self.source = source
        self.tz = grid.timezone
        rest = inputs.restaurants
        self.rest_ids = rest["restaurant_id"].astype(str).to_numpy(dtype=object)
        self.zone_ids = inputs.zones["zone_id"].astype(str).to_numpy(dtype=object)
        zone_index = pd.Index(self.zone_ids)
        self.rest_zone = zone_index.get_indexer(rest["zone_id"].astype(str).to_numpy())
        #: restaurants.csv's rates, whatever each restaurant's status today: the flat
        #: rate the backtest holds against the orders of a past day (a restaurant
        #: closed tonight took orders then, and its forecast is counted as well)
        self.listed = rest["expected_orders_per_hour"].to_numpy(dtype=float)
        self.flat = np.where(rest["status"].to_numpy() == "open", self.listed, 0.0)
        self.K = grid.count
        self.hours = grid.minutes / 60.0

        # Wall-clock arithmetic: a past day's window is at the same local clock time.
        start_local = grid.start.tz_convert(self.tz).tz_localize(None)
        self.start_local = start_local
        if restaurant is None:
            # an Arrow lookup: get_indexer made a Python string per order (3 s and ~1 GB
            # at 7.9 million orders)
            restaurant = positions(
                orders["restaurant_id"].astype(str),
                pd.Index(self.rest_ids),
                index_dtype(len(self.rest_ids)),
            )
        tally = _Tally(self.K, len(self.rest_ids))
        placed = orders["placed_at"]
        for lo in range(0, len(orders), _BLOCK_ROWS):
            hi = min(lo + _BLOCK_ROWS, len(orders))
            tally.add(placed.iloc[lo:hi], restaurant[lo:hi], grid, start_local)
        self.ignored_after = tally.ignored_after
        self.unreadable, self.unknown = tally.unreadable, tally.unknown
        day_list = tally.days
        if not day_list.size:
            raise DataError(
                Issue(
                    "the history holds no order before the shift starts",
                    file=self.source,
                    column="placed_at",
                    valid=f"orders placed before {start_local:%Y-%m-%d %H:%M} (city time)",
                ),
                title="invalid orders",
            )
        # A day counts when it holds at least one order and the history covers its shift
        # window: a file that starts after a day's window opened, or stops before the
        # hour up to which the other days' windows see orders (less one slot), must not
        # read as an evening without orders.
        day_ns = _DAY.value
        slot_ns = grid.minutes * 60_000_000_000
        covered = day_list * day_ns >= tally.first - slot_ns
        # a window that runs past the shift's start (a shift longer than a day: the day
        # before's window ends in the shift itself) holds no order of its last hours yet
        # (one slot over was read as covered, and its last slot as quiet: 6.7 for 8/h)
        clock_end = int(_clock_offsets(grid, start_local).asi8[-1]) + slot_ns
        covered &= day_list * day_ns + clock_end <= 0
        # a day whose window closed before the history's first order holds only the
        # next morning's orders: it is not in the history at all, not "partly"
        before = day_list * day_ns + grid.count * slot_ns <= tally.first
        if day_list.size > 1:
            # how far into the window orders come on the days before the last
            reach = max((r for d, r in tally.reach.items() if d < day_list[-1]), default=None)
            if reach is not None:
                covered[-1] &= tally.last - day_list[-1] * day_ns >= reach - slot_ns
        self.partial = tuple(
            (start_local + int(d) * _DAY).normalize() for d in day_list[~covered & ~before]
        )
        day_list = day_list[covered]
        # A day is a gap when its window falls on a calendar date (city time) without any
        # order between the history's first and last: a daily export missing, or an
        # outage. The day still holds the next morning's orders (a day runs from the
        # shift's clock time to the next day's), which must not make its evening read
        # as one without orders.
        day_list = day_list[~self._on_empty_date(day_list, tally)]
        if day_list.size == 0:
            raise DataError(
                Issue(
                    "the history does not cover the shift's hours on any day before it",
                    file=self.source,
                    column="placed_at",
                    valid=f"orders around {start_local:%H:%M} on days before "
                    f"{start_local:%Y-%m-%d}",
                ),
                title="invalid orders",
            )
        self.days_all = day_list
        span = np.arange(day_list.min(), day_list.max() + 1)
        self.gaps = np.setdiff1d(span, day_list)
        # orders in the shift's windows as (restaurant x slot cell, day): any subset of
        # days is one bincount away, and memory stays linear in orders (a year of history
        # as an R x K x D array would not)
        self.cell, self.order_day = tally.cells(day_list)
        self.again_day = tally.again()
        self.first_day = tally.first_days(day_list)
        self.has_history = self.first_day < len(day_list)
        self.real = _real_minutes(day_list, grid, start_local)

    def _on_empty_date(self, days: np.ndarray, tally: _Tally) -> np.ndarray:
        """Which of the ``days`` have their shift window (at its clock times) on a
        calendar date that holds no order though the history runs on both sides of it."""
        day_ns = _DAY.value
        origin = self.start_local.value
        first, last = (origin + tally.first) // day_ns, (origin + tally.last) // day_ns
        window = self.K * self.grid.minutes * 60_000_000_000
        opens = (origin + days * day_ns) // day_ns
        closes = (origin + days * day_ns + window - 1) // day_ns
        empty = np.zeros(days.size, dtype=bool)
        for date in range(int(first) + 1, int(last)):
            if date not in tally.dates:
                empty |= (opens <= date) & (date <= closes)
        return empty

    def _counts(self, days: np.ndarray, *, per_slot_time: bool = True) -> np.ndarray:
        """Orders per restaurant (rows) and slot (columns) over the days at ``days``.

        ``per_slot_time``: as if each day's window of each slot had lasted the slot's
        length. On a night the clocks went back, a slot's clock window held two real
        hours' orders (the 02:00 slot of 30 minutes held 60 minutes of them): they count
        by the slot's length over the real time. Where the clocks skipped the window
        (spring), that day has no such slot: the restaurant's other exposed days stand
        in for it. Read as they are, four Sundays with one clock change gave the 02:00
        and 02:30 slots of a steady history 25% more (autumn) or less (spring)."""
        use = np.isin(self.order_day, days)
        size = len(self.rest_ids) * self.K
        weights = None
        if per_slot_time and self.real is not None:
            nominal = float(self.grid.minutes)
            scale = np.divide(nominal, self.real, out=np.zeros_like(self.real), where=self.real > 0)
            weights = scale[self.order_day[use], self.cell[use] % self.K]
        counts = np.bincount(self.cell[use], weights=weights, minlength=size).astype(float)
        counts = counts.reshape(len(self.rest_ids), self.K)
        if per_slot_time and self.real is not None:
            skipped = self.real[days] == 0  # (days x K)
            if skipped.any():
                # per restaurant, its exposed days and those of them without the slot
                exposed = self.first_day[:, None] <= days[None, :]  # R x days
                total = exposed.sum(axis=1).astype(float)
                without = exposed.astype(float) @ skipped.astype(float)  # R x K
                have = total[:, None] - without
                counts *= np.divide(total[:, None], have, out=np.ones_like(have), where=have > 0)
        return counts

    def _day(self, pos: int) -> pd.Timestamp:
        return (self.start_local + int(self.days_all[pos]) * _DAY).normalize()

    def _select(self, last: int) -> tuple[np.ndarray, bool]:
        """Positions of the days used to forecast the day at position ``last`` (exclusive):
        its weekday only when at least two such days exist."""
        target = 0 if last == len(self.days_all) else int(self.days_all[last])
        before = np.arange(last)
        same = before[(target - self.days_all[before]) % 7 == 0]
        if len(same) >= 2:
            return same, True
        return before, False

    def _estimate(self, days: np.ndarray) -> _Estimate:
        """Rates (R x K), prior weights and exposures from the days at positions ``days``."""
        c = self._counts(days)  # R x K, per slot length of real time
        exposed_days = (self.first_day[:, None] <= days[None, :]).sum(axis=1).astype(float)
        T = exposed_days * self.K * self.hours  # hours of exposure over the shift's windows
        C = c.sum(axis=1)
        z = self.rest_zone
        nz = len(self.zone_ids)
        known = T > 0
        zone_C = np.bincount(z[known], weights=C[known], minlength=nz)
        zone_T = np.bincount(z[known], weights=T[known], minlength=nz)
        m = np.divide(zone_C, zone_T, out=np.zeros(nz), where=zone_T > 0)
        mr = m[z]
        # phi: squared coefficient of variation of true levels, pooled over the city, by
        # the method of moments. The zone's mean comes from the same restaurants (weights
        # w_r = T_r / T_z), so E[sum T_r (lev_r - m_z)^2] = phi m_z^2 sum T_r (1 - w_r)
        # + m_z (n_z - 1), not phi m_z^2 T_z + m_z n_z: reading it as the latter
        # made phi ~2.5x too small with 2 restaurants a zone (0.10 for a true 0.25) and
        # pulled busy restaurants toward their zone. A zone of one restaurant says
        # nothing of the spread and weighs 0.
        lev = np.divide(C, T, out=np.zeros_like(C), where=known)
        use = known & (mr > 0)
        if use.any():
            w = T[use] / zone_T[z[use]]
            num = np.sum(T[use] * (lev[use] - mr[use]) ** 2 - mr[use] * (1.0 - w))
            den = np.sum(T[use] * (1.0 - w) * mr[use] ** 2)
            phi = max(MIN_PHI, float(num / den)) if den > 0 else 1.0
        else:
            phi = 1.0
        a = 1.0 / phi
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(mr > 0, a / mr, np.inf)  # prior exposure in hours
            level = np.where(mr > 0, (C + a) / (T + b), 0.0)
            weight = np.where(mr > 0, b / (T + b), 1.0)
        # shapes: city, then zone shrunk to city, then restaurant shrunk to zone
        city_k = c.sum(axis=0)
        city_shape = city_k / city_k.sum() if city_k.sum() > 0 else np.full(self.K, 1.0 / self.K)
        zone_k = np.zeros((nz, self.K))
        np.add.at(zone_k, z, c)
        beta_zone = _concentration(zone_k, np.broadcast_to(city_shape, zone_k.shape))
        zone_shape = (zone_k + beta_zone * city_shape) / (
            zone_k.sum(axis=1, keepdims=True) + beta_zone
        )
        beta = _concentration(c, zone_shape[z])
        shape = (c + beta * zone_shape[z]) / (C[:, None] + beta)
        rate = level[:, None] * self.K * shape
        counted = c if self.real is None else self._counts(days, per_slot_time=False)
        return _Estimate(
            rate=rate, counts=counted, weight=weight, days=exposed_days, phi=phi, beta=beta
        )

    def run(self, backtest: bool) -> Forecast:
        D = len(self.days_all)
        days, same = self._select(D)
        est = self._estimate(days)
        rows = np.flatnonzero(self.has_history)
        K = self.K
        starts = self.grid.local_starts()
        demand = pd.DataFrame(
            {
                "restaurant_id": np.repeat(self.rest_ids[rows], K),
                "slot_start": np.tile(
                    np.asarray([t.isoformat() for t in starts], dtype=object), len(rows)
                ),
                "expected_orders_per_hour": np.round(est.rate[rows].ravel(), 3),
                "zone_id": np.repeat(self.zone_ids[self.rest_zone[rows]], K),
                "history_orders": est.counts[rows].ravel().astype(np.int64),
                "history_days": np.repeat(est.days[rows].astype(np.int64), K),
                "prior_weight": np.round(np.repeat(est.weight[rows], K), 3),
            },
            columns=list(DEMAND_COLUMNS),
        )
        exposed = np.asarray(est.days) > 0
        zone_only = self.rest_ids[self.has_history & ~exposed]
        notes = []
        if self.unreadable:
            notes.append(f"{plural(self.unreadable, 'order')} without a readable placed_at ignored")
        if self.unknown:
            notes.append(f"{plural(self.unknown, 'order')} of restaurants not in this city ignored")
        if len(days) < 3:
            notes.append(
                f"only {plural(len(days), 'day')} of history: estimates lean on the zones' profiles"
            )
        # a history that ended long before the shift forecasts a city that may be gone
        ago = -int(self.days_all[days[-1]]) if len(days) else 0  # days: sorted positions
        if ago > STALE_DAYS:
            notes.append(
                f"the last day used, {self._day(int(days[-1])):%Y-%m-%d}, is "
                f"{ago:,} days before the shift: demand may have changed since "
                "(forecast from the recent orders)"
            )
        # zones whose restaurants took no order in the shift's hours: forecast 0, say so
        zone_orders = np.bincount(
            self.rest_zone[rows], weights=est.counts[rows].sum(axis=1), minlength=len(self.zone_ids)
        )
        with_rows = np.bincount(self.rest_zone[rows], minlength=len(self.zone_ids)) > 0
        silent = self.zone_ids[with_rows & (zone_orders == 0)]
        if silent.size:
            notes.append(
                f"{plural(int(silent.size), 'zone')} had no order in the shift's hours on "
                "the days used: "
                f"their restaurants are forecast 0 ({_ids(tuple(str(z) for z in silent))})"
            )
        return Forecast(
            demand=demand,
            grid=self.grid,
            days=tuple(self._day(int(p)) for p in days),
            same_weekday=same,
            # each order once: those of a repeated clock hour count in two slots
            orders_used=int(np.asarray(est.counts).sum())
            - int(np.isin(self.again_day, self.days_all[days]).sum()),
            orders_ignored_after=self.ignored_after,
            gaps=tuple((self.start_local + int(g) * _DAY).normalize() for g in self.gaps),
            partial_days=len(self.partial),
            partial=self.partial,
            restaurants_with_history=int(self.has_history.sum()),
            without_history=tuple(str(x) for x in self.rest_ids[~self.has_history]),
            zone_only=tuple(str(x) for x in zone_only),
            phi=float(est.phi),
            shape_prior=float(est.beta),
            backtest=self._backtest() if backtest else None,
            notes=tuple(notes),
        )

    def _backtest(self) -> Backtest | None:
        D = len(self.days_all)
        if D < 2:
            return None
        target = D - 1
        days, same = self._select(target)
        est = self._estimate(days)
        rate = np.asarray(est.rate)
        # restaurants without orders before the target day: the planner would use
        # restaurants.csv. Forecast, flat rate and the day's orders are all of every
        # restaurant: the flat rate of those closed tonight once counted as 0 beside
        # their forecast and their orders of that day, which made the forecast look
        # twice as good as the flat rate on a city with a third of them closed.
        seen = self.first_day < target
        rate = np.where(seen[:, None], rate, self.listed[:, None])
        nz, K = len(self.zone_ids), self.K
        z = self.rest_zone
        fz = np.zeros((nz, K))
        np.add.at(fz, z, rate)
        az = np.zeros((nz, K))
        np.add.at(az, z, self._counts(np.array([target])) / self.hours)
        flat = np.bincount(z, weights=self.listed, minlength=nz)
        # the target day's windows at the clock times the slots read (`_clock_slots`):
        # on a shift across a clock change they are not k slot lengths in (autumn: two
        # slots read the same clock hour, so they show the same time; spring: the slot
        # after the gap reads 03:00); the first of two alike is the earlier instant
        clock = _clock_offsets(self.grid, self.start_local)
        repeat = clock.duplicated(keep="first")
        local = pd.DatetimeIndex(
            self.start_local + int(self.days_all[target]) * _DAY + clock
        ).tz_localize(self.tz, ambiguous=~repeat, nonexistent="shift_forward")
        zones = pd.DataFrame(
            {
                "zone_id": np.repeat(self.zone_ids, K),
                "slot": np.tile(np.arange(K), nz),
                "slot_start": np.tile(local, nz),
                "actual": az.ravel(),
                "forecast": fz.ravel(),
                "flat": np.repeat(flat, K),
            }
        )
        zones["error"] = zones["forecast"] - zones["actual"]
        zones["abs_error"] = zones["error"].abs()
        zones["abs_flat"] = (zones["flat"] - zones["actual"]).abs()
        by_slot = (
            zones.groupby("slot", sort=True)
            .agg(
                slot_start=("slot_start", "first"),
                actual=("actual", "sum"),
                forecast=("forecast", "sum"),
                mae=("abs_error", "mean"),
                bias=("error", "mean"),
                mae_flat=("abs_flat", "mean"),
            )
            .reset_index()
        )
        by_zone = (
            zones.groupby("zone_id", sort=False)
            .agg(
                actual=("actual", "mean"),
                forecast=("forecast", "mean"),
                mae=("abs_error", "mean"),
                bias=("error", "mean"),
                mae_flat=("abs_flat", "mean"),
            )
            .reset_index()
        )
        return Backtest(
            day=self._day(target),
            training_days=len(days),
            same_weekday=same,
            zones=zones.drop(columns=["abs_error", "abs_flat"]),
            by_slot=by_slot,
            by_zone=by_zone,
        )
