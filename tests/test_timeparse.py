"""Timestamps: ISO 8601, city time without an offset, DST edges, quarter-hour rounding."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rebalance import timeparse
from rebalance.errors import TimestampError
from rebalance.timeparse import (
    factorize_text,
    floor_quarter_hour,
    in_timezone,
    out_of_range,
    parse_iso,
    parse_timestamp,
    parse_timestamps,
    parse_timestamps_in_range,
)


def test_naive_is_city_time_and_offset_is_kept():
    """'19:00' is Paris time; '19:00+00:00' and 'Z' keep their own offset."""
    values = pd.Series(["2026-11-30T19:00", "2026-11-30T19:00+00:00", "2026-11-30T19:00Z"])
    got = parse_timestamps(values, "Europe/Paris")
    assert got.tolist() == [
        pd.Timestamp("2026-11-30T18:00Z"),
        pd.Timestamp("2026-11-30T19:00Z"),
        pd.Timestamp("2026-11-30T19:00Z"),
    ]


def test_space_separator_seconds_and_fractions():
    """A space instead of T, seconds and fractions of a second are all ISO 8601."""
    got = parse_timestamps(pd.Series(["2026-11-30 19:00:30.5"]), "UTC")
    assert got[0] == pd.Timestamp("2026-11-30T19:00:30.5Z")


@pytest.mark.parametrize("text", ["30/11/2026 19:00", "tonight", "", "2026-13-01T10:00", "19:00"])
def test_unparseable_is_nat(text):
    """Day-first dates, words, blanks, impossible months and bare times are not guessed at."""
    assert pd.isna(parse_timestamps(pd.Series([text]), "Europe/Paris")[0])


def test_repeated_values_parse_like_distinct_ones():
    """Parsing each distinct text once gives the same result as parsing every row."""
    values = pd.Series(["2026-11-30T19:00", "bad", "2026-11-30T20:00+02:00"] * 50)
    got = parse_timestamps(values, "Europe/Paris")
    assert got[0] == got[3] and pd.isna(got[1]) and got[2] == pd.Timestamp("2026-11-30T18:00Z")
    assert len(got) == 150


@pytest.mark.parametrize("rows", [3, 1 << 20])
def test_repeated_values_come_back_on_every_row_as_pandas_takes_them(monkeypatch, rows):
    """The parsed distinct timestamps go back to the rows a piece at a time, NaT
    included, exactly as pandas' take puts them; the Series owns its values."""
    from rebalance import timeparse

    monkeypatch.setattr(timeparse, "_TAKE_ROWS", rows)
    monkeypatch.setattr(timeparse, "_DISTINCT_FROM", 0)  # these few rows factorized too
    values = pd.Series(["2026-11-30T19:00", "bad", "2026-11-30T20:00+02:00", "2026-12-01"] * 7)
    codes, distinct = timeparse._distinct(values)
    parsed = timeparse._parse_timestamps(distinct, "Europe/Paris")
    got = timeparse._spread(parsed, codes, values.index)
    expected = pd.Series(parsed.array.take(codes), index=values.index)
    pd.testing.assert_series_equal(got, expected)
    assert got.dtype == "datetime64[ns, UTC]" and got.isna().sum() == 7
    got.iloc[0] = pd.Timestamp("2000-01-01T00:00Z")  # its own memory: parsed is untouched
    assert parsed.iloc[0] == pd.Timestamp("2026-11-30T18:00Z")
    # other units and zones go through pandas' take as before
    other = parsed.dt.tz_convert("Europe/Paris")
    assert timeparse._taken(other.array, codes).equals(other.array.take(codes))


def test_dst_gap_and_overlap():
    """02:30 on the spring-forward night moves forward; on the autumn night it is the first 02:30."""
    spring = parse_timestamp("2026-03-29T02:30", "Europe/Paris")
    autumn = parse_timestamp("2026-10-25T02:30", "Europe/Paris")
    assert spring == pd.Timestamp("2026-03-29T01:00Z")
    assert autumn == pd.Timestamp("2026-10-25T00:30Z")


