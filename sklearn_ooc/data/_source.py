"""The one way data enters an estimator: :class:`BatchSource`."""

from __future__ import annotations

import mmap
import numbers
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import islice

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

from .._kernels import first_negative, first_nonfinite_row
from ._lazy import LazyArray
from ._npy import FileGuard, as_path, open_npy, read_columns
from ._table import Table, is_table_source, open_table

#: Bytes of float64 rows in a batch when ``batch_size="auto"``.
AUTO_BATCH_BYTES = 64 << 20

_NUMERIC_KINDS = "fiub"

_PATH_TYPES = (str, bytes, os.PathLike)


def check_batch_size(batch_size, name="batch_size"):
    """Raise a ``ValueError`` unless ``batch_size`` is ``"auto"`` or an int >= 1."""
    if isinstance(batch_size, str) and batch_size == "auto":
        return batch_size
    if isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool):
        if batch_size >= 1:
            return int(batch_size)
    raise ValueError(f"{name} must be a positive int or 'auto', got {batch_size!r}")


def check_batches_per_epoch(batches_per_epoch):
    """Raise a ``ValueError`` unless ``batches_per_epoch`` is None or an int >= 1."""
    if batches_per_epoch is None:
        return None
    if isinstance(batches_per_epoch, numbers.Integral) and not isinstance(
        batches_per_epoch, bool
    ):
        if batches_per_epoch >= 1:
            return int(batches_per_epoch)
    raise ValueError(
        f"batches_per_epoch must be None or a positive int, got {batches_per_epoch!r}"
    )


