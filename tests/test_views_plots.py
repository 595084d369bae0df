"""Plots on the Agg backend: each returns its axes with the expected bars, arrows and labels."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.patches import FancyArrowPatch
from util import REPO, SHIFT

from rebalance import Inputs, Plan, load, load_config, plots, read_plan, solve
from rebalance.scenarios import Scenario, sweep, vary

SAMPLES = REPO / "data" / "samples"
PALETTE = {c.lower() for c in plots.OKABE_ITO.values()}


@cache
def paris() -> tuple[Inputs, Plan]:
    """The Paris sample and its plan for the dinner shift."""
    config = load_config(SAMPLES / "paris" / "rebalance.toml")
    inputs = load(SAMPLES / "paris", config)
    return inputs, solve(inputs, config, SHIFT)


@cache
def scenario_table() -> pd.DataFrame:
    """A small Paris sweep with one infeasible scenario."""
    config = load_config(SAMPLES / "paris" / "rebalance.toml")
    inputs, _ = paris()
    scenarios = [
        Scenario("baseline"),
        *vary("no_show_rate", [0.1, 0.2]),
        Scenario("rain", slowdown=0.2),
        Scenario("tight", zone_caps={z: 1 for z in inputs.zones["zone_id"]}),
    ]
    return sweep(scenarios, inputs, config, SHIFT)


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Close every figure after each test (no 'too many figures' warning)."""
    yield
    plt.close("all")


def bar_containers(ax) -> list[BarContainer]:
    """The bar groups drawn on an axes."""
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def texts(ax) -> list[str]:
    """Every text drawn inside an axes (annotations, bar labels)."""
    return [t.get_text() for t in ax.texts]


# ---------------------------------------------------------------- supply vs need


def test_supply_vs_need_draws_three_bars_per_zone():
    """Need, before and after: one bar per zone each, heights from the zone table."""
    _, plan = paris()
    ax = plots.supply_vs_need(plan)
    groups = bar_containers(ax)
    assert [g.get_label() for g in groups] == ["Need (required)", "Before plan", "After plan"]
    zones = plan.zones
    for group, column in zip(
        groups, ["required_couriers", "couriers_before", "couriers_after"], strict=True
    ):
        assert [p.get_height() for p in group.patches] == zones[column].tolist()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "1er - Louvre"
    assert len(labels) == len(zones)
    assert ax.get_ylabel() == "Couriers (eligible)"
    assert "Paris" in ax.get_title(loc="left")
    # the shortage left after the plan is written above the zone's bar
    short = zones.loc[zones["shortage"] > 0, "shortage"]
    assert sorted(t for t in texts(ax) if t) == sorted(f"−{s}" for s in short)
    colours = {to_hex(g.patches[0].get_facecolor()) for g in groups}
    assert colours <= PALETTE


def test_supply_vs_need_uses_the_given_axes():
    """With ax given, the plot draws there and returns that same axes."""
    _, plan = paris()
    fig, ax = plt.subplots()
    assert plots.supply_vs_need(plan, ax=ax) is ax
    assert fig.axes[0] is ax


def test_supply_vs_need_limits_zones():
    """With more zones than max_zones, the zones with the most change are shown."""
    _, plan = paris()
    ax = plots.supply_vs_need(plan, max_zones=8)
    assert all(len(g.patches) == 8 for g in bar_containers(ax))
    assert "8 of 20" in ax.get_xlabel()
    shown = {t.get_text() for t in ax.get_xticklabels()}
    short_names = set(plan.zones.loc[plan.zones["shortage"] > 0, "name"])
    assert {n[:21] for n in short_names} <= {s.rstrip("…")[:21] for s in shown}


