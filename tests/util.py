"""Shared test helpers (plain functions, imported explicitly)."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fakeslack import block_problems, visible_chars

from rebalance import Config
from rebalance.plan import Plan
from rebalance.publish import MAX_MESSAGE_CHARS, message_problems

DATA = Path(__file__).parent / "data"
VALID = DATA / "valid"
BAD = DATA / "bad"
REPO = Path(__file__).parent.parent
SHIFT = "2026-11-30T19:00"


def city_with(tmp_path: Path, rule: str | None = None, **frames: pd.DataFrame) -> Path:
    """A copy of tests/data/valid with the files of bad/<rule> (or frames) laid over it."""
    target = tmp_path / (rule or "city")
    shutil.copytree(VALID, target)
    if rule:
        for file in (BAD / rule).iterdir():
            shutil.copy(file, target / file.name)
    for name, frame in frames.items():
        frame.to_csv(target / f"{name}.csv", index=False)
    return target


def write_city(
    path: Path,
    zones: list[dict],
    restaurants: list[dict],
    couriers: list[dict],
    travel_times: list[dict] | None = None,
) -> Path:
    """Write a small city from row dicts (all values as given, ids as strings)."""
    path.mkdir(parents=True, exist_ok=True)
    zcols = ["zone_id", "name", "lat", "lon", "priority", "max_couriers"]
    rcols = ["restaurant_id", "name", "zone_id", "status", "expected_orders_per_hour"]
    ccols = ["courier_id", "zone_id", "vehicle", "available_from", "available_until", "status"]
    pd.DataFrame(zones, columns=zcols).to_csv(path / "zones.csv", index=False)
    pd.DataFrame(restaurants, columns=rcols).to_csv(path / "restaurants.csv", index=False)
    pd.DataFrame(couriers, columns=ccols).to_csv(path / "couriers.csv", index=False)
    if travel_times is not None:
        tcols = ["from_zone", "to_zone", "minutes", "vehicle"]
        pd.DataFrame(travel_times, columns=tcols).to_csv(path / "travel_times.csv", index=False)
    return path


def courier(
    cid: str,
    zone: str,
    vehicle: str = "bike",
    until: str = "2026-11-30T23:00",
    start: str = "2026-11-30T18:00",
    status: str = "",
) -> dict:
    """One courier row, available around the 19:00 test shift by default."""
    return {
        "courier_id": cid,
        "zone_id": zone,
        "vehicle": vehicle,
        "available_from": start,
        "available_until": until,
        "status": status,
    }


def zone(
    zid: str,
    lat: float,
    lon: float,
    priority: object = "",
    cap: object = "",
    name: str | None = None,
) -> dict:
    """One zone row."""
    return {
        "zone_id": zid,
        "name": name or f"Zone {zid}",
        "lat": lat,
        "lon": lon,
        "priority": priority,
        "max_couriers": cap,
    }


def restaurant(rid: str, zone_id: str, orders: float, status: str = "open") -> dict:
    """One restaurant row."""
    return {
        "restaurant_id": rid,
        "name": f"Resto {rid}",
        "zone_id": zone_id,
        "status": status,
        "expected_orders_per_hour": orders,
    }


def snapshot(**sections: dict) -> Config:
    """The default configuration with one slot for the whole shift (CONTRACT section 2)."""
    return Config().with_changes(shift={"slot_minutes": 24 * 60}, **sections)


def synthetic_plan(
    zones: int, moves: int, *, name_chars: int = 20, paused: int = 3, seed: int = 0
) -> Plan:
    """A plan built directly (no solver): every zone short, long names, many routes."""
    rng = np.random.default_rng(seed)
    ids = [f"Z{i:04d}" for i in range(zones)]
    need = rng.integers(1, 40, zones)
    short = rng.integers(0, 5, zones)
    frame = pd.DataFrame(
        {
            "zone_id": ids,
            "name": [("Quartier " + "é&<x>" * name_chars)[: max(1, name_chars)] for _ in ids],
            "open_restaurants": rng.integers(0, 50, zones),
            "demand_orders_per_hour": need * 2.5,
            "required_couriers": need,
            "couriers_before": need - short - 2,
            "couriers_after": need - short,
            "moved_in": rng.integers(0, 9, zones),
            "moved_out": rng.integers(0, 9, zones),
            "shortage": short,
            "surplus": 0,
            "action": np.where(
                short > 0, "short", np.where(rng.random(zones) < 0.5, "receive", "send")
            ),
            "pause_restaurants": [
                ";".join(f"R{i:05d}{j:03d}" for j in range(paused)) if s else ""
                for i, s in enumerate(short)
            ],
            "paused_orders_per_hour": short * 2.0,
        }
    )
    src = rng.integers(0, max(zones, 1), moves)
    dst = rng.integers(0, max(zones, 1), moves)
    move_frame = pd.DataFrame(
        {
            "courier_id": [f"C{i:06d}" for i in range(moves)],
            "vehicle": rng.choice(["bike", "ebike", "scooter", "car"], moves),
            "from_zone": [ids[i] if zones else "Z" for i in src],
            "to_zone": [ids[i] if zones else "Z" for i in dst],
            "travel_minutes": rng.random(moves) * 30,
        }
    )
    return Plan(
        plan_id="synthetic",
        city="Llanfair" + "pwll" * 50,
        timezone="Europe/Paris",
        shift_start=pd.Timestamp("2026-11-30T18:00Z"),
        shift_end=pd.Timestamp("2026-11-30T22:00Z"),
        status="feasible",
        objective=1.0,
        best_bound=0.5,
        solve_seconds=1.0,
        inputs_sha256="x",
        kpis={
            "eligible_couriers": moves * 2,
            "moved_couriers": moves,
            "travel_minutes": 1e6,
            "shortage": int(short.sum()),
            "zones_short": int((short > 0).sum()),
            "coverage_before": 0.5,
            "coverage": 0.9,
            "paused_orders_per_hour": 12.5,
        },
        zones=frame,
        moves=move_frame,
    )


def trade_destinations(plan: Plan, trades: int) -> Plan:
    """``plan`` with ``trades`` pairs of its couriers trading destinations: two couriers
    who leave the same zone at the same slot start on the same vehicle, have no other
    move and stay to the same slot (logged on to the same time, or to the shift's end;
    in a one-slot plan, all) each take the other's to_zone and travel minutes. Every zone's count in every slot,
    every KPI and the explanation stay as they are (a plan as consistent as the one
    solved, and as good), but the moves differ: `rebalance diff` finds 2 re-routed
    groups per trade, each trade being between another pair of routes. (A to_zone
    changed alone left zones.csv counting the courier where he no longer went: a folder
    `read_plan` refuses.) AssertionError when the plan has fewer such pairs."""
    assert plan.roster is not None and plan.presence is not None, "who stays till when"
    moves = plan.moves.reset_index(drop=True)
    until = pd.Series(plan.presence[1], index=plan.roster.to_pylist())
    stays = np.minimum(until.reindex(moves["courier_id"]).to_numpy(), plan.shift_end.value)
    if plan.slot_count == 1:  # everyone present is there for the one slot
        stays[:] = 0
    start = moves["slot_start"] if "slot_start" in moves.columns else plan.shift_start
    alone = moves.groupby("courier_id")["courier_id"].transform("size") == 1
    candidates = moves.assign(start=start, stays=stays)[alone.to_numpy()]
    to = moves["to_zone"].to_numpy(dtype=object).copy()
    minutes = moves["travel_minutes"].to_numpy(dtype=float).copy()
    done = 0
    for _, alike in candidates.groupby(["start", "from_zone", "vehicle", "stays"], sort=True):
        # the moves (rows) to each zone, taken in order, each by one trade at most
        rows = {zone: list(group.index) for zone, group in alike.groupby("to_zone", sort=True)}
        for x, y in itertools.combinations(sorted(rows), 2):
            if done < trades and rows[x] and rows[y]:
                a, b = rows[x].pop(0), rows[y].pop(0)
                to[a], to[b] = to[b], to[a]
                minutes[a], minutes[b] = minutes[b], minutes[a]
                done += 1
    assert done == trades, f"{done} pairs of couriers can trade destinations, not {trades}"
    return dataclasses.replace(plan, moves=moves.assign(to_zone=to, travel_minutes=minutes))


def assert_within_limits(payloads: list[dict[str, Any]]) -> None:
    """Every payload is within Slack's limits, by our checker and by the fake Slack's."""
    for payload in payloads:
        assert message_problems(payload) == [], payload["text"]
        assert block_problems(payload["blocks"]) == []
        assert visible_chars(payload["blocks"]) <= MAX_MESSAGE_CHARS
        assert 0 < len(payload["text"]) <= 3000


def in_a_terminal(*args: str, columns: int = 80, stderr_too: bool = True) -> tuple[int, str]:
    """Run `rebalance ARGS` with stdout on a pseudo-terminal (stderr too, unless not
    ``stderr_too``: then it is thrown away); its exit code and all the terminal got."""
    import os
    import pty
    import select
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "rebalance"
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    stderr = slave if stderr_too else subprocess.DEVNULL
    proc = subprocess.Popen([str(exe), *args], stdout=slave, stderr=stderr, env=env)
    os.close(slave)
    data = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.wait(timeout=60), data.decode("utf-8", "replace")
