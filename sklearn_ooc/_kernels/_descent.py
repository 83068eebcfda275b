"""Block coordinate descent of the multi-task elastic net on the Gram matrix.

scikit-learn's ``enet_coordinate_descent_multi_task`` descends on the rows
``X`` and their residuals ``R = Y - X W^T``; every quantity it reads from
them is a product with ``X``: ``X_j^T R = (X^T Y)_j - (X^T X W^T)_j``, the
squared column norms are the Gram's diagonal, and the residual norms of the
duality gap are quadratic forms in ``X^T X``, ``X^T Y`` and ``Y^T Y``. This
kernel keeps ``Q W^T`` up to date instead of ``R`` and otherwise takes
scikit-learn's steps in its order: the same sweeps (cyclic, or its xorshift
draws for ``selection='random'``), the same stopping rule and the same
gap-safe screening. Its memory and its cost per sweep depend on the
features and tasks only.
"""

import numpy as np
from numba import njit

# scikit-learn's _random.pxd: the largest value of its generator.
RAND_R_MAX = 2147483647


@njit(cache=True, nogil=True)
def _rand_int(end, state):
    """scikit-learn's ``rand_int``: its 32-bit xorshift, then modulo ``end``."""
    s = state[0]
    if s == 0:
        s = 1
    s ^= (s << 13) & 0xFFFFFFFF
    s ^= s >> 17
    s ^= (s << 5) & 0xFFFFFFFF
    state[0] = s
    return (s % (RAND_R_MAX + 1)) % end


@njit(cache=True, nogil=True, error_model="numpy")
def _gap(W, alpha, beta, XY, yy, QW, XtA, row_norms):
    """The duality gap and the dual norm of ``X^T R - beta W^T`` (written to
    ``XtA`` and its row norms), as scikit-learn's ``gap_enet_multi_task``."""
    n_tasks, n_features = W.shape
    w_l2 = 0.0
    if beta > 0:
        for t in range(n_tasks):
            for j in range(n_features):
                w_l2 += W[t, j] * W[t, j]
    wxy = 0.0
    wqw = 0.0
    for j in range(n_features):
        for t in range(n_tasks):
            wxy += W[t, j] * XY[j, t]
            wqw += W[t, j] * QW[j, t]
    r_norm2 = yy - 2.0 * wxy + wqw
    ry = yy - wxy
    if alpha == 0:
        dual = 0.0
        for j in range(n_features):
            for t in range(n_tasks):
                XtA[j, t] = XY[j, t] - QW[j, t]
                dual += XtA[j, t] * XtA[j, t]
        if beta == 0:
            return dual, dual
        return r_norm2 + 0.5 * beta * w_l2 - ry + dual / (2.0 * beta), dual
    dual = 0.0
    for j in range(n_features):
        norm = 0.0
        for t in range(n_tasks):
            XtA[j, t] = XY[j, t] - QW[j, t] - beta * W[t, j]
            norm += XtA[j, t] * XtA[j, t]
        row_norms[j] = np.sqrt(norm)
        if row_norms[j] > dual:
            dual = row_norms[j]
    w_l21 = 0.0
    for j in range(n_features):
        norm = 0.0
        for t in range(n_tasks):
            norm += W[t, j] * W[t, j]
        w_l21 += np.sqrt(norm)
    primal = 0.5 * (r_norm2 + beta * w_l2) + alpha * w_l21
    scale = alpha / dual if dual > alpha else 1.0
    dual_value = -0.5 * scale**2 * (r_norm2 + beta * w_l2) + scale * ry
    return primal - dual_value, dual


@njit(cache=True, nogil=True, error_model="numpy")
def _screen(W, Q, QW, alpha, beta, gap, dual, row_norms, active, excluded, first):
    """Gap-safe screening: the features still active (first ``n`` of
    ``active``); an excluded feature's coefficients are set to zero."""
    n_tasks, n_features = W.shape
    n_active = 0
    for j in range(n_features):
        if not first and excluded[j]:
            continue
        if first and Q[j, j] == 0:
            for t in range(n_tasks):
                W[t, j] = 0.0
            excluded[j] = 1
            continue
        theta = row_norms[j] / max(alpha, dual)
        d_j = (1.0 - theta) / np.sqrt(Q[j, j] + beta)
        if d_j <= np.sqrt(2.0 * gap) / alpha:
            active[n_active] = j
            excluded[j] = 0
            n_active += 1
        else:
            for t in range(n_tasks):
                if W[t, j] != 0:
                    for i in range(n_features):
                        QW[i, t] -= Q[i, j] * W[t, j]
                    W[t, j] = 0.0
            excluded[j] = 1
    return n_active


