"""Matplotlib views of plans, scenarios and history, for notebooks and reports.

Every function takes an optional ``ax`` (a new figure is made when it is None), draws
on it and returns it, so views compose into one figure::

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), layout="constrained")
    plots.supply_vs_need(plan, ax=left)
    plots.zone_map(plan, inputs, ax=right)

Colours come from the Okabe-Ito palette, which stays distinguishable with the common
colour-vision deficiencies; shortage is a sky blue -> orange -> vermillion scale.
Not imported by ``import rebalance``: matplotlib loads only when plots are used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from rebalance.slots import slot_labels

from .timeline import slot_positions
from .wording import coverage_change, percent, shift_window

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from rebalance.inputs import Inputs
    from rebalance.plan import Plan
    from rebalance.replaying import Replay

__all__ = [
    "METRICS",
    "OKABE_ITO",
    "couriers_over_time",
    "coverage_history",
    "marginal_map",
    "plan_subject",
    "scenario_comparison",
    "served_share",
    "shortage_cmap",
    "slot_heatmap",
    "supply_vs_need",
    "zone_map",
]

#: The Okabe-Ito colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
#: Colours for series without a fixed role (yellow last: it is faint on white).
CYCLE = tuple(
    OKABE_ITO[c]
    for c in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue", "vermillion")
)
NEED, BEFORE, AFTER = OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["blue"]
SHORT = OKABE_ITO["vermillion"]
INK = OKABE_ITO["black"]

#: Axis label, unit and whether the value is a share shown in percent, per column.
METRICS: dict[str, tuple[str, str, bool]] = {
    "coverage": ("Coverage after plan", "% of required couriers", True),
    "coverage_before": ("Coverage before plan", "% of required couriers", True),
    "shortage": ("Couriers short after plan", "", False),
    "shortage_before": ("Couriers short before plan", "", False),
    "zones_short": ("Zones short after plan", "", False),
    "moved_couriers": ("Couriers moved", "", False),
    "travel_minutes": ("Total travel", "minutes", False),
    "objective": ("Objective", "minutes", False),
    "objective_move": ("Objective: moves", "minutes", False),
    "objective_shortage": ("Objective: shortage", "minutes", False),
    "eligible_couriers": ("Eligible couriers", "", False),
    "required_couriers": ("Required couriers", "", False),
    "surplus": ("Surplus couriers", "", False),
    "paused_orders_per_hour": ("Orders paused", "orders per hour", False),
    "no_show_rate": ("Courier no-show rate", "% of available couriers", True),
    "slowdown": ("Rain slowdown", "% slower than usual", True),
    "demand_factor": ("Demand factor", "x expected orders", False),
    "orders_per_courier_hour": ("Orders per courier-hour", "", False),
    "shortage_minutes": ("Shortage cost", "minutes per missing courier", False),
}


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def _plain(text: object) -> str:
    """``text`` drawn as written: matplotlib reads a text with two ``$`` as math ("$5 to
    $8" in italics without its dollars), and one that does not parse as math ("Pizza $$")
    raises when the figure is drawn. A ``\\$`` is drawn as a dollar sign."""
    return str(text).replace("$", r"\$")


def _metric(column: str) -> str:
    """The metric's name, or the column's own, as plot text."""
    return _plain(METRICS.get(column, (column,))[0])


def _label(column: str) -> str:
    name, unit, _ = METRICS.get(column, (column.replace("_", " ").capitalize(), "", False))
    return _plain(f"{name} ({unit})" if unit else name)


def _is_share(column: str) -> bool:
    return METRICS.get(column, ("", "", False))[2]


def _percent_axis(axis: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def plan_subject(plan: Plan) -> str:
    """The city, and the scenario when the plan is one (`solve_scenario` names it)."""
    scenario = (plan.settings or {}).get("scenario")
    return f"{plan.city} · scenario “{scenario}”" if scenario else plan.city


def _feasible_zones(plan: Plan, call: str = "the plot") -> pd.DataFrame:
    from rebalance.plan import as_plan

    # a sweep's table or a replay in the plan's place met "'DataFrame' object has no
    # attribute 'feasible'"
    plan = as_plan(plan, call, "plan")
    if not plan.feasible:
        raise ValueError(f"plan is infeasible, nothing to draw: {plan.message}")
    return plan.zones


def _zone_labels(zones: pd.DataFrame, limit: int = 22) -> list[str]:
    out = []
    for zone_id, name in zip(zones["zone_id"].astype(str), zones["name"].astype(str), strict=True):
        text = name.strip() or zone_id
        out.append(_plain(text if len(text) <= limit else text[: limit - 1] + "…"))
    return out


def _short_label(zone_id: str, name: str) -> str:
    """'1er - Louvre' -> '1er'; a name without ' - ' is kept whole; no name -> the id."""
    name = name.strip()
    return _plain(name.split(" - ")[0] if name else zone_id)


def shortage_cmap() -> Any:
    """The colour scale of shortage: sky blue (none) -> orange -> vermillion (most)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "rebalance_shortage", [OKABE_ITO["sky_blue"], OKABE_ITO["orange"], SHORT]
    )


# ------------------------------------------------------------------ supply vs need


