"""The issue's mixed-column pipeline on a Parquet table, beside scikit-learn.

Issue 16 figure: ``out_of_core`` of the user's ordinary pipeline, ::

    make_pipeline(
        ColumnTransformer([
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
             ["city", "kind"]),
            ("num", make_pipeline(SimpleImputer(), StandardScaler()),
             ["x0", "x1", "x2", "x3"]),
        ]),
        Ridge(),
    )

fitted on a Parquet table of 20,000,000 rows (two string columns of 30 and
20 categories, four float columns with 1-5 % nulls, a float target; row
groups of 1,000,000 rows, snappy; a table of fewer than 8,000,000 rows
has eight row groups), beside the same scikit-learn pipeline
fitted on the table loaded with ``pandas.read_parquet``. scikit-learn's
dense fit needs about 1 KB a row on top of the DataFrame (the one-hot
output, its concatenation with the numbers, Ridge's centered copy), so it
runs on a table of ``REFERENCE_ROWS`` rows (5,000,000, about 6 GB), where
ours runs too for the ratio.

``MixedPipeline`` and ``MixedPipelineReference`` time the fits (the file in
the page cache, the DataFrame loaded in ``setup``; asv's ``peakmem`` counts
the DataFrame). ``MixedPipelineFresh`` fits each side once in a fresh
process, in ``setup_cache``, and tracks what asv cannot measure in
process: the peak extra anonymous memory of the fit (above the level
before the call, so neither the page cache nor earlier allocations count),
the passes over the table (row groups read from the file, per column,
divided by the number of row groups: a table whose pieces all fit in the
table's 256 MB cache of decoded row groups, such as a quick run's, is read
once), and the largest difference between
the two models' predictions on 100,000 rows.

``SKLEARN_OOC_BENCH_ROWS`` shrinks the table for a quick run (the reference
then runs at the same size); ``SKLEARN_OOC_BENCH_PIPELINE_REFERENCE_ROWS``
sets the reference's size.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    from .common import CACHE
except ImportError:  # run as a script, in the fresh process of a measurement
    from common import CACHE

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 20_000_000))
REFERENCE_ROWS = int(
    os.environ.get(
        "SKLEARN_OOC_BENCH_PIPELINE_REFERENCE_ROWS", min(N_SAMPLES, 5_000_000)
    )
)
ROW_GROUP = 1_000_000
N_CITIES, N_KINDS = 30, 20
CATS = ["city", "kind"]
NUMS = ["x0", "x1", "x2", "x3"]
NULL_RATES = [0.02, 0.03, 0.05, 0.01]
SAMPLE_ROWS = 100_000
SIZES = sorted({REFERENCE_ROWS, N_SAMPLES})


def _row_group_size(n_samples):
    # Eight row groups at least, so that a small table is read in pieces too.
    return max(1, min(ROW_GROUP, -(-n_samples // 8)))


def _rows(index, n):
    """Row group ``index`` of ``n`` rows, drawn from its own seed."""
    import pyarrow as pa

    rng = np.random.default_rng(index)
    city = rng.integers(0, N_CITIES, n)
    kind = rng.integers(0, N_KINDS, n)
    X = rng.normal(size=(n, 4)) * [1.0, 10.0, 100.0, 2.0] + [0.0, 50.0, -3.0, 40.0]
    y = (
        np.linspace(-3.0, 3.0, N_CITIES)[city]
        + np.linspace(2.0, -2.0, N_KINDS)[kind]
        + X @ [1.0, 0.2, 0.01, -0.5]
        + rng.normal(size=n)
    )
    cities = np.array([f"city_{i:02d}" for i in range(N_CITIES)], dtype=object)
    kinds = np.array([f"kind_{i:02d}" for i in range(N_KINDS)], dtype=object)
    arrays = [pa.array(cities[city], pa.string()), pa.array(kinds[kind], pa.string())]
    for j, rate in enumerate(NULL_RATES):
        arrays.append(pa.array(X[:, j], mask=rng.random(n) < rate))
    arrays.append(pa.array(y))
    return pa.Table.from_arrays(arrays, names=CATS + NUMS + ["y"])


def mixed_table(n_samples):
    """Path of the cached mixed-column table, written row group by row group."""
    import pyarrow.parquet as pq

    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"mixed_{n_samples}.parquet")
    if not os.path.exists(path):
        size = _row_group_size(n_samples)
        tmp = f"{path}.{os.getpid()}.tmp"
        writer = None
        try:
            for index, start in enumerate(range(0, n_samples, size)):
                rows = _rows(index, min(size, n_samples - start))
                if writer is None:
                    writer = pq.ParquetWriter(tmp, rows.schema)
                writer.write_table(rows, row_group_size=size)
        finally:
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    return path


def sklearn_pipeline():
    """The user's pipeline, as scikit-learn builds it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return make_pipeline(
        ColumnTransformer(
            [
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    CATS,
                ),
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMS),
            ]
        ),
        Ridge(),
    )


def ours_pipeline():
    from sklearn_ooc import out_of_core

    return out_of_core(sklearn_pipeline())


def _sample(path):
    """The same 100,000 rows of the first row group, as a DataFrame."""
    import pyarrow.parquet as pq

    head = pq.ParquetFile(path).read_row_group(0, columns=CATS + NUMS)
    n = min(SAMPLE_ROWS, head.num_rows)
    rows = np.sort(np.random.default_rng(0).choice(head.num_rows, n, replace=False))
    return head.take(rows).to_pandas()


