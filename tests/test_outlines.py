"""Zone outlines (zones.geojson): read, checked feature by feature, errors located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebalance.errors import DataError
from rebalance.outlines import find_outlines, read_outlines

SQUARE = [[[2.30, 48.85], [2.31, 48.85], [2.31, 48.86], [2.30, 48.86], [2.30, 48.85]]]


def feature(zone_id: object, geometry: dict | None = None) -> dict:
    """One GeoJSON feature for a zone (a small square by default)."""
    return {
        "type": "Feature",
        "properties": {"zone_id": zone_id},
        "geometry": geometry or {"type": "Polygon", "coordinates": SQUARE},
    }


def write(tmp_path: Path, *features: dict, text: str | None = None) -> Path:
    """A zones.geojson in tmp_path holding these features (or this raw text)."""
    path = tmp_path / "zones.geojson"
    doc = {"type": "FeatureCollection", "features": list(features)}
    path.write_text(text if text is not None else json.dumps(doc), encoding="utf-8")
    return path


def test_polygons_and_multipolygons_by_zone_id(tmp_path):
    """Polygons and MultiPolygons are read as rings of (lon, lat), ids kept as strings."""
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE, SQUARE]}
    path = write(tmp_path, feature("0001"), feature("0002", multi))
    outlines = read_outlines(path, ["0001", "0002", "0003"])
    assert set(outlines) == {"0001", "0002"}
    assert outlines["0001"][0][0][:2] == [(2.30, 48.85), (2.31, 48.85)]
    assert len(outlines["0002"]) == 2
    assert find_outlines(tmp_path) == path and find_outlines(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature("9999")], "feature 0 (zone_id '9999'): zone_id is not in the zones table"),
        ([feature("0001"), feature("0001")], "feature 1 (zone_id '0001'): zone_id repeated"),
        ([feature(None)], "feature 0: no zone_id property"),
        ([feature("0001", {"type": "Point", "coordinates": [2.3, 48.8]})], "not a Polygon"),
        (
            [feature("0001", {"type": "Polygon", "coordinates": [[[2.3, 48.8], [2.4, 48.8]]]})],
            "ring has fewer than 4 positions",
        ),
        (
            [
                feature(
                    "0001",
                    {
                        "type": "Polygon",
                        "coordinates": [[[2.3, 48.8], [200, 48.8], [2.4, 48.9], [2.3, 48.8]]],
                    },
                )
            ],
            "feature 0 (zone_id '0001'): position out of range",
        ),
        (
            [
                feature(
                    "0001",
                    {
                        "type": "Polygon",
                        "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9]] * 2],
                    },
                )
            ],
            "ring is not closed",
        ),
    ],
)
def test_bad_features_are_named_with_file_and_feature(tmp_path, features, message):
    """Each rule names the file and the feature (index and zone_id) and what is valid."""
    path = write(tmp_path, *features)
    with pytest.raises(DataError) as info:
        read_outlines(path, ["0001", "0002"])
    assert info.value.exit_code == 3
    assert str(path) in str(info.value) and message in str(info.value)


def test_every_problem_is_listed_at_once(tmp_path):
    """Two bad features give two problems in one error."""
    path = write(tmp_path, feature("9999"), feature(None), feature("0001"))
    with pytest.raises(DataError) as info:
        read_outlines(path, ["0001"])
    assert len(info.value.problems) == 2


def test_not_json_or_not_a_collection(tmp_path):
    """Broken JSON names the line; a bare geometry is not a FeatureCollection."""
    path = write(tmp_path, text='{"type": "FeatureCollection",\n "features": [}')
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        read_outlines(path)
    path = write(tmp_path, text=json.dumps({"type": "Polygon", "coordinates": SQUARE}))
    with pytest.raises(DataError, match="not a GeoJSON FeatureCollection"):
        read_outlines(path)


def test_json_nested_too_deeply_is_named_not_a_crash(tmp_path):
    """A zones.geojson whose features are arrays nested 100,000 deep (a hostile or broken
    file) is a DataError naming it, not a RecursionError (exit 1, a bug)."""
    deep = "[" * 100_000 + "]" * 100_000
    path = write(tmp_path, text='{"type": "FeatureCollection", "features": ' + deep + "}")
    with pytest.raises(DataError, match="nested too deeply") as info:
        read_outlines(path)
    assert info.value.problems[0].file == str(path)
