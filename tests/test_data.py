"""The data layer: every input kind, batching, epoch plans, validation."""

import os
import pickle
import threading
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from sklearn_ooc.data import (
    AUTO_BATCH_BYTES,
    BatchSource,
    EpochPlan,
    open_npy,
    resolve_batch_size,
)
from sklearn_ooc.data import _source as data_source
from sklearn_ooc.linear_model import StreamingRidge

from .conftest import file_digest


class RecordingStore:
    """An array store (like an h5py dataset) that records what is read."""

    def __init__(self, array):
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype
        self.reads = []
        self.threads = set()

    def __getitem__(self, key):
        self.reads.append(key)
        self.threads.add(threading.current_thread().name)
        return self._array[key].copy()


def _all_rows(source):
    return np.vstack([b.X for b in source.iter_batches(range(source.n_batches))])


# -- input kinds ------------------------------------------------------------


def test_every_input_kind_gives_the_same_rows(rng, npy):
    X = rng.normal(size=(23, 3))
    path = npy(X)
    kinds = {
        "ndarray": X,
        "memmap": np.load(path, mmap_mode="r"),
        "str path": str(path),
        "Path": path,
        "store": RecordingStore(X),
        "sparse": sp.csr_matrix(X),
        "list": X.tolist(),
        "fortran": np.asfortranarray(X),
    }
    for kind, data in kinds.items():
        source = BatchSource(data, batch_size=5)
        assert (source.n_samples, source.n_features, source.n_batches) == (23, 3, 5)
        assert_array_equal(_all_rows(source), X, err_msg=kind)


def test_dataframe_is_accepted(rng):
    pd = pytest.importorskip("pandas")
    X = rng.normal(size=(8, 2))
    source = BatchSource(pd.DataFrame(X, columns=["a", "b"]), batch_size=3)
    assert_array_equal(_all_rows(source), X)


def test_a_path_is_opened_as_a_read_only_memmap(npy, rng):
    path = npy(rng.normal(size=(10, 2)))
    X = open_npy(path)
    assert isinstance(X, np.memmap) and not X.flags.writeable


def test_memmap_batches_are_views_not_copies(npy, rng):
    X = np.load(npy(rng.normal(size=(40, 3))), mmap_mode="r")
    batch = BatchSource(X, batch_size=16).read(1)
    assert np.shares_memory(batch.X, X)
    assert batch.X.flags.c_contiguous


def test_a_store_is_read_one_batch_at_a_time(rng):
    store = RecordingStore(rng.normal(size=(30, 2)))
    source = BatchSource(store, batch_size=7)
    assert store.reads == []  # opening reads nothing
    list(source.iter_batches(range(source.n_batches), prefetch=0))
    assert store.reads == [slice(a, min(a + 7, 30)) for a in range(0, 30, 7)]


def test_integer_and_bool_inputs_become_float64(rng):
    for X in (rng.integers(0, 9, size=(6, 2)), rng.integers(0, 2, size=(6, 2)) > 0):
        batch = BatchSource(X).read(0)
        assert batch.X.dtype == np.float64
        assert_array_equal(batch.X, X.astype(np.float64))


def test_float32_stays_float32(rng):
    X = rng.normal(size=(6, 2)).astype(np.float32)
    assert BatchSource(X).read(0).X.dtype == np.float32


def test_y_and_sample_weight_are_read_aligned(rng, npy):
    X = rng.normal(size=(17, 2))
    y = np.arange(17.0)
    w = np.linspace(0, 1, 17)
    source = BatchSource(X, npy(y), np.load(npy(w), mmap_mode="r"), batch_size=4)
    for batch in source.iter_batches(range(source.n_batches)):
        assert_array_equal(batch.y, y[batch.start : batch.stop])
        assert_array_equal(batch.sample_weight, w[batch.start : batch.stop])
        assert_array_equal(batch.X, X[batch.start : batch.stop])


def test_scalar_sample_weight_is_broadcast(rng):
    source = BatchSource(rng.normal(size=(5, 2)), sample_weight=2.5)
    assert_array_equal(source.read(0).sample_weight, np.full(5, 2.5))


