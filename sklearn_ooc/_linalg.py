"""Dense linear algebra in tiles, for matrices in memory or on disk alike.

OpenBLAS's threaded ``potrf`` crashes on some processors for large
matrices (a segmentation fault from n ~ 16,000 with two threads on Intel
AVX-512 machines), and a matrix on disk cannot be handed to LAPACK at all.
The factorization here is blocked instead: LAPACK factors only square
tiles of at most a few thousand rows, with one BLAS thread, and everything
else is matrix products and triangular solves of whole panels, where
threaded BLAS is safe and fast.

The matrix is any C-ordered two-dimensional array that supports slicing
and assignment: an ndarray, or a memory map of a ``.npy`` file larger than
memory. Only its lower triangle is read and written, and it is read in
whole row blocks, contiguous on disk.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

__all__ = ["cholesky_tiled", "cho_solve_tiled", "tile_size"]


def tile_size(n, budget_bytes, *, smallest=128, largest=2048):
    """Rows of a tile so that the working set fits ``budget_bytes``.

    The factorization holds a ``tile x n`` copy of a row panel and
    ``tile x tile`` temporaries; the solve, ``tile x n`` of the factor.
    """
    tile = int(budget_bytes // (16 * max(n, 1)))
    return int(min(max(tile, smallest), largest, max(n, 1)))


def _factor_tile(block):
    """The lower Cholesky factor of one diagonal tile, by LAPACK on one thread."""
    with threadpool_limits(limits=1, user_api="blas"):
        factor, info = lapack.dpotrf(block, lower=1, clean=1)
    if info > 0:
        raise linalg.LinAlgError(
            f"the matrix is not positive definite (leading minor {info} of a "
            "diagonal tile)"
        )
    if info < 0:  # pragma: no cover - an argument of ours LAPACK refused
        raise ValueError(f"dpotrf: illegal value in argument {-info}")
    return factor


def cholesky_tiled(A, tile, on_tile=None):
    """Factor the symmetric positive definite ``A`` as ``L L^T``, in place.

    Left-looking by panels of ``tile`` columns: panel ``j`` is first updated
    with all the factor's columns to its left (one matrix product per block
    of rows), its diagonal tile is factored by ``potrf`` on one thread, and
    the rows below are solved against that tile (``trsm``).

    Parameters
    ----------
    A : ndarray or numpy.memmap of shape (n, n), float64, C-ordered
        The matrix; its lower triangle is read and replaced by ``L``. The
        upper triangle of the diagonal tiles is set to zero; the rest of the
        upper triangle is neither read nor written.
    tile : int
        Rows and columns of a tile.
    on_tile : callable, default=None
        Called with ``(columns done, n)`` after each panel (progress).

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``A`` is not positive definite; ``A`` is then partly overwritten.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = rng.normal(size=(300, 300))
    >>> A = M @ M.T + 300 * np.eye(300)
    >>> L = A.copy()
    >>> cholesky_tiled(L, tile=64)
    >>> np.allclose(np.tril(L), np.linalg.cholesky(A))
    True
    """
    n = A.shape[0]
    if A.ndim != 2 or A.shape[1] != n:
        raise ValueError(f"cholesky_tiled needs a square matrix, got {A.shape}")
    tile = max(1, int(tile))
    for j0 in range(0, n, tile):
        j1 = min(n, j0 + tile)
        if j0:
            # The factor's rows of this panel, left of it, once in memory.
            left = np.array(A[j0:j1, :j0])
            for r0 in range(j0, n, tile):
                r1 = min(n, r0 + tile)
                A[r0:r1, j0:j1] -= A[r0:r1, :j0] @ left.T
            del left
        diagonal = _factor_tile(A[j0:j1, j0:j1])
        A[j0:j1, j0:j1] = diagonal
        for r0 in range(j1, n, tile):
            r1 = min(n, r0 + tile)
            # X L^T = B for the rows below the diagonal tile.
            A[r0:r1, j0:j1] = linalg.solve_triangular(
                diagonal, A[r0:r1, j0:j1].T, lower=True, check_finite=False
            ).T
        if on_tile is not None:
            on_tile(j1, n)


def cho_solve_tiled(L, b, tile):
    """Solve ``L L^T x = b`` with the factor of :func:`cholesky_tiled`.

    Two passes over the factor's row blocks (the lower triangle only):
    forward substitution, then back substitution by columns.

    Parameters
    ----------
    L : ndarray or numpy.memmap of shape (n, n)
        The factor in its lower triangle.
    b : ndarray of shape (n,) or (n, k)
        Right-hand sides.
    tile : int
        Rows of the blocks read at a time.

    Returns
    -------
    x : ndarray of the shape of ``b``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> M = rng.normal(size=(200, 200))
    >>> A = M @ M.T + 200 * np.eye(200)
    >>> L = A.copy()
    >>> cholesky_tiled(L, tile=50)
    >>> b = rng.normal(size=200)
    >>> np.allclose(cho_solve_tiled(L, b, tile=50), np.linalg.solve(A, b))
    True
    """
    n = L.shape[0]
    x = np.array(b, dtype=np.float64, copy=True).reshape(n, -1)
    tile = max(1, int(tile))
    starts = list(range(0, n, tile))
    for i0 in starts:
        i1 = min(n, i0 + tile)
        if i0:
            x[i0:i1] -= L[i0:i1, :i0] @ x[:i0]
        x[i0:i1] = linalg.solve_triangular(
            L[i0:i1, i0:i1], x[i0:i1], lower=True, check_finite=False
        )
    for i0 in reversed(starts):
        i1 = min(n, i0 + tile)
        x[i0:i1] = linalg.solve_triangular(
            L[i0:i1, i0:i1], x[i0:i1], lower=True, trans="T", check_finite=False
        )
        if i0:
            x[:i0] -= L[i0:i1, :i0].T @ x[i0:i1]
    return x.reshape(np.shape(b))
