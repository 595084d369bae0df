"""A plan in a terminal (rebalance.views.terminal): golden output, width, hostile names."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from rich.console import Console
from util import REPO, SHIFT, VALID

from rebalance import Config, load, solve

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("golden_name", "slot_minutes"),
    [("valid_plan_100.txt", 30), ("valid_plan_100_one_slot.txt", 240)],
)
def test_terminal_view_golden(golden_name, slot_minutes):
    """The terminal view of the test city at 100 columns matches the golden file; with one
    slot it is round 1's view byte for byte."""
    config = Config().with_changes(shift={"slot_minutes": slot_minutes})
    plan = solve(load(VALID), config, SHIFT)
    plan = dataclasses.replace(plan, solve_seconds=0.01)
    console = Console(width=100, record=True, color_system=None, force_terminal=False)
    console.print(plan)
    text = console.export_text()
    golden = GOLDEN / golden_name
    if os.environ.get("REBALANCE_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_terminal_view_fits_80_columns():
    """At 80 columns no line of the view is wider than the terminal."""
    plan = solve(load(REPO / "data/samples/paris"), Config(), SHIFT)
    console = Console(width=80, record=True, color_system=None)
    console.print(plan)
    assert max(len(line) for line in console.export_text().splitlines()) <= 80


def test_partner_names_are_shown_as_text_never_as_markup():
    """Zone and restaurant names with rich markup are printed literally, not interpreted."""
    inputs = load(VALID)
    zones = inputs.zones.assign(name="[red]Evil[/red]")
    restaurants = inputs.restaurants.assign(name="[blink]Pizza")
    plan = solve(inputs.replace(zones=zones, restaurants=restaurants), Config(), SHIFT)
    console = Console(width=160, record=True, color_system=None)
    console.print(plan)
    text = console.export_text()
    assert "0001 [red]Evil[/red]" in text
    assert "[blink]Pizza" in text