def supply_vs_need(plan: Plan, ax: Axes | None = None, *, max_zones: int = 30) -> Axes:
    """Bars per zone: couriers needed, there before the plan, and assigned after it.

    Zones still short after the plan get their shortage written above in vermillion.
    With more than ``max_zones`` zones, those with the most change or shortage are shown.
    """

    zones = _feasible_zones(plan, "supply_vs_need(plan)")
    total = len(zones)
    if total > max_zones:
        weight = (
            zones["shortage"] * 10_000
            + (zones["required_couriers"] - zones["couriers_before"]).clip(lower=0) * 100
            + zones["moved_in"]
            + zones["moved_out"]
        )
        keep = weight.sort_values(ascending=False, kind="stable").index[:max_zones]
        zones = zones.loc[sorted(keep)]
    n = len(zones)
    ax = _new_axes(ax, (max(8.0, 0.5 * n + 2.5), 4.8))
    x = np.arange(n)
    width = 0.27
    ax.bar(
        x - width,
        zones["required_couriers"],
        width,
        label="Need (required)",
        color=NEED,
        edgecolor=INK,
        linewidth=0.4,
    )
    ax.bar(x, zones["couriers_before"], width, label="Before plan", color=BEFORE)
    after = ax.bar(x + width, zones["couriers_after"], width, label="After plan", color=AFTER)
    shortage = zones["shortage"].to_numpy()
    labels = [f"−{int(s)}" if s > 0 else "" for s in shortage]
    ax.bar_label(after, labels=labels, color=SHORT, fontweight="bold", fontsize=8, padding=2)
    ax.set_xticks(x, _zone_labels(zones), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xlabel("Zone" + (f" ({n} of {total} with the most change)" if n < total else ""))
    ax.set_ylabel("Couriers (eligible)")
    k = plan.kpis
    ax.set_title(
        f"{_plain(plan_subject(plan))}: couriers per zone against need\n"
        f"{shift_window(plan)} · coverage {coverage_change(k, arrow='→')}"
        + (f" · {int(k['shortage'])} short (in red)" if k.get("shortage") else ""),
        loc="left",
    )
    ax.legend(loc="upper right", ncols=3, frameon=False)
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


# ---------------------------------------------------------------------- slots


def _slot_frame(plan: Plan) -> pd.DataFrame:
    """One row per (zone, slot) with label, required, before, after (one-slot plans too)."""
    _feasible_zones(plan)
    if len(plan.slots):
        frame = plan.slots.copy()
        starts = pd.to_datetime(frame["slot_start"], utc=True).dt.tz_convert(plan.timezone)
    else:
        frame = plan.zones.copy()
        starts = pd.Series(plan.local(plan.shift_start), index=frame.index)
    return pd.DataFrame(
        {
            "zone_id": frame["zone_id"].astype(str),
            "start": starts,
            "required": frame["required_couriers"].astype(int),
            "before": frame["couriers_before"].astype(int),
            "after": frame["couriers_after"].astype(int),
        }
    )


def slot_heatmap(
    plan: Plan,
    ax: Axes | None = None,
    *,
    shortage: Literal["after", "before"] = "after",
    max_zones: int = 25,
    vmax: float | None = None,
    numbers: bool | None = None,
) -> Axes:
    """Zones x slots, each cell coloured by the couriers short there then, ``after``
    (default) or ``before`` the plan; a cell without shortage is left white.

    The rows are the zones short in some slot before the plan (most first, at most
    ``max_zones``), and the colour scale runs up to the largest shortage before the plan
    (or ``vmax``), whichever side is drawn: a before and an after heatmap side by side
    show the same zones on the same scale. Cells carry their number when the grid is
    small enough to read (``numbers``).
    """
    from matplotlib.ticker import MaxNLocator

    if shortage not in ("after", "before"):
        raise ValueError(f"shortage must be 'after' or 'before', got {shortage!r}")
    frame = _slot_frame(plan)
    frame["short_before"] = (frame["required"] - frame["before"]).clip(lower=0)
    frame["short_after"] = (frame["required"] - frame["after"]).clip(lower=0)
    labels = plan.slot_labels()
    at = slot_positions(plan, frame["start"])
    frame = frame[at >= 0].assign(label=np.asarray(labels)[at[at >= 0]])
    before = frame.pivot(index="zone_id", columns="label", values="short_before")
    after = frame.pivot(index="zone_id", columns="label", values="short_after")
    before = before.reindex(columns=labels).fillna(0)
    after = after.reindex(columns=labels).fillna(0)
    rank = pd.DataFrame({"b": before.sum(axis=1), "a": after.sum(axis=1)})
    rank = rank[(rank["b"] > 0) | (rank["a"] > 0)].sort_values(
        ["b", "a"], ascending=False, kind="stable"
    )
    rows = list(rank.index[:max_zones])
    grid = (before if shortage == "before" else after).loc[rows].to_numpy(dtype=float)
    names = plan.zones.set_index("zone_id")["name"].astype(str)
    row_labels = [_short_label(z, str(names.get(z, ""))) for z in rows]
    ax = _new_axes(ax, (max(6.0, 0.55 * len(labels) + 3.0), max(2.5, 0.32 * len(rows) + 1.6)))
    top = vmax if vmax is not None else max(1.0, float(before.to_numpy().max(initial=0)))
    cmap = shortage_cmap().with_extremes(bad="white")
    image = ax.imshow(
        np.ma.masked_less_equal(grid, 0) if grid.size else np.zeros((0, len(labels))),
        aspect="auto",
        cmap=cmap,
        vmin=0.5,
        vmax=max(top, 1.0),
        interpolation="nearest",
    )
    ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(len(rows)), row_labels)
    ax.set_xticks(np.arange(len(labels) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="#d9d9d9", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    if numbers is None:
        numbers = grid.size <= 400
    if numbers:
        for (i, j), value in np.ndenumerate(grid):
            if value > 0:
                ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=7, color=INK)
    colorbar = ax.figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    colorbar.set_label(f"Couriers short {shortage} plan")
    colorbar.locator = MaxNLocator(integer=True)
    colorbar.update_ticks()
    total = int(grid.sum())
    shown = len(rows)
    more = len(rank) - shown
    ax.set_xlabel(f"Slot start ({plan.timezone})")
    ax.set_ylabel("Zone" + (f" ({shown} of {len(rank)} ever short)" if more > 0 else ""))
    if not rows:
        ax.text(0.5, 0.5, "no zone is short in any slot", transform=ax.transAxes, ha="center")
    ax.set_title(
        f"{_plain(plan.city)}: couriers short per zone and slot, {shortage} plan\n"
        f"{shift_window(plan)} · {total} courier-slots short",
        loc="left",
    )
    return ax


def couriers_over_time(plan: Plan, ax: Axes | None = None, *, zone: str | None = None) -> Axes:
    """Couriers per slot against need, for the city (default) or one ``zone``.

    Steps over the shift: couriers required (orange), couriers present (black, the same
    before and after: moves do not add couriers), and the couriers covering need before
    (sky blue, dashed) and after the plan (blue); the vermillion band is what stays short.
    For one zone, present before and after differ and are drawn instead of coverage.
    """
    frame = _slot_frame(plan)
    if zone is not None:
        frame = frame[frame["zone_id"] == str(zone)]
        if frame.empty:
            raise ValueError(f"no zone {zone!r} in the plan")
    frame = frame.assign(
        cover_before=np.minimum(frame["required"], frame["before"]),
        cover_after=np.minimum(frame["required"], frame["after"]),
    )
    per = frame.groupby("start", sort=True)[
        ["required", "before", "after", "cover_before", "cover_after"]
    ].sum()
    step = pd.Timedelta(minutes=plan.slot_minutes) if plan.slot_minutes else None
    end = plan.local(plan.shift_end)
    edges = [*per.index, end] if step is None else [*per.index, per.index[-1] + step]
    # real time on the axis, city time on its ticks: over the autumn change the wall
    # clock runs 02:00-03:00 twice, and a naive axis drew that hour back over itself
    x = [t.to_pydatetime() for t in pd.DatetimeIndex(edges).tz_convert(plan.timezone)]

    axes = _new_axes(ax, (9.0, 4.5))

    def draw(values: pd.Series, **style: Any) -> Any:
        y = np.append(values.to_numpy(dtype=float), values.to_numpy(dtype=float)[-1])
        return axes.step(x, y, where="post", linewidth=2, **style)[0]

    draw(per["required"], color=NEED, label="Need (required)")
    if zone is None:
        draw(per["after"], color=INK, label="Present (before = after)")
        draw(per["cover_before"], color=BEFORE, linestyle="--", label="Covering need, before")
        draw(per["cover_after"], color=AFTER, label="Covering need, after")
        low = per["cover_after"]
    else:
        draw(per["before"], color=BEFORE, linestyle="--", label="Present before plan")
        draw(per["after"], color=AFTER, label="Present after plan")
        low = np.minimum(per["after"], per["required"])
    need = np.append(per["required"].to_numpy(float), per["required"].to_numpy(float)[-1])
    got = np.append(np.asarray(low, float), float(np.asarray(low, float)[-1]))
    axes.fill_between(
        x, got, need, where=need > got, step="post", color=SHORT, alpha=0.25, label="Short"
    )
    from zoneinfo import ZoneInfo

    from matplotlib.dates import AutoDateLocator, DateFormatter

    city = ZoneInfo(plan.timezone)
    axes.xaxis.set_major_locator(AutoDateLocator(tz=city))
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=city))
    axes.set_xlim(x[0], x[-1])
    axes.set_ylim(bottom=0)
    axes.margins(y=0.1)
    axes.set_xlabel(f"Time ({plan.timezone})")
    axes.set_ylabel("Couriers")
    names = plan.zones.set_index("zone_id")["name"].astype(str)
    where = plan.city if zone is None else f"{plan.city}, {zone} {names.get(str(zone), '')}"
    short = int((per["required"] - low).clip(lower=0).sum())
    axes.set_title(
        f"{_plain(where)}: couriers over the shift against need\n"
        f"{shift_window(plan)} · {short} courier-slots short after the plan",
        loc="left",
    )
    axes.legend(loc="upper right", fontsize=8, framealpha=0.9)
    axes.grid(alpha=0.3)
    axes.set_axisbelow(True)
    return axes


