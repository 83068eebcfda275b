"""OOCKMeans: scikit-learn's KMeans(algorithm="lloyd") from the same centers."""

import re

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ooc import open_array, out_of_core
from sklearn_ooc._kernels import lloyd_rows
from sklearn_ooc._stats import Workspace
from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.cluster._kmeans import _assign, _is_same_clustering, _origin_for

from . import _naive
from .conftest import file_digest, fitted_state


def _blobs(rng, offset=0.0, n=400):
    X = np.vstack([rng.normal(c, 1.0, (n, 3)) for c in (-4, 0, 4, 8)]) + offset
    return X[rng.permutation(len(X))]


@pytest.mark.parametrize("batch_size", [1, 7, 250, 5000])
@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_sklearn_lloyd_from_the_same_centers(
    rng, batch_size, n_jobs, offset, weighted
):
    X = _blobs(rng, offset)
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    init = X[:4].copy()
    ref = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    ours = OOCKMeans(4, init=init, batch_size=batch_size, n_jobs=n_jobs)
    ours.fit(X, sample_weight=w)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("labels_dtype", [np.intp, np.uint8])
def test_lloyd_kernel_equals_explicit_distances(rng, weighted, labels_dtype):
    X = rng.normal(size=(300, 5))
    # Repeated rows tie in distance: the earlier one must be kept.
    X[200:210] = X[100:110]
    centers = rng.normal(size=(6, 5))
    w = rng.uniform(0.5, 2.0, 300) if weighted else np.ones(300)
    labels = np.empty(300, dtype=labels_dtype)
    sums, weights = np.zeros((6, 5)), np.zeros(6)
    far = np.full((2, 40), -np.inf)
    inertia = 0.0
    # In two calls, as over the chunks of a batch.
    for rows in (slice(0, 170), slice(170, 300)):
        inertia += lloyd_rows(
            X[rows],
            X[rows] @ centers.T,
            centers,
            (centers**2).sum(axis=1),
            w[rows] if weighted else np.empty(0),
            labels[rows],
            sums,
            weights,
            far,
            rows.start,
        )
    want = _naive.lloyd_step(X, w, centers)
    assert_array_equal(labels, want[0])
    assert_allclose(sums, want[2], rtol=1e-13)
    assert_allclose(weights, want[3], rtol=1e-14)
    assert_allclose(inertia, w @ want[1], rtol=1e-13)
    # The 40 farthest rows, as a stable sort by decreasing distance finds
    # them (kept in no particular order).
    top = np.argsort(-want[1], kind="stable")[:40]
    assert_array_equal(np.sort(far[1]), np.sort(top))
    assert_allclose(np.sort(far[0]), np.sort(want[1][top]), rtol=1e-13)


@pytest.mark.parametrize("ahead_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ahead_rows", [0, 1, 37, 500])
def test_prefetching_the_next_rows_changes_nothing(rng, ahead_dtype, ahead_rows):
    # The next chunk's cache lines are asked for while these rows are
    # summed (a hint): every output is bitwise the same, whatever the size
    # of the next chunk (none, less than a line, more lines than rows).
    X = rng.normal(size=(300, 5))
    centers = rng.normal(size=(6, 5))
    following = rng.normal(size=(ahead_rows, 5)).astype(ahead_dtype)
    before = following.copy()
    outputs = []
    for ahead in (None, following.reshape(-1)):
        labels = np.empty(300, dtype=np.intp)
        sums, weights = np.zeros((6, 5)), np.zeros(6)
        far = np.full((2, 8), -np.inf)
        inertia = lloyd_rows(
            X,
            X @ centers.T,
            centers,
            (centers**2).sum(axis=1),
            np.empty(0),
            labels,
            sums,
            weights,
            far,
            0,
            ahead,
        )
        outputs.append((inertia, labels, sums, weights, far))
    for plain, prefetching in zip(*outputs, strict=True):
        assert_array_equal(prefetching, plain)
    assert_array_equal(following, before)


