"""The Block Kit layout of a plan: a parent message (header, KPIs, a table of the zones
that change or stay short, the actions needed, the largest moves; plain ``text``
fallback) and, in its thread, whatever did not fit plus moves.csv and zones.csv.

Every payload stays within Slack's limits (`rebalance.publish.limits`) for any city size.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from rebalance.csvfile import csv_bytes
from rebalance.escape import mrkdwn, plain
from rebalance.paths import slug
from rebalance.plan import MOVES_COLUMNS, SLOTS_COLUMNS, ZONES_COLUMNS, Plan
from rebalance.views import wording

from .identity import EVENT_TYPE, PART_EVENT_TYPE, content_hash, plan_key
from .limits import (
    MAX_BLOCKS,
    MAX_FALLBACK_CHARS,
    MAX_FIELD_CHARS,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_SECTION_CHARS,
    MAX_TABLE_ROWS,
    cut,
    slack_len,
    visible_chars,
)

__all__ = [
    "FILES_COMMENT",
    "REVISED_FILES",
    "as_int",
    "build_files",
    "build_messages",
    "context_block",
    "escape_mrkdwn",
    "files_payload",
    "metadata",
    "mrkdwn_name",
    "section_block",
    "zone_label",
    "zone_names",
]

#: What the parent shows before "+N more" (the rest goes into the thread).
PARENT_ZONE_ROWS = 25
PARENT_ACTIONS = 10
PARENT_ROUTES = 8
#: Routes listed in the thread at most (moves.csv holds every courier): for the first
#: slot, and for the later slots together, each of those with moves given an equal share
#: but at least `LATER_SLOT_ROUTES`. 150 for each later slot made a 1,000-zone plan of 8
#: slots 24 messages (875 routes), 27 s of posting at one message a second.
THREAD_ROUTES = 150
LATER_SLOT_ROUTES = 10
#: Zones in the thread's tables, and short zones in its action lines, at most
#: (zones.csv holds every zone). A 10,000-zone plan listed all 8,844 that change in 252
#: thread messages, over four minutes of posting at Slack's one message a second; now 18.
THREAD_ZONE_ROWS = 5 * (MAX_TABLE_ROWS - 1)
THREAD_ACTIONS = 200
#: Restaurant ids listed per short zone before "+N more".
PAUSE_IDS_SHOWN = 10
#: A restaurant's name next to its id in a pause list is cut to this many characters.
PAUSE_NAME_CHARS = 30
ZONE_LABEL_CHARS = 28
#: The city's name in a file title is cut to this many characters.
FILE_TITLE_CITY_CHARS = 60
#: Short zones given a "why" line in the thread at most, and each line's length.
WHY_LINES = 60
WHY_CHARS = 400

_ZONE_HEAD = ["Zone", "Action", "Need", "Before", "After", "Moves", "Short"]

FILES_COMMENT = "Every move and every zone of this plan, as CSV."
#: Under a revision's note, above its files: the earlier uploads stay in the thread.
REVISED_FILES = (
    "_The CSV files below are this version's; those posted earlier in this thread are not._"
)


# ---------------------------------------------------------------- text helpers


def escape_mrkdwn(text: object) -> str:
    """Escape a name, id or phrase set inside a line of mrkdwn: `rebalance.escape.mrkdwn`
    on one line (entities, controls, bidi, and line breaks written out)."""
    return mrkdwn(text, one_line=True)


#: mrkdwn's formatting characters and the look-alikes a partner's name shows them as:
#: Slack has no escape for them, and a zone "Gare*: short *0* ok" read as a bold label
#: with a shortage of 0, "~North" and "South~" struck a route through.
_LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
#: Where Slack may read a formatting character: * _ ~ not between two letters or digits
#: (``rest_0042``, ``max_couriers`` format nothing and stay as typed), a backtick anywhere.
_FORMATTING = re.compile(r"`|(?<!\w)[*_~]|[*_~](?!\w)")


def mrkdwn_name(text: object) -> str:
    """A partner's name or id in a line of mrkdwn: `escape_mrkdwn`, and each formatting
    character Slack could read (`_FORMATTING`) shown as a look-alike (∗ ˍ ∼ ˋ) that
    formats nothing. An id like ``rest_0042`` is left as typed (an operator types it
    back in ``/rebalance close``). Only in messages: the plan files keep names as they
    are."""
    return _FORMATTING.sub(lambda m: _LOOKALIKES[m.group()], escape_mrkdwn(text))


def as_int(x: Any) -> int:
    """``x`` as an int; 0 when it is not a number (a missing KPI)."""
    try:
        return int(x)
    except (TypeError, ValueError):
        return 0


def zone_names(plan: Plan) -> dict[str, str]:
    """Zone id -> zone name of a plan."""
    return {str(z): str(n) for z, n in zip(plan.zones["zone_id"], plan.zones["name"], strict=False)}


def zone_label(zone_id: str, name: str, limit: int = ZONE_LABEL_CHARS) -> str:
    """``"Z07 Bastille"``, its name cut to fit ``limit`` (`slack_len`); the id is never
    cut (`rebalance.views.wording.zone_label`)."""
    return wording.zone_label(zone_id, name, limit, shorten=cut, length=slack_len)


# -------------------------------------------------------------- block helpers


def section_block(text: str) -> dict[str, Any]:
    """A mrkdwn section, cut to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION_CHARS)}}


