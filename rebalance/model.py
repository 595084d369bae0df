"""The problem of CONTRACT sections 2, 7 and 9, derived from inputs, config and shift.

`build_problem` turns validated inputs into arrays the solvers read:

- the slot grid (`rebalance.slots.SlotGrid`), demand and required couriers per
  (zone, slot), priorities and caps;
- the couriers present in at least one slot, with their first and last present slot,
  the zone they enter in (a courier on its way in a previous plan enters at that move's
  destination), and what a previous plan had them do now (for ``change_minutes``);
- *entry groups*: couriers that are interchangeable for the objective (same vehicle,
  entry zone, first and last slot, previous instruction);
- the allowed moves per vehicle as sparse (from zone, to zone, minutes) arrays.

Costs are integers: one unit is 1/(1000 K) minute for K slots, so a slot's weight L/H =
1/K becomes a whole number and every objective term is exact to 0.001 minute. With one
slot this is the thousandth of a minute of round 1, bit for bit.

How the solvers use it: one slot is a single-commodity min-cost flow (`flow_network`,
solved exactly on a subset of the arcs and proven optimal over all of them by
`rebalance.flowgen`); several slots are the multi-commodity model of
`rebalance.slotmodel`, whose argument for exactness is written there.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from . import reach
from .config import Config
from .errors import DataError, Issue
from .inputs import Inputs, as_inputs, config_for, index_dtype
from .ranges import SCALE
from .reach import EARTH_RADIUS_KM, millis_of, minutes_of
from .slots import SlotGrid, check_shift_window, presence
from .timeparse import parse_timestamp

if TYPE_CHECKING:
    from .plan import Plan
    from .replan import PreviousPositions

__all__ = ["EARTH_RADIUS_KM", "ProblemData", "build_problem", "haversine_km"]

_EPS = 1e-9


def haversine_km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> Any:
    """Great-circle distance in km (broadcasts), earth radius 6371.0088 km."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


@dataclass(frozen=True)
class Moves:
    """Allowed moves of one vehicle, staying excluded: ``a -> b`` takes ``minutes``.

    Sorted by origin; ``start[a]:start[a + 1]`` are the moves out of zone ``a``.
    """

    origin: np.ndarray
    dest: np.ndarray
    minutes: np.ndarray
    start: np.ndarray


#: `ProblemData.arc_minutes` of the problems alive, by ``id``.
_ARC_MINUTES: dict[int, np.ndarray] = {}


