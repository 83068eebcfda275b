"""OOCKMeans: scikit-learn's KMeans(algorithm="lloyd") from the same centers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans

from sklearn_ooc import open_array
from sklearn_ooc._kernels import lloyd_rows
from sklearn_ooc._stats import Workspace
from sklearn_ooc.cluster import OOCKMeans
from sklearn_ooc.cluster._kmeans import _assign, _origin_for

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
    X = _blobs(rng).astype(np.float32)
    init = X[:4].astype(np.float64)
    ref = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(X.astype(np.float64))
    ours = OOCKMeans(4, init=init, batch_size=300).fit(npy(X))
    assert_array_equal(ours.labels_, ref.labels_)
    assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert_array_equal(ours.predict(open_array(npy(X))), ref.predict(X.astype(float)))
    assert_allclose(ours.transform(X), ref.transform(X.astype(float)), rtol=1e-10)
    assert_allclose(ours.score(X), ref.score(X.astype(float)), rtol=1e-9)


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_initializations_equal_sklearn_on_small_data(rng, init):
    X = _blobs(rng, n=100)
    ref = KMeans(4, init=init, n_init=1, random_state=3, algorithm="lloyd").fit(X)
    ours = OOCKMeans(4, init=init, n_init=1, random_state=3, batch_size=64).fit(X)
    assert_array_equal(ours.labels_, ref.labels_)
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
