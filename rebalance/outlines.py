"""Zone outlines: an optional ``zones.geojson`` beside the input tables, for maps only.

A GeoJSON FeatureCollection whose features are Polygons or MultiPolygons with a
``zone_id`` property (RFC 7946: positions are ``[lon, lat]``). Outlines change nothing
in the plan; they make a map readable. A zone without an outline is drawn as its
centroid alone. Every problem is reported with the file and the feature, and what
would be valid (`DataError`, exit 3).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import DataError, Issue

__all__ = ["OUTLINES_FILE", "Outlines", "find_outlines", "read_outlines"]

#: The outlines file looked for in a data directory.
OUTLINES_FILE = "zones.geojson"

#: zone_id -> polygons; a polygon is its rings (outer first, then holes) of (lon, lat).
Outlines = dict[str, list[list[list[tuple[float, float]]]]]


def find_outlines(data_dir: str | Path | None) -> Path | None:
    """``DATA_DIR/zones.geojson`` when it exists."""
    if data_dir is None:
        return None
    path = Path(data_dir) / OUTLINES_FILE
    return path if path.is_file() else None


def read_outlines(path: str | Path, zone_ids: Iterable[str] | None = None) -> Outlines:
    """Read and check a zones.geojson; ``zone_ids`` (when given) are the zones that exist.

    Raises `DataError` listing every problem: not JSON, not a FeatureCollection, a
    feature without ``zone_id``, an unknown or repeated zone, a geometry that is not a
    (Multi)Polygon, a ring that is not closed or has fewer than 4 positions, a position
    outside -180..180 / -90..90.
    """
    file = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(Issue("file not found", file=file), title="invalid zone outlines") from None
    except UnicodeDecodeError:
        raise DataError(
            Issue("not UTF-8 text", file=file, valid="a UTF-8 GeoJSON file"),
            title="invalid zone outlines",
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            Issue(
                f"not valid JSON: {exc.msg} (character {exc.colno})",
                file=file,
                line=exc.lineno,
                valid="a GeoJSON FeatureCollection",
            ),
            title="invalid zone outlines",
        ) from None
    except RecursionError:
        raise DataError(
            Issue(
                "nested too deeply to be GeoJSON", file=file, valid="a GeoJSON FeatureCollection"
            ),
            title="invalid zone outlines",
        ) from None
    except OSError as exc:
        raise DataError(
            Issue(f"cannot read it: {exc.strerror or exc}", file=file),
            title="invalid zone outlines",
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise DataError(
            Issue(
                "not a GeoJSON FeatureCollection",
                file=file,
                value=doc.get("type") if isinstance(doc, dict) else type(doc).__name__,
                valid='{"type": "FeatureCollection", "features": [...]}',
            ),
            title="invalid zone outlines",
        )
    known = None if zone_ids is None else {str(z) for z in zone_ids}
    problems: list[Issue] = []
    outlines: Outlines = {}
    first_seen: dict[str, int] = {}
    features = doc.get("features")
    if not isinstance(features, list):
        features = []
        problems.append(Issue("no features list", file=file, valid='"features": [...]'))
    for index, feature in enumerate(features):
        found = _feature(index, feature, known, first_seen)
        if isinstance(found, tuple):
            problems.append(Issue(found[0], file=file, value=found[1], valid=found[2] or None))
        else:
            zone, polygons = next(iter(found.items()))
            first_seen.setdefault(zone, index)
            if polygons:
                outlines[zone] = polygons
    if problems:
        raise DataError(problems, title="invalid zone outlines")
    return outlines


def _feature(
    index: int, feature: Any, known: set[str] | None, first_seen: dict[str, int]
) -> dict[str, list[list[list[tuple[float, float]]]]] | tuple[str, object, str]:
    """One feature as {zone_id: polygons}, or its problem (message, value, valid)."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return (f"feature {index}: not a GeoJSON Feature", None, '{"type": "Feature", ...}')
    props = feature.get("properties") or {}
    zone = props.get("zone_id") if isinstance(props, dict) else None
    if zone is None or str(zone).strip() == "":
        return (f"feature {index}: no zone_id property", None, '"properties": {"zone_id": "..."}')
    zone = str(zone).strip()
    where = f"feature {index} (zone_id {zone!r})"
    if known is not None and zone not in known:
        return (f"{where}: zone_id is not in the zones table", None, "a zone_id of zones.csv")
    if zone in first_seen:
        return (f"{where}: zone_id repeated (first in feature {first_seen[zone]})", None, "")
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind == "Polygon":
        polygons = [geometry.get("coordinates")]  # type: ignore[union-attr]
    elif kind == "MultiPolygon":
        polygons = geometry.get("coordinates")  # type: ignore[union-attr]
    else:
        return (f"{where}: geometry is not a Polygon or MultiPolygon", kind, "")
    if not isinstance(polygons, list) or not polygons:
        return (f"{where}: geometry has no coordinates", None, "a list of polygons")
    parsed = []
    for polygon in polygons:
        rings, error = _polygon(polygon)
        if error:
            return (f"{where}: {error[0]}", error[1], error[2])
        parsed.append(rings)
    return {zone: parsed}


def _polygon(
    polygon: Any,
) -> tuple[list[list[tuple[float, float]]], tuple[str, object, str] | None]:
    """A polygon's rings as (lon, lat) tuples, or the error (message, value, valid)."""
    valid_ring = "a closed ring of at least 4 [lon, lat] positions"
    if not isinstance(polygon, list) or not polygon:
        return [], ("polygon has no rings", None, valid_ring)
    rings = []
    for ring in polygon:
        if not isinstance(ring, list) or len(ring) < 4:
            return [], ("ring has fewer than 4 positions", None, valid_ring)
        points = []
        for position in ring:
            if (
                not isinstance(position, list | tuple)
                or len(position) < 2
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in position[:2]
                )
            ):
                return [], ("position is not [lon, lat]", _short(position), "[lon, lat] numbers")
            lon, lat = float(position[0]), float(position[1])
            if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
                return [], (
                    "position out of range",
                    _short(position),
                    "lon in -180..180 and lat in -90..90, in that order",
                )
            points.append((lon, lat))
        if points[0] != points[-1]:
            return [], ("ring is not closed", None, "the last position equal to the first")
        rings.append(points)
    return rings, None


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
