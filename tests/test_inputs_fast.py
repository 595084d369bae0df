"""The fast paths of loading (Arrow's UTF-8 check, the byte-level padding check, the
hash-based duplicate check) give the same tables and the same messages as the slow ones."""

from __future__ import annotations

import numpy as np
import pytest
from util import REPO, city_with

from rebalance import DataError, inputs, load

#: Byte sequences Python's decoder refuses, some of which a lax validator lets through.
BAD_UTF8 = {
    "latin-1": b"\xe9",
    "surrogate": b"\xed\xa0\x80",
    "overlong slash": b"\xc0\xaf",
    "overlong 3 bytes": b"\xe0\x80\xaf",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "lone continuation": b"\x80",
    "truncated": b"\xe6\x9d",
    "0xff": b"\xff",
}


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("name", sorted(BAD_UTF8))
def test_a_bad_utf8_sequence_is_found_on_its_line(tmp_path, name, bom):
    """Each kind of invalid UTF-8, with or without a BOM, is reported with its line and
    the byte Python's own decoder stops at."""
    city = city_with(tmp_path)
    lines = (city / "restaurants.csv").read_bytes().split(b"\n")
    lines[5] = lines[5].replace(b"R05", b"R05" + BAD_UTF8[name])  # line 6
    (city / "restaurants.csv").write_bytes(bom + b"\n".join(lines))
    with pytest.raises(DataError) as info:
        load(city)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("restaurants.csv", 6)
    assert f"byte 0x{BAD_UTF8[name][0]:02x} cannot be decoded" in problem.message


def test_a_bad_byte_in_the_last_line_without_its_line_break(tmp_path):
    """A bad byte on a last line that has no line break is still found, on that line."""
    city = city_with(tmp_path)
    text = (city / "zones.csv").read_bytes().rstrip(b"\n")
    (city / "zones.csv").write_bytes(text + b"\xe9")
    with pytest.raises(DataError) as info:
        load(city)
    assert [(p.file, p.line) for p in info.value.problems] == [("zones.csv", 6)]


@pytest.mark.parametrize("pad", ["\u3000", "\u2028", "\x85", "\u1680", "\x1f", "\u202f"])
def test_ids_padded_with_unusual_blanks_load_as_the_clean_file(tmp_path, pad):
    """An id or a zone padded on either side with any blank Arrow trims loads as if clean."""
    clean = load(city_with(tmp_path / "clean"))
    city = city_with(tmp_path / "padded")
    text = (city / "couriers.csv").read_text(encoding="utf-8").split("\n")
    text[1] = text[1].replace("C001,0005,", f"{pad}C001,0005{pad},")
    text[2] = text[2].replace("C002,", f"C002{pad},")
    (city / "couriers.csv").write_text("\n".join(text), encoding="utf-8")
    got = load(city)
    assert got.couriers["courier_id"].tolist() == clean.couriers["courier_id"].tolist()
    assert got.sha256 == clean.sha256


def test_accents_and_inner_blanks_are_kept(tmp_path):
    """Only blanks around a value go: a name ending in an accent or with inner blanks stays."""
    city = city_with(tmp_path)
    path = city / "restaurants.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Chez Paul", "Café\u00a0Paul é"), encoding="utf-8"
    )
    assert load(city).restaurants["name"].iloc[0] == "Café\u00a0Paul é"


def test_ids_with_equal_hashes_but_no_duplicate_load(tmp_path, monkeypatch):
    """When the hash check cannot tell (two ids, one hash), pandas decides: distinct
    ids still load, with the same fingerprint."""
    from rebalance import inputs

    clean = load(city_with(tmp_path / "a"))
    monkeypatch.setattr(inputs, "_distinct", lambda hashes: False)
    again = load(city_with(tmp_path / "b"))
    assert again.sha256 == clean.sha256
    assert again.couriers["courier_id"].tolist() == clean.couriers["courier_id"].tolist()


