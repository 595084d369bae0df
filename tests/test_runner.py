"""`rebalance run` for cron: real processes, a fake Slack, locks, crashes and history."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakeslack import BOT_USER_ID, TOKEN, FakeSlack, InProcessSlack

from rebalance.config import load_config
from rebalance.errors import ConfigError, InfeasibleError
from rebalance.generate import generate_city
from rebalance.history import History, RunRecord
from rebalance.lock import read_holder
from rebalance.runner import run

REBALANCE = str(Path(sys.executable).parent / "rebalance")
PAUSE_RUN = Path(__file__).parent / "pause_run.py"
SHIFT = "2026-11-30T19:00"
SHIFT_ISO = "2026-11-30T19:00:00+01:00"
CHANNEL = "C0PLANS"


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic city (10 zones, 100 couriers), shared by the module's tests."""
    return generate_city(
        tmp_path_factory.mktemp("city") / "testville",
        zones=10,
        couriers=100,
        restaurants=40,
        seed=1,
        shift_start=SHIFT,
    )


@pytest.fixture
def config_file(tmp_path: Path, city: Path) -> Path:
    """A config for the city: data dir, Slack channel, history under tmp_path/state."""
    path = tmp_path / "testville.toml"
    path.write_text(
        f'[city]\nname = "Testville"\ntimezone = "Europe/Paris"\n'
        f'[data]\ndir = "{city}"\n'
        f'[slack]\nchannel = "{CHANNEL}"\n'
        f'[history]\npath = "state/history.sqlite3"\n'
    )
    return path


