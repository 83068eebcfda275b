"""Factor analysis from the streamed covariance."""

from __future__ import annotations

import warnings
from math import log
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.decomposition import FactorAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import fast_logdet
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import moments_of_rows
from ..base import ClosedFormMixin, CounterpartFeaturesOutMixin
from ..data import LazyArray

# scikit-learn's floors: added to the square root of the noise variances, and
# the least noise variance.
_SMALL = 1e-12


def _scaled_spectrum(covariance, sqrt_psi, n_components):
    """The top of the spectrum of ``X / (sqrt_psi sqrt(n))`` from the
    covariance of ``X``: its squared singular values, right singular
    vectors and the sum of the squares of the others.

    ``(X / (sqrt_psi sqrt(n)))^T (X / (sqrt_psi sqrt(n)))`` is the covariance
    scaled by ``sqrt_psi`` on both sides: its eigenvalues are the squared
    singular values of the scaled data, its eigenvectors the right singular
    vectors.
    """
    scaled = covariance / np.outer(sqrt_psi, sqrt_psi)
    values, vectors = linalg.eigh(scaled, check_finite=False)
    values, vectors = values[::-1], vectors[:, ::-1]
    return (
        values[:n_components],
        vectors[:, :n_components].T,
        float(values[n_components:].sum()),
    )


def _orthogonal_rotation(loadings, method, tol=1e-6, max_iter=100):
    """Varimax or quartimax rotation of ``loadings`` (features x factors).

    Kaiser's criterion maximized by the SVD iteration: the rotation is the
    polar factor of ``L^T (L R)^3`` (less, for varimax, the columns'
    mean squares), until the criterion gains less than ``tol`` relatively.
    """
    n_rows, n_cols = loadings.shape
    rotation = np.eye(n_cols)
    criterion = 0.0
    for _ in range(max_iter):
        rotated = loadings @ rotation
        target = rotated**3
        if method == "varimax":
            target = target - rotated * ((rotated**2).sum(axis=0) / n_rows)
        u, s, vt = np.linalg.svd(loadings.T @ target)
        rotation = u @ vt
        new = float(np.sum(s))
        if criterion != 0 and new < criterion * (1 + tol):
            break
        criterion = new
    return (loadings @ rotation).T


