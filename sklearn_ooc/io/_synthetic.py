"""Synthetic data sets written to ``.npy`` files chunk by chunk."""

import numpy as np
from sklearn.utils import check_random_state

from ._npy_writer import NpyWriter


def _chunks(n_samples, chunk_rows):
    for start in range(0, n_samples, chunk_rows):
        yield start, min(start + chunk_rows, n_samples)


def write_regression(
    X_path,
    y_path,
    n_samples,
    n_features,
    *,
    noise=1.0,
    offset=0.0,
    dtype=np.float64,
    chunk_rows=65536,
    random_state=None,
):
    """Write a linear regression problem of any size to two ``.npy`` files.

    ``X`` is standard normal plus ``offset``; ``y = X @ coef + intercept +
    noise * e`` with standard normal ``e``. Only ``chunk_rows`` rows are in
    memory at a time.

    Parameters
    ----------
    X_path, y_path : str or os.PathLike
        Output files.
    n_samples, n_features : int
        Shape of ``X``.
    noise : float, default=1.0
        Standard deviation of the noise.
    offset : float, default=0.0
        Added to every entry of ``X`` (data far from the origin).
    dtype : dtype, default=float64
        Element type of ``X``; ``y`` is float64.
    chunk_rows : int, default=65536
        Rows generated and written at a time.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    coef : ndarray of shape (n_features,)
        The true coefficients.
    intercept : float
        The true intercept.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.io import write_regression
    >>> d = tempfile.mkdtemp()
    >>> coef, _ = write_regression(os.path.join(d, "X.npy"), os.path.join(d, "y.npy"),
    ...                            1000, 3, random_state=0)
    >>> np.load(os.path.join(d, "X.npy"), mmap_mode="r").shape
    (1000, 3)
    """
    rng = check_random_state(random_state)
    coef = rng.uniform(-2, 2, size=n_features)
    intercept = float(rng.uniform(-1, 1))
    with (
        NpyWriter(X_path, (n_samples, n_features), dtype) as X_out,
        NpyWriter(y_path, (n_samples,)) as y_out,
    ):
        for start, stop in _chunks(n_samples, chunk_rows):
            X = rng.standard_normal((stop - start, n_features)) + offset
            X = X.astype(dtype, copy=False)
            y = (X - offset) @ coef + offset * coef.sum() + intercept
            y += noise * rng.standard_normal(stop - start)
            X_out.write(X)
            y_out.write(y)
    return coef, intercept
