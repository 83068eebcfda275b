"""Kernel ridge regression whose kernel matrix does not fit in memory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._kernels import (
    chi2_block,
    laplacian_block,
    polynomial_from_dot,
    rbf_from_dot,
    sigmoid_from_dot,
)
from .._linalg import (
    PanelFile,
    cho_solve_panels,
    cho_solve_tiled,
    cholesky_panels,
    cholesky_tiled,
    tile_size,
)
from .._out_of_core import register
from ..base import OutOfCoreMixin, StreamingRegressorMixin
from ..data import BatchSource, open_npy, remove_stale, scratch_dir, scratch_path
from ..io import NpyWriter

MB = 1 << 20
# Blocks held at a time that memory_limit_mb is shared by, whatever n_jobs.
_BLOCKS_AT_A_TIME = 2

# scikit-learn's names: its pairwise kernels ("poly" is "polynomial") and
# "precomputed", where the rows given are the kernel matrix's rows.
_KERNELS = (
    "rbf",
    "laplacian",
    "polynomial",
    "poly",
    "linear",
    "sigmoid",
    "cosine",
    "chi2",
    "additive_chi2",
    "precomputed",
)

# 'auto' stores the kernel on disk when recomputing an entry (about 2d flops
# and a transcendental) costs more than reading its 8 bytes: at a few GFLOP/s
# per core and a few hundred MB/s of disk, from about 30 features.
_AUTO_DISK_FEATURES = 30


# -- the kernel function ------------------------------------------------------


class _Kernel:
    """A kernel of two blocks of rows, with scikit-learn's parameters.

    ``center``, a row near the data, is subtracted from both blocks of the
    rbf kernel (which does not change under a translation): its squared
    distances come from ``|a|^2 + |b|^2 - 2 a.b``, which far from the origin
    (a mean of 1e8) would cancel every digit.
    """

    def __init__(
        self, kernel, gamma, degree, coef0, kernel_params, n_features, center=None
    ):
        self.kernel = "polynomial" if kernel == "poly" else kernel
        self.precomputed = kernel == "precomputed"
        self.center = center
        self.params = dict(kernel_params or {})
        if gamma is None:
            # chi2_kernel's own default; the others take 1 / n_features.
            gamma = 1.0 if kernel == "chi2" else 1.0 / n_features
        self.gamma = float(gamma)
        self.degree = degree
        self.coef0 = float(coef0)

    def describe(self):
        """What determines the kernel's values, for fingerprints."""
        name = self.kernel if isinstance(self.kernel, str) else repr(self.kernel)
        return json.dumps(
            [
                name,
                self.gamma,
                self.degree,
                self.coef0,
                sorted(map(repr, self.params.items())),
            ]
        )

    def block(self, A, B, row0=0, col0=0, same=False):
        """``k(A_i, B_j)`` for all pairs; ``same`` if A and B are rows of one
        source at absolute offsets ``row0`` and ``col0``."""
        A = np.ascontiguousarray(A, dtype=np.float64)
        B = np.ascontiguousarray(B, dtype=np.float64)
        kernel = self.kernel
        if callable(kernel):
            return pairwise_kernels(A, B, metric=kernel, **self.params)
        if self.precomputed:
            raise ValueError(
                "a precomputed kernel has no function of two blocks of rows: "
                "its values are the rows given"
            )
        if kernel == "additive_chi2":
            # scikit-learn's own kernel, its checks and its sums.
            return pairwise_kernels(A, B, metric=kernel)
        if kernel == "laplacian":
            out = np.empty((A.shape[0], B.shape[0]))
            laplacian_block(A, B, self.gamma, out)
            return out
        if kernel == "chi2":
            if (A < 0).any() or (B < 0).any():
                raise ValueError("X contains negative values: chi2 needs X >= 0")
            out = np.empty((A.shape[0], B.shape[0]))
            chi2_block(A, B, self.gamma, out)
            return out
        if kernel == "cosine":
            A, B = _normalized(A), _normalized(B)
        if kernel == "rbf" and self.center is not None:
            A, B = A - self.center, B - self.center
        D = A @ B.T
        if kernel == "rbf":
            a_norms = np.einsum("ij,ij->i", A, A)
            b_norms = np.einsum("ij,ij->i", B, B)
            rbf_from_dot(D, a_norms, b_norms, self.gamma, row0, col0, same)
        elif kernel == "polynomial":
            polynomial_from_dot(D, self.gamma, self.coef0, float(self.degree))
        elif kernel == "sigmoid":
            sigmoid_from_dot(D, self.gamma, self.coef0)
        return D


def _normalized(A):
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    norms[norms == 0.0] = 1.0
    return A / norms[:, None]


# -- streamed products with the kernel matrix ---------------------------------


