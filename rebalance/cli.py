"""The `rebalance` command line (CONTRACT section 4), a thin layer over the library.

Heavy libraries (pandas, ortools, slack_sdk) are imported inside the commands so that
`rebalance --help` stays fast. Errors go to stderr with the contract's exit codes.
"""

import errno
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from .ranges import MAX_TIME_LIMIT_SECONDS

if TYPE_CHECKING:
    import pandas as pd

    from .config import Config
    from .inputs import Inputs

app = typer.Typer(
    name="rebalance",
    help="Move couriers to where the orders are: plan a shift, publish it to Slack, run it from cron.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,  # cron mails want plain tracebacks, never locals
    rich_markup_mode=None,  # help texts name config keys like [slack] channel literally
)


#: What every --shift-start accepts, said once.
SHIFT_FORMAT = (
    "ISO 8601 date and time: 2026-11-30T19:00 is city time, 2026-11-30T19:00+01:00 keeps "
    "its offset; a date alone is refused (write 2026-11-30T00:00 for midnight)."
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("rebalance")
        except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            number = "unknown (not installed)"
        typer.echo(f"rebalance {number}")
        raise typer.Exit()


#: Commands that keep running (a server) or make plan after plan in one process: the
#: cyclic garbage collector stays on for them (see `main`).
_COLLECTING = frozenset({"serve", "replay", "batch"})


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Move couriers to where the orders are: plan a shift, publish it to Slack, run it from cron."""
    if ctx.invoked_subcommand in _COLLECTING:
        gc.enable()


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML configuration file. Default: DATA_DIR/rebalance.toml if present, else built-in defaults.",
    ),
]
# (no dir_okay=False: a folder given as --config is a config that cannot be read, exit 3
# naming it, as a missing file is; click made it a usage error, exit 2)
#: --config of `publish`, which has no DATA_DIR to find one in.
PublishConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML configuration file ([slack] channel, [history] path). Default: built-in "
        "defaults.",
    ),
]
#: --config of the commands that read only the history store (no DATA_DIR).
StoreConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML configuration file; its [history] path is the store read. Default: "
        "built-in defaults.",
    ),
]


def number_in(low: float, high: float, unit: str) -> Any:
    """A parser for a float option from ``low`` to ``high`` (``unit``, for the messages).

    Not typer's ``min=``/``max=``: a NaN compares false with both ends, and typer then
    said ``--time-limit nan`` "should be less than or equal to 604800", which is not
    what is wrong with it."""

    def parse(text: Any) -> float:
        if isinstance(text, float):  # the default, or a value already parsed
            return text
        span = f"from {low:g} to {high:g} {unit}"
        try:
            number = float(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a number; give one {span}.") from None
        if number != number:
            raise typer.BadParameter(f"{text!r} is not a number; give one {span}.")
        if not low <= number <= high:
            raise typer.BadParameter(f"{text} is out of range; give a number {span}.")
        return number

    return parse


def err(message: str, *, color: str = "red") -> None:
    """Print a message to stderr (never stdout, which scripts parse).

    Messages quote names from the data: control characters and bidi overrides are
    written out (`rebalance.escape.visible`) so that no name can drive the terminal.
    """
    from .escape import visible

    typer.secho(visible(message), err=True, fg=color)


@contextmanager
def exits() -> Iterator[None]:
    """Map rebalance errors to the contract's exit codes with a message on stderr; a
    `UsageError` is shown as the usage error it is (exit 2, naming its option).

    SIGTERM (a supervisor's stop, `timeout`, `kill`) becomes `Terminated` meanwhile,
    unless a handler of its own is set: the writers clean up what they had begun (a
    plan folder's temporary copy was left behind), and the exit is 143 with a word.

    A reader of stdout that stops early (``rebalance plan --format json | head``) ends
    the command quietly with 141, as the shell reports a tool stopped by SIGPIPE, not
    1 (a bug) with click's word: stdout is flushed here, so that the last block left
    in its buffer fails here too, and not as an "Exception ignored" at exit. What the
    command had done by then stays done (a plan folder written, a message posted)."""
    import signal
    import threading

    from .errors import RebalanceError, Terminated, UsageError, raise_terminated

    previous = None
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except UsageError as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    except RebalanceError as exc:
        err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from exc
    except OSError as exc:
        if _stdout_refused(exc):
            # the disk that stdout goes to is full (`> out.txt` on a full disk, a cron
            # job's log): every file the command writes itself says its path
            # (`StorageError`), and stdout is where such an error can come from
            _output_failed(exc)
        # a path no file can have, met while reading (a data folder's name of 300 bytes):
        # exit 3 as the README has it for a path that cannot be used, not a traceback
        if exc.errno != errno.ENAMETOOLONG:
            raise
        from .errors import StorageError

        error = StorageError.from_os_error(exc, "use the path", exc.filename or "?")
        err(f"error: {error}")
        raise typer.Exit(error.exit_code) from None
    except UnicodeEncodeError as exc:
        # a path holding bytes that are not UTF-8 (the shell passes them through as
        # surrogates), which Arrow and the plan's files cannot name: exit 3, not 1
        if "surrogates not allowed" not in str(exc):
            raise
        err(
            "error: a path or an argument holds bytes that are not UTF-8 text "
            f"({exc.object[max(0, exc.start - 20) : exc.end + 20]!r}); rename it, or choose "
            "a path in UTF-8"
        )
        raise typer.Exit(3) from None
    except Terminated as exc:
        # the files are cleaned up; a command that had begun posting says what may stand
        after = exc.after or "nothing half-written was left"
        err(f"error: stopped by SIGTERM; {after}")
        raise typer.Exit(exc.exit_code) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: Exit code when the reader of stdout went away: 128 + SIGPIPE, as for `cat` in a shell.
EXIT_BROKEN_PIPE = 141


#: A write refused for want of room: a full disk or quota, a file past its size limit.
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _stdout_refused(exc: OSError) -> bool:
    """Whether ``exc``, met by a command, can be standard output refusing a write: a full
    disk or quota (no file name: the command's own files are named), and stdout a
    regular file on a disk with no room left, or a device (/dev/full). A terminal or a
    pipe never says "no space": the error is elsewhere, and shown as it is."""
    import stat

    if exc.filename is not None or exc.errno not in _FULL_ERRNOS:
        return False
    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    if stat.S_ISCHR(mode):
        return not os.isatty(fd)
    if not stat.S_ISREG(mode):
        return False
    if exc.errno != errno.ENOSPC:
        return True
    try:
        room = os.fstatvfs(fd)
    except OSError:
        return True
    return room.f_bavail == 0 or room.f_bfree == 0


def _output_failed(exc: OSError, target: str | None = None) -> NoReturn:
    """End the command whose standard output could not be written (`exits`): exit 1, as
    the README gives for a full disk, with what failed and what to do on stderr (if
    stderr can still be written), not a traceback. What the command had done stays
    done, as after a reader that went away. ``target``: where stdout went, when known
    already (`rebalance.logs.output_failed`)."""
    _say_output_failed(exc, target)
    raise typer.Exit(1) from None


def _say_output_failed(exc: OSError, target: str | None = None) -> None:
    """`_output_failed`'s message, and stdout pointed at /dev/null (nothing more tried
    at exit: "Exception ignored ... flush")."""
    from .logs import output_target, stdout_named

    if target is None:
        target = output_target(sys.stdout)
    _drop_stdout()
    where = stdout_named(target)
    why = exc.strerror or type(exc).__name__
    hint = (
        "free space on that disk, or send the output elsewhere, then run the command again"
        if exc.errno in _FULL_ERRNOS
        else "run the command again where its output can be written"
    )
    with suppress(OSError, ValueError):  # stderr fails too: the exit code says it
        err(
            f"error: cannot write the output to {where}: {why}; {hint}. What the command "
            "had done by then stays done (a plan folder written, a message posted)."
        )


def _drop_stdout() -> None:
    """Point stdout at /dev/null (`rebalance.logs.to_devnull`)."""
    from .logs import to_devnull

    to_devnull(sys.stdout)


def load_cli_config(config: Path | None, data_dir: Path | None = None) -> "Config":
    """The --config file, else DATA_DIR/rebalance.toml, else defaults."""
    from .config import load_config

    if config is None and data_dir is not None and (data_dir / "rebalance.toml").is_file():
        config = data_dir / "rebalance.toml"
    return load_config(config)


def parse_shift(
    value: str | None, config: "Config | None", option: str = "--shift-start"
) -> "pd.Timestamp | None":
    """Parse a CLI timestamp, once: in the city's timezone (aware, UTC), or with no
    config as written (naive without an offset). A bad one, or a date without a time,
    is a usage error (exit 2)."""
    from .errors import TimestampError
    from .timeparse import clock_change_note, parse_iso, parse_timestamp

    if value is None:
        return None
    try:
        if config is None:
            return parse_iso(value, require_time=True)
        parsed = parse_timestamp(value, config.city.timezone, require_time=True)
    except TimestampError as exc:
        exc.option = option
        raise
    if note := clock_change_note(value, config.city.timezone):
        err(f"note: {option} {note}", color="yellow")
    return parsed


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich's own answer is SystemExit(1), "a bug" in our exit codes: as a
            # BrokenPipeError, `exits` ends the command with 141 (`validate | head`)
            self.quiet = True
            raise BrokenPipeError(32, "the reader of the output went away")

    return _Console(stderr=stderr, highlight=False)


def show_report(out: Any, renderable: Any) -> None:
    """Print a report's prose (`views.fit.Hanging` lines) on ``out``: wrapped at words
    to a terminal's width, each line whole for a pipe or a log (where a script or a grep
    reads it)."""
    out.print(renderable, soft_wrap=not out.is_terminal)


# ------------------------------------------------------------------- validate


@app.command()
def validate(
    data_dir: Annotated[
        Path,
        typer.Argument(metavar="DATA_DIR", help="Folder with zones, restaurants, couriers tables."),
    ],
    config: ConfigOpt = None,
    shift_start: Annotated[
        str | None,
        typer.Option(help="Count couriers eligible for a shift starting then. " + SHIFT_FORMAT),
    ] = None,
) -> None:
    """Check a data directory and say what it holds; exit 3 listing every problem."""
    with exits():
        cfg = load_cli_config(config, data_dir)
        start = parse_shift(shift_start, cfg)
        if start is None:
            # [shift] hours in slot_minutes slots: whichever day the shift starts (its
            # length is what counts), refused here rather than at the 18:00 plan.
            import pandas as pd

            _check_slots(cfg, pd.Timestamp("2026-01-05T00:00", tz="UTC"), None)

        with _status(f"reading {data_dir}"):
            inputs = _load(data_dir, cfg)
        _print_validation(inputs, cfg, start)


def _print_validation(inputs: Any, cfg: "Config", start: "pd.Timestamp | None") -> None:
    from rich.table import Table

    from .inputs import count_values

    out = console()
    s = inputs.summary()
    from .escape import terminal
    from .views.fit import Hanging  # lines wrap at words, under their label's value

    # With a shift, its slots and demand are checked too: before anything says OK.
    problem = None
    if start is not None:
        from .model import build_problem

        problem = build_problem(inputs, cfg, start, with_moves=False)  # nothing to solve
    out.print(
        f"[bold green]OK[/] {terminal(inputs.source)}: valid input for {terminal(cfg.city.name, one_line=True)}"
    )
    out.print(f"  zones: {s['zones']}")
    out.print(
        f"  restaurants: {s['restaurants_open'] + s['restaurants_closed']} "
        f"({s['restaurants_open']} open, {s['restaurants_closed']} closed)"
    )
    if s["travel_times"] is not None:
        out.print(
            Hanging(f"  travel_times: {s['travel_times']} rows (replace computed travel times)")
        )
    if inputs.demand is not None:
        out.print(
            Hanging(
                f"  demand: {len(inputs.demand):,} rows (rates per restaurant and slot, in place "
                "of expected_orders_per_hour where given)"
            )
        )
    couriers = inputs.couriers
    table = Table(title=None, box=None, padding=(0, 2))
    table.add_column("vehicle")
    if problem is not None:
        from .eligibility import eligibility

        assert start is not None
        grid = problem.grid
        several = grid.count > 1
        found = eligibility(couriers, grid, cfg.eligibility.min_available_minutes)
        elig = count_values(couriers.loc[found.reasons == "", "vehicle"])
        local = start.tz_convert(cfg.city.timezone)
        out.print(
            Hanging(
                f"  couriers: {len(couriers)}, eligible for a shift starting "
                f"{local:%Y-%m-%d %H:%M %Z}: {found.eligible}"
            )
        )
        if several:
            at_start = int((problem.eligible["first"] == 0).sum())
            out.print(
                f"    {at_start} present at the start, {len(problem.eligible) - at_start} "
                "log on during the shift"
            )
        table.add_column("couriers", justify="right")
        table.add_column("eligible", justify="right")
        for vehicle, n in count_values(couriers["vehicle"]).items():
            table.add_row(vehicle, str(n), str(elig.get(vehicle, 0)))
        out.print(table)
        reasons = found.counts()
        if reasons:
            out.print(f"  not eligible: {found.total - found.eligible}")
            for label, n in reasons.items():
                out.print(f"    {n:>{len(str(found.total))}} {label}")
        out.print(
            Hanging(
                f"  required couriers{' now' if several else ''}: {int(problem.required.sum()):,} "
                f"(demand {problem.demand.sum():,.1f} orders/h at "
                f"{cfg.demand.orders_per_courier_hour} per courier-hour)"
            )
        )
        if several:
            _print_slots(out, problem)
        from .eligibility import demand_warning

        no_rows = demand_warning(
            inputs.demand,
            problem.grid.start,
            problem.grid.end,
            cfg.city.timezone,
            problem.grid.minutes,
        )
        for warning in [*found.warnings(), *([no_rows] if no_rows else [])]:
            err(f"warning: {warning}", color="yellow")
    else:
        by_status = ", ".join(f"{n} {k}" for k, n in s["couriers_by_status"].items())
        out.print(Hanging(f"  couriers: {len(couriers)} ({by_status})"))
        table.add_column("couriers", justify="right")
        for vehicle, n in count_values(couriers["vehicle"]).items():
            table.add_row(vehicle, str(n))
        out.print(table)
        out.print("  (give --shift-start to count eligible couriers)")


def _print_slots(out: Any, problem: Any) -> None:
    """validate's per-slot view: demand, required and present couriers (nobody moving)."""
    from rich.table import Table

    from .slots import slot_labels

    grid = problem.grid
    table = Table(box=None, padding=(0, 2), title=None)
    for label in ("slot", "orders/h", "required", "present", "short if nobody moves"):
        table.add_column(label, justify="right" if label != "slot" else "left")
    before = problem.slot_before
    required = problem.slot_required
    for k, shown in enumerate(slot_labels(grid.local_starts())):
        short = int((required[:, k] - before[:, k]).clip(min=0).sum())
        table.add_row(
            shown,
            f"{problem.slot_demand[:, k].sum():,.1f}",
            f"{int(required[:, k].sum()):,}",
            f"{int(before[:, k].sum()):,}",
            f"{short:,}",
        )
    out.print(f"  the shift in {grid.count} slots of {grid.minutes} min:")
    out.print(table)


# ----------------------------------------------------------------------- plan


@app.command()
def plan(
    data_dir: Annotated[
        Path, typer.Argument(metavar="DATA_DIR", help="Folder with the input tables.")
    ],
    shift_start: Annotated[str, typer.Option(help="Shift start. " + SHIFT_FORMAT)],
    shift_end: Annotated[
        str | None,
        typer.Option(help="Shift end, same format; default shift start + [shift] hours (4 h)."),
    ] = None,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write moves.csv, zones.csv, plan.json, roster.parquet (and slots.csv, "
            "for a shift of several slots) here (atomically)."
        ),
    ] = None,
    format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="table for people; json for scripts: plan.json's keys plus zones, moves and "
            "slot_rows arrays (the rows of zones.csv, moves.csv and slots.csv).",
        ),
    ] = OutputFormat.table,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Let --out replace a plan of another city or shift that is there."
        ),
    ] = False,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="The plan already published for this shift (a plan folder): couriers on "
            "their way count at their destination, and changing an instruction costs "
            "[costs] change_minutes.",
            file_okay=False,
        ),
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option(
            parser=number_in(0.01, MAX_TIME_LIMIT_SECONDS, "seconds"),
            metavar="SECONDS",
            help="Seconds the solver may search (default [solver] time_limit_seconds), "
            "0.01 to 604800 (a week); a plan stopped by it says 'feasible' and carries "
            "its best bound.",
        ),
    ] = None,
) -> None:
    """Solve the shift slot by slot to proven optimality and show (and optionally write) the plan."""
    with exits():
        cfg = load_cli_config(config, data_dir)
        start = parse_shift(shift_start, cfg)
        end = parse_shift(shift_end, cfg, "--shift-end")
        assert start is not None  # a required option
        _check_end(start, end)
        if out is not None and not force:
            _refuse_other_plan(out, cfg, start)
        from .pipeline import plan_shift, write_plan

        with _status(f"reading {data_dir}"):
            inputs = _load(data_dir, cfg)
        prior = None
        if previous is not None:
            import pandas as pd

            from .eligibility import shift_grid
            from .replan import check_overlap, check_previous, read_plan_folder

            prior = read_plan_folder(previous, "--previous")
            check_previous(prior, cfg, pd.Index(inputs.zones["zone_id"]), str(previous))
            grid = shift_grid(cfg, start, end)
            check_overlap(prior, grid.start, grid.end, str(previous))
            if prior.shift_start > grid.start:
                # overlapping, yet not what was published before this shift: its moves
                # have not started, so each one brought forward counts as a change
                later = prior.local(prior.shift_start)
                err(
                    f"warning: the previous plan ({previous}) is for a shift starting at "
                    f"{later:%Y-%m-%d %H:%M}, after this one: none of its moves has started, "
                    "and each one this plan makes earlier or elsewhere costs change_minutes. "
                    "Give the plan published before this shift, or none.",
                    color="yellow",
                )
        if config is not None:  # [slack app, #18] overrides from Slack in the config's history
            from .overrides import apply_stored_overrides

            inputs = apply_stored_overrides(
                inputs, cfg, start, log=lambda m: err(m, color="yellow")
            )
        with _status("planning: solving, then choosing restaurants to pause"):
            result = plan_shift(
                inputs, cfg, start, end, previous=prior, time_limit=time_limit, verify=False
            )
        if out is not None:
            write_plan(result, out)
        _warn_eligibility(inputs, cfg, result)
        if format is OutputFormat.json:
            for part in _plan_json_parts(result):  # never the whole text at once
                sys.stdout.write(part)
        else:
            from rich.console import Group

            from .views.terminal import plan_renderables

            term = console()
            term.print(Group(*plan_renderables(result, width=term.width, out=out)))
            if result.status == "feasible":
                err(
                    f"warning: the solver stopped at its time limit; this plan is feasible, not "
                    f"proven optimal (objective {result.objective}, best bound "
                    f"{result.best_bound}){_within(result.objective, result.best_bound)}",
                    color="yellow",
                )
            if result.message:
                err(f"note: {result.message}", color="yellow")
            if out is not None:
                from .escape import terminal

                files = "moves.csv, zones.csv, " + ("slots.csv, " if result.slot_count > 1 else "")
                files += "plan.json" + (", roster.parquet" if result.roster is not None else "")
                console().print(f"[dim]Plan written to {terminal(out)}/ ({files})[/]")


