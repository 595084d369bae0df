"""Load and validate a data directory (CONTRACT section 1) into `Inputs`.

Each table is ``NAME.csv`` or ``NAME.parquet``. Validation is vectorised and collects
every problem of every file before raising one `DataError`, so an operator fixes the
data in one pass. Lines are numbered as a spreadsheet shows them (header = line 1).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import mmap
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import pandas as pd

from . import ranges
from .config import Config
from .cores import threads
from .errors import DataError, Issue, wrong_argument
from .texthash import text_hashes, value_offsets
from .timeparse import YEARS, dates_alone, factorize_text, parse_timestamps_in_range

__all__ = ["Inputs", "as_inputs", "config_for", "fingerprint", "load"]

#: Rows listed per (file, column, rule) before the rest are counted in one line.
ROWS_PER_RULE = 10

Kind = Literal["id", "ref", "text", "float", "int", "timestamp", "choice"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # the column must be in the header
    blank_ok: bool = False  # a blank value is allowed (and means `default`)


TABLES: dict[str, tuple[Column, ...]] = {
    "zones": (
        Column("zone_id", "id"),
        Column("name", "text", blank_ok=True),
        Column("lat", "float"),
        Column("lon", "float"),
        Column("priority", "float", required=False, blank_ok=True),
        Column("max_couriers", "int", required=False, blank_ok=True),
    ),
    "restaurants": (
        Column("restaurant_id", "id"),
        Column("name", "text", blank_ok=True),
        Column("zone_id", "ref"),
        Column("status", "choice"),
        Column("expected_orders_per_hour", "float"),
    ),
    "couriers": (
        Column("courier_id", "id"),
        Column("zone_id", "ref"),
        Column("vehicle", "choice"),
        Column("available_from", "timestamp"),
        Column("available_until", "timestamp"),
        Column("status", "choice", required=False, blank_ok=True),
    ),
    "travel_times": (
        Column("from_zone", "ref"),
        Column("to_zone", "ref"),
        Column("minutes", "float"),
        Column("vehicle", "choice", required=False, blank_ok=True),
    ),
    "demand": (
        Column("restaurant_id", "ref"),
        Column("slot_start", "timestamp"),
        Column("expected_orders_per_hour", "float"),
    ),
}
OPTIONAL_TABLES = frozenset({"travel_times", "demand"})


@dataclass(frozen=True)
class Inputs:
    """Validated input tables of one city, ready to plan.

    - ``zones``: zone_id, name, lat, lon, priority (float, default 1.0),
      max_couriers (float, NaN = no cap).
    - ``restaurants``: restaurant_id, name, zone_id, status ('open'/'closed'),
      expected_orders_per_hour.
    - ``couriers``: courier_id, zone_id, vehicle, available_from, available_until
      (UTC timestamps), status ('available'/'busy'/'offline').
    - ``travel_times``: from_zone, to_zone, minutes, vehicle ('' = every vehicle), or None.
    - ``demand``: restaurant_id, slot_start (UTC), expected_orders_per_hour, and ``where``
      (the file, line or row, for errors found once the shift is known), or None.

    Ids and names are text; the restaurants' and couriers' ``status`` and the couriers'
    ``vehicle``, as `load` gives them, are categoricals of their valid values (the
    configured vehicles, sorted), lower case: they compare, count and print as text, and
    take a byte a row.

    Frozen: a what-if builds a new `Inputs` with `replace`, never edits one in place;
    `replace` validates the tables it is given as `load` validates files. The constructor
    itself checks nothing (tests build hand-made cities with it): start from `load`.

    ``sha256`` fingerprints the content of the validated tables (`fingerprint`): the
    same data has the same fingerprint however it was read (CSV or Parquet, blanks
    around values) or built (`replace`). ``files`` maps each file read to the sha256
    of its bytes, for provenance.
    """

    zones: pd.DataFrame
    restaurants: pd.DataFrame
    couriers: pd.DataFrame
    travel_times: pd.DataFrame | None = None
    demand: pd.DataFrame | None = None
    source: Path | None = None
    sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)
    #: The city timezone `load` read naive times in; `replace` reads them so too.
    timezone: str | None = field(default=None, repr=False, compare=False)
    #: The configuration `load` read the tables with (or `replace` was given): what
    #: `solve`, `forecast`, `replay` and the scenarios plan with when given no config.
    config: Config | None = field(default=None, repr=False, compare=False)
    #: Each table's own digest, taken with ``sha256`` (`load`, `replace`, a new
    #: `Inputs`): `replace` checks the tables it keeps against them. Empty where the
    #: command line loads (no one edits those tables; the digests would cost 0.4 s at
    #: 10M couriers): a check then recomputes the whole fingerprint.
    table_sha256: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            digest = _Digest(per_table=True)
            _feed(digest, {name: getattr(self, name, None) for name in TABLES})
            object.__setattr__(self, "sha256", digest.hexdigest())
            object.__setattr__(self, "table_sha256", digest.tables())

    def replace(
        self, *, config: Config | None = None, verify: bool = True, **tables: pd.DataFrame | None
    ) -> Inputs:
        """A copy with some tables replaced, validated by `load`'s rules; the fingerprint
        is recomputed from content.

        Each table given is checked as a Parquet file's would be (ids as text, numbers
        in range, each id once, vehicles and statuses in any case, naive times in the
        city's timezone, times as Timestamps, ISO 8601 text or a mix of both, text
        ``slot_start`` as a forecast gives it), and so is every
        table that refers to it (restaurants, couriers and travel times when the zones
        change; the demand table when the restaurants change). Raises `DataError`
        naming the table, its row (counted from 1) and column, and what would be valid.
        The timezone and vehicles are those `load` used, or ``config``'s if given.
        ``travel_times`` and ``demand`` may be None (no such table).

        ``verify``: the tables kept as they are must not have been edited in place since
        `load` or `replace` made them (`check_unedited`, ValueError): they are not
        checked again, and the copy's fingerprint would give invalid data a plan_id
        of its own. False skips that when the caller has just checked (a sweep, once
        for all its scenarios).
        """
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise TypeError(
                f"Inputs.replace takes the tables {', '.join(TABLES)} (and config), "
                f"not {', '.join(unknown)}"
            )
        for name in ("zones", "restaurants", "couriers"):
            if name in tables and tables[name] is None:
                raise TypeError(f"Inputs.replace: the {name} table cannot be None")
        check = rechecked(tables)
        given = {name: tables.get(name, getattr(self, name)) for name in TABLES}
        kept = {name: frame for name, frame in given.items() if name not in check}
        unchecked = [name for name, frame in kept.items() if frame is not None]
        if verify and not self.table_sha256:  # loaded without them: the whole fingerprint
            self.check_unedited(unchecked)
        if config is not None:
            tz, vehicles = config.city.timezone, sorted(config.vehicles)
            if (
                self.timezone
                and tz != self.timezone
                and any(
                    getattr(self, name) is not None
                    for name in ("couriers", "demand")
                    if name in kept
                )
            ):
                # the kept tables' naive times were read in the other timezone: labelled
                # with this one, they would pass `solve`'s check of the timezone
                raise ValueError(
                    f"Inputs.replace: config's [city] timezone is {tz!r}, but the tables "
                    f"kept were read in {self.timezone!r}: load the folder with this config "
                    "(rebalance.load(folder, config)), or replace those tables too"
                )
        else:
            tz = self.timezone or Config().city.timezone
            vehicle = self.couriers["vehicle"]
            vehicles = (
                [str(v) for v in vehicle.cat.categories]
                if isinstance(vehicle.dtype, pd.CategoricalDtype)
                else sorted(Config().vehicles)
            )
        issues: list[Issue] = []
        found: list[Issue] = []

        def read(name: str) -> _Raw | None:
            frame = given[name]
            return None if frame is None else _frame_raw(name, frame, issues)

        # fingerprinted as `load` does, with the hashes the checks made (the ids') and
        # the tables kept in their turn: 2.5 million restaurants' ids are hashed once
        digest = _Digest(per_table=True)
        checked = _validated(read, issues, found, tz, vehicles, kept=kept, digest=digest)
        if verify and self.table_sha256 and not (issues or found):
            # the kept tables were just hashed into the new digest: compared with their
            # digests as loaded, with no second pass over them (0.33 s at 1M couriers)
            now = digest.tables()
            edited = [n for n in unchecked if now.get(n) != self.table_sha256.get(n)]
            if edited:
                _refuse_edited(edited)
        if issues or found:
            raise DataError(issues + found, title="invalid input")
        return replace(
            self,
            zones=checked["zones"],
            restaurants=checked["restaurants"],
            couriers=checked["couriers"],
            travel_times=checked["travel_times"],
            demand=checked["demand"],
            sha256=digest.hexdigest(),
            # hand-made inputs given no config stay of no known timezone (their naive
            # times, if any, read in the default's): no config is refused as another's
            timezone=tz if config is not None or self.timezone else None,
            config=self.config if config is None else config,
            table_sha256=digest.tables(),
        )

    def check_unedited(self, tables: Iterable[str] | None = None) -> None:
        """Raise ValueError when a table was edited in place since the fingerprint was
        taken (by `load` or `replace`): the plan would carry the fingerprint, and so the
        ``plan_id``, of other content, and a publisher would take it for the plan
        already posted. 0.6 s at 1M couriers and 2.5M restaurants. ``tables``: only
        these (by name), where the inputs have each table's digest (`table_sha256`)."""
        names = list(TABLES) if tables is None else list(tables)
        if not names:
            return
        if self.table_sha256:
            digest = _Digest(per_table=True)
            _feed(digest, {name: getattr(self, name) for name in names})
            now = digest.tables()
            edited = [n for n in names if now.get(n) != self.table_sha256.get(n)]
            if edited:
                _refuse_edited(edited)
        elif fingerprint(self) != self.sha256:
            _refuse_edited([])

    def _with(self, restaurants: pd.DataFrame) -> Inputs:
        """`replace` without validation, for restaurants valid by construction (a
        status set to one of its values)."""
        return replace(self, restaurants=restaurants, sha256="")

    def summary(self) -> dict[str, Any]:
        """Counts an operator checks before planning (the tables' rows; ``demand``: the
        demand table's rows, None without one, as `rebalance validate` reports it)."""
        open_mask = self.restaurants["status"].eq("open")
        return {
            "zones": len(self.zones),
            "restaurants_open": int(open_mask.sum()),
            "restaurants_closed": int((~open_mask).sum()),
            "couriers": len(self.couriers),
            "couriers_by_status": count_values(self.couriers["status"]),
            "travel_times": None if self.travel_times is None else len(self.travel_times),
            "demand": None if self.demand is None else len(self.demand),
        }

    def __repr__(self) -> str:
        """What the inputs are, in a line: a notebook cell holding ``inputs`` printed every
        table whole as the dataclass's repr (5.6 KB for 40 zones; pandas' cut-down frames
        at a million couriers)."""

        def rows(n: int, what: str) -> str:
            return f"{n:,} {what}{'' if n == 1 else 's'}"

        parts = [
            rows(len(self.zones), "zone"),
            rows(len(self.restaurants), "restaurant"),
            rows(len(self.couriers), "courier"),
        ]
        if self.travel_times is not None:
            parts.append(rows(len(self.travel_times), "travel time"))
        if self.demand is not None:
            parts.append(rows(len(self.demand), "demand row"))
        where = f" from {str(self.source)!r}" if self.source is not None else ""
        tz = f", times in {self.timezone}" if self.timezone else ""
        return f"<Inputs{where}: {', '.join(parts)}{tz}; sha256 {self.sha256[:12]}>"