@register(FactorAnalysis)
class OOCFactorAnalysis(
    CounterpartFeaturesOutMixin, TransformerMixin, ClosedFormMixin, BaseEstimator
):
    """Factor analysis (FA) from the covariance, streamed in one pass.

    scikit-learn's :class:`~sklearn.decomposition.FactorAnalysis` -- the same
    parameters, EM iterations, stopping rule, rotations and attributes --
    for data on disk. scikit-learn's iterations need the data only through
    the singular values and right singular vectors of ``X / (sqrt(psi)
    sqrt(n))``, which are the eigenvalues and eigenvectors of its covariance
    scaled by ``sqrt(psi)``: one pass gathers the mean and the covariance
    (centered moments, merged stably), and every iteration runs on the
    ``n_features x n_features`` covariance in memory. ``partial_fit`` is
    exact.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the latent space; ``None``: ``n_features``.
    tol : float, default=1e-2
        Stopping tolerance on the gain in log-likelihood.
    copy : bool, default=True
        Accepted for compatibility: the data are never modified.
    max_iter : int, default=1000
        Maximum number of iterations.
    noise_variance_init : array-like of shape (n_features,), default=None
        Initial noise variance of each feature; ``None``: ones.
    svd_method : {"lapack", "randomized"}, default="randomized"
        scikit-learn's choice between an exact SVD of the data and a
        randomized one. Here both take the exact decomposition of the scaled
        covariance: ``"randomized"`` gives the model scikit-learn's
        ``"lapack"`` gives (its randomized SVD approximates it).
    iterated_power : int, default=3
        Power iterations of scikit-learn's randomized SVD: accepted, unused
        (see ``svd_method``).
    rotation : {"varimax", "quartimax"}, default=None
        Rotation of the components.
    random_state : int, RandomState instance or None, default=0
        Seed of scikit-learn's randomized SVD: accepted, unused (the
        decomposition here is exact).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Components with maximum variance.
    loglike_ : list of shape (n_iterations,)
        The log-likelihood at each iteration.
    noise_variance_ : ndarray of shape (n_features,)
        The estimated noise variance of each feature.
    n_iter_ : int
        Number of iterations run.
    mean_ : ndarray of shape (n_features,)
        Per-feature empirical mean.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Notes
    -----
    The sign of each component is the one whose largest loading (in
    absolute value) is positive; scikit-learn's follows its SVD's. The
    models are otherwise the same: ``get_covariance``, ``score_samples``
    and ``noise_variance_`` do not depend on the signs.

    On ill-conditioned data -- columns of very different scales (1e-5 to
    1e5, say), or nearly equal columns whose noise falls to its floor -- the
    scaled covariance's eigenvalues span many orders, and its
    eigen-decomposition keeps fewer digits of the small ones than an SVD of
    the rows: the noise variances then agree with scikit-learn's to about
    1e-3, for a model as likely as scikit-learn's. Standardize such columns
    first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.decomposition import OOCFactorAnalysis
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 2)) @ rng.normal(size=(2, 5))
    >>> X += 0.1 * rng.normal(size=(500, 5))
    >>> fa = OOCFactorAnalysis(n_components=2, batch_size=64).fit(X)
    >>> fa.transform(X).shape
    (500, 2)
    >>> bool(np.all(fa.noise_variance_ < 0.05))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "copy": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "noise_variance_init": ["array-like", None],
        "svd_method": [StrOptions({"randomized", "lapack"})],
        "iterated_power": [Interval(Integral, 0, None, closed="left")],
        "rotation": [StrOptions({"varimax", "quartimax"}), None],
        "random_state": ["random_state"],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    _accept_sparse = False

    def __init__(
        self,
        n_components=None,
        *,
        tol=1e-2,
        copy=True,
        max_iter=1000,
        noise_variance_init=None,
        svd_method="randomized",
        iterated_power=3,
        rotation=None,
        random_state=0,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.tol = tol
        self.copy = copy
        self.max_iter = max_iter
        self.noise_variance_init = noise_variance_init
        self.svd_method = svd_method
        self.iterated_power = iterated_power
        self.rotation = rotation
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

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
        on the concatenation of their rows: the EM iterations run again on
        the merged covariance.

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

    _summaries_reveal_nonfinite = True

    def _summarize(self, batch):
        return moments_of_rows(
            np.ascontiguousarray(batch.X), workspace=batch.workspace, rescale=True
        )

    def _from_summaries(self, stats):
        n_samples = int(stats.count)
        mean = stats.mean + stats.mean_error
        covariance = np.atleast_2d(stats.covariance(ddof=0))
        n_features = covariance.shape[0]
        n_components = self.n_components
        if n_components is None:
            n_components = n_features
        # scikit-learn's SVD of n_samples x n_features data has at most
        # min(n_samples, n_features) singular values.
        kept = min(n_components, n_samples, n_features)
        llconst = n_features * log(2.0 * np.pi) + n_components
        var = np.diag(covariance).copy()
        if self.noise_variance_init is None:
            psi = np.ones(n_features)
        else:
            if len(self.noise_variance_init) != n_features:
                raise ValueError(
                    "noise_variance_init dimension does not with number of "
                    f"features : {len(self.noise_variance_init)} != {n_features}"
                )
            psi = np.array(self.noise_variance_init, dtype=np.float64)

        loglike = []
        old_ll = -np.inf
        for _ in range(self.max_iter):
            sqrt_psi = np.sqrt(psi) + _SMALL
            s, Vt, unexplained = _scaled_spectrum(covariance, sqrt_psi, kept)
            W = np.sqrt(np.maximum(s - 1.0, 0.0))[:, np.newaxis] * Vt
            W *= sqrt_psi
            with np.errstate(divide="ignore"):
                ll = llconst + np.sum(np.log(s))
            ll += unexplained + np.sum(np.log(psi))
            ll *= -n_samples / 2.0
            loglike.append(ll)
            if (ll - old_ll) < self.tol:
                break
            old_ll = ll
            psi = np.maximum(var - np.sum(W**2, axis=0), _SMALL)
        else:
            warnings.warn(
                "FactorAnalysis did not converge. You might want to increase the "
                "number of iterations.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if W.size:
            # A sign for each component that does not depend on a solver.
            largest = np.argmax(np.abs(W), axis=1)
            W *= np.sign(W[np.arange(W.shape[0]), largest])[:, np.newaxis]
        components = W
        if self.rotation is not None:
            components = _orthogonal_rotation(W.T, self.rotation)[: self.n_components]
        self.components_ = components
        self.noise_variance_ = psi
        self.loglike_ = loglike
        self.n_iter_ = len(loglike)
        self.mean_ = mean

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    # -- the fitted model -------------------------------------------------------------

    def get_covariance(self):
        """Covariance of the data under the model.

        Returns
        -------
        cov : ndarray of shape (n_features, n_features)
        """
        check_is_fitted(self, "components_")
        cov = self.components_.T @ self.components_
        cov.flat[:: len(cov) + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Precision of the data under the model, by the matrix inversion lemma.

        Returns
        -------
        precision : ndarray of shape (n_features, n_features)
        """
        return FactorAnalysis.get_precision(self)

    def _transform_rows(self, X):
        Wpsi = self.components_ / self.noise_variance_
        cov_z = linalg.inv(np.eye(len(self.components_)) + Wpsi @ self.components_.T)
        return ((np.asarray(X, dtype=np.float64) - self.mean_) @ Wpsi.T) @ cov_z

    def transform(self, X):
        """Expected latent variables of the rows: lazily for a LazyArray.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray or LazyArray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        if isinstance(X, LazyArray):
            self._source(X, reset=False)
            return X.map(self._transform_rows)
        return self._map_rows(X, lambda b: self._transform_rows(b.X), desc="transform")

    def score_samples(self, X):
        """Log-likelihood of each row under the model, streamed.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ll : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        precision = self.get_precision()
        n_features = precision.shape[0]
        constant = 0.5 * (n_features * log(2.0 * np.pi) - fast_logdet(precision))

        def rows(batch):
            centered = np.asarray(batch.X, dtype=np.float64) - self.mean_
            return -0.5 * (centered * (centered @ precision)).sum(axis=1) - constant

        return self._map_rows(X, rows, desc="score")

    def score(self, X, y=None):
        """Mean log-likelihood of the rows under the model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : None
            Ignored.

        Returns
        -------
        ll : float
        """
        return float(np.mean(self.score_samples(X)))
