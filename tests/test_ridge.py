"""StreamingRidge: equal to scikit-learn's Ridge, whatever the batches."""

import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ooc.linear_model import StreamingRidge

from .conftest import file_digest, fitted_state

N = 1500
# float32 rows are multiplied in float32, a chunk at a time, and summed in
# float64 (as scikit-learn's Ridge, which does all of it in float32): the fit
# is within float32's rounding of the float64 fit of the same values.
FLOAT32_RTOL = 1e-5


def _problem(rng, *, n=N, d=5, n_targets=None, offset=0.0, dtype=np.float64):
    X = rng.normal(size=(n, d)) + offset
    coef = rng.uniform(-2, 2, size=(d,) if n_targets is None else (d, n_targets))
    y = (
        (X - offset) @ coef
        + 3.0
        + rng.normal(size=coef.shape[1:] and (n, n_targets) or n)
    )
    return X.astype(dtype), y


def _reference(X, y, alpha=1.0, sample_weight=None, fit_intercept=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LinAlgWarning)
        return Ridge(alpha=alpha, solver="cholesky", fit_intercept=fit_intercept).fit(
            X.astype(np.float64), y, sample_weight=sample_weight
        )


def _assert_same_model(model, ref, y, rtol=1e-8):
    assert_allclose(
        model.coef_, ref.coef_, rtol=rtol, atol=rtol * np.abs(ref.coef_).max()
    )
    # The intercept of offset data is a difference of large numbers: its
    # scale is that of the targets.
    assert_allclose(
        model.intercept_, ref.intercept_, rtol=rtol, atol=rtol * np.abs(y).mean()
    )


@pytest.mark.parametrize("batch_size", [1, 7, 1000, N])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_sklearn_ridge(rng, batch_size, n_jobs, dtype, offset, weighted):
    X, y = _problem(rng, offset=offset, dtype=dtype)
    w = rng.uniform(0, 3, size=N) if weighted else None
    model = StreamingRidge(alpha=2.0, batch_size=batch_size, n_jobs=n_jobs)
    model.fit(X, y, sample_weight=w)
    # The reference is Ridge on the same values in float64; float32 rows give
    # a fit within float32's rounding of it, in float32 attributes (X's
    # dtype, as scikit-learn keeps it).
    rtol = 1e-8 if dtype == np.float64 else FLOAT32_RTOL
    _assert_same_model(model, _reference(X, y, 2.0, w), y, rtol=rtol)
    assert model.n_samples_seen_ == N
    assert model.coef_.dtype == dtype
    assert model.predict(X).dtype == dtype


def test_float32_agrees_with_sklearn_float32_to_its_precision(rng):
    X, y = _problem(rng, dtype=np.float32)
    model = StreamingRidge(batch_size=100).fit(X, y)
    ref32 = Ridge(solver="cholesky").fit(X, y.astype(np.float32))
    assert ref32.coef_.dtype == model.coef_.dtype == np.float32
    assert type(model.intercept_) is type(ref32.intercept_)
    assert_allclose(model.coef_, ref32.coef_, rtol=1e-4)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_float32_is_closer_to_the_float64_fit_than_sklearns(rng, offset):
    # scikit-learn's Ridge centers and multiplies float32 rows in float32,
    # its sums of products growing with the rows; ours multiplies them in
    # float32 too, about a shift near the mean, a chunk at a time, and sums
    # the chunks in float64.
    n, d = 200_000, 8
    X = (rng.normal(size=(n, d)) * np.geomspace(0.1, 10, d) + offset).astype(np.float32)
    y = (X - offset) @ rng.normal(size=d) + rng.normal(size=n)
    y = y.astype(np.float32)
    wide = Ridge(solver="cholesky").fit(X.astype(np.float64), y.astype(np.float64))
    theirs = Ridge(solver="cholesky").fit(X, y)
    ours = StreamingRidge(batch_size=30_000, n_jobs=2).fit(X, y)
    assert ours.coef_.dtype == theirs.coef_.dtype == np.float32
    error = {
        name: np.abs(m.coef_ - wide.coef_).max() / np.abs(wide.coef_).max()
        for name, m in [("ours", ours), ("theirs", theirs)]
    }
    assert error["ours"] <= FLOAT32_RTOL
    assert error["ours"] < error["theirs"]


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_multi_target_with_an_alpha_per_target(rng, batch_size):
    X, y = _problem(rng, n_targets=3, offset=1e6)
    alpha = np.array([0.1, 1.0, 10.0])
    model = StreamingRidge(alpha=alpha, batch_size=batch_size).fit(X, y)
    ref = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    _assert_same_model(model, ref, y)
    assert model.coef_.shape == (3, 5) and model.intercept_.shape == (3,)
    # A prediction of offset data is a difference of terms of size
    # |X| |coef|: it is exact to the rounding of those terms.
    rounding = 1e-15 * np.abs(X).max() * np.abs(ref.coef_).sum(axis=1).max()
    assert_allclose(model.predict(X), ref.predict(X), rtol=0, atol=50 * rounding)