def _refuse_other_plan(out: Path, cfg: "Config", start: Any) -> None:
    """--out holds a plan of another city or shift: a usage error (exit 2) saying what is there."""
    import json

    meta = out / "plan.json"
    if not meta.is_file():
        return
    try:
        there = json.loads(meta.read_text(encoding="utf-8"))
        city, shift = str(there["city"]), str(there["shift_start"])
        from .timeparse import parse_timestamp

        same_shift = parse_timestamp(shift, "UTC") == start
    except (ValueError, KeyError, TypeError, OSError, RecursionError):
        raise typer.BadParameter(
            f"{out} holds a plan.json that cannot be read; give another folder, or --force "
            "to replace it",
            param_hint="--out",
        ) from None
    if city.casefold() == cfg.city.name.casefold() and same_shift:
        return  # a re-plan of the same shift replaces the plan, as expected
    raise typer.BadParameter(
        f"{out} holds the plan of {city}, shift {shift}; this plan is {cfg.city.name}, shift "
        f"{start.tz_convert(cfg.city.timezone).isoformat()}. Give another folder, or --force "
        "to replace it",
        param_hint="--out",
    )


def _plan_json_parts(plan: Any) -> Iterator[str]:
    """plan.json's content plus the rows of zones.csv and moves.csv (and of slots.csv, as
    ``slot_rows``, when the shift has several slots), as the files hold them: ids as text,
    times in ISO 8601. plan.json's own keys are kept as they are: its ``slots`` is the
    count of slots (CONTRACT section 7), so the rows cannot take that name. As the pieces
    of its text (`dumps_indented_parts`), for stdout to take one at a time."""
    from .plan import (
        MOVES_COLUMNS,
        SLOTS_COLUMNS,
        ZONES_COLUMNS,
        Records,
        _iso,
        dumps_indented_parts,
    )

    def rows(frame: Any, columns: list[str]) -> Records:
        frame = frame[[c for c in columns if c in frame.columns]]
        times = [c for c in ("slot_start", "slot_end") if c in frame.columns and len(frame)]
        if times:  # city time with its offset, as in the files
            frame = frame.assign(**{c: _iso(frame[c], plan.timezone) for c in times})
        return Records(frame)  # written as the list of its rows, missing values as null

    data = plan.to_dict()
    several = plan.slot_count > 1
    data["zones"] = rows(plan.zones, ZONES_COLUMNS)
    data["moves"] = rows(
        plan.moves,
        [*MOVES_COLUMNS, *(["slot_start"] if several else []), "since_previous"],
    )
    if several:
        data["slot_rows"] = rows(plan.slots, SLOTS_COLUMNS)
    # = json.dumps(_jsonable(data), indent=2, ...) + "\n"
    yield from dumps_indented_parts(data)
    yield "\n"


