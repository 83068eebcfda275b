"""StreamingLars, StreamingLassoLars and StreamingLassoLarsIC against
scikit-learn with ``precompute=True``: its own LARS solver on the same Gram
matrix, so the paths agree to rounding."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import Lars, LassoLars, LassoLarsIC

from sklearn_ooc import out_of_core
from sklearn_ooc.linear_model import (
    StreamingLars,
    StreamingLassoLars,
    StreamingLassoLarsIC,
)


def _problem(n=200, d=7, offset=0.0, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    coef = rng.normal(size=d) * (rng.random(d) > 0.4)
    y = X @ coef + 0.5 * rng.normal(size=n) + 2.0
    return (X + offset).astype(dtype), y


@pytest.fixture
def npy(tmp_path):
    def save(array, name="X.npy"):
        path = tmp_path / name
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    return save


def _assert_same_path(ours, ref, rtol=1e-12):
    assert_allclose(ours.alphas_, ref.alphas_, rtol=rtol, atol=1e-14)
    assert_allclose(ours.coef_, ref.coef_, rtol=rtol, atol=1e-13)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol, atol=1e-13)
    assert ours.n_iter_ == ref.n_iter_
    if hasattr(ref, "coef_path_"):
        assert_allclose(ours.coef_path_, ref.coef_path_, rtol=rtol, atol=1e-13)
        assert_array_equal(ours.active_, ref.active_)


@pytest.mark.parametrize("batch_size", [1, 23, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(
    "name, params",
    [
        ("Lars", {}),
        ("Lars", dict(n_nonzero_coefs=3)),
        ("LassoLars", dict(alpha=0.02)),
        ("LassoLars", dict(alpha=0.02, positive=True)),
        ("LassoLars", dict(alpha=0.0, fit_path=False)),
    ],
)
def test_least_angle_equals_sklearn(
    npy, batch_size, n_jobs, fit_intercept, name, params
):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, y = _problem()
    ref = getattr(sklearn.linear_model, name)(
        precompute=True, fit_intercept=fit_intercept, **params
    ).fit(X, y)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(
        fit_intercept=fit_intercept, n_jobs=n_jobs, **params
    ).fit(npy(X), y, batch_size=batch_size)
    _assert_same_path(ours, ref)
    assert_allclose(ours.predict(npy(X, "P.npy")), ref.predict(X), rtol=1e-12)


def test_far_from_the_origin_and_float32(npy):
    X, y = _problem(offset=1e6)
    ours = StreamingLassoLars(alpha=0.01).fit(npy(X), y, batch_size=31)
    ref = LassoLars(alpha=0.01, precompute=True).fit(X - 1e6, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9, atol=1e-10)
    assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-9)
    X32, y = _problem(dtype=np.float32)
    ours = StreamingLars().fit(npy(X32, "F.npy"), y, batch_size=31)
    assert ours.coef_.dtype == np.float32
    ref = Lars(precompute=True).fit(X32.astype(np.float64), y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-6)


def test_jitter_draws_sklearns_noise_in_row_order(npy):
    X, y = _problem()
    params = dict(alpha=0.01, jitter=0.3, random_state=7)
    ref = LassoLars(precompute=True, **params).fit(X, y)
    ours = StreamingLassoLars(n_jobs=2, **params).fit(npy(X), y, batch_size=13)
    _assert_same_path(ours, ref)
    with pytest.raises(ValueError, match="y must be 1-D"):
        StreamingLars(jitter=0.1).fit(X, np.column_stack([y, y]))


def test_several_targets_and_given_products():
    X, y = _problem()
    Y = np.column_stack([y, X[:, 0] - y])
    ref = Lars(precompute=True).fit(X, Y)
    ours = StreamingLars().fit(X, Y, batch_size=40)
    assert len(ours.coef_path_) == 2 and ours.coef_.shape == (2, 7)
    for a, b in zip(ours.alphas_, ref.alphas_, strict=True):
        assert_allclose(a, b, rtol=1e-12)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    # A Gram matrix and X^T y given by the caller are used as scikit-learn
    # uses them.
    gram, xy = X.T @ X, (X.T @ y)[:, None]
    params = dict(fit_intercept=False, precompute=gram)
    ref = Lars(**params).fit(X, y, Xy=xy)
    _assert_same_path(StreamingLars(**params).fit(X, y, Xy=xy), ref)


def test_partial_fit_is_the_model_of_all_rows_seen():
    X, y = _problem()
    model = StreamingLassoLars(alpha=0.02)
    for start in range(0, 200, 50):
        model.partial_fit(X[start : start + 50], y[start : start + 50])
    _assert_same_path(model, LassoLars(alpha=0.02, precompute=True).fit(X, y), 1e-10)
    with pytest.raises(TypeError, match="sample_weight"):
        model.partial_fit(X, y, sample_weight=np.ones(200))


@pytest.mark.parametrize("criterion", ["aic", "bic"])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_information_criteria_equal_sklearns(npy, criterion, positive, fit_intercept):
    X, y = _problem()
    params = dict(criterion=criterion, positive=positive, fit_intercept=fit_intercept)
    ref = LassoLarsIC(precompute=True, **params).fit(X, y)
    ours = StreamingLassoLarsIC(**params).fit(npy(X), y, batch_size=37)
    # The residual sums of squares are quadratic forms in the Gram.
    assert_allclose(ours.criterion_, ref.criterion_, rtol=1e-10)
    assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-10)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12, abs=1e-15)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-12, atol=1e-13)
    given = StreamingLassoLarsIC(noise_variance=0.25, **params).fit(X, y)
    ref = LassoLarsIC(noise_variance=0.25, precompute=True, **params).fit(X, y)
    assert given.noise_variance_ == 0.25
    assert_allclose(given.criterion_, ref.criterion_, rtol=1e-10)


def test_information_criteria_refusals():
    X, y = _problem(n=6)
    with pytest.raises(ValueError, match="Provide an estimate of the noise variance"):
        StreamingLassoLarsIC().fit(X, y)
    X, y = _problem()
    with pytest.raises(ValueError, match="y should be a 1d array"):
        StreamingLassoLarsIC().fit(X, np.column_stack([y, y]))
    with pytest.warns(DataConversionWarning):
        model = StreamingLassoLarsIC().fit(X, y[:, None])
    assert model.coef_.shape == (7,)


def test_out_of_core_converts_sklearns_models():
    for ref, ours in [
        (Lars(n_nonzero_coefs=4), StreamingLars),
        (LassoLars(alpha=0.3, positive=True), StreamingLassoLars),
        (LassoLarsIC(criterion="bic"), StreamingLassoLarsIC),
    ]:
        converted = out_of_core(ref)
        assert type(converted) is ours
        for key, value in ref.get_params().items():
            assert converted.get_params()[key] == value


@pytest.mark.parametrize("method", ["lar", "lasso"])
def test_lars_path_from_one_pass(npy, method):
    from sklearn.linear_model import lars_path as sklearn_lars_path

    from sklearn_ooc.linear_model import lars_path

    X, y = _problem()
    ref = sklearn_lars_path(X, y, Gram=X.T @ X, method=method, return_n_iter=True)
    ours = lars_path(npy(X), y, method=method, return_n_iter=True, batch_size=17)
    for a, b in zip(ours, ref, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="takes one target"):
        lars_path(X, np.column_stack([y, y]))


@pytest.mark.parametrize("name", ["LarsCV", "LassoLarsCV"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cv_equals_sklearn_from_one_pass(npy, name, fit_intercept):
    import sklearn.linear_model

    import sklearn_ooc.linear_model

    X, y = _problem(offset=0.0)
    params = dict(cv=4, max_n_alphas=15, fit_intercept=fit_intercept)
    ref = getattr(sklearn.linear_model, name)(precompute=True, **params).fit(X, y)
    ours = getattr(sklearn_ooc.linear_model, "Streaming" + name)(n_jobs=2, **params)
    ours.fit(npy(X), y, batch_size=29)
    assert_allclose(ours.cv_alphas_, ref.cv_alphas_, rtol=1e-12, atol=1e-14)
    assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-10)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12, abs=1e-15)
    _assert_same_path(ours, ref)
    with pytest.warns(UserWarning, match="cannot be an array"):
        getattr(sklearn_ooc.linear_model, "Streaming" + name)(
            precompute=X.T @ X, cv=3
        ).fit(X, y)
