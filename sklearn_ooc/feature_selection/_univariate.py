"""Univariate scores and feature selectors from streamed statistics."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import special, stats
from sklearn import feature_selection as _sk
from sklearn.base import _fit_context
from sklearn.utils.validation import check_is_fitted

from .._engine import Engine
from .._out_of_core import register
from .._stats import (
    ColumnSums,
    GroupedMoments,
    TargetMoments,
    diagonal_moments_of_rows,
)
from ..base import OutOfCoreMixin
from ..data import BatchSource, LazyArray, check_batch_size

# -- the statistics of each score, and the score from them -------------------------


def _class_moments(batch):
    return GroupedMoments.of_batch(
        np.asarray(batch.X, dtype=np.float64),
        batch.y,
        of_rows=lambda rows, workspace=None: diagonal_moments_of_rows(rows),
    )


def _f_classif_from(grouped):
    classes = sorted(grouped.groups)
    parts = [grouped.groups[c] for c in classes]
    counts = np.array([float(p.count) for p in parts])
    n_samples = counts.sum()
    means = np.array([p.mean for p in parts])
    grand = counts @ means / n_samples
    # scikit-learn's sums of squares, about the means: within the classes,
    # and of the class means about the grand mean.
    sswn = np.sum([p.scatter for p in parts], axis=0)
    ssbn = counts @ (means - grand) ** 2
    dfbn = len(parts) - 1
    dfwn = n_samples - len(parts)
    msb = ssbn / float(dfbn)
    msw = sswn / float(dfwn)
    constant = np.where(msw == 0.0)[0]
    if np.nonzero(msb)[0].size != msb.size and constant.size:
        warnings.warn(f"Features {constant} are constant.", UserWarning, stacklevel=3)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.asarray(msb / msw).ravel()
    return f, special.fdtrc(dfbn, dfwn, f)


@dataclass
class _LabelSums:
    """Multilabel targets: rows, rows of each label, sums of the features
    over the rows of each label (``Y^T X``) and over all rows; merging adds
    them."""

    count: int
    labels: np.ndarray
    sums: np.ndarray
    total: np.ndarray

    def __add__(self, other):
        return _LabelSums(
            self.count + other.count,
            self.labels + other.labels,
            self.sums + other.sums,
            self.total + other.total,
        )


def _class_sums(batch):
    X = np.asarray(batch.X, dtype=np.float64)
    negative = np.flatnonzero((X < 0).any(axis=1))
    if negative.size:
        row = int(negative[0])
        column = int(np.flatnonzero(X[row] < 0)[0])
        raise ValueError(
            f"Input X must be non-negative: row {batch.start + row} (batch "
            f"{batch.index}, rows {batch.start}-{batch.stop - 1}) holds "
            f"{X[row, column]} in column {column}"
        )
    y = np.asarray(batch.y)
    if y.ndim == 2 and y.shape[1] > 1:
        # A multilabel indicator: each label a class, as scikit-learn's
        # binarizer makes it.
        Y = y.astype(np.float64)
        return _LabelSums(len(Y), Y.sum(axis=0), Y.T @ X, X.sum(axis=0))
    return GroupedMoments.of_batch(X, batch.y, of_rows=ColumnSums.of_rows)


def _chi2_from(grouped):
    if isinstance(grouped, _LabelSums):
        return _chisquare(
            grouped.sums,
            np.outer(grouped.labels / grouped.count, grouped.total),
        )
    classes = sorted(grouped.groups)
    observed = np.array([grouped.groups[c].sums for c in classes])
    counts = np.array([float(grouped.groups[c].count) for c in classes])
    if len(classes) == 1:
        # scikit-learn's binarized labels of one class: a column of zeros
        # beside it.
        observed = np.vstack([np.zeros_like(observed[0]), observed[0]])
        counts = np.array([0.0, counts[0]])
    feature_count = observed.sum(axis=0)
    class_prob = counts / counts.sum()
    return _chisquare(observed, np.outer(class_prob, feature_count))


def _chisquare(observed, expected):
    chisq = (observed - expected) ** 2
    with np.errstate(invalid="ignore"):
        chisq /= expected
    chisq = chisq.sum(axis=0)
    return chisq, special.chdtrc(len(observed) - 1, chisq)


def _target_moments(batch):
    return TargetMoments.of_rows(batch.X, batch.y)


def _r_regression_from(moments, center=True, force_finite=True):
    if center:
        products, x_norms = moments.cross, np.sqrt(moments.m2_x)
        y_norm = np.sqrt(moments.m2_y)
    else:
        # About the origin: the raw sums, from the centered ones.
        n = moments.count
        products = moments.cross + n * moments.mean_x * moments.mean_y
        x_norms = np.sqrt(moments.m2_x + n * moments.mean_x**2)
        y_norm = np.sqrt(moments.m2_y + n * moments.mean_y**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        correlation = products / x_norms / y_norm
    if force_finite and not np.isfinite(correlation).all():
        correlation[np.isnan(correlation)] = 0.0
    return correlation


def _f_regression_from(moments, center=True, force_finite=True):
    correlation = _r_regression_from(moments, center, force_finite)
    degrees = moments.count - (2 if center else 1)
    squared = correlation**2
    with np.errstate(divide="ignore", invalid="ignore"):
        f_statistic = squared / (1 - squared) * degrees
        p_values = stats.f.sf(f_statistic, 1, degrees)
    if force_finite and not np.isfinite(f_statistic).all():
        f_statistic[np.isinf(f_statistic)] = np.finfo(f_statistic.dtype).max
        nan = np.isnan(f_statistic)
        f_statistic[nan] = 0.0
        p_values[nan] = 1.0
    return f_statistic, p_values


# score function -> (statistic of a batch, score from the merged statistic,
# whether y is numeric)
_SCORES = {
    "f_classif": (_class_moments, _f_classif_from, False),
    "chi2": (_class_sums, _chi2_from, False),
    "r_regression": (_target_moments, _r_regression_from, True),
    "f_regression": (_target_moments, _f_regression_from, True),
}


def _score_of(score_func):
    """The streamed form of ``score_func`` and its keyword arguments.

    scikit-learn's f_classif, chi2, r_regression and f_regression, ours, and
    ``functools.partial`` of either; any other function needs the rows
    themselves.
    """
    kwargs = {}
    func = score_func
    if isinstance(func, functools.partial):
        kwargs, func = dict(func.keywords), func.func
    name = getattr(func, "__name__", None)
    ours = globals().get(name)
    if name in _SCORES and func in (getattr(_sk, name), ours):
        return name, kwargs
    raise ValueError(
        f"score_func={score_func!r} has no streamed form: the scores computed "
        "out of core are f_classif, chi2, r_regression and f_regression "
        "(scikit-learn's or sklearn_ooc.feature_selection's); any other "
        "function (mutual_info_classif and mutual_info_regression among them: "
        "they need the rows themselves, for nearest neighbours) is given the "
        "data only when it is in memory"
    )


def _stream(name, X, y, batch_size, n_jobs):
    summarize, _, y_numeric = _SCORES[name]
    source = BatchSource(
        X, y, batch_size=check_batch_size(batch_size), y_numeric=y_numeric
    )
    if source.y is None:
        raise ValueError(f"{name} needs y, the target of every row")
    engine = Engine(n_jobs=n_jobs, verbose=0, name=name)
    return engine.reduce(source, range(source.n_batches), summarize, desc=name)


def f_classif(X, y, *, batch_size="auto", n_jobs=None):
    """ANOVA F-value of each feature for the classes ``y``, streamed.

    scikit-learn's :func:`~sklearn.feature_selection.f_classif` from one pass
    over the rows: the count, mean and centered sum of squares of each
    feature within each class, merged stably. scikit-learn takes the sums
    of squares as ``sum(x^2) - sum(x)^2 / n``, which loses digits on data far
    from the origin; these do not.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
            (n_samples, n_features)
        The rows; a path names a ``.npy`` file.
    y : array-like of shape (n_samples,)
        The class of each row.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same result for every value).

    Returns
    -------
    f_statistic : ndarray of shape (n_features,)
    p_values : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import f_classif
    >>> X = np.array([[1.0, 5.0], [2.0, 4.0], [8.0, 5.0], [9.0, 4.0]])
    >>> f, p = f_classif(X, [0, 0, 1, 1], batch_size=3)
    >>> np.round(f, 3)
    array([98.,  0.])
    """
    return _f_classif_from(_stream("f_classif", X, y, batch_size, n_jobs))


def chi2(X, y, *, batch_size="auto", n_jobs=None):
    """Chi-squared statistic of each non-negative feature for the classes
    ``y``, streamed.

    scikit-learn's :func:`~sklearn.feature_selection.chi2` from one pass: the
    sums of each feature within each class.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
            (n_samples, n_features)
        Non-negative features (counts, frequencies, one-hot codes).
    y : array-like of shape (n_samples,)
        The class of each row.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.

    Returns
    -------
    chi2 : ndarray of shape (n_features,)
    p_values : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import chi2
    >>> X = np.array([[4.0, 1.0], [3.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    >>> scores, p = chi2(X, ["a", "a", "b", "b"])
    >>> np.round(scores, 3)
    array([4.5, 0. ])
    """
    return _chi2_from(_stream("chi2", X, y, batch_size, n_jobs))


def r_regression(
    X, y, *, center=True, force_finite=True, batch_size="auto", n_jobs=None
):
    """Pearson correlation of each feature with the target, streamed.

    scikit-learn's :func:`~sklearn.feature_selection.r_regression` from one
    pass: per-column centered sums of squares and cross sums with ``y``,
    merged stably (scikit-learn's ``sum(x^2) - n mean^2`` loses digits far
    from the origin; these do not).

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
            (n_samples, n_features)
        The rows.
    y : array-like of shape (n_samples,)
        The target.
    center : bool, default=True
        Whether to center the data and the target.
    force_finite : bool, default=True
        Whether a correlation of NaN (a constant feature or target) is set
        to 0.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.

    Returns
    -------
    correlation_coefficient : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import r_regression
    >>> X = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0]])
    >>> np.round(r_regression(X, [1.0, 2.0, 3.0]), 3)
    array([ 1. , -0.5])
    """
    moments = _stream("r_regression", X, y, batch_size, n_jobs)
    return _r_regression_from(moments, center, force_finite)


def f_regression(
    X, y, *, center=True, force_finite=True, batch_size="auto", n_jobs=None
):
    """Univariate linear regression F-statistic of each feature, streamed.

    scikit-learn's :func:`~sklearn.feature_selection.f_regression` from the
    statistics of :func:`r_regression`.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
            (n_samples, n_features)
        The rows.
    y : array-like of shape (n_samples,)
        The target.
    center : bool, default=True
        Whether to center the data and the target.
    force_finite : bool, default=True
        Whether non-finite statistics are replaced as scikit-learn does.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.

    Returns
    -------
    f_statistic : ndarray of shape (n_features,)
    p_values : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import f_regression
    >>> X = np.array([[1.0, 3.0], [2.0, 1.0], [3.0, 2.0], [4.0, 5.0]])
    >>> f, p = f_regression(X, [1.1, 2.0, 2.9, 4.2], batch_size=2)
    >>> bool(f[0] > 100 > f[1])
    True
    """
    moments = _stream("f_regression", X, y, batch_size, n_jobs)
    return _f_regression_from(moments, center, force_finite)


# -- the selectors ------------------------------------------------------------------


def in_memory(X):
    """Whether ``X`` is data held in memory: a list, an array that is not a
    memory map, a sparse matrix, a pandas or polars DataFrame."""
    if isinstance(X, list | tuple) or sp.issparse(X):
        return True
    if isinstance(X, np.ndarray):
        return not isinstance(X, np.memmap)
    return hasattr(X, "iloc") or type(X).__module__.startswith("polars")


def select_columns(estimator, X, mask):
    """The columns ``mask`` of the rows of ``X``, read batch by batch (lazily
    for a LazyArray); the rows are checked as every input is, and an array's
    own dtype is kept, as scikit-learn's selectors keep it."""
    if isinstance(X, LazyArray):
        estimator._source(X, reset=False)
        return X.map(lambda rows: np.asarray(rows)[:, mask])
    source = estimator._source(X, reset=False)
    raw = source.X if isinstance(source.X, np.ndarray) else None
    dtype = raw.dtype if raw is not None else None
    out = None
    engine = estimator._engine()
    for batch, rows in engine.map(
        source,
        range(source.n_batches),
        lambda batch: batch.X[:, mask] if raw is None else None,
        desc="transform",
    ):
        if rows is None:
            rows = np.asarray(raw[batch.start : batch.stop])[:, mask]
        if out is None:
            out = np.empty((source.n_samples, int(mask.sum())), dtype or rows.dtype)
        out[batch.start : batch.stop] = rows
    if out is None:
        out = np.empty((source.n_samples, int(mask.sum())), dtype or np.float64)
    return out