def _warn_eligibility(inputs: Any, cfg: "Config", plan: Any) -> None:
    """Warn on stderr when nobody, or mostly nobody, is eligible (see `eligibility`)."""
    from .eligibility import plan_warnings

    for warning in plan_warnings(inputs.couriers, plan, cfg, inputs.demand):
        err(f"warning: {warning}", color="yellow")


def _interactive() -> bool:
    """Both stdout and stderr are terminals: a person is watching (never cron, never a pipe)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def _status(message: str, *, enabled: bool = True) -> Iterator[None]:
    """A spinner with the time spent on stderr while a step runs, only for a person at a
    terminal (`_interactive`); it vanishes when the step ends."""
    if not enabled or not _interactive():
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    with bar:
        bar.add_task(message, total=None)
        yield


# ------------------------------------------------------------------- generate


@app.command()
def generate(
    out_dir: Annotated[
        Path, typer.Argument(metavar="OUT_DIR", help="Folder to write the synthetic city into.")
    ],
    zones: Annotated[int, typer.Option(min=1, help="Number of zones.")],
    couriers: Annotated[int, typer.Option(min=0, help="Number of couriers.")],
    restaurants: Annotated[int, typer.Option(min=0, help="Number of restaurants.")],
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed, 0 or more: same seed, same files.")
    ] = 0,
    travel_times: Annotated[
        bool, typer.Option("--travel-times", help="Also write travel_times.csv.")
    ] = False,
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    shift_start: Annotated[
        str,
        typer.Option(
            help="Shift the availability windows are built around, ISO 8601 date and time "
            "(a date alone is refused); without an offset, the city's time."
        ),
    ] = "2026-11-30T19:00",
    demand: Annotated[
        bool,
        typer.Option(
            "--demand",
            help="Also write demand.csv: each restaurant's rate per slot, evening profile.",
        ),
    ] = False,
    staggered: Annotated[
        bool,
        typer.Option(
            "--staggered",
            help="Couriers log on during the shift and about half log off before its end.",
        ),
    ] = False,
    history_days: Annotated[
        int,
        typer.Option(
            min=0,
            help="Also write orders.csv (orders of this many past days) and shift_orders.csv "
            "(the shift's day).",
        ),
    ] = 0,
    shift_hours: Annotated[
        float,
        typer.Option(
            parser=number_in(0.25, 24, "hours"),
            metavar="HOURS",
            help="Shift length for --demand and --staggered, 0.25 to 24.",
        ),
    ] = 4.0,
    slot_minutes: Annotated[int, typer.Option(min=1, help="Slot length for --demand.")] = 30,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into OUT_DIR even if it holds files generate did not write "
            "(they are replaced or deleted).",
        ),
    ] = False,
) -> None:
    """Write a synthetic city (zones, restaurants, couriers) for tests and benchmarks.

    OUT_DIR must be new, empty or a city generate wrote before: a real city's folder is
    refused unless --force."""
    if format not in {"csv", "parquet"}:
        raise typer.BadParameter("use csv or parquet", param_hint="--format")
    with exits():
        from .errors import storage_errors
        from .generate import generate_city

        # as every command reads a shift start: a date alone is refused, not midnight
        start = parse_shift(shift_start, None)
        assert start is not None  # an option with a default
        try:
            with (
                _status(f"writing a synthetic city to {out_dir}"),
                storage_errors("write the synthetic city", out_dir),
            ):
                path = generate_city(
                    out_dir,
                    zones=zones,
                    couriers=couriers,
                    restaurants=restaurants,
                    seed=seed,
                    travel_times=travel_times,
                    fmt=format,
                    shift_start=start,
                    demand=demand,
                    staggered=staggered,
                    history_days=history_days,
                    shift_hours=shift_hours,
                    slot_minutes=slot_minutes,
                    force=force,
                )
        except FileExistsError as exc:
            raise typer.BadParameter(str(exc), param_hint="OUT_DIR") from None
        except ValueError as exc:  # an `ArgumentError` names its option
            raise typer.BadParameter(str(exc), param_hint=getattr(exc, "option", None)) from None
        err(f"wrote a synthetic city to {path}", color="green")


# ------------------------------------------------------------------------ run


class LogFormat(StrEnum):
    auto = "auto"
    text = "text"
    json = "json"


def _channel_id_option(value: str | None) -> str | None:
    """--channel is a channel ID: a name is wrong usage (exit 2) before any work."""
    from .config import is_channel_id

    if value is not None and not is_channel_id(value):
        raise typer.BadParameter(
            f"{value!r} is not a Slack channel ID: give an ID such as C0123ABCD (channel "
            "details, bottom of the About tab), not the channel's name"
        )
    return value


@app.command()
def run(
    # Required (the contract's `run --config F`), and before anything is made: without
    # one a run was the built-in city "Paris", created the default history store and a
    # lock, and recorded a failed run before it said no data folder was set.
    config: Annotated[
        Path,
        typer.Option(
            "--config",
            help="TOML configuration of the city: its name and timezone, [data] dir, "
            "[slack] channel and [history] path.",
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Argument(
            metavar="DATA_DIR",
            help="Folder with the input tables. Default: [data] dir of the config.",
        ),
    ] = None,
    shift_start: Annotated[
        str | None,
        typer.Option(
            help="Shift start. " + SHIFT_FORMAT + " "
            "Default: now, rounded down to the quarter hour in the city's time."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and print the Slack payloads; post nothing.")
    ] = False,
    channel: Annotated[
        str | None,
        typer.Option(
            help="Slack channel ID. Default: [slack] channel.", callback=_channel_id_option
        ),
    ] = None,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            help="text for people, json for log collectors (one event per line on stdout); "
            "auto: json unless stdout is a terminal.",
        ),
    ] = LogFormat.auto,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log each phase (-vv: debug).")
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print nothing on success; warnings and errors only."),
    ] = False,
) -> None:
    """Plan, publish and record one shift: the command for cron and systemd timers.

    Validates DATA_DIR, plans the shift, keeps the plan next to the history, posts or
    updates the shift's Slack message and records the run (`rebalance history`). One
    run per city and shift at a time: another run exits 6. Re-running a shift is safe.
    """
    import json

    from .errors import RebalanceError
    from .escape import json_dumps
    from .logs import RunLog, redact, setup_logging
    from .runner import Terminated, stop_on_sigterm
    from .runner import run as run_shift
    from .views.history import summary_line

    kind = setup_logging(log_format.value, verbose=verbose, quiet=quiet)
    log = RunLog()
    stop_on_sigterm()
    with exits():
        try:
            cfg = load_cli_config(config, data_dir)
        except RebalanceError as exc:
            log.event(
                "run_end",
                str(exc).splitlines()[0],
                level=40,
                outcome="failed",
                exit_code=exc.exit_code,
                phase="config",
            )
            raise
        start = parse_shift(shift_start, cfg)
    _fit_memory_policy(data_dir if data_dir is not None else cfg.data_dir)
    try:
        result = run_shift(
            cfg, data_dir, shift_start=start, dry_run=dry_run, channel=channel, log=log
        )
    except RebalanceError as exc:
        err(f"error: {redact(str(exc))}")
        for note in getattr(exc, "__notes__", []):
            err(redact(note), color="yellow")
        raise typer.Exit(exc.exit_code) from exc
    except Terminated as exc:
        err("error: stopped by SIGTERM; the run is recorded as failed, re-run it to complete it")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err("error: interrupted; the run is recorded as failed, re-run it to complete it")
        raise typer.Exit(130) from None
    from .logs import output_failed, reader_gone

    with exits():  # its reader may be gone: 141, not click's 1
        if dry_run:
            # The same document as `rebalance publish --dry-run`; one JSON line in json mode.
            from .publish import dry_run_document

            document = dry_run_document(result.publish)
            if kind == "json":
                line = {"event": "payloads", "run_id": result.run_id, **json.loads(document)}
                document = json_dumps(line) + "\n"
            if not reader_gone() and not output_failed():
                sys.stdout.write(redact(document))
        if kind == "text" and not quiet:
            console().print(summary_line(result.record), soft_wrap=True)
    if reader_gone():
        raise typer.Exit(EXIT_BROKEN_PIPE)
    if (failed := output_failed()) is not None:
        _output_failed(*failed)  # the run is done and recorded; its log lines are not


# -------------------------------------------------------------------- history

history_app = typer.Typer(
    help="Past runs of `rebalance run`: when, how they ended, KPIs, plan folder, Slack ts.",
    add_completion=False,
)
app.add_typer(history_app, name="history")


def _no_store(config: Path | None, *, markup: bool = True) -> str:
    """What to say where a command reads the history and `_open_history` found no store:
    the path it looked at, and (without ``--config``) that cron's runs record where
    their config's [history] path says. "no runs recorded yet" alone sent operators
    looking for a fault when the runs were recorded in another store. ``markup``: for
    rich markup (else plain text, as in a usage error)."""
    from .escape import terminal, visible

    with exits():
        path = load_cli_config(config).history_path
    hint = (
        ""
        if config is not None
        else "; runs record where their config's [history] path says: give the same --config"
    )
    shown = (terminal if markup else visible)(str(path), one_line=True)
    return f" (no history store at {shown}{hint})"


def _open_history(config: Path | None, *, read_only: bool = True) -> Any:
    """The history store of the config, or None when no run was ever recorded there;
    ``read_only`` to list (the cron user's store, a copy on a read-only disk, a full
    disk: nothing is written)."""
    from .history import History

    with exits():
        path = load_cli_config(config).history_path
        return History(path, read_only=read_only) if path.exists() else None


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    config: StoreConfigOpt = None,
    city: Annotated[str | None, typer.Option(help="Only runs of this city ([city] name).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """List recent runs, newest first; `rebalance history show RUN_ID` shows one."""
    ctx.obj = {"config": config}
    if ctx.invoked_subcommand is not None:
        return
    from .views.history import runs_json, runs_table

    store = _open_history(config)
    known: list[str] = []
    with exits():
        names: str | tuple[str, ...] | None = city
        if store is not None and city:
            # the city as the config writes it, whatever its case or punctuation
            # ("lyon" for "Lyon"): it read "no runs recorded yet" with Lyon's runs there
            from .paths import slug

            known = store.cities()
            names = city if city in known else tuple(c for c in known if slug(c) == slug(city))
        records = [] if store is None or names == () else store.runs(city=names, limit=limit)
        approvals = {} if store is None else _approvals(store, records)
    if store is not None:
        store.close()
    if format is OutputFormat.json:
        sys.stdout.write(runs_json(records, approvals))
    elif not records:
        from .escape import terminal

        recorded = (
            f" (runs are recorded for {', '.join(terminal(c, one_line=True) for c in known)})"
            if city and known
            else ""
        )
        console().print(
            "no runs recorded yet"
            + (f" for {terminal(city, one_line=True)}" if city else "")
            + recorded
            + (_no_store(config) if store is None else "")
        )
    else:
        console().print(runs_table(records, approvals))


@history_app.command("show")
def history_show(
    ctx: typer.Context,
    run_id: Annotated[
        str,
        typer.Argument(metavar="RUN_ID", help="A run id (or a unique prefix of 6+ characters)."),
    ],
    config: StoreConfigOpt = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Everything recorded about one run: times, phase, KPIs, plan folder, Slack ts, error."""
    from .escape import json_dumps
    from .views.history import run_details, run_dict

    if config is None and isinstance(ctx.obj, dict):
        config = ctx.obj.get("config")
    store = _open_history(config)
    matches: list[str] = []
    with exits():
        record = None if store is None else store.run(run_id)
        if store is not None and record is None and run_id:
            matches = store.run_ids(run_id)
        approval = None
        if store is not None and record is not None:
            approval = _approvals(store, [record]).get(record.run_id)
    if store is not None:
        store.close()
    from .escape import visible

    typed = repr(visible(run_id, one_line=True))
    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
    # (run_ids gives 6 at most: more than 5 is "6 or more")
    count = f"{len(matches)}" if len(matches) <= 5 else "6 or more"
    if record is None and matches and len(run_id) < 6:
        # ("no run '20261'" while every run of the year starts with it)
        raise typer.BadParameter(
            f"{typed} is too short to pick a run: a prefix needs 6 characters or more "
            f"({count} {'run starts' if count == '1' else 'runs start'} with it: {shown})",
            param_hint="RUN_ID",
        )
    if record is None and len(matches) > 1:
        raise typer.BadParameter(
            f"{typed} is the start of {count} runs' ids ({shown}); give more of the id",
            param_hint="RUN_ID",
        )
    if record is None:
        where = _no_store(config, markup=False) if store is None else ""
        raise typer.BadParameter(f"no run {typed} in the history{where}", param_hint="RUN_ID")
    if format is OutputFormat.json:
        sys.stdout.write(json_dumps(run_dict(record, approval), indent=2) + "\n")
    else:
        console().print(run_details(record, approval), crop=False)