def context_block(text: str) -> dict[str, Any]:
    """A context block (small grey text)."""
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": cut(text, MAX_SECTION_CHARS)}],
    }


def _cell(text: object) -> dict[str, Any]:
    value = plain(text)
    return {"type": "raw_text", "text": value if value else "–"}


def _zone_cells(row: Any) -> list[dict[str, Any]]:
    moved_in, moved_out = as_int(row.moved_in), as_int(row.moved_out)
    moves = " ".join(
        x for x in (f"+{moved_in}" if moved_in else "", f"−{moved_out}" if moved_out else "") if x
    )
    return [
        _cell(zone_label(str(row.zone_id), str(row.name))),
        _cell(row.action),
        _cell(as_int(row.required_couriers)),
        _cell(as_int(row.couriers_before)),
        _cell(as_int(row.couriers_after)),
        _cell(moves or "–"),
        _cell(as_int(row.shortage) or "–"),
    ]


def _zone_table(rows: pd.DataFrame) -> dict[str, Any]:
    right = {"align": "right"}
    return {
        "type": "table",
        "column_settings": [
            {"is_wrapped": True},
            {"align": "left"},
            right,
            right,
            right,
            right,
            right,
        ],
        "rows": [
            [_cell(h) for h in _ZONE_HEAD],
            *(_zone_cells(r) for r in rows.itertuples(index=False)),
        ],
    }


def _action_line(row: Any) -> str:
    paused = [p for p in str(row.pause_restaurants or "").split(";") if p.strip()]
    label = mrkdwn_name(zone_label(str(row.zone_id), str(row.name), 40))
    need, after = as_int(row.required_couriers), as_int(row.couriers_after)
    line = f"• *{label}*: short *{as_int(row.shortage)}* (needs {need}, has {after})"
    if paused:
        orders = float(getattr(row, "paused_orders_per_hour", 0.0) or 0.0)
        # Names next to ids: partners recognise "R00108 Banh Mi Pékin", not "R00108".
        names = str(getattr(row, "pause_restaurant_names", "") or "").split(";")
        labels = paused
        if len(names) == len(paused):
            # each name cut: one long name hid the other ids (what operators act on)
            labels = [
                f"{rid} {cut(name, PAUSE_NAME_CHARS)}".strip()
                for rid, name in zip(paused, names, strict=True)
            ]
        shown = ", ".join(mrkdwn_name(p) for p in labels[:PAUSE_IDS_SHOWN])
        more = f" +{len(paused) - PAUSE_IDS_SHOWN} more" if len(paused) > PAUSE_IDS_SHOWN else ""
        restaurants = wording.plural(len(paused), "restaurant")
        line += f" → pause {restaurants} (−{orders:,.1f} orders/h): {shown}{more}"
    else:
        line += " → no restaurant to pause"
    return cut(line, 600)


