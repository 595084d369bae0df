"""Sparse reachability (rebalance.reach) against the dense zones x zones reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rebalance import Config, reach
from rebalance.reach import allowed_moves, group_arcs, overfull_origin

EARTH_RADIUS_KM = 6371.0088


def dense_arcs(lat, lon, config, vehicles, group_zone, group_vehicle, tt=None, zone_ids=None):
    """The dense model: a zones x zones minutes matrix per vehicle (the pre-reach code)."""
    n = lat.size
    if tt is None:
        p, q = np.radians(lat), np.radians(lon)
        x, y, z = np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)
        chord = np.subtract.outer(x, x)
        chord *= chord
        for comp in (y, z):
            diff = np.subtract.outer(comp, comp)
            diff *= diff
            chord += diff
        np.sqrt(chord, out=chord)
        chord *= 0.5
        np.clip(chord, 0.0, 1.0, out=chord)
        np.arcsin(chord, out=chord)
        chord *= 2 * EARTH_RADIUS_KM

        def minutes(v):
            block = chord.copy()
            block *= config.travel.detour_factor
            block /= config.vehicles[vehicles[v]].speed_kmh
            block *= 60.0
            return block
    else:
        index = pd.Index(zone_ids)
        fi = index.get_indexer(tt["from_zone"])
        ti = index.get_indexer(tt["to_zone"])
        veh = tt["vehicle"].to_numpy(dtype=object)
        generic = np.full((n, n), np.nan)
        blank = veh == ""
        generic[fi[blank], ti[blank]] = tt["minutes"].to_numpy()[blank]

        def minutes(v):
            m = generic.copy()
            own = veh == vehicles[v]
            m[fi[own], ti[own]] = tt["minutes"].to_numpy()[own]
            return m

    tails, heads, mins = [], [], []
    for v, name in enumerate(vehicles):
        groups = np.flatnonzero(group_vehicle == v)
        if groups.size == 0:
            continue
        block = minutes(v)[group_zone[groups]]
        with np.errstate(invalid="ignore"):
            allowed = block <= config.vehicles[name].max_move_minutes + 1e-9
        rows = np.arange(groups.size)
        block[rows, group_zone[groups]] = 0.0
        allowed[rows, group_zone[groups]] = True
        gi, zi = np.nonzero(allowed)
        tails.append(groups[gi])
        heads.append(zi)
        mins.append(block[gi, zi])
    return (
        np.concatenate(tails).astype(np.int64),
        np.concatenate(heads).astype(np.int64),
        np.round(np.concatenate(mins), 3),
    )


def random_city(seed, n, spread_km):
    """Zones around a centre (some sharing a position), and (zone, vehicle) groups."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = rng.uniform(-70, 70), rng.uniform(-180, 180)
    lat = lat0 + rng.normal(0, spread_km / 111.0, n)
    lon = lon0 + rng.normal(0, spread_km / 111.0, n) / np.cos(np.radians(lat0))
    lat[: n // 10] = lat[n // 10 : 2 * (n // 10)]  # duplicates: 0 km apart
    lon[: n // 10] = lon[n // 10 : 2 * (n // 10)]
    lon = (lon + 180) % 360 - 180
    vehicles = tuple(sorted(Config().vehicles))
    keys = np.unique(rng.integers(0, n * len(vehicles), n * 2))
    return rng, np.clip(lat, -90, 90), lon, vehicles, keys // len(vehicles), keys % len(vehicles)


def sparse_arcs(lat, lon, config, vehicles, group_zone, group_vehicle, **kw):
    """The reach module's arcs for the same groups."""
    origins = {v: group_zone[group_vehicle == i] for i, v in enumerate(vehicles)}
    moves = allowed_moves(lat, lon, config, origins=origins, **kw)
    return group_arcs(moves, vehicles, group_zone, group_vehicle)


@pytest.mark.parametrize(
    ("seed", "n", "spread_km", "detour"),
    [(1, 300, 8, 1.3), (2, 400, 25, 1.0), (3, 50, 2000, 1.7), (4, 200, 0.5, 1.3)],
)
@pytest.mark.parametrize("dense_pairs", [0, 10**9])
def test_same_arcs_as_dense_distances(seed, n, spread_km, detour, dense_pairs, monkeypatch):
    """Every arc and its minutes (to 0.001) equal the dense matrix's (k-d tree or blocks)."""
    monkeypatch.setattr(reach, "_DENSE_PAIRS", dense_pairs)
    _, lat, lon, vehicles, gz, gv = random_city(seed, n, spread_km)
    config = Config.model_validate({"travel": {"detour_factor": detour}})
    want = dense_arcs(lat, lon, config, vehicles, gz, gv)
    got = sparse_arcs(lat, lon, config, vehicles, gz, gv)
    assert len(want[0]) > len(gz)  # some moves besides staying
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)


def test_released_moves_give_the_same_arcs():
    """``release=True`` (one slot, the moves not needed after): the same arcs, and the
    moves dict is emptied vehicle by vehicle, so the two are not held whole together."""
    _, lat, lon, vehicles, gz, gv = random_city(7, 300, 10)
    origins = {v: gz[gv == i] for i, v in enumerate(vehicles)}
    kept = allowed_moves(lat, lon, Config(), origins=origins)
    released = allowed_moves(lat, lon, Config(), origins=origins)
    want = group_arcs(kept, vehicles, gz, gv)
    got = group_arcs(released, vehicles, gz, gv, release=True)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)
    assert set(kept) == set(vehicles) and released == {}


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_minutes_in_thousandths_are_the_rounded_minutes(block, monkeypatch):
    """``thousandths=True`` (the one-slot arcs): the same moves, minutes as int32
    ``rint(1000 x minutes)`` of the float ones, made block by block, taken whole by
    `group_arcs` when released."""
    monkeypatch.setattr(reach, "_PAIR_BLOCK", block)
    _, lat, lon, vehicles, gz, gv = random_city(5, 300, 12)
    origins = {v: gz[gv == i] for i, v in enumerate(vehicles)}
    floats = allowed_moves(lat, lon, Config(), origins=origins)
    whole = allowed_moves(lat, lon, Config(), origins=origins, thousandths=True)
    for v in vehicles:
        assert whole[v].minutes.dtype == np.int32
        np.testing.assert_array_equal(whole[v].origin, floats[v].origin)
        np.testing.assert_array_equal(whole[v].dest, floats[v].dest)
        np.testing.assert_array_equal(whole[v].minutes, np.rint(floats[v].minutes * 1000))
    want = group_arcs(floats, vehicles, gz, gv)
    got = group_arcs(whole, vehicles, gz, gv, release=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[2].dtype == np.int32
    np.testing.assert_array_equal(got[2] / 1000.0, want[2])


@pytest.mark.parametrize("share", [1.0, 0.6, 0.1])
def test_kd_tree_queries_agree_for_every_share_of_origins(share, monkeypatch):
    """All zones as origins (each pair found once and mirrored), most of them, or a few
    (a tree of those few): the same arcs as the dense distances."""
    monkeypatch.setattr(reach, "_DENSE_PAIRS", 0)
    rng, lat, lon, vehicles, _, _ = random_city(6, 500, 12)
    zones = np.flatnonzero(rng.random(lat.size) < share) if share < 1 else np.arange(lat.size)
    gz = np.repeat(zones, len(vehicles))
    gv = np.tile(np.arange(len(vehicles)), zones.size)
    config = Config()
    want = dense_arcs(lat, lon, config, vehicles, gz, gv)
    got = sparse_arcs(lat, lon, config, vehicles, gz, gv)
    assert len(want[0]) > 3 * len(gz)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)


