"""Plan folders on a failing disk or after damage: clear exit codes, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from util import SHIFT, VALID

from rebalance import DataError, load, solve
from rebalance.cli import app
from rebalance.plan import PLAN_FILES, read_plan


@pytest.fixture(scope="module")
def solved():
    """The valid sample city, planned once."""
    return solve(load(VALID), None, SHIFT)


@pytest.fixture
def plan_dir(solved, tmp_path) -> Path:
    """A freshly written plan folder."""
    return solved.write(tmp_path / "plan")


def _damage(path: Path, how: str) -> None:
    text = path.read_text(encoding="utf-8")
    if how == "truncate":
        # cut inside a line, as a full disk or a killed copy leaves it
        path.write_text(text[: text.index("\n", len(text) // 2) - 2], encoding="utf-8")
    elif how == "empty":
        path.write_text("", encoding="utf-8")
    elif how == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")


@pytest.mark.parametrize(
    ("file", "how", "words"),
    [
        ("plan.json", "truncate", "not valid JSON"),
        ("plan.json", "empty", "not valid JSON"),
        ("plan.json", "binary", "not UTF-8"),
        ("zones.csv", "truncate", "truncated"),
        ("zones.csv", "empty", "cannot read it as a plan table"),
        ("moves.csv", "binary", "cannot read it as a plan table"),
    ],
)
def test_damaged_plan_file_is_named(plan_dir, file, how, words):
    """A truncated, empty or binary plan file is a DataError naming that file."""
    _damage(plan_dir / file, how)
    with pytest.raises(DataError) as info:
        read_plan(plan_dir)
    assert info.value.problems[0].file == str(plan_dir / file)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: m.pop("shift_start"), "lacks the key 'shift_start'"),
        (lambda m: m.update(shift_start="tomorrow"), "invalid value"),
        (lambda m: m.update(shift_start=5), "ISO 8601"),
        (lambda m: m.update(timezone="Mars/Olympus"), "unknown timezone"),
        (lambda m: m.update(status="great"), "unknown plan status"),
        (lambda m: m.update(kpis=[1, 2]), "JSON object"),
    ],
)
def test_edited_plan_json_is_refused(plan_dir, edit, words):
    """A plan.json with a key missing or a wrong value names the file and the problem."""
    meta = json.loads((plan_dir / "plan.json").read_text())
    edit(meta)
    (plan_dir / "plan.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=words):
        read_plan(plan_dir)


def test_plan_json_that_is_not_an_object(plan_dir):
    """A plan.json holding a list is refused, not indexed."""
    (plan_dir / "plan.json").write_text("[]\n")
    with pytest.raises(DataError, match="not a JSON object"):
        read_plan(plan_dir)


def test_publish_of_a_corrupt_plan_exits_3(plan_dir):
    """`rebalance publish` on a truncated plan.json exits 3 naming it, without a traceback."""
    _damage(plan_dir / "plan.json", "truncate")
    for args in (["--dry-run"], ["--channel", "C1"]):
        result = CliRunner().invoke(app, ["publish", str(plan_dir), *args])
        assert result.exit_code == 3, result.output
        assert "plan.json" in result.output and "Traceback" not in result.output


def test_plan_path_that_is_a_file(tmp_path):
    """A plan 'folder' that is a file is refused as not a folder."""
    (tmp_path / "plan").write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        read_plan(tmp_path / "plan")


def test_round_trip_still_reads(plan_dir, solved):
    """An undamaged folder reads back the same plan."""
    back = read_plan(plan_dir)
    assert back.plan_id == solved.plan_id and back.shift_start == solved.shift_start
    assert sorted(p.name for p in plan_dir.iterdir()) == sorted(PLAN_FILES)
