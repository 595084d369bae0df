"""Synthetic city generator: zones, restaurants and couriers for demos, tests and benchmarks.

Pure numpy/pandas and fully vectorised, so a 1,000-zone / 100,000-courier city takes a fraction
of a second. Output is deterministic for a seed (byte-identical files) and follows the data
directory contract: ids are zero-padded strings, timestamps are ISO 8601 local time.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

# The contract's great-circle distance, shared with the model so generated travel times
# agree with what `rebalance plan` computes.
from .errors import UsageError
from .model import EARTH_RADIUS_KM, haversine_km

__all__ = [
    "COURIER_COLUMNS",
    "DEMAND_COLUMNS",
    "ORDER_COLUMNS",
    "RESTAURANT_COLUMNS",
    "TRAVEL_TIME_COLUMNS",
    "VEHICLES",
    "ZONE_COLUMNS",
    "ArgumentError",
    "OrderDraws",
    "courier_statuses",
    "courier_table",
    "courier_windows",
    "daily_profile",
    "demand_table",
    "format_timestamps",
    "generate_city",
    "padded_ids",
    "restaurant_names",
    "staggered_windows",
    "travel_time_table",
    "write_config",
    "write_orders",
    "write_table",
]


class ArgumentError(UsageError, ValueError):
    """An argument `generate_city` cannot build a city with: a ValueError to a Python
    caller; on the command line a usage error (exit 2) naming ``option``, the option
    that sets it."""


ZONE_COLUMNS = ("zone_id", "name", "lat", "lon", "priority", "max_couriers")
RESTAURANT_COLUMNS = ("restaurant_id", "name", "zone_id", "status", "expected_orders_per_hour")
COURIER_COLUMNS = (
    "courier_id",
    "zone_id",
    "vehicle",
    "available_from",
    "available_until",
    "status",
)
TRAVEL_TIME_COLUMNS = ("from_zone", "to_zone", "minutes", "vehicle")
TABLES = ("zones", "restaurants", "couriers", "travel_times", "demand", "orders", "shift_orders")
DEMAND_COLUMNS = ("restaurant_id", "slot_start", "expected_orders_per_hour")
ORDER_COLUMNS = ("order_id", "restaurant_id", "placed_at")

#: Relative orders by weekday, Monday first: Friday and Saturday evenings are the busiest.
WEEKDAY_FACTORS = (0.85, 0.9, 0.95, 1.0, 1.25, 1.3, 1.1)
#: Restaurants open 11:00-24:00 (city time); no order outside.
OPEN_HOURS = (11.0, 24.0)
#: `--demand` and `--history-days` scale each restaurant's day so that its mean over the
#: shift is its restaurants.csv rate: by 1 / (the profile's mean over the shift). A
#: shift whose mean, for a restaurant peaking on time, is below this is mostly outside
#: `OPEN_HOURS` and is refused (a shift from 01:00 asked numpy for 440 TiB of orders);
#: a restaurant whose own peak offset leaves it less than this is scaled as if it had
#: this much (at most ~225 orders a day per order an hour of rate), not without bound.
MIN_SHIFT_PROFILE = 0.02
#: Each restaurant's evening peak is its zone's shifted by N(0, this) minutes.
PEAK_SPREAD_MINUTES = 15.0
#: Day-to-day noise on a city's orders (weather, events) and on each restaurant's.
DAY_NOISE_SIGMA = 0.08
RESTAURANT_DAY_CV = 0.2

VEHICLES = ("bike", "ebike", "scooter", "car")
VEHICLE_SHARES = (0.35, 0.30, 0.25, 0.10)

KM_PER_DEG = EARTH_RADIUS_KM * math.pi / 180.0
ZONE_SPACING_KM = 0.9  # real delivery zones are 0.6-1.0 km apart
TRAVEL_RADIUS_KM = 6.0  # travel_times.csv lists pairs closer than this
ROAD_FACTOR = 1.35  # road distance / great-circle distance in a dense city
TRAVEL_SPEED_KMH = 18.0  # vehicle-agnostic average speed for travel_times.csv
OFFSET_TIMESTAMP_SHARE = 0.02  # a few exporters write explicit UTC offsets

# Restaurant names: (cuisine weight, prefixes, suffixes), "|"-separated. Prefix and suffix come
# from the same cuisine so names stay plausible ("Trattoria Napoli", never "Sushi Napoli").
_CUISINES: tuple[tuple[float, str, str], ...] = (
    (
        0.14,
        "Chez|Bistrot|Le Comptoir de|Brasserie|Café|La Table de|Auberge|Les Amis de",
        "Marcel|Louise|Gaston|Margot|Jules|Suzette|Lucien|Odette|Paulette|Honoré|Célestin|"
        "Augustine|Raymond|Germaine|Fernand|Colette|Léon|Mado|Simone|Albert",
    ),
    (
        0.07,
        "Le Petit|Le Grand|Le Vieux|Le Bon|Le Nouveau|Au Petit|Au Bon",
        "Zinc|Comptoir|Marché|Bouchon|Canard|Cochon|Moulin|Pressoir|Jardin|Balcon|Théâtre|"
        "Vin|Bouillon|Navire|Faubourg|Boulevard",
    ),
    (
        0.15,
        "Pizzeria|Trattoria|Osteria|Pasta|Da|Pizza|Forno",
        "Napoli|Roma|Luigi|Mamma Rosa|Vesuvio|Toscana|Bella Vita|Giovanni|Sorrento|Portofino|"
        "Nonna Pia|Amalfi|Palermo|Verona|Capri|Marcello|Gino|Siena|Bari|Trastevere",
    ),
    (
        0.10,
        "Sushi|Ramen|Izakaya|Bento|Udon|Gyoza|Onigiri",
        "Yama|Sakura|Kyo|Hana|Tokyo|Fuji|Koi|Momo|Zen|Kaito|Osaka|Nara|Kenzo|Yuki|Shiro|Aoi",
    ),
    (
        0.10,
        "Burger|Smash|Big|Grill|Fried Chicken|Hot Dog",
        "Factory|Club|House|Corner|Brothers|Garage|Station|Shack|Republic|Diner|Avenue|Lab|"
        "Social|Express|Junction|Society",
    ),
    (
        0.07,
        "Wok|Pho|Bao|Dim Sum|Banh Mi|Nouilles",
        "Saigon|Hanoi|Lotus|Jade|Mékong|Bambou|Dragon|Shanghai|Canton|Hué|Sichuan|Pékin|"
        "Hong Kong|Jasmin",
    ),
    (
        0.06,
        "Curry|Tandoori|Masala|Taj|Naan|Biryani",
        "Mahal|Palace|Express|Bombay|Delhi|Kerala|Punjab|Himalaya|Jaipur|Goa|Madras|Bengal",
    ),
    (
        0.05,
        "Mezze|Falafel|Saj|Shawarma",
        "Beyrouth|Byblos|du Liban|Cèdre|Baalbek|Zaatar|Jounieh|Tyr|Saïda|Batroun",
    ),
    (
        0.05,
        "Kebab|Grill|Pide|Lahmacun",
        "Istanbul|Anatolie|Bosphore|Antalya|Izmir|Cappadoce|Bodrum|Ankara|Trabzon",
    ),
    (
        0.04,
        "Tacos|Burrito|Cantina|Taqueria",
        "Loco|El Sol|Amigos|Oaxaca|Azteca|La Playa|Frida|Guadalajara|Puebla|Tulum",
    ),
    (
        0.04,
        "Crêperie|Galettes|Ty",
        "Bretonne|de Quimper|Saint-Malo|du Port|Ker Louis|Armor|Bigoudène|Morgat|Dinan",
    ),
    (
        0.04,
        "Couscous|Tajine|Le Riad|Dar",
        "Marrakech|Fès|Atlas|Essaouira|Casablanca|Agadir|Meknès|Tanger|Rabat",
    ),
    (
        0.03,
        "Poke|Bowl|Green|Salad",
        "Aloha|Maui|Lagoon|Garden|Kitchen|Lab|Bar|Spot|Story|Market",
    ),
    (
        0.03,
        "Boulangerie|Fournil|Sandwicherie|Pâtisserie",
        "du Marché|des Halles|Saint-Honoré|de la Gare|du Coin|des Lilas|du Canal|de la Place",
    ),
    (
        0.02,
        "Bibimbap|Kimchi|Seoul|Busan",
        "Garden|Kitchen|House|Star|Table|Grill|Street|Corner",
    ),
    (
        0.01,
        "Meze|Taverna|Souvlaki|Gyros",
        "Athena|Mykonos|Santorini|Olympia|Corfou|Crète|Naxos|Délos",
    ),
)


def _name_catalogue() -> tuple[np.ndarray, np.ndarray]:
    """All prefix+suffix names and their sampling probabilities (cuisine weight split evenly)."""
    names: list[str] = []
    probs: list[float] = []
    for weight, prefixes, suffixes in _CUISINES:
        combos = [f"{p} {s}" for p in prefixes.split("|") for s in suffixes.split("|")]
        names.extend(combos)
        probs.extend([weight / len(combos)] * len(combos))
    p = np.asarray(probs)
    return np.asarray(names, dtype=object), p / p.sum()


_NAMES, _NAME_PROBS = _name_catalogue()


def restaurant_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw `n` plausible restaurant names (object array; chains may repeat)."""
    return _NAMES[rng.choice(_NAMES.size, size=n, p=_NAME_PROBS)]


