"""Lazy tables: Parquet, CSV, Arrow IPC, DuckDB and DataFrames, read by rows.

A :class:`Table` is a :class:`~sklearn_ooc.data.LazyArray` whose base is some
columns of a *backend*: the object that knows one kind of source and reads
rows ``start:stop`` (or sorted rows) of some of its columns as Arrow data.

Random-access backends (Parquet row groups, Arrow IPC record batches, frames
in memory) read only the pieces that hold the rows asked for; streaming
backends (CSV, DuckDB) keep a cursor that moves forward through the stream and
starts it again when rows before it are asked for.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import threading
from collections import OrderedDict
from concurrent.futures import Future
from numbers import Integral

import numpy as np

from .._kernels import rows_from_columns
from ._lazy import LazyArray
from ._parquet import Unsupported, chunk_plan, leaf_positions, read_chunks

#: File suffixes read as tables, and their format.
TABLE_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".feather": "arrow",
    ".arrow": "arrow",
    ".ipc": "arrow",
}

# pandas' default NA strings (pandas._libs.parsers.STR_NA_VALUES).
PANDAS_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

_CSV_BLOCK_BYTES = 4 << 20
# Decoded pieces kept for the next reads (the features and the target of a
# batch, or the next batch, often come from the same row group): the most
# recent always, older ones while they all hold fewer bytes than this.
_PIECE_CACHE_BYTES = 256 << 20
# Arrays of rows kept for reuse by a table's later reads (see _Spares), at
# most. The spares grow to the arrays a pass holds at once: on two threads,
# 4 batches read ahead, 3 awaited by the engine and 1 or 2 in the caller's
# hands. Fewer (4), and a held array is dropped for a fresh one, which
# faults its pages in: 15 fresh arrays for 23 batches, 6 % of a
# StreamingRidge fit from Parquet.
_SPARE_ARRAYS = 16


def _pyarrow():
    try:
        import pyarrow
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "reading Parquet, CSV, Arrow and DuckDB tables needs pyarrow: "
            "pip install pyarrow"
        ) from exc
    return pyarrow


def _is_glob(text):
    return any(c in text for c in "*?[")


def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()


def is_table_path(data):
    """Whether the path ``data`` names a table.

    A file named ``.parquet``, ``.csv``, ``.feather``... (existing or not), or
    a directory or glob pattern that holds such files; other paths are left
    to the ``.npy`` reader (and its errors).
    """
    if isinstance(data, bytes):
        data = os.fsdecode(data)
    if not isinstance(data, (str, os.PathLike)):
        return False
    path = os.fspath(data)
    if _suffix(path) in TABLE_SUFFIXES:
        return True
    if os.path.isdir(path):
        for _, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            if any(
                _suffix(n) in TABLE_SUFFIXES and not n.startswith((".", "_"))
                for n in names
            ):
                return True
        return False
    if _is_glob(path) and not os.path.exists(path):
        return any(_suffix(p) in TABLE_SUFFIXES for p in glob.iglob(path))
    return False


def is_table_source(data):
    """Whether ``data`` is read through :func:`open_table` by the data layer."""
    if isinstance(data, Table):
        return True
    if isinstance(data, (str, bytes, os.PathLike)):
        return is_table_path(data)
    module = type(data).__module__
    if module.startswith("dask") and hasattr(data, "divisions"):
        return hasattr(data, "columns")  # a Dask DataFrame, not a Series
    return module.startswith(("duckdb", "_duckdb")) and hasattr(data, "aggregate")


def _numpy_dtype(pa, typ):
    """The NumPy dtype a column of Arrow type ``typ`` reads as (None: not numbers)."""
    t = pa.types
    if t.is_boolean(typ):
        return np.dtype(bool)
    if t.is_integer(typ) or t.is_floating(typ):
        return np.dtype(typ.to_pandas_dtype())
    if t.is_decimal(typ) or t.is_null(typ):
        return np.dtype(np.float64)
    return None


def _arrow_type(pa, value):
    """The Arrow type of a pandas-style ``dtype`` value."""
    if isinstance(value, pa.DataType):
        return value
    if value in (str, object, "str", "string", "object"):
        return pa.string()
    if value == "category":
        return pa.dictionary(pa.int32(), pa.string())
    return pa.from_numpy_dtype(np.dtype(value))


def _index_columns(schema):
    """Columns that pandas wrote for its index (read back as the index)."""
    meta = schema.pandas_metadata or {}
    return {c for c in meta.get("index_columns", ()) if isinstance(c, str)}


def _stamp(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Files:
    """The files of a backend, checked for changes before each read."""

    def __init__(self, paths):
        self.paths = list(paths)
        self.stamps = [_stamp(p) for p in self.paths]

    def check(self, index):
        path = self.paths[index]
        try:
            now = _stamp(path)
        except OSError as exc:
            now = exc
        if now != self.stamps[index]:
            raise ValueError(
                f"file {path!r} changed since the table was opened (it was "
                "rewritten, truncated or removed). Rows read before and after a "
                "change would mix two different data sets: write the files "
                "completely before fitting, or open the table again"
            )


def _expand(source, fmt):
    """The files a path, directory or glob names (sorted), and their format."""
    path = os.fspath(source)
    if os.path.isdir(path):
        found = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in names:
                if name.startswith((".", "_")):
                    continue
                if (fmt is None and _suffix(name) in TABLE_SUFFIXES) or (
                    fmt is not None and TABLE_SUFFIXES.get(_suffix(name)) == fmt
                ):
                    found.append(os.path.join(root, name))
        what = f"directory {path!r}"
    elif _is_glob(path) and not os.path.exists(path):
        found = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p)]
        what = f"pattern {path!r}"
    else:
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file or directory: {path!r}")
        found = [path]
        what = None
    found = sorted(found)
    if not found:
        raise ValueError(
            f"{what} holds no table file (expected names ending in "
            f"{', '.join(sorted(TABLE_SUFFIXES))})"
        )
    formats = {fmt or TABLE_SUFFIXES.get(_suffix(p)) for p in found}
    if None in formats:
        raise ValueError(
            f"cannot tell the format of {found[0]!r} from its name; pass "
            "format='parquet', 'csv' or 'arrow'"
        )
    if len(formats) > 1:
        raise ValueError(
            f"{what} mixes formats {sorted(formats)}; select the files of one "
            "format with a pattern such as 'dir/*.parquet'"
        )
    return found, formats.pop()


def _check_same_schema(pa, schemas, paths, columns):
    """Refuse files whose columns (of ``columns``, or all) differ from the first's."""
    first = schemas[0]
    wanted = list(first.names) if columns is None else list(columns)
    wanted = [n for n in wanted if first.get_field_index(n) >= 0]
    for schema, path in zip(schemas, paths, strict=True):
        for name in wanted:
            if schema.get_field_index(name) < 0:
                raise ValueError(
                    f"column {name!r} is missing in file {path!r} (it is in "
                    f"{paths[0]!r}); every file of a data set must hold the same "
                    "columns"
                )
            a = first.field(name).type
            b = schema.field(name).type
            if a != b and not (pa.types.is_null(a) or pa.types.is_null(b)):
                raise ValueError(
                    f"column {name!r} has type {b} in file {path!r} but {a} in "
                    f"{paths[0]!r}; every file of a data set must give a column "
                    "the same type (cast the files, or read them separately)"
                )


# -- backends -----------------------------------------------------------------


