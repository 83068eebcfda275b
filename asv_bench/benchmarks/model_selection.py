"""One-pass RidgeCV and GridSearchCV over a LazyArray, beside the references.

Issue targets: ``StreamingRidgeCV`` with 5 folds and 20 alphas on a
2,000,000 x 100 memmap within 1.5x a single ``StreamingRidge.fit``, against
``GridSearchCV(Ridge())`` timed in the same run; ``GridSearchCV(StreamingRidge(),
cv=5, n_jobs=2)`` over ``open_array`` of a 2 GB file under 300 MB of extra
memory, beside scikit-learn's own figure with a plain memmap.
``SKLEARN_OOC_BENCH_ROWS`` shrinks the problems.
"""

import os
import warnings

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_ooc import open_array
from sklearn_ooc.linear_model import StreamingRidge, StreamingRidgeCV

from .common import page_cached, regression_files

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 2_000_000))
ALPHAS = np.logspace(-3, 3, 20)


class RidgeCVOnePass:
    """Twenty alphas, five folds, one read of the data."""

    timeout = 3600
    processes = 1
    number = 1
    repeat = 1

    def setup_cache(self):
        return regression_files(N_SAMPLES, 100)

    def setup(self, paths):
        self.X = page_cached(paths[0])
        self.y = np.load(paths[1])
        StreamingRidge().fit(self.X[:100], self.y[:100])

    def time_streaming_ridge_cv(self, paths):
        StreamingRidgeCV(alphas=ALPHAS, cv=5, n_jobs=2).fit(self.X, self.y)

    def time_streaming_ridge_single_fit(self, paths):
        StreamingRidge(n_jobs=2).fit(self.X, self.y)

    def time_sklearn_grid_search_ridge(self, paths):
        X = np.asarray(self.X)
        GridSearchCV(Ridge(), {"alpha": ALPHAS}, cv=KFold(5)).fit(X, self.y)


class GridSearchMemory:
    """Peak memory of a grid search over a 2 GB file: views against memmaps."""

    timeout = 3600
    processes = 1
    number = 1
    repeat = 1

    def setup_cache(self):
        return regression_files(N_SAMPLES // 2 * 5 // 4, 100)

    def setup(self, paths):
        self.y = np.load(paths[1])
        warnings.simplefilter("ignore")

    def peakmem_grid_search_lazy_array(self, paths):
        GridSearchCV(StreamingRidge(), {"alpha": [0.1, 10.0]}, cv=5, n_jobs=2).fit(
            open_array(paths[0]), self.y
        )

    def peakmem_grid_search_plain_memmap(self, paths):
        GridSearchCV(StreamingRidge(), {"alpha": [0.1, 10.0]}, cv=5, n_jobs=2).fit(
            np.load(paths[0], mmap_mode="r"), self.y
        )
