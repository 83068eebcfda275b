"""OOCKernelRidge: a kernel larger than memory, and beside scikit-learn.

Issue figures: n = 100,000, d = 20, rbf (the kernel would take 80 GB):
``kernel_store='recompute'`` within 1 GB, time, CG iterations with and
without the Nyström preconditioner, relative residual reached; n = 20,000:
fit time and peak memory beside ``sklearn.kernel_ridge.KernelRidge``.
``SKLEARN_OOC_BENCH_KRR_ROWS`` shrinks the large problem.
"""

import os
import warnings

import numpy as np
from sklearn.kernel_ridge import KernelRidge

from sklearn_ooc.kernel_ridge import OOCKernelRidge

LARGE = int(os.environ.get("SKLEARN_OOC_BENCH_KRR_ROWS", 100_000))
MEDIUM = int(os.environ.get("SKLEARN_OOC_BENCH_KRR_MEDIUM", 20_000))


def _problem(n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    return X, y


class LargeKernel:
    """The kernel matrix does not fit in memory: recomputed each CG pass."""

    params = [[200, 0]]
    param_names = ["n_preconditioner"]
    timeout = 3600
    processes = 1
    number = 1
    repeat = 1

    def setup(self, n_preconditioner):
        self.X, self.y = _problem(LARGE)
        warnings.simplefilter("ignore")

    def _fit(self, n_preconditioner):
        return OOCKernelRidge(
            alpha=1.0,
            kernel="rbf",
            gamma=0.05,
            solver="cg",
            kernel_store="recompute",
            # Blocks 256 MB, the 200-landmark preconditioner 160 MB (480 MB
            # while built): under 1 GB in all.
            memory_limit_mb=256,
            tol=1e-6,
            max_iter=200 if n_preconditioner else 30,
            n_preconditioner=n_preconditioner,
            n_jobs=2,
            random_state=0,
        ).fit(self.X, self.y)

    def time_fit(self, n_preconditioner):
        self._fit(n_preconditioner)

    def track_cg_iterations(self, n_preconditioner):
        return self._fit(n_preconditioner).n_iter_

    def track_relative_residual(self, n_preconditioner):
        return float(self._fit(n_preconditioner).residual_.max())


class MediumKernel:
    """n = 20,000: ours (Cholesky in 4 GB, and CG in 512 MB) and sklearn's."""

    timeout = 1800
    processes = 1
    number = 1
    repeat = 1

    def setup(self):
        self.X, self.y = _problem(MEDIUM)
        warnings.simplefilter("ignore")

    def time_ours_cholesky(self):
        OOCKernelRidge(
            kernel="rbf", gamma=0.05, solver="cholesky", memory_limit_mb=4096
        ).fit(self.X, self.y)

    def peakmem_ours_cholesky(self):
        OOCKernelRidge(
            kernel="rbf", gamma=0.05, solver="cholesky", memory_limit_mb=4096
        ).fit(self.X, self.y)

    def time_ours_cg(self):
        OOCKernelRidge(
            kernel="rbf",
            gamma=0.05,
            solver="cg",
            memory_limit_mb=512,
            tol=1e-8,
            n_jobs=2,
            random_state=0,
        ).fit(self.X, self.y)

    def peakmem_ours_cg(self):
        OOCKernelRidge(
            kernel="rbf",
            gamma=0.05,
            solver="cg",
            memory_limit_mb=512,
            tol=1e-8,
            n_jobs=2,
            random_state=0,
        ).fit(self.X, self.y)

    def time_sklearn(self):
        KernelRidge(kernel="rbf", gamma=0.05).fit(self.X, self.y)

    def peakmem_sklearn(self):
        KernelRidge(kernel="rbf", gamma=0.05).fit(self.X, self.y)