class _Backend:
    """Rows of a source as Arrow data (see the module docstring)."""

    #: What the rows come from, for messages: "file 'x.parquet'".
    label = "a table"
    #: A file or directory whose state identifies the data (or None).
    path = None
    #: Whether two threads may read rows at once (pieces read by index, not
    #: a stream that is read in order).
    concurrent = False

    def where(self, row):
        """Where the absolute row ``row`` is, for messages."""
        return f"row {row} of {self.label}"

    def known_finite(self, start, stop, columns):
        """Whether rows ``start:stop`` of ``columns``, read already, are known
        to hold no NaN and no infinity (then a batch need not be checked)."""
        return False


class _PieceBackend(_Backend):
    """A backend of pieces read by index (row groups, record batches)."""

    concurrent = True

    def _init_pieces(self, counts):
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.n_rows = int(self.offsets[-1])
        self._cache = OrderedDict()
        self._cached_bytes = {}
        self._lock = threading.Lock()
        self._loading = {}
        #: Pieces read so far (for tests and diagnostics).
        self.n_reads = 0

    def _piece(self, p, columns):
        key = (p, tuple(columns))
        with self._lock:
            table = self._cache.get(key)
            if table is not None:
                self._cache.move_to_end(key)
                return table
            # Two batches that share a piece, read ahead on two threads, wait
            # for one decoding of it.
            loading = self._loading.get(key)
            if loading is None:
                self._loading[key] = Future()
        if loading is not None:
            return loading.result()
        try:
            table = self._load(p, list(columns))
        except BaseException as exc:
            with self._lock:
                self._loading.pop(key).set_exception(exc)
            raise
        size = table.nbytes
        with self._lock:
            self._loading.pop(key).set_result(table)
            self.n_reads += 1
            if key not in self._cache:
                self._cache[key] = table
                self._cached_bytes[key] = size
            # Sizes are kept, not recomputed: a table's nbytes walks its buffers.
            while len(self._cache) > 1 and (
                sum(self._cached_bytes.values()) > _PIECE_CACHE_BYTES
            ):
                old, _ = self._cache.popitem(last=False)
                del self._cached_bytes[old]
        return table

    def read(self, start, stop, columns):
        """Rows ``start:stop``: a list of ``(absolute start, Arrow table)``."""
        parts = []
        p = int(np.searchsorted(self.offsets, start, side="right")) - 1
        while p < len(self.counts) and self.offsets[p] < stop:
            lo = int(self.offsets[p])
            if self.offsets[p + 1] > start:
                a = max(start, lo) - lo
                b = min(stop, int(self.offsets[p + 1])) - lo
                parts.append((lo + a, self._piece(p, columns).slice(a, b - a)))
            p += 1
        return parts

    def take(self, rows, columns):
        """The sorted rows ``rows``, as :meth:`read` returns them (one part a row
        run in a piece, so the absolute start of a part locates its first row)."""
        pieces = np.searchsorted(self.offsets, rows, side="right") - 1
        parts = []
        for p in np.unique(pieces):
            local = rows[pieces == p] - self.offsets[p]
            table = self._piece(int(p), columns)
            parts.append((int(self.offsets[p] + local[0]), table.take(local), local))
        return parts

    def piece_of(self, row):
        return int(np.searchsorted(self.offsets, row, side="right")) - 1


class _ParquetBackend(_PieceBackend):
    """Parquet files read row group by row group.

    The footers are read once, when the table is opened. Numeric columns
    without nulls in snappy or uncompressed pages are decoded by
    :mod:`._parquet`; any other row group is read by pyarrow, from the file
    opened again with its footer known.
    """

    def __init__(self, paths, label, path, columns=None):
        pa = _pyarrow()

        self.label = label
        self.path = path
        self.files = _Files(paths)
        self.metas = []
        schemas, counts, self.groups = [], [], []
        for i in range(len(paths)):
            pf = self._file(i)
            try:
                schemas.append(pf.schema_arrow)
                meta = pf.metadata
            finally:
                pf.close()
            self.metas.append(meta)
            for g in range(meta.num_row_groups):
                counts.append(meta.row_group(g).num_rows)
                self.groups.append((i, g))
        _check_same_schema(pa, schemas, paths, columns)
        self.schema = schemas[0]
        self._init_pieces(counts)
        self._maps = OrderedDict()
        self._plans = {}
        self._positions = {}
        #: Pieces decoded by :mod:`._parquet`, not pyarrow (for tests).
        self.n_decoded_here = 0
        # Piece -> its columns that decoding found finite.
        self._finite = {}

    def _file(self, i):
        import pyarrow.parquet as pq

        path = self.files.paths[i]
        metas = getattr(self, "metas", ())
        meta = metas[i] if i < len(metas) else None
        try:
            # Mapped, not read: pyarrow then decodes from the page cache with
            # no copy into its own buffers (twice as fast from a warm file).
            return pq.ParquetFile(path, metadata=meta, memory_map=True)
        except Exception as exc:
            raise ValueError(
                f"file {path!r} is not a readable Parquet file: "
                f"{str(exc).rstrip('. ')}. Check that it was written completely "
                "(a Parquet file ends with its footer)"
            ) from exc

    def _mapped(self, i):
        """File ``i`` mapped into memory, and a buffer of all its bytes, kept
        for the next reads.

        A map made for each read would fault in the pages of the file again
        each time (a fifth of the time of a warm read); the maps of the
        two files read last are kept, so that a data set of many files holds
        few open.
        """
        pa = _pyarrow()

        with self._lock:
            mapped = self._maps.get(i)
            if mapped is not None:
                self._maps.move_to_end(i)
                return mapped
        handle = pa.memory_map(self.files.paths[i])
        # Read while no other thread has the handle: reads move its position.
        mapped = (handle, handle.read_buffer())
        with self._lock:
            self._maps[i] = mapped
            while len(self._maps) > 2:
                # Not closed: a read on another thread may still use it; it
                # is unmapped with its last reference.
                self._maps.popitem(last=False)
        return mapped

    def _load(self, p, columns):
        import pyarrow.parquet as pq

        i, g = self.groups[p]
        self.files.check(i)
        handle, whole = self._mapped(i)
        table = self._decode_here(p, columns, whole)
        if table is not None:
            return table
        try:
            pf = pq.ParquetFile(handle, metadata=self.metas[i])
        except Exception as exc:
            raise ValueError(
                f"file {self.files.paths[i]!r} is not a readable Parquet file: "
                f"{str(exc).rstrip('. ')}"
            ) from exc
        try:
            return pf.read_row_group(g, columns=columns)
        except Exception as exc:
            raise ValueError(
                f"row group {g} of file {self.files.paths[i]!r} cannot be read: {exc}"
            ) from exc
        finally:
            pf.close()

    def _decode_here(self, p, columns, whole):
        """Piece ``p`` decoded by :mod:`._parquet`, or None where it does not
        decode these columns (pyarrow then reads them)."""
        pa = _pyarrow()

        i, g = self.groups[p]
        key = (p, tuple(columns))
        plan = self._plans.get(key)
        if plan is None:
            if i not in self._positions:
                self._positions[i] = leaf_positions(self.metas[i])
            try:
                plan = chunk_plan(
                    self.metas[i], g, self.schema, columns, self._positions[i]
                )
            except Unsupported:
                plan = False
            self._plans[key] = plan
        if plan is False:
            return None
        try:
            arrays, finite = read_chunks(whole, plan, int(self.counts[p]))
        except Unsupported:
            self._plans[key] = False
            return None
        fields = [self.schema.field(name) for name in columns]
        table = pa.Table.from_arrays(
            arrays, schema=pa.schema(fields, metadata=self.schema.metadata)
        )
        with self._lock:
            self.n_decoded_here += 1
            known = self._finite.setdefault(p, set())
            known.update(c for c, ok in zip(columns, finite, strict=True) if ok)
        return table

    def known_finite(self, start, stop, columns):
        wanted = set(columns)
        pieces = range(self.piece_of(start), self.piece_of(stop - 1) + 1)
        with self._lock:
            return all(wanted <= self._finite.get(p, set()) for p in pieces)

    def where(self, row):
        i, g = self.groups[self.piece_of(row)]
        return f"file {self.files.paths[i]!r}, row group {g}"

    def spec(self):
        return ("parquet", self.files.paths, self.label, self.path)


