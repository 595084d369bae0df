"""Batch planning on Dask (`rebalance batch`, `run_batch`) and scenario sweeps on Dask."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client, LocalCluster
from rich.console import Console
from typer.testing import CliRunner

from rebalance.batch import (
    BatchResult,
    CityResult,
    default_out,
    find_cities,
    plan_city,
    run_batch,
)
from rebalance.cli import app
from rebalance.config import load_config
from rebalance.errors import DataError
from rebalance.generate import generate_city
from rebalance.inputs import load
from rebalance.scenarios import Scenario, sweep, vary

SHIFT = "2026-11-30T19:00"
#: folder -> (city name, timezone, seed). New York checks that a shift start without
#: offset is read in each city's own timezone, not the first city's.
GOOD = {
    "bordeaux": ("Bordeaux", "Europe/Paris", 11),
    "lille": ("Lille", "Europe/Paris", 12),
    "nantes": ("Nantes", "Europe/Paris", 13),
    "new-york": ("New York", "America/New_York", 14),
}
BAD = "zz-broken"  # sorts last, so it is not simply the first task to run
TIMING_KEYS = {"solve_seconds", "timings"}

runner = CliRunner()


def small_city(path: Path, name: str, timezone: str, seed: int) -> Path:
    """A generated city of 10 zones and 200 couriers, its availability around SHIFT."""
    return generate_city(
        path,
        zones=10,
        couriers=200,
        restaurants=80,
        seed=seed,
        city=name,
        timezone=timezone,
        shift_start=SHIFT,
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One 2-process local cluster for the module: starting one costs seconds."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: 8787 may be held by another cluster
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four good cities and one whose couriers.csv names an unknown vehicle."""
    root = tmp_path_factory.mktemp("cities")
    for folder, (name, tz, seed) in GOOD.items():
        small_city(root / folder, name, tz, seed)
    bad = small_city(root / BAD, "Broken", "Europe/Paris", 15)
    couriers = (bad / "couriers.csv").read_text(encoding="utf-8").splitlines()
    head, *rows = couriers
    fields = rows[2].split(",")
    fields[2] = "rocket"  # vehicle column, on spreadsheet line 4
    rows[2] = ",".join(fields)
    (bad / "couriers.csv").write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def batch(
    client: Client, cities: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BatchResult, list[tuple[int, int, CityResult | None]]]:
    """The batch run on the shared cluster, with every progress call it made."""
    calls: list[tuple[int, int, CityResult | None]] = []
    out = tmp_path_factory.mktemp("batch") / "out"
    result = run_batch(
        cities,
        SHIFT,
        out=out,
        client=client,
        progress=lambda done, total, city: calls.append((done, total, city)),
    )
    return result, calls