def _approvals(store: Any, records: list[Any]) -> dict[str, Any]:
    """The approval of each run whose plan was put up for approval, by run id: where it
    stands now (held, approved ...), which the run's own row does not record."""
    found = {}
    for record in records:
        extra = record.extra or {}
        key, chash = extra.get("plan_key"), extra.get("content_hash")
        if (
            key
            and chash
            and (extra.get("approval_channel") or "approval" in str(extra.get("publish_action")))
        ):
            approval = store.approval(str(key), str(chash))
            if approval is not None:
                found[record.run_id] = approval
    return found


# --------------------------------------------------------------------- config

config_app = typer.Typer(
    help="The configuration: what is in effect and where it came from; a starter file.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(
    data_dir: Annotated[
        Path | None,
        typer.Argument(
            metavar="DATA_DIR",
            help="Show what `plan DATA_DIR` uses (DATA_DIR/rebalance.toml if present).",
        ),
    ] = None,
    config: ConfigOpt = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Every key in effect, its value, and where it came from (the file or the default)."""
    import json

    from .config import config_sources
    from .escape import json_dumps

    with exits():
        if data_dir is not None:
            # a mistyped folder showed the built-in defaults as if they were its own
            from .inputs import check_data_dir

            check_data_dir(data_dir)
        cfg = load_cli_config(config, data_dir)
    rows = config_sources(cfg)
    if format is OutputFormat.json:
        doc = {
            "file": None if cfg.source is None else str(cfg.source),
            "keys": [{"key": k, "value": v, "from": w} for k, v, w in rows],
        }
        sys.stdout.write(json_dumps(doc, indent=2) + "\n")
        return
    from rich.text import Text

    from .escape import visible

    out = console()
    out.print(
        Text(f"config file: {visible(str(cfg.source))}")
        if cfg.source
        else "no config file: built-in defaults",
        soft_wrap=True,
    )
    # Rows as lines, never broken: a key or a value (a path above all) runs past the
    # width whole rather than break where it cannot be copied from ("/work/data/sa" +
    # "mples/paris") or end in "…"; printed uncropped.
    shown = [(k, w, visible(json.dumps(v, ensure_ascii=False), one_line=True)) for k, v, w in rows]
    key_width = max(len("key"), *(len(k) for k, _, _ in shown))
    from_width = max(len("from"), *(len(w) for _, w, _ in shown))
    lines = [
        Text.assemble(
            ("key".ljust(key_width), "bold"),
            "  ",
            ("from".ljust(from_width), "bold"),
            "  ",
            ("value", "bold"),
        )
    ]
    for key, where, value in shown:
        style = "bold" if where == "file" else "dim"
        lines.append(
            Text.assemble(key.ljust(key_width), "  ", (where.ljust(from_width), style), "  ", value)
        )
    for line in lines:
        line.no_wrap, line.overflow = True, "ignore"
    from rich.console import Group

    out.print(Group(*lines), crop=False)  # (a Text printed alone wraps all the same)


@config_app.command("init")
def config_init(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="File to write.", dir_okay=False)
    ] = Path("rebalance.toml"),
) -> None:
    """Write a commented starter config (every key, its default, what it does); never overwrites."""
    import errno
    import secrets

    from .config import STARTER_TOML
    from .errors import storage_errors

    def exists() -> typer.BadParameter:
        return typer.BadParameter(
            f"{path} already exists; not overwriting it (see it with "
            f"`rebalance config show --config {path}`)",
            param_hint="PATH",
        )

    with exits(), storage_errors("write the starter config", path):
        if path.exists() or path.is_symlink():  # exists() raises on a name too long
            raise exists()
        # Written whole beside it, then linked into place: a full disk leaves no half
        # file, and a file created meanwhile by someone else is never replaced.
        path.parent.mkdir(parents=True, exist_ok=True)
        # a short name of its own: one built on a 250-byte name would be too long
        tmp = path.parent / f".rebalance-init-{secrets.token_hex(6)}.tmp"
        # os.open with 0o666: the umask decides the mode, as for any file created
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(STARTER_TOML)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise exists() from None
            except OSError as exc:  # a filesystem without hard links (FAT, some FUSE)
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                    raise
                with path.open("x", encoding="utf-8") as fh:
                    fh.write(STARTER_TOML)
        finally:
            tmp.unlink(missing_ok=True)
    err(
        f"wrote {path}: edit [city], [data] dir and [slack] channel, then "
        f"`rebalance config show --config {path}`",
        color="green",
    )


# ---------------------------------------------------------------------- batch


class BatchFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def batch(
    cities_dir: Annotated[
        Path,
        typer.Argument(
            metavar="CITIES_DIR",
            help="Folder with one data folder (and optional rebalance.toml) per city.",
            exists=True,
            file_okay=False,
        ),
    ],
    shift_start: Annotated[
        str,
        typer.Option(
            help="Shift start, ISO 8601 date and time; without an offset, in each city's own "
            "timezone. A date alone is refused."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write each city's plan to OUT/<city folder>/ as `plan --out` does. "
            "Default: ./batch-<shift start as YYYYmmddTHHMM>. Workers write the files: "
            "with --scheduler, OUT and CITIES_DIR must be on a filesystem every worker "
            "sees at the same path.",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Dask scheduler (tcp://host:8786) whose workers have "
            "rebalance installed. Default: a local cluster sized to this machine.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes of the local cluster; default one per core."),
    ] = None,
    format: Annotated[
        BatchFormat,
        typer.Option(
            "--format", help="Summary on stdout: table for people, csv or json for scripts."
        ),
    ] = BatchFormat.table,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Show Dask's logs and tracebacks of failed cities.")
    ] = False,
) -> None:
    """Plan every city of a folder on Dask (a local cluster, or --scheduler) and print one summary.

    A failed city is reported with its error and does not stop the others. Exit code: 3 if any city has invalid input, else 4 if any has no feasible plan, else 1 if any failed otherwise, else 0.
    """
    from .batch import default_out, run_batch
    from .escape import visible

    with exits():
        # Wall-clock time without an offset: each city reads it in its own timezone.
        start = parse_shift(shift_start, None)
        assert start is not None  # a required option
        target = out if out is not None else default_out(start)
        with _batch_progress(enabled=_interactive() and not verbose) as progress:
            result = run_batch(
                cities_dir,
                start,
                out=target,
                client=scheduler,
                workers=workers,
                progress=progress,
                verbose=verbose,
            )
    for city in result.results:
        # The table lists the errors itself; csv and json readers want them on stderr.
        if not city.planned and format is not BatchFormat.table:
            err(f"error: {visible(city.folder, one_line=True)}: {city.message}")
        if verbose and city.traceback:
            err(f"{visible(city.folder, one_line=True)}: {city.traceback.rstrip()}")
    if format is BatchFormat.json:
        sys.stdout.write(result.to_json())
    elif format is BatchFormat.csv:
        from .escape import csv_frame, visible_frame

        # Control and bidi characters written out always, as --format json writes them
        # as \u escapes: this CSV is read at a terminal, in a cron mail or with `cat`
        # later, where a city name could recolour or clear the screen; the exact names
        # stay in --format json and in each plan's plan.json. Names and ids on one line
        # (a grep finds a city's row); the messages keep their lines, as on stderr.
        table = result.table()
        shown = visible_frame(table)
        shown["message"] = [visible(m) for m in table["message"]]
        csv_frame(shown).to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        console().print(result)
    if any(city.planned for city in result.results):
        err(f"Plans written to {target}/<city folder>/", color="green")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@contextmanager
def _batch_progress(enabled: bool) -> Iterator[Any]:
    """A progress callback for `run_batch` drawing a bar on stderr, or None."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    task = bar.add_task("starting Dask", total=None)

    def update(done: int, total: int, city: Any) -> None:
        label = "planning" if city is None else f"planning ({city.folder}: {city.status})"
        bar.update(task, description=label, completed=done, total=total)

    with bar:
        yield update


# -------------------------------------------------------------------- publish


@app.command()
def publish(
    plan_dir: Annotated[
        Path,
        typer.Argument(metavar="PLAN_DIR", help="Plan folder written by `rebalance plan --out`."),
    ],
    channel: Annotated[
        str | None,
        typer.Option(
            help="Slack channel ID (default: [slack] channel).", callback=_channel_id_option
        ),
    ] = None,
    config: PublishConfigOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Post nothing: show the messages as text with their size against Slack's "
            "limits (--format json: the exact payloads and a Block Kit Builder link).",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each Slack API call (never the token).")
    ] = False,
    format: Annotated[
        OutputFormat,
        typer.Option("--format", help="With --dry-run: table (a preview) or json (payloads)."),
    ] = OutputFormat.table,
) -> None:
    """Post a plan to Slack once per (city, shift, channel); a revised plan updates it in place.

    Needs SLACK_BOT_TOKEN (not with --dry-run). Safe to re-run: it never posts twice.
    """
    with exits():
        cfg = load_cli_config(config)
        from .plan import read_plan
        from .publish import dry_run_document
        from .publish import publish as publish_plan

        log = (lambda line: err(line, color="bright_black")) if verbose else None
        the_plan = read_plan(plan_dir)
        if dry_run:
            result = publish_plan(the_plan, config=cfg, channel=channel, dry_run=True, log=log)
        else:
            # The same (city, shift) lock as `rebalance run`: two publishers of one shift
            # started together must not both search, find nothing, and post.
            from .errors import Terminated

            with (
                _shift_lock(the_plan, cfg),
                _status("publishing to Slack", enabled=not verbose),
            ):
                try:
                    result = publish_plan(the_plan, config=cfg, channel=channel, log=log)
                except Terminated as exc:
                    import shlex

                    again = shlex.join(
                        ["rebalance", "publish", str(plan_dir)]
                        + (["--channel", channel] if channel else [])
                        + (["--config", str(config)] if config is not None else [])
                    )
                    exc.after = (
                        "the plan's message in Slack may be incomplete (its thread or files "
                        f"missing): run `{again}` again to complete it; it never posts twice"
                    )
                    raise
        if dry_run and format is OutputFormat.json:
            sys.stdout.write(dry_run_document(result))
            err(
                f"dry run: nothing posted; {len(result.payloads)} payloads above for "
                f"{result.channel or 'no channel yet'}. Preview the parent in Block Kit "
                "Builder (link in block_kit_builder).",
                color="yellow",
            )
            return
        if dry_run:
            import shlex

            from rich.console import Group

            from .views.preview import dry_run_preview

            exact = shlex.join(["rebalance", "publish", str(plan_dir), "--dry-run"])
            if config is not None:
                exact += " " + shlex.join(["--config", str(config)])
            exact += " --format json"
            console().print(Group(*dry_run_preview(result, exact=exact)), soft_wrap=False)
            return
        what = {
            "posted": "posted",
            "updated": "updated in place (changes in its thread)",
            "unchanged": "already up to date, nothing posted",
            "adopted": "found already posted, recorded",
        }.get(result.action, result.action)
        replies = f", {result.thread_replies} thread replies" if result.thread_replies else ""
        from .escape import terminal

        console().print(
            terminal(f"{result.plan_key} in {result.channel}: {what} (ts {result.ts}{replies})"),
            soft_wrap=True,
        )