def _why_lines(plan: Plan) -> list[str]:
    """One short line per short zone (slot 0): why it stays short (`Plan.explain`)."""
    expl = plan.explain()
    lines = []
    for r in expl.short.head(WHY_LINES).itertuples(index=False):
        label = mrkdwn_name(zone_label(str(r.zone_id), str(r.name), 40))
        # (a sentence naming neighbours: partners' names, no formatting of ours)
        lines.append(cut(f"• *{label}*: {mrkdwn_name(r.why)}", WHY_CHARS))
    if len(expl.short) > WHY_LINES:
        lines.append(f"+{len(expl.short) - WHY_LINES} more: `rebalance explain` on the plan folder")
    return lines


def _route_line(route: Any, names: dict[str, str]) -> str:
    src = mrkdwn_name(zone_label(str(route.from_zone), names.get(str(route.from_zone), ""), 32))
    dst = mrkdwn_name(zone_label(str(route.to_zone), names.get(str(route.to_zone), ""), 32))
    n = int(route.couriers)
    since = getattr(route, "since", None)  # a re-plan: new / unchanged / changed
    return cut(
        f"• *{n}* {'courier' if n == 1 else 'couriers'} {src} → {dst} "
        f"(≤{float(route.minutes):.0f} min; {escape_mrkdwn(route.vehicles)})"
        + (f" · _{since}_" if isinstance(since, str) and since else ""),
        400,
    )


def _sections(
    title: str, lines: list[str], *, limit: int = MAX_SECTION_CHARS
) -> list[dict[str, Any]]:
    """Lines packed into as few sections as the per-section limit allows."""
    blocks: list[dict[str, Any]] = []
    current = title
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit and current:
            blocks.append(section_block(current))
            current = line
        else:
            current = candidate
    if current:
        blocks.append(section_block(current))
    return blocks


# ------------------------------------------------------------------- messages


