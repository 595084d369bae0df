"""Property tests: on random small cities the plan is valid and as good as an independent MILP."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp
from util import write_city

from rebalance import Config, load, solve

SHIFT = pd.Timestamp("2026-11-30T19:00", tz="Europe/Paris")
VEHICLES = {
    "bike": (15.0, 20.0),
    "ebike": (20.0, 25.0),
    "scooter": (25.0, 30.0),
    "car": (22.0, 30.0),
}


@st.composite
def cities(draw):
    """A random city of 1-5 zones within ~8 km, up to 12 couriers and 10 restaurants."""
    n_zones = draw(st.integers(1, 5))
    zones = []
    for i in range(n_zones):
        zones.append(
            {
                "zone_id": f"{i:03d}",
                "name": f"Z{i}",
                "lat": 48.85 + draw(st.floats(-0.04, 0.04)),
                "lon": 2.35 + draw(st.floats(-0.06, 0.06)),
                "priority": draw(st.sampled_from(["", 1.0, 1.5, 3.0])),
                "max_couriers": draw(st.sampled_from(["", "", "", 0, 1, 2, 4])),
            }
        )
    rests = [
        {
            "restaurant_id": f"r{j}",
            "name": "x",
            "zone_id": f"{draw(st.integers(0, n_zones - 1)):03d}",
            "status": draw(st.sampled_from(["open", "open", "closed"])),
            "expected_orders_per_hour": draw(st.sampled_from([0, 0.7, 1.3, 2.5, 4.1, 7.0])),
        }
        for j in range(draw(st.integers(0, 10)))
    ]
    couriers = []
    for k in range(draw(st.integers(0, 12))):
        start = draw(st.sampled_from([-120, -30, 0, 15]))
        length = draw(st.sampled_from([30, 60, 90, 240, 400]))
        couriers.append(
            {
                "courier_id": f"c{k:02d}",
                "zone_id": f"{draw(st.integers(0, n_zones - 1)):03d}",
                "vehicle": draw(st.sampled_from(list(VEHICLES))),
                "available_from": (SHIFT + pd.Timedelta(minutes=start)).isoformat(),
                "available_until": (SHIFT + pd.Timedelta(minutes=start + length)).isoformat(),
                "status": draw(st.sampled_from(["", "available", "busy", "offline", ""])),
            }
        )
    costs = {
        "shortage_minutes": draw(st.sampled_from([0.0, 30.0, 60.0, 200.0])),
        "surplus_minutes": draw(st.sampled_from([0.0, 0.0, 3.0])),
        "move_fixed_minutes": draw(st.sampled_from([0.0, 5.0])),
    }
    return zones, rests, couriers, costs


def reference(zones, rests, couriers, costs):
    """The contract's model solved independently: courier-level binaries in HiGHS via scipy."""
    opch, detour, radius = 2.5, 1.3, 6371.0088
    zid = [z["zone_id"] for z in zones]
    demand = {z: 0.0 for z in zid}
    for r in rests:
        if r["status"] == "open":
            demand[r["zone_id"]] += r["expected_orders_per_hour"]
    req = np.array([math.ceil(demand[z] / opch - 1e-9) for z in zid])
    prio = np.array([1.0 if z["priority"] == "" else float(z["priority"]) for z in zones])
    cap = [None if z["max_couriers"] == "" else int(z["max_couriers"]) for z in zones]
    elig = [
        c
        for c in couriers
        if c["status"] in ("", "available")
        and pd.Timestamp(c["available_from"]) <= SHIFT
        and pd.Timestamp(c["available_until"]) >= SHIFT + pd.Timedelta(minutes=60)
    ]

    def minutes(a, b, vehicle):
        za, zb = zones[a], zones[b]
        p1, p2 = math.radians(za["lat"]), math.radians(zb["lat"])
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(zb["lon"] - za["lon"]) / 2) ** 2
        )
        km = 2 * radius * math.asin(math.sqrt(h))
        return km * detour / VEHICLES[vehicle][0] * 60

    n, m = len(elig), len(zid)
    var_cost, var_c, var_z = [], [], []
    for i, c in enumerate(elig):
        home = zid.index(c["zone_id"])
        for z in range(m):
            t = 0.0 if z == home else minutes(home, z, c["vehicle"])
            if z == home or t <= VEHICLES[c["vehicle"]][1]:
                var_cost.append(0.0 if z == home else t + costs["move_fixed_minutes"])
                var_c.append(i)
                var_z.append(z)
    nx = len(var_cost)
    # variables: x (nx binaries), shortage (m), surplus (m)
    cvec = np.concatenate(
        [var_cost, costs["shortage_minutes"] * prio, np.full(m, costs["surplus_minutes"])]
    )
    rows, lo, hi = [], [], []
    for i in range(n):
        row = np.zeros(nx + 2 * m)
        row[[k for k in range(nx) if var_c[k] == i]] = 1
        rows.append(row)
        lo.append(1)
        hi.append(1)
    for z in range(m):
        assigned = np.zeros(nx + 2 * m)
        assigned[[k for k in range(nx) if var_z[k] == z]] = 1
        r = assigned.copy()
        r[nx + z] = 1  # assigned + shortage >= req
        rows.append(r)
        lo.append(req[z])
        hi.append(np.inf)
        r = assigned.copy()
        r[nx + m + z] = -1  # assigned - surplus <= req
        rows.append(r)
        lo.append(-np.inf)
        hi.append(req[z])
        if cap[z] is not None:
            rows.append(assigned)
            lo.append(-np.inf)
            hi.append(cap[z])
    integrality = np.concatenate([np.ones(nx), np.zeros(2 * m)])
    constraints = LinearConstraint(np.array(rows), lo, hi) if rows else ()
    res = milp(
        cvec,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(np.zeros(nx + 2 * m), np.concatenate([np.ones(nx), np.full(2 * m, np.inf)])),
    )
    if res.status == 2:
        return None, elig
    assert res.status == 0, res.message
    return float(res.fun), elig


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cities())
def test_plan_is_valid_and_optimal(city):
    """Every eligible courier is assigned once, moves within range, caps hold, objective = MILP optimum."""
    zones, rests, couriers, costs = city
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_city(Path(tmp), zones, rests, couriers)
        config = Config().with_changes(costs=costs, shift={"slot_minutes": 24 * 60})
        # random cities may have nobody eligible: what solve warns of is not checked here
        plan = solve(load(folder, config), config, "2026-11-30T19:00", warn=False)
    expected, elig = reference(zones, rests, couriers, costs)
    if expected is None:
        assert plan.status == "infeasible" and plan.message
        return
    assert plan.status == "optimal"
    z = plan.zones.set_index("zone_id")
    assert z["couriers_after"].sum() == len(elig)
    assert plan.moves["courier_id"].is_unique
    assert set(plan.moves["courier_id"]) <= {c["courier_id"] for c in elig}
    for move in plan.moves.itertuples():
        assert move.travel_minutes <= VEHICLES[move.vehicle][1] + 1e-6
        assert move.from_zone != move.to_zone
    for zone in zones:
        if zone["max_couriers"] != "":
            assert z.loc[zone["zone_id"], "couriers_after"] <= int(zone["max_couriers"])
    assert plan.objective == pytest.approx(expected, abs=1e-3 * (1 + len(plan.moves)))
