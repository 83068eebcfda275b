"""Factor analysis, truncated SVD, PLS, feature selection, Lasso and elastic
net beside scikit-learn, same run.

Issue 19: ``OOCFactorAnalysis`` (one pass for the covariance, then the EM
iterations on it), ``OOCTruncatedSVD`` (randomized: a pass per power
iteration), ``OOCPLSRegression`` (one pass for the cross-products),
``OOCSelectKBest`` with ``f_regression`` and ``f_classif``, and
``OOCVarianceThreshold``, ``StreamingLasso``, ``StreamingLassoCV`` and
``StreamingMultiTaskLassoCV`` (one pass for the Gram of every fold, 100
alphas, 5 folds) and ``StreamingLassoLarsIC`` from the
page-cached memmap of 500,000 x 50 rows, beside scikit-learn's estimator on
the loaded array (its default, descent on the rows, and ``LassoCV``'s
``precompute="auto"``, a Gram per fold). scikit-learn-intelex 2026.2 has
none of these estimators (its linear_model offers LinearRegression, Ridge
and LogisticRegression). ``SKLEARN_OOC_BENCH_ROWS`` shrinks
the problem for a quick run.
"""

import os
import warnings

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import FactorAnalysis, TruncatedSVD
from sklearn.feature_selection import (
    SelectKBest,
    VarianceThreshold,
    f_classif,
    f_regression,
)
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LassoCV,
    LassoLarsIC,
    MultiTaskLassoCV,
)

from sklearn_ooc.cross_decomposition import OOCPLSRegression
from sklearn_ooc.decomposition import OOCFactorAnalysis, OOCTruncatedSVD
from sklearn_ooc.feature_selection import OOCSelectKBest, OOCVarianceThreshold
from sklearn_ooc.linear_model import (
    StreamingElasticNet,
    StreamingLasso,
    StreamingLassoCV,
    StreamingLassoLarsIC,
    StreamingMultiTaskLassoCV,
)

from .common import page_cached, regression_files

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 500_000))
N_FEATURES = 50


def _classes(y):
    """Three classes of the cached targets, by their terciles."""
    return np.searchsorted(np.quantile(y, [1 / 3, 2 / 3]), y)


class _Problem:
    timeout = 600
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return regression_files(N_SAMPLES, N_FEATURES)

    def _load(self, paths, memmap):
        X_path, y_path = paths
        self.X = page_cached(X_path) if memmap else np.load(X_path)
        self.y = np.load(y_path)
        self.classes = _classes(self.y)
        # Three targets for the multi-task models.
        self.targets = np.column_stack([self.y, np.roll(self.y, 1), -self.y])
        warnings.simplefilter("ignore")


class Ours(_Problem):
    """Fits from the page-cached memmap, two threads."""

    def setup(self, paths):
        self._load(paths, memmap=True)
        OOCSelectKBest(f_classif).fit(self.X[:100], self.classes[:100])

    def time_factor_analysis(self, paths):
        OOCFactorAnalysis(10, n_jobs=2).fit(self.X)

    def peakmem_factor_analysis(self, paths):
        OOCFactorAnalysis(10, n_jobs=2).fit(self.X)

    def time_truncated_svd(self, paths):
        OOCTruncatedSVD(10, random_state=0, n_jobs=2).fit(self.X)

    def time_pls_regression(self, paths):
        OOCPLSRegression(5, n_jobs=2).fit(self.X, self.y)

    def time_select_k_best_f_regression(self, paths):
        OOCSelectKBest(f_regression, k=10, n_jobs=2).fit(self.X, self.y)

    def time_select_k_best_f_classif(self, paths):
        OOCSelectKBest(f_classif, k=10, n_jobs=2).fit(self.X, self.classes)

    def time_variance_threshold(self, paths):
        OOCVarianceThreshold(n_jobs=2).fit(self.X)

    def time_lasso(self, paths):
        StreamingLasso(alpha=0.01, n_jobs=2).fit(self.X, self.y)

    def time_elastic_net(self, paths):
        StreamingElasticNet(alpha=0.01, n_jobs=2).fit(self.X, self.y)

    def time_lasso_cv(self, paths):
        StreamingLassoCV(cv=5, n_jobs=2).fit(self.X, self.y)

    def peakmem_lasso_cv(self, paths):
        StreamingLassoCV(cv=5, n_jobs=2).fit(self.X, self.y)

    def time_multi_task_lasso_cv(self, paths):
        StreamingMultiTaskLassoCV(cv=5, n_jobs=2).fit(self.X, self.targets)

    def time_lasso_lars_ic(self, paths):
        StreamingLassoLarsIC(n_jobs=2).fit(self.X, self.y)


class Sklearn(_Problem):
    """scikit-learn's estimators on the loaded array."""

    def setup(self, paths):
        self._load(paths, memmap=False)

    def time_factor_analysis(self, paths):
        FactorAnalysis(10).fit(self.X)

    def peakmem_factor_analysis(self, paths):
        FactorAnalysis(10).fit(self.X)

    def time_truncated_svd(self, paths):
        TruncatedSVD(10, random_state=0).fit(self.X)

    def time_pls_regression(self, paths):
        PLSRegression(5).fit(self.X, self.y)

    def time_select_k_best_f_regression(self, paths):
        SelectKBest(f_regression, k=10).fit(self.X, self.y)

    def time_select_k_best_f_classif(self, paths):
        SelectKBest(f_classif, k=10).fit(self.X, self.classes)

    def time_variance_threshold(self, paths):
        VarianceThreshold().fit(self.X)

    def time_lasso(self, paths):
        Lasso(alpha=0.01).fit(self.X, self.y)

    def time_elastic_net(self, paths):
        ElasticNet(alpha=0.01).fit(self.X, self.y)

    def time_lasso_cv(self, paths):
        LassoCV(cv=5).fit(self.X, self.y)

    def peakmem_lasso_cv(self, paths):
        LassoCV(cv=5).fit(self.X, self.y)

    def time_multi_task_lasso_cv(self, paths):
        MultiTaskLassoCV(cv=5).fit(self.X, self.targets)

    def time_lasso_lars_ic(self, paths):
        LassoLarsIC().fit(self.X, self.y)