def test_labels_pass_through_when_y_is_not_numeric(rng):
    y = np.array(["a", "b", "a", "c"])
    batch = BatchSource(rng.normal(size=(4, 2)), y, y_numeric=False).read(0)
    assert_array_equal(batch.y, y)


# -- batch sizes and epochs -------------------------------------------------


def test_auto_batch_size_is_about_64_mib_of_rows():
    assert resolve_batch_size("auto", 100) == AUTO_BATCH_BYTES // 800
    assert AUTO_BATCH_BYTES == 64 * 2**20
    assert resolve_batch_size("auto", 10**9) == 1
    assert resolve_batch_size(17, 100) == 17


@pytest.mark.parametrize(
    "n_samples, n_batches, batch_size",
    [(90, 1, 100), (100, 1, 100), (101, 4, 26), (400, 4, 100), (450, 8, 57)],
)
def test_auto_batches_come_in_fours(monkeypatch, n_samples, n_batches, batch_size):
    # 100 rows of 2 float64 columns at most; more rows are split into a
    # multiple of 4 batches, so that 2 or 4 threads finish a pass together.
    monkeypatch.setattr(data_source, "AUTO_BATCH_BYTES", 1600)
    X = np.zeros((n_samples, 2))
    source = BatchSource(X)
    assert (source.n_batches, source.batch_size) == (n_batches, batch_size)
    assert source.bounds(source.n_batches - 1)[1] == n_samples
    explicit = BatchSource(X, batch_size=100)
    assert explicit.n_batches == -(-n_samples // 100)


@pytest.mark.parametrize("bad", [0, -3, 1.5, "big", True, None])
def test_invalid_batch_size_is_refused(bad):
    with pytest.raises(
        ValueError, match=r"batch_size must be a positive int or 'auto'"
    ):
        resolve_batch_size(bad, 3)


def test_batch_bounds_cover_the_rows_once(rng):
    source = BatchSource(rng.normal(size=(10, 1)), batch_size=4)
    assert [source.bounds(i) for i in range(source.n_batches)] == [
        (0, 4),
        (4, 8),
        (8, 10),
    ]
    with pytest.raises(IndexError, match="batch 3 out of range: the source has 3"):
        source.bounds(3)


def test_epoch_cursor_carries_on_and_wraps():
    plan = EpochPlan(5, batches_per_epoch=3)
    epochs = [plan.next_epoch() for _ in range(4)]
    assert epochs == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4, 0, 1]]
    # Every batch is read equally often: no restart at row 0.
    counts = np.bincount(np.concatenate(epochs + [plan.next_epoch()]), minlength=5)
    assert_array_equal(counts, [3, 3, 3, 3, 3])


def test_epoch_of_all_batches_and_capped_epochs():
    assert EpochPlan(4).next_epoch() == [0, 1, 2, 3]
    plan = EpochPlan(3, batches_per_epoch=10)
    assert plan.next_epoch() == [0, 1, 2]
    assert EpochPlan(4, batches_per_epoch=2, cursor=3).next_epoch() == [3, 0]


@pytest.mark.parametrize("bad", [0, -1, 2.0, "all"])
def test_invalid_batches_per_epoch_is_refused(bad):
    with pytest.raises(
        ValueError, match="batches_per_epoch must be None or a positive"
    ):
        EpochPlan(3, batches_per_epoch=bad)


# -- prefetching ------------------------------------------------------------


def test_prefetch_reads_ahead_on_a_thread_and_keeps_order(rng):
    store = RecordingStore(rng.normal(size=(50, 2)))
    source = BatchSource(store, batch_size=5)
    order = [b.index for b in source.iter_batches([3, 1, 4, 0, 9], prefetch=2)]
    assert order == [3, 1, 4, 0, 9]
    assert store.threads == {"sklearn_ooc-prefetch_0"}


def test_an_error_surfaces_at_its_batch_after_the_good_ones(rng):
    X = rng.normal(size=(30, 2))
    X[17, 1] = np.nan
    source = BatchSource(X, batch_size=5)
    seen = []
    with pytest.raises(ValueError, match="row 17 "):
        for batch in source.iter_batches(range(source.n_batches)):
            seen.append(batch.index)
    assert seen == [0, 1, 2]


# -- validation -------------------------------------------------------------


