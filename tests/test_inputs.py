"""Loading and validating a data directory (CONTRACT section 1)."""

from __future__ import annotations

import itertools
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from util import REPO, VALID, city_with

from rebalance import Config, DataError, load
from rebalance.inputs import ROWS_PER_RULE


def problems(tmp_path, rule):
    """Load the valid city overlaid with bad/<rule> and return the error's problems."""
    with pytest.raises(DataError) as info:
        load(city_with(tmp_path, rule))
    return info.value.problems, str(info.value)


def test_valid_city_loads():
    """The valid sample loads with normalised statuses and defaults filled in."""
    inputs = load(VALID)
    assert list(inputs.zones["zone_id"]) == ["0001", "0002", "0003", "0004", "0005"]
    assert set(inputs.restaurants["status"]) == {"open", "closed"}
    assert inputs.zones["priority"].tolist() == [1.0, 1.5, 1.0, 1.0, 1.0]
    assert pd.isna(inputs.zones["max_couriers"][0]) and inputs.zones["max_couriers"][4] == 3
    assert set(inputs.couriers["status"]) == {"available", "busy", "offline"}
    assert len(inputs.sha256) == 64


def test_status_and_vehicle_are_categoricals_that_read_as_text(tmp_path):
    """status and vehicle come back as categoricals of their valid values (a byte a
    row at millions of couriers) that compare, count, edit and fingerprint as the text
    did; counts list only the values present."""
    from rebalance.inputs import fingerprint
    from rebalance.model import positions

    inputs = load(VALID)
    status, vehicle = inputs.couriers["status"], inputs.couriers["vehicle"]
    assert list(status.cat.categories) == ["available", "busy", "offline"]
    assert list(vehicle.cat.categories) == sorted(Config().vehicles)
    assert list(inputs.restaurants["status"].cat.categories) == ["open", "closed"]
    as_text = inputs.couriers.astype({"status": "str", "vehicle": "str"})
    assert (status == "available").tolist() == (as_text["status"] == "available").tolist()
    # the same fingerprint as the same content in text columns
    assert fingerprint(inputs.replace(couriers=as_text)) == inputs.sha256
    # positions of a categorical are those of its text
    index = pd.Index(sorted(Config().vehicles))
    assert positions(vehicle, index).tolist() == positions(as_text["vehicle"], index).tolist()
    # a what-if edits them in place with valid values
    edited = inputs.couriers.copy()
    edited.loc[edited.index[:2], "status"] = "offline"
    assert edited["status"].iloc[:2].tolist() == ["offline", "offline"]
    # counts: only what is there (no busy courier -> no "busy: 0")
    no_busy = inputs.replace(couriers=inputs.couriers[status != "busy"])
    assert "busy" not in no_busy.summary()["couriers_by_status"]
    assert sum(no_busy.summary()["couriers_by_status"].values()) == int((status != "busy").sum())


def test_ids_with_leading_zeros_stay_strings():
    """'0042'-style ids are kept as text everywhere, never turned into 42."""
    inputs = load(VALID)
    assert inputs.zones["zone_id"][0] == "0001"
    assert inputs.restaurants["zone_id"][0] == "0001"
    assert inputs.couriers["zone_id"].iloc[0] == "0005"


def test_timestamps_without_offset_are_city_time():
    """A naive timestamp is read in the city's timezone; an offset one keeps its offset."""
    inputs = load(VALID)
    c = inputs.couriers.set_index("courier_id")
    assert c.loc["C001", "available_from"] == pd.Timestamp("2026-11-30T17:00Z")
    assert c.loc["C003", "available_from"] == pd.Timestamp("2026-11-30T16:00Z")
    tokyo = load(VALID, Config().with_changes(city={"timezone": "Asia/Tokyo"}))
    assert tokyo.couriers.set_index("courier_id").loc["C001", "available_from"] == pd.Timestamp(
        "2026-11-30T09:00Z"
    )


def test_values_are_trimmed(tmp_path):
    """Blanks around values are ignored, as in a hand-edited spreadsheet."""
    city = city_with(tmp_path)
    text = (
        (city / "restaurants.csv")
        .read_text()
        .replace("R01,Chez Paul,0001,open", " R01 , Chez Paul , 0001 , Open ")
    )
    (city / "restaurants.csv").write_text(text)
    inputs = load(city)
    row = inputs.restaurants.iloc[0]
    assert (row["restaurant_id"], row["zone_id"], row["status"]) == ("R01", "0001", "open")


