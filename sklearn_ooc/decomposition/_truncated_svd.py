"""Truncated SVD (LSA) out of core, by the streamed solvers of OOCPCA."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._engine import Engine
from .._out_of_core import register
from .._stats import diagonal_moments_of_rows
from ..base import CounterpartFeaturesOutMixin, OutOfCoreMixin
from ..data import LazyArray
from ._pca import _flip_signs, _Passes


class _Spread:
    """Per-column moments of the data and of its projections; merging
    merges both."""

    def __init__(self, data, projections):
        self.data = data
        self.projections = projections

    def __add__(self, other):
        return _Spread(self.data + other.data, self.projections + other.projections)


@register(TruncatedSVD)
class OOCTruncatedSVD(
    CounterpartFeaturesOutMixin, TransformerMixin, OutOfCoreMixin, BaseEstimator
):
    """Dimensionality reduction by truncated SVD (LSA), out of core.

    scikit-learn's :class:`~sklearn.decomposition.TruncatedSVD` -- the same
    parameters, solvers, random draws, sign convention and attributes -- on
    rows read batch by batch (sparse rows too, one batch densified at a
    time). The data are not centered. Both solvers stream the products they
    need, one pass each, as :class:`OOCPCA`'s: ARPACK's products with
    ``X.T X``, and the randomized range finder's power iterations; the
    model equals scikit-learn's fitted from the same ``random_state``, to
    rounding. Memory holds ``n_features x (n_components + n_oversamples)``
    matrices (``n_samples``-sized ones when there are fewer rows than
    features).

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the output.
    algorithm : {"arpack", "randomized"}, default="randomized"
        SVD solver.
    n_iter : int, default=5
        Power iterations of the randomized solver (one pass each).
    n_oversamples : int, default=10
        Extra random directions of the randomized solver.
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        scikit-learn's normalizer of the power iterations; every choice
        spans the same subspace, which alone decides the result here.
    random_state : int, RandomState instance or None, default=None
        Seed of the randomized solver's draw and of ARPACK's ``v0``.
    tol : float, default=0.0
        Tolerance of ARPACK (0: machine precision).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Batches summarized in parallel (the same model for every value).
    verbose : int, default=0
        Progress messages.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The right singular vectors of the data.
    explained_variance_ : ndarray of shape (n_components,)
        Variance of the data projected on each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        That variance as a share of the data's total variance.
    singular_values_ : ndarray of shape (n_components,)
        The singular values.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features, when they are all strings.

    Notes
    -----
    A power iteration of the randomized solver is one pass here, ``X.T (X
    Q)``; scikit-learn's alternates ``X Q`` and ``X.T Q`` with a QR between,
    which keeps more digits when the largest singular value dwarfs the next
    (data far from the origin, not centered: at a ratio of 1e10, the second
    component to 2e-7 here, to 3e-9 there). Center such data, or use
    :class:`OOCPCA`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.decomposition import OOCTruncatedSVD
    >>> rng = np.random.RandomState(0)
    >>> X = rng.poisson(1.0, size=(200, 30)).astype(float)
    >>> svd = OOCTruncatedSVD(n_components=5, random_state=42, batch_size=64)
    >>> svd.fit_transform(X).shape
    (200, 5)
    >>> bool(np.all(np.diff(svd.singular_values_) <= 0))
    True
    """

    _parameter_constraints: dict = {
        **TruncatedSVD._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    _accept_sparse = True

    def __init__(
        self,
        n_components=2,
        *,
        algorithm="randomized",
        n_iter=5,
        n_oversamples=10,
        power_iteration_normalizer="auto",
        random_state=None,
        tol=0.0,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.tol = tol
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def iterated_power(self):
        # The name the streamed solvers of OOCPCA read.
        return self.n_iter

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Fit the model on the rows of ``X``.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, sparse matrix or table \
                of shape (n_samples, n_features)
            Training rows; a path names a ``.npy`` file.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
        """
        # BLAS on one thread from the first pass to the last solve: no spin
        # of OpenBLAS's threads between passes, or after the fit.
        with self._transaction(), Engine.single_threaded_blas():
            self._fit(X, batch_size)
        return self

    def fit_transform(self, X, y=None, *, batch_size=None):
        """Fit the model and project the rows of ``X`` on it.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, sparse matrix or table \
                of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
        """
        return self.fit(X, batch_size=batch_size).transform(X)

    def _fit(self, X, batch_size):
        self._validate_params()
        source = self._source(X, reset=True, batch_size=batch_size, fitting=True)
        n, d = source.n_samples, source.n_features
        if d < 2:
            raise ValueError(
                f"Found array with {d} feature(s) (shape=({n}, {d})) while a "
                "minimum of 2 is required."
            )
        k = self.n_components
        random_state = check_random_state(self.random_state)
        indices = range(source.n_batches)
        passes = _Passes(self, source, indices, np.zeros(d), 0)
        float32 = getattr(source.X, "dtype", None) == np.float32
        if self.algorithm == "arpack":
            if not 0 < k < min(n, d):
                raise ValueError(
                    "`k` must be an integer satisfying `0 < k < min(A.shape)`."
                )
            v0 = random_state.uniform(-1, 1, min(n, d))
            values, vt = passes.arpack(passes.gram_operator(n < d), k, self.tol, v0)
        else:
            if k > d:
                raise ValueError(f"n_components({k}) must be <= n_features({d}).")
            values, vt, _ = passes.randomized(k, random_state, n < d, float32)
        values, vt = values[:k], vt[:k]
        components = vt * _flip_signs(vt)[:, np.newaxis]

        def spread(batch):
            rows = np.asarray(batch.X, dtype=np.float64)
            return _Spread(
                diagonal_moments_of_rows(rows),
                diagonal_moments_of_rows(np.ascontiguousarray(rows @ components.T)),
            )

        moments = self._reduce(source, desc="fit: variances", summarize=spread)
        explained = moments.projections.scatter / moments.projections.weight
        total = float(np.sum(moments.data.scatter / moments.data.weight))
        dtype = np.float32 if float32 else np.float64
        self.components_ = components.astype(dtype)
        self.explained_variance_ = explained.astype(dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.explained_variance_ratio_ = (explained / total).astype(dtype)
        self.singular_values_ = np.asarray(values).astype(dtype)
        self._is_fitted = True

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def transform(self, X):
        """Project the rows of ``X`` on the components (lazily for a LazyArray).

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, sparse matrix or \
                LazyArray of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray or LazyArray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        components = self.components_

        def project(rows):
            rows = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows)
            return rows @ components.T.astype(rows.dtype, copy=False)

        if isinstance(X, LazyArray):
            self._source(X, reset=False)
            return X.map(project)
        return self._map_rows(X, lambda b: project(b.X), desc="transform")

    def inverse_transform(self, X):
        """Back from the projections to the feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Projections.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return np.asarray(X) @ self.components_