@pytest.mark.parametrize("dense_pairs", [0, 10**9])
def test_same_arcs_near_the_poles_and_the_date_line(dense_pairs, monkeypatch):
    """Zones around a pole and across longitude 180 are neighbours as on the sphere."""
    monkeypatch.setattr(reach, "_DENSE_PAIRS", dense_pairs)
    lat = np.array([89.99, 89.99, 89.98, -0.01, 0.01, 0.0])
    lon = np.array([0.0, 180.0, 90.0, 179.999, -179.999, 180.0])
    gz, gv = np.arange(6), np.zeros(6, dtype=np.int64)
    config = Config()
    vehicles = tuple(sorted(config.vehicles))
    want = dense_arcs(lat, lon, config, vehicles, gz, gv)
    got = sparse_arcs(lat, lon, config, vehicles, gz, gv)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)
    assert len(got[0]) == 6 + 6 + 6  # two triangles of mutual neighbours, plus staying


def test_same_arcs_as_dense_travel_times():
    """travel_times: blank rows for all, a vehicle's rows override, absent pairs are out."""
    rng, lat, lon, vehicles, gz, gv = random_city(5, 120, 10)
    ids = np.array([f"z{i:03d}" for i in range(lat.size)], dtype=object)
    pairs = rng.integers(0, lat.size, (3000, 2))
    veh = rng.choice(["", *vehicles], 3000, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    tt = pd.DataFrame(
        {
            "from_zone": ids[pairs[:, 0]],
            "to_zone": ids[pairs[:, 1]],
            "minutes": np.round(rng.uniform(0, 45, 3000), 4),
            "vehicle": veh,
        }
    ).drop_duplicates(["from_zone", "to_zone", "vehicle"])
    config = Config()
    want = dense_arcs(lat, lon, config, vehicles, gz, gv, tt=tt, zone_ids=ids)
    got = sparse_arcs(lat, lon, config, vehicles, gz, gv, travel_times=tt, zone_ids=ids)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)


