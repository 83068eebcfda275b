"""StreamingRidge against numpy's X.T @ X and scikit-learn's Ridge, same run.

Issue target: ``StreamingRidge.fit`` on a page-cached 2,000,000 x 100 float64
memmap within 1.2x numpy's ``X.T @ X`` on the array in memory, faster than
``Ridge(solver="cholesky")`` in memory, peak extra memory under 4 batches +
10 MB. ``SKLEARN_OOC_BENCH_ROWS`` shrinks the problem for a quick run.

Issue 17 adds scikit-learn-intelex's Ridge (oneDAL) on the same loaded array,
skipped where it is absent, and a binary logistic regression on 1,000,000 x
100 (tol 1e-8): StreamingLogisticRegression from the memmap beside
scikit-learn's ``newton-cholesky`` and sklearnex's ``lbfgs`` in memory,
and the ridge fit from a float32 file.
"""

import os
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from sklearn_ooc.linear_model import StreamingLogisticRegression, StreamingRidge

from .common import (
    classification_files,
    float32_regression_file,
    page_cached,
    regression_files,
    sklearnex_module,
)

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 2_000_000))
LOGISTIC_ROWS = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 1_000_000))
N_FEATURES = 100


class _Problem:
    """The cached 2,000,000 x 100 problem, timed once per repeat."""

    timeout = 600
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return regression_files(N_SAMPLES, N_FEATURES)


class RidgeSuite(_Problem):
    """Fit time and peak memory of StreamingRidge from the page-cached memmap."""

    params = [[1, 2]]
    param_names = ["n_jobs"]

    def setup(self, paths, n_jobs):
        X_path, y_path = paths
        self.X = page_cached(X_path)
        self.y = np.load(y_path)
        StreamingRidge().fit(self.X[:100], self.y[:100])  # compiled and cached

    def time_fit(self, paths, n_jobs):
        StreamingRidge(n_jobs=n_jobs).fit(self.X, self.y)

    def peakmem_fit(self, paths, n_jobs):
        StreamingRidge(n_jobs=n_jobs).fit(self.X, self.y)

    def track_max_coef_difference_vs_sklearn(self, paths, n_jobs):
        X = np.asarray(self.X[:200_000])
        ours = StreamingRidge(n_jobs=n_jobs).fit(X, self.y[:200_000])
        ref = Ridge(solver="cholesky").fit(X, self.y[:200_000])
        return float(np.max(np.abs(ours.coef_ - ref.coef_)))


class ReferenceSuite(_Problem):
    """What we are measured against: numpy's X.T @ X and sklearn's Ridge in RAM."""

    def setup(self, paths):
        X_path, y_path = paths
        self.X = np.load(X_path)
        self.y = np.load(y_path)

    def time_numpy_gram(self, paths):
        self.X.T @ self.X

    def time_sklearn_ridge_cholesky(self, paths):
        Ridge(solver="cholesky").fit(self.X, self.y)

    def peakmem_sklearn_ridge_cholesky(self, paths):
        Ridge(solver="cholesky").fit(self.X, self.y)


class SklearnexRidge(_Problem):
    """scikit-learn-intelex's Ridge (oneDAL) on the same array in memory.

    Its default solver (``'auto'``) is the one oneDAL runs; ``'cholesky'``
    falls back to scikit-learn's. Skipped where sklearnex is absent.
    """

    def setup(self, paths):
        self.Ridge = sklearnex_module("linear_model").Ridge
        X_path, y_path = paths
        self.X = np.load(X_path)
        self.y = np.load(y_path)
        self.Ridge().fit(self.X[:100], self.y[:100])

    def time_sklearnex_ridge(self, paths):
        self.Ridge().fit(self.X, self.y)

    def peakmem_sklearnex_ridge(self, paths):
        self.Ridge().fit(self.X, self.y)


class RidgeFloat32(_Problem):
    """Issue 17's float32 section: StreamingRidge from a float32 memmap,
    whose rows it multiplies in float32, beside scikit-learn's Ridge on the
    same float32 array in memory."""

    def setup_cache(self):
        return float32_regression_file(N_SAMPLES, N_FEATURES)

    def setup(self, paths):
        X_path, y_path = paths
        self.X = page_cached(X_path)
        self.X_memory = np.load(X_path)
        self.y = np.load(y_path)
        StreamingRidge().fit(self.X[:100], self.y[:100])

    def time_ours_n_jobs_2(self, paths):
        StreamingRidge(n_jobs=2).fit(self.X, self.y)

    def time_sklearn_ridge_cholesky(self, paths):
        Ridge(solver="cholesky").fit(self.X_memory, self.y)


class SklearnexRidgeFloat32(SklearnexRidge):
    """sklearnex's Ridge on RidgeFloat32's float32 array."""

    def setup_cache(self):
        return float32_regression_file(N_SAMPLES, N_FEATURES)


class _Logistic:
    """The cached 1,000,000 x 100 binary problem, tol 1e-8."""

    timeout = 900
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return classification_files(LOGISTIC_ROWS, N_FEATURES)


class LogisticFit(_Logistic):
    """StreamingLogisticRegression (n_jobs=2) from the page-cached memmap,
    beside scikit-learn's newton-cholesky on the loaded array."""

    def setup(self, paths):
        X_path, y_path = paths
        self.X = page_cached(X_path)
        self.X_memory = np.load(X_path)
        self.y = np.load(y_path)
        warnings.simplefilter("ignore")
        StreamingLogisticRegression().fit(self.X[:1000], self.y[:1000])

    def time_ours_n_jobs_2(self, paths):
        StreamingLogisticRegression(tol=1e-8, n_jobs=2).fit(self.X, self.y)

    def track_ours_passes(self, paths):
        model = StreamingLogisticRegression(tol=1e-8, n_jobs=2)
        return int(model.fit(self.X, self.y).n_iter_[0])

    track_ours_passes.unit = "iterations"

    def time_sklearn_newton_cholesky(self, paths):
        LogisticRegression(solver="newton-cholesky", tol=1e-8).fit(
            self.X_memory, self.y
        )


class SklearnexLogistic(_Logistic):
    """scikit-learn-intelex's LogisticRegression (oneDAL, lbfgs) on the loaded
    array. Skipped where sklearnex is absent."""

    def setup(self, paths):
        self.LogisticRegression = sklearnex_module("linear_model").LogisticRegression
        X_path, y_path = paths
        self.X = np.load(X_path)
        self.y = np.load(y_path)
        warnings.simplefilter("ignore")
        self.LogisticRegression().fit(self.X[:1000], self.y[:1000])

    def time_sklearnex_lbfgs(self, paths):
        self.LogisticRegression(tol=1e-8).fit(self.X, self.y)
