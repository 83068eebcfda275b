"""Ridge regression from one streamed pass of centered cross-products."""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg, optimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.utils._param_validation import Interval, StrOptions

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
            f"{alpha.size} != {n_targets}"
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


_EPS = np.finfo(np.float64).eps


def _unit_diagonal_scales(gram):
    """Powers of two ``s`` with ``s_j**2 G_jj`` in [1, 4) (1 for a zero column).

    ``diag(s) G diag(s)`` rounds nothing that ``G`` does not, and its
    eigendecomposition does not depend on the units of the columns.
    """
    diagonal = np.diagonal(gram)
    with np.errstate(divide="ignore"):
        log2 = 0.5 * np.log2(diagonal)
    exponent = np.where(diagonal > 0, np.floor(log2), 0.0).astype(np.int64)
    return np.ldexp(1.0, -exponent)


def _nonnegative_coef(system, rhs, s):
    """Non-negative minimizer of ``u^T A u / 2 - u^T r`` for each column ``r``
    of ``rhs``, mapped back by ``w = s u``.

    ``A = V diag(mu) V^T`` makes the objective ``||M u - t||^2 / 2`` with ``M =
    diag(sqrt(mu)) V^T`` and ``t = diag(1 / sqrt(mu)) V^T r`` (up to a
    constant), which :func:`scipy.optimize.nnls` minimizes exactly; directions
    with eigenvalues at rounding level are left out.
    """
    mu, V = linalg.eigh(system, check_finite=False)
    top = max(float(mu[-1]), 0.0) if mu.size else 0.0
    keep = mu > top * mu.size * _EPS
    if not keep.any():  # no spread and no penalty: nothing to fit
        return np.zeros_like(rhs)
    root = np.sqrt(mu[keep])
    M = root[:, None] * V[:, keep].T
    targets = (V[:, keep].T @ rhs) / root[:, None]
    u = np.empty_like(rhs)
    for j in range(rhs.shape[1]):
        u[:, j] = optimize.nnls(M, targets[:, j], maxiter=50 * max(M.shape[1], 1))[0]
    return s[:, None] * u


def _restricted_coef(system, rhs, s, null):
    """Solve ``A u = r`` for ``u`` in ``{u : (s**2 null)^T u = 0}``, as ``w = s u``.

    With ``A = diag(s) (G + alpha I) diag(s)``, ``r = s * cross`` and ``s *
    null`` spanning the null space of ``G``, this is the ridge solution
    orthogonal to that null space: for ``alpha > 0`` the ridge solution
    itself (it lies in the row space of the centered rows), for ``alpha =
    0`` the minimum-norm least-squares solution.
    """
    d = system.shape[0]
    k = null.shape[1]
    if k == d:
        return np.zeros_like(rhs)
    basis = linalg.qr((s**2)[:, None] * null, mode="full")[0][:, k:]
    reduced = basis.T @ system @ basis
    try:
        c = linalg.solve(reduced, basis.T @ rhs, assume_a="pos", check_finite=False)
    except linalg.LinAlgError:
        c = linalg.lstsq(reduced, basis.T @ rhs, check_finite=False)[0]
    return s[:, None] * (basis @ c)


