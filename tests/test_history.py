"""The runs part of the history store, and `rebalance history` output (golden tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalance.cli import app
from rebalance.history import History

SHIFT = "2026-11-30T19:00:00+01:00"

GOLDEN_TABLE = """\
run id                  city   shift         took  status           exit  moved   coverage  slack
20261130T175007-c0ffee  Paris  11-30 19:00         running
20261130T174507-0d15ea  Paris  11-30 19:00   0.0s  skipped             6
20261130T174504-5eed00  Lyon   11-30 19:00   1.7s  failed@validate     3
20261130T174502-b0a710  Paris  11-30 19:00  12.4s  failed@publish      5    181   57%->99%
20261130T174500-f00d42  Paris  11-30 19:00   2.0s  succeeded           0    181   57%->99%  posted
20261130T170001-dec0de  Paris  11-30 18:00   1.2s  succeeded           0     12  80%->100%  dry-run
"""

#: At 80 columns the Slack action stays: a dry run read "succeeded 0" as the run that
#: posted did.
GOLDEN_TABLE_80 = """\
run id                  city   shift        status           exit  slack
20261130T175007-c0ffee  Paris  11-30 19:00  running
20261130T174507-0d15ea  Paris  11-30 19:00  skipped             6
20261130T174504-5eed00  Lyon   11-30 19:00  failed@validate     3
20261130T174502-b0a710  Paris  11-30 19:00  failed@publish      5
20261130T174500-f00d42  Paris  11-30 19:00  succeeded           0  posted
20261130T170001-dec0de  Paris  11-30 18:00  succeeded           0  dry-run
"""

GOLDEN_SHOW = """\
run            20261130T174502-b0a710
city           Paris
shift start    2026-11-30T19:00:00+01:00
status         failed
exit code      5
phase          publish
started        2026-11-30T17:45:02.000+00:00
ended          2026-11-30T17:45:14.400+00:00
took           12.4s
process        pid 4242 on ops-1
inputs sha256  aaaabbbb
data           /srv/paris
config         /etc/rebalance/paris.toml
plan id        1234abcd
plan folder    /var/lib/rebalance/runs/Paris/20261130T1900/20261130T174502-b0a710
kpis           422 eligible, 181 moved, 1935.1 travel min, shortage 185 -> 4, coverage 56.6% ->
               99.1%
objective      3080.1 (optimal)
phases         lock 0 ms, validate 30 ms, plan 60 ms, write 5 ms, publish 12000 ms
command        rebalance run --config /etc/rebalance/paris.toml /srv/paris --shift-start 2026-11-30T19:00:00+01:00
error          Slack could not be reached: timed out
               The plan is saved. To retry, run the same shift again: rebalance run --config /etc/rebalance/paris.toml /srv/paris --shift-start 2026-11-30T19:00:00+01:00