class _StreamedFilter(OutOfCoreMixin):
    """A univariate filter whose scores come from one streamed pass."""

    _requires_y = True
    _accept_sparse = True

    @property
    def _y_numeric(self):
        try:
            return _SCORES[_score_of(self.score_func)[0]][2]
        except ValueError:
            return False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Score every feature from one pass over ``X`` and ``y``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, sparse matrix or table \
                of shape (n_samples, n_features)
            The rows; a path names a ``.npy`` file.
        y : array-like of shape (n_samples,)
            The target (classes for f_classif and chi2).
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        try:
            name, kwargs = _score_of(self.score_func)
        except ValueError:
            if not in_memory(X):
                raise
            # Data in memory: any score function can have all of it, as in
            # scikit-learn.
            _sk.SelectKBest.fit.__wrapped__(self, X, y)
            self._is_fitted = True
            return self
        summarize, score_from, _ = _SCORES[name]
        with self._transaction():
            source = self._source(X, y, reset=True, batch_size=batch_size, fitting=True)
            self._check_params(source.X, None)
            statistics = self._reduce(source, desc=name, summarize=summarize)
            scores = score_from(statistics, **kwargs)
            if isinstance(scores, tuple):
                self.scores_, self.pvalues_ = (
                    np.asarray(scores[0]),
                    np.asarray(scores[1]),
                )
            else:
                self.scores_, self.pvalues_ = np.asarray(scores), None
            self._is_fitted = True
        return self

    def transform(self, X):
        """The selected columns of ``X``, batch by batch (lazily for a
        LazyArray).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray, sparse matrix or LazyArray of shape (n_samples, n_selected)
        """
        check_is_fitted(self)
        if sp.issparse(X) or (in_memory(X) and not isinstance(X, np.ndarray)):
            # Sparse rows and DataFrames keep their container and column
            # dtypes, as scikit-learn's selectors keep them.
            return _sk.SelectKBest.transform(self, X)
        mask = self.get_support()
        if not mask.any():
            warnings.warn(
                "No features were selected: either the data is too noisy or the "
                "selection test too strict.",
                UserWarning,
                stacklevel=2,
            )
        return select_columns(self, X, mask)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


