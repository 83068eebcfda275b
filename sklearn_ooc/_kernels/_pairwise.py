"""Kernel functions on blocks of rows, in scikit-learn's order of operations.

Inner products come from BLAS; these kernels finish the entries in place, or
compute distances that BLAS cannot (L1, chi-squared).
"""

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def rbf_from_dot(D, a_norms, b_norms, gamma, row0, col0, same):
    """``D = A @ B.T`` becomes ``exp(-gamma * ||a - b||^2)`` in place.

    The squared distance is ``-2 a.b + ||a||^2 + ||b||^2``, clipped at zero,
    as :func:`sklearn.metrics.pairwise.euclidean_distances` computes it; a
    row against itself (``same`` source and equal absolute indices) is at
    distance zero exactly.

    Raises ValueError unless ``a_norms`` is ``(D.shape[0],)`` and
    ``b_norms`` ``(D.shape[1],)``.
    """
    n, m = D.shape
    if a_norms.shape[0] != n or b_norms.shape[0] != m:
        raise ValueError("rbf_from_dot: a_norms and b_norms must fit the rows of D")
    for i in range(n):
        for j in range(m):
            d = (-2.0 * D[i, j] + a_norms[i]) + b_norms[j]
            if d < 0.0 or (same and row0 + i == col0 + j):
                d = 0.0
            D[i, j] = np.exp(d * -gamma)


@njit(nogil=True, cache=True)
def polynomial_from_dot(D, gamma, coef0, degree):
    """``D = A @ B.T`` becomes ``(gamma * D + coef0) ** degree`` in place."""
    n, m = D.shape
    for i in range(n):
        for j in range(m):
            D[i, j] = (D[i, j] * gamma + coef0) ** degree


@njit(nogil=True, cache=True)
def sigmoid_from_dot(D, gamma, coef0):
    """``D = A @ B.T`` becomes ``tanh(gamma * D + coef0)`` in place."""
    n, m = D.shape
    for i in range(n):
        for j in range(m):
            D[i, j] = np.tanh(D[i, j] * gamma + coef0)


@njit(nogil=True, cache=True)
def laplacian_block(A, B, gamma, out):
    """``out = exp(-gamma * ||a - b||_1)`` for every pair of rows.

    Raises ValueError unless ``B`` has the columns of ``A`` and ``out`` is
    ``(A.shape[0], B.shape[0])``.
    """
    n, d = A.shape
    m = B.shape[0]
    if B.shape[1] != d or out.shape[0] != n or out.shape[1] != m:
        raise ValueError("laplacian_block: B or out does not fit A")
    for i in range(n):
        for j in range(m):
            total = 0.0
            for k in range(d):
                total += abs(A[i, k] - B[j, k])
            out[i, j] = np.exp(-gamma * total)


@njit(nogil=True, cache=True)
def chi2_block(A, B, gamma, out):
    """``out = exp(-gamma * sum((a - b)^2 / (a + b)))`` (terms with a + b = 0
    count zero).

    Raises ValueError unless ``B`` has the columns of ``A`` and ``out`` is
    ``(A.shape[0], B.shape[0])``.
    """
    n, d = A.shape
    m = B.shape[0]
    if B.shape[1] != d or out.shape[0] != n or out.shape[1] != m:
        raise ValueError("chi2_block: B or out does not fit A")
    for i in range(n):
        for j in range(m):
            total = 0.0
            for k in range(d):
                denom = A[i, k] + B[j, k]
                if denom != 0.0:
                    nom = A[i, k] - B[j, k]
                    total += nom * nom / denom
            out[i, j] = np.exp(-total * gamma)
