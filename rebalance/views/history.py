"""Views of past runs (`rebalance history`, `rebalance run`'s last line): a run in one
line, runs as a table or JSON, and everything recorded about one run."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rebalance.escape import json_dumps, terminal, visible
from rebalance.history import PHASES, Approval, RunRecord

from .wording import coverage_change, kpi_headline, percent

__all__ = [
    "approval_state",
    "approval_text",
    "run_details",
    "run_dict",
    "runs_json",
    "runs_table",
    "summary_line",
    "summary_text",
]


def summary_line(record: RunRecord) -> str:
    """One line saying what a run did: the terminal's quiet success message, as rich
    markup (the city and channel come from a config)."""
    return terminal(summary_text(record), one_line=True)


def summary_text(record: RunRecord) -> str:
    """`summary_line` as plain text, controls written out: the run's last log line
    (markup escapes there were backslashes in the message)."""
    k = record.kpis
    action = record.extra.get("publish_action")
    what = {
        "posted": "posted to",
        "updated": "updated in",
        "unchanged": "unchanged in",
        "adopted": "already in",
        "dry-run": "dry run for",
    }.get(str(action), str(action))
    where = f"{what} {record.slack_channel or 'Slack'}" if action else record.status
    body = kpi_headline(k)
    shift = _short_time(record.shift_start)
    return visible(f"run {record.run_id}: {record.city} {shift}: {where}; {body}", one_line=True)


#: How a plan put up for approval stands, by its approval's status.
_APPROVAL_STATES = {
    "pending": "awaiting approval",
    "held": "held",
    "approving": "being approved",
    "approved": "approved",
    "superseded": "superseded",
}


def approval_state(approval: Approval, run_id: str | None = None) -> str:
    """Where a plan put up for approval stands: awaiting approval, held, approved ...;
    for run ``run_id``, "asked again" when the same version was put up again by another
    run since (its request is that run's now: the record of this one's is gone)."""
    if _asked_again(approval, run_id):
        return "asked again"
    return _APPROVAL_STATES.get(approval.status, approval.status)


def _asked_again(approval: Approval, run_id: str | None) -> bool:
    """Whether ``approval`` is now another run's request than run ``run_id``'s."""
    return bool(run_id and approval.run_id and approval.run_id != run_id)


def runs_table(records: list[RunRecord], approvals: dict[str, Approval] | None = None) -> Any:
    """Runs in the order given (the run id starts with its UTC start time), fitted to the
    terminal: the run id (what `history show` needs) is never cut; the duration,
    couriers moved, coverage and the Slack action give way first, the exit code last
    (what a cron operator looks for; at 80 columns it went first). A run whose plan was
    put up for approval reads where its approval stands (``approvals``, by run id): a
    held plan read "approval-requested" for good, as if still waiting."""
    approvals = approvals or {}
    from rich.text import Text

    from .fit import Col, Fitted

    columns = [
        Col("run id", "key"),
        Col("city", "text", min_width=10, hard_min=6),
        Col("shift", "key"),
        Col("took", drop=6),
        Col("status", "key"),
        Col("exit", drop=1),
        Col("moved", drop=4),
        Col("coverage", drop=3),
        # what reached the channel: posted, or only a dry run or a request for approval
        # (dropped first, a dry run read "succeeded 0" as a published run did)
        Col("slack", "key", drop=2),
    ]
    styles = {"succeeded": "green", "failed": "red", "crashed": "red", "running": "yellow"}
    shifts = _shift_cells([r.shift_start for r in records])
    rows = []
    for r, shift in zip(records, shifts, strict=True):
        status = r.status
        if r.status in {"failed", "crashed"} and r.phase:
            status += f"@{r.phase}"
        k = r.kpis
        coverage = ""
        if k.get("coverage") is not None:
            coverage = (
                f"{percent(k.get('coverage_before'), digits=0)}->{percent(k['coverage'], digits=0)}"
            )
        slack = str(r.extra.get("publish_action") or ("dry-run" if r.dry_run else ""))
        if r.run_id in approvals:
            slack = approval_state(approvals[r.run_id], r.run_id)
        rows.append(
            [
                r.run_id,
                visible(r.city, one_line=True),
                shift,
                _took(r),
                Text(status, style=styles.get(r.status, "")),
                "" if r.exit_code is None else str(r.exit_code),
                "" if k.get("moved_couriers") is None else str(k["moved_couriers"]),
                coverage,
                slack,
            ]
        )
    options = {"box": None, "padding": (0, 2, 0, 0), "pad_edge": False, "header_style": "bold"}
    return Fitted(columns, rows, options)


def run_details(record: RunRecord, approval: Approval | None = None) -> Any:
    """A Rich renderable with everything recorded about one run (and, for a plan put up
    for approval, where its approval stands: who held or approved it, when)."""
    r = record
    rows: list[tuple[str, str]] = [
        ("run", r.run_id),
        ("city", r.city),
        ("shift start", r.shift_start),
        ("status", r.status + (" (dry run)" if r.dry_run else "")),
        ("exit code", "" if r.exit_code is None else str(r.exit_code)),
        ("phase", r.phase or ""),
        ("started", r.started_at),
        ("ended", r.ended_at or ""),
        ("took", _took(r)),
        ("process", f"pid {r.pid} on {r.host}"),
        ("inputs sha256", r.inputs_sha256 or ""),
        ("data", str(r.extra.get("data_dir") or "")),
        ("config", str(r.extra.get("config") or "")),
        ("plan id", r.plan_id or ""),
        ("plan folder", r.plan_dir or ""),
    ]
    if r.kpis:
        k = r.kpis
        # in slots `shortage` is the first slot's and coverage the whole shift's: said so
        # ("shortage 0 -> 0, coverage 86.2% -> 98.7%" read as a contradiction)
        shift = (
            f" now ({k['shortage_all_slots_before']} -> {k['shortage_all_slots']} "
            "courier-slots over the shift)"
            if "shortage_all_slots" in k and "shortage_all_slots_before" in k
            else ""
        )
        rows.append(
            (
                "kpis",
                f"{k.get('eligible_couriers')} eligible, {k.get('moved_couriers')} moved, "
                f"{k.get('travel_minutes')} travel min, shortage {k.get('shortage_before')} -> "
                f"{k.get('shortage')}{shift}, coverage {coverage_change(k)}",
            )
        )
    if r.extra.get("objective") is not None:
        rows.append(("objective", f"{r.extra['objective']} ({r.extra.get('plan_status')})"))
    action = r.extra.get("publish_action")
    if action or r.slack_ts:
        rows.append(
            ("slack", f"{action or ''} {r.slack_channel or ''} ts {r.slack_ts or '-'}".strip())
        )
    if approval is not None:
        rows.append(("approval", approval_text(approval, r.run_id)))
    timings = r.extra.get("timings_ms") or {}
    if timings:
        # The history stores keys sorted; show phases in the order they run.
        order = {name: i for i, name in enumerate(PHASES)}
        ordered = sorted(timings.items(), key=lambda kv: order.get(kv[0], len(order)))
        rows.append(("phases", ", ".join(f"{k} {v} ms" for k, v in ordered)))
    previous = r.extra.get("previous") or {}
    if previous.get("note"):  # re-planned against (CONTRACT section 9)
        note = str(previous["note"])
        if previous.get("plan_note"):
            note += f"; {previous['plan_note']}"
        rows.append(("previous plan", note))
    if r.extra.get("recovered"):
        rows.append(("completes", ", ".join(r.extra["recovered"])))
    if r.extra.get("command"):
        rows.append(("command", str(r.extra["command"])))
    if r.error:
        rows += [("error" if i == 0 else "", line) for i, line in enumerate(r.error.splitlines())]
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    width = max(len(key) for key, _ in rows)
    parts: list[Any] = []
    table = None
    for key, value in rows:
        shown = visible(value)
        if key in _WHOLE or _COMMAND.search(shown):
            # A command to paste, and paths with ids in them, run past the width rather
            # than break (printed uncropped): a pasted `rebalance run --config ...`
            # without the --shift-start of its next line planned another shift.
            line = Text.assemble((key.ljust(width), "bold"), "  ", shown)
            line.no_wrap, line.overflow = True, "ignore"
            parts.append(line)
            table = None
            continue
        if table is None:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold", no_wrap=True, min_width=width)
            table.add_column(overflow="fold")
            parts.append(table)
        table.add_row(key, Text(shown))
    return Group(*parts)


#: A line holding a command to paste (an error's "To retry, run ..."): never broken.
_COMMAND = re.compile(r"\brebalance (?:run|plan|publish|validate) ")
#: Rows of `run_details` never broken over lines: ids, paths and the command.
_WHOLE = frozenset({"run", "inputs sha256", "data", "config", "plan id", "plan folder", "command"})


def approval_text(a: Approval, run_id: str | None = None) -> str:
    """An approval in a line: its state, who decided and when, the message posted; for
    run ``run_id`` whose version another run put up again, that run and its state."""
    text = f"{approval_state(a)} in {a.channel}"
    if _asked_again(a, run_id):
        text = f"asked again by run {a.run_id}, now {text}"
    if a.decided_by and a.status in {"held", "approving", "approved"}:
        text += f", by {a.decided_by} at {a.decided_at or '?'}"
    if a.published_ts:
        text += f"; posted to {a.target_channel} ts {a.published_ts}"
    return text


def run_dict(record: RunRecord, approval: Approval | None = None) -> dict[str, Any]:
    """Every recorded field of a run, and its approval (status, who, when) if its plan
    was put up for approval."""
    data = record.to_dict()
    if approval is not None:
        data["approval"] = {
            # the run whose request this is: another run when it asked for the same
            # version again since (then the status is that request's)
            "run_id": approval.run_id,
            "status": approval.status,
            "channel": approval.channel,
            "ts": approval.ts,
            "decided_by": approval.decided_by,
            "decided_at": approval.decided_at,
            "published_ts": approval.published_ts,
        }
    return data


def runs_json(records: list[RunRecord], approvals: dict[str, Approval] | None = None) -> str:
    """Runs as a JSON array (one object per run, every recorded field, and ``approval``
    for a plan put up for approval)."""
    approvals = approvals or {}
    data = [run_dict(r, approvals.get(r.run_id)) for r in records]
    return json_dumps(data, indent=2) + "\n"


def _short_time(iso: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not iso:
        return ""
    try:
        ts = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return ts.strftime(fmt)


def _shift_cells(starts: list[str | None]) -> list[str]:
    """Shift starts as ``MM-DD HH:MM`` city time; where two different shifts would read
    the same (the night of the autumn clock change has 02:30 twice), with their UTC
    offset (``10-25 02:30+02:00``, ``10-25 02:30+01:00``)."""
    cells = [_short_time(s, "%m-%d %H:%M") for s in starts]
    instants: dict[str, set[str]] = {}
    for cell, start in zip(cells, starts, strict=True):
        instants.setdefault(cell, set()).add(start or "")
    return [
        c + _offset(s) if len(instants[c]) > 1 and s else c
        for c, s in zip(cells, starts, strict=True)
    ]


def _offset(iso: str) -> str:
    """The UTC offset of an ISO 8601 time, as ``+02:00`` (empty when it has none)."""
    try:
        zone = datetime.fromisoformat(iso).strftime("%z")
    except ValueError:
        return ""
    return f"{zone[:3]}:{zone[3:5]}" if zone else ""


def _took(r: RunRecord) -> str:
    if not r.ended_at:
        return ""
    try:
        seconds = (
            datetime.fromisoformat(r.ended_at) - datetime.fromisoformat(r.started_at)
        ).total_seconds()
    except ValueError:
        return ""
    return f"{seconds:.1f}s" if seconds < 600 else f"{seconds / 60:.0f}m"