class _ArrowBackend(_PieceBackend):
    """Arrow IPC (Feather v2) files, memory-mapped, record batch by batch."""

    def __init__(self, paths, label, path, columns=None):
        pa = _pyarrow()
        self.label = label
        self.path = path
        self.files = _Files(paths)
        self.batches = []
        counts, schemas = [], []
        for i, p in enumerate(paths):
            source = pa.memory_map(p, "r")
            try:
                try:
                    reader = pa.ipc.open_file(source)
                    batches = [
                        reader.get_batch(j) for j in range(reader.num_record_batches)
                    ]
                    schema = reader.schema
                except pa.ArrowInvalid:
                    source.seek(0)
                    reader = pa.ipc.open_stream(source)
                    batches = list(reader)
                    schema = reader.schema
            except Exception as exc:
                raise ValueError(
                    f"file {p!r} is not a readable Arrow IPC (Feather v2) file: {exc}"
                ) from exc
            schemas.append(schema)
            for j, b in enumerate(batches):
                counts.append(b.num_rows)
                self.batches.append((i, j, b))
        _check_same_schema(pa, schemas, paths, columns)
        self.schema = schemas[0]
        self._pa = pa
        self._init_pieces(counts)

    def _load(self, p, columns):
        i, _, batch = self.batches[p]
        self.files.check(i)
        return self._pa.Table.from_batches([batch.select(columns)])

    def where(self, row):
        i, j, _ = self.batches[self.piece_of(row)]
        return f"file {self.files.paths[i]!r}, record batch {j}"

    def spec(self):
        return ("arrow", self.files.paths, self.label, self.path)


class _MemoryBackend(_PieceBackend):
    """An Arrow table in memory (from a pandas or polars DataFrame)."""

    def __init__(self, table, label):
        self.table = table
        self.schema = table.schema
        self.label = label
        self._init_pieces([table.num_rows])

    def _load(self, p, columns):
        return self.table.select(columns)

    def where(self, row):
        return f"row {row} of {self.label}"

    def spec(self):
        return ("memory", self.table, self.label)


class _StreamBackend(_Backend):
    """A source read as a stream of record batches, forward only."""

    def _init_stream(self, n_rows):
        self.n_rows = int(n_rows)
        self._lock = threading.Lock()
        self._reader = None
        self._held = []  # contiguous (absolute start, table) pairs
        self._next = 0  # absolute row of the next batch of the stream
        #: Times the stream was started (for tests and diagnostics).
        self.n_starts = 0

    def _restart(self):
        if self._reader is not None:
            self._close(self._reader)
        self._reader = self._open_stream()
        self.n_starts += 1
        self._held = []
        self._next = 0

    def _close(self, reader):
        close = getattr(reader, "close", None)
        if close is not None:
            close()

    def _advance(self):
        """Append the next batch of the stream to the held ones (False at its end)."""
        try:
            batch = self._next_batch(self._reader, self._next)
        except StopIteration:
            return False
        if batch.num_rows:
            self._held.append((self._next, self._pa.Table.from_batches([batch])))
        self._next += batch.num_rows
        return True

    def _hold(self, start, stop):
        """Hold (at least) the rows ``start:stop``, starting the stream if needed."""
        first = self._held[0][0] if self._held else self._next
        if self._reader is None or start < first:
            self._restart()
        self._drop_before(start)
        while self._next < stop and self._advance():
            self._drop_before(start)

    def _drop_before(self, start):
        while self._held and self._held[0][0] + self._held[0][1].num_rows <= start:
            self._held.pop(0)

    def read(self, start, stop, columns):
        with self._lock:
            self._hold(start, stop)
            parts = []
            for lo, table in self._held:
                hi = lo + table.num_rows
                if hi <= start or lo >= stop:
                    continue
                a = max(start, lo) - lo
                b = min(stop, hi) - lo
                parts.append((lo + a, table.select(columns).slice(a, b - a)))
            return parts

    def take(self, rows, columns):
        parts = []
        with self._lock:
            i = 0
            while i < rows.shape[0]:
                self._hold(int(rows[i]), int(rows[i]) + 1)
                lo, table = self._held[0]
                hi = lo + table.num_rows
                j = int(np.searchsorted(rows, hi, side="left"))
                local = rows[i:j] - lo
                parts.append((int(rows[i]), table.select(columns).take(local), local))
                i = j
        return parts


def _csv_modules():
    pa = _pyarrow()
    import pyarrow.csv as pcsv

    return pa, pcsv


_COLUMN_ERROR = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?(.*)", re.S)
_ROW_ERROR = re.compile(r"Row #(\d+): (.*)", re.S)