def test_nan_in_the_middle_of_a_memmap_names_row_batch_and_file(rng, npy):
    X = rng.normal(size=(100, 3))
    X[57, 2] = np.nan
    path = npy(X)
    source = BatchSource(np.load(path, mmap_mode="r"), batch_size=10)
    with pytest.raises(
        ValueError, match=r"X contains NaN at row 57 \(batch 5, rows 50-59\)"
    ):
        list(source.iter_batches(range(10)))
    source = BatchSource(str(path), batch_size=10)
    with pytest.raises(ValueError, match=rf"row 57 .*{os.path.basename(path)}"):
        source.read(5)


def test_infinity_in_x_and_nan_in_y_are_named(rng):
    X = rng.normal(size=(20, 2))
    X[3, 0] = -np.inf
    with pytest.raises(ValueError, match=r"X contains infinity at row 3 \(batch 0"):
        BatchSource(X, batch_size=8).read(0)
    y = np.zeros(20)
    y[12] = np.nan
    with pytest.raises(
        ValueError, match=r"y contains NaN at row 12 \(batch 1, rows 8-15\)"
    ):
        BatchSource(rng.normal(size=(20, 2)), y, batch_size=8).read(1)


def test_negative_weight_is_named(rng):
    w = np.ones(9)
    w[6] = -0.5
    with pytest.raises(
        ValueError, match=r"sample_weight contains a negative weight \(-0.5\) at row 6"
    ):
        BatchSource(rng.normal(size=(9, 2)), sample_weight=w, batch_size=4).read(1)
    with pytest.raises(
        ValueError, match="sample_weight must be finite and non-negative"
    ):
        BatchSource(rng.normal(size=(9, 2)), sample_weight=-1.0)


def test_float_labels_must_be_finite_too(rng):
    # A classifier's y is passed through as given, but a NaN label is a
    # missing target: named like a regression target's.
    y = np.zeros(20)
    y[12] = np.nan
    source = BatchSource(rng.normal(size=(20, 2)), y, batch_size=8, y_numeric=False)
    assert_array_equal(source.read(0).y, np.zeros(8))
    with pytest.raises(
        ValueError, match=r"y contains NaN at row 12 \(batch 1, rows 8-15\)"
    ):
        source.read(1)


@pytest.mark.parametrize(
    "bad, what",
    [(-0.5, r"a negative weight \(-0.5\)"), (np.nan, "NaN"), (np.inf, "infinity")],
)
def test_weights_of_rows_are_checked_as_a_batch_would_be(rng, bad, what):
    # Weights read outside a batch (an initialization's sample) are checked
    # too, before anyone uses them, and named with their batch.
    w = np.ones(20)
    w[[13, 17]] = bad
    source = BatchSource(rng.normal(size=(20, 2)), sample_weight=w, batch_size=8)
    assert_array_equal(source.weights_of([0, 5, 12]), np.ones(3))
    with pytest.raises(
        ValueError,
        match=rf"sample_weight contains {what} at row 13 \(batch 1, rows 8-15\)",
    ):
        source.weights_of([19, 17, 2, 13])


def test_misaligned_y_and_weights_are_refused(rng, npy):
    X = rng.normal(size=(10, 2))
    with pytest.raises(
        ValueError, match=r"y has 9 rows but X has 10; they must be aligned row by row"
    ):
        BatchSource(X, np.zeros(9))
    with pytest.raises(ValueError, match=r"y has 11 rows but X has 10 \(file .*y.npy"):
        BatchSource(X, npy(np.zeros(11), "y.npy"))
    with pytest.raises(
        ValueError, match=r"sample_weight must be 1-D, got shape \(10, 2\)"
    ):
        BatchSource(X, np.zeros(10), np.ones((10, 2)))
    with pytest.raises(ValueError, match="sample_weight has 3 rows but X has 10"):
        BatchSource(X, np.zeros(10), np.ones(3))
    with pytest.raises(
        ValueError, match=r"y must be 1-D or 2-D, got shape \(10, 1, 1\)"
    ):
        BatchSource(X, np.zeros((10, 1, 1)))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros(5), r"Expected a 2-D X .* got a 1-D array of shape \(5,\)"),
        (np.zeros((2, 3, 4)), r"got a 3-D array of shape \(2, 3, 4\)"),
        (np.zeros((0, 3)), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"),
        (np.zeros((4, 0)), r"0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1"),
        (np.zeros((3, 2), dtype=complex), "Complex data not supported"),
        (np.array([["a", "b"]]), "strings"),
    ],
)
def test_malformed_x_is_refused(X, message):
    with pytest.raises(ValueError, match=message):
        BatchSource(X)


