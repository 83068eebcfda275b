"""Synthetic data sets written to ``.npy`` files chunk by chunk."""

import numpy as np
from sklearn.utils import check_random_state

from ._npy_writer import NpyWriter, npy_writers


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
    # Both files are complete before either appears.
    with npy_writers(
        (X_path, (n_samples, n_features), dtype), (y_path, (n_samples,))
    ) as (X_out, y_out):
        for start, stop in _chunks(n_samples, chunk_rows):
            X = rng.standard_normal((stop - start, n_features)) + offset
            X = X.astype(dtype, copy=False)
            y = (X - offset) @ coef + offset * coef.sum() + intercept
            y += noise * rng.standard_normal(stop - start)
            X_out.write(X)
            y_out.write(y)
    return coef, intercept


def write_mixture(
    X_path,
    n_samples,
    n_features,
    n_components,
    *,
    separation=4.0,
    offset=0.0,
    dtype=np.float64,
    chunk_rows=65536,
    random_state=None,
):
    """Write rows from a Gaussian mixture to a ``.npy`` file, chunk by chunk.

    Component means are standard normal times ``separation`` (plus
    ``offset``), covariances random with eigenvalues between 0.5 and 2, and
    weights uniform on the simplex; only ``chunk_rows`` rows are in memory at
    a time.

    Parameters
    ----------
    X_path : str or os.PathLike
        Output file.
    n_samples, n_features : int
        Shape of the data.
    n_components : int
        Components of the mixture.
    separation : float, default=4.0
        Scale of the spread of the component means.
    offset : float, default=0.0
        Added to every entry (data far from the origin).
    dtype : dtype, default=float64
        Element type of the file.
    chunk_rows : int, default=65536
        Rows generated and written at a time.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features)
        The true parameters.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.io import write_mixture
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> weights, means, _ = write_mixture(path, 1000, 2, 3, random_state=0)
    >>> np.load(path, mmap_mode="r").shape, means.shape
    ((1000, 2), (3, 2))
    """
    rng = check_random_state(random_state)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.standard_normal((n_components, n_features)) * separation + offset
    factors = []
    for _ in range(n_components):
        q, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
        factors.append(q * np.sqrt(rng.uniform(0.5, 2.0, n_features)))
    covariances = np.array([f @ f.T for f in factors])
    with NpyWriter(X_path, (n_samples, n_features), dtype) as out:
        for start, stop in _chunks(n_samples, chunk_rows):
            labels = rng.choice(n_components, size=stop - start, p=weights)
            rows = rng.standard_normal((stop - start, n_features))
            for k, factor in enumerate(factors):
                mine = labels == k
                rows[mine] = rows[mine] @ factor.T + means[k]
            out.write(rows)
    return weights, means, covariances