class _CSVBackend(_StreamBackend):
    """A CSV file read with pyarrow's streaming reader under a fixed schema.

    Types are inferred from the first block (about 4 MiB), then fixed; one
    pass when the table is opened counts the rows and checks every line
    against them.
    """

    def __init__(
        self,
        path,
        *,
        sep=",",
        header="infer",
        names=None,
        na_values=None,
        keep_default_na=True,
        quotechar='"',
        dtype=None,
        encoding="utf-8",
        columns=None,
        _state=None,
    ):
        pa, pcsv = _csv_modules()
        self._pa, self._pcsv = pa, pcsv
        self.label = f"file {path!r}"
        self.path = path
        self.files = _Files([path])
        self.options = dict(
            sep=sep,
            header=header,
            names=names,
            na_values=na_values,
            keep_default_na=keep_default_na,
            quotechar=quotechar,
            dtype=dtype,
            encoding=encoding,
            columns=columns,
        )
        if header not in ("infer", 0, None):
            raise ValueError(f"header must be 'infer', 0 or None, got {header!r}")
        has_header = header == 0 or (header == "infer" and names is None)
        self._skip = 1 if has_header else 0
        nulls = list(PANDAS_NA_VALUES) if keep_default_na else []
        if na_values is not None:
            nulls += [na_values] if isinstance(na_values, str) else list(na_values)
        self._nulls = nulls
        self._parse = pcsv.ParseOptions(
            delimiter=sep,
            quote_char=quotechar if quotechar else False,
            # A quoted value may span lines, as pandas reads it.
            newlines_in_values=bool(quotechar),
            invalid_row_handler=None,
        )
        if _state is not None:
            self.names, self.schema, n_rows = _state
            self._init_stream(n_rows)
            return
        self.names = self._header_names(names, has_header)
        self.schema = self._infer(dtype)
        self._init_stream(0)
        self.n_rows = self._count()

    def _read_options(self, threads=False):
        # Without threads, pyarrow names the line of a parse error (the pass
        # that counts the rows); with them, later passes parse faster.
        return self._pcsv.ReadOptions(
            use_threads=threads,
            block_size=_CSV_BLOCK_BYTES,
            skip_rows=self._skip,
            column_names=self.names,
            encoding=self.options["encoding"],
        )

    def _header_names(self, names, has_header):
        if names is not None:
            return [str(n) for n in names]
        opts = self._pcsv.ReadOptions(
            use_threads=False,
            block_size=1 << 20,
            autogenerate_column_names=not has_header,
            encoding=self.options["encoding"],
        )
        reader = self._wrap_open(
            lambda: self._pcsv.open_csv(
                self.path, read_options=opts, parse_options=self._parse
            ),
            0,
        )
        found = list(reader.schema.names)
        reader.close()
        if not has_header:
            # pandas numbers unnamed columns 0, 1, ...
            found = [str(i) for i in range(len(found))]
        return found

    def _infer(self, dtype):
        pa, pcsv = self._pa, self._pcsv
        convert = pcsv.ConvertOptions(
            null_values=self._nulls,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )
        reader = self._wrap_open(
            lambda: pcsv.open_csv(
                self.path,
                read_options=self._read_options(),
                parse_options=self._parse,
                convert_options=convert,
            ),
            0,
        )
        inferred = reader.schema
        reader.close()
        fields = []
        for field in inferred:
            typ = field.type
            if pa.types.is_null(typ):
                # Empty in the sample: pandas reads such a column as floats.
                typ = pa.float64()
            if dtype is not None and field.name in dtype:
                typ = _arrow_type(pa, dtype[field.name])
            fields.append(pa.field(field.name, typ))
        schema = pa.schema(fields)
        columns = self.options["columns"]
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise KeyError(
                    f"column {missing[0]!r} is not in {self.label}; its columns are "
                    f"{schema.names}"
                )
            schema = pa.schema([schema.field(c) for c in columns])
        return schema

    def _convert(self):
        return self._pcsv.ConvertOptions(
            column_types=self.schema,
            null_values=self._nulls,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            include_columns=self.options["columns"],
        )

    def _wrap_open(self, opener, row):
        try:
            return opener()
        except Exception as exc:
            raise self._error(exc, row) from exc

    def _error(self, exc, row):
        """A ValueError naming the file, line and column of the pyarrow error."""
        text = str(exc).strip()
        if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "UTF-8" in text:
            return ValueError(
                f"file {self.path!r} is not valid {self.options['encoding']} text "
                f"near {self._line_of_row(row)}: {text}. Pass encoding=..."
            )
        m = _COLUMN_ERROR.search(text)
        if m is not None:
            col = int(m.group(1))
            names = self.options["columns"] or getattr(self, "names", [])
            name = names[col] if col < len(names) else f"#{col}"
            if m.group(2):
                line = self._line(int(m.group(2))) or int(m.group(2))
            else:
                line = self._locate(name, row)
            schema = getattr(self, "schema", None)
            known = schema is not None and name in schema.names
            typ = schema.field(name).type if known else "?"
            where = f"line {line}" if line is not None else f"a line after {row}"
            if known and self._pa.types.is_integer(typ):
                hint = f"pass dtype={{{name!r}: 'float64'}} to open_table"
            else:
                hint = (
                    "pass the type it holds with dtype={...} or its missing-value "
                    "strings with na_values=[...] to open_table"
                )
            return ValueError(
                f"file {self.path!r}, {where}, column {name!r}: {m.group(3)}. "
                f"The column was read as {typ} (from the first lines of the file, "
                f"or as given); {hint}"
            )
        m = _ROW_ERROR.search(text)
        if m is not None:
            names = getattr(self, "names", None)
            columns = f" {names[:8]}" if names else ""
            line = self._line(int(m.group(1))) or m.group(1)
            return ValueError(
                f"file {self.path!r}, line {line}: {m.group(2)} (a line with "
                f"another number of fields than the columns{columns}; check the "
                f"delimiter sep={self.options['sep']!r} and the quoting)"
            )
        return ValueError(f"file {self.path!r} cannot be read as CSV: {text}")

    def _line(self, record):
        """The line on which the file's record ``record`` starts (1-based, the
        header or a skipped row counting as records), or None.

        pyarrow numbers records, not lines: it skips empty lines, and a quoted
        value may span lines. The file is read again up to that record with
        Python's csv module, whose records are the same (only on errors).
        """
        import csv

        quote = self.options["quotechar"]
        try:
            with open(
                self.path,
                newline="",
                encoding=self.options["encoding"],
                errors="replace",
            ) as f:
                reader = csv.reader(
                    f,
                    delimiter=self.options["sep"],
                    quotechar=quote or '"',
                    quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
                )
                seen = before = 0
                for fields in reader:
                    if fields:
                        seen += 1
                        if seen == record:
                            return before + 1
                    before = reader.line_num
        except (OSError, LookupError, csv.Error):
            pass
        return None

    def _line_of_row(self, row):
        """``line N`` for the data row ``row`` (0-based), for messages."""
        line = self._line(row + self._skip + 1)
        return f"row {row}" if line is None else f"line {line}"

    def _locate(self, name, row):
        """The line of the first value of ``name`` at or after ``row`` that does
        not convert to its type (read again as text; only on errors)."""
        pa, pcsv = self._pa, self._pcsv
        import pyarrow.compute as pc

        schema = getattr(self, "schema", None)
        if schema is None:
            return None
        types = dict(zip(schema.names, schema.types, strict=True))
        target = types.get(name)
        if target is None:
            return None
        convert = pcsv.ConvertOptions(
            column_types={name: pa.string()},
            null_values=self._nulls,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            include_columns=[name],
        )
        try:
            reader = pcsv.open_csv(
                self.path,
                read_options=self._read_options(),
                parse_options=self._parse,
                convert_options=convert,
            )
            done = 0
            for batch in reader:
                col = batch.column(0)
                if done + batch.num_rows > row:
                    try:
                        pc.cast(col, target)
                    except Exception:
                        for k in range(col.__len__()):
                            try:
                                pc.cast(col.slice(k, 1), target)
                            except Exception:
                                return self._line(done + k + self._skip + 1)
                done += batch.num_rows
        except Exception:
            return None
        return None

    def _open_stream(self, threads=True):
        self.files.check(0)
        return self._wrap_open(
            lambda: self._pcsv.open_csv(
                self.path,
                read_options=self._read_options(threads),
                parse_options=self._parse,
                convert_options=self._convert(),
            ),
            0,
        )

    def _next_batch(self, reader, row):
        self.files.check(0)
        try:
            return reader.read_next_batch()
        except StopIteration:
            raise
        except Exception as exc:
            raise self._error(exc, row) from exc

    def _count(self):
        reader = self._open_stream(threads=False)
        n = 0
        while True:
            try:
                batch = self._next_batch(reader, n)
            except StopIteration:
                break
            n += batch.num_rows
        reader.close()
        return n

    def where(self, row):
        return f"file {self.path!r}, {self._line_of_row(row)}"

    def spec(self):
        return ("csv", self.path, self.options, (self.names, self.schema, self.n_rows))


