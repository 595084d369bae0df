"""The exactly-once publisher (rebalance.publish.protocol; CONTRACT sections 5 and 6),
against the fake Slack over HTTP and in-process, and `rebalance publish`."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakeslack import BOT_NAME, TOKEN, FakeSlack, InProcessSlack
from typer.testing import CliRunner
from util import SHIFT, trade_destinations

from rebalance.cli import app
from rebalance.config import Config, load_config
from rebalance.errors import ConfigError, PublishError
from rebalance.history import History
from rebalance.inputs import load
from rebalance.optimize import solve
from rebalance.plan import read_plan
from rebalance.publish import (
    content_hash,
    plan_key,
    publish,
)

CHANNEL = "C0PLANS"
REBALANCE = str(Path(sys.executable).parent / "rebalance")
runner = CliRunner()


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def history(tmp_path: Path) -> History:
    """A fresh history store."""
    with History(tmp_path / "history.sqlite3") as store:
        yield store  # type: ignore[misc]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config file: channel C0PLANS, history under tmp_path."""
    path = tmp_path / "rebalance.toml"
    path.write_text(
        f'[slack]\nchannel = "{CHANNEL}"\n[history]\npath = "state/history.sqlite3"\n',
        encoding="utf-8",
    )
    return path


def _publish(plan_dir: Path, history: History, **kw: Any):
    kw.setdefault("channel", CHANNEL)
    return publish(read_plan(plan_dir), config=Config(), history=history, **kw)


