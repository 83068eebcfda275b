"""Linear and quadratic discriminant analysis from per-class statistics."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from scipy.special import expit, softmax
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
)
from sklearn.covariance import OAS, EmpiricalCovariance, LedoitWolf, ShrunkCovariance
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import (
    GroupedMoments,
    RootMoments,
    _merged_mean,
    _two_sum,
    common_exponent,
    largest_positive,
    moments_of_rows,
    needed_exponent,
)
from ..base import (
    ClosedFormMixin,
    CounterpartFeaturesOutMixin,
    StreamingClassifierMixin,
)

_TINY = np.finfo(np.float64).tiny


def _rescaled_moments(rows, workspace=None):
    # Scaled by powers of two where the rows' products leave float64's range.
    return moments_of_rows(rows, workspace=workspace, rescale=True)


def _scale_rows(values, exponent):
    """``values[j] * 2**exponent[j]`` (rows of a matrix, or a vector)."""
    if not exponent.any():
        return values
    return np.ldexp(values, exponent if values.ndim == 1 else exponent[:, None])


def _unscaled_covariance(covariance, exponent):
    """The covariance in the units of X, or a ``ValueError`` saying which
    features' variances float64 cannot hold."""
    if not exponent.any():
        return covariance
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(covariance, exponent[:, None] + exponent[None, :])
    over = ~np.isfinite(out).all(axis=1)
    under = (np.diagonal(covariance) > 0) & (np.diagonal(out) < _TINY)
    if over.any() or under.any():
        which = "exceed" if over.any() else "fall below"
        raise ValueError(
            "The within-class variances of feature(s) "
            f"{np.flatnonzero(over | under).tolist()} {which} float64's range "
            "(2.2e-308 to 1.8e308): covariance_ cannot be represented. Please "
            "scale X, e.g. with sklearn.preprocessing.StandardScaler."
        )
    return out


def _squares_over(values, count):
    """``values**2 / count``, finite wherever the quotient is representable.

    Squared as they are, singular values beyond about 1e154 overflow; scaled
    into range by a power of two first, they round as they would unscaled.
    """
    top = values.max(initial=0.0)
    scale = int(needed_exponent(np.log2(top))) if top > 0 else 0
    if not scale:
        return values**2 / count
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(np.ldexp(values, -scale) ** 2 / count, 2 * scale)


def _check_finite_model(coef, intercept):
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ValueError(
            "The coefficients or intercepts exceed float64's range (1.8e308): "
            "the classes are too close for the scale of X. Please scale X, "
            "e.g. with sklearn.preprocessing.StandardScaler."
        )


def _shrunk(covariance, shrinkage):
    """``(1 - s) C + s trace(C) / d I``, scikit-learn's shrunk covariance."""
    if not shrinkage:
        return covariance
    d = covariance.shape[0]
    out = (1.0 - shrinkage) * covariance
    out.flat[:: d + 1] += shrinkage * np.trace(covariance) / d
    return out


# The covariance estimators of sklearn.covariance whose estimate is a closed
# form of streamed statistics (count, mean, scatter and, for Ledoit-Wolf, the
# fourth moments): the others need the rows themselves.
_STREAMABLE_ESTIMATORS = (EmpiricalCovariance, ShrunkCovariance, LedoitWolf, OAS)


def _check_covariance_options(model, svd_error):
    """scikit-learn's errors for the combinations of ``solver``,
    ``shrinkage`` and ``covariance_estimator``, raised before any row is
    read; and ours for an estimator that cannot be fitted out of core."""
    estimator = model.covariance_estimator
    if model.solver == "svd":
        if model.shrinkage is not None:
            raise NotImplementedError("shrinkage not supported with 'svd' solver.")
        if estimator is not None:
            raise ValueError(svd_error)
        return
    if estimator is None:
        return
    if model.shrinkage is not None and model.shrinkage != 0:
        raise ValueError(
            "covariance_estimator and shrinkage parameters are not None. Only one "
            "of the two can be set."
        )
    if type(estimator) not in _STREAMABLE_ESTIMATORS:
        raise ValueError(
            f"covariance_estimator={estimator!r} cannot be fitted out of core: it "
            "needs each class's rows in memory. Use shrinkage (a float or 'auto') "
            "or one of sklearn.covariance's EmpiricalCovariance, ShrunkCovariance, "
            "LedoitWolf or OAS, which are computed exactly from streamed statistics."
        )
    # Its parameters are read, not fitted: checked as its fit would.
    estimator._validate_params()


def _covariance_spec(shrinkage, estimator):
    """``(kind, assume_centered, shrinkage)`` of the covariance estimate:
    ``kind`` is "empirical" (shrunk by a fixed amount), "ledoit_wolf",
    "standardized_ledoit_wolf" (``shrinkage='auto'``) or "oas"."""
    if estimator is None:
        if isinstance(shrinkage, str):
            return ("standardized_ledoit_wolf", False, None)
        return ("empirical", False, shrinkage or 0.0)
    centered = bool(estimator.assume_centered)
    if isinstance(estimator, ShrunkCovariance):
        return ("empirical", centered, estimator.shrinkage)
    if isinstance(estimator, LedoitWolf):
        return ("ledoit_wolf", centered, None)
    if isinstance(estimator, OAS):
        return ("oas", centered, None)
    return ("empirical", centered, 0.0)


