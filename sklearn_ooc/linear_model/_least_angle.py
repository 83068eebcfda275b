"""Least angle regression and the LARS Lasso from the streamed Gram matrix.

scikit-learn's ``lars_path`` runs on ``X^T X`` and ``X^T y`` alone when it is
given the Gram matrix (``lars_path_gram``): one pass accumulates them, and
its own solver computes the path, as ``Lars`` and ``LassoLars`` do with
``precompute=True``. The information criteria of ``LassoLarsIC`` are
quadratic forms in the same statistics.
"""

from __future__ import annotations

import warnings
from functools import partial
from math import log
from numbers import Integral, Real

import numpy as np
from scipy import interpolate, linalg, optimize
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import (
    Lars,
    LarsCV,
    LassoLars,
    LassoLarsCV,
    LassoLarsIC,
    lars_path_gram,
)
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from .._engine import Engine
from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import (
    ClosedFormMixin,
    OutOfCoreMixin,
    StreamingRegressorMixin,
    _counterpart_name,
)
from ._coordinate_descent import _enet_system, _GramRegressorMixin, streamed_gram
from ._ridge_cv import (
    _fold_score,
    _merge,
    _SplitPlan,
    _unstack,
    fold_moments,
    refuse_metadata,
)

# scikit-learn's default eps (the Cholesky regularization of the path).
_EPS = np.finfo(float).eps


def _one_target(estimator, source):
    """Refuse a ``y`` of several targets, and take a column as 1-D with
    scikit-learn's warning (for the estimators of one target)."""
    if not estimator._y_shape:
        return
    if estimator._y_shape[0] > 1:
        raise ValueError(
            f"y should be a 1d array, got an array of shape {source.y.shape} instead."
        )
    warnings.warn(
        "A column-vector y was passed when a 1d array was expected. Please "
        "change the shape of y to (n_samples, ), for example using ravel().",
        DataConversionWarning,
        stacklevel=5,
    )
    estimator._y_shape = ()


