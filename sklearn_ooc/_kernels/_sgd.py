"""Plain stochastic gradient descent, one row at a time, as scikit-learn's.

The update of each row follows scikit-learn's ``_plain_sgd`` (its loss
functions, learning rates, penalties, truncated-gradient L1 and averaging)
step for step, with the weights held as ``wscale * w`` as its
``WeightVector`` holds them, so that a run over the same rows in the same
order gives scikit-learn's iterates to rounding. Several binary models
(one-vs-rest) are updated by one pass over a block.
"""

import numpy as np
from numba import njit

# Losses (scikit-learn's names in _stochastic_gradient.loss_functions).
LOSS_HINGE = 0
LOSS_SQUARED_HINGE = 1
LOSS_LOG = 2
LOSS_MODIFIED_HUBER = 3
LOSS_SQUARED_ERROR = 4
LOSS_HUBER = 5
LOSS_EPSILON_INSENSITIVE = 6
LOSS_SQUARED_EPSILON_INSENSITIVE = 7

# Learning rates and penalties: scikit-learn's codes.
LR_CONSTANT = 1
LR_OPTIMAL = 2
LR_INVSCALING = 3
LR_ADAPTIVE = 4
LR_PA1 = 5
LR_PA2 = 6

PENALTY_NONE = 0
PENALTY_L1 = 1
PENALTY_L2 = 2
PENALTY_ELASTICNET = 3

_MAX_DLOSS = 1e12


@njit(nogil=True, cache=True)
def _check_entries(a, n, message):
    """Raise ValueError(message) unless ``a`` has ``n`` entries (rows)."""
    if a.shape[0] != n:
        raise ValueError(message)


@njit(nogil=True, cache=True)
def _log1pexp(x):
    if x <= -37.0:
        return np.exp(x)
    if x <= -2.0:
        return np.log1p(np.exp(x))
    if x <= 18.0:
        return np.log(1.0 + np.exp(x))
    if x <= 33.3:
        return x + np.exp(-x)
    return x


@njit(nogil=True, cache=True)
def loss_value(loss, y, p, param):
    """Loss of prediction ``p`` for target ``y``; ``param`` is the hinge
    threshold or epsilon."""
    if loss == LOSS_HINGE:
        z = p * y
        return param - z if z <= param else 0.0
    if loss == LOSS_SQUARED_HINGE:
        z = param - p * y
        return z * z if z > 0 else 0.0
    if loss == LOSS_LOG:
        return _log1pexp(p) - y * p
    if loss == LOSS_MODIFIED_HUBER:
        z = p * y
        if z >= 1.0:
            return 0.0
        if z >= -1.0:
            return (1.0 - z) * (1.0 - z)
        return -4.0 * z
    if loss == LOSS_SQUARED_ERROR:
        return 0.5 * (p - y) * (p - y)
    if loss == LOSS_HUBER:
        r = abs(y - p)
        if r <= param:
            return 0.5 * r**2
        return param * (r - 0.5 * param)
    r = abs(y - p) - param
    if loss == LOSS_EPSILON_INSENSITIVE:
        return r if r > 0 else 0.0
    return r * r if r > 0 else 0.0


@njit(nogil=True, cache=True)
def loss_gradient(loss, y, p, param):
    """Derivative of :func:`loss_value` with respect to ``p``."""
    if loss == LOSS_HINGE:
        return -y if p * y <= param else 0.0
    if loss == LOSS_SQUARED_HINGE:
        z = param - p * y
        return -2 * y * z if z > 0 else 0.0
    if loss == LOSS_LOG:
        if p > -37.0:
            e = np.exp(-p)
            return ((1 - y) - y * e) / (1 + e)
        return np.exp(p) - y
    if loss == LOSS_MODIFIED_HUBER:
        z = p * y
        if z >= 1.0:
            return 0.0
        if z >= -1.0:
            return 2.0 * (1.0 - z) * -y
        return -4.0 * y
    if loss == LOSS_SQUARED_ERROR:
        return p - y
    if loss == LOSS_HUBER:
        r = p - y
        if abs(r) <= param:
            return r
        return param if r >= 0 else -param
    if loss == LOSS_EPSILON_INSENSITIVE:
        if y - p > param:
            return -1.0
        if p - y > param:
            return 1.0
        return 0.0
    z = y - p
    if z > param:
        return -2 * (z - param)
    if z < -param:
        return 2 * (-z - param)
    return 0.0


