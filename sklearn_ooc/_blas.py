"""BLAS and LAPACK routines that update their output in place, on any thread.

numpy's ``rows.T @ rows`` runs BLAS's ``syrk`` too, but returns a new full
matrix per chunk of rows, whose lower triangle it fills and which is then
added to the running sum. :func:`syrk_update` has BLAS add each chunk's
product into one triangle of the sum itself.

:func:`qr_update` factors rows below a triangular factor with LAPACK's
``tpqrt``, which knows that the top block is triangular, where ``geqrf`` on
the two blocks stacked treats them as one full matrix: on 400,000 rows of
102 columns, 0.29-0.31 s against 0.78 s on one thread.

scipy's wrappers in :mod:`scipy.linalg.blas` would hold the GIL for the
whole call (``dsyrk``, and ``dtpqrt`` of :mod:`scipy.linalg.lapack`), so
that batches summarized on two threads took their products one after the
other. The same routines of scipy's BLAS and LAPACK, taken from
:mod:`scipy.linalg.cython_blas` and :mod:`scipy.linalg.cython_lapack` and
called through :mod:`ctypes` (which releases the GIL around a foreign
call), run on both threads at once.
"""

import ctypes

import numpy as np
from scipy.linalg import cython_blas, cython_lapack

__all__ = ["qr_update", "symmetric_from_upper", "syrk_update"]


