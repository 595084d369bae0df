"""rebalance.texthash gives pandas' own hash of every text, from Arrow buffers."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from rebalance import texthash
from rebalance.texthash import CHUNK, text_hashes, value_bytes


def pandas_hashes(values: list[str]) -> np.ndarray:
    """pandas' hash of Python strings, the rule the fingerprint was defined with."""
    return pd.util.hash_array(np.array(values, dtype=object), categorize=False)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_same_hashes_as_pandas_for_any_text(kind):
    """Texts of every length from 0 to 40 bytes, ASCII or not, hash as pandas hashes them."""
    rng = random.Random(7)
    alphabet = "aZ09 ,é東\u3000😀\x00\n"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25))) for _ in range(5000)]
    values += ["", "R0000001", "x" * 8, "y" * 16, "Z" * 7, "w" * 9]
    got = text_hashes(pa.array(values, type=kind))
    assert got.dtype == np.uint64
    assert (got == pandas_hashes(values)).all()


@pytest.mark.parametrize("few", [0, 10**6])
def test_a_few_values_hash_alike_by_pandas_and_by_numpy(few, monkeypatch):
    """A small city's ids go to pandas' own hash (its fixed cost is lower); the numpy
    rounds give the same values on the same few texts, plain, sliced and chunked."""
    monkeypatch.setattr(texthash, "FEW", few)
    values = ["", "Z01", "x" * 8, "y" * 16, "w" * 9, "é東😀", "a\x00b", "R0000001"]
    array = pa.array(["skip", *values])[1:]
    chunked = pa.chunked_array([pa.array(values[:3]), pa.array(values[3:])])
    for column in (pa.array(values), array, chunked, pa.array(values, pa.large_string())):
        got = text_hashes(column)
        assert got.dtype == np.uint64 and (got == pandas_hashes(values)).all()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_slice_and_many_chunks_hash_like_the_values(threads, monkeypatch):
    """A sliced Arrow array (offset into shared buffers) of several chunks hashes right,
    hashed on one thread or several."""
    monkeypatch.setattr(texthash, "THREADS", threads)
    values = [f"C{i:07d}" + ("é" * (i % 3)) for i in range(CHUNK * 3 + 5)]
    array = pa.array(values).slice(3, 2 * CHUNK + 100)
    assert (text_hashes(array) == pandas_hashes(values[3 : 3 + 2 * CHUNK + 100])).all()


def test_empty_array():
    """No values, no hashes."""
    assert text_hashes(pa.array([], type=pa.string())).size == 0


@pytest.mark.parametrize("threads", [1, 2])
def test_blocks_of_a_read_file_hash_like_the_values(threads, monkeypatch):
    """A column read in blocks (empty, tiny, a few thousand rows, longer than a chunk,
    sliced) hashes like its values: small blocks are hashed together, long ones in parts."""
    monkeypatch.setattr(texthash, "THREADS", threads)
    sizes = [0, 1, 7, 5000, 0, CHUNK + 3, 3000, CHUNK // 2, CHUNK // 2, 2, 0]
    values, blocks, at = [f"R{i:06d}" + "é" * (i % 4) for i in range(sum(sizes))], [], 0
    for size in sizes:
        # each block a slice into larger buffers, as Arrow's reader may hand them
        blocks.append(pa.array(["pad"] * 9 + values[at : at + size] + ["end"]).slice(9, size))
        at += size
    column = pa.chunked_array(blocks, type=pa.string())
    assert (text_hashes(column) == pandas_hashes(values[:at])).all()


def test_a_column_read_in_small_blocks_is_hashed_without_copying_it_whole():
    """Hashing the many small chunks a file is read in joins them a piece at a time: the
    memory Arrow holds grows by a few pieces, not by a copy of the column (10 million
    courier ids: +0.3 GB before)."""
    import subprocess
    import sys

    code = (
        "import pyarrow as pa\n"
        "from rebalance.texthash import text_hashes, CHUNK\n"
        "pool = pa.default_memory_pool()\n"
        "chunks = [pa.array([f'C{b:04d}{i:06d}-' * 3 for i in range(5000)]) for b in range(200)]\n"
        "column = pa.chunked_array(chunks)\n"
        "held = pool.max_memory()\n"
        "assert len(text_hashes(column)) == 1_000_000\n"
        "print(column.nbytes, pool.max_memory() - held)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    column_bytes, grown = map(int, out.stdout.split())
    assert column_bytes > 30_000_000
    assert grown < column_bytes / 4, (grown, column_bytes)


@pytest.mark.parametrize("kind", ["string", "large_string"])
def test_value_bytes_of_slices_and_empty_arrays(kind):
    """`value_bytes`: each value's bytes at its offsets from 0, for a slice of an array
    (offsets not starting at 0), and for an array of empty values (no data buffer)."""
    array = pa.array(["zéro", "", None, "deux", "trois"], getattr(pa, kind)())[1:]
    data, offsets = value_bytes(array)
    assert offsets.dtype == np.int64 and offsets[0] == 0 and len(offsets) == len(array) + 1
    texts = [bytes(data[a:b]).decode() for a, b in itertools.pairwise(offsets)]
    assert texts == ["", "", "deux", "trois"]
    data, offsets = value_bytes(pa.array(["", ""], getattr(pa, kind)()))
    assert data.size == 0 and offsets.tolist() == [0, 0, 0]
