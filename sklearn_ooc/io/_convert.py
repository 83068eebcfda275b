"""Converting CSV and svmlight/libsvm text files to ``.npy``, chunk by chunk."""

from __future__ import annotations

import codecs
import csv
import io
import numbers
import os
import re

import numpy as np

from ._npy_writer import check_outputs, npy_writers

_SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")
# Fields that stand for a missing value: a row holding one is an error (a
# converter that skipped it would shift X against y), and a first line made
# of them is not a header.
_MISSING = frozenset({"", "na", "n/a", "#n/a", "null", "none", "?"})
# Dense svmlight rows held at once stay within this, however wide the file.
_CHUNK_BYTES = 64 << 20
# Files that are not text, by their first bytes, and what to do instead.
_NOT_TEXT = (
    (b"\x93NUMPY", "is a .npy file already; use it as it is"),
    (
        b"PK\x03\x04",
        "is a zip archive or an Excel workbook, not text; save the sheet as "
        "CSV (UTF-8), or unzip the file first",
    ),
    (b"\x1f\x8b", "is gzip-compressed; decompress it first (gunzip)"),
    (b"BZh", "is bzip2-compressed; decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "is xz-compressed; decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "is zstd-compressed; decompress it first (unzstd)"),
    (
        b"PAR1",
        "is a Parquet file, which the estimators read as it is; no "
        "conversion is needed",
    ),
    (
        b"\xff\xfe",
        "is UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8), or convert "
        "it: iconv -f utf-16 -t utf-8",
    ),
    (
        b"\xfe\xff",
        "is UTF-16 text; save it as UTF-8 (in Excel: CSV UTF-8), or convert "
        "it: iconv -f utf-16 -t utf-8",
    ),
)
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class ConversionError(ValueError):
    """A line of the input could not be read; names the file and the line."""


def _detect_format(path):
    name = os.fspath(path).lower()
    if name.endswith(".gz") or name.endswith(".bz2"):
        raise ValueError(f"{path}: the file is compressed; decompress it first")
    return "svmlight" if name.endswith(_SVMLIGHT_SUFFIXES) else "csv"


def _check_text(path):
    """Refuse, by its first bytes, a file that is not text."""
    with open(path, "rb") as f:
        start = f.read(8)
    for magic, message in _NOT_TEXT:
        if start.startswith(magic):
            raise ConversionError(f"{path}: the file {message}")


def _shown(text, limit=40):
    """``text`` as an error message quotes it: repr, cut to ``limit``."""
    text = text.strip()
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def _number(text, path, line_no, what):
    try:
        return float(text)
    except ValueError:
        raise ConversionError(
            f"{path}, line {line_no}: {what} {_shown(text)} is not a number; "
            "write a number there"
        ) from None


# -- CSV -------------------------------------------------------------------------


def _open_text(path):
    # "utf-8-sig" drops the byte order mark Excel's "CSV UTF-8" starts with;
    # read as text it would glue itself to the first field.
    return open(path, encoding="utf-8-sig", newline="")


def _decoding_error(path):
    """Where the first byte that is not UTF-8 is, found by reading again.

    Text is decoded a block at a time, so the error surfaces lines before the
    bad byte; reading the lines with the bytes escaped finds its line.
    """
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        for line_no, line in enumerate(f, start=1):
            bad = _NOT_UTF8.search(line)
            if bad is not None:
                return ConversionError(
                    f"{path}, line {line_no}: byte 0x{ord(bad.group()) - 0xDC00:02x} "
                    f"(character {bad.start() + 1}) is not UTF-8 text; save the "
                    "file as UTF-8 (in Excel: CSV UTF-8), or convert it, e.g. "
                    "iconv -f latin1 -t utf-8"
                )
    return ConversionError(f"{path}: the file is not UTF-8 text; save it as UTF-8")


def _records(f, path, delimiter):
    """``(first line, last line, fields)`` of each record; blank lines skipped.

    A record starts on the line after the previous one ended: the reader's
    own line count is where it stopped, one or more lines late when a quote
    is left open.
    """
    reader = csv.reader(f, delimiter=delimiter)
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _decoding_error(path) from None
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise ConversionError(
                    f"{path}, line {start}: a field is longer than "
                    f"{csv.field_size_limit():,} characters, so a quote opened on "
                    "this line is probably never closed; close the quote or "
                    "remove it"
                ) from None
            raise ConversionError(
                f"{path}, line {reader.line_num}: {exc}; check the quoting of this line"
            ) from None
        end = reader.line_num
        if row:
            yield start, end, row


def _one_line(record, path):
    """Refuse a data record that spans lines: a quote left open."""
    start, end, row = record
    if end > start:
        j = next((j for j, v in enumerate(row) if "\n" in v or "\r" in v), 0)
        raise ConversionError(
            f"{path}, line {start}: field {j + 1} opens a quote that runs on to "
            f"line {end}; close the quote on line {start} or remove it"
        )


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_name(text):
    text = text.strip()
    return text.lower() not in _MISSING and not _is_number(text)


