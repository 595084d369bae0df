"""Helpers of the problem builder (rebalance.model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rebalance.model import positions


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]", "str"])
def test_positions_like_get_indexer(dtype):
    """Zone ids found by Arrow's hash lookup are where pandas' get_indexer puts them,
    -1 for unknown and missing ids, whatever the string dtype."""
    index = pd.Index(np.array(["Z2", "Z10", "Z1", "é ü"], dtype=object))
    column = pd.Series(["Z1", "Z10", "nope", None, "é ü", "Z2", "Z1"], dtype=dtype)
    want = index.get_indexer(column.to_numpy(dtype=object))
    np.testing.assert_array_equal(positions(column, index), want)
    assert positions(column, index).dtype == np.int64


def test_positions_of_other_types_fall_back():
    """Ids Arrow cannot compare with the index (numbers against text) are looked up by
    pandas, not refused."""
    index = pd.Index(np.array(["1", "2"], dtype=object))
    np.testing.assert_array_equal(positions(pd.Series([2, 1, 3]), index), [-1, -1, -1])
    np.testing.assert_array_equal(positions(pd.Series([], dtype=object), index), [])


@pytest.mark.parametrize(("rows", "distinct"), [(0, 1), (1, 1), (1000, 7), (50_000, 40_000)])
@pytest.mark.parametrize("top", [10**12, 60_000])
def test_groups_are_numbered_as_a_sort_would(rows, distinct, top):
    """Hashing the group keys, or counting them by value below a bound, numbers groups,
    members and sizes exactly as np.unique."""
    from rebalance.model import _unique_sorted

    rng = np.random.default_rng(rows)
    keys = rng.integers(0, top, distinct)[rng.integers(0, distinct, rows)]
    want = np.unique(keys, return_inverse=True, return_counts=True)
    ways = [_unique_sorted(keys), _unique_sorted(keys, bound=10**13)]
    if top < 10**12:
        ways.append(_unique_sorted(keys, bound=top))  # counted by value
    for got in ways:
        for w, g in zip(want, got, strict=True):
            np.testing.assert_array_equal(w.ravel(), g)


def test_one_slot_moves_read_off_the_arcs_equal_the_moves_found():
    """A one-slot problem keeps its moves only as arcs (ArcMoves); read back per vehicle
    they are the allowed moves out of the zones the vehicle starts from, staying
    excluded, exactly as a multi-slot problem stores them, also where a previous plan
    splits a zone's couriers into several groups."""
    from util import REPO

    import rebalance
    from rebalance.model import ArcMoves, Moves, _allowed_moves, _indexed

    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    inputs = rebalance.load(paris, config)
    shift = ("2026-11-30T19:00", "2026-11-30T19:30")
    plan = rebalance.solve(inputs, config, *shift)
    assert len(plan.moves) > 0
    p = rebalance.build_problem(inputs, config, *shift, previous=plan)
    assert isinstance(p.moves, ArcMoves) and len(p.moves) == len(p.vehicles) > 1
    zone_vehicle = p.group_zone * len(p.vehicles) + p.group_vehicle
    assert np.unique(zone_vehicle).size < zone_vehicle.size  # zones of several groups

    n = len(p.zone_ids)
    origins = [np.unique(p.group_zone[p.group_vehicle == v]) for v in range(len(p.vehicles))]
    found = _allowed_moves(inputs, config, p.vehicles, pd.Index(p.zone_ids), origins)
    for v, name in enumerate(p.vehicles):
        want, got = _indexed(found[name], n), p.moves[v]
        assert isinstance(got, Moves) and got is p.moves[v]  # made once
        for field in ("origin", "dest", "minutes", "start"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
            assert getattr(got, field).dtype == getattr(want, field).dtype
        assert want.origin.size > 0
    assert p.moves[-1] is p.moves[len(p.vehicles) - 1]
    assert p.moves[:] == tuple(p.moves)
    assert p.arc_group.dtype == p.arc_zone.dtype == np.int32

    slots = rebalance.build_problem(inputs, config, "2026-11-30T19:00", "2026-11-30T20:00")
    assert isinstance(slots.moves, tuple) and slots.slots == 2


def test_a_vehicle_no_courier_rides_has_no_one_slot_moves():
    """A configured vehicle that no courier of the city rides has no moves out of any
    zone when read off the one-slot arcs (ArcMoves): empty, well-formed moves, not an
    IndexError (an analyst iterating ``problem.moves`` met one); the vehicle ridden
    keeps its moves."""
    from util import REPO

    import rebalance
    from rebalance.model import ArcMoves, Moves

    paris = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(paris / "rebalance.toml")
    inputs = rebalance.load(paris, config)
    ridden = str(inputs.couriers["vehicle"].iloc[0])
    inputs = inputs.replace(couriers=inputs.couriers[inputs.couriers["vehicle"] == ridden])
    p = rebalance.build_problem(inputs, config, "2026-11-30T19:00", "2026-11-30T19:30")
    assert isinstance(p.moves, ArcMoves) and len(p.vehicles) > 1
    for v, name in enumerate(p.vehicles):
        moves = p.moves[v]
        assert isinstance(moves, Moves)
        assert moves.start.size == len(p.zone_ids) + 1
        assert (moves.origin.size > 0) == (name == ridden)
        if name != ridden:
            assert moves.dest.size == moves.minutes.size == 0 and not moves.start.any()
    assert len(list(p.moves)) == len(p.vehicles)


def test_arc_minutes_held_as_thousandths_give_the_same_floats():
    """The arcs' travel minutes are held as int32 thousandths; read back they are the very
    floats `np.round(x, 3)` made (what costs and moves.csv are computed from), up to the
    longest move allowed, and ``ProblemData.arc_minutes`` is them as reach made them."""
    from rebalance import build_problem, load, load_config
    from rebalance.model import millis_of, minutes_of
    from rebalance.ranges import MAX_MOVE_MINUTES

    rng = np.random.default_rng(7)
    raw = np.concatenate([rng.uniform(0, MAX_MOVE_MINUTES, 200_000), [0.0, MAX_MOVE_MINUTES]])
    rounded = np.round(raw, 3)
    millis = millis_of(rounded)
    assert millis.dtype == np.int32
    assert np.array_equal(minutes_of(millis), rounded)  # bit for bit, not approximately
    assert np.array_equal(millis, np.rint(raw * 1000).astype(np.int64))

    from util import REPO

    city = REPO / "data" / "samples" / "paris"
    config = load_config(city / "rebalance.toml")
    p = build_problem(load(city, config), config, "2026-11-30T19:00", "2026-11-30T19:30")
    assert p.arc_millis.dtype == np.int32
    assert np.array_equal(p.arc_minutes, np.round(p.arc_minutes, 3))
    assert np.array_equal(np.rint(p.arc_minutes * 1000), p.arc_millis)
    assert p.arc_minutes is p.arc_minutes  # made once
    again = type(p)(**p.__dict__)  # the cache is not a field
    assert np.array_equal(again.arc_minutes, p.arc_minutes)


@pytest.mark.parametrize("shift_end", [None, "2026-11-30T19:30"])
def test_a_problem_built_without_moves_is_the_same_to_look_at_and_refuses_to_solve(shift_end):
    """``build_problem(..., with_moves=False)`` (what `rebalance validate` shows: 3 s of
    its 7 at 10,000 zones went on the moves) gives the same slots, demand, required and
    present couriers and groups as with the moves, but no arcs; solving it is a
    ValueError saying to build it with the moves, not a plan where nobody may stay."""
    from util import REPO

    import rebalance
    from rebalance.model import build_problem
    from rebalance.optimize import solve_problem

    city = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(city / "rebalance.toml")
    inputs = rebalance.load(city, config)
    full = build_problem(inputs, config, "2026-11-30T19:00", shift_end)
    bare = build_problem(inputs, config, "2026-11-30T19:00", shift_end, with_moves=False)
    assert full.with_moves and not bare.with_moves
    assert len(full.arc_group) and not len(bare.arc_group) and not len(bare.arc_millis)
    for name in ("slot_demand", "slot_required", "group_zone", "group_size", "group_first"):
        np.testing.assert_array_equal(getattr(bare, name), getattr(full, name))
    pd.testing.assert_frame_equal(bare.eligible, full.eligible)
    assert bare.grid.count == full.grid.count
    with pytest.raises(ValueError, match="with_moves=False"):
        solve_problem(bare)
    assert solve_problem(full).status == "optimal"
