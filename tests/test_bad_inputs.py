"""Hostile or broken input files end in exit 3 naming file and line, never a crash.

One malformed file per rule lives in tests/data/bad/<Rule>/; files a spreadsheet
produces that must load as if clean live in tests/data/accepted/<Rule>/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from util import DATA, SHIFT, VALID, city_with

from rebalance import DataError, load
from rebalance.cli import app

ACCEPTED = DATA / "accepted"


def problems(tmp_path, rule):
    """Load the valid city overlaid with bad/<rule>; return the problems and the message."""
    with pytest.raises(DataError) as info:
        load(city_with(tmp_path, rule))
    return info.value.problems, str(info.value)


@pytest.mark.parametrize(
    ("rule", "file", "line", "words"),
    [
        ("TooManyFields", "zones.csv", 5, "7 fields where the header has 6"),
        ("TooFewFields", "zones.csv", 4, "3 fields where the header has 6"),
        ("UnterminatedQuote", "zones.csv", 4, "never closed"),
        ("SepLineNotComma", "restaurants.csv", 1, "separated by ';'"),
    ],
)
def test_structural_problem_names_the_line(tmp_path, rule, file, line, words):
    """A broken CSV shape is one problem naming the file and the line, and what is valid."""
    found, text = problems(tmp_path, rule)
    assert len(found) == 1, text
    assert (found[0].file, found[0].line) == (file, line), text
    assert words in text and found[0].valid


@pytest.mark.parametrize(("ending", "final"), [("\n", "\n"), ("\n", ""), ("\r\n", "\r\n")])
def test_a_quote_opened_in_the_last_value_of_the_file_is_never_closed(tmp_path, ending, final):
    """A quote opened in the last field of the last row runs to the end of the file on a
    row of the right length: refused, naming its line (it was read as a value holding
    a line break), whether the file takes the fast path or, with CRLF, the careful one.
    A lone inch mark inside a value (12" Pizza) on that row still loads (an odd count of
    quotes as well)."""
    city = city_with(tmp_path)
    path = city / "restaurants.csv"
    lines = path.read_text().splitlines()
    *head, last = lines
    fields = last.split(",")
    broken = ",".join([*fields[:-1], '"' + fields[-1]])
    path.write_bytes((ending.join([*head, broken]) + final).encode())
    with pytest.raises(DataError) as info:
        load(city)
    (found,) = info.value.problems
    assert (found.file, found.line) == ("restaurants.csv", len(lines)), str(info.value)
    assert "never closed" in str(info.value)
    fields[1] = 'Bistrot 12" Pizza'
    path.write_bytes((ending.join([*head, ",".join(fields)]) + final).encode())
    names = load(city).restaurants["name"]
    assert names.iloc[-1] == 'Bistrot 12" Pizza'


def test_semicolon_export_is_said_once_with_the_header(tmp_path):
    """A ';' export with decimal commas gets one message showing the header found."""
    found, text = problems(tmp_path, "SemicolonSeparated")
    assert len(found) == 1, text
    assert (found[0].file, found[0].line) == ("restaurants.csv", 1)
    assert "separated by ';'" in text
    assert "restaurant_id;name;zone_id;status;expected_orders_per_hour" in text
    assert "missing column" not in text


def test_lines_count_blank_lines_and_multiline_values(tmp_path):
    """After blank lines and a value spanning two lines, the line is the file's line."""
    found, text = problems(tmp_path, "BadValueAfterBlankLines")
    assert [(p.line, p.column) for p in found] == [(8, "max_couriers")], text


def test_missing_column_shows_the_header_found(tmp_path):
    """A missing column says which header was found, so a renamed column is obvious."""
    found, _ = problems(tmp_path, "MissingColumn")
    assert "header found: courier_id, zone_id, available_from" in (found[0].valid or "")


@pytest.mark.parametrize(
    "rule", ["CrOnlyLineEndings", "CrLfLineEndings", "SepCommaLine", "TrailingEmptyColumns"]
)
def test_spreadsheet_quirks_load_like_the_clean_file(tmp_path, rule):
    """CR or CRLF line endings, Excel's sep=, line and empty trailing columns and rows load as clean data."""
    city = tmp_path / rule
    shutil.copytree(VALID, city)
    for file in (ACCEPTED / rule).iterdir():
        shutil.copy(file, city / file.name)
    got, clean = load(city), load(VALID)
    for name in ("zones", "restaurants", "couriers"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(clean, name))