def test_column_y_keeps_sklearn_shapes(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=64).fit(X, y[:, None])
    ref = Ridge(solver="cholesky").fit(X, y[:, None])
    assert model.coef_.shape == ref.coef_.shape
    assert model.intercept_.shape == ref.intercept_.shape == (1,)
    assert model.predict(X).shape == ref.predict(X).shape
    _assert_same_model(model, ref, y)
    one_d = StreamingRidge(batch_size=64).fit(X, y)
    assert isinstance(one_d.intercept_, float) and one_d.predict(X).shape == (N,)


def test_without_intercept(rng):
    X, y = _problem(rng, offset=10.0)
    w = rng.uniform(0, 1, size=N)
    model = StreamingRidge(fit_intercept=False, batch_size=37).fit(
        X, y, sample_weight=w
    )
    ref = _reference(X, y, sample_weight=w, fit_intercept=False)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-8)
    assert model.intercept_ == 0.0


def test_alpha_count_must_match_targets(rng):
    X, y = _problem(rng, n_targets=2)
    with pytest.raises(
        ValueError,
        match="Number of targets and number of penalties do not correspond: 3 != 2",
    ):
        StreamingRidge(alpha=np.ones(3)).fit(X, y)


def test_singular_system_falls_back_to_minimum_norm_solution(rng):
    X = rng.normal(size=(50, 3))
    X = np.hstack([X, X[:, :1]])  # a duplicated column
    y = X @ [1.0, 2.0, 3.0, 0.0] + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = StreamingRidge(alpha=0.0, batch_size=9).fit(X, y)
    # scikit-learn's Cholesky solve falls back to its SVD, and says so.
    assert model.solver_ == "svd"
    # The minimum-norm least-squares solution of the centered problem splits
    # the weight of the duplicated column evenly.
    Xc = X - X.mean(axis=0)
    min_norm = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    assert_allclose(model.coef_, min_norm, rtol=1e-6)
    assert_allclose(model.coef_, [0.5, 2.0, 3.0, 0.5], rtol=1e-6)
    assert_allclose(model.predict(X), y, rtol=1e-8)


@pytest.mark.parametrize("kind", ["ndarray", "memmap", "path"])
def test_inputs_from_disk(rng, npy, kind):
    X, y = _problem(rng)
    X_path, y_path = npy(X, "X.npy"), npy(y, "y.npy")
    data = {
        "ndarray": (X, y),
        "memmap": (np.load(X_path, mmap_mode="r"), np.load(y_path, mmap_mode="r")),
        "path": (str(X_path), y_path),
    }[kind]
    model = StreamingRidge(batch_size=128).fit(*data)
    _assert_same_model(model, _reference(X, y), y)
    assert_allclose(model.predict(data[0]), model.predict(X), rtol=1e-14)
    assert_allclose(model.score(*data), r2_score(y, model.predict(X)), rtol=1e-12)


def test_bitwise_identical_for_every_n_jobs(rng):
    X, y = _problem(rng, offset=1e6)
    fits = [StreamingRidge(batch_size=13, n_jobs=j).fit(X, y) for j in (1, 2, 4)]
    for other in fits[1:]:
        assert other.coef_.tobytes() == fits[0].coef_.tobytes()
        assert other.intercept_ == fits[0].intercept_


def test_summaries_then_from_summaries_equals_fit(rng):
    X, y = _problem(rng, offset=1e6)
    model = StreamingRidge(batch_size=50)
    for i in range(5):
        model.summarize(X[i * 300 : (i + 1) * 300], y[i * 300 : (i + 1) * 300])
    assert not hasattr(model, "coef_")
    model.from_summaries()
    _assert_same_model(model, StreamingRidge().fit(X, y), y, rtol=1e-12)
    with pytest.raises(ValueError, match="no pending statistics: call summarize"):
        model.from_summaries()


