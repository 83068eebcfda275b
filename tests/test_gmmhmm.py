"""GMMHMM: hmmlearn's GMMHMM fitted out of core, batch by batch."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ooc import out_of_core
from sklearn_ooc.hmm import GMMHMM

from .conftest import fitted_state

hmm = pytest.importorskip("hmmlearn.hmm")

COVARIANCE_TYPES = ["spherical", "diag", "full", "tied"]
K, M, D = 2, 2, 2
RTOL = 1e-7


def _sequences(seed=0, n_sequences=12, offset=0.0):
    """Short sequences of two states, each a mixture of two blobs."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(5, 40, size=n_sequences)
    centers = np.array([[[-4.0, 0.0], [-2.0, 3.0]], [[4.0, -1.0], [2.0, -3.0]]])
    rows = []
    for length in lengths:
        state = rng.randint(K)
        for _ in range(length):
            if rng.rand() > 0.85:
                state = 1 - state
            rows.append(centers[state, rng.randint(M)] + rng.randn(D))
    return np.array(rows) + offset, lengths


def _start(covariance_type, seed=1, offset=0.0):
    rng = np.random.RandomState(seed)
    covars = {
        "spherical": rng.uniform(1.0, 2.0, (K, M)),
        "diag": rng.uniform(1.0, 2.0, (K, M, D)),
        "full": np.tile(np.eye(D) * 1.5 + 0.3, (K, M, 1, 1)),
        "tied": np.tile(np.eye(D) * 1.5 + 0.2, (K, 1, 1)),
    }[covariance_type]
    return {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), size=K),
        "weights_": rng.dirichlet(np.ones(M), size=K),
        "means_": rng.randn(K, M, D) * 3 + offset,
        "covars_": covars,
    }


def _pair(covariance_type, start, **params):
    params = dict(
        n_components=K,
        n_mix=M,
        covariance_type=covariance_type,
        init_params="",
        n_iter=5,
        tol=-np.inf,
        **params,
    )
    ours_params = {k: params.pop(k) for k in ("batch_size", "n_jobs") if k in params}
    ref, ours = hmm.GMMHMM(**params), GMMHMM(**params, **ours_params)
    for model in (ref, ours):
        for name, value in start.items():
            setattr(model, name, np.array(value, copy=True))
    return ours, ref


def _assert_same_model(ours, ref, rtol=RTOL, atol=1e-10):
    for name in ("startprob_", "transmat_", "weights_", "means_", "covars_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=rtol, atol=atol)
    assert_allclose(ours.monitor_.history, ref.monitor_.history, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("batch_size, n_jobs", [(23, 1), (60, 2), (10_000, 1)])
def test_fit_equals_hmmlearn_from_the_same_start(
    covariance_type, implementation, batch_size, n_jobs
):
    X, lengths = _sequences()
    ours, ref = _pair(
        covariance_type,
        _start(covariance_type),
        implementation=implementation,
        batch_size=batch_size,
        n_jobs=n_jobs,
    )
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_same_model(ours, ref)
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-10)
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_sequence_longer_than_a_batch_and_priors(covariance_type):
    X, _ = _sequences(n_sequences=6)
    lengths = [len(X)]
    priors = dict(
        weights_prior=2.0,
        means_prior=0.5,
        means_weight=0.3,
        covars_prior={"spherical": 0.5, "diag": 0.5}.get(covariance_type, 0.2),
        covars_weight={"spherical": 1.5, "diag": 1.5}.get(covariance_type, 4.0),
        startprob_prior=2.0,
        transmat_prior=1.5,
    )
    ours, ref = _pair(covariance_type, _start(covariance_type), batch_size=17, **priors)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_same_model(ours, ref)
    logprob, states = ours.decode(X, lengths)
    ref_logprob, ref_states = ref.decode(X, lengths)
    assert_allclose(logprob, ref_logprob, rtol=1e-10)
    assert_array_equal(states, ref_states)


@pytest.mark.parametrize("params", ["stw", "mc", "w", "smc"])
def test_subsets_of_params_as_hmmlearn(params):
    X, lengths = _sequences(seed=2)
    ours, ref = _pair("diag", _start("diag"), params=params, batch_size=31)
    ref.fit(X, lengths)
    ours.fit(X, lengths)
    _assert_same_model(ours, ref)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_from_the_origin(covariance_type):
    X, lengths = _sequences(offset=1e6)
    start = _start(covariance_type, offset=1e6)
    ours, _ = _pair(covariance_type, start, batch_size=29)
    ours.fit(X, lengths)
    # The model of the translated rows is the translated model.
    translated = dict(start, means_=start["means_"] - 1e6)
    _, ref = _pair(covariance_type, translated)
    ref.fit(X - 1e6, lengths)
    assert_allclose(ours.means_ - 1e6, ref.means_, rtol=1e-6, atol=1e-6)
    assert_allclose(ours.covars_, ref.covars_, rtol=1e-6, atol=1e-8)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-6, atol=1e-10)


def test_default_initialization_on_small_data_as_hmmlearn():
    X, lengths = _sequences(seed=3)
    params = dict(n_components=K, n_mix=M, random_state=0, n_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = hmm.GMMHMM(**params).fit(X, lengths)
        ours = GMMHMM(**params, batch_size=40).fit(X, lengths)
    # The k-means of all the rows (fewer than the sample) start both alike.
    assert_allclose(ours.means_, ref.means_, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.covars_, ref.covars_, rtol=1e-7, atol=1e-9)


def test_bad_parameters_are_hmmlearns_errors_and_leave_the_model():
    X, lengths = _sequences()
    ours, _ = _pair("diag", _start("diag"), batch_size=50)
    ours.fit(X, lengths)
    weights = ours.weights_.copy()
    ours.weights_ = np.array([[0.5, 0.6], [0.5, 0.5]])
    with pytest.raises(ValueError, match="weights_ rows must sum to 1"):
        ours.fit(X, lengths)
    ours.weights_ = weights
    before = fitted_state(ours)
    with pytest.raises(ValueError, match="lengths"):
        ours.fit(X, [3, 4])
    assert fitted_state(ours) == before
    full, _ = _pair("full", _start("full"))
    full.covars_ = np.tile(-np.eye(D), (K, M, 1, 1))
    with pytest.raises(ValueError, match="not positive definite"):
        full.fit(X, lengths)


def test_out_of_core_converts_hmmlearns_model():
    ref = hmm.GMMHMM(n_components=3, n_mix=4, covariance_type="tied", n_iter=7)
    converted = out_of_core(ref)
    assert type(converted) is GMMHMM
    for key, value in ref.get_params().items():
        assert converted.get_params()[key] == value


def test_a_state_that_receives_no_weight_is_named_and_leaves_the_model():
    X, lengths = _sequences()
    start = _start("diag")
    # State 1 is never entered: it receives no posterior weight (the
    # transitions are kept, so that the emissions' update meets it first).
    start["startprob_"] = np.array([1.0, 0.0])
    start["transmat_"] = np.array([[1.0, 0.0], [0.5, 0.5]])
    ours, _ = _pair("diag", start, batch_size=40, params="mcw")
    before = fitted_state(ours)
    with pytest.raises(ValueError, match=r"State\(s\) \[1\] received no posterior"):
        ours.fit(X, lengths)
    assert fitted_state(ours) == before
