"""Shared test helpers (plain functions, imported explicitly)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from rebalance import Config

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
