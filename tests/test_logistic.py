"""StreamingLogisticRegression: LogisticRegression(solver="newton-cholesky")."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_ooc.linear_model import StreamingLogisticRegression

from .conftest import fitted_state


def _problem(rng, n_classes, offset=0.0, n=600, d=4):
    X = rng.normal(size=(n, d))
    scores = X @ rng.normal(size=(d, n_classes)) + rng.normal(size=(n, n_classes))
    labels = np.array(["no", "yes", "maybe", "later", "never"])[:n_classes]
    return X + offset, labels[np.argmax(scores, axis=1)]


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("offset", [0.0, 100.0])
@pytest.mark.parametrize("batch_size", [7, 600])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_newton_cholesky(rng, n_classes, offset, batch_size, weighted):
    X, y = _problem(rng, n_classes, offset)
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = LogisticRegression(
            solver="newton-cholesky", C=0.5, tol=1e-12, max_iter=1000
        ).fit(X, y, sample_weight=w)
    ours = StreamingLogisticRegression(
        C=0.5, tol=1e-12, max_iter=100, batch_size=batch_size
    )
    ours.fit(X, y, sample_weight=w)
    assert_array_equal(ours.classes_, ref.classes_)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-9)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-10)
    assert_allclose(
        ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-6, atol=1e-8
    )
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.score(X, y), ref.score(X, y))


def test_default_tolerance_stops_like_sklearn(rng, npy):
    X, y = _problem(rng, 2)
    ref = LogisticRegression(solver="newton-cholesky").fit(X, y)
    ours = StreamingLogisticRegression(batch_size=100).fit(npy(X), y)
    assert ours.n_iter_.shape == (1,)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-4)


def test_separable_data_converges_with_halved_steps(rng):
    X = np.vstack([rng.normal(-5, 1, (50, 2)), rng.normal(5, 1, (50, 2))])
    y = np.repeat([0, 1], 50)
    ref = LogisticRegression(
        solver="newton-cholesky", C=1e4, tol=1e-10, max_iter=500
    ).fit(X, y)
    ours = StreamingLogisticRegression(
        C=1e4, tol=1e-10, max_iter=200, batch_size=30
    ).fit(X, y)
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)


def test_no_partial_fit_and_bad_input(rng):
    X, y = _problem(rng, 2, n=100)
    model = StreamingLogisticRegression().fit(X, y)
    assert not hasattr(model, "partial_fit")
    before = fitted_state(model)
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.fit(X, np.full(100, "yes"))
    with pytest.raises(ValueError, match="non-zero"):
        model.fit(X, y, sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="Unknown label type"):
        model.fit(X, rng.normal(size=100))
    assert fitted_state(model) == before
