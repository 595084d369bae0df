"""Plan many cities at once on Dask: `run_batch` and the per-city task `plan_city`.

CITIES_DIR holds one data folder (with an optional ``rebalance.toml``) per city. Each
city is one Dask task, `plan_city`, which loads that city's configuration, reads the
shift start in that city's timezone, solves, and writes the plan to
``OUT/<city folder name>/`` exactly as ``rebalance plan --out`` does. A task never
raises: a bad input, an infeasible shift or a bug becomes a `CityResult` with a status
and a message, so one city cannot stop the others::

    from rebalance.batch import run_batch
    result = run_batch("cities/", "2026-11-30T19:00", out="plans/")  # local cluster
    result = run_batch("cities/", "2026-11-30T19:00", out="/shared/plans",
                       client="tcp://scheduler:8786")                  # a real cluster
    result.table(), result.exit_code

Workers write the plan files themselves, so on a real cluster OUT (and CITIES_DIR) must
be on a filesystem every worker sees at the same path, and every worker needs rebalance
installed. Dask lives in this module only.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .escape import json_dumps, visible
from .plan import CONTRACT_KPIS

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "BatchResult",
    "CityResult",
    "Progress",
    "default_out",
    "find_cities",
    "plan_city",
    "run_batch",
]

#: Status of a city, and the exit code it stands for (CONTRACT section 6).
STATUS_EXIT = {"optimal": 0, "feasible": 0, "infeasible": 4, "invalid": 3, "error": 1}

#: KPIs copied from plan.json into the summary table, in this order: the contract's.
TABLE_KPIS = CONTRACT_KPIS

#: ``progress(done, total, result)``: called with ``(0, total, None)`` once the cities
#: are submitted, then once per finished city in completion order.
Progress = Callable[[int, int, "CityResult | None"], None]


@dataclass(frozen=True)
class CityResult:
    """What became of one city: status, exit code, KPIs and where the time went.

    ``status`` is ``optimal`` or ``feasible`` (planned, exit 0), ``infeasible`` (exit 4),
    ``invalid`` (bad data or rebalance.toml, exit 3) or ``error`` (anything else, exit 1).
    ``plan_dir`` is empty unless a plan was written. ``worker`` is ``host:pid``.
    """

    folder: str
    city: str
    status: str
    exit_code: int
    message: str = ""
    plan_id: str = ""
    shift_start: str = ""
    objective: float | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0
    solve_seconds: float = 0.0
    total_seconds: float = 0.0
    plan_dir: str = ""
    worker: str = ""
    traceback: str = ""

    @property
    def planned(self) -> bool:
        """Whether the city got a plan."""
        return self.exit_code == 0


def plan_city(city_dir: str, shift_start: pd.Timestamp | str, out_dir: str | None) -> CityResult:
    """Plan one city folder and write its plan to ``out_dir/<folder name>/``.

    The Dask task of `run_batch`, also usable alone. A naive ``shift_start`` is
    wall-clock time in the timezone of the city's own rebalance.toml (defaults without
    one); an aware one is that instant. (Text is parsed first: `run_batch` parses it
    once for all cities.)
    A city is named by its rebalance.toml, else by its folder until its tables are read
    (then by the defaults' name, which its plan carries).
    Every failure is returned as a result, never raised: exceptions crossing the
    cluster would lose their context and stop `as_completed` consumers.
    """
    from .config import load_config
    from .errors import InfeasibleError, InputError, RebalanceError
    from .inputs import load_tables
    from .pipeline import plan_shift, write_plan
    from .timeparse import in_timezone, parse_iso

    t0 = time.perf_counter()
    folder = Path(city_dir)
    seen: dict[str, Any] = {"city": folder.name}

    def done(status: str, **more: Any) -> CityResult:
        earlier = Path(out_dir, folder.name) if out_dir is not None else None
        if STATUS_EXIT[status] and earlier is not None and (earlier / "plan.json").is_file():
            # not replaced, as `plan --out` leaves it; a reader of OUT must not take it
            # for this run's
            more["message"] = (
                f"{more.get('message', '')}; {earlier} still holds the plan of an earlier "
                "run, left as it was"
            )
        return CityResult(
            folder=folder.name,
            status=status,
            exit_code=more.pop("exit_code", STATUS_EXIT[status]),
            total_seconds=round(time.perf_counter() - t0, 4),
            worker=f"{socket.gethostname()}:{os.getpid()}",
            **seen,
            **more,
        )

    try:
        toml = folder / "rebalance.toml"
        named = toml.is_file()
        config = load_config(toml if named else None)
        if named:
            seen["city"] = config.city.name
        wall = shift_start if isinstance(shift_start, pd.Timestamp) else parse_iso(shift_start)
        start = in_timezone(wall, config.city.timezone)
        inputs = load_tables(folder, config, per_table=False)  # planned as read
        # Without a rebalance.toml the defaults' name ("Paris") is the plan's, as with
        # `plan`, once the folder proves to be a city; until then it is named by its folder
        # (an empty folder was listed as "Paris").
        seen["city"] = config.city.name
        seen["load_seconds"] = round(time.perf_counter() - t0, 4)
        t1 = time.perf_counter()
        try:
            plan = plan_shift(inputs, config, start, verify=False)
        except InfeasibleError as exc:
            seen["solve_seconds"] = round(time.perf_counter() - t1, 4)
            if exc.plan is not None:
                seen["shift_start"] = exc.plan.local(exc.plan.shift_start).isoformat()
                seen["plan_id"] = exc.plan.plan_id
            return done("infeasible", message=str(exc))
        seen["solve_seconds"] = round(time.perf_counter() - t1, 4)
        seen["shift_start"] = plan.local(plan.shift_start).isoformat()
        seen["plan_id"] = plan.plan_id
        target = ""
        if out_dir is not None:
            target = str(write_plan(plan, Path(out_dir) / folder.name))
        return done(
            plan.status,
            objective=plan.objective,
            kpis=plan.kpis,
            plan_dir=target,
            message=plan.message,
        )
    except InputError as exc:
        return done("invalid", message=str(exc))
    except RebalanceError as exc:
        status = "infeasible" if exc.exit_code == 4 else "error"
        return done(status, exit_code=exc.exit_code, message=str(exc))
    except Exception as exc:  # a bug: keep the traceback, the worker's log may be gone
        return done(
            "error", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()
        )


# ------------------------------------------------------------------------ batch


@dataclass(frozen=True)
class BatchResult:
    """The outcome of `run_batch`: one `CityResult` per city, sorted by folder name."""

    results: list[CityResult]
    shift_start: str
    out: str | None
    wall_seconds: float
    workers: int
    scheduler: str

    @property
    def exit_code(self) -> int:
        """3 if any city is invalid, else 4 if any is infeasible, else 1 if any failed, else 0.

        Input problems come first because they are the ones an operator fixes.
        """
        codes = {r.exit_code for r in self.results}
        for code in (3, 4):
            if code in codes:
                return code
        return 1 if codes - {0} else 0

    def counts(self) -> dict[str, int]:
        """How many cities ended in each status, in status order."""
        counts = {s: sum(r.status == s for r in self.results) for s in STATUS_EXIT}
        return {s: n for s, n in counts.items() if n}

    def table(self) -> pd.DataFrame:
        """One row per city: identity, status, KPIs, seconds, plan folder, message."""
        import pandas as pd

        rows = []
        for r in self.results:
            row: dict[str, Any] = {
                "folder": r.folder,
                "city": r.city,
                "status": r.status,
                "exit_code": r.exit_code,
                "shift_start": r.shift_start,
                "objective": r.objective,
            }
            row.update({k: r.kpis.get(k) for k in TABLE_KPIS})
            row.update(
                {
                    "load_seconds": r.load_seconds,
                    "solve_seconds": r.solve_seconds,
                    "total_seconds": r.total_seconds,
                    "plan_id": r.plan_id,
                    "plan_dir": r.plan_dir,
                    "worker": r.worker,
                    "message": r.message,
                }
            )
            rows.append(row)
        table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
        # Counts stay whole numbers in CSV even when a failed city leaves a gap.
        for column in ("eligible_couriers", "moved_couriers", "shortage"):
            table[column] = pd.array(table[column].tolist(), dtype="Int64")
        for column in ("objective", "travel_minutes", "coverage_before", "coverage"):
            table[column] = pd.to_numeric(table[column]).astype(float)
        return table

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the run, then every city with its full KPIs."""
        return {
            "shift_start": self.shift_start,
            "out": self.out,
            "exit_code": self.exit_code,
            "counts": self.counts(),
            "wall_seconds": self.wall_seconds,
            "workers": self.workers,
            "scheduler": self.scheduler,
            "cities": [asdict(r) for r in self.results],
        }

    def to_json(self) -> str:
        """`to_dict` as indented JSON text."""
        return json_dumps(self.to_dict(), indent=2, default=_plain) + "\n"

    def caption(self) -> str:
        """One line: what happened, how long it took, where."""
        from .views.wording import plural

        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        return (
            f"{len(self.results)} {'city' if len(self.results) == 1 else 'cities'} ({counts}) in "
            f"{self.wall_seconds:.1f} s on {plural(self.workers, 'Dask worker')} ({self.scheduler})"
        )

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich import box
        from rich.text import Text

        from .views.fit import fit_table

        rows = []
        for r in self.results:
            k = r.kpis
            coverage = (
                f"{k['coverage_before']:.0%} → {k['coverage']:.0%}"
                if "coverage" in k and "coverage_before" in k
                else ""
            )
            rows.append(
                [
                    Text(visible(r.folder, one_line=True)),  # Text: "[x]" is not markup
                    Text(visible(r.city, one_line=True) if r.city != r.folder else ""),
                    Text(r.status, style=_STYLE.get(r.status, "")),
                    _num(k.get("moved_couriers"), "d"),
                    _num(k.get("shortage"), "d"),
                    coverage,
                    _num(r.objective, ".1f"),
                    f"{r.total_seconds:.1f}",
                ]
            )
        # Fitted as the plan's tables are: names wrap and the least useful columns give
        # way; headers, statuses and numbers are never cut (at 80 columns they read
        # "Fold…", "optim…", "35% → 3…", on a pipe as cron runs it too).
        yield fit_table(
            _rich_columns(),
            rows,
            options.max_width,
            box=box.SIMPLE_HEAD,
            caption=self.caption(),
            caption_justify="left",
        )
        # Messages below the table, whole: a column would be too narrow to act on them.
        for r in self.results:
            if not r.planned:
                yield Text.assemble(
                    (visible(r.folder, one_line=True), "bold"),
                    ": ",
                    (visible(r.message), _STYLE[r.status]),
                )


_TABLE_COLUMNS = [
    "folder",
    "city",
    "status",
    "exit_code",
    "shift_start",
    "objective",
    *TABLE_KPIS,
    "load_seconds",
    "solve_seconds",
    "total_seconds",
    "plan_id",
    "plan_dir",
    "worker",
    "message",
]


def _rich_columns() -> tuple[Any, ...]:
    """The terminal summary's columns (`rebalance.views.fit`): Objective, then Seconds,
    then City give way first."""
    from .views.fit import Col

    return (
        Col("Folder", "text", min_width=12, hard_min=8),
        Col("City", "text", drop=1, min_width=10, hard_min=6),
        Col("Status", "key"),
        Col("Moved"),
        Col("Short"),
        Col("Coverage"),
        Col("Objective", drop=3),
        Col("Seconds", drop=2),
    )


_STYLE = {
    "optimal": "green",
    "feasible": "yellow",
    "infeasible": "red",
    "invalid": "red",
    "error": "bold red",
}


def _num(value: Any, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def find_cities(cities_dir: str | Path, *, exclude: str | Path | None = None) -> list[Path]:
    """The city folders of CITIES_DIR, sorted by name.

    Every sub-folder is a city (an empty one too: it is reported as invalid) except
    hidden ones (``.x``, e.g. a plan being written), ``exclude`` (an OUT folder inside
    CITIES_DIR) and folders holding only folders (an earlier batch's OUT).
    """
    root = Path(cities_dir)
    skip = Path(exclude).resolve() if exclude is not None else None
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and p.resolve() != skip
        and not _only_folders(p)
    )


def _only_folders(path: Path) -> bool:
    entries = list(path.iterdir())
    return bool(entries) and all(e.is_dir() for e in entries)


def default_out(shift_start: pd.Timestamp | str) -> Path:
    """``batch-<YYYYmmddTHHMM>`` in the current folder, the shift start as written."""
    from .paths import batch_out
    from .timeparse import parse_iso

    return batch_out(
        shift_start if isinstance(shift_start, pd.Timestamp) else parse_iso(shift_start)
    )


def _resolved(path: Path, option: str) -> Path:
    """``path`` made absolute, links followed; a link that loops is a usage error naming
    ``option`` (pathlib's RuntimeError was a traceback)."""
    from .errors import UsageError
    from .paths import link_target

    try:
        return link_target(path).resolve()
    except (OSError, RuntimeError) as exc:  # ELOOP, or (3.11-3.12) a loop further up
        raise UsageError(
            f"{path} is a symbolic link that leads back to itself ({exc}); give a folder",
            option=option,
        ) from None


def run_batch(
    cities_dir: str | Path,
    shift_start: pd.Timestamp | str,
    *,
    out: str | Path | None = None,
    client: Client | str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    verbose: bool = False,
) -> BatchResult:
    """Plan every city of ``cities_dir`` on Dask and collect one result per city.

    ``client`` is a ``distributed.Client``, or a scheduler address to connect to; None
    starts a local cluster of ``workers`` single-threaded processes (default: one per
    core, at most one per city) and closes it afterwards. ``out`` None plans without
    writing files. Dask's logs below ERROR are silenced unless ``verbose``.

    ``shift_start`` without an offset (a naive Timestamp, or ISO 8601 text, parsed
    here once) is wall-clock time in each city's own timezone.

    Raises `DataError` when ``cities_dir`` holds no city folder, `TimestampError` for
    a bad ``shift_start``, `OutputExistsError` when ``out`` is a file or an
    ``OUT/<city>`` folder holds other files, and `UsageError` for ``workers`` with ``client`` or when the scheduler
    ``client`` names cannot be reached. Failures of single cities are results, not exceptions.
    """
    from distributed import as_completed

    from .errors import DataError, Issue, OutputExistsError, UsageError
    from .timeparse import parse_iso

    if client is not None and workers is not None:
        raise UsageError(
            "sizes the local cluster; with --scheduler the cluster's own workers run",
            option="--workers",
        )
    t0 = time.perf_counter()
    root = _resolved(Path(cities_dir), "CITIES_DIR")
    start = shift_start if isinstance(shift_start, pd.Timestamp) else parse_iso(shift_start)
    out_dir = _resolved(Path(out), "--out") if out is not None else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        # wrong usage, before any city is planned (each one failed after its solve)
        raise OutputExistsError(
            f"{out} exists and is not a folder; give a new or empty folder for the plans",
            option="--out",
        )
    cities = find_cities(root, exclude=out_dir) if root.is_dir() else []
    if not cities:
        raise DataError(
            Issue(
                "no city folders found" if root.is_dir() else "cities folder not found",
                file=str(cities_dir),
                valid="one sub-folder per city, each with zones, restaurants and couriers tables",
            ),
            title="invalid input",
        )
    if out_dir is not None:
        _check_targets(out_dir, cities)
    # Biggest cities first: the longest tasks start early, so no worker idles at the end.
    cities.sort(key=lambda p: (-_input_bytes(p), p.name))
    target = str(out_dir) if out_dir is not None else None

    with ExitStack() as stack:
        client, where = _connect(stack, client, workers, len(cities), verbose)
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        batch_id = uuid.uuid4().hex[:8]  # distinct keys: a re-run must really re-plan
        futures = {
            client.submit(
                plan_city, str(city), start, target, key=f"plan_city-{city.name}-{batch_id}"
            ): city
            for city in cities
        }
        results: list[CityResult] = []
        if progress is not None:
            progress(0, len(futures), None)
        try:
            for future in as_completed(futures, loop=client.loop):
                city = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died or the task was lost: go on
                    result = CityResult(
                        folder=city.name,
                        city=city.name,
                        status="error",
                        exit_code=1,
                        message=f"Dask task failed: {type(exc).__name__}: {exc}",
                    )
                future.release()
                results.append(result)
                if progress is not None:
                    progress(len(results), len(cities), result)
        except BaseException:
            # Ctrl-C or a failing progress callback: a caller's cluster must not keep
            # planning cities nobody waits for.
            client.cancel(list(futures))
            raise
    results.sort(key=lambda r: r.folder)
    return BatchResult(
        results=results,
        shift_start=_as_written(start),
        out=target,
        wall_seconds=round(time.perf_counter() - t0, 3),
        workers=n_workers,
        scheduler=where,
    )


def _connect(
    stack: ExitStack, client: Client | str | None, workers: int | None, cities: int, verbose: bool
) -> tuple[Client, str]:
    """The client to run on, and how to name its cluster; what is opened here closes with ``stack``."""
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    from .errors import UsageError

    if client is not None and not isinstance(client, str):
        return client, str(getattr(client.scheduler, "address", "") or "existing client")
    # Dask logs worker start-up and shutdown at INFO/WARNING on stderr; cron mail wants
    # only real problems.
    level = logging.INFO if verbose else logging.ERROR
    if isinstance(client, str):
        logger = logging.getLogger("distributed")
        stack.callback(logger.setLevel, logger.level)
        logger.setLevel(level)
        try:
            # set_as_default=False: a library call must not replace the caller's client.
            return stack.enter_context(Client(client, set_as_default=False)), client
        except OSError as exc:
            # an address mistyped or a scheduler not running: the option to fix (exit 2),
            # not a bug (exit 1, "please report it")
            raise UsageError(
                f"cannot reach the Dask scheduler at {client}: {exc}; check the address and "
                "that the scheduler is running (dask scheduler), or leave --scheduler out "
                "to plan on a local cluster",
                option="--scheduler",
            ) from exc
    n = max(1, min(workers or CPU_COUNT, cities))
    # Registered first, so it runs last: after the cluster and its workers are gone.
    stack.callback(_stop_resource_tracker)
    # Processes, one thread each: OR-Tools and pandas hold the GIL for part of a solve.
    # The scheduler always serves HTTP (health, dashboard); ":0" takes a free port where
    # the default 8787 warns (on stderr) when another cluster on the host holds it.
    with _signals_held():
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=level,
                preload=[__name__],  # `dask_setup` in each worker
            )
        )
        local = stack.enter_context(Client(cluster, set_as_default=False))
    if not verbose:
        # Runs first on the way out: the plans are in, and a worker whose heartbeat
        # meets the scheduler already closing logs an ERROR that is no problem of the
        # run (seen once, in a full test run; not reproduced in 28 runs since) but
        # would reach cron's mail.
        stack.callback(_quiet_workers, local)
    return local, "local cluster"


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT held while the local cluster starts, then acted on.

    Raised inside `LocalCluster`'s start-up (our SIGTERM handler raises `Terminated`,
    Ctrl-C `KeyboardInterrupt`), they left its half-started workers unclosable: the
    process waited for them for good, with two worker processes and the resource
    tracker, until a second signal (QA: SIGTERM 1-1.5 s after `rebalance batch`
    started). Held, the signal takes effect once the cluster is up (a second or two),
    and the usual way out closes it: exit 143 (130), nothing left behind. Only in the
    main thread, where handlers can be set."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: Any) -> None:
        caught.append(signum)

    # An ignored signal stays ignored: a shell's background job ignores SIGINT, and
    # the worker processes started now inherit that. Caught here, they started with
    # Python's Ctrl-C handler instead, and a SIGINT to the process group (a timer's,
    # or a terminal's) ended every worker while this process went on waiting for them.
    held = [s for s in (signal.SIGTERM, signal.SIGINT) if signal.getsignal(s) != signal.SIG_IGN]
    before: dict[int, Any] = {s: signal.signal(s, hold) for s in held}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    if caught:
        handler = before[caught[0]]
        if callable(handler):
            handler(caught[0], None)  # raises Terminated or KeyboardInterrupt
        else:  # the default action (or ignored): as if it came now
            signal.raise_signal(caught[0])


