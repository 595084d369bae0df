"""The per-(city, shift) run lock: exclusive, non-blocking, freed when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rebalance.errors import LockHeldError
from rebalance.lock import RunLock, read_holder

SHIFT = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)

HOLD_SCRIPT = """
import sys, time
from pathlib import Path
from rebalance.lock import RunLock
lock = RunLock(Path(sys.argv[1]), info={"run_id": "child-run"})
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _hold_in_child(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_lock_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    """A second acquire raises LockHeldError at once, naming pid, host, run and start time."""
    path = tmp_path / "x.lock"
    with RunLock(path, what="Paris, shift 19:00", info={"run_id": "run-1"}) as first:
        assert first.held
        t0 = time.monotonic()
        with pytest.raises(LockHeldError) as caught:
            RunLock(path, what="Paris, shift 19:00").acquire()
        assert time.monotonic() - t0 < 1.0
    exc = caught.value
    assert exc.exit_code == 6
    assert exc.holder is not None and exc.holder.pid == os.getpid()
    assert exc.holder.extra["run_id"] == "run-1"
    text = str(exc)
    assert f"pid {os.getpid()}" in text and "run run-1" in text and "Paris, shift 19:00" in text
    assert exc.holder.started_at in text


def test_lock_is_free_again_after_release(tmp_path: Path) -> None:
    """Releasing (leaving the with block) lets the next run take the lock, and leaves
    no file behind: a half-hourly crontab made 17,000 lock files a year per city."""
    path = tmp_path / "x.lock"
    with RunLock(path):
        assert path.is_file()
    assert not path.exists()
    with RunLock(path) as again:
        assert again.held
    assert not again.held and list(tmp_path.iterdir()) == []


def test_a_file_deleted_by_its_releasing_holder_is_not_locked_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that opened the lock file just before its holder released (and deleted)
    it locks that deleted file; it must see the path is no longer it and take the
    path's lock, or a third run would lock a new file beside it: two runs of a shift."""
    from rebalance import lock as lock_module

    path = tmp_path / "x.lock"
    holder = RunLock(path)
    holder.acquire()
    real_flock = lock_module.fcntl.flock
    calls = []

    def flock(fd: int, op: int) -> None:
        calls.append(os.fstat(fd).st_ino)
        if len(calls) == 1:
            holder.release()  # between this run's open and its lock
        real_flock(fd, op)

    monkeypatch.setattr(lock_module.fcntl, "flock", flock)
    second = RunLock(path, info={"run_id": "second"})
    second.acquire()
    monkeypatch.setattr(lock_module.fcntl, "flock", real_flock)
    assert second.held and len(calls) == 2  # it locked the deleted file, then the path
    with pytest.raises(LockHeldError) as caught:
        RunLock(path).acquire()
    assert caught.value.holder is not None and caught.value.holder.extra["run_id"] == "second"
    second.release()
    assert not path.exists()


def test_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    """A lock whose holder was killed with SIGKILL is free: the kernel released it."""
    path = tmp_path / "x.lock"
    child = _hold_in_child(path)
    try:
        with pytest.raises(LockHeldError) as caught:
            RunLock(path).acquire()
        assert caught.value.holder is not None
        assert caught.value.holder.pid == child.pid
        assert caught.value.holder.extra["run_id"] == "child-run"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    assert path.is_file()  # a killed holder deletes nothing: the file stays, free
    with RunLock(path, info={"run_id": "next"}) as lock:
        assert lock.held
        holder = read_holder(path)
        assert holder is not None and holder.pid == os.getpid()
        assert holder.extra["run_id"] == "next"
    assert not path.exists()  # until the next holder releases it


def test_read_holder_of_unreadable_file_is_none(tmp_path: Path) -> None:
    """A missing or garbled lock file has no holder to report."""
    assert read_holder(tmp_path / "missing.lock") is None
    (tmp_path / "bad.lock").write_text("not json")
    assert read_holder(tmp_path / "bad.lock") is None


def test_a_waiting_acquire_takes_the_lock_once_its_holder_ends(tmp_path: Path) -> None:
    """``acquire(wait, on_wait)``: while another process holds the lock it keeps trying,
    tells ``on_wait`` the holder once, and takes the lock when the holder exits; past
    the wait it raises `LockHeldError` as a plain acquire does at once."""
    path = tmp_path / "locks" / "paris.lock"
    child = _hold_in_child(path)
    told: list[LockHeldError] = []
    try:
        with pytest.raises(LockHeldError):
            RunLock(path).acquire(0.6, told.append)
        assert len(told) == 1 and f"pid {child.pid}" in str(told[0])
        threading.Timer(0.5, child.kill).start()
        lock = RunLock(path)
        lock.acquire(20, told.append)
        assert lock.held and len(told) == 2
        lock.release()
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