# ------------------------------------------------------------------------ map


@app.command("map")
def map_command(
    plan_dir: Annotated[
        Path,
        typer.Argument(metavar="PLAN_DIR", help="Plan folder written by `rebalance plan --out`."),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="HTML file to write (one file, to share).", dir_okay=False)
    ],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="The data folder the plan was made from (zone coordinates, and "
            "zones.geojson outlines if there). Default: [data] dir of the config, else "
            "the coordinates the plan folder keeps (no outlines but --outlines).",
            file_okay=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    outlines: Annotated[
        Path | None,
        typer.Option(
            "--outlines",
            help="Zone outlines, GeoJSON polygons by zone_id. Default: DATA/zones.geojson.",
            dir_okay=False,
        ),
    ] = None,
    tiles: Annotated[
        bool,
        typer.Option(
            "--tiles/--no-tiles",
            help="Draw a background street map (loaded from the web when viewed).",
        ),
    ] = True,
) -> None:
    """Write the plan as an interactive map: zones by shortage, moves as lines, tooltips."""
    with exits():
        _replaceable(out, "an HTML map", _is_html)
        cfg = load_cli_config(config, data)
        folder = data if data is not None else cfg.data_dir
        from .escape import visible
        from .outlines import find_outlines, read_outlines
        from .plan import check_zones, read_plan
        from .views.webmap import interactive_map, write_map

        plan = read_plan(plan_dir)
        if folder is None:
            # the plan's own coordinates (plan.json's explanation holds them, in the
            # zones' order): `rebalance map PLAN --out F` needs no data folder
            zones = plan.zone_coordinates()
            if zones is None:
                raise typer.BadParameter(
                    "this plan folder was written before plans kept their zones' "
                    "coordinates; give --data DATA_DIR, the data folder it was made from "
                    "(or [data] dir in --config)",
                    param_hint="--data",
                )
        else:
            with _status(f"reading {folder}"):
                zones = _load(folder, cfg).zones
        known = set(zones["zone_id"].astype(str))
        if folder is not None:
            check_zones(
                plan,
                known,
                label="the plan",
                file=plan_dir / "zones.csv",
                valid=f"the data folder the plan was made from (not {folder})",
            )
            renamed = _renamed_zones(plan.zones, zones)
            if renamed:
                zone_id, ours, theirs = renamed[0]
                err(
                    f"warning: {len(renamed)} of {len(plan.zones)} zones have other names in "
                    f"{folder} than in the plan (zone {zone_id!r}: {theirs!r} there, {ours!r} "
                    "in the plan); if it is not the data folder the plan was made from, the "
                    "zones are drawn in the wrong places",
                    color="yellow",
                )
        source = outlines if outlines is not None else find_outlines(folder)
        shapes = read_outlines(source, known) if source is not None else None
        fmap = interactive_map(
            plan, zones, outlines=shapes, tiles="OpenStreetMap" if tiles else None
        )
        from .errors import storage_errors

        with storage_errors("write the map", out):
            write_map(fmap, out)
    drawn = f", {len(shapes)} zone outlines from {source}" if shapes else ""
    err(f"map of {visible(plan.city, one_line=True)} written to {out}{drawn}", color="green")


