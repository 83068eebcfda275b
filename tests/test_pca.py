"""OOCPCA: scikit-learn's PCA, every solver, up to signs."""

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
    # same values in float64 (scikit-learn's PCA computes in float32), and
    # the results are returned in the data's precision, as scikit-learn's.
    ref = PCA(3, svd_solver="full").fit(X.astype(np.float64))
    ours = OOCPCA(3, batch_size=128, n_jobs=n_jobs, svd_solver="full").fit(npy(X))
    rtol = 1e-8 if dtype == np.float64 else 1e-6
    assert ours.components_.dtype == dtype
    assert_allclose(ours.components_, ref.components_, rtol=rtol, atol=rtol)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    # Centered by the float64 mean: the float32 one is off by about 0.03.
    assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("offset", [0.0, 1e3])
@pytest.mark.parametrize("batch_size, n_jobs", [(999, 1), (30_000, 2), (200_000, 1)])
def test_covariance_solver_is_closer_to_the_float64_fit_than_sklearns(
    rng, offset, batch_size, n_jobs
):
    # Like scikit-learn's covariance solver, ours multiplies float32 rows in
    # float32; but about a shift near the mean, a chunk at a time, summed in
    # float64: within float32's rounding of the fit in float64 (1e-5), and
    # closer to it than scikit-learn's, whose float32 sums of products grow
    # with the rows (and whose float32 mean loses digits of offset data).
    X = _data(rng, n=200_000, offset=offset, dtype=np.float32)
    fits = {
        "wide": PCA(3, svd_solver="covariance_eigh").fit(X.astype(np.float64)),
        "theirs": PCA(3, svd_solver="covariance_eigh").fit(X),
        "ours": OOCPCA(
            3, svd_solver="covariance_eigh", batch_size=batch_size, n_jobs=n_jobs
        ).fit(X),
    }
    wide = fits["wide"]
    error = {}
    for name in ("theirs", "ours"):
        fit = fits[name]
        assert fit.components_.dtype == np.float32
        error[name] = max(
            np.abs(fit.components_ - wide.components_).max(),
            np.abs(fit.explained_variance_ / wide.explained_variance_ - 1).max(),
        )
    assert error["ours"] <= 1e-5
    assert error["ours"] < error["theirs"]


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


# -- every parameter of scikit-learn's PCA, its truncated solvers ------------


def test_parameters_are_scikit_learns():
    ours = OOCPCA().get_params()
    for name, value in PCA().get_params().items():
        assert ours[name] == value, name


def _truncated_case(rng, shape, offset=0.0):
    # Well separated singular values: the range finder converges, and the
    # float32 draw (rounded as scikit-learn rounds it) finds the same axes.
    n, d = shape
    scales = np.geomspace(10.0, 0.1, min(n, d))
    left = np.linalg.qr(rng.normal(size=(n, min(n, d))))[0]
    right = np.linalg.qr(rng.normal(size=(d, min(n, d))))[0]
    return (left * scales) @ right.T + offset


def _same_truncated(ours, ref, X, rtol, mean=True):
    assert ours.n_components_ == ref.n_components_
    scale = np.abs(ref.components_).max()
    assert_allclose(ours.components_, ref.components_, rtol=rtol, atol=rtol * scale)
    for name in (
        "explained_variance_",
        "explained_variance_ratio_",
        "singular_values_",
        "noise_variance_",
    ):
        got, expected = getattr(ours, name), getattr(ref, name)
        assert_allclose(got, expected, rtol=rtol, err_msg=name)
    if mean:
        assert_allclose(ours.mean_, ref.mean_, rtol=rtol)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("shape", [(120, 9), (15, 40)], ids=["tall", "wide"])
@pytest.mark.parametrize("batch_size", [4, 1000])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_truncated_solvers_equal_sklearn(rng, solver, shape, batch_size, n_jobs):
    X = _truncated_case(rng, shape)
    ref = PCA(3, svd_solver=solver, random_state=0).fit(X)
    ours = OOCPCA(
        3, svd_solver=solver, random_state=0, batch_size=batch_size, n_jobs=n_jobs
    ).fit(X)
    _same_truncated(ours, ref, X, rtol=1e-10)
    assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("shape", [(120, 9), (15, 40)], ids=["tall", "wide"])
