"""Exact principal component analysis from the streamed covariance."""

from __future__ import annotations

from math import lgamma, log
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._out_of_core import register
from .._stats import (
    RootMoments,
    largest_positive,
    moments_of_rows,
    needed_exponent,
)
from ..base import ClosedFormMixin
from ..data import LazyArray


def _log_evidence(spectrum, rank, n_samples):
    """Laplace approximation of the evidence of a rank-``rank`` probabilistic
    PCA (Minka, "Automatic choice of dimensionality for PCA", 2000)."""
    n_features = spectrum.shape[0]
    if not 1 <= rank < n_features:
        raise ValueError("the rank must lie in [1, n_features)")
    if spectrum[rank - 1] < 1e-300:
        return -np.inf
    pu = -rank * log(2.0)
    for i in range(1, rank + 1):
        pu += (
            lgamma((n_features - i + 1) / 2.0) - log(np.pi) * (n_features - i + 1) / 2.0
        )
    pl = -np.sum(np.log(spectrum[:rank])) * n_samples / 2.0
    v = max(1e-300, np.sum(spectrum[rank:]) / (n_features - rank))
    pv = -log(v) * n_samples * (n_features - rank) / 2.0
    m = n_features * rank - rank * (rank + 1.0) / 2.0
    pp = log(2.0 * np.pi) * (m + rank) / 2.0
    pa = 0.0
    spectrum_ = spectrum.copy()
    spectrum_[rank:n_features] = v
    for i in range(rank):
        for j in range(i + 1, len(spectrum)):
            pa += log(
                (spectrum[i] - spectrum[j]) * (1.0 / spectrum_[j] - 1.0 / spectrum_[i])
            ) + log(n_samples)
    return pu + pl + pv + pp - pa / 2.0 - rank * log(n_samples) / 2.0


