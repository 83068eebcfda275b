"""numba kernels against the slow NumPy references of tests/_naive.py."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc import _kernels

from . import _naive


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_targets", [0, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_shifted_weighted_rows(rng, dtype, n_targets, weighted):
    X = (rng.normal(size=(37, 4)) + 1e3).astype(dtype)
    Y = rng.normal(size=(37, n_targets))
    w = rng.uniform(0, 3, size=37) if weighted else np.empty(0)
    shift = rng.normal(size=4 + n_targets) + np.r_[[1e3] * 4, [0.0] * n_targets]
    out = np.full((37, 4 + n_targets), np.nan)

    sums, total = _kernels.shifted_weighted_rows(X, Y, w, shift, out)

    ref_rows, ref_sums, ref_total = _naive.shifted_weighted_rows(X, Y, w, shift)
    assert_allclose(out, ref_rows, rtol=1e-13)
    assert_allclose(sums, ref_sums, rtol=1e-12)
    assert_allclose(total, ref_total, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_first_nonfinite_row(rng, dtype):
    A = rng.normal(size=(20, 3)).astype(dtype)
    assert _kernels.first_nonfinite_row(A) == _naive.first_nonfinite_row(A) == -1
    for row, value in [(13, np.inf), (5, np.nan), (0, -np.inf)]:
        A[row, 1] = value
        assert _kernels.first_nonfinite_row(A) == _naive.first_nonfinite_row(A) == row


def test_first_negative(rng):
    a = rng.uniform(0, 1, size=30)
    assert _kernels.first_negative(a) == -1
    a[[7, 20]] = -1e-300
    assert _kernels.first_negative(a) == _naive.first_negative(a) == 7


def test_kernels_release_the_gil():
    # Batch workers run kernels on threads: they must be compiled nogil.
    for kernel in (
        _kernels.shifted_weighted_rows,
        _kernels.column_sums_and_cross,
        _kernels.first_nonfinite_row,
        _kernels.first_negative,
    ):
        assert kernel.targetoptions.get("nogil") is True
        assert type(kernel._cache).__name__ == "FunctionCache"


def test_shifted_rows_unit_weights_equal_explicit_ones(rng):
    X = rng.normal(size=(9, 3))
    Y = np.empty((9, 0))
    out1, out2 = np.empty((9, 3)), np.empty((9, 3))
    s1, t1 = _kernels.shifted_weighted_rows(X, Y, np.empty(0), np.zeros(3), out1)
    s2, t2 = _kernels.shifted_weighted_rows(X, Y, np.ones(9), np.zeros(3), out2)
    assert_array_equal(out1, out2)
    assert_array_equal(s1, s2)
    assert t1 == t2 == 9


@pytest.mark.parametrize("n_targets", [0, 1, 3])
def test_column_sums_and_cross(rng, n_targets):
    X = rng.normal(size=(41, 5))
    Y = rng.normal(size=(41, n_targets))
    x_sums, y_sums, xy, yy = _kernels.column_sums_and_cross(X, Y)
    assert_allclose(x_sums, X.sum(axis=0), rtol=1e-12)
    assert_allclose(y_sums, Y.sum(axis=0), rtol=1e-12)
    assert_allclose(xy, X.T @ Y, rtol=1e-12)
    assert_allclose(yy, Y.T @ Y, rtol=1e-12)
