"""Gaussian mixture fitted by exact out-of-core EM."""

from __future__ import annotations

import math
import os
from collections import namedtuple
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.random import sample_without_replacement
from sklearn.utils.validation import check_is_fitted

from .._kernels import (
    diag_em_rows,
    diag_log_prob,
    nearest_center,
    projected_em_rows,
    projected_log_prob,
    subtract_shift,
)
from .._out_of_core import register
from .._stats import (
    MixtureStats,
    Moments,
    diagonal_moments_of_rows,
    moments_of_rows,
)
from ..base import IterativeMixin

# Rows of a batch processed together by the full and tied kernels: the
# shifted rows, their projections and the weighted rows of every component
# stay in the core's cache between the GEMM and the kernels.
_CHUNK_BYTES = 1 << 21

# Rows summarized together by the initialization passes.
_INIT_CHUNK_ROWS = 16384

# Digits the M-step scatter of a batch may lose to being taken about the
# current means before the batch is summed again about its own means.
_MAX_LOST_DIGITS = 4.0

_PRECISION_ERROR = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton or "
    "collapsed samples). Try to decrease the number of components, increase "
    "reg_covar, or scale the input data."
)

# What a pass needs from the parameters, computed once per pass.
_PassConstants = namedtuple(
    "_PassConstants",
    "center factors offsets log_const stride means precisions",
)


# -- the user's starting parameters ----------------------------------------------
#
# scikit-learn's checks and messages, word for word, so that code written
# against GaussianMixture's errors reads ours; the values come back as float64.


def _check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {param_shape}, but "
            f"got {param.shape}"
        )


def _check_weights(weights, n_components):
    weights = check_array(weights, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        # In scikit-learn's order: the smallest weight is said first.
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max "
            f"value {np.min(weights):.5f}, min value {np.max(weights):.5f}"
        )
    # float32 weights are normalized to float32's precision.
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not np.allclose(float(np.abs(1.0 - np.sum(weights))), 0.0, atol=atol):
        raise ValueError(
            "The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{np.sum(weights):.5f}"
        )
    return weights.astype(np.float64)


def _check_means(means, n_components, n_features):
    means = check_array(means, dtype=[np.float64, np.float32], ensure_2d=False)
    _check_shape(means, (n_components, n_features), "means")
    return means.astype(np.float64)


def _check_precisions(precisions, covariance_type, n_components, n_features):
    name = f"{covariance_type} precision"
    precisions = check_array(
        precisions,
        dtype=[np.float64, np.float32],
        ensure_2d=False,
        allow_nd=covariance_type == "full",
    )
    shape = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]
    _check_shape(precisions, shape, name)
    if covariance_type in ("full", "tied"):
        for p in precisions.reshape((-1, n_features, n_features)):
            if not (np.all(np.isclose(p, p.T)) and np.all(np.linalg.eigvalsh(p) > 0.0)):
                raise ValueError(f"'{name}' should be symmetric, positive-definite")
    elif np.any(precisions <= 0.0):
        raise ValueError(f"'{name}' should be positive")
    return precisions.astype(np.float64)


# -- parameters from statistics ----------------------------------------------


def _counts(moments):
    """Expected counts per component, as scikit-learn computes them."""
    return moments.weight + 10 * np.finfo(np.float64).eps


def _estimate_full(moments, nk, reg_covar):
    covariances = moments.scatter / nk[:, None, None]
    idx = np.arange(covariances.shape[1])
    covariances[:, idx, idx] += reg_covar
    return covariances


def _estimate_tied(moments, nk, reg_covar):
    covariance = moments.scatter.sum(axis=0) / nk.sum()
    covariance.flat[:: covariance.shape[0] + 1] += reg_covar
    return covariance


def _estimate_diag(moments, nk, reg_covar):
    return moments.scatter / nk[:, None] + reg_covar


def _estimate_spherical(moments, nk, reg_covar):
    return _estimate_diag(moments, nk, reg_covar).mean(axis=1)


_ESTIMATE_COVARIANCES = {
    "full": _estimate_full,
    "tied": _estimate_tied,
    "diag": _estimate_diag,
    "spherical": _estimate_spherical,
}


