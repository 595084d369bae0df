"""Publish a plan to a Slack channel: one parent message per (city, shift, channel),
kept current, never posted twice (CONTRACT section 5).

The message
    A parent message (header, KPIs, a table of the zones that change or stay short,
    the actions needed, the largest moves; plain ``text`` fallback) and, in its
    thread, whatever did not fit plus moves.csv and zones.csv. `build_messages` keeps
    every payload within Slack's limits for any city size.

Exactly once
    The history store records (plan key, channel) -> (ts, content hash, snapshot).
    With a record: same content -> nothing is posted; new content -> ``chat.update``
    of the parent and one thread reply saying what changed (with the new files).
    Without a record, the channel is searched first for a parent carrying this plan
    key in its metadata (a crash between posting and recording), and it is adopted.
    After an ambiguous failure of ``chat.postMessage`` (timeout, reset, 5xx) the
    channel is searched again before anything is re-sent. Thread replies carry
    metadata too, and the file message a marker in its titles, so an interrupted
    thread is finished on the next run without duplicates.

Every failure is a `PublishError` (exit 5) saying why and how to retry; the plan
folder is only read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import ConfigError, Issue, PublishError
from .plan import MOVES_COLUMNS, ZONES_COLUMNS, Plan, read_plan

if TYPE_CHECKING:
    from .config import Config
    from .history import History, Publication
    from .slack import SlackCallError, SlackClient

__all__ = [
    "EVENT_TYPE",
    "PART_EVENT_TYPE",
    "PublishResult",
    "block_kit_builder_url",
    "build_files",
    "build_messages",
    "content_hash",
    "describe_changes",
    "dry_run_document",
    "message_problems",
    "plan_key",
    "publish",
    "resolve_channel",
    "snapshot",
]

#: Metadata event types: the parent message, and a thread part holding what did not fit.
EVENT_TYPE = "rebalance_plan"
PART_EVENT_TYPE = "rebalance_plan_part"
#: How far before the shift start the channel is searched for an unrecorded parent.
SEARCH_HOURS = 36

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_TABLE_ROWS = 100  # header row included
MAX_TABLE_COLUMNS = 20
#: What a reader sees in one message (all texts, fields, cells); Slack's hard limit on
#: blocks is looser, but past this a message stops being readable on a phone.
MAX_MESSAGE_CHARS = 12_000
MAX_FALLBACK_CHARS = 3000

#: What the parent shows before "+N more" (the rest goes into the thread).
PARENT_ZONE_ROWS = 25
PARENT_ACTIONS = 10
PARENT_ROUTES = 8
#: Routes listed in the thread at most (moves.csv holds every courier).
THREAD_ROUTES = 150
#: Restaurant ids listed per short zone before "+N more".
PAUSE_IDS_SHOWN = 10
ZONE_LABEL_CHARS = 28

_ZONE_HEAD = ["Zone", "Action", "Need", "Before", "After", "Moves", "Short"]


@dataclass(frozen=True)
class PublishResult:
    """What `publish` did.

    ``action``: ``posted`` (new parent), ``updated`` (parent edited in place, changes
    in its thread), ``unchanged`` (same plan already there; at most a missing thread
    part finished), ``adopted`` (an unrecorded parent found in the channel and
    recorded) or ``dry-run``. ``payloads``: the chat.postMessage payloads, parent
    first, then thread parts, then the files upload (``file_uploads`` without content).
    """

    action: str
    channel: str
    ts: str | None
    plan_key: str
    content_hash: str
    thread_replies: int
    payloads: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------- identity


def plan_key(city: str, shift_start_iso_local: str) -> str:
    """The identity of a (city, shift): ``paris@2026-11-30T19:00+01:00``.

    The city is case-folded with blanks as ``-``; the shift start is normalised to
    minutes with its UTC offset, so equal instants written differently match.
    """
    slug = re.sub(r"\s+", "-", city.strip().casefold())
    start = shift_start_iso_local.strip()
    with contextlib.suppress(ValueError):
        start = datetime.fromisoformat(start).isoformat(timespec="minutes")
    return f"{slug}@{start}"


def _canonical_csv(frame: pd.DataFrame, columns: list[str], key: str) -> str:
    present = [c for c in columns if c in frame.columns]
    ordered = frame[present].sort_values(key, kind="stable") if len(frame) else frame[present]
    text: str = ordered.to_csv(index=False, lineterminator="\n")
    return text


def content_hash(plan: Plan) -> str:
    """sha256 of the plan's zones and moves in a canonical form (not its timings)."""
    digest = hashlib.sha256()
    digest.update(b"zones.csv\n")
    digest.update(_canonical_csv(plan.zones, ZONES_COLUMNS, "zone_id").encode())
    digest.update(b"moves.csv\n")
    digest.update(_canonical_csv(plan.moves, list(MOVES_COLUMNS), "courier_id").encode())
    return digest.hexdigest()


