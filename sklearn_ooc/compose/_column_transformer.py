"""ColumnTransformer over tables and arrays on disk: each transformer fitted on
its columns, the outputs read side by side, batch by batch."""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import _fit_transform_one, _transform_one
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import _raise_for_params, process_routing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from .._out_of_core import register
from ..data import LazyArray, Table, open_array, open_table
from ..data._npy import open_npy
from ..data._source import _is_array_store, _is_dask
from ..data._table import is_table_source

__all__ = ["OOCColumnTransformer"]


def _lazy(X):
    """``X`` as a lazy Table or LazyArray when its rows are out of core, else
    None (arrays and DataFrames in memory go scikit-learn's way)."""
    if isinstance(X, LazyArray):
        return X
    if is_table_source(X):
        return open_table(X)
    if isinstance(X, (str, bytes, os.PathLike)):
        # A bad file is refused as X, as every estimator refuses it.
        _check_rows(open_npy(X, name="X").shape)
        return open_array(X)
    if _is_store(X):
        return open_array(X)
    if isinstance(X, np.memmap) and X.filename is not None and X.ndim == 2:
        if _whole_npy(X):
            # Opened by its path, its errors name the file.
            return open_array(X.filename)
        return open_array(X)
    return None


def _is_store(X):
    """An array store out of core (h5py, zarr, other row-sliceable stores),
    read batch by batch as a LazyArray."""
    return (
        _is_array_store(X)
        and not isinstance(X, (np.ndarray, LazyArray))
        and not sp.issparse(X)
        and not _is_dask(X)
        and not type(X).__module__.startswith(("pandas", "polars"))
    )


def _whole_npy(X):
    """Whether the memory map ``X`` is the whole ``.npy`` file it maps (as
    ``np.load(path, mmap_mode="r")`` gives it), not a view of part of it."""
    try:
        whole = open_npy(X.filename, name="X")
    except (OSError, ValueError):  # a raw memory map, not a .npy file
        return False
    return (
        whole.offset == X.offset
        and whole.shape == X.shape
        and whole.dtype == X.dtype
        # the whole shape with the file's strides starts at its first row
        and whole.strides == X.strides
    )


def _check_rows(shape):
    """Refuse an array that is not a non-empty 2-D table of rows, in the words
    of the other estimators (scikit-learn's ColumnTransformer meets a 1-D
    array with an IndexError, and no rows with the words of a transformer
    about its own columns)."""
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


def _named(X):
    """Whether ``X`` is a Table whose columns have names (no mapped rows)."""
    return isinstance(X, Table) and not X._maps


def _header(X):
    """What the columns are chosen from, reading no row: a frame of no rows with
    the table's columns and dtypes (as ``pandas.read_parquet`` would type them)
    for a Table, the lazy array itself otherwise."""
    if _named(X):
        return X.header().to_pandas()
    return X


class _TakeColumns:
    """Columns of a batch (picklable, for lazy views with mapped rows)."""

    def __init__(self, indices):
        self.indices = indices

    def __call__(self, block):
        if sp.issparse(block):
            block = block.tocsc()
        return block[:, self.indices]


def _select(X, indices, scalar):
    """The columns ``indices`` of a lazy ``X``, lazily; one 1-D column when the
    user selected it with a scalar."""
    if _named(X):
        names = [X.columns[i] for i in indices]
        return X[names[0]] if scalar else X[names]
    if scalar:
        return X.map(_TakeColumns(int(indices[0])))
    if X._maps or X._columns is not None:
        return X.map(_TakeColumns(np.asarray(indices, dtype=np.intp)))
    return X[:, np.asarray(indices, dtype=np.intp)]


def _as_given(X_sub):
    """Columns passed through as scikit-learn passes them: a missing value of
    a table's numeric column is NaN (as ``pandas.read_parquet`` reads it)."""
    if _named(X_sub) and hasattr(X_sub, "with_nan"):
        return X_sub.with_nan()
    return X_sub


def _for(transformer, X_sub):
    """The columns as ``transformer`` takes them: with a missing value of a
    table's numeric column read as NaN if it takes NaN (an imputer), else an
    error that names the row, file, row group and column."""
    if _named(X_sub) and hasattr(X_sub, "with_nan") and _takes_nan(transformer):
        return X_sub.with_nan()
    return X_sub


