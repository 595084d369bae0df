"""What-if scenarios: describe a change as data, apply it to inputs, solve many, compare.

A `Scenario` is a frozen value: which restaurants close, how many couriers do not show
up, how much slower every vehicle is, a different demand or cost setting, zone caps.
`apply` turns it into new `Inputs` and `Config` without touching the originals, and
`sweep` solves a list of them into one comparison table::

    from rebalance.scenarios import Scenario, sweep, vary

    scenarios = [Scenario("baseline"), Scenario("rain", slowdown=0.2),
                 *vary("no_show_rate", [0.1, 0.2, 0.3])]
    table = sweep(scenarios, inputs, config, "2026-11-30T19:00")
    table, zones = sweep(scenarios, inputs, config, "2026-11-30T19:00", zones=True)

Randomness is seeded and keyed, so a scenario gives the same plan on every machine:
no-shows are drawn with ``numpy.random.default_rng(seed)`` over the available couriers
sorted by ``courier_id``; a zone's closures with a generator seeded by ``(seed, zone)``
over its open restaurants sorted by ``restaurant_id``. Draws are permutation prefixes,
so with one seed the no-shows at 20% include those at 10% and sweeps move smoothly.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, NoReturn, TypeVar, overload

import numpy as np
import pandas as pd

from . import ranges
from .config import Config
from .errors import ConfigError, DataError
from .inputs import TABLES, Inputs, as_inputs, config_for, isin_text, rechecked
from .pipeline import solve_shift
from .plan import ZONES_COLUMNS, Plan
from .views.wording import percent, plural

__all__ = [
    "FrozenMap",
    "Scenario",
    "SweepResult",
    "apply",
    "run_scenario",
    "solve_scenario",
    "sweep",
    "vary",
]

K = TypeVar("K")
V = TypeVar("V")

#: Config sections a scenario may change through ``config_changes``.
CONFIG_SECTIONS = frozenset({"demand", "eligibility", "costs", "travel", "vehicles"})

#: KPI columns of the comparison table, in this order; other KPIs follow.
KPI_ORDER = (
    "coverage_before",
    "coverage",
    "shortage_before",
    "shortage",
    "zones_short",
    "moved_couriers",
    "travel_minutes",
    "eligible_couriers",
    "required_couriers",
    "surplus",
    "paused_orders_per_hour",
)
_BREAKDOWN = {
    "move_minutes": "objective_move",
    "shortage_minutes": "objective_shortage",
    "surplus_minutes": "objective_surplus",
}
_LEAD = ("scenario", "description", "status", "objective")
_TAIL = (
    "no_show_rate",
    "slowdown",
    "demand_factor",
    "orders_per_courier_hour",
    "shortage_minutes",
    "restaurants_closed",
    "couriers_no_show",
    "seed",
    "plan_id",
    "message",
)


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable, picklable mapping (a scenario's per-zone settings)."""

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenMap((k, _freeze(v)) for k, v in value.items())
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Scenario:
    """A what-if, as data. Every field but ``name`` defaults to "no change".

    - ``close_restaurants``: restaurant ids to close.
    - ``close_share``: ``{zone_id: share}``, close that share (0..1) of the zone's open
      restaurants, drawn at random (rounded to the nearest whole restaurant).
    - ``no_show_rate``: share (0..1) of the available couriers who do not show up.
    - ``slowdown``: rain or traffic; 0.2 makes every vehicle 20% slower (speed / 1.2,
      travel_times minutes x 1.2), so fewer moves fit in ``max_move_minutes``.
      Negative down to > -1 means faster.
    - ``demand_factor``: multiplies every restaurant's expected orders per hour, and
      each rate of the demand table (which replaces them in its slots).
    - ``orders_per_courier_hour``, ``shortage_minutes``: replace the config values.
    - ``zone_caps``: ``{zone_id: max_couriers}``; None removes a zone's cap.
    - ``config_changes``: any other config keys, as for `Config.with_changes`, e.g.
      ``{"vehicles": {"bike": {"max_move_minutes": 25}}}``.
    - ``seed``: seeds the random draws (no-shows, closures).

    Values are checked on construction; a bad one raises ValueError naming the field.
    """

    name: str
    close_restaurants: tuple[str, ...] = ()
    close_share: Mapping[str, float] = field(default_factory=FrozenMap)
    no_show_rate: float = 0.0
    slowdown: float = 0.0
    demand_factor: float = 1.0
    orders_per_courier_hour: float | None = None
    shortage_minutes: float | None = None
    zone_caps: Mapping[str, int | None] = field(default_factory=FrozenMap)
    config_changes: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMap)
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"Scenario name must be a non-empty string, got {self.name!r}")
        set_ = object.__setattr__
        set_(self, "close_restaurants", self._ids(self.close_restaurants))
        set_(self, "close_share", self._shares(self.close_share))
        set_(self, "no_show_rate", self._number("no_show_rate", self.no_show_rate, 0, 1))
        set_(self, "slowdown", self._number("slowdown", self.slowdown, -1, None, lo_open=True))
        set_(self, "demand_factor", self._number("demand_factor", self.demand_factor, 0, None))
        # the configuration's own ranges, checked here: out of them they failed only
        # when applied, blamed on config_changes and the toml file
        if self.orders_per_courier_hour is not None:
            opch = self._number(
                "orders_per_courier_hour",
                self.orders_per_courier_hour,
                ranges.MIN_ORDERS_PER_COURIER_HOUR,
                None,
            )
            set_(self, "orders_per_courier_hour", opch)
        if self.shortage_minutes is not None:
            cost = self._number(
                "shortage_minutes", self.shortage_minutes, 0, ranges.MAX_COST_MINUTES
            )
            set_(self, "shortage_minutes", cost)
        set_(self, "zone_caps", self._caps(self.zone_caps))
        set_(self, "config_changes", self._config_changes(self.config_changes))
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, numbers.Integral)
            or self.seed < 0
        ):
            self._fail("seed", "must be a whole number >= 0", self.seed)
        set_(self, "seed", int(self.seed))

    # ------------------------------------------------------------------ checks
    def _fail(self, name: str, rule: str, value: Any) -> NoReturn:
        raise ValueError(f"Scenario {self.name!r}: {name} {rule}, got {value!r}")

    def _number(
        self, name: str, value: Any, lo: float, hi: float | None, *, lo_open: bool = False
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self._fail(name, "must be a number", value)
        number = float(value)
        too_low = number <= lo if lo_open else number < lo
        if not math.isfinite(number) or too_low or (hi is not None and number > hi):
            bounds = f"{'>' if lo_open else '>='} {lo:g}" + (
                f" and <= {hi:g}" if hi is not None else ""
            )
            self._fail(name, f"must be a finite number {bounds}", value)
        return number

    def _zone_key(self, name: str, key: Any) -> str:
        if not isinstance(key, str) or not key:
            self._fail(name, "keys must be zone ids as strings (e.g. '75101')", key)
        return str(key)

    def _ids(self, value: Any) -> tuple[str, ...]:
        items = (value,) if isinstance(value, str) else value
        try:
            ids = tuple(items)
        except TypeError:
            self._fail("close_restaurants", "must be a list of restaurant ids", value)
        for rid in ids:
            if not isinstance(rid, str) or not rid:
                self._fail("close_restaurants", "must hold restaurant ids as strings", rid)
        return ids

    def _shares(self, value: Any) -> FrozenMap[str, float]:
        if not isinstance(value, Mapping):
            self._fail("close_share", "must be a mapping {zone_id: share}", value)
        return FrozenMap(
            (
                self._zone_key("close_share", k),
                self._number(f"close_share[{k!r}]", v, 0, 1),
            )
            for k, v in value.items()
        )

    def _caps(self, value: Any) -> FrozenMap[str, int | None]:
        if not isinstance(value, Mapping):
            self._fail("zone_caps", "must be a mapping {zone_id: max_couriers}", value)
        caps: dict[str, int | None] = {}
        for key, cap in value.items():
            zone = self._zone_key("zone_caps", key)
            if cap is not None and (
                isinstance(cap, bool) or not isinstance(cap, numbers.Integral) or cap < 0
            ):
                self._fail(f"zone_caps[{zone!r}]", "must be a whole number >= 0 or None", cap)
            caps[zone] = None if cap is None else int(cap)
        return FrozenMap(caps)

    def _config_changes(self, value: Any) -> FrozenMap[str, Any]:
        if not isinstance(value, Mapping):
            self._fail("config_changes", "must be a mapping {section: {key: value}}", value)
        for section, keys in value.items():
            if section not in CONFIG_SECTIONS:
                self._fail(
                    "config_changes",
                    f"may change the sections {', '.join(sorted(CONFIG_SECTIONS))}",
                    section,
                )
            if not isinstance(keys, Mapping):
                self._fail(f"config_changes[{section!r}]", "must be a mapping of keys", keys)
        frozen: FrozenMap[str, Any] = _freeze(value)
        return frozen

    # ------------------------------------------------------------------ views
    @property
    def is_baseline(self) -> bool:
        """Whether the scenario changes nothing."""
        return self.describe() == "no change"

    def describe(self) -> str:
        """The changes in a few words, e.g. ``'20% no-shows; vehicles 20% slower'``."""
        parts: list[str] = []
        if self.close_restaurants:
            n = len(self.close_restaurants)
            parts.append(f"close {plural(n, 'restaurant')}")
        if self.close_share:
            zones = ", ".join(f"{_pct(s)} in {z}" for z, s in sorted(self.close_share.items()))
            parts.append(f"close restaurants: {zones}")
        if self.no_show_rate:
            parts.append(f"{_pct(self.no_show_rate)} no-shows")
        if self.slowdown:
            word = "slower" if self.slowdown > 0 else "faster"
            parts.append(f"vehicles {_pct(abs(self.slowdown))} {word}")
        if self.demand_factor != 1.0:
            parts.append(f"demand x{self.demand_factor:g}")
        if self.orders_per_courier_hour is not None:
            parts.append(f"{self.orders_per_courier_hour:g} orders per courier-hour")
        if self.shortage_minutes is not None:
            parts.append(f"shortage cost {self.shortage_minutes:g} min")
        if self.zone_caps:
            caps = ", ".join(
                f"{z} {'uncapped' if c is None else f'<= {c}'}"
                for z, c in sorted(self.zone_caps.items())
            )
            parts.append(f"caps: {caps}")
        for key, value in _flatten(_thaw(self.config_changes)):
            parts.append(f"{key} = {value}")
        return "; ".join(parts) if parts else "no change"


def _pct(x: float) -> str:
    return percent(x, significant=3)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict):
            out.extend(_flatten(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def vary(
    field_name: str,
    values: Iterable[Any],
    *,
    base: Scenario | None = None,
    label: str | None = None,
) -> list[Scenario]:
    """One scenario per value of one field: ``vary("no_show_rate", [0.1, 0.2, 0.3])``.

    Names read ``"no_show_rate=0.1"`` (``label`` replaces the field name); with a named
    ``base`` they read ``"rain, no_show_rate=0.1"``.
    """
    names = {f.name for f in dataclasses.fields(Scenario)} - {"name"}
    if field_name not in names:
        raise ValueError(
            f"vary: unknown scenario field {field_name!r}; use one of {', '.join(sorted(names))}"
        )
    base = base or Scenario("baseline")
    prefix = "" if base.name == "baseline" else f"{base.name}, "
    return [
        dataclasses.replace(
            base,
            name=f"{prefix}{label or field_name}={_show(value)}",
            **{field_name: value},
        )
        for value in values
    ]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ------------------------------------------------------------------------ apply


def apply(
    scenario: Scenario, inputs: Inputs, config: Config | None = None, *, verify: bool = True
) -> tuple[Inputs, Config]:
    """The inputs and configuration of a scenario; ``inputs`` and ``config`` are unchanged.

    Raises ValueError naming the field when the scenario refers to a restaurant or zone
    that the inputs do not have, or when a ``config_changes`` key is invalid, and
    (``verify``) when the tables it keeps were edited in place (`Inputs.replace`).
    """
    new_inputs, new_config, _ = _apply(scenario, inputs, config, verify=verify)
    return new_inputs, new_config


def _apply(
    scenario: Scenario, inputs: Inputs, config: Config | None, *, verify: bool
) -> tuple[Inputs, Config, set[str]]:
    """`apply`, and the names of the tables the scenario changed."""
    if not isinstance(scenario, Scenario):
        raise TypeError(f"apply needs a Scenario, got {type(scenario).__name__}")
    # the data folder or the toml path in their place met "'str' object has no
    # attribute 'zones'" below; this says what to pass (as `solve` does)
    inputs = as_inputs(inputs, "apply(scenario, inputs, config)")
    config = config_for(inputs, config, "apply(scenario, inputs, config)")
    known_zones = set(inputs.zones["zone_id"].astype(str))
    for name, mapping in (("close_share", scenario.close_share), ("zone_caps", scenario.zone_caps)):
        unknown = sorted(set(mapping) - known_zones)
        if unknown:
            raise ValueError(
                f"Scenario {scenario.name!r}: {name} names unknown zones {_listed(unknown)}"
            )
    tables = _tables(scenario, inputs)
    try:
        new_inputs = inputs.replace(verify=verify, **tables) if tables else inputs
    except DataError as exc:  # demand_factor=1e6: rates past what a restaurant can have
        first = exc.problems[0] if exc.problems else exc
        raise ValueError(
            f"Scenario {scenario.name!r}: {scenario.describe()} makes inputs no plan can take: "
            f"{first} ({plural(len(exc.problems), 'problem')})"
        ) from exc
    return new_inputs, _config(scenario, config), set(tables)


def _tables(scenario: Scenario, inputs: Inputs) -> dict[str, pd.DataFrame]:
    """The tables a scenario changes, as `Inputs.replace` takes them."""
    tables: dict[str, pd.DataFrame] = {}
    restaurants = _restaurants(scenario, inputs.restaurants)
    if restaurants is not None:
        tables["restaurants"] = restaurants
    if scenario.no_show_rate > 0:
        tables["couriers"] = _no_shows(scenario, inputs.couriers)
    if scenario.zone_caps:
        zones = inputs.zones.copy()
        for zone, cap in scenario.zone_caps.items():
            zones.loc[zones["zone_id"] == zone, "max_couriers"] = np.nan if cap is None else cap
        tables["zones"] = zones
    if scenario.demand_factor != 1 and inputs.demand is not None and len(inputs.demand):
        # the demand table replaces the restaurants' rates in its slots: scaled alike
        demand = inputs.demand.copy()
        demand["expected_orders_per_hour"] = (
            demand["expected_orders_per_hour"] * scenario.demand_factor
        )
        tables["demand"] = demand
    if scenario.slowdown and inputs.travel_times is not None:
        travel = inputs.travel_times.copy()
        travel["minutes"] = travel["minutes"] * (1.0 + scenario.slowdown)
        tables["travel_times"] = travel
    return tables


def _listed(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" ... ({len(items)} in all)" if len(items) > limit else "")


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-9)


def _restaurants(scenario: Scenario, restaurants: pd.DataFrame) -> pd.DataFrame | None:
    """Restaurants with the scenario's closures and demand factor, or None if unchanged.

    Column-wise (Arrow's kernels, no Python string per row): at 2.5 million restaurants
    the ids as numpy text, their set and ``np.isin`` took ~2.4 s of each scenario."""
    if not (scenario.close_restaurants or scenario.close_share or scenario.demand_factor != 1):
        return None
    rest = restaurants.copy()
    ids = rest["restaurant_id"]
    closing = np.zeros(len(rest), dtype=bool)
    if scenario.close_restaurants:
        wanted = sorted(set(scenario.close_restaurants))
        closing |= isin_text(ids, wanted)
        unknown = sorted(set(wanted) - set(ids[closing].astype(str)))
        if unknown:
            raise ValueError(
                f"Scenario {scenario.name!r}: close_restaurants names unknown restaurant ids "
                f"{_listed(unknown)}"
            )
    is_open = rest["status"].eq("open").to_numpy(dtype=bool, na_value=False) & ~closing
    zone_of = rest["zone_id"]
    for zone, share in sorted(scenario.close_share.items()):
        in_zone = zone_of.eq(zone).to_numpy(dtype=bool, na_value=False)
        positions = np.flatnonzero(is_open & in_zone)
        positions = positions[_by_id(ids, positions)]
        count = _round_half_up(share * positions.size)
        rng = np.random.default_rng([scenario.seed, zlib.crc32(zone.encode("utf-8"))])
        closing[positions[rng.permutation(positions.size)[:count]]] = True
    if closing.any():
        rest.loc[closing, "status"] = "closed"
    if scenario.demand_factor != 1:
        rest["expected_orders_per_hour"] = rest["expected_orders_per_hour"] * scenario.demand_factor
    return rest


def _by_id(ids: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The order of the rows ``positions`` by their id: the stable order of the ids as
    numpy text (code points; trailing NULs dropped), by Arrow's sort (1M couriers'
    ids: ~1 s as numpy text)."""
    from .optimize import _id_text, _text_order

    return _text_order(_id_text(ids.iloc[positions]))


def _no_shows(scenario: Scenario, couriers: pd.DataFrame) -> pd.DataFrame:
    """Couriers with a seeded share of the available ones set offline."""
    out = couriers.copy()
    available = np.flatnonzero(out["status"].eq("available").to_numpy(dtype=bool, na_value=False))
    available = available[_by_id(out["courier_id"], available)]
    count = _round_half_up(scenario.no_show_rate * available.size)
    rng = np.random.default_rng(scenario.seed)
    chosen = available[rng.permutation(available.size)[:count]]
    mask = np.zeros(len(out), dtype=bool)
    mask[chosen] = True
    if mask.any():
        out.loc[mask, "status"] = "offline"
    return out


def _config(scenario: Scenario, config: Config) -> Config:
    """The scenario's configuration: ``config_changes`` first, then the named fields."""
    try:
        if scenario.config_changes:
            config = config.with_changes(**_thaw(scenario.config_changes))
    except ConfigError as exc:
        raise ValueError(f"Scenario {scenario.name!r}: config_changes: {_keys(exc)}") from exc
    try:
        sections: dict[str, dict[str, Any]] = {}
        if scenario.orders_per_courier_hour is not None:
            sections["demand"] = {"orders_per_courier_hour": scenario.orders_per_courier_hour}
        if scenario.shortage_minutes is not None:
            sections["costs"] = {"shortage_minutes": scenario.shortage_minutes}
        if scenario.slowdown:
            sections["vehicles"] = {
                name: {"speed_kmh": vehicle.speed_kmh / (1.0 + scenario.slowdown)}
                for name, vehicle in config.vehicles.items()
            }
        return config.with_changes(**sections) if sections else config
    except ConfigError as exc:  # a slowdown taking a vehicle's speed out of range
        raise ValueError(
            f"Scenario {scenario.name!r}: {scenario.describe()}: {_keys(exc)}"
        ) from exc


def _keys(exc: ConfigError) -> str:
    """The problems of a scenario's configuration, without the file it was applied to:
    the keys are the scenario's, not that file's."""
    return "; ".join(str(dataclasses.replace(p, file=None)) for p in exc.problems)


# ------------------------------------------------------------------------ solve


def _shift(
    config: Config, shift_start: Any, shift_end: Any
) -> tuple[pd.Timestamp, pd.Timestamp | None]:
    """The shift as aware Timestamps: text (city time without an offset) parsed once."""
    from .timeparse import parse_timestamp

    tz = config.city.timezone
    end = None if shift_end is None else parse_timestamp(shift_end, tz, require_time=True)
    return parse_timestamp(shift_start, tz, require_time=True), end


def solve_scenario(
    scenario: Scenario,
    inputs: Inputs,
    config: Config | None,
    shift_start: Any,
    shift_end: Any = None,
) -> Plan:
    """The plan of one scenario, to inspect or plot like any other plan; its settings
    name the scenario (``plan.settings["scenario"]``), which plot titles show."""
    call = "solve_scenario(scenario, inputs, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    new_inputs, new_config = apply(scenario, inputs, config)
    start, end = _shift(new_config, shift_start, shift_end)
    plan = solve_shift(new_inputs, new_config, start, end, verify=new_inputs is inputs)
    return dataclasses.replace(plan, settings={**plan.settings, "scenario": scenario.name})


def run_scenario(
    scenario: Scenario,
    inputs: Inputs,
    config: Config | None,
    shift_start: Any,
    shift_end: Any = None,
    *,
    verify: bool = True,
) -> dict[str, Any]:
    """Apply and solve one scenario: ``{"row": {...}, "zones": DataFrame}``.

    ``row`` is the scenario's line of the comparison table (see `sweep`); ``zones`` is
    the plan's zone table with a leading ``scenario`` column (empty when infeasible).
    Top-level and picklable, so a Dask client can map it over scenarios. ``verify``: a
    scenario that plans ``inputs`` as they are first refuses tables edited in place
    (`rebalance.solve`), and so does one that keeps some of them (`Inputs.replace`);
    `sweep` checks that once for all its scenarios.
    """
    call = "run_scenario(scenario, inputs, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)  # None: the config the inputs came with
    new_inputs, new_config = apply(scenario, inputs, config, verify=verify)
    start, end = _shift(new_config, shift_start, shift_end)
    plan = solve_shift(new_inputs, new_config, start, end, verify=verify and new_inputs is inputs)
    row: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.describe(),
        "status": plan.status,
        "objective": plan.objective,
    }
    for key, value in plan.kpis.items():
        if key == "objective_breakdown":
            row.update({_BREAKDOWN.get(k, f"objective_{k}"): v for k, v in value.items()})
        else:
            row[key] = value
    before_open = inputs.restaurants["status"].to_numpy(dtype=object) == "open"
    after_open = new_inputs.restaurants["status"].to_numpy(dtype=object) == "open"
    before_off = inputs.couriers["status"].to_numpy(dtype=object) == "offline"
    after_off = new_inputs.couriers["status"].to_numpy(dtype=object) == "offline"
    row.update(
        {
            "no_show_rate": scenario.no_show_rate,
            "slowdown": scenario.slowdown,
            "demand_factor": scenario.demand_factor,
            "orders_per_courier_hour": new_config.demand.orders_per_courier_hour,
            "shortage_minutes": new_config.costs.shortage_minutes,
            "restaurants_closed": int((before_open & ~after_open).sum()),
            "couriers_no_show": int((after_off & ~before_off).sum()),
            "seed": scenario.seed,
            "plan_id": plan.plan_id,
            "message": plan.message,
        }
    )
    zones = plan.zones.copy()
    zones.insert(0, "scenario", scenario.name)
    return {"row": row, "zones": zones}