class _DuckDBBackend(_StreamBackend):
    """A DuckDB query or relation, streamed as Arrow record batches."""

    _batch_rows = 1 << 16

    def __init__(self, query, database=None, relation=None, _state=None):
        self._pa = _pyarrow()
        import duckdb

        self.query = query
        self.database = database
        self.path = database if database not in (None, ":memory:") else None
        where = f" on database {database!r}" if database else ""
        self.label = (
            f"the DuckDB query {query!r}{where}" if query else ("a DuckDB relation")
        )
        self._con = None
        if relation is None:
            try:
                self._con = duckdb.connect(
                    database or ":memory:",
                    read_only=bool(database and database != ":memory:"),
                )
                relation = self._con.sql(query)
            except duckdb.Error as exc:
                raise ValueError(
                    f"DuckDB query failed{where}: {exc}\nquery: {query}"
                ) from exc
            if relation is None:
                raise ValueError(f"the DuckDB query {query!r} returns no rows")
        self.relation = relation
        try:
            empty = relation.limit(0)
            self.schema = (
                empty.to_arrow_table()
                if hasattr(empty, "to_arrow_table")
                else empty.arrow()
            ).schema
            n_rows = (
                _state
                if _state is not None
                else relation.aggregate("count(*)").fetchall()[0][0]
            )
        except duckdb.Error as exc:
            raise ValueError(
                f"DuckDB query failed{where}: {exc}\nquery: {query}"
            ) from exc
        self._init_stream(n_rows)

    def _open_stream(self):
        import duckdb

        try:
            if hasattr(self.relation, "to_arrow_reader"):
                return self.relation.to_arrow_reader(self._batch_rows)
            return self.relation.fetch_record_batch(self._batch_rows)
        except duckdb.Error as exc:
            raise ValueError(
                f"DuckDB query failed while reading {self.label}: {exc}"
            ) from exc

    def _next_batch(self, reader, row):
        import duckdb

        try:
            return reader.read_next_batch()
        except StopIteration:
            raise
        except (duckdb.Error, self._pa.ArrowException) as exc:
            raise ValueError(
                f"DuckDB query failed at row {row} of {self.label}: {exc}"
            ) from exc

    def spec(self):
        if self.query is None:
            raise TypeError(
                "a Table over a DuckDB relation cannot be sent to another process; "
                "open it with open_table('SELECT ...', database=path) instead"
            )
        return ("duckdb", self.query, self.database, self.n_rows)


class _ConcatBackend(_Backend):
    """The rows of several backends one after the other (CSV files)."""

    def __init__(self, parts, label, path):
        self.parts = list(parts)
        self.label = label
        self.path = path
        self.schema = self.parts[0].schema
        self.concurrent = all(part.concurrent for part in self.parts)
        counts = [part.n_rows for part in self.parts]
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_rows = int(self.offsets[-1])

    def _spans(self, start, stop):
        for i, part in enumerate(self.parts):
            lo = int(self.offsets[i])
            a, b = max(start, lo), min(stop, int(self.offsets[i + 1]))
            if a < b:
                yield part, lo, a - lo, b - lo

    def read(self, start, stop, columns):
        return [
            (lo + first,) + tuple(rest)
            for part, lo, a, b in self._spans(start, stop)
            for first, *rest in part.read(a, b, columns)
        ]

    def take(self, rows, columns):
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        parts = []
        for i in np.unique(which):
            lo = int(self.offsets[i])
            for first, *rest in self.parts[i].take(rows[which == i] - lo, columns):
                parts.append((lo + first,) + tuple(rest))
        return parts

    def where(self, row):
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return self.parts[i].where(row - int(self.offsets[i]))

    def spec(self):
        return ("concat", [part.spec() for part in self.parts], self.label, self.path)


def _csv_files(paths, label, path, columns, csv_options):
    """One backend over the CSV files ``paths``: the first file's columns and
    types, which every other file must hold."""
    first = _CSVBackend(paths[0], columns=columns, **csv_options)
    if len(paths) == 1:
        return first
    types = {f.name: f.type for f in first.schema}
    options = dict(csv_options, dtype=types)
    parts = [first]
    for other in paths[1:]:
        part = _CSVBackend(other, columns=columns, **options)
        if columns is None and part.names != first.names:
            missing = [n for n in first.names if n not in part.names]
            what = (
                f"column {missing[0]!r} is missing in file {other!r}"
                if missing
                else f"file {other!r} has the columns {part.names}"
            )
            raise ValueError(
                f"{what} (file {paths[0]!r} has {first.names}); every file of a "
                "data set must hold the same columns"
            )
        parts.append(part)
    return _ConcatBackend(parts, label, path)


def _reopen(spec):
    kind = spec[0]
    if kind == "parquet":
        return _ParquetBackend(spec[1], spec[2], spec[3])
    if kind == "arrow":
        return _ArrowBackend(spec[1], spec[2], spec[3])
    if kind == "memory":
        return _MemoryBackend(spec[1], spec[2])
    if kind == "csv":
        options = dict(spec[2])
        return _CSVBackend(spec[1], **options, _state=spec[3])
    if kind == "duckdb":
        return _DuckDBBackend(spec[1], spec[2], _state=spec[3])
    if kind == "concat":
        return _ConcatBackend([_reopen(part) for part in spec[1]], spec[2], spec[3])
    if kind == "dask":
        from ._dask_table import reopen

        return reopen(spec)
    raise ValueError(f"unknown table backend {kind!r}")


# -- columns of a backend, as an array ----------------------------------------


class _Spares:
    """Arrays of rows that a table fills again once nobody holds them.

    Filling a fresh array of rows faults in its pages, which costs more
    than the copy itself (about 8 ms for 28 MB here, up to 50 ms when the
    kernel compacts memory for huge pages); a fit reads batch after batch of
    one shape. An array is reused only when its sole references are this
    object's, so a batch or any view of it that a caller still holds is
    never written to.
    """

    def __init__(self):
        self._arrays = []
        self._lock = threading.Lock()

    @staticmethod
    def _references(arr):
        return sys.getrefcount(arr)

    def get(self, shape, dtype):
        """An array of ``shape`` and ``dtype`` that nobody else holds."""
        with self._lock:
            for arr in self._arrays:
                unshared = self._references(arr) == _UNSHARED
                if arr.shape == shape and arr.dtype == dtype and unshared:
                    return arr
            arr = np.empty(shape, dtype=dtype)
            self._arrays.append(arr)
            if len(self._arrays) > _SPARE_ARRAYS:
                del self._arrays[0]
            return arr


def _unshared_count():
    spares = _Spares()
    spares._arrays.append(np.empty(0))
    for arr in spares._arrays:
        return spares._references(arr)


# The references _Spares.get counts to an array that only it holds, measured
# the same way (interpreters differ in what they count).
_UNSHARED = _unshared_count()


