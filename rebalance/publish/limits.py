"""Slack's limits on a message, and the checker that says which ones a payload breaks.

`build_messages` stays within them for any city size; `message_problems` is what tests
(and anyone changing the layout) check payloads with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rebalance.escape import whole_end

__all__ = ["cut", "message_problems", "slack_len", "visible_chars"]

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks).
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_TABLE_ROWS = 100  # header row included
MAX_TABLE_COLUMNS = 20
#: What a reader sees in one message (all texts, fields, cells). Slack refuses a message
#: whose blocks' texts add up to about 12,000 characters ("msg_blocks_too_long"; the
#: limit is not documented, and messages of 11,341 characters were refused:
#: slackapi/bolt-js#2867), and well before it a message stops being readable on a phone.
MAX_MESSAGE_CHARS = 10_000
MAX_FALLBACK_CHARS = 3000

#: An entity of escaped mrkdwn (`rebalance.escape.mrkdwn`) ending at a cut: dropped
#: whole, as a cut "&am" would show as text (and a bare "&" is markup to Slack).
_PART_ENTITY = re.compile(r"&(?:a|am|amp|l|lt|g|gt)?\Z")


def slack_len(text: str) -> int:
    """The length Slack's limits are checked against, counted safely: UTF-16 code units,
    as in JavaScript (an emoji beyond U+FFFF counts 2). Slack does not document how it
    counts; this is never less than the count of characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` (`slack_len`), ending in "…" when cut; a
    cut never ends inside an entity (``&amp;``, ``&lt;``, ``&gt;``)."""
    if slack_len(text) <= limit:
        return text
    room, end = max(0, limit - 1), 0
    for ch in text:
        room -= 2 if ord(ch) > 0xFFFF else 1
        if room < 0:
            break
        end += 1
    kept = text[: whole_end(text, end)]  # never half a character as one sees it
    if (part := _PART_ENTITY.search(kept)) and text.startswith(
        ("&amp;", "&lt;", "&gt;"), part.start()
    ):
        kept = kept[: part.start()]
    return kept.rstrip() + "…"


def visible_chars(blocks: Iterable[dict[str, Any]]) -> int:
    """Characters a reader sees in blocks (`slack_len`): every ``text`` (sections,
    fields, cells)."""
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
            total += slack_len(value)

    walk(list(blocks))
    return total


def message_problems(payload: dict[str, Any]) -> list[str]:
    """Which of Slack's limits a chat.postMessage payload breaks (empty: none)."""
    problems: list[str] = []
    blocks = payload.get("blocks") or []
    text = str(payload.get("text") or "")
    if not text:
        problems.append("no text fallback")
    if slack_len(text) > MAX_FALLBACK_CHARS:
        problems.append(f"text fallback of {slack_len(text)} characters")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    if visible_chars(blocks) > MAX_MESSAGE_CHARS:
        problems.append(f"{visible_chars(blocks)} characters > {MAX_MESSAGE_CHARS}")
    tables = [b for b in blocks if b["type"] == "table"]
    if len(tables) > 1:
        problems.append(f"{len(tables)} tables in one message")
    for i, block in enumerate(blocks):
        kind = block["type"]
        if kind == "header" and slack_len(block["text"]["text"]) > MAX_HEADER_CHARS:
            problems.append(f"block {i}: header over {MAX_HEADER_CHARS} characters")
        if kind == "section":
            if "text" in block and not 0 < slack_len(block["text"]["text"]) <= MAX_SECTION_CHARS:
                problems.append(
                    f"block {i}: section text of {slack_len(block['text']['text'])} characters"
                )
            fields = block.get("fields") or []
            if len(fields) > MAX_FIELDS or any(
                slack_len(f["text"]) > MAX_FIELD_CHARS for f in fields
            ):
                problems.append(f"block {i}: fields over the limits")
        if kind == "context" and any(
            slack_len(e.get("text", "")) > MAX_SECTION_CHARS for e in block["elements"]
        ):
            problems.append(f"block {i}: context text too long")
        if kind == "table":
            rows = block["rows"]
            if len(rows) > MAX_TABLE_ROWS or any(len(r) > MAX_TABLE_COLUMNS for r in rows):
                problems.append(f"block {i}: table of {len(rows)} rows")
            if any(not c.get("text") for r in rows for c in r):
                problems.append(f"block {i}: empty table cell")
    return problems