def test_partial_fit_sequence_equals_fit_on_the_concatenation(rng):
    X, y = _problem(rng, offset=1e6)
    w = rng.uniform(0, 2, size=N)
    model = StreamingRidge(batch_size=64)
    for a, b in [(0, 1), (1, 400), (400, 401), (401, N)]:
        model.partial_fit(X[a:b], y[a:b], sample_weight=w[a:b])
    assert model.n_samples_seen_ == N
    _assert_same_model(model, _reference(X, y, sample_weight=w), y, rtol=1e-10)


def test_batches_per_epoch_fits_the_first_batches(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=100).fit(X, y, batches_per_epoch=3)
    assert model.n_samples_seen_ == 300
    _assert_same_model(model, _reference(X[:300], y[:300]), y)


def test_call_overrides_do_not_change_parameters(rng):
    X, y = _problem(rng)
    model = StreamingRidge(batch_size=100)
    out = io.StringIO()
    model.set_params(verbose=1)
    with redirect_stdout(out):
        model.fit(X, y, batch_size=7)
    assert model.get_params()["batch_size"] == 100
    assert "fit: 1,500 rows in 215 batch(es) of up to 7 rows" in out.getvalue()


def test_score_equals_r2_score_with_weights_and_outputs(rng):
    X, y = _problem(rng, n_targets=2, offset=1e3)
    w = rng.uniform(0, 2, size=N)
    model = StreamingRidge(alpha=50.0, batch_size=71).fit(X, y)
    expected = r2_score(y, model.predict(X), sample_weight=w)
    assert_allclose(model.score(X, y, sample_weight=w), expected, rtol=1e-12)


def test_unfitted_model_refuses_to_predict(rng):
    with pytest.raises(NotFittedError):
        StreamingRidge().predict(np.ones((2, 2)))
    model = StreamingRidge().summarize(np.ones((3, 2)), np.ones(3))
    with pytest.raises(NotFittedError):
        model.predict(np.ones((2, 2)))


def test_in_pipeline_and_grid_search_like_ridge(rng):
    X, y = _problem(rng, n=300)
    grid = {"ridge__alpha": [0.1, 10.0, 1000.0]}
    ours = GridSearchCV(
        make_pipeline(StandardScaler(), StreamingRidge(batch_size=32)),
        {"streamingridge__alpha": grid["ridge__alpha"]},
        cv=3,
    ).fit(X, y)
    ref = GridSearchCV(
        make_pipeline(StandardScaler(), Ridge(solver="cholesky")), grid, cv=3
    ).fit(X, y)
    assert (
        ours.best_params_["streamingridge__alpha"] == ref.best_params_["ridge__alpha"]
    )
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-10,
    )


def test_dataframe_feature_names(rng):
    pd = pytest.importorskip("pandas")
    X, y = _problem(rng, n=50)
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = StreamingRidge(batch_size=8).fit(frame, y)
    assert_array_equal(model.feature_names_in_, list("abcde"))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_allclose(model.predict(X), model.predict(frame))


# -- every parameter of Ridge ----------------------------------------------


def _tight(solver):
    """Ridge settings under which its iterative solvers reach the solution."""
    if solver in ("sag", "saga"):
        return {"tol": 1e-13, "max_iter": 100_000, "random_state": 0}
    return {"tol": 1e-14, "max_iter": None if solver != "lbfgs" else 100_000}


def _dense_or_sparse(X, container):
    return X if container is None else container(X)