@pytest.fixture
def env(fake_slack: FakeSlack) -> dict[str, str]:
    """Environment of a cron run: the fake Slack's URL and token, no proxy."""
    skip = ("slack_", "rebalance_", "http_proxy", "https_proxy", "all_proxy")
    base = {k: v for k, v in os.environ.items() if not k.lower().startswith(skip)}
    return {
        **base,
        "SLACK_API_URL": fake_slack.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def _cli(config: Path, *args: str, env: dict[str, str], pause: str = "") -> subprocess.Popen[str]:
    """`rebalance run` in a real process; ``pause`` (PHASE:SECONDS) sleeps after a phase."""
    command = [sys.executable, str(PAUSE_RUN), pause] if pause else [REBALANCE]
    return subprocess.Popen(
        [*command, "run", "--config", str(config), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = _cli(config, *args, env=env)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _runs(config: Path) -> list[RunRecord]:
    """Every recorded run, oldest first."""
    with History(load_config(config).history_path) as h:
        return list(reversed(h.runs(limit=100)))


def _wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _posts(slack: FakeSlack) -> list[str]:
    return [m for m in slack.methods() if m in {"chat.postMessage", "chat.update"}]


def _plan_dirs(config: Path) -> list[Path]:
    root = load_config(config).history_path.parent / "runs"
    return sorted(p.parent for p in root.rglob("plan.json")) if root.exists() else []


# ---------------------------------------------------------------- processes


def test_run_posts_once_logs_json_and_records_history(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """A cron run posts one message, logs JSON lines with its run id, and a re-run posts nothing new."""
    first = _run(config_file, "--shift-start", SHIFT, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    [record] = _runs(config_file)
    assert {line["run_id"] for line in lines} == {record.run_id}
    phases = [line for line in lines if line["event"] == "phase"]
    assert [p["phase"] for p in phases] == ["lock", "validate", "plan", "write", "publish"]
    assert all(p["outcome"] == "ok" and p["duration_ms"] >= 0 for p in phases)
    assert any(line["event"] == "slack" and line["phase"] == "publish" for line in lines)
    assert lines[-1]["event"] == "run_end" and lines[-1]["outcome"] == "succeeded"
    assert "SECRET" not in first.stdout + first.stderr

    [message] = fake_slack.messages(CHANNEL)
    assert record.status == "succeeded" and record.exit_code == 0 and record.ended_at
    assert record.slack_channel == CHANNEL and record.slack_ts == message["ts"]
    assert record.shift_start == SHIFT_ISO and record.inputs_sha256 and record.plan_id
    assert record.kpis["moved_couriers"] >= 0 and "coverage" in record.kpis
    assert record.plan_dir and (Path(record.plan_dir) / "plan.json").is_file()
    assert Path(record.plan_dir).parent.name == "20261130T1900"

    again = _run(config_file, "--shift-start", SHIFT, "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and again.stderr == ""  # quiet on success
    assert len(fake_slack.messages(CHANNEL)) == 1
    second = _runs(config_file)[-1]
    assert second.status == "succeeded" and second.slack_ts == message["ts"]
    assert second.extra["publish_action"] == "unchanged"


def test_two_concurrent_runs_one_publishes_the_other_exits_6(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """A second run while the first holds the lock exits 6 at once naming it; the first posts."""
    first = _cli(config_file, "--shift-start", SHIFT, env=env, pause="lock:2")
    lock = load_config(config_file).history_path.parent / "locks"
    _wait_for(
        lambda: [h for h in map(read_holder, lock.glob("*.lock")) if h and h.pid == first.pid]
    )
    # Freeze the holder inside its run, so the test does not depend on machine speed.
    first.send_signal(signal.SIGSTOP)
    try:
        second = _run(config_file, "--shift-start", SHIFT, env=env)
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 6, second.stderr
    assert "holds the lock" in second.stderr and f"pid {first.pid}" in second.stderr
    lock_phase = next(json.loads(x) for x in second.stdout.splitlines() if '"lock"' in x)
    assert lock_phase["outcome"] == "error" and lock_phase["duration_ms"] < 1000  # no waiting
    assert len(fake_slack.messages(CHANNEL)) == 1

    skipped, winner = sorted(_runs(config_file), key=lambda r: r.status)
    assert (skipped.status, skipped.exit_code, skipped.phase) == ("skipped", 6, "lock")
    assert skipped.ended_at and f"pid {first.pid}" in (skipped.error or "")
    assert winner.status == "succeeded" and winner.slack_ts == fake_slack.messages(CHANNEL)[0]["ts"]


def test_the_next_shift_re_plans_against_a_run_killed_after_it_posted(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """The README's crontab: each run is a shift of its own. 19:00 posts; 19:30 is
    killed after posting its parent (its thread unfinished); 20:00 runs. It re-planned
    against 19:00, the plan before the one the channel showed, and changed instructions
    couriers had while saying it changed none, and 19:00 still read as in force (an
    audit). Now 20:00 re-plans against the killed run's posted plan, both older
    messages say 20:00 supersedes them, and 20:00 finishes the killed run's thread."""
    shift = pd.Timestamp(SHIFT_ISO)
    at = [(shift + pd.Timedelta(minutes=m)).isoformat() for m in (0, 30, 60)]
    assert _run(config_file, "--shift-start", at[0], env=env).returncode == 0
    # 19:30 killed while it uploads its thread's files: its parent posted and recorded
    uploads = fake_slack.methods().count("files.getUploadURLExternal")
    fake_slack.fail("files.getUploadURLExternal", "slow", times=1, delay=30.0)
    proc = _cli(config_file, "--shift-start", at[1], env=env)
    _wait_for(lambda: fake_slack.methods().count("files.getUploadURLExternal") > uploads)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    fake_slack.clear()
    third = _run(config_file, "--shift-start", at[2], env=env)
    assert third.returncode == 0, third.stderr
    first, killed, last = _runs(config_file)
    assert killed.status == "crashed" and last.status == "succeeded"
    said = [json.loads(line) for line in third.stdout.splitlines()]
    [previous] = [e["message"] for e in said if e["event"] == "previous"]
    assert previous.startswith(f"re-planning against run {killed.run_id} ")
    parents = fake_slack.messages(CHANNEL)
    assert len(parents) == 3 and parents[0]["ts"] == first.slack_ts
    marked = [m["ts"] for m in parents if m["text"].startswith("(Superseded by the plan for")]
    assert marked == [parents[0]["ts"], parents[1]["ts"]]
    # and the killed run's thread is finished: its files, once (no run of 19:30 comes
    # again under this crontab to upload them)
    for parent in parents:
        uploads = [m for m in fake_slack.replies(parent["ts"], CHANNEL) if m.get("files")]
        assert len(uploads) == 1, parent["text"][:60]
    assert any(e["event"] == "finished_older" for e in said)
    # a re-run of 20:00 looks once more (after a run that posted) and writes nothing
    calls = len(fake_slack.methods())
    assert _run(config_file, "--shift-start", at[2], env=env).returncode == 0
    writes = [m for m in fake_slack.methods()[calls:] if m.startswith(("chat.", "files."))]
    assert writes == []


@pytest.mark.parametrize("where", ["slack-answer", "after-publish"])
def test_sigkill_mid_publish_then_rerun_posts_exactly_once(
    where: str, config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """A run killed -9 while publishing leaves a consistent history; the rerun completes it, one message."""
    if where == "slack-answer":
        # Slack stores the message but the answer never arrives: the worst moment to die.
        fake_slack.fail("chat.postMessage", "slow", delay=30.0)
        proc = _cli(config_file, "--shift-start", SHIFT, env=env)
        _wait_for(lambda: fake_slack.messages(CHANNEL))
    else:
        proc = _cli(config_file, "--shift-start", SHIFT, env=env, pause="publish:30")
        _wait_for(lambda: [r for r in _runs(config_file) if r.slack_ts])
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    [dead] = _runs(config_file)
    assert dead.status == "running" and dead.phase == "publish"  # what kill -9 leaves
    fake_slack.clear()

    rerun = _run(config_file, "--shift-start", SHIFT, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert len(fake_slack.messages(CHANNEL)) == 1
    crashed, done = _runs(config_file)
    assert crashed.run_id == dead.run_id and crashed.status == "crashed"
    assert crashed.phase == "publish" and "killed or crashed" in (crashed.error or "")
    assert done.status == "succeeded" and done.extra["recovered"] == [dead.run_id]
    [message] = fake_slack.messages(CHANNEL)
    assert done.slack_ts == message["ts"]
    # Killed before Slack answered: found by its metadata and adopted; after: already recorded.
    assert done.extra["publish_action"] == {"slack-answer": "adopted"}.get(where, "unchanged")
    files = [m for m in fake_slack.replies(message["ts"], CHANNEL) if m.get("files")]
    assert len(files) == 1  # the thread was finished once, not twice
    warnings = [json.loads(line) for line in rerun.stdout.splitlines()]
    assert any(w["event"] == "recovered" and w["level"] == "warning" for w in warnings)


def test_bad_input_exits_3_records_the_error_and_posts_nothing(
    tmp_path: Path, config_file: Path, city: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """Bad input: exit 3 naming file and line, a failed history row, no plan folder, no Slack call."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("zones.csv", "restaurants.csv", "couriers.csv"):
        (bad / name).write_bytes((city / name).read_bytes())
    zones = pd.read_csv(bad / "zones.csv", dtype=str, keep_default_na=False)
    zones.loc[1, "lat"] = "north"
    zones.to_csv(bad / "zones.csv", index=False)

    result = _run(config_file, str(bad), "--shift-start", SHIFT, env=env)
    assert result.returncode == 3
    assert "zones.csv" in result.stderr and "line 3" in result.stderr
    [record] = _runs(config_file)
    assert record.status == "failed" and record.exit_code == 3 and record.phase == "validate"
    assert record.error and "zones.csv" in record.error and "line 3" in record.error
    assert record.plan_dir is None and _plan_dirs(config_file) == []
    assert fake_slack.calls == []
    end = json.loads(result.stdout.splitlines()[-1])
    assert end["event"] == "run_end" and end["exit_code"] == 3 and end["run_id"] == record.run_id


def test_publish_failure_exits_5_keeps_the_plan_and_says_how_to_retry(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """Slack refusing: exit 5, the plan kept, history failed@publish with the retry command."""
    fake_slack.fail("chat.postMessage", "error", error="is_archived", times=None)
    result = _run(config_file, "--shift-start", SHIFT, env=env)
    assert result.returncode == 5, result.stderr
    assert f"--shift-start {SHIFT_ISO}" in result.stderr
    [record] = _runs(config_file)
    assert record.status == "failed" and record.exit_code == 5 and record.phase == "publish"
    assert record.plan_dir and (Path(record.plan_dir) / "plan.json").is_file()
    assert record.error and "To retry" in record.error
    assert fake_slack.messages(CHANNEL) == []

    fake_slack.clear()
    retry = _run(config_file, "--shift-start", SHIFT, env=env)
    assert retry.returncode == 0, retry.stderr
    assert len(fake_slack.messages(CHANNEL)) == 1


@pytest.mark.parametrize("error", ["is_archived", "channel_not_found", "not_in_channel"])
def test_a_slack_refusal_says_once_that_the_plan_is_saved(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str], error: str
) -> None:
    """Slack refusing the post: the JSON log's run_end error and the history say why,
    that the plan is saved (once) and how to retry."""
    fake_slack.fail("chat.postMessage", "error", error=error, times=None)
    fake_slack.fail("conversations.join", "error", error=error, times=None)
    result = _run(config_file, "--shift-start", SHIFT, "--log-format", "json", env=env)
    assert result.returncode == 5, result.stderr
    end = json.loads(result.stdout.splitlines()[-1])
    assert end["event"] == "run_end" and end["exit_code"] == 5
    [record] = _runs(config_file)
    for text in (end["error"], record.error or ""):
        assert f"({error})" in text
        assert text.count("The plan is saved.") == 1, text
        assert f"To retry, run the same shift again: rebalance run --config {config_file}" in text


def test_dry_run_prints_payloads_records_and_posts_nothing(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """--dry-run plans, prints the exact payloads, records dry_run and calls no Slack write method."""
    result = _run(config_file, "--shift-start", SHIFT, "--dry-run", "--log-format", "text", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout[: result.stdout.rindex("\nrun ")])
    assert document["channel"] == CHANNEL and document["payloads"]
    assert document["payloads"][0]["payload"]["channel"] == CHANNEL
    assert "dry run for" in result.stdout.splitlines()[-1]
    assert _posts(fake_slack) == []
    [record] = _runs(config_file)
    assert record.dry_run and record.status == "succeeded"


def test_sigterm_is_recorded_as_a_failed_run(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """SIGTERM (systemd stop, timeout) ends the run with exit 143 and a row saying so."""
    proc = _cli(config_file, "--shift-start", SHIFT, env=env, pause="plan:30")
    _wait_for(lambda: [r for r in _runs(config_file) if r.plan_id])
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143 and "SIGTERM" in err
    [record] = _runs(config_file)
    assert record.status == "failed" and record.exit_code == 143 and record.phase == "plan"
    assert _posts(fake_slack) == []


# --------------------------------------------------------------- in process


def test_shift_defaults_to_now_rounded_down_in_city_time(config_file: Path) -> None:
    """Without --shift-start a run plans from now rounded down to the quarter hour, city time."""
    now = datetime(2026, 11, 30, 18, 14, 59, tzinfo=UTC)
    result = run(load_config(config_file), dry_run=True, now=now)
    assert result.record.shift_start == SHIFT_ISO
    assert result.plan_dir.parent.name == "20261130T1900"


def test_missing_data_dir_exits_3_naming_the_key(tmp_path: Path) -> None:
    """No DATA_DIR and no [data] dir: a config error naming data.dir, recorded in history."""
    path = tmp_path / "c.toml"
    path.write_text('[history]\npath = "h.sqlite3"\n')
    with pytest.raises(ConfigError, match=r"data\.dir") as caught:
        run(load_config(path), shift_start=SHIFT)
    assert caught.value.exit_code == 3
    [record] = _runs(path)
    assert record.exit_code == 3 and "data.dir" in (record.error or "")


def test_infeasible_exits_4_with_no_plan_folder(
    tmp_path: Path, config_file: Path, city: Path
) -> None:
    """A shift no plan can satisfy: exit 4, failed@plan with the reason, no plan folder."""
    tight = tmp_path / "tight"
    tight.mkdir()
    for name in ("restaurants.csv", "couriers.csv"):
        (tight / name).write_bytes((city / name).read_bytes())
    zones = pd.read_csv(city / "zones.csv", dtype=str, keep_default_na=False)
    zones["max_couriers"] = "0"
    zones.to_csv(tight / "zones.csv", index=False)
    with pytest.raises(InfeasibleError) as caught:
        run(load_config(config_file), tight, shift_start=SHIFT)
    [record] = _runs(config_file)
    assert record.status == "failed" and record.exit_code == 4 and record.phase == "plan"
    assert record.error == str(caught.value) and _plan_dirs(config_file) == []


def test_dead_runs_are_marked_crashed_and_live_ones_left_alone(config_file: Path) -> None:
    """Running rows of the locked shift, or of a dead pid on this host, become crashed."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    config = load_config(config_file)
    with History(config.history_path) as h:
        same = h.start_run("Testville", SHIFT_ISO, dry_run=True)  # our pid: alive, yet dead
        gone = h.start_run("Testville", "2026-11-30T18:00:00+01:00", pid=dead_pid)
        alive = h.start_run("Testville", "2026-11-30T18:00:00+01:00")
        # the real run of this shift, on another host: the dry run holds its own lock,
        # not this one's, so it cannot know that run dead
        real = h.start_run("Testville", SHIFT_ISO, host="cron-2")
    result = run(config, shift_start=SHIFT, dry_run=True)
    assert result.recovered == (same.run_id,)
    with History(config.history_path) as h:
        status = {r.run_id: r.status for r in h.runs(limit=10)}
    assert status[same.run_id] == "crashed" and status[gone.run_id] == "crashed"
    assert status[alive.run_id] == "running" and status[result.run_id] == "succeeded"
    assert status[real.run_id] == "running"


def test_the_recorded_command_repeats_the_run_as_it_was_asked(
    config_file: Path, city: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`history show` and an exit-5 error give the command that runs the shift again:
    the data folder absolute (cron's working folder is not the operator's), the channel
    it was given, and --dry-run for a dry run (pasted without it, a preview published
    for real)."""
    monkeypatch.chdir(city.parent)
    config = load_config(config_file)
    result = run(config, city.name, shift_start=SHIFT, dry_run=True, channel="C0OTHER")
    command = result.record.extra["command"]
    assert command == (
        f"rebalance run --config {config_file.absolute()} {city.absolute()} "
        f"--shift-start {SHIFT_ISO} --channel C0OTHER --dry-run"
    )


def test_a_preview_and_the_real_run_of_a_shift_never_block_each_other(config_file: Path) -> None:
    """README: a dry run has its own lock, so an operator's preview never blocks the cron
    run (exit 6 at 18:00) and the cron run never blocks a preview."""
    from rebalance.lock import RunLock
    from rebalance.paths import lock_path

    config = load_config(config_file)
    shift = pd.Timestamp(SHIFT_ISO)
    for held, dry_run in ((False, True), (True, False)):
        lock = RunLock(lock_path(config.history_path, "Testville", shift, dry_run=held))
        lock.acquire()
        try:
            result = run(config, shift_start=SHIFT, dry_run=True) if dry_run else None
            if not dry_run:  # the real run publishes: stop it right after its lock
                with pytest.raises(_Stop):
                    run(config, shift_start=SHIFT, after_phase=_stop_after("lock"))
            else:
                assert result is not None and result.record.status == "succeeded"
        finally:
            lock.release()


class _Stop(Exception):
    """Raised by `_stop_after` once the run is past the phase."""


def _stop_after(phase: str) -> Callable[[str], None]:
    def check(name: str) -> None:
        if name == phase:
            raise _Stop(name)

    return check


def test_a_run_without_a_token_records_that_its_plan_is_saved_and_how_to_retry(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No SLACK_BOT_TOKEN: exit 5 after planning; `history show` says the plan is saved
    (Slack's own refusals say it in their hint; this one does not) and the command that
    runs the shift again."""
    from rebalance.errors import PublishError

    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    config = load_config(config_file)
    with pytest.raises(PublishError):
        run(config, shift_start=SHIFT)
    [record] = _runs(config_file)
    assert record.exit_code == 5 and record.error is not None
    assert (
        "The plan is saved. To retry, run the same shift again: rebalance run --config "
        f"{config_file.absolute()} --shift-start {SHIFT_ISO}"
    ) in record.error
    assert record.error.count("The plan is saved.") == 1


def test_an_interrupted_run_is_recorded_with_exit_130(config_file: Path) -> None:
    """Ctrl-C in a terminal: the run is recorded as failed with 130, the shell's code for
    SIGINT (what the process exits with too), not 1 ("a bug")."""
    config = load_config(config_file)

    def interrupt(name: str) -> None:
        if name == "validate":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config, shift_start=SHIFT, dry_run=True, after_phase=interrupt)
    [record] = _runs(config_file)
    assert record.status == "failed" and record.exit_code == 130


def test_a_crashed_runs_half_written_plan_copies_are_removed(config_file: Path) -> None:
    """A run killed while writing its plan leaves `.RUN_ID.tmp-*` in its own folder's
    parent, which no later write sweeps (each run writes a folder of its own): the run
    that finds it crashed removes them, and no other run's."""
    from rebalance.paths import run_dir

    config = load_config(config_file)
    with History(config.history_path) as h:
        dead = h.start_run("Testville", SHIFT_ISO, dry_run=True)
        other = h.start_run("Testville", "2026-11-30T18:00:00+01:00")  # our pid: alive
    shift = datetime.fromisoformat(SHIFT_ISO)
    folder = run_dir(config.history_path, "Testville", shift, dead.run_id)
    half = folder.parent / f".{dead.run_id}.tmp-abc123"
    (half / "moves.csv").parent.mkdir(parents=True)
    (half / "moves.csv").write_text("courier_id\n")
    live = run_dir(
        config.history_path,
        "Testville",
        datetime.fromisoformat("2026-11-30T18:00:00+01:00"),
        other.run_id,
    )
    busy = live.parent / f".{other.run_id}.tmp-def456"
    busy.mkdir(parents=True)
    result = run(config, shift_start=SHIFT, dry_run=True)
    assert result.recovered == (dead.run_id,)
    assert not half.exists() and busy.exists()


def test_a_crash_before_the_upgrade_is_swept_where_that_release_wrote(
    config_file: Path, tmp_path: Path
) -> None:
    """A run of "दिल्ली" killed mid-write under the release of before 2026-12-07 left its
    temporary copy in `runs/द-ल-ल/` (marks were separators then), and took the lock
    `द-ल-ल-...`: the run that finds it crashed sweeps that folder too, and a run of
    either release locks the same file."""
    from rebalance.paths import lock_path, run_dir

    delhi = tmp_path / "delhi.toml"
    delhi.write_text(config_file.read_text().replace('name = "Testville"', 'name = "दिल्ली"'))
    config = load_config(delhi)
    with History(config.history_path) as h:
        dead = h.start_run("दिल्ली", SHIFT_ISO, dry_run=True)
    shift = datetime.fromisoformat(SHIFT_ISO)
    old = run_dir(config.history_path, "दिल्ली", shift, dead.run_id, name="द-ल-ल")
    half = old.parent / f".{dead.run_id}.tmp-abc123"
    half.mkdir(parents=True)
    assert lock_path(config.history_path, "दिल्ली", shift).name.startswith("द-ल-ल-")
    result = run(config, shift_start=SHIFT, dry_run=True)
    assert result.recovered == (dead.run_id,) and not half.exists()
    assert "/runs/दिल्ली/" in str(result.plan_dir)


def test_dry_run_needs_no_channel(
    tmp_path: Path, city: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """--dry-run without any channel plans and prints payloads (exit 0); Slack is not called."""
    config = tmp_path / "nochannel.toml"
    config.write_text(f'[data]\ndir = "{city}"\n[history]\npath = "state/h.sqlite3"\n')
    result = _run(config, "--shift-start", SHIFT, "--dry-run", "--log-format", "text", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout[: result.stdout.rindex("\nrun ")])
    assert document["channel"] == "" and document["payloads"]
    assert fake_slack.calls == []


def test_run_without_channel_exits_3_before_planning_with_a_complete_retry(
    tmp_path: Path, city: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """A real run without a channel fails at validate (exit 3, no plan folder) and the retry names --channel."""
    config = tmp_path / "nochannel.toml"
    config.write_text(f'[data]\ndir = "{city}"\n[history]\npath = "state/h.sqlite3"\n')
    result = _run(config, "--shift-start", SHIFT, "--log-format", "text", env=env)
    assert result.returncode == 3
    assert "slack.channel" in result.stderr
    retry = f"rebalance run --config {config} --shift-start {SHIFT_ISO} --channel CHANNEL_ID"
    assert retry in result.stderr
    [record] = _runs(config)
    assert record.phase == "validate" and record.plan_dir is None and _plan_dirs(config) == []
    assert fake_slack.calls == []


def test_run_with_an_approval_channel_name_exits_3_before_planning(
    tmp_path: Path, city: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """[slack] approval_channel given as a name: exit 3 naming the key before anything
    (it used to plan, write the folder, then fail): the configuration itself is refused,
    as `rebalance validate --config` refuses it, so no run is recorded, no plan folder
    written, no Slack call made."""
    config = tmp_path / "badapproval.toml"
    text = (
        f'[data]\ndir = "{city}"\n[slack]\nchannel = "{CHANNEL}"\n'
        'approval_channel = "ops-approve"\n[history]\npath = "state/h.sqlite3"\n'
    )
    config.write_text(text)
    result = _run(config, "--shift-start", SHIFT, "--log-format", "text", env=env)
    assert result.returncode == 3, result.stderr
    assert "slack.approval_channel" in result.stderr and "'ops-approve'" in result.stderr
    assert not (tmp_path / "state").exists()
    assert fake_slack.calls == []


def test_run_publishes_the_plan_it_solved_without_reading_it_back(config_file: Path) -> None:
    """In one run the plan goes from the solver to Slack in memory; the folder is only written."""

    def remove_files_once_written(phase: str) -> None:
        if phase == "write":
            [folder] = _plan_dirs(config_file)
            for name in ("zones.csv", "moves.csv", "plan.json"):
                (folder / name).unlink()

    fake = FakeSlack()  # in-process: never started
    result = run(
        load_config(config_file),
        shift_start=SHIFT,
        client=InProcessSlack(fake),
        after_phase=remove_files_once_written,
    )
    assert result.publish.action == "posted"
    [parent] = fake.messages(CHANNEL)
    assert parent["metadata"]["event_payload"]["plan_id"] == result.plan.plan_id


def test_after_phase_sees_every_phase_in_order(config_file: Path) -> None:
    """The after_phase seam is called once per phase, in the order the run goes through them."""
    seen: list[str] = []
    run(load_config(config_file), shift_start=SHIFT, dry_run=True, after_phase=seen.append)
    assert seen == ["lock", "validate", "plan", "write", "publish"]


def test_a_run_told_to_wait_for_the_lock_waits_once_not_a_skipped_run_a_second(
    config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With ``lock_wait`` (the Slack app's re-plans), a run that finds the shift's lock
    held waits for it and then plans: one info line says it waits, the history holds no
    "skipped" run and the log no error. It retried as a new run each second before: a
    skipped row and an error line apiece. Past the wait it is a skipped run, exit 6."""
    from rebalance.errors import LockHeldError

    fake = FakeSlack()  # in-process: never started
    config = load_config(config_file)
    with _held_by_a_run(config, fake, release_after=1.0):
        caplog.clear()
        with caplog.at_level("INFO", logger="rebalance"):
            second = run(config, shift_start=SHIFT, client=InProcessSlack(fake), lock_wait=30)
    assert second.publish.action in {"unchanged", "adopted"}  # the first posted it
    assert [r.status for r in _runs(config_file)] == ["succeeded", "succeeded"]
    waits = [r for r in caplog.records if getattr(r, "event", None) == "lock_wait"]
    assert len(waits) == 1 and "Waiting up to 30 s" in waits[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(fake.messages(CHANNEL)) == 1

    with _held_by_a_run(config, fake), pytest.raises(LockHeldError):
        run(config, shift_start=SHIFT, client=InProcessSlack(fake), lock_wait=0.5)
    assert [r.status for r in _runs(config_file)].count("skipped") == 1


@contextlib.contextmanager
def _held_by_a_run(config: Any, fake: FakeSlack, release_after: float | None = None) -> Any:
    """A run of SHIFT in a thread, holding the shift's lock for the ``with`` block (or
    for ``release_after`` seconds of it), then finishing."""
    holding, release = threading.Event(), threading.Event()

    def hold(phase: str) -> None:
        if phase == "lock":
            holding.set()
            release.wait(20)

    first = threading.Thread(
        target=run,
        args=(config,),
        kwargs={"shift_start": SHIFT, "client": InProcessSlack(fake), "after_phase": hold},
    )
    first.start()
    try:
        assert holding.wait(20)
        if release_after is not None:
            threading.Timer(release_after, release.set).start()
        yield
    finally:
        release.set()
        first.join(30)


def test_the_last_log_line_names_the_city_as_written(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """run_end's message was the terminal's rich markup: a city "[bold]Evil[/]" was
    logged as "\\[bold]Evil\\[/]", and a name ending in a backslash gained an invisible
    U+200B. The log line has the name as written (controls written out)."""
    # in TOML: ESC as \u001b, and a backslash at the end of the name
    text = config_file.read_text().replace('"Testville"', '"[bold]Evil[/] \\u001b[31m end\\\\"')
    config_file.write_text(text)
    done = _run(config_file, "--shift-start", SHIFT, "--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    (end,) = [line for line in lines if line.get("event") == "run_end"]
    assert "[bold]Evil[/] \\x1b[31m end\\ " in end["message"], end["message"]
    assert "\\[" not in end["message"] and "\u200b" not in end["message"]


# ------------------------------------------- the history store moved aside


def _move_store_aside(config: Path) -> None:
    """What the operator does with a corrupt store (the `mv` its error prints)."""
    store = load_config(config).history_path
    store.rename(f"{store}.corrupt")


def _said(
    done: subprocess.CompletedProcess[str], event: str, level: str | None = None
) -> list[str]:
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [
        line["message"]
        for line in lines
        if line["event"] == event and level in (None, line["level"])
    ]


def _plan_json(folder: str | Path) -> dict[str, Any]:
    return dict(json.loads((Path(folder) / "plan.json").read_text(encoding="utf-8")))


def test_a_store_moved_aside_re_plans_a_shift_against_the_plan_its_message_shows(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """19:00 posts; its store is corrupt and moved aside; the 19:15 run planned afresh:
    the couriers 19:00 sent, on their way, were counted where couriers.csv has them and
    sent again (an ops incident). It now finds 19:00's run folder by the plan its Slack
    message shows, and re-plans against it: they count at their destinations. And 19:00's
    message, which the new store does not know, is marked superseded by 19:15's."""
    shift = pd.Timestamp(SHIFT_ISO)
    first = _run(config_file, "--shift-start", SHIFT, env=env)
    assert first.returncode == 0, first.stderr
    [published] = _runs(config_file)
    sent = pd.read_csv(Path(str(published.plan_dir)) / "moves.csv", dtype=str)
    later = shift + pd.Timedelta(minutes=15)
    on_their_way = sent[pd.to_datetime(sent["slot_start"], utc=True) < later]
    assert len(on_their_way) > 0
    _move_store_aside(config_file)

    calls = len(fake_slack.methods())
    second = _run(config_file, "--shift-start", later.isoformat(), env=env)
    assert second.returncode == 0, second.stderr
    [note] = _said(second, "previous")
    assert note.startswith(f"re-planning against run {published.run_id} ")
    assert "found from the Slack message" in note and "history store did not know it" in note
    [record] = _runs(config_file)  # the new store's only run
    chosen = record.extra["previous"]
    assert chosen["used"] is True and chosen["run_id"] == published.run_id
    assert chosen["plan_dir"] == published.plan_dir and chosen["found_in"] == "slack"
    plan = _plan_json(str(record.plan_dir))
    assert plan["kpis"]["on_the_way"] == len(on_their_way)
    assert {r["courier_id"] for r in plan["under_way"]} == set(on_their_way["courier_id"])
    # not sent again: none of them has a move in the new plan
    moves = pd.read_csv(Path(str(record.plan_dir)) / "moves.csv", dtype=str)
    assert not set(moves["courier_id"]) & set(on_their_way["courier_id"])
    # one conversations.history for the lookup, before the publisher's own search
    asked = fake_slack.methods()[calls:]
    assert asked[: asked.index("chat.postMessage")] == ["conversations.history"] * 3
    # the 19:00 message, unknown to the new store, is marked superseded by 19:15's (it
    # read as the plan in force beside it); the one look for it is the third search
    old, new = fake_slack.messages(CHANNEL)
    assert old["ts"] == published.slack_ts and new["ts"] == record.slack_ts
    assert old["text"].startswith("(Superseded by the plan for ")
    assert not new["text"].startswith("(Superseded")


def test_after_the_store_is_moved_aside_a_revision_keeps_couriers_instructions(
    config_file: Path, city: Path, tmp_path: Path, fake_slack: FakeSlack, env: dict[str, str]
) -> None:
    """The same shift run again on changed courier data after its store was moved aside:
    planned afresh, the message could be revised with other instructions for couriers
    who had theirs. It now re-plans against the plan its message shows: the message is
    revised in place, and every courier still there keeps its instruction for now; and
    the revision itemises what changed, as with a store that recorded the message (it
    said the changes "cannot be itemised")."""
    data = tmp_path / "data"
    shutil.copytree(city, data)
    first = _run(config_file, str(data), "--shift-start", SHIFT, env=env)
    assert first.returncode == 0, first.stderr
    [published] = _runs(config_file)
    sent = pd.read_csv(Path(str(published.plan_dir)) / "moves.csv", dtype=str)
    assert len(sent) > 2
    _move_store_aside(config_file)
    # one courier who was sent has logged off since
    gone = sent["courier_id"].iloc[0]
    couriers = pd.read_csv(data / "couriers.csv", dtype=str, keep_default_na=False)
    couriers[couriers["courier_id"] != gone].to_csv(data / "couriers.csv", index=False)

    second = _run(config_file, str(data), "--shift-start", SHIFT, env=env)
    assert second.returncode == 0, second.stderr
    [record] = _runs(config_file)
    assert record.extra["previous"]["run_id"] == published.run_id
    assert record.extra["publish_action"] == "updated"
    [parent] = fake_slack.messages(CHANNEL)  # revised in place, never a second message
    assert parent["metadata"]["event_payload"]["plan_id"] == record.plan_id
    notes = [m["text"] for m in fake_slack.replies(parent["ts"], CHANNEL)]
    assert not [n for n in notes if "cannot be itemised" in n]
    [revision] = [n for n in notes if n.startswith("*Plan revised.*")]
    changed = re.search(r"revised \d\d:\d\d: (\d+) couriers? with new", parent["text"])
    assert changed and f"*{changed[1]}* courier" in revision
    assert f"*1* {gone}: no longer" in revision
    plan = _plan_json(str(record.plan_dir))
    assert plan["kpis"]["changed_couriers"] == 0
    # what couriers were told to do now stands (later slots cost no change: they may move)
    moves = pd.read_csv(Path(str(record.plan_dir)) / "moves.csv", dtype=str)
    now = sent[(sent["courier_id"] != gone) & (sent["slot_start"] == SHIFT_ISO)]
    again = moves.merge(now, on=["courier_id", "from_zone", "to_zone", "slot_start"])
    assert len(again) == len(now) > 0
    assert set(again["since_previous"]) == {"unchanged"}


@pytest.mark.parametrize("failure", ["http500", "unreachable"])
def test_slack_failing_while_the_plan_in_force_is_looked_for_still_plans_and_says_why(
    config_file: Path, fake_slack: FakeSlack, env: dict[str, str], failure: str
) -> None:
    """After the store was moved aside, the channel is asked which plan is in force: a
    Slack failing there (HTTP 500 on every try of that request, or nobody listening) is
    no failure of the run. It plans from scratch and its note says why; a Slack still
    unreachable when publishing is exit 5 as always, the plan kept."""
    from rebalance.slack import SAFE_RETRIES

    assert _run(config_file, "--shift-start", SHIFT, env=env).returncode == 0
    _move_store_aside(config_file)
    if failure == "http500":  # the lookup's tries only: publishing then succeeds
        fake_slack.fail("conversations.history", "http500", times=1 + SAFE_RETRIES)
        expected = 0
    else:
        env = {**env, "SLACK_API_URL": "http://127.0.0.1:9/api/"}
        expected = 5
    second = _run(config_file, "--shift-start", SHIFT, env=env)
    assert second.returncode == expected, second.stderr
    [record] = _runs(config_file)
    chosen = record.extra["previous"]
    assert chosen["used"] is False
    assert "Slack could not be asked which plan the channel" in chosen["note"]
    assert chosen["note"].endswith("planning from scratch")
    [note] = _said(second, "previous", "warning")
    assert "conversations.history" in note
    assert record.plan_dir and (Path(record.plan_dir) / "plan.json").is_file()
    if failure == "unreachable":
        assert record.exit_code == 5 and "cannot connect to Slack" in str(record.error)


def test_a_run_folder_of_another_plan_than_the_message_shows_is_not_used(
    config_file: Path, city: Path, tmp_path: Path
) -> None:
    """After the store is moved aside, the run folders of a shift may hold plans the
    channel never showed (a run whose revision Slack refused, exit 5): the newest of
    them is not the plan in force. The folder of the plan shown is, or one of the same
    content (a re-run that kept it whole); with none left, the run plans from scratch
    and says which plan the message shows."""
    from rebalance.errors import PublishError

    data = tmp_path / "data"
    shutil.copytree(city, data)
    config = load_config(config_file)
    fake = FakeSlack()  # in-process: never started

    def again() -> Any:
        return run(config, data, shift_start=SHIFT, client=InProcessSlack(fake))

    shown = again()
    original = (data / "couriers.csv").read_bytes()
    couriers = pd.read_csv(data / "couriers.csv", dtype=str, keep_default_na=False)
    gone = shown.plan.moves["courier_id"].iloc[0]
    couriers[couriers["courier_id"] != gone].to_csv(data / "couriers.csv", index=False)
    fake.fail("chat.update", "error", error="is_archived")
    with pytest.raises(PublishError):
        again()  # its plan written, never shown
    [refused] = [p for p in _plan_dirs(config_file) if p != shown.plan_dir]
    assert _plan_json(refused)["plan_id"] != shown.plan.plan_id
    (data / "couriers.csv").write_bytes(original)

    _move_store_aside(config_file)
    kept = again()
    assert kept.record.extra["previous"]["run_id"] == shown.run_id  # not the newer folder
    assert kept.publish.action == "adopted"  # the same plan: the message stays as it is
    assert kept.plan.plan_id != shown.plan.plan_id

    shutil.rmtree(shown.plan_dir)
    _move_store_aside(config_file)
    by_content = again()
    assert by_content.record.extra["previous"]["run_id"] == kept.run_id

    for folder in (kept.plan_dir, by_content.plan_dir):
        shutil.rmtree(folder)
    _move_store_aside(config_file)
    afresh = again()
    chosen = afresh.record.extra["previous"]
    assert chosen["used"] is False and chosen["run_id"] is None
    assert f"shows plan {shown.plan.plan_id} of the shift 2026-11-30 19:00" in chosen["note"]
    assert "which no run folder of this city holds" in chosen["note"]
    assert chosen["note"].endswith("planning from scratch")


def test_a_bug_in_looking_for_the_plan_in_force_does_not_fail_the_run(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Looking through the run folders for the plan the channel shows is best effort:
    whatever goes wrong there is logged as an error and the run plans from scratch and
    publishes, as it did before it looked."""
    fake = FakeSlack()  # in-process: never started
    config = load_config(config_file)
    run(config, shift_start=SHIFT, client=InProcessSlack(fake))
    _move_store_aside(config_file)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("plan_id")

    monkeypatch.setattr("rebalance.replan.find_shown", broken)
    with caplog.at_level("INFO", logger="rebalance"):
        done = run(config, shift_start=SHIFT, client=InProcessSlack(fake))
    assert done.record.status == "succeeded" and done.publish.action == "adopted"
    chosen = done.record.extra["previous"]
    assert chosen["used"] is False and "could not be looked through (KeyError)" in chosen["note"]
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "KeyError: 'plan_id'" in error.getMessage()


def test_a_dry_run_before_the_first_real_run_asks_slack_nothing_more(
    config_file: Path,
) -> None:
    """The set-up the README gives: a `--dry-run` by hand, then cron's first real run,
    in a public channel the bot has not joined (it joins on its first post). The dry
    run's folder, which the store knows, made the real run ask the channel which plan
    was in force: Slack answered not_in_channel, and the run warned that Slack "could
    not be asked" of a plan in force the store knew there was none of (a review).
    Folders of runs the store has a row for are left to `find_previous` now."""
    fake = FakeSlack()  # in-process: never started
    config = load_config(config_file).with_changes(slack={"channel": "C0PUBLIC"})
    dry = run(config, shift_start=SHIFT, client=InProcessSlack(fake), dry_run=True)
    assert dry.plan_dir.is_dir()
    calls = len(fake.methods())
    real = run(config, shift_start=SHIFT, client=InProcessSlack(fake))
    assert real.publish.action == "posted"
    asked = fake.methods()[calls:]
    # the publisher's own search, the join it makes, and its search again: no lookup
    assert asked[: asked.index("chat.postMessage")].count("conversations.history") <= 2
    chosen = real.record.extra["previous"]
    assert "found_in" not in chosen and "Slack" not in chosen["note"]


def test_the_lookup_of_the_plan_in_force_joins_a_channel_the_bot_is_not_in(
    config_file: Path,
) -> None:
    """After the store was moved aside, the channel is asked which plan is in force;
    the bot removed from a public channel since (or never in it: Slack Connect, a
    renamed channel) got not_in_channel, and the run planned afresh. It joins, as the
    publisher does, and finds the plan."""
    fake = FakeSlack()  # in-process: never started
    config = load_config(config_file).with_changes(slack={"channel": "C0PUBLIC"})
    shown = run(config, shift_start=SHIFT, client=InProcessSlack(fake))
    assert shown.publish.action == "posted"
    fake.channels["C0PUBLIC"].members.discard(BOT_USER_ID)  # removed from it since
    _move_store_aside(config_file)
    again = run(config, shift_start=SHIFT, client=InProcessSlack(fake))
    chosen = again.record.extra["previous"]
    assert chosen["used"] is True and chosen["run_id"] == shown.run_id, chosen
    assert chosen["found_in"] == "slack"
