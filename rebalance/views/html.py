"""How a plan looks in a notebook cell: HTML (`Plan._repr_html_`)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

from .wording import (
    all_covered,
    attention_zones,
    coverage_change,
    kpi_labels,
    minutes,
    plural,
    shift_window,
    zone_label,
)

if TYPE_CHECKING:
    from rebalance.plan import Plan

__all__ = ["MAX_TABLE_ROWS", "ROOT", "explanation_html", "plan_html"]

#: The root of every cell: Jupyter typesets ``$...$`` in HTML output as math (MathJax 2
#: skips ``tex2jax_ignore``, MathJax 3 ``mathjax_ignore``), and "Menu $5 - Burger $10"
#: must read as written, as the plots draw it.
ROOT = "<div class='tex2jax_ignore mathjax_ignore'>"

#: Rows of a folded table (every zone, the routes) a notebook cell shows; the rest are
#: in ``plan.zones`` and ``plan.routes()``. At 10,000 zones every row made a 4.5 MB cell
#: that took 1.5 s to render each time the plan was shown, and was saved in the notebook.
MAX_TABLE_ROWS = 500


def plan_html(plan: Plan) -> str:
    """HTML for a notebook cell: KPIs, the zones needing attention, then (folded) every
    zone and the moves by route. Colours are Okabe-Ito, safe for colour-blind readers."""
    esc = html.escape
    colour = {"optimal": "#009E73", "feasible": "#E69F00", "infeasible": "#D55E00"}
    badge = (
        f"<span style='background:{colour.get(plan.status, '#999')};color:white;"
        f"border-radius:3px;padding:0 5px;font-size:80%'>{esc(plan.status)}</span>"
    )
    head = (
        f"<h4 style='margin:0 0 4px 0'>{esc(plan.city)} · {esc(shift_window(plan))} · {badge}</h4>"
    )
    if not plan.feasible:
        zones_note = (
            f"<p>Zones involved: {esc(', '.join(plan.infeasible_zones))}</p>"
            if plan.infeasible_zones
            else ""
        )
        return (
            f"{ROOT}{head}<p style='color:#D55E00'><b>No feasible plan.</b> "
            f"{esc(plan.message)}</p>{zones_note}</div>"
        )
    k = plan.kpis
    n_short = k.get("zones_short", 0)
    short_zones = f" in {plural(n_short, 'zone')}" if k.get("shortage") else ""
    coverage, shortage, required = kpi_labels(plan)
    cells = [
        (coverage, coverage_change(k, arrow="→", after="<b>{}</b>")),
        ("Couriers moved", f"<b>{k['moved_couriers']}</b> of {k['eligible_couriers']} eligible"),
        (shortage, f"{k['shortage_before']} → <b>{k['shortage']}</b>{short_zones}"),
        ("Total travel", esc(minutes(k["travel_minutes"]))),
        (
            required,
            f"{plural(k['required_couriers'], 'courier')} in {plural(k['zones'], 'zone')}",
        ),
        ("Objective", f"{plan.objective:,.1f} ({plan.solve_seconds:.2f} s)"),
    ]
    if k.get("paused_orders_per_hour"):
        cells.append(("Orders paused", f"{k['paused_orders_per_hour']:,.1f} /h"))
    kpis = "".join(
        f"<td style='padding:2px 14px 2px 0;vertical-align:top'>"
        f"<div style='font-size:85%;opacity:0.7'>{esc(a)}</div><div>{b}</div></td>"
        for a, b in cells
    )
    action_colour = {"short": "#D55E00", "receive": "#0072B2", "send": "#E69F00"}

    def table(frame: pd.DataFrame) -> str:
        shown = frame.copy()
        if "action" in shown.columns:
            shown["action"] = [
                f"<b style='color:{action_colour[a]}'>{esc(a)}</b>"
                if a in action_colour
                else esc(str(a))
                for a in shown["action"].astype(str)
            ]
        if "pause_restaurants" in shown.columns:  # "; " lets a long list wrap
            shown["pause_restaurants"] = (
                shown["pause_restaurants"].astype(str).str.replace(";", "; ")
            )
        for column in shown.columns:
            if column != "action" and not pd.api.types.is_numeric_dtype(shown[column]):
                shown[column] = [esc(str(v)) for v in shown[column]]
        return shown.to_html(index=False, border=0, escape=False)

    cols = [
        "zone_id",
        "name",
        "action",
        "required_couriers",
        "couriers_before",
        "couriers_after",
        "moved_in",
        "moved_out",
        "shortage",
        "pause_restaurants",
    ]
    zones = attention_zones(plan.zones)
    attention = (
        f"<p style='margin:8px 0 2px 0'><b>Zones needing attention</b> "
        f"({len(zones)} of {len(plan.zones)})</p>" + table(zones[cols].head(50))
        if len(zones)
        else f"<p>{' '.join(all_covered(plan))}</p>"
    )
    more = f"<p>... {len(zones) - 50} more zones below</p>" if len(zones) > 50 else ""
    every = [
        "zone_id",
        "name",
        "action",
        "open_restaurants",
        "demand_orders_per_hour",
        "required_couriers",
        "couriers_before",
        "couriers_after",
        "moved_in",
        "moved_out",
        "shortage",
        "surplus",
        "paused_orders_per_hour",
    ]

    def first_rows(frame: pd.DataFrame, what: str, where: str) -> str:
        """`table` of the first `MAX_TABLE_ROWS` rows, saying where the rest are."""
        rest = len(frame) - MAX_TABLE_ROWS
        more = f"<p>... {rest:,} more {what} in <code>{where}</code></p>" if rest > 0 else ""
        return table(frame.head(MAX_TABLE_ROWS)) + more

    every_zone = (
        f"<details><summary>All {len(plan.zones)} zones</summary>"
        + first_rows(
            plan.zones[[c for c in every if c in plan.zones.columns]], "zones", "plan.zones"
        )
        + "</details>"
    )
    moves = plan.moves
    routes = ""
    if len(moves):
        flows = plan.routes().rename(columns={"minutes": "longest_minutes"})
        movers = int(moves["courier_id"].nunique())
        couriers = plural(movers, "courier")
        # over a shift of slots a courier may move more than once
        count = couriers if len(moves) == movers else f"{plural(len(moves), 'move')} of {couriers}"
        routes = (
            f"<details><summary>Moves: {count} on {plural(len(flows), 'route')} "
            f"(every courier in <code>plan.moves</code>)</summary>"
            + first_rows(flows, "routes", "plan.routes()")
            + "</details>"
        )
    timeline = _timeline_html(plan) if plan.slot_count > 1 else ""
    why = ""
    if plan.explanation:
        why = (
            "<details><summary>Why this plan? (short zones, what each move saves, where one "
            f"more courier helps most)</summary>{explanation_html(plan.explain())}</details>"
        )
    return (
        f"{ROOT}{head}<table><tr>{kpis}</tr></table>{attention}{more}{timeline}"
        f"{every_zone}{routes}{why}</div>"
    )


def explanation_html(expl: Any) -> str:
    """HTML of an `rebalance.explain.Explanation` (every partner text escaped)."""
    esc = html.escape

    def rows(frame: pd.DataFrame, cols: list[str], limit: int = 50) -> str:
        head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in cols)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{esc(_cell(v))}</td>"
                for v in (getattr(r, c) for c in cols)
            )
            + "</tr>"
            for r in frame.head(limit).itertuples(index=False)
        )
        more = f"<p>... {len(frame) - limit} more</p>" if len(frame) > limit else ""
        return f"<table><tr>{head}</tr>{body}</table>{more}"

    parts = [f"<p><b>Why this plan?</b> {esc(expl.city)} · {esc(expl.shift)}</p>"]
    if len(expl.short):
        verb = "stays" if len(expl.short) == 1 else "stay"
        parts.append(f"<p><b>Why {plural(len(expl.short), 'zone')} {verb} short</b></p>")
        parts.append(rows(expl.short, ["zone_id", "name", "shortage", "why"]))
    elif expl.zone is not None:  # one zone asked for: other zones may well be short
        parts.append(f"<p>{esc(zone_label(expl.zone, expl.zone_name()))} is not short now.</p>")
    else:
        parts.append("<p>No zone stays short.</p>")
    if len(expl.routes):
        parts.append("<p><b>What each move saves (now)</b></p>")
        parts.append(
            rows(
                expl.routes,
                [
                    "from_zone",
                    "to_zone",
                    "couriers",
                    "shortage_removed_minutes",
                    "move_minutes",
                    "saves_minutes",
                ],
            )
        )
    parts.append("<p><b>Where one extra courier helps most</b></p>")
    ranking_cols = ["zone_id", "name", "action", "marginal_minutes"]
    if "full_slots" in expl.ranking.columns:
        ranking_cols.append("full_slots")
    parts.append(rows(expl.ranking, ranking_cols, 20))
    parts.extend(f"<p style='opacity:0.7'>{esc(n)}</p>" for n in expl.notes)
    return ROOT + "".join(parts) + "</div>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:,.1f}"
    return str(value)


def _timeline_html(plan: Plan) -> str:
    """The shift slot by slot: a summary row per slot, then zones x slots of shortage as
    coloured cells (white = covered, deeper orange = more couriers short). A shift of
    more than `MAX_SLOT_ROWS` slots lists its first ones, and its grid gives a column to
    a few slots each (the most short of them), as the terminal does."""
    from .timeline import MAX_SLOT_ROWS, fold_slots, slot_summary, strip_step, zones_short_any_slot

    esc = html.escape
    summary = slot_summary(plan)
    head = "".join(
        f"<th>{esc(h)}</th>"
        for h in ("slot", "moves", "log on", "log off", "need", "present", "short before", "short")
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{v}</td>"
            for v in (
                esc(r.label),
                r.moves,
                r.logged_on,
                r.logged_off,
                r.required,
                r.present,
                r.short_before,
                f"<b>{r.short}</b>" if r.short else "0",
            )
        )
        + "</tr>"
        for r in summary.head(MAX_SLOT_ROWS).itertuples(index=False)
    )
    if len(summary) > MAX_SLOT_ROWS:
        body += (
            f"<tr><td colspan='8'><i>{len(summary) - MAX_SLOT_ROWS} more slots in slots.csv"
            "</i></td></tr>"
        )
    rows = zones_short_any_slot(plan, limit=40)
    per = strip_step(rows.shape[1], MAX_SLOT_ROWS)
    if per > 1:  # a column per `per` slots, the most short, named by the first
        rows = pd.DataFrame(
            fold_slots(rows.to_numpy(), per), index=rows.index, columns=rows.columns[::per]
        )
    names = dict(
        zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
    )
    grid = ""
    if len(rows):
        top = max(int(rows.to_numpy().max()), 1)
        cells = "".join(
            f"<tr><td style='white-space:nowrap'>{esc(str(z))} {esc(names.get(str(z), ''))}</td>"
            + "".join(
                f"<td title='{int(v)} short' style='text-align:center;background:"
                f"rgba(213,94,0,{0.15 + 0.85 * int(v) / top if v else 0:.2f})'>"
                f"{int(v) if v else ''}</td>"
                for v in values.to_numpy()
            )
            + "</tr>"
            for z, values in rows.iterrows()
        )
        labels = "".join(f"<th>{esc(str(c))}</th>" for c in rows.columns)
        grid = (
            f"<p style='margin:8px 0 2px 0'><b>Zones short in some slot</b> ({len(rows)} shown"
            + (f"; a column per {per} slots, the most short of them" if per > 1 else "")
            + f")</p><table><tr><th>zone</th>{labels}</tr>{cells}</table>"
        )
    return (
        f"<p style='margin:8px 0 2px 0'><b>The shift in {plan.slot_count} slots of "
        f"{plan.slot_minutes} min</b></p><table><tr>{head}</tr>{body}</table>{grid}"
    )