@dataclass(frozen=True)
class ProblemData:
    """Everything the solvers need, derived from inputs, config, shift and previous plan.

    Per zone and slot: ``slot_demand``, ``slot_required`` (shape zones x slots). Per
    present courier: ``eligible`` (courier_id, vehicle (a categorical of ``vehicles``
    when the config knows them all), available_from, available_until, and as the
    narrowest integers that hold them (`index_dtype`) first, last, zone_idx, vehicle_idx,
    prev_idx, group; index 0..n-1). Per entry group: ``group_*`` arrays. Per vehicle:
    ``moves``, its allowed moves out of the zones it starts from (a one-slot problem reads
    them off its arcs when first asked for, `ArcMoves`). Per group and zone it can reach:
    the arc arrays ``arc_group``, ``arc_zone`` (int32) and ``arc_millis``, the travel
    minutes in whole thousandths (int32; ``arc_minutes`` gives them as float minutes, made
    when first asked for: the solvers never ask). Per row of
    restaurants: ``restaurant_rate0`` (its rate in slot 0; read-only, it may be a view of
    the inputs' column) and ``restaurant_zone`` (its zone's position in ``zone_ids``, as
    `index_dtype`).
    """

    config: Config
    inputs: Inputs
    grid: SlotGrid
    zone_ids: np.ndarray
    slot_demand: np.ndarray
    open_restaurants: np.ndarray
    slot_required: np.ndarray
    priority: np.ndarray
    cap: np.ndarray  # float, NaN = no cap
    vehicles: tuple[str, ...]
    eligible: pd.DataFrame
    group_zone: np.ndarray
    group_vehicle: np.ndarray
    group_first: np.ndarray
    group_last: np.ndarray
    group_prev: np.ndarray
    group_size: np.ndarray
    moves: Sequence[Moves]
    arc_group: np.ndarray
    arc_zone: np.ndarray
    arc_millis: np.ndarray
    restaurant_rate0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    restaurant_zone: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    previous_plan_id: str | None = None
    previous_note: str = ""
    on_the_way: int = 0
    #: The moves the couriers on their way count by (`rebalance.replan.PreviousPositions`).
    under_way: list[dict[str, str]] = field(default_factory=list)
    #: Couriers who carried out their instruction due now already (`Plan.arrived`).
    arrived: list[str] = field(default_factory=list)
    #: The previous plan's moves on this plan's slots, as (slot, row of ``eligible``,
    #: zone index): named the same where the flows allow (`optimize._name_moves`).
    planned_before: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    build_seconds: float = 0.0
    #: False when built with ``with_moves=False``: no arcs, nothing to solve.
    with_moves: bool = True

    # ------------------------------------------------------------------ the shift
    @property
    def arc_minutes(self) -> np.ndarray:
        """Travel minutes of each arc (rounded to 0.001, as `rebalance.reach` made them):
        ``arc_millis / 1000``, the same floats, made on first use and kept while the
        problem lives (62 MB at 10,000 zones, which the solvers hold as 31 MB of
        ``arc_millis``). Kept outside the instance's ``__dict__``, so that
        ``type(p)(**p.__dict__)`` still rebuilds a problem."""
        made = _ARC_MINUTES.get(id(self))
        if made is None:
            made = _ARC_MINUTES[id(self)] = minutes_of(self.arc_millis)
            made.flags.writeable = False
            weakref.finalize(self, _ARC_MINUTES.pop, id(self), None)
        return made

    @property
    def shift_start(self) -> pd.Timestamp:
        return self.grid.start

    @property
    def shift_end(self) -> pd.Timestamp:
        return self.grid.end

    @property
    def slots(self) -> int:
        return self.grid.count

    # ------------------------------------------------------------- slot 0 views
    @property
    def demand(self) -> np.ndarray:
        """Demand per zone in slot 0 (orders per hour)."""
        return self.slot_demand[:, 0]

    @property
    def required(self) -> np.ndarray:
        """Required couriers per zone in slot 0."""
        return self.slot_required[:, 0]

    @property
    def couriers_before(self) -> np.ndarray:
        """Couriers in each zone in slot 0 if nobody moves."""
        return self.slot_before[:, 0]

    @property
    def slot_before(self) -> np.ndarray:
        """Couriers per (zone, slot) if nobody ever moves, shape zones x slots."""
        return presence_counts(
            self.group_zone,
            self.group_first,
            self.group_last,
            self.group_size,
            len(self.zone_ids),
            self.slots,
        )

    # ------------------------------------------------------------------ costs
    @property
    def units_per_minute(self) -> int:
        """Integer cost units per minute of the objective."""
        return SCALE * self.slots

    def move_cost(self, minutes: np.ndarray) -> np.ndarray:
        """Integer cost of moves taking ``minutes`` (travel + fixed)."""
        fixed = self.config.costs.move_fixed_minutes
        # in place on one temporary (the arcs are 7.8 million at 10,000 zones)
        cost = np.add(np.asarray(minutes, float), fixed)
        cost *= SCALE
        np.rint(cost, out=cost)
        out = cost.astype(np.int64)
        if self.slots != 1:
            out *= self.slots
        return out

    @property
    def change_cost(self) -> int:
        return round(self.config.costs.change_minutes * SCALE) * self.slots

    @property
    def shortage_cost(self) -> np.ndarray:
        """Integer cost of one missing courier in a zone for one slot (weight L/H applied)."""
        return shortage_units(self.config.costs.shortage_minutes, self.priority)

    @property
    def surplus_cost(self) -> int:
        return round(self.config.costs.surplus_minutes * SCALE)

    @property
    def cap_int(self) -> np.ndarray:
        """Caps as integers, -1 where a zone has none."""
        return np.where(np.isnan(self.cap), -1, np.nan_to_num(self.cap)).astype(np.int64)