def index_dtype(n: int) -> np.dtype:
    """The narrowest signed integer type holding -1 .. n (positions in n things, -1 for
    none): the codes of a categorical, the model's positions of zones and slots."""
    return np.promote_types(np.min_scalar_type(-(n + 1)), np.int8)


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-D integer array, by a sort. From numpy 2.3 on, ``np.unique``
    without ``return_*`` finds the values with a hash table and then sorts them: on this
    project's 2-core VM (numpy 2.4.6, int64) 10-40x slower than sorting them all (10,000
    values 12 ms against 0.2 ms; 500,000 of 7.8 million 0.27 s against 0.007 s). The
    flow's Bellman-Ford (`rebalance.flowgen`) takes it ~350 times per plan at 10,000
    zones: 0.48 -> 0.29 s."""
    values = np.sort(values)
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def count_values(values: pd.Series) -> dict[str, int]:
    """Rows per value present, by value (a categorical's unused categories left out)."""
    counts = values.value_counts().sort_index()
    return {str(k): int(n) for k, n in counts[counts > 0].items()}


def _refuse_edited(edited: list[str]) -> NoReturn:
    """The ValueError for tables edited in place, by name ([]: not known which)."""
    what = (
        f"the {' and '.join(edited)} table{'s were' if len(edited) > 1 else ' was'}"
        if edited
        else "the inputs' tables were"
    )
    raise ValueError(
        f"{what} edited in place after the inputs were loaded or built (their content no "
        "longer matches inputs.sha256); make the change with "
        "inputs.replace(restaurants=...), which checks it and gives the plan a plan_id of "
        "its own"
    )


def rechecked(names: Iterable[str]) -> set[str]:
    """The tables `Inputs.replace` checks when given the tables ``names``: those, and
    the tables that refer to them (the rest it keeps as they are)."""
    check = set(names)
    if "zones" in check:
        check |= {"restaurants", "couriers", "travel_times"}
    if "restaurants" in check:
        check.add("demand")
    return check


def fingerprint(inputs: Inputs) -> str:
    """sha256 of the validated tables in a canonical form: the one rule for
    ``Inputs.sha256`` (and so for a plan's ``inputs_sha256`` and ``plan_id``).

    Each table's contract columns in a fixed order, rows in their order (it can
    decide ties between equal plans); numbers as float64, timestamps as UTC
    nanoseconds, everything else as text with blanks as ``""``; so the dtype a table
    happens to have (int or float, object or string) does not change the fingerprint.
    """
    return _fingerprint({name: getattr(inputs, name, None) for name in TABLES})


def _fingerprint(frames: dict[str, pd.DataFrame | None]) -> str:
    """`fingerprint` of the tables in ``frames``."""
    digest = _Digest()
    _feed(digest, frames)
    return digest.hexdigest()


def _feed(digest: _Digest, frames: dict[str, pd.DataFrame | None]) -> None:
    """Add the tables of ``frames`` to ``digest``, in `TABLES` order."""
    for name in TABLES:
        if (frame := frames.get(name)) is not None:
            digest.add(name, frame)


#: A column's row hashes, or its codes and distinct values (hashed per row when needed:
#: millions of codes take half the memory of their hashes, and only one column's hashes
#: are held at a time).
_Hashes = np.ndarray | tuple[np.ndarray, pd.Series]


class _Digest:
    """`fingerprint`, fed table by table in `TABLES` order: `load` adds each table as
    soon as it is validated, with the row hashes its checks made (``known``), and
    the table's text read from the file can then be dropped."""

    def __init__(self, *, per_table: bool = False) -> None:
        self._sha = hashlib.sha256()
        self._per_table = per_table
        self._tables: dict[str, Any] = {}

    def add(self, name: str, frame: pd.DataFrame, known: dict[str, _Hashes] | None = None) -> None:
        known = known or {}
        if self._per_table:
            self._tables[name] = hashlib.sha256()
        self._update(f"{name}:{len(frame)}\n".encode(), name)
        for column in TABLES[name]:
            if column.name not in frame.columns:
                continue
            self._update(f"{column.name}\n".encode(), name)
            hashed = known.get(column.name)
            if isinstance(hashed, tuple):  # codes and distinct values: hashed per row now
                codes, distinct = hashed
                self._feed(_by_code(_hash_text(distinct), codes), len(codes), name)
                continue
            rows: np.ndarray | _Pieces | None = hashed
            if rows is None:
                unique = column.name == _KEYS.get(name)
                rows = _canonical_rows(frame[column.name], unique=unique)
            if isinstance(rows, np.ndarray):
                self._update(np.ascontiguousarray(rows).data, name)  # the bytes, not a copy
            else:
                self._feed(*rows, name)

    def _update(self, data: Any, name: str) -> None:
        self._sha.update(data)
        if self._per_table:
            self._tables[name].update(data)

    def _feed(self, piece: Callable[[int, int, np.ndarray], object], n: int, name: str) -> None:
        """Feed the sha the ``n`` row hashes of `_row_pieces`: the same bytes as all the
        rows' hashes at once."""
        for part in _row_pieces(piece, n):
            self._update(part.data, name)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def tables(self) -> dict[str, str]:
        """Each table's own digest (``per_table``), by name."""
        return {name: sha.hexdigest() for name, sha in self._tables.items()}


def _hash_text(text: pd.Series) -> np.ndarray:
    """pandas' hash of each value as a Python string (`pandas.util.hash_array`),
    computed from the Arrow buffers (`rebalance.texthash`): the same hashes without
    making millions of string objects."""
    return text_hashes(_arrow(text, combine=False))


#: The id column of each table, unique once validated.
_KEYS = {"zones": "zone_id", "restaurants": "restaurant_id", "couriers": "courier_id"}


#: Row hashes `_Digest` makes and feeds the sha at a time.
_DIGEST_ROWS = 1 << 20

#: How a column's row hashes are made a piece at a time: ``piece(lo, hi, out)`` writes
#: rows lo:hi's hashes into ``out``; and the number of rows.
_Pieces = tuple[Callable[[int, int, np.ndarray], object], int]


def _row_pieces(piece: Callable[[int, int, np.ndarray], object], n: int) -> Iterator[np.ndarray]:
    """The ``n`` row hashes made by ``piece(lo, hi, out)``, `_DIGEST_ROWS` at a time, in
    order, each in the same reused buffer (valid until the next): no 80 MB array per
    column at 10 million couriers (memory new to the process, which this project's VM
    makes slow: benchmarks/README.md)."""
    buffer = np.empty(min(n, _DIGEST_ROWS), dtype=np.uint64)
    for lo in range(0, n, _DIGEST_ROWS):
        hi = min(lo + _DIGEST_ROWS, n)
        piece(lo, hi, buffer[: hi - lo])
        yield buffer[: hi - lo]


def _canonical_rows(values: pd.Series, *, unique: bool = False) -> np.ndarray | _Pieces:
    """Row hashes of one column in its canonical form (see `fingerprint`): made now for
    a column of distinct text, else as `_Pieces` (made as the digest reads them).

    Text is hashed by pandas' hash of Python strings (the rule since plan ids were
    defined); a column of distinct values row by row, any other through its distinct
    values (the same hashes: pandas' own default hashes text through its categories),
    which is 10x faster on a column of 2.5 million names repeating. Numbers (floats,
    timestamps as int64 nanoseconds) by ``pandas.util.hash_array``, a piece at a time:
    the hash is per element, so the same values as pandas' hash of the whole column
    (``hash_pandas_object(Series(values), index=False)``), without its temporaries for
    every row at once (230 MB at 10M couriers)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        if values.dtype != "datetime64[ns, UTC]":
            values = pd.to_datetime(values, utc=True).dt.as_unit("ns")
        numbers = np.asarray(values.array.asi8)  # NaT as the minimum int64
    elif (
        isinstance(values.dtype, pd.CategoricalDtype)
        and values.cat.categories.inferred_type == "string"
        and not unique
    ):
        # A category column of text (zone_id, status, vehicle as `load` keeps them): its
        # categories hashed once, then looked up by code, a missing value (-1) as ""
        # (the last entry). The same row hashes as the text of every row, without making
        # that text: 2.5 million restaurants' zones and statuses and 1M couriers' took
        # 1.5 s of the 2.4 s `Inputs.replace` spent on the fingerprint. (Categories of
        # numbers are left to the text path: pandas writes 1 as "1.0" when one is
        # missing.)
        categories = pd.Series(values.cat.categories).astype("string").fillna("")
        table = _hash_text(pd.concat([categories, pd.Series([""], dtype="string")]))
        codes = values.cat.codes.to_numpy()
        return _by_code(table, np.where(codes < 0, len(categories), codes)), len(codes)
    elif pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        # hash each distinct text once and take the hashes back: the same row hashes as
        # hashing every row (pandas hashes an object column through its categories too)
        text = values.astype("string").fillna("")
        if unique:
            return _hash_text(text)
        codes, uniques = factorize_text(text)
        return _by_code(_hash_text(uniques), codes), len(codes)
    else:
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)

    def hashed(lo: int, hi: int, out: np.ndarray) -> None:
        out[:] = pd.util.hash_array(numbers[lo:hi])

    return hashed, len(numbers)


def _by_code(table: np.ndarray, codes: np.ndarray) -> Callable[[int, int, np.ndarray], object]:
    """`_Pieces`' maker of ``table[codes]``: each row's hash, looked up by its code."""
    # "clip": codes are valid positions, and numpy then writes into ``out`` unbuffered
    return lambda lo, hi, out: np.take(table, codes[lo:hi], out=out, mode="clip")


def _arrow(values: pd.Series, *, combine: bool = True) -> Any:
    """A text column as one pyarrow array, or as read (in chunks) unless ``combine``: no
    copy when it is Arrow-backed already and not combined."""
    import pyarrow as pa

    array = values.array
    if hasattr(array, "__arrow_array__"):
        out = array.__arrow_array__()
        return out.combine_chunks() if combine and isinstance(out, pa.ChunkedArray) else out
    return pa.array(values.to_numpy(dtype=object), type=pa.string())


def isin_text(values: pd.Series, known: pd.Series | Iterable[str]) -> np.ndarray:
    """``values.isin(known)`` for text, by Arrow's hash kernel (50x pandas' on 400,000 rows)."""
    import pyarrow.compute as pc

    if not isinstance(known, pd.Series):
        known = pd.Series(list(known), dtype="string")
    found = pc.is_in(_arrow(values.astype(str), combine=False), value_set=_arrow(known.astype(str)))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _fast_numbers(text: pd.Series) -> np.ndarray | None:
    """All values as float64 when Arrow parses every one to a finite number, else None
    (then pandas' slower path finds and names the bad ones)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        parsed = pc.cast(_arrow(text, combine=False), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=float)
    return values if np.isfinite(values).all() else None


# --------------------------------------------------------------------------- reading


@dataclass
class _Raw:
    """One table as read: text columns, before validation."""

    name: str
    path: Path
    frame: pd.DataFrame
    parquet: bool
    sha256: str
    #: The file line of each row (CSV): a range when the rows are the file's lines after
    #: the header, as in nearly every file (no array of millions of line numbers to hold);
    #: None for Parquet, whose rows are numbered from 1.
    lines: np.ndarray | range | None = None
    #: What errors name instead of the file's name (a DataFrame given to the library).
    title: str | None = None
    #: ``lines`` are row numbers, not file lines (a table kept from a Parquet file).
    rows: bool = False

    @property
    def label(self) -> str:
        return self.title or self.path.name

    def where(self, pos: int) -> tuple[int | None, int | None]:
        """(line, row) of the row at position ``pos``: the file line (CSV) or row (Parquet)."""
        if self.lines is None:
            return None, pos + 1
        if self.rows:
            return None, int(self.lines[pos])
        return int(self.lines[pos]), None


def _find(directory: Path, name: str) -> Path | None:
    found = [
        p
        for p in (directory / f"{name}.csv", directory / f"{name}.parquet")
        if os.path.lexists(p)  # a folder or a broken link is reported when read
    ]
    if len(found) > 1:
        raise DataError(
            Issue(
                f"both {name}.csv and {name}.parquet exist; keep one",
                file=str(directory),
            ),
            title="invalid input",
        )
    return found[0] if found else None


def _utf8_error(data: bytes | memoryview, chunk: int = 1 << 24) -> int | None:
    """Offset of the first byte that is not UTF-8, or None. Decoded 16 MB at a time, so a
    2 GB file is checked without a 2 GB text copy of it."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        # bytes of a character begun in the previous chunk, held by the decoder
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(view[start : start + chunk], final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            return start - pending + exc.start
    return None


def _read_bytes(path: Path, issues: list[Issue]) -> bytes | None:
    """The file's bytes, or None with an issue when it cannot be read (a folder, no permission)."""
    try:
        return path.read_bytes()
    except IsADirectoryError:
        issues.append(
            Issue("is a folder, not a file", file=str(path), valid=f"a {path.suffix[1:]} file")
        )
    except OSError as exc:
        issues.append(
            Issue(
                f"cannot read file: {exc.strerror or exc}",
                file=str(path),
                valid="a file this user can read",
            )
        )
    return None


#: Field separators a spreadsheet may have used instead of the comma, by how they show.
_OTHER_SEPARATORS = {";": "';'", "\t": "a tab", "|": "'|'"}


def _read_csv(
    path: Path, spec: tuple[Column, ...], issues: list[Issue]
) -> tuple[pd.DataFrame, str, np.ndarray | range, int] | None:
    """The table as text columns, its sha256, the file line of each row and of the header.

    A plain file (see `_read_clean_csv`) is read without holding its bytes; any other
    is read into memory and checked here.

    Structural problems (encoding, separator, field counts, an unterminated quote) are
    reported once each with their line, and the table is not read further. Line
    endings may be LF, CRLF or CR alone (old Mac exports); an Excel ``sep=,`` first
    line is skipped; blank header names (a spreadsheet's trailing empty columns) are
    extra columns, and rows with every field blank are not data.
    """
    if (clean := _read_clean_csv(path, spec)) is not None:
        return clean
    data = _read_bytes(path, issues)
    if data is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    # Excel's UTF-8 BOM is accepted and is not part of the header. The file is read from
    # `start` on rather than sliced: a slice of the bytes would be a second copy of them.
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    bad_byte = None if _valid_utf8(data, start) else _utf8_error(memoryview(data)[start:])
    if bad_byte is not None:
        line = data.count(b"\n", start, start + bad_byte) + 1
        issues.append(
            Issue(
                f"not UTF-8 text (byte 0x{data[start + bad_byte]:02x} cannot be decoded)",
                file=path.name,
                line=line,
                valid="a UTF-8 encoded CSV; in Excel use 'CSV UTF-8' when saving",
            )
        )
        return None
    nul = data.find(b"\x00", start)
    if nul >= 0:
        # UTF-16 without its BOM (some exports): valid UTF-8 byte by byte, every other
        # byte NUL; it was refused for its field count, its encoding never named
        issues.append(
            Issue(
                "holds NUL bytes: not UTF-8 text (UTF-16, as some exports write it?)",
                file=path.name,
                line=data.count(b"\n", start, nul) + 1,
                valid="a UTF-8 encoded CSV; in Excel use 'CSV UTF-8' when saving",
            )
        )
        return None
    if b"\r" in data:
        # One line ending from here on, so that line numbers are what an editor shows.
        data, start = _line_feeds(data[start:]), 0
    if _ALL_BLANK.match(data, start):
        issues.append(Issue("file is empty", file=path.name, valid="a header row then data rows"))
        return None
    if not data.endswith(b"\n"):  # a last line without its newline (a header-only file too)
        data += b"\n"
    header_line = 1
    # (not data.partition: its tail would be a second copy of the whole file)
    first = data[start : data.find(b"\n", start)]
    sep = re.fullmatch(rb"\s*sep=(.?)\s*", first, flags=re.IGNORECASE)
    if sep:
        # Excel's hint line; the header follows it.
        if sep.group(1) not in {b",", b""}:
            issues.append(
                Issue(
                    f"the first line {first.decode()!r} says fields are separated by "
                    f"{sep.group(1).decode()!r}",
                    file=path.name,
                    line=1,
                    valid="comma-separated values (in Excel: save as 'CSV UTF-8 (Comma delimited)')",
                )
            )
            return None
        start, header_line = start + len(first) + 1, 2
        first = data[start : data.find(b"\n", start)]
    header = first.decode("utf-8")
    names = [h.strip() for h in next(csv.reader([header]), [])]
    if not any(names):
        issues.append(
            Issue("the header row is empty", file=path.name, line=header_line, valid=_header(spec))
        )
        return None
    if _split_header(data, start + len(first) + 1, header, names, spec):
        issues.append(
            Issue(
                f"a line break inside the header splits it over lines {header_line} "
                f"and {header_line + 1}",
                file=path.name,
                line=header_line,
                valid=f"{_header(spec)}, on one line",
            )
        )
        return None
    if (problem := _wrong_separator(header, names, spec)) is not None:
        issues.append(
            Issue(
                f"fields are separated by {problem}, not by commas "
                f"(header found: {_clip(header)!r})",
                file=path.name,
                line=header_line,
                valid="comma-separated values, "
                + _header(spec)
                + " (in Excel: save as 'CSV UTF-8 (Comma delimited)'; decimals with a point)",
            )
        )
        return None
    named = [n for n in names if n]
    if len(set(named)) != len(named):
        dupes = sorted({n for n in named if named.count(n) > 1})
        issues.append(
            Issue(
                f"duplicate column names {dupes}",
                file=path.name,
                line=header_line,
                valid="unique names",
            )
        )
        return None
    # Blank names are a spreadsheet's empty trailing columns: extra columns, ignored.
    names = [n or f"(blank column {i + 1})" for i, n in enumerate(names)]
    import pyarrow as pa

    with _lent_to_arrow(data):  # no copy of the bytes
        try:
            table = _arrow_csv(pa.BufferReader(pa.py_buffer(data).slice(start)), names)
        except pa.ArrowInvalid as exc:  # a row with the wrong number of fields, say
            table = None
            failure = str(exc).split("\n")[0]
    data_lines = data.count(b"\n", start) - 1  # the data ends with a line break
    # (an odd count of quotes: the last value's quote never closes, and Arrow took the
    # file's last line break into it, on a row of the right length)
    if table is None or table.num_rows != data_lines or data.count(b'"', start) % 2:
        # Blank lines, multi-line values or broken rows: find each row's line the slow way.
        text = data[start:].decode("utf-8")
        structure = _scan_lines(text, len(names), header_line)
        if table is None and structure.blank and not structure.problems:
            # Arrow skips empty lines but takes a line of blanks for a row of one field:
            # read once more with those lines emptied (a slow path: such files are rare)
            parts = text.split("\n")
            for line in structure.blank:
                parts[line - 1] = ""
            cleaned = "\n".join(parts).encode("utf-8")
            del parts
            with _lent_to_arrow(cleaned):
                try:
                    table = _arrow_csv(pa.BufferReader(pa.py_buffer(cleaned)), names)
                except pa.ArrowInvalid as exc:
                    table = None
                    failure = str(exc).split("\n")[0]
            del cleaned
        del text
        if structure.problems or table is None:
            for found in structure.problems[:ROWS_PER_RULE]:
                issues.append(replace(found, file=path.name))
            if len(structure.problems) > ROWS_PER_RULE:
                issues.append(
                    Issue(
                        f"... and {len(structure.problems) - ROWS_PER_RULE} more lines with "
                        "the wrong number of fields",
                        file=path.name,
                        count=len(structure.problems) - ROWS_PER_RULE,
                    )
                )
            if not structure.problems:
                issues.append(
                    Issue(
                        f"cannot parse CSV: {failure}",
                        file=path.name,
                        valid="one header row and the same number of fields on every line",
                    )
                )
            return None
        lines = structure.lines
    else:
        lines = np.arange(table.num_rows, dtype=np.int64) + header_line + 1
    del data  # the file's bytes are not needed past here (a 2 GB file held twice)
    if len(lines) != table.num_rows:  # both parsers must agree on what a row is
        issues.append(
            Issue(
                "cannot tell where rows begin and end",
                file=path.name,
                valid="one header row and the same number of fields on every line",
            )
        )
        return None
    frame, kept = _frame(table, names, lines)
    return frame, digest, kept, header_line


#: Bytes read at a time while hashing a file that Arrow then reads itself.
_BLOCK = 1 << 24
#: Bytes per block of Arrow's CSV reader (its default): a larger file is read, and kept,
#: in several chunks per column, which every later step must accept (tests lower it).
_READ_BLOCK = 1 << 20


def _runs_off_the_end(tail: str) -> bool:
    """Whether the file's last row opens a quoted value it never closes (and not just
    holds a lone quote inside a value, as in ``12" pizza``)."""
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _read_clean_csv(
    path: Path, spec: tuple[Column, ...]
) -> tuple[pd.DataFrame, str, np.ndarray | range, int] | None:
    """`_read_csv` of a plain file, the usual export, or None for any other: LF line
    endings, no BOM and no ``sep=`` line, a usable header, valid UTF-8 (Arrow checks
    every value), every row with the header's field count and on one line each.

    Arrow reads the file from disk while a thread hashes it 16 MB at a time (`_Scan`;
    both release the GIL), so its bytes are never all in memory (at 10M couriers the
    700 MB of bytes were held next to the table Arrow built from them). None means
    "read it the careful way", which finds and names whatever made this path give up.
    """
    import threading

    import pyarrow as pa

    try:
        with path.open("rb") as file:
            before = os.fstat(file.fileno())
            head = file.read(1 << 16)
    except OSError:
        return None
    end = head.find(b"\n")
    if end < 0 or head.startswith(b"\xef\xbb\xbf"):
        return None
    first = head[:end]
    if b"\r" in first:
        # CRLF, or CR alone up to a later LF (an old Mac export a tool ended with a
        # line feed): never plain (`_Scan`), and Python's csv module refuses a CR
        # inside the line it is given. The careful way makes every line end an LF.
        return None
    if re.fullmatch(rb"\s*sep=(.?)\s*", first, flags=re.IGNORECASE):
        return None
    try:
        header = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    names = [h.strip() for h in next(csv.reader([header]), [])]
    named = [n for n in names if n]
    if not named or _wrong_separator(header, names, spec) or len(set(named)) != len(named):
        return None
    names = [n or f"(blank column {i + 1})" for i, n in enumerate(names)]
    # Without a quote in the file no value can hold a line break, and Arrow may cut
    # the file into blocks at any line break (at 10M couriers 0.8 s instead of 1.9 s).
    # With quotes it tracks them, so that a value over several lines is one row and
    # the row count below sends the file the careful way.
    multiline = _has_byte(path, b'"')
    scan = _Scan(path, quotes=multiline)
    thread = threading.Thread(target=scan.run, name=f"hash {path.name}", daemon=True)
    thread.start()
    try:
        with pa.OSFile(str(path)) as source:
            table = _arrow_csv(source, names, multiline=multiline)
        after = os.stat(path)
    except (pa.ArrowInvalid, OSError):
        return None
    finally:
        thread.join()
    if not scan.plain:
        return None
    if table.num_rows != scan.newlines + (scan.last != b"\n") - 1:
        return None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return None  # written to while read: read it again, once
    frame, lines = _frame(table, names, range(2, table.num_rows + 2))
    return frame, scan.digest.hexdigest(), lines, 1


class _Scan:
    """One pass over a file's bytes, 16 MB at a time: its sha256, its line breaks and
    whether it is plain (readable, no CR, and, when ``quotes``, its double quotes
    paired); run in a thread beside Arrow's read."""

    def __init__(self, path: Path, *, quotes: bool = False) -> None:
        self.path = path
        self.digest = hashlib.sha256()
        self.newlines = 0
        self.last = b""
        self.plain = False
        self._quotes = 0 if quotes else None

    def run(self) -> None:
        try:
            with self.path.open("rb") as file:
                while block := file.read(_BLOCK):
                    if b"\r" in block:
                        return
                    self.digest.update(block)
                    self.newlines += block.count(b"\n")
                    if self._quotes is not None:
                        self._quotes += block.count(b'"')
                    self.last = block[-1:]
        except OSError:
            return
        # An odd count: a quote opened in the last value runs to the end of the file,
        # which Arrow reads as a value (with the line break in it) on a row of the
        # right length. The careful way names the line.
        self.plain = not (self._quotes or 0) % 2


#: Every byte but '"' and CR (`_line_feeds` deletes them to see where the CRs are).
_NOT_QUOTE_OR_CR = bytes(b for b in range(256) if b not in (0x22, 0x0D))


def _line_feeds(data: bytes) -> bytes:
    """``data`` with every line ending (CRLF, or CR alone) as LF, outside quoted values:
    a CR inside one is part of the value, kept as written (a zone id "Z\\rOVR" read as
    "Z\\nOVR" was another id). Quotes split the bytes into runs, outside at even places
    (a doubled quote inside a value opens and closes an empty run). With an odd count
    of quotes every CR is made LF, as before: the careful read names that line.

    Whether any CR is inside quotes is found first, from the positions of both (an
    Excel export quoting every field, CR LF, has none): splitting 12 million quotes
    took 5.8 s and 1.6 GB where the replace takes 0.5 s; the look takes ~0.25 s more."""

    def lf(run: bytes) -> bytes:
        return run.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    whole = lf(data)
    if b'"' not in data or data.count(b'"') % 2:
        return whole
    # the quotes and CRs alone, in order: a CR after an odd count of quotes is inside one
    marks = np.frombuffer(data.translate(None, _NOT_QUOTE_OR_CR), dtype=np.uint8)
    quote = marks == 0x22
    if not (np.cumsum(quote, dtype=np.uint8)[~quote] & 1).any():  # (parity survives 256)
        return whole
    del whole
    runs = data.split(b'"')
    runs[::2] = [lf(run) for run in runs[::2]]
    return b'"'.join(runs)


def _has_byte(path: Path, byte: bytes) -> bool:
    """Whether the file holds ``byte`` (by memchr on a memory map: 16 ms per 100 MB
    cached); True when that cannot be told."""
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return mm.find(byte) >= 0
    except (OSError, ValueError):  # empty (cannot be mapped), or not a mappable file
        return True


def _arrow_csv(source: Any, names: list[str], *, multiline: bool = True) -> Any:
    """The CSV's rows (header skipped) as a pyarrow Table of text columns; a row with the
    wrong number of fields raises ``ArrowInvalid`` (the caller then reads the file the
    careful way, which names every such row). ``multiline``: a quoted value may hold a
    line break (False only for a file known to have no quote).

    No Python object goes into Arrow's reader but ``source``: Arrow drops the reader on
    one of its own threads, sometimes after ``read_csv`` has returned, and dropping a
    Python object there takes the GIL. When the process was exiting at that moment
    (an error found right after the read: exit 3), Python stopped that thread inside
    Arrow's C++ and the process aborted ("terminate called without an active
    exception", exit -6; 8 of 150 `validate` runs on a 2-core machine under load). A
    handler of rows with the wrong field count was such an object."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_READ_BLOCK),
        parse_options=pacsv.ParseOptions(newlines_in_values=multiline),
        convert_options=pacsv.ConvertOptions(
            # large_string: what pandas keeps text in (read as string, every column
            # would be cast, a copy of its offsets)
            column_types={n: pa.large_string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


#: How long `_lent_to_arrow` waits at most for Arrow's threads to let go of a file's
#: bytes (they take microseconds; on a machine under load, milliseconds).
_LET_GO_SECONDS = 1.0


class _lent_to_arrow:
    """Lend ``data`` (a file's bytes) to an Arrow reader for the ``with`` block, and on
    leaving it wait until Arrow has let go of them: until they have as many
    references as on entering.

    An Arrow reader can outlive the call that read with it, on one of Arrow's threads,
    which then releases the bytes, taking the GIL. Were the process exiting by then (an
    error found right after the read: exit 3), Python would stop that thread inside
    Arrow's C++ and the process abort (see `_arrow_csv`). Waiting here (the sleep lets go
    of the GIL) has it happen while the interpreter runs. Both counts are taken in this
    object's methods, alike; the block must not keep a new reference to ``data``, and
    must catch Arrow's errors itself: a traceback leaving it holds the reader's frames,
    and with them the bytes, until it is handled (5 s of waiting on every refused
    file, until a test's durations showed it)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __enter__(self) -> None:
        self.held = sys.getrefcount(self.data)

    def __exit__(self, *exc: object) -> None:
        deadline = time.monotonic() + _LET_GO_SECONDS
        while sys.getrefcount(self.data) > self.held and time.monotonic() < deadline:
            time.sleep(0.0002)


def _frame(
    table: Any, names: list[str], lines: np.ndarray | range
) -> tuple[pd.DataFrame, np.ndarray | range]:
    """The text columns of a table Arrow read, trimmed, without rows of empty cells;
    and the file line of each row kept."""
    import pyarrow as pa

    # Arrow-backed strings all the way: converting 100,000-row columns to Python objects
    # and back costed more than reading the file.
    n_rows = table.num_rows
    columns = {n: _trimmed(table.column(n)) for n in names}
    del table
    if n_rows and len(names):
        # rows of empty cells, typically at the end of an export (the first column
        # usually settles it: an id is rarely empty)
        blank = np.ones(n_rows, dtype=bool)
        for column in columns.values():
            blank &= _empty(column)
            if not blank.any():
                break
        if blank.any():
            keep = np.invert(blank)
            mask = pa.array(keep)
            columns = {n: c.filter(mask) for n, c in columns.items()}
            lines = np.asarray(lines)[keep]
    frame = pd.DataFrame({n: pd.Series(pd.arrays.ArrowStringArray(c)) for n, c in columns.items()})
    return frame, lines


#: Every character Arrow's trim (`pyarrow.compute.utf8_trim_whitespace`) removes: Unicode
#: White_Space and U+001C-U+001F (tests check this against all of Unicode).
_TRIMMED_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _byte_table(index: int) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[[ch.encode()[index] for ch in _TRIMMED_CHARS]] = True
    return table


#: Which first (last) bytes of a UTF-8 value may begin (end) a character the trim removes.
_FIRST_BYTES, _LAST_BYTES = _byte_table(0), _byte_table(-1)

#: A file of nothing but ASCII blanks (what bytes.strip removes).
_ALL_BLANK = re.compile(rb"[ \t\n\r\x0b\x0c]*\Z")


def _valid_utf8(data: bytes, start: int = 0) -> bool:
    """Whether ``data[start:]`` is UTF-8, by Arrow's validation (no copy; >10x Python's
    decoder on text with accents). A False is then located by `_utf8_error`."""
    import pyarrow as pa

    text = pa.py_buffer(data).slice(start)
    offsets = pa.py_buffer(np.array([0, text.size], dtype=np.int64))
    try:
        pa.Array.from_buffers(pa.large_utf8(), 1, [None, offsets, text]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _chunks(column: Any) -> list[Any]:
    """The arrays of a chunked Arrow array, or the array itself."""
    import pyarrow as pa

    return column.chunks if isinstance(column, pa.ChunkedArray) else [column]


def _empty(column: Any) -> np.ndarray:
    """Which values of an Arrow string column (chunked or not) are empty."""
    parts = [np.zeros(0, dtype=bool)]
    for chunk in _chunks(column):
        offsets = value_offsets(chunk)
        parts.append(offsets[1:] == offsets[:-1])
    return np.concatenate(parts)


def _maybe_padded(column: Any) -> np.ndarray:
    """Which values of an Arrow string column may start or end with a character the trim
    removes, from their first and last bytes alone (no copy; ~15x a regex): every padded
    value is flagged, and a few others (a name ending in an accented letter)."""
    parts = [np.zeros(0, dtype=bool)]
    for chunk in _chunks(column):
        data = chunk.buffers()[2]
        text = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        if not text.size:  # no value has a byte
            parts.append(np.zeros(len(chunk), dtype=bool))
            continue
        offsets = value_offsets(chunk)
        # an empty value reads a neighbour's byte (clipped at the ends): a harmless
        # extra candidate, cheaper than leaving empty values out
        first = text.take(offsets[:-1], mode="clip")
        last = text.take(offsets[1:] - 1, mode="clip")
        parts.append(_FIRST_BYTES.take(first) | _LAST_BYTES.take(last))
    return np.concatenate(parts)


def _trimmed(column: Any) -> Any:
    """A text column without blanks around values; the column itself (no copy, still in
    the chunks Arrow read) when no value has any, as in nearly every export."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in _chunks(column):
        maybe = np.flatnonzero(_maybe_padded(chunk))
        if not maybe.size:
            continue
        # chunk by chunk: a take across chunks would first join them (a copy)
        some = chunk.take(pa.array(maybe))
        if not pc.all(pc.equal(pc.utf8_trim_whitespace(some), some)).as_py():
            return pc.utf8_trim_whitespace(column)
    return column


def _header(spec: tuple[Column, ...]) -> str:
    return "header: " + ", ".join(c.name for c in spec if c.required)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _split_header(
    data: bytes, after: int, header: str, names: list[str], spec: tuple[Column, ...]
) -> bool:
    """Whether a line break inside the header cut it in two (a stray CR in a header cell,
    made a line end like every CR): required columns are missing from the header line
    and found once the next line (starting at ``after``) is joined on. Without this, each
    data row was reported for having more fields than the header's first half."""
    required = {c.name for c in spec if c.required}
    if required <= set(names):
        return False
    end = data.find(b"\n", after)
    second = data[after : end if end >= 0 else len(data)].decode("utf-8")
    joined = {h.strip() for h in next(csv.reader([header + second]), [])}
    return required <= joined


def _wrong_separator(header: str, names: list[str], spec: tuple[Column, ...]) -> str | None:
    """How the header is separated when it is not by commas (a ';' export), else None."""
    required = {c.name for c in spec if c.required}
    if required <= set(names):
        return None
    found = len(required & set(names))
    for sep, shown in _OTHER_SEPARATORS.items():
        if sep not in header:
            continue
        fields = {h.strip() for h in next(csv.reader([header], delimiter=sep), [])}
        if len(required & fields) > found:
            return shown
    return None


@dataclass
class _Structure:
    """Where each data row starts, and the rows whose shape is wrong."""

    lines: np.ndarray
    problems: list[Issue]
    #: Lines (from 1, in the text scanned) holding blanks alone: empty rows, as the
    #: contract trims values, which Arrow reads as rows of one field.
    blank: list[int] = field(default_factory=list)


def _scan_lines(text: str, n_fields: int, header_line: int) -> _Structure:
    """Walk the CSV with Python's reader: the line of each row, and every broken row.

    Only run when the fast reader found something odd, so valid files pay nothing.
    Empty lines are skipped as the fast reader skips them.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: list[int] = []
    problems: list[Issue] = []
    blank: list[int] = []
    offset = header_line - 1
    last: tuple[int, list[str]] | None = None
    split: tuple[int, int] | None = None  # a short row: (its line, its field count)
    try:
        next(reader)  # header
        while True:
            start = reader.line_num + 1
            row = next(reader)
            if not row:
                continue
            if len(row) == 1 < n_fields and not row[0].strip():
                blank.append(start)  # a line of blanks alone: an empty row
                continue
            last = (start, row)
            if len(row) != n_fields:
                before, split = split, (start, len(row)) if len(row) < n_fields else None
                # one row cut in two by a line break (a bare CR or LF) in a value
                if (
                    before is not None
                    and before[0] == start - 1
                    and before[1] + len(row) - 1 == n_fields
                ):
                    problems[-1] = Issue(
                        f"a line break inside a value splits this row over lines "
                        f"{before[0] + offset} and {start + offset}",
                        line=before[0] + offset,
                        valid="values that contain line breaks in double quotes",
                    )
                    split = None
                    continue
                problems.append(
                    Issue(
                        f"{len(row)} fields where the header has {n_fields}",
                        line=start + offset,
                        valid=f"{n_fields} fields on every line; put values that contain "
                        'commas in double quotes ("Paris, 10e")',
                    )
                )
            else:
                split = None
                starts.append(start + offset)
    except StopIteration:
        pass
    except csv.Error as exc:
        problems.append(Issue(f"cannot parse CSV: {exc}", line=reader.line_num + offset))
    if last is not None:
        start, row = last
        tail = "\n".join(text.split("\n")[start - 1 :])
        if _runs_off_the_end(tail):  # the row runs to the end of the file inside quotes
            problems = [p for p in problems if p.line != start + offset]
            problems.append(
                Issue(
                    "a quoted value opened on this line is never closed",
                    line=start + offset,
                    valid='a closing double quote ("), and "" for a quote inside a value',
                )
            )
    return _Structure(np.asarray(starts, dtype=np.int64), problems, blank)


def _read_parquet(
    path: Path, spec: tuple[Column, ...], issues: list[Issue]
) -> tuple[pd.DataFrame, str, list[str]] | None:
    """The table's contract columns, the file's sha256 and its own column names."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = _read_bytes(path, issues)
    if data is None:
        return None
    digest = hashlib.sha256(data).hexdigest()
    # Arrow's own reader of the bytes, not a Python file object: its threads would call
    # back into Python for every read (and hold it past the read: see `_lent_to_arrow`)
    with _lent_to_arrow(data):
        try:
            names = [str(n) for n in pq.read_schema(pa.BufferReader(data)).names]
            dupes = _duplicate_names(names)
            if dupes:  # Arrow's reader fails on them with its own internals in the text
                issues.append(
                    Issue(f"duplicate column names {dupes}", file=path.name, valid="unique names")
                )
                return None
            table = pq.read_table(pa.BufferReader(data))
        except (pa.ArrowInvalid, OSError) as exc:
            issues.append(Issue(f"cannot read Parquet file: {exc}", file=path.name))
            table = None
    if table is None:
        return None
    frame = _typed_frame(table, spec, path.name, "Parquet", issues)
    return None if frame is None else (frame, digest, names)


def _duplicate_names(names: list[str]) -> list[str]:
    """Column names given twice once trimmed of blanks (as a CSV header is), sorted."""
    trimmed = [n.strip() for n in names if n.strip()]
    return sorted({n for n in trimmed if trimmed.count(n) > 1})


#: The type a typed column (Parquet, a DataFrame) of each kind must have, in words.
_TYPE_WANTED: dict[str, str] = {
    "id": "string",
    "ref": "string",
    "text": "string",
    "choice": "string",
    "float": "a number (double or integer)",
    "int": "an integer or number",
    "timestamp": "timestamp or ISO 8601 string",
}


def _typed_frame(
    table: Any, spec: tuple[Column, ...], label: str, what: str, issues: list[Issue]
) -> pd.DataFrame | None:
    """The contract's columns of an Arrow table with types (Parquet, a DataFrame), as
    validation takes them: text trimmed, numbers as float64, zoned timestamps in UTC,
    naive ones as text (read in the city's timezone, as a CSV's). A column of another
    type is an issue naming it and what it must be."""
    import pyarrow as pa

    bad = False
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    by_name = {c.name: c for c in spec}
    for at, given in enumerate(table.column_names):
        column = table.column(at)
        name = str(given).strip()  # blanks around a name, as a CSV header's, are trimmed
        col = by_name.get(name)
        typ = column.type
        if pa.types.is_dictionary(typ):
            column = column.cast(typ.value_type)
            typ = typ.value_type
        if pa.types.is_null(typ) and col is not None:  # every value missing: blanks
            typ = pa.float64() if col.kind in {"float", "int"} else pa.large_string()
            column = column.cast(typ)
        is_text = pa.types.is_string(typ) or pa.types.is_large_string(typ)
        is_num = pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)
        is_time = pa.types.is_timestamp(typ)
        if col is None:
            continue
        if col.kind in {"float", "int"}:
            fits = is_num
        else:
            fits = is_text or (col.kind == "timestamp" and is_time)
        if not fits:
            issues.append(
                Issue(
                    f"{what} column has type {typ}",
                    file=label,
                    column=name,
                    valid=_TYPE_WANTED[col.kind]
                    + (" (ids like '0042' must stay text)" if col.kind in {"id", "ref"} else ""),
                )
            )
            bad = True
            continue
        if is_text:
            import pyarrow.compute as pc

            # Arrow-backed text, as a CSV's: no Python string per value
            try:
                text = pc.utf8_trim_whitespace(column.fill_null("")).cast(pa.large_string())
                # the trim looks at a value's ends only: "Saku\xffa" passed it, and the
                # plan crashed hashing the name (exit 1) or, before, wrote it out
                text.validate(full=True)
            except pa.ArrowInvalid:  # bytes that are not UTF-8
                row = _first_not_utf8(column)
                issues.append(
                    Issue(
                        f"{what} column holds bytes that are not UTF-8 text",
                        file=label,
                        row=None if row is None else row + 1,
                        column=name,
                        valid="UTF-8 text (write the file from text, not raw bytes)",
                    )
                )
                bad = True
                continue
            frame[name] = pd.Series(pd.arrays.ArrowStringArray(text), index=frame.index)
        elif is_time:
            if typ.tz is None:
                # Kept naive so validation localises it to the city timezone like CSV
                # text; ISO 8601 with every digit of its unit (nanoseconds included: a
                # strftime '%f' stops at microseconds, so a courier from
                # 19:00:00.000000789 was eligible at 19:00 from Parquet, not from CSV).
                series = column.to_pandas()
                text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
                if typ.unit == "ns":
                    nanos = series.dt.nanosecond.fillna(0).to_numpy(np.int64)
                    some = np.flatnonzero(nanos)
                    if some.size:
                        text.iloc[some] = text.iloc[some] + pd.Series(
                            [f"{n:03d}" for n in nanos[some].tolist()], index=text.index[some]
                        )
                frame[name] = text.fillna("").astype(object)
            else:
                # The values are UTC instants whatever the zone's name says: read them
                # as such (a name this machine's tz database lacks, such as a Windows
                # name or "europe/paris", made Arrow fail with "zoneinfo ... must be
                # installed", exit 1).
                frame[name] = column.cast(pa.timestamp(typ.unit, tz="UTC")).to_pandas()
        else:
            frame[name] = column.to_pandas().astype("float64")
    return None if bad else frame


def _first_not_utf8(column: Any) -> int | None:
    """Row (from 0) of the first value of an Arrow text column whose bytes are not UTF-8."""
    import pyarrow as pa

    base = 0
    for chunk in _chunks(column):
        for i, value in enumerate(chunk.cast(pa.large_binary()).to_pylist()):
            if value is not None and _utf8_error(value) is not None:
                return base + i
        base += len(chunk)
    return None


#: Extensions of a file that was probably meant as a table (`_near_misses`).
_TABLE_LIKE = {".csv", ".parquet", ".tsv", ".txt", ".xlsx", ".xls", ".ods"}


def _near_misses(directory: Path, name: str) -> list[str]:
    """Files of ``directory`` that look meant as table ``name`` but are not named
    ``name.csv`` or ``name.parquet`` exactly: another letter case, '-' or a space for
    '_', a copy's mark, a spreadsheet's extension (``Demand.csv``, ``travel-times.xlsx``,
    ``couriers (1).csv``)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    exact = {f"{name}.csv", f"{name}.parquet"}
    found = [
        entry.name
        for entry in entries
        if _table_stem(entry.stem) == name
        and entry.suffix.lower() in _TABLE_LIKE
        and entry.name not in exact
        and entry.is_file()
    ]
    return sorted(found)


def _as_name(text: str) -> str:
    """A file stem or a header as the contract's names are written: lower case, blanks
    and '-' as '_' (``Max Couriers``, ``travel-times``)."""
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _table_stem(stem: str) -> str:
    """A file's stem as the table it looks meant as: lower case, '-' and blanks as '_',
    without a browser's or a file manager's copy mark (``couriers (1)``, ``couriers -
    Copy``) or a second extension (``couriers.csv.csv``): today's download saved as
    `couriers (1).csv` beside yesterday's couriers.csv was left out without a word."""
    norm = re.sub(r"(_?\(\d+\)|_copy(_\d+)?|_?\(copy\))$", "", _as_name(stem))
    return re.sub(r"\.(csv|parquet)$", "", norm)


def _read(directory: Path, name: str, issues: list[Issue]) -> _Raw | None:
    path = _find(directory, name)
    if path is None:
        near = _near_misses(directory, name)
        if near:
            spreadsheet = near[0].lower().endswith((".xlsx", ".xls", ".ods"))
            # An optional table under another name would be left out without a word,
            # and the plan made without it.
            issues.append(
                Issue(
                    f"{near[0]} looks like the {name} table, but it is read only as "
                    f"{name}.csv or {name}.parquet (this exact name, lower case)",
                    file=str(directory / near[0]),
                    valid=f"{name}.csv or {name}.parquet: rename it"
                    + (", exported as CSV" if spreadsheet else "")
                    + (", or move it out of the folder" if name in OPTIONAL_TABLES else ""),
                )
            )
        elif name not in OPTIONAL_TABLES:
            issues.append(
                Issue(
                    f"missing file {name}.csv (or {name}.parquet)",
                    file=str(directory / f"{name}.csv"),
                    valid=f"a {name} table with columns "
                    + ", ".join(c.name for c in TABLES[name] if c.required),
                )
            )
        return None
    # Today's export saved beside yesterday's file as `Couriers.CSV` (or couriers.txt):
    # the plan was made from yesterday's without a word. A spreadsheet kept beside its
    # CSV export (Couriers.xlsx) is the usual way to work, and is not asked about.
    beside = [
        n
        for n in _near_misses(directory, name)
        if not n.lower().endswith((".xlsx", ".xls", ".ods"))
    ]
    if beside:
        issues.append(
            Issue(
                f"{beside[0]} looks like the {name} table too, beside {path.name}: which "
                "one is meant cannot be told",
                file=str(directory / beside[0]),
                valid=f"one {name} table, named {name}.csv or {name}.parquet: move the "
                "other out of the folder",
            )
        )
        return None
    parquet = path.suffix == ".parquet"
    lines: np.ndarray | range | None = None
    header_line: int | None = None
    found: list[str] | None = None
    before = _file_state(path)
    if parquet:
        got = _read_parquet(path, TABLES[name], issues)
        if got is None:
            return None
        frame, digest, found = got
    else:
        read = _read_csv(path, TABLES[name], issues)
        if read is None:
            return None
        frame, digest, lines, header_line = read
    after = _file_state(path)
    if before and after and before[:2] == after[:2] and before[2:] != after[2:]:
        # written while it was read: what was read may be part of it, cut at a line
        # boundary, and planned as if whole (a cron run while an export lands). A file
        # replaced by a rename (another inode) was read whole, as it was.
        issues.append(
            Issue(
                "changed while it was read (being written?): what was read may be part of it",
                file=str(path),
                valid="a file that stays the same while rebalance reads it: run again "
                "once it is written (write it under another name, then rename it)",
            )
        )
        return None
    if not _has_columns(TABLES[name], frame, path.name, header_line, issues, found):
        return None
    return _Raw(name, path, frame, parquet, digest, lines)


def _file_state(path: Path) -> tuple[int, int, int, int] | None:
    """What tells a file changed: its inode, device, size and modification time."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def _has_columns(
    spec: tuple[Column, ...],
    frame: pd.DataFrame,
    label: str,
    header_line: int | None,
    issues: list[Issue],
    header: list[str] | None = None,
) -> bool:
    """Whether ``frame`` has the required columns of ``spec`` (a table's, or the orders');
    an issue for each one missing.
    ``header``: the names the file or DataFrame has, when ``frame`` kept only the
    contract's (Parquet, a DataFrame); else ``frame``'s are the file's."""
    missing = [c.name for c in spec if c.required and c.name not in frame.columns]
    names = [str(c) for c in frame.columns] if header is None else header
    found = ", ".join(c for c in names if not c.startswith("(blank"))
    for column in missing:
        issues.append(
            Issue(
                "missing column",
                file=label,
                line=header_line,
                column=column,
                valid=_header(spec) + f" (header found: {_clip(found)})",
            )
        )
    # An optional column under another spelling (`Status`, `Max Couriers`, `Vehicle`)
    # was left out without a word: every busy and offline courier planned as available,
    # every zone's cap and priority dropped, a vehicle's travel times used for all.
    known = {c.name for c in spec}
    for c in spec:
        if c.required or c.name in names:
            continue
        for got in names:
            if got not in known and not got.startswith("(blank") and _spelled_as(got, c.name):
                issues.append(
                    Issue(
                        f"column {got!r} looks like {c.name!r}, but only {c.name!r} is read "
                        "(this exact name, lower case): left as it is, the plan would be "
                        "made without it",
                        file=label,
                        line=header_line,
                        column=got,
                        valid=f"rename it {c.name} (or remove the column)",
                    )
                )
                break
    return not missing


#: What a column's name may start with in an export and still mean a table's own column
#: (``courier_status``: the couriers' ``status``).
_COLUMN_PREFIXES = ("courier_", "restaurant_", "zone_", "order_")


def _spelled_as(got: str, name: str) -> bool:
    """Whether header ``got`` looks meant as column ``name``: the same in another letter
    case or with spaces or '-' for '_', with a table's prefix (``courier_status``), or
    one slip away (``max_courier``, ``vehicles``: 90% alike)."""
    import difflib

    norm = _as_name(got)
    if norm == name or any(norm == p + name for p in _COLUMN_PREFIXES):
        return True
    return difflib.SequenceMatcher(None, norm, name).ratio() >= 0.9


def _frame_raw(name: str, frame: pd.DataFrame, issues: list[Issue]) -> _Raw | None:
    """A DataFrame given to the library (`Inputs.replace`), as table ``name`` to validate
    with the rules of a Parquet file's columns; errors name it and its rows from 1.

    A demand table that came from `load` keeps naming its file's lines."""
    import pyarrow as pa

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, not {type(frame).__name__}")
    title = f"{name} (DataFrame, rows from 1)"
    lines: np.ndarray | None = None
    rows = False
    if name == "demand" and {"where", "line"} <= set(frame.columns):
        where = frame["where"].astype("category").cat.categories
        numbered = pd.api.types.is_integer_dtype(frame["line"].dtype)  # as load made it
        if numbered and len(where) == 1 and str(where[0]).endswith((", line", ", row")):
            title, _, unit = str(where[0]).rpartition(", ")
            lines, rows = frame["line"].to_numpy(np.int64), unit == "row"
    names = [str(c) for c in frame.columns]
    arrays, fields = [], []
    for column in TABLES[name]:
        at = [i for i, c in enumerate(names) if c == column.name]
        if len(at) > 1:
            issues.append(Issue("column given twice", file=title, column=column.name))
            return None
        if not at:
            continue
        values = frame.iloc[:, at[0]]
        try:
            arrays.append(pa.array(values, from_pandas=True))
        except UnicodeEncodeError as exc:  # a lone surrogate ("\\ud800"): no UTF-8 for it
            row = _first_unencodable(values)
            issues.append(
                Issue(
                    f"text that has no UTF-8 form ({exc.reason}: "
                    f"{exc.object[exc.start : exc.end]!r})",
                    file=title,
                    row=row,
                    column=column.name,
                    valid="text of Unicode characters (no lone surrogates)",
                )
            )
            return None
        except (
            pa.ArrowInvalid,
            pa.ArrowTypeError,
            pa.ArrowNotImplementedError,
            OverflowError,  # 1e308 among timestamps
        ) as exc:
            if column.kind == "timestamp" and values.dtype == object:
                # Timestamps and ISO 8601 text mixed (a what-if typed into a few rows):
                # all as text, each checked by the timestamp rule, a bad one by its row.
                arrays.append(pa.array(_times_as_text(values), type=pa.large_string()))
                fields.append(column.name)
                continue
            issues.append(
                Issue(
                    f"column holds values of mixed types ({exc})",
                    file=title,
                    column=column.name,
                    valid=_TYPE_WANTED[column.kind],
                )
            )
            return None
        fields.append(column.name)
    typed = _typed_frame(pa.table(arrays, names=fields), TABLES[name], title, "DataFrame", issues)
    if typed is None or not _has_columns(TABLES[name], typed, title, None, issues, names):
        return None
    return _Raw(name, Path(name), typed, True, "", lines, title=title, rows=rows)


def _first_unencodable(values: pd.Series) -> int | None:
    """The row (from 1) of the first value of ``values`` that has no UTF-8 form."""
    for row, value in enumerate(values, start=1):
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return row
    return None


def _times_as_text(values: pd.Series) -> list[str | None]:
    """An object column of timestamps as text: a timestamp (pandas, datetime, numpy) in
    ISO 8601, with its offset when it has one (a naive one is read in the city's
    timezone, as naive text is); text as it is; a missing value as None; anything else
    as its text, for the timestamp check to name."""
    import datetime as dt

    def text(value: Any) -> str | None:
        if isinstance(value, str):
            return value
        if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
            return None
        if isinstance(value, dt.datetime | np.datetime64):
            stamp = pd.Timestamp(value)
            return None if stamp is pd.NaT else stamp.isoformat()
        return str(value)

    return [text(v) for v in values.tolist()]


# ------------------------------------------------------------------------ validation


class _Checker:
    """Collects located issues for one table, vectorised over rows."""

    def __init__(self, raw: _Raw, issues: list[Issue]):
        self.raw = raw
        self.issues = issues
        self.bad = np.zeros(len(raw.frame), dtype=bool)
        #: Row hashes of the columns returned so far, as `fingerprint` hashes them.
        self.hashes: dict[str, _Hashes] = {}
        #: Codes and distinct values of the text columns factorized so far.
        self.codes: dict[str, tuple[np.ndarray, pd.Series]] = {}

    def forget(self, *columns: str) -> None:
        """Drop the raw text of ``columns``, checked already and read into new values
        (timestamps: 0.46 GB at 10 million couriers, for Arrow to reuse); all of them
        once the table is done."""
        for column in columns:
            if column in self.raw.frame.columns:
                del self.raw.frame[column]

    def flag(
        self,
        mask: np.ndarray | pd.Series,
        column: str,
        message: str,
        valid: str | None,
        values: pd.Series | None = None,
        notes: dict[int, str] | None = None,
    ) -> None:
        """Record one issue per flagged row (capped), ``notes`` adding per-row detail."""
        mask = np.asarray(mask, dtype=bool)
        positions = np.flatnonzero(mask)
        if positions.size == 0:
            return
        self.bad |= mask
        source = self.raw.frame[column] if values is None else values
        for pos in positions[:ROWS_PER_RULE]:
            value = source.iloc[pos]
            note = (notes or {}).get(int(pos))
            line, row = self.raw.where(int(pos))
            self.issues.append(
                Issue(
                    f"{message} ({note})" if note else message,
                    file=self.raw.label,
                    line=line,
                    row=row,
                    column=column,
                    value=value if not _is_blank(value) else "",
                    valid=valid,
                )
            )
        extra = positions.size - ROWS_PER_RULE
        if extra > 0:
            self.issues.append(
                Issue(
                    f"... and {extra} more rows with the same problem ({message})",
                    file=self.raw.label,
                    column=column,
                    count=extra,
                )
            )

    def text(self, column: str) -> pd.Series:
        col = self.raw.frame[column]
        if isinstance(col.dtype, pd.StringDtype):
            return col.fillna("")
        return col.astype(object).where(col.notna(), "")

    def ids(self, column: str, what: str, *, listed: bool = False) -> pd.Series:
        """``listed``: the ids are written ";"-separated in a plan (pause lists), so an id
        holding ";" would read back as two ids, one of them made up."""
        values = self.text(column).astype(str)
        empty = values.eq("").to_numpy()
        self.flag(empty, column, f"empty {column}", f"a non-empty {what} id")
        if listed:
            semicolon = values.str.contains(";", regex=False).to_numpy(dtype=bool)
            self.flag(
                semicolon,
                column,
                f"{column} with ';'",
                f"a {what} id without ';' (it separates the restaurants of a pause list in "
                "zones.csv)",
            )
        # Distinct hashes are distinct ids: then there is no duplicate to look for (the
        # hashes are the fingerprint's, so kept). Equal hashes mean a duplicate, or
        # (rarely) two ids with one hash: pandas then tells which.
        self.hashes[column] = hashes = _hash_text(values)
        if _distinct(hashes[~empty] if empty.any() else hashes):
            return values
        dupes = (values.duplicated(keep="first") & values.ne("")).to_numpy()
        notes = {}
        if dupes.any():
            # Say where the id first appears: that is the row the operator compares with.
            first = (
                pd.Series(np.arange(len(values)), index=values.to_numpy()).groupby(level=0).min()
            )
            for pos in np.flatnonzero(dupes)[:ROWS_PER_RULE]:
                line, row = self.raw.where(int(first[values.iloc[pos]]))
                notes[int(pos)] = f"first at line {line}" if line else f"first at row {row}"
        self.flag(dupes, column, f"duplicate {column}", f"each {what} id once", notes=notes)
        return values

    def refs(self, column: str, known: set[str], what: str) -> pd.Series:
        values = self.text(column).astype(str)
        # each distinct zone checked and hashed once (10,000 zones, millions of rows)
        codes, distinct = self._factorize(column, values)
        empty = distinct.eq("").to_numpy()
        self.flag(empty[codes], column, f"empty {column}", "a zone_id from zones")
        unknown = ~isin_text(distinct, known) & ~empty
        sample = ", ".join(repr(z) for z in sorted(known)[:5])
        more = "" if len(known) <= 5 else f", ... ({len(known)} zones)"
        listed = f"({sample}{more})" if known else "(the zones table lists no zone)"
        self.flag(unknown[codes], column, f"unknown {what}", f"a zone_id from zones {listed}")
        self.hashes[column] = (codes, distinct)
        return values

    def _factorize(self, column: str, values: pd.Series) -> tuple[np.ndarray, pd.Series]:
        """Codes and distinct values of a text column (kept for `_check_zone_demand`)."""
        codes, distinct = factorize_text(values)
        if len(distinct) < 2**31:  # half the memory for millions of rows
            codes = codes.astype(np.int32, copy=False)
        self.codes[column] = (codes, distinct)
        return codes, distinct

    def number(
        self,
        column: str,
        *,
        default: float | None = None,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
        valid: str,
    ) -> pd.Series:
        if column not in self.raw.frame.columns:
            return pd.Series(np.full(len(self.raw.frame), np.nan if default is None else default))
        raw = self.raw.frame[column]
        if pd.api.types.is_numeric_dtype(raw):
            values = raw.astype("float64")
            blank = values.isna().to_numpy()
        else:
            text = self.text(column).astype(str)
            blank = text.eq("").to_numpy()
            fast = _fast_numbers(text) if not blank.any() else None
            if fast is not None:
                # every value is a finite number Arrow reads: nothing to flag but ranges
                values = pd.Series(fast, index=text.index)
            else:
                values = self._slow_numbers(column, text, blank, valid)
        if default is None:
            self.flag(blank, column, f"blank {column}", valid)
        nonfinite = ~np.isfinite(values.to_numpy()) & ~blank & values.notna().to_numpy()
        self.flag(nonfinite, column, "not a finite number", valid)
        finite = np.isfinite(values.to_numpy())
        out_of_range = np.zeros(len(values), dtype=bool)
        v = values.to_numpy()
        with np.errstate(invalid="ignore"):
            if lo is not None:
                out_of_range |= finite & ((v <= lo) if lo_open else (v < lo))
            if hi is not None:
                out_of_range |= finite & (v > hi)
            if integer:
                out_of_range |= finite & (np.floor(v) != v)
        self.flag(out_of_range, column, "value out of range", valid)
        if default is not None:
            values = values.where(~blank, default)
        return values

    def _slow_numbers(
        self, column: str, text: pd.Series, blank: np.ndarray, valid: str
    ) -> pd.Series:
        values = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
        # pandas reads "nan"/"inf" as numbers; they are never valid here.
        notnum = values.isna().to_numpy() & ~blank
        lowered = text.str.lower()
        nonfinite_text = lowered.isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"])
        self.flag(notnum & ~nonfinite_text.to_numpy(), column, "not a number", valid)
        return values.where(~nonfinite_text, np.inf)

    def choice(
        self,
        column: str,
        allowed: Iterable[str],
        *,
        default: str | None = None,
        categorical: bool = False,
    ) -> pd.Series:
        """The column lowered, blanks as ``default``; with ``categorical``, a categorical
        of ``allowed`` (in that order): a byte or two per row instead of the text
        (10 million couriers' status and vehicle: 0.3 GB -> 20 MB)."""
        allowed = list(allowed)
        if column not in self.raw.frame.columns:
            if categorical and default in allowed:
                code = np.full(len(self.raw.frame), allowed.index(default), dtype=np.int8)
                return pd.Series(pd.Categorical.from_codes(code, categories=allowed))
            return pd.Series([default] * len(self.raw.frame), dtype=object)
        text = self.text(column).astype(str)
        # each distinct value lowered and checked once, then taken back to the rows
        codes, distinct = self._factorize(column, text)
        lowered = distinct.str.lower()
        blank = lowered.eq("")
        bad = ~lowered.isin(allowed) & ~(blank & (default is not None))
        valid = "one of " + ", ".join(allowed) + " (any case)"
        if default is not None:
            lowered = lowered.where(~blank, default)
            valid += f", or blank for {default!r}" if default else ", or blank for all"
        self.flag(bad.to_numpy()[codes], column, f"invalid {column}", valid)
        self.hashes[column] = (codes, lowered)
        if categorical:
            # invalid values (flagged above: load raises) as missing
            where = pd.Index(allowed).get_indexer(lowered.astype(object).to_numpy())
            cat = where.astype(index_dtype(len(allowed)))[codes]
            return pd.Series(pd.Categorical.from_codes(cat, categories=allowed), index=text.index)
        if lowered.equals(distinct):  # as written (lower case, no blank to fill): no copy
            return text
        return pd.Series(lowered.array.take(codes), index=text.index)

    def timestamp(self, column: str, timezone: str) -> pd.Series:
        raw = self.raw.frame[column]
        if isinstance(raw.dtype, pd.DatetimeTZDtype):  # a Parquet timestamp column
            outside = (~raw.dt.year.between(*YEARS) & raw.notna()).to_numpy()
            values = raw.where(~outside).dt.tz_convert("UTC").dt.as_unit("ns")
        else:
            text = self.text(column).astype(str)
            # the distinct texts found before, when a check found them (orders' offsets)
            values, outside = parse_timestamps_in_range(text, timezone, self.codes.get(column))
        self.flag(
            values.isna().to_numpy() & ~outside,
            column,
            "not an ISO 8601 timestamp",
            "an ISO 8601 timestamp, e.g. 2026-11-30T19:00 (city time) or 2026-11-30T19:00:00+01:00",
        )
        self.flag(
            outside,
            column,
            "timestamp outside the supported years",
            f"a year from {YEARS[0]} to {YEARS[1]}; for a window with no end, "
            "a date well after the shift (e.g. 2100-01-01)",
        )
        return values


def _check_zone_demand(c: _Checker, restaurants: pd.DataFrame) -> None:
    """A zone's open demand within the supported range (see `ranges`), named by zone."""
    # Rows already reported (a rate out of range, an unknown zone) are not counted twice.
    counted = restaurants["status"].eq("open").to_numpy() & ~c.bad
    rate = restaurants["expected_orders_per_hour"].where(counted, 0.0)
    # grouped by the zone codes refs made: pandas' same sums, without factorizing the
    # zone ids once more (zones are then named in zone_id order)
    codes, distinct = c.codes.get("zone_id") or c._factorize("zone_id", restaurants["zone_id"])
    zone = pd.Categorical.from_codes(codes, categories=np.arange(len(distinct)))
    totals = rate.groupby(zone, observed=True).sum()
    totals = totals[totals > ranges.MAX_ZONE_ORDERS_PER_HOUR]
    over = sorted(
        zip(distinct.to_numpy()[totals.index.to_numpy(dtype=int)], totals.to_numpy(), strict=True)
    )
    for zone_id, total in over:
        rows = np.flatnonzero(restaurants["zone_id"].eq(zone_id).to_numpy())
        line, row = c.raw.where(int(rows[0]))
        c.issues.append(
            Issue(
                f"the open restaurants of zone {zone_id!r} expect {total:,.0f} orders per hour "
                "in total",
                file=c.raw.label,
                line=line,
                row=row,
                column="expected_orders_per_hour",
                valid=f"at most {ranges.MAX_ZONE_ORDERS_PER_HOUR:,.0f} per zone "
                "(split the zone, or check the unit: orders per hour)",
            )
        )


#: Hashes from which `_distinct` sorts two halves side by side.
_DISTINCT_SPLIT = 1 << 20


def _distinct(hashes: np.ndarray) -> bool:
    """Whether no two hashes are equal: a sort (30 ms for 2.5 million).

    From `_DISTINCT_SPLIT` hashes on, the hashes with the top bit clear and those with
    it set (equal hashes share it; pandas' hashes are uniform, so the halves are about
    even) are sorted each on a thread of its own (numpy lets go of the GIL while it
    sorts): 10 million courier ids 0.65-0.8 s -> ~0.35 s on two cores."""
    if len(hashes) < _DISTINCT_SPLIT or threads(2) < 2:
        halves = [np.sort(hashes)]
    else:
        top = hashes >= np.uint64(1 << 63)
        halves = [hashes[~top], hashes[top]]
        del top
        with ThreadPoolExecutor(2, thread_name_prefix="distinct") as pool:
            list(pool.map(np.ndarray.sort, halves))
    return not any(bool((h[1:] == h[:-1]).any()) for h in halves)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


#: Text (bytes) a table must hold for `_compact_text` to copy it: below, the pages
#: held are few and the copy would cost more than it gives back.
_COMPACT_ABOVE = 1 << 25


def _compact_text(frame: pd.DataFrame) -> bool:
    """Each text column of ``frame`` still in the chunks Arrow read it in, as one array;
    whether any was copied.

    The file was read block by block, each block's columns side by side in memory; once
    the raw table is dropped, the kept columns' chunks sit between the freed ones and
    hold their pages. Copied into one buffer each (a column at a time), they let those
    pages go: at 10 million couriers 0.45 GB of the 1.9 GB resident after `load`, for
    ~0.1 s of copying. Zero-copy wrappers, same dtype. Tables with less text than
    `_COMPACT_ABOVE` are left as they are."""
    import pyarrow as pa

    chunked = {}
    for name in frame.columns:
        column = getattr(frame[name].array, "_pa_array", None)
        if (
            isinstance(column, pa.ChunkedArray)
            and column.num_chunks > 1
            # (with 32-bit offsets, one array may not hold it)
            and (pa.types.is_large_string(column.type) or column.nbytes < 1 << 31)
        ):
            chunked[name] = column
    if sum(c.nbytes for c in chunked.values()) < _COMPACT_ABOVE:
        return False
    for name in list(chunked):
        column = chunked.pop(name)
        frame[name] = pd.Series(
            pd.array(column.combine_chunks(), dtype=frame[name].dtype), index=frame.index
        )
        del column
    return True


def release_memory() -> None:
    """Give the pages Arrow's allocator keeps after a table's raw text is dropped back to
    the system (a hint, a few ms). With malloc as Arrow's allocator (see `rebalance`)
    this is glibc's ``malloc_trim``: the raw text freed by Arrow's reading threads sits
    in their own heaps, which nothing on the main thread reuses (at 10 million couriers
    1.0 GB given back after the couriers' raw text is dropped). Under mimalloc (when
    ``ARROW_DEFAULT_MEMORY_POOL`` says so) it was 0.58 GB of the 2.46 GB resident after
    `load`. Without these calls the 10,000-zone / 1M plan peaked at 1.10-1.12 GB
    instead of 0.92 GB, and was no faster. `rebalance.optimize.solve` calls it too, once
    the model is dropped."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def input_bytes(data_dir: str | Path) -> int:
    """About how many bytes of text the tables of ``data_dir`` hold: each CSV file's
    size, a Parquet file's uncompressed size from its footer (at least its file size).
    Read before `load` and validating nothing: what `load` will reject counts as 0 (it
    says why)."""
    directory = Path(data_dir)
    total = 0
    for name in TABLES:
        try:
            path = _find(directory, name)
            if path is None or not path.is_file():
                continue
            size = path.stat().st_size
        except (DataError, OSError):
            continue
        if path.suffix == ".parquet":
            size = max(size, _parquet_bytes(path))
        total += size
    return total


def _parquet_bytes(path: Path) -> int:
    """The uncompressed size of a Parquet file's row groups, or 0 when its footer
    cannot be read (`load` says what is wrong with it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .paths import arrow_file

    try:
        with arrow_file(path) as fh:
            meta = pq.ParquetFile(fh).metadata
    except (pa.ArrowException, OSError):
        return 0
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def check_data_dir(data_dir: str | Path) -> Path:
    """``data_dir`` as a Path, or `DataError` (exit 3) when it is not a folder, or its
    path holds bytes that are not UTF-8 (the tables' reader cannot open such a path: a
    traceback and exit 1 from deep inside Arrow)."""
    directory = Path(data_dir)
    try:
        str(directory.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        from .escape import visible

        raise DataError(
            Issue(
                "the folder's path holds bytes that are not UTF-8 text",
                file=visible(str(directory), one_line=True),
                valid="a path in UTF-8: rename the folder",
            ),
            title="invalid input",
        ) from None
    if not directory.is_dir():
        from .paths import tilde_hint

        raise DataError(
            Issue(
                "data directory not found" if not directory.exists() else "not a folder",
                file=str(directory),
                valid=(not directory.exists() and tilde_hint(directory))
                or "a folder with zones, restaurants and couriers tables (.csv or .parquet)",
            ),
            title="invalid input",
        )
    return directory


def as_inputs(inputs: Any, call: str) -> Inputs:
    """``inputs`` when it is the `Inputs` that `load` returns; else a TypeError saying
    what to pass (a notebook gave the folder itself, or a DataFrame, and met "'str'
    object has no attribute 'zones'" from deep inside)."""
    if isinstance(inputs, Inputs):
        return inputs
    raise wrong_argument(
        call,
        "inputs must be the Inputs that rebalance.load(folder) returns",
        inputs,
        path_hint="read the folder with rebalance.load(folder, config)",
    )


def load(data_dir: str | Path, config: Config | None = None) -> Inputs:
    """Read and validate the tables in ``data_dir``.

    Without ``config``, ``data_dir/rebalance.toml`` is read if there is one (as the
    command line does), else the defaults; the inputs keep the configuration they were
    read with, and `solve`, `forecast`, `replay` and the scenarios use it when given
    none. Raises `DataError` listing every problem found (file, line, column, value and
    what would be valid), `ConfigError` for a bad rebalance.toml; a TypeError when
    ``data_dir`` is not a path.
    """
    from .errors import as_path

    loaded = isinstance(data_dir, Inputs)
    folder = as_path(
        data_dir,
        "load(data_dir, config)",
        "data_dir must be the folder of the input tables (a str or pathlib.Path)",
        hint="these inputs are loaded already: pass them to solve(inputs, config, ...)"
        if loaded
        else "",
    )
    return load_tables(folder, config, per_table=True)


def config_for(inputs: Inputs, config: Any, call: str) -> Config:
    """The configuration ``call`` plans ``inputs`` with: ``config``, else the one they
    were loaded with (`Inputs.config`), else the defaults.

    ValueError when ``config`` is of another timezone than the one the inputs' naive
    times were read in: a notebook that left the config out of `load`, or passed
    another city's, planned Tokyo's couriers (times read as Tokyo time) from 19:00
    Paris time, 03:00 in Tokyo, and said nothing."""
    from .config import as_config

    if config is None and inputs.config is not None:
        return inputs.config
    config = as_config(config, call)
    if inputs.timezone and config.city.timezone != inputs.timezone:
        raise ValueError(
            f"{call}: config's [city] timezone is {config.city.timezone!r}, but the inputs' "
            f"times were read in {inputs.timezone!r}: load them with this config "
            "(rebalance.load(folder, config)), or pass the config they were loaded with"
        )
    return config


def load_tables(data_dir: str | Path, config: Config | None, *, per_table: bool) -> Inputs:
    """`load`; ``per_table``: with each table's digest (`Inputs.table_sha256`), for
    inputs that a caller may edit and `Inputs.replace` (the library's), not for those
    a command plans as read."""
    from .config import as_config

    if config is None:
        # as the command line does: the folder's own rebalance.toml, else the defaults
        # (a city in Tokyo was read in Paris time, its costs and slots the defaults')
        directory = check_data_dir(data_dir)
        if (directory / "rebalance.toml").is_file():
            from .config import load_config

            config = load_config(directory / "rebalance.toml")
    config = as_config(config, "load(data_dir, config)")
    directory = check_data_dir(data_dir)
    # Problems reading any file come first, then the values' problems table by table
    # (an operator fixes the files in that order). Each table is read, checked and
    # added to the fingerprint before the next is read, and its text read from the
    # file then dropped: memory holds one table's raw text at a time.
    issues: list[Issue] = []
    found: list[Issue] = []
    files: dict[str, str] = {}

    def read(name: str) -> _Raw | None:
        release_memory()  # what the table before left behind, before this one is read
        raw = _read(directory, name, issues)
        if raw is not None:
            files[raw.label] = raw.sha256
        return raw

    digest = _Digest(per_table=per_table)
    tables = _validated(
        read, issues, found, config.city.timezone, sorted(config.vehicles), digest=digest
    )
    if issues or found:
        raise DataError(issues + found, title="invalid input")
    return Inputs(
        **tables,
        source=directory,
        sha256=digest.hexdigest(),
        files=files,
        timezone=config.city.timezone,
        config=config,
        table_sha256=digest.tables(),
    )


def table_ids(data_dir: str | Path, name: str) -> list[str]:
    """The ids of table ``name`` of a data folder (``restaurants``: its
    ``restaurant_id`` column), read as `load` reads them but not validated: a quick
    look-up that reads one file (the Slack app answers an unknown id within Slack's
    3 seconds). Raises `DataError` when the file cannot be read."""
    directory = check_data_dir(data_dir)
    issues: list[Issue] = []
    raw = _read(directory, name, issues)
    if raw is None or issues:
        raise DataError(issues, title="invalid input")
    column = TABLES[name][0].name
    return _Checker(raw, issues).text(column).astype(str).tolist()


def _zone_category(
    frame: pd.DataFrame, codes: np.ndarray, distinct: pd.Series, zone_ids: pd.Series
) -> None:
    """Hold ``frame``'s validated ``zone_id`` column as a pandas category of every zone
    id of the zones table, sorted (so that sorting and grouping by it go by the ids, and
    any zone of the city can be assigned to a row), made from the codes the checks
    computed: the same values as text. Millions of rows repeat ~10,000 ids; as text
    each row held its characters and an 8-byte offset (2.5 million restaurants: 35 MB,
    now 5 MB of int16 codes). Left as text if a value is not a zone or a zone id is
    repeated (never on a valid load)."""
    categories = pd.Index(np.sort(zone_ids.to_numpy(dtype=object).astype(str)), dtype="str")
    at = categories.get_indexer(distinct.to_numpy(dtype=object))
    if len(codes) != len(frame) or (at < 0).any() or not categories.is_unique:
        return
    kind = np.int16 if len(categories) <= np.iinfo(np.int16).max else np.int32
    frame["zone_id"] = pd.Categorical.from_codes(
        at.astype(kind)[codes], dtype=pd.CategoricalDtype(categories)
    )


def _validated(
    read: Callable[[str], _Raw | None],
    issues: list[Issue],
    found: list[Issue],
    tz: str,
    vehicles: list[str],
    *,
    digest: _Digest | None = None,
    kept: dict[str, pd.DataFrame | None] | None = None,
) -> dict[str, pd.DataFrame | None]:
    """Each table ``read`` gives, validated in `TABLES` order (a table's references
    checked against the tables before it), or taken as it is from ``kept``; problems go
    to ``found`` (``issues`` holds problems reading the files). ``digest``: each table
    is fingerprinted as soon as it is valid, or as it is taken from ``kept``."""
    kept = kept or {}

    def add(name: str, frame: pd.DataFrame, c: _Checker) -> None:
        """Fingerprint a validated table: the raw text is dropped first and its pages
        given back, then the text columns kept are made whole (`_compact_text`) and
        the raw table's pages given back before the hashing allocates (10M couriers:
        peak 2.7 -> 2.3 GB). With malloc as Arrow's allocator (see `rebalance`) the
        first give-back matters: Arrow's reading threads freed the raw text in their
        own heaps, which the copies made on this thread cannot reuse (10M couriers:
        2.54 -> 2.26 GB at that step)."""
        if not issues and not found:  # else no fingerprint: load raises
            c.forget(*c.raw.frame.columns)
            if zones is not None and "zone_id" in c.codes:
                _zone_category(frame, *c.codes["zone_id"], zones["zone_id"])
            release_memory()
            if _compact_text(frame):
                release_memory()
            if digest is not None:
                digest.add(name, frame, c.hashes)

    def keep(name: str, frame: pd.DataFrame | None) -> None:
        """Fingerprint a table taken as it is (`Inputs.replace`), in its turn."""
        if digest is not None and frame is not None and not issues and not found:
            digest.add(name, frame)

    zones = restaurants = couriers = travel = None
    known: set[str] = set()
    if "zones" in kept:
        zones = kept["zones"]
        known = set() if zones is None else set(zones["zone_id"].astype(str))
        keep("zones", zones)
    elif (raw := read("zones")) is not None:
        c = _Checker(raw, found)
        zone_id = c.ids("zone_id", "zone")
        known = set(zone_id[zone_id.ne("")])
        zones = pd.DataFrame(
            {
                "zone_id": zone_id,
                "name": c.text("name").astype(str),
                "lat": c.number("lat", lo=-90, hi=90, valid="decimal degrees from -90 to 90"),
                "lon": c.number("lon", lo=-180, hi=180, valid="decimal degrees from -180 to 180"),
                "priority": c.number(
                    "priority",
                    default=1.0,
                    lo=0,
                    lo_open=True,
                    hi=ranges.MAX_PRIORITY,
                    valid=f"a number > 0 and at most {ranges.MAX_PRIORITY:,.0f}, or blank for 1",
                ),
                "max_couriers": c.number(
                    "max_couriers",
                    default=np.nan,
                    lo=0,
                    hi=ranges.MAX_CAP,
                    integer=True,
                    valid=f"a whole number from 0 to {ranges.MAX_CAP:,}, or blank for no cap",
                ),
            }
        )
        add("zones", zones, c)
        del c, raw
    if "restaurants" in kept:
        restaurants = kept["restaurants"]
        keep("restaurants", restaurants)
    elif (raw := read("restaurants")) is not None:
        c = _Checker(raw, found)
        restaurants = pd.DataFrame(
            {
                "restaurant_id": c.ids("restaurant_id", "restaurant", listed=True),
                "name": c.text("name").astype(str),
                "zone_id": c.refs("zone_id", known, "zone_id")
                if zones is not None
                else c.text("zone_id").astype(str),
                "status": c.choice("status", ["open", "closed"], categorical=True),
                "expected_orders_per_hour": c.number(
                    "expected_orders_per_hour",
                    lo=0,
                    hi=ranges.MAX_ORDERS_PER_HOUR,
                    valid=f"a finite number >= 0 and at most {ranges.MAX_ORDERS_PER_HOUR:,.0f}",
                ),
            }
        )
        _check_zone_demand(c, restaurants)
        add("restaurants", restaurants, c)
        del c, raw
    if "couriers" in kept:
        couriers = kept["couriers"]
        keep("couriers", couriers)
    elif (raw := read("couriers")) is not None:
        c = _Checker(raw, found)
        start = c.timestamp("available_from", tz)
        until = c.timestamp("available_until", tz)
        order = (until <= start).to_numpy() & start.notna().to_numpy() & until.notna().to_numpy()
        c.flag(
            order,
            "available_until",
            "available_until is not after available_from",
            "a time later than available_from",
        )
        c.forget("available_from", "available_until")  # parsed: their text can go
        couriers = pd.DataFrame(
            {
                "courier_id": c.ids("courier_id", "courier"),
                "zone_id": c.refs("zone_id", known, "zone_id")
                if zones is not None
                else c.text("zone_id").astype(str),
                "vehicle": c.choice("vehicle", vehicles, categorical=True),
                "available_from": start,
                "available_until": until,
                "status": c.choice(
                    "status",
                    ["available", "busy", "offline"],
                    default="available",
                    categorical=True,
                ),
            }
        )
        add("couriers", couriers, c)
        del c, raw
    if "travel_times" in kept:
        travel = kept["travel_times"]
        keep("travel_times", travel)
    elif (raw := read("travel_times")) is not None:
        c = _Checker(raw, found)
        frm = c.refs("from_zone", known, "zone") if zones is not None else c.text("from_zone")
        to = c.refs("to_zone", known, "zone") if zones is not None else c.text("to_zone")
        minutes = c.number("minutes", lo=0, valid="a finite number of minutes >= 0")
        # a blank vehicle applies to every vehicle
        vehicle = c.choice("vehicle", vehicles, default="")
        travel = pd.DataFrame(
            {
                "from_zone": frm.astype(str),
                "to_zone": to.astype(str),
                "minutes": minutes,
                "vehicle": vehicle.astype(str),
            }
        )
        pair = ["from_zone", "to_zone", "vehicle"]
        dup = travel.duplicated(pair, keep="first").to_numpy()
        notes = {}
        if dup.any():
            # where the pair first appears (the rows `duplicated` keeps): the row the
            # operator compares with
            keys = list(zip(*(travel[k].to_numpy() for k in pair), strict=True))
            first_at = {keys[i]: i for i in np.flatnonzero(~dup)}
            for pos in np.flatnonzero(dup)[:ROWS_PER_RULE]:
                line, row = c.raw.where(int(first_at[keys[pos]]))
                notes[int(pos)] = f"first at line {line}" if line else f"first at row {row}"
        c.flag(
            dup,
            "to_zone",
            "duplicate travel time for this from_zone, to_zone and vehicle",
            "one row per pair and vehicle",
            notes=notes,
        )
        add("travel_times", travel, c)
        del c, raw

    demand = None
    if "demand" in kept:
        demand = kept["demand"]
        keep("demand", demand)
    elif (raw := read("demand")) is not None:
        demand = _demand_table(raw, found, restaurants, tz)
        if restaurants is not None and not issues and not found:
            _check_slot_demand(raw, found, restaurants, demand, tz)
        if digest is not None and not issues and not found:
            digest.add("demand", demand)
    raw = None
    release_memory()

    if issues or found:
        return {}
    assert zones is not None and restaurants is not None and couriers is not None
    return {
        "zones": zones.reset_index(drop=True),
        "restaurants": restaurants.reset_index(drop=True),
        "couriers": couriers.reset_index(drop=True),
        "travel_times": None if travel is None else travel.reset_index(drop=True),
        "demand": demand,
    }


def _check_slot_demand(
    raw: _Raw, issues: list[Issue], restaurants: pd.DataFrame, demand: pd.DataFrame, tz: str
) -> None:
    """A zone's open demand in any slot within the supported range (see `ranges`): the
    slot's rows where given, each other open restaurant's own rate otherwise. ``tz``:
    the city's, in which a slot is named."""
    open_ = restaurants[restaurants["status"].eq("open")]
    pos = pd.Index(open_["restaurant_id"]).get_indexer(demand["restaurant_id"])
    rows = np.flatnonzero(pos >= 0)
    if rows.size == 0:
        return
    pos = pos[rows]
    base = open_["expected_orders_per_hour"].to_numpy(dtype=float)
    zone_code, zone_ids = pd.factorize(open_["zone_id"])
    # integer codes all the way (400,000 rows in milliseconds): zone x slot start
    stamps = pd.DatetimeIndex(demand["slot_start"].iloc[rows]).tz_convert("UTC").asi8
    slot_code, slot_starts = pd.factorize(stamps)
    n_slots = len(slot_starts)
    key = zone_code[pos].astype(np.int64) * n_slots + slot_code
    size = len(zone_ids) * n_slots
    delta = demand["expected_orders_per_hour"].to_numpy(dtype=float)[rows] - base[pos]
    given = np.bincount(key, minlength=size) > 0
    zone_total = np.bincount(zone_code, weights=base, minlength=len(zone_ids))
    total = np.bincount(key, weights=delta, minlength=size) + np.repeat(zone_total, n_slots)
    over = np.flatnonzero(given & (total > ranges.MAX_ZONE_ORDERS_PER_HOUR))
    named = sorted(
        (str(zone_ids[k // n_slots]), int(slot_starts[k % n_slots]), int(k)) for k in over
    )
    for zone_id, slot_start, k in named[:ROWS_PER_RULE]:
        first = int(rows[np.flatnonzero(key == k)[0]])
        where = f"{demand['where'].iloc[first]} {int(demand['line'].iloc[first])}"
        local = pd.Timestamp(slot_start, tz="UTC").tz_convert(tz)  # as other messages say
        issues.append(
            Issue(
                f"zone {zone_id!r} expects {total[k]:,.0f} orders per hour in the slot "
                f"starting {local:%Y-%m-%d %H:%M} (city time) (first row: {where})",
                file=raw.label,
                column="expected_orders_per_hour",
                valid=f"at most {ranges.MAX_ZONE_ORDERS_PER_HOUR:,.0f} per zone and slot",
            )
        )


def _restaurant_refs(
    c: _Checker, known: pd.Series | pd.Index | None, *, smallest_first: bool = False
) -> tuple[pd.Series, np.ndarray, np.ndarray | None]:
    """A table's restaurant_id column (demand, orders) with empty ids flagged and, given
    ``known`` (the restaurants' ids), unknown ones too; which rows are unknown; and each
    row's position in ``known`` (-1: unknown or empty; None without ``known``), found in
    the same Arrow lookup (at 73 million orders a second lookup took 5.5 s).

    The hint names five restaurants: the table's first five, or the five smallest ids
    with ``smallest_first`` (sorted only when a row is unknown)."""
    from .model import positions

    values = c.text("restaurant_id").astype(str)
    c.flag(
        values.eq(""), "restaurant_id", "empty restaurant_id", "a restaurant_id from restaurants"
    )
    if known is None:
        return values, np.zeros(len(values), dtype=bool), None
    index = known if isinstance(known, pd.Index) else pd.Index(known)
    at = positions(values, index, index_dtype(len(index)))
    unknown = (at < 0) & values.ne("").to_numpy()
    if unknown.any():
        values, unknown, at = _unguarded(values, unknown, at, index)
    if unknown.any():
        # distinct: a duplicated id (refused too) was shown twice ('R1', 'R1', ...)
        ids = sorted(known) if smallest_first else itertools.islice(iter(known), 10_000)
        five = list(itertools.islice(dict.fromkeys(ids), 5))
        sample = ", ".join(repr(r) for r in five)
        more = "" if len(known) <= 5 else f", ... ({len(known)} restaurants)"
        c.flag(
            unknown,
            "restaurant_id",
            "unknown restaurant",
            f"a restaurant_id from restaurants ({sample}{more})",
        )
    return values, unknown, at


def _unguarded(
    values: pd.Series, unknown: np.ndarray, at: np.ndarray, index: pd.Index
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """``values`` with each unknown id that is a known one (in ``index``) behind the
    formula guard of a CSV cell (`rebalance.escape.csv_cell`: a ``'`` before ``=``,
    ``+``, ``-``, ``@``, tab or CR, as `rebalance forecast` writes demand.csv and
    spreadsheets export) read as that id; which rows are still unknown; and each row's
    position in ``index`` (``at``, those ids' too). An id that is itself known is never
    changed."""
    from .escape import csv_uncell
    from .model import positions

    rows = np.flatnonzero(unknown & values.str.startswith("'").to_numpy(dtype=bool))
    if rows.size == 0:
        return values, unknown, at
    candidates = pd.Series([csv_uncell(v) for v in values.iloc[rows]], dtype=values.dtype)
    where = positions(candidates, index, at.dtype)
    found = where >= 0  # an unguarded value is itself, still unknown
    if not found.any():
        return values, unknown, at
    values = values.copy()
    values.iloc[rows[found]] = candidates[found].to_numpy(dtype=object)
    unknown, at = unknown.copy(), at.copy()
    unknown[rows[found]] = False
    at[rows[found]] = where[found]
    return values, unknown, at


def _demand_table(
    raw: _Raw, issues: list[Issue], restaurants: pd.DataFrame | None, timezone: str
) -> pd.DataFrame:
    """The optional per-slot demand table (CONTRACT section 7), checked row by row.

    Whether each ``slot_start`` is a slot boundary depends on the shift, so that check
    happens when the shift is known (`rebalance.model.slot_demand`); each row keeps
    ``where`` it came from so that error can still name the file and line.
    """
    c = _Checker(raw, issues)
    known = None if restaurants is None else restaurants["restaurant_id"]
    rid, _, _ = _restaurant_refs(c, known, smallest_first=True)
    if not isinstance(raw.frame["slot_start"].dtype, pd.DatetimeTZDtype):
        # a date alone would be midnight: an export that lost its times would set the
        # rate of a shift starting at 00:00, and be ignored in any other. Each distinct
        # text once (a shift's few slot starts over millions of rows), kept for the
        # timestamps' parse.
        codes, distinct = c._factorize("slot_start", c.text("slot_start").astype(str))
        c.flag(
            dates_alone(distinct)[codes],
            "slot_start",
            "a date without the slot's time",
            "the start of a slot, e.g. 2026-11-30T19:00 (city time) or 2026-11-30T18:00Z",
        )
    slot_start = c.timestamp("slot_start", timezone)
    rate = c.number(
        "expected_orders_per_hour",
        lo=0,
        hi=ranges.MAX_ORDERS_PER_HOUR,
        valid=f"a finite number >= 0 and at most {ranges.MAX_ORDERS_PER_HOUR:,.0f}",
    )
    key = pd.DataFrame({"r": rid, "s": slot_start})
    dup = (key.duplicated(keep="first") & slot_start.notna() & rid.ne("")).to_numpy()
    c.flag(
        dup,
        "slot_start",
        "duplicate row for this restaurant_id and slot_start",
        "one row per restaurant and slot",
    )
    n = len(raw.frame)
    # where each row came from (the file's own line, or the Parquet row), for errors
    # found once the shift is known
    unit = "row" if raw.lines is None or raw.rows else "line"
    where = pd.Categorical.from_codes(
        np.zeros(n, dtype=np.int8), categories=[f"{raw.label}, {unit}"]
    )
    # the file's own lines (blank lines and multi-line values counted), or Parquet rows
    line = raw.lines if raw.lines is not None else np.arange(n, dtype=np.int64) + 1
    return pd.DataFrame(
        {
            "restaurant_id": rid.reset_index(drop=True).astype(object),
            "slot_start": slot_start.reset_index(drop=True),
            "expected_orders_per_hour": rate.reset_index(drop=True).astype(float),
            "where": where,
            "line": np.asarray(line, dtype=np.int64),
        }
    )
