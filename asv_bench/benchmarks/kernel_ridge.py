"""OOCKernelRidge: a kernel larger than memory, and beside scikit-learn.

Issue figures: n = 100,000, d = 20, rbf (the kernel would take 80 GB):
``kernel_store='recompute'`` within 1 GB, time, CG iterations with and
without the Nyström preconditioner, relative residual reached; n = 20,000:
fit time and peak memory beside ``sklearn.kernel_ridge.KernelRidge`` on
one BLAS thread (its threaded ``potrf`` crashes at this size on Intel
AVX-512 machines); n = 50,000: the exact Cholesky solve with the 20 GB
matrix factored on disk in tiles, time and peak memory.
``SKLEARN_OOC_BENCH_KRR_ROWS`` and ``SKLEARN_OOC_BENCH_KRR_DISK`` shrink the
large problems; ``SKLEARN_OOC_BENCH_SCRATCH`` is the disk solve's folder.
"""

import os
import time
import warnings

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from threadpoolctl import threadpool_limits

from sklearn_ooc.kernel_ridge import OOCKernelRidge
from sklearn_ooc.utils import PeakMemory

LARGE = int(os.environ.get("SKLEARN_OOC_BENCH_KRR_ROWS", 100_000))
MEDIUM = int(os.environ.get("SKLEARN_OOC_BENCH_KRR_MEDIUM", 20_000))
DISK = int(os.environ.get("SKLEARN_OOC_BENCH_KRR_DISK", 50_000))


def _problem(n, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    return X, y


def large_fit(n_preconditioner, n=LARGE, max_iter=25):
    """The large fit: seconds, CG iterations, relative residual, peak MB."""
    X, y = _problem(n)
    model = OOCKernelRidge(
        alpha=1.0,
        kernel="rbf",
        gamma=0.05,
        solver="cg",
        kernel_store="recompute",
        # Blocks 256 MB, the 200-landmark preconditioner 160 MB (480 MB while
        # built): under 1 GB in all.
        memory_limit_mb=256,
        # Each iteration is a pass over the 80 GB kernel (about a minute):
        # a tolerance that plain CG reaches in some twenty passes.
        tol=1e-3,
        max_iter=max_iter,
        n_preconditioner=n_preconditioner,
        n_jobs=2,
        random_state=0,
    )
    with warnings.catch_warnings(), PeakMemory(0.05) as memory:
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "iterations": model.n_iter_,
        "residual": float(model.residual_.max()),
        "peak_mb": memory.peak / 1e6,
    }


class LargeKernel:
    """The kernel matrix does not fit in memory: recomputed each CG pass.

    Each pass computes the 80 GB kernel again (about a minute here), so the
    fits run once, in ``setup_cache``, to a relative residual of 1e-3 (at
    most 25 iterations), and the figures are tracked: time, iterations,
    residual reached, peak memory.
    """

    params = [[200, 0]]
    param_names = ["n_preconditioner"]
    timeout = 7200

    def setup_cache(self):
        return {m: large_fit(m) for m in self.params[0]}

    def track_fit_seconds(self, results, n_preconditioner):
        return results[n_preconditioner]["seconds"]

    track_fit_seconds.unit = "seconds"

    def track_cg_iterations(self, results, n_preconditioner):
        return results[n_preconditioner]["iterations"]

    def track_relative_residual(self, results, n_preconditioner):
        return results[n_preconditioner]["residual"]

    def track_peak_memory(self, results, n_preconditioner):
        return results[n_preconditioner]["peak_mb"]

    track_peak_memory.unit = "MB"


def _cholesky_model():
    """The medium problem's direct solve: the whole kernel in 4 GB."""
    return OOCKernelRidge(
        kernel="rbf", gamma=0.05, solver="cholesky", memory_limit_mb=4096
    )


def _cg_model():
    """The medium problem by conjugate gradients, blocks in 512 MB."""
    return OOCKernelRidge(
        kernel="rbf",
        gamma=0.05,
        solver="cg",
        memory_limit_mb=512,
        tol=1e-8,
        n_jobs=2,
        random_state=0,
    )


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
        _cholesky_model().fit(self.X, self.y)

    def peakmem_ours_cholesky(self):
        _cholesky_model().fit(self.X, self.y)

    def time_ours_cg(self):
        _cg_model().fit(self.X, self.y)

    def peakmem_ours_cg(self):
        _cg_model().fit(self.X, self.y)

    def time_sklearn(self):
        with threadpool_limits(limits=1):
            KernelRidge(kernel="rbf", gamma=0.05).fit(self.X, self.y)

    def peakmem_sklearn(self):
        with threadpool_limits(limits=1):
            KernelRidge(kernel="rbf", gamma=0.05).fit(self.X, self.y)


def disk_cholesky_fit(n=DISK):
    """The direct solve of a kernel larger than its 2 GB limit, on disk."""
    X, y = _problem(n)
    scratch = os.environ.get("SKLEARN_OOC_BENCH_SCRATCH")
    model = OOCKernelRidge(
        kernel="rbf",
        gamma=0.05,
        solver="cholesky",
        memory_limit_mb=2048,
        store_dir=scratch,
        n_jobs=2,
    )
    with PeakMemory(0.05) as memory:
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    residual = model.predict(X[:2000]) - y[:2000]
    return {
        "seconds": seconds,
        "peak_mb": memory.peak / 1e6,
        "train_rmse": float(np.sqrt(np.mean(residual**2))),
    }


class DiskCholesky:
    """n = 50,000: the 20 GB kernel matrix factored in tiles in a file.

    One fit, in ``setup_cache`` (tens of minutes); tracked: its time, the
    peak memory above the process's start (anonymous memory: the file's
    page cache is not counted), and the training error on 2,000 rows.
    """

    timeout = 7200

    def setup_cache(self):
        return disk_cholesky_fit()

    def track_fit_seconds(self, results):
        return results["seconds"]

    track_fit_seconds.unit = "seconds"

    def track_peak_memory(self, results):
        return results["peak_mb"]

    track_peak_memory.unit = "MB"

    def track_train_rmse(self, results):
        return results["train_rmse"]
