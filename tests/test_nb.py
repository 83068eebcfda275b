"""Naive Bayes from streamed statistics, against scikit-learn's."""

import re

import numpy as np
import pytest
import sklearn.naive_bayes as sk
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_ooc.naive_bayes as ooc

from .conftest import fitted_state

DISCRETE = ["MultinomialNB", "ComplementNB", "BernoulliNB"]


def _gaussian(seed=0, n=300, d=4, offset=0.0):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    X = rng.normal(size=(n, d)) * [1.0, 0.5, 2.0, 0.1] + 1.5 * y[:, None]
    return X + offset, np.array(["a", "b", "c"])[y]


def _counts(seed=0, n=300, d=8):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    X = rng.poisson(1.0 + np.outer(y, np.arange(d) % 3))
    return X.astype(np.float64), y


def _weights(n, seed=1):
    return np.random.RandomState(seed).uniform(0.1, 3.0, n)


GAUSSIAN_ATTRS = ("theta_", "var_", "class_count_", "class_prior_", "epsilon_")
DISCRETE_ATTRS = ("feature_count_", "class_count_", "feature_log_prob_")


def _assert_same(ours, ref, X, attrs, rtol=1e-10):
    assert_array_equal(ours.classes_, ref.classes_)
    for name in attrs:
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=rtol)
    if hasattr(ref, "class_log_prior_"):
        assert_allclose(ours.class_log_prior_, ref.class_log_prior_, rtol=rtol)
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-8)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("batch_size", [7, 64, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_equals_scikit_learn(batch_size, n_jobs, weighted):
    X, y = _gaussian()
    w = _weights(len(X)) if weighted else None
    ref = sk.GaussianNB().fit(X, y, sample_weight=w)
    ours = ooc.OOCGaussianNB(batch_size=batch_size, n_jobs=n_jobs)
    ours.fit(X, y, sample_weight=w)
    _assert_same(ours, ref, X, GAUSSIAN_ATTRS)


@pytest.mark.parametrize("name", DISCRETE)
@pytest.mark.parametrize("batch_size", [7, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_discrete_equals_scikit_learn(name, batch_size, n_jobs, weighted):
    X, y = _counts()
    w = _weights(len(X)) if weighted else None
    ref = getattr(sk, name)().fit(X, y, sample_weight=w)
    ours = getattr(ooc, "OOC" + name)(batch_size=batch_size, n_jobs=n_jobs)
    ours.fit(X, y, sample_weight=w)
    _assert_same(ours, ref, X, DISCRETE_ATTRS)
    if name == "ComplementNB":
        assert_allclose(ours.feature_all_, ref.feature_all_, rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [
        dict(alpha=0.5, fit_prior=False),
        dict(alpha=np.linspace(0.1, 1.0, 8), class_prior=[0.2, 0.3, 0.5]),
    ],
)
@pytest.mark.parametrize("name", DISCRETE)
def test_discrete_parameters_as_scikit_learn(name, params):
    if name == "ComplementNB":
        params = dict(params, norm=True)
    if name == "BernoulliNB" and not np.isscalar(params["alpha"]):
        # scikit-learn's BernoulliNB adds 2 alpha to the class counts: an
        # array of alphas fails there (broadcast), as it would here.
        params = dict(params, alpha=0.7)
    X, y = _counts(seed=2)
    ref = getattr(sk, name)(**params).fit(X, y)
    ours = getattr(ooc, "OOC" + name)(batch_size=50, **params).fit(X, y)
    _assert_same(ours, ref, X, DISCRETE_ATTRS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_from_a_memmap_keeps_the_dtype(tmp_path, dtype):
    X, y = _gaussian(seed=3)
    X = X.astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref = sk.GaussianNB().fit(X, y)
    ours = ooc.OOCGaussianNB(batch_size=50).fit(np.load(path, mmap_mode="r"), y)
    assert ours.theta_.dtype == ref.theta_.dtype == dtype
    # scikit-learn sums float32 rows in float32; ours sums them in float64.
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for name in GAUSSIAN_ATTRS:
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=rtol)
    assert_array_equal(ours.predict(str(path)), ref.predict(X))


def test_gaussian_far_from_the_origin():
    # scikit-learn's variances are taken about each class's mean: accurate at
    # an offset of 1e6, as ours (merged centered moments) are.
    X, y = _gaussian(seed=4, offset=1e6)
    ref = sk.GaussianNB().fit(X, y)
    ours = ooc.OOCGaussianNB(batch_size=32).fit(X, y)
    assert_allclose(ours.theta_, ref.theta_, rtol=1e-14)
    assert_allclose(ours.var_, ref.var_, rtol=1e-7)
    assert_allclose(ours.epsilon_, ref.epsilon_, rtol=1e-7)
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("name", ["GaussianNB"] + DISCRETE)
def test_partial_fit_over_chunks_as_scikit_learns(name):
    data = _gaussian if name == "GaussianNB" else _counts
    X, y = data(seed=5)
    classes = np.unique(y)
    ref = getattr(sk, name)()
    ours = getattr(ooc, "OOC" + name)(batch_size=16)
    for part in np.array_split(np.arange(len(X)), 4):
        ref.partial_fit(X[part], y[part], classes=classes)
        ours.partial_fit(X[part], y[part], classes=classes)
    attrs = GAUSSIAN_ATTRS if name == "GaussianNB" else DISCRETE_ATTRS
    _assert_same(ours, ref, X, attrs, rtol=1e-9)
    if name != "GaussianNB":
        # Counts add: a sequence of calls is fit on all their rows.
        whole = getattr(ooc, "OOC" + name)().fit(X, y)
        assert_allclose(ours.feature_count_, whole.feature_count_, rtol=1e-12)


def test_gaussian_partial_fit_refuses_an_unknown_label():
    X, y = _gaussian(seed=6)
    model = ooc.OOCGaussianNB(batch_size=50)
    model.partial_fit(X[:100], y[:100], classes=["a", "b", "c"])
    before = fitted_state(model)
    labels = y[100:200].copy()
    labels[7] = "z"
    with pytest.raises(ValueError, match=r"The target label\(s\) \['z'\] in y"):
        model.partial_fit(X[100:200], labels)
    assert fitted_state(model) == before


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB"])
def test_negative_counts_name_the_row_and_leave_the_model_unchanged(name, tmp_path):
    X, y = _counts(seed=7)
    model = getattr(ooc, "OOC" + name)(batch_size=50).fit(X, y)
    before = fitted_state(model)
    X[123, 4] = -1.0
    path = tmp_path / "X.npy"
    np.save(path, X)
    expected = (
        f"Negative values in data passed to {name} (input X): row 123 (batch 2, "
        "rows 100-149) holds -1.0 in column 4"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        model.fit(str(path), y)
    assert fitted_state(model) == before


def test_out_of_core_converts_naive_bayes():
    from sklearn_ooc import out_of_core

    converted = out_of_core(sk.BernoulliNB(alpha=0.3, binarize=1.5))
    assert type(converted) is ooc.OOCBernoulliNB
    assert converted.binarize == 1.5 and converted.alpha == 0.3


def _categories(seed=0, n=300, d=4):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=n)
    X = (rng.randint(4, size=(n, d)) + y[:, None]) % np.array([3, 5, 6, 7])
    return X, np.array(["p", "q", "r"])[y]


def _assert_same_categorical(ours, ref, X):
    assert_array_equal(ours.classes_, ref.classes_)
    assert_array_equal(ours.n_categories_, ref.n_categories_)
    assert_allclose(ours.class_count_, ref.class_count_, rtol=1e-12)
    for a, b in zip(ours.category_count_, ref.category_count_, strict=True):
        assert_allclose(a, b, rtol=1e-12)
    for a, b in zip(ours.feature_log_prob_, ref.feature_log_prob_, strict=True):
        assert_allclose(a, b, rtol=1e-12)
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-10)


@pytest.mark.parametrize("batch_size", [7, 10_000])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("min_categories", [None, 8, [3, 6, 6, 9]])
def test_categorical_equals_scikit_learn(batch_size, weighted, min_categories):
    X, y = _categories()
    w = _weights(len(X)) if weighted else None
    params = dict(min_categories=min_categories)
    ref = sk.CategoricalNB(**params).fit(X, y, sample_weight=w)
    ours = ooc.OOCCategoricalNB(batch_size=batch_size, n_jobs=2, **params)
    ours.fit(X, y, sample_weight=w)
    _assert_same_categorical(ours, ref, X)


def test_categorical_partial_fit_as_scikit_learns(tmp_path):
    X, y = _categories(seed=1)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref, ours = sk.CategoricalNB(), ooc.OOCCategoricalNB(batch_size=16)
    for part in np.array_split(np.arange(len(X)), 3):
        ref.partial_fit(X[part], y[part], classes=["p", "q", "r"])
        ours.partial_fit(X[part], y[part], classes=["p", "q", "r"])
    _assert_same_categorical(ours, ref, X)
    assert_array_equal(ours.predict(str(path)), ref.predict(X))


# -- pomegranate's Bayes classifier ----------------------------------------------


def test_bayes_classifier_default_is_gaussian_naive_bayes_without_smoothing():
    X, y = _gaussian(seed=8)
    ref = sk.GaussianNB(var_smoothing=0.0).fit(X, y)
    ours = ooc.BayesClassifier(batch_size=40, n_jobs=2).fit(X, y)
    assert_array_equal(ours.classes_, ref.classes_)
    assert_allclose(ours.class_prior_, ref.class_prior_, rtol=1e-14)
    assert_allclose(ours.predict_log_proba(X), ref.predict_log_proba(X), rtol=1e-9)
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("weighted", [False, True])
def test_bayes_classifier_over_multivariate_normals(weighted):
    from scipy.stats import multivariate_normal

    from sklearn_ooc.distributions import MultivariateNormal

    X, y = _gaussian(seed=9)
    w = _weights(len(X)) if weighted else np.ones(len(X))
    models = [MultivariateNormal() for _ in range(3)]
    ours = ooc.BayesClassifier(models, batch_size=33)
    ours.fit(X, y, sample_weight=w if weighted else None)
    # In memory: each class's weighted mean and covariance (ddof=0), its
    # weighted share as the prior, and Bayes' rule.
    columns = []
    for c in ["a", "b", "c"]:
        rows, weights = X[y == c], w[y == c]
        mean = np.average(rows, axis=0, weights=weights)
        cov = np.cov(rows.T, aweights=weights, bias=True)
        prior = weights.sum() / w.sum()
        columns.append(multivariate_normal(mean, cov).logpdf(X) + np.log(prior))
    jll = np.column_stack(columns)
    expected = jll - np.logaddexp.reduce(jll, axis=1, keepdims=True)
    assert_allclose(ours.predict_log_proba(X), expected, rtol=1e-9, atol=1e-9)
    # The templates are copied, not fitted.
    assert all(m.mean is None for m in models)


def test_bayes_classifier_over_mixtures_fits_each_on_its_class(tmp_path):
    from sklearn_ooc.mixture import OOCGaussianMixture

    X, y = _gaussian(seed=10)
    path = tmp_path / "X.npy"
    np.save(path, X)
    template = OOCGaussianMixture(2, random_state=0, max_iter=20)
    ours = ooc.BayesClassifier([template] * 3, batch_size=50).fit(str(path), y)
    for c, model in zip(["a", "b", "c"], ours.distributions_, strict=True):
        alone = OOCGaussianMixture(2, random_state=0, max_iter=20, batch_size=50)
        alone.fit(X[y == c])
        assert_allclose(model.means_, alone.means_, rtol=1e-12)
        assert_allclose(model.covariances_, alone.covariances_, rtol=1e-12)
    assert not hasattr(template, "means_")
    assert ours.score(str(path), y) > 0.5


def test_bayes_classifier_bitwise_across_n_jobs():
    from sklearn_ooc.distributions import MultivariateNormal

    X, y = _gaussian(seed=11)
    fits = [
        ooc.BayesClassifier(
            [MultivariateNormal() for _ in range(3)], batch_size=16, n_jobs=n
        ).fit(X, y)
        for n in (1, 2)
    ]
    for a, b in zip(fits[0].distributions_, fits[1].distributions_, strict=True):
        assert_array_equal(a.mean, b.mean)
        assert_array_equal(a.cov, b.cov)


def test_bayes_classifier_needs_a_model_per_class():
    from sklearn_ooc.distributions import MultivariateNormal

    X, y = _gaussian(seed=12)
    model = ooc.BayesClassifier(batch_size=50).fit(X, y)
    model.set_params(distributions=[MultivariateNormal(), MultivariateNormal()])
    before = fitted_state(model)
    with pytest.raises(ValueError, match="2 models for 3 classes"):
        model.fit(X, y)
    assert fitted_state(model) == before
