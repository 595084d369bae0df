"""The exception hierarchy of rebalance.

Every error a user can cause carries the context needed to fix it, and maps to one
exit code of the contract (CONTRACT section 6)::

    RebalanceError                 exit 1   (a bug, or something unforeseen)
     ├── UsageError                exit 2   a bad value for a command-line option
     │    ├── TimestampError                not an ISO 8601 timestamp (also a ValueError)
     │    └── OutputExistsError             the output folder holds other files
     │                                      (also a FileExistsError)
     ├── InputError                exit 3   bad data or configuration
     │    ├── DataError                     one or more problems in input files
     │    └── ConfigError                   one or more problems in the TOML config
     ├── InfeasibleError           exit 4   no plan satisfies the constraints
     ├── PublishError              exit 5   Slack refused or could not be reached
     ├── LockHeldError             exit 6   another run holds the (city, shift) lock
     │                                      (or the history store, past a bounded wait)
     └── StorageError              exit 3   a path given cannot be used (read-only, not a
                                   or 1     folder, corrupt store); exit 1 when the machine
                                            failed (disk full, I/O error)

`Issue` is one located problem (file, line, column or config key, value, what is
valid); `InputError` carries a list of them so all problems of a file are reported
together.

`UsageError` names the option (``--shift-start``) when there is one; the command line
shows it as a usage error. Its subclasses are also the built-in error a library caller
would expect (ValueError, FileExistsError), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "PLAN_SAVED",
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "InputError",
    "Issue",
    "LockHeldError",
    "OutputExistsError",
    "PlanWarning",
    "PublishError",
    "RebalanceError",
    "StorageError",
    "Terminated",
    "TimestampError",
    "UsageError",
    "as_path",
    "raise_terminated",
    "storage_errors",
    "warn_notes",
    "wrong_argument",
]

#: How many problems are listed in a message before "... and N more".
MAX_LISTED = 20


@dataclass(frozen=True)
class Issue:
    """One located problem in an input file or in the configuration.

    ``line`` is the line as a spreadsheet shows it: the header is line 1, so the
    first data row is line 2 (CSV). ``row`` is the 1-based row of a Parquet file. ``key`` is a dotted config key (``vehicles.bike.speed_kmh``).
    """

    message: str
    file: str | None = None
    line: int | None = None
    row: int | None = None
    column: str | None = None
    value: object = None
    valid: str | None = None
    key: str | None = None
    #: Problems this issue stands for: 1, or the rows a "... and N more" line sums up
    #: (so that the title counts problems, not lines: "11 problems" were 2,100).
    count: int = 1

    def __str__(self) -> str:
        from .escape import visible

        where = []
        if self.file:  # a folder name may hold a newline: it would split the message
            where.append(visible(self.file, one_line=True))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        if self.key:
            where.append(f"key {self.key!r}")
        text = ", ".join(where)
        text = f"{text}: {self.message}" if text else self.message
        if self.value is not None:
            text += f" (got {_show(self.value)})"
        if self.valid:
            text += f"; expected {self.valid}"
        return text


def _show(value: object) -> str:
    from .escape import whole_end

    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[: whole_end(text, 57)] + "..."


class RebalanceError(Exception):
    """Base of every error rebalance raises on purpose."""

    exit_code = 1


class PlanWarning(UserWarning):
    """What `rebalance.solve` says before a plan is trusted, as the command line says it
    on stderr: nobody eligible for the shift (a wrong date or timezone), most couriers
    ruled out by their windows, a shift start the clocks skip or repeat. `forecast`,
    `run_forecast` and `replay` say their notes so too (orders left out, a short
    history, moves ignored); each takes ``warn=False`` where the caller shows them."""


def warn_notes(notes: Iterable[str | None], stacklevel: int) -> None:
    """Each note that is not empty as a `PlanWarning`, at the line of the caller's
    caller (``stacklevel`` as `warnings.warn`'s, counted from the caller of this
    function): what the command line says on stderr, said to a notebook. `solve`,
    `forecast` (a bare table: 2,000 of 56,376 orders of a DataFrame left out were said
    nowhere else) and `replay` say theirs so."""
    import warnings

    for note in notes:
        if note:
            warnings.warn(note, PlanWarning, stacklevel=stacklevel + 1)


class UsageError(RebalanceError):
    """A bad value for a command-line option or argument (exit 2).

    ``option`` is the option as typed on the command line (``--out``), when known.
    """

    exit_code = 2

    def __init__(self, message: str, *, option: str | None = None):
        self.option = option
        super().__init__(message)


class TimestampError(UsageError, ValueError):
    """Text that is not an ISO 8601 timestamp (``--shift-start``, ``shift_start=``)."""


class OutputExistsError(UsageError, FileExistsError):
    """The output folder exists and holds files that are not a plan (or, when told not
    to overwrite, a plan already)."""


class InputError(RebalanceError):
    """Invalid input data or configuration (exit 3)."""

    exit_code = 3

    def __init__(self, problems: list[Issue] | Issue | str, *, title: str | None = None):
        if isinstance(problems, str):
            problems = [Issue(problems)]
        elif isinstance(problems, Issue):
            problems = [problems]
        self.problems: list[Issue] = list(problems)
        self.title = title or "invalid input"
        super().__init__(self.render())

    def render(self, limit: int = MAX_LISTED) -> str:
        """The message: a title line then one line per problem, capped at ``limit``."""
        count = len(self.problems)
        total = sum(p.count for p in self.problems)
        head = self.title if total <= 1 else f"{self.title}: {total:,} problems"
        lines = [head] if count > 1 or not self.problems else []
        for problem in self.problems[:limit]:
            lines.append(("  - " if count > 1 else "") + str(problem))
        if count > limit:
            lines.append(f"  ... and {count - limit} more")
        if count == 1:
            return f"{self.title}: {lines[0]}"
        return "\n".join(lines)


class DataError(InputError):
    """Problems in the input tables."""


class ConfigError(InputError):
    """Problems in the TOML configuration."""


class InfeasibleError(RebalanceError):
    """No assignment satisfies the constraints; the message says why (exit 4)."""

    exit_code = 4

    def __init__(self, message: str, *, zones: tuple[str, ...] = (), plan: Any = None):
        self.zones = zones
        #: The infeasible `Plan` (its kpis say what was needed), when there is one.
        self.plan = plan
        super().__init__(message)


#: How a `PublishError`'s hint starts once a plan is saved (a caller adding its own
#: retry advice does not say it twice).
PLAN_SAVED = "The plan is saved."


class PublishError(RebalanceError):
    """Publishing to Slack failed; the plan is saved (exit 5).

    ``hint`` says how to fix it and retry (starting with `PLAN_SAVED` where the plan is
    saved by then); ``slack_error`` is Slack's error code.
    """

    exit_code = 5

    def __init__(self, message: str, *, hint: str = "", slack_error: str | None = None):
        self.hint = hint
        self.slack_error = slack_error
        super().__init__(f"{message}\n{hint}" if hint else message)


@dataclass
class LockHolder:
    """Who holds a run lock."""

    pid: int
    started_at: str
    host: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class LockHeldError(RebalanceError):
    """Another run for the same city and shift holds the lock (exit 6)."""

    exit_code = 6

    def __init__(self, message: str, *, holder: LockHolder | None = None):
        self.holder = holder
        super().__init__(message)


#: errno values that mean "this path cannot be used as given": the user can fix the
#: path, its permissions or the configuration (exit 3). Other OS errors (a full disk,
#: an I/O error) are the machine's (exit 1).
_PATH_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENOENT,
        errno.ENAMETOOLONG,
        errno.ELOOP,
    }
)


class StorageError(RebalanceError):
    """A file, folder or database could not be written or read.

    The message says what could not be written, where, why, and how to recover;
    whatever was being written is not left half-written. ``exit_code`` is 3 when the
    path is the problem (read-only, permissions, a file where a folder belongs, a
    corrupt store) and 1 when the machine is (disk full, I/O error).
    """

    def __init__(self, what: str, where: str | Path, why: str, *, hint: str = "", code: int = 3):
        self.what = what
        self.where = str(where)
        self.why = why
        self.hint = hint
        self.exit_code = code
        text = f"cannot {what} at {self.where}: {why}"
        super().__init__(f"{text}\n{hint}" if hint else text)

    @classmethod
    def from_os_error(cls, exc: OSError, what: str, where: str | Path) -> StorageError:
        """The error for an OSError while doing ``what`` at ``where``."""
        why = exc.strerror or str(exc) or type(exc).__name__
        place = Path(exc.filename) if exc.filename else Path(where)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            hint = (
                f"Free space on the disk holding {place.parent} (df -h {place.parent}), then retry."
            )
        elif exc.errno == errno.EROFS:
            hint = f"{place.parent} is on a read-only filesystem: choose a writable location."
        elif exc.errno in (errno.EACCES, errno.EPERM):
            hint = f"Give this user write access to {place.parent}, or choose another location."
        elif exc.errno == errno.ENAMETOOLONG:
            hint = _too_long_hint(place, Path(where))
        elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
            blocker = _in_the_way(place)
            what_is = "A symbolic link" if blocker.is_symlink() else "A file"
            hint = f"{what_is} is in the way of a folder on that path ({blocker}): move it aside."
        elif exc.errno == errno.ELOOP:
            hint = f"A symbolic link on that path leads back to itself ({place}): point it at a real place."
        else:
            hint = "Check the disk and retry."
        code = 3 if exc.errno in _PATH_ERRNOS else 1
        return cls(what, where, why, hint=hint, code=code)


def _too_long_hint(place: Path, where: Path) -> str:
    """What to do about a name the filesystem refuses as too long. The one refused may
    be the temporary name a write makes beside ``where`` first (``.NAME.tmp-...``,
    ``.NAME.rebalance-tmp-...``): then the name that fits is shorter than 255 bytes, by how much is said;
    a legal 250-byte ``--out`` was refused with "longer than the filesystem allows"."""
    refused = os.fsencode(place.name)
    if where.name and place.name != where.name and os.fsencode(where.name) in refused:
        room = 255 - (len(refused) - len(os.fsencode(where.name)))
        return (
            f"The plan is first written beside it under a longer temporary name "
            f"({len(refused)} bytes; the filesystem allows 255): choose a name of at "
            f"most {max(room, 1)} bytes."
        )
    return "A name on that path is longer than the filesystem allows (255 bytes): choose a shorter one."


def _in_the_way(place: Path) -> Path:
    """The file that stands where a folder of ``place`` belongs: its nearest existing
    ancestor (or itself) when that is not a folder, else ``place``."""
    for candidate in (place, *place.parents):
        try:
            if candidate.exists() or candidate.is_symlink():
                return candidate if not candidate.is_dir() else place
        except OSError:
            return place
    return place


@contextmanager
def storage_errors(what: str, where: str | Path) -> Iterator[None]:
    """An OSError from the system while doing ``what`` at ``where`` (permissions, a
    read-only disk, a file in the way, a full disk) as the `StorageError` that says
    what to do, instead of a traceback and exit 1."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        raise StorageError.from_os_error(exc, what, where) from exc


