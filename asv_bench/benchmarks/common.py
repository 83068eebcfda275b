"""Data sets cached as .npy files, and the helpers every benchmark shares.

Files are written once, chunk by chunk, to ``$SKLEARN_OOC_BENCH_DATA`` (or
``~/.cache/sklearn_ooc_bench``) and reused by later runs, so a run times the
fits, not the data generation. Reading a file once before timing puts it in
the page cache ("page-cached memmap").
"""

import os

import numpy as np

from sklearn_ooc.io import write_mixture, write_regression

CACHE = os.environ.get(
    "SKLEARN_OOC_BENCH_DATA",
    os.path.join(os.path.expanduser("~"), ".cache", "sklearn_ooc_bench"),
)


def regression_files(n_samples, n_features, *, offset=0.0):
    """Paths of a cached regression problem (written if missing)."""
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, f"regression_{n_samples}x{n_features}_{offset:g}")
    X_path, y_path = stem + "_X.npy", stem + "_y.npy"
    if not (os.path.exists(X_path) and os.path.exists(y_path)):
        write_regression(
            X_path, y_path, n_samples, n_features, offset=offset, random_state=0
        )
    return X_path, y_path


def page_cached(path):
    """The file as a read-only memmap whose pages are all in the page cache."""
    X = np.load(path, mmap_mode="r")
    step = max(1, (1 << 24) // max(1, X[0].nbytes))
    for start in range(0, X.shape[0], step):
        np.asarray(X[start : start + step]).sum()
    return X


def mixture_file(
    n_samples, n_features, n_components, *, separation=4.0, dtype=np.float64
):
    """Path of a cached Gaussian mixture sample (written if missing).

    A float32 file holds the float64 file's values rounded to float32.
    """
    os.makedirs(CACHE, exist_ok=True)
    suffix = "" if np.dtype(dtype) == np.float64 else f"_{np.dtype(dtype).name}"
    path = os.path.join(
        CACHE,
        f"mixture_{n_samples}x{n_features}_k{n_components}_s{separation:g}{suffix}.npy",
    )
    if not os.path.exists(path):
        write_mixture(
            path,
            n_samples,
            n_features,
            n_components,
            separation=separation,
            dtype=dtype,
            random_state=0,
        )
    return path


def blobs_file(n_samples, n_features, centers, cluster_std):
    """The seed's ``make_blobs`` data, cached as a .npy file."""
    from sklearn.datasets import make_blobs

    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"blobs_{n_samples}x{n_features}_c{centers}.npy")
    if not os.path.exists(path):
        X, _ = make_blobs(
            n_samples,
            n_features,
            centers=centers,
            cluster_std=cluster_std,
            random_state=0,
        )
        np.save(path, X)
    return path


def float32_regression_file(n_samples, n_features):
    """A cached float32 regression problem (the SGD benchmark's)."""
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, f"regression32_{n_samples}x{n_features}")
    X_path, y_path = stem + "_X.npy", stem + "_y.npy"
    if not (os.path.exists(X_path) and os.path.exists(y_path)):
        write_regression(
            X_path, y_path, n_samples, n_features, dtype=np.float32, random_state=0
        )
    return X_path, y_path


def classification_files(n_samples, n_features):
    """A cached binary problem: the regression problem's ``X`` and labels.

    The labels are drawn from a logistic model of the standardized
    regression target (slope 2, seed 0), so the classes overlap and the
    fit's optimum is finite.
    """
    X_path, y_path = regression_files(n_samples, n_features)
    labels_path = y_path[: -len("_y.npy")] + "_labels.npy"
    if not os.path.exists(labels_path):
        y = np.load(y_path)
        z = (y - y.mean()) / y.std()
        p = 1.0 / (1.0 + np.exp(-2.0 * z))
        labels = (np.random.RandomState(0).uniform(size=len(y)) < p).astype(np.float64)
        tmp = f"{labels_path}.{os.getpid()}.tmp.npy"
        np.save(tmp, labels)
        os.replace(tmp, labels_path)
    return X_path, labels_path


def cold_regression_files(n_samples, n_features):
    """A regression problem of its own for the cold-data benchmarks.

    Its own file, so that no other benchmark (in this process or another)
    holds it mapped: the kernel does not drop the pages of a mapped file.
    """
    os.makedirs(CACHE, exist_ok=True)
    stem = os.path.join(CACHE, f"cold_regression_{n_samples}x{n_features}")
    X_path, y_path = stem + "_X.npy", stem + "_y.npy"
    if not (os.path.exists(X_path) and os.path.exists(y_path)):
        write_regression(X_path, y_path, n_samples, n_features, random_state=1)
    return X_path, y_path