def _needs_fourth_moments(spec):
    return spec[0] in ("ledoit_wolf", "standardized_ledoit_wolf")


@dataclass
class _FourthMoments:
    """Count, mean and the centered sums ``sum u_j u_k``, ``sum u_j^2 u_k`` and
    ``sum u_j^2 u_k^2`` (``u`` the rows less their mean) of a set of rows.

    The Ledoit-Wolf shrinkage needs ``sum_i ||u_i||^4`` about the final mean
    (or about the origin), weighted by the final standard deviations for
    ``shrinkage='auto'``: the matrix of ``sum u_j^2 u_k^2`` gives it for any
    weights, and moves to another center with the lower sums (Pebay's
    formulas), so that sets merge exactly as the scatter does (Chan's).
    """

    count: int
    mean: np.ndarray
    mean_error: np.ndarray
    s11: np.ndarray
    s21: np.ndarray
    s22: np.ndarray

    @classmethod
    def of_rows(cls, X):
        n, d = X.shape
        if n == 0:
            zero = np.zeros((d, d))
            return cls(0, np.zeros(d), np.zeros(d), zero, zero.copy(), zero.copy())
        shift = np.asarray(X[0], dtype=np.float64)
        rows = np.subtract(X, shift, dtype=np.float64)
        # Centered twice: the second mean removes the rounding of the first.
        delta = rows.mean(axis=0)
        rows -= delta
        again = rows.mean(axis=0)
        rows -= again
        mean, mean_error = _two_sum(shift, delta + again)
        squares = rows * rows
        return cls(
            n, mean, mean_error, rows.T @ rows, squares.T @ rows, squares.T @ squares
        )

    def about(self, shift):
        """The three sums of the rows less ``mean + shift`` instead of ``mean``."""
        c, d = self.count, shift
        s11, s21, s22 = self.s11, self.s21, self.s22
        s2 = np.diagonal(s11)
        dd = d * d
        outer = d[:, None] * d[None, :]
        t11 = s11 + c * outer
        t21 = s21 - s2[:, None] * d[None, :] - 2 * d[:, None] * s11
        t21 -= c * dd[:, None] * d[None, :]
        t22 = s22 - 2 * (d[None, :] * s21 + d[:, None] * s21.T)
        t22 += dd[None, :] * s2[:, None] + dd[:, None] * s2[None, :]
        t22 += 4 * outer * s11 + c * dd[:, None] * dd[None, :]
        return t11, t21, t22

    def __add__(self, other):
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = (other.mean - self.mean) + (other.mean_error - self.mean_error)
        share = other.count / n
        mean, mean_error = _merged_mean(self, other, delta, 1.0 - share, share)
        a = self.about(share * delta)
        b = other.about(-(1.0 - share) * delta)
        return _FourthMoments(
            n, mean, mean_error, a[0] + b[0], a[1] + b[1], a[2] + b[2]
        )


@dataclass
class _ClassSummary:
    """The statistics of a class's rows, and their fourth moments."""

    moments: object
    fourth: _FourthMoments

    def __add__(self, other):
        return _ClassSummary(self.moments + other.moments, self.fourth + other.fourth)

    def is_finite(self):
        """Whether the class's moments (or root) are finite: every row of
        the class enters their mean."""
        return self.moments.is_finite()


def _exact_mean(m):
    return m.mean + m.mean_error


def _ledoit_wolf(count, s11, s22):
    """scikit-learn's Ledoit-Wolf estimate of centered rows ``X`` from
    ``s11 = X.T X`` and ``s22 = (X**2).T X**2`` (``ledoit_wolf_shrinkage`` in
    one block: ``beta_`` is the sum of ``s22``)."""
    d = s11.shape[0]
    emp = s11 / count
    if d == 1:
        return emp
    trace = np.diagonal(s11) / count
    mu = np.sum(trace) / d
    delta_ = np.sum(s11**2) / count**2
    beta = 1.0 / (d * count) * (np.sum(s22) / count - delta_)
    delta = (delta_ - 2.0 * mu * trace.sum() + d * mu**2) / d
    beta = min(beta, delta)
    shrinkage = 0 if beta == 0 else beta / delta
    return _shrunk(emp, shrinkage)


def _oas(count, emp):
    """scikit-learn's OAS estimate from the empirical covariance."""
    d = emp.shape[0]
    if d == 1:
        return emp
    alpha = np.mean(emp**2)
    mu = np.trace(emp) / d
    num = alpha + mu**2
    den = (count + 1) * (alpha - mu**2 / d)
    shrinkage = 1.0 if den == 0 else min(num / den, 1.0)
    return _shrunk(emp, shrinkage)


