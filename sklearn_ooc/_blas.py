"""BLAS routines that update their output in place, on any thread.

numpy's ``rows.T @ rows`` runs BLAS's ``syrk`` too, but returns a new full
matrix per chunk of rows, whose lower triangle it fills and which is then
added to the running sum. :func:`syrk_update` has BLAS add each chunk's
product into one triangle of the sum itself.

scipy's wrappers in :mod:`scipy.linalg.blas` would hold the GIL for the
whole call, so that batches summarized on two threads took their products
one after the other. The same routines of scipy's BLAS, taken from
:mod:`scipy.linalg.cython_blas` and called through :mod:`ctypes` (which
releases the GIL around a foreign call), run on both threads at once.
"""

import ctypes

import numpy as np
from scipy.linalg import cython_blas

__all__ = ["symmetric_from_upper", "syrk_update"]


def _routine(name, n_args):
    """scipy's BLAS routine ``name``, which takes ``n_args`` pointers (the
    Fortran convention) and returns nothing."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    capsule = cython_blas.__pyx_capi__[name]
    address = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * n_args)(address)


_dsyrk = _routine("dsyrk", 10)
_UPPER = ctypes.c_char(b"U")
_NO_TRANSPOSE = ctypes.c_char(b"N")
_ONE = ctypes.c_double(1.0)
# BLAS's integers are 32 bits (cython_blas's interface).
_INT_MAX = 2**31 - 1


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
