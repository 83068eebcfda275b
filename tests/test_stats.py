"""Sufficient statistics: exact against two-pass references, stable merges."""

import pickle
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import r2_score

from sklearn_ooc import _stats
from sklearn_ooc._blas import QR_CHUNK_ROWS
from sklearn_ooc._stats import (
    Moments,
    RegressionScore,
    RootMoments,
    Workspace,
    moments_of_rows,
)

from . import _naive


def _merged(Z, cuts, w=None):
    bounds = [0, *sorted(cuts), Z.shape[0]]
    total = Moments.zero(Z.shape[1])
    for a, b in pairwise(bounds):
        total += moments_of_rows(Z[a:b], sample_weight=None if w is None else w[a:b])
    return total


def _assert_moments_equal(m, weight, mean, scatter, rtol=1e-12):
    assert_allclose(m.weight, weight, rtol=rtol)
    assert_allclose(m.mean, mean, rtol=rtol)
    scale = np.sqrt(np.outer(np.diag(scatter), np.diag(scatter)))
    assert_allclose(m.scatter / scale, scatter / scale, rtol=0, atol=rtol)


@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_moments_of_rows_match_two_pass(rng, offset, dtype):
    X = (rng.normal(size=(500, 4)) + offset).astype(dtype)
    Y = rng.normal(size=(500, 2))
    w = rng.uniform(0, 2, size=500)
    m = moments_of_rows(X, Y, w)
    _assert_moments_equal(m, *_naive.weighted_moments(np.hstack([X, Y]), w))
    assert m.count == 500


def _chunks_of(monkeypatch, rows, width):
    """Make moments_of_rows sum ``rows`` rows of ``width`` columns at a time."""
    if rows is not None:
        monkeypatch.setattr(_stats, "_CHUNK_BYTES", 8 * width * rows)


