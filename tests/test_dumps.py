"""plan.json and `plan --format json` text: the fast writer equals the json module's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from util import REPO

import rebalance
from rebalance.plan import _jsonable, dumps_indented


def reference(value):
    """The json module with a 2-space indent (what plan.json held before), with the
    characters a terminal would act on or hide as escapes (`escape.json_text`)."""
    from rebalance.escape import json_text

    return json_text(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def test_every_kind_of_value_as_the_json_module_writes_it():
    """Strings with quotes, controls, non-ASCII and surrogates, numpy scalars, NaN and
    infinities, booleans, empty and nested containers, tuples: character for character."""
    rng = np.random.default_rng(5)
    value = {
        "text": ['a"b\\c', "line\nbreak\ttab\x00\x1f", "Zoë 東京 🚲", "\ud800", "", "</script>"],
        "numbers": [0, -1, 2**63, 1.5, -0.0, 1e-300, 1e300, 0.1 + 0.2, float("nan")],
        "inf": [float("inf"), -float("inf")],
        "numpy": [np.int64(7), np.float64(0.1), np.float32(0.5), np.bool_(True), np.int32(-3)],
        "flags": [True, False, None],
        "empty": [{}, [], ()],
        "nested": {"a": {"b": [[1, [2, {}]], {"c": None}]}, 3: "int key"},
        "tuple": (1, "two", (3.0,)),
        "random": rng.normal(size=20).tolist(),
        "rows": [
            {"id": f'Z"{i}%s', "n": i, "x": float(v), "ok": i % 2 == 0, "np": np.int64(i)}
            for i, v in enumerate([0.5, float("nan"), 1e20, -0.0])
        ],
        "mixed rows": [{"a": 1, "b": None}, {"a": 2.5, "b": "x"}, {"a": np.float64(3), "b": 1}],
        "key%order": [{"a": 1, "b": 2}, {"b": 2, "a": 1}],
        "nested rows": [{"a": [1]}, {"a": {"b": 2}}],
        "one row": [{"a": 1}],
        "rows of lists": [[1, 2], [3, 4]],
    }
    assert dumps_indented(value) == reference(value)
    for scalar in ("x", 1, 2.5, None, True, [], {}):
        assert dumps_indented(scalar) == reference(scalar)


def test_unknown_types_still_refused():
    """A value json cannot write is refused as before, not written as text."""
    with pytest.raises(TypeError):
        dumps_indented({"when": object()})


def test_a_real_plan_as_before():
    """The Paris sample's plan.json, and the CLI's JSON with the zone and move rows, are
    the json module's text."""
    from rebalance.cli import _plan_json_parts

    folder = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(folder / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(folder, config), config, "2026-11-30T19:00")
    assert plan.to_json() == reference(plan.to_dict()) + "\n"
    text = "".join(_plan_json_parts(plan))
    assert json.loads(text)["zones"] and text == reference(json.loads(text)) + "\n"


def test_records_as_the_json_module_writes_their_rows():
    """A frame written column by column (`Records`) is the json module's text of its
    records: hostile names, missing strings, NaN and infinities, numpy and pandas dtypes."""
    import pandas as pd

    from rebalance.plan import Records

    frame = pd.DataFrame(
        {
            "zone_id": ["Z1", 'Z"2', "=1+1", "Zoë;東京"],
            "name": ["a\\b\n", None, "%s %(x)s", "\x1f</script>"],
            "n": np.array([0, -1, 2**62, 7], dtype=np.int64),
            "small": np.array([1, 2, 3, 4], dtype=np.uint8),
            "x": [0.1 + 0.2, float("nan"), float("inf"), -0.0],
            "big": [1e300, 1e-300, 1e16, 123456789.125],
            "flag": [True, False, True, False],
            "maybe": pd.array([1, None, 3, None], dtype="Int64"),
            "mixed": [np.int64(3), np.float64(0.5), None, "text"],
            'key "%s"': [1.0, 2.0, 3.0, 4.0],
        }
    )
    for rows in (frame, frame.iloc[:1], frame.iloc[:0], frame[["name"]]):
        value = {"rows": Records(rows), "after": [1.5, float("nan"), 2]}
        assert dumps_indented(value) == reference(value)
        expected = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
        assert dumps_indented(value) == reference({**value, "rows": expected})


