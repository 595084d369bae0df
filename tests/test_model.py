"""Helpers of the problem builder (rebalance.model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rebalance.model import positions


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]", "str"])
def test_positions_like_get_indexer(dtype):
    """Zone ids found by Arrow's hash lookup are where pandas' get_indexer puts them,
    -1 for unknown and missing ids, whatever the string dtype."""
    index = pd.Index(np.array(["Z2", "Z10", "Z1", "é ü"], dtype=object))
    column = pd.Series(["Z1", "Z10", "nope", None, "é ü", "Z2", "Z1"], dtype=dtype)
    want = index.get_indexer(column.to_numpy(dtype=object))
    np.testing.assert_array_equal(positions(column, index), want)
    assert positions(column, index).dtype == np.int64


def test_positions_of_other_types_fall_back():
    """Ids Arrow cannot compare with the index (numbers against text) are looked up by
    pandas, not refused."""
    index = pd.Index(np.array(["1", "2"], dtype=object))
    np.testing.assert_array_equal(positions(pd.Series([2, 1, 3]), index), [-1, -1, -1])
    np.testing.assert_array_equal(positions(pd.Series([], dtype=object), index), [])


@pytest.mark.parametrize(("rows", "distinct"), [(0, 1), (1, 1), (1000, 7), (50_000, 40_000)])
def test_groups_are_numbered_as_a_sort_would(rows, distinct):
    """Hashing the group keys numbers groups, members and sizes exactly as np.unique."""
    from rebalance.model import _unique_sorted

    rng = np.random.default_rng(rows)
    keys = rng.integers(0, 10**12, distinct)[rng.integers(0, distinct, rows)]
    want = np.unique(keys, return_inverse=True, return_counts=True)
    got = _unique_sorted(keys)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w.ravel(), g)
