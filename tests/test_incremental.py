"""Incremental: scikit-learn's partial_fit estimators fed from disk."""

import os
import tempfile

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import IncrementalPCA
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.metrics import accuracy_score, r2_score
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier

from sklearn_ooc import Incremental


def _classes(rng, n=600):
    X = np.vstack([rng.normal(-2, 1, (n // 2, 3)), rng.normal(2, 1, (n // 2, 3))])
    y = np.repeat([0, 1], n // 2)
    order = rng.permutation(n)
    return X[order], y[order]


def test_in_order_equals_partial_fit_on_the_same_batches(rng, npy):
    X, y = _classes(rng)
    # Blocks of 640 rows (3 features and a target in float64): whole batches.
    model = Incremental(
        GaussianNB(), batch_size=64, shuffle=False, buffer_mb=640 * 32 / 2**20
    )
    model.fit(npy(X), npy(y))
    reference = GaussianNB()
    for start in range(0, len(X), 64):
        reference.partial_fit(
            X[start : start + 64], y[start : start + 64], classes=[0, 1]
        )
    assert_array_equal(model.estimator_.theta_, reference.theta_)
    assert_array_equal(model.estimator_.var_, reference.var_)
    assert_array_equal(model.classes_, [0, 1])


def test_block_boundaries_cut_minibatches(rng):
    # Minibatches never span two blocks: 600 rows in blocks of 100, batch 64.
    X, y = _classes(rng)
    seen = []

    class Recorder(GaussianNB):
        def partial_fit(self, X, y, classes=None):
            seen.append(len(X))
            return super().partial_fit(X, y, classes=classes)

    Incremental(
        Recorder(), batch_size=64, shuffle=False, buffer_mb=100 * 32 / 2**20
    ).fit(X, y)
    assert seen == [64, 36] * 6


@pytest.mark.parametrize(
    "estimator",
    [SGDClassifier(random_state=0), MultinomialNB(), MLPClassifier(random_state=0)],
)
def test_classifiers_learn_over_epochs(rng, estimator, npy):
    X, y = _classes(rng)
    if isinstance(estimator, MultinomialNB):
        # Counts whose rates depend on the class.
        X = rng.poisson(np.where(y[:, None] == 1, [1, 5, 9], [9, 5, 1])).astype(float)
    model = Incremental(
        estimator, batch_size=50, max_iter=5, random_state=0, buffer_mb=0.01
    ).fit(npy(X), y)
    assert model.n_iter_ == 5
    predictions = model.predict(npy(X))
    assert accuracy_score(y, predictions) > 0.95
    assert_allclose(model.score(X, y), accuracy_score(y, predictions))


def test_regressor_score_is_streamed_r2(rng):
    X = rng.normal(size=(500, 3))
    y = X @ [1.0, 2.0, -1.0] + 0.1 * rng.normal(size=500)
    model = Incremental(
        SGDRegressor(random_state=0),
        max_iter=10,
        batch_size=32,
        random_state=0,
        buffer_mb=0.005,
    ).fit(X, y)
    assert_allclose(model.score(X, y), r2_score(y, model.predict(X)), rtol=1e-12)
    assert model.score(X, y) > 0.99


def test_transformers_and_clusterers(rng, npy):
    X = rng.normal(size=(1000, 5)) @ rng.normal(size=(5, 5))
    # Blocks of 500 rows (5 features and a slot in float64): whole batches.
    pca = Incremental(
        IncrementalPCA(n_components=2),
        batch_size=100,
        shuffle=False,
        buffer_mb=500 * 48 / 2**20,
    ).fit(npy(X))
    reference = IncrementalPCA(n_components=2, batch_size=100).fit(X)
    assert_array_equal(pca.estimator_.components_, reference.components_)
    assert_allclose(pca.transform(npy(X)), pca.estimator_.transform(X), rtol=1e-12)
    km = Incremental(
        MiniBatchKMeans(3, random_state=0, n_init=3),
        batch_size=100,
        max_iter=3,
        random_state=0,
    ).fit(X)
    assert_array_equal(km.predict(X), km.estimator_.predict(X))
    assert not hasattr(km, "score")


def test_disk_shuffle_and_cleanup(rng, npy, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    X, y = _classes(rng)
    model = Incremental(
        SGDClassifier(random_state=0),
        shuffle="disk",
        max_iter=3,
        random_state=0,
        buffer_mb=0.01,
    ).fit(npy(X), npy(y))
    assert model.score(X, y) > 0.95
    assert os.listdir(scratch) == []


def test_partial_fit(rng):
    X, y = _classes(rng)
    model = Incremental(SGDClassifier(random_state=0), batch_size=50)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[:300], y[:300], classes=[0, 1])
    first = model.estimator_
    model.partial_fit(X[300:], y[300:])
    assert model.estimator_ is first and model.n_iter_ == 2
    assert model.score(X, y) > 0.9


@pytest.mark.parametrize("bad", ["X", "y"])
def test_a_failed_partial_fit_leaves_the_estimator_unchanged(rng, bad):
    # The blocks before the bad row were fed to estimator_, which partial_fit
    # updates in place: all of it is undone, and estimator_ stays the object
    # it was.
    X = rng.normal(size=(300, 3))
    y = X.sum(axis=1)
    model = Incremental(SGDRegressor(random_state=0), batch_size=50, buffer_mb=0.002)
    model.fit(X, y)
    inner = model.estimator_
    coef, t = inner.coef_.copy(), inner.t_
    X_bad, y_bad = X.copy(), y.copy()
    if bad == "X":
        X_bad[237, 1] = np.nan
    else:
        y_bad[237] = np.nan
    with pytest.raises(ValueError, match=rf"{bad} contains NaN at row 237"):
        model.partial_fit(X_bad, y_bad)
    assert model.estimator_ is inner and model.n_iter_ == 1
    assert_array_equal(inner.coef_, coef)
    assert inner.t_ == t
    model.partial_fit(X, y)
    assert model.estimator_ is inner and model.n_iter_ == 2
    assert not np.array_equal(inner.coef_, coef)


def test_estimator_without_partial_fit_is_refused(rng):
    from sklearn.svm import SVC

    with pytest.raises(ValueError, match="'estimator' parameter"):
        Incremental(SVC()).fit(*_classes(rng))
