"""``python -m sklearn_ooc demo``: fit from a file on disk, compare with memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings

import numpy as np

from .io import write_mixture, write_regression
from .linear_model import StreamingRidge
from .mixture import OOCGaussianMixture
from .utils import PeakMemory

MB = 1e6

# Memory the capped fit may allocate beyond what Python, numpy, scikit-learn
# and the package hold once imported (see demo_ridge).
ALLOWANCE_MB = 256

# The capped child: imports and compiles on a few rows, then caps the memory
# it may allocate (RLIMIT_DATA: heap and private mappings; a memory-mapped
# file is not counted, its pages are the kernel's cache) and fits.
_CAPPED = """
import json, resource, sys, threading, time, warnings
import numpy as np
warnings.simplefilter("ignore")
# A thread's stack is reserved whole, and counted by the cap: 2 MiB is
# plenty for the reader and worker threads.
threading.stack_size(2 << 20)
args = json.loads(sys.argv[1])
X = np.load(args["X"], mmap_mode="r")
y = np.load(args["y"], mmap_mode="r")
if args["who"] == "sklearn_ooc":
    from sklearn_ooc.linear_model import StreamingRidge
    from sklearn_ooc.utils import PeakMemory
    StreamingRidge(n_jobs=args["n_jobs"]).fit(X[:1000], y[:1000])
else:
    from sklearn.linear_model import Ridge
    Ridge(solver="cholesky").fit(np.asarray(X[:1000]), np.asarray(y[:1000]))
with open("/proc/self/status") as f:
    data = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:")]
cap = data[0] + args["allowance"]
resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
start = time.perf_counter()
try:
    if args["who"] == "sklearn_ooc":
        with PeakMemory() as mem:
            model = StreamingRidge(alpha=1.0, n_jobs=args["n_jobs"]).fit(X, y)
        peak = mem.peak
    else:
        model = Ridge(alpha=1.0, solver="cholesky").fit(np.load(args["X"]), y)
        peak = None
except MemoryError:
    print(json.dumps({"error": "MemoryError"}))
    sys.exit(0)
np.save(args["coef"], np.append(model.coef_, model.intercept_))
print(json.dumps({"time": time.perf_counter() - start, "peak": peak}))
"""


def _line(out, text=""):
    print(text, file=out, flush=True)


def _capped_fit(who, X_path, y_path, coef_path, n_jobs, allowance):
    """Fit ridge regression in a child process allowed ``allowance`` bytes
    beyond its imports; the figures it reports (or its ``MemoryError``)."""
    args = {
        "who": who,
        "X": X_path,
        "y": y_path,
        "coef": coef_path,
        "n_jobs": n_jobs,
        "allowance": allowance,
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CAPPED), json.dumps(args)],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        # Under the cap an allocation may fail where no MemoryError is
        # raised (a thread that cannot start, say): the fit failed all the
        # same.
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last}
    return json.loads(lines[-1])


def _in_memory_fits(n_bytes):
    """Whether scikit-learn can fit ``n_bytes`` of data in this machine's
    memory: the data and three times it in temporaries, under half of it."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return True
    return 4 * n_bytes < total / 2


