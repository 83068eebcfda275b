"""Principal component analysis out of core, with scikit-learn's solvers."""

from __future__ import annotations

from dataclasses import dataclass
from math import lgamma, log
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.sparse.linalg import LinearOperator, aslinearoperator, eigsh
from sklearn.base import (
    BaseEstimator,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._engine import Engine
from .._out_of_core import register
from .._stats import (
    RootMoments,
    diagonal_moments_of_rows,
    largest_positive,
    moments_of_rows,
    needed_exponent,
)
from ..base import ClosedFormMixin, CounterpartFeaturesOutMixin
from ..data import EpochPlan, LazyArray

# scikit-learn's floor on the eigenvalues in Minka's evidence: ranks whose
# last variance is below it are never chosen.
_MLE_EPS = 1e-15


def _log_evidence(spectrum, rank, n_samples):
    """Laplace approximation of the evidence of a rank-``rank`` probabilistic
    PCA (Minka, "Automatic choice of dimensionality for PCA", 2000)."""
    n_features = spectrum.shape[0]
    if not 1 <= rank < n_features:
        raise ValueError("the rank must lie in [1, n_features)")
    if spectrum[rank - 1] < _MLE_EPS:
        return -np.inf
    pu = -rank * log(2.0)
    for i in range(1, rank + 1):
        pu += (
            lgamma((n_features - i + 1) / 2.0) - log(np.pi) * (n_features - i + 1) / 2.0
        )
    pl = -np.sum(np.log(spectrum[:rank])) * n_samples / 2.0
    v = max(_MLE_EPS, np.sum(spectrum[rank:]) / (n_features - rank))
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
    """Minka's rank: 0 if no rank has a finite evidence, as scikit-learn."""
    evidence = [-np.inf]
    evidence += [_log_evidence(spectrum, r, n_samples) for r in range(1, len(spectrum))]
    return int(np.argmax(evidence))


# The largest number of features whose d x d covariance the ARPACK solver
# accumulates in one pass (32 MiB); wider data are multiplied by the
# centered rows, one pass over the data per product.
_DENSE_ARPACK_MAX_FEATURES = 2048

# Directions of the sampled range whose singular value is below this
# fraction of the largest are rounding noise of a rank-deficient product
# (scikit-learn's QR gives them basis vectors orthogonal to the data).
_NULL_RATIO = 1e-14

# Above this condition number of the sampled range, its basis is
# orthonormalized again in a second pass (CholeskyQR2), so no digits are
# lost to the conditioning.
_REORTHOGONALIZE_COND = 1e4


def _r_factor(rows):
    """The R factor of ``rows`` (at most ``rows.shape[1]`` rows)."""
    return linalg.qr(rows, mode="r", check_finite=False)[0][: min(rows.shape)]


def _orthonormal(M):
    """An orthonormal basis of the columns of ``M`` (economic QR)."""
    return linalg.qr(M, mode="economic", check_finite=False)[0]


@dataclass
class _Products:
    """What one pass of the truncated solvers learns from the centered rows.

    Attributes
    ----------
    product : ndarray
        The sum over batches of ``A_b.T @ (A_b @ Q)`` (or of ``A_b.T @ Q_b``
        for an ``n_samples``-sized ``Q``).
    root : ndarray or None
        The R factor of ``A @ Q``, merged by TSQR, when asked for.
    """

    product: np.ndarray
    root: np.ndarray = None

    def __add__(self, other):
        root = None
        if self.root is not None:
            root = _r_factor(np.vstack([self.root, other.root]))
        return _Products(self.product + other.product, root)


def _flip_signs(vectors):
    """The signs that :func:`largest_positive` gives each row of ``vectors``."""
    biggest = np.argmax(np.abs(vectors), axis=1)
    signs = np.sign(vectors[np.arange(vectors.shape[0]), biggest])
    signs[signs == 0] = 1.0
    return signs


@register(PCA)
class OOCPCA(
    CounterpartFeaturesOutMixin, TransformerMixin, ClosedFormMixin, BaseEstimator
):
    """Principal component analysis out of core, with scikit-learn's solvers.

    The four solvers of :class:`~sklearn.decomposition.PCA` give its results
    up to rounding (and the sign of each component, made positive where the
    component is largest, as scikit-learn's ``svd_flip``):

    - ``svd_solver='covariance_eigh'``: the mean and the covariance are
      accumulated batch by batch and merged stably, in one pass; their
      eigen-decomposition gives the components (the fastest for tall data).
      float32 rows are multiplied in float32, as scikit-learn's solver
      multiplies them, but a chunk at a time about a shift near their mean,
      with every sum in float64: within float32's rounding of the float64
      fit, and closer to it than scikit-learn's (see :ref:`exact`).
    - ``svd_solver='full'``: the mean and the R factor of the centered rows
      (merged by TSQR), in one pass; its SVD is that of the centered data,
      small components included (the covariance resolves the variances only
      to ``1e-16`` times the largest).
    - ``svd_solver='randomized'``: Halko et al.'s randomized range finder
      with scikit-learn's random draw, one pass over the data per power
      iteration (plus one for the mean and one or two for the projection).
      No ``n_features x n_features`` matrix is formed: this is the solver for
      wide data.
    - ``svd_solver='arpack'``: ``scipy.sparse.linalg.svds``'s Lanczos
      iteration from scikit-learn's starting vector ``v0``, on the
      covariance accumulated in one pass (up to 2,048 features), or else
      with one pass over the data per product (two when ``n_samples <
      n_features``).

    ``'auto'`` picks as scikit-learn does. The exact solvers also offer
    ``partial_fit``, ``summarize`` and ``from_summaries``; the truncated
    ones, which pass over the data several times, offer ``fit`` only.
    Data whose squares leave float64's range are scaled by powers of two,
    exactly; variances that float64 cannot hold raise a ``ValueError``.

    Parameters
    ----------
    n_components : int, float, 'mle' or None, default=None
        Components kept: a number; a fraction in (0, 1) of the variance to
        explain; ``'mle'`` (Minka's choice); ``None`` for all
        (``min(n_samples, n_features) - 1`` with ``'arpack'``).
    copy : bool, default=True
        Accepted for compatibility with scikit-learn: the data are never
        modified, whatever its value (batches are centered in scratch
        buffers).
    whiten : bool, default=False
        Scale the projections to unit variance.
    svd_solver : {'auto', 'full', 'covariance_eigh', 'arpack', \
            'randomized'}, default='auto'
        The solver, as above.
    tol : float, default=0.0
        Tolerance of ARPACK (``svd_solver='arpack'``); ``0`` is machine
        precision.
    iterated_power : int or 'auto', default='auto'
        Power iterations of the randomized solver, one pass over the data
        each; ``'auto'``: 7 if ``n_components < 0.1 * min(X.shape)``, else
        4.
    n_oversamples : int, default=10
        Extra random directions sampled by the randomized solver.
    power_iteration_normalizer : {'auto', 'QR', 'LU', 'none'}, default='auto'
        How scikit-learn normalizes the randomized solver's power
        iterations. All give the same subspace in exact arithmetic, hence
        the same result: out of core, the basis is always orthonormalized
        (a QR of an ``n_features x (n_components + n_oversamples)`` matrix
        per pass), which only removes rounding where ``'none'`` or ``'LU'``
        let it grow.
    random_state : int, RandomState instance or None, default=None
        The randomized solver's Gaussian draw and ARPACK's ``v0``, drawn as
        scikit-learn draws them.
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
            Interval(RealNotInt, 0, 1, closed="neither"),
            StrOptions({"mle"}),
            None,
        ],
        "copy": ["boolean"],
        "whiten": ["boolean"],
        "svd_solver": [
            StrOptions({"auto", "full", "covariance_eigh", "arpack", "randomized"})
        ],
        "tol": [Interval(Real, 0, None, closed="left")],
        "iterated_power": [
            StrOptions({"auto"}),
            Interval(Integral, 0, None, closed="left"),
        ],
        "n_oversamples": [Interval(Integral, 1, None, closed="left")],
        "power_iteration_normalizer": [StrOptions({"auto", "QR", "LU", "none"})],
        "random_state": ["random_state"],
        **ClosedFormMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        n_components=None,
        *,
        copy=True,
        whiten=False,
        svd_solver="auto",
        tol=0.0,
        iterated_power="auto",
        n_oversamples=10,
        power_iteration_normalizer="auto",
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = self.svd_solver in (
            "auto",
            "arpack",
            "covariance_eigh",
        )
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the model from passes over ``X``.

        One pass for the exact solvers; the truncated ones pass over the
        data once per product they need (see the class description).

        Parameters
        ----------
        X : ndarray, sparse matrix, numpy.memmap, str, os.PathLike, \
                LazyArray or array store of shape (n_samples, n_features)
            Rows (sparse rows only with ``svd_solver`` in ``'auto'``,
            ``'arpack'``, ``'covariance_eigh'``, as scikit-learn).
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
        self._fit(X, batch_size, batches_per_epoch)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, *, batch_size=None, batches_per_epoch=None):
        """Fit the model and return the projections of ``X``.

        As scikit-learn, the projections are those of the fitted
        decomposition: for the randomized solver, the data projected on the
        sampled range, which one more pass computes; for the other solvers,
        :meth:`transform` (the same up to rounding).

        Parameters
        ----------
        X : ndarray, sparse matrix, numpy.memmap, str, os.PathLike, \
                LazyArray or array store of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call.
        batches_per_epoch : int, default=None
            Fit from the first batches only.

        Returns
        -------
        ndarray of shape (n_samples, `n_components_`)
            Projections.
        """
        scores = self._fit(X, batch_size, batches_per_epoch)
        if scores is None:
            return self.transform(X)
        return self._map_rows(
            X, lambda b: self._transform_rows(b.X, scores), desc="transform"
        )

    def _fit(self, X, batch_size, batches_per_epoch):
        """Fit; return the map ``M`` with ``U S = (X - mean_) @ M`` when the
        scores of the fit are not the projections (randomized solver)."""
        self._check_sparse(X)
        scores = None
        # BLAS on one thread from the first pass to the last solve: no spin
        # of OpenBLAS's threads between passes, or after the fit.
        with self._transaction(), Engine.single_threaded_blas():
            for attr in ("_seen_stats", "_pending_stats"):
                self.__dict__.pop(attr, None)
            source = self._source(X, reset=True, batch_size=batch_size, fitting=True)
            self._fit_dtype = _result_dtype(source)
            self._fit_svd_solver = self._choose_solver(source, sp.issparse(X))
            indices = EpochPlan(source.n_batches, batches_per_epoch).next_epoch()
            if self._fit_svd_solver in ("arpack", "randomized"):
                scores = self._fit_truncated(source, indices)
                self._is_fitted = True
            else:
                self._fit_stats(self._reduce(source, indices, desc="fit"))
        return scores

    def partial_fit(self, X, y=None):
        """Add the rows of ``X`` to the model: exact incremental PCA.

        Only with the exact solvers: ``'auto'`` chooses between
        ``'covariance_eigh'`` and ``'full'`` at the first call.

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
        solver = getattr(self, "_fit_svd_solver", None)
        if solver in ("arpack", "randomized") and not hasattr(self, "_seen_stats"):
            raise ValueError(
                f"this model was fitted by svd_solver={solver!r}, which keeps no "
                "statistics to add rows to: fit with svd_solver='full' or "
                "'covariance_eigh' to continue with partial_fit"
            )
        return super().partial_fit(X)

    def _check_sparse(self, X):
        if sp.issparse(X) and self.svd_solver not in (
            "auto",
            "arpack",
            "covariance_eigh",
        ):
            raise TypeError(
                'PCA only support sparse inputs with the "arpack" and'
                f' "covariance_eigh" solvers, while "{self.svd_solver}" was passed. '
                "See TruncatedSVD for a possible alternative."
            )

    def _choose_solver(self, source, sparse):
        """scikit-learn's choice of solver for data of this shape."""
        solver = self.svd_solver
        n, d = source.n_samples, source.n_features
        if solver == "auto" and sparse:
            return "arpack"
        if solver != "auto":
            return solver
        k = self.n_components if self.n_components is not None else min(n, d)
        if d <= 1_000 and n >= 10 * d:
            return "covariance_eigh"
        if max(n, d) <= 500 or k == "mle":
            return "full"
        if 1 <= k < 0.8 * min(n, d):
            return "randomized"
        return "full"

    def _prepare(self, source, fresh):
        if not fresh:
            return
        solver = self.svd_solver
        if solver in ("arpack", "randomized"):
            raise ValueError(
                f"svd_solver={solver!r} passes over all the data several times: "
                "use fit, or svd_solver='full' or 'covariance_eigh' for "
                "partial_fit and summarize (exact, incremental)"
            )
        if solver == "auto":
            n, d = source.n_samples, source.n_features
            solver = "covariance_eigh" if d <= 1_000 and n >= 10 * d else "full"
        self._fit_svd_solver = solver
        self._fit_dtype = _result_dtype(source)

    # Moments and the "full" solver's root: their means show a NaN or an
    # infinity.
    _summaries_reveal_nonfinite = True

    def _summarize(self, batch):
        if self._fit_svd_solver == "full":
            return RootMoments.of_rows(batch.X, workspace=batch.workspace)
        # As scikit-learn's covariance solver, float32 rows are multiplied
        # in float32.
        return moments_of_rows(
            batch.X, workspace=batch.workspace, rescale=True, single=True
        )

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
        scale = self._common_scale(stats)
        scatter = stats.scatter_at(np.full_like(stats.exponents, scale))
        values, vectors = linalg.eigh(scatter)
        values = np.clip(values[::-1], 0.0, None)
        return np.sqrt(values), scale, largest_positive(vectors[:, ::-1].T)

    @staticmethod
    def _common_scale(stats):
        """One power-of-two exponent bringing every column's spread in range."""
        if not stats.exponents.any():
            return 0
        magnitude = stats.log2_magnitude()
        if not np.isfinite(magnitude).any():
            return 0
        return int(needed_exponent(magnitude[np.isfinite(magnitude)].max()))

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
                f"n_features)={min(n_samples, n_features)} with "
                f"svd_solver={self._fit_svd_solver!r}"
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
            with np.errstate(over="ignore", under="ignore"):
                k = _mle_rank(np.ldexp(eigenvalues, 2 * scale), n_samples)
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
        self._cast_attributes()

    def _cast_attributes(self):
        """The fitted arrays in the data's precision, as scikit-learn returns
        them (they are computed in float64 whatever the input)."""
        dtype = getattr(self, "_fit_dtype", np.float64)
        # Rows are centered by the float64 mean: the float32 mean of data far
        # from the origin is off by more than their spread.
        self._mean64 = np.asarray(self.mean_, dtype=np.float64)
        for name in (
            "components_",
            "explained_variance_",
            "explained_variance_ratio_",
            "singular_values_",
            "mean_",
        ):
            setattr(self, name, getattr(self, name).astype(dtype, copy=False))

    # -- the truncated solvers ------------------------------------------------

    def _check_truncated_components(self, n_samples, n_features):
        k, solver = self.n_components, self._fit_svd_solver
        if k is None:
            k = min(n_samples, n_features) - (solver == "arpack")
        if isinstance(k, str):
            raise ValueError(
                f"n_components={k!r} cannot be a string with svd_solver='{solver}'"
            )
        if not 1 <= k <= min(n_samples, n_features):
            raise ValueError(
                f"n_components={k!r} must be between 1 and min(n_samples, "
                f"n_features)={min(n_samples, n_features)!r} with "
                f"svd_solver='{solver}'"
            )
        if solver == "arpack" and k == min(n_samples, n_features):
            raise ValueError(
                f"n_components={k!r} must be strictly less than min(n_samples, "
                f"n_features)={min(n_samples, n_features)!r} with "
                f"svd_solver='{solver}'"
            )
        return int(k)

    def _fit_truncated(self, source, indices):
        """Fit with ARPACK or the randomized range finder, as scikit-learn.

        A first pass gives the mean (and, for ARPACK on at most
        2,048 features, the covariance); every later pass reads the rows
        centered by that mean, ``A = X - mean_``, never ``X.T X - n mean
        mean^T``, so data far from the origin lose no digits.
        """
        rows = [source.bounds(i) for i in indices]
        n_samples = sum(stop - start for start, stop in rows)
        n_features = source.n_features
        k = self._check_truncated_components(n_samples, n_features)
        random_state = check_random_state(self.random_state)
        dense = (
            self._fit_svd_solver == "arpack"
            and n_samples >= n_features
            and n_features <= _DENSE_ARPACK_MAX_FEATURES
        )
        if dense:
            stats = self._reduce(source, indices, desc="fit: covariance")
        else:
            stats = self._reduce(
                source,
                indices,
                desc="fit: mean",
                summarize=_mean_and_spread,
            )
        if n_samples < 2:
            raise ValueError(
                f"n_samples={n_samples}: PCA needs at least 2 samples (1 sample "
                "has no variance)"
            )
        scale = self._common_scale(stats)
        mean = stats.mean
        passes = _Passes(self, source, indices, mean, scale)
        if self._fit_svd_solver == "arpack":
            v0 = random_state.uniform(-1, 1, min(n_samples, n_features))
            if dense:
                scatter = stats.scatter_at(np.full_like(stats.exponents, scale))
                gram = aslinearoperator(scatter)
            else:
                gram = passes.gram_operator(n_samples < n_features)
            singular_values, components = passes.arpack(gram, k, self.tol, v0)
            scores = None
        else:
            float32 = getattr(source.X, "dtype", None) == np.float32
            singular_values, components, scores = passes.randomized(
                k, random_state, n_samples < n_features, float32
            )
        spread = stats.scatter_at(np.full_like(stats.exponents, scale))
        total = np.trace(spread) if spread.ndim == 2 else spread.sum()
        singular_values, components = singular_values[:k], components[:k]
        signs = _flip_signs(components)
        components = components * signs[:, None]
        if scores is not None:
            scores = scores[:, :k] * signs
        variances = singular_values**2 / (n_samples - 1)
        total = total / (n_samples - 1)
        _check_variances(variances, scale)
        self.mean_ = mean
        self.n_samples_ = n_samples
        self.n_components_ = k
        self.components_ = components
        self.explained_variance_ = np.ldexp(variances, 2 * scale)
        self.explained_variance_ratio_ = variances / total
        self.singular_values_ = np.ldexp(singular_values, scale)
        if k < min(n_features, n_samples):
            noise = (total - variances.sum()) / (min(n_features, n_samples) - k)
            self.noise_variance_ = float(np.ldexp(noise, 2 * scale))
        else:
            self.noise_variance_ = 0.0
        self._cast_attributes()
        return scores

    def _row_mean(self):
        """``mean_``, in float64 where the fit computed it so."""
        mean = getattr(self, "_mean64", None)
        if mean is None or mean.astype(self.mean_.dtype).tobytes() != (
            self.mean_.tobytes()
        ):
            return np.asarray(self.mean_, dtype=np.float64)
        return mean

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _transform_rows(self, X, scores=None):
        dtype = _output_dtype(X, self.components_)
        mapping = self.components_.T if scores is None else scores
        out = (np.asarray(X, dtype=np.float64) - self._row_mean()) @ mapping
        if self.whiten:
            # scikit-learn's floor: axes of (nearly) no variance, as on
            # rank-deficient data, scale by eps rather than divide by zero.
            scale = np.sqrt(self.explained_variance_)
            out /= np.maximum(scale, np.finfo(scale.dtype).eps)
        return out.astype(dtype, copy=False)

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
        dtype = _output_dtype(np.asarray(X), self.components_)
        X = np.asarray(X, dtype=np.float64)
        if self.whiten:
            X = X * np.sqrt(self.explained_variance_)
        return (X @ self.components_ + self._row_mean()).astype(dtype, copy=False)

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
        mean = self._row_mean()

        def rows(batch):
            centered = batch.X - mean
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


class _Passes:
    """The passes of the truncated solvers over the centered rows ``A``.

    ``A = (X - mean) * 2**-scale``, batch by batch; every product of ``A``
    with a small matrix is one pass (through the estimator's engine), and
    only ``n_features x (n_components + n_oversamples)`` matrices (or
    ``n_samples``-sized ones, when ``n_samples < n_features``) are kept.
    """

    def __init__(self, owner, source, indices, mean, scale):
        self.owner = owner
        self.source = source
        self.indices = list(indices)
        self.mean = mean
        self.scale = scale
        self.offsets = {}
        position = 0
        for i in self.indices:
            start, stop = source.bounds(i)
            self.offsets[start] = position
            position += stop - start
        self.n_samples = position
        self.n_features = source.n_features

    def centered(self, batch):
        A = np.subtract(batch.X, self.mean, dtype=np.float64)
        return np.ldexp(A, -self.scale) if self.scale else A

    def _rows(self, batch):
        start = self.offsets[batch.start]
        return slice(start, start + batch.n_samples)

    def _reduce(self, summarize, desc):
        return self.owner._reduce(
            self.source, self.indices, desc=desc, summarize=summarize
        )

    def gram(self, Q, *, root=False, desc="fit: A.T A Q"):
        """``A.T @ (A @ Q)``, and the R factor of ``A @ Q`` if ``root``."""

        def summarize(batch):
            A = self.centered(batch)
            Y = A @ Q
            return _Products(A.T @ Y, _r_factor(Y) if root else None)

        return self._reduce(summarize, desc)

    def left(self, Q, desc="fit: A.T Q"):
        """``A.T @ Q`` for ``Q`` of ``n_samples`` rows."""

        def summarize(batch):
            return _Products(self.centered(batch).T @ Q[self._rows(batch)])

        return self._reduce(summarize, desc).product

    def right(self, T, desc="fit: A T"):
        """``A @ T``, of ``n_samples`` rows."""
        out = np.empty((self.n_samples,) + T.shape[1:])
        engine = self.owner._engine()
        for batch, part in engine.map(
            self.source, self.indices, lambda b: self.centered(b) @ T, desc=desc
        ):
            out[self._rows(batch)] = part
        return out

    def gram_operator(self, transposed):
        """``A.T A`` (``A A.T`` if ``transposed``) as a LinearOperator: one
        pass per product (two for ``A A.T``), as ``svds`` builds it."""
        size = self.n_samples if transposed else self.n_features

        def matmat(x):
            x = np.asarray(x, dtype=np.float64).reshape(size, -1)
            if transposed:
                return self.right(self.left(x, desc="arpack: A.T x"), "arpack: A y")
            return self.gram(x, desc="arpack: A.T A x").product

        return LinearOperator(
            (size, size),
            matvec=lambda x: matmat(x).ravel(),
            matmat=matmat,
            dtype=np.float64,
        )

    def arpack(self, gram, k, tol, v0):
        """scipy's ``svds(A, k, tol=tol, v0=v0)``, as PCA calls it: the
        singular values (decreasing) and right singular vectors (rows)."""
        _, eigvec = eigsh(gram, k=k, tol=tol**2, which="LM", v0=v0)
        eigvec, _ = np.linalg.qr(eigvec)
        if gram.shape[0] == self.n_features:
            # svd(A @ eigvec) from the R factor of A @ eigvec: one pass.
            root = self.gram(eigvec, root=True, desc="fit: A V").root
            _, values, vt = linalg.svd(root, full_matrices=False)
            return values, vt @ eigvec.T
        u, values, _ = linalg.svd(
            self.left(eigvec, desc="fit: A.T U"), full_matrices=False
        )
        return values, u.T

    def randomized(self, k, random_state, transposed, float32):
        """scikit-learn's ``_randomized_svd`` of ``A`` (of ``A.T`` if
        ``transposed``, as it chooses): the singular values and right
        singular vectors (rows) of ``A`` projected on the sampled range.

        scikit-learn normalizes ``A @ Q`` and ``A.T @ Q`` in turn; one pass
        computes ``A.T @ (A @ Q)``, whose columns span the same subspace,
        then orthonormalizes it (the subspace, not the basis, decides the
        result).
        """
        size = k + self.owner.n_oversamples
        n_iter = self.owner.iterated_power
        if n_iter == "auto":
            n_iter = 7 if k < 0.1 * min(self.n_samples, self.n_features) else 4
        rows = self.n_samples if transposed else self.n_features
        Q = random_state.normal(size=(rows, size))
        if float32:
            # scikit-learn's draw, rounded to the data's precision.
            Q = Q.astype(np.float32).astype(np.float64)
        if transposed:
            Q = _orthonormal(self.left(Q))
        for i in range(n_iter):
            Q = _orthonormal(self.gram(Q, desc=f"fit: power iteration {i + 1}").product)
        if transposed:
            # The range lies in feature space: SVD of A @ Q from its R factor.
            root = self.gram(Q, root=True, desc="fit: A Q").root
            _, values, vt = linalg.svd(root, full_matrices=False)
            return values, vt @ Q.T, None
        return self._project(Q, k)

    def _project(self, Q, k):
        """Singular values and right singular vectors of ``P A``, ``P`` the
        projector on the range of ``A @ Q`` (scikit-learn's ``Q.T @ A``
        after a QR of ``A @ Q``).

        With ``A @ Q = Y``, ``Y = Q_y R`` and ``R = U S V.T``, the columns of
        ``Y V / S`` are an orthonormal basis of the range and ``B = (V / S).T
        @ (A.T @ Y).T`` is ``A`` in that basis. Directions of ``Y`` at
        rounding level are those of a rank-deficient product: scikit-learn's
        basis vectors for them are orthogonal to the data, and add nothing.
        """
        products = self.gram(Q, root=True, desc="fit: A.T A Q")
        _, values, vt = linalg.svd(products.root, full_matrices=False)
        if not values.size or values[0] == 0:
            vt = _complement(np.zeros((0, self.n_features)), k)
            return np.zeros(k), vt, np.zeros((self.n_features, k))
        keep = values > values[0] * _NULL_RATIO
        basis = vt[keep].T / values[keep]
        if values[0] > _REORTHOGONALIZE_COND * values[keep][-1]:
            # Y V / S is orthonormal only to eps times the condition number:
            # once more from the better basis (CholeskyQR2).
            Q = Q @ basis
            products = self.gram(Q, root=True, desc="fit: A.T A Q again")
            root = products.root
            B = linalg.solve_triangular(root, products.product.T, trans="T")
        else:
            root = None
            B = basis.T @ products.product.T
        u, values, vt = linalg.svd(B, full_matrices=False)
        # The scores U S of scikit-learn's fit_transform: A @ Q @ M.
        scale = u[:, :k] * values[:k]
        if root is None:
            scores = Q @ (basis @ scale)
        else:
            scores = Q @ linalg.solve_triangular(root, scale)
        if values.shape[0] < k:
            missing = k - values.shape[0]
            vt = _complement(vt, k)
            values = np.concatenate([values, np.zeros(missing)])
            scores = np.hstack([scores, np.zeros((self.n_features, missing))])
        return values, vt, scores


def _mean_and_spread(batch):
    """Mean and variance of each column, scaled by powers of two where the
    squares would leave float64's range (see ``Moments.exponent``)."""
    with np.errstate(divide="ignore"):
        magnitude = np.log2(np.abs(batch.X).max(axis=0, initial=0.0))
    exponent = needed_exponent(magnitude)
    return diagonal_moments_of_rows(
        batch.X, exponent=exponent if exponent.any() else None
    )


def _result_dtype(source):
    """float32 for float32 data, as scikit-learn keeps it; else float64."""
    dtype = getattr(source.X, "dtype", None)
    return np.float32 if dtype == np.float32 else np.float64


def _output_dtype(X, components):
    """scikit-learn's dtype for products of ``X`` with float ``components``."""
    if getattr(X, "dtype", None) == np.float32 and components.dtype == np.float32:
        return np.float32
    return np.float64


def _complement(vt, k):
    """``vt`` (orthonormal rows) completed to ``k`` orthonormal rows."""
    missing = k - vt.shape[0]
    d = vt.shape[1]
    filler = np.random.RandomState(0).normal(size=(d, missing))
    return _orthonormal(np.hstack([vt.T, filler]))[:, :k].T