def _check_fourth(fourth):
    if not all(np.all(np.isfinite(s)) for s in (fourth.s11, fourth.s21, fourth.s22)):
        raise ValueError(
            "The fourth moments of X exceed float64's range (values beyond about "
            "1e77 from their class mean): the Ledoit-Wolf shrinkage cannot be "
            "computed. Please scale X, e.g. with sklearn.preprocessing.StandardScaler."
        )


def _estimated_covariance(spec, moments, fourth):
    """The covariance of one set of rows (a class, or all) estimated as
    ``spec`` says, in the units of X, from its statistics."""
    kind, centered, shrinkage = spec
    count = moments.count
    mean = _exact_mean(moments)
    if kind in ("ledoit_wolf", "standardized_ledoit_wolf"):
        _check_fourth(fourth)
        if centered:
            s11, _, s22 = fourth.about(-_exact_mean(fourth))
        else:
            s11, s22 = fourth.s11, fourth.s22
        if kind == "ledoit_wolf":
            return _ledoit_wolf(count, s11, s22)
        # StandardScaler, then ledoit_wolf, then back to the units of X.
        var = np.diagonal(s11) / count
        scale = np.sqrt(var)
        eps = np.finfo(np.float64).eps
        scale[var <= count * eps * var + (count * mean * eps) ** 2] = 1.0
        shrunk = _ledoit_wolf(
            count, s11 / np.outer(scale, scale), s22 / np.outer(scale**2, scale**2)
        )
        return scale[:, None] * shrunk * scale[None, :]
    emp = moments.covariance()
    if centered:
        emp = emp + np.outer(mean, mean)
    if kind == "oas":
        return _oas(count, emp)
    return _shrunk(emp, shrinkage)


class _DiscriminantBase(
    StreamingClassifierMixin, ClassifierMixin, ClosedFormMixin, BaseEstimator
):
    """One pass gathering the count, mean and scatter of every class."""

    _y_numeric = False
    _single_target = True
    _requires_y = True
    _svd_error = ""
    # Each class's moments or root: its mean shows a NaN or an infinity.
    _summaries_reveal_nonfinite = True

    def fit(self, X, y, *, batch_size=None):
        """Fit from one pass over ``X`` and ``y``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        batch_size : int or "auto", default=None
            Rows per batch for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, batch_size=batch_size)

    def partial_fit(self, X, y, classes=None):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like, default=None
            Accepted for scikit-learn's ``partial_fit`` signature; the classes
            are those of the rows seen.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X, y)

    def summarize(self, X, y):
        """Accumulate per-class statistics without changing the model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
        """
        return super().summarize(X, y)

    def _prepare(self, source, fresh):
        _check_covariance_options(self, self._svd_error)
        kind = self._summary_kind()
        if fresh:
            # scikit-learn keeps float32 rows in float32; ours are summed in
            # float64 and the attributes cast to its dtypes.
            dtype = getattr(source.X, "dtype", None)
            self._input_dtype = np.float32 if dtype == np.float32 else np.float64
            self._fitted_kind = kind
        elif kind != getattr(self, "_fitted_kind", kind):
            raise ValueError(
                "The statistics gathered so far do not fit the current solver, "
                "shrinkage or covariance_estimator (which need other statistics "
                "of the rows): call fit, or set them back."
            )

    def _summary_kind(self):
        return (
            self._rows_summary().__qualname__,
            self.solver != "svd" and _needs_fourth_moments(self._covariance_spec()),
        )

    def _covariance_spec(self):
        return _covariance_spec(self.shrinkage, self.covariance_estimator)

    def _rows_summary(self):
        """The statistic of a class's rows in a batch (a function of them)."""
        raise NotImplementedError

    def _summarize(self, batch):
        of_rows = self._rows_summary()
        if self._summary_kind()[1]:
            plain = of_rows

            def of_rows(rows, workspace=None):
                return _ClassSummary(
                    plain(rows, workspace=workspace), _FourthMoments.of_rows(rows)
                )

        return GroupedMoments.of_batch(
            batch.X, batch.y, batch.workspace, of_rows=of_rows
        )

    def _priors(self, counts):
        raise NotImplementedError

    def _class_statistics(self, stats):
        classes = np.array(sorted(stats.groups))
        kind = type_of_target(classes)
        if kind.startswith("continuous"):
            raise ValueError(f"Unknown label type: {kind}")
        if len(classes) < 2:
            raise ValueError(
                "The number of classes has to be greater than one. Got "
                f"{len(classes)} class."
            )
        summaries = [stats.groups[c] for c in classes.tolist()]
        fourths = None
        if isinstance(summaries[0], _ClassSummary):
            fourths = [s.fourth for s in summaries]
            summaries = [s.moments for s in summaries]
        moments = summaries
        counts = np.array([m.count for m in moments], dtype=np.float64)
        self.classes_ = classes
        self._priors(counts)
        self.means_ = np.array([m.mean for m in moments])
        return moments, fourths, counts

    def _decision(self, X):
        raise NotImplementedError

    def _scores(self, X):
        return self._decision(X)

    def _predict_batch(self, X):
        return self.classes_[np.argmax(self._decision(X), axis=1)]

    def decision_function(self, X):
        """Decision values, streamed; 1-D for two classes.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._map_rows(
            X, lambda b: self._as_output(self._binary(self._scores(b.X)), b.X)
        )

    def predict_proba(self, X):
        """Class probabilities, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._map_rows(
            X, lambda b: self._as_output(self._proba(self._decision(b.X)), b.X)
        )

    def _as_output(self, values, X):
        return values


