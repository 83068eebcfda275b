"""Discriminant analysis from per-class statistics against scikit-learn."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)

from sklearn_ooc.discriminant_analysis import (
    OOCLinearDiscriminantAnalysis,
    OOCQuadraticDiscriminantAnalysis,
)

from .conftest import fitted_state


def _classes(rng, n_classes=3, offset=0.0, n=300):
    X = (
        np.vstack(
            [
                rng.normal(c, 1.0, (n, 4)) @ rng.normal(size=(4, 4))
                for c in range(n_classes)
            ]
        )
        + offset
    )
    y = np.repeat(np.array(["alpha", "beta", "gamma", "delta"][:n_classes]), n)
    order = rng.permutation(len(X))
    return X[order], y[order]


@pytest.mark.parametrize("solver", ["lsqr", "eigen"])
@pytest.mark.parametrize("shrinkage", [None, 0.3])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("batch_size", [1, 64, 5000])
def test_lda_equals_sklearn(rng, solver, shrinkage, n_classes, batch_size):
    X, y = _classes(rng, n_classes, offset=100.0, n=100)
    ref = LinearDiscriminantAnalysis(solver=solver, shrinkage=shrinkage).fit(X, y)
    ours = OOCLinearDiscriminantAnalysis(
        solver=solver, shrinkage=shrinkage, batch_size=batch_size
    ).fit(X, y)
    assert_array_equal(ours.classes_, ref.classes_)
    for name in ("coef_", "intercept_", "covariance_", "means_", "priors_"):
        assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=1e-8, atol=1e-10, err_msg=name
        )
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-10)
    assert_allclose(
        ours.decision_function(X), ref.decision_function(X), rtol=1e-8, atol=1e-8
    )
    if solver == "eigen":
        assert_allclose(
            ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8
        )
        assert_allclose(
            np.abs(ours.transform(X)), np.abs(ref.transform(X)), rtol=1e-6, atol=1e-8
        )
    else:
        assert not hasattr(ours, "transform")


@pytest.mark.parametrize(
    "solver, params",
    [("svd", {}), ("svd", {"reg_param": 0.2}), ("eigen", {"shrinkage": 0.1})],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_qda_equals_sklearn(rng, npy, solver, params, n_classes):
    X, y = _classes(rng, n_classes, n=200)
    ref = QuadraticDiscriminantAnalysis(
        solver=solver, store_covariance=True, **params
    ).fit(X, y)
    ours = OOCQuadraticDiscriminantAnalysis(
        solver=solver, store_covariance=True, batch_size=50, **params
    ).fit(npy(X), y)
    assert_allclose(ours.means_, ref.means_, rtol=1e-10)
    for a, b in zip(ours.scalings_, ref.scalings_, strict=True):
        assert_allclose(a, b, rtol=1e-8)
    for a, b in zip(ours.covariance_, ref.covariance_, strict=True):
        assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    assert_allclose(
        ours.decision_function(X), ref.decision_function(X), rtol=1e-8, atol=1e-8
    )
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-12)
    assert_array_equal(ours.predict(npy(X)), ref.predict(X))


def test_partial_fit_equals_fit_and_priors(rng):
    X, y = _classes(rng)
    ours = OOCLinearDiscriminantAnalysis(priors=[0.2, 0.3, 0.5])
    for part in np.array_split(np.arange(len(X)), 5):
        ours.partial_fit(X[part], y[part])
    ref = LinearDiscriminantAnalysis(solver="lsqr", priors=[0.2, 0.3, 0.5]).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)


def test_errors_leave_the_model_unchanged(rng):
    X, y = _classes(rng, n=50)
    model = OOCQuadraticDiscriminantAnalysis().fit(X, y)
    before = fitted_state(model)
    with pytest.raises(ValueError, match="has to be greater than one. Got 1 class"):
        model.fit(X, np.full(len(X), "alpha"))
    X_one = np.vstack([X[:5], X[:1] + 1])
    y_one = np.array(["alpha"] * 5 + ["beta"])
    with pytest.raises(ValueError, match="only 1 sample in class beta"):
        model.fit(X_one, y_one)
    collinear = np.column_stack([X[:, :3], X[:, 0]])
    with pytest.raises(
        np.linalg.LinAlgError, match="not full rank. Increase the value"
    ):
        model.fit(collinear, y)
    assert fitted_state(model) == before
