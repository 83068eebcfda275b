"""Efficient leave-one-out cross-validation of ridge regression, out of core.

scikit-learn's ``RidgeCV(cv=None)`` (its private ``_RidgeGCV``) scores every
alpha by the exact leave-one-out errors of ridge regression, from one
decomposition of the centered, ``sqrt(sample_weight)``-scaled data. Out of
core, the decomposition is the eigendecomposition ``C = V L V^T`` of the
``n_features x n_features`` weighted centered Gram ``C = X_c^T X_c``, from one
streamed pass. The leave-one-out error of row ``i`` needs its leverage
``h_i = s_i z_i^T (L + alpha)^-1 z_i`` with ``z_i = V^T (x_i - mean)``, which
a second pass computes for every alpha at once.

Two forms of the same errors are used:

- the residual form (scikit-learn's ``'cov'`` mode): ``e_i = r_i / (1 - h_i -
  s_i / sum(s))``, with ``r_i`` the residual of the ridge model on all rows,
  from its (Cholesky-solved) coefficients;
- the interpolating form, when the centered rows span their whole space
  (``rank C = n_rows - fit_intercept``, the wide case, where scikit-learn
  decomposes the ``n x n`` Gram ``X_c X_c^T`` instead): both the residual and
  the denominator are then ``alpha`` times small quantities, and the ratio
  ``e_i = z_i^T D b / (s_i z_i^T D z_i)`` with ``D = (L (L + alpha))^-1`` and
  ``b = V^T X_c^T y_c`` is computed without the cancellation of the first
  form.

When the rows are fewer than the features, the eigenvalues of ``C`` beyond
the rank of the rows, or at rounding level, are left out: the ridge solution
lies in the row space of ``X_c`` for every ``alpha > 0``, so this changes
nothing but noise, and gives the minimum-norm least-squares solution as
``alpha`` goes to 0, as scikit-learn's Gram and SVD modes do.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin

from .._stats import moments_of_rows

_EPS = np.finfo(np.float64).eps


class _IdentityRegressor(RegressorMixin, BaseEstimator):
    """A regressor whose predictions are its input (scores given predictions)."""

    def predict(self, y_predict):
        return y_predict


class _GCVStats:
    """Moments of ``[X, y]`` and the number of rows of positive weight."""

    def __init__(self, moments, n_positive):
        self.moments = moments
        self.n_positive = n_positive

    def __add__(self, other):
        return _GCVStats(
            self.moments + other.moments, self.n_positive + other.n_positive
        )


def _as_2d_float(y, n_rows):
    return np.asarray(y, dtype=np.float64).reshape(n_rows, -1)


def gcv_summarize(batch):
    """First pass: weighted moments of the batch's ``[X, y]``."""
    n = batch.n_samples
    w = batch.sample_weight
    moments = moments_of_rows(
        batch.X, _as_2d_float(batch.y, n), w, batch.workspace, rescale=True
    )
    positive = n if w is None else int(np.count_nonzero(w > 0))
    return _GCVStats(moments, positive)


def signal_directions(gram, max_rank, *, significant=True):
    """The largest eigenpairs of ``gram``, at most ``max_rank`` of them.

    The rank of centered rows is at most their number less one (less none
    without intercept): the other eigenvalues are rounding noise. With
    ``significant``, eigenvalues below ``n_features * eps * largest`` are
    left out too, as noise of directions without spread; without, they are
    kept (clipped at zero), as scikit-learn keeps them.
    """
    d = gram.shape[0]
    if d == 0:
        return np.zeros(0), np.zeros((0, 0))
    eigvals, V = linalg.eigh(gram, check_finite=False)
    eigvals = np.maximum(eigvals, 0.0)
    rank = min(d, max(int(max_rank), 0))
    if significant:
        tol = eigvals[-1] * d * np.finfo(np.float64).eps
        rank = min(rank, int(np.count_nonzero(eigvals > tol)))
    return eigvals[d - rank :], V[:, d - rank :]


def eigen_coef(eigvals, V, projected, alpha):
    """Ridge coefficients ``(n_features, n_targets)`` in the kept directions.

    ``projected`` is ``V^T X_c^T y_c``; ``alpha`` one penalty per target.
    """
    return V @ (projected / (eigvals[:, None] + alpha[None, :]))


def true_scale(moments, fit_intercept):
    """Scatter of ``[X, y]`` (centered, or about the origin) in true units.

    Raises a ``ValueError`` if it leaves float64's range.
    """
    if fit_intercept:
        scatter, exponent = moments.scatter, moments.exponents
    else:
        scatter, exponent = moments.about_origin()
    if exponent.any():
        with np.errstate(over="ignore", under="ignore"):
            scatter = np.ldexp(scatter, exponent[:, None] + exponent[None, :])
    if not np.all(np.isfinite(scatter)):
        raise ValueError(
            "The cross-products of X and y exceed float64's range (values "
            "beyond about 1e154): cv=None (efficient leave-one-out) cannot "
            "score them. Please scale X and y, or pass cv=5 to choose alpha "
            "by K-fold cross-validation."
        )
    return scatter


