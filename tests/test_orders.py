"""The orders table (CONTRACT section 8): validated like every table, file, line and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from util import SHIFT, VALID

from rebalance import Config, DataError, load
from rebalance.cli import app
from rebalance.orders import load_orders

RESTAURANTS = load(VALID).restaurants
HEADER = "order_id,restaurant_id,placed_at\n"


def write(path: Path, body: str, header: str = HEADER) -> Path:
    """An orders CSV with the given data lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")
    return path


def problems(source: Path) -> list[str]:
    """The located problems load_orders reports for a source."""
    with pytest.raises(DataError) as info:
        load_orders(source, RESTAURANTS)
    return [str(p) for p in info.value.problems]


def test_valid_orders_load_with_zone_and_utc_time(tmp_path):
    """Ids stay text, each order gets its restaurant's zone, and city time becomes UTC."""
    path = write(tmp_path / "o.csv", "0042,R01,2026-11-30T19:10\n0043, R04 ,2026-11-30T19:20:30\n")
    table = load_orders(path, RESTAURANTS).table
    assert table["order_id"].tolist() == ["0042", "0043"]
    assert table["zone_id"].tolist() == ["0001", "0002"]
    assert table["placed_at"].iloc[0] == pd.Timestamp("2026-11-30T18:10Z")


def test_duplicate_order_id_says_where_it_first_appears(tmp_path):
    """A repeated order_id is reported on its line with the line of its first use."""
    path = write(
        tmp_path / "o.csv",
        "A1,R01,2026-11-30T19:10\nA2,R01,2026-11-30T19:11\nA1,R02,2026-11-30T19:12\n",
    )
    (problem,) = problems(path)
    assert "o.csv, line 4, column 'order_id': duplicate order_id (first at line 2)" in problem


def test_unknown_restaurant_names_valid_ids(tmp_path):
    """An order of a restaurant not in restaurants is located, with examples of valid ids."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-30T19:10\nA2,R99,2026-11-30T19:11\n")
    (problem,) = problems(path)
    assert "line 3, column 'restaurant_id': unknown restaurant (got 'R99')" in problem
    assert "'R01'" in problem


def test_orders_of_another_city_are_called_out(tmp_path):
    """When no order names a restaurant of this city, the first problem says so."""
    path = write(tmp_path / "o.csv", "A1,X1,2026-11-30T19:10\nA2,X2,2026-11-30T19:11\n")
    found = problems(path)
    assert "none of the 2 orders names a restaurant of this city" in found[0]
    assert len(found) == 3


def test_unparseable_timestamp(tmp_path):
    """A placed_at that is not ISO 8601 is reported with an example of a valid one."""
    path = write(tmp_path / "o.csv", "A1,R01,30/11/2026 19:10\n")
    (problem,) = problems(path)
    assert "line 2, column 'placed_at': not an ISO 8601 timestamp" in problem
    assert "2026-11-30T19:00" in problem


def test_a_date_without_a_time_is_refused(tmp_path):
    """placed_at 2026-11-29 (an export that lost its times) was read as midnight and
    every such order counted outside the shift's hours, exit 0: now each is named."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-29T19:10\nA2,R01,2026-11-29\n")
    (problem,) = problems(path)
    assert "line 3, column 'placed_at': a date without the time the order was placed" in problem
    assert "2026-11-29T19:05" in problem


def test_mixed_naive_and_offset_timestamps_are_refused(tmp_path):
    """A file mixing timestamps with and without offset flags the rows unlike the first."""
    path = write(
        tmp_path / "o.csv",
        "A1,R01,2026-11-30T19:10\nA2,R01,2026-11-30T18:11Z\nA3,R01,2026-11-30T19:12\n",
    )
    (problem,) = problems(path)
    assert "line 3, column 'placed_at': timestamps with and without a UTC offset" in problem
    assert "like line 2, every placed_at without one" in problem