def test_infeasible_plan_cannot_be_drawn():
    """Drawing an infeasible plan says why instead of drawing empty axes."""
    config = load_config(SAMPLES / "lyon" / "rebalance.toml")
    inputs = load(SAMPLES / "lyon", config)
    zones = inputs.zones.assign(max_couriers=0.0)
    plan = solve(inputs.replace(zones=zones), config, SHIFT)
    assert plan.status == "infeasible"
    with pytest.raises(ValueError, match="infeasible"):
        plots.supply_vs_need(plan)
    with pytest.raises(ValueError, match="infeasible"):
        plots.zone_map(plan, inputs)


# --------------------------------------------------------------------------- map


def test_zone_map_draws_zones_arrows_and_labels():
    """One marker per zone sized by demand, one arrow per route, widths by couriers."""
    inputs, plan = paris()
    ax = plots.zone_map(plan, inputs)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1
    assert len(points[0].get_offsets()) == len(plan.zones)
    sizes = points[0].get_sizes()
    order = np.argsort(plan.zones["demand_orders_per_hour"].to_numpy())
    assert np.all(np.diff(sizes[order]) >= 0)  # bigger demand, bigger marker

    routes = plan.moves.groupby(["from_zone", "to_zone"]).size()
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == len(routes)
    widths = {a.get_gid(): a.get_linewidth() for a in arrows}
    busiest = routes.idxmax()
    quietest = routes.idxmin()
    assert (
        widths[f"move {busiest[0]}->{busiest[1]}: {routes.max()}"]
        > widths[f"move {quietest[0]}->{quietest[1]}: {routes.min()}"]
    )
    assert "1er" in texts(ax) and "20e" in texts(ax)
    assert ax.get_xlabel() == "Longitude (°)"
    assert ax.get_ylabel() == "Latitude (°)"
    assert f"{len(plan.moves)} couriers moved on {len(routes)} routes" in ax.get_title(loc="left")
    colorbar_axes = [a for a in ax.figure.axes if a is not ax]
    assert colorbar_axes[0].get_ylabel() == "Couriers short after plan"


