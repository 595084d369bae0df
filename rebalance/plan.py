"""`Plan`: a solved shift, its files (CONTRACT section 4), and how it shows itself."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .csvfile import arrow_text, csv_bytes, large_text
from .errors import StorageError, storage_errors, wrong_argument
from .escape import csv_unframe
from .paths import STALE_SECONDS, arrow_file, stale_entries
from .texthash import value_bytes

__all__ = [
    "MOVES_COLUMNS",
    "PLAN_FILES",
    "ZONES_COLUMNS",
    "Plan",
    "Records",
    "as_plan",
    "read_plan",
]

MOVES_COLUMNS: dict[str, str] = {
    "courier_id": "object",
    "vehicle": "object",
    "from_zone": "object",
    "to_zone": "object",
    "travel_minutes": "float64",
}
ZONES_COLUMNS = [
    "zone_id",
    "name",
    "open_restaurants",
    "demand_orders_per_hour",
    "required_couriers",
    "couriers_before",
    "couriers_after",
    "moved_in",
    "moved_out",
    "shortage",
    "surplus",
    "action",
    "pause_restaurants",
    "paused_orders_per_hour",
    "pause_restaurant_names",
    "marginal_minutes",
]
#: The columns CONTRACT section 4 fixes; the ones after them are extensions.
CONTRACT_ZONES_COLUMNS = ZONES_COLUMNS[:13]
_EXTENSION_DEFAULTS = {
    "paused_orders_per_hour": 0.0,
    "pause_restaurant_names": "",
    "marginal_minutes": float("nan"),
}
#: slots.csv (CONTRACT section 7), written when the shift has several slots.
SLOTS_COLUMNS = [
    "zone_id",
    "slot_start",
    "slot_end",
    "demand_orders_per_hour",
    "required_couriers",
    "couriers_before",
    "couriers_after",
    "moved_in",
    "moved_out",
    "logged_on",
    "logged_off",
    "shortage",
    "surplus",
    "marginal_minutes",
]
#: The columns CONTRACT section 7 fixes; marginal_minutes is an extension.
CONTRACT_SLOTS_COLUMNS = SLOTS_COLUMNS[:13]
PLAN_FILES = ("moves.csv", "zones.csv", "plan.json")
#: moves.csv's extra column of a re-plan: new, unchanged or changed since the previous plan.
SINCE_PREVIOUS = "since_previous"
OPTIONAL_PLAN_FILES = ("slots.csv", "roster.parquet")
#: The couriers a plan placed (CONTRACT section 9 extended): one column, courier_id.
ROSTER_FILE = "roster.parquet"
#: plan.json's format_version: 2 since the plan files write control and bidi characters
#: out (`rebalance.escape.csv_controls`); 1 (or none) before, read as it was written.
FORMAT_VERSION = 2


@dataclass(frozen=True, eq=False)
class Plan:
    """A solved shift.

    ``zones`` and ``moves`` are DataFrames with the columns of the plan files;
    ``kpis`` holds the contract's KPIs and a few more. ``status`` is ``optimal``,
    ``feasible`` (a time limit stopped the solver) or ``infeasible`` (``message`` says why).

    A plan equals only itself (``==`` compared the DataFrames and raised pandas' "truth
    value is ambiguous"), and can be a dict key or in a set. Plans of the same problem
    (inputs, settings, shift) share ``plan_id``; `rebalance.diff.diff_plans` says how two
    differ.
    """

    plan_id: str
    city: str
    timezone: str
    shift_start: pd.Timestamp
    shift_end: pd.Timestamp
    status: str
    objective: float | None
    best_bound: float | None
    solve_seconds: float
    inputs_sha256: str
    kpis: dict[str, Any]
    zones: pd.DataFrame
    moves: pd.DataFrame
    message: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    infeasible_zones: tuple[str, ...] = ()
    #: One row per (zone, slot), columns SLOTS_COLUMNS; empty for an infeasible plan.
    slots: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SLOTS_COLUMNS))
    #: L, the slot length in minutes (the whole shift with one slot).
    slot_minutes: int = 0
    #: How the solver got there: method, rounds, model size, whether the LP was integral.
    solver: dict[str, Any] = field(default_factory=dict)
    #: Facts behind `explain` (CONTRACT section 11) not in the plan files; see `rebalance.explain`.
    explanation: dict[str, Any] = field(default_factory=dict, repr=False)
    #: A re-plan's couriers on their way (CONTRACT section 9): the earlier move each one
    #: counts by, ``{"courier_id", "to_zone", "started"}`` (ISO 8601), kept in plan.json
    #: so that the next re-plan, made against this plan, still counts them there.
    under_way: list[dict[str, str]] = field(default_factory=list, repr=False)
    #: A re-plan's couriers whose previous plan had a move for them due at this start,
    #: and whom couriers.csv has in its to_zone already: the instruction is carried out
    #: (nothing charged, nothing to move). Kept in plan.json, so that `rebalance diff`
    #: counts them unchanged, not "no longer moving".
    arrived: list[str] = field(default_factory=list, repr=False)
    #: The couriers this plan placed (present in one of its slots), as Arrow text; written
    #: to roster.parquet. A re-plan against this plan charges ``change_minutes`` only to
    #: couriers it lists: a courier who logged in since had no instruction to change.
    #: None for a plan folder written without it (before 2026-12-05): everyone counts as
    #: known, as before.
    roster: Any = field(default=None, repr=False, compare=False)
    #: When each courier of ``roster`` logs on and off, in the same order (the inputs'
    #: available_from and available_until, int64 UTC nanoseconds), written to
    #: roster.parquet under those names. `rebalance diff` and a revision say so when a
    #: move is dropped because its courier now logs on after it or off before it. None
    #: when unknown (no roster, or one written before 2026-12-07).
    presence: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: Why the plan folder's roster could not be read (`read_plan`), "" if it could or
    #: there is none. The plan is read all the same (only a re-plan uses the roster,
    #: and counts everyone as known, saying so in its message).
    roster_note: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in {"optimal", "feasible", "infeasible"}:
            raise ValueError(f"unknown plan status {self.status!r}")
        if self.status != "infeasible":
            missing = set(CONTRACT_ZONES_COLUMNS) - set(self.zones.columns)
            if missing:
                raise ValueError(f"zones table lacks columns {sorted(missing)}")

    # ------------------------------------------------------------------ views
    @property
    def feasible(self) -> bool:
        """Whether the plan assigns every eligible courier within the caps."""
        return self.status in {"optimal", "feasible"}

    @property
    def slot_count(self) -> int:
        """K, the number of slots (1 for a snapshot plan)."""
        if not self.slot_minutes:
            return 1
        return max(
            1, round((self.shift_end - self.shift_start) / pd.Timedelta(minutes=self.slot_minutes))
        )

    def local(self, ts: pd.Timestamp) -> pd.Timestamp:
        """A timestamp in the city's timezone."""
        return ts.tz_convert(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """The content of plan.json."""
        data: dict[str, Any] = {
            "plan_id": self.plan_id,
            "city": self.city,
            "timezone": self.timezone,
            "shift_start": self.local(self.shift_start).isoformat(),
            "shift_end": self.local(self.shift_end).isoformat(),
            "status": self.status,
            "objective": self.objective,
            "best_bound": self.best_bound,
            "solve_seconds": self.solve_seconds,
            "inputs_sha256": self.inputs_sha256,
            "slot_minutes": self.slot_minutes
            or int((self.shift_end - self.shift_start) / pd.Timedelta(minutes=1)),
            "slots": self.slot_count,
            "kpis": self.kpis,
        }
        if self.message:
            data["message"] = self.message
        data["settings"] = self.settings
        data["timings"] = self.timings
        if self.solver:
            data["solver"] = self.solver
        if self.explanation:
            data["explanation"] = self.explanation
        if self.under_way:
            data["under_way"] = self.under_way
        if self.arrived:
            data["arrived"] = self.arrived
        if self.roster is not None:  # written beside it: read_plan says if it goes missing
            data["roster"] = ROSTER_FILE
        data["format_version"] = FORMAT_VERSION
        return data

    def to_json(self) -> str:
        """plan.json as text (stable key order, 2-space indent)."""
        return dumps_indented(self.to_dict()) + "\n"

    def attention(self) -> pd.DataFrame:
        """Zones that change or stay short, most urgent first."""
        from .views.wording import attention_zones

        return attention_zones(self.zones)

    def routes(self, slot: int | None = None) -> pd.DataFrame:
        """Moves grouped by route: from_zone, to_zone, couriers, minutes (longest travel),
        vehicles; most couriers first, ties by zone ids. ``slot`` keeps the moves made at
        that slot's start only (0 = what to do now)."""
        columns = ["from_zone", "to_zone", "couriers", "minutes", "vehicles"]
        moves = self.moves if slot is None else self.moves_at(slot)
        if moves.empty:
            return pd.DataFrame(columns=columns)
        by_route = moves.groupby(["from_zone", "to_zone"], sort=False)
        flows = by_route.agg(
            couriers=("courier_id", "size"), minutes=("travel_minutes", "max")
        ).reset_index()
        route = by_route.ngroup()
        known = route.notna().to_numpy()  # a move without both zones is on no route
        flows["vehicles"] = _route_vehicles(
            moves["vehicle"][known], route[known].to_numpy(np.int64)
        )
        if SINCE_PREVIOUS in moves.columns:  # a re-plan: "2 new, 1 unchanged" per route
            flows["since"] = (
                _since_counts(moves)
                .reindex(pd.MultiIndex.from_frame(flows[["from_zone", "to_zone"]]))
                .to_numpy()
            )
        return flows.sort_values(
            ["couriers", "from_zone", "to_zone"], ascending=[False, True, True]
        ).reset_index(drop=True)

    def slot_starts(self) -> pd.DatetimeIndex:
        """The slots' starts in city time."""
        step = pd.Timedelta(minutes=self.slot_minutes) if self.slot_minutes else None
        if step is None:
            return pd.DatetimeIndex([self.local(self.shift_start)])
        return pd.date_range(self.local(self.shift_start), periods=self.slot_count, freq=step)

    def slot_labels(self) -> list[str]:
        """Each slot's start as the views show it: ``HH:MM`` city time, told apart where
        the clock shows a time twice (`rebalance.slots.slot_labels`)."""
        from .slots import slot_labels

        return slot_labels(self.slot_starts())

    def moves_at(self, slot: int) -> pd.DataFrame:
        """The moves made at the start of slot ``slot`` (0 = now; -1 = the last slot)."""
        count = self.slot_count
        if isinstance(slot, bool) or not isinstance(slot, int | np.integer):
            raise TypeError(
                f"slot must be a slot number from 0 (now) to {count - 1}, got "
                f"{type(slot).__name__} {slot!r}"[:200]
            )
        if not -count <= slot < count:
            from .views.wording import plural

            raise IndexError(
                f"slot {slot} is out of range: this plan has {plural(count, 'slot')}, "
                f"0 to {count - 1}"
            )
        if "slot_start" not in self.moves.columns or count == 1:
            return self.moves
        when = self.slot_starts()[slot]
        return self.moves[pd.to_datetime(self.moves["slot_start"], utc=True) == when]

    def zone_coordinates(self) -> pd.DataFrame | None:
        """zone_id, name, lat and lon of the plan's zones, as its plan.json keeps them
        (under ``explanation``, in the zones' order): what `rebalance map` and the zone
        plots draw from without the data folder. None for a plan without them (a folder
        written before explanations were stored, an infeasible plan)."""
        info = self.explanation or {}
        lat, lon = info.get("lat", []), info.get("lon", [])
        if not len(self.zones) or len(lat) != len(self.zones) or len(lon) != len(lat):
            return None
        return self.zones[["zone_id", "name"]].assign(lat=lat, lon=lon).reset_index(drop=True)

    def explain(self, zone: str | None = None) -> Any:
        """Why this plan: short zones' reasons, what each route saves, marginal values
        (an `rebalance.explain.Explanation`; ``zone`` keeps that zone's rows)."""
        from .explain import explain

        return explain(self, zone)

    def summary(self) -> str:
        """A few lines of plain text: the headline KPIs."""
        from .views.terminal import summary_text

        return summary_text(self)

    def diff(self, other: Plan) -> Any:
        """What changed from this plan to ``other`` (the newer one), as
        ``rebalance diff THIS OTHER`` says: a `rebalance.diff.PlanDiff` (zones, couriers
        added, dropped or re-routed and why, KPIs side by side); it shows itself in a
        terminal and has ``to_dict()``."""
        from .diff import diff_plans

        return diff_plans(self, as_plan(other, "Plan.diff(other)", "other"))

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from .views.terminal import plan_renderables

        yield from plan_renderables(self, width=options.max_width)

    def _repr_html_(self) -> str:
        from .views.html import plan_html

        return plan_html(self)

    def __repr__(self) -> str:
        return (
            f"Plan(city={self.city!r}, shift_start={self.local(self.shift_start).isoformat()!r}, "
            f"status={self.status!r}, objective={self.objective}, moved="
            f"{self.kpis.get('moved_couriers')}, coverage={self.kpis.get('coverage')})"
        )

    # ------------------------------------------------------------------- files
    def write(self, directory: str | Path, *, overwrite: bool = True) -> Path:
        """Write moves.csv, zones.csv, plan.json (and slots.csv with several slots,
        roster.parquet when the roster is known) into ``directory``, atomically.

        The files are written to a temporary sibling folder, then swapped in with one
        rename that exchanges the two folders (Linux; elsewhere two renames), so a
        reader (or a crash) sees the old plan or the new one, never half, and never no
        folder. A folder that cannot be moved (a mount point, the working folder or one
        it is in) gets the new files one by one instead, each replaced whole. An
        existing folder is replaced only if it holds nothing but plan files. A
        ``directory`` that is a symbolic link is followed: the folder it points to is
        replaced and the link kept. A disk that is full or read-only raises
        `StorageError` saying what and where, and leaves the previous plan (or nothing).
        Tables edited in place (``plan.moves.loc[...] = ...``) so that they no
        longer give the plan's KPIs, or its zones' counts (`_zone_count_problems`), raise
        ValueError before anything is written: such a folder would be refused by
        `read_plan`, publish and diff.
        """
        if not self.feasible:
            raise ValueError(f"an infeasible plan has no files to write: {self.message}")
        # A plan's tables edited in place (rows dropped from plan.moves) were written
        # beside the KPIs and plan_id of the plan solved, a folder read_plan, publish
        # and diff then refused: the same check, here, before anything is written.
        edited = _kpis_problem(self, tables="plan.{}'")
        if edited:
            raise ValueError(
                f"Plan.write: the plan's tables no longer match its KPIs ({edited} in "
                "place): solve again with the changed inputs (rebalance.solve), or write "
                "a copy taken before the edit"
            )
        # an edit every KPI survives (one zone's couriers_after, a move sent elsewhere):
        # read_plan would refuse the folder, so it is not written
        at_odds = _zone_count_problems(self)
        if at_odds:
            odd = at_odds[0]
            table = "plan.zones" if odd.file == "zones.csv" else "plan.slots"
            row = f"{table}, position {odd.row}" if odd.row is not None else table
            raise ValueError(
                f"Plan.write: the plan's tables disagree ({row}, column {odd.column!r}: "
                f"{odd.message}): solve again with the changed inputs (rebalance.solve), or "
                "write a copy taken before the edit"
            )
        from .errors import as_path

        where = as_path(directory, "Plan.write(directory)", "directory must be a folder's path")
        target = _follow_link(where)
        # absolute: "." has no name to make a sibling of, and no parent to hold one
        place = Path(os.path.abspath(target))
        parent = place.parent
        with storage_errors(_WRITING, target):
            parent.mkdir(parents=True, exist_ok=True)
            in_place = place.is_dir() and _unmovable(place)
        if target.exists():
            if not target.is_dir():
                raise FileExistsError(f"{target} exists and is not a folder")
            foreign = foreign_files(target)
            if foreign:
                raise FileExistsError(
                    f"{target} holds other files ({', '.join(foreign[:3])}); "
                    "choose an empty or new folder for the plan"
                )
            if not overwrite and any(target.iterdir()):
                raise FileExistsError(f"{target} already holds a plan")
        with storage_errors(_WRITING, target):
            if in_place:
                _sweep(place, place.name)
            tmp = Path(
                tempfile.mkdtemp(
                    prefix=_writing_prefix(place.name), dir=place if in_place else parent
                )
            )
        roster: Future[None] | None = None
        try:
            # Text cells that a spreadsheet would run as formulas get a leading ' (OWASP);
            # read_plan gives the raw values back.
            several = self.slot_count > 1
            # The roster is written on a thread while the CSV files are made here (Arrow's
            # Parquet writer lets go of the interpreter lock): at 10M couriers its 6.9
            # million ids took 0.25-0.6 s of the write on their own.
            pool = ThreadPoolExecutor(1, thread_name_prefix="rebalance-roster")
            roster = (
                None
                if self.roster is None
                else pool.submit(_write_roster, self.roster, tmp / ROSTER_FILE, self.presence)
            )
            pool.shutdown(wait=False)
            moves = self.moves[list(MOVES_COLUMNS)].copy()
            if several:
                moves["slot_start"] = _iso(self.moves["slot_start"], self.timezone)
            if SINCE_PREVIOUS in self.moves.columns:  # re-planned (CONTRACT section 9)
                moves[SINCE_PREVIOUS] = self.moves[SINCE_PREVIOUS]
            (tmp / "moves.csv").write_bytes(csv_bytes(moves))
            zones = self.zones.assign(
                **{k: v for k, v in _EXTENSION_DEFAULTS.items() if k not in self.zones.columns}
            )
            (tmp / "zones.csv").write_bytes(csv_bytes(zones[ZONES_COLUMNS]))
            written = list(PLAN_FILES)
            if several:
                slots = self.slots[SLOTS_COLUMNS].copy()
                for column in ("slot_start", "slot_end"):
                    slots[column] = _iso(slots[column], self.timezone)
                (tmp / "slots.csv").write_bytes(csv_bytes(slots))
                written.append("slots.csv")
            (tmp / "plan.json").write_text(self.to_json(), encoding="utf-8")
            if roster is not None:
                roster.result()
                written.append(ROSTER_FILE)
            for name in written:
                _fsync(tmp / name)
            # the folder's mode follows the umask as its files' do (0600 files under
            # umask 077 sat in a 0755 folder anyone could list): a file's mode, with x
            # wherever it has r
            mode = os.stat(tmp / "plan.json").st_mode & 0o777
            os.chmod(tmp, mode | (mode & 0o444) >> 2)
            if in_place:
                _fill(place, tmp, written)
            elif place.exists():
                if _exchange(tmp, place):
                    shutil.rmtree(tmp, ignore_errors=True)  # the previous plan, now
                else:
                    old = Path(tempfile.mkdtemp(prefix=f".{place.name}.old-", dir=parent))
                    old.rmdir()
                    os.replace(place, old)
                    try:
                        os.replace(tmp, place)
                    except BaseException:
                        os.replace(old, place)  # the previous plan stays, whole
                        raise
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, place)
            _fsync_dir(parent)
            _sweep(parent, place.name)
        except OSError as exc:
            _settled(roster)
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno is None:
                raise
            raise StorageError.from_os_error(exc, _WRITING, target) from exc
        except BaseException:
            _settled(roster)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


def _unmovable(folder: Path) -> bool:
    """Whether ``folder`` (absolute) cannot be swapped for another by renames: a mount
    point (the kernel refuses, EBUSY: a container's volume given as ``--out``), or the
    working folder or one it is in (the shell that ran ``--out .`` would be left in
    the old folder, deleted)."""
    if os.path.ismount(folder) or os.path.realpath(folder) in _mount_points():
        return True
    try:
        here = Path(os.path.realpath(os.getcwd()))
    except OSError:  # the working folder itself was deleted
        return False
    real = Path(os.path.realpath(folder))  # a path through a link names it too
    return here == real or real in here.parents


def _mount_points() -> set[str]:
    """This process's mount points (Linux's /proc/self/mountinfo; none elsewhere): a
    bind mount of a folder of the same filesystem, which `os.path.ismount` misses."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            fields = [line.split(" ") for line in fh]
    except OSError:
        return set()
    # the fifth field, with blanks, tabs, newlines and backslashes written in octal
    return {
        re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f[4])
        for f in fields
        if len(f) > 4
    }


def _fill(folder: Path, tmp: Path, written: list[str]) -> None:
    """Move the plan files written in ``tmp`` (a folder inside ``folder``) into
    ``folder``, each replacing its old copy in one rename; remove the plan files the
    new plan has not (slots.csv of a plan in slots before), then ``tmp``.

    plan.json goes first and comes back last: while the files change there is no plan
    (`read_plan` reads again, or says plan.json is missing), and a write killed in the
    middle leaves a folder without plan.json, never files of two plans that read as
    one edited by hand. Writers of one folder take turns (a lock on the folder)."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (folder / "plan.json").unlink(missing_ok=True)
        _fsync_dir(folder)
        for name in sorted(written, key=lambda n: n == "plan.json"):
            os.replace(tmp / name, folder / name)
        for name in (*PLAN_FILES, *OPTIONAL_PLAN_FILES):
            if name not in written:
                (folder / name).unlink(missing_ok=True)
        tmp.rmdir()
        os.fsync(fd)
    finally:
        os.close(fd)  # and the lock with it


#: renameat2's flag that swaps two paths in one step (Linux 3.15; <linux/fs.h>).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap folders ``a`` and ``b`` in one step (Linux's renameat2 with
    RENAME_EXCHANGE): True when done; False where the C library or the filesystem
    has no such rename (the caller then renames twice)."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        rename = libc.renameat2
    except (OSError, AttributeError):
        return False
    rename.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _settled(task: Future[None] | None) -> None:
    """Wait for ``task`` to end, whatever its outcome (before its folder is removed)."""
    if task is not None:
        wait([task])


