"""PLS regression, PLS canonical and CCA from the streamed cross-covariances."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import pinv, svd
from sklearn.base import (
    BaseEstimator,
    MultiOutputMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.cross_decomposition import CCA, PLSCanonical, PLSRegression
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import (
    CounterpartFeaturesOutMixin,
    OutOfCoreMixin,
    StreamingRegressorMixin,
)

# Eigenvalues of a product matrix (Xk.T @ Xk, Yk.T @ Yk) below this share of
# its largest are roundings (see _first_singular_vectors).
_GRAM_RTOL = 100 * np.finfo(np.float64).eps


def _first_singular_vectors(Cxx, Cxy, Cyy, mode, max_iter, tol, norm_y_weights):
    """scikit-learn's power method on the deflated ``Xk``, ``Yk``, through
    their products: ``Xk.T @ y_score`` is ``Cxy @ c`` for ``y_score = Yk @
    c``, and so on."""
    eps = np.finfo(np.float64).eps
    nonzero = np.flatnonzero(np.diag(Cyy) > 0)
    if not nonzero.size:
        raise StopIteration("y residual is constant")
    # y_score = Yk @ c: the first column of Yk that is not zero.
    c = np.zeros(Cyy.shape[0])
    c[nonzero[0]] = 1.0
    x_weights_old = 100
    if mode == "B":
        # A deflated product matrix keeps, along the directions deflated,
        # eigenvalues of a few roundings of its largest: cut well above them
        # (pinv's default, 2 or 3 eps, kept them on some machines, and their
        # inverses then made the weights). scikit-learn's pinv of the rows
        # cuts singular values below 10 eps, whose squares are far below.
        Cxx_pinv, Cyy_pinv = (pinv(C, rtol=_GRAM_RTOL) for C in (Cxx, Cyy))
    q = Cyy.shape[0]
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - counted after the loop
        # x_weights = Xk.T y_score / |y_score|^2, or pinv(Xk) y_score.
        if mode == "B":
            x_weights = Cxx_pinv @ (Cxy @ c)
        else:
            x_weights = (Cxy @ c) / (c @ Cyy @ c)
        x_weights = x_weights / (np.sqrt(x_weights @ x_weights) + eps)
        # x_score = Xk @ x_weights.
        if not x_weights @ Cxx @ x_weights > 0:
            raise StopIteration("X residual is constant")
        if mode == "B":
            y_weights = Cyy_pinv @ (Cxy.T @ x_weights)
        else:
            y_weights = (Cxy.T @ x_weights) / (x_weights @ Cxx @ x_weights)
        if norm_y_weights:
            y_weights = y_weights / (np.sqrt(y_weights @ y_weights) + eps)
        c = y_weights / (y_weights @ y_weights + eps)
        diff = x_weights - x_weights_old
        if diff @ diff < tol or q == 1:
            break
        x_weights_old = x_weights
    if n_iter == max_iter:
        warnings.warn(
            "Maximum number of iterations reached", ConvergenceWarning, stacklevel=4
        )
    return x_weights, y_weights, n_iter


class _StreamedPLS(
    CounterpartFeaturesOutMixin,
    TransformerMixin,
    StreamingRegressorMixin,
    RegressorMixin,
    MultiOutputMixin,
    OutOfCoreMixin,
    BaseEstimator,
):
    """The PLS family from one pass: the means, standard deviations and
    cross-products of ``[X, Y]`` (centered moments, merged stably); every
    step of scikit-learn's NIPALS then runs on the deflated products in
    memory (``p + q`` squared numbers)."""

    _requires_y = True
    _accept_sparse = False
    algorithm = "nipals"

    _summaries_reveal_nonfinite = True

    def _summarize(self, batch):
        Y = np.asarray(batch.y, dtype=np.float64)
        Y = Y.reshape(len(Y), -1)
        return moments_of_rows(
            np.ascontiguousarray(batch.X, dtype=np.float64),
            np.ascontiguousarray(Y),
            workspace=batch.workspace,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, batch_size=None):
        """Fit the model from one pass over the rows.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike or table of shape \
                (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        with self._transaction():
            source = self._source(X, y, reset=True, batch_size=batch_size, fitting=True)
            if source.n_samples < 2:
                raise ValueError(
                    f"Found array with {source.n_samples} sample(s) (shape="
                    f"({source.n_samples}, {source.n_features})) while a minimum "
                    "of 2 is required."
                )
            stats = self._reduce(source, desc="fit")
            self._predict_1d = len(source.y.shape) == 1
            self._fit_from(stats, source.n_features)
            self._is_fitted = True
        return self

    def _fit_from(self, stats, p):
        n = float(stats.count)
        mean = stats.mean + stats.mean_error
        scatter = stats.covariance(ddof=0) * n
        q = scatter.shape[0] - p
        n_components = self.n_components
        bound = (
            min(int(n), p) if self.deflation_mode == "regression" else min(int(n), p, q)
        )
        if n_components > bound:
            raise ValueError(
                f"`n_components` upper bound is {bound}. Got {n_components} "
                "instead. Reduce `n_components`."
            )
        if self.scale:
            std = np.sqrt(np.diag(scatter) / (n - 1))
            std[std == 0.0] = 1.0
        else:
            std = np.ones(p + q)
        scatter = scatter / np.outer(std, std)
        Cxx, Cxy, Cyy = scatter[:p, :p], scatter[:p, p:], scatter[p:, p:]
        norm_y_weights = self.deflation_mode == "canonical"
        x_weights_ = np.zeros((p, n_components))
        y_weights_ = np.zeros((q, n_components))
        x_loadings_ = np.zeros((p, n_components))
        y_loadings_ = np.zeros((q, n_components))
        n_iter = []
        y_floor = n * (10 * np.finfo(np.float64).eps) ** 2
        for k in range(n_components):
            if self.algorithm == "nipals":
                # scikit-learn zeroes the columns of Yk at rounding level.
                zero = np.diag(Cyy) < y_floor
                Cyy = np.where(zero[:, None] | zero[None, :], 0.0, Cyy)
                Cxy = np.where(zero[None, :], 0.0, Cxy)
                try:
                    x_w, y_w, iters = _first_singular_vectors(
                        Cxx,
                        Cxy,
                        Cyy,
                        self.mode,
                        self.max_iter,
                        self.tol,
                        norm_y_weights,
                    )
                except StopIteration as e:
                    # The residual of Y (scikit-learn's warning), or of X
                    # (every feature constant or explained, where scikit-learn
                    # divides by zero): no further component.
                    warnings.warn(f"{e} at iteration {k}", stacklevel=4)
                    break
                n_iter.append(iters)
            else:
                u, _, vt = svd(Cxy, full_matrices=False)
                x_w, y_w = u[:, 0], vt[0, :]
            # scikit-learn's _svd_flip_1d.
            sign = np.sign(x_w[np.argmax(np.abs(x_w))])
            x_w, y_w = x_w * sign, y_w * sign
            y_ss = 1.0 if norm_y_weights else y_w @ y_w
            # t = Xk w, u = Yk c / y_ss: their products with Xk, Yk and each
            # other.
            tt = x_w @ Cxx @ x_w
            Xt = Cxx @ x_w  # Xk.T t
            Yt = Cxy.T @ x_w  # Yk.T t
            Xu = Cxy @ y_w / y_ss  # Xk.T u
            Yu = Cyy @ y_w / y_ss  # Yk.T u
            uu = y_w @ Cyy @ y_w / y_ss**2
            tu = x_w @ Cxy @ y_w / y_ss
            x_load = Xt / tt
            if self.deflation_mode == "canonical":
                y_load = Yu / uu
                # Xk -= t x_load^T, Yk -= u y_load^T.
                Cxy = (
                    Cxy
                    - np.outer(Xu, y_load)
                    - np.outer(x_load, Yt)
                    + tu * np.outer(x_load, y_load)
                )
                Cyy = Cyy - uu * np.outer(y_load, y_load)
            else:
                y_load = Yt / tt
                # Xk -= t x_load^T, Yk -= t y_load^T.
                Cxy = Cxy - tt * np.outer(x_load, y_load)
                Cyy = Cyy - tt * np.outer(y_load, y_load)
            Cxx = Cxx - tt * np.outer(x_load, x_load)
            x_weights_[:, k], y_weights_[:, k] = x_w, y_w
            x_loadings_[:, k], y_loadings_[:, k] = x_load, y_load
        self.x_weights_, self.y_weights_ = x_weights_, y_weights_
        self.x_loadings_, self.y_loadings_ = x_loadings_, y_loadings_
        self.n_iter_ = n_iter
        self._x_mean, self._y_mean = mean[:p], mean[p:]
        self._x_std, self._y_std = std[:p], std[p:]
        self.x_rotations_ = x_weights_ @ pinv(x_loadings_.T @ x_weights_)
        self.y_rotations_ = y_weights_ @ pinv(y_loadings_.T @ y_weights_)
        coef = self.x_rotations_ @ y_loadings_.T
        self.coef_ = (coef * self._y_std).T / self._x_std
        self.intercept_ = self._y_mean

    @property
    def _n_features_out(self):
        return self.x_rotations_.shape[1]

    def _scores_of_rows(self, X):
        return ((np.asarray(X, dtype=np.float64) - self._x_mean) / self._x_std) @ (
            self.x_rotations_
        )

    def transform(self, X, y=None, copy=True):
        """The scores of the rows of ``X`` (and of ``y``), streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : array-like of shape (n_samples, n_targets), default=None
            Targets, transformed in memory.
        copy : bool, default=True
            Accepted for compatibility: nothing is modified.

        Returns
        -------
        x_scores : ndarray of shape (n_samples, n_components)
            And ``y_scores`` too when ``y`` is given.
        """
        check_is_fitted(self)
        x_scores = self._map_rows(
            X, lambda b: self._scores_of_rows(b.X), desc="transform"
        )
        if y is None:
            return x_scores
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        y_scores = ((y - self._y_mean) / self._y_std) @ self.y_rotations_
        return x_scores, y_scores

    def _predict_batch(self, X):
        out = (np.asarray(X, np.float64) - self._x_mean) @ self.coef_.T
        out = out + self.intercept_
        return out.ravel() if self._predict_1d else out

    def predict(self, X, copy=True):
        """Predicted targets of the rows of ``X``, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        copy : bool, default=True
            Accepted for compatibility: nothing is modified.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        return self._map_rows(X, lambda b: self._predict_batch(b.X), desc="predict")

    def fit_transform(self, X, y=None):
        """Fit, then the scores of the rows (and of ``y``).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : array-like of shape (n_samples, n_targets), default=None
            Targets.

        Returns
        -------
        x_scores, or (x_scores, y_scores)
        """
        return self.fit(X, y).transform(X, y)

    def inverse_transform(self, X, y=None):
        """Back from the scores to the original spaces.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            x scores.
        y : array-like of shape (n_samples, n_components), default=None
            y scores.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            And ``y_original`` when ``y`` is given.
        """
        check_is_fitted(self)
        X_back = np.asarray(X) @ self.x_loadings_.T * self._x_std + self._x_mean
        if y is None:
            return X_back
        y = np.asarray(y)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        y_back = y @ self.y_loadings_.T * self._y_std + self._y_mean
        return X_back, y_back

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.required = True
        return tags


@register(PLSRegression)
class OOCPLSRegression(_StreamedPLS):
    """PLS regression, from the streamed cross-covariances.

    scikit-learn's :class:`~sklearn.cross_decomposition.PLSRegression` from one
    streamed pass: the means, standard deviations and cross-products of
    ``X`` and ``Y``; NIPALS then runs on the deflated products, in memory.
    Equal to scikit-learn's to rounding (the power method stops at the same
    ``tol``).

    Parameters
    ----------
    n_components : int, default=2
        Number of components to keep.
    scale : bool, default=True
        Whether to scale ``X`` and ``Y`` to unit variance (``ddof=1``).
    max_iter : int, default=500
        Maximum number of iterations of the power method.
    tol : float, default=1e-06
        Tolerance of the power method.
    copy : bool, default=True
        Accepted for compatibility: the data are never modified.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    x_weights_ : ndarray of shape (n_features, n_components)
        The left singular vectors of the cross-covariance of each iteration.
    y_weights_ : ndarray of shape (n_targets, n_components)
        The right singular vectors of the cross-covariance of each iteration.
    x_loadings_ : ndarray of shape (n_features, n_components)
        The loadings of ``X``.
    y_loadings_ : ndarray of shape (n_targets, n_components)
        The loadings of ``Y``.
    x_rotations_ : ndarray of shape (n_features, n_components)
        The projection matrix that transforms ``X``.
    y_rotations_ : ndarray of shape (n_targets, n_components)
        The projection matrix that transforms ``Y``.
    coef_ : ndarray of shape (n_targets, n_features)
        The coefficients of the linear model.
    intercept_ : ndarray of shape (n_targets,)
        The intercepts of the linear model.
    n_iter_ : list of shape (n_components,)
        Iterations of the power method, for each component.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.cross_decomposition import OOCPLSRegression
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Y = X[:, :2] @ [[1.0, 0.5], [0.2, 1.0]] + 0.1 * rng.normal(size=(100, 2))
    >>> model = OOCPLSRegression(n_components=2, batch_size=32).fit(X, Y)
    >>> model.transform(X).shape
    (100, 2)
    """

    _parameter_constraints: dict = {
        **PLSRegression._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    deflation_mode = "regression"
    mode = "A"

    def __init__(
        self,
        n_components=2,
        *,
        scale=True,
        max_iter=500,
        tol=1e-06,
        copy=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol
        self.copy = copy
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(PLSCanonical)
class OOCPLSCanonical(_StreamedPLS):
    """PLS canonical, from the streamed cross-covariances.

    scikit-learn's :class:`~sklearn.cross_decomposition.PLSCanonical` from one
    streamed pass: the means, standard deviations and cross-products of
    ``X`` and ``Y``; NIPALS then runs on the deflated products, in memory.
    Equal to scikit-learn's to rounding (the power method stops at the same
    ``tol``).

    Parameters
    ----------
    n_components : int, default=2
        Number of components to keep.
    scale : bool, default=True
        Whether to scale ``X`` and ``Y`` to unit variance (``ddof=1``).
    algorithm : {"nipals", "svd"}, default="nipals"
        How the first singular vectors of the cross-covariance are found.
    max_iter : int, default=500
        Maximum number of iterations of the power method.
    tol : float, default=1e-06
        Tolerance of the power method.
    copy : bool, default=True
        Accepted for compatibility: the data are never modified.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    x_weights_ : ndarray of shape (n_features, n_components)
        The left singular vectors of the cross-covariance of each iteration.
    y_weights_ : ndarray of shape (n_targets, n_components)
        The right singular vectors of the cross-covariance of each iteration.
    x_loadings_ : ndarray of shape (n_features, n_components)
        The loadings of ``X``.
    y_loadings_ : ndarray of shape (n_targets, n_components)
        The loadings of ``Y``.
    x_rotations_ : ndarray of shape (n_features, n_components)
        The projection matrix that transforms ``X``.
    y_rotations_ : ndarray of shape (n_targets, n_components)
        The projection matrix that transforms ``Y``.
    coef_ : ndarray of shape (n_targets, n_features)
        The coefficients of the linear model.
    intercept_ : ndarray of shape (n_targets,)
        The intercepts of the linear model.
    n_iter_ : list of shape (n_components,)
        Iterations of the power method, for each component.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.cross_decomposition import OOCPLSCanonical
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Y = X[:, :2] @ [[1.0, 0.5], [0.2, 1.0]] + 0.1 * rng.normal(size=(100, 2))
    >>> model = OOCPLSCanonical(n_components=2, batch_size=32).fit(X, Y)
    >>> model.transform(X).shape
    (100, 2)
    """

    _parameter_constraints: dict = {
        **PLSCanonical._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    deflation_mode = "canonical"
    mode = "A"

    def __init__(
        self,
        n_components=2,
        *,
        scale=True,
        algorithm="nipals",
        max_iter=500,
        tol=1e-06,
        copy=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.scale = scale
        self.algorithm = algorithm
        self.max_iter = max_iter
        self.tol = tol
        self.copy = copy
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose


@register(CCA)
class OOCCCA(_StreamedPLS):
    """Canonical correlation analysis, from the streamed cross-covariances.

    scikit-learn's :class:`~sklearn.cross_decomposition.CCA` from one
    streamed pass: the means, standard deviations and cross-products of
    ``X`` and ``Y``; NIPALS then runs on the deflated products, in memory.
    Equal to scikit-learn's to rounding (the power method stops at the same
    ``tol``).

    Parameters
    ----------
    n_components : int, default=2
        Number of components to keep.
    scale : bool, default=True
        Whether to scale ``X`` and ``Y`` to unit variance (``ddof=1``).
    max_iter : int, default=500
        Maximum number of iterations of the power method.
    tol : float, default=1e-06
        Tolerance of the power method.
    copy : bool, default=True
        Accepted for compatibility: the data are never modified.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    x_weights_ : ndarray of shape (n_features, n_components)
        The left singular vectors of the cross-covariance of each iteration.
    y_weights_ : ndarray of shape (n_targets, n_components)
        The right singular vectors of the cross-covariance of each iteration.
    x_loadings_ : ndarray of shape (n_features, n_components)
        The loadings of ``X``.
    y_loadings_ : ndarray of shape (n_targets, n_components)
        The loadings of ``Y``.
    x_rotations_ : ndarray of shape (n_features, n_components)
        The projection matrix that transforms ``X``.
    y_rotations_ : ndarray of shape (n_targets, n_components)
        The projection matrix that transforms ``Y``.
    coef_ : ndarray of shape (n_targets, n_features)
        The coefficients of the linear model.
    intercept_ : ndarray of shape (n_targets,)
        The intercepts of the linear model.
    n_iter_ : list of shape (n_components,)
        Iterations of the power method, for each component.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.cross_decomposition import OOCCCA
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Y = X[:, :2] @ [[1.0, 0.5], [0.2, 1.0]] + 0.1 * rng.normal(size=(100, 2))
    >>> model = OOCCCA(n_components=2, batch_size=32).fit(X, Y)
    >>> model.transform(X).shape
    (100, 2)
    """

    _parameter_constraints: dict = {
        **CCA._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    deflation_mode = "canonical"
    mode = "B"

    def __init__(
        self,
        n_components=2,
        *,
        scale=True,
        max_iter=500,
        tol=1e-06,
        copy=True,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.scale = scale
        self.max_iter = max_iter
        self.tol = tol
        self.copy = copy
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
