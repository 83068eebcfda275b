"""LazyArray: views of rows on disk that read nothing until asked."""

from __future__ import annotations

import contextlib
import os
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from ._npy import FileGuard, as_path, open_npy, open_regular, read_columns
from ._progress import Progress

# What a view inherits from the array it was made from, unless told.
_INHERIT = object()


def _reopen(kind, spec):
    """Open the base array of a pickled LazyArray again."""
    if kind == "npy":
        return open_npy(spec)
    if kind == "memmap":
        filename, dtype, offset, shape, order = spec
        f, _ = open_regular(os.fspath(filename), "data")
        with f:
            return np.memmap(
                f, dtype=dtype, mode="r", offset=offset, shape=shape, order=order
            )
    if kind == "h5py":
        import h5py

        filename, name = spec
        return h5py.File(filename, "r")[name]
    return spec


def _reference(base, path):
    """How a base array pickles: a file reference when there is one."""
    if path is not None:
        return "npy", os.fspath(path)
    if isinstance(base, np.memmap) and base.filename is not None:
        if base.base is None or base.offset is None:  # pragma: no cover
            return "array", np.asarray(base)
        order = "F" if base.flags.f_contiguous and not base.flags.c_contiguous else "C"
        return "memmap", (base.filename, base.dtype.str, base.offset, base.shape, order)
    module = type(base).__module__ or ""
    if module.startswith("h5py"):
        return "h5py", (base.file.filename, base.name)
    return "array", base


# The methods of an estimator that check the names of the features.
_NAMED_METHODS = frozenset(
    {
        "decision_function",
        "predict",
        "mahalanobis",
        "predict_joint_log_proba",
        "predict_log_proba",
        "predict_proba",
        "score_samples",
        "transform",
    }
)


class _NamedRows:
    """An estimator's method of a batch of rows, given as a DataFrame of the
    columns' names when the estimator was fitted with names."""

    def __init__(self, func, names):
        self.func = func
        self.names = names

    def __call__(self, block):
        if getattr(self.func.__self__, "feature_names_in_", None) is not None:
            import pandas as pd

            block = pd.DataFrame(block, columns=list(self.names), copy=False)
        out = self.func(block)
        if hasattr(out, "columns") and hasattr(out, "to_numpy"):
            out = out.to_numpy()  # an estimator set to give DataFrames
        return out