def _takes_nan(transformer):
    """The ``allow_nan`` tag of a transformer, or of the first step of a
    pipeline (which scikit-learn's Pipeline does not pass on)."""
    steps = getattr(transformer, "steps", None)
    if isinstance(steps, list):
        first = [s for _, s in steps if s is not None and s != "passthrough"]
        return bool(first) and _takes_nan(first[0])
    try:
        return bool(get_tags(transformer).input_tags.allow_nan)
    except Exception:  # a third-party transformer without tags
        return False


class _HStack:
    """The outputs of the fitted transformers side by side, read by rows.

    The base of the LazyArray that ``transform`` returns: reading rows
    ``a:b`` reads rows ``a:b`` of each transformer's (lazy) output, applies
    its weight, and stacks them as dense columns.
    """

    def __init__(self, parts, weights, n_rows):
        self.parts = list(parts)
        self.weights = list(weights)
        widths = [int(p.shape[1]) for p in self.parts]
        self.shape = (int(n_rows), sum(widths))
        self.dtype = np.result_type(*[np.dtype(p.dtype) for p in self.parts])

    def _rows(self, part, key):
        if isinstance(part, LazyArray):
            if isinstance(key, slice):
                start, stop, step = key.indices(self.shape[0])
                if step == 1:
                    return part.rows(start, max(start, stop))
                key = np.arange(start, stop, step)
            return part.take(key)
        return part[key]

    def __getitem__(self, key):
        blocks = []
        for part, weight in zip(self.parts, self.weights, strict=True):
            block = self._rows(part, key)
            if sp.issparse(block):
                block = block.toarray()
            block = np.asarray(block)
            if weight is not None:
                block = block * weight
            blocks.append(block)
        return np.hstack(blocks).astype(self.dtype, copy=False)


def _lazy_output(parts, weights, n_rows):
    if not parts:
        return np.zeros((n_rows, 0))
    return LazyArray(_HStack(parts, weights, n_rows))