class _LarsBase(
    _GramRegressorMixin,
    StreamingRegressorMixin,
    ClosedFormMixin,
    RegressorMixin,
    BaseEstimator,
):
    """The fit of :class:`StreamingLars` and :class:`StreamingLassoLars`:
    ``lars_path_gram`` on one pass's statistics, one target at a time."""

    method = "lar"

    def fit(self, X, y, Xy=None, *, batch_size=None):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows; memory maps, files and tables are read one batch at
            a time.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        Xy : array-like of shape (n_features,) or (n_features, n_targets), \
                default=None
            ``X^T y``, if already known: used in place of the one the pass
            computes, as scikit-learn uses it with a Gram matrix.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._given_Xy = None if Xy is None else np.asarray(Xy, dtype=np.float64)
        try:
            return super().fit(X, y, batch_size=batch_size)
        finally:
            del self._given_Xy

    def _engine(self):
        # The jitter is drawn row by row in order, as scikit-learn draws it
        # for all rows at once: the batches are summarized in order.
        n_jobs = 1 if getattr(self, "jitter", None) is not None else self.n_jobs
        return Engine(n_jobs=n_jobs, verbose=self.verbose, name=type(self).__name__)

    def partial_fit(self, X, y):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        After any sequence of calls the model equals ``fit`` on the
        concatenation of their rows (the path is computed again from the
        merged statistics).

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
        """Accumulate the statistics of ``X`` without changing the model.

        :meth:`from_summaries` then fits the model of all the rows summarized.

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

    def _prepare(self, source, fresh):
        self._noise = None
        if getattr(self, "jitter", None) is not None:
            if source.y is not None and source.y.ndim > 1:
                raise ValueError(
                    "jitter adds one value per row, so y must be 1-D (shape "
                    f"(n_samples,)); got y of shape {source.y.shape}"
                )
            self._noise = check_random_state(self.random_state)

    def _summarize(self, batch):
        y = batch.y.reshape(batch.n_samples, -1)
        if self._noise is not None:
            noise = self._noise.uniform(high=self.jitter, size=batch.n_samples)
            y = y + noise[:, None]
        return moments_of_rows(batch.X, y, None, batch.workspace, rescale=True)

    def _path_args(self):
        """``(alpha_min, max_iter)`` of the path."""
        if hasattr(self, "n_nonzero_coefs"):
            return 0.0, self.n_nonzero_coefs
        return self.alpha, self.max_iter

    def _gram(self, gram):
        if hasattr(self.precompute, "__array__"):
            return np.array(self.precompute, dtype=np.float64)
        return gram

    def _from_summaries(self, stats):
        self.__dict__.pop("_noise", None)
        d = self.n_features_in_
        gram, cross, _ = _enet_system(stats, d, self.fit_intercept)
        gram = self._gram(gram)
        given = getattr(self, "_given_Xy", None)
        if given is not None:
            cross = given.reshape(d, -1)
        alpha, max_iter = self._path_args()
        n_targets = cross.shape[1]
        coef = np.empty((n_targets, d))
        alphas, actives, paths, iters = [], [], [], []
        for k in range(n_targets):
            path_alphas, active, path, n_iter = lars_path_gram(
                cross[:, k].copy(),
                gram,
                n_samples=stats.count,
                max_iter=max_iter,
                alpha_min=alpha,
                method=self.method,
                copy_Gram=True,
                verbose=max(0, self.verbose - 1),
                eps=self.eps,
                return_path=self.fit_path,
                return_n_iter=True,
                positive=getattr(self, "positive", False),
            )
            alphas.append(path_alphas)
            actives.append(active)
            iters.append(n_iter)
            if self.fit_path:
                paths.append(path)
                coef[k] = path[:, -1]
            else:
                coef[k] = path
        self._set_linear_model(coef, stats, self.fit_intercept)
        # The path in X's dtype, as scikit-learn's (float32 stays float32).
        dtype = getattr(self, "_X_dtype", None) or np.float64
        paths = [path.astype(dtype, copy=False) for path in paths]
        one = n_targets == 1
        self.alphas_ = alphas[0] if one else alphas
        self.n_iter_ = iters[0] if one else iters
        if self.fit_path:
            self.active_ = actives[0] if one else actives
            self.coef_path_ = paths[0] if one else paths
        else:
            for name in ("active_", "coef_path_"):
                self.__dict__.pop(name, None)
            # scikit-learn keeps the coefficients 2-D without the path, one
            # row per target even for one.
            self.coef_ = np.atleast_2d(self.coef_)
            if self.fit_intercept:
                self.intercept_ = np.atleast_1d(self.intercept_)
        self.n_samples_seen_ = int(stats.count)


_LARS_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "verbose": ["verbose"],
    "precompute": ["boolean", StrOptions({"auto"}), np.ndarray, Hidden(None)],
    "eps": [Interval(Real, 0, None, closed="left")],
    "copy_X": ["boolean"],
    "fit_path": ["boolean"],
    "jitter": [Interval(Real, 0, None, closed="left"), None],
    "random_state": ["random_state"],
    "batch_size": ClosedFormMixin._ooc_parameter_constraints["batch_size"],
    "n_jobs": ClosedFormMixin._ooc_parameter_constraints["n_jobs"],
}


@register(Lars)
class StreamingLars(_LarsBase):
    """Least angle regression fitted exactly from data read one batch at a time.

    The counterpart of :class:`sklearn.linear_model.Lars`: one pass
    accumulates the centered cross-products of ``[X, y]``, and scikit-learn's
    own LARS solver computes the path from the Gram matrix
    (:func:`sklearn.linear_model.lars_path_gram`), as ``Lars`` does with
    ``precompute=True``: the same path, to rounding.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches (and
        scikit-learn's path messages).
    precompute : bool, 'auto' or array-like, default='auto'
        Accepted as scikit-learn accepts it: the path is always computed from
        the Gram matrix here (the one pass gives it); an array passed in is
        used as the Gram matrix, as scikit-learn uses it.
    n_nonzero_coefs : int, default=500
        Target number of non-zero coefficients.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization in the computation of the
        Cholesky diagonal factors.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    fit_path : bool, default=True
        Store the whole path in ``coef_path_``.
    jitter : float, default=None
        Upper bound on a uniform noise added to ``y``, as scikit-learn adds
        it (the same draws for the same ``random_state``; the batches are
        then summarized in order on one thread).
    random_state : int, RandomState instance or None, default=None
        The seed of the jitter.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas + 1,) or list of such arrays
        Maximum of the covariances (in absolute value) at each iteration.
    active_ : list of shape (n_alphas,) or list of such lists
        Indices of the active variables at the end of the path.
    coef_path_ : ndarray of shape (n_features, n_alphas + 1) or list of such
        arrays
        The coefficients along the path.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector, of X's dtype.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term in the decision function.
    n_iter_ : array-like or int
        The number of iterations taken by lars_path to find the grid of
        alphas for each target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.Lars : The in-memory estimator this one equals.
    StreamingLassoLars : The Lasso by the LARS algorithm.

    Notes
    -----
    Memory: one batch of rows per thread plus ``(n_features + n_targets)^2``
    floats; the path itself costs what it costs scikit-learn on the Gram,
    whatever the number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLars
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + 1.0
    >>> model = StreamingLars(n_nonzero_coefs=2).fit(X, y, batch_size=300)
    >>> model.coef_.round(2) + 0.0
    array([ 3.,  0., -2.,  0.])
    """

    _parameter_constraints: dict = {
        **_LARS_CONSTRAINTS,
        "n_nonzero_coefs": [Interval(Integral, 1, None, closed="left")],
    }

    method = "lar"

    def __init__(
        self,
        *,
        fit_intercept=True,
        verbose=False,
        precompute="auto",
        n_nonzero_coefs=500,
        eps=_EPS,
        copy_X=True,
        fit_path=True,
        jitter=None,
        random_state=None,
        batch_size="auto",
        n_jobs=None,
    ):
        self.fit_intercept = fit_intercept
        self.verbose = verbose
        self.precompute = precompute
        self.n_nonzero_coefs = n_nonzero_coefs
        self.eps = eps
        self.copy_X = copy_X
        self.fit_path = fit_path
        self.jitter = jitter
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs


@register(LassoLars)
class StreamingLassoLars(_LarsBase):
    """Lasso by least angle regression, fitted exactly from data read one
    batch at a time.

    The counterpart of :class:`sklearn.linear_model.LassoLars`: one pass
    accumulates the centered cross-products of ``[X, y]``, and
    scikit-learn's LARS solver (``method='lasso'``) computes the path down
    to ``alpha`` from the Gram matrix, as ``LassoLars`` does with
    ``precompute=True``.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the penalty term; 0 is ordinary least
        squares.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    precompute : bool, 'auto' or array-like, default='auto'
        Accepted as scikit-learn accepts it; the path is always computed
        from the Gram matrix here.
    max_iter : int, default=500
        Maximum number of iterations of the path.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization in the computation of the
        Cholesky diagonal factors.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    fit_path : bool, default=True
        Store the whole path in ``coef_path_``.
    positive : bool, default=False
        Restrict the coefficients to be non-negative.
    jitter : float, default=None
        Upper bound on a uniform noise added to ``y``, drawn as scikit-learn
        draws it.
    random_state : int, RandomState instance or None, default=None
        The seed of the jitter.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.

    Attributes
    ----------
    alphas_ : ndarray of shape (n_alphas + 1,) or list of such arrays
        Maximum of the covariances (in absolute value) at each iteration.
    active_ : list of length n_alphas or list of such lists
        Indices of the active variables at the end of the path.
    coef_path_ : ndarray of shape (n_features, n_alphas + 1) or list of such
        arrays
        The coefficients along the path.
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector, of X's dtype.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term in the decision function.
    n_iter_ : array-like or int
        The number of iterations of the path for each target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.LassoLars : The in-memory estimator this one equals.
    StreamingLasso : The same model by coordinate descent.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLassoLars
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + 1.0
    >>> model = StreamingLassoLars(alpha=0.1).fit(X, y, batch_size=300)
    >>> model.coef_.round(2) + 0.0
    array([ 2.9,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = {
        **_LARS_CONSTRAINTS,
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "positive": ["boolean"],
    }

    method = "lasso"

    def __init__(
        self,
        alpha=1.0,
        *,
        fit_intercept=True,
        verbose=False,
        precompute="auto",
        max_iter=500,
        eps=_EPS,
        copy_X=True,
        fit_path=True,
        positive=False,
        jitter=None,
        random_state=None,
        batch_size="auto",
        n_jobs=None,
    ):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.verbose = verbose
        self.precompute = precompute
        self.max_iter = max_iter
        self.eps = eps
        self.copy_X = copy_X
        self.fit_path = fit_path
        self.positive = positive
        self.jitter = jitter
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs


def _noise_variance(gram, cross, yy, n_rows, fit_intercept, positive, name):
    """scikit-learn's estimate of the noise variance: the residual sum of
    squares of the least-squares fit over ``n - n_features - intercept``."""
    d = gram.shape[0]
    if n_rows <= d + fit_intercept:
        raise ValueError(
            f"You are using {name} in the case where the number of samples is "
            "smaller than the number of features. In this setting, getting a "
            "good estimate for the variance of the noise is not possible. "
            "Provide an estimate of the noise variance in the constructor."
        )
    if positive:
        # ||y - Xb||^2 = yy - 2 b.c + b G b: the non-negative minimizer of
        # the quadratic, from the factor G = L L^T.
        mu, V = linalg.eigh(gram)
        keep = mu > max(mu[-1], 0) * d * np.finfo(float).eps
        M = np.sqrt(mu[keep])[:, None] * V[:, keep].T
        t = (V[:, keep].T @ cross) / np.sqrt(mu[keep])
        coef = optimize.nnls(M, t)[0]
    else:
        coef = linalg.lstsq(gram, cross, cond=None)[0]
    rss = yy - 2.0 * coef @ cross + coef @ gram @ coef
    return max(float(rss), 0.0) / (n_rows - d - fit_intercept)


@register(LassoLarsIC)
class StreamingLassoLarsIC(_LarsBase):
    """LARS Lasso with ``alpha`` chosen by AIC or BIC, from one pass.

    The counterpart of :class:`sklearn.linear_model.LassoLarsIC`: the whole
    LARS Lasso path from the streamed Gram matrix, and for each of its
    points the criterion ``n log(2 pi s^2) + RSS / s^2 + c df``, where the
    residual sum of squares ``RSS = y^T y - 2 w^T X^T y + w^T X^T X w`` is a
    quadratic form in the same statistics (no second pass), and the noise
    variance ``s^2`` is that of the least-squares fit unless given.

    Parameters
    ----------
    criterion : {'aic', 'bic'}, default='aic'
        The information criterion.
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    precompute : bool, 'auto' or array-like, default='auto'
        Accepted as scikit-learn accepts it; the path is always computed
        from the Gram matrix here.
    max_iter : int, default=500
        Maximum number of iterations of the path.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization in the computation of the
        Cholesky diagonal factors.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    positive : bool, default=False
        Restrict the coefficients to be non-negative.
    noise_variance : float, default=None
        The noise variance; ``None`` estimates it by least squares (which
        needs more rows than features).
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Parameter vector, of X's dtype.
    intercept_ : float
        Independent term in the decision function.
    alpha_ : float
        The alpha chosen by the criterion.
    alphas_ : ndarray of shape (n_alphas + 1,)
        Maximum of the covariances (in absolute value) at each iteration.
    n_iter_ : int
        Iterations of the path.
    criterion_ : ndarray of shape (n_alphas,)
        The value of the criterion at every point of the path.
    noise_variance_ : float
        The noise variance used by the criterion.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.LassoLarsIC : The in-memory estimator this one
        equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLassoLarsIC
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + rng.normal(size=1000)
    >>> model = StreamingLassoLarsIC(criterion="bic").fit(X, y, batch_size=300)
    >>> model.coef_.round(1) + 0.0
    array([ 3. ,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in _LARS_CONSTRAINTS.items()
            if k not in ("fit_path", "jitter", "random_state")
        },
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "positive": ["boolean"],
        "criterion": [StrOptions({"aic", "bic"})],
        "noise_variance": [Interval(Real, 0, None, closed="left"), None],
    }

    method = "lasso"

    def __init__(
        self,
        criterion="aic",
        *,
        fit_intercept=True,
        verbose=False,
        precompute="auto",
        max_iter=500,
        eps=_EPS,
        copy_X=True,
        positive=False,
        noise_variance=None,
        batch_size="auto",
        n_jobs=None,
    ):
        self.criterion = criterion
        self.fit_intercept = fit_intercept
        self.verbose = verbose
        self.precompute = precompute
        self.max_iter = max_iter
        self.eps = eps
        self.copy_X = copy_X
        self.positive = positive
        self.noise_variance = noise_variance
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    def fit(self, X, y, copy_X=None, *, batch_size=None):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Target.
        copy_X : bool, default=None
            Accepted for compatibility with scikit-learn. ``X`` is never
            modified.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, batch_size=batch_size)

    def _prepare(self, source, fresh):
        super()._prepare(source, fresh)
        if fresh:
            _one_target(self, source)

    def _from_summaries(self, stats):
        d = self.n_features_in_
        gram, cross, yy = _enet_system(stats, d, self.fit_intercept)
        gram = self._gram(gram)
        n = stats.count
        alphas, _, path, n_iter = lars_path_gram(
            cross[:, 0].copy(),
            gram,
            n_samples=n,
            max_iter=self.max_iter,
            alpha_min=0.0,
            method="lasso",
            copy_Gram=True,
            verbose=self.verbose,
            eps=self.eps,
            return_n_iter=True,
            positive=self.positive,
        )
        factor = 2 if self.criterion == "aic" else log(n)
        rss = (
            yy[0]
            - 2.0 * (cross[:, 0] @ path)
            + np.einsum("ik,ij,jk->k", path, gram, path)
        )
        rss = np.maximum(rss, 0.0)
        df = np.count_nonzero(np.abs(path) > np.finfo(path.dtype).eps, axis=0)
        if self.noise_variance is None:
            variance = _noise_variance(
                gram,
                cross[:, 0],
                yy[0],
                n,
                int(self.fit_intercept),
                self.positive,
                type(self).__name__,
            )
        else:
            variance = self.noise_variance
        self.alphas_ = alphas
        self.n_iter_ = n_iter
        self.noise_variance_ = variance
        self.criterion_ = (
            n * np.log(2 * np.pi * variance) + rss / variance + factor * df
        )
        best = int(np.argmin(self.criterion_))
        self.alpha_ = alphas[best]
        self._set_linear_model(path[:, best][None, :], stats, self.fit_intercept)
        self.n_samples_seen_ = int(n)


def lars_path(
    X,
    y,
    Xy=None,
    *,
    Gram=None,
    max_iter=500,
    alpha_min=0,
    method="lar",
    copy_X=True,
    eps=_EPS,
    copy_Gram=True,
    verbose=0,
    return_path=True,
    return_n_iter=False,
    positive=False,
    batch_size="auto",
    n_jobs=None,
):
    """The LARS or LARS Lasso path from one pass over the rows.

    scikit-learn's :func:`~sklearn.linear_model.lars_path` on the Gram
    matrix: one pass accumulates ``X^T X`` and ``X^T y`` of the rows as they
    are (the path does not center them, as scikit-learn's does not), and
    :func:`~sklearn.linear_model.lars_path_gram` computes the path.

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
            shape (n_samples, n_features)
        The rows, read one batch at a time.
    y : array-like of shape (n_samples,)
        The target.
    Xy : array-like of shape (n_features,), default=None
        ``X^T y``, if already known (then used in place of the pass's).
    Gram : array-like of shape (n_features, n_features), default=None
        ``X^T X``, if already known (then used in place of the pass's).
    max_iter : int, default=500
        Maximum number of iterations.
    alpha_min : float, default=0
        The regularization at which the path stops.
    method : {'lar', 'lasso'}, default='lar'
        Least angle regression, or the Lasso.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization of the Cholesky diagonal factors.
    copy_Gram : bool, default=True
        Accepted for compatibility with scikit-learn; a Gram passed in is
        never modified.
    verbose : int, default=0
        scikit-learn's output of the path.
    return_path : bool, default=True
        Return the whole path, or only its last coefficients.
    return_n_iter : bool, default=False
        Also return the number of iterations.
    positive : bool, default=False
        Restrict the coefficients to be non-negative (``method='lasso'``).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel; the result is bitwise the same for
        every value.

    Returns
    -------
    alphas : ndarray of shape (n_alphas + 1,)
        The maximum covariance at each iteration.
    active : ndarray of shape (n_alphas,)
        The indices of the active variables at the end of the path.
    coefs : ndarray of shape (n_features, n_alphas + 1) or (n_features,)
        The coefficients along the path (or at its end).
    n_iter : int
        The number of iterations (with ``return_n_iter=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import lars_path
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [4.0, 1.0]])
    >>> alphas, active, coefs = lars_path(X, X @ [1.0, -1.0], batch_size=3)
    >>> [int(j) for j in active], coefs[:, -1].round(6)
    ([0, 1], array([ 1., -1.]))
    """
    gram, cross, _, n_rows, y_tail = streamed_gram(
        X, y, batch_size=batch_size, n_jobs=n_jobs, name="lars_path"
    )
    if y_tail:
        raise ValueError(
            f"lars_path takes one target (y of shape (n_samples,)); got y of "
            f"shape {(n_rows, *y_tail)}"
        )
    if Gram is not None:
        gram = np.array(Gram, dtype=np.float64)
    xy = cross[:, 0] if Xy is None else np.array(Xy, dtype=np.float64).ravel()
    return lars_path_gram(
        xy,
        gram,
        n_samples=n_rows,
        max_iter=max_iter,
        alpha_min=alpha_min,
        method=method,
        eps=eps,
        copy_Gram=True,
        verbose=verbose,
        return_path=return_path,
        return_n_iter=return_n_iter,
        positive=positive,
    )


class _LarsCVBase(
    _GramRegressorMixin,
    StreamingRegressorMixin,
    RegressorMixin,
    OutOfCoreMixin,
    BaseEstimator,
):
    """The cross-validated LARS path from one pass of per-fold statistics
    (the ``fit`` of :class:`StreamingLarsCV` and :class:`StreamingLassoLarsCV`)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, batch_size=None, **params):
        """Choose ``alpha`` by cross-validation and fit the model with it.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows, read in one pass.
        y : array-like of shape (n_samples,)
            Target.
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
        if hasattr(self.precompute, "__array__"):
            warnings.warn(
                'Parameter "precompute" cannot be an array in '
                f"{_counterpart_name(type(self))}. Automatically switch to "
                '"auto" instead.',
                stacklevel=3,
            )
        with self._transaction():
            source = self._source(X, y, reset=True, batch_size=batch_size, fitting=True)
            _one_target(self, source)
            self._fit_path(source)
            self._is_fitted = True
        return self

    def _fit_path(self, source):
        d = source.n_features
        plan = _SplitPlan(check_cv(self.cv), source.n_samples, None)
        summarize = partial(fold_moments, plan=plan, width=d + 1, rescale=False)
        stats = self._reduce(source, desc="fit", summarize=summarize)
        sets = [_unstack(stats.weighted, k, stats.rows[k]) for k in range(plan.n_sets)]
        positive = getattr(self, "positive", False)
        paths = []
        for k in range(plan.n_splits):
            train_sets, test = plan.split(k)
            train = _merge([sets[j] for j in train_sets])
            gram, cross, _ = _enet_system(train, d, self.fit_intercept)
            alphas, _, coefs = lars_path_gram(
                cross[:, 0].copy(),
                gram,
                n_samples=train.count,
                max_iter=self.max_iter,
                method=self.method,
                copy_Gram=True,
                verbose=max(0, self.verbose - 1),
                eps=self.eps,
                positive=positive,
            )
            paths.append((alphas, coefs, train, sets[test], int(stats.rows[test])))
        # scikit-learn's grid: the union of the folds' alphas, thinned to
        # max_n_alphas; each fold's residues interpolated linearly in alpha,
        # which are the residues of the interpolated coefficients.
        grid = np.unique(np.concatenate([alphas for alphas, *_ in paths]))
        grid = grid[:: int(max(1, int(len(grid) / float(self.max_n_alphas))))]
        mse = np.empty((len(grid), len(paths)))
        for index, (alphas, coefs, train, test, n_test) in enumerate(paths):
            alphas, coefs = alphas[::-1], coefs[:, ::-1]
            if alphas[0] != 0:
                alphas = np.r_[0, alphas]
                coefs = np.c_[coefs[:, :1], coefs]
            if alphas[-1] != grid[-1]:
                alphas = np.r_[alphas, grid[-1]]
                coefs = np.c_[coefs, coefs[:, -1:]]
            at = interpolate.interp1d(alphas, coefs, axis=1)(grid)
            for i in range(len(grid)):
                coef = at[:, i][None, :]
                if self.fit_intercept:
                    intercept = train.mean[d:] - coef @ train.mean[:d]
                else:
                    intercept = np.zeros(1)
                try:
                    mse[i, index] = -_fold_score(
                        test, coef, intercept, d, "neg_mean_squared_error", n_test
                    )
                except ValueError:
                    # Not finite: scikit-learn leaves such alphas out.
                    mse[i, index] = np.nan
        finite = np.all(np.isfinite(mse), axis=-1)
        if not finite.any():
            raise ValueError(
                "attempt to get argmin of an empty sequence: no alpha of the "
                "paths has a finite error on every fold (constant features or "
                "target?)"
            )
        grid, mse = grid[finite], mse[finite]
        self.alpha_ = grid[int(np.argmin(mse.mean(axis=-1)))]
        self.cv_alphas_ = grid
        self.mse_path_ = mse
        total = _merge([sets[j] for j in plan.total()])
        gram, cross, _ = _enet_system(total, d, self.fit_intercept)
        path_alphas, active, path, n_iter = lars_path_gram(
            cross[:, 0].copy(),
            gram,
            n_samples=total.count,
            max_iter=self.max_iter,
            alpha_min=self.alpha_,
            method=self.method,
            copy_Gram=True,
            verbose=max(0, self.verbose - 1),
            eps=self.eps,
            return_n_iter=True,
            positive=positive,
        )
        self._set_linear_model(path[:, -1][None, :], total, self.fit_intercept)
        dtype = getattr(self, "_X_dtype", None) or np.float64
        self.alphas_ = path_alphas
        self.active_ = active
        self.coef_path_ = path.astype(dtype, copy=False)
        self.n_iter_ = n_iter
        self.n_samples_seen_ = int(total.count)


_LARS_CV_CONSTRAINTS = {
    "fit_intercept": ["boolean"],
    "verbose": ["verbose"],
    "max_iter": [Interval(Integral, 0, None, closed="left")],
    "precompute": _LARS_CONSTRAINTS["precompute"],
    "cv": ["cv_object"],
    "max_n_alphas": [Interval(Integral, 1, None, closed="left")],
    "n_jobs": [Integral, None],
    "eps": [Interval(Real, 0, None, closed="neither")],
    "copy_X": ["boolean"],
    "batch_size": ClosedFormMixin._ooc_parameter_constraints["batch_size"],
}


@register(LarsCV)
class StreamingLarsCV(_LarsCVBase):
    """Least angle regression with ``alpha`` chosen by cross-validation, in
    one pass over the data.

    The counterpart of :class:`sklearn.linear_model.LarsCV`: one pass
    accumulates the centered cross-products of ``[X, y]`` of every test
    fold; each split's LARS path is computed from its training statistics
    (scikit-learn's ``lars_path_gram``), and its mean squared errors on the
    test fold, at scikit-learn's grid of alphas (the union of the folds',
    the residues interpolated linearly), are quadratic forms in the test
    fold's statistics: no second look at the rows.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    max_iter : int, default=500
        Maximum number of iterations of each path.
    precompute : bool, 'auto' or array-like, default='auto'
        Accepted as scikit-learn accepts it (an array is refused with its
        warning); the paths are always computed from the Gram matrices here.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold.
    max_n_alphas : int, default=1000
        The most alphas at which the residues are computed.
    n_jobs : int, default=None
        Threads summarizing batches in parallel; the result is bitwise the
        same for every value.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization of the Cholesky diagonal factors.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The alpha chosen.
    cv_alphas_ : ndarray of shape (n_cv_alphas,)
        The alphas of the grid.
    mse_path_ : ndarray of shape (n_cv_alphas, n_folds)
        The mean squared error of every fold at every alpha of the grid.
    coef_ : ndarray of shape (n_features,)
        Parameter vector of the final model, of X's dtype.
    intercept_ : float
        Independent term of the final model.
    coef_path_ : ndarray of shape (n_features, n_alphas)
        The final model's path.
    alphas_ : ndarray of shape (n_alphas,)
        The final path's alphas.
    active_ : list
        Indices of the active variables at the end of the final path.
    n_iter_ : int
        Iterations of the final path.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.LarsCV : The in-memory estimator this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLarsCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + rng.normal(size=1000)
    >>> StreamingLarsCV(cv=3).fit(X, y, batch_size=300).coef_.round(1) + 0.0
    array([ 3. ,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = dict(_LARS_CV_CONSTRAINTS)

    method = "lar"

    def __init__(
        self,
        *,
        fit_intercept=True,
        verbose=False,
        max_iter=500,
        precompute="auto",
        cv=None,
        max_n_alphas=1000,
        n_jobs=None,
        eps=_EPS,
        copy_X=True,
        batch_size="auto",
    ):
        self.fit_intercept = fit_intercept
        self.verbose = verbose
        self.max_iter = max_iter
        self.precompute = precompute
        self.cv = cv
        self.max_n_alphas = max_n_alphas
        self.n_jobs = n_jobs
        self.eps = eps
        self.copy_X = copy_X
        self.batch_size = batch_size


@register(LassoLarsCV)
class StreamingLassoLarsCV(_LarsCVBase):
    """LARS Lasso with ``alpha`` chosen by cross-validation, in one pass.

    The counterpart of :class:`sklearn.linear_model.LassoLarsCV`, computed
    as :class:`StreamingLarsCV` computes it, with the Lasso's path.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to fit an intercept.
    verbose : bool or int, default=False
        1 prints a line per pass; 2 adds a progress bar over batches.
    max_iter : int, default=500
        Maximum number of iterations of each path.
    precompute : bool or 'auto', default='auto'
        Accepted as scikit-learn accepts it; the paths are always computed
        from the Gram matrices here.
    cv : int, cross-validation generator or iterable, default=None
        The splits: ``None`` is 5-fold.
    max_n_alphas : int, default=1000
        The most alphas at which the residues are computed.
    n_jobs : int, default=None
        Threads summarizing batches in parallel.
    eps : float, default=np.finfo(float).eps
        The machine-precision regularization of the Cholesky diagonal factors.
    copy_X : bool, default=True
        Accepted for compatibility with scikit-learn. ``X`` is never modified.
    positive : bool, default=False
        Restrict the coefficients to be non-negative.
    batch_size : int or "auto", default="auto"
        Rows read per batch; ``"auto"`` is about 64 MiB of rows.

    Attributes
    ----------
    alpha_ : float
        The alpha chosen.
    cv_alphas_ : ndarray of shape (n_cv_alphas,)
        The alphas of the grid.
    mse_path_ : ndarray of shape (n_cv_alphas, n_folds)
        The mean squared error of every fold at every alpha of the grid.
    coef_ : ndarray of shape (n_features,)
        Parameter vector of the final model, of X's dtype.
    intercept_ : float
        Independent term of the final model.
    coef_path_ : ndarray of shape (n_features, n_alphas)
        The final model's path.
    alphas_ : ndarray of shape (n_alphas,)
        The final path's alphas.
    active_ : list
        Indices of the active variables at the end of the final path.
    n_iter_ : int
        Iterations of the final path.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_samples_seen_ : int
        Rows learned from.

    See Also
    --------
    sklearn.linear_model.LassoLarsCV : The in-memory estimator this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.linear_model import StreamingLassoLarsCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4))
    >>> y = X @ [3.0, 0.0, -2.0, 0.0] + rng.normal(size=1000)
    >>> StreamingLassoLarsCV(cv=3).fit(X, y).coef_.round(1) + 0.0
    array([ 3. ,  0. , -1.9,  0. ])
    """

    _parameter_constraints: dict = {
        **_LARS_CV_CONSTRAINTS,
        "positive": ["boolean"],
    }

    method = "lasso"

    def __init__(
        self,
        *,
        fit_intercept=True,
        verbose=False,
        max_iter=500,
        precompute="auto",
        cv=None,
        max_n_alphas=1000,
        n_jobs=None,
        eps=_EPS,
        copy_X=True,
        positive=False,
        batch_size="auto",
    ):
        self.fit_intercept = fit_intercept
        self.verbose = verbose
        self.max_iter = max_iter
        self.precompute = precompute
        self.cv = cv
        self.max_n_alphas = max_n_alphas
        self.n_jobs = n_jobs
        self.eps = eps
        self.copy_X = copy_X
        self.positive = positive
        self.batch_size = batch_size
