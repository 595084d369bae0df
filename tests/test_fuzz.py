"""Fuzzing through the installed CLI, opt-in: ``make fuzz`` (or ``pytest -m fuzz``).

Damaged input files (CSV and Parquet), damaged plan folders and random configuration
values, each run as a user runs them. Every run must end with exit 0, 3 or 4 (CONTRACT
section 6: a bug is exit 1, a crash a signal), print no Python traceback, and leave no
output behind when it refuses. ``FUZZ_RUNS`` sets the runs per test (default 40),
``FUZZ_SEED`` the first seed (default 0): a failure names its seed, run and command, and
its folder is kept under pytest's temporary directory.

These runs found, on 2026-12-06, an abort at exit after a bad file (Arrow's reader
dropping a Python object while the interpreter exited), a traceback on a CR inside the
header line, and a KeyError on a plan's moves.csv without its vehicle column. Each has
a fast test of its own (tests/test_inputs_fast.py, tests/test_plan_files.py); these
look for the next one. They are kept out of `make test` for their time (a process per
run: ~1 s each).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from util import REPO

from rebalance.generate import generate_city

pytestmark = pytest.mark.fuzz

REBALANCE = str(Path(sys.executable).parent / "rebalance")
PARIS = REPO / "data" / "samples" / "paris"
SHIFT = ["--shift-start", "2026-11-30T19:00"]
RUNS = int(os.environ.get("FUZZ_RUNS", "40"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))

#: Cell values an export, a spreadsheet or a hostile partner may leave.
GARBAGE = [
    "", " ", "NaN", "nan", "-1", "1e309", "inf", "-inf", "0x10", "\u00a0", "é", "\x00", '"',
    '""', "a,b", "2026-13-40T25:61", "2026-11-30T19:00:00+25:00", "NULL", "None", "TRUE",
    "9" * 40, "=cmd|' /C calc'!A0", "\r", "\n", ";", "1;2", "car ", "CAR", "bike\t", "open",
    "closed", "paused", "🚲", "\ufeff",
]  # fmt: skip


def _run(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    result = subprocess.run(
        [REBALANCE, *args], capture_output=True, text=True, errors="replace", env=env, timeout=300
    )
    shown = f"{what}: rebalance {' '.join(args)}\nexit {result.returncode}\n{result.stderr[-3000:]}"
    assert result.returncode in (0, 3, 4), shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    return result


def _mutate_csv(text: str, rng: random.Random) -> bytes:
    """One damage a CSV meets in operations: a cell, the header, a row twice or one field
    too many, a cut, a dropped or swapped column, another separator or encoding, or a file
    with nothing in it."""
    lines = text.split("\n")
    kind = rng.randrange(10)
    body = len(lines) > 2
    if kind == 0 and body:
        i = rng.randrange(1, len(lines) - 1)
        cells = lines[i].split(",")
        cells[rng.randrange(len(cells))] = rng.choice(GARBAGE)
        lines[i] = ",".join(cells)
    elif kind == 1:
        cells = lines[0].split(",")
        cells[rng.randrange(len(cells))] = rng.choice([*GARBAGE, "zone", "Zone_ID", cells[0]])
        lines[0] = ",".join(cells)
    elif kind == 2 and body:
        i = rng.randrange(1, len(lines) - 1)
        lines.insert(i, lines[i])
    elif kind == 3:
        data = text.encode()
        return data[: rng.randrange(len(data) + 1)]
    elif kind == 4 and body:
        k = rng.randrange(len(lines[0].split(",")))
        lines = [",".join(c for j, c in enumerate(x.split(",")) if j != k) for x in lines]
    elif kind == 5 and body:
        lines[rng.randrange(1, len(lines) - 1)] += "," + rng.choice(GARBAGE)
    elif kind == 6:
        return text.replace(",", rng.choice([";", "\t", "|"])).encode()
    elif kind == 7:
        return text.encode(rng.choice(["latin-1", "utf-16", "utf-8-sig", "cp1252"]), "replace")
    elif kind == 8 and body:
        i = rng.randrange(1, len(lines) - 1)
        cells = lines[i].split(",")
        if len(cells) > 1:
            a, b = rng.sample(range(len(cells)), 2)
            cells[a], cells[b] = cells[b], cells[a]
            lines[i] = ",".join(cells)
    else:
        return rng.choice([b"", (lines[0] + "\n").encode(), b"\n\n\n"])
    return "\n".join(lines).encode()


def _damage_tables(folder: Path, rng: random.Random) -> None:
    tables = sorted(p for p in folder.iterdir() if p.suffix == ".csv")
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(tables)
        path.write_bytes(_mutate_csv(path.read_bytes().decode("utf-8", "replace"), rng))


def _refused_cleanly(result: subprocess.CompletedProcess[str], *outputs: Path) -> None:
    if result.returncode != 0:
        left = [str(p) for p in outputs if p.exists()]
        assert not left, f"exit {result.returncode} left {left}\n{result.stderr[-2000:]}"


def test_damaged_csv_files_of_the_paris_sample(tmp_path):
    """plan and validate of the Paris sample with one to three of its CSV files damaged."""
    rng = random.Random(SEED)
    for run in range(RUNS):
        city = tmp_path / f"run{run}"
        shutil.copytree(PARIS, city)
        _damage_tables(city, rng)
        out = city / "out"
        command = rng.choice(
            [["plan", str(city), *SHIFT, "--out", str(out)], ["validate", str(city), *SHIFT]]
        )
        _refused_cleanly(_run(command, f"seed {SEED}, run {run}"), out)
        shutil.rmtree(city)


@pytest.fixture(scope="module")
def orders_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small generated city with travel times, staggered couriers, slot demand and ten
    days of orders; and its plan folder."""
    root = tmp_path_factory.mktemp("orders")
    city = generate_city(
        root / "city",
        zones=8,
        couriers=80,
        restaurants=60,
        seed=3,
        travel_times=True,
        demand=True,
        staggered=True,
        history_days=10,
    )
    _run(["plan", str(city), *SHIFT, "--out", str(root / "plan")], "setup")
    return city, root / "plan"