# ------------------------------------------------------------------------ map


def zone_map(
    plan: Plan,
    inputs: Inputs | pd.DataFrame | None = None,
    ax: Axes | None = None,
    *,
    shortage: Literal["after", "before"] = "after",
    moves: bool = True,
    labels: bool | None = None,
    vmax: float | None = None,
    outlines: Mapping[str, Any] | None = None,
) -> Axes:
    """Zones at their centroids, sized by demand and coloured by shortage, with moves.

    ``inputs`` gives the zone coordinates (`Inputs` or a zones DataFrame with zone_id,
    lat, lon); without it, the coordinates the plan keeps (`Plan.zone_coordinates`: a
    plan read back with `read_plan` needs no data folder). Colour is the shortage ``after`` (default) or ``before`` the plan, on a
    scale up to the largest shortage before the plan (or ``vmax``), so a before map and
    an after map side by side read alike. Each arrow is one route; its width grows with
    the couriers on it. ``outlines`` (`rebalance.outlines.read_outlines`) draws each
    zone's polygon, tinted by the same shortage scale. ``labels``: True for every zone,
    False for none; by default every zone up to 20 zones, else the zones that matter
    (short ones, and both ends of the largest moves).
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.ticker import MaxNLocator

    if shortage not in ("after", "before"):
        raise ValueError(f"shortage must be 'after' or 'before', got {shortage!r}")
    zones = _feasible_zones(plan, "zone_map(plan, inputs)")
    if inputs is None:
        inputs = plan.zone_coordinates()
        if inputs is None:
            raise ValueError(
                "this plan carries no zone coordinates (written before explanations were "
                "stored): pass inputs=rebalance.load(DATA_DIR)"
            )
    if not isinstance(inputs, pd.DataFrame) and type(inputs).__name__ != "Inputs":
        # the config in its place met "'Config' object has no attribute 'zones'" from
        # inside pydantic
        raise TypeError(
            "zone_map(plan, inputs): inputs gives the zone coordinates: the Inputs of "
            f"rebalance.load(DATA_DIR), or a zones DataFrame; got {type(inputs).__name__}"
        )
    coords = inputs if isinstance(inputs, pd.DataFrame) else inputs.zones
    missing = {"zone_id", "lat", "lon"} - set(coords.columns)
    if missing:
        raise ValueError(f"zone coordinates lack columns {sorted(missing)}")
    frame = zones.merge(
        coords[["zone_id", "lat", "lon"]].astype({"zone_id": str}), on="zone_id", how="left"
    )
    if frame["lat"].isna().any():
        lost = frame.loc[frame["lat"].isna(), "zone_id"].tolist()
        raise ValueError(f"no coordinates for zones {lost[:5]}; pass the plan's own inputs")
    ax = _new_axes(ax, (9.0, 7.5))

    short = (
        frame["shortage"]
        if shortage == "after"
        else (frame["required_couriers"] - frame["couriers_before"]).clip(lower=0)
    ).to_numpy(dtype=float)
    worst = np.maximum(
        short, (frame["required_couriers"] - frame["couriers_before"]).clip(lower=0).to_numpy()
    )
    demand = frame["demand_orders_per_hour"].to_numpy(dtype=float)
    dmax = max(float(demand.max()) if len(demand) else 0.0, 1e-9)
    base, span = 40.0, 900.0
    sizes = base + span * demand / dmax
    points = ax.scatter(
        frame["lon"],
        frame["lat"],
        s=sizes,
        c=short,
        cmap=shortage_cmap(),
        vmin=0,
        vmax=vmax if vmax is not None else max(1.0, float(worst.max()) if len(worst) else 1.0),
        edgecolors=INK,
        linewidths=0.6,
        zorder=3,
    )
    if outlines:
        _draw_outlines(ax, frame, short, points, outlines)
    colorbar = ax.figure.colorbar(points, ax=ax, shrink=0.75, pad=0.02)
    colorbar.set_label(f"Couriers short {shortage} plan")
    colorbar.locator = MaxNLocator(integer=True)
    colorbar.update_ticks()

    lat0 = float(frame["lat"].mean())
    ax.set_aspect(1.0 / max(math.cos(math.radians(lat0)), 0.01))
    ax.margins(0.08)

    position = {
        z: (lon, lat, math.sqrt(s) / 2)
        for z, lon, lat, s in zip(frame["zone_id"], frame["lon"], frame["lat"], sizes, strict=True)
    }
    routes = pd.DataFrame(columns=["from_zone", "to_zone", "couriers"])
    if moves and len(plan.moves):
        routes = (
            plan.moves.groupby(["from_zone", "to_zone"], sort=True)
            .size()
            .rename("couriers")
            .reset_index()
            .sort_values("couriers", kind="stable")  # thick arrows on top
        )
    most = int(routes["couriers"].max()) if len(routes) else 1
    for src, dst, count in zip(
        routes["from_zone"].astype(str),
        routes["to_zone"].astype(str),
        routes["couriers"],
        strict=True,
    ):
        x0, y0, r0 = position[src]
        x1, y1, r1 = position[dst]
        width = _arrow_width(int(count), most)
        arrow = FancyArrowPatch(
            (x0, y0),
            (x1, y1),
            arrowstyle="-|>",
            mutation_scale=6 + 1.5 * width,
            linewidth=width,
            color=INK,
            alpha=0.65,
            connectionstyle="arc3,rad=0.12",
            shrinkA=r0,
            shrinkB=r1 + 1,
            zorder=4,
        )
        arrow.set_gid(f"move {src}->{dst}: {count}")
        ax.add_patch(arrow)

    if labels is None:
        labelled = _zones_that_matter(frame, routes) if len(frame) > 20 else None
    else:
        labelled = None if labels else set()
    if labelled is None or labelled:
        halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
        for z, name in zip(frame["zone_id"].astype(str), frame["name"].astype(str), strict=True):
            if labelled is not None and z not in labelled:
                continue
            x0, y0, r0 = position[z]
            ax.annotate(
                _short_label(z, name),
                (x0, y0),
                xytext=(0, -r0 - 2),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
                zorder=5,
                path_effects=halo,
            )

    size_handles = [
        Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            markersize=math.sqrt(base + span * v / dmax),
            markerfacecolor="none",
            markeredgecolor=INK,
            label=f"{v:g}",
        )
        for v in _nice_steps(dmax)
    ]
    demand_legend = ax.legend(
        handles=size_handles,
        title="Demand (orders/h)",
        handleheight=3.0,
        handlelength=3.4,
        handletextpad=0.6,
        columnspacing=1.8,
        loc="upper left",
        bbox_to_anchor=(0.0, -0.09),
        ncols=len(size_handles),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
        borderaxespad=0.0,
    )
    if len(routes):
        ax.add_artist(demand_legend)
        width_handles = [
            Line2D([], [], color=INK, alpha=0.65, linewidth=_arrow_width(v, most), label=f"{v}")
            for v in sorted({1, max(1, most // 2), most})
        ]
        ax.legend(
            handles=width_handles,
            title="Couriers per move",
            loc="upper right",
            bbox_to_anchor=(1.0, -0.09),
            ncols=len(width_handles),
            frameon=False,
            fontsize=8,
            title_fontsize=8,
            borderaxespad=0.0,
        )
    ax.set_xlabel("Longitude (°)")
    ax.set_ylabel("Latitude (°)")
    moved = int(routes["couriers"].sum()) if len(routes) else 0
    ax.set_title(
        f"{_plain(plan_subject(plan))}: demand and shortage {shortage} plan"
        + (f"\n{moved} couriers moved on {len(routes)} routes" if moves else ""),
        loc="left",
    )
    ax.grid(alpha=0.2)
    return ax


#: With many zones, labels go to the short zones and the ends of this many largest routes.
LABELLED_ROUTES = 6
MAX_LABELS = 16


def _zones_that_matter(frame: pd.DataFrame, routes: pd.DataFrame) -> set[str]:
    """The zones worth a label on a crowded map: short ones (largest shortage first),
    then both ends of the largest routes, at most `MAX_LABELS`."""
    order: list[str] = []
    short = frame[frame["shortage"] > 0].sort_values(
        ["shortage", "zone_id"], ascending=[False, True]
    )
    order += short["zone_id"].astype(str).tolist()
    if len(routes):
        big = routes.sort_values("couriers", ascending=False, kind="stable").head(LABELLED_ROUTES)
        for src, dst in zip(big["from_zone"].astype(str), big["to_zone"].astype(str), strict=True):
            order += [dst, src]
    chosen: list[str] = []
    for zone in order:
        if zone not in chosen:
            chosen.append(zone)
    return set(chosen[:MAX_LABELS])


def _draw_outlines(
    ax: Axes, frame: pd.DataFrame, short: np.ndarray, points: Any, outlines: Mapping[str, Any]
) -> None:
    """Each zone's polygons, tinted by its shortage (the scatter's colour scale)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Polygon

    patches, values = [], []
    for zone, value in zip(frame["zone_id"].astype(str), short, strict=True):
        for polygon in outlines.get(zone, []):
            outer = polygon[0]  # holes are not drawn: tinted areas stay readable
            patches.append(Polygon(outer, closed=True))
            values.append(value)
    if not patches:
        return
    collection = PatchCollection(
        patches, cmap=points.cmap, norm=points.norm, alpha=0.35, edgecolor="#555555", linewidth=0.6
    )
    collection.set_array(np.asarray(values, dtype=float))
    collection.set_zorder(1)
    collection.set_gid("zone outlines")
    ax.add_collection(collection)
    ax.autoscale_view()