def test_lloyd_kernel_ties_keep_the_earlier_rows():
    # All rows at the same distance: the first ones stay.
    X = np.zeros((50, 2))
    far = np.full((2, 3), -np.inf)
    lloyd_rows(
        X,
        np.zeros((50, 1)),
        np.ones((1, 2)),
        np.ones(1),
        np.empty(0),
        np.empty(50, dtype=np.intp),
        np.zeros((1, 2)),
        np.zeros(1),
        far,
        0,
    )
    assert_array_equal(np.sort(far[1]), [0, 1, 2])
    assert_array_equal(far[0], [2.0, 2.0, 2.0])


def test_float32_and_files(rng, npy):
    # scikit-learn keeps float32 (centers, distances); ours computes in
    # float64 and rounds the centers.
    X = _blobs(rng).astype(np.float32)
    init = X[:4].copy()
    ref = KMeans(4, init=init, n_init=1).fit(X)
    ours = OOCKMeans(4, init=init, batch_size=300).fit(npy(X))
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == np.float32
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-5)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-5)
    assert_array_equal(ours.predict(open_array(npy(X))), ref.predict(X))
    distances = ours.transform(X)
    assert distances.dtype == ref.transform(X).dtype == np.float32
    assert_allclose(distances, ref.transform(X), rtol=1e-4)
    assert_allclose(ours.score(X), ref.score(X), rtol=1e-5)
    # float64 rows against the float32 centers: float64 distances.
    assert ours.transform(X.astype(np.float64)).dtype == np.float64


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("copy_x", [True, False])
def test_algorithm_and_copy_x_give_sklearns_result(rng, algorithm, copy_x):
    X = _blobs(rng, n=60)
    before = X.copy()
    params = dict(init="random", n_init=3, random_state=0, copy_x=copy_x)
    # (scikit-learn's copy_x=False writes into X, then restores it to
    # rounding; ours only reads it.)
    ref = KMeans(4, algorithm=algorithm, **params).fit(X.copy())
    ours = OOCKMeans(4, algorithm=algorithm, batch_size=50, **params).fit(X)
    assert_array_equal(X, before)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


