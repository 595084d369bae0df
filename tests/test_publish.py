"""Publishing to Slack (CONTRACT sections 5 and 6) against the fake Slack server."""

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

import numpy as np
import pandas as pd
import pytest
from fakeslack import BOT_NAME, TOKEN, block_problems, visible_chars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rebalance.cli import app
from rebalance.config import Config, load_config
from rebalance.errors import ConfigError, PublishError
from rebalance.generate import generate_city
from rebalance.history import History
from rebalance.inputs import load
from rebalance.optimize import solve
from rebalance.plan import Plan, read_plan
from rebalance.publish import (
    EVENT_TYPE,
    MAX_MESSAGE_CHARS,
    build_messages,
    content_hash,
    describe_changes,
    message_problems,
    plan_key,
    publish,
    snapshot,
)

SHIFT = "2026-11-30T19:00"
CHANNEL = "C0PLANS"
REBALANCE = str(Path(sys.executable).parent / "rebalance")
runner = CliRunner()


# ------------------------------------------------------------------ fixtures


def _solve_to(data: Path, out: Path, config: Config) -> Path:
    plan = solve(load(data, config), config, SHIFT)
    plan.write(out)
    return out


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan folders: ``a`` (a small city, one slot), ``b`` (its revision: demand up),
    ``big`` (200 zones, 30-minute slots), ``slots`` (the small city in 30-minute slots)."""
    root = tmp_path_factory.mktemp("plans")
    small = generate_city(root / "small", zones=12, couriers=160, restaurants=80, seed=3)
    in_slots = load_config(small / "rebalance.toml")
    cfg = in_slots.with_changes(shift={"slot_minutes": 240})
    revised = cfg.with_changes(demand={"orders_per_courier_hour": 2.0})
    big = generate_city(root / "big", zones=200, couriers=6000, restaurants=2400, seed=0)
    return {
        "a": _solve_to(small, root / "plan-a", cfg),
        "b": _solve_to(small, root / "plan-b", revised),
        "big": _solve_to(big, root / "plan-big", load_config(big / "rebalance.toml")),
        "slots": _solve_to(small, root / "plan-slots", in_slots),
    }


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
    return publish(plan_dir, config=Config(), history=history, **kw)


def _folder_digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def _cli(*args: object, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def synthetic_plan(
    zones: int, moves: int, *, name_chars: int = 20, paused: int = 3, seed: int = 0
) -> Plan:
    """A plan built directly (no solver): every zone short, long names, many routes."""
    rng = np.random.default_rng(seed)
    ids = [f"Z{i:04d}" for i in range(zones)]
    need = rng.integers(1, 40, zones)
    short = rng.integers(0, 5, zones)
    frame = pd.DataFrame(
        {
            "zone_id": ids,
            "name": [("Quartier " + "é&<x>" * name_chars)[: max(1, name_chars)] for _ in ids],
            "open_restaurants": rng.integers(0, 50, zones),
            "demand_orders_per_hour": need * 2.5,
            "required_couriers": need,
            "couriers_before": need - short - 2,
            "couriers_after": need - short,
            "moved_in": rng.integers(0, 9, zones),
            "moved_out": rng.integers(0, 9, zones),
            "shortage": short,
            "surplus": 0,
            "action": np.where(
                short > 0, "short", np.where(rng.random(zones) < 0.5, "receive", "send")
            ),
            "pause_restaurants": [
                ";".join(f"R{i:05d}{j:03d}" for j in range(paused)) if s else ""
                for i, s in enumerate(short)
            ],
            "paused_orders_per_hour": short * 2.0,
        }
    )
    src = rng.integers(0, max(zones, 1), moves)
    dst = rng.integers(0, max(zones, 1), moves)
    move_frame = pd.DataFrame(
        {
            "courier_id": [f"C{i:06d}" for i in range(moves)],
            "vehicle": rng.choice(["bike", "ebike", "scooter", "car"], moves),
            "from_zone": [ids[i] if zones else "Z" for i in src],
            "to_zone": [ids[i] if zones else "Z" for i in dst],
            "travel_minutes": rng.random(moves) * 30,
        }
    )
    return Plan(
        plan_id="synthetic",
        city="Llanfair" + "pwll" * 50,
        timezone="Europe/Paris",
        shift_start=pd.Timestamp("2026-11-30T18:00Z"),
        shift_end=pd.Timestamp("2026-11-30T22:00Z"),
        status="feasible",
        objective=1.0,
        best_bound=0.5,
        solve_seconds=1.0,
        inputs_sha256="x",
        kpis={
            "eligible_couriers": moves * 2,
            "moved_couriers": moves,
            "travel_minutes": 1e6,
            "shortage": int(short.sum()),
            "zones_short": int((short > 0).sum()),
            "coverage_before": 0.5,
            "coverage": 0.9,
            "paused_orders_per_hour": 12.5,
        },
        zones=frame,
        moves=move_frame,
    )


def _assert_within_limits(payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        assert message_problems(payload) == [], payload["text"]
        assert block_problems(payload["blocks"]) == []
        assert visible_chars(payload["blocks"]) <= MAX_MESSAGE_CHARS
        assert 0 < len(payload["text"]) <= 3000


# ------------------------------------------------------------------ messages


def test_plan_key_normalises_city_and_instant():
    """The plan key ignores city case and how the same local instant is written."""
    assert plan_key("Paris", "2026-11-30T19:00:00+01:00") == plan_key(
        " paris ", "2026-11-30T19:00+01:00"
    )
    assert plan_key("Saint Denis", "2026-11-30T19:00+01:00") == "saint-denis@2026-11-30T19:00+01:00"
    assert plan_key("Paris", "2026-11-30T19:00+01:00") != plan_key(
        "Paris", "2026-11-30T20:00+01:00"
    )


def test_content_hash_ignores_timings_and_row_order(plans):
    """The content hash depends on zones and moves only, not on timings or row order."""
    plan = read_plan(plans["a"])
    shuffled = dataclasses.replace(
        plan,
        zones=plan.zones.iloc[::-1].reset_index(drop=True),
        moves=plan.moves.sample(frac=1, random_state=1),
        timings={"solve": 99.0},
        solve_seconds=99.0,
    )
    assert content_hash(shuffled) == content_hash(plan)
    assert content_hash(read_plan(plans["b"])) != content_hash(plan)


def test_parent_message_has_header_kpis_table_actions_moves_and_metadata(plans):
    """The parent has a header, the KPIs, one zone table, the moves, a text fallback and metadata."""
    plan = read_plan(plans["a"])
    [parent, *_] = build_messages(plan, channel=CHANNEL)
    kinds = [b["type"] for b in parent["blocks"]]
    assert kinds[0] == "header" and kinds.count("table") == 1
    header = parent["blocks"][0]["text"]["text"]
    assert header.startswith(plan.city) and "19:00–23:00" in header
    fields = " ".join(f["text"] for f in parent["blocks"][1]["fields"])
    assert "Coverage" in fields and "Couriers moved" in fields and "Shortage left" in fields
    assert "coverage" in parent["text"] and "couriers moved" in parent["text"]
    texts = json.dumps(parent["blocks"], ensure_ascii=False)
    assert "Largest moves" in texts
    assert parent["metadata"]["event_type"] == EVENT_TYPE
    assert parent["metadata"]["event_payload"] == {
        "plan_key": plan_key(plan.city, plan.local(plan.shift_start).isoformat()),
        "content_hash": content_hash(plan),
        "plan_id": plan.plan_id,
    }
    _assert_within_limits(build_messages(plan, channel=CHANNEL))


def test_short_zones_list_restaurants_to_pause():
    """A short zone appears under "Action needed" with the restaurants to pause."""
    plan = synthetic_plan(5, 10, paused=2, seed=4)
    parent = build_messages(plan, channel=CHANNEL)[0]
    texts = json.dumps(parent["blocks"], ensure_ascii=False)
    first_short = plan.zones[plan.zones["action"] == "short"].iloc[0]
    assert "Action needed" in texts
    assert first_short["pause_restaurants"].split(";")[0] in texts
    assert "&lt;x&gt;" in texts  # zone names are escaped for mrkdwn


def test_200_zone_plan_posts_within_every_limit(plans):
    """A generated 200-zone plan: parent and thread parts within Slack's limits, "+N more" shown."""
    plan = read_plan(plans["big"])
    payloads = build_messages(plan, channel=CHANNEL)
    _assert_within_limits(payloads)
    texts = json.dumps(payloads[0]["blocks"], ensure_ascii=False)
    assert "more in the thread" in texts
    shown = sum(len(b["rows"]) - 1 for p in payloads for b in p["blocks"] if b["type"] == "table")
    assert shown == len(plan.attention())