def positions(column: pd.Series, index: pd.Index, dtype: Any = np.int64) -> np.ndarray:
    """Position in ``index`` (unique ids) of each value of ``column``, -1 where absent,
    as ``dtype`` (which must hold -1 .. len(index), e.g. `index_dtype`).

    An Arrow hash lookup: pandas' ``get_indexer`` takes a second on 2.5 million
    Arrow-backed strings, this 40 ms. Anything but text on both sides (ids are text once
    validated) is looked up by ``get_indexer``, so ``2`` never matches ``"2"``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column.dtype, pd.CategoricalDtype):  # each category looked up once
        at = np.r_[positions(pd.Series(column.cat.categories), index), -1]
        return at[column.cat.codes.to_numpy()].astype(dtype)  # code -1: the -1 after
    text = (pa.types.is_string, pa.types.is_large_string)
    try:
        values = pa.array(column.array)
        # an Arrow-backed index as it is (as numpy, a Python string per id first)
        known = pa.array(
            index.array if hasattr(index.array, "__arrow_array__") else index.to_numpy()
        )
        if isinstance(known, pa.ChunkedArray):
            known = known.combine_chunks()
        if not any(t(values.type) for t in text) or not any(t(known.type) for t in text):
            raise pa.ArrowTypeError("not text on both sides")
        found = pc.index_in(values, value_set=known.cast(values.type)).fill_null(-1)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return index.get_indexer(column.to_numpy()).astype(dtype)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=dtype)


def presence_counts(
    zone: np.ndarray, first: np.ndarray, last: np.ndarray, size: np.ndarray, n_zones: int, k: int
) -> np.ndarray:
    """Counts per (zone, slot) of units present from ``first`` to ``last`` in ``zone``."""
    delta = np.zeros((n_zones, k + 1), dtype=np.int64)
    np.add.at(delta, (zone, first), size)
    np.add.at(delta, (zone, last + 1), -size)
    return np.cumsum(delta, axis=1)[:, :k]


def shortage_units(shortage_minutes: float, priority: np.ndarray) -> np.ndarray:
    """A missing courier's cost in each zone, in whole `SCALE` units (one slot's weight):
    ``shortage_minutes x priority``, rounded. `ProblemData.shortage_cost`, and what
    `_check_shortage_costs` refuses when it rounds to 0."""
    return np.rint(shortage_minutes * priority * SCALE).astype(np.int64)


def _check_shortage_costs(
    inputs: Inputs, config: Config, zone_ids: np.ndarray, priority: np.ndarray
) -> None:
    """DataError for zones whose missing courier would cost 0 in the solver's whole
    thousandths of a minute (`ProblemData.shortage_cost`) though shortage_minutes and
    the zone's priority are both above 0: priority 0.2 x shortage_minutes 0.002 is
    0.0004 minute, and the zone's shortage counted for nothing in a plan read
    "optimal"."""
    shortage = float(config.costs.shortage_minutes)
    if shortage <= 0:
        return
    zero = np.flatnonzero((priority > 0) & (shortage_units(shortage, priority) == 0))
    if not zero.size:
        return
    source = inputs.source
    file = str(source / "zones.csv") if source is not None else "zones"
    least = f"{1 / (shortage * SCALE):.3g}"
    issues = [
        Issue(
            f"zone {zone_ids[z]!r}: priority x [costs] shortage_minutes is "
            f"{priority[z]:g} x {shortage:g} = {priority[z] * shortage:.2g} minute per "
            "missing courier, under half the solver's unit of 0.001 minute: its shortage "
            "would count as 0",
            file=file,
            column="priority",
            value=float(priority[z]),
            valid=f"a priority of at least {least}, or a larger [costs] shortage_minutes",
        )
        for z in zero[:10]
    ]
    if zero.size > 10:
        issues.append(Issue(f"... and {zero.size - 10} more zones", count=zero.size - 10))
    raise DataError(issues, title="invalid input")


def _check_vehicles(inputs: Inputs, config: Config, call: str) -> None:
    """ValueError when a courier's vehicle is not one of ``config``'s: the inputs were
    loaded with another configuration (a notebook left ``config`` out, or took a
    vehicle out of it), and such couriers were planned with ranges of their own and
    failed the plan's own check as "a bug". The same for a vehicle's values that
    pydantic's ``model_copy(update=...)`` let through unchecked (a negative range)."""
    from pydantic import ValidationError

    for name, settings in config.vehicles.items():
        try:
            type(settings).model_validate(settings.model_dump())
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            raise ValueError(
                f"{call}: [vehicles.{name}] {key} = {error.get('input')!r}: {error['msg']}"
            ) from None
    vehicle = inputs.couriers["vehicle"]
    if isinstance(vehicle.dtype, pd.CategoricalDtype):
        # as `load` keeps them: the vehicles it was configured with, so the couriers
        # are looked at only when one of those is missing (10M couriers: no time)
        others = [i for i, v in enumerate(vehicle.cat.categories) if str(v) not in config.vehicles]
        codes = vehicle.cat.codes.to_numpy()
        present = [vehicle.cat.categories[i] for i in others if (codes == i).any()]
    else:
        present = list(pd.unique(vehicle.dropna()))
    unknown = sorted(str(v) for v in present if str(v) not in config.vehicles)
    if unknown:
        raise ValueError(
            f"{call}: the couriers' vehicle{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(v) for v in unknown)} {'are' if len(unknown) > 1 else 'is'} "
            f"not in the configuration's [vehicles] ({', '.join(sorted(config.vehicles))}): "
            "the inputs were loaded with another configuration; pass that one, or load "
            "the data again with this one"
        )