@pytest.mark.parametrize("batch_size, n_jobs", [(16, 2), (1000, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_best_of_n_init_is_sklearns(batch_size, n_jobs, dtype, weighted, init):
    # Few iterations: runs end unconverged, and scikit-learn compares the
    # inertia of their final centers (another clustering only).
    X, _ = make_blobs(300, centers=6, n_features=3, random_state=1, cluster_std=2.5)
    X = X.astype(dtype)
    w = np.random.default_rng(1).uniform(0.5, 2, len(X)) if weighted else None
    params = dict(init=init, n_init=5, max_iter=3, random_state=1)
    ref = KMeans(6, **params).fit(X, sample_weight=w)
    ours = OOCKMeans(6, batch_size=batch_size, n_jobs=n_jobs, **params)
    ours.fit(X, sample_weight=w)
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol)
    assert_allclose(ours.inertia_, ref.inertia_, rtol=rtol)


def test_is_same_clustering_as_sklearn():
    labels = np.array([0, 0, 1, 2, 2])
    assert _is_same_clustering(labels, np.array([2, 2, 0, 1, 1]), 3)
    assert not _is_same_clustering(labels, np.array([2, 2, 0, 1, 0]), 3)
    # One way only, as scikit-learn's: two labels may map onto one.
    assert _is_same_clustering(labels, np.array([1, 1, 1, 0, 0]), 3)


@pytest.mark.parametrize("offset", [0.0, 1e6])
@pytest.mark.parametrize("sparse", [False, True])
def test_callable_init_is_called_as_sklearn_calls_it(rng, offset, sparse):
    X = _blobs(rng, offset, n=50)
    seen = []

    def from_data(X, k, random_state):
        seen.append(X.toarray() if sp.issparse(X) else X.copy())
        rows = X[random_state.choice(X.shape[0], k, replace=False)]
        return rows.toarray() if sp.issparse(rows) else rows

    def fixed(X, k, random_state):
        # Centers in scikit-learn's centered coordinates (dense data).
        return np.arange(k * 3.0).reshape(k, 3) + (offset if sparse else 0.0)

    Xin = sp.csr_matrix(X) if sparse else X
    for init in (from_data, fixed):
        ref = KMeans(4, init=init, max_iter=5, random_state=0).fit(Xin)
        ours = OOCKMeans(4, init=init, max_iter=5, random_state=0, batch_size=64)
        ours.fit(Xin)
        assert_array_equal(ours.labels_, ref.labels_)
        assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    # n_init="auto": 10 runs, each called with the centered rows.
    assert len(seen) == 20
    assert_allclose(seen[10], seen[0])
    assert_allclose(seen[10], X - (0 if sparse else X.mean(axis=0)), atol=1e-8)


def test_callable_init_beyond_init_size_sees_a_centered_sample(rng):
    X = _blobs(rng, 1e6, n=50)
    seen = []

    def first(X, k, random_state):
        seen.append(X.copy())
        return X[:k]

    ours = OOCKMeans(4, init=first, n_init=1, init_size=30, random_state=0)
    ours.fit(X, batch_size=64)
    (sample,) = seen
    assert sample.shape == (30, 3)
    # The rows of a sample, centered on the mean of all the data.
    centered = X - X.mean(axis=0)
    rows = [np.flatnonzero((np.abs(centered - r) < 1e-6).all(axis=1)) for r in sample]
    assert all(len(r) == 1 for r in rows)
    assert np.all(np.diff(np.concatenate(rows)) > 0)


def test_warnings_and_errors_are_sklearns(rng):
    X = np.asarray([[0, 0], [0, 1], [1, 0], [1, 0]])
    msg = (
        r"Number of distinct clusters \(3\) found smaller than "
        r"n_clusters \(4\). Possibly due to duplicate points in X."
    )
    with pytest.warns(ConvergenceWarning, match=msg):
        OOCKMeans(4, random_state=0).fit(X)
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense"):
        OOCKMeans(1, algorithm="elkan").fit(X)
    with pytest.raises(ValueError, match="does not match the number of clusters 3"):
        OOCKMeans(3, init=np.zeros((2, 2))).fit(X)
    with pytest.raises(ValueError, match="number of features of the data 2"):
        OOCKMeans(2, init=np.zeros((2, 3))).fit(X)
    with pytest.raises(ValueError, match="number of features of the data 2"):
        OOCKMeans(2, init=lambda X, k, random_state: np.zeros((k, 3))).fit(X)
    with pytest.raises(InvalidParameterError, match="'algorithm' parameter"):
        OOCKMeans(2, algorithm="auto").fit(X)


def test_clusters_left_empty_go_where_sklearn_puts_them():
    # More clusters than distinct rows: no row is reseeded, and an empty
    # cluster joins the heaviest one (scikit-learn's _average_centers).
    X = np.array([[0, 0], [1, 1], [1, 1], [1, 0], [0, 1]], dtype=float)
    for init in (X, X[::-1].copy(), np.vstack([X[1:], X[:1]])):
        with pytest.warns(ConvergenceWarning):
            ref = KMeans(5, init=init).fit(X)
        with pytest.warns(ConvergenceWarning):
            ours = OOCKMeans(5, init=init, batch_size=2).fit(X)
        assert ours.n_iter_ == ref.n_iter_ == 1
        assert_array_equal(ours.labels_, ref.labels_)
        assert_array_equal(ours.cluster_centers_, ref.cluster_centers_)


@pytest.mark.parametrize("tol", [0.0, 1e-2])
def test_verbose_prints_sklearns_lines(rng, tol, capsys):
    X = rng.normal(size=(500, 10))
    OOCKMeans(8, init="random", n_init=1, tol=tol, verbose=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "Initialization complete" in out
    assert re.search(r"Iteration 0, inertia [0-9.]+\.", out)
    if tol == 0:
        assert re.search(r"Converged at iteration [0-9]+: strict convergence", out)
    else:
        assert re.search(r"center shift .* within tolerance", out)


def test_out_of_core_takes_every_kmeans_parameter():
    km = KMeans(3, algorithm="elkan", copy_x=False, n_init=2, tol=0.0)
    ours = out_of_core(km)
    assert isinstance(ours, OOCKMeans)
    assert {k: v for k, v in ours.get_params().items() if k in km.get_params()} == (
        km.get_params()
    )


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("offset", [0.0, 1e7])
def test_initializations_equal_sklearn_on_small_data(rng, init, weighted, offset):
    # Rows of little spread far from the origin: k-means++ keeps its digits
    # on rows centered as scikit-learn centers them; 'random' draws the
    # rows scikit-learn's weighted draw takes.
    X = rng.normal(size=(200, 2)) + offset
    w = rng.uniform(0.5, 2, len(X)) if weighted else None
    params = dict(init=init, n_init=1, random_state=3)
    ref = KMeans(5, **params).fit(X, sample_weight=w)
    ours = OOCKMeans(5, batch_size=64, **params).fit(X, sample_weight=w)
    assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_empty_clusters_are_reseeded_like_sklearn(rng):
    X = _blobs(rng, n=50)
    init = np.vstack([X[:3], [[1e3, 1e3, 1e3]]])  # a center far from every row
    ref = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(X)
    ours = OOCKMeans(4, init=init, batch_size=37).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_first_k_and_minibatch_mode(rng):
    X = _blobs(rng)
    first = OOCKMeans(4, init="first-k", max_iter=1, batch_size=100)
    first.fit(X)
    assert first.n_iter_ == 1
    minibatch = OOCKMeans(
        4, init=X[:4], batch_size=100, batches_per_epoch=2, max_iter=1
    ).fit(X)
    # One update from batches 0 and 1 alone: Lloyd's step on rows 0-199.
    step = OOCKMeans(4, init=X[:4], max_iter=1).fit(X[:200])
    assert_allclose(minibatch.cluster_centers_, step.cluster_centers_, rtol=1e-12)


def test_bad_input_leaves_the_model_and_file_unchanged(rng, npy):
    X = _blobs(rng, n=50)
    model = OOCKMeans(4, init=X[:4], batch_size=40).fit(X)
    bad = X.copy()
    bad[123, 0] = np.inf
    path = npy(bad)
    digest = file_digest(path)
    before = fitted_state(model)
    with pytest.raises(ValueError, match=r"X contains infinity at row 123"):
        model.fit(path)
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        model.fit(X[:3])
    with pytest.raises(ValueError, match="non-zero"):
        OOCKMeans(2).fit(X, sample_weight=np.zeros(len(X)))
    assert fitted_state(model) == before and file_digest(path) == digest


def test_rows_near_the_origin_are_used_in_place(rng):
    # Centers about the origin keep it (rows read without a copy); centers
    # far from it move it to their mean, where the distances keep their
    # digits. Either way a batch gets the labels and sums of the other.
    X = rng.normal(size=(500, 4))
    centers = X[:5].copy()
    assert not _origin_for(centers).any()
    assert_array_equal(_origin_for(centers + 1e6), (centers + 1e6).mean(axis=0))
    kept = _assign(X, None, centers, _origin_for(centers), Workspace())
    moved = _assign(X, None, centers, centers.mean(axis=0), Workspace())
    assert_array_equal(kept[0], moved[0])
    shift = centers.mean(axis=0)
    assert_allclose(kept[1], moved[1] + kept[2][:, None] * shift, rtol=1e-12)
    assert_allclose(kept[3], moved[3], rtol=1e-12)
    assert_array_equal(kept[4][1], moved[4][1])


def test_verbose_lines_speak_of_inertia(capsys):
    """scikit-learn's words for k-means: inertia, not the log-likelihood or
    the improvement that mixtures report."""
    X = np.random.default_rng(0).normal(size=(300, 2))
    OOCKMeans(3, n_init=1, verbose=1, random_state=0, max_iter=3).fit(X)
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "Iteration 0, inertia " in out
    assert re.search(r"Inertia fell by [\d.e+-]+ in all", out)
    assert "Log-likelihood" not in out and "Improvement" not in out


def test_logistic_verbose_names_its_objective(capsys):
    from sklearn_ooc.linear_model import StreamingLogisticRegression

    X = np.random.default_rng(0).normal(size=(300, 2))
    StreamingLogisticRegression(verbose=1).fit(X, X[:, 0] > 0)
    captured = capsys.readouterr()
    assert "[1] Penalized log-likelihood: -" in captured.out + captured.err