def test_zone_map_before_without_moves():
    """shortage='before' colours by the shortage before the plan; moves=False draws no arrow."""
    inputs, plan = paris()
    ax = plots.zone_map(plan, inputs.zones, shortage="before", moves=False, labels=False)
    assert not [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert not texts(ax)
    points = next(c for c in ax.collections if isinstance(c, PathCollection))
    before = (plan.zones["required_couriers"] - plan.zones["couriers_before"]).clip(lower=0)
    np.testing.assert_array_equal(points.get_array(), before.to_numpy(dtype=float))
    with pytest.raises(ValueError, match="'after' or 'before'"):
        plots.zone_map(plan, inputs, shortage="during")  # type: ignore[arg-type]


def test_zone_map_needs_coordinates_for_every_zone():
    """Coordinates that miss a zone of the plan are an error naming it."""
    inputs, plan = paris()
    with pytest.raises(ValueError, match="75101"):
        plots.zone_map(plan, inputs.zones.iloc[1:])


def test_zone_map_of_a_plan_read_back_needs_no_data_folder(tmp_path):
    """`plots.zone_map(plan)` of a plan read from its folder raised a TypeError (inputs
    was required) although plan.json keeps the zones' coordinates: it now draws from
    them, the zones where the data folder puts them. A plan without them (written
    before explanations were kept) says to pass the inputs."""
    import dataclasses

    inputs, plan = paris()
    back = read_plan(plan.write(tmp_path / "plan"))
    kept = back.zone_coordinates()
    assert list(kept.columns) == ["zone_id", "name", "lat", "lon"]
    alone = plots.zone_map(back)
    given = plots.zone_map(back, inputs)
    spots = [
        next(c for c in ax.collections if isinstance(c, PathCollection)).get_offsets()
        for ax in (alone, given)
    ]
    np.testing.assert_allclose(spots[0], spots[1], atol=1e-6)
    np.testing.assert_allclose(spots[0], inputs.zones[["lon", "lat"]].to_numpy(float), atol=1e-6)
    older = dataclasses.replace(back, explanation={})
    assert older.zone_coordinates() is None
    with pytest.raises(ValueError, match=r"pass inputs=rebalance\.load"):
        plots.zone_map(older)


# --------------------------------------------------------------------- scenarios


def test_scenario_comparison_bars():
    """One bar per scenario, labelled; infeasible is labelled; baseline is a dashed line."""
    table = scenario_table()
    ax = plots.scenario_comparison(table)
    bars = bar_containers(ax)[0]
    assert len(bars.patches) == len(table)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(names) == sorted(table["scenario"])
    labels = texts(ax)
    assert "infeasible" in labels
    assert f"{100 * table.loc[0, 'coverage']:.1f}%" in labels
    assert ax.get_xlabel() == "Coverage after plan (% of required couriers)"
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    before = [c for c in ax.collections if c.get_label() == "Before plan"]
    assert len(before) == 1
    assert len(before[0].get_offsets()) == len(table)  # coverage before is known even if infeasible


def test_scenario_comparison_line():
    """With x, the metric is a line over that column, sorted, with percent axes."""
    table = scenario_table()
    ax = plots.scenario_comparison(
        table[table["scenario"] != "tight"], "coverage", x="no_show_rate"
    )
    after = next(line for line in ax.get_lines() if line.get_label() == "Coverage after plan")
    xs = after.get_xdata()
    assert list(xs) == sorted(xs)
    assert ax.get_xlabel() == "Courier no-show rate (% of available couriers)"
    assert ax.get_ylabel() == "Coverage (% of required couriers)"
    ax = plots.scenario_comparison(table, "travel_minutes", x="slowdown")
    assert ax.get_ylabel() == "Total travel (minutes)"
    assert any(c.get_label() == "Infeasible" for c in ax.collections)


def test_scenario_comparison_accepts_a_sweep_result_and_checks_columns():
    """A (table, zones) result works; a missing column or baseline is a clear error."""
    config = load_config(SAMPLES / "lyon" / "rebalance.toml")
    inputs = load(SAMPLES / "lyon", config)
    result = sweep([Scenario("baseline")], inputs, config, SHIFT, zones=True)
    ax = plots.scenario_comparison(result, "moved_couriers")
    assert ax.get_xlabel() == "Couriers moved"
    with pytest.raises(ValueError, match="no column 'happiness'"):
        plots.scenario_comparison(result.table, "happiness")
    with pytest.raises(ValueError, match="no scenario named 'dry'"):
        plots.scenario_comparison(result.table, baseline="dry")


# ----------------------------------------------------------------------- history


def test_coverage_history_lines():
    """Coverage before and after, one point per run, in time order."""
    runs = pd.DataFrame(
        {
            "started_at": pd.to_datetime(
                ["2026-11-30T18:50Z", "2026-11-29T18:50Z", "2026-12-01T18:50Z"]
            ),
            "coverage_before": [0.5, 0.6, 0.55],
            "coverage": [0.99, 0.97, 1.0],
        }
    )
    ax = plots.coverage_history(runs)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) >= {"before plan", "after plan"}
    assert list(lines["after plan"].get_ydata()) == [0.97, 0.99, 1.0]
    assert ax.get_ylabel() == "Coverage (% of required couriers)"
    assert ax.get_xlabel() == "Run started (UTC)"
    assert "3 runs" in ax.get_title(loc="left")


def test_coverage_history_from_records_with_nested_kpis_and_failures():
    """Dicts with nested kpis (history records, plan.json) work; failed runs get a cross."""
    runs = [
        {"started_at": "2026-11-30T18:50:00+01:00", "city": "Paris", "kpis": {"coverage": 0.9}},
        {"started_at": "2026-11-30T18:51:00+01:00", "city": "Lyon", "kpis": {"coverage": 0.8}},
        {"started_at": "2026-12-01T18:50:00+01:00", "city": "Paris", "kpis": {}},
    ]
    ax = plots.coverage_history(runs, tz="Europe/Paris")
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"Lyon: after plan", "Paris: after plan"} <= labels
    assert any(c.get_label() == "no plan (failed run)" for c in ax.collections)
    assert ax.get_xlabel() == "Run started (Europe/Paris)"


