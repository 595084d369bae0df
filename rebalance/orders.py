"""The ``orders`` table (CONTRACT section 8): past or actual orders, validated like every table.

An orders source is one file (``.csv`` or ``.parquet``) or a folder of them (every
``*.csv`` and ``*.parquet`` inside, read in name order as one table). Columns:
``order_id`` (unique over the whole source), ``restaurant_id`` (must exist in the
restaurants table) and ``placed_at`` (ISO 8601; without an offset it is city time).
Every problem of every file is collected before one `DataError` is raised (exit 3),
each naming file, line and column, as `rebalance.inputs.load` does.

Within one file every ``placed_at`` carries an offset or none does: an export that mixes
both usually mixes UTC and local clocks, and guessing which is which would shift orders
by an hour or two without anyone noticing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config, as_config
from .errors import DataError, Issue, as_path
from .inputs import (
    ROWS_PER_RULE,
    Column,
    _Checker,
    _has_columns,
    _Raw,
    _read_csv,
    _read_parquet,
    _restaurant_refs,
)
from .timeparse import dates_alone, has_offset, looks_iso, repeated_hour_notes

__all__ = ["ORDER_COLUMNS", "Orders", "check_frame", "load_orders"]

ORDER_COLUMNS: tuple[Column, ...] = (
    Column("order_id", "id"),
    Column("restaurant_id", "ref"),
    Column("placed_at", "timestamp"),
)
_TIMESTAMP_HINT = (
    "an ISO 8601 timestamp, e.g. 2026-11-30T19:42:10 (city time) or 2026-11-30T19:42:10+01:00"
)


@dataclass(frozen=True)
class Orders:
    """Validated orders: ``table`` has order_id, restaurant_id, zone_id and placed_at (UTC).

    ``files`` lists the files read, in order; ``wall_clock`` which rows' placed_at were
    written without an offset (city time), when known; ``timezone`` the timezone those
    were read in (`load_orders`' config's), when known. A replay or a forecast of
    another city's timezone refuses them (`check_timezone`).
    """

    table: pd.DataFrame
    files: tuple[Path, ...]
    wall_clock: np.ndarray | None = field(default=None, repr=False, compare=False)
    timezone: str | None = field(default=None, compare=False)

    def check_timezone(self, timezone: str, call: str) -> None:
        """ValueError when placed_at written without an offset were read in another
        timezone than ``timezone`` (the city's): `load_orders` without a config reads
        them in the defaults' Europe/Paris, and a replay of New York's orders so read
        served 0 of the 1,065 orders the command line counted, without a word."""
        if self.timezone is None or self.timezone == timezone:
            return
        if self.wall_clock is not None and not self.wall_clock.any():
            return  # every placed_at with its offset: instants, whatever the timezone
        # Another name for the same clock (US/Eastern, America/New_York) read each time
        # as the city's would have: the wall-clock times agree in both.
        placed = self.table["placed_at"]
        if self.wall_clock is not None:
            placed = placed[self.wall_clock]
        read = placed.dt.tz_convert(self.timezone).dt.tz_localize(None)
        if read.equals(placed.dt.tz_convert(timezone).dt.tz_localize(None)):
            return
        raise ValueError(
            f"{call}: the orders' placed_at without a UTC offset were read in "
            f"{self.timezone!r} (the config given to load_orders, or the defaults' without "
            f"one), but the city's timezone is {timezone!r}: load them with "
            "load_orders(source, inputs.restaurants, inputs.config), or pass the orders "
            "file's path"
        )

    def clock_notes(self, start: pd.Timestamp, end: pd.Timestamp, timezone: str) -> list[str]:
        """What to know about the orders of the span [start, end) written without an
        offset in an hour the clocks go back over (`repeated_hour_notes`): they were
        all read as its first occurrence. Orders read up to 2 hours before ``start``
        count too (their second occurrence may be inside)."""
        if self.wall_clock is None or not self.wall_clock.any():
            return []
        placed = self.table["placed_at"]
        near = placed.ge(start - pd.Timedelta(hours=2)) & placed.lt(end)
        return repeated_hour_notes(placed[self.wall_clock & near.to_numpy()], timezone)

    def __len__(self) -> int:
        return len(self.table)


def _sources(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in {".csv", ".parquet"})
        if not found:
            raise DataError(
                Issue(
                    "no orders file in this folder",
                    file=str(path),
                    valid="one or more orders .csv or .parquet files",
                ),
                title="invalid orders",
            )
        return found
    if not path.is_file():
        raise DataError(
            Issue(
                "orders file not found",
                file=str(path),
                valid="an orders .csv or .parquet file, or a folder of them",
            ),
            title="invalid orders",
        )
    if path.suffix not in {".csv", ".parquet"}:
        raise DataError(
            Issue(
                "not a .csv or .parquet file",
                file=str(path),
                valid="an orders .csv or .parquet file, or a folder of them",
            ),
            title="invalid orders",
        )
    return [path]


def _read(path: Path, issues: list[Issue]) -> _Raw | None:
    parquet = path.suffix == ".parquet"
    lines, header_line = None, None
    found: list[str] | None = None
    if parquet:
        got = _read_parquet(path, ORDER_COLUMNS, issues)
        if got is None:
            return None
        frame, digest, found = got
    else:
        read = _read_csv(path, ORDER_COLUMNS, issues)
        if read is None:
            return None
        frame, digest, lines, header_line = read  # lines: each row's line in the file
    if not _has_columns(ORDER_COLUMNS, frame, path.name, header_line, issues, found):
        return None
    if frame.empty:
        issues.append(
            Issue(
                "no orders: the file has a header but no rows",
                file=path.name,
                valid="at least one order row",
            )
        )
        return None
    return _Raw("orders", path, frame, parquet, digest, lines)


def _mixed_offsets(c: _Checker) -> np.ndarray:
    """Flag the rows whose placed_at is a date alone, or whose offset-or-not differs from
    the file's first timestamp; and return which rows' placed_at were written without an
    offset (wall-clock)."""
    raw = c.raw.frame["placed_at"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return np.zeros(len(raw), dtype=bool)  # a typed Parquet column: instants
    # each distinct text once: a history of weeks repeats each second of the shift's
    # hours on many orders (7.9 million orders, 1.2 million texts: 1.4 -> 0.4 s); kept
    # by the checker for the timestamps' parse (`_Checker.timestamp`)
    codes, distinct = c._factorize("placed_at", c.text("placed_at").astype(str))
    # A date alone read as midnight: an export that lost its times would pass, every
    # order counted outside the shift's hours.
    dated = dates_alone(distinct)
    if dated.any():
        c.flag(
            dated[codes],
            "placed_at",
            "a date without the time the order was placed",
            "a date and time, e.g. 2026-11-29T19:05 (city time) or 2026-11-29T18:05Z",
        )
    offset = has_offset(distinct)[codes]
    # Only timestamps that read as ISO 8601 date-times take part: one the parse refuses
    # (20261129T190800+0100) is named once, as unreadable, not also as "without an
    # offset" beside the others. (Looked at only when the offsets differ at all.)
    timed = (looks_iso(distinct) & ~dated)[codes] if offset.any() and not offset.all() else None
    if timed is not None and offset[timed].any() and not offset[timed].all():
        at = int(np.flatnonzero(timed)[0])
        first = bool(offset[at])
        line, row = c.raw.where(at)
        where = f"row {row}" if c.raw.parquet else f"line {line}"
        c.flag(
            timed & (offset != first),
            "placed_at",
            "timestamps with and without a UTC offset in one file",
            f"like {where}, "
            + (
                "every placed_at with an offset"
                if first
                else "every placed_at without one (city time)"
            ),
        )
    return ~offset


def load_orders(
    source: str | Path,
    restaurants: pd.DataFrame,
    config: Config | None = None,
) -> Orders:
    """Read and validate an orders file or folder against the city's ``restaurants``.

    Naive ``placed_at`` are read in ``config``'s ``[city] timezone`` (the defaults'
    without one): pass the config the city was loaded with (``inputs.config``); a
    replay or forecast refuses orders read in another timezone than the city's.
    Raises `DataError` listing every problem (file, line, column, value, what is valid).
    When not one order names a restaurant of this city, the first problem says so: the
    orders are most likely another city's.
    """
    return _load(source, restaurants, config)[0]


def _load(
    source: str | Path, restaurants: pd.DataFrame, config: Config | None
) -> tuple[Orders, np.ndarray]:
    """`load_orders`, and each order's position in ``restaurants`` (its restaurant's
    row), which a forecast would otherwise look up again (5 s at 73 million orders)."""
    call = "load_orders(source, restaurants, config)"
    config = as_config(config, call)
    source = as_path(source, call, "source must be an orders file or folder (str or Path)")
    if not isinstance(restaurants, pd.DataFrame) or not {"restaurant_id", "zone_id"} <= set(
        restaurants.columns
    ):
        from .inputs import Inputs

        got = (
            "a DataFrame without restaurant_id and zone_id"
            if isinstance(restaurants, pd.DataFrame)
            else type(restaurants).__name__
        )
        if isinstance(restaurants, Inputs):
            got += "; pass inputs.restaurants, and inputs.config as the config"
        raise TypeError(
            f"{call}: restaurants must be the city's restaurants table "
            f"(rebalance.load(folder).restaurants), got {got}"
        )
    tz = config.city.timezone
    files = _sources(Path(source))
    # positions in the restaurants table itself (an id it lists twice: the first)
    known = pd.Index(restaurants["restaurant_id"].astype(str))
    zone = restaurants["zone_id"]
    if not isinstance(zone.dtype, pd.CategoricalDtype):
        zone = zone.astype(str).astype("category")
    issues: list[Issue] = []
    parts: list[pd.DataFrame] = []
    rows: list[np.ndarray] = []  # per file: each order's restaurant's row
    checkers: list[_Checker] = []
    wall_clock: list[np.ndarray] = []  # per file: placed_at written without an offset
    unknown_rows = total_rows = 0
    for path in files:
        raw = _read(path, issues)
        if raw is None:
            continue
        c = _Checker(raw, issues)
        ids = c.ids("order_id", "order")
        refs, unknown, at = _restaurant_refs(c, known)
        assert at is not None  # known given
        rows.append(at)
        wall_clock.append(_mixed_offsets(c))
        placed = c.timestamp("placed_at", tz)
        # the text as read and its codes are not needed again (problems were taken with
        # their values): at 73 million orders 2 GB, let go before the next file and the
        # table are made
        c.forget("placed_at")
        c.codes.pop("placed_at", None)
        unknown_rows += int(unknown.sum())
        total_rows += len(refs)
        parts.append(pd.DataFrame({"order_id": ids, "restaurant_id": refs, "placed_at": placed}))
        checkers.append(c)
    if len(parts) > 1:
        _duplicates_across_files(parts, checkers)
    if total_rows and unknown_rows == total_rows:
        issues.insert(
            0,
            Issue(
                f"none of the {total_rows} orders names a restaurant of this city; "
                "are these another city's orders?",
                file=", ".join(p.name for p in files[:3]) + (", ..." if len(files) > 3 else ""),
                column="restaurant_id",
                valid="orders of the restaurants in the data directory's restaurants table",
            ),
        )
    if issues:
        raise DataError(issues, title="invalid orders")
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    table["order_id"] = table["order_id"].astype(str)
    table["restaurant_id"] = table["restaurant_id"].astype(str)
    at = np.concatenate(rows) if len(rows) > 1 else rows[0]
    table.insert(2, "zone_id", _zones(zone, at))
    orders = Orders(
        table=table.reset_index(drop=True),
        files=tuple(files),
        wall_clock=np.concatenate(wall_clock),
        timezone=tz,
    )
    return orders, at


def _zones(zone: pd.Series, at: np.ndarray) -> pd.Categorical:
    """Each order's zone among the restaurants' ``zone`` categories, from its
    restaurant's position ``at`` (-1: none of the city's, and then none): held as a
    category, as `rebalance.load` holds zone ids. pandas' reindex made a Python string
    per order (1.6 s and ~0.6 GB at 7.9 million orders); as text ~11 bytes an order, as
    codes 2 where zones are fewer than 32,768."""
    codes = np.r_[zone.cat.codes.to_numpy(), -1]
    return pd.Categorical.from_codes(codes[at], dtype=zone.dtype)


def _duplicates_across_files(parts: list[pd.DataFrame], checkers: list[_Checker]) -> None:
    """An order id seen in an earlier file of the folder is a duplicate too."""
    ids = pd.concat([p["order_id"] for p in parts], ignore_index=True).astype(str)
    starts = np.cumsum([0, *(len(p) for p in parts)])
    owner = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    # first row holding each id (over the files in order), and so its file; a row is a
    # cross-file duplicate when that file is earlier
    first_row = pd.Series(np.arange(len(ids))).groupby(ids.to_numpy()).transform("min").to_numpy()
    first_file = owner[first_row]
    for i, (part, c) in enumerate(zip(parts, checkers, strict=True)):
        offset, n = int(starts[i]), len(part)
        mask = (first_file[offset : offset + n] < i) & part["order_id"].ne("").to_numpy()
        if mask.any():
            # say where the id first appears: the file and line the operator compares with
            notes = {}
            for pos in np.flatnonzero(mask)[:ROWS_PER_RULE].tolist():
                first = int(first_row[offset + pos])
                f = int(owner[first])
                raw = checkers[f].raw
                line, row = raw.where(first - int(starts[f]))
                notes[pos] = f"first in {raw.label} " + (
                    f"at line {line}" if line else f"at row {row}"
                )
            c.flag(
                mask,
                "order_id",
                "duplicate order_id (already in an earlier file of the folder)",
                "each order id once over all files",
                values=part["order_id"],
                notes=notes,
            )


#: How errors name orders given as a DataFrame (rows counted from 1).
FRAME_TITLE = "orders (DataFrame, rows from 1)"


def check_frame(frame: pd.DataFrame, restaurants: pd.DataFrame) -> None:
    """Raise `DataError` for what makes orders given as a DataFrame wrong as a whole.

    Its rows are not checked one by one as a file's are (a forecast and a replay leave
    out, and count, orders whose time cannot be read or whose restaurant is not in the
    city), but: every column must be there (a KeyError from deep inside otherwise), ids
    must be text (``pd.read_csv`` reads "00208" as the number 208, which names no
    restaurant: a replay then served 100% of no order), each order once (counted twice
    otherwise), and some order must name a restaurant of the city."""
    issues: list[Issue] = []
    if not _has_columns(ORDER_COLUMNS, frame, FRAME_TITLE, None, issues):
        raise DataError(issues, title="invalid orders")
    for name in ("order_id", "restaurant_id"):
        values = frame[name]
        kind = (
            values.cat.categories.dtype
            if isinstance(values.dtype, pd.CategoricalDtype)
            else values.dtype
        )
        if pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind):
            issues.append(
                Issue(
                    f"DataFrame column has type {values.dtype}",
                    file=FRAME_TITLE,
                    column=name,
                    valid="text (ids like '0042' must stay text: read the file with "
                    "dtype=str, or give its path)",
                )
            )
    if issues:
        raise DataError(issues, title="invalid orders")
    ids = frame["order_id"].astype(str)
    twice = ids.duplicated(keep="first").to_numpy()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        first = int(np.flatnonzero(ids.eq(ids.iloc[row]).to_numpy())[0])
        issues.append(
            Issue(
                f"duplicate order_id (got {ids.iloc[row]!r}, first in row {first + 1}; "
                f"{int(twice.sum()):,} repeated in all)",
                file=FRAME_TITLE,
                row=row + 1,
                column="order_id",
                valid="each order id once",
            )
        )
    known = frame["restaurant_id"].astype(str).isin(restaurants["restaurant_id"].astype(str))
    if len(frame) and not known.any():
        issues.append(
            Issue(
                f"none of the {len(frame):,} orders names a restaurant of this city; "
                "are these another city's orders?",
                file=FRAME_TITLE,
                column="restaurant_id",
                valid="orders of the restaurants in the data directory's restaurants table",
            )
        )
    if issues:
        raise DataError(issues, title="invalid orders")
