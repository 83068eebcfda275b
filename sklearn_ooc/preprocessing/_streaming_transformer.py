"""scikit-learn transformers fitted batch by batch and applied lazily."""

from __future__ import annotations

from inspect import signature

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ..base import OutOfCoreMixin
from ..data import LazyArray, Table


def _any_nonzero(source, chunk=1 << 20):
    """Whether a weight of ``source`` is not zero, each checked as a batch's
    (a negative or NaN weight is refused, naming its row), though no batch
    but the first is read."""
    found = False
    for start in range(0, source.n_samples, chunk):
        rows = np.arange(start, min(start + chunk, source.n_samples))
        found = bool(np.any(source.weights_of(rows))) or found
    return found


class _TransformedRows:
    """``func`` of the rows of a LazyArray, read slice by slice (a LazyArray's
    base).

    An error of ``func`` on rows that hold an infinity (or a NaN, which
    ``allow_nan`` says the transformer takes) is replaced by one that names
    the first such row and the file, as the errors of a fit do; other errors
    stand.
    """

    def __init__(self, func, rows, allow_nan):
        self.func = func
        self.rows = rows
        self.allow_nan = allow_nan
        probe = self[0:1] if len(rows) else func(np.zeros((1,) + rows.shape[1:]))
        self.shape = (len(rows),) + probe.shape[1:]
        self.dtype = probe.dtype

    def _apply(self, block, numbers):
        shape = getattr(block, "shape", ())
        if len(shape) == 2 and len(numbers) and shape[0] != len(numbers):
            raise ValueError(
                f"X rows {numbers[0]}-{numbers[-1]} read from {self.rows!r} have "
                f"shape {tuple(shape)}; expected {len(numbers)} rows: the source "
                "returned other data than it declares. Check that slicing it "
                "returns exactly the rows asked for, with every column"
            )
        try:
            return np.asarray(self.func(block))
        except ValueError as exc:
            values = np.asarray(block)
            if values.dtype.kind != "f" or values.ndim != 2:
                raise
            bad = np.isinf(values) if self.allow_nan else ~np.isfinite(values)
            found = np.flatnonzero(bad.any(axis=1))
            if not found.size:
                raise
            row = found[0]
            what = "NaN" if np.isnan(values[row]).any() else "infinity"
            where = "" if self.rows.path is None else f" (file {self.rows.path!r})"
            raise ValueError(
                f"Input X contains {what} at row {numbers[row]} (rows "
                f"{numbers[0]}-{numbers[-1]} read){where}; remove or impute such "
                "rows"
            ) from exc

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self.rows))
            if step != 1:
                return self[np.arange(start, stop, step)]
            stop = max(start, stop)
            return self._apply(self.rows.rows(start, stop), np.arange(start, stop))
        index = np.asarray(key, dtype=np.intp)
        return self._apply(self.rows.take(index), index)


def _stateless(transformer):
    return not get_tags(transformer).requires_fit


def _fitted_by_columns(transformer):
    from .._out_of_core import _COLUMN_FITTED_TRANSFORMERS

    kind = type(transformer)
    return kind.__name__ in _COLUMN_FITTED_TRANSFORMERS and kind.__module__.startswith(
        "sklearn."
    )


