"""The shared vocabulary of the views (rebalance.views.wording)."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
from util import SHIFT, VALID

from rebalance import Config, load, solve
from rebalance.views.wording import (
    attention_zones,
    coverage_change,
    kpi_headline,
    minutes,
    percent,
    plural,
    shift_window,
    zone_label,
)


def test_percent_has_one_rule_for_every_view():
    """Shares are percentages with one decimal; missing (None, NaN) is a dash of the view's choice."""
    assert percent(0.875) == "87.5%"
    assert percent(1) == "100.0%"
    assert percent(0.9166, digits=0) == "92%"
    assert percent(None) == "-" and percent(math.nan) == "-"
    assert percent(None, missing="–") == "–"
    assert percent(0.125, significant=3) == "12.5%" and percent(0.05, significant=3) == "5%"


def test_coverage_change_and_headline():
    """Coverage reads before -> after, with the view's arrow and emphasis; the headline adds moves."""
    kpis = {"coverage_before": 0.5, "coverage": 0.75, "moved_couriers": 3}
    assert coverage_change(kpis) == "50.0% -> 75.0%"
    assert coverage_change(kpis, arrow="→", after="*{}*") == "50.0% → *75.0%*"
    assert coverage_change({}, missing="–") == "– -> –"
    assert kpi_headline(kpis) == "3 couriers to move, coverage 50.0% -> 75.0%"


def test_plural_minutes_and_zone_label():
    """Small words: plurals, travel minutes, and a zone named by id and name."""
    assert plural(1, "zone") == "1 zone" and plural(0, "zone") == "0 zones"
    assert minutes(12.345) == "12.3 min" and minutes(1234.5) == "1,234 min"
    assert zone_label("Z07", "Bastille") == "Z07 Bastille" and zone_label("Z07", "") == "Z07"


def test_shift_window_in_city_time_with_and_without_the_year():
    """The shift is shown in the city's time; a shift past midnight says +1 day."""
    plan = solve(load(VALID), Config(), SHIFT)
    assert shift_window(plan) == "Mon 30 Nov 2026 19:00–23:00 CET"
    assert shift_window(plan, year=False) == "Mon 30 Nov 19:00–23:00 CET"
    late = dataclasses.replace(plan, shift_end=plan.shift_end + pd.Timedelta(hours=2))
    assert shift_window(late) == "Mon 30 Nov 2026 19:00–01:00 (+1 day) CET"


def test_attention_orders_short_then_receiving_then_sending():
    """Zones needing attention: short first (largest shortage), then receiving, then sending."""
    zones = pd.DataFrame(
        {
            "zone_id": ["a", "b", "c", "d", "e"],
            "action": ["ok", "send", "short", "receive", "short"],
            "shortage": [0, 0, 1, 0, 4],
            "moved_in": [0, 0, 0, 2, 0],
            "moved_out": [0, 3, 0, 0, 0],
        }
    )
    assert attention_zones(zones)["zone_id"].tolist() == ["e", "c", "d", "b"]


def test_zone_labels_fit_their_limit_to_the_character_and_never_cut_the_id():
    """`zone_label` with a limit: a label that fits is whole; one that does not keeps its
    id and cuts the name to exactly the limit; with no room for a name, the id alone."""
    from rebalance.views.wording import zone_label

    assert zone_label("Z1", "Bastille", 11) == "Z1 Bastille"  # exactly 11
    assert zone_label("Z1", "Bastille", 10) == "Z1 Bastil…"
    assert len(zone_label("Z1", "Bastille", 10)) == 10
    assert zone_label("Z1", "  Bastille  ", 10) == "Z1 Bastil…"
    assert zone_label("Z12345678", "Bastille", 10) == "Z12345678"
    assert zone_label("Z1234567", "Bastille", 10) == "Z1234567"  # room for "…" alone: id


def test_how_far_above_the_optimum_a_stopped_plan_can_be_is_said_only_when_true():
    """The time-limit warning's tail: nothing when the bound says nothing (or sits above
    the objective, solver noise); a share of a negative bound is positive."""
    from rebalance.cli import _within

    assert _within(100.0, 100.5) == ""
    assert _within(100.0, float("-inf")) == ""
    assert _within(-90.0, -100.0) == "; at most 10.000 above the optimum (10.00% of it)"
    assert _within(8542751.214, 8542750.425).endswith("(9e-06% of it)")
    assert _within(110.0, 100.0) == "; at most 10.000 above the optimum (10.00% of it)"