class _KernelMatrix:
    """The (weighted) training kernel matrix, read or recomputed in blocks.

    ``K_w = diag(s) K diag(s)`` with ``s`` the square roots of the sample
    weights, as scikit-learn weights the dual problem. The rows of a block
    come from one of three places: the disk ``store``; the source itself,
    whose rows are the matrix's rows when the kernel is ``'precomputed'``
    (a matrix in memory, a memory map or a ``.npy`` file); or the kernel
    function, recomputed from the training rows.
    """

    def __init__(self, source, kernel, engine, sqrt_weights=None, store=None):
        self.source = source
        self.kernel = kernel
        self.engine = engine
        self.sqrt_weights = sqrt_weights
        self.store = store
        self.n = source.n_samples
        self.passes = 0

    def _row_block(self, batch, right):
        """``K[rows of batch, :] @ right`` without holding more than a block."""
        if self.store is not None:
            return np.asarray(self.store.rows(batch.start, batch.stop)) @ right
        if self.kernel.precomputed:
            return batch.X @ right
        out = np.zeros((batch.n_samples, right.shape[1]))
        for j in range(self.source.n_batches):
            other = self.source.read(j)
            block = self.kernel.block(batch.X, other.X, batch.start, other.start, True)
            out += block @ right[other.start : other.stop]
        return out

    def matmat(self, P, desc="K @ p"):
        """``K_w @ P`` in one pass over the matrix."""
        s = self.sqrt_weights
        right = P if s is None else P * s[:, None]
        out = np.empty_like(P)
        for batch, rows in self.engine.map(
            self.source,
            range(self.source.n_batches),
            lambda b: self._row_block(b, right),
            desc=desc,
        ):
            out[batch.start : batch.stop] = rows
        self.passes += 1
        return out if s is None else out * s[:, None]

    def _rows(self, batch):
        """``K[rows of batch, :]``, unweighted, an array of its own."""
        if self.store is not None:
            return np.asarray(self.store.rows(batch.start, batch.stop))
        if self.kernel.precomputed:
            # A copy: the rows are weighted and factored in place, and
            # these may be the caller's own.
            return np.array(batch.X, dtype=np.float64)
        out = np.empty((batch.n_samples, self.n))
        for j in range(self.source.n_batches):
            other = self.source.read(j)
            out[:, other.start : other.stop] = self.kernel.block(
                batch.X, other.X, batch.start, other.start, True
            )
        return out

    def row_blocks(self, desc="kernel"):
        """Yield ``(start, K[start:stop, :])`` row block by row block."""

        def compute(batch):
            return self._rows(batch)

        for batch, rows in self.engine.map(
            self.source, range(self.source.n_batches), compute, desc=desc
        ):
            yield batch.start, rows
        self.passes += 1

    def columns(self, indices):
        """``K_w[:, indices]``, the columns of the training rows ``indices``
        (one pass)."""
        out = np.empty((self.n, len(indices)))
        if self.kernel.precomputed:

            def columns_of(b):
                return b.X[:, indices]

        else:
            rows_X = self.source.take(indices)

            def columns_of(b):
                return self.kernel.block(b.X, rows_X)

        for batch, block in self.engine.map(
            self.source, range(self.source.n_batches), columns_of, desc="landmarks"
        ):
            out[batch.start : batch.stop] = block
        s = self.sqrt_weights
        if s is not None:
            out *= s[:, None] * s[indices][None, :]
        return out

    def weighted_row_blocks(self, desc="kernel"):
        """Yield ``(start, K_w[start:stop, :])`` row block by row block."""
        s = self.sqrt_weights
        for start, rows in self.row_blocks(desc=desc):
            if s is not None:
                rows *= s[start : start + rows.shape[0], None]
                rows *= s[None, :]
            yield start, rows

    def dense(self):
        """The whole matrix, in memory (the Cholesky solver's)."""
        K = np.empty((self.n, self.n))
        for start, rows in self.weighted_row_blocks():
            K[start : start + rows.shape[0]] = rows
        return K


# -- the kernel on disk -------------------------------------------------------