class StreamingTransformer(TransformerMixin, OutOfCoreMixin, BaseEstimator):
    """Keep a pipeline out of core: fit a transformer batch by batch, apply it lazily.

    ``fit`` feeds the rows to the wrapped transformer's ``partial_fit`` one
    batch at a time, in file order (``StandardScaler``, ``MinMaxScaler``,
    ``MaxAbsScaler``, ``IncrementalPCA``), or fits a stateless transformer
    (``FunctionTransformer``) on the first batch, or one whose fitted state
    depends only on the number and names of the columns
    (``PolynomialFeatures``) on the first batch after every row has been
    checked as its own ``fit`` checks them. ``transform`` of a
    :class:`~sklearn_ooc.data.LazyArray` returns another LazyArray that
    applies the transformer to each batch when it is read, so that the next
    step of a :class:`~sklearn.pipeline.Pipeline` streams the transformed
    rows without their ever being held together; other inputs are
    transformed batch by batch into an array.

    Parameters
    ----------
    transformer : transformer with ``partial_fit``, or stateless
        The transformer; cloned by ``fit``.
    batch_size : int or "auto", default="auto"
        Rows per batch.
    verbose : int, default=0
        2 shows a progress bar over batches.

    Attributes
    ----------
    transformer_ : transformer
        The fitted clone.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ooc import open_array
    >>> from sklearn_ooc.preprocessing import StreamingTransformer
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(20.0).reshape(10, 2))
    >>> scaled = StreamingTransformer(StandardScaler(), batch_size=3).fit_transform(
    ...     open_array(path))
    >>> type(scaled).__name__
    'LazyArray'
    >>> bool(np.abs(np.asarray(scaled).mean(axis=0)).max() < 1e-12)
    True
    """

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["transform"])],
        "batch_size": OutOfCoreMixin._ooc_parameter_constraints["batch_size"],
        "verbose": ["verbose"],
    }

    def __init__(self, transformer, *, batch_size="auto", verbose=0):
        self.transformer = transformer
        self.batch_size = batch_size
        self.verbose = verbose

    def _engine(self):
        from .._engine import Engine

        return Engine(
            n_jobs=1, verbose=self.verbose, name=type(self).__name__, distributed=False
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.transformer)
        tags.input_tags.positive_only = inner.input_tags.positive_only
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def fit(self, X, y=None, sample_weight=None):
        """Fit the transformer on the rows of ``X``, batch by batch.

        Parameters
        ----------
        X : ndarray, numpy.memmap, str, os.PathLike, LazyArray or array store \
                of shape (n_samples, n_features)
            Rows.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to ``partial_fit`` batch by batch.

        Returns
        -------
        self : object
            The fitted wrapper.
        """
        self._validate_params()
        transformer = clone(self.transformer)
        by_columns = _fitted_by_columns(transformer)
        if (
            not hasattr(transformer, "partial_fit")
            and not _stateless(transformer)
            and not by_columns
        ):
            raise ValueError(
                f"{type(transformer).__name__} has no partial_fit and needs fitting: "
                "it cannot learn from batches (use a transformer with partial_fit, "
                "or a stateless one such as FunctionTransformer)"
            )
        if (
            sample_weight is not None
            and hasattr(transformer, "partial_fit")
            and "sample_weight" not in signature(transformer.partial_fit).parameters
        ):
            raise ValueError(
                f"{type(transformer).__name__}.partial_fit does not take "
                "sample_weight; fit without it"
            )
        if (
            sample_weight is not None
            and by_columns
            and "sample_weight" not in signature(transformer.fit).parameters
        ):
            raise ValueError(
                f"{type(transformer).__name__}.fit does not take sample_weight; "
                "fit without it"
            )
        with self._transaction():
            source = self._source(X, None, sample_weight, reset=True)
            if hasattr(transformer, "partial_fit"):

                def step(batch):
                    if batch.sample_weight is None:
                        transformer.partial_fit(batch.X)
                    elif batch.sample_weight.any():
                        transformer.partial_fit(
                            batch.X, sample_weight=batch.sample_weight
                        )
                    else:  # rows of weight zero change nothing
                        return False
                    return True

                learnt = [
                    result
                    for _, result in self._engine().map(
                        source, range(source.n_batches), step, desc="fit"
                    )
                ]
                if not any(learnt):
                    raise ValueError(
                        "Sample weights must contain at least one non-zero number."
                    )
            elif by_columns:
                # Its state is a function of the columns, which the first
                # batch has; every batch is read all the same, so that a row
                # its fit refuses (NaN, infinity) fails here as it does there.
                for _ in self._engine().map(
                    source, range(source.n_batches), lambda batch: None, desc="fit"
                ):
                    pass
                transformer.fit(source.read(0).X)
            else:
                # A stateless transformer learns nothing from the weights;
                # they are checked all the same.
                if source.sample_weight is not None and not _any_nonzero(source):
                    raise ValueError(
                        "Sample weights must contain at least one non-zero number."
                    )
                transformer.fit(source.read(0).X)
            self.transformer_ = transformer
            self._is_fitted = True
        return self

    def transform(self, X):
        """Transform ``X``: lazily for a LazyArray, else batch by batch.

        Parameters
        ----------
        X : LazyArray, ndarray, numpy.memmap, str or os.PathLike
            Rows.

        Returns
        -------
        LazyArray or ndarray
            The transformed rows: a LazyArray that transforms each batch when
            it is read, for a LazyArray input.
        """
        check_is_fitted(self)
        if isinstance(X, LazyArray):
            self._source(X, reset=False)
            allow_nan = get_tags(self).input_tags.allow_nan
            if hasattr(X, "with_nan") and allow_nan:
                X = X.with_nan()  # the nulls of a table, as NaN
            if isinstance(X, Table):  # its errors name the row group or line
                return X.map(self.transformer_.transform)
            return LazyArray(
                _TransformedRows(self.transformer_.transform, X, allow_nan),
                _guard=None,
            )
        return self._map_rows(X, lambda b: self.transformer_.transform(b.X))

    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X).transform(X)``: lazy for a LazyArray.

        Parameters
        ----------
        X : LazyArray, ndarray, numpy.memmap, str or os.PathLike
            Rows.
        y : None
            Ignored.
        **fit_params : dict
            Unused.

        Returns
        -------
        LazyArray or ndarray
            The transformed rows.
        """
        return self.fit(X, y).transform(X)

    @available_if(lambda self: hasattr(self.transformer, "inverse_transform"))
    def inverse_transform(self, X):
        """The transformer's ``inverse_transform``, lazily or batch by batch.

        Parameters
        ----------
        X : LazyArray or array-like
            Transformed rows.

        Returns
        -------
        LazyArray or ndarray
            The rows in the original space.
        """
        check_is_fitted(self)
        if isinstance(X, LazyArray):
            return X.map(self.transformer_.inverse_transform)
        blocks = [
            self.transformer_.inverse_transform(np.asarray(X[i : i + 65536]))
            for i in range(0, len(X), 65536)
        ]
        return np.vstack(blocks)

    def get_feature_names_out(self, input_features=None):
        """The wrapped transformer's output feature names.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        if input_features is None:
            # the names of the columns of the fit, which the wrapped
            # transformer (fitted on batches, arrays) has not seen
            input_features = getattr(self, "feature_names_in_", None)
        return self.transformer_.get_feature_names_out(input_features)
