"""The filesystem layout of rebalance, and the city slug: nothing else builds these paths.

Next to the history store (``[history] path``, default in the platform's user data
folder) live the run locks and the plans of `rebalance run`::

    <history folder>/
        history.sqlite3                                   the store ([history] path)
        locks/<slug>-<hash>-<shift UTC>[.dry-run].lock    one per (city, shift)
        runs/<slug>/<shift YYYYmmddTHHMM, city time>/<run id>/   a run's plan folder

The slug is also the city part of a plan key (``paris@2026-11-30T18:00Z``) and of
the file names posted to Slack; `slug` is its one rule.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "arrow_file",
    "batch_out",
    "city_run_dirs",
    "default_history_path",
    "link_target",
    "lock_path",
    "locks_dir",
    "remove_stale_siblings",
    "run_dir",
    "run_dirs",
    "slug",
    "stale_entries",
    "temporary_prefix",
]

#: A slug is cut to this many characters (file names stay short; the lock file adds a
#: hash of the exact name, and plan keys of real cities never come near it).
SLUG_CHARS = 60


def slug(name: str) -> str:
    """The city's name for paths and keys: case-folded, every run of characters other
    than letters and digits (any script) turned into one ``-``, trimmed. ``"Paris"`` ->
    ``paris``, ``"São Paulo"`` -> ``são-paulo``, ``"St. Louis"`` -> ``st-louis``.

    The slug is the city part of a plan key, which says which channel message a plan
    revises: two cities must not share one. So where the name's slug would lose more
    than case and punctuation, it ends in 8 hex digits of a hash: a name with no letter
    or digit left (``"🚲"`` -> ``city-…``; all such names were ``city``, and one city's
    plan overwrote another's message) and a slug longer than `SLUG_CHARS` (cut to it
    with a hash of the whole slug; names alike in their first 60 characters shared one)."""
    return slug_of(slug_words(name), name)


def slug_of(text: str, name: str) -> str:
    """`slug` of ``name`` from its words ``text`` (`slug_words`, or an earlier rule's)."""
    if text and len(text) <= SLUG_CHARS:
        return text
    whole = text or name.strip().casefold()
    digest = hashlib.sha256(whole.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{text[: SLUG_CHARS - 9].rstrip('-') or 'city'}-{digest}"


def slug_words(name: str) -> str:
    """The words of a slug, whole and without a hash: ``name`` case-folded, every run of
    characters other than letters, digits and the marks written on them one ``-``,
    trimmed (empty when nothing is left). `slug` is these, or these cut with a hash.

    Marks belong to their letter: Devanagari and Thai write vowels as marks, and
    ``"दिल्ली"`` (Delhi) was ``द-ल-ल``, ``"मुंबई"`` (Mumbai) ``म-बई``. Turkish ``İ``
    case-folds to ``i`` and a combining dot, taken as ``i`` (``"İstanbul"`` ->
    ``istanbul``, not ``i-stanbul``)."""
    import unicodedata

    text = unicodedata.normalize("NFC", name.casefold().replace("i\u0307", "i"))
    out: list[str] = []
    word = False  # whether the last character kept was part of a word
    for ch in text:
        word = ch.isalnum() or (word and unicodedata.category(ch).startswith("M"))
        out.append(ch if word else "-")
    return re.sub("-+", "-", "".join(out)).strip("-")


def slug_words_before_marks(name: str) -> str:
    """`slug_words` by the rule before marks were kept with their letter (2026-12-07):
    a mark was a separator. Plan keys made by it are earlier keys of the city."""
    return re.sub(r"[\W_]+", "-", name.casefold()).strip("-")


def slug_before_marks(name: str) -> str:
    """`slug` by the rule of before 2026-12-07 (`slug_words_before_marks`): what lock
    files are still named by, and where that release put a city's runs and keys."""
    return slug_of(slug_words_before_marks(name), name)


def default_history_path() -> Path:
    """The history store when ``[history] path`` is blank: the platform's user data dir."""
    from platformdirs import user_data_path

    return user_data_path("rebalance", appauthor=False) / "history.sqlite3"


def locks_dir(history_path: Path) -> Path:
    """The folder of the run locks: ``locks/`` next to the history store."""
    return Path(history_path).parent / "locks"


def lock_path(
    history_path: Path, city: str, shift_start: datetime, *, dry_run: bool = False
) -> Path:
    """The lock file of one (city, shift).

    The name carries the city's slug and a hash of its exact name (two cities whose
    slugs collide get different files), and the shift start in UTC. Dry runs have their
    own lock, so an operator's preview never blocks the real run. The slug here is by
    the rule of before 2026-12-07 (`slug_words_before_marks`): a run of the release
    before and one of this one, side by side during an upgrade, take the same lock.
    """
    digest = hashlib.sha256(city.encode()).hexdigest()[:8]
    shift = shift_start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    suffix = ".dry-run" if dry_run else ""
    return locks_dir(history_path) / f"{slug_before_marks(city)}-{digest}-{shift}{suffix}.lock"


def run_dir(
    history_path: Path, city: str, shift_start: datetime, run_id: str, *, name: str | None = None
) -> Path:
    """Where a run keeps its plan: ``runs/<slug>/<shift YYYYmmddTHHMM>/<run id>`` next to
    the history store; the shift in the timezone ``shift_start`` carries (the city's).
    ``name``: the city's folder if not its slug (`run_dirs`)."""
    folder = slug(city) if name is None else name
    return Path(history_path).parent / "runs" / folder / f"{shift_start:%Y%m%dT%H%M}" / run_id


def run_dirs(history_path: Path, city: str, shift_start: datetime, run_id: str) -> list[Path]:
    """The run's folder (`run_dir`), and the one a release of before 2026-12-07 used for
    it when that differs (marks were separators then: Delhi's runs were in
    ``runs/द-ल-ल/``)."""
    here = run_dir(history_path, city, shift_start, run_id)
    there = run_dir(history_path, city, shift_start, run_id, name=slug_before_marks(city))
    return [here] if there == here else [here, there]


def city_run_dirs(
    history_path: Path, city: str, since: datetime, until: datetime
) -> list[tuple[datetime, Path]]:
    """The run folders of ``city`` (`run_dir`, under either slug rule of `run_dirs`)
    whose shift folder names a start from ``since`` to ``until`` (naive, city time, as
    the folders are named), as (that start, the folder); hidden entries (temporary
    copies) and names that are no shift or run are left out. What a run looks through
    for the plan in force when the history store no longer knows it."""
    root = Path(history_path).parent / "runs"
    # compared as text first (the names sort as the times they name): a year of runs
    # every 15 minutes is 35,000 shift folders
    first, last = f"{since:%Y%m%dT%H%M}", f"{until:%Y%m%dT%H%M}"
    found: list[tuple[datetime, Path]] = []
    for name in dict.fromkeys((slug(city), slug_before_marks(city))):
        try:
            shifts = [entry for entry in os.scandir(root / name) if first <= entry.name <= last]
        except OSError:  # no run of the city yet, or unreadable
            continue
        for entry in shifts:
            shift = Path(entry.path)
            try:
                named = datetime.strptime(shift.name, "%Y%m%dT%H%M")
            except ValueError:
                continue
            try:
                runs = sorted(shift.iterdir())
            except OSError:
                continue
            found += [(named, run) for run in runs if not run.name.startswith(".") and run.is_dir()]
    return found


def batch_out(shift_start: datetime) -> Path:
    """`rebalance batch`'s default output folder: ``./batch-<shift YYYYmmddTHHMM>``."""
    return Path(f"batch-{shift_start:%Y%m%dT%H%M}")


def new_file_mode() -> int:
    """The mode a new file gets under the process's umask (0o666 less it): for a file
    made by `tempfile.mkstemp` (always 0600) before it replaces the one asked for."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: Path, write: Callable[[str], object]) -> Path:
    """Write the file at ``path`` whole or not at all, and return where it went: a
    symbolic link is followed (the link stays); ``write(tmp)`` fills a temporary file
    beside it, which takes the umask's mode (`new_file_mode`) and replaces the file in
    one rename. A failure leaves no temporary file; those of writers killed earlier
    are swept first (`remove_stale_siblings`). The writer of `forecast --out` and of
    `map --out`."""
    import tempfile

    target = link_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_siblings(target)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(target), dir=target.parent)
    os.close(fd)
    try:
        os.chmod(tmp, new_file_mode())
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def arrow_file(path: str | Path, mode: str = "rb") -> Any:
    """``path`` opened as an Arrow file (`pyarrow.OSFile`), for pyarrow's Parquet readers
    and writers. Given the path itself, pyarrow reads a relative one such as
    ``plans-19:00/roster.parquet`` as a URI ("Unrecognized filesystem type") and
    fails, and the roster of a folder so named was lost."""
    import pyarrow as pa

    return pa.OSFile(os.fspath(path), mode)


def tilde_hint(path: str | Path) -> str | None:
    """For a path not found that starts with ``~``: what to give instead. The shell
    expands ``~`` only unquoted at the start of a word; quoted, or in a systemd unit,
    it reaches the program as written. None when the path does not start with ``~``."""
    text = str(path)
    if not text.startswith("~"):
        return None
    home = os.path.expanduser(text)
    if home == text:  # ~user of nobody known
        return "a path without '~' (the shell did not expand it)"
    return f"{home} (the shell did not expand '~': it was quoted, or not in a shell)"


def link_target(path: Path) -> Path:
    """Where an output written at ``path`` goes: ``path`` itself, or, when it is a
    symbolic link, the path it leads to (the link stays, the file or folder it points
    to is replaced). A link that loops is OSError ELOOP naming it (`pathlib` raises
    RuntimeError there, a traceback)."""
    if not path.is_symlink():
        return path
    try:
        os.stat(path)  # the kernel says whether it loops (pathlib differs by version)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None
        # dangling: it leads to where the output goes
    try:
        return path.resolve()
    except RuntimeError:  # Python 3.11-3.12 on a loop (one made since the stat)
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from None


def temporary_prefix(path: Path) -> str:
    """The name prefix of the temporary file a write of ``path`` makes beside it."""
    return f".{path.name}.rebalance-tmp-"


#: A temporary file or folder older than this belongs to no live writer (an output is
#: written in seconds): one left by a killed process (SIGKILL, power loss).
STALE_SECONDS = 3600.0


def stale_entries(folder: Path, prefix: str, *, older_than: float = STALE_SECONDS) -> list[Path]:
    """The entries of ``folder`` named ``prefix...`` (not links) last changed more than
    ``older_than`` seconds ago: what writers killed before their rename left there."""
    import glob
    import time

    cutoff = time.time() - older_than
    found = []
    for entry in folder.glob(f"{glob.escape(prefix)}*"):
        try:
            if not entry.is_symlink() and entry.stat().st_mtime <= cutoff:
                found.append(entry)
        except OSError:
            continue
    return found


def remove_stale_siblings(path: Path, *, older_than: float = STALE_SECONDS) -> None:
    """Remove the temporary files (`temporary_prefix`) that a writer killed before its
    rename left beside ``path`` (`stale_entries`); nothing else (a user's
    ``.demand.csv.bak``)."""
    for stale in stale_entries(path.parent, temporary_prefix(path), older_than=older_than):
        if stale.is_file():
            stale.unlink(missing_ok=True)
