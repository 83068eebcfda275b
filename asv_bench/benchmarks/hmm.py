"""GaussianHMM against hmmlearn's, same run.

Issue 18's targets: 8 states, 10 features, diagonal covariances, 10 million
observations in sequences of 1,000, one Baum-Welch iteration from the same
parameters, at least 3x faster than hmmlearn (in memory), with bounded
memory; and one sequence of 50 million observations from a memory map: time
per iteration and peak extra memory. ``SKLEARN_OOC_BENCH_HMM_ROWS`` and
``SKLEARN_OOC_BENCH_HMM_LONG_ROWS`` shrink them. The rows are a sample of a
Gaussian mixture: the time of an iteration does not depend on how the states
follow each other.

``GMMIteration``: GMMHMM, 4 states of 3 diagonal components, 10 features,
one million observations in sequences of 1,000, one iteration beside
hmmlearn's (``SKLEARN_OOC_BENCH_GMMHMM_ROWS`` shrinks it).
"""

import os
import warnings

import numpy as np

from sklearn_ooc.hmm import GMMHMM, GaussianHMM

from .common import mixture_file, page_cached

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_HMM_ROWS", 10_000_000))
N_LONG = int(os.environ.get("SKLEARN_OOC_BENCH_HMM_LONG_ROWS", 50_000_000))
N_STATES, N_FEATURES, LENGTH = 8, 10, 1000


def _start(X):
    rng = np.random.RandomState(0)
    return {
        "startprob_": np.full(N_STATES, 1.0 / N_STATES),
        "transmat_": rng.dirichlet(np.full(N_STATES, 5.0), size=N_STATES),
        "means_": np.asarray(X[np.sort(rng.choice(len(X), N_STATES, replace=False))]),
        "covars_": np.ones((N_STATES, N_FEATURES)),
    }


def _model(cls, start, **params):
    model = cls(N_STATES, "diag", init_params="", n_iter=1, tol=-np.inf, **params)
    for name, value in start.items():
        setattr(model, name, np.array(value, copy=True))
    return model


class _Sequences:
    timeout = 1800
    processes = 1
    number = 1
    repeat = 2

    def setup_cache(self):
        return mixture_file(N_SAMPLES, N_FEATURES, N_STATES)


class HMMIteration(_Sequences):
    """One exact Baum-Welch iteration (one pass) from the page-cached memmap."""

    params = [["log", "scaling"], [1, 2]]
    param_names = ["implementation", "n_jobs"]

    def setup(self, path, implementation, n_jobs):
        self.X = page_cached(path)
        self.lengths = np.full(len(self.X) // LENGTH, LENGTH)
        self.start = _start(self.X)
        warnings.simplefilter("ignore")
        _model(GaussianHMM, self.start).fit(self.X[: 10 * LENGTH], self.lengths[:10])

    def _fit(self, implementation, n_jobs):
        model = _model(
            GaussianHMM, self.start, implementation=implementation, n_jobs=n_jobs
        )
        return model.fit(self.X, self.lengths)

    def time_iteration(self, path, implementation, n_jobs):
        self._fit(implementation, n_jobs)

    def peakmem_iteration(self, path, implementation, n_jobs):
        self._fit(implementation, n_jobs)


class HmmlearnIteration(_Sequences):
    """The reference: hmmlearn's GaussianHMM, one iteration, in memory."""

    params = [["log", "scaling"]]
    param_names = ["implementation"]

    def setup(self, path, implementation):
        try:
            from hmmlearn import hmm
        except ImportError:
            raise NotImplementedError("hmmlearn is not installed") from None
        self.hmm = hmm
        self.X = np.load(path)
        self.lengths = np.full(len(self.X) // LENGTH, LENGTH)
        self.start = _start(self.X)
        warnings.simplefilter("ignore")

    def _fit(self, implementation):
        model = _model(self.hmm.GaussianHMM, self.start, implementation=implementation)
        return model.fit(self.X, self.lengths)

    def time_iteration(self, path, implementation):
        self._fit(implementation)

    def peakmem_iteration(self, path, implementation):
        self._fit(implementation)


class LongSequenceIteration:
    """One sequence of ``N_LONG`` rows from a memmap, split across batches:
    the forward pass over its batches in order, the backward in reverse."""

    timeout = 3600
    processes = 1
    number = 1
    repeat = 1

    def setup_cache(self):
        return mixture_file(N_LONG, N_FEATURES, N_STATES)

    def setup(self, path):
        self.X = np.load(path, mmap_mode="r")
        self.start = _start(self.X)
        warnings.simplefilter("ignore")
        _model(GaussianHMM, self.start, batch_size=1000).fit(self.X[:5000])

    def _fit(self):
        return _model(GaussianHMM, self.start).fit(self.X)

    def time_iteration(self, path):
        self._fit()

    def peakmem_iteration(self, path):
        self._fit()


N_GMM = int(os.environ.get("SKLEARN_OOC_BENCH_GMMHMM_ROWS", 1_000_000))
GMM_STATES, GMM_MIX = 4, 3


def _gmm_model(cls, X, **params):
    rng = np.random.RandomState(0)
    model = cls(GMM_STATES, GMM_MIX, init_params="", n_iter=1, tol=-np.inf, **params)
    picks = np.sort(rng.choice(len(X), GMM_STATES * GMM_MIX, replace=False))
    model.startprob_ = np.full(GMM_STATES, 1.0 / GMM_STATES)
    model.transmat_ = rng.dirichlet(np.full(GMM_STATES, 5.0), size=GMM_STATES)
    model.weights_ = np.full((GMM_STATES, GMM_MIX), 1.0 / GMM_MIX)
    model.means_ = np.asarray(X[picks]).reshape(GMM_STATES, GMM_MIX, -1)
    model.covars_ = np.ones((GMM_STATES, GMM_MIX, X.shape[1]))
    return model


class GMMIteration:
    """One Baum-Welch iteration of GMMHMM, ours (memmap) and hmmlearn's."""

    timeout = 1800
    processes = 1
    number = 1
    repeat = 2

    def setup_cache(self):
        return mixture_file(N_GMM, N_FEATURES, GMM_STATES * GMM_MIX)

    def setup(self, path):
        self.X = page_cached(path)
        self.X_memory = np.load(path)
        self.lengths = np.full(len(self.X) // LENGTH, LENGTH)
        warnings.simplefilter("ignore")

    def time_ours(self, path):
        _gmm_model(GMMHMM, self.X, n_jobs=2).fit(self.X, self.lengths)

    def time_hmmlearn(self, path):
        try:
            from hmmlearn import hmm
        except ImportError:
            raise NotImplementedError("hmmlearn is not installed") from None
        _gmm_model(hmm.GMMHMM, self.X_memory).fit(self.X_memory, self.lengths)
