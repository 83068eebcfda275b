"""Ridge regression with K-fold cross-validation of alpha, in one pass."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import Moments, moments_of_rows
from ..base import OutOfCoreMixin, StreamingRegressorMixin
from ._ridge import _penalties, _ridge_solution, _sklearn_shapes


def _fold_ids(cv, n_samples):
    """The test fold of every row (the splitter must partition the rows)."""
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
        cv = cv.split(np.broadcast_to(np.zeros(1), (n_samples, 1)))
    folds = np.full(n_samples, -1, dtype=np.int32)
    k = -1
    for k, (train, test) in enumerate(cv):
        if np.any(folds[test] >= 0):
            raise ValueError("cv must split the rows into disjoint test folds")
        if len(train) + len(test) != n_samples:
            raise ValueError("each split of cv must train on all the other rows")
        folds[test] = k
    if np.any(folds < 0):
        raise ValueError("cv must put every row in one test fold (K-fold)")
    return folds, k + 1


def _fold_score(moments, coef, intercept, n_features, scoring):
    """Score of a linear model on rows with the given moments.

    The residual ``e = y_t - x.w_t - b_t`` is ``z.v_t - b_t`` with
    ``z = [x, y]`` and ``v_t = [-w_t, e_t]``, so its weighted sum of squares
    is ``v_t^T S v_t + W (mean.v_t - b_t)^2``: a quadratic form in the
    fold's statistics, no second look at its rows.

    For a scatter scaled by powers of two (see
    :attr:`~sklearn_ooc._stats.Moments.exponent`), the sums of squares of
    target ``t`` are computed scaled by ``2**(-2 e_t)``, as its total sum of
    squares is: R² is their ratio, whatever the scale of y.
    """
    d = n_features
    n_targets = coef.shape[0]
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


def _from_ridge_cv(params):
    """RidgeCV's parameters as ours (for ``out_of_core``)."""
    if params["cv"] is None:
        raise ValueError(
            "RidgeCV(cv=None) chooses alpha by efficient leave-one-out, which "
            "StreamingRidgeCV does not compute; pass cv=5 (or a splitter) to "
            "choose it by K-fold cross-validation in one pass"
        )
    if params["scoring"] is None:
        # With folds, scikit-learn scores by the estimator's score: R^2.
        params["scoring"] = "r2"
    return params


