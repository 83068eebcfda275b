"""Row-wise kernels of Gaussian mixtures: log-densities, responsibilities and
the responsibility-weighted sums of the M-step, fused in one pass over rows.

Full and tied covariances leave the products with the precision factors to
BLAS (one GEMM for all components); these kernels do the per-row rest.
"""

import numpy as np
from numba import njit

from ._prefetch import prefetch_share


@njit(nogil=True, cache=True)
def subtract_shift(X, shift, out, constant=0.0):
    """``out = [X - shift, constant, ...]``: each difference taken in float64
    (float32 rows are widened) and stored in ``out``'s dtype; the columns of
    ``out`` beyond those of ``X`` (an intercept's) set to ``constant``.

    Raises ValueError unless ``shift`` is ``(X.shape[1],)`` and ``out`` has
    the rows of ``X`` and at least its columns.
    """
    n, d = X.shape
    width = out.shape[1]
    if shift.shape[0] != d or out.shape[0] != n or width < d:
        raise ValueError("subtract_shift: shift or out does not fit X")
    for i in range(n):
        for j in range(d):
            out[i, j] = X[i, j] - shift[j]
        for j in range(d, width):
            out[i, j] = constant


@njit(nogil=True, cache=True)
def _fits_projection(Z, offsets, stride):
    """Whether every component's block ``k * stride + (0..d)`` is in ``Z``."""
    k_count, d = offsets.shape
    return stride >= 0 and (k_count == 0 or (k_count - 1) * stride + d <= Z.shape[1])


@njit(nogil=True, cache=True)
def _fits_diagonal(X, means, precisions):
    """Whether ``means`` and ``precisions`` are both ``(k, X.shape[1])``."""
    k_count, d = means.shape
    return (
        d == X.shape[1] and precisions.shape[0] == k_count and precisions.shape[1] == d
    )


@njit(nogil=True, cache=True)
def _normalize_row(lp):
    """Turn log-weights ``lp`` into responsibilities in place; return log-sum-exp."""
    top = lp.max()
    if top == -np.inf:
        # No component gives the row any density: it gets no weight.
        lp[:] = 0.0
        return top
    total = 0.0
    for k in range(lp.shape[0]):
        lp[k] = np.exp(lp[k] - top)
        total += lp[k]
    for k in range(lp.shape[0]):
        lp[k] /= total
    return top + np.log(total)


# The EM kernels take the log-densities of this many rows at a time from the
# log-probability kernels: their size checks are then paid once a chunk,
# and the chunk's rows are still in cache when they are summed.
_CHUNK = 64


@njit(nogil=True, cache=True)
def projected_log_prob(Z, offsets, log_const, stride, out):
    """``out[i, k]``: log weight + log density of row ``i`` under component ``k``.

    ``Z[i, k * stride:(k * stride + d)] - offsets[k]`` is the row's whitened
    distance to the mean of component ``k`` (``stride`` is 0 when all
    components share one precision factor).

    Raises ValueError unless ``out`` is ``(Z.shape[0], k)``, ``log_const``
    ``(k,)``, ``stride >= 0`` and ``Z`` holds every component's columns.
    """
    k_count, d = offsets.shape
    if out.shape[0] != Z.shape[0] or out.shape[1] != k_count:
        raise ValueError("projected_log_prob: out must be (Z.shape[0], n_components)")
    if log_const.shape[0] != k_count or not _fits_projection(Z, offsets, stride):
        raise ValueError("projected_log_prob: log_const, offsets or stride unlike Z")
    for i in range(Z.shape[0]):
        for k in range(k_count):
            base = k * stride
            q = 0.0
            for j in range(d):
                v = Z[i, base + j] - offsets[k, j]
                q += v * v
            out[i, k] = log_const[k] - 0.5 * q


@njit(nogil=True, cache=True)
def diag_log_prob(X, means, precisions, log_const, out):
    """``out[i, k]`` for diagonal (and spherical) precisions.

    Raises ValueError unless ``means`` and ``precisions`` are
    ``(k, X.shape[1])``, ``log_const`` ``(k,)`` and ``out``
    ``(X.shape[0], k)``.
    """
    k_count, d = means.shape
    if out.shape[0] != X.shape[0] or out.shape[1] != k_count:
        raise ValueError("diag_log_prob: out must be (X.shape[0], n_components)")
    if log_const.shape[0] != k_count or not _fits_diagonal(X, means, precisions):
        raise ValueError("diag_log_prob: log_const, means or precisions unlike X")
    for i in range(X.shape[0]):
        for k in range(k_count):
            q = 0.0
            for j in range(d):
                v = (X[i, j] - means[k, j]) * precisions[k, j]
                q += v * v
            out[i, k] = log_const[k] - 0.5 * q