def test_parse_timestamp_error_says_what_is_valid():
    """A bad single timestamp raises ValueError with an example of a valid one."""
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_timestamp("tonight", "Europe/Paris")


def test_floor_quarter_hour_in_city_time():
    """18:47 UTC+1 floors to 18:45 city time, whatever the server's timezone."""
    now = datetime(2026, 11, 30, 17, 47, 31, tzinfo=UTC)
    assert floor_quarter_hour(now, "Europe/Paris") == pd.Timestamp("2026-11-30T17:45Z")
    # Kathmandu is UTC+05:45: quarter hours there are not quarter hours in UTC.
    assert floor_quarter_hour(now, "Asia/Kathmandu") == pd.Timestamp("2026-11-30T17:45Z")
    assert floor_quarter_hour(datetime(2026, 11, 30, 17, 59, tzinfo=UTC), "Asia/Kolkata") == (
        pd.Timestamp("2026-11-30T17:45Z")
    )


def test_offset_after_a_time_is_still_read():
    """A date alone is city midnight; "-05" after a time is an offset."""
    got = parse_timestamps(pd.Series(["2026-11-30", "2026-11-30T19:00-05"]), "Europe/Paris")
    assert got[0] == pd.Timestamp("2026-11-29T23:00Z")
    assert got[1] == pd.Timestamp("2026-12-01T00:00Z")


def test_date_alone_refused_when_a_time_is_required():
    """A shift start needs a time: a date alone is refused with an example to copy."""
    with pytest.raises(ValueError, match=r"date without a time.*2026-11-30T19:00"):
        parse_timestamp("2026-11-30", "Europe/Paris", require_time=True)
    assert parse_timestamp("2026-11-30T00:00", "Europe/Paris", require_time=True) == (
        pd.Timestamp("2026-11-29T23:00Z")
    )


def test_a_date_alone_is_midnight_city_time_not_an_offset():
    """'2026-11-30' is midnight in the city: its '-30' is the day, not a UTC offset."""
    want = pd.Timestamp("2026-11-29T23:00Z")
    assert parse_timestamps(pd.Series(["2026-11-30"]), "Europe/Paris")[0] == want
    assert parse_timestamp("2026-11-30", "Europe/Paris") == want


def test_parse_iso_keeps_wall_time_naive_until_placed_in_a_city():
    """Text without an offset stays wall-clock time; in_timezone places it in each city."""
    wall = parse_iso(" 2026-11-30T19:00 ")
    assert wall.tzinfo is None
    assert in_timezone(wall, "Europe/Paris") == pd.Timestamp("2026-11-30T18:00Z")
    assert in_timezone(wall, "America/New_York") == pd.Timestamp("2026-12-01T00:00Z")
    aware = parse_iso("2026-11-30T19:00+01:00")
    assert in_timezone(aware, "America/New_York") == pd.Timestamp("2026-11-30T18:00Z")


def test_bad_timestamp_is_a_usage_error_and_a_value_error():
    """A bad timestamp is exit 2 on the command line and still a ValueError for callers."""
    with pytest.raises(TimestampError) as info:
        parse_iso("30/11/2026 19:00")
    assert isinstance(info.value, ValueError) and info.value.exit_code == 2
    assert "ISO 8601" in str(info.value)


@pytest.mark.parametrize("repeat", [1, 3])
def test_parse_in_range_is_parse_and_range_in_one_pass(repeat):
    """parse_timestamps_in_range gives what parse_timestamps and out_of_range give apart,
    for distinct texts and for texts repeating across rows."""
    texts = [
        "2026-11-30T19:00",
        "2026-11-30T19:00:00+01:00",
        "2026-10-25T02:30",  # autumn overlap in Paris
        "2026-03-29T02:30",  # spring gap in Paris
        "9999-12-31",
        "0001-01-01T00:00",
        "yesterday",
        "",
    ]
    values = pd.Series(texts * repeat, dtype="str")
    parsed, outside = parse_timestamps_in_range(values, "Europe/Paris")
    pd.testing.assert_series_equal(parsed, parse_timestamps(values, "Europe/Paris"))
    assert (outside == out_of_range(values)).all()
    assert outside.tolist() == [False, False, False, False, True, True, False, False] * repeat


