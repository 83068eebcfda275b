"""Lasso and elastic net by coordinate descent on the streamed Gram matrix.

One pass accumulates the weighted centered cross-products of ``[X, y]``; the
coordinate descent then runs on ``X^T X`` and ``X^T y`` alone, as
scikit-learn's runs with ``precompute=True``: its own solver is called with
the same system, so the model is scikit-learn's to rounding. The
cross-validated versions accumulate the products of every fold in the same
single pass, and score each fold's whole path from its test statistics.
"""

from __future__ import annotations

import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.linear_model import (
    ElasticNet,
    ElasticNetCV,
    Lasso,
    LassoCV,
    MultiTaskElasticNet,
    MultiTaskElasticNetCV,
    MultiTaskLasso,
    MultiTaskLassoCV,
    enet_path,
    lasso_path,
)
from sklearn.linear_model import _cd_fast as cd_fast
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state, metadata_routing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_scalar

from .._engine import Engine
from .._kernels._descent import RAND_R_MAX, multitask_gram_descent
from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import ClosedFormMixin, OutOfCoreMixin, StreamingRegressorMixin
from ..data import BatchSource, check_batch_size
from ._ridge import TargetsMixin
from ._ridge_cv import (
    _fold_score,
    _merge,
    _SplitPlan,
    _unstack,
    fold_moments,
    refuse_metadata,
)


def _enet_system(moments, n_features, fit_intercept):
    """``(X^T X, X^T Y, diag(Y^T Y))`` as scikit-learn's ElasticNet (and, for
    unweighted rows, its LARS estimators) builds them.

    The rows are centered by their weighted means when an intercept is fitted,
    and weighted by the sample weights rescaled to sum to the number of rows
    (so that the penalties keep their scale): the weighted scatter times
    ``n_rows / sum(weights)``, exactly the scatter without weights.
    """
    d = n_features
    if not moments.weight > 0:
        raise ValueError(
            "Sample weights must contain at least one non-zero number: every "
            "row seen has weight zero"
        )
    if fit_intercept:
        scatter, exponent = moments.scatter, moments.exponents
    else:
        scatter, exponent = moments.about_origin()
    if np.any(exponent):
        raise ValueError(
            "The cross-products of X and y leave float64's range (values beyond "
            "about 1e154 in magnitude, or below about 1e-154): please scale X "
            "and y, e.g. with sklearn.preprocessing.StandardScaler"
        )
    scatter = scatter * (moments.count / moments.weight)
    gram = np.ascontiguousarray(scatter[:d, :d])
    return gram, scatter[:d, d:], np.diagonal(scatter)[d:].copy()


def _check_gram(precompute, gram, fit_intercept, x_mean):
    """The Gram to use: a user's ``precompute`` array (after scikit-learn's
    check of one element against the data's), or the data's."""
    if not hasattr(precompute, "__array__"):
        return gram
    d = gram.shape[0]
    if fit_intercept and not np.allclose(x_mean, np.zeros(d)):
        warnings.warn(
            "Gram matrix was provided but X was centered to fit intercept: "
            "recomputing Gram matrix.",
            UserWarning,
            stacklevel=5,
        )
        return gram
    given = np.asarray(precompute)
    if given.shape != (d, d):
        raise ValueError(
            f"The Gram matrix passed in via 'precompute' has shape {given.shape}; "
            f"X has {d} features, so it must be ({d}, {d})"
        )
    f1 = d // 2
    f2 = min(f1 + 1, d - 1)
    rtol = 1e-4 if given.dtype == np.float32 else 1e-7
    if not np.isclose(gram[f1, f2], given[f1, f2], rtol=rtol, atol=1e-5):
        raise ValueError(
            "Gram matrix passed in via 'precompute' parameter did not pass "
            "validation when a single element was checked - please check that "
            f"it was computed properly. For element ({f1},{f2}) we computed "
            f"{gram[f1, f2]} but the user-supplied value was {given[f1, f2]}."
        )
    return np.ascontiguousarray(given, dtype=np.float64)


def _descend(coef, gram, xy, yy, n_rows, alpha, l1_ratio, params, rng):
    """One run of scikit-learn's Gram coordinate descent from ``coef`` (updated
    in place): ``(dual gap, iterations)``, the gap per row as scikit-learn
    reports it."""
    # The solver reads y only for y^T y (the scale of its tolerance and
    # of its duality gap).
    y_norm = np.sqrt(np.array([max(float(yy), 0.0)]))
    _, gap, _, n_iter = cd_fast.enet_coordinate_descent_gram(
        coef,
        alpha * l1_ratio * n_rows,
        alpha * (1.0 - l1_ratio) * n_rows,
        gram,
        np.ascontiguousarray(xy),
        y_norm,
        params["max_iter"],
        params["tol"],
        rng,
        params["selection"] == "random",
        params["positive"],
    )
    return gap / n_rows, n_iter


def _elastic_net(system, n_rows, alpha, l1_ratio, params, coef_init=None):
    """Coefficients ``(n_targets, n_features)``, dual gaps and iterations of
    the elastic net on ``system`` (see :func:`_enet_system`), one target at
    a time as scikit-learn's ``ElasticNet.fit``."""
    gram, cross, yy = system
    n_targets = cross.shape[1]
    if params["positive"] and n_targets > 1:
        raise ValueError("positive=True is not allowed for multi-output (y.ndim != 1)")
    coef = np.zeros((n_targets, gram.shape[0]))
    if coef_init is not None:
        coef[:] = np.reshape(coef_init, coef.shape)
    gaps, iters = np.zeros(n_targets), []
    for t in range(n_targets):
        rng = check_random_state(params["random_state"])
        w = np.ascontiguousarray(coef[t])
        gap, n_iter = _descend(
            w, gram, cross[:, t], yy[t], n_rows, alpha, l1_ratio, params, rng
        )
        coef[t], gaps[t] = w, gap
        iters.append(n_iter)
    return coef, gaps, iters


def _path_method(function):
    """``function`` as the ``path`` of an estimator, as scikit-learn's
    estimators offer their path function (on rows in memory)."""

    def path(X, y, **params):
        return function(X, y, **params)

    name = function.__name__
    path.__doc__ = f"""The path of in-memory data: scikit-learn's ``{name}``.

        scikit-learn's estimators offer their path function as ``path``; it
        takes the rows in memory (:func:`sklearn.linear_model.{name}`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        **params : dict
            The other arguments of ``{name}``.

        Returns
        -------
        tuple
            ``(alphas, coefs, dual_gaps)``, and the iterations with
            ``return_n_iter=True``.
        """
    return staticmethod(path)


