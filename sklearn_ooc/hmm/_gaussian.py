"""Hidden Markov model with Gaussian emissions, by exact out-of-core Baum-Welch."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import diag_log_prob, hmm_diag_sums
from .._stats import Moments, diagonal_moments_of_rows, moments_of_rows
from ._base import BaseHMM

COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))

_LOG_2PI = np.log(2 * np.pi)

# Digits the scatter of a batch may lose to being taken about the current
# means before the batch is summed again about its own means, state by state.
_MAX_LOST_DIGITS = 4.0


def _validate_covars(covars, covariance_type, n_components):
    """hmmlearn's checks of the covariance parameters, with its messages."""
    if covariance_type == "spherical":
        if len(covars) != n_components:
            raise ValueError("'spherical' covars have length n_components")
        if np.any(covars <= 0):
            raise ValueError("'spherical' covars must be positive")
    elif covariance_type == "tied":
        if covars.ndim != 2 or covars.shape[0] != covars.shape[1]:
            raise ValueError("'tied' covars must have shape (n_dim, n_dim)")
        if not np.allclose(covars, covars.T) or np.any(linalg.eigvalsh(covars) <= 0):
            raise ValueError("'tied' covars must be symmetric, positive-definite")
    elif covariance_type == "diag":
        if covars.ndim != 2:
            raise ValueError("'diag' covars must have shape (n_components, n_dim)")
        if np.any(covars <= 0):
            raise ValueError("'diag' covars must be positive")
    elif covariance_type == "full":
        if covars.ndim != 3 or covars.shape[1] != covars.shape[2]:
            raise ValueError(
                "'full' covars must have shape (n_components, n_dim, n_dim)"
            )
        for n, cv in enumerate(covars):
            if not np.allclose(cv, cv.T) or np.any(linalg.eigvalsh(cv) <= 0):
                raise ValueError(
                    f"component {n} of 'full' covars must be symmetric, "
                    "positive-definite"
                )
    else:
        raise ValueError(
            "covariance_type must be one of 'spherical', 'tied', 'diag', 'full'"
        )


def _fill_covars(covars, covariance_type, n_components, n_features):
    """Covariances as full matrices, ``(n_components, n_features, n_features)``."""
    if covariance_type == "full":
        return covars
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covars])
    if covariance_type == "tied":
        return np.tile(covars, (n_components, 1, 1))
    # Spherical: one variance a state (or, as set by hand, one a feature).
    variances = np.broadcast_to(
        covars.reshape(n_components, -1), (n_components, n_features)
    )
    return np.array([np.diag(v) for v in variances])


def _log_density_diag(X, means, covars):
    """hmmlearn's diagonal Gaussian log-density, by a kernel over the rows."""
    nc, nf = means.shape
    # Avoid 0 log 0 = nan in degenerate covariance case.
    covars = np.maximum(covars, np.finfo(float).tiny)
    log_const = -0.5 * (nf * _LOG_2PI + np.log(covars).sum(axis=-1))
    out = np.empty((X.shape[0], nc))
    diag_log_prob(
        X,
        np.ascontiguousarray(means, dtype=np.float64),
        np.ascontiguousarray(1.0 / np.sqrt(covars)),
        np.ascontiguousarray(log_const),
        out,
    )
    return out


def _log_density_full(X, means, covars, min_covar=1.0e-7):
    """hmmlearn's full Gaussian log-density (Cholesky per state)."""
    nc, nf = means.shape
    out = np.empty((X.shape[0], nc))
    for c, (mu, cv) in enumerate(zip(means, covars, strict=True)):
        try:
            cv_chol = linalg.cholesky(cv, lower=True)
        except linalg.LinAlgError:
            # hmmlearn's retry for a state with too few observations.
            try:
                cv_chol = linalg.cholesky(cv + min_covar * np.eye(nf), lower=True)
            except linalg.LinAlgError:
                raise ValueError(
                    "'covars' must be symmetric, positive-definite"
                ) from None
        cv_log_det = 2 * np.sum(np.log(np.diagonal(cv_chol)))
        cv_sol = linalg.solve_triangular(cv_chol, (X - mu).T, lower=True).T
        out[:, c] = -0.5 * (nf * _LOG_2PI + (cv_sol**2).sum(axis=1) + cv_log_det)
    return out


