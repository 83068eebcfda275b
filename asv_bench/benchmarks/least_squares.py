"""The least-squares family and the GLMs beside scikit-learn, same run.

Issue 19: ``StreamingLinearRegression``, ``StreamingBayesianRidge`` (one pass
that factors the rows, then the iterations on the factor) and
``StreamingPoissonRegressor`` (Newton passes) from the page-cached memmap of
500,000 x 50 rows, beside scikit-learn's estimator on the loaded array, and
scikit-learn-intelex's ``LinearRegression`` where it is installed.
``SKLEARN_OOC_BENCH_ROWS`` shrinks the problem for a quick run.
"""

import os

import numpy as np
from sklearn.linear_model import BayesianRidge, LinearRegression, PoissonRegressor

from sklearn_ooc.linear_model import (
    StreamingBayesianRidge,
    StreamingLinearRegression,
    StreamingPoissonRegressor,
)

from .common import page_cached, regression_files, sklearnex_module

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 500_000))
N_FEATURES = 50


def _counts(y):
    """Poisson counts of the cached targets, fixed by a seed."""
    rate = np.exp(0.3 * (y - y.mean()) / y.std())
    return np.random.default_rng(0).poisson(rate).astype(np.float64)


class _Problem:
    timeout = 600
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return regression_files(N_SAMPLES, N_FEATURES)


class Ours(_Problem):
    """Fits from the page-cached memmap, two threads."""

    def setup(self, paths):
        X_path, y_path = paths
        self.X = page_cached(X_path)
        self.y = np.load(y_path)
        self.counts = _counts(self.y)
        StreamingLinearRegression().fit(self.X[:100], self.y[:100])

    def time_linear_regression(self, paths):
        StreamingLinearRegression(n_jobs=2).fit(self.X, self.y)

    def peakmem_linear_regression(self, paths):
        StreamingLinearRegression(n_jobs=2).fit(self.X, self.y)

    def time_bayesian_ridge(self, paths):
        StreamingBayesianRidge(n_jobs=2).fit(self.X, self.y)

    def time_poisson(self, paths):
        StreamingPoissonRegressor(n_jobs=2, tol=1e-8).fit(self.X, self.counts)

    def track_linear_regression_coef_difference_vs_sklearn(self, paths):
        ours = StreamingLinearRegression().fit(self.X, self.y)
        ref = LinearRegression().fit(np.asarray(self.X), self.y)
        return float(np.max(np.abs(ours.coef_ - ref.coef_)))


class Sklearn(_Problem):
    """scikit-learn's estimators on the loaded array."""

    def setup(self, paths):
        X_path, y_path = paths
        self.X = np.load(X_path)
        self.y = np.load(y_path)
        self.counts = _counts(self.y)

    def time_linear_regression(self, paths):
        LinearRegression().fit(self.X, self.y)

    def peakmem_linear_regression(self, paths):
        LinearRegression().fit(self.X, self.y)

    def time_bayesian_ridge(self, paths):
        BayesianRidge().fit(self.X, self.y)

    def time_poisson(self, paths):
        PoissonRegressor(solver="newton-cholesky", tol=1e-8).fit(self.X, self.counts)


class Sklearnex(_Problem):
    """scikit-learn-intelex's LinearRegression on the loaded array (skipped
    where it is not installed)."""

    def setup(self, paths):
        self.module = sklearnex_module("linear_model")
        X_path, y_path = paths
        self.X = np.load(X_path)
        self.y = np.load(y_path)

    def time_linear_regression(self, paths):
        self.module.LinearRegression().fit(self.X, self.y)