def test_worst_case_200_zone_plan_within_every_limit():
    """200 short zones with long names and 6,000 moves on ~6,000 routes still fit, with the rest in the thread."""
    plan = synthetic_plan(200, 6000, name_chars=200, paused=60)
    payloads = build_messages(plan, channel=CHANNEL)
    _assert_within_limits(payloads)
    assert len(payloads[0]["blocks"][0]["text"]["text"]) <= 150
    rows = sum(len(b["rows"]) - 1 for p in payloads for b in p["blocks"] if b["type"] == "table")
    assert rows == 200


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zones=st.integers(0, 260),
    moves=st.integers(0, 800),
    name_chars=st.integers(1, 120),
    paused=st.integers(0, 40),
)
def test_any_city_size_fits_the_limits(zones, moves, name_chars, paused):
    """Whatever the city size, every payload respects every Slack limit."""
    plan = synthetic_plan(zones, moves, name_chars=name_chars, paused=paused)
    _assert_within_limits(build_messages(plan, channel=CHANNEL))


def test_describe_changes_names_zones_and_couriers(plans):
    """The "what changed" text lists zones whose numbers moved and couriers added or dropped."""
    old = snapshot(read_plan(plans["a"]))
    old["moves"]["CGONE"] = ["Z1", "Z2"]
    new = snapshot(read_plan(plans["b"]))
    new["moves"]["CNEW"] = ["Z3", "Z4"]
    text = describe_changes(old, new)
    assert text.startswith("*Plan revised.*")
    assert "zone(s) changed" in text and "CNEW (Z3 → Z4)" in text and "CGONE (was Z1 → Z2)" in text
    assert len(text) <= 2800
    huge = {"zones": {f"Z{i}": [i, 0, 0, 0, 0, 0] for i in range(500)}, "moves": {}}
    assert len(describe_changes({}, huge)) <= 2800