def test_coverage_history_empty_and_invalid():
    """No runs draws a note; runs without times or coverage are a clear error."""
    ax = plots.coverage_history(pd.DataFrame())
    assert "No runs yet" in texts(ax)
    with pytest.raises(ValueError, match="started_at"):
        plots.coverage_history([{"coverage": 0.5}])
    with pytest.raises(ValueError, match="coverage"):
        plots.coverage_history([{"started_at": "2026-11-30T18:50Z"}])


def test_plots_is_not_imported_by_the_package():
    """import rebalance does not import matplotlib (plots load lazily)."""
    import subprocess
    import sys

    code = "import sys, rebalance; rebalance.Plan; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def squares(zones: pd.DataFrame, half: float = 0.004) -> dict:
    """An outline per zone: a small square around its centroid, as `read_outlines` gives."""
    return {
        str(z): [
            [
                [
                    (x - half, y - half),
                    (x + half, y - half),
                    (x + half, y + half),
                    (x - half, y + half),
                    (x - half, y - half),
                ]
            ]
        ]
        for z, x, y in zip(zones["zone_id"], zones["lon"], zones["lat"], strict=True)
    }


def test_zone_map_draws_outlines_tinted_by_shortage():
    """Outlines are drawn under the markers, one polygon per zone, on the shortage scale."""
    from matplotlib.collections import PatchCollection

    inputs, plan = paris()
    outlines = squares(inputs.zones)
    ax = plots.zone_map(plan, inputs, outlines=outlines)
    [drawn] = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert drawn.get_gid() == "zone outlines" and len(drawn.get_paths()) == len(plan.zones)
    by_zone = dict(zip(plan.zones["zone_id"], plan.zones["shortage"], strict=True))
    expected = [by_zone[z] for z in inputs.zones["zone_id"] if z in by_zone]
    assert sorted(drawn.get_array().tolist()) == sorted(float(v) for v in expected)
    points = next(c for c in ax.collections if isinstance(c, PathCollection))
    assert drawn.get_zorder() < points.get_zorder()


def test_crowded_map_labels_the_zones_that_matter(tmp_path):
    """Beyond 20 zones only short zones and the ends of the largest moves are labelled."""
    from rebalance.generate import generate_city

    city = generate_city(tmp_path / "big", zones=60, couriers=900, restaurants=400, seed=4)
    # One slot: the labels depend on the plan's shape, not on how it was solved.
    config = load_config(city / "rebalance.toml").with_changes(shift={"slot_minutes": 240})
    inputs = load(city, config)
    plan = solve(inputs, config, SHIFT)
    ax = plots.zone_map(plan, inputs)
    labels = [t for t in texts(ax) if t]
    from rebalance.views import plots as views

    assert 0 < len(labels) <= views.MAX_LABELS < len(plan.zones)
    names = dict(zip(plan.zones["zone_id"], plan.zones["name"], strict=True))
    busiest = plan.routes().iloc[0]
    for zone in (busiest["from_zone"], busiest["to_zone"]):
        assert views._short_label(zone, names[zone]) in labels
    assert len([t for t in texts(plots.zone_map(plan, inputs, labels=True)) if t]) == 60


def test_scenario_name_in_plot_titles():
    """A scenario's plan says which scenario it is in every plot title."""
    from rebalance.scenarios import solve_scenario

    inputs, _ = paris()
    config = load_config(SAMPLES / "paris" / "rebalance.toml")
    wet = solve_scenario(Scenario("heavy rain", slowdown=0.6), inputs, config, SHIFT)
    assert wet.settings["scenario"] == "heavy rain"
    assert "scenario “heavy rain”" in plots.supply_vs_need(wet).get_title(loc="left")
    assert "scenario “heavy rain”" in plots.zone_map(wet, inputs).get_title(loc="left")
    assert "scenario" not in plots.zone_map(paris()[1], inputs).get_title(loc="left")