class _Columns:
    """Some columns of a backend as a 2-D (or, for one target, 1-D) array.

    The base of a :class:`Table`: rows are read by slices or sorted indices,
    as :class:`~sklearn_ooc.data.LazyArray` asks for them.
    """

    def __init__(self, backend, columns, target=False, allow_nan=False):
        pa = _pyarrow()
        self.backend = backend
        self.columns = list(columns)
        self.target = bool(target)
        # Nulls read as NaN (for estimators that take NaN), else an error.
        self.allow_nan = bool(allow_nan)
        types = [backend.schema.field(c).type for c in self.columns]
        self.types = types
        dtypes = [_numpy_dtype(pa, t) for t in types]
        self.non_numeric = [
            (c, t)
            for c, t, d in zip(self.columns, types, dtypes, strict=True)
            if d is None
        ]
        if self.non_numeric or not dtypes:
            self.dtype = np.dtype(object)
        else:
            self.dtype = np.result_type(*dtypes)
            if self.allow_nan and self.dtype.kind != "f":
                self.dtype = np.dtype(np.float64)
        n = backend.n_rows
        self.shape = (n,) if self.target else (n, len(self.columns))
        self._spares = _Spares()

    def _name(self):
        return "y" if self.target else "X"

    def known_finite(self, start, stop):
        """Whether rows ``start:stop``, read already, are known finite (see
        :meth:`_Backend.known_finite`)."""
        return stop > start and self.backend.known_finite(start, stop, self.columns)

    def _to_numpy(self, parts, spares=None):
        pa = _pyarrow()
        import pyarrow.compute as pc

        n = sum(part[1].num_rows for part in parts)
        shape = (n, len(self.columns))
        if spares is None or self.dtype == object:
            out = np.empty(shape, dtype=self.dtype)
        else:
            out = spares.get(shape, self.dtype)
        columns, bounds = [], [0]
        at = 0
        for part in parts:
            start, table = part[0], part[1]
            local = part[2] if len(part) > 2 else None
            m = table.num_rows
            for name in self.columns:
                col = table.column(name)
                nan_nulls = self.allow_nan and self.dtype.kind == "f"
                if col.null_count and not nan_nulls:
                    k = pc.index(pc.is_null(col), True).as_py()
                    row = (
                        start + k if local is None else start + int(local[k] - local[0])
                    )
                    raise ValueError(
                        f"{self._name()} contains NaN (a missing value) at row {row} "
                        f"of the table ({self.backend.where(row)}, column {name!r}); "
                        "remove or "
                        "impute such rows before fitting, or select other columns"
                    )
                typ = col.type
                if pa.types.is_dictionary(typ):
                    col = col.cast(typ.value_type)
                elif pa.types.is_decimal(typ) or pa.types.is_null(typ):
                    col = col.cast(pa.float64())
                if col.null_count and nan_nulls:
                    col = col.cast(pa.float64()).fill_null(float("nan"))
                columns.append(col.to_numpy())
            at += m
            bounds.append(at)
        _fill_rows(out, columns, bounds)
        return out[:, 0] if self.target else out

    def __getitem__(self, key):
        n = self.shape[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step < 0:
                raise IndexError("negative steps are read upwards by the caller")
            stop = max(start, stop)
            parts = self.backend.read(start, stop, self.columns)
            block = self._to_numpy(parts, self._spares)
            return block if step == 1 else block[::step]
        index = np.asarray(key, dtype=np.intp)
        if index.ndim != 1:
            raise IndexError(f"unsupported index of shape {index.shape}")
        if index.size == 0:
            return self._to_numpy([])
        unique, back = np.unique(index, return_inverse=True)
        if unique[0] < 0 or unique[-1] >= n:
            raise IndexError(f"row index out of range for {n} rows")
        block = self._to_numpy(self.backend.take(unique, self.columns))
        return block[back]


def _fill_rows(out, columns, bounds):
    """``out[bounds[s]:bounds[s + 1], j] = columns[s * k + j]``: the columns
    of the parts in order (``k`` columns), as rows."""
    k = out.shape[1]
    kernel = (
        out.dtype.kind in "fiu"
        and out.dtype.itemsize >= 4
        and out.nbytes >= 1 << 20
        and all(c.dtype == out.dtype and c.ndim == 1 for c in columns)
    )
    if not kernel:
        # Small batches, other types: not worth the kernel's set-up.
        for index, values in enumerate(columns):
            s, j = divmod(index, k)
            out[bounds[s] : bounds[s + 1], j] = values
        return
    columns = [np.ascontiguousarray(c) for c in columns]
    addresses = np.array([c.ctypes.data for c in columns], dtype=np.uint64)
    lengths = np.array([c.shape[0] for c in columns], dtype=np.int64)
    # Stored past the caches when the rows are larger than about half of a
    # last-level cache: they would only push out what the reader needs.
    rows_from_columns(
        out,
        addresses.reshape(-1, k),
        lengths.reshape(-1, k),
        np.asarray(bounds, dtype=np.int64),
        out.nbytes >= 16 << 20,
    )


# -- the lazy table -----------------------------------------------------------


def _is_names(key):
    if isinstance(key, (list, tuple)) and key and all(isinstance(k, str) for k in key):
        return True
    if type(key).__module__.startswith("pandas") and hasattr(key, "tolist"):
        values = key.tolist()
        return bool(values) and all(isinstance(k, str) for k in values)
    return False


class Table(LazyArray):
    """A table on disk or in a database, read by rows only when asked for.

    Made by :func:`open_table`. Every estimator takes a Table as ``X`` (its
    columns, which must be numbers) and a one-column Table ``T["y"]`` as
    ``y`` or ``sample_weight``; the column names become
    ``feature_names_in_``. Rows are selected lazily as with a
    :class:`~sklearn_ooc.data.LazyArray` (``T[rows]``, ``T[rows, ...]``), so
    that cross-validation folds read only their rows. ``T.columns`` names
    the columns, ``T.shape`` is ``(n_rows, n_columns)``, or ``(n_rows,)``
    for one target column.

    Notes
    -----
    For its next reads a table keeps the pieces it decoded last (row groups
    or record batches, up to 256 MiB), the memory maps of the two Parquet
    files it read last, and up to four arrays of rows, which it fills again
    only once nobody else holds them: a batch, or a view of one, that a
    caller keeps is never written to. All go with the table. Each thread
    that decodes Parquet pages keeps a scratch buffer for them, the size of a
    column chunk's dictionary and its largest page (a few MiB).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from sklearn_ooc import open_table
    >>> path = os.path.join(tempfile.mkdtemp(), "data.csv")
    >>> pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "y": [0, 1, 0]}).to_csv(
    ...     path, index=False)
    >>> T = open_table(path)
    >>> T.columns, T.shape
    (['a', 'b', 'y'], (3, 3))
    >>> T.drop(columns="y").columns
    ['a', 'b']
    >>> T["y"].shape
    (3,)
    >>> T[[0, 2], ...][["a", "b"]].__array__()
    array([[1., 4.],
           [3., 6.]])
    """

    def __init__(self, base, *, _rows=None, _maps=()):
        super().__init__(base, _rows=_rows, _maps=_maps, _path=None, _guard=None)
        self._path = base.backend.path

    # -- what it looks like ---------------------------------------------------

    @property
    def columns(self):
        """The names of the columns, in order."""
        return list(self._base.columns)

    @property
    def name(self):
        """The name of the column of a 1-D Table (a target), else None."""
        return self._base.columns[0] if self._base.target else None

    def __repr__(self):
        cols = self._base.columns
        shown = ", ".join(repr(c) for c in cols[:6]) + (
            ", ..." if len(cols) > 6 else ""
        )
        return (
            f"Table(shape={self.shape}, columns=[{shown}], "
            f"from {self._base.backend.label})"
        )

    def header(self):
        """A frame of no rows with the table's columns (what scikit-learn's
        ``validate_data`` takes the number and names of the features from).

        A view with a function mapped over its rows has other columns than
        the table: it is its own header (a shape, no names).
        """
        if self._maps:
            return self
        pa = _pyarrow()
        schema = self._base.backend.schema
        return pa.schema([schema.field(c) for c in self._base.columns]).empty_table()

    # -- raw values (encoders) ------------------------------------------------

    def _absolute_rows(self, start, stop):
        """The rows ``start:stop`` of the view: a range or sorted runs, or an
        array of row numbers in the view's order."""
        from ._lazy import _Runs

        selected = self._rows_sel[start:stop]
        if isinstance(selected, range) and selected.step == 1:
            return [(selected.start, selected.stop)], None
        if isinstance(selected, _Runs):
            pairs = zip(selected.starts, selected.stops, strict=True)
            return [(int(a), int(b)) for a, b in pairs], None
        return None, np.asarray(selected, dtype=np.intp)

    def read_arrow(self, start, stop):
        """Rows ``start:stop`` of the view as an Arrow table of raw values.

        Strings, categories, numbers and missing values (nulls) are kept as
        the source holds them, so that an encoder sees what it would see in
        the loaded DataFrame. Dictionary (categorical) columns are decoded
        to their values: row groups or files whose dictionaries differ give
        one column of values, compared by value and never by code.

        Parameters
        ----------
        start, stop : int
            Rows of the view.

        Returns
        -------
        pyarrow.Table
            ``stop - start`` rows of the view's columns, in the view's order.
        """
        if self._maps:
            raise TypeError(
                "a Table with a function mapped over its rows holds numbers: read "
                "its rows with np.asarray"
            )
        pa = _pyarrow()
        columns = self._base.columns
        backend = self._base.backend
        spans, index = self._absolute_rows(start, stop)
        if spans is not None:
            parts = [t for a, b in spans for _, t in backend.read(a, b, columns)]
            back = None
        elif index.size == 0:
            parts, back = [], None
        else:
            unique, back = np.unique(index, return_inverse=True)
            parts = [part[1] for part in backend.take(unique, columns)]
        schema = backend.schema
        fields = []
        for name in columns:
            typ = schema.field(name).type
            if pa.types.is_dictionary(typ):
                typ = typ.value_type
            fields.append(pa.field(name, typ))
        target = pa.schema(fields)
        tables = []
        for part in parts:
            arrays = []
            for name, field in zip(columns, target, strict=True):
                col = part.column(name)
                if col.type != field.type:
                    col = col.cast(field.type)
                arrays.append(col)
            tables.append(pa.Table.from_arrays(arrays, schema=target))
        table = (
            pa.concat_tables(tables) if tables else target.empty_table()
        ).combine_chunks()
        if back is not None:
            table = table.take(pa.array(back))
        return table

    def read_frame(self, start, stop):
        """Rows ``start:stop`` of the view as a pandas DataFrame of raw values.

        What ``pandas.read_parquet`` (or ``read_csv``) gives for those rows:
        strings, categories decoded to their values (see :meth:`read_arrow`),
        and missing values as pandas reads them (NaN in numbers, which turn
        integer columns with nulls into floats).

        Parameters
        ----------
        start, stop : int
            Rows of the view.

        Returns
        -------
        pandas.DataFrame
            ``stop - start`` rows, indexed from ``start``.
        """
        frame = self.read_arrow(start, stop).to_pandas()
        frame.index = range(start, start + len(frame))
        return frame

    def row_number(self, row):
        """The row of the table (of all its rows) that is row ``row`` of the view."""
        spans, index = self._absolute_rows(row, row + 1)
        return spans[0][0] if spans is not None else int(index[0])

    def where(self, row):
        """Where the row ``row`` of the view is, for messages (file, row
        group or line)."""
        return self._base.backend.where(self.row_number(row))

    @property
    def reads_concurrently(self):
        """Whether two threads may read rows of the view at once: pieces of
        Parquet and Arrow files or of a DataFrame, not a CSV or DuckDB stream."""
        return self._base.backend.concurrent

    def _known_finite(self, start, stop):
        """Whether rows ``start:stop`` of the view, read already, are known to
        hold no NaN and no infinity: decoded from Parquet pages whose values
        were checked then. A batch of such rows need not be checked again."""
        if self._maps:
            return False
        selected = self._rows_sel[start:stop]
        if not isinstance(selected, range) or len(selected) == 0:
            return False
        low, high = min(selected[0], selected[-1]), max(selected[0], selected[-1])
        return self._base.known_finite(low, high + 1)

    def with_nan(self):
        """The view with nulls in its numeric columns read as NaN.

        For estimators that take NaN (imputers, scalers: scikit-learn's
        ``allow_nan`` tag); without it, a null is an error that names its
        row and column. Integer and boolean columns read as floats.

        Returns
        -------
        Table
            The same rows and columns.
        """
        if self._base.allow_nan:
            return self
        base = _Columns(
            self._base.backend, self._base.columns, self._base.target, allow_nan=True
        )
        return Table(base, _rows=self._rows_sel, _maps=self._maps)

    def check_numeric(self, name="X"):
        """Raise a ``ValueError`` naming the first column that holds no numbers."""
        if not self._base.non_numeric:
            return
        column, typ = self._base.non_numeric[0]
        others = [c for c, _ in self._base.non_numeric[1:]]
        also = f" (and {others[:5]})" if others else ""
        raise ValueError(
            f"{name} column {column!r} of {self._base.backend.label} holds {typ}, "
            f"not numbers{also}. Select numeric columns (T[[...]] or "
            "T.drop(columns=[...])), or encode the column with a preprocessing "
            "step first"
        )

    def _check_writable(self, dtype):
        if not self._maps:
            self.check_numeric("to_npy:")

    def _files(self):
        files = getattr(self._base.backend, "files", None)
        return super()._files() + list(getattr(files, "paths", ()))

    def _arrow_rows(self, start, stop):
        return None if self._maps else self.read_arrow(start, stop)

    def _name(self):
        return None if self._maps else self.name

    def _column_names(self):
        return None if self._base.target else list(self._base.columns)

    # -- views ----------------------------------------------------------------

    def _view(self, rows=None, columns=None, maps=None):
        if columns is not None:
            raise IndexError("select the columns of a Table by name")
        return Table(
            self._base,
            _rows=self._rows_sel if rows is None else rows,
            _maps=self._maps if maps is None else maps,
        )

    def _select(self, names, target=False):
        if self._maps:
            raise IndexError("select columns before mapping a function")
        if self._base.target:
            raise IndexError(f"a target column {self.name!r} has no columns to select")
        missing = [n for n in names if n not in self._base.columns]
        if missing:
            raise KeyError(
                f"column {missing[0]!r} is not in {self._base.backend.label}; its "
                f"columns are {self._base.columns}"
            )
        base = _Columns(
            self._base.backend, names, target=target, allow_nan=self._base.allow_nan
        )
        return Table(base, _rows=self._rows_sel)

    def _select_positions(self, key):
        if isinstance(key, Integral):
            return self._select([self._base.columns[key]], target=True)
        if isinstance(key, str):
            return self._select([key], target=True)
        if _is_names(key):
            return self._select(list(key))
        positions = np.arange(len(self._base.columns))[key]
        return self._select([self._base.columns[i] for i in np.atleast_1d(positions)])

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._select([key], target=True)
        if _is_names(key):
            return self._select(list(key))
        if isinstance(key, tuple):
            parts = [k for k in key if k is not Ellipsis]
            if len(parts) == 2:
                rows, cols = parts
                view = (
                    self
                    if isinstance(rows, slice) and rows == slice(None)
                    else (self[rows])
                )
                if isinstance(cols, slice) and cols == slice(None):
                    return view
                return view._select_positions(cols)
            if len(parts) == 1 and key[0] is Ellipsis and len(key) == 2:
                return self._select_positions(parts[0])
        return super().__getitem__(key)

    def drop(self, columns):
        """The table without ``columns`` (a name or a list of names).

        Parameters
        ----------
        columns : str or list of str
            The columns to leave out.

        Returns
        -------
        Table
            A view of the other columns, in their order.
        """
        names = [columns] if isinstance(columns, str) else list(columns)
        missing = [n for n in names if n not in self._base.columns]
        if missing:
            raise KeyError(
                f"column {missing[0]!r} is not in {self._base.backend.label}; its "
                f"columns are {self._base.columns}"
            )
        return self._select([c for c in self._base.columns if c not in names])

    # -- pickling -------------------------------------------------------------

    def __getstate__(self):
        return {
            "backend": self._base.backend.spec(),
            "columns": self._base.columns,
            "target": self._base.target,
            "allow_nan": self._base.allow_nan,
            "rows": self._rows_sel,
            "maps": self._maps,
        }

    def __setstate__(self, state):
        backend = _reopen(state["backend"])
        base = _Columns(
            backend, state["columns"], state["target"], state.get("allow_nan", False)
        )
        self.__init__(base, _rows=state["rows"], _maps=state["maps"])


# -- opening ------------------------------------------------------------------


def _frame_to_arrow(source):
    pa = _pyarrow()
    module = type(source).__module__
    if module.startswith("polars"):
        return source.to_arrow(), "a polars DataFrame"
    if module.startswith("pandas"):
        frame = source
        if not all(isinstance(c, str) for c in frame.columns):
            frame = frame.rename(columns=str)
        return pa.Table.from_pandas(frame, preserve_index=False), "a pandas DataFrame"
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source]), "an Arrow RecordBatch"
    if isinstance(source, pa.Table):
        return source, "an Arrow Table"
    return None, None


