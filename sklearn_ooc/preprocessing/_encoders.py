"""scikit-learn's categorical encoders, fitted in one streaming pass.

The categories of a column and how often each occurs are mergeable
statistics (:class:`CategoryCounts`): the counts of a data set are the sums
of the counts of its batches, so one pass (serial, on threads or on Dask)
finds ``categories_`` and the infrequent categories exactly. The encoders
are scikit-learn's own classes with the fit replaced: the categories are
sorted, the missing values placed and the infrequent categories chosen by
scikit-learn's code, from the merged counts, so the fitted encoders are
scikit-learn's. ``transform`` of a table or a :class:`~sklearn_ooc.data.LazyArray`
returns a LazyArray that encodes each batch when it is read.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils._encode import _check_unknown, _unique
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import check_is_fitted, validate_data

from .._out_of_core import register
from ..base import OutOfCoreMixin
from ..data import LazyArray, check_batch_size
from ..data._source import (
    ColumnBatches,
    _describe,
    _is_array_store,
    _is_dask,
    _label,
)
from ..data._table import is_table_path, is_table_source

__all__ = ["CategoryCounts", "OOCOneHotEncoder", "OOCOrdinalEncoder"]


class _NaN:
    """The key of NaN in the counts (NaN is not equal to itself)."""

    def __repr__(self):
        return "nan"

    def __reduce__(self):
        return (_nan_key, ())


_NAN = _NaN()


def _nan_key():
    return _NAN


def _key(value):
    return _NAN if is_scalar_nan(value) else value


def _merged_dtype(a, b):
    if a is None:
        return b
    if b is None or a == b:
        return a
    try:
        return np.result_type(a, b)
    except TypeError:
        return np.dtype(object)


class CategoryCounts:
    """How many rows hold each value of each column: mergeable with ``+``.

    The statistics of a categorical encoder. ``None`` and NaN are counted as
    values, as scikit-learn's encoders count them; the column's dtype (the
    common dtype of its batches) is kept so that the categories come out
    with scikit-learn's dtype. Memory grows with the number of distinct
    values, not with the rows.

    Parameters
    ----------
    columns : list of dict, default=()
        For each column, ``{value: count}`` (NaN under one key).
    dtypes : list of numpy.dtype, default=()
        The dtype of each column.
    n_samples : int, default=0
        Rows counted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import CategoryCounts
    >>> a = CategoryCounts.of([np.array(["b", "a", "b"], dtype=object)])
    >>> b = CategoryCounts.of([np.array(["c", None], dtype=object)])
    >>> total = a + b
    >>> total.n_samples
    5
    >>> total.categories(0)
    (array(['a', 'b', 'c', None], dtype=object), array([1, 2, 1, 1]))
    """

    def __init__(self, columns=(), dtypes=(), n_samples=0):
        self.columns = list(columns)
        self.dtypes = list(dtypes)
        self.n_samples = int(n_samples)

    @classmethod
    def of(cls, X_list, n_samples=None):
        """The counts of columns given as 1-D arrays (one batch)."""
        columns = []
        for Xi in X_list:
            cats, counts = _unique(Xi, return_counts=True)
            columns.append(
                {_key(v): int(c) for v, c in zip(cats.tolist(), counts, strict=True)}
            )
        if n_samples is None:
            n_samples = len(X_list[0]) if X_list else 0
        return cls(columns, [Xi.dtype for Xi in X_list], n_samples)

    def __add__(self, other):
        if not isinstance(other, CategoryCounts):
            return NotImplemented
        if not self.columns:
            return CategoryCounts(
                other.columns, other.dtypes, other.n_samples + self.n_samples
            )
        if not other.columns:
            return CategoryCounts(
                self.columns, self.dtypes, self.n_samples + other.n_samples
            )
        if len(self.columns) != len(other.columns):
            raise ValueError(
                f"cannot merge the counts of {len(self.columns)} columns with those "
                f"of {len(other.columns)}"
            )
        columns = []
        for mine, theirs in zip(self.columns, other.columns, strict=True):
            merged = dict(mine)
            for value, count in theirs.items():
                merged[value] = merged.get(value, 0) + count
            columns.append(merged)
        dtypes = [
            _merged_dtype(a, b) for a, b in zip(self.dtypes, other.dtypes, strict=True)
        ]
        return CategoryCounts(columns, dtypes, self.n_samples + other.n_samples)

    def __eq__(self, other):
        return (
            isinstance(other, CategoryCounts)
            and self.n_samples == other.n_samples
            and self.dtypes == other.dtypes
            and self.columns == other.columns
        )

    __hash__ = None

    def values(self, i):
        """The distinct values of column ``i`` as an array of its dtype."""
        counts = self.columns[i]
        dtype = self.dtypes[i]
        values = [v for v in counts if v is not _NAN]
        if _NAN in counts:
            values.append(np.nan)
        if dtype.kind == "O":
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out
        return np.array(values, dtype=dtype)

    def count_of(self, i, categories):
        """How many rows of column ``i`` hold each of ``categories``."""
        counts = self.columns[i]
        return np.array(
            [counts.get(_key(c), 0) for c in categories.tolist()], dtype=np.int64
        )

    def categories(self, i):
        """Column ``i``'s categories sorted as scikit-learn sorts them (missing
        values last), and their counts."""
        cats = _unique(self.values(i))
        return cats, self.count_of(i, cats)


def _is_dask_frame(X):
    return (
        type(X).__module__.startswith("dask")
        and hasattr(X, "npartitions")
        and hasattr(X, "columns")
    )


def _count_frame(encoder, frame, ensure_all_finite):
    """The counts of one partition of a Dask DataFrame (on a worker)."""
    if len(frame) == 0:
        return CategoryCounts()
    X_list, n_samples, _ = encoder._check_X(frame, ensure_all_finite=ensure_all_finite)
    return CategoryCounts.of(X_list, n_samples)


def _dask_counts(encoder, X, ensure_all_finite):
    """The counts of a Dask DataFrame: partitions counted where they live,
    merged by a tree reduction (only the counts travel)."""
    import operator

    import dask

    count = dask.delayed(_count_frame, pure=True)
    add = dask.delayed(operator.add, pure=True)
    # The workers need the parameters only, not a previous fit's counts.
    encoder = clone(encoder)
    tasks = [count(encoder, part, ensure_all_finite) for part in X.to_delayed()]
    while len(tasks) > 1:
        tasks = [
            add(tasks[k], tasks[k + 1]) if k + 1 < len(tasks) else tasks[k]
            for k in range(0, len(tasks), 2)
        ]
    return dask.compute(tasks[0])[0] if tasks else CategoryCounts()


def _encode_frame(encoder, frame):
    if len(frame) == 0:
        return np.empty((0, encoder._n_output_columns()), dtype=encoder.dtype)
    return _dense(encoder._plain_transform(frame)).astype(encoder.dtype, copy=False)


def _dask_transform(encoder, X):
    """The encoded rows of a Dask DataFrame, as a Dask array (lazily)."""
    import dask
    import dask.array as da

    lengths = X.map_partitions(len).compute()
    encode = dask.delayed(_encode_frame, pure=True)
    n_out = encoder._n_output_columns()
    blocks = [
        da.from_delayed(encode(encoder, part), (int(n), n_out), dtype=encoder.dtype)
        for part, n in zip(X.to_delayed(), lengths, strict=True)
    ]
    return da.concatenate(blocks, axis=0)


def _in_memory(X):
    """Whether scikit-learn's transform output is what ``transform(X)`` returns."""
    if isinstance(X, LazyArray) or is_table_source(X):
        return False
    return not isinstance(X, (str, bytes)) and not hasattr(X, "__fspath__")