def _padding_term(moments, nk, covariance_type):
    """What scikit-learn's padded counts add to nearly empty components.

    scikit-learn divides its means by the padded count ``nk``, so they fall
    short of the rows' weighted mean ``m`` by ``(1 - s) m``, ``s = weight /
    nk``: its full covariances, taken about those means, gain ``s (1 - s)**2
    m m^T``, and its diagonal and tied ones, taken as ``E[x x^T] - mu mu^T``,
    gain ``s (1 - s) m m^T`` (pooled over the components, by ``nk``, if
    tied), in exact arithmetic. The padding is there for components with
    next to nothing in them: below one row's weight the term is most of the
    variance (all of it at a single point, where with ``reg_covar=0`` it
    decides whether the fit goes on), and it is kept. Elsewhere it is zero
    (32 rows or more: ``nk`` rounds to the count) or of the size of the
    rounding of scikit-learn's own arithmetic, which far from the origin
    would swamp the spread: it is left out, and the covariance is the exact
    scatter, the same wherever the data are. (Components of one to three
    copies of a row get scikit-learn's rounding itself, see
    :func:`_repeated_row_estimate`.)
    """
    share = moments.weight / nk
    pad = share * (1.0 - share)
    padded = (moments.weight < 1.0) & (pad > 0.0)
    if covariance_type in ("full", "tied"):
        term = np.zeros(moments.scatter.shape)
        kept = moments.mean[padded]
        term[padded] = kept[:, :, None] * kept[:, None, :]
        if covariance_type == "full":
            return term * (pad * (1.0 - share))[:, None, None]
        return np.tensordot(nk * pad, term, axes=1) / nk.sum()
    # Elsewhere the term is zero, whatever m**2 is (even infinite).
    term = np.zeros_like(moments.mean)
    np.multiply(pad[:, None], moments.mean**2, out=term, where=padded[:, None])
    return term.mean(axis=1) if covariance_type == "spherical" else term


def _estimate_parameters(moments, reg_covar, covariance_type, in_rows=True):
    """Counts, means and covariances of the components from their moments.

    ``in_rows``: the weights count rows (an EM pass), as scikit-learn's do,
    and the covariances carry the artifacts of its padded counts. A stepwise
    update weights rows by fractions, where those artifacts, which depend on
    the count being in rows, have no scikit-learn counterpart: they are left
    out, and the covariances are the weighted scatters.
    """
    nk = _counts(moments)
    # scikit-learn divides the weighted sums by the padded count.
    means = moments.mean * (moments.weight / nk)[:, None]
    covariances = _ESTIMATE_COVARIANCES[covariance_type](moments, nk, reg_covar)
    if not in_rows:
        return nk, means, covariances
    covariances += _padding_term(moments, nk, covariance_type)
    if covariance_type != "tied":
        # A component left with a few copies of one row has no spread but
        # the rounding of scikit-learn's formulas, which it gets too.
        flat = moments.scatter.reshape(moments.weight.shape[0], -1)
        repeated = np.isin(moments.weight, (1.0, 2.0, 3.0)) & ~np.any(flat, axis=1)
        if repeated.any():
            _, means[repeated], covariances[repeated] = _repeated_row_estimate(
                moments.mean[repeated],
                moments.weight[repeated],
                reg_covar,
                covariance_type,
            )
    return nk, means, covariances


def _repeated_row_estimate(rows, counts, reg_covar, covariance_type):
    """Counts, means and covariances of components that each repeat one row.

    Component ``k`` holds ``counts[k]`` copies of ``rows[k]`` with
    responsibility one: no spread but the rounding of scikit-learn's
    formulas, which these repeat in its order of operations. Sums of one,
    two or three equal terms (and zeros) are rounded alike in every order,
    so for those counts the result is bit for bit scikit-learn's (with
    ``reg_covar=0`` it decides whether the fit goes on). The tied covariance
    needs all the rows and is left to the caller.
    """
    k, d = rows.shape
    nk = counts + 10 * np.finfo(np.float64).eps
    means = (counts[:, None] * rows) / nk[:, None]
    if covariance_type == "full":
        diff = rows - means
        outer = diff[:, :, None] * diff[:, None, :]
        covariances = (counts[:, None, None] * outer) / nk[:, None, None]
        idx = np.arange(d)
        covariances[:, idx, idx] += reg_covar
    elif covariance_type == "tied":
        covariances = None
    else:
        squares = (counts[:, None] * (rows * rows)) / nk[:, None]
        covariances = squares - means**2 + reg_covar
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
    return nk, means, covariances


def _precision_cholesky(covariances, covariance_type):
    """Upper-triangular factors ``U`` with ``U U^T`` the precision matrices."""
    if covariance_type in ("full", "tied"):
        stack = covariances[None] if covariance_type == "tied" else covariances
        factors = np.empty_like(stack)
        eye = np.eye(stack.shape[-1])
        for k, covariance in enumerate(stack):
            try:
                chol = linalg.cholesky(covariance, lower=True)
            except linalg.LinAlgError:
                raise ValueError(_PRECISION_ERROR) from None
            factors[k] = linalg.solve_triangular(chol, eye, lower=True).T
        return factors[0] if covariance_type == "tied" else factors
    if np.any(covariances <= 0.0):
        raise ValueError(_PRECISION_ERROR)
    return 1.0 / np.sqrt(covariances)