@pytest.mark.parametrize(
    "chunks",
    [[["b", "a"], [], ["a", "c", "b"]], [[], ["x"]], [["only"]], [[]], []],
)
@pytest.mark.parametrize("split", [1, 10**9])
def test_factorize_text_from_arrow_chunks_is_pandas_factorize(chunks, split, monkeypatch):
    """Arrow's dictionary encoding over the chunks gives pandas' codes and distinct
    values, in one pass or in two halves on two threads."""
    import pyarrow as pa

    monkeypatch.setattr(timeparse, "_ENCODE_SPLIT_ROWS", split)

    values = pd.Series(
        pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()))
    ).astype(str)
    codes, distinct = factorize_text(values)
    expected_codes, expected = pd.factorize(values, use_na_sentinel=False)
    assert codes.tolist() == expected_codes.tolist()
    pd.testing.assert_series_equal(distinct, pd.Series(expected, dtype=values.dtype))


def test_factorize_text_keeps_pandas_for_missing_values():
    """Text with missing values is factorized by pandas, NaN as a value of its own."""
    values = pd.Series(["a", None, "a"], dtype=object)
    codes, distinct = factorize_text(values)
    assert codes.tolist() == [0, 1, 0] and distinct.iloc[0] == "a" and pd.isna(distinct.iloc[1])


def test_factorize_text_in_halves_on_many_chunks(monkeypatch):
    """Halves encoded apart (values seen in both, values new to the second, chunks of
    unequal sizes) put together give pandas' first-appearance codes."""
    import pyarrow as pa

    monkeypatch.setattr(timeparse, "_ENCODE_SPLIT_ROWS", 1)
    rng = np.random.default_rng(5)
    for trial in range(50):
        words = [f"z{int(x):04d}" for x in rng.integers(0, 30, int(rng.integers(2, 400)))]
        cuts = np.sort(rng.integers(0, len(words), int(rng.integers(1, 12))))
        chunks = [words[a:b] for a, b in zip([0, *cuts], [*cuts, len(words)], strict=True)]
        values = pd.Series(
            pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()))
        )
        codes, distinct = factorize_text(values)
        expected_codes, expected = pd.factorize(np.array(words, dtype=object))
        assert codes.tolist() == expected_codes.tolist(), trial
        assert distinct.tolist() == list(expected), trial


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "2026-10-25T02:30",
            "2026-10-25 02:30 comes twice in Europe/Paris (the clocks go back); taken as the "
            "first, 02:30 CEST; write 2026-10-25T02:30+01:00 for the second",
        ),
        (
            "2026-03-29T02:30",
            "2026-03-29 02:30 does not exist in Europe/Paris (the clocks skip that hour); "
            "taken as 03:00 CEST",
        ),
        ("2026-10-25T02:30+01:00", None),  # the offset says which
        ("2026-10-25T03:30", None),
        ("2026-11-30T19:00", None),
        ("not a time", None),
    ],
)
def test_clock_change_note(value, expected):
    """A time without an offset in the hour a clock change repeats or skips gets a note
    saying which time it was taken as (and how to write the other); others get none."""
    from rebalance.timeparse import clock_change_note

    assert clock_change_note(value, "Europe/Paris") == expected


def test_a_missing_time_is_said_to_be_missing_not_out_of_range():
    """shift_start=pd.NaT (a notebook's empty cell) said "NaT is outside the supported
    years 1678 to 2261". It now says no time was given and what to give."""
    with pytest.raises(TimestampError, match=r"^no time given \(NaT\); expected e\.g\."):
        parse_timestamp(pd.NaT, "Europe/Paris")