def _dense(out):
    return out.toarray() if sp.issparse(out) else np.asarray(out)


def _is_store(X):
    """An array store out of core (h5py, zarr, other row-sliceable stores)."""
    return (
        _is_array_store(X)
        and not isinstance(X, (np.ndarray, LazyArray))
        and not sp.issparse(X)
        and not _is_dask(X)
        and not type(X).__module__.startswith("pandas")
    )


def _lying(block, n_rows, n_columns, what, source):
    """The error of rows read from a store that are not those asked for (a
    short read, a stale shape), or None."""
    shape = getattr(block, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    if tuple(shape) == (n_rows, n_columns):
        return None
    return ValueError(
        f"X {what} read from {source} has shape {tuple(shape)}; expected "
        f"{(n_rows, n_columns)}: the source returned other data than it declares. "
        "Check that slicing it returns exactly the rows asked for, with every "
        "column"
    )


def _check_rows(shape):
    """Refuse rows read out of core that are not a non-empty 2-D table, in
    the words of the data layer (scikit-learn's validation does not see the
    shape of a LazyArray: it would fail later, or not at all)."""
    if len(shape) != 2:
        raise ValueError(
            f"Expected a 2-D X (rows x features), got a {len(shape)}-D array of "
            f"shape {tuple(shape)}. Reshape your data with X.reshape(-1, 1) for a "
            "single feature or X.reshape(1, -1) for a single sample."
        )
    if shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(shape)}) while a minimum "
            "of 1 is required."
        )