class _Runs:
    """Increasing row numbers kept as runs of consecutive rows.

    The training rows of a K-fold split are two runs: kept as such, the
    selection takes a few numbers instead of 8 bytes a row, pickles small,
    and reads its rows by slices (views of a memory map, no copy) rather
    than by fancy indexing.
    """

    def __init__(self, starts, stops):
        self.starts = np.asarray(starts, dtype=np.intp)
        self.stops = np.asarray(stops, dtype=np.intp)
        self.offsets = np.concatenate([[0], np.cumsum(self.stops - self.starts)])

    # Fewer runs than this fraction of the rows: worth keeping as runs.
    DENSITY = 1 / 16

    @classmethod
    def of(cls, index):
        """``index`` (increasing) as runs, a range, or itself when it has too
        many runs to gain anything."""
        if index.shape[0] == 0:
            return index
        breaks = np.flatnonzero(index[1:] != index[:-1] + 1) + 1
        if breaks.shape[0] == 0:
            return range(int(index[0]), int(index[-1]) + 1)
        if breaks.shape[0] + 1 > max(1, cls.DENSITY * index.shape[0]):
            return index
        starts = index[np.concatenate([[0], breaks])]
        stops = index[np.concatenate([breaks - 1, [index.shape[0] - 1]])] + 1
        return cls(starts, stops)

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self[np.arange(start, stop, step)]
            stop = max(start, stop)
            first = int(np.searchsorted(self.offsets, start, side="right")) - 1
            last = int(np.searchsorted(self.offsets, stop, side="left"))
            starts = self.starts[first:last].copy()
            stops = self.stops[first:last].copy()
            if starts.shape[0] == 0:
                return range(0)
            starts[0] += start - self.offsets[first]
            stops[-1] -= self.offsets[last] - stop
            if starts.shape[0] == 1:
                return range(int(starts[0]), int(stops[0]))
            return _Runs(starts, stops)
        key = np.asarray(key, dtype=np.intp)
        key = np.where(key < 0, key + len(self), key)
        if key.size and (key.min() < 0 or key.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        run = np.searchsorted(self.offsets, key, side="right") - 1
        return self.starts[run] + (key - self.offsets[run])

    def read(self, base):
        """The rows of ``base`` in these runs, one slice each."""
        return np.concatenate(
            [
                np.asarray(base[a:b])
                for a, b in zip(self.starts, self.stops, strict=True)
            ]
        )

    def __eq__(self, other):
        return (
            isinstance(other, _Runs)
            and np.array_equal(self.starts, other.starts)
            and np.array_equal(self.stops, other.stops)
        )


class LazyArray:
    """A lazy array of rows from a ``.npy`` file, a memory map or a store.

    The rows of a 2-D array (``X``), or the values of a 1-D one (``y``,
    ``sample_weight``), so that all of a fit's inputs can stay on disk.

    Indexing returns another LazyArray and reads nothing: slices, integer
    arrays, boolean masks, scikit-learn's ``X[indices, ...]``, and column
    selections. Rows are read when asked for, by the data layer batch by
    batch (in file order), by :meth:`take`, or all at once by
    ``np.asarray(view)``. :meth:`map` attaches a function applied to every
    batch of rows when it is read (a transformer of a pipeline).

    A LazyArray pickles as a reference to its file and its row selection, so
    that joblib workers (``GridSearchCV(n_jobs=2)``) receive no copy of the
    data: only the selection (8 bytes a selected row, or nothing for a slice)
    travels. A view of an in-memory array pickles the array.

    Parameters
    ----------
    base : str, os.PathLike, ndarray, numpy.memmap, h5py or zarr dataset
        The rows; a path names a ``.npy`` file, opened as a read-only memory
        map.

    Examples
    --------
    >>> import numpy as np, os, pickle, tempfile
    >>> from sklearn_ooc import open_array
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(20.0).reshape(10, 2))
    >>> X = open_array(path)
    >>> view = X[[7, 2, 5], ...]
    >>> view.shape, type(view).__name__
    ((3, 2), 'LazyArray')
    >>> np.asarray(view)[:, 0]
    array([14.,  4., 10.])
    >>> len(pickle.dumps(view)) < 1000
    True
    """

    def __init__(
        self,
        base,
        *,
        _rows=None,
        _columns=None,
        _maps=(),
        _path=None,
        _guard=_INHERIT,
    ):
        if isinstance(base, (str, bytes, os.PathLike)):
            _path = as_path(base)
            base = open_npy(_path, name="data")
        if len(base.shape) not in (1, 2):
            raise ValueError(
                "a LazyArray holds rows of a 2-D array (X) or the values of a "
                f"1-D one (y, sample_weight), got shape {tuple(base.shape)}"
            )
        self._base = base
        self._path = _path
        if _guard is _INHERIT:
            # The file's state now: a later change makes its rows unsafe to
            # read through this map (a shorter file kills the process).
            _guard = FileGuard.of(base, "data", _path)
        self._guard = _guard
        self._rows_sel = range(base.shape[0]) if _rows is None else _rows
        self._columns = _columns
        self._maps = tuple(_maps)
        self._mapped_shape = None

    @property
    def _out(self):
        """Shape of a mapped row and dtype (one row is read to find them)."""
        if not self._maps:
            return None
        if self._mapped_shape is None:
            probe = self.rows(0, 1) if len(self) else self._probe()
            self._mapped_shape = (probe.shape[1:], probe.dtype)
        return self._mapped_shape

    # -- what it looks like ---------------------------------------------------

    def __len__(self):
        return len(self._rows_sel)

    @property
    def shape(self):
        if self._out is not None:
            return (len(self),) + tuple(self._out[0])
        if self._columns is None:
            return (len(self),) + tuple(self._base.shape[1:])
        return (
            len(self),
            len(range(self._base.shape[1])[self._columns])
            if isinstance(self._columns, slice)
            else len(self._columns),
        )

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def dtype(self):
        if self._out is not None:
            return self._out[1]
        return np.dtype(self._base.dtype)

    @property
    def path(self):
        """The ``.npy`` file behind the view, if it was opened from one."""
        return self._path

    @property
    def reads_concurrently(self):
        """Whether two threads may read rows of the view at once."""
        return isinstance(self._base, np.ndarray)

    @property
    def guard(self):
        """The :class:`FileGuard` of the mapped file behind the view, or None."""
        return self._guard

    def __repr__(self):
        return (
            f"LazyArray(shape={self.shape}, dtype={self.dtype}, from "
            f"{self._origin()!r})"
        )

    def _origin(self):
        """The file, or what the store says it is (an ndarray by its type)."""
        base = self._base
        if self._path:
            return str(self._path)
        if isinstance(base, np.ndarray) or type(base).__repr__ is object.__repr__:
            return f"{type(base).__name__} object"
        text = repr(base)
        return text if len(text) <= 100 else text[:97] + "..."

    # -- views ----------------------------------------------------------------

    def _view(self, rows=None, columns=None, maps=None):
        return LazyArray(
            self._base,
            _rows=self._rows_sel if rows is None else rows,
            _columns=self._columns if columns is None else columns,
            _maps=self._maps if maps is None else maps,
            _path=self._path,
            _guard=self._guard,
        )

    def _select_rows(self, key):
        current = self._rows_sel
        if isinstance(key, slice):
            return current[key]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (len(current),):
                raise IndexError(
                    f"boolean index of shape {key.shape} for {len(current)} rows"
                )
            key = np.flatnonzero(key)
        if key.dtype.kind not in "iu":
            raise IndexError(f"rows must be indexed by integers, got {key.dtype}")
        if key.size and (key.min() < -len(current) or key.max() >= len(current)):
            raise IndexError(f"row index out of range for {len(current)} rows")
        key = np.where(key < 0, key + len(current), key).astype(np.intp, copy=False)
        if isinstance(current, range):
            index = current.start + current.step * key
        else:
            index = current[key]
        if index.shape[0] > 1 and (index[1:] > index[:-1]).all():
            return _Runs.of(index)
        return index

    def __getitem__(self, key):
        columns = None
        if isinstance(key, tuple):
            whole = key
            parts = [k for k in key if k is not Ellipsis]
            if len(parts) > 2 or (len(parts) == 2 and key[0] is Ellipsis):
                raise IndexError(f"unsupported index {key!r}")
            if len(parts) == 1 and key[0] is Ellipsis and len(self._base.shape) == 2:
                # X[..., columns]: every row, those columns.
                parts = [slice(None), parts[0]]
            key = parts[0] if parts else slice(None)
            if len(parts) == 2:
                if len(self._base.shape) == 1:
                    raise IndexError(f"too many indices for a 1-D LazyArray: {whole!r}")
                columns = parts[1]
        if isinstance(key, Integral):
            row = self._select_rows(np.array([key]))
            return (
                self._view(rows=row).rows(0, 1)[0]
                if columns is None
                else (self._view(rows=row).rows(0, 1)[0][columns])
            )
        view = self._view(rows=self._select_rows(key))
        if columns is None or (isinstance(columns, slice) and columns == slice(None)):
            return view
        if self._maps:
            raise IndexError("select columns before mapping a function")
        if self._columns is not None:
            raise IndexError("columns were selected already")
        if not isinstance(columns, slice):
            columns = np.atleast_1d(np.asarray(columns))
            if columns.dtype == bool:
                columns = np.flatnonzero(columns)
        return view._view(columns=columns)

    def map(self, func):
        """A view whose rows are ``func(rows)``, applied batch by batch.

        A method of an estimator (``model.predict``, ``model.transform``)
        mapped over columns that have names (a table's, or those
        ``convert`` wrote beside a ``.npy`` file) gets each batch as a
        DataFrame of these names when the estimator was fitted with names:
        ``view.map(model.predict)`` checks them as ``model.predict(view)``
        does, rather than warn that the rows have none.
        """
        if (
            not self._maps
            and getattr(func, "__name__", None) in _NAMED_METHODS
            and hasattr(func, "__self__")
        ):
            names = self._column_names()
            if names is not None:
                func = _NamedRows(func, tuple(names))
        return self._view(maps=self._maps + (func,))

    def _column_names(self):
        """The names of the view's columns, if it has them."""
        if self._path is None or len(self._base.shape) != 2:
            return None
        names = read_columns(self._path, n_columns=int(self._base.shape[1]))
        if names is None or self._columns is None:
            return names
        return np.asarray(names, dtype=object)[self._columns].tolist()

    # -- reading --------------------------------------------------------------

    def _read_base(self, index):
        """Rows ``index`` (any order, repeats allowed) of the base, read sorted."""
        index = np.asarray(index, dtype=np.intp)
        if index.shape[0] < 2 or (index[1:] > index[:-1]).all():
            # Already in file order (a fold of KFold): one copy, not two.
            unique, back = index, None
        else:
            unique, back = np.unique(index, return_inverse=True)
        if hasattr(self._base, "oindex"):  # zarr
            block = self._base.oindex[unique]
        else:
            block = self._base[unique]
        block = np.asarray(block)
        return block if back is None else block[back]

    def _finish(self, block):
        if self._columns is not None:
            block = block[:, self._columns]
        for func in self._maps:
            block = func(block)
        return block

    def _probe(self):
        return self._finish(
            np.zeros((1,) + tuple(self._base.shape[1:]), self._base.dtype)
        )

    def _check_file(self, what):
        if self._guard is not None:
            self._guard.check(f"before {what} were read", during="since it was opened")

    def rows(self, start, stop):
        """Rows ``start:stop`` of the view, read now.

        Raises
        ------
        ValueError
            If the file behind the view changed since it was opened.
        """
        self._check_file(f"rows {start}-{stop - 1} of the view")
        return self._read_rows(start, stop)

    def _read_rows(self, start, stop):
        """:meth:`rows` without the check of the file (done by the caller)."""
        selected = self._rows_sel[start:stop]
        if isinstance(selected, _Runs):
            block = selected.read(self._base)
        elif isinstance(selected, range):
            if len(selected) == 0:
                block = np.asarray(self._base[0:0])
            elif selected.step > 0:
                block = np.asarray(
                    self._base[selected.start : selected.stop : selected.step]
                )
            else:
                # Read upwards (a stop of -1 would mean the last row, and
                # stores refuse negative steps), then reverse.
                block = np.asarray(
                    self._base[selected[-1] : selected[0] + 1 : -selected.step]
                )[::-1]
        else:
            block = self._read_base(selected)
        return self._finish(block)

    def take(self, rows):
        """Rows ``rows`` of the view (any order), read now.

        Raises
        ------
        ValueError
            If the file behind the view changed since it was opened.
        """
        rows = np.asarray(rows, dtype=np.intp)
        self._check_file(f"{rows.shape[0]} rows of the view")
        return self._take(rows)

    def _take(self, rows):
        """:meth:`take` without the check of the file (done by the caller)."""
        rows = np.asarray(rows, dtype=np.intp)
        if isinstance(self._rows_sel, range):
            index = self._rows_sel.start + self._rows_sel.step * rows
        else:
            index = np.asarray(self._rows_sel[rows])
        return self._finish(self._read_base(index))

    def __array__(self, dtype=None, copy=None):
        block = self.rows(0, len(self))
        return block if dtype is None else block.astype(dtype, copy=False)

    # -- writing --------------------------------------------------------------

    def to_npy(self, path, *, batch_size="auto", dtype=None, verbose=0):
        """Write the rows of the view to a ``.npy`` file, one batch at a time.

        The rows are those ``np.asarray(view)`` would give (after the view's
        row and column selections and its mapped functions), but only one
        batch of them is held at a time: a model's outputs larger than memory
        go to disk with ``view.map(model.transform).to_npy(path)``. The rows
        go to a temporary file next to ``path``, renamed into place when all
        are written: on any error (a failing function, a bad row, a full
        disk, an interruption) the temporary file goes, and a file that was
        at ``path`` is left as it was.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.npy`` file to write (replaced if it exists). It may not be
            the file the view reads.
        batch_size : int or "auto", default="auto"
            Rows read, mapped and written at a time; ``"auto"`` is about
            64 MiB of float64 rows (of the wider of the view's input and
            output rows).
        dtype : dtype, default=None
            Element type of the file; ``None`` keeps the view's. With
            ``None``, a batch that the view's dtype cannot hold without loss
            (a mapped function that changes type between batches) is an
            error.
        verbose : int, default=0
            0 silent; 1 or more shows a progress bar over the rows (on
            standard error).

        Returns
        -------
        LazyArray
            The written file, opened as a read-only memory map.

        Raises
        ------
        ValueError
            If a column of a table holds no numbers (the error names it), if
            the view holds Python objects (a function returning them) and no
            ``dtype`` is given, if a mapped function returns other rows than
            it was given, or if ``path`` is the file the view reads.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np, pandas as pd
        >>> from sklearn_ooc import open_table
        >>> from sklearn_ooc.decomposition import OOCPCA
        >>> folder = tempfile.mkdtemp()
        >>> rng = np.random.default_rng(0)
        >>> frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> frame.to_parquet(os.path.join(folder, "big.parquet"))
        >>> T = open_table(os.path.join(folder, "big.parquet"))
        >>> model = OOCPCA(n_components=2).fit(T)
        >>> Z = T.map(model.transform).to_npy(
        ...     os.path.join(folder, "Z.npy"), batch_size=32)
        >>> Z.shape
        (100, 2)
        >>> np.allclose(np.load(os.path.join(folder, "Z.npy")), model.transform(T))
        True
        """
        from ._npy_writer import NpyWriter, check_outputs
        from ._source import resolve_batch_size

        self._check_writable(dtype)
        n = len(self)
        shape = tuple(self.shape[1:])
        target = self.dtype if dtype is None else np.dtype(dtype)
        if target.hasobject:
            raise ValueError(
                f"the rows of {self!r} are Python objects, which a .npy file holds "
                "only pickled; pass dtype= (a number or string type) to to_npy"
            )
        width = max(int(np.prod(shape)), int(np.prod(self._unmapped_shape()[1:])))
        batch_size = resolve_batch_size(batch_size, width)
        check_outputs([path], self._files(), overwrite=True)
        progress = _progress(verbose, n, "to_npy")
        with NpyWriter(path, (n,) + shape, target) as out, progress as bar:
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                block = self.rows(start, stop)
                block = _check_written(block, start, stop, shape, target, dtype is None)
                out.write(block)
                del block
                bar.update(stop - start)
        return LazyArray(path)

    def to_parquet(self, path, *, columns=None, batch_size="auto", verbose=0):
        """Write the rows of the view to a Parquet file, one batch at a time.

        As :meth:`to_npy`, with the same guarantees (one batch held at a
        time; on any error nothing is left and a file at ``path`` is kept as
        it was), for readers that want Parquet: each batch is a row group.
        A :class:`~sklearn_ooc.data.Table` with no function mapped over its
        rows is written as its source holds it (strings, categories decoded
        to their values, nulls); other views are written as the columns of
        their rows (one column for a 1-D view): numbers, or strings for
        Python objects (the labels of a classifier fitted on strings).

        Parameters
        ----------
        path : str or os.PathLike
            The Parquet file to write (replaced if it exists). It may not be a
            file the view reads.
        columns : list of str, default=None
            Names of the file's columns; by default the table's own (a 1-D
            Table: its name), else ``"x0"``, ``"x1"``, ... (``"y"`` for a
            1-D view). ``model.get_feature_names_out()`` names the columns
            of a transformer's outputs.
        batch_size : int or "auto", default="auto"
            Rows read, mapped and written at a time (a row group each).
        verbose : int, default=0
            0 silent; 1 or more shows a progress bar over the rows.

        Returns
        -------
        Table
            The written file, opened with :func:`~sklearn_ooc.open_table`.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_ooc import LazyArray
        >>> path = os.path.join(tempfile.mkdtemp(), "out.parquet")
        >>> view = LazyArray(np.arange(10.0).reshape(5, 2)).map(lambda b: b * 2)
        >>> T = view.to_parquet(path, columns=["a", "b"], batch_size=2)
        >>> T.columns, T.shape
        (['a', 'b'], (5, 2))
        >>> np.asarray(T[:, ["b"]])[:, 0]
        array([ 2.,  6., 10., 14., 18.])
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from ._npy_writer import atomic_path, check_outputs
        from ._source import resolve_batch_size
        from ._table import open_table

        n = len(self)
        raw = self._arrow_rows(0, 0)
        if raw is not None:
            names = list(raw.column_names)
            shape, dtype = None, None
            width = len(names)
        else:
            shape, dtype = tuple(self.shape[1:]), self.dtype
            if len(shape) > 1:
                raise ValueError(
                    f"the rows of {self!r} have shape {shape}: a Parquet file holds "
                    "the rows of a 1-D or 2-D view; map a function that returns "
                    "them first"
                )
            width = shape[0] if shape else 1
            names = [f"x{j}" for j in range(width)] if shape else [self._name() or "y"]
        if columns is not None:
            columns = [str(c) for c in columns]
            if len(columns) != width or len(set(columns)) != width:
                raise ValueError(
                    f"columns={columns!r}: {width} distinct names are needed, one a "
                    "column of the view"
                )
            names = columns
        if raw is not None:
            schema = raw.rename_columns(names).schema
        else:
            # Python objects are the labels of a classifier fitted on strings.
            typ = pa.string() if dtype.hasobject else pa.from_numpy_dtype(dtype)
            schema = pa.schema([(name, typ) for name in names])
        batch_size = resolve_batch_size(batch_size, width)
        check_outputs([path], self._files(), overwrite=True)
        progress = _progress(verbose, n, "to_parquet")
        with atomic_path(path) as tmp_path, progress as bar:
            writer = pq.ParquetWriter(tmp_path, schema)
            try:
                for start in range(0, n, batch_size):
                    stop = min(n, start + batch_size)
                    if raw is not None:
                        table = self._arrow_rows(start, stop).rename_columns(names)
                    else:
                        block = self.rows(start, stop)
                        block = _check_written(block, start, stop, shape, dtype, True)
                        block = block.astype(dtype, copy=False).reshape(len(block), -1)
                        table = _arrow_columns(pa, block, schema, start, stop)
                    writer.write_table(table)
                    bar.update(stop - start)
            except BaseException:
                with contextlib.suppress(Exception):
                    writer.close()
                raise
            writer.close()
        return open_table(path)

    def _arrow_rows(self, start, stop):
        """Rows ``start:stop`` as an Arrow table of raw values, or None when
        the view holds numbers (an array, or a table with a mapped function)."""
        return None

    def _name(self):
        """The name of the values of a 1-D view, if it has one."""
        return None

    def _check_writable(self, dtype):
        """Raise if the view's values cannot be written as ``dtype``."""

    def _unmapped_shape(self):
        """The shape of the view's rows before its mapped functions."""
        return self._view(maps=()).shape

    def _files(self):
        """The files the view reads (that writing must not replace)."""
        files = [] if self._path is None else [self._path]
        filename = getattr(self._base, "filename", None)
        if isinstance(self._base, np.memmap) and filename is not None:
            files.append(filename)
        return files

    # -- pickling -------------------------------------------------------------

    def __getstate__(self):
        return {
            "base": _reference(self._base, self._path),
            "rows": self._rows_sel,
            "columns": self._columns,
            "maps": self._maps,
            "path": self._path,
        }

    def __setstate__(self, state):
        kind, spec = state["base"]
        self.__init__(
            _reopen(kind, spec),
            _rows=state["rows"],
            _columns=state["columns"],
            _maps=state["maps"],
            _path=state["path"],
        )


def _progress(verbose, total, desc):
    """Progress over ``total`` rows on standard error (a bar on a terminal,
    plain lines elsewhere), or nothing."""
    return Progress(total, desc, mode="auto" if verbose and total > 0 else "off")


def _check_written(block, start, stop, shape, dtype, exact):
    """``block`` as an array; raise unless it holds rows ``start:stop`` of
    ``shape[1:]`` that ``dtype`` holds (without loss when ``exact``).

    A sparse matrix (a one-hot encoder's batch) is made dense, one batch at
    a time.
    """
    if sp.issparse(block):
        block = block.toarray()
    rows = getattr(block, "shape", (None,))[:1]
    if not isinstance(block, np.ndarray) or rows != (stop - start,):
        got = (
            f"{type(block).__name__} of shape {getattr(block, 'shape', None)}"
            if not isinstance(block, np.ndarray)
            else f"{block.shape[0]} rows"
        )
        raise ValueError(
            f"rows {start}-{stop - 1} of the view: the mapped function returned "
            f"{got} for {stop - start} rows; a function mapped over rows must "
            "return an array of one row per row"
        )
    if block.shape[1:] != shape:
        raise ValueError(
            f"rows {start}-{stop - 1} of the view have shape {block.shape[1:]}, "
            f"the first row had {shape}"
        )
    if exact and block.dtype != dtype and not np.can_cast(block.dtype, dtype, "safe"):
        raise ValueError(
            f"rows {start}-{stop - 1} of the view are {block.dtype}, which the "
            f"file's {dtype} (the type of its first row) cannot hold exactly; map "
            "a function that returns one type, or give to_npy a dtype="
        )
    return block


def _arrow_columns(pa, block, schema, start, stop):
    """The columns of ``block`` (rows ``start:stop``) as an Arrow table."""
    try:
        arrays = [
            pa.array(block[:, j], type=field.type) for j, field in enumerate(schema)
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"rows {start}-{stop - 1} of the view: {exc}. A Parquet column of "
            "Python objects holds strings; map a function that returns numbers "
            "or strings"
        ) from exc
    return pa.Table.from_arrays(arrays, schema=schema)


def open_array(source):
    """Open an array on disk as a :class:`LazyArray`, reading nothing.

    Parameters
    ----------
    source : str, os.PathLike, numpy.memmap, h5py or zarr dataset
        A ``.npy`` path (opened as a read-only memory map) or an array store.

    Returns
    -------
    LazyArray
        The whole array, lazily.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc import open_array
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.ones((4, 3)))
    >>> open_array(path)  # doctest: +ELLIPSIS
    LazyArray(shape=(4, 3), dtype=float64, from '...X.npy')
    """
    if isinstance(source, LazyArray):
        return source
    return LazyArray(source)
