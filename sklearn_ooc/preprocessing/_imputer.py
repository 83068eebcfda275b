"""SimpleImputer fitted out of core: exact means, medians and modes."""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
from sklearn.base import _fit_context
from sklearn.impute import SimpleImputer
from sklearn.impute._base import _safe_min
from sklearn.utils._mask import _get_mask

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ._quantile import (
    Pair,
    StreamedFitMixin,
    column_medians,
    count_pass,
    extremes_of,
)


class _Means:
    """Counts and means of the columns (NaN left out), merged as Chan et al."""

    __slots__ = ("counts", "means")

    def __init__(self, counts, means):
        self.counts, self.means = counts, means

    @classmethod
    def of(cls, X):
        valid = ~np.isnan(X)
        counts = valid.sum(axis=0).astype(np.int64)
        sums = np.where(valid, X, 0).sum(axis=0, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        # One more centered sweep: the mean of the batch to the last digit.
        centered = np.where(valid, X - means, 0).sum(axis=0, dtype=np.float64)
        means = means + np.where(counts > 0, centered / np.maximum(counts, 1), 0.0)
        return cls(counts, means)

    def __add__(self, other):
        n = self.counts + other.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n > 0, other.counts / np.maximum(n, 1), 0.0)
        return _Means(n, self.means + (other.means - self.means) * share)


class _Tally:
    """Distinct values of each column with their counts (NaN left out)."""

    __slots__ = ("values", "counts")

    def __init__(self, values, counts):
        self.values, self.counts = values, counts

    @classmethod
    def of(cls, X):
        values, counts = [], []
        for j in range(X.shape[1]):
            col = X[:, j]
            v, c = np.unique(col[~np.isnan(col)], return_counts=True)
            values.append(v.astype(np.float64))
            counts.append(c.astype(np.int64))
        return cls(values, counts)

    def __add__(self, other):
        values, counts = [], []
        for va, ca, vb, cb in zip(
            self.values, self.counts, other.values, other.counts, strict=True
        ):
            v, inverse = np.unique(np.concatenate([va, vb]), return_inverse=True)
            values.append(v)
            counts.append(
                np.bincount(inverse, np.concatenate([ca, cb]), minlength=v.size)
                .round()
                .astype(np.int64)
            )
        return _Tally(values, counts)

    def modes(self):
        """Most frequent value per column (the smallest of ties; NaN if none)."""
        out = np.full(len(self.values), np.nan)
        for j, (v, c) in enumerate(zip(self.values, self.counts, strict=True)):
            if v.size:
                out[j] = v[np.flatnonzero(c == c.max())[0]]
        return out


class _ObjectTally:
    """Counts of the values of each column of any type, and of the missing
    values (for columns of strings or objects)."""

    __slots__ = ("counters", "missing")

    def __init__(self, counters, missing):
        self.counters, self.missing = counters, missing

    def __add__(self, other):
        counters = []
        for a, b in zip(self.counters, other.counters, strict=True):
            merged = Counter(a)
            merged.update(b)
            counters.append(merged)
        return _ObjectTally(counters, self.missing + other.missing)

    def modes(self, keep_empty):
        """scikit-learn's most frequent value of each column (the smallest of
        ties; NaN, or 0 with ``keep_empty``, for a column without values)."""
        out = np.empty(len(self.counters), dtype=object)
        for j, counter in enumerate(self.counters):
            if not counter:
                out[j] = 0 if keep_empty else np.nan
                continue
            top = max(counter.values())
            out[j] = _safe_min([v for v, c in counter.items() if c == top])
        return out


def _non_numeric(X):
    """Whether ``X`` holds columns that are not numbers (strings, objects)."""
    from ..data._table import is_table_source, open_table

    if is_table_source(X):
        try:
            open_table(X).check_numeric()
        except ValueError:
            return True
        return False
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):
        kinds = [getattr(d, "kind", "O") for d in list(dtypes)]
        return any(k not in "biuf" for k in kinds)
    dtype = getattr(X, "dtype", None)
    if dtype is not None:
        return np.dtype(dtype).kind in "OUS"
    if isinstance(X, (list, tuple)):
        return any(isinstance(v, str) for row in X for v in np.ravel(row))
    return False


def _as_objects(block):
    """A batch of a table or frame as the object array scikit-learn sees."""
    if hasattr(block, "to_numpy") and hasattr(block, "columns"):
        return block.to_numpy(dtype=object)
    return np.asarray(block)


