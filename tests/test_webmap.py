"""`rebalance map`: the plan as one shareable HTML map (folium), outlines and all."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from util import SHIFT, city_with

from rebalance.cli import app

runner = CliRunner()


def invoke(*args: object):
    """Run the CLI in-process (stdout and stderr apart)."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def outlines_for(city: Path, half: float = 0.004) -> dict:
    """A FeatureCollection with a small square around each zone of the city."""
    zones = pd.read_csv(city / "zones.csv", dtype={"zone_id": str})
    features = []
    for z, lat, lon in zip(zones["zone_id"], zones["lat"], zones["lon"], strict=True):
        ring = [
            [lon - half, lat - half],
            [lon + half, lat - half],
            [lon + half, lat + half],
            [lon - half, lat + half],
            [lon - half, lat - half],
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {"zone_id": z},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture
def planned(tmp_path):
    """A city whose zone 0002 has a hostile name, and its plan folder."""
    city = city_with(tmp_path)
    zones = pd.read_csv(city / "zones.csv", dtype=str, keep_default_na=False)
    zones.loc[zones["zone_id"] == "0002", "name"] = "<script>alert(1)</script>"
    zones.to_csv(city / "zones.csv", index=False)
    plan = tmp_path / "plan"
    assert invoke("plan", city, "--shift-start", SHIFT, "--out", plan).exit_code == 0
    return city, plan


def test_map_writes_one_html_with_zones_and_routes(planned, tmp_path):
    """One circle per zone, one line per route, the city in the title, names escaped."""
    city, plan = planned
    out = tmp_path / "share" / "map.html"
    result = invoke("map", plan, "--data", city, "--out", out)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    routes = pd.read_csv(plan / "moves.csv").groupby(["from_zone", "to_zone"]).ngroups
    assert len(re.findall(r"L\.circleMarker\(", page)) == 5
    assert len(re.findall(r"L\.polyline\(", page)) == routes
    assert "<b>Paris</b>" in page and "L.polygon(" not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f"written to {out}" in result.stderr


def _planned_with_names(tmp_path: Path, names: dict[str, str]) -> tuple[Path, Path]:
    """The test city with each row of the tables in ``names`` named by its text (and its
    row number), and its plan folder, which has short zones (pause lists are shown)."""
    city = city_with(tmp_path)
    for table_name, text in names.items():
        table = pd.read_csv(city / f"{table_name}.csv", dtype=str, keep_default_na=False)
        table["name"] = [f"{text} {i}" for i in range(len(table))]
        table.to_csv(city / f"{table_name}.csv", index=False)
    plan = tmp_path / "plan"
    assert invoke("plan", city, "--shift-start", SHIFT, "--out", plan).exit_code == 0
    assert pd.read_csv(plan / "zones.csv")["shortage"].sum() > 0
    return city, plan


def test_names_cannot_break_out_of_the_tooltips_javascript(tmp_path):
    """folium puts each tooltip in a JavaScript template literal: a backtick in a zone or
    restaurant name ended it and ``${...}`` ran as code (stored XSS in a map shared in the
    channel), and ``\\u`` made a syntax error that stopped the whole map. Every tooltip
    is now one literal holding none of them; the names show as HTML references."""
    hostile = "Croix`+alert(4)+` ${alert(document.cookie)} C:\\u{zz}"
    city, plan = _planned_with_names(tmp_path, {"zones": hostile, "restaurants": hostile})
    out = tmp_path / "map.html"
    assert invoke("map", plan, "--data", city, "--out", out).exit_code == 0
    page = out.read_text()
    calls = page.count(".bindTooltip(")
    literals = re.findall(r"\.bindTooltip\(\s*`([^`]*)`\s*,\s*\{", page)
    assert calls > 5 and len(literals) == calls
    assert not any("${" in text or "\\" in text for text in literals)
    assert (
        "Croix&#96;+alert(4)+&#96; &#36;&#123;alert(document.cookie)&#125; C:&#92;u&#123;zz&#125;"
        in page
    )
    assert sum("pause:" in text for text in literals) > 0


def test_control_bidi_and_invisible_characters_in_names_are_written_out(tmp_path):
    """The map put partners' names in its tooltips with a raw U+202E (which reverses the
    text after it), ESC and backspace bytes, where every other view writes them out.
    Now no such character reaches the page; each shows as its code."""
    hostile = "Z\u202eLIVE\x1b[31mRED\x08\u200b"
    city, plan = _planned_with_names(tmp_path, {"zones": hostile, "restaurants": hostile})
    out = tmp_path / "map.html"
    assert invoke("map", plan, "--data", city, "--out", out, "--no-tiles").exit_code == 0
    page = out.read_text()
    for raw in ("\u202e", "\x1b", "\x08", "\u200b"):
        assert raw not in page
    assert "Z&#92;u202eLIVE&#92;x1b[31mRED&#92;x08&#92;u200b" in page


def test_a_pause_list_keeps_each_name_whole(tmp_path):
    """A zone's pause list in its tooltip separates the names with "; ": joined with
    ", ", a restaurant named "Le Bar, Tabac" read as two restaurants."""
    city, plan = _planned_with_names(tmp_path, {"restaurants": "Le Bar, Tabac"})
    out = tmp_path / "map.html"
    assert invoke("map", plan, "--data", city, "--out", out, "--no-tiles").exit_code == 0
    page = out.read_text()
    zones = pd.read_csv(plan / "zones.csv", dtype=str, keep_default_na=False)
    lists = [names.split(";") for names in zones["pause_restaurant_names"] if ";" in names]
    assert lists
    for names in lists:
        assert f"pause: {'; '.join(names)}" in page


def test_names_are_never_run_as_templates(tmp_path, monkeypatch):
    """branca compiles each element it renders as a Jinja template: a zone named
    ``{{ cycler.__init__.__globals__.os.mkdir(...) }}`` ran Python on the machine drawing
    the map (a folder appeared), ``{{ 7*7 }}`` showed as 49, and a restaurant named
    ``{% raw %}`` crashed the command with a traceback. Names are text."""
    monkeypatch.chdir(tmp_path)
    payloads = {
        "zones": "{{ cycler.__init__.__globals__.os.mkdir(dict(pwned=1)|first) }} {{ 7*7 }}",
        "restaurants": "{% raw %} {# c #} {{ 6*6 }}",
    }
    city, plan = _planned_with_names(tmp_path, payloads)
    out = tmp_path / "map.html"
    result = runner.invoke(app, ["map", str(plan), "--data", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "pwned").exists()
    page = out.read_text()
    assert "&#123;&#123; 7*7 &#125;&#125;" in page and "&#123;% raw %&#125;" in page
    assert "&#123;&#123; 6*6 &#125;&#125;" in page
    assert " 49 " not in page and " 36 " not in page


def test_map_draws_outlines_from_the_data_folder(planned, tmp_path):
    """DATA/zones.geojson is picked up: one polygon per zone, said on stderr."""
    city, plan = planned
    (city / "zones.geojson").write_text(json.dumps(outlines_for(city)))
    out = tmp_path / "map.html"
    result = invoke("map", plan, "--data", city, "--out", out, "--no-tiles")
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert len(re.findall(r"L\.polygon\(", page)) == 5 and "L.tileLayer(" not in page
    assert "5 zone outlines" in result.stderr


def test_map_with_bad_outlines_exits_3_naming_the_feature(planned, tmp_path):
    """A feature of an unknown zone: exit 3 naming the file and the feature; no map written."""
    city, plan = planned
    doc = outlines_for(city)
    doc["features"][3]["properties"]["zone_id"] = "9999"
    bad = tmp_path / "outlines.geojson"
    bad.write_text(json.dumps(doc))
    out = tmp_path / "map.html"
    result = invoke("map", plan, "--data", city, "--out", out, "--outlines", bad)
    assert result.exit_code == 3
    assert f"{bad}: feature 3 (zone_id '9999')" in result.stderr and not out.exists()


def test_map_without_a_data_folder_draws_from_the_plan_folder(planned, tmp_path):
    """`rebalance map PLAN --out F` was exit 2, asking for the data folder, although
    plan.json keeps the zones' coordinates: it now draws the same map from them. A
    folder written before plans kept them still asks for --data (exit 2)."""
    import json
    import re

    city, plan = planned
    with_data, alone = tmp_path / "data.html", tmp_path / "alone.html"
    assert invoke("map", plan, "--data", city, "--out", with_data).exit_code == 0
    empty = tmp_path / "empty.toml"
    empty.write_text("")  # no [data] dir
    for extra in ([], ["--config", empty]):
        result = invoke("map", plan, "--out", alone, *extra)
        assert result.exit_code == 0, result.stderr
        same = [re.sub(r"[0-9a-f]{32}", "", f.read_text()) for f in (with_data, alone)]
        assert same[0] == same[1]  # but for folium's random element ids
        assert "&lt;script&gt;" in same[1] and "<script>alert" not in same[1]
    older = tmp_path / "older"
    older.mkdir()
    for f in plan.iterdir():
        (older / f.name).write_bytes(f.read_bytes())
    meta = json.loads((older / "plan.json").read_text())
    meta["explanation"] = {}  # as written before explanations (and coordinates) were kept
    (older / "plan.json").write_text(json.dumps(meta))
    out = tmp_path / "older.html"
    result = invoke("map", older, "--out", out)
    assert result.exit_code == 2 and "--data DATA_DIR" in result.stderr
    assert "before plans kept their zones' coordinates" in " ".join(result.stderr.split())
    assert not out.exists()


def test_map_needs_the_data_folder_of_the_plan(planned, tmp_path):
    """A --config that does not exist: exit 3; another city's data folder: exit 3."""
    _, plan = planned
    out = tmp_path / "map.html"
    result = invoke("map", plan, "--out", out, "--config", tmp_path / "none.toml")
    assert result.exit_code == 3  # a --config that does not exist
    other = tmp_path / "other"
    other.mkdir()
    generate = invoke(
        "generate", other / "c", "--zones", "3", "--couriers", "5", "--restaurants", "3"
    )
    assert generate.exit_code == 0
    result = invoke("map", plan, "--data", other / "c", "--out", out)
    assert result.exit_code == 3 and "not in this data folder" in result.stderr
    assert not out.exists()


def test_map_warns_when_the_data_names_the_zones_otherwise(planned, tmp_path):
    """Another city's data folder with the same zone ids gave the map its coordinates
    without a word. Its zones' names differ from the plan's: the map is drawn, with a
    warning naming the first such zone; the plan's own folder draws it without one."""
    city, plan = planned
    out = tmp_path / "map.html"
    own = invoke("map", plan, "--data", city, "--out", out)
    assert own.exit_code == 0 and "warning" not in own.stderr
    other = tmp_path / "lyon"
    shutil.copytree(city, other)
    zones = pd.read_csv(other / "zones.csv", dtype=str, keep_default_na=False)
    zones["name"] = [f"Lyon {i}" for i in range(len(zones))]
    zones.to_csv(other / "zones.csv", index=False)
    first = pd.read_csv(plan / "zones.csv", dtype=str, keep_default_na=False).iloc[0]
    result = invoke("map", plan, "--data", other, "--out", out)
    assert result.exit_code == 0, result.output
    assert (
        f"warning: 5 of 5 zones have other names in {other} than in the plan (zone "
        f"'{first.zone_id}': 'Lyon 0' there, '{first['name']}' in the plan)"
    ) in " ".join(result.stderr.split())


def test_map_out_never_replaces_a_file_that_is_not_a_page(planned, tmp_path):
    """--out naming zones.csv is refused (exit 2), the file untouched; a map written
    before is replaced."""
    city, plan = planned
    zones = city / "zones.csv"
    before = zones.read_bytes()
    result = invoke("map", plan, "--data", city, "--out", zones)
    assert result.exit_code == 2 and "is not an HTML map; not replacing it" in result.output
    assert zones.read_bytes() == before
    out = tmp_path / "map.html"
    for _ in range(2):
        assert invoke("map", plan, "--data", city, "--out", out).exit_code == 0


def test_map_out_that_cannot_be_written_exits_3(planned, tmp_path):
    """--out under a file: exit 3 saying it cannot write the map there, no traceback."""
    city, plan = planned
    (tmp_path / "blocker").write_text("x")
    result = invoke("map", plan, "--data", city, "--out", tmp_path / "blocker" / "map.html")
    assert result.exit_code == 3, result.output
    assert "cannot write the map" in result.output and "Traceback" not in result.output


def test_a_map_that_fails_to_render_leaves_no_file_open_or_behind(tmp_path, monkeypatch):
    """A render error (a bug in a template) left branca's open file to the garbage
    collector (a ResourceWarning) and, with it, a temporary file: the page is now
    rendered before any file is opened, and the map folder stays as it was."""
    import gc
    import warnings

    import branca.element
    import folium

    from rebalance.views.webmap import write_map

    def broken(self, **kwargs):
        raise RuntimeError("template error")

    fmap = folium.Map(tiles=None)
    monkeypatch.setattr(branca.element.Figure, "render", broken)
    out = tmp_path / "maps" / "map.html"
    out.parent.mkdir()
    out.write_text("<html>the map shared yesterday</html>")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            write_map(fmap, out)
        except RuntimeError as exc:
            assert str(exc) == "template error"
        else:
            raise AssertionError("the render error was not raised")
        gc.collect()
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []
    assert [p.name for p in out.parent.iterdir()] == ["map.html"]
    assert out.read_text() == "<html>the map shared yesterday</html>"


def test_a_hostile_city_name_in_the_title_is_text_and_the_page_follows_the_umask(tmp_path):
    """The map's title holds the city's name, from a partner's config: it is escaped as
    the zones' names are (no test had a hostile city; untested, the title could run a
    template or HTML). And the page got 0644 whatever the umask, where every other file
    rebalance writes gets the umask's mode: under 077 a private plan's map was readable
    by anyone on the machine."""
    import os

    city = city_with(tmp_path)
    (city / "rebalance.toml").write_text(
        '[city]\nname = "Lyon <img src=x onerror=alert(1)> {{ 7*7 }} ${1+1}"\n'
    )
    plan = tmp_path / "plan"
    assert invoke("plan", city, "--shift-start", SHIFT, "--out", plan).exit_code == 0
    out = tmp_path / "map.html"
    before = os.umask(0o077)
    try:
        result = invoke("map", plan, "--data", city, "--out", out, "--no-tiles")
    finally:
        os.umask(before)
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<img" not in page and " 49" not in page and "${1+1}" not in page
    assert "Lyon &lt;img src=x onerror=alert(1)&gt; &#123;&#123; 7*7 &#125;&#125;" in page
    assert out.stat().st_mode & 0o777 == 0o600
