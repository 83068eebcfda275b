"""Ridge regression with alpha chosen by cross-validation, out of core.

``cv=None`` (the default) scores every alpha by efficient leave-one-out, in two
passes (see :mod:`._ridge_gcv`); K-fold splits are scored in one pass from the
statistics of each test fold.
"""

from __future__ import annotations

import numbers
import os
import warnings
from functools import partial
from inspect import signature
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import KFold, ParameterGrid
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import _raise_for_params
from sklearn.utils.validation import check_is_fitted, check_scalar

from .._engine import Timer
from .._out_of_core import register
from .._stats import Moments, moments_of_rows
from ..base import OutOfCoreMixin, StreamingRegressorMixin
from ._ridge import _ridge_solution
from ._ridge_gcv import (
    LeaveOneOut,
    _IdentityRegressor,
    eigen_coef,
    gcv_summarize,
    signal_directions,
    true_scale,
)

# Scorings of folds computed from the statistics of each test fold.
_STREAMED_SCORINGS = {None, "r2", "neg_mean_squared_error"}


def _fold_ids(cv, n_samples, y=None):
    """The test fold of every row (the splits must partition the rows).

    ``cv`` is an int, a splitter or an iterable of ``(train, test)`` splits
    (a generator is read once).
    """
    if isinstance(cv, Integral):
        cv = KFold(cv)
    if type(cv) is KFold and not cv.shuffle:
        # KFold's consecutive folds, the first n % k of them one row larger,
        # without generating its index arrays (a tenth of a pass on 2M rows).
        k = cv.n_splits
        if k > n_samples:
            raise ValueError(
                f"Cannot have number of splits n_splits={k} greater than the "
                f"number of samples: n_samples={n_samples}."
            )
        sizes = np.full(k, n_samples // k)
        sizes[: n_samples % k] += 1
        return np.repeat(np.arange(k, dtype=np.int32), sizes), k
    if hasattr(cv, "split"):
        # Splitters look at X's length only; y is given to those that need it.
        cv = cv.split(np.broadcast_to(np.zeros(1), (n_samples, 1)), y)
    folds = np.full(n_samples, -1, dtype=np.int32)
    k = -1
    for k, (train, test) in enumerate(cv):
        train, test = np.asarray(train), np.asarray(test)
        if test.dtype == bool:
            test = np.flatnonzero(test)
        if train.dtype == bool:
            train = np.flatnonzero(train)
        if np.any(folds[test] >= 0) or len(np.unique(test)) != len(test):
            raise ValueError("cv must split the rows into disjoint test folds")
        if len(train) + len(test) != n_samples:
            raise ValueError("each split of cv must train on all the other rows")
        folds[test] = k
    if np.any(folds < 0):
        raise ValueError("cv must put every row in one test fold (K-fold)")
    return folds, k + 1


class _SplitPlan:
    """Sets of rows whose statistics one pass accumulates, and the splits
    made of them.

    K-fold splits (test sets partitioning the rows, each split training on
    all the others) need one set per fold: a split trains on the other
    folds. Other splits (ShuffleSplit, TimeSeriesSplit, overlapping test
    sets, ...) need a training and a test set each, and the whole data for
    the final model: ``2 K + 1`` sets, each row read once but summarized in
    every set it belongs to. The splits are materialized once, as
    scikit-learn does (``n_splits x n_samples`` bytes).
    """

    def __init__(self, cv, n_samples, y=None):
        self.n_samples = n_samples
        if isinstance(cv, Integral) or (type(cv) is KFold and not cv.shuffle):
            self.folds, self.n_splits = _fold_ids(cv, n_samples)
            self.n_sets = self.n_splits
            return
        if hasattr(cv, "split"):
            # Splitters look at X's length only; y goes to those that need it.
            cv = cv.split(np.broadcast_to(np.zeros(1), (n_samples, 1)), y)
        splits = [
            (_indices(train, n_samples), _indices(test, n_samples))
            for train, test in cv
        ]
        if not splits:
            raise ValueError("cv gave no splits")
        self.n_splits = len(splits)
        folds = np.full(n_samples, -1, dtype=np.int32)
        partition = True
        for k, (train, test) in enumerate(splits):
            if (
                np.any(folds[test] >= 0)
                or len(np.unique(test)) != len(test)
                or len(train) + len(test) != n_samples
                or len(np.unique(train)) != len(train)
            ):
                partition = False
                break
            folds[test] = k
        if partition and np.all(folds >= 0):
            self.folds, self.n_sets = folds, self.n_splits
            return
        self.folds = None
        self.codes = np.zeros((self.n_splits, n_samples), dtype=np.int8)
        for k, (train, test) in enumerate(splits):
            self.codes[k, train] = 1
            self.codes[k, test] |= 2
        self.n_sets = 2 * self.n_splits + 1

    def masks(self, start, stop):
        """The batch's membership of every set."""
        if self.folds is not None:
            ids = self.folds[start:stop]
            return [ids == k for k in range(self.n_sets)]
        codes = self.codes[:, start:stop]
        masks = []
        for k in range(self.n_splits):
            masks.append((codes[k] & 1) > 0)
            masks.append((codes[k] & 2) > 0)
        masks.append(np.ones(stop - start, dtype=bool))
        return masks

    def test_mask(self, k, start, stop):
        """The rows of ``start:stop`` in the test set of split ``k``."""
        if self.folds is not None:
            return self.folds[start:stop] == k
        return (self.codes[k, start:stop] & 2) > 0

    def split(self, k):
        """``(training sets, test set)`` of split ``k``."""
        if self.folds is not None:
            return [j for j in range(self.n_sets) if j != k], k
        return [2 * k], 2 * k + 1

    def total(self):
        """Sets whose union is every row once."""
        if self.folds is not None:
            return list(range(self.n_sets))
        return [self.n_sets - 1]


def _indices(index, n_samples):
    index = np.asarray(index)
    if index.dtype == bool:
        return np.flatnonzero(index)
    return index.astype(np.intp, copy=False).ravel()


def _fold_score(moments, coef, intercept, n_features, scoring, n_rows):
    """Score of a linear model on rows with the given moments.

    The residual ``e = y_t - x.w_t - b_t`` is ``z.v_t - b_t`` with
    ``z = [x, y]`` and ``v_t = [-w_t, e_t]``, so its weighted sum of squares
    is ``v_t^T S v_t + W (mean.v_t - b_t)^2``: a quadratic form in the
    fold's statistics, no second look at its rows.

    For a scatter scaled by powers of two (see
    :attr:`~sklearn_ooc._stats.Moments.exponent`), the sums of squares of
    target ``t`` are computed scaled by ``2**(-2 e_t)``, as its total sum of
    squares is: R² is their ratio, whatever the scale of y. R² of fewer than
    two rows is NaN, as :func:`sklearn.metrics.r2_score` returns.
    """
    d = n_features
    n_targets = coef.shape[0]
    if scoring == "r2" and n_rows < 2:
        return np.nan
    V = np.zeros((d + n_targets, n_targets))
    V[:d] = -coef.T
    V[d + np.arange(n_targets), np.arange(n_targets)] = 1.0
    exponent = moments.exponents
    target_exponent = exponent[d:]
    offset = moments.mean @ V - intercept
    if exponent.any():
        V = np.ldexp(V, exponent[:, None] - target_exponent[None, :])
        offset = np.ldexp(offset, -target_exponent)
    residual = np.einsum("it,ij,jt->t", V, moments.scatter, V)
    residual += moments.weight * offset**2
    if scoring == "neg_mean_squared_error":
        scaled = residual / moments.weight
        with np.errstate(over="ignore", under="ignore"):
            error = np.ldexp(scaled, 2 * target_exponent)
        lost = (scaled > 0) & (error < np.finfo(np.float64).tiny)
        if not np.all(np.isfinite(error)) or lost.any():
            which = "fall below" if lost.any() else "exceed"
            raise ValueError(
                f"The mean squared errors of the folds {which} float64's range "
                "(2.2e-308 to 1.8e308): y is too far from unit scale to score "
                "by scoring='neg_mean_squared_error'. Please use scoring='r2', "
                "or scale y."
            )
        return float(-np.mean(error))
    total = np.diagonal(moments.scatter)[d:]
    scores = np.ones(n_targets)
    nonzero = total != 0
    scores[nonzero] = 1 - residual[nonzero] / total[nonzero]
    scores[~nonzero & (residual != 0)] = 0.0
    return float(np.mean(scores))


def _merge(parts):
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def _fold_solution(train, n_positive, n_features, alpha, fit_intercept):
    """Ridge model ``(coef (n_targets, n_features), intercept)`` of a training
    set: the minimum-norm limit when its rows cannot determine every
    coefficient (more features than rows), as scikit-learn's dual solve."""
    d = n_features
    if d > n_positive - int(fit_intercept) and train.weight > 0:
        try:
            scatter = true_scale(train, fit_intercept)
        except ValueError:
            # Beyond float64's range: the scaled solve (and its errors).
            return _ridge_solution(train, d, alpha, fit_intercept)
        gram, cross = scatter[:d, :d], scatter[:d, d:]
        eigvals, V = signal_directions(gram, n_positive - int(fit_intercept))
        coef = eigen_coef(eigvals, V, V.T @ cross, alpha).T
        if fit_intercept:
            intercept = train.mean[d:] - coef @ train.mean[:d]
        else:
            intercept = np.zeros(len(alpha))
        return coef, intercept
    return _ridge_solution(train, d, alpha, fit_intercept)


def _float_dtype(X, source):
    """X's floating dtype (attributes are cast to it, as scikit-learn does),
    or None (float64) for other data and for data frames."""
    if isinstance(X, (str, os.PathLike)):
        X = source.X
    dtype = getattr(X, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return dtype
    return None


def _shape_model(coef, intercept, y_ndim, n_targets, fit_intercept, dtype):
    """``coef_`` and ``intercept_`` as scikit-learn's RidgeCV shapes them."""
    coef_ = coef[0] if n_targets == 1 else coef
    if not fit_intercept:
        intercept_ = 0.0
    elif y_ndim == 1:
        intercept_ = np.float64(intercept[0])
    else:
        intercept_ = np.asarray(intercept, dtype=np.float64)
    if dtype is not None:
        coef_ = coef_.astype(dtype, copy=False)
        if type(intercept_) is not float:
            intercept_ = (
                dtype.type(intercept_) if y_ndim == 1 else intercept_.astype(dtype)
            )
    return coef_, intercept_


@register(RidgeCV)
class StreamingRidgeCV(
    StreamingRegressorMixin, RegressorMixin, OutOfCoreMixin, BaseEstimator
):
    """Ridge regression with built-in cross-validation of alpha, out of core.

    The counterpart of :class:`sklearn.linear_model.RidgeCV`, with the same
    parameters, defaults and results, on data read one batch at a time.

    - ``cv=None`` (default): efficient leave-one-out, in two passes. The first
      accumulates the weighted centered cross-products of ``[X, y]``, whose
      ``n_features x n_features`` Gram is eigendecomposed; the second computes
      every row's leverage and leave-one-out error for all alphas at once.
      The errors are scikit-learn's, whichever ``gcv_mode``.
    - ``cv`` an int, a splitter or splits: in one pass, each row's statistics
      go to its test fold; the model of fold ``k`` comes from the merged
      statistics of the other folds, and its R² or mean squared error on
      fold ``k`` is a quadratic form in fold ``k``'s statistics. Same
      ``alpha_``, coefficients and scores as
      ``GridSearchCV(Ridge(), {"alpha": alphas}, cv=cv)``.

    Parameters
    ----------
    alphas : float or array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Penalties to try; strictly positive with ``cv=None``.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    scoring : str, callable or None, default=None
        ``None`` scores by the negative mean squared leave-one-out error
        (``cv=None``) or by R² (folds). Any scorer is applied as scikit-learn
        applies it: with ``cv=None`` to the leave-one-out predictions of all
        rows, with folds to the predictions of each test fold (an estimator
        whose ``predict`` returns its input stands for the model). Out of
        core, ``None``, ``'r2'`` and ``'neg_mean_squared_error'`` with folds
        are computed from the fold statistics; any other scoring holds the
        predictions (``n_samples x n_targets x n_alphas`` floats) in memory,
        and with folds reads the data a second time.
    cv : int, cross-validation generator or iterable, default=None
        ``None``: efficient leave-one-out. An int means ``KFold(cv)``. A
        splitter, or an iterable (a generator is read once) of ``(train,
        test)`` index arrays. K-fold splits (test sets partitioning the
        rows, each split training on all the others) cost one set of
        statistics per fold; other splits (``ShuffleSplit``,
        ``TimeSeriesSplit``, ...) two per split, and ``n_splits x
        n_samples`` bytes to hold them.
    gcv_mode : {'auto', 'svd', 'eigen'}, default=None
        scikit-learn's choice of decomposition for ``cv=None``. Out of core
        the decomposition is always that of the ``n_features x n_features``
        Gram, which gives the same errors to rounding: every value is
        accepted and gives the same model.
    store_cv_results : bool, default=False
        Keep the leave-one-out values of every row for every alpha in
        ``cv_results_`` (``cv=None`` only): squared errors if ``scoring`` is
        None, otherwise predictions. An array of ``n_samples`` rows, held in
        memory.
    alpha_per_target : bool, default=False
        Choose an alpha for each target separately (``cv=None`` only).
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    cv_results_ : ndarray of shape (n_samples, n_alphas) or \
            (n_samples, n_targets, n_alphas), or dict
        With ``cv=None`` and ``store_cv_results=True``: the leave-one-out
        values, as scikit-learn's. With folds (an addition to scikit-learn):
        the dict of :class:`~sklearn.model_selection.GridSearchCV`
        (``params``, ``param_alpha``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``).
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients of the model fitted on all rows with ``alpha_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Its intercept; 0.0 without one.
    alpha_ : float or ndarray of shape (n_targets,)
        The chosen penalty (one per target with ``alpha_per_target``).
    best_score_ : float or ndarray of shape (n_targets,)
        Its score.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows read.

    See Also
    --------
    sklearn.linear_model.RidgeCV : The in-memory estimator this one equals.

    Notes
    -----
    Memory: ``(n_features + n_targets)^2`` floats per fold and a batch of
    rows, whatever the number of rows; ``n_samples``-sized arrays only where
    scikit-learn's outputs or scorers need them (``store_cv_results=True``,
    a scoring that needs the predictions). Computations are in float64;
    ``coef_``, ``intercept_`` and ``cv_results_`` are cast to the floating
    dtype of ``X``, as scikit-learn's.

    The leave-one-out errors at rows far from the origin keep the digits of
    their spread (the mean is carried to twice float64's precision), and
    with badly scaled columns they are those of refitting Ridge without each
    row, where scikit-learn's decompositions lose digits. ``cv=None`` on
    data whose cross-products leave float64's range (beyond about 1e154)
    raises a ``ValueError``: scale the data or use folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 5))
    >>> y = X @ [1.0, 2.0, 0.0, 0.0, 3.0] + rng.normal(size=500)
    >>> model = StreamingRidgeCV(alphas=[0.01, 1.0, 100.0, 1e4]).fit(X, y)
    >>> model.alpha_ in (0.01, 1.0)
    True
    """

    _requires_y = True

    _parameter_constraints: dict = {
        "alphas": ["array-like", Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "cv": ["cv_object"],
        "gcv_mode": [StrOptions({"auto", "svd", "eigen"}), None],
        "store_cv_results": ["boolean"],
        "alpha_per_target": ["boolean"],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alphas=(0.1, 1.0, 10.0),
        *,
        fit_intercept=True,
        scoring=None,
        cv=None,
        gcv_mode=None,
        store_cv_results=False,
        alpha_per_target=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.scoring = scoring
        self.cv = cv
        self.gcv_mode = gcv_mode
        self.store_cv_results = store_cv_results
        self.alpha_per_target = alpha_per_target
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None, **params):
        """Choose alpha by cross-validation and fit the model with it.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call.
        **params : dict
            Metadata for the scorer: only with metadata routing, which is not
            supported (as scikit-learn, an error without it).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        refuse_metadata(self, params, "its scorer; pass sample_weight only")
        scorer = check_scoring(estimator=self, scoring=self.scoring, allow_none=True)
        if self.scoring is None:
            # Leave-one-out then scores by the mean squared error, folds by R².
            scorer = None
        loo = self.cv is None
        check_alpha = partial(
            check_scalar,
            target_type=numbers.Real,
            min_val=0.0,
            include_boundaries="neither" if loo else "left",
        )
        if isinstance(self.alphas, (np.ndarray, list, tuple)):
            n_alphas = 1 if np.ndim(self.alphas) == 0 else len(self.alphas)
            if n_alphas != 1:
                for index, alpha in enumerate(self.alphas):
                    check_alpha(alpha, f"alphas[{index}]")
            else:
                check_alpha(self.alphas[0], "alphas")
        alphas = np.asarray(self.alphas)
        if not loo:
            if self.store_cv_results:
                raise ValueError("cv!=None and store_cv_results=True are incompatible")
            if self.alpha_per_target:
                raise ValueError("cv!=None and alpha_per_target=True are incompatible")
            ParameterGrid({"alpha": alphas})
        if loo and self.gcv_mode == "svd" and sp.issparse(X):
            # scikit-learn's message: out of core, every mode is the same.
            warnings.warn(
                "The 'svd' mode is not supported for sparse X, we fallback to "
                "`gcv_mode='eigen'`. Passing `gcv_mode='svd'` on sparse X will raise "
                "an error in 1.11, use the default or pass `gcv_mode='eigen'` to "
                "suppress this warning.",
                FutureWarning,
                stacklevel=3,
            )
        with self._transaction():
            self.__dict__.pop("cv_results_", None)
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            dtype = _float_dtype(X, source)
            if loo:
                self._fit_leave_one_out(source, alphas, scorer, sample_weight, dtype)
            else:
                self._fit_folds(
                    source, alphas, scorer, sample_weight is not None, dtype
                )
            self._is_fitted = True
        return self

    def _fit_leave_one_out(self, source, alphas, scorer, sample_weight, dtype):
        alphas = [float(alphas)] if alphas.ndim == 0 else [float(a) for a in alphas]
        stats = self._reduce(source, desc="fit", summarize=gcv_summarize)
        d = source.n_features
        n = source.n_samples
        y_ndim = len(source.y.shape)
        if not stats.moments.weight > 0:
            raise ValueError(
                "Sample weights must contain at least one non-zero number: every "
                "row seen has weight zero"
            )
        loo = LeaveOneOut(
            stats.moments, stats.n_positive, d, self.fit_intercept, np.asarray(alphas)
        )
        n_targets = loo.cross.shape[1]
        n_alphas = len(alphas)
        keep_rows = self.store_cv_results or scorer is not None
        weighted = sample_weight is not None
        squares = np.zeros((n_targets, n_alphas))
        values = np.empty((n, n_targets, n_alphas)) if keep_rows else None
        y_all = np.empty((n, n_targets)) if scorer is not None else None
        w_all = np.empty(n) if scorer is not None and weighted else None

        def errors(batch):
            Y = np.asarray(batch.y, dtype=np.float64).reshape(batch.n_samples, -1)
            w = batch.sample_weight
            e = loo.errors(batch.X, Y, w)
            scaled = e if w is None else e * np.sqrt(w)[:, None, None]
            squared = scaled**2
            if scorer is None:
                return squared.sum(axis=0), (squared if keep_rows else None), Y
            predictions = Y[:, :, None] - e
            if weighted:
                # scikit-learn divides by sqrt(sample_weight): 0/0 for rows of
                # zero weight.
                predictions[w == 0] = np.nan
            return squared.sum(axis=0), predictions, Y

        engine = self._engine()
        timer = Timer()
        for batch, (part, rows, Y) in engine.map(
            source, range(source.n_batches), errors, desc="leave-one-out"
        ):
            squares += part
            if rows is not None:
                values[batch.start : batch.stop] = rows
            if y_all is not None:
                y_all[batch.start : batch.stop] = Y
                if w_all is not None:
                    w_all[batch.start : batch.stop] = batch.sample_weight
        engine.log(
            f"[{type(self).__name__}] leave-one-out: {n:,} rows, {n_alphas} "
            f"alpha(s), {timer.total:.2f} s"
        )

        per_target = self.alpha_per_target
        multi = per_target and n_targets > 1
        if scorer is not None:
            y_true = y_all[:, 0] if y_ndim == 1 else y_all
            score_params = {} if w_all is None else {"sample_weight": w_all}
        best_score = best_alpha = None
        for i, alpha in enumerate(alphas):
            # scikit-learn's selection: the first best, per target or overall.
            if scorer is None:
                if per_target:
                    score = -squares[:, i] / n
                    score = score[0] if y_ndim == 1 else score
                else:
                    score = np.float64(-squares[:, i].sum() / (n * n_targets))
            else:
                predictions = values[:, :, i]
                if y_ndim == 1:
                    predictions = predictions[:, 0]
                if per_target:
                    score = np.asarray(
                        [
                            scorer(
                                _IdentityRegressor(),
                                predictions[:, j],
                                y_true[:, j],
                                **score_params,
                            )
                            for j in range(n_targets)
                        ]
                    )
                else:
                    score = scorer(
                        _IdentityRegressor(), predictions, y_true, **score_params
                    )
            if best_score is None:
                if multi:
                    best_score = np.reshape(score, (-1,)).copy()
                    best_alpha = np.full(n_targets, alpha)
                else:
                    best_score, best_alpha = score, alpha
            elif multi:
                update = score > best_score
                best_score[update] = score[update]
                best_alpha[update] = alpha
            elif score > best_score:
                best_score, best_alpha = score, alpha

        penalties = (
            np.asarray(best_alpha, dtype=np.float64)
            if multi
            else np.full(n_targets, float(best_alpha))
        )
        coef, intercept = loo.coef(penalties)
        self.alpha_ = best_alpha
        self.best_score_ = best_score
        self.coef_, self.intercept_ = _shape_model(
            coef, intercept, y_ndim, n_targets, self.fit_intercept, dtype
        )
        if self.store_cv_results:
            results = values if y_ndim == 2 else values[:, 0, :]
            self.cv_results_ = results.astype(dtype or np.float64, copy=False)
        self.n_samples_seen_ = int(stats.moments.count)

    def _fit_folds(self, source, alphas, scorer, weighted, dtype):
        scoring = "r2" if self.scoring is None else self.scoring
        if scoring in _STREAMED_SCORINGS:
            scorer = None
        grid = alphas.ravel()
        y_in_memory = source.y if isinstance(source.y, np.ndarray) else None
        plan = _SplitPlan(self.cv, source.n_samples, y_in_memory)
        d = source.n_features
        y_shape = source.y.shape[1:]
        y_ndim = 1 + len(y_shape)
        width = d + (y_shape[0] if y_shape else 1)
        summarize = partial(fold_moments, plan=plan, width=width, rescale=True)
        stats = self._reduce(source, desc="fit", summarize=summarize)
        sets = [_unstack(stats.weighted, k, stats.rows[k]) for k in range(plan.n_sets)]
        n_targets = width - d
        scores = np.empty((grid.size, plan.n_splits))
        models = []
        for k in range(plan.n_splits):
            train_sets, test_set = plan.split(k)
            train = _merge([sets[j] for j in train_sets])
            n_positive = int(sum(stats.positive[j] for j in train_sets))
            models.append([])
            for a, alpha in enumerate(grid):
                coef, intercept = _fold_solution(
                    train,
                    n_positive,
                    d,
                    np.repeat(float(alpha), n_targets),
                    self.fit_intercept,
                )
                models[k].append((coef, intercept))
                if scorer is None:
                    scores[a, k] = _fold_score(
                        sets[test_set],
                        coef,
                        intercept,
                        d,
                        scoring,
                        int(stats.rows[test_set]),
                    )
        if scorer is not None:
            scores = self._score_folds(source, plan, models, scorer, y_ndim, weighted)
        test_rows = [stats.rows[plan.split(k)[1]] for k in range(plan.n_splits)]
        if scorer is None and scoring == "r2" and min(test_rows) < 2:
            warnings.warn(
                "R^2 score is not well-defined with less than two samples.",
                UndefinedMetricWarning,
                stacklevel=3,
            )
        self.cv_results_ = _cv_results(grid, scores)
        best = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.alpha_ = grid[best]
        self.best_score_ = self.cv_results_["mean_test_score"][best]
        total_sets = plan.total()
        coef, intercept = _fold_solution(
            _merge([sets[j] for j in total_sets]),
            int(sum(stats.positive[j] for j in total_sets)),
            d,
            np.repeat(float(self.alpha_), n_targets),
            self.fit_intercept,
        )
        self.coef_, self.intercept_ = _shape_model(
            coef, intercept, y_ndim, n_targets, self.fit_intercept, dtype
        )
        self.n_samples_seen_ = int(source.n_samples)

    def _score_folds(self, source, plan, models, scorer, y_ndim, weighted):
        """Scores of the fold models by a scorer, from their predictions of
        the test rows (a second pass; the predictions are held in memory)."""
        if hasattr(scorer, "_accept_sample_weight"):
            accept = scorer._accept_sample_weight()
        else:
            accept = "sample_weight" in signature(scorer).parameters
        if weighted and not accept:
            warnings.warn(
                f"The scoring {scorer} does not support sample_weight, which may "
                "lead to statistically incorrect results when fitting "
                f"{self} with sample_weight. ",
                stacklevel=4,
            )
        coefs = [np.stack([c for c, _ in split]) for split in models]
        intercepts = [np.stack([b for _, b in split]) for split in models]
        n_splits = plan.n_splits

        def predict(batch):
            Y = np.asarray(batch.y, dtype=np.float64).reshape(batch.n_samples, -1)
            out = []
            for k in range(n_splits):
                mine = plan.test_mask(k, batch.start, batch.stop)
                if not mine.any():
                    continue
                X = np.asarray(batch.X[mine], dtype=np.float64)
                predictions = np.einsum("bd,atd->bta", X, coefs[k])
                predictions += intercepts[k].T[None, :, :]
                w = None if batch.sample_weight is None else batch.sample_weight[mine]
                out.append((k, predictions, Y[mine], w))
            return out

        parts = [[] for _ in range(n_splits)]
        for _, out in self._engine().map(
            source, range(source.n_batches), predict, desc="score"
        ):
            for k, *arrays in out:
                parts[k].append(arrays)
        scores = np.empty((len(models[0]), n_splits))
        for k in range(n_splits):
            predictions = np.concatenate([p for p, _, _ in parts[k]])
            y_true = np.concatenate([y for _, y, _ in parts[k]])
            params = {}
            if weighted and accept:
                params["sample_weight"] = np.concatenate([w for _, _, w in parts[k]])
            if y_ndim == 1:
                predictions, y_true = predictions[:, 0], y_true[:, 0]
            for a in range(scores.shape[0]):
                scores[a, k] = scorer(
                    _IdentityRegressor(), predictions[..., a], y_true, **params
                )
        return scores

    def _predict_batch(self, X):
        check_is_fitted(self)
        return X @ self.coef_.T + self.intercept_


def refuse_metadata(estimator, params, to):
    """scikit-learn's error for metadata given without routing, and ours for
    metadata that fit does not route (``to``: where it would go)."""
    _raise_for_params(params, estimator, "fit")
    if params:
        raise ValueError(
            f"{type(estimator).__name__}.fit does not route metadata "
            f"{sorted(params)} to {to}"
        )


def fold_moments(batch, *, plan, width, rescale):
    """The moments of ``[X, y]`` of a batch's rows in each set of ``plan``
    (a :class:`_SplitPlan`), with their rows and rows of positive weight."""
    Y = np.asarray(batch.y, dtype=np.float64).reshape(batch.n_samples, -1)
    w = batch.sample_weight
    parts = []
    rows = np.zeros(plan.n_sets, dtype=np.int64)
    positive = np.zeros(plan.n_sets, dtype=np.int64)
    for k, mine in enumerate(plan.masks(batch.start, batch.stop)):
        if not mine.any():
            parts.append(Moments.zero(width))
            continue
        rows[k] = np.count_nonzero(mine)
        positive[k] = rows[k] if w is None else np.count_nonzero(w[mine] > 0)
        parts.append(
            moments_of_rows(
                np.ascontiguousarray(batch.X[mine]),
                np.ascontiguousarray(Y[mine]),
                None if w is None else w[mine],
                batch.workspace,
                rescale=rescale,
            )
        )
    return _FoldStats(_stack(parts), rows, positive)


class _FoldStats:
    """Per fold: moments of ``[X, y]``, rows, and rows of positive weight."""

    def __init__(self, weighted, rows, positive):
        self.weighted = weighted
        self.rows = rows
        self.positive = positive

    def __add__(self, other):
        return _FoldStats(
            self.weighted + other.weighted,
            self.rows + other.rows,
            self.positive + other.positive,
        )


def _stack(parts):
    return Moments(
        sum(p.count for p in parts),
        np.array([p.weight for p in parts], dtype=np.float64),
        np.array([p.mean for p in parts]),
        np.array([p.scatter for p in parts]),
        np.array([p.mean_error for p in parts]),
        np.array([p.exponents for p in parts]),
    )


def _unstack(stacked, k, count):
    return Moments(
        int(count),
        np.float64(stacked.weight[k]),
        stacked.mean[k].copy(),
        stacked.scatter[k].copy(),
        stacked.mean_error[k].copy(),
        stacked.exponents[k].copy(),
    )


def _cv_results(alphas, scores):
    """GridSearchCV's ``cv_results_`` of the fold scores (NaN ranks last)."""
    means = scores.mean(axis=1)
    if np.isnan(means).all():
        ranks = np.ones(means.size, dtype=np.int32)
    else:
        filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
        ranks = rankdata(-filled, method="min").astype(np.int32)
    results = {
        "params": [{"alpha": a} for a in alphas],
        "param_alpha": np.ma.MaskedArray(alphas, mask=False),
    }
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    results["rank_test_score"] = ranks
    return results
