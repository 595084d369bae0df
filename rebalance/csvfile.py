"""A frame's CSV text as pandas writes it, built by Arrow kernels instead of per cell.

`csv_bytes` returns, byte for byte, what
``csv_frame(frame, controls=True).to_csv(index=False, lineterminator="\\n")`` encodes
to in UTF-8:

- text cells get their control and bidi characters written out, reversibly
  (`rebalance.escape.csv_controls`: ``\\x1b``), then the formula guard of
  `rebalance.escape.csv_cell` (a leading ``'``);
- missing values are empty cells;
- floats are written as numpy's ``astype(str)`` writes them (what pandas calls), the
  shortest text that reads back as the same number (``60.0``, ``1e-05``, ``inf``);
- integers and booleans as Python's ``str``;
- a cell is quoted when it holds a character that the running Python's `csv` writer
  quotes (asked once: ``,``, ``"`` and ``\\n`` with the ``\\n`` line ending of 3.11),
  and ``"`` inside it is doubled.

Why: pandas hands every cell to the `csv` module as a Python object. At 10,000 zones
and 1M couriers the plan folder's moves.csv (146,270 rows) and zones.csv (22 MB, the
pause lists) took 0.78 s that way, formula guard included, of a ~10 s plan; here 0.17 s.

Frames this does not cover go through pandas, so the result is the same either way:
a single column (the `csv` module quotes an empty row), columns of dates, categories,
nullable or object numbers. `tests/test_csvfile.py` compares the two on hostile text.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .escape import CELL_BREAK, CONTROL_CLASS, FORMULA_STARTS, csv_controls, csv_frame
from .texthash import value_bytes

__all__ = ["csv_bytes"]

#: `rebalance.escape.csv_cell` as a pattern: at the cell's start or after a
#: `CELL_BREAK`, any number of ' then a formula start (a ' goes before them).
_FORMULA = f"(^|{re.escape(CELL_BREAK)})('*[" + "".join(re.escape(c) for c in FORMULA_STARTS) + "])"


@functools.cache
def _quoted_characters() -> str:
    """The characters that make the `csv` module (QUOTE_MINIMAL, ``\\n`` line ending,
    pandas' settings) quote a cell, asked of the running Python."""
    found = []
    for c in map(chr, range(128)):  # every ASCII character (the byte test needs ASCII)
        buffer = io.StringIO()
        try:
            csv.writer(buffer, lineterminator="\n").writerow([f"a{c}b", "x"])
        except csv.Error:  # a character this Python cannot write: pandas would fail too
            continue
        if buffer.getvalue().startswith('"'):
            found.append(c)
    return "".join(found)


def _pandas(frame: pd.DataFrame) -> bytes:
    return csv_frame(frame, controls=True).to_csv(index=False, lineterminator="\n").encode("utf-8")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``csv_frame(frame, controls=True).to_csv(index=False, lineterminator="\\n")`` as
    UTF-8 bytes: the plan files, and the copies of them posted to Slack."""
    if frame.shape[1] < 2 or not all(isinstance(c, str) for c in frame.columns):
        return _pandas(frame)
    makers = [_cell_maker(frame.iloc[:, i]) for i in range(frame.shape[1])]
    if any(make is None for make in makers):
        return _pandas(frame)
    header = ",".join(_quote_one(str(c)) for c in frame.columns) + "\n"
    if len(frame) == 0:
        return header.encode("utf-8")
    try:
        cells = [make() for make in makers if make is not None]
    except (pa.ArrowException, UnicodeError):  # text Arrow cannot hold: pandas says what
        return _pandas(frame)
    # the line ending goes on the last cell: last + "\n" + "" (a short column)
    cells[-1] = pc.binary_join_element_wise(cells[-1], large_text(""), large_text("\n"))
    lines = pc.binary_join_element_wise(*cells, large_text(","))
    return header.encode("utf-8") + value_bytes(lines)[0].tobytes()


def large_text(value: str) -> pa.Scalar:
    """A large_string scalar (Arrow's joins want the type of the arrays joined)."""
    return pa.scalar(value, pa.large_string())


def _quote_one(text: str) -> str:
    if any(c in text for c in _quoted_characters()):
        return '"' + text.replace('"', '""') + '"'
    return text


def _cell_maker(column: pd.Series) -> Callable[[], pa.Array] | None:
    """A function giving the column's cells as large_string without nulls, or None when
    the column is of a kind left to pandas."""
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype):
        return lambda: _text_cells(arrow_text(column.array))
    if isinstance(dtype, np.dtype):
        if dtype == np.float64:
            return lambda: _float_cells(column.to_numpy())
        if dtype.kind in "iub":
            return lambda: pa.array(column.to_numpy().astype(str), pa.large_string())
        if dtype.kind == "O" and pd.api.types.infer_dtype(column, skipna=True) in (
            "string",
            "empty",
        ):
            values = column.to_numpy(dtype=object)
            return lambda: _text_cells(pa.array(values, pa.large_string(), from_pandas=True))
    return None


def arrow_text(values: object) -> pa.Array:
    """``values`` (a pandas text array) as one Arrow large_string array."""
    array = pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def _text_cells(text: pa.Array) -> pa.Array:
    """Controls written out, formula guard, then the csv module's quoting; missing
    values empty.

    Which cells need any is found for the whole column at once (by RE2 for the
    controls; with numpy from the bytes for the rest, whose characters are ASCII, never
    part of a longer UTF-8 sequence), so a column of ids costs no per-cell work; only the
    cells found are rewritten."""
    # RE2 over the column: a table of UTF-8 lead bytes would also take in "’", "–" or
    # "…", common in names, and send those cells through Python (a 10,000-zone
    # zones.csv: 0.10 s this way, 0.21 s that way, 0.06 s before controls were written)
    suspect = pc.fill_null(pc.match_substring_regex(text, CONTROL_CLASS), False)
    if pc.any(suspect).as_py():
        rows = np.flatnonzero(suspect.to_numpy(zero_copy_only=False))
        before = text.take(pa.array(rows)).to_pylist()
        after = [csv_controls(v) for v in before]
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        if changed:
            mask = np.zeros(len(text), dtype=bool)
            mask[rows[changed]] = True
            replacements = pa.array([after[i] for i in changed], pa.large_string())
            text = pc.replace_with_mask(text, pa.array(mask), replacements)
    data, offsets = value_bytes(text)
    starts, lengths = offsets[:-1], np.diff(offsets)
    first = data[np.minimum(starts, max(data.size - 1, 0))] if data.size else starts
    table = np.zeros(256, dtype=bool)
    table[list(b"'" + "".join(FORMULA_STARTS).encode())] = True
    maybe = bool((table[first] & (lengths > 0)).any())
    if not maybe and data.size > 1:  # a formula start after a list separator
        breaks = np.flatnonzero(data[:-1] == ord(CELL_BREAK))
        maybe = bool(table[data[breaks + 1]].any())
    if maybe:  # the exact rule decides
        text = pc.replace_substring_regex(text, pattern=_FORMULA, replacement="\\1'\\2")
        data, offsets = value_bytes(text)
    chars = _quoted_characters().encode()
    if chars:
        table = np.zeros(256, dtype=bool)
        table[list(chars)] = True
        at = np.flatnonzero(table[data])
        if at.size:
            quote = np.zeros(len(text), dtype=bool)
            quote[np.searchsorted(offsets, at, side="right") - 1] = True
            quoted = pc.binary_join_element_wise(
                large_text('"'),
                pc.replace_substring(text, '"', '""'),
                large_text('"'),
                large_text(""),
            )
            text = pc.if_else(pa.array(quote), quoted, text)
    return pc.fill_null(text, large_text(""))


def _float_cells(values: np.ndarray) -> pa.Array:
    """What numpy's ``values.astype(str)`` gives (pandas' call), by Python's float repr:
    the same shortest round-trip text (tests check it), 40% faster."""
    text = list(map(float.__repr__, values.tolist()))
    array = pa.array(text, pa.large_string())
    missing = np.isnan(values)
    if missing.any():
        array = pc.if_else(pa.array(missing), large_text(""), array)
    return array