@pytest.mark.parametrize("chunk_rows", [1, 7, 64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_moments_of_rows_summed_in_chunks(
    rng, monkeypatch, chunk_rows, offset, weighted
):
    # A batch is summed a chunk of rows at a time, each chunk's products and
    # sums taken while it is in cache: the moments are the whole batch's, and
    # shifted rows need a buffer of one chunk only.
    X = rng.normal(size=(300, 4)) + offset
    Y = rng.normal(size=(300, 2))
    w = rng.uniform(0, 2, size=300) if weighted else None
    _chunks_of(monkeypatch, chunk_rows, 6)
    ws = Workspace()
    m = moments_of_rows(X, Y, w, workspace=ws)
    _assert_moments_equal(m, *_naive.weighted_moments(np.hstack([X, Y]), w))
    assert m.count == 300
    if offset or weighted:
        assert ws._buffers["shifted_rows"].shape == (chunk_rows, 6)
    else:
        assert ws._buffers == {}


def test_shifted_rows_reuse_the_workspace_buffer(rng):
    ws = Workspace()
    X = rng.normal(size=(50, 3)) + 1e3
    moments_of_rows(X, workspace=ws)
    buffer = ws._buffers["shifted_rows"]
    moments_of_rows(X[:20], workspace=ws)
    assert ws._buffers["shifted_rows"] is buffer


def test_rows_near_the_origin_are_not_copied(rng):
    # Unweighted float64 rows within a standard deviation of the origin use
    # zero as their shift: X.T @ X runs on the batch itself.
    ws = Workspace()
    X, Y = rng.normal(size=(300, 4)), rng.normal(size=(300, 2))
    m = moments_of_rows(X, Y, workspace=ws)
    assert ws._buffers == {}
    _assert_moments_equal(m, *_naive.weighted_moments(np.hstack([X, Y])))


@pytest.mark.parametrize("weighted", [False, True])
def test_a_misleading_head_is_centered_again(rng, weighted):
    # Sorted data: the first rows sit near 0, the rest near 1e6.
    X = np.sort(rng.normal(size=(400, 2)) * 1e6, axis=0)
    X[64:] += 1e6
    w = rng.uniform(0.5, 1, size=400) if weighted else None
    m = moments_of_rows(X, sample_weight=w)
    _assert_moments_equal(m, *_naive.weighted_moments(X, w))


@given(
    n=st.integers(2, 60),
    cuts=st.lists(st.integers(1, 59), max_size=6),
    offset=st.sampled_from([0.0, 1e6]),
    seed=st.integers(0, 2**16),
)
def test_any_partition_gives_the_same_moments(n, cuts, offset, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3)) + offset
    w = rng.uniform(0, 2, size=n)
    cuts = [c for c in cuts if c < n]
    weight, mean, scatter = _naive.weighted_moments(Z, w)
    _assert_moments_equal(_merged(Z, cuts, w), weight, mean, scatter, rtol=1e-11)


def test_one_row_batches_of_offset_data_keep_every_digit(rng):
    # 2000 merges of single rows of data at 1e6: without the compensated mean
    # the mean drifts by about sqrt(2000) roundings.
    Z = rng.normal(size=(2000, 3)) + 1e6
    merged = _merged(Z, range(1, 2000))
    weight, mean, scatter = _naive.weighted_moments(Z)
    exact_mean = np.array(
        [np.sum(Z[:, j].astype(np.longdouble)) / 2000 for j in range(3)]
    )
    assert_allclose(merged.mean, exact_mean.astype(float), rtol=2e-16)
    _assert_moments_equal(merged, weight, mean, scatter, rtol=1e-11)


@given(seed=st.integers(0, 2**16))
def test_merge_is_associative_and_commutative(seed):
    rng = np.random.default_rng(seed)
    a, b, c = (moments_of_rows(rng.normal(size=(k, 3)) + 5) for k in (3, 8, 5))
    left, right = (a + b) + c, a + (b + c)
    for m in (right, b + a + c, c + b + a):
        assert_allclose(m.mean, left.mean, rtol=1e-14)
        assert_allclose(m.scatter, left.scatter, rtol=1e-12)
        assert m.count == left.count == 16


def test_zero_weight_rows_change_nothing(rng):
    Z = rng.normal(size=(30, 3))
    w = rng.uniform(0.5, 2, size=30)
    extra = rng.normal(size=(10, 3)) * 1e3
    with_zeros = moments_of_rows(
        np.vstack([Z, extra]), sample_weight=np.r_[w, np.zeros(10)]
    )
    plain = moments_of_rows(Z, sample_weight=w)
    _assert_moments_equal(with_zeros, plain.weight, plain.mean, plain.scatter)
    assert with_zeros.count == 40


def test_integer_weight_equals_repeated_rows(rng):
    Z = rng.normal(size=(12, 2))
    k = rng.integers(0, 4, size=12)
    weighted = moments_of_rows(Z, sample_weight=k.astype(float))
    repeated = moments_of_rows(np.repeat(Z, k, axis=0))
    _assert_moments_equal(weighted, repeated.weight, repeated.mean, repeated.scatter)


def test_float32_input_gives_the_float64_result(rng):
    Z32 = rng.normal(size=(100, 3)).astype(np.float32)
    m32, m64 = moments_of_rows(Z32), moments_of_rows(Z32.astype(np.float64))
    assert_allclose(m32.mean, m64.mean, rtol=1e-15)
    assert_allclose(m32.scatter, m64.scatter, rtol=1e-13)


@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_single_takes_float32_products_within_float32_rounding(rng, offset, weighted):
    n = 5000
    X = (rng.normal(size=(n, 4)) * [1, 10, 0.1, 1] + offset).astype(np.float32)
    Y = rng.normal(size=(n, 2)).astype(np.float32)
    w = rng.uniform(0, 2, size=n) if weighted else None
    ws = Workspace()
    single = moments_of_rows(X, Y, w, ws, single=True)
    wide = moments_of_rows(X, Y, w)
    # Chunks of at most 1024 rows multiplied in float32 ...
    rows = ws._buffers["shifted_rows"]
    assert rows.dtype == np.float32 and rows.shape == (1024, 6)
    # ... about the same shift, summed in float64: the sums, so the mean, are
    # the float64 ones, and the scatter is within float32's rounding (6e-8
    # for a product, more for a chunk's float32 sum of 1024 of them).
    assert_allclose(single.weight, wide.weight, rtol=1e-15)
    spread = np.sqrt(np.diag(wide.scatter) / wide.weight)
    assert_allclose(single.mean, wide.mean, rtol=1e-15, atol=1e-15 * spread.max())
    error = np.abs(single.scatter - wide.scatter) / np.outer(spread, spread)
    assert 0 < error.max() / wide.weight <= 1e-5
    # float64 rows are multiplied in float64 whatever ``single`` says.
    X64 = X.astype(np.float64)
    assert_array_equal(
        moments_of_rows(X64, Y, w, single=True).scatter,
        moments_of_rows(X64, Y, w).scatter,
    )


@pytest.mark.parametrize("spread", [1e13, 1e-13])
def test_single_multiplies_rows_beyond_float32s_range_in_float64(rng, spread):
    # Squares of 1e13 would pass 2**80 and of 1e-13 fall below 2**-80, where
    # float32 sums of products overflow or lose digits: such a batch is
    # multiplied in float64, the same moments as without ``single``.
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    X[:, 1] *= np.float32(spread)
    single = moments_of_rows(X, single=True)
    wide = moments_of_rows(X)
    assert_array_equal(single.scatter, wide.scatter)
    assert_array_equal(single.mean, wide.mean)


def test_adding_returns_a_new_object_and_leaves_operands(rng):
    a = moments_of_rows(rng.normal(size=(5, 2)))
    b = moments_of_rows(rng.normal(size=(7, 2)))
    a_before = pickle.dumps(a)
    total = a + b
    assert total is not a and pickle.dumps(a) == a_before
    assert total.count == 12


def test_zero_is_neutral(rng):
    m = moments_of_rows(rng.normal(size=(9, 3)) + 1e6)
    for total in (Moments.zero(3) + m, m + Moments.zero(3)):
        assert_array_equal(total.mean, m.mean)
        assert_array_equal(total.scatter, m.scatter)
        assert total.count == m.count


def test_stacked_and_diagonal_moments_merge_per_set(rng):
    # Leading dimensions are independent sets (components, classes).
    Z = rng.normal(size=(40, 3)) + 100
    resp = rng.uniform(size=(40, 2))

    def stacked(rows, r):
        sets = [_naive.weighted_moments(rows, r[:, k]) for k in range(2)]
        return Moments(
            len(rows),
            np.array([s[0] for s in sets]),
            np.array([s[1] for s in sets]),
            np.array([np.diag(s[2]) for s in sets]),
        )

    merged = stacked(Z[:15], resp[:15]) + stacked(Z[15:], resp[15:])
    whole = stacked(Z, resp)
    assert merged.diagonal
    assert_allclose(merged.weight, whole.weight, rtol=1e-14)
    assert_allclose(merged.mean, whole.mean, rtol=1e-13)
    assert_allclose(merged.scatter, whole.scatter, rtol=1e-11)


def test_merging_mismatched_moments_is_refused(rng):
    with pytest.raises(ValueError, match="cannot merge moments of shape"):
        moments_of_rows(rng.normal(size=(4, 2))) + moments_of_rows(
            rng.normal(size=(4, 3))
        )


def test_covariance_divides_by_weight(rng):
    Z = rng.normal(size=(25, 2))
    m = moments_of_rows(Z)
    assert_allclose(m.covariance(ddof=1), np.cov(Z.T), rtol=1e-12)
    assert_array_equal(Moments.zero(2).covariance(), np.zeros((2, 2)))


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_regression_score_equals_r2_score(rng, n_outputs, weighted):
    y = rng.normal(size=(60, n_outputs)) + 1e5
    pred = y + rng.normal(size=y.shape)
    w = rng.uniform(0, 2, size=60) if weighted else None
    parts = [
        RegressionScore.of_batch(y[a:b], pred[a:b], None if w is None else w[a:b])
        for a, b in [(0, 1), (1, 25), (25, 60)]
    ]
    total = parts[0] + parts[1] + parts[2]
    expected = r2_score(y, pred, sample_weight=w)
    assert_allclose(total.r2(), expected, rtol=1e-10)


def test_regression_score_of_constant_targets_is_forced_finite():
    y = np.full((4, 2), 3.0)
    pred = np.array([[3.0, 3.0], [3.0, 3.0], [3.0, 4.0], [3.0, 3.0]])
    assert RegressionScore.of_batch(y, pred).r2() == r2_score(y, pred) == 0.5


def test_statistics_pickle(rng):
    m = moments_of_rows(rng.normal(size=(6, 2)))
    back = pickle.loads(pickle.dumps(m))
    assert_array_equal(back.scatter, m.scatter)
    assert_array_equal(back.mean_error, m.mean_error)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_root_moments_give_the_svd_of_the_centered_rows(rng, offset):
    # Near-duplicate columns: a singular value 1e-9 of the largest, which an
    # eigen-decomposition of the scatter cannot resolve (it has them only to
    # eps times the largest squared).
    X = rng.normal(size=(200, 4))
    X[:, 3] = X[:, 0] + 1e-9 * rng.normal(size=200)
    X += offset
    parts = [RootMoments.of_rows(X[a:b]) for a, b in [(0, 3), (3, 90), (90, 200)]]
    merged = parts[0] + parts[1] + parts[2]
    assert merged.count == 200
    centered = (X - offset) - (X - offset).mean(axis=0)
    _, expected, expected_vectors = np.linalg.svd(centered)
    values, vectors = merged.spectrum()
    # An SVD has every singular value to eps times the largest; at the offset
    # the rows themselves are only defined to eps * 1e6.
    quantum = np.spacing(offset) if offset else np.finfo(float).eps
    assert_allclose(values, expected, rtol=0, atol=100 * quantum * expected[0])
    assert values[-1] > 0.5 * expected[-1]
    assert_allclose(np.abs(vectors[:3]), np.abs(expected_vectors[:3]), atol=1e-8)
    # numpy's own mean is accurate to a few eps times the largest row entry.
    truth = offset + (X - offset).mean(axis=0)
    assert_allclose(merged.mean, truth, rtol=0, atol=4 * quantum * np.abs(X).max())
    assert_allclose(merged.scatter, centered.T @ centered, atol=1e-9 * 200)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("workspace", [False, True])
def test_root_moments_of_rows_of_several_chunks(rng, dtype, workspace):
    # Rows centered and factored a chunk of QR_CHUNK_ROWS at a time: two
    # chunks and a piece, at 1e6, against numpy's centering and QR.
    n = 2 * QR_CHUNK_ROWS + 37
    X = (rng.normal(size=(n, 5)) * [1, 10, 1e-3, 1, 5] + 1e6).astype(dtype)
    stats = RootMoments.of_rows(X, workspace=Workspace() if workspace else None)
    rows = X.astype(np.float64)
    centered = rows - rows.mean(axis=0)
    # In float32 the third column is constant (1e6 to float32's spacing):
    # below its zero the factor is not unique, its product and spectrum are.
    expected = np.linalg.svd(centered, compute_uv=False)
    scale = expected[0]
    assert stats.count == n
    product = stats.root.T @ stats.root
    assert_allclose(product, centered.T @ centered, rtol=0, atol=1e-12 * scale**2)
    assert_allclose(stats.spectrum()[0], expected, rtol=0, atol=1e-12 * scale)
    assert np.all(np.diagonal(stats.root) >= 0)
    assert_array_equal(np.tril(stats.root, -1), 0.0)
    # numpy's own mean is accurate to a few eps times the largest entry.
    truth = 1e6 + (rows - 1e6).mean(axis=0)
    assert_allclose(stats.mean, truth, rtol=0, atol=4 * np.spacing(1e6))


def test_root_moments_merge_in_any_order_to_the_same_factor(rng):
    X = rng.normal(size=(50, 3)) + 1e6
    a, b, c = (
        RootMoments.of_rows(X[s]) for s in (slice(0, 7), slice(7, 30), slice(30, 50))
    )
    left, right = (a + b) + c, a + (b + c)
    swapped = c + (b + a)
    for other in (right, swapped):
        assert_allclose(other.root, left.root, rtol=1e-12, atol=1e-12 * left.root.max())
        assert_allclose(other.mean, left.mean, rtol=1e-15)
    # The R factor has a non-negative diagonal: unique, the Cholesky factor.
    assert np.all(np.diagonal(left.root) >= 0)
    empty = RootMoments.of_rows(X[:0])
    assert_array_equal((left + empty).root, left.root)
    assert (empty + left).count == 50


@pytest.mark.parametrize("kind", ["Moments", "RootMoments"])
def test_merged_mean_steps_from_the_larger_set(kind):
    # One row at 1 and a thousand at 0: the mean is 1/1001 to the last digit
    # in both orders. Stepping from the single row by a share of 1000/1001
    # would leave a rounding of 1 in it (2e-13 relative).
    of_rows = moments_of_rows if kind == "Moments" else RootMoments.of_rows
    one, many = of_rows(np.ones((1, 1))), of_rows(np.zeros((1000, 1)))
    for merged in (one + many, many + one):
        assert abs(merged.mean[0] - 1 / 1001) <= 2 * np.finfo(float).eps / 1001


# -- rows whose products leave float64's range -----------------------------------


def _batches(Z, Y, w, cuts, rescale=True):
    """moments_of_rows of consecutive slices of the rows, merged."""
    bounds = [0, *cuts, Z.shape[0]]
    parts = [
        moments_of_rows(Z[a:b], Y[a:b], None if w is None else w[a:b], rescale=rescale)
        for a, b in pairwise(bounds)
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


@pytest.mark.parametrize("k", [600, 450, -450, -600])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cuts", [[], [1, 40, 41, 90]])
@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_rescaled_moments_are_those_of_the_rows_scaled_back(
    rng, monkeypatch, k, weighted, cuts, chunk_rows
):
    # X * 2**k: products beyond 2**1024 (or below the normal numbers) in
    # float64. Scaled by powers of two, which round nothing, the statistics
    # are those of X itself, scaled: no overflow to inf, no underflow to 0.
    # Summed in chunks, the scales are found over the whole batch.
    _chunks_of(monkeypatch, chunk_rows, 4)
    X = rng.normal(size=(120, 3)) * [1.0, 3.0, 0.5] + [0.0, 2.0, -1.0]
    Y = X @ [[1.0], [-1.0], [2.0]] + rng.normal(size=(120, 1))
    w = rng.uniform(0.5, 2, size=120) if weighted else None
    scaled = _batches(X * 2.0**k, Y, w, cuts)
    plain = _batches(X, Y, w, cuts, rescale=False)
    assert np.all(scaled.exponents[:3] != 0) and scaled.exponents[3] == 0
    assert_array_equal(plain.exponents, 0)
    # The scatter of the rows scaled back: that of X in its first 3 columns.
    back = scaled.scatter_at(np.array([k, k, k, 0]))
    assert np.all(np.isfinite(scaled.scatter))
    if weighted and not cuts:
        # The same path through the same arithmetic, up to powers of two.
        assert_array_equal(back, plain.scatter)
        assert_array_equal(scaled.mean, plain.mean * 2.0 ** np.r_[k, k, k, 0])
    unit = 2.0 ** -np.r_[k, k, k, 0]
    assert_allclose(scaled.mean * unit, plain.mean, rtol=1e-13)
    _assert_moments_equal(
        Moments(120, scaled.weight, scaled.mean * unit, back),
        *_naive.weighted_moments(np.hstack([X, Y]), w),
    )


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_rescaled_moments_of_mixed_scales_and_zero_columns(
    rng, monkeypatch, chunk_rows
):
    # One column far beyond float64's squares, one far below, one of zeros,
    # one of exact +-1e-200 pairs (zero sum, squares 0 in float64), one
    # constant: each keeps its own scale, and only the out-of-range ones move.
    _chunks_of(monkeypatch, chunk_rows, 5)
    n = 200
    X = rng.normal(size=(n, 5))
    X[:, 0] *= 1e200
    X[:, 1] *= 1e-200
    X[:, 2] = 0.0
    X[:, 3] = np.where(np.arange(n) % 2, 1e-200, -1e-200)
    X[:, 4] = 7.0
    for w in (None, rng.uniform(0.5, 2, size=n)):
        m = moments_of_rows(X, sample_weight=w, rescale=True)
        assert m.exponents[0] > 600 and m.exponents[1] < -600
        assert m.exponents[3] < -600
        assert_array_equal(m.exponents[[2, 4]], 0)
        assert_array_equal(np.diagonal(m.scatter)[[2, 4]], 0.0)
        unit = X / [1e200, 1e-200, 1.0, 1e-200, 1.0]
        weight, mean, scatter = _naive.weighted_moments(unit, w)
        exponent = np.frexp([1e200, 1e-200, 1.0, 1e-200, 1.0])[1] - 1
        back = m.scatter_at(exponent) / np.outer(
            *[np.ldexp([1e200, 1e-200, 1.0, 1e-200, 1.0], -exponent)] * 2
        )
        assert_allclose(back[:2, :2], scatter[:2, :2], rtol=1e-12)
        assert_allclose(back[3, 3], scatter[3, 3], rtol=1e-12)
        assert_allclose(m.mean[[0, 1, 4]], (mean * [1e200, 1e-200, 1, 0, 1])[[0, 1, 4]])


@pytest.mark.parametrize("scale", [1e200, 1e-200, 2.0**600], ids=str)
def test_statistics_without_scales_refuse_to_overflow(rng, scale):
    # The statistics of callers that read the scatter as it is (no rescale)
    # raise a ValueError naming the columns instead of holding inf or NaN.
    X = rng.normal(size=(50, 3))
    X[:, 1] *= scale
    if scale < 1:
        # Below float64's squares: nothing overflows; the loss is the
        # caller's to judge (a covariance regularized, e.g.).
        assert np.all(np.isfinite(moments_of_rows(X).scatter))
        return
    for w in (None, rng.uniform(0.5, 2, size=50)):
        with pytest.raises(ValueError, match=r"column\(s\) \[1\] exceed float64"):
            moments_of_rows(X, sample_weight=w)
    from sklearn_ooc._stats import diagonal_moments_of_rows

    with pytest.raises(ValueError, match=r"column\(s\) \[1\] exceed float64"):
        diagonal_moments_of_rows(X)


def test_merge_of_batches_whose_between_scatter_overflows(rng):
    # Two batches each in range (spread 1e150, squares 1e300), means 1e154
    # apart: the merged scatter (n * 1e308) overflows. Unscaled statistics
    # refuse the merge, scaled ones give the scatter of all the rows.
    X = rng.normal(size=(40, 2)) * 1e150
    X[20:, 0] += 1e154
    a, b = moments_of_rows(X[:20]), moments_of_rows(X[20:])
    assert np.all(np.isfinite(a.scatter)) and np.all(np.isfinite(b.scatter))
    with pytest.raises(ValueError, match=r"column\(s\) \[0\] exceed float64"):
        a + b
    a_before, b_before = pickle.dumps(a), pickle.dumps(b)
    with pytest.raises(ValueError):
        a += b
    assert pickle.dumps(a) == a_before and pickle.dumps(b) == b_before
    merged = moments_of_rows(X[:20], rescale=True) + moments_of_rows(
        X[20:], rescale=True
    )
    whole = moments_of_rows(X / 2.0**512)
    assert_allclose(merged.scatter_at(np.array([512, 512])), whole.scatter, rtol=1e-12)
    assert_allclose(merged.mean, whole.mean * 2.0**512, rtol=1e-14)


@pytest.mark.parametrize("k", [600, -600])
def test_regression_score_of_targets_beyond_float64_squares(rng, k):
    # R² is a ratio: y * 2**k has the R² of y. Unscaled, its sums of squares
    # overflow (NaN) or underflow (a perfect 1.0) -- as r2_score's do.
    y = rng.normal(size=(90, 2)) + [0.0, 5.0]
    pred = y + rng.normal(size=y.shape)
    w = rng.uniform(0.5, 2, size=90)
    expected = r2_score(y, pred, sample_weight=w)
    s = 2.0**k
    parts = [
        RegressionScore.of_batch(y[a:b] * s, pred[a:b] * s, w[a:b])
        for a, b in [(0, 1), (1, 30), (30, 90)]
    ]
    assert_allclose((parts[0] + parts[1] + parts[2]).r2(), expected, rtol=1e-12)
    assert_allclose(
        RegressionScore.of_batch(y * s, pred * s, w).r2(), expected, rtol=1e-12
    )