def _precision_cholesky_from_precisions(precisions, covariance_type):
    if covariance_type in ("full", "tied"):
        stack = precisions[None] if covariance_type == "tied" else precisions
        # The upper factor of P is J L J with L the lower factor of J P J.
        factors = np.stack(
            [linalg.cholesky(p[::-1, ::-1], lower=True)[::-1, ::-1] for p in stack]
        )
        return factors[0] if covariance_type == "tied" else factors
    return np.sqrt(precisions)


def _log_det_cholesky(factors, covariance_type, n_features):
    if covariance_type == "full":
        return np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(factors)).sum()
    if covariance_type == "diag":
        return np.log(factors).sum(axis=1)
    return n_features * np.log(factors)


def _pass_constants(weights, means, factors, covariance_type):
    """What the kernels need from the parameters, shifted to a common center.

    The rows are shifted by the weighted mean of the component means before
    the products with the precision factors, so that data far from the
    origin lose no digits: the whitened distance of a row to component ``k``
    is ``(x - c) U_k - (mu_k - c) U_k``, both terms of the size of the data's
    spread, not of its offset.
    """
    n_components, n_features = means.shape
    log_const = (
        np.log(weights)
        + _log_det_cholesky(factors, covariance_type, n_features)
        - 0.5 * n_features * np.log(2 * np.pi)
    )
    log_const = np.broadcast_to(log_const, (n_components,)).copy()
    if covariance_type in ("diag", "spherical"):
        precisions = np.broadcast_to(
            factors if covariance_type == "diag" else factors[:, None],
            means.shape,
        ).copy()
        return _PassConstants(None, None, None, log_const, 0, means, precisions)
    center = weights @ means / weights.sum()
    if covariance_type == "tied":
        offsets = (means - center) @ factors
        return _PassConstants(center, factors, offsets, log_const, 0, means, None)
    stacked = np.ascontiguousarray(np.concatenate(list(factors), axis=1))
    offsets = np.einsum("kj,kjl->kl", means - center, factors)
    return _PassConstants(center, stacked, offsets, log_const, n_features, means, None)


class _StepStats(MixtureStats):
    """The statistics of a stepwise update (minibatch mode, ``partial_fit``):
    rows weighted by fractions, not counted."""


# -- one batch ---------------------------------------------------------------