class _DiskStore:
    """The training kernel matrix in a ``.npy`` file, named by a fingerprint.

    The fingerprint covers the training rows (a hash of their bytes) and the
    kernel with its parameters. A later fit on the same data with the same
    kernel (another ``alpha``, another solver) reads the file instead of
    recomputing it. A matrix that is missing or truncated, or a record that
    cannot be read (a write cut short), is a damaged store and is rebuilt; a
    store whose record names other data or another kernel is refused.

    The record is written after the matrix, each atomically (a temporary
    file, synced, then renamed): a store with a record is complete, and a
    build that fails leaves neither file.
    """

    def __init__(self, directory, fingerprint, n):
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint
        self.n = n
        self.path = os.path.join(self.directory, f"kernel_{fingerprint[:24]}.npy")
        self.record = self.path[: -len(".npy")] + ".json"
        self._matrix = None

    def usable(self):
        """Whether a complete store for this fingerprint is on disk."""
        if not os.path.exists(self.record):
            return False
        try:
            with open(self.record, encoding="utf-8") as f:
                record = json.load(f)
        except ValueError:  # not JSON (or not text): damaged, rebuilt
            return False
        recorded = record.get("fingerprint") if isinstance(record, dict) else None
        if not isinstance(recorded, str):
            return False  # damaged: rebuilt
        if recorded != self.fingerprint:
            raise ValueError(
                f"kernel store {self.path!r} was built for other data or another "
                f"kernel (its record says {recorded!r}, this fit needs "
                f"{self.fingerprint!r}); remove it or choose another store_dir"
            )
        if not os.path.exists(self.path):
            return False
        try:
            matrix = open_npy(self.path, name="kernel store")
        except ValueError:
            return False  # truncated or damaged: rebuilt
        if matrix.shape != (self.n, self.n) or matrix.dtype != np.float64:
            return False
        self._matrix = matrix
        return True

    def build(self, kernel_matrix):
        """Write the matrix row block by row block (it appears when complete)."""
        os.makedirs(self.directory, exist_ok=True)
        remove_stale(self.directory)
        for stale in (self.record, self.path):
            if os.path.exists(stale):
                os.remove(stale)
        free = shutil.disk_usage(self.directory).free
        if free < 8 * self.n * self.n:
            raise OSError(
                28,
                f"the kernel store needs {8 * self.n * self.n / MB:,.0f} MB but "
                f"{self.directory!r} has {free / MB:,.0f} MB free; use "
                "kernel_store='recompute' or another store_dir",
            )
        with NpyWriter(self.path, (self.n, self.n)) as out:
            for _, rows in kernel_matrix.row_blocks(desc="kernel store"):
                out.write(rows)
        try:
            self._write_record({"fingerprint": self.fingerprint, "n": self.n})
            self._matrix = open_npy(self.path, name="kernel store")
        except BaseException:
            # A matrix without its record is never read: it goes.
            for partial in (self.record, self.path):
                try:
                    os.remove(partial)
                except FileNotFoundError:
                    pass
            raise

    def _write_record(self, record):
        """Write the JSON ``record`` atomically: whole, or not at all."""
        directory, name = os.path.split(self.record)
        tmp = scratch_path(directory, name)
        try:
            with open(tmp, "x", encoding="utf-8") as f:
                json.dump(record, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.record)
        except BaseException:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass
            raise

    def rows(self, start, stop):
        return self._matrix[start:stop]


def _fingerprint(source, kernel):
    """A hash of the training rows and of the kernel (one pass over the rows)."""
    digest = hashlib.sha256(kernel.describe().encode())
    digest.update(repr((source.n_samples, source.n_features)).encode())
    for j in range(source.n_batches):
        digest.update(np.ascontiguousarray(source.read(j).X, dtype=np.float64).data)
    return digest.hexdigest()


# -- solvers ------------------------------------------------------------------


def _solve_cholesky(kernel_matrix, y, alpha, budget, scratch_directory):
    """``(K + alpha_t I) c_t = y_t``, by a tiled Cholesky factorization.

    The factorization works on tiles (``sklearn_ooc._linalg``): LAPACK
    factors only the diagonal tiles, on one thread, so no threaded ``potrf``
    ever sees a large matrix. When the matrix fits in ``budget`` bytes it is
    factored in place in memory; otherwise it is written to a scratch
    ``.npy`` file in ``scratch_directory`` and factored there, tile by tile,
    an exact direct solve for a kernel matrix larger than memory. With one
    penalty per target the matrix is built again for each.
    """
    n = kernel_matrix.n
    in_memory = 8.0 * n * n <= budget
    tile = tile_size(n, budget - 8.0 * n * n if in_memory else budget / 2)
    coef = np.empty_like(y)
    groups = (
        [(alpha[0], slice(None))]
        if np.all(alpha == alpha[0])
        else [(a, slice(t, t + 1)) for t, a in enumerate(alpha)]
    )
    for a, cols in groups:
        if in_memory:
            coef[:, cols] = _cholesky_in_memory(kernel_matrix, y[:, cols], a, tile)
        else:
            coef[:, cols] = _cholesky_on_disk(
                kernel_matrix, y[:, cols], a, tile, scratch_directory
            )
    return coef


