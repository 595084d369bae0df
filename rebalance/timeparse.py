"""Timestamps: ISO 8601, and a timestamp without offset is in the city's timezone."""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .cores import threads
from .errors import TimestampError

__all__ = [
    "clock_text",
    "comes_twice",
    "floor_quarter_hour",
    "has_offset",
    "in_timezone",
    "looks_iso",
    "out_of_range",
    "parse_iso",
    "parse_timestamp",
    "parse_timestamps",
    "parse_timestamps_in_range",
    "repeated_hour_notes",
]

#: Years a timestamp may have: pandas holds nanoseconds in int64 (1677-09-21 to
#: 2262-04-11); whole years inside that, with room for any timezone offset.
YEARS = (1678, 2261)

# An offset after a time of day (a date alone, "2026-11-30", has none: its "-30" is the day).
_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# A plausible ISO 8601 date (or date-time); rejects things pandas would guess at.
_ISO_RE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)?)?$"
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: A clock time alone (``19:00``, ``7:30:00``): what an operator types for "tonight".
_TIME_ONLY = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?")


def parse_timestamps(values: pd.Series, timezone: str) -> pd.Series:
    """Parse strings to UTC timestamps, vectorised; unparseable values become NaT.

    Values with an offset (``Z``, ``+01:00``) keep it; the others are local time in
    ``timezone`` (on the autumn DST overlap the first occurrence is taken, and a time
    in the spring gap is moved forward, as a wall clock would).
    """
    # Availability windows repeat a few hundred distinct times over 100,000 couriers:
    # parse each distinct text once and take the results back (same values, ~20x faster).
    codes, distinct = _distinct(values)
    return _spread(_parse_timestamps(distinct, timezone), codes, values.index)


def parse_timestamps_in_range(
    values: pd.Series, timezone: str, factorized: tuple[np.ndarray, pd.Series] | None = None
) -> tuple[pd.Series, np.ndarray]:
    """``(parse_timestamps(values, timezone), out_of_range(values))`` with one pass
    over the distinct texts instead of two. ``factorized``: `factorize_text` of
    ``values`` when the caller made it already."""
    codes, distinct = _distinct(values, factorized)
    outside = _out_of_range(distinct)
    parsed = _spread(_parse_timestamps(distinct, timezone), codes, values.index)
    return parsed, outside if codes is None else outside[codes]


def _distinct(
    values: pd.Series, factorized: tuple[np.ndarray, pd.Series] | None = None
) -> tuple[np.ndarray | None, pd.Series]:
    """The codes and distinct values of ``values`` (`factorize_text`, or ``factorized``
    when given), or (None, ``values``) when no value repeats and the values themselves
    are cheaper."""
    if factorized is None and len(values) < _DISTINCT_FROM:
        return None, values  # a plan's few times: factorizing costs more than it saves
    codes, uniques = factorize_text(values) if factorized is None else factorized
    return (codes, uniques) if len(uniques) < len(values) else (None, values)


def _spread(parsed: pd.Series, codes: np.ndarray | None, index: pd.Index) -> pd.Series:
    """Timestamps parsed from `_distinct` values, back on every row."""
    if codes is None:
        return parsed
    return pd.Series(_taken(parsed.array, codes), index=index, copy=False)


#: Rows `_taken` looks up at a time.
_TAKE_ROWS = 1 << 20


def _taken(times: Any, codes: np.ndarray) -> Any:
    """``times.take(codes)`` of UTC nanosecond timestamps, made a million rows at a time
    into one int64 array that becomes the result without a copy.

    pandas' take widened the codes to int64 and the Series copied the result: at 10M
    couriers three 80 MB arrays per column, each memory new to the process (0.17-0.35 s
    a column on this project's VM against ~0.03 s; benchmarks/README.md). The array is
    wrapped by pandas' own constructor of a datetime array from its values; a pandas
    without it gets the copy."""
    if times.dtype != "datetime64[ns, UTC]":
        return times.take(codes)
    values = np.asarray(times.asi8)
    out = np.empty(len(codes), dtype=np.int64)
    for lo in range(0, len(codes), _TAKE_ROWS):
        hi = min(lo + _TAKE_ROWS, len(codes))
        # "clip": codes are valid positions, and numpy then writes into ``out`` unbuffered
        np.take(values, codes[lo:hi], out=out[lo:hi], mode="clip")
    stamps = out.view("M8[ns]")
    try:
        return pd.arrays.DatetimeArray._simple_new(stamps, dtype=times.dtype)
    except (AttributeError, TypeError, ValueError):  # not in this pandas: a copy
        return pd.array(stamps, dtype=times.dtype)