def _renamed_zones(planned: Any, zones: Any) -> list[tuple[str, str, str]]:
    """(zone id, name in the plan, name in the data) of each zone whose names differ, in
    the plan's order: a data folder of another city with the same ids (Z001, ...) gives
    the map its coordinates, and nothing else would tell."""
    theirs = dict(zip(zones["zone_id"].astype(str), zones["name"].astype(str), strict=True))
    pairs = zip(planned["zone_id"].astype(str), planned["name"].astype(str), strict=True)
    return [(z, name, theirs[z]) for z, name in pairs if z in theirs and theirs[z] != name]


def _within(objective: float | None, bound: float | None) -> str:
    """How far above the optimum a feasible plan is at most, in words: ``; at most
    0.789 above the optimum (9.2e-06% of it)``; empty when the bound says nothing."""
    import math

    if objective is None or bound is None:
        return ""
    if not (math.isfinite(objective) and math.isfinite(bound)) or objective < bound:
        return ""
    gap = objective - bound
    share = ""
    if bound:  # a tiny share in one significant digit ("9e-06%"), else to 0.01%
        rel = gap / abs(bound)
        share = f" ({100 * rel:.1g}% of it)" if rel < 5e-5 else f" ({rel:.2%} of it)"
    return f"; at most {gap:,.3f} above the optimum{share}"


def _shift_lock(plan: Any, cfg: "Config") -> Any:
    """The run lock of the plan's (city, shift), taken without waiting (exit 6 if held)."""
    from .lock import RunLock
    from .paths import lock_path

    local = plan.local(plan.shift_start)
    return RunLock(
        lock_path(cfg.history_path, plan.city, plan.shift_start),
        what=f"{plan.city}, shift {local:%Y-%m-%d %H:%M %Z}",
        info={"command": "publish", "city": plan.city, "shift_start": local.isoformat()},
    )


# ------------------------------------------------------------ forecast, replay


