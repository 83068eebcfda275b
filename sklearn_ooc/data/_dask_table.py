"""Dask DataFrames as inputs: rows of partitions, computed where they live.

Two ways in. :func:`dask_frame_rows` turns the Dask DataFrames (and Series)
given to an estimator into Dask arrays whose chunks are the partitions, so
that the engine's distributed path summarizes each partition on the worker
that computes it and only the statistics travel. :class:`DaskFrameBackend` is
the backend of :func:`~sklearn_ooc.data.open_table` for a Dask DataFrame: a
lazy table that computes one partition at a time and brings it to this
process (for the encoders and the ColumnTransformer, which need raw values of
any type).

Either way, the length of every partition is computed when the frame is first
opened (Dask does not know them): a pass over the frame that brings back one
number per partition, kept for the next calls on the same partitions. A
partition whose columns or dtypes are not those the frame declares is refused
with its number and the column.

Examples
--------
>>> import numpy as np, pandas as pd
>>> import dask.dataframe as dd
>>> from sklearn_ooc import open_table
>>> from sklearn_ooc.linear_model import StreamingRidge
>>> frame = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5], "b": [1.0, 0, 1, 0, 1, 0]})
>>> frame["y"] = 2 * frame["a"] - frame["b"]
>>> frame["city"] = ["x", "y", "x", "z", "y", "x"]
>>> D = dd.from_pandas(frame, npartitions=3)
>>> model = StreamingRidge(alpha=1e-9).fit(D[["a", "b"]], D["y"])
>>> model.coef_.round(6), model.feature_names_in_
(array([ 2., -1.]), array(['a', 'b'], dtype=object))
>>> T = open_table(D)
>>> T
Table(shape=(6, 4), columns=['a', 'b', 'y', 'city'], from a Dask DataFrame)
>>> T.read_frame(2, 5)["city"].tolist()
['x', 'z', 'y']
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ._table import _PieceBackend, _pyarrow

_NUMERIC_KINDS = "fiub"

LABEL = "a Dask DataFrame"


def is_dask_frame(obj):
    """Whether ``obj`` is a Dask DataFrame or Series (not a Dask array)."""
    return (
        type(obj).__module__.startswith("dask")
        and hasattr(obj, "npartitions")
        and hasattr(obj, "divisions")
        and hasattr(obj, "_meta")
    )


def _columns_of(meta):
    """The column names of a frame, or ``[name]`` of a Series."""
    if hasattr(meta, "columns"):
        return list(meta.columns)
    return [meta.name]


def _dtypes_of(meta):
    if hasattr(meta, "columns"):
        return list(meta.dtypes)
    return [meta.dtype]


def _same_dtype(a, b):
    # The frame's metadata knows no categories (they are "unknown" after
    # read_parquet): a categorical partition matches a categorical column.
    if (
        getattr(a, "name", None) == "category"
        and getattr(b, "name", None) == "category"
    ):
        return True
    return a == b


def _is_numeric(dtype):
    return getattr(dtype, "kind", "O") in _NUMERIC_KINDS and (
        getattr(dtype, "name", "") != "category"
    )


def _numpy_dtype(dtypes):
    """The dtype of the rows of numeric columns, as ``np.asarray`` of the
    computed DataFrame gives it (float64 when a nullable column may hold NA)."""
    plain = []
    for dtype in dtypes:
        if isinstance(dtype, np.dtype):
            plain.append(dtype)
        else:  # a pandas extension dtype (Int64, Float32, boolean): NA is NaN
            plain.append(np.dtype(np.float64))
    return np.result_type(*plain) if plain else np.dtype(np.float64)


def check_partition(frame, index, name, columns, dtypes, n_rows=None):
    """Raise unless partition ``index`` of the input ``name`` holds the
    ``columns`` of ``dtypes`` the frame declares (and ``n_rows`` rows)."""
    who = f"{LABEL} {name}" if name else LABEL
    if hasattr(frame, "columns"):
        got = list(frame.columns)
        if got != columns:
            missing = [c for c in columns if c not in got]
            what = (
                f"has no column {missing[0]!r}" if missing else f"has the columns {got}"
            )
            raise ValueError(
                f"partition {index} of {who} {what}; the frame declares "
                f"the columns {columns}. Make every partition hold the same columns"
            )
        got_dtypes = list(frame.dtypes)
    else:
        got_dtypes = [frame.dtype]
    for column, got, declared in zip(columns, got_dtypes, dtypes, strict=True):
        if not _same_dtype(got, declared):
            raise ValueError(
                f"partition {index} of {who}: column {column!r} has "
                f"dtype {got}, but the frame declares {declared}. Make the "
                f"partitions agree, for example with ddf.astype({{{column!r}: "
                f"{str(declared)!r}}})"
            )
    if n_rows is not None and len(frame) != n_rows:
        raise ValueError(
            f"partition {index} of {who} has {len(frame)} rows, but "
            f"{n_rows} when its length was counted: its data changed since. "
            "Persist the frame (ddf.persist()) or write it to Parquet before "
            "fitting"
        )


def _partition_values(frame, index, name, columns, dtypes, n_rows, dtype):
    """On a worker: the values of one checked partition, as an ndarray."""
    check_partition(frame, index, name, columns, dtypes, n_rows)
    if dtype.kind == "f":
        return frame.to_numpy(dtype=dtype, na_value=np.nan)
    if dtype.kind == "O" and not hasattr(frame, "columns"):
        # Labels (strings, categories) as scikit-learn reads them.
        return np.asarray(frame.to_numpy(dtype=object))
    return frame.to_numpy(dtype=dtype)


def _check_numeric(meta, name):
    for column, dtype in zip(_columns_of(meta), _dtypes_of(meta), strict=True):
        if not _is_numeric(dtype):
            raise ValueError(
                f"{name} column {column!r} of {LABEL} holds {dtype}, not numbers. "
                "Select numeric columns (ddf[[...]] or ddf.drop(columns=[...])), "
                "or encode the column with a preprocessing step first"
            )


def partition_lengths(parts):
    """The number of rows of each partition (``parts``: the delayed
    partitions of a frame, by the name of the input), computed where they
    live, in one pass (once: they are kept for the frames opened last).

    A partition that cannot be computed (a column its data lacks) is named:
    on failure the partitions are counted again one at a time, to find it.
    """
    import dask

    keys = {name: tuple(str(p.key) for p in ps) for name, ps in parts.items()}
    with _lengths_lock:
        known = {name: _lengths.get(key) for name, key in keys.items()}
    wanted = [name for name in parts if known[name] is None]
    count = dask.delayed(len, pure=True)
    try:
        counted = dask.compute(*[[count(p) for p in parts[name]] for name in wanted])
    except (KeyError, ValueError, TypeError):
        for name, frame_parts in parts.items():
            for index, part in enumerate(frame_parts):
                try:
                    dask.compute(count(part))
                except (KeyError, ValueError, TypeError) as error:
                    raise _partition_error(index, name, error) from error
        raise  # pragma: no cover - failed only all at once
    with _lengths_lock:
        for name, lengths in zip(wanted, counted, strict=True):
            known[name] = np.asarray(lengths, dtype=np.int64).reshape(-1)
            _lengths[keys[name]] = known[name]
            _lengths.move_to_end(keys[name])
        while len(_lengths) > _KEPT_LENGTHS:
            _lengths.popitem(last=False)
    return [known[name] for name in parts]


# The lengths of the partitions of the last frames opened, by the keys of
# their tasks: fit, predict and score of one frame count them once. (A
# partition whose length has changed since is refused when it is read.)
_KEPT_LENGTHS = 64
_lengths = OrderedDict()
_lengths_lock = threading.Lock()


def _partition_error(index, name, error):
    who = f"{LABEL} {name}" if name else LABEL
    what = (
        "lacks a column the frame declares"
        if isinstance(error, KeyError)
        else "cannot be computed"
    )
    return ValueError(
        f"partition {index} of {who} {what} ({type(error).__name__}: {error}). "
        "Make every partition hold the columns and dtypes the frame declares"
    )


def _as_rows(frame, parts, lengths, name, numeric):
    """A Dask array of the rows of ``frame``, a chunk per non-empty partition,
    each checked on the worker that computes it."""
    import dask
    import dask.array as da

    meta = frame._meta
    columns, dtypes = _columns_of(meta), _dtypes_of(meta)
    if numeric:
        _check_numeric(meta, name)
        dtype = _numpy_dtype(dtypes)
    elif all(_is_numeric(d) and isinstance(d, np.dtype) for d in dtypes):
        dtype = _numpy_dtype(dtypes)
    else:
        dtype = np.dtype(object)
    frame_2d = hasattr(meta, "columns")
    values = dask.delayed(_partition_values, pure=True)
    blocks = []
    for index, (part, n) in enumerate(zip(parts, lengths, strict=True)):
        if n == 0:
            continue
        shape = (int(n), len(columns)) if frame_2d else (int(n),)
        task = values(part, index, name, columns, dtypes, int(n), dtype)
        blocks.append(da.from_delayed(task, shape, dtype=dtype))
    if not blocks:
        return da.zeros((0, len(columns)) if frame_2d else (0,), dtype=dtype)
    return da.concatenate(blocks, axis=0)


def dask_frame_rows(X, y=None, sample_weight=None, *, y_numeric=True):
    """Dask DataFrames and Series among ``X, y, sample_weight`` as Dask arrays.

    The partitions become the chunks (empty ones are left out), so that a
    :class:`~sklearn_ooc.data.BatchSource` takes each partition as a batch
    and the engine summarizes it where it lives. The lengths of the
    partitions of all the frames are computed at once, first.

    Returns
    -------
    X, y, sample_weight : the inputs, Dask frames replaced by Dask arrays
    header : pandas.DataFrame or None
        The frame ``X`` of no rows (the names of the features), or None when
        ``X`` is no Dask DataFrame.

    Raises
    ------
    ValueError
        If a column of ``X`` (or of ``y`` for a regressor, of
        ``sample_weight``) does not hold numbers; when the rows are computed,
        if a partition lacks a column or holds another dtype than the frame
        declares (naming the partition and the column).
    """
    inputs = {"X": X, "y": y, "sample_weight": sample_weight}
    frames = {k: v for k, v in inputs.items() if is_dask_frame(v)}
    if not frames:
        return X, y, sample_weight, None
    for key, frame in frames.items():
        numeric = key != "y" or y_numeric
        if numeric:
            _check_numeric(frame._meta, key)
    if "X" not in frames and not type(X).__module__.startswith("dask"):
        # X is read here batch by batch: so are the others, a partition at a
        # time (slicing a Dask array would compute a partition per batch).
        for key, frame in frames.items():
            inputs[key] = _column_table(frame, key)
        return inputs["X"], inputs["y"], inputs["sample_weight"], None
    # The partitions as the lengths are counted: Dask may fuse the
    # partitions of another expression of the frame differently.
    parts = {key: frame.to_delayed() for key, frame in frames.items()}
    lengths = dict(zip(frames, partition_lengths(parts), strict=True))
    for key, frame in frames.items():
        numeric = key != "y" or y_numeric
        inputs[key] = _as_rows(frame, parts[key], lengths[key], key, numeric)
    # Names as scikit-learn takes them from the computed frame.
    header = X._meta if "X" in frames and hasattr(X._meta, "columns") else None
    return inputs["X"], inputs["y"], inputs["sample_weight"], header


def _column_table(series, key):
    """A Dask Series (or one-column DataFrame) as a lazy one-column Table."""
    from ._table import Table, _Columns

    if hasattr(series._meta, "columns"):
        if len(series.columns) != 1:
            raise ValueError(
                f"{key} must be one column, got {LABEL} of the columns "
                f"{list(series.columns)}"
            )
        frame = series
    else:
        name = series.name if isinstance(series.name, str) else key
        frame = series.to_frame(name=name)
    backend = DaskFrameBackend(frame)
    return Table(_Columns(backend, [str(frame.columns[0])], target=True))


class DaskFrameBackend(_PieceBackend):
    """A Dask DataFrame as a table: a piece per partition.

    A partition is computed (on the cluster, with a ``distributed`` client)
    when its rows are asked for, with only the columns asked for, and
    brought to this process; at most two are kept. Partitions are read one
    at a time (``concurrent`` is False, so the reader does not compute the
    next ones on other threads).
    """

    concurrent = False

    def __init__(self, frame, lengths=None):
        pa = _pyarrow()
        meta = frame._meta
        if not hasattr(meta, "columns"):
            frame = frame.to_frame()
            meta = frame._meta
        if not all(isinstance(c, str) for c in meta.columns):
            frame = frame.rename(columns=str)
            meta = frame._meta
        self.frame = frame
        self.label = LABEL
        self.declared = dict(zip(meta.columns, meta.dtypes, strict=True))
        schema = pa.Schema.from_pandas(meta, preserve_index=False)
        # A column of Python objects has no type in a frame of no rows: the
        # Table reads strings from it.
        for name, dtype in self.declared.items():
            if dtype == np.dtype(object):
                i = schema.get_field_index(name)
                schema = schema.set(i, pa.field(name, pa.large_string()))
        self.schema = schema
        # The delayed partitions of each set of columns read, so that a
        # partition is computed with those columns only.
        self._parts = {}
        self._parts_lock = threading.RLock()
        if lengths is None:
            (lengths,) = partition_lengths({None: self._parts_of(tuple(meta.columns))})
        self._init_pieces(lengths)

    def _parts_of(self, columns):
        with self._parts_lock:
            parts = self._parts.get(columns)
            if parts is None:
                parts = self.frame[list(columns)].to_delayed()
                if hasattr(self, "counts") and len(parts) != len(self.counts):
                    # Fused otherwise than the whole frame: read its partitions.
                    whole = self._parts_of(tuple(self.declared))
                    parts = [part[list(columns)] for part in whole]
                self._parts[columns] = parts
            return parts

    def _piece(self, p, columns):
        table = super()._piece(p, columns)
        with self._lock:
            while len(self._cache) > 2:
                old, _ = self._cache.popitem(last=False)
                del self._cached_bytes[old]
        return table

    def _load(self, p, columns):
        pa = _pyarrow()
        try:
            frame = self._parts_of(tuple(columns))[p].compute()
        except (KeyError, ValueError, TypeError) as exc:
            raise _partition_error(p, None, exc) from exc
        check_partition(
            frame,
            p,
            None,
            list(columns),
            [self.declared[c] for c in columns],
            int(self.counts[p]),
        )
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(
                f"partition {p} of {LABEL} cannot be read as a table: {exc}. Give "
                "each column one type (for example ddf.astype({column: 'string'}))"
            ) from exc
        for name in columns:
            got = table.schema.field(name).type
            want = self.schema.field(name).type
            if got == want or (
                pa.types.is_dictionary(got) and pa.types.is_dictionary(want)
            ):
                continue
            if not (_is_text(pa, got) or pa.types.is_null(got)) or not _is_text(
                pa, want
            ):
                raise ValueError(
                    f"partition {p} of {LABEL}: column {name!r} holds {got}, not "
                    f"the {want} the frame declares. Give the column one type "
                    f"(for example ddf.astype({{{name!r}: 'string'}}))"
                )
            table = table.set_column(
                table.schema.get_field_index(name), name, table.column(name).cast(want)
            )
        return table

    def where(self, row):
        return f"partition {self.piece_of(row)} of {self.label}"

    def spec(self):
        return ("dask", self.frame, self.counts)


def _is_text(pa, typ):
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def reopen(spec):
    """The backend of a :meth:`DaskFrameBackend.spec` (unpickling a Table)."""
    return DaskFrameBackend(spec[1], lengths=spec[2])
