"""PLS regression, PLS canonical and CCA from streamed cross-covariances."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cross_decomposition import CCA, PLSCanonical, PLSRegression

from sklearn_ooc.cross_decomposition import OOCCCA, OOCPLSCanonical, OOCPLSRegression

from .conftest import fitted_state

PAIRS = [
    (PLSRegression, OOCPLSRegression, {}),
    (PLSCanonical, OOCPLSCanonical, {}),
    (PLSCanonical, OOCPLSCanonical, {"algorithm": "svd"}),
    (CCA, OOCCCA, {}),
]


def _data(seed=0, n=200, p=5, q=3, offset=0.0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))
    Y = X[:, :q] @ rng.normal(size=(q, q)) + 0.3 * rng.normal(size=(n, q))
    return X + offset, Y


def _assert_same(ours, ref, X, rtol):
    for name in ("x_weights_", "y_weights_", "x_loadings_", "y_loadings_", "coef_"):
        scale = np.abs(getattr(ref, name)).max()
        assert_allclose(getattr(ours, name), getattr(ref, name), atol=rtol * scale)
    assert ours.n_iter_ == ref.n_iter_ or rtol > 1e-9
    assert_allclose(ours.transform(X), ref.transform(X), atol=rtol * 100)
    assert_allclose(ours.predict(X), ref.predict(X), atol=rtol * 100)


@pytest.mark.parametrize("sk, ooc, params", PAIRS)
@pytest.mark.parametrize("batch_size", [7, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("scale", [True, False])
def test_equals_scikit_learn(sk, ooc, params, batch_size, n_jobs, scale):
    X, Y = _data()
    # CCA's power method converges slowly: both run to max_iter alike.
    rtol = 1e-8 if sk is CCA else 1e-12
    kw = dict(n_components=2, tol=1e-14, max_iter=2000, scale=scale, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk(**kw).fit(X, Y)
        ours = ooc(**kw, batch_size=batch_size, n_jobs=n_jobs).fit(X, Y)
    _assert_same(ours, ref, X, rtol)


def test_pls_regression_of_one_target_and_from_a_memmap(tmp_path):
    X, Y = _data(seed=1)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref = PLSRegression(3).fit(X, Y[:, 0])
    ours = OOCPLSRegression(3, batch_size=30).fit(np.load(path, mmap_mode="r"), Y[:, 0])
    _assert_same(ours, ref, X, 1e-12)
    assert ours.predict(str(path)).shape == (len(X),)
    x_scores, y_scores = ours.transform(X, Y[:, 0])
    ref_x, ref_y = ref.transform(X, Y[:, 0])
    assert_allclose(y_scores, ref_y, atol=1e-10)


def test_far_from_the_origin_keeps_its_digits():
    # scikit-learn centers the rows first, as our merged centered moments do.
    X, Y = _data(seed=2)
    ref = PLSRegression(2).fit(X, Y)
    ours = OOCPLSRegression(2, batch_size=32).fit(X + 1e6, Y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.predict(X + 1e6), ref.predict(X), atol=1e-6)


def test_the_same_bits_for_every_n_jobs():
    X, Y = _data(seed=3)
    fits = [OOCPLSCanonical(2, batch_size=16, n_jobs=n).fit(X, Y) for n in (1, 2)]
    assert_array_equal(fits[0].x_weights_, fits[1].x_weights_)


def test_too_many_components_is_scikit_learns_error_and_the_model_unchanged():
    X, Y = _data(seed=4)
    model = OOCCCA(2, batch_size=50).fit(X, Y)
    before = fitted_state(model)
    with pytest.raises(ValueError, match="`n_components` upper bound is 3. Got 4"):
        model.set_params(n_components=4).fit(X, Y)
    model.set_params(n_components=2)
    assert fitted_state(model) == before


@pytest.mark.parametrize("seed", [530, 741])
def test_cca_of_four_rows_ignores_the_rounding_left_by_deflation(seed):
    # scikit-learn's data for its issue 18746: four rows, three features. The
    # second component's Y.T @ Y, once deflated, keeps an eigenvalue of a
    # few roundings; inverted (pinv's default cut, on an Intel machine), it
    # made the y weights. Cut, the scores are scikit-learn's, scaled or not.
    rng = np.random.RandomState(seed)
    X, y = rng.randn(4, 3), rng.randn(4, 2)
    X_s, y_s = ((A - A.mean(axis=0)) / A.std(axis=0, ddof=1) for A in (X, y))
    for data, scale in (((X, y), True), ((X_s, y_s), False)):
        ours = OOCCCA(scale=scale).fit(*data).transform(*data)
        ref = CCA(scale=scale).fit(*data).transform(*data)
        for a, b in zip(ours, ref, strict=True):
            assert_allclose(a, b, rtol=1e-9, atol=1e-9)