"""

KPIS = {
    "eligible_couriers": 422,
    "moved_couriers": 181,
    "travel_minutes": 1935.1,
    "shortage_before": 185,
    "shortage": 4,
    "coverage_before": 0.5657,
    "coverage": 0.9906,
}


def _fill(path: Path) -> None:
    """Six runs with fixed times, pids and hosts: one of each status."""
    command = "rebalance run --config /etc/rebalance/paris.toml /srv/paris --shift-start " + SHIFT
    fixed = {"pid": 4242, "host": "ops-1"}
    with History(path) as h:
        h.start_run(
            "Paris",
            "2026-11-30T18:00:00+01:00",
            run_id="20261130T170001-dec0de",
            dry_run=True,
            started_at="2026-11-30T17:00:01.000+00:00",
            kpis={"moved_couriers": 12, "coverage_before": 0.8, "coverage": 1.0},
            extra={"publish_action": "dry-run"},
            **fixed,
        )
        h.update_run(
            "20261130T170001-dec0de",
            status="succeeded",
            exit_code=0,
            phase="done",
            ended_at="2026-11-30T17:00:02.200+00:00",
        )
        h.start_run(
            "Paris",
            SHIFT,
            run_id="20261130T174500-f00d42",
            started_at="2026-11-30T17:45:00.000+00:00",
            status="succeeded",
            exit_code=0,
            phase="done",
            ended_at="2026-11-30T17:45:02.000+00:00",
            kpis=KPIS,
            slack_channel="C0123ABCD",
            slack_ts="1764524702.000100",
            extra={"publish_action": "posted"},
            **fixed,
        )
        h.start_run(
            "Paris",
            SHIFT,
            run_id="20261130T174502-b0a710",
            started_at="2026-11-30T17:45:02.000+00:00",
            status="failed",
            exit_code=5,
            phase="publish",
            ended_at="2026-11-30T17:45:14.400+00:00",
            inputs_sha256="aaaabbbb",
            plan_id="1234abcd",
            plan_dir="/var/lib/rebalance/runs/Paris/20261130T1900/20261130T174502-b0a710",
            kpis=KPIS,
            error="Slack could not be reached: timed out\nThe plan is saved. To retry, run "
            "the same shift again: " + command,
            extra={
                "data_dir": "/srv/paris",
                "config": "/etc/rebalance/paris.toml",
                "objective": 3080.1,
                "plan_status": "optimal",
                "command": command,
                "timings_ms": {"lock": 0, "validate": 30, "plan": 60, "write": 5, "publish": 12000},
            },
            **fixed,
        )
        h.start_run(
            "Lyon",
            SHIFT,
            run_id="20261130T174504-5eed00",
            started_at="2026-11-30T17:45:04.000+00:00",
            status="failed",
            exit_code=3,
            phase="validate",
            ended_at="2026-11-30T17:45:05.700+00:00",
            error="invalid input: zones.csv, line 3, column 'lat': not a number",
            **fixed,
        )
        h.start_run(
            "Paris",
            SHIFT,
            run_id="20261130T174507-0d15ea",
            started_at="2026-11-30T17:45:07.000+00:00",
            status="skipped",
            exit_code=6,
            phase="lock",
            ended_at="2026-11-30T17:45:07.000+00:00",
            **fixed,
        )
        h.start_run(
            "Paris",
            SHIFT,
            run_id="20261130T175007-c0ffee",
            started_at="2026-11-30T17:50:07.000+00:00",
            phase="plan",
            **fixed,
        )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A config whose history lives in tmp_path, filled with six fixed runs."""
    path = tmp_path / "rebalance.toml"
    path.write_text('[history]\npath = "state/history.sqlite3"\n')
    _fill(tmp_path / "state" / "history.sqlite3")
    return path