class Terminated(BaseException):
    """The command was stopped by SIGTERM (systemd stop or timeout, `kill`): exit 143.

    A BaseException, like KeyboardInterrupt: the writers' clean-up (``except
    BaseException``) runs, so no half-written file or folder is left behind."""

    exit_code = 143
    #: What the stop left, when not "nothing half-written" (a Slack message may be).
    after: str | None = None


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler: raise `Terminated` where the program is."""
    raise Terminated("stopped by SIGTERM")


def as_path(value: object, call: str, wanted: str, *, hint: str = "") -> Path:
    """``value`` as a `pathlib.Path` when it is a str or a path; else the TypeError of
    `wrong_argument`, with ``hint`` (a notebook re-running ``load(inputs)`` on what it
    had loaded met pathlib's bare "expected str, bytes or os.PathLike object, not
    Inputs")."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    error = wrong_argument(call, wanted, value)
    raise TypeError(f"{error}; {hint}") if hint else error


def wrong_argument(call: str, wanted: str, value: object, *, path_hint: str = "") -> TypeError:
    """The TypeError for an argument of the library API that is not what ``call`` takes:
    ``"{call}: {wanted}, got {type}"``, plus ``path_hint`` when a path was given in its
    place (a notebook passing a folder where the loaded object goes)."""
    from pathlib import Path

    hint = f"; {path_hint}" if path_hint and isinstance(value, str | Path) else ""
    return TypeError(f"{call}: {wanted}, got {type(value).__name__}{hint}")
