"""Covariance estimators from one streamed pass of merged centered moments.

The empirical covariance is the centered scatter of all rows (exact merges,
see :class:`sklearn_ooc._stats.Moments`) divided by their number; the
shrunk estimators are closed-form functions of it and of ``n_samples``,
computed exactly as scikit-learn's ``fit`` computes them.
"""

from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn import config_context
from sklearn.base import BaseEstimator, _fit_context
from sklearn.covariance import (
    OAS,
    EmpiricalCovariance,
    GraphicalLasso,
    LedoitWolf,
    ShrunkCovariance,
    log_likelihood,
    shrunk_covariance,
)
from sklearn.covariance._graph_lasso import _graphical_lasso
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import ClosedFormMixin, OutOfCoreMixin


class _CovarianceBase(OutOfCoreMixin, BaseEstimator):
    _accept_sparse = False
    _summaries_reveal_nonfinite = True

    def _summarize(self, batch):
        return moments_of_rows(
            np.ascontiguousarray(batch.X), workspace=batch.workspace, rescale=True
        )

    def _empirical(self, stats):
        n = int(stats.count)
        d = stats.mean.shape[0]
        if n == 1:
            import warnings

            warnings.warn(
                "Only one sample available. You may want to reshape your data array",
                stacklevel=3,
            )
        if self.assume_centered:
            raw, e = stats.about_origin()
            cov = np.ldexp(raw / stats.weight, e[:, None] + e[None, :])
            location = np.zeros(d)
        else:
            cov = stats.covariance()
            location = stats.mean + stats.mean_error
        return location, cov, n

    def _set_covariance(self, covariance):
        covariance = check_array_2d(covariance)
        self.covariance_ = covariance
        if self.store_precision:
            self.precision_ = linalg.pinvh(covariance, check_finite=False)
        else:
            self.precision_ = None

    def get_precision(self):
        """Getter for the precision matrix.

        Returns
        -------
        precision_ : ndarray of shape (n_features, n_features)
            The precision matrix associated to the current covariance object.
        """
        check_is_fitted(self)
        if self.store_precision:
            return self.precision_
        return linalg.pinvh(self.covariance_, check_finite=False)

    def _centered_scatter(self, X):
        """``sum_i (x_i - location)(x_i - location)^T`` and the row count,
        streamed over the batches of ``X``."""
        check_is_fitted(self)
        source = self._source(X, reset=False)
        location = self.location_

        d = location.shape[0]

        def summarize(batch):
            centered = np.asarray(batch.X, dtype=np.float64) - location
            out = np.zeros((d + 1, d))
            out[:d] = centered.T @ centered
            out[d, 0] = centered.shape[0]
            return out

        total = self._engine().reduce(
            source, range(source.n_batches), summarize, desc="score"
        )
        return total[:d], int(total[d, 0])

    def score(self, X_test, y=None):
        """Gaussian log-likelihood of ``X_test`` under the fitted model.

        Streamed: the scatter of the test rows about ``location_`` is summed
        batch by batch.

        Parameters
        ----------
        X_test : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Test rows.
        y : None
            Ignored.

        Returns
        -------
        res : float
            The mean log-likelihood, as scikit-learn's.
        """
        scatter, n = self._centered_scatter(X_test)
        return log_likelihood(scatter / n, self.get_precision())

    def error_norm(self, comp_cov, norm="frobenius", scaling=True, squared=True):
        """Mean squared error between two covariance estimators.

        As :meth:`sklearn.covariance.EmpiricalCovariance.error_norm`.

        Parameters
        ----------
        comp_cov : array-like of shape (n_features, n_features)
            The covariance to compare with.
        norm : {"frobenius", "spectral"}, default="frobenius"
            The type of norm used to compute the error.
        scaling : bool, default=True
            Whether the squared error norm is divided by n_features.
        squared : bool, default=True
            Whether to compute the squared error norm or the error norm.

        Returns
        -------
        result : float
        """
        return EmpiricalCovariance.error_norm(
            self, comp_cov, norm=norm, scaling=scaling, squared=squared
        )

    def mahalanobis(self, X):
        """Squared Mahalanobis distances of the rows of ``X``, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        dist : ndarray of shape (n_samples,)
        """
        precision = self.get_precision()
        location = self.location_

        def rows(batch):
            centered = np.asarray(batch.X, dtype=np.float64) - location
            return np.einsum("ij,jk,ik->i", centered, precision, centered)

        return self._map_rows(X, rows, desc="mahalanobis")


def check_array_2d(covariance):
    covariance = np.asarray(covariance)
    if covariance.ndim == 0:
        covariance = covariance.reshape(1, 1)
    return covariance


