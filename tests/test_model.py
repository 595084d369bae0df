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
