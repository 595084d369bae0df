"""plan.json and `plan --format json` text: the fast writer equals the json module's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from util import REPO

import rebalance
from rebalance.plan import _jsonable, dumps_indented


def reference(value):
    """What plan.json held before: the json module with a 2-space indent."""
    return json.dumps(_jsonable(value), indent=2, ensure_ascii=False)


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
    from rebalance.cli import _plan_json

    folder = REPO / "data" / "samples" / "paris"
    config = rebalance.load_config(folder / "rebalance.toml")
    plan = rebalance.solve(rebalance.load(folder, config), config, "2026-11-30T19:00")
    assert plan.to_json() == reference(plan.to_dict()) + "\n"
    text = _plan_json(plan)
    assert json.loads(text)["zones"] and text == reference(json.loads(text)) + "\n"
