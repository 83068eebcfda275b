"""OOCFactorAnalysis: scikit-learn's FactorAnalysis from the streamed covariance."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning

from sklearn_ooc.decomposition import OOCFactorAnalysis

from .conftest import fitted_state

# Both fits run to max_iter alike in some cases: the warning is compared once.
pytestmark = pytest.mark.filterwarnings("ignore:FactorAnalysis did not converge")


def _data(n=400, d=8, k=3, seed=0, offset=0.0):
    rng = np.random.RandomState(seed)
    noise = rng.uniform(0.2, 1.0, d)
    X = rng.normal(size=(n, k)) @ rng.normal(size=(k, d))
    return X + rng.normal(size=(n, d)) * noise + offset


def _aligned(ours, ref):
    """Our components with the signs of scikit-learn's (its SVD picks them)."""
    if not ours.size:
        return ours
    signs = np.sign(np.sum(ours * ref, axis=1))
    return ours * signs[:, np.newaxis]


def _assert_same(ours, ref, X, rtol=1e-9):
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.loglike_, ref.loglike_, rtol=rtol)
    assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=rtol)
    scale = np.abs(ref.components_).max() if ref.components_.size else 1.0
    assert_allclose(
        _aligned(ours.components_, ref.components_),
        ref.components_,
        rtol=0,
        atol=rtol * scale,
    )
    assert_allclose(ours.mean_, ref.mean_, rtol=rtol, atol=1e-12)
    assert_allclose(ours.get_covariance(), ref.get_covariance(), rtol=rtol)
    assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=rtol)
    assert_allclose(ours.score(X), ref.score(X), rtol=rtol)


@pytest.mark.parametrize("n_components", [None, 0, 1, 3])
@pytest.mark.parametrize("rotation", [None, "varimax", "quartimax"])
@pytest.mark.parametrize("batch_size", [37, 10_000])
def test_equals_scikit_learn_lapack(n_components, rotation, batch_size):
    X = _data()
    params = dict(n_components=n_components, rotation=rotation, tol=1e-6)
    ref = FactorAnalysis(svd_method="lapack", **params).fit(X)
    ours = OOCFactorAnalysis(batch_size=batch_size, **params).fit(X)
    _assert_same(ours, ref, X)
    aligned = _aligned(ours.components_, ref.components_)
    signs = np.sign(np.sum(ours.components_ * aligned, axis=1))
    assert_allclose(
        ours.transform(X) * (signs if signs.size else 1),
        ref.transform(X),
        rtol=1e-8,
        atol=1e-10,
    )


def test_randomized_gives_the_exact_model_scikit_learn_approximates():
    # scikit-learn's randomized SVD approximates the exact one: ours is the
    # exact one whatever svd_method says.
    X = _data(seed=1)
    exact = FactorAnalysis(3, svd_method="lapack").fit(X)
    randomized = FactorAnalysis(3, svd_method="randomized").fit(X)
    ours = OOCFactorAnalysis(3, svd_method="randomized", batch_size=50).fit(X)
    _assert_same(ours, exact, X)
    assert_allclose(ours.noise_variance_, randomized.noise_variance_, rtol=1e-3)


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_n_jobs_and_dtypes(tmp_path, n_jobs, dtype):
    X = _data(seed=2).astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, X)
    ref = FactorAnalysis(2, svd_method="lapack", tol=1e-6).fit(X)
    ours = OOCFactorAnalysis(2, tol=1e-6, batch_size=30, n_jobs=n_jobs)
    ours.fit(np.load(path, mmap_mode="r"))
    _assert_same(ours, ref, X.astype(np.float64), rtol=1e-8)
    assert ours.transform(str(path)).dtype == np.float64


def test_the_same_bits_for_every_n_jobs():
    X = _data(seed=3)
    fits = [OOCFactorAnalysis(2, batch_size=25, n_jobs=n).fit(X) for n in (1, 2, 3)]
    for fit in fits[1:]:
        assert_array_equal(fit.components_, fits[0].components_)
        assert_array_equal(fit.noise_variance_, fits[0].noise_variance_)


def test_far_from_the_origin_keeps_its_digits():
    # scikit-learn centers the rows before its SVD, as our merged centered
    # moments do: the model at an offset of 1e6 is that of the rows at 0.
    X = _data(seed=4)
    ref = FactorAnalysis(2, svd_method="lapack", tol=1e-6).fit(X)
    ours = OOCFactorAnalysis(2, tol=1e-6, batch_size=64).fit(X + 1e6)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-8)
    assert_allclose(ours.mean_ - 1e6, ref.mean_, atol=1e-8)
    assert_allclose(
        _aligned(ours.components_, ref.components_), ref.components_, atol=1e-8
    )


def test_partial_fit_over_chunks_equals_fit():
    X = _data(seed=5)
    whole = OOCFactorAnalysis(3, batch_size=64).fit(X)
    chunked = OOCFactorAnalysis(3, batch_size=64)
    for part in np.array_split(X, 7):
        chunked.partial_fit(part)
    assert_allclose(chunked.components_, whole.components_, rtol=1e-10, atol=1e-13)
    assert_allclose(chunked.noise_variance_, whole.noise_variance_, rtol=1e-10)


def test_noise_variance_init_and_its_error():
    X = _data(seed=6)
    init = np.linspace(0.5, 2.0, X.shape[1])
    ref = FactorAnalysis(2, svd_method="lapack", noise_variance_init=init).fit(X)
    ours = OOCFactorAnalysis(2, noise_variance_init=init, batch_size=100).fit(X)
    _assert_same(ours, ref, X)
    model = OOCFactorAnalysis(2, batch_size=100).fit(X)
    model.set_params(noise_variance_init=np.ones(3))
    before = fitted_state(model)
    with pytest.raises(ValueError, match="does not with number of features : 3 != 8"):
        model.fit(X)
    assert fitted_state(model) == before


def test_not_converging_warns_as_scikit_learn():
    X = _data(seed=7)
    with pytest.warns(ConvergenceWarning, match="FactorAnalysis did not converge"):
        OOCFactorAnalysis(3, max_iter=2, tol=0.0).fit(X)


def test_nan_names_the_row_and_leaves_the_model_unchanged(tmp_path):
    X = _data(seed=8)
    model = OOCFactorAnalysis(2, batch_size=50).fit(X)
    before = fitted_state(model)
    bad = X.copy()
    bad[123, 4] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError, match=r"NaN at row 123 \(batch 2, rows 100-149\)"
        ):
            model.fit(str(path))
    assert fitted_state(model) == before