class _CsvLayout:
    """What the first read of a CSV file found."""

    def __init__(self, path, delimiter, header):
        with _open_text(path) as f:
            try:
                sample = f.read(1 << 16)
            except UnicodeDecodeError:
                raise _decoding_error(path) from None
            if not sample.strip() and len(sample) < 1 << 16:
                raise ConversionError(f"{path}: the file is empty; nothing to convert")
            if delimiter is None:
                try:
                    delimiter = csv.Sniffer().sniff(sample, ",;\t ").delimiter
                except csv.Error:
                    delimiter = ","
            f.seek(0)
            records = _records(f, path, delimiter)
            first = next(records, None)
            if first is None:
                raise ConversionError(
                    f"{path}: the file holds only blank lines; nothing to convert"
                )
            self.first_line, _, first_row = first
            self.delimiter, self.n_columns = delimiter, len(first_row)
            self.guessed = header == "auto"
            if header == "auto":
                header = "yes" if all(_is_name(v) for v in first_row) else "no"
            self.names = None
            # Some field of a first line read as data looks like a name: it may
            # be a header with a blank or numeric column name.
            self.named = any(_is_name(v) for v in first_row)
            if header == "yes":
                self.names = [v.strip() for v in first_row]
                n_rows = 0
            else:
                _one_line(first, path)
                n_rows = 1
            for record in records:
                self.check_width(record, path)
                _one_line(record, path)
                n_rows += 1
        self.n_rows = n_rows
        if n_rows == 0:
            hint = "" if self.guessed else " (pass header='no' if that line is data)"
            raise ConversionError(
                f"{path}: no rows of data, only the header on line "
                f"{self.first_line}; nothing to convert{hint}"
            )

    def check_width(self, record, path):
        start, _, row = record
        if len(row) != self.n_columns:
            raise ConversionError(
                f"{path}, line {start}: {len(row)} fields, expected "
                f"{self.n_columns} as on line {self.first_line}; check the "
                f"delimiter ({self.delimiter!r}) and the quotes of this line"
            )

    def hint(self, line_no):
        """Why a first line was read as data, when it may have been meant as
        the header."""
        if (
            self.guessed
            and self.named
            and self.names is None
            and line_no == self.first_line
        ):
            return (
                f" (line {line_no} was read as data, as not all its fields are "
                "names; if it is the header, pass header='yes', --header yes)"
            )
        return ""


def _target_column(target, layout, path):
    if target is None:
        return None
    names, n_columns = layout.names, layout.n_columns
    if isinstance(target, str) and names is not None:
        hits = [j for j, name in enumerate(names) if name == target.strip()]
        if len(hits) > 1:
            raise ValueError(
                f"{path}: the header names {target.strip()!r} {len(hits)} times "
                f"(fields {', '.join(str(j + 1) for j in hits)}); pass the index "
                "of the target column instead"
            )
        if hits:
            return hits[0]
    try:
        if isinstance(target, bool) or not isinstance(target, (str, numbers.Integral)):
            raise TypeError
        column = int(target)
    except (TypeError, ValueError):
        if names is None:
            raise ValueError(
                f"{path}: no column named {target!r}, as the file has no header "
                f"line{layout.hint(layout.first_line)}; pass the index of the "
                f"target column (0 to {n_columns - 1}, negative from the end)"
            ) from None
        shown = ", ".join(repr(n) for n in names[:20])
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        raise ValueError(
            f"{path}: no column named {target!r}; the columns are {shown}{more}; "
            "pass one of these names or an index"
        ) from None
    if not -n_columns <= column < n_columns:
        raise ValueError(
            f"{path}: column {column} is out of range for {n_columns} columns; "
            f"pass an index from {-n_columns} to {n_columns - 1}"
        )
    return column % n_columns


def _field_error(path, line_no, j, text, layout):
    column = f"field {j + 1}"
    if layout.names is not None:
        column += f" ({layout.names[j]!r})"
    value = text.strip()
    if value.lower() in _MISSING:
        what = "is empty" if not value else f"is {value!r}"
        todo = (
            "a missing value; fill it in or remove the row first (no row is "
            "skipped, so that X and y stay aligned)"
        )
        return ConversionError(
            f"{path}, line {line_no}: {column} {what}, {todo}{layout.hint(line_no)}"
        )
    return ConversionError(
        f"{path}, line {line_no}: {column} is {_shown(text)}, not a number; write "
        f"a number there, or check the delimiter ({layout.delimiter!r})"
        f"{layout.hint(line_no)}"
    )