def metadata(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Message metadata: how the publisher finds its messages in a channel again."""
    return {"event_type": event_type, "event_payload": payload}


def _more(count: int, what: str, in_thread: int, rest: str) -> str:
    """The parent's line for ``count`` more rows of ``what``: "in the thread", or, when
    the thread lists only ``in_thread`` of them, how many it lists and where ``rest``
    (the CSV file that holds them all)."""
    if count > in_thread:
        return f"+{count} more{what}: {in_thread} in the thread, {rest}"
    return f"+{count} more{what} in the thread"


def build_messages(plan: Plan, *, channel: str) -> list[dict[str, Any]]:
    """The chat.postMessage payloads of a plan: the parent first, then thread parts
    holding what did not fit in it (none for a small city).

    Thread parts get their ``thread_ts`` when posted. Every payload respects Slack's
    limits (`message_problems` returns nothing for each).
    """
    key = plan_key(plan.city, plan.local(plan.shift_start))
    chash = content_hash(plan)
    names = zone_names(plan)
    k = plan.kpis
    # The city comes from a config a partner may write: plain text in the header, mrkdwn
    # in the notification fallback (which Slack parses for mentions and links).
    window = wording.shift_window(plan, year=False)
    # A long city name is cut, not the window after it (the header's only time).
    room = MAX_HEADER_CHARS - slack_len(window) - 3  # " · " and the window
    city = cut(plan.city, room)
    title = f"{cut(plain(city), room)} · {window}"  # (plain may write characters out)
    title_md = f"{mrkdwn(city, one_line=True)} · {window}"
    attention = plan.attention()  # zones that change or stay short, most urgent first
    short = attention[attention["action"] == "short"] if len(attention) else attention
    several = plan.slot_count > 1
    routes = plan.routes(0) if several else plan.routes()
    moved = as_int(k.get("moved_couriers", len(plan.moves)))
    moving_now = len(plan.moves_at(0)) if several else moved
    shortage = as_int(k.get("shortage"))

    fields = [
        f"*Coverage*\n{wording.coverage_change(k, arrow='→', missing='–', after='*{}*')}",
        f"*Couriers moved*\n{moved} of {as_int(k.get('eligible_couriers'))} eligible",
        "*Shortage left*\n"
        + (
            f"*{shortage}* courier{'s' if shortage != 1 else ''} in "
            + wording.plural(as_int(k.get("zones_short", len(short))), "zone")
            if shortage
            else "none"
        ),
        f"*Travel*\n{float(k.get('travel_minutes') or 0):,.0f} min in all",
    ]
    if k.get("paused_orders_per_hour"):
        fields.append(f"*Orders to pause*\n{float(k['paused_orders_per_hour']):.1f} per hour")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": cut(title, MAX_HEADER_CHARS), "emoji": True},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": cut(f, MAX_FIELD_CHARS)} for f in fields],
        },
    ]
    if plan.status != "optimal":
        blocks.append(
            context_block(
                ":warning: The solver hit its time limit: this plan is feasible, not proven "
                f"optimal (objective {plan.objective}, best bound {plan.best_bound})."
            )
        )

    # Zone table: one table per message, so the rest goes to the thread.
    overflow: list[list[dict[str, Any]]] = []
    if len(attention):
        shown = attention.head(PARENT_ZONE_ROWS)
        more = len(attention) - len(shown)
        head = f"*Zones that change or stay short* ({len(attention)} of {len(plan.zones)})"
        if more:
            head += " · " + _more(more, "", THREAD_ZONE_ROWS, "all in zones.csv")
        blocks += [{"type": "divider"}, section_block(head), _zone_table(shown)]
        rest = attention.iloc[len(shown) : len(shown) + THREAD_ZONE_ROWS]
        unlisted = len(attention) - len(shown) - len(rest)
        per = MAX_TABLE_ROWS - 1
        for start in range(0, len(rest), per):
            chunk = rest.iloc[start : start + per]
            first = len(shown) + start + 1
            overflow.append(
                [
                    section_block(
                        f"*Zones that change or stay short*, {first}–{first + len(chunk) - 1} "
                        f"of {len(attention)}"
                    ),
                    _zone_table(chunk),
                ]
            )
        if unlisted > 0:
            overflow.append(
                [
                    section_block(
                        f"+{unlisted} more zones that change or stay short: every zone is in zones.csv"
                    )
                ]
            )
    else:
        blocks += [
            {"type": "divider"},
            section_block("*{}* {}".format(*wording.all_covered(plan))),
        ]

    if len(short):
        lines = [_action_line(r) for r in short.itertuples(index=False)]
        head = f"*Action needed: {wording.plural(len(short), 'zone')} stay short*"
        first_lines: list[str] = []
        used = len(head)
        for line in lines[:PARENT_ACTIONS]:
            if used + len(line) + 1 > MAX_SECTION_CHARS - 60:
                break
            first_lines.append(line)
            used += len(line) + 1
        rest_lines = lines[len(first_lines) :]
        if rest_lines:
            first_lines.append(
                _more(len(rest_lines), " short zones", THREAD_ACTIONS, "all in zones.csv")
            )
        blocks.append(section_block(head + "\n" + "\n".join(first_lines)))
        if rest_lines:
            listed = rest_lines[:THREAD_ACTIONS]
            if len(rest_lines) > THREAD_ACTIONS:
                listed.append(
                    f"+{len(rest_lines) - THREAD_ACTIONS} more short zones: every zone and "
                    "the restaurants to pause are in zones.csv"
                )
            overflow.extend([b] for b in _sections("*Action needed*, continued", listed))

    if len(short) and plan.explanation:
        overflow.extend([b] for b in _sections("*Why they stay short*", _why_lines(plan)))

    if len(routes):
        lines = [_route_line(r, names) for r in routes.head(PARENT_ROUTES).itertuples(index=False)]
        on = f"on {wording.plural(len(routes), 'route')}"  # "1 couriers on 1 routes" it was
        head = (
            f"*Move now, {plan.slot_labels()[0]}* ({wording.plural(moving_now, 'courier')} {on})"
            if several
            else f"*Largest moves* ({wording.plural(moved, 'courier')} {on})"
        )
        if len(routes) > PARENT_ROUTES:
            lines.append(
                _more(
                    len(routes) - PARENT_ROUTES,
                    " routes",
                    THREAD_ROUTES - PARENT_ROUTES,
                    "every courier in moves.csv",
                )
            )
        blocks += _sections(head, lines)
        rest_routes = routes.iloc[PARENT_ROUTES:THREAD_ROUTES]
        if len(rest_routes):
            rest = [_route_line(r, names) for r in rest_routes.itertuples(index=False)]
            if len(routes) > THREAD_ROUTES:
                rest.append(
                    f"+{len(routes) - THREAD_ROUTES} more routes: every courier is in moves.csv"
                )
            overflow.extend([b] for b in _sections("*Moves*, continued", rest))

    if several:
        coming, later = _coming_up(plan, names)
        blocks += _sections(
            # the slots after this one, as listed: it said "4 slots" over 3 lines
            f"*Coming up* ({wording.plural(plan.slot_count - 1, 'slot')} of "
            f"{plan.slot_minutes} min)",
            coming,
        )
        overflow.extend(later)

    footer = (
        f"Plan {plan.plan_id} · {plan.status} · solved in {plan.solve_seconds:.2f} s · "
        + ("moves.csv, zones.csv and slots.csv" if several else "moves.csv and zones.csv")
        + " in the thread"
    )
    blocks.append(context_block(escape_mrkdwn(footer)))

    fallback = cut(
        f"{title_md}: coverage {wording.coverage_change(k, arrow='→', missing='–')}, "
        f"{wording.plural(moved, 'courier')} moved, "
        + (
            f"{shortage} short in {wording.plural(as_int(k.get('zones_short')), 'zone')}."
            if shortage
            else "no shortage left."
        ),
        MAX_FALLBACK_CHARS,
    )
    parent = {
        "channel": channel,
        "text": fallback,
        "blocks": blocks,
        "metadata": metadata(
            EVENT_TYPE, {"plan_key": key, "content_hash": chash, "plan_id": plan.plan_id}
        ),
        "unfurl_links": False,
        "unfurl_media": False,
    }
    parts = _pack(overflow)
    payloads = [parent]
    for i, part in enumerate(parts, 1):
        payloads.append(
            {
                "channel": channel,
                "text": cut(f"{title_md} (continued, {i} of {len(parts)})", MAX_FALLBACK_CHARS),
                "blocks": part,
                "metadata": metadata(
                    PART_EVENT_TYPE, {"plan_key": key, "content_hash": chash, "part": i}
                ),
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )
    return payloads


def _coming_up(plan: Plan, names: dict[str, str]) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Later slots: one line each for the parent, their routes for the thread."""
    from rebalance.views.timeline import slot_summary

    summary = slot_summary(plan)
    lines: list[str] = []
    thread: list[list[dict[str, Any]]] = []
    later = {k: plan.routes(k) for k in range(1, len(summary))}
    moving = sum(len(r) > 0 for r in later.values())
    share = max(LATER_SLOT_ROUTES, THREAD_ROUTES // max(moving, 1))
    for k, row in enumerate(summary.itertuples(index=False)):
        if k == 0:
            continue
        what = []
        if row.moves:
            what.append(f"{row.moves} move{'s' if row.moves != 1 else ''}")
        if row.logged_on:
            what.append(f"{row.logged_on} log on")
        gone = int(summary["logged_off"].iloc[k - 1])
        if gone:
            what.append(f"{gone} logged off")
        short = (
            f"short *{row.short}* in {row.zones_short} zone{'s' if row.zones_short != 1 else ''}"
            if row.short
            else "no shortage"
        )
        lines.append(f"• *{row.label}*: " + ", ".join([*what, short]))
        routes = later[k]
        if len(routes):
            route_lines = [
                _route_line(r, names) for r in routes.head(share).itertuples(index=False)
            ]
            if len(routes) > share:
                route_lines.append(f"+{len(routes) - share} more routes in moves.csv")
            thread.extend([b] for b in _sections(f"*Moves at {row.label}*", route_lines))
    if len(lines) > 16:
        busy = [line for line in lines if "move" in line or "short *" in line]
        lines = busy[:16] + (
            [f"+{len(busy) - 16} more slots in slots.csv"] if len(busy) > 16 else []
        )
    return lines, thread


def _pack(groups: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Groups of blocks packed in order into messages within the limits (one table each)."""
    messages: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for group in groups:
        tables = sum(b["type"] == "table" for b in current) + sum(
            b["type"] == "table" for b in group
        )
        fits = (
            len(current) + len(group) <= MAX_BLOCKS
            and visible_chars(current) + visible_chars(group) <= MAX_MESSAGE_CHARS
            and tables <= 1
        )
        if current and not fits:
            messages.append(current)
            current = []
        current = current + group
    if current:
        messages.append(current)
    return messages


def build_files(plan: Plan, *, marker: str = "") -> list[dict[str, Any]]:
    """files_upload_v2 ``file_uploads`` for the thread: moves.csv and zones.csv, as in
    the plan folder. ``marker`` goes into the titles, to find the upload again."""
    start = plan.local(plan.shift_start)
    # the plan id too: a revision's files were named as the first version's, and a
    # thread held two paris-2026-11-30-1930-moves.csv (the id is in the parent's footer)
    version = f"-{slug(plan.plan_id)[:8]}" if plan.plan_id else ""
    stem = f"{slug(plan.city)}-{start:%Y-%m-%d-%H%M}{version}"
    suffix = f" [{marker}]" if marker else ""
    # the city cut: Slack may shorten a long title, and the marker at its end is how a
    # re-run finds this upload (not finding it, it would upload the files again)
    when = f"{plain(cut(plan.city, FILE_TITLE_CITY_CHARS))}, {start:%a %d %b %H:%M}"
    several = plan.slot_count > 1
    moves = plan.moves[list(MOVES_COLUMNS)].copy()
    if several:
        moves["slot_start"] = plan.moves["slot_start"].map(lambda ts: ts.isoformat())
    if "since_previous" in plan.moves.columns:  # a re-plan, as in its moves.csv
        moves["since_previous"] = plan.moves["since_previous"]
    # csv_bytes: the plan folder's files, with their formula guard (a partner opens
    # these in Excel).
    zones = plan.zones.reindex(columns=ZONES_COLUMNS)
    files = [
        {
            "filename": f"{stem}-moves.csv",
            "title": f"Moves · {when}{suffix}",
            "content": csv_bytes(moves).decode("utf-8"),
        },
        {
            "filename": f"{stem}-zones.csv",
            "title": f"Zones · {when}{suffix}",
            "content": csv_bytes(zones).decode("utf-8"),
        },
    ]
    if several:
        slots = plan.slots[SLOTS_COLUMNS].copy()
        for column in ("slot_start", "slot_end"):
            slots[column] = slots[column].map(lambda ts: ts.isoformat())
        files.append(
            {
                "filename": f"{stem}-slots.csv",
                "title": f"Slots · {when}{suffix}",
                "content": csv_bytes(slots).decode("utf-8"),
            }
        )
    return files


def files_payload(
    channel: str, files: list[dict[str, Any]], comment: str = FILES_COMMENT
) -> dict[str, Any]:
    """The files upload as shown by --dry-run: the contents summarised by size."""
    return {
        "channel": channel,
        "initial_comment": comment,
        "file_uploads": [
            {"filename": f["filename"], "title": f["title"], "bytes": len(f["content"].encode())}
            for f in files
        ],
    }
