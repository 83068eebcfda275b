"""Poisson, Gamma and Tweedie regression by Newton iterations, one pass each."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import GammaRegressor, PoissonRegressor, TweedieRegressor
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from ..base import OutOfCoreMixin, StreamingRegressorMixin
from ._logistic import _NewtonStats

# Rows of the start of the data whose mean shifts the columns (a Hessian of
# rows near the origin keeps its digits).
_SHIFT_ROWS = 64
# Bytes of a chunk of shifted rows in a pass (in cache while its scores,
# gradient and Hessian are taken).
_CHUNK_BYTES = 1 << 20


@dataclass
class _TargetSums:
    """Weighted sum of the targets, for the starting intercept and D²."""

    count: int
    weight: float
    total: float

    def __add__(self, other):
        return _TargetSums(
            self.count + other.count,
            self.weight + other.weight,
            self.total + other.total,
        )


@dataclass
class _DevianceSums:
    """Sums of D²'s terms: the deviance of the model, of the mean, the
    constant that makes them zero at the optimum."""

    deviance: float
    null: float
    constant: float

    def __add__(self, other):
        return _DevianceSums(
            self.deviance + other.deviance,
            self.null + other.null,
            self.constant + other.constant,
        )


class _StreamingGLM(
    StreamingRegressorMixin, OutOfCoreMixin, RegressorMixin, BaseEstimator
):
    """Generalized linear models of scikit-learn, by Newton passes over rows.

    scikit-learn minimizes ``mean_w(loss) + alpha / 2 * ||coef||^2`` (the
    loss half the unit deviance) by L-BFGS or by Newton steps with a
    Cholesky solve ('newton-cholesky'). Out of core, each Newton iteration is
    one pass that sums the loss, its gradient and its Hessian over chunks of
    rows; the step, its backtracking line search (a halved step is
    evaluated by the next pass) and scikit-learn's stopping rule (largest
    gradient entry and half the Newton decrement at most ``tol``) run on
    those sums. Both solvers reach the same minimizer; this one gives it to
    ``tol``, whatever ``solver`` names.
    """

    _requires_y = True
    _single_target = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0.0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions({"lbfgs", "newton-cholesky"}), Hidden(type)],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="neither")],
        "warm_start": ["boolean"],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        alpha=1.0,
        fit_intercept=True,
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        batch_size="auto",
        n_jobs=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def _get_loss(self, xp=None, device=None):
        """scikit-learn's loss object for these parameters."""
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            # As scikit-learn's: targets positive where the loss needs them.
            tags.target_tags.positive_only = not self._get_loss().in_y_true_range(-1.0)
        except (ValueError, AttributeError, TypeError):
            pass  # an invalid power or link: refused by fit
        return tags

    # -- passes ---------------------------------------------------------------

    def _target_sums(self, batch):
        y = np.asarray(batch.y, dtype=np.float64).ravel()
        if not self._base_loss.in_y_true_range(y):
            bad = next(
                i
                for i in range(y.shape[0])
                if not self._base_loss.in_y_true_range(y[i : i + 1])
            )
            raise ValueError(
                "Some value(s) of y are out of the valid range of the loss "
                f"{type(self._base_loss).__name__!r}: y = {y[bad]!r} at row "
                f"{batch.start + bad}"
            )
        w = np.ones(y.shape[0]) if batch.sample_weight is None else batch.sample_weight
        return _TargetSums(y.shape[0], float(w.sum()), float(w @ y))

    def _derivatives(self, batch):
        X, n = batch.X, batch.n_samples
        d = X.shape[1]
        y = np.asarray(batch.y, dtype=np.float64).ravel()
        w = np.ones(n) if batch.sample_weight is None else batch.sample_weight
        width = d + int(self.fit_intercept)
        m = max(1, min(n, _CHUNK_BYTES // (8 * width)))
        buffer = batch.workspace.get("glm_design", m, width)
        gradient = np.zeros(width)
        hessian = np.zeros((width, width))
        loss = 0.0
        for start in range(0, n, m):
            stop = min(n, start + m)
            Z = buffer[: stop - start]
            np.subtract(X[start:stop], self._shift, out=Z[:, :d])
            if self.fit_intercept:
                Z[:, d] = 1.0
            raw = Z @ self._weights
            part = slice(start, stop)
            loss += float(
                w[part] @ self._base_loss.loss(y_true=y[part], raw_prediction=raw)
            )
            g, h = self._base_loss.gradient_hessian(
                y_true=y[part], raw_prediction=raw, sample_weight=w[part]
            )
            gradient += g @ Z
            hessian += (Z * h[:, None]).T @ Z
        return _NewtonStats(n, float(w.sum()), loss, gradient, hessian)

    # -- the iterations ---------------------------------------------------------

    def _penalized(self, stats):
        """Objective, gradient and Hessian per unit weight, with the L2 term."""
        d = self.n_features_in_
        coef = self._weights[:d]
        total = stats.weight
        objective = stats.loss / total + 0.5 * self.alpha * coef @ coef
        gradient = stats.gradient / total
        gradient[:d] += self.alpha * coef
        hessian = stats.hessian / total
        hessian[np.arange(d), np.arange(d)] += self.alpha
        return objective, gradient, hessian

    def _newton(self, source, engine):
        """Newton iterations from ``self._weights``; the number of passes."""
        previous = None
        n_iter = 0
        converged = warned = False
        for n_iter in range(1, self.max_iter + 1):
            stats = engine.reduce(
                source, range(source.n_batches), self._derivatives, desc="newton"
            )
            objective, gradient, hessian = self._penalized(stats)
            if not np.isfinite(objective):
                raise ValueError(
                    f"{type(self).__name__}: the objective is not finite at "
                    f"iteration {n_iter}; scale the features or increase alpha"
                )
            if previous is not None:
                old_objective, slope, origin, step, size = previous
                # Armijo on the step just taken; else halve it and look again.
                if objective > old_objective + 1e-4 * size * slope and size > 1e-10:
                    size /= 2
                    self._weights = origin + size * step
                    previous = (old_objective, slope, origin, step, size)
                    continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", linalg.LinAlgWarning)
                    step = -linalg.solve(
                        hessian, gradient, assume_a="pos", check_finite=False
                    )
            except (linalg.LinAlgError, linalg.LinAlgWarning):
                # A singular Hessian (collinear columns, no penalty): the
                # least-squares step, which moves in the span of the rows.
                step = -linalg.lstsq(hessian, gradient, check_finite=False)[0]
                if self.solver == "newton-cholesky" and not warned:
                    warned = True
                    warnings.warn(
                        f"The inner solver of {type(self).__name__}'s Newton "
                        "Solver stumbled upon a singular or very ill-conditioned "
                        f"Hessian matrix at iteration {n_iter}; it goes on with "
                        "the least-squares Newton step. Increase alpha or remove "
                        "collinear features to avoid this.",
                        linalg.LinAlgWarning,
                        stacklevel=3,
                    )
            decrement = float(step @ hessian @ step)
            if np.max(np.abs(gradient)) <= self.tol and 0.5 * decrement <= self.tol:
                converged = True
                break
            previous = (
                objective,
                float(gradient @ step),
                self._weights.copy(),
                step,
                1.0,
            )
            self._weights = self._weights + step
            engine.log(
                f"[{type(self).__name__}] iteration {n_iter}: objective "
                f"{objective:.10g}, largest gradient {np.max(np.abs(gradient)):.3g}"
            )
        if not converged:
            warnings.warn(
                f"Newton iterations of {type(self).__name__} did not converge in "
                f"max_iter={self.max_iter} passes; increase max_iter.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return n_iter

    def fit(self, X, y, sample_weight=None):
        """Fit the model by Newton iterations, one pass over ``X`` each.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_features)
            Training rows, read one batch at a time.
        y : same kinds as X, of shape (n_samples,)
            Targets, in the range of the loss.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        warm = self.warm_start and hasattr(self, "coef_")
        with self._transaction():
            source = self._source(X, y, sample_weight, reset=not warm, fitting=True)
            self._base_loss = self._get_loss()
            engine = self._engine()
            sums = engine.reduce(
                source, range(source.n_batches), self._target_sums, desc="targets"
            )
            if not sums.weight > 0:
                raise ValueError(
                    "Sample weights must contain at least one non-zero number"
                )
            d = source.n_features
            # Without an intercept to take it up, the rows are not shifted.
            self._shift = np.zeros(source.n_features)
            if self.fit_intercept:
                rows = np.arange(min(source.n_samples, _SHIFT_ROWS))
                head = np.asarray(source.take(rows), dtype=np.float64)
                self._shift = head.mean(axis=0)
            self._weights = np.zeros(d + int(self.fit_intercept))
            if warm:
                self._weights[:d] = self.coef_
                if self.fit_intercept:
                    self._weights[d] = self.intercept_ + self.coef_ @ self._shift
            elif self.fit_intercept:
                self._weights[d] = self._base_loss.link.link(sums.total / sums.weight)
            self.n_iter_ = self._newton(source, engine)
            coef = self._weights[:d].copy()
            self.coef_ = coef
            if self.fit_intercept:
                self.intercept_ = float(self._weights[d] - coef @ self._shift)
            else:
                self.intercept_ = 0.0
            self._is_fitted = True
        return self

    def _linear_predictor_batch(self, X):
        return X @ self.coef_ + self.intercept_

    def _predict_batch(self, X):
        return self._base_loss.link.inverse(self._linear_predictor_batch(X))

    def score(self, X, y, sample_weight=None):
        """D², the fraction of deviance explained, streamed (two passes).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.

        Returns
        -------
        float
            scikit-learn's D² of ``self.predict(X)`` against ``y``.
        """
        check_is_fitted(self)
        source = self._source(X, y, sample_weight, reset=False)
        engine = self._engine()
        sums = engine.reduce(
            source, range(source.n_batches), self._target_sums, desc="score"
        )
        y_mean = self._base_loss.link.link(sums.total / sums.weight)
        loss = self._base_loss

        def terms(batch):
            y = np.asarray(batch.y, dtype=np.float64).ravel()
            w = batch.sample_weight
            raw = self._linear_predictor_batch(batch.X)
            ones = np.ones(y.shape[0]) if w is None else w
            return _DevianceSums(
                float(ones @ loss.loss(y_true=y, raw_prediction=raw)),
                float(
                    ones
                    @ loss.loss(y_true=y, raw_prediction=np.full(y.shape[0], y_mean))
                ),
                float(ones @ loss.constant_to_optimal_zero(y_true=y)),
            )

        total = engine.reduce(source, range(source.n_batches), terms, desc="score")
        scale = sums.weight
        deviance = total.deviance / scale
        null = total.null / scale
        constant = total.constant / scale
        return float(1 - (deviance + constant) / (null + constant))


_GLM_DOC = """
    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the L2 penalty on the coefficients (not the intercept).
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    solver : {{'lbfgs', 'newton-cholesky'}}, default='lbfgs'
        The solver scikit-learn would use. Out of core both are Newton
        iterations with a Cholesky solve, one pass each, stopped by
        scikit-learn's rule for 'newton-cholesky'; both reach the same
        minimizer.
    max_iter : int, default=100
        Maximum number of Newton passes.
    tol : float, default=1e-4
        Stop when the largest gradient entry and half the Newton decrement
        are at most ``tol``.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_``.
    {extra}verbose : int, default=0
        1 prints a line per Newton pass; 2 adds progress bars over batches.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients of the linear predictor.
    intercept_ : float
        Intercept of the linear predictor (0.0 without one).
    n_iter_ : int
        Newton passes run (a halved step takes a pass too).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
"""


@register(PoissonRegressor)
class StreamingPoissonRegressor(_StreamingGLM):
    __doc__ = (
        """Poisson regression (log link) fitted from data read one batch at a time.

    The model of :class:`sklearn.linear_model.PoissonRegressor`, by Newton
    iterations of one pass each.
"""
        + _GLM_DOC.format(extra="")
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingPoissonRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 2))
    >>> y = rng.poisson(np.exp(X @ [0.5, -0.3] + 1.0))
    >>> model = StreamingPoissonRegressor(alpha=0.0, batch_size=256).fit(X, y)
    >>> model.coef_.round(1), round(model.intercept_, 1)
    (array([ 0.5, -0.3]), 1.0)
    """
    )

    def _get_loss(self, xp=None, device=None):
        return PoissonRegressor()._get_loss()


@register(GammaRegressor)
class StreamingGammaRegressor(_StreamingGLM):
    __doc__ = (
        """Gamma regression (log link) fitted from data read one batch at a time.

    The model of :class:`sklearn.linear_model.GammaRegressor`, by Newton
    iterations of one pass each.
"""
        + _GLM_DOC.format(extra="")
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingGammaRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 2))
    >>> y = rng.gamma(4.0, np.exp(X @ [0.5, -0.3]) / 4.0)
    >>> model = StreamingGammaRegressor(alpha=0.0, batch_size=256).fit(X, y)
    >>> model.coef_.round(1)
    array([ 0.5, -0.3])
    """
    )

    def _get_loss(self, xp=None, device=None):
        return GammaRegressor()._get_loss()


@register(TweedieRegressor)
class StreamingTweedieRegressor(_StreamingGLM):
    __doc__ = (
        """Tweedie regression fitted from data read one batch at a time.

    The model of :class:`sklearn.linear_model.TweedieRegressor` (any power,
    identity or log link), by Newton iterations of one pass each.
"""
        + _GLM_DOC.format(
            extra="""power : float, default=0.0
        The Tweedie power (0 normal, 1 Poisson, 2 Gamma, 3 inverse Gaussian,
        between 1 and 2 compound Poisson-Gamma).
    link : {'auto', 'identity', 'log'}, default='auto'
        The link function; 'auto' is identity for power 0, else log.
    """
        )
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingTweedieRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 2))
    >>> y = rng.poisson(np.exp(X @ [0.5, -0.3] + 1.0))
    >>> model = StreamingTweedieRegressor(power=1.5, alpha=0.0).fit(X, y)
    >>> model.coef_.round(1)
    array([ 0.5, -0.3])
    """
    )

    _parameter_constraints: dict = {
        **_StreamingGLM._parameter_constraints,
        "power": [Interval(Real, None, None, closed="neither")],
        "link": [StrOptions({"auto", "identity", "log"})],
    }

    def __init__(
        self,
        *,
        power=0.0,
        alpha=1.0,
        fit_intercept=True,
        link="auto",
        solver="lbfgs",
        max_iter=100,
        tol=1e-4,
        warm_start=False,
        verbose=0,
        batch_size="auto",
        n_jobs=None,
    ):
        super().__init__(
            alpha=alpha,
            fit_intercept=fit_intercept,
            solver=solver,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            verbose=verbose,
            batch_size=batch_size,
            n_jobs=n_jobs,
        )
        self.power = power
        self.link = link

    def _get_loss(self, xp=None, device=None):
        return TweedieRegressor(power=self.power, link=self.link)._get_loss()