def plan_alone(city: Path, out: Path) -> Path:
    """Plan one city with `rebalance plan --out`, as an operator would."""
    result = runner.invoke(
        app, ["plan", str(city), "--shift-start", SHIFT, "--out", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return out


def plan_json(folder: Path) -> dict:
    """plan.json without the keys that measure time."""
    data = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if k not in TIMING_KEYS}


# ------------------------------------------------------------------ run_batch


def test_batch_plans_good_cities_and_reports_the_bad_one(batch):
    """Four cities are planned optimally; the bad one is invalid; the batch exits 3."""
    result, _ = batch
    by_folder = {r.folder: r for r in result.results}
    assert [r.folder for r in result.results] == sorted([*GOOD, BAD])
    for folder, (name, _, _) in GOOD.items():
        city = by_folder[folder]
        assert (city.status, city.exit_code, city.city) == ("optimal", 0, name)
        assert Path(city.plan_dir) == Path(result.out) / folder
    assert result.counts() == {"optimal": 4, "invalid": 1}
    assert result.exit_code == 3
    assert result.workers == 2


def test_batch_plans_equal_planning_each_city_alone(batch, cities, tmp_path):
    """Each OUT/<folder>/ holds the files `rebalance plan --out` writes for that city alone."""
    result, _ = batch
    for folder in GOOD:
        alone = plan_alone(cities / folder, tmp_path / folder)
        together = Path(result.out) / folder
        files = ["moves.csv", "plan.json", "roster.parquet", "slots.csv", "zones.csv"]
        assert sorted(p.name for p in together.iterdir()) == files
        for name in ("moves.csv", "zones.csv", "slots.csv", "roster.parquet"):
            assert (together / name).read_bytes() == (alone / name).read_bytes(), (folder, name)
        assert plan_json(together) == plan_json(alone)


def test_shift_start_is_read_in_each_citys_timezone(batch):
    """19:00 without offset is 19:00 local in Paris and in New York."""
    result, _ = batch
    starts = {r.folder: r.shift_start for r in result.results}
    assert starts["lille"] == "2026-11-30T19:00:00+01:00"
    assert starts["new-york"] == "2026-11-30T19:00:00-05:00"


def test_bad_city_is_reported_with_its_error_and_writes_nothing(batch):
    """The invalid city names file, line and column, exits 3, and leaves no plan folder."""
    result, _ = batch
    bad = next(r for r in result.results if r.folder == BAD)
    assert (bad.status, bad.exit_code, bad.plan_dir) == ("invalid", 3, "")
    assert "couriers.csv, line 4, column 'vehicle'" in bad.message
    assert "'rocket'" in bad.message
    assert not (Path(result.out) / BAD).exists()


def test_progress_is_reported_once_per_city(batch):
    """progress gets (0, total, None) first, then one call per city up to (total, total)."""
    _, calls = batch
    assert calls[0] == (0, 5, None)
    assert [done for done, _, _ in calls[1:]] == [1, 2, 3, 4, 5]
    assert {total for _, total, _ in calls} == {5}
    assert sorted(c.folder for _, _, c in calls[1:] if c) == sorted([*GOOD, BAD])


def test_summary_table_has_one_row_per_city_with_kpis_and_times(batch):
    """table() lists status, KPIs and seconds per city; counts stay integers."""
    result, _ = batch
    table = result.table()
    assert list(table["folder"]) == sorted([*GOOD, BAD])
    for column in ("status", "exit_code", "moved_couriers", "coverage", "total_seconds"):
        assert column in table.columns
    assert str(table["moved_couriers"].dtype) == "Int64"
    good = table[table["status"] == "optimal"]
    assert (good["coverage"] >= good["coverage_before"]).all()
    assert (good["total_seconds"] >= good["solve_seconds"]).all()
    assert table.loc[table["folder"] == BAD, "moved_couriers"].isna().all()


def test_summary_renders_in_80_columns_with_the_error(batch):
    """The rich summary fits 80 columns and spells out the bad city's error."""
    result, _ = batch
    console = Console(width=80, record=True, color_system=None)
    console.print(result)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "4 optimal, 1 invalid" in text
    assert f"{BAD}: invalid input: couriers.csv" in text
    for folder in GOOD:
        assert folder in text


@pytest.mark.parametrize("width", [60, 80])
def test_summary_never_cuts_headers_statuses_or_numbers(batch, width):
    """At 80 columns (cron's mail, a pipe) the headers read "Fold…", "Mov…", the
    statuses "optim…" and the coverage "35% → 3…" (QA). The summary is now fitted as the
    plan's tables are: Objective, Seconds and City give way; what stays is whole."""
    result, _ = batch
    console = Console(width=width, record=True, color_system=None)
    console.print(result)
    text = console.export_text()
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width
    header = next(line for line in text.splitlines() if "Status" in line)
    for name in ("Folder", "Status", "Moved", "Short", "Coverage"):
        assert name in header, header
    for r in result.results:
        assert r.status in text
        if r.planned:
            k = r.kpis
            assert f"{k['coverage_before']:.0%} → {k['coverage']:.0%}" in text


def test_json_summary_carries_every_city(batch):
    """to_json() holds the exit code, counts and every city's KPIs."""
    result, _ = batch
    data = json.loads(result.to_json())
    assert data["exit_code"] == 3 and data["counts"] == {"optimal": 4, "invalid": 1}
    assert [c["folder"] for c in data["cities"]] == sorted([*GOOD, BAD])
    assert data["cities"][0]["kpis"]["eligible_couriers"] > 0


def test_exit_code_precedence():
    """Invalid (3) beats infeasible (4) beats error (1) beats success (0)."""

    def batch_of(*statuses: str) -> BatchResult:
        codes = {"optimal": 0, "invalid": 3, "infeasible": 4, "error": 1}
        results = [CityResult(f"c{i}", f"c{i}", s, codes[s]) for i, s in enumerate(statuses)]
        return BatchResult(results, SHIFT, None, 0.0, 1, "test")

    assert batch_of("optimal", "optimal").exit_code == 0
    assert batch_of("optimal", "error").exit_code == 1
    assert batch_of("error", "infeasible").exit_code == 4
    assert batch_of("error", "infeasible", "invalid").exit_code == 3


def test_out_folder_with_other_files_is_refused_before_planning(client, cities, tmp_path):
    """An OUT/<city> folder holding non-plan files stops the batch before any solve."""
    out = tmp_path / "out"
    (out / "lille").mkdir(parents=True)
    (out / "lille" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        run_batch(cities, SHIFT, out=out, client=client)
    assert sorted(p.name for p in out.iterdir()) == ["lille"]


def test_a_second_batch_into_the_same_out_replaces_its_plans(client, cities, tmp_path):
    """Re-running a batch (cron, or after fixing the bad city) into the same OUT: the
    earlier plans, slots.csv included, are replaced, not refused as other files."""
    out = tmp_path / "out"
    first = run_batch(cities, SHIFT, out=out, client=client)
    planned = [Path(r.plan_dir) for r in first.results if r.plan_dir]
    assert planned and any((folder / "slots.csv").exists() for folder in planned)
    again = run_batch(cities, SHIFT, out=out, client=client)
    assert [r.status for r in again.results] == [r.status for r in first.results]


def test_find_cities_skips_hidden_folders_files_and_outs(tmp_path):
    """Sub-folders are cities, except hidden ones, OUT, and an earlier batch's OUT."""
    for name in ("b", "a", ".tmp", "plans", "batch-20261129T1900/a"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "README.md").write_text("x", encoding="utf-8")
    assert [p.name for p in find_cities(tmp_path, exclude=tmp_path / "plans")] == ["a", "b"]


def test_a_folder_without_cities_is_invalid_input(tmp_path):
    """A CITIES_DIR with no city folder (or none at all) is a DataError (exit 3)."""
    with pytest.raises(DataError, match="no city folders found"):
        run_batch(tmp_path, SHIFT)
    with pytest.raises(DataError, match="cities folder not found"):
        run_batch(tmp_path / "missing", SHIFT)


def test_default_out_is_named_after_the_shift_start():
    """Without --out, plans go to ./batch-<YYYYmmddTHHMM> of the shift start as written."""
    assert default_out("2026-11-30T19:00") == Path("batch-20261130T1900")
    assert default_out("2026-11-30T19:00+01:00") == Path("batch-20261130T1900")


# ------------------------------------------------------------------ plan_city


def test_plan_city_reports_infeasible_without_writing(tmp_path):
    """A city whose caps cannot hold its couriers is infeasible (exit 4), with no folder."""
    city = small_city(tmp_path / "capped", "Capped", "Europe/Paris", 3)
    zones = pd.read_csv(city / "zones.csv", dtype=str, keep_default_na=False)
    zones["max_couriers"] = "0"
    zones.to_csv(city / "zones.csv", index=False)
    result = plan_city(str(city), SHIFT, str(tmp_path / "out"))
    assert (result.status, result.exit_code, result.plan_dir) == ("infeasible", 4, "")
    assert result.message.startswith("no feasible plan")
    assert not (tmp_path / "out" / "capped").exists()


def test_a_city_that_fails_says_its_out_folder_holds_an_earlier_plan(tmp_path):
    """Re-run for the same shift after its data broke, a city's OUT folder keeps the
    plan of the earlier run (as `plan --out` keeps it); the city's message says so,
    where nothing told a reader of OUT that this plan was not the run's."""
    city = small_city(tmp_path / "lyon", "Lyon", "Europe/Paris", 6)
    out = tmp_path / "out"
    assert plan_city(str(city), SHIFT, str(out)).planned
    before = (out / "lyon" / "moves.csv").read_bytes()
    couriers = city / "couriers.csv"
    couriers.write_text(couriers.read_text(encoding="utf-8").replace(",car,", ",rocket,", 1))
    result = plan_city(str(city), SHIFT, str(out))
    assert (result.status, result.plan_dir) == ("invalid", "")
    assert result.message.endswith(
        f"; {out / 'lyon'} still holds the plan of an earlier run, left as it was"
    )
    assert "rocket" in result.message
    assert (out / "lyon" / "moves.csv").read_bytes() == before
    # without an earlier plan, the message is the error alone; a folder without a plan
    # holds none
    assert "earlier run" not in plan_city(str(city), SHIFT, str(tmp_path / "new")).message
    (tmp_path / "empty" / "lyon").mkdir(parents=True)
    assert "earlier run" not in plan_city(str(city), SHIFT, str(tmp_path / "empty")).message
    # a city planned again over its earlier plan is not told it holds one
    couriers.write_text(couriers.read_text(encoding="utf-8").replace(",rocket,", ",car,", 1))
    again = plan_city(str(city), SHIFT, str(out))
    assert again.planned and "earlier run" not in again.message


def test_a_folder_that_is_no_city_is_named_by_its_folder(tmp_path):
    """An empty folder in CITIES_DIR (no rebalance.toml, no tables) was listed as the city
    "Paris", the built-in default's name, which it does not have: it is named by its
    folder (the table's City column stays blank). A folder with a rebalance.toml keeps
    that file's name even when its tables are missing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = plan_city(str(empty), SHIFT, None)
    assert (result.status, result.city) == ("invalid", "empty")
    named = small_city(tmp_path / "named", "Lille", "Europe/Paris", 1)
    (named / "couriers.csv").unlink()
    assert plan_city(str(named), SHIFT, None).city == "Lille"


def test_plan_city_turns_a_bug_into_an_error_result(tmp_path, monkeypatch):
    """An unexpected exception becomes status error, exit 1, with its traceback kept."""
    city = small_city(tmp_path / "buggy", "Buggy", "Europe/Paris", 4)

    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(sys.modules["rebalance.optimize"], "solve", boom)
    result = plan_city(str(city), SHIFT, None)
    assert (result.status, result.exit_code) == ("error", 1)
    assert result.message == "RuntimeError: solver exploded"
    assert "Traceback" in result.traceback and "boom" in result.traceback


def test_plan_city_reports_a_bad_config_as_invalid(tmp_path):
    """A bad rebalance.toml makes the city invalid, naming the key."""
    city = small_city(tmp_path / "badconf", "Badconf", "Europe/Paris", 5)
    (city / "rebalance.toml").write_text('[city]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = plan_city(str(city), SHIFT, None)
    assert (result.status, result.exit_code) == ("invalid", 3)
    assert "city.timezone" in result.message


# ------------------------------------------------------------------------ CLI


def test_cli_batch_on_a_scheduler_prints_json_and_exits_3(client, cities, tmp_path):
    """`batch --scheduler ADDR --format json` prints only JSON on stdout, errors on stderr."""
    out = tmp_path / "plans"
    address = client.scheduler.address
    result = runner.invoke(
        app,
        [
            *("batch", str(cities), "--shift-start", SHIFT, "--out", str(out)),
            *("--scheduler", address, "--format", "json"),
        ],
    )
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["counts"] == {"optimal": 4, "invalid": 1}
    assert data["scheduler"] == address
    assert f"error: {BAD}: invalid input: couriers.csv, line 4" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(GOOD)


def test_cli_batch_csv_summary(client, cities, tmp_path):
    """`--format csv` prints the summary table as CSV, one row per city."""
    result = runner.invoke(
        app,
        [
            *("batch", str(cities), "--shift-start", SHIFT, "--out", str(tmp_path / "plans")),
            *("--scheduler", client.scheduler.address, "--format", "csv"),
        ],
    )
    assert result.exit_code == 3, result.output
    rows = pd.read_csv(pd.io.common.StringIO(result.stdout), dtype={"folder": str})
    assert list(rows["folder"]) == sorted([*GOOD, BAD])
    assert list(rows["status"]) == ["optimal"] * 4 + ["invalid"]


def test_cli_batch_csv_writes_control_characters_out(client, tmp_path):
    """A city named with ESC sequences and a right-to-left override (a partner's
    rebalance.toml): `--format csv` printed them raw on stdout, and at a terminal the
    summary turned red and the screen was cleared. They are written out (``\\x1b``), as
    the table and --format json do; a formula start is still guarded."""
    evil = "=Evil\x1b[31mRED\x1b[2J\u202eabc"
    small_city(tmp_path / "cities" / "evil", evil, "Europe/Paris", 1)
    result = runner.invoke(
        app,
        [
            *("batch", str(tmp_path / "cities"), "--shift-start", SHIFT),
            *("--out", str(tmp_path / "plans"), "--scheduler", client.scheduler.address),
            *("--format", "csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    rows = pd.read_csv(pd.io.common.StringIO(result.stdout), dtype=str, keep_default_na=False)
    assert list(rows["city"]) == ["'=Evil\\x1b[31mRED\\x1b[2J\\u202eabc"]


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        (["--shift-start", "tonight"], "--shift-start"),
        (
            ["--shift-start", SHIFT, "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
            "--workers",
        ),
    ],
)
def test_cli_batch_usage_errors_exit_2(cities, extra, hint):
    """A bad shift start, or --workers with --scheduler, is a usage error (exit 2)."""
    result = runner.invoke(app, ["batch", str(cities), *extra])
    assert result.exit_code == 2
    assert hint in result.stderr


def test_cli_batch_on_a_scheduler_out_of_reach_is_a_usage_error(cities, monkeypatch):
    """--scheduler naming an address where no scheduler listens: exit 2 naming the option
    and what to check (it was exit 1, the code for a bug, after Dask's 30 s)."""
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "1s")
    import dask

    dask.config.refresh()
    try:
        result = runner.invoke(
            app, ["batch", str(cities), "--shift-start", SHIFT, "--scheduler", "tcp://127.0.0.1:1"]
        )
    finally:
        monkeypatch.delenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT")
        dask.config.refresh()
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.stderr and "cannot reach the Dask scheduler" in result.stderr


def test_cli_batch_refuses_an_out_folder_with_other_files(client, cities, tmp_path):
    """An OUT/<city> holding foreign files is a usage error (exit 2), as for `plan --out`."""
    (tmp_path / "plans" / "lille").mkdir(parents=True)
    (tmp_path / "plans" / "lille" / "notes.txt").write_text("x", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            *("batch", str(cities), "--shift-start", SHIFT, "--out", str(tmp_path / "plans")),
            *("--scheduler", client.scheduler.address),
        ],
    )
    assert result.exit_code == 2
    assert "notes.txt" in result.stderr


def test_cli_batch_refuses_an_out_that_is_a_file_before_planning(cities, tmp_path):
    """--out naming a file: every city was planned, then each failed "a file is in the
    way", exit 3. It is wrong usage, exit 2 at once as for `plan --out FILE`: no city is
    planned (no cluster is started) and the file is left as it was."""
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    result = runner.invoke(
        app, ["batch", str(cities), "--shift-start", SHIFT, "--out", str(afile), "--workers", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "--out" in result.stderr and "is not a folder" in result.stderr
    assert "cannot write the plan folder" not in result.output
    assert afile.read_text(encoding="utf-8") == "x"


def test_cli_batch_on_an_empty_folder_exits_3(tmp_path):
    """A CITIES_DIR without city folders is invalid input (exit 3), said on stderr."""
    result = runner.invoke(app, ["batch", str(tmp_path), "--shift-start", SHIFT])
    assert result.exit_code == 3
    assert "no city folders found" in result.stderr


def session_processes(sid: int) -> list[str]:
    """Processes (pid and name) of session ``sid`` still on the system, zombies included."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:  # fields: state, ppid, pgrp, session
            found.append(f"{stat.parent.name} {name} {fields[0]}")
    return found


def _batch_process(
    tmp_path: Path, *, workers: int, sigint: str = "SIG_DFL", more: int = 0
) -> subprocess.Popen[str]:
    """`rebalance batch` of two small cities (and ``more`` others) as the console
    script, in a session of its own (as under a cron or systemd timer), from
    ``tmp_path``; Ctrl-C acted on even when the tests run where SIGINT is ignored (a
    shell's background job: the child inherits the ignoring, and the batch rightly
    ignores it too): a Python that restores it then execs the batch, same process id.
    ``sigint="SIG_IGN"``: started as a shell's background job is, ignoring it."""
    root = tmp_path / "cities"
    small_city(root / "lille", "Lille", "Europe/Paris", 12)
    small_city(root / "nantes", "Nantes", "Europe/Paris", 13)
    for k in range(more):
        small_city(root / f"town{k}", f"Town {k}", "Europe/Paris", 20 + k)
    exe = Path(sys.executable).parent / "rebalance"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "rebalance"]
    args = [*command, "batch", str(root), "--shift-start", SHIFT, "--workers", str(workers)]
    disposed = (
        f"import os, signal, sys; signal.signal(signal.SIGINT, signal.{sigint}); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return subprocess.Popen(
        [sys.executable, "-c", disposed, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_cli_batch_on_its_own_local_cluster_as_a_real_subprocess(tmp_path):
    """The console script starts a local cluster, plans, keeps Dask quiet, leaves no process."""
    proc = _batch_process(tmp_path, workers=1)
    stdout, stderr = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    # Nothing of the run outlives it (the timer would kill it, or wait for it).
    assert session_processes(proc.pid) == []
    assert result.returncode == 0, result.stderr
    assert "2 cities (2 optimal)" in result.stdout
    # Only our own line on stderr: no Dask start-up or shutdown chatter.
    assert result.stderr.strip() == "Plans written to batch-20261130T1900/<city folder>/"
    assert (tmp_path / "batch-20261130T1900" / "nantes" / "moves.csv").exists()


def _stderr_once_ended(proc: subprocess.Popen[str], after: str) -> str:
    """The batch's stderr once it has ended (at most 60 s ``after`` what was sent to it);
    its process group killed, and the test failed, if it is still running then."""
    import os

    try:
        return proc.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise AssertionError(f"the batch was still running 60 s after {after}") from None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(("signum", "code"), [(15, 143), (2, 130)])
def test_a_signal_while_the_local_cluster_starts_ends_the_batch(tmp_path, signum, code):
    """SIGTERM (or Ctrl-C) while Dask's local cluster was starting left the batch
    waiting for its half-started workers for good, with them and the resource tracker,
    until a second signal (QA: 1-1.5 s after the start). Sent as soon as the first
    worker process exists, it now ends the batch with 143 (130), nothing left behind."""
    import os
    import time

    proc = _batch_process(tmp_path, workers=2)
    deadline = time.monotonic() + 60
    while len(session_processes(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # until a worker (or the resource tracker) is being started
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signum)
    stderr = _stderr_once_ended(proc, "the signal")
    assert proc.returncode == code, stderr
    assert session_processes(proc.pid) == []
    assert not (tmp_path / "batch-20261130T1900" / "nantes" / "moves.csv").exists()


def _cmdline(pid: int) -> str:
    """The command line of process ``pid``, empty once it has ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def _ignores_sigint(pid: int) -> bool:
    """Whether process ``pid`` ignores SIGINT (its SigIgn mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask.split()[1], 16) & (1 << (2 - 1)))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_batch_that_ignores_sigint_plans_on_through_sigint_to_its_group(tmp_path):
    """Started as a shell's background job (SIGINT ignored), the batch ignores a SIGINT
    sent to its whole process group (a terminal's Ctrl-C, a timer's), and so do its
    workers. They were started with Python's Ctrl-C handler: every worker ended, and
    the batch waited for them for good, until killed (QA, 16 cities: still waiting
    40 s later). Sent again and again from the first worker on, it now plans every
    city and leaves nothing behind."""
    import os
    import time

    proc = _batch_process(tmp_path, workers=1, sigint="SIG_IGN")
    deadline = time.monotonic() + 60
    while len(session_processes(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # until a worker (or the resource tracker) is being started
    while proc.poll() is None and time.monotonic() < deadline:
        os.killpg(proc.pid, 2)
        time.sleep(0.1)
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise AssertionError("the batch was still running 60 s after it started") from None
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert "2 cities (2 optimal)" in stdout
    assert session_processes(proc.pid) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_on_a_planning_batch_ends_it_without_a_worker_traceback(tmp_path):
    """Ctrl-C reaches the whole process group. The batch handles it (exit 130) and
    closes its workers; each worker handled it too, and printed a 35-line
    `KeyboardInterrupt` traceback of Dask's on stderr. Workers now ignore it once
    started."""
    import os
    import time

    proc = _batch_process(tmp_path, workers=1, more=4)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        children = [int(line.split()[0]) for line in session_processes(proc.pid)]
        workers = [pid for pid in children if pid != proc.pid and "spawn_main" in _cmdline(pid)]
        if workers:  # started: once it ignores Ctrl-C (seconds on a busy machine) it plans
            deadline = min(deadline, time.monotonic() + 15.0)
            if all(_ignores_sigint(pid) for pid in workers):
                break
        time.sleep(0.01)
    assert proc.poll() is None, "the batch ended before Ctrl-C"
    os.killpg(proc.pid, 2)
    stderr = _stderr_once_ended(proc, "Ctrl-C")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert session_processes(proc.pid) == []


# --------------------------------------------------------------------- sweeps


def test_sweep_on_dask_equals_the_local_sweep(client, tmp_path):
    """A scenario sweep spread over Dask workers gives exactly the local tables."""
    city = small_city(tmp_path / "sweep", "Sweep", "Europe/Paris", 21)
    config = load_config(city / "rebalance.toml")
    inputs = load(city, config)
    scenarios = [
        Scenario("baseline"),
        Scenario("rain", slowdown=0.3),
        Scenario("busy", demand_factor=1.5, seed=7),
        *vary("no_show_rate", [0.1, 0.3]),
    ]
    local = sweep(scenarios, inputs, config, SHIFT, zones=True)
    spread = sweep(scenarios, inputs, config, SHIFT, zones=True, client=client)
    pd.testing.assert_frame_equal(spread.table, local.table)
    pd.testing.assert_frame_equal(spread.zones, local.zones)
    assert list(local.table["scenario"]) == [s.name for s in scenarios]


def test_cities_fixture_is_not_modified(cities):
    """The batch never writes into CITIES_DIR (plans go to OUT only)."""
    for folder in [*GOOD, BAD]:
        names = {p.name for p in (cities / folder).iterdir()}
        assert names == {"zones.csv", "restaurants.csv", "couriers.csv", "rebalance.toml"}


def test_workers_keep_quiet_while_the_cluster_shuts_down(client):
    """Once the plans are in, the workers log only CRITICAL records: a heartbeat meeting
    the closing scheduler is no problem of the run, and cron would mail it."""
    from rebalance import batch as batch_module

    def level() -> int:
        return logging.getLogger("distributed").level

    def set_level(value: int) -> None:
        logging.getLogger("distributed").setLevel(value)

    before = client.run(level)
    try:
        batch_module._quiet_workers(client)
        assert set(client.run(level).values()) == {logging.CRITICAL}
    finally:
        for worker, value in before.items():
            client.run(set_level, value, workers=[worker])


def test_a_city_folder_named_with_a_newline_stays_on_its_line(client, tmp_path):
    """A city folder whose name holds a newline (a partner's upload): every error line of
    the table and of --format csv names it as `ly\\x0aon` on one line; it split the
    message, and a line starting `on: ...` looked like another city's error."""
    from util import VALID

    cities = tmp_path / "cities"
    bad = cities / "ly\non"
    shutil.copytree(VALID, bad)
    (bad / "couriers.csv").unlink()
    base = ["batch", str(cities), "--shift-start", SHIFT, "--scheduler", client.scheduler.address]
    for fmt in ("table", "csv"):
        args = [*base, "--out", str(tmp_path / fmt), "--format", fmt]
        result = runner.invoke(app, args, env={"COLUMNS": "400"})  # no wrapping
        assert result.exit_code == 3, result.output
        # the table's messages are on stdout; with csv, stdout is the CSV (where the
        # name is written out too) and the messages are on stderr
        shown = result.stdout if fmt == "table" else result.stderr
        lines = [line for line in shown.splitlines() if "invalid input" in line]
        assert lines and all("ly\\x0aon" in line for line in lines), result.output
        assert not any(line.startswith("on") for line in shown.splitlines()), shown