class _Float32Output:
    """Outputs in scikit-learn's dtype: that of X and of the coefficients."""

    def _as_output(self, values, X):
        return values.astype(np.result_type(X.dtype, self.coef_.dtype), copy=False)


@register(LinearDiscriminantAnalysis)
class OOCLinearDiscriminantAnalysis(
    CounterpartFeaturesOutMixin, _Float32Output, TransformerMixin, _DiscriminantBase
):
    """Linear discriminant analysis from one pass of per-class statistics.

    The counts, means and scatter of every class are gathered in one pass and
    merged stably; the model is then scikit-learn's
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` on
    those statistics: the same coefficients, to rounding, for every solver.

    Parameters
    ----------
    solver : {'svd', 'lsqr', 'eigen'}, default='svd'
        ``'svd'``: scikit-learn's SVD of the within-class centered, scaled
        rows, computed here from the triangular factor of each class's
        centered rows (merged batch by batch: an SVD as accurate as that of
        the rows, without them). ``'lsqr'``: least squares on the
        within-class covariance. ``'eigen'``: the generalized eigenproblem.
        ``'lsqr'`` and ``'eigen'`` take ``shrinkage`` or
        ``covariance_estimator``.
    shrinkage : 'auto', float in [0, 1] or None, default=None
        Shrinkage of the class covariances (``'lsqr'`` and ``'eigen'``).
        ``'auto'``: the Ledoit-Wolf shrinkage of the standardized rows of
        each class, computed exactly in the same pass from their fourth
        moments.
    priors : array-like of shape (n_classes,), default=None
        Class priors; the class proportions if ``None``. Renormalized, with a
        warning, if they do not sum to 1.
    n_components : int, default=None
        Dimensions of ``transform`` (at most ``min(n_classes - 1,
        n_features)``, the default).
    store_covariance : bool, default=False
        Whether the ``'svd'`` solver also sets ``covariance_`` (the other
        solvers always do).
    tol : float, default=1e-4
        Singular values of the scaled within-class rows at or below ``tol``
        are discarded (``'svd'`` solver), as are those of the class centers
        below ``tol`` times the largest.
    covariance_estimator : estimator, default=None
        Estimator of the class covariances (``'lsqr'`` and ``'eigen'``), in
        place of ``shrinkage``. Out of core, the ones computed exactly from
        streamed statistics: :class:`~sklearn.covariance.EmpiricalCovariance`,
        :class:`~sklearn.covariance.ShrunkCovariance`,
        :class:`~sklearn.covariance.LedoitWolf` and
        :class:`~sklearn.covariance.OAS`, with their parameters; any other
        raises a ``ValueError`` at ``fit``.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights (one row for two classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    covariance_ : ndarray of shape (n_features, n_features)
        Prior-weighted within-class covariance (``'svd'``: only with
        ``store_covariance``).
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Variance explained by each discriminant (``'svd'`` and ``'eigen'``).
    means_ : ndarray of shape (n_classes, n_features)
        Class means.
    priors_ : ndarray of shape (n_classes,)
        Class priors.
    scalings_ : ndarray
        Discriminant directions (``'svd'`` and ``'eigen'``), each signed so
        that its entry of largest magnitude is positive (scikit-learn keeps
        the signs its LAPACK returns).
    xbar_ : ndarray of shape (n_features,)
        Prior-weighted mean of the class means (``'svd'``).
    classes_ : ndarray of shape (n_classes,)
        Labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.discriminant_analysis import OOCLinearDiscriminantAnalysis
    >>> X = np.array([[-1.0, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> OOCLinearDiscriminantAnalysis(batch_size=2).fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"svd", "lsqr", "eigen"})],
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both"), None],
        "priors": ["array-like", None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "store_covariance": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "covariance_estimator": [HasMethods("fit"), None],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    _svd_error = (
        "covariance estimator is not supported with svd solver. Try another solver"
    )

    def __init__(
        self,
        solver="svd",
        shrinkage=None,
        priors=None,
        n_components=None,
        store_covariance=False,
        tol=1e-4,
        covariance_estimator=None,
        *,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.solver = solver
        self.shrinkage = shrinkage
        self.priors = priors
        self.n_components = n_components
        self.store_covariance = store_covariance
        self.tol = tol
        self.covariance_estimator = covariance_estimator
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _rows_summary(self):
        if self.solver == "svd":
            return RootMoments.of_rows
        return _rescaled_moments

    def _priors(self, counts):
        n_samples = counts.sum()
        if n_samples == len(counts):
            raise ValueError(
                "The number of samples must be more than the number of classes."
            )
        if self.priors is None:
            priors = counts / n_samples
        else:
            priors = np.asarray(self.priors, dtype=np.float64)
            if priors.shape != counts.shape:
                raise ValueError(
                    f"priors has {priors.size} values for {counts.size} classes"
                )
        if np.any(priors < 0):
            raise ValueError("priors must be non-negative")
        if abs(priors.sum() - 1.0) > 1e-5:
            warnings.warn(
                "The priors do not sum to 1. Renormalizing", UserWarning, stacklevel=2
            )
            priors = priors / priors.sum()
        self.priors_ = priors

    def _from_summaries(self, stats):
        for name in ("covariance_", "xbar_", "scalings_", "explained_variance_ratio_"):
            self.__dict__.pop(name, None)
        moments, fourths, counts = self._class_statistics(stats)
        n_features = self.means_.shape[1]
        max_components = min(len(self.classes_) - 1, n_features)
        if self.n_components is not None and self.n_components > max_components:
            raise ValueError(
                "n_components cannot be larger than min(n_features, n_classes - 1)."
            )
        self._max_components = (
            max_components if self.n_components is None else self.n_components
        )
        if self.solver == "svd":
            coef, local, center, common = self._solve_svd(moments, counts)
        else:
            coef, local, center, common = self._solve_covariance(
                moments, fourths, counts
            )
        # scikit-learn's intercept_k = local_k - c coef_k: decisions are taken
        # about the center c (see _decision), where they lose no digits; the
        # parts common to all classes (a multiclass 'lsqr' or 'eigen' model
        # far from the origin has large ones) are kept apart: they change
        # decision_function, not the probabilities.
        if len(self.classes_) == 2:
            coef = (coef[1] - coef[0])[None, :]
            local = np.array([local[1] - local[0]])
            common = None
        self._coef, self._local_intercept, self._center = coef, local, center
        self._common = common
        if common is not None:
            coef = coef + common[0]
            local = local + common[1]
        intercept = local - coef @ center
        _check_finite_model(coef, intercept)
        self._coef_full, self._intercept = coef, intercept
        if self.solver != "lsqr":
            xbar = self.xbar_ if self.solver == "svd" else None
            self._projection = (self.scalings_, xbar)
        self._n_features_out = self._max_components
        self._cast_attributes()

    def _cast_attributes(self):
        # scikit-learn's dtypes for float32 rows: those of its computations.
        low = self._input_dtype
        binary = len(self.classes_) == 2
        self.means_ = self.means_.astype(low)
        self.priors_ = self.priors_.astype(low)
        model = low if (self.solver == "svd" or binary) else np.float64
        self.coef_ = self._coef_full.astype(model)
        self.intercept_ = self._intercept.astype(model)
        if self.solver == "svd":
            self.xbar_ = self.xbar_.astype(low)
            self.scalings_ = self.scalings_.astype(low)
            self.explained_variance_ratio_ = self.explained_variance_ratio_.astype(low)

    def _solve_svd(self, moments, counts):
        """scikit-learn's ``_solve_svd``, its SVD of the within-class centered
        rows (scaled by their standard deviations) taken from the stacked
        triangular factors of the classes' centered rows: the same singular
        values and right singular vectors."""
        n_samples = counts.sum()
        n_classes = len(self.classes_)
        if self.store_covariance:
            self.covariance_ = sum(
                p * m.covariance() for p, m in zip(self.priors_, moments, strict=True)
            )
        within = np.linalg.qr(np.vstack([m.root for m in moments]), mode="r")
        # Column by column within range: rows beyond 1e154 (or below 1e-154)
        # would overflow (or underflow) as squares.
        top = np.abs(within).max(axis=0, initial=0.0)
        top[top == 0] = 1.0
        std = top * np.sqrt(np.sum((within / top) ** 2, axis=0) / n_samples)
        std[std == 0] = 1.0
        _, S, Vt = linalg.svd(within / std / np.sqrt(n_samples), full_matrices=False)
        rank = int(np.sum(S > self.tol))
        scalings = (Vt[:rank, :] / std).T / S[:rank]
        fac = 1.0 / (n_classes - 1)
        means = np.array([_exact_mean(m) for m in moments])
        xbar = self.priors_ @ means
        # The centers' offsets from xbar, each one rounding away from exact.
        deltas = means - xbar
        between = (np.sqrt(n_samples * self.priors_ * fac)[:, None] * deltas) @ scalings
        _, S, Vt = linalg.svd(between, full_matrices=False)
        if self._max_components == 0:
            self.explained_variance_ratio_ = np.empty((0,), dtype=S.dtype)
        else:
            self.explained_variance_ratio_ = (S**2 / np.sum(S**2))[
                : self._max_components
            ]
        rank = int(np.sum(S > self.tol * S[0]))
        self.scalings_ = largest_positive((scalings @ Vt.T[:, :rank]).T).T
        self.xbar_ = xbar
        projected = deltas @ self.scalings_
        local = -0.5 * np.sum(projected**2, axis=1) + np.log(self.priors_)
        return projected @ self.scalings_.T, local, xbar, None

    def _solve_covariance(self, moments, fourths, counts):
        """scikit-learn's ``'lsqr'`` and ``'eigen'`` solvers on the (shrunk or
        estimated) covariances of the classes."""
        spec = self._covariance_spec()
        plain = spec[0] == "empirical" and not spec[1]
        shrinkage = spec[2] if plain else None
        total = total_fourth = None
        if self.solver == "eigen":
            total = moments[0].copy()
            for m in moments[1:]:
                total += m
            if fourths is not None:
                total_fourth = fourths[0]
                for f in fourths[1:]:
                    total_fourth = total_fourth + f
        if plain:
            # Features whose products leave float64's range are scaled by
            # powers of two, exactly: the covariance C is T C' T, T =
            # diag(2**exponent). The shrinkage target mixes the features'
            # scales: one for all then.
            exponent = common_exponent(
                moments + ([total] if total is not None else []),
                uniform=bool(shrinkage),
            )
            covariances = [
                _shrunk(m.scatter_at(exponent) / c, shrinkage)
                for m, c in zip(moments, counts, strict=True)
            ]
            if total is not None:
                total_cov = _shrunk(total.scatter_at(exponent) / total.count, shrinkage)
        else:
            exponent = np.zeros(self.means_.shape[1], dtype=np.int64)
            fourths = fourths or [None] * len(moments)
            covariances = [
                _estimated_covariance(spec, m, f)
                for m, f in zip(moments, fourths, strict=True)
            ]
            if total is not None:
                total_cov = _estimated_covariance(spec, total, total_fourth)
        covariance = sum(p * c for p, c in zip(self.priors_, covariances, strict=True))
        if not np.all(np.isfinite(covariance)):
            raise ValueError(
                "The within-class covariance exceeds float64's range: please scale "
                "X, e.g. with sklearn.preprocessing.StandardScaler."
            )
        self.covariance_ = _unscaled_covariance(covariance, exponent)
        # coef_k = A mu_k (A the inverse covariance, or the projection on the
        # discriminant axes) and intercept_k = -mu_k A mu_k / 2 + log p_k are
        # taken about the data mean c: with mu_k = c + delta_k, the parts
        # c A c and A c common to all classes stay apart, so data far from
        # the origin lose no digits to them (and two classes none at all).
        # The means' rounding errors join the differences: far from the
        # origin, means rounded to float64 would blur the classes' offsets.
        center = counts @ self.means_ / counts.sum()
        deltas = np.array([(m.mean - center) + m.mean_error for m in moments])
        if self.solver == "lsqr":
            # C x = b is C' (T x) = T^-1 b.
            rhs = _scale_rows(np.column_stack([deltas.T, center]), -exponent)
            solved = _scale_rows(linalg.lstsq(covariance, rhs)[0], -exponent)
            coef_deltas, coef_center = solved[:, :-1].T, solved[:, -1]
        else:
            # The same eigenvalues; an eigenvector v of C' is T v of C.
            evals, evecs = linalg.eigh(total_cov - covariance, covariance)
            self.explained_variance_ratio_ = np.sort(evals / np.sum(evals))[::-1][
                : self._max_components
            ]
            evecs = evecs[:, np.argsort(evals)[::-1]]
            scalings = _scale_rows(evecs, -exponent)
            signed = largest_positive(scalings.T).T
            signs = np.where(np.all(signed == scalings, axis=0), 1.0, -1.0)
            evecs = evecs * signs
            self.scalings_ = signed
            # deltas @ scalings is (T^-1 deltas) @ evecs: no overflow between.
            coef_deltas = (_scale_rows(deltas.T, -exponent).T @ evecs) @ signed.T
            coef_center = (_scale_rows(center, -exponent) @ evecs) @ signed.T
        # decision_k(x) = (x - c) coef_k + local_k, local_k = intercept_k +
        # c coef_k, coef_k = coef_deltas_k + coef_center.
        # The parts common to all classes: coef_center and c coef_center / 2.
        local = np.log(self.priors_) - 0.5 * np.einsum("kj,kj->k", deltas, coef_deltas)
        return coef_deltas, local, center, (coef_center, 0.5 * center @ coef_center)

    def _decision(self, X, common=False):
        # About the center, the products stay the size of the data's spread.
        centered = X - self._center
        scores = centered @ self._coef.T + self._local_intercept
        if scores.shape[1] == 1:
            return np.column_stack([np.zeros(len(X)), scores[:, 0]])
        if common and self._common is not None:
            scores += (centered @ self._common[0] + self._common[1])[:, None]
        return scores

    def _scores(self, X):
        return self._decision(X, common=True)

    def _binary(self, scores):
        return scores[:, 1] if len(self.classes_) == 2 else scores

    def _proba(self, scores):
        if len(self.classes_) == 2:
            p = expit(scores[:, 1])
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba` (zeros lifted to the smallest
        normal number, as scikit-learn).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        proba = self.predict_proba(X)
        proba[proba == 0.0] += np.finfo(proba.dtype).smallest_normal
        return np.log(proba)

    def transform(self, X):
        """Project on the discriminant directions, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            (``'svd'``: at most as many columns as discriminant directions.)
        """
        if self.solver == "lsqr":
            raise NotImplementedError(
                "transform not implemented for 'lsqr' solver (use 'svd' or 'eigen')."
            )
        check_is_fitted(self)
        scalings, xbar = self._projection
        scalings = scalings[:, : self._max_components]
        dtype = self.scalings_.dtype

        def project(batch):
            rows = batch.X if xbar is None else batch.X - xbar
            out = rows @ scalings
            return out.astype(np.result_type(batch.X.dtype, dtype), copy=False)

        return self._map_rows(X, project, desc="transform")

    def fit_transform(self, X, y, **fit_params):
        """Fit, then project ``X`` (a second, streamed pass).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : array-like of shape (n_samples,)
            Labels.
        **fit_params : dict
            ``batch_size`` for the fit.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, y, **fit_params).transform(X)


