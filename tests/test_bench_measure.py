"""benchmarks.run.measure and settle: what the benchmark tables report for one process,
and the memory state it starts in."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from benchmarks import run
from benchmarks.run import measure, settle


def test_peak_rss_is_the_commands_own_not_the_benchmarks():
    """A benchmark that has grown (it read big plans) still reports a small command's
    own peak, its exit code, its output and its CPU split."""
    grown = np.ones(40_000_000)  # 320 MB touched: this process's high-water mark
    small = measure([sys.executable, "-c", "print('hi')"])
    big = measure(
        [sys.executable, "-c", "import numpy as np, sys; a = np.ones(25_000_000); sys.exit(3)"]
    )
    del grown
    assert small.code == 0 and small.stdout == "hi\n"
    assert small.rss_mb < 100, small.rss_mb
    assert big.code == 3
    assert 200 < big.rss_mb < 300, big.rss_mb  # its own 200 MB array and the interpreter
    assert 0 <= big.sys <= big.cpu


def test_a_command_past_its_time_limit_is_killed_and_said_so():
    """The time limit kills the command's process group; the run says it timed out."""
    run = measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert run.timed_out and run.code != 0 and run.wall < 10


def test_reused_memory_is_touched_by_a_warm_up_larger_than_the_command(monkeypatch):
    """Before a "reused memory" run a process touches the command's peak and more, then
    exits; before a "fresh memory" run the benchmark only idles long enough for this VM
    to take freed memory back (benchmarks/README.md, "Fresh and reused memory")."""
    warm = settle("reused", 100.0)
    assert warm is not None and warm.code == 0
    assert warm.rss_mb >= 100 + run.WARM_SLACK_MB, warm.rss_mb

    slept: list[float] = []
    monkeypatch.setattr(run.time, "sleep", slept.append)
    assert settle("fresh", 100.0) is None
    assert slept == [run.COLD_SECONDS] and run.COLD_SECONDS >= 6
    with pytest.raises(ValueError, match="unknown memory state"):
        settle("tepid", 0.0)


def test_each_command_is_measured_in_both_states_sized_by_its_own_fresh_peak(monkeypatch):
    """`in_states` (plan and floor in `make bench` and shapes.py): every command, in
    turn, runs once per state per repeat, fresh first; the reused run's warm-up is sized
    by that command's own fresh peak, not by the command before it."""
    calls: list[tuple] = []
    peaks = {"plan": 900.0, "floor": 300.0}
    monkeypatch.setattr(run, "settle", lambda state, peak: calls.append(("settle", state, peak)))

    def fake_measure(cmd, timeout=None, env=None):
        calls.append(("run", cmd[0]))
        return run.Run(wall=1.0, rss_mb=peaks[cmd[0]], cpu=1.0, code=0, stdout="")

    monkeypatch.setattr(run, "measure", fake_measure)
    runs = run.in_states({"plan": ["plan"], "floor": ["floor"]}, 2)
    one_repeat = [
        ("settle", "fresh", 0.0),
        ("run", "plan"),
        ("settle", "reused", 900.0),
        ("run", "plan"),
        ("settle", "fresh", 0.0),
        ("run", "floor"),
        ("settle", "reused", 300.0),
        ("run", "floor"),
    ]
    assert calls == one_repeat * 2
    assert sorted(runs) == [("floor", s) for s in run.STATES] + [("plan", s) for s in run.STATES]
    assert all(len(v) == 2 for v in runs.values())