# -- sklearnex (scikit-learn-intelex), an optional reference -----------------

NO_SKLEARNEX = "SKLEARN_OOC_BENCH_NO_SKLEARNEX"


def sklearnex_module(name):
    """``sklearnex.<name>`` (e.g. ``"linear_model"``), or NotImplementedError.

    scikit-learn-intelex is an optional reference (the ``bench`` extra): its
    benchmarks are skipped where it is not installed, or where the
    environment variable ``SKLEARN_OOC_BENCH_NO_SKLEARNEX`` is set (to time
    without it on a machine that has it). Its estimators are used directly,
    never through ``patch_sklearn()``, which would replace scikit-learn's
    classes for every other benchmark of the process.
    """
    import importlib

    if os.environ.get(NO_SKLEARNEX):
        raise NotImplementedError(f"{NO_SKLEARNEX} is set")
    try:
        return importlib.import_module(f"sklearnex.{name}")
    except ImportError as exc:
        raise NotImplementedError("scikit-learn-intelex is not installed") from exc


# -- the machine's floors ----------------------------------------------------


def gemm_flops_per_second(dtype=np.float64, size=2048, repeat=5):
    """The best rate of numpy's square matrix product (2 n^3 flops), flop/s."""
    import time

    rng = np.random.RandomState(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def read_seconds(X, n_threads=2, repeat=3):
    """The best time to read every byte of the memmap ``X`` (page-cached).

    Chunks of 4 MB are summed on ``n_threads`` threads (numpy releases the
    GIL), twice over the same mapping before timing, as a fit reads it.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    flat = np.asarray(X).reshape(-1)
    chunk = max(1, (1 << 22) // flat.itemsize)

    def part(i):
        for start in range(i * chunk, flat.size, n_threads * chunk):
            flat[start : start + chunk].sum()

    best = np.inf
    with ThreadPoolExecutor(n_threads) as pool:
        for _ in range(repeat + 1):
            start = time.perf_counter()
            list(pool.map(part, range(n_threads)))
            best = min(best, time.perf_counter() - start)
    return best


# -- cold data ---------------------------------------------------------------


def evict(path):
    """Drop the file's pages from the page cache (after writing back).

    The kernel keeps the pages a process has mapped: every memmap of the
    file must be closed first. See :func:`resident_fraction`.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident_fraction(path):
    """The fraction of the file's pages in the page cache (``mincore``)."""
    import ctypes
    import mmap

    size = os.path.getsize(path)
    if size == 0:
        return 0.0
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    n_pages = (size + page - 1) // page
    with open(path, "rb") as f:
        mapped = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    try:
        view = np.frombuffer(mapped, dtype=np.uint8)
        vec = np.zeros(n_pages, dtype=np.uint8)
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        if libc.mincore(view.ctypes.data, size, vec.ctypes.data) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        resident = float(np.count_nonzero(vec & 1)) / n_pages
        del view
    finally:
        mapped.close()
    return resident


def cold_read_seconds(path, buffer_bytes=1 << 23):
    """Evict the file, then read it sequentially as ``cat`` does; seconds."""
    import time

    evict(path)
    buf = bytearray(buffer_bytes)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        start = time.perf_counter()
        while f.readinto(view):
            pass
        return time.perf_counter() - start


def cold_run_seconds(path, run):
    """Evict the file, map it and time ``run(X)`` on the memmap; seconds.

    Where ``run`` returns a number, that is the time (of the part of the
    call that is one iteration). Also the fraction of the file's pages still
    resident after the eviction (0 unless the file is mapped elsewhere), as
    ``(seconds, resident)``.
    """
    import gc
    import time

    gc.collect()
    evict(path)
    resident = resident_fraction(path)
    X = np.load(path, mmap_mode="r")
    start = time.perf_counter()
    timed = run(X)
    seconds = time.perf_counter() - start if timed is None else timed
    del X
    gc.collect()
    return seconds, resident


def warm_run_seconds(path, run, repeat=3):
    """The best time of ``run(X)`` on the page-cached memmap of the file
    (or of the numbers ``run`` returns, as in :func:`cold_run_seconds`)."""
    import time

    X = page_cached(path)
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        timed = run(X)
        best = min(best, time.perf_counter() - start if timed is None else timed)
    del X
    return best