def _backend_of(source, *, format, columns, database, csv_options):
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    if isinstance(source, str) and (database is not None or format == "duckdb"):
        return _DuckDBBackend(source, database)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if format is not None and format not in ("parquet", "csv", "arrow", "feather"):
            raise ValueError(
                f"format must be 'parquet', 'csv', 'arrow' or 'duckdb', got {format!r}"
            )
        fmt = "arrow" if format == "feather" else format
        paths, fmt = _expand(path, fmt)
        if len(paths) == 1 and not os.path.isdir(path):
            label, where = f"file {paths[0]!r}", paths[0]
        elif os.path.isdir(path):
            label, where = f"directory {path!r}", path
        else:
            label, where = f"files {path!r}", None
        if fmt == "csv":
            return _csv_files(paths, label, where, columns, csv_options)
        if csv_options:
            raise TypeError(
                f"{sorted(csv_options)} apply to CSV files only, not to {fmt} files"
            )
        cls = _ParquetBackend if fmt == "parquet" else _ArrowBackend
        return cls(paths, label, where, columns)
    module = type(source).__module__
    if module.startswith(("duckdb", "_duckdb")) and hasattr(source, "aggregate"):
        return _DuckDBBackend(None, relation=source)
    if module.startswith("dask") and hasattr(source, "divisions"):
        from ._dask_table import DaskFrameBackend

        return DaskFrameBackend(source)
    table, label = _frame_to_arrow(source)
    if table is not None:
        return _MemoryBackend(table, label)
    raise TypeError(
        "open_table reads a path to a .parquet, .csv, .feather or .arrow file, a "
        "directory or glob of them, a SQL query with database=..., a DuckDB "
        f"relation, or a pandas/polars/Dask DataFrame; got {type(source).__name__}"
    )


