"""mrkdwn and Block Kit helpers shared by the app's replies and messages."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["code", "context", "esc", "section", "short", "slack_time", "user_ref"]

#: A partner's name in a reply is cut to this many characters (`short`), as the channel
#: messages cut zone labels.
NAME_CHARS = 60
#: A reply's text is cut to this many (`rebalance.app.bolt`): Slack shows 4,000 of a
#: message's text before "Show more", and refuses or truncates a long one.
MAX_REPLY_CHARS = 3900


def esc(text: object, *, one_line: bool = True) -> str:
    """Escape text from users or partners for mrkdwn: Slack reads <, > and & as markup
    (``<!channel>``, ``<https://evil|click>``), so they are sent as entities; control
    characters and bidi overrides are written out (`rebalance.escape.mrkdwn`, the rule
    of the channel messages), and line breaks too unless ``one_line`` is False (a
    message of several lines of our own, in a code block)."""
    from rebalance.escape import mrkdwn

    return mrkdwn(text, one_line=one_line)


def code(text: object) -> str:
    """``text`` from users or partners as inline code: escaped (`esc`), with any
    backtick, which would end the code span, shown as a look-alike (U+02CB)."""
    return "`" + esc(text).replace("`", "\u02cb") + "`"


def user_ref(user_id: str | None) -> str:
    """A mention of a Slack user ID (IDs are [A-Z0-9]; anything else is shown escaped)."""
    value = str(user_id or "")
    if value and value.isalnum() and value.isupper():
        return f"<@{value}>"
    return esc(value or "someone")


def channel_ref(channel_id: str) -> str:
    """A link to a channel by ID."""
    value = str(channel_id)
    return f"<#{value}>" if value.isalnum() else esc(value)


def short(text: object, limit: int = NAME_CHARS) -> str:
    """A partner's name in a reply: cut to ``limit`` characters, then escaped as in the
    channel messages (`rebalance.publish.blocks.mrkdwn_name`: entities, and formatting
    characters as look-alikes). A
    zone named with 10,000 characters made `/rebalance why` a reply of 70,000, past
    what Slack takes."""
    from rebalance.publish.blocks import mrkdwn_name
    from rebalance.publish.limits import cut

    return mrkdwn_name(cut(str(text), limit))


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section, cut to Slack's limit (`rebalance.publish.blocks.section_block`)."""
    from rebalance.publish.blocks import section_block

    return section_block(text)


def context(text: str) -> dict[str, Any]:
    """A context block with one mrkdwn element, cut to Slack's limit
    (`rebalance.publish.blocks.context_block`)."""
    from rebalance.publish.blocks import context_block

    return context_block(text)


def slack_time(iso_utc: str | None, timezone: str) -> str:
    """An ISO instant as ``Mon 30 Nov 19:04 CET`` in the city's timezone."""
    if not iso_utc:
        return "?"
    ts = pd.Timestamp(iso_utc)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    local = ts.tz_convert(timezone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
