"""Bayesian ridge and ARD regression from the triangular factor of the rows."""

from __future__ import annotations

from math import log
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.linalg import pinvh
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import ARDRegression, BayesianRidge
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import fast_logdet
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from ..base import ClosedFormMixin, StreamingRegressorMixin
from ._linear_regression import FactoredRowsMixin

# The parameters both Bayesian regressions take, as scikit-learn checks them.
_PRIOR_CONSTRAINTS = {
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "alpha_1": [Interval(Real, 0, None, closed="left")],
    "alpha_2": [Interval(Real, 0, None, closed="left")],
    "lambda_1": [Interval(Real, 0, None, closed="left")],
    "lambda_2": [Interval(Real, 0, None, closed="left")],
    "compute_score": ["boolean"],
    "fit_intercept": ["boolean"],
    "copy_X": ["boolean"],
    **ClosedFormMixin._ooc_parameter_constraints,
}


class _PosteriorPredictMixin:
    """``predict(X, return_std=True)``: the spread of the posterior prediction,
    streamed, for the columns whose weights have a posterior covariance."""

    def _posterior_columns(self):
        return slice(None)

    def predict(self, X, return_std=False):
        """Predict the targets of ``X``, batch by batch, and their spread.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows to predict; out-of-core inputs are streamed.
        return_std : bool, default=False
            Also return the standard deviation of the posterior prediction.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
            Mean of the predictive distribution.
        y_std : ndarray of shape (n_samples,)
            Its standard deviation, if ``return_std``.
        """
        if not return_std:
            return super().predict(X)
        check_is_fitted(self)
        columns = self._posterior_columns()

        def both(batch):
            rows = (batch.X - self.X_offset_)[:, columns]
            spread = (np.dot(rows, self.sigma_) * rows).sum(axis=1)
            std = np.sqrt(spread + 1.0 / self.alpha_)
            return np.column_stack([self._predict_batch(batch.X), std])

        out = self._map_rows(X, both, desc="predict")
        return out[:, 0], out[:, 1]