@register(RidgeCV, convert=_from_ridge_cv)
class StreamingRidgeCV(
    StreamingRegressorMixin, RegressorMixin, OutOfCoreMixin, BaseEstimator
):
    """Ridge regression with alpha chosen by K-fold cross-validation, in one pass.

    The data are read once. Each row's statistics go to its test fold; the
    model of fold ``k`` comes from the merged statistics of the other folds,
    and its error on fold ``k`` is a quadratic form in fold ``k``'s
    statistics, so every alpha of every fold is scored without reading a row
    again. The model of the best alpha is then fitted on all the statistics.
    Same ``alpha_``, coefficients and fold scores as
    ``GridSearchCV(Ridge(), {"alpha": alphas}, cv=KFold(cv))``.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Penalties to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    cv : int, KFold or iterable of (train, test) splits, default=5
        Folds: an int means ``KFold(cv)`` (contiguous folds, no shuffling); a
        :class:`~sklearn.model_selection.KFold` with ``shuffle=True`` too, or
        explicit splits. Every row must be in exactly one test fold.
    scoring : {'r2', 'neg_mean_squared_error'}, default='r2'
        Score of a fold (R² as ``Ridge.score``, averaged over targets).
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    best_score_ : float
        Its mean test score over the folds.
    cv_results_ : dict
        ``params``, ``param_alpha``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score`` and ``rank_test_score``, as in
        :class:`~sklearn.model_selection.GridSearchCV`.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients of the model fitted on all rows with ``alpha_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Its intercept.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows read.

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
        "alphas": ["array-like"],
        "fit_intercept": ["boolean"],
        "cv": [
            Interval(Integral, 2, None, closed="left"),
            HasMethods(["split"]),
            "array-like",
        ],
        "scoring": [StrOptions({"r2", "neg_mean_squared_error"})],
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alphas=(0.1, 1.0, 10.0),
        *,
        fit_intercept=True,
        cv=5,
        scoring="r2",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, sample_weight=None, *, batch_size=None):
        """Read the data once; cross-validate every alpha; fit the best.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or array store of shape \
                (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or np.any(alphas < 0):
            raise ValueError(f"alphas must be non-negative and not empty, got {alphas}")
        with self._transaction():
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            folds, n_folds = _fold_ids(self.cv, source.n_samples)
            d = source.n_features
            y_shape = source.y.shape[1:]
            width = d + (y_shape[0] if y_shape else 1)

            def summarize(batch):
                ids = folds[batch.start : batch.stop]
                Y = batch.y.reshape(batch.n_samples, -1)
                w = batch.sample_weight
                parts = []
                for k in range(n_folds):
                    mine = ids == k
                    if not mine.any():
                        parts.append(Moments.zero(width))
                        continue
                    parts.append(
                        moments_of_rows(
                            np.ascontiguousarray(batch.X[mine]),
                            np.ascontiguousarray(Y[mine]),
                            None if w is None else w[mine],
                            batch.workspace,
                            rescale=True,
                        )
                    )
                return _stack(parts)

            stacked = self._reduce(source, desc="fit", summarize=summarize)
            per_fold = [_unstack(stacked, k) for k in range(n_folds)]
            n_targets = width - d
            scores = np.empty((alphas.size, n_folds))
            for k in range(n_folds):
                train = _merge([per_fold[j] for j in range(n_folds) if j != k])
                for a, alpha in enumerate(alphas):
                    coef, intercept = _ridge_solution(
                        train, d, np.repeat(alpha, n_targets), self.fit_intercept
                    )
                    scores[a, k] = _fold_score(
                        per_fold[k], coef, intercept, d, self.scoring
                    )
            best = int(np.argmax(scores.mean(axis=1)))
            self.alpha_ = float(alphas[best])
            self.best_score_ = float(scores[best].mean())
            self.cv_results_ = _cv_results(alphas, scores)
            total = _merge(per_fold)
            coef, intercept = _ridge_solution(
                total, d, _penalties(self.alpha_, n_targets), self.fit_intercept
            )
            self.coef_, self.intercept_ = _sklearn_shapes(
                coef, intercept, y_shape, self.fit_intercept
            )
            self.n_samples_seen_ = int(stacked.count)
            self._is_fitted = True
        return self

    def _predict_batch(self, X):
        check_is_fitted(self)
        return X @ self.coef_.T + self.intercept_


def _stack(parts):
    return Moments(
        sum(p.count for p in parts),
        np.array([p.weight for p in parts], dtype=np.float64),
        np.array([p.mean for p in parts]),
        np.array([p.scatter for p in parts]),
        np.array([p.mean_error for p in parts]),
        np.array([p.exponents for p in parts]),
    )


def _unstack(stacked, k):
    return Moments(
        0,
        np.float64(stacked.weight[k]),
        stacked.mean[k].copy(),
        stacked.scatter[k].copy(),
        stacked.mean_error[k].copy(),
        stacked.exponents[k].copy(),
    )


def _cv_results(alphas, scores):
    n_alphas, n_folds = scores.shape
    means = scores.mean(axis=1)
    order = np.argsort(-means, kind="stable")
    ranks = np.empty(n_alphas, dtype=np.int32)
    # GridSearchCV ranks ties with the smallest rank ("min").
    sorted_means = means[order]
    rank = 1
    for position, index in enumerate(order):
        if position and sorted_means[position] != sorted_means[position - 1]:
            rank = position + 1
        ranks[index] = rank
    results = {
        "params": [{"alpha": float(a)} for a in alphas],
        "param_alpha": np.ma.MaskedArray(alphas, mask=False),
    }
    for k in range(n_folds):
        results[f"split{k}_test_score"] = scores[:, k]
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    results["rank_test_score"] = ranks
    return results