class LeaveOneOut:
    """The decomposition of the first pass, and the per-row errors.

    Parameters
    ----------
    moments : Moments
        Weighted moments of ``[X, y]`` over all rows.
    n_positive : int
        Rows of positive weight.
    n_features : int
    fit_intercept : bool
    alphas : ndarray of shape (n_alphas,)
    """

    def __init__(self, moments, n_positive, n_features, fit_intercept, alphas):
        d = n_features
        self.d = d
        self.fit_intercept = fit_intercept
        self.alphas = alphas
        scatter = true_scale(moments, fit_intercept)
        self.gram = scatter[:d, :d]
        self.cross = scatter[:d, d:]
        self.weight_total = float(moments.weight)
        if fit_intercept:
            self.x_mean = moments.mean[:d]
            self.y_mean = moments.mean[d:]
            self.x_error = moments.mean_error[:d]
            self.y_error = moments.mean_error[d:]
        else:
            self.x_mean = self.x_error = np.zeros(d)
            self.y_mean = self.y_error = np.zeros(scatter.shape[0] - d)
        max_rank = n_positive - int(fit_intercept)
        self.moments = moments
        self.eigvals, self.V = signal_directions(self.gram, max_rank, significant=False)
        tol = (self.eigvals[-1] if self.eigvals.size else 0.0) * d * _EPS
        self.n_significant = int(np.count_nonzero(self.eigvals > tol))
        self.projected = self.V.T @ self.cross
        # The centered rows span their whole space (the wide case).
        self.interpolating = (
            self.eigvals.size == max_rank and self.n_significant == max_rank
        )
        if not self.interpolating:
            # The residuals of the models of all rows, from their
            # coefficients (more accurate than through the eigenvectors).
            n_targets = self.cross.shape[1]
            self.coefs = np.stack(
                [self.coef(np.full(n_targets, a))[0].T for a in alphas], axis=-1
            )

    def errors(self, X, Y, w):
        """Leave-one-out residuals ``y_i - prediction_i`` of the rows.

        Returns an array ``(n_rows, n_targets, n_alphas)``; rows of zero
        weight get 0 (their scaled error, as scikit-learn's).
        """
        X = np.asarray(X, dtype=np.float64)
        # The mean to twice float64's precision: rows far from the origin
        # keep the digits of their spread.
        centered = (X - self.x_mean) - self.x_error
        z = centered @ self.V
        L = self.eigvals[:, None]
        alphas = self.alphas[None, :]
        n = X.shape[0]
        if w is None:
            w = np.ones(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.interpolating:
                D = 1.0 / (L * (L + alphas))
                numerator = np.einsum("bk,kt,ka->bta", z, self.projected, D)
                denominator = w[:, None] * ((z * z) @ D)
                errors = numerator / denominator[:, None, :]
            else:
                G = 1.0 / (L + alphas)
                fitted = np.einsum("bd,dta->bta", centered, self.coefs)
                residual = ((Y - self.y_mean) - self.y_error)[:, :, None] - fitted
                denominator = 1.0 - w[:, None] * ((z * z) @ G)
                if self.fit_intercept:
                    denominator -= (w / self.weight_total)[:, None]
                errors = residual / denominator[:, None, :]
        errors[w == 0] = 0.0
        return errors

    def coef(self, alpha):
        """Coefficients ``(n_targets, n_features)`` and intercepts for
        one penalty per target.

        A (scaled) Cholesky solve when the Gram has full rank, as accurate
        for badly scaled columns as scikit-learn's; otherwise the ridge
        solution in the significant eigendirections, whose limit at small
        alpha is the minimum-norm least-squares solution.
        """
        if self.eigvals.size == self.d:
            return ridge_solution(self.moments, self.d, alpha, self.fit_intercept)
        keep = slice(self.eigvals.size - self.n_significant, None)
        coef = eigen_coef(
            self.eigvals[keep], self.V[:, keep], self.projected[keep], alpha
        ).T
        intercept = self.y_mean - coef @ self.x_mean
        return coef, intercept


def _solve_cholesky(gram, cross, alpha):
    """Solve ``(gram + alpha_j I) c_j = cross_j`` for every target ``j``.

    ``gram`` is symmetric positive semi-definite, so a Cholesky solve is used,
    as by :class:`sklearn.linear_model.Ridge` with ``solver="cholesky"``; a
    singular system falls back to the minimum-norm least-squares solution.
    """
    n_features = gram.shape[0]
    if np.all(alpha == alpha[0]):
        groups = [(alpha[0], slice(None))]
    else:
        groups = [(a, slice(j, j + 1)) for j, a in enumerate(alpha)]
    coef = np.empty_like(cross)
    for a, cols in groups:
        system = gram.copy()
        system.flat[:: n_features + 1] += a
        try:
            coef[:, cols] = linalg.solve(
                system, cross[:, cols], assume_a="pos", check_finite=False
            )
        except linalg.LinAlgError:
            warnings.warn(
                "The regularized normal equations are singular (alpha is 0 and "
                "features are collinear or constant); using the minimum-norm "
                "least-squares solution instead. Set alpha > 0 for a unique "
                "solution.",
                linalg.LinAlgWarning,
                stacklevel=4,
            )
            coef[:, cols] = linalg.lstsq(system, cross[:, cols], check_finite=False)[0]
    return coef


def _solve_scaled_cholesky(scatter, exponent, n_features, alpha):
    """:func:`_solve_cholesky` for a scatter scaled by powers of two.

    The true system is ``(G + alpha I) c = C`` with ``G_jk = G'_jk
    2**(e_j + e_k)`` and ``C_jt = C'_jt 2**(e_j + e_t)``. Scaled again by
    ``2**-f_j`` on both sides, with ``2**f_j`` about the square root of its
    diagonal, it has a diagonal near one, whatever the scales of the
    columns and of alpha: each of its entries is a true entry times a power
    of two, so nothing is rounded that the unscaled system would not round.
    Returns the coefficients (n_features, n_targets) in true units, or
    raises if they leave float64's range.
    """
    d = n_features
    gram, cross = scatter[:d, :d], scatter[:d, d:]
    ex, et = exponent[:d], exponent[d:]
    with np.errstate(divide="ignore"):
        log2_diagonal = 0.5 * np.log2(np.abs(np.diagonal(gram))) + ex
    coef = np.empty_like(cross)
    unscaled = np.empty_like(cross)
    for a in np.unique(alpha):
        cols = np.flatnonzero(alpha == a)
        with np.errstate(divide="ignore"):
            top = np.fmax(log2_diagonal, 0.5 * np.log2(a))
        # Columns without spread keep their own scale; alpha alone, if any,
        # is the diagonal of theirs.
        f = np.where(np.isfinite(top), np.floor(top), ex).astype(np.int64)
        system = np.ldexp(gram, (ex - f)[:, None] + (ex - f)[None, :])
        system.flat[:: d + 1] += np.ldexp(a, -2 * f)
        rhs = np.ldexp(cross[:, cols], (ex - f)[:, None])
        solved = _solve_cholesky(system, rhs, np.zeros(cols.size))
        unscaled[:, cols] = solved
        with np.errstate(over="ignore"):
            coef[:, cols] = np.ldexp(solved, et[cols][None, :] - f[:, None])
    bad = ~np.isfinite(coef).all(axis=0)
    # A target whose coefficients all round to zero or to denormals below
    # float64's normal range (2.2e-308) has lost them.
    lost = (np.abs(unscaled).max(axis=0) > 0) & (
        np.abs(coef).max(axis=0) < np.finfo(np.float64).tiny
    )
    if bad.any() or lost.any():
        targets = np.flatnonzero(bad | lost).tolist()
        which = "exceed" if bad.any() else "fall below"
        raise ValueError(
            f"The coefficients of target(s) {targets} {which} float64's range: "
            "the scales of y and X are too far apart (y / X beyond about 1e308 "
            "or below about 1e-308). Please scale y or X, e.g. with "
            "sklearn.preprocessing.StandardScaler."
        )
    return coef


def ridge_solution(moments, n_features, alpha, fit_intercept):
    """Coefficients ``(n_targets, n_features)`` and intercepts of the ridge
    problem whose rows ``[X, y]`` have the given moments.

    Moments scaled by powers of two (data whose products leave float64's
    range, see :attr:`~sklearn_ooc._stats.Moments.exponent`) are solved in
    scaled form: the same model as the data scaled into range would give,
    scaled back. A model that float64 cannot hold raises a ``ValueError``.
    """
    d = n_features
    if not moments.weight > 0:
        raise ValueError(
            "Sample weights must contain at least one non-zero number: every "
            "row seen has weight zero"
        )
    x_mean, y_mean = moments.mean[:d], moments.mean[d:]
    if fit_intercept:
        scatter, exponent = moments.scatter, moments.exponents
    else:
        scatter, exponent = moments.about_origin()
    if exponent.any():
        coef = _solve_scaled_cholesky(scatter, exponent, d, alpha).T
    else:
        gram = scatter[:d, :d]
        cross = scatter[:d, d:]
        coef = _solve_cholesky(gram, cross, alpha).T
    if fit_intercept:
        with np.errstate(over="ignore", invalid="ignore"):
            intercept = y_mean - coef @ x_mean
    else:
        intercept = np.zeros(len(alpha))
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        bad = ~(np.isfinite(coef).all(axis=1) & np.isfinite(intercept))
        raise ValueError(
            "The intercept or coefficients of target(s) "
            f"{np.flatnonzero(bad).tolist()} exceed float64's range (1.8e308). "
            "Please scale X and y, e.g. with sklearn.preprocessing.StandardScaler."
        )
    return coef, intercept