# ------------------------------------------------------------------ served share


def test_served_share_one_line_per_policy_on_given_axes(tmp_path):
    """served_share draws no plan dashed and each plan solid, one point per slot, on the
    axes it is given, with the shift's share in the legend and orders as bars behind."""
    from rebalance.generate import generate_city
    from rebalance.replaying import replay

    city = generate_city(tmp_path, zones=6, couriers=80, restaurants=40, seed=2, history_days=1)
    inputs = load(city)
    plan = solve(inputs, load_config(city / "rebalance.toml"), SHIFT)
    result = replay(inputs, city / "shift_orders.csv", None, SHIFT, plans={"tonight": plan})
    fig, ax = plt.subplots()
    assert plots.served_share(result, ax=ax) is ax
    lines = ax.get_lines()
    assert [line.get_linestyle() for line in lines] == ["--", "-"]
    assert all(len(line.get_xdata()) == 8 for line in lines)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    share = result.policies.set_index("name")["share"]
    assert legend[1] == f"tonight: {share['tonight']:.1%} over the shift"
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["19:00", "19:30"]
    (twin,) = [a for a in fig.axes if a is not ax]
    assert len(bar_containers(twin)[0]) == 8


# ------------------------------------------------------------------------ slots


def slot_cells(plan: Plan) -> pd.DataFrame:
    """plan.slots with the slot label and the shortage before and after, per cell."""
    slots = plan.slots
    label = pd.to_datetime(slots["slot_start"], utc=True).dt.tz_convert(plan.timezone)
    need = slots["required_couriers"]
    return slots.assign(
        label=label.dt.strftime("%H:%M"),
        before=(need - slots["couriers_before"]).clip(lower=0),
        after=(need - slots["couriers_after"]).clip(lower=0),
    )


def test_slot_heatmap_cells_are_the_shortage_per_zone_and_slot():
    """Each cell is the zone's shortage in that slot; zones never short are left out, the
    most short before the plan on top, and a cell without shortage is blank."""
    _, plan = paris()
    cells = slot_cells(plan)
    ax = plots.slot_heatmap(plan, max_zones=40)
    (image,) = ax.get_images()
    data = image.get_array()
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert columns == [f"{s:%H:%M}" for s in plan.slot_starts()] and len(columns) == 8
    ever = cells.groupby("zone_id")[["before", "after"]].sum()
    ever = ever[(ever["before"] > 0) | (ever["after"] > 0)]
    assert data.shape == (len(ever), 8)
    names = plan.zones.set_index("zone_id")["name"]
    by_label = {str(names[z]).split(" - ")[0]: z for z in ever.index}
    first = by_label[rows[0]]
    assert ever.loc[first, "before"] == ever["before"].max()
    grid = cells.pivot(index="zone_id", columns="label", values="after")[columns]
    for i, row in enumerate(rows):
        expected = grid.loc[by_label[row]].to_numpy()
        assert list(np.ma.filled(data[i], 0)) == list(expected)
        assert list(np.ma.getmaskarray(data[i])) == list(expected == 0)
    assert f"{int(cells['after'].sum())} courier-slots short" in ax.get_title("left")
    assert image.norm.vmax == cells["before"].max()  # same scale as the before map


