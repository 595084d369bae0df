"""Who can reach where: allowed moves per vehicle as sparse arrays, never zones x zones.

A move from zone a to zone b is allowed for vehicle v when its travel minutes (the
travel_times table if given, else haversine x detour / speed x 60, CONTRACT section 2)
are at most ``max_move_minutes[v]``; staying is always allowed and costs 0. Candidate
pairs come from a k-d tree (scipy's ``cKDTree``) over the zones' unit vectors, queried
with the chord of the longest range, so the work grows with the pairs in range (about
200 per zone in a real city) rather than with zones squared. Minutes of the candidates
are then computed with exactly the float operations of the dense haversine-on-unit-
vectors formula, so arcs and minutes (rounded to 0.001) are the same as a dense matrix
would give. The travel_times path works on the table's rows, never on a matrix.

    moves = allowed_moves(lat, lon, config, origins={"bike": zones_with_bikes})
    arc_group, arc_zone, arc_minutes = group_arcs(moves, vehicles, group_zone, group_vehicle)
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import Config
from .inputs import index_dtype

__all__ = [
    "Moves",
    "allowed_moves",
    "group_arcs",
    "kdtree",
    "overfull_origin",
    "pair_km",
    "unit_vectors",
]

EARTH_RADIUS_KM = 6371.0088  # CONTRACT section 2; `rebalance.model` re-exports it
_EPS = 1e-9  # the same tolerance on max_move_minutes as the dense model


def kdtree() -> Any:
    """scipy's ``cKDTree`` class, loaded without the rest of ``scipy.spatial``.

    ``import scipy.spatial`` also loads Qhull, ``distance`` and ``transform`` (0.15-0.4 s
    of a plan's start-up); the k-d tree is one extension module of that package that
    needs none of them. Loaded under a bare package entry that is removed right after,
    it is the very module a later ``import scipy.spatial`` picks up (same class). Any
    surprise falls back to the plain import.
    """
    loaded = sys.modules.get("scipy.spatial")
    if loaded is not None:
        return loaded.cKDTree
    try:
        import scipy

        package = types.ModuleType("scipy.spatial")
        package.__path__ = [str(Path(scipy.__file__).parent / "spatial")]
        sys.modules["scipy.spatial"] = package
        try:
            module = importlib.import_module("scipy.spatial._ckdtree")
        finally:
            if sys.modules.get("scipy.spatial") is package:
                del sys.modules["scipy.spatial"]
            if scipy.__dict__.get("spatial") is package:
                del scipy.__dict__["spatial"]
        return module.cKDTree
    except Exception:  # pragma: no cover - a scipy laid out differently
        from scipy.spatial import cKDTree

        return cKDTree


@dataclass(frozen=True)
class Moves:
    """Allowed moves of one vehicle, sorted by (origin, destination); staying included.

    ``origin`` and ``dest`` are zone positions (int32 when computed from distances, or
    int64), ``minutes`` the travel minutes rounded to 0.001 (0.0 for staying). When
    `allowed_moves` was asked for ``thousandths``: minutes as int32 whole thousandths,
    and positions as int16 where the zones are fewer than 32,768.
    """

    origin: np.ndarray
    dest: np.ndarray
    minutes: np.ndarray

    def __len__(self) -> int:
        return int(self.origin.size)


def allowed_moves(
    lat: np.ndarray,
    lon: np.ndarray,
    config: Config,
    *,
    travel_times: pd.DataFrame | None = None,
    zone_ids: np.ndarray | None = None,
    origins: Mapping[str, np.ndarray] | None = None,
    thousandths: bool = False,
) -> dict[str, Moves]:
    """Allowed moves for each vehicle of ``config`` (sorted by name).

    ``origins[v]``: the zone positions whose moves are wanted for vehicle v (e.g. the
    zones where such couriers are); all zones when not given, none for a vehicle
    missing from a given mapping. ``travel_times`` (from_zone, to_zone, minutes,
    vehicle; '' = every vehicle, a vehicle's own row overriding) replaces the computed
    minutes; it needs ``zone_ids`` to map zone ids to positions.

    ``thousandths``: computed from distances (no ``travel_times``), the moves' minutes
    come as int32 whole thousandths of a minute (``rint(1000 * minutes)``, the rounded
    minutes exactly) instead of floats, made a block at a time: the one-slot arcs hold
    them so (`millis_of`), and the 62 MB of float minutes at 10,000
    zones are never made.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    n = lat.size
    vehicles = tuple(sorted(config.vehicles))
    wanted = {
        v: np.unique(np.asarray(origins.get(v, []), dtype=np.int64))
        if origins is not None
        else np.arange(n, dtype=np.int64)
        for v in vehicles
    }
    if travel_times is None:
        return _by_distance(lat, lon, config, vehicles, wanted, thousandths)
    if zone_ids is None:
        raise ValueError("zone_ids is needed to read travel_times")
    return _by_table(travel_times, pd.Index(zone_ids), config, vehicles, wanted)


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points on the unit sphere (x, y, z) of latitudes and longitudes in degrees."""
    p, q = np.radians(lat), np.radians(lon)
    return np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)


def pair_km(
    xyz: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Great-circle km for pairs (rows[i], cols[i]): the dense formula's float steps."""
    x, y, z = xyz
    chord = x[rows] - x[cols]
    chord *= chord
    for comp in (y, z):
        diff = comp[rows] - comp[cols]
        diff *= diff
        chord += diff
    np.sqrt(chord, out=chord)
    chord *= 0.5
    np.clip(chord, 0.0, 1.0, out=chord)
    np.arcsin(chord, out=chord)
    chord *= 2 * EARTH_RADIUS_KM
    return chord


def _by_distance(
    lat: np.ndarray,
    lon: np.ndarray,
    config: Config,
    vehicles: tuple[str, ...],
    wanted: dict[str, np.ndarray],
    thousandths: bool = False,
) -> dict[str, Moves]:
    xyz = unit_vectors(lat, lon)
    points = np.column_stack(xyz)
    detour = config.travel.detour_factor
    # The farthest any vehicle may go, in km, then as a chord of the unit sphere with a
    # margin: candidates are filtered exactly below, so a wider query only costs time.
    reach_km = max(
        (config.vehicles[v].max_move_minutes + _EPS) * config.vehicles[v].speed_kmh / 60 / detour
        for v in vehicles
    )
    angle = min(reach_km / EARTH_RADIUS_KM, np.pi)
    radius = 2 * np.sin(angle / 2) * (1 + 1e-9) + 1e-12
    n = lat.size
    rows = np.unique(np.concatenate([wanted[v] for v in vehicles]))
    # Zone positions in the narrowest integers that hold them: the candidates and each
    # vehicle's moves are millions of rows at 10,000 zones (4.3 million candidates, 7.8
    # million moves), and int16 instead of int32 there took the build's peak down by
    # ~50 MB. The moves given back hold int32 at least (analysts multiply them), except
    # with ``thousandths`` (the one-slot build, whose `group_arcs` copies them to int32).
    position = index_dtype(n)
    out_position = position if thousandths else np.promote_types(position, np.int32)
    if rows.size:
        key = _candidates(points, rows, radius)
        pair_row = (key // n).astype(position)
        key %= n
        pair_col = key.astype(position)
        del key
        # a block of pairs at a time: whole, the gathered coordinates were five
        # temporaries as large as the km (4.3 million pairs at 10,000 zones, 34 MB each)
        km = np.empty(pair_row.size)
        for lo in range(0, km.size, _PAIR_BLOCK):
            block = slice(lo, lo + _PAIR_BLOCK)
            km[block] = pair_km(xyz, pair_row[block], pair_col[block])
    else:
        pair_row = pair_col = np.array([], dtype=position)
        km = np.array([], dtype=float)
    stay = pair_row == pair_col  # the tree finds every queried zone at distance 0
    # First each vehicle's moves as a mask of the candidates, then all of them in one
    # block of arrays, vehicle after vehicle (each vehicle's `Moves` are views of it):
    # `group_arcs` of a one-slot plan takes the destinations and minutes as its arcs'
    # without a copy, and the moves are never held twice (10,000 zones: 7.8 million
    # moves, 16 bytes each).
    chosen = {}
    for v in vehicles:
        spec = config.vehicles[v]
        # This vehicle's candidates: within its own range in km (with a margin; the exact
        # test on minutes follows), so a bike's ~16% of a scooter's pairs are all the
        # float work it costs.
        near = km <= (spec.max_move_minutes + _EPS) * spec.speed_kmh / 60 / detour * (1 + 1e-9)
        if wanted[v].size != rows.size:
            mine = np.zeros(n, dtype=bool)
            mine[wanted[v]] = True
            near &= mine[pair_row]
        # masks, not index arrays: no 8 bytes per candidate on top
        here = stay[near]
        minutes = _minutes(km.copy() if near.all() else km[near], here, spec, detour)
        near[near] = (minutes <= spec.max_move_minutes + _EPS) | here
        chosen[v] = near
        del minutes, here, near
    total = sum(int(np.count_nonzero(mask)) for mask in chosen.values())
    origins = np.empty(total, dtype=out_position)
    dests = np.empty(total, dtype=out_position)
    every_minutes = np.empty(total, dtype=np.int32 if thousandths else float)
    out = {}
    at = 0
    for v in vehicles:
        spec, mask = config.vehicles[v], chosen.pop(v)
        rows_out = slice(at, at + int(np.count_nonzero(mask)))
        origin, dest = origins[rows_out], dests[rows_out]
        if origins.dtype == pair_row.dtype:
            np.compress(mask, pair_row, out=origin)
            np.compress(mask, pair_col, out=dest)
        else:
            origin[:] = np.compress(mask, pair_row)
            dest[:] = np.compress(mask, pair_col)
        here = np.compress(mask, stay)
        # the same float steps on the same km as above, so the same minutes
        if thousandths:
            minutes = every_minutes[rows_out]
            done = 0
            for lo in range(0, mask.size, _PAIR_BLOCK):
                block = slice(lo, lo + _PAIR_BLOCK)
                part = mask[block]
                floats = _minutes(km[block][part], stay[block][part], spec, detour)
                np.round(floats, 3, out=floats)
                millis_of(floats, out=minutes[done : done + floats.size])
                done += floats.size
        else:
            minutes = _minutes(
                np.compress(mask, km, out=every_minutes[rows_out]), here, spec, detour
            )
            np.round(minutes, 3, out=minutes)
        assert np.array_equal(origin[here], wanted[v]), "a zone is missing its stay"
        out[v] = Moves(origin, dest, minutes)
        at = rows_out.stop
        del mask, here
    return out


def millis_of(minutes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Travel minutes rounded to 0.001 (at most `ranges.MAX_MOVE_MINUTES`) as whole
    thousandths, int32 (into ``out`` when given), converted `_PAIR_BLOCK` at a time;
    `minutes_of` gives the same floats back (``np.round(x, 3)`` is
    ``rint(x * 1000) / 1000``)."""
    if out is None:
        out = np.empty(minutes.size, dtype=np.int32)
    for lo in range(0, out.size, _PAIR_BLOCK):
        part = minutes[lo : lo + _PAIR_BLOCK] * 1000.0
        out[lo : lo + _PAIR_BLOCK] = np.rint(part, out=part)
    return out


def minutes_of(millis: np.ndarray) -> np.ndarray:
    """Whole thousandths of a minute (`millis_of`) as float minutes."""
    return np.divide(millis, 1000.0)


def _minutes(km: np.ndarray, stay: np.ndarray, spec: Any, detour: float) -> np.ndarray:
    """Travel minutes of moves of ``km`` (in place), 0 for the ``stay`` ones."""
    km *= detour
    km /= spec.speed_kmh
    km *= 60.0
    km[stay] = 0.0
    return km


#: Candidate pairs whose km `_by_distance` computes at a time.
_PAIR_BLOCK = 1 << 20

#: Up to this many (origin, zone) pairs, candidates come from blocks of a dense chord
#: matrix (no scipy import, ~0.2 s, for small cities); beyond it, from the k-d tree.
_DENSE_PAIRS = 4_000_000


def _candidates(points: np.ndarray, rows: np.ndarray, radius: float) -> np.ndarray:
    """Sorted keys ``row * n + col`` of the pairs within ``radius`` (chord, unit sphere).

    Every queried row finds itself (distance 0). Pairs near the radius may be in or out;
    the caller filters them exactly.
    """
    n = len(points)
    if rows.size * n <= _DENSE_PAIRS:
        keys = []
        step = max(1, _DENSE_PAIRS // (8 * n))
        # For unit vectors |a - b|^2 = 2 - 2 a.b: one matrix product per block. Its
        # rounding error (~1e-15 absolute) is far below the 1e-14 added to the bound:
        # every pair within the radius is kept, and the caller filters exactly.
        cosine_floor = 1.0 - (radius * radius + 1e-14) / 2
        for lo in range(0, rows.size, step):
            block = rows[lo : lo + step]
            near = points[block] @ points.T >= cosine_floor
            near[np.arange(block.size), block] = True
            i, j = np.nonzero(near)
            keys.append(block[i] * n + j)
        return np.concatenate(keys)  # rows ascending, then columns: sorted
    cKDTree = kdtree()
    tree = cKDTree(points)
    if 2 * rows.size < n:
        found = cKDTree(points[rows]).sparse_distance_matrix(tree, radius, output_type="ndarray")
        key = rows[found["i"]] * n + found["j"]
        del found
    else:
        # Most zones queried: each pair once (i < j, half the tree search of a
        # rows x all query), then both directions of the queried rows, and the stays.
        pairs = tree.query_pairs(radius, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        if rows.size == n:  # every zone queried (rows are unique): no mask, no temporaries
            m = i.size
            key = np.empty(2 * m + n, dtype=np.int64)
            np.multiply(i, n, out=key[:m])
            key[:m] += j
            np.multiply(j, n, out=key[m : 2 * m])
            key[m : 2 * m] += i
            np.multiply(rows, n + 1, out=key[2 * m :])
        else:
            i, j = i.astype(np.int64, copy=False), j.astype(np.int64, copy=False)
            queried = np.zeros(n, dtype=bool)
            queried[rows] = True
            key = np.concatenate([(i * n + j)[queried[i]], (j * n + i)[queried[j]], rows * (n + 1)])
        del pairs, i, j
    # One sort of int64 keys orders the pairs by (origin, destination).
    key.sort()
    return key


def _by_table(
    tt: pd.DataFrame,
    index: pd.Index,
    config: Config,
    vehicles: tuple[str, ...],
    wanted: dict[str, np.ndarray],
) -> dict[str, Moves]:
    n = len(index)
    fi = index.get_indexer(tt["from_zone"].to_numpy()).astype(np.int64)
    ti = index.get_indexer(tt["to_zone"].to_numpy()).astype(np.int64)
    minutes = tt["minutes"].to_numpy(dtype=float)
    veh = tt["vehicle"].to_numpy(dtype=object)
    key = fi * n + ti
    blank = veh == ""
    out = {}
    for v in vehicles:
        own = veh == v
        # A vehicle's own row overrides the blank one for the same pair.
        rows = np.flatnonzero(own | (blank & ~np.isin(key, key[own])))
        mine = np.zeros(n, dtype=bool)
        mine[wanted[v]] = True
        limit = config.vehicles[v].max_move_minutes
        rows = rows[mine[fi[rows]] & (minutes[rows] <= limit + _EPS) & (fi[rows] != ti[rows])]
        out[v] = _with_stays(fi[rows], ti[rows], minutes[rows], wanted[v], n)
    return out


def _with_stays(
    origin: np.ndarray, dest: np.ndarray, minutes: np.ndarray, stays: np.ndarray, n: int
) -> Moves:
    """Moves plus staying (0 minutes) at ``stays``, sorted by (origin, dest), rounded."""
    origin = np.concatenate([origin, stays]).astype(np.int64)
    dest = np.concatenate([dest, stays]).astype(np.int64)
    minutes = np.concatenate([minutes, np.zeros(stays.size)])
    order = np.argsort(origin * n + dest, kind="stable")
    return Moves(origin[order], dest[order], np.round(minutes[order], 3))


def group_arcs(
    moves: Mapping[str, Moves],
    vehicles: tuple[str, ...],
    group_zone: np.ndarray,
    group_vehicle: np.ndarray,
    *,
    release: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, destination zone, minutes) arcs of (zone, vehicle) groups.

    Group g is the couriers of vehicle ``vehicles[group_vehicle[g]]`` in zone
    ``group_zone[g]``; ``moves`` must hold every group's zone as an origin of its
    vehicle. Arcs come vehicle by vehicle, then by group, then by destination (staying
    in its place among them). Groups and zones are int32; each array is allocated once,
    at its final size: at 10,000 zones the arcs are 7.8 million rows.

    ``release``: ``moves`` is a dict the caller no longer needs; each vehicle's moves
    are removed from it, their origins at once and the rest once copied, so the moves
    and the arcs (16 bytes a row each) are never both held whole. When each group's
    moves are all its vehicle's, in order, and the vehicles' moves one block of arrays
    (as `allowed_moves` makes them), the destinations and minutes are taken as they are,
    with no copy: at 10,000 zones the build peaked at ~250 MB for moves and arcs
    together, now at the arcs' 125 MB.
    """
    group_zone = np.asarray(group_zone)
    parts = []
    for v, name in enumerate(vehicles):
        groups = np.flatnonzero(group_vehicle == v)
        if groups.size == 0:
            continue
        m = moves[name]
        # Rows of each group's zone in the origin-sorted moves, looked up as the
        # origins' integers (mixed, numpy would copy the origins to the wider kind)
        zone = group_zone[groups]
        if zone.size and int(zone.max()) <= np.iinfo(m.origin.dtype).max:
            zone = zone.astype(m.origin.dtype)
        lo = np.searchsorted(m.origin, zone, side="left")
        counts = np.searchsorted(m.origin, zone, side="right") - lo
        if (counts == 0).any():
            raise ValueError("moves lack a group's zone: pass it in origins")
        size = int(counts.sum())
        # the moves are exactly these groups' zones, in the same order: copied whole
        whole = size == len(m) and bool((np.diff(zone) > 0).all())
        # only the destinations and minutes are read from here on: when released, the
        # origins go now and each array once copied, so that the moves and the arcs are
        # never both held whole (10,000 zones: 7.8 million rows, 16 bytes each)
        source = {"dest": m.dest, "minutes": m.minutes}
        if release:
            assert isinstance(moves, dict)
            del moves[name], m
        parts.append((source, groups, lo, counts, size, whole))
    total = sum(part[4] for part in parts)
    tails = np.empty(total, dtype=np.int32)
    at = 0
    for _, groups, _, counts, size, _ in parts:
        tails[at : at + size] = np.repeat(groups, counts)
        at += size
    heads = _gathered(parts, "dest", np.dtype(np.int32), total, release)
    kind = parts[0][0]["minutes"].dtype if parts else np.dtype(float)
    minutes = _gathered(parts, "minutes", kind, total, release)
    return tails, heads, minutes


def _gathered(
    parts: list[Any], column: str, dtype: np.dtype, total: int, release: bool
) -> np.ndarray:
    """`group_arcs`' ``column`` of each vehicle's moves, one after the other (all of
    them, or each group's zone's rows); released ones let go of it once copied.

    Released moves taken whole that are already one array, vehicle after vehicle (as
    `allowed_moves` computes them), are that array, not a copy of it."""
    if release and all(part[5] for part in parts):
        joined = _tiled([part[0][column] for part in parts], dtype, total)
        if joined is not None:
            for part in parts:
                del part[0][column]
            return joined
    out = np.empty(total, dtype=dtype)
    at = 0
    for source, _, lo, counts, size, whole in parts:
        values = source.pop(column) if release else source[column]
        if whole:
            out[at : at + size] = values
        else:
            take = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(size)
            if values.dtype == dtype:
                np.take(values, take, out=out[at : at + size])
            else:  # int16 zones (`allowed_moves` with thousandths) into int32 arcs
                out[at : at + size] = np.take(values, take)
            del take
        at += size
        del values
    return out


def _tiled(arrays: list[np.ndarray], dtype: np.dtype, total: int) -> np.ndarray | None:
    """The one-dimensional array of ``dtype`` and size ``total`` whose consecutive
    slices ``arrays`` are, end to end, or None."""
    if not arrays:
        return None
    base = arrays[0].base
    if (
        not isinstance(base, np.ndarray)
        or base.ndim != 1
        or base.dtype != dtype
        or base.size != total
        or not base.flags.c_contiguous
    ):
        return None
    start = at = base.__array_interface__["data"][0]
    for a in arrays:
        if a.base is not base or a.ndim != 1 or a.__array_interface__["data"][0] != at:
            return None
        at += a.size * a.itemsize
    return base if at == start + base.nbytes else None


def overfull_origin(
    arc_origin: np.ndarray,
    arc_dest: np.ndarray,
    couriers: np.ndarray,
    cap: np.ndarray,
    order: np.ndarray,
) -> tuple[int, np.ndarray, int] | None:
    """The first zone, in ``order``, whose couriers exceed the caps of all it can reach.

    ``arc_origin``/``arc_dest``: allowed moves (zone positions, staying included, any
    vehicle); ``couriers[z]``: couriers starting in z; ``cap[z]``: max_couriers, NaN for
    no cap. Returns (zone, the zones it reaches sorted by position, their total cap),
    or None. Zones that reach an uncapped zone never qualify. Sorting the unique pairs
    once makes it O(arcs log arcs), not zones x arcs.
    """
    n = couriers.size
    pairs = np.unique(np.asarray(arc_origin, np.int64) * n + np.asarray(arc_dest, np.int64))
    origin, dest = pairs // n, pairs % n
    capped = ~np.isnan(cap)
    open_reach = np.bincount(origin, weights=~capped[dest], minlength=n) > 0
    room = np.bincount(origin, weights=np.where(capped, cap, 0.0)[dest], minlength=n)
    bad = (
        (couriers > 0)
        & ~open_reach
        & (couriers > room + 0.5)
        & (np.bincount(origin, minlength=n) > 0)
    )
    if not bad.any():
        return None
    ranked = np.flatnonzero(bad[order])
    z = int(order[ranked[0]])
    return z, dest[origin == z], int(np.rint(room[z]))