@njit(nogil=True, cache=True)
def projected_em_rows(Z, offsets, log_const, stride, Xc, shifts, rows, resp_sum, sums):
    """E-step and M-step sums for rows whose whitened projections are ``Z``.

    For each row: the responsibilities ``r_k``, then ``resp_sum[k] += r_k``
    and ``rows[k, i] = sqrt(r_k) * (Xc_i - shifts[k])`` (whose Gram matrix,
    left to BLAS, is the weighted scatter about ``shifts[k]``); then
    ``sums[k] += sqrt(r)^T rows[k]``, the sum of ``r_k * (Xc_i - shifts[k])``
    over the rows, by BLAS too: a loop over a row's few columns pays more for
    its setup than for its work, and adding each row to ``sums`` here took
    5.7 ms where BLAS takes 4.5 ms (15,000 rows of 50 columns, 3 components,
    in cache). Returns the sum of the rows' log-likelihoods.

    Raises ValueError unless ``Z`` has the rows of ``Xc`` and every
    component's columns (``stride >= 0``), ``log_const`` and ``resp_sum`` are
    ``(k,)``, ``shifts`` and ``sums`` ``(k, d)`` and ``rows`` ``(k, n, d)``.
    """
    n, d = Xc.shape
    k_count = offsets.shape[0]
    if Z.shape[0] != n or not _fits_projection(Z, offsets, stride):
        raise ValueError("projected_em_rows: Z needs the rows of Xc, columns of k")
    if log_const.shape[0] != k_count or resp_sum.shape[0] != k_count:
        raise ValueError("projected_em_rows: one log_const and resp_sum per component")
    if (
        shifts.shape[0] != k_count
        or shifts.shape[1] != d
        or sums.shape[0] != k_count
        or sums.shape[1] != d
    ):
        raise ValueError("projected_em_rows: shifts and sums must be (k, Xc.shape[1])")
    if rows.shape[0] != k_count or rows.shape[1] != n or rows.shape[2] != d:
        raise ValueError(
            "projected_em_rows: rows must be (k, Xc.shape[0], Xc.shape[1])"
        )
    block = np.empty((_CHUNK, k_count))
    roots = np.empty((k_count, n), dtype=rows.dtype)
    loglik = 0.0
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        projected_log_prob(
            Z[start:stop], offsets, log_const, stride, block[: stop - start]
        )
        for i in range(start, stop):
            lp = block[i - start]
            loglik += _normalize_row(lp)
            row = Xc[i]
            for k in range(k_count):
                r = lp[k]
                root = np.sqrt(r)
                roots[k, i] = root
                resp_sum[k] += r
                shift = shifts[k]
                out = rows[k, i]
                for j in range(d):
                    out[j] = root * (row[j] - shift[j])
    for k in range(k_count):
        sums[k] += roots[k] @ rows[k]
    return loglik


@njit(nogil=True, cache=True)
def diag_em_rows(X, means, precisions, log_const, shifts, resp_sum, sums, squares):
    """E-step and M-step sums for diagonal (and spherical) precisions.

    ``sums[k] += r_k * (x - shifts[k])`` and ``squares[k] += r_k * (x -
    shifts[k])**2`` for every row ``x``; returns the sum of log-likelihoods.

    Raises ValueError unless ``means``, ``precisions``, ``shifts``, ``sums``
    and ``squares`` are ``(k, X.shape[1])`` and ``log_const`` and
    ``resp_sum`` ``(k,)``.
    """
    n, d = X.shape
    k_count = means.shape[0]
    if not _fits_diagonal(X, means, precisions):
        raise ValueError("diag_em_rows: means and precisions must be (k, X.shape[1])")
    if log_const.shape[0] != k_count or resp_sum.shape[0] != k_count:
        raise ValueError("diag_em_rows: one log_const and resp_sum per component")
    if (
        shifts.shape[0] != k_count
        or shifts.shape[1] != d
        or sums.shape[0] != k_count
        or sums.shape[1] != d
        or squares.shape[0] != k_count
        or squares.shape[1] != d
    ):
        raise ValueError("diag_em_rows: shifts, sums, squares must be (k, d)")
    block = np.empty((_CHUNK, k_count))
    loglik = 0.0
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        diag_log_prob(
            X[start:stop], means, precisions, log_const, block[: stop - start]
        )
        for i in range(start, stop):
            lp = block[i - start]
            loglik += _normalize_row(lp)
            for k in range(k_count):
                r = lp[k]
                for j in range(d):
                    v = X[i, j] - shifts[k, j]
                    rv = r * v
                    sums[k, j] += rv
                    squares[k, j] += rv * v
                resp_sum[k] += r
    return loglik


