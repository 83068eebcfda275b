"""A chunk of rows of a logistic regression's Newton pass.

Once BLAS has scored the design rows (copied about the shift, with the
intercept's column, by :func:`~sklearn_ooc._kernels.subtract_shift`), one
pass over them (still in cache) takes the loss, adds the gradient and scales
each row by the square root of its Hessian weight, so that ``Z.T @ Z`` (BLAS
again) is the Hessian.
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _log_expit(x):
    """``log(1 / (1 + exp(-x)))``, as scipy's ``log_expit`` computes it."""
    if x < 0.0:
        return x - np.log1p(np.exp(x))
    return -np.log1p(np.exp(-x))


@njit(nogil=True, cache=True)
def logistic_rows(Z, scores, positive, w, gradient):
    """Binary logistic loss of the rows ``Z``; their gradient and Hessian.

    Row ``i`` has the score ``scores[i]`` (``Z[i] @ weights``), the class
    ``positive[i]`` and the weight ``w[i]``. With ``p = expit(score)`` and
    ``t`` 1 for the positive class, 0 for the other, adds ``w (p - t) Z[i]``
    to ``gradient`` and scales ``Z[i]`` by ``sqrt(w p (1 - p))``, so that
    ``Z.T @ Z`` is then the Hessian of the rows. Returns the loss,
    ``-sum w log(p)`` over positive rows plus ``-sum w log(1 - p)`` over the
    others, each logarithm taken as scipy's ``log_expit``.

    Raises ValueError unless ``scores``, ``positive`` and ``w`` have one
    entry per row of ``Z`` and ``gradient`` one per column.
    """
    n, width = Z.shape
    if scores.shape[0] != n or positive.shape[0] != n or w.shape[0] != n:
        raise ValueError("logistic_rows: scores, positive and w must fit Z's rows")
    if gradient.shape[0] != width:
        raise ValueError("logistic_rows: gradient must fit Z's columns")
    loss = 0.0
    for i in range(n):
        s = scores[i]
        wi = w[i]
        if positive[i]:
            loss -= wi * _log_expit(s)
            t = 1.0
        else:
            loss -= wi * _log_expit(-s)
            t = 0.0
        p = 1.0 / (1.0 + np.exp(-s))
        residual = wi * (p - t)
        root = np.sqrt(wi * p * (1.0 - p))
        for j in range(width):
            z = Z[i, j]
            gradient[j] += residual * z
            Z[i, j] = root * z
    return loss
