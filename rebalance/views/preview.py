"""What `publish --dry-run` shows a person: the Slack messages as text, each with its
size against Slack's limits, in posting order (parent, thread parts, files).

The exact payloads stay one option away (`--format json`, `dry_run_document`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rebalance.publish import PublishResult

__all__ = ["dry_run_preview", "mrkdwn_to_text"]

_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


def mrkdwn_to_text(text: str) -> Any:
    """Slack mrkdwn as rich Text: *bold* is bold, <url|label> shows its label, and
    Slack's escapes (&amp; &lt; &gt;) read as the characters they stand for."""
    from rich.text import Text

    out = Text()
    text = _LINK.sub(lambda m: m.group(2), text)
    pos = 0
    for match in _BOLD.finditer(text):
        out.append(_unescape(text[pos : match.start()]))
        out.append(_unescape(match.group(1)), style="bold")
        pos = match.end()
    out.append(_unescape(text[pos:]))
    return out


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block(block: dict[str, Any]) -> Any:
    """One Block Kit block as a rich renderable."""
    from rich.rule import Rule
    from rich.table import Table
    from rich.text import Text

    kind = block.get("type")
    if kind == "header":
        return Text(str(block["text"]["text"]), style="bold underline")
    if kind == "divider":
        return Rule(style="dim")
    if kind == "context":
        line = Text(style="dim")
        for element in block.get("elements", []):
            line.append_text(mrkdwn_to_text(str(element.get("text", ""))))
        return line
    if kind == "section":
        parts = []
        if "text" in block:
            parts.append(mrkdwn_to_text(str(block["text"]["text"])))
        fields = block.get("fields") or []
        if fields:
            grid = Table.grid(padding=(0, 3))
            grid.add_column()
            grid.add_column()
            cells = [mrkdwn_to_text(str(f["text"])) for f in fields]
            for i in range(0, len(cells), 2):
                pair = cells[i : i + 2]
                grid.add_row(*pair, *([Text("")] * (2 - len(pair))))
            parts.append(grid)
        from rich.console import Group

        return Group(*parts)
    if kind == "table":
        from .fit import Col, Fitted

        rows = [[str(c.get("text", "")) for c in row] for row in block.get("rows", [])]
        if not rows:
            return Text("")
        settings = block.get("column_settings") or []
        columns = []
        for i, header in enumerate(rows[0]):
            setting = settings[i] if i < len(settings) else {}
            if setting.get("is_wrapped"):
                columns.append(Col(header, "text", min_width=14, hard_min=8))
            elif setting.get("align") == "right":
                columns.append(Col(header, "num"))
            else:
                columns.append(Col(header, "key"))
        from rich import box

        options = {
            "box": box.SIMPLE_HEAD,
            "padding": (0, 1, 0, 0),
            "show_edge": False,
            "pad_edge": False,
            "header_style": "bold",
        }
        return Fitted(columns, rows[1:], options)
    return Text(f"[{kind} block]", style="dim")


def _size_line(payload: dict[str, Any]) -> Any:
    """Characters and blocks against Slack's limits, and any limit broken."""
    from rich.text import Text

    from rebalance.publish import message_problems
    from rebalance.publish.limits import MAX_BLOCKS, MAX_MESSAGE_CHARS, visible_chars

    blocks = payload.get("blocks") or []
    chars = visible_chars(blocks)
    problems = message_problems(payload)
    line = Text(
        f"{chars:,} of {MAX_MESSAGE_CHARS:,} characters · {len(blocks)} of {MAX_BLOCKS} blocks · "
        f"fallback text {len(str(payload.get('text') or ''))} characters",
        style="dim",
    )
    if problems:
        line.append(" · over Slack's limits: " + "; ".join(problems), style="bold red")
    else:
        line.append(" · within Slack's limits", style="green")
    return line


def dry_run_preview(result: PublishResult, *, exact: str = "") -> Any:
    """Rich renderables: each message of the dry run as a reader would see it.

    ``exact``: the command that prints the exact payloads, named at the end."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    messages = [p for p in result.payloads if "file_uploads" not in p]
    uploads = [p for p in result.payloads if "file_uploads" in p]
    where = result.channel or "no channel yet ([slack] channel or --channel to publish)"
    yield Text.assemble(
        ("Dry run: nothing posted. ", "bold yellow"),
        f"{len(messages)} message{'s' if len(messages) != 1 else ''} for {where}, "
        f"plan {result.plan_key} (content {result.content_hash[:10]})",
    )
    for i, payload in enumerate(messages):
        title = "Parent message" if i == 0 else f"Thread part {i} of {len(messages) - 1}"
        body = [_block(b) for b in payload.get("blocks") or []]
        yield Panel(Group(*body), title=title, title_align="left")
        yield _size_line(payload)
    for upload in uploads:
        files = ", ".join(
            f"{f['filename']} ({f['bytes']:,} bytes)" for f in upload.get("file_uploads", [])
        )
        yield Text.assemble(
            ("In the thread, files: ", "bold"),
            files,
            (f" — {upload.get('initial_comment', '')}", "dim"),
        )
    yield Text(
        "The exact payloads: " + (exact or "rebalance publish PLAN_DIR --dry-run --format json"),
        style="dim",
    )
