"""OOCGaussianMixture: scikit-learn's GaussianMixture, whatever the batches."""

import io
import pickle
import re
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture

from sklearn_ooc.mixture import OOCGaussianMixture

from .conftest import file_digest, fitted_state

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
N = 300


def _blobs(rng, n=N, offset=0.0, dtype=np.float64):
    X = np.vstack(
        [
            rng.normal(-2.0, 1.0, size=(n // 2, 3)),
            rng.normal(2.0, 0.7, size=(n - n // 2, 3)) * [1.0, 2.0, 0.5],
        ]
    )
    X = X[rng.permutation(n)]
    return (X + offset).astype(dtype)


def _start(X, covariance_type, k=2):
    """Starting parameters shared by both implementations."""
    d = X.shape[1]
    precisions = {
        "full": np.array([np.eye(d) * (j + 1) for j in range(k)]),
        "tied": np.eye(d),
        "diag": np.ones((k, d)) * np.arange(1, k + 1)[:, None],
        "spherical": np.arange(1.0, k + 1),
    }[covariance_type]
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": np.asarray(X[:k], dtype=np.float64),
        "precisions_init": precisions,
    }


def _reference(X, offset=0.0, **params):
    """GaussianMixture on the same values, in float64, shifted to the origin.

    scikit-learn computes tied, diagonal and spherical covariances from raw
    second moments: at a mean of 1e6 those lose about nine digits (measured:
    relative errors of 3e-4 to 7e-4 on the covariances, 4e-6 on the lower
    bound). The mixture model is equivariant under translation, so the
    reference for offset data is scikit-learn on the data moved back to the
    origin (exact in float64), with the means moved back.
    """
    params = dict(params)
    if "means_init" in params:
        params["means_init"] = params["means_init"] - offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = GaussianMixture(**params).fit(np.asarray(X, dtype=np.float64) - offset)
    ref.means_ = ref.means_ + offset
    return ref


def _assert_same_mixture(ours, ref, rtol=1e-7):
    spread = np.abs(ref.covariances_).max() ** 0.5
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_
    assert_allclose(ours.weights_, ref.weights_, rtol=rtol)
    assert_allclose(ours.means_, ref.means_, rtol=rtol, atol=rtol * spread)
    for name in ("covariances_", "precisions_", "precisions_cholesky_"):
        assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=rtol, err_msg=name
        )
    assert_allclose(ours.lower_bound_, ref.lower_bound_, rtol=rtol)
    assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=rtol)


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return OOCGaussianMixture(**params).fit(X)


# -- exactness ----------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("batch_size", [1, 7, 64, N])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_equals_sklearn_from_the_same_start(
    rng, covariance_type, batch_size, n_jobs, dtype, offset
):
    X = _blobs(rng, offset=offset, dtype=dtype)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=6,
        **_start(X, covariance_type),
    )
    ours = _fit(X, batch_size=batch_size, n_jobs=n_jobs, **params)
    # float32 input is compared with the float64 fit on the same values
    # (scikit-learn in float32 agrees to 1e-4 only): float32 rows are
    # multiplied by the full and tied precision factors in float32, within
    # float32's rounding of that fit.
    rtol = 1e-5 if dtype == np.float32 and covariance_type in ("full", "tied") else 1e-7
    _assert_same_mixture(ours, _reference(X, offset, **params), rtol=rtol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_converges_after_the_same_iterations(rng, covariance_type, npy):
    X = _blobs(rng)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        tol=1e-4,
        **_start(X, covariance_type),
    )
    ours = _fit(np.load(npy(X), mmap_mode="r"), batch_size=50, **params)
    ref = _reference(X, **params)
    assert ref.converged_ and ref.n_iter_ > 2
    _assert_same_mixture(ours, ref)