@register(BayesianRidge)
class StreamingBayesianRidge(
    _PosteriorPredictMixin,
    FactoredRowsMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """Bayesian ridge regression fitted exactly from one pass over the rows.

    The model of :class:`sklearn.linear_model.BayesianRidge`: the
    precision of the noise (``alpha_``) and of the weights (``lambda_``) are
    estimated by MacKay's fixed-point iterations, which scikit-learn runs on
    the singular value decomposition of the centered ``X``. Those iterations
    need only the singular values and right singular vectors of ``X``,
    ``X^T y`` and the residual sum of squares: all of them come from the
    triangular factor ``R`` of the rows ``[1, X, y]`` (which has the singular
    values and right singular vectors of the centered ``X``), accumulated in
    one pass as :class:`StreamingLinearRegression` accumulates it. The
    iterations then run on ``R``, a matrix of ``(n_features + 2)^2`` floats,
    and never read the data again; the residuals are those of the factor,
    not a difference of large sums.

    Parameters
    ----------
    max_iter : int, default=300
        Maximum number of fixed-point iterations (on the factor, not passes
        over the data).
    tol : float, default=1e-3
        Stop when the coefficients move by less (in L1 norm).
    alpha_1 : float, default=1e-6
        Shape parameter of the Gamma prior over ``alpha``.
    alpha_2 : float, default=1e-6
        Rate parameter of the Gamma prior over ``alpha``.
    lambda_1 : float, default=1e-6
        Shape parameter of the Gamma prior over ``lambda``.
    lambda_2 : float, default=1e-6
        Rate parameter of the Gamma prior over ``lambda``.
    alpha_init : float, default=None
        Initial ``alpha``; ``None`` is ``1 / (Var(y) + eps)``.
    lambda_init : float, default=None
        Initial ``lambda``; ``None`` is 1.
    compute_score : bool, default=False
        Compute the log marginal likelihood at each iteration (``scores_``).
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    verbose : bool, default=False
        Print the iteration of convergence, and (as the other estimators of
        sklearn_ooc) a line per pass over the data.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads factoring batches in parallel. ``None`` means 1, ``-1`` all
        cores. The result is bitwise the same for every value.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients (the mean of their posterior).
    intercept_ : float
        Independent term; ``0.0`` if ``fit_intercept=False``.
    alpha_ : float
        Estimated precision of the noise.
    lambda_ : float
        Estimated precision of the weights.
    sigma_ : ndarray of shape (n_features, n_features)
        Estimated covariance of the weights.
    scores_ : ndarray of shape (`n_iter_` + 1,)
        Log marginal likelihood at each iteration and at the end, if
        ``compute_score``.
    n_iter_ : int
        Iterations run to reach the stopping criterion.
    X_offset_ : ndarray of shape (n_features,)
        The (weighted) mean of the rows if ``fit_intercept``, else zeros.
    X_scale_ : ndarray of shape (n_features,)
        Ones (scikit-learn's attribute; the rows are not scaled).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.BayesianRidge : The in-memory estimator this one
        equals.
    StreamingLinearRegression : Least squares from the same factor.

    Notes
    -----
    ``partial_fit`` merges the factor of the new rows into that of all rows
    seen and runs the iterations again from the start, as ``fit`` on the
    concatenation would.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingBayesianRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = X @ [1.0, 2.0, 0.0] + 0.1 * rng.normal(size=500)
    >>> model = StreamingBayesianRidge(batch_size=100).fit(X, y)
    >>> model.coef_.round(1)
    array([1., 2., 0.])
    >>> mean, std = model.predict(X[:2], return_std=True)
    >>> std.round(2)
    array([0.1, 0.1])
    """

    _requires_y = True
    _single_target = True

    _parameter_constraints: dict = {
        **_PRIOR_CONSTRAINTS,
        "tol": [Interval(Real, 0, None, closed="neither")],
        "alpha_init": [None, Interval(Real, 0, None, closed="left")],
        "lambda_init": [None, Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        max_iter=300,
        tol=1.0e-3,
        alpha_1=1.0e-6,
        alpha_2=1.0e-6,
        lambda_1=1.0e-6,
        lambda_2=1.0e-6,
        alpha_init=None,
        lambda_init=None,
        compute_score=False,
        fit_intercept=True,
        copy_X=True,
        verbose=False,
        batch_size="auto",
        n_jobs=None,
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.alpha_init = alpha_init
        self.lambda_init = lambda_init
        self.compute_score = compute_score
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.verbose = verbose
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def _from_summaries(self, stats):
        d = self.n_features_in_
        X_mean, y_mean, factor = self._blocks(stats)
        R, r_y, r_res = factor[:d, :d], factor[:d, d], factor[d, d]
        n_samples = int(stats.count)
        sw_sum = stats.weight
        # Var(y) about its (weighted) mean, whether or not an intercept is
        # fitted, as scikit-learn computes it: below the column of ones, the
        # factor's column of y is that of the centered y.
        centered_y = stats.factor[1:, 1 + d]
        y_var = (centered_y @ centered_y) / sw_sum

        # R = U S Vh: X (centered) = (Q U) S Vh, so X^T y = R^T (Q^T y).
        # Beyond the number of rows, X has no singular value: zero.
        U, S, Vh_full = linalg.svd(R, check_finite=False)
        S = np.where(np.arange(d) < n_samples, S, 0.0)
        eigen_vals = S**2
        XT_y = R.T @ r_y
        Uty = U.T @ r_y

        def update_coef(alpha, lambda_):
            coef = np.linalg.multi_dot(
                [Vh_full.T, Vh_full / (eigen_vals + lambda_ / alpha)[:, None], XT_y]
            )
            # The residual of the factor: no cancellation of large sums.
            fitted = S * (Vh_full @ coef)
            return coef, float(np.sum((Uty - fitted) ** 2) + r_res**2)

        eps = np.finfo(np.float64).eps
        alpha = 1.0 / (y_var + eps) if self.alpha_init is None else self.alpha_init
        lambda_ = 1.0 if self.lambda_init is None else self.lambda_init
        alpha, lambda_ = float(alpha), float(lambda_)
        scores = []
        coef_old = None
        for iteration in range(self.max_iter):
            coef, sse = update_coef(alpha, lambda_)
            if self.compute_score:
                scores.append(
                    self._log_marginal_likelihood(
                        d, sw_sum, eigen_vals, alpha, lambda_, coef, sse
                    )
                )
            gamma = np.sum((alpha * eigen_vals) / (lambda_ + alpha * eigen_vals))
            lambda_ = (gamma + 2 * self.lambda_1) / (
                np.sum(coef**2) + 2 * self.lambda_2
            )
            alpha = (sw_sum - gamma + 2 * self.alpha_1) / (sse + 2 * self.alpha_2)
            if iteration != 0 and np.sum(np.abs(coef_old - coef)) < self.tol:
                if self.verbose:
                    self._engine().log(
                        f"[{type(self).__name__}] Convergence after {iteration} "
                        "iterations"
                    )
                break
            coef_old = np.copy(coef)
        self.n_iter_ = iteration + 1
        last_coef = coef
        coef, sse = update_coef(alpha, lambda_)
        if self.compute_score:
            # scikit-learn's last score pairs the final residual with the
            # coefficients of the last iteration: kept, to equal it.
            scores.append(
                self._log_marginal_likelihood(
                    d, sw_sum, eigen_vals, alpha, lambda_, last_coef, sse
                )
            )
            self.scores_ = np.array(scores)
        else:
            self.scores_ = []
        dtype = self._X_dtype
        self.alpha_ = dtype.type(alpha)
        self.lambda_ = dtype.type(lambda_)
        self.sigma_ = np.dot(
            Vh_full.T, Vh_full / (alpha * eigen_vals + lambda_)[:, None]
        ).astype(dtype, copy=False)
        offset = X_mean if self.fit_intercept else np.zeros(d)
        self.X_offset_ = offset.astype(dtype, copy=False)
        self.X_scale_ = np.ones(d, dtype=dtype)
        self.coef_ = coef.astype(dtype, copy=False)
        if self.fit_intercept:
            self.intercept_ = dtype.type(y_mean[0] - offset @ coef)
        else:
            self.intercept_ = 0.0
        self.n_samples_seen_ = n_samples

    def _log_marginal_likelihood(
        self, n_features, sw_sum, eigen_vals, alpha, lambda_, coef, sse
    ):
        """scikit-learn's log marginal likelihood, from the singular values."""
        logdet_sigma = -np.sum(np.log(lambda_ + alpha * eigen_vals))
        score = self.lambda_1 * log(lambda_) - self.lambda_2 * lambda_
        score += self.alpha_1 * log(alpha) - self.alpha_2 * alpha
        score += 0.5 * (
            n_features * log(lambda_)
            + sw_sum * log(alpha)
            - alpha * sse
            - lambda_ * np.sum(coef**2)
            + logdet_sigma
            - sw_sum * log(2 * np.pi)
        )
        return score


@register(ARDRegression)
class StreamingARDRegression(
    _PosteriorPredictMixin,
    FactoredRowsMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """Bayesian ARD regression fitted exactly from one pass over the rows.

    The model of :class:`sklearn.linear_model.ARDRegression`: one precision
    per weight (``lambda_``) and one of the noise (``alpha_``), estimated by
    evidence maximization, pruning the weights whose precision passes
    ``threshold_lambda``. Each iteration needs ``X_k^T X_k`` and ``X_k^T y``
    for the kept columns ``k`` and the residual sum of squares; all come
    from the triangular factor ``R`` of the rows ``[1, X, y]`` accumulated
    in one pass (``X^T X = R^T R`` on the centered rows, the residual from
    the factor). The iterations run on ``R`` and never read the data again.

    Parameters
    ----------
    max_iter : int, default=300
        Maximum number of iterations (on the factor, not passes over the data).
    tol : float, default=1e-3
        Stop when the coefficients move by less (in L1 norm).
    alpha_1 : float, default=1e-6
        Shape parameter of the Gamma prior over ``alpha``.
    alpha_2 : float, default=1e-6
        Rate parameter of the Gamma prior over ``alpha``.
    lambda_1 : float, default=1e-6
        Shape parameter of the Gamma prior over ``lambda``.
    lambda_2 : float, default=1e-6
        Rate parameter of the Gamma prior over ``lambda``.
    compute_score : bool, default=False
        Compute the objective at each iteration (``scores_``).
    threshold_lambda : float, default=1e4
        Weights whose precision passes this are pruned (set to zero).
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    verbose : bool, default=False
        Print the iteration of convergence, and a line per pass over the data.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads factoring batches in parallel. ``None`` means 1, ``-1`` all
        cores. The result is bitwise the same for every value.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients (the mean of their posterior); pruned ones are zero.
    intercept_ : float
        Independent term; ``0.0`` if ``fit_intercept=False``.
    alpha_ : float
        Estimated precision of the noise.
    lambda_ : ndarray of shape (n_features,)
        Estimated precisions of the weights.
    sigma_ : ndarray of shape (n_kept, n_kept)
        Estimated covariance of the kept weights.
    scores_ : list of float
        The objective at each iteration, if ``compute_score``.
    n_iter_ : int
        Iterations run to reach the stopping criterion.
    X_offset_ : ndarray of shape (n_features,)
        The mean of the rows if ``fit_intercept``, else zeros.
    X_scale_ : ndarray of shape (n_features,)
        Ones (scikit-learn's attribute; the rows are not scaled).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.ARDRegression : The in-memory estimator this one
        equals.
    StreamingBayesianRidge : One precision for all the weights.

    Notes
    -----
    With fewer rows than features scikit-learn inverts an ``n_samples``
    square matrix (Woodbury's identity) where this one inverts the
    ``n_features`` square one, as scikit-learn does with more rows: the same
    covariance mathematically. Once ``alpha_`` is large, the centered rows
    (of rank ``n_samples - 1``) make scikit-learn's matrix nearly singular
    and its pseudo-inverse drops a direction: its estimates then depend on
    that cutoff, ours do not.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingARDRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 4))
    >>> y = X @ [1.0, 2.0, 0.0, 0.0] + 0.1 * rng.normal(size=500)
    >>> model = StreamingARDRegression(batch_size=100).fit(X, y)
    >>> model.coef_.round(1)
    array([1., 2., 0., 0.])
    """

    _requires_y = True
    _single_target = True

    _parameter_constraints: dict = {
        **_PRIOR_CONSTRAINTS,
        "tol": [Interval(Real, 0, None, closed="left")],
        "threshold_lambda": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        max_iter=300,
        tol=1.0e-3,
        alpha_1=1.0e-6,
        alpha_2=1.0e-6,
        lambda_1=1.0e-6,
        lambda_2=1.0e-6,
        compute_score=False,
        threshold_lambda=1.0e4,
        fit_intercept=True,
        copy_X=True,
        verbose=False,
        batch_size="auto",
        n_jobs=None,
    ):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_1 = alpha_1
        self.alpha_2 = alpha_2
        self.lambda_1 = lambda_1
        self.lambda_2 = lambda_2
        self.compute_score = compute_score
        self.threshold_lambda = threshold_lambda
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.verbose = verbose
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    # scikit-learn's ARDRegression takes no sample weights.
    def fit(self, X, y, *, batch_size=None, batches_per_epoch=None):
        """Fit the model from one pass over ``X``, then iterate on its factor.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_features)
            Training rows, read one batch at a time.
        y : same kinds as X, of shape (n_samples,)
            Targets.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Fit from the first ``batches_per_epoch`` batches only.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(
            X, y, batch_size=batch_size, batches_per_epoch=batches_per_epoch
        )

    def partial_fit(self, X, y):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        The factor of the new rows is merged into that of all rows seen and
        the iterations run again: the model of ``fit`` on the concatenation.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            New rows, of the same features as before.
        y : array-like
            Their targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X, y)

    def summarize(self, X, y):
        """Accumulate the factor of the rows of ``X`` without changing the model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            Rows to summarize.
        y : array-like
            Their targets.

        Returns
        -------
        self : object
            The estimator, with pending statistics.
        """
        return super().summarize(X, y)

    def _from_summaries(self, stats):
        d = self.n_features_in_
        n_samples = int(stats.count)
        if n_samples < 2:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape=({n_samples}, {d})) "
                "while a minimum of 2 is required."
            )
        X_mean, y_mean, factor = self._blocks(stats)
        R, r_y, r_res = factor[:d, :d], factor[:d, d], factor[d, d]
        centered_y = stats.factor[1:, 1 + d]
        gram_all = R.T @ R
        xty_all = R.T @ r_y

        def update_sigma(alpha, lambda_, keep):
            gram = gram_all[np.ix_(keep, keep)]
            return pinvh(np.diag(lambda_[keep]) + alpha * gram)

        def update_coef(coef, alpha, keep, sigma):
            coef[keep] = alpha * (sigma @ xty_all[keep])
            return coef

        def residual(coef):
            return float(np.sum((r_y - R @ coef) ** 2) + r_res**2)

        coef = np.zeros(d)
        keep = np.ones(d, dtype=bool)
        eps = np.finfo(np.float64).eps
        alpha = 1.0 / ((centered_y @ centered_y) / n_samples + eps)
        lambda_ = np.ones(d)
        scores = []
        coef_old = None
        for iteration in range(self.max_iter):
            sigma = update_sigma(alpha, lambda_, keep)
            coef = update_coef(coef, alpha, keep, sigma)
            sse = residual(coef)
            gamma = 1.0 - lambda_[keep] * np.diag(sigma)
            lambda_[keep] = (gamma + 2.0 * self.lambda_1) / (
                coef[keep] ** 2 + 2.0 * self.lambda_2
            )
            alpha = (n_samples - gamma.sum() + 2.0 * self.alpha_1) / (
                sse + 2.0 * self.alpha_2
            )
            keep = lambda_ < self.threshold_lambda
            coef[~keep] = 0
            if self.compute_score:
                score = (
                    self.lambda_1 * np.log(lambda_) - self.lambda_2 * lambda_
                ).sum()
                score += self.alpha_1 * log(alpha) - self.alpha_2 * alpha
                score += 0.5 * (
                    fast_logdet(sigma)
                    + n_samples * log(alpha)
                    + np.sum(np.log(lambda_))
                )
                score -= 0.5 * (alpha * sse + (lambda_ * coef**2).sum())
                scores.append(score)
            if iteration > 0 and np.sum(np.abs(coef_old - coef)) < self.tol:
                if self.verbose:
                    self._engine().log(
                        f"[{type(self).__name__}] Converged after {iteration} "
                        "iterations"
                    )
                break
            coef_old = np.copy(coef)
            if not keep.any():
                break
        self.n_iter_ = iteration + 1
        if keep.any():
            sigma = update_sigma(alpha, lambda_, keep)
            coef = update_coef(coef, alpha, keep, sigma)
        else:
            sigma = np.array([]).reshape(0, 0)
        dtype = self._X_dtype
        self.scores_ = scores
        self.coef_ = coef.astype(dtype, copy=False)
        self.alpha_ = dtype.type(alpha)
        self.lambda_ = lambda_.astype(dtype, copy=False)
        self.sigma_ = sigma.astype(dtype, copy=False)
        offset = X_mean if self.fit_intercept else np.zeros(d)
        self.X_offset_ = offset.astype(dtype, copy=False)
        self.X_scale_ = np.ones(d, dtype=dtype)
        if self.fit_intercept:
            self.intercept_ = dtype.type(y_mean[0] - offset @ coef)
        else:
            self.intercept_ = 0.0
        self.n_samples_seen_ = n_samples

    def _posterior_columns(self):
        return self.lambda_ < self.threshold_lambda
