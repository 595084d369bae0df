"""Replay plans against the orders that really came (CONTRACT section 8), vectorised.

Per (zone, slot) of the shift's `SlotGrid`:

- present couriers: those present in the slot by the presence rule of section 7
  (`rebalance.slots.presence`), each counted in the zone where the policy has it then.
  No plan: its own ``zone_id``. A plan: its ``zone_id``, changed by each of its moves
  whose ``slot_start`` <= the slot's start (a moves table without ``slot_start``, as
  written before plans had slots, moves everyone at the shift start); a re-plan's
  couriers on their way (plan.json's ``under_way``) are at their destination from its
  start, as the re-plan counts them;
- capacity = couriers x ``orders_per_courier_hour`` x L / 60;
- served = min(orders placed in the slot at the zone's restaurants, capacity).

Orders placed outside the shift are ignored and counted. Couriers are counted with
difference arrays (+1 where a courier enters a zone, -1 where it leaves) summed along the
slots, so the cost is linear in couriers + moves + orders, with no Python loop over any
of them: 1 million orders over 100,000 couriers replay in well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .escape import json_dumps
from .inputs import Inputs, as_inputs, config_for
from .model import positions
from .orders import Orders, check_frame, load_orders
from .slots import SlotGrid, presence, slot_labels
from .timeparse import has_offset, parse_timestamps
from .views.wording import percent, plural

__all__ = ["NO_PLAN", "Replay", "replay"]

NO_PLAN = "no plan"

PlanLike = Any  # a Plan, a plan folder (str | Path) or a moves DataFrame


@dataclass(frozen=True)
class Replay:
    """Orders served under each policy.

    - ``policies``: name, orders, served, share (served / orders; 1.0 with no orders).
    - ``slots``: policy, slot_start (city time), orders, couriers, capacity, served, share.
    - ``zones``: policy, zone_id, slot_start, orders, couriers, capacity, served.

    ``outside`` counts the orders ignored because they were placed before or after the
    shift; ``notes`` says what else was set aside (moves of unknown couriers ...).
    """

    grid: SlotGrid
    policies: pd.DataFrame
    slots: pd.DataFrame
    zones: pd.DataFrame
    outside: dict[str, int]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        # one line: the dataclass's own ran to 34 lines of nested tables, UTC first
        from .escape import visible

        orders = int(self.policies["orders"].iloc[0]) if len(self.policies) else 0
        shares = [
            f"{visible(name, one_line=True)} {_share_cell(orders, share)}"
            for name, share in zip(self.policies["name"], self.policies["share"], strict=True)
        ]
        shown = ", ".join(shares[:4]) + (f", ... {len(shares) - 4} more" if len(shares) > 4 else "")
        notes = f"; {plural(len(self.notes), 'note')}" if self.notes else ""
        return (
            f"Replay({self.grid.window()}, {plural(self.grid.count, 'slot')} of "
            f"{self.grid.minutes} min: {orders:,} orders, served {shown}{notes})"
        )

    def _repr_html_(self) -> str:
        """The shift's figures per policy, then (folded) the share served per slot,
        the orders outside the shift and the notes: policy names escaped."""
        import html

        from .views.html import ROOT  # names with $ not typeset as math

        esc = html.escape
        names = list(self.policies["name"])
        head = (
            f"<h4 style='margin:0 0 4px 0'>Replay · {esc(self.grid.window())} · "
            f"{plural(self.grid.count, 'slot')} of {self.grid.minutes} min</h4>"
        )
        totals = "".join(
            f"<tr><td style='text-align:left'>{esc(str(r.name))}</td><td>{int(r.orders):,}</td>"
            f"<td>{r.served:,.1f}</td><td><b>{_share_cell(int(r.orders), r.share)}</b></td></tr>"
            for r in self.policies.itertuples(index=False)
        )
        policies = (
            "<table><tr><th>policy</th><th>orders</th><th>served</th><th>share</th></tr>"
            f"{totals}</table>"
        )
        by = {n: self.slots[self.slots["policy"] == n].reset_index(drop=True) for n in names}
        rows = ""
        if names:
            first = by[names[0]]
            labels = slot_labels(first["slot_start"])
            rows = "".join(
                f"<tr><td>{esc(labels[k])}</td><td>{int(first.loc[k, 'orders']):,}</td>"
                + "".join(
                    f"<td>{_share_cell(int(first.loc[k, 'orders']), by[n].loc[k, 'share'])}</td>"
                    for n in names
                )
                + "</tr>"
                for k in range(len(first))
            )
        columns = "".join(f"<th>{esc(str(n))}</th>" for n in names)
        per_slot = (
            "<details><summary>Share of the orders served, slot by slot</summary>"
            f"<table><tr><th>slot</th><th>orders</th>{columns}</tr>{rows}</table></details>"
        )
        lines = []
        if self.outside["total"]:
            lines.append(
                f"orders outside the shift ignored: {self.outside['total']:,} "
                f"({self.outside['before']:,} before, {self.outside['after']:,} after)"
            )
        lines += [f"note: {n}" for n in self.notes]
        below = "".join(f"<p style='margin:2px 0;opacity:0.7'>{esc(t)}</p>" for t in lines)
        return f"{ROOT}{head}{policies}{per_slot}{below}</div>"

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document of CONTRACT section 8 (plus the shift and ignored orders)."""
        policies = []
        for row in self.policies.itertuples(index=False):
            slots = self.slots[self.slots["policy"] == row.name]
            policies.append(
                {
                    "name": row.name,
                    "orders": int(row.orders),
                    "served": _num(row.served),
                    "share": _num(row.share),
                    "slots": [
                        {
                            "slot_start": s.slot_start.isoformat(),
                            "orders": int(s.orders),
                            "served": _num(s.served),
                        }
                        for s in slots.itertuples(index=False)
                    ],
                }
            )
        tz = self.grid.timezone
        return {
            "policies": policies,
            "shift_start": self.grid.start.tz_convert(tz).isoformat(),
            "shift_end": self.grid.end.tz_convert(tz).isoformat(),
            "slot_minutes": self.grid.minutes,
            "orders_outside_shift": dict(self.outside),
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """`to_dict` as indented JSON text."""
        return json_dumps(self.to_dict(), indent=2) + "\n"

    def share_table(self) -> pd.DataFrame:
        """Served share per slot (rows, city time) and policy (columns), with a total row."""
        wide = self.slots.pivot(index="slot_start", columns="policy", values="share")
        wide = wide[list(self.policies["name"])]
        total = self.policies.set_index("name")["share"].rename("shift")
        return pd.concat([wide, total.to_frame().T])

    def _slot_table(
        self, names: list[str], shown: list[str], totals: pd.DataFrame, layout: str
    ) -> tuple[Any, list[str]]:
        """The table of slots by policy for a `_LAYOUTS` layout, and the lines under it."""
        from rich.table import Table

        table = Table(box=None, padding=(0, 2))
        if layout == "totals":
            # too many policies for a column each: one row each, the shift's figures
            table.add_column("#", justify="right")
            table.add_column("policy", overflow="fold")
            table.add_column("served", justify="right")
            table.add_column("share", justify="right")
            orders = int(totals["orders"].iloc[0])
            for i, (name, label) in enumerate(zip(names, shown, strict=True), 1):
                table.add_row(
                    str(i),
                    label,
                    f"{totals.loc[name, 'served']:,.1f}",
                    _share_cell(orders, totals.loc[name, "share"]),
                )
            lines = [
                f"over the shift's {orders:,} orders; per slot: a wider terminal or --format json"
            ]
            return table, lines + ([] if orders else [NO_ORDERS_KEY])
        table.add_column("slot")
        table.add_column("orders", justify="right")
        numbered = layout == "numbered"
        for i, label in enumerate(shown, 1):
            table.add_column(f"#{i}" if numbered else label, justify="right")
        by = {
            name: self.slots[self.slots["policy"] == name].reset_index(drop=True) for name in names
        }
        first = by[names[0]]
        # served (share) per cell while it fits; else the share alone, served in the total
        compact = layout != "full"
        labels = slot_labels(first["slot_start"])
        for k in range(len(first)):
            orders = int(first.loc[k, "orders"])
            cells = [labels[k], f"{orders:,}"]
            cells += [
                _share_cell(orders, by[n].loc[k, "share"])
                if compact
                else _cell(orders, by[n].loc[k, "served"], by[n].loc[k, "share"])
                for n in names
            ]
            table.add_row(*cells)
        orders = int(totals["orders"].iloc[0])
        table.add_row(
            "shift",
            f"{orders:,}",
            *[
                _share_cell(orders, totals.loc[n, "share"])
                if compact
                else _cell(orders, totals.loc[n, "served"], totals.loc[n, "share"])
                for n in names
            ],
            style="bold",
        )
        lines = []
        if numbered:
            lines.append("  ".join(f"#{i} {label}" for i, label in enumerate(shown, 1)))
        if compact:
            served = ", ".join(
                f"{f'#{i}' if numbered else label} {totals.loc[n, 'served']:,.1f}"
                for i, (n, label) in enumerate(zip(names, shown, strict=True), 1)
            )
            lines.append(
                "cells: share of the orders placed that were served; served over the shift: "
                + served
            )
        else:
            lines.append("cells: orders served (share of the orders placed)")
        if (first["orders"] == 0).any():
            lines.append(NO_ORDERS_KEY)
        return table, lines

    def __rich_console__(self, console: Any, options: Any) -> Any:

        from rich.text import Text

        from .escape import terminal as escape  # folder names: markup and controls
        from .views.fit import Hanging

        tz = self.grid.timezone
        start, end = self.grid.start.tz_convert(tz), self.grid.end.tz_convert(tz)
        from .views.wording import days_later

        yield Hanging(
            f"Replay of {start:%a %Y-%m-%d %H:%M}-{end:%H:%M}{days_later(start, end)} "
            "against the orders that came "
            f"({plural(self.grid.count, 'slot')} of {self.grid.minutes} min)"
        )
        names = list(self.policies["name"])
        shown = [escape(str(name)) for name in names]
        totals = self.policies.set_index("name")
        # the first layout whose table fits the terminal (`_LAYOUTS`)
        for layout in _LAYOUTS:
            table, lines = self._slot_table(names, shown, totals, layout)
            if layout == _LAYOUTS[-1] or _width(console, table) <= options.max_width:
                break
        yield table
        # the keys and notes wrap at words under their label in a terminal (`Hanging`)
        yield from (Hanging(Text.from_markup(line)) for line in lines)
        if self.outside["total"]:
            yield Hanging(
                f"orders outside the shift ignored: {self.outside['total']:,} "
                f"({self.outside['before']:,} before, {self.outside['after']:,} after)"
            )
        for note in self.notes:
            yield Hanging(f"note: {note}")


#: How the replay table can be laid out, widest first: served and share per cell, the
#: share alone under the policies' names, under their numbers with a key below (long
#: folder names, cut, read alike), one row per policy with the shift's figures.
_LAYOUTS = ("full", "shares", "numbered", "totals")


def _width(console: Any, table: Any) -> int:
    """The width ``table`` takes whole, on a console as wide as need be."""
    from rich.measure import Measurement

    wide = console.options.update_width(10_000)
    return int(Measurement.get(console, wide, table).maximum)


#: A cell of a slot, or of the shift, in which no order was placed: its share is 1.0
#: (nothing was missed, as coverage is), and "0.0 (100.0%)" read as a slot well served.
NO_ORDERS = "–"
#: The line under the table that says what `NO_ORDERS` means.
NO_ORDERS_KEY = f"{NO_ORDERS}: no order was placed, so there was none to serve"


def _cell(orders: int, served: float, share: float) -> str:
    """Served (share) of a slot or of the shift; `NO_ORDERS` when no order was placed."""
    return f"{served:,.1f} ({share:.1%})" if orders else NO_ORDERS


def _share_cell(orders: int, share: float) -> str:
    """The share alone; `NO_ORDERS` when no order was placed."""
    return percent(share if orders else None, missing=NO_ORDERS)


def _num(value: Any) -> float:
    return round(float(value), 6)


def replay(
    inputs: Inputs,
    orders: Orders | pd.DataFrame | str | Path,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
    plans: Mapping[str, PlanLike] | Sequence[PlanLike] = (),
    *,
    warn: bool = True,
) -> Replay:
    """Score no plan and each plan against the orders that came (CONTRACT section 8).

    ``orders``: an orders file or folder (validated against ``inputs.restaurants``), a
    loaded `Orders`, or a DataFrame with restaurant_id and placed_at. ``plans``: a
    mapping name -> plan, or a sequence of plans (named after their folder, or ``plan 1``
    ...); a plan is a `Plan`, a plan folder, or a moves DataFrame (courier_id, to_zone
    and optionally slot_start).

    ``warn``: say the replay's notes (orders left out, moves ignored, a plan made for
    another start ...) as `rebalance.PlanWarning` too, as `solve` says its own; False
    where the caller shows them (the command line).
    """
    from .errors import warn_notes
    from .forecasting import shift_grid

    call = "replay(inputs, orders, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    if shift_start is None:
        raise ValueError("shift_start is required, e.g. '2026-11-30T19:00'")
    grid = shift_grid(config, shift_start, shift_end)
    found = _orders(orders, inputs, config)
    found.check_timezone(config.city.timezone, call)
    notes = found.clock_notes(grid.start, grid.end, config.city.timezone)
    result = _replay(inputs, found.table, config, grid, _named(plans), notes)
    if warn:
        warn_notes(result.notes, stacklevel=2)
    return result


def _orders(orders: Orders | pd.DataFrame | str | Path, inputs: Inputs, config: Config) -> Orders:
    if isinstance(orders, Orders):
        return orders
    if isinstance(orders, pd.DataFrame):
        check_frame(orders, inputs.restaurants)
        table, wall_clock = orders, None
        if not isinstance(table["placed_at"].dtype, pd.DatetimeTZDtype):
            text = table["placed_at"].astype(str)
            table = table.assign(placed_at=parse_timestamps(text, config.city.timezone))
            wall_clock = ~has_offset(text)
        return Orders(table, (), wall_clock=wall_clock, timezone=config.city.timezone)
    return load_orders(orders, inputs.restaurants, config)


def _text(column: pd.Series) -> pd.Series:
    """Ids as text: a column of text categories as it is (`rebalance.model.positions`
    looks each category up once; as text it would be a string per order)."""
    if isinstance(column.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
        column.cat.categories
    ):
        return column
    return column.astype(str)


def _named(plans: Mapping[str, PlanLike] | Sequence[PlanLike]) -> list[tuple[str, PlanLike]]:
    from .plan import Plan

    if isinstance(plans, Plan | str | Path | pd.DataFrame):
        # one plan where a list or mapping goes: "'Plan' object is not iterable", and a
        # folder's path was read as a list of one-letter folders
        raise TypeError(
            f"replay(..., plans): plans must be a list of plans or a mapping name -> plan, "
            f"got one {type(plans).__name__}; pass plans=[plan] or plans={{'name': plan}}"
        )
    if isinstance(plans, Mapping):
        items = [(str(k), v) for k, v in plans.items()]
    else:
        items = []
        for i, plan in enumerate(plans, start=1):
            name = f"plan {i}"
            if isinstance(plan, str | Path):
                name = Path(plan).name or str(plan)
            items.append((name, plan))
    seen: dict[str, int] = {}
    out = []
    for name, plan in items:
        if name == NO_PLAN or name in seen:
            seen[name] = seen.get(name, 1) + 1
            name = f"{name} ({seen[name]})"
        seen.setdefault(name, 1)
        out.append((name, plan))
    return out


def _moves(
    plan: PlanLike, zone_index: pd.Index | None = None, name: str = ""
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The plan's moves and its shift start (None when unknown). With ``zone_index``
    (the data's zones), a plan with zones the data does not have is refused: it was
    made from another city's data, and scoring it would score nobody's moves."""
    from .plan import as_plan, check_zones, read_plan

    label = name or "a plan"
    if isinstance(plan, pd.DataFrame):
        missing = [c for c in ("courier_id", "to_zone") if c not in plan.columns]
        if missing:
            raise ValueError(
                f"replay(..., plans): {label} is a DataFrame without "
                f"{' and '.join(missing)}; a moves table has courier_id, to_zone and "
                "optionally slot_start (a plan's moves.csv)"
            )
        return plan, None
    where = None
    if isinstance(plan, str | Path):
        where = Path(plan)
        plan = read_plan(plan)
    plan = as_plan(
        plan, "replay(..., plans)", f"{label} (a Plan, a plan folder or a moves DataFrame)"
    )
    if plan.status not in {"optimal", "feasible"}:
        # scored as moving nobody, it read as "no plan" does: a plan that adds nothing
        raise ValueError(
            f"replay(..., plans): {label} is {plan.status}, nothing to replay: {plan.message}"
        )
    if zone_index is not None and len(plan.zones):
        check_zones(
            plan,
            zone_index.astype(str),
            label=f"{name or 'the plan'} ({plan.city})",
            file=where / "zones.csv" if where is not None else None,
            valid="a plan made from the same city's data",
        )
    if not plan.under_way:
        return plan.moves, plan.shift_start
    # A re-plan counts the couriers on their way (moves of the plan it revised, begun
    # before its start) at their destination from its start: so does its replay, first,
    # so that a move of the re-plan at its start comes after. Left out, a re-plan of
    # 200 zones with 5,978 couriers on their way was scored with them at home: 20.8%
    # of orders served, against 32.5% for the same start planned afresh.
    start = plan.shift_start
    kept = plan.moves.get("slot_start")
    if kept is not None and isinstance(kept.dtype, pd.DatetimeTZDtype):
        # the moves' own dtype: a column of two timezones is text to pandas, and each
        # of a million moves' times was then parsed again (0.01 -> 9.4 s)
        start = start.tz_convert(kept.dtype.tz).as_unit(kept.dtype.unit)
    ahead = pd.DataFrame(
        {
            "courier_id": [r["courier_id"] for r in plan.under_way],
            "to_zone": [r["to_zone"] for r in plan.under_way],
            "slot_start": pd.Series(start, index=range(len(plan.under_way))),
        }
    )
    return pd.concat([ahead, plan.moves], ignore_index=True), plan.shift_start


def _nobody_present(couriers: pd.DataFrame, grid: SlotGrid, config: Config) -> str:
    """The note of a replay whose couriers.csv has nobody in the shift: every policy
    then serves nothing, which read as a verdict on the plans (replaying last week
    against tonight's couriers is the easy mistake)."""
    from .eligibility import eligibility

    if couriers.empty:
        return "the couriers table lists no courier: every policy serves nothing"
    found = eligibility(couriers, grid, config.eligibility.min_available_minutes)
    return (
        f"no courier is present in the shift starting {found.shift_text()} "
        f"({found.reasons_text()}): every policy serves nothing. Replay a past shift with "
        f"that night's couriers table, or {found.check('check')}"
    )


def _replay(
    inputs: Inputs,
    orders: pd.DataFrame,
    config: Config,
    grid: SlotGrid,
    plans: list[tuple[str, PlanLike]],
    notes: list[str],
) -> Replay:
    K = grid.count
    zone_ids = inputs.zones["zone_id"].astype(str).to_numpy(dtype=object)
    zone_index = pd.Index(zone_ids)
    Z = len(zone_ids)
    tz = config.city.timezone

    # orders per (zone, slot)
    placed = orders["placed_at"]
    # An order of a DataFrame whose placed_at could not be read (text that is no time,
    # blank, NaN) is NaT: in no slot (`SlotGrid.slot_of`), and, its int64 the smallest,
    # not "before the shift" either. Left out and said, as a forecast does.
    unread = placed.isna().to_numpy()
    slot = grid.slot_of(placed)
    ns = placed.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if unread.any():
        notes.append(f"{plural(int(unread.sum()), 'order')} without a readable placed_at ignored")
    before = int(((slot < 0) & (ns < grid.start.value) & ~unread).sum())
    after = int(((slot < 0) & ~unread).sum()) - before
    # Arrow lookups (get_indexer made a Python string per order)
    if "zone_id" in orders.columns:
        oz = positions(_text(orders["zone_id"]), zone_index)
    else:
        rest = inputs.restaurants
        rest_zone = np.r_[positions(rest["zone_id"].astype(str), zone_index), -1]
        at = positions(
            orders["restaurant_id"].astype(str), pd.Index(rest["restaurant_id"].astype(str))
        )
        oz = rest_zone[at]  # -1 (not a restaurant of the city): the -1 at the end
    inside = (slot >= 0) & (oz >= 0)
    unknown = int(((slot >= 0) & (oz < 0)).sum())
    if unknown:
        notes.append(f"{unknown} orders of restaurants not in this city ignored")
    demand = np.bincount(oz[inside] * K + slot[inside], minlength=Z * K).reshape(Z, K)
    if inside.sum() == 0:
        notes.append("no order was placed during the shift")

    # presence
    couriers = inputs.couriers
    first, last = presence(couriers, grid, config.eligibility.min_available_minutes)
    if not (first >= 0).any():
        notes.append(_nobody_present(couriers, grid, config))
    home = zone_index.get_indexer(couriers["zone_id"].astype(str).to_numpy())
    courier_index = pd.Index(couriers["courier_id"].astype(str).to_numpy())
    per_courier = config.demand.orders_per_courier_hour * grid.minutes / 60.0

    policies: list[tuple[str, np.ndarray]] = [(NO_PLAN, _presence_counts(home, first, last, Z, K))]
    for name, plan in plans:
        moves, plan_start = _moves(plan, zone_index, name)
        if plan_start is not None and plan_start != grid.start:
            notes.append(
                f"{name}: planned for a shift starting "
                f"{plan_start.tz_convert(tz):%Y-%m-%d %H:%M}, replayed from "
                f"{grid.start.tz_convert(tz):%Y-%m-%d %H:%M}"
            )
        counts, dropped = _plan_counts(
            moves, courier_index, zone_index, home, first, last, grid, tz, plan_start
        )
        for what, count in dropped.items():
            if count:
                notes.append(f"{name}: {count} moves {what} ignored")
        policies.append((name, counts))

    starts = grid.local_starts()
    slot_rows, zone_rows, totals = [], [], []
    orders_k = demand.sum(axis=0)
    for name, n in policies:
        capacity = n * per_courier
        served = np.minimum(demand, capacity)
        served_k = served.sum(axis=0)
        slot_rows.append(
            pd.DataFrame(
                {
                    "policy": name,
                    "slot_start": starts,
                    "orders": orders_k,
                    "couriers": n.sum(axis=0),
                    "capacity": capacity.sum(axis=0),
                    "served": served_k,
                    "share": _share(served_k, orders_k),
                }
            )
        )
        zone_rows.append(
            pd.DataFrame(
                {
                    "policy": name,
                    "zone_id": np.repeat(zone_ids, K),
                    "slot_start": np.tile(starts, Z),
                    "orders": demand.ravel(),
                    "couriers": n.ravel(),
                    "capacity": capacity.ravel(),
                    "served": served.ravel(),
                }
            )
        )
        total_orders = int(orders_k.sum())
        total_served = float(served_k.sum())
        totals.append(
            {
                "name": name,
                "orders": total_orders,
                "served": total_served,
                "share": float(_share(np.array([total_served]), np.array([total_orders]))[0]),
            }
        )
    return Replay(
        grid=grid,
        policies=pd.DataFrame(totals, columns=["name", "orders", "served", "share"]),
        slots=pd.concat(slot_rows, ignore_index=True),
        zones=pd.concat(zone_rows, ignore_index=True),
        outside={"before": before, "after": after, "total": before + after},
        notes=tuple(notes),
    )


def _share(served: np.ndarray, orders: np.ndarray) -> np.ndarray:
    served = np.asarray(served, dtype=float)
    orders = np.asarray(orders, dtype=float)
    return np.divide(served, orders, out=np.ones_like(served), where=orders > 0)


def _presence_counts(
    zone: np.ndarray, first: np.ndarray, last: np.ndarray, Z: int, K: int
) -> np.ndarray:
    """Couriers per (zone, slot) when each stays in ``zone`` over its slots first..last."""
    ok = first >= 0
    diff = np.zeros(Z * (K + 1), dtype=np.int64)
    np.add.at(diff, zone[ok] * (K + 1) + first[ok], 1)
    np.add.at(diff, zone[ok] * (K + 1) + last[ok] + 1, -1)
    return np.cumsum(diff.reshape(Z, K + 1), axis=1)[:, :K]


def _plan_counts(
    moves: pd.DataFrame,
    courier_index: pd.Index,
    zone_index: pd.Index,
    home: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    grid: SlotGrid,
    tz: str,
    plan_start: pd.Timestamp | None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Couriers per (zone, slot) under a plan's moves.

    A move counts from the first slot whose start is >= its slot_start (and not before
    the courier's first present slot); a courier's moves apply in slot_start order, each
    taking it from where the previous one left it to its to_zone.
    """
    Z, K = len(zone_index), grid.count
    counts = _presence_counts(home, first, last, Z, K)
    dropped = {"of couriers not in couriers": 0, "to zones not in zones": 0}
    if moves.empty:
        return counts, dropped
    c = courier_index.get_indexer(moves["courier_id"].astype(str).to_numpy())
    to = zone_index.get_indexer(moves["to_zone"].astype(str).to_numpy())
    dropped["of couriers not in couriers"] = int((c < 0).sum())
    dropped["to zones not in zones"] = int(((to < 0) & (c >= 0)).sum())
    # a move without a time (a one-slot plan's moves.csv has no slot_start) is made at
    # the start of the shift its plan was made for: a plan made at 19:30 moved its
    # couriers from 19:00 when replayed over a shift starting then
    start = plan_start if plan_start is not None else grid.start
    if "slot_start" in moves.columns:
        at = _move_times(moves["slot_start"], tz, start)
    else:
        at = np.full(len(moves), start.value, dtype=np.int64)
    step = grid.minutes * 60_000_000_000
    # first slot k with start_k >= at: ceil((at - start) / step), at least 0
    k = np.maximum(0, -np.floor_divide(-(at - grid.start.value), step))
    keep = (c >= 0) & (to >= 0)
    c, to, k, at = c[keep], to[keep], k[keep], at[keep]
    present = first[c] >= 0
    c, to, k, at = c[present], to[present], k[present], at[present]
    k = np.maximum(k, first[c])
    live = k <= last[c]
    c, to, k, at = c[live], to[live], k[live], at[live]
    if c.size == 0:
        return counts, dropped
    # a courier's moves in slot_start order (file order on ties): two moves that fall
    # in one slot leave it where the later one sends it
    order = np.lexsort((np.arange(c.size), at, c))
    c, to, k = c[order], to[order], k[order]
    # where each move starts from: the previous move's to_zone, or the courier's home
    new_courier = np.ones(c.size, dtype=bool)
    new_courier[1:] = c[1:] != c[:-1]
    frm = np.where(new_courier, home[c], np.roll(to, 1))
    diff = np.zeros(Z * (K + 1), dtype=np.int64)
    np.add.at(diff, frm * (K + 1) + k, -1)
    np.add.at(diff, to * (K + 1) + k, 1)
    # the last zone of each courier keeps it until its last slot; home's -1 at last+1 moves there
    last_move = np.ones(c.size, dtype=bool)
    last_move[:-1] = c[:-1] != c[1:]
    lc = c[last_move]
    np.add.at(diff, home[lc] * (K + 1) + last[lc] + 1, 1)
    np.add.at(diff, to[last_move] * (K + 1) + last[lc] + 1, -1)
    counts = counts + np.cumsum(diff.reshape(Z, K + 1), axis=1)[:, :K]
    return counts, dropped


def _move_times(values: pd.Series, tz: str, default: pd.Timestamp) -> np.ndarray:
    """slot_start of each move as UTC nanoseconds; blank = the plan's shift start."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
    else:
        text = values.astype(str).str.strip()
        parsed = parse_timestamps(text.where(text.ne("") & text.ne("nan"), ""), tz)
    out = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    missing = parsed.isna().to_numpy()
    out[missing] = default.value
    return out