def build_problem(
    inputs: Inputs,
    config: Config | None = None,
    shift_start: Any = None,
    shift_end: Any = None,
    *,
    previous: Plan | None = None,
    with_moves: bool = True,
) -> ProblemData:
    """Derive slots, demand, presence, groups and allowed moves (CONTRACT sections 2, 7, 9).

    ``shift_start``/``shift_end`` are aware timestamps (a string or naive value is read
    in the city's timezone); the end defaults to ``[shift] hours`` later.
    ``previous`` is the plan already published for an overlapping shift (section 9).
    ``with_moves=False`` leaves the allowed moves out (no arcs: a problem to look at,
    not to solve), as `rebalance validate` does: at 10,000 zones they are 3 s of its 7.
    """
    t0 = time.perf_counter()
    call = "build_problem(inputs, config, shift_start)"
    inputs = as_inputs(inputs, call)
    config = config_for(inputs, config, call)
    _check_vehicles(inputs, config, call)
    if previous is not None:
        from .plan import as_plan

        previous = as_plan(previous, call)
    tz = config.city.timezone
    if shift_start is None:
        raise ValueError("shift_start is required, e.g. '2026-11-30T19:00'")
    start = parse_timestamp(shift_start, tz, require_time=True)
    end = (
        parse_timestamp(shift_end, tz, require_time=True)
        if shift_end is not None
        else start + config.shift.length
    )
    check_shift_window(start, end, timezone=tz)
    try:
        grid = SlotGrid.build(start, end, config.shift.slot_minutes, tz)
    except ValueError as exc:
        from .config import slot_minutes_error

        raise slot_minutes_error(
            config, exc, from_hours=shift_end is None, start=start, end=end
        ) from None

    zones = inputs.zones
    zone_ids = zones["zone_id"].to_numpy(dtype=object)
    index = pd.Index(zone_ids)
    n_zones = len(zone_ids)

    slot_demand, open_count, rate0, rest_zone = _slot_demand(inputs, grid, index)
    opch = config.demand.orders_per_courier_hour
    slot_required = np.ceil(slot_demand / opch - _EPS).clip(min=0).astype(np.int64)

    vehicles = tuple(sorted(config.vehicles))
    elig, pos = _present_couriers(inputs, config, grid, index, vehicles, previous)

    nv, k = len(vehicles), grid.count
    # Entry groups: interchangeable couriers. prev_idx + 1 >= 0 keeps the key non-negative.
    key = (
        (elig["zone_idx"].to_numpy(np.int64) * nv + elig["vehicle_idx"].to_numpy(np.int64)) * k
        + elig["first"].to_numpy(np.int64)
    ) * k + elig["last"].to_numpy(np.int64)
    prev = elig["prev_idx"].to_numpy()
    if (prev < 0).all():  # no previous plan's instruction: keys below zones x vehicles x k^2
        uniq, group_of, sizes = _unique_sorted(key, bound=n_zones * nv * k * k)
        uniq *= n_zones + 1
    else:
        key *= n_zones + 1
        key += prev
        key += 1
        uniq, group_of, sizes = _unique_sorted(key)
    del key, prev
    elig["group"] = group_of.astype(index_dtype(len(uniq)))
    group_prev = uniq % (n_zones + 1) - 1
    rest = uniq // (n_zones + 1)
    group_last = rest % k
    rest //= k
    group_first = rest % k
    rest //= k
    group_vehicle = rest % nv
    group_zone = rest // nv

    origins = (
        [np.unique(group_zone[group_vehicle == v]) for v in range(nv)]
        if k == 1
        else [np.arange(n_zones)] * nv
    )
    # one slot: the moves become the arcs, whose minutes are held as thousandths
    if with_moves:
        found = _allowed_moves(inputs, config, vehicles, index, origins, thousandths=k == 1)
        arc_group, arc_zone, arc_minutes = reach.group_arcs(
            found, vehicles, group_zone, group_vehicle, release=k == 1
        )
    else:  # no move at all, not even a stay
        empty = np.zeros(0, dtype=np.int32)
        found = {v: reach.Moves(empty, empty, empty) for v in vehicles}
        arc_group, arc_zone, arc_minutes = empty, empty, empty
    arc_millis = arc_minutes if arc_minutes.dtype == np.int32 else millis_of(arc_minutes)
    del arc_minutes
    moves: Sequence[Moves] = (
        tuple(_indexed(found[name], n_zones) for name in vehicles)
        if k > 1
        else ArcMoves(arc_group, arc_zone, arc_millis, group_zone, group_vehicle, nv, n_zones)
    )
    del found

    priority = zones["priority"].to_numpy(dtype=float)
    _check_shortage_costs(inputs, config, zone_ids, priority)
    return ProblemData(
        config=config,
        inputs=inputs,
        grid=grid,
        zone_ids=zone_ids,
        slot_demand=slot_demand,
        open_restaurants=open_count,
        slot_required=slot_required,
        priority=priority,
        cap=zones["max_couriers"].to_numpy(dtype=float),
        vehicles=vehicles,
        eligible=elig,
        group_zone=group_zone.astype(np.int64),
        group_vehicle=group_vehicle.astype(np.int64),
        group_first=group_first.astype(np.int64),
        group_last=group_last.astype(np.int64),
        group_prev=group_prev.astype(np.int64),
        group_size=sizes.astype(np.int64),
        moves=moves,
        arc_group=arc_group,
        arc_zone=arc_zone,
        arc_millis=arc_millis,
        restaurant_rate0=rate0,
        restaurant_zone=rest_zone,
        previous_plan_id=None if previous is None else previous.plan_id,
        previous_note="" if pos is None else pos.note,
        on_the_way=0 if pos is None else pos.on_the_way,
        under_way=[] if pos is None else pos.under_way,
        arrived=[] if pos is None else pos.arrived,
        planned_before=_planned_before(pos, grid),
        build_seconds=time.perf_counter() - t0,
        with_moves=with_moves,
    )


