"""The per-(city, shift) run lock: at most one `rebalance run` plans and posts a shift.

The lock is an ``fcntl.flock`` on a small file. The kernel releases it when the
holding process exits for any reason, kill -9 included, so a lock left by a dead run
is simply free: nothing to guess from pids, nothing to clean up.

The holder deletes the file as it releases the lock, still holding it, so that a
crontab running every half hour does not leave 17,000 files a year per city behind
(a killed run's file stays until the next holder of that shift's lock releases it).
A process that opened the file just before can still lock it once it is deleted;
so after locking, a process checks that the path is still the file it locked, and
else opens the path again: two processes never hold the lock on two different files.

The holder writes who it is (pid, host, start time, run id) into the file, so a run
that finds the lock taken can say who holds it (`LockHeldError`, exit 6).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import LockHeldError, LockHolder, StorageError

__all__ = ["RunLock", "read_holder"]


def read_holder(path: str | Path) -> LockHolder | None:
    """Who the lock file says holds (or last held) the lock; None if unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return LockHolder(
            pid=int(data["pid"]),
            started_at=str(data["started_at"]),
            host=str(data.get("host", "")),
            extra={k: str(v) for k, v in data.items() if k not in {"pid", "started_at", "host"}},
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None


#: How often `RunLock.acquire` tries again while it waits for the lock.
_POLL_SECONDS = 0.25


@dataclass
class RunLock:
    """An exclusive, non-blocking lock on ``path`` (use as a context manager).

    ``info`` is written into the file for whoever finds the lock taken; ``what``
    describes the locked thing in messages ("Paris, shift 2026-11-30 19:00 CET").
    """

    path: Path
    what: str = ""
    info: dict[str, Any] | None = None
    _fd: int | None = field(default=None, init=False, repr=False)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(
        self, wait: float = 0.0, on_wait: Callable[[LockHeldError], None] | None = None
    ) -> None:
        """Take the lock, or raise `LockHeldError` naming the holder. ``wait``: seconds
        to keep trying while another process holds it (0: not at all, what a cron run
        does); ``on_wait`` is told the holder once, when the wait begins."""
        deadline = time.monotonic() + wait
        waiting = False
        while True:
            try:
                self._take()
                return
            except LockHeldError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                if not waiting:
                    waiting = True
                    if on_wait is not None:
                        on_wait(exc)
                time.sleep(min(_POLL_SECONDS, left))

    def _take(self) -> None:
        """Take the lock now or raise `LockHeldError` naming the holder."""
        if self._fd is not None:
            return
        while True:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise self._storage_error(exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._held_error() from None
            except BaseException:
                os.close(fd)
                raise
            if self._is_the_path(fd):
                break
            os.close(fd)  # deleted by the holder that released it: open the path again
        self._fd = fd
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **(self.info or {}),
        }
        data = (json.dumps(holder, sort_keys=True) + "\n").encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            pass  # the lock holds without its note (a full disk): others see "not readable yet"

    def release(self) -> None:
        """Release the lock: delete its file, still holding it, then close it (which
        releases the flock). A file that cannot be deleted stays, as harmless as a
        killed run's."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._is_the_path(fd):
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _is_the_path(self, fd: int) -> bool:
        """Whether the lock's path is (still) the file open as ``fd`` (True when that
        cannot be told: the lock as it was before files were deleted)."""
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False
        except OSError:
            return True

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _storage_error(self, exc: OSError) -> StorageError:
        """A locks folder that is a file, or not writable: what is wrong and how to fix it."""
        folder = self.path.parent
        error = StorageError.from_os_error(exc, "create the run lock", self.path)
        if exc.errno in (errno.ENOTDIR, errno.EEXIST) or (folder.exists() and not folder.is_dir()):
            hint = (
                f"{folder} must be a folder (the run locks live there) but a file is in the way: "
                f"move it aside (mv {folder} {folder}.old) and run again."
            )
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = (
                f"The run locks live in {folder}: give this user write access to it "
                "(chmod u+w), or set [history] path to a writable place; locks go next to it."
            )
        else:
            hint = error.hint
        return StorageError(error.what, error.where, error.why, hint=hint, code=error.exit_code)

    def _held_error(self) -> LockHeldError:
        holder = None
        # The holder writes its details right after locking: give it a moment.
        for _ in range(10):
            holder = read_holder(self.path)
            if holder is not None:
                break
            time.sleep(0.02)
        what = f" for {self.what}" if self.what else ""
        if holder is None:
            who = "another process (its details are not readable yet)"
        else:
            who = f"pid {holder.pid}"
            if holder.host:
                who += f" on {holder.host}"
            run_id = holder.extra.get("run_id")
            if run_id:
                who = f"run {run_id} ({who})"
            who += f", started {holder.started_at}{_ago(holder.started_at)}"
        return LockHeldError(
            f"another run{what} holds the lock: {who}.\n"
            f"It releases the lock when it ends, even if killed; nothing to clean up. "
            f"Lock file: {self.path}",
            holder=holder,
        )


def _ago(started_at: str) -> str:
    try:
        then = datetime.fromisoformat(started_at)
    except ValueError:
        return ""
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 0:
        return ""
    return f" ({seconds} s ago)" if seconds < 120 else f" ({seconds // 60} min ago)"
