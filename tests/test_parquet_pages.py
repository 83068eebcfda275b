"""Numeric Parquet pages decoded by our kernels equal pyarrow's reading."""

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from sklearn_ooc import open_table  # noqa: E402
from sklearn_ooc._kernels import _parquet as kernels  # noqa: E402
from sklearn_ooc.linear_model import StreamingRidge  # noqa: E402

from ._naive import hybrid_runs  # noqa: E402

# -- kernels ----------------------------------------------------------------


@pytest.mark.parametrize("bit_width", [0, 1, 3, 8, 13, 17, 32])
def test_dictionary_values_decode_every_run(rng, bit_width):
    n = 203
    size = 1 << min(bit_width, 10)
    values = rng.integers(0, size, size=n)
    values[5] = size - 1  # the last entry of the dictionary is used
    # Repeated runs on multiples of 8 (only the last bit-packed run is padded).
    rle = [(16, 40), (64, 72), (200, 203)]
    for start, stop in rle:
        values[start:stop] = values[start]
    data = np.frombuffer(hybrid_runs(values, bit_width, rle), dtype=np.uint8)
    dictionary = rng.normal(size=size)
    for prefix in (0, 5):
        page = np.concatenate([np.full(prefix, 255, np.uint8), data])
        out = np.full(n + 4, np.nan)
        status = kernels.dictionary_values(
            out, 2, page, prefix, page.shape[0], bit_width, dictionary, n
        )
        assert status == kernels.OK
        np.testing.assert_array_equal(out[2 : n + 2], dictionary[values])
        assert np.isnan(out[:2]).all() and np.isnan(out[n + 2 :]).all()
    # Cut short anywhere, the runs are reported, never read past their end.
    for end in (1, data.shape[0] // 2, data.shape[0] - 1):
        status = kernels.dictionary_values(
            np.empty(n), 0, data, 0, end, bit_width, dictionary, n
        )
        assert status == kernels.TRUNCATED
    if bit_width:
        status = kernels.dictionary_values(
            np.empty(n), 0, data, 0, data.shape[0], bit_width, dictionary[:-1], n
        )
        assert status == kernels.BAD_INDEX


def test_levels_equal(rng):
    levels = np.ones(100, dtype=np.int64)
    data = np.frombuffer(hybrid_runs(levels, 1, [(0, 48)]), dtype=np.uint8)
    assert kernels.levels_equal(data, 0, data.shape[0], 1, 1, 100) == kernels.OK
    levels[77] = 0
    data = np.frombuffer(hybrid_runs(levels, 1, [(0, 48)]), dtype=np.uint8)
    assert kernels.levels_equal(data, 0, data.shape[0], 1, 1, 100) == kernels.DIFFERENT
    assert kernels.levels_equal(data, 0, 3, 1, 1, 100) == kernels.TRUNCATED


@pytest.mark.parametrize("kind", ["random", "repeats", "short"])
def test_snappy_blocks_as_arrow_decompresses_them(rng, kind):
    if kind == "random":
        raw = rng.normal(size=5000).tobytes()
    elif kind == "repeats":  # copies that overlap what they write
        raw = (b"ab" * 3000) + rng.integers(0, 4, 7000, dtype=np.uint8).tobytes()
    else:
        raw = b"x"
    block = np.frombuffer(pa.compress(raw, codec="snappy"), dtype=np.uint8)
    target = np.zeros(len(raw) + 3, dtype=np.uint8)
    status = kernels._unsnappy(block, 0, block.shape[0], target, 3, len(raw))
    assert status == kernels.OK
    assert target[3:].tobytes() == raw
    status = kernels._unsnappy(block, 0, block.shape[0] - 1, target, 3, len(raw))
    assert status == kernels.TRUNCATED
    assert kernels._unsnappy(block, 0, block.shape[0], target, 3, len(raw) + 1) != 0


# -- whole files --------------------------------------------------------------

TYPES = {
    "float64": pa.float64(),
    "float32": pa.float32(),
    "int64": pa.int64(),
    "int32": pa.int32(),
}


def _table(rng, n, dtype, distinct=True):
    typ = TYPES[dtype]
    if distinct:
        values = rng.normal(size=(n, 3)) * 1e3
    else:  # few values: dictionary pages with long runs
        values = rng.integers(0, 5, size=(n, 3)).astype(float)
    columns = [pa.array(values[:, j].astype(typ.to_pandas_dtype())) for j in range(3)]
    return pa.Table.from_arrays(columns, names=["a", "b", "c"])


def _backend(path):
    return open_table(path)._base.backend


def _assert_decoded_as_pyarrow(path, decoded=True):
    """Every row group, read through the table, equals pyarrow's reading."""
    backend = _backend(path)
    pf = pq.ParquetFile(path)
    columns = ["a", "c"]
    for g in range(pf.metadata.num_row_groups):
        ours = backend._load(g, columns)
        theirs = pf.read_row_group(g, columns=columns)
        assert ours.equals(theirs, check_metadata=True), g
    assert backend.n_decoded_here == (pf.metadata.num_row_groups if decoded else 0)


@pytest.mark.parametrize("dtype", list(TYPES))
@pytest.mark.parametrize("compression", ["snappy", "none"])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("dictionary", [True, False])
def test_pages_decode_as_pyarrow_reads_them(
    tmp_path, rng, dtype, compression, version, dictionary
):
    path = tmp_path / "t.parquet"
    pq.write_table(
        _table(rng, 3000, dtype),
        path,
        row_group_size=1100,
        compression=compression,
        use_dictionary=dictionary,
        data_page_version=version,
        data_page_size=2000,  # many pages per column chunk
    )
    _assert_decoded_as_pyarrow(path)


@pytest.mark.parametrize("distinct", [True, False])
def test_dictionaries_that_fall_back_to_plain_pages(tmp_path, rng, distinct):
    path = tmp_path / "t.parquet"
    pq.write_table(
        _table(rng, 5000, "float64", distinct=distinct),
        path,
        row_group_size=2500,
        dictionary_pagesize_limit=4000,  # plain pages after 500 values
        data_page_size=3000,
    )
    _assert_decoded_as_pyarrow(path)


def test_required_columns(tmp_path, rng):
    table = _table(rng, 500, "float64")
    schema = pa.schema([pa.field(name, pa.float64(), nullable=False) for name in "abc"])
    path = tmp_path / "t.parquet"
    pq.write_table(table.cast(schema), path, row_group_size=200)
    assert pq.ParquetFile(path).schema.column(0).max_definition_level == 0
    _assert_decoded_as_pyarrow(path)


@pytest.mark.parametrize("case", ["nulls", "zstd", "byte_stream_split", "date"])
def test_other_columns_are_left_to_pyarrow(tmp_path, rng, case):
    table = _table(rng, 600, "float64")
    options = {}
    if case == "nulls":
        values = table.column("c").to_numpy().copy()
        mask = np.zeros(600, dtype=bool)
        mask[450] = True
        table = table.set_column(2, "c", pa.array(values, mask=mask))
    elif case == "zstd":
        options["compression"] = "zstd"
    elif case == "byte_stream_split":
        options.update(use_dictionary=False, use_byte_stream_split=True)
    else:
        table = table.set_column(
            2, "c", pa.array(np.arange(600), pa.int32()).cast(pa.date32())
        )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=300, **options)
    backend = _backend(path)
    pf = pq.ParquetFile(path)
    for g in range(2):
        ours = backend._load(g, ["a", "c"])
        assert ours.equals(pf.read_row_group(g, columns=["a", "c"]))
    # The row group without the null is ours; the other is pyarrow's.
    assert backend.n_decoded_here == (1 if case == "nulls" else 0)
    assert backend._load(0, ["a", "b"]).equals(pf.read_row_group(0, ["a", "b"]))


