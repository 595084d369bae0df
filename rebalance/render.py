"""How a plan looks: in a terminal (rich), as plain text, and in a notebook (HTML)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["attention_zones", "plan_html", "plan_renderables", "summary_text"]

#: Moves listed in the terminal before "... N more (see moves.csv)".
MAX_MOVES_SHOWN = 15
MAX_ZONES_SHOWN = 30
_ACTION_RANK = {"short": 0, "receive": 1, "send": 2, "ok": 3}
_ACTION_STYLE = {"short": "bold red", "receive": "green", "send": "yellow", "ok": "dim"}


def attention_zones(zones: pd.DataFrame) -> pd.DataFrame:
    """Zones that change or stay short: short (largest shortage first), then
    receiving (most couriers in first), then sending (most out first)."""
    if zones.empty:
        return zones
    frame = zones[zones["action"] != "ok"].copy()
    frame["_rank"] = frame["action"].map(_ACTION_RANK)
    frame["_size"] = frame["shortage"] * 10_000 + frame["moved_in"] + frame["moved_out"]
    frame = frame.sort_values(["_rank", "_size", "zone_id"], ascending=[True, False, True])
    return frame.drop(columns=["_rank", "_size"]).reset_index(drop=True)


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _minutes(x: float) -> str:
    return f"{x:,.0f} min" if x >= 100 else f"{x:.1f} min"


def _window(plan: Plan) -> str:
    start = plan.local(plan.shift_start)
    end = plan.local(plan.shift_end)
    same_day = start.date() == end.date()
    return (
        f"{start:%a %d %b %Y %H:%M}–{end:%H:%M}"
        + ("" if same_day else " (+1 day)")
        + (f" {start.tzname()}")
    )


def summary_text(plan: Plan) -> str:
    """Plain-text headline: city, shift, status, and the KPIs."""
    if not plan.feasible:
        return f"{plan.city} {_window(plan)}: no feasible plan: {plan.message}"
    k = plan.kpis
    return "\n".join(
        [
            f"{plan.city} · {_window(plan)} · {plan.status} in {plan.solve_seconds:.2f} s",
            f"coverage {_pct(k['coverage_before'])} -> {_pct(k['coverage'])}; "
            f"{k['moved_couriers']} of {k['eligible_couriers']} couriers moved; "
            f"travel {_minutes(k['travel_minutes'])}; shortage {k['shortage_before']} -> "
            f"{k['shortage']} couriers in {k['zones_short']} zone(s)",
        ]
    )


def plan_renderables(plan: Plan, width: int = 100) -> Any:
    """Rich renderables: KPIs, then zones needing attention, then moves."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    if not plan.feasible:
        yield Panel(
            Text(plan.message, style="bold red"),
            title=f"{plan.city} · {_window(plan)} · no feasible plan",
            width=min(width, 100),
        )
        return
    k = plan.kpis
    pairs = [
        ("Coverage", f"{_pct(k['coverage_before'])} → [bold]{_pct(k['coverage'])}[/]"),
        ("Couriers moved", f"{k['moved_couriers']} of {k['eligible_couriers']} eligible"),
        (
            "Shortage left",
            f"{k['shortage_before']} → [bold]{k['shortage']}[/] couriers"
            + (f" ({k['zones_short']} zones)" if k["shortage"] else ""),
        ),
        ("Total travel", _minutes(k["travel_minutes"])),
        ("Required", f"{k['required_couriers']} couriers in {k['zones']} zones"),
        ("Solve", f"{plan.status}, {plan.solve_seconds:.2f} s, objective {plan.objective:,.1f}"),
    ]
    if k.get("paused_orders_per_hour"):
        pairs.append(("Orders paused", f"{k['paused_orders_per_hour']:.1f} /h in short zones"))
    wide = width >= 96
    kpi = Table.grid(padding=(0, 2))
    for _ in range(2 if wide else 1):
        kpi.add_column(style="bold", no_wrap=True)
        kpi.add_column(no_wrap=True)
    step = 2 if wide else 1
    for i in range(0, len(pairs), step):
        row = [cell for pair in pairs[i : i + step] for cell in pair]
        kpi.add_row(*row, *([""] * (2 * step - len(row))))
    yield Panel(
        kpi,
        title=f"[bold]{plan.city}[/] · {_window(plan)}",
        box=box.ROUNDED,
        width=min(width, 100),
        title_align="left",
    )

    zones = attention_zones(plan.zones)
    if zones.empty:
        yield Text("Every zone is covered where it stands: no moves needed.", style="green")
    else:
        table = Table(
            title=f"Zones needing attention ({len(zones)} of {len(plan.zones)})",
            box=box.SIMPLE_HEAD,
            title_justify="left",
            width=min(width, 100),
        )
        table.add_column("Zone", no_wrap=True, max_width=26, overflow="ellipsis")
        table.add_column("Action", no_wrap=True)
        for label in ("Need", "Before", "After", "In", "Out", "Short"):
            table.add_column(label, justify="right", no_wrap=True)
        for row in zones.head(MAX_ZONES_SHOWN).itertuples(index=False):
            table.add_row(
                f"{row.zone_id} {row.name}".strip(),
                Text(str(row.action), style=_ACTION_STYLE.get(str(row.action), "")),
                str(row.required_couriers),
                str(row.couriers_before),
                str(row.couriers_after),
                _blank0(row.moved_in),
                _blank0(row.moved_out),
                Text(_blank0(row.shortage), style="red" if row.shortage else ""),
            )
        if len(zones) > MAX_ZONES_SHOWN:
            table.caption = f"... {len(zones) - MAX_ZONES_SHOWN} more zones in zones.csv"
        yield table
        short = zones[zones["action"] == "short"]
        if len(short):
            actions = Table(
                title="Actions needed: pause these restaurants (fewest orders lost)",
                box=box.SIMPLE_HEAD,
                title_justify="left",
                width=min(width, 100),
            )
            actions.add_column("Zone", no_wrap=True, max_width=26, overflow="ellipsis")
            actions.add_column("Short", justify="right", no_wrap=True)
            actions.add_column("Pause", ratio=1)
            actions.add_column("Orders/h", justify="right", no_wrap=True)
            for row in short.head(MAX_ZONES_SHOWN).itertuples(index=False):
                paused = [p for p in str(row.pause_restaurants).split(";") if p]
                shown = ", ".join(paused[:6]) + (
                    f" +{len(paused) - 6} more" if len(paused) > 6 else ""
                )
                actions.add_row(
                    f"{row.zone_id} {row.name}".strip(),
                    str(row.shortage),
                    shown or "(no restaurant to pause)",
                    f"{getattr(row, 'paused_orders_per_hour', 0.0):.1f}",
                )
            yield actions

    moves = plan.moves
    if len(moves):
        flows = (
            moves.groupby(["from_zone", "to_zone"], sort=False)
            .agg(
                couriers=("courier_id", "size"),
                minutes=("travel_minutes", "max"),
                vehicles=("vehicle", lambda s: ", ".join(sorted(set(s)))),
            )
            .reset_index()
            .sort_values(["couriers", "from_zone", "to_zone"], ascending=[False, True, True])
        )
        table = Table(
            title=f"Moves ({len(moves)} couriers on {len(flows)} routes)",
            box=box.SIMPLE_HEAD,
            title_justify="left",
            width=min(width, 100),
        )
        table.add_column("From", no_wrap=True)
        table.add_column("To", no_wrap=True)
        table.add_column("Couriers", justify="right")
        table.add_column("Longest", justify="right")
        table.add_column("Vehicles")
        for row in flows.head(MAX_MOVES_SHOWN).itertuples(index=False):
            table.add_row(
                str(row.from_zone),
                str(row.to_zone),
                str(row.couriers),
                f"{row.minutes:.1f} min",
                str(row.vehicles),
            )
        if len(flows) > MAX_MOVES_SHOWN:
            table.caption = (
                f"... {len(flows) - MAX_MOVES_SHOWN} more routes; every courier in moves.csv"
            )
        yield table


