"""The history store: SQLite, embedded, WAL mode (the only module that imports sqlite3).

Two tables:

- ``publications``: one row per (plan_key, channel): the Slack parent message of a
  (city, shift, channel), its ``ts``, the hash of what it shows and a JSON snapshot of
  the plan it shows, so a re-run can update it in place and say what changed.
- ``runs``: one row per `rebalance run`: start and end, inputs hash, status, exit code,
  KPIs, plan folder, Slack ts and error.

Every write is one transaction (``with self._tx()``), so a crash, kill -9 included,
leaves either the old row or the new one. WAL lets a reader list history while a run
writes.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .errors import LockHeldError, RebalanceError, StorageError

__all__ = ["PHASES", "History", "Publication", "RunRecord", "utc_now"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS publications (
    plan_key     TEXT NOT NULL,
    channel      TEXT NOT NULL,
    city         TEXT NOT NULL,
    shift_start  TEXT NOT NULL,
    ts           TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    plan_id      TEXT NOT NULL,
    snapshot     TEXT NOT NULL DEFAULT '{}',
    posted_at    TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    revision     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (plan_key, channel)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    city          TEXT NOT NULL,
    shift_start   TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    status        TEXT NOT NULL,
    exit_code     INTEGER,
    phase         TEXT,
    inputs_sha256 TEXT,
    plan_id       TEXT,
    plan_dir      TEXT,
    kpis          TEXT NOT NULL DEFAULT '{}',
    slack_channel TEXT,
    slack_ts      TEXT,
    error         TEXT,
    pid           INTEGER,
    host          TEXT,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    extra         TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_city_started ON runs (city, started_at);
CREATE INDEX IF NOT EXISTS runs_city_shift ON runs (city, shift_start);
"""


#: The phases of a `rebalance run`, in order (a run row records the one it is in).
PHASES = ("lock", "validate", "plan", "write", "publish")