@pytest.mark.parametrize("writer", ["duckdb", "polars"])
def test_files_of_other_writers(tmp_path, rng, writer):
    table = _table(rng, 3000, "float64")
    path = tmp_path / "t.parquet"
    if writer == "duckdb":
        duckdb = pytest.importorskip("duckdb")
        con = duckdb.connect()
        con.register("t", table)
        con.execute(
            f"COPY (SELECT * FROM t) TO '{path}' "
            "(FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1024)"
        )
    else:
        pl = pytest.importorskip("polars")
        pl.from_arrow(table).write_parquet(
            path, compression="snappy", row_group_size=1024
        )
    _assert_decoded_as_pyarrow(path)


def test_a_damaged_page_is_reported_by_pyarrow_s_reader(tmp_path, rng):
    path = tmp_path / "t.parquet"
    pq.write_table(_table(rng, 400, "float64"), path, compression="none")
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(0)
    raw = bytearray(path.read_bytes())
    # The compressed size in the first page header: it now runs past the chunk.
    header = chunk.dictionary_page_offset
    raw[header + 5 : header + 8] = b"\xff\xff\x7f"
    path.write_bytes(bytes(raw))
    backend = _backend(path)
    with pytest.raises(ValueError, match=r"row group 0 of file .*t\.parquet"):
        backend._load(0, ["a"])
    assert backend.n_decoded_here == 0


def test_a_fit_from_decoded_pages_equals_the_fit_from_arrays(tmp_path, rng):
    table = _table(rng, 4000, "float64")
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=700)
    T = open_table(path)
    X = table.select(["a", "b"]).to_pandas().to_numpy()
    y = table.column("c").to_numpy()
    ours = StreamingRidge(batch_size=900).fit(T[["a", "b"]], T["c"])
    reference = StreamingRidge(batch_size=900).fit(X, y)
    np.testing.assert_array_equal(ours.coef_, reference.coef_)
    assert T._base.backend.n_decoded_here > 0


def _with_value(rng, dtype, row, value):
    """:func:`_table` of 3000 rows with ``value`` in column ``b`` at ``row``."""
    table = _table(rng, 3000, dtype)
    b = table.column("b").to_numpy().copy()
    b[row] = value
    return table.set_column(1, "b", pa.array(b))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dictionary", [True, False])