def _blank0(x: Any) -> str:
    return "" if int(x) == 0 else str(int(x))


def plan_html(plan: Plan) -> str:
    """HTML for a notebook cell: the KPIs and the zones needing attention."""
    esc = html.escape
    head = f"<h4 style='margin:0'>{esc(plan.city)} · {esc(_window(plan))} · {esc(plan.status)}</h4>"
    if not plan.feasible:
        return f"<div>{head}<p style='color:#b00'>{esc(plan.message)}</p></div>"
    k = plan.kpis
    cells = [
        ("Coverage", f"{_pct(k['coverage_before'])} → <b>{_pct(k['coverage'])}</b>"),
        ("Couriers moved", f"{k['moved_couriers']} of {k['eligible_couriers']}"),
        ("Shortage left", f"{k['shortage_before']} → <b>{k['shortage']}</b>"),
        ("Total travel", esc(_minutes(k["travel_minutes"]))),
        ("Objective", f"{plan.objective:,.1f} ({plan.solve_seconds:.2f} s)"),
    ]
    kpis = "".join(
        f"<td style='padding:2px 12px'><div style='font-size:85%;color:#666'>{esc(a)}</div>"
        f"<div>{b}</div></td>"
        for a, b in cells
    )
    zones = attention_zones(plan.zones)
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
    table = (
        zones[cols].head(50).to_html(index=False, border=0, escape=True)
        if len(zones)
        else ("<p>No zone needs attention.</p>")
    )
    more = f"<p>... {len(zones) - 50} more zones</p>" if len(zones) > 50 else ""
    return f"<div>{head}<table><tr>{kpis}</tr></table>{table}{more}</div>"
