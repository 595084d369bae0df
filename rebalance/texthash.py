"""pandas' hash of text (`pandas.util.hash_array` of Python strings), computed straight
from an Arrow string array's buffers with numpy.

The same 64-bit values as pandas (SipHash-2-4 of each value's UTF-8 bytes under pandas'
default key, then pandas' bit mixing), so fingerprints defined with pandas' hash keep
their values, without making a Python string per row: ~4x faster on millions of ids
and no memory in proportion to them beyond the result.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .cores import threads

__all__ = ["text_hashes", "value_bytes", "value_offsets"]

_KEY = b"0123456789123456"  # pandas.core.util.hashing._default_hash_key
_K0 = np.uint64(int.from_bytes(_KEY[:8], "little"))
_K1 = np.uint64(int.from_bytes(_KEY[8:], "little"))

#: Rows hashed at a time: the state of a chunk stays in the CPU's cache (16,384 rows
#: measured 1.5x faster than 262,144 on one thread; 65,536 as fast, and less switching
#: between threads).
CHUNK = 1 << 16
#: Threads hashing pieces side by side: numpy lets go of the GIL in its loops, so two
#: threads hash 10 million ids in 0.95 s instead of 2.0 s (median of 5, this project's
#: 2-core machine). Capped at 4: the Python between numpy calls holds the GIL, so more
#: threads would mostly wait (not measured: no machine here has more than 2 cores).
THREADS = threads(4)
#: Rows up to which `text_hashes` leaves the work to pandas' own hash: the numpy rounds
#: cost ~0.6 ms whatever the length, and a small city's ids hash in 0.05-0.3 ms as
#: Python strings (the two are as fast at ~5,000 rows).
FEW = 2048


def text_hashes(column: Any) -> np.ndarray:
    """``pandas.util.hash_array(values, categorize=False)`` of a pyarrow string (or
    large_string) array without nulls, or of a chunked one, as uint64.

    Up to `FEW` rows by pandas itself; more in pieces of about `CHUNK` rows on
    `THREADS` threads: the small blocks a file is read in are hashed together (pieces
    of 12,000 rows spend their time in Python between numpy calls, holding the GIL:
    no faster on two threads)."""
    if len(column) <= FEW:
        import pandas as pd

        text = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
        return pd.util.hash_array(text, categorize=False)
    arrays = column.chunks if hasattr(column, "chunks") else [column]
    pieces = _pieces(arrays)
    ends = np.cumsum([sum(len(part) for part in piece) for piece in pieces], dtype=np.int64)
    out = np.empty(int(ends[-1]) if pieces else 0, dtype=np.uint64)

    def hash_piece(i: int) -> None:
        piece = _joined(pieces[i])
        out[ends[i] - len(piece) : ends[i]] = _hash_piece(piece)

    if THREADS > 1 and len(pieces) > 1:
        with ThreadPoolExecutor(THREADS, thread_name_prefix="texthash") as pool:
            for _ in pool.map(hash_piece, range(len(pieces))):  # raises what a piece raised
                pass
    else:
        for i in range(len(pieces)):
            hash_piece(i)
    # pandas' redistribution of the 64-bit values (pandas.core.util.hashing._hash_ndarray)
    out ^= out >> np.uint64(30)
    out *= np.uint64(0xBF58476D1CE4E5B9)
    out ^= out >> np.uint64(27)
    out *= np.uint64(0x94D049BB133111EB)
    out ^= out >> np.uint64(31)
    return out


def _pieces(arrays: list[Any]) -> list[list[Any]]:
    """The values of ``arrays`` in order, as pieces of about `CHUNK` rows (fewer only at
    the end): each a list of zero-copy slices, of a long array or of small consecutive
    ones, joined by `_joined` only when hashed. Joined up front, the pieces were a copy
    of the whole column held at once (+0.3 GB at 10 million courier ids)."""
    pieces: list[list[Any]] = []
    pending: list[Any] = []
    rows = 0
    for array in arrays:
        for a in range(0, len(array), CHUNK):
            part = array.slice(a, CHUNK)
            pending.append(part)
            rows += len(part)
            if rows >= CHUNK:
                pieces.append(pending)
                pending, rows = [], 0
    if pending:
        pieces.append(pending)
    return pieces


def _joined(parts: list[Any]) -> Any:
    """One Arrow array of a piece's slices (no copy for a piece of one slice)."""
    import pyarrow as pa

    return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)