class _GramRegressorMixin(TargetsMixin):
    """Streamed regressors whose statistics are the moments of ``[X, y]``."""

    _requires_y = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    def _summarize(self, batch):
        y = batch.y.reshape(batch.n_samples, -1)
        try:
            return moments_of_rows(
                batch.X, y, batch.sample_weight, batch.workspace, rescale=True
            )
        except ValueError as exc:
            # Values whose sums overflow: scikit-learn's descent fails on them.
            raise ValueError(
                "Coordinate descent iterations resulted in non-finite parameter "
                f"values. The input data may contain large values and need to "
                f"be preprocessed: {exc}"
            ) from exc

    def _cd_params(self):
        return {
            "max_iter": self.max_iter,
            "tol": self.tol,
            "selection": self.selection,
            "positive": self.positive,
            "random_state": self.random_state,
        }

    def _set_linear_model(self, coef, moments, fit_intercept):
        """``coef_`` and ``intercept_`` from coefficients ``(n_targets,
        n_features)``, shaped and typed as scikit-learn's."""
        d = self.n_features_in_
        if fit_intercept:
            intercept = moments.mean[d:] - coef @ moments.mean[:d]
        else:
            intercept = np.zeros(coef.shape[0])
        if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
            raise ValueError(
                "Coordinate descent iterations resulted in non-finite parameter "
                "values. The input data may contain large values and need to be "
                "preprocessed."
            )
        dtype = getattr(self, "_X_dtype", None) or np.float64
        coef = coef.astype(dtype, copy=False)
        intercept = intercept.astype(dtype, copy=False)
        one = not self._y_shape
        self.coef_ = coef[0] if one else coef
        self.intercept_ = (intercept[0] if one else intercept) if fit_intercept else 0.0

    @property
    def sparse_coef_(self):
        """Sparse representation of the fitted ``coef_``."""
        return sparse.csr_matrix(np.atleast_2d(self.coef_))

    def _predict_batch(self, X):
        return X @ self.coef_.T + self.intercept_


_CD_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "copy_X": ["boolean"],
    "tol": [Interval(Real, 0, None, closed="left")],
    "positive": ["boolean"],
    "random_state": ["random_state"],
    "selection": [StrOptions({"cyclic", "random"})],
}