@pytest.mark.parametrize(
    "solver", ["auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"]
)
@pytest.mark.parametrize("shape", [(60, 5), (8, 20)], ids=["tall", "wide"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_solver_gives_sklearn_solution(rng, solver, shape, weighted, dtype):
    X, y = _problem(rng, n=shape[0], d=shape[1], offset=3.0, dtype=dtype)
    w = rng.uniform(0, 2, size=shape[0]) if weighted else None
    # The reference is in float64 on the same values.
    ref = Ridge(alpha=0.7, solver=solver, **_tight(solver))
    ref.fit(X.astype(np.float64), y, sample_weight=w)
    for batch_size, n_jobs in [(1, 1), (7, 2), (1000, 1)]:
        model = StreamingRidge(
            alpha=0.7,
            solver=solver,
            **_tight(solver),
            batch_size=batch_size,
            n_jobs=n_jobs,
        ).fit(X, y, sample_weight=w)
        # sag and saga reach the solution to their tol only.
        rtol = 1e-9 if solver in ("sag", "saga") else 1e-12
        if dtype == np.float32:
            rtol = FLOAT32_RTOL
        _assert_same_model(model, ref, y, rtol=rtol)
        assert model.coef_.dtype == dtype
        assert model.solver_ == ref.solver_
        # One pass over the data, whatever the solver.
        assert_array_equal(model.n_iter_, [1])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(40, 4), (6, 15)], ids=["tall", "wide"])
