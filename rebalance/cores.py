"""How many threads the numerical work may use: one rule for the whole package.

numpy and Arrow let go of the interpreter lock in their loops, so a few kernels
(hashing text, Arrow's dictionary encoding, sorting hashes, pricing arcs) run on
threads side by side. Each asks `threads` with its own cap (measured on this project's
2-core machine; more threads mostly wait on the Python between the calls), and gets no
more than the cores this process may run on: `os.sched_getaffinity` where the system
has it (taskset, cgroup cpusets, a container's CPU list), else `os.cpu_count`.
"""

from __future__ import annotations

import os

__all__ = ["threads", "usable_cores"]


def usable_cores() -> int:
    """Cores this process may run on (at least 1)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def threads(at_most: int) -> int:
    """Threads for a kernel capped at ``at_most``: never more than `usable_cores`."""
    return max(1, min(at_most, usable_cores()))
