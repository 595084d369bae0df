"""Slack's limits on a message and the checker (rebalance.publish.limits)."""

from __future__ import annotations

from rebalance.publish.limits import (
    MAX_BLOCKS,
    MAX_FALLBACK_CHARS,
    MAX_SECTION_CHARS,
    cut,
    message_problems,
    visible_chars,
)


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_a_payload_within_the_limits_has_no_problems():
    """A short message with a text fallback passes."""
    assert message_problems({"text": "hi", "blocks": [_section("hello")]}) == []


def test_each_broken_limit_is_named():
    """Missing fallback, too many blocks, an over-long section and two tables are each reported."""
    table = {"type": "table", "rows": [[{"type": "raw_text", "text": "x"}]]}
    payload = {
        "text": "",
        "blocks": [_section("x" * (MAX_SECTION_CHARS + 1)), table, table]
        + [_section("y")] * MAX_BLOCKS,
    }
    problems = " | ".join(message_problems(payload))
    assert "no text fallback" in problems
    assert f"> {MAX_BLOCKS}" in problems
    assert "section text of 3001 characters" in problems
    assert "2 tables in one message" in problems
    assert message_problems({"text": "x" * (MAX_FALLBACK_CHARS + 1), "blocks": []}) == [
        f"text fallback of {MAX_FALLBACK_CHARS + 1} characters"
    ]


def test_empty_table_cell_is_a_problem():
    """Slack rejects an empty cell; the checker says which block has one."""
    table = {"type": "table", "rows": [[{"type": "raw_text", "text": ""}]]}
    assert message_problems({"text": "t", "blocks": [table]}) == ["block 0: empty table cell"]


def test_cut_ends_with_an_ellipsis_within_the_limit():
    """A cut text fits its limit and shows it was cut."""
    assert cut("short", 10) == "short"
    assert cut("a" * 20, 10) == "a" * 9 + "…" and len(cut("a" * 20, 10)) == 10


def test_visible_chars_counts_texts_fields_and_cells():
    """What a reader sees is every text: sections, fields and table cells, not the keys."""
    blocks = [
        _section("abc"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "de"}]},
        {"type": "table", "rows": [[{"type": "raw_text", "text": "fgh"}]]},
    ]
    assert visible_chars(blocks) == 8