def _parse_rows(rows, line_nos, layout, path):
    """A float block from CSV rows; the first bad field is named by its line."""
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        for row, line_no in zip(rows, line_nos, strict=True):
            for j, field in enumerate(row):
                if not _is_number(field):
                    raise _field_error(path, line_no, j, field, layout) from None
        raise


def _csv_chunks(path, layout, chunk_rows):
    """Float rows of the file, ``chunk_rows`` at a time (blank lines skipped)."""
    with _open_text(path) as f:
        records = _records(f, path, layout.delimiter)
        if layout.names is not None:
            next(records)
        rows, line_nos = [], []
        for record in records:
            # Read again: the file may have changed since it was counted.
            layout.check_width(record, path)
            _one_line(record, path)
            rows.append(record[2])
            line_nos.append(record[0])
            if len(rows) == chunk_rows:
                yield _parse_rows(rows, line_nos, layout, path)
                rows, line_nos = [], []
        if rows:
            yield _parse_rows(rows, line_nos, layout, path)


def _convert_csv(path, prefix, target, dtype, chunk_rows, delimiter, header, overwrite):
    X_path, y_path = f"{prefix}_X.npy", f"{prefix}_y.npy"
    outputs = [X_path] if target is None else [X_path, y_path]
    check_outputs(outputs, [path], overwrite=overwrite)
    layout = _CsvLayout(path, delimiter, header)
    column = _target_column(target, layout, path)
    n_rows, n_columns = layout.n_rows, layout.n_columns
    specs = [(X_path, (n_rows, n_columns - (column is not None)), dtype)]
    if column is not None:
        specs.append((y_path, (n_rows,)))
    keep = [j for j in range(n_columns) if j != column]
    with npy_writers(*specs, overwrite=overwrite) as writers:
        for block in _csv_chunks(path, layout, chunk_rows):
            writers[0].write(block[:, keep])
            if column is not None:
                writers[1].write(block[:, column])
    return X_path, (y_path if column is not None else None)


# -- svmlight ------------------------------------------------------------------


def _text(data):
    return data.decode("utf-8", "backslashreplace")


def _svmlight_fields(line, path, line_no):
    """Label and (index, value) pairs of one svmlight line, or None if blank.

    The line is bytes: numbers are ASCII, and comments may be in any
    encoding.
    """
    if line_no == 1 and line.startswith(codecs.BOM_UTF8):
        line = line[len(codecs.BOM_UTF8) :]
    content = line.split(b"#", 1)[0].split()
    if not content:
        return None
    if b":" in content[0]:
        raise ConversionError(
            f"{path}, line {line_no}: the line starts with {_text(content[0])!r}, "
            "not a label; every line starts with its label (y)"
        )
    label = _number(_text(content[0]), path, line_no, "label")
    pairs, seen = [], {}
    for item in content[1:]:
        if item.startswith(b"qid:"):
            continue
        index, sep, value = item.partition(b":")
        if not sep or not index.isdigit():
            raise ConversionError(
                f"{path}, line {line_no}: {_text(item)!r} is not an index:value "
                "pair; write features as index:value, e.g. 3:0.5"
            )
        index = int(index)
        if index in seen:
            raise ConversionError(
                f"{path}, line {line_no}: feature {index} appears twice "
                f"({seen[index]} and {_text(item)}); list each feature once per "
                "line"
            )
        seen[index] = _text(item)
        pairs.append((index, _number(_text(value), path, line_no, "value")))
    return label, pairs


class _SvmlightLayout:
    """Rows and features of an svmlight file, in one read."""

    def __init__(self, path, n_features):
        n_rows, lowest, highest, highest_line = 0, None, -1, None
        with open(path, "rb") as f:
            for line_no, line in enumerate(f, start=1):
                fields = _svmlight_fields(line, path, line_no)
                if fields is None:
                    continue
                n_rows += 1
                for index, _ in fields[1]:
                    lowest = index if lowest is None else min(lowest, index)
                    if index > highest:
                        highest, highest_line = index, line_no
        if n_rows == 0:
            raise ConversionError(
                f"{path}: the file holds no rows, only blank or comment lines; "
                "nothing to convert"
            )
        # libsvm counts features from 1; a 0 anywhere means the file counts
        # from 0.
        self.offset = 0 if lowest == 0 else 1
        found = max(0, highest + 1 - self.offset)
        if n_features is not None and n_features < found:
            raise ConversionError(
                f"{path}, line {highest_line}: feature {highest} is beyond "
                f"n_features={n_features}; raise n_features to at least {found} "
                "or leave it out"
            )
        self.n_rows = n_rows
        self.n_features = found if n_features is None else n_features


