"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakeslack import TOKEN, FakeSlack

# ------------------------------------------------------------------ Slack (fake)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (tests/fakeslack.py), stopped after the test."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack_env(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    """The environment of a publisher talking to ``fake_slack``: its URL and token, a
    1 s timeout, no proxy, and fast pacing between posts (one test checks the real one)."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("REBALANCE_SLACK_TIMEOUT", "1")
    monkeypatch.setattr("rebalance.slack.POST_INTERVAL", 0.02)
    return fake_slack