def test_an_unreadable_timestamp_is_named_once_not_also_as_a_mixed_offset(tmp_path):
    """20261129T190800+0100 (ISO's basic format) among extended timestamps with offsets:
    one problem, unreadable; it was also called "without a UTC offset", which it has.
    Mixed offsets are judged from the first readable timestamp, named by its line."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-29T19:05+01:00\nA2,R01,20261129T190800+0100\n")
    (problem,) = problems(path)
    assert "line 3, column 'placed_at': not an ISO 8601 timestamp" in problem
    path = write(
        tmp_path / "p.csv",
        "A0,R01,yesterday\nA1,R01,2026-11-29T19:05\nA2,R01,2026-11-29T19:08+01:00\n",
    )
    found = problems(path)
    assert len(found) == 2
    assert any("line 4" in p and "like line 3, every placed_at without one" in p for p in found)


def test_all_offsets_are_fine(tmp_path):
    """Every timestamp with an offset is as valid as every one without."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-30T18:10Z\nA2,R01,2026-11-30T19:11+01:00\n")
    table = load_orders(path, RESTAURANTS).table
    assert table["placed_at"].tolist() == [
        pd.Timestamp("2026-11-30T18:10Z"),
        pd.Timestamp("2026-11-30T18:11Z"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "file is empty"), (HEADER, "no orders: the file has a header but no rows")],
    ids=["empty", "header-only"],
)
def test_empty_file(tmp_path, content, message):
    """An empty file and a header without rows are both refused."""
    path = tmp_path / "o.csv"
    path.write_text(content, encoding="utf-8")
    (problem,) = problems(path)
    assert problem.startswith("o.csv") and message in problem


def test_missing_column(tmp_path):
    """A header without placed_at names the column and the expected header."""
    path = write(tmp_path / "o.csv", "A1,R01\n", header="order_id,restaurant_id\n")
    (problem,) = problems(path)
    assert "line 1, column 'placed_at': missing column" in problem


def test_folder_of_files_is_one_table_with_cross_file_duplicates(tmp_path):
    """A folder's files are read in name order; an id already in an earlier file is refused,
    naming the file and line where it first came."""
    write(tmp_path / "h" / "2026-11-01.csv", "A1,R01,2026-11-01T19:10\n")
    write(tmp_path / "h" / "2026-11-02.csv", "A2,R01,2026-11-02T19:10\nA1,R02,2026-11-02T19:11\n")
    (problem,) = problems(tmp_path / "h")
    assert "2026-11-02.csv, line 3, column 'order_id': duplicate order_id" in problem
    # and where the id first came, as a duplicate within one file says
    assert "first in 2026-11-01.csv at line 2" in problem, problem
    (tmp_path / "h" / "2026-11-02.csv").write_text(HEADER + "A2,R01,2026-11-02T19:10\n")
    assert load_orders(tmp_path / "h", RESTAURANTS).table["order_id"].tolist() == ["A1", "A2"]


def test_parquet_with_typed_timestamps(tmp_path):
    """A Parquet file with a timestamp column and string ids loads like the CSV."""
    frame = pd.DataFrame(
        {
            "order_id": ["0001", "0002"],
            "restaurant_id": ["R01", "R02"],
            "placed_at": pd.to_datetime(["2026-11-30T19:10", "2026-11-30T19:40"]),
        }
    )
    frame.to_parquet(tmp_path / "o.parquet", index=False)
    table = load_orders(tmp_path / "o.parquet", RESTAURANTS).table
    assert table["order_id"].tolist() == ["0001", "0002"]
    assert table["placed_at"].iloc[1] == pd.Timestamp("2026-11-30T18:40Z")


def test_numeric_ids_in_parquet_are_refused(tmp_path):
    """An integer order_id column in Parquet is refused: ids like '0042' must stay text."""
    frame = pd.DataFrame(
        {"order_id": [1], "restaurant_id": ["R01"], "placed_at": ["2026-11-30T19:10"]}
    )
    frame.to_parquet(tmp_path / "o.parquet", index=False)
    (problem,) = problems(tmp_path / "o.parquet")
    assert "column 'order_id': Parquet column has type int64" in problem


def test_missing_source_and_empty_folder(tmp_path):
    """A path that does not exist and a folder without orders files are both input errors."""
    assert "orders file not found" in problems(tmp_path / "nope.csv")[0]
    (tmp_path / "empty").mkdir()
    assert "no orders file in this folder" in problems(tmp_path / "empty")[0]


