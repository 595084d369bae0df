"""A plan in a notebook cell (rebalance.views.html)."""

from __future__ import annotations

from util import REPO, SHIFT, VALID

from rebalance import Config, load, load_config, solve


def paris():
    """The Paris sample and its plan."""
    config = load_config(REPO / "data" / "samples" / "paris" / "rebalance.toml")
    inputs = load(REPO / "data" / "samples" / "paris", config)
    return inputs, solve(inputs, config, SHIFT)


def test_plan_html_shows_kpis_and_zone_table():
    """A plan renders in a notebook cell with its KPIs, attention zones and folded tables."""
    _, plan = paris()
    page = plan._repr_html_()
    for text in ("Coverage", "92.3%", "Couriers moved", "Zones needing attention", "<details>"):
        assert text in page
    assert "The shift in 8 slots of 30 min" in page and "Zones short in some slot" in page
    assert "75104" in page and "Hôtel-de-Ville" in page
    assert f"Moves: {len(plan.moves)} couriers" in page


def test_plan_html_escapes_partner_names():
    """Names reach the page escaped: no partner can inject HTML into a notebook."""
    inputs = load(VALID)
    zones = inputs.zones.assign(name="<script>alert(1)</script>")
    plan = solve(inputs.replace(zones=zones), Config(), SHIFT)
    page = plan._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