def _invoke(
    args: list[str], monkeypatch: pytest.MonkeyPatch, columns: int = 100
) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def _strip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def test_history_table_golden(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rebalance history` lists runs newest first in a 100-column table."""
    code, out, _ = _invoke(["history", "--config", str(config_file)], monkeypatch)
    assert code == 0
    assert _strip(out) == GOLDEN_TABLE
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize("columns", [60, 80])
def test_history_table_keeps_run_ids_whole_when_narrow(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    """At 80 (or 60) columns the run id `history show` needs stays whole; lesser columns go,
    the exit code last: at 80 it was the first to go, and it is what a cron operator
    looks for (QA)."""
    code, out, _ = _invoke(["history", "--config", str(config_file)], monkeypatch, columns)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= columns
    assert "…" not in out
    ids = [line.split()[0] for line in out.splitlines()[1:]]
    assert ids == [line.split()[0] for line in GOLDEN_TABLE.splitlines()[1:]]
    assert "failed@validate" in out and "status" in out.splitlines()[0]
    if columns == 80:
        assert _strip(out) == GOLDEN_TABLE_80


def test_history_filters_by_city_and_limit(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--city keeps one city's runs and --limit the newest N."""
    code, out, _ = _invoke(["history", "--config", str(config_file), "--city", "Lyon"], monkeypatch)
    assert code == 0 and _strip(out).splitlines()[1].startswith("20261130T174504-5eed00  Lyon")
    assert len(out.splitlines()) == 2
    code, out, _ = _invoke(["history", "--config", str(config_file), "--limit", "2"], monkeypatch)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "20261130T175007-c0ffee",
        "20261130T174507-0d15ea",
    ]


def test_history_city_is_matched_whatever_its_case(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--city lyon lists Lyon's runs (it said "no runs recorded yet for lyon"); a city
    with no runs says which cities have some."""
    code, out, _ = _invoke(["history", "--config", str(config_file), "--city", "lyon"], monkeypatch)
    assert code == 0 and "20261130T174504-5eed00" in out
    code, out, _ = _invoke(["history", "--config", str(config_file), "--city", "Nice"], monkeypatch)
    assert code == 0
    assert "no runs recorded yet for Nice (runs are recorded for " in " ".join(out.split())


def test_history_json(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--format json prints an array of every recorded field, newest first, and nothing else."""
    code, out, _ = _invoke(
        ["history", "--config", str(config_file), "--format", "json", "--limit", "3"], monkeypatch
    )
    assert code == 0
    runs = json.loads(out)
    assert [r["run_id"] for r in runs] == [
        "20261130T175007-c0ffee",
        "20261130T174507-0d15ea",
        "20261130T174504-5eed00",
    ]
    assert runs[2] == {
        "run_id": "20261130T174504-5eed00",
        "city": "Lyon",
        "shift_start": SHIFT,
        "started_at": "2026-11-30T17:45:04.000+00:00",
        "status": "failed",
        "ended_at": "2026-11-30T17:45:05.700+00:00",
        "exit_code": 3,
        "phase": "validate",
        "inputs_sha256": None,
        "plan_id": None,
        "plan_dir": None,
        "kpis": {},
        "slack_channel": None,
        "slack_ts": None,
        "error": "invalid input: zones.csv, line 3, column 'lat': not a number",
        "pid": 4242,
        "host": "ops-1",
        "dry_run": False,
        "extra": {},
    }


def test_history_show_golden(config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`history show RUN_ID` shows everything about one run, error and retry command included.
    The command, and a line of the error holding one, run past 80 columns rather than
    break: pasted, `rebalance run --config ...` without the --shift-start of its next
    line planned and published another shift."""
    code, out, _ = _invoke(
        ["history", "show", "20261130T174502-b0a710", "--config", str(config_file)], monkeypatch
    )
    assert code == 0
    assert _strip(out) == GOLDEN_SHOW


def test_history_show_says_which_shortage_is_the_first_slots(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan in slots records the first slot's shortage and the whole shift's coverage:
    'shortage 0 -> 0, coverage 86.2% -> 98.7%' read as a contradiction. With the
    shift's courier-slots recorded, the line says which is which."""
    import dataclasses

    from rich.console import Console

    from rebalance.views.history import run_details

    with History(config_file.parent / "state" / "history.sqlite3") as h:
        record = h.run("20261130T174502-b0a710")
    kpis = {**KPIS, "shortage_before": 0, "shortage": 0}
    kpis |= {"shortage_all_slots_before": 32, "shortage_all_slots": 3}
    console = Console(width=400, color_system=None)
    with console.capture() as shown:
        console.print(run_details(dataclasses.replace(record, kpis=kpis)))
    assert (
        "shortage 0 -> 0 now (32 -> 3 courier-slots over the shift), coverage 56.6% -> 99.1%"
        in shown.get()
    )


def test_history_show_accepts_a_unique_prefix_and_json(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unique id prefix works, --config may come before `show`, and --format json gives the row."""
    code, out, err = _invoke(
        ["history", "--config", str(config_file), "show", "20261130T1745", "--format", "json"],
        monkeypatch,
    )
    assert code == 2  # ambiguous prefix: four runs started at 17:45
    # said so, with the ids it could be (it said "no run '20261130T1745' in the history")
    assert "'20261130T1745' is the start of 4 runs' ids" in " ".join(err.split())
    assert "20261130T174507-0d15ea" in err and "give more of the id" in " ".join(err.split())
    code, out, _ = _invoke(
        ["history", "--config", str(config_file), "show", "20261130T174504", "--format", "json"],
        monkeypatch,
    )
    assert code == 0 and json.loads(out)["city"] == "Lyon"
    # a prefix under 6 characters: too short, said so (it said "no run '20261'" while
    # every run started with it)
    said = {}
    for prefix in ("20261", "2026113"):
        code, _, err = _invoke(
            ["history", "--config", str(config_file), "show", prefix], monkeypatch
        )
        assert code == 2
        said[prefix] = " ".join(err.split())
    assert (
        "'20261' is too short to pick a run: a prefix needs 6 characters or more "
        "(6 or more runs start with it: 20261130T"
    ) in said["20261"]
    assert "'2026113' is the start of 6 or more runs' ids" in said["2026113"]


def test_a_run_is_found_by_a_prefix_of_six_characters_or_more(tmp_path: Path) -> None:
    """README: a unique prefix of 6+ characters finds a run. A shorter one finds none,
    even when only one run starts with it: "2026" matches every run of the year once
    there are more."""
    with History(tmp_path / "h.sqlite3") as h:
        h.start_run("Paris", "2026-11-30T19:00:00+01:00", run_id="20261130T174500-f00d42")
        assert h.run("20261") is None and h.run("2") is None
        found = h.run("202611")
        assert found is not None and found.run_id == "20261130T174500-f00d42"


def test_history_show_unknown_run_is_a_usage_error(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown run id exits 2 and says so."""
    code, _, err = _invoke(["history", "show", "nope", "--config", str(config_file)], monkeypatch)
    assert code == 2 and "no run 'nope'" in err


def test_history_without_a_store_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no history file yet, `history` says so and where it looked (json: []), and
    creates no file. Without --config it also says that runs record where their
    config's [history] path says: an operator typing `rebalance history` after cron's
    `rebalance run --config F` read "no runs recorded yet" and looked for a fault."""
    config = tmp_path / "c.toml"
    config.write_text('[history]\npath = "none/history.sqlite3"\n')
    store = tmp_path / "none" / "history.sqlite3"
    code, out, _ = _invoke(["history", "--config", str(config)], monkeypatch, columns=400)
    assert code == 0
    assert out.strip() == f"no runs recorded yet (no history store at {store})"
    code, out, _ = _invoke(["history", "--config", str(config), "--format", "json"], monkeypatch)
    assert code == 0 and json.loads(out) == []
    code, _, err = _invoke(["history", "show", "abcdef", "--config", str(config)], monkeypatch)
    assert code == 2 and f"no run 'abcdef' in the history (no history store at {store})" in err
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, out, _ = _invoke(["history"], monkeypatch, columns=400)
    default = tmp_path / "data" / "rebalance" / "history.sqlite3"
    assert code == 0 and f"(no history store at {default}; runs record where" in out
    assert "give the same --config" in out
    assert not (tmp_path / "none").exists() and not (tmp_path / "data").exists()


def test_start_run_may_record_a_finished_row(tmp_path: Path) -> None:
    """start_run keeps its defaults but lets a caller record a run that ended at once."""
    with History(tmp_path / "h.sqlite3") as h:
        normal = h.start_run("Paris", SHIFT)
        assert normal.status == "running" and normal.phase == "start" and normal.pid
        skipped = h.start_run("Paris", SHIFT, status="skipped", exit_code=6, phase="lock")
        again = h.run(skipped.run_id)
        assert again is not None and (again.status, again.exit_code, again.phase) == (
            "skipped",
            6,
            "lock",
        )


def test_mark_crashed_changes_only_running_rows(tmp_path: Path) -> None:
    """mark_crashed flips running rows to crashed and leaves finished ones alone."""
    with History(tmp_path / "h.sqlite3") as h:
        alive = h.start_run("Paris", SHIFT)
        done = h.start_run("Paris", SHIFT)
        h.finish_run(done.run_id, status="succeeded", exit_code=0)
        other = h.start_run("Lyon", SHIFT, dry_run=True)
        assert {r.run_id for r in h.running()} == {alive.run_id, other.run_id}
        assert [r.run_id for r in h.running(city="Paris", shift_start=SHIFT)] == [alive.run_id]
        assert [r.run_id for r in h.running(dry_run=True)] == [other.run_id]
        changed = h.mark_crashed([alive.run_id, done.run_id], note="killed")
        assert [(r.run_id, r.status, r.error) for r in changed] == [
            (alive.run_id, "crashed", "killed")
        ]
        finished = h.run(done.run_id)
        assert finished is not None and finished.status == "succeeded"


def test_history_is_listed_without_writing_the_store(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing runs opened the store for writing (its schema step): a store on a
    read-only disk, or in the cron user's folder, could not be listed (exit 3), and a
    full disk read as "disk I/O error / Check the disk" (exit 1). Listing writes
    nothing now: a read-only copy is listed (where this machine can bind-mount one)."""
    import sqlite3
    import subprocess

    store = tmp_path / "state" / "history.sqlite3"
    before = store.read_bytes()
    code, out, _ = _invoke(["history", "--config", str(config_file)], monkeypatch)
    assert code == 0 and "20261130T175007-c0ffee" in out
    assert store.read_bytes() == before
    # a full disk where SQLite grows its shared-memory file is a full disk (exit 1)
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 4874  # SQLITE_IOERR_SHMSIZE
    with History(store) as h:
        full = h._error(error)
    assert full.exit_code == 1 and "the disk is full" in str(full) and "Free space" in str(full)

    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(
        ["mount", "--bind", str(store.parent), str(mount)], capture_output=True
    ).returncode:
        pytest.skip("no bind mounts here (not root, or no mount permission)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        ro = tmp_path / "ro.toml"
        ro.write_text(f'[history]\npath = "{mount / "history.sqlite3"}"\n')
        code, out, err = _invoke(["history", "--config", str(ro)], monkeypatch)
        assert code == 0 and "20261130T175007-c0ffee" in out, err
        code, out, err = _invoke(
            ["history", "show", "20261130T175007", "--config", str(ro)], monkeypatch
        )
        assert code == 0 and "c0ffee" in out, err
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_history_of_a_newer_rebalance_is_refused_and_run_ids_are_text(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written by a newer rebalance was re-stamped with this one's schema
    version by any command; it is refused now, unchanged. `history show` read % and _
    in a run id as wildcards (printing a run for '%%%%%%') and a long id was exit 1."""
    import sqlite3

    code, out, _ = _invoke(
        ["history", "show", "20261130T175007-C0FFEE", "--config", str(config_file)], monkeypatch
    )
    assert code == 0 and "c0ffee" in out  # an id in other case, as LIKE matched it
    for weird in ("%%%%%%", "______", "2026113%", "x" * 100_000):
        code, _, err = _invoke(
            ["history", "show", weird, "--config", str(config_file)], monkeypatch
        )
        assert code == 2 and "no run" in err, (weird[:10], err)
    store = tmp_path / "state" / "history.sqlite3"
    db = sqlite3.connect(store)
    db.execute("PRAGMA user_version=99")
    db.close()
    code, _, err = _invoke(["history", "--config", str(config_file)], monkeypatch)
    assert code == 3 and "written by a newer rebalance (schema 99" in err
    with pytest.raises(Exception, match="newer rebalance"):
        History(store)
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 99
    db.close()


def test_the_plans_a_re_plan_may_start_from_are_published_or_kept_after_exit_5(tmp_path):
    """CONTRACT 6: only a run that succeeded, or failed publishing (exit 5, its plan kept),
    leaves a plan to re-plan against; one that failed otherwise (exit 1, 3, 4, 6) does
    not, whatever plan folder it names, nor a dry run."""
    with History(tmp_path / "h.sqlite3") as h:
        ids = {}
        for n, (status, code, dry) in enumerate(
            [
                ("succeeded", 0, False),
                ("failed", 5, False),
                ("failed", 1, False),
                ("failed", 3, False),
                ("succeeded", 0, True),
                ("skipped", 6, False),
            ]
        ):
            record = h.start_run(
                "Paris",
                SHIFT,
                run_id=f"20261130T17450{n}-00000{n}",
                started_at=f"2026-11-30T17:45:0{n}.000+00:00",
                status=status,
                exit_code=code,
                dry_run=dry,
                plan_dir=str(tmp_path / f"plan{n}"),
            )
            ids[(status, code, dry)] = record.run_id
        kept = {r.run_id for r in h.runs(city="Paris", kept=True)}
    assert kept == {ids[("succeeded", 0, False)], ids[("failed", 5, False)]}


def test_a_long_history_is_listed_and_searched_through_indexes(tmp_path: Path) -> None:
    """Without --city, `history` sorted every run recorded, and every `run` scanned them
    all for runs still marked running: with 200,000 runs, 0.8 s and 0.2 s each time. A
    store made before (without the indexes) gains them when a run next opens it, and
    SQLite then reads the newest runs, and the running ones, from them."""
    import dataclasses
    import sqlite3

    path = tmp_path / "h.sqlite3"
    with History(path) as h:
        for _ in range(3):
            h.finish_run(h.start_run("Paris", SHIFT).run_id, status="succeeded", exit_code=0)
        alive = h.start_run("Lyon", SHIFT)
    db = sqlite3.connect(path)
    for name in ("runs_started", "runs_running"):
        db.execute(f"DROP INDEX {name}")  # as a store of the release before
    db.commit()
    db.close()
    with History(path) as h:  # a run opens it
        listed = h.runs(limit=2)
        assert [r.run_id for r in h.running()] == [alive.run_id]
        record = listed[0]
        assert record.to_dict() == dataclasses.asdict(record)
    db = sqlite3.connect(path)
    plans = {
        query: " ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
        for query in (
            "SELECT * FROM runs WHERE 1 ORDER BY started_at DESC, rowid DESC LIMIT 20",
            "SELECT * FROM runs WHERE status = 'running' ORDER BY started_at, rowid",
        )
    }
    db.close()
    for query, plan in plans.items():
        assert "USING INDEX runs_" in plan and "TEMP B-TREE" not in plan, (query, plan)