def test_damaged_tables_through_forecast_replay_and_plan(tmp_path, orders_city):
    """forecast, replay, plan and validate of a city with orders, travel times and slot
    demand, one to three of its CSV files damaged."""
    source, plan = orders_city
    rng = random.Random(SEED + 1)
    for run in range(RUNS):
        city = tmp_path / f"run{run}"
        shutil.copytree(source, city)
        _damage_tables(city, rng)
        out = tmp_path / f"out{run}"
        orders, shift = str(city / "orders.csv"), str(city / "shift_orders.csv")
        command = rng.choice(
            [
                ["plan", str(city), *SHIFT, "--out", str(out)],
                ["validate", str(city), *SHIFT],
                ["forecast", orders, "--data", str(city), *SHIFT, "--out", f"{out}.csv"],
                ["replay", str(city), "--orders", shift, *SHIFT, "--plan", str(plan)],
                ["replay", str(city), "--orders", shift, *SHIFT, "--format", "json"],
            ]
        )
        result = _run(command, f"seed {SEED + 1}, run {run}")
        _refused_cleanly(result, out, Path(f"{out}.csv"))
        shutil.rmtree(city)


def _retyped(column: pa.Array, rng: random.Random) -> pa.Array:
    """The column as another Arrow type, or with nulls, or emptied of its values."""
    n = len(column)
    kind = rng.randrange(12)
    if kind == 0 and (pa.types.is_string(column.type) or pa.types.is_integer(column.type)):
        return column.dictionary_encode()
    if kind == 1:
        return pa.nulls(n, column.type)
    if kind == 2:
        nulls = pa.array([rng.random() < 0.1 for _ in range(n)])
        return pc.if_else(nulls, pa.scalar(None, column.type), column)
    if kind == 3:
        return pa.array([rng.randrange(-5, 50) for _ in range(n)], pa.int64())
    if kind == 4:
        return pa.array([rng.random() * 100 for _ in range(n)], pa.float64())
    if kind == 5:
        start = pd.Timestamp("2026-11-30T19:00", tz="UTC")
        values = [start + pd.Timedelta(minutes=rng.randrange(-600, 600)) for _ in range(n)]
        return pa.array(values, pa.timestamp("us", tz=rng.choice(["UTC", None])))
    if kind == 6:
        return pa.array([[1, 2]] * n)
    if kind == 7:
        return pa.array([b"\xff\xfe"] * n, pa.binary())
    if kind == 8:
        return pa.array([rng.random() < 0.5 for _ in range(n)])
    if kind == 9:
        return pa.array([{"a": 1}] * n)
    if kind == 10:
        return pa.array([[float("nan"), float("inf"), 1.0][i % 3] for i in range(n)])
    return column.cast(pa.large_string()) if pa.types.is_string(column.type) else column