@njit(cache=True, nogil=True, error_model="numpy")
def multitask_gram_descent(
    W, alpha, beta, Q, XY, yy, max_iter, tol, seed, random, screening
):
    """Minimize ``W Q W^T / 2 - tr(W XY) + alpha ||W||_21 + beta ||W||^2 / 2``.

    Parameters
    ----------
    W : ndarray of shape (n_tasks, n_features)
        The starting coefficients, updated in place.
    alpha, beta : float
        The L2,1 and squared L2 penalties (scikit-learn's, times the rows).
    Q : ndarray of shape (n_features, n_features)
        ``X^T X``.
    XY : ndarray of shape (n_features, n_tasks)
        ``X^T Y``.
    yy : float
        ``||Y||_F^2``.
    max_iter : int
        Sweeps at most.
    tol : float
        The duality gap to reach, relative to ``yy``.
    seed : int
        The first state of scikit-learn's generator (``selection='random'``).
    random : bool
        Draw the features of a sweep at random.
    screening : bool
        Drop the features that gap-safe rules prove to be zero.

    Returns
    -------
    gap : float
    tol : float
        ``tol * yy``, the gap that was to be reached.
    n_iter : int
    converged : bool
    """
    n_tasks, n_features = W.shape
    if Q.shape[0] != n_features or Q.shape[1] != n_features:
        raise ValueError("Q must be n_features x n_features")
    if XY.shape[0] != n_features or XY.shape[1] != n_tasks:
        raise ValueError("XY must be n_features x n_tasks")
    QW = np.zeros((n_features, n_tasks))
    for j in range(n_features):
        for t in range(n_tasks):
            if W[t, j] != 0:
                for i in range(n_features):
                    QW[i, t] += Q[i, j] * W[t, j]
    XtA = np.empty((n_features, n_tasks))
    row_norms = np.empty(n_features)
    tmp = np.empty(n_tasks)
    w_j = np.empty(n_tasks)
    state = np.empty(1, dtype=np.int64)
    state[0] = seed
    active = np.arange(n_features)
    excluded = np.zeros(n_features, dtype=np.uint8)
    if alpha == 0:
        screening = False
    d_w_tol = tol
    tol = tol * yy
    gap, dual = _gap(W, alpha, beta, XY, yy, QW, XtA, row_norms)
    if gap <= tol:
        return gap, tol, 0, True
    n_active = n_features
    if screening:
        n_active = _screen(
            W, Q, QW, alpha, beta, gap, dual, row_norms, active, excluded, True
        )
    converged = False
    n_iter = 0
    for n_iter in range(max_iter):
        w_max = 0.0
        d_w_max = 0.0
        for f in range(n_active):
            j = _rand_int(n_active, state) if random else f
            if screening:
                j = active[j]
            norm2 = Q[j, j]
            if norm2 == 0.0:
                continue
            for t in range(n_tasks):
                w_j[t] = W[t, j]
            nn = 0.0
            for t in range(n_tasks):
                tmp[t] = XY[j, t] - QW[j, t] + w_j[t] * norm2
                nn += tmp[t] * tmp[t]
            nn = np.sqrt(nn)
            shrink = max(1.0 - alpha / nn, 0.0) / (norm2 + beta)
            d_w_j = 0.0
            w_abs = 0.0
            for t in range(n_tasks):
                W[t, j] = tmp[t] * shrink
                if W[t, j] != w_j[t]:
                    step = W[t, j] - w_j[t]
                    for i in range(n_features):
                        QW[i, t] += Q[i, j] * step
                d_w_j = max(d_w_j, abs(W[t, j] - w_j[t]))
                w_abs = max(w_abs, abs(W[t, j]))
            d_w_max = max(d_w_max, d_w_j)
            w_max = max(w_max, w_abs)
        if w_max == 0.0 or d_w_max / w_max <= d_w_tol or n_iter == max_iter - 1:
            gap, dual = _gap(W, alpha, beta, XY, yy, QW, XtA, row_norms)
            if gap <= tol:
                converged = True
                break
            if screening:
                n_active = _screen(
                    W, Q, QW, alpha, beta, gap, dual, row_norms, active, excluded, False
                )
    return gap, tol, n_iter + 1, converged