def test_table_that_is_a_folder(tmp_path):
    """A zones.csv that is a folder is an input error naming it, not a crash."""
    city = city_with(tmp_path)
    (city / "zones.csv").unlink()
    (city / "zones.csv").mkdir()
    with pytest.raises(DataError, match=r"zones\.csv: is a folder, not a file"):
        load(city)


def test_unreadable_table(tmp_path, monkeypatch):
    """A table this user may not read is an input error saying so (root ignores chmod: injected)."""
    city = city_with(tmp_path)
    real = Path.open

    def open_(self, *args, **kwargs):  # every way of reading a file opens it
        if self.name == "couriers.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    with pytest.raises(DataError, match=r"couriers\.csv: cannot read file: Permission denied"):
        load(city)


@pytest.mark.parametrize("rule", ["TooManyFields", "SemicolonSeparated", "UnterminatedQuote"])
def test_cli_exits_3_with_the_line(tmp_path, rule):
    """`rebalance validate` exits 3 on a broken file and names it; no traceback."""
    result = CliRunner().invoke(app, ["validate", str(city_with(tmp_path, rule))])
    assert result.exit_code == 3, result.output
    assert "line" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("rule", "file", "line", "column", "valid"),
    [
        ("OrdersTooLarge", "restaurants.csv", 3, "expected_orders_per_hour", "at most 10,000"),
        ("PriorityTooLarge", "zones.csv", 3, "priority", "at most 1,000"),
        ("CapTooLarge", "zones.csv", 6, "max_couriers", "0 to 1,000,000"),
        ("ZoneDemandTooLarge", "restaurants.csv", 5, "expected_orders_per_hour", "per zone"),
        ("TimestampYear9999", "couriers.csv", 6, "available_until", "1678 to 2261"),
        ("TimestampYear0001", "couriers.csv", 3, "available_from", "1678 to 2261"),
    ],
)
def test_absurd_values_are_refused_with_the_range(tmp_path, rule, file, line, column, valid):
    """Finite but absurd numbers and years are refused at load, naming the supported range."""
    found, text = problems(tmp_path, rule)
    assert [(p.file, p.line, p.column) for p in found] == [(file, line, column)], text
    assert valid in (found[0].valid or "")


# Utf8Bom predates tests/data/accepted: a BOM is accepted (test_inputs.py).
BAD_RULES = sorted(p.name for p in (DATA / "bad").iterdir() if p.name != "Utf8Bom")


@pytest.mark.parametrize("rule", BAD_RULES)
def test_validate_never_says_ok_to_what_plan_refuses(tmp_path, rule):
    """For every malformed file, validate and plan both exit 3 (never OK, never a crash)."""
    city = city_with(tmp_path, rule)
    checked = CliRunner().invoke(app, ["validate", str(city), "--shift-start", SHIFT])
    planned = CliRunner().invoke(app, ["plan", str(city), "--shift-start", SHIFT])
    assert (checked.exit_code, planned.exit_code) == (3, 3), checked.output + planned.output