def _chunk_rows(n_features, n_components):
    per_row = 8 * n_features * (1 + 2 * n_components)
    return max(16, _CHUNK_BYTES // per_row)


def _products_dtype(X):
    """The dtype of the rows' products with the precision factors: float32
    rows are multiplied in float32 (twice BLAS's float64 rate, half the
    memory traffic), the sums they give are kept in float64."""
    return np.float32 if X.dtype == np.float32 else np.float64


def _projected_stats(X, constants, shifts, workspace, diagonal):
    """E-step and M-step statistics of a batch, full or tied precisions."""
    n, d = X.shape
    k = constants.log_const.shape[0]
    m = min(n, _chunk_rows(d, k))
    width = constants.factors.shape[1]
    dtype = _products_dtype(X)
    factors = constants.factors.astype(dtype, copy=False)
    xc_buf = workspace.get("gmm_shifted", m, d, dtype)
    z_buf = workspace.get("gmm_projected", m, width, dtype)
    w_buf = workspace.get("gmm_weighted", k * m, d, dtype)
    relative = shifts - constants.center
    resp_sum = np.zeros(k)
    sums = np.zeros((k, d))
    scatter = np.zeros((k, d) if diagonal else (k, d, d))
    loglik = 0.0
    for start in range(0, n, m):
        chunk = X[start : start + m]
        rows = chunk.shape[0]
        xc, z = xc_buf[:rows], z_buf[:rows]
        subtract_shift(chunk, constants.center, xc)
        np.matmul(xc, factors, out=z)
        weighted = w_buf[: k * rows].reshape(k, rows, d)
        loglik += projected_em_rows(
            z,
            constants.offsets,
            constants.log_const,
            constants.stride,
            xc,
            relative,
            weighted,
            resp_sum,
            sums,
        )
        for j in range(k):
            if diagonal:
                scatter[j] += np.einsum("ij,ij->j", weighted[j], weighted[j])
            else:
                scatter[j] += weighted[j].T @ weighted[j]
    moments = Moments.from_shifted_sums(n, resp_sum, shifts, sums, scatter)
    return MixtureStats(loglik, moments)


def _diag_stats(X, constants, shifts, workspace, diagonal):
    """E-step and M-step statistics of a batch, diagonal precisions."""
    k, d = constants.means.shape
    resp_sum = np.zeros(k)
    sums = np.zeros((k, d))
    squares = np.zeros((k, d))
    loglik = diag_em_rows(
        X,
        constants.means,
        constants.precisions,
        constants.log_const,
        shifts,
        resp_sum,
        sums,
        squares,
    )
    moments = Moments.from_shifted_sums(X.shape[0], resp_sum, shifts, sums, squares)
    return MixtureStats(loglik, moments)


def _batch_stats(X, constants, workspace, covariance_type):
    """Statistics of one batch, summed about the current means.

    A component whose mean moved far within the batch (the first iterations)
    is summed again about its new mean, so the scatter keeps its digits.
    """
    diagonal = covariance_type in ("diag", "spherical")
    stats_of = _diag_stats if diagonal else _projected_stats
    stats = stats_of(X, constants, constants.means, workspace, diagonal)
    if stats.moments.lost_digits(constants.means) > _MAX_LOST_DIGITS:
        stats = stats_of(X, constants, stats.moments.mean, workspace, diagonal)
    return stats


def _weighted_log_prob(X, constants, workspace):
    """``log w_k + log N(x | mu_k, Sigma_k)`` for the rows of one batch."""
    n, d = X.shape
    k = constants.log_const.shape[0]
    out = np.empty((n, k))
    if constants.factors is None:
        diag_log_prob(
            X, constants.means, constants.precisions, constants.log_const, out
        )
        return out
    m = min(n, _chunk_rows(d, k))
    dtype = _products_dtype(X)
    factors = constants.factors.astype(dtype, copy=False)
    xc_buf = workspace.get("gmm_shifted", m, d, dtype)
    z_buf = workspace.get("gmm_projected", m, factors.shape[1], dtype)
    for start in range(0, n, m):
        chunk = X[start : start + m]
        xc, z = xc_buf[: chunk.shape[0]], z_buf[: chunk.shape[0]]
        subtract_shift(chunk, constants.center, xc)
        np.matmul(xc, factors, out=z)
        projected_log_prob(
            z,
            constants.offsets,
            constants.log_const,
            constants.stride,
            out[start : start + chunk.shape[0]],
        )
    return out


def _logsumexp_rows(a):
    top = a.max(axis=1, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    return np.log(np.exp(a - top).sum(axis=1)) + top[:, 0]


# -- initialization ------------------------------------------------------------

# Up to this many rows, rows are drawn as scikit-learn draws them
# (``RandomState.choice`` permutes all the row indices); beyond, a sampler
# whose memory grows with the sample only.
_CHOICE_ROWS = 1_000_000


def _draw_rows(random_state, n_rows, size):
    """``size`` distinct row indices drawn uniformly from ``n_rows``."""
    if n_rows <= _CHOICE_ROWS:
        return random_state.choice(n_rows, size=size, replace=False)
    method = "tracking_selection" if size < n_rows // 10 else "reservoir_sampling"
    return sample_without_replacement(
        n_rows, size, method=method, random_state=random_state
    )


def _stack(parts, count):
    """One stacked Moments of the sets ``parts``, all of the same ``count`` rows."""
    return Moments(
        count,
        np.array([m.weight for m in parts], dtype=np.float64),
        np.array([m.mean for m in parts]),
        np.array([m.scatter for m in parts]),
        np.array([m.mean_error for m in parts]),
    )


def _component_moments(X, resp, diagonal, workspace):
    """Per-component moments of a batch under responsibilities ``resp``.

    Hard (0/1) responsibilities select each component's rows; soft ones
    weight every row. Chunks of ``_INIT_CHUNK_ROWS`` rows keep the working
    memory small.
    """
    total = None
    hard = np.all((resp == 0) | (resp == 1))
    for start in range(0, X.shape[0], _INIT_CHUNK_ROWS):
        rows = slice(start, start + _INIT_CHUNK_ROWS)
        parts = []
        for k in range(resp.shape[1]):
            w = resp[rows, k]
            if hard:
                mine = np.ascontiguousarray(X[rows][w == 1])
                w = np.ones(mine.shape[0])
            else:
                mine = X[rows]
            if diagonal:
                part = diagonal_moments_of_rows(mine, w)
            elif hard:
                part = moments_of_rows(mine, workspace=workspace)
            else:
                part = moments_of_rows(mine, sample_weight=w, workspace=workspace)
            parts.append(part)
        chunk = _stack(parts, X[rows].shape[0])
        total = chunk if total is None else total + chunk
    return total


# -- the estimator -------------------------------------------------------------


@register(GaussianMixture)
class OOCGaussianMixture(IterativeMixin, DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by exact EM over data read one batch at a time.

    The model, parameters and methods of
    :class:`sklearn.mixture.GaussianMixture`, fitted from data that need not
    fit in memory: each EM iteration is one pass over the batches, in which
    numba kernels compute the responsibilities and the statistics of the
    M-step (expected counts, weighted means and weighted scatter about the
    means of every component), merged across batches with numerically stable
    updates. No responsibility matrix of the whole data ever exists.

    Given the same starting parameters (``weights_init``, ``means_init``,
    ``precisions_init``), a fit from a memory map reaches the parameters and
    ``lower_bound_`` of ``GaussianMixture`` on the data in memory, after the
    same number of iterations, whatever ``batch_size`` and ``n_jobs`` are.
    The initializations never load the data: ``'kmeans'`` and
    ``'k-means++'`` work on a uniform random sample of ``init_size`` rows
    drawn across the whole source (the whole data when it has at most
    ``init_size`` rows: then they equal scikit-learn's); ``'random'``,
    ``'random_from_data'`` and ``'first-k'`` read the rows they need. After
    the initialization everything is exact.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the covariance of each component.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the lower bound (the mean
        log-likelihood of a row) changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance, keeping it positive.
    max_iter : int, default=100
        Number of EM iterations (passes over the data) at most.
    n_init : int, default=1
        Number of initializations; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
            'first-k'}, default='kmeans'
        How the parameters are initialized: k-means (on a sample) and
        hard assignment of every row to the nearest center; k-means++
        centers (on a sample); random responsibilities; ``n_components``
        random rows as means; or the first ``n_components`` rows as means
        (pomegranate's ``'first-k'``).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means.
    precisions_init : array-like, default=None
        Initial precision matrices (inverse covariances), shaped as
        ``precisions_``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialization (and of :meth:`sample`).
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` is then
        ignored).
    verbose : int, default=0
        1 prints a line every ``verbose_interval`` iterations, ``[3]
        Improvement: 368.397 Time (s): 1.415`` (the change of the total
        log-likelihood), then the totals; 2 adds a progress bar over the
        batches of each pass.
    verbose_interval : int, default=10
        Iterations between verbose lines, as scikit-learn's: a line is
        printed after the iterations that are multiples of it (pass
        ``verbose_interval=1`` for a line per iteration).
    init_size : int, default=None
        Rows sampled for ``'kmeans'`` and ``'k-means++'``; ``None`` means
        ``min(n_samples, 100_000)``.
    decay : float in (0.5, 1], default=None
        Minibatch mode only (``batches_per_epoch`` set, and ``partial_fit``):
        ``None`` updates from each epoch's batches alone (pomegranate's
        minibatch mode); a float keeps a running average of the statistics
        with step ``(t + 2) ** -decay`` (stepwise EM).
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    batches_per_epoch : int, default=None
        Batches per EM iteration; ``None`` (exact EM) reads all of them.
    n_jobs : int, default=None
        Threads summarizing batches; the result is bitwise the same for
        every value.
    checkpoint : str or os.PathLike, default=None
        A file that receives the state of the fit, atomically, after every
        iteration. A fit that finds a checkpoint of the same data and
        parameters resumes from it; one of other data or parameters is
        refused. See :ref:`checkpoints`.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Weights of the components.
    means_ : ndarray of shape (n_components, n_features)
        Means of the components.
    covariances_ : ndarray
        Covariances: (n_components, n_features, n_features) if 'full',
        (n_features, n_features) if 'tied', (n_components, n_features) if
        'diag', (n_components,) if 'spherical'.
    precisions_ : ndarray
        Inverses of the covariances, shaped as ``covariances_``.
    precisions_cholesky_ : ndarray
        Upper Cholesky factors of the precisions, shaped as ``covariances_``.
    converged_ : bool
        Whether the best run converged.
    n_iter_ : int
        EM iterations of the best run.
    lower_bound_ : float
        Mean log-likelihood of a row at the last iteration of the best run.
    lower_bounds_ : list of float
        The lower bound at every iteration of the best run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows of the data fitted.

    See Also
    --------
    sklearn.mixture.GaussianMixture : The in-memory estimator this one equals.

    Notes
    -----
    Memory: per thread, a few megabytes of working rows and the statistics
    of the components, whatever the number of rows. float32 rows give
    attributes of float32, as scikit-learn's. Their products with full or
    tied precision factors are taken in float32 (twice the speed of float64
    here, and half the memory traffic) and summed in float64: the fit is
    within float32's rounding (1e-5 relative) of the float64 fit of the same
    values, and closer to it than scikit-learn's own fit of the float32
    array. Every other computation is in float64.

    Without regularization (``reg_covar=0``) a component with no spread has
    scikit-learn's covariance, its rounding included, where that is fixed by
    the arithmetic: components started on single rows (``'random_from_data'``,
    ``'k-means++'``), left with one to three copies of a row, or left with
    almost no weight go on exactly as scikit-learn's do. One of four or more
    copies of a row has no variance, and the fit stops with scikit-learn's
    advice; scikit-learn's own outcome there is the sign of a rounding error
    in ``E[x**2] - E[x]**2``, which no summation in another order repeats.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.mixture import OOCGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(-5, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, X)
    >>> gmm = OOCGaussianMixture(2, random_state=0).fit(
    ...     np.load(path, mmap_mode="r"), batch_size=100)
    >>> np.sort(gmm.means_[:, 0]).round()
    array([-5.,  5.])
    >>> gmm.predict([[-4.0, -6.0], [6.0, 5.0]]).tolist() == [
    ...     int(np.argmin(gmm.means_[:, 0])), int(np.argmax(gmm.means_[:, 0]))]
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [
            StrOptions({"kmeans", "k-means++", "random", "random_from_data", "first-k"})
        ],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "decay": [Interval(Real, 0.5, 1.0, closed="right"), None],
        "batches_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint": [str, os.PathLike, None],
        **IterativeMixin._ooc_parameter_constraints,
    }

    # Like scikit-learn's mixtures: a Gaussian mixture of sparse rows is
    # rarely meant, and densifying them silently would hide it.
    _accept_sparse = False

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        init_size=None,
        decay=None,
        batch_size="auto",
        batches_per_epoch=None,
        n_jobs=None,
        checkpoint=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.init_size = init_size
        self.decay = decay
        self.batch_size = batch_size
        self.batches_per_epoch = batches_per_epoch
        self.n_jobs = n_jobs
        self.checkpoint = checkpoint

    # -- checks ---------------------------------------------------------------

    def _check_source(self, source):
        # As scikit-learn, float32 rows give float32 parameters; they are
        # computed in float64 all the same (see _set_parameters).
        dtype = getattr(source.X, "dtype", None)
        self._fitted_dtype = np.float32 if dtype == np.float32 else np.float64
        if source.n_samples < 2:
            raise ValueError(
                f"Found array with {source.n_samples} sample(s) (shape="
                f"{(source.n_samples, source.n_features)}) while a minimum of 2 "
                f"is required by {type(self).__name__}."
            )
        if source.n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {source.n_samples}"
            )

    def _initial_values(self, n_features):
        """The user's starting parameters, checked, as float64 arrays."""
        k = self.n_components
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = _check_weights(self.weights_init, k)
        if self.means_init is not None:
            means = _check_means(self.means_init, k, n_features)
        if self.precisions_init is not None:
            precisions = _check_precisions(
                self.precisions_init, self.covariance_type, k, n_features
            )
        return weights, means, precisions

    # -- initialization -----------------------------------------------------------

    def _initialize(self, source, random_state):
        weights, means, precisions = self._initial_values(source.n_features)
        covariances = None
        if weights is None or means is None or precisions is None:
            nk, init_means, covariances = self._initial_estimate(source, random_state)
            if weights is None:
                weights = nk / source.n_samples
            if means is None:
                means = init_means
        if precisions is None:
            factors = _precision_cholesky(covariances, self.covariance_type)
        else:
            covariances = None
            factors = _precision_cholesky_from_precisions(
                precisions, self.covariance_type
            )
        self.__dict__.pop("covariances_", None)
        self._set_parameters((weights, means, covariances, factors))

    def _initial_estimate(self, source, random_state):
        """Counts, means and covariances from the initial responsibilities."""
        k = self.n_components
        diagonal = self.covariance_type in ("diag", "spherical")
        method = self.init_params
        if method in ("random_from_data", "first-k"):
            if method == "first-k":
                indices = np.arange(k)
            else:
                indices = _draw_rows(random_state, source.n_samples, k)
            return self._from_points(source, indices)
        if method == "random":
            moments = self._random_responsibility_pass(source, random_state, diagonal)
        else:
            sample_idx, sample = self._sample(source, random_state)
            if method == "k-means++":
                _, picked = kmeans_plusplus(sample, k, random_state=random_state)
                return self._from_points(
                    source, sample_idx[picked], rows=sample[picked]
                )
            centers = (
                KMeans(n_clusters=k, n_init=1, random_state=random_state)
                .fit(sample)
                .cluster_centers_
            )
            moments = self._hard_assignment_pass(source, centers, diagonal)
        return _estimate_parameters(moments, self.reg_covar, self.covariance_type)

    def _sample(self, source, random_state):
        """A uniform random sample of rows from the whole source, in file order."""
        size = min(source.n_samples, self.init_size or 100_000)
        if size == source.n_samples:
            indices = np.arange(size)
        else:
            indices = np.sort(_draw_rows(random_state, source.n_samples, size))
        return indices, source.take(indices)

    def _from_points(self, source, indices, rows=None):
        """Components centred on single rows, as scikit-learn initializes them.

        Each component holds one row with responsibility one: its count is
        ``1 + 10 eps``, its mean the row divided by it, and its covariance
        what scikit-learn's formulas make of that, operation for operation
        (a full covariance of rank one; diagonal variances of about ``10 eps
        x**2``, positive where ``x`` is not zero: with ``reg_covar=0`` they
        decide whether the fit can start). A tied covariance is, as
        scikit-learn computes it, ``(X^T X - sum_k n_k mu_k mu_k^T) / sum_k
        n_k``: every row enters ``X^T X``, so it takes one pass (and gives a
        broad start).
        """
        if rows is None:
            rows = source.take(np.asarray(indices))
        rows = np.asarray(rows, dtype=np.float64)
        k, d = rows.shape
        nk, means, covariances = _repeated_row_estimate(
            rows, np.ones(k), self.reg_covar, self.covariance_type
        )
        if self.covariance_type == "tied":
            data = self._reduce_with(
                source, lambda b: moments_of_rows(b.X, workspace=b.workspace)
            )
            second = data.scatter + data.weight * np.outer(data.mean, data.mean)
            covariances = (second - (nk * means.T) @ means) / nk.sum()
            covariances.flat[:: d + 1] += self.reg_covar
        return nk, means, covariances

    def _reduce_with(self, source, summarize, sequential=False):
        engine = self._engine()
        if sequential:
            engine.n_jobs, engine.distributed = 1, False
        return engine.reduce(source, range(source.n_batches), summarize, desc="init")

    def _random_responsibility_pass(self, source, random_state, diagonal):
        """Moments under uniform random responsibilities, drawn batch by batch.

        The draws happen in batch order on one thread, so that they are the
        draws of ``random_state.uniform(size=(n_samples, n_components))``.
        """
        k = self.n_components

        def summarize(batch):
            resp = random_state.uniform(size=(batch.n_samples, k))
            resp /= resp.sum(axis=1)[:, np.newaxis]
            return _component_moments(batch.X, resp, diagonal, batch.workspace)

        return self._reduce_with(source, summarize, sequential=True)

    def _hard_assignment_pass(self, source, centers, diagonal):
        """Moments of every row assigned to its nearest center."""
        k = self.n_components

        def summarize(batch):
            labels = np.empty(batch.n_samples, dtype=np.intp)
            nearest_center(batch.X, centers, labels)
            resp = (labels[:, None] == np.arange(k)).astype(np.float64)
            return _component_moments(batch.X, resp, diagonal, batch.workspace)

        return self._reduce_with(source, summarize)

    # -- EM -----------------------------------------------------------------------

    def _get_parameters(self):
        exact = self.__dict__.get("_parameters64")
        if exact is not None:
            return exact
        return (
            self.weights_,
            self.means_,
            getattr(self, "covariances_", None),
            self.precisions_cholesky_,
        )

    def _set_parameters(self, params):
        # The iterations go on from the float64 parameters; the public
        # attributes have the dtype of the rows fitted, as scikit-learn's.
        weights, means, covariances, factors = params
        if covariances is None:
            covariances = getattr(self, "_parameters64", (None,) * 4)[2]
        self._parameters64 = (weights, means, covariances, factors)
        if self.covariance_type == "full":
            precisions = factors @ np.transpose(factors, (0, 2, 1))
        elif self.covariance_type == "tied":
            precisions = factors @ factors.T
        else:
            precisions = factors**2
        dtype = getattr(self, "_fitted_dtype", np.float64)
        self.weights_ = weights.astype(dtype, copy=False)
        self.means_ = means.astype(dtype, copy=False)
        if covariances is not None:
            self.covariances_ = covariances.astype(dtype, copy=False)
        self.precisions_cholesky_ = factors.astype(dtype, copy=False)
        self.precisions_ = precisions.astype(dtype, copy=False)

    def _constants(self):
        weights, means, _, factors = self._get_parameters()
        return _pass_constants(weights, means, factors, self.covariance_type)

    def _prepare_pass(self):
        self._pass_constants = self._constants()

    def _summarize(self, batch):
        return _batch_stats(
            batch.X, self._pass_constants, batch.workspace, self.covariance_type
        )

    def _objective(self, stats):
        return stats.log_likelihood / stats.count

    def _stepwise(self, stats):
        step = super()._stepwise(stats)
        return _StepStats(step.log_likelihood, step.moments)

    def _from_summaries(self, stats):
        nk, means, covariances = _estimate_parameters(
            stats.moments,
            self.reg_covar,
            self.covariance_type,
            in_rows=not isinstance(stats, _StepStats),
        )
        factors = _precision_cholesky(covariances, self.covariance_type)
        self._set_parameters((nk / nk.sum(), means, covariances, factors))

    # -- prediction ---------------------------------------------------------------

    def _log_prob_rows(self, X, func, desc):
        check_is_fitted(self)
        constants = self._constants()
        return self._map_rows(
            X,
            lambda batch: func(_weighted_log_prob(batch.X, constants, batch.workspace)),
            desc=desc,
        )

    def _in_fitted_dtype(self, values):
        return values.astype(getattr(self, "_fitted_dtype", np.float64), copy=False)

    def score_samples(self, X):
        """Log-likelihood of every row of ``X``, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            ``log p(x)`` under the model.
        """
        return self._in_fitted_dtype(
            self._log_prob_rows(X, _logsumexp_rows, "score_samples")
        )

    def _log_likelihood(self, X):
        """Sum of the rows' log-likelihoods and the number of rows, streamed."""
        check_is_fitted(self)
        constants = self._constants()
        source = self._source(X, reset=False)

        def summarize(batch):
            log_prob = _weighted_log_prob(batch.X, constants, batch.workspace)
            return np.array([_logsumexp_rows(log_prob).sum(), batch.n_samples])

        total, count = self._engine().reduce(
            source, range(source.n_batches), summarize, desc="score"
        )
        return total, int(count)

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X``, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : None
            Ignored.

        Returns
        -------
        float
            The mean of :meth:`score_samples`.
        """
        total, count = self._log_likelihood(X)
        return float(total / count)

    def predict(self, X):
        """Most likely component of every row of ``X``, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels.
        """
        return self._log_prob_rows(X, lambda lp: lp.argmax(axis=1), "predict")

    def predict_proba(self, X):
        """Posterior probability of each component for every row, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            Responsibilities.
        """
        return self._in_fitted_dtype(
            self._log_prob_rows(
                X,
                lambda lp: np.exp(lp - _logsumexp_rows(lp)[:, None]),
                "predict_proba",
            )
        )

    def fit_predict(self, X, y=None, **fit_params):
        """Fit, then label every row of ``X`` (one more pass).

        Equal to ``fit(X).predict(X)``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        **fit_params : dict
            ``batch_size`` and ``batches_per_epoch`` for the fit.

        Returns
        -------
        ndarray of shape (n_samples,)
            Component labels.
        """
        return self.fit(X, **fit_params).predict(X)

    def sample(self, n_samples=1):
        """Draw rows from the fitted model (in memory).

        Parameters
        ----------
        n_samples : int, default=1
            Rows to draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The rows.
        y : ndarray of shape (n_samples,)
            Their components.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples} . The sampling "
                "requires at least one sample."
            )
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type == "full":
            X = np.vstack(
                [
                    rng.multivariate_normal(mean, covariance, int(count))
                    for (mean, covariance, count) in zip(
                        self.means_, self.covariances_, counts, strict=True
                    )
                ]
            )
        elif self.covariance_type == "tied":
            X = np.vstack(
                [
                    rng.multivariate_normal(mean, self.covariances_, int(count))
                    for (mean, count) in zip(self.means_, counts, strict=True)
                ]
            )
        else:
            X = np.vstack(
                [
                    mean
                    + rng.standard_normal(size=(count, n_features))
                    * np.sqrt(covariance)
                    for (mean, covariance, count) in zip(
                        self.means_, self.covariances_, counts, strict=True
                    )
                ]
            )
        y = np.concatenate(
            [np.full(count, j, dtype=int) for j, count in enumerate(counts)]
        )
        return X, y

    def _n_parameters(self):
        _, n_features = self.means_.shape
        cov_params = {
            "full": self.n_components * n_features * (n_features + 1) / 2.0,
            "diag": self.n_components * n_features,
            "tied": n_features * (n_features + 1) / 2.0,
            "spherical": self.n_components,
        }[self.covariance_type]
        mean_params = n_features * self.n_components
        return int(cov_params + mean_params + self.n_components - 1)

    def bic(self, X):
        """Bayesian information criterion of the model on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        float
        """
        total, count = self._log_likelihood(X)
        return -2 * total + self._n_parameters() * math.log(count)

    def aic(self, X):
        """Akaike information criterion of the model on ``X`` (lower is better).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        float
        """
        total, _ = self._log_likelihood(X)
        return -2 * total + 2 * self._n_parameters()