def _convert_svmlight(path, prefix, n_features, dtype, chunk_rows, overwrite):
    X_path, y_path = f"{prefix}_X.npy", f"{prefix}_y.npy"
    check_outputs([X_path, y_path], [path], overwrite=overwrite)
    layout = _SvmlightLayout(path, n_features)
    n_rows, n_features, offset = layout.n_rows, layout.n_features, layout.offset
    # Dense rows of a wide file (text features) take n_features floats each.
    chunk_rows = max(1, min(chunk_rows, _CHUNK_BYTES // max(1, 8 * n_features)))
    with (
        npy_writers(
            (X_path, (n_rows, n_features), dtype),
            (y_path, (n_rows,)),
            overwrite=overwrite,
        ) as writers,
        open(path, "rb") as f,
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
                    # Possible only if the file changed since it was counted.
                    raise ConversionError(
                        f"{path}, line {line_no}: feature {index} is beyond "
                        f"n_features={n_features}; the file changed while it "
                        "was read, convert it again"
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
    return X_path, y_path


# -- both ----------------------------------------------------------------------


def _check_arguments(dtype, chunk_rows, header, delimiter, n_features):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, numbers.Integral):
        raise ValueError(f"chunk_rows must be a whole number, got {chunk_rows!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    header = {True: "yes", False: "no"}.get(header, header)
    if header not in ("auto", "yes", "no"):
        raise ValueError(f"header must be 'auto', 'yes' or 'no', got {header!r}")
    if delimiter is not None and (
        not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n'
    ):
        raise ValueError(
            f"delimiter must be one character other than a quote or a newline, "
            f"got {delimiter!r}"
        )
    if n_features is not None and (
        isinstance(n_features, bool)
        or not isinstance(n_features, numbers.Integral)
        or n_features < 0
    ):
        raise ValueError(f"n_features must be a whole number >= 0, got {n_features!r}")
    return dtype, int(chunk_rows), header


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
    header="auto",
    overwrite=False,
):
    """Convert a CSV or svmlight/libsvm file to ``.npy`` files, chunk by chunk.

    The input is read twice: once to count the rows (and, for svmlight, the
    features), then chunk by chunk into ``{output_prefix}_X.npy`` and
    ``{output_prefix}_y.npy``; only ``chunk_rows`` rows are in memory at a
    time. Every row is converted or the conversion fails: a malformed line,
    a missing value (an empty field, ``NA``) or a field that is not a number
    raises :class:`ConversionError` naming its line, and no output file is
    written or replaced: outputs are written under temporary names and
    appear only when complete, ``X`` and ``y`` together. The literal ``nan``
    is a number (NaN), kept as it is.

    CSV files are read as UTF-8; the byte order mark of Excel's "CSV UTF-8"
    is dropped. Blank lines are skipped.

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
        Rows parsed and written at a time (svmlight: fewer when the dense
        rows of a chunk would exceed about 64 MB).
    file_format : {'csv', 'svmlight'}, default=None
        Taken from the file name (``.svm``, ``.svmlight``, ``.libsvm`` are
        svmlight) if ``None``.
    delimiter : str, default=None
        CSV field separator; sniffed from the file if ``None``.
    n_features : int, default=None
        svmlight: the width of ``X`` (the largest index seen if ``None``).
    header : {'auto', 'yes', 'no'} or bool, default='auto'
        CSV: whether the first line names the columns. ``'auto'`` takes it
        for a header only when every field of it is a name: not a number and
        not empty or a missing-value marker such as ``NA``; otherwise it is
        data (a first line that mixes names and numbers is then an error that
        says to pass ``'yes'``).
    overwrite : bool, default=False
        Replace outputs that exist; otherwise they are an error
        (:class:`FileExistsError`), raised before anything is written. An
        output that is the input is refused either way.

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
    dtype, chunk_rows, header = _check_arguments(
        dtype, chunk_rows, header, delimiter, n_features
    )
    prefix = os.fspath(output_prefix)
    file_format = file_format or _detect_format(input_path)
    if file_format not in ("csv", "svmlight"):
        raise ValueError(
            f"file_format must be 'csv' or 'svmlight', got {file_format!r}"
        )
    # Options of the other format are refused rather than ignored: a target
    # column asked of an svmlight file would silently not be the one used.
    if file_format == "svmlight":
        other = "CSV"
        given = {
            "target": target is not None,
            "delimiter": delimiter is not None,
            "header": header != "auto",
        }
    else:
        other, given = "svmlight", {"n_features": n_features is not None}
    for name, is_given in given.items():
        if is_given:
            raise ValueError(
                f"{name} applies to {other} files only, and {input_path!r} is "
                f"read as {file_format}; leave {name} out, or pass file_format"
            )
    _check_text(input_path)
    if file_format == "svmlight":
        return _convert_svmlight(
            input_path, prefix, n_features, dtype, chunk_rows, overwrite
        )
    return _convert_csv(
        input_path, prefix, target, dtype, chunk_rows, delimiter, header, overwrite
    )


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