@pytest.mark.parametrize("rule", sorted(p.name for p in ACCEPTED.iterdir()))
def test_accepted_quirks_plan(tmp_path, rule):
    """Every accepted spreadsheet quirk also plans (exit 0)."""
    city = tmp_path / rule
    shutil.copytree(VALID, city)
    for file in (ACCEPTED / rule).iterdir():
        shutil.copy(file, city / file.name)
    result = CliRunner().invoke(app, ["plan", str(city), "--shift-start", SHIFT])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_parquet_timestamp_outside_the_years(tmp_path, tz):
    """A Parquet timestamp column holding year 9999 is refused naming the row, not a crash."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    city = city_with(tmp_path)
    frame = pd.read_csv(city / "couriers.csv", dtype=str, keep_default_na=False)
    n = len(frame)
    table = pa.table(
        {
            **{c: frame[c] for c in ("courier_id", "zone_id", "vehicle", "status")},
            "available_from": pa.array([dt.datetime(2026, 11, 30, 17)] * n, pa.timestamp("us", tz)),
            "available_until": pa.array([dt.datetime(9999, 12, 31)] * n, pa.timestamp("us", tz)),
        }
    )
    pq.write_table(table, city / "couriers.parquet")
    (city / "couriers.csv").unlink()
    with pytest.raises(DataError) as info:
        load(city)
    first = info.value.problems[0]
    assert (first.file, first.row, first.column) == ("couriers.parquet", 1, "available_until")
    assert "1678 to 2261" in (first.valid or "")


def test_absurd_config_in_the_data_folder(tmp_path):
    """A rebalance.toml with shortage_minutes = 1e20 is refused by validate, naming the key."""
    result = CliRunner().invoke(app, ["validate", str(city_with(tmp_path, "ShortageCostTooLarge"))])
    assert result.exit_code == 3
    assert "costs.shortage_minutes" in result.output and "100,000" in result.output


def test_zone_demand_in_one_slot_is_bounded(tmp_path):
    """demand.csv rows that push one zone past the supported demand in a slot name the zone and slot."""
    found, text = problems(tmp_path, "SlotDemandTooLarge")
    assert len(found) == 1, text
    assert found[0].file == "demand.csv" and found[0].column == "expected_orders_per_hour"
    assert "'0002'" in found[0].message and "demand.csv, line 2" in found[0].message
    assert "per zone and slot" in (found[0].valid or "")
    # the slot in the city's time, as the file gives it (it said 18:30:00+00:00)
    assert "slot starting 2026-11-30 19:30 (city time)" in found[0].message


def test_the_title_counts_every_problem_not_the_lines_shown(tmp_path):
    """15 couriers with an unknown vehicle are 15 problems: the title said "11 problems"
    (10 rows listed and the "... and 5 more rows" line). The sample of valid restaurant
    ids lists each id once, also when one is duplicated ('R01', 'R01', ... before)."""
    city = city_with(tmp_path)
    couriers = pd.read_csv(city / "couriers.csv", dtype=str, keep_default_na=False)
    couriers = pd.concat([couriers] * 3, ignore_index=True)
    couriers["courier_id"] = [f"C{i:03d}" for i in range(len(couriers))]
    couriers.loc[:14, "vehicle"] = "horse"
    couriers.to_csv(city / "couriers.csv", index=False)
    restaurants = pd.read_csv(city / "restaurants.csv", dtype=str, keep_default_na=False)
    first = restaurants.loc[0, "restaurant_id"]
    restaurants.loc[1, "restaurant_id"] = first
    restaurants.to_csv(city / "restaurants.csv", index=False)
    (city / "demand.csv").write_text(
        "restaurant_id,slot_start,expected_orders_per_hour\nNOPE,2026-11-30T19:30,1\n"
    )
    with pytest.raises(DataError) as info:
        load(city)
    text = str(info.value)
    assert text.startswith("invalid input: 17 problems"), text.splitlines()[0]
    assert "... and 5 more rows with the same problem (invalid vehicle)" in text
    sample = next(p.valid for p in info.value.problems if p.message == "unknown restaurant")
    assert sample.count(repr(first)) == 1, sample


@pytest.mark.parametrize(
    ("present", "table", "spreadsheet"),
    [
        ("Demand.csv", "demand", False),
        ("travel-times.xlsx", "travel_times", True),
        ("Zones.csv", "zones", False),
    ],
)
def test_a_table_under_a_near_name_is_named_not_ignored(tmp_path, present, table, spreadsheet):
    """A table saved under another case, with '-' or as a spreadsheet: exit 3 naming the
    file and the name it must have. An optional table (demand, travel_times) was left
    out without a word, and the plan made without it."""
    city = city_with(tmp_path)
    if (city / f"{table}.csv").exists():
        (city / f"{table}.csv").rename(city / present)
    else:
        (city / present).write_text("whatever\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load(city)
    (issue,) = [i for i in info.value.problems if present in (i.file or "")]
    assert f"{table}.csv or {table}.parquet" in issue.message
    assert ("exported as CSV" in (issue.valid or "")) == spreadsheet
    checked = CliRunner().invoke(app, ["validate", str(city)])
    assert checked.exit_code == 3 and present in checked.output


def test_validate_says_ok_only_after_the_shift_checks(tmp_path):
    """validate --shift-start with a demand row off the slot grid: exit 3 and no 'OK' on
    stdout (it printed OK and the counts, then the error); with a good demand table it
    says how many rows it holds."""
    city = city_with(tmp_path)
    demand = pd.DataFrame(
        {
            "restaurant_id": ["R001", "R001"],
            "slot_start": ["2026-11-30T19:00", "2026-11-30T19:40"],
            "expected_orders_per_hour": [3.0, 4.0],
        }
    )
    restaurants = pd.read_csv(city / "restaurants.csv", dtype=str)
    demand["restaurant_id"] = restaurants["restaurant_id"].iloc[0]
    demand.to_csv(city / "demand.csv", index=False)
    refused = CliRunner().invoke(app, ["validate", str(city), "--shift-start", SHIFT])
    assert refused.exit_code == 3
    assert "OK" not in refused.stdout and "not the start of a slot" in refused.stderr
    demand.loc[1, "slot_start"] = "2026-11-30T19:30"
    demand.to_csv(city / "demand.csv", index=False)
    fine = CliRunner().invoke(app, ["validate", str(city), "--shift-start", SHIFT])
    assert fine.exit_code == 0, fine.output
    assert "OK" in fine.stdout and "demand: 2 rows" in fine.stdout


def test_a_shift_start_off_the_demand_tables_grid_is_named_first(tmp_path):
    """A 30-minute demand table from 19:00 and a shift from 19:15 (what `rebalance run`
    makes of 19:17): every row is off the grid; the first problem says so once and
    suggests --shift-start 19:00, before the rows themselves."""
    city = city_with(tmp_path)
    first = pd.read_csv(city / "restaurants.csv", dtype=str)["restaurant_id"].iloc[0]
    starts = pd.date_range("2026-11-30T19:00", periods=8, freq="30min")
    pd.DataFrame(
        {
            "restaurant_id": first,
            "slot_start": [f"{t:%Y-%m-%dT%H:%M}" for t in starts],
            "expected_orders_per_hour": 2.0,
        }
    ).to_csv(city / "demand.csv", index=False)
    result = CliRunner().invoke(app, ["plan", str(city), "--shift-start", "2026-11-30T19:15"])
    assert result.exit_code == 3
    lines = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert "no row of the demand table starts a slot of this shift" in lines[0]
    assert "--shift-start 2026-11-30T19:00" in lines[0]
    assert "not the start of a slot" in lines[1]


def test_a_duplicate_travel_time_names_where_the_pair_first_is(tmp_path):
    """The second row of a (from_zone, to_zone, vehicle) names the line of the first,
    as duplicate ids do."""
    city = city_with(tmp_path)
    zones = pd.read_csv(city / "zones.csv", dtype=str)["zone_id"].tolist()
    a, b = zones[0], zones[1]
    (city / "travel_times.csv").write_text(
        f"from_zone,to_zone,minutes,vehicle\n{a},{b},5,bike\n{b},{a},5,bike\n{a},{b},6,bike\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        load(city)
    (issue,) = info.value.problems
    assert issue.line == 4 and "first at line 2" in issue.message


@pytest.mark.parametrize("brk", ["\r", "\n"])
def test_a_line_break_in_an_unquoted_name_is_named_as_such(tmp_path, brk):
    """A name holding a line break outside quotes (pandas leaves a bare CR unquoted) is
    one row split in two: said so, on its first line, not as two rows of wrong field
    counts with a hint about commas. A short row followed by an unrelated long one is
    still reported row by row."""
    city = city_with(tmp_path)
    text = (city / "zones.csv").read_text()
    (city / "zones.csv").write_text(text.replace("0002,Bourse,", f"0002,Bourse{brk}OVER,", 1))
    found, _ = problems_in(city)
    assert [(p.line, p.message) for p in found] == [
        (3, "a line break inside a value splits this row over lines 3 and 4")
    ]
    assert found[0].valid == "values that contain line breaks in double quotes"
    lines = text.splitlines()
    lines[2] = "0002,Bourse"
    lines[3] = lines[3] + ",1,2,3"
    (city / "zones.csv").write_text("\n".join(lines) + "\n")
    found, _ = problems_in(city)
    assert [p.message for p in found] == [
        "2 fields where the header has 6",
        "9 fields where the header has 6",
    ]


def problems_in(city):
    """The problems and message of the DataError loading ``city`` raises."""
    with pytest.raises(DataError) as info:
        load(city)
    return info.value.problems, str(info.value)


def test_a_demand_row_at_a_time_that_comes_twice_is_told_by_its_offset(tmp_path):
    """Lord Howe's clocks go back half an hour at 02:00 on 5 April: with 60-minute slots
    from 00:00 the third slot starts at the second 01:30 (+10:30). A row written 01:30
    without an offset is the first (+11:00), off the grid: the message said "got
    '2026-04-05 01:30'; expected one of 00:00, 01:00, 01:30, 02:30", the time refused
    among those listed. Across a clock change every time now carries its offset."""
    from rebalance.generate import generate_city

    city = generate_city(
        tmp_path / "lhi",
        zones=3,
        couriers=30,
        restaurants=6,
        timezone="Australia/Lord_Howe",
        shift_start="2026-04-05T00:00",
    )
    with (city / "rebalance.toml").open("a") as toml:
        toml.write("\n[shift]\nslot_minutes = 60\n")
    first = pd.read_csv(city / "restaurants.csv", dtype=str)["restaurant_id"].iloc[0]
    pd.DataFrame(
        {
            "restaurant_id": first,
            "slot_start": ["2026-04-05T00:00", "2026-04-05T01:00", "2026-04-05T01:30"],
            "expected_orders_per_hour": 2.0,
        }
    ).to_csv(city / "demand.csv", index=False)
    args = ["--shift-start", "2026-04-05T00:00", "--shift-end", "2026-04-05T03:30"]
    result = CliRunner().invoke(app, ["plan", str(city), *args])
    assert result.exit_code == 3
    assert (
        "demand.csv, line 4, column 'slot_start': slot_start is not the start of a slot of "
        "this shift (60-minute slots) (got '2026-04-05 01:30+11:00'); expected one of "
        "00:00+11:00, 01:00+11:00, 01:30+10:30, 02:30+10:30"
    ) in " ".join(result.stderr.split())
    # written with its offset, the row is the slot's
    pd.DataFrame(
        {
            "restaurant_id": first,
            "slot_start": ["2026-04-05T00:00", "2026-04-05T01:00", "2026-04-05T01:30+10:30"],
            "expected_orders_per_hour": 2.0,
        }
    ).to_csv(city / "demand.csv", index=False)
    assert CliRunner().invoke(app, ["plan", str(city), *args]).exit_code == 0


def test_a_shift_end_suggested_in_the_repeated_hour_carries_its_offset(tmp_path):
    """Slots of 240 minutes do not divide 23:00 to 04:00 on the night the clocks go back
    (6 real hours): the message suggested "end the shift at 02:00 or 06:00", where the
    02:00 meant is the second (+01:00) and 02:00 typed without an offset is the first
    (+02:00), a 3-hour shift. The suggestion now carries the offset where it is needed."""
    city = city_with(tmp_path)
    toml = tmp_path / "night.toml"
    toml.write_text('[city]\ntimezone = "Europe/Paris"\n[shift]\nslot_minutes = 240\n')
    args = ["--shift-start", "2026-10-24T23:00", "--shift-end", "2026-10-25T04:00"]
    result = CliRunner().invoke(app, ["plan", str(city), *args, "--config", str(toml)])
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert "or end the shift at 02:00+01:00 or 06:00 " in said, said
    # taken at its word, the suggestion is a shift of whole slots
    args[-1] = "2026-10-25T02:00+01:00"
    assert CliRunner().invoke(app, ["plan", str(city), *args, "--config", str(toml)]).exit_code == 0


def test_a_shift_of_nine_slots_lists_eight_and_says_there_are_more():
    """Demand rows off the slot grid of a 9-slot shift: the message lists the first 8
    slots then "...", or a reader takes 22:45 for the last slot start (mutation testing
    found the boundary untested)."""
    from util import REPO

    paris = REPO / "data" / "samples" / "paris"
    out = CliRunner().invoke(
        app,
        [
            "plan",
            str(paris),
            "--shift-start",
            "2026-11-30T19:15",
            "--shift-end",
            "2026-11-30T23:45",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 3, out.output
    said = " ".join(out.stderr.split())
    assert "expected one of 19:15, 19:45, 20:15, 20:45, 21:15, 21:45, 22:15, 22:45 ... (" in said
    assert "23:15" not in said.split("expected one of", 1)[1].split("(", 1)[0]
