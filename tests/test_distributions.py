"""Distributions from summaries (pomegranate's seed) and the general mixture."""

import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from sklearn_ooc.distributions import (
    Bernoulli,
    Categorical,
    Exponential,
    Gamma,
    IndependentComponents,
    LogNormal,
    MultivariateNormal,
    Normal,
    Poisson,
)
from sklearn_ooc.mixture import OOCGaussianMixture, OOCMixture


def test_the_seed_example_holds_to_the_last_digit(rng):
    # pomegranate's page: five summaries of thousand-row slices and one
    # update give the parameters of a fit on all 5000 rows.
    X = rng.normal(3, 5, size=5000)
    a = Normal().fit(X)
    b = Normal(1, 1)
    for i in range(5):
        b.summarize(X[i * 1000 : (i + 1) * 1000])
    b.from_summaries()
    assert_allclose([b.mean, b.std], [a.mean, a.std], rtol=1e-14)
    assert_allclose([a.mean, a.std], [X.mean(), X.std()], rtol=1e-13)


def _reference_cases(rng):
    positive = rng.gamma(2.5, 1.5, size=3000)
    return [
        (
            Normal(),
            rng.normal(3, 2, 3000),
            lambda d: stats.norm(d.mean, d.std),
            lambda x: [x.mean(), x.std()],
            lambda d: [d.mean, d.std],
        ),
        (
            LogNormal(),
            positive,
            lambda d: stats.lognorm(d.std, scale=np.exp(d.mean)),
            lambda x: [np.log(x).mean(), np.log(x).std()],
            lambda d: [d.mean, d.std],
        ),
        (
            Exponential(),
            positive,
            lambda d: stats.expon(scale=1 / d.rate),
            lambda x: [1 / x.mean()],
            lambda d: [d.rate],
        ),
        (
            Gamma(),
            positive,
            lambda d: stats.gamma(d.shape, scale=1 / d.rate),
            lambda x: (lambda a, _, s: [a, 1 / s])(*stats.gamma.fit(x, floc=0)),
            lambda d: [d.shape, d.rate],
        ),
        (
            Poisson(),
            rng.poisson(4.0, 3000).astype(float),
            lambda d: stats.poisson(d.lam),
            lambda x: [x.mean()],
            lambda d: [d.lam],
        ),
        (
            Bernoulli(),
            (rng.random(3000) < 0.3).astype(float),
            lambda d: stats.bernoulli(d.p),
            lambda x: [x.mean()],
            lambda d: [d.p],
        ),
    ]


@pytest.mark.parametrize("index", range(6))
def test_univariate_mle_and_densities(rng, npy, index):
    distribution, X, frozen, expected, got = _reference_cases(rng)[index]
    distribution.fit(npy(X), batch_size=257)
    rtol = 1e-5 if isinstance(distribution, Gamma) else 1e-12
    assert_allclose(got(distribution), expected(X), rtol=rtol)
    reference = frozen(distribution)
    density = getattr(reference, "logpdf", None)
    if isinstance(distribution, (Poisson, Bernoulli)):
        density = reference.logpmf
    assert_allclose(distribution.log_probability(X[:50]), density(X[:50]), rtol=1e-10)
    params = json.loads(json.dumps(distribution.get_params()))
    assert params["class"] == type(distribution).__name__
    sample = distribution.sample(20000, random_state=0)
    assert abs(sample.mean() - X.mean()) < 0.1 * (X.std() + 1e-3) + 0.05


def test_integer_weights_equal_repeated_rows(rng):
    X = rng.gamma(2.0, size=200)
    k = rng.integers(0, 4, size=200)
    weighted = Gamma().summarize(X, k.astype(float)).from_summaries()
    repeated = Gamma().fit(np.repeat(X, k))
    assert_allclose(
        [weighted.shape, weighted.rate], [repeated.shape, repeated.rate], rtol=1e-12
    )


def test_categorical_and_multivariate(rng, npy):
    c = rng.choice(4, size=2000, p=[0.1, 0.2, 0.3, 0.4]).astype(float)
    cat = Categorical().fit(npy(c), batch_size=100)
    assert_allclose(cat.probs, np.bincount(c.astype(int)) / 2000, rtol=1e-12)
    assert_allclose(cat.log_probability([3.0, 7.0]), [np.log(cat.probs[3]), -np.inf])
    X = rng.normal(size=(1000, 3)) @ rng.normal(size=(3, 3)) + 1e6
    mvn = MultivariateNormal().fit(npy(X), batch_size=64)
    assert_allclose(mvn.mean, X.mean(axis=0), rtol=1e-15)
    assert_allclose(mvn.cov, np.cov(X.T, bias=True), rtol=1e-9)
    assert_allclose(
        mvn.log_probability(X[:5]),
        stats.multivariate_normal(mvn.mean, mvn.cov).logpdf(X[:5]),
        rtol=1e-9,
    )
    both = IndependentComponents([Normal(), Exponential()])
    Y = np.column_stack([rng.normal(size=500), rng.exponential(size=500)])
    both.fit(Y, batch_size=50)
    assert_allclose(both.distributions[0].mean, Y[:, 0].mean(), rtol=1e-12)
    assert_allclose(
        both.log_probability(Y[:3]),
        both.distributions[0].log_probability(Y[:3, 0])
        + both.distributions[1].log_probability(Y[:3, 1]),
    )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="Exponential: X must be non-negative"):
        Exponential().fit(np.array([1.0, -2.0]))
    with pytest.raises(ValueError, match="Poisson: X must hold non-negative integers"):
        Poisson().fit(np.array([1.0, 2.5]))
    with pytest.raises(ValueError, match="Normal has no parameters"):
        Normal().log_probability([1.0])
    with pytest.raises(ValueError, match="no pending statistics"):
        Normal().from_summaries()