def test_float32_agrees_with_sklearn_float32_to_its_precision(rng):
    X = _blobs(rng, dtype=np.float32)
    params = dict(n_components=2, tol=0.0, max_iter=5, **_start(X, "full"))
    ours = _fit(X, batch_size=40, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref32 = GaussianMixture(**params).fit(X)
    assert ref32.covariances_.dtype == np.float32
    assert_allclose(ours.covariances_, ref32.covariances_, rtol=1e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_rows_give_float32_attributes(rng, covariance_type):
    X = _blobs(rng, dtype=np.float32)
    start = {k: v.astype(np.float32) for k, v in _start(X, covariance_type).items()}
    params = dict(n_components=2, covariance_type=covariance_type, **start)
    ours32 = _fit(X, batch_size=40, **params)
    ours64 = _fit(X.astype(np.float64), batch_size=40, **params)
    ref32 = GaussianMixture(**params).fit(X)
    # Diagonal precisions: computed in float64, the float64 fit rounded once
    # at the end. Full and tied: the products of float32 rows are float32,
    # within float32's rounding of the float64 fit.
    products32 = covariance_type in ("full", "tied")

    def assert_close(got, exact, **kwargs):
        if products32:
            assert_allclose(got, exact, rtol=1e-5, atol=1e-6, **kwargs)
        else:
            assert_array_equal(got, exact.astype(np.float32), **kwargs)

    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        ref, got, exact = (getattr(m, name) for m in (ref32, ours32, ours64))
        assert got.dtype == ref.dtype == np.float32, name
        assert_close(got, exact, err_msg=name)
    for method in ("score_samples", "predict_proba"):
        assert getattr(ours32, method)(X).dtype == np.float32
        assert_close(getattr(ours32, method)(X), getattr(ours64, method)(X))
    assert_array_equal(ours32.predict(X), ours64.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_float32_products_are_more_accurate_than_sklearn_in_float32(
    rng, covariance_type
):
    # The contract for float32 files: within 1e-5 of the float64 fit
    # of the same values, and never less accurate than scikit-learn's own
    # fit of the float32 array.
    X = _blobs(rng, n=3000, offset=50.0, dtype=np.float32)
    start = {k: v.astype(np.float32) for k, v in _start(X, covariance_type).items()}
    params = dict(n_components=2, covariance_type=covariance_type, tol=0.0)
    params.update(max_iter=8, **start)
    exact = _fit(X.astype(np.float64), **params)
    ours = _fit(X, batch_size=500, n_jobs=2, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref32 = GaussianMixture(**params).fit(X)

    def error(model):
        return max(
            np.max(np.abs(getattr(model, name) - getattr(exact, name)))
            / np.max(np.abs(getattr(exact, name)))
            for name in ("weights_", "means_", "covariances_", "precisions_")
        )

    assert error(ours) <= 1e-5
    assert error(ours) <= error(ref32)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data"]
)
def test_initializations_equal_sklearn_on_data_within_init_size(
    rng, covariance_type, init_params
):
    X = _blobs(rng)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=4,
        init_params=init_params,
        random_state=3,
    )
    ours = _fit(X, batch_size=37, **params)
    _assert_same_mixture(ours, _reference(X, **params))


def test_n_init_keeps_the_best_run_like_sklearn(rng):
    X = _blobs(rng)
    params = dict(
        n_components=3,
        n_init=3,
        init_params="random",
        random_state=1,
        max_iter=5,
        tol=0.0,
    )
    _assert_same_mixture(_fit(X, batch_size=50, **params), _reference(X, **params))


def test_warm_start_continues_like_sklearn(rng):
    X = _blobs(rng)
    params = dict(
        n_components=2, warm_start=True, max_iter=2, tol=0.0, **_start(X, "full")
    )
    ours = OOCGaussianMixture(batch_size=30, **params)
    ref = GaussianMixture(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            ours.fit(X)
            ref.fit(X)
    _assert_same_mixture(ours, ref)


def test_bitwise_identical_for_every_n_jobs(rng):
    X = _blobs(rng, n=500, offset=1e6)
    fits = [
        _fit(
            X, n_components=2, batch_size=31, n_jobs=j, max_iter=4, **_start(X, "full")
        )
        for j in (1, 2, 4)
    ]
    for other in fits[1:]:
        assert other.means_.tobytes() == fits[0].means_.tobytes()
        assert other.covariances_.tobytes() == fits[0].covariances_.tobytes()
        assert other.lower_bound_ == fits[0].lower_bound_


# -- methods ------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_methods_equal_sklearn(rng, covariance_type, npy):
    X = _blobs(rng, offset=10.0)
    params = dict(
        n_components=2, covariance_type=covariance_type, random_state=0, max_iter=20
    )
    ours = _fit(X, batch_size=41, **params)
    ref = _reference(X, **params)
    path = npy(X)
    assert_array_equal(ours.predict(path), ref.predict(X))
    assert_allclose(
        ours.predict_proba(path), ref.predict_proba(X), rtol=1e-7, atol=1e-12
    )
    assert_allclose(ours.score_samples(path), ref.score_samples(X), rtol=1e-9)
    assert_allclose(ours.score(path), ref.score(X), rtol=1e-9)
    assert_allclose(ours.bic(path), ref.bic(X), rtol=1e-9)
    assert_allclose(ours.aic(path), ref.aic(X), rtol=1e-9)
    X_ours, y_ours = ours.sample(50)
    X_ref, y_ref = ref.sample(50)
    assert_array_equal(y_ours, y_ref)
    assert_allclose(X_ours, X_ref, rtol=1e-6)


def test_fit_predict_equals_fit_then_predict(rng):
    X = _blobs(rng)
    gmm = OOCGaussianMixture(2, random_state=0, batch_size=50)
    labels = gmm.fit_predict(X, batch_size=17)
    assert_array_equal(labels, OOCGaussianMixture(2, random_state=0).fit(X).predict(X))
    assert_array_equal(labels, gmm.predict(X))


def test_sample_needs_a_positive_count(rng):
    gmm = _fit(_blobs(rng), n_components=2, random_state=0)
    with pytest.raises(ValueError, match="Invalid value for 'n_samples': 0"):
        gmm.sample(0)


# -- minibatch mode, partial_fit, summaries -------------------------------------


def test_each_iteration_reads_the_next_batches(rng):
    X = _blobs(rng, n=100)
    seen = []
    gmm = OOCGaussianMixture(
        2, batch_size=20, batches_per_epoch=3, max_iter=4, tol=0.0, **_start(X, "full")
    )
    original = OOCGaussianMixture._summarize

    def recording(self, batch):
        seen.append(batch.index)
        return original(self, batch)

    OOCGaussianMixture._summarize = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(X)
    finally:
        OOCGaussianMixture._summarize = original
    # Five batches; the cursor carries on and wraps, never restarting at 0.
    assert seen == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_minibatch_updates_use_the_epoch_alone(rng, offset):
    # Far from the origin too: a step's fractional weights are not counts,
    # and get none of scikit-learn's padding artifacts (10 eps m**2 / weight).
    X = _blobs(rng, n=100, offset=offset)
    start = _start(X, "diag")
    gmm = _fit(
        X,
        n_components=2,
        covariance_type="diag",
        batch_size=20,
        batches_per_epoch=2,
        max_iter=1,
        **start,
    )
    # One iteration over batches 0 and 1 equals exact EM on rows 0-39.
    exact = _fit(X[:40], n_components=2, covariance_type="diag", max_iter=1, **start)
    assert_allclose(gmm.means_, exact.means_, rtol=1e-12)
    assert_allclose(gmm.covariances_, exact.covariances_, rtol=1e-12)


def test_partial_fit_steps_equal_fit_iterations(rng):
    X = _blobs(rng)
    params = dict(n_components=2, random_state=0, init_params="random")
    stepped = OOCGaussianMixture(batch_size=40, **params)
    for _ in range(3):
        stepped.partial_fit(X)
    fitted = _fit(X, max_iter=3, tol=0.0, **params)
    assert stepped.n_iter_ == 3
    assert_allclose(stepped.means_, fitted.means_, rtol=1e-12)
    assert_allclose(stepped.covariances_, fitted.covariances_, rtol=1e-12)
    assert_allclose(stepped.lower_bound_, fitted.lower_bound_, rtol=1e-12)


def test_decay_keeps_a_running_average_of_the_statistics(rng):
    X = _blobs(rng, n=200)
    parts = [X[:100], X[100:]]
    start = _start(X, "diag")
    gmm = OOCGaussianMixture(2, covariance_type="diag", decay=0.7, **start)
    gmm.partial_fit(parts[0])
    first_stats = gmm._running_stats
    gmm._prepare_pass()
    second = gmm._reduce(gmm._source(parts[1], reset=False), desc="check").scaled(
        1 / 100
    )
    rho = 3.0**-0.7
    expected = first_stats.scaled(1 - rho) + second.scaled(rho)
    gmm.partial_fit(parts[1])
    assert_allclose(gmm._running_stats.moments.mean, expected.moments.mean, rtol=1e-12)
    assert_allclose(
        gmm.weights_, expected.moments.weight / expected.moments.weight.sum(), rtol=1e-6
    )


def test_summaries_then_from_summaries_is_one_em_iteration(rng):
    X = _blobs(rng, offset=1e6)
    start = _start(X, "tied")
    gmm = OOCGaussianMixture(2, covariance_type="tied", **start)
    for part in np.array_split(X, 5):
        gmm.summarize(part)
    assert not hasattr(gmm, "n_iter_")
    gmm.from_summaries()
    once = _fit(X, n_components=2, covariance_type="tied", max_iter=1, **start)
    assert_allclose(gmm.covariances_, once.covariances_, rtol=1e-10)
    assert_allclose(gmm.lower_bound_, once.lower_bound_, rtol=1e-12)
    with pytest.raises(ValueError, match="no pending statistics: call summarize"):
        gmm.from_summaries()


# -- initializations that read little -------------------------------------------


class RecordingArray:
    """An array store that records the rows read."""

    def __init__(self, array):
        self._array = array
        self.shape, self.dtype = array.shape, array.dtype
        self.keys = []

    def __getitem__(self, key):
        self.keys.append(key)
        return self._array[key]


def test_kmeans_sample_is_drawn_across_the_whole_source(rng):
    X = _blobs(rng, n=2000)
    store = RecordingArray(X)
    _fit(
        store, n_components=2, init_size=100, max_iter=1, batch_size=500, random_state=0
    )
    sample = [k for k in store.keys if isinstance(k, np.ndarray)][0]
    assert len(sample) == 100 and np.all(np.diff(sample) > 0)
    assert sample.min() < 200 and sample.max() > 1800


def test_first_k_takes_the_first_rows(rng):
    X = _blobs(rng)
    gmm = _fit(X, n_components=3, init_params="first-k", max_iter=0)
    assert_allclose(gmm.means_, X[:3], rtol=1e-14)
    assert_allclose(gmm.covariances_, np.array([np.eye(3) * 1e-6] * 3), atol=1e-12)


# -- verbose ------------------------------------------------------------------------


def test_verbose_prints_the_seed_lines(rng):
    X = _blobs(rng)
    out = io.StringIO()
    with redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = OOCGaussianMixture(
            2, verbose=1, verbose_interval=1, max_iter=4, tol=0.0, random_state=0
        ).fit(X)
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"Initialization Time \(s\): [\d.e-]+", lines.pop(0))
    assert re.fullmatch(
        r"\[1\] Log-likelihood: -[\d.e+]+ Time \(s\): [\d.e-]+", lines[0]
    )
    for i, line in enumerate(lines[1:4], start=2):
        assert re.fullmatch(
            rf"\[{i}\] Improvement: [-\d.e+]+ Time \(s\): [\d.e-]+", line
        )
    improvements = [float(line.split()[2]) for line in lines[1:4]]
    bounds = np.array(gmm.lower_bounds_) * N
    assert_allclose(improvements, np.diff(bounds), rtol=1e-5)
    assert re.fullmatch(r"Total Improvement: [-\d.e+]+", lines[4])
    assert_allclose(float(lines[4].split()[2]), bounds[-1] - bounds[0], rtol=1e-5)
    assert re.fullmatch(r"Total Time \(s\): [\d.]+", lines[5])
    assert len(lines) == 6


# -- bad input and failures -----------------------------------------------------------


@pytest.fixture
def fitted(rng):
    X = _blobs(rng)
    return _fit(X, n_components=2, random_state=0, batch_size=40), X


def _check_unchanged(model, call, error, match):
    before = fitted_state(model)
    with pytest.raises(error, match=match):
        call()
    assert fitted_state(model) == before


def test_nan_in_the_middle_of_a_file_leaves_model_and_file_unchanged(fitted, npy):
    model, X = fitted
    bad = X.copy()
    bad[217, 1] = np.nan
    path = npy(bad)
    digest = file_digest(path)
    for call in (
        lambda: model.fit(path),
        lambda: model.partial_fit(path),
        lambda: model.summarize(path),
    ):
        _check_unchanged(
            model,
            call,
            ValueError,
            r"X contains NaN at row 217 \(batch 5, rows 200-239\)",
        )
    assert file_digest(path) == digest


@pytest.mark.parametrize(
    "params, X_rows, match",
    [
        (
            {"n_components": 5},
            4,
            "Expected n_samples >= n_components but got "
            "n_components = 5, n_samples = 4",
        ),
        (
            {},
            1,
            r"Found array with 1 sample\(s\) \(shape=\(1, 3\)\) while a minimum "
            r"of 2 is required by OOCGaussianMixture\.",
        ),
        (
            {"weights_init": [0.2, 0.2]},
            20,
            r"The parameter 'weights' should be normalized, but got "
            r"sum\(weights\) = 0\.40000",
        ),
        (
            {"weights_init": [0.5, 0.3, 0.2]},
            20,
            r"The parameter 'weights' should have the shape of \(2,\), but got "
            r"\(3,\)",
        ),
        (
            {"means_init": np.zeros((2, 4))},
            20,
            r"The parameter 'means' should have the shape of \(2, 3\), but got "
            r"\(2, 4\)",
        ),
        (
            {"precisions_init": -np.ones((2, 3)), "covariance_type": "diag"},
            20,
            "'diag precision' should be positive",
        ),
        (
            {"precisions_init": np.array([[[1, 2, 0], [0, 1, 0], [0, 0, 1]]] * 2)},
            20,
            "symmetric, positive-definite",
        ),
        ({"n_components": 0}, 20, "The 'n_components' parameter"),
        ({"init_params": "median"}, 20, "The 'init_params' parameter"),
    ],
)
def test_bad_parameters_leave_the_model_unchanged(fitted, params, X_rows, match):
    model, X = fitted
    model.set_params(**params)
    try:
        _check_unchanged(model, lambda: model.fit(X[:X_rows]), ValueError, match)
    finally:
        model.set_params(
            n_components=2,
            weights_init=None,
            means_init=None,
            precisions_init=None,
            covariance_type="full",
            init_params="kmeans",
        )


def _bad_starts(rng, covariance_type, k, d):
    """The starting parameters scikit-learn's own tests refuse, and a few more."""
    not_positive = np.ones((k, d, d))
    not_positive[0] = np.eye(d)
    not_positive[0, 0, 0] = -1.0
    bad_shape = {
        "full": np.ones((k + 1, d, d)),
        "tied": np.ones((d + 1, d + 1)),
        "diag": np.ones((k + 1, d)),
        "spherical": np.ones(k + 1),
    }[covariance_type]
    negative = {
        "full": not_positive,
        "tied": not_positive[0],
        "diag": np.full((k, d), -1.0),
        "spherical": np.full(k, -1.0),
    }[covariance_type]
    unnormalized = rng.uniform(size=k)
    return [
        {"weights_init": rng.uniform(size=(k, 1))},
        {"weights_init": rng.uniform(size=k) + 1},
        {"weights_init": unnormalized / (unnormalized.sum() + 1)},
        {"weights_init": np.r_[np.nan, np.ones(k - 1) / (k - 1)]},
        {"means_init": rng.uniform(size=(k + 1, d))},
        {"means_init": np.r_[np.zeros((k - 1, d)), np.full((1, d), np.inf)]},
        {"precisions_init": bad_shape},
        {"precisions_init": negative},
        {"precisions_init": np.ones((1, 1, d, d))},
    ]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bad_starting_parameters_get_sklearn_messages(rng, covariance_type):
    X = _blobs(rng)
    k, d = 3, X.shape[1]
    for bad in _bad_starts(rng, covariance_type, k, d):
        params = dict(n_components=k, covariance_type=covariance_type, **bad)
        with pytest.raises(ValueError) as expected:
            GaussianMixture(**params).fit(X)
        with pytest.raises(ValueError) as raised:
            OOCGaussianMixture(**params).fit(X)
        assert str(raised.value) == str(expected.value), bad


def test_float32_weights_are_normalized_to_float32_precision(rng):
    # Three float32 thirds sum to 1 within float32's precision, not float64's.
    X = _blobs(rng)
    weights = np.full(3, 1 / 3, dtype=np.float32)
    assert abs(1.0 - weights.astype(np.float64).sum()) > 1e-8
    params = dict(n_components=3, weights_init=weights, random_state=0, max_iter=5)
    ours, ref = _fit(X, **params), _reference(X, **params)
    assert_allclose(ours.weights_, ref.weights_, rtol=1e-6)
    assert_allclose(ours.means_, ref.means_, rtol=1e-6)


def test_collapsed_component_gets_sklearn_advice(fitted):
    model, X = fitted
    X_bad = np.repeat(X[:2], 50, axis=0)  # two distinct rows, three components
    model.set_params(n_components=3, reg_covar=0.0, init_params="random")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check_unchanged(
            model,
            lambda: model.fit(X_bad),
            ValueError,
            "ill-defined empirical covariance .* increase reg_covar, or scale the "
            "input data",
        )


def test_feature_count_change_is_refused(fitted):
    model, X = fitted
    _check_unchanged(
        model,
        lambda: model.partial_fit(X[:, :2]),
        ValueError,
        "X has 2 features, but OOCGaussianMixture is expecting 3",
    )
    _check_unchanged(
        model, lambda: model.predict(X[:, :2]), ValueError, "X has 2 features"
    )


def test_keyboard_interrupt_leaves_the_model_unchanged(fitted, monkeypatch):
    model, X = fitted
    calls = []
    original = OOCGaussianMixture._summarize

    def interrupted(self, batch):
        calls.append(batch.index)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(OOCGaussianMixture, "_summarize", interrupted)
    _check_unchanged(model, lambda: model.fit(X + 1), KeyboardInterrupt, None)


def test_unfitted_model_refuses_to_predict():
    with pytest.raises(NotFittedError):
        OOCGaussianMixture().predict(np.ones((3, 2)))


def test_convergence_warning_like_sklearn(rng):
    X = _blobs(rng)
    with pytest.warns(
        ConvergenceWarning, match="Best performing initialization did not"
    ):
        gmm = OOCGaussianMixture(2, max_iter=2, tol=0.0, random_state=0).fit(X)
    assert not gmm.converged_ and gmm.n_iter_ == 2


def test_pickles_and_predicts_the_same(rng):
    X = _blobs(rng)
    gmm = _fit(X, n_components=2, random_state=0)
    back = pickle.loads(pickle.dumps(gmm))
    assert_array_equal(back.predict(X), gmm.predict(X))


# -- state across calls ----------------------------------------------------------


def test_fit_discards_pending_statistics(rng):
    X = _blobs(rng)
    gmm = OOCGaussianMixture(2, random_state=0)
    gmm.summarize(X[:, :2])
    gmm.fit(X)
    with pytest.raises(ValueError, match="no pending statistics"):
        gmm.from_summaries()
    assert gmm.means_.shape == (2, 3)


def test_summaries_of_short_slices(rng):
    # Only the slice that initializes needs n_components rows.
    X = _blobs(rng)
    start = _start(X, "full")
    gmm = OOCGaussianMixture(2, **start)
    for part in (X[:200], X[200:299], X[299:]):
        gmm.summarize(part)
    gmm.from_summaries()
    once = _fit(X, n_components=2, max_iter=1, **start)
    assert_allclose(gmm.means_, once.means_, rtol=1e-12)
    assert gmm.n_samples_seen_ == N
    gmm.partial_fit(X[:1])
    assert gmm.n_iter_ == 2


def test_n_init_keeps_the_running_statistics_of_the_best_run(rng):
    X = _blobs(rng, n=400)
    gmm = _fit(
        X,
        n_components=2,
        n_init=3,
        init_params="random",
        random_state=0,
        batch_size=50,
        batches_per_epoch=2,
        decay=0.7,
        max_iter=3,
    )
    kept = gmm._running_stats.moments
    nk = kept.weight + 10 * np.finfo(float).eps
    assert_allclose(gmm.means_, kept.mean * (kept.weight / nk)[:, None], rtol=1e-12)


def test_warm_start_carries_the_batch_cursor_on(rng):
    X = _blobs(rng, n=100)
    seen = []
    original = OOCGaussianMixture._summarize

    def recording(self, batch):
        seen.append(batch.index)
        return original(self, batch)

    gmm = OOCGaussianMixture(
        2,
        warm_start=True,
        batch_size=10,
        batches_per_epoch=2,
        max_iter=1,
        **_start(X, "full"),
    )
    OOCGaussianMixture._summarize = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(6):
                gmm.fit(X)
    finally:
        OOCGaussianMixture._summarize = original
    assert seen == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_max_iter_zero_like_sklearn(rng):
    X = _blobs(rng)
    params = dict(
        n_components=2, n_init=3, init_params="random", random_state=0, max_iter=0
    )
    ours, ref = _fit(X, **params), _reference(X, **params)
    assert_allclose(ours.means_, ref.means_, rtol=1e-12)  # the last run, as sklearn
    assert ours.lower_bound_ == ref.lower_bound_ == -np.inf
    assert ours.n_iter_ == ref.n_iter_ == 0 and not ours.converged_


def test_nearly_empty_component_like_sklearn(rng):
    # One component is given no row: its weight falls to ~1e-300 and its
    # covariance is what scikit-learn's padded counts make of it.
    X = _blobs(rng, offset=100.0)
    params = dict(
        n_components=3,
        tol=0.0,
        max_iter=3,
        weights_init=[0.5, 0.49, 0.01],
        means_init=np.vstack([X[:2], X[:1] + 1e3]),
        precisions_init=np.array([np.eye(3)] * 3),
    )
    ours, ref = _fit(X, **params), _reference(X, **params)
    assert ref.weights_[2] < 1e-15
    assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-7)


# -- components without spread, reg_covar=0 ------------------------------------------
#
# scikit-learn pads every count by 10 eps and takes the diagonal covariances
# from raw second moments: a component of one row, or of almost no weight,
# keeps a variance of about 10 eps x**2, and with reg_covar=0 that decides
# whether the fit goes on.


def _same_outcome(ref_error, ours_error):
    """Whether both raised with one message, or neither raised."""
    assert (ref_error is None) == (ours_error is None), (ref_error, ours_error)
    if ref_error is not None:
        assert str(ours_error) == str(ref_error)


def _fit_or_error(cls, X, **params):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return cls(**params).fit(X), None
    except ValueError as error:
        return None, error


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["random_from_data", "k-means++"])
def test_starts_on_single_rows_without_regularization_like_sklearn(
    rng, covariance_type, init_params
):
    # Each component starts on one row. Its covariance is what scikit-learn's
    # formulas round a zero spread to: positive variances (diag, spherical),
    # a rank-one matrix that is positive definite in one dimension only
    # (full), so the fit goes on or stops exactly where scikit-learn's does.
    X = _blobs(rng, offset=3.0)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        init_params=init_params,
        random_state=1,
        tol=0.0,
        max_iter=4,
    )
    for data, completes in ((X, covariance_type != "full"), (X[:, :1], True)):
        ref, ref_error = _fit_or_error(GaussianMixture, data, **params)
        ours, ours_error = _fit_or_error(OOCGaussianMixture, data, **params)
        assert (ref_error is None) == completes
        _same_outcome(ref_error, ours_error)
        if completes:
            if covariance_type != "tied":
                assert ref.lower_bounds_[0] < -1e6  # the start was that narrow
            _assert_same_mixture(ours, ref)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("copies", [1, 2, 3])
