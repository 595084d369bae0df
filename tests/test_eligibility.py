"""Why couriers are not eligible for a shift, and when `plan` warns about it."""

from __future__ import annotations

import pandas as pd

from rebalance import Config
from rebalance.eligibility import eligibility, shift_grid
from rebalance.timeparse import parse_timestamp

TZ = "Europe/Paris"


def couriers(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """A couriers table from (available_from, available_until, status) in city time."""
    return pd.DataFrame(
        {
            "courier_id": [f"C{i}" for i in range(len(rows))],
            "vehicle": ["bike"] * len(rows),
            "available_from": [parse_timestamp(r[0], TZ) for r in rows],
            "available_until": [parse_timestamp(r[1], TZ) for r in rows],
            "status": [r[2] for r in rows],
        }
    )


def reasons(table: pd.DataFrame, slot_minutes: int) -> list[str]:
    """The reason of each courier for a 19:00-23:00 shift with slots of this length."""
    config = Config().with_changes(shift={"slot_minutes": slot_minutes})
    grid = shift_grid(config, parse_timestamp("2026-11-30T19:00", TZ))
    return eligibility(table, grid, 60).reasons.tolist()


TABLE = couriers(
    ("2026-11-30T18:00", "2026-11-30T23:00", "available"),  # eligible
    ("2026-11-30T18:00", "2026-11-30T23:00", "busy"),
    ("2026-11-30T12:00", "2026-11-30T18:30", "available"),  # gone
    ("2026-11-30T22:45", "2026-11-30T23:59", "available"),  # late in every grid
    ("2026-11-30T18:00", "2026-11-30T19:20", "available"),  # leaves early
    ("2026-11-30T19:05", "2026-11-30T19:50", "available"),  # between two slot starts
)


def test_reasons_with_one_slot_are_section_2():
    """With one slot: status, gone, arriving after the start, leaving within the hour."""
    assert reasons(TABLE, 240) == ["", "busy", "gone", "late", "leaves_early", "late"]


def test_reasons_with_slots_follow_presence():
    """With 30-minute slots a window between two slot starts is too short for any slot."""
    assert reasons(TABLE, 30) == ["", "busy", "gone", "late", "leaves_early", "short"]


def test_counts_are_labelled_largest_first():
    """counts() names each reason in words an operator can check, largest count first."""
    gone = ("2026-11-30T12:00", "2026-11-30T18:30", "available")
    table = couriers(gone, gone, gone, ("2026-11-30T18:00", "2026-11-30T23:00", "offline"))
    grid = shift_grid(Config(), parse_timestamp("2026-11-30T19:00", TZ))
    found = eligibility(table, grid, 60)
    assert found.counts() == {"gone before the shift starts": 3, "offline": 1}
    assert found.eligible == 0 and found.warnings()[0].startswith("no courier is eligible")


def test_no_warning_when_most_couriers_can_work():
    """A usual shift (one courier busy, one gone) gives no warning."""
    config = Config()
    grid = shift_grid(config, parse_timestamp("2026-11-30T19:00", TZ))
    found = eligibility(TABLE.iloc[:3], grid, 60)
    assert found.warnings() == []


def test_counts_of_equal_size_keep_the_order_met_in_the_table():
    """Reasons with the same count are listed in the order their first courier appears,
    and the warning names them in that order."""
    gone = ("2026-11-30T12:00", "2026-11-30T18:30", "available")
    busy = ("2026-11-30T18:00", "2026-11-30T23:00", "busy")
    late = ("2026-11-30T22:45", "2026-11-30T23:59", "available")
    ok = ("2026-11-30T18:00", "2026-11-30T23:00", "available")
    grid = shift_grid(Config(), parse_timestamp("2026-11-30T19:00", TZ))
    found = eligibility(couriers(busy, late, gone, ok, gone, late, busy), grid, 60)
    assert list(found.counts().values()) == [2, 2, 2]
    labels = list(found.counts())
    assert labels[0] == "busy" and labels[1].startswith("arriving") and labels[2].startswith("gone")
    assert (found.total, found.eligible, found.by_window) == (7, 1, 4)
    assert "4 of 5 available couriers" in found.warnings()[0]
    assert "(2 busy, 2 arriving" in found.warnings()[0]


def test_plan_warnings_skip_the_reasons_only_when_nothing_is_due(monkeypatch):
    """`plan_warnings` trusts the plan's own count of eligible couriers to tell that no
    warning is due (most available couriers eligible), and says exactly what
    `Eligibility.warnings` says in every case: nobody eligible, most available couriers
    ruled out by their windows (more than half; exactly half is no warning), and none."""
    from types import SimpleNamespace

    from rebalance.eligibility import plan_warnings

    ok = ("2026-11-30T18:00", "2026-11-30T23:00", "available")
    gone = ("2026-11-30T12:00", "2026-11-30T18:30", "available")
    busy = ("2026-11-30T18:00", "2026-11-30T23:00", "busy")
    config = Config().with_changes(shift={"slot_minutes": 240})
    start = parse_timestamp("2026-11-30T19:00", TZ)
    grid = shift_grid(config, start)
    plan = SimpleNamespace(
        shift_start=grid.start, shift_end=grid.end, slot_minutes=240, timezone=TZ, kpis={}
    )
    cases = {
        "nobody": couriers(gone, busy),
        "most ruled out": couriers(ok, gone, gone, busy),
        "half ruled out": couriers(ok, gone, busy, busy),
        "usual": couriers(ok, ok, gone, busy),
        "no couriers": couriers(ok).iloc[:0],
    }
    said = {}
    for name, table in cases.items():
        found = eligibility(table, grid, config.eligibility.min_available_minutes)
        plan.kpis = {"eligible_couriers": found.eligible}
        said[name] = plan_warnings(table, plan, config)
        assert said[name] == found.warnings(), name
        plan.kpis = {}  # a plan without counts: the reasons decide, the same way
        assert plan_warnings(table, plan, config) == found.warnings(), name
    assert said["nobody"] and said["most ruled out"]
    assert said["no couriers"][0].startswith("the couriers table lists no courier")
    assert not said["half ruled out"] and not said["usual"]
    # and when nothing is due, no courier's reason is looked for
    import rebalance.eligibility as module

    def fail(*args, **kwargs):
        raise AssertionError("reasons computed")

    monkeypatch.setattr(module, "eligibility", fail)
    plan.kpis = {"eligible_couriers": 2}
    assert plan_warnings(cases["usual"], plan, config) == []