def snapshot(plan: Plan) -> dict[str, Any]:
    """The compact view of a plan kept in history, to say later what changed."""
    zones = {
        str(r.zone_id): [
            int(r.required_couriers),
            int(r.couriers_before),
            int(r.couriers_after),
            int(r.moved_in),
            int(r.moved_out),
            int(r.shortage),
        ]
        for r in plan.zones.itertuples(index=False)
    }
    moves = {
        str(r.courier_id): [str(r.from_zone), str(r.to_zone)]
        for r in plan.moves.itertuples(index=False)
    }
    k = plan.kpis
    return {
        "kpis": {
            "coverage": k.get("coverage"),
            "moved_couriers": k.get("moved_couriers"),
            "shortage": k.get("shortage"),
        },
        "zones": zones,
        "moves": moves,
    }


# ---------------------------------------------------------------- text helpers


def _esc(text: object) -> str:
    """Escape for mrkdwn (Slack reads <, > and & as markup)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * float(x):.1f}%"


def _int(x: Any) -> int:
    try:
        return int(x)
    except (TypeError, ValueError):
        return 0


def _window(plan: Plan) -> str:
    start = plan.local(plan.shift_start)
    end = plan.local(plan.shift_end)
    days = "" if start.date() == end.date() else " (+1 day)"
    return f"{start:%a %d %b %H:%M}–{end:%H:%M}{days} {start.tzname()}"


def _zone_names(plan: Plan) -> dict[str, str]:
    return {str(z): str(n) for z, n in zip(plan.zones["zone_id"], plan.zones["name"], strict=False)}


def _zone_label(zone_id: str, name: str, limit: int = ZONE_LABEL_CHARS) -> str:
    return _cut(f"{zone_id} {name}".strip(), limit)


# -------------------------------------------------------------- block helpers


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION_CHARS)}}


def _context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_SECTION_CHARS)}],
    }


def _cell(text: object) -> dict[str, Any]:
    value = str(text)
    return {"type": "raw_text", "text": value if value else "–"}


def _zone_cells(row: Any) -> list[dict[str, Any]]:
    moved_in, moved_out = _int(row.moved_in), _int(row.moved_out)
    moves = " ".join(
        x for x in (f"+{moved_in}" if moved_in else "", f"−{moved_out}" if moved_out else "") if x
    )
    return [
        _cell(_zone_label(str(row.zone_id), str(row.name))),
        _cell(row.action),
        _cell(_int(row.required_couriers)),
        _cell(_int(row.couriers_before)),
        _cell(_int(row.couriers_after)),
        _cell(moves or "–"),
        _cell(_int(row.shortage) or "–"),
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
    label = _esc(_zone_label(str(row.zone_id), str(row.name), 40))
    need, after = _int(row.required_couriers), _int(row.couriers_after)
    line = f"• *{label}*: short *{_int(row.shortage)}* (needs {need}, has {after})"
    if paused:
        orders = float(getattr(row, "paused_orders_per_hour", 0.0) or 0.0)
        # Names next to ids: partners recognise "R00108 Banh Mi Pékin", not "R00108".
        names = str(getattr(row, "pause_restaurant_names", "") or "").split(";")
        labels = paused
        if len(names) == len(paused):
            labels = [f"{rid} {name}".strip() for rid, name in zip(paused, names, strict=True)]
        shown = ", ".join(_esc(p) for p in labels[:PAUSE_IDS_SHOWN])
        more = f" +{len(paused) - PAUSE_IDS_SHOWN} more" if len(paused) > PAUSE_IDS_SHOWN else ""
        plural = "s" if len(paused) != 1 else ""
        line += f" → pause {len(paused)} restaurant{plural} (−{orders:.1f} orders/h): {shown}{more}"
    else:
        line += " → no restaurant to pause"
    return _cut(line, 600)


def _route_line(route: Any, names: dict[str, str]) -> str:
    src = _esc(_zone_label(str(route.from_zone), names.get(str(route.from_zone), ""), 32))
    dst = _esc(_zone_label(str(route.to_zone), names.get(str(route.to_zone), ""), 32))
    n = int(route.couriers)
    return _cut(
        f"• *{n}* courier{'s' if n != 1 else ''} {src} → {dst} "
        f"(≤{float(route.minutes):.0f} min; {_esc(route.vehicles)})",
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
            blocks.append(_text_block(current))
            current = line
        else:
            current = candidate
    if current:
        blocks.append(_text_block(current))
    return blocks


# ------------------------------------------------------------------- messages


def _chars(blocks: Iterable[dict[str, Any]]) -> int:
    total = 0

    def walk(value: Any, key: str = "") -> None:
        nonlocal total
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key == "text":
            total += len(value)

    walk(list(blocks))
    return total


def _metadata(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": event_type, "event_payload": payload}


def build_messages(plan: Plan, *, channel: str) -> list[dict[str, Any]]:
    """The chat.postMessage payloads of a plan: the parent first, then thread parts
    holding what did not fit in it (none for a small city).

    Thread parts get their ``thread_ts`` when posted. Every payload respects Slack's
    limits (`message_problems` returns nothing for each).
    """
    key = plan_key(plan.city, plan.local(plan.shift_start).isoformat())
    chash = content_hash(plan)
    names = _zone_names(plan)
    k = plan.kpis
    title = f"{plan.city} · {_window(plan)}"
    attention = plan.attention()  # zones that change or stay short, most urgent first
    short = attention[attention["action"] == "short"] if len(attention) else attention
    routes = plan.routes()
    moved = _int(k.get("moved_couriers", len(plan.moves)))
    shortage = _int(k.get("shortage"))

    fields = [
        f"*Coverage*\n{_pct(k.get('coverage_before'))} → *{_pct(k.get('coverage'))}*",
        f"*Couriers moved*\n{moved} of {_int(k.get('eligible_couriers'))} eligible",
        "*Shortage left*\n"
        + (
            f"*{shortage}* courier{'s' if shortage != 1 else ''} in {_int(k.get('zones_short', len(short)))} zone(s)"
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
            "text": {"type": "plain_text", "text": _cut(title, MAX_HEADER_CHARS), "emoji": True},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": _cut(f, MAX_FIELD_CHARS)} for f in fields],
        },
    ]
    if plan.status != "optimal":
        blocks.append(
            _context(
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
            head += f" · +{more} more in the thread"
        blocks += [{"type": "divider"}, _text_block(head), _zone_table(shown)]
        rest = attention.iloc[len(shown) :]
        per = MAX_TABLE_ROWS - 1
        for start in range(0, len(rest), per):
            chunk = rest.iloc[start : start + per]
            first = len(shown) + start + 1
            overflow.append(
                [
                    _text_block(
                        f"*Zones that change or stay short*, {first}–{first + len(chunk) - 1} "
                        f"of {len(attention)}"
                    ),
                    _zone_table(chunk),
                ]
            )
    else:
        blocks += [
            {"type": "divider"},
            _text_block("*Every zone is covered where it stands:* no moves needed."),
        ]

    if len(short):
        lines = [_action_line(r) for r in short.itertuples(index=False)]
        head = f"*Action needed: {len(short)} zone{'s' if len(short) != 1 else ''} stay short*"
        first_lines: list[str] = []
        used = len(head)
        for line in lines[:PARENT_ACTIONS]:
            if used + len(line) + 1 > MAX_SECTION_CHARS - 60:
                break
            first_lines.append(line)
            used += len(line) + 1
        rest_lines = lines[len(first_lines) :]
        if rest_lines:
            first_lines.append(f"+{len(rest_lines)} more short zones in the thread")
        blocks.append(_text_block(head + "\n" + "\n".join(first_lines)))
        if rest_lines:
            overflow.extend([b] for b in _sections("*Action needed*, continued", rest_lines))

    if len(routes):
        lines = [_route_line(r, names) for r in routes.head(PARENT_ROUTES).itertuples(index=False)]
        head = f"*Largest moves* ({moved} couriers on {len(routes)} routes)"
        if len(routes) > PARENT_ROUTES:
            lines.append(f"+{len(routes) - PARENT_ROUTES} more routes in the thread")
        blocks += _sections(head, lines)
        rest_routes = routes.iloc[PARENT_ROUTES:THREAD_ROUTES]
        if len(rest_routes):
            rest = [_route_line(r, names) for r in rest_routes.itertuples(index=False)]
            if len(routes) > THREAD_ROUTES:
                rest.append(
                    f"+{len(routes) - THREAD_ROUTES} more routes: every courier is in moves.csv"
                )
            overflow.extend([b] for b in _sections("*Moves*, continued", rest))

    footer = (
        f"Plan {plan.plan_id} · {plan.status} · solved in {plan.solve_seconds:.2f} s · "
        "moves.csv and zones.csv in the thread"
    )
    blocks.append(_context(_esc(footer)))

    fallback = _cut(
        f"{title}: coverage {_pct(k.get('coverage_before'))} → {_pct(k.get('coverage'))}, "
        f"{moved} couriers moved, "
        + (
            f"{shortage} short in {_int(k.get('zones_short'))} zone(s)."
            if shortage
            else "no shortage left."
        ),
        MAX_FALLBACK_CHARS,
    )
    parent = {
        "channel": channel,
        "text": fallback,
        "blocks": blocks,
        "metadata": _metadata(
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
                "text": _cut(f"{title} (continued, {i} of {len(parts)})", MAX_FALLBACK_CHARS),
                "blocks": part,
                "metadata": _metadata(
                    PART_EVENT_TYPE, {"plan_key": key, "content_hash": chash, "part": i}
                ),
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )
    return payloads


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
            and _chars(current) + _chars(group) <= MAX_MESSAGE_CHARS
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
    slug = re.sub(r"[^a-z0-9]+", "-", plan.city.casefold()).strip("-") or "city"
    stem = f"{slug}-{start:%Y-%m-%d-%H%M}"
    suffix = f" [{marker}]" if marker else ""
    when = f"{plan.city}, {start:%a %d %b %H:%M}"
    return [
        {
            "filename": f"{stem}-moves.csv",
            "title": f"Moves · {when}{suffix}",
            "content": plan.moves[list(MOVES_COLUMNS)].to_csv(index=False, lineterminator="\n"),
        },
        {
            "filename": f"{stem}-zones.csv",
            "title": f"Zones · {when}{suffix}",
            "content": plan.zones[ZONES_COLUMNS].to_csv(index=False, lineterminator="\n"),
        },
    ]


def _files_payload(channel: str, files: list[dict[str, Any]], comment: str) -> dict[str, Any]:
    """The files upload as shown by --dry-run: the contents summarised by size."""
    return {
        "channel": channel,
        "initial_comment": comment,
        "file_uploads": [
            {"filename": f["filename"], "title": f["title"], "bytes": len(f["content"].encode())}
            for f in files
        ],
    }


FILES_COMMENT = "Every move and every zone of this plan, as CSV."


def message_problems(payload: dict[str, Any]) -> list[str]:
    """Which of Slack's limits a chat.postMessage payload breaks (empty: none)."""
    problems: list[str] = []
    blocks = payload.get("blocks") or []
    text = str(payload.get("text") or "")
    if not text:
        problems.append("no text fallback")
    if len(text) > MAX_FALLBACK_CHARS:
        problems.append(f"text fallback of {len(text)} characters")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    if _chars(blocks) > MAX_MESSAGE_CHARS:
        problems.append(f"{_chars(blocks)} characters > {MAX_MESSAGE_CHARS}")
    tables = [b for b in blocks if b["type"] == "table"]
    if len(tables) > 1:
        problems.append(f"{len(tables)} tables in one message")
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "header" and len(block["text"]["text"]) > MAX_HEADER_CHARS:
            problems.append(f"block {i}: header over {MAX_HEADER_CHARS} characters")
        if kind == "section":
            if "text" in block and not 0 < len(block["text"]["text"]) <= MAX_SECTION_CHARS:
                problems.append(
                    f"block {i}: section text of {len(block['text']['text'])} characters"
                )
            fields = block.get("fields") or []
            if len(fields) > MAX_FIELDS or any(len(f["text"]) > MAX_FIELD_CHARS for f in fields):
                problems.append(f"block {i}: fields over the limits")
        if kind == "context" and any(
            len(e.get("text", "")) > MAX_SECTION_CHARS for e in block["elements"]
        ):
            problems.append(f"block {i}: context text too long")
        if kind == "table":
            rows = block["rows"]
            if len(rows) > MAX_TABLE_ROWS or any(len(r) > MAX_TABLE_COLUMNS for r in rows):
                problems.append(f"block {i}: table of {len(rows)} rows")
            if any(not c.get("text") for r in rows for c in r):
                problems.append(f"block {i}: empty table cell")
    return problems


