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
    np.save(tmp_path / "v.npy", np.arange(3.0))
    with pytest.raises(ValueError, match="a LazyArray holds 2-D rows"):
        open_array(tmp_path / "v.npy")
