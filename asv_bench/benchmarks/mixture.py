"""OOCGaussianMixture against scikit-learn's GaussianMixture, same run.

Issue targets (5,000,000 x 50 float64 memmap, page-cached, 3 components,
full covariance): one EM iteration at most a fifth of scikit-learn's on the
in-memory array (stretch: 3 s), peak extra memory under 4 batches + 50 MB,
``n_jobs=2`` at least 1.7x faster than ``n_jobs=1``. And the seed's small
shape, ``make_blobs(557100, 25, centers=4, cluster_std=4)``, 5 iterations from
``'first-k'``. ``SKLEARN_OOC_BENCH_ROWS`` shrinks the big problem.

One iteration of scikit-learn is timed as its own E-step and M-step
(``_e_step``, ``_m_step``): its ``fit`` adds a final E-step for the labels.

Issue 17: the same iteration from the float32 file (the float64 file's
values rounded), ``MixtureIterationFloat32``. scikit-learn-intelex has no
GaussianMixture: there is no sklearnex column here.

Issue 19: ``OOCBayesianGaussianMixture`` beside scikit-learn's
``BayesianGaussianMixture`` on the seed's blobs, 5 variational iterations
from ``'random_from_data'`` (the same start for both), diagonal covariances.
"""

import os
import warnings

import numpy as np
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

from sklearn_ooc.mixture import OOCBayesianGaussianMixture, OOCGaussianMixture

from .common import blobs_file, mixture_file, page_cached

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 5_000_000))
N_FEATURES = 50
N_COMPONENTS = 3


def _start(X, k):
    rng = np.random.RandomState(0)
    d = X.shape[1]
    return {
        "weights_init": np.full(k, 1.0 / k),
        "means_init": np.asarray(X[np.sort(rng.choice(X.shape[0], k, replace=False))]),
        "precisions_init": np.array([np.eye(d)] * k),
    }


class _Big:
    timeout = 1200
    processes = 1
    number = 1
    repeat = 2

    def setup_cache(self):
        return mixture_file(N_SAMPLES, N_FEATURES, N_COMPONENTS)


class MixtureIteration(_Big):
    """One exact EM iteration (one pass) from the page-cached memmap."""

    params = [[1, 2]]
    param_names = ["n_jobs"]

    def setup(self, path, n_jobs):
        self.X = page_cached(path)
        self.start = _start(self.X, N_COMPONENTS)
        warnings.simplefilter("ignore")
        OOCGaussianMixture(N_COMPONENTS, max_iter=1, **self.start).fit(self.X[:1000])

    def _fit(self, n_jobs):
        return OOCGaussianMixture(
            N_COMPONENTS, max_iter=1, tol=0.0, n_jobs=n_jobs, **self.start
        ).fit(self.X)

    def time_iteration(self, path, n_jobs):
        self._fit(n_jobs)

    def peakmem_iteration(self, path, n_jobs):
        self._fit(n_jobs)


class MixtureIterationFloat32(_Big):
    """One EM iteration (n_jobs=2) from the float32 file, page-cached."""

    def setup_cache(self):
        return mixture_file(N_SAMPLES, N_FEATURES, N_COMPONENTS, dtype=np.float32)

    def setup(self, path):
        self.X = page_cached(path)
        self.start = _start(self.X, N_COMPONENTS)
        warnings.simplefilter("ignore")
        OOCGaussianMixture(N_COMPONENTS, max_iter=1, **self.start).fit(self.X[:1000])

    def time_iteration(self, path):
        OOCGaussianMixture(
            N_COMPONENTS, max_iter=1, tol=0.0, n_jobs=2, **self.start
        ).fit(self.X)


class SklearnMixtureIteration(_Big):
    """The reference: one E-step and M-step of GaussianMixture in memory."""

    def setup(self, path):
        self.X = np.load(path)
        start = _start(self.X, N_COMPONENTS)
        warnings.simplefilter("ignore")
        self.model = GaussianMixture(N_COMPONENTS, max_iter=1, **start)
        self.model.fit(self.X[:1000])

    def time_iteration(self, path):
        _, log_resp = self.model._e_step(self.X)
        self.model._m_step(self.X, log_resp)

    def peakmem_iteration(self, path):
        _, log_resp = self.model._e_step(self.X)
        self.model._m_step(self.X, log_resp)


class _Blobs:
    timeout = 600
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return blobs_file(557_100, 25, 4, 4.0)


class SeedBlobs(_Blobs):
    """pomegranate's example: make_blobs(557100, 25, 4 centers), 5 iterations."""

    def setup(self, path):
        self.X = page_cached(path)
        self.X_memory = np.load(path)
        warnings.simplefilter("ignore")
        OOCGaussianMixture(4, init_params="first-k", max_iter=1).fit(self.X[:1000])

    def time_ours_first_k_5_iterations(self, path):
        OOCGaussianMixture(
            4, init_params="first-k", max_iter=5, tol=0.0, batch_size=10_000, n_jobs=2
        ).fit(self.X)

    def time_sklearn_same_start_5_iterations(self, path):
        start = {
            "weights_init": np.full(4, 0.25),
            "means_init": self.X_memory[:4],
            "precisions_init": np.array([np.eye(25) * 1e6] * 4),
        }
        GaussianMixture(4, max_iter=5, tol=0.0, **start).fit(self.X_memory)


class PomegranateSeedBlobs(_Blobs):
    """pomegranate 1.x on the seed's blobs, in its batched form: 5 iterations
    of ``summarize`` over 10,000-row batches and ``from_summaries``, from the
    first 4 rows as means. Skipped where pomegranate is not installed (it
    needs torch, which sklearn_ooc does not depend on)."""

    def setup(self, path):
        try:
            import torch
            from pomegranate.distributions import Normal
            from pomegranate.gmm import GeneralMixtureModel
        except ImportError as exc:
            raise NotImplementedError("pomegranate is not installed") from exc
        torch.set_num_threads(2)
        self.X = torch.from_numpy(np.load(path))

        def model():
            components = [
                Normal(
                    means=self.X[i].clone(),
                    covs=torch.eye(25, dtype=torch.float64),
                    covariance_type="full",
                )
                for i in range(4)
            ]
            priors = torch.full((4,), 0.25, dtype=torch.float64)
            return GeneralMixtureModel(components, priors=priors, max_iter=5, tol=0.0)

        self.model = model

    def time_pomegranate_batched_5_iterations(self, path):
        model = self.model()
        for _ in range(5):
            for start in range(0, self.X.shape[0], 10_000):
                model.summarize(self.X[start : start + 10_000])
            model.from_summaries()


_VARIATIONAL = dict(
    n_components=4,
    covariance_type="diag",
    init_params="random_from_data",
    random_state=0,
    max_iter=5,
    tol=0.0,
)


class VariationalSeedBlobs(_Blobs):
    """Five variational iterations on the seed's blobs, both from the same start."""

    def setup(self, path):
        self.X = page_cached(path)
        self.X_memory = np.load(path)
        warnings.simplefilter("ignore")
        OOCBayesianGaussianMixture(**_VARIATIONAL).fit(self.X[:1000])

    def time_ours_5_iterations(self, path):
        OOCBayesianGaussianMixture(n_jobs=2, **_VARIATIONAL).fit(self.X)

    def time_sklearn_5_iterations(self, path):
        BayesianGaussianMixture(**_VARIATIONAL).fit(self.X_memory)
