"""The plan as an interactive map (one HTML file, Leaflet through folium), to share in
the channel: zones tinted by shortage (their outlines when given, else circles sized by
demand), moves as lines as thick as the couriers on them, every zone and route with a
tooltip. `rebalance map PLAN_DIR --out map.html` writes it.

Zone and restaurant names come from partners: they are HTML-escaped in every tooltip,
and so are the characters that would act inside the JavaScript template literal folium
puts each tooltip in, or in the Jinja template branca compiles it into (see `_escape`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rebalance.escape import visible

if TYPE_CHECKING:
    from rebalance.plan import Plan

__all__ = ["interactive_map", "write_map"]

#: Shortage colours: none, some, most (Okabe-Ito sky blue, orange, vermillion).
_NONE, _SOME, _MOST = "#56B4E9", "#E69F00", "#D55E00"


#: What, besides HTML's specials, must not reach a tooltip as written: folium puts each
#: tooltip's HTML in a JavaScript template literal (``bindTooltip(`...`)``), where a
#: backtick ends it, ``${...}`` runs code and a backslash starts an escape (``\u`` not
#: followed by hex digits is a syntax error that stops the whole map). And branca renders
#: each element's script, then compiles that as a Jinja template again: a name holding
#: ``{{ ... }}`` or ``{% ... %}`` ran as Python on the machine drawing the map, and
#: ``{% raw %}`` crashed it. Braces as references end every Jinja delimiter. As HTML
#: character references they all show as themselves.
_IN_TEMPLATE = str.maketrans(
    {"`": "&#96;", "$": "&#36;", "\\": "&#92;", "{": "&#123;", "}": "&#125;"}
)


def _escape(text: str) -> str:
    """Partner text for a tooltip: control, bidi and zero-width characters written out
    (`rebalance.escape.visible`, as every other view shows them: a raw U+202E reversed
    the tooltip), HTML-escaped, and inert in a template literal."""
    return html.escape(visible(text, one_line=True)).translate(_IN_TEMPLATE)


def _colour(short: float, worst: float) -> str:
    if short <= 0:
        return _NONE
    return _MOST if short >= max(1.0, worst / 2) else _SOME


def interactive_map(
    plan: Plan,
    zones: pd.DataFrame,
    *,
    outlines: Mapping[str, Any] | None = None,
    tiles: str | None = "OpenStreetMap",
) -> Any:
    """A folium Map of the plan. ``zones`` gives zone_id, lat, lon (the input table);
    ``outlines`` (`rebalance.outlines.read_outlines`) draws the zones' polygons;
    ``tiles=None`` draws no background map (no tile server asked; Leaflet itself still
    comes from a CDN when the page is opened)."""
    import folium
    from folium.plugins import PolyLineTextPath

    from .plots import plan_subject
    from .wording import coverage_change, shift_window

    if not plan.feasible:
        raise ValueError(f"plan is infeasible, nothing to draw: {plan.message}")
    frame = plan.zones.merge(
        zones[["zone_id", "lat", "lon"]].astype({"zone_id": str}), on="zone_id", how="left"
    )
    if frame["lat"].isna().any():
        lost = frame.loc[frame["lat"].isna(), "zone_id"].tolist()
        raise ValueError(f"no coordinates for zones {lost[:5]}; give the plan's own data folder")
    fmap = folium.Map(tiles=tiles, control_scale=True, prefer_canvas=True)
    worst = float(frame["shortage"].max()) if len(frame) else 0.0
    dmax = max(float(frame["demand_orders_per_hour"].max()) if len(frame) else 0.0, 1e-9)
    esc = _escape

    def tip(row: Any) -> str:
        moves = " ".join(
            x
            for x in (
                f"+{int(row.moved_in)}" if row.moved_in else "",
                f"−{int(row.moved_out)}" if row.moved_out else "",
            )
            if x
        )
        lines = [
            f"<b>{esc(str(row.zone_id))} {esc(str(row.name))}</b> · {esc(str(row.action))}",
            f"need {int(row.required_couriers)} · before {int(row.couriers_before)} · "
            f"after {int(row.couriers_after)}" + (f" · moves {moves}" if moves else ""),
            f"demand {float(row.demand_orders_per_hour):,.1f} orders/h",
        ]
        if row.shortage:
            lines.append(f"<b>short {int(row.shortage)}</b>")
            # "; " between names: a name holds no ";" in a pause list (it became ","),
            # and ", " made "Bar, Tabac" read as two restaurants
            paused = str(getattr(row, "pause_restaurant_names", "") or "").replace(";", "; ")
            if paused:
                lines.append(f"pause: {esc(paused)}")
        return "<br>".join(lines)

    outlined = folium.FeatureGroup(name="Zones", show=True)
    for row in frame.itertuples(index=False):
        colour = _colour(float(row.shortage), worst)
        polygons = (outlines or {}).get(str(row.zone_id))
        if polygons:
            for polygon in polygons:
                folium.Polygon(
                    locations=[[(lat, lon) for lon, lat in ring] for ring in polygon],
                    color="#555555",
                    weight=1,
                    fill=True,
                    fill_color=colour,
                    fill_opacity=0.35,
                    tooltip=folium.Tooltip(tip(row)),
                ).add_to(outlined)
        radius = 4 + 14 * math.sqrt(float(row.demand_orders_per_hour) / dmax)
        folium.CircleMarker(
            location=(float(row.lat), float(row.lon)),
            radius=radius,
            color="#000000",
            weight=1,
            fill=True,
            fill_color=colour,
            fill_opacity=0.85,
            tooltip=folium.Tooltip(tip(row)),
        ).add_to(outlined)
    outlined.add_to(fmap)

    position = {
        str(z): (float(lat), float(lon))
        for z, lat, lon in zip(frame["zone_id"], frame["lat"], frame["lon"], strict=True)
    }
    names = dict(zip(frame["zone_id"].astype(str), frame["name"].astype(str), strict=True))
    routes = plan.routes()
    moves = folium.FeatureGroup(name="Moves", show=True)
    most = int(routes["couriers"].max()) if len(routes) else 1
    for route in routes.itertuples(index=False):
        src, dst = str(route.from_zone), str(route.to_zone)
        label = (
            f"<b>{int(route.couriers)} courier{'s' if route.couriers != 1 else ''}</b> "
            f"{esc(src)} {esc(names.get(src, ''))} → {esc(dst)} {esc(names.get(dst, ''))}"
            f"<br>longest {float(route.minutes):.1f} min · {esc(str(route.vehicles))}"
        )
        line = folium.PolyLine(
            locations=[position[src], position[dst]],
            color="#000000",
            weight=1.5 + 6.5 * int(route.couriers) / most,
            opacity=0.6,
            tooltip=folium.Tooltip(label),
        )
        line.add_to(moves)
        PolyLineTextPath(line, "►", center=True, offset=5, attributes={"font-size": "14"}).add_to(
            moves
        )
    moves.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)

    k = plan.kpis
    title = (
        f"<b>{esc(plan_subject(plan))}</b> · {esc(shift_window(plan))}<br>"
        f"coverage {coverage_change(k, arrow='→', after='<b>{}</b>')} · "
        f"{k.get('moved_couriers', 0)} of {k.get('eligible_couriers', 0)} eligible couriers "
        f"moved · {int(k.get('shortage') or 0)} short · plan {esc(plan.plan_id)} ({esc(plan.status)})"
        f"<br><span style='color:{_NONE}'>●</span> covered "
        f"<span style='color:{_SOME}'>●</span> short "
        f"<span style='color:{_MOST}'>●</span> most short · circle area: demand"
    )
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            "<div style='position:fixed;top:10px;left:60px;z-index:1000;background:white;"
            "padding:6px 10px;border-radius:4px;font:13px sans-serif;"
            f"box-shadow:0 1px 4px rgba(0,0,0,.3)'>{title}</div>"
        )
    )
    lats = [p[0] for p in position.values()]
    lons = [p[1] for p in position.values()]
    for polygons in (outlines or {}).values():
        for polygon in polygons:
            lons += [lon for lon, _ in polygon[0]]
            lats += [lat for _, lat in polygon[0]]
    if lats:
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return fmap


def write_map(fmap: Any, path: str | Path) -> Path:
    """Save the map as one HTML file, atomically (a reader never sees half a file). A
    symbolic link is followed: the page goes where it points, the link stays."""
    from rebalance.paths import write_atomically

    # Rendered before any file is open: branca's own `save` opens the file, then
    # renders, and a render error left the open file to the garbage collector.
    page = fmap.get_root().render().encode("utf-8")
    return write_atomically(Path(path), lambda tmp: Path(tmp).write_bytes(page))