def _hash_piece(array: Any) -> np.ndarray:
    """SipHash of each value of an Arrow string array (before pandas' mixing)."""
    data, offsets = value_bytes(array)
    # the bytes as aligned words, one spare word so that reading 8 bytes never overruns
    words = np.zeros(data.size // 8 + 2, dtype="<u8")
    words.view(np.uint8)[: data.size] = data
    return _siphash(words, offsets[:-1], np.diff(offsets))


def value_offsets(column: Any) -> np.ndarray:
    """The value offsets of an Arrow string (or large_string) array, no copy: value i is
    bytes ``offsets[i]:offsets[i + 1]`` of its data buffer."""
    width = np.int64 if column.type.equals("large_string") else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    return offsets[column.offset : column.offset + len(column) + 1]


def value_bytes(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """The values' bytes of an Arrow string (or large_string) array, no copy (uint8),
    and their offsets from 0 (int64): value i is bytes ``offsets[i]:offsets[i + 1]``."""
    offsets = value_offsets(column).astype(np.int64)
    data = column.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    offsets -= start
    if data is None:
        return np.zeros(0, dtype=np.uint8), offsets
    return np.frombuffer(data, dtype=np.uint8)[start:end], offsets


def _words_at(words: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The little-endian 64-bit word starting at each byte position ``pos``."""
    index = pos >> 3
    shift = (pos & 7).astype(np.uint64) << np.uint64(3)
    out: np.ndarray = words[index] >> shift
    # the rest from the next word; numpy defines a shift by 64 as 0 (an aligned word)
    out |= words[index + 1] << (np.uint64(64) - shift)
    return out


def _rotl(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    np.right_shift(x, np.uint64(64 - r), out=tmp)
    np.left_shift(x, np.uint64(r), out=x)
    x |= tmp


def _round(v0: np.ndarray, v1: np.ndarray, v2: np.ndarray, v3: np.ndarray, t: np.ndarray) -> None:
    """One SipRound, in place."""
    v0 += v1
    _rotl(v1, 13, t)
    v1 ^= v0
    _rotl(v0, 32, t)
    v2 += v3
    _rotl(v3, 16, t)
    v3 ^= v2
    v0 += v3
    _rotl(v3, 21, t)
    v3 ^= v0
    v2 += v1
    _rotl(v1, 17, t)
    v1 ^= v2
    _rotl(v2, 32, t)


def _siphash(words: np.ndarray, begin: np.ndarray, length: np.ndarray) -> np.ndarray:
    """SipHash-2-4 (pandas' ``low_level_siphash``) of the values at ``begin``/``length``."""
    n = len(begin)
    blocks = length >> 3
    order = None
    if n and blocks.min() != blocks.max():
        # longest first, so the rows still taking 8-byte blocks are always a prefix
        order = np.argsort(-blocks, kind="stable")
        begin, length, blocks = begin[order], length[order], blocks[order]
    v0 = np.full(n, np.uint64(0x736F6D6570736575) ^ _K0)
    v1 = np.full(n, np.uint64(0x646F72616E646F6D) ^ _K1)
    v2 = np.full(n, np.uint64(0x6C7967656E657261) ^ _K0)
    v3 = np.full(n, np.uint64(0x7465646279746573) ^ _K1)
    t = np.empty(n, dtype=np.uint64)
    descending = -blocks
    for j in range(int(blocks.max()) if n else 0):
        k = int(np.searchsorted(descending, -j, side="left"))  # rows with more than j blocks
        m = _words_at(words, begin[:k] + 8 * j)
        a, b, c, d, tk = v0[:k], v1[:k], v2[:k], v3[:k], t[:k]
        d ^= m
        _round(a, b, c, d, tk)
        _round(a, b, c, d, tk)
        a ^= m
    # the last 0-7 bytes, with the length in the top byte
    last = _words_at(words, begin + (blocks << 3))
    last &= (np.uint64(1) << ((length & 7).astype(np.uint64) << np.uint64(3))) - np.uint64(1)
    last |= length.astype(np.uint64) << np.uint64(56)
    v3 ^= last
    _round(v0, v1, v2, v3, t)
    _round(v0, v1, v2, v3, t)
    v0 ^= last
    v2 ^= np.uint64(0xFF)
    for _ in range(4):
        _round(v0, v1, v2, v3, t)
    v0 ^= v1
    v0 ^= v2
    v0 ^= v3
    if order is None:
        return v0
    out = np.empty_like(v0)
    out[order] = v0
    return out
