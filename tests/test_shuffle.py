"""shuffle_on_disk: an exact, uniform permutation under a memory bound."""

import os
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.stats import binomtest, chisquare

from sklearn_ooc.io import NpyWriter, _shuffle, shuffle_on_disk


def _files(tmp_path, n=5000, d=3):
    X = np.arange(n * d, dtype=np.float64).reshape(n, d)
    y = np.arange(n)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return X, y


@pytest.mark.parametrize("buffer_mb", [0.01, 0.1, 64])
def test_output_is_an_exact_permutation_with_y_aligned(tmp_path, buffer_mb):
    X, y = _files(tmp_path)
    X_path, y_path = shuffle_on_disk(
        tmp_path / "X.npy",
        tmp_path / "y.npy",
        out=tmp_path / "s",
        buffer_mb=buffer_mb,
        random_state=0,
    )
    Xs, ys = np.load(X_path), np.load(y_path)
    assert Xs.shape == X.shape and Xs.dtype == X.dtype
    # Same multiset of rows: none lost, none added.
    assert_array_equal(np.sort(Xs[:, 0]), X[:, 0])
    assert_array_equal(Xs, X[ys])
    assert not np.array_equal(ys, y)


def test_inputs_as_arrays_and_1d_rows(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    X_path, y_path = shuffle_on_disk(
        X, out=tmp_path / "a", buffer_mb=0.005, random_state=1
    )
    assert y_path is None
    out = np.load(X_path)
    assert out.dtype == np.float32
    assert_array_equal(np.sort(out[:, 0]), np.sort(X[:, 0]))
    v_path, _ = shuffle_on_disk(np.arange(50.0), out=tmp_path / "v", random_state=2)
    assert_array_equal(np.sort(np.load(v_path)), np.arange(50.0))


def test_positions_are_uniform(tmp_path):
    # Tag 40 rows, shuffle with 600 seeds and a buffer of 16 rows (three
    # chunks, ten buckets): every row must land in every position equally
    # often, and any two rows be in either order equally often.
    n, seeds = 40, 600
    np.save(tmp_path / "X.npy", np.arange(n, dtype=np.float64)[:, None])
    counts = np.zeros((n, n))
    first_before_last = 0
    for seed in range(seeds):
        path, _ = shuffle_on_disk(
            tmp_path / "X.npy",
            out=tmp_path / "s",
            buffer_mb=16 * (2 * 8 + 16) / 2**20,
            random_state=seed,
            overwrite=True,
        )
        order = np.load(path)[:, 0].astype(int)
        counts[order, np.arange(n)] += 1
        position = np.argsort(order)
        first_before_last += position[0] < position[n - 1]
    p_values = [chisquare(row).pvalue for row in counts]
    assert min(p_values) > 1e-4
    assert binomtest(first_before_last, seeds).pvalue > 1e-4


def test_memory_bound_holds(tmp_path):
    n, d = 40_000, 8  # 2.6 MB of rows
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.normal(size=(n, d)))
    np.save(tmp_path / "y.npy", np.arange(n, dtype=np.float64))
    buffer_mb = 0.25
    # Load the compiled permutation kernel first: code is not rows.
    shuffle_on_disk(np.zeros((4, 2)), out=tmp_path / "warm", random_state=0)
    tracemalloc.start()
    try:
        shuffle_on_disk(
            tmp_path / "X.npy",
            tmp_path / "y.npy",
            out=tmp_path / "s",
            buffer_mb=buffer_mb,
            random_state=0,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The rows held at once stay within the buffer (plus bookkeeping).
    assert peak < buffer_mb * 2**20 + 64 * 1024, peak


@pytest.mark.parametrize(
    "owner, step",
    [
        # The output's writer, on the caller's thread (pass 2).
        (NpyWriter, "write"),
        # Scratch rows written (pass 1) and read back (pass 2) on the I/O
        # thread: its error reaches the caller after the thread has stopped.
        (_shuffle, "_scatter_through"),
        (_shuffle, "_read_rows"),
    ],
)
def test_a_failure_half_way_leaves_no_output_and_no_temporary_files(
    tmp_path, monkeypatch, owner, step
):
    _files(tmp_path)
    before = sorted(os.listdir(tmp_path))
    original = getattr(owner, step)
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(*args)

    monkeypatch.setattr(owner, step, failing)
    with pytest.raises(OSError, match="No space left on device"):
        shuffle_on_disk(
            tmp_path / "X.npy",
            tmp_path / "y.npy",
            out=tmp_path / "s",
            buffer_mb=0.01,
            random_state=0,
        )
    assert len(calls) == 3
    assert sorted(os.listdir(tmp_path)) == before


def test_same_seed_same_permutation(tmp_path):
    _files(tmp_path, n=500)
    a, _ = shuffle_on_disk(tmp_path / "X.npy", out=tmp_path / "a", random_state=7)
    b, _ = shuffle_on_disk(tmp_path / "X.npy", out=tmp_path / "b", random_state=7)
    assert_array_equal(np.load(a), np.load(b))


def test_bad_arguments(tmp_path):
    _files(tmp_path, n=100)
    with pytest.raises(ValueError, match="out is required"):
        shuffle_on_disk(tmp_path / "X.npy")
    with pytest.raises(ValueError, match="y has 99 rows but X has 100"):
        shuffle_on_disk(tmp_path / "X.npy", np.arange(99), out=tmp_path / "s")
    with pytest.raises(ValueError, match="raise it to hold at least 16"):
        shuffle_on_disk(tmp_path / "X.npy", out=tmp_path / "s", buffer_mb=1e-5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        shuffle_on_disk(tmp_path / "nope.npy", out=tmp_path / "s")
    with pytest.raises(TypeError, match="X: rows of Python objects cannot"):
        shuffle_on_disk(np.array([[1, "a"]], dtype=object), out=tmp_path / "s")
    assert not (tmp_path / "s_X.npy").exists()


@pytest.mark.parametrize("evict", [False, True])
def test_npy_writer_files_equal_numpy_save(tmp_path, evict):
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    with NpyWriter(tmp_path / "X.npy", X.shape, X.dtype, evict=evict) as out:
        for start in range(0, 10, 4):
            out.write(X[start : start + 4])
    loaded = np.load(tmp_path / "X.npy")
    assert loaded.dtype == X.dtype
    assert_array_equal(loaded, X)
    assert sorted(os.listdir(tmp_path)) == ["X.npy"]
