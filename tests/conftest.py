"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeslack import TOKEN, FakeSlack
from util import SHIFT

from rebalance.config import Config, load_config
from rebalance.generate import generate_city
from rebalance.inputs import load
from rebalance.optimize import solve

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


# ------------------------------------------------------------------ plan folders


def _solve_to(data: Path, out: Path, config: Config) -> Path:
    """Solve a city and write its plan folder."""
    plan = solve(load(data, config), config, SHIFT)
    plan.write(out)
    return out


@pytest.fixture(scope="session")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan folders: ``a`` (a small city, one slot), ``b`` (its revision: demand up),
    ``big`` (200 zones, 30-minute slots), ``slots`` (the small city in 30-minute slots).
    The cities lie beside them, ``small`` and ``big`` (to re-plan with other inputs)."""
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