def _folder_digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def _cli(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


# ------------------------------------------------------------------ messages


# ----------------------------------------------------------- exactly once


def test_a_message_deleted_by_hand_is_posted_again_by_an_unchanged_rerun(plans, slack_env, history):
    """Someone deletes the shift's message: the next run of the same plan posts it again,
    thread and all (it said "already up to date" to an empty channel, exit 0)."""
    first = _publish(plans["a"], history)
    for message in [*slack_env.replies(first.ts, CHANNEL), *slack_env.messages(CHANNEL)]:
        slack_env.dispatch(
            "chat.delete", {"channel": CHANNEL, "ts": message["ts"]}, f"Bearer {TOKEN}"
        )
    assert slack_env.messages(CHANNEL) == []
    again = _publish(plans["a"], history)
    assert again.action == "posted" and again.ts != first.ts
    [parent] = slack_env.messages(CHANNEL)
    assert parent["ts"] == again.ts
    assert any(m.get("files") for m in slack_env.replies(again.ts, CHANNEL))
    assert _publish(plans["a"], history).action == "unchanged"


def test_a_message_another_store_revised_is_brought_back_with_its_files(
    plans, slack_env, history, tmp_path
):
    """Two publishers with their own history stores: B revises A's message to plan b. A's
    unchanged re-run of plan a saw only its own record ("unchanged") while the channel
    showed b; it now reads the message, brings it back to a, and uploads a's files."""
    first = _publish(plans["a"], history)
    with History(tmp_path / "other.sqlite3") as other:
        assert _publish(plans["b"], other).action == "updated"
    again = _publish(plans["a"], history)
    assert again.action == "updated" and again.ts == first.ts
    [parent] = slack_env.messages(CHANNEL)
    assert parent["metadata"]["event_payload"]["content_hash"] == first.content_hash
    last_files = [m for m in slack_env.replies(first.ts, CHANNEL) if m.get("files")][-1]
    assert all(first.content_hash[:10] in f["title"] for f in last_files["files"])


def test_publish_twice_posts_one_message(plans, slack_env, history):
    """Publishing the same plan twice: one parent, the second run posts nothing. The run
    after one that posted looks once for copies stored late (the channel's parents, the
    thread); later runs read the message once (the record is this store's word, not
    Slack's)."""
    first = _publish(plans["a"], history)
    assert first.action == "posted" and first.ts
    calls = len(slack_env.calls)
    second = _publish(plans["a"], history)
    assert second.action == "unchanged" and second.ts == first.ts
    assert second.thread_replies == 0
    assert [m for m, _ in slack_env.calls[calls:]] == [
        "conversations.history",
        "conversations.replies",
        "conversations.replies",
    ]
    calls = len(slack_env.calls)
    third = _publish(plans["a"], history)
    assert third.action == "unchanged" and third.ts == first.ts
    assert [m for m, _ in slack_env.calls[calls:]] == ["conversations.replies"]
    [message] = slack_env.messages(CHANNEL)
    assert message["metadata"]["event_payload"]["plan_key"] == first.plan_key
    record = history.publication(first.plan_key, CHANNEL)
    assert record is not None and record.ts == first.ts
    assert record.content_hash == first.content_hash


def test_in_process_client_posts_once_then_revises_in_place(plans, history):
    """With an in-process fake transport: one parent, re-runs post nothing, a revision edits it."""
    fake = FakeSlack()  # never started: no HTTP at all
    client = InProcessSlack(fake)
    plan_a, plan_b = read_plan(plans["a"]), read_plan(plans["b"])
    first = publish(plan_a, config=Config(), channel=CHANNEL, history=history, client=client)
    assert first.action == "posted" and first.thread_replies == 1  # the files
    again = publish(plan_a, config=Config(), channel=CHANNEL, history=history, client=client)
    assert again.action == "unchanged"
    revised = publish(plan_b, config=Config(), channel=CHANNEL, history=history, client=client)
    assert revised.action == "updated" and revised.ts == first.ts
    [parent] = fake.messages(CHANNEL)
    assert parent["metadata"]["event_payload"]["content_hash"] == content_hash(plan_b)
    note = fake.replies(first.ts, CHANNEL)[-1]["text"]
    assert note.startswith("*Plan revised.*")


def test_in_process_refusal_is_a_publish_error_with_a_fix(plans, history):
    """A Slack refusal through any client becomes exit 5 naming what to do."""
    fake = FakeSlack()
    fake.fail("chat.postMessage", "error", error="is_archived")
    plan = read_plan(plans["a"])
    with pytest.raises(PublishError) as info:
        publish(
            plan,
            config=Config(),
            channel=CHANNEL,
            history=history,
            client=InProcessSlack(fake),
        )
    assert info.value.exit_code == 5 and "archived" in str(info.value)
    assert history.publication(plan_key(plan.city, plan.local(plan.shift_start)), CHANNEL) is None


def test_thread_holds_files_and_overflow(plans, slack_env, history):
    """The thread gets what did not fit and moves.csv, zones.csv and (with slots) slots.csv,
    uploaded via files_upload_v2."""
    result = _publish(plans["big"], history)
    replies = slack_env.replies(result.ts)
    assert len(replies) == result.thread_replies == len(result.payloads) - 1
    files = replies[-1]["files"]
    names = [f["name"].rsplit("-", 1)[-1] for f in files]
    assert names == ["moves.csv", "zones.csv", "slots.csv"]
    plan = read_plan(plans["big"])
    moves_upload = next(
        u for u in slack_env.uploads.values() if u["filename"].endswith("moves.csv")
    )
    assert moves_upload["data"].decode().count("\n") == len(plan.moves) + 1
    assert {"files.getUploadURLExternal", "upload", "files.completeUploadExternal"} <= set(
        slack_env.methods()
    )


def test_timeout_after_store_ends_with_one_message(plans, slack_env, history):
    """Slack stores the post but answers after the timeout: the message is found and adopted."""
    slack_env.fail("chat.postMessage", "slow", delay=3.0)
    result = _publish(plans["a"], history)
    assert result.action == "adopted"
    [message] = slack_env.messages(CHANNEL)
    assert message["ts"] == result.ts
    assert history.publication(result.plan_key, CHANNEL).ts == result.ts
    assert slack_env.methods().count("conversations.history") == 2  # before posting, after timeout
    assert len(slack_env.replies(result.ts)) == 1  # the files, once


def test_crash_between_post_and_record_adopts(plans, slack_env, history, tmp_path):
    """A parent posted but not recorded (lost history) is found by its metadata and
    adopted, its thread read once (it was read three times: for its version, to watch
    its poster, and to finish it)."""
    first = _publish(plans["big"], history)
    replies = len(slack_env.replies(first.ts))
    posts = slack_env.methods().count("chat.postMessage")
    calls = len(slack_env.methods())
    with History(tmp_path / "other.sqlite3") as fresh:
        again = _publish(plans["big"], fresh)
        assert slack_env.methods()[calls:].count("conversations.replies") == 1
        assert again.action == "adopted" and again.ts == first.ts
        assert fresh.publication(first.plan_key, CHANNEL).ts == first.ts
    assert len(slack_env.messages(CHANNEL)) == 1
    assert len(slack_env.replies(first.ts)) == replies  # thread parts and files not repeated
    assert slack_env.methods().count("chat.postMessage") == posts


def test_a_revised_parent_adopted_by_another_store_gets_no_second_upload(
    plans, slack_env, history, tmp_path
):
    """A plan posted and revised by cron (files of version 2 in its thread), then the
    same revision published by an operator with another history store: found and
    adopted, and nothing written. Read as version 1, its files were uploaded again
    under the revision note, a duplicate every later run left (an audit)."""
    first = _publish(plans["a"], history)
    assert _publish(plans["b"], history).action == "updated"
    replies = len(slack_env.replies(first.ts))
    calls = len(slack_env.methods())
    with History(tmp_path / "operator.sqlite3") as other:
        again = _publish(plans["b"], other)
        assert again.action == "adopted" and again.ts == first.ts
        assert _publish(plans["b"], other).action == "unchanged"
    written = [
        m for m in slack_env.methods()[calls:] if not m.startswith(("conversations.", "auth."))
    ]
    assert written == []
    assert len(slack_env.replies(first.ts)) == replies


def test_shown_only_never_puts_another_version_back(plans, slack_env, history):
    """A run finishing an earlier shift's message publishes that shift's plan again
    from a run folder, which may not be the version the message shows (a later run of
    that shift revised it): with ``shown_only`` such a plan does nothing ("not shown"),
    and the version shown is only looked at."""
    first = _publish(plans["a"], history)
    assert _publish(plans["b"], history).action == "updated"
    calls = len(slack_env.methods())
    older = _publish(plans["a"], history, shown_only=True)
    assert older.action == "not shown" and older.ts == first.ts
    assert slack_env.methods()[calls:] == []
    shown = _publish(plans["b"], history, shown_only=True)
    assert shown.action == "unchanged"
    assert not [m for m in slack_env.methods()[calls:] if m.startswith(("chat.", "files."))]


def test_revised_plan_updates_parent_and_replies_once(plans, slack_env, history):
    """A revised plan for the same shift updates the parent in place and adds one thread reply."""
    first = _publish(plans["a"], history)
    before = len(slack_env.replies(first.ts))
    revised = _publish(plans["b"], history)
    assert revised.action == "updated" and revised.ts == first.ts
    assert revised.plan_key == first.plan_key and revised.content_hash != first.content_hash
    assert len(slack_env.messages(CHANNEL)) == 1
    replies = slack_env.replies(first.ts)
    assert len(replies) == before + 1 == before + revised.thread_replies
    note = replies[-1]["text"]
    assert note.startswith("*Plan revised.*") and (
        "zone changed" in note or "zones changed" in note
    )
    assert any(f"*{k}" in note for k in ("Newly moving", "No longer moving", "Sent elsewhere or"))
    assert len(replies[-1]["files"]) == 2
    [parent] = slack_env.messages(CHANNEL)
    assert parent["metadata"]["event_payload"]["content_hash"] == revised.content_hash
    assert "edited" in parent
    record = history.publication(first.plan_key, CHANNEL)
    assert record.content_hash == revised.content_hash and record.snapshot["version"] == 2
    assert _publish(plans["b"], history).action == "unchanged"


def test_revision_of_big_plan_updates_thread_parts_in_place(plans, slack_env, history):
    """Revising a plan with thread parts edits those parts instead of posting new ones."""
    big = read_plan(plans["big"])
    first = _publish(plans["big"], history)
    parts = len(first.payloads) - 2
    assert parts >= 1
    # Same city and shift, different content: two couriers trade destinations (one
    # courier sent elsewhere alone leaves zones.csv at odds with the moves: refused).
    changed = trade_destinations(big, 1)
    folder = changed.write(plans["big"].parent / "plan-big-revised")
    revised = _publish(folder, history)
    assert revised.action == "updated" and revised.thread_replies == 1
    assert len(slack_env.replies(first.ts)) == parts + 2
    assert slack_env.methods().count("chat.update") == 1 + parts


def test_shrunk_revision_supersedes_old_thread_parts(plans, slack_env, history):
    """A revision needing fewer thread parts marks the old ones superseded, posting no new part."""
    first = _publish(plans["big"], history)
    # The city re-planned with every restaurant closed: no demand, nobody short, no move.
    city = plans["big"].parent / "big"
    config = load_config(city / "rebalance.toml")
    inputs = load(city, config)
    closed = inputs.replace(restaurants=inputs.restaurants.assign(status="closed"))
    calm = solve(closed, config, SHIFT)
    assert calm.moves.empty and not (calm.zones["action"] != "ok").any()
    revised = _publish(calm.write(plans["big"].parent / "plan-big-calm"), history)
    assert revised.action == "updated" and len(revised.payloads) == 2  # parent + files only
    replies = slack_env.replies(first.ts)
    parts = [r for r in replies if "metadata" in r]
    assert parts and all("earlier version" in r["text"] for r in parts)
    assert revised.thread_replies == 1


def test_unrecorded_older_version_is_updated_in_place(plans, slack_env, history, tmp_path):
    """The channel holds an unrecorded older version: it is updated, not posted again."""
    first = _publish(plans["a"], history)
    with History(tmp_path / "other.sqlite3") as fresh:
        revised = _publish(plans["b"], fresh)
    assert revised.action == "updated" and revised.ts == first.ts
    assert len(slack_env.messages(CHANNEL)) == 1
    assert "not recorded" in slack_env.replies(first.ts)[-1]["text"]


def test_thread_part_timeout_after_store_is_not_posted_twice(plans, slack_env, history):
    """A thread part stored but answered late is found in the thread, not posted again."""
    slack_env.fail("chat.postMessage", "slow", delay=3.0, after=1)  # the parent goes through
    result = _publish(plans["big"], history)
    assert result.action == "posted"
    parts = [r for r in slack_env.replies(result.ts) if "metadata" in r]
    assert [p["metadata"]["event_payload"]["part"] for p in parts] == list(
        range(1, len(result.payloads) - 1)
    )
    assert "conversations.replies" in slack_env.methods()  # looked before re-posting
    assert slack_env.methods().count("chat.postMessage") == len(result.payloads) - 1


def test_rate_limited_post_waits_and_succeeds(plans, slack_env, history):
    """A 429 with Retry-After: 1 is waited out and retried; one message is posted."""
    slack_env.fail("conversations.history", "ratelimit", retry_after=1)
    slack_env.fail("chat.postMessage", "ratelimit", retry_after=1)
    start = time.monotonic()
    result = _publish(plans["a"], history)
    assert result.action == "posted"
    assert time.monotonic() - start >= 2.0
    assert len(slack_env.messages(CHANNEL)) == 1
    assert slack_env.methods().count("chat.postMessage") == 2


def test_server_error_before_store_searches_then_posts_once(plans, slack_env, history, monkeypatch):
    """A 500 on chat.postMessage: the channel is searched first, then the post is sent again."""
    # the window in which Slack may still store the failed post, shortened for the test
    monkeypatch.setattr("rebalance.publish.protocol.LATE_STORE_SECONDS", 0.5)
    slack_env.fail("chat.postMessage", "http500")
    result = _publish(plans["a"], history)
    assert result.action == "posted"
    assert len(slack_env.messages(CHANNEL)) == 1
    methods = slack_env.methods()
    first_post = methods.index("chat.postMessage")
    assert methods[first_post + 1] == "conversations.history"


def test_failed_upload_is_finished_by_the_next_run(plans, slack_env, history):
    """Files refused after the parent was posted: exit 5, and a re-run finishes the thread only."""
    slack_env.fail(
        "files.completeUploadExternal", "error", error="missing_scope", needed="files:write"
    )
    with pytest.raises(PublishError) as info:
        _publish(plans["a"], history)
    assert "files:write" in str(info.value)
    [parent] = slack_env.messages(CHANNEL)
    # the error says the message is up without its thread, and that a re-run finishes it
    assert f"message is up in {CHANNEL} (ts {parent['ts']})" in str(info.value)
    assert "thread is not complete" in str(info.value)
    assert "finishes the thread" in (info.value.hint or "")
    record = history.publication(parent["metadata"]["event_payload"]["plan_key"], CHANNEL)
    assert record is not None and record.ts == parent["ts"]
    assert record.snapshot["thread"]["complete"] is False
    result = _publish(plans["a"], history)
    assert result.action == "unchanged" and result.thread_replies == 1
    assert len(slack_env.messages(CHANNEL)) == 1
    assert [len(r.get("files", [])) for r in slack_env.replies(parent["ts"])] == [0] * (
        len(slack_env.replies(parent["ts"])) - 1
    ) + [2]
    assert history.publication(result.plan_key, CHANNEL).snapshot["thread"]["complete"] is True


def test_a_thread_slack_will_not_list_after_the_upload_does_not_fail_the_publish(
    plans, slack_env, history
):
    """After uploading the files, the publisher lists the thread to drop a second upload
    by another publisher; when Slack refuses that listing, the files are up all the same:
    the publish stands (not exit 5), its thread recorded complete, the files there once."""
    slack_env.fail(
        "conversations.replies",
        "error",
        error="missing_scope",
        needed="channels:history",
        times=None,
    )
    result = _publish(plans["a"], history)
    slack_env.clear()
    assert result.action == "posted"
    assert "conversations.replies" in slack_env.methods()  # the listing was tried
    record = history.publication(result.plan_key, CHANNEL)
    assert record.snapshot["thread"]["complete"] is True
    assert sum(1 for m in slack_env.replies(result.ts) if m.get("files")) == 1


def test_deleted_parent_is_posted_again_on_revision(plans, slack_env, history):
    """If someone deleted the parent, a revision posts a new one instead of failing."""
    first = _publish(plans["a"], history)
    slack_env.channels[CHANNEL].messages.clear()
    revised = _publish(plans["b"], history)
    assert revised.action == "posted" and revised.ts != first.ts
    assert len(slack_env.messages(CHANNEL)) == 1


def test_public_channel_is_joined_first(plans, slack_env, history):
    """not_in_channel on a public channel: the bot joins it and publishes."""
    result = _publish(plans["a"], history, channel="C0PUBLIC")
    assert result.action == "posted"
    assert "conversations.join" in slack_env.methods()
    assert len(slack_env.messages("C0PUBLIC")) == 1


def test_posts_to_one_channel_are_paced(plans, slack_env, history, monkeypatch):
    """Consecutive posts to one channel are at least one second apart."""
    monkeypatch.setattr("rebalance.slack.POST_INTERVAL", 1.0)
    _publish(plans["a"], history)
    times = [
        t
        for m, t in slack_env.request_times
        if m in {"chat.postMessage", "chat.update", "files.completeUploadExternal"}
    ]
    assert len(times) >= 2
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(times))


