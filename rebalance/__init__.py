"""rebalance: move couriers to where the orders are.

Data flows one way: files -> `load` -> `Inputs` -> `solve` -> `Plan` -> files, terminal,
Slack, history. The middle is pure, so a notebook can call it directly::

    import rebalance
    config = rebalance.load_config("data/samples/paris/rebalance.toml")
    inputs = rebalance.load("data/samples/paris", config)
    plan = rebalance.solve(inputs, config, shift_start="2026-11-30T19:00")
    plan.zones, plan.moves, plan.kpis
    plan.write("out/paris")

Names are imported lazily so that `rebalance --help` does not pay for pandas and OR-Tools.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"


def _use_system_allocator() -> None:
    """Make Arrow allocate with the C library's malloc, as numpy does, not mimalloc.

    `load` reads each file into an Arrow table and drops most of it; with Arrow's own
    allocator (mimalloc) those freed pages stay with mimalloc, out of reach of the
    numpy arrays the model is built in next, which then take new pages. With one
    allocator they are reused. At 10,000 zones / 1M couriers (2026-12-04, three runs of
    each in each memory state): peak RSS 915-923 MB instead of 1,005-1,012 MB and, with
    fresh memory, 8.67 s instead of 9.82 s (benchmarks/README.md). Set the variable
    (``mimalloc``, ``jemalloc`` or ``system``) to choose another; a process that
    imported pyarrow first gets the pool switched for what it allocates from now on.
    Child processes (`rebalance batch` workers) inherit the variable.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return  # the user's choice
    pa = sys.modules.get("pyarrow")
    if pa is None:  # read by Arrow when it first allocates
        os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"
    else:
        pa.set_memory_pool(pa.system_memory_pool())


_use_system_allocator()

_EXPORTS: dict[str, str] = {
    "Config": "config",
    "ConfigError": "errors",
    "DataError": "errors",
    "InfeasibleError": "errors",
    "InputError": "errors",
    "Inputs": "inputs",
    "Issue": "errors",
    "LockHeldError": "errors",
    "Plan": "plan",
    "PlanWarning": "errors",
    "ProblemData": "model",
    "PublishError": "errors",
    "RebalanceError": "errors",
    "build_problem": "model",
    "forecast": "forecasting",
    "load": "inputs",
    "load_config": "config",
    "load_orders": "orders",
    "read_plan": "plan",
    "replay": "replaying",
    "solve": "optimize",
    "solve_problem": "optimize",
}

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "InfeasibleError",
    "InputError",
    "Inputs",
    "Issue",
    "LockHeldError",
    "Plan",
    "PlanWarning",
    "ProblemData",
    "PublishError",
    "RebalanceError",
    "build_problem",
    "forecast",
    "load",
    "load_config",
    "load_orders",
    "read_plan",
    "replay",
    "solve",
    "solve_problem",
]
assert sorted(__all__) == sorted(_EXPORTS)

if TYPE_CHECKING:
    from .config import Config, load_config
    from .errors import (
        ConfigError,
        DataError,
        InfeasibleError,
        InputError,
        Issue,
        LockHeldError,
        PlanWarning,
        PublishError,
        RebalanceError,
    )
    from .forecasting import forecast
    from .inputs import Inputs, load
    from .model import ProblemData, build_problem
    from .optimize import solve, solve_problem
    from .orders import load_orders
    from .plan import Plan, read_plan
    from .replaying import replay


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        # a submodule, as ``import scipy`` gives ``scipy.stats``: the README's
        # ``rebalance.forecasting.run_forecast(...)`` after a plain ``import rebalance``
        if not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
            return import_module(f".{name}", __name__)  # the import binds it here too
        raise AttributeError(f"module 'rebalance' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