@njit(nogil=True, cache=True)
def _our_rand_r(state):
    """scikit-learn's xorshift ``our_rand_r`` on a one-entry uint32 state."""
    if state.shape[0] < 1:
        raise ValueError("_our_rand_r: state needs one entry")
    s = state[0]
    if s == 0:
        s = np.uint32(1)
    s ^= np.uint32(s << np.uint32(13))
    s ^= np.uint32(s >> np.uint32(17))
    s ^= np.uint32(s << np.uint32(5))
    state[0] = s
    return s % np.uint32(2147483648)


@njit(nogil=True, cache=True)
def shuffle_index(index, seed):
    """Permute ``index`` in place as scikit-learn's ``SequentialDataset``
    does at the start of each epoch (Fisher-Yates with ``our_rand_r``)."""
    state = np.empty(1, dtype=np.uint32)
    state[0] = np.uint32(seed)
    n = index.shape[0]
    for i in range(n - 1):
        j = i + int(_our_rand_r(state) % np.uint32(n - i))
        tmp = index[i]
        index[i] = index[j]
        index[j] = tmp


@njit(nogil=True, cache=True)
def _reset_wscale(k, W, wscale, AW, avg_a, avg_b, averaging):
    d = W.shape[1]
    if averaging:
        for j in range(d):
            AW[k, j] += avg_a[k] * W[k, j]
        inv = 1.0 / avg_b[k]
        for j in range(d):
            AW[k, j] *= inv
        avg_a[k] = 0.0
        avg_b[k] = 1.0
    for j in range(d):
        W[k, j] *= wscale[k]
    wscale[k] = 1.0


@njit(nogil=True, cache=True)
def reset_wscale(W, wscale, AW, avg_a, avg_b, averaging):
    """Fold ``wscale`` (and the averaging coefficients) into the arrays.

    Raises ValueError unless ``AW`` has the shape of ``W`` and ``wscale``,
    ``avg_a`` and ``avg_b`` one entry per row of ``W``.
    """
    c, d = W.shape
    if AW.shape[0] != c or AW.shape[1] != d:
        raise ValueError("reset_wscale: AW must have the shape of W")
    _check_entries(wscale, c, "reset_wscale: wscale needs one entry per row of W")
    _check_entries(avg_a, c, "reset_wscale: avg_a needs one entry per row of W")
    _check_entries(avg_b, c, "reset_wscale: avg_b needs one entry per row of W")
    for k in range(c):
        _reset_wscale(k, W, wscale, AW, avg_a, avg_b, averaging)


