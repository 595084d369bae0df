"""How a plan looks in a terminal (rich renderables) and as plain text."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rebalance.escape import terminal, visible, visible_frame
from rebalance.timeparse import clock_text

from .wording import (
    adding_up,
    all_covered,
    attention_zones,
    coverage_change,
    cut,
    kpi_labels,
    minutes,
    plural,
    shift_window,
    whole_minutes,
    zone_label,
)

if TYPE_CHECKING:
    import pandas as pd

    from rebalance.diff import PlanDiff
    from rebalance.plan import Plan

__all__ = ["diff_renderables", "plan_renderables", "summary_text"]

#: Moves listed in the terminal before "... N more (see moves.csv)".
MAX_MOVES_SHOWN = 15
MAX_ZONES_SHOWN = 30
#: Below this terminal width the plan's KPIs put each label over its value.
NARROW_KPIS = 36
#: Width down to which a long zone name is cut ("…") in the zones table and the heat
#: strip before a column goes: an id and ~26 characters of name, so that at 80 columns
#: every key column of the zones table stays (Paris's longest name fits whole).
ZONE_CUT = 32
#: Room the heat strip leaves for the zone's name and its total, in columns.
_STRIP_MARGIN = 50
_ACTION_STYLE = {"short": "bold red", "receive": "green", "send": "yellow", "ok": "dim"}


def summary_text(plan: Plan) -> str:
    """Plain-text headline: city, shift, status, and the KPIs."""
    if not plan.feasible:
        return visible(f"{plan.city} {shift_window(plan)}: no feasible plan: {plan.message}")
    k = plan.kpis
    # "shortage 49 -> 0 couriers in 0 zones": the zones only where some are short
    where = f" in {plural(k['zones_short'], 'zone')}" if k["shortage"] else ""
    return visible(
        "\n".join(
            [
                f"{plan.city} · {shift_window(plan)} · {plan.status} in {plan.solve_seconds:.2f} s",
                f"coverage {coverage_change(k)}; "
                f"{k['moved_couriers']} of {k['eligible_couriers']} couriers moved; "
                f"travel {minutes(k['travel_minutes'])}; shortage {k['shortage_before']} -> "
                f"{plural(k['shortage'], 'courier')}{where}",
            ]
        )
    )


def _titled(title: str, window: str, body: Any, width: int, after: str = "") -> tuple[str, Any]:
    """A panel's title ``title · window`` + ``after``, and its body; on a terminal too
    narrow for that title (rich cuts it, and the shift's end went with it) the window
    goes on the body's first line instead."""
    from rich.console import Group
    from rich.text import Text

    if Text.from_markup(f"{title} · {window}{after}").cell_len + 5 > width:
        return title + after, Group(Text(window), body)
    return f"{title} · {window}{after}", body


def plan_renderables(plan: Plan, width: int = 100, out: str | Path | None = None) -> Any:
    """Rich renderables: KPIs, then zones needing attention, then moves.

    ``out``: the folder the plan was written to, named where a table is cut; without
    it the cut says how to get every row (a plan in memory has no moves.csv yet)."""
    from rich import box
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    width = max(int(width), 20)
    plan = _visible(plan)
    title = f"[bold]{terminal(plan.city, one_line=True)}[/]"
    window = shift_window(plan)
    if not plan.feasible:
        message = Text(visible(plan.message), style="bold red")
        title, body = _titled(title, window, message, min(width, 100), after=" · no feasible plan")
        yield Panel(body, title=title, width=min(width, 100))
        return
    k = plan.kpis
    coverage, shortage, required = kpi_labels(plan)
    pairs = [
        (coverage, coverage_change(k, arrow="→", after="[bold]{}[/]")),
        ("Couriers moved", f"{k['moved_couriers']} of {k['eligible_couriers']} eligible"),
        (
            shortage,
            f"{k['shortage_before']} → [bold]{k['shortage']}[/] couriers"
            + (f" in {plural(k['zones_short'], 'zone')}" if k["shortage"] else ""),
        ),
        ("Total travel", minutes(k["travel_minutes"])),
        (
            required,
            f"{plural(k['required_couriers'], 'courier')} in {plural(k['zones'], 'zone')}",
        ),
        ("Solve", f"{plan.status}, {plan.solve_seconds:.2f} s, objective {plan.objective:,.1f}"),
    ]
    if k.get("paused_orders_per_hour"):
        pairs.append(("Orders paused", f"{k['paused_orders_per_hour']:,.1f} /h in short zones"))
    kpi = Table.grid(padding=(0, 2))
    if width < NARROW_KPIS:
        # each label over its value: beside a 14-column label the values had 8 columns
        # at 26, and "3,506.3" came out as "3,506…"
        kpi.add_column()
        for label, value in pairs:
            kpi.add_row(f"[bold]{label}[/]")
            kpi.add_row(Padding(value, (0, 0, 0, 2)))
    else:
        step = 2 if width >= 96 else 1
        for _ in range(step):
            kpi.add_column(style="bold", no_wrap=True)
            kpi.add_column()  # values wrap on a narrow terminal; labels never get cut
        for i in range(0, len(pairs), step):
            row = [cell for pair in pairs[i : i + step] for cell in pair]
            kpi.add_row(*row, *([""] * (2 * step - len(row))))
    title, body = _titled(title, window, kpi, width)
    yield Panel(body, title=title, box=box.ROUNDED, expand=False, title_align="left")

    zones = attention_zones(plan.zones)
    names = dict(
        zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
    )
    id_width = max((len(z) for z in names), default=4)
    if zones.empty:
        yield Text(" ".join(all_covered(plan)), style="green")
    else:
        yield Text(f"\nZones needing attention ({len(zones)} of {len(plan.zones)})", style="bold")
        yield _zones_table(zones.head(MAX_ZONES_SHOWN), width, id_width)
        if len(zones) > MAX_ZONES_SHOWN:
            yield _more(f"{len(zones) - MAX_ZONES_SHOWN} more zones " + _where(out, "zones.csv"))
        short = zones[zones["action"] == "short"]
        if len(short):
            yield Text(
                "\nActions needed: pause these restaurants (fewest orders lost)", style="bold"
            )
            yield _pause_table(short.head(MAX_ZONES_SHOWN), width, id_width)

    several = plan.slot_count > 1
    moves = plan.moves_at(0) if several else plan.moves
    if len(moves):
        flows = plan.routes(0 if several else None)
        when = f"Move now, {plan.slot_labels()[0]}" if several else "Moves"
        counts = f"{plural(len(moves), 'courier')} on {plural(len(flows), 'route')}"
        yield Text(f"\n{when} ({counts})", style="bold")
        yield _routes_table(flows.head(MAX_MOVES_SHOWN), names, width, id_width)
        if len(flows) > MAX_MOVES_SHOWN:
            yield _more(
                f"{len(flows) - MAX_MOVES_SHOWN} more routes; every courier "
                + _where(out, "moves.csv")
            )
    if several:
        yield from slot_renderables(plan, width)


#: How the plan's tables are drawn: a rule under the header, two spaces between columns.
TABLE_STYLE: dict[str, Any] = {
    "padding": (0, 1, 0, 0),
    "show_edge": False,
    "pad_edge": False,
    "header_style": "bold",
}


def _table_style() -> dict[str, Any]:
    from rich import box

    return {**TABLE_STYLE, "box": box.SIMPLE_HEAD}


def _zones_table(zones: pd.DataFrame, width: int, id_width: int) -> Any:
    """Zones needing attention: a long name is cut before a column goes, and no number
    is ever cut; extras when wide."""
    from rich.text import Text

    from .fit import Col, fit_table

    columns = [
        Col("Zone", "text", min_width=18, hard_min=max(id_width, 10), cut=ZONE_CUT),
        Col("Action", "key", drop=4),
        Col("Orders/h", extra=True, drop=6),
        Col("Need"),
        Col("Before", drop=3),
        Col("After"),
        Col("In", drop=2),
        Col("Out", drop=2),
        Col("Short"),
        Col("Surplus", extra=True, drop=5),
    ]
    rows = [
        [
            zone_label(row.zone_id, row.name),
            Text(str(row.action), style=_ACTION_STYLE.get(str(row.action), "")),
            f"{float(row.demand_orders_per_hour):.1f}",
            str(row.required_couriers),
            str(row.couriers_before),
            str(row.couriers_after),
            _blank0(row.moved_in),
            _blank0(row.moved_out),
            Text(_blank0(row.shortage), style="red" if row.shortage else ""),
            _blank0(row.surplus),
        ]
        for row in zones.itertuples(index=False)
    ]
    return fit_table(columns, rows, width, **_table_style())


def _pause_table(short: pd.DataFrame, width: int, id_width: int) -> Any:
    """Short zones and the restaurants to pause in each (the list wraps)."""
    from .fit import Col, fit_table

    columns = [
        Col("Zone", "text", min_width=40, hard_min=max(id_width, 10)),  # the list wraps first
        Col("Short"),
        Col("Pause", "text", min_width=24, hard_min=12),
        Col("Orders/h"),
    ]
    rows = []
    for row in short.itertuples(index=False):
        paused = [p for p in str(row.pause_restaurants).split(";") if p]
        labels = str(getattr(row, "pause_restaurant_names", "") or "").split(";")
        if len(labels) == len(paused):
            paused = [f"{rid} {nm}".strip() for rid, nm in zip(paused, labels, strict=True)]
        shown = ", ".join(paused[:6]) + (f" +{len(paused) - 6} more" if len(paused) > 6 else "")
        rows.append(
            [
                zone_label(row.zone_id, row.name),
                str(row.shortage),
                shown or "(no restaurant to pause)",
                f"{getattr(row, 'paused_orders_per_hour', 0.0):.1f}",
            ]
        )
    return fit_table(columns, rows, width, **_table_style())


def _routes_table(flows: pd.DataFrame, names: dict[str, str], width: int, id_width: int) -> Any:
    """Moves by route: zone names wrap, then the vehicles wrap, before anything is cut."""
    from .fit import Col, fit_table

    columns = [
        Col("From", "text", min_width=16, hard_min=max(id_width, 10)),
        Col("To", "text", min_width=16, hard_min=max(id_width, 10)),
        Col("Couriers"),
        Col("Longest"),
        Col("Vehicles", "text", drop=3, min_width=14, hard_min=8),
    ]
    since = "since" in flows.columns  # a re-plan: new / unchanged / changed, per route
    if since:
        columns.append(Col("Since previous", "text", drop=1, min_width=9, hard_min=7))
    rows = [
        [
            zone_label(row.from_zone, names.get(str(row.from_zone), "")),
            zone_label(row.to_zone, names.get(str(row.to_zone), "")),
            str(row.couriers),
            f"{row.minutes:.1f} min",
            str(row.vehicles),
            *([str(row.since)] if since else []),
        ]
        for row in flows.itertuples(index=False)
    ]
    return fit_table(columns, rows, width, **_table_style())


def _more(text: str) -> Any:
    from rich.text import Text

    return Text(f"... {text}", style="dim")


def _where(out: str | Path | None, name: str) -> str:
    """Where the whole table is: the written file, or how to get it."""
    if out is None:
        return "with --out or --format json"
    return f"in {Path(out) / name}"


def slot_renderables(plan: Plan, width: int = 100) -> Any:
    """The shift slot by slot: a table of what happens when, then a heat strip of the
    zones that are short in some slot (one character per slot, or per few slots when
    there are more than the width holds), fitted to the width."""
    from rich.text import Text

    from .fit import Col, fit_table
    from .timeline import MAX_SLOT_ROWS, slot_summary, strip, strip_step, zones_short_any_slot

    summary = slot_summary(plan)
    yield Text(f"\nThe shift in {plan.slot_count} slots of {plan.slot_minutes} min", style="bold")
    columns = [
        Col("Slot", "key"),
        Col("Moves"),
        Col("On", drop=2),
        Col("Off", drop=2),
        Col("Need"),
        Col("Present"),
        Col("Short before → after"),
    ]
    rows = [
        [
            str(row.label),
            _blank0(row.moves),
            _blank0(row.logged_on),
            _blank0(row.logged_off),
            str(row.required),
            str(row.present),
            Text(f"{row.short_before} → {row.short}", style="red" if row.short else "green"),
        ]
        for row in summary.head(MAX_SLOT_ROWS).itertuples(index=False)
    ]
    yield fit_table(columns, rows, width, **_table_style())
    if len(summary) > MAX_SLOT_ROWS:
        yield _more(f"{len(summary) - MAX_SLOT_ROWS} more slots in slots.csv")
    short = zones_short_any_slot(plan)
    if short.empty:
        yield Text("No zone is short in any slot.", style="green")
        return
    shown = short.head(MAX_ZONES_SHOWN)
    names = dict(
        zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
    )
    id_width = max((len(z) for z in names), default=4)
    yield Text(f"\nZones short in some slot ({len(short)} of {len(plan.zones)})", style="bold")
    per = strip_step(len(summary), width - _STRIP_MARGIN)
    each = "slot" if per == 1 else f"{per} slots ({per * plan.slot_minutes} min, the most short)"
    yield Text(
        f"one character per {each} from {summary['label'].iloc[0]}: "
        ". none, 1, 2, 4 = 3-4, 9 = 5-9, # = 10+ short",
        style="dim",
    )
    heat_columns = [
        Col("Zone", "text", min_width=18, hard_min=max(id_width, 10), cut=ZONE_CUT),
        Col("Slots", "key"),
        Col("Short", drop=2),
    ]
    heat_rows = [
        [
            zone_label(zone_id, names.get(str(zone_id), "")),
            Text(strip(values.to_numpy(), per), style="red"),
            plural(int(values.sum()), "courier-slot"),
        ]
        for zone_id, values in shown.iterrows()
    ]
    yield fit_table(heat_columns, heat_rows, width, **_table_style())
    if len(short) > len(shown):
        yield _more(f"{len(short) - len(shown)} more zones in slots.csv")


def _visible(plan: Plan) -> Plan:
    """The plan with control characters and bidi overrides written out in every partner
    string (`rebalance.escape.visible`): names reach the terminal as ``Text`` (no markup)
    or through rich's ``escape``, and no escape sequence may drive the terminal."""
    from dataclasses import replace

    return replace(
        plan,
        city=visible(plan.city, one_line=True),
        zones=_short_names(visible_frame(plan.zones)),
        moves=visible_frame(plan.moves),
        slots=visible_frame(plan.slots),
    )


#: Characters of a partner's name shown in a table before it is cut with "…" (the plan's
#: files keep it whole): one restaurant named in 5,000 characters filled 200 lines of
#: the pause table at 80 columns.
NAME_CHARS = 60


def _short_names(zones: pd.DataFrame) -> pd.DataFrame:
    """``zones`` with zone and restaurant names past `NAME_CHARS` cut (only the rows
    holding one are rewritten).

    A pause list is found holding a long name by one regular expression over the column
    (a run of more than `NAME_CHARS` characters without ";"), not by splitting every
    list: at 10,000 zones / 1M couriers the lists name 900,000 restaurants, and
    splitting them all took 0.21-0.24 s to rewrite none (0.03 s now; cProfile had said
    0.66 s, its own cost per name included)."""
    import pandas as pd

    out = zones
    for column in ("name", "pause_restaurant_names"):
        if column not in zones.columns or zones.empty:
            continue
        text = zones[column].astype(str)
        if column == "name":
            found = text.str.len() > NAME_CHARS
        else:
            found = text.str.contains(f"[^;]{{{NAME_CHARS + 1}}}", regex=True)
        long = found.to_numpy(dtype=bool)
        if not long.any():
            continue
        if out is zones:
            out = zones.copy()
        values = text[long].tolist()
        if column == "name":
            short = [cut(v, NAME_CHARS) for v in values]
        else:  # a ";"-separated list of names: each cut, the list kept
            short = [";".join(cut(n, NAME_CHARS) for n in v.split(";")) for v in values]
        out[column] = text.where(~long, pd.Series(short, index=text.index[long], dtype=object))
    return out


def _blank0(x: Any) -> str:
    return "" if int(x) == 0 else str(int(x))


#: Rows of the explanation tables shown in a terminal before "... N more".
MAX_EXPLAIN_ROWS = 20


def explanation_renderables(expl: Any) -> Any:
    """Rich renderables of an `rebalance.explain.Explanation`: why each short zone stays
    short, what each move saves, where one more courier helps most. Partner text (zone
    names) is escaped: it never reaches rich as markup."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from .fit import Hanging

    yield Text(f"Why this plan? {visible(expl.city, one_line=True)} · {expl.shift}", style="bold")
    notes = list(expl.notes)
    if expl.status != "optimal" and notes:
        # "not proven optimal ... the reasons below": before them, not after all tables
        yield Hanging(Text(visible(notes.pop(0)), style="yellow"))
    if len(expl.short):
        verb = "stays" if len(expl.short) == 1 else "stay"
        table = Table(
            title=f"Why {plural(len(expl.short), 'zone')} {verb} short", box=box.SIMPLE_HEAD
        )
        table.add_column("Zone", overflow="fold", max_width=28)
        table.add_column("Short", justify="right")
        table.add_column("Why", overflow="fold")
        for r in expl.short.head(MAX_EXPLAIN_ROWS).itertuples(index=False):
            table.add_row(
                terminal(zone_label(r.zone_id, r.name), one_line=True),
                str(r.shortage),
                terminal(r.why, one_line=True),
            )
        yield table
        if len(expl.short) > MAX_EXPLAIN_ROWS:
            yield Text(f"... {len(expl.short) - MAX_EXPLAIN_ROWS} more short zones (--format json)")
    elif expl.zone is not None:  # `explain --zone`: other zones may well be short
        label = terminal(zone_label(expl.zone, expl.zone_name()), one_line=True)
        yield Text(f"{label} is not short now.")
    else:
        yield Text("No zone stays short.")
    if len(expl.routes):
        table = Table(title="What each move saves (now)", box=box.SIMPLE_HEAD)
        table.add_column("Route", overflow="fold")
        shown = expl.routes.head(MAX_EXPLAIN_ROWS)
        # the terms of Saves that are not zero somewhere, so the columns add up as shown
        terms = [
            (title, key)
            for title, key in (
                ("Shortage removed", "shortage_removed_minutes"),
                ("Shortage added", "shortage_added_minutes"),
                ("Surplus cost", "surplus_change_minutes"),
                ("Moving", "move_minutes"),
                ("Changed instructions", "instruction_change_minutes"),
            )
            if key in ("shortage_removed_minutes", "move_minutes") or shown[key].abs().max() > 0
        ]
        for name in ("Couriers", *(title for title, _ in terms), "Saves"):
            table.add_column(name, justify="right")
        # Saves = shortage removed - everything else; each shown to the minute so that
        # the row adds up as shown (`adding_up`)
        signs = [1 if key == "shortage_removed_minutes" else -1 for _, key in terms]
        for r in shown.itertuples(index=False):
            forced = bool(getattr(r, "cap_forced", False))
            parts = adding_up([getattr(r, key) for _, key in terms], signs, r.saves_minutes)
            table.add_row(
                terminal(f"{r.from_zone} → {r.to_zone}", one_line=True),
                str(r.couriers),
                *(f"{x:,} min" for x in parts),
                f"[bold]{whole_minutes(r.saves_minutes)}[/]" + (" (cap)" if forced else ""),
            )
        yield table
        if shown["cap_forced"].any():
            yield Text(
                "(cap): the origin is at its max_couriers cap without these couriers; the "
                "route is required, whatever it saves."
            )
        if len(expl.routes) > MAX_EXPLAIN_ROWS:
            yield Text(f"... {len(expl.routes) - MAX_EXPLAIN_ROWS} more routes (--format json)")
    if len(expl.ranking):
        table = Table(title="Where one extra courier helps most", box=box.SIMPLE_HEAD)
        table.add_column("Zone", overflow="fold", max_width=28)
        table.add_column("Action")
        table.add_column("Short", justify="right")
        table.add_column("Saves (min)", justify="right")
        # blank: no room under the cap, or not computed (a plan stopped by its time limit,
        # or a zones.csv written without them)
        blank = "n/a" if expl.marginal == "none" else "cap full"
        for r in expl.ranking.head(MAX_EXPLAIN_ROWS).itertuples(index=False):
            value = r.marginal_minutes
            table.add_row(
                terminal(zone_label(r.zone_id, r.name), one_line=True),
                terminal(str(r.action), one_line=True),
                _blank0(r.shortage),
                blank
                if value != value
                else f"{value:,.1f}" + ("*" if getattr(r, "full_slots", 0) else ""),
            )
        yield table
        if len(expl.ranking) > MAX_EXPLAIN_ROWS:
            more = len(expl.ranking) - MAX_EXPLAIN_ROWS
            yield Text(f"... {more} more zones (--format json, or --zone ZONE_ID)")
    for note in notes:  # prose: wrapped at words in a terminal (`Hanging`)
        yield Hanging(Text(visible(note), style="dim"))


def diff_renderables(diff: PlanDiff) -> Any:
    """Rich renderables of a diff: KPIs side by side, zones that changed, couriers
    re-routed (with why), added and dropped, per slot when the plans have slots."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from rebalance.diff import ZONE_FIELDS

    from .fit import Col, Fitted

    a, b = diff.a, diff.b

    def shown(value: Any) -> str:  # partner text as Text: control characters written out
        return visible(value, one_line=True)

    yield Text(
        shown(
            f"{a.city} {clock_text(a.local(a.shift_start))} ({a.plan_id}) -> "
            f"{b.city} {clock_text(b.local(b.shift_start))} ({b.plan_id}): {diff.headline()}"
        ),
        style="bold",
    )
    rows = [(name, _kpi_text(name, x), _kpi_text(name, y), x != y) for name, x, y in diff.kpis()]
    # numbers are never cut (README): the KPI's name folds first, on a narrow terminal
    kpis = Table(box=box.SIMPLE_HEAD, title=None)
    kpis.add_column("KPI", overflow="fold")
    for head, at in (("A", 1), ("B", 2)):
        widest = _widest(head, (row[at] for row in rows))
        kpis.add_column(head, justify="right", no_wrap=True, min_width=widest)
    for name, x_text, y_text, changed in rows:
        kpis.add_row(name, x_text, Text(y_text, style="bold" if changed else ""))
    yield kpis
    names = {**a.names, **b.names}

    def label(zone: Any) -> Text:
        # as in the plan's tables: a name wraps, and past NAME_CHARS ends in "…"
        return Text(shown(zone_label(zone, names.get(str(zone), ""), NAME_CHARS)))

    if diff.zones:
        zones = Table(box=box.SIMPLE_HEAD, title=None)
        zones.add_column("Zone", min_width=12, overflow="fold")
        zones.add_column("Changed", ratio=1)
        for zone, (x, y) in list(diff.zones.items())[:MAX_ZONES_SHOWN]:
            if x is None or y is None:
                what = "only in B" if x is None else "only in A"
            else:
                what = ", ".join(
                    f"{short} {u} -> {v}"
                    for (_, short), u, v in zip(ZONE_FIELDS, x, y, strict=False)
                    if u != v
                )
            zones.add_row(label(zone), Text(shown(what)))
        if len(diff.zones) > MAX_ZONES_SHOWN:
            zones.caption = f"... {len(diff.zones) - MAX_ZONES_SHOWN} more zones (--format json)"
        yield Text(f"Zones whose numbers changed ({len(diff.zones)})", style="bold")
        yield zones
    for kind, title in (("rerouted", "Re-routed"), ("added", "Added"), ("dropped", "Dropped")):
        groups = diff.groups(kind)
        if not groups:
            continue
        yield Text(f"{title} ({plural(len(diff.of_kind(kind)), 'courier')})", style="bold")
        # zone ids are never cut (people look them up) nor split over lines (75113 read
        # as "751" and "13"); where the table cannot fit, each group is one wrapped line
        # (at 40 columns rich squeezed the Why column to nothing)
        columns = [Col("Slot", "key"), Col("Couriers", "text", min_width=12)]
        columns += [Col("From", "key"), Col("To", "key")]
        if kind == "rerouted":
            columns.append(Col("Was to", "key"))
        if kind != "added":
            columns.append(Col("Why: need A -> B", "text", min_width=12))
        lines: list[list[Any]] = []
        for _, group in groups[:MAX_MOVES_SHOWN]:
            c = group[0]
            ids = ", ".join(g.courier_id for g in group[:6]) + (
                f" +{len(group) - 6} more" if len(group) > 6 else ""
            )
            cells: list[Any] = [
                b.label(c.when),
                Text(shown(f"{len(group)}: {ids}")),
                Text(shown(c.from_zone)),
                Text(shown(c.to_zone)),
            ]
            if kind == "rerouted":
                cells.append(Text(shown(c.was_to)))
            if kind != "added":
                reasons = [
                    f"{zone} {'-' if x is None else x} -> {y}"
                    for zone, x, y in diff.need_changes(c)
                ]
                if (courier := diff.courier_reason(c)) is not None:
                    reasons.insert(0, courier)
                cells.append(Text(shown("; ".join(reasons)) or "no need changed"))
            lines.append(cells)
        caption = None
        if len(groups) > MAX_MOVES_SHOWN:
            caption = f"... {len(groups) - MAX_MOVES_SHOWN} more groups (--format json)"
        table = Fitted(
            columns, lines, {"box": box.SIMPLE_HEAD, "caption": caption, "caption_justify": "left"}
        )
        yield table
    if diff.empty:
        yield Text("No zone and no courier changed.", style="green")


def _widest(head: str, cells: Iterable[str]) -> int:
    """The width a column needs to show ``head`` and each of ``cells`` whole on a line."""
    from rich.cells import cell_len

    return max([cell_len(head), *(cell_len(c) for c in cells)])


def _kpi_text(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.startswith("coverage"):
        from .wording import percent

        return percent(value)
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