def test_channel_is_required_and_must_be_an_id(plans, history):
    """No channel anywhere, or a channel name: a configuration error naming slack.channel."""
    with pytest.raises(ConfigError) as info:
        publish(read_plan(plans["a"]), config=Config(), history=history)
    assert info.value.exit_code == 3 and "slack.channel" in str(info.value)
    with pytest.raises(ConfigError, match="channel ID"):
        publish(read_plan(plans["a"]), config=Config(), channel="#ops", history=history)


# --------------------------------------------------------------------- CLI


def test_cli_publish_then_unchanged(plans, slack_env, config):
    """`rebalance publish` posts (exit 0), and says so; a second run posts nothing."""
    result = _cli("publish", plans["a"], "--config", config)
    assert result.exit_code == 0, result.output
    assert "posted" in result.stdout and CHANNEL in result.stdout
    assert (config.parent / "state" / "history.sqlite3").is_file()
    result = _cli("publish", plans["a"], "--config", config)
    assert result.exit_code == 0 and "already up to date" in result.stdout
    assert len(slack_env.messages(CHANNEL)) == 1


def test_cli_no_token_exits_5_before_any_call(plans, slack_env, config, monkeypatch):
    """Without SLACK_BOT_TOKEN: exit 5 saying so, and not a single request."""
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    result = _cli("publish", plans["a"], "--config", config)
    assert result.exit_code == 5
    assert "SLACK_BOT_TOKEN is not set" in result.stderr
    assert slack_env.calls == []


