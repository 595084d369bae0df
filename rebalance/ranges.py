"""The supported range of every number a user gives, and why it is that range.

The solver is exact because it works on integers: costs are int64 thousandths of a
minute (`SCALE` = 1000 per minute). Finite but absurd numbers (a priority of
1e300, a cap of 1e20, 1e12 orders per hour) would overflow those integers, or make
the exact pause-list search allocate petabytes, and end in a false "no feasible plan"
or a crash. So each number is bounded where it enters (`inputs` for the tables,
`config` for the TOML), with these limits, and the bounds are derived here:

- OR-Tools' min-cost flow refuses a network where the largest |arc cost| times
  (nodes + 1) exceeds int64 (``BAD_COST_RANGE``). The largest arc cost is a zone's
  shortage weight ``shortage_minutes x priority`` or a move ``max_move_minutes +
  move_fixed_minutes``, times SCALE. With the limits below it is at most
  ``MAX_COST_MINUTES x MAX_PRIORITY x SCALE`` = 1e11, so networks of up to
  `MAX_NODES` (1e7) nodes, far beyond any city's zones x vehicles, stay exact.
- The flow's total cost is at most (couriers) x 2 arcs x that largest cost: below
  int64 for up to `MAX_NODES` couriers. LEMON's network simplex (pylmcf), which solves
  the flow's small repairs, takes costs up to 2**62 and needs the same totals in int64
  (its potentials are its artificial cost, 2**62, plus path costs below 2e18).
- A short zone's pause list is an exact search over sums of thousandths of an order,
  its memory grows with the zone's demand: `MAX_ZONE_ORDERS_PER_HOUR` keeps it under
  ~100 MB.
- Timestamps are nanoseconds in int64 (pandas): years 1678 to 2261.

`test_ranges.py` checks these inequalities and plans a city at the limits.
"""

from __future__ import annotations

import math

__all__ = [
    "INT64_MAX",
    "MAX_CAP",
    "MAX_COST_MINUTES",
    "MAX_DETOUR_FACTOR",
    "MAX_MOVE_MINUTES",
    "MAX_NODES",
    "MAX_ORDERS_PER_HOUR",
    "MAX_PRIORITY",
    "MAX_SHIFT_HOURS",
    "MAX_SLOT_MINUTES",
    "MAX_SPEED_KMH",
    "MAX_TIMESTAMP",
    "MAX_TIME_LIMIT_SECONDS",
    "MAX_WINDOW_MINUTES",
    "MAX_ZONE_ORDERS_PER_HOUR",
    "MIN_ORDERS_PER_COURIER_HOUR",
    "MIN_TIMESTAMP",
    "SCALE",
    "finite_number",
]

#: Integer cost units per minute (and slot weight): the solver's costs are whole
#: thousandths of a minute (`rebalance.model`); `config` refuses a cost that rounds to 0.
SCALE = 1000

INT64_MAX = 2**63 - 1
#: Nodes of the largest flow network the limits keep exact (groups + zones + sink).
MAX_NODES = 10**7

#: `[costs]` minutes: shortage, surplus, move_fixed, change (about 70 days).
MAX_COST_MINUTES = 100_000.0
#: zones.csv `priority`.
MAX_PRIORITY = 1_000.0
#: `max_move_minutes` of a vehicle and `[eligibility] min_available_minutes` (a week).
MAX_MOVE_MINUTES = 10_080.0
MAX_WINDOW_MINUTES = 10_080.0
#: `[shift] hours`, and a shift given by `--shift-end`: two days. A year-long shift of
#: one-minute slots asked for 525,600 slots' arrays and ended in MemoryError (exit 1).
MAX_SHIFT_HOURS = 48.0
#: `[shift] slot_minutes` (the longest shift, 48 h).
MAX_SLOT_MINUTES = 48 * 60
#: zones.csv `max_couriers`.
MAX_CAP = 1_000_000
#: restaurants.csv `expected_orders_per_hour`, and the open demand of one zone.
MAX_ORDERS_PER_HOUR = 10_000.0
MAX_ZONE_ORDERS_PER_HOUR = 10_000.0
#: `[demand] orders_per_courier_hour`: a zone then needs at most 1,000,000 couriers.
MIN_ORDERS_PER_COURIER_HOUR = 0.01
#: `speed_kmh` of a vehicle, and `[travel] detour_factor`.
MAX_SPEED_KMH = 1_000.0
MAX_DETOUR_FACTOR = 10.0
#: `[solver] time_limit_seconds` and `--time-limit` (a week): OR-Tools takes the limit as
#: int64 milliseconds, and 1e17 s overflowed it (a crash, exit 1) after validate passed.
MAX_TIME_LIMIT_SECONDS = 604_800.0
#: Timestamps pandas holds (nanoseconds in int64), rounded inwards to whole years.
MIN_TIMESTAMP = "1678-01-01"
MAX_TIMESTAMP = "2262-01-01"


def largest_arc_cost(scale: int) -> float:
    """The largest |unit cost| of any arc the limits allow, in integer cost units."""
    shortage = MAX_COST_MINUTES * MAX_PRIORITY
    move = MAX_MOVE_MINUTES + 2 * MAX_COST_MINUTES  # fixed cost, and a re-plan's change cost
    return max(shortage, move, MAX_COST_MINUTES) * scale


def finite_number(value: object, *, none: bool = False) -> bool:
    """Whether ``value`` is a finite int or float, not a bool (or None, where ``none``):
    what a number read back from a plan's JSON must be before a view formats it."""
    if value is None:
        return none
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
