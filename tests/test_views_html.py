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
    """A plan renders in a notebook cell with its KPIs, attention zones and folded tables.
    Its moves are counted as moves of so many couriers: the folded section said "142
    couriers" beside the KPI's 140 (two couriers move twice in the shift)."""
    inputs, plan = paris()
    page = plan._repr_html_()
    for text in (
        "Shift coverage",
        "92.3%",
        "Couriers moved",
        "Zones needing attention",
        "<details>",
    ):
        assert text in page
    assert "The shift in 8 slots of 30 min" in page and "Zones short in some slot" in page
    assert "75104" in page and "Hôtel-de-Ville" in page
    moved = plan.kpis["moved_couriers"]
    assert len(plan.moves) > moved  # some courier moves twice in the shift
    assert f"Moves: {len(plan.moves)} moves of {moved} couriers on " in page
    one_slot = solve(inputs, None, SHIFT, "2026-11-30T19:30")
    assert len(one_slot.moves) == one_slot.kpis["moved_couriers"]
    assert f"Moves: {len(one_slot.moves)} couriers on " in one_slot._repr_html_()


def test_dollar_signs_in_names_are_not_typeset_as_math():
    """Jupyter typesets $...$ in HTML output as math: a zone named "Menu $5 - Burger
    $10" lost its dollars and showed "5 - Burger" in italics. The plan's and the
    explanation's cells are marked for MathJax to leave alone, as pandas does."""
    inputs = load(VALID)
    zones = inputs.zones.assign(name="Menu $5 - Burger $10")
    plan = solve(inputs.replace(zones=zones), Config(), SHIFT)
    for page in (plan._repr_html_(), plan.explain()._repr_html_()):
        assert page.startswith("<div class='tex2jax_ignore mathjax_ignore'>"), page[:80]
        assert "Menu $5 - Burger $10" in page


def test_plan_html_escapes_partner_names():
    """Names reach the page escaped: no partner can inject HTML into a notebook."""
    inputs = load(VALID)
    zones = inputs.zones.assign(name="<script>alert(1)</script>")
    plan = solve(inputs.replace(zones=zones), Config(), SHIFT)
    page = plan._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_day_of_short_slots_stays_a_readable_notebook_cell():
    """288 five-minute slots: the notebook view lists the first `MAX_SLOT_ROWS` slots and
    says where the rest are, and its shortage grid has a column per 3 slots (the most
    short of them) and says so. A day in 1-minute slots was a 2.6 MB cell before."""
    from rebalance.views.timeline import MAX_SLOT_ROWS, shortage_grid, zones_short_any_slot

    config = Config().with_changes(shift={"slot_minutes": 5, "hours": 24})
    plan = solve(load(VALID), config, SHIFT)
    html = plan._repr_html_()
    assert f"{288 - MAX_SLOT_ROWS} more slots in slots.csv" in html
    assert "a column per 3 slots, the most short of them" in html
    grid = shortage_grid(plan)
    zone = zones_short_any_slot(plan).index[0]
    worst = grid.loc[zone].to_numpy().reshape(-1, 3).max(axis=1)
    row = html.split(f"<td style='white-space:nowrap'>{zone} ")[1].split("</tr>")[0]
    assert row.count("<td title=") == 96
    assert [int(t.split(" short")[0]) for t in row.split("title='")[1:]] == list(worst)


def test_a_large_city_folds_only_the_first_rows_and_says_where_the_rest_are(monkeypatch):
    """The folded tables (every zone, the routes) show their first `MAX_TABLE_ROWS`
    rows and name where the others are: at 10,000 zones every row made a 4.5 MB cell,
    re-rendered each time the plan was shown and saved in the notebook."""
    from rebalance.views import html

    _, plan = paris()
    full = plan._repr_html_()
    assert "more zones in" not in full and "more routes in" not in full
    monkeypatch.setattr(html, "MAX_TABLE_ROWS", 5)
    page = plan._repr_html_()
    routes = plan.routes()
    assert len(plan.zones) > 5 and len(routes) > 5
    assert f"... {len(plan.zones) - 5} more zones in <code>plan.zones</code>" in page
    assert f"... {len(routes) - 5} more routes in <code>plan.routes()</code>" in page
    every = page.split("All 20 zones</summary>")[1].split("</details>")[0]
    assert every.count("</tr>") == 1 + 5  # the header and five zones
    assert len(page) < len(full)
