"""`slot_summary`, column-wise, against its definition slot by slot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from util import REPO, SHIFT, VALID

from rebalance import Config, Plan, load, solve
from rebalance.views.timeline import slot_summary


def by_definition(plan: Plan) -> pd.DataFrame:
    """One slot at a time: its moves by `Plan.moves_at`, its rows of slots.csv by their
    instant (zones.csv for a one-slot plan); what `slot_summary` did before it was made
    column-wise."""
    rows = []
    for k, (start, label) in enumerate(zip(plan.slot_starts(), plan.slot_labels(), strict=True)):
        moves = plan.moves_at(k)
        if len(plan.slots):
            here = plan.slots[pd.to_datetime(plan.slots["slot_start"], utc=True) == start]
            before = here["couriers_before"].to_numpy()
        else:
            here = plan.zones
            before = here["couriers_before"].to_numpy()
        need = here["required_couriers"].to_numpy()
        after = here["couriers_after"].to_numpy()
        required = int(need.sum())
        rows.append(
            {
                "slot_start": start,
                "label": label,
                "moves": len(moves),
                "routes": moves.groupby(["from_zone", "to_zone"]).ngroups if len(moves) else 0,
                "logged_on": int(here["logged_on"].sum()) if len(plan.slots) else int(after.sum()),
                "logged_off": int(here["logged_off"].sum())
                if len(plan.slots)
                else int(after.sum()),
                "required": required,
                "present": int(after.sum()),
                "short_before": int(np.maximum(need - before, 0).sum()),
                "short": int(here["shortage"].sum()),
                "zones_short": int((here["shortage"] > 0).sum()),
                "coverage": 1.0
                if required == 0
                else float(np.minimum(need, after).sum()) / required,
            }
        )
    return pd.DataFrame(rows)


def night() -> Plan:
    inputs = load(VALID)
    couriers = inputs.couriers.assign(
        available_from=pd.Timestamp("2026-10-24T22:00", tz="Europe/Paris").tz_convert("UTC"),
        available_until=pd.Timestamp("2026-10-25T06:00", tz="Europe/Paris").tz_convert("UTC"),
    )
    return solve(
        inputs.replace(couriers=couriers),
        Config(),
        "2026-10-25T01:30",
        shift_end="2026-10-25T04:00",
    )


PLANS = {
    "paris, 8 slots": lambda: solve(load(REPO / "data/samples/paris"), Config(), SHIFT),
    "lyon, one slot": lambda: solve(
        load(REPO / "data/samples/lyon").replace(demand=None),
        Config().with_changes(shift={"slot_minutes": 240}),
        SHIFT,
    ),
    "a day of 5-minute slots": lambda: solve(
        load(VALID), Config().with_changes(shift={"slot_minutes": 5, "hours": 24}), SHIFT
    ),
    "a night over the autumn change": night,
}


@pytest.mark.parametrize("name", list(PLANS))
def test_slot_summary_is_its_definition(name):
    """Every column, value and dtype equal to the slot-by-slot definition: moves and
    routes per slot, couriers on and off, need, presence, shortage before and after,
    zones short and coverage."""
    plan = PLANS[name]()
    summary = slot_summary(plan)
    assert len(summary) == plan.slot_count
    assert summary["moves"].sum() == len(plan.moves)
    pd.testing.assert_frame_equal(summary, by_definition(plan))