def _cholesky_in_memory(kernel_matrix, y, alpha, tile):
    K = kernel_matrix.dense()
    K.flat[:: K.shape[0] + 1] += alpha
    try:
        cholesky_tiled(K, tile)
    except linalg.LinAlgError:
        # scikit-learn's own fallback, with its warning.
        warnings.warn(
            "Singular matrix in solving dual problem. Using least-squares "
            "solution instead.",
            UserWarning,
            stacklevel=4,
        )
        del K
        K = kernel_matrix.dense()
        K.flat[:: K.shape[0] + 1] += alpha
        return linalg.lstsq(K, y, check_finite=False)[0]
    return cho_solve_tiled(K, y, tile)


def _cholesky_on_disk(kernel_matrix, y, alpha, tile, directory):
    """The factorization of a matrix larger than memory, in a scratch file."""
    n = kernel_matrix.n
    directory = tempfile.gettempdir() if directory is None else os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    remove_stale(directory)
    need = 8 * n * (n + tile) // 2
    free = shutil.disk_usage(directory).free
    if free < need:
        raise OSError(
            28,
            f"solver='cholesky' factors the kernel matrix on disk, in "
            f"{need / MB:,.0f} MB, but {directory!r} has {free / MB:,.0f} MB "
            "free; set store_dir to a folder with room, or use solver='cg'",
        )
    path = scratch_path(directory, "kernel_factor")
    try:
        with PanelFile(path, n, tile) as panels:
            for start, rows in kernel_matrix.weighted_row_blocks(desc="kernel"):
                diagonal = np.arange(rows.shape[0])
                rows[diagonal, start + diagonal] += alpha
                panels.write_rows(start, rows)
            try:
                cholesky_panels(panels)
            except linalg.LinAlgError as error:
                raise linalg.LinAlgError(
                    f"the kernel matrix plus alpha={alpha} is not positive "
                    f"definite ({error}); scikit-learn's least-squares fallback "
                    "needs the matrix in memory: raise alpha or memory_limit_mb, "
                    "or use solver='cg'"
                ) from None
            return cho_solve_panels(panels, y)
    finally:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class _NystromPreconditioner:
    """Randomized Nyström preconditioner (Frangella, Tropp and Udell, 2023).

    With ``m`` landmark rows, ``K ~ U diag(lam) U^T`` of rank ``m``, and
    ``P^-1 v = U ((lam_m + a) / (lam + a)) U^T v + (v - U U^T v)``: the
    preconditioned system ``P^-1 (K + a I)`` has its large eigenvalues
    squeezed near ``lam_m + a``, so conjugate gradients converge in a number
    of iterations that no longer grows with ``n / a``. Memory: ``n m``
    floats, twice while it is built.
    """

    def __init__(self, kernel_matrix, source, n_centers, alpha, random_state):
        rng = check_random_state(random_state)
        n = source.n_samples
        m = min(n_centers, n)
        landmarks = np.sort(rng.choice(n, size=m, replace=False))
        C = kernel_matrix.columns(landmarks)
        # K ~ C W^+ C^T; the pseudo-inverse square root of W keeps its
        # positive eigenvalues only (kernels that are not positive definite,
        # such as the sigmoid, and duplicated landmarks).
        w_lam, w_vec = linalg.eigh(C[landmarks])
        keep = w_lam > m * np.finfo(np.float64).eps * max(w_lam.max(), 0.0)
        B = C @ (w_vec[:, keep] / np.sqrt(w_lam[keep]))
        del C
        U, sigma, _ = linalg.svd(B, full_matrices=False, overwrite_a=True)
        self.U = U
        self.lam = sigma**2
        self.alpha = alpha

    def __call__(self, R):
        UtR = self.U.T @ R
        scale = (self.lam[-1] + self.alpha)[None, :] / (
            self.lam[:, None] + self.alpha[None, :]
        )
        return self.U @ (scale * UtR) + (R - self.U @ UtR)