def open_table(
    source,
    columns=None,
    *,
    format=None,
    database=None,
    sep=None,
    header="infer",
    names=None,
    na_values=None,
    keep_default_na=None,
    quotechar=None,
    dtype=None,
    encoding=None,
):
    """Open a table as a lazy :class:`Table`, reading no rows.

    Parameters
    ----------
    source : str, os.PathLike, DataFrame or DuckDB relation
        A ``.parquet``, ``.csv``, ``.feather`` or ``.arrow`` file, a
        directory or glob pattern of such files (one format), a SQL query
        (with ``database``), a DuckDB relation, a pandas or polars
        DataFrame, or a Dask DataFrame (one partition computed at a time).
        Parquet files are read row group by row group, Arrow IPC
        files are memory-mapped, CSV files and DuckDB queries are streamed
        as Arrow record batches.
    columns : list of str, default=None
        The columns to read (all by default).
    format : {"parquet", "csv", "arrow", "duckdb"}, default=None
        The format when the file names do not tell it.
    database : str, default=None
        The DuckDB database file a SQL ``source`` runs on (opened
        read-only); ``":memory:"`` for a query over files, such as
        ``"SELECT * FROM 'data/*.parquet'"``.
    sep, header, names, na_values, keep_default_na, quotechar, dtype, \
encoding : default=None
        For CSV files, as in ``pandas.read_csv``: the delimiter
        (``","``), ``header`` (``"infer"``, ``0`` or None), the column
        names, the strings read as missing values (pandas' by default), the
        quote character, the types of some columns (``{"a": "float64"}``;
        the others are inferred from the first 4 MiB of the first file, and
        hold for the other files) and the text encoding.

    Returns
    -------
    Table
        The table, lazily: ``.columns``, ``.shape``, ``T[["a", "b"]]``,
        ``T["y"]``, ``T.drop(columns=...)``.

    Raises
    ------
    ValueError
        If the files of a data set differ in their columns or types, a file
        is not readable in its format, a CSV line does not fit the columns
        or the types of the first lines, or a DuckDB query fails; the
        message names the file, row group or line, and column.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from sklearn_ooc import open_table
    >>> from sklearn_ooc.linear_model import StreamingRidge
    >>> path = os.path.join(tempfile.mkdtemp(), "data.parquet")
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    >>> frame["y"] = frame @ [1.0, 2.0, 3.0]
    >>> frame.to_parquet(path, row_group_size=25)
    >>> T = open_table(path)
    >>> T
    Table(shape=(100, 4), columns=['a', 'b', 'c', 'y'], from file '...data.parquet')
    >>> model = StreamingRidge(alpha=1e-9).fit(T.drop(columns="y"), T["y"])
    >>> model.coef_.round(6)
    array([1., 2., 3.])
    """
    options = {
        "sep": sep,
        "header": header,
        "names": names,
        "na_values": na_values,
        "keep_default_na": keep_default_na,
        "quotechar": quotechar,
        "dtype": dtype,
        "encoding": encoding,
    }
    csv_options = {k: v for k, v in options.items() if v is not None and k != "header"}
    if header != "infer":
        csv_options["header"] = header
    if columns is not None:
        columns = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    if isinstance(source, Table):
        table = source
    else:
        backend = _backend_of(
            source,
            format=format,
            columns=columns,
            database=database,
            csv_options=csv_options,
        )
        names = list(backend.schema.names)
        if columns is None:
            hidden = _index_columns(backend.schema)
            names = [n for n in names if n not in hidden]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ValueError(f"column {dup!r} appears twice in {backend.label}")
        table = Table(_Columns(backend, names))
    if columns is not None:
        table = table[columns]
    return table
