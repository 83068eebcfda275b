"""Row-wise kernels of Gaussian mixtures: log-densities, responsibilities and
the responsibility-weighted sums of the M-step, fused in one pass over rows.

Full and tied covariances leave the products with the precision factors to
BLAS (one GEMM for all components); these kernels do the per-row rest.
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def subtract_shift(X, shift, out):
    """``out = X - shift`` in float64 (float32 rows are widened)."""
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = X[i, j] - shift[j]


@njit(nogil=True, cache=True)
def _projected_log_prob(Z, i, offsets, log_const, stride, lp):
    """Log of weight times density of row ``i`` for each component.

    ``Z[i, k * stride:(k * stride + d)] - offsets[k]`` is the row's whitened
    distance to the mean of component ``k`` (``stride`` is 0 when all
    components share one precision factor).
    """
    k_count, d = offsets.shape
    for k in range(k_count):
        base = k * stride
        q = 0.0
        for j in range(d):
            v = Z[i, base + j] - offsets[k, j]
            q += v * v
        lp[k] = log_const[k] - 0.5 * q


@njit(nogil=True, cache=True)
def _diag_log_prob(X, i, means, precisions, log_const, lp):
    """Log of weight times density of row ``i``, diagonal precisions."""
    k_count, d = means.shape
    for k in range(k_count):
        q = 0.0
        for j in range(d):
            v = (X[i, j] - means[k, j]) * precisions[k, j]
            q += v * v
        lp[k] = log_const[k] - 0.5 * q


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


@njit(nogil=True, cache=True)
def projected_log_prob(Z, offsets, log_const, stride, out):
    """``out[i, k]``: log weight + log density of row ``i`` under component ``k``."""
    for i in range(Z.shape[0]):
        _projected_log_prob(Z, i, offsets, log_const, stride, out[i])


@njit(nogil=True, cache=True)
def diag_log_prob(X, means, precisions, log_const, out):
    """``out[i, k]`` for diagonal (and spherical) precisions."""
    for i in range(X.shape[0]):
        _diag_log_prob(X, i, means, precisions, log_const, out[i])


@njit(nogil=True, cache=True)
def projected_em_rows(Z, offsets, log_const, stride, Xc, shifts, rows, resp_sum, sums):
    """E-step and M-step sums for rows whose whitened projections are ``Z``.

    For each row: the responsibilities ``r_k``, then ``resp_sum[k] += r_k``,
    ``sums[k] += r_k * (Xc_i - shifts[k])`` and
    ``rows[k, i] = sqrt(r_k) * (Xc_i - shifts[k])`` (whose Gram matrix, left
    to BLAS, is the weighted scatter about ``shifts[k]``). Returns the sum of
    the rows' log-likelihoods.
    """
    n, d = Xc.shape
    k_count = offsets.shape[0]
    lp = np.empty(k_count)
    loglik = 0.0
    for i in range(n):
        _projected_log_prob(Z, i, offsets, log_const, stride, lp)
        loglik += _normalize_row(lp)
        for k in range(k_count):
            r = lp[k]
            root = np.sqrt(r)
            resp_sum[k] += r
            for j in range(d):
                v = Xc[i, j] - shifts[k, j]
                sums[k, j] += r * v
                rows[k, i, j] = root * v
    return loglik


@njit(nogil=True, cache=True)
def diag_em_rows(X, means, precisions, log_const, shifts, resp_sum, sums, squares):
    """E-step and M-step sums for diagonal (and spherical) precisions.

    ``sums[k] += r_k * (x - shifts[k])`` and ``squares[k] += r_k * (x -
    shifts[k])**2`` for every row ``x``; returns the sum of log-likelihoods.
    """
    n, d = X.shape
    k_count = means.shape[0]
    lp = np.empty(k_count)
    loglik = 0.0
    for i in range(n):
        _diag_log_prob(X, i, means, precisions, log_const, lp)
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
    """Index of the nearest center (squared Euclidean) of every row."""
    n, d = X.shape
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
def lloyd_rows(Xs, D, centers, center_norms, w, labels, sums, weights, far, row0):
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
    """
    n, d = Xs.shape
    k_count = D.shape[1]
    weighted = w.shape[0] > 0
    inertia = 0.0
    weakest = _weakest(far)
    for i in range(n):
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
    weakest = 0
    for slot in range(1, far.shape[1]):
        if far[0, slot] < far[0, weakest] or (
            far[0, slot] == far[0, weakest] and far[1, slot] > far[1, weakest]
        ):
            weakest = slot
    return weakest
