"""StreamingRidgeCV against scikit-learn's RidgeCV: efficient leave-one-out
(cv=None), folds of every kind, validation and the types of the results."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import make_scorer, mean_squared_error
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    ShuffleSplit,
    TimeSeriesSplit,
)

from sklearn_ooc.linear_model import StreamingRidgeCV

ALPHAS = [1e-3, 0.1, 1.0, 10.0, 1e3]


def _data(n, d, n_targets=None, offset=0.0, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    coef = rng.normal(size=(d,) if n_targets is None else (d, n_targets))
    noise = rng.normal(size=(n,) if n_targets is None else (n, n_targets))
    y = X @ coef + 0.5 * noise + 3.0
    return (X + offset).astype(dtype), y.astype(dtype)


def _weights(n, seed=1):
    return np.random.default_rng(seed).uniform(0.2, 3.0, size=n)


def _assert_same_model(ours, ref, rtol=1e-9, atol=1e-12):
    assert np.shape(ours.alpha_) == np.shape(ref.alpha_)
    assert_array_equal(ours.alpha_, ref.alpha_)
    assert_allclose(ours.best_score_, ref.best_score_, rtol=rtol, atol=atol)
    scale = max(np.abs(ref.coef_).max(), 1.0)
    assert_allclose(ours.coef_, ref.coef_, rtol=rtol, atol=atol * scale)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol, atol=atol * scale)
    assert np.shape(ours.coef_) == np.shape(ref.coef_)
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_)


# -- cv=None: efficient leave-one-out -------------------------------------------


@pytest.mark.parametrize("shape", [(40, 6), (12, 20), (10, 10)], ids=str)
@pytest.mark.parametrize("n_targets", [None, 1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_leave_one_out_equals_sklearn(shape, n_targets, fit_intercept, weighted):
    X, y = _data(*shape, n_targets)
    w = _weights(len(X)) if weighted else None
    params = dict(alphas=ALPHAS, fit_intercept=fit_intercept, store_cv_results=True)
    ref = RidgeCV(**params).fit(X, y, sample_weight=w)
    for batch_size in (3, 7, 1000):
        ours = StreamingRidgeCV(**params, batch_size=batch_size).fit(
            X, y, sample_weight=w
        )
        _assert_same_model(ours, ref)
        assert ours.cv_results_.shape == ref.cv_results_.shape
        # Squared errors of wide data with alpha=1e-3 are small differences
        # of interpolating fits: a few more digits lost than elsewhere.
        assert_allclose(ours.cv_results_, ref.cv_results_, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("gcv_mode", [None, "auto", "svd", "eigen"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_every_gcv_mode_and_n_jobs_give_sklearns_model(gcv_mode, n_jobs):
    X, y = _data(30, 5, 2)
    ref = RidgeCV(alphas=ALPHAS, gcv_mode=gcv_mode, store_cv_results=True).fit(X, y)
    ours = StreamingRidgeCV(
        alphas=ALPHAS, gcv_mode=gcv_mode, store_cv_results=True, n_jobs=n_jobs
    ).fit(X, y, batch_size=4)
    _assert_same_model(ours, ref)
    assert_allclose(ours.cv_results_, ref.cv_results_, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_is_fitted_in_float64_and_cast_back(dtype):
    X, y = _data(25, 4, dtype=dtype)
    ref = RidgeCV(alphas=ALPHAS, store_cv_results=True).fit(X, y)
    ours = StreamingRidgeCV(alphas=ALPHAS, store_cv_results=True).fit(
        X, y, batch_size=6
    )
    assert ours.coef_.dtype == ref.coef_.dtype == dtype
    assert type(ours.intercept_) is type(ref.intercept_)
    assert ours.cv_results_.dtype == ref.cv_results_.dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    _assert_same_model(ours, ref, rtol=rtol)


def test_offset_data():
    # Rows at 1e6: scikit-learn centers them itself, as we do, so both keep
    # the digits of the centered problem.
    X, y = _data(50, 4, offset=1e6)
    w = _weights(50)
    ref = RidgeCV(alphas=ALPHAS, store_cv_results=True).fit(X, y, sample_weight=w)
    ours = StreamingRidgeCV(alphas=ALPHAS, store_cv_results=True).fit(
        X, y, sample_weight=w, batch_size=8
    )
    assert ours.alpha_ == ref.alpha_
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    assert_allclose(ours.cv_results_, ref.cv_results_, rtol=1e-6)
    centered = StreamingRidgeCV(alphas=ALPHAS).fit(X - 1e6, y, sample_weight=w)
    assert_allclose(ours.coef_, centered.coef_, rtol=1e-7)


@pytest.mark.parametrize(
    "scoring",
    [
        "r2",
        "neg_mean_squared_error",
        "explained_variance",
        "neg_mean_absolute_error",
        make_scorer(mean_squared_error, greater_is_better=False),
        lambda est, X, y: -np.mean((est.predict(X) - y) ** 2),
    ],
    ids=["r2", "mse", "ev", "mae", "make_scorer", "callable"],
)
@pytest.mark.parametrize("n_targets", [None, 2])
def test_leave_one_out_scorers(scoring, n_targets):
    X, y = _data(20, 4, n_targets, seed=3)
    params = dict(alphas=ALPHAS, scoring=scoring, store_cv_results=True)
    ref = RidgeCV(**params).fit(X, y)
    ours = StreamingRidgeCV(**params).fit(X, y, batch_size=6)
    _assert_same_model(ours, ref)
    # With a scorer, cv_results_ holds the leave-one-out predictions.
    assert_allclose(ours.cv_results_, ref.cv_results_, rtol=1e-9)


def test_weighted_scorer_gets_the_weights():
    X, y = _data(20, 4, 2, seed=4)
    w = _weights(20)
    params = dict(alphas=ALPHAS, scoring="r2")
    ref = RidgeCV(**params).fit(X, y, sample_weight=w)
    ours = StreamingRidgeCV(**params).fit(X, y, sample_weight=w, batch_size=6)
    _assert_same_model(ours, ref)


@pytest.mark.parametrize("scoring", [None, "r2"])
@pytest.mark.parametrize("shape", [(30, 5), (8, 12)], ids=str)
def test_alpha_per_target(scoring, shape):
    X, y = _data(*shape, 3, seed=5)
    y[:, 1] += 10 * np.random.default_rng(0).normal(size=len(y))
    params = dict(alphas=ALPHAS, alpha_per_target=True, scoring=scoring)
    ref = RidgeCV(**params).fit(X, y)
    ours = StreamingRidgeCV(**params).fit(X, y, batch_size=5)
    assert isinstance(ours.alpha_, np.ndarray)
    _assert_same_model(ours, ref)


def test_rows_of_zero_weight():
    X, y = _data(20, 3)
    w = _weights(20)
    w[[2, 7]] = 0.0
    ref = RidgeCV(alphas=ALPHAS, store_cv_results=True).fit(X, y, sample_weight=w)
    ours = StreamingRidgeCV(alphas=ALPHAS, store_cv_results=True).fit(
        X, y, sample_weight=w, batch_size=4
    )
    _assert_same_model(ours, ref)
    assert_allclose(ours.cv_results_, ref.cv_results_, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("shape", [(60, 30), (30, 30), (30, 60)], ids=str)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-16, 1e16])
def test_regularization_limits(shape, fit_intercept, alpha):
    # alpha -> 0: least squares (minimum norm where rows are too few);
    # alpha -> inf: no coefficients.
    from sklearn.linear_model import LinearRegression

    X, y = _data(*shape, seed=6)
    ours = StreamingRidgeCV(alphas=[alpha], fit_intercept=fit_intercept).fit(
        X, y, batch_size=7
    )
    if alpha < 1:
        ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
        coef, intercept = ref.coef_, ref.intercept_
    else:
        coef = np.zeros(shape[1])
        intercept = y.mean() if fit_intercept else 0.0
    assert_allclose(ours.coef_, coef, atol=1e-9)
    assert_allclose(ours.intercept_, intercept, atol=1e-9)


def test_scalar_alphas():
    X, y = _data(15, 3)
    ref = RidgeCV(alphas=2.0).fit(X, y)
    ours = StreamingRidgeCV(alphas=2.0).fit(X, y)
    _assert_same_model(ours, ref)
    assert type(ours.alpha_) is type(ref.alpha_) is float


def test_attribute_types_are_sklearns():
    X, y = _data(15, 3)
    for cv in (None, 3):
        ref = RidgeCV(cv=cv).fit(X, y)
        ours = StreamingRidgeCV(cv=cv).fit(X, y)
        for name in ("alpha_", "best_score_", "intercept_"):
            assert type(getattr(ours, name)) is type(getattr(ref, name)), (cv, name)
    ours = StreamingRidgeCV().fit(X, y)
    assert not hasattr(ours, "cv_results_")


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"alphas": (1, -1, -100)}, ValueError, r"alphas\[1\] == -1, must be > 0.0"),
        ({"alphas": (0.0, 1.0)}, ValueError, r"alphas\[0\] == 0.0, must be > 0.0"),
        ({"alphas": (1, 1.0, "1")}, TypeError, r"alphas\[2\] must be an instance"),
        ({"alphas": 0.0}, ValueError, "The 'alphas' parameter"),
        (
            {"cv": 3, "store_cv_results": True},
            ValueError,
            "cv!=None and store_cv_results=True are incompatible",
        ),
        (
            {"cv": 3, "alpha_per_target": True},
            ValueError,
            "cv!=None and alpha_per_target=True are incompatible",
        ),
        ({"gcv_mode": "qr"}, ValueError, "The 'gcv_mode' parameter"),
        ({"scoring": "no-such-score"}, ValueError, "The 'scoring' parameter"),
    ],
)
def test_errors_are_sklearns(params, error, match):
    X, y = _data(10, 3)
    with pytest.raises(error, match=match):
        RidgeCV(**params).fit(X, y)
    with pytest.raises(error, match=match):
        StreamingRidgeCV(**params).fit(X, y)


def test_zero_alpha_is_allowed_with_folds():
    X, y = _data(10, 3)
    ref = RidgeCV(alphas=(0.0, 1.0), cv=3).fit(X, y)
    ours = StreamingRidgeCV(alphas=(0.0, 1.0), cv=3).fit(X, y)
    _assert_same_model(ours, ref)


@pytest.mark.parametrize(
    "scoring",
    [
        "explained_variance",
        "neg_median_absolute_error",
        make_scorer(mean_squared_error, greater_is_better=False),
        lambda est, X, y: -np.mean(np.abs(est.predict(X) - y)),
    ],
    ids=["ev", "median", "make_scorer", "callable"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_folds_with_any_scorer(scoring, weighted):
    # Scorers of whole predictions: a second pass predicts the test rows.
    X, y = _data(24, 3, seed=13)
    w = _weights(24) if weighted else None
    cv = KFold(4, shuffle=True, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = RidgeCV(alphas=ALPHAS, cv=cv, scoring=scoring).fit(X, y, sample_weight=w)
        ours = StreamingRidgeCV(alphas=ALPHAS, cv=cv, scoring=scoring).fit(
            X, y, sample_weight=w, batch_size=5
        )
    _assert_same_model(ours, ref)


def test_svd_mode_on_sparse_x_warns_as_sklearn():
    X, y = _data(15, 3)
    with pytest.warns(FutureWarning, match="The 'svd' mode is not supported"):
        StreamingRidgeCV(gcv_mode="svd").fit(sparse.csr_matrix(X), y)


def test_data_beyond_float64_is_refused_by_leave_one_out():
    X, y = _data(10, 3)
    with pytest.raises(ValueError, match="cv=None.*pass cv=5"):
        StreamingRidgeCV().fit(X * 1e200, y)


# -- cv: folds --------------------------------------------------------------------


def _grid(X, y, cv, scoring=None, sample_weight=None, fit_intercept=True):
    return GridSearchCV(
        Ridge(fit_intercept=fit_intercept), {"alpha": ALPHAS}, cv=cv, scoring=scoring
    ).fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("kind", ["int", "splitter", "list", "generator"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_folds_of_every_kind(kind, weighted, n_jobs):
    X, y = _data(40, 5, 2, seed=7)
    w = _weights(40) if weighted else None
    splitter = KFold(4, shuffle=True, random_state=0)
    cv = {
        "int": 4,
        "splitter": splitter,
        "list": list(splitter.split(X)),
        "generator": splitter.split(X),
    }[kind]
    reference_cv = KFold(4) if kind == "int" else splitter
    ref = RidgeCV(alphas=ALPHAS, cv=reference_cv).fit(X, y, sample_weight=w)
    grid = _grid(X, y, reference_cv, sample_weight=w)
    ours = StreamingRidgeCV(alphas=ALPHAS, cv=cv, n_jobs=n_jobs).fit(
        X, y, sample_weight=w, batch_size=6
    )
    _assert_same_model(ours, ref)
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-9,
    )


def test_group_splits_of_repeated_rows():
    # scikit-learn's test_ridge_gcv_sample_weights: a generator of GroupKFold
    # splits over tiled rows.
    X, y = _data(11, 4, seed=8)
    repeats = np.random.default_rng(0).integers(1, 4, size=11)
    groups = np.repeat(np.arange(11), repeats)
    Xt, yt = X[groups], y[groups]
    cv = GroupKFold(n_splits=11)
    params = dict(alphas=ALPHAS, scoring="neg_mean_squared_error")
    ref = RidgeCV(**params, cv=cv.split(Xt, yt, groups=groups)).fit(Xt, yt)
    ours = StreamingRidgeCV(**params, cv=cv.split(Xt, yt, groups=groups)).fit(
        Xt, yt, batch_size=5
    )
    _assert_same_model(ours, ref)


@pytest.mark.parametrize(
    "shape, weighted",
    [((40, 5), False), ((40, 5), True), ((12, 20), False), ("diabetes", False)],
    ids=str,
)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("batch_size, n_jobs", [(None, 1), (4, 1), (7, 2)])
def test_zero_and_one_with_three_folds_pick_sklearns_alpha(
    shape, weighted, fit_intercept, batch_size, n_jobs
):
    """``alphas=(0, 1), cv=3``: the fold models (from the folds' merged
    statistics, solved by StreamingRidge's solver) score and pick as
    scikit-learn's, and the refit is its model."""
    if shape == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = _data(*shape)
    w = _weights(len(X)) if weighted else None
    params = dict(alphas=(0, 1), cv=3, fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        # scikit-learn's Cholesky solve at alpha=0 of the wide folds.
        warnings.simplefilter("ignore")
        ref = RidgeCV(**params).fit(X, y, sample_weight=w)
        ours = StreamingRidgeCV(**params, batch_size=batch_size or "auto")
        ours.set_params(n_jobs=n_jobs).fit(X, y, sample_weight=w)
    _assert_same_model(ours, ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_folds_float32_and_offset(dtype):
    X, y = _data(30, 3, offset=1e6 if dtype == np.float64 else 0.0, dtype=dtype)
    ref = _grid(X - (1e6 if dtype == np.float64 else 0.0), y, KFold(5))
    ours = StreamingRidgeCV(alphas=ALPHAS, cv=5).fit(X, y, batch_size=4)
    assert ours.alpha_ == ref.best_params_["alpha"]
    assert ours.coef_.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-7
    assert_allclose(ours.coef_, ref.best_estimator_.coef_, rtol=rtol)
    assert_allclose(ours.best_score_, ref.best_score_, rtol=rtol)


def test_one_row_test_fold_scores_nan_as_sklearn():
    # KFold(5) of 6 rows has test folds of one row: R² is undefined there
    # (NaN), so every mean is NaN and GridSearchCV keeps the first alpha.
    # (Scored 0, the fold of two rows chose 10.)
    rng = np.random.RandomState(0)
    y, X, w = rng.randn(6), rng.randn(6, 5), 1.0 + rng.rand(6)
    alphas = (0.1, 1.0, 10.0)
    ref = RidgeCV(alphas=alphas, cv=KFold(5)).fit(X, y, sample_weight=w)
    with pytest.warns(UndefinedMetricWarning):
        ours = StreamingRidgeCV(alphas=alphas, cv=KFold(5)).fit(X, y, sample_weight=w)
    assert ours.alpha_ == ref.alpha_ == 0.1
    assert np.isnan(ours.best_score_) and np.isnan(ref.best_score_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)


def test_one_row_folds_do_not_let_the_other_folds_choose():
    # KFold(6) of 7 rows: one fold of two rows, five of one. Scored 0, the
    # one-row folds would leave the choice to the first fold (alpha=1); NaN,
    # every mean is NaN and alpha is the first, as GridSearchCV's.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(7, 3))
    y = X @ [1.0, 2.0, 0.0] + 0.3 * rng.normal(size=7)
    alphas = [0.1, 1.0, 10.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RidgeCV(alphas=alphas, cv=KFold(6)).fit(X, y)
        ours = StreamingRidgeCV(alphas=alphas, cv=KFold(6)).fit(X, y)
        mse = StreamingRidgeCV(
            alphas=alphas, cv=KFold(6), scoring="neg_mean_squared_error"
        ).fit(X, y)
        mse_ref = RidgeCV(
            alphas=alphas, cv=KFold(6), scoring="neg_mean_squared_error"
        ).fit(X, y)
    assert ours.alpha_ == ref.alpha_ == 0.1
    assert ours.cv_results_["split0_test_score"].argmax() == 1
    assert_array_equal(ours.cv_results_["rank_test_score"], [1, 1, 1])
    # One-row folds have a mean squared error: no NaN there.
    _assert_same_model(mse, mse_ref)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_tiny_alpha_on_more_features_than_rows_is_minimum_norm(fit_intercept):
    # The training sets have fewer rows than features: with alpha=1e-12
    # scikit-learn's Ridge solves the dual system, whose limit is the
    # minimum-norm least-squares model; the primal normal equations would
    # amplify their rounding by 1e12.
    X, y = _data(12, 30, seed=11)
    alphas = [1e-12]
    grid = GridSearchCV(
        Ridge(fit_intercept=fit_intercept),
        {"alpha": alphas},
        cv=KFold(3),
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    ours = StreamingRidgeCV(
        alphas=alphas,
        cv=3,
        scoring="neg_mean_squared_error",
        fit_intercept=fit_intercept,
    ).fit(X, y, batch_size=5)
    assert_allclose(ours.coef_, grid.best_estimator_.coef_, atol=1e-8)
    assert_allclose(ours.best_score_, grid.best_score_, rtol=1e-6)


@pytest.mark.parametrize(
    "cv",
    [
        ShuffleSplit(4, test_size=0.3, random_state=0),
        TimeSeriesSplit(3),
        [(np.arange(10, 30), np.arange(10)), (np.arange(20), np.arange(15, 30))],
    ],
    ids=["shuffle", "time-series", "overlapping"],
)
@pytest.mark.parametrize("weighted", [False, True])
def test_splits_that_are_not_folds(cv, weighted):
    # Test sets that overlap or leave rows out, training sets that are not
    # the rest: each split gets its own statistics.
    X, y = _data(30, 3, 2, seed=12)
    w = _weights(30) if weighted else None
    for scoring in (None, "neg_mean_squared_error"):
        ref = RidgeCV(alphas=ALPHAS, cv=cv, scoring=scoring).fit(X, y, sample_weight=w)
        grid = _grid(X, y, cv, scoring=scoring, sample_weight=w)
        ours = StreamingRidgeCV(alphas=ALPHAS, cv=cv, scoring=scoring).fit(
            X, y, sample_weight=w, batch_size=4
        )
        _assert_same_model(ours, ref)
        for key in ["mean_test_score", "split0_test_score", "rank_test_score"]:
            assert_allclose(ours.cv_results_[key], grid.cv_results_[key], rtol=1e-9)


# -- hard data --------------------------------------------------------------------


def _brute_force_loo(X, y, alpha, rows, sample_weight=None):
    """Squared leave-one-out errors of ``rows`` by refitting Ridge."""
    out = []
    for i in rows:
        keep = np.arange(len(X)) != i
        w = None if sample_weight is None else sample_weight[keep]
        model = Ridge(alpha=alpha, solver="cholesky").fit(X[keep], y[keep], w)
        out.append((y[i] - model.predict(X[i : i + 1])[0]) ** 2)
    return np.array(out)


def _hard(case, n=120, seed=14):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3)) @ [[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]]
    y = Z @ [1.0, -2.0, 0.5] + rng.normal(size=n)
    if case == "offset":
        return Z * 0.02 + 1e8, y, 1e8
    if case == "scales":
        return Z * np.logspace(-5, 5, 3), y, 0.0
    X = Z.copy()
    X[:, 2] = X[:, 0] + 1e-9 * rng.normal(size=n)
    return X, y, 0.0


@pytest.mark.parametrize("case", ["offset", "scales", "near_duplicate"])
def test_leave_one_out_on_hard_data_is_exact(case):
    # Rows at 1e8 with a spread of 0.02, columns scaled 1e-5 ... 1e5, two
    # columns equal to 1e-9: the leave-one-out errors equal refits of Ridge
    # on the translated rows (scikit-learn's RidgeCV is itself off by 1e-8
    # to 1e-3 on the last two).
    X, y, offset = _hard(case)
    alphas = [1e-3, 1.0, 1e3]
    ours = StreamingRidgeCV(alphas=alphas, store_cv_results=True).fit(
        X, y, batch_size=16
    )
    rows = [0, 5, 77]
    for a, alpha in enumerate(alphas):
        want = _brute_force_loo(X - offset, y, alpha, rows)
        assert_allclose(ours.cv_results_[rows, a], want, rtol=1e-8)
    ref = Ridge(alpha=ours.alpha_, solver="cholesky").fit(X - offset, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)


# -- out of core ------------------------------------------------------------------


def test_leave_one_out_reads_the_rows_twice_in_batches(npy):
    from .test_lazy import CountingStore

    X, y = _data(60, 4, 2)
    store = CountingStore(X)
    ours = StreamingRidgeCV(alphas=ALPHAS).fit(store, y, batch_size=16)
    assert store.rows_read == 2 * len(X)
    assert max(len(range(*key.indices(len(X)))) for key in store.keys) <= 16
    ref = RidgeCV(alphas=ALPHAS).fit(X, y)
    _assert_same_model(ours, ref)
    # A .npy file, memory-mapped, gives the same model.
    from_file = StreamingRidgeCV(alphas=ALPHAS).fit(npy(X), y, batch_size=16)
    _assert_same_model(from_file, ref)


def test_folds_read_the_rows_once():
    from .test_lazy import CountingStore

    X, y = _data(60, 4)
    store = CountingStore(X)
    StreamingRidgeCV(alphas=ALPHAS, cv=5).fit(store, y, batch_size=16)
    assert store.rows_read == len(X)