# ----------------------------------------------------------- exactly once


def test_publish_twice_posts_one_message(plans, slack_env, history):
    """Publishing the same plan twice: one parent, the second run posts nothing."""
    first = _publish(plans["a"], history)
    assert first.action == "posted" and first.ts
    calls = len(slack_env.calls)
    second = _publish(plans["a"], history)
    assert second.action == "unchanged" and second.ts == first.ts
    assert second.thread_replies == 0
    assert len(slack_env.calls) == calls  # not even a read
    [message] = slack_env.messages(CHANNEL)
    assert message["metadata"]["event_payload"]["plan_key"] == first.plan_key
    record = history.publication(first.plan_key, CHANNEL)
    assert record is not None and record.ts == first.ts
    assert record.content_hash == first.content_hash


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
    """A parent posted but not recorded (lost history) is found by its metadata and adopted."""
    first = _publish(plans["big"], history)
    replies = len(slack_env.replies(first.ts))
    posts = slack_env.methods().count("chat.postMessage")
    with History(tmp_path / "other.sqlite3") as fresh:
        again = _publish(plans["big"], fresh)
        assert again.action == "adopted" and again.ts == first.ts
        assert fresh.publication(first.plan_key, CHANNEL).ts == first.ts
    assert len(slack_env.messages(CHANNEL)) == 1
    assert len(slack_env.replies(first.ts)) == replies  # thread parts and files not repeated
    assert slack_env.methods().count("chat.postMessage") == posts


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
    assert note.startswith("*Plan revised.*") and "zone(s) changed" in note
    assert "courier(s) added to the moves" in note or "courier(s) dropped" in note
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
    # Same city and shift, different content: move one courier elsewhere.
    moves = big.moves.copy()
    moves.loc[0, "to_zone"] = big.zones["zone_id"].iloc[-1]
    changed = dataclasses.replace(big, moves=moves)
    folder = changed.write(plans["big"].parent / "plan-big-revised")
    revised = _publish(folder, history)
    assert revised.action == "updated" and revised.thread_replies == 1
    assert len(slack_env.replies(first.ts)) == parts + 2
    assert slack_env.methods().count("chat.update") == 1 + parts


