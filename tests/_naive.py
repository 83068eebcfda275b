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


def logistic_rows(Z, scores, positive, w):
    """The binary logistic loss of rows ``Z``, its gradient, and the rows
    scaled by the square roots of their Hessian weights, with scipy."""
    from scipy.special import expit, log_expit

    t = positive.astype(np.float64)
    loss = -np.sum(w * (t * log_expit(scores) + (1 - t) * log_expit(-scores)))
    p = expit(scores)
    gradient = (w * (p - t)) @ Z
    return loss, gradient, np.sqrt(w * p * (1 - p))[:, None] * Z


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


def sgd_rows(
    X,
    y,
    rows,
    coef,
    intercept,
    *,
    loss,
    penalty,
    alpha,
    eta0,
    learning_rate="constant",
    power_t=0.5,
    optimal_init=1.0,
    t=1.0,
    sample_weight=None,
    fit_intercept=True,
):
    """scikit-learn's ``_plain_sgd`` step, one row of ``X[rows]`` at a time,
    written plainly: the weights held as they are (no ``wscale``), the L2
    penalty as a shrink of ``coef`` before the step, the L1 penalty as its
    cumulative truncated gradient (Tsuruoka et al.) after it.

    ``loss`` is "hinge" (``y`` in -1, +1), "log_loss" (scikit-learn's half
    binomial loss, ``y`` in 0, 1) or "squared_error"; ``penalty`` "l2" or
    "l1"; ``learning_rate`` "constant", "optimal" or "invscaling". Returns
    the coefficients, the intercept and the step count after the rows.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.array(coef, dtype=np.float64)
    b = float(intercept)
    sample_weight = np.ones(len(X)) if sample_weight is None else sample_weight
    u = 0.0
    q = np.zeros_like(w)
    for i in rows:
        x = X[i]
        p = float(w @ x) + b
        if learning_rate == "optimal":
            eta = 1.0 / (alpha * (optimal_init + t - 1))
        elif learning_rate == "invscaling":
            eta = eta0 / t**power_t
        else:
            eta = eta0
        if loss == "hinge":
            dloss = -y[i] if p * y[i] <= 1.0 else 0.0
        elif loss == "log_loss":
            dloss = 1.0 / (1.0 + np.exp(-p)) - y[i]
        else:
            dloss = p - y[i]
        update = -eta * float(np.clip(dloss, -1e12, 1e12)) * sample_weight[i]
        if penalty == "l2":
            w = w * max(0.0, 1.0 - eta * alpha)
        w = w + update * x
        if fit_intercept:
            b += update
        if penalty == "l1":
            u += eta * alpha
            before = w.copy()
            w = np.where(
                w > 0,
                np.maximum(0.0, w - (u + q)),
                np.where(w < 0, np.minimum(0.0, w + (u - q)), w),
            )
            q += w - before
        t += 1
    return w, b, t


def best_network(score, d, k):
    """The BIC-best network by dynamic programming over subsets, in plain
    Python: ``score(v, parents)`` of every family with at most ``k``
    parents. Returns the parents of each variable and the total score."""
    import itertools

    best = []
    for v in range(d):
        others = [u for u in range(d) if u != v]
        table = {}
        for mask in range(1 << d):
            if mask >> v & 1:
                continue
            inside = [u for u in others if mask >> u & 1]
            table[mask] = max(
                (
                    (score(v, ps), -len(ps), ps)
                    for size in range(min(k, len(inside)) + 1)
                    for ps in itertools.combinations(inside, size)
                ),
            )
        best.append(table)
    total = {0: (0.0, None)}
    for mask in range(1, 1 << d):
        total[mask] = max(
            (total[mask & ~(1 << v)][0] + best[v][mask & ~(1 << v)][0], v)
            for v in range(d)
            if mask >> v & 1
        )
    parents, mask = [()] * d, (1 << d) - 1
    while mask:
        v = total[mask][1]
        parents[v] = best[v][mask & ~(1 << v)][2]
        mask &= ~(1 << v)
    return parents, total[(1 << d) - 1][0]


def hybrid_runs(values, bit_width, rle):
    """Parquet's RLE / bit-packed hybrid encoding of ``values``, a run per
    ``(start, stop)`` of ``rle`` repeated (all its values equal) and the
    values between them bit-packed, packed bit by bit from the low bits up."""

    def uleb(n):
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def packed(chunk):
        groups = -(-len(chunk) // 8)
        bits = []
        for v in list(chunk) + [0] * (groups * 8 - len(chunk)):
            bits.extend((int(v) >> b) & 1 for b in range(bit_width))
        data = bytearray(-(-len(bits) // 8))
        for i, bit in enumerate(bits):
            data[i // 8] |= bit << (i % 8)
        return uleb(groups << 1 | 1) + bytes(data)

    out = b""
    at = 0
    for start, stop in sorted(rle) + [(len(values), len(values))]:
        if start > at:
            out += packed(values[at:start])
        if stop > start:
            out += uleb((stop - start) << 1)
            out += int(values[start]).to_bytes((bit_width + 7) // 8, "little")
        at = max(at, stop)
    return out
