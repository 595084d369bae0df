"""Build the Paris and Lyon sample data sets next to this file.

Usage (from the repository root, with the project installed):

    .venv/bin/python data/samples/build_samples.py

Deterministic: the same code always writes byte-identical files. Zone centroids are real;
restaurants and couriers are invented. Demand is scaled so that, under the default
configuration, the centre is short before the plan, couriers move in from the residential
outskirts, and a small shortage (a capped zone plus one or two others) remains after it.

Each city also has a `demand.csv` (CONTRACT section 7): every restaurant's orders per hour
in each 30-minute slot of the 19:00-23:00 dinner shift, along the evening curve of
`rebalance.generate.daily_profile` (rising to a peak near 20:00, falling to a third of it
by 22:30), the peak earlier in business districts and later where people live, and each
restaurant's by a few minutes more. A restaurant's first slot
(19:00) is its `restaurants.csv` rate: that file says how busy the city is now, which is
all a snapshot plan (one slot) sees; the demand table says how the evening goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rebalance.generate import (
    DEMAND_COLUMNS,
    PEAK_SPREAD_MINUTES,
    RESTAURANT_COLUMNS,
    TRAVEL_TIME_COLUMNS,
    ZONE_COLUMNS,
    courier_table,
    daily_profile,
    padded_ids,
    restaurant_names,
    travel_time_table,
    write_config,
    write_table,
)

HERE = Path(__file__).resolve().parent
SHIFT_START = np.datetime64("2026-11-30T19:00:00", "s")  # a Monday dinner, Paris local time
TIMEZONE = "Europe/Paris"
# Contract defaults (section 3): the samples are tuned against them.
ORDERS_PER_COURIER_HOUR = 2.5
MIN_AVAILABLE_MINUTES = 60
SHIFT_HOURS = 4.0
SLOT_MINUTES = 30
#: Minutes the dinner peak moves in a zone with no residents / only residents.
PEAK_SHIFT_MINUTES = (-30.0, 60.0)


@dataclass(frozen=True)
class Zone:
    """A sample zone: real centroid, plus relative restaurant and courier densities."""

    zone_id: str
    name: str
    lat: float
    lon: float
    food: float  # relative number of restaurants
    homes: float  # relative number of couriers present at shift start


# Paris arrondissements: INSEE-style ids 751xx, official names, centroids of the official
# boundaries (opendata.paris.fr "arrondissements"; the 12e and 16e include their woods).
PARIS = (
    Zone("75101", "1er - Louvre", 48.862563, 2.336443, 95, 4),
    Zone("75102", "2e - Bourse", 48.868279, 2.342803, 110, 4),
    Zone("75103", "3e - Temple", 48.862872, 2.360001, 95, 6),
    Zone("75104", "4e - Hôtel-de-Ville", 48.854341, 2.357630, 80, 4),
    Zone("75105", "5e - Panthéon", 48.844443, 2.350715, 80, 10),
    Zone("75106", "6e - Luxembourg", 48.849130, 2.332898, 95, 5),
    Zone("75107", "7e - Palais-Bourbon", 48.856174, 2.312188, 55, 6),
    Zone("75108", "8e - Élysée", 48.872721, 2.312554, 105, 8),
    Zone("75109", "9e - Opéra", 48.877164, 2.337458, 115, 12),
    Zone("75110", "10e - Entrepôt", 48.876130, 2.360728, 125, 25),
    Zone("75111", "11e - Popincourt", 48.859059, 2.380058, 160, 30),
    Zone("75112", "12e - Reuilly", 48.834974, 2.421325, 60, 35),
    Zone("75113", "13e - Gobelins", 48.828388, 2.362272, 65, 60),
    Zone("75114", "14e - Observatoire", 48.829245, 2.326542, 60, 35),
    Zone("75115", "15e - Vaugirard", 48.840085, 2.292826, 85, 55),
    Zone("75116", "16e - Passy", 48.860392, 2.261971, 35, 15),
    Zone("75117", "17e - Batignolles-Monceau", 48.887327, 2.306777, 100, 35),
    Zone("75118", "18e - Butte-Montmartre", 48.892569, 2.348161, 80, 75),
    Zone("75119", "19e - Buttes-Chaumont", 48.887076, 2.384821, 45, 70),
    Zone("75120", "20e - Ménilmontant", 48.863461, 2.401188, 55, 70),
)
PARIS_PRIORITY = {"75108": 1.5, "75101": 1.5}  # hotels and offices: a missing courier costs more
PARIS_CAPPED = "75104"  # Marais pedestrian streets: little room for waiting couriers

# Lyon arrondissements: INSEE ids 6938x; quarter names are informal, centroids approximate
# (within a few hundred metres).
LYON = (
    Zone("69381", "1er - Terreaux", 45.7700, 4.8290, 70, 8),
    Zone("69382", "2e - Presqu'île", 45.7490, 4.8270, 90, 8),
    Zone("69383", "3e - Part-Dieu", 45.7595, 4.8640, 85, 20),
    Zone("69384", "4e - Croix-Rousse", 45.7785, 4.8250, 35, 12),
    Zone("69385", "5e - Vieux Lyon", 45.7565, 4.8030, 40, 12),
    Zone("69386", "6e - Brotteaux", 45.7730, 4.8515, 60, 10),
    Zone("69387", "7e - Guillotière", 45.7335, 4.8400, 65, 25),
    Zone("69388", "8e - Monplaisir", 45.7345, 4.8695, 30, 30),
    Zone("69389", "9e - Vaise", 45.7780, 4.8060, 25, 25),
)
LYON_PRIORITY = {"69382": 1.5}
LYON_TRAVEL_KM = 5.0  # pairs farther apart are left out of travel_times: not travellable
# Uphill by bike (Croix-Rousse, Fourvière): slower than the all-vehicle row.
LYON_BIKE_UPHILL = (
    ("69381", "69384"),
    ("69382", "69384"),
    ("69386", "69384"),
    ("69381", "69385"),
    ("69382", "69385"),
)


def _spread(rng: np.random.Generator, total: int, weights: list[float]) -> np.ndarray:
    """Zone index per item: `total` items split by `weights`, in shuffled (id) order."""
    p = np.asarray(weights, dtype=float)
    counts = rng.multinomial(total, p / p.sum())
    return rng.permutation(np.repeat(np.arange(p.size), counts))


def _eligible(couriers: pd.DataFrame) -> np.ndarray:
    """Contract section 2 eligibility at SHIFT_START with the default config."""
    # Offsets in the samples are all +01:00 (Paris winter time), i.e. the local time shown.
    start = pd.to_datetime(couriers["available_from"].str.slice(0, 19)).to_numpy()
    until = pd.to_datetime(couriers["available_until"].str.slice(0, 19)).to_numpy()
    status_ok = couriers["status"].isna() | (couriers["status"] == "available")
    horizon = SHIFT_START + np.timedelta64(MIN_AVAILABLE_MINUTES, "m")
    return np.asarray(status_ok & (start <= SHIFT_START) & (until >= horizon))


def _required(values: np.ndarray, zone_idx: np.ndarray, is_open: np.ndarray, n: int) -> np.ndarray:
    """Required couriers per zone (contract section 2)."""
    demand = np.bincount(zone_idx, weights=values * is_open, minlength=n)
    return np.ceil(np.round(demand / ORDERS_PER_COURIER_HOUR, 9))


def _scaled_orders(
    base: np.ndarray, zone_idx: np.ndarray, is_open: np.ndarray, n: int, target: int
) -> np.ndarray:
    """Scale `base` orders so total required couriers is the smallest value >= `target`.

    Bisection on the scale keeps the samples balanced whatever the random draw, so the plan
    stays interesting when the weights above are tuned.
    """
    lo, hi = 0.01, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        total = _required(np.round(base * mid, 2), zone_idx, is_open, n).sum()
        lo, hi = (lo, mid) if total >= target else (mid, hi)
    values = np.round(base * hi, 2)
    demand = np.bincount(zone_idx, weights=values * is_open, minlength=n)
    # A demand exactly on a multiple of the courier rate makes ceil() sensitive to float
    # rounding in other implementations; the seeds below avoid it, this keeps it that way.
    ratio = demand / ORDERS_PER_COURIER_HOUR
    assert not np.any(np.abs(ratio - np.round(ratio)) < 1e-6), "demand on a ceil boundary"
    return values


def _demand(restaurants: pd.DataFrame, peak: np.ndarray) -> pd.DataFrame:
    """demand.csv: each restaurant's rate per 30-minute slot along `daily_profile`, its peak
    moved by ``peak`` minutes, scaled so the first slot is its restaurants.csv rate."""
    slots = round(SHIFT_HOURS * 60) // SLOT_MINUTES
    minutes = np.arange(slots * SLOT_MINUTES) + 0.5
    clock = 19.0 + (minutes[None, :] - np.round(peak)[:, None]) / 60.0
    by_slot = daily_profile(clock).reshape(len(peak), slots, SLOT_MINUTES).mean(axis=2)
    base = restaurants["expected_orders_per_hour"].to_numpy(dtype=float)
    rate = np.round(base[:, None] * by_slot / by_slot[:, :1], 2)
    starts = [f"{SHIFT_START + np.timedelta64(k * SLOT_MINUTES, 'm')}+01:00" for k in range(slots)]
    return pd.DataFrame(
        {
            "restaurant_id": np.repeat(restaurants["restaurant_id"].to_numpy(), slots),
            "slot_start": np.tile(np.asarray(starts, dtype=object), len(restaurants)),
            "expected_orders_per_hour": rate.ravel(),
        },
        columns=list(DEMAND_COLUMNS),
    )


def _unique_names(names: np.ndarray, zone_idx: np.ndarray, zones: tuple[Zone, ...]) -> list[str]:
    """Branch names for repeats, as delivery apps show them: "Sushi Yama - Opéra"."""
    quarter = [z.name.split(" - ", 1)[-1] for z in zones]
    out = [str(name) for name in names]
    seen: set[str] = set()
    for i, (name, z) in enumerate(zip(out, zone_idx, strict=True)):
        candidate = name if name not in seen else f"{name} - {quarter[z]}"
        k = 2
        while candidate in seen:
            candidate = f"{name} - {quarter[z]} {k}"
            k += 1
        seen.add(candidate)
        out[i] = candidate
    return out


def build_city(
    out: Path,
    zones: tuple[Zone, ...],
    *,
    seed: int,
    restaurants: int,
    couriers: int,
    priority: dict[str, float],
    capped: str | None,
    deficit: int,
    city: str,
) -> dict[str, pd.DataFrame]:
    """Write one sample city to `out` and return its tables.

    `deficit`: total required couriers minus eligible couriers (before caps); a capped zone
    is capped two below its requirement, so part of the deficit always stays there.
    """
    rng_rest, rng_cour, rng_time = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    # Its own stream (spawned after the others), so adding it left the other files as they were.
    rng_demand = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    n = len(zones)
    ids = np.asarray([z.zone_id for z in zones], dtype=object)

    # Couriers first: demand is scaled against the eligible supply.
    c_zone = _spread(rng_cour, couriers, [z.homes for z in zones])
    couriers_df = courier_table(rng_cour, rng_time, ids[c_zone], SHIFT_START, TIMEZONE)
    eligible = _eligible(couriers_df)

    # Restaurants: ~70% open at dinner, lognormal orders per hour scaled to the supply.
    r_zone = _spread(rng_rest, restaurants, [z.food for z in zones])
    is_open = rng_rest.random(restaurants) < 0.70
    base = rng_rest.lognormal(0.0, 0.8, size=restaurants)
    orders = _scaled_orders(base, r_zone, is_open, n, int(eligible.sum()) + deficit)
    restaurants_df = pd.DataFrame(
        {
            "restaurant_id": padded_ids("R", restaurants, 5),
            "name": _unique_names(restaurant_names(rng_rest, restaurants), r_zone, zones),
            "zone_id": ids[r_zone],
            "status": np.where(is_open, "open", "closed"),
            "expected_orders_per_hour": orders,
        },
        columns=list(RESTAURANT_COLUMNS),
    )

    cap = pd.array([pd.NA] * n, dtype="Int64")
    if capped is not None:
        z = int(np.flatnonzero(ids == capped)[0])
        required = _required(orders, r_zone, is_open, n)[z]
        present = int((c_zone == z).sum())  # every courier there, whatever their status
        # Never below the couriers already in the zone: they can all stay, so the cap can
        # never make the plan infeasible.
        cap[z] = max(present, int(required) - 2)
    zones_df = pd.DataFrame(
        {
            "zone_id": ids,
            "name": [z.name for z in zones],
            "lat": [z.lat for z in zones],
            "lon": [z.lon for z in zones],
            "priority": [priority.get(z.zone_id, np.nan) for z in zones],
            "max_couriers": cap,
        },
        columns=list(ZONE_COLUMNS),
    )

    # Business districts eat early, residential ones late: a zone's dinner peak moves by
    # up to an hour with the share of couriers (people) living there.
    homes = np.asarray([z.homes / (z.homes + z.food) for z in zones])
    zone_peak = PEAK_SHIFT_MINUTES[0] + (PEAK_SHIFT_MINUTES[1] - PEAK_SHIFT_MINUTES[0]) * homes
    peak = zone_peak[r_zone] + rng_demand.normal(0.0, PEAK_SPREAD_MINUTES, restaurants)
    demand_df = _demand(restaurants_df, peak)

    out.mkdir(parents=True, exist_ok=True)
    write_table(zones_df, out, "zones")
    write_table(restaurants_df, out, "restaurants")
    write_table(couriers_df, out, "couriers")
    write_table(demand_df, out, "demand")
    write_config(
        out / "rebalance.toml",
        {"city": {"name": city, "timezone": TIMEZONE}, "data": {"dir": "."}},
        header=(
            f"{city} sample (synthetic restaurants and couriers, real zone centroids).\n"
            f"Plan it with: rebalance plan data/samples/{out.name} --shift-start 2026-11-30T19:00\n"
            "Built by data/samples/build_samples.py; everything else uses the defaults."
        ),
    )
    return {
        "zones": zones_df,
        "restaurants": restaurants_df,
        "couriers": couriers_df,
        "demand": demand_df,
    }


def build_lyon_travel_times(zones: tuple[Zone, ...], seed: int) -> pd.DataFrame:
    """Lyon travel_times: all-vehicle rows for pairs within 5 km, plus uphill bike rows."""
    rng = np.random.default_rng(seed)
    ids = [z.zone_id for z in zones]
    lat = np.asarray([z.lat for z in zones])
    lon = np.asarray([z.lon for z in zones])
    table = travel_time_table(ids, lat, lon, rng, max_km=LYON_TRAVEL_KM)
    uphill = table.set_index(["from_zone", "to_zone"]).loc[list(LYON_BIKE_UPHILL)].reset_index()
    # Climbing the slopes roughly doubles a bike trip; other vehicles keep the blank-vehicle row.
    uphill["minutes"] = np.round(uphill["minutes"] * 1.8, 1)
    uphill["vehicle"] = "bike"
    both = pd.concat([table, uphill], ignore_index=True)
    both = both.sort_values(["from_zone", "to_zone", "vehicle"], na_position="first", kind="stable")
    return both.reset_index(drop=True)[list(TRAVEL_TIME_COLUMNS)]


def _summary(name: str, tables: dict[str, pd.DataFrame]) -> None:
    """Print what a sample holds, per zone: demand, required and eligible couriers."""
    zones, rest, cour = tables["zones"], tables["restaurants"], tables["couriers"]
    open_ = rest[rest["status"] == "open"]
    demand = open_.groupby("zone_id")["expected_orders_per_hour"].sum()
    eligible = cour[_eligible(cour)].groupby("zone_id").size()
    per_zone = pd.DataFrame(
        {
            "name": zones.set_index("zone_id")["name"],
            "open": open_.groupby("zone_id").size(),
            "demand": demand.round(2),
            "required": np.ceil(np.round(demand / ORDERS_PER_COURIER_HOUR, 9)),
            "couriers": cour.groupby("zone_id").size(),
            "eligible": eligible,
        }
    ).fillna(0)
    print(
        f"== {name}: {len(zones)} zones, {len(rest)} restaurants ({len(open_)} open), "
        f"{len(cour)} couriers ({int(per_zone['eligible'].sum())} eligible)"
    )
    print(per_zone.to_string())
    print(cour["vehicle"].value_counts().to_string())
    print(cour["status"].fillna("(blank)").value_counts().to_string())


def build_all(root: Path = HERE) -> dict[str, dict[str, pd.DataFrame]]:
    """Write every sample under `root` (default: next to this file) and return the tables."""
    paris = build_city(
        root / "paris",
        PARIS,
        seed=75,
        restaurants=1500,
        couriers=600,
        priority=PARIS_PRIORITY,
        capped=PARIS_CAPPED,
        deficit=4,
        city="Paris",
    )
    lyon = build_city(
        root / "lyon",
        LYON,
        seed=69,
        restaurants=300,
        couriers=120,
        priority=LYON_PRIORITY,
        capped=None,
        deficit=2,
        city="Lyon",
    )
    travel = build_lyon_travel_times(LYON, seed=693)
    write_table(travel, root / "lyon", "travel_times")
    lyon["travel_times"] = travel
    return {"Paris": paris, "Lyon": lyon}


def main() -> None:
    """Rebuild data/samples/paris and data/samples/lyon and print what they hold."""
    for name, tables in build_all().items():
        _summary(name, tables)


if __name__ == "__main__":
    main()