@register(ColumnTransformer)
class OOCColumnTransformer(ColumnTransformer):
    """Apply transformers to columns of a table on disk, out of core.

    scikit-learn's :class:`~sklearn.compose.ColumnTransformer` for a
    :class:`~sklearn_ooc.data.Table` (Parquet, CSV, Arrow, DuckDB), a
    :class:`~sklearn_ooc.data.LazyArray`, a ``.npy`` file or memory map, as
    well as for arrays and DataFrames in memory (which it handles exactly as
    scikit-learn does). Columns are selected by name, position, boolean mask,
    callable or :class:`~sklearn.compose.make_column_selector` (given, for a
    table, a DataFrame of no rows with the table's columns and dtypes).

    On an out-of-core ``X``, each transformer is fitted on its columns, as a
    view of them that reads only those columns (a streaming transformer makes
    its own passes over them: one for a scaler, one per step of a pipeline),
    and ``transform`` returns a :class:`~sklearn_ooc.data.LazyArray` that,
    for each batch of rows read, applies every fitted transformer to its
    columns and stacks the results: the next step of a
    :class:`~sklearn.pipeline.Pipeline` (such as
    :class:`~sklearn_ooc.linear_model.StreamingRidge`) streams them, and no
    output larger than a batch is ever held. Such an output is read as dense
    batches, whatever ``sparse_threshold`` (``sparse_output_`` is False): a
    batch of one-hot columns is small.

    Parameters
    ----------
    transformers : list of tuples
        ``(name, transformer, columns)`` tuples, as in scikit-learn; the
        transformer is an estimator (a streaming one, such as
        :class:`~sklearn_ooc.preprocessing.StreamingTransformer`, for an
        out-of-core ``X``), ``"drop"`` or ``"passthrough"``.
    remainder : {"drop", "passthrough"} or estimator, default="drop"
        What happens to the columns no transformer selects.
    sparse_threshold : float, default=0.3
        For inputs in memory: the overall density below which the output is
        a sparse matrix, as in scikit-learn.
    n_jobs : int, default=None
        Transformers fitted at once (threads for an out-of-core ``X``).
    transformer_weights : dict, default=None
        Multiplicative weights of each transformer's output, by name.
    verbose : bool, default=False
        Print the time each transformer takes to fit.
    verbose_feature_names_out : bool, str or callable, default=True
        How :meth:`get_feature_names_out` prefixes the names, as in
        scikit-learn.

    Attributes
    ----------
    transformers_ : list
        The fitted transformers, as ``(name, fitted_transformer, columns)``.
    named_transformers_ : :class:`~sklearn.utils.Bunch`
        The fitted transformers by name.
    sparse_output_ : bool
        Whether the output of ``transform`` is a sparse matrix (inputs in
        memory only).
    output_indices_ : dict
        The slice of the output columns of each transformer, by name.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        The column names, for a Table or a DataFrame.

    See Also
    --------
    sklearn.compose.ColumnTransformer : The in-memory estimator.
    sklearn_ooc.out_of_core : Converts a ColumnTransformer to this class.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ooc import open_table
    >>> from sklearn_ooc.compose import OOCColumnTransformer
    >>> from sklearn_ooc.preprocessing import StreamingTransformer
    >>> path = os.path.join(tempfile.mkdtemp(), "data.parquet")
    >>> frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0],
    ...                       "c": [5.0, 6.0, 7.0, 8.0]})
    >>> frame.to_parquet(path, row_group_size=2)
    >>> ct = OOCColumnTransformer(
    ...     [("scale", StreamingTransformer(StandardScaler()), ["a", "c"])],
    ...     remainder="passthrough")
    >>> out = ct.fit_transform(open_table(path))
    >>> type(out).__name__
    'LazyArray'
    >>> np.asarray(out).round(3)
    array([[-1.342, -1.342,  0.   ],
           [-0.447, -0.447,  1.   ],
           [ 0.447,  0.447,  0.   ],
           [ 1.342,  1.342,  1.   ]])
    >>> ct.get_feature_names_out()
    array(['scale__a', 'scale__c', 'remainder__b'], dtype=object)
    """

    _parameter_constraints: dict = {**ColumnTransformer._parameter_constraints}

    def __init__(
        self,
        transformers,
        *,
        remainder="drop",
        sparse_threshold=0.3,
        n_jobs=None,
        transformer_weights=None,
        verbose=False,
        verbose_feature_names_out=True,
    ):
        super().__init__(
            transformers,
            remainder=remainder,
            sparse_threshold=sparse_threshold,
            n_jobs=n_jobs,
            transformer_weights=transformer_weights,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN goes through when every transformer takes it (passthrough and
        # drop do), as the nulls of a table reach them.
        inner = [t for _, t, _ in self.transformers if not isinstance(t, str)]
        tags.input_tags.allow_nan = all(get_tags(t).input_tags.allow_nan for t in inner)
        return tags

    def _snapshot(self):
        return dict(self.__dict__)

    def _restore(self, saved):
        self.__dict__.clear()
        self.__dict__.update(saved)

    def fit(self, X, y=None, **params):
        """Fit every transformer on its columns of ``X``.

        Parameters
        ----------
        X : Table, LazyArray, str, numpy.memmap, ndarray or DataFrame of \
                shape (n_samples, n_features)
            The rows; a Table or a LazyArray is read batch by batch.
        y : array-like, Table or LazyArray of shape (n_samples,), default=None
            Targets, passed to each transformer's fit.
        **params : dict
            Routed to the transformers (metadata routing), as in scikit-learn.

        Returns
        -------
        self : OOCColumnTransformer
            The fitted transformer.
        """
        _raise_for_params(params, self, "fit")
        self.fit_transform(X, y=y, **params)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None, **params):
        """Fit every transformer on its columns, and transform ``X``.

        Parameters
        ----------
        X : Table, LazyArray, str, numpy.memmap, ndarray or DataFrame of \
                shape (n_samples, n_features)
            The rows.
        y : array-like, Table or LazyArray of shape (n_samples,), default=None
            Targets, passed to each transformer's fit.
        **params : dict
            Routed to the transformers (metadata routing), as in scikit-learn.

        Returns
        -------
        X_t : LazyArray, ndarray or sparse matrix
            The outputs of the transformers side by side: a LazyArray for an
            out-of-core ``X``, read batch by batch.
        """
        saved = self._snapshot()
        try:
            if isinstance(X, np.ndarray):
                _check_rows(X.shape)
            lazy = _lazy(X)
            if lazy is not None and isinstance(lazy, LazyArray):
                _check_rows(lazy.shape)
            if lazy is None:
                return super().fit_transform(X, y, **params)
            return self._fit_transform_lazy(lazy, y, params)
        except BaseException:
            self._restore(saved)
            raise

    def _fit_transform_lazy(self, X, y, params):
        _raise_for_params(params, self, "fit_transform")
        header = _header(X)
        validate_data(self, X=header, skip_check_array=True)
        self._validate_transformers()
        n_samples = len(X)
        self._validate_column_callables(header)
        self._validate_remainder(header)
        routed_params = process_routing(self, "fit_transform", **params)

        todo = list(
            self._iter(
                fitted=False,
                column_as_labels=False,
                skip_drop=True,
                skip_empty_columns=True,
            )
        )
        jobs = []
        for idx, (name, trans, columns, _) in enumerate(todo, start=1):
            indices = self._transformer_to_input_indices[name]
            X_sub = _select(X, indices, np.isscalar(columns))
            if trans == "passthrough":
                X_sub = _as_given(X_sub)
                jobs.append(delayed(self._passthrough)(header, indices, X_sub))
                continue
            jobs.append(
                delayed(_fit_transform_one)(
                    transformer=clone(trans),
                    X=_for(trans, X_sub),
                    y=y,
                    weight=None,
                    message_clsname="ColumnTransformer",
                    message=self._log_message(name, idx, len(todo)),
                    params=routed_params[name],
                )
            )
        result = Parallel(n_jobs=self.n_jobs, backend="threading")(jobs)
        self.sparse_output_ = False
        if not result:
            self._update_fitted_transformers([])
            return np.zeros((n_samples, 0))
        Xs, transformers = zip(*result, strict=True)
        self._update_fitted_transformers(transformers)
        self._validate_output(Xs)
        self._record_output_indices(Xs)
        weights = [weight for *_, weight in todo]
        return _lazy_output(Xs, weights, n_samples)

    def _passthrough(self, header, indices, X_sub):
        """The fitted identity of a ``"passthrough"`` selection (fitted on no
        rows: it learns only the columns), and the selected columns."""
        trans = FunctionTransformer(
            accept_sparse=True, check_inverse=False, feature_names_out="one-to-one"
        )
        if isinstance(header, LazyArray):
            trans.fit(np.empty((0, len(indices))))
        else:
            trans.fit(header.iloc[:, list(indices)])
        return X_sub, trans

    def transform(self, X, **params):
        """Transform ``X`` by every fitted transformer and stack the results.

        Parameters
        ----------
        X : Table, LazyArray, str, numpy.memmap, ndarray or DataFrame of \
                shape (n_samples, n_features)
            The rows; for a Table, columns are found by name when the fit
            saw names (so their order may differ).
        **params : dict
            Routed to the transformers' ``transform`` (metadata routing).

        Returns
        -------
        X_t : LazyArray, ndarray or sparse matrix
            The outputs side by side: a LazyArray for an out-of-core ``X``,
            which transforms each batch of rows when it is read.
        """
        if isinstance(X, np.ndarray):
            _check_rows(X.shape)
        lazy = _lazy(X)
        if lazy is None:
            return super().transform(X, **params)
        if isinstance(lazy, LazyArray):
            _check_rows(lazy.shape)
        _raise_for_params(params, self, "transform")
        check_is_fitted(self)
        X = lazy
        by_name = hasattr(self, "feature_names_in_") and _named(X)
        if by_name:
            fitted_names = set()
            for name, trans, _ in self.transformers_:
                if trans != "drop":
                    indices = self._transformer_to_input_indices[name]
                    fitted_names.update(self.feature_names_in_[indices])
            missing = fitted_names - set(X.columns)
            if missing:
                raise ValueError(f"columns are missing: {missing}")
            position = {c: i for i, c in enumerate(X.columns)}
        else:
            validate_data(self, X=_header(X), skip_check_array=True, reset=False)
        routed_params = process_routing(self, "transform", **params)
        parts, weights = [], []
        for name, trans, columns, weight in self._iter(
            fitted=True,
            column_as_labels=False,
            skip_drop=True,
            skip_empty_columns=True,
        ):
            indices = self._transformer_to_input_indices[name]
            if by_name:
                indices = [position[c] for c in self.feature_names_in_[indices]]
            X_sub = _select(X, indices, np.isscalar(columns))
            if self._is_passthrough(name):
                parts.append(_as_given(X_sub))
            else:
                parts.append(
                    _transform_one(
                        trans, _for(trans, X_sub), None, None, routed_params[name]
                    )
                )
            weights.append(weight)
        self._validate_output(parts)
        return _lazy_output(parts, weights, len(X))

    def _is_passthrough(self, name):
        """Whether the user passed the columns of ``name`` through (its fitted
        transformer is then the identity)."""
        given = {n: t for n, t, _ in self.transformers}
        trans = given.get(name, self.remainder if name == "remainder" else None)
        return isinstance(trans, str) and trans == "passthrough"