def test_utf8_bom_is_accepted(tmp_path):
    """A CSV saved by Excel with a UTF-8 BOM loads and its first column is found."""
    inputs = load(city_with(tmp_path, "Utf8Bom"))
    assert inputs.zones["zone_id"][0] == "0001"


def test_missing_file(tmp_path):
    """A missing couriers file is named with the columns it should have."""
    city = city_with(tmp_path)
    (city / "couriers.csv").unlink()
    with pytest.raises(DataError) as info:
        load(city)
    assert "couriers.csv" in str(info.value) and "courier_id" in str(info.value)


def test_missing_data_dir(tmp_path):
    """A data directory that does not exist is an input error naming it."""
    with pytest.raises(DataError, match="data directory not found"):
        load(tmp_path / "nope")


def test_missing_column(tmp_path):
    """A missing column names the file, the header line and the column."""
    found, text = problems(tmp_path, "MissingColumn")
    assert (found[0].file, found[0].line, found[0].column) == ("couriers.csv", 1, "vehicle")
    assert "missing column" in text


@pytest.mark.parametrize(
    ("rule", "file", "line", "column", "value", "valid"),
    [
        ("EmptyZoneId", "zones.csv", 3, "zone_id", "", "non-empty"),
        ("DuplicateZoneId", "zones.csv", 7, "zone_id", "0003", "once"),
        ("DuplicateCourierId", "couriers.csv", 4, "courier_id", "C001", "once"),
        ("UnknownZoneInRestaurants", "restaurants.csv", 3, "zone_id", "9999", "zone_id from zones"),
        ("UnknownZoneInCouriers", "couriers.csv", 3, "zone_id", "1", "zone_id from zones"),
        ("InvalidRestaurantStatus", "restaurants.csv", 3, "status", "paused", "open, closed"),
        ("NegativeOrders", "restaurants.csv", 3, "expected_orders_per_hour", "-1.5", ">= 0"),
        ("NaNOrders", "restaurants.csv", 3, "expected_orders_per_hour", "NaN", "finite"),
        ("InfOrders", "restaurants.csv", 2, "expected_orders_per_hour", "inf", "finite"),
        ("TextOrders", "restaurants.csv", 3, "expected_orders_per_hour", "lots", "finite"),
        ("LatOutOfRange", "zones.csv", 3, "lat", "148.8683", "-90 to 90"),
        ("LonOutOfRange", "zones.csv", 5, "lon", "-190.5", "-180 to 180"),
        ("UnparseableTimestamp", "couriers.csv", 3, "available_from", "30/11/2026 18:00", "ISO"),
        ("UntilNotAfterFrom", "couriers.csv", 3, "available_until", "2026-11-30T21:00", "later"),
        ("UnknownVehicle", "couriers.csv", 3, "vehicle", "horse", "bike, car, ebike, scooter"),
    ],
)
def test_bad_value_is_located(tmp_path, rule, file, line, column, value, valid):
    """Each bad value is reported with its file, spreadsheet line, column, value and what is valid."""
    found, text = problems(tmp_path, rule)
    match = [p for p in found if p.file == file and p.line == line and p.column == column]
    assert match, text
    problem = match[0]
    assert str(problem.value) == value
    assert valid in (problem.valid or "")
    assert f"{file}, line {line}, column '{column}'" in text


def test_not_utf8(tmp_path):
    """A Latin-1 file is rejected with the line of the first bad byte and how to save UTF-8."""
    found, text = problems(tmp_path, "NotUtf8")
    assert (found[0].file, found[0].line) == ("restaurants.csv", 3)
    assert "UTF-8" in text


