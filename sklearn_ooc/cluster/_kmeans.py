"""K-means by exact Lloyd iterations, one pass over the data each."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._kernels import lloyd_rows
from .._out_of_core import register
from .._stats import Moments, diagonal_moments_of_rows
from ..base import CounterpartFeaturesOutMixin, IterativeMixin
from ..mixture._gaussian_mixture import _draw_rows

# Bytes of a chunk of rows (and their products with the centers) whose
# distances come from one GEMM: small enough that the assignment that
# follows reads the rows from L2 cache, not from memory again.
_CHUNK_BYTES = 1 << 20


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


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is ``labels1`` relabeled, as scikit-learn's
    private function of that name decides (each label of ``labels1`` maps
    to one label of ``labels2``)."""
    pairs = np.unique(labels1.astype(np.int64) * n_clusters + labels2)
    return len(pairs) == len(np.unique(pairs // n_clusters))


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
    m = max(1, min(n, _CHUNK_BYTES // (8 * (d + k))))
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
        # The next chunk's rows, brought into cache while this one is summed.
        following = X[rows.stop : rows.stop + m]
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
            following.reshape(-1) if following.flags.c_contiguous else None,
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


@register(KMeans)
class OOCKMeans(
    CounterpartFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    IterativeMixin,
    BaseEstimator,
):
    """K-means clustering by exact Lloyd iterations over data on disk.

    Each iteration is one pass: the rows are assigned to their nearest center
    and summed per cluster (counts and sums are the sufficient statistics),
    and the centers move to the means; empty clusters are reseeded with the
    rows farthest from their centers (of equal distances the earlier rows,
    where scikit-learn's partial sort may take others), and convergence is
    strict (no label changed) or a center shift within ``tol`` times the
    mean variance of the features, as in :class:`sklearn.cluster.KMeans` with
    ``algorithm="lloyd"``. From the same initial centers the labels are the
    same and the centers equal to rounding. With ``batches_per_epoch`` each
    iteration reads the next batches only (mini-batch k-means).

    With ``n_init`` runs, the run kept is scikit-learn's: each run ends with
    one more pass, the labels and inertia of its final centers, and a later
    run wins with a lower inertia and another clustering (the best run's
    labels are held, ``n_samples`` of them, as scikit-learn holds them).

    Parameters
    ----------
    n_clusters : int, default=8
        Clusters.
    init : {'k-means++', 'random', 'first-k'}, callable or array-like of \
            shape (n_clusters, n_features), default='k-means++'
        Initial centers: k-means++ on a uniform random sample of
        ``init_size`` rows drawn across the whole source (all rows when
        there are no more than ``init_size``, as scikit-learn); random rows,
        drawn as scikit-learn draws them (weighted; the draw holds
        ``n_samples`` floats, as ``labels_`` holds ``n_samples`` labels),
        or, beyond 10 million unweighted rows, uniformly without that array;
        the first rows (ours only); given centers (rounded to the dtype of
        ``X``, as scikit-learn does); or a callable, called as scikit-learn
        calls it, ``init(X_init, n_clusters, random_state=random_state)``,
        whose result must be of shape ``(n_clusters, n_features)``. Out of
        core, ``X_init`` is the sample k-means++ would use rather than all
        of ``X`` (all of it when it has no more than ``init_size`` rows), a
        CSR matrix for sparse data; as in scikit-learn, dense rows are
        passed centered on the mean of the whole data (one more pass) and
        the returned centers are taken in those coordinates.
    n_init : 'auto' or int, default='auto'
        Runs from different initial centers; the one of lowest inertia is
        kept. ``'auto'``: 10 for 'random' and callables, else 1
        (scikit-learn's rule).
    max_iter : int, default=300
        Lloyd iterations at most.
    tol : float, default=1e-4
        Relative tolerance of the center shift: the squared shift of the
        centers within ``tol`` times the mean variance of the features
        stops the run (the variances come from the first pass).
    verbose : int, default=0
        1 prints scikit-learn's lines ("Initialization complete",
        "Iteration i, inertia ...", the reason of convergence) with ours;
        2 adds a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    copy_x : bool, default=True
        Accepted for scikit-learn's API. Batches are read, never written:
        ``X`` is left untouched whatever the value, so ``False`` saves no
        memory here.
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        scikit-learn's choice of the exact algorithm. Elkan's bounds reach
        Lloyd's centers and labels, but keep an ``n_samples x n_clusters``
        array between passes; out of core both run the same streamed Lloyd
        iterations, hence the same result. As scikit-learn, "elkan" with
        one cluster warns.
    init_size : int, default=None
        Rows sampled for 'k-means++' and callables; ``min(n_samples,
        100_000)`` if ``None``.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    batches_per_epoch : int, default=None
        Batches per iteration; ``None`` reads them all (exact Lloyd).
    decay : float in (0.5, 1], default=None
        Mini-batch mode: a running average of the statistics (see
        :class:`~sklearn_ooc.mixture.OOCGaussianMixture`).
    n_jobs : int, default=None
        Threads summarizing batches.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centers, of the dtype of ``X`` (float32 or float64) as in
        scikit-learn; they are computed in float64 whatever the input.
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
        "init": [
            StrOptions({"k-means++", "random", "first-k"}),
            callable,
            "array-like",
        ],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
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
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
        init_size=None,
        batch_size="auto",
        batches_per_epoch=None,
        decay=None,
        n_jobs=None,
        checkpoint=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.init_size = init_size
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.decay = decay
        self.n_jobs = n_jobs
        self.checkpoint = checkpoint

    # scikit-learn's KMeans stops at max_iter without a warning.
    _not_converged = None

    def _runs(self):
        if not isinstance(self.init, str) and not callable(self.init):
            return 1
        if self.n_init != "auto":
            return self.n_init
        return 1 if self.init in ("k-means++", "first-k") else 10

    def _check_source(self, source):
        if source.n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={source.n_samples} should be >= "
                f"n_clusters={self.n_clusters}."
            )
        # scikit-learn's dtype=[np.float64, np.float32]: float32 stays.
        self._fit_dtype = (
            np.dtype(np.float32)
            if np.dtype(source.X.dtype) == np.float32
            else np.dtype(np.float64)
        )
        self._data_mean = None
        # (inertia, labels) of the best finished run, as scikit-learn keeps.
        self._best = None

    def _validate_center_shape(self, n_features, centers):
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != n_features:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {n_features}."
            )

    # -- initialization -------------------------------------------------------

    def _init_sample(self, source, random_state):
        """Rows (sorted) of the k-means++ and callable initializations."""
        size = min(source.n_samples, self.init_size or 100_000)
        if size == source.n_samples:
            return np.arange(size)
        return np.sort(_draw_rows(random_state, source.n_samples, size))

    def _mean_of(self, source):
        """The column means of the data (one pass, once a fit), with which
        scikit-learn centers dense data before calling a callable ``init``."""
        if self._data_mean is None:
            moments = self._reduce(
                source, summarize=lambda b: diagonal_moments_of_rows(b.X), desc="mean"
            )
            self._data_mean = moments.mean + moments.mean_error
        return self._data_mean

    def _initialize(self, source, random_state):
        k = self.n_clusters
        init = self.init
        dtype = self._fit_dtype
        if callable(init):
            rows = self._init_sample(source, random_state)
            sample = np.asarray(source.take(rows), dtype=dtype)
            # scikit-learn centers dense data (not sparse) before the call and
            # reads the centers returned in the centered coordinates.
            if sp.issparse(source.X):
                mean, sample = None, sp.csr_matrix(sample)
            else:
                mean = self._mean_of(source)
                sample = (sample - mean).astype(dtype)
            centers = init(sample, k, random_state=random_state)
            centers = check_array(centers, dtype=dtype, copy=False, order="C")
            self._validate_center_shape(source.n_features, centers)
            centers = centers.astype(np.float64)
            if mean is not None:
                centers += mean
        elif not isinstance(init, str):
            # Rounded to the dtype of X, as scikit-learn's check_array does.
            centers = check_array(init, dtype=dtype, copy=True, order="C")
            self._validate_center_shape(source.n_features, centers)
        elif init == "first-k":
            centers = source.take(np.arange(k))
        elif init == "random":
            n = source.n_samples
            if source.sample_weight is None and n > 10_000_000:
                rows = _draw_rows(random_state, n, k)
            else:
                # scikit-learn's draw, weighted, exactly (n floats in memory).
                weights = (
                    np.ones(n, dtype=dtype)
                    if source.sample_weight is None
                    else source.weights_of(np.arange(n)).astype(dtype)
                )
                if not weights.sum() > 0:
                    raise ValueError(
                        "Sample weights must contain at least one non-zero number"
                    )
                rows = random_state.choice(
                    n, size=k, replace=False, p=weights / weights.sum()
                )
            centers = source.take(rows)
        else:
            rows = self._init_sample(source, random_state)
            weights = source.weights_of(rows)
            if not weights.sum() > 0:
                raise ValueError(
                    "Sample weights must contain at least one non-zero number"
                )
            sample = source.take(rows)
            # scikit-learn seeds on dense rows centered on their mean (here
            # the sample's: the data's when the sample is all of it), where
            # the distances keep their digits; the centers are the rows.
            centered = (
                sample
                if sp.issparse(source.X)
                else sample - sample.mean(axis=0, dtype=sample.dtype)
            )
            _, chosen = kmeans_plusplus(
                centered, k, sample_weight=weights, random_state=random_state
            )
            centers = sample[chosen]
        if self.verbose:
            self._engine().log("Initialization complete")
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
        self._pass_inertia = float(stats.inertia)
        return -stats.inertia / stats.count

    def _from_summaries(self, stats):
        if not stats.weights.sum() > 0:
            raise ValueError("Sample weights must contain at least one non-zero number")
        sums = stats.sums.copy()
        weights = stats.weights.copy()
        shift = self._shift
        empty = np.flatnonzero(weights == 0)
        # scikit-learn's reseeding: each empty cluster takes one of the rows
        # farthest from their centers, which leaves its old cluster; none
        # when every row sits on its center (more clusters than distinct
        # rows).
        far_enough = len(stats.far[0]) and stats.far[0][0] > 0
        for new, (row_x, row_w, old) in zip(
            empty if far_enough else (),
            zip(stats.far[2], stats.far[3], stats.far[4], strict=True),
            strict=False,
        ):
            sums[old] -= (row_x - shift) * row_w
            weights[old] -= row_w
            sums[new] = (row_x - shift) * row_w
            weights[new] = row_w
        nonzero = weights > 0
        centers = np.empty_like(self._centers)
        centers[nonzero] = shift + sums[nonzero] / weights[nonzero, None]
        # Clusters still empty go where scikit-learn's _average_centers puts
        # them: onto the heaviest cluster, whose row it copies in place while
        # averaging, i.e. its sum when that cluster comes later.
        heaviest = int(np.argmax(weights))
        for j in np.flatnonzero(~nonzero):
            centers[j] = (
                centers[heaviest]
                if heaviest < j
                else shift * weights[heaviest] + sums[heaviest]
            )
        self._center_shift = float(((centers - self._centers) ** 2).sum())
        self._strict = self._previous_labels == stats.labels
        self._previous_labels = stats.labels
        if self._tolerance is None:
            variance = stats.features.scatter / max(stats.features.weight, 1)
            self._tolerance = float(np.mean(variance) * self.tol)
        self._centers = centers

    def _has_converged(self, change):
        return self._strict or self._center_shift <= self._tolerance

    def _iterate(self, source, plan, engine, random_state, do_init, resume, save):
        run = super()._iterate(
            source, plan, engine, random_state, do_init, resume, save
        )
        if plan.epoch_length < plan.n_batches:
            return run
        # scikit-learn's choice among runs: the inertia and labels of the
        # final centers (one more pass); a run wins with a lower inertia and
        # another clustering. Its bound says so to the loop of IterativeMixin.
        labels, inertia = self._label_rows(source, run.params)
        n = source.n_samples
        if self._best is None:
            bound = -inertia / n
        elif inertia < self._best[0] and not _is_same_clustering(
            labels, self._best[1], self.n_clusters
        ):
            bound = max(-inertia / n, np.nextafter(-self._best[0] / n, np.inf))
        else:
            return dataclasses.replace(run, lower_bound=-self._best[0] / n)
        self._best = (inertia, labels)
        return dataclasses.replace(run, lower_bound=bound)

    def _report(self, engine, n_iter, lower_bound, change, rows, seconds):
        # scikit-learn's lines (iterations counted from 0).
        if not self.verbose:
            return
        i = n_iter - 1
        engine.log(f"Iteration {i}, inertia {self._pass_inertia}.")
        if self._strict:
            engine.log(f"Converged at iteration {i}: strict convergence.")
        elif self._center_shift <= self._tolerance:
            engine.log(
                f"Converged at iteration {i}: center shift {self._center_shift} "
                f"within tolerance {self._tolerance}."
            )

    def _report_total(self, engine, improvement):
        # The objective is the negated inertia: its rise is the inertia's fall.
        engine.log(f"Inertia fell by {improvement:.6g} in all")

    def _get_parameters(self):
        return self._centers.copy()

    def _set_parameters(self, params):
        self._centers = params.copy()
        self.cluster_centers_ = params.astype(
            getattr(self, "_fit_dtype", np.float64), copy=True
        )

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
        explicit = not isinstance(self.init, str) and not callable(self.init)
        if explicit and self.n_init not in ("auto", 1):
            warnings.warn(
                "Explicit initial center position passed: performing only one "
                f"init in {type(self).__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
                stacklevel=2,
            )
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. "
                "Using 'lloyd' instead.",
                RuntimeWarning,
                stacklevel=2,
            )
        with self._transaction():
            self._fit_iterations(X, None, sample_weight, batch_size, batches_per_epoch)
            self.__dict__.pop("_data_mean", None)
            best = self.__dict__.pop("_best", None)
            if best is None:
                # Mini-batch mode: the labels of the final centers.
                source = self._source(
                    X, None, sample_weight, reset=False, batch_size=batch_size
                )
                best = self._label_rows(source, self._centers)[::-1]
            self.inertia_, self.labels_ = best
            # The objective of the best run's last pass (the loop's bound is
            # the inertia of its final centers, to choose as scikit-learn).
            if self.lower_bounds_:
                self.lower_bound_ = self.lower_bounds_[-1]
        distinct = np.count_nonzero(
            np.bincount(self.labels_, minlength=self.n_clusters)
        )
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate "
                "points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _label_rows(self, source, centers=None):
        """Labels of all rows and the inertia, in one more pass."""
        if centers is None:
            centers = np.asarray(self.cluster_centers_, dtype=np.float64)
        shift = _origin_for(centers)
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
        centers = np.asarray(self.cluster_centers_, dtype=np.float64)
        shift = _origin_for(centers)
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
            Of float32 for float32 rows, else float64 (as scikit-learn).
        """
        check_is_fitted(self)
        centers = np.asarray(self.cluster_centers_, dtype=np.float64)

        def distances(batch):
            diff = batch.X[:, None, :] - centers[None, :, :]
            out = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
            return out.astype(np.result_type(batch.X.dtype, np.float32))

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