def _planned_before(pos: Any, grid: SlotGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The previous plan's moves at this grid's slot starts as (slot, row, zone): None
    without a previous plan or when none falls on a slot start."""
    if pos is None or pos.ahead is None or not len(pos.ahead[0]):
        return None
    rows, zones, starts = pos.ahead
    step = grid.minutes * 60 * 10**9
    offset = starts - grid.start.value
    slot = offset // step
    on = (offset % step == 0) & (slot >= 0) & (slot < grid.count)
    if not on.any():
        return None
    return slot[on], rows[on], zones[on]


def _slot_demand(
    inputs: Inputs, grid: SlotGrid, index: pd.Index
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Demand per (zone, slot), open restaurants per zone, and each restaurant's rate in
    slot 0 (CONTRACT section 7) and zone position."""
    n_zones, k = len(index), grid.count
    rest = inputs.restaurants
    open_mask = rest["status"].eq("open").to_numpy(dtype=bool)
    # the narrowest positions (int16 at 10,000 zones): a number per restaurant, held to the
    # pause lists
    rz = positions(rest["zone_id"], index, index_dtype(n_zones))
    base = rest["expected_orders_per_hour"].to_numpy(float)
    zone_base = np.bincount(rz[open_mask], weights=base[open_mask], minlength=n_zones)
    demand = np.repeat(zone_base[:, None], k, axis=1)
    open_count = np.bincount(rz[open_mask], minlength=n_zones).astype(np.int64)
    table = inputs.demand
    if table is None or table.empty:
        # no copy: the rates are only read (2.5 million restaurants: 19 MB held to the end)
        return demand, open_count, base, rz
    slot = grid.slot_of(table["slot_start"])
    inside = slot >= 0
    off_grid = inside & ~grid.is_boundary(table["slot_start"])
    if off_grid.any():
        starts = grid.local_starts()
        # Across a clock change each time carries its offset: a time can come twice
        # (01:30 on Lord Howe's autumn night), and the time refused, read as the first,
        # was listed as valid when it meant the second.
        offsets = len({t.utcoffset() for t in starts}) > 1

        def clock(t: pd.Timestamp, *, date: bool) -> str:
            shown = f"{t:%Y-%m-%d %H:%M}" if date else f"{t:%H:%M}"
            return shown + (t.isoformat()[-6:] if offsets else "")

        # a slot on another day than the first (a shift past midnight) shows its date
        shown = ", ".join(clock(s, date=s.date() != starts[0].date()) for s in starts[:8]) + (
            " ..." if len(starts) > 8 else ""
        )
        bad = np.flatnonzero(off_grid)
        problems = [
            Issue(
                f"slot_start is not the start of a slot of this shift ({grid.minutes}-minute "
                "slots)",
                file=f"{table['where'].iloc[i]} {table['line'].iloc[i]}"
                if "line" in table.columns
                else str(table["where"].iloc[i]),
                column="slot_start",
                value=clock(
                    pd.Timestamp(table["slot_start"].iloc[i]).tz_convert(grid.timezone),
                    date=True,
                ),
                valid=f"one of {shown} ({starts[0]:%Y-%m-%d}, city time), or a time outside the shift",
            )
            for i in bad[:10]
        ]
        if bad.size > 10:
            problems.append(
                Issue(f"... and {bad.size - 10} more rows off the slot grid", count=bad.size - 10)
            )
        if not (inside & ~off_grid).any():
            # Not one row on the grid: the shift start (or slot length) is the likelier
            # slip, e.g. `rebalance run` at 19:17 plans from 19:15 against a table of
            # 19:00, 19:30, ...
            theirs = pd.DatetimeIndex(table["slot_start"].iloc[bad]).tz_convert(grid.timezone)
            times = sorted({f"{t:%H:%M}" for t in theirs})
            table_starts = ", ".join(times[:4]) + (" ..." if len(times) > 4 else "")
            every = pd.DatetimeIndex(table["slot_start"]).tz_convert(grid.timezone)
            before = every[every <= grid.start]
            near = before.max() if len(before) else theirs.min()
            problems.insert(
                0,
                Issue(
                    f"the shift start: no row of the demand table starts a slot of this "
                    f"shift: its rows start at {table_starts}, the shift's "
                    f"{grid.minutes}-minute slots at {shown}",
                    valid="a shift start on the demand table's slots (e.g. "
                    f"--shift-start {near:%Y-%m-%dT%H:%M}, or shift_start= in Python), or "
                    "[shift] slot_minutes matching the table",
                ),
            )
        raise DataError(problems, title="invalid input")
    rows = table.loc[inside]
    # the restaurants' Arrow text as the index (0.34 s against 0.82 s through Python
    # strings for 2 million demand rows of 250,000 restaurants: 8 slots, 1,000 zones)
    ridx = pd.Index(rest["restaurant_id"]).get_indexer(rows["restaurant_id"])
    keep = ridx >= 0
    ridx, slot_k = ridx[keep], slot[inside][keep]
    rates = rows["expected_orders_per_hour"].to_numpy(float)[keep]
    is_open = open_mask[ridx]
    # The table replaces the restaurant's rate in that slot: add the difference.
    np.add.at(demand, (rz[ridx[is_open]], slot_k[is_open]), rates[is_open] - base[ridx[is_open]])
    rate0 = base.copy()
    at0 = slot_k == 0
    rate0[ridx[at0]] = rates[at0]
    return np.maximum(demand, 0.0), open_count, rate0, rz


#: Key ranges `_unique_sorted` counts in an array of their own (32 MB of counts).
_DENSE_KEYS = 1 << 22


def _unique_sorted(
    key: np.ndarray, bound: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True, return_counts=True)`` of non-negative int64
    keys, without sorting the millions of rows: counted by value when every key is
    below ``bound`` and that range is small (`_DENSE_KEYS`, or no more than the rows:
    0.35 -> ~0.1 s at 6.9M couriers), else by hashing, the few distinct keys sorted
    (1 s -> ~0.2 s at 7M couriers)."""
    if bound is not None and bound <= max(_DENSE_KEYS, key.size):
        counts = np.bincount(key, minlength=bound)
        present = np.flatnonzero(counts)
        rank = np.zeros(counts.size, dtype=np.int64)
        rank[present] = np.arange(present.size)
        return present, rank[key], counts[present]
    codes, uniq = pd.factorize(key, sort=False)
    order = np.argsort(uniq, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    inverse = rank[codes]
    return uniq[order], inverse, np.bincount(inverse, minlength=order.size)


def _present_couriers(
    inputs: Inputs,
    config: Config,
    grid: SlotGrid,
    index: pd.Index,
    vehicles: tuple[str, ...],
    previous: Plan | None,
) -> tuple[pd.DataFrame, PreviousPositions | None]:
    """Couriers present in at least one slot, with entry zone and previous instruction,
    and what `rebalance.replan.previous_positions` found (None without a previous plan)."""
    cour = inputs.couriers
    slot_type = index_dtype(grid.count)
    first, last = presence(cour, grid, config.eligibility.min_available_minutes, dtype=slot_type)
    mask = first >= 0
    every = bool(mask.all())
    # Only the columns the solvers, the moves and the plan's roster use (status is spent
    # on presence, the zone id on zone_idx), positions in the narrowest integers
    # that hold them, and a fresh 0..n-1 index: at 10 million couriers this frame was
    # 0.85 GB, now ~0.5 GB. A new frame either way (copy on write), so no .copy().
    cols = ["courier_id", "vehicle", "available_from", "available_until"]
    elig = (cour[cols] if every else cour.loc[mask, cols]).reset_index(drop=True)
    zone_id = cour["zone_id"] if every else cour["zone_id"][mask]
    elig["first"] = first if every else first[mask]
    elig["last"] = last if every else last[mask]
    del first, last
    elig["zone_idx"] = positions(zone_id, index, index_dtype(len(index)))
    del zone_id
    vehicle_idx = positions(elig["vehicle"], pd.Index(vehicles), index_dtype(len(vehicles)))
    elig["vehicle_idx"] = vehicle_idx
    if (vehicle_idx >= 0).all():  # the same text from a byte per courier (6.9M: 90 -> 7 MB)
        elig["vehicle"] = pd.Categorical.from_codes(vehicle_idx, categories=list(vehicles))
    del vehicle_idx
    elig["prev_idx"] = np.full(len(elig), -1, dtype=index_dtype(len(index)))
    if previous is None:
        return elig, None
    from .replan import check_overlap, previous_positions

    check_overlap(previous, grid.start, grid.end)
    pos = previous_positions(previous, elig, index, grid.start)
    elig["zone_idx"] = pos.zone_idx.astype(elig["zone_idx"].dtype)
    elig["prev_idx"] = np.where(elig["first"].to_numpy() == 0, pos.prev_idx, -1).astype(
        elig["prev_idx"].dtype
    )
    return elig, pos


def _allowed_moves(
    inputs: Inputs,
    config: Config,
    vehicles: tuple[str, ...],
    index: pd.Index,
    origins: list[np.ndarray],
    *,
    thousandths: bool = False,
) -> dict[str, reach.Moves]:
    """Allowed moves per vehicle out of the given origin zones, staying included
    (``thousandths``: see `rebalance.reach.allowed_moves`).

    `rebalance.reach` finds them from a spatial index (never a zones x zones matrix).
    """
    zones = inputs.zones
    return reach.allowed_moves(
        zones["lat"].to_numpy(float),
        zones["lon"].to_numpy(float),
        config,
        travel_times=inputs.travel_times,
        zone_ids=index.to_numpy(),
        origins={name: origins[v] for v, name in enumerate(vehicles)},
        thousandths=thousandths,
    )


def _indexed(m: reach.Moves, n: int) -> Moves:
    """One vehicle's moves without staying, indexed by origin for the solvers."""
    move = m.origin != m.dest
    origin, dest = m.origin[move].astype(np.int64), m.dest[move].astype(np.int64)
    start = np.searchsorted(origin, np.arange(n + 1)).astype(np.int64)
    return Moves(origin, dest, np.asarray(m.minutes[move], float), start)


class ArcMoves(Sequence[Moves]):
    """A one-slot problem's `Moves` per vehicle, read off its arcs when first asked for.

    With one slot every group's arcs are all the moves out of its zone (and its stay),
    so the per-vehicle arrays would repeat the arcs (~190 MB at 10,000 zones); only
    `explain_infeasible` and analysts ever look at them. Each group of a (zone,
    vehicle) has the same arcs: the first group's are taken.
    """

    def __init__(
        self,
        arc_group: np.ndarray,
        arc_zone: np.ndarray,
        arc_millis: np.ndarray,
        group_zone: np.ndarray,
        group_vehicle: np.ndarray,
        vehicles: int,
        zones: int,
    ) -> None:
        self._arcs = (arc_group, arc_zone, arc_millis)
        self._groups = (group_zone, group_vehicle)
        self._zones = zones
        self._made: list[Moves | None] = [None] * vehicles

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, v: int) -> Moves: ...

    @overload
    def __getitem__(self, v: slice) -> Sequence[Moves]: ...

    def __getitem__(self, v: int | slice) -> Moves | Sequence[Moves]:
        if isinstance(v, slice):
            return tuple(self[i] for i in range(len(self))[v])
        made = self._made[v]
        if made is None:
            made = self._made[v] = self._make(range(len(self))[v])
        return made

    def _make(self, v: int) -> Moves:
        arc_group, arc_zone, arc_millis = self._arcs
        group_zone, group_vehicle = self._groups
        groups = np.flatnonzero(group_vehicle == v)  # zone order: groups are zone-major
        zone = group_zone[groups]
        lead = np.zeros(group_zone.size, dtype=bool)
        if groups.size:  # a vehicle no courier has: no moves
            lead[groups[np.r_[True, zone[1:] != zone[:-1]]]] = True
        arcs = np.flatnonzero(lead[arc_group])
        origin = group_zone[arc_group[arcs]]
        moves = reach.Moves(origin, arc_zone[arcs], minutes_of(arc_millis[arcs]))
        return _indexed(moves, self._zones)