def test_truncated_solvers_on_offset_data(rng, npy, solver, shape):
    # Rows far from the origin are centered by the mean of a first pass,
    # never through X.T X - n mean mean.T: the digits of the spread stay.
    X = _truncated_case(rng, shape)
    ref = PCA(3, svd_solver=solver, random_state=0).fit(X)
    ours = OOCPCA(3, svd_solver=solver, random_state=0, batch_size=7)
    ours.fit(npy(X + 1e6))
    _same_truncated(ours, ref, X, rtol=1e-7, mean=False)
    assert_allclose(ours.mean_ - 1e6, ref.mean_, atol=1e-8)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_truncated_solvers_on_float32(rng, solver):
    # Computed in float64 from the float32 rows; returned in float32, as
    # scikit-learn returns them.
    X = _truncated_case(rng, (200, 8)).astype(np.float32)
    ref = PCA(3, svd_solver=solver, random_state=0).fit(X.astype(np.float64))
    ours = OOCPCA(3, svd_solver=solver, random_state=0, batch_size=9).fit(X)
    assert ours.components_.dtype == np.float32
    assert ours.transform(X).dtype == np.float32
    assert ours.transform(X.astype(np.float64)).dtype == np.float64
    _same_truncated(ours, ref, X, rtol=2e-6)


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("iterated_power", [0, 2, "auto"])
def test_randomized_normalizers_and_iterations(rng, normalizer, iterated_power):
    # One pass computes A.T (A Q), whose columns span the subspace that
    # scikit-learn's normalized steps reach: the same result.
    X = _truncated_case(rng, (80, 12))
    params = dict(
        n_components=2,
        svd_solver="randomized",
        power_iteration_normalizer=normalizer,
        iterated_power=iterated_power,
        n_oversamples=3,
        random_state=1,
    )
    ref = PCA(**params).fit(X)
    ours = OOCPCA(**params, batch_size=11).fit(X)
    _same_truncated(ours, ref, X, rtol=1e-9)


@pytest.mark.parametrize("whiten", [False, True])
def test_randomized_fit_transform_gives_scikit_learns_scores(rng, whiten):
    # An approximate range: the scores U S of the decomposition are not the
    # projections of X; one more pass gives them.
    X = rng.normal(size=(60, 30))
    params = dict(n_components=2, svd_solver="randomized", random_state=0)
    ref = PCA(**params, whiten=whiten).fit_transform(X)
    ours = OOCPCA(**params, whiten=whiten, batch_size=8)
    assert_allclose(ours.fit_transform(X), ref, rtol=1e-9, atol=1e-12)
    assert np.abs(ours.transform(X) - ref).max() > 1e-6


def test_streamed_arpack_equals_the_covariance_one(rng, monkeypatch):
    # Wide data cannot hold the covariance: one pass per product instead.
    import sklearn_ooc.decomposition._pca as module

    X = _truncated_case(rng, (60, 7))
    ref = PCA(2, svd_solver="arpack", random_state=3).fit(X)
    monkeypatch.setattr(module, "_DENSE_ARPACK_MAX_FEATURES", 4)
    ours = OOCPCA(2, svd_solver="arpack", random_state=3, batch_size=13).fit(X)
    _same_truncated(ours, ref, X, rtol=1e-10)


def test_randomized_on_wide_data_never_forms_the_covariance(rng, monkeypatch):
    import sklearn_ooc.decomposition._pca as module

    def refuse(*args, **kwargs):
        raise AssertionError("a d x d statistic was formed")

    monkeypatch.setattr(module, "moments_of_rows", refuse)
    monkeypatch.setattr(module.RootMoments, "of_rows", refuse)
    X = rng.normal(size=(30, 2000))
    ref = PCA(4, random_state=0).fit(X)
    ours = OOCPCA(4, random_state=0, batch_size=8).fit(X)
    assert ours._fit_svd_solver == "randomized"
    _same_truncated(ours, ref, X, rtol=1e-9)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(n_components="mle", svd_solver="arpack"), "cannot be a string"),
        (dict(n_components=0, svd_solver="randomized"), "must be between 1 and"),
        (dict(n_components=5, svd_solver="arpack"), "must be strictly less than"),
    ],
)
def test_truncated_solvers_refuse_what_scikit_learn_refuses(rng, params, message):
    X = rng.normal(size=(20, 5))
    with pytest.raises(ValueError, match=message):
        PCA(**params).fit(X)
    with pytest.raises(ValueError, match=message):
        OOCPCA(**params).fit(X)


