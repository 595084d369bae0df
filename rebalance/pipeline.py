"""From a data folder to a plan and its files: the one path `plan`, `run`, `batch` and
scenarios take.

    data folder --load--> Inputs --solve_shift--> Plan (any status)
                                 --plan_shift---> Plan, or InfeasibleError (exit 4)
    Plan --write_plan--> plan folder, or OutputExistsError (exit 2)

Times are aware `pd.Timestamp`s here: text is parsed at the edges (the command line,
`rebalance.runner.run`, `rebalance.batch.run_batch`), once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InfeasibleError, OutputExistsError

if TYPE_CHECKING:
    import pandas as pd

    from .config import Config
    from .inputs import Inputs
    from .plan import Plan

__all__ = ["plan_folder", "plan_shift", "solve_shift", "write_plan"]


def solve_shift(
    inputs: Inputs,
    config: Config,
    shift_start: pd.Timestamp,
    shift_end: pd.Timestamp | None = None,
    *,
    previous: Plan | None = None,
    time_limit: float | None = None,
    verify: bool = True,
) -> Plan:
    """The plan of a shift, whatever its status (an infeasible plan says why).

    ``previous``: the plan already published for an overlapping shift (re-planning,
    CONTRACT section 9); ``time_limit``: seconds for the solver (default from config);
    ``verify``: see `rebalance.solve` (False for inputs this process loaded itself).
    """
    from .optimize import solve

    return solve(
        inputs,
        config,
        shift_start,
        shift_end,
        previous=previous,
        time_limit=time_limit,
        verify=verify,
        warn=False,  # the commands say it themselves, on stderr and in the run's log
    )


def plan_shift(
    inputs: Inputs,
    config: Config,
    shift_start: pd.Timestamp,
    shift_end: pd.Timestamp | None = None,
    *,
    previous: Plan | None = None,
    time_limit: float | None = None,
    verify: bool = True,
) -> Plan:
    """The plan of a shift; `InfeasibleError` (exit 4, carrying the plan) when there is
    none, in the words every command uses: ``no feasible plan: <why>``."""
    plan = solve_shift(
        inputs,
        config,
        shift_start,
        shift_end,
        previous=previous,
        time_limit=time_limit,
        verify=verify,
    )
    if not plan.feasible:
        raise InfeasibleError(
            f"no feasible plan: {plan.message}", zones=plan.infeasible_zones, plan=plan
        )
    return plan


def plan_folder(
    data_dir: str | Path,
    config: Config,
    shift_start: pd.Timestamp,
    shift_end: pd.Timestamp | None = None,
    *,
    previous: Plan | None = None,
    time_limit: float | None = None,
) -> Plan:
    """Load and validate ``data_dir`` (`DataError`, exit 3), then `plan_shift`."""
    from .inputs import load

    return plan_shift(
        load(data_dir, config),
        config,
        shift_start,
        shift_end,
        previous=previous,
        time_limit=time_limit,
        verify=False,
    )


def write_plan(plan: Plan, directory: str | Path, *, overwrite: bool = True) -> Path:
    """Write the plan folder atomically (`Plan.write`); a folder holding other files
    (or, without ``overwrite``, a plan already) is an `OutputExistsError` (exit 2)."""
    try:
        return plan.write(directory, overwrite=overwrite)
    except OutputExistsError:
        raise
    except FileExistsError as exc:
        raise OutputExistsError(str(exc), option="--out") from None
