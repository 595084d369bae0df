"""Slack's limits on a message, and the checker that says which ones a payload breaks.

`build_messages` stays within them for any city size; `message_problems` is what tests
(and anyone changing the layout) check payloads with.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rebalance.views.wording import cut  # also the terminal's, for long names

__all__ = ["cut", "message_problems", "visible_chars"]

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


def visible_chars(blocks: Iterable[dict[str, Any]]) -> int:
    """Characters a reader sees in blocks: every ``text`` (sections, fields, cells)."""
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
    if visible_chars(blocks) > MAX_MESSAGE_CHARS:
        problems.append(f"{visible_chars(blocks)} characters > {MAX_MESSAGE_CHARS}")
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
