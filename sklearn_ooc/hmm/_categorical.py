"""Hidden Markov model with categorical emissions, by exact out-of-core EM."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from .._stats import Largest, StateSums
from ._base import BaseHMM, _normalize


def _symbols_of(X):
    """The symbols of a batch of one column, as int64 (checked integral)."""
    return X[:, 0].astype(np.int64)


class CategoricalHMM(BaseHMM, BaseEstimator):
    """Hidden Markov model with categorical emissions, by exact out-of-core EM.

    hmmlearn 0.3.3's ``CategoricalHMM`` (same parameters, attributes, prior
    and M-step) for symbol sequences on disk. Each Baum-Welch iteration is
    one pass over batches of whole sequences (a sequence longer than a batch
    is split, exactly); the expected counts of every state's symbols are
    merged in batch order, so the model is the same for every ``n_jobs``
    and equals hmmlearn's after the same iterations, to rounding.

    Parameters
    ----------
    n_components : int, default=1
        Number of states.
    startprob_prior : array-like of shape (n_components,) or float, default=1.0
        Dirichlet prior of ``startprob_``.
    transmat_prior : array-like of shape (n_components, n_components) or \
            float, default=1.0
        Dirichlet prior of every row of ``transmat_``.
    emissionprob_prior : array-like of shape (n_components, n_symbols) or \
            float, default=1.0
        Dirichlet prior of every row of ``emissionprob_``.
    n_features : int, default=None
        Number of symbols the model emits; ``None``: one more than the
        largest symbol of the data (found in one more pass), or the width of
        an ``emissionprob_`` set on the model.
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
    params : str, default="ste"
        Parameters updated by EM: 's' startprob, 't' transmat, 'e'
        emissionprob.
    init_params : str, default="ste"
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
    emissionprob_ : ndarray of shape (n_components, n_symbols)
        Probability of each symbol in each state.
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
        Number of columns seen during fit (always 1: one symbol a row).

    Notes
    -----
    The observations are one column of non-negative integer symbols (stored
    as integers or as floats holding integers). A symbol that is negative,
    not an integer, or beyond the model's symbols is an error naming its
    row, and the model is left as it was.

    hmmlearn sets its ``n_features`` parameter from the data when it is
    ``None``; here a parameter is never changed by ``fit`` (scikit-learn's
    rule), and the number of symbols learnt is ``emissionprob_.shape[1]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.hmm import CategoricalHMM
    >>> states = np.repeat([0, 1, 0, 1], 50)
    >>> rng = np.random.RandomState(0)
    >>> flip = rng.rand(states.size) < 0.1
    >>> X = np.where(flip, 1 - 2 * states + 2, 2 * states)[:, None]
    >>> model = CategoricalHMM(n_components=2, init_params="", batch_size=64)
    >>> model.startprob_ = np.array([0.5, 0.5])
    >>> model.transmat_ = np.array([[0.9, 0.1], [0.1, 0.9]])
    >>> model.emissionprob_ = np.array([[0.4, 0.2, 0.2, 0.2], [0.2, 0.2, 0.4, 0.2]])
    >>> model = model.fit(X, lengths=[100, 100])
    >>> np.round(model.emissionprob_, 1)
    array([[0.9, 0. , 0. , 0.1],
           [0. , 0.1, 0.9, 0. ]])
    """

    _parameter_constraints: dict = {
        **BaseHMM._parameter_constraints,
        "emissionprob_prior": ["array-like", Real],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
    }

    _emission_parameters = ("emissionprob_",)

    def __init__(
        self,
        n_components=1,
        startprob_prior=1.0,
        transmat_prior=1.0,
        *,
        emissionprob_prior=1.0,
        n_features=None,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="ste",
        init_params="ste",
        implementation="log",
        batch_size="auto",
        n_jobs=None,
        batches_per_epoch=None,
        decay=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features
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

    # -- the symbols ----------------------------------------------------------------

    def _n_symbols(self):
        """Symbols the model emits, or ``None`` before it knows."""
        if self.n_features is not None:
            return self.n_features
        if "emissionprob_" in self.__dict__:
            return np.atleast_2d(self.emissionprob_).shape[1]
        return self.__dict__.get("_symbols_found")

    def _check_rows(self, X):
        if X.shape[1] != 1:
            return None, (
                f"holds {X.shape[1]} columns; a CategoricalHMM reads one column "
                "of symbols"
            )
        column = X[:, 0]
        bad = np.flatnonzero(column != np.floor(column))
        if bad.size:
            return int(bad[0]), f"Symbols should be integers: got {column[bad[0]]}"
        bad = np.flatnonzero(column < 0)
        if bad.size:
            return int(bad[0]), f"Symbols should be nonnegative: got {column[bad[0]]}"
        n_symbols = self._n_symbols()
        if n_symbols is not None:
            bad = np.flatnonzero(column > n_symbols - 1)
            if bad.size:
                return int(bad[0]), (
                    f"Largest symbol is {int(column.max())} but the model only "
                    f"emits symbols up to {n_symbols - 1}"
                )
        return None

    def _get_n_fit_scalars_per_param(self):
        nc = self.n_components
        return {"s": nc - 1, "t": nc * (nc - 1), "e": nc * (self._n_symbols() - 1)}

    def _initialize(self, source, random_state):
        if self._n_symbols() is None:
            # hmmlearn's default: one more than the largest symbol.
            largest = self._reduce(
                source,
                desc="symbols",
                summarize=lambda batch: Largest(float(batch.X.max())),
            )
            self._symbols_found = int(largest.value) + 1
        super()._initialize(source, random_state)

    def _init_emissions(self, source):
        n_symbols = self._n_symbols()
        self.__dict__.pop("_symbols_found", None)
        if self._needs_init("e", "emissionprob_"):
            # hmmlearn draws from a generator of its own (a new one for an
            # int seed, the same instance otherwise).
            random_state = check_random_state(self.random_state)
            self.emissionprob_ = _normalize(
                random_state.rand(self.n_components, n_symbols), axis=1
            )

    def _check_emissions(self):
        self.emissionprob_ = np.atleast_2d(self.emissionprob_)
        n_symbols = self._n_symbols()
        if self.emissionprob_.shape != (self.n_components, n_symbols):
            raise ValueError(
                f"emissionprob_ must have shape({self.n_components}, {n_symbols})"
            )
        self._check_sum_1("emissionprob_")

    # -- one batch ------------------------------------------------------------------

    def _log_likelihood(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.emissionprob_[:, _symbols_of(X)].T)

    def _emission_stats(self, X, posteriors, workspace):
        if "e" not in self.params:
            return None
        symbols = _symbols_of(X)
        n_symbols = self.emissionprob_.shape[1]
        sums = np.stack(
            [
                np.bincount(symbols, weights=posteriors[:, c], minlength=n_symbols)
                for c in range(self.n_components)
            ]
        )
        return StateSums(posteriors.sum(axis=0), sums)

    def _do_mstep_emissions(self, stats, where):
        emissionprob = np.maximum(self.emissionprob_prior - 1 + stats.sums, 0)
        empty = np.flatnonzero(~(emissionprob.sum(axis=1) > 0))
        if empty.size:
            raise ValueError(
                f"Some rows of emissionprob_ would have zero sum: state(s) "
                f"{empty.tolist()} received no posterior weight in {where}; use "
                "fewer states or an emissionprob_prior above 1"
            )
        self.emissionprob_ = _normalize(emissionprob, axis=1)

    def _generate_sample_from_state(self, state, random_state):
        cdf = np.cumsum(self.emissionprob_[state, :])
        return [(cdf > random_state.rand()).argmax()]