def _arrow_width(couriers: int, most: int) -> float:
    return 0.8 + 5.2 * couriers / max(most, 1)


def _nice_steps(top: float) -> list[float]:
    """Two or three round values up to ``top`` for a size legend."""
    if top <= 0:
        return [0.0]
    magnitude = 10 ** math.floor(math.log10(top))
    high = math.floor(top / magnitude) * magnitude
    steps = sorted({high / 4, high / 2, high})
    return [round(s, 6) for s in steps if s > 0]


# ------------------------------------------------------------------ scenarios


def scenario_comparison(
    table: pd.DataFrame | Any,
    metric: str = "coverage",
    ax: Axes | None = None,
    *,
    x: str | None = None,
    baseline: str | None = None,
) -> Axes:
    """Compare scenarios of a `sweep` table on one metric.

    Without ``x``: a horizontal bar per scenario, labelled with its value; the
    ``baseline`` scenario (default: the one named "baseline", if any) is drawn as a
    dashed reference line; for coverage a marker shows coverage before the plan.
    With ``x`` (a column such as ``no_show_rate`` or ``shortage_minutes``): the metric
    as a line against it. Infeasible scenarios are labelled, not dropped.
    """
    frame = table.table if hasattr(table, "table") else table
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("scenario_comparison needs the table that sweep returns")
    for column in ("scenario", metric, *([x] if x else [])):
        if column not in frame.columns:
            raise ValueError(f"the table has no column {column!r}")
    values = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    infeasible = (
        frame["status"].eq("infeasible").to_numpy()
        if "status" in frame.columns
        else values.isna().to_numpy()
    )
    with_before = metric == "coverage" and "coverage_before" in frame.columns
    if x is None:
        return _scenario_bars(frame, metric, values, infeasible, with_before, baseline, ax)
    return _scenario_line(frame, metric, values, infeasible, with_before, x, ax)