def test_lists_of_rows_with_nested_rows_and_nulls():
    """Rows whose values are rows themselves, or null, or empty, as explanation facts are:
    the json module's text."""
    value = [
        {"zone": "A", "near": {"id": "B", "m": 1.5}, "other": None, "tags": []},
        {"zone": 'C"', "near": None, "other": {}, "tags": [1, "x"]},
        {"zone": "D", "near": {"id": "E", "m": float("nan")}, "other": {"k": [None]}, "tags": []},
        {"zone": "F", "near": {"m": 2.0, "id": "G"}, "other": None, "tags": [{"a": 1}]},
    ]
    assert dumps_indented(value) == reference(value)
    assert dumps_indented({"lat": [48.85, 2.0, -0.0], "ids": ["a", "b"]}) == reference(
        {"lat": [48.85, 2.0, -0.0], "ids": ["a", "b"]}
    )


@st.composite
def record_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(1, 5))
    alphabet = st.sampled_from(list('ab"\\\n\t\x00\x1f\x7f é東🚲\u2028%;,'))
    text = st.one_of(st.none(), st.text(alphabet, max_size=6))
    columns = {}
    for j, kind in enumerate(draw(st.lists(st.sampled_from("sofib"), min_size=1, max_size=4))):
        if kind in "so":
            values = draw(st.lists(text, min_size=rows, max_size=rows))
            columns[f"c{j}"] = pd.Series(values, dtype="str" if kind == "s" else object)
        elif kind == "f":
            values = draw(st.lists(st.floats(), min_size=rows, max_size=rows))
            columns[f"c{j}"] = pd.Series(values, dtype=np.float64)
        elif kind == "i":
            values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=rows, max_size=rows))
            columns[f"c{j}"] = pd.Series(values, dtype=np.int64)
        else:
            columns[f"c{j}"] = pd.Series(
                draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
            )
    return pd.DataFrame(columns)


@settings(max_examples=200, deadline=None)
@given(record_frames())
def test_records_of_any_text_as_the_json_module_writes_them(frame):
    """Rows written column-wise by Arrow (`Records`): text with quotes, backslashes,
    control and non-ASCII characters or missing, floats of every kind, integers."""
    from rebalance.plan import Records

    value = {"rows": Records(frame), "n": 1}
    assert dumps_indented(value) == reference(value)


def test_records_with_nested_values_keep_their_indent():
    """Cells holding lists or rows (an object column) are indented one level below
    their field, as the json module does."""
    from rebalance.plan import Records

    frame = pd.DataFrame(
        {
            "zone_id": ["A", "B", "C"],
            "near": [[1, {"id": "x", "m": 2.5}], {"id": "y", "tags": []}, None],
            "n": [1, 2, 3],
        }
    )
    value = {"rows": Records(frame), "more": [{"k": Records(frame)}]}
    assert dumps_indented(value) == reference(value)


def test_many_rows_are_written_a_block_at_a_time_as_the_json_module_writes_them(monkeypatch):
    """Rows come `RECORD_ROWS` at a time (the whole rows' text at once set the peak
    memory of ``plan --format json`` at large cities): the text is the same across a
    block's edge, with a quote or control character in some blocks and not in others,
    and no piece holds more than one block of rows."""
    import rebalance.plan as plan_module
    from rebalance.plan import Records, dumps_indented_parts

    monkeypatch.setattr(plan_module, "RECORD_ROWS", 3)
    frame = pd.DataFrame(
        {
            "courier_id": [f"C{i}" for i in range(7)],
            "name": ["a", "b", "c", 'q"uote', "e", "ctl\x1b", None],
            "n": np.arange(7, dtype=np.int64),
            "x": [0.5, float("nan"), 1e300, -0.0, 2.0, float("inf"), 3.25],
        }
    )
    frame["name"] = frame["name"].astype("str")
    value = {"zones": Records(frame.iloc[:2]), "moves": Records(frame), "n": 1}
    parts = list(dumps_indented_parts(value))
    assert "".join(parts) == reference(value)
    rows = [p for p in parts if '"courier_id"' in p]
    assert [p.count('"courier_id"') for p in rows] == [2, 3, 3, 1]
