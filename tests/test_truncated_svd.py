"""OOCTruncatedSVD: scikit-learn's TruncatedSVD from streamed products."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import TruncatedSVD

from sklearn_ooc import open_array
from sklearn_ooc.decomposition import OOCTruncatedSVD

from .conftest import fitted_state


def _data(seed=0, n=300, d=20):
    rng = np.random.RandomState(seed)
    return rng.poisson(1.0, size=(n, d)).astype(float) @ rng.rand(d, d)


def _assert_same(ours, ref, X, rtol=1e-10):
    assert_allclose(ours.components_, ref.components_, rtol=0, atol=rtol)
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=rtol)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol
    )
    assert_allclose(ours.transform(X), ref.transform(X), rtol=rtol, atol=1e-10)


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("n_samples", [300, 15])
@pytest.mark.parametrize("batch_size", [7, 10_000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_equals_scikit_learn_from_the_same_seed(
    algorithm, n_samples, batch_size, n_jobs
):
    # 15 rows of 20 features: both solvers work on the transposed problem.
    X = _data()[:n_samples]
    ref = TruncatedSVD(5, algorithm=algorithm, random_state=3).fit(X)
    ours = OOCTruncatedSVD(
        5, algorithm=algorithm, random_state=3, batch_size=batch_size, n_jobs=n_jobs
    ).fit(X)
    _assert_same(ours, ref, X)
    assert_allclose(
        OOCTruncatedSVD(5, algorithm=algorithm, random_state=3).fit_transform(X),
        TruncatedSVD(5, algorithm=algorithm, random_state=3).fit_transform(X),
        rtol=1e-10,
        atol=1e-10,
    )


def test_sparse_rows_and_files(tmp_path):
    X = _data(seed=1)
    X[X < 3] = 0.0
    sparse = sp.csr_matrix(X)
    ref = TruncatedSVD(4, random_state=0).fit(sparse)
    ours = OOCTruncatedSVD(4, random_state=0, batch_size=40).fit(sparse)
    _assert_same(ours, ref, X)
    path = tmp_path / "X.npy"
    np.save(path, X)
    from_file = OOCTruncatedSVD(4, random_state=0, batch_size=40).fit(str(path))
    assert_array_equal(from_file.components_, ours.components_)
    lazy = from_file.transform(open_array(str(path)))
    assert_allclose(np.asarray(lazy.rows(0, len(lazy))), ref.transform(X), atol=1e-10)


def test_float32_keeps_float32():
    X = _data(seed=2).astype(np.float32)
    ref = TruncatedSVD(3, random_state=0).fit(X)
    ours = OOCTruncatedSVD(3, random_state=0, batch_size=64).fit(X)
    assert ours.components_.dtype == ref.components_.dtype == np.float32
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-5)


def test_the_same_bits_for_every_n_jobs():
    X = _data(seed=3)
    fits = [
        OOCTruncatedSVD(4, random_state=1, batch_size=16, n_jobs=n).fit(X)
        for n in (1, 2, 3)
    ]
    for fit in fits[1:]:
        assert_array_equal(fit.components_, fits[0].components_)


def test_errors_as_scikit_learns_and_the_model_unchanged():
    X = _data(seed=4)
    model = OOCTruncatedSVD(3, random_state=0, batch_size=50).fit(X)
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"n_components\(25\) must be <= n_features"):
        model.set_params(n_components=25).fit(X)
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        model.fit(X[:, :1])
    with pytest.raises(ValueError, match=r"`k` must be an integer satisfying"):
        model.set_params(algorithm="arpack", n_components=20).fit(X)
    model.set_params(algorithm="randomized", n_components=3)
    assert fitted_state(model) == before