def demo_ridge(
    size_mb=500.0,
    *,
    n_features=50,
    n_jobs=-1,
    allowance_mb=ALLOWANCE_MB,
    directory=None,
    out=None,
):
    """Ridge regression from a ``.npy`` file larger than the memory allowed.

    Writes a regression problem of ``size_mb`` megabytes chunk by chunk to a
    temporary directory. Then, each in a process that may allocate only
    ``allowance_mb`` megabytes beyond what its imports hold (on Linux,
    ``RLIMIT_DATA``), fits :class:`~sklearn_ooc.linear_model.StreamingRidge`
    from the file as a memory map, and :class:`sklearn.linear_model.Ridge`
    on the file loaded. Last, scikit-learn's Ridge without a limit, in this
    process, gives the reference of the coefficients. Prints the time, the
    peak extra memory and the largest difference, and removes the files.

    Returns
    -------
    dict
        The figures printed.
    """
    from sklearn.linear_model import Ridge

    n_samples = max(10, int(size_mb * MB / (8 * n_features)))
    allowance = int(allowance_mb * MB)
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
        figures = {"n_samples": n_samples, "file_bytes": size}
        capped = sys.platform.startswith("linux")
        if capped:
            larger = "larger" if size > allowance else "not larger"
            _line(
                out,
                f"  each fit below in a process allowed {allowance / MB:,.0f} MB "
                f"beyond its imports: the {size / MB:,.0f} MB file is {larger} "
                "than that",
            )
            coef_path = os.path.join(tmp, "coef.npy")
            ours = _capped_fit(
                "sklearn_ooc", X_path, y_path, coef_path, n_jobs, allowance
            )
            if "error" in ours:
                raise RuntimeError(
                    f"StreamingRidge failed within {allowance / MB:,.0f} MB: "
                    f"{ours['error']}"
                )
            _line(
                out,
                f"  StreamingRidge.fit(memmap)            {ours['time']:7.2f} s   "
                f"peak extra memory {ours['peak'] / MB:8.1f} MB",
            )
            coef = np.load(coef_path)
            os.remove(coef_path)
            theirs = _capped_fit("sklearn", X_path, y_path, coef_path, 1, allowance)
            if "error" in theirs:
                _line(
                    out,
                    f"  sklearn Ridge (load + fit in RAM)     failed: "
                    f"{theirs['error']}",
                )
            else:
                _line(
                    out,
                    f"  sklearn Ridge (load + fit in RAM)     {theirs['time']:7.2f} "
                    "s   fits within the allowance: the file is small",
                )
            figures.update(
                time=ours["time"],
                peak_memory=ours["peak"],
                allowance=allowance,
                capped_reference=theirs,
            )
        else:
            X = np.load(X_path, mmap_mode="r")
            y = np.load(y_path, mmap_mode="r")
            with PeakMemory() as mem:
                start = time.perf_counter()
                model = StreamingRidge(alpha=1.0, n_jobs=n_jobs).fit(X, y)
                figures.update(time=time.perf_counter() - start)
            figures.update(peak_memory=mem.peak)
            coef = np.append(model.coef_, model.intercept_)
            _line(
                out,
                f"  StreamingRidge.fit(memmap)            {figures['time']:7.2f} s"
                f"   peak extra memory {mem.peak / MB:8.1f} MB (no memory limit "
                "on this system)",
            )
        if not _in_memory_fits(size):
            _line(out, "  (scikit-learn's reference skipped: the data would not fit)")
            return figures
        with PeakMemory() as ref_mem:
            start = time.perf_counter()
            X_mem, y_mem = np.load(X_path), np.load(y_path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                reference = Ridge(alpha=1.0, solver="cholesky").fit(X_mem, y_mem)
            ref_time = time.perf_counter() - start
            del X_mem, y_mem
        expected = np.append(reference.coef_, reference.intercept_)
        difference = float(np.max(np.abs(coef - expected)) / np.max(np.abs(expected)))
        _line(
            out,
            f"  sklearn Ridge, no limit (reference)   {ref_time:7.2f} s   "
            f"peak extra memory {ref_mem.peak / MB:8.1f} MB",
        )
        _line(
            out,
            "  largest relative difference of the coefficients and intercept: "
            f"{difference:.1e}",
        )
        figures.update(
            reference_time=ref_time,
            reference_peak_memory=ref_mem.peak,
            max_relative_difference=difference,
        )
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def demo_mixture(
    size_mb=1000.0,
    *,
    n_features=50,
    n_components=3,
    max_iter=5,
    n_jobs=-1,
    directory=None,
    out=None,
    verbose=2,
):
    """Gaussian mixture from a ``.npy`` file, beside scikit-learn on the same data.

    Writes a mixture of ``size_mb`` megabytes chunk by chunk to a temporary
    directory and fits :class:`~sklearn_ooc.mixture.OOCGaussianMixture` from
    it as a memory map (a line per EM iteration, a progress bar per pass),
    then :class:`sklearn.mixture.GaussianMixture` on the same rows loaded in
    memory, from the same start for the same ``max_iter`` iterations.
    Prints the time per iteration and the peak extra memory of both, and
    the largest relative difference of the fitted parameters. The files are
    removed.

    Returns
    -------
    dict
        The figures printed.
    """
    from sklearn.mixture import GaussianMixture

    n_samples = max(10 * n_components, int(size_mb * MB / (8 * n_features)))
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
        # The same start for both: k rows spread over the file, equal
        # weights, identity precisions.
        rows = np.linspace(0, n_samples - 1, n_components).astype(int)
        start_params = {
            "weights_init": np.full(n_components, 1.0 / n_components),
            "means_init": np.asarray(X[rows], dtype=np.float64),
            "precisions_init": np.array([np.eye(n_features)] * n_components),
            "tol": 0.0,
            "max_iter": max_iter,
        }
        gmm = OOCGaussianMixture(
            n_components,
            n_jobs=n_jobs,
            verbose=verbose,
            verbose_interval=1,
            **start_params,
        )
        with PeakMemory() as mem, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gmm.fit(X)
        per_iter = float(np.median(gmm._iteration_seconds))
        _line(
            out,
            f"  OOCGaussianMixture.fit(memmap)        {per_iter:7.3f} s per "
            f"iteration   peak extra memory {mem.peak / MB:8.1f} MB",
        )
        figures = {
            "n_samples": n_samples,
            "file_bytes": size,
            "time_per_iteration": per_iter,
            "n_iter": gmm.n_iter_,
            "peak_memory": mem.peak,
        }
        if not _in_memory_fits(size):
            _line(out, "  (scikit-learn's reference skipped: the data would not fit)")
            return figures
        with PeakMemory() as ref_mem, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X_mem = np.load(path)
            start = time.perf_counter()
            reference = GaussianMixture(n_components, **start_params).fit(X_mem)
            # scikit-learn's fit ends with one more E-step (for its labels).
            ref_time = (time.perf_counter() - start) / (reference.n_iter_ + 1)
            del X_mem
        difference = max(
            float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
            for a, b in [
                (gmm.weights_, reference.weights_),
                (gmm.means_, reference.means_),
                (gmm.covariances_, reference.covariances_),
                (gmm.lower_bound_, reference.lower_bound_),
            ]
        )
        _line(
            out,
            f"  sklearn GaussianMixture (in RAM)      {ref_time:7.3f} s per "
            f"iteration   peak extra memory {ref_mem.peak / MB:8.1f} MB "
            "(the data loaded, and its temporaries)",
        )
        _line(
            out,
            f"  same rows, same start, {max_iter} iterations each: largest "
            f"relative difference of weights, means, covariances and lower "
            f"bound {difference:.1e}",
        )
        figures.update(
            reference_time_per_iteration=ref_time,
            reference_peak_memory=ref_mem.peak,
            max_relative_difference=difference,
        )
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_demo(size_mb=1000.0, *, n_jobs=-1, directory=None, out=None, quiet=False):
    """The demo a newcomer runs first: the mixture, then ridge regression.

    ``quiet`` drops the progress of each pass (the per-iteration lines stay).
    """
    _line(
        out,
        "sklearn_ooc demo: exact out-of-core fits from .npy files, compared with "
        "scikit-learn fitted on the same data in memory",
    )
    mix = demo_mixture(
        size_mb, n_jobs=n_jobs, directory=directory, out=out, verbose=1 if quiet else 2
    )
    ridge = demo_ridge(size_mb / 2, n_jobs=n_jobs, directory=directory, out=out)
    _line(out)
    _line(out, "Summary")
    for name, figures in (("mixture", mix), ("ridge", ridge)):
        line = (
            f"  {name + ':':<9}{figures['n_samples']:,} rows, "
            f"{figures['file_bytes'] / MB:,.0f} MB, peak extra memory "
            f"{figures['peak_memory'] / MB:.1f} MB"
        )
        if "allowance" in figures:
            line += f" (allowed {figures['allowance'] / MB:,.0f} MB)"
        if "max_relative_difference" in figures:
            line += (
                ", largest relative difference from scikit-learn on the same "
                f"data {figures['max_relative_difference']:.1e}"
            )
        _line(out, line)
    return {"mixture": mix, "ridge": ridge}