def factorize_text(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``pd.factorize(values, use_na_sentinel=False)``, the distinct values as a Series
    of the same dtype; for an Arrow-backed text column without missing values by
    Arrow's dictionary encoding straight from the chunks it was read in (int32 codes,
    ~3x pandas' on 10M rows; see `_encode`)."""
    import pyarrow as pa

    array = values.array
    if hasattr(array, "__arrow_array__") and not values.hasnans:
        chunked = array.__arrow_array__()
        if isinstance(chunked, pa.ChunkedArray) and len(chunked):
            codes, dictionary = _encode(chunked)
            return codes, pd.Series(dictionary, dtype=values.dtype)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, pd.Series(uniques, dtype=values.dtype)


#: Rows from which `_encode` splits the work over two threads.
_ENCODE_SPLIT_ROWS = 1_000_000


def _encode(chunked: Any) -> tuple[np.ndarray, Any]:
    """Codes (int32) and distinct values, in order of first appearance, of a chunked
    Arrow text array without nulls.

    From `_ENCODE_SPLIT_ROWS` rows, where the process may use two cores
    (`rebalance.cores`), each half is encoded on a thread of its own (Arrow releases the
    GIL): the second half's distinct values not in the first come after the first's, in
    their own order of appearance, which is the order of appearance over the whole
    array. 0.39 s -> 0.2 s on 10M zone ids.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = [chunk for chunk in chunked.chunks if len(chunk)]
    if len(chunked) < _ENCODE_SPLIT_ROWS or len(chunks) < 2 or threads(2) < 2:
        return _codes(chunked.dictionary_encode())
    rows = np.cumsum([len(chunk) for chunk in chunks])
    cut = min(max(int(np.searchsorted(rows, rows[-1] // 2)), 1), len(chunks) - 1)
    halves = [
        pa.chunked_array(chunks[:cut], chunked.type),
        pa.chunked_array(chunks[cut:], chunked.type),
    ]
    with ThreadPoolExecutor(2, thread_name_prefix="encode") as pool:
        (first, seen), (second, found) = pool.map(lambda h: _codes(h.dictionary_encode()), halves)
    where = pc.index_in(found, value_set=seen)
    new = where.is_null().to_numpy(zero_copy_only=False)
    onto = where.fill_null(0).to_numpy().astype(np.int64)
    onto[new] = len(seen) + np.arange(int(new.sum()))
    codes = np.concatenate([first, onto.astype(np.int32)[second]])
    return codes, pa.concat_arrays([seen, found.filter(pa.array(new))])


def _codes(encoded: Any) -> tuple[np.ndarray, Any]:
    """Codes and dictionary of a chunked dictionary array. Arrow's encoding of a chunked
    array gives every chunk the same dictionary (one buffer): then no unifying, which
    costs as much as a third of the encoding."""
    chunks = [chunk for chunk in encoded.chunks if len(chunk)]
    first = chunks[0].dictionary

    def where(dictionary: Any) -> list[int]:
        buffers = [b.address if b is not None else 0 for b in dictionary.buffers()]
        return [len(dictionary), dictionary.offset, *buffers]

    shared = where(first)
    if any(where(chunk.dictionary) != shared for chunk in chunks[1:]):
        chunks = [chunk for chunk in encoded.unify_dictionaries().chunks if len(chunk)]
        first = chunks[0].dictionary
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in chunks])
    return codes, first


def looks_iso(values: pd.Series) -> np.ndarray:
    """Which texts are shaped as the ISO 8601 dates and times `parse_timestamps` reads
    (whether or not the date exists): the others are reported as unreadable."""
    text = values.astype("string").fillna("")
    return text.str.fullmatch(_ISO_RE).fillna(False).to_numpy(dtype=bool)


def dates_alone(values: pd.Series) -> np.ndarray:
    """Which texts are a date alone (``2026-11-30``), blanks around allowed: read as
    midnight, an export that lost its times would pass. The pattern is tried only where
    the text is short enough to be one (over the 1.2 million distinct times of 7.9
    million orders, pandas' regex on every text took 1 s)."""
    text = values.astype("string").fillna("")
    found = np.zeros(len(text), dtype=bool)
    short = text.str.len().to_numpy() <= 16
    if short.any():
        match = text[short].str.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*")
        found[short] = match.fillna(False).to_numpy(bool)
    return found


def has_offset(values: pd.Series) -> np.ndarray:
    """Which texts end in a UTC offset (``Z``, ``+01:00``) after a time of day: the
    others, written without one, are city time (wall-clock)."""
    text = values.astype("string").fillna("").str.strip()
    return text.str.contains(_OFFSET, regex=True).fillna(False).to_numpy(dtype=bool)


#: Texts up to which `_parse_timestamps` and `_out_of_range` test each text in Python
#: rather than by pandas' string methods. A plan folder's columns hold a few distinct
#: times, and each string method costs a fixed ~0.1-0.3 ms whatever the length: 3
#: times took 4-14 ms, most of reading a small plan (read_plan, the Slack app's
#: answers, every view). Both ways give the same answers (tests/test_timeparse.py);
#: 200 texts take 1.6 ms against 7.7 ms, 1,000 4.5 ms against 9.4 ms, 3,000 about
#: the same.
_FEW = 1000
#: Rows from which `_distinct` factorizes a column (fewer are parsed as they are).
_DISTINCT_FROM = 64
# `_ISO_RE` and `_OFFSET` as pandas applies them to its text (Python's `re`, where \d
# is any decimal digit: "٢٠٢٦-01-01" is shaped as ISO 8601, and out of range below)
_ISO_TEXT = re.compile(_ISO_RE)
_OFFSET_TEXT = re.compile(_OFFSET)


def _parse_timestamps(values: pd.Series, timezone: str) -> pd.Series:
    if len(values) <= _FEW:
        return _parse_few(values, timezone)
    text = values.astype("string").fillna("")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    iso = looks_iso(text) & ~out_of_range(text)
    offset = has_offset(text)
    aware = iso & offset
    naive = iso & ~offset
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        out[aware] = parsed.dt.as_unit("ns")
    if naive.any():
        parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        ok = parsed.notna().to_numpy()
        local = (
            parsed[ok]
            .dt.as_unit("ns")
            .dt.tz_localize(
                timezone, ambiguous=np.ones(int(ok.sum()), dtype=bool), nonexistent="shift_forward"
            )
        )
        idx = text[naive].index[ok]
        out[idx] = local.dt.tz_convert("UTC")
    return out


def out_of_range(values: pd.Series) -> np.ndarray:
    """Which ISO 8601 texts name a year outside `YEARS` (9999-12-31 as "forever", 0001-...)."""
    # each distinct text once (a demand table repeats 8 slot starts over 400,000 rows)
    codes, distinct = _distinct(values)
    outside = _out_of_range(distinct)
    return outside if codes is None else outside[codes]


def _parse_few(values: pd.Series, timezone: str) -> pd.Series:
    """`_parse_timestamps` of up to `_FEW` texts: the same tests, one text at a time,
    and pandas' same parsing of the texts that pass them."""
    texts = values.astype("string").fillna("").tolist()
    # ISO 8601 in the supported years; an offset after the time is aware (such a text
    # has no blanks around it: `has_offset`'s strip changes nothing)
    iso = [i for i, t in enumerate(texts) if _ISO_TEXT.fullmatch(t) and _year_inside(t)]
    offset = [bool(_OFFSET_TEXT.search(texts[i])) for i in iso]
    aware = [i for i, o in zip(iso, offset, strict=True) if o]
    naive = [i for i, o in zip(iso, offset, strict=True) if not o]
    out = np.full(len(texts), np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    if aware:
        parsed = pd.to_datetime(
            [texts[i] for i in aware], format="ISO8601", utc=True, errors="coerce"
        )
        out[aware] = parsed.as_unit("ns").asi8
    if naive:
        parsed = pd.to_datetime([texts[i] for i in naive], format="ISO8601", errors="coerce")
        ok = parsed.notna()
        local = (
            parsed[ok]
            .as_unit("ns")
            .tz_localize(
                timezone, ambiguous=np.ones(int(ok.sum()), dtype=bool), nonexistent="shift_forward"
            )
        )
        out[np.asarray(naive)[ok]] = local.tz_convert("UTC").asi8
    stamps = pd.Series(out.view("M8[ns]"), index=values.index, copy=False)
    return stamps.dt.tz_localize("UTC")


def _year_inside(iso: str) -> bool:
    """Whether an ISO 8601 text's year (its first four digits) is one of `YEARS`; digits
    other than 0-9 are no year (`pd.to_numeric` reads none)."""
    year = iso[:4]
    return year.isascii() and YEARS[0] <= int(year) <= YEARS[1]


def _out_of_range(values: pd.Series) -> np.ndarray:
    if len(values) <= _FEW:
        texts = values.astype("string").fillna("").tolist()
        return np.array(
            [bool(_ISO_TEXT.fullmatch(t)) and not _year_inside(t) for t in texts], dtype=bool
        )
    text = values.astype("string").fillna("")
    year = pd.to_numeric(text.str.slice(0, 4), errors="coerce")
    iso = text.str.fullmatch(_ISO_RE).fillna(False).to_numpy(dtype=bool)
    inside = year.between(*YEARS).fillna(False).to_numpy(dtype=bool)
    return iso & ~inside


def parse_timestamp(value: Any, timezone: str, *, require_time: bool = False) -> pd.Timestamp:
    """One timestamp (ISO 8601 text, datetime or Timestamp) as an aware UTC Timestamp;
    without an offset it is wall-clock time in ``timezone`` (`in_timezone`).

    A date alone (``2026-11-30``) is midnight city time, unless ``require_time``: then
    it is refused, as the command line does for a shift start (a forgotten time is far
    likelier than a shift starting at midnight). Raises `TimestampError` (a ValueError)
    with a message an operator can act on.
    """
    if value is pd.NaT:  # a missing time (a frame's empty cell), not a year out of range
        raise TimestampError(
            "no time given (NaT); expected e.g. '2026-11-30T19:00' (city time) or "
            "'2026-11-30T19:00+01:00'"
        )
    if isinstance(value, pd.Timestamp | datetime):
        ts = pd.Timestamp(value)
        if not YEARS[0] <= ts.year <= YEARS[1]:
            raise TimestampError(f"{ts} is outside the supported years {YEARS[0]} to {YEARS[1]}")
        return in_timezone(ts, timezone)
    return in_timezone(parse_iso(value, require_time=require_time, timezone=timezone), timezone)


def parse_iso(
    value: Any, *, require_time: bool = False, timezone: str | None = None
) -> pd.Timestamp:
    """ISO 8601 text as a Timestamp: aware when the text has an offset, else naive
    (a wall-clock time, for `in_timezone` to place in a city's timezone). A date alone
    is midnight, or with ``require_time`` refused (see `parse_timestamp`). A time alone
    is refused with today's date (in ``timezone``, else this machine's) in its example.

    Raises `TimestampError` (a ValueError) with a message an operator can act on.
    """
    text = str(value).strip()
    if clock := _TIME_ONLY.fullmatch(text):
        today = pd.Timestamp.now(tz=timezone) if timezone else pd.Timestamp.now()
        where = f"today in {timezone}" if timezone else "today"
        raise TimestampError(
            f"{text!r} is a time without a date; give the date too, e.g. "
            f"'{today:%Y-%m-%d}T{int(clock[1]):02d}{text[len(clock[1]) :]}' ({where})"
        )
    if require_time and _DATE_ONLY.fullmatch(text):
        raise TimestampError(
            f"{text!r} is a date without a time; give the time too, e.g. '{text}T19:00' "
            f"(city time), or '{text}T00:00' for midnight"
        )
    if out_of_range(pd.Series([text]))[0]:
        raise TimestampError(
            f"{text!r} is outside the supported years {YEARS[0]} to {YEARS[1]}; "
            "expected e.g. '2026-11-30T19:00'"
        )
    if re.fullmatch(_ISO_RE, text):
        with contextlib.suppress(ValueError):
            return pd.Timestamp(text).as_unit("ns")
    raise TimestampError(
        f"{text!r} is not an ISO 8601 timestamp; expected e.g. '2026-11-30T19:00' "
        "(city time) or '2026-11-30T19:00+01:00'"
    )


def clock_text(local: pd.Timestamp, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``local`` (city time) as ``fmt``, with its UTC offset where that clock time comes
    twice (``2026-10-25 02:30+01:00``: the autumn night has two 02:30)."""
    text = local.strftime(fmt)
    if comes_twice(local):
        offset = local.strftime("%z")
        return f"{text}{offset[:3]}:{offset[3:5]}"
    return text


def comes_twice(local: pd.Timestamp) -> bool:
    """Whether ``local``'s clock time (city time) comes twice that day in its timezone:
    the hour the clocks go back over. False for a time without a timezone."""
    if local.tz is None:
        return False
    try:
        local.tz_localize(None).tz_localize(local.tz, ambiguous="raise")
    except (TypeError, ValueError):  # ambiguous (pytz's and pandas' errors are ValueErrors)
        return True
    return False


def clock_change_note(value: Any, timezone: str) -> str | None:
    """What an operator should know when a time written without an offset falls in the
    hour a clock change repeats or skips in ``timezone`` (`in_timezone` then takes the
    first of the two, or moves it to the end of the gap); None otherwise."""
    try:
        ts = parse_iso(value)
    except TimestampError:
        return None
    if ts.tzinfo is not None:
        return None  # the offset says which
    first = ts.tz_localize(timezone, ambiguous=True, nonexistent="NaT")
    second = ts.tz_localize(timezone, ambiguous=False, nonexistent="NaT")
    shown = f"{ts:%Y-%m-%d %H:%M}"
    if pd.isna(first):
        moved = in_timezone(ts, timezone).tz_convert(timezone)
        return (
            f"{shown} does not exist in {timezone} (the clocks skip that hour); "
            f"taken as {moved:%H:%M %Z}"
        )
    if first != second:
        later = second.tz_convert(timezone)
        return (
            f"{shown} comes twice in {timezone} (the clocks go back); taken as the first, "
            f"{first:%H:%M %Z}; write {later.isoformat(timespec='minutes')} for the second"
        )
    return None


def repeated_hour_notes(
    placed: pd.Series, timezone: str, what: str = "orders", column: str = "placed_at"
) -> list[str]:
    """What to say about times read from wall-clock text without an offset (``placed``:
    the UTC instants they were read as) that fall in an hour the clocks go back over:
    such a time names two instants, and the first was taken (`in_timezone`), so the
    second hour looks empty and the first holds both. One note per night, empty when
    none falls there. ``what``: the rows' noun; ``column``: where the times are."""
    stamps = pd.Series(placed).dropna()
    if stamps.empty:
        return []
    tz = ZoneInfo(timezone)
    stamps = stamps.dt.tz_convert("UTC")
    wall = stamps.dt.tz_convert(tz).dt.tz_localize(None)
    again = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    twice = again.isna().to_numpy()
    if not twice.any():
        return []
    notes = []
    for day, count in wall[twice].dt.normalize().value_counts().sort_index().items():
        first = stamps[twice][wall[twice].dt.normalize() == day].min()
        change = _next_change(first, tz)
        before = (change - pd.Timedelta(1, "ns")).tz_convert(tz)
        after = change.tz_convert(tz)
        lo, hi = after.tz_localize(None), before.tz_localize(None).ceil("min")
        example = (first + (before.utcoffset() - after.utcoffset())).tz_convert(tz)
        one = count == 1
        notes.append(
            f"{count:,} {what.removesuffix('s') if one else what} placed between {lo:%H:%M} "
            f"and {hi:%H:%M} on {day:%a %d %b %Y} {'has' if one else 'have'} no UTC offset, "
            "and that night the clocks show those times twice: "
            f"{'it was' if one else 'all were'} counted at the first ({before:%Z}), "
            f"{'not' if one else 'none'} at the second ({after:%Z}). Give {column} with its "
            f"offset (e.g. {example.isoformat(timespec='seconds')}) to count each where it "
            "belongs."
        )
    return notes


def _next_change(ts: pd.Timestamp, tz: ZoneInfo) -> pd.Timestamp:
    """The first instant after ``ts`` at which ``tz``'s UTC offset changes (within a
    day: ``ts`` is in the hour before a change), to the minute."""
    minutes = pd.date_range(ts.floor("min"), periods=24 * 60 + 1, freq="min", tz="UTC")
    offsets = minutes.tz_convert(tz).tz_localize(None) - minutes.tz_localize(None)
    changed = np.flatnonzero(offsets != offsets[0])
    return minutes[int(changed[0])] if changed.size else ts


def in_timezone(ts: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """``ts`` as an aware UTC Timestamp: a naive one is wall-clock time in ``timezone``
    (on the autumn DST overlap the first occurrence, a spring-gap time moved forward)."""
    if ts.tzinfo is None:
        ts = ts.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert("UTC").as_unit("ns")


def floor_quarter_hour(now: datetime, timezone: str) -> pd.Timestamp:
    """``now`` rounded down to the quarter hour in the city's timezone, as UTC."""
    local = (
        pd.Timestamp(now).tz_convert(ZoneInfo(timezone))
        if pd.Timestamp(now).tzinfo
        else (pd.Timestamp(now).tz_localize(timezone))
    )
    floored = local.replace(second=0, microsecond=0, nanosecond=0)
    floored = floored - timedelta(minutes=floored.minute % 15)
    return floored.tz_convert("UTC").as_unit("ns")