@njit(nogil=True, cache=True)
def nearest_center(X, centers, out):
    """Index of the nearest center (squared Euclidean) of every row.

    Raises ValueError unless ``centers`` has the columns of ``X`` and
    ``out`` one entry per row.
    """
    n, d = X.shape
    if centers.shape[1] != d or out.shape[0] != n:
        raise ValueError("nearest_center: centers or out does not fit X")
    for i in range(n):
        best = np.inf
        label = 0
        for k in range(centers.shape[0]):
            q = 0.0
            for j in range(d):
                v = X[i, j] - centers[k, j]
                q += v * v
            if q < best:
                best = q
                label = k
        out[i] = label


# Reassociation lets the row loops run in SIMD lanes (twice as fast): the
# sums are then added in another fixed order, still the same on every run.
@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def lloyd_rows(
    Xs, D, centers, center_norms, w, labels, sums, weights, far, row0, ahead=None
):
    """Assign rows to their nearest center and sum them per center.

    ``Xs`` are rows shifted near the ``centers``, ``D = Xs @ centers.T``
    (from BLAS) and ``center_norms`` the centers' squared norms, all in the
    same shifted coordinates. As scikit-learn's Lloyd step, the label is the
    first center with the least ``||c||^2 - 2 x.c`` (the row's own norm
    changes no comparison), and the squared distance to it is then computed
    directly, ``sum_j (x_j - c_j)^2``, in the same loop that adds the row to
    its center's sum. ``w`` may be empty (unit weights). Writes labels (any
    integer type); adds ``w x`` and ``w`` to ``sums`` and ``weights``;
    returns the weighted sum of squared distances (the inertia).

    ``far`` (shape ``(2, m)``) keeps the ``m`` rows farthest from their
    centers seen so far, across calls: squared distances in ``far[0]``,
    row numbers (``row0`` + position in ``Xs``) in ``far[1]``, unused slots
    at ``-inf``. Of equal distances the earlier rows are kept, so the set is
    ``argsort(-distances, kind="stable")[:m]`` of all the rows seen.

    ``ahead`` (1-D, contiguous), if given, is the next chunk's values: its
    cache lines are prefetched a share per row, so that the next GEMM reads
    them from cache (one Lloyd iteration over 2M x 50 cached rows took 169
    ms instead of 200 ms on one thread).

    Raises ValueError unless there is a center, ``D`` is ``(n, k)``,
    ``centers`` and ``sums`` ``(k, d)``, ``center_norms`` and ``weights``
    ``(k,)``, ``labels`` ``(n,)``, ``w`` empty or ``(n,)``, and ``far``
    ``(2, m)`` with ``m >= 1``.
    """
    n, d = Xs.shape
    k_count = D.shape[1]
    if k_count < 1 or D.shape[0] != n or labels.shape[0] != n:
        raise ValueError("lloyd_rows: D must be (Xs.shape[0], k >= 1), labels (n,)")
    if (
        centers.shape[0] != k_count
        or centers.shape[1] != d
        or sums.shape[0] != k_count
        or sums.shape[1] != d
        or center_norms.shape[0] != k_count
        or weights.shape[0] != k_count
    ):
        raise ValueError("lloyd_rows: centers, sums, norms and weights unlike D, Xs")
    if w.shape[0] != 0 and w.shape[0] != n:
        raise ValueError("lloyd_rows: w must be empty or one weight per row")
    if far.shape[0] != 2 or far.shape[1] < 1:
        raise ValueError("lloyd_rows: far must be (2, m) with m >= 1")
    weighted = w.shape[0] > 0
    inertia = 0.0
    weakest = _weakest(far)
    for i in range(n):
        if ahead is not None:
            prefetch_share(ahead, i, n)
        best = np.inf
        label = 0
        for k in range(k_count):
            score = center_norms[k] - 2.0 * D[i, k]
            if score < best:
                best = score
                label = k
        wi = w[i] if weighted else 1.0
        dist = 0.0
        for j in range(d):
            v = Xs[i, j]
            sums[label, j] += wi * v
            gap = v - centers[label, j]
            dist += gap * gap
        labels[i] = label
        weights[label] += wi
        inertia += wi * dist
        if dist > far[0, weakest]:
            far[0, weakest] = dist
            far[1, weakest] = row0 + i
            weakest = _weakest(far)
    return inertia


@njit(nogil=True, cache=True)
def _weakest(far):
    """The slot of ``far`` to give up first: least distance, then latest row."""
    if far.shape[0] != 2 or far.shape[1] < 1:
        raise ValueError("_weakest: far must be (2, m) with m >= 1")
    weakest = 0
    for slot in range(1, far.shape[1]):
        if far[0, slot] < far[0, weakest] or (
            far[0, slot] == far[0, weakest] and far[1, slot] > far[1, weakest]
        ):
            weakest = slot
    return weakest