def test_shrunk_revision_supersedes_old_thread_parts(plans, slack_env, history):
    """A revision needing fewer thread parts marks the old ones superseded, posting no new part."""
    big = read_plan(plans["big"])
    first = _publish(plans["big"], history)
    quiet = big.zones.assign(
        action="ok", moved_in=0, moved_out=0, couriers_after=big.zones["couriers_before"]
    )
    calm = dataclasses.replace(big, zones=quiet, moves=big.moves.iloc[0:0])
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


def test_server_error_before_store_searches_then_posts_once(plans, slack_env, history):
    """A 500 on chat.postMessage: the channel is searched first, then the post is sent again."""
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
        publish(plans["a"], config=Config(), history=history)
    assert info.value.exit_code == 3 and "slack.channel" in str(info.value)
    with pytest.raises(ConfigError, match="channel ID"):
        publish(plans["a"], config=Config(), channel="#ops", history=history)


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


def test_cli_dry_run_prints_payloads_and_builder_link(plans, fake_slack, config, monkeypatch):
    """--dry-run --format json needs no token, posts nothing, writes no history, prints
    payloads + a link."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    result = _cli("publish", plans["big"], "--config", config, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    payloads = doc["payloads"]
    assert payloads[0]["method"] == "chat.postMessage" and not payloads[0]["in_thread"]
    assert payloads[0]["payload"]["metadata"]["event_type"] == EVENT_TYPE
    assert payloads[-1]["method"] == "files_upload_v2"
    assert payloads[0]["payload"] == build_messages(read_plan(plans["big"]), channel=CHANNEL)[0]
    assert doc["block_kit_builder"].startswith(
        "https://app.slack.com/block-kit-builder#%7B%22blocks%22"
    )
    assert fake_slack.calls == []
    assert not (config.parent / "state").exists()


def test_cli_dry_run_preview_reads_like_the_messages(plans, fake_slack, config, monkeypatch):
    """--dry-run shows each message as text with its size against Slack's limits, no JSON."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("COLUMNS", "100")
    result = _cli("publish", plans["big"], "--config", config, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    messages = build_messages(read_plan(plans["big"]), channel=CHANNEL)
    assert out.startswith(f"Dry run: nothing posted. {len(messages)} messages for {CHANNEL}")
    assert "Parent message" in out and f"Thread part {len(messages) - 1} of" in out
    assert out.count("of 12,000 characters") == len(messages)
    assert "within Slack's limits" in out and "over Slack's limits" not in out
    assert "Coverage" in out and "*Coverage*" not in out  # mrkdwn shown as text
    assert "In the thread, files:" in out and "-moves.csv" in out
    exact = f"rebalance publish {plans['big']} --dry-run --config {config} --format json"
    assert exact in " ".join(out.split())
    assert '"payloads"' not in out and max(len(x) for x in out.splitlines()) <= 100
    assert fake_slack.calls == []


def test_cli_dry_run_needs_no_channel(plans, fake_slack, tmp_path, monkeypatch):
    """A dry run without any channel previews the messages and says no channel is set."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = _cli("publish", plans["a"], "--dry-run", "--config", tmp_path / "none.toml")
    assert result.exit_code == 3  # a missing --config file is still an error
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = _cli("publish", plans["a"], "--dry-run", "--config", empty)
    assert result.exit_code == 0, result.output
    assert "no channel yet" in result.stdout


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
        assert store.publication(plan_key("x", "y"), channel) is None
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
