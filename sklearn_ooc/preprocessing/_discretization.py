"""KBinsDiscretizer fitted out of core: exact quantile edges, streamed k-means."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder
from sklearn.utils import resample

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ._quantile import (
    StreamedFitMixin,
    column_quantiles,
    count_pass,
    weighted_quantiles,
)


class _Moments:
    """Counts, means and centered sums of squares of columns (Chan et al.)."""

    __slots__ = ("n", "mean", "m2")

    def __init__(self, n, mean, m2):
        self.n, self.mean, self.m2 = n, mean, m2

    @classmethod
    def of(cls, X):
        mean = X.mean(axis=0, dtype=np.float64)
        m2 = ((X - mean) ** 2).sum(axis=0, dtype=np.float64)
        return cls(X.shape[0], mean, m2)

    def __add__(self, other):
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / n)
        return _Moments(n, mean, m2)


class _Lloyd:
    """Statistics of one streamed Lloyd iteration of 1-D k-means per column:
    weights and weighted sums per cluster, labels changed since the previous
    centers, and the rows farthest from their centers (to reseed empty
    clusters as scikit-learn does)."""

    __slots__ = ("weights", "sums", "changed", "far")

    def __init__(self, weights, sums, changed, far):
        self.weights, self.sums, self.changed, self.far = weights, sums, changed, far

    def __add__(self, other):
        far = []
        for a, b in zip(self.far, other.far, strict=True):
            parts = [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
            k = max(len(a[0]), len(b[0]))
            keep = _farthest(parts[0], parts[4], k)
            far.append(tuple(p[keep] for p in parts))
        return _Lloyd(
            [a + b for a, b in zip(self.weights, other.weights, strict=True)],
            [a + b for a, b in zip(self.sums, other.sums, strict=True)],
            self.changed + other.changed,
            far,
        )


def _farthest(distances, rows, k):
    """The ``k`` largest distances, the later row first among equals (where
    scikit-learn's ``argpartition`` takes them)."""
    return np.lexsort((-rows, -distances))[:k]


def _nearest(values, centers):
    """Index of the nearest center of each value (the first of ties)."""
    d = (values[:, None] - centers[None, :]) ** 2
    return np.argmin(d, axis=1)


@register(KBinsDiscretizer)
class OOCKBinsDiscretizer(StreamedFitMixin, OutOfCoreMixin, KBinsDiscretizer):
    """:class:`sklearn.preprocessing.KBinsDiscretizer` fitted in streamed passes.

    With no more rows than ``subsample`` (or ``subsample=None``) the bin
    edges come from all the rows:

    - ``"uniform"``: one pass for the extremes (of the rows of non-zero
      weight), edges bit for bit scikit-learn's;
    - ``"quantile"``: exact selection of the order statistics (a counting
      pass, a few histogram passes, one collecting pass) and NumPy's
      ``percentile`` with ``quantile_method``, bit for bit; with
      ``sample_weight``, scikit-learn's weighted percentiles
      (``"inverted_cdf"`` or ``"averaged_inverted_cdf"``) over cumulative
      weights (equal to rounding of the weight sums);
    - ``"kmeans"``: scikit-learn's 1-D k-means (centers started at the
      midpoints of uniform bins, one run), as streamed Lloyd iterations, one
      pass each, with its tolerance (``1e-4`` times the variance of the
      column), its strict convergence test (no label changed) and its
      reseeding of empty clusters with the farthest rows; centers equal to
      rounding.

    With more rows than ``subsample``, scikit-learn's subsample: the same
    rows, drawn with replacement from ``random_state`` as scikit-learn draws
    them (weighted by ``sample_weight``, whose ``n_samples`` values are then
    read into memory, as scikit-learn's draw needs them), read in one pass
    and held in memory; the edges are then scikit-learn's on them.

    Parameters
    ----------
    n_bins : int or array-like of shape (n_features,), default=5
        Number of bins.
    encode : {'onehot', 'onehot-dense', 'ordinal'}, default='onehot'
        Encoding of the result.
    strategy : {'uniform', 'quantile', 'kmeans'}, default='quantile'
        How the widths of the bins are chosen.
    quantile_method : str, default="averaged_inverted_cdf"
        NumPy's percentile method of ``strategy="quantile"``.
    dtype : {np.float32, np.float64}, default=None
        The output dtype (that of ``X`` if ``None``).
    subsample : int or None, default=200_000
        Rows used to fit at most (see above).
    random_state : int, RandomState instance or None, default=None
        Seed of the subsample.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 logs each pass; 2 adds a progress bar.

    Attributes
    ----------
    bin_edges_ : ndarray of ndarray of shape (n_features,)
        The edges of each bin.
    n_bins_ : ndarray of shape (n_features,), dtype=np.int64
        Number of bins per feature.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.preprocessing.KBinsDiscretizer : The in-memory transformer this
        one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCKBinsDiscretizer
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> kb = OOCKBinsDiscretizer(n_bins=3, encode="ordinal", batch_size=4).fit(X)
    >>> kb.bin_edges_[0]
    array([ 0.,  3.,  7., 10.])
    >>> kb.transform([[1.0, 11.0]])
    array([[0., 2.]])
    """

    _sklearn_class = KBinsDiscretizer
    _parameter_constraints: dict = {
        **KBinsDiscretizer._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        n_bins=5,
        *,
        encode="onehot",
        strategy="quantile",
        quantile_method="averaged_inverted_cdf",
        dtype=None,
        subsample=200_000,
        random_state=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            n_bins=n_bins,
            encode=encode,
            strategy=strategy,
            quantile_method=quantile_method,
            dtype=dtype,
            subsample=subsample,
            random_state=random_state,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, batch_size=None):
        """Compute the bin edges of the columns of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted discretizer.
        """
        with self._transaction():
            source = self._source(
                X, None, sample_weight, reset=True, batch_size=batch_size
            )
            data_dtype = np.dtype(source.X.dtype)
            if self.dtype in (np.float64, np.float32):
                output_dtype = self.dtype
            else:
                output_dtype = data_dtype
            n_samples = source.n_samples
            weighted = source.sample_weight is not None
            if weighted:
                total = self._reduce(
                    source,
                    summarize=lambda b: float(b.sample_weight.sum()),
                    desc="weights",
                )
                if not total > 0:
                    raise ValueError(
                        "Sample weights must contain at least one non-zero number."
                    )
            if self.subsample is not None and n_samples > self.subsample:
                self._fit_subsample(source, output_dtype, weighted)
            else:
                self._fit_all(source, output_dtype, weighted)
            self._is_fitted = True
        return self

    def _fit_subsample(self, source, output_dtype, weighted):
        n_samples = source.n_samples
        weights = source.weights_of(np.arange(n_samples)) if weighted else None
        rows = resample(
            np.arange(n_samples),
            replace=True,
            n_samples=self.subsample,
            random_state=self.random_state,
            sample_weight=weights,
        )
        sample = self._take_rows(source, rows)
        params = self._sklearn_params()
        params.update(subsample=None, dtype=self.dtype)
        twin = KBinsDiscretizer(**params).fit(sample.astype(output_dtype, copy=False))
        self._publish(twin)

    def _fit_all(self, source, output_dtype, weighted):
        n_features = source.n_features
        n_bins = self._validate_n_bins(n_features)
        data_dtype = np.dtype(source.X.dtype)
        if data_dtype not in (np.float32, np.float64):
            data_dtype = np.dtype(np.float64)
        strategy = self.strategy
        quantile_method = self.quantile_method
        if strategy == "quantile" and weighted:
            if quantile_method not in ("inverted_cdf", "averaged_inverted_cdf"):
                raise ValueError(
                    "When fitting with strategy='quantile' and sample weights, "
                    "quantile_method should either be set to "
                    "'averaged_inverted_cdf' or "
                    f"'inverted_cdf', got quantile_method='{quantile_method}' "
                    "instead."
                )
        reduce_all = self._reducer(source)
        if strategy != "quantile" and weighted:
            # extremes of the rows of non-zero weight
            def nonzero(batch):
                X = batch.X
                if batch.sample_weight is None:
                    return X
                return np.where((batch.sample_weight != 0)[:, None], X, np.nan)

            counts, mins, maxs = count_pass(
                self._reducer(source, transform=nonzero), n_features
            )
        else:
            counts, mins, maxs = count_pass(reduce_all, n_features)
        mins = mins.astype(data_dtype)
        maxs = maxs.astype(data_dtype)
        bin_edges = np.zeros(n_features, dtype=object)
        varying = []
        for jj in range(n_features):
            if mins[jj] == maxs[jj]:
                warnings.warn(
                    f"Feature {jj} is constant and will be replaced with 0.",
                    stacklevel=3,
                )
                n_bins[jj] = 1
                bin_edges[jj] = np.array([-np.inf, np.inf])
            else:
                varying.append(jj)
        if strategy == "uniform":
            for jj in varying:
                bin_edges[jj] = np.linspace(mins[jj], maxs[jj], n_bins[jj] + 1)
        elif strategy == "quantile" and varying:
            self._quantile_edges(
                source,
                reduce_all,
                counts,
                mins,
                maxs,
                n_bins,
                varying,
                bin_edges,
                data_dtype,
                weighted,
            )
        elif strategy == "kmeans" and varying:
            self._kmeans_edges(
                source,
                reduce_all,
                mins,
                maxs,
                n_bins,
                varying,
                bin_edges,
                data_dtype,
            )
        for jj in varying:
            if strategy in ("quantile", "kmeans"):
                mask = np.ediff1d(bin_edges[jj], to_begin=np.inf) > 1e-8
                bin_edges[jj] = bin_edges[jj][mask]
                if len(bin_edges[jj]) - 1 != n_bins[jj]:
                    warnings.warn(
                        "Bins whose width are too small (i.e., <= "
                        f"1e-8) in feature {jj} are removed. Consider "
                        "decreasing the number of bins.",
                        stacklevel=3,
                    )
                    n_bins[jj] = len(bin_edges[jj]) - 1
        self.bin_edges_ = bin_edges
        self.n_bins_ = n_bins
        if "onehot" in self.encode:
            self._encoder = OneHotEncoder(
                categories=[np.arange(i) for i in self.n_bins_],
                sparse_output=self.encode == "onehot",
                dtype=output_dtype,
            )
            self._encoder.fit(np.zeros((1, len(self.n_bins_))))

    def _quantile_edges(
        self,
        source,
        reduce,
        counts,
        mins,
        maxs,
        n_bins,
        varying,
        bin_edges,
        dtype,
        weighted,
    ):
        groups = {}
        for jj in varying:
            groups.setdefault(int(n_bins[jj]), []).append(jj)
        for k, columns in groups.items():
            levels = np.linspace(0, 100, k + 1)
            if weighted:
                average = self.quantile_method == "averaged_inverted_cdf"
                values = weighted_quantiles(
                    reduce, columns, levels, dtype, average=average
                )
            else:
                q = np.true_divide(levels, 100)
                sub = np.zeros(len(counts), dtype=np.int64)
                sub[columns] = counts[columns]
                method = self.quantile_method
                values = column_quantiles(
                    reduce, sub, mins, maxs, q, dtype, method=method
                )[:, columns].T
            for jj, v in zip(columns, values, strict=True):
                # scikit-learn keeps the dtype of weighted percentiles
                bin_edges[jj] = v if weighted else np.asarray(v, dtype=np.float64)

    def _kmeans_edges(
        self, source, reduce, mins, maxs, n_bins, varying, bin_edges, dtype
    ):
        moments = reduce(lambda b: _Moments.of(b.X), "variance")
        tols = moments.m2 / moments.n * 1e-4
        # scikit-learn runs k-means on centered data, in the data's dtype
        offsets = moments.mean.astype(dtype)
        centers = {}
        for jj in varying:
            uniform_edges = np.linspace(mins[jj], maxs[jj], n_bins[jj] + 1)
            init = (uniform_edges[1:] + uniform_edges[:-1]) * 0.5
            centers[jj] = init.astype(dtype).astype(np.float64)
        previous = {jj: None for jj in varying}
        running = list(varying)
        for _ in range(300):
            if not running:
                break
            step = self._lloyd_step(running, centers, previous, offsets, dtype)
            stats = reduce(step, "k-means")
            still = []
            for i, jj in enumerate(running):
                weights, sums = stats.weights[i], stats.sums[i].copy()
                empty = np.flatnonzero(weights == 0)
                if empty.size:
                    d, v, w, lab, _rows = stats.far[i]
                    for idx, value, weight, old in zip(empty, v, w, lab, strict=False):
                        sums[old] -= value * weight
                        sums[idx] = value * weight
                        weights[idx] = weight
                        weights[old] -= weight
                new = centers[jj].copy()
                full = weights > 0
                new[full] = sums[full] / weights[full]
                previous[jj] = centers[jj]
                centers[jj] = new.astype(dtype).astype(np.float64)
                shift = ((centers[jj] - previous[jj]) ** 2).sum()
                if stats.changed[i] == 0 and _ > 0:
                    continue
                if shift <= tols[jj]:
                    continue
                still.append(jj)
            running = still
        for jj in varying:
            c = np.sort(centers[jj].astype(dtype))
            edges = (c[1:] + c[:-1]) * 0.5
            bin_edges[jj] = np.r_[mins[jj], edges, maxs[jj]]

    @staticmethod
    def _lloyd_step(columns, centers, previous, offsets, dtype):
        def summarize(batch):
            X, sw = batch.X, batch.sample_weight
            weights, sums, changed, far = [], [], [], []
            for jj in columns:
                col = X[:, jj].astype(np.float64)
                w = np.ones_like(col) if sw is None else sw
                c = centers[jj]
                labels = _nearest(col, c)
                k = c.size
                weights.append(np.bincount(labels, w, minlength=k))
                sums.append(np.bincount(labels, w * col, minlength=k))
                if previous[jj] is None:
                    changed.append(col.size)
                else:
                    changed.append(int((_nearest(col, previous[jj]) != labels).sum()))
                m = offsets[jj]
                shifted = X[:, jj].astype(dtype) - m
                d = (shifted - (c.astype(dtype) - m)[labels]) ** 2
                rows = np.arange(batch.start, batch.stop)
                top = _farthest(d, rows, k)
                far.append((d[top], col[top], w[top], labels[top], rows[top]))
            return _Lloyd(weights, sums, np.array(changed), far)

        return summarize

    def transform(self, X):
        """Discretize ``X``: lazily for a LazyArray, else batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray, sparse matrix or LazyArray
            The binned rows (sparse for ``encode="onehot"``).
        """
        if self.encode == "onehot" and not _plain(X):
            from sklearn.utils.validation import check_is_fitted

            check_is_fitted(self)
            twin = self._twin()
            source = self._source(X, reset=False)
            return sp.vstack(
                [
                    twin.transform(batch.X)
                    for batch in source.iter_batches(range(source.n_batches))
                ],
                format="csr",
            )
        return self._apply("transform", X)

    def inverse_transform(self, X):
        """Bin centers of binned rows, as scikit-learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or its one-hot encoding
            Binned rows.

        Returns
        -------
        ndarray
            The centers of the bins.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return KBinsDiscretizer.inverse_transform(self, X)


def _plain(X):
    from ._quantile import _in_memory

    return _in_memory(X) or (hasattr(X, "format") and hasattr(X, "tocsr"))
