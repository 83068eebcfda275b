"""K-means by exact Lloyd iterations, one pass over the data each."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._kernels import lloyd_rows
from .._out_of_core import register
from .._stats import Moments, diagonal_moments_of_rows
from ..base import IterativeMixin
from ..mixture._gaussian_mixture import _draw_rows

# Rows of a batch whose distances to the centers come from one GEMM.
_CHUNK_ROWS = 8192


@dataclass
class _LloydStats:
    """What one Lloyd pass learns, mergeable across batches.

    ``sums`` and ``weights``: the weighted rows of each cluster (in the
    pass's shifted coordinates); ``inertia``: the weighted squared distances
    to the nearest centers; ``far``: the rows farthest from their centers
    (candidates to reseed empty clusters, as scikit-learn does); ``labels``:
    a digest of every batch's labels (strict convergence); ``features``: the
    variance of each feature (scikit-learn scales ``tol`` by its mean),
    summarized only until the scaled tolerance is known.
    """

    count: int
    sums: np.ndarray
    weights: np.ndarray
    inertia: float
    far: tuple
    labels: dict = field(default_factory=dict)
    features: Moments = None

    def scaled(self, factor):
        return _LloydStats(
            self.count,
            self.sums * factor,
            self.weights * factor,
            self.inertia * factor,
            self.far,
            self.labels,
            None if self.features is None else self.features.scaled(factor),
        )

    def __add__(self, other):
        return _LloydStats(
            self.count + other.count,
            self.sums + other.sums,
            self.weights + other.weights,
            self.inertia + other.inertia,
            _farthest(self.far, other.far, len(self.weights)),
            {**self.labels, **other.labels},
            None
            if self.features is None or other.features is None
            else self.features + other.features,
        )


def _farthest(a, b, k):
    """The ``k`` rows farthest from their centers among two candidate sets."""
    dist = np.concatenate([a[0], b[0]])
    rows = np.concatenate([a[1], b[1]])
    order = np.lexsort((rows, -dist))[:k]
    return (
        dist[order],
        rows[order],
        np.concatenate([a[2], b[2]])[order],
        np.concatenate([a[3], b[3]])[order],
        np.concatenate([a[4], b[4]])[order],
    )


def _origin_for(centers):
    """The origin of a pass's arithmetic: zero, or the centers' mean.

    Distances come from ``||c||^2 - 2 x.c``, whose rounding grows with the
    distance of rows and centers from the origin: about data far from it
    (an offset of 1e6, say) every digit of the spread would go. Rows are
    then shifted by the centers' mean. Data whose centers lie no farther
    from the origin than four times their spread lose at most a few bits
    unshifted, and are used as they are, without a copy.
    """
    mean = centers.mean(axis=0)
    spread = ((centers - mean) ** 2).sum(axis=1).mean()
    if mean @ mean <= 16.0 * spread:
        return np.zeros_like(mean)
    return mean


def _assign(X, w, centers, shift, workspace, labels_dtype=np.intp):
    """Labels, cluster sums, inertia and farthest rows of a batch.

    Distances come from chunked GEMMs on rows shifted by ``shift``. Returns
    ``labels, sums, weights, inertia, far``, where ``far`` holds the squared
    distances and row numbers of the ``len(centers)`` rows farthest from
    their centers, farthest first, ties in row order (scikit-learn's
    candidates to reseed an empty cluster).
    """
    n, d = X.shape
    k = centers.shape[0]
    shifted_centers = centers - shift
    center_norms = np.einsum("ij,ij->i", shifted_centers, shifted_centers)
    labels = np.empty(n, dtype=labels_dtype)
    sums = np.zeros((k, d))
    weights = np.zeros(k)
    far = np.full((2, k), -np.inf)
    inertia = 0.0
    m = min(n, _CHUNK_ROWS)
    # float64 rows in place when the origin stays; else a shifted copy.
    in_place = not shift.any() and X.dtype == np.float64 and X.flags.c_contiguous
    xs_buf = None if in_place else workspace.get("kmeans_shifted", m, d)
    d_buf = workspace.get("kmeans_dot", m, k)
    weight = np.empty(0) if w is None else w
    for start in range(0, n, m):
        rows = slice(start, min(start + m, n))
        if in_place:
            xs = X[rows]
        else:
            xs = xs_buf[: rows.stop - start]
            np.subtract(X[rows], shift, out=xs)
        dots = d_buf[: rows.stop - start]
        np.matmul(xs, shifted_centers.T, out=dots)
        inertia += lloyd_rows(
            xs,
            dots,
            shifted_centers,
            center_norms,
            weight[rows] if w is not None else weight,
            labels[rows],
            sums,
            weights,
            far,
            start,
        )
    far = far[:, far[0] > -np.inf]
    order = np.lexsort((far[1], -far[0]))
    return (
        labels,
        sums,
        weights,
        inertia,
        (far[0, order], far[1, order].astype(np.intp)),
    )


def _from_kmeans(params):
    """KMeans's parameters as ours (for ``out_of_core``).

    Elkan's algorithm reaches Lloyd's centers and labels, and ours never
    modifies X.
    """
    del params["algorithm"], params["copy_x"]
    return params


@register(KMeans, convert=_from_kmeans)
class OOCKMeans(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    IterativeMixin,
    BaseEstimator,
):
    """K-means clustering by exact Lloyd iterations over data on disk.

    Each iteration is one pass: the rows are assigned to their nearest center
    and summed per cluster (counts and sums are the sufficient statistics),
    and the centers move to the means; empty clusters are reseeded with the
    rows farthest from their centers, and convergence is strict (no label
    changed) or a center shift within ``tol`` times the mean variance of the
    features, as in :class:`sklearn.cluster.KMeans` with
    ``algorithm="lloyd"``. From the same initial centers the labels are the
    same and the centers equal to rounding. With ``batches_per_epoch`` each
    iteration reads the next batches only (mini-batch k-means).

    Parameters
    ----------
    n_clusters : int, default=8
        Clusters.
    init : {'k-means++', 'random', 'first-k'} or ndarray, default='k-means++'
        Initial centers: k-means++ on a uniform random sample of
        ``init_size`` rows drawn across the whole source; random rows;
        the first rows; or given centers.
    n_init : 'auto' or int, default='auto'
        Runs from different initial centers; the one of lowest inertia is
        kept. ``'auto'``: 1 for 'k-means++', 'first-k' and arrays, 10 for
        'random' (scikit-learn's rule).
    max_iter : int, default=300
        Lloyd iterations at most.
    tol : float, default=1e-4
        Relative tolerance of the center shift.
    init_size : int, default=None
        Rows sampled for 'k-means++'; ``min(n_samples, 100_000)`` if
        ``None``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    batches_per_epoch : int, default=None
        Batches per iteration; ``None`` reads them all (exact Lloyd).
    decay : float in (0.5, 1], default=None
        Mini-batch mode: a running average of the statistics (see
        :class:`~sklearn_ooc.mixture.OOCGaussianMixture`).
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per iteration; 2 adds a progress bar.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centers.
    labels_ : ndarray of shape (n_samples,)
        Cluster of every training row (4 bytes a row).
    inertia_ : float
        Weighted sum of squared distances of the rows to their centers.
    n_iter_ : int
        Lloyd iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : The in-memory estimator this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.cluster import OOCKMeans
    >>> X = np.array([[1.0, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = OOCKMeans(n_clusters=2, init=X[[0, 3]], batch_size=2).fit(X)
    >>> km.cluster_centers_
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> km.predict([[0, 0], [12, 3]]).tolist()
    [0, 1]
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random", "first-k"}), "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
        "decay": [Interval(Real, 0.5, 1.0, closed="right"), None],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    # What IterativeMixin reads and k-means does not take as parameters.
    warm_start = False
    verbose_interval = 1

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        init_size=None,
        random_state=None,
        batch_size="auto",
        batches_per_epoch=None,
        decay=None,
        n_jobs=None,
        verbose=0,
        checkpoint=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.init_size = init_size
        self.random_state = random_state
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.decay = decay
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.checkpoint = checkpoint

    # scikit-learn's KMeans stops at max_iter without a warning.
    _not_converged = None

    def _runs(self):
        if not isinstance(self.init, str):
            return 1
        if self.n_init != "auto":
            return self.n_init
        return 10 if self.init == "random" else 1

    def _check_source(self, source):
        if source.n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={source.n_samples} should be >= "
                f"n_clusters={self.n_clusters}."
            )

    # -- initialization -------------------------------------------------------

    def _initialize(self, source, random_state):
        k = self.n_clusters
        init = self.init
        if not isinstance(init, str):
            centers = np.asarray(init, dtype=np.float64)
            if centers.shape != (k, source.n_features):
                raise ValueError(
                    f"The shape of the initial centers {centers.shape} does not "
                    f"match the number of clusters {k} and features "
                    f"{source.n_features}."
                )
        elif init == "first-k":
            centers = source.take(np.arange(k))
        elif init == "random":
            if source.n_samples <= 1_000_000:
                rows = random_state.permutation(source.n_samples)[:k]
            else:
                rows = _draw_rows(random_state, source.n_samples, k)
            centers = source.take(rows)
        else:
            size = min(source.n_samples, self.init_size or 100_000)
            if size == source.n_samples:
                rows = np.arange(size)
            else:
                rows = np.sort(_draw_rows(random_state, source.n_samples, size))
            weights = source.weights_of(rows)
            if not weights.sum() > 0:
                raise ValueError(
                    "Sample weights must contain at least one non-zero number"
                )
            centers, _ = kmeans_plusplus(
                source.take(rows), k, sample_weight=weights, random_state=random_state
            )
        self._centers = np.asarray(centers, dtype=np.float64).copy()
        self._previous_labels = None
        # Known at once without a tolerance; else from the first pass.
        self._tolerance = None if self.tol else 0.0

    # -- one iteration --------------------------------------------------------

    def _prepare_pass(self):
        self._shift = _origin_for(self._centers)

    def _summarize(self, batch):
        # The narrowest integers that hold every label: less to write and
        # to hash.
        labels, sums, weights, inertia, (far_dist, top) = _assign(
            batch.X,
            batch.sample_weight,
            self._centers,
            self._shift,
            batch.workspace,
            labels_dtype=np.min_scalar_type(self.n_clusters - 1),
        )
        far = (
            far_dist,
            batch.start + top,
            batch.X[top].astype(np.float64),
            np.ones(len(top))
            if batch.sample_weight is None
            else batch.sample_weight[top],
            labels[top].astype(np.intp),
        )
        digest = hashlib.blake2b(labels.tobytes(), digest_size=16)
        return _LloydStats(
            batch.n_samples,
            sums,
            weights,
            inertia,
            far,
            {batch.index: digest.digest()},
            # Every pass reads the same rows: their variances are needed once.
            diagonal_moments_of_rows(batch.X) if self._tolerance is None else None,
        )

    def _objective(self, stats):
        return -stats.inertia / stats.count

    def _from_summaries(self, stats):
        if not stats.weights.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number")
        sums = stats.sums.copy()
        weights = stats.weights.copy()
        shift = self._shift
        empty = np.flatnonzero(weights == 0)
        # scikit-learn's reseeding: each empty cluster takes one of the rows
        # farthest from their centers, which leaves its old cluster.
        for new, (row_x, row_w, old) in zip(
            empty,
            zip(stats.far[2], stats.far[3], stats.far[4], strict=True),
            strict=False,
        ):
            sums[old] -= (row_x - shift) * row_w
            weights[old] -= row_w
            sums[new] = (row_x - shift) * row_w
            weights[new] = row_w
        centers = self._centers.copy()
        nonzero = weights > 0
        centers[nonzero] = shift + sums[nonzero] / weights[nonzero, None]
        self._center_shift = float(((centers - self._centers) ** 2).sum())
        self._strict = self._previous_labels == stats.labels
        self._previous_labels = stats.labels
        if self._tolerance is None:
            variance = stats.features.scatter / max(stats.features.weight, 1)
            self._tolerance = float(np.mean(variance) * self.tol)
        self._centers = centers

    def _has_converged(self, change):
        return self._strict or self._center_shift <= self._tolerance

    def _get_parameters(self):
        return self._centers.copy()

    def _set_parameters(self, params):
        self._centers = params.copy()
        self.cluster_centers_ = params.copy()

    def _publish_update(self):
        super()._publish_update()
        # The labels and inertia of a fit's rows do not hold for the new
        # centers; as MiniBatchKMeans.partial_fit, none are kept.
        for attr in ("labels_", "inertia_"):
            self.__dict__.pop(attr, None)

    # -- fitting and prediction -----------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X, y=None, sample_weight=None, *, batch_size=None, batches_per_epoch=None
    ):
        """Run Lloyd iterations over ``X``, then label its rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call.
        batches_per_epoch : int, default=None
            Batches per iteration for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if not isinstance(self.init, str) and self.n_init not in ("auto", 1):
            warnings.warn(
                "Explicit initial center position passed: performing only one "
                f"init in {type(self).__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=2,
            )
        with self._transaction():
            self._fit_iterations(X, None, sample_weight, batch_size, batches_per_epoch)
            source = self._source(
                X, None, sample_weight, reset=False, batch_size=batch_size
            )
            self.labels_, self.inertia_ = self._label_rows(source)
        return self

    def _label_rows(self, source):
        """Labels of all rows and the inertia, in one more pass."""
        centers, shift = self.cluster_centers_, _origin_for(self.cluster_centers_)
        labels = np.empty(source.n_samples, dtype=np.int32)
        inertia = 0.0

        def assign(batch):
            found = _assign(
                batch.X, batch.sample_weight, centers, shift, batch.workspace
            )
            return found[0], found[3]

        for batch, (batch_labels, batch_inertia) in self._engine().map(
            source, range(source.n_batches), assign, desc="labels"
        ):
            labels[batch.start : batch.stop] = batch_labels
            inertia += batch_inertia
        return labels, float(inertia)

    def predict(self, X):
        """The nearest center of every row, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels.
        """
        check_is_fitted(self)
        centers, shift = self.cluster_centers_, _origin_for(self.cluster_centers_)
        return self._map_rows(
            X, lambda b: _assign(b.X, None, centers, shift, b.workspace)[0]
        ).astype(np.int32)

    def transform(self, X):
        """Euclidean distances of every row to every center, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_clusters)
        """
        check_is_fitted(self)
        centers = self.cluster_centers_

        def distances(batch):
            diff = batch.X[:, None, :] - centers[None, :, :]
            return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))

        return self._map_rows(X, distances, desc="transform")

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the inertia of ``X`` with the fitted centers, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        float
        """
        check_is_fitted(self)
        source = self._source(X, None, sample_weight, reset=False)
        return -self._label_rows(source)[1]

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return ``labels_``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]