@pytest.mark.parametrize(
    "make, X",
    [
        (Normal, [1.0, 2.0, 4.0]),
        (LogNormal, [1.0, 2.0, 4.0]),
        (Exponential, [1.0, 2.0, 4.0]),
        (Gamma, [1.0, 2.0, 4.0]),
        (Poisson, [1.0, 2.0, 4.0]),
        (Bernoulli, [1.0, 0.0, 1.0]),
        (Categorical, [1.0, 0.0, 2.0]),
        (MultivariateNormal, [[1.0, 2.0], [0.0, 1.0], [3.0, 1.0]]),
        (
            lambda: IndependentComponents([Normal(), Exponential()]),
            [[1.0, 2.0], [0.0, 1.0], [3.0, 1.0]],
        ),
    ],
)
def test_rows_of_zero_weight_only_are_refused(make, X):
    # Rather than parameters of NaN.
    X = np.asarray(X)
    with pytest.raises(ValueError, match="total weight of zero; there is nothing"):
        make().fit(X, sample_weight=np.zeros(len(X)))


def test_gamma_refuses_constant_data_and_keeps_its_state():
    message = (
        r"Gamma: the rows \(of non-zero weight\) are constant, or too close to "
        r"constant for float64, about 2.5: log\(mean\) - mean\(log x\) = 0, and "
        "the maximum-likelihood shape is infinite"
    )
    with pytest.raises(ValueError, match=message):
        Gamma().fit(np.full(7, 2.5))
    # Weights of zero leave the other rows constant.
    with pytest.raises(ValueError, match=message):
        Gamma().fit(np.array([2.5, 9.0, 2.5]), sample_weight=[1.0, 0.0, 3.0])
    gamma = Gamma().fit(np.array([1.0, 2.0, 4.0]))
    before = gamma.get_params()
    gamma.summarize(np.full(4, 2.5))
    with pytest.raises(ValueError, match=message):
        gamma.from_summaries()
    assert gamma.get_params() == before
    # The statistics are kept: more rows make them fit.
    gamma.summarize(np.array([1.0, 6.0])).from_summaries()
    reference = Gamma().fit(np.array([2.5, 2.5, 2.5, 2.5, 1.0, 6.0]))
    assert gamma.get_params() == reference.get_params()


# -- the general mixture ------------------------------------------------------


def test_mixture_of_normals_equals_gaussian_mixture(rng, npy):
    X = np.vstack([rng.normal(-2, 1, (300, 3)), rng.normal(2, 0.7, (300, 3))])
    X = X[rng.permutation(600)] + 1e3
    means, cov = X[:2], np.eye(3)
    mixture = OOCMixture(
        [MultivariateNormal(m, cov, min_cov=1e-6) for m in means],
        weights_init=[0.5, 0.5],
        max_iter=10,
        tol=0.0,
        batch_size=50,
    )
    gaussian = OOCGaussianMixture(
        2,
        weights_init=[0.5, 0.5],
        means_init=means,
        precisions_init=np.array([cov, cov]),
        max_iter=10,
        tol=0.0,
        batch_size=50,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixture.fit(npy(X))
        gaussian.fit(X)
    assert_allclose(
        [d.mean for d in mixture.distributions_], gaussian.means_, rtol=1e-12
    )
    assert_allclose(
        [d.cov for d in mixture.distributions_], gaussian.covariances_, rtol=1e-10
    )
    assert_allclose(mixture.weights_, gaussian.weights_, rtol=1e-12)
    assert_allclose(mixture.lower_bound_, gaussian.lower_bound_, rtol=1e-12)
    assert_allclose(
        mixture.predict_proba(X), gaussian.predict_proba(X), rtol=1e-9, atol=1e-12
    )


def test_mixture_of_other_distributions_learns_them(rng):
    X = np.concatenate([rng.exponential(1.0, 3000), rng.exponential(20.0, 1000)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixture = OOCMixture(
            [Exponential(rate=2.0), Exponential(rate=0.01)],
            max_iter=500,
            tol=1e-9,
            batch_size=700,
        ).fit(X[:, None])
    means = sorted(1 / d.rate for d in mixture.distributions_)
    assert 0.9 < means[0] < 1.1 and 17 < means[1] < 24
    assert_allclose(sorted(mixture.weights_), [0.25, 0.75], atol=0.05)


def test_mixture_initializes_components_without_parameters(rng):
    X = np.vstack([rng.normal(-3, 1, (200, 2)), rng.normal(3, 1, (200, 2))])
    y = np.repeat([0, 1], 200)
    mixture = OOCMixture(
        [IndependentComponents([Normal(), Normal()]) for _ in range(2)],
        random_state=0,
        batch_size=64,
    ).fit(X)
    labels = mixture.predict(X)
    assert max((labels == y).mean(), (labels != y).mean()) > 0.98
    assert mixture.score(X) > -4


def test_estimators_of_distributions_clone_and_cross_validate():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    from sklearn_ooc.distributions import Exponential
    from sklearn_ooc.mixture import OOCMixture

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.exponential(1.0, 300), rng.exponential(20.0, 100)])[:, None]
    start = [Exponential(rate=2.0), Exponential(rate=0.01)]
    mixture = OOCMixture(start, max_iter=5, batch_size=64)
    cloned = clone(mixture)
    assert cloned.distributions is not start
    assert [d.rate for d in cloned.distributions] == [d.rate for d in start]
    scores = cross_val_score(mixture, X, cv=3)
    assert np.isfinite(scores).all()
    # The start is left as it was.
    assert [float(d.rate) for d in start] == [2.0, 0.01]