def test_slot_heatmap_before_and_after_share_rows_and_scale_on_given_axes():
    """Side by side, before and after show the same zones on the same colour scale, and
    the plan leaves fewer couriers short than there were."""
    _, plan = paris()
    _, (left, right) = plt.subplots(1, 2)
    assert plots.slot_heatmap(plan, ax=left, shortage="before", max_zones=6) is left
    assert plots.slot_heatmap(plan, ax=right, max_zones=6) is right
    rows = [[t.get_text() for t in a.get_yticklabels()] for a in (left, right)]
    assert rows[0] == rows[1] and len(rows[0]) == 6
    assert "6 of" in left.get_ylabel()
    before, after = (a.get_images()[0] for a in (left, right))
    assert before.norm.vmax == after.norm.vmax
    assert np.ma.filled(after.get_array(), 0).sum() < np.ma.filled(before.get_array(), 0).sum()
    assert "before plan" in left.get_title("left") and "after plan" in right.get_title("left")
    with pytest.raises(ValueError, match="'after' or 'before'"):
        plots.slot_heatmap(plan, shortage="during")  # type: ignore[arg-type]


def step_values(ax, label: str) -> np.ndarray:
    """The per-slot values of a step line (its last point repeats the last slot)."""
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return np.asarray(line.get_ydata(), dtype=float)[:-1]


def test_couriers_over_time_draws_need_present_and_coverage_per_slot():
    """City-wide steps per slot: need, couriers present, and the couriers covering need
    before and after the plan, in the palette's colours; the plan never covers less."""
    _, plan = paris()
    cells = slot_cells(plan)
    per = cells.groupby("slot_start", sort=True)
    ax = plots.couriers_over_time(plan)
    need = step_values(ax, "Need (required)")
    assert list(need) == list(per["required_couriers"].sum())
    assert list(step_values(ax, "Present (before = after)")) == list(per["couriers_after"].sum())
    cover_before = step_values(ax, "Covering need, before")
    cover_after = step_values(ax, "Covering need, after")
    assert list(need - cover_after) == list(per["after"].sum())
    assert (cover_after >= cover_before).all() and (cover_after > cover_before).any()
    assert {to_hex(line.get_color()) for line in ax.get_lines()} <= PALETTE
    assert len(need) == 8


def test_couriers_over_time_for_one_zone_and_unknown_zone():
    """For one zone the lines are its couriers before and after the plan; a zone that is
    not in the plan is refused by name."""
    _, plan = paris()
    zone = plan.zones.loc[plan.zones["moved_in"].idxmax(), "zone_id"]
    _, ax = plt.subplots()
    assert plots.couriers_over_time(plan, ax=ax, zone=zone) is ax
    here = plan.slots[plan.slots["zone_id"] == zone]
    assert list(step_values(ax, "Present after plan")) == list(here["couriers_after"])
    assert list(step_values(ax, "Present before plan")) == list(here["couriers_before"])
    assert zone in ax.get_title("left")
    with pytest.raises(ValueError, match="no zone 'Z99'"):
        plots.couriers_over_time(plan, zone="Z99")


def test_slot_plots_of_a_one_slot_plan():
    """A snapshot plan (one slot) draws as one column and one step."""
    config = load_config(SAMPLES / "lyon" / "rebalance.toml").with_changes(
        shift={"slot_minutes": 240}
    )
    inputs = load(SAMPLES / "lyon", config).replace(demand=None)
    plan = solve(inputs, config, SHIFT)
    assert plan.slot_count == 1
    (image,) = plots.slot_heatmap(plan).get_images()
    assert image.get_array().shape[1] == 1
    need = step_values(plots.couriers_over_time(plan), "Need (required)")
    assert list(need) == [plan.zones["required_couriers"].sum()]


# ------------------------------------------------------------ names as written


