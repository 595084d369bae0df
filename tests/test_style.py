"""House rules that keep the suite readable."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def test_every_test_has_a_docstring():
    """Every test function says in one line what behaviour it checks."""
    missing = []
    for file in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            is_test = isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            if is_test and not ast.get_docstring(node):
                missing.append(f"{file.name}::{node.name}")
    assert missing == []


def test_third_party_boundaries_live_in_one_module():
    """ortools, slack_sdk, sqlite3 and typer are each imported by one module of the package."""
    owners = {
        "ortools": "solver.py",
        "slack_sdk": "slack.py",
        "sqlite3": "history.py",
        "typer": "cli.py",
    }
    package = TESTS.parent / "rebalance"
    for file in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in owners:
                    where = file.relative_to(package).as_posix()
                    assert where == owners[top], f"{where} imports {name}"
