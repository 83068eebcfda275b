"""Converting CSV and svmlight/libsvm text files to ``.npy``, chunk by chunk."""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from ._npy_writer import npy_writers

_SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")


class ConversionError(ValueError):
    """A line of the input could not be read; names the file and the line."""


def _detect_format(path):
    name = os.fspath(path).lower()
    if name.endswith(".gz") or name.endswith(".bz2"):
        raise ValueError(f"{path!r}: decompress the file first")
    return "svmlight" if name.endswith(_SVMLIGHT_SUFFIXES) else "csv"


def _number(text, path, line_no, what):
    try:
        return float(text)
    except ValueError:
        raise ConversionError(
            f"{path}:{line_no}: {what} {text.strip()!r} is not a number"
        ) from None


# -- CSV -------------------------------------------------------------------------


def _csv_layout(path, delimiter):
    """Dialect, header and row count of a CSV file, in one read."""
    with open(path, newline="") as f:
        sample = f.read(1 << 16)
        if not sample.strip():
            raise ConversionError(f"{path}: the file is empty")
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t ").delimiter
            except csv.Error:
                delimiter = ","
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter)
        first = next(reader)
        try:
            [float(field) for field in first]
            header = None
        except ValueError:
            header = [field.strip() for field in first]
        n_rows = 0 if header else 1
        for row in reader:
            if row:
                n_rows += 1
    return delimiter, header, len(first), n_rows


def _target_column(target, header, n_columns, path):
    if target is None:
        return None
    if header is not None and target in header:
        return header.index(target)
    try:
        column = int(target)
    except ValueError:
        raise ValueError(
            f"{path}: no column named {target!r} (columns: {header})"
        ) from None
    if not -n_columns <= column < n_columns:
        raise ValueError(f"{path}: column {column} out of range ({n_columns} columns)")
    return column % n_columns


def _parse_rows(rows, line_nos, n_columns, path):
    """A float block from CSV rows; the first bad field is named by its line."""
    for row, line_no in zip(rows, line_nos, strict=True):
        if len(row) != n_columns:
            raise ConversionError(
                f"{path}:{line_no}: {len(row)} fields, expected {n_columns}"
            )
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        for row, line_no in zip(rows, line_nos, strict=True):
            for j, field in enumerate(row):
                _number(field, path, line_no, f"field {j + 1}")
        raise