def _routine(library, name, n_args):
    """scipy's BLAS or LAPACK routine ``name`` (of ``library``, its Cython
    module), which takes ``n_args`` pointers (the Fortran convention) and
    returns nothing."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = library.__pyx_capi__[name]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * n_args)(address)


_dsyrk = _routine(cython_blas, "dsyrk", 10)
_dtpqrt = _routine(cython_lapack, "dtpqrt", 12)
_UPPER = ctypes.c_char(b"U")
_NO_TRANSPOSE = ctypes.c_char(b"N")
_ONE = ctypes.c_double(1.0)
# BLAS's integers are 32 bits (cython_blas's interface).
_INT_MAX = 2**31 - 1
# Rows that qr_update factors at a time: with the factor, about 1 MiB for a
# hundred columns, in cache.
QR_CHUNK_ROWS = 1024
# The columns of tpqrt's blocks of reflectors. On 102 columns, 8 measured
# 0.29-0.31 s, 16 0.32-0.37 s and 32 0.45 s (one thread, 400,000 rows).
_QR_BLOCK = 8


def syrk_update(gram, rows):
    """Add ``rows.T @ rows`` to the upper triangle of ``gram``, in place.

    The lower triangle of ``gram`` is left as it is. The rows are read
    where they lie, with no copy: a C-ordered block of rows, transposed, is
    the column-major matrix BLAS's ``dsyrk`` takes, which computes one
    triangle (half the flops of a product).

    Parameters
    ----------
    gram : ndarray of shape (d, d)
        float64, F-contiguous (column-major, as BLAS stores matrices).
    rows : ndarray of shape (k, d)
        float64 rows, each contiguous (a row may be a view into wider
        rows).

    Raises
    ------
    ValueError
        If the shapes, dtypes or layouts are not these; ``gram`` is then
        unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc._blas import syrk_update
    >>> rows = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> gram = np.zeros((2, 2), order="F")
    >>> syrk_update(gram, rows)
    >>> gram
    array([[10., 14.],
           [ 0., 20.]])
    """
    k, d = rows.shape
    # The stride of a single row (or of none) says nothing of a next row's
    # place, nor a single column's of a next column's.
    stride = rows.strides[0] if k > 1 else 8 * d
    column_stride = rows.strides[1] if k > 0 and d > 1 else 8
    if (
        gram.dtype != np.float64
        or rows.dtype != np.float64
        or gram.shape != (d, d)
        or not gram.flags.f_contiguous
        or not gram.flags.writeable
        or column_stride != 8
        or stride < 8 * d
        or stride % 8
        or max(k, stride // 8) > _INT_MAX
    ):
        raise ValueError(
            "syrk_update takes a float64 F-ordered (d, d) gram and float64 "
            f"rows with contiguous rows of d values; got gram {gram.dtype} "
            f"{gram.shape} and rows {rows.dtype} {rows.shape} with strides "
            f"{rows.strides}"
        )
    if k == 0 or d == 0:
        return
    n_columns = ctypes.c_int(d)
    n_rows = ctypes.c_int(k)
    lda = ctypes.c_int(max(1, stride // 8))
    _dsyrk(
        ctypes.addressof(_UPPER),
        ctypes.addressof(_NO_TRANSPOSE),
        ctypes.addressof(n_columns),
        ctypes.addressof(n_rows),
        ctypes.addressof(_ONE),
        rows.ctypes.data,
        ctypes.addressof(lda),
        ctypes.addressof(_ONE),
        gram.ctypes.data,
        ctypes.addressof(n_columns),
    )


def symmetric_from_upper(gram):
    """The symmetric matrix whose upper triangle is ``gram``'s (a new array):
    what :func:`syrk_update` sums, whole.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc._blas import symmetric_from_upper
    >>> symmetric_from_upper(np.array([[1.0, 2.0], [0.0, 3.0]]))
    array([[1., 2.],
           [2., 3.]])
    """
    upper = np.triu(gram)
    return upper + np.triu(upper, 1).T


def qr_update(factor, rows, *, overwrite_rows=False):
    """Replace ``factor`` by the R factor of ``[[factor], [rows]]``, in place.

    Householder reflections, as a QR decomposition of the two blocks
    stacked: ``factor.T @ factor`` becomes the old one plus ``rows.T @
    rows`` to rounding, with no product of the rows with themselves formed
    (which would square their condition number). Only the upper triangle of
    ``factor`` is read and written; the lower one is left as it is. The
    signs of the factor's rows are LAPACK's (those of ``geqrf``).

    The rows are copied, :data:`QR_CHUNK_ROWS` at a time, into a
    column-major block in cache and factored there; they are not changed.
    With ``overwrite_rows``, column-major rows (a caller's chunk, built in
    cache) are factored where they are, all at once, and overwritten.

    Parameters
    ----------
    factor : ndarray of shape (d, d)
        float64, F-contiguous; its upper triangle is the factor so far
        (zeros to factor ``rows`` alone).
    rows : ndarray of shape (k, d)
        float64 rows, in any layout (with ``overwrite_rows``: each column
        contiguous, and writeable).
    overwrite_rows : bool, default=False
        Whether ``rows`` may be overwritten (with LAPACK's reflectors).

    Raises
    ------
    ValueError
        If the shapes, dtypes or layouts are not these; ``factor`` is then
        unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc._blas import qr_update
    >>> factor = np.zeros((2, 2), order="F")
    >>> qr_update(factor, np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> np.abs(np.triu(factor))
    array([[5. , 2.2],
           [0. , 0.4]])
    """
    k = rows.shape[0] if rows.ndim == 2 else 0
    d = rows.shape[1] if rows.ndim == 2 else 0
    # A single column's stride says nothing of a next column's place.
    column_stride = rows.strides[1] if rows.ndim == 2 and d > 1 else 8 * max(k, 1)
    layout_ok = (
        not overwrite_rows
        or (rows.flags.writeable and (k < 2 or rows.strides[0] == 8))
        and column_stride >= 8 * k
        and column_stride % 8 == 0
        and column_stride // 8 <= _INT_MAX
    )
    if (
        factor.dtype != np.float64
        or rows.dtype != np.float64
        or rows.ndim != 2
        or factor.shape != (d, d)
        or not factor.flags.f_contiguous
        or not factor.flags.writeable
        or d > _INT_MAX
        or (overwrite_rows and k > _INT_MAX)
        or not layout_ok
    ):
        raise ValueError(
            "qr_update takes a float64 F-ordered (d, d) factor and float64 "
            "rows of d columns (with overwrite_rows, writeable contiguous "
            f"columns); got factor {factor.dtype} {factor.shape} and rows "
            f"{rows.dtype} {rows.shape} with strides {rows.strides}"
        )
    if k == 0 or d == 0:
        return
    block = min(_QR_BLOCK, d)
    reflectors = np.empty((block, d), order="F")
    work = np.empty(block * d)
    if overwrite_rows:
        _tpqrt(factor, rows, column_stride // 8, reflectors, work)
        return
    chunk = min(k, QR_CHUNK_ROWS)
    below = np.empty((chunk, d), order="F")
    for start in range(0, k, chunk):
        part = below[: min(chunk, k - start)]
        part[:] = rows[start : start + chunk]
        _tpqrt(factor, part, chunk, reflectors, work)


def _tpqrt(factor, below, leading, reflectors, work):
    """LAPACK's ``dtpqrt`` on ``factor`` (d, d) over the column-major rows
    ``below`` (k, d) whose columns are ``leading`` apart; shapes checked by
    the caller."""
    k, d = below.shape
    block = reflectors.shape[0]
    n_rows, n_columns = ctypes.c_int(k), ctypes.c_int(d)
    n_block, zero = ctypes.c_int(block), ctypes.c_int(0)
    ld_below, info = ctypes.c_int(leading), ctypes.c_int(0)
    _dtpqrt(
        ctypes.addressof(n_rows),
        ctypes.addressof(n_columns),
        ctypes.addressof(zero),
        ctypes.addressof(n_block),
        factor.ctypes.data,
        ctypes.addressof(n_columns),
        below.ctypes.data,
        ctypes.addressof(ld_below),
        reflectors.ctypes.data,
        ctypes.addressof(n_block),
        work.ctypes.data,
        ctypes.addressof(info),
    )
    if info.value != 0:  # pragma: no cover - LAPACK refuses only bad arguments
        raise ValueError(f"LAPACK dtpqrt failed (info={info.value})")