def resolve_batch_size(batch_size, n_columns):
    """Rows per batch: ``batch_size`` itself, or about 64 MiB of float64 rows."""
    batch_size = check_batch_size(batch_size)
    if batch_size == "auto":
        return max(1, AUTO_BATCH_BYTES // (8 * max(1, n_columns)))
    return batch_size


# "auto" batches come in multiples of this many: a pass of a few batches on
# 2 or 4 threads (n_jobs) then keeps every thread busy to its end. The count
# never depends on n_jobs, so neither does any result.
_BATCHES_MULTIPLE = 4


def _balanced(n_samples, batch_size):
    """Rows per batch, at most ``batch_size``, for a number of batches that is
    a multiple of ``_BATCHES_MULTIPLE`` (when there is more than one)."""
    n_batches = -(-n_samples // batch_size)
    if n_batches <= 1:
        return batch_size
    n_batches = -(-n_batches // _BATCHES_MULTIPLE) * _BATCHES_MULTIPLE
    return -(-n_samples // n_batches)


def _is_dask(obj):
    return type(obj).__module__.startswith("dask.") and hasattr(obj, "chunks")


def _is_dask_frame(obj):
    return type(obj).__module__.startswith("dask.") and hasattr(obj, "divisions")


def _is_array_store(obj):
    """An out-of-core array: h5py/zarr datasets and other row-sliceable stores."""
    return (
        hasattr(obj, "shape")
        and hasattr(obj, "dtype")
        and hasattr(obj, "__getitem__")
        and not hasattr(obj, "columns")
        and isinstance(getattr(obj, "dtype", None), np.dtype)
    )


def open_rows(data, name="X", numeric=True):
    """Open ``data`` for reading rows, copying nothing that is out of core.

    ``.npy`` paths become read-only memory maps; ndarrays, memory maps and
    array stores (objects with ``shape``, ``dtype`` and row slicing, such as
    h5py and zarr datasets) are kept as they are; sparse matrices become CSR;
    anything else (lists, DataFrames) is in memory already and is converted
    with scikit-learn's :func:`~sklearn.utils.check_array`. Tables (a
    :class:`~sklearn_ooc.data.Table`, a path to Parquet, CSV or Arrow files,
    a DuckDB relation) open as a lazy :class:`~sklearn_ooc.data.Table`.
    """
    if is_table_source(data):
        table = open_table(data)
        if numeric:
            table.check_numeric(name)
        return table
    if isinstance(data, _PATH_TYPES):
        return open_npy(data, name=name)
    if sp.issparse(data):
        return data.tocsr()
    if isinstance(data, np.ndarray):
        if (
            data.dtype.kind in _NUMERIC_KINDS
            or isinstance(data, np.memmap)
            or not numeric
        ):
            return data
    elif _is_array_store(data):
        return data
    return check_array(
        data,
        accept_sparse="csr",
        dtype="numeric" if numeric else None,
        ensure_all_finite=False,
        ensure_2d=False,
        allow_nd=True,
        ensure_min_samples=0,
        ensure_min_features=0,
        input_name=name,
    )


def _label(data):
    """How error messages name a file-backed input (None for memory)."""
    if isinstance(data, _PATH_TYPES):
        return repr(as_path(data))
    if isinstance(data, LazyArray):
        return None if data.path is None else repr(data.path)
    filename = getattr(data, "filename", None)
    if isinstance(data, np.memmap) and filename:
        return repr(os.fspath(filename))
    return None


def _describe(data, label):
    """How error messages name where rows come from (cheaply: made per fit)."""
    if label is not None:
        return f"file {label}"
    if isinstance(data, np.ndarray) or not (
        isinstance(data, LazyArray) or _is_array_store(data)
    ):
        return f"an in-memory {type(data).__name__}"
    try:
        # Stores (h5py, zarr, dask) say in one line what they are.
        text = repr(data)
    except Exception:
        text = f"a {type(data).__name__}"
    return text if len(text) <= 120 else text[:117] + "..."


def _check_declared_shape(shape, name, where):
    """Refuse a shape that no array has (a store may declare anything)."""
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(
            f"{name}{where} declares shape {tuple(shape)}; expected non-negative "
            "integers"
        )


def _check_dtype(dtype, name, where):
    if dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name}{where} has dtype {dtype}")
    if dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(
            f"{name}{where} has dtype {dtype}; expected numbers (float, int or bool)"
        )


def _npy_header(X, opened):
    """A zero-row Arrow table named as the columns of the ``.npy`` file of
    ``X`` (a path, or a :class:`LazyArray` of its rows or of some of its
    columns), from the names ``convert`` wrote beside it; None when there
    are none, they do not count its columns, or ``X`` is anything else.

    A malformed names file raises (naming it) rather than losing the names.
    """
    if isinstance(X, _PATH_TYPES):
        path, columns, base = as_path(X), None, opened
    elif isinstance(X, LazyArray) and X.path is not None and not X._maps:
        path, columns, base = X.path, X._columns, X._base
    else:
        return None
    if len(base.shape) != 2 or len(opened.shape) != 2:
        return None
    names = read_columns(path, n_columns=int(base.shape[1]))
    if names is None:
        return None
    if columns is not None:
        names = np.asarray(names, dtype=object)[columns].tolist()
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow comes with tables
        return None
    try:
        kind = pa.from_numpy_dtype(opened.dtype)
    except (pa.ArrowNotImplementedError, TypeError):
        kind = pa.float64()
    return pa.schema([pa.field(n, kind) for n in names]).empty_table()


class Batch:
    """Rows ``start:stop`` of a source: the unit every kernel works on.

    Attributes
    ----------
    index : int
        Position of the batch in the source.
    start, stop : int
        Absolute row range.
    X : ndarray of shape (stop - start, n_features)
        C-contiguous float32 or float64, finite.
    y : ndarray or None
        The aligned targets, as given (1-D or 2-D).
    sample_weight : ndarray of shape (stop - start,) or None
        Finite, non-negative float64 weights.
    workspace : Workspace or None
        Scratch buffers of the worker summarizing this batch (set by the
        engine).
    """

    __slots__ = ("index", "start", "stop", "X", "y", "sample_weight", "workspace")

    def __init__(self, index, start, stop, X, y=None, sample_weight=None):
        self.index = index
        self.start = start
        self.stop = stop
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.workspace = None

    @property
    def n_samples(self):
        return self.stop - self.start


class _BatchMaker:
    """Turns raw rows into a validated :class:`Batch`.

    Small and picklable: the part of a source that a worker of a cluster
    needs to check the rows it loaded itself.
    """

    def __init__(self, labels, y_numeric, allow_nan=False):
        self.labels = labels
        self.y_numeric = y_numeric
        # NaN in X is a missing value the estimator handles (its allow_nan tag).
        self.allow_nan = allow_nan
        # Filled as the inputs are opened: what each batch must look like.
        self.sources = {}
        self.shapes = {}
        self.dtypes = {}

    def expect(self, name, data, arr):
        """Record that batches of ``name`` come from ``arr`` (given as ``data``)."""
        self.sources[name] = _describe(data, self.labels.get(name))
        self.shapes[name] = tuple(int(n) for n in arr.shape[1:])
        self.dtypes[name] = np.dtype(arr.dtype)

    def check_block(self, block, name, n_rows, what):
        """Raise unless ``block`` holds ``n_rows`` rows of ``name`` as declared.

        A store whose slices return other rows or columns than asked for
        (a short read, a stale shape) would otherwise be used as is: misaligned
        with ``y``, or indexed out of bounds by a kernel.
        """
        expected = (n_rows,) + self.shapes.get(name, block.shape[1:])
        declared = self.dtypes.get(name)
        problem = None
        if block.shape != expected:
            problem = f"has shape {block.shape}; expected {expected}"
        elif (
            (name != "y" or self.y_numeric)
            and declared is not None
            and block.dtype.kind not in _NUMERIC_KINDS
        ):
            problem = (
                f"has dtype {block.dtype}; expected numbers (the source declares "
                f"{declared})"
            )
        if problem is not None:
            source = self.sources.get(name, "the source")
            raise ValueError(
                f"{name} {what} read from {source} {problem}: the source returned "
                "other data than it declares. Check that slicing it returns "
                "exactly the rows asked for, with every column"
            )

    def where(self, name="X"):
        label = self.labels.get(name)
        return "" if label is None else f" (file {label})"

    def invalid(self, name, what, row, index, start, stop):
        return ValueError(
            f"Input {name} contains {what} at row {row} (batch {index}, rows "
            f"{start}-{stop - 1}){self.where(name)}; remove or impute such rows "
            "before fitting"
        )

    def finite(self, block, name, index, start, stop):
        if block.dtype.kind != "f":
            return
        block2d = block.reshape(block.shape[0], -1)
        if name == "X" and self.allow_nan:
            rows = np.flatnonzero(np.isinf(block2d).any(axis=1))
            if rows.size:
                raise self.invalid(
                    name, "infinity", start + rows[0], index, start, stop
                )
            return
        if block2d.dtype in (np.float32, np.float64):
            bad = first_nonfinite_row(block2d)
        else:  # float16 or longdouble labels, which the kernel does not take
            rows = np.flatnonzero(~np.isfinite(block2d).all(axis=1))
            bad = rows[0] if rows.size else -1
        if bad >= 0:
            what = "NaN" if np.isnan(block2d[bad]).any() else "infinity"
            raise self.invalid(name, what, start + bad, index, start, stop)

    def make(self, index, start, stop, X, y=None, w=None, validate=True, finite=()):
        """A :class:`Batch` of rows ``start:stop``, validated if asked (but
        not checked for NaN or infinity in the inputs named in ``finite``,
        known finite already).

        Raises
        ------
        ValueError
            If the rows hold a NaN or an infinity (in ``X``, in a ``y`` of
            floats, or in the weights), or a negative weight; the message
            names the absolute row. Also if the rows read are not the ones
            asked for (other rows, columns or a non-numeric dtype than the
            source declares); the message names the batch and the source.
        """
        what = f"batch {index} (rows {start}-{stop - 1})"
        X = np.asarray(X)
        self.check_block(X, "X", stop - start, what)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        X = np.ascontiguousarray(X)
        if validate and "X" not in finite:
            self.finite(X, "X", index, start, stop)
        if y is not None:
            y = np.asarray(y)
            self.check_block(y, "y", stop - start, what)
            if self.y_numeric:
                y = np.ascontiguousarray(y, dtype=np.float64)
            if validate and "y" not in finite:
                # Labels stored as floats (a classifier's y) must be finite
                # too: a NaN label is a missing target, never a class.
                self.finite(y, "y", index, start, stop)
        if isinstance(w, float):
            w = np.full(stop - start, w)
        elif w is not None:
            w = np.asarray(w)
            self.check_block(w, "sample_weight", stop - start, what)
            w = np.ascontiguousarray(w, dtype=np.float64)
            if validate:
                self.finite(w, "sample_weight", index, start, stop)
                bad = first_negative(w)
                if bad >= 0:
                    raise self.invalid(
                        "sample_weight",
                        f"a negative weight ({w[bad]})",
                        start + bad,
                        index,
                        start,
                        stop,
                    )
        return Batch(index, start, stop, X, y, w)


def _touch_pages(block):
    """Read a byte of every page of ``block``, a view of a memory map: the
    thread reading ahead, not the one that computes on the rows, then waits
    for a file not in the page cache (as the check for NaN did, which
    :meth:`BatchSource.read` may leave to the statistics)."""
    if block.size and block.flags.c_contiguous:
        np.bitwise_or.reduce(block.reshape(-1).view(np.uint8)[:: mmap.PAGESIZE])


class BatchSource:
    """Rows of ``X`` (with aligned ``y`` and ``sample_weight``) read batch by batch.

    Nothing is read when the source is made: shapes and dtypes are checked
    from metadata. Each batch is read and validated when asked for (the shape
    asked for, finite, numeric, non-negative weights), so an error names the
    absolute row and the batch where the problem is. Before each batch, one
    :func:`os.stat` per memory-mapped file checks that the file has not
    changed since the source was made (a truncated file would otherwise kill
    the process with SIGBUS).

    Parameters
    ----------
    X : ndarray, numpy.memmap, str, os.PathLike, array store, sparse matrix \
            or array-like of shape (n_samples, n_features)
        The rows. A path names a ``.npy`` file, opened as a read-only memory
        map. Memory maps and array stores are never read whole.
    y : same kinds as X, of shape (n_samples,) or (n_samples, n_targets), \
            default=None
        Targets, read aligned with ``X``.
    sample_weight : same kinds as X, of shape (n_samples,), or float, \
            default=None
        Non-negative row weights.
    batch_size : int or "auto", default="auto"
        Rows per batch; ``"auto"`` is at most about 64 MiB of float64 rows,
        in a number of batches that is a multiple of 4 (balanced on threads).
    y_numeric : bool, default=True
        Whether ``y`` must be finite numbers (regression); if False, labels of
        any dtype are passed through as given (labels stored as floats must
        still be finite).
    allow_nan : bool, default=False
        Whether ``X`` may hold NaN (missing values, for estimators whose
        scikit-learn tags say ``allow_nan``): nulls in the numeric columns of
        a table are then read as NaN. Infinities are still refused.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ooc.data import BatchSource
    >>> source = BatchSource(np.arange(10.0).reshape(5, 2), batch_size=2)
    >>> source.n_batches
    3
    >>> [b.X.shape[0] for b in source.iter_batches(range(source.n_batches))]
    [2, 2, 1]
    """

    def __init__(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        batch_size="auto",
        y_numeric=True,
        allow_nan=False,
    ):
        frame_header = None
        if any(_is_dask_frame(v) for v in (X, y, sample_weight)):
            # Partitions become the chunks of Dask arrays, summarized where
            # they live.
            from ._dask_table import dask_frame_rows

            X, y, sample_weight, frame_header = dask_frame_rows(
                X, y, sample_weight, y_numeric=y_numeric
            )
        self._labels = {"X": _label(X)}
        self.maker = _BatchMaker(self._labels, y_numeric, allow_nan)
        self._guards = []
        self.X = open_rows(X, "X")
        if allow_nan and isinstance(self.X, Table):
            self.X = self.X.with_nan()
        self._check_X()
        self.n_samples, self.n_features = (int(s) for s in self.X.shape)
        self.maker.expect("X", X, self.X)
        # What scikit-learn's validate_data takes the number and names of the
        # features from, reading no row.
        if isinstance(self.X, Table):
            self.header = self.X.header()
        elif frame_header is not None:
            self.header = frame_header
        else:
            self.header = _npy_header(X, self.X)
            if self.header is None:
                self.header = X if hasattr(X, "columns") else self.X
        self._guard(X, self.X, "X")
        self.y_numeric = y_numeric
        self.y = None if y is None else self._open_aligned(y, "y", (1, 2))
        self.sample_weight = self._open_weights(sample_weight)
        n_columns = self.n_features
        if self.y is not None and len(self.y.shape) == 2:
            n_columns += self.y.shape[1]
        elif self.y is not None:
            n_columns += 1
        self.batch_size = resolve_batch_size(batch_size, n_columns)
        if check_batch_size(batch_size) == "auto":
            self.batch_size = _balanced(self.n_samples, self.batch_size)
        self.n_batches = -(-self.n_samples // self.batch_size)
        self._validated = set()
        # Batches whose X's check for NaN and infinity was deferred.
        self._deferred = set()
        self.is_dask = _is_dask(self.X)
        if self.is_dask:
            # The chunks of rows are the batches, computed where they live.
            self.X = self.X.rechunk({1: -1})
            chunks = self.X.chunks[0]
            self._starts = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
            self.n_batches = len(chunks)
            self.batch_size = int(max(chunks))

    # -- opening -----------------------------------------------------------

    def _where(self, name="X"):
        return self.maker.where(name)

    def _guard(self, data, arr, name):
        """Watch the file under ``arr`` for changes while its rows are read."""
        if isinstance(arr, LazyArray):
            guard = arr.guard
            if guard is not None:
                guard = guard.renamed(name)
                # The view mapped the file when it was opened, maybe long ago.
                guard.check("before any row was read", during="since it was opened")
        else:
            label = as_path(data) if isinstance(data, _PATH_TYPES) else None
            guard = FileGuard.of(arr, name, label)
        if guard is not None:
            self._guards.append(guard)

    def _check_files(self, when):
        for guard in self._guards:
            guard.check(when)

    def _check_X(self):
        X = self.X
        _check_declared_shape(X.shape, "X", self._where())
        if len(X.shape) != 2:
            raise ValueError(
                f"Expected a 2-D X (rows x features), got a {len(X.shape)}-D array of "
                f"shape {X.shape}{self._where()}. Reshape your data with "
                "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a "
                "single sample."
            )
        _check_dtype(X.dtype, "X", self._where())
        n_samples, n_features = X.shape
        if n_samples < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={tuple(X.shape)}) while a "
                f"minimum of 1 is required{self._where()}."
            )
        if n_features < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a "
                f"minimum of 1 is required{self._where()}."
            )

    def _open_aligned(self, data, name, ndims):
        self._labels[name] = _label(data)
        where = self._where(name)
        numeric = name != "y" or self.y_numeric
        arr = open_rows(data, name, numeric=numeric)
        if sp.issparse(arr):
            raise ValueError(f"{name} must be dense, got a sparse matrix")
        _check_declared_shape(arr.shape, name, where)
        if len(arr.shape) not in ndims:
            raise ValueError(
                f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, got shape "
                f"{tuple(arr.shape)}{where}"
            )
        if arr.shape[0] != self.n_samples:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"[{self.n_samples}, {arr.shape[0]}]: {name} has {arr.shape[0]} "
                f"rows but X has {self.n_samples}{where}; they must be aligned "
                "row by row"
            )
        if numeric:
            _check_dtype(arr.dtype, name, where)
        self.maker.expect(name, data, arr)
        self._guard(data, arr, name)
        return arr

    def _open_weights(self, sample_weight):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Number):
            value = float(sample_weight)
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"sample_weight must be finite and non-negative, got {value}"
                )
            # Kept as a number: a batch's weights are made when it is read.
            return value
        return self._open_aligned(sample_weight, "sample_weight", (1,))

    # -- reading -----------------------------------------------------------

    def bounds(self, index):
        """Absolute row range ``(start, stop)`` of batch ``index``."""
        if not 0 <= index < self.n_batches:
            raise IndexError(
                f"batch {index} out of range: the source has {self.n_batches}"
            )
        if self.is_dask:
            return int(self._starts[index]), int(self._starts[index + 1])
        start = index * self.batch_size
        return start, min(start + self.batch_size, self.n_samples)

    def _rows(self, arr, start, stop):
        if isinstance(arr, LazyArray):
            # Its file is among the source's guards, checked by the caller.
            return arr._read_rows(start, stop)
        if sp.issparse(arr):
            return arr[start:stop].toarray()
        return np.asarray(arr[start:stop])

    def read(self, index, *, defer_finite=False):
        """Read and validate batch ``index`` (see :meth:`_BatchMaker.make`).

        With ``defer_finite``, the check of ``X`` for NaN and infinity is left
        to :meth:`check_deferred`, for a caller whose statistics of the batch
        show whether it holds any (one read of the rows less).
        """
        start, stop = self.bounds(index)
        # A batch read again in a later pass of the same call (EM) was
        # checked already; the files are opened read-only.
        validate = index not in self._validated
        if self._guards:
            self._check_files(
                f"before batch {index} (rows {start}-{stop - 1}) was read"
            )
        X = self._rows(self.X, start, stop)
        y = None if self.y is None else self._rows(self.y, start, stop)
        w = self.sample_weight
        if w is not None and not isinstance(w, float):
            w = self._rows(w, start, stop)
        finite = ()
        if validate:
            # Rows a table decoded and checked already are not checked again.
            finite = {
                name
                for name, arr in (("X", self.X), ("y", self.y))
                if isinstance(arr, Table) and arr._known_finite(start, stop)
            }
            if defer_finite and "X" not in finite and not self.maker.allow_nan:
                finite.add("X")
                self._deferred.add(index)
        batch = self.maker.make(index, start, stop, X, y, w, validate, finite)
        self._validated.add(index)
        if index in self._deferred and isinstance(self.X, np.memmap):
            _touch_pages(batch.X)
        return batch

    def check_deferred(self, batch):
        """Check for NaN and infinity the ``X`` of a batch read with
        ``defer_finite`` (see :meth:`read`); nothing for another batch.

        Raises
        ------
        ValueError
            The error :meth:`read` would have raised: the first row with a
            NaN or an infinity, its batch and file.
        """
        if batch.index in self._deferred:
            self.maker.finite(batch.X, "X", batch.index, batch.start, batch.stop)

    def weights_of(self, rows):
        """Validated sample weights of the rows ``rows`` (ones if there are none).

        Only those rows are read. Used before any batch is read (weighted
        samples for an initialization), so the weights are checked here as a
        batch's are: the first bad row (lowest index) is named, with its
        batch.

        Raises
        ------
        ValueError
            If a weight is NaN, infinite or negative.
        """
        rows = np.asarray(rows, dtype=np.intp)
        if self.sample_weight is None:
            return np.ones(rows.shape[0])
        if isinstance(self.sample_weight, float):
            return np.full(rows.shape[0], self.sample_weight)
        self._check_files(f"before the weights of {rows.shape[0]} rows were read")
        if isinstance(self.sample_weight, LazyArray):
            weights = self.sample_weight._take(rows)
        else:
            weights = self.sample_weight[rows]
        weights = np.asarray(weights)
        self.maker.check_block(
            weights, "sample_weight", rows.shape[0], f"sample of {rows.shape[0]} rows"
        )
        weights = weights.astype(np.float64, copy=False)
        bad = ~np.isfinite(weights) | (weights < 0)
        if bad.any():
            first = np.flatnonzero(rows == rows[bad].min())[0]
            row, value = int(rows[first]), weights[first]
            if np.isnan(value):
                what = "NaN"
            elif np.isinf(value):
                what = "infinity"
            else:
                what = f"a negative weight ({value})"
            raise self._invalid_row("sample_weight", what, row)
        return weights

    def _batch_of(self, row):
        """Index of the batch that holds the absolute row ``row``."""
        if self.is_dask:
            return int(np.searchsorted(self._starts, row, side="right")) - 1
        return row // self.batch_size

    def _invalid_row(self, name, what, row):
        """The error of a bad value of ``name`` at ``row``, read outside a batch."""
        index = self._batch_of(row)
        start, stop = self.bounds(index)
        return self.maker.invalid(name, what, row, index, start, stop)

    def dask_blocks(self, index):
        """Batch ``index`` as lazy dask blocks ``(X, y, sample_weight)``."""
        if not hasattr(self, "_dask_parts"):
            rows = (self.X.chunks[0],)
            parts = [(True, self.X.to_delayed().ravel())]
            for arr in (self.y, self.sample_weight):
                if _is_dask(arr):
                    arr = arr.rechunk(rows + tuple((-1,) * (arr.ndim - 1)))
                    parts.append((True, arr.to_delayed().ravel()))
                else:
                    parts.append((False, arr))
            self._dask_parts = parts
        start, stop = self.bounds(index)

        def part(lazy, values):
            if lazy:
                return values[index]
            if values is None or isinstance(values, float):
                return values
            return values[start:stop]

        return tuple(part(lazy, values) for lazy, values in self._dask_parts)

    def take(self, rows):
        """Read and validate the rows ``rows`` of ``X``, in the order given.

        Only those rows are read, in file order (stores such as h5py need
        increasing indices): a memory map touches their pages, a store is
        asked for them by index. Used for samples drawn across the whole
        source (initializations).

        Returns
        -------
        ndarray of shape (len(rows), n_features)
            float32 or float64 rows, C-contiguous.
        """
        rows = np.asarray(rows, dtype=np.intp).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_samples):
            raise IndexError(f"rows out of range for a source of {self.n_samples} rows")
        unique, back = np.unique(rows, return_inverse=True)
        self._check_files(f"before {unique.shape[0]} sampled rows were read")
        if isinstance(self.X, LazyArray):
            block = self.X._take(unique)
        elif sp.issparse(self.X):
            block = self.X[unique].toarray()
        elif hasattr(self.X, "oindex"):  # zarr
            block = np.asarray(self.X.oindex[unique])
        else:
            block = np.asarray(self.X[unique])
        self.maker.check_block(
            block, "X", unique.shape[0], f"sample of {unique.shape[0]} rows"
        )
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float64)
        block = np.ascontiguousarray(block)
        if block.dtype.kind == "f":
            if self.maker.allow_nan:
                rows = np.flatnonzero(np.isinf(block).any(axis=1))
                bad = rows[0] if rows.size else -1
            else:
                bad = first_nonfinite_row(block)
            if bad >= 0:
                what = "NaN" if np.isnan(block[bad]).any() else "infinity"
                raise self._invalid_row("X", what, int(unique[bad]))
        return block[back]

    @property
    def read_ahead(self):
        """Batches to read ahead of the one being worked on: 4 from a table
        of row groups or record batches, whose decoding is most of a pass's
        work (and two batches sharing a row group wait on one decoding), else
        2, so that a table's pass holds up to five batches at once."""
        decoded = isinstance(self.X, Table) and self._reads_concurrently()
        return 4 if decoded else 2

    def _reads_concurrently(self):
        """Whether every input's rows may be read by two threads at once
        (arrays, memory maps, row groups; not streams or unknown stores)."""
        return all(
            arr is None
            or (isinstance(arr, np.ndarray) and not self.is_dask)
            or getattr(arr, "reads_concurrently", False)
            for arr in (self.X, self.y, self.sample_weight)
        )

    def iter_batches(self, indices, *, prefetch=None, defer_finite=False):
        """Yield the batches ``indices`` in order, reading ahead on threads.

        While the caller works on one batch, the next ``prefetch`` batches
        (by default the source's ``read_ahead``: 2, or 4 from a table) are
        read and validated in the background (on one thread for a source read
        in order, a CSV or DuckDB stream), so that reading from disk overlaps
        computing. An error in a batch is raised when the caller
        reaches that batch. ``defer_finite`` is passed to :meth:`read`.
        """
        indices = list(indices)
        read = partial(self.read, defer_finite=True) if defer_finite else self.read
        if prefetch is None:
            prefetch = getattr(self, "read_ahead", 2)
        if prefetch < 1 or len(indices) <= 1:
            for index in indices:
                yield read(index)
            return
        remaining = iter(indices)
        # Batches read on as many threads as are read ahead where the source
        # allows it: decoding a Parquet row group then overlaps the copy of
        # the previous one into rows.
        threads = prefetch if self._reads_concurrently() else 1
        with ThreadPoolExecutor(
            threads, thread_name_prefix="sklearn_ooc-prefetch"
        ) as pool:
            pending = deque(pool.submit(read, i) for i in islice(remaining, prefetch))
            try:
                while pending:
                    batch = pending.popleft().result()
                    nxt = next(remaining, None)
                    if nxt is not None:
                        pending.append(pool.submit(read, nxt))
                    yield batch
            finally:
                for future in pending:
                    future.cancel()


