"""A broken history store or locks folder: a message saying what is wrong and how to recover.

Runs go through `rebalance run --dry-run` in-process (CliRunner), so faults that root
would not see (permissions) can be injected.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner
from util import VALID

from rebalance import history as history_module
from rebalance.cli import app
from rebalance.errors import LockHeldError, StorageError
from rebalance.history import History

SHIFT = "2026-11-30T19:00"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose history store lives in tmp_path/state."""
    path = tmp_path / "paris.toml"
    path.write_text(
        f'[data]\ndir = "{VALID}"\n[slack]\nchannel = "C0PLANS"\n'
        '[history]\npath = "state/history.sqlite3"\n'
    )
    return path


def _run(config: Path):
    return CliRunner().invoke(
        app, ["run", "--config", str(config), "--shift-start", SHIFT, "--dry-run"]
    )


def _store(config: Path) -> Path:
    return config.parent / "state" / "history.sqlite3"


def _recorded(config: Path) -> Path:
    """Run once so the store exists, and return its path."""
    result = _run(config)
    assert result.exit_code == 0, result.output
    return _store(config)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed"])
def test_corrupt_history_says_how_to_recover(config, damage):
    """A corrupt or truncated store: exit 3 naming the file and the `mv` that recovers."""
    store = _recorded(config)
    data = store.read_bytes()
    if damage == "garbage":
        store.write_bytes(b"this is not a database\n" * 200)
    elif damage == "truncated":
        store.write_bytes(data[: len(data) // 3])
    else:
        store.write_bytes(data[:100] + b"\0" * (len(data) - 100))
    for args in (
        ["run", "--config", str(config), "--shift-start", SHIFT, "--dry-run"],
        ["history", "--config", str(config)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 3, result.output
        assert "corrupt" in result.output and f"mv {store}" in result.output
        assert "Traceback" not in result.output
        # what the new store does not know (an audit: a re-run re-routed 21 couriers),
        # and where the next run finds the plan in force
        text = " ".join(result.output.split())
        assert "finds the plan in force in the run folders" in text
        assert "by the plan its Slack message shows" in text


@pytest.mark.parametrize(
    "schema",
    ["CREATE TABLE runs (x)", "CREATE TABLE publications (plan_key TEXT, channel TEXT)"],
)
def test_a_database_of_another_program_is_not_taken_for_a_history(config, schema):
    """[history] path naming another program's SQLite file, with a table of our name but
    not our columns: run and history exit 3 saying it is not a rebalance history and how
    to recover (they exited 1, "no such column: city ... Check the disk"); none of our
    tables is added to that file."""
    store = _store(config)
    store.parent.mkdir()
    db = sqlite3.connect(store)
    db.execute(schema)
    db.commit()
    db.close()
    for args in (
        ["run", "--config", str(config), "--shift-start", SHIFT, "--dry-run"],
        ["history", "--config", str(config)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 3, result.output
        text = " ".join(result.output.split())
        assert "not a rebalance history" in text and f"mv {store}" in text
        assert "lacks" in text and "Check the disk" not in text
    db = sqlite3.connect(store)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert tables == {schema.split()[2]}, "nothing was added to the other program's file"


def test_moving_the_corrupt_store_aside_recovers(config):
    """Following the advice (mv the file aside) makes the next run succeed."""
    store = _recorded(config)
    store.write_bytes(b"garbage" * 500)
    store.rename(store.with_name(store.name + ".corrupt"))
    for suffix in ("-wal", "-shm"):
        store.with_name(store.name + suffix).unlink(missing_ok=True)
    assert _run(config).exit_code == 0


def test_locked_store_is_a_bounded_wait_reported_as_such(config, monkeypatch):
    """A store another process keeps locked: exit 6 after the bounded wait, not a config error."""
    store = _recorded(config)
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_SECONDS", 0.5)
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        result = _run(config)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 6, result.output
    assert "locked by another process for 0.5 s (a bounded wait)" in result.output
    assert "invalid configuration" not in result.output
    assert waited < 10


def test_locked_store_api_error(tmp_path, monkeypatch):
    """History() raises LockHeldError after its timeout when a writer holds the store."""
    path = tmp_path / "h.sqlite3"
    History(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LockHeldError, match="bounded wait"):
            History(path, timeout=0.2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_history_path_that_is_a_folder(config):
    """[history] path naming a folder is exit 3 saying it must name a file."""
    _store(config).mkdir(parents=True)
    result = _run(config)
    assert result.exit_code == 3 and "it is a folder" in result.output, result.output


def test_read_only_store(config, monkeypatch):
    """A read-only store (injected: root ignores chmod) is exit 3 saying to grant write access."""
    store = _recorded(config)
    real = sqlite3.connect

    def read_only(path, *args, **kwargs):
        return real(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    result = _run(config)
    assert result.exit_code == 3, result.output
    assert "read-only" in result.output and "write access" in result.output
    assert str(store) in result.output


def test_locks_path_that_is_a_file(config):
    """A file where the locks folder belongs: exit 3 saying to move it aside."""
    locks = config.parent / "state" / "locks"
    locks.parent.mkdir(parents=True)
    locks.write_text("oops")
    result = _run(config)
    assert result.exit_code == 3, result.output
    assert f"mv {locks} {locks}.old" in result.output and "Traceback" not in result.output


def test_locks_folder_not_writable(config, monkeypatch):
    """An unwritable locks folder (injected EACCES): exit 3 saying how to grant access."""
    import os

    _recorded(config)
    real = os.open

    def guarded(path, flags, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    result = _run(config)
    assert result.exit_code == 3, result.output
    assert "Permission denied" in result.output and "write access" in result.output


def test_full_disk_while_recording(tmp_path):
    """SQLite's 'disk is full' is exit 1 saying to free space (the machine's fault, not the path's)."""
    store = History(tmp_path / "h.sqlite3")
    try:
        error = store._error(sqlite3.OperationalError("database or disk is full"))
    finally:
        store.close()
    assert isinstance(error, StorageError) and error.exit_code == 1
    assert "Free space" in str(error)


@pytest.mark.parametrize(
    "schema",
    [
        "CREATE TABLE t (a); CREATE INDEX runs ON t (a)",
        "CREATE TABLE t (a); CREATE VIEW runs AS SELECT a AS run_id FROM t",
    ],
)
def test_a_view_or_index_named_as_our_tables_is_not_taken_for_a_history(config, schema):
    """A view or an index named `runs` (another program's file): exit 3 "not a rebalance
    history" with the mv that recovers; it was exit 1 ("views may not be indexed",
    "there is already an index named runs ... Check the disk")."""
    store = _store(config)
    store.parent.mkdir()
    db = sqlite3.connect(store)
    db.executescript(schema)
    db.close()
    result = CliRunner().invoke(app, ["history", "--config", str(config)])
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "not a rebalance history: 'runs' is a" in text and f"mv {store}" in text


def test_a_run_row_with_broken_json_is_listed_without_its_details(config):
    """A runs row whose kpis were edited into broken or deeply nested JSON: `history`
    lists the runs (it ended in a traceback, exit 1)."""
    store = _recorded(config)
    db = sqlite3.connect(store)
    db.execute("UPDATE runs SET kpis = ?", ("[" * 100_000,))
    db.commit()
    db.close()
    result = CliRunner().invoke(app, ["history", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
