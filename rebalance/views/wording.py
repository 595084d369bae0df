"""The shared vocabulary of every view of a plan (terminal, HTML, Slack, plots, history):
one way each to write a share, a shift window, the KPI headline, a plural, a zone, and
one rule for which zones need attention and in what order.

Views differ in markup (rich, HTML, mrkdwn), not in words: they pass their markup in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rebalance.escape import whole_end

if TYPE_CHECKING:
    import pandas as pd

    from rebalance.plan import Plan

__all__ = [
    "adding_up",
    "attention_zones",
    "coverage_change",
    "kpi_headline",
    "minutes",
    "percent",
    "plural",
    "shift_window",
    "zone_label",
]

#: Zones that need attention come in this order: short, receiving, sending (then ok).
ACTION_RANK = {"short": 0, "receive": 1, "send": 2, "ok": 3}
#: Why a courier's move is dropped when the newer plan no longer has the courier.
COURIER_GONE = (
    "not among the couriers the plan can use (off shift, busy or offline, or gone from the data)"
)


def percent(
    share: Any, *, digits: int = 1, missing: str = "-", significant: int | None = None
) -> str:
    """A share as a percentage: ``0.875`` -> ``87.5%``; ``missing`` for None or NaN.
    ``significant`` digits instead of fixed ``digits`` for parameters (``5%``, ``12.5%``)."""
    try:
        value = float(share)
    except (TypeError, ValueError):  # None, pd.NA, text
        return missing
    if math.isnan(value):
        return missing
    if significant is not None:
        return f"{100 * value:.{significant}g}%"
    return f"{100 * value:.{digits}f}%"


def coverage_change(
    kpis: Mapping[str, Any],
    *,
    arrow: str = "->",
    digits: int = 1,
    missing: str = "-",
    after: str = "{}",
) -> str:
    """Coverage before and after the plan: ``91.7% -> 100.0%``; ``after`` wraps the new
    value in a view's emphasis (``"[bold]{}[/]"``, ``"<b>{}</b>"``, ``"*{}*"``)."""
    before = percent(kpis.get("coverage_before"), digits=digits, missing=missing)
    now = percent(kpis.get("coverage"), digits=digits, missing=missing)
    return f"{before} {arrow} {after.format(now)}"


def kpi_headline(kpis: Mapping[str, Any]) -> str:
    """What a plan does, in one phrase: ``12 couriers to move, coverage 91.7% -> 100.0%``."""
    return f"{kpis.get('moved_couriers')} couriers to move, coverage {coverage_change(kpis)}"


def kpi_labels(plan: Plan) -> tuple[str, str, str]:
    """The labels of the coverage, shortage and requirement KPIs in a plan's panel. In
    slots coverage is the whole shift's and the shortage and requirement the first
    slot's (CONTRACT section 7): "Coverage 65.5% -> 92.3%" beside "Shortage left 176 ->
    38" read as one measure, so there they say so (no longer than the panel's longest
    label, "Couriers moved", so the panel keeps its layout)."""
    if plan.slot_count > 1:
        return "Shift coverage", "Shortage now", "Required now"
    return "Coverage", "Shortage left", "Required"


