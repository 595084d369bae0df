"""Exactly once under races: late stores, two publishers, other offsets, long 429s.

Against the fake Slack server over real HTTP (tests/fakeslack.py), client timeout 1 s.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from util import SHIFT, VALID

from rebalance.cli import app
from rebalance.config import Config
from rebalance.errors import PublishError
from rebalance.history import History
from rebalance.inputs import load
from rebalance.optimize import solve
from rebalance.plan import read_plan
from rebalance.publish import EVENT_TYPE, plan_key, publish

CHANNEL = "C0PLANS"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory) -> Path:
    """The valid sample city's plan, written once."""
    return solve(load(VALID), None, SHIFT).write(tmp_path_factory.mktemp("races") / "plan")


def _publish(plan_dir: Path, store: History, **kw):
    return publish(read_plan(plan_dir), config=Config(), channel=CHANNEL, history=store, **kw)


def _at_once(tmp_path: Path, names: tuple[str, str], publish_with) -> dict[str, object]:
    """``publish_with(store)`` run by two publishers at once, each with a history store of
    its own (``tmp_path/NAME.sqlite3``): what each returned, or the exception it raised."""
    results: dict[str, object] = {}

    def go(name: str) -> None:
        with History(tmp_path / f"{name}.sqlite3") as store:
            try:
                results[name] = publish_with(store)
            except Exception as exc:  # pragma: no cover - reported by the caller's assert
                results[name] = exc

    threads = [threading.Thread(target=go, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _parents(fake) -> list[dict]:
    return [
        m
        for m in fake.messages(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE
    ]


def test_late_store_within_the_window_is_adopted(plan_dir, slack_env, tmp_path):
    """Slack stores the post 2 s after the client gave up (1 s): found, not posted again."""
    slack_env.fail("chat.postMessage", "late", delay=3.0)
    with History(tmp_path / "h.sqlite3") as store:
        result = _publish(plan_dir, store)
    assert result.action == "adopted"
    assert [m["ts"] for m in _parents(slack_env)] == [result.ts]
    parent_posts = [
        params
        for method, params in slack_env.calls
        if method == "chat.postMessage" and not params.get("thread_ts")
    ]
    assert len(parent_posts) == 1  # the parent was never re-sent


def test_late_store_after_a_repost_is_removed(plan_dir, slack_env, tmp_path, monkeypatch):
    """A copy Slack stores even after the search window is removed by the next run: one parent."""
    monkeypatch.setattr("rebalance.publish.protocol.LATE_STORE_SECONDS", 0.5)
    slack_env.fail("chat.postMessage", "late", delay=3.0)
    with History(tmp_path / "h.sqlite3") as store:
        first = _publish(plan_dir, store)
        assert first.action == "posted"  # nothing found within the window: posted again
        time.sleep(2.5)  # now the first attempt lands too
        assert len(_parents(slack_env)) == 2
        again = _publish(plan_dir, store)
    [kept] = _parents(slack_env)
    assert again.ts == kept["ts"]
    assert "chat.delete" in slack_env.methods()


def test_a_thread_reply_stored_late_is_not_posted_again(slack_env, tmp_path):
    """A continuation part Slack stores 2 s after the client gave up (1 s) was looked for
    once, right away, then posted again: two copies of "(continued, 1 of 1)" in the
    thread (QA). The thread is now searched over the late-store window, as the channel is
    for the parent: one copy, and the run completes (exit 0, thread recorded complete)."""
    from rebalance.publish.identity import PART_EVENT_TYPE

    paris = Path(__file__).parent.parent / "data" / "samples" / "paris"
    big = solve(load(paris), None, SHIFT).write(tmp_path / "paris")
    slack_env.fail("chat.postMessage", "late", delay=2.0, after=1)  # the parent goes through
    with History(tmp_path / "h.sqlite3") as store:
        result = _publish(big, store)
    time.sleep(2.5)  # a copy still on its way has landed by now
    [parent] = _parents(slack_env)
    parts = [
        r
        for r in slack_env.replies(parent["ts"])
        if (r.get("metadata") or {}).get("event_type") == PART_EVENT_TYPE
    ]
    assert len(parts) >= 1
    numbers = [r["metadata"]["event_payload"]["part"] for r in parts]
    assert len(numbers) == len(set(numbers)), numbers  # no part twice
    assert result.ts == parent["ts"]


def test_two_publishers_with_different_stores_converge(plan_dir, slack_env, tmp_path):
    """Two publishers (own history, own lock) racing on one shift leave one parent and agree."""
    # Both searches are answered slowly, from the state at request time: both find nothing.
    slack_env.fail("conversations.history", "slow", delay=0.4, times=2)
    results = _at_once(tmp_path, ("a", "b"), lambda store: _publish(plan_dir, store))
    parent_posts = [
        params
        for method, params in slack_env.calls
        if method == "chat.postMessage" and not params.get("thread_ts")
    ]
    assert len(parent_posts) == 2, "the race did not happen"
    [parent] = _parents(slack_env)
    assert {r.ts for r in results.values()} == {parent["ts"]}, results  # type: ignore[union-attr]
    for name in ("a", "b"):
        with History(tmp_path / f"{name}.sqlite3") as store:
            assert store.publication(results[name].plan_key, CHANNEL).ts == parent["ts"]  # type: ignore[union-attr]
    files = [m for m in slack_env.replies(parent["ts"]) if m.get("files")]
    assert len(files) == 1  # the winner wrote the thread, once


def test_two_publishers_revising_at_once_leave_the_revision_once(plans, slack_env, tmp_path):
    """Two publishers (own history each) revise the shift at the same moment: both find no
    files of the revision in the thread and both upload them. Each then keeps the first
    upload and deletes the others: the thread holds the revision's note and files once
    (they were there twice, found fuzzing publishing against a failing Slack)."""
    from rebalance.publish import content_hash

    for name in ("one", "two"):
        with History(tmp_path / f"{name}.sqlite3") as store:
            _publish(plans["a"], store)
            # the run after a post looks once for copies stored late; done here, so
            # that the two slow reads below are the revisions' reads of the thread
            _publish(plans["a"], store)
    # Both reads of the thread are answered slowly, from the state at request time.
    slack_env.fail("conversations.replies", "slow", delay=0.4, times=2)
    results = _at_once(tmp_path, ("one", "two"), lambda store: _publish(plans["b"], store).action)
    assert results == {"one": "updated", "two": "updated"}
    uploads = [
        params for method, params in slack_env.calls if method == "files.completeUploadExternal"
    ]
    assert len(uploads) == 3, "the race did not happen"  # a's files, then b's twice
    [parent] = _parents(slack_env)
    revision = content_hash(read_plan(plans["b"]))[:10]
    with_files = [
        m
        for m in slack_env.replies(parent["ts"])
        if any(revision in f.get("title", "") for f in m.get("files") or [])
    ]
    assert len(with_files) == 1
    assert with_files[0]["text"].startswith("*Plan revised.*")
    assert slack_env.methods().count("chat.delete") >= 1


def test_the_second_poster_of_another_version_takes_over_the_thread_too(plans, tmp_path):
    """Publisher A (plan a) and B (plan b, its own history store) both find no message;
    B posts and writes its whole thread, then A's post lands. A keeps B's parent (the
    first), deletes its own and brings the parent to plan a; it left the thread to B, so
    the message showed plan a over plan b's files while both exited 0. Now A writes the
    thread for its version too: the newest files are plan a's."""
    from fakeslack import FakeSlack, InProcessSlack

    from rebalance.publish import content_hash

    fake = FakeSlack()
    fake.add_channel(CHANNEL, "plans", member=True)

    class BeatenToIt(InProcessSlack):
        """A's client: just before A's post is stored, B publishes plan b in full."""

        raced = False

        def post_message(self, **payload):
            meta = (payload.get("metadata") or {}).get("event_type")
            if meta == EVENT_TYPE and not self.raced:
                self.raced = True
                with History(tmp_path / "b.sqlite3") as other:
                    b = _publish(plans["b"], other, client=InProcessSlack(fake))
                    assert b.action == "posted"
            return super().post_message(**payload)

    with History(tmp_path / "a.sqlite3") as store:
        a = _publish(plans["a"], store, client=BeatenToIt(fake))
    assert a.action == "adopted"
    [parent] = _parents(fake)
    mine = content_hash(read_plan(plans["a"]))
    assert parent["metadata"]["event_payload"]["content_hash"] == mine
    uploads = [m for m in fake.replies(parent["ts"]) if m.get("files")]
    assert len(uploads) == 2  # b's files, then a's
    assert all(mine[:10] in f["title"] for f in uploads[-1]["files"])


def test_a_duplicate_that_cannot_be_deleted_is_marked(plan_dir, slack_env, tmp_path):
    """When Slack refuses to delete the second parent, it is marked and no longer found."""
    slack_env.fail("conversations.history", "slow", delay=0.4, times=2)
    slack_env.fail("chat.delete", "error", error="cant_delete_message", times=None)

    def go(name: str) -> None:
        with History(tmp_path / f"{name}.sqlite3") as store:
            _publish(plan_dir, store)

    threads = [threading.Thread(target=go, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(_parents(slack_env)) == 1
    marked = [
        m
        for m in slack_env.messages(CHANNEL)
        if (m.get("metadata") or {}).get("event_type") == "rebalance_plan_duplicate"
    ]
    assert len(marked) == 1 and "Posted twice" in marked[0]["text"]


def test_key_is_the_instant_whatever_the_offset(plan_dir, slack_env, tmp_path):
    """The same plan written in another timezone (same instant) finds and keeps its parent."""
    other = tmp_path / "utc"
    other.mkdir()
    for f in plan_dir.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    meta = json.loads((other / "plan.json").read_text())
    for key in ("shift_start", "shift_end"):
        meta[key] = pd.Timestamp(meta[key]).tz_convert("UTC").isoformat()
    meta["timezone"] = "UTC"
    (other / "plan.json").write_text(json.dumps(meta))
    with History(tmp_path / "a.sqlite3") as a, History(tmp_path / "b.sqlite3") as b:
        first = _publish(plan_dir, a)
        second = _publish(other, b)
    assert second.plan_key == first.plan_key and second.ts == first.ts
    assert len(_parents(slack_env)) == 1


def test_parent_with_an_old_style_key_is_found(plan_dir, slack_env, tmp_path):
    """A parent posted when keys carried the local offset is adopted, not posted again."""
    first = None
    with History(tmp_path / "a.sqlite3") as a:
        first = _publish(plan_dir, a)
    [parent] = _parents(slack_env)
    plan = read_plan(plan_dir)
    old = f"paris@{plan.local(plan.shift_start).isoformat(timespec='minutes')}"
    assert (
        old != first.plan_key
        and plan_key("Paris", pd.Timestamp(old.split("@")[1])) == first.plan_key
    )
    parent["metadata"]["event_payload"]["plan_key"] = old
    with History(tmp_path / "b.sqlite3") as b:
        again = _publish(plan_dir, b)
    assert again.action == "adopted" and again.ts == parent["ts"]


def test_search_reaches_a_parent_posted_days_before_the_shift(plan_dir, slack_env, tmp_path):
    """A parent posted 10 days before the shift (beyond any fixed 36 h) is found and adopted."""
    with History(tmp_path / "a.sqlite3") as a:
        first = _publish(plan_dir, a)
    [parent] = _parents(slack_env)
    plan = read_plan(plan_dir)
    old_ts = f"{(plan.shift_start - pd.Timedelta(days=10)).timestamp():.6f}"
    for m in slack_env.channels[CHANNEL].messages:
        if m["ts"] == parent["ts"] or m.get("thread_ts") == parent["ts"]:
            if m.get("thread_ts") == parent["ts"]:
                m["thread_ts"] = old_ts
            if m["ts"] == parent["ts"]:
                m["ts"] = old_ts
    with History(tmp_path / "b.sqlite3") as b:
        again = _publish(plan_dir, b)
    assert again.action == "adopted" and again.ts == old_ts
    assert len(_parents(slack_env)) == 1 and first.plan_key == again.plan_key


def test_plan_too_far_ahead_is_refused(plan_dir, slack_env, tmp_path):
    """A shift more than 14 days ahead is not published (exit 5), so the search always covers it."""
    # the plan ten years on: its shift, moves, slots and couriers' hours moved together
    # (a shift moved alone has no move at its start, and zones.csv's moves at odds)
    plan = read_plan(plan_dir)
    later = pd.Timedelta(days=3650)
    ahead = dataclasses.replace(
        plan,
        shift_start=plan.shift_start + later,
        shift_end=plan.shift_end + later,
        moves=plan.moves.assign(slot_start=plan.moves["slot_start"] + later),
        slots=plan.slots.assign(
            slot_start=plan.slots["slot_start"] + later, slot_end=plan.slots["slot_end"] + later
        ),
        presence=tuple(t + later.value for t in plan.presence) if plan.presence else None,
    ).write(tmp_path / "ahead")
    with History(tmp_path / "a.sqlite3") as a, pytest.raises(PublishError, match="14 days ahead"):
        _publish(ahead, a)
    assert slack_env.messages(CHANNEL) == []


def test_long_retry_after_gives_up_at_once_saying_when(plan_dir, slack_env, tmp_path):
    """A 429 asking for an hour: exit 5 within seconds, saying when Slack allows a retry."""
    slack_env.fail("chat.postMessage", "ratelimit", retry_after=3600, times=None)
    config = tmp_path / "c.toml"
    config.write_text(f'[slack]\nchannel = "{CHANNEL}"\n[history]\npath = "h.sqlite3"\n')
    started = time.monotonic()
    result = CliRunner().invoke(app, ["publish", str(plan_dir), "--config", str(config)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 5, result.output
    assert "3600 s" in result.output and "UTC" in result.output
    assert slack_env.messages(CHANNEL) == []


def test_rate_limit_waits_are_bounded_per_run(plan_dir, slack_env, tmp_path, monkeypatch):
    """Many short 429s across calls stop once the run's budget of waiting is spent."""
    monkeypatch.setattr("rebalance.slack.RATE_LIMIT_MAX_WAIT", 2.0)
    slack_env.fail("conversations.history", "ratelimit", retry_after=1, times=None)
    started = time.monotonic()
    with History(tmp_path / "a.sqlite3") as a, pytest.raises(PublishError, match="rate-limiting"):
        _publish(plan_dir, a)
    assert time.monotonic() - started < 6


def test_a_publisher_that_finds_the_parent_being_threaded_leaves_the_thread_to_it(
    plans, slack_env, tmp_path
):
    """Publisher B (its own history store) finds the parent A posted a moment ago while
    A is still writing the thread: B waits, then writes nothing; every part and the
    files are in the thread once (both used to write them all)."""
    # A's parent goes through at once; its thread parts and files each take 0.3 s.
    slack_env.fail("chat.postMessage", "slow", delay=0.3, times=None, after=1)
    slack_env.fail("files.completeUploadExternal", "slow", delay=0.3, times=None)
    results: dict[str, object] = {}

    def go(name: str) -> None:
        with History(tmp_path / f"{name}.sqlite3") as store:
            results[name] = _publish(plans["big"], store)

    a = threading.Thread(target=go, args=("a",))
    a.start()
    deadline = time.monotonic() + 10
    while not _parents(slack_env) and time.monotonic() < deadline:
        time.sleep(0.02)
    go("b")
    a.join(30)
    [parent] = _parents(slack_env)
    first, second = results["a"], results["b"]
    assert (first.action, second.action) == ("posted", "adopted")  # type: ignore[union-attr]
    assert first.ts == second.ts == parent["ts"]  # type: ignore[union-attr]
    replies = slack_env.replies(parent["ts"])
    parts = [
        m["metadata"]["event_payload"]["part"]
        for m in replies
        if (m.get("metadata") or {}).get("event_type") == "rebalance_plan_part"
    ]
    assert len(parts) == len(first.payloads) - 2 >= 1  # type: ignore[union-attr]
    assert sorted(parts) == sorted(set(parts))  # each part once
    assert second.thread_replies == 0  # type: ignore[union-attr]
    assert len([m for m in replies if m.get("files")]) == 1


def test_publish_stopped_by_sigterm_says_the_message_may_be_incomplete(
    plan_dir, slack_env, tmp_path, monkeypatch
):
    """SIGTERM while publishing: exit 143, and the word is not 'nothing half-written was
    left' (the parent may stand without its thread or files) but how to complete it."""
    from rebalance import publish as publishing
    from rebalance.errors import Terminated

    real = publishing.publish

    def stopped(*args, **kwargs):
        real(*args, **kwargs)  # posted, then the stop arrives
        raise Terminated("stopped by SIGTERM")

    monkeypatch.setattr(publishing, "publish", stopped)
    config = tmp_path / "c.toml"
    config.write_text(f'[slack]\nchannel = "{CHANNEL}"\n[history]\npath = "h.sqlite3"\n')
    result = CliRunner().invoke(app, ["publish", str(plan_dir), "--config", str(config)])
    assert result.exit_code == 143
    text = " ".join(result.output.split())
    assert "nothing half-written" not in text and "may be incomplete" in text
    assert f"rebalance publish {plan_dir} --config {config}" in text


def test_copies_stored_after_the_run_that_posted_are_removed_by_the_next(plan_dir, tmp_path):
    """A run killed while its post was in flight records nothing; the next run searches,
    finds nothing yet, and posts. The killed run's copies (a parent, the files) land
    later. The run after that looked no more ("unchanged"), and the channel kept two
    parents for good. The run after one that posted now looks once, and removes them."""
    from fakeslack import FakeSlack, InProcessSlack

    from rebalance.publish.blocks import build_files

    fake = FakeSlack()
    fake.add_channel(CHANNEL, "plans", member=True)
    client = InProcessSlack(fake)
    with History(tmp_path / "h.sqlite3") as store:
        first = _publish(plan_dir, store, client=client)
        assert first.action == "posted"
        # the late copies: the parent again, and the files again in its thread
        client.post_message(**first.payloads[0])
        marker = f"{first.content_hash[:10]}.1"
        client.upload_files(
            channel=CHANNEL,
            thread_ts=first.ts,
            files=build_files(read_plan(plan_dir), marker=marker),
            initial_comment="late",
        )
        assert len(_parents(fake)) == 2
        again = _publish(plan_dir, store, client=client)
    assert again.action == "unchanged" and again.ts == first.ts
    [parent] = _parents(fake)
    assert parent["ts"] == first.ts
    uploads = [m for m in fake.replies(first.ts) if m.get("files")]
    assert len(uploads) == 1 and uploads[0].get("text") != "late"