#: Arcs handled at once by the per-arc steps below: their temporaries stay a few MB
#: whatever the city (at 10,000 zones the arcs are 7.8 million; whole, each temporary
#: was 62 MB, and the flow's peak RSS grew by ~190 MB on them).
ARC_CHUNK = 1 << 20


def stay_arcs(p: ProblemData, arcs: slice | np.ndarray | None = None) -> np.ndarray:
    """Which group arcs of a one-slot problem lead to the group's own zone: all of them,
    or those of ``arcs`` (a slice or positions), in that order."""
    if arcs is not None:
        return np.equal(p.arc_zone[arcs], p.group_zone[p.arc_group[arcs]])
    stay = np.empty(len(p.arc_zone), dtype=bool)
    for lo in range(0, stay.size, ARC_CHUNK):
        part = slice(lo, lo + ARC_CHUNK)
        np.equal(p.arc_zone[part], p.group_zone[p.arc_group[part]], out=stay[part])
    return stay


def arc_cost_dtype(p: ProblemData, wide: type) -> type:
    """int32 when every group arc's cost (`arc_costs`: the move's cost, plus the
    change's) fits one, else ``wide``: the one test for holding the costs of millions of
    arcs in half the memory (the same integers either way)."""
    if p.arc_millis.size == 0:
        return wide
    ends = p.move_cost(minutes_of(np.array([p.arc_millis.min(), p.arc_millis.max()])))
    low = min(int(ends[0]), 0) + min(p.change_cost, 0)
    high = max(int(ends[1]), 0) + max(p.change_cost, 0)
    small = np.iinfo(np.int32)
    return np.int32 if small.min <= low and high <= small.max else wide


