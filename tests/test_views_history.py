"""Views of past runs (rebalance.views.history): one line, a table, JSON, one run in full."""

from __future__ import annotations

import json

from rich.console import Console

from rebalance.history import RunRecord
from rebalance.views.history import run_details, runs_json, runs_table, summary_line


def _record(**changes: object) -> RunRecord:
    base: dict[str, object] = {
        "run_id": "20261130T174500-f00d42",
        "city": "Paris",
        "shift_start": "2026-11-30T19:00:00+01:00",
        "status": "succeeded",
        "started_at": "2026-11-30T17:45:00.000+00:00",
        "ended_at": "2026-11-30T17:45:02.000+00:00",
        "exit_code": 0,
        "kpis": {"moved_couriers": 12, "coverage_before": 0.8, "coverage": 1.0},
        "slack_channel": "C0123ABCD",
        "extra": {"publish_action": "posted"},
    }
    base.update(changes)
    return RunRecord(**base)  # type: ignore[arg-type]


def _text(renderable: object, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_summary_line_says_where_the_plan_went_and_what_it_does():
    """The quiet success line: run, city, shift, where it was posted, moves and coverage."""
    assert summary_line(_record()) == (
        "run 20261130T174500-f00d42: Paris 2026-11-30 19:00: posted to C0123ABCD; "
        "12 couriers to move, coverage 80.0% -> 100.0%"
    )
    dry = _record(extra={"publish_action": "dry-run"}, slack_channel=None)
    assert ": dry run for Slack;" in summary_line(dry)


def test_runs_table_shows_failed_phase_and_whole_percent_coverage():
    """A failed run shows where it failed; coverage is before->after in whole percent."""
    failed = _record(run_id="X2", status="failed", phase="publish", exit_code=5)
    text = _text(runs_table([_record(), failed]))
    assert "80%->100%" in text and "failed@publish" in text and "posted" in text


def test_run_details_list_phases_in_run_order():
    """Phase timings are shown in the order a run goes through them, not alphabetically."""
    record = _record(extra={"timings_ms": {"write": 5, "lock": 1, "publish": 9, "plan": 3}})
    text = _text(run_details(record))
    assert "lock 1 ms, plan 3 ms, write 5 ms, publish 9 ms" in text


def test_runs_json_is_one_object_per_run():
    """JSON output is an array with every recorded field of each run."""
    [row] = json.loads(runs_json([_record()]))
    assert row["run_id"] == "20261130T174500-f00d42" and row["kpis"]["moved_couriers"] == 12


def test_runs_table_tells_apart_the_two_shifts_at_0230_on_the_autumn_night():
    """Cron runs for the shifts at 02:30 CEST and at 02:30 CET (an hour later) read the
    same as ``10-25 02:30``; they get their UTC offsets, other rows stay as they were."""
    records = [
        _record(run_id="20261025T003000-aaaaaa", shift_start="2026-10-25T02:30:00+02:00"),
        _record(run_id="20261025T013000-bbbbbb", shift_start="2026-10-25T02:30:00+01:00"),
        _record(run_id="20261025T013500-cccccc", shift_start="2026-10-25T02:30:00+01:00"),
        _record(),
    ]
    text = _text(runs_table(records), width=140)
    assert "10-25 02:30+02:00" in text and text.count("10-25 02:30+01:00") == 2
    assert "11-30 19:00" in text and "11-30 19:00+" not in text