def _stack(parts):
    """One :class:`Moments` of the states from one per state."""
    return Moments(
        count=parts[0].count,
        weight=np.array([float(p.weight) for p in parts]),
        mean=np.stack([p.mean for p in parts]),
        scatter=np.stack([p.scatter for p in parts]),
        mean_error=np.stack([p.mean_error for p in parts]),
    )


class GaussianHMM(BaseHMM, BaseEstimator):
    """Hidden Markov model with Gaussian emissions, by exact out-of-core EM.

    hmmlearn 0.3.3's ``GaussianHMM`` (same parameters, attributes, priors and
    M-step) for observations on disk. Each Baum-Welch iteration is one pass
    over batches of whole sequences: numba forward-backward kernels (in log
    space, or scaled) give every batch's expected counts -- first states,
    transitions, and the posterior-weighted counts, means and centered
    scatters of every state -- which are merged in batch order (the same
    result for every ``n_jobs``), and hmmlearn's M-step takes the parameters
    from them. From the same parameters the model equals hmmlearn's after
    the same iterations, to rounding.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    covariance_type : {"spherical", "diag", "full", "tied"}, default="diag"
        One variance a state; a diagonal covariance a state; a full
        covariance a state; or one full covariance shared by all states.
    min_covar : float, default=1e-3
        Added to the diagonal of the data's covariance to initialize
        ``covars_``.
    startprob_prior : array-like of shape (n_components,) or float, default=1.0
        Dirichlet prior of ``startprob_``.
    transmat_prior : array-like of shape (n_components, n_components) or \
            float, default=1.0
        Dirichlet prior of every row of ``transmat_``.
    means_prior, means_weight : array-like or float, default=0
        Mean and precision of the Normal prior of ``means_``.
    covars_prior, covars_weight : array-like or float, default=1e-2 and 1
        Prior of the covariances: inverse gamma ("spherical", "diag") or
        inverse Wishart ("full", "tied").
    algorithm : {"viterbi", "map"}, default="viterbi"
        Decoder of :meth:`decode` and :meth:`predict`.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    n_iter : int, default=10
        Maximum number of EM iterations (passes over the data).
    tol : float, default=1e-2
        EM stops when the log-likelihood gains less than ``tol``.
    verbose : bool or int, default=False
        Print a line per iteration (hmmlearn's: iteration, log-likelihood,
        gain); 2 adds a progress bar over the batches.
    params : str, default="stmc"
        Parameters updated by EM: 's' startprob, 't' transmat, 'm' means,
        'c' covars.
    init_params : str, default="stmc"
        Parameters initialized before EM. Those left out start from the
        values set on the model (``model.means_ = ...``), as in hmmlearn.
    implementation : {"log", "scaling"}, default="log"
        Forward-backward in log space, or with scaled probabilities.
    batch_size : int or "auto", default="auto"
        Rows per batch: consecutive sequences are grouped into batches while
        they fit; a longer sequence is cut into segments of ``batch_size``
        rows, whose forward pass runs over them in order and backward pass
        in reverse, recomputing each segment's forward rows from the one row
        kept at its start (two reads of its rows per pass, memory of one
        batch). The result is the same, to rounding.
    n_jobs : int, default=None
        Threads summarizing batches.
    batches_per_epoch : int, default=None
        Batches per EM iteration; ``None`` (exact EM) reads all of them. A
        sequence split across batches belongs to the epoch of its first.
    decay : float in (0.5, 1], default=None
        Minibatch mode only (``batches_per_epoch`` set, and ``partial_fit``):
        ``None`` updates from each epoch's sequences alone; a float keeps a
        running average of the expected counts with step ``(t + 2) **
        -decay`` (stepwise EM).
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data, lengths
        and parameters resumes from it; one of others is refused. See
        :ref:`checkpoints`.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Initial state distribution.
    transmat_ : ndarray of shape (n_components, n_components)
        Transition probabilities between states.
    means_ : ndarray of shape (n_components, n_features)
        Mean of every state.
    covars_ : ndarray of shape (n_components, n_features, n_features)
        Covariance of every state, as full matrices whatever
        ``covariance_type`` (hmmlearn's getter); assign it in the shape of
        ``covariance_type``: ``(n_components,)`` spherical, ``(n_components,
        n_features)`` diag, ``(n_components, n_features, n_features)`` full,
        ``(n_features, n_features)`` tied.
    n_features : int
        Dimension of the observations.
    monitor_ : ConvergenceMonitor
        The log-likelihood of every iteration (``history``) and the number
        of iterations (``iter``).
    n_iter_ : int
        EM iterations run.
    n_samples_seen_ : int
        Observations of the last fit.
    converged_ : bool
        Whether the gain fell below ``tol`` before ``n_iter`` iterations.
    lower_bound_ : float
        Total log-likelihood measured by the last iteration.
    n_features_in_ : int
        Number of features seen during fit.

    Notes
    -----
    Initialization differs from hmmlearn's unless the start is given
    (``init_params=""`` or without the codes of the parameters set). Here
    ``startprob_`` and ``transmat_`` are hmmlearn's Dirichlet draws (the
    same for an int ``random_state``); ``means_`` are the centers of
    :class:`~sklearn_ooc.cluster.OOCKMeans` with ``n_init=10`` and the same
    ``random_state``, whose k-means++ seeds are drawn from a sample of at
    most 100,000 rows, where hmmlearn runs scikit-learn's ``KMeans`` on all
    the rows in memory; ``covars_`` come from the covariance of all the
    rows, computed in one more pass, as hmmlearn's.

    Where hmmlearn goes on with a model it cannot use -- a state from
    which no transition was observed (a zero row of ``transmat_``), a state
    without posterior weight (a mean of 0/0) -- ``fit`` raises a
    ``ValueError`` naming the states and leaves the model as it was.

    hmmlearn updates the covariances from raw second moments; here they are
    taken from centered scatters merged with Chan's formula, equal in exact
    arithmetic and without hmmlearn's cancellation on data far from the
    origin. A spherical model keeps one variance a state (hmmlearn 0.3.3
    keeps one a feature after fitting, all equal, and its ``covars_``
    getter then returns ``n_components * n_features`` matrices).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.hmm import GaussianHMM
    >>> rng = np.random.RandomState(0)
    >>> states = np.repeat([0, 1, 0, 1], 50)
    >>> X = rng.normal(np.where(states == 0, -3.0, 3.0), 1.0)[:, None]
    >>> model = GaussianHMM(n_components=2, init_params="", batch_size=100)
    >>> model.startprob_ = np.array([0.5, 0.5])
    >>> model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> model.means_ = np.array([[-1.0], [1.0]])
    >>> model.covars_ = np.array([[1.0], [1.0]])
    >>> model = model.fit(X, lengths=[100, 100])
    >>> np.round(model.means_.ravel())
    array([-3.,  3.])
    >>> bool((model.predict(X, lengths=[100, 100]) == states).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseHMM._parameter_constraints,
        "covariance_type": [StrOptions(COVARIANCE_TYPES)],
        "min_covar": [Interval(Real, 0, None, closed="left")],
        "means_prior": ["array-like", Real],
        "means_weight": ["array-like", Real],
        "covars_prior": ["array-like", Real],
        "covars_weight": ["array-like", Real],
    }

    _emission_parameters = ("means_", "_covars_")

    def __init__(
        self,
        n_components=1,
        covariance_type="diag",
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        means_prior=0,
        means_weight=0,
        covars_prior=1e-2,
        covars_weight=1,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmc",
        init_params="stmc",
        implementation="log",
        *,
        batch_size="auto",
        n_jobs=None,
        batches_per_epoch=None,
        decay=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.batches_per_epoch = batches_per_epoch
        self.decay = decay
        self.checkpoint = checkpoint

    # -- the parameters -----------------------------------------------------------

    @property
    def covars_(self):
        """Covariances as full matrices (n_components, n_features, n_features)."""
        return _fill_covars(
            self._covars_, self.covariance_type, self.n_components, self.n_features
        )

    @covars_.setter
    def covars_(self, covars):
        covars = np.array(covars, copy=True)
        _validate_covars(covars, self.covariance_type, self.n_components)
        self._covars_ = covars

    @property
    def n_features(self):
        """Dimension of the observations (the width of ``means_``)."""
        if "means_" not in self.__dict__:
            raise AttributeError("n_features is known once means_ is set")
        return np.asarray(self.means_).shape[1]

    def _get_n_fit_scalars_per_param(self):
        nc = self.n_components
        nf = self.n_features if "means_" in self.__dict__ else self.n_features_in_
        return {
            "s": nc - 1,
            "t": nc * (nc - 1),
            "m": nc * nf,
            "c": {
                "spherical": nc,
                "diag": nc * nf,
                "full": nc * nf * (nf + 1) // 2,
                "tied": nf * (nf + 1) // 2,
            }[self.covariance_type],
        }

    def _init_emissions(self, source):
        expected = None if "means_" not in self.__dict__ else self.n_features
        if self._needs_init("m", "means_"):
            from ..cluster import OOCKMeans

            kmeans = OOCKMeans(
                n_clusters=self.n_components,
                n_init=10,
                random_state=self.random_state,
                batch_size=source.batch_size,
                n_jobs=self.n_jobs,
            )
            kmeans.fit(source.X)
            self.means_ = np.asarray(kmeans.cluster_centers_, dtype=np.float64)
        elif expected is not None and expected != source.n_features:
            raise ValueError(
                f"Unexpected number of dimensions, got {source.n_features} but "
                f"expected {expected}"
            )
        if self._needs_init("c", "covars_"):
            moments = self._reduce(
                source,
                desc="init",
                summarize=lambda batch: moments_of_rows(
                    batch.X, workspace=batch.workspace
                ),
            )
            cv = np.atleast_2d(moments.covariance(ddof=1))
            cv = cv + self.min_covar * np.eye(source.n_features)
            k = self.n_components
            self._covars_ = {
                "spherical": lambda: np.full(k, cv.mean()),
                "tied": lambda: cv,
                "diag": lambda: np.tile(np.diag(cv), (k, 1)),
                "full": lambda: np.tile(cv, (k, 1, 1)),
            }[self.covariance_type]()

    def _check_emissions(self):
        self.means_ = np.asarray(self.means_)
        if self.means_.ndim != 2 or self.means_.shape[0] != self.n_components:
            raise ValueError("means_ must have shape (n_components, n_features)")
        if "_covars_" not in self.__dict__:
            raise ValueError("covars_ must be set before the model is used")

    # -- one batch ------------------------------------------------------------------

    def _log_likelihood(self, X):
        means, covars = self.means_, self._covars_
        if self.covariance_type == "diag":
            return _log_density_diag(X, means, covars)
        if self.covariance_type == "spherical":
            nc, nf = means.shape
            if covars.ndim == 1:
                covars = covars[:, np.newaxis]
            return _log_density_diag(X, means, np.broadcast_to(covars, (nc, nf)))
        if self.covariance_type == "tied":
            covars = np.broadcast_to(covars, (means.shape[0],) + covars.shape)
        return _log_density_full(X, means, covars)

    def _emission_stats(self, X, posteriors, workspace):
        if "m" not in self.params and "c" not in self.params:
            return None
        if self.covariance_type in ("spherical", "diag"):
            # About the current means: near the states' means, so the
            # correction to the scatter about them loses next to nothing.
            shifts = np.ascontiguousarray(self.means_, dtype=np.float64)
            if np.isfinite(shifts).all():
                k, d = shifts.shape
                weight, sums, squares = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
                hmm_diag_sums(X, posteriors, shifts, weight, sums, squares)
                moments = Moments.from_shifted_sums(
                    X.shape[0], weight, shifts, sums, squares
                )
                if moments.lost_digits(shifts) <= _MAX_LOST_DIGITS:
                    return moments
            parts = [
                diagonal_moments_of_rows(X, np.ascontiguousarray(posteriors[:, c]))
                for c in range(self.n_components)
            ]
            return _stack(parts)
        parts = [
            moments_of_rows(
                X,
                sample_weight=np.ascontiguousarray(posteriors[:, c]),
                workspace=workspace,
            )
            for c in range(self.n_components)
        ]
        return _stack(parts)

    def _do_mstep_emissions(self, moments, where):
        """hmmlearn's M-step of the means and covariances, from centered moments.

        hmmlearn's statistics are ``post = sum_i p_i``, ``obs = sum_i p_i x_i``
        (both zero when 'm' is not in ``params``: it gathers them only
        then) and ``sum_i p_i x_i x_i^T``; its covariance numerator
        ``sum_i p_i x_i x_i^T - obs mu^T - mu obs^T + post mu mu^T`` is
        ``sum_i p_i (x_i - a)(x_i - a)^T`` with ``a = mu``, or ``a = 0``
        without 'm', which is the scatter about the mean plus ``post (m -
        a)(m - a)^T``.
        """
        means_prior, means_weight = self.means_prior, self.means_weight
        update_means = "m" in self.params
        weight = moments.weight
        post = weight if update_means else np.zeros_like(weight)
        denom = post[:, None]
        if update_means:
            empty = np.flatnonzero(~np.all(means_weight + denom > 0, axis=-1))
            if empty.size:
                raise ValueError(
                    f"State(s) {empty.tolist()} received no posterior weight in "
                    f"{where}: their means are undefined; use fewer states, or "
                    "give means_weight > 0"
                )
            obs = weight[:, None] * moments.mean
            with np.errstate(divide="ignore", invalid="ignore"):
                self.means_ = (means_weight * means_prior + obs) / (
                    means_weight + denom
                )
        if "c" not in self.params:
            return
        covars_prior, covars_weight = self.covars_prior, self.covars_weight
        means = self.means_
        meandiff = means - means_prior
        dev = moments.mean - (means if update_means else 0.0)
        if self.covariance_type in ("spherical", "diag"):
            c_n = (
                means_weight * meandiff**2 + moments.scatter + weight[:, None] * dev**2
            )
            c_d = max(covars_weight - 1, 0) + denom
            covars = (covars_prior + c_n) / np.maximum(c_d, 1e-5)
            if self.covariance_type == "spherical":
                covars = covars.mean(1)
            self._covars_ = covars
        else:
            outer = np.einsum("ck,cl->ckl", meandiff, meandiff)
            c_n = (
                means_weight * outer
                + moments.scatter
                + weight[:, None, None] * np.einsum("ck,cl->ckl", dev, dev)
            )
            cvweight = max(covars_weight - self.n_features, 0)
            if self.covariance_type == "tied":
                self._covars_ = (covars_prior + c_n.sum(axis=0)) / (
                    cvweight + post.sum()
                )
            else:
                self._covars_ = (covars_prior + c_n) / (cvweight + post[:, None, None])

    def _generate_sample_from_state(self, state, random_state):
        return random_state.multivariate_normal(self.means_[state], self.covars_[state])
