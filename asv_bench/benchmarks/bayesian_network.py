"""Structure learning of a Bayesian network from streamed counts.

Issue 18: Chow-Liu and greedy hill climbing on 50 binary variables, from a
page-cached memmap: passes, time and peak extra memory. The issue's figure
is 100 million rows; ``SKLEARN_OOC_BENCH_BN_ROWS`` sets the rows (default 1
million, a quick run). Every variable copies an earlier one 80 % of the
time, so the network has structure to find. The codes are stored as uint8
(100 million rows are 5 GB, not the 40 GB of float64).
"""

import os

import numpy as np

from sklearn_ooc.bayesian_network import BayesianNetwork

from .common import CACHE, page_cached

N_SAMPLES = int(os.environ.get("SKLEARN_OOC_BENCH_BN_ROWS", 1_000_000))
N_VARIABLES = 50


def binary_file(n_samples, n_variables, chunk=1_000_000):
    """Path of a cached binary data set (written chunk by chunk if missing)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"binary_{n_samples}x{n_variables}_u8.npy")
    if os.path.exists(path):
        return path
    rng = np.random.RandomState(0)
    parents = [rng.randint(v) if v else 0 for v in range(n_variables)]
    tmp = f"{path}.{os.getpid()}.tmp.npy"
    out = np.lib.format.open_memmap(tmp, "w+", np.uint8, (n_samples, n_variables))
    for start in range(0, n_samples, chunk):
        n = min(chunk, n_samples - start)
        block = np.empty((n, n_variables), dtype=np.uint8)
        block[:, 0] = rng.randint(2, size=n)
        for v in range(1, n_variables):
            copy = rng.rand(n) < 0.8
            block[:, v] = np.where(copy, block[:, parents[v]], rng.randint(2, size=n))
        out[start : start + n] = block
    out.flush()
    del out
    os.replace(tmp, path)
    return path


class StructureLearning:
    timeout = 3600
    processes = 1
    number = 1
    repeat = 1
    params = [["chow-liu", "hill-climb"]]
    param_names = ["algorithm"]

    def setup_cache(self):
        return binary_file(N_SAMPLES, N_VARIABLES)

    def setup(self, path, algorithm):
        self.X = page_cached(path)
        BayesianNetwork().fit(np.zeros((10, 2)))

    def _fit(self, algorithm):
        return BayesianNetwork(algorithm=algorithm, max_parents=2, n_jobs=2).fit(self.X)

    def time_fit(self, path, algorithm):
        self._fit(algorithm)

    def peakmem_fit(self, path, algorithm):
        self._fit(algorithm)

    def track_passes(self, path, algorithm):
        return self._fit(algorithm).n_passes_
