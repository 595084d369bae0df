"""The `rebalance` command line (CONTRACT section 4), a thin layer over the library.

Heavy libraries (pandas, ortools, slack_sdk) are imported inside the commands so that
`rebalance --help` stays fast. Errors go to stderr with the contract's exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from .config import Config

app = typer.Typer(
    name="rebalance",
    help="Move couriers to where the orders are: plan a shift, publish it to Slack, run it from cron.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # cron mails want plain tracebacks, never locals
    rich_markup_mode="rich",
)

F = TypeVar("F", bound=Callable[..., Any])


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML configuration file. Default: DATA_DIR/rebalance.toml if present, else built-in defaults.",
        dir_okay=False,
    ),
]


def err(message: str, *, color: str = "red") -> None:
    """Print a message to stderr (never stdout, which scripts parse)."""
    typer.secho(message, err=True, fg=color)


@contextmanager
def exits() -> Iterator[None]:
    """Map rebalance errors to the contract's exit codes with a message on stderr."""
    from .errors import RebalanceError

    try:
        yield
    except RebalanceError as exc:
        err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from exc


def load_cli_config(config: Path | None, data_dir: Path | None = None) -> Config:
    """The --config file, else DATA_DIR/rebalance.toml, else defaults."""
    from .config import load_config

    if config is None and data_dir is not None and (data_dir / "rebalance.toml").is_file():
        config = data_dir / "rebalance.toml"
    return load_config(config)


def parse_shift(value: str | None, config: Config, option: str = "--shift-start") -> Any:
    """Parse a CLI timestamp in the city's timezone; a bad one is a usage error (exit 2)."""
    from .timeparse import parse_timestamp

    if value is None:
        return None
    try:
        return parse_timestamp(value, config.city.timezone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


# ------------------------------------------------------------------- validate


@app.command()
def validate(
    data_dir: Annotated[
        Path, typer.Argument(help="Folder with zones, restaurants, couriers tables.")
    ],
    config: ConfigOpt = None,
    shift_start: Annotated[
        str | None,
        typer.Option(help="Count couriers eligible for this shift start (ISO 8601; city time)."),
    ] = None,
) -> None:
    """Check a data directory and say what it holds; exit 3 listing every problem."""
    with exits():
        cfg = load_cli_config(config, data_dir)
        start = parse_shift(shift_start, cfg)
        from .inputs import load

        inputs = load(data_dir, cfg)
        _print_validation(inputs, cfg, start)


def _print_validation(inputs: Any, cfg: Config, start: Any) -> None:
    from rich.table import Table

    out = console()
    s = inputs.summary()
    out.print(f"[bold green]OK[/] {inputs.source}: valid input for {cfg.city.name}")
    out.print(f"  zones: {s['zones']}")
    out.print(
        f"  restaurants: {s['restaurants_open'] + s['restaurants_closed']} "
        f"({s['restaurants_open']} open, {s['restaurants_closed']} closed)"
    )
    if s["travel_times"] is not None:
        out.print(f"  travel_times: {s['travel_times']} rows (replace computed travel times)")
    couriers = inputs.couriers
    table = Table(title=None, box=None, padding=(0, 2))
    table.add_column("vehicle")
    if start is not None:
        from .model import build_problem

        problem = build_problem(inputs, cfg, start)
        elig = problem.eligible["vehicle"].value_counts()
        local = start.tz_convert(cfg.city.timezone)
        out.print(
            f"  couriers: {len(couriers)}, eligible for a shift starting {local:%Y-%m-%d %H:%M %Z}: "
            f"{len(problem.eligible)}"
        )
        table.add_column("couriers", justify="right")
        table.add_column("eligible", justify="right")
        for vehicle, n in couriers["vehicle"].value_counts().sort_index().items():
            table.add_row(str(vehicle), str(n), str(int(elig.get(vehicle, 0))))
        out.print(table)
        out.print(
            f"  required couriers: {int(problem.required.sum())} "
            f"(demand {problem.demand.sum():.1f} orders/h at "
            f"{cfg.demand.orders_per_courier_hour} per courier-hour)"
        )
    else:
        by_status = ", ".join(f"{n} {k}" for k, n in s["couriers_by_status"].items())
        out.print(f"  couriers: {len(couriers)} ({by_status})")
        table.add_column("couriers", justify="right")
        for vehicle, n in couriers["vehicle"].value_counts().sort_index().items():
            table.add_row(str(vehicle), str(n))
        out.print(table)
        out.print("  (give --shift-start to count eligible couriers)")


# ----------------------------------------------------------------------- plan


@app.command()
def plan(
    data_dir: Annotated[Path, typer.Argument(help="Folder with the input tables.")],
    shift_start: Annotated[
        str, typer.Option(help="Shift start, ISO 8601 (city time without offset).")
    ],
    shift_end: Annotated[
        str | None, typer.Option(help="Shift end; default shift start + 4 h.")
    ] = None,
    config: ConfigOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write moves.csv, zones.csv and plan.json here (atomically)."),
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", help="table for people, json for scripts.")
    ] = OutputFormat.table,
) -> None:
    """Solve the shift to proven optimality and show (and optionally write) the plan."""
    with exits():
        cfg = load_cli_config(config, data_dir)
        start = parse_shift(shift_start, cfg)
        end = parse_shift(shift_end, cfg, "--shift-end")
        if end is not None and end <= start:
            raise typer.BadParameter("must be after --shift-start", param_hint="--shift-end")
        from .errors import InfeasibleError
        from .inputs import load
        from .solve import solve

        inputs = load(data_dir, cfg)
        result = solve(inputs, cfg, start, end)
        if not result.feasible:
            raise InfeasibleError(
                f"no feasible plan: {result.message}", zones=result.infeasible_zones
            )
        if out is not None:
            try:
                result.write(out)
            except FileExistsError as exc:
                raise typer.BadParameter(str(exc), param_hint="--out") from None
        if format is OutputFormat.json:
            sys.stdout.write(result.to_json())
        else:
            console().print(result)
            if out is not None:
                console().print(f"[dim]Plan written to {out}/ (moves.csv, zones.csv, plan.json)[/]")


# ------------------------------------------------------------------- generate


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the synthetic city into.")],
    zones: Annotated[int, typer.Option(min=1, help="Number of zones.")],
    couriers: Annotated[int, typer.Option(min=0, help="Number of couriers.")],
    restaurants: Annotated[int, typer.Option(min=0, help="Number of restaurants.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 0,
    travel_times: Annotated[
        bool, typer.Option("--travel-times", help="Also write travel_times.csv.")
    ] = False,
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    shift_start: Annotated[
        str, typer.Option(help="Shift the availability windows are built around.")
    ] = "2026-11-30T19:00",
) -> None:
    """Write a synthetic city (zones, restaurants, couriers) for tests and benchmarks."""
    if format not in {"csv", "parquet"}:
        raise typer.BadParameter("use csv or parquet", param_hint="--format")
    with exits():
        from .generate import generate_city

        path = generate_city(
            out_dir,
            zones=zones,
            couriers=couriers,
            restaurants=restaurants,
            seed=seed,
            travel_times=travel_times,
            fmt=format,
            shift_start=shift_start,
        )
        err(f"wrote a synthetic city to {path}", color="green")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
