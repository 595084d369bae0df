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

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

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
        raise AttributeError(f"module 'rebalance' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