@register(_sk.SelectKBest)
class OOCSelectKBest(_StreamedFilter, _sk.SelectKBest):
    """Select the features of the ``k`` highest scores, scored in one pass.

    scikit-learn's :class:`~sklearn.feature_selection.SelectKBest` whose
    scores come from statistics streamed over the rows (see
    :func:`f_classif`, :func:`chi2`, :func:`r_regression`,
    :func:`f_regression`); ``transform`` selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    k : int or "all", default=10
        Number of top features to select.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCSelectKBest
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> OOCSelectKBest(k=1, batch_size=64).fit(X, y).get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.SelectKBest._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        k=10,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.k = k
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(_sk.SelectPercentile)
class OOCSelectPercentile(_StreamedFilter, _sk.SelectPercentile):
    """Select the features of the highest scores, a percentile of them.

    scikit-learn's :class:`~sklearn.feature_selection.SelectPercentile` whose scores
    come from statistics streamed over the rows in one pass; ``transform``
    selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    percentile : float, default=10
        Percent of the features to keep.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCSelectPercentile
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> selector = OOCSelectPercentile(percentile=20, batch_size=64).fit(X, y)
    >>> selector.get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.SelectPercentile._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        percentile=10,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.percentile = percentile
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(_sk.SelectFpr)
class OOCSelectFpr(_StreamedFilter, _sk.SelectFpr):
    """Select the features whose p-values are below ``alpha``.

    scikit-learn's :class:`~sklearn.feature_selection.SelectFpr` whose scores
    come from statistics streamed over the rows in one pass; ``transform``
    selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    alpha : float, default=5e-2
        Highest p-value of a feature kept.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCSelectFpr
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> selector = OOCSelectFpr(alpha=1e-10, batch_size=64).fit(X, y)
    >>> selector.get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.SelectFpr._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        alpha=5e-2,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(_sk.SelectFdr)
class OOCSelectFdr(_StreamedFilter, _sk.SelectFdr):
    """Select the features by the Benjamini-Hochberg false discovery rate.

    scikit-learn's :class:`~sklearn.feature_selection.SelectFdr` whose scores
    come from statistics streamed over the rows in one pass; ``transform``
    selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    alpha : float, default=5e-2
        Highest uncorrected p-value of a feature kept.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCSelectFdr
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> selector = OOCSelectFdr(alpha=1e-10, batch_size=64).fit(X, y)
    >>> selector.get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.SelectFdr._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        alpha=5e-2,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(_sk.SelectFwe)
