"""Row-wise kernels behind the weighted moment statistics.

Every function here takes arrays and scalars only, releases the GIL and is
cached on disk, so that batch workers on threads run them in parallel.
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def shifted_weighted_rows(X, Y, w, shift, out, peak=None):
    """Write ``sqrt(w_i) * ([X_i, Y_i] - shift)`` into ``out`` row by row.

    ``Y`` may have zero columns and ``w`` zero length (unit weights). Returns
    the weighted column sums of ``[X, Y] - shift`` and the sum of the weights,
    from which the caller corrects the shifted scatter ``out.T @ out`` to the
    scatter about the mean. The shift is close to the mean, so the correction
    is small and no digits are lost to cancellation.

    ``peak`` (length ``d + t``, zeros on entry), if given, receives the
    largest magnitude written to each column of ``out``, from which the
    caller scales columns whose products leave float64's range.
    """
    n, d = X.shape
    t = Y.shape[1]
    weighted = w.shape[0] > 0
    sums = np.zeros(d + t)
    total = 0.0
    for i in range(n):
        wi = w[i] if weighted else 1.0
        root = np.sqrt(wi)
        for j in range(d):
            v = X[i, j] - shift[j]
            u = root * v
            out[i, j] = u
            sums[j] += wi * v
            if peak is not None:
                peak[j] = max(peak[j], abs(u))
        for j in range(t):
            v = Y[i, j] - shift[d + j]
            u = root * v
            out[i, d + j] = u
            sums[d + j] += wi * v
            if peak is not None:
                peak[d + j] = max(peak[d + j], abs(u))
        total += wi
    return sums, total


@njit(nogil=True, cache=True)
def least_squares_rows(X, Y, root, x_shift, y_shift, out):
    """Write ``root_i * [1, X_i - x_shift, Y_i - y_shift]`` into row ``i`` of
    ``out``: the rows of a weighted least-squares problem, shifted.

    ``root`` (the square roots of the rows' weights) may have zero length
    (unit weights: the rows are not multiplied). ``out`` is written a column
    at a time, the layout of the caller's column-major chunk, which LAPACK
    factors where it lies; ``X``'s rows are then read from cache.

    Raises ValueError, before anything is written, unless ``Y``, ``root``
    (when given) and ``out`` have a row per row of ``X``, the shifts a value
    per column of ``X`` and ``Y``, and ``out`` ``1 + d + t`` columns.
    """
    n, d = X.shape
    t = Y.shape[1]
    weighted = root.shape[0] > 0
    if (
        Y.shape[0] != n
        or (weighted and root.shape[0] != n)
        or x_shift.shape[0] != d
        or y_shift.shape[0] != t
        or out.shape[0] != n
        or out.shape[1] != 1 + d + t
    ):
        raise ValueError("least_squares_rows: Y, root, the shifts or out do not fit X")
    ones = out[:, 0]
    for i in range(n):
        ones[i] = root[i] if weighted else 1.0
    for j in range(d):
        _shifted_column(out[:, 1 + j], X[:, j], x_shift[j], root, weighted)
    for j in range(t):
        _shifted_column(out[:, 1 + d + j], Y[:, j], y_shift[j], root, weighted)


@njit(nogil=True, cache=True)
def _shifted_column(column, source, shift, root, weighted):
    if weighted:
        for i in range(column.shape[0]):
            column[i] = root[i] * (source[i] - shift)
    else:
        for i in range(column.shape[0]):
            column[i] = source[i] - shift


@njit(nogil=True, cache=True)
def shifted_column_sums(X, shift, delta, sums):
    """Add ``(X[i] - shift) - delta`` of every row ``i`` to ``sums``: the sums
    of a centering's first (``delta`` zero) and second pass.

    Raises ValueError, before anything is added, unless ``shift``, ``delta``
    and ``sums`` have a value per column of ``X``.
    """
    n, d = X.shape
    if shift.shape[0] != d or delta.shape[0] != d or sums.shape[0] != d:
        raise ValueError("shifted_column_sums: shift, delta or sums do not fit X")
    for i in range(n):
        for j in range(d):
            sums[j] += (X[i, j] - shift[j]) - delta[j]


@njit(nogil=True, cache=True)
def centered_columns(X, shift, delta, again, out):
    """``out[i, j] = ((X[i, j] - shift[j]) - delta[j]) - again[j]``: rows
    centered twice, written a column at a time (the layout of a caller's
    column-major chunk, which LAPACK factors where it lies).

    Raises ValueError, before anything is written, unless the three shifts
    have a value per column of ``X`` and ``out`` is of ``X``'s shape.
    """
    n, d = X.shape
    if (
        shift.shape[0] != d
        or delta.shape[0] != d
        or again.shape[0] != d
        or out.shape[0] != n
        or out.shape[1] != d
    ):
        raise ValueError("centered_columns: the shifts or out do not fit X")
    for j in range(d):
        _centered_column(out[:, j], X[:, j], shift[j], delta[j], again[j])


@njit(nogil=True, cache=True)
def _centered_column(column, source, shift, delta, again):
    for i in range(column.shape[0]):
        column[i] = ((source[i] - shift) - delta) - again


@njit(nogil=True, cache=True)
def first_nonfinite_row(A):
    """Index of the first row of a 2-D array holding a NaN or an infinity, or -1."""
    n, d = A.shape
    for i in range(n):
        for j in range(d):
            if not np.isfinite(A[i, j]):
                return i
    return -1


@njit(nogil=True, cache=True)
def first_negative(a):
    """Index of the first negative entry of a 1-D array, or -1."""
    for i in range(a.shape[0]):
        if a[i] < 0:
            return i
    return -1


@njit(nogil=True, cache=True)
def column_sums_and_cross(X, Y):
    """Column sums of ``X`` and ``Y``, ``X.T @ Y`` and ``Y.T @ Y`` in one read.

    The products that involve the few target columns, computed while the
    rows of ``X`` stream by; ``X.T @ X`` is left to BLAS. Accumulators run
    along the rows of ``X`` so that the inner loops vectorize.
    """
    n, d = X.shape
    t = Y.shape[1]
    x_sums = np.zeros(d)
    y_sums = np.zeros(t)
    yx = np.zeros((t, d))
    yy = np.zeros((t, t))
    for i in range(n):
        row = X[i]
        for j in range(d):
            x_sums[j] += row[j]
        for k in range(t):
            yk = Y[i, k]
            y_sums[k] += yk
            acc = yx[k]
            for j in range(d):
                acc[j] += row[j] * yk
            for m in range(t):
                yy[k, m] += yk * Y[i, m]
    return x_sums, y_sums, yx.T.copy(), yy