def test_partial_fit_needs_an_exact_solver(rng):
    X = rng.normal(size=(20, 5))
    with pytest.raises(ValueError, match="svd_solver='randomized' passes over all"):
        OOCPCA(2, svd_solver="randomized").partial_fit(X)


# -- sparse input, as scikit-learn takes it ------------------------------------


@pytest.mark.parametrize("solver", ["full", "randomized"])
def test_sparse_input_with_a_dense_solver_is_a_type_error(solver):
    import scipy.sparse as sp

    X = sp.random(30, 6, density=0.3, random_state=0, format="csr")
    with pytest.raises(TypeError, match="PCA only support sparse inputs"):
        OOCPCA(2, svd_solver=solver).fit(X)


@pytest.mark.parametrize("solver", ["auto", "arpack", "covariance_eigh"])
def test_sparse_input_equals_sklearn(solver):
    import scipy.sparse as sp

    X = sp.random(60, 8, density=0.4, random_state=0, format="csr")
    ref = PCA(3, svd_solver=solver, random_state=0).fit(X)
    ours = OOCPCA(3, svd_solver=solver, random_state=0, batch_size=7).fit(X)
    assert ours._fit_svd_solver == ref._fit_svd_solver
    _same_truncated(ours, ref, X, rtol=1e-9)


# -- what was wrong ---------------------------------------------------------------


def test_whiten_floors_the_scale_of_axes_without_variance(rng):
    # Rank-deficient rows: scikit-learn divides by max(sqrt(variance), eps),
    # not by zero.
    X = rng.normal(size=(100, 2)) @ rng.normal(size=(2, 4))
    for solver in ("covariance_eigh", "full", "arpack"):
        ref = PCA(3, whiten=True, svd_solver=solver, random_state=0).fit(X)
        ours = OOCPCA(3, whiten=True, svd_solver=solver, random_state=0).fit(X)
        Z = ours.transform(X)
        assert np.isfinite(Z).all()
        assert_allclose(Z[:, :2], ref.transform(X)[:, :2], rtol=1e-7, atol=1e-9)


def test_mle_floors_eigenvalues_as_scikit_learn():
    # 18 repeated columns of one informative one: variances of 1e-31 are
    # below scikit-learn's floor of 1e-15, so Minka's rank is 1 (was 19).
    from sklearn.datasets import make_classification

    X, _ = make_classification(
        n_features=20,
        n_informative=1,
        n_repeated=18,
        n_redundant=1,
        n_clusters_per_class=1,
        random_state=42,
    )
    assert PCA("mle").fit(X).n_components_ == 1
    assert OOCPCA("mle", batch_size=30).fit(X).n_components_ == 1


def test_feature_names_are_scikit_learns(rng):
    X = rng.normal(size=(20, 4))
    names = OOCPCA(2).fit(X).get_feature_names_out()
    assert list(names) == list(PCA(2).fit(X).get_feature_names_out())


def test_partial_fit_does_not_continue_a_truncated_fit(rng):
    X = rng.normal(size=(40, 600))
    pca = OOCPCA(2, random_state=0).fit(X)
    assert pca._fit_svd_solver == "randomized"
    before = fitted_state(pca)
    with pytest.raises(ValueError, match="keeps no statistics to add rows to"):
        pca.partial_fit(X)
    assert fitted_state(pca) == before


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
@pytest.mark.parametrize("factor", [1e152, 1e-152])
def test_truncated_solvers_scale_rows_whose_squares_leave_range(rng, solver, factor):
    # The passes read the rows scaled by a power of two: exact, and the
    # products stay in range.
    X = _truncated_case(rng, (50, 6))
    ref = PCA(2, svd_solver=solver, random_state=0).fit(X)
    ours = OOCPCA(2, svd_solver=solver, random_state=0, batch_size=7).fit(X * factor)
    assert_allclose(ours.components_, ref.components_, rtol=1e-10, atol=1e-12)
    assert_allclose(
        ours.explained_variance_ / factor**2, ref.explained_variance_, rtol=1e-10
    )
    assert_allclose(ours.noise_variance_ / factor**2, ref.noise_variance_, rtol=1e-9)
