"""Numeric Parquet tables against the same data in ``.npy`` files, same run.

Issue 16 targets: the throughput of a numeric Parquet table into batches
(``TableBatches`` beside ``NpyBatches``), and ``StreamingRidge.fit`` from
the Parquet table (``RidgeFromTable``) within 2x of the same fit from the
``.npy`` memory maps (``RidgeFromNpy``), both files in the page cache (read
once before timing). The Parquet file holds the cached regression problem
of :func:`common.regression_files` (columns ``x0``... and ``y``), written
once from the ``.npy`` files in row groups of 131,072 rows, snappy-compressed
(pyarrow's default, what users' files usually are) or not compressed: the
parameter ``compression``, whose difference is the cost of decompressing.
Both hold pyarrow's dictionary-encoded pages (its default, also pandas'); a
third file, ``"snappy-plain"``, holds plain pages, as DuckDB and polars write
columns of distinct floats, which decode faster (no indices to unpack).
``SKLEARN_OOC_BENCH_ROWS`` shrinks the problem for a quick run.
"""

import os

import numpy as np

from sklearn_ooc import open_table
from sklearn_ooc.data import BatchSource
from sklearn_ooc.linear_model import StreamingRidge

from .common import CACHE, page_cached, regression_files

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 2_000_000))
N_FEATURES = 20
ROW_GROUP = 131_072


def parquet_file(n_samples, n_features, compression="snappy"):
    """Paths of the cached Parquet table and the ``.npy`` files it was made from.

    ``compression`` is pyarrow's codec, with ``"-plain"`` appended for plain
    pages instead of pyarrow's dictionary-encoded ones.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    codec, _, pages = compression.partition("-")

    X_path, y_path = regression_files(n_samples, n_features)
    path = os.path.join(
        CACHE, f"regression_{n_samples}x{n_features}_{compression}.parquet"
    )
    if not os.path.exists(path):
        X, y = np.load(X_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")
        names = [f"x{j}" for j in range(n_features)] + ["y"]
        schema = pa.schema([(name, pa.float64()) for name in names])
        tmp = f"{path}.{os.getpid()}.tmp"
        with pq.ParquetWriter(
            tmp, schema, compression=codec, use_dictionary=pages != "plain"
        ) as writer:
            for start in range(0, n_samples, ROW_GROUP):
                stop = min(n_samples, start + ROW_GROUP)
                block = np.asarray(X[start:stop])
                arrays = [pa.array(block[:, j]) for j in range(n_features)]
                arrays.append(pa.array(np.asarray(y[start:stop])))
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        os.replace(tmp, path)
    return path, X_path, y_path


def _read_all(X, y):
    """Read every batch of ``X`` and ``y`` as a fit reads them; the row count."""
    source = BatchSource(X, y)
    n = 0
    for batch in source.iter_batches(range(source.n_batches)):
        n += batch.X.shape[0]
    return n


def _warm(path):
    """Read a file once, so that its pages are in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


class _Tables:
    timeout = 900
    processes = 1
    number = 1
    repeat = 3
    params = [["snappy", "none", "snappy-plain"]]
    param_names = ["compression"]

    def setup_cache(self):
        return {c: parquet_file(N_SAMPLES, N_FEATURES, c) for c in self.params[0]}


class _FromParquet(_Tables):
    """The Parquet table, page-cached, read once (peak memory: a pass's)."""

    def setup(self, paths, compression):
        path, _, _ = paths[compression]
        _warm(path)
        table = open_table(path)
        self.X, self.y = table.drop(columns="y"), table["y"]
        # A first read of the table in a new process also pays for pyarrow's
        # thread pool and memory pool growing; read it once, as page_cached
        # reads the .npy files once.
        _read_all(self.X, self.y)
        StreamingRidge().fit(np.ones((100, 2)), np.ones(100))  # compiled


class _FromNpy(_Tables):
    """The same rows from the page-cached .npy memmaps (the reference)."""

    def setup(self, paths, compression):
        _, X_path, y_path = paths[compression]
        self.X, self.y = page_cached(X_path), page_cached(y_path)
        StreamingRidge().fit(np.ones((100, 2)), np.ones(100))  # compiled


class TableBatches(_FromParquet):
    """A numeric Parquet table into validated batches, as a fit reads it."""

    def time_batches(self, paths, compression):
        _read_all(self.X, self.y)

    def peakmem_batches(self, paths, compression):
        _read_all(self.X, self.y)

    def track_mb_per_s(self, paths, compression):
        import time

        start = time.perf_counter()
        _read_all(self.X, self.y)
        seconds = time.perf_counter() - start
        return N_SAMPLES * (N_FEATURES + 1) * 8 / 1e6 / seconds

    track_mb_per_s.unit = "MB/s"


class NpyBatches(_FromNpy):
    """The reference: the same rows into batches from the .npy memmaps."""

    def time_batches(self, paths, compression):
        _read_all(self.X, self.y)

    def peakmem_batches(self, paths, compression):
        _read_all(self.X, self.y)


class RidgeFromTable(_FromParquet):
    """StreamingRidge.fit from the Parquet table."""

    def time_fit(self, paths, compression):
        StreamingRidge().fit(self.X, self.y)

    def peakmem_fit(self, paths, compression):
        StreamingRidge().fit(self.X, self.y)

    def track_max_coef_difference_vs_npy(self, paths, compression):
        _, X_path, y_path = paths[compression]
        table = StreamingRidge().fit(self.X, self.y)
        npy = StreamingRidge().fit(X_path, y_path)
        return float(np.max(np.abs(table.coef_ - npy.coef_)))


class RidgeFromNpy(_FromNpy):
    """The reference: the same StreamingRidge fit from the .npy memmaps."""

    def time_fit(self, paths, compression):
        StreamingRidge().fit(self.X, self.y)

    def peakmem_fit(self, paths, compression):
        StreamingRidge().fit(self.X, self.y)
