"""StreamingRidge against numpy's X.T @ X and scikit-learn's Ridge, same run.

Issue target: ``StreamingRidge.fit`` on a page-cached 2,000,000 x 100 float64
memmap within 1.2x numpy's ``X.T @ X`` on the array in memory, faster than
``Ridge(solver="cholesky")`` in memory, peak extra memory under 4 batches +
10 MB. ``SKLEARN_OOC_BENCH_ROWS`` shrinks the problem for a quick run.
"""

import os

import numpy as np
from sklearn.linear_model import Ridge

from sklearn_ooc.linear_model import StreamingRidge

from .common import page_cached, regression_files

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 2_000_000))
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