def _check_variances(eigenvalues, scale):
    """Raise if the variance along the first axis, ``eigenvalues[0] *
    2**(2 scale)``, is not a normal float64: the explained variances (and
    the whitening, the covariance and the likelihood made of them) would be
    infinite, or zero, or lose their digits."""
    top = eigenvalues[0] if eigenvalues.size else 0.0
    if not top > 0 or scale == 0:
        return
    log10 = (np.log2(top) + 2 * scale) * np.log10(2.0)
    info = np.finfo(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        variance = np.ldexp(top, 2 * scale)
    if info.tiny <= variance <= info.max:
        return
    which = "exceeds" if log10 > 0 else "falls below"
    raise ValueError(
        f"The variance along the first principal axis, about 1e{log10:+.0f}, "
        f"{which} float64's range (2.2e-308 to 1.8e308): explained_variance_ "
        "cannot be represented. Please scale X, e.g. with "
        "sklearn.preprocessing.StandardScaler."
    )


def _mle_rank(spectrum, n_samples):
    evidence = [_log_evidence(spectrum, r, n_samples) for r in range(1, len(spectrum))]
    return int(np.argmax(evidence)) + 1


def _from_pca(params):
    """PCA's parameters as ours (for ``out_of_core``).

    The exact solvers draw nothing and never modify X: the randomized and
    ARPACK solvers' settings do not apply to them.
    """
    del params["copy"]
    if params["svd_solver"] in ("auto", "full", "covariance_eigh"):
        for name in (
            "random_state",
            "tol",
            "iterated_power",
            "n_oversamples",
            "power_iteration_normalizer",
        ):
            del params[name]
    return params


@register(PCA, convert=_from_pca)
class OOCPCA(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClosedFormMixin, BaseEstimator
):
    """Principal component analysis, exact, from one pass over the data.

    Statistics of ``n_features x n_features`` are accumulated batch by
    batch and merged stably, as scikit-learn's two exact solvers need them:

    - ``svd_solver='covariance_eigh'``: the mean and the covariance, whose
      eigen-decomposition gives the components (scikit-learn's choice for
      tall data, and the fastest: one BLAS product per batch);
    - ``svd_solver='full'``: the mean and the R factor of the centered rows
      (merged by TSQR), whose SVD is that of the centered data, small
      components included (the covariance resolves the variances only to
      ``1e-16`` times the largest); about ten times slower per batch.

    ``'auto'`` picks as scikit-learn does: ``'covariance_eigh'`` for at most
    1,000 features and ten times as many rows, else ``'full'``. The result
    equals ``PCA`` with the same solver up to rounding, and the sign of each
    component (made positive where the component is largest), where
    :class:`~sklearn.decomposition.IncrementalPCA` only approximates.
    ``partial_fit`` is exact too; its solver is chosen at the first call.
    Data whose squares leave float64's range are scaled by powers of two,
    exactly; variances that float64 cannot hold raise a ``ValueError``.

    Parameters
    ----------
    n_components : int, float, 'mle' or None, default=None
        Components kept: a number; a fraction in (0, 1) of the variance to
        explain; ``'mle'`` (Minka's choice); ``None`` for all.
    whiten : bool, default=False
        Scale the projections to unit variance.
    svd_solver : {'auto', 'full', 'covariance_eigh'}, default='auto'
        The exact solvers of :class:`~sklearn.decomposition.PCA` (its
        approximate ones, ``'arpack'`` and ``'randomized'``, are not offered).
    batch_size : int or "auto", default="auto"
        Rows read per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 prints a line per pass; 2 adds a progress bar.

    Attributes
    ----------
    components_ : ndarray of shape (`n_components_`, n_features)
        Principal axes, by decreasing variance.
    explained_variance_ : ndarray of shape (`n_components_`,)
        Variance along each axis (``ddof=1``).
    explained_variance_ratio_ : ndarray of shape (`n_components_`,)
        Its fraction of the total variance.
    singular_values_ : ndarray of shape (`n_components_`,)
        Singular values of the centered data.
    mean_ : ndarray of shape (n_features,)
        Mean of the rows.
    noise_variance_ : float
        Mean variance of the discarded axes (probabilistic PCA).
    n_components_ : int
        Components kept.
    n_samples_ : int
        Rows fitted.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.decomposition.PCA : The in-memory estimator this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.decomposition import OOCPCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3)) @ [[3.0, 0, 0], [0, 1.0, 0], [0, 0, 0.1]]
    >>> pca = OOCPCA(n_components=2, batch_size=100).fit(X)
    >>> pca.explained_variance_ratio_.round(3)
    array([0.904, 0.095])
    """

    _parameter_constraints: dict = {
        "n_components": [
            Interval(Integral, 0, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "whiten": ["boolean"],
        "svd_solver": [StrOptions({"auto", "full", "covariance_eigh"})],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        n_components=None,
        *,
        whiten=False,
        svd_solver="auto",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def fit(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the model from one pass over ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call.
        batches_per_epoch : int, default=None
            Fit from the first batches only.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(
            X, batch_size=batch_size, batches_per_epoch=batches_per_epoch
        )

    def partial_fit(self, X, y=None):
        """Add the rows of ``X`` to the model: exact incremental PCA.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray
            Rows.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return super().partial_fit(X)

    def _prepare(self, source, fresh):
        if not fresh:
            return
        solver = self.svd_solver
        if solver == "auto":
            n, d = source.n_samples, source.n_features
            solver = "covariance_eigh" if d <= 1_000 and n >= 10 * d else "full"
        self._fit_svd_solver = solver

    def _summarize(self, batch):
        if self._fit_svd_solver == "full":
            return RootMoments.of_rows(batch.X, workspace=batch.workspace)
        return moments_of_rows(batch.X, workspace=batch.workspace, rescale=True)

    def _spectrum(self, stats):
        """Singular values of the centered data, as ``values * 2**scale``,
        and the components.

        Data whose variances leave float64's range keep a power-of-two
        ``scale`` apart: the spectrum of the scatter scaled by ``2**-2 scale``
        (one scale for all columns, which keeps the axes) is that of the
        data scaled into range.
        """
        if isinstance(stats, RootMoments):
            values, vectors = stats.spectrum()
            scale = 0
            if values[0] > 0:
                scale = int(needed_exponent(np.log2(values[0])))
            return np.ldexp(values, -scale), scale, vectors
        exponent = stats.exponents
        scale = 0
        if exponent.any():
            scale = int(needed_exponent(stats.log2_magnitude().max()))
        scatter = stats.scatter_at(np.full_like(exponent, scale))
        values, vectors = linalg.eigh(scatter)
        values = np.clip(values[::-1], 0.0, None)
        return np.sqrt(values), scale, largest_positive(vectors[:, ::-1].T)

    def _from_summaries(self, stats):
        n_samples, n_features = int(stats.count), stats.mean.shape[0]
        if n_samples < 2:
            raise ValueError(
                f"n_samples={n_samples}: PCA needs at least 2 samples (1 sample "
                "has no variance)"
            )
        k = self.n_components
        if k == "mle" and n_samples < n_features:
            raise ValueError(
                "n_components='mle' is only supported if n_samples >= n_features"
            )
        if isinstance(k, Integral) and not 0 <= k <= min(n_samples, n_features):
            raise ValueError(
                f"n_components={k} must be between 0 and min(n_samples, "
                f"n_features)={min(n_samples, n_features)} with svd_solver='full'"
            )
        singular_values, scale, components = self._spectrum(stats)
        # Scaled by 2**(-2 scale): ratios and the choice of k are the same.
        eigenvalues = singular_values**2 / (n_samples - 1)
        _check_variances(eigenvalues, scale)
        rank = min(n_samples, n_features)
        eigenvalues, components = eigenvalues[:rank], components[:rank]
        ratio = eigenvalues / eigenvalues.sum()
        if k is None:
            k = rank
        elif k == "mle":
            k = _mle_rank(eigenvalues, n_samples)
        elif 0 < k < 1:
            k = int(np.searchsorted(np.cumsum(ratio), k, side="right") + 1)
        noise = np.ldexp(eigenvalues[k:].mean(), 2 * scale) if k < rank else 0.0
        self.noise_variance_ = float(noise)
        self.mean_ = stats.mean
        self.n_samples_ = n_samples
        self.n_components_ = int(k)
        self.components_ = components[:k].copy()
        self.explained_variance_ = np.ldexp(eigenvalues[:k], 2 * scale)
        self.explained_variance_ratio_ = ratio[:k].copy()
        self.singular_values_ = np.ldexp(singular_values[:k], scale)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _transform_rows(self, X):
        out = (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T
        if self.whiten:
            out /= np.sqrt(self.explained_variance_)
        return out

    def transform(self, X):
        """Project ``X`` on the components: lazily for a LazyArray.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike or LazyArray of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray or LazyArray of shape (n_samples, `n_components_`)
            Projections.
        """
        check_is_fitted(self)
        if isinstance(X, LazyArray):
            self._source(X, reset=False)
            return X.map(self._transform_rows)
        return self._map_rows(X, lambda b: self._transform_rows(b.X), desc="transform")

    def inverse_transform(self, X):
        """Back from projections to the feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_components_`)
            Projections.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        if self.whiten:
            X = X * np.sqrt(self.explained_variance_)
        return X @ self.components_ + self.mean_

    def get_covariance(self):
        """Covariance of the probabilistic PCA model.

        Returns
        -------
        ndarray of shape (n_features, n_features)
        """
        check_is_fitted(self)
        components = self.components_
        variance = self.explained_variance_
        if self.whiten:
            components = components * np.sqrt(variance[:, None])
        excess = np.maximum(variance - self.noise_variance_, 0.0)
        cov = (components.T * excess) @ components
        cov.flat[:: cov.shape[0] + 1] += self.noise_variance_
        return cov

    def get_precision(self):
        """Precision (inverse covariance) of the probabilistic PCA model.

        With discarded axes, the inverse comes from the matrix inversion
        lemma on the kept components, an ``n_components_`` square inverse.

        Returns
        -------
        ndarray of shape (n_features, n_features)
        """
        check_is_fitted(self)
        d = self.components_.shape[1]
        noise = self.noise_variance_
        if self.n_components_ == 0:
            return np.eye(d) / noise
        if noise == 0.0:
            return linalg.inv(self.get_covariance())
        components = self.components_
        variance = self.explained_variance_
        if self.whiten:
            components = components * np.sqrt(variance[:, None])
        excess = np.where(variance > noise, variance - noise, 0.0)
        with np.errstate(divide="ignore"):
            inner = components @ components.T / noise
            inner.flat[:: inner.shape[0] + 1] += 1.0 / excess
        precision = -(components.T @ linalg.inv(inner) @ components) / noise**2
        precision.flat[:: d + 1] += 1.0 / noise
        return precision

    def score_samples(self, X):
        """Log-likelihood of every row under the probabilistic PCA model.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        precision = self.get_precision()
        sign, log_det = np.linalg.slogdet(precision)
        if sign <= 0:
            log_det = -np.inf
        d = self.mean_.shape[0]

        def rows(batch):
            centered = batch.X - self.mean_
            return -0.5 * (
                np.einsum("ij,jk,ik->i", centered, precision, centered)
                + d * np.log(2 * np.pi)
                - log_det
            )

        return self._map_rows(X, rows, desc="score")

    def score(self, X, y=None):
        """Mean log-likelihood of the rows of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str or os.PathLike of shape \
                (n_samples, n_features)
            Rows.
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))
