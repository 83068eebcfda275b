"""A mixture of any distributions, fitted by exact out-of-core EM."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..base import IterativeMixin
from ..distributions import Distribution, MultivariateNormal
from ._gaussian_mixture import _draw_rows


@dataclass
class _MixtureSums:
    """Per-component statistics of a pass and the sum of log-likelihoods."""

    count: int
    log_likelihood: float
    parts: tuple

    def scaled(self, factor):
        return _MixtureSums(
            self.count,
            self.log_likelihood * factor,
            tuple(p.scaled(factor) for p in self.parts),
        )

    def __add__(self, other):
        return _MixtureSums(
            self.count + other.count,
            self.log_likelihood + other.log_likelihood,
            tuple(a + b for a, b in zip(self.parts, other.parts, strict=True)),
        )


def _weight_of(stats):
    """Total weight of a component's statistics (of any kind)."""
    while hasattr(stats, "parts"):
        stats = stats.parts[0]
    return float(np.sum(stats.weight))


class OOCMixture(IterativeMixin, DensityMixin, BaseEstimator):
    """A mixture of any :mod:`sklearn_ooc.distributions`, by exact EM.

    pomegranate's ``GeneralMixtureModel``: each EM iteration is one pass over
    the batches, summarizing every component's responsibility-weighted
    statistics; the components then take their maximum-likelihood
    parameters from the merged statistics. A mixture of
    :class:`~sklearn_ooc.distributions.MultivariateNormal` components equals
    :class:`OOCGaussianMixture` from the same start.

    Parameters
    ----------
    distributions : list of Distribution, default=None
        The components (copied by ``fit``). Components with all their
        parameters set start from them; otherwise the initialization fits
        them. ``None`` means ``n_components`` multivariate normals with
        ``min_cov=1e-6`` (``reg_covar`` of a Gaussian mixture).
    n_components : int, default=2
        Components when ``distributions`` is ``None``.
    weights_init : array-like of shape (n_components,), default=None
        Initial weights (uniform with given components).
    init_params : {'kmeans', 'random'}, default='kmeans'
        Initial responsibilities: k-means on a sample of ``init_size`` rows
        drawn across the source, then each row to its nearest center; or
        random.
    init_size : int, default=None
        Rows sampled for k-means; ``min(n_samples, 100_000)`` if ``None``.
    tol : float, default=1e-3
        Convergence threshold on the mean log-likelihood of a row.
    max_iter : int, default=100
        EM iterations (passes) at most.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution.
    verbose : int, default=0
        1 prints a line per iteration; 2 adds a progress bar.
    verbose_interval : int, default=1
        Iterations between verbose lines.
    decay : float in (0.5, 1], default=None
        Minibatch mode: a running average of the statistics.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    batches_per_epoch : int, default=None
        Batches per iteration; ``None`` for exact EM.
    n_jobs : int, default=None
        Threads summarizing batches.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    distributions_ : list of Distribution
        The fitted components.
    weights_ : ndarray of shape (n_components,)
        Their weights.
    converged_ : bool
        Whether EM converged.
    n_iter_ : int
        EM iterations run.
    lower_bound_ : float
        Mean log-likelihood of a row at the last iteration.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.distributions import Exponential
    >>> from sklearn_ooc.mixture import OOCMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.exponential(1.0, 3000), rng.exponential(20.0, 1000)])
    >>> mixture = OOCMixture([Exponential(rate=2.0), Exponential(rate=0.01)],
    ...                      max_iter=200, tol=1e-8, batch_size=500).fit(X[:, None])
    >>> means = sorted(1 / d.rate for d in mixture.distributions_)
    >>> bool(0.9 < means[0] < 1.1 and 18 < means[1] < 23)
    True
    """

    _parameter_constraints: dict = {
        "distributions": [list, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "weights_init": ["array-like", None],
        "init_params": [StrOptions({"kmeans", "random"})],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "decay": [Interval(Real, 0.5, 1.0, closed="right"), None],
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    n_init = 1
    _accept_sparse = False

    def __init__(
        self,
        distributions=None,
        *,
        n_components=2,
        weights_init=None,
        init_params="kmeans",
        init_size=None,
        tol=1e-3,
        max_iter=100,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=1,
        decay=None,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        checkpoint=None,
    ):
        self.distributions = distributions
        self.n_components = n_components
        self.weights_init = weights_init
        self.init_params = init_params
        self.init_size = init_size
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.decay = decay
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.checkpoint = checkpoint

    def _templates(self):
        if self.distributions is None:
            return [MultivariateNormal(min_cov=1e-6) for _ in range(self.n_components)]
        for d in self.distributions:
            if not isinstance(d, Distribution):
                raise ValueError(
                    f"distributions must hold sklearn_ooc distributions, got {d!r}"
                )
        return [copy.deepcopy(d) for d in self.distributions]

    def _check_source(self, source):
        k = len(self.distributions or range(self.n_components))
        if source.n_samples < max(2, k):
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {k}, "
                f"n_samples = {source.n_samples}"
            )

    # -- initialization -------------------------------------------------------

    def _initialize(self, source, random_state):
        components = self._templates()
        k = len(components)
        if self.weights_init is not None:
            weights = np.asarray(self.weights_init, dtype=np.float64)
            if weights.shape != (k,) or not np.isclose(weights.sum(), 1.0):
                raise ValueError(
                    f"weights_init must be {k} non-negative weights summing to 1"
                )
        else:
            weights = np.full(k, 1.0 / k)
        if not all(c.fitted for c in components):
            resp_of = self._initial_responsibilities(source, random_state, k)

            def summarize(batch):
                resp = resp_of(batch)
                X = batch.X.astype(np.float64)
                return _MixtureSums(
                    batch.n_samples,
                    0.0,
                    tuple(c._stats(X, resp[:, j]) for j, c in enumerate(components)),
                )

            engine = self._engine()
            if self.init_params == "random":
                engine.n_jobs, engine.distributed = 1, False
            stats = engine.reduce(
                source, range(source.n_batches), summarize, desc="init"
            )
            totals = np.array([_weight_of(p) for p in stats.parts])
            parts = list(stats.parts)
            empty = [
                j
                for j, component in enumerate(components)
                if not component.fitted and not totals[j] > 0
            ]
            if empty:
                # Identical rows give fewer distinct k-means centers than
                # components: a component with no rows has no statistics to
                # take parameters from (its update would divide by a zero
                # weight). It takes those of all the rows instead, in one more
                # pass, and keeps its zero weight, as EM then leaves it (see
                # _from_summaries).
                def summarize_all(batch):
                    X = batch.X.astype(np.float64)
                    ones = np.ones(batch.n_samples)
                    return _MixtureSums(
                        batch.n_samples,
                        0.0,
                        tuple(components[j]._stats(X, ones) for j in empty),
                    )

                pooled = engine.reduce(
                    source, range(source.n_batches), summarize_all, desc="init"
                )
                for j, part in zip(empty, pooled.parts, strict=True):
                    parts[j] = part
            for component, part in zip(components, parts, strict=True):
                if not component.fitted:
                    component._update(part)
            if self.weights_init is None:
                weights = totals / totals.sum()
        self.distributions_ = components
        self.weights_ = weights

    def _initial_responsibilities(self, source, random_state, k):
        if self.init_params == "random":

            def random_resp(batch):
                resp = random_state.uniform(size=(batch.n_samples, k))
                return resp / resp.sum(axis=1, keepdims=True)

            return random_resp
        size = min(source.n_samples, self.init_size or 100_000)
        rows = (
            np.arange(size)
            if size == source.n_samples
            else np.sort(_draw_rows(random_state, source.n_samples, size))
        )
        centers = (
            KMeans(k, n_init=1, random_state=random_state)
            .fit(source.take(rows))
            .cluster_centers_
        )

        def hard(batch):
            X = batch.X.astype(np.float64)
            labels = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
            return (labels[:, None] == np.arange(k)).astype(np.float64)

        return hard

    # -- EM -------------------------------------------------------------------

    def _log_weighted(self, X):
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights_)
        return np.column_stack([c._log_prob(X) for c in self.distributions_]) + log_w

    def _summarize(self, batch):
        X = batch.X.astype(np.float64)
        log_prob = self._log_weighted(X)
        norm = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - norm[:, None])
        return _MixtureSums(
            batch.n_samples,
            float(norm.sum()),
            tuple(c._stats(X, resp[:, j]) for j, c in enumerate(self.distributions_)),
        )

    def _objective(self, stats):
        return stats.log_likelihood / stats.count

    def _from_summaries(self, stats):
        components = [copy.deepcopy(c) for c in self.distributions_]
        totals = np.array([_weight_of(p) for p in stats.parts])
        for component, part, total in zip(components, stats.parts, totals, strict=True):
            if total > 0:
                component._update(part)
        self.distributions_ = components
        self.weights_ = totals / totals.sum()

    def _get_parameters(self):
        return copy.deepcopy((self.weights_, self.distributions_))

    def _set_parameters(self, params):
        self.weights_, self.distributions_ = copy.deepcopy(params)

    # -- prediction -----------------------------------------------------------

    def score_samples(self, X):
        """Log-likelihood of every row, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._map_rows(X, lambda b: logsumexp(self._log_weighted(b.X), axis=1))

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X):
        """Responsibilities of the components for every row, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)

        def proba(batch):
            log_prob = self._log_weighted(batch.X)
            return np.exp(log_prob - logsumexp(log_prob, axis=1)[:, None])

        return self._map_rows(X, proba)

    def predict(self, X):
        """Most likely component of every row, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self._map_rows(X, lambda b: self._log_weighted(b.X).argmax(axis=1))