def plural(n: int, word: str) -> str:
    """``1 zone``, ``3 zones``, ``2,000 orders``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def all_covered(plan: Plan) -> tuple[str, str]:
    """What to say when no zone needs attention now, as (lead, rest): ``no moves
    needed``, unless the plan moves couriers later in the shift."""
    later = len(plan.moves) - len(plan.moves_at(0)) if plan.slot_count > 1 else 0
    if later > 0:
        now = f"{plan.local(plan.shift_start):%H:%M}"
        return (
            "Every zone is covered now:",
            f"no moves at {now}; {plural(later, 'move')} later in the shift.",
        )
    return "Every zone is covered where it stands:", "no moves needed."


def minutes(x: float) -> str:
    """Travel time: ``12.5 min``, ``1,250 min`` (no decimals from 100 on)."""
    return f"{x:,.0f} min" if x >= 100 else f"{x:.1f} min"


def whole_minutes(x: float) -> str:
    """Minutes saved or added, to the minute: ``1,235 min``; never ``-0 min`` (a route
    saving -0.4 minutes read so)."""
    return f"{round(float(x)):,} min"


def adding_up(parts: list[float], signs: list[int], total: float) -> list[int]:
    """``parts`` rounded to whole numbers that add up, with ``signs``, to ``total``
    rounded: each rounded on its own first, then the fewest moved by one, those nearest
    to the other whole number first (a route saving 78 min shown as 135 - 8 - 50 = 77
    read as an error). Each stays within one of its value."""
    rounded = [round(float(x)) for x in parts]
    short = round(float(total)) - sum(s * r for s, r in zip(signs, rounded, strict=True))
    for _ in range(len(parts)):
        if short == 0:
            break
        step = 1 if short > 0 else -1
        # moving part i by step * sign_i moves the sum by step: the part whose value lies
        # furthest that way from its rounding goes first
        i = max(
            range(len(parts)),
            key=lambda k: (float(parts[k]) - rounded[k]) * step * signs[k],
        )
        rounded[i] += step * signs[i]
        short -= step
    return rounded


def shift_window(plan: Plan, *, year: bool = True) -> str:
    """The shift in city time: ``Mon 30 Nov 2026 19:00–23:00 CET`` (``(+1 day)`` when
    it ends the next day; ``year=False`` for narrow places such as a Slack header).
    Over a clock change each end says its own zone: ``Sun 25 Oct 2026 01:00 CEST–05:00
    CET``."""
    start = plan.local(plan.shift_start)
    end = plan.local(plan.shift_end)
    return window_text(start, end, year=year)


def window_text(start: pd.Timestamp, end: pd.Timestamp, *, year: bool = True) -> str:
    """`shift_window` of two city-time timestamps."""
    day = f"{start:%a %d %b %Y %H:%M}" if year else f"{start:%a %d %b %H:%M}"
    next_day = days_later(start, end)
    if start.tzname() != end.tzname():
        return f"{day} {start.tzname()}–{end:%H:%M}{next_day} {end.tzname()}"
    return f"{day}–{end:%H:%M}{next_day} {start.tzname()}"


def days_later(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """`` (+1 day)`` after an end time on the next date (city time), `` (+2 days)``
    two dates on (a 48-hour shift), "" on the same date."""
    days = (end.date() - start.date()).days
    return "" if days <= 0 else f" (+{plural(days, 'day')})"


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, ending in "…" when cut: never inside
    what one sees as one character (an accent, an emoji sequence: `whole_end`)."""
    if len(text) <= limit:
        return text
    return text[: whole_end(text, max(0, limit - 1))].rstrip() + "…"


def zone_label(
    zone_id: object,
    name: object,
    limit: int | None = None,
    *,
    shorten: Callable[[str, int], str] = cut,
    length: Callable[[str], int] = len,
) -> str:
    """A zone as people name it: ``Z07 Bastille`` (the id alone when it has no name).

    ``limit``: at most that many characters (``length``) where the id leaves room: the
    name is cut (``shorten``), never the id, which people type in commands and look for
    in the files (a UUID of 36 characters lost its end in a 32-character Slack route)."""
    label = f"{zone_id} {name}".strip()
    if limit is None or length(label) <= limit:
        return label
    room = limit - length(str(zone_id)) - 1
    return f"{zone_id} {shorten(str(name).strip(), room)}" if room >= 2 else str(zone_id)


def attention_zones(zones: pd.DataFrame) -> pd.DataFrame:
    """Zones that change or stay short: short (largest shortage first), then
    receiving (most couriers in first), then sending (most out first)."""
    if zones.empty:
        return zones
    frame = zones[zones["action"] != "ok"].copy()
    frame["_rank"] = frame["action"].map(ACTION_RANK)
    frame["_size"] = frame["shortage"] * 10_000 + frame["moved_in"] + frame["moved_out"]
    frame = frame.sort_values(["_rank", "_size", "zone_id"], ascending=[True, False, True])
    return frame.drop(columns=["_rank", "_size"]).reset_index(drop=True)