def _solve_exact(gram, cross, alpha, max_rank, positive=False):
    """Ridge coefficients ``(n_features, n_targets)`` from the Gram of the
    (centered, weighted) rows and their cross-products with the targets.

    The system is solved in units where the Gram has a unit diagonal. Its
    null space is left out of the solution: the directions beyond
    ``max_rank`` (the number of rows, less one if centered: more features
    than rows), and, when ``alpha`` is too small to decide them (below the
    rounding level of the Gram), those whose eigenvalues are at rounding
    level. This is what scikit-learn's solvers give: its Cholesky solve of
    the dual when there are more features than rows, its SVD (the fallback
    of a singular Cholesky solve) with the minimum-norm least-squares
    solution as ``alpha`` goes to 0. Otherwise a Cholesky solve gives the
    unique solution.

    Returns
    -------
    coef : ndarray of shape (n_features, n_targets)
    singular : bool
        Whether directions at rounding level were left out for some
        target (scikit-learn's Cholesky solve falls back to its SVD then).
    """
    d = gram.shape[0]
    s = _unit_diagonal_scales(gram)
    scaled = gram * s[:, None] * s[None, :]
    rhs = s[:, None] * cross
    coef = np.empty_like(cross)
    if positive:
        for a in np.unique(alpha):
            cols = np.flatnonzero(alpha == a)
            system = scaled.copy()
            system.flat[:: d + 1] += a * s**2
            coef[:, cols] = _nonnegative_coef(system, rhs[:, cols], s)
        return coef, False
    mu, V = linalg.eigh(scaled, check_finite=False)
    top = max(float(mu[-1]), 0.0)
    tau = top * d * _EPS
    structural = max(d - max(int(max_rank), 0), 0)
    numerical = int(np.count_nonzero(mu <= tau))
    singular = False
    for a in np.unique(alpha):
        cols = np.flatnonzero(alpha == a)
        system = scaled.copy()
        system.flat[:: d + 1] += a * s**2
        decided = a * float(np.min(s)) ** 2 > tau
        n_null = structural if decided else max(structural, numerical)
        if n_null == 0:
            try:
                u = linalg.solve(
                    system, rhs[:, cols], assume_a="pos", check_finite=False
                )
                coef[:, cols] = s[:, None] * u
                continue
            except linalg.LinAlgError:
                n_null = max(numerical, 1)
        singular |= n_null > structural
        coef[:, cols] = _restricted_coef(system, rhs[:, cols], s, V[:, :n_null])
    return coef, singular


def _ridge_fit(moments, n_features, alpha, fit_intercept, positive=False):
    """:func:`_ridge_solution`, and whether the system was singular."""
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
    singular = False
    if exponent.any():
        if positive:
            raise ValueError(
                "positive=True cannot be fitted on columns whose products leave "
                "float64's range (values beyond about 1e154 or below about "
                "1e-154): please scale X and y, e.g. with "
                "sklearn.preprocessing.StandardScaler"
            )
        coef = _solve_scaled(scatter, exponent, d, alpha).T
    else:
        gram = scatter[:d, :d]
        cross = scatter[:d, d:]
        max_rank = moments.count - int(fit_intercept)
        coef, singular = _solve_exact(gram, cross, alpha, max_rank, positive)
        coef = coef.T
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
    return coef, intercept, singular


def _ridge_solution(moments, n_features, alpha, fit_intercept, *, positive=False):
    """Coefficients ``(n_targets, n_features)`` and intercepts of the ridge
    problem whose rows ``[X, y]`` have the given moments.

    Moments scaled by powers of two (data whose products leave float64's
    range, see :attr:`~sklearn_ooc._stats.Moments.exponent`) are solved in
    scaled form: the same model as the data scaled into range would give,
    scaled back. A model that float64 cannot hold raises a ``ValueError``.
    A singular system gives the solution orthogonal to its null space (the
    minimum-norm least-squares solution when ``alpha`` is 0); ``positive``
    gives the exact non-negative solution.
    """
    coef, intercept, _ = _ridge_fit(
        moments, n_features, alpha, fit_intercept, positive=positive
    )
    return coef, intercept


def _sklearn_shapes(coef, intercept, y_tail_shape, fit_intercept, dtype=None):
    """``coef_`` and ``intercept_`` as scikit-learn's Ridge shapes them.

    One target gives a 1-D ``coef_``, and an ``intercept_`` of shape (1,) if
    ``y`` was a column, a NumPy scalar if ``y`` was 1-D; no intercept is
    ``0.0``. With ``dtype`` (X's floating dtype), both are cast to it.
    """
    if dtype is not None:
        coef = coef.astype(dtype, copy=False)
        intercept = intercept.astype(dtype, copy=False)
    coef_ = coef[0] if coef.shape[0] == 1 else coef
    if not fit_intercept:
        return coef_, 0.0
    return coef_, (intercept if y_tail_shape else intercept[0])


def _float_dtype(X):
    """The dtype scikit-learn's Ridge computes in: float32 stays, else float64."""
    dtype = getattr(X, "dtype", None)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def _sample_weight_ndim(sample_weight):
    if sample_weight is None or isinstance(sample_weight, (Real, str, os.PathLike)):
        return None
    shape = getattr(sample_weight, "shape", None)
    if shape is None:
        try:
            shape = np.shape(sample_weight)
        except Exception:  # left to the data layer, which names the problem
            return None
    return len(shape)


