"""Outputs larger than memory: ``LazyArray.to_npy`` and mapped estimators."""

import errno
import json
import os
import pickle
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.utils import get_tags

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

import scipy.sparse as sp  # noqa: E402
from sklearn.base import is_classifier  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import SGDRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sklearn_ooc import LazyArray, Table, open_array, open_table  # noqa: E402
from sklearn_ooc.data import _npy_writer  # noqa: E402
from sklearn_ooc.data._npy import columns_path  # noqa: E402
from sklearn_ooc.decomposition import OOCPCA  # noqa: E402
from sklearn_ooc.io import NpyWriter  # noqa: E402
from sklearn_ooc.linear_model import (  # noqa: E402
    StreamingLogisticRegression,
    StreamingRidge,
)
from sklearn_ooc.preprocessing import StreamingTransformer  # noqa: E402
from sklearn_ooc.utils import all_estimators  # noqa: E402

from .conftest import file_digest, regression_filters  # noqa: E402

N, FEATURES = 53, ["a", "b", "c", "d"]


@pytest.fixture
def X():
    """Rows whose first column is their row number (so a map knows the rows)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, len(FEATURES))) * [1.0, 10.0, 0.1, 3.0]
    X[:, 0] = np.arange(N)
    return X


@pytest.fixture
def y(X):
    return X @ [0.0, 1.0, -2.0, 0.5] + 3.0


@pytest.fixture
def parquet(tmp_path, X, y):
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["y"] = y
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=10)
    return path


def _view(kind, X, tmp_path, parquet):
    """The rows ``X`` as a LazyArray of the kind asked for."""
    if kind == "ndarray":
        return LazyArray(X)
    if kind == "npy":
        np.save(tmp_path / "X.npy", X)
        return open_array(tmp_path / "X.npy")
    if kind == "memmap":
        mm = np.lib.format.open_memmap(tmp_path / "m.npy", "w+", X.dtype, X.shape)
        mm[:] = X
        mm.flush()
        return LazyArray(np.load(tmp_path / "m.npy", mmap_mode="r"))
    if kind == "csv":
        pd.DataFrame(X, columns=FEATURES).to_csv(tmp_path / "X.csv", index=False)
        return open_table(tmp_path / "X.csv")
    assert kind == "parquet"
    return open_table(parquet).drop(columns="y")


def _listing(folder):
    return sorted(os.listdir(folder))


def _write_equals(view, path, **kwargs):
    """``view.to_npy(path)``: the file holds ``np.asarray(view)``, bitwise."""
    expected = np.asarray(view)
    out = view.to_npy(path, **kwargs)
    written = np.load(path)
    assert isinstance(out, LazyArray) and out.path is not None
    assert written.dtype == expected.dtype and written.shape == expected.shape
    assert written.tobytes() == expected.tobytes()
    assert np.asarray(out).tobytes() == expected.tobytes()
    return written


# -- the written file is the view ----------------------------------------------


SELECTIONS = {
    "all": lambda v: v,
    "slice": lambda v: v[5:47],
    "step": lambda v: v[::3],
    "reversed": lambda v: v[::-2],
    "unsorted rows with repeats": lambda v: v[[7, 2, 2, 40, 0, 52, 13], ...],
    "mask": lambda v: v[np.arange(N) % 4 != 1],
    "runs (a K-fold training set)": lambda v: v[np.r_[0:10, 20:53]],
    "one column": lambda v: v[:, [2]],
    "columns": lambda v: v[3:40, [3, 1]],
    "column slice": lambda v: v[:, 1:3],
    "map": lambda v: v.map(lambda b: np.sqrt(np.abs(b)) * 2.0),
    "rows, columns and two maps": lambda v: (
        v[::2, [0, 2]].map(lambda b: b - 1.5).map(lambda b: b[:, ::-1] * 0.5)
    ),
    "map to one value a row": lambda v: v[1:].map(lambda b: b.sum(axis=1)),
}


@pytest.mark.parametrize("kind", ["ndarray", "npy", "memmap", "parquet", "csv"])
@pytest.mark.parametrize("selection", list(SELECTIONS))
@pytest.mark.parametrize("batch_size", [1, 7, "auto"])
def test_written_file_is_the_view_bitwise(
    tmp_path, X, parquet, kind, selection, batch_size
):
    view = SELECTIONS[selection](_view(kind, X, tmp_path, parquet))
    _write_equals(view, tmp_path / "out.npy", batch_size=batch_size)
    assert ".tmp" not in " ".join(_listing(tmp_path))


def test_table_column_selections_by_name(tmp_path, parquet, X, y):
    T = open_table(parquet)
    written = _write_equals(T[["d", "b"]][10:30], tmp_path / "db.npy", batch_size=4)
    np.testing.assert_array_equal(written, X[10:30][:, [3, 1]])
    target = _write_equals(T["y"][::2], tmp_path / "y.npy", batch_size=6)
    np.testing.assert_array_equal(target, y[::2])


def test_a_duckdb_query_is_written_as_the_frame_it_reads(tmp_path, X):
    duckdb = pytest.importorskip("duckdb")
    frame = pd.DataFrame(X, columns=FEATURES)  # noqa: F841 (read by the query)
    relation = duckdb.sql("SELECT a, d FROM frame ORDER BY a")
    T = open_table(relation)
    written = _write_equals(T[::2], tmp_path / "q.npy", batch_size=5)
    np.testing.assert_array_equal(written, X[::2][:, [0, 3]])


def test_one_dimensional_views_and_float32(tmp_path, X):
    np.save(tmp_path / "y.npy", X[:, 1].astype(np.float32))
    y = open_array(tmp_path / "y.npy")
    written = _write_equals(y[[4, 1, 30]], tmp_path / "out.npy", batch_size=2)
    assert written.dtype == np.float32


def test_integer_columns_of_a_table_keep_their_type(tmp_path):
    frame = pd.DataFrame({"i": np.arange(25, dtype=np.int64), "j": np.arange(25) * 3})
    frame.to_parquet(tmp_path / "ints.parquet")
    written = _write_equals(open_table(tmp_path / "ints.parquet"), tmp_path / "o.npy")
    assert written.dtype == np.int64


def test_nulls_of_a_table_are_written_as_nan_through_with_nan(tmp_path):
    frame = pd.DataFrame({"a": [1.0, None, 3.0, 4.0], "b": [1, 2, None, 4]})
    frame.to_parquet(tmp_path / "n.parquet")
    T = open_table(tmp_path / "n.parquet")
    written = _write_equals(T.with_nan(), tmp_path / "o.npy", batch_size=3)
    assert np.isnan(written).sum() == 2


def test_an_empty_view_writes_an_empty_file(tmp_path, X):
    out = LazyArray(X)[10:10].to_npy(tmp_path / "e.npy")
    assert np.load(tmp_path / "e.npy").shape == (0, len(FEATURES))
    assert out.shape == (0, len(FEATURES))


# -- dtypes --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_dtype_converts_every_batch(tmp_path, X, dtype):
    view = LazyArray(X)[::2].map(lambda b: b * 3.0)
    view.to_npy(tmp_path / "o.npy", batch_size=5, dtype=dtype)
    written = np.load(tmp_path / "o.npy")
    assert written.dtype == dtype
    assert written.tobytes() == np.asarray(view).astype(dtype).tobytes()


def test_a_map_whose_type_changes_between_batches_needs_a_dtype(tmp_path, X):
    def drifting(b):
        return b.astype(np.float32) if b[0, 0] == 0 else b

    view = LazyArray(X).map(drifting)  # float32 for the first row only
    with pytest.raises(ValueError, match=r"rows 10-19 .* float64.*float32.*dtype="):
        view.to_npy(tmp_path / "o.npy", batch_size=10)
    assert _listing(tmp_path) == []
    view.to_npy(tmp_path / "o.npy", batch_size=10, dtype=np.float64)
    expected = X.copy()
    expected[:10] = X[:10].astype(np.float32)  # the batch of the first row
    assert np.load(tmp_path / "o.npy").tobytes() == expected.tobytes()


def test_a_map_returning_other_rows_is_an_error(tmp_path, X):
    view = LazyArray(X).map(lambda b: b[:1])
    with pytest.raises(ValueError, match=r"returned 1 rows for 8 rows"):
        view.to_npy(tmp_path / "o.npy", batch_size=8)
    assert _listing(tmp_path) == []


def test_objects_need_a_dtype(tmp_path, X):
    view = LazyArray(X).map(lambda b: b.astype(object))
    with pytest.raises(ValueError, match="Python objects.*dtype="):
        view.to_npy(tmp_path / "o.npy")
    assert _listing(tmp_path) == []


def test_string_columns_of_a_table_are_named(tmp_path, parquet):
    frame = pd.DataFrame({"x": [1.0, 2.0], "city": ["Oslo", "Rome"]})
    frame.to_parquet(tmp_path / "s.parquet")
    T = open_table(tmp_path / "s.parquet")
    with pytest.raises(
        ValueError, match=r"column 'city' of .*s\.parquet.* not numbers"
    ):
        T.to_npy(tmp_path / "o.npy")
    assert not (tmp_path / "o.npy").exists()
    # Selecting the numeric columns (or encoding the others) is the way out.
    _write_equals(T[["x"]], tmp_path / "o.npy")


# -- estimators' outputs -------------------------------------------------------


@pytest.mark.parametrize("batch_size", [4, 11, "auto"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pca_transform_of_a_table_written_equals_its_transform(
    tmp_path, parquet, X, batch_size, dtype
):
    T = open_table(parquet).drop(columns="y")
    pca = OOCPCA(n_components=2, batch_size=16).fit(T)
    view = T[3:].map(pca.transform)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X does not have valid feature names"
        Z = view.to_npy(tmp_path / "Z.npy", batch_size=batch_size, dtype=dtype)
    expected = np.asarray(pca.transform(T[3:])).astype(dtype)
    assert np.load(tmp_path / "Z.npy").tobytes() == expected.tobytes()
    assert Z.shape == (N - 3, 2)
    reference = PCA(n_components=2).fit(X)
    np.testing.assert_allclose(
        np.abs(np.load(tmp_path / "Z.npy")),
        np.abs(reference.transform(X[3:])),
        rtol=1e-5 if dtype == np.float32 else 1e-9,
        atol=1e-4 if dtype == np.float32 else 1e-9,
    )


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_ridge_predictions_written_equal_predict(tmp_path, parquet, X, y, kind):
    view = _view(kind, X, tmp_path, parquet)
    ridge = StreamingRidge(alpha=0.5).fit(view, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view[::2].map(ridge.predict).to_npy(tmp_path / "p.npy", batch_size=6)
    written = np.load(tmp_path / "p.npy")
    assert written.shape == (len(range(0, N, 2)),)
    assert written.tobytes() == ridge.predict(view[::2]).tobytes()
    if kind == "npy":
        assert written.tobytes() == ridge.predict(X[::2]).tobytes()
    else:
        expected = ridge.predict(pd.DataFrame(X[::2], columns=FEATURES))
        assert written.tobytes() == expected.tobytes()


def test_streaming_transformer_then_model_written_equals_in_memory(
    tmp_path, parquet, X, y
):
    T = open_table(parquet)
    scaler = StreamingTransformer(StandardScaler()).fit(T.drop(columns="y"))
    Z = scaler.transform(T.drop(columns="y"))  # lazy
    ridge = StreamingRidge().fit(Z, T["y"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z.map(ridge.predict).to_npy(tmp_path / "p.npy", batch_size=7)
    expected = ridge.predict(scaler.transform(pd.DataFrame(X, columns=FEATURES)))
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-12)


def test_names_that_convert_wrote_beside_a_npy_file_flow_too(tmp_path, X, y):
    np.save(tmp_path / "X.npy", X)
    with open(columns_path(os.fspath(tmp_path / "X.npy")), "w") as f:
        json.dump({"columns": FEATURES}, f)
    view = open_array(tmp_path / "X.npy")
    ridge = StreamingRidge().fit(view, y)
    assert list(ridge.feature_names_in_) == FEATURES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        view[5:].map(ridge.predict).to_npy(tmp_path / "p.npy", batch_size=8)
    assert np.load(tmp_path / "p.npy").tobytes() == ridge.predict(view[5:]).tobytes()
    with pytest.raises(ValueError, match="feature names should match"):
        view[:, [1, 0, 2, 3]].map(ridge.predict).to_npy(tmp_path / "q.npy")
    assert not (tmp_path / "q.npy").exists()


def test_a_model_fitted_on_other_names_is_refused(tmp_path, parquet):
    T = open_table(parquet)
    ridge = StreamingRidge().fit(T[["a", "b"]], T["y"])
    with pytest.raises(ValueError, match="feature names should match"):
        T[["b", "a"]].map(ridge.predict).to_npy(tmp_path / "p.npy")
    assert not (tmp_path / "p.npy").exists()


def test_a_model_fitted_without_names_gets_arrays(tmp_path, parquet, X, y):
    ridge = StreamingRidge().fit(X, y)
    T = open_table(parquet).drop(columns="y")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X has feature names, but ..."
        T.map(ridge.predict).to_npy(tmp_path / "p.npy")
    assert np.load(tmp_path / "p.npy").tobytes() == ridge.predict(X).tobytes()


def test_a_mapped_model_pickles_with_its_table(tmp_path, parquet):
    T = open_table(parquet).drop(columns="y")
    pca = OOCPCA(n_components=3).fit(T)
    view = pickle.loads(pickle.dumps(T[::3].map(pca.transform)))
    assert isinstance(view, Table)
    view.to_npy(tmp_path / "Z.npy", batch_size=5)
    np.testing.assert_array_equal(np.load(tmp_path / "Z.npy"), pca.transform(T[::3]))


METHODS = [
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
    "decision_function",
    "score_samples",
    "transform",
    "mahalanobis",
]
WRAPPED = {
    "Incremental": {"estimator": SGDRegressor(random_state=0)},
    "StreamingTransformer": {"transformer": StandardScaler()},
    "OOCColumnTransformer": {
        "transformers": [("s", StreamingTransformer(StandardScaler()), ["a", "c"])]
    },
}

WRAPPED.update(regression_filters())


def _dense(Z):
    if isinstance(Z, LazyArray):  # its rows may be sparse (a one-hot encoder)
        Z = Z.rows(0, len(Z))
    return Z.toarray() if sp.issparse(Z) else np.asarray(Z)


@pytest.mark.parametrize(
    "name, cls", all_estimators(), ids=[name for name, _ in all_estimators()]
)
def test_every_estimator_mapped_over_a_table_writes_its_outputs(
    tmp_path, parquet, name, cls
):
    """``T.map(est.method).to_npy`` == ``est.method(T)``, with no warning about
    feature names, for every public estimator and method of the package."""
    if name == "BayesianNetwork":
        pytest.skip(
            "the table's rows are real values; a Bayesian network reads category "
            "codes (tests/test_bayesian_network.py streams its outputs)"
        )
    if name.endswith("HMM") or name == "MarkovChain":
        pytest.skip(
            "an HMM's outputs are functions of whole sequences (fit(X, lengths)), "
            "not of each row: they are not mapped over batches of rows"
        )
    estimator = cls(**WRAPPED.get(name, {}))
    params = estimator.get_params()
    estimator.set_params(
        **{k: v for k, v in {"batch_size": 7, "random_state": 0}.items() if k in params}
    )
    labels = (pd.read_parquet(parquet)["b"] > 0).astype(int).to_numpy()
    if get_tags(estimator).input_tags.positive_only:
        # Counts for the models of counts (multinomial naive Bayes).
        frame = pd.read_parquet(parquet)
        numeric = frame.columns[frame.dtypes.map(lambda t: t.kind in "if")]
        frame[numeric] = frame[numeric].abs()
        parquet = tmp_path / "positive.parquet"
        frame.to_parquet(parquet)
    T = open_table(parquet)
    X = T.drop(columns="y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit-time advice (n_quantiles, ...)
        if is_classifier(estimator):
            target = labels
        elif get_tags(estimator).target_tags.positive_only:
            target = np.exp(0.1 * np.asarray(T["y"]))  # Gamma, Poisson losses
        elif not get_tags(estimator).target_tags.single_output:
            # Multi-task models take two targets or more.
            target = np.column_stack([T["y"], np.asarray(T["y"])[::-1]])
        else:
            target = T["y"]
        estimator.fit(X, target)
    methods = [m for m in METHODS if hasattr(estimator, m)]
    assert methods
    for method in methods:
        expected = _dense(getattr(estimator, method)(X))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = X[::-1].map(getattr(estimator, method))
            out.to_npy(tmp_path / f"{method}.npy", batch_size=9)
        written = np.load(tmp_path / f"{method}.npy")
        assert written.dtype == expected.dtype, method
        np.testing.assert_allclose(
            written, expected[::-1], rtol=1e-12, atol=1e-12, err_msg=method
        )


def test_sparse_batches_are_written_dense(tmp_path, X):
    view = LazyArray(X).map(lambda b: sp.csr_matrix(np.where(b > 1.0, b, 0.0)))
    view.to_npy(tmp_path / "o.npy", batch_size=6)
    expected = np.where(X > 1.0, X, 0.0)
    assert np.load(tmp_path / "o.npy").tobytes() == expected.tobytes()
    view.to_parquet(tmp_path / "o.parquet", batch_size=6)
    assert _parquet_values(tmp_path / "o.parquet").tobytes() == expected.tobytes()


# -- nothing is left on an error -----------------------------------------------


def _failing_at_batch(k, batch_size, exc):
    """A map that raises ``exc`` on the rows of batch ``k`` (from 1)."""
    calls = []

    def func(block):
        if (block[:, 0] >= (k - 1) * batch_size).any():
            raise exc
        calls.append(len(block))
        return block * 2.0

    return func, calls


@pytest.mark.parametrize(
    "exc", [RuntimeError("map failed"), KeyboardInterrupt(), MemoryError()]
)
@pytest.mark.parametrize("existing", [False, True])
def test_a_map_failing_at_batch_3_leaves_no_file(tmp_path, X, exc, existing):
    out = tmp_path / "out" / "Z.npy"
    out.parent.mkdir()
    if existing:
        np.save(out, np.arange(5.0))
        before = file_digest(out)
    written = []
    original = NpyWriter.write

    def spy(self, rows):
        written.append(len(rows))
        return original(self, rows)

    func, calls = _failing_at_batch(3, 10, exc)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(NpyWriter, "write", spy)
        with pytest.raises(type(exc)):
            LazyArray(X).map(func).to_npy(out, batch_size=10)
    assert written == [10, 10]  # two batches went to the temporary file
    if existing:
        assert _listing(out.parent) == ["Z.npy"]
        assert file_digest(out) == before
    else:
        assert _listing(out.parent) == []


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_leaves_the_old_file(tmp_path, monkeypatch, X, where):
    np.save(tmp_path / "Z.npy", np.arange(5.0))
    before = file_digest(tmp_path / "Z.npy")
    view = LazyArray(X)
    if where == "write":
        original, calls = NpyWriter.write, []

        def failing(self, rows):
            calls.append(1)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(self, rows)

        monkeypatch.setattr(NpyWriter, "write", failing)
    else:

        def failing(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(_npy_writer.os, "fsync", failing)
    with pytest.raises(OSError, match="No space left"):
        view.to_npy(tmp_path / "Z.npy", batch_size=10)
    assert _listing(tmp_path) == ["Z.npy"]
    assert file_digest(tmp_path / "Z.npy") == before


def test_a_bad_row_of_a_table_leaves_no_file(tmp_path):
    values = np.arange(40.0)
    frame = pd.DataFrame({"a": values, "b": values * 2})
    frame.loc[33, "b"] = None
    frame.to_parquet(tmp_path / "n.parquet", row_group_size=8)
    T = open_table(tmp_path / "n.parquet")
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match=r"row 33 .*column 'b'"):
        T.to_npy(tmp_path / "o.npy", batch_size=10)
    assert _listing(tmp_path) == before


def test_the_file_the_view_reads_is_refused(tmp_path, X):
    np.save(tmp_path / "X.npy", X)
    before = file_digest(tmp_path / "X.npy")
    view = open_array(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="is the input"):
        view.map(lambda b: b + 1).to_npy(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="is the input"):
        LazyArray(np.load(tmp_path / "X.npy", mmap_mode="r")).to_npy(tmp_path / "X.npy")
    assert file_digest(tmp_path / "X.npy") == before
    assert _listing(tmp_path) == ["X.npy"]


def test_a_missing_folder_is_named(tmp_path, X):
    with pytest.raises(FileNotFoundError, match="output folder .*nowhere"):
        LazyArray(X).to_npy(tmp_path / "nowhere" / "Z.npy")


# -- one batch at a time -------------------------------------------------------


class _Rationed:
    """A 2-D store that refuses to hand out more than ``limit`` rows at once."""

    def __init__(self, data, limit):
        self.data, self.limit = data, limit
        self.shape, self.dtype = data.shape, data.dtype
        self.reads = []

    def __getitem__(self, key):
        rows = np.arange(self.shape[0])[key if isinstance(key, tuple) else (key,)[0]]
        n = np.size(rows)
        if n > self.limit:
            raise AssertionError(f"{n} rows asked for at once (limit {self.limit})")
        self.reads.append(n)
        return self.data[key]


@pytest.mark.parametrize("batch_size", [1, 6, 16])
def test_rows_are_read_one_batch_at_a_time(tmp_path, X, batch_size):
    store = _Rationed(X, batch_size)
    view = LazyArray(store)
    with pytest.raises(AssertionError):
        np.asarray(view)  # the store refuses what the writer never does
    store.reads.clear()
    selected = view[::2, [1, 3]].map(lambda b: b * 0.5)
    selected.to_npy(tmp_path / "o.npy", batch_size=batch_size)
    assert max(store.reads) <= batch_size
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), X[::2][:, [1, 3]] * 0.5)


def test_memory_does_not_grow_with_the_rows(tmp_path):
    n, batch = 100_000, 1_000  # 1.6 MB of rows, 16 KB a batch
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, (n, 2))
    mm[:] = np.arange(2 * n, dtype=np.float64).reshape(n, 2)
    mm.flush()
    del mm
    view = open_array(tmp_path / "X.npy").map(lambda b: b + 1.0)
    tracemalloc.start()
    try:
        view.to_npy(tmp_path / "Z.npy", batch_size=batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few batches (read, mapped, converted) and bookkeeping, not the rows.
    assert peak < 8 * batch * 2 * 8 + 256 * 1024, peak
    Z = np.load(tmp_path / "Z.npy", mmap_mode="r")
    assert Z[-1, 1] == 2 * n and Z.shape == (n, 2)


def test_verbose_shows_a_progress_bar(tmp_path, X, capsys):
    LazyArray(X).to_npy(tmp_path / "o.npy", batch_size=10, verbose=1)
    assert "to_npy" in capsys.readouterr().err
    LazyArray(X).to_npy(tmp_path / "o.npy", batch_size=10)
    assert capsys.readouterr().err == ""
    LazyArray(X).to_parquet(tmp_path / "o.parquet", batch_size=10, verbose=1)
    assert "to_parquet" in capsys.readouterr().err


# -- Parquet -------------------------------------------------------------------


def _parquet_values(path):
    return pq.read_table(path).to_pandas().to_numpy()


@pytest.mark.parametrize("kind", ["ndarray", "npy", "parquet"])
@pytest.mark.parametrize("selection", list(SELECTIONS))
@pytest.mark.parametrize("batch_size", [7, "auto"])
def test_written_parquet_is_the_view_bitwise(
    tmp_path, X, parquet, kind, selection, batch_size
):
    view = SELECTIONS[selection](_view(kind, X, tmp_path, parquet))
    expected = np.asarray(view)
    out = view.to_parquet(tmp_path / "out.parquet", batch_size=batch_size)
    assert isinstance(out, Table)
    values = _parquet_values(tmp_path / "out.parquet")
    values = values[:, 0] if expected.ndim == 1 else values
    assert values.dtype == expected.dtype
    assert values.tobytes() == expected.tobytes()
    assert np.asarray(out).reshape(expected.shape).tobytes() == expected.tobytes()
    if kind != "parquet" or SELECTIONS[selection](open_table(parquet))._maps:
        names = ["y"] if expected.ndim == 1 else [f"x{j}" for j in range(out.shape[1])]
    else:
        names = view.columns
    assert out.columns == names
    groups = pq.ParquetFile(tmp_path / "out.parquet").metadata.num_row_groups
    assert groups == (-(-len(view) // 7) if batch_size == 7 else 1)
    assert _listing(tmp_path).count("out.parquet") == 1
    assert ".tmp" not in " ".join(_listing(tmp_path))


def test_a_table_is_written_as_its_source_holds_it(tmp_path):
    frame = pd.DataFrame(
        {
            "city": ["Oslo", None, "Rome", "Oslo", "Lima"] * 4,
            "n": pd.array([1, 2, None, 4, 5] * 4, dtype="Int64"),
            "kind": pd.Categorical(["a", "b", "a", "c", "b"] * 4),
            "v": np.arange(20.0),
        }
    )
    frame.to_parquet(tmp_path / "mixed.parquet", row_group_size=6)
    T = open_table(tmp_path / "mixed.parquet")
    rows = [17, 2, 3, 3, 9, 11, 0]
    out = T[rows].to_parquet(tmp_path / "o.parquet", batch_size=3)
    written = pd.read_parquet(tmp_path / "o.parquet")
    expected = T[rows].read_frame(0, len(rows)).reset_index(drop=True)
    pd.testing.assert_frame_equal(written, expected)
    assert list(written["city"]) == [frame["city"][r] for r in rows]
    assert out.columns == ["city", "n", "kind", "v"]
    renamed = T[["v", "n"]].to_parquet(tmp_path / "r.parquet", columns=["p", "q"])
    assert renamed.columns == ["p", "q"]
    assert pd.read_parquet(tmp_path / "r.parquet")["q"].isna().sum() == 4


def test_parquet_names_the_columns_of_a_model(tmp_path, parquet):
    T = open_table(parquet).drop(columns="y")
    pca = OOCPCA(n_components=2).fit(T)
    names = list(pca.get_feature_names_out())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = T.map(pca.transform).to_parquet(
            tmp_path / "Z.parquet", columns=names, batch_size=9
        )
    assert out.columns == names
    assert _parquet_values(tmp_path / "Z.parquet").tobytes() == (
        np.asarray(pca.transform(T)).tobytes()
    )


@pytest.mark.parametrize("columns", [["a"], ["a", "a", "b"], ["a", "b", "c", "d", "e"]])
def test_parquet_needs_one_distinct_name_a_column(tmp_path, X, columns):
    with pytest.raises(ValueError, match="distinct names are needed"):
        LazyArray(X)[:, 1:4].to_parquet(tmp_path / "o.parquet", columns=columns)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("map failed"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True])
def test_parquet_map_failing_at_batch_3_leaves_no_file(tmp_path, X, exc, existing):
    out = tmp_path / "Z.parquet"
    if existing:
        pd.DataFrame({"old": [1.0, 2.0]}).to_parquet(out)
        before = file_digest(out)
    func, calls = _failing_at_batch(3, 10, exc)
    with pytest.raises(type(exc)):
        LazyArray(X).map(func).to_parquet(out, batch_size=10)
    assert calls[1:] == [10, 10]  # the probe of the first row, then two batches
    assert _listing(tmp_path) == (["Z.parquet"] if existing else [])
    if existing:
        assert file_digest(out) == before


def test_parquet_bad_row_and_full_disk_leave_the_old_file(tmp_path, monkeypatch):
    values = np.arange(40.0)
    frame = pd.DataFrame({"a": values, "b": values * 2})
    frame.loc[33, "b"] = None
    frame.to_parquet(tmp_path / "n.parquet", row_group_size=8)
    T = open_table(tmp_path / "n.parquet")
    pd.DataFrame({"old": [1.0]}).to_parquet(tmp_path / "o.parquet")
    before = file_digest(tmp_path / "o.parquet")
    with pytest.raises(ValueError, match=r"row 33 .*column 'b'"):
        T.map(lambda b: b + 1).to_parquet(tmp_path / "o.parquet", batch_size=10)

    def failing(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_npy_writer.os, "fsync", failing)
    with pytest.raises(OSError, match="No space left"):
        T.to_parquet(tmp_path / "o.parquet", batch_size=10)
    assert _listing(tmp_path) == ["n.parquet", "o.parquet"]
    assert file_digest(tmp_path / "o.parquet") == before


def test_parquet_refuses_its_input(tmp_path, parquet):
    before = file_digest(parquet)
    with pytest.raises(ValueError, match="is the input"):
        open_table(parquet).to_parquet(parquet)
    assert file_digest(parquet) == before


def test_parquet_reads_one_batch_at_a_time(tmp_path, X):
    store = _Rationed(X, 8)
    LazyArray(store)[1:, [0, 2]].to_parquet(tmp_path / "o.parquet", batch_size=8)
    assert max(store.reads) <= 8
    assert _parquet_values(tmp_path / "o.parquet").tobytes() == (
        X[1:][:, [0, 2]].tobytes()
    )


def test_string_labels_of_a_classifier(tmp_path, parquet, X):
    T = open_table(parquet).drop(columns="y")
    labels = np.where(X[:, 1] > 0, "pos", "neg").astype(object)
    clf = StreamingLogisticRegression(batch_size=8).fit(T, labels)
    expected = clf.predict(T)
    assert expected.dtype == object
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = T.map(clf.predict).to_parquet(tmp_path / "p.parquet", batch_size=10)
    assert out.columns == ["y"]
    written = pq.read_table(tmp_path / "p.parquet").column("y").to_pylist()
    assert written == list(expected)
    with pytest.raises(ValueError, match="Python objects.*dtype="):
        T.map(clf.predict).to_npy(tmp_path / "p.npy")
    T.map(clf.predict).to_npy(tmp_path / "p.npy", dtype="U3", batch_size=10)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), expected.astype("U3"))
    assert _listing(tmp_path) == ["p.npy", "p.parquet", "t.parquet"]


def test_objects_that_are_not_strings_leave_no_parquet_file(tmp_path, X):
    def objects(b):
        out = b[:, 0].astype(object)
        out[:] = [str(v) if v < 20 else v for v in b[:, 0]]
        return out

    with pytest.raises(ValueError, match=r"rows 20-29 of the view: .*strings"):
        LazyArray(X).map(objects).to_parquet(tmp_path / "o.parquet", batch_size=10)
    assert _listing(tmp_path) == []
