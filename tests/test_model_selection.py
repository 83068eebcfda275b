"""Through scikit-learn's tools: one-pass RidgeCV, GridSearchCV over views,
streaming pipelines."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    StandardScaler,
)

from sklearn_ooc import LazyArray, open_array
from sklearn_ooc.linear_model import StreamingRidge, StreamingRidgeCV
from sklearn_ooc.linear_model._ridge_cv import _fold_ids
from sklearn_ooc.mixture import OOCGaussianMixture
from sklearn_ooc.preprocessing import StreamingTransformer

from .test_lazy import CountingStore

ALPHAS = [1e-3, 0.1, 10.0, 1e3, 1e5]


def _regression(rng, n=1003, d=6, n_targets=None, offset=0.0):
    X = rng.normal(size=(n, d)) + offset
    coef = rng.normal(size=(d,) if n_targets is None else (d, n_targets))
    noise = rng.normal(size=(n,) if n_targets is None else (n, n_targets))
    return X, (X - offset) @ coef + 3 * noise


# -- StreamingRidgeCV ---------------------------------------------------------------


@pytest.mark.parametrize("n_samples", [5, 7, 1003])
@pytest.mark.parametrize("cv", [5, KFold(3), KFold(4, shuffle=True, random_state=0)])
def test_fold_ids_are_kfolds_test_folds(n_samples, cv):
    folds, n_folds = _fold_ids(cv, n_samples)
    splitter = KFold(cv) if isinstance(cv, int) else cv
    want = np.full(n_samples, -1)
    for k, (_, test) in enumerate(splitter.split(np.zeros((n_samples, 1)))):
        want[test] = k
    assert n_folds == splitter.get_n_splits()
    assert_array_equal(folds, want)


def test_more_folds_than_rows_is_sklearns_error():
    with pytest.raises(ValueError, match="Cannot have number of splits n_splits=5"):
        _fold_ids(5, 3)


@pytest.mark.parametrize("n_targets", [None, 2])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_ridge_cv_equals_grid_search_over_ridge(rng, n_targets, offset):
    X, y = _regression(rng, n_targets=n_targets, offset=offset)
    grid = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=KFold(5)).fit(X, y)
    ours = StreamingRidgeCV(alphas=ALPHAS, cv=5, batch_size=97).fit(X, y)
    assert ours.alpha_ == grid.best_params_["alpha"]
    assert_allclose(ours.best_score_, grid.best_score_, rtol=1e-9)
    for key in ["mean_test_score", "std_test_score"] + [
        f"split{k}_test_score" for k in range(5)
    ]:
        assert_allclose(
            ours.cv_results_[key],
            grid.cv_results_[key],
            rtol=1e-8,
            atol=1e-10,
            err_msg=key,
        )
    assert_array_equal(
        ours.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
    )
    scale = np.abs(grid.best_estimator_.coef_).max()
    assert_allclose(
        ours.coef_, grid.best_estimator_.coef_, rtol=1e-8, atol=1e-10 * scale
    )


def test_ridge_cv_with_shuffled_folds_weights_and_mse(rng):
    X, y = _regression(rng)
    w = rng.uniform(0.5, 2, size=len(X))
    cv = KFold(4, shuffle=True, random_state=0)
    grid = GridSearchCV(
        Ridge(), {"alpha": ALPHAS}, cv=cv, scoring="neg_mean_squared_error"
    ).fit(X, y)
    ours = StreamingRidgeCV(
        alphas=ALPHAS, cv=cv, scoring="neg_mean_squared_error", batch_size=200
    ).fit(X, y)
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-9,
    )
    weighted = StreamingRidgeCV(alphas=ALPHAS, cv=5).fit(X, y, sample_weight=w)
    reference = Ridge(alpha=weighted.alpha_).fit(X, y, sample_weight=w)
    assert_allclose(weighted.coef_, reference.coef_, rtol=1e-9)


def test_ridge_cv_reads_every_row_exactly_once(rng):
    X, y = _regression(rng)
    store = CountingStore(X)
    StreamingRidgeCV(alphas=ALPHAS, cv=5, batch_size=100).fit(store, y)
    assert store.rows_read == len(X)


def test_ridge_cv_splits_that_are_not_folds_equal_grid_search(rng):
    X, y = _regression(rng, n=100)
    splits = [
        (np.arange(50, 100), np.arange(50)),
        (np.arange(60), np.arange(40, 100)),
        (np.arange(50, 90), np.arange(50)),
    ]
    grid = GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=splits).fit(X, y)
    ours = StreamingRidgeCV(alphas=ALPHAS, cv=splits).fit(X, y)
    assert ours.alpha_ == grid.best_params_["alpha"]
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        rtol=1e-9,
    )


# -- GridSearchCV and cross_validate over a LazyArray ---------------------------


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("y_on_disk", [False, True])
def test_grid_search_over_a_lazy_array_equals_memory(rng, npy, n_jobs, y_on_disk):
    X, y = _regression(rng, n=600)
    lazy = open_array(npy(X))
    grid = {"alpha": [0.1, 10.0, 1e4]}
    on_disk = GridSearchCV(StreamingRidge(batch_size=64), grid, cv=5, n_jobs=n_jobs)
    on_disk.fit(lazy, open_array(npy(y)) if y_on_disk else y)
    in_memory = GridSearchCV(StreamingRidge(), grid, cv=5).fit(X, y)
    assert on_disk.best_params_ == in_memory.best_params_
    assert_allclose(
        on_disk.cv_results_["mean_test_score"],
        in_memory.cv_results_["mean_test_score"],
        rtol=1e-10,
    )
    assert isinstance(lazy[np.arange(3), ...], LazyArray)


def test_cross_validate_streams_train_and_test_views(rng, npy):
    X, y = _regression(rng, n=300)
    store = CountingStore(X)
    scores = cross_validate(StreamingRidge(batch_size=50), LazyArray(store), y, cv=3)
    reference = cross_validate(StreamingRidge(), X, y, cv=3)
    assert_allclose(scores["test_score"], reference["test_score"], rtol=1e-10)
    # Each fold reads its training rows to fit and its test rows to score.
    assert store.rows_read == 3 * len(X)


# -- pipelines ---------------------------------------------------------------------


@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler(), MaxAbsScaler()])
def test_streaming_transformer_fits_batches_like_the_scaler(rng, npy, scaler):
    X = rng.normal(size=(500, 3)) * [1, 10, 100] + 5
    ours = StreamingTransformer(scaler, batch_size=37).fit(open_array(npy(X)))
    reference = type(scaler)().fit(X)
    assert_allclose(ours.transform(X), reference.transform(X), rtol=1e-12, atol=1e-14)
    lazy = ours.transform(open_array(npy(X)))
    assert isinstance(lazy, LazyArray)
    assert_allclose(np.asarray(lazy), reference.transform(X), rtol=1e-12, atol=1e-14)
    assert_allclose(np.asarray(ours.inverse_transform(lazy)), X, rtol=1e-12)


@pytest.mark.parametrize("scaler", [StandardScaler(), MinMaxScaler(), MaxAbsScaler()])
def test_streaming_scalers_take_nan_and_weights_like_the_scaler(rng, npy, scaler):
    X = rng.normal(size=(300, 3)) * [1, 10, 100] + 5
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    weights = rng.integers(0, 4, size=300).astype(float)
    weights[:40] = 0  # whole batches of weight zero
    takes_weights = type(scaler) is StandardScaler
    fit_params = {"sample_weight": weights} if takes_weights else {}
    ours = StreamingTransformer(scaler, batch_size=20).fit(
        open_array(npy(X)), **fit_params
    )
    reference = type(scaler)().fit(X, **fit_params)
    for name in ("scale_", "mean_", "var_", "data_min_", "max_abs_"):
        if hasattr(reference, name):
            assert_allclose(
                getattr(ours.transformer_, name), getattr(reference, name), rtol=1e-12
            )
    assert_allclose(ours.transform(X), reference.transform(X), rtol=1e-12)
    if not takes_weights:
        with pytest.raises(ValueError, match="partial_fit does not take sample_w"):
            StreamingTransformer(scaler).fit(X, sample_weight=weights)


def test_all_zero_weights_are_refused_as_by_scikit_learn(rng):
    X = rng.normal(size=(30, 2))
    message = "Sample weights must contain at least one non-zero number"
    for transformer in (StandardScaler(), FunctionTransformer(np.log1p)):
        wrapper = StreamingTransformer(transformer, batch_size=7)
        with pytest.raises(ValueError, match=message):
            wrapper.fit(X, sample_weight=np.zeros(30))
        assert not hasattr(wrapper, "transformer_")


def test_stateless_transformers_and_refusals(rng):
    X = rng.uniform(1, 2, size=(20, 2))
    log = StreamingTransformer(FunctionTransformer(np.log), batch_size=5).fit(X)
    assert_allclose(log.transform(X), np.log(X))
    from sklearn.decomposition import PCA

    with pytest.raises(ValueError, match="PCA has no partial_fit and needs fitting"):
        StreamingTransformer(PCA()).fit(X)


def test_pipeline_stays_lazy_and_equals_the_pipeline_in_memory(rng, npy):
    X = np.vstack([rng.normal(-2, 1, (300, 2)), rng.normal(2, 0.5, (300, 2))]) * [1, 50]
    X = X[rng.permutation(600)]
    start = {
        "weights_init": [0.5, 0.5],
        "means_init": [[-1.0, -1.0], [1.0, 1.0]],
        "precisions_init": np.array([np.eye(2)] * 2),
    }
    store = CountingStore(X)
    pipe = Pipeline(
        [
            ("scale", StreamingTransformer(StandardScaler(), batch_size=64)),
            (
                "gmm",
                OOCGaussianMixture(2, batch_size=64, max_iter=10, tol=0.0, **start),
            ),
        ]
    )
    reference = Pipeline(
        [
            ("scale", StandardScaler()),
            ("gmm", GaussianMixture(2, max_iter=10, tol=0.0, **start)),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(LazyArray(store))
        reference.fit(X)
    # One pass for the scaler and one per EM iteration (and one row to learn
    # the width of the scaled rows): never all rows at once.
    assert store.rows_read == len(X) * (1 + 10) + 1
    assert max(len(k) if hasattr(k, "__len__") else 64 for k in store.keys) <= 64
    gmm, ref = pipe.named_steps["gmm"], reference.named_steps["gmm"]
    assert_allclose(gmm.means_, ref.means_, rtol=1e-9, atol=1e-12)
    assert_allclose(gmm.covariances_, ref.covariances_, rtol=1e-9)
    assert_array_equal(pipe.predict(LazyArray(store)), reference.predict(X))


def test_pipeline_in_grid_search_over_a_lazy_array(rng, npy):
    X, y = _regression(rng, n=400)
    X = X * [1, 10, 100, 1, 1, 1]
    pipe = Pipeline(
        [
            ("scale", StreamingTransformer(StandardScaler(), batch_size=50)),
            ("ridge", StreamingRidge(batch_size=50)),
        ]
    )
    reference = Pipeline([("scale", StandardScaler()), ("ridge", Ridge())])
    params = {"ridge__alpha": [0.1, 100.0]}
    ours = GridSearchCV(pipe, params, cv=3).fit(open_array(npy(X)), y)
    theirs = GridSearchCV(reference, params, cv=3).fit(X, y)
    assert ours.best_params_ == theirs.best_params_
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        theirs.cv_results_["mean_test_score"],
        rtol=1e-10,
    )