def _warm(path):
    """Read a file once, so that its pages are in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def _measure(side, path, predictions):
    """One fit in this process: seconds, peak extra MB, passes (ours)."""
    import pandas as pd
    import pyarrow.parquet as pq

    from sklearn_ooc import open_table
    from sklearn_ooc.data import _table
    from sklearn_ooc.utils import PeakMemory, anonymous_rss

    result = {}
    if side == "ours":
        reads = {}
        load = _table._ParquetBackend._load

        def counting(self, p, columns):
            for c in columns:
                reads[c] = reads.get(c, 0) + 1
            return load(self, p, columns)

        _table._ParquetBackend._load = counting
        T = open_table(path)
        X, y = T.drop(columns="y"), T["y"]
        model = ours_pipeline()
    else:
        before = anonymous_rss()
        frame = pd.read_parquet(path)
        result["dataframe_mb"] = (anonymous_rss() - before) / 1e6
        X, y = frame.drop(columns="y"), frame["y"]
        model = sklearn_pipeline()
    with PeakMemory() as memory:
        start = time.perf_counter()
        model.fit(X, y)
        result["seconds"] = time.perf_counter() - start
    result["peak_mb"] = memory.peak / 1e6
    if side == "ours":
        n_groups = pq.ParquetFile(path).metadata.num_row_groups
        result["passes"] = {c: n / n_groups for c, n in reads.items()}
    del X, y
    np.save(predictions, model.predict(_sample(path)))
    return result


def fit_in_fresh_process(side, path, predictions):
    """:func:`_measure` in a new Python process; its result."""
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), side, path, predictions],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class MixedPipelineFresh:
    """Each side fitted once in a fresh process: memory, passes, agreement."""

    params = [SIZES]
    param_names = ["rows"]
    timeout = 3600

    def setup_cache(self):
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for n in SIZES:
                path = mixed_table(n)
                _warm(path)
                ours = os.path.join(tmp, f"ours_{n}.npy")
                results[n] = {"ours": fit_in_fresh_process("ours", path, ours)}
                if n <= REFERENCE_ROWS:
                    ref = os.path.join(tmp, f"sklearn_{n}.npy")
                    results[n]["sklearn"] = fit_in_fresh_process("sklearn", path, ref)
                    results[n]["max_prediction_difference"] = float(
                        np.max(np.abs(np.load(ours) - np.load(ref)))
                    )
        return results

    def track_ours_fit_seconds(self, results, rows):
        return results[rows]["ours"]["seconds"]

    track_ours_fit_seconds.unit = "seconds"

    def track_ours_peak_extra_memory(self, results, rows):
        return results[rows]["ours"]["peak_mb"]

    track_ours_peak_extra_memory.unit = "MB"

    def track_ours_passes_strings(self, results, rows):
        passes = results[rows]["ours"]["passes"]
        return max(passes[c] for c in CATS)

    def track_ours_passes_numbers(self, results, rows):
        passes = results[rows]["ours"]["passes"]
        return max(passes[c] for c in NUMS)

    def track_ours_passes_target(self, results, rows):
        return results[rows]["ours"]["passes"]["y"]

    def track_sklearn_fit_seconds(self, results, rows):
        return results[rows].get("sklearn", {}).get("seconds", float("nan"))

    track_sklearn_fit_seconds.unit = "seconds"

    def track_sklearn_peak_extra_memory(self, results, rows):
        # Above the loaded DataFrame, which track_sklearn_dataframe_memory gives.
        return results[rows].get("sklearn", {}).get("peak_mb", float("nan"))

    track_sklearn_peak_extra_memory.unit = "MB"

    def track_sklearn_dataframe_memory(self, results, rows):
        return results[rows].get("sklearn", {}).get("dataframe_mb", float("nan"))

    track_sklearn_dataframe_memory.unit = "MB"

    def track_max_prediction_difference(self, results, rows):
        return results[rows].get("max_prediction_difference", float("nan"))


class _Timed:
    timeout = 1800
    processes = 1
    number = 1
    repeat = 3
    params = [SIZES]
    param_names = ["rows"]

    def setup_cache(self):
        return {n: mixed_table(n) for n in SIZES}


class MixedPipeline(_Timed):
    """Our fit from the page-cached Parquet table (peak memory: asv's RSS)."""

    def setup(self, paths, rows):
        from sklearn_ooc import open_table

        path = paths[rows]
        _warm(path)
        T = open_table(path)
        self.X, self.y = T.drop(columns="y"), T["y"]
        # Compiled kernels loaded, pyarrow's pools grown: a small fit first.
        small = _sample(path).head(2000)
        ours_pipeline().fit(small, np.arange(len(small), dtype=float))

    def time_fit(self, paths, rows):
        ours_pipeline().fit(self.X, self.y)

    def peakmem_fit(self, paths, rows):
        ours_pipeline().fit(self.X, self.y)


class MixedPipelineReference(_Timed):
    """scikit-learn's fit on the table loaded with pandas.read_parquet."""

    def setup(self, paths, rows):
        import pandas as pd

        if rows > REFERENCE_ROWS:
            raise NotImplementedError("scikit-learn's fit does not fit in memory")
        frame = pd.read_parquet(paths[rows])
        self.X, self.y = frame.drop(columns="y"), frame["y"]

    def time_fit(self, paths, rows):
        sklearn_pipeline().fit(self.X, self.y)

    def peakmem_fit(self, paths, rows):
        sklearn_pipeline().fit(self.X, self.y)


if __name__ == "__main__":
    # This folder's modules (tables, mixture...) must not shadow libraries'.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    print(json.dumps(_measure(*sys.argv[1:4])))