def changes_instruction(prev: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """Whether couriers whose previous plan told them to be in ``prev`` now (-1: told
    nothing) change that instruction by being in ``zone``: what ``change_minutes``
    charges (CONTRACT section 9). `explain` weighs a move by this, less staying's."""
    return (prev >= 0) & (zone != prev)


def arc_costs(
    p: ProblemData,
    stay: np.ndarray | None = None,
    dtype: type = np.int64,
    arcs: slice | np.ndarray | None = None,
) -> np.ndarray:
    """Integer cost of each group arc: the move's travel and fixed minutes (0 for
    staying), plus ``change_minutes`` when a previous plan told the group to be elsewhere
    now. ``arcs`` (a slice or positions): the costs of those arcs only, in that order.
    ``stay``: `stay_arcs` of the same arcs, when the caller has it (else found a chunk
    at a time). ``dtype``: of the result (float64 holds these integers exactly), written
    a chunk at a time.

    The move's cost is ``move_cost`` of its minutes; where the fixed minutes are whole
    thousandths (`_fixed_units`) that is the arc's thousandths plus theirs, times the
    slots, in integers: the same numbers at a fifth of the work, so that `flowgen` can
    work them out for the arcs at hand rather than hold 7.8 million of them."""
    group, zone, millis = p.arc_group, p.arc_zone, p.arc_millis
    if arcs is not None:
        group, zone, millis = group[arcs], zone[arcs], millis[arcs]
    cost: np.ndarray = np.empty(len(millis), dtype=dtype)
    changes = bool((p.group_prev >= 0).any())
    fixed = _fixed_units(p)
    for lo in range(0, cost.size, ARC_CHUNK):
        part = slice(lo, lo + ARC_CHUNK)
        if fixed is None:
            chunk = p.move_cost(minutes_of(millis[part]))
        else:
            chunk = millis[part].astype(np.int64)
            chunk += fixed
            if p.slots != 1:
                chunk *= p.slots
        if stay is None:
            chunk[np.equal(zone[part], p.group_zone[group[part]])] = 0
        else:
            chunk[stay[part]] = 0
        if changes:
            prev = p.group_prev[group[part]]
            chunk += np.where(changes_instruction(prev, zone[part]), p.change_cost, 0)
        cost[part] = chunk
    return cost


def _fixed_units(p: ProblemData) -> int | None:
    """``move_fixed_minutes`` in cost units when it is a whole number of them (within
    1e-9), else None. Then ``move_cost`` of ``m`` thousandths of a minute is ``(m +
    fixed) * slots`` exactly: it rounds ``(m / 1000 + fixed_minutes) * 1000``, whose
    float error is below 1e-7 for every cost `rebalance.ranges` allows, and the fixed
    part's below 1e-9, far from the 0.5 that would change the rounding."""
    units = p.config.costs.move_fixed_minutes * SCALE
    whole = round(units)
    return int(whole) if abs(units - whole) <= 1e-9 else None


def flow_network(p: ProblemData, arcs: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The min-cost-flow arrays of a one-slot problem.

    ::

        group g --[move cost, cap n_g]--> zone b --[covered: cap required, -shortage]--> sink
                                             \\--[surplus: cap rest or max, +surplus]-----^

    Every present courier leaves its group once (stay = arc to its own zone at cost 0,
    plus ``change_minutes`` when a previous plan told it to be elsewhere now). The
    flow's cost equals the objective minus the constant ``sum shortage*priority*required``.

    ``arcs`` (sorted positions in ``p.arc_group``) keeps only those group arcs, in the
    same order (`rebalance.flowgen` grows such a subset), and only their costs are
    worked out. The group arcs come first, then the zones' covered arcs, then their
    surplus arcs.
    """
    n_groups, n_zones = len(p.group_size), len(p.zone_ids)
    sink = n_groups + n_zones
    total = int(p.group_size.sum())
    group, zone = p.arc_group, p.arc_zone
    if arcs is not None:
        group, zone = group[arcs], zone[arcs]
    cost = arc_costs(p, arcs=arcs)
    capped = ~np.isnan(p.cap)
    cap = np.where(capped, np.nan_to_num(p.cap), total).astype(np.int64)
    required = p.required
    covered_cap = np.minimum(required, cap)
    surplus_cap = np.maximum(cap - covered_cap, 0)
    zone_nodes = n_groups + np.arange(n_zones)
    tails = np.concatenate([group, zone_nodes, zone_nodes])
    heads = np.concatenate([n_groups + zone, np.full(n_zones, sink), np.full(n_zones, sink)])
    caps = np.concatenate([p.group_size[group], covered_cap, surplus_cap])
    costs = np.concatenate(
        [cost, -p.shortage_cost, np.full(n_zones, p.surplus_cost, dtype=np.int64)]
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_groups] = p.group_size
    supplies[sink] = -total
    return {
        "tails": tails,
        "heads": heads,
        "capacities": caps,
        "unit_costs": costs,
        "supplies": supplies,
    }


def explain_infeasible(p: ProblemData) -> tuple[str, tuple[str, ...]]:
    """Why no assignment respects the caps, naming zones (for exit 4)."""
    from .views.wording import plural

    def fullest(counts: np.ndarray) -> str:
        """' at HH:MM', the slot of the most couriers (several slots: couriers log on
        during the shift); '' with one slot."""
        if counts.size < 2:
            return ""
        at = p.grid.starts[int(counts.argmax())].tz_convert(p.grid.timezone)
        return f" at {at:%H:%M}"

    zone_ids = p.zone_ids
    names = p.inputs.zones["name"].to_numpy(dtype=object)
    capped = ~np.isnan(p.cap)
    before = p.slot_before
    # Per slot and origin zone: the couriers there versus the caps of every zone they
    # can reach in one move (a lower bound on the room they need). A zone reaches itself,
    # so only capped zones can be short of room: the others are never looked at.
    vehicles_at = np.zeros((len(zone_ids), len(p.vehicles)), dtype=bool)
    vehicles_at[p.group_zone, p.group_vehicle] = True
    for z in np.argsort(zone_ids):
        if not capped[z]:
            continue
        count = int(before[z].max()) if before.shape[1] else 0
        if count == 0:
            continue
        vs = np.flatnonzero(vehicles_at[z]).tolist()
        if not vs:
            continue
        reach = np.unique(
            np.concatenate(
                [[z]] + [p.moves[v].dest[p.moves[v].start[z] : p.moves[v].start[z + 1]] for v in vs]
            )
        ).astype(np.int64)
        if (~capped[reach]).any():
            continue
        room = int(np.nan_to_num(p.cap[reach]).sum())
        if count > room:
            listed = ", ".join(str(zone_ids[r]) for r in reach[:8]) + (
                " ..." if reach.size > 8 else ""
            )
            return (
                f"zone {zone_ids[z]} ({names[z]}) has {plural(count, 'present courier')}"
                f"{fullest(before[z])} "
                f"but the zones they can reach ({listed}) allow at most {room} by "
                "max_couriers; raise "
                "max_couriers there, or the vehicles' max_move_minutes so they can go further",
                tuple(str(zone_ids[r]) for r in reach),
            )
    per_slot = before.sum(axis=0)
    total = int(per_slot.max()) if before.size else 0
    room_all = int(np.nan_to_num(p.cap[capped]).sum()) if capped.all() else None
    capped_ids = tuple(str(z) for z in zone_ids[capped])
    if room_all is not None and total > room_all:
        return (
            f"{plural(total, 'present courier')}{fullest(per_slot)} but the max_couriers caps of all zones "
            "add up to "
            f"{room_all}; every courier must be assigned to a zone, so raise the caps",
            capped_ids,
        )
    shown = ", ".join(capped_ids[:10]) + (" ..." if len(capped_ids) > 10 else "")
    return (
        "the max_couriers caps cannot all hold: some couriers cannot reach any zone with room "
        f"left (capped zones: {shown}); raise the caps or max_move_minutes",
        capped_ids,
    )
