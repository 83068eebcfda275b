"""Minibatch stochastic gradient descent with momentum over one block of rows."""

import numpy as np
from numba import njit

SQUARED_ERROR = 0
HUBER = 1
LOG_LOSS = 2
HINGE = 3
MULTINOMIAL = 4

CONSTANT = 0
INVSCALING = 1
DAMPED = 2


@njit(nogil=True, cache=True)
def _loss_gradient(loss, p, y, epsilon, g):
    """Loss of one row and its gradient with respect to the outputs ``p``.

    ``y`` holds the target (regression), +-1 per output (binary and
    one-vs-rest), or a one-hot row (multinomial).
    """
    c = p.shape[0]
    if y.shape[0] != c or g.shape[0] != c:
        raise ValueError("_loss_gradient: y and g need one entry per output")
    value = 0.0
    if loss == MULTINOMIAL:
        top = p.max()
        total = 0.0
        for k in range(c):
            g[k] = np.exp(p[k] - top)
            total += g[k]
        for k in range(c):
            g[k] /= total
            if y[k] > 0:
                value -= np.log(max(g[k], 1e-300))
            g[k] -= y[k]
        return value
    for k in range(c):
        if loss == SQUARED_ERROR:
            r = p[k] - y[k]
            g[k] = r
            value += 0.5 * r * r
        elif loss == HUBER:
            r = p[k] - y[k]
            if abs(r) <= epsilon:
                g[k] = r
                value += 0.5 * r * r
            else:
                g[k] = epsilon if r > 0 else -epsilon
                value += epsilon * (abs(r) - 0.5 * epsilon)
        elif loss == LOG_LOSS:
            z = y[k] * p[k]
            if z > 18.0:
                g[k] = -y[k] * np.exp(-z)
                value += np.exp(-z)
            elif z < -18.0:
                g[k] = -y[k]
                value += -z
            else:
                g[k] = -y[k] / (1.0 + np.exp(z))
                value += np.log1p(np.exp(-z))
        else:
            z = y[k] * p[k]
            if z < 1.0:
                g[k] = -y[k]
                value += 1.0 - z
            else:
                g[k] = 0.0
    return value


@njit(nogil=True, cache=True)
def learning_rate(schedule, eta0, power_t, damp, t, epoch):
    """Step size at sample count ``t`` (from 1) in epoch ``epoch`` (from 0)."""
    if schedule == INVSCALING:
        return eta0 / t**power_t
    if schedule == DAMPED:
        return eta0 * damp**epoch
    return eta0


@njit(nogil=True, cache=True)
def sgd_block(
    X,
    Y,
    order,
    coef,
    intercept,
    coef_velocity,
    intercept_velocity,
    loss,
    alpha,
    epsilon,
    schedule,
    eta0,
    power_t,
    damp,
    epoch,
    t,
    batch_size,
    momentum,
    fit_intercept,
):
    """Minibatch SGD with momentum over the rows ``order`` of a block.

    Each step averages the loss gradient over ``batch_size`` rows, adds the L2
    gradient ``alpha * coef``, and moves ``v <- momentum * v - eta * grad``,
    ``coef <- coef + v`` (the intercept is not penalized). A step with
    ``eta * alpha > 1`` takes ``alpha = 1 / eta``: its L2 part shrinks
    ``coef`` to zero and not past it, as scikit-learn's factor
    ``max(0, 1 - eta * alpha)`` does. ``coef``, ``intercept`` and the
    velocities are updated in place. Returns the sample count after the
    block and the summed loss of its rows (each taken before the step that
    used it).

    Raises ValueError if the shapes disagree (``X`` and ``Y`` of different
    row counts; ``X`` without a column per column of ``coef``; ``Y``
    without a column, or an intercept without an entry, per row of
    ``coef``; velocities unlike their weights), if ``batch_size < 1``, or
    if ``order`` names a row outside ``X``.
    """
    c, d = coef.shape
    n = order.shape[0]
    n_rows = X.shape[0]
    if Y.shape[0] != n_rows:
        raise ValueError("sgd_block: X and Y have different numbers of rows")
    if X.shape[1] != d or Y.shape[1] != c:
        raise ValueError("sgd_block: X needs coef.shape[1] columns, Y coef.shape[0]")
    if intercept.shape[0] != c or intercept_velocity.shape[0] != c:
        raise ValueError("sgd_block: intercepts need one entry per row of coef")
    if coef_velocity.shape[0] != c or coef_velocity.shape[1] != d:
        raise ValueError("sgd_block: coef_velocity must have the shape of coef")
    if batch_size < 1:
        raise ValueError("sgd_block: batch_size must be at least 1")
    # One pass over the indices up front keeps the bounds out of the row loop.
    for s in range(n):
        if order[s] < 0 or order[s] >= n_rows:
            raise ValueError("sgd_block: order names a row outside X")
    p = np.empty(c)
    g = np.empty(c)
    grad = np.empty((c, d))
    grad_b = np.empty(c)
    total_loss = 0.0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        m = stop - start
        grad[:] = 0.0
        grad_b[:] = 0.0
        for s in range(start, stop):
            i = order[s]
            for k in range(c):
                acc = intercept[k]
                for j in range(d):
                    acc += coef[k, j] * X[i, j]
                p[k] = acc
            total_loss += _loss_gradient(loss, p, Y[i], epsilon, g)
            for k in range(c):
                gk = g[k]
                if gk != 0.0:
                    for j in range(d):
                        grad[k, j] += gk * X[i, j]
                    grad_b[k] += gk
        eta = learning_rate(schedule, eta0, power_t, damp, t, epoch)
        # alpha * eta > 1 would flip the sign of coef and grow it each step.
        l2 = alpha if eta * alpha <= 1.0 else 1.0 / eta
        for k in range(c):
            for j in range(d):
                step = grad[k, j] / m + l2 * coef[k, j]
                coef_velocity[k, j] = momentum * coef_velocity[k, j] - eta * step
                coef[k, j] += coef_velocity[k, j]
            if fit_intercept:
                intercept_velocity[k] = (
                    momentum * intercept_velocity[k] - eta * grad_b[k] / m
                )
                intercept[k] += intercept_velocity[k]
        t += m
    return t, total_loss


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
