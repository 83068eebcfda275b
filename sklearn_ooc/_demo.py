"""``python -m sklearn_ooc demo``: fit from a file on disk, compare with memory."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from .io import write_regression
from .linear_model import StreamingRidge
from .utils import PeakMemory

MB = 1e6


def _line(out, text=""):
    print(text, file=out, flush=True)


def demo_ridge(size_mb=500.0, *, n_features=50, n_jobs=-1, directory=None, out=None):
    """Ridge regression on a synthetic ``.npy`` of ``size_mb`` megabytes.

    Writes the data chunk by chunk to a temporary directory, fits
    :class:`~sklearn_ooc.linear_model.StreamingRidge` from it as a memory map,
    fits :class:`sklearn.linear_model.Ridge` on the same data loaded in
    memory, prints time, peak extra memory and the largest difference, and
    removes the files.

    Returns
    -------
    dict
        The figures printed.
    """
    from sklearn.linear_model import Ridge

    n_samples = max(10, int(size_mb * MB / (8 * n_features)))
    tmp = tempfile.mkdtemp(prefix="sklearn_ooc_demo_", dir=directory)
    try:
        X_path, y_path = os.path.join(tmp, "X.npy"), os.path.join(tmp, "y.npy")
        start = time.perf_counter()
        write_regression(X_path, y_path, n_samples, n_features, random_state=0)
        size = os.path.getsize(X_path)
        _line(
            out,
            f"Ridge regression: {n_samples:,} rows x {n_features} features, "
            f"{size / MB:,.0f} MB written to {X_path} in "
            f"{time.perf_counter() - start:.1f} s",
        )

        X = np.load(X_path, mmap_mode="r")
        y = np.load(y_path, mmap_mode="r")
        model = StreamingRidge(alpha=1.0, n_jobs=n_jobs, verbose=1)
        with PeakMemory() as mem:
            start = time.perf_counter()
            model.fit(X, y)
            ooc_time = time.perf_counter() - start
        _line(
            out,
            f"  StreamingRidge.fit(memmap)        {ooc_time:7.2f} s   "
            f"peak extra memory {mem.peak / MB:8.1f} MB",
        )

        with PeakMemory() as ref_mem:
            start = time.perf_counter()
            X_mem, y_mem = np.load(X_path), np.load(y_path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = Ridge(alpha=1.0, solver="cholesky").fit(X_mem, y_mem)
            ref_time = time.perf_counter() - start
            del X_mem, y_mem
        _line(
            out,
            f"  sklearn Ridge (load + fit in RAM) {ref_time:7.2f} s   "
            f"peak extra memory {ref_mem.peak / MB:8.1f} MB",
        )
        coef_diff = float(np.max(np.abs(model.coef_ - reference.coef_)))
        scale = float(np.max(np.abs(reference.coef_)))
        intercept_diff = abs(model.intercept_ - reference.intercept_)
        _line(
            out,
            f"  largest difference: coef {coef_diff:.1e} (relative "
            f"{coef_diff / scale:.1e}), intercept {intercept_diff:.1e}",
        )
        return {
            "n_samples": n_samples,
            "file_bytes": size,
            "time": ooc_time,
            "peak_memory": mem.peak,
            "reference_time": ref_time,
            "reference_peak_memory": ref_mem.peak,
            "max_coef_difference": coef_diff,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_demo(size_mb=500.0, *, n_jobs=-1, directory=None, out=None):
    """The demo a newcomer runs first."""
    _line(
        out,
        "sklearn_ooc demo: exact out-of-core fits from .npy files, "
        "compared with scikit-learn in memory",
    )
    return {"ridge": demo_ridge(size_mb, n_jobs=n_jobs, directory=directory, out=out)}
