"""The Slack client wrapper: typed failures, 429 waits, pacing, proxies, no token leaks."""

from __future__ import annotations

import socket

import pytest
from fakeslack import TOKEN, FakeSlack

import rebalance.slack as slack
from rebalance.errors import ConfigError, PublishError
from rebalance.slack import FailureKind, SlackCallError, SlackClient


class Clock:
    """An injectable sleep that records its waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _client(fake: FakeSlack, clock: Clock | None = None, **kw) -> SlackClient:
    kw.setdefault("timeout", 1.0)
    return SlackClient(TOKEN, base_url=fake.url, sleep=clock or Clock(), **kw)


def _post(client: SlackClient, channel: str = "C0PLANS") -> dict:
    return client.post_message(channel=channel, text="hello")


def test_from_env_needs_a_token(monkeypatch):
    """No SLACK_BOT_TOKEN: PublishError (exit 5) before any request."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    with pytest.raises(PublishError, match="SLACK_BOT_TOKEN is not set") as info:
        SlackClient.from_env()
    assert info.value.exit_code == 5


def test_from_env_reads_url_and_timeout(monkeypatch):
    """SLACK_API_URL and REBALANCE_SLACK_TIMEOUT configure the client; a bad timeout is exit 3."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("REBALANCE_SLACK_TIMEOUT", "2.5")
    client = SlackClient.from_env()
    assert client.base_url == "http://127.0.0.1:9/api/" and client.timeout == 2.5
    monkeypatch.delenv("SLACK_API_URL")
    monkeypatch.delenv("REBALANCE_SLACK_TIMEOUT")
    client = SlackClient.from_env()
    assert client.base_url == "https://slack.com/api/" and client.timeout == 30.0
    monkeypatch.setenv("REBALANCE_SLACK_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="REBALANCE_SLACK_TIMEOUT"):
        SlackClient.from_env()


def test_rate_limit_waits_retry_after_then_succeeds(slack_env):
    """429 with Retry-After: the client waits that long and retries, for any method."""
    clock = Clock()
    slack_env.fail("auth.test", "ratelimit", retry_after=3, times=2)
    assert _client(slack_env, clock).auth_test()["user_id"] == "U0BOT"
    assert clock.waits == [3.0, 3.0]
    assert slack_env.methods() == ["auth.test"] * 3


def test_rate_limit_is_bounded(slack_env):
    """Still 429 after the bounded attempts (or total wait): a typed RATE_LIMITED failure."""
    clock = Clock()
    slack_env.fail("chat.postMessage", "ratelimit", retry_after=1, times=None)
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env, clock))
    assert info.value.kind is FailureKind.RATE_LIMITED and not info.value.ambiguous
    assert len(clock.waits) == slack.RATE_LIMIT_ATTEMPTS - 1
    slack_env.clear()
    slack_env.fail("chat.postMessage", "ratelimit", retry_after=25, times=None)
    clock = Clock()
    with pytest.raises(SlackCallError):
        _post(_client(slack_env, clock))
    assert sum(clock.waits) <= slack.RATE_LIMIT_MAX_WAIT and clock.waits == [25.0, 25.0]
    assert slack_env.messages() == []


def test_timeout_of_a_post_is_ambiguous_and_not_repeated(slack_env):
    """A post answered after the timeout is a TIMEOUT failure marked ambiguous, sent once."""
    slack_env.fail("chat.postMessage", "slow", delay=2.0)
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env, timeout=0.5))
    assert info.value.kind is FailureKind.TIMEOUT and info.value.ambiguous
    assert slack_env.methods() == ["chat.postMessage"]
    assert len(slack_env.messages()) == 1  # Slack did store it


def test_reads_are_retried_after_a_server_error(slack_env):
    """A 500 on a read is retried (safe to repeat); on a post it is reported as ambiguous."""
    clock = Clock()
    slack_env.fail("conversations.history", "http500")
    assert list(_client(slack_env, clock).history("C0PLANS", oldest=0)) == []
    assert slack_env.methods() == ["conversations.history"] * 2
    slack_env.fail("chat.postMessage", "http500")
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env, clock))
    assert info.value.kind is FailureKind.SERVER and info.value.status == 500
    assert info.value.ambiguous


def test_connection_refused_is_not_ambiguous():
    """Nothing listening: REFUSED, and known not to have posted anything."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = SlackClient(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", sleep=Clock())
    with pytest.raises(SlackCallError) as info:
        _post(client)
    assert info.value.kind is FailureKind.REFUSED and not info.value.ambiguous
    assert "connection refused" in str(info.value)


def test_api_errors_are_typed(slack_env):
    """ok:false answers carry Slack's code and, for missing_scope, the scope needed."""
    slack_env.fail("chat.postMessage", "error", error="missing_scope", needed="chat:write")
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env))
    assert info.value.kind is FailureKind.API
    assert (info.value.error, info.value.needed) == ("missing_scope", "chat:write")
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env), channel="C0PUBLIC")
    assert info.value.error == "not_in_channel" and not info.value.ambiguous


def test_posts_to_one_channel_are_paced(slack_env):
    """A second post to the same channel waits out the interval; another channel does not."""
    clock = Clock()
    client = _client(slack_env, clock, post_interval=1.0)
    _post(client)
    _post(client)
    assert len(clock.waits) == 1 and 0.5 < clock.waits[0] <= 1.0
    client.join("C0PUBLIC")
    _post(client, channel="C0PUBLIC")
    assert len(clock.waits) == 1


def test_token_is_scrubbed_and_never_logged(slack_env):
    """Even an error body echoing the Authorization header comes back scrubbed; logs hold no token."""
    lines: list[str] = []
    slack_env.fail("chat.postMessage", "error", error="invalid_arguments", echo_auth=True)
    with pytest.raises(SlackCallError) as info:
        _post(_client(slack_env, log=lines.append))
    assert TOKEN not in str(info.value) and "xoxb-***" in info.value.detail
    assert lines and all(TOKEN not in line for line in lines)
    assert any("chat.postMessage" in line for line in lines)


def test_no_proxy_is_honoured(slack_env, monkeypatch):
    """HTTPS_PROXY set but NO_PROXY covering the API host: requests go direct."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert _client(slack_env).auth_test()["ok"] is True