def _check_weight_ndim(sample_weight, X):
    """scikit-learn's error for sample weights that are not 1-D."""
    ndim = _sample_weight_ndim(sample_weight)
    if ndim is not None and ndim != 1:
        n_samples = getattr(X, "shape", (None,))[0]
        raise ValueError(
            f"Sample weights must be 1D array or scalar, got {ndim}D array. "
            "Expected either a scalar value or a 1D array of length "
            f"{n_samples}."
        )


def _record_targets(estimator, source, reset):
    """Record (``reset``) or check X's float dtype and the shape of ``y``."""
    if reset:
        estimator._X_dtype = _float_dtype(source.X)
    if source.y is None:
        return
    if reset:
        estimator._y_shape = source.y.shape[1:]
    elif _n_targets(source.y.shape[1:]) != _n_targets(estimator._y_shape):
        raise ValueError(
            f"y has {_n_targets(source.y.shape[1:])} target(s) but "
            f"{type(estimator).__name__} was fitted with "
            f"{_n_targets(estimator._y_shape)}"
        )


class TargetsMixin:
    """Regressors that record X's float dtype and the shape of ``y`` when they
    open a source (and check them on the next ones), with 1-D weights."""

    def _source(
        self, X, y=None, sample_weight=None, *, reset, batch_size=None, fitting=False
    ):
        _check_weight_ndim(sample_weight, X)
        source = super()._source(
            X, y, sample_weight, reset=reset, batch_size=batch_size, fitting=fitting
        )
        _record_targets(self, source, reset)
        return source