@register(SimpleImputer)
class OOCSimpleImputer(StreamedFitMixin, OutOfCoreMixin, SimpleImputer):
    """:class:`sklearn.impute.SimpleImputer` fitted in streamed passes.

    ``statistics_`` equal scikit-learn's: ``"mean"`` from merged per-batch
    centered means (to the last digits), ``"median"`` by exact selection
    (one counting pass and a few histogram passes; bit for bit),
    ``"most_frequent"`` from merged counts of the distinct values of each
    column (memory grows with the number of distinct values, not of rows;
    ties go to the smallest value, as in scikit-learn), ``"constant"`` from
    one pass that finds the empty columns. ``add_indicator`` and
    ``keep_empty_features`` behave as in scikit-learn. A callable
    ``strategy`` needs every value of a column in memory and is refused.

    Parameters
    ----------
    missing_values : int, float or None, default=np.nan
        The placeholder of missing values.
    strategy : {"mean", "median", "most_frequent", "constant"}, default="mean"
        The imputation strategy.
    fill_value : number, default=None
        The value of ``strategy="constant"`` (0 if ``None``).
    copy : bool, default=True
        As scikit-learn (in-memory inputs of ``transform``).
    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator`.
    keep_empty_features : bool, default=False
        Keep the columns without any value (imputed with 0).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads summarizing batches.
    verbose : int, default=0
        1 logs each pass; 2 adds a progress bar.

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,)
        The imputation fill value of each feature.
    indicator_ : MissingIndicator or None
        The indicator of missing values, if ``add_indicator``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.impute.SimpleImputer : The in-memory transformer this one equals.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCSimpleImputer
    >>> X = np.array([[7.0, 2.0], [4.0, np.nan], [10.0, 5.0], [np.nan, 6.0]])
    >>> imputer = OOCSimpleImputer(strategy="median", batch_size=2).fit(X)
    >>> imputer.statistics_
    array([7., 5.])
    >>> imputer.transform([[np.nan, np.nan]])
    array([[7., 5.]])
    """

    _sklearn_class = SimpleImputer
    _parameter_constraints: dict = {
        **SimpleImputer._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        strategy="mean",
        fill_value=None,
        copy=True,
        add_indicator=False,
        keep_empty_features=False,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            missing_values=missing_values,
            strategy=strategy,
            fill_value=fill_value,
            copy=copy,
            add_indicator=add_indicator,
            keep_empty_features=keep_empty_features,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = False
        return tags

    @property
    def _missing_is_nan(self):
        return isinstance(self.missing_values, float) and np.isnan(self.missing_values)

    def _missing_as_nan(self, batch):
        X = batch.X
        if self._missing_is_nan:
            return X
        mask = _get_mask(X, self.missing_values)
        if not mask.any():
            return X
        X = X.astype(np.float64 if X.dtype != np.float32 else X.dtype, copy=True)
        X[mask] = np.nan
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, batch_size=None):
        """Compute the imputation statistics of the columns of ``X``.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows with missing values.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call; ``None`` keeps the constructor's.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        if callable(self.strategy):
            raise ValueError(
                f"strategy={self.strategy!r} (a callable) needs all the values of "
                "a column in memory and cannot be computed out of core; use "
                "'mean', 'median', 'most_frequent' or 'constant', or fit "
                "scikit-learn's SimpleImputer on data that fits in memory"
            )
        if _non_numeric(X):
            with self._transaction():
                self._fit_objects(X, batch_size)
            return self
        with self._transaction():
            source = self._source(X, reset=True, batch_size=batch_size)
            dtype = np.dtype(source.X.dtype)
            reduce = self._reducer(source, transform=self._missing_as_nan)
            # mean and most_frequent: their statistics in the counting pass
            more = {"mean": _Means.of, "most_frequent": _Tally.of}.get(self.strategy)
            if more is None:
                counts, mins, maxs = count_pass(reduce, source.n_features)
            else:
                total = reduce(
                    lambda b: Pair(extremes_of(b.X), more(b.X)), self.strategy
                )
                ext, stats = total.first, total.second
                counts, mins, maxs = ext.counts, ext.mins, ext.maxs
            n_samples = source.n_samples
            twin = self._sklearn_class(**self._sklearn_params())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                twin.fit(self._stand_in(counts, mins, n_samples, dtype))
            if self.strategy == "mean":
                statistics = stats.means.astype(twin.statistics_.dtype)
                statistics[counts == 0] = 0 if self.keep_empty_features else np.nan
                twin.statistics_ = statistics
            elif self.strategy == "median":
                work = twin.statistics_.dtype
                statistics = column_medians(reduce, counts, mins, maxs, work)
                statistics[counts == 0] = 0 if self.keep_empty_features else np.nan
                twin.statistics_ = statistics
            elif self.strategy == "most_frequent":
                statistics = stats.modes()
                if self.keep_empty_features:
                    statistics[counts == 0] = 0
                twin.statistics_ = statistics
            self._publish(twin)
            self._is_fitted = True
        return self

    def _fit_objects(self, X, batch_size):
        """Fit on columns of strings or objects (``"most_frequent"``,
        ``"constant"``): merged counts of the values of each column."""
        from sklearn.utils.validation import validate_data

        from ..data import check_batch_size
        from ..data._source import ColumnBatches

        if batch_size is None:
            batch_size = self.batch_size
        source = ColumnBatches(X, batch_size=check_batch_size(batch_size))
        validate_data(self, X=source.header, reset=True, skip_check_array=True)
        params = self._sklearn_params()
        located = source.table is not None or getattr(source, "_guard", None)
        if self.strategy in ("mean", "median"):
            # scikit-learn's error, from the first rows
            SimpleImputer(**params).fit(_as_objects(source.rows(0, 1)))

        def summarize(batch):
            try:
                block = SimpleImputer(**params)._validate_input(
                    _as_objects(batch.X), in_fit=True
                )
            except (ValueError, TypeError) as exc:
                if not located:
                    raise
                where = source.where(batch.start, batch.stop)
                raise type(exc)(f"{exc} ({where})") from exc
            mask = _get_mask(block, self.missing_values)
            counters = [
                Counter(block[~mask[:, j], j].tolist()) for j in range(block.shape[1])
            ]
            return _ObjectTally(counters, mask.sum(axis=0).astype(np.int64))

        tally = self._reduce(source, summarize=summarize, desc="count values")
        modes = tally.modes(keep_empty=False)
        stand_in = np.empty((2, source.n_features), dtype=object)
        missing = self.missing_values
        for j, n_missing in enumerate(tally.missing):
            present = tally.counters[j]
            stand_in[:, j] = modes[j] if present else missing
            if n_missing and present:
                stand_in[0, j] = missing
        twin = SimpleImputer(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin.fit(stand_in)
        if self.strategy == "most_frequent":
            twin.statistics_ = tally.modes(self.keep_empty_features)
        self._publish(twin)
        self._is_fitted = True

    def transform(self, X):
        """Impute the missing values of ``X``, batch by batch.

        Parameters
        ----------
        X : array-like, numpy.memmap, str, os.PathLike, LazyArray or table \
                of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        ndarray or LazyArray
            The imputed rows; a LazyArray that imputes each batch as it is
            read, for a LazyArray of numbers.
        """
        from ._quantile import _in_memory

        fitted_on_objects = getattr(self, "_fit_dtype", np.dtype(float)).kind == "O"
        if fitted_on_objects and not _in_memory(X):
            from sklearn.utils.validation import check_is_fitted, validate_data

            from ..data._source import ColumnBatches

            check_is_fitted(self)
            source = ColumnBatches(X, batch_size=self.batch_size)
            validate_data(self, X=source.header, reset=False, skip_check_array=True)
            twin = self._twin()
            blocks = [
                twin.transform(_as_objects(batch.X))
                for batch in source.iter_batches(range(source.n_batches))
            ]
            return np.vstack(blocks)
        return super().transform(X)

    def _stand_in(self, counts, mins, n_samples, dtype):
        """Two rows that scikit-learn fits to the same indicator, dtypes and
        empty columns as the data: a missing value where a column has one."""
        missing = self.missing_values
        if dtype.kind not in "iuf":
            dtype = np.dtype(np.float64)
        if dtype.kind in "iu" and not isinstance(missing, (int, np.integer)):
            dtype = np.dtype(np.float64)
        rows = np.empty((2, len(counts)), dtype=dtype)
        for j, n in enumerate(counts):
            value = mins[j] if n else 0
            rows[:, j] = value
            if n < n_samples:
                rows[0, j] = missing
            if n == 0:
                rows[1, j] = missing
        return rows

    def inverse_transform(self, X):
        """Put the missing values back (needs ``add_indicator=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features + n_features_missing)
            Imputed rows followed by their indicator.

        Returns
        -------
        ndarray
            The rows with their missing values.
        """
        return self._apply("inverse_transform", X)