def test_duplicate_and_empty_ids_are_both_reported(tmp_path):
    """An empty id is not a duplicate of another empty one; a repeated id names its first line."""
    city = city_with(tmp_path)
    path = city / "couriers.csv"
    text = path.read_text().replace("C002,", ",").replace("C004,", ",").replace("C003,", "C001,")
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load(city)
    found = [(p.line, p.message) for p in info.value.problems]
    assert found == [
        (3, "empty courier_id"),
        (5, "empty courier_id"),
        (4, "duplicate courier_id (first at line 2)"),
    ]


def test_the_fingerprint_load_computes_is_the_fingerprint_of_its_tables(tmp_path):
    """load reuses the ids' hashes: its sha256 is what `fingerprint` gives for the tables."""
    from rebalance.inputs import fingerprint

    for city in (city_with(tmp_path), REPO / "data" / "samples" / "lyon"):
        inputs = load(city)
        assert inputs.sha256 == fingerprint(inputs)


def test_the_fingerprint_replace_computes_is_the_fingerprint_of_its_tables():
    """Inputs.replace fingerprints as load does (the checked tables with their ids'
    hashes, the tables kept as they are, each in its turn): its sha256 is what
    `fingerprint` gives for the tables it returns, whichever tables were replaced, and
    the same content replaced gives the same sha256."""
    from rebalance.inputs import fingerprint

    paris = load(REPO / "data" / "samples" / "paris")
    lyon = load(REPO / "data" / "samples" / "lyon")
    assert lyon.travel_times is not None and paris.demand is not None
    rest = paris.restaurants.assign(
        expected_orders_per_hour=paris.restaurants["expected_orders_per_hour"] * 2
    )
    changes = [
        (paris, {"restaurants": rest}),
        (paris, {"couriers": paris.couriers.iloc[::-1].reset_index(drop=True)}),
        (paris, {"zones": paris.zones}),
        (paris, {"demand": None}),
        (lyon, {"travel_times": lyon.travel_times.iloc[: len(lyon.travel_times) // 2]}),
        (lyon, {"travel_times": None, "couriers": lyon.couriers}),
    ]
    for base, tables in changes:
        changed = base.replace(**tables)
        assert changed.sha256 == fingerprint(changed)
    assert paris.replace(zones=paris.zones).sha256 == paris.sha256


def test_category_columns_fingerprint_as_their_text():
    """A category column of text (as load keeps zone_id, status and vehicle) has the row
    hashes of the same values as plain text, a missing value hashed as "" and unused
    categories ignored; categories of numbers too (they go the text way)."""
    import pandas as pd

    from rebalance.inputs import _canonical_rows, _row_pieces

    def rows(values):
        made = _canonical_rows(values)
        if isinstance(made, np.ndarray):
            return made
        return np.concatenate([np.zeros(0, np.uint64), *(p.copy() for p in _row_pieces(*made))])

    cases = [
        pd.Categorical(
            ["75108", "75101", None, "75108", "Lyon 3\u00e8me"],
            ["z", "75101", "75108", "Lyon 3\u00e8me"],
        ),
        pd.Categorical(["", "open", None], categories=["", "open", "closed"]),
        pd.Categorical(["car", "bike"], categories=pd.Index(["bike", "car"], dtype="string")),
        pd.Categorical([], categories=["x"]),
        pd.Categorical([1, 2, None], categories=[2, 1]),
    ]
    for values in cases:
        column = pd.Series(values)
        np.testing.assert_array_equal(rows(column), rows(column.astype("string").fillna("")))


def test_a_file_read_in_many_chunks_is_checked_across_them(tmp_path):
    """Arrow reads a large file in chunks: padding in the last chunk is trimmed, and a
    duplicate of the first row found in the last one names the first line."""
    city = city_with(tmp_path)
    path = city / "couriers.csv"
    head, first, *_ = path.read_text().splitlines()
    rows = [first.replace("C001", f"X{i:06d}") for i in range(40_000)]  # ~2.5 MB: chunks
    rows[-2] = rows[-2].replace("X039998", "\u3000X039998 ")
    rows[-1] = rows[-1].replace("X039999", "X000000")
    path.write_text("\n".join([head, *rows]) + "\n")
    with pytest.raises(DataError) as info:
        load(city)
    assert [(p.line, p.message) for p in info.value.problems] == [
        (40_001, "duplicate courier_id (first at line 2)")
    ]
    rows[-1] = rows[-1].replace("X000000", "X039999")
    path.write_text("\n".join([head, *rows]) + "\n")
    couriers = load(city).couriers
    assert couriers["courier_id"].iloc[-2] == "X039998"
    assert couriers["courier_id"].is_unique


def test_chunked_and_whole_arrays_hash_alike():
    """The hash of a column does not depend on the chunks Arrow read it in."""
    import pyarrow as pa

    from rebalance.texthash import text_hashes

    values = ["a", "", "bé", "R0000001", "x" * 30]
    chunked = pa.chunked_array([values[:2], [], values[2:]], type=pa.string())
    assert (text_hashes(chunked) == text_hashes(pa.array(values))).all()
    assert text_hashes(pa.chunked_array([], type=pa.string())).size == 0


def test_a_plain_file_is_read_without_holding_its_bytes(tmp_path, monkeypatch):
    """The usual export is hashed in blocks and read by Arrow from disk, never held
    whole; a file with CRLF line endings is read the careful way, to the same table."""
    from rebalance import inputs

    city = city_with(tmp_path)
    clean = load(city)

    def no_bytes(path, issues):
        raise AssertionError(f"{path.name} read into memory")

    monkeypatch.setattr(inputs, "_read_bytes", no_bytes)
    again = load(city)
    assert (again.sha256, again.files) == (clean.sha256, clean.files)
    monkeypatch.undo()
    path = city / "couriers.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    crlf = load(city)
    assert crlf.sha256 == clean.sha256 and crlf.files != clean.files


def test_numbers_hash_in_chunks_as_pandas_hashes_them_at_once(monkeypatch):
    """The fingerprint's hash of numbers and timestamps, a chunk at a time, is pandas'
    hash of the whole column (NaN, -0.0 and NaT included)."""
    import numpy as np
    import pandas as pd

    from rebalance import inputs

    def canonical(column: pd.Series) -> np.ndarray:
        """The column's row hashes as the digest is fed them, piece after piece."""
        rows = inputs._canonical_rows(column)
        assert not isinstance(rows, np.ndarray)  # numbers are made in pieces
        return np.concatenate([part.copy() for part in inputs._row_pieces(*rows)])

    floats = np.array([0.0, -0.0, np.nan, 1.5, -np.inf, 1e300] * 7)
    stamps = pd.to_datetime(["2026-11-30T19:00Z", None] * 20, utc=True).as_unit("ns")
    for values, column in ((floats, pd.Series(floats)), (stamps.asi8, pd.Series(stamps))):
        expected = pd.util.hash_pandas_object(pd.Series(values), index=False).to_numpy()
        for rows in (5, 1 << 20):
            monkeypatch.setattr(inputs, "_DIGEST_ROWS", rows)
            assert (canonical(column) == expected).all()
    # a timestamp's unit does not change its hash: nanoseconds, always
    micro = pd.Series(stamps.as_unit("us"))
    assert (canonical(micro) == canonical(pd.Series(stamps))).all()


def test_fingerprint_fed_in_pieces_is_the_fingerprint(tmp_path, monkeypatch):
    """The digest takes row hashes a piece at a time (one reused buffer); pieces of 3
    rows give the same `inputs_sha256` as one piece, at load and from `fingerprint`."""
    from rebalance.inputs import fingerprint

    city = city_with(tmp_path)
    whole = load(city)
    monkeypatch.setattr(inputs, "_DIGEST_ROWS", 3)
    pieces = load(city)
    assert pieces.sha256 == whole.sha256 == fingerprint(whole) == fingerprint(pieces)


def test_parquet_text_loads_as_the_csv_text(tmp_path):
    """A Parquet couriers table (padded and dictionary-encoded text) gives the same
    frame, dtypes included, as the CSV it was made from."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    city = city_with(tmp_path)
    clean = load(city)
    text = pacsv.ConvertOptions(column_types={"courier_id": pa.string(), "zone_id": pa.string()})
    table = pacsv.read_csv(city / "couriers.csv", convert_options=text)
    padded = pa.array([f" {v}\u00a0" for v in table.column("courier_id").to_pylist()])
    table = table.set_column(0, "courier_id", padded)
    table = table.set_column(1, "zone_id", table.column("zone_id").dictionary_encode())
    (city / "couriers.csv").unlink()
    pq.write_table(table, city / "couriers.parquet")
    got = load(city)
    pd.testing.assert_frame_equal(got.couriers, clean.couriers)
    assert got.sha256 == clean.sha256


@pytest.mark.parametrize("block", [128, 160, 200, 256, 1 << 20])
def test_a_quoted_line_break_is_one_value_across_arrows_blocks(tmp_path, monkeypatch, block):
    """A quoted name holding a line break stays one value of one row wherever Arrow's
    blocks end, even when the two pieces of its line would each pass for a row of five
    fields (files with a quote are read quote-aware; only files without any are cut at
    any line break)."""
    monkeypatch.setattr(inputs, "_READ_BLOCK", block)
    city = city_with(tmp_path)
    path = city / "restaurants.csv"
    text = path.read_text(encoding="utf-8")
    name = "Chez Paul,0001,open,4.0\nR99,x"
    path.write_text(text.replace("Chez Paul", f'"{name}"'), encoding="utf-8")
    got = load(city).restaurants
    assert got["name"].iloc[0] == name
    assert "R99" not in got["restaurant_id"].tolist()
    assert len(got) == len(load(city_with(tmp_path / "clean")).restaurants)


@pytest.mark.parametrize("split", [1 << 40, 4])
def test_distinct_hashes_on_one_thread_and_on_two(monkeypatch, split):
    """The duplicate check finds an equal pair wherever it is: low hashes, high hashes
    (each half sorted on its own thread) or none; both ways agree."""
    from rebalance import inputs

    monkeypatch.setattr(inputs, "_DISTINCT_SPLIT", split)
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 2**63, 5_000, dtype=np.int64).view(np.uint64) * np.uint64(2)
    hashes = np.unique(hashes)
    rng.shuffle(hashes)
    assert inputs._distinct(hashes)
    low = np.flatnonzero(hashes < np.uint64(1 << 63))
    high = np.flatnonzero(hashes >= np.uint64(1 << 63))
    assert len(low) > 100 and len(high) > 100
    for where in (low, high):
        twice = hashes.copy()
        twice[where[-1]] = twice[where[0]]
        assert not inputs._distinct(twice)
    # equal low 63 bits, different top bit: not a duplicate
    near = hashes.copy()
    near[high[0]] = near[low[0]] | np.uint64(1 << 63)
    assert inputs._distinct(near) == (len(np.unique(near)) == len(near))
    assert not inputs._distinct(np.array([5, 5], dtype=np.uint64))
    assert inputs._distinct(np.array([], dtype=np.uint64))


def test_zone_ids_of_restaurants_and_couriers_are_categories_of_every_zone(tmp_path):
    """The repeated zone ids load as a category of every zone id, sorted: the same
    values as text, the same fingerprint, a sort by the ids, and any zone of the city
    can be written into a row (a what-if)."""
    import pandas as pd

    from rebalance.inputs import fingerprint

    city = city_with(tmp_path)
    got = load(city)
    zones = sorted(got.zones["zone_id"].astype(str))
    for name in ("restaurants", "couriers"):
        frame = getattr(got, name)
        column = frame["zone_id"]
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert list(column.cat.categories) == zones
        text = pd.read_csv(city / f"{name}.csv", dtype=str)["zone_id"].str.strip()
        assert column.astype(str).tolist() == text.tolist()
        assert frame.sort_values("zone_id", kind="stable")["zone_id"].astype(str).tolist() == (
            sorted(text.tolist())
        )
    as_text = {n: getattr(got, n).copy() for n in ("zones", "restaurants", "couriers")}
    for name in ("restaurants", "couriers"):
        as_text[name]["zone_id"] = as_text[name]["zone_id"].astype(str)
    assert got.sha256 == fingerprint(got) == fingerprint(type(got)(**{**vars(got), **as_text}))
    moved = got.couriers.copy()
    moved.loc[0, "zone_id"] = zones[-1]
    assert moved["zone_id"].iloc[0] == zones[-1]


def test_a_carriage_return_inside_a_quoted_value_is_kept_as_written(tmp_path):
    """A CRLF export whose quoted zone names hold a CR (and a CR LF): every CR was made a
    line feed, so "Nord\\rEst" was read as "Nord\\nEst" and an id with a CR became
    another id. Line endings are still LF outside quotes; a quoted value keeps its
    bytes. With no CR inside quotes the file loads as its LF copy."""
    city = city_with(tmp_path)
    clean = load(city)
    path = city / "zones.csv"
    header, *rows = path.read_bytes().rstrip(b"\n").split(b"\n")
    names = [b"Nord\rEst", b'Gare ""du\r\nNord""', b"plain"]
    edited = []
    for i, row in enumerate(rows):
        zone, name, rest = row.split(b",", 2)
        name = b'"' + names[i] + b'"' if i < len(names) else name
        edited.append(b",".join([zone, name, rest]))
    path.write_bytes(b"\r\n".join([header, *edited]) + b"\r\n")
    got = load(city).zones["name"].astype(str).tolist()
    assert got[:3] == ["Nord\rEst", 'Gare "du\r\nNord"', "plain"]
    assert got[3:] == clean.zones["name"].astype(str).tolist()[3:]
    path.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    assert load(city).sha256 == clean.sha256


@pytest.mark.parametrize("last", [b"\n", b"\r\n"])
def test_cr_line_endings_with_a_line_feed_further_on_load_as_the_lf_file(tmp_path, last):
    """An old Mac export (CR alone ends each line) that a tool then ended with a line
    feed, or a header with a stray CR: the file's first LF is then far past the header.
    It loads the same tables as the LF file; a header cut in two is one problem on its
    line, not one per data row. Never a crash (a fuzzed run ended in a traceback from
    Python's csv module, exit 1)."""
    city = city_with(tmp_path)
    clean = load(city)
    path = city / "couriers.csv"
    lf = path.read_bytes()
    path.write_bytes(lf.rstrip(b"\n").replace(b"\n", b"\r") + last)
    assert load(city).sha256 == clean.sha256
    header, rest = lf.split(b"\n", 1)
    cut = header.index(b",") + 1
    path.write_bytes(header[:cut] + b"\r" + header[cut:] + b"\n" + rest)
    with pytest.raises(DataError) as info:
        load(city)
    (problem,) = info.value.problems  # one problem, not one per data row
    assert (problem.file, problem.line) == ("couriers.csv", 1)
    assert "a line break inside the header splits it over lines 1 and 2" in problem.message


def _hold_for_a_while(source: object, released: list[float]) -> None:
    """Keep ``source`` alive 0.2 s on a thread of its own, as Arrow's reader outliving the
    call that read with it does; then note when it let go."""
    import threading
    import time

    holder = [source]

    def drop_later() -> None:
        time.sleep(0.2)
        holder.clear()
        released.append(time.monotonic())

    threading.Thread(target=drop_later, daemon=True).start()


def test_no_python_object_is_left_with_arrows_reader(tmp_path, monkeypatch):
    """Arrow's CSV reader can outlive ``read_csv`` on an Arrow thread; if it then drops a
    Python object as the process exits, the process aborts ("terminate called without
    an active exception", exit -6 instead of 3: seen in 8 of 150 `validate` runs of a
    city with a bad demand.csv on a loaded 2-core machine). So Arrow gets no Python
    callback, and a file read the careful way (here: with a BOM) returns only once
    Arrow has let go of its bytes: simulated by a reader kept alive 0.2 s on a thread."""
    import time

    import pyarrow as pa
    import pyarrow.csv as pacsv

    given = []
    real_read_csv = pacsv.read_csv

    def read_csv(source, **options):
        given.append(options["parse_options"].invalid_row_handler)
        return real_read_csv(source, **options)

    monkeypatch.setattr(pacsv, "read_csv", read_csv)
    city = city_with(tmp_path)
    clean = load(city)
    assert given and given == [None] * len(given)

    real = inputs._arrow_csv
    released = []

    def arrow_csv(source, names, **options):
        table = real(source, names, **options)
        if not isinstance(source, pa.BufferReader):  # a file Arrow reads itself
            return table
        _hold_for_a_while(source, released)
        return table

    monkeypatch.setattr(inputs, "_arrow_csv", arrow_csv)
    path = city / "couriers.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    again = load(city)
    done = time.monotonic()
    assert again.sha256 == clean.sha256
    assert len(released) == 1 and released[0] <= done  # let go of before load returned


def test_a_parquet_table_is_read_by_arrow_and_let_go_of_before_load_returns(tmp_path, monkeypatch):
    """A Parquet table's bytes go to Arrow as an Arrow buffer, not a Python file object
    (whose reads Arrow's threads call back into Python for), and `load` returns only
    once Arrow has let go of them (an abort at exit was seen reading Parquet too):
    simulated by a reader kept alive 0.2 s on a thread."""
    import time

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    city = city_with(tmp_path)
    clean = load(city)
    couriers = pd.read_csv(city / "couriers.csv", dtype=str, keep_default_na=False)
    couriers.to_parquet(city / "couriers.parquet", index=False)
    (city / "couriers.csv").unlink()
    real = pq.read_table
    sources, released = [], []

    def read_table(source, **options):
        sources.append(type(source))  # (the source itself kept here would never be let go)
        table = real(source, **options)
        _hold_for_a_while(source, released)
        return table

    monkeypatch.setattr(pq, "read_table", read_table)
    again = load(city)
    done = time.monotonic()
    assert again.sha256 == clean.sha256
    assert sources == [pa.BufferReader]
    assert len(released) == 1 and released[0] <= done


@pytest.mark.parametrize("table", ["csv", "parquet"])
def test_a_file_arrow_refuses_is_not_waited_on(tmp_path, monkeypatch, table):
    """When Arrow refuses a file it reads from our bytes (a row with a field too many, a
    damaged Parquet file), its error is handled before the wait for Arrow to let go of
    the bytes: the error's traceback held them, and every such file waited the whole
    limit (5 s, twice per test of a refused row, until a run's durations showed it)."""
    import time

    monkeypatch.setattr(inputs, "_LET_GO_SECONDS", 30.0)
    city = city_with(tmp_path)
    path = city / "restaurants.csv"
    if table == "csv":  # a BOM: read the careful way, from the bytes
        lines = path.read_bytes().split(b"\n")
        lines[3] += b",extra"
        path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))
    else:
        path.unlink()
        (city / "restaurants.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    started = time.monotonic()
    with pytest.raises(DataError) as info:
        load(city)
    assert time.monotonic() - started < 10
    assert info.value.problems[0].file in ("restaurants.csv", "restaurants.parquet")