class _ClosedFormCovariance(ClosedFormMixin, _CovarianceBase):
    """Estimators whose model is a function of the empirical covariance."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Fit from the first ``batches_per_epoch`` batches only.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return ClosedFormMixin.fit.__wrapped__(
            self, X, y, batch_size=batch_size, batches_per_epoch=batches_per_epoch
        )

    def partial_fit(self, X, y=None):
        """Add the rows of ``X`` to the model: exact incremental fitting.

        After any sequence of ``partial_fit`` calls the model equals ``fit``
        on the concatenation of their rows (merged centered moments).

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike
            New rows, of the same features as before.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        return ClosedFormMixin.partial_fit(self, X)


_BASE_CONSTRAINTS = {
    **EmpiricalCovariance._parameter_constraints,
    **ClosedFormMixin._ooc_parameter_constraints,
}


@register(EmpiricalCovariance)
class OOCEmpiricalCovariance(_ClosedFormCovariance):
    """Maximum likelihood covariance estimator, from one streamed pass.

    Equal to :class:`sklearn.covariance.EmpiricalCovariance` fitted on all
    the rows in memory; ``partial_fit`` is exact (merged centered moments).

    Parameters
    ----------
    store_precision : bool, default=True
        Whether the precision (inverse covariance) is stored.
    assume_centered : bool, default=False
        If True, the data are not centered: the covariance is the raw second
        moment ``X.T @ X / n``.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Estimated location (mean).
    covariance_ : ndarray of shape (n_features, n_features)
        Estimated covariance matrix.
    precision_ : ndarray of shape (n_features, n_features)
        Estimated pseudo-inverse matrix (None if ``store_precision`` is False).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.covariance import OOCEmpiricalCovariance
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> cov = OOCEmpiricalCovariance(batch_size=16).fit(X)
    >>> cov.covariance_.shape
    (2, 2)
    """

    _parameter_constraints: dict = dict(_BASE_CONSTRAINTS)

    def __init__(
        self,
        *,
        store_precision=True,
        assume_centered=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.store_precision = store_precision
        self.assume_centered = assume_centered
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _from_summaries(self, stats):
        location, cov, _ = self._empirical(stats)
        self.location_ = location
        self._set_covariance(cov)


@register(ShrunkCovariance)
class OOCShrunkCovariance(_ClosedFormCovariance):
    """Covariance estimator with shrinkage, from one streamed pass.

    Equal to :class:`sklearn.covariance.ShrunkCovariance` fitted on all the
    rows in memory; ``partial_fit`` is exact (merged centered moments).

    Parameters
    ----------
    store_precision : bool, default=True
        Whether the precision is stored.
    assume_centered : bool, default=False
        If True, the data are not centered before computation.
    shrinkage : float, default=0.1
        Coefficient in the convex combination used for the shrunk estimate,
        in [0, 1].
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Estimated location.
    covariance_ : ndarray of shape (n_features, n_features)
        Estimated shrunk covariance.
    precision_ : ndarray of shape (n_features, n_features)
        Its pseudo-inverse (None if ``store_precision`` is False).
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.covariance import OOCShrunkCovariance
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> OOCShrunkCovariance(batch_size=16).fit(X).covariance_.shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **_BASE_CONSTRAINTS,
        "shrinkage": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        store_precision=True,
        assume_centered=False,
        shrinkage=0.1,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.store_precision = store_precision
        self.assume_centered = assume_centered
        self.shrinkage = shrinkage
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _from_summaries(self, stats):
        location, cov, _ = self._empirical(stats)
        self.location_ = location
        self._set_covariance(shrunk_covariance(cov, self.shrinkage))


@register(OAS)
class OOCOAS(_ClosedFormCovariance):
    """Oracle Approximating Shrinkage estimator, from one streamed pass.

    Equal to :class:`sklearn.covariance.OAS` fitted on all the rows in
    memory (its shrinkage is a function of the empirical covariance and the
    number of rows); ``partial_fit`` is exact (merged centered moments).

    Parameters
    ----------
    store_precision : bool, default=True
        Whether the precision is stored.
    assume_centered : bool, default=False
        If True, the data are not centered before computation.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Estimated location.
    covariance_ : ndarray of shape (n_features, n_features)
        Estimated covariance.
    precision_ : ndarray of shape (n_features, n_features)
        Its pseudo-inverse (None if ``store_precision`` is False).
    shrinkage_ : float
        Coefficient in the convex combination used for the shrunk estimate.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.covariance import OOCOAS
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> 0 <= OOCOAS(batch_size=16).fit(X).shrinkage_ <= 1
    True
    """

    _parameter_constraints: dict = dict(_BASE_CONSTRAINTS)

    def __init__(
        self,
        *,
        store_precision=True,
        assume_centered=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.store_precision = store_precision
        self.assume_centered = assume_centered
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _from_summaries(self, stats):
        # scikit-learn: _oas(X - location_, assume_centered=True), whose
        # covariance is the (centered) scatter over n.
        location, emp_cov, n_samples = self._empirical(stats)
        self.location_ = location
        n_features = emp_cov.shape[0]
        if n_features == 1:
            self.shrinkage_ = 0.0
            self._set_covariance(np.atleast_2d(emp_cov[0, 0]))
            return
        alpha = np.mean(emp_cov**2)
        mu = np.trace(emp_cov) / n_features
        mu_squared = mu**2
        num = alpha + mu_squared
        den = (n_samples + 1) * (alpha - mu_squared / n_features)
        shrinkage = 1.0 if den == 0 else min(num / den, 1.0)
        shrunk_cov = (1.0 - shrinkage) * emp_cov
        shrunk_cov.flat[:: n_features + 1] += shrinkage * mu
        self.shrinkage_ = shrinkage
        self._set_covariance(shrunk_cov)


@register(LedoitWolf)
class OOCLedoitWolf(_CovarianceBase):
    """LedoitWolf estimator, from two streamed passes.

    Equal to :class:`sklearn.covariance.LedoitWolf` fitted on all the rows
    in memory. The first pass gives the mean and the empirical covariance;
    the shrinkage also needs ``sum((X_c**2).T @ (X_c**2))``, the sum over the
    rows of ``||x_i - location_||**4``, which a second pass about the mean of
    the first computes exactly. Because of that second pass there is no
    ``partial_fit``.

    Parameters
    ----------
    store_precision : bool, default=True
        Whether the precision is stored.
    assume_centered : bool, default=False
        If True, the data are not centered before computation.
    block_size : int, default=1000
        Size of the blocks scikit-learn splits the covariance into; accepted
        for compatibility, it does not change the result.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Estimated location.
    covariance_ : ndarray of shape (n_features, n_features)
        Estimated covariance.
    precision_ : ndarray of shape (n_features, n_features)
        Its pseudo-inverse (None if ``store_precision`` is False).
    shrinkage_ : float
        Coefficient in the convex combination used for the shrunk estimate.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.covariance import OOCLedoitWolf
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> bool(0 <= OOCLedoitWolf(batch_size=16).fit(X).shrinkage_ <= 1)
    True
    """

    _parameter_constraints: dict = {
        **_BASE_CONSTRAINTS,
        "block_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        store_precision=True,
        assume_centered=False,
        block_size=1000,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.store_precision = store_precision
        self.assume_centered = assume_centered
        self.block_size = block_size
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Fit the Ledoit-Wolf shrunk covariance from two passes over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with self._transaction():
            source = self._source(X, reset=True, batch_size=batch_size, fitting=True)
            stats = self._reduce(source, desc="fit: moments")
            location, emp_cov, n_samples = self._empirical(stats)
            n_features = emp_cov.shape[0]
            self.location_ = location
            if n_features == 1:
                self.shrinkage_ = 0.0
                self._set_covariance(np.atleast_2d(emp_cov[0, 0]))
                self._is_fitted = True
                return self

            def fourth(batch):
                centered = np.asarray(batch.X, dtype=np.float64) - location
                norms = np.einsum("ij,ij->i", centered, centered)
                return np.array([norms @ norms])

            beta_ = float(
                self._reduce(source, desc="fit: fourth moments", summarize=fourth)[0]
            )
            # ledoit_wolf_shrinkage, with X - location_ and assume_centered:
            emp_cov_trace = np.diagonal(emp_cov).copy()
            mu = np.sum(emp_cov_trace) / n_features
            delta_ = np.sum(emp_cov**2)
            beta = 1.0 / (n_features * n_samples) * (beta_ / n_samples - delta_)
            delta = delta_ - 2.0 * mu * emp_cov_trace.sum() + n_features * mu**2
            delta /= n_features
            beta = min(beta, delta)
            shrinkage = 0 if beta == 0 else beta / delta
            mu = np.sum(np.trace(emp_cov)) / n_features
            shrunk_cov = (1.0 - shrinkage) * emp_cov
            shrunk_cov.flat[:: n_features + 1] += shrinkage * mu
            self.shrinkage_ = shrinkage
            self._set_covariance(shrunk_cov)
            self._is_fitted = True
        return self


_EPS = np.finfo(np.float64).eps


class IllConditionedError(ValueError, FloatingPointError):
    """scikit-learn's FloatingPointError of an ill-conditioned covariance,
    also a ValueError (the data cannot be fitted), naming constant columns."""


def _check_min(n, what, shape, name):
    if n < 2:
        raise ValueError(
            f"Found array with {n} {what}(s) (shape={shape}) while a minimum of 2 "
            f"is required by {name}."
        )


@register(GraphicalLasso)
class OOCGraphicalLasso(_ClosedFormCovariance):
    """Sparse inverse covariance with an l1-penalized estimator, streamed.

    Equal to :class:`sklearn.covariance.GraphicalLasso` fitted on all the
    rows in memory: scikit-learn's solver runs on the empirical covariance,
    which one streamed pass gives exactly; ``partial_fit`` is exact (merged
    centered moments, the solver rerun on them).

    Parameters
    ----------
    alpha : float, default=0.01
        The regularization parameter.
    mode : {"cd", "lars"}, default="cd"
        The Lasso solver.
    covariance : "precomputed", default=None
        If "precomputed", ``X`` is the (small, in-memory) empirical
        covariance.
    tol : float, default=1e-4
        Tolerance to declare convergence.
    enet_tol : float, default=1e-4
        Tolerance of the elastic net solver (mode="cd").
    max_iter : int, default=100
        Maximum number of iterations.
    verbose : bool or int, default=False
        Progress messages (of the solver and of the passes).
    eps : float, default=eps
        Machine-precision regularization in the Cholesky diagonal factors.
    assume_centered : bool, default=False
        If True, the data are not centered before computation.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Estimated location.
    covariance_ : ndarray of shape (n_features, n_features)
        Estimated covariance.
    precision_ : ndarray of shape (n_features, n_features)
        Estimated precision.
    n_iter_ : int
        Number of iterations run.
    costs_ : list of (objective, dual_gap) pairs
        One per iteration.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.covariance import OOCGraphicalLasso
    >>> X = np.random.RandomState(0).normal(size=(100, 3))
    >>> OOCGraphicalLasso(batch_size=16).fit(X).precision_.shape
    (3, 3)
    """

    _parameter_constraints: dict = {
        **GraphicalLasso._parameter_constraints,
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        alpha=0.01,
        *,
        mode="cd",
        covariance=None,
        tol=1e-4,
        enet_tol=1e-4,
        max_iter=100,
        verbose=False,
        eps=_EPS,
        assume_centered=False,
        batch_size="auto",
        n_jobs=None,
    ):
        self.alpha = alpha
        self.mode = mode
        self.covariance = covariance
        self.tol = tol
        self.enet_tol = enet_tol
        self.max_iter = max_iter
        self.verbose = verbose
        self.eps = eps
        self.assume_centered = assume_centered
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    # scikit-learn's GraphicalLasso always stores its precision.
    store_precision = True

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the GraphicalLasso model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, table or array store of \
                shape (n_samples, n_features)
            Training rows (the covariance itself if ``covariance`` is
            ``"precomputed"``).
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.
        batches_per_epoch : int, default=None
            Fit from the first ``batches_per_epoch`` batches only.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if self.covariance == "precomputed":
            with self._transaction():
                for attr in ("_seen_stats", "_pending_stats"):
                    self.__dict__.pop(attr, None)
                X = validate_data(self, X, ensure_min_features=2, ensure_min_samples=2)
                self.location_ = np.zeros(X.shape[1])
                self._solve(X.copy())
                self._is_fitted = True
            return self
        return _ClosedFormCovariance.fit.__wrapped__(
            self, X, y, batch_size=batch_size, batches_per_epoch=batches_per_epoch
        )

    def _prepare(self, source, fresh):
        if self.covariance == "precomputed":
            raise ValueError(
                "covariance='precomputed' takes the covariance matrix in fit; "
                "partial_fit needs data rows (covariance=None)"
            )
        _check_min(
            source.n_features,
            "feature",
            (source.n_samples, source.n_features),
            type(self).__name__,
        )

    def _solve(self, emp_cov):
        # As in scikit-learn's fit (nested validation skipped): its "lars"
        # mode calls lars_path_gram with method="lars", which validation
        # would refuse.
        with config_context(skip_parameter_validation=True):
            try:
                self._solve_unvalidated(emp_cov)
            except FloatingPointError as error:
                constant = np.flatnonzero(np.diagonal(emp_cov) <= 0)
                detail = (
                    f"; columns {constant.tolist()} are constant (no variance)"
                    if constant.size
                    else ""
                )
                raise IllConditionedError(f"{error}{detail}") from error

    def _solve_unvalidated(self, emp_cov):
        self.covariance_, self.precision_, self.costs_, self.n_iter_ = _graphical_lasso(
            emp_cov,
            alpha=self.alpha,
            cov_init=None,
            mode=self.mode,
            tol=self.tol,
            enet_tol=self.enet_tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            eps=self.eps,
        )

    def _from_summaries(self, stats):
        n, d = int(stats.count), stats.mean.shape[0]
        _check_min(n, "sample", (n, d), type(self).__name__)
        location, emp_cov, _ = self._empirical(stats)
        self.location_ = location
        self._solve(emp_cov)
