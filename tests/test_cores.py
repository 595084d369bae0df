"""One rule for how many threads the numerical kernels use."""

from __future__ import annotations

import os

import pytest

from rebalance import cores


@pytest.mark.parametrize(
    ("allowed", "cap", "expected"),
    [({0}, 4, 1), ({0, 1}, 2, 2), ({0, 1, 2}, 4, 3), ({0, 1, 2, 3, 4, 5}, 4, 4), ({3}, 2, 1)],
)
def test_threads_never_exceed_the_cores_the_process_may_use(monkeypatch, allowed, cap, expected):
    """A process pinned to one core (taskset, a container's CPU list) gets one thread,
    whatever the machine's core count."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: allowed, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cores.usable_cores() == len(allowed)
    assert cores.threads(cap) == expected


def test_without_affinity_the_cpu_count_decides(monkeypatch):
    """Where the OS cannot say which cores a process may use (macOS), the core count
    decides; an unknown count means one thread."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cores.threads(4) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert cores.threads(2) == 2