def padded_ids(prefix: str, n: int, width: int) -> list[str]:
    """Ids `prefix + 1..n` zero padded to `width` digits (wider if `n` needs it)."""
    width = max(width, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def _local_shift_start(shift_start: str | datetime, tz: ZoneInfo) -> np.datetime64:
    """Shift start as naive local time (an offset, if given, is converted to `tz`)."""
    ts = shift_start if isinstance(shift_start, datetime) else datetime.fromisoformat(shift_start)
    if ts.tzinfo is not None:
        ts = ts.astimezone(tz).replace(tzinfo=None)
    return np.datetime64(ts.replace(microsecond=0), "s")


def courier_windows(
    rng: np.random.Generator, n: int, shift_start: np.datetime64
) -> tuple[np.ndarray, np.ndarray]:
    """Availability windows (naive local datetime64[s]) around `shift_start`.

    Most couriers logged in up to 2 h before the shift and stay 2-6 h; ~10% start later and
    ~8% stop within the first hour, so eligibility filtering has something to do.
    """
    minute = np.timedelta64(60, "s")
    kind = rng.choice(3, size=n, p=[0.82, 0.10, 0.08])  # 0 normal, 1 late start, 2 ends soon
    before = rng.integers(0, 25, size=n) * 5  # 0..120 min before the shift
    after = rng.integers(1, 25, size=n) * 5  # 5..120 min after the shift
    duration = rng.integers(24, 73, size=n) * 5  # 2..6 h
    ends_soon = rng.integers(1, 12, size=n) * 5  # 5..55 min after the shift
    start_offset = np.where(kind == 1, after, -before)
    start = shift_start + start_offset * minute
    until = np.where(kind == 2, shift_start + ends_soon * minute, start + duration * minute)
    return start, until


def format_timestamps(
    rng: np.random.Generator,
    columns: Sequence[np.ndarray],
    timezone: str,
    offset_share: float = OFFSET_TIMESTAMP_SHARE,
) -> list[np.ndarray]:
    """ISO 8601 strings of naive local datetime64 arrays (all the same length).

    Most rows stay naive (local time); a random `offset_share` of rows, the same rows in every
    column, gets the explicit UTC offset valid at that local time, as some exporters write it.
    """
    out = [
        np.datetime_as_string(col.astype("datetime64[s]"), unit="s").astype(object)
        for col in columns
    ]
    n = len(columns[0]) if columns else 0
    mask = rng.random(n) < offset_share
    if not mask.any():
        return out
    rows = np.flatnonzero(mask)
    # Standard time for an ambiguous (fall-back) local time; a local time that does not exist
    # (spring-forward gap) has no honest offset, so such a row stays naive in every column.
    localized = [
        pd.DatetimeIndex(col[rows]).tz_localize(
            timezone, ambiguous=np.zeros(rows.size, dtype=bool), nonexistent="NaT"
        )
        for col in columns
    ]
    valid = np.logical_and.reduce([~idx.isna() for idx in localized])
    for text, idx in zip(out, localized, strict=True):
        text[rows[valid]] = [ts.isoformat() for ts in idx[valid]]
    return out


def courier_statuses(rng: np.random.Generator, n: int) -> np.ndarray:
    """Statuses: ~5% busy, ~5% offline, the rest `available` or blank (None)."""
    choices = np.array(["available", None, "busy", "offline"], dtype=object)
    return choices[rng.choice(4, size=n, p=[0.60, 0.30, 0.05, 0.05])]


def courier_table(
    rng: np.random.Generator,
    rng_time: np.random.Generator,
    zone_of_courier: np.ndarray,
    shift_start: np.datetime64,
    timezone: str,
    windows: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The couriers table for couriers placed in ``zone_of_courier`` (ids C000001...):
    vehicles by VEHICLE_SHARES, availability windows around the shift (or ``windows``,
    naive local from/until arrays), statuses."""
    n = len(zone_of_courier)
    vehicles = np.asarray(VEHICLES, dtype=object)[
        rng.choice(len(VEHICLES), size=n, p=VEHICLE_SHARES)
    ]
    t_from, t_until = courier_windows(rng, n, shift_start)
    if windows is not None:
        # drawn above all the same, so vehicles and statuses stay those of the plain city
        t_from, t_until = windows
    from_text, until_text = format_timestamps(rng_time, [t_from, t_until], timezone)
    return pd.DataFrame(
        {
            "courier_id": padded_ids("C", n, 6),
            "zone_id": zone_of_courier,
            "vehicle": vehicles,
            "available_from": from_text,
            "available_until": until_text,
            "status": courier_statuses(rng, n),
        },
        columns=list(COURIER_COLUMNS),
    )


def travel_time_table(
    zone_ids: Sequence[str] | np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    rng: np.random.Generator,
    *,
    max_km: float = TRAVEL_RADIUS_KM,
    speed_kmh: float = TRAVEL_SPEED_KMH,
    road_factor: float = ROAD_FACTOR,
) -> pd.DataFrame:
    """Directed travel times for every zone pair within `max_km`, vehicle left blank.

    Minutes are road distance (great circle x road factor x noise) over a vehicle-agnostic
    speed; each direction gets its own noise, as one-way streets make real trips asymmetric.
    """
    ids = np.asarray(zone_ids, dtype=object)
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    n = ids.size
    # Chunk the rows so the distance matrix never exceeds a few million cells.
    chunk = max(1, 4_000_000 // max(n, 1))
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    dist: list[np.ndarray] = []
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        d = haversine_km(lat[start:stop, None], lon[start:stop, None], lat[None, :], lon[None, :])
        rows = np.arange(start, stop)[:, None]
        i, j = np.nonzero((d <= max_km) & (rows != np.arange(n)[None, :]))
        src.append(i + start)
        dst.append(j)
        dist.append(d[i, j])
    i_all = np.concatenate(src) if src else np.empty(0, dtype=int)
    j_all = np.concatenate(dst) if dst else np.empty(0, dtype=int)
    d_all = np.concatenate(dist) if dist else np.empty(0)
    noise = np.clip(rng.lognormal(0.0, 0.12, size=d_all.size), 0.8, 1.5)
    minutes = np.round(d_all * road_factor * noise / speed_kmh * 60.0, 1)
    return pd.DataFrame(
        {
            "from_zone": ids[i_all],
            "to_zone": ids[j_all],
            "minutes": minutes,
            "vehicle": np.full(i_all.size, None, dtype=object),
        }
    )


def daily_profile(hours: np.ndarray) -> np.ndarray:
    """Relative orders per hour at local clock time ``hours`` (11.5 = 11:30; 24+ = after
    midnight): a lunch bump at 12:45, the dinner peak at 20:00 (1.06 at its top, 0.69 at
    19:00, 0.42 at 21:30, 0.12 at 22:30), nothing outside `OPEN_HOURS`."""
    h = np.asarray(hours, dtype=float)
    g = (
        0.06
        + 0.55 * np.exp(-((h - 12.75) ** 2) / (2 * 0.8**2))
        + 1.0 * np.exp(-((h - 20.0) ** 2) / (2 * 1.05**2))
    )
    return np.where((h >= OPEN_HOURS[0]) & (h < OPEN_HOURS[1]), g, 0.0)


def _clock_hours(shift_start: np.datetime64) -> float:
    day = shift_start.astype("datetime64[D]")
    return float((shift_start - day) / np.timedelta64(1, "h"))


def _wall_minutes(
    shift_start: np.datetime64, minutes: np.ndarray, timezone: str | None
) -> np.ndarray:
    """The wall clock's minutes since ``shift_start`` (naive city time) at each of these
    real minutes of the shift: the same numbers, except after a clock change in it."""
    if timezone is None:
        return minutes
    wall = (_aware(shift_start, timezone) + pd.to_timedelta(minutes, unit="m")).tz_localize(None)
    return np.asarray((wall - pd.Timestamp(shift_start)) / pd.Timedelta(minutes=1), dtype=float)


def _aware(shift_start: np.datetime64, timezone: str) -> pd.Timestamp:
    """The shift start (naive city time) as an instant: the first of a repeated time, a
    skipped one moved forward, as `rebalance.timeparse` reads times without an offset."""
    return pd.Timestamp(shift_start).tz_localize(
        timezone, ambiguous=True, nonexistent="shift_forward"
    )


def _shift_profile(
    peak: np.ndarray, shift_start: np.datetime64, shift_hours: float, timezone: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per restaurant (rows) and real shift minute (columns), the profile shifted by its
    peak offset, at the city's wall-clock time when ``timezone`` is given (over a clock
    change the two differ); and each restaurant's mean over the shift (at least
    `MIN_SHIFT_PROFILE`)."""
    minutes = _wall_minutes(shift_start, np.arange(round(shift_hours * 60)) + 0.5, timezone)
    hours = _clock_hours(shift_start) + (minutes[None, :] - peak[:, None]) / 60.0
    profile = daily_profile(hours)
    mean = np.maximum(profile.mean(axis=1), MIN_SHIFT_PROFILE)
    return profile, mean


def _check_shift_has_orders(start: np.datetime64, shift_hours: float) -> None:
    """Refuse a shift the synthetic day of orders cannot calibrate (`MIN_SHIFT_PROFILE`)."""
    profile, _ = _shift_profile(np.zeros(1), start, shift_hours)  # a restaurant peaking on time
    if float(profile.mean()) < MIN_SHIFT_PROFILE:
        lo, hi = (f"{int(h):02d}:00" if h < 24 else "midnight" for h in OPEN_HOURS)
        end = start + np.timedelta64(round(shift_hours * 60), "m")
        raise ArgumentError(
            f"demand and order history follow a synthetic day of orders (restaurants open "
            f"{lo} to {hi} city time, busiest around 12:45 and 20:00); the {shift_hours:g} h "
            f"shift from {str(start)[11:16]} to {str(end)[11:16]} is mostly outside it, so "
            f"no rates can be drawn for it. Start the shift between {lo} and 22:00, or "
            f"leave out --demand and --history-days",
            option="--shift-start",
        )


def _check_years(start: np.datetime64, shift_hours: float, history_days: int) -> None:
    """Refuse a shift whose city would hold times outside the years `validate` reads
    (`rebalance.timeparse.YEARS`): couriers log on up to 2 h before the shift and stay
    up to 8 h after its start, or 3 h past its end when they log on during it
    (`courier_windows`, `staggered_windows`); orders fill whole days, the shift's and
    ``history_days`` before it. A shift at 2261-12-31T22:00 wrote couriers available
    until 2262, and its own city was refused."""
    from .timeparse import YEARS

    second = np.timedelta64(1, "s")
    day0 = start.astype("datetime64[D]")
    first = start - 2 * 3600 * second
    last = start + round(max(8.0, shift_hours + 3.0) * 3600) * second
    if history_days:
        first = min(first, (day0 - np.timedelta64(history_days, "D")).astype("datetime64[s]"))
        last = max(last, (day0 + np.timedelta64(1, "D")).astype("datetime64[s]") - second)
    years = [int(str(t)[:4]) for t in (first, last)]
    if YEARS[0] <= years[0] and years[1] <= YEARS[1]:
        return
    raise ArgumentError(
        f"a synthetic city around a shift starting {start} holds times from {first} to "
        f"{last} (courier windows{', order history' if history_days else ''}), outside the "
        f"supported years {YEARS[0]} to {YEARS[1]}, so validate and plan would refuse it; "
        "give a shift start further inside them",
        option="--shift-start",
    )


def demand_table(
    restaurants: pd.DataFrame,
    peak: np.ndarray,
    shift_start: np.datetime64,
    timezone: str,
    shift_hours: float = 4.0,
    slot_minutes: int = 30,
) -> pd.DataFrame:
    """The demand table (CONTRACT section 7): each restaurant's ``expected_orders_per_hour``
    spread over the shift's slots along `daily_profile` (shifted by ``peak`` minutes per
    restaurant), so its mean over the shift stays its restaurants.csv rate.
    ``slot_start`` carries the city's UTC offset."""
    profile, mean = _shift_profile(peak, shift_start, shift_hours, timezone)
    slots = profile.shape[1] // slot_minutes
    by_slot = (
        profile[:, : slots * slot_minutes].reshape(len(peak), slots, slot_minutes).mean(axis=2)
    )
    rate = (
        restaurants["expected_orders_per_hour"].to_numpy(dtype=float)[:, None]
        * by_slot
        / mean[:, None]
    )
    # the shift's slots in real time from its start, as a plan cuts it: over the autumn
    # change a 01:30-03:30 shift has 02:00 and 02:30 twice (CEST, then CET), each a row
    local = _aware(shift_start, timezone) + pd.to_timedelta(
        np.arange(slots) * slot_minutes, unit="m"
    )
    labels = np.asarray([t.isoformat() for t in local], dtype=object)
    return pd.DataFrame(
        {
            "restaurant_id": np.repeat(restaurants["restaurant_id"].to_numpy(dtype=object), slots),
            "slot_start": np.tile(labels, len(restaurants)),
            "expected_orders_per_hour": np.round(rate.ravel(), 3),
        },
        columns=list(DEMAND_COLUMNS),
    )


def staggered_windows(
    rng: np.random.Generator, n: int, shift_start: np.datetime64, shift_hours: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Availability windows (naive local) of couriers who log on and off during the shift.

    About 72% are logged on at the start (since 0-2 h); half of those log off during the
    shift, so about half of the starting couriers are gone by its end, as measured on real
    evenings (54% by 21:30). The other 28% log on during the shift (up to an hour before
    its end) and stay 2-4 h.
    """
    minute = np.timedelta64(60, "s")
    length = round(shift_hours * 60)
    late = rng.random(n) < 0.28
    before = rng.integers(0, 25, size=n) * 5
    logon = rng.integers(1, max(2, (length - 60) // 5 + 1), size=n) * 5
    start = shift_start + np.where(late, logon, -before) * minute
    leaves_early = rng.random(n) < 0.5
    early_off = rng.integers(6, max(7, length // 5), size=n) * 5  # 30 min .. the end
    late_off = length + rng.integers(0, 25, size=n) * 5
    off_after_start = np.where(leaves_early, early_off, late_off)
    stay = rng.integers(24, 49, size=n) * 5  # late loggers: 2-4 h
    until = np.where(late, start + stay * minute, shift_start + off_after_start * minute)
    return start, until


@dataclass(frozen=True)
class OrderDraws:
    """The orders of the ``days`` days before the shift's day, and of the shift's day
    itself, as numbers in time order: when each was placed, its restaurant's row and its
    day (the shift's day last). The text (ids and times) is made a block of rows at a
    time (`table`), as `write_orders` writes them: at 250,000 restaurants and 14 days
    (~73 million orders) the text of every order at once did not fit in 24 GB.

    Restaurant r on day d takes Poisson orders at rate E_r x profile(t) / mean profile over
    the shift x weekday factor (relative to the shift's weekday) x city-day noise x
    restaurant-day noise (Gamma, cv `RESTAURANT_DAY_CV`), so its mean over the shift on the
    shift's weekday is its ``expected_orders_per_hour`` E_r. On the shift's day only open
    restaurants take orders. ``placed_at`` is city time without offset, to the second;
    order ids run in time order (O0000001 ...). ``timezone``: the shift's wall-clock
    minutes are the city's (they differ from real ones over a clock change), as in
    `demand_table`."""

    placed: np.ndarray  # datetime64[s], sorted
    restaurant: np.ndarray  # row in ``restaurant_ids``
    day: np.ndarray
    days: int  # days in all, the shift's day included
    restaurant_ids: np.ndarray  # object

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        restaurants: pd.DataFrame,
        peak: np.ndarray,
        shift_start: np.datetime64,
        days: int,
        shift_hours: float = 4.0,
        timezone: str | None = None,
    ) -> OrderDraws:
        """Draw the orders (the same numbers from the same generator as before they were
        written in blocks)."""
        day0 = shift_start.astype("datetime64[D]")
        day_list = day0 + np.arange(-days, 1)  # the past days, then the shift's day
        weekday = (
            day_list.astype("datetime64[D]").astype(np.int64) + 3
        ) % 7  # 1970-01-01 was a Thursday
        factor = np.asarray(WEEKDAY_FACTORS)[weekday] / WEEKDAY_FACTORS[int(weekday[-1])]
        factor = factor * rng.lognormal(0.0, DAY_NOISE_SIGMA, size=day_list.size)
        level = restaurants["expected_orders_per_hour"].to_numpy(dtype=float)
        _, mean = _shift_profile(peak, shift_start, shift_hours, timezone)  # as demand_table's
        grid = np.arange(round(OPEN_HOURS[0] * 60), round(OPEN_HOURS[1] * 60))  # day minutes
        day_profile = daily_profile((grid + 0.5) / 60.0)
        per_day = day_profile.sum() / 60.0  # profile-hours in a day
        shape = 1.0 / RESTAURANT_DAY_CV**2
        noise = rng.gamma(shape, 1.0 / shape, size=(len(level), day_list.size))
        lam = (level / mean)[:, None] * per_day * factor[None, :] * noise
        open_today = restaurants["status"].to_numpy() == "open"
        lam[:, -1] *= open_today
        counts = rng.poisson(lam)
        del lam, noise
        r = np.repeat(np.repeat(np.arange(len(level)), day_list.size), counts.ravel())
        d = np.repeat(np.tile(np.arange(day_list.size), len(level)), counts.ravel())
        del counts
        minute = grid[rng.choice(grid.size, size=r.size, p=day_profile / day_profile.sum())]
        seconds = (minute - peak[r]).astype(np.int64) * 60
        del minute
        seconds += rng.integers(0, 60, size=r.size)
        np.clip(seconds, 0, 24 * 3600 - 1, out=seconds)
        placed = day_list[d].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
        del seconds
        order = np.argsort(placed, kind="stable")
        return cls(
            placed[order],
            r[order].astype(np.int32),
            d[order].astype(np.int16),
            int(day_list.size),
            restaurants["restaurant_id"].to_numpy(dtype=object),
        )

    def split(self) -> tuple[slice, slice]:
        """The rows of the past days and of the shift's day (the last rows)."""
        first_today = int(np.searchsorted(self.day, self.days - 1))  # days follow time
        return slice(0, first_today), slice(first_today, self.day.size)

    def table(self, rows: slice, block: slice | None = None) -> pd.DataFrame:
        """The orders of ``rows`` (ids numbered over every order, as one table would be),
        or of ``block`` of them."""
        lo, hi = rows.start, rows.stop
        if block is not None:
            lo, hi = lo + block.start, min(lo + block.stop, hi)
        width = max(7, len(str(self.placed.size)))
        return pd.DataFrame(
            {
                "order_id": [f"O{i:0{width}d}" for i in range(lo + 1, hi + 1)],
                "restaurant_id": self.restaurant_ids[self.restaurant[lo:hi]],
                "placed_at": np.datetime_as_string(self.placed[lo:hi], unit="s").astype(object),
            },
            columns=list(ORDER_COLUMNS),
        )


#: Orders written at a time (`write_orders`).
_ORDER_BLOCK = 1 << 20


def write_orders(
    draws: OrderDraws, rows: slice, directory: Path, name: str, fmt: str = "csv"
) -> Path:
    """`write_table` of ``draws.table(rows)``, a block of `_ORDER_BLOCK` orders at a time
    (the same bytes as the whole table written at once)."""
    n = rows.stop - rows.start
    blocks = (
        draws.table(rows, slice(lo, lo + _ORDER_BLOCK)) for lo in range(0, max(n, 1), _ORDER_BLOCK)
    )
    return write_table(blocks, directory, name, fmt)


def _arrow_type(series: pd.Series) -> object:
    """Parquet column type: numbers stay numbers, everything else is a string."""
    import pyarrow as pa

    if pd.api.types.is_integer_dtype(series):
        return pa.int64()
    if pd.api.types.is_float_dtype(series):
        return pa.float64()
    return pa.string()


def write_table(
    df: pd.DataFrame | Iterable[pd.DataFrame], directory: Path, name: str, fmt: str = "csv"
) -> Path:
    """Write `df` as `directory/name.csv` (UTF-8, blanks empty) or `name.parquet`; `df`
    may also be blocks of one table, written one after another (`write_orders`)."""
    parts = iter([df] if isinstance(df, pd.DataFrame) else df)
    first = next(parts)
    if fmt == "csv":
        path = directory / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            first.to_csv(out, index=False, lineterminator="\n")
            for part in parts:
                part.to_csv(out, index=False, header=False, lineterminator="\n")
        return path
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .paths import arrow_file

        path = directory / f"{name}.parquet"
        schema = pa.schema([(col, _arrow_type(first[col])) for col in first.columns])
        # Explicit schema: all-blank columns stay strings, ids never become numbers. Dropping the
        # pandas metadata keeps readers from guessing index or extension dtypes.
        with arrow_file(path, "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
            for part in itertools.chain([first], parts):
                table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
                writer.write_table(table.replace_schema_metadata(None))
        return path
    raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")


def _toml_value(value: object) -> str:
    """A TOML literal for a str, bool, int or float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite config value {value!r}")
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string, except that TOML also forbids raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    raise TypeError(f"unsupported config value {value!r}")


#: The first line of a generated city's rebalance.toml: such a folder may be written over.
GENERATED_MARK = "# Synthetic city written by rebalance generate"


def _check_target(out: Path) -> None:
    """Refuse to write over a folder that is not a generated city (see `generate_city`)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    try:
        with (out / "rebalance.toml").open(encoding="utf-8") as file:
            ours = file.readline().startswith(GENERATED_MARK)
    except (OSError, UnicodeDecodeError):
        ours = False
    if not ours:
        shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
        raise FileExistsError(
            f"{out} holds files that rebalance generate did not write ({shown}); writing "
            "a city there would replace or delete them. Choose a new or empty folder, or "
            "pass --force to write over it"
        )


def write_config(
    path: Path,
    sections: Mapping[str, Mapping[str, object]],
    header: str = "",
) -> Path:
    """Write a rebalance TOML config: `sections` maps a (dotted) table name to its keys."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for table, keys in sections.items():
        if lines:
            lines.append("")
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in keys.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _weights(
    x: np.ndarray, y: np.ndarray, centres: np.ndarray, amps: np.ndarray, sigma: float, floor: float
) -> np.ndarray:
    """Sum of Gaussian bumps around `centres` (km) plus a floor, evaluated at each zone."""
    d2 = (x[:, None] - centres[None, :, 0]) ** 2 + (y[:, None] - centres[None, :, 1]) ** 2
    return floor + (amps[None, :] * np.exp(-d2 / (2 * sigma**2))).sum(axis=1)


def _random_centres(
    rng: np.random.Generator, k: int, radius: float, r_min: float, r_max: float
) -> np.ndarray:
    """`k` points (km) uniformly spread over the ring r_min..r_max (fractions of `radius`)."""
    r = radius * np.sqrt(rng.uniform(r_min**2, r_max**2, size=k))
    theta = rng.uniform(0, 2 * np.pi, size=k)
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def _zone_layout(
    rng: np.random.Generator, zones: int, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Zone centroids (x east, y north, km) on a jittered grid filling a disc.

    The disc has area `zones * spacing**2`, so its radius grows like sqrt(zones) and the
    spacing between neighbouring zones stays that of real delivery zones.
    """
    side = math.ceil(math.sqrt(zones * 4 / math.pi)) + 3
    g = (np.arange(side) - (side - 1) / 2) * spacing
    gx, gy = np.meshgrid(g, -g)  # row-major from the north-west, like map numbering
    gx, gy = gx.ravel(), gy.ravel()
    # Random tie-break on the distance so the disc edge is ragged rather than a staircase.
    score = np.hypot(gx, gy) + rng.uniform(0, 0.5 * spacing, size=gx.size)
    keep = np.sort(np.argsort(score, kind="stable")[:zones])
    jitter = rng.uniform(-0.25 * spacing, 0.25 * spacing, size=(2, zones))
    return gx[keep] + jitter[0], gy[keep] + jitter[1]


def generate_city(
    out_dir: str | Path,
    *,
    zones: int,
    couriers: int,
    restaurants: int,
    seed: int = 0,
    shift_start: str | datetime = "2026-11-30T19:00",
    city: str = "Synthetic City",
    timezone: str = "Europe/Paris",
    travel_times: bool = False,
    center: tuple[float, float] = (48.8566, 2.3522),
    fmt: str = "csv",
    demand: bool = False,
    staggered: bool = False,
    history_days: int = 0,
    shift_hours: float = 4.0,
    slot_minutes: int = 30,
    force: bool = False,
) -> Path:
    """Write a synthetic city (zones, restaurants, couriers, rebalance.toml) to `out_dir`.

    ``out_dir`` must be new, empty or a city this function wrote before (its
    rebalance.toml says so): the tables there are replaced and those it does not write
    this time are deleted, so a real city's folder is refused (`FileExistsError`)
    unless ``force``.

    Restaurants cluster in a few dense centres while couriers live in other (residential)
    areas, so a plan has real moves to make. With `travel_times`, a travel_times table for
    zone pairs within 6 km is written too.

    Shift-in-slots options (CONTRACT sections 7 and 8; without them the files are exactly
    those of a plain city): ``demand`` writes a demand table (each restaurant's
    ``expected_orders_per_hour`` spread over the ``slot_minutes`` slots of the
    ``shift_hours`` shift along the evening curve `daily_profile`); ``staggered`` draws
    courier windows that log on during the shift and off before its end
    (`staggered_windows`); ``history_days`` > 0 writes ``orders.csv``, the orders of that
    many days before the shift's day (`OrderDraws`), and ``shift_orders.csv``, those of
    the shift's own day, to replay plans against. Tables from an earlier run that this run does not
    write (other format, old travel_times) are removed so the directory stays consistent.
    Returns the output directory.
    """
    if zones < 1:
        raise ValueError("zones must be at least 1")
    if couriers < 0 or restaurants < 0:
        raise ValueError("couriers and restaurants must be >= 0")
    if history_days < 0:
        raise ValueError("history_days must be >= 0")
    if not (0 < shift_hours <= 24) or slot_minutes <= 0:
        raise ValueError("shift_hours must be in (0, 24] and slot_minutes > 0")
    if demand or staggered or history_days:
        # the city's rebalance.toml then holds [shift] hours and slot_minutes: a city that
        # validate and plan refuse is never written (--staggered --slot-minutes 7 was).
        # The config's own rules say which hours are a shift (whole minutes)...
        from .config import Config
        from .errors import ConfigError

        try:
            Config().with_changes(shift={"hours": shift_hours, "slot_minutes": slot_minutes})
        except ConfigError as exc:
            options = {"shift.hours": "--shift-hours", "shift.slot_minutes": "--slot-minutes"}
            raise ArgumentError(
                "; ".join(p.message for p in exc.problems),
                option=options.get(exc.problems[0].key or ""),
            ) from None
        # ... and `validate`'s, that its slots divide it
        if round(shift_hours * 60) % slot_minutes:
            raise ArgumentError(
                f"slot_minutes = {slot_minutes} does not divide a {shift_hours:g} h shift",
                option="--slot-minutes",
            )
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    try:
        tz = ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc
    try:
        start = _local_shift_start(shift_start, tz)
    except ValueError as exc:
        raise ArgumentError(
            f"shift_start {shift_start!r} is not an ISO 8601 timestamp", option="--shift-start"
        ) from exc
    _check_years(start, shift_hours, history_days)
    if demand or history_days:
        _check_shift_has_orders(start, shift_hours)
    lat0, lon0 = center
    if not (-90 <= lat0 <= 90 and -180 <= lon0 <= 180):
        raise ValueError(f"center {center!r} is not a valid lat/lon")

    # One independent stream per concern: asking for travel times or another format never
    # changes the other tables.
    # spawn(8)[:5] are the streams spawn(5) gave, so plain cities keep their bytes.
    rng_zone, rng_rest, rng_cour, rng_time, rng_travel, rng_demand, rng_logon, rng_orders = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)
    )

    # Zones.
    x, y = _zone_layout(rng_zone, zones, ZONE_SPACING_KM)
    radius = ZONE_SPACING_KM * math.sqrt(zones / math.pi)
    lat = np.clip(lat0 + y / KM_PER_DEG, -89.999, 89.999)
    lon = lon0 + x / (KM_PER_DEG * max(math.cos(math.radians(lat0)), 0.01))
    lon = (lon + 180.0) % 360.0 - 180.0
    width = max(4, len(str(zones)))
    zone_ids = np.asarray(padded_ids("Z", zones, width), dtype=object)
    zone_names = [f"Zone {i:0{width}d}" for i in range(1, zones + 1)]

    # Demand hotspots (restaurants) and residential areas (courier homes) are different
    # places; a little lognormal noise per zone keeps neighbouring zones from looking identical.
    k = int(np.clip(round(math.sqrt(zones) / 4), 1, 12))
    sigma = max(1.5 * ZONE_SPACING_KM, 0.18 * radius)
    food_centres = np.vstack([[0.0, 0.0], _random_centres(rng_zone, k - 1, radius, 0.0, 0.7)])
    food_amps = np.concatenate([[1.0], rng_zone.uniform(0.3, 0.8, size=k - 1)])
    home_centres = _random_centres(rng_zone, k + 1, radius, 0.45, 0.95)
    home_amps = rng_zone.uniform(0.5, 1.0, size=k + 1)
    food_w = _weights(x, y, food_centres, food_amps, sigma, 0.03)
    home_w = _weights(x, y, home_centres, home_amps, sigma, 0.10)
    food_w *= rng_zone.lognormal(0.0, 0.3, size=zones)
    home_w *= rng_zone.lognormal(0.0, 0.3, size=zones)

    # Restaurants: lognormal orders per hour (mean ~2.5), 65-75% open at dinner time.
    r_zone = rng_rest.choice(zones, size=restaurants, p=food_w / food_w.sum())
    s = 0.75
    orders = np.round(rng_rest.lognormal(math.log(2.5) - s * s / 2, s, size=restaurants), 2)
    open_share = rng_rest.uniform(0.65, 0.75)
    is_open = rng_rest.random(restaurants) < open_share
    restaurants_df = pd.DataFrame(
        {
            "restaurant_id": padded_ids("R", restaurants, 5),
            "name": restaurant_names(rng_rest, restaurants),
            "zone_id": zone_ids[r_zone],
            "status": np.where(is_open, "open", "closed"),
            "expected_orders_per_hour": orders,
        },
        columns=list(RESTAURANT_COLUMNS),
    )

    # Couriers.
    c_zone = rng_cour.choice(zones, size=couriers, p=home_w / home_w.sum())
    windows = staggered_windows(rng_logon, couriers, start, shift_hours) if staggered else None
    couriers_df = courier_table(rng_cour, rng_time, zone_ids[c_zone], start, timezone, windows)

    # Zone options: a few priority zones; a few caps, never below the couriers already there,
    # so everyone can stay and a cap can never make the plan infeasible.
    priority = np.where(
        rng_zone.random(zones) < 0.05, rng_zone.choice([1.5, 2.0], size=zones), np.nan
    )
    present = np.bincount(c_zone, minlength=zones)
    capped = rng_zone.random(zones) < 0.02
    cap = pd.array(present + rng_zone.integers(0, 3, size=zones), dtype="Int64")
    cap[~capped] = pd.NA
    zones_df = pd.DataFrame(
        {
            "zone_id": zone_ids,
            "name": zone_names,
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "priority": priority,
            "max_couriers": cap,
        },
        columns=list(ZONE_COLUMNS),
    )

    out = Path(out_dir)
    if not force:
        _check_target(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        write_table(zones_df, out, "zones", fmt),
        write_table(restaurants_df, out, "restaurants", fmt),
        write_table(couriers_df, out, "couriers", fmt),
    }
    if travel_times:
        travel_df = travel_time_table(zone_ids, lat, lon, rng_travel)
        written.add(write_table(travel_df, out, "travel_times", fmt))
    peak = rng_demand.normal(0.0, PEAK_SPREAD_MINUTES, size=restaurants).round()
    if demand:
        demand_df = demand_table(restaurants_df, peak, start, timezone, shift_hours, slot_minutes)
        written.add(write_table(demand_df, out, "demand", fmt))
    if history_days:
        draws = OrderDraws.draw(
            rng_orders, restaurants_df, peak, start, history_days, shift_hours, timezone
        )
        past, today = draws.split()
        written.add(write_orders(draws, past, out, "orders", fmt))
        written.add(write_orders(draws, today, out, "shift_orders", fmt))
        del draws
    for table in TABLES:
        for ext in ("csv", "parquet"):
            stale = out / f"{table}.{ext}"
            if stale not in written and stale.exists():
                stale.unlink()

    sections: dict[str, dict[str, object]] = {
        "city": {"name": city, "timezone": timezone},
        "data": {"dir": "."},
    }
    header = (
        f"Synthetic city written by rebalance generate (seed {seed}): {zones} zones, "
        f"{restaurants} restaurants, {couriers} couriers.\n"
        f"Courier availability is centred on the shift starting {start}."
    )
    if demand or staggered or history_days:
        sections["shift"] = {"hours": float(shift_hours), "slot_minutes": int(slot_minutes)}
        extras = [
            "a demand table (evening profile)" if demand else "",
            "couriers logging on and off during the shift" if staggered else "",
            f"{history_days} days of past orders (orders.csv) and the shift's day "
            "(shift_orders.csv)"
            if history_days
            else "",
        ]
        header += "\nWith " + ", ".join(e for e in extras if e) + "."
    write_config(out / "rebalance.toml", sections, header=header)
    return out
