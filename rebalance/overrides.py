"""Overrides: restaurant status set from Slack for a shift (CONTRACT section 10).

`/rebalance close R` and `/rebalance open R` store an override in the history store
(who, when, for which shift). Every later plan of that shift, by `rebalance serve`,
`rebalance run` or `rebalance plan --config` with the same history, reads its inputs
through `apply_overrides`: the data files are never edited, so the next delivery of
restaurants.csv does not undo the change and clearing an override restores the data.

An override made for the shift [S, E) (E = S + ``[shift] hours``) applies to every plan
of the city whose shift starts in [S, E): the shift itself and its re-plans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

if TYPE_CHECKING:
    from .config import Config
    from .history import History, OverrideRecord
    from .inputs import Inputs

__all__ = [
    "apply_overrides",
    "apply_stored_overrides",
    "overrides_for_shift",
    "overrides_json",
    "overrides_table",
    "shift_window",
    "unknown_restaurants",
]

STATUSES = ("open", "closed")


class _Override(Protocol):
    @property
    def restaurant_id(self) -> str: ...

    @property
    def status(self) -> str: ...


def apply_overrides(inputs: Inputs, overrides: Iterable[_Override]) -> Inputs:
    """``inputs`` with each overridden restaurant's status set (a later override of the
    same restaurant wins). Pure: returns ``inputs`` itself when nothing changes, else a
    new `Inputs` (fingerprint recomputed). Restaurants unknown to the inputs are skipped
    (see `unknown_restaurants`)."""
    wanted: dict[str, str] = {}
    for override in overrides:
        if override.status not in STATUSES:
            raise ValueError(f"override status must be open or closed, not {override.status!r}")
        wanted[str(override.restaurant_id)] = override.status
    if not wanted:
        return inputs
    restaurants = inputs.restaurants
    new_status = restaurants["restaurant_id"].map(wanted)
    change = new_status.notna() & new_status.ne(restaurants["status"])
    if not change.any():
        return inputs
    changed = restaurants.copy()
    changed.loc[change, "status"] = new_status[change]
    return inputs._with(restaurants=changed)


def unknown_restaurants(inputs: Inputs, overrides: Iterable[_Override]) -> list[str]:
    """Restaurant ids of ``overrides`` that the inputs do not have (sorted)."""
    known = set(inputs.restaurants["restaurant_id"].astype(str))
    return sorted({str(o.restaurant_id) for o in overrides} - known)


def shift_window(config: Config, shift_start: Any) -> tuple[str, str]:
    """The UTC bounds (ISO 8601) of the shift starting at ``shift_start``."""
    start = _utc(shift_start)
    end = start + config.shift.length
    return start.isoformat(), end.isoformat()


def overrides_for_shift(history: History, city: str, shift_start: Any) -> list[OverrideRecord]:
    """The active overrides of ``city`` that apply to a plan of ``shift_start``."""
    at = _utc(shift_start)
    return [
        o for o in history.overrides(city=city) if _utc(o.shift_start) <= at < _utc(o.shift_end)
    ]


def apply_stored_overrides(
    inputs: Inputs,
    config: Config,
    shift_start: Any,
    *,
    history: History | None = None,
    log: Callable[[str], None] | None = None,
) -> Inputs:
    """``inputs`` with the overrides of the config's history applied (the hook of `run`
    and `plan --config`). Without ``history``, the store at ``[history] path`` is read
    if it exists (it is never created here). ``log`` gets one line when any apply."""
    store = history
    if store is None:
        path = config.history_path
        if not path.exists():
            return inputs
        from .history import History

        store = History(path)
    try:
        records = overrides_for_shift(store, config.city.name, shift_start)
    finally:
        if history is None:
            store.close()
    if not records:
        return inputs
    result = apply_overrides(inputs, records)
    if log is not None:
        latest = {o.restaurant_id: o for o in records}
        described = ", ".join(
            _printable(f"{rid} {o.status} (by {o.user_name or o.user_id})")
            for rid, o in latest.items()
        )
        unknown = unknown_restaurants(inputs, records)
        from .views.wording import plural

        line = f"{plural(len(latest), 'restaurant override')} from Slack applied: {described}"
        if unknown:
            line += f"; not in the data, ignored: {_printable(', '.join(unknown))}"
        log(line)
    return result


def overrides_table(records: list[OverrideRecord], timezone: str) -> Any:
    """A Rich table of overrides (user-typed text shown literally, never as markup, its
    control characters and bidi overrides written out). On a terminal too narrow for
    the table, one line per override instead (wrapped at spaces): a squeezed table cut
    the user id ("by U012AB…" at 80 columns) and dropped whole columns at 50."""
    from rich.table import Table
    from rich.text import Text

    from .escape import visible

    columns = ["id", "city", "shift", "restaurant", "status", "by", "when", "cleared"]
    cleared_any = any(o.cleared_at for o in records)
    table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
    for column in columns if cleared_any else columns[:-1]:
        table.add_column(column, no_wrap=True)
    lines = []
    for o in records:
        row = [
            visible(value, one_line=True)
            for value in (
                str(o.override_id),
                o.city,
                _local(o.shift_start, timezone, "%m-%d %H:%M"),
                o.restaurant_id,
                o.status,
                f"{o.user_name} ({o.user_id})" if o.user_name else o.user_id,
                _local(o.created_at, timezone, "%m-%d %H:%M:%S"),
                _local(o.cleared_at, timezone, "%m-%d %H:%M") if o.cleared_at else "",
            )
        ]
        table.add_row(*(Text(value) for value in (row if cleared_any else row[:-1])))
        override_id, city, shift, restaurant, status, by, when, cleared = row
        line = Text(f"{override_id}  ", style="bold")
        line.append(f"{city} {shift}: {restaurant} {status} by {by} at {when}")
        if cleared:
            line.append(f", cleared {cleared}")
        lines.append(line)
    return _Fitted(table, lines)


class _Fitted:
    """``table`` where it fits the width it is given whole, else ``lines``."""

    def __init__(self, table: Any, lines: list[Any]) -> None:
        self.table = table
        self.lines = lines

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        # the table's own width, unconstrained (a measure at this width is clamped to it)
        whole = Measurement.get(console, options.update_width(1 << 16), self.table).maximum
        if whole <= options.max_width:
            yield self.table
        else:
            yield from self.lines


def overrides_json(records: list[OverrideRecord]) -> str:
    """Overrides as a JSON array."""
    from .escape import json_dumps

    return json_dumps([o.to_dict() for o in records], indent=2) + "\n"


def _printable(text: str) -> str:
    """Text from Slack users, safe for a terminal: control characters (escape
    sequences) shown as ``?``."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _local(iso: str | None, timezone: str, fmt: str) -> str:
    if not iso:
        return ""
    return _utc(iso).tz_convert(timezone).strftime(fmt)