def test_missing_file_and_directory_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"X file '.*nope.npy' does not exist"):
        BatchSource(str(tmp_path / "nope.npy"))
    with pytest.raises(IsADirectoryError, match="is a directory; expected a .npy file"):
        BatchSource(tmp_path)


def test_a_file_that_is_not_npy_is_refused(tmp_path):
    path = tmp_path / "data.txt"  # .csv is a table (open_table)
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="is not a .npy file"):
        BatchSource(path)


def test_truncated_npy_is_refused(tmp_path, npy, rng):
    path = npy(rng.normal(size=(100, 4)))
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - 8 * 4 * 10)
    with pytest.raises(
        ValueError,
        match=r"is truncated: its header announces shape \(100, 4\) of float64 "
        r"\(3200 bytes of data\) but only 2880 bytes follow",
    ):
        BatchSource(path)


class _Exploit:
    """Unpickling this object would create a file."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickled_object_npy_is_refused_and_never_unpickled(tmp_path):
    evidence = tmp_path / "code-ran"
    path = tmp_path / "objects.npy"
    array = np.empty((2, 1), dtype=object)
    array[0, 0] = _Exploit(str(evidence))
    array[1, 0] = 1.0
    np.save(path, array, allow_pickle=True)
    digest = file_digest(path)
    with pytest.raises(ValueError, match=r"holds Python objects \(dtype object\)"):
        BatchSource(path)
    assert not evidence.exists()
    assert file_digest(path) == digest


def test_string_and_complex_memmaps_are_refused(npy):
    with pytest.raises(
        ValueError, match=r"X \(file .*\) has dtype <U1; expected numbers"
    ):
        BatchSource(npy(np.array([["a"], ["b"]])))
    with pytest.raises(ValueError, match="Complex data not supported"):
        BatchSource(npy(np.ones((2, 2), dtype=complex)))


def test_sources_pickle_small_when_memory_mapped(npy, rng):
    # A memmap source refers to its file; reading it back reads the same rows.
    path = npy(rng.normal(size=(20, 2)))
    source = BatchSource(path, batch_size=6)
    back = pickle.loads(pickle.dumps(source))
    assert_array_equal(back.read(2).X, source.read(2).X)


# -- memory -----------------------------------------------------------------


def test_a_fit_from_a_memmap_holds_one_batch_not_the_data(tmp_path, rng):
    n, d, batch_size = 200_000, 10, 2_000
    X = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float64, (n, d))
    for start in range(0, n, 50_000):
        X[start : start + 50_000] = rng.normal(size=(50_000, d))
    X.flush()
    y = np.lib.format.open_memmap(tmp_path / "y.npy", "w+", np.float64, (n,))
    y[:] = 1.0
    y.flush()
    del X, y
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    StreamingRidge(batch_size=batch_size).fit(X[:10], y[:10])  # compile first

    tracemalloc.start()
    try:
        StreamingRidge(batch_size=batch_size, n_jobs=2).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data_bytes = n * d * 8
    batch_bytes = batch_size * (d + 1) * 8
    assert peak < 4 * batch_bytes + 200_000, (peak, batch_bytes)
    assert peak < data_bytes / 20


def test_take_reads_sorted_rows_and_returns_them_as_asked(rng):
    X = rng.normal(size=(50, 2))
    store = RecordingStore(X)
    source = BatchSource(store, batch_size=10)
    rows = [31, 4, 31, 17]
    assert_array_equal(source.take(rows), X[rows])
    assert_array_equal(store.reads[-1], [4, 17, 31])
    with pytest.raises(IndexError, match="rows out of range for a source of 50"):
        source.take([5, -1, 7])


def test_scalar_weight_costs_no_memory_per_row(rng):
    source = BatchSource(rng.normal(size=(1000, 2)), sample_weight=3.0, batch_size=10)
    assert source.sample_weight == 3.0
    assert_array_equal(source.read(99).sample_weight, np.full(10, 3.0))