def _is_pandas_frame(data):
    return type(data).__module__.startswith("pandas") and hasattr(data, "iloc")


def _is_polars_frame(data):
    return type(data).__module__.startswith("polars") and hasattr(data, "slice")


# Bytes a raw value takes in a batch of ColumnBatches, for batch_size="auto".
_RAW_VALUE_BYTES = 64


class ColumnBatches:
    """Rows of ``X`` batch by batch with their raw column values.

    For transformers that take any column type, as scikit-learn's encoders
    do: each batch is what the transformer would get from ``X[start:stop]``
    in memory, so that fitting on the batches and merging what each one
    teaches equals fitting on all the rows. A table (a
    :class:`~sklearn_ooc.data.Table`, a path to Parquet, CSV or Arrow files,
    a DuckDB relation) gives pandas DataFrames, as ``pandas.read_parquet``
    would (strings, categories decoded to their values whatever the
    dictionary of each row group, nulls as pandas reads them); a pandas or
    polars DataFrame gives its row slices; an array (an ndarray of objects
    or strings, a memory map, a ``.npy`` path, a LazyArray) its row slices.

    Parameters
    ----------
    X : Table, str, os.PathLike, DataFrame, ndarray, LazyArray or array-like \
            of shape (n_samples, n_features)
        The rows.
    batch_size : int or "auto", default="auto"
        Rows per batch; ``"auto"`` is about 64 MiB of raw values (counted
        as 64 bytes each: Python strings in a DataFrame).

    Attributes
    ----------
    header : object
        What scikit-learn's ``validate_data`` takes the number and names of
        the features from (no row is read).
    n_samples, n_features, batch_size, n_batches : int

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_ooc.data._source import ColumnBatches
    >>> frame = pd.DataFrame({"city": ["Oslo", "Rome", "Oslo"], "n": [1, 2, 3]})
    >>> source = ColumnBatches(frame, batch_size=2)
    >>> [b.X["city"].tolist() for b in source.iter_batches(range(source.n_batches))]
    [['Oslo', 'Rome'], ['Oslo']]
    """

    is_dask = False

    def __init__(self, X, *, batch_size="auto"):
        self.table = None
        self._guard = None
        if is_table_source(X):
            self.table = open_table(X)
            self.data = self.table
            self.header = self.table.header()
        elif isinstance(X, _PATH_TYPES):
            self.data = open_npy(X, name="X")
            self.header = self.data
            self._guard = FileGuard.of(self.data, "X", as_path(X))
        elif isinstance(X, LazyArray):
            self.data = X
            self.header = X
            self._guard = X.guard
        elif (
            _is_pandas_frame(X)
            or _is_polars_frame(X)
            or hasattr(X, "shape")
            or sp.issparse(X)
        ):
            self.data = X
            self.header = X
        else:
            # A list of rows: as scikit-learn reads it (strings as objects).
            options = dict(ensure_all_finite=False, ensure_min_samples=0)
            self.data = check_array(X, dtype=None, **options)
            if self.data.dtype.kind == "U":
                self.data = check_array(X, dtype=object, **options)
            self.header = self.data
        shape = tuple(int(n) for n in self.data.shape)
        self.n_samples = shape[0]
        self.n_features = shape[1] if len(shape) > 1 else 1
        if check_batch_size(batch_size) == "auto":
            # A raw value (a Python string in a DataFrame) takes several
            # times the 8 bytes of a float.
            batch_size = max(
                1, AUTO_BATCH_BYTES // (_RAW_VALUE_BYTES * self.n_features)
            )
        self.batch_size = resolve_batch_size(batch_size, self.n_features)
        self.n_batches = -(-self.n_samples // self.batch_size)

    def bounds(self, index):
        """Absolute row range ``(start, stop)`` of batch ``index``."""
        if not 0 <= index < self.n_batches:
            raise IndexError(
                f"batch {index} out of range: the source has {self.n_batches}"
            )
        start = index * self.batch_size
        return start, min(start + self.batch_size, self.n_samples)

    def where(self, start, stop):
        """Where the rows ``start:stop`` are, for messages."""
        rows = f"rows {start}-{stop - 1}"
        if self.table is not None:
            first = self.table.where(start)
            last = self.table.where(stop - 1)
            return f"{rows}, {first}" + ("" if last == first else f" to {last}")
        label = _label(self.data)
        return rows if label is None else f"{rows} of file {label}"

    def rows(self, start, stop):
        """The raw rows ``start:stop``."""
        data = self.data
        if self._guard is not None:
            self._guard.check(f"before rows {start}-{stop - 1} were read")
        if self.table is not None:
            return self.table.read_frame(start, stop)
        if _is_pandas_frame(data):
            return data.iloc[start:stop]
        if _is_polars_frame(data):
            return data.slice(start, stop - start)
        if isinstance(data, LazyArray):
            return data._read_rows(start, stop)
        if sp.issparse(data):
            return data[start:stop]
        return np.asarray(data[start:stop])

    def read(self, index):
        """Batch ``index``: a :class:`Batch` whose ``X`` holds the raw rows."""
        start, stop = self.bounds(index)
        return Batch(index, start, stop, self.rows(start, stop))

    # Read ahead on a thread while the caller counts, as BatchSource does.
    def _reads_concurrently(self):
        data = self.data
        return (
            isinstance(data, np.ndarray)
            or _is_pandas_frame(data)
            or getattr(data, "reads_concurrently", False)
        )

    iter_batches = BatchSource.iter_batches
