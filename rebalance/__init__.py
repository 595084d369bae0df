"""rebalance: move couriers to where the orders are.

Data flows one way: files -> `load` -> `Inputs` -> `solve` -> `Plan` -> files, terminal,
Slack, history. The middle is pure, so a notebook can call it directly::

    import rebalance
    inputs = rebalance.load("data/samples/paris", rebalance.load_config("data/samples/paris/rebalance.toml"))
    plan = rebalance.solve(inputs, shift_start="2026-11-30T19:00")
    plan.zones, plan.moves, plan.kpis
    plan.write("out/paris")
"""

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
from .inputs import Inputs, load
from .model import ProblemData, build_problem
from .plan import Plan, read_plan
from .solve import solve, solve_problem

__version__ = "0.1.0"

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
    "load",
    "load_config",
    "read_plan",
    "solve",
    "solve_problem",
]
