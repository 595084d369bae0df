"""How the several-slot marginal value compares with re-solving (rebalance.explain).

For random small cities (the generator of tests/test_slotmodel.py) and every zone, re-solve
with one more courier present for the whole shift and unable to move, and compare the
drop of the optimum with ``marginal_minutes``: equal, above (the LP dual over-states the
saving), below (never expected), NaN where one more courier cannot be placed, or a finite
value on a zone the explanation flags as filling its cap in some slot while the re-solve
finds no room. Prints one table row per slot count::

    .venv/bin/python benchmarks/marginal_values.py [--seeds 40]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_explain import PARKED, resolve_gain
from test_slotmodel import random_city

from rebalance.model import build_problem
from rebalance.optimize import solve_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    head = ("slots", "zones", "equal", "above", "below", "nan+infeasible", "at cap+infeasible")
    print(" | ".join(f"{h:>17}" for h in head))
    for slots in (1, 2, 3):
        counts = dict.fromkeys(head[1:], 0)
        for seed in range(args.seeds):
            inputs, config, start = random_city(seed, zones=5, couriers=8, slots=slots)
            config = config.with_changes(vehicles=PARKED)
            plan = solve_problem(build_problem(inputs, config, start))
            if plan.status == "infeasible":
                continue
            full = plan.explain().ranking.set_index("zone_id")["full_slots"]
            for zid, value in zip(
                plan.zones["zone_id"], plan.zones["marginal_minutes"], strict=True
            ):
                gain = resolve_gain(inputs, config, start, zid, plan.objective)
                counts["zones"] += 1
                if math.isnan(gain):
                    if math.isnan(value):
                        counts["nan+infeasible"] += 1
                    else:  # a finite value: the zone must be flagged as filling its cap
                        assert full[zid] > 0, (seed, zid)
                        counts["at cap+infeasible"] += 1
                elif math.isnan(value) or value < gain - 2e-3:
                    counts["below"] += 1
                elif value > gain + 2e-3:
                    counts["above"] += 1
                else:
                    counts["equal"] += 1
        print(" | ".join(f"{v:>17}" for v in (slots, *counts.values())))


if __name__ == "__main__":
    main()