def test_cli_exits_3_naming_file_line_column(tmp_path):
    """`rebalance replay` with a bad orders file exits 3; stderr names file, line and column."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-30T19:10\nA1,R01,2026-11-30T19:11\n")
    result = CliRunner().invoke(
        app, ["replay", str(VALID), "--orders", str(path), "--shift-start", SHIFT]
    )
    assert result.exit_code == 3
    assert "o.csv, line 3, column 'order_id': duplicate order_id" in result.stderr
    assert result.stdout == ""


def test_city_timezone_applies_to_naive_times(tmp_path):
    """Naive times are read in [city] timezone, not UTC."""
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-30T19:10\n")
    config = Config().with_changes(city={"timezone": "America/New_York"})
    table = load_orders(path, RESTAURANTS, config).table
    assert table["placed_at"].iloc[0] == pd.Timestamp("2026-12-01T00:10Z")


def test_an_id_behind_a_formula_guard_gets_its_restaurants_zone(tmp_path):
    """An orders export whose restaurant id went through a spreadsheet's formula guard
    (``'+R2`` for ``+R2``) is read as that restaurant, and its orders get its zone."""
    from util import courier, restaurant, write_city, zone

    city = write_city(
        tmp_path / "city",
        zones=[zone("A", 48.86, 2.34), zone("B", 48.87, 2.35)],
        restaurants=[restaurant("RA1", "A", 3.0), restaurant("+R2", "B", 3.0)],
        couriers=[courier("C1", "A")],
    )
    source = tmp_path / "orders.csv"
    pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "restaurant_id": ["'+R2", "RA1", "+R2"],
            "placed_at": ["2026-11-29T19:10"] * 3,
        }
    ).to_csv(source, index=False)
    table = load_orders(source, load(city).restaurants).table
    assert table["restaurant_id"].tolist() == ["+R2", "RA1", "+R2"]
    assert table["zone_id"].astype(str).tolist() == ["B", "A", "B"]


def test_orders_read_in_another_timezone_than_the_citys_are_refused(tmp_path):
    """A New York analyst who loads the orders without the city's config got them read
    in Paris time (the defaults'): a replay of them then served 0 of the orders the
    command line counted, without a word. Now replay and forecast refuse them, saying
    to pass inputs.config; loaded with it (or as a path, or with offsets) they count."""
    import rebalance

    new_york = Config().with_changes(city={"timezone": "America/New_York"})
    inputs = load(VALID, new_york)
    path = write(tmp_path / "o.csv", "A1,R01,2026-11-30T19:10\nA2,R04,2026-11-30T19:40\n")
    expected = rebalance.replay(inputs, path, None, SHIFT).policies["orders"].tolist()
    assert expected == [2]
    right = load_orders(path, inputs.restaurants, inputs.config)
    assert rebalance.replay(inputs, right, None, SHIFT).policies["orders"].tolist() == expected
    wrong = load_orders(path, inputs.restaurants)  # no config: read in Europe/Paris
    calls = {
        "replay": lambda: rebalance.replay(inputs, wrong, None, SHIFT),
        "forecast": lambda: rebalance.forecast(wrong, inputs, None, SHIFT),
    }
    for name, call in calls.items():
        with pytest.raises(
            ValueError,
            match=rf"^{name}\(.*read in 'Europe/Paris'.*'America/New_York'.*inputs\.config",
        ):
            call()
    # with their offsets the orders are instants: read in any timezone, they are right
    offsets = write(tmp_path / "z.csv", "A1,R01,2026-12-01T00:10Z\nA2,R04,2026-12-01T00:40Z\n")
    given = load_orders(offsets, inputs.restaurants)
    assert rebalance.replay(inputs, given, None, SHIFT).policies["orders"].tolist() == expected
    # another name for New York's clock reads them as the city does: not refused
    eastern = Config().with_changes(city={"timezone": "US/Eastern"})
    alias = load_orders(path, inputs.restaurants, eastern)
    assert rebalance.replay(inputs, alias, None, SHIFT).policies["orders"].tolist() == expected
