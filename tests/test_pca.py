"""OOCPCA: scikit-learn's PCA(svd_solver='full'), up to signs."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA

from sklearn_ooc import open_array
from sklearn_ooc.decomposition import OOCPCA

from .conftest import fitted_state


def _data(rng, n=2000, d=6, offset=0.0, dtype=np.float64):
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + offset
    return X.astype(dtype)


def _same(ours, ref, X, rtol=1e-8):
    assert ours.n_components_ == ref.n_components_
    assert_allclose(ours.components_, ref.components_, rtol=rtol, atol=rtol)
    for name in (
        "explained_variance_",
        "explained_variance_ratio_",
        "singular_values_",
        "mean_",
    ):
        assert_allclose(
            getattr(ours, name), getattr(ref, name), rtol=rtol, err_msg=name
        )
    assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=rtol, atol=1e-12)
    assert_allclose(
        ours.transform(X),
        ref.transform(X),
        rtol=rtol,
        atol=rtol * np.abs(ref.transform(X)).max(),
    )


@pytest.mark.parametrize("n_components", [None, 3, 0.9, "mle"])
@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("batch_size", [1, 7, 500])
@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_equals_sklearn_pca(rng, n_components, whiten, batch_size, solver):
    X = _data(rng, n=600)
    ref = PCA(n_components, whiten=whiten, svd_solver=solver).fit(X)
    ours = OOCPCA(
        n_components, whiten=whiten, svd_solver=solver, batch_size=batch_size
    ).fit(X)
    _same(ours, ref, X)
    assert_allclose(
        ours.inverse_transform(ours.transform(X)),
        ref.inverse_transform(ref.transform(X)),
        rtol=1e-8,
    )
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_offset_float32_and_threads(rng, npy, dtype, n_jobs):
    X = _data(rng, offset=1e6, dtype=dtype)
    # float32 rows are summarized in float64: the reference is PCA on the
    # same values in float64 (scikit-learn's PCA computes in float32).
    ref = PCA(3, svd_solver="full").fit(X.astype(np.float64))
    ours = OOCPCA(3, batch_size=128, n_jobs=n_jobs, svd_solver="full").fit(npy(X))
    assert_allclose(ours.components_, ref.components_, rtol=1e-8, atol=1e-8)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)


def test_partial_fit_is_exact_where_incremental_pca_approximates(rng):
    from sklearn.decomposition import IncrementalPCA

    X = _data(rng, n=1000)
    ours = OOCPCA(2)
    for part in np.array_split(X, 7):
        ours.partial_fit(part)
    ref = PCA(2, svd_solver="full").fit(X)
    _same(ours, ref, X, rtol=1e-10)
    approx = IncrementalPCA(2, batch_size=143).fit(X)
    assert np.abs(approx.explained_variance_ - ref.explained_variance_).max() > 1e-10


def test_auto_picks_the_solver_scikit_learn_picks(rng):
    # Near-duplicate columns: a variance 1e-18 of the largest, which only the
    # SVD of the rows ('full') resolves; each solver matches its namesake.
    X = rng.normal(size=(300, 3))
    X[:, 2] = X[:, 0] + 1e-9 * rng.normal(size=300)
    for n_rows, expected in [(300, "covariance_eigh"), (25, "full")]:
        ours = OOCPCA(batch_size=40).fit(X[:n_rows])
        assert ours._fit_svd_solver == expected
        ref = PCA(svd_solver=expected).fit(X[:n_rows])
        smallest = ref.singular_values_[-1]
        assert_allclose(
            ours.singular_values_[-1],
            smallest,
            rtol=1e-3 if expected == "full" else 0,
            atol=0 if expected == "full" else 1e-6 * ref.singular_values_[0],
        )
    full = OOCPCA(svd_solver="full", batch_size=40).fit(X)
    ref = PCA(svd_solver="full").fit(X)
    assert_allclose(full.explained_variance_, ref.explained_variance_, rtol=1e-4)


def test_transform_of_a_lazy_array_is_lazy(rng, npy):
    X = _data(rng, n=300)
    pca = OOCPCA(2).fit(X)
    lazy = pca.transform(open_array(npy(X)))
    assert lazy.shape == (300, 2)
    assert_allclose(np.asarray(lazy), pca.transform(X))


def test_bad_n_components_leaves_the_model_unchanged(rng):
    X = _data(rng, n=300)
    pca = OOCPCA(2).fit(X)
    before = fitted_state(pca)
    pca.set_params(n_components=10)
    with pytest.raises(
        ValueError,
        match=r"n_components=10 must be between 0 and "
        r"min\(n_samples, n_features\)=6",
    ):
        pca.fit(X)
    pca.set_params(n_components=2)
    assert fitted_state(pca) == before