def test_moves_of_all_zones_by_default():
    """Without origins every zone gets its moves; staying is always there at 0 minutes."""
    _, lat, lon, *_ = random_city(6, 80, 5)
    moves = allowed_moves(lat, lon, Config())
    for m in moves.values():
        stays = m.origin == m.dest
        assert np.array_equal(m.origin[stays], np.arange(80))
        assert (m.minutes[stays] == 0).all()
        assert (np.diff(m.origin * 80 + m.dest) > 0).all()


def naive_overfull(arc_origin, arc_dest, couriers, cap, order):
    """The per-zone loop of the dense explanation (zones x arcs)."""
    capped = ~np.isnan(cap)
    for z in order:
        if couriers[z] == 0:
            continue
        reach = np.unique(arc_dest[arc_origin == z])
        if (~capped[reach]).any():
            continue
        room = int(np.nan_to_num(cap[reach]).sum())
        if couriers[z] > room:
            return int(z), reach, room
    return None


def test_overfull_origin_matches_the_per_zone_loop():
    """The index-based explanation names the same zone, reach and room as the zone loop."""
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = 30
        arcs = rng.integers(0, n, (rng.integers(0, 80), 2))
        origin = np.concatenate([arcs[:, 0], np.arange(n)])
        dest = np.concatenate([arcs[:, 1], np.arange(n)])
        couriers = rng.integers(0, 6, n) * (rng.random(n) < 0.7)
        cap = np.where(rng.random(n) < 0.8, rng.integers(0, 4, n), np.nan)
        order = rng.permutation(n)
        want = naive_overfull(origin, dest, couriers, cap, order)
        got = overfull_origin(origin, dest, couriers, cap, order)
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert got[0] == want[0] and got[2] == want[2]
            np.testing.assert_array_equal(got[1], want[1])


def test_kdtree_is_scipys_class_and_a_later_full_import_still_works():
    """The k-d tree loaded alone is the class `scipy.spatial` exports afterwards, and the
    rest of scipy.spatial still imports (run in a fresh interpreter)."""
    import subprocess
    import sys

    code = (
        "from rebalance.reach import kdtree\n"
        "import sys\n"
        "tree = kdtree()\n"
        "assert 'scipy.spatial.transform' not in sys.modules\n"
        "import scipy.spatial\n"
        "from scipy.spatial.distance import cdist\n"
        "assert scipy.spatial.cKDTree is tree\n"
        "assert tree([[0.0, 0.0], [1.0, 0.0]]).query([0.9, 0.0])[1] == 1\n"
        "assert cdist([[0.0]], [[3.0]])[0, 0] == 3.0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_move_exactly_at_the_vehicles_range_is_allowed(tmp_path):
    """CONTRACT section 2: a move is allowed only if travel minutes <= max_move_minutes;
    a whole-minute travel_times row equal to the range is common, and nothing tested
    it (a mutant using < kept the courier home and left the zone short); nor a range of
    0 between zones at one place (0 minutes away)."""
    from util import courier, restaurant, snapshot, write_city, zone

    from rebalance import load, solve

    city = write_city(
        tmp_path / "a",
        [zone("A", 48.85, 2.35), zone("B", 48.86, 2.35)],
        [restaurant("r1", "B", 2.5)],
        [courier("c1", "A")],
        travel_times=[{"from_zone": "A", "to_zone": "B", "minutes": 20, "vehicle": ""}],
    )
    config = snapshot()
    assert config.vehicles["bike"].max_move_minutes == 20
    plan = solve(load(city, config), config, "2026-11-30T19:00")
    assert plan.moves[["courier_id", "from_zone", "to_zone", "travel_minutes"]].to_dict(
        "records"
    ) == [{"courier_id": "c1", "from_zone": "A", "to_zone": "B", "travel_minutes": 20.0}]
    assert plan.kpis["shortage"] == 0
    same = write_city(
        tmp_path / "b",
        [zone("A", 48.85, 2.35), zone("B", 48.85, 2.35)],
        [restaurant("r1", "B", 2.5)],
        [courier("c1", "A")],
    )
    config = snapshot(vehicles={"bike": {"speed_kmh": 15.0, "max_move_minutes": 0.0}})
    plan = solve(load(same, config), config, "2026-11-30T19:00")
    assert list(plan.moves["to_zone"]) == ["B"] and plan.kpis["shortage"] == 0