def _replaceable(out: Path, what: str, looks_right: Any) -> None:
    """Refuse an ``--out`` that exists and is not an earlier output of this command
    (``looks_right(path) -> bool``): a slip of the finger must not turn the order
    history or zones.csv into a demand table or a map (exit 2, nothing written). A
    symbolic link is followed: what it points to is checked (and then replaced)."""
    from .paths import link_target

    try:
        out = link_target(out)
    except OSError:
        raise typer.BadParameter(
            f"{out} is a symbolic link that leads back to itself; give a file",
            param_hint="--out",
        ) from None
    if not out.exists() or out.is_dir():
        return
    try:
        ours = bool(looks_right(out))
    except (OSError, ValueError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise typer.BadParameter(
            f"{out} exists and is not {what}; not replacing it (give a new file, or "
            f"remove it first)",
            param_hint="--out",
        )


def _is_demand_table(path: Path) -> bool:
    """Whether the file holds a demand table (its header has section 7's columns)."""
    import csv

    from .inputs import TABLES

    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        from .paths import arrow_file

        with arrow_file(path) as fh:
            names = set(pq.read_schema(fh).names)
    else:
        with path.open("rb") as fh:
            first = fh.read(1 << 16).split(b"\n", 1)[0].decode("utf-8-sig").strip()
        names = {n.strip() for n in next(csv.reader([first]), [])}
    return {column.name for column in TABLES["demand"]} <= names


def _is_html(path: Path) -> bool:
    """Whether the file is an HTML page (a map written before)."""
    with path.open("rb") as fh:
        head = fh.read(512).decode("utf-8-sig", errors="replace").lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


def _write_table_atomically(frame: Any, out: Path) -> None:
    """Write a table as CSV, or Parquet when ``out`` ends in .parquet; never half a file.
    Text cells of a CSV get the formula guard (`rebalance.escape.csv_cell`): ids come
    from partners, and the file is opened in spreadsheets; `load` reads a guarded
    restaurant_id back as the id."""
    from .errors import storage_errors
    from .escape import csv_frame
    from .paths import link_target, write_atomically

    with storage_errors("write the table", out):
        target = link_target(out)  # a link stays; its target's suffix says the format

        def write(tmp: str) -> None:
            if target.suffix == ".parquet":
                frame.to_parquet(tmp, index=False)
            else:
                csv_frame(frame).to_csv(tmp, index=False, lineterminator="\n")

        write_atomically(target, write)


def _check_end(start: Any, end: Any) -> None:
    """--shift-end after --shift-start, and at most `MAX_SHIFT_HOURS` later (a usage
    error, exit 2, as `[shift] hours` past it is a config error)."""
    if end is None:
        return
    from .slots import check_shift_window

    try:
        check_shift_window(start, end, start_name="--shift-start", end_name=None)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--shift-end") from None


def _check_slots(cfg: "Config", start: Any, end: Any) -> None:
    """The shift's slots must divide it: else the config key is wrong (exit 3)."""
    _check_end(start, end)
    from .forecasting import shift_grid

    try:
        shift_grid(cfg, start, end)
    except ValueError as exc:
        from .config import slot_minutes_error

        raise slot_minutes_error(cfg, exc, from_hours=end is None, start=start, end=end) from None


@app.command()
def forecast(
    history: Annotated[
        Path, typer.Argument(help="Past orders: an orders .csv/.parquet file or a folder of them.")
    ],
    data: Annotated[
        Path, typer.Option("--data", help="Data folder whose restaurants the orders belong to.")
    ],
    shift_start: Annotated[
        str, typer.Option(help="Start of the shift to forecast, ISO 8601 (city time).")
    ],
    shift_end: Annotated[
        str | None, typer.Option(help="Shift end; default shift start + [shift] hours.")
    ] = None,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the demand table here (.csv, or .parquet); default: CSV on stdout."
        ),
    ] = None,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="Also forecast the history's last day from the days before and show the error.",
        ),
    ] = False,
) -> None:
    """Forecast orders per hour by restaurant and slot from past orders: the demand table.

    Uses the past days at the shift's clock time (only the shift's weekday when the
    history holds at least two), shrinks restaurants with few orders toward their zone,
    and says what it used and what it could not estimate (on stderr when the table goes
    to stdout).
    """
    with exits():
        cfg = load_cli_config(config, data)
        start = parse_shift(shift_start, cfg)
        end = parse_shift(shift_end, cfg, "--shift-end")
        from .forecasting import run_forecast

        _check_slots(cfg, start, end)
        if out is not None and (out.is_dir() or out.suffix not in {".csv", ".parquet"}):
            raise typer.BadParameter(
                "a file name ending in .csv or .parquet, e.g. DATA_DIR/demand.csv",
                param_hint="--out",
            )
        if out is not None:
            _replaceable(out, "a demand table", _is_demand_table)
        inputs = _load(data, cfg)
        result = run_forecast(history, inputs, cfg, start, end, backtest=backtest, warn=False)
        report = console(stderr=out is None)
        if out is None:
            from .escape import csv_frame, visible_frame

            # On a terminal a restaurant id's control characters would drive it: written
            # out there (\x1b); into a pipe or a file the ids stay exact, for `load`.
            table = visible_frame(result.demand) if sys.stdout.isatty() else result.demand
            csv_frame(table).to_csv(sys.stdout, index=False, lineterminator="\n")
        else:
            _write_table_atomically(result.demand, out)
        show_report(report, result)
        if backtest and result.backtest is None:
            report.print("Backtest: the history holds a single day; nothing to test against")
        if out is not None:
            from rich.text import Text

            from .escape import visible
            from .views.fit import Hanging

            rows = len(result.demand)
            written = Text(visible(f"Demand table written to {out} ({rows:,} rows)"), style="dim")
            show_report(report, Hanging(written))


@app.command()
def replay(
    data_dir: Annotated[Path, typer.Argument(help="Folder with the input tables.")],
    orders: Annotated[
        Path,
        typer.Option(help="The orders that came: an orders .csv/.parquet file or a folder."),
    ],
    shift_start: Annotated[str, typer.Option(help="Shift start, ISO 8601 (city time).")],
    shift_end: Annotated[
        str | None, typer.Option(help="Shift end; default shift start + [shift] hours.")
    ] = None,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan", help="A plan folder to score (repeat for several).", file_okay=False
        ),
    ] = None,
    config: ConfigOpt = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Score plans against the orders that came: orders served per slot and over the shift.

    Per zone and slot, capacity = couriers present there x orders_per_courier_hour x
    slot hours; served = min(orders, capacity). "no plan" keeps every courier in its zone.
    """
    with exits():
        cfg = load_cli_config(config, data_dir)
        start = parse_shift(shift_start, cfg)
        end = parse_shift(shift_end, cfg, "--shift-end")
        from .replaying import replay as run_replay

        _check_slots(cfg, start, end)
        inputs = _load(data_dir, cfg)
        result = run_replay(inputs, orders, cfg, start, end, plans=list(plan or []), warn=False)
        if format is OutputFormat.json:
            sys.stdout.write(result.to_json())
            for note in result.notes:
                err(f"note: {note}", color="yellow")
        else:
            show_report(console(), result)


# ------------------------------------------------------- the Slack app (#18)


@app.command()
def serve(
    config: Annotated[
        Path, typer.Option("--config", help="TOML configuration of the city.", dir_okay=False)
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 3000,
    socket_mode: Annotated[
        bool,
        typer.Option(
            "--socket-mode", help="Connect to Slack over Socket Mode (SLACK_APP_TOKEN) instead."
        ),
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option("--log-format", help="json (one event per line on stdout) or text."),
    ] = LogFormat.auto,
) -> None:
    """Run the Slack app: /rebalance commands and Approve / Hold buttons, on POST /slack/events.

    Needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN with
    --socket-mode). GET /healthz answers 200 once ready. Stops cleanly on SIGTERM.
    """
    from .logs import setup_logging

    setup_logging(log_format.value, verbose=1)
    with exits():
        cfg = load_cli_config(config)
        from .app.server import ListenError
        from .app.server import serve as run_server

        _fit_memory_policy(cfg.data_dir)  # the city it re-plans, for as long as it runs

        try:
            code = run_server(cfg, host=host, port=port, socket_mode=socket_mode)
        except ListenError as exc:
            raise typer.BadParameter(str(exc), param_hint="--host/--port") from None
    raise typer.Exit(code)


overrides_app = typer.Typer(
    help="Restaurant overrides made from Slack (/rebalance close|open), applied to later plans.",
    add_completion=False,
    no_args_is_help=True,
)
app.add_typer(overrides_app, name="overrides")


@overrides_app.command("list")
def overrides_list(
    config: StoreConfigOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Include cleared overrides.")] = False,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """List the city's overrides (who, when, for which shift), oldest first."""
    from .overrides import overrides_json, overrides_table

    with exits():
        cfg = load_cli_config(config)
    store = _open_history(config)
    records = [] if store is None else store.overrides(city=cfg.city.name, active=not all_)
    if store is not None:
        store.close()
    if format is OutputFormat.json:
        sys.stdout.write(overrides_json(records))
    elif not records:
        from .escape import terminal

        where = _no_store(config) if store is None else ""
        console().print(f"no overrides for {terminal(cfg.city.name, one_line=True)}{where}")
    else:
        console().print(overrides_table(records, cfg.city.timezone))


@overrides_app.command("clear")
def overrides_clear(
    config: StoreConfigOpt = None,
    restaurant: Annotated[
        str | None, typer.Option(help="Only this restaurant's overrides.")
    ] = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only these override ids (repeatable).")
    ] = None,
) -> None:
    """Clear the city's active overrides (all, one restaurant's, or some ids): later
    plans read the data files as they are."""
    import getpass

    with exits():
        cfg = load_cli_config(config)
    store = _open_history(config, read_only=False)
    n = 0
    if store is not None:
        n = store.clear_overrides(
            city=cfg.city.name, restaurant_id=restaurant, override_ids=ids, by=getpass.getuser()
        )
        store.close()
    if n == 0 and (ids or restaurant):
        asked = " ".join(
            [
                *(f"--id {i}" for i in ids or []),
                *([f"--restaurant {restaurant}"] if restaurant else []),
            ]
        )
        err(
            f"cleared nothing: no active override of {cfg.city.name} matches {asked} "
            "(`rebalance overrides list` shows them)",
            color="yellow",
        )
        return
    from .views.wording import plural

    err(f"cleared {plural(n, 'override')} of {cfg.city.name}", color="green")


slack_app = typer.Typer(help="The Slack app's set-up.", add_completion=False, no_args_is_help=True)
app.add_typer(slack_app, name="slack")


