"""How a plan looks in a terminal (rich renderables) and as plain text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from rebalance.plan import Plan

__all__ = ["attention_zones", "plan_renderables", "summary_text"]

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


def plan_renderables(plan: Plan, width: int = 100, out: str | Path | None = None) -> Any:
    """Rich renderables: KPIs, then zones needing attention, then moves.

    ``out``: the folder the plan was written to, named where a table is cut; without
    it the cut says how to get every row (a plan in memory has no moves.csv yet)."""
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
            + (f" in {_plural(k['zones_short'], 'zone')}" if k["shortage"] else ""),
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
        expand=False,
        title_align="left",
    )

    zones = attention_zones(plan.zones)
    if zones.empty:
        yield Text("Every zone is covered where it stands: no moves needed.", style="green")
    else:
        yield Text(f"Zones needing attention ({len(zones)} of {len(plan.zones)})", style="bold")
        table = Table(box=box.SIMPLE_HEAD)
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
            table.caption = f"... {len(zones) - MAX_ZONES_SHOWN} more zones " + _where(
                out, "zones.csv"
            )
        yield table
        short = zones[zones["action"] == "short"]
        if len(short):
            yield Text("Actions needed: pause these restaurants (fewest orders lost)", style="bold")
            actions = Table(box=box.SIMPLE_HEAD)
            actions.add_column("Zone", no_wrap=True, max_width=26, overflow="ellipsis")
            actions.add_column("Short", justify="right", no_wrap=True)
            actions.add_column("Pause", ratio=1)
            actions.add_column("Orders/h", justify="right", no_wrap=True)
            for row in short.head(MAX_ZONES_SHOWN).itertuples(index=False):
                paused = [p for p in str(row.pause_restaurants).split(";") if p]
                labels = str(getattr(row, "pause_restaurant_names", "") or "").split(";")
                if len(labels) == len(paused):
                    paused = [f"{rid} {nm}".strip() for rid, nm in zip(paused, labels, strict=True)]
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
        flows = plan.routes()
        yield Text(f"Moves ({len(moves)} couriers on {len(flows)} routes)", style="bold")
        table = Table(box=box.SIMPLE_HEAD)
        names = dict(
            zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
        )
        zone_width = 24 if width >= 96 else 17
        table.add_column("From", no_wrap=True, max_width=zone_width, overflow="ellipsis")
        table.add_column("To", no_wrap=True, max_width=zone_width, overflow="ellipsis")
        table.add_column("Couriers", justify="right", no_wrap=True, min_width=8)
        table.add_column("Longest", justify="right", no_wrap=True, min_width=8)
        table.add_column("Vehicles", no_wrap=True, overflow="ellipsis", max_width=26)
        for row in flows.head(MAX_MOVES_SHOWN).itertuples(index=False):
            table.add_row(
                f"{row.from_zone} {names.get(str(row.from_zone), '')}".strip(),
                f"{row.to_zone} {names.get(str(row.to_zone), '')}".strip(),
                str(row.couriers),
                f"{row.minutes:.1f} min",
                str(row.vehicles),
            )
        if len(flows) > MAX_MOVES_SHOWN:
            table.caption = f"... {len(flows) - MAX_MOVES_SHOWN} more routes; every courier " + (
                _where(out, "moves.csv")
            )
        yield table


def _where(out: str | Path | None, name: str) -> str:
    """Where the whole table is: the written file, or how to get it."""
    if out is None:
        return "with --out or --format json"
    return f"in {Path(out) / name}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _blank0(x: Any) -> str:
    return "" if int(x) == 0 else str(int(x))