def block_kit_builder_url(payload: dict[str, Any]) -> str:
    """A Block Kit Builder link previewing a payload's blocks."""
    doc = json.dumps(
        {"blocks": payload.get("blocks", [])}, ensure_ascii=False, separators=(",", ":")
    )
    return "https://app.slack.com/block-kit-builder#" + urllib.parse.quote(doc, safe="")


def dry_run_document(result: PublishResult) -> str:
    """What --dry-run prints: the payloads in posting order and a preview link, as JSON."""
    entries = []
    for i, payload in enumerate(result.payloads):
        method = "files_upload_v2" if "file_uploads" in payload else "chat.postMessage"
        entries.append({"method": method, "in_thread": i > 0, "payload": payload})
    doc = {
        "channel": result.channel,
        "plan_key": result.plan_key,
        "content_hash": result.content_hash,
        "payloads": entries,
        "block_kit_builder": block_kit_builder_url(result.payloads[0]) if result.payloads else None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------- what changed


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
        f"Coverage {_pct(ok.get('coverage'))} → {_pct(nk.get('coverage'))} · "
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
        label = _esc(_zone_label(zone, names.get(zone, "")))
        if a is None:
            zone_lines.append(f"{label}: new zone")
        elif b is None:
            zone_lines.append(f"{label}: no longer in the plan")
        else:
            diffs = [f"{n} {x} → {y}" for n, x, y in zip(columns, a, b, strict=False) if x != y]
            zone_lines.append(f"{label}: {', '.join(diffs)}")
    om, nm = old.get("moves") or {}, new.get("moves") or {}
    added = [f"{_esc(c)} ({_esc(nm[c][0])} → {_esc(nm[c][1])})" for c in sorted(set(nm) - set(om))]
    dropped = [
        f"{_esc(c)} (was {_esc(om[c][0])} → {_esc(om[c][1])})" for c in sorted(set(om) - set(nm))
    ]
    rerouted = [
        f"{_esc(c)} {_esc(nm[c][0])} → {_esc(nm[c][1])} (was → {_esc(om[c][1])})"
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
        return _cut(head + "\nOnly travel details changed; the files below are current.", limit)
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
    return _cut("\n".join(parts), limit)


# ---------------------------------------------------------------------- publish


def resolve_channel(config: Config, channel: str | None = None, *, dry_run: bool = False) -> str:
    """The channel to publish to: ``channel``, else ``[slack] channel``.

    A dry run needs none (its payloads then carry an empty channel); otherwise a missing
    or malformed ID is a `ConfigError` naming the key, before anything is planned.
    """
    target = (channel or config.slack.channel or "").strip()
    if not target and dry_run:
        return ""
    source = str(config.source) if config.source else None
    if not target:
        raise ConfigError(
            Issue(
                "no Slack channel to publish to",
                file=source,
                key="slack.channel",
                valid="a channel ID such as 'C0123ABCD' in [slack] channel, or --channel "
                "(a dry run needs none)",
            ),
            title="invalid configuration",
        )
    if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", target):
        raise ConfigError(
            Issue(
                "not a Slack channel ID (a channel is addressed by its ID, not its name)",
                file=None if channel else source,
                key="slack.channel" if not channel else "--channel",
                value=target,
                valid="an ID such as 'C0123ABCD' (channel details, bottom of the About tab)",
            ),
            title="invalid configuration",
        )
    return target


def publish(
    plan_dir: str | Path,
    *,
    config: Config,
    channel: str | None = None,
    dry_run: bool = False,
    history: History | None = None,
    log: Callable[[str], None] | None = None,
) -> PublishResult:
    """Post the plan in ``plan_dir`` to Slack once, or bring its message up to date.

    ``channel`` defaults to ``[slack] channel`` (neither: `ConfigError` on
    ``slack.channel``). ``dry_run`` posts nothing, needs no token, writes no history.
    ``history`` defaults to the store at ``config.history_path``. Raises `PublishError`
    (exit 5) when Slack refuses or cannot be reached; the plan folder is only read.
    """
    plan = read_plan(plan_dir)
    target = resolve_channel(config, channel, dry_run=dry_run)
    key = plan_key(plan.city, plan.local(plan.shift_start).isoformat())
    chash = content_hash(plan)
    messages = build_messages(plan, channel=target)
    if dry_run:
        files = build_files(plan, marker=f"{chash[:10]}.1")
        payloads = [*messages, _files_payload(target, files, FILES_COMMENT)]
        return PublishResult("dry-run", target, None, key, chash, 0, payloads)

    from .slack import SlackClient

    client = SlackClient.from_env(log=log)
    store = history
    if store is None:
        from .history import History

        store = History(config.history_path)
    try:
        return _Publisher(plan, target, key, chash, messages, client, store, log).run()
    finally:
        if history is None:
            store.close()


class _Publisher:
    """One publication run: the exactly-once logic of the module docstring."""

    def __init__(
        self,
        plan: Plan,
        channel: str,
        key: str,
        chash: str,
        messages: list[dict[str, Any]],
        client: SlackClient,
        history: History,
        log: Callable[[str], None] | None,
    ):
        self.plan = plan
        self.channel = channel
        self.key = key
        self.hash = chash
        self.parent = messages[0]
        self.parts = messages[1:]
        self.client = client
        self.history = history
        self._log = log
        self.snapshot = snapshot(plan)
        self.replies_posted = 0
        self.version = 1
        self._joined = False
        self._join_error: str | None = None
        self._bot: str | None = None

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def result(self, action: str, ts: str | None) -> PublishResult:
        files = build_files(self.plan, marker=self.marker)
        payloads = [self.parent, *self.parts, _files_payload(self.channel, files, FILES_COMMENT)]
        return PublishResult(
            action, self.channel, ts, self.key, self.hash, self.replies_posted, payloads
        )

    @property
    def marker(self) -> str:
        """Put in the file titles: finds this version's upload in the thread again."""
        return f"{self.hash[:10]}.{self.version}"

    # ------------------------------------------------------------- the flow
    def run(self) -> PublishResult:
        from .slack import SlackCallError

        try:
            return self._run()
        except SlackCallError as exc:
            raise self.error(exc) from None

    def _run(self) -> PublishResult:
        record = self.history.publication(self.key, self.channel)
        if record is not None:
            self.version = int(record.snapshot.get("version") or 1)
            if record.content_hash == self.hash:
                thread = record.snapshot.get("thread") or {}
                if thread.get("complete"):
                    self.log(
                        f"publish: {self.key} already in {self.channel} (ts {record.ts}), unchanged"
                    )
                    return self.result("unchanged", record.ts)
                self.log("publish: parent is current; finishing its thread")
                self._finish_thread(record.ts, note=thread.get("note"), fresh=False)
                return self.result("unchanged", record.ts)
            return self._revise(record)
        self.log(f"publish: no record of {self.key} in {self.channel}; searching the channel first")
        found = self._find_parent()
        if found is not None:
            return self._adopt(found)
        ts, adopted = self._post_parent()
        self._record(ts, complete=False, note=None)
        self._finish_thread(ts, note=None, fresh=not adopted)
        return self.result("adopted" if adopted else "posted", ts)

    def _revise(self, record: Publication) -> PublishResult:
        from .slack import SlackCallError

        self.version += 1
        self.log(f"publish: plan changed; updating the message {record.ts} in place")
        try:
            self._update_parent(record.ts)
        except SlackCallError as exc:
            if exc.error != "message_not_found":
                raise
            # Deleted by someone: post a fresh parent and let it replace the record.
            self.log(f"publish: message {record.ts} is gone from {self.channel}; posting a new one")
            self.version = 1
            ts, adopted = self._post_parent()
            self._record(ts, complete=False, note=None)
            self._finish_thread(ts, note=None, fresh=not adopted)
            return self.result("posted", ts)
        note = describe_changes(record.snapshot, self.snapshot, names=_zone_names(self.plan))
        self._record(record.ts, complete=False, note=note)
        self._finish_thread(record.ts, note=note, fresh=False)
        return self.result("updated", record.ts)

    def _adopt(self, found: dict[str, Any]) -> PublishResult:
        ts = str(found["ts"])
        their_hash = ((found.get("metadata") or {}).get("event_payload") or {}).get("content_hash")
        if their_hash == self.hash:
            self.log(
                f"publish: found this plan's message {ts} in {self.channel} (unrecorded); adopting it"
            )
            self._record(ts, complete=False, note=None)
            self._finish_thread(ts, note=None, fresh=False)
            return self.result("adopted", ts)
        self.log(f"publish: found an older version {ts} (unrecorded); updating it in place")
        self.version = 2
        self._update_parent(ts)
        note = (
            "*Plan revised.* The previous version was not recorded in this history store, "
            "so the changes cannot be itemised; the message above and the files below are current."
        )
        self._record(ts, complete=False, note=note)
        self._finish_thread(ts, note=note, fresh=False)
        return self.result("updated", ts)

    # ------------------------------------------------------------ the parts
    def _update_parent(self, ts: str) -> None:
        """chat.update of the parent to this plan's content."""
        self._update_part(ts, self.parent)

    def _record(self, ts: str, *, complete: bool, note: str | None) -> None:
        from .history import Publication

        snap = dict(self.snapshot)
        snap["version"] = self.version
        snap["thread"] = {"complete": complete, "note": note}
        self.history.save_publication(
            Publication(
                plan_key=self.key,
                channel=self.channel,
                city=self.plan.city,
                shift_start=self.plan.local(self.plan.shift_start).isoformat(),
                ts=ts,
                content_hash=self.hash,
                plan_id=self.plan.plan_id,
                snapshot=snap,
            )
        )

    def _search_oldest(self) -> float:
        # A parent of this shift was posted in the hours before it, or (a crash being
        # retried, a plan made days ahead) recently: search back from the earlier.
        window = pd.Timedelta(hours=SEARCH_HOURS)
        start = min(self.plan.shift_start, pd.Timestamp.now(tz="UTC")) - window
        return float(start.timestamp())

    def _find_parent(self) -> dict[str, Any] | None:
        """The newest top-level message of the channel carrying this plan key."""
        for message in self._channel_call(
            lambda: list(self.client.history(self.channel, oldest=self._search_oldest()))
        ):
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == EVENT_TYPE
                and (meta.get("event_payload") or {}).get("plan_key") == self.key
            ):
                return dict(message)
        return None

    def _post_parent(self) -> tuple[str, bool]:
        """Post the parent; after an ambiguous failure, look for it before trying again.

        Returns (ts, adopted): adopted is true when the failed post turned out stored.
        """
        from .slack import SlackCallError

        last: SlackCallError | None = None
        for attempt in range(2):
            try:
                response = self._channel_call(lambda: self.client.post_message(**self.parent))
                self.log(f"publish: posted {self.key} to {self.channel} (ts {response['ts']})")
                return str(response["ts"]), False
            except SlackCallError as exc:
                if not exc.ambiguous:
                    raise
                last = exc
                self.log(
                    f"publish: {exc.describe()}; it may have been stored, looking before retrying"
                )
                self.client.wait(min(2.0, self.client.timeout))
                found = self._find_parent()
                if found is not None:
                    their = ((found.get("metadata") or {}).get("event_payload") or {}).get(
                        "content_hash"
                    )
                    if their != self.hash:
                        # Another publisher raced us with other content: bring it to ours.
                        self._update_parent(str(found["ts"]))
                    self.log(f"publish: the message was stored (ts {found['ts']}); adopting it")
                    return str(found["ts"]), True
                if attempt == 0:
                    self.log("publish: not stored; posting again")
        assert last is not None
        raise last

    def _thread_state(self, ts: str) -> tuple[dict[int, tuple[str, str | None]], bool]:
        """Parts already in the thread (part -> (ts, content hash)) and whether this
        version's files are there."""
        parts: dict[int, tuple[str, str | None]] = {}
        files = False
        for message in self._channel_call(lambda: list(self.client.replies(self.channel, ts))):
            if str(message.get("ts")) == ts:
                continue
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == PART_EVENT_TYPE and payload.get("plan_key") == self.key:
                parts[_int(payload.get("part"))] = (str(message["ts"]), payload.get("content_hash"))
            if any(self.marker in str(f.get("title", "")) for f in message.get("files") or []):
                files = True
        return parts, files

    def _finish_thread(self, ts: str, *, note: str | None, fresh: bool) -> None:
        """Post or update the overflow parts, then the files (with ``note``), then record
        the thread as complete. ``fresh``: the parent was just posted, its thread is empty."""
        existing, files_done = ({}, False) if fresh else self._thread_state(ts)
        for i, part in enumerate(self.parts, 1):
            if i in existing:
                part_ts, their_hash = existing[i]
                if their_hash != self.hash:
                    self._update_part(part_ts, part)
                continue
            self._post_reply(ts, i, part)
        for i, (part_ts, their_hash) in sorted(existing.items()):
            if i > len(self.parts) and their_hash != self.hash:
                self._update_part(part_ts, self._superseded(i))
        if not files_done:
            self._upload(ts, note or FILES_COMMENT)
        self._record(ts, complete=True, note=None)

    def _update_part(self, ts: str, payload: dict[str, Any]) -> None:
        fields = {k: v for k, v in payload.items() if not k.startswith("unfurl")}
        self._channel_call(lambda: self.client.update_message(ts=ts, **fields))

    def _superseded(self, part: int) -> dict[str, Any]:
        text = "(An earlier version of the plan needed this part; the message above is current.)"
        return {
            "channel": self.channel,
            "text": text,
            "blocks": [_context(text)],
            "metadata": _metadata(
                PART_EVENT_TYPE, {"plan_key": self.key, "content_hash": self.hash, "part": part}
            ),
        }

    def _post_reply(self, ts: str, part: int, payload: dict[str, Any]) -> None:
        from .slack import SlackCallError

        for attempt in range(2):
            try:
                self._channel_call(lambda: self.client.post_message(thread_ts=ts, **payload))
                self.replies_posted += 1
                return
            except SlackCallError as exc:
                if not exc.ambiguous or attempt == 1:
                    raise
                self.log(
                    f"publish: {exc.describe()}; looking for thread part {part} before retrying"
                )
                existing, _ = self._thread_state(ts)
                if existing.get(part, ("", None))[1] == self.hash:
                    return

    def _upload(self, ts: str, comment: str) -> None:
        from .slack import SlackCallError

        files = build_files(self.plan, marker=self.marker)
        for attempt in range(2):
            try:
                self._channel_call(
                    lambda: self.client.upload_files(
                        channel=self.channel, thread_ts=ts, files=files, initial_comment=comment
                    )
                )
                self.replies_posted += 1
                return
            except SlackCallError as exc:
                if not exc.ambiguous or attempt == 1:
                    raise
                self.log(f"publish: {exc.describe()}; looking for the files before retrying")
                _, done = self._thread_state(ts)
                if done:
                    return

    # ---------------------------------------------------------- membership
    def _channel_call(self, fn: Callable[[], Any]) -> Any:
        """Run a call on the channel; if the bot is not in it, join once and retry."""
        from .slack import SlackCallError

        try:
            return fn()
        except SlackCallError as exc:
            if exc.error not in {"not_in_channel", "channel_not_found"} or self._joined:
                raise
            self._joined = True
            try:
                self.client.join(self.channel)
            except SlackCallError as join_exc:
                self.log(f"publish: could not join {self.channel}: {join_exc.describe()}")
                self._join_error = join_exc.error
                raise exc from None
            self.log(f"publish: joined {self.channel}")
            return fn()

    def bot_name(self) -> str:
        """The bot's name for "/invite @name" (auth.test), or a placeholder."""
        from .slack import SlackCallError

        if self._bot is None:
            try:
                self._bot = str(self.client.auth_test().get("user") or "") or "<your bot>"
            except SlackCallError:
                self._bot = "<your bot>"
        return self._bot

    # --------------------------------------------------------------- errors
    def error(self, exc: SlackCallError) -> PublishError:
        """The PublishError a user can act on, for a failed call."""
        from .slack import FailureKind

        where = f"channel {self.channel}"
        retry = "Run the same command again afterwards: it never posts the plan twice."
        code = exc.error or ""
        if exc.kind is FailureKind.RATE_LIMITED:
            msg = f"Slack kept rate-limiting {exc.method} (HTTP 429: {exc.detail})"
            hint = f"Wait a minute. {retry}"
        elif exc.kind is FailureKind.REFUSED:
            msg = f"cannot connect to Slack at {self.client.base_url} ({exc.detail})"
            hint = f"Check network access (and SLACK_API_URL if set). {retry}"
        elif exc.kind is FailureKind.TIMEOUT:
            msg = f"Slack did not answer {exc.method} within {self.client.timeout:g} s"
            hint = f"Slack or the network is slow ({'REBALANCE_SLACK_TIMEOUT'} sets the timeout). {retry}"
        elif exc.kind is FailureKind.CONNECTION:
            msg = f"the connection to Slack dropped during {exc.method} ({exc.detail})"
            hint = retry
        elif exc.kind is FailureKind.SERVER:
            msg = f"Slack failed on {exc.method} (HTTP {exc.status or '?'}{', ' + code if code else ''})"
            hint = f"Slack may be having an incident (https://slack-status.com). {retry}"
        elif code in {
            "invalid_auth",
            "not_authed",
            "token_revoked",
            "token_expired",
            "account_inactive",
        }:
            msg = f"Slack rejected the bot token ({code})"
            hint = (
                "Check SLACK_BOT_TOKEN: it must be the Bot User OAuth Token (xoxb-...) of the "
                "app installed in this workspace; reinstall the app if it was revoked. " + retry
            )
        elif code in {"not_in_channel", "channel_not_found"}:
            join = self._join_error
            bot = self.bot_name()
            if code == "not_in_channel":
                msg = f"the bot is not a member of {where} ({code})"
            else:
                msg = f"Slack has no {where} that this bot can see ({code})"
            hint = f"Invite the bot in the channel with /invite @{bot}"
            if join == "missing_scope":
                hint += (
                    " (or give the app the channels:join scope, so it joins public channels itself)"
                )
            if code == "channel_not_found":
                hint += "; and check the ID in [slack] channel / --channel"
            hint += ". " + retry
        elif code == "is_archived":
            msg = f"{where} is archived ({code})"
            hint = (
                "Unarchive it, or publish to another channel ([slack] channel / --channel). "
                + retry
            )
        elif code == "missing_scope":
            scope = exc.needed or _SCOPES.get(exc.method, "the scope this method needs")
            msg = f"the Slack app lacks the {scope} scope for {exc.method} ({code})"
            hint = (
                f"Add the {scope} scope (OAuth & Permissions of the Slack app), reinstall the app, "
                "update SLACK_BOT_TOKEN if it changed. " + retry
            )
        elif code in {
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "invalid_metadata_format",
        }:
            msg = f"Slack refused the message layout ({code}{': ' + exc.detail if exc.detail else ''})"
            hint = (
                "This is a bug in rebalance: run with --dry-run, paste the parent in Block Kit "
                "Builder (the link it prints) and report it with the plan folder."
            )
        else:
            msg = f"Slack refused {exc.method} ({code}{': ' + exc.detail if exc.detail else ''})"
            hint = (
                f"See https://docs.slack.dev/reference/methods/{exc.method} for '{code}'. {retry}"
            )
        return PublishError(
            self.client.scrub(f"publishing to {where} failed: {msg}"),
            hint=self.client.scrub(f"The plan is saved. {hint}"),
            slack_error=code or exc.kind.value,
        )


#: The scope each method needs, for a missing_scope answer without ``needed``.
_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "conversations.history": "channels:history (groups:history for a private channel)",
    "conversations.replies": "channels:history (groups:history for a private channel)",
    "conversations.join": "channels:join",
    "files.completeUploadExternal": "files:write",
    "files.getUploadURLExternal": "files:write",
}