def _solve_cg(
    kernel_matrix, y, alpha, tol, max_iter, preconditioner, log, checkpoint=None
):
    """Conjugate gradients on ``(K + alpha_t I) c_t = y_t``, all targets at once.

    One pass over the kernel matrix per iteration; each target stops moving
    when its relative residual is below ``tol``. With a ``checkpoint``, the
    iterates are saved after every iteration, and the solver carries on from
    those it finds there.
    """
    norms = np.linalg.norm(y, axis=0)
    norms[norms == 0] = 1.0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is None:
        coef = np.zeros_like(y)
        residual = y.copy()
        Z = preconditioner(residual) if preconditioner else residual.copy()
        P = Z.copy()
        rz = np.einsum("ij,ij->j", residual, Z)
        relative = np.linalg.norm(residual, axis=0) / norms
        done = 0
    else:
        coef, residual, P = saved["coef"], saved["residual"], saved["P"]
        rz, relative, done = saved["rz"], saved["relative"], saved["n_iter"]
    n_iter = done
    for n_iter in range(done + 1, max_iter + 1):
        active = relative >= tol
        if not active.any():
            n_iter -= 1
            break
        Q = kernel_matrix.matmat(P, desc=f"CG iteration {n_iter}") + P * alpha[None, :]
        step = np.where(active, rz / np.einsum("ij,ij->j", P, Q), 0.0)
        coef += P * step[None, :]
        residual -= Q * step[None, :]
        relative = np.linalg.norm(residual, axis=0) / norms
        log(n_iter, relative)
        Z = preconditioner(residual) if preconditioner else residual
        rz_new = np.einsum("ij,ij->j", residual, Z)
        beta = np.where(active, rz_new / np.where(rz == 0, 1.0, rz), 0.0)
        P = Z + P * beta[None, :]
        rz = rz_new
        if checkpoint is not None:
            checkpoint.save(
                {
                    "coef": coef,
                    "residual": residual,
                    "P": P,
                    "rz": rz,
                    "relative": relative,
                    "n_iter": n_iter,
                }
            )
    return coef, n_iter, relative


def _solve_sgd(kernel_matrix, y, alpha, tol, max_iter, random_state, log):
    """Block coordinate gradient descent on the dual (MLML's kernelized SGD).

    Each epoch visits the row blocks in a random order and moves the block's
    coefficients against the gradient ``K_B c + alpha c_B - y_B``, with a step
    of ``1 / (lambda_max + alpha)`` (``lambda_max`` by power iteration). Kept
    as a reference: conjugate gradients converge much faster.
    """
    rng = check_random_state(random_state)
    source = kernel_matrix.source
    s = kernel_matrix.sqrt_weights
    v = rng.normal(size=(source.n_samples, 1))
    for _ in range(10):
        v = kernel_matrix.matmat(v / np.linalg.norm(v), desc="power iteration")
    lam_max = float(np.linalg.norm(v))
    eta = 1.0 / (lam_max + alpha)
    coef = np.zeros_like(y)
    norms = np.linalg.norm(y, axis=0)
    norms[norms == 0] = 1.0
    relative = np.ones(y.shape[1])
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        squares = np.zeros(y.shape[1])
        for b in rng.permutation(source.n_batches):
            batch = source.read(b)
            rows = slice(batch.start, batch.stop)
            right = coef if s is None else coef * s[:, None]
            product = kernel_matrix._row_block(batch, right)
            if s is not None:
                product *= s[rows, None]
            gradient = product + alpha[None, :] * coef[rows] - y[rows]
            squares += (gradient**2).sum(axis=0)
            coef[rows] -= eta[None, :] * gradient
        kernel_matrix.passes += 1
        relative = np.sqrt(squares) / norms
        log(n_iter, relative)
        if np.all(relative < tol):
            break
    return coef, n_iter, relative


# -- the estimator ------------------------------------------------------------


