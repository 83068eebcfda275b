"""Slow, obvious NumPy references for the kernels and statistics."""

import numpy as np


def weighted_moments(Z, w=None):
    """Weight sum, mean and centered scatter of the rows of Z, two-pass."""
    Z = np.asarray(Z, dtype=np.float64)
    w = np.ones(Z.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    weight = w.sum()
    mean = (w[:, None] * Z).sum(axis=0) / weight
    centered = Z - mean
    scatter = (w[:, None] * centered).T @ centered
    return weight, mean, scatter


def shifted_weighted_rows(X, Y, w, shift):
    """sqrt(w) * ([X, Y] - shift), the weighted sums of [X, Y] - shift, sum(w)."""
    Z = np.hstack([np.asarray(X, np.float64), np.asarray(Y, np.float64)]) - shift
    w = np.ones(Z.shape[0]) if len(w) == 0 else np.asarray(w, np.float64)
    return np.sqrt(w)[:, None] * Z, (w[:, None] * Z).sum(axis=0), w.sum()


def first_nonfinite_row(A):
    bad = np.flatnonzero(~np.isfinite(A).all(axis=1))
    return int(bad[0]) if bad.size else -1


def first_negative(a):
    bad = np.flatnonzero(a < 0)
    return int(bad[0]) if bad.size else -1
