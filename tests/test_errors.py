"""The error tree: every error a user can cause maps to one exit code (rebalance.errors)."""

from __future__ import annotations

import pytest

from rebalance.errors import (
    ConfigError,
    DataError,
    InfeasibleError,
    InputError,
    Issue,
    LockHeldError,
    OutputExistsError,
    PublishError,
    RebalanceError,
    TimestampError,
    UsageError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("bad", option="--x"), 2),
        (TimestampError("not a time"), 2),
        (OutputExistsError("full", option="--out"), 2),
        (DataError("bad row"), 3),
        (ConfigError("bad key"), 3),
        (InfeasibleError("no plan"), 4),
        (PublishError("refused", hint="retry"), 5),
        (LockHeldError("held"), 6),
        (RebalanceError("bug"), 1),
    ],
)
def test_each_error_has_its_contract_exit_code(error: RebalanceError, code: int) -> None:
    """Each error class carries the exit code CONTRACT section 6 gives it."""
    assert isinstance(error, RebalanceError) and error.exit_code == code


def test_usage_errors_are_also_the_builtin_errors_callers_catch() -> None:
    """A bad timestamp is a ValueError and a taken output folder a FileExistsError."""
    assert isinstance(TimestampError("x"), ValueError)
    assert isinstance(OutputExistsError("x"), FileExistsError)
    assert issubclass(DataError, InputError) and issubclass(ConfigError, InputError)


def test_input_error_lists_every_located_problem() -> None:
    """An input error names file, line and column of each problem, and what is valid."""
    error = DataError(
        [
            Issue(
                "not a number", file="zones.csv", line=3, column="lat", value="x", valid="-90..90"
            ),
            Issue("unknown zone", file="couriers.csv", line=7, column="zone_id"),
        ]
    )
    text = str(error)
    assert text.startswith("invalid input: 2 problems")
    assert "zones.csv, line 3, column 'lat': not a number (got 'x'); expected -90..90" in text
    assert "couriers.csv, line 7, column 'zone_id': unknown zone" in text


def test_a_long_list_of_problems_says_how_many_are_not_shown() -> None:
    """Past the first 20 problems the message says how many more there are: without that
    line a user fixing the 20 shown would think the file clean."""
    from rebalance.errors import MAX_LISTED

    error = DataError(
        [Issue("unknown zone", file="couriers.csv", line=n, column="zone_id") for n in range(2, 27)]
    )
    lines = str(error).splitlines()
    assert MAX_LISTED == 20 and lines[0] == "invalid input: 25 problems"
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "  ... and 5 more"
    assert "line 21," in lines[20] and "line 22," not in str(error)