def _infinite_row(X):
    """The first row of a float array holding an infinity (None if none).

    An infinity is no category: scikit-learn refuses it without saying
    where it is, which in a file of millions of rows is no help.
    """
    if not isinstance(X, np.ndarray) or X.dtype.kind != "f" or X.ndim != 2:
        return None
    rows = np.flatnonzero(np.isinf(X).any(axis=1))
    return int(rows[0]) if rows.size else None


def _infinity_error(row, index, start, stop, label):
    where = "" if label is None else f" (file {label})"
    return ValueError(
        f"Input X contains infinity at row {row} (batch {index}, rows "
        f"{start}-{stop - 1}){where}; remove such rows, or encode the column "
        "as strings"
    )


class _EncodedArray:
    """The encoded rows of a LazyArray, read slice by slice (a LazyArray's base).

    As :class:`_EncodedTable` does for a table: an infinity, which no
    encoder takes, is refused with the row that holds it and the file.
    """

    def __init__(self, encoder, rows, source):
        self.encoder = encoder
        self.rows = rows
        self.source = source
        self.shape = (len(rows), encoder._n_output_columns())
        self.dtype = np.dtype(encoder.dtype)

    def _encode(self, block, numbers):
        if len(numbers):
            what = f"rows {numbers[0]}-{numbers[-1]}"
            error = _lying(block, len(numbers), self.rows.shape[1], what, self.source)
            if error is not None:
                raise error
        try:
            out = self.encoder._plain_transform(block)
        except ValueError as exc:
            row = _infinite_row(block)
            if row is None:
                raise
            label = None if self.rows.path is None else repr(self.rows.path)
            where = "" if label is None else f" (file {label})"
            raise ValueError(
                f"Input X contains infinity at row {numbers[row]} (rows "
                f"{numbers[0]}-{numbers[-1]} read){where}; remove such rows, or "
                "encode the column as strings"
            ) from exc
        return _dense(out).astype(self.dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                return self[np.arange(start, stop, step)]
            stop = max(start, stop)
            return self._encode(self.rows.rows(start, stop), np.arange(start, stop))
        index = np.asarray(key, dtype=np.intp)
        return self._encode(self.rows.take(index), index)


class _EncodedTable:
    """The encoded rows of a table, read batch by batch (a LazyArray's base).

    Each read takes the raw rows of the table (as a DataFrame, as pandas
    reads them) and encodes them with the fitted encoder: dense rows of the
    encoder's dtype.
    """

    def __init__(self, encoder, table):
        self.encoder = encoder
        self.table = table
        self.shape = (len(table), encoder._n_output_columns())
        self.dtype = np.dtype(encoder.dtype)

    def _first_bad_row(self, frame):
        """The first row of ``frame`` that fails to encode (by bisection)."""
        lo, hi = 0, len(frame)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                self.encoder._plain_transform(frame.iloc[lo:mid])
            except (ValueError, TypeError):
                hi = mid
            else:
                lo = mid
        return lo

    def _encode(self, view, start, stop):
        frame = view.read_frame(start, stop)
        try:
            out = self.encoder._plain_transform(frame)
        except (ValueError, TypeError) as exc:
            row = start + self._first_bad_row(frame)
            raise type(exc)(
                f"{exc} (first at row {view.row_number(row)} of the table, "
                f"{view.where(row)})"
            ) from exc
        return _dense(out).astype(self.dtype, copy=False)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                return self[np.arange(start, stop, step)]
            stop = max(start, stop)
            return self._encode(self.table, start, stop)
        index = np.asarray(key, dtype=np.intp)
        view = self.table[index]
        return self._encode(view, 0, len(view))


class _StreamingEncoderMixin(OutOfCoreMixin):
    """The streaming fit and the lazy transform of both encoders."""

    _accept_sparse = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    def _fit(
        self,
        X,
        handle_unknown="error",
        ensure_all_finite=True,
        return_counts=False,
        return_and_ignore_missing_for_infrequent=False,
    ):
        # scikit-learn's _BaseEncoder._fit, with the categories and their
        # counts merged over the batches of one pass.
        self._check_infrequent_enabled()
        if sp.issparse(X):
            # scikit-learn's error: the encoders take dense data only.
            self._check_X(X, ensure_all_finite=ensure_all_finite)
        if _is_dask_frame(X):
            validate_data(self, X=X._meta, reset=True, skip_check_array=True)
            self._check_categories_shape(len(X.columns))
            stats = _dask_counts(self, X, ensure_all_finite)
            if stats.n_samples == 0:
                self._check_X(X._meta, ensure_all_finite=ensure_all_finite)
            return self._fitted_from_counts(
                stats,
                handle_unknown,
                return_counts,
                return_and_ignore_missing_for_infrequent,
            )
        batch_size = getattr(self, "_call_batch_size", None) or self.batch_size
        source = ColumnBatches(X, batch_size=check_batch_size(batch_size))
        if not _in_memory(X) and source.table is None:
            _check_rows(source.data.shape)
        validate_data(self, X=source.header, reset=True, skip_check_array=True)
        if source.n_batches == 0:
            # scikit-learn's error for no rows.
            self._check_X(source.rows(0, 0), ensure_all_finite=ensure_all_finite)
        self._check_categories_shape(source.n_features)
        located = source.table is not None or getattr(source, "_guard", None)

        label = _label(source.data) if source.table is None else None
        described = _describe(source.data, label)

        def summarize(batch):
            error = _lying(
                batch.X,
                batch.stop - batch.start,
                source.n_features,
                f"batch {batch.index} (rows {batch.start}-{batch.stop - 1})",
                described,
            )
            if error is not None:
                raise error
            try:
                X_list, n_samples, _ = self._check_X(
                    batch.X, ensure_all_finite=ensure_all_finite
                )
                return CategoryCounts.of(X_list, n_samples)
            except (ValueError, TypeError) as exc:
                row = _infinite_row(batch.X)
                if row is not None:
                    raise _infinity_error(
                        batch.start + row, batch.index, batch.start, batch.stop, label
                    ) from exc
                if not located:
                    raise
                where = source.where(batch.start, batch.stop)
                raise type(exc)(f"{exc} ({where})") from exc

        stats = self._reduce(source, summarize=summarize, desc="categories")
        return self._fitted_from_counts(
            stats,
            handle_unknown,
            return_counts,
            return_and_ignore_missing_for_infrequent,
        )

    def _check_categories_shape(self, n_features):
        if self.categories != "auto":
            if len(self.categories) != n_features:
                raise ValueError(
                    "Shape mismatch: if categories is an array,"
                    " it has to be of shape (n_features,)."
                )

    def _fitted_from_counts(self, stats, handle_unknown, return_counts, missing):
        self.category_counts_ = stats
        return self._from_counts(
            stats,
            handle_unknown=handle_unknown,
            return_counts=return_counts,
            return_and_ignore_missing_for_infrequent=missing,
        )

    def _from_counts(
        self,
        stats,
        *,
        handle_unknown,
        return_counts,
        return_and_ignore_missing_for_infrequent,
    ):
        n_features = self.n_features_in_
        n_samples = stats.n_samples
        self.categories_ = []
        category_counts = []
        compute_counts = return_counts or self._infrequent_enabled
        for i in range(n_features):
            if self.categories == "auto":
                cats, counts = stats.categories(i)
            else:
                dtype = stats.dtypes[i]
                Xi_dtype = object if np.issubdtype(dtype, np.str_) else dtype
                cats = np.array(self.categories[i], dtype=Xi_dtype)
                values = stats.values(i)
                if (
                    cats.dtype == object
                    and isinstance(cats[0], bytes)
                    and dtype.kind != "S"
                ):
                    raise ValueError(
                        f"In column {i}, the predefined categories have type 'bytes'"
                        " which is incompatible with values of type"
                        f" '{type(values[0]).__name__}'."
                    )
                for category in cats[:-1]:
                    if is_scalar_nan(category):
                        raise ValueError(
                            "Nan should be the last element in user"
                            f" provided categories, see categories {cats}"
                            f" in column #{i}"
                        )
                if cats.size != len(_unique(cats)):
                    raise ValueError(
                        f"In column {i}, the predefined categories"
                        " contain duplicate elements."
                    )
                if dtype.kind not in "OUS":
                    sorted_cats = np.sort(cats)
                    stop_idx = -1 if np.isnan(sorted_cats[-1]) else None
                    if np.any(sorted_cats[:stop_idx] != cats[:stop_idx]):
                        raise ValueError(
                            "Unsorted categories are not supported for numerical "
                            "categories"
                        )
                if handle_unknown == "error":
                    diff = _check_unknown(values, cats)
                    if diff:
                        raise ValueError(
                            f"Found unknown categories {diff} in column {i} during fit"
                        )
                counts = stats.count_of(i, cats)
            if compute_counts:
                category_counts.append(counts)
            self.categories_.append(cats)

        output = {"n_samples": n_samples}
        if return_counts:
            output["category_counts"] = category_counts
        missing_indices = {}
        if return_and_ignore_missing_for_infrequent:
            for feature_idx, categories_for_idx in enumerate(self.categories_):
                if is_scalar_nan(categories_for_idx[-1]):
                    missing_indices[feature_idx] = categories_for_idx.size - 1
            output["missing_indices"] = missing_indices
        if self._infrequent_enabled:
            self._fit_infrequent_category_mapping(
                n_samples, category_counts, missing_indices
            )
        return output

    def fit(self, X, y=None, *, batch_size=None):
        """Find the categories of every column in one pass over ``X``.

        Parameters
        ----------
        X : Table, str, os.PathLike, DataFrame, ndarray, LazyArray or \
                array-like of shape (n_samples, n_features)
            The rows: a table (:func:`~sklearn_ooc.open_table`, a path to
            Parquet, CSV or Arrow files), a pandas or polars DataFrame, an
            array of objects, strings or numbers.
        y : None
            Ignored.
        batch_size : int or "auto", default=None
            Rows per batch for this call (the constructor's by default).

        Returns
        -------
        self : object
            The fitted encoder.
        """
        with self._transaction():
            self._call_batch_size = batch_size
            try:
                super().fit(X, y)
            finally:
                del self._call_batch_size
            self._is_fitted = True
        return self

    def _plain_transform(self, X):
        return super().transform(X)

    def transform(self, X):
        """Encode ``X``: lazily for a table or a LazyArray.

        Parameters
        ----------
        X : Table, str, os.PathLike, DataFrame, ndarray, LazyArray or \
                array-like of shape (n_samples, n_features)
            The rows.

        Returns
        -------
        LazyArray, ndarray or sparse matrix
            For a table, a LazyArray, a ``.npy`` path or an array store
            (h5py, zarr), a LazyArray of dense rows of ``dtype`` that encodes
            each batch when it is read (so that the next step of a pipeline
            streams them); for data in memory, what scikit-learn's encoder
            returns.
        """
        check_is_fitted(self)
        if _is_dask_frame(X):
            validate_data(self, X=X._meta, reset=False, skip_check_array=True)
            return _dask_transform(self, X)
        described = None
        if _is_store(X):
            described = _describe(X, _label(X))
            from ..data import open_array

            X = open_array(X)
        if _in_memory(X):
            try:
                return self._plain_transform(X)
            except ValueError as exc:
                row = _infinite_row(X)
                if row is not None:
                    raise _infinity_error(row, 0, 0, len(X), _label(X)) from exc
                raise
        if is_table_source(X):
            from ..data import open_table

            table = open_table(X)
            validate_data(self, X=table.header(), reset=False, skip_check_array=True)
            return LazyArray(_EncodedTable(self, table), _guard=None)
        if isinstance(X, (str, bytes)) or hasattr(X, "__fspath__"):
            if is_table_path(X):  # pragma: no cover - is_table_source took it
                raise AssertionError
            from ..data import open_array
            from ..data._npy import open_npy

            # A bad file is refused in the words of fit.
            _check_rows(open_npy(X, name="X").shape)
            X = open_array(X)
        _check_rows(X.shape)
        validate_data(self, X=X, reset=False, skip_check_array=True)
        if described is None:
            described = _describe(X, _label(X))
        return LazyArray(_EncodedArray(self, X, described), _guard=None)

    def _n_output_columns(self):
        return self.n_features_in_


def _common_constraints(cls):
    return {
        **cls._parameter_constraints,
        **OutOfCoreMixin._ooc_parameter_constraints,
    }


@register(OneHotEncoder)
class OOCOneHotEncoder(_StreamingEncoderMixin, OneHotEncoder):
    """scikit-learn's :class:`~sklearn.preprocessing.OneHotEncoder`, fitted
    in one streaming pass.

    The categories of each column and how often each occurs are counted
    batch by batch and merged (:class:`CategoryCounts`), so ``categories_``,
    the infrequent categories (``min_frequency``, ``max_categories``) and
    ``drop_idx_`` equal those of scikit-learn's encoder fitted on all the
    rows in memory, whatever the batches. Missing values (None, NaN) are
    categories as in scikit-learn. Memory grows with the number of distinct
    values, not with the rows.

    Parameters
    ----------
    categories : 'auto' or a list of array-like, default='auto'
        As in scikit-learn.
    drop : {'first', 'if_binary'} or an array-like of shape (n_features,), \
            default=None
        As in scikit-learn.
    sparse_output : bool, default=True
        As in scikit-learn, for data in memory; the transform of a table or a
        LazyArray gives dense batches (every sklearn_ooc estimator densifies
        a batch).
    dtype : number type, default=np.float64
        The output dtype.
    handle_unknown : {'error', 'ignore', 'infrequent_if_exist', 'warn'}, \
            default='error'
        As in scikit-learn.
    min_frequency : int or float, default=None
        As in scikit-learn; exact (from the counts).
    max_categories : int, default=None
        As in scikit-learn; exact (from the counts).
    feature_name_combiner : "concat" or callable, default="concat"
        As in scikit-learn.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads that count the batches.
    verbose : int, default=0
        1 logs the pass, 2 also shows a progress bar.

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each column, as scikit-learn sorts them.
    drop_idx_ : ndarray of shape (n_features,) or None
        As in scikit-learn.
    infrequent_categories_ : list of ndarray
        As in scikit-learn (with ``min_frequency`` or ``max_categories``).
    category_counts_ : CategoryCounts
        How many rows hold each value of each column (the merged statistics
        of the pass).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    OOCOrdinalEncoder : Integer codes of the categories.
    sklearn.preprocessing.OneHotEncoder : The in-memory encoder.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn_ooc import open_table
    >>> from sklearn_ooc.preprocessing import OOCOneHotEncoder
    >>> path = os.path.join(tempfile.mkdtemp(), "data.parquet")
    >>> frame = pd.DataFrame({"city": ["Oslo", "Rome", "Oslo", None, "Rome"]})
    >>> frame.to_parquet(path, row_group_size=2)
    >>> encoder = OOCOneHotEncoder(batch_size=2).fit(open_table(path))
    >>> encoder.categories_
    [array(['Oslo', 'Rome', nan], dtype=object)]
    >>> encoder.transform(open_table(path))  # doctest: +ELLIPSIS
    LazyArray(shape=(5, 3), dtype=float64, from '_EncodedTable object')
    >>> encoder.transform(pd.DataFrame({"city": ["Rome"]})).toarray()
    array([[0., 1., 0.]])
    """

    _parameter_constraints: dict = _common_constraints(OneHotEncoder)

    def __init__(
        self,
        *,
        categories="auto",
        drop=None,
        sparse_output=True,
        dtype=np.float64,
        handle_unknown="error",
        min_frequency=None,
        max_categories=None,
        feature_name_combiner="concat",
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            categories=categories,
            drop=drop,
            sparse_output=sparse_output,
            dtype=dtype,
            handle_unknown=handle_unknown,
            min_frequency=min_frequency,
            max_categories=max_categories,
            feature_name_combiner=feature_name_combiner,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _n_output_columns(self):
        return len(self.get_feature_names_out())


@register(OrdinalEncoder)
class OOCOrdinalEncoder(_StreamingEncoderMixin, OrdinalEncoder):
    """scikit-learn's :class:`~sklearn.preprocessing.OrdinalEncoder`, fitted
    in one streaming pass.

    The categories of each column and how often each occurs are counted
    batch by batch and merged (:class:`CategoryCounts`), so ``categories_``
    and the infrequent categories (``min_frequency``, ``max_categories``)
    equal those of scikit-learn's encoder fitted on all the rows in memory.
    Missing values are encoded with ``encoded_missing_value`` as in
    scikit-learn.

    Parameters
    ----------
    categories : 'auto' or a list of array-like, default='auto'
        As in scikit-learn.
    dtype : number type, default=np.float64
        The output dtype.
    handle_unknown : {'error', 'use_encoded_value'}, default='error'
        As in scikit-learn.
    unknown_value : int or np.nan, default=None
        As in scikit-learn.
    encoded_missing_value : int or np.nan, default=np.nan
        As in scikit-learn.
    min_frequency : int or float, default=None
        As in scikit-learn; exact (from the counts).
    max_categories : int, default=None
        As in scikit-learn; exact (from the counts).
    batch_size : int or "auto", default="auto"
        Rows per batch.
    n_jobs : int, default=None
        Threads that count the batches.
    verbose : int, default=0
        1 logs the pass, 2 also shows a progress bar.

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each column, as scikit-learn sorts them.
    infrequent_categories_ : list of ndarray
        As in scikit-learn (with ``min_frequency`` or ``max_categories``).
    category_counts_ : CategoryCounts
        How many rows hold each value of each column (the merged statistics
        of the pass).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    OOCOneHotEncoder : One column per category.
    sklearn.preprocessing.OrdinalEncoder : The in-memory encoder.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.preprocessing import OOCOrdinalEncoder
    >>> X = np.array([["b", 3], ["a", 1], ["b", 1], ["c", 3]], dtype=object)
    >>> encoder = OOCOrdinalEncoder(batch_size=3, min_frequency=2).fit(X)
    >>> encoder.categories_
    [array(['a', 'b', 'c'], dtype=object), array([1, 3], dtype=object)]
    >>> encoder.transform(X)
    array([[0., 1.],
           [1., 0.],
           [0., 0.],
           [1., 1.]])
    """

    _parameter_constraints: dict = _common_constraints(OrdinalEncoder)

    def __init__(
        self,
        *,
        categories="auto",
        dtype=np.float64,
        handle_unknown="error",
        unknown_value=None,
        encoded_missing_value=np.nan,
        min_frequency=None,
        max_categories=None,
        batch_size="auto",
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            categories=categories,
            dtype=dtype,
            handle_unknown=handle_unknown,
            unknown_value=unknown_value,
            encoded_missing_value=encoded_missing_value,
            min_frequency=min_frequency,
            max_categories=max_categories,
        )
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