# ------------------------------------------------------- a few texts, one at a time

_TEXTS = st.builds(
    "{}-{}-{}{}{}:{}{}{}{}".format,
    st.sampled_from(["2026", "0001", "1677", "1678", "2261", "2262", "9999", "٢٠٢٦", "20 6"]),
    st.sampled_from(["01", "02", "03", "10", "11", "12", "00", "13", "1"]),
    st.sampled_from(["01", "25", "29", "30", "31", "00", "32"]),
    st.sampled_from(["T", " ", "t", "x", "T\n"]),
    st.sampled_from(["00", "01", "02", "03", "19", "23", "24", "2"]),
    st.sampled_from(["00", "30", "59", "60", "5"]),
    st.sampled_from(["", ":00", ":59", ":60", ":00.5", ":00.123456789", ":00.1234567891"]),
    st.sampled_from(["", "Z", "z", "+01:00", "+0100", "+01", "-05:30", "+14:00", "+99:99", "+1"]),
    st.sampled_from(["", " ", "\n", "x"]),
)
_DATES = st.builds(
    "{}-{}-{}".format,
    st.sampled_from(["2026", "1677", "9999"]),
    st.sampled_from(["03", "10", "11"]),
    st.sampled_from(["29", "30", "31", "25"]),
)
_VALUES = st.one_of(_TEXTS, _DATES, st.text(max_size=12), st.none(), st.integers(0, 3000))


@settings(max_examples=120, deadline=None)
@example(values=["٢٠٢٦-01-01T00:00"], timezone="Europe/Paris")  # out of range, as pandas says
@example(values=["2026-10-25T02:30", "2026-03-29T02:30", "2262-01-01"], timezone="Europe/Paris")
@example(values=["2026-11-30T19:00\n", " 2026-11-30T19:00Z", None, 2026], timezone="UTC")
@given(
    values=st.lists(_VALUES, min_size=1, max_size=8),
    timezone=st.sampled_from(["Europe/Paris", "America/New_York", "UTC", "Australia/Lord_Howe"]),
)
def test_a_few_texts_parse_as_pandas_parses_many(values, timezone):
    """A plan's few times are tested one text at a time in Python (pandas' string
    methods cost milliseconds each whatever the length): the same timestamps, NaT and
    years out of range as the vectorised way, on ISO texts and near misses (impossible
    dates and hours, DST gaps and overlaps, years at pandas' limits, offsets of every
    form, blanks, non-ASCII digits), missing values and numbers."""
    series = pd.Series(values, dtype=object)
    few = timeparse._parse_timestamps(series, timezone)
    few_outside = timeparse._out_of_range(series)
    many_before = timeparse._FEW
    timeparse._FEW = -1  # every length the vectorised way
    try:
        many = timeparse._parse_timestamps(series, timezone)
        many_outside = timeparse._out_of_range(series)
    finally:
        timeparse._FEW = many_before
    pd.testing.assert_series_equal(few, many)
    assert few_outside.tolist() == many_outside.tolist()


def test_a_few_texts_at_the_clock_changes_and_limits():
    """The cases the fast way could most plausibly get wrong, spelled out: the autumn
    overlap is its first occurrence, the spring gap moves forward, the last supported
    year is read and the next refused."""
    texts = ["2026-10-25T02:30", "2026-03-29T02:30", "2261-12-31T23:59Z", "2262-01-01T00:00"]
    got = parse_timestamps(pd.Series(texts), "Europe/Paris")
    assert got.tolist()[:3] == [
        pd.Timestamp("2026-10-25T00:30Z"),
        pd.Timestamp("2026-03-29T01:00Z"),  # 03:00, summer time
        pd.Timestamp("2261-12-31T23:59Z"),
    ]
    assert pd.isna(got[3]) and out_of_range(pd.Series(texts)).tolist() == [0, 0, 0, 1]
