"""Matplotlib views of plans, scenarios and history: kept importable as
``rebalance.plots`` for notebooks; the code lives in `rebalance.views.plots`."""

from __future__ import annotations

from .views.plots import (
    METRICS,
    OKABE_ITO,
    couriers_over_time,
    coverage_history,
    marginal_map,
    plan_subject,
    scenario_comparison,
    served_share,
    shortage_cmap,
    slot_heatmap,
    supply_vs_need,
    zone_map,
)

__all__ = [
    "METRICS",
    "OKABE_ITO",
    "couriers_over_time",
    "coverage_history",
    "marginal_map",
    "plan_subject",
    "scenario_comparison",
    "served_share",
    "shortage_cmap",
    "slot_heatmap",
    "supply_vs_need",
    "zone_map",
]
