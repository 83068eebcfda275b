"""``python -m sklearn_ooc demo``: fit from a file on disk, compare with memory."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from .io import write_mixture, write_regression
from .linear_model import StreamingRidge
from .mixture import OOCGaussianMixture
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


def demo_mixture(
    size_mb=1000.0,
    *,
    n_features=50,
    n_components=3,
    max_iter=10,
    subset_rows=50_000,
    n_jobs=-1,
    directory=None,
    out=None,
):
    """Gaussian mixture on a synthetic ``.npy`` of ``size_mb`` megabytes.

    Writes a mixture chunk by chunk to a temporary directory, fits
    :class:`~sklearn_ooc.mixture.OOCGaussianMixture` from it as a memory map
    (one verbose line per EM iteration, a progress bar per pass), then checks
    exactness where scikit-learn can run in memory: on the first
    ``subset_rows`` rows, both fits start from the same parameters, and the
    largest relative difference of the fitted parameters is printed. The
    files are removed.

    Returns
    -------
    dict
        The figures printed.
    """
    from sklearn.mixture import GaussianMixture

    n_samples = max(10 * n_components, int(size_mb * MB / (8 * n_features)))
    subset_rows = min(subset_rows, n_samples)
    tmp = tempfile.mkdtemp(prefix="sklearn_ooc_demo_", dir=directory)
    try:
        path = os.path.join(tmp, "mixture.npy")
        start = time.perf_counter()
        write_mixture(
            path, n_samples, n_features, n_components, separation=0.2, random_state=0
        )
        size = os.path.getsize(path)
        _line(
            out,
            f"Gaussian mixture: {n_samples:,} rows x {n_features} features, "
            f"{size / MB:,.0f} MB written to {path} in "
            f"{time.perf_counter() - start:.1f} s",
        )
        X = np.load(path, mmap_mode="r")
        gmm = OOCGaussianMixture(
            n_components,
            max_iter=max_iter,
            random_state=0,
            n_jobs=n_jobs,
            verbose=2,
            verbose_interval=1,
        )
        with PeakMemory() as mem, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            gmm.fit(X)
            fit_time = time.perf_counter() - start
        per_iter = float(np.mean(gmm._iteration_seconds))
        _line(
            out,
            f"  OOCGaussianMixture.fit(memmap)  {fit_time:7.2f} s "
            f"({gmm.n_iter_} iterations, {per_iter:.2f} s each)   "
            f"peak extra memory {mem.peak / MB:8.1f} MB",
        )

        start_params = {
            "weights_init": gmm.weights_,
            "means_init": gmm.means_,
            "precisions_init": gmm.precisions_,
            "tol": 0.0,
            "max_iter": 5,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            subset = np.asarray(X[:subset_rows])
            start = time.perf_counter()
            reference = GaussianMixture(n_components, **start_params).fit(subset)
            ref_time = (time.perf_counter() - start) / reference.n_iter_
            del subset
            ours = OOCGaussianMixture(
                n_components, batch_size=4096, n_jobs=n_jobs, **start_params
            ).fit(X[:subset_rows])
        difference = max(
            float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
            for a, b in [
                (ours.weights_, reference.weights_),
                (ours.means_, reference.means_),
                (ours.covariances_, reference.covariances_),
                (ours.lower_bound_, reference.lower_bound_),
            ]
        )
        _line(
            out,
            f"  same start, first {subset_rows:,} rows, 5 iterations: sklearn "
            f"GaussianMixture in RAM {ref_time:.3f} s per iteration; largest "
            f"relative difference {difference:.1e}",
        )
        return {
            "n_samples": n_samples,
            "file_bytes": size,
            "time_per_iteration": per_iter,
            "n_iter": gmm.n_iter_,
            "peak_memory": mem.peak,
            "max_relative_difference": difference,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_demo(size_mb=1000.0, *, n_jobs=-1, directory=None, out=None):
    """The demo a newcomer runs first: the mixture, then ridge regression."""
    _line(
        out,
        "sklearn_ooc demo: exact out-of-core fits from .npy files, "
        "compared with scikit-learn in memory",
    )
    mix = demo_mixture(size_mb, n_jobs=n_jobs, directory=directory, out=out)
    ridge = demo_ridge(size_mb / 2, n_jobs=n_jobs, directory=directory, out=out)
    _line(out)
    _line(out, "Summary")
    _line(
        out,
        f"  mixture: {mix['n_samples']:,} rows, {mix['file_bytes'] / MB:,.0f} MB, "
        f"{mix['time_per_iteration']:.2f} s per EM iteration, peak extra memory "
        f"{mix['peak_memory'] / MB:.1f} MB, largest difference from scikit-learn "
        f"{mix['max_relative_difference']:.1e}",
    )
    _line(
        out,
        f"  ridge:   {ridge['n_samples']:,} rows, {ridge['file_bytes'] / MB:,.0f} MB, "
        f"{ridge['time']:.2f} s, peak extra memory {ridge['peak_memory'] / MB:.1f} "
        f"MB, largest difference from scikit-learn "
        f"{ridge['max_coef_difference']:.1e}",
    )
    return {"mixture": mix, "ridge": ridge}
