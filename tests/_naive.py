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


def log_gaussian(X, means, covariances):
    """log N(x | mu_k, Sigma_k) for every row and component, by solving."""
    from scipy.stats import multivariate_normal

    return np.column_stack(
        [
            multivariate_normal(mean=m, cov=c, allow_singular=False).logpdf(X)
            for m, c in zip(means, covariances, strict=True)
        ]
    ).reshape(len(X), len(means))


def responsibilities(log_weighted):
    """Normalized responsibilities and log-sum-exp of each row."""
    top = log_weighted.max(axis=1, keepdims=True)
    lse = np.log(np.exp(log_weighted - top).sum(axis=1)) + top[:, 0]
    return np.exp(log_weighted - lse[:, None]), lse


def em_sums(X, resp, shifts):
    """Counts, sums and scatters of the rows about shifts, per component."""
    counts = resp.sum(axis=0)
    sums = np.stack([resp[:, k] @ (X - shifts[k]) for k in range(resp.shape[1])])
    scatter = np.stack(
        [
            (resp[:, k, None] * (X - shifts[k])).T @ (X - shifts[k])
            for k in range(resp.shape[1])
        ]
    )
    return counts, sums, scatter


def lloyd_step(X, w, centers):
    """Labels (first nearest center), squared distances, weighted sums and
    weights per center, by explicit distances."""
    gaps = X[:, None, :] - centers[None, :, :]
    squared = (gaps**2).sum(axis=2)
    labels = squared.argmin(axis=1)
    distances = squared[np.arange(len(X)), labels]
    k = len(centers)
    sums = np.stack([w[labels == c] @ X[labels == c] for c in range(k)])
    weights = np.array([w[labels == c].sum() for c in range(k)])
    return labels, distances, sums, weights


def sgd_minibatch(
    X, Y, order, coef, intercept, *, loss, alpha, eta, batch_size, momentum, epsilon=0.1
):
    """Minibatch SGD with momentum and a constant step, written plainly."""
    coef, intercept = coef.copy(), intercept.copy()
    v_coef, v_int = np.zeros_like(coef), np.zeros_like(intercept)
    X = np.asarray(X, dtype=np.float64)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        P = X[rows] @ coef.T + intercept
        T = Y[rows]
        if loss == "squared_error":
            G = P - T
        elif loss == "huber":
            G = np.clip(P - T, -epsilon, epsilon)
        elif loss == "log_loss":
            G = -T / (1 + np.exp(T * P))
        elif loss == "hinge":
            G = np.where(T * P < 1, -T, 0.0)
        else:  # multinomial
            E = np.exp(P - P.max(axis=1, keepdims=True))
            G = E / E.sum(axis=1, keepdims=True) - T
        grad = G.T @ X[rows] / len(rows) + alpha * coef
        v_coef = momentum * v_coef - eta * grad
        coef = coef + v_coef
        v_int = momentum * v_int - eta * G.mean(axis=0)
        intercept = intercept + v_int
    return coef, intercept