def _variance_overflow(label):
    return ValueError(
        f"The variances of class {label} exceed float64's range (1.8e308; "
        "values beyond about 1e154 in magnitude): its covariance cannot be "
        "represented. Please scale X, e.g. with "
        "sklearn.preprocessing.StandardScaler."
    )


@register(QuadraticDiscriminantAnalysis)
class OOCQuadraticDiscriminantAnalysis(_DiscriminantBase):
    """Quadratic discriminant analysis from one pass of per-class statistics.

    Each class's covariance comes from its merged statistics; the singular
    values and vectors of the triangular factor of its centered rows are
    those that :class:`~sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis`
    gets from an SVD of the rows (``solver='svd'``), and the
    eigen-decomposition of its (shrunk or estimated) covariance those of
    ``solver='eigen'``: the same decisions and probabilities, to rounding.

    Parameters
    ----------
    solver : {'svd', 'eigen'}, default='svd'
        ``'svd'`` regularizes the scalings with ``reg_param``; ``'eigen'``
        takes ``shrinkage`` or ``covariance_estimator``.
    shrinkage : 'auto', float in [0, 1] or None, default=None
        Shrinkage of the class covariances (``'eigen'``). ``'auto'``: the
        Ledoit-Wolf shrinkage of each class's standardized rows, computed
        exactly in the same pass from their fourth moments.
    priors : array-like of shape (n_classes,), default=None
        Class priors; the class proportions if ``None``.
    reg_param : float in [0, 1], default=0.0
        Regularization of the svd solver's scalings.
    store_covariance : bool, default=False
        Whether to keep ``covariance_``.
    tol : float, default=1e-4
        Scalings at or below this make a class's covariance rank deficient
        (an error).
    covariance_estimator : estimator, default=None
        Estimator of the class covariances (``'eigen'``), in place of
        ``shrinkage``. Out of core, the ones computed exactly from streamed
        statistics: :class:`~sklearn.covariance.EmpiricalCovariance`,
        :class:`~sklearn.covariance.ShrunkCovariance`,
        :class:`~sklearn.covariance.LedoitWolf` and
        :class:`~sklearn.covariance.OAS`, with their parameters; any other
        raises a ``ValueError`` at ``fit``.
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    means_ : ndarray of shape (n_classes, n_features)
        Class means.
    priors_ : ndarray of shape (n_classes,)
        Class priors.
    rotations_ : list of ndarray
        Eigenvectors of every class's covariance, each signed so that its
        entry of largest magnitude is positive.
    scalings_ : list of ndarray
        Its eigenvalues, by decreasing size.
    covariance_ : list of ndarray
        Class covariances (``store_covariance``).
    classes_ : ndarray of shape (n_classes,)
        Labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.discriminant_analysis import (
    ...     OOCQuadraticDiscriminantAnalysis)
    >>> X = np.array([[-1.0, -1], [-2, -1], [-3, -2], [1, 1], [2, 1], [3, 2]])
    >>> y = np.array([1, 1, 1, 2, 2, 2])
    >>> OOCQuadraticDiscriminantAnalysis().fit(X, y).predict([[-0.8, -1]])
    array([1])
    """

    _parameter_constraints: dict = {
        "solver": [StrOptions({"svd", "eigen"})],
        "shrinkage": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both"), None],
        "priors": ["array-like", None],
        "reg_param": [Interval(Real, 0, 1, closed="both")],
        "store_covariance": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "covariance_estimator": [HasMethods("fit"), None],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    _svd_error = (
        "covariance_estimator is not supported with solver='svd'. Try "
        "solver='eigen' instead."
    )

    def __init__(
        self,
        *,
        solver="svd",
        shrinkage=None,
        priors=None,
        reg_param=0.0,
        store_covariance=False,
        tol=1.0e-4,
        covariance_estimator=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.solver = solver
        self.shrinkage = shrinkage
        self.priors = priors
        self.reg_param = reg_param
        self.store_covariance = store_covariance
        self.tol = tol
        self.covariance_estimator = covariance_estimator
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _rows_summary(self):
        return RootMoments.of_rows

    def _priors(self, counts):
        if self.priors is None:
            self.priors_ = counts / counts.sum()
            return
        # As scikit-learn: the priors as given.
        priors = np.array(self.priors)
        if priors.shape != counts.shape:
            raise ValueError(
                f"priors has {priors.size} values for {counts.size} classes"
            )
        self.priors_ = priors

    def _from_summaries(self, stats):
        self.__dict__.pop("covariance_", None)
        moments, fourths, counts = self._class_statistics(stats)
        spec = self._covariance_spec()
        fourths = fourths or [None] * len(moments)
        n_features = self.means_.shape[1]
        scalings, rotations, covariances = [], [], []
        for label, m, f, count in zip(
            self.classes_, moments, fourths, counts, strict=True
        ):
            if count == 1:
                raise ValueError(
                    f"y has only 1 sample in class {label}, covariance is ill defined."
                )
            if self.solver == "svd":
                # The SVD of the class's centered rows, from their R factor.
                singular_values, vectors = m.spectrum()
                # As many as an SVD of the class's rows gives: min(n_k, d).
                kept = min(int(count), n_features)
                singular_values, vectors = singular_values[:kept], vectors[:kept]
                scaling = _squares_over(singular_values, count)
                scaling = (1 - self.reg_param) * scaling + self.reg_param
                rotation = vectors.T
                covariance = None
            else:
                covariance = _estimated_covariance(spec, m, f)
                if not np.all(np.isfinite(covariance)):
                    raise _variance_overflow(label)
                values, vectors = linalg.eigh(covariance)
                order = np.argsort(values)[::-1]
                scaling = values[order]
                rotation = largest_positive(vectors[:, order].T).T
            if not np.all(np.isfinite(scaling)):
                raise _variance_overflow(label)
            if np.sum(scaling > self.tol) < n_features:
                if self.solver == "svd" and count <= n_features:
                    raise linalg.LinAlgError(
                        f"The covariance matrix of class {label} is not full "
                        f"rank. When using `solver='svd'` the number of samples in "
                        f"each class should be more than the number of features, "
                        f"but class {label} has {int(count)} samples and "
                        f"{n_features} features. Try using `solver='eigen'` and "
                        f"setting the parameter `shrinkage` for regularization."
                    )
                param = "shrinkage" if self.solver == "eigen" else "reg_param"
                raise linalg.LinAlgError(
                    f"The covariance matrix of class {label} is not full rank. "
                    f"Increase the value of `{param}` to reduce the collinearity."
                )
            if covariance is None and self.store_covariance:
                covariance = (rotation * scaling) @ rotation.T
            scalings.append(scaling)
            rotations.append(rotation)
            covariances.append(covariance)
        # scikit-learn's dtypes for float32 rows: float32 for its SVD.
        low = self._input_dtype if self.solver == "svd" else np.float64
        self.means_ = self.means_.astype(self._input_dtype)
        self._scalings, self._rotations = scalings, rotations
        if self.store_covariance:
            self.covariance_ = [c.astype(low) for c in covariances]
        self.scalings_ = [s.astype(low) for s in scalings]
        self.rotations_ = [r.astype(low) for r in rotations]

    def _decision(self, X):
        norm2 = np.column_stack(
            [
                np.sum(((X - mean) @ (rotation * scaling**-0.5)) ** 2, axis=1)
                for mean, rotation, scaling in zip(
                    self.means_, self._rotations, self._scalings, strict=True
                )
            ]
        )
        logdet = np.array([np.sum(np.log(s)) for s in self._scalings])
        return -0.5 * (norm2 + logdet) + np.log(self.priors_)

    def _binary(self, scores):
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def _proba(self, scores):
        likelihood = np.exp(scores - scores.max(axis=1)[:, None])
        return likelihood / likelihood.sum(axis=1)[:, None]

    def predict_log_proba(self, X):
        """Logarithms of the class probabilities, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)

        def log_proba(batch):
            scores = self._decision(batch.X)
            shifted = scores - scores.max(axis=1)[:, None]
            return shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]

        return self._map_rows(X, log_proba)