#: roster.parquet's columns of `Plan.presence`.
PRESENCE_COLUMNS = ("available_from", "available_until")


def _write_roster(
    roster: Any, path: Path, presence: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    """``roster`` (courier ids, Arrow text) as a Parquet file (zstd: 690,000 ids in
    ~0.04 s, 7 million in ~0.4 s), with `Plan.presence` as UTC times when known."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"courier_id": roster}
    if presence is not None:
        kind = pa.timestamp("ns", tz="UTC")
        for name, values in zip(PRESENCE_COLUMNS, presence, strict=True):
            columns[name] = pa.array(np.asarray(values, dtype=np.int64)).view(kind)
    with arrow_file(path, "wb") as fh:
        pq.write_table(pa.table(columns), fh, compression="zstd")


def _read_roster(path: Path) -> tuple[Any, tuple[np.ndarray, np.ndarray] | None]:
    """roster.parquet's courier ids as Arrow text, and `Plan.presence` when the file
    holds it (None otherwise: written before it was kept, or by hand); ValueError when
    the ids are not that."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ValueError("not a file")
    try:
        with arrow_file(path) as fh:
            parquet = pq.ParquetFile(fh)
            names = set(parquet.schema_arrow.names)
            if "courier_id" not in names:
                shown = ", ".join(sorted(names)[:5]) or "none"
                raise ValueError(f"not a table with a courier_id column (its columns: {shown})")
            wanted = ["courier_id", *(c for c in PRESENCE_COLUMNS if c in names)]
            table = parquet.read(columns=wanted)
    except (pa.ArrowException, KeyError) as exc:
        raise ValueError(f"not a table with a courier_id column: {_first_line(exc)}") from None
    ids = table.column("courier_id")
    if pa.types.is_dictionary(ids.type) and _is_text(ids.type.value_type):
        ids = ids.cast(ids.type.value_type)  # written from a pandas category, say
    elif pa.types.is_null(ids.type):  # no id at all: pandas writes an empty column so
        ids = ids.cast(pa.large_string())
    if not _is_text(ids.type):
        raise ValueError(f"courier_id holds {ids.type}, not text")
    try:  # bytes that are not UTF-8 (a damaged file): no courier would match them, and
        ids.validate(full=True)  # the re-plan took one for a newcomer without a word
    except pa.ArrowInvalid:
        raise ValueError("courier_id holds bytes that are not UTF-8 text") from None
    return ids, _presence(table)


def _presence(table: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """`Plan.presence` from roster.parquet's columns, or None when they are not both
    there as times without a gap (a file of another shape is still a roster)."""
    import pyarrow as pa

    out = []
    for name in PRESENCE_COLUMNS:
        if name not in table.column_names:
            return None
        column = table.column(name)
        if not pa.types.is_timestamp(column.type) or column.null_count:
            return None
        ns = column.cast(pa.timestamp("ns", tz=column.type.tz or "UTC"))
        out.append(ns.combine_chunks().view(pa.int64()).to_numpy())
    return out[0], out[1]


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def check_zones(
    plan: Plan, known: Iterable[str], *, label: str, file: Path | None, valid: str
) -> None:
    """Raise `DataError` ("plan and data do not match") when ``plan`` names zones that
    are not in ``known`` (the data's zone ids): it was made from other data, and a
    view or score of it against these would be about nobody (`map`, `replay`)."""
    from .errors import DataError, Issue

    unknown = sorted(set(plan.zones["zone_id"].astype(str)) - set(known))
    if unknown:
        raise DataError(
            Issue(
                f"{len(unknown)} zones of {label} are not in this data folder "
                f"({', '.join(unknown[:5])})",
                file=str(file) if file is not None else None,
                column="zone_id",
                valid=valid,
            ),
            title="plan and data do not match",
        )


def foreign_files(folder: Path) -> list[str]:
    """The files of an existing ``folder`` that are not plan files, sorted: a plan folder
    may be replaced only when this is empty (`Plan.write`, and `rebalance batch` before
    it plans)."""
    known = PLAN_FILES + OPTIONAL_PLAN_FILES
    # a write's temporary folder inside a folder that cannot be moved (`_fill`)
    writing = _writing_prefix(Path(os.path.abspath(folder)).name)
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name not in known and not (p.name.startswith(writing) and p.is_dir())
    )


def _writing_prefix(name: str) -> str:
    """The name prefix of the temporary folder a write of plan folder ``name`` makes
    (``.NAME.tmp-``): what the write creates, `foreign_files` lets be and `_sweep`
    removes, one rule for the three."""
    return f".{name}.tmp-"


def _sweep(parent: Path, name: str, *, older_than: float = STALE_SECONDS) -> None:
    """Remove the stale temporary copies (``.NAME.tmp-*``) of a plan folder, once a
    whole plan is in place; the ``.old-*`` copies are left: one may be the only copy
    of the previous plan after a crash in the middle of the swap. ``older_than``: the
    age in seconds from which a copy is no live writer's (0 when its writer is known
    to be dead)."""
    for stale in stale_entries(parent, _writing_prefix(name), older_than=older_than):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def remove_temporary_copies(folder: Path) -> None:
    """Remove the temporary copies a dead writer left of plan folder ``folder`` (a run
    killed while writing its plan: `rebalance run` sweeps them for the runs it finds
    crashed, whose folders no later write of the same name would sweep)."""
    _sweep(folder.parent, folder.name, older_than=0.0)


def as_plan(plan: Any, call: str, what: str = "previous") -> Plan:
    """``plan`` when it is a `Plan`; else a TypeError saying what to pass (a notebook
    gave the plan's folder, and met "'str' object has no attribute 'city'")."""
    if isinstance(plan, Plan):
        return plan
    raise wrong_argument(
        call,
        f"{what} must be a rebalance.Plan",
        plan,
        path_hint="read a plan folder with rebalance.read_plan(folder)",
    )


def read_plan(directory: str | Path) -> Plan:
    """Read a plan folder written by `Plan.write` (or `rebalance plan --out`).

    A missing, truncated or edited file raises `DataError` (exit 3) naming the file and
    what is wrong with it, never a traceback. A plan written again while it is read
    (the folder swapped for another) is read again: the files of one plan, never some
    of each (up to `_READS` times).
    """
    import time

    from .errors import DataError, as_path

    folder = as_path(
        directory,
        "read_plan(directory)",
        "directory must be a plan folder's path (a str or pathlib.Path)",
        hint="this is a Plan already" if isinstance(directory, Plan) else "",
    )
    for attempt in range(_READS):
        before = _identity(folder)
        try:
            plan = _read_plan(folder)
        except DataError:
            after = _identity(folder)
            # swapped while read, or written in place right now (plan.json is back last)
            writing = after is not None and after[3] == (-1, -1) and after[1] != (-1, -1)
            if attempt < _READS - 1 and (after != before or writing):
                time.sleep(0.02 * (attempt + 1) if writing else 0)
                continue
            raise
        if _identity(folder) == before:
            return plan
    return plan


#: Reads of a plan folder that `read_plan` makes while writers keep swapping it.
_READS = 5


def _identity(folder: Path) -> tuple[tuple[int, int], ...] | None:
    """The (device, inode) of the folder and of each plan file in it (-1 where none):
    another when a write swapped in a new folder, or replaced a file in it (a folder
    written in place, `_fill`); None when there is no such folder."""
    try:
        outer = os.stat(folder)
    except OSError:
        return None
    found = [(outer.st_dev, outer.st_ino)]
    for name in (*PLAN_FILES, *OPTIONAL_PLAN_FILES):
        try:
            info = os.stat(folder / name)
            found.append((info.st_dev, info.st_ino))
        except OSError:
            found.append((-1, -1))
    return tuple(found)


def _read_plan(folder: Path) -> Plan:
    """`read_plan`, once."""
    from .errors import DataError, Issue

    valid = "a folder written by `rebalance plan --out` (write it again with that command)"
    if not folder.is_dir():
        raise DataError(
            Issue(
                "plan folder not found" if not folder.exists() else "not a folder",
                file=str(folder),
                valid=valid,
            ),
            title="not a plan folder",
        )
    missing = [name for name in PLAN_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(
            [
                Issue(f"missing plan file {name}", file=str(folder / name), valid=valid)
                for name in missing
            ],
            title="not a plan folder",
        )

    def broken(name: str, what: str) -> DataError:
        return DataError(Issue(what, file=str(folder / name), valid=valid), title="unreadable plan")

    try:
        meta = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise broken("plan.json", "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise broken(
            "plan.json",
            f"not valid JSON (line {exc.lineno}: {exc.msg}); the file is truncated or was edited",
        ) from None
    except RecursionError:  # arrays nested thousands deep: no plan.json rebalance wrote
        raise broken("plan.json", "nested too deeply to be a plan's JSON object") from None
    except OSError as exc:
        raise broken("plan.json", f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(meta, dict):
        raise broken("plan.json", "not a JSON object")
    version = meta.get("format_version", 1)
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        newer = type(version) is int and version > FORMAT_VERSION
        raise broken(
            "plan.json",
            f"format_version is {version!r:.40}: this rebalance reads formats 1 to "
            f"{FORMAT_VERSION}" + ("; a newer rebalance wrote it: upgrade" if newer else ""),
        )
    zone_text = ("zone_id", "name", "action", "pause_restaurants", "pause_restaurant_names")
    zones = _read_table(folder / "zones.csv", {c: str for c in zone_text}, valid)
    move_text = ("courier_id", "vehicle", "from_zone", "to_zone")
    moves = _read_table(folder / "moves.csv", {c: str for c in move_text}, valid)
    # Undo the formula guard of `Plan.write`, and from format 2 the control characters
    # it wrote out: the plan holds the partners' raw values.
    controls = version >= 2
    zones = csv_unframe(zones, zone_text, controls=controls)
    moves = csv_unframe(moves, move_text, controls=controls)
    slots = pd.DataFrame(columns=SLOTS_COLUMNS)
    if (folder / "slots.csv").is_file():
        slots = csv_unframe(
            _read_table(folder / "slots.csv", {"zone_id": str}, valid),
            ("zone_id",),
            controls=controls,
        )
    # Every column the contract gives a plan file, named when a hand edit renamed or
    # dropped it: the views read them all (publish crashed on a moves.csv without its
    # vehicle column). The extensions after them may be missing: older plans.
    lacking = [
        Issue(f"lacks the column {c!r}", file=str(folder / name), column=c, valid=valid)
        for name, frame, columns in (
            ("zones.csv", zones, CONTRACT_ZONES_COLUMNS),
            ("moves.csv", moves, list(MOVES_COLUMNS)),
            ("slots.csv", slots, CONTRACT_SLOTS_COLUMNS),
        )
        for c in columns
        if c not in frame.columns
    ]
    if lacking:
        raise DataError(lacking, title="unreadable plan")

    # Optional, and read by re-plans only: one that cannot be read is noted, not fatal
    # (explain, diff and publish do not need it; a re-plan counts everyone as known).
    roster, presence, roster_note = None, None, ""
    path = folder / ROSTER_FILE
    if path.exists() or path.is_symlink():
        try:
            roster, presence = _read_roster(path)
        except (ValueError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            roster_note = f"{path} unreadable ({why}): every courier counted as known"
    elif meta.get("roster") == ROSTER_FILE:
        # plan.json says its roster was written beside it: this folder lost it
        roster_note = f"{path} missing: every courier counted as known"

    def column(name: str, frame: pd.DataFrame, key: str, convert: Callable[[Any], Any]) -> Any:
        """``convert(frame[key])``; a value it refuses is named by file, line and column
        (a CSV edited by hand, not plan.json)."""
        try:
            return convert(frame[key])
        except KeyError:
            raise DataError(
                Issue(f"lacks the column {key!r}", file=str(folder / name), valid=valid),
                title="unreadable plan",
            ) from None
        except (ValueError, TypeError) as exc:
            line = None
            for i, value in enumerate(frame[key].tolist()):
                try:
                    convert(pd.Series([value]))
                except (ValueError, TypeError):
                    line = _line_of(folder / name, i)
                    break
            raise DataError(
                Issue(
                    f"holds an invalid value: {_first_line(exc)}",
                    file=str(folder / name),
                    line=line,
                    column=key,
                    valid=valid,
                ),
                title="unreadable plan",
            ) from None

    def times(values: pd.Series) -> pd.Series:
        """ISO 8601 text; without an offset (a hand-edited file) in the plan's timezone,
        as every time without an offset is read (CONTRACT section 1)."""
        from .timeparse import parse_timestamps

        text = values.astype(str)
        parsed = parse_timestamps(text, tz)
        bad = parsed.isna().to_numpy()
        if bad.any():
            raise ValueError(f"{text[bad].iloc[0]!r} is not an ISO 8601 timestamp")
        return parsed

    try:
        tz = _timezone(meta.get("timezone", "UTC"))
        shift_start = _utc(meta["shift_start"], "shift_start")
    except KeyError as exc:
        raise broken("plan.json", f"lacks the key {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise broken("plan.json", f"holds an invalid value: {_first_line(exc)}") from None
    moves["travel_minutes"] = column("moves.csv", moves, "travel_minutes", _amounts)
    known_zones = set(column("zones.csv", zones, "zone_id", lambda v: v.tolist()))

    def listed(values: pd.Series) -> pd.Series:
        unknown = ~values.isin(known_zones)
        if unknown.any():
            raise ValueError(f"zone {values[unknown].iloc[0]!r} is not in zones.csv")
        return values

    for key in ("from_zone", "to_zone"):  # a move names zones of the same plan
        column("moves.csv", moves, key, listed)
    # The numbers every view reads (diff, map, explain, publish): a hand edit that is not
    # one is named here by file, line and column, not found later as a wrong figure.
    for key in _ZONE_COUNTS:
        zones[key] = column("zones.csv", zones, key, _counts)
    for key in _ZONE_AMOUNTS:
        if key in zones.columns or key == "demand_orders_per_hour":
            zones[key] = column("zones.csv", zones, key, _amounts)
    if len(slots.columns) and "slot_start" in slots.columns:
        column("slots.csv", slots, "zone_id", listed)
        for key in _SLOT_COUNTS:
            slots[key] = column("slots.csv", slots, key, _counts)
        slots["demand_orders_per_hour"] = column(
            "slots.csv", slots, "demand_orders_per_hour", _amounts
        )
    if "slot_start" in moves.columns:
        moves["slot_start"] = column("moves.csv", moves, "slot_start", times).dt.tz_convert(tz)
    if len(slots.columns) and "slot_start" in slots.columns:
        for key in ("slot_start", "slot_end"):
            slots[key] = column("slots.csv", slots, key, times).dt.tz_convert(tz)
    try:
        if "slot_start" not in moves.columns:
            # one value for every row, broadcast (a list of 146,000 timestamps took 3.3 s)
            moves["slot_start"] = pd.Series(
                shift_start.tz_convert(tz), index=moves.index, dtype=f"datetime64[ns, {tz}]"
            )
        for extra, default in _EXTENSION_DEFAULTS.items():
            if extra not in zones.columns:
                zones[extra] = default
        if len(slots.columns) and "slot_start" in slots.columns:
            slots["marginal_minutes"] = pd.to_numeric(
                slots.get("marginal_minutes"), errors="coerce"
            )
        zones["marginal_minutes"] = pd.to_numeric(zones["marginal_minutes"], errors="coerce")
    except KeyError as exc:
        raise broken("plan.json", f"lacks the key {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise broken("plan.json", f"holds an invalid value: {_first_line(exc)}") from None
    try:
        plan = Plan(
            plan_id=_name(meta["plan_id"], "plan_id"),
            city=_name(meta["city"], "city"),
            timezone=tz,
            shift_start=shift_start,
            shift_end=_shift_end(shift_start, _utc(meta["shift_end"], "shift_end")),
            status=meta["status"],
            objective=_number(meta.get("objective"), "objective", none=True),
            best_bound=_number(meta.get("best_bound"), "best_bound", none=True),
            solve_seconds=_number(meta.get("solve_seconds", 0.0), "solve_seconds"),
            inputs_sha256=meta.get("inputs_sha256", ""),
            kpis=_table(meta.get("kpis", {}), "kpis"),
            zones=zones,
            moves=moves,
            message=meta.get("message", ""),
            settings=_table(meta.get("settings", {}), "settings"),
            timings=_table(meta.get("timings", {}), "timings"),
            slots=slots,
            slot_minutes=_slot_minutes(meta.get("slot_minutes") or 0),
            solver=_table(meta.get("solver", {}), "solver"),
            explanation=_table(meta.get("explanation", {}), "explanation"),
            under_way=_under_way(meta.get("under_way", []), times, tz),
            arrived=_arrived(meta.get("arrived", [])),
            roster=roster,
            presence=presence,
            roster_note=roster_note,
        )
    except KeyError as exc:
        raise broken("plan.json", f"lacks the key {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise broken("plan.json", f"holds an invalid value: {_first_line(exc)}") from None
    if plan.slot_count > 1 and not (folder / "slots.csv").is_file():
        # every view of a plan in slots reads its slot rows ("Coming up" made them up)
        raise DataError(
            Issue(
                f"missing plan file slots.csv (a plan of {plan.slot_count} slots)",
                file=str(folder / "slots.csv"),
                valid=valid,
            ),
            title="not a plan folder",
        )
    if plan.slot_count > 1 and (meta.get("slots") or plan.slot_count) != plan.slot_count:
        raise broken(
            "plan.json",
            f"slots is {meta.get('slots')!r}, but its shift holds {plan.slot_count} slots of "
            f"{plan.slot_minutes} min",
        )
    if plan.slot_count > 1 and plan.feasible:
        # one row per (zone, slot): a row deleted (a zone's slot of zeros) went unseen,
        # and a publish uploaded the table without it under a new content hash
        want = len(plan.zones) * plan.slot_count
        pairs = plan.slots[["zone_id", "slot_start"]].drop_duplicates()
        if len(plan.slots) != want or len(pairs) != want:
            raise broken(
                "slots.csv",
                f"holds {len(plan.slots):,} rows ({len(pairs):,} distinct zone and slot) "
                f"where the plan's {len(plan.zones):,} zones in {plan.slot_count} slots make "
                f"{want:,}: the plan was edited",
            )
    if plan.feasible:
        from .explain import explanation_problem

        problem = _kpis_problem(plan) or explanation_problem(plan.explanation)
        if problem:
            raise broken("plan.json", problem)
        # an edit every KPI survives: one zone's couriers_after, one move sent elsewhere
        at_odds = _zone_count_problems(plan)
        if at_odds:
            raise DataError(
                [
                    Issue(
                        odd.message,
                        file=str(folder / odd.file),
                        line=None if odd.row is None else _line_of(folder / odd.file, odd.row),
                        column=odd.column,
                        valid=None if odd.message.startswith("... and") else valid,  # said above
                        count=odd.count,
                    )
                    for odd in at_odds
                ],
                title="unreadable plan",
            )
    return plan


#: plan.json's KPIs that CONTRACT section 4 requires of a plan (`read_plan` checks them;
#: `rebalance batch` tabulates them).
CONTRACT_KPIS = (
    "eligible_couriers",
    "moved_couriers",
    "travel_minutes",
    "shortage",
    "coverage_before",
    "coverage",
)


def _name(value: Any, key: str) -> str:
    """plan.json's ``key`` if it is text that is not blank, else a ValueError naming the
    key: a city edited to null was titled "None" in Slack, and keyed its message apart
    from the real city's."""
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"{key} is {value!r}, not a name")


def _number(value: Any, key: str, *, none: bool = False) -> Any:
    """``value`` of plan.json's ``key`` if it is a number (or None where ``none``), else
    a ValueError naming the key: the views format these."""
    from .ranges import finite_number

    if finite_number(value, none=none):
        return value
    raise ValueError(f"{key} is {value!r}, not a number")


def _shift_end(start: pd.Timestamp, end: pd.Timestamp) -> pd.Timestamp:
    """plan.json's shift end, after its start and at most `MAX_SHIFT_HOURS` later (as
    `rebalance plan` allows): the views lay out every slot of the shift."""
    from .ranges import MAX_SHIFT_HOURS

    if not start < end <= start + pd.Timedelta(hours=MAX_SHIFT_HOURS):
        raise ValueError(
            f"shift_end {end.isoformat()} is not after shift_start and within "
            f"{MAX_SHIFT_HOURS:g} hours of it"
        )
    return end


def _slot_minutes(value: Any) -> int:
    """plan.json's slot_minutes: a whole number of minutes, 0 (one slot) to
    `MAX_SLOT_MINUTES` (1e20 overflowed the views' time arithmetic: exit 1)."""
    from .ranges import MAX_SLOT_MINUTES

    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole or not 0 <= value <= MAX_SLOT_MINUTES:
        raise ValueError(
            f"slot_minutes is {value!r}, not a whole number from 0 to {MAX_SLOT_MINUTES}"
        )
    return int(value)


def _kpis_problem(plan: Plan, *, tables: str = "{}.csv's") -> str:
    """What is wrong with a read plan's KPIs ("" if nothing): each contract KPI present
    and a number >= 0, and those the tables fix equal to them (the moved couriers, the
    travel minutes, slot 0's shortage, the coverage before and after). The views print
    the KPIs beside the tables: a hand edit that leaves them disagreeing posted
    "Shortage left none" beside two short zones."""
    kpis = plan.kpis
    for key in CONTRACT_KPIS:
        value = kpis.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return (
                f"lacks the number kpis.{key}"
                if value is None
                else (f"kpis.{key} is {value!r}, not a number")
            )
        if not value >= 0:
            return f"kpis.{key} is {value!r}, not a number >= 0"
    # every other KPI too is a number (or none), and the objective's parts: the views
    # format them (text for paused_orders_per_hour failed publish with a ValueError)
    from .ranges import finite_number

    for key, value in kpis.items():
        if key == "objective_breakdown":
            if not isinstance(value, dict) or not all(finite_number(v) for v in value.values()):
                return "kpis.objective_breakdown is not an object of numbers"
        elif not finite_number(value, none=True):
            return f"kpis.{key} is {value!r}, not a number"
    rows = plan.slots if plan.slot_count > 1 else plan.zones  # coverage is over every slot
    required = rows["required_couriers"].to_numpy(np.int64)
    need = int(required.sum())

    def coverage(couriers: str) -> float:
        held = np.minimum(required, rows[couriers].to_numpy(np.int64)).sum()
        return 1.0 if need == 0 else float(held) / need

    moves = plan.moves
    found = {
        "moved_couriers": (
            int(moves["courier_id"].nunique()),
            0.0,
            f"{tables.format('moves')} couriers",
        ),
        "travel_minutes": (
            float(moves["travel_minutes"].sum()),
            # each move's minutes are written to the thousandth, their sum rounded once
            0.0005 * (len(moves) + 1),
            f"{tables.format('moves')} travel_minutes",
        ),
        "shortage": (
            int(plan.zones["shortage"].sum()),
            0.0,
            f"{tables.format('zones')} shortage",
        ),
        "coverage_before": (coverage("couriers_before"), 1e-6, "the tables' couriers_before"),
        "coverage": (coverage("couriers_after"), 1e-6, "the tables' couriers_after"),
    }
    for key, (value, tolerance, source) in found.items():
        if abs(float(kpis[key]) - value) > tolerance:
            return (
                f"kpis.{key} is {kpis[key]!r} but counted from {source} it is {value:.6g}: "
                "the plan was edited"
            )
    return ""


@dataclass(frozen=True)
class _AtOdds:
    """A row of a plan table at odds with the plan's other figures (`_zone_count_problems`)."""

    #: zones.csv or slots.csv
    file: str
    #: its 0-based position in that table; None where no one row is meant
    row: int | None
    column: str
    message: str
    #: the rows it stands for: 1, or those a "... and N more" line sums up
    count: int = 1


#: Rows `_zone_count_problems` names of a rule broken, before "... and N more".
_ROWS_NAMED = 5


def _zone_count_problems(plan: Plan) -> list[_AtOdds]:
    """The rows of a feasible plan's zones.csv (and slots.csv) whose courier counts
    disagree, [] if none: each zone's couriers_after is couriers_before + moved_in -
    moved_out; its moved_in and moved_out are the moves of moves.csv into and out of it
    at the shift start (slot 0, what to do now: moves of later slots are in slots.csv
    only); with several slots, its slot-0 row of slots.csv has zones.csv's four counts.
    `optimize` writes them so (zones.csv is slot 0 of the slot table). An edit that
    keeps every KPI (`_kpis_problem`) breaks one: a couriers_after changed, or a move's
    to_zone. The first rule broken, its first `_ROWS_NAMED` rows and how many more.

    Counted per zone at once (a value count per column), not per row: 0.013 s at 10,000
    zones and 484,000 moves in one slot, 0.011 s at 10,000 zones in 8 slots (119,000
    moves, 80,000 slot rows). With several slots `read_plan` has checked slots.csv
    holds each (zone, slot) once."""
    zones = plan.zones
    label = zones["zone_id"].to_numpy(dtype=object)
    count = {
        c: zones[c].to_numpy(np.int64)
        for c in ("couriers_before", "couriers_after", "moved_in", "moved_out")
    }
    several = plan.slot_count > 1
    start = f" at the shift start, {plan.slot_labels()[0]}" if several else ""

    def named(file: str, column: str, rows: np.ndarray, said: list[str]) -> list[_AtOdds]:
        """``rows`` (0-based in ``file``) at odds in ``column``; ``said``: what is wrong
        with each of the first `_ROWS_NAMED`."""
        found = [_AtOdds(file, int(r), column, m) for r, m in zip(rows, said, strict=False)]
        more = len(rows) - len(found)
        if more:
            found.append(
                _AtOdds(
                    file,
                    None,
                    column,
                    f"... and {more:,} more zones with the same problem",
                    count=more,
                )
            )
        return found

    before, after = count["couriers_before"], count["couriers_after"]
    moved_in, moved_out = count["moved_in"], count["moved_out"]
    want = before + moved_in - moved_out
    bad = np.flatnonzero(after != want)
    if bad.size:
        return named(
            "zones.csv",
            "couriers_after",
            bad,
            [
                f"couriers_after of zone {label[z]!r} is {after[z]} but counted from "
                f"couriers_before + moved_in - moved_out ({before[z]} + {moved_in[z]} - "
                f"{moved_out[z]}) it is {want[z]}: the plan was edited"
                for z in bad[:_ROWS_NAMED]
            ],
        )
    now = plan.moves_at(0)

    def moves_of(column: str, side: str, way: str) -> list[_AtOdds]:
        """zones.csv's ``column`` against the moves at the start with the zone as ``side``."""
        # moves per zone id, looked up by each row's id (a zone id written twice is
        # counted alike for both rows)
        counted = zones["zone_id"].map(now[side].value_counts()).fillna(0).to_numpy(np.int64)
        bad = np.flatnonzero(count[column] != counted)
        return named(
            "zones.csv",
            column,
            bad,
            [
                f"{column} of zone {label[z]!r} is {count[column][z]} but counted from "
                f"moves.csv it is {counted[z]} (its moves {way} the zone{start}): the plan "
                "was edited"
                for z in bad[:_ROWS_NAMED]
            ],
        )

    found = moves_of("moved_in", "to_zone", "into") or moves_of("moved_out", "from_zone", "out of")
    if found or not several:
        return found
    slots = plan.slots
    first = np.flatnonzero(
        (pd.to_datetime(slots["slot_start"], utc=True) == plan.shift_start).to_numpy()
    )
    # each zone's row at the start in slots.csv, -1 for none
    where = pd.Index(slots["zone_id"].iloc[first]).get_indexer(zones["zone_id"])
    missing = np.flatnonzero(where < 0)
    if missing.size:
        return [
            _AtOdds(
                "slots.csv",
                None,
                "slot_start",
                f"holds no row of zone {label[missing[0]]!r}{start}"
                + (f" (nor of {missing.size - 1:,} more zones)" if missing.size > 1 else "")
                + ": the plan was edited",
                count=missing.size,
            )
        ]
    row = first[where]  # slots.csv's row of each zone of zones.csv at the start

    def slot_rows(column: str) -> list[_AtOdds]:
        """slots.csv's ``column`` at the start against zones.csv's, in slots.csv's order."""
        theirs, ours = slots[column].to_numpy(np.int64)[row], count[column]
        bad = np.flatnonzero(theirs != ours)
        bad = bad[np.argsort(row[bad], kind="stable")]
        return named(
            "slots.csv",
            column,
            row[bad],
            [
                f"{column} of zone {label[z]!r}{start}, is {theirs[z]} but zones.csv has "
                f"{ours[z]}: the plan was edited"
                for z in bad[:_ROWS_NAMED]
            ],
        )

    for column in count:
        found = slot_rows(column)
        if found:
            return found
    return []


def _arrived(rows: Any) -> list[str]:
    """plan.json's ``arrived``, checked: a list of courier ids (texts)."""
    if not isinstance(rows, list) or not all(isinstance(r, str) for r in rows):
        raise ValueError("arrived must be a list of courier ids (texts)")
    return rows


def _under_way(rows: Any, times: Callable[[pd.Series], pd.Series], tz: str) -> list[dict[str, str]]:
    """plan.json's ``under_way`` rows, checked: a list of objects with text values; each
    ``started`` read as moves.csv's times are (``times``: no offset is city time) and
    written back with its offset."""
    keys = ("courier_id", "to_zone", "started")
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and all(isinstance(r.get(k), str) for k in keys) for r in rows
    ):
        raise ValueError("under_way must be a list of {courier_id, to_zone, started} texts")
    started = times(pd.Series([r["started"] for r in rows], dtype=object)).dt.tz_convert(tz)
    return [
        {"courier_id": r["courier_id"], "to_zone": r["to_zone"], "started": t.isoformat()}
        for r, t in zip(rows, started, strict=True)
    ]


#: zones.csv and slots.csv columns that are whole numbers >= 0 (couriers, restaurants):
#: those from open_restaurants to surplus, but demand (orders per hour, below).
_ZONE_COUNTS = tuple(
    c
    for c in ZONES_COLUMNS[ZONES_COLUMNS.index("open_restaurants") : ZONES_COLUMNS.index("action")]
    if c != "demand_orders_per_hour"
)
_SLOT_COUNTS = tuple(
    SLOTS_COLUMNS[
        SLOTS_COLUMNS.index("required_couriers") : SLOTS_COLUMNS.index("marginal_minutes")
    ]
)
#: zones.csv columns that are amounts >= 0 (orders per hour); paused_orders_per_hour is an
#: extension an older plan lacks (then it takes its default, below).
_ZONE_AMOUNTS = ("demand_orders_per_hour", "paused_orders_per_hour")


def _numbers(values: pd.Series, *, whole: bool) -> pd.Series:
    """``values`` as floats, each finite and >= 0 (``whole``: as int64, each a whole number
    below 2**53, exact in a float and no int64 overflow: 1e30 became negative); ValueError
    names the first that is not."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    x = numbers.to_numpy()
    bad = ~np.isfinite(x) | (x < 0)
    if whole:
        bad |= (x != np.floor(x)) | (x >= 2**53)
    if bad.any():
        what = "a whole number" if whole else "a number"
        raise ValueError(f"{_cell(values[bad].iloc[0])} is not {what} >= 0")
    return numbers.astype("int64") if whole else numbers


def _amounts(values: pd.Series) -> pd.Series:
    return _numbers(values, whole=False)


def _counts(values: pd.Series) -> pd.Series:
    return _numbers(values, whole=True)


def _line_of(path: Path, row: int) -> int | None:
    """The line of ``path`` where data row ``row`` (0-based) starts: a quoted cell may
    hold newlines (a zone name), so rows and lines differ after one. None if unreadable."""
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            start = 1
            for i, _ in enumerate(reader):  # row 0 is the header
                if i == row + 1:
                    return start
                start = reader.line_num + 1
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _cell(value: Any) -> str:
    """A cell as the file has it, quoted: a number pandas parsed (`np.float64(1e+30)`)
    as its text, not as numpy's repr."""
    return repr(value if isinstance(value, str) else str(value))


def _read_table(path: Path, dtype: dict[str, Any], valid: str) -> pd.DataFrame:
    """One plan CSV; a truncated or garbled file is a `DataError` naming it."""
    from .errors import DataError, Issue

    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell():  # `Plan.write` ends every file with a newline: no newline, cut short
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    raise ValueError("the file is truncated: its last line is incomplete")
        return pd.read_csv(path, dtype=dtype, keep_default_na=False)
    except (ValueError, OSError) as exc:  # pandas' EmptyDataError and ParserError included
        raise DataError(
            Issue(
                f"cannot read it as a plan table ({_first_line(exc)})", file=str(path), valid=valid
            ),
            title="unreadable plan",
        ) from None


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(str(value))
    except (LookupError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown timezone {value!r}") from exc
    return str(value)


def _utc(value: Any, key: str) -> pd.Timestamp:
    """plan.json's ``key``, an ISO 8601 timestamp with its offset, as UTC (ValueError
    naming the key otherwise)."""
    valid = "ISO 8601 text with its UTC offset, e.g. 2026-11-30T19:00:00+01:00"
    if not isinstance(value, str):
        raise ValueError(f"{key} is {value!r:.60}, not {valid}")
    try:
        ts = pd.Timestamp(value)
    except ValueError:
        raise ValueError(f"{key} is {value!r:.60}, not {valid}") from None
    if ts.tzinfo is None:
        raise ValueError(f"{key} {value!r:.60} has no UTC offset: give {valid}")
    return ts.tz_convert("UTC")


def _table(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{key} is a JSON {_json_kind(value)}, not an object")
    return value


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _follow_link(target: Path) -> Path:
    """The folder a plan goes to: a symbolic link is followed (never replaced by a folder)."""
    from .paths import link_target

    if not target.is_symlink():
        return target
    with storage_errors(_WRITING, target):
        real = link_target(target)
    if real.exists() and not real.is_dir():
        raise FileExistsError(f"{target} is a link to {real}, which is not a folder")
    return real


#: What `Plan.write` was doing, in a `StorageError`.
_WRITING = "write the plan folder"


def _route_vehicles(vehicle: pd.Series, route: np.ndarray) -> list[str]:
    """Each route's vehicles, distinct, sorted and joined by ", " (route ``r`` is the
    moves with ``route == r``, numbered from 0): from the distinct (route, vehicle)
    pairs of the vehicles' codes, in one pass (a function call per route took 0.37 s at
    1M couriers, a Python string per move 30 MB)."""
    codes, uniques = pd.factorize(vehicle, use_na_sentinel=False)
    names = [str(u) for u in uniques]
    kinds = sorted(set(names))
    kind = np.array([kinds.index(n) for n in names], dtype=np.int64)[codes]
    n_routes = int(route.max()) + 1 if route.size else 0
    # sorted by route, then by kind (kinds are in name order)
    pairs = np.unique(route.astype(np.int64) * len(kinds) + kind)
    on_route: list[list[str]] = [[] for _ in range(n_routes)]
    for r, k in zip(*np.divmod(pairs, len(kinds)), strict=True):
        on_route[r].append(kinds[k])
    return [", ".join(words) for words in on_route]


def _since_counts(moves: pd.DataFrame) -> pd.Series:
    """Per (from_zone, to_zone): how many moves are new, changed, unchanged, in words."""
    counts = moves.groupby(["from_zone", "to_zone", SINCE_PREVIOUS], sort=False).size()

    def words(group: pd.Series) -> str:
        by = dict(zip(group.index.get_level_values(SINCE_PREVIOUS), group, strict=True))
        if len(by) == 1:
            return next(iter(by))
        return ", ".join(f"{by[k]} {k}" for k in ("new", "changed", "unchanged") if k in by)

    return counts.groupby(level=["from_zone", "to_zone"], sort=False).agg(words)


def _iso(values: pd.Series, timezone: str) -> pd.Series:
    """Timestamps as ISO 8601 text with the city's offset (e.g. 2026-11-30T19:30:00+01:00)."""
    local = pd.to_datetime(values, utc=True).dt.tz_convert(timezone)
    if local.empty:
        return local.map(lambda ts: ts.isoformat())
    # a shift has a few distinct slot starts: format each once
    codes, uniques = pd.factorize(local)
    texts = np.array([ts.isoformat() for ts in uniques] + [pd.NaT.isoformat()], dtype=object)
    return pd.Series(texts[codes], index=values.index, name=values.name)


class Records:
    """A DataFrame's rows for `dumps_indented`: written as the list of its records
    (``frame.to_dict(orient="records")``, missing values as null) would be, character
    for character, but column by column, without a dict per row.

    ``frame`` is used as it is: select and convert its columns first.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return len(self.frame)

    def to_list(self) -> list[dict[str, Any]]:
        """The rows as dicts of Python values, missing values as None."""
        frame = self.frame.astype(object).where(self.frame.notna(), None)
        return list(frame.to_dict(orient="records"))


def dumps_indented(value: Any) -> str:
    """``json.dumps(_jsonable(value), indent=2, ensure_ascii=False)``, character for
    character, in a fraction of the time (`Records` as the list of their rows).

    With ``indent`` the standard library encodes in pure Python, one generator step per
    value (4 s for a 10,000-zone plan with its rows); here the values of a list are
    written together (`_texts`): each string by the C escaper and each number by its
    ``repr``, as json does, and a list of dicts with the same keys column by column.
    """
    return "".join(dumps_indented_parts(value))


def dumps_indented_parts(value: Any) -> Iterator[str]:
    """`dumps_indented` as the pieces it joins, made one at a time for a writer to take
    each in turn: a 10,000-zone plan with its rows is 52 MB of text. The joined string
    (plus its UTF-8 bytes, made whole by a text file's ``write``) set the command's peak
    RSS; then the rows of `Records` made whole did (each column's text, the rows joined,
    then decoded: ~100 MB more at the end of ``rebalance plan --format json`` at 5,000
    zones / 1M couriers). Rows now come `RECORD_ROWS` at a time."""
    from .escape import json_text

    # names and ids are partners' text: no raw bidi override or C1 control on stdout
    return map(json_text, _dump_parts(value, "\n"))


#: Rows of a `Records` written as one piece by `dumps_indented_parts`: a few MB of text.
RECORD_ROWS = 1 << 14


_escape = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _dump(value: Any, newline: str, out: list[str]) -> None:
    """Append the indented JSON of ``value``; ``newline`` is the current line break and
    indent."""
    out.extend(_dump_parts(value, newline))


def _dump_parts(value: Any, newline: str) -> Iterator[str]:
    """The indented JSON of ``value`` in pieces, each made when asked for; ``newline``
    is the current line break and indent."""
    text = _scalar_text(value)
    if text is not None:
        yield text
    elif isinstance(value, dict):
        if not value:
            yield "{}"
            return
        inner = newline + "  "
        sep = "{" + inner
        for k, v in value.items():
            yield sep
            yield _escape(str(k))
            yield ": "
            yield from _dump_parts(v, inner)
            sep = "," + inner
        yield newline + "}"
    elif isinstance(value, list | tuple | Records):
        if not len(value):
            yield "[]"
            return
        inner = newline + "  "
        yield "[" + inner
        if isinstance(value, Records):
            frame = value.frame
            for lo in range(0, len(frame), RECORD_ROWS):
                if lo:
                    yield "," + inner
                yield _frame_text(frame.iloc[lo : lo + RECORD_ROWS], inner)
        else:
            yield ("," + inner).join(_texts(value, inner))
        yield newline + "]"
    else:
        yield json.dumps(value, ensure_ascii=False)


def _scalar_text(value: Any) -> str | None:
    """The JSON text of a scalar as json writes it (NaN and infinities as null, numpy
    scalars as their Python value), or None when ``value`` is not a scalar."""
    if isinstance(value, str):
        return str(_escape(value))
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else "null"
    if hasattr(value, "item") and not isinstance(value, dict | list | tuple | Records):
        item = value.item()
        return None if item is value else _scalar_text(item)
    return None


def _texts(values: Any, newline: str) -> list[str]:
    """The JSON text of each of ``values`` (a sequence), each at the indent ``newline``.

    Strings, ints and finite floats of one type are mapped at once; dicts with the same
    keys (None among them allowed) are written column by column (`_rows_text`); anything
    else value by value.
    """
    kinds = set(map(type, values))
    if kinds == {str}:
        return list(map(_escape, values))
    if kinds == {int}:
        return list(map(int.__repr__, values))
    if kinds == {float} and all(map(math.isfinite, values)):
        return list(map(float.__repr__, values))
    if dict in kinds and kinds <= {dict, type(None)}:
        rows = [v for v in values if v]
        keys = tuple(rows[0]) if rows else ()
        if rows and all(tuple(r) == keys for r in rows):
            inner = newline + "  "
            columns = [_texts([r[k] for r in rows], inner) for k in keys]
            texts = iter(_rows_text(keys, columns, newline))
            return ["{}" if v == {} else "null" if v is None else next(texts) for v in values]
    out = []
    for v in values:
        text = _scalar_text(v)
        if text is None:
            parts: list[str] = []
            _dump(v, newline, parts)
            text = "".join(parts)
        out.append(text)
    return out


def _rows_text(keys: tuple[Any, ...], columns: list[list[str]], newline: str) -> list[str]:
    """JSON objects with ``keys``, at the indent ``newline``, from their values' texts
    (one list per key): one format per row."""
    field = newline + "  "
    template = (
        "{"
        + ",".join(field + _escape(str(k)).replace("%", "%%") + ": %s" for k in keys)
        + newline
        + "}"
    )
    return [template % values for values in zip(*columns, strict=True)]


def _frame_texts(frame: pd.DataFrame, newline: str) -> list[str]:
    """The JSON text of each row of ``frame`` as a record (see `Records`)."""
    if frame.columns.empty:
        return ["{}"] * len(frame)
    inner = newline + "  "
    columns = [_series_texts(frame.iloc[:, j], inner) for j in range(frame.shape[1])]
    return _rows_text(tuple(frame.columns), columns, newline)


def _frame_text(frame: pd.DataFrame, newline: str) -> str:
    """`_frame_texts` joined by ``"," + newline``, put together by Arrow kernels.

    The rows of a 10,000-zone plan (146,270 moves, 22 MB of pause lists) took 0.3 s as
    one Python string per value and a format per row; here each column is one text
    array (`_column_text`) and the rows are joined column-wise.
    """
    if frame.columns.empty or len(frame) == 0:
        return ("," + newline).join(_frame_texts(frame, newline))
    import pyarrow.compute as pc

    field = newline + "  "  # the fields' indent, and their values' (as `_frame_texts`)
    pieces: list[Any] = []
    for j, key in enumerate(frame.columns):
        pieces.append(large_text(("{" if j == 0 else ",") + field + _escape(str(key)) + ": "))
        pieces.append(_column_text(frame.iloc[:, j], field))
    separator = "," + newline
    pieces.append(large_text(newline + "}" + separator))
    rows = pc.binary_join_element_wise(*pieces, large_text(""))
    del pieces  # each column's text: as large as the rows together
    data = value_bytes(rows)[0][: -len(separator.encode())]  # no separator after the last
    return str(data.data, "utf-8")  # decoded from the Arrow buffer: no bytes copy


def _column_text(column: pd.Series, newline: str) -> Any:
    """`_series_texts` of ``column`` as a pyarrow large_string array. A text column
    without a quote, backslash or control character (ids, names, pause lists) is quoted
    as it is, with no per-value work; the others go value by value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column.dtype, pd.StringDtype):
        try:
            values = arrow_text(column.array)
        except (pa.ArrowException, UnicodeError):  # a lone surrogate: json writes "\ud800"
            return pa.array(_series_texts(column, newline), pa.large_string())
        data = value_bytes(values)[0]
        if not ((data < 0x20) | (data == ord('"')) | (data == ord("\\"))).any():
            quote = large_text('"')
            quoted = pc.binary_join_element_wise(quote, values, quote, large_text(""))
            return pc.fill_null(quoted, large_text("null"))
    elif column.dtype.kind in "iu" and isinstance(column.dtype, np.dtype):
        return pa.array(column.to_numpy()).cast(pa.large_string())
    return pa.array(_series_texts(column, newline), pa.large_string())


def _series_texts(column: pd.Series, newline: str) -> list[str]:
    """The JSON text of each value of a column as ``Records.to_list`` holds it."""
    dtype = column.dtype
    if dtype.kind in "iu" and isinstance(dtype, np.dtype):
        return list(map(int.__repr__, column.to_numpy().tolist()))
    if dtype.kind == "f" and isinstance(dtype, np.dtype):
        array = column.to_numpy()
        finite = np.isfinite(array)
        texts = list(map(float.__repr__, array.tolist()))
        if not finite.all():
            for i in np.flatnonzero(~finite).tolist():
                texts[i] = "null"
        return texts
    missing = column.isna()
    if not missing.any():
        if isinstance(dtype, pd.StringDtype):
            return list(map(_escape, column.tolist()))
        return _texts(column.tolist(), newline)  # no copy to mask nothing
    values = column.astype(object).where(~missing, None).tolist()
    return _texts(values, newline)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Records):
        value = value.to_list()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