def dask_setup(worker: Any) -> None:
    """In each worker of the local cluster, once started (Dask's preload): Ctrl-C is
    ignored. A terminal sends it to the whole process group; this process handles it
    (exit 130) and closes the cluster, which ends the workers. Each worker also raised
    `KeyboardInterrupt` of its own and printed its 35-line traceback on stderr."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_workers(client: Client) -> None:
    """Silence Dask's loggers in the workers of ``client`` for their shutdown."""
    # a worker already gone has nothing left to say
    with suppress(Exception):
        client.run(_silence_dask)


def _silence_dask() -> None:
    """In a worker process: only CRITICAL records of Dask's loggers from now on."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def _stop_resource_tracker() -> None:
    """Stop and reap multiprocessing's resource tracker, started for the local workers.

    Left alone it outlives this process (it exits only when it sees our end of its pipe
    close), so a cron job or a systemd timer watching the process group finds a
    process behind, or waits for it. Started again on demand if needed later.
    """
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    stop = getattr(tracker, "_stop", None)
    if stop is not None:
        stop()


def _input_bytes(city: Path) -> int:
    """Size of a city's tables: a cheap proxy for how long it takes to plan."""
    return sum(p.stat().st_size for p in city.iterdir() if p.is_file())


def _as_written(ts: pd.Timestamp) -> str:
    """``2026-11-30T19:00`` (with its offset if it has one; seconds only when set)."""
    return ts.isoformat(timespec="minutes" if ts.second == ts.microsecond == 0 else "auto")


def _check_targets(out_dir: Path, cities: list[Path]) -> None:
    """Refuse before planning when an ``OUT/<city>`` folder holds more than a plan.

    `Plan.write` would refuse too, but only after the solve, city by city.
    """
    from .errors import OutputExistsError
    from .plan import foreign_files

    for city in cities:
        target = out_dir / city.name
        if target.exists() and not target.is_dir():
            raise OutputExistsError(f"{target} exists and is not a folder", option="--out")
        if target.is_dir():
            foreign = foreign_files(target)  # the rule Plan.write applies
            if foreign:
                raise OutputExistsError(
                    f"{target} holds other files ({', '.join(foreign[:3])}); "
                    "choose an empty or new folder for the plans",
                    option="--out",
                )