@register(KernelRidge)
class OOCKernelRidge(
    StreamingRegressorMixin, RegressorMixin, OutOfCoreMixin, BaseEstimator
):
    """Kernel ridge regression with a kernel matrix larger than memory.

    Solves ``(K + alpha I) c = y`` for the dual coefficients, as
    :class:`sklearn.kernel_ridge.KernelRidge` does, without ever holding the
    ``n x n`` kernel matrix: it is computed block by block from the training
    rows (``kernel_store='recompute'``) or built once into a file and read
    back (``'disk'``), and the system is solved by conjugate gradients, one
    streamed pass over the matrix per iteration, with an optional Nyström
    preconditioner. A Cholesky factorization in tiles solves it directly: in
    memory when the matrix fits in ``memory_limit_mb``, otherwise in a file
    on disk, tile by tile, an exact solve for a matrix larger than memory.

    With ``kernel='precomputed'`` the rows given to :meth:`fit` are the
    ``n x n`` kernel matrix itself (in memory, a memory map or a ``.npy``
    file), and those given to :meth:`predict` the kernel of the new rows
    against the training rows, ``(n_test, n)``: the matrix plays the part
    of the disk store, read row block by row block by every solver.

    Parameters
    ----------
    alpha : float or ndarray of shape (n_targets,), default=1.0
        Regularization; one value per target if an array.
    kernel : {'rbf', 'laplacian', 'polynomial', 'poly', 'linear', \
            'sigmoid', 'cosine', 'chi2', 'additive_chi2', 'precomputed'} \
            or callable, default='linear'
        The kernel, with scikit-learn's names (``'poly'`` is
        ``'polynomial'``); a callable is called on pairs of rows, as in
        scikit-learn.
    gamma : float, default=None
        Parameter of the rbf, laplacian, polynomial, sigmoid and chi2 kernels;
        ``None`` means ``1 / n_features`` (``1.0`` for chi2).
    degree : float, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.
    kernel_params : dict, default=None
        Parameters of a callable kernel.
    memory_limit_mb : float, default=1024
        Memory for kernel blocks (and the whole matrix for ``'cholesky'``
        when it fits; otherwise the tiles of its factorization on disk),
        shared by two threads; each further thread of ``n_jobs`` adds half of
        it (the blocks, and so the result, are the same for every
        ``n_jobs``).
        The Nyström preconditioner of ``'cg'`` comes on top: ``8 n m`` bytes
        for ``m = n_preconditioner`` landmarks, about three times that while
        it is built.
    kernel_store : {'auto', 'disk', 'recompute'}, default='auto'
        ``'disk'`` builds the matrix once into ``store_dir`` (reused by later
        fits on the same data and kernel); ``'recompute'`` computes blocks
        again on each pass; ``'auto'`` stores on disk when ``store_dir`` is
        set, the matrix fits in its free space and the rows have at least 30
        features (recomputing an entry then costs more than reading it).
        A precomputed kernel is read where it is given, whatever this says.
    store_dir : str or os.PathLike, default=None
        Directory of the disk store (a temporary one, removed after the fit,
        if ``None``) and of the Cholesky factor of a matrix larger than
        memory. Scratch that a killed fit left there is removed by the next.
    solver : {'auto', 'cholesky', 'cg', 'sgd'}, default='auto'
        ``'cholesky'``, a direct solve by a tiled Cholesky factorization: in
        memory when the matrix fits in ``memory_limit_mb``, otherwise in a
        scratch file of ``8 n^2`` bytes in ``store_dir`` (the temporary
        folder if ``None``), removed after the fit; ``'auto'`` picks it when
        the matrix fits in memory, ``'cg'`` otherwise. ``'cg'``,
        preconditioned conjugate gradients; ``'sgd'``, MLML's kernelized
        gradient descent by blocks, kept as a reference.
    tol : float, default=1e-10
        Relative residual ``||(K + alpha I) c - y|| / ||y||`` at which the
        iterative solvers stop.
    max_iter : int, default=1000
        Iterations (passes over the matrix) at most.
    n_preconditioner : int, default=200
        Landmark rows of the Nyström preconditioner of ``'cg'``; 0 for none.
    n_jobs : int, default=None
        Threads computing blocks.
    random_state : int, RandomState instance or None, default=None
        Seed of the landmarks (and of the SGD order).
    verbose : int, default=0
        1 prints the residual per iteration; 2 adds a progress bar per pass.
    checkpoint : str or os.PathLike, default=None
        ``solver='cg'``: a file that receives the iterates, atomically, after
        every iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Dual coefficients.
    X_fit_ : ndarray, numpy.memmap, str or array store
        The training rows as given: a reference, never a copy.
    n_iter_ : int
        Solver iterations (0 for Cholesky).
    residual_ : ndarray of shape (n_targets,)
        Relative residual reached by the iterative solvers.
    kernel_store_built_ : bool
        Whether this fit built a disk store (False when it read one).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.kernel_ridge.KernelRidge : The in-memory estimator this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.kernel_ridge import OOCKernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(300, 1))
    >>> y = np.sin(X[:, 0])
    >>> model = OOCKernelRidge(alpha=1e-3, kernel="rbf", gamma=1.0, solver="cg",
    ...                        memory_limit_mb=0.5).fit(X, y)
    >>> np.abs(model.predict([[0.5], [1.5]]) - np.sin([0.5, 1.5])).max() < 1e-2
    np.True_

    The same model from the kernel matrix, as scikit-learn's
    ``kernel='precomputed'``:

    >>> from sklearn.metrics.pairwise import rbf_kernel
    >>> K = rbf_kernel(X, gamma=1.0)
    >>> pre = OOCKernelRidge(alpha=1e-3, kernel="precomputed").fit(K, y)
    >>> K_new = rbf_kernel([[0.5], [1.5]], X, gamma=1.0)
    >>> np.allclose(pre.predict(K_new), model.predict([[0.5], [1.5]]))
    True
    """

    _requires_y = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "kernel": [StrOptions(set(_KERNELS)), callable],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "memory_limit_mb": [Interval(Real, 0, None, closed="neither")],
        "kernel_store": [StrOptions({"auto", "disk", "recompute"})],
        "store_dir": [str, os.PathLike, None],
        "solver": [StrOptions({"auto", "cholesky", "cg", "sgd"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_preconditioner": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoint": [str, os.PathLike, None],
    }

    def __init__(
        self,
        alpha=1,
        *,
        kernel="linear",
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        memory_limit_mb=1024,
        kernel_store="auto",
        store_dir=None,
        solver="auto",
        tol=1e-10,
        max_iter=1000,
        n_preconditioner=200,
        n_jobs=None,
        random_state=None,
        verbose=0,
        checkpoint=None,
    ):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.memory_limit_mb = memory_limit_mb
        self.kernel_store = kernel_store
        self.store_dir = store_dir
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.n_preconditioner = n_preconditioner
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # Cross-validation then splits a precomputed matrix on both axes.
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    def _kernel_of(self, n_features):
        return _Kernel(
            self.kernel,
            self.gamma,
            self.degree,
            self.coef0,
            self.kernel_params,
            n_features,
            getattr(self, "_kernel_center", None),
        )

    def _block_rows(self, n_samples, n_features, store, solver):
        """Rows per block so that two blocks at a time fit the limit.

        The blocks decide the order of the sums (and are the coordinate
        blocks of ``'sgd'``), so they never depend on ``n_jobs``: the result
        is the same for every ``n_jobs``, and each thread beyond two adds
        half the limit. The Cholesky solver in memory holds the whole
        matrix; its blocks of whole rows share what is left of the limit (at
        least an eighth of the matrix), each with room for the row block and
        two square temporaries. On disk, the blocks written to the file and
        the tiles factored there each have half the limit.
        """
        budget = self.memory_limit_mb * MB
        if solver == "cholesky":
            matrix = 8.0 * n_samples**2
            if matrix <= budget:
                budget = max(budget - matrix, matrix / 8)
            else:
                budget /= 2
        budget /= _BLOCKS_AT_A_TIME
        if solver == "cholesky":
            rows = budget / (24 * (n_samples + n_features))
        elif store:
            rows = budget / (8 * (n_samples + n_features))
        else:
            rows = np.sqrt(budget / 16)
        return max(1, min(n_samples, int(rows)))

    def _choose_store(self, n_samples, n_features):
        if self.kernel == "precomputed":
            # The matrix given is the store.
            return "precomputed"
        if self.kernel_store != "auto":
            return self.kernel_store
        if self.store_dir is None or n_features < _AUTO_DISK_FEATURES:
            return "recompute"
        os.makedirs(self.store_dir, exist_ok=True)
        free = shutil.disk_usage(self.store_dir).free
        return "disk" if free > 8 * n_samples**2 else "recompute"

    def _choose_solver(self, n_samples):
        if self.solver == "auto":
            fits = 8 * n_samples**2 <= self.memory_limit_mb * MB
            return "cholesky" if fits else "cg"
        return self.solver

    def fit(self, X, y, sample_weight=None):
        """Solve for the dual coefficients, streaming the kernel matrix.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features) or (n_samples, n_samples)
            Training rows, or the kernel matrix if ``kernel='precomputed'``;
            kept by reference in ``X_fit_``.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights, as in scikit-learn.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        with self._transaction():
            probe = self._source(
                X, y, sample_weight, reset=True, fitting=True, batch_size="auto"
            )
            n, d = probe.n_samples, probe.n_features
            store_kind = self._choose_store(n, d)
            solver = self._choose_solver(n)
            source = self._source(
                X,
                y,
                sample_weight,
                reset=False,
                fitting=True,
                batch_size=self._block_rows(
                    n, d, store_kind in ("disk", "precomputed"), solver
                ),
            )
            Y = np.empty((n, 1 if len(source.y.shape) == 1 else source.y.shape[1]))
            weights = np.empty(n) if source.sample_weight is not None else None
            for b in range(source.n_batches):
                batch = source.read(b)
                Y[batch.start : batch.stop] = batch.y.reshape(batch.n_samples, -1)
                if weights is not None:
                    weights[batch.start : batch.stop] = batch.sample_weight
            # After the pass that checked every row, as scikit-learn checks
            # the values before the shape.
            if self.kernel == "precomputed" and d != n:
                raise ValueError(
                    "Precomputed metric requires shape (n_queries, n_indexed). "
                    f"Got ({n}, {d}) for {n} indexed."
                )
            alpha = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
            if alpha.size == 1:
                alpha = np.repeat(alpha, Y.shape[1])
            elif alpha.size != Y.shape[1]:
                raise ValueError(
                    "Number of targets and number of penalties do not correspond: "
                    f"{Y.shape[1]} != {alpha.size}"
                )
            if weights is not None and not weights.sum() > 0:
                raise ValueError(
                    "Sample weights must contain at least one non-zero number"
                )
            sqrt_w = None if weights is None else np.sqrt(weights)
            # The first training row centers the rbf kernel (see _Kernel).
            self._kernel_center = (
                None
                if self.kernel == "precomputed"
                else np.asarray(source.take([0])[0], dtype=np.float64)
            )
            kernel = self._kernel_of(d)
            engine = self._engine()
            tmpdir = None
            try:
                store = None
                self.kernel_store_built_ = False
                if store_kind == "disk":
                    directory = self.store_dir
                    if directory is None:
                        directory = tmpdir = scratch_dir(None, "kernel_store")
                    store = _DiskStore(directory, _fingerprint(source, kernel), n)
                    if not store.usable():
                        store.build(_KernelMatrix(source, kernel, engine))
                        self.kernel_store_built_ = True
                matrix = _KernelMatrix(source, kernel, engine, sqrt_w, store)
                target = Y if sqrt_w is None else Y * sqrt_w[:, None]
                coef, n_iter, residual = self._solve(
                    solver, matrix, source, target, alpha, engine
                )
            finally:
                if tmpdir is not None:
                    shutil.rmtree(tmpdir, ignore_errors=True)
            if sqrt_w is not None:
                coef *= sqrt_w[:, None]
            self.dual_coef_ = coef[:, 0] if len(source.y.shape) == 1 else coef
            self.X_fit_ = X
            self.n_iter_ = n_iter
            self.residual_ = residual
            self.kernel_passes_ = matrix.passes
            self._is_fitted = True
        return self

    def _solve(self, solver, matrix, source, Y, alpha, engine):
        def log(n_iter, relative):
            engine.log(
                f"[{n_iter}] relative residual {np.max(relative):.3e} "
                f"({matrix.passes} passes over the kernel)"
            )

        if solver == "cholesky":
            coef = _solve_cholesky(
                matrix, Y, alpha, self.memory_limit_mb * MB, self.store_dir
            )
            return coef, 0, np.zeros(Y.shape[1])
        if solver == "sgd":
            return _solve_sgd(
                matrix, Y, alpha, self.tol, self.max_iter, self.random_state, log
            )
        preconditioner = None
        if self.n_preconditioner:
            preconditioner = _NystromPreconditioner(
                matrix, source, self.n_preconditioner, alpha, self.random_state
            )
        coef, n_iter, residual = _solve_cg(
            matrix,
            Y,
            alpha,
            self.tol,
            self.max_iter,
            preconditioner,
            log,
            self._checkpoint_of(source),
        )
        if np.any(residual >= self.tol):
            warnings.warn(
                f"Conjugate gradients stopped after {n_iter} iterations at a "
                f"relative residual of {residual.max():.2e} > tol={self.tol}; raise "
                "max_iter or n_preconditioner",
                RuntimeWarning,
                stacklevel=3,
            )
        return coef, n_iter, residual

    def _predict_rows(self):
        """Rows of the square blocks of ``predict``: with their temporary,
        two of them fill ``memory_limit_mb``. A precomputed kernel's rows
        are as long as the training data: two blocks of them fill it."""
        if self.kernel == "precomputed" and hasattr(self, "dual_coef_"):
            n = self.dual_coef_.shape[0]
            return max(1, int(self.memory_limit_mb * MB / (16 * n)))
        return max(1, int(np.sqrt(self.memory_limit_mb * MB / 16)))

    def _source(self, X, y=None, sample_weight=None, *, reset, batch_size=None, **kw):
        # predict and score read the rows to predict in blocks of the limit.
        if batch_size is None:
            batch_size = self._predict_rows()
        if not reset and self.kernel == "precomputed":
            rows = BatchSource(X, batch_size=batch_size)
            if rows.n_features != getattr(self, "n_features_in_", rows.n_features):
                # scikit-learn refuses NaN and infinity before a kernel of the
                # wrong width: read the rows, which raises if they hold any.
                for b in range(rows.n_batches):
                    rows.read(b)
        return super()._source(
            X, y, sample_weight, reset=reset, batch_size=batch_size, **kw
        )

    def _batch_predictor(self):
        """Predictions of a batch: the kernel against the training rows,
        block by block."""
        n = self.dual_coef_.shape[0]
        coef = self.dual_coef_.reshape(n, -1)
        if self.kernel == "precomputed":
            # The rows to predict are the kernel's rows against the training
            # rows.
            def predict_precomputed(K):
                out = K @ coef
                return out[:, 0] if self.dual_coef_.ndim == 1 else out

            return predict_precomputed
        rows = self._predict_rows()
        fit_source = BatchSource(self.X_fit_, batch_size=min(n, rows))
        kernel = self._kernel_of(self.n_features_in_)

        def predict(X):
            out = np.zeros((X.shape[0], coef.shape[1]))
            for j in range(fit_source.n_batches):
                other = fit_source.read(j)
                out += kernel.block(X, other.X) @ coef[other.start : other.stop]
            return out[:, 0] if self.dual_coef_.ndim == 1 else out

        return predict