def test_cli_missing_channel_exits_3(plans, slack_env, tmp_path):
    """No --channel and no [slack] channel: exit 3 naming slack.channel."""
    result = _cli("publish", plans["a"])
    assert result.exit_code == 3
    assert "slack.channel" in result.stderr
    assert slack_env.calls == []


def _refuse_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


ERRORS: dict[str, tuple[Any, str]] = {
    "invalid_auth": (
        lambda f, mp: mp.setenv("SLACK_BOT_TOKEN", "xoxb-wrong-token-123"),
        "check slack_bot_token",
    ),
    "not_authed": (
        lambda f, mp: f.fail("conversations.history", "error", error="not_authed"),
        "rejected the bot token (not_authed)",
    ),
    "token_revoked": (lambda f, mp: f.revoked.add(TOKEN), "rejected the bot token (token_revoked)"),
    "channel_not_found": ("G0PRIVATE", f"/invite @{BOT_NAME}"),
    "not_in_channel": (
        lambda f, mp: f.fail(
            "conversations.join", "error", error="missing_scope", needed="channels:join"
        ),
        "channels:join",
    ),
    "is_archived": ("C0ARCHIVED", "is archived"),
    "missing_scope": (
        lambda f, mp: f.fail(
            "chat.postMessage", "error", error="missing_scope", needed="chat:write"
        ),
        "lacks the chat:write scope",
    ),
    "invalid_blocks": (
        lambda f, mp: f.fail("chat.postMessage", "error", error="invalid_blocks"),
        "refused the message layout (invalid_blocks",
    ),
    "msg_too_long": (
        lambda f, mp: f.fail("chat.postMessage", "error", error="msg_too_long"),
        "refused the message layout (msg_too_long",
    ),
    "rate_limited": (
        lambda f, mp: (
            f.fail("chat.postMessage", "ratelimit", retry_after=1, times=None),
            mp.setattr("rebalance.slack.RATE_LIMIT_ATTEMPTS", 2),
        ),
        "kept rate-limiting chat.postMessage",
    ),
    "connection_refused": (
        lambda f, mp: mp.setenv("SLACK_API_URL", _refuse_url()),
        "connection refused",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_cli_errors_exit_5_with_a_fix(case, plans, slack_env, config, monkeypatch):
    """Each Slack failure exits 5 with why and how to fix, posts nothing, leaves the plan alone."""
    setup, expected = ERRORS[case]
    channel = CHANNEL
    if isinstance(setup, str):
        channel = setup
    else:
        setup(slack_env, monkeypatch)
    if case == "not_in_channel":
        channel = "C0PUBLIC"
    before = _folder_digest(plans["a"])
    result = _cli("publish", plans["a"], "--config", config, "--channel", channel, "--verbose")
    assert result.exit_code == 5, result.output
    assert expected.lower() in result.stderr.lower()
    assert "the plan is saved" in result.stderr.lower()
    assert "Traceback" not in result.output
    assert TOKEN not in result.output and "xoxb-wrong-token-123" not in result.output
    assert all(
        m.get("thread_ts") for c in slack_env.channels.values() for m in c.messages
    ) or not any(c.messages for c in slack_env.channels.values())
    with History(config.parent / "state" / "history.sqlite3") as store:
        assert (
            store.publication(plan_key("x", pd.Timestamp("2026-11-30", tz="UTC")), channel) is None
        )
        assert store._db.execute("SELECT COUNT(*) FROM publications").fetchone()[0] == 0
    assert _folder_digest(plans["a"]) == before


def test_token_never_appears_even_when_echoed(plans, slack_env, config, caplog):
    """An error body echoing the Authorization header is scrubbed; --verbose logs hold no token."""
    slack_env.fail("chat.postMessage", "error", error="invalid_arguments", echo_auth=True)
    caplog.set_level("DEBUG")
    result = _cli("publish", plans["a"], "--config", config, "--verbose")
    assert result.exit_code == 5
    assert "slack: conversations.history" in result.stderr  # --verbose logs calls
    assert "xoxb-***" in result.stderr
    assert TOKEN not in result.output
    assert TOKEN not in caplog.text
    ok = _cli("publish", plans["a"], "--config", config, "--verbose")
    assert ok.exit_code == 0 and TOKEN not in ok.output


def test_subprocess_publish(plans, fake_slack, config):
    """`rebalance publish` as a real process: exit 0, one message; again: unchanged."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        SLACK_API_URL=fake_slack.url,
        SLACK_BOT_TOKEN=TOKEN,
        REBALANCE_SLACK_TIMEOUT="5",
        NO_PROXY="127.0.0.1",
    )
    for expected in ("posted", "already up to date"):
        proc = subprocess.run(
            [REBALANCE, "publish", str(plans["a"]), "--config", str(config), "--verbose"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout
        assert TOKEN not in proc.stdout + proc.stderr
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_cli_publish_exits_6_when_the_shift_is_locked(plans, slack_env, config):
    """A publish while a run holds the (city, shift) lock exits 6 at once and posts nothing."""
    from rebalance.lock import RunLock
    from rebalance.paths import lock_path

    plan = read_plan(plans["a"])
    cfg = load_config(config)
    path = lock_path(cfg.history_path, plan.city, plan.shift_start)
    with RunLock(path, what="test holder"):
        result = _cli("publish", plans["a"], "--config", config)
    assert result.exit_code == 6, result.output
    assert "pid" in result.stderr
    assert slack_env.messages(CHANNEL) == []
    assert _cli("publish", plans["a"], "--config", config).exit_code == 0


def test_slot_plan_says_what_now_and_what_is_coming(plans, slack_env, history):
    """A plan in slots: the parent says what to do now and what is coming; later moves are
    in the thread, and the uploaded moves.csv carries slot_start."""
    plan = read_plan(plans["slots"])
    assert plan.slot_count == 8 and plan.moves["slot_start"].nunique() > 1
    result = _publish(plans["slots"], history)
    [parent] = slack_env.messages(CHANNEL)
    text = json.dumps(parent["blocks"])
    start = plan.local(plan.shift_start)
    assert f"Move now, {start:%H:%M}" in text and "Coming up" in text
    later = [
        s for s in plan.slot_starts()[1:] if len(plan.moves_at(list(plan.slot_starts()).index(s)))
    ]
    thread = json.dumps([r.get("blocks", []) for r in slack_env.replies(result.ts)])
    for when in later:
        assert f"Moves at {when:%H:%M}" in thread
    moves_upload = next(
        u for u in slack_env.uploads.values() if u["filename"].endswith("moves.csv")
    )
    header = moves_upload["data"].decode().splitlines()[0]
    assert header.endswith(",slot_start")


def test_cli_publish_reads_the_plan_folder_once(plans, slack_env, config, monkeypatch):
    """`rebalance publish` reads the folder once: the lock and the publisher share the plan."""
    import rebalance.plan

    reads: list[Path] = []
    real = rebalance.plan.read_plan

    def counting(directory):
        reads.append(Path(directory))
        return real(directory)

    monkeypatch.setattr(rebalance.plan, "read_plan", counting)
    result = _cli("publish", plans["a"], "--config", config)
    assert result.exit_code == 0, result.output
    assert reads == [plans["a"]]


def _post(plan: Any, history: History, fake: FakeSlack) -> Any:
    """``publish`` of ``plan`` to CHANNEL of ``fake``, with the default config."""
    return publish(
        plan, config=Config(), channel=CHANNEL, history=history, client=InProcessSlack(fake)
    )


def _post_under_key(
    monkeypatch: pytest.MonkeyPatch, key: str, plan: Any, history: History, fake: FakeSlack
) -> Any:
    """`_post` as a previous release posted it: under the plan key ``key``."""
    import rebalance.publish.blocks as blocks
    import rebalance.publish.protocol as protocol

    with monkeypatch.context() as patch:
        patch.setattr(protocol, "plan_key", lambda city, when: key)
        patch.setattr(blocks, "plan_key", lambda city, when: key)
        return _post(plan, history, fake)


def test_message_posted_under_an_earlier_key_is_never_posted_again(plans, tmp_path, monkeypatch):
    """A shift posted before the one slug rule ('st.-louis@...') is recognised: a re-run
    leaves it, a re-run without its history record adopts it; nothing is posted twice."""
    import dataclasses

    from rebalance.publish.identity import earlier_plan_keys

    plan = dataclasses.replace(read_plan(plans["a"]), city="St. Louis")
    start = plan.local(plan.shift_start)
    # Earlier keys: the local offset (before keys were UTC instants), and the old slug.
    [earlier] = [k for k in earlier_plan_keys(plan.city, start) if k.startswith("st.-louis@")]
    assert plan_key(plan.city, start).startswith("st-louis@")
    fake = FakeSlack()
    with History(tmp_path / "old.sqlite3") as old:
        first = _post_under_key(monkeypatch, earlier, plan, old, fake)
    assert first.action == "posted" and first.plan_key == earlier
    with History(tmp_path / "old.sqlite3") as old:
        again = _post(plan, old, fake)
    assert again.action == "unchanged" and again.ts == first.ts
    with History(tmp_path / "new.sqlite3") as new:
        adopted = _post(plan, new, fake)
        assert adopted.action == "adopted" and adopted.ts == first.ts
        assert new.publication(adopted.plan_key, CHANNEL) is not None
    assert len(fake.messages(CHANNEL)) == 1


def test_cities_whose_names_slug_alike_get_messages_of_their_own(plans, history):
    """Cities named without a letter or digit all had the plan key `city@...`: the second
    city's plan overwrote the first's message ('updated in place'), and a third with the
    same zones and moves was 'already up to date' and never posted. Long names alike in
    their first 60 characters collided the same way."""
    fake = FakeSlack()
    plan = read_plan(plans["a"])
    long = "Communauté d'agglomération du Grand Sud-Ouest de la métropole, secteur "
    names = ["🚲", "🛵🛵🛵", "★", long + "Nord", long + "Est"]
    results = [_post(dataclasses.replace(plan, city=name), history, fake) for name in names]
    assert [r.action for r in results] == ["posted"] * 5
    assert len({r.plan_key for r in results}) == len({r.ts for r in results}) == 5
    parents = {m["ts"]: m for m in fake.messages(CHANNEL)}
    assert sorted(parents) == sorted(r.ts for r in results)
    for name, result in zip(names, results, strict=True):
        assert parents[result.ts]["blocks"][0]["text"]["text"].startswith(name[:20])


@pytest.mark.parametrize(
    ("city", "old"),
    [
        ("दिल्ली", "द-ल-ल@2026-11-30T18:00Z"),
        # releases before the UTC keys wrote the start with its local offset
        ("दिल्ली", "द-ल-ल@2026-11-30T19:00+01:00"),
        ("İstanbul", "i-stanbul@2026-11-30T18:00Z"),
        # a long name's slug had the hash then too, of the words the old rule made
        (
            "दिल्ली " * 12,
            "द-ल-ल-द-ल-ल-द-ल-ल-द-ल-ल-द-ल-ल-द-ल-ल-द-ल-ल-द-ल-ल-द-ल-4ef467e1@2026-11-30T18:00Z",
        ),
        # a slug past 60 characters ends in a hash now; it was cut at 60 without one
        (
            "Communauté d'agglomération du Grand Sud-Ouest de la métropole, secteur Nord",
            "communauté-d-agglomération-du-grand-sud-ouest-de-la-métropol@2026-11-30T18:00Z",
        ),
    ],
    ids=["delhi", "delhi-local", "istanbul", "long", "cut-at-60"],
)
def test_a_message_posted_under_an_earlier_slug_rule_is_not_posted_again(
    plans, tmp_path, monkeypatch, city, old
):
    """Slugs keep marks with their letters now (Delhi `दिल्ली`, not `द-ल-ल`), and a slug
    past 60 characters ends in a hash; the message the previous release posted under the
    old key is still found, by its history record or in the channel, so the upgrade does
    not post the shift a second time."""
    plan = dataclasses.replace(read_plan(plans["a"]), city=city)
    start = plan.local(plan.shift_start)
    assert plan_key(city, start) != old
    fake = FakeSlack()
    with History(tmp_path / "old.sqlite3") as store:
        first = _post_under_key(monkeypatch, old, plan, store, fake)
    for name in ("old.sqlite3", "new.sqlite3"):  # its record; none (the channel's search)
        with History(tmp_path / name) as store:
            again = _post(plan, store, fake)
        assert again.action in {"unchanged", "adopted"} and again.ts == first.ts
    assert len(fake.messages(CHANNEL)) == 1


def test_cities_that_shared_a_key_before_are_apart_on_later_shifts(plans, history):
    """`पटना` and `पटन` shared a key while marks were separators (and two long names
    alike in their first 60 characters did too). The old keys are looked for only on
    shifts a release of before then could have posted: on a later shift the second
    city posts a message of its own instead of taking over the first's."""
    from rebalance.publish.identity import SHARED_KEYS_UNTIL, earlier_plan_keys

    plan = read_plan(plans["a"])
    later = SHARED_KEYS_UNTIL + pd.Timedelta(days=1)
    moved = dataclasses.replace(
        plan,
        shift_start=later,
        shift_end=later + (plan.shift_end - plan.shift_start),
    )
    before = pd.Timestamp("2026-11-30T18:00Z")
    assert "पटन@2026-11-30T18:00Z" in earlier_plan_keys("पटना", before)  # the old rule's
    assert not any(k.startswith("पटन@") for k in earlier_plan_keys("पटना", later))
    fake = FakeSlack()
    results = [
        _post(dataclasses.replace(moved, city=city), history, fake) for city in ("पटन", "पटना")
    ]
    assert [r.action for r in results] == ["posted", "posted"]
    assert len({r.ts for r in results}) == 2 and len(fake.messages(CHANNEL)) == 2


def test_a_thread_part_stored_twice_is_kept_once_and_the_check_waits_for_a_listable_thread(
    plans, history
):
    """A copy of thread part 1 lands after the run that posted it. The next run keeps one
    message per part (the oldest, the one a revision updates: the copy kept at another
    version's content would have stayed for good) and writes the thread again; a thread
    Slack would not list is looked at once more on the following run."""
    fake = FakeSlack()
    fake.add_channel(CHANNEL, "plans", member=True)
    client = InProcessSlack(fake)
    first = _publish(plans["big"], history, client=client)
    assert first.action == "posted" and len(first.payloads) > 2
    part_one = first.payloads[1]
    client.post_message(thread_ts=first.ts, **part_one)  # the late copy
    fake.fail("conversations.replies", "error", error="ratelimited")
    _publish(plans["big"], history, client=client)  # the thread cannot be listed
    record = history.publication(first.plan_key, CHANNEL)
    assert record is not None and record.snapshot["verify_parent"] is True
    again = _publish(plans["big"], history, client=client)
    assert again.action == "unchanged"
    parts = [
        m["metadata"]["event_payload"]["part"]
        for m in fake.replies(first.ts)
        if (m.get("metadata") or {}).get("event_type") == part_one["metadata"]["event_type"]
    ]
    assert sorted(parts) == list(range(1, len(first.payloads) - 1))
    record = history.publication(first.plan_key, CHANNEL)
    assert record is not None and record.snapshot["verify_parent"] is False
    assert record.snapshot["thread"]["complete"] is True


def test_the_previous_shifts_message_says_the_next_plan_supersedes_it(plans, slack_env, history):
    """With `rebalance run` every 15 minutes each run posts a shift of its own, and every
    older parent read as the plan in force. Posting the 19:15 plan marks the 19:00
    message (its shift still under way) under its header and first in its fallback
    text, its metadata kept (a re-run of 19:00 finds it: unchanged). Once: posting 19:30
    marks 19:15, not 19:00 again; a shift after the others have ended marks nothing; an
    earlier shift posted after a later one is marked by it."""
    from rebalance.inputs import load
    from rebalance.optimize import solve

    small = plans["a"].parent / "small"
    cfg = load_config(small / "rebalance.toml").with_changes(shift={"slot_minutes": 240})
    inputs = load(small, cfg)
    posted = {"19:00": _publish(plans["a"], history)}
    for at in ("19:15", "19:30", "23:45"):
        plan = solve(inputs, cfg, f"2026-11-30T{at}", warn=False)  # (23:45: few left)
        posted[at] = publish(plan, config=Config(), history=history, channel=CHANNEL)
        assert posted[at].action == "posted"

    def marks(at: str) -> list[str]:
        shown = slack_env.channels[CHANNEL].find(posted[at].ts) or {}
        return [
            e["text"]
            for b in shown.get("blocks", [])
            if b["type"] == "context"
            for e in b["elements"]
            if "Superseded" in e["text"]
        ]

    assert marks("19:00") == [
        ":arrow_heading_down: *Superseded* by the plan for Mon 30 Nov 19:15–23:15 CET, posted below"
    ]
    assert marks("19:15") == [
        ":arrow_heading_down: *Superseded* by the plan for Mon 30 Nov 19:30–23:30 CET, posted below"
    ]
    assert marks("19:30") == marks("23:45") == []
    shown = slack_env.channels[CHANNEL].find(posted["19:00"].ts) or {}
    assert shown["text"].startswith("(Superseded by the plan for Mon 30 Nov 19:15")
    assert _publish(plans["a"], history).action == "unchanged"
    # an earlier shift published after a later one (`rebalance publish` of an older
    # plan): it says the later one supersedes it, and it supersedes the one before
    plan = solve(inputs, cfg, "2026-11-30T20:00", warn=False)
    posted["20:00"] = publish(plan, config=Config(), history=history, channel=CHANNEL)
    assert marks("20:00") == [
        ":arrow_heading_down: *Superseded* by the plan for Mon 30 Nov 23:45–03:45 (+1 day) CET"
    ]
    assert len(marks("19:30")) == 1 and marks("23:45") == []
    # a revision of 19:00 (a retry) writes its message anew: it still says so
    assert _publish(plans["b"], history).action == "updated"
    assert marks("19:00") == [
        ":arrow_heading_down: *Superseded* by the plan for Mon 30 Nov 19:15–23:15 CET"
    ]


def test_the_previous_shifts_message_is_not_marked_while_another_process_writes_it(
    plans, slack_env, history
):
    """The mark reads the older parent and writes it back whole: done while a revision
    of that shift was being written (a retry, an approval in the app), it put the old
    plan back over the new one. It is made under that shift's run lock, taken without
    waiting: held, the message is left to its writer (whose version says it)."""
    from rebalance.inputs import load
    from rebalance.lock import RunLock
    from rebalance.optimize import solve
    from rebalance.paths import lock_path

    first = _publish(plans["a"], history)
    before = json.loads(json.dumps(slack_env.channels[CHANNEL].find(first.ts)))  # a copy
    small = plans["a"].parent / "small"
    cfg = load_config(small / "rebalance.toml").with_changes(shift={"slot_minutes": 240})
    later = solve(load(small, cfg), cfg, "2026-11-30T19:15")
    said: list[str] = []
    plan_a = read_plan(plans["a"])
    with RunLock(lock_path(history.path, plan_a.city, plan_a.shift_start)):
        publish(later, config=Config(), history=history, channel=CHANNEL, log=said.append)
    assert slack_env.channels[CHANNEL].find(first.ts) == before
    assert any("being written by another process; not marked" in line for line in said)