def test_names_with_dollar_signs_are_drawn_as_written(tmp_path):
    """A partner's "$5 to $8" was drawn as math (italics, dollars gone) and "Pizza $$"
    made every plot raise when drawn (savefig, a notebook's inline figure): zone, city,
    scenario and plan names are text in every plot."""
    import io

    from matplotlib.text import Text

    from rebalance.generate import generate_city
    from rebalance.replaying import replay
    from rebalance.scenarios import solve_scenario

    toml = (SAMPLES / "paris" / "rebalance.toml").read_text()
    (tmp_path / "city.toml").write_text(toml.replace('"Paris"', '"Ville $5 # $6"'))
    config = load_config(tmp_path / "city.toml")
    inputs, _ = paris()
    zones = inputs.zones.copy()
    names = ["Pizza $$ cheap", "Happy hour $5 to $8", r"$\alpha$ centre"]
    zones.loc[zones.index[:3], "name"] = names
    inputs = inputs.replace(zones=zones)
    plan = solve_scenario(Scenario("bonus $5 vs $10"), inputs, config, SHIFT)
    assert plan.city == "Ville $5 # $6"
    table = sweep([Scenario("baseline"), Scenario("bonus $5 vs $10")], inputs, config, SHIFT)
    city = generate_city(
        tmp_path / "g", zones=6, couriers=80, restaurants=40, seed=2, history_days=1
    )
    ginputs = load(city)
    gplan = solve(ginputs, load_config(city / "rebalance.toml"), SHIFT)
    replayed = replay(ginputs, city / "shift_orders.csv", None, SHIFT, plans={"tips $$": gplan})
    runs = pd.DataFrame(
        {
            "started_at": pd.to_datetime(["2026-11-30T18:50Z", "2026-11-30T18:55Z"]),
            "city": ["Ville $5", "Nice $$"],
            "coverage_before": [0.5, 0.6],
            "coverage": [0.9, 0.95],
        }
    )
    drawn = [
        plots.supply_vs_need(plan, max_zones=60),
        plots.zone_map(plan, inputs, labels=True),
        plots.slot_heatmap(plan),
        plots.couriers_over_time(plan),
        plots.couriers_over_time(plan, zone=str(zones.loc[0, "zone_id"])),
        plots.marginal_map(plan),
        plots.scenario_comparison(table, "coverage"),
        plots.coverage_history(runs),
        plots.served_share(replayed),
    ]
    shown: list[str] = []
    for ax in drawn:
        ax.figure.savefig(io.BytesIO(), format="png")  # raised ParseException before
        for text in ax.figure.findobj(Text):
            words, math = text._preprocess_math(text.get_text())
            assert not math, text.get_text()  # what the reader sees is not math
            shown.append(words)
    seen = "\n".join(shown)
    for name in [*names, "Ville $5 # $6", "bonus $5 vs $10", "tips $$", "Nice $$"]:
        assert name in seen, name


def test_the_plots_say_what_they_take_in_place_of_the_wrong_object():
    """A sweep's table given to supply_vs_need, a plan to served_share, the config to
    zone_map met AttributeErrors from deep inside ("'DataFrame' object has no attribute
    'feasible'", from pydantic for the config); and marginal_map(plan, inputs, ax=ax),
    written as zone_map takes them (its docstring says that works), met "got multiple
    values for argument 'ax'". Each now says what to pass, and that form draws."""
    inputs, plan = paris()
    config = load_config(SAMPLES / "paris" / "rebalance.toml")
    cases = [
        (lambda: plots.supply_vs_need(scenario_table()), r"supply_vs_need\(plan\): plan must"),
        (lambda: plots.slot_heatmap(scenario_table()), r"plan must be a rebalance\.Plan"),
        (lambda: plots.served_share(plan), r"served_share\(replay\) needs what rebalance\.replay"),
        (lambda: plots.zone_map(plan, config), r"zone_map\(plan, inputs\): inputs gives the zone"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
    _, ax = plt.subplots()
    assert plots.marginal_map(plan, inputs, ax=ax) is ax
    assert plots.marginal_map(plan, ax, inputs=inputs) is ax
    with pytest.raises(TypeError, match="ax given twice"):
        plots.marginal_map(plan, ax, ax)
    assert len(plt.get_fignums()) == 1
