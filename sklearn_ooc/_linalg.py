"""Dense linear algebra in tiles, for matrices in memory or on disk alike.

OpenBLAS's threaded ``potrf`` crashes on some processors for large
matrices (a segmentation fault from n ~ 16,000 with two threads on Intel
AVX-512 machines), and a matrix on disk cannot be handed to LAPACK at all.
The Cholesky factorization here is blocked instead: LAPACK factors only
square diagonal tiles of at most a few thousand rows, on one BLAS thread,
and everything else is matrix products and triangular solves of panels,
where threaded BLAS is safe and fast.

The algorithm works on *panels*: panel ``k`` is the lower triangle's
columns ``k0:k1`` from row ``k0`` down. :class:`MemoryPanels` are views of
a matrix in memory, factored in place; :class:`PanelFile` keeps each panel
contiguous in a file (half the matrix's size), so that every read and write
of the factorization and of the solves is one long sequential transfer.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import linalg
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

__all__ = [
    "MemoryPanels",
    "PanelFile",
    "cho_solve_panels",
    "cho_solve_tiled",
    "cholesky_panels",
    "cholesky_tiled",
    "tile_size",
]

# Linux transfers at most this much in one read or write call.
_IO_CHUNK = 1 << 30


def tile_size(n, budget_bytes, *, smallest=128, largest=2048):
    """Columns of a panel so that two panels of ``n`` rows fit ``budget_bytes``.

    The factorization on disk holds the panel it factors and one panel to
    its left (``16 n`` bytes per column); in memory, only ``tile x tile``
    temporaries beside the matrix.
    """
    tile = int(budget_bytes // (16 * max(n, 1)))
    return int(min(max(tile, smallest), largest, max(n, 1)))


class MemoryPanels:
    """The panels of a matrix in memory, as views: factored in place.

    Parameters
    ----------
    A : ndarray of shape (n, n)
        The matrix; its lower triangle is read and replaced by the factor.
    tile : int
        Columns of a panel.
    """

    def __init__(self, A, tile):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(
                f"a Cholesky factorization needs a square matrix, got {A.shape}"
            )
        self.A = A
        self.n = A.shape[0]
        self.tile = max(1, int(tile))
        self.starts = list(range(0, self.n, self.tile))

    def bounds(self, k):
        start = self.starts[k]
        return start, min(self.n, start + self.tile)

    def read(self, k, row0):
        """Panel ``k`` from row ``row0`` down (a view)."""
        k0, k1 = self.bounds(k)
        return self.A[row0:, k0:k1]

    def write(self, k, panel):
        """Panel ``k`` from its diagonal down (a view: already in place)."""
        k0, k1 = self.bounds(k)
        if not np.shares_memory(panel, self.A):
            self.A[k0:, k0:k1] = panel


class PanelFile:
    """The lower triangle of an ``n x n`` matrix in a file, panel by panel.

    Panel ``k`` (columns ``k0:k1``, rows ``k0:n``) is stored row-major and
    contiguous, after panel ``k - 1``: the file is about half the matrix.
    Pages are dropped from the page cache as they are read and written
    (``POSIX_FADV_DONTNEED``), so that a file larger than memory streams
    through a bounded cache.

    Parameters
    ----------
    path : str
        The file, created (it must not exist); the caller removes it.
    n : int
        Rows and columns of the matrix.
    tile : int
        Columns of a panel.
    """

    def __init__(self, path, n, tile):
        self.path = path
        self.n = n
        self.tile = max(1, int(tile))
        self.starts = list(range(0, n, self.tile))
        self.offsets = []
        offset = 0
        for k0 in self.starts:
            self.offsets.append(offset)
            offset += 8 * (n - k0) * (min(n, k0 + self.tile) - k0)
        self.nbytes = offset
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(self._fd, self.nbytes)
        except BaseException:
            os.close(self._fd)
            raise

    bounds = MemoryPanels.bounds

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _release(self, offset, size):
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, offset, size, os.POSIX_FADV_DONTNEED)

    def _offset(self, k, row0):
        k0, k1 = self.bounds(k)
        return self.offsets[k] + 8 * (row0 - k0) * (k1 - k0)

    def read(self, k, row0):
        """Panel ``k`` from row ``row0`` down, read into a new array."""
        k0, k1 = self.bounds(k)
        out = np.empty((self.n - row0, k1 - k0))
        view = memoryview(out).cast("B")
        offset = self._offset(k, row0)
        done = 0
        while done < len(view):
            got = os.preadv(self._fd, [view[done : done + _IO_CHUNK]], offset + done)
            if got <= 0:
                raise OSError(f"{self.path}: the file ended early (panel {k})")
            done += got
        self._release(offset, len(view))
        return out

    def _write(self, k, row0, block):
        block = np.ascontiguousarray(block, dtype=np.float64)
        view = memoryview(block).cast("B")
        offset = self._offset(k, row0)
        done = 0
        while done < len(view):
            done += os.pwrite(self._fd, view[done : done + _IO_CHUNK], offset + done)
        self._release(offset, len(view))

    def write(self, k, panel):
        """Panel ``k`` from its diagonal down."""
        self._write(k, self.starts[k], panel)

    def write_rows(self, start, rows):
        """Whole rows ``start:start + len(rows)`` of the matrix, into the panels
        they cross below the diagonal."""
        stop = start + rows.shape[0]
        for k, k0 in enumerate(self.starts):
            if k0 >= stop:
                break
            first = max(start, k0)
            k1 = min(self.n, k0 + self.tile)
            self._write(k, first, rows[first - start :, k0:k1])


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


def cholesky_panels(panels, on_panel=None):
    """Factor the symmetric positive definite matrix of ``panels`` as ``L L^T``.

    Left-looking: panel ``j`` is updated with each factored panel to its
    left (matrix products by blocks of ``tile`` rows), its diagonal tile is
    factored by ``potrf`` on one thread, and the rows below it are solved
    against that tile (``trsm``); then it is written back.

    Parameters
    ----------
    panels : MemoryPanels or PanelFile
        The matrix's lower triangle, replaced by ``L``.
    on_panel : callable, default=None
        Called with ``(columns done, n)`` after each panel (progress).

    Raises
    ------
    numpy.linalg.LinAlgError
        If the matrix is not positive definite; it is then partly
        overwritten.
    """
    n, tile = panels.n, panels.tile
    for j, j0 in enumerate(panels.starts):
        _, j1 = panels.bounds(j)
        width = j1 - j0
        panel = panels.read(j, j0)
        for k in range(j):
            left = panels.read(k, j0)
            top = np.ascontiguousarray(left[:width].T)
            for r0 in range(0, n - j0, tile):
                panel[r0 : r0 + tile] -= left[r0 : r0 + tile] @ top
            del left, top
        diagonal = _factor_tile(panel[:width])
        panel[:width] = diagonal
        for r0 in range(width, n - j0, tile):
            # X L^T = B for the rows below the diagonal tile.
            panel[r0 : r0 + tile] = linalg.solve_triangular(
                diagonal, panel[r0 : r0 + tile].T, lower=True, check_finite=False
            ).T
        panels.write(j, panel)
        del panel
        if on_panel is not None:
            on_panel(j1, n)


def cho_solve_panels(panels, b):
    """Solve ``L L^T x = b`` with the factor in ``panels``.

    Forward then back substitution, panel by panel: each panel is read
    twice, whole.

    Parameters
    ----------
    panels : MemoryPanels or PanelFile
        The factor of :func:`cholesky_panels`.
    b : ndarray of shape (n,) or (n, k)
        Right-hand sides.

    Returns
    -------
    x : ndarray of the shape of ``b``
    """
    n = panels.n
    x = np.array(b, dtype=np.float64, copy=True).reshape(n, -1)
    for k, k0 in enumerate(panels.starts):
        _, k1 = panels.bounds(k)
        panel = panels.read(k, k0)
        x[k0:k1] = linalg.solve_triangular(
            panel[: k1 - k0], x[k0:k1], lower=True, check_finite=False
        )
        x[k1:] -= panel[k1 - k0 :] @ x[k0:k1]
    for k in reversed(range(len(panels.starts))):
        k0, k1 = panels.bounds(k)
        panel = panels.read(k, k0)
        x[k0:k1] -= panel[k1 - k0 :].T @ x[k1:]
        x[k0:k1] = linalg.solve_triangular(
            panel[: k1 - k0], x[k0:k1], lower=True, trans="T", check_finite=False
        )
    return x.reshape(np.shape(b))


def cholesky_tiled(A, tile, on_panel=None):
    """Factor the symmetric positive definite ``A`` in memory, in place.

    Parameters
    ----------
    A : ndarray of shape (n, n), float64
        The matrix; its lower triangle is read and replaced by ``L``, the
        upper triangle of the diagonal tiles set to zero, the rest of the
        upper triangle neither read nor written.
    tile : int
        Columns of a panel.
    on_panel : callable, default=None
        Called with ``(columns done, n)`` after each panel.

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
    cholesky_panels(MemoryPanels(A, tile), on_panel)


def cho_solve_tiled(L, b, tile):
    """Solve ``L L^T x = b`` with the factor of :func:`cholesky_tiled`.

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
    return cho_solve_panels(MemoryPanels(L, tile), b)
