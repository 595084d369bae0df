"""What --dry-run prints (rebalance.publish.dryrun)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rebalance.cli import app
from rebalance.config import Config
from rebalance.plan import read_plan
from rebalance.publish import (
    EVENT_TYPE,
    PublishResult,
    block_kit_builder_url,
    build_messages,
    dry_run_document,
    publish,
)

CHANNEL = "C0PLANS"
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config file: channel C0PLANS, history under tmp_path."""
    path = tmp_path / "rebalance.toml"
    path.write_text(
        f'[slack]\nchannel = "{CHANNEL}"\n[history]\npath = "state/history.sqlite3"\n',
        encoding="utf-8",
    )
    return path


def _cli(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


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


@pytest.fixture(scope="module")
def mid_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-zone plan (one slot) whose routes overflow into a thread part; seconds to make."""
    from rebalance import load, load_config, solve
    from rebalance.generate import generate_city

    root = tmp_path_factory.mktemp("mid")
    city = generate_city(root / "city", zones=40, couriers=600, restaurants=300, seed=5)
    cfg = load_config(city / "rebalance.toml").with_changes(shift={"slot_minutes": 240})
    plan = solve(load(city, cfg), cfg, "2026-11-30T19:00")
    return plan.write(root / "plan")


def test_cli_dry_run_preview_reads_like_the_messages(mid_plan, fake_slack, config, monkeypatch):
    """--dry-run shows each message as text with its size against Slack's limits, no JSON."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("COLUMNS", "100")
    result = _cli("publish", mid_plan, "--config", config, "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    messages = build_messages(read_plan(mid_plan), channel=CHANNEL)
    assert out.startswith(f"Dry run: nothing posted. {len(messages)} messages for {CHANNEL}")
    assert "Parent message" in out and f"Thread part {len(messages) - 1} of" in out
    assert out.count("of 10,000 characters") == len(messages)
    assert "within Slack's limits" in out and "over Slack's limits" not in out
    assert "Coverage" in out and "*Coverage*" not in out  # mrkdwn shown as text
    assert "In the thread, files:" in out and "-moves.csv" in out
    exact = f"rebalance publish {mid_plan} --dry-run --config {config} --format json"
    assert exact in " ".join(out.split())
    assert '"payloads"' not in out and max(len(x) for x in out.splitlines()) <= 100
    assert fake_slack.calls == []


def test_cli_dry_run_needs_no_channel(mid_plan, fake_slack, tmp_path, monkeypatch):
    """A dry run without any channel previews the messages and says no channel is set."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    result = _cli("publish", mid_plan, "--dry-run", "--config", tmp_path / "none.toml")
    assert result.exit_code == 3  # a missing --config file is still an error
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = _cli("publish", mid_plan, "--dry-run", "--config", empty)
    assert result.exit_code == 0, result.output
    assert "no channel yet" in result.stdout


def test_cli_channel_given_by_name_is_wrong_usage(mid_plan, fake_slack, config):
    """--channel '#general' is a usage error (exit 2) naming the option, as any other bad
    option value; it was exit 3, "invalid configuration"."""
    result = _cli("publish", mid_plan, "--dry-run", "--config", config, "--channel", "#general")
    assert result.exit_code == 2, result.output
    assert "'--channel'" in result.output and "not a Slack channel ID" in result.output
    assert fake_slack.calls == []


def test_dry_run_document_lists_payloads_in_posting_order(plans):
    """The parent first, then thread parts, then the files upload, with a preview link."""
    result = publish(read_plan(plans["big"]), config=Config(), channel=CHANNEL, dry_run=True)
    doc = json.loads(dry_run_document(result))
    methods = [(p["method"], p["in_thread"]) for p in doc["payloads"]]
    assert methods[0] == ("chat.postMessage", False)
    assert methods[-1] == ("files_upload_v2", True)
    assert all(in_thread for _, in_thread in methods[1:])
    assert doc["plan_key"] == result.plan_key and doc["channel"] == CHANNEL
    files = doc["payloads"][-1]["payload"]["file_uploads"]
    names = [f["filename"].rsplit("-", 1)[-1] for f in files]
    assert names == ["moves.csv", "zones.csv", "slots.csv"]  # "big" is planned in slots
    assert all("content" not in f and f["bytes"] > 0 for f in files)


def test_block_kit_builder_link_round_trips_the_blocks():
    """The preview link carries exactly the parent's blocks, URL-encoded."""
    import urllib.parse

    payload = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a & b <c>"}}]}
    url = block_kit_builder_url(payload)
    prefix = "https://app.slack.com/block-kit-builder#"
    assert url.startswith(prefix)
    assert json.loads(urllib.parse.unquote(url.removeprefix(prefix))) == payload


def test_empty_result_has_no_link():
    """A result without payloads prints no preview link."""
    empty = PublishResult("dry-run", CHANNEL, None, "k", "h", 0, [])
    assert json.loads(dry_run_document(empty))["block_kit_builder"] is None
