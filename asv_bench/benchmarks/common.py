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


def mixture_file(n_samples, n_features, n_components, *, separation=4.0):
    """Path of a cached Gaussian mixture sample (written if missing)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(
        CACHE, f"mixture_{n_samples}x{n_features}_k{n_components}_s{separation:g}.npy"
    )
    if not os.path.exists(path):
        write_mixture(
            path,
            n_samples,
            n_features,
            n_components,
            separation=separation,
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
