"""LazyArray: views that read nothing, stream in file order, pickle small."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc import LazyArray, open_array
from sklearn_ooc.data import BatchSource
from sklearn_ooc.linear_model import StreamingRidge


class CountingStore:
    """An array store that counts the rows it is asked for."""

    def __init__(self, array):
        self._array = array
        self.shape, self.dtype = array.shape, array.dtype
        self.rows_read = 0
        self.keys = []

    def __getitem__(self, key):
        out = self._array[key]
        self.rows_read += len(out)
        self.keys.append(key)
        return out


@pytest.fixture
def data(rng, npy):
    X = rng.normal(size=(50, 4))
    return X, npy(X)


def test_views_read_nothing_and_compose(data):
    X, _ = data
    store = CountingStore(X)
    lazy = LazyArray(store)
    view = lazy[5:45][::2][[0, 3, 3, 1]]
    masked = lazy[X[:, 0] > 0]
    assert store.rows_read == 0
    assert isinstance(view, LazyArray) and view.shape == (4, 4)
    assert_array_equal(np.asarray(view), X[5:45][::2][[0, 3, 3, 1]])
    assert_array_equal(np.asarray(masked), X[X[:, 0] > 0])
    assert len(masked) == (X[:, 0] > 0).sum() and masked.ndim == 2


def test_sklearn_indexing_and_columns(data):
    X, path = data
    lazy = open_array(path)
    idx = np.array([49, 0, 17])
    assert_array_equal(np.asarray(lazy[idx, ...]), X[idx])
    assert_array_equal(np.asarray(lazy[idx, 1:3]), X[idx, 1:3])
    assert_array_equal(np.asarray(lazy[:, [3, 0]]), X[:, [3, 0]])
    assert_array_equal(lazy[7], X[7])
    assert_array_equal(lazy[-1], X[-1])
    with pytest.raises(IndexError, match="row index out of range for 50 rows"):
        lazy[[50]]
    with pytest.raises(IndexError, match="boolean index of shape"):
        lazy[np.ones(3, dtype=bool)]


def test_reversed_views_and_ellipsis_columns(data):
    X, path = data
    lazy = open_array(path)
    # A negative step that reaches row 0 (its stop would read as "last row").
    assert_array_equal(np.asarray(lazy[::-1]), X[::-1])
    assert_array_equal(np.asarray(lazy[7::-3]), X[7::-3])
    assert_array_equal(np.asarray(lazy[10:40][::-2][1:]), X[10:40][::-2][1:])
    assert_array_equal(np.asarray(lazy[5:5]), X[5:5])
    # X[..., columns] selects columns of every row.
    assert_array_equal(np.asarray(lazy[..., 1:]), X[..., 1:])
    assert_array_equal(np.asarray(lazy[..., [3, 0]]), X[..., [3, 0]])
    y = open_array(np.load(path, mmap_mode="r")[:, 0].copy())
    assert_array_equal(np.asarray(y[..., [4, 1]]), X[:, 0][..., [4, 1]])
    assert_array_equal(np.asarray(y[::-1]), X[::-1, 0])


def test_batches_read_selected_rows_in_file_order(data):
    X, _ = data
    store = CountingStore(X)
    view = LazyArray(store)[[40, 3, 22, 9, 30, 1]]
    source = BatchSource(view, batch_size=4)
    rows = np.vstack([b.X for b in source.iter_batches(range(source.n_batches))])
    assert_array_equal(rows, X[[40, 3, 22, 9, 30, 1]])
    for key in store.keys:
        assert np.all(np.diff(key) > 0)  # increasing: file order
    assert store.rows_read == 6


def test_pickles_as_a_reference_to_the_file(data):
    X, path = data
    view = open_array(path)[10:40][[1, 5, 7]]
    blob = pickle.dumps(view)
    assert len(blob) < 1000
    back = pickle.loads(blob)
    assert_array_equal(np.asarray(back), X[10:40][[1, 5, 7]])
    memmap_view = LazyArray(np.load(path, mmap_mode="r"))[:20]
    assert len(pickle.dumps(memmap_view)) < 1000
    assert_array_equal(np.asarray(pickle.loads(pickle.dumps(memmap_view))), X[:20])


def test_a_large_selection_pickles_its_indices_only(rng, npy):
    path = npy(rng.normal(size=(20_000, 50)))  # 8 MB of rows
    view = open_array(path)[np.arange(0, 20_000, 2)]
    assert len(pickle.dumps(view)) < 20_000 * 8 // 2 + 1000


def test_map_applies_when_read(data):
    X, path = data
    lazy = open_array(path).map(lambda rows: rows * 2.0)
    assert lazy.shape == (50, 4)
    assert_array_equal(np.asarray(lazy[3:6]), X[3:6] * 2)
    source = BatchSource(lazy, batch_size=7)
    assert_array_equal(source.read(2).X, X[14:21] * 2)


def test_estimators_stream_views(data, rng):
    X, path = data
    y = X @ [1.0, 2.0, 3.0, 4.0]
    train = np.arange(0, 50, 3)
    model = StreamingRidge(batch_size=4).fit(open_array(path)[train], y[train])
    reference = StreamingRidge().fit(X[train], y[train])
    assert_allclose(model.coef_, reference.coef_, rtol=1e-12)
    assert_allclose(
        model.predict(open_array(path)[5:9]), reference.predict(X[5:9]), rtol=1e-12
    )


def test_open_array_refuses_what_is_not_rows(tmp_path):
    np.save(tmp_path / "cube.npy", np.zeros((3, 2, 2)))
    with pytest.raises(
        ValueError,
        match=r"a LazyArray holds rows of a 2-D array \(X\) or the values of a "
        r"1-D one \(y, sample_weight\), got shape \(3, 2, 2\)",
    ):
        open_array(tmp_path / "cube.npy")


def test_a_1d_lazy_array_holds_targets(rng, npy):
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=60)
    lazy_X, lazy_y = open_array(npy(X)), open_array(npy(y))
    assert lazy_y.shape == (60,) and lazy_y.ndim == 1 and lazy_y.size == 60
    idx = np.array([59, 2, 30])
    assert isinstance(lazy_y[idx, ...], LazyArray)
    assert_array_equal(np.asarray(lazy_y[idx, ...]), y[idx])
    assert lazy_y[4] == y[4]
    with pytest.raises(IndexError, match="too many indices for a 1-D LazyArray"):
        lazy_y[idx, 0]
    assert len(pickle.dumps(lazy_y[10:50])) < 1000
    model = StreamingRidge(batch_size=7).fit(lazy_X[::2], lazy_y[::2])
    reference = StreamingRidge().fit(X[::2], y[::2])
    assert_allclose(model.coef_, reference.coef_, rtol=1e-12)
    assert_allclose(
        model.score(lazy_X[1::2], lazy_y[1::2]),
        reference.score(X[1::2], y[1::2]),
        rtol=1e-12,
    )


def test_a_fold_is_kept_as_runs_and_read_by_slices(rng, npy):
    X = rng.normal(size=(1000, 3))
    path = npy(X)
    train = np.concatenate([np.arange(0, 400), np.arange(600, 1000)])
    view = open_array(path)[train]
    # Two runs: the selection pickles as a handful of numbers, not 800 indices.
    assert len(pickle.dumps(view)) < 1000
    store = CountingStore(np.load(path, mmap_mode="r"))
    source = BatchSource(LazyArray(store)[train], batch_size=300)
    batches = [source.read(i).X for i in range(source.n_batches)]
    assert_array_equal(np.vstack(batches), X[train])
    assert all(isinstance(key, slice) for key in store.keys)
    # A batch inside one run is a view of the memory map: nothing copied.
    assert np.shares_memory(batches[0], store._array)
    assert not np.shares_memory(batches[1], store._array)  # rows 300-599 straddle


@pytest.mark.parametrize("seed", range(5))
def test_views_of_runs_compose_like_numpy(seed, data):
    X, path = data
    r = np.random.default_rng(seed)
    # Increasing rows in runs of random lengths.
    keep = np.repeat(r.random(10) < 0.5, 5)
    rows = np.flatnonzero(keep)
    view, want = open_array(path)[rows], X[rows]
    n = len(rows)
    for key in [
        slice(None),
        slice(1, max(1, n - 2)),
        slice(None, None, 3),
        slice(n, n),
        r.permutation(n)[: max(1, n // 2)],
        np.array([-1, 0]) if n else np.array([], dtype=int),
    ]:
        assert_array_equal(np.asarray(view[key]), want[key])
        assert_array_equal(np.asarray(view[key][::-1]), want[key][::-1])
        assert_array_equal(np.asarray(pickle.loads(pickle.dumps(view[key]))), want[key])