def test_parquet_tables_of_random_column_types(tmp_path):
    """plan and validate of the Paris sample with its tables as Parquet files (some
    beside their CSV), one or two columns of another type, a column dropped, no rows or a
    flipped byte."""
    rng = random.Random(SEED + 2)
    text = {"zone_id": str, "restaurant_id": str, "courier_id": str, "name": str}
    for run in range(RUNS):
        city = tmp_path / f"run{run}"
        shutil.copytree(PARIS, city)
        for name in ("zones", "restaurants", "couriers", "demand"):
            if rng.random() < 0.4:
                continue
            table = pa.Table.from_pandas(pd.read_csv(city / f"{name}.csv", dtype=text))
            for _ in range(rng.choice([0, 1, 1, 2])):
                i = rng.randrange(table.num_columns)
                field = table.schema.field(i)
                table = table.set_column(
                    i, field.name, _retyped(table.column(i).combine_chunks(), rng)
                )
            if rng.random() < 0.1:
                table = table.remove_column(rng.randrange(table.num_columns))
            if rng.random() < 0.05:
                table = table.slice(0, 0)
            path = city / f"{name}.parquet"
            pq.write_table(table, path)
            if rng.random() < 0.9:
                (city / f"{name}.csv").unlink()
            if rng.random() < 0.05:
                data = bytearray(path.read_bytes())
                data[rng.randrange(len(data))] ^= 0xFF
                path.write_bytes(bytes(data))
        out = city / "out"
        command = rng.choice(
            [["plan", str(city), *SHIFT, "--out", str(out)], ["validate", str(city), *SHIFT]]
        )
        _refused_cleanly(_run(command, f"seed {SEED + 2}, run {run}"), out)
        shutil.rmtree(city)


_JUNK = [
    None,
    "",
    "x",
    -1,
    0,
    1e308,
    [],
    {},
    True,
    "2026-13-01T00:00",
    "\u202e",
    "<!channel>",
    10**30,
]


def _mutate_json(value: object, rng: random.Random, depth: int = 0) -> None:
    """Delete or replace one entry of a JSON object or array, at the top or deeper."""
    if not isinstance(value, dict | list) or not value:
        return
    key = rng.choice(list(value) if isinstance(value, dict) else range(len(value)))
    roll = rng.random()
    if roll < 0.3:
        del value[key]
    elif roll < 0.6 or depth > 3:
        value[key] = rng.choice(_JUNK)
    else:
        _mutate_json(value[key], rng, depth + 1)


