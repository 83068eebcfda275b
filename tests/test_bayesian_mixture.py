"""OOCBayesianGaussianMixture against scikit-learn's BayesianGaussianMixture:
the same posteriors, lower bounds and iterations from the same start."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

from sklearn_ooc import out_of_core
from sklearn_ooc.mixture import OOCBayesianGaussianMixture

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIORS = ["dirichlet_process", "dirichlet_distribution"]


def _blobs(offset=0.0, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [
            rng.normal(-3, 1, (80, 3)),
            rng.normal(2, 0.5, (80, 3)),
            rng.normal([0, 4, -2], 1, (60, 3)),
        ]
    )
    return (X[rng.permutation(len(X))] + offset).astype(dtype)


@pytest.fixture
def npy(tmp_path):
    def save(array, name="X.npy"):
        path = tmp_path / name
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    return save


def _assert_same_posterior(ours, ref, rtol=1e-10, offset=0.0):
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_
    assert_allclose(ours.lower_bound_, np.ravel(ref.lower_bound_)[0], rtol=rtol)
    assert_allclose(ours.weights_, ref.weights_, rtol=rtol, atol=1e-14)
    assert_allclose(ours.means_ - offset, ref.means_, rtol=rtol, atol=1e-10)
    assert_allclose(ours.covariances_, ref.covariances_, rtol=rtol, atol=1e-12)
    assert_allclose(ours.degrees_of_freedom_, ref.degrees_of_freedom_, rtol=rtol)
    assert_allclose(ours.mean_precision_, ref.mean_precision_, rtol=rtol)
    for a, b in zip(
        np.atleast_2d(ours.weight_concentration_),
        np.atleast_2d(ref.weight_concentration_),
        strict=True,
    ):
        assert_allclose(a, b, rtol=rtol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("batch_size, n_jobs", [(7, 1), (64, 2), (1000, 1)])
def test_equals_sklearn(npy, covariance_type, prior, batch_size, n_jobs):
    X = _blobs()
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior,
        init_params="random_from_data",
        random_state=0,
        max_iter=40,
        tol=1e-6,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(**params).fit(X)
        ours = OOCBayesianGaussianMixture(n_jobs=n_jobs, **params)
        ours.fit(npy(X), batch_size=batch_size)
    _assert_same_posterior(ours, ref)
    data = npy(X, "P.npy")
    assert_array_equal(ours.predict(data), ref.predict(X))
    assert_allclose(ours.predict_proba(data), ref.predict_proba(X), atol=1e-12)
    assert_allclose(ours.score_samples(data), ref.score_samples(X), rtol=1e-12)
    assert_allclose(ours.score(data), ref.score(X), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_given_priors_far_from_the_origin(npy, covariance_type):
    X = _blobs(offset=1e6)
    d = X.shape[1]
    prior = {
        "full": np.eye(d) * 2.0,
        "tied": np.eye(d) * 2.0,
        "diag": np.full(d, 2.0),
        "spherical": 2.0,
    }[covariance_type]
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        weight_concentration_prior=0.1,
        mean_precision_prior=0.5,
        degrees_of_freedom_prior=d + 1.0,
        covariance_prior=prior,
        random_state=1,
        max_iter=50,
    )
    ours = OOCBayesianGaussianMixture(mean_prior=np.full(d, 1e6), **params)
    ours.fit(npy(X), batch_size=50)
    # scikit-learn's k-means and responsibilities lose digits at 1e6: the
    # same model of the translated rows is the reference.
    ref = BayesianGaussianMixture(mean_prior=np.zeros(d), **params).fit(X - 1e6)
    _assert_same_posterior(ours, ref, rtol=1e-7, offset=1e6)


def test_float32_rows_give_float32_attributes(npy):
    X = _blobs(dtype=np.float32)
    params = dict(n_components=3, init_params="k-means++", random_state=0)
    ours = OOCBayesianGaussianMixture(**params).fit(npy(X), batch_size=40)
    assert ours.means_.dtype == np.float32 and ours.weights_.dtype == np.float32
    ref = BayesianGaussianMixture(**params).fit(X.astype(np.float64))
    assert_allclose(ours.means_, ref.means_, rtol=1e-5, atol=1e-5)


def test_n_init_and_warm_start_follow_sklearn():
    X = _blobs()
    params = dict(n_components=3, n_init=3, init_params="random", random_state=5)
    ref = BayesianGaussianMixture(**params).fit(X)
    ours = OOCBayesianGaussianMixture(batch_size=30, **params).fit(X)
    _assert_same_posterior(ours, ref)
    params = dict(n_components=3, warm_start=True, max_iter=3, random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = BayesianGaussianMixture(**params).fit(X).fit(X)
        ours = OOCBayesianGaussianMixture(batch_size=30, **params).fit(X).fit(X)
    _assert_same_posterior(ours, ref)


def test_summaries_of_slices_are_one_iteration():
    X = _blobs()
    # A start and priors that do not depend on the rows summarized first.
    params = dict(
        n_components=3,
        init_params="first-k",
        mean_prior=np.zeros(3),
        covariance_prior=np.eye(3),
        max_iter=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = OOCBayesianGaussianMixture(**params).fit(X)
    model = OOCBayesianGaussianMixture(**params)
    model.summarize(X[:100]).summarize(X[100:]).from_summaries()
    assert model.n_samples_seen_ == len(X) and model.n_iter_ == 1
    assert_allclose(model.means_, fitted.means_, rtol=1e-12)
    assert_allclose(model.covariances_, fitted.covariances_, rtol=1e-12)
    assert_allclose(model.lower_bound_, fitted.lower_bound_, rtol=1e-12)
    # Stepwise updates weight rows by fractions: not offered.
    assert not hasattr(model, "partial_fit") and not hasattr(model, "bic")


def test_bad_priors_are_sklearns_errors_and_leave_the_model():
    X = _blobs()
    model = OOCBayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    means = model.means_.copy()
    model.set_params(degrees_of_freedom_prior=1.0)
    with pytest.raises(ValueError, match="should be greater than 2"):
        model.fit(X)
    model.set_params(degrees_of_freedom_prior=None, mean_prior=np.zeros(5))
    with pytest.raises(ValueError, match="The parameter 'means' should have the shape"):
        model.fit(X)
    assert_array_equal(model.means_, means)


def test_out_of_core_converts_sklearns_model():
    ref = BayesianGaussianMixture(n_components=5, covariance_type="diag", tol=1e-4)
    converted = out_of_core(ref)
    assert type(converted) is OOCBayesianGaussianMixture
    for key, value in ref.get_params().items():
        assert converted.get_params()[key] == value
