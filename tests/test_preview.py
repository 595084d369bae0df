"""The --dry-run preview: Slack mrkdwn read as text, messages with their sizes."""

from __future__ import annotations

from rich.console import Console

from rebalance.views.preview import mrkdwn_to_text


def test_mrkdwn_bold_links_and_escapes_read_as_text():
    """*bold* is bold, <url|label> shows the label, &lt;b&gt; is "<b>" and never markup."""
    text = mrkdwn_to_text("*Coverage*\n<https://x.test|Chez &lt;b&gt; [red]Paul[/red]> &amp; co")
    assert text.plain == "Coverage\nChez <b> [red]Paul[/red] & co"
    assert [text.plain[s.start : s.end] for s in text.spans if "bold" in str(s.style)] == [
        "Coverage"
    ]
    console = Console(width=60, record=True, color_system=None)
    console.print(text)
    assert "[red]Paul[/red]" in console.export_text()


def test_mrkdwn_asterisks_inside_words_are_kept():
    """An asterisk that does not open bold (2*3, a*b) is shown as written."""
    assert mrkdwn_to_text("2*3 and a*b").plain == "2*3 and a*b"