@slack_app.command("manifest")
def slack_manifest(
    url: Annotated[
        str | None,
        typer.Option(
            help="Public HTTPS URL of `rebalance serve` (e.g. https://rebalance.example.com); "
            "/slack/events is added if missing."
        ),
    ] = None,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="For `serve --socket-mode`: no request URL.")
    ] = False,
    name: Annotated[str, typer.Option(help="The app's name in Slack.")] = "rebalance",
) -> None:
    """Print the app manifest (JSON) to paste in api.slack.com/apps > Create New App."""
    from .app.manifest import manifest_json

    if not socket_mode:
        if not url:
            raise typer.BadParameter(
                "give the public HTTPS URL of `rebalance serve` (or --socket-mode)",
                param_hint="--url",
            )
        if not url.startswith("https://"):
            raise typer.BadParameter("Slack only calls https:// URLs", param_hint="--url")
        if not url.rstrip("/").endswith("/slack/events"):
            url = url.rstrip("/") + "/slack/events"
    sys.stdout.write(manifest_json(url, name=name, socket_mode=socket_mode))


# ------------------------------------------------------------------- explain


@app.command()
def explain(
    plan_dir: Annotated[
        Path, typer.Argument(help="Plan folder written by `rebalance plan --out`.")
    ],
    zone: Annotated[
        str | None, typer.Option("--zone", help="Explain this zone only (a zone_id of the plan).")
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Why this plan: why each short zone stays short, what each move saves, and where one
    more courier would help most (marginal value in minutes). Reads the plan folder only."""
    from .escape import json_dumps

    with exits():
        from .plan import read_plan

        the_plan = read_plan(plan_dir)
        if not the_plan.feasible:
            err(f"error: the plan in {plan_dir} is infeasible: {the_plan.message}")
            raise typer.Exit(4)
        try:
            expl = the_plan.explain(zone)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0]), param_hint="--zone") from None
        if format is OutputFormat.json:
            sys.stdout.write(json_dumps(expl.to_dict(), indent=2) + "\n")
        else:
            show_report(console(), expl)


# ----------------------------------------------------------------------- diff


@app.command()
def diff(
    plan_a: Annotated[Path, typer.Argument(help="The older plan folder.")],
    plan_b: Annotated[Path, typer.Argument(help="The newer plan folder.")],
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Say what changed from PLAN_A to PLAN_B: zones whose numbers changed, couriers
    added, dropped or re-routed (and the zone whose need changed), the KPIs side by side."""
    with exits():
        from .replan import read_plan_folder

        a = read_plan_folder(plan_a, "PLAN_A")
        b = read_plan_folder(plan_b, "PLAN_B")
        result = a.diff(b)
        if format is OutputFormat.json:
            sys.stdout.write(result.to_json())
        else:
            console().print(result)
        if a.city != b.city:
            err(f"note: the plans are of different cities ({a.city!r}, {b.city!r})", color="yellow")


def main() -> None:
    """Console-script entry point.

    The cyclic garbage collector is off while a command runs, but for the commands of
    `_COLLECTING`. Every other one is a single plan or file and then exits: its imports
    and tables made the collector run ~200 times (0.05-0.1 s of a plan at 1,000 to
    10,000 zones) and free ~900 objects, with the same peak RSS either way; whatever
    is cyclic is released when the process ends.
    """
    global _command_line
    _closed_streams_to_devnull()
    _escape_what_streams_cannot_encode()
    _command_line = True
    collecting = gc.isenabled()
    gc.disable()
    try:
        app()
    except OSError as exc:
        # what a command prints outside `exits` (history, config show, overrides list,
        # slack manifest) to a full disk: the same line and exit 1, not a traceback
        if not _stdout_refused(exc):
            raise
        _say_output_failed(exc)
        raise SystemExit(1) from None
    finally:
        # The command has finished and flushed its output. The garbage collection that
        # runs at exit would walk every object of pandas, Arrow and OR-Tools (40-90 ms
        # of a 1.5 s plan); frozen, they are skipped by it and still released as the
        # modules are torn down (atexit handlers run as before).
        gc.freeze()
        if collecting:  # as it was, for a caller of main() in its own process
            gc.enable()


#: Set by `main`: this process is the command line, which may tune its own allocator
#: (`_fit_memory_policy`); a library does not set its host's.
_command_line = False

#: Tables (bytes of text, `inputs.input_bytes`) from which the command line has glibc
#: give freed memory back at once (64 MiB): the 10,000-zone / 1M-courier city's files
#: are 165 MiB, the 1,000-zone / 100k one's 16 MiB.
_LARGE_INPUTS = 64 << 20


def _load(data_dir: str | Path, cfg: "Config") -> "Inputs":
    """`inputs.load`, after `_fit_memory_policy`, without the tables' own digests (a
    command plans them as read)."""
    from .inputs import load_tables

    _fit_memory_policy(data_dir)
    return load_tables(data_dir, cfg, per_table=False)


def _fit_memory_policy(data_dir: str | Path | None) -> None:
    """In the command line, `_give_memory_back_sooner` before the tables of ``data_dir``
    are read, when they are large (`_LARGE_INPUTS`). There it bounds the peak (10,000
    zones / 1M couriers: 591-611 -> 536-554 MB, set here or at start alike); on small
    tables it only costs time (1,000 zones / 100k: median 1.19 -> 1.32 s, 10 runs
    alternated, as memory handed back is touched again) for a peak ~200 MB either way."""
    from .inputs import input_bytes

    if _command_line and data_dir is not None and input_bytes(data_dir) >= _LARGE_INPUTS:
        _give_memory_back_sooner()


#: glibc's ``mallopt`` parameter for the size above which a block gets its own mapping.
_M_MMAP_THRESHOLD = -3
#: What the command line sets it to: blocks up to 128 MB come from the heaps, as most of
#: a plan's arrays do anyway.
_MMAP_THRESHOLD = 128 << 20
#: glibc's ``mallopt`` parameter for how much free memory a heap's top may keep.
_M_TRIM_THRESHOLD = -1
#: What the command line sets it to: glibc's default, before any raising.
_TRIM_THRESHOLD = 128 << 10


def _give_memory_back_sooner() -> None:
    """Have glibc's malloc give freed memory back to the system at once, for the rest of
    this process (the command line's, on large tables: `_load`).

    By default glibc raises its thresholds as large blocks are freed: a heap may then keep
    up to 64 MB free at its top, the main heap and each thread's alike, and Arrow's
    reading threads, the texthash and pricing threads each have one. A plan at 10,000
    zones / 1M couriers ended up holding ~80 MB of freed memory there, more than its
    steps after the flow could reuse. Fixed thresholds turn that raising off, and a
    heap's free top then goes back as soon as it is over 128 KB (glibc's default): the
    plan's peak 604-622 -> 537-552 MB, for 7.20 -> 7.66 s (medians of 5, alternated;
    benchmarks/README.md, "thirty-fifth session"). Memory handed back is touched again
    when reused, which costs this project's VM ~2.5 ms per MB: that is the time added.

    Left as it is where the user set ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_`` (glibc's own settings, read at start), and off glibc."""
    if sys.platform != "linux" or any(
        name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    ):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl names its libc otherwise)
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # the trim threshold too: blocks freed before this call may have raised it already
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def _closed_streams_to_devnull() -> None:
    """A process started with standard output or error closed (``>&-`` in a crontab)
    has ``sys.stdout``/``sys.stderr`` None, and every write was an AttributeError: such a
    stream goes to the null device instead (opened in order, so a closed fd 1 or 2 is
    the one it takes), and the command runs as with ``>/dev/null``."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


#: The error handler `_escape_what_streams_cannot_encode` sets (`_json_escape`).
_ESCAPE_ERRORS = "rebalance-json-escape"


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: each character the stream cannot encode as JSON writes it,
    ``\\u2013`` (a character beyond U+FFFF as its two surrogates)."""
    import json

    if not isinstance(error, UnicodeEncodeError):
        raise error
    # json's own escapes: a character that cannot be encoded is never ASCII
    return json.dumps(error.object[error.start : error.end])[1:-1], error.end


def _escape_what_streams_cannot_encode() -> None:
    """Standard output and error in an encoding that is not UTF-8 (a latin-1 locale,
    ``PYTHONIOENCODING=ascii``) write each character they cannot encode as its JSON
    escape (`_json_escape`), instead of raising. The bundled city's en dash ended every
    plan in a traceback and exit 1, ``--format json`` stopped mid-document, and a run's
    JSON log lines were lost to "Logging error" tracebacks. Non-ASCII text stands only
    inside strings in the JSON written, so it stays valid JSON with the same values; in
    a table or a CSV the escape is shown as it is."""
    import codecs

    try:
        codecs.lookup_error(_ESCAPE_ERRORS)
    except LookupError:
        codecs.register_error(_ESCAPE_ERRORS, _json_escape)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        encoding = getattr(stream, "encoding", None)
        try:
            # (an error handler the user chose, PYTHONIOENCODING=ascii:replace, is theirs)
            strict = getattr(stream, "errors", "strict") == "strict"
            if (
                strict
                and encoding
                and codecs.lookup(encoding).name not in {"utf-8", "utf-16", "utf-32"}
            ):
                stream.reconfigure(errors=_ESCAPE_ERRORS)
        except (LookupError, AttributeError, ValueError, OSError):
            continue  # not a text stream that can be told (a test's capture)


if __name__ == "__main__":  # pragma: no cover
    main()
