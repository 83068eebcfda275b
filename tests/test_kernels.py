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
@pytest.mark.parametrize("n_targets", [0, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_least_squares_rows_are_numpys_bit_for_bit(
    rng, dtype, n_targets, weighted, order
):
    X = (rng.normal(size=(37, 4)) + 1e3).astype(dtype)
    Y = rng.normal(size=(37, n_targets))
    root = np.sqrt(rng.uniform(0, 3, size=37)) if weighted else np.empty(0)
    x_shift, y_shift = X[:5].mean(axis=0, dtype=np.float64), rng.normal(size=n_targets)
    out = np.full((37, 5 + n_targets), np.nan, order=order)

    _kernels.least_squares_rows(X, Y, root, x_shift, y_shift, out)

    # What the summary of a linear regression built with numpy before.
    expected = np.empty((37, 5 + n_targets))
    expected[:, 0] = root if weighted else 1.0
    np.subtract(X, x_shift, out=expected[:, 1:5])
    np.subtract(Y, y_shift, out=expected[:, 5:])
    if weighted:
        expected[:, 1:] *= root[:, None]
    assert_array_equal(out, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_centered_columns_and_their_sums_are_numpys(rng, dtype, order):
    X = (rng.normal(size=(37, 4)) * [1, 1e3, 1e-3, 1] + 1e6).astype(dtype)
    shift = X[0].astype(np.float64)
    delta, again = rng.normal(size=4), rng.normal(size=4) * 1e-9
    sums = np.zeros(4)
    _kernels.shifted_column_sums(X, shift, delta, sums)
    out = np.full((37, 4), np.nan, order=order)
    _kernels.centered_columns(X, shift, delta, again, out)
    # What RootMoments.of_rows computed with numpy before, bit for bit.
    rows = np.empty((37, 4))
    np.subtract(X, shift, out=rows)
    rows -= delta
    assert_allclose(sums, rows.sum(axis=0), rtol=1e-12, atol=1e-12 * np.abs(rows).max())
    rows -= again
    assert_array_equal(out, rows)


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
    assert len(_kernels.__all__) >= 19
    for name in _kernels.__all__:
        kernel = getattr(_kernels, name)
        assert kernel.targetoptions.get("nogil") is True, name
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


def _gaussian_problem(rng, k=3, d=4, n=50):
    X = rng.normal(size=(n, d)) * 2
    means = rng.normal(size=(k, d))
    covariances = []
    for _ in range(k):
        a = rng.normal(size=(d, d))
        covariances.append(a @ a.T + d * np.eye(d))
    return X, means, np.array(covariances), rng.dirichlet(np.ones(k))


def _upper_factors(covariances):
    from scipy import linalg

    return np.array(
        [
            linalg.solve_triangular(np.linalg.cholesky(c), np.eye(len(c)), lower=True).T
            for c in covariances
        ]
    )


# 150 rows: the EM kernels take log-densities in chunks of 64 rows.
@pytest.mark.parametrize("n", [50, 150])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_projected_kernels_against_densities(rng, dtype, n):
    X, means, covariances, weights = _gaussian_problem(rng, n=n)
    X = X.astype(dtype)
    k, d = means.shape
    factors = _upper_factors(covariances)
    log_det = np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
    log_const = np.log(weights) + log_det - 0.5 * d * np.log(2 * np.pi)
    center = means.mean(axis=0)
    xc = np.empty(X.shape)
    _kernels.subtract_shift(X, center, xc)
    assert_allclose(xc, X.astype(np.float64) - center, rtol=1e-15)
    stacked = np.concatenate(list(factors), axis=1)
    z = xc @ stacked
    offsets = np.einsum("kj,kjl->kl", means - center, factors)
    expected = _naive.log_gaussian(X.astype(np.float64), means, covariances) + np.log(
        weights
    )

    out = np.empty((len(X), k))
    _kernels.projected_log_prob(z, offsets, log_const, d, out)
    assert_allclose(out, expected, rtol=1e-12)

    shifts = means + 0.25
    rows = np.empty((k, len(X), d))
    resp_sum, sums = np.zeros(k), np.zeros((k, d))
    loglik = _kernels.projected_em_rows(
        z, offsets, log_const, d, xc, shifts - center, rows, resp_sum, sums
    )
    resp, lse = _naive.responsibilities(expected)
    counts, ref_sums, ref_scatter = _naive.em_sums(X.astype(np.float64), resp, shifts)
    assert_allclose(loglik, lse.sum(), rtol=1e-12)
    assert_allclose(resp_sum, counts, rtol=1e-12)
    assert_allclose(sums, ref_sums, rtol=1e-11, atol=1e-12)
    scatter = np.einsum("kij,kil->kjl", rows, rows)
    assert_allclose(scatter, ref_scatter, rtol=1e-11)


def test_tied_projection_uses_one_factor(rng):
    X, means, covariances, weights = _gaussian_problem(rng)
    k, d = means.shape
    factor = _upper_factors(covariances[:1])[0]
    log_const = (
        np.log(weights) + np.log(np.diag(factor)).sum() - 0.5 * d * np.log(2 * np.pi)
    )
    out = np.empty((len(X), k))
    _kernels.projected_log_prob(X @ factor, means @ factor, log_const, 0, out)
    expected = _naive.log_gaussian(X, means, [covariances[0]] * k) + np.log(weights)
    assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("n", [50, 150])
def test_diagonal_kernels_against_densities(rng, n):
    X, means, _, weights = _gaussian_problem(rng, n=n)
    k, d = means.shape
    variances = rng.uniform(0.5, 2, size=(k, d))
    precisions = 1 / np.sqrt(variances)
    log_const = (
        np.log(weights) + np.log(precisions).sum(axis=1) - 0.5 * d * np.log(2 * np.pi)
    )
    expected = _naive.log_gaussian(X, means, [np.diag(v) for v in variances]) + np.log(
        weights
    )
    out = np.empty((len(X), k))
    _kernels.diag_log_prob(X, means, precisions, log_const, out)
    assert_allclose(out, expected, rtol=1e-12)

    shifts = means - 0.5
    resp_sum, sums, squares = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
    loglik = _kernels.diag_em_rows(
        X, means, precisions, log_const, shifts, resp_sum, sums, squares
    )
    resp, lse = _naive.responsibilities(expected)
    counts, ref_sums, ref_scatter = _naive.em_sums(X, resp, shifts)
    assert_allclose(loglik, lse.sum(), rtol=1e-12)
    assert_allclose(resp_sum, counts, rtol=1e-12)
    assert_allclose(sums, ref_sums, rtol=1e-11, atol=1e-12)
    assert_allclose(squares, np.diagonal(ref_scatter, axis1=1, axis2=2), rtol=1e-11)


def test_rows_without_density_get_no_weight():
    lp = np.full((1, 2), -np.inf)
    z = np.zeros((1, 2))
    rows = np.empty((2, 1, 1))
    resp_sum, sums = np.zeros(2), np.zeros((2, 1))
    loglik = _kernels.projected_em_rows(
        z[:, :1],
        np.zeros((2, 1)),
        lp[0],
        0,
        z[:, :1],
        np.zeros((2, 1)),
        rows,
        resp_sum,
        sums,
    )
    assert loglik == -np.inf
    assert_array_equal(resp_sum, [0.0, 0.0])


def test_nearest_center(rng):
    X = rng.normal(size=(30, 3))
    centers = rng.normal(size=(4, 3))
    out = np.empty(30, dtype=np.intp)
    _kernels.nearest_center(X, centers, out)
    expected = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert_array_equal(out, expected)


@pytest.mark.parametrize("n", [0, 1, 2, 37])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int8, "U3"])
def test_permute_rows_inplace_equals_fancy_indexing(rng, n, dtype):
    rows = rng.integers(0, 100, size=(n, 5)).astype(dtype)
    perm = rng.permutation(n)
    expected = rows[perm]
    _kernels.permute_rows_inplace(rows.view(np.uint8), perm)
    assert_array_equal(rows, expected)


def _sgd_rows(X, Y, rows, w, *, loss, penalty, alpha, eta0, schedule, floor):
    """Run ``sgd_rows`` from zero weights, one model a column of ``Y``;
    returns the folded weights, the intercepts and the step counts."""
    from sklearn_ooc._kernels import _sgd

    c, d = Y.shape[1], X.shape[1]
    W, AW, Q = np.zeros((c, d)), np.zeros((c, d)), np.zeros((c, d))
    wscale, avg_b, t = np.ones(c), np.ones(c), np.ones(c)
    intercept, avg_a, avg_intercept, u = (np.zeros(c) for _ in range(4))
    sq_norm, l1_norm, sumloss, objective = (np.zeros(c) for _ in range(4))
    eta, count = np.full(c, eta0), np.zeros(c, dtype=np.int64)
    code, param = {
        "hinge": (_sgd.LOSS_HINGE, 1.0),
        "log_loss": (_sgd.LOSS_LOG, 0.0),
        "squared_error": (_sgd.LOSS_SQUARED_ERROR, 0.0),
    }[loss]
    _kernels.sgd_rows(
        X, Y, w, rows, np.ones(c, dtype=bool), W, wscale, intercept, AW, avg_a,
        avg_b, avg_intercept, Q, u, sq_norm, l1_norm, eta, t, sumloss, objective,
        count, np.ones(c), np.ones(c), code, param,
        {"l2": _sgd.PENALTY_L2, "l1": _sgd.PENALTY_L1}[penalty], alpha, 0.15,
        {"constant": _sgd.LR_CONSTANT, "optimal": _sgd.LR_OPTIMAL,
         "invscaling": _sgd.LR_INVSCALING}[schedule],
        eta0, 0.5, 2.0, True, 1.0, 0.0, True, floor, False,
    )  # fmt: skip
    _kernels.reset_wscale(W, wscale, AW, avg_a, avg_b, False)
    assert_array_equal(wscale, 1.0)
    assert_array_equal(count, len(rows))
    return W, intercept, t


@pytest.mark.parametrize("loss", ["hinge", "log_loss", "squared_error"])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
@pytest.mark.parametrize("schedule", ["constant", "optimal", "invscaling"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_rows_is_the_plain_per_row_step(rng, loss, penalty, schedule, dtype):
    # Two models (one a column of Y) over the rows in a shuffled order, with
    # a row repeated and one left out; a wscale floor of 0.999 folds the scale
    # into the weights every few steps, which must not change them.
    X = rng.normal(size=(30, 4)).astype(dtype)
    labels = rng.integers(0, 2, size=(30, 2)).astype(np.float64)
    targets = {
        "hinge": 2 * labels - 1,
        "log_loss": labels,
        "squared_error": X @ rng.normal(size=(4, 2)) + rng.normal(size=(30, 2)),
    }
    Y = np.ascontiguousarray(targets[loss], dtype=np.float64)
    w = rng.uniform(0.5, 2.0, size=30)
    rows = np.r_[rng.permutation(29), 3, 3]
    params = dict(loss=loss, penalty=penalty, alpha=0.05, eta0=0.05)
    results = [
        _sgd_rows(X, Y, rows, w, schedule=schedule, floor=floor, **params)
        for floor in (1e-9, 0.999)
    ]
    for k in range(2):
        coef, intercept, t = _naive.sgd_rows(
            X, Y[:, k], rows, np.zeros(4), 0.0, learning_rate=schedule,
            power_t=0.5, optimal_init=2.0, sample_weight=w, **params,
        )  # fmt: skip
        for W, b, steps in results:
            assert_allclose(W[k], coef, rtol=1e-12, atol=1e-14)
            assert_allclose(b[k], intercept, rtol=1e-12, atol=1e-14)
            assert steps[k] == t == len(rows) + 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("streaming", [False, True])
def test_rows_from_columns_equals_column_assignment(rng, dtype, streaming):
    k, sizes = 4, [3, 0, 17]
    parts = [
        [(rng.normal(size=m) * 100).astype(dtype) for _ in range(k)] for m in sizes
    ]
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    expected = np.empty((bounds[-1], k), dtype=dtype)
    for s, part in enumerate(parts):
        for j, column in enumerate(part):
            expected[bounds[s] : bounds[s + 1], j] = column
    addresses = np.array([[c.ctypes.data for c in p] for p in parts], dtype=np.uint64)
    lengths = np.array([[c.shape[0] for c in p] for p in parts], dtype=np.int64)
    out = np.zeros_like(expected)
    _kernels.rows_from_columns(out, addresses, lengths, bounds, streaming)
    assert_array_equal(out, expected)

    # Lengths that disagree with the bounds, or rows not in C order: refused
    # before anything is written.
    out[:] = 0
    lengths[2, 1] = 16
    with pytest.raises(ValueError, match="a buffer has other rows"):
        _kernels.rows_from_columns(out, addresses, lengths, bounds, streaming)
    lengths[2, 1] = 17
    fortran = np.zeros_like(expected, order="F")
    with pytest.raises(ValueError, match="out, bounds and the buffers differ"):
        _kernels.rows_from_columns(fortran, addresses, lengths, bounds, streaming)
    assert not out.any() and not fortran.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("width", [5, 6, 8])
def test_subtract_shift_into_rows_with_constant_columns(rng, dtype, width):
    # Logistic regression's design rows: shifted, with the intercept's column.
    X = (rng.normal(size=(9, 5)) + 1e6).astype(dtype)
    shift = X[:3].mean(axis=0, dtype=np.float64)
    out = np.full((9, width), np.nan)
    _kernels.subtract_shift(X, shift, out, 2.5)
    assert_array_equal(out[:, :5], X.astype(np.float64) - shift)
    assert_array_equal(out[:, 5:], 2.5)


@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_rows_match_scipy(rng, weighted):
    # Scores far on both sides: log_expit without overflow, p at 0 and 1.
    Z = rng.normal(size=(40, 4))
    scores = rng.normal(size=40) * 5
    scores[:4] = [-800.0, 800.0, -40.0, 40.0]
    positive = rng.random(40) < 0.5
    positive[:4] = [True, False, False, True]
    w = rng.uniform(0, 2, size=40) if weighted else np.ones(40)
    loss, gradient, scaled = _naive.logistic_rows(Z, scores, positive, w)
    start = rng.normal(size=4)
    total = start.copy()
    ours = _kernels.logistic_rows(Z, scores, positive, w, total)
    assert_allclose(ours, loss, rtol=1e-13)
    assert np.isfinite(ours) and ours > 800 * w[0]
    assert_allclose(total - start, gradient, rtol=1e-12, atol=1e-13)
    assert_allclose(Z, scaled, rtol=1e-14, atol=0)
    assert_array_equal(Z[:2], 0.0)
