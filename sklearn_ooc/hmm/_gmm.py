"""Hidden Markov model with Gaussian mixture emissions, by exact out-of-core
Baum-Welch."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._stats import diagonal_moments_of_rows, moments_of_rows
from ._base import BaseHMM
from ._gaussian import (
    COVARIANCE_TYPES,
    _log_density_diag,
    _log_density_full,
    _stack,
)

# Rows of the sample the k-means of the initialization run on.
_INIT_ROWS = 100_000


def _outer(x):
    return x[..., :, None] * x[..., None, :]


class GMMHMM(BaseHMM, BaseEstimator):
    """Hidden Markov model with Gaussian mixture emissions, fitted by exact
    Baum-Welch over data read one batch at a time.

    hmmlearn's ``GMMHMM``: each state emits from a mixture of ``n_mix``
    Gaussians. Each iteration is one pass over the batches: the
    forward-backward recursions of :class:`GaussianHMM` give the states'
    posteriors, and the mixture components' posteriors within each state
    weight the rows' moments (counts, means and scatters, merged stably);
    hmmlearn's M-step, with its priors, is computed from them. Started from
    the same parameters, a fit equals hmmlearn's after the same iterations,
    whatever the batches, and a sequence longer than a batch is split
    exactly.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    n_mix : int, default=1
        Number of Gaussians in each state's mixture.
    min_covar : float, default=1e-3
        Added to the diagonal of the data's covariance when the covariances
        are initialized.
    startprob_prior : array-like of shape (n_components,), default=1.0
        Dirichlet prior of ``startprob_``.
    transmat_prior : array-like of shape (n_components, n_components), \
            default=1.0
        Dirichlet prior of each row of ``transmat_``.
    weights_prior : array-like of shape (n_components, n_mix), default=1.0
        Dirichlet prior of ``weights_``.
    means_prior, means_weight : array-like, default=0.0
        Mean and precision of the Normal prior of ``means_``.
    covars_prior, covars_weight : array-like, default=None
        Parameters of the prior of ``covars_`` (inverse gamma for 'diag' and
        'spherical', inverse Wishart otherwise); ``None`` takes hmmlearn's
        defaults for ``covariance_type``.
    algorithm : {"viterbi", "map"}, default="viterbi"
        Decoder algorithm.
    covariance_type : {"spherical", "diag", "full", "tied"}, default="diag"
        The form of the covariances; "tied": the components of a state share
        one full covariance.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization.
    n_iter : int, default=10
        Maximum number of iterations.
    tol : float, default=1e-2
        The iterations stop when the log-likelihood gains less than this.
    verbose : bool, default=False
        Per-iteration lines.
    params, init_params : str, default="stmcw"
        The parameters updated (``params``) or initialized (``init_params``):
        's' startprob, 't' transmat, 'm' means, 'c' covars, 'w' weights.
    implementation : {"log", "scaling"}, default="log"
        The forward-backward recursions' arithmetic.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches of whole sequences; the result is
        bitwise the same for every value.
    batches_per_epoch : int, default=None
        Minibatch EM: batches of whole sequences per iteration.
    decay : float, default=None
        Stepwise EM: the running average's exponent.
    checkpoint : str or os.PathLike, default=None
        A file the fit saves its state to after every iteration, and resumes
        from.

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
        Initial state occupation distribution.
    transmat_ : ndarray of shape (n_components, n_components)
        Transition probabilities.
    weights_ : ndarray of shape (n_components, n_mix)
        The mixture weights of each state.
    means_ : ndarray of shape (n_components, n_mix, n_features)
        The mixture components' means.
    covars_ : ndarray
        The covariances: (n_components, n_mix) 'spherical', (n_components,
        n_mix, n_features) 'diag', (n_components, n_mix, n_features,
        n_features) 'full', (n_components, n_features, n_features) 'tied'.
    monitor_ : ConvergenceMonitor
        The log-likelihood history, as hmmlearn's.
    n_features : int
        Dimension of the observations.

    See Also
    --------
    GaussianHMM : One Gaussian a state.

    Notes
    -----
    The initialization runs hmmlearn's k-means (states, then each state's
    mixture) on a uniform sample of at most 100,000 rows, the whole data
    when it is smaller; a state's cluster with fewer rows than ``n_mix``
    draws its means from ``random_state``, where hmmlearn draws from
    NumPy's global generator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.hmm import GMMHMM
    >>> rng = np.random.RandomState(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (100, 1)), rng.normal(5, 1, (100, 1))])
    >>> model = GMMHMM(n_components=2, n_mix=2, random_state=0, batch_size=64)
    >>> model = model.fit(X, lengths=[200])
    >>> np.sort(model.means_.mean(axis=1).ravel()).round()
    array([-5.,  5.])
    """

    _parameter_constraints: dict = {
        **BaseHMM._parameter_constraints,
        "n_mix": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(COVARIANCE_TYPES)],
        "min_covar": [Interval(Real, 0, None, closed="left")],
        "weights_prior": ["array-like", Real],
        "means_prior": ["array-like", Real],
        "means_weight": ["array-like", Real],
        "covars_prior": ["array-like", Real, None],
        "covars_weight": ["array-like", Real, None],
    }

    _emission_parameters = ("weights_", "means_", "covars_")

    def __init__(
        self,
        n_components=1,
        n_mix=1,
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        weights_prior=1.0,
        means_prior=0.0,
        means_weight=0.0,
        covars_prior=None,
        covars_weight=None,
        algorithm="viterbi",
        covariance_type="diag",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmcw",
        init_params="stmcw",
        implementation="log",
        *,
        batch_size="auto",
        n_jobs=None,
        batches_per_epoch=None,
        decay=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.n_mix = n_mix
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.covariance_type = covariance_type
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

    @property
    def n_features(self):
        """Dimension of the observations (the width of ``means_``)."""
        if "means_" not in self.__dict__:
            raise AttributeError("n_features is known once means_ is set")
        return np.asarray(self.means_).shape[2]

    def _priors(self):
        """hmmlearn's priors, defaults filled in and broadcast to the shapes
        of the parameters (the constructor's values are left as given)."""
        nc, nm, nf = self.n_components, self.n_mix, self.n_features
        ctype = self.covariance_type
        prior, weight = self.covars_prior, self.covars_weight
        defaults = {
            "full": (0.0, -(1.0 + nf + 1.0)),
            "tied": (0.0, -(nm + nf + 1.0)),
            "diag": (-1.5, 0.0),
            "spherical": (-(nm + 2.0) / 2.0, 0.0),
        }[ctype]
        prior = defaults[0] if prior is None else prior
        weight = defaults[1] if weight is None else weight
        shapes = {
            "full": ((nc, nm, nf, nf), (nc, nm)),
            "tied": ((nc, nf, nf), (nc,)),
            "diag": ((nc, nm, nf), (nc, nm, nf)),
            "spherical": ((nc, nm), (nc, nm)),
        }[ctype]
        return (
            np.broadcast_to(self.weights_prior, (nc, nm)).astype(np.float64),
            np.broadcast_to(self.means_prior, (nc, nm, nf)).astype(np.float64),
            np.broadcast_to(self.means_weight, (nc, nm)).astype(np.float64),
            np.broadcast_to(prior, shapes[0]).astype(np.float64),
            np.broadcast_to(weight, shapes[1]).astype(np.float64),
        )

    def _get_n_fit_scalars_per_param(self):
        nc, nm = self.n_components, self.n_mix
        nf = self.n_features if "means_" in self.__dict__ else self.n_features_in_
        return {
            "s": nc - 1,
            "t": nc * (nc - 1),
            "m": nc * nm * nf,
            "c": {
                "spherical": nc * nm,
                "diag": nc * nm * nf,
                "full": nc * nm * nf * (nf + 1) // 2,
                "tied": nc * nf * (nf + 1) // 2,
            }[self.covariance_type],
            "w": nm - 1,
        }

    # -- initialization -------------------------------------------------------------

    def _init_emissions(self, source):
        nc, nm, nf = self.n_components, self.n_mix, source.n_features
        random_state = check_random_state(self.random_state)
        size = min(source.n_samples, _INIT_ROWS)
        if size == source.n_samples:
            rows = np.arange(size)
        else:
            rows = np.sort(random_state.choice(source.n_samples, size, replace=False))
        sample = np.asarray(source.take(rows), dtype=np.float64)
        data = self._reduce(
            source,
            desc="init",
            summarize=lambda b: moments_of_rows(b.X, workspace=b.workspace),
        )
        cv = np.atleast_2d(data.covariance(ddof=1)) + self.min_covar * np.eye(nf)
        main = KMeans(n_clusters=nc, random_state=self.random_state, n_init=10)
        labels = main.fit_predict(sample)
        centroid = np.mean(main.cluster_centers_, axis=0)
        means = []
        for label in range(nc):
            cluster = sample[labels == label]
            if cluster.shape[0] >= nm:
                kmeans = KMeans(
                    n_clusters=nm, random_state=self.random_state, n_init=10
                )
                means.append(kmeans.fit(cluster).cluster_centers_)
            else:
                means.append(random_state.multivariate_normal(centroid, cv, size=nm))
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((nc, nm), 1.0 / nm)
        if self._needs_init("m", "means_"):
            self.means_ = np.stack(means)
        if self._needs_init("c", "covars_"):
            self.covars_ = {
                "tied": lambda: np.tile(cv, (nc, 1, 1)),
                "full": lambda: np.tile(cv, (nc, nm, 1, 1)),
                "diag": lambda: np.tile(np.diag(cv), (nc, nm, 1)),
                "spherical": lambda: np.full((nc, nm), cv.mean()),
            }[self.covariance_type]()

    def _check_emissions(self):
        nc, nm = self.n_components, self.n_mix
        self.weights_ = np.array(self.weights_, dtype=np.float64)
        if self.weights_.shape != (nc, nm):
            raise ValueError(
                "weights_ must have shape (n_components, n_mix), actual shape: "
                f"{self.weights_.shape}"
            )
        self._check_sum_1("weights_")
        self.means_ = np.array(self.means_, dtype=np.float64)
        if self.means_.ndim != 3 or self.means_.shape[:2] != (nc, nm):
            raise ValueError(
                "means_ must have shape (n_components, n_mix, n_features), actual "
                f"shape: {self.means_.shape}"
            )
        nf = self.means_.shape[2]
        self.covars_ = np.array(self.covars_, dtype=np.float64)
        needed = {
            "spherical": (nc, nm),
            "tied": (nc, nf, nf),
            "diag": (nc, nm, nf),
            "full": (nc, nm, nf, nf),
        }[self.covariance_type]
        if self.covars_.shape != needed:
            raise ValueError(
                f"{self.covariance_type!r} mixture covars must have shape "
                f"{needed}, actual shape: {self.covars_.shape}"
            )
        if self.covariance_type in ("spherical", "diag"):
            if np.any(self.covars_ < 0):
                raise ValueError(
                    f"{self.covariance_type!r} mixture covars must be non-negative"
                )
            return
        matrices = self.covars_.reshape(-1, nf, nf)
        for i, covar in enumerate(matrices):
            where = (
                f"state #{i}"
                if self.covariance_type == "tied"
                else f"state #{i // nm}, mixture #{i % nm}"
            )
            if not np.allclose(covar, covar.T):
                raise ValueError(f"Covariance of {where} is not symmetric")
            if linalg.eigvalsh(covar).min() < 0:
                raise ValueError(f"Covariance of {where} is not positive definite")

    # -- one batch ------------------------------------------------------------------

    def _weighted_densities(self, X, state):
        """``log w_m + log N(x | mu_m, Sigma_m)`` of the state's components."""
        means, covars = self.means_[state], self.covars_[state]
        if self.covariance_type == "diag":
            dens = _log_density_diag(X, means, covars)
        elif self.covariance_type == "spherical":
            dens = _log_density_diag(
                X, means, np.broadcast_to(covars[:, None], means.shape)
            )
        else:
            if self.covariance_type == "tied":
                covars = np.broadcast_to(covars, (self.n_mix,) + covars.shape)
            dens = _log_density_full(X, means, covars)
        with np.errstate(divide="ignore"):
            return dens + np.log(self.weights_[state])

    def _log_likelihood(self, X):
        out = np.empty((X.shape[0], self.n_components))
        for state in range(self.n_components):
            dens = self._weighted_densities(X, state)
            top = np.max(dens, axis=1, keepdims=True)
            top[~np.isfinite(top)] = 0.0
            with np.errstate(under="ignore", divide="ignore"):
                out[:, state] = np.log(np.exp(dens - top).sum(axis=1)) + top[:, 0]
        return out

    def _emission_stats(self, X, posteriors, workspace):
        """The weighted moments of the rows under each state's components:
        state posterior times the component's share of the state."""
        diagonal = self.covariance_type in ("diag", "spherical")
        parts = []
        for state in range(self.n_components):
            dens = self._weighted_densities(X, state)
            top = np.max(dens, axis=1, keepdims=True)
            top[~np.isfinite(top)] = 0.0
            with np.errstate(under="ignore"):
                share = np.exp(dens - top)
            share /= share.sum(axis=1, keepdims=True)
            weights = posteriors[:, state, None] * share
            for m in range(self.n_mix):
                w = np.ascontiguousarray(weights[:, m])
                if diagonal:
                    parts.append(diagonal_moments_of_rows(X, w))
                else:
                    parts.append(
                        moments_of_rows(X, sample_weight=w, workspace=workspace)
                    )
        return _stack(parts)

    def _do_mstep_emissions(self, moments, where):
        """hmmlearn's M-step of the weights, means and covariances.

        Its statistics, from the moments of component ``m`` of state ``s``
        (weight ``N``, mean ``x``, scatter ``S``): ``post_mix_sum = N``,
        ``m_n = lambda mu_0 + N x`` and ``c_n = S + N (x - mu)(x - mu)^T``
        about the means ``mu`` of the pass (which it keeps, not the new
        ones).
        """
        nc, nm, nf = self.n_components, self.n_mix, self.n_features
        weights_prior, means_prior, lambdas, covars_prior, covars_weight = (
            self._priors()
        )
        N = moments.weight.reshape(nc, nm)
        x = moments.mean.reshape(nc, nm, nf)
        post_sum = N.sum(axis=1)
        old_means = self.means_
        if "w" in self.params:
            alphas_minus_one = weights_prior - 1
            w_n = N + alphas_minus_one
            w_d = (post_sum + alphas_minus_one.sum(axis=1))[:, None]
            empty = np.flatnonzero(~(w_d[:, 0] > 0))
            if empty.size:
                raise ValueError(
                    f"State(s) {empty.tolist()} received no posterior weight in "
                    f"{where}: their mixture weights are undefined; use fewer "
                    "states, or give weights_prior > 1"
                )
            self.weights_ = w_n / w_d
        if "m" in self.params:
            m_n = lambdas[:, :, None] * means_prior + N[:, :, None] * x
            m_d = N + lambdas
            m_d[(self.weights_ == 0) & (m_n == 0).all(axis=-1)] = 1
            self.means_ = m_n / m_d[:, :, None]
        if "c" not in self.params:
            return
        dev = x - old_means
        centered = self.means_ - means_prior
        if self.covariance_type in ("diag", "spherical"):
            scatter = moments.scatter.reshape(nc, nm, nf)
            c_n = scatter + N[:, :, None] * dev**2
            if self.covariance_type == "diag":
                covars = lambdas[:, :, None] * centered**2 + 2 * covars_weight + c_n
                denom = N[:, :, None] + 1 + 2 * (covars_prior + 1)
            else:
                norm2 = np.einsum("...i,...i", centered, centered)
                covars = lambdas * norm2 + 2 * covars_weight + c_n.sum(axis=-1)
                denom = nf * (N + 1) + 2 * (covars_prior + 1)
            self.covars_ = covars / denom
            return
        scatter = moments.scatter.reshape(nc, nm, nf, nf)
        c_n = scatter + N[:, :, None, None] * _outer(dev)
        if self.covariance_type == "full":
            psis_t = np.transpose(covars_prior, axes=(0, 1, 3, 2))
            covars = psis_t + lambdas[:, :, None, None] * _outer(centered) + c_n
            denom = (N + 1 + covars_weight + nf + 1)[:, :, None, None]
        else:
            psis_t = np.transpose(covars_prior, axes=(0, 2, 1))
            covars = (
                np.einsum("ij,ijkl->ikl", lambdas, _outer(centered))
                + psis_t
                + c_n.sum(axis=1)
            )
            denom = (post_sum + nm + covars_weight + nf + 1)[:, None, None]
        self.covars_ = covars / denom

    def _generate_sample_from_state(self, state, random_state):
        weights = self.weights_[state]
        component = random_state.choice(self.n_mix, p=weights)
        if self.covariance_type == "tied":
            cov = self.covars_[state]
        elif self.covariance_type == "full":
            cov = self.covars_[state, component]
        elif self.covariance_type == "diag":
            cov = np.diag(self.covars_[state, component])
        else:
            cov = np.eye(self.n_features) * self.covars_[state, component]
        return random_state.multivariate_normal(self.means_[state, component], cov)