def utc_now() -> str:
    """Now, as an ISO 8601 UTC string with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Publication:
    """The Slack parent message of one (city, shift, channel)."""

    plan_key: str
    channel: str
    city: str
    shift_start: str
    ts: str
    content_hash: str
    plan_id: str
    snapshot: dict[str, Any] = field(default_factory=dict)
    posted_at: str = ""
    updated_at: str = ""
    revision: int = 1


@dataclass(frozen=True)
class RunRecord:
    """One `rebalance run`, as recorded."""

    run_id: str
    city: str
    shift_start: str
    started_at: str
    status: str  # running | succeeded | failed | crashed | skipped
    ended_at: str | None = None
    exit_code: int | None = None
    phase: str | None = None
    inputs_sha256: str | None = None
    plan_id: str | None = None
    plan_dir: str | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    slack_channel: str | None = None
    slack_ts: str | None = None
    error: str | None = None
    pid: int | None = None
    host: str | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


_RUN_JSON = ("kpis", "extra")
_RUN_COLUMNS = tuple(RunRecord.__dataclass_fields__)


#: How long a call waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30.0

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _guarded(
    method: Callable[Concatenate[History, _P], _T],
) -> Callable[Concatenate[History, _P], _T]:
    """SQLite errors of a store method as errors an operator can act on (see `History._error`)."""

    @functools.wraps(method)
    def wrapper(self: History, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    return wrapper


class History:
    """The SQLite history store at ``path`` (created with its folder on first use).

    Every failure of the store is one of two errors, each saying how to recover: a
    store locked by another process past ``timeout`` seconds (a bounded wait) is
    `LockHeldError` (exit 6); a corrupt, read-only or unreachable store is
    `StorageError` (exit 3; exit 1 for a full disk or an I/O error).
    """

    def __init__(self, path: str | Path, *, timeout: float | None = None):
        self.path = Path(path)
        self.timeout = BUSY_TIMEOUT_SECONDS if timeout is None else timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError.from_os_error(
                exc, "create the history folder", self.path.parent
            ) from exc
        if self.path.is_dir():
            raise StorageError(
                "open the history store",
                self.path,
                "it is a folder",
                hint="[history] path names the store's file, e.g. /var/lib/rebalance/history.sqlite3",
            )
        self._db: sqlite3.Connection | None = None
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    @_guarded
    def _open(self) -> None:
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE) so that
        # two processes never interleave a read-then-write.
        self._db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self.db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        with self._tx():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _error(self, exc: sqlite3.Error) -> RebalanceError:
        """What a SQLite error means for the operator, and how to recover."""
        text = str(exc)
        code = getattr(exc, "sqlite_errorcode", None)
        if (
            "locked" in text
            or "busy" in text
            or code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        ):
            return LockHeldError(
                f"the history store {self.path} stayed locked by another process for "
                f"{self.timeout:g} s (a bounded wait), so this run gave up; nothing was "
                "changed. Retry when the other run ends (`fuser` on the file shows who holds it)."
            )
        if (
            "not a database" in text
            or "malformed" in text
            or code
            in (
                sqlite3.SQLITE_CORRUPT,
                sqlite3.SQLITE_NOTADB,
            )
        ):
            return StorageError(
                "read the history store",
                self.path,
                f"the file is corrupt or not a rebalance history ({text})",
                hint=f"Move it aside and run again: mv {self.path} {self.path}.corrupt. A new "
                "store is created; earlier runs are no longer listed, and each shift's Slack "
                "message is found again by its metadata, never posted twice.",
            )
        if "readonly" in text or "read-only" in text:
            return StorageError(
                "write the history store",
                self.path,
                "the file or its folder is read-only",
                hint=f"Give this user write access to {self.path} and its folder (SQLite "
                "writes -wal and -shm files next to it), or set [history] path elsewhere.",
            )
        if "full" in text:
            return StorageError(
                "write the history store",
                self.path,
                "the disk is full",
                hint=f"Free space on the disk holding {self.path.parent}, then retry.",
                code=1,
            )
        if "unable to open" in text:
            return StorageError(
                "open the history store",
                self.path,
                text,
                hint=f"Check that {self.path.parent} is a folder this user can write.",
            )
        return StorageError(
            "use the history store", self.path, text, hint="Check the disk, then retry.", code=1
        )

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        assert self._db is not None, "history store used after a failed open"
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # ----------------------------------------------------------- publications
    @_guarded
    def publication(self, plan_key: str, channel: str) -> Publication | None:
        """The recorded parent message of a (city, shift) in a channel, if any."""
        row = self.db.execute(
            "SELECT * FROM publications WHERE plan_key = ? AND channel = ?", (plan_key, channel)
        ).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["snapshot"] = json.loads(data["snapshot"] or "{}")
        return Publication(**data)

    @_guarded
    def save_publication(self, pub: Publication) -> Publication:
        """Insert or update a publication; returns it with timestamps and revision set.

        ``revision`` goes up by one each time the content hash changes.
        """
        now = utc_now()
        with self._tx() as db:
            old = db.execute(
                "SELECT posted_at, revision, content_hash FROM publications "
                "WHERE plan_key = ? AND channel = ?",
                (pub.plan_key, pub.channel),
            ).fetchone()
            posted_at = pub.posted_at or (old["posted_at"] if old else now)
            # revision counts versions of the content, not saves (a publish saves twice:
            # right after posting, then when its thread is complete).
            if old is None:
                revision = 1
            elif old["content_hash"] == pub.content_hash:
                revision = old["revision"]
            else:
                revision = old["revision"] + 1
            db.execute(
                "INSERT OR REPLACE INTO publications (plan_key, channel, city, shift_start, ts, "
                "content_hash, plan_id, snapshot, posted_at, updated_at, revision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pub.plan_key,
                    pub.channel,
                    pub.city,
                    pub.shift_start,
                    pub.ts,
                    pub.content_hash,
                    pub.plan_id,
                    json.dumps(pub.snapshot, sort_keys=True),
                    posted_at,
                    now,
                    revision,
                ),
            )
        return self.publication(pub.plan_key, pub.channel)  # type: ignore[return-value]

    # ------------------------------------------------------------------- runs
    @_guarded
    def start_run(
        self,
        city: str,
        shift_start: str,
        *,
        dry_run: bool = False,
        run_id: str | None = None,
        **fields: Any,
    ) -> RunRecord:
        """Record a run as started (status ``running``) and return it.

        ``fields`` set other columns; they may also override the defaults (status,
        phase, started_at, pid, host), e.g. to record a run that ended at once.
        """
        defaults: dict[str, Any] = {
            "started_at": utc_now(),
            "status": "running",
            "phase": "start",
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        record = RunRecord(
            run_id=run_id or new_run_id(),
            city=city,
            shift_start=shift_start,
            dry_run=dry_run,
            **{**defaults, **fields},
        )
        values = _run_values(record)
        with self._tx() as db:
            db.execute(
                f"INSERT INTO runs ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
        return record

    @_guarded
    def update_run(self, run_id: str, **fields: Any) -> RunRecord:
        """Change some fields of a run in one transaction."""
        unknown = set(fields) - set(_RUN_COLUMNS)
        if unknown:
            raise ValueError(f"unknown run fields {sorted(unknown)}")
        values = {k: _encode(k, v) for k, v in fields.items()}
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE runs SET {', '.join(f'{k} = ?' for k in values)} WHERE run_id = ?",
                (*values.values(), run_id),
            )
            if cur.rowcount != 1:
                raise KeyError(run_id)
        return self.run(run_id)  # type: ignore[return-value]

    @_guarded
    def finish_run(self, run_id: str, *, status: str, exit_code: int, **fields: Any) -> RunRecord:
        """Record how a run ended."""
        return self.update_run(
            run_id, status=status, exit_code=exit_code, ended_at=utc_now(), **fields
        )

    @_guarded
    def run(self, run_id: str) -> RunRecord | None:
        """One run by id (a unique prefix of at least 6 characters also works)."""
        row = self.db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None and len(run_id) >= 6:
            rows = self.db.execute(
                "SELECT * FROM runs WHERE run_id LIKE ? LIMIT 2", (run_id + "%",)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else _run_from_row(row)

    @_guarded
    def runs(self, *, city: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Runs, newest first, optionally for one city."""
        query = "SELECT * FROM runs"
        args: list[Any] = []
        if city:
            query += " WHERE city = ?"
            args.append(city)
        query += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [_run_from_row(r) for r in self.db.execute(query, args).fetchall()]

    @_guarded
    def running(
        self,
        *,
        city: str | None = None,
        shift_start: str | None = None,
        dry_run: bool | None = None,
    ) -> list[RunRecord]:
        """Runs recorded as ``running`` (alive, or died without recording an end), oldest first."""
        query = "SELECT * FROM runs WHERE status = 'running'"
        args: list[Any] = []
        for column, value in (("city", city), ("shift_start", shift_start)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        if dry_run is not None:
            query += " AND dry_run = ?"
            args.append(int(dry_run))
        rows = self.db.execute(query + " ORDER BY started_at, rowid", args).fetchall()
        return [_run_from_row(r) for r in rows]

    @_guarded
    def mark_crashed(self, run_ids: list[str], *, note: str) -> list[RunRecord]:
        """Mark runs that died without recording an end as ``crashed``, in one transaction.

        Only rows still ``running`` change (a run that finished meanwhile keeps its
        status). ``note`` goes into the error column. Returns the rows changed.
        """
        changed: list[str] = []
        with self._tx() as db:
            for run_id in run_ids:
                cur = db.execute(
                    "UPDATE runs SET status = 'crashed', error = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (note, run_id),
                )
                if cur.rowcount == 1:
                    changed.append(run_id)
        return [r for r in (self.run(run_id) for run_id in changed) if r is not None]

    @_guarded
    def runs_for_shift(self, city: str, shift_start: str) -> list[RunRecord]:
        """Every run of one (city, shift), oldest first."""
        rows = self.db.execute(
            "SELECT * FROM runs WHERE city = ? AND shift_start = ? ORDER BY started_at, rowid",
            (city, shift_start),
        ).fetchall()
        return [_run_from_row(r) for r in rows]


def new_run_id() -> str:
    """A sortable, unique run id: UTC time then random hex (``20261130T180001-1a2b3c``)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def _encode(key: str, value: Any) -> Any:
    if key in _RUN_JSON:
        return json.dumps(value or {}, sort_keys=True, default=str)
    if key == "dry_run":
        return int(bool(value))
    return value


def _run_values(record: RunRecord) -> dict[str, Any]:
    return {k: _encode(k, getattr(record, k)) for k in _RUN_COLUMNS}


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    data = {k: row[k] for k in _RUN_COLUMNS}
    for k in _RUN_JSON:
        data[k] = json.loads(data[k] or "{}")
    data["dry_run"] = bool(data["dry_run"])
    return RunRecord(**data)