def test_damaged_plan_folders_through_every_view(tmp_path, orders_city):
    """explain, diff, publish --dry-run and map of a plan folder with plan.json edited,
    a plan CSV damaged, roster.parquet's bytes flipped or a file deleted."""
    city, written = orders_city
    rng = random.Random(SEED + 3)
    files = ["plan.json", "zones.csv", "moves.csv", "slots.csv", "roster.parquet"]
    for run in range(RUNS):
        plan = tmp_path / f"plan{run}"
        shutil.copytree(written, plan)
        for _ in range(rng.choice([1, 1, 2])):
            path = plan / rng.choice([*files, "plan.json"])
            if not path.exists():
                continue
            if rng.random() < 0.1:
                path.unlink()
            elif path.name == "plan.json":
                meta = json.loads(path.read_text(encoding="utf-8"))
                _mutate_json(meta, rng)
                path.write_text(json.dumps(meta), encoding="utf-8")
            elif path.suffix == ".parquet":
                data = bytearray(path.read_bytes())
                for _ in range(3):
                    data[rng.randrange(len(data))] = rng.randrange(256)
                path.write_bytes(bytes(data))
            else:
                # as _damage_tables reads it: a first damage may have written another
                # encoding, and the harness crashed reading it (seed 13003)
                text = path.read_bytes().decode("utf-8", "replace")
                path.write_bytes(_mutate_csv(text, rng))
        html = tmp_path / f"map{run}.html"
        command = rng.choice(
            [
                ["explain", str(plan)],
                ["explain", str(plan), "--format", "json"],
                ["diff", str(written), str(plan)],
                ["diff", str(plan), str(written), "--format", "json"],
                ["publish", str(plan), "--dry-run", "--channel", "C0123ABCD"],
                ["map", str(plan), "--out", str(html), "--data", str(city), "--no-tiles"],
            ]
        )
        result = _run(command, f"seed {SEED + 3}, run {run}")
        assert result.returncode in (0, 3)
        _refused_cleanly(result, html)
        shutil.rmtree(plan)


def test_random_configuration_values(tmp_path):
    """plan of the Paris sample with one to three keys of rebalance.toml (known or not)
    set to values of any type: a refusal names the key."""
    rng = random.Random(SEED + 4)
    keys = [
        "demand.orders_per_courier_hour", "eligibility.min_available_minutes",
        "costs.move_fixed_minutes", "costs.shortage_minutes", "costs.surplus_minutes",
        "costs.change_minutes", "travel.detour_factor", "shift.hours", "shift.slot_minutes",
        "solver.time_limit_seconds", "vehicles.bike.speed_kmh", "vehicles.car.max_move_minutes",
        "vehicles.hoverboard.speed_kmh", "city.timezone", "slack.channel", "slack.approvers",
        "bogus.key", "city.bogus",
    ]  # fmt: skip
    values = [
        "0", "-1", "1e308", "1e-300", "nan", "inf", '"x"', '""', "true", "[]", '[1, "a"]',
        "{a = 1}", "7", "2.5", "1000000000", '"Europe/Nowhere"', '"UTC"', "0.0001", "13",
        "1440", '"<!channel>"', '["U1"]', "1979-05-27T07:32:00Z",
    ]  # fmt: skip
    for run in range(RUNS):
        city = tmp_path / f"run{run}"
        shutil.copytree(PARIS, city)
        sections: dict[str, dict[str, str]] = {"city": {}, "data": {"dir": '"."'}}
        for _ in range(rng.choice([1, 1, 2, 3])):
            section, _, key = rng.choice(keys).rpartition(".")
            sections.setdefault(section, {})[key] = rng.choice(values)
        sections["city"].setdefault("timezone", '"Europe/Paris"')
        toml = "".join(
            f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items())
            for name, items in sections.items()
        )
        (city / "rebalance.toml").write_text(toml, encoding="utf-8")
        out = city / "out"
        result = _run(["plan", str(city), *SHIFT, "--out", str(out)], f"seed {SEED + 4}, run {run}")
        _refused_cleanly(result, out)
        if result.returncode == 3 and "rebalance.toml" not in result.stderr:
            assert "key" in result.stderr or "csv" in result.stderr, result.stderr
        shutil.rmtree(city)