@njit(nogil=True, cache=True)
def sgd_rows(
    X,
    Y,
    sample_weight,
    rows,
    active,
    W,
    wscale,
    intercept,
    AW,
    avg_a,
    avg_b,
    avg_intercept,
    Q,
    u,
    sq_norm,
    l1_norm,
    eta,
    t,
    sumloss,
    objective,
    count,
    pos_weight,
    neg_weight,
    loss,
    loss_param,
    penalty,
    alpha,
    l1_ratio,
    schedule,
    eta0,
    power_t,
    optimal_init,
    fit_intercept,
    intercept_decay,
    average,
    track_loss,
    wscale_floor,
    sparse,
):
    """One SGD step per row of ``X[rows]`` (in that order) for each active
    model ``k``: scikit-learn's ``_plain_sgd`` loop body.

    Every per-model array (first axis ``k``) is updated in place: the
    weights ``wscale[k] * W[k]``, the intercepts, the averaged weights
    (``AW``, ``avg_a``, ``avg_b``, ``avg_intercept``, used when
    ``average > 0``), the cumulative L1 penalties ``Q`` and ``u``, the norms
    that scikit-learn keeps for its objective, the step size ``eta``
    (constant and adaptive schedules), the counters ``t`` and ``count``, and
    the sums of the loss and of the objective of the epoch.

    ``sparse`` visits only the nonzero entries of each row in the norms and
    the L1 penalty, as scikit-learn does for a sparse matrix (whose
    intercept decay, 0.01, the caller passes).

    Raises ValueError, naming the argument, if a shape disagrees: ``Y``
    and ``sample_weight`` need a row (an entry) per row of ``X``, ``W``
    (``n_models``, ``X.shape[1]``), ``Y`` a column per model, ``AW`` and
    ``Q`` the shape of ``W``, every other per-model array one entry per
    model; or if ``rows`` names a row outside ``X``. Nothing is updated
    then.
    """
    n_rows, d = X.shape
    c, w_cols = W.shape
    _check_entries(Y, n_rows, "sgd_rows: Y needs one row per row of X")
    _check_entries(
        sample_weight, n_rows, "sgd_rows: sample_weight needs one entry per row of X"
    )
    if Y.shape[1] != c:
        raise ValueError("sgd_rows: Y needs one column per model (row of W)")
    if w_cols != d:
        raise ValueError("sgd_rows: W needs one column per column of X")
    if AW.shape[0] != c or AW.shape[1] != d:
        raise ValueError("sgd_rows: AW must have the shape of W")
    if Q.shape[0] != c or Q.shape[1] != d:
        raise ValueError("sgd_rows: Q must have the shape of W")
    _check_entries(active, c, "sgd_rows: active needs one entry per model (row of W)")
    _check_entries(wscale, c, "sgd_rows: wscale needs one entry per model (row of W)")
    _check_entries(
        intercept, c, "sgd_rows: intercept needs one entry per model (row of W)"
    )
    _check_entries(avg_a, c, "sgd_rows: avg_a needs one entry per model (row of W)")
    _check_entries(avg_b, c, "sgd_rows: avg_b needs one entry per model (row of W)")
    _check_entries(
        avg_intercept, c, "sgd_rows: avg_intercept needs one entry per model (row of W)"
    )
    _check_entries(u, c, "sgd_rows: u needs one entry per model (row of W)")
    _check_entries(sq_norm, c, "sgd_rows: sq_norm needs one entry per model (row of W)")
    _check_entries(l1_norm, c, "sgd_rows: l1_norm needs one entry per model (row of W)")
    _check_entries(eta, c, "sgd_rows: eta needs one entry per model (row of W)")
    _check_entries(t, c, "sgd_rows: t needs one entry per model (row of W)")
    _check_entries(sumloss, c, "sgd_rows: sumloss needs one entry per model (row of W)")
    _check_entries(
        objective, c, "sgd_rows: objective needs one entry per model (row of W)"
    )
    _check_entries(count, c, "sgd_rows: count needs one entry per model (row of W)")
    _check_entries(
        pos_weight, c, "sgd_rows: pos_weight needs one entry per model (row of W)"
    )
    _check_entries(
        neg_weight, c, "sgd_rows: neg_weight needs one entry per model (row of W)"
    )
    # One pass over the indices up front keeps the bounds out of the row loop.
    for s in range(rows.shape[0]):
        if rows[s] < 0 or rows[s] >= n_rows:
            raise ValueError("sgd_rows: rows names a row outside X")
    if penalty == PENALTY_L2:
        l1_ratio = 0.0
    elif penalty == PENALTY_L1:
        l1_ratio = 1.0
    is_hinge = loss == LOSS_HINGE
    for s in range(rows.shape[0]):
        i = rows[s]
        sw = sample_weight[i]
        xsq = 0.0
        if schedule == LR_PA1 or schedule == LR_PA2:
            for j in range(d):
                z = float(X[i, j])
                xsq += z * z
        for k in range(c):
            if not active[k]:
                continue
            y = Y[i, k]
            acc = 0.0
            for j in range(d):
                acc += W[k, j] * X[i, j]
            p = acc * wscale[k] + intercept[k]
            tk = t[k]
            if schedule == LR_OPTIMAL:
                eta[k] = 1.0 / (alpha * (optimal_init + tk - 1))
            elif schedule == LR_INVSCALING:
                eta[k] = eta0 / tk**power_t
            e = eta[k]
            if track_loss:
                value = loss_value(loss, y, p, loss_param)
                sumloss[k] += value
                objective[k] += value
                if schedule != LR_PA1 and schedule != LR_PA2 and penalty > 0:
                    objective[k] += alpha * (
                        (1 - l1_ratio) * 0.5 * np.sqrt(sq_norm[k]) ** 2
                        + l1_ratio * l1_norm[k]
                    )
            class_weight = pos_weight[k] if y > 0.0 else neg_weight[k]
            if schedule == LR_PA1:
                if xsq == 0:
                    continue
                update = min(eta0, loss_value(loss, y, p, loss_param) / xsq)
            elif schedule == LR_PA2:
                update = loss_value(loss, y, p, loss_param) / (xsq + 0.5 / eta0)
            else:
                dloss = loss_gradient(loss, y, p, loss_param)
                if dloss < -_MAX_DLOSS:
                    dloss = -_MAX_DLOSS
                elif dloss > _MAX_DLOSS:
                    dloss = _MAX_DLOSS
                update = -e * dloss
            if schedule >= LR_PA1:
                if is_hinge:
                    update *= y
                elif y - p < 0:
                    update *= -1
            update *= class_weight * sw
            if penalty >= PENALTY_L2:
                factor = max(0.0, 1.0 - ((1.0 - l1_ratio) * e * alpha))
                wscale[k] *= factor
                sq_norm[k] *= factor * factor
                l1_norm[k] *= abs(factor)
                if wscale[k] < wscale_floor:
                    _reset_wscale(k, W, wscale, AW, avg_a, avg_b, average > 0)
            if update != 0.0:
                ws = wscale[k]
                l2acc = 0.0
                l1acc = 0.0
                for j in range(d):
                    if sparse and X[i, j] == 0:
                        continue
                    W[k, j] += X[i, j] * (update / ws)
                    l2acc += W[k, j] * W[k, j]
                    l1acc += abs(W[k, j])
                sq_norm[k] = l2acc * (ws * ws)
                l1_norm[k] = l1acc * ws
            if fit_intercept and update != 0.0:
                intercept[k] += update * intercept_decay
            if 0 < average <= tk:
                num_iter = tk - average + 1
                mu = 1.0 / num_iter
                ws = wscale[k]
                a = avg_a[k]
                for j in range(d):
                    AW[k, j] += a * X[i, j] * (-update / ws)
                if num_iter > 1:
                    avg_b[k] /= 1.0 - mu
                avg_a[k] += mu * avg_b[k] * ws
                avg_intercept[k] += (intercept[k] - avg_intercept[k]) / num_iter
            if penalty == PENALTY_L1 or penalty == PENALTY_ELASTICNET:
                u[k] += l1_ratio * e * alpha
                ws = wscale[k]
                for j in range(d):
                    if sparse and X[i, j] == 0:
                        continue
                    z = W[k, j]
                    if ws * z > 0.0:
                        W[k, j] = max(0.0, W[k, j] - ((u[k] + Q[k, j]) / ws))
                    elif ws * z < 0.0:
                        W[k, j] = min(0.0, W[k, j] + ((u[k] - Q[k, j]) / ws))
                    Q[k, j] += ws * (W[k, j] - z)
            t[k] = tk + 1
            count[k] += 1


@njit(nogil=True, cache=True)
def linear_outputs(X, coef, intercept, out):
    """``out = X @ coef.T + intercept`` in float64 (float32 rows widened).

    Raises ValueError unless ``coef`` is ``(c, X.shape[1])``, ``intercept``
    ``(c,)`` and ``out`` ``(X.shape[0], c)``.
    """
    n, d = X.shape
    c = coef.shape[0]
    if coef.shape[1] != d or intercept.shape[0] != c:
        raise ValueError("linear_outputs: coef or intercept does not fit X")
    if out.shape[0] != n or out.shape[1] != c:
        raise ValueError("linear_outputs: out must be (X.shape[0], coef.shape[0])")
    for i in range(n):
        for k in range(c):
            acc = intercept[k]
            for j in range(d):
                acc += coef[k, j] * X[i, j]
            out[i, k] = acc
