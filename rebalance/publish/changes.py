"""What changed between two versions of a plan, in words: the thread reply posted when a
revised plan updates the shift's message in place."""

from __future__ import annotations

from typing import Any

from rebalance.views.wording import percent

from .blocks import escape_mrkdwn, zone_label
from .limits import cut

__all__ = ["describe_changes"]


def describe_changes(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    names: dict[str, str] | None = None,
    limit: int = 2800,
) -> str:
    """The thread reply of a revised plan: KPIs, zones whose numbers moved, couriers
    added to, dropped from or re-routed in the moves (lists cut with "+N more").
    ``old`` and ``new`` are `snapshot`s; ``names`` maps zone ids to names."""
    names = names or {}
    ok, nk = old.get("kpis") or {}, new.get("kpis") or {}
    head = (
        "*Plan revised.* "
        f"Coverage {percent(ok.get('coverage'), missing='–')} → "
        f"{percent(nk.get('coverage'), missing='–')} · "
        f"couriers moved {ok.get('moved_couriers', '–')} → {nk.get('moved_couriers', '–')} · "
        f"shortage {ok.get('shortage', '–')} → {nk.get('shortage', '–')}"
    )
    columns = ["need", "before", "after", "in", "out", "short"]
    oz, nz = old.get("zones") or {}, new.get("zones") or {}
    zone_lines = []
    for zone in sorted(set(oz) | set(nz)):
        a, b = oz.get(zone), nz.get(zone)
        if a == b:
            continue
        label = escape_mrkdwn(zone_label(zone, names.get(zone, "")))
        if a is None:
            zone_lines.append(f"{label}: new zone")
        elif b is None:
            zone_lines.append(f"{label}: no longer in the plan")
        else:
            diffs = [f"{n} {x} → {y}" for n, x, y in zip(columns, a, b, strict=False) if x != y]
            zone_lines.append(f"{label}: {', '.join(diffs)}")
    om, nm = old.get("moves") or {}, new.get("moves") or {}
    added = [
        f"{escape_mrkdwn(c)} ({escape_mrkdwn(nm[c][0])} → {escape_mrkdwn(nm[c][1])})"
        for c in sorted(set(nm) - set(om))
    ]
    dropped = [
        f"{escape_mrkdwn(c)} (was {escape_mrkdwn(om[c][0])} → {escape_mrkdwn(om[c][1])})"
        for c in sorted(set(om) - set(nm))
    ]
    rerouted = [
        f"{escape_mrkdwn(c)} {escape_mrkdwn(nm[c][0])} → {escape_mrkdwn(nm[c][1])} (was → {escape_mrkdwn(om[c][1])})"
        for c in sorted(set(om) & set(nm))
        if om[c] != nm[c]
    ]
    groups = [
        (f"{len(zone_lines)} zone(s) changed", zone_lines, "\n• "),
        (f"{len(added)} courier(s) added to the moves", added, ", "),
        (f"{len(dropped)} courier(s) dropped from the moves", dropped, ", "),
        (f"{len(rerouted)} courier(s) re-routed", rerouted, ", "),
    ]
    present = [g for g in groups if g[1]]
    if not present:
        return cut(head + "\nOnly travel details changed; the files below are current.", limit)
    budget = max(200, (limit - len(head)) // len(present) - 40)
    parts = [head]
    for label, items, sep in present:
        shown: list[str] = []
        used = 0
        for item in items:
            if used + len(item) + len(sep) > budget:
                break
            shown.append(item)
            used += len(item) + len(sep)
        more = (
            f"{sep.strip() or ','} +{len(items) - len(shown)} more"
            if len(shown) < len(items)
            else ""
        )
        lead = "\n• " if sep == "\n• " else " "
        parts.append(f"*{label}:*{lead}{sep.join(shown)}{more}")
    return cut("\n".join(parts), limit)