def test_utf8_names_pass_and_a_bad_byte_is_found_on_its_line(tmp_path):
    """Accents, guillemets and CJK names load; a Latin-1 byte is named with its line."""
    city = city_with(tmp_path)
    text = (city / "restaurants.csv").read_text().replace("Chez Paul", "Crêperie «Été» 東京")
    (city / "restaurants.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert "Crêperie «Été» 東京" in set(load(city).restaurants["name"])
    lines = text.encode().split(b"\n")
    lines[3] = lines[3].replace(b"Pho", b"Ph\xe9")  # Latin-1, line 4
    (city / "restaurants.csv").write_bytes(b"\n".join(lines))
    with pytest.raises(DataError) as info:
        load(city)
    assert (info.value.problems[0].line, "0xe9" in str(info.value)) == (4, True)


def test_a_bad_byte_in_a_row_of_the_wrong_length_prints_no_traceback(tmp_path, monkeypatch):
    """A Latin-1 byte in a row that also has a field too many: when a Python handler of
    wrong-length rows was given to Arrow, Arrow decoded the row for it and failed, and
    Python printed "Exception ignored in ... UnicodeDecodeError" and a traceback on
    stderr above the right message. Only the message: the line that is not UTF-8
    (exit 3 in the CLI)."""
    import sys

    city = city_with(tmp_path)
    lines = (city / "restaurants.csv").read_bytes().split(b"\n")
    lines[2] = lines[2].rstrip(b"\r") + b",Caf\xe9 extra"
    (city / "restaurants.csv").write_bytes(b"\n".join(lines))
    printed = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    with pytest.raises(DataError) as info:
        load(city)
    assert printed == []
    problem = info.value.problems[0]
    assert (problem.file, problem.line) == ("restaurants.csv", 3)
    assert "not UTF-8" in str(info.value)


def test_all_problems_of_all_files_reported_together(tmp_path):
    """Several bad files give one error listing every problem."""
    city = city_with(tmp_path, "UnknownVehicle")
    shutil.copy(VALID.parent / "bad" / "NegativeOrders" / "restaurants.csv", city)
    with pytest.raises(DataError) as info:
        load(city)
    assert {p.file for p in info.value.problems} == {"couriers.csv", "restaurants.csv"}
    assert "2 problems" in str(info.value)


def test_many_bad_rows_are_capped(tmp_path):
    """Thousands of bad rows produce a capped list with a count of the rest."""
    city = city_with(tmp_path)
    rows = pd.DataFrame(
        {
            "restaurant_id": [f"R{i}" for i in range(500)],
            "name": "x",
            "zone_id": "0001",
            "status": "open",
            "expected_orders_per_hour": -1,
        }
    )
    rows.to_csv(city / "restaurants.csv", index=False)
    with pytest.raises(DataError) as info:
        load(city)
    assert len(info.value.problems) == ROWS_PER_RULE + 1
    assert f"{500 - ROWS_PER_RULE} more rows" in str(info.value)


def test_ragged_csv(tmp_path):
    """A row with too many fields is an input error, not a crash."""
    city = city_with(tmp_path)
    with open(city / "zones.csv", "a") as fh:
        fh.write("0006,Extra,48.8,2.3,,,surprise,more\n")
    with pytest.raises(DataError, match=r"zones\.csv"):
        load(city)


def test_both_csv_and_parquet(tmp_path):
    """Two versions of the same table are refused rather than guessed between."""
    city = city_with(tmp_path)
    pd.read_csv(city / "zones.csv", dtype=str).to_parquet(city / "zones.parquet")
    with pytest.raises(DataError, match=r"keep one"):
        load(city)


def test_parquet_tables_load(tmp_path):
    """Parquet tables with string ids and numeric columns load like CSV."""
    city = city_with(tmp_path)
    for name in ("zones", "restaurants", "couriers"):
        frame = pd.read_csv(city / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in ("lat", "lon", "expected_orders_per_hour"):
            if col in frame:
                frame[col] = frame[col].astype(float)
        for col in ("priority", "max_couriers"):
            if col in frame:
                frame[col] = pd.to_numeric(frame[col])
        frame.to_parquet(city / f"{name}.parquet")
        (city / f"{name}.csv").unlink()
    inputs = load(city)
    assert inputs.zones["zone_id"][0] == "0001"
    assert len(inputs.couriers) == 11


def test_parquet_wrong_column_type(tmp_path):
    """An integer zone_id column in Parquet is refused: ids must stay text."""
    city = city_with(tmp_path)
    frame = pd.read_csv(city / "zones.csv")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, city / "zones.parquet")
    (city / "zones.csv").unlink()
    with pytest.raises(DataError) as info:
        load(city)
    problem = info.value.problems[0]
    assert (problem.file, problem.column) == ("zones.parquet", "zone_id")
    assert "string" in (problem.valid or "")


def test_travel_times_loaded_and_checked(tmp_path):
    """travel_times rows name known zones, minutes >= 0, and a known or blank vehicle."""
    city = city_with(tmp_path)
    (city / "travel_times.csv").write_text(
        "from_zone,to_zone,minutes,vehicle\n0001,0002,5,\n0001,0002,4,bike\n0002,0009,3,\n0003,0001,-2,\n0003,0004,1,boat\n"
    )
    with pytest.raises(DataError) as info:
        load(city)
    got = {(p.line, p.column) for p in info.value.problems}
    assert got == {(4, "to_zone"), (5, "minutes"), (6, "vehicle")}


def test_inputs_replace_is_pure():
    """Inputs.replace returns a new object with a new fingerprint and leaves the original alone."""
    inputs = load(VALID)
    fewer = inputs.replace(couriers=inputs.couriers.iloc[:3])
    assert len(inputs.couriers) == 11 and len(fewer.couriers) == 3
    assert fewer.sha256 != inputs.sha256


def test_duplicate_names_the_first_occurrence(tmp_path):
    """A repeated id says on which line it first appeared."""
    found, _ = problems(tmp_path, "DuplicateZoneId")
    assert "first at line 4" in found[0].message


def test_a_duplicate_zone_id_is_one_problem_not_unknown_zones_for_its_rows(tmp_path):
    """A zone id listed twice is reported once, by file, line and column; the
    restaurants and couriers in that zone are not reported as in an unknown zone."""
    found, text = problems(tmp_path, "DuplicateZoneId")
    assert [(p.file, p.line, p.column, p.message) for p in found] == [
        ("zones.csv", 7, "zone_id", "duplicate zone_id (first at line 4)")
    ], text
    assert "unknown" not in text


def test_same_content_has_one_fingerprint_however_it_was_read_or_built(tmp_path):
    """CSV, Parquet, padded values and Inputs.replace of the same data give one sha256."""
    inputs = load(VALID)
    assert inputs.replace().sha256 == inputs.sha256
    rebuilt = inputs.replace(
        zones=inputs.zones.copy(),
        couriers=inputs.couriers.assign(
            available_from=inputs.couriers["available_from"].dt.tz_convert("Asia/Tokyo")
        ),
    )
    assert rebuilt.sha256 == inputs.sha256
    other = tmp_path / "parquet-and-padded"
    shutil.copytree(VALID, other)
    zones = pd.read_csv(other / "zones.csv", dtype={"zone_id": str, "name": str})
    (other / "zones.csv").unlink()
    pq.write_table(pa.Table.from_pandas(zones, preserve_index=False), other / "zones.parquet")
    text = (other / "restaurants.csv").read_text().splitlines()
    padded = [text[0]] + [",".join(f" {v} " for v in line.split(",")) for line in text[1:]]
    (other / "restaurants.csv").write_text("\n".join(padded) + "\n")
    again = load(other)
    assert again.files != inputs.files  # other bytes ...
    assert again.sha256 == inputs.sha256  # ... same content


def test_fingerprint_changes_with_any_value_the_plan_depends_on():
    """One changed demand, capacity or name changes the fingerprint."""
    inputs = load(VALID)
    restaurants = inputs.restaurants.copy()
    restaurants.loc[0, "expected_orders_per_hour"] += 0.5
    zones = inputs.zones.copy()
    zones.loc[0, "name"] = "Renamed"
    assert inputs.replace(restaurants=restaurants).sha256 != inputs.sha256
    assert inputs.replace(zones=zones).sha256 != inputs.sha256


def test_every_character_arrow_trims_is_found_by_the_padding_check():
    """Blanks around values are found whatever they are: the characters Arrow's trim
    removes are exactly the listed ones (all of Unicode checked), and the byte check
    flags every value the trim would change."""
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc

    from rebalance.inputs import _TRIMMED_CHARS, _maybe_padded

    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for padded in (["a" + ch for ch in chars], [ch + "a" for ch in chars]):
        values = pa.array(padded)
        changed = pc.not_equal(pc.utf8_trim_whitespace(values), values).to_numpy(
            zero_copy_only=False
        )
        assert {ch for ch, c in zip(chars, changed, strict=True) if c} == set(_TRIMMED_CHARS)
        maybe = _maybe_padded(values)
        assert maybe[changed].all()
    # a cheap filter: values without blanks at either end are not looked at again
    assert not _maybe_padded(pa.array(["R0001", "Chez Paul", "", "Café 1"])).any()


def test_a_value_padded_with_a_no_break_space_is_trimmed(tmp_path):
    """An id followed by U+00A0 (a spreadsheet's non-breaking space) loads as the id."""
    city = tmp_path / "city"
    shutil.copytree(REPO / "data" / "samples" / "paris", city)
    text = (city / "couriers.csv").read_text(encoding="utf-8").splitlines()
    head, first = text[0], text[1].split(",")
    first[0] = first[0] + "\u00a0"
    (city / "couriers.csv").write_text(
        "\n".join([head, ",".join(first), *text[2:]]) + "\n", encoding="utf-8"
    )
    loaded = load(city)
    assert loaded.couriers["courier_id"].iloc[0] == first[0].rstrip("\u00a0")


def _couriers_table(city) -> pa.Table:
    """The valid city's couriers as an Arrow table of text, from its CSV."""
    frame = pd.read_csv(city / "couriers.csv", dtype=str, keep_default_na=False)
    return pa.Table.from_pandas(frame, preserve_index=False)


def _as_parquet(city, table: pa.Table) -> None:
    pq.write_table(table, city / "couriers.parquet")
    (city / "couriers.csv").unlink()


@pytest.mark.parametrize("bad", [b"C\xe9", b"C\xe9x", b"\xffC", b"C\xed\xa0\x80D"])
def test_parquet_text_that_is_not_utf8_names_its_row_and_column(tmp_path, bad):
    """A Parquet string column holding raw bytes that are not UTF-8 (written without
    validation, as some writers do) crashed validation with Arrow's 'Invalid UTF8', exit
    1; it is an input error naming the file, the row and the column. Only bytes at a
    value's end were found (Arrow's trim reads the ends): a flipped byte inside a name
    ("Gyoza Saku\xffa", fuzzing on 2026-12-08) crashed the plan, exit 1; before that
    it was written out."""
    city = city_with(tmp_path)
    table = _couriers_table(city)
    values = [v.encode() for v in table.column("courier_id").to_pylist()]
    values[2] = bad
    offsets = pa.array([0, *itertools.accumulate(map(len, values))], pa.int32()).buffers()[1]
    data = pa.py_buffer(b"".join(values))
    raw = pa.Array.from_buffers(pa.string(), len(values), [None, offsets, data])
    _as_parquet(city, table.set_column(0, "courier_id", raw))
    with pytest.raises(DataError) as info:
        load(city)
    problem = info.value.problems[0]
    assert (problem.file, problem.row, problem.column) == ("couriers.parquet", 3, "courier_id")
    assert "not UTF-8" in problem.message


@pytest.mark.parametrize("zone_name", ["europe/paris", "Foo/Bar", "+25:00"])
def test_parquet_timestamps_in_a_zone_this_machine_does_not_know_are_read_as_utc(
    tmp_path, zone_name
):
    """Zoned Parquet timestamps are UTC instants whatever their zone is called: a name the
    tz database lacks made Arrow fail ('zoneinfo ... must be installed', exit 1); they
    load as the same instants as the same times written in UTC."""
    city = city_with(tmp_path)
    expected = load(city).couriers[["available_from", "available_until"]]
    table = _couriers_table(city)
    for column in ("available_from", "available_until"):
        at = table.schema.get_field_index(column)
        instants = pa.array(expected[column].astype("datetime64[us, UTC]"))
        table = table.set_column(at, column, instants.cast(pa.timestamp("us", tz=zone_name)))
    _as_parquet(city, table)
    got = load(city).couriers[["available_from", "available_until"]]
    for column in expected:
        assert (got[column] == expected[column]).all()


def test_naive_nanosecond_parquet_timestamps_keep_their_nanoseconds(tmp_path):
    """A courier available from 18:30:00.000000789 is not available at 18:30: from a CSV
    as from a Parquet file of naive ns timestamps (they were cut at microseconds)."""
    city = city_with(tmp_path)
    text = (
        (city / "couriers.csv")
        .read_text()
        .replace("2026-11-30T18:30,", "2026-11-30T18:30:00.000000789,", 1)
    )
    (city / "couriers.csv").write_text(text)
    from_csv = load(city).couriers["available_from"]
    table = _couriers_table(city)
    at = table.schema.get_field_index("available_from")
    stamps = from_csv.dt.tz_convert("Europe/Paris").dt.tz_localize(None).astype("datetime64[ns]")
    _as_parquet(city, table.set_column(at, "available_from", pa.array(stamps, pa.timestamp("ns"))))
    from_parquet = load(city).couriers["available_from"]
    assert (from_parquet == from_csv).all()
    assert from_parquet[1].nanosecond == 789


def test_parquet_header_found_lists_the_files_own_columns(tmp_path):
    """A Parquet zones table with other column names says which names it has (it said
    'header found: ' with nothing); blanks around a name are trimmed, as in a CSV."""
    city = city_with(tmp_path)
    frame = pd.read_csv(city / "zones.csv", dtype={"zone_id": str, "name": str})
    (city / "zones.csv").unlink()
    renamed = frame.rename(columns={"zone_id": "ZoneID", "name": "Name"})
    renamed.to_parquet(city / "zones.parquet")
    with pytest.raises(DataError) as info:
        load(city)
    assert "header found: ZoneID, Name, lat, lon" in str(info.value.problems[0])
    padded = frame.rename(columns={"zone_id": " zone_id ", "lat": "lat "})
    padded.to_parquet(city / "zones.parquet")
    assert load(city).zones["zone_id"].tolist() == ["0001", "0002", "0003", "0004", "0005"]


def test_duplicate_parquet_column_names_are_named(tmp_path):
    """Arrow's reader answered a repeated column with 'Multiple matches for FieldRef' and a
    schema dump; the error now names the column, as for a CSV header."""
    city = city_with(tmp_path)
    table = _couriers_table(city)
    table = pa.Table.from_arrays(
        [*table.columns, table.column("status")], names=[*table.column_names, "status"]
    )
    _as_parquet(city, table)
    with pytest.raises(DataError) as info:
        load(city)
    assert str(info.value.problems[0]) == (
        "couriers.parquet: duplicate column names ['status']; expected unique names"
    )


@pytest.mark.parametrize("blank", ["   ", "\t", " \t "])
def test_a_csv_line_of_blanks_alone_is_an_empty_row(tmp_path, blank):
    """Values are trimmed, so a line of blanks is an empty row, as an empty line and
    ',,,,,' are (it was '1 fields where the header has 6', with a hint about commas)."""
    city = city_with(tmp_path)
    lines = (city / "couriers.csv").read_text().splitlines()
    lines.insert(3, blank)
    (city / "couriers.csv").write_text("\n".join([*lines, blank, ""]))
    couriers = load(city).couriers
    assert len(couriers) == 11 and couriers["courier_id"][2] == "C003"


@pytest.mark.parametrize(
    ("table", "column", "value", "valid"),
    [
        ("couriers", "available_until", "2026-11-30T18:00", "later"),
        ("zones", "max_couriers", "2.5", "whole number"),
        ("zones", "priority", "0", "> 0"),
    ],
)
def test_values_on_the_edge_of_a_range_are_refused(tmp_path, table, column, value, valid):
    """CONTRACT 1: available_until after available_from, max_couriers a whole number
    >= 0, priority > 0. The bad-data cases were all well past the edge (until before
    from), so mutants accepting until == from, 2.5 couriers or priority 0 passed."""
    frame = pd.read_csv(VALID / f"{table}.csv", dtype=str, keep_default_na=False)
    frame.loc[0, column] = value
    with pytest.raises(DataError) as info:
        load(city_with(tmp_path, **{table: frame}))
    found = [p for p in info.value.problems if p.column == column]
    assert found and found[0].file == f"{table}.csv" and found[0].line == 2, str(info.value)
    assert valid in (found[0].valid or ""), str(info.value)


@pytest.mark.parametrize(
    ("table", "written", "column"),
    [
        ("couriers", "Status", "status"),
        ("couriers", "courier_status", "status"),
        ("zones", "Max Couriers", "max_couriers"),
        ("zones", "max_courier", "max_couriers"),
        ("zones", "PRIORITY", "priority"),
    ],
)
def test_an_optional_column_spelled_otherwise_is_refused_not_dropped(
    tmp_path, table, written, column
):
    """An export's `Status` header (or `Max Couriers`, `max_courier`) was not the
    optional column it meant, and the column was left out without a word: every busy
    and offline courier planned as available (the Paris sample: 169 couriers moved
    instead of 140, shortage 7 instead of 38), caps and priorities dropped. It is refused,
    naming the file, line and column and the name that is read."""
    folder = tmp_path / "city"
    shutil.copytree(VALID, folder)
    path = folder / f"{table}.csv"
    lines = path.read_text().splitlines()
    lines[0] = ",".join(written if h == column else h for h in lines[0].split(","))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as raised:
        load(folder)
    text = str(raised.value)
    assert f"{table}.csv, line 1, column '{written}'" in text
    assert f"looks like '{column}', but only '{column}' is read" in text
    # an extra column of another name is still ignored
    lines[0] = lines[0].replace(written, "notes_from_ops")
    path.write_text("\n".join(lines) + "\n")
    assert len(getattr(load(folder), table))


def test_a_second_export_beside_a_table_is_refused_not_ignored(tmp_path):
    """Today's export saved as `Couriers.CSV` beside yesterday's couriers.csv: the plan
    was made from yesterday's without a word (alone, such a file is refused with
    "rename it"). Two files for one table are refused; a spreadsheet kept beside its
    CSV export is not asked about."""
    folder = tmp_path / "city"
    shutil.copytree(VALID, folder)
    (folder / "Couriers.CSV").write_bytes((folder / "couriers.csv").read_bytes())
    with pytest.raises(DataError, match=r"Couriers\.CSV looks like the couriers table too"):
        load(folder)
    (folder / "Couriers.CSV").rename(folder / "Couriers.xlsx")
    assert len(load(folder).couriers)


def test_a_browsers_copy_of_a_table_is_named_and_a_utf16_file_is_said_to_be_one(tmp_path):
    """A download saved as `couriers (1).csv` was "missing file couriers.csv" alone and,
    beside yesterday's couriers.csv, not looked at: the plan was made from yesterday's.
    A UTF-16 export without its BOM (every other byte NUL) was refused for "1 fields
    where the header has 6", its encoding never named."""
    folder = tmp_path / "city"
    shutil.copytree(VALID, folder)
    text = (folder / "couriers.csv").read_text()
    (folder / "couriers (1).csv").write_text(text)
    with pytest.raises(DataError, match=r"couriers \(1\)\.csv looks like the couriers table too"):
        load(folder)
    (folder / "couriers.csv").unlink()
    with pytest.raises(DataError, match=r"couriers \(1\)\.csv looks like the couriers table, but"):
        load(folder)
    (folder / "couriers (1).csv").unlink()
    (folder / "couriers.csv").write_bytes(text.encode("utf-16-le"))
    with pytest.raises(DataError) as raised:
        load(folder)
    assert "couriers.csv, line 1: holds NUL bytes: not UTF-8 text (UTF-16" in str(raised.value)


def test_a_table_written_while_it_is_read_is_refused(tmp_path, monkeypatch):
    """A cron run that read couriers.csv while its export was still being written
    planned the part it read, cut at a line boundary, as if whole (an evening of cron
    runs found 50 couriers gone). A file that changes while it is read is refused,
    named, with how to write it safely; one replaced by a rename was read whole."""
    from rebalance import inputs as module

    folder = tmp_path / "city"
    shutil.copytree(VALID, folder)
    real = module._read_csv

    def read_then_more_lands(path, spec, issues):
        got = real(path, spec, issues)
        if path.name == "couriers.csv":  # the export goes on writing
            with path.open("a") as file:
                file.write("C999,0005,bike,2026-11-30T18:00,2026-11-30T23:00,available\n")
        return got

    monkeypatch.setattr(module, "_read_csv", read_then_more_lands)
    with pytest.raises(DataError) as raised:
        load(folder)
    assert "couriers.csv: changed while it was read (being written?)" in str(raised.value)
    monkeypatch.setattr(module, "_read_csv", real)
    assert "C999" in set(load(folder).couriers["courier_id"])

    def read_then_replaced(path, spec, issues):  # by a rename: what was read is whole
        got = real(path, spec, issues)
        if path.name == "couriers.csv":
            new = path.with_name("couriers.csv.tmp")
            new.write_bytes(path.read_bytes())
            new.replace(path)
        return got

    monkeypatch.setattr(module, "_read_csv", read_then_replaced)
    assert len(load(folder).couriers)