def _format(value: float, share: bool) -> str:
    if share:
        return percent(value)
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.2f}"


def _scenario_bars(
    frame: pd.DataFrame,
    metric: str,
    values: pd.Series,
    infeasible: np.ndarray,
    with_before: bool,
    baseline: str | None,
    ax: Axes | None,
) -> Axes:
    n = len(frame)
    ax = _new_axes(ax, (8.0, max(2.5, 0.45 * n + 1.5)))
    names = frame["scenario"].astype(str).tolist()
    y = np.arange(n)[::-1]  # first scenario on top
    share = _is_share(metric)
    drawn = values.fillna(0.0).to_numpy()
    bars = ax.barh(y, drawn, height=0.6, color=AFTER, label=_metric(metric))
    for bar, bad in zip(bars, infeasible, strict=True):
        if bad:
            bar.set_facecolor("none")
            bar.set_edgecolor(SHORT)
            bar.set_hatch("//")
    text = [
        "infeasible" if bad else _format(v, share)
        for v, bad in zip(values.to_numpy(), infeasible, strict=True)
    ]
    ax.bar_label(bars, labels=text, padding=3, fontsize=8)
    if with_before:
        before = pd.to_numeric(frame["coverage_before"], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(before)
        ax.scatter(
            before[ok],
            y[ok],
            marker="D",
            s=30,
            color=NEED,
            edgecolors=INK,
            linewidths=0.5,
            zorder=3,
            label="Before plan",
        )
    if baseline is None and "baseline" in names:
        baseline = "baseline"
    if baseline is not None:
        if baseline not in names:
            raise ValueError(f"no scenario named {baseline!r} in the table")
        ref = float(values.iloc[names.index(baseline)])
        if not math.isnan(ref):
            ax.axvline(ref, color=INK, linestyle="--", linewidth=1, label=_plain(baseline))
    ax.set_yticks(y, [_plain(name) for name in names])
    ax.set_xlabel(_label(metric))
    if share:
        _percent_axis(ax.xaxis)
        ax.set_xlim(0, max(1.0, float(np.nanmax(drawn)) if n else 1.0) * 1.12)
    else:
        ax.margins(x=0.15)
    ax.set_title(f"Scenarios compared: {_metric(metric).lower()}", loc="left")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=3, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


def _scenario_line(
    frame: pd.DataFrame,
    metric: str,
    values: pd.Series,
    infeasible: np.ndarray,
    with_before: bool,
    x: str,
    ax: Axes | None,
) -> Axes:
    ax = _new_axes(ax, (7.5, 4.5))
    xs = pd.to_numeric(frame[x], errors="coerce").to_numpy(dtype=float)
    order = np.argsort(xs, kind="stable")
    xs, ys, bad = xs[order], values.to_numpy()[order], infeasible[order]
    ys = np.where(bad, np.nan, ys)
    ax.plot(xs, ys, marker="o", color=AFTER, label=_metric(metric))
    if with_before:
        before = pd.to_numeric(frame["coverage_before"], errors="coerce").to_numpy(dtype=float)
        ax.plot(
            xs,
            np.where(bad, np.nan, before[order]),
            marker="s",
            linestyle="--",
            color=BEFORE,
            label="Coverage before plan",
        )
    if bad.any():
        floor = np.nanmin(ys) if np.isfinite(ys).any() else 0.0
        ax.scatter(
            xs[bad],
            np.full(int(bad.sum()), floor),
            marker="x",
            s=60,
            color=SHORT,
            zorder=3,
            label="Infeasible",
        )
    ax.set_xlabel(_label(x))
    ax.set_ylabel("Coverage (% of required couriers)" if with_before else _label(metric))
    if _is_share(x):
        _percent_axis(ax.xaxis)
    if _is_share(metric):
        _percent_axis(ax.yaxis)
    ax.set_title(
        f"{_metric(metric)} against {_metric(x).lower()}",
        loc="left",
    )
    ax.legend(fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    return ax


# -------------------------------------------------------------------- history


def _runs_frame(runs: pd.DataFrame | Iterable[Any]) -> pd.DataFrame:
    """A DataFrame of runs: from a DataFrame, dicts, or records with ``to_dict()``."""
    if isinstance(runs, pd.DataFrame):
        frame = runs.copy()
    else:
        rows: list[dict[str, Any]] = [
            r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in cast(Iterable[Any], runs)
        ]
        frame = pd.DataFrame(rows)
    if "kpis" in frame.columns:  # history records and plan.json keep KPIs nested
        kpis = pd.DataFrame(
            [k if isinstance(k, Mapping) else {} for k in frame["kpis"]], index=frame.index
        )
        for column in ("coverage", "coverage_before"):
            if column in kpis.columns and column not in frame.columns:
                frame[column] = kpis[column]
    return frame


def coverage_history(
    runs: pd.DataFrame | Iterable[Any],
    ax: Axes | None = None,
    *,
    tz: str = "UTC",
) -> Axes:
    """Coverage before and after the plan over past runs, one line each (per city).

    ``runs`` has a ``started_at`` timestamp (or ``shift_start``) and ``coverage`` and/or
    ``coverage_before`` columns; dicts or history records with nested ``kpis`` work too.
    Times are shown in ``tz``. Runs without a coverage (failed) are marked with a cross.
    """
    frame = _runs_frame(runs)
    ax = _new_axes(ax, (9.0, 4.5))
    ax.set_ylabel("Coverage (% of required couriers)")
    _percent_axis(ax.yaxis)
    ax.set_title(f"Coverage over past runs ({len(frame)} runs)", loc="left")
    if frame.empty:
        ax.text(0.5, 0.5, "No runs yet", transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel(f"Run started ({tz})")
        return ax
    time_col = next((c for c in ("started_at", "shift_start") if c in frame.columns), None)
    if time_col is None:
        raise ValueError("runs need a started_at (or shift_start) column")
    series = [c for c in ("coverage_before", "coverage") if c in frame.columns]
    if not series:
        raise ValueError("runs need a coverage and/or coverage_before column")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    stamps = frame[time_col]
    if not pd.api.types.is_datetime64_any_dtype(stamps):
        stamps = pd.to_datetime(stamps.astype(str), utc=True, format="ISO8601")
    elif stamps.dt.tz is None:
        stamps = stamps.dt.tz_localize("UTC")
    frame = frame.assign(_t=stamps.dt.tz_convert(tz).dt.tz_localize(None)).sort_values("_t")
    groups: list[tuple[str, pd.DataFrame]] = (
        [(str(c), g) for c, g in frame.groupby("city", sort=True)]
        if "city" in frame.columns and frame["city"].nunique() > 1
        else [("", frame)]
    )
    for i, (city, group) in enumerate(groups):
        colour = CYCLE[i % len(CYCLE)]
        prefix = f"{_plain(city)}: " if city else ""
        t = group["_t"].to_numpy()
        if "coverage_before" in series:
            ax.plot(
                t,
                pd.to_numeric(group["coverage_before"], errors="coerce").to_numpy(dtype=float),
                linestyle="--",
                marker="s",
                markersize=4,
                color=colour if city else BEFORE,
                alpha=0.8,
                label=f"{prefix}before plan",
            )
        if "coverage" in series:
            after = pd.to_numeric(group["coverage"], errors="coerce").to_numpy(dtype=float)
            ax.plot(
                t,
                after,
                linestyle="-",
                marker="o",
                markersize=5,
                color=colour if city else AFTER,
                label=f"{prefix}after plan",
            )
    missing = pd.to_numeric(frame[series[-1]], errors="coerce").isna().to_numpy()
    if missing.any():
        ax.scatter(
            frame["_t"].to_numpy()[missing],
            np.zeros(int(missing.sum())),
            marker="x",
            s=50,
            color=SHORT,
            zorder=3,
            label="no plan (failed run)",
            clip_on=False,
        )
    ax.axhline(1.0, color=INK, linewidth=0.8, linestyle=":")
    ax.set_ylim(0, 1.05)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel(f"Run started ({tz})" if time_col == "started_at" else f"Shift start ({tz})")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    return ax


# ----------------------------------------------------------------- replay: served share


def served_share(replay: Replay, ax: Axes | None = None, *, orders: bool = True) -> Axes:
    """Share of the orders served per slot, one line per policy of a `replay` result.

    ``no plan`` is drawn dashed in grey; each plan in the palette's order. The legend
    gives each policy's share over the shift. With ``orders``, the orders placed per
    slot are shown as faint bars on a second axis, so a dip can be read against the rush.
    """
    from rebalance.replaying import Replay

    if not isinstance(replay, Replay):
        raise TypeError(
            "served_share(replay) needs what rebalance.replay(inputs, orders, config, "
            f"shift_start, plans=...) returns, got {type(replay).__name__}"
        )
    ax = _new_axes(ax, (9.0, 4.5))
    slots = replay.slots
    names = list(replay.policies["name"])
    totals = replay.policies.set_index("name")["share"]
    labels = slot_labels(replay.grid.local_starts())
    x = np.arange(len(labels))
    if orders:
        twin = ax.twinx()
        first = slots[slots["policy"] == names[0]]
        twin.bar(x, first["orders"].to_numpy(), color=OKABE_ITO["sky_blue"], alpha=0.25, width=0.8)
        twin.set_ylabel("Orders placed in the slot")
        twin.set_ylim(0, max(1.0, float(first["orders"].max())) * 2.2)
        ax.set_zorder(twin.get_zorder() + 1)
        ax.patch.set_visible(False)
    plan_colours = iter(CYCLE)
    for name in names:
        share = slots[slots["policy"] == name]["share"].to_numpy(dtype=float)
        plain = name == "no plan"
        ax.plot(
            x,
            share,
            marker="o",
            markersize=4,
            linestyle="--" if plain else "-",
            color="#7f7f7f" if plain else next(plan_colours),
            label=f"{_plain(name)}: {totals[name]:.1%} over the shift",
        )
    ax.set_xticks(x, labels)
    ax.set_xlabel(f"Slot start ({replay.grid.timezone})")
    ax.set_ylabel("Orders served (% of orders placed)")
    _percent_axis(ax.yaxis)
    low = float(slots["share"].min()) if len(slots) else 0.0
    ax.set_ylim(max(0.0, min(low, 1.0) - 0.05), 1.02)
    ax.set_title("Orders served per slot, replayed against the orders that came", loc="left")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    return ax


def marginal_map(
    plan: Plan,
    where: Axes | Inputs | pd.DataFrame | None = None,
    /,
    ax: Axes | None = None,
    *,
    inputs: Inputs | pd.DataFrame | None = None,
    labels: bool | None = None,
) -> Axes:
    """Zones at their centroids coloured by ``marginal_minutes``: where one more courier
    would save the most (dark blue) and where it would only add cost (vermillion); zones
    whose cap leaves no room are grey crosses. Short zones are ringed in black.

    Coordinates come from the plan itself (stored at solve time), else from ``inputs``
    (`Inputs` or a zones DataFrame with zone_id, lat, lon). Labels are drawn when there
    are at most 40 zones unless ``labels`` says otherwise. ``marginal_map(plan, inputs)``
    works too, as `zone_map` takes them.
    """
    from matplotlib import patheffects
    from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm

    # The second argument is the Axes or the inputs: marginal_map(plan, inputs, ax=ax),
    # written as zone_map(plan, inputs, ax=ax) is (this docstring's own example), met
    # "got multiple values for argument 'ax'".
    if isinstance(where, pd.DataFrame) or type(where).__name__ == "Inputs":
        if inputs is not None:
            raise TypeError("marginal_map(plan, ax, *, inputs): inputs given twice")
        inputs = where  # type: ignore[assignment]
    elif where is not None:
        if ax is not None:
            raise TypeError("marginal_map(plan, ax, *, inputs): ax given twice")
        ax = where  # type: ignore[assignment]
    if ax is not None and not hasattr(ax, "scatter"):
        raise TypeError(
            f"marginal_map(plan, ax, *, inputs): ax must be a matplotlib Axes, got {type(ax).__name__}"
        )

    zones = _feasible_zones(plan, "marginal_map(plan)").copy()
    if inputs is not None:
        coords = inputs if isinstance(inputs, pd.DataFrame) else inputs.zones
        frame = zones.merge(
            coords[["zone_id", "lat", "lon"]].astype({"zone_id": str}), on="zone_id", how="left"
        )
    elif (kept := plan.zone_coordinates()) is not None:
        frame = zones.assign(lat=kept["lat"].to_numpy(), lon=kept["lon"].to_numpy())
    else:
        raise ValueError(
            "this plan carries no zone coordinates (written before explanations were "
            "stored): pass inputs=rebalance.load(DATA_DIR)"
        )
    if frame["lat"].isna().any():
        lost = frame.loc[frame["lat"].isna(), "zone_id"].tolist()
        raise ValueError(f"no coordinates for zones {lost[:5]}; pass the plan's own inputs")
    ax = _new_axes(ax, (9.0, 7.5))
    value = pd.to_numeric(frame["marginal_minutes"], errors="coerce").to_numpy(float)
    known = np.isfinite(value)
    top = float(np.abs(value[known]).max()) if known.any() else 1.0
    top = max(top, 1e-9)
    low = float(value[known].min()) if known.any() else -1.0
    cmap = LinearSegmentedColormap.from_list(
        "rebalance_marginal", [SHORT, "#F7F7F7", OKABE_ITO["sky_blue"], OKABE_ITO["blue"]]
    )
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(low, -top / 10), vmax=top)
    short_known = frame.loc[known, "shortage"].to_numpy().tolist()
    points = ax.scatter(
        frame.loc[known, "lon"],
        frame.loc[known, "lat"],
        c=value[known],
        cmap=cmap,
        norm=norm,
        s=160,
        edgecolors=[INK if s > 0 else "#999999" for s in short_known],
        linewidths=[2.0 if s > 0 else 0.5 for s in short_known],
        zorder=2,
    )
    if (~known).any():
        ax.scatter(
            frame.loc[~known, "lon"],
            frame.loc[~known, "lat"],
            marker="x",
            color="#777777",
            s=60,
            zorder=2,
            label="cap full: no room for one more",
        )
        ax.legend(loc="lower left", fontsize=8, frameon=False)
    bar = ax.figure.colorbar(points, ax=ax, shrink=0.8)
    bar.set_label("One more courier saves (minutes)")
    if labels if labels is not None else len(frame) <= 40:
        for row in frame.itertuples(index=False):
            ax.annotate(
                _short_label(str(row.zone_id), str(row.name)),
                (row.lon, row.lat),
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                path_effects=[patheffects.withStroke(linewidth=2, foreground="white")],
            )
    ax.set_title(f"Where one more courier helps most · {_plain(plan.city)} · {shift_window(plan)}")
    ax.set_xlabel("Longitude")
    ax.set_ylabel("Latitude")
    ax.set_aspect(1 / max(math.cos(math.radians(float(frame["lat"].mean()))), 1e-6))
    return ax
