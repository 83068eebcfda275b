"""Streaming SGD and the on-disk shuffle against their references, same run.

Issue targets: one epoch of StreamingSGDRegressor over a 1,000,000 x 100
float32 memmap at least 3x faster than feeding the same rows, in minibatches
of 256, to ``SGDRegressor.partial_fit`` (the same per-row steps, so the same
model); ``shuffle_on_disk`` of a 2 GB file at least 30% of the throughput of
``shutil.copyfile`` of the same file. ``SGDRegressor.fit`` (scikit-learn's
own loop over the same page-cached rows, the same model) is timed too.
``SKLEARN_OOC_BENCH_ROWS`` shrinks the problems.
"""

import os
import shutil
import tempfile
import warnings

import numpy as np
from sklearn.linear_model import SGDRegressor

from sklearn_ooc.io import shuffle_on_disk
from sklearn_ooc.linear_model import StreamingSGDRegressor

from .common import float32_regression_file, page_cached, regression_files

SGD_ROWS = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 1_000_000))
SHUFFLE_ROWS = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 2_500_000))
# 12 GB: more than this 24 GB machine's page cache takes in before it writes
# back, so that the copy, too, goes at the speed of the disk.
LARGE_SHUFFLE_ROWS = int(os.environ.get("SKLEARN_OOC_BENCH_ROWS", 15_000_000))
BATCH = 256


class SGDEpoch:
    """One epoch of scikit-learn's per-row steps, the rows in file order."""

    timeout = 600
    processes = 1
    number = 1
    repeat = 3

    def setup_cache(self):
        return float32_regression_file(SGD_ROWS, 100)

    def setup(self, paths):
        self.X = page_cached(paths[0])
        self.y = np.load(paths[1])
        warnings.simplefilter("ignore")
        # Compiles (or loads) the kernel for these arguments before timing.
        StreamingSGDRegressor(max_iter=1, tol=None, shuffle=False).fit(
            self.X[:1000], self.y[:1000]
        )

    def time_streaming_sgd_epoch(self, paths):
        StreamingSGDRegressor(max_iter=1, tol=None, shuffle=False).fit(self.X, self.y)

    def time_sklearn_partial_fit_same_batches(self, paths):
        model = SGDRegressor(shuffle=False)
        for start in range(0, self.X.shape[0], BATCH):
            model.partial_fit(
                self.X[start : start + BATCH], self.y[start : start + BATCH]
            )

    def time_sklearn_fit_in_memory(self, paths):
        SGDRegressor(max_iter=1, tol=None, shuffle=False).fit(self.X, self.y)


class Shuffle:
    """The on-disk shuffle of a 2 GB file (100 float64 columns) and a copy."""

    timeout = 1200
    processes = 1
    number = 1
    repeat = 2

    def setup_cache(self):
        return regression_files(SHUFFLE_ROWS, 100)

    def setup(self, paths):
        self.path = paths[0]
        self.out = tempfile.mkdtemp(prefix="sklearn_ooc_bench_")

    def teardown(self, paths):
        shutil.rmtree(self.out, ignore_errors=True)

    def time_shuffle_on_disk(self, paths):
        shuffle_on_disk(
            self.path, out=os.path.join(self.out, "s"), buffer_mb=64, random_state=0
        )

    def time_copyfile(self, paths):
        shutil.copyfile(self.path, os.path.join(self.out, "copy.npy"))

    def time_copyfile_fsync(self, paths):
        # The shuffle's output is on disk when it returns (fsync), and its
        # scratch rows go to disk as they are written: the copy, made as
        # durable, is the like-for-like reference.
        target = os.path.join(self.out, "copy.npy")
        shutil.copyfile(self.path, target)
        with open(target, "rb") as f:
            os.fsync(f.fileno())


class ShuffleBeyondCache(Shuffle):
    """The same on a 12 GB file, where a copy no longer fits in the cache."""

    timeout = 3600

    def setup_cache(self):
        return regression_files(LARGE_SHUFFLE_ROWS, 100)