@pytest.mark.parametrize("value, what", [(np.nan, "NaN"), (-np.inf, "infinity")])
def test_nan_or_infinity_in_decoded_pages_is_reported(
    tmp_path, rng, dtype, dictionary, value, what
):
    # Decoding finds which pages hold only finite values; a batch of other
    # rows is still checked, and its error names the row.
    path = tmp_path / "t.parquet"
    pq.write_table(
        _with_value(rng, dtype, 2345, value),
        path,
        row_group_size=1000,
        use_dictionary=dictionary,
    )
    T = open_table(path)
    with pytest.raises(ValueError, match=rf"X contains {what} at row 2345 "):
        StreamingRidge(batch_size=500).fit(T[["a", "b"]], T["c"])
    assert T._base.backend.n_decoded_here > 0


def test_decoded_rows_are_known_finite_only_where_they_are(tmp_path, rng):
    table = _with_value(rng, "float64", 1500, np.nan)
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=1000)
    T = open_table(tmp_path / "t.parquet")
    ab, ac = T[["a", "b"]], T[["a", "c"]]
    assert not ab._known_finite(0, 1000)  # not read yet
    ab.rows(0, 3000)
    ac.rows(0, 3000)
    assert ab._known_finite(0, 1000) and ab._known_finite(2000, 3000)
    assert not ab._known_finite(999, 1001) and not ab._known_finite(1000, 2000)
    assert ac._known_finite(0, 3000)
    # A view with a function applied is checked as read; rows picked are not.
    assert not ac.map(np.log)._known_finite(0, 3000)
    assert ac[::2]._known_finite(0, 1500)
    # Rows that pyarrow decodes are checked as read, too.
    pq.write_table(table, tmp_path / "z.parquet", compression="zstd")
    Z = open_table(tmp_path / "z.parquet")[["a", "c"]]
    Z.rows(0, 3000)
    assert not Z._known_finite(0, 3000)


def test_batches_of_known_finite_rows_are_not_checked_again(tmp_path, rng, monkeypatch):
    from sklearn_ooc.data import _source

    path = tmp_path / "t.parquet"
    pq.write_table(_with_value(rng, "float64", 1500, np.nan), path, row_group_size=1000)
    checked = []
    original = _source._BatchMaker.finite

    def finite(self, block, name, index, start, stop):
        checked.append((name, start))
        return original(self, block, name, index, start, stop)

    monkeypatch.setattr(_source._BatchMaker, "finite", finite)
    T = open_table(path)
    StreamingRidge(batch_size=1000).fit(T[["a", "c"]], T["b"].map(np.nan_to_num))
    # The target is a function of the column: checked in every batch.
    assert sorted(checked) == [("y", 0), ("y", 1000), ("y", 2000)]


_FUZZ = r"""
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn_ooc.data._parquet import (
    Unsupported, chunk_plan, leaf_positions, read_chunks
)

rng = np.random.default_rng(int(sys.argv[2]))
path = sys.argv[1]
for trial in range(int(sys.argv[3])):
    n = int(rng.integers(50, 1500))
    typ = [pa.float64(), pa.float32(), pa.int32(), pa.int64()][rng.integers(4)]
    if rng.random() < 0.5:
        values = rng.normal(size=n) * 100
    else:
        values = rng.integers(0, 7, n).astype(float)
    table = pa.table({"a": pa.array(values.astype(typ.to_pandas_dtype()))})
    pq.write_table(
        table,
        path,
        compression=["snappy", "none"][rng.integers(2)],
        use_dictionary=bool(rng.integers(2)),
        data_page_version=["1.0", "2.0"][rng.integers(2)],
        data_page_size=int(rng.integers(100, 3000)),
    )
    meta = pq.ParquetFile(path).metadata
    chunk = meta.row_group(0).column(0)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    raw = bytearray(open(path, "rb").read())
    for _ in range(int(rng.integers(1, 6))):
        at = start + int(rng.integers(0, chunk.total_compressed_size))
        raw[at] = int(rng.integers(0, 256))
    with open(path, "wb") as f:
        f.write(raw)
    plan = chunk_plan(meta, 0, table.schema, ["a"], leaf_positions(meta))
    try:
        arrays, finite = read_chunks(pa.py_buffer(bytes(raw)), plan, n)
    except Unsupported:
        continue
    ours = arrays[0]
    theirs = pq.ParquetFile(path).read_row_group(0).column(0).chunk(0)
    # Bit for bit: NaN payloads included.
    assert ours.to_numpy().tobytes() == theirs.to_numpy().tobytes(), trial
    # Never said finite when a value is not (damaged bytes make NaNs).
    assert not finite[0] or np.isfinite(theirs.to_numpy()).all(), trial
print("clean")
"""


def test_damaged_pages_never_crash_and_never_disagree_with_pyarrow(tmp_path):
    # Random bytes in the column chunks of small files: each chunk is left to
    # pyarrow or decoded to what pyarrow decodes (which raises only where we
    # do not decode). In a subprocess: a wild read would kill the interpreter.
    import subprocess
    import sys

    script = tmp_path / "fuzz.py"
    script.write_text(_FUZZ)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "t.parquet"), "0", "150"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "clean"