def _csv_chunks(path, delimiter, header, n_columns, chunk_rows):
    """Float rows of the file, ``chunk_rows`` at a time (blank lines skipped)."""
    with open(path, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        if header is not None:
            next(reader)
        rows, line_nos = [], []
        for row in reader:
            if not row:
                continue
            rows.append(row)
            line_nos.append(reader.line_num)
            if len(rows) == chunk_rows:
                yield _parse_rows(rows, line_nos, n_columns, path)
                rows, line_nos = [], []
        if rows:
            yield _parse_rows(rows, line_nos, n_columns, path)


def _convert_csv(path, prefix, target, dtype, chunk_rows, delimiter):
    delimiter, header, n_columns, n_rows = _csv_layout(path, delimiter)
    column = _target_column(target, header, n_columns, path)
    n_features = n_columns - (column is not None)
    specs = [(f"{prefix}_X.npy", (n_rows, n_features), dtype)]
    if column is not None:
        specs.append((f"{prefix}_y.npy", (n_rows,)))
    keep = [j for j in range(n_columns) if j != column]
    with npy_writers(*specs) as writers:
        for block in _csv_chunks(path, delimiter, header, n_columns, chunk_rows):
            writers[0].write(block[:, keep])
            if column is not None:
                writers[1].write(block[:, column])
    return [w.path for w in writers] + [None] * (2 - len(writers))


# -- svmlight ------------------------------------------------------------------


def _svmlight_fields(line, path, line_no):
    """Label and (index, value) pairs of one svmlight line, or None if blank."""
    content = line.split("#", 1)[0].split()
    if not content:
        return None
    label = _number(content[0], path, line_no, "label")
    pairs = []
    for item in content[1:]:
        if item.startswith("qid:"):
            continue
        index, sep, value = item.partition(":")
        if not sep or not index.isdigit():
            raise ConversionError(
                f"{path}:{line_no}: {item!r} is not an index:value pair"
            )
        pairs.append((int(index), _number(value, path, line_no, "value")))
    return label, pairs


def _svmlight_layout(path):
    n_rows, lowest, highest = 0, None, -1
    with open(path) as f:
        for line_no, line in enumerate(f, start=1):
            fields = _svmlight_fields(line, path, line_no)
            if fields is None:
                continue
            n_rows += 1
            for index, _ in fields[1]:
                lowest = index if lowest is None else min(lowest, index)
                highest = max(highest, index)
    if n_rows == 0:
        raise ConversionError(f"{path}: the file holds no rows")
    # libsvm counts features from 1; a 0 anywhere means the file counts from 0.
    offset = 0 if lowest == 0 else 1
    return n_rows, offset, max(0, highest + 1 - offset)


def _convert_svmlight(path, prefix, n_features, dtype, chunk_rows):
    n_rows, offset, found = _svmlight_layout(path)
    n_features = found if n_features is None else n_features
    with (
        npy_writers(
            (f"{prefix}_X.npy", (n_rows, n_features), dtype),
            (f"{prefix}_y.npy", (n_rows,)),
        ) as writers,
        open(path) as f,
    ):
        rows, labels = np.zeros((chunk_rows, n_features)), np.empty(chunk_rows)
        filled = 0
        for line_no, line in enumerate(f, start=1):
            fields = _svmlight_fields(line, path, line_no)
            if fields is None:
                continue
            labels[filled], pairs = fields
            for index, value in pairs:
                if index - offset >= n_features:
                    raise ConversionError(
                        f"{path}:{line_no}: feature {index} beyond n_features="
                        f"{n_features}"
                    )
                rows[filled, index - offset] = value
            filled += 1
            if filled == chunk_rows:
                writers[0].write(rows)
                writers[1].write(labels)
                rows[:] = 0.0
                filled = 0
        writers[0].write(rows[:filled])
        writers[1].write(labels[:filled])
    return writers[0].path, writers[1].path


def convert(
    input_path,
    output_prefix,
    *,
    target=None,
    dtype=np.float64,
    chunk_rows=65536,
    file_format=None,
    delimiter=None,
    n_features=None,
):
    """Convert a CSV or svmlight/libsvm file to ``.npy`` files, chunk by chunk.

    The input is read twice: once to count the rows (and, for svmlight, the
    features), then chunk by chunk into ``{output_prefix}_X.npy`` and
    ``{output_prefix}_y.npy``; only ``chunk_rows`` rows are in memory at a
    time. A malformed line raises :class:`ConversionError` naming its line
    number, and no output file is left behind: outputs are written under
    temporary names and appear only when complete.

    Parameters
    ----------
    input_path : str or os.PathLike
        The text file.
    output_prefix : str or os.PathLike
        Prefix of the outputs.
    target : str or int, default=None
        CSV: the column holding ``y`` (a header name or an index, negative
        from the end); ``None`` writes ``X`` only. svmlight files always
        give ``y``: their labels.
    dtype : {float32, float64}, default=float64
        Element type of ``X``; ``y`` is float64.
    chunk_rows : int, default=65536
        Rows parsed and written at a time.
    file_format : {'csv', 'svmlight'}, default=None
        Taken from the file name (``.svm``, ``.svmlight``, ``.libsvm`` are
        svmlight) if ``None``.
    delimiter : str, default=None
        CSV field separator; sniffed from the file if ``None``.
    n_features : int, default=None
        svmlight: the width of ``X`` (the largest index seen if ``None``).

    Returns
    -------
    X_path : str
    y_path : str or None

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from sklearn_ooc.io import convert
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "data.csv"), "w") as f:
    ...     _ = f.write("a,b,label\\n1,2,0\\n3,4,1\\n")
    >>> X_path, y_path = convert(os.path.join(d, "data.csv"), os.path.join(d, "out"),
    ...                          target="label")
    >>> np.load(X_path).tolist(), np.load(y_path).tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [0.0, 1.0])
    """
    input_path = os.fspath(input_path)
    if not os.path.isfile(input_path):
        raise FileNotFoundError(f"{input_path!r} does not exist or is not a file")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    prefix = os.fspath(output_prefix)
    file_format = file_format or _detect_format(input_path)
    if file_format == "svmlight":
        return _convert_svmlight(input_path, prefix, n_features, dtype, chunk_rows)
    if file_format != "csv":
        raise ValueError(
            f"file_format must be 'csv' or 'svmlight', got {file_format!r}"
        )
    return tuple(_convert_csv(input_path, prefix, target, dtype, chunk_rows, delimiter))


def describe_npy(path):
    """A short description of a ``.npy`` file, read from its header only."""
    from ..data import open_npy

    array = open_npy(path)
    size = os.path.getsize(path)
    out = io.StringIO()
    out.write(f"{os.fspath(path)}\n")
    out.write(f"  shape  {array.shape}\n")
    out.write(f"  dtype  {array.dtype}\n")
    order = (
        "Fortran (column-major)"
        if array.flags.f_contiguous and array.ndim > 1
        else ("C (row-major)")
    )
    out.write(f"  order  {order}\n")
    out.write(f"  size   {size:,} bytes ({size / 1e6:,.1f} MB)\n")
    if array.ndim == 2 and array.shape[1]:
        out.write(f"  row    {array.dtype.itemsize * array.shape[1]:,} bytes\n")
    return out.getvalue()