@register(Ridge)
class StreamingRidge(
    TargetsMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """Ridge regression fitted exactly from data read one batch at a time.

    Minimizes ``||y - Xw||^2_2 + alpha * ||w||^2_2`` as
    :class:`sklearn.linear_model.Ridge` does, from the centered weighted
    cross-products of ``[X, y]`` accumulated in a single pass and merged with
    numerically stable updates: a memory map of any size gives the model that
    ``Ridge`` gives in memory, to rounding, whatever its ``solver``.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        L2 penalty; one value per target if an array.
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are centered implicitly, never
        copied).
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified:
        batches are read into buffers of their own.
    max_iter : int, default=None
        Accepted for compatibility with scikit-learn, where it bounds the
        iterations of the iterative solvers. The normal equations are solved
        exactly here, so it does not change the model.
    tol : float, default=1e-4
        Accepted for compatibility with scikit-learn, where it is the
        stopping tolerance of the iterative solvers; every solver gives the
        exact solution here, which theirs approach to ``tol``.
    solver : {'auto', 'svd', 'cholesky', 'lsqr', 'sparse_cg', 'sag', 'saga', \
            'lbfgs'}, default='auto'
        The solver scikit-learn would use. Out of core every value solves the
        normal equations accumulated in one pass exactly (a Cholesky solve, or
        an eigendecomposition when they are singular), so all give the same
        model; the value is validated as scikit-learn validates it ('lbfgs'
        only with ``positive=True``, only 'auto' or 'lbfgs' with
        ``positive=True``, 'svd', 'cholesky' and 'saga' not with sparse ``X``
        and ``fit_intercept=True``) and reported by ``solver_``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative. The exact non-negative
        minimizer is computed from the accumulated normal equations (an
        active-set solve, :func:`scipy.optimize.nnls`), where scikit-learn
        approaches it with L-BFGS-B.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility with scikit-learn, where it shuffles the
        rows for 'sag' and 'saga'; the exact solve here uses no randomness.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows. Sparse ``X``
        is densified one batch at a time.
    n_jobs : int, default=None
        Threads summarizing batches in parallel (BLAS runs single-threaded
        inside each). ``None`` means 1, ``-1`` all cores. The result is
        bitwise the same for every value.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weight vector(s); 1-D for a single target, as in scikit-learn. Of X's
        dtype (float32 stays float32, as in scikit-learn).
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term (an array if ``y`` is 2-D); ``0.0`` if
        ``fit_intercept=False``.
    n_iter_ : ndarray of shape (n_targets,)
        Ones: the exact solve takes one pass over the data, whatever the
        solver. (scikit-learn counts the iterations of 'sag', 'saga' and
        'lsqr', and sets ``None`` for the other solvers.)
    solver_ : str
        The solver scikit-learn would report: 'auto' resolved as scikit-learn
        resolves it ('cholesky' for dense ``X``, 'sparse_cg' for sparse ``X``,
        'lbfgs' with ``positive=True``), and 'svd' when a 'cholesky' system
        was singular.
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
    n_targets)^2`` floats, whatever the number of rows. float32 rows are
    multiplied in float32, as scikit-learn's Ridge multiplies them (at twice
    the float64 rate), but a chunk of rows at a time, about a shift near
    their mean, with the sums and merges in float64: the fit is within
    float32's rounding (1e-5 relative) of the float64 fit of the same values,
    and closer to it than scikit-learn's (see :ref:`exact`).

    A singular system (more features than rows, collinear columns with
    ``alpha`` near 0) gives the solution orthogonal to the null space of the
    centered rows, as scikit-learn's Cholesky solve of the dual and its SVD
    do: the minimum-norm least-squares solution as ``alpha`` goes to 0.

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
    >>> model.coef_.round(4), float(model.intercept_.round(4))
    (array([1., 2., 3.]), 0.5)
    """

    _requires_y = True

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "solver": [
            StrOptions(
                {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"}
            )
        ],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=None,
        tol=1e-4,
        solver="auto",
        positive=False,
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # scikit-learn's rule: sparse X is refused by these solvers.
        tags.input_tags.sparse = self.solver != "svd" and (
            self.solver != "cholesky" or not self.fit_intercept
        )
        return tags

    def _prepare(self, source, fresh):
        self._solver = self._resolve_solver(sp.issparse(source.X))

    def _resolve_solver(self, sparse):
        """The solver scikit-learn's Ridge would use, with its errors."""
        if self.solver == "lbfgs" and not self.positive:
            raise ValueError(
                "'lbfgs' solver can be used only when positive=True. "
                "Please use another solver."
            )
        if self.positive:
            if self.solver not in ("auto", "lbfgs"):
                raise ValueError(
                    f"solver='{self.solver}' does not support positive fitting. "
                    "Please set the solver to 'auto' or 'lbfgs', or set "
                    "`positive=False`"
                )
            return "lbfgs"
        if sparse and self.fit_intercept:
            if self.solver not in ("auto", "lbfgs", "lsqr", "sag", "sparse_cg"):
                raise ValueError(
                    f"solver='{self.solver}' does not support fitting the intercept "
                    "on sparse data. Please set the solver to 'auto' or 'lsqr', "
                    "'sparse_cg', 'sag', 'lbfgs' or set `fit_intercept=False`"
                )
            if self.solver == "lsqr":
                return self.solver
            if self.solver == "sag" and self.max_iter is None and self.tol > 1e-4:
                # scikit-learn's advice, kept so that code written for it
                # behaves the same; the solve here is exact whatever tol.
                warnings.warn(
                    '"sag" solver requires many iterations to fit '
                    "an intercept with sparse inputs. Either set the "
                    'solver to "auto" or "sparse_cg", or set a low '
                    '"tol" and a high "max_iter" (especially if inputs are '
                    "not standardized).",
                    stacklevel=5,
                )
                return "sag"
            # scikit-learn fits the other solvers' intercept with sparse_cg.
            return "sparse_cg"
        if self.solver == "svd" and sparse:
            raise TypeError("SVD solver does not support sparse inputs currently")
        if self.solver == "auto":
            return "sparse_cg" if sparse else "cholesky"
        return self.solver

    _summaries_reveal_nonfinite = True

    def _summarize(self, batch):
        y = batch.y.reshape(batch.n_samples, -1)
        # As scikit-learn's Ridge, float32 rows are multiplied in float32.
        return moments_of_rows(
            batch.X, y, batch.sample_weight, batch.workspace, rescale=True, single=True
        )

    def _from_summaries(self, stats):
        d = self.n_features_in_
        n_targets = stats.mean.shape[0] - d
        alpha = _penalties(self.alpha, n_targets)
        coef, intercept, singular = _ridge_fit(
            stats, d, alpha, self.fit_intercept, positive=self.positive
        )
        self.coef_, self.intercept_ = _sklearn_shapes(
            coef,
            intercept,
            self._y_shape,
            self.fit_intercept,
            getattr(self, "_X_dtype", None),
        )
        solver = getattr(self, "_solver", None) or self._resolve_solver(False)
        if solver == "cholesky" and singular and d <= stats.count:
            solver = "svd"
        self.solver_ = solver
        self.n_iter_ = np.ones(n_targets, dtype=np.int32)
        self.n_samples_seen_ = int(stats.count)

    def _predict_batch(self, X):
        return X @ self.coef_.T + self.intercept_
