"""The history store: SQLite, embedded, WAL mode (the only module that imports sqlite3).

Two tables:

- ``publications``: one row per (plan_key, channel): the Slack parent message of a
  (city, shift, channel), its ``ts``, the hash of what it shows and a JSON snapshot of
  the plan it shows, so a re-run can update it in place and say what changed.
- ``runs``: one row per `rebalance run`: start and end, inputs hash, status, exit code,
  KPIs, plan folder, Slack ts and error.

And for the Slack app (`rebalance serve`, CONTRACT section 10):

- ``overrides``: restaurant status changes made from Slack (who, when, for which
  shift), applied to the inputs of every later plan of that shift.
- ``approvals``: one row per plan version put up for approval: where its message is,
  and its state (pending, held, approving, approved, superseded). A decision is a
  compare-and-set on that state, so two clicks, two processes or a retried delivery
  publish at most once.
- ``deliveries``: the keys of Slack deliveries already handled (replays and retries).

Every write is one transaction (``with self._tx()``), so a crash, kill -9 included,
leaves either the old row or the new one. WAL lets a reader list history while a run
writes.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .errors import LockHeldError, RebalanceError, StorageError

__all__ = [
    "PHASES",
    "Approval",
    "History",
    "OverrideRecord",
    "Publication",
    "RunRecord",
    "utc_now",
]

SCHEMA_VERSION = 2

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
-- every city's newest runs (`history` without --city), and the runs still marked
-- running, which every `run` looks for: with 200,000 runs each sorted or scanned the
-- whole table (0.8 s and 0.2 s, on every listing and every cron run)
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_running ON runs (started_at) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS overrides (
    override_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    city          TEXT NOT NULL,
    shift_start   TEXT NOT NULL,
    shift_end     TEXT NOT NULL,
    restaurant_id TEXT NOT NULL,
    status        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    cleared_at    TEXT,
    cleared_by    TEXT
);
CREATE INDEX IF NOT EXISTS overrides_city ON overrides (city, shift_start);
CREATE TABLE IF NOT EXISTS approvals (
    plan_key       TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    city           TEXT NOT NULL,
    shift_start    TEXT NOT NULL,
    run_id         TEXT,
    plan_id        TEXT NOT NULL,
    plan_dir       TEXT NOT NULL,
    channel        TEXT NOT NULL,
    target_channel TEXT NOT NULL,
    ts             TEXT,
    status         TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     TEXT,
    published_ts   TEXT,
    error          TEXT,
    PRIMARY KEY (plan_key, content_hash)
);
CREATE TABLE IF NOT EXISTS deliveries (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""


@functools.cache
def _schema_objects() -> tuple[dict[str, list[str]], dict[str, str]]:
    """`_SCHEMA` as SQLite itself reads it: each table's columns, and the type (table or
    index) of every object it names (lowercase, as SQLite compares names)."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA)
        named = {
            str(name).lower(): str(kind)
            for name, kind in db.execute("SELECT name, type FROM sqlite_master")
            if not str(name).startswith("sqlite_autoindex")
        }
        tables = [name for name, kind in named.items() if kind == "table"]
        columns = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
        return columns, named
    finally:
        db.close()


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
        """A JSON-ready dict (its ``kpis`` and ``extra`` copied one level deep:
        `dataclasses.asdict` deep-copied every value, 11 s of `history --limit 20000
        --format json`)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["kpis"], out["extra"] = dict(self.kpis), dict(self.extra)
        return out


@dataclass(frozen=True)
class OverrideRecord:
    """A restaurant's status set from Slack for the plans of one shift.

    It applies to every plan of ``city`` whose shift starts in [shift_start,
    shift_end) (UTC ISO 8601), made after it, until cleared.
    """

    override_id: int
    city: str
    shift_start: str
    shift_end: str
    restaurant_id: str
    status: str  # open | closed
    user_id: str
    user_name: str
    created_at: str
    cleared_at: str | None = None
    cleared_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Approval:
    """One plan version put up for approval in ``channel`` (message ``ts``)."""

    plan_key: str
    content_hash: str
    city: str
    shift_start: str
    run_id: str | None
    plan_id: str
    plan_dir: str
    channel: str
    target_channel: str
    ts: str | None
    status: str  # pending | held | approving | approved | superseded
    requested_at: str
    decided_by: str | None = None
    decided_at: str | None = None
    published_ts: str | None = None
    error: str | None = None


_RUN_JSON = ("kpis", "extra")
_RUN_COLUMNS = tuple(RunRecord.__dataclass_fields__)


#: How long a call waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 30.0

_P = ParamSpec("_P")
_T = TypeVar("_T")


#: SQLite's codes for a disk that is full: SQLITE_FULL, and a write of the shared-memory
#: file beside the store that the disk has no room for (SQLITE_IOERR_SHMSIZE, which it
#: names "disk I/O error").
_FULL_CODES = frozenset({13, 4874})


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


#: What moving a broken store aside means (said with the `mv` that does it).
_NEW_STORE = (
    "A new store is created; earlier runs are no longer listed, and each shift's Slack "
    "message is found again by its metadata, never posted twice. The next run of a "
    "shift under way finds the plan in force in the run folders kept beside the store, "
    "by the plan its Slack message shows, and re-plans against it (its log says so); "
    "where none holds that plan, or Slack cannot be asked, it plans the shift afresh "
    "and may revise its message with new instructions for couriers (its revision note "
    "says which)."
)


class History:
    """The SQLite history store at ``path`` (created with its folder on first use).

    Every failure of the store is one of two errors, each saying how to recover: a
    store locked by another process past ``timeout`` seconds (a bounded wait) is
    `LockHeldError` (exit 6); a corrupt, read-only or unreachable store is
    `StorageError` (exit 3; exit 1 for a full disk or an I/O error).
    """

    def __init__(self, path: str | Path, *, timeout: float | None = None, read_only: bool = False):
        """``read_only``: to list runs, with no write (an operator reading the cron
        user's store, a copy on a read-only disk, a full disk): the store must exist,
        and one of an older schema is opened for writing, to be upgraded."""
        self.path = Path(path)
        self.timeout = BUSY_TIMEOUT_SECONDS if timeout is None else timeout
        self.read_only = read_only
        try:
            if not read_only:
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
        if self.read_only and self._open_read_only():
            return
        # isolation_level=None: we open transactions ourselves (BEGIN IMMEDIATE) so that
        # two processes never interleave a read-then-write.
        self._db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self.db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        with self._tx():
            self._check_version()
            self._check_tables()
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _open_read_only(self) -> bool:
        """Open the store without writing (``read_only``); False when it must be opened
        for writing (its schema is older: upgraded first)."""
        if not self.path.exists():
            raise StorageError(
                "read the history store",
                self.path,
                "no such file",
                hint="No run was recorded there.",
            )
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        try:
            version = self._connect(uri)
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc):
                raise
            # A store in WAL mode is read through its -shm file, which SQLite could not
            # make in a folder this user cannot write (a read-only disk, the cron user's
            # folder): no writer has it open then, and the file is read as it is.
            self.close()
            version = self._connect(uri + "&immutable=1")
        if version < SCHEMA_VERSION:
            self.close()
            self._db = None
            return False
        self._check_tables()
        return True

    def _connect(self, uri: str) -> int:
        """Connect read-only to ``uri``; the store's schema version."""
        self._db = sqlite3.connect(uri, uri=True, timeout=self.timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self.db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return self._check_version()

    def _check_version(self) -> int:
        """The store's schema version; a newer one than this rebalance writes is refused
        (its runs would be read wrong, and its version stamped back)."""
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                "read the history store",
                self.path,
                f"it was written by a newer rebalance (schema {version}; this one knows "
                f"{SCHEMA_VERSION})",
                hint="Upgrade rebalance on this machine, or set [history] path to another file.",
            )
        return version

    def _check_tables(self) -> None:
        """Refuse a SQLite file whose existing tables of our names lack our columns
        (another program's database, or one edited by hand): CREATE TABLE IF NOT EXISTS
        kept them, and the first use failed with "no such column" as a disk error (exit 1).
        Tables not there yet are created by the schema."""
        tables, ours = _schema_objects()
        for name, kind in self.db.execute("SELECT name, type FROM sqlite_master"):
            want = ours.get(str(name).lower())
            if want is not None and kind != want:
                raise self._foreign(
                    f"{name!r} is a {kind}, where a rebalance history has one of its {want}s"
                )
        for table, columns in tables.items():
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            lacking = [c for c in columns if c not in have]
            if have and lacking:
                raise self._foreign(
                    f"its table {table!r} lacks {len(lacking)} of its columns "
                    f"({', '.join(lacking[:4])}{', ...' if len(lacking) > 4 else ''})"
                )

    def _foreign(self, why: str) -> StorageError:
        """The error for a SQLite file that is not a rebalance history."""
        quoted = shlex.quote(str(self.path))
        return StorageError(
            "read the history store",
            self.path,
            f"it is not a rebalance history: {why}",
            hint=f"Move it aside and run again: mv {quoted} {shlex.quote(f'{self.path}.corrupt')}"
            f", or set [history] path to another file. {_NEW_STORE}",
        )

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
                hint="Move it aside and run again: mv "
                f"{shlex.quote(str(self.path))} {shlex.quote(f'{self.path}.corrupt')}. "
                + _NEW_STORE,
            )
        if "readonly" in text or "read-only" in text:
            return StorageError(
                "write the history store",
                self.path,
                "the file or its folder is read-only",
                hint=f"Give this user write access to {self.path} and its folder (SQLite "
                "writes -wal and -shm files next to it), or set [history] path elsewhere.",
            )
        if "full" in text or code in _FULL_CODES:
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
        return None if row is None else _publication_from_row(row)

    def publications(self, *, channel: str, city: str, limit: int = 50) -> list[Publication]:
        """The recorded parent messages of one city in a channel, newest posted first."""
        rows = self.db.execute(
            "SELECT * FROM publications WHERE channel = ? AND city = ? "
            "ORDER BY posted_at DESC, rowid DESC LIMIT ?",
            (channel, city, limit),
        ).fetchall()
        return [_publication_from_row(row) for row in rows]

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
            # a prefix as text (LIKE read '%' and '_' in it as wildcards, and gave up on
            # a long one: "pattern too complex", exit 1)
            rows = self.db.execute(
                "SELECT * FROM runs WHERE lower(substr(run_id, 1, ?)) = lower(?) LIMIT 2",
                (len(run_id), run_id),
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return None if row is None else _run_from_row(row)

    @_guarded
    def run_ids(self, prefix: str, limit: int = 6) -> list[str]:
        """Ids of the runs starting with ``prefix``, newest first (at most ``limit``)."""
        rows = self.db.execute(
            "SELECT run_id FROM runs WHERE lower(substr(run_id, 1, ?)) = lower(?) "
            "ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (len(prefix), prefix, limit),
        ).fetchall()
        return [str(r[0]) for r in rows]

    @_guarded
    def cities(self) -> list[str]:
        """The city names runs were recorded under, sorted."""
        rows = self.db.execute("SELECT DISTINCT city FROM runs ORDER BY city").fetchall()
        return [str(r[0]) for r in rows]

    @_guarded
    def runs(
        self,
        *,
        city: str | tuple[str, ...] | None = None,
        limit: int = 20,
        kept: bool = False,
        died: bool = False,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally for one city (or any of several names).
        ``kept``: only runs whose plan was published, or kept when publishing failed
        (exit 5), not dry runs: the plans a re-plan may start from. ``died``: only runs
        not dry that wrote a plan and ended otherwise (crashed, or failed with any exit
        code but 5), which may have posted it before they died."""
        query = "SELECT * FROM runs WHERE 1"
        args: list[Any] = []
        if city:
            names = (city,) if isinstance(city, str) else city
            query += f" AND city IN ({', '.join('?' * len(names))})"
            args.extend(names)
        if kept:
            query += (
                " AND dry_run = 0 AND COALESCE(plan_dir, '') != ''"
                " AND (status = 'succeeded' OR (status = 'failed' AND exit_code = 5))"
            )
        if died:
            query += (
                " AND dry_run = 0 AND COALESCE(plan_dir, '') != ''"
                " AND (status = 'crashed' OR (status = 'failed' AND COALESCE(exit_code, 0) != 5))"
            )
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

    # -------------------------------------------------------------- overrides
    def add_override(
        self,
        *,
        city: str,
        shift_start: str,
        shift_end: str,
        restaurant_id: str,
        status: str,
        user_id: str,
        user_name: str = "",
    ) -> OverrideRecord:
        """Record a restaurant status change for a shift (UTC ISO bounds); returns it."""
        if status not in {"open", "closed"}:
            raise ValueError(f"override status must be open or closed, not {status!r}")
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO overrides (city, shift_start, shift_end, restaurant_id, status, "
                "user_id, user_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    city,
                    shift_start,
                    shift_end,
                    restaurant_id,
                    status,
                    user_id,
                    user_name,
                    utc_now(),
                ),
            )
            override_id = int(cur.lastrowid or 0)
        row = self.db.execute(
            "SELECT * FROM overrides WHERE override_id = ?", (override_id,)
        ).fetchone()
        return OverrideRecord(**dict(row))

    def overrides(self, *, city: str | None = None, active: bool = True) -> list[OverrideRecord]:
        """Overrides, oldest first; ``active``: only those not cleared."""
        query = "SELECT * FROM overrides WHERE 1 = 1"
        args: list[Any] = []
        if city is not None:
            query += " AND city = ?"
            args.append(city)
        if active:
            query += " AND cleared_at IS NULL"
        rows = self.db.execute(query + " ORDER BY override_id", args).fetchall()
        return [OverrideRecord(**dict(r)) for r in rows]

    def clear_overrides(
        self,
        *,
        city: str | None = None,
        restaurant_id: str | None = None,
        override_ids: list[int] | None = None,
        by: str = "",
    ) -> int:
        """Mark active overrides cleared (all, or of a city, a restaurant, some ids)."""
        query = "UPDATE overrides SET cleared_at = ?, cleared_by = ? WHERE cleared_at IS NULL"
        args: list[Any] = [utc_now(), by]
        if city is not None:
            query += " AND city = ?"
            args.append(city)
        if restaurant_id is not None:
            query += " AND restaurant_id = ?"
            args.append(restaurant_id)
        if override_ids is not None:
            query += f" AND override_id IN ({', '.join('?' * len(override_ids)) or 'NULL'})"
            args.extend(override_ids)
        with self._tx() as db:
            return int(db.execute(query, args).rowcount)

    # -------------------------------------------------------------- approvals
    def approval(self, plan_key: str, content_hash: str) -> Approval | None:
        """The approval of one plan version, if it was put up for approval."""
        row = self.db.execute(
            "SELECT * FROM approvals WHERE plan_key = ? AND content_hash = ?",
            (plan_key, content_hash),
        ).fetchone()
        return None if row is None else Approval(**dict(row))

    def approvals(self, plan_key: str) -> list[Approval]:
        """Every version of a (city, shift) put up for approval, oldest first."""
        rows = self.db.execute(
            "SELECT * FROM approvals WHERE plan_key = ? ORDER BY requested_at, rowid",
            (plan_key,),
        ).fetchall()
        return [Approval(**dict(r)) for r in rows]

    def save_approval(self, approval: Approval) -> Approval:
        """Insert an approval (or replace the row of the same plan version)."""
        values = asdict(approval)
        with self._tx() as db:
            db.execute(
                f"INSERT OR REPLACE INTO approvals ({', '.join(values)}) "
                f"VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
        return approval

    def transition_approval(
        self,
        plan_key: str,
        content_hash: str,
        *,
        from_states: tuple[str, ...],
        expect: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Approval | None:
        """Change an approval only if its status is one of ``from_states`` (and the
        columns of ``expect`` hold those values): an atomic compare-and-set across
        processes. Returns the new row, or None if nothing changed."""
        if not fields:
            raise ValueError("nothing to change")
        unknown = (set(fields) | set(expect or {})) - set(Approval.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown approval fields {sorted(unknown)}")
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE approvals SET {', '.join(f'{k} = ?' for k in fields)} "
                f"WHERE plan_key = ? AND content_hash = ? "
                f"AND status IN ({', '.join('?' * len(from_states))})"
                + "".join(f" AND {k} IS ?" for k in expect or {}),
                (*fields.values(), plan_key, content_hash, *from_states, *(expect or {}).values()),
            )
            changed = cur.rowcount == 1
        return self.approval(plan_key, content_hash) if changed else None

    # ------------------------------------------------------------- deliveries
    def first_delivery(self, key: str, kind: str, *, keep_days: float = 2.0) -> bool:
        """Record a Slack delivery; False when the same key was handled before."""
        now = datetime.now(UTC)
        cutoff = datetime.fromtimestamp(now.timestamp() - keep_days * 86400, UTC)
        with self._tx() as db:
            db.execute("DELETE FROM deliveries WHERE received_at < ?", (cutoff.isoformat(),))
            cur = db.execute(
                "INSERT OR IGNORE INTO deliveries (key, kind, received_at) VALUES (?, ?, ?)",
                (key, kind, now.isoformat(timespec="milliseconds")),
            )
            return cur.rowcount == 1


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


def _publication_from_row(row: sqlite3.Row) -> Publication:
    data = dict(row)
    data["snapshot"] = json.loads(data["snapshot"] or "{}")
    return Publication(**data)


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    data = {k: row[k] for k in _RUN_COLUMNS}
    for k in _RUN_JSON:
        try:  # a row edited by hand: shown without its details rather than not at all
            value = json.loads(data[k] or "{}")
        except (ValueError, RecursionError):
            value = {}
        data[k] = value if isinstance(value, dict) else {}
    data["dry_run"] = bool(data["dry_run"])
    return RunRecord(**data)