@register(ElasticNet)
class StreamingElasticNet(
    _GramRegressorMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """Elastic net fitted exactly from data read one batch at a time.

    Minimizes ``1 / (2 n_samples) ||y - Xw||^2_2 + alpha l1_ratio ||w||_1 +
    alpha (1 - l1_ratio) / 2 ||w||^2_2`` as
    :class:`sklearn.linear_model.ElasticNet` does. One pass accumulates the
    weighted centered cross-products of ``[X, y]`` (merged with numerically
    stable updates, so data far from the origin lose no digits); scikit-learn's
    coordinate descent then runs on the Gram matrix ``X^T X`` and ``X^T y``, as
    it does with ``precompute=True``. The model equals scikit-learn's with
    ``precompute=True`` to rounding, and its default's (coordinate descent on
    the rows) to the tolerance ``tol``.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the penalty terms.
    l1_ratio : float, default=0.5
        The mixing parameter: 0 is an L2 penalty, 1 an L1 penalty.
    fit_intercept : bool, default=True
        Whether to fit an intercept (the data are centered implicitly, never
        copied).
    precompute : bool or array-like of shape (n_features, n_features), \
            default=False
        Accepted as scikit-learn accepts it. The Gram matrix is always what
        the coordinate descent runs on here (it is what one pass over the
        data gives); a Gram matrix passed in is checked against the data's on
        one element, as scikit-learn checks it, and used (or recomputed, with
        scikit-learn's warning, when the data are centered).
    max_iter : int, default=1000
        Maximum number of coordinate descent iterations (sweeps over the
        features; they do not read the data).
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    tol : float, default=1e-4
        The descent stops when the duality gap is below ``tol`` times
        ``y^T y`` (of the centered, weighted ``y``), as scikit-learn's.
    warm_start : bool, default=False
        Start the descent from the previous ``coef_``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows. Sparse ``X``
        is densified one batch at a time.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; ``None`` means 1, ``-1`` all
        cores. The result is bitwise the same for every value.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector (w in the cost function formula). Of X's dtype.
    sparse_coef_ : sparse matrix of shape (1, n_features) or \
            (n_targets, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term in the decision function.
    dual_gap_ : float or ndarray of shape (n_targets,)
        The dual gap at the end of the optimization, per row (as
        scikit-learn's).
    n_iter_ : int or list of int
        Iterations of the coordinate descent, per target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from (by ``fit``, or by all ``partial_fit`` calls).

    See Also
    --------
    sklearn.linear_model.ElasticNet : The in-memory estimator this one equals.
    StreamingElasticNetCV : Chooses ``alpha`` and ``l1_ratio`` by
        cross-validation, in one pass.

    Notes
    -----
    Memory: one batch of rows per thread plus ``(n_features + n_targets)^2``
    floats, whatever the number of rows. The descent itself costs
    ``n_features^2`` operations a sweep, without reading the data again;
    ``partial_fit`` adds rows to the statistics and runs the descent again
    (from the previous coefficients with ``warm_start=True``).

    The statistics and the descent are in float64 for float32 data too
    (scikit-learn descends in float32 there); ``coef_`` is of X's dtype.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.linear_model import StreamingElasticNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + 1.0
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, X)
    >>> model = StreamingElasticNet(alpha=0.1, l1_ratio=0.9)
    >>> model.fit(path, y, batch_size=300).coef_.round(2) + 0.0
    array([ 2.88,  0.  , -1.89,  0.  ])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "precompute": ["boolean", "array-like"],
        "warm_start": ["boolean"],
        **_CD_CONSTRAINTS,
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    path = _path_method(enet_path)

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        precompute=False,
        max_iter=1000,
        copy_X=True,
        tol=1e-4,
        warm_start=False,
        positive=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    # check_input is accepted as scikit-learn accepts it: each batch is
    # validated as it is read, which costs nothing worth skipping.
    __metadata_request__fit = {"check_input": metadata_routing.UNUSED}

    def fit(
        self,
        X,
        y,
        sample_weight=None,
        check_input=True,
        *,
        batch_size=None,
        batches_per_epoch=None,
    ):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows; memory maps, files and tables are read one batch at
            a time.
        y : same kinds as X, of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative row weights (rescaled to sum to the number of rows,
            as scikit-learn rescales them).
        check_input : bool, default=True
            Accepted for compatibility with scikit-learn; every batch is
            validated as it is read whatever its value.
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
            X,
            y,
            sample_weight,
            batch_size=batch_size,
            batches_per_epoch=batches_per_epoch,
        )

    def _prepare(self, source, fresh):
        if self.alpha == 0:
            warnings.warn(
                "With alpha=0, this algorithm does not converge well. You are "
                "advised to use the LinearRegression estimator",
                stacklevel=4,
            )
        if self.positive and source.y is not None and source.y.ndim > 1:
            if source.y.shape[1] > 1:
                raise ValueError(
                    "positive=True is not allowed for multi-output (y.ndim != 1)"
                )

    def _from_summaries(self, stats):
        d = self.n_features_in_
        gram, cross, yy = _enet_system(stats, d, self.fit_intercept)
        gram = _check_gram(self.precompute, gram, self.fit_intercept, stats.mean[:d])
        previous = None
        if self.warm_start and hasattr(self, "coef_"):
            previous = np.asarray(self.coef_, dtype=np.float64)
        coef, gaps, iters = _elastic_net(
            (gram, cross, yy),
            stats.count,
            float(self.alpha),
            float(self.l1_ratio),
            self._cd_params(),
            previous,
        )
        self._set_linear_model(coef, stats, self.fit_intercept)
        dtype = getattr(self, "_X_dtype", None) or np.float64
        gaps = gaps.astype(dtype)
        one = not self._y_shape
        self.dual_gap_ = gaps[0] if one else gaps
        self.n_iter_ = iters[0] if one else iters
        self.n_samples_seen_ = int(stats.count)


@register(Lasso)
class StreamingLasso(StreamingElasticNet):
    """Lasso fitted exactly from data read one batch at a time.

    Minimizes ``1 / (2 n_samples) ||y - Xw||^2_2 + alpha ||w||_1`` as
    :class:`sklearn.linear_model.Lasso` does: :class:`StreamingElasticNet`
    with ``l1_ratio=1``. One pass accumulates the weighted centered
    cross-products of ``[X, y]``; scikit-learn's coordinate descent then runs
    on ``X^T X`` and ``X^T y``, as with ``precompute=True``. The model equals
    scikit-learn's with ``precompute=True`` to rounding, and its default's to
    the tolerance ``tol``.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the L1 term.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    precompute : bool or array-like of shape (n_features, n_features), \
            default=False
        As in :class:`StreamingElasticNet`: the descent always runs on the
        Gram matrix; one passed in is checked as scikit-learn checks it.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    max_iter : int, default=1000
        Maximum number of coordinate descent sweeps.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y``.
    warm_start : bool, default=False
        Start the descent from the previous ``coef_``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector. Of X's dtype.
    sparse_coef_ : sparse matrix of shape (1, n_features) or \
            (n_targets, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term in the decision function.
    dual_gap_ : float or ndarray of shape (n_targets,)
        The dual gap at the end of the optimization, per row.
    n_iter_ : int or list of int
        Iterations of the coordinate descent, per target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.Lasso : The in-memory estimator this one equals.
    StreamingLassoCV : Chooses ``alpha`` by cross-validation, in one pass.

    Notes
    -----
    Memory: one batch of rows per thread plus ``(n_features + n_targets)^2``
    floats, whatever the number of rows.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.linear_model import StreamingLasso
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + 1.0
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, X)
    >>> StreamingLasso(alpha=0.1).fit(path, y, batch_size=300).coef_.round(2) + 0.0
    array([ 2.9,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = {
        key: value
        for key, value in StreamingElasticNet._parameter_constraints.items()
        if key != "l1_ratio"
    }

    path = _path_method(lasso_path)

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        precompute=False,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        positive=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=1.0,
            fit_intercept=fit_intercept,
            precompute=precompute,
            copy_X=copy_X,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            positive=positive,
            random_state=random_state,
            selection=selection,
            batch_size=batch_size,
            n_jobs=n_jobs,
            verbose=verbose,
        )


def _path(system, n_rows, alphas, l1_ratio, params):
    """Coefficients ``(n_alphas, n_features)`` of one target along ``alphas``
    (decreasing), each descent warm-started from the previous solution, one
    random stream for the whole path: scikit-learn's ``enet_path``."""
    gram, xy, yy = system
    xy, yy = xy[:, 0], yy[0]
    rng = check_random_state(params["random_state"])
    w = np.zeros(gram.shape[0])
    coefs = np.empty((len(alphas), gram.shape[0]))
    for i, alpha in enumerate(alphas):
        _descend(w, gram, xy, yy, n_rows, float(alpha), l1_ratio, params, rng)
        coefs[i] = w
    return coefs


def _alpha_grid(cross, weight, l1_ratio, positive, eps, n):
    """scikit-learn's grid of ``n`` alphas, from the largest one that leaves
    every coefficient at zero down to ``eps`` times it: ``cross`` is
    ``X^T y`` (of the weighted, centered rows for a model with intercept),
    ``weight`` the sum of the weights (the rows without weights)."""
    if l1_ratio == 0:
        raise ValueError(
            "Automatic alpha grid generation is not supported for l1_ratio=0. "
            "Please supply a grid by providing your estimator with the "
            "appropriate `alphas=` argument."
        )
    if positive:
        alpha_max = max(0.0, float(np.max(cross))) / (weight * l1_ratio)
    else:
        alpha_max = np.sqrt(np.max(np.sum(cross**2, axis=1))) / (weight * l1_ratio)
    resolution = np.finfo(np.float64).resolution
    if alpha_max <= resolution:
        return np.full(n, resolution)
    return np.geomspace(alpha_max, alpha_max * eps, num=n)


class _PathCVMixin(_GramRegressorMixin):
    """Cross-validation of the elastic net path from one pass of per-fold
    statistics (the ``fit`` of :class:`StreamingLassoCV` and
    :class:`StreamingElasticNetCV`)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, batch_size=None, **params):
        """Choose the penalty by cross-validation and fit the model with it.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows, read in one pass.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call.
        **params : dict
            Metadata for the splitter: only with metadata routing, which is not
            supported (as scikit-learn, an error without it).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        refuse_metadata(self, params, "its splitter")
        l1_ratios = np.atleast_1d(getattr(self, "l1_ratio", 1.0)).astype(np.float64)
        if not isinstance(self.alphas, Integral):
            for index, alpha in enumerate(self.alphas):
                check_scalar(
                    alpha,
                    f"alphas[{index}]",
                    target_type=Real,
                    min_val=0.0,
                    include_boundaries="left",
                )
        with self._transaction():
            for name in ("mse_path_", "alphas_", "l1_ratio_"):
                self.__dict__.pop(name, None)
            source = self._source(
                X, y, sample_weight, reset=True, batch_size=batch_size, fitting=True
            )
            self._check_targets()
            self._fit_path(source, l1_ratios)
            self._is_fitted = True
        return self

    def _check_targets(self):
        counterpart = type(self).__name__.replace("Streaming", "")
        if self._y_shape and self._y_shape[0] > 1:
            raise ValueError(f"For multi-task outputs, use MultiTask{counterpart}")
        if self._y_shape:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. "
                "Please change the shape of y to (n_samples, ), for example "
                "using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            self._y_shape = ()

    def _fit_path(self, source, l1_ratios):
        d = source.n_features
        cv = check_cv(self.cv)
        y_in_memory = source.y if isinstance(source.y, np.ndarray) else None
        plan = _SplitPlan(cv, source.n_samples, y_in_memory)
        width = d + (self._y_shape[0] if self._y_shape else 1)
        summarize = partial(fold_moments, plan=plan, width=width, rescale=False)
        stats = self._reduce(source, desc="fit", summarize=summarize)
        sets = [_unstack(stats.weighted, k, stats.rows[k]) for k in range(plan.n_sets)]
        total = _merge([sets[j] for j in plan.total()])
        if not total.weight > 0:
            raise ValueError(
                "Sample weights must contain at least one non-zero number: every "
                "row seen has weight zero"
            )
        if isinstance(self.alphas, Integral):
            if self.fit_intercept:
                scatter = total.scatter
            else:
                scatter, exponent = total.about_origin()
                scatter = np.ldexp(scatter, exponent[:, None] + exponent[None, :])
            alphas = [
                _alpha_grid(
                    scatter[:d, d:],
                    total.weight,
                    l1_ratio,
                    getattr(self, "positive", False),
                    self.eps,
                    self.alphas,
                )
                for l1_ratio in l1_ratios
            ]
        else:
            grid = np.sort(np.asarray(self.alphas, dtype=np.float64).ravel())[::-1]
            alphas = [grid] * len(l1_ratios)
        params = self._cd_params()
        splits = [plan.split(k) for k in range(plan.n_splits)]
        trains = [_merge([sets[j] for j in train]) for train, _ in splits]
        systems = [_enet_system(t, d, self.fit_intercept) for t in trains]
        mse = np.empty((len(l1_ratios), plan.n_splits, len(alphas[0])))
        for r, (l1_ratio, grid) in enumerate(zip(l1_ratios, alphas, strict=True)):
            for k, (train, (_, test)) in enumerate(zip(trains, splits, strict=True)):
                coefs = self._path(
                    systems[k], train.count, grid, float(l1_ratio), params
                )
                for i in range(len(grid)):
                    if self.fit_intercept:
                        intercept = train.mean[d:] - coefs[i] @ train.mean[:d]
                    else:
                        intercept = np.zeros(coefs[i].shape[0])
                    mse[r, k, i] = -_fold_score(
                        sets[test],
                        coefs[i],
                        intercept,
                        d,
                        "neg_mean_squared_error",
                        int(stats.rows[test]),
                    )
        mean_mse = mse.mean(axis=1)
        self.mse_path_ = np.squeeze(np.moveaxis(mse, 2, 1))
        best_mse = np.inf
        for l1_ratio, grid, errors in zip(l1_ratios, alphas, mean_mse, strict=True):
            i = int(np.argmin(errors))
            if errors[i] < best_mse:
                best_alpha, best_l1_ratio, best_mse = grid[i], l1_ratio, errors[i]
        if hasattr(self, "l1_ratio"):
            self.l1_ratio_ = float(best_l1_ratio)
        self.alpha_ = float(best_alpha)
        self.alphas_ = np.asarray(alphas)
        if isinstance(self.alphas, Integral):
            if len(l1_ratios) == 1:
                self.alphas_ = self.alphas_[0]
        else:
            self.alphas_ = np.asarray(alphas[0])
        gram, cross, yy = _enet_system(total, d, self.fit_intercept)
        precompute = getattr(self, "precompute", None)
        if isinstance(precompute, str):
            precompute = None
        gram = _check_gram(precompute, gram, self.fit_intercept, total.mean[:d])
        self._refit((gram, cross, yy), total, float(best_l1_ratio), params)
        self.n_samples_seen_ = int(total.count)

    def _path(self, system, n_rows, alphas, l1_ratio, params):
        """Coefficients ``(n_alphas, n_targets, n_features)`` along ``alphas``."""
        return _path(system, n_rows, alphas, l1_ratio, params)[:, None, :]

    def _refit(self, system, total, l1_ratio, params):
        coef, gaps, iters = _elastic_net(
            system, total.count, self.alpha_, l1_ratio, params
        )
        self._set_linear_model(coef, total, self.fit_intercept)
        self.dual_gap_ = gaps[0]
        self.n_iter_ = iters[0]


_CV_CONSTRAINTS = {
    "eps": [Interval(Real, 0, None, closed="neither")],
    "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "precompute": [StrOptions({"auto"}), "array-like", "boolean"],
    "cv": ["cv_object"],
    **_CD_CONSTRAINTS,
    **OutOfCoreMixin._ooc_parameter_constraints,
}


@register(LassoCV)
class StreamingLassoCV(
    _PathCVMixin, StreamingRegressorMixin, RegressorMixin, OutOfCoreMixin, BaseEstimator
):
    """Lasso with ``alpha`` chosen by cross-validation, in one pass over the data.

    The counterpart of :class:`sklearn.linear_model.LassoCV`, with its
    parameters, defaults and attributes. One pass accumulates the weighted
    centered cross-products of ``[X, y]`` of every test fold; the training
    statistics of a split are the merge of the other folds', the whole path
    of each split is descended on its Gram matrix, and its mean squared
    error on the test fold is a quadratic form in that fold's statistics: no
    second look at the rows. The model is then refitted on all the rows with
    the best ``alpha``.

    Parameters
    ----------
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of the automatic grid, or the alphas to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    precompute : 'auto', bool or array-like of shape (n_features, n_features), \
            default='auto'
        Accepted as scikit-learn accepts it: the descent always runs on the
        Gram matrix here (a Gram matrix passed in is used for the final model,
        after scikit-learn's check).
    max_iter : int, default=1000
        Maximum number of coordinate descent sweeps per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y``.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold, an int the number of folds
        (:class:`~sklearn.model_selection.KFold`), or a splitter or an
        iterable of ``(train, test)`` index arrays (each row's membership is
        kept in memory, one byte per row and split).
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    coef_ : ndarray of shape (n_features,)
        Parameter vector, of X's dtype.
    sparse_coef_ : sparse matrix of shape (1, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float
        Independent term in the decision function.
    mse_path_ : ndarray of shape (n_alphas, n_folds)
        Mean squared error on each test fold for every alpha.
    alphas_ : ndarray of shape (n_alphas,)
        The grid of alphas used.
    dual_gap_ : float
        The dual gap of the final model, per row.
    n_iter_ : int
        Coordinate descent sweeps of the final model.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.LassoCV : The in-memory estimator this one equals.
    StreamingLasso : The Lasso at a given ``alpha``.

    Notes
    -----
    Memory: ``(n_features + 1)^2`` floats per fold and a batch of rows per
    thread. scikit-learn descends each fold's path on the rows or on the
    Gram (``precompute``); both reach the same solutions to the tolerance,
    and with ``precompute=True`` the errors and the chosen alpha are its own
    to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + rng.normal(size=1000)
    >>> model = StreamingLassoCV(cv=3).fit(X, y, batch_size=300)
    >>> model.coef_.round(1) + 0.0
    array([ 3. ,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = dict(_CV_CONSTRAINTS)

    path = _path_method(lasso_path)

    def __init__(
        self,
        *,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        precompute="auto",
        max_iter=1000,
        tol=1e-4,
        copy_X=True,
        cv=None,
        verbose=False,
        n_jobs=None,
        positive=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
    ):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size


@register(ElasticNetCV)
class StreamingElasticNetCV(
    _PathCVMixin, StreamingRegressorMixin, RegressorMixin, OutOfCoreMixin, BaseEstimator
):
    """Elastic net with ``alpha`` and ``l1_ratio`` chosen by cross-validation,
    in one pass over the data.

    The counterpart of :class:`sklearn.linear_model.ElasticNetCV`, with its
    parameters, defaults and attributes, computed as
    :class:`StreamingLassoCV` computes them: one pass of per-fold statistics,
    every split's path for every ``l1_ratio`` descended on its Gram matrix
    and scored from its test fold's statistics.

    Parameters
    ----------
    l1_ratio : float or array-like of float, default=0.5
        The mixing parameter(s) to try: 0 is an L2 penalty (then ``alphas``
        must be given), 1 an L1 penalty.
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of each automatic grid, or the alphas to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    precompute : 'auto', bool or array-like of shape (n_features, n_features), \
            default='auto'
        Accepted as scikit-learn accepts it; the descent always runs on the
        Gram matrix here.
    max_iter : int, default=1000
        Maximum number of coordinate descent sweeps per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y``.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    l1_ratio_ : float
        The mixing parameter chosen by cross-validation.
    coef_ : ndarray of shape (n_features,)
        Parameter vector, of X's dtype.
    sparse_coef_ : sparse matrix of shape (1, n_features)
        Sparse representation of ``coef_``.
    intercept_ : float
        Independent term in the decision function.
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Mean squared error on each test fold for every l1_ratio and alpha
        (without the first axis for one l1_ratio).
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid(s) of alphas used.
    dual_gap_ : float
        The dual gap of the final model, per row.
    n_iter_ : int
        Coordinate descent sweeps of the final model.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.ElasticNetCV : The in-memory estimator this one
        equals.
    StreamingElasticNet : The elastic net at a given penalty.

    Notes
    -----
    Memory: ``(n_features + 1)^2`` floats per fold and a batch of rows per
    thread; the rows are read once whatever the number of l1_ratios.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + rng.normal(size=1000)
    >>> model = StreamingElasticNetCV(l1_ratio=[0.5, 1.0], cv=3).fit(X, y)
    >>> float(model.l1_ratio_), model.coef_.round(1) + 0.0
    (1.0, array([ 3. ,  0. , -1.9,  0. ]))
    """

    _parameter_constraints: dict = {
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        **_CV_CONSTRAINTS,
    }

    path = _path_method(enet_path)

    def __init__(
        self,
        *,
        l1_ratio=0.5,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        precompute="auto",
        max_iter=1000,
        tol=1e-4,
        cv=None,
        copy_X=True,
        verbose=0,
        n_jobs=None,
        positive=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size


def _multitask(system, n_rows, alpha, l1_ratio, params, rng, coef=None):
    """Coefficients ``(n_targets, n_features)``, duality gap, its target and
    sweeps of the multi-task elastic net on ``system`` (from ``coef``)."""
    gram, cross, yy = system
    W = np.zeros((cross.shape[1], gram.shape[0])) if coef is None else coef
    gap, tol, n_iter, converged = multitask_gram_descent(
        W,
        alpha * l1_ratio * n_rows,
        alpha * (1.0 - l1_ratio) * n_rows,
        gram,
        np.ascontiguousarray(cross),
        float(np.sum(yy)),
        params["max_iter"],
        params["tol"],
        rng.randint(0, RAND_R_MAX),
        params["selection"] == "random",
        True,
    )
    if not converged:
        warnings.warn(
            "Objective did not converge. You might want to increase the number "
            "of iterations, check the scale of the features or consider "
            f"increasing regularisation. Duality gap: {gap:.6e}, tolerance: "
            f"{tol:.3e}",
            ConvergenceWarning,
            stacklevel=5,
        )
    return W, gap, tol, n_iter


class _MultiTaskMixin:
    """Multi-task elastic nets: the L2,1 penalty couples the targets."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _check_targets(self):
        if not self._y_shape:
            single = "ElasticNet" if "ElasticNet" in type(self).__name__ else "Lasso"
            raise ValueError(f"For mono-task outputs, use {single}")


class _MultiTaskElasticNetBase(
    _MultiTaskMixin,
    _GramRegressorMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    def _cd_params(self):
        return {
            "max_iter": self.max_iter,
            "tol": self.tol,
            "selection": self.selection,
            "positive": False,
            "random_state": self.random_state,
        }

    def _prepare(self, source, fresh):
        if fresh:
            self._check_targets()

    def _from_summaries(self, stats):
        d = self.n_features_in_
        system = _enet_system(stats, d, self.fit_intercept)
        coef = None
        if self.warm_start and hasattr(self, "coef_"):
            coef = np.array(self.coef_, dtype=np.float64, order="C", ndmin=2)
        coef, gap, tol, n_iter = _multitask(
            system,
            stats.count,
            float(self.alpha),
            float(self.l1_ratio),
            self._cd_params(),
            check_random_state(self.random_state),
            coef,
        )
        self._set_linear_model(coef, stats, self.fit_intercept)
        self.dual_gap_ = gap
        self.eps_ = tol
        self.n_iter_ = n_iter
        self.n_samples_seen_ = int(stats.count)


@register(MultiTaskElasticNet)
class StreamingMultiTaskElasticNet(_MultiTaskElasticNetBase):
    """Multi-task elastic net fitted exactly from data read one batch at a time.

    Minimizes ``1 / (2 n_samples) ||Y - XW^T||^2_F + alpha l1_ratio ||W||_21
    + alpha (1 - l1_ratio) / 2 ||W||_F^2`` as
    :class:`sklearn.linear_model.MultiTaskElasticNet` does: the same block
    coordinate descent (sweeps, stopping rule, gap-safe screening), run on
    the Gram matrix ``X^T X``, ``X^T Y`` and ``||Y||^2`` of one pass instead of
    the rows. The model equals scikit-learn's to the tolerance, and to
    rounding with a tolerance below it.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the penalty terms.
    l1_ratio : float, default=0.5
        The mixing parameter: 1 is the L2,1 penalty alone.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    max_iter : int, default=1000
        Maximum number of sweeps over the features.
    tol : float, default=1e-4
        The descent stops when the duality gap is below ``tol`` times
        ``||Y||^2`` (centered, weighted), as scikit-learn's.
    warm_start : bool, default=False
        Start the descent from the previous ``coef_``.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``
        (scikit-learn's generator, so the same seed draws the same order).
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features)
        Parameter matrix, of X's dtype.
    intercept_ : ndarray of shape (n_targets,)
        Independent term in the decision function.
    dual_gap_ : float
        The duality gap at the end of the optimization (not per row, as
        scikit-learn's multi-task models report it).
    eps_ : float
        The tolerance scaled by ``||Y||^2``.
    n_iter_ : int
        Sweeps of the coordinate descent.
    sparse_coef_ : sparse matrix of shape (n_targets, n_features)
        Sparse representation of ``coef_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.MultiTaskElasticNet : The in-memory estimator this
        one equals.
    StreamingMultiTaskElasticNetCV : Chooses the penalty by cross-validation.

    Notes
    -----
    Memory: one batch of rows per thread plus ``(n_features + n_targets)^2``
    floats; a sweep costs ``n_features^2 n_targets`` operations whatever the
    number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingMultiTaskElasticNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> Y = X @ [[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0]]
    >>> model = StreamingMultiTaskElasticNet(alpha=0.1).fit(X, Y, batch_size=300)
    >>> model.coef_.round(2) + 0.0
    array([[ 0.93,  0.  , -0.92],
           [ 1.86,  0.  ,  0.92]])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "warm_start": ["boolean"],
        **{k: v for k, v in _CD_CONSTRAINTS.items() if k != "positive"},
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        fit_intercept=True,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(MultiTaskLasso)
class StreamingMultiTaskLasso(StreamingMultiTaskElasticNet):
    """Multi-task Lasso fitted exactly from data read one batch at a time.

    Minimizes ``1 / (2 n_samples) ||Y - XW^T||^2_F + alpha ||W||_21`` as
    :class:`sklearn.linear_model.MultiTaskLasso` does:
    :class:`StreamingMultiTaskElasticNet` with ``l1_ratio=1``, its block
    coordinate descent run on the Gram matrix of one pass.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the L2,1 term.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    max_iter : int, default=1000
        Maximum number of sweeps over the features.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``||Y||^2``.
    warm_start : bool, default=False
        Start the descent from the previous ``coef_``.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.

    Attributes
    ----------
    coef_ : ndarray of shape (n_targets, n_features)
        Parameter matrix, of X's dtype.
    intercept_ : ndarray of shape (n_targets,)
        Independent term in the decision function.
    dual_gap_ : float
        The duality gap at the end of the optimization.
    eps_ : float
        The tolerance scaled by ``||Y||^2``.
    n_iter_ : int
        Sweeps of the coordinate descent.
    sparse_coef_ : sparse matrix of shape (n_targets, n_features)
        Sparse representation of ``coef_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.MultiTaskLasso : The in-memory estimator this one
        equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingMultiTaskLasso
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> Y = X @ [[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0]]
    >>> StreamingMultiTaskLasso(alpha=0.1).fit(X, Y).coef_.round(2) + 0.0
    array([[ 0.95,  0.  , -0.93],
           [ 1.91,  0.  ,  0.93]])
    """

    _parameter_constraints: dict = {
        key: value
        for key, value in StreamingMultiTaskElasticNet._parameter_constraints.items()
        if key != "l1_ratio"
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        copy_X=True,
        max_iter=1000,
        tol=1e-4,
        warm_start=False,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            alpha=alpha,
            l1_ratio=1.0,
            fit_intercept=fit_intercept,
            copy_X=copy_X,
            max_iter=max_iter,
            tol=tol,
            warm_start=warm_start,
            random_state=random_state,
            selection=selection,
            batch_size=batch_size,
            n_jobs=n_jobs,
            verbose=verbose,
        )


class _MultiTaskPathCVMixin(_MultiTaskMixin, _PathCVMixin):
    """The cross-validated multi-task elastic nets: the path of every split
    by the multi-task descent, warm-started along the alphas."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def _check_targets(self):
        if not self._y_shape:
            counterpart = type(self).__name__.replace("StreamingMultiTask", "")
            raise ValueError(f"For mono-task outputs, use {counterpart}")

    def _cd_params(self):
        return {
            "max_iter": self.max_iter,
            "tol": self.tol,
            "selection": self.selection,
            "positive": False,
            "random_state": self.random_state,
        }

    def _path(self, system, n_rows, alphas, l1_ratio, params):
        rng = check_random_state(params["random_state"])
        coef = np.zeros((system[1].shape[1], system[0].shape[0]))
        coefs = np.empty((len(alphas),) + coef.shape)
        for i, alpha in enumerate(alphas):
            _multitask(system, n_rows, float(alpha), l1_ratio, params, rng, coef)
            coefs[i] = coef
        return coefs

    def _refit(self, system, total, l1_ratio, params):
        rng = check_random_state(params["random_state"])
        coef, gap, _, n_iter = _multitask(
            system, total.count, self.alpha_, l1_ratio, params, rng
        )
        self._set_linear_model(coef, total, self.fit_intercept)
        self.dual_gap_ = gap
        self.n_iter_ = n_iter


_MULTITASK_CV_CONSTRAINTS = {
    key: value
    for key, value in _CV_CONSTRAINTS.items()
    if key not in ("precompute", "positive")
}


@register(MultiTaskLassoCV)
class StreamingMultiTaskLassoCV(
    _MultiTaskPathCVMixin,
    StreamingRegressorMixin,
    RegressorMixin,
    OutOfCoreMixin,
    BaseEstimator,
):
    """Multi-task Lasso with ``alpha`` chosen by cross-validation, in one pass.

    The counterpart of :class:`sklearn.linear_model.MultiTaskLassoCV`: one
    pass accumulates the cross-products of ``[X, Y]`` of every test fold;
    each split's path is descended on its Gram matrix (the block coordinate
    descent of :class:`StreamingMultiTaskLasso`) and scored from its test
    fold's statistics.

    Parameters
    ----------
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of the automatic grid, or the alphas to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    max_iter : int, default=1000
        Maximum number of sweeps per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``||Y||^2``.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    coef_ : ndarray of shape (n_targets, n_features)
        Parameter matrix, of X's dtype.
    intercept_ : ndarray of shape (n_targets,)
        Independent term in the decision function.
    mse_path_ : ndarray of shape (n_alphas, n_folds)
        Mean squared error on each test fold for every alpha.
    alphas_ : ndarray of shape (n_alphas,)
        The grid of alphas used.
    dual_gap_ : float
        The duality gap of the final model.
    n_iter_ : int
        Sweeps of the final model's descent.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.MultiTaskLassoCV : The in-memory estimator this one
        equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingMultiTaskLassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> Y = X @ [[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0]] + rng.normal(size=(1000, 2))
    >>> model = StreamingMultiTaskLassoCV(cv=3).fit(X, Y)
    >>> model.coef_.round(1) + 0.0
    array([[ 1.,  0., -1.],
           [ 2.,  0.,  1.]])
    """

    _parameter_constraints: dict = dict(_MULTITASK_CV_CONSTRAINTS)

    path = _path_method(lasso_path)

    def __init__(
        self,
        *,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        copy_X=True,
        cv=None,
        verbose=False,
        n_jobs=None,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
    ):
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size


@register(MultiTaskElasticNetCV)
class StreamingMultiTaskElasticNetCV(
    _MultiTaskPathCVMixin,
    StreamingRegressorMixin,
    RegressorMixin,
    OutOfCoreMixin,
    BaseEstimator,
):
    """Multi-task elastic net with its penalty chosen by cross-validation, in
    one pass.

    The counterpart of :class:`sklearn.linear_model.MultiTaskElasticNetCV`,
    computed as :class:`StreamingMultiTaskLassoCV` computes it, for every
    ``l1_ratio``.

    Parameters
    ----------
    l1_ratio : float or array-like of float, default=0.5
        The mixing parameter(s) to try.
    eps : float, default=1e-3
        Length of the path: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of each automatic grid, or the alphas to try.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    max_iter : int, default=1000
        Maximum number of sweeps per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``||Y||^2``.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar over batches.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The penalty chosen by cross-validation.
    l1_ratio_ : float
        The mixing parameter chosen by cross-validation.
    coef_ : ndarray of shape (n_targets, n_features)
        Parameter matrix, of X's dtype.
    intercept_ : ndarray of shape (n_targets,)
        Independent term in the decision function.
    mse_path_ : ndarray of shape (n_l1_ratio, n_alphas, n_folds)
        Mean squared error on each test fold (without the first axis for one
        l1_ratio).
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid(s) of alphas used.
    dual_gap_ : float
        The duality gap of the final model.
    n_iter_ : int
        Sweeps of the final model's descent.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.MultiTaskElasticNetCV : The in-memory estimator this
        one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingMultiTaskElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> Y = X @ [[1.0, 2.0], [0.0, 0.0], [-1.0, 1.0]] + rng.normal(size=(1000, 2))
    >>> model = StreamingMultiTaskElasticNetCV(l1_ratio=[0.5, 1.0], cv=3).fit(X, Y)
    >>> float(model.l1_ratio_)
    1.0
    """

    _parameter_constraints: dict = {
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), "array-like"],
        **_MULTITASK_CV_CONSTRAINTS,
    }

    path = _path_method(enet_path)

    def __init__(
        self,
        *,
        l1_ratio=0.5,
        eps=1e-3,
        alphas=100,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        cv=None,
        copy_X=True,
        verbose=0,
        n_jobs=None,
        random_state=None,
        selection="cyclic",
        batch_size="auto",
    ):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.selection = selection
        self.batch_size = batch_size


def streamed_gram(X, y, *, batch_size="auto", n_jobs=None, name="path"):
    """``(X^T X, X^T Y, diag(Y^T Y), n_samples, Y's trailing shape)`` of the
    raw rows, from one pass (the path functions do not center)."""
    source = BatchSource(X, y, batch_size=check_batch_size(batch_size))
    if source.y is None:
        raise ValueError(f"{name} needs y, the target of every row")

    def summarize(batch):
        Y = np.asarray(batch.y, dtype=np.float64).reshape(batch.n_samples, -1)
        return moments_of_rows(batch.X, Y, None, batch.workspace, rescale=True)

    engine = Engine(n_jobs=n_jobs, verbose=0, name=name)
    moments = engine.reduce(source, range(source.n_batches), summarize, desc=name)
    if moments is None:
        raise ValueError(f"{name} needs at least one row")
    gram, cross, yy = _enet_system(moments, source.n_features, fit_intercept=False)
    return gram, cross, yy, int(moments.count), source.y.shape[1:]


def enet_path(
    X,
    y,
    *,
    l1_ratio=0.5,
    eps=1e-3,
    alphas=100,
    coef_init=None,
    return_n_iter=False,
    positive=False,
    max_iter=1000,
    tol=1e-4,
    random_state=None,
    selection="cyclic",
    batch_size="auto",
    n_jobs=None,
):
    """The elastic net path from one pass over the rows.

    scikit-learn's :func:`~sklearn.linear_model.enet_path` with a Gram
    matrix: one pass accumulates ``X^T X``, ``X^T y`` and ``y^T y`` of the
    rows as they are (the path does not center them, as scikit-learn's does
    not), and every alpha's coordinate descent runs on them, warm-started
    from the previous alpha. A 2-D ``y`` takes the multi-task descent.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
            shape (n_samples, n_features)
        The rows, read one batch at a time.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The target(s).
    l1_ratio : float, default=0.5
        The mixing parameter: 1 is the Lasso.
    eps : float, default=1e-3
        Length of the automatic grid: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of the automatic grid, or the alphas (sorted
        in decreasing order, as scikit-learn sorts them).
    coef_init : ndarray of shape (n_features,) or (n_targets, n_features), \
            default=None
        The starting coefficients.
    return_n_iter : bool, default=False
        Also return the iterations of each alpha.
    positive : bool, default=False
        Restrict the coefficients to be non-negative (one target only).
    max_iter : int, default=1000
        Maximum sweeps per alpha.
    tol : float, default=1e-4
        Tolerance on the duality gap, relative to ``y^T y``.
    random_state : int, RandomState instance or None, default=None
        The seed of the random feature order when ``selection='random'``.
    selection : {'cyclic', 'random'}, default='cyclic'
        Update the features in order, or in a random order each sweep.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel; the result is bitwise the same for
        every value.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        The alphas along the path.
    coefs : ndarray of shape (n_features, n_alphas) or \
            (n_targets, n_features, n_alphas)
        The coefficients along the path.
    dual_gaps : ndarray of shape (n_alphas,)
        The duality gaps at the end of each descent (per row for one target,
        as scikit-learn's).
    n_iters : list of int
        The sweeps of each descent (with ``return_n_iter=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import enet_path
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [4.0, 1.0]])
    >>> y = X @ [1.0, -1.0]
    >>> alphas, coefs, _ = enet_path(X, y, alphas=[1.0, 0.1], l1_ratio=0.9)
    >>> coefs.round(3) + 0.0
    array([[ 0.309,  0.921],
           [ 0.   , -0.884]])
    """
    gram, cross, yy, n_rows, y_tail = streamed_gram(
        X, y, batch_size=batch_size, n_jobs=n_jobs, name="enet_path"
    )
    multi = bool(y_tail)
    if multi and positive:
        raise ValueError("positive=True is not allowed for multi-output (y.ndim != 1)")
    if isinstance(alphas, Integral):
        grid = _alpha_grid(cross, n_rows, l1_ratio, positive, eps, alphas)
    else:
        grid = np.sort(np.asarray(alphas, dtype=np.float64).ravel())[::-1]
    params = {
        "max_iter": max_iter,
        "tol": tol,
        "selection": selection,
        "positive": positive,
        "random_state": random_state,
    }
    rng = check_random_state(random_state)
    d = gram.shape[0]
    gaps, iters = np.empty(len(grid)), []
    if multi:
        coef = np.zeros((cross.shape[1], d))
        if coef_init is not None:
            coef[:] = coef_init
        coefs = np.empty((cross.shape[1], d, len(grid)))
        for i, alpha in enumerate(grid):
            _, gaps[i], _, n_iter = _multitask(
                (gram, cross, yy), n_rows, float(alpha), l1_ratio, params, rng, coef
            )
            coefs[..., i] = coef
            iters.append(n_iter)
    else:
        w = np.zeros(d) if coef_init is None else np.array(coef_init, dtype=np.float64)
        coefs = np.empty((d, len(grid)))
        for i, alpha in enumerate(grid):
            gaps[i], n_iter = _descend(
                w, gram, cross[:, 0], yy[0], n_rows, float(alpha), l1_ratio, params, rng
            )
            coefs[:, i] = w
            iters.append(n_iter)
    if return_n_iter:
        return grid, coefs, gaps, iters
    return grid, coefs, gaps


def lasso_path(X, y, *, eps=1e-3, alphas=100, **params):
    """The Lasso path from one pass over the rows.

    :func:`enet_path` with ``l1_ratio=1``: scikit-learn's
    :func:`~sklearn.linear_model.lasso_path` with a Gram matrix.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
            shape (n_samples, n_features)
        The rows, read one batch at a time.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The target(s).
    eps : float, default=1e-3
        Length of the automatic grid: ``alpha_min / alpha_max = eps``.
    alphas : int or array-like, default=100
        The number of alphas of the automatic grid, or the alphas.
    **params : dict
        The other arguments of :func:`enet_path`.

    Returns
    -------
    alphas : ndarray of shape (n_alphas,)
        The alphas along the path.
    coefs : ndarray of shape (n_features, n_alphas) or \
            (n_targets, n_features, n_alphas)
        The coefficients along the path.
    dual_gaps : ndarray of shape (n_alphas,)
        The duality gaps at the end of each descent.
    n_iters : list of int
        The sweeps of each descent (with ``return_n_iter=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import lasso_path
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [4.0, 1.0]])
    >>> y = X @ [1.0, -1.0]
    >>> alphas, coefs, _ = lasso_path(X, y, alphas=[1.0, 0.1])
    >>> coefs.round(3) + 0.0
    array([[ 0.3  ,  0.92 ],
           [ 0.   , -0.883]])
    """
    return enet_path(X, y, l1_ratio=1.0, eps=eps, alphas=alphas, **params)