class OOCSelectFwe(_StreamedFilter, _sk.SelectFwe):
    """Select the features by family-wise error rate (Bonferroni).

    scikit-learn's :class:`~sklearn.feature_selection.SelectFwe` whose scores
    come from statistics streamed over the rows in one pass; ``transform``
    selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    alpha : float, default=5e-2
        Highest uncorrected p-value of a feature kept.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCSelectFwe
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> selector = OOCSelectFwe(alpha=1e-10, batch_size=64).fit(X, y)
    >>> selector.get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.SelectFwe._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        alpha=5e-2,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.alpha = alpha
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(_sk.GenericUnivariateSelect)
class OOCGenericUnivariateSelect(_StreamedFilter, _sk.GenericUnivariateSelect):
    """Select features by a configurable univariate rule.

    scikit-learn's :class:`~sklearn.feature_selection.GenericUnivariateSelect`
    whose scores come from statistics streamed over the rows in one pass;
    ``transform`` selects the columns batch by batch.

    Parameters
    ----------
    score_func : callable, default=f_classif
        scikit-learn's f_classif, chi2, r_regression or f_regression (or
        ours, or a ``functools.partial`` of one).
    mode : {"percentile", "k_best", "fpr", "fdr", "fwe"}, default="percentile"
        The selection rule.
    param : float or int or "all", default=1e-5
        The parameter of the rule.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same scores for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    scores_ : ndarray of shape (n_features,)
        Scores of the features.
    pvalues_ : ndarray of shape (n_features,)
        p-values of the scores, or None if ``score_func`` returns scores only.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.feature_selection import OOCGenericUnivariateSelect
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=200)
    >>> X = rng.normal(size=(200, 5))
    >>> X[:, 3] += 3 * y
    >>> selector = OOCGenericUnivariateSelect(mode="k_best", param=1, batch_size=64)
    >>> selector = selector.fit(X, y)
    >>> selector.get_support(indices=True)
    array([3])
    """

    _parameter_constraints: dict = {
        **_sk.GenericUnivariateSelect._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        score_func=_sk.f_classif,
        *,
        mode="percentile",
        param=1e-5,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.score_func = score_func
        self.mode = mode
        self.param = param
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