@pytest.mark.parametrize("alpha", [0.0, 1e-16])
def test_alpha_near_zero_gives_minimum_norm_solution(rng, fit_intercept, shape, alpha):
    n, d = shape
    X = rng.normal(size=(n, d))
    if n > d:
        X = np.hstack([X, X[:, :2]]) / 2  # collinear columns
    y = rng.normal(size=n) + 5.0
    Xc, yc = (X - X.mean(axis=0), y - y.mean()) if fit_intercept else (X, y)
    min_norm = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    ref = Ridge(alpha=alpha, solver="svd", fit_intercept=fit_intercept).fit(X, y)
    assert_allclose(ref.coef_, min_norm, atol=1e-10)
    for batch_size in (1, 4, n):
        model = StreamingRidge(
            alpha=alpha, fit_intercept=fit_intercept, batch_size=batch_size
        ).fit(X, y)
        assert_allclose(model.coef_, min_norm, rtol=1e-9, atol=1e-12)
        assert_allclose(model.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_minimum_norm_on_wide_offset_data(rng, offset, fit_intercept):
    # More features than rows: scikit-learn solves the dual (rows x rows)
    # system; the solution lies in the row space of the (centered) rows.
    X = rng.normal(size=(6, 15))
    y = rng.normal(size=6)
    ref = Ridge(alpha=1e-3, solver="cholesky", fit_intercept=fit_intercept)
    ref.fit(X, y)
    model = StreamingRidge(alpha=1e-3, fit_intercept=fit_intercept, batch_size=4)
    if fit_intercept:
        model.fit(X + offset, y)
    else:
        model.fit(X, y)
    assert_allclose(model.coef_, ref.coef_, rtol=1e-8, atol=1e-8)


def _ridge_objective(model, X, y, alpha, w):
    residual = y - X @ model.coef_ - model.intercept_
    return 0.5 * np.sum(w * residual**2) + 0.5 * alpha * np.sum(model.coef_**2)


@pytest.mark.parametrize("shape", [(300, 8), (8, 20)], ids=["tall", "wide"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("solver", ["auto", "lbfgs"])
@pytest.mark.parametrize("batch_size, n_jobs", [(1, 1), (7, 2), (1000, 1)])
def test_positive_gives_the_exact_nonnegative_solution(
    rng, shape, fit_intercept, solver, batch_size, n_jobs
):
    X, y = _problem(rng, n=shape[0], d=shape[1], offset=2.0)
    w = rng.uniform(0, 2, size=shape[0])
    params = dict(alpha=0.3, positive=True, fit_intercept=fit_intercept)
    ref = Ridge(solver=solver, tol=1e-14, max_iter=100_000, **params)
    ref.fit(X, y, sample_weight=w)
    model = StreamingRidge(solver=solver, batch_size=batch_size, n_jobs=n_jobs)
    model.set_params(**params).fit(X, y, sample_weight=w)
    assert model.solver_ == ref.solver_ == "lbfgs"
    assert np.all(model.coef_ >= 0)
    assert 0 < np.count_nonzero(model.coef_) < shape[1]
    # L-BFGS-B reaches the solution to its tol; the exact one is no worse.
    assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    assert_allclose(model.intercept_, ref.intercept_, atol=1e-5)
    ours, theirs = (_ridge_objective(m, X, y, 0.3, w) for m in (model, ref))
    assert ours <= theirs * (1 + 1e-13)


def test_positive_multi_target_offset_and_float32(rng):
    X, y = _problem(rng, n=200, d=6, n_targets=2, offset=1e6)
    alpha = np.array([0.5, 5.0])
    ref = Ridge(alpha=alpha, positive=True, tol=1e-14, max_iter=100_000)
    # scikit-learn loses the digits of offset data in its L-BFGS-B: its
    # reference is taken on centered data (the coefficients are the same).
    ref.fit(X - 1e6, y)
    model = StreamingRidge(alpha=alpha, positive=True, batch_size=23).fit(X, y)
    assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    assert_allclose(model.predict(X), ref.predict(X - 1e6), atol=1e-4)
    X32 = (X - 1e6).astype(np.float32)
    model32 = StreamingRidge(alpha=alpha, positive=True, batch_size=23).fit(X32, y)
    assert model32.coef_.dtype == np.float32
    assert_allclose(model32.coef_, ref.coef_, atol=1e-5)


def test_positive_equals_unconstrained_when_the_solution_is_positive(rng):
    X = rng.normal(size=(300, 20))
    y = X @ rng.uniform(0.1, 1.0, size=20) + 1.0 + 0.01 * rng.normal(size=300)
    free = StreamingRidge(alpha=0.1, batch_size=64).fit(X, y)
    positive = StreamingRidge(alpha=0.1, positive=True, batch_size=64).fit(X, y)
    assert_allclose(positive.coef_, free.coef_, rtol=1e-10)
    assert_allclose(positive.intercept_, free.intercept_, rtol=1e-10)


@pytest.mark.parametrize("positive", [False, True])
def test_constant_columns_without_penalty_get_zero_coefficients(positive):
    X = np.ones((5, 2))
    y = np.arange(5.0)
    model = StreamingRidge(alpha=0.0, positive=positive, batch_size=2).fit(X, y)
    ref = Ridge(alpha=0.0, positive=positive).fit(X, y)
    assert_array_equal(model.coef_, ref.coef_)
    assert model.intercept_ == ref.intercept_ == 2.0


def test_positive_refuses_columns_beyond_float64_squares(rng):
    X = rng.normal(size=(50, 3)) * 1e200
    y = rng.normal(size=50)
    model = StreamingRidge(positive=True, batch_size=8)
    with pytest.raises(ValueError, match="positive=True cannot be fitted on columns"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")
    # Unconstrained, such columns are solved in scaled form.
    assert np.all(np.isfinite(StreamingRidge(batch_size=8).fit(X, y).coef_))


@pytest.mark.parametrize(
    "container", [sp.csr_matrix, sp.csc_array, sp.coo_matrix, sp.lil_matrix]
)
@pytest.mark.parametrize(
    "solver, fit_intercept",
    [
        ("auto", True),
        ("sparse_cg", True),
        ("lsqr", True),
        ("sag", True),
        ("cholesky", False),
        ("saga", False),
    ],
)
def test_sparse_X_equals_dense(rng, container, solver, fit_intercept):
    X, y = _problem(rng, n=120, d=6, offset=1.0)
    X[rng.uniform(size=X.shape) < 0.6] = 0.0
    w = rng.uniform(0.5, 2, size=120)
    params = dict(alpha=0.5, solver=solver, fit_intercept=fit_intercept)
    dense = Ridge(**params, **_tight(solver)).fit(X, y, sample_weight=w)
    model = StreamingRidge(**params, batch_size=17)
    model.fit(container(X), y, sample_weight=w)
    rtol = 1e-9 if solver in ("sag", "saga") else 1e-12
    _assert_same_model(model, dense, y, rtol=rtol)
    # scikit-learn fits "auto" on sparse X with sparse_cg.
    on_sparse = Ridge(**params, **_tight(solver)).fit(sp.csr_matrix(X), y)
    assert model.solver_ == on_sparse.solver_
    assert_allclose(model.predict(container(X)), model.predict(X), rtol=1e-12)


def test_sparse_rows_are_densified_one_batch_at_a_time(rng, monkeypatch):
    X = sp.random(100, 8, density=0.3, format="csr", random_state=0)
    y = rng.normal(size=100)
    seen = []
    original = StreamingRidge._summarize

    def summarize(self, batch):
        seen.append(batch.X.shape[0])
        return original(self, batch)

    monkeypatch.setattr(StreamingRidge, "_summarize", summarize)
    model = StreamingRidge(batch_size=16).fit(X, y)
    assert max(seen) == 16 and sum(seen) == 100
    _assert_same_model(model, Ridge().fit(X.toarray(), y), y, rtol=1e-12)


@pytest.mark.parametrize(
    "params, sparse, error, match",
    [
        (
            dict(solver="lbfgs"),
            False,
            ValueError,
            "'lbfgs' solver can be used only when positive=True",
        ),
        (
            dict(solver="svd", positive=True),
            False,
            ValueError,
            "solver='svd' does not support positive fitting. Please set the "
            "solver to 'auto' or 'lbfgs'",
        ),
        (
            dict(solver="cholesky"),
            True,
            ValueError,
            "solver='cholesky' does not support fitting the intercept on sparse data",
        ),
        (
            dict(solver="saga"),
            True,
            ValueError,
            "solver='saga' does not support fitting the intercept",
        ),
        (
            dict(solver="svd", fit_intercept=False),
            True,
            TypeError,
            "SVD solver does not support sparse inputs currently",
        ),
        (dict(solver="newton"), False, ValueError, "The 'solver' parameter"),
        (dict(max_iter=0), False, ValueError, "The 'max_iter' parameter"),
        (dict(tol=-1.0), False, ValueError, "The 'tol' parameter"),
    ],
)
def test_solver_errors_are_sklearns(rng, params, sparse, error, match):
    X, y = _problem(rng, n=30)
    X = sp.csr_matrix(X) if sparse else X
    for estimator in (Ridge(**params), StreamingRidge(**params)):
        with pytest.raises(error, match=match):
            estimator.fit(X, y)
    model = StreamingRidge(**params)
    with pytest.raises(error, match=match):
        model.partial_fit(X, y)
    assert not hasattr(model, "coef_")


def test_sag_on_sparse_data_warns_as_sklearn(rng):
    X, y = _problem(rng, n=30)
    X = sp.csr_matrix(X)
    match = '"sag" solver requires many iterations'
    fitted = []
    for cls in (Ridge, StreamingRidge):
        with pytest.warns(UserWarning, match=match):
            fitted.append(cls(solver="sag", tol=1e-3).fit(X, y))
    assert fitted[0].solver_ == fitted[1].solver_ == "sag"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        StreamingRidge(solver="sag", tol=1e-3, max_iter=10).fit(X, y)


def test_parameters_and_defaults_are_ridges():
    ours = StreamingRidge().get_params()
    theirs = Ridge().get_params()
    assert {k: ours[k] for k in theirs} == theirs
    # out_of_core passes every parameter through under its own name.
    from sklearn_ooc import out_of_core

    ridge = Ridge(alpha=3.0, solver="lsqr", tol=1e-6, positive=False, copy_X=False)
    converted = out_of_core(ridge)
    assert type(converted) is StreamingRidge
    assert {k: converted.get_params()[k] for k in theirs} == ridge.get_params()


@pytest.mark.parametrize("bad", [np.ones((30, 1)), np.ones((1, 30))])
def test_two_dimensional_sample_weight_is_refused_as_sklearn(rng, bad):
    X, y = _problem(rng, n=30)
    match = "Sample weights must be 1D array or scalar"
    for cls in (Ridge, StreamingRidge):
        with pytest.raises(ValueError, match=match):
            cls().fit(X, y, sample_weight=bad)


@pytest.mark.parametrize("weight", [2.0, np.float32(0.5)])
def test_scalar_sample_weight(rng, weight):
    X, y = _problem(rng, n=30)
    model = StreamingRidge(batch_size=7).fit(X, y, sample_weight=weight)
    _assert_same_model(model, Ridge().fit(X, y, sample_weight=weight), y)


def test_intercept_types_are_sklearns(rng):
    X, y = _problem(rng, n=30)
    for dtype in (np.float32, np.float64):
        ours = StreamingRidge(batch_size=7).fit(X.astype(dtype), y)
        theirs = Ridge().fit(X.astype(dtype), y)
        assert type(ours.intercept_) is type(theirs.intercept_)
        assert ours.intercept_.shape == theirs.intercept_.shape == ()


# -- bad input leaves everything as it was ----------------------------------


@pytest.fixture
def fitted(rng):
    X, y = _problem(rng, n=200)
    return StreamingRidge(batch_size=20).fit(X, y), X, y


def _check_unchanged(model, call, error, match):
    before = fitted_state(model)
    with pytest.raises(error, match=match):
        call()
    assert fitted_state(model) == before


def test_nan_in_the_middle_of_a_file_leaves_model_and_file_unchanged(fitted, npy, rng):
    model, X, y = fitted
    bad = rng.normal(size=(200, 5))
    bad[133, 4] = np.nan
    path = npy(bad, "bad.npy")
    digest = file_digest(path)
    for call in (
        lambda: model.fit(path, y),
        lambda: model.partial_fit(np.load(path, mmap_mode="r"), y),
        lambda: model.summarize(path, y),
    ):
        _check_unchanged(
            model,
            call,
            ValueError,
            r"X contains NaN at row 133 \(batch 6, rows 120-139\)",
        )
    assert file_digest(path) == digest
    assert not hasattr(model, "_pending_stats")


@pytest.mark.parametrize(
    "make_call, error, match",
    [
        (lambda m, X, y: m.fit(X, y[:-1]), ValueError, "y has 199 rows but X has 200"),
        (
            lambda m, X, y: m.partial_fit(X[:, :3], y),
            ValueError,
            "X has 3 features, but StreamingRidge is expecting 5 features as input",
        ),
        (
            lambda m, X, y: m.partial_fit(X, np.c_[y, y]),
            ValueError,
            r"y has 2 target\(s\) but StreamingRidge was fitted with 1",
        ),
        (
            lambda m, X, y: m.fit(X, y, sample_weight=-np.ones(200)),
            ValueError,
            "sample_weight contains a negative weight",
        ),
        (
            lambda m, X, y: m.fit(X, y, sample_weight=np.zeros(200)),
            ValueError,
            "Sample weights must contain at least one non-zero number",
        ),
        (lambda m, X, y: m.fit(X, None), ValueError, "requires y to be passed"),
        (
            lambda m, X, y: m.fit(X, y, batch_size=0),
            ValueError,
            "batch_size must be a positive int or 'auto'",
        ),
        (
            lambda m, X, y: m.fit(X, y, batches_per_epoch=-2),
            ValueError,
            "batches_per_epoch must be None or a positive int",
        ),
        (lambda m, X, y: m.predict(X[:, :4]), ValueError, "X has 4 features"),
    ],
)
def test_bad_input_leaves_the_model_unchanged(fitted, make_call, error, match):
    model, X, y = fitted
    _check_unchanged(model, lambda: make_call(model, X, y), error, match)


def test_bad_files_leave_the_model_unchanged(fitted, tmp_path, npy, rng):
    model, X, y = fitted
    objects = np.empty((200, 5), dtype=object)
    objects[:] = 1.0
    object_path = tmp_path / "objects.npy"
    np.save(object_path, objects, allow_pickle=True)
    truncated = npy(X, "truncated.npy")
    with open(truncated, "r+b") as f:
        f.truncate(1000)
    cases = [
        (object_path, ValueError, "holds Python objects"),
        (truncated, ValueError, "is truncated"),
        (tmp_path / "missing.npy", FileNotFoundError, "does not exist"),
        (tmp_path, IsADirectoryError, "is a directory"),
    ]
    for path, error, match in cases:
        digest = file_digest(path) if path.is_file() else None
        _check_unchanged(model, lambda p=path: model.fit(p, y), error, match)
        if digest:
            assert file_digest(path) == digest


def test_keyboard_interrupt_leaves_the_model_unchanged(fitted, monkeypatch):
    model, X, y = fitted
    calls = []
    original = type(model)._summarize

    def interrupted(self, batch):
        calls.append(batch.index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(type(model), "_summarize", interrupted)
    _check_unchanged(model, lambda: model.fit(X * 2, y), KeyboardInterrupt, None)
    assert len(calls) == 3


def test_partial_fit_without_y_is_refused(fitted):
    model, X, y = fitted
    _check_unchanged(
        model, lambda: model.partial_fit(X), ValueError, "requires y to be passed"
    )
    _check_unchanged(
        model, lambda: model.summarize(X), ValueError, "requires y to be passed"
    )


def test_no_intercept_is_a_float_zero_like_sklearn(rng):
    X, y = _problem(rng, n_targets=2)
    ours = StreamingRidge(fit_intercept=False).fit(X, y)
    ref = Ridge(fit_intercept=False).fit(X, y)
    assert ours.intercept_ == ref.intercept_ == 0.0
