"""StreamingLinearRegression: scikit-learn's LinearRegression, batch by batch."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ooc import open_table, out_of_core
from sklearn_ooc._blas import QR_CHUNK_ROWS
from sklearn_ooc._stats import TriangularFactor
from sklearn_ooc.linear_model import StreamingLinearRegression

from .conftest import file_digest, fitted_state

N = 600


def _problem(rng, *, n=N, d=5, n_targets=None, offset=0.0, collinear=False):
    X = rng.normal(size=(n, d))
    if collinear:
        X[:, -1] = X[:, 0] - 2 * X[:, 1]
    coef = rng.uniform(-2, 2, size=(d,) if n_targets is None else (d, n_targets))
    noise = rng.normal(size=(n,) if n_targets is None else (n, n_targets))
    return X, X @ coef + 3.0 + noise + offset


def _assert_same(model, ref, scale, rtol=1e-9):
    atol = rtol * max(1.0, np.abs(ref.coef_).max())
    assert_allclose(model.coef_, ref.coef_, rtol=rtol, atol=atol)
    assert_allclose(model.intercept_, ref.intercept_, rtol=rtol, atol=rtol * scale)
    assert np.shape(model.coef_) == np.shape(ref.coef_)
    assert np.shape(model.intercept_) == np.shape(ref.intercept_)


@pytest.mark.parametrize("batch_size", [1, 7, 250, N])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("collinear", [False, True])
def test_equals_scikit_learn(batch_size, n_jobs, weighted, collinear):
    rng = np.random.default_rng(0)
    X, y = _problem(rng, collinear=collinear)
    w = rng.uniform(0, 3, size=N) if weighted else None
    if weighted:
        w[::10] = 0.0
    ref = LinearRegression().fit(X, y, sample_weight=w)
    model = StreamingLinearRegression(batch_size=batch_size, n_jobs=n_jobs).fit(
        X, y, sample_weight=w
    )
    _assert_same(model, ref, np.abs(y).mean())
    # The same singular values, rank and cutoff: collinear columns give
    # scikit-learn's minimum-norm solution.
    assert model.rank_ == ref.rank_ == (4 if collinear else 5)
    assert_allclose(model.singular_, ref.singular_, rtol=1e-10, atol=1e-10)
    assert_allclose(model.predict(X), ref.predict(X), rtol=1e-10, atol=1e-9)
    assert model.score(X, y) == pytest.approx(ref.score(X, y), rel=1e-12)


@pytest.mark.parametrize("batch_size", [QR_CHUNK_ROWS - 3, 2 * QR_CHUNK_ROWS + 37])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batches_of_several_chunks_equal_scikit_learn(batch_size, weighted, dtype):
    # A batch's rows are factored a chunk of QR_CHUNK_ROWS at a time; a
    # batch of two chunks and a piece, a batch of less than one, at 1e6.
    n = 2 * QR_CHUNK_ROWS + 37
    rng = np.random.default_rng(11)
    X, y = _problem(rng, n=n, n_targets=2, offset=1e6)
    X = (X + 1e6).astype(dtype)
    w = rng.uniform(0, 3, size=n) if weighted else None
    ref = LinearRegression().fit(X.astype(np.float64) - 1e6, y, sample_weight=w)
    model = StreamingLinearRegression(batch_size=batch_size, n_jobs=2).fit(
        X, y, sample_weight=w
    )
    # scikit-learn's own fit on the offset rows loses digits to their
    # centering; compared on the centered rows, the intercept moved back.
    # The attributes of float32 rows are float32, as scikit-learn's.
    rtol = 1e-6 if dtype == np.float32 else 1e-9
    assert_allclose(model.coef_, ref.coef_, rtol=rtol, atol=rtol)
    expected = ref.intercept_ - 1e6 * ref.coef_.sum(axis=1)
    assert_allclose(model.intercept_, expected, rtol=rtol)
    assert model.rank_ == ref.rank_ == 5
    assert_allclose(model.singular_, ref.singular_, rtol=rtol)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("n_targets", [None, 1, 3])
def test_parameters_and_shapes(fit_intercept, positive, n_targets):
    rng = np.random.default_rng(1)
    X, y = _problem(rng, n_targets=n_targets)
    params = dict(fit_intercept=fit_intercept, positive=positive)
    ref = LinearRegression(**params).fit(X, y)
    model = StreamingLinearRegression(batch_size=50, **params).fit(X, y)
    _assert_same(model, ref, np.abs(y).mean(), rtol=1e-8)
    if positive:
        assert not hasattr(model, "rank_") and (model.coef_ >= 0).all()
    else:
        assert model.rank_ == ref.rank_


def test_offset_data_as_accurate_as_scikit_learn():
    """Data far from the origin (mean 1e6): scikit-learn centers in float64
    and so does the factor of the shifted rows; both lose the same digits to
    the values themselves, so ours equals scikit-learn's on the same data,
    and both equal the fit of the centered data to the digits left."""
    rng = np.random.default_rng(2)
    X, y = _problem(rng)
    offset = 1e6
    ref = LinearRegression().fit(X + offset, y + offset)
    model = StreamingLinearRegression(batch_size=97).fit(X + offset, y + offset)
    centered = LinearRegression().fit(X, y)
    assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-12)
    assert_allclose(model.coef_, centered.coef_, rtol=0, atol=1e-9)
    assert_allclose(model.singular_, centered.singular_, rtol=1e-9)


def test_float32():
    rng = np.random.default_rng(3)
    X, y = _problem(rng)
    X32 = X.astype(np.float32)
    ref = LinearRegression().fit(X32, y)
    model = StreamingLinearRegression(batch_size=64).fit(X32, y)
    assert model.coef_.dtype == ref.coef_.dtype == np.float32
    assert model.singular_.dtype == np.float32
    # Computed in float64 on the float32 values: at least as close to the
    # float64 fit of the same values as scikit-learn's float32 fit is.
    exact = LinearRegression().fit(X32.astype(np.float64), y)
    ours = np.abs(model.coef_ - exact.coef_).max()
    assert ours <= max(np.abs(ref.coef_ - exact.coef_).max(), 1e-6)


def test_fewer_rows_than_features():
    rng = np.random.default_rng(4)
    X, y = _problem(rng, n=4, d=7)
    ref = LinearRegression().fit(X, y)
    model = StreamingLinearRegression(batch_size=3).fit(X, y)
    _assert_same(model, ref, np.abs(y).mean(), rtol=1e-8)
    assert model.singular_.shape == ref.singular_.shape == (4,)
    assert model.rank_ == ref.rank_ == 3


def test_sparse_X():
    rng = np.random.default_rng(5)
    X, y = _problem(rng)
    X[np.abs(X) < 1.0] = 0.0
    dense = StreamingLinearRegression(batch_size=100).fit(X, y)
    model = StreamingLinearRegression(batch_size=100).fit(sp.csr_matrix(X), y)
    assert_allclose(model.coef_, dense.coef_, rtol=1e-12)
    # scikit-learn's LSQR on sparse X approaches the exact solution to tol.
    ref = LinearRegression(tol=1e-10).fit(sp.csr_matrix(X), y)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-7)
    assert not hasattr(model, "rank_") and not hasattr(ref, "rank_")
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense"):
        StreamingLinearRegression(positive=True).fit(sp.csr_matrix(X), y)


def test_partial_fit_and_summaries_equal_fit():
    rng = np.random.default_rng(6)
    X, y = _problem(rng, offset=50.0)
    w = rng.uniform(0, 2, size=N)
    fit = StreamingLinearRegression(batch_size=80).fit(X, y, sample_weight=w)
    partial = StreamingLinearRegression(batch_size=80)
    summary = StreamingLinearRegression(batch_size=80)
    for part in np.array_split(np.arange(N), 5):
        partial.partial_fit(X[part], y[part], sample_weight=w[part])
        summary.summarize(X[part], y[part], sample_weight=w[part])
    summary.from_summaries()
    for model in (partial, summary):
        assert_allclose(model.coef_, fit.coef_, rtol=1e-11)
        assert_allclose(model.intercept_, fit.intercept_, rtol=1e-11)
        assert model.n_samples_seen_ == N


def test_the_factor_merges_exactly():
    """Any split of the rows gives the factor of all of them (to rounding):
    the same product ``R.T @ R`` and the same singular values."""
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(3000, 6)) * [1, 10, 100, 1e-3, 1, 1]
    whole = TriangularFactor.of_rows(rows)
    parts = [TriangularFactor.of_rows(p) for p in np.array_split(rows, [1, 1500])]
    merged = parts[0] + (parts[1] + parts[2])
    assert merged.count == whole.count == 3000
    assert_allclose(merged.factor.T @ merged.factor, rows.T @ rows, rtol=1e-12)
    assert_allclose(
        np.linalg.svd(merged.factor, compute_uv=False),
        np.linalg.svd(rows, compute_uv=False),
        rtol=1e-12,
    )
    assert_array_equal(np.tril(merged.factor, -1), 0.0)


def test_from_files_and_tables(tmp_path):
    rng = np.random.default_rng(8)
    X, y = _problem(rng)
    ref = LinearRegression().fit(X, y)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    digest = file_digest(tmp_path / "X.npy")
    model = StreamingLinearRegression(batch_size=128).fit(
        tmp_path / "X.npy", tmp_path / "y.npy"
    )
    _assert_same(model, ref, np.abs(y).mean())
    assert file_digest(tmp_path / "X.npy") == digest
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)]).assign(y=y)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=100)
    table = open_table(tmp_path / "t.parquet")
    model = StreamingLinearRegression(batch_size=128).fit(
        table.drop(columns="y"), table["y"]
    )
    _assert_same(model, ref, np.abs(y).mean())
    assert list(model.feature_names_in_) == [f"x{j}" for j in range(5)]


def test_out_of_core_converts_a_pipeline():
    rng = np.random.default_rng(9)
    X, y = _problem(rng)
    pipe = make_pipeline(StandardScaler(), LinearRegression(positive=True))
    converted = out_of_core(pipe)
    assert isinstance(converted[-1], StreamingLinearRegression)
    assert converted[-1].positive
    assert_allclose(
        converted.fit(X, y).predict(X), pipe.fit(X, y).predict(X), rtol=1e-9
    )


def test_bad_input_leaves_the_model_unchanged(tmp_path):
    rng = np.random.default_rng(10)
    X, y = _problem(rng)
    model = StreamingLinearRegression(batch_size=100).fit(X, y)
    state = fitted_state(model)
    bad = X.copy()
    bad[437, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 437"):
        model.fit(bad, y)
    with pytest.raises(ValueError, match="at least one non-zero number"):
        model.fit(X, y, sample_weight=np.zeros(N))
    with pytest.raises(ValueError, match="y has 2 target"):
        model.partial_fit(X, np.c_[y, y])
    assert fitted_state(model) == state
