"""How a plan looks in a terminal (rich renderables) and as plain text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rebalance.escape import terminal, visible, visible_frame

from .wording import (
    attention_zones,
    coverage_change,
    minutes,
    plural,
    shift_window,
    zone_label,
)

if TYPE_CHECKING:
    from rebalance.plan import Plan

__all__ = ["plan_renderables", "summary_text"]

#: Moves listed in the terminal before "... N more (see moves.csv)".
MAX_MOVES_SHOWN = 15
MAX_ZONES_SHOWN = 30
_ACTION_STYLE = {"short": "bold red", "receive": "green", "send": "yellow", "ok": "dim"}


def summary_text(plan: Plan) -> str:
    """Plain-text headline: city, shift, status, and the KPIs."""
    if not plan.feasible:
        return visible(f"{plan.city} {shift_window(plan)}: no feasible plan: {plan.message}")
    k = plan.kpis
    return visible(
        "\n".join(
            [
                f"{plan.city} · {shift_window(plan)} · {plan.status} in {plan.solve_seconds:.2f} s",
                f"coverage {coverage_change(k)}; "
                f"{k['moved_couriers']} of {k['eligible_couriers']} couriers moved; "
                f"travel {minutes(k['travel_minutes'])}; shortage {k['shortage_before']} -> "
                f"{k['shortage']} couriers in {k['zones_short']} zone(s)",
            ]
        )
    )


def plan_renderables(plan: Plan, width: int = 100) -> Any:
    """Rich renderables: KPIs, then zones needing attention, then moves."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    plan = _visible(plan)
    if not plan.feasible:
        yield Panel(
            Text(visible(plan.message), style="bold red"),
            title=f"{terminal(plan.city)} · {shift_window(plan)} · no feasible plan",
            width=min(width, 100),
        )
        return
    k = plan.kpis
    pairs = [
        ("Coverage", coverage_change(k, arrow="→", after="[bold]{}[/]")),
        ("Couriers moved", f"{k['moved_couriers']} of {k['eligible_couriers']} eligible"),
        (
            "Shortage left",
            f"{k['shortage_before']} → [bold]{k['shortage']}[/] couriers"
            + (f" in {plural(k['zones_short'], 'zone')}" if k["shortage"] else ""),
        ),
        ("Total travel", minutes(k["travel_minutes"])),
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
        title=f"[bold]{terminal(plan.city)}[/] · {shift_window(plan)}",
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
                Text(zone_label(row.zone_id, row.name)),
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
                    Text(zone_label(row.zone_id, row.name)),
                    str(row.shortage),
                    Text(shown or "(no restaurant to pause)"),
                    f"{getattr(row, 'paused_orders_per_hour', 0.0):.1f}",
                )
            yield actions

    several = plan.slot_count > 1
    moves = plan.moves_at(0) if several else plan.moves
    if len(moves):
        flows = plan.routes(0 if several else None)
        when = f"Move now, {plan.local(plan.shift_start):%H:%M}" if several else "Moves"
        yield Text(f"{when} ({len(moves)} couriers on {len(flows)} routes)", style="bold")
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
                Text(zone_label(row.from_zone, names.get(str(row.from_zone), ""))),
                Text(zone_label(row.to_zone, names.get(str(row.to_zone), ""))),
                str(row.couriers),
                f"{row.minutes:.1f} min",
                str(row.vehicles),
            )
        if len(flows) > MAX_MOVES_SHOWN:
            table.caption = (
                f"... {len(flows) - MAX_MOVES_SHOWN} more routes; every courier in moves.csv"
            )
        yield table
    if several:
        yield from slot_renderables(plan, width)


def slot_renderables(plan: Plan, width: int = 100) -> Any:
    """The shift slot by slot: a table of what happens when, then a heat strip of the
    zones that are short in some slot (one character per slot)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from .timeline import slot_summary, strip, zones_short_any_slot

    summary = slot_summary(plan)
    yield Text(f"The shift in {plan.slot_count} slots of {plan.slot_minutes} min", style="bold")
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("Slot", no_wrap=True)
    for label in ("Moves", "On", "Off", "Need", "Present"):
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("Short before → after", justify="right", no_wrap=True)
    for row in summary.itertuples(index=False):
        table.add_row(
            row.label,
            _blank0(row.moves),
            _blank0(row.logged_on),
            _blank0(row.logged_off),
            str(row.required),
            str(row.present),
            Text(
                f"{row.short_before} → {row.short}",
                style="red" if row.short else "green",
            ),
        )
    yield table
    rows = zones_short_any_slot(plan)
    if rows.empty:
        yield Text("No zone is short in any slot.", style="green")
        return
    shown = rows.head(MAX_ZONES_SHOWN)
    names = dict(
        zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
    )
    yield Text(f"Zones short in some slot ({len(rows)} of {len(plan.zones)})", style="bold")
    yield Text(
        f"one character per slot from {summary['label'].iloc[0]}: "
        ". none, 1, 2, 4 = 3-4, 9 = 5-9, # = 10+ short",
        style="dim",
    )
    heat = Table(box=box.SIMPLE_HEAD, show_header=False)
    heat.add_column("Zone", no_wrap=True, max_width=30, overflow="ellipsis")
    heat.add_column("Slots", no_wrap=True)
    heat.add_column("Short", justify="right", no_wrap=True)
    for zone_id, values in shown.iterrows():
        line = strip(values.to_numpy())
        heat.add_row(
            Text(f"{zone_id} {names.get(str(zone_id), '')}".strip()),
            Text(line, style="red"),
            f"{int(values.sum())} courier-slots",
        )
    if len(rows) > len(shown):
        heat.caption = f"... {len(rows) - len(shown)} more zones in slots.csv"
    yield heat


def _visible(plan: Plan) -> Plan:
    """The plan with control characters and bidi overrides written out in every partner
    string (`rebalance.escape.visible`): names reach the terminal as ``Text`` (no markup)
    or through rich's ``escape``, and no escape sequence may drive the terminal."""
    from dataclasses import replace

    return replace(
        plan,
        city=visible(plan.city, one_line=True),
        zones=visible_frame(plan.zones),
        moves=visible_frame(plan.moves),
        slots=visible_frame(plan.slots),
    )


def _blank0(x: Any) -> str:
    return "" if int(x) == 0 else str(int(x))