class SweepResult(NamedTuple):
    """What ``sweep(..., zones=True)`` returns; unpacks as ``table, zones``."""

    table: pd.DataFrame
    zones: pd.DataFrame


@overload
def sweep(
    scenarios: Iterable[Scenario],
    inputs: Inputs,
    config: Config | None,
    shift_start: Any,
    *,
    shift_end: Any = ...,
    zones: Literal[False] = ...,
    client: Any = ...,
) -> pd.DataFrame: ...


@overload
def sweep(
    scenarios: Iterable[Scenario],
    inputs: Inputs,
    config: Config | None,
    shift_start: Any,
    *,
    shift_end: Any = ...,
    zones: Literal[True],
    client: Any = ...,
) -> SweepResult: ...


def sweep(
    scenarios: Iterable[Scenario],
    inputs: Inputs,
    config: Config | None,
    shift_start: Any,
    *,
    shift_end: Any = None,
    zones: bool = False,
    client: Any = None,
) -> pd.DataFrame | SweepResult:
    """Solve every scenario and compare them, one row per scenario in the given order.

    Columns: ``scenario``, ``description``, ``status`` (an infeasible scenario is a row
    with status ``infeasible`` and its ``message``, not an exception), ``objective``,
    every KPI of the plan (``coverage_before``, ``coverage``, ``shortage``,
    ``moved_couriers``, ``travel_minutes``, ...), the objective's parts
    (``objective_move``, ``objective_shortage``, ``objective_surplus``), the effective
    settings (``no_show_rate``, ``slowdown``, ``demand_factor``,
    ``orders_per_courier_hour``, ``shortage_minutes``, ``seed``), what the scenario
    removed (``restaurants_closed``, ``couriers_no_show``), ``plan_id`` and ``message``.

    With ``zones=True`` returns `SweepResult` ``(table, zones)`` where ``zones`` is the
    long table: one row per scenario and zone, the plan's zone columns after ``scenario``.
    ``client`` is an optional ``dask.distributed.Client`` that runs the scenarios.
    The same scenarios (and seeds) give the same table.
    """
    call = "sweep(scenarios, inputs, config, shift_start)"
    if isinstance(scenarios, Scenario):
        raise TypeError(
            f"{call}: scenarios must be a list of Scenario objects, got the one Scenario "
            f"{scenarios.name!r}: give [scenario]"
        )
    items = list(scenarios)
    for item in items:
        if not isinstance(item, Scenario):
            raise TypeError(f"sweep needs Scenario objects, got {type(item).__name__}")
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise ValueError(f"two scenarios are named {item.name!r}; names must be unique")
        seen.add(item.name)
    # Tables edited in place are refused once for the sweep, not once per scenario: the
    # fingerprint is 20% of a scenario's solve on the Paris sample, 0.6 s of each at 1M
    # couriers. Only the tables some scenario keeps as they are: one every scenario
    # replaces is checked as a new table (edited in place, then swept over rates).
    kept: set[str] = set()
    for item in items:  # fail on a bad scenario before spending time on solves
        kept |= set(TABLES) - rechecked(_apply(item, inputs, config, verify=False)[2])
    inputs.check_unedited([n for n in TABLES if n in kept and getattr(inputs, n) is not None])
    # Parsed once here; each scenario then only converts the Timestamps.
    shift_start, shift_end = _shift(config or Config(), shift_start, shift_end)

    if client is not None:
        futures = client.map(
            run_scenario,
            items,
            inputs=inputs,
            config=config,
            shift_start=shift_start,
            shift_end=shift_end,
            verify=False,
        )
        runs: list[dict[str, Any]] = client.gather(futures)
    else:
        runs = [
            run_scenario(s, inputs, config, shift_start, shift_end, verify=False) for s in items
        ]

    table = _table([run["row"] for run in runs])
    if not zones:
        return table
    frames = [run["zones"] for run in runs if len(run["zones"])]
    long = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["scenario", *ZONES_COLUMNS])
    )
    return SweepResult(table, long)


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows in a stable column order: identity, KPIs, objective parts, settings."""
    seen: dict[str, None] = dict.fromkeys((*_LEAD, *KPI_ORDER))
    for row in rows:
        seen.update(dict.fromkeys(row))
    middle = [c for c in seen if c not in _LEAD and c not in _TAIL]
    kpis = [c for c in middle if not c.startswith("objective_")]
    parts = [c for c in middle if c.startswith("objective_")]
    columns = [*_LEAD, *kpis, *parts, *_TAIL]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("objective", *kpis, *parts):
        values = [row.get(column) for row in rows]
        counts = all(v is None or isinstance(v, int | np.integer) for v in values)
        # Counts stay whole numbers next to an infeasible row (nullable Int64, not 4.0).
        table[column] = pd.to_numeric(table[column]).astype("Int64" if counts else "float64")
    return table
