"""`rebalance.csvfile.csv_bytes` writes what pandas writes, byte for byte.

The plan folder's CSV files and the Slack thread's attachments are written by
`csv_bytes` (Arrow kernels) instead of ``csv_frame(frame).to_csv(...)`` (pandas, one
Python object per cell). Users diff these files and scripts read them: every test here
compares the two on text a partner could send.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from util import DATA

from rebalance import load, solve
from rebalance.config import load_config
from rebalance.csvfile import _quoted_characters, csv_bytes
from rebalance.escape import csv_frame
from rebalance.plan import read_plan

SHIFT = "2026-11-30T19:00"


def pandas_bytes(frame: pd.DataFrame) -> bytes:
    return csv_frame(frame, controls=True).to_csv(index=False, lineterminator="\n").encode("utf-8")


# characters that change how a cell is written: separators, quotes, line breaks,
# formula starts, the guard's own ', controls and what reads as their escapes (\ x u),
# and text from beyond ASCII (a zero-width joiner is written out next to ASCII only)
HOSTILE = ",\"'\n\r\t\x00\x0b\x1b\x7f\x85\\;=+-@ axuZ0é€’\u00ad\u202e\u200b\u200d😀"
texts = st.text(alphabet=HOSTILE, max_size=8)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 6))
    kinds = draw(
        st.lists(st.sampled_from(["str", "object", "float", "int", "bool"]), min_size=2, max_size=5)
    )
    data: dict[str, object] = {}
    for i, kind in enumerate(kinds):
        name = draw(texts.filter(lambda s: s not in data)) if i == 0 else f"c{i}"
        if kind in ("str", "object"):
            values = draw(st.lists(st.one_of(texts, st.none()), min_size=rows, max_size=rows))
            data[name] = pd.Series(values, dtype="str" if kind == "str" else object)
        elif kind == "float":
            values = draw(
                st.lists(
                    st.floats(allow_nan=True, allow_infinity=True), min_size=rows, max_size=rows
                )
            )
            data[name] = pd.Series(values, dtype=np.float64)
        elif kind == "int":
            values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
            data[name] = pd.Series(values, dtype=np.int64)
        else:
            data[name] = pd.Series(
                draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool
            )
    return pd.DataFrame(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
@example(
    pd.DataFrame(
        {
            "a": pd.Series(
                ["=1+1", "'=x", "''+y", "x,y;=z", 'say "hi"', "two\nlines", "cr\r;@x", None],
                dtype="str",
            ),
            "b": [1.0, math.nan, 60.0, 1e-05, 1e16, -0.0, math.inf, 0.1],
        }
    )
)
def test_same_bytes_as_pandas(frame: pd.DataFrame) -> None:
    """Text with separators, quotes, line breaks and formula starts, missing values,
    floats of every kind, integers and booleans: the same file."""
    assert csv_bytes(frame) == pandas_bytes(frame)


def test_floats_as_numpy_writes_them() -> None:
    """pandas writes floats with numpy's ``astype(str)``; `csv_bytes` uses Python's repr,
    which must be the same text for every double (random bit patterns and the edges)."""
    rng = np.random.default_rng(2026)
    values = rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate(
        [values, np.round(rng.random(50_000) * 60, 3), [5e-324, 1.7976931348623157e308, 1e-4, 1e-5]]
    )
    frame = pd.DataFrame({"x": values, "y": -values})
    assert csv_bytes(frame) == pandas_bytes(frame)


def test_the_writer_asks_python_what_it_quotes() -> None:
    """A cell with a separator, a quote or a line break is quoted, its quotes doubled."""
    assert {",", '"', "\n"} <= set(_quoted_characters())
    frame = pd.DataFrame(
        {"name": pd.Series(["a,b", 'a"b', "a\nb", "a\rb"], dtype="str"), "n": [1, 2, 3, 4]}
    )
    lines = csv_bytes(frame).decode()
    assert lines.startswith('name,n\n"a,b",1\n"a""b",2\n"a\nb",3\n')


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": pd.Series(["", "x", None], dtype="str")}),  # one column: "" rows
        pd.DataFrame({"when": pd.to_datetime(["2026-11-30T19:00Z"]), "n": [1]}),
        pd.DataFrame({"v": pd.Categorical(["bike", "=car"]), "n": [1, 2]}),
        pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "s": ["=a", "b"]}),
        pd.DataFrame({"mixed": [1, "=x"], "s": ["a", "b"]}),
        pd.DataFrame({1: ["a"], 2: ["b"]}),
    ],
    ids=["one-column", "dates", "category", "nullable-int", "mixed-object", "int-names"],
)
def test_other_kinds_are_left_to_pandas(frame: pd.DataFrame) -> None:
    """Columns it does not write itself (dates, categories...) give pandas' file too."""
    assert csv_bytes(frame) == pandas_bytes(frame)


def test_plan_files_are_pandas_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The hostile city's plan folder (formulas, quotes, separators and line breaks in
    its names): every CSV file the same bytes as through pandas."""
    import rebalance.plan

    city = DATA / "hostile"
    config = load_config(city / "rebalance.toml")
    plan = solve(load(city, config), config, shift_start=SHIFT, shift_end="2026-11-30T20:00")
    fast = plan.write(tmp_path / "fast")
    monkeypatch.setattr(rebalance.plan, "csv_bytes", pandas_bytes)
    slow = plan.write(tmp_path / "pandas")
    written = sorted(p.name for p in fast.glob("*.csv"))
    assert written == ["moves.csv", "slots.csv", "zones.csv"]
    for name in written:
        assert (fast / name).read_bytes() == (slow / name).read_bytes(), name
    text = (fast / "zones.csv").read_text()
    assert '"' in text and "'=" in text  # quoted and guarded cells were written
    pd.testing.assert_frame_equal(read_plan(fast).zones, read_plan(slow).zones)