def test_component_left_with_copies_of_one_row_like_sklearn(
    rng, covariance_type, copies
):
    # The second component holds nothing but the copies of a far row: no
    # spread, and its covariance is scikit-learn's rounding, bit for bit
    # (sums of up to three equal terms round alike in every order).
    blobs = _blobs(rng, offset=3.0)
    far = blobs[:1] + 60.0
    X = np.vstack([blobs, np.repeat(far, copies, axis=0)])
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=0.0,
        max_iter=4,
        weights_init=[0.99, 0.01],
        means_init=np.vstack([blobs.mean(axis=0), far]),
        precisions_init=_start(X, covariance_type)["precisions_init"],
    )
    ref, ref_error = _fit_or_error(GaussianMixture, X, **params)
    ours, ours_error = _fit_or_error(OOCGaussianMixture, X, **params, batch_size=41)
    # A full covariance of rank one in three dimensions is singular.
    assert (ref_error is None) == (covariance_type != "full")
    _same_outcome(ref_error, ours_error)
    if ref_error is None:
        assert_allclose(ref.weights_[1] * len(X), copies)
        assert ours.n_iter_ == ref.n_iter_
        for name in (
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
        ):
            assert_allclose(
                getattr(ours, name), getattr(ref, name), rtol=1e-10, err_msg=name
            )
        # scikit-learn's diagonal log-densities expand (x - m)**2 * p into
        # three terms of 1e14 here, which cancel to about 0.1 a row.
        assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-3)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_components_of_few_rows_far_from_the_origin_keep_their_spread(
    rng, covariance_type
):
    # Twenty rows a component: scikit-learn's padded counts would add
    # 10 eps m**2 / 20, 1e-4 of the spread at 1e6, to a component with rows
    # and spread. It is left out: the fit is scikit-learn's at the origin.
    X = _blobs(rng, n=40, offset=1e6)
    params = dict(
        n_components=2,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=3,
        **_start(X, covariance_type),
    )
    _assert_same_mixture(_fit(X, **params), _reference(X, 1e6, **params))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_nearly_empty_component_without_regularization_like_sklearn(
    rng, covariance_type
):
    # One M-step leaves a component almost no weight: scikit-learn's
    # raw moments keep its mean square in its variance, ten thousand times
    # its spread here.
    X = _blobs(rng, offset=100.0)
    params = dict(
        n_components=3,
        covariance_type=covariance_type,
        reg_covar=0.0,
        tol=0.0,
        max_iter=1,
        weights_init=[0.5, 0.49, 0.01],
        means_init=np.vstack([X[:2], X[:1] + 6.0]),
        precisions_init=_start(X, covariance_type, k=3)["precisions_init"],
    )
    ours, ref = _fit(X, **params), _reference(X, **params)
    assert ref.weights_[2] < 1e-10
    assert_allclose(ours.weights_, ref.weights_, rtol=1e-6)
    assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-6)


def test_memory_holds_batches_not_rows(tmp_path, monkeypatch):
    # Initialization, EM passes and scores over a memory map: the peak stays
    # far below the data, and a sample drawn across many rows costs its size
    # (above _CHOICE_ROWS rows; below, draws are scikit-learn's).
    import tracemalloc

    from sklearn_ooc.io import write_mixture
    from sklearn_ooc.mixture import _gaussian_mixture

    monkeypatch.setattr(_gaussian_mixture, "_CHOICE_ROWS", 1000)

    path = tmp_path / "X.npy"
    write_mixture(path, 1_000_000, 5, 3, random_state=0)
    X = np.load(path, mmap_mode="r")
    gmm = OOCGaussianMixture(
        3, init_size=2000, max_iter=2, batch_size=20_000, random_state=0
    )
    _fit(X[:3000], n_components=3, max_iter=1)  # compile first
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gmm.fit(X)
        gmm.score(X), gmm.bic(X)
        _gaussian_mixture._draw_rows(np.random.RandomState(0), 50_000_000, 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The data are 40 MB; one float per row would be 8 MB.
    assert peak < 4_000_000, peak
