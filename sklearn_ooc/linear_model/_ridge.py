"""Ridge regression from one streamed pass of centered cross-products."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import Interval

from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import ClosedFormMixin, StreamingRegressorMixin


def _n_targets(y_tail_shape):
    return y_tail_shape[0] if y_tail_shape else 1


def _solve_regularized(gram, cross, alpha):
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


def _penalties(alpha, n_targets):
    """One non-negative penalty per target."""
    alpha = np.asarray(alpha, dtype=np.float64).ravel()
    if alpha.size == 1:
        alpha = np.repeat(alpha, n_targets)
    elif alpha.size != n_targets:
        raise ValueError(
            "Number of targets and number of penalties do not correspond: "
            f"{n_targets} != {alpha.size}"
        )
    if np.any(alpha < 0):
        raise ValueError(f"alpha must be non-negative, got {alpha!r}")
    return alpha


def _solve_scaled(scatter, exponent, n_features, alpha):
    """:func:`_solve_regularized` for a scatter scaled by powers of two.

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
        solved = _solve_regularized(system, rhs, np.zeros(cols.size))
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


def _ridge_solution(moments, n_features, alpha, fit_intercept):
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
        coef = _solve_scaled(scatter, exponent, d, alpha).T
    else:
        gram = scatter[:d, :d]
        cross = scatter[:d, d:]
        coef = _solve_regularized(gram, cross, alpha).T
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


def _sklearn_shapes(coef, intercept, y_tail_shape, fit_intercept):
    """``coef_`` and ``intercept_`` as scikit-learn's Ridge shapes them.

    One target gives a 1-D ``coef_``, and an ``intercept_`` of shape (1,) if
    ``y`` was a column, a float if ``y`` was 1-D; no intercept is ``0.0``.
    """
    coef_ = coef[0] if coef.shape[0] == 1 else coef
    if not fit_intercept:
        return coef_, 0.0
    return coef_, (intercept if y_tail_shape else float(intercept[0]))


def _from_ridge(params):
    """Ridge's parameters as ours (for ``out_of_core``).

    Every solver of Ridge minimizes the same objective, which ours solves
    exactly from the streamed cross-products: the iterative solvers' limits
    and seeds, and the copy of X, do not change the model.
    """
    for name in ("solver", "max_iter", "tol", "random_state", "copy_X"):
        del params[name]
    return params


@register(Ridge, convert=_from_ridge)
class StreamingRidge(
    StreamingRegressorMixin, ClosedFormMixin, RegressorMixin, BaseEstimator
):
    """Ridge regression fitted exactly from data read one batch at a time.

    Minimizes ``||y - Xw||^2_2 + alpha * ||w||^2_2`` as
    :class:`sklearn.linear_model.Ridge` does, from the centered weighted
    cross-products of ``[X, y]`` accumulated in a single pass and merged with
    numerically stable updates: a memory map of any size gives the model that
    ``Ridge(solver="cholesky")`` gives in memory, to rounding.

    Parameters
    ----------
    alpha : float or ndarray of shape (n_targets,), default=1.0
        L2 penalty; one value per target if an array.
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are centered implicitly, never
        copied).
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel (BLAS runs single-threaded
        inside each). ``None`` means 1, ``-1`` all cores. The result is
        bitwise the same for every value.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weight vector(s); 1-D for a single target, as in scikit-learn.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term (an array if ``y`` is 2-D); zero if
        ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from (by ``fit``, or by all ``partial_fit`` calls).

    See Also
    --------
    sklearn.linear_model.Ridge : The in-memory estimator this one equals.

    Notes
    -----
    Memory: one batch of shifted rows per thread plus ``(n_features +
    n_targets)^2`` floats, whatever the number of rows. Computations are in
    float64 for float32 input too.

    Columns of ``X`` or ``y`` whose products leave float64's range (values
    beyond about 1e154 in magnitude, or below about 1e-154) are scaled by
    powers of two, which rounds nothing: the model is that of the data scaled
    into range, scaled back, where scikit-learn's Ridge fails or returns
    zeros. Coefficients that float64 cannot hold raise a ``ValueError``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.linear_model import StreamingRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> y = X @ [1.0, 2.0, 3.0] + 0.5
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, X)
    >>> X_disk = np.load(path, mmap_mode="r")
    >>> model = StreamingRidge(alpha=1e-3).fit(X_disk, y, batch_size=100)
    >>> model.coef_.round(4), round(model.intercept_, 4)
    (array([1., 2., 3.]), 0.5)
    """

    _requires_y = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), np.ndarray],
        "fit_intercept": ["boolean"],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        source = super()._source(
            X, y, sample_weight, reset=reset, batch_size=batch_size, fitting=fitting
        )
        if source.y is not None:
            if reset:
                self._y_shape = source.y.shape[1:]
            elif _n_targets(source.y.shape[1:]) != _n_targets(self._y_shape):
                raise ValueError(
                    f"y has {_n_targets(source.y.shape[1:])} target(s) but "
                    f"{type(self).__name__} was fitted with "
                    f"{_n_targets(self._y_shape)}"
                )
        return source

    def _summarize(self, batch):
        y = batch.y.reshape(batch.n_samples, -1)
        return moments_of_rows(
            batch.X, y, batch.sample_weight, batch.workspace, rescale=True
        )

    def _from_summaries(self, stats):
        d = self.n_features_in_
        n_targets = stats.mean.shape[0] - d
        alpha = _penalties(self.alpha, n_targets)
        coef, intercept = _ridge_solution(stats, d, alpha, self.fit_intercept)
        self.coef_, self.intercept_ = _sklearn_shapes(
            coef, intercept, self._y_shape, self.fit_intercept
        )
        self.n_samples_seen_ = int(stats.count)

    def _predict_batch(self, X):
        return X @ self.coef_.T + self.intercept_
