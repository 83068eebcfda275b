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

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin

from .._stats import moments_of_rows
from ._ridge import _ridge_solution

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

        StreamingRidge's solve (:func:`._ridge._ridge_solution`) when the
        rows can determine every coefficient; otherwise the ridge
        solution in the significant eigendirections, whose limit at small
        alpha is the minimum-norm least-squares solution.
        """
        if self.eigvals.size == self.d:
            return _ridge_solution(self.moments, self.d, alpha, self.fit_intercept)
        keep = slice(self.eigvals.size - self.n_significant, None)
        coef = eigen_coef(
            self.eigvals[keep], self.V[:, keep], self.projected[keep], alpha
        ).T
        intercept = self.y_mean - coef @ self.x_mean
        return coef, intercept
