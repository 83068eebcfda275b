"""Hidden Markov model with Poisson emissions, by exact out-of-core EM."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.special import gammaln, xlogy
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._stats import StateSums, moments_of_rows
from ._base import BaseHMM


class PoissonHMM(BaseHMM, BaseEstimator):
    """Hidden Markov model with Poisson emissions, by exact out-of-core EM.

    hmmlearn 0.3.3's ``PoissonHMM`` (same parameters, attributes, Gamma
    prior and M-step) for count sequences on disk. Each Baum-Welch
    iteration is one pass over batches of whole sequences (a sequence longer
    than a batch is split, exactly); the posterior-weighted counts of every
    state are merged in batch order, so the model is the same for every
    ``n_jobs`` and equals hmmlearn's after the same iterations, to rounding.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior : array-like of shape (n_components,) or float, default=1.0
        Dirichlet prior of ``startprob_``.
    transmat_prior : array-like of shape (n_components, n_components) or \
            float, default=1.0
        Dirichlet prior of every row of ``transmat_``.
    lambdas_prior, lambdas_weight : array-like or float, default=0.0
        Shape and rate of the Gamma prior of ``lambdas_`` (hmmlearn's alpha
        and beta).
    algorithm : {"viterbi", "map"}, default="viterbi"
        Decoder of :meth:`decode` and :meth:`predict`.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization (hmmlearn's draws).
    n_iter : int, default=10
        Maximum number of EM iterations (passes over the data).
    tol : float, default=1e-2
        EM stops when the log-likelihood gains less than ``tol``.
    verbose : bool or int, default=False
        Print a line per iteration (hmmlearn's: iteration, log-likelihood,
        gain); 2 adds a progress bar over the batches.
    params : str, default="stl"
        Parameters updated by EM: 's' startprob, 't' transmat, 'l' lambdas.
    init_params : str, default="stl"
        Parameters initialized before EM; the others start from the values
        set on the model, as in hmmlearn.
    implementation : {"log", "scaling"}, default="log"
        Forward-backward in log space, or with scaled probabilities.
    batch_size : int or "auto", default="auto"
        Rows per batch: whole sequences while they fit, a longer sequence in
        segments of ``batch_size`` rows (see :class:`GaussianHMM`).
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
    lambdas_ : ndarray of shape (n_components, n_features)
        Poisson rate of every feature in every state.
    n_features : int
        Dimension of the observations (the width of ``lambdas_``).
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
    The observations are counts: a negative or fractional value is an error
    naming its row (hmmlearn gives such a row a likelihood of zero), and the
    model is left as it was. The initial rates are hmmlearn's Gamma draws
    about the mean and variance of all the values, computed in one pass.

    As hmmlearn's, the M-step weighs each state's prior against the
    expected number of rows of all the states together.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.hmm import PoissonHMM
    >>> rng = np.random.RandomState(0)
    >>> states = np.repeat([0, 1, 0, 1], 50)
    >>> X = rng.poisson(np.where(states == 0, 2.0, 20.0))[:, None]
    >>> model = PoissonHMM(n_components=2, init_params="", batch_size=64)
    >>> model.startprob_ = np.array([0.5, 0.5])
    >>> model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> model.lambdas_ = np.array([[1.0], [10.0]])
    >>> model = model.fit(X, lengths=[100, 100])
    >>> np.round(model.lambdas_.ravel())
    array([ 2., 20.])
    """

    _parameter_constraints: dict = {
        **BaseHMM._parameter_constraints,
        "lambdas_prior": ["array-like", Real],
        "lambdas_weight": ["array-like", Real],
    }

    _emission_parameters = ("lambdas_",)

    def __init__(
        self,
        n_components=1,
        startprob_prior=1.0,
        transmat_prior=1.0,
        lambdas_prior=0.0,
        lambdas_weight=0.0,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stl",
        init_params="stl",
        implementation="log",
        *,
        batch_size="auto",
        n_jobs=None,
        batches_per_epoch=None,
        decay=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight
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

    @property
    def n_features(self):
        """Dimension of the observations (the width of ``lambdas_``)."""
        if "lambdas_" not in self.__dict__:
            raise AttributeError("n_features is known once lambdas_ is set")
        return np.atleast_2d(self.lambdas_).shape[1]

    def _check_rows(self, X):
        bad = np.flatnonzero(((X < 0) | (X != np.floor(X))).any(axis=1))
        if bad.size:
            row = X[bad[0]]
            column = int(np.flatnonzero((row < 0) | (row != np.floor(row)))[0])
            return int(bad[0]), (
                f"column {column} holds {row[column]}; a PoissonHMM reads counts "
                "(non-negative integers)"
            )
        return None

    def _get_n_fit_scalars_per_param(self):
        nc = self.n_components
        nf = self.n_features if "lambdas_" in self.__dict__ else self.n_features_in_
        return {"s": nc - 1, "t": nc * (nc - 1), "l": nc * nf}

    def _init_emissions(self, source):
        expected = self.n_features if "lambdas_" in self.__dict__ else None
        if not self._needs_init("l", "lambdas_"):
            if expected != source.n_features:
                raise ValueError(
                    f"Unexpected number of dimensions, got {source.n_features} "
                    f"but expected {expected}"
                )
            return
        moments = self._reduce(
            source,
            desc="init",
            summarize=lambda batch: moments_of_rows(batch.X, workspace=batch.workspace),
        )
        # The mean and variance of all the values, as hmmlearn's
        # X.mean() and X.var(): every column has the same count.
        means = np.atleast_1d(moments.mean)
        mean = means.mean()
        var = (np.diag(np.atleast_2d(moments.covariance(ddof=0))).mean()) + (
            (means - mean) ** 2
        ).mean()
        random_state = check_random_state(self.random_state)
        self.lambdas_ = random_state.gamma(
            shape=mean**2 / var,
            scale=var / mean,
            size=(self.n_components, source.n_features),
        )

    def _check_emissions(self):
        self.lambdas_ = np.atleast_2d(self.lambdas_)
        if self.lambdas_.shape[0] != self.n_components:
            raise ValueError("lambdas_ must have shape (n_components, n_features)")

    # -- one batch ------------------------------------------------------------------

    def _log_likelihood(self, X):
        lambdas = np.asarray(self.lambdas_, dtype=np.float64)
        log_factorials = gammaln(X + 1).sum(axis=1)
        out = np.empty((X.shape[0], self.n_components))
        for c in range(self.n_components):
            out[:, c] = (
                xlogy(X, lambdas[c]).sum(axis=1) - lambdas[c].sum() - log_factorials
            )
        return out

    def _emission_stats(self, X, posteriors, workspace):
        if "l" not in self.params:
            return None
        return StateSums(posteriors.sum(axis=0), posteriors.T @ X)

    def _do_mstep_emissions(self, stats, where):
        empty = np.flatnonzero(~(stats.weight > 0))
        if empty.size:
            raise ValueError(
                f"State(s) {empty.tolist()} received no posterior weight in "
                f"{where}: their rates are undefined; use fewer states"
            )
        alphas, betas = self.lambdas_prior, self.lambdas_weight
        n = stats.weight.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            y_bar = stats.sums / stats.weight[:, None]
            self.lambdas_ = (alphas + n * y_bar) / (betas + n)

    def _generate_sample_from_state(self, state, random_state):
        return random_state.poisson(self.lambdas_[state])
