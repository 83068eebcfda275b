"""Converting tables (Parquet, Arrow, CSV) and svmlight/libsvm files to ``.npy``,
chunk by chunk."""

from __future__ import annotations

import ast
import codecs
import contextlib
import csv
import io
import json
import numbers
import os
import re

import numpy as np

from ..data._npy import columns_path, read_columns  # noqa: F401 (public here too)
from ..data._progress import Progress
from ..data._scratch import scratch_path
from ..data._table import PANDAS_NA_VALUES, TABLE_SUFFIXES, _is_glob
from ._npy_writer import NpyWriter, check_outputs, commit_together, npy_writers

_SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")
# Fields that stand for a missing value: a row holding one is an error (a
# converter that skipped it would shift X against y), and a first line made
# of them is not a header.
_MISSING = frozenset(
    {"", "na", "n/a", "#n/a", "null", "none", "?"}
    | {v.lower() for v in PANDAS_NA_VALUES}
)
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
        "is a Parquet file, not CSV; name it .parquet or pass "
        "file_format='parquet' (--format parquet)",
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
    if name.endswith(_SVMLIGHT_SUFFIXES):
        return "svmlight"
    fmt = TABLE_SUFFIXES.get(os.path.splitext(name)[1])
    if fmt is not None:
        return fmt
    if os.path.isdir(path) or (_is_glob(name) and not os.path.exists(path)):
        return None  # the files found tell it
    return "csv"


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


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_name(text):
    text = text.strip()
    return text.lower() not in _MISSING and not _is_number(text)


# -- tables: Parquet, Arrow IPC and CSV, read through open_table -----------------

#: Input formats read through :func:`~sklearn_ooc.open_table`.
_TABLE_FORMATS = ("csv", "parquet", "arrow")


class _CsvDialect:
    """The delimiter and header of a CSV file, from its first lines."""

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
            first = next(_records(f, path, delimiter), None)
        if first is None:
            raise ConversionError(
                f"{path}: the file holds only blank lines; nothing to convert"
            )
        self.delimiter = delimiter
        self.first_line, _, row = first
        self.header_fields = row
        self.guessed = header == "auto"
        if header == "auto":
            header = "yes" if all(_is_name(v) for v in row) else "no"
        self.has_header = header == "yes"
        # Some field of a first line read as data looks like a name: it may
        # be a header with a blank or numeric column name.
        self.named = any(_is_name(v) for v in row)

    def hint(self, line_no):
        """Why a first line was read as data, when it may be the header."""
        if (
            self.guessed
            and self.named
            and not self.has_header
            and line_no == self.first_line
        ):
            return (
                f" (line {line_no} was read as data, as not all its fields are "
                "names; if it is the header, pass header='yes', --header yes)"
            )
        return ""


def _csv_record(path, delimiter, has_header, row):
    """``(first line, last line, fields)`` of the data row ``row`` of a CSV
    file, read again as text (only to name the line of an error; blank lines
    are not rows), or None."""
    with _open_text(path) as f:
        records = _records(f, path, delimiter)
        if has_header:
            next(records, None)
        for k, record in enumerate(records):
            if k == row:
                return record
    return None


def _record_at(path, delimiter, number):
    """``(first line, last line, fields)`` of the record ``number`` (1-based,
    the header included), or None."""
    with _open_text(path) as f:
        for k, record in enumerate(_records(f, path, delimiter), start=1):
            if k == number:
                return record
    return None


def _record_on(path, delimiter, line):
    """``(first line, last line, fields)`` of the record that starts on line
    ``line``, or None."""
    with _open_text(path) as f:
        for record in _records(f, path, delimiter):
            if record[0] >= line:
                return record if record[0] == line else None
    return None


def _open_quote(path, record, j=None):
    """The error for a record that runs on over lines because a quote is left
    open (in field ``j`` if given, else in any field), or None."""
    start, end, fields = record
    if end <= start:
        return None
    spans = [k for k, v in enumerate(fields) if "\n" in v or "\r" in v]
    if j is not None:
        spans = [k for k in spans if k == j]
    if not spans or not _quote_left_open(path, start, end):
        return None
    return ConversionError(
        f"{path}, line {start}: field {spans[0] + 1} opens a quote that runs on "
        f"to line {end}; close the quote on line {start} or remove it"
    )


def _quote_left_open(path, start, end):
    """Whether the lines ``start`` to ``end`` hold an odd number of quotes: a
    quote opened and never closed, rather than quoted text over lines."""
    quotes = 0
    with _open_text(path) as f:
        for line_no, line in enumerate(f, start=1):
            if line_no > end:
                break
            if line_no >= start:
                quotes += line.count('"')
    return quotes % 2 == 1


def _field_name(dialect, j, name):
    """``field 2 ('b')`` (the field's place on its line and its column name),
    or ``field 2`` in a file without header."""
    if dialect.has_header:
        return f"field {j + 1} ({name!r})"
    return f"field {j + 1}"


_READER_LINE = re.compile(r"^file '(.*)', line (\d+)([:,] .*)$", re.S)
_READER_WIDTH = re.compile(r"Expected (\d+) columns, got (\d+)")
_READER_COLUMN = re.compile(r"^, column ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"): ")
_READER_TYPE = re.compile(r"The column was read as (\S+) ")


class _Widen(Exception):
    """A column inferred as integers holds a fraction further down: read it
    as floats (open the table again)."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


def _reader_error(dialect, path, line, rest):
    """Our diagnosis of the CSV reader's error on line ``line``, or None to
    keep the reader's message."""
    try:
        record = _record_on(path, dialect.delimiter, line)
    except (OSError, ValueError) as exc:
        return exc if isinstance(exc, ConversionError) else None
    if record is None:
        return None
    start, _, fields = record
    width = _READER_WIDTH.search(rest)
    if width is not None:
        error = _open_quote(path, record)
        if error is not None:
            return error
        first = _record_at(path, dialect.delimiter, 1)
        expected = int(width.group(1))
        found = len(fields) if len(fields) != expected else int(width.group(2))
        return ConversionError(
            f"{path}, line {start}: {found} fields, expected {expected} as on "
            f"line {first[0] if first else 1}; check the delimiter "
            f"({dialect.delimiter!r}) and the quotes of this line"
        )
    column = _READER_COLUMN.match(rest)
    if column is None:
        return None
    name = ast.literal_eval(column.group(1))
    header = [v.strip() for v in dialect.header_fields]
    if dialect.has_header:
        j = header.index(name) if name in header else None
    else:
        j = int(name) if name.isdigit() else None
    if j is None or j >= len(fields):
        return None
    error = _open_quote(path, record, j)
    if error is not None:
        return error
    text = fields[j].strip()
    typ = _READER_TYPE.search(rest)
    typ = "" if typ is None else typ.group(1)
    if typ.startswith(("int", "uint")) and _is_number(text):
        # The first lines held whole numbers only.
        return _Widen(name)
    return ConversionError(
        f"{path}, line {start}: {_field_name(dialect, j, name)} is {_shown(text)}, "
        f"not a number; write a number there, or check the delimiter "
        f"({dialect.delimiter!r}){dialect.hint(start)}"
    )


@contextlib.contextmanager
def _csv_lines(dialect):
    """Say what is wrong with a line the CSV reader refused, in the terms of
    the other errors (the table names the line an editor shows)."""
    try:
        yield
    except ConversionError:
        raise
    except ValueError as exc:
        found = None if dialect is None else _READER_LINE.match(str(exc))
        if found is None:
            raise
        path, line, rest = found.group(1), int(found.group(2)), found.group(3)
        error = _reader_error(dialect, path, line, rest)
        if isinstance(error, _Widen):
            raise error from None
        if error is not None:
            raise error from exc
        raise ConversionError(f"{path}, line {line}{rest}") from exc


class _Where:
    """Where a row of a table is, for messages: its CSV line, or its row group."""

    def __init__(self, table, label, dialect):
        self.table = table
        # The files of CSV data, to name an editor's line (the reader
        # counts records).
        self.backend = table._base.backend
        self.names = table.columns
        self.label = label
        self.dialect = dialect

    def csv_line(self, row):
        """``(path, (first line, last line, fields))`` of the row ``row`` of the
        CSV files (the record None if not found)."""
        backend, local = self.backend, row
        parts = getattr(backend, "parts", None)
        if parts is not None:
            i = int(np.searchsorted(backend.offsets, row, side="right")) - 1
            backend, local = parts[i], row - int(backend.offsets[i])
        record = _csv_record(
            backend.path, self.dialect.delimiter, self.dialect.has_header, local
        )
        return backend.path, record

    def value(self, row, name, shown):
        """``"PLACE: field 2 ('c') is WHAT"`` for the value of ``name`` at
        ``row``, and the hint that goes with it."""
        if self.dialect is None:
            place = f"{self.table.where(row)} (row {row} of the table)"
            return f"{place}: column {name!r} is {shown}", ""
        path, record = self.csv_line(row)
        if record is None:
            return f"{path}, row {row}: column {name!r} is {shown}", ""
        line, _, fields = record
        j = self.names.index(name)
        if j < len(fields):
            error = _open_quote(path, record, j)
            if error is not None:
                raise error
            text = fields[j].strip()
            shown = "empty" if not text else _shown(text)
        return (
            f"{path}, line {line}: {_field_name(self.dialect, j, name)} is {shown}",
            self.dialect.hint(line),
        )


def _kind(pa, typ):
    """``"number"``, ``"category"`` (text) or None, for an Arrow type."""
    t = pa.types
    if t.is_dictionary(typ):
        return _kind(pa, typ.value_type)
    if (
        t.is_boolean(typ)
        or t.is_integer(typ)
        or t.is_floating(typ)
        or t.is_decimal(typ)
        or t.is_null(typ)
    ):
        return "number"
    if t.is_string(typ) or t.is_large_string(typ) or t.is_string_view(typ):
        return "category"
    return None


def _column_of(key, names, label, what, dialect):
    """The name of the column ``key``: a name, or an index (negative from the end)."""
    if isinstance(key, str) and key.strip() in names:
        return key.strip()
    n = len(names)
    try:
        if isinstance(key, bool) or not isinstance(key, (str, numbers.Integral)):
            raise TypeError
        index = int(key)
    except (TypeError, ValueError):
        if dialect is not None and not dialect.has_header:
            raise ValueError(
                f"{label}: no column named {key!r}, as the file has no header "
                f"line{dialect.hint(dialect.first_line)}; pass the index of the "
                f"{what} column (0 to {n - 1}, negative from the end)"
            ) from None
        shown = ", ".join(repr(c) for c in names[:20])
        more = f" and {n - 20} more" if n > 20 else ""
        raise ValueError(
            f"{label}: no column named {key!r}; the columns are {shown}{more}; "
            "pass one of these names or an index"
        ) from None
    if not -n <= index < n:
        raise ValueError(
            f"{label}: column {index} is out of range for {n} columns; pass an "
            f"index from {-n} to {n - 1}"
        )
    return names[index % n]


def _x_columns(names, columns, drop, target, label, dialect):
    """The names of the columns of ``X``, in the order of ``columns`` or of the
    table."""

    def resolve(keys, what):
        found = [_column_of(k, names, label, what, dialect) for k in keys]
        twice = next((c for c in found if found.count(c) > 1), None)
        if twice is not None:
            raise ValueError(f"{label}: column {twice!r} is named twice in {what}")
        return found

    chosen = list(names) if columns is None else resolve(columns, "columns")
    dropped = resolve(drop or [], "drop")
    if target is not None:
        for keys, what in ((columns, "columns"), (drop, "drop")):
            if keys is not None and target in resolve(keys, what):
                raise ValueError(
                    f"{label}: the target column {target!r} is also in {what}; "
                    f"leave it out of {what} (the target is never a column of X)"
                )
    chosen = [c for c in chosen if c != target and c not in dropped]
    if not chosen:
        raise ValueError(
            f"{label}: no column is left for X once the target and the dropped "
            "columns are taken out"
        )
    return chosen


# A number as the CSV reader reads one; a value of a text column that is not
# one is named in the error (spaces and tabs around it are tolerated; a line
# break is not: it comes from a quote left open).
_NUMBER = (
    r"^[ \t]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \t]*$"
    r"|^[ \t]*[+-]?(inf|infinity|nan)[ \t]*$"
)


def _first_problem(pa, part, lo, checks):
    """``(row, name, kind)`` of the first value of ``part`` (rows from ``lo``)
    that is missing (``kind`` "missing") or text that is not a number
    ("text"), in the order of the file: by row, then by column; or None.

    ``checks`` holds ``(name, position, nulls, text)``: which columns to
    check for which.
    """
    import pyarrow.compute as pc

    best = None
    for name, position, nulls, text in checks:
        column = part.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        bad = None
        if nulls and column.null_count:
            bad = pc.is_null(column)
        if text:
            odd = pc.invert(pc.match_substring_regex(column, _NUMBER, ignore_case=True))
            odd = pc.fill_null(odd, False)
            bad = odd if bad is None else pc.or_(bad, odd)
        if bad is None:
            continue
        k = pc.index(bad, True).as_py()
        if k < 0:
            continue
        kind = "text" if column[k].is_valid else "missing"
        if best is None or (k, position) < best[:2]:
            best = (k, position, name, kind)
    return None if best is None else (lo + best[0], best[2], best[3])


def _text_column_error(where, view, checks, name, typ, chunk_rows, label, target):
    """The error for the text column ``name`` of ``X`` (``encode`` not given):
    in a CSV file, the first value in the file that is not a number (or a
    missing value before it)."""
    import pyarrow as pa

    todo = (
        f"leave the column out (drop=[{name!r}], --drop {name}) or encode it "
        "(encode='ordinal' or 'onehot', --encode)"
    )
    if where.dialect is not None:
        n_rows = len(view)
        for start in range(0, n_rows, chunk_rows):
            part = view.read_arrow(start, min(n_rows, start + chunk_rows))
            found = _first_problem(pa, part, start, checks)
            if found is None:
                continue
            row, bad, kind = found
            if kind == "missing":
                return _missing_error(where, row, bad, is_target=bad == target)
            place, hint = where.value(row, bad, "text")
            todo = (
                f"leave the column out (drop=[{bad!r}], --drop {bad}) or encode "
                "it (encode='ordinal' or 'onehot', --encode)"
            )
            return ConversionError(
                f"{place}, not a number; write a number there, or check the "
                f"delimiter ({where.dialect.delimiter!r}), or {todo}{hint}"
            )
    return ConversionError(
        f"{label}: column {name!r} holds {typ} (text), not numbers; {todo}"
    )


def _missing_error(where, row, name, *, is_target):
    place, hint = where.value(row, name, "null")
    if is_target:
        todo = "fill it in or remove the row first: every row needs its target"
    else:
        todo = (
            "fill it in or remove the row first (no row is skipped, so that X "
            "and y stay aligned), or pass na='nan' (--na nan) to write NaN"
        )
    return ConversionError(f"{place}, a missing value; {todo}{hint}")


def _as_floats(pa, column):
    """A column of an Arrow table as float64 NumPy values (NaN for nulls)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)


class _TextOutput:
    """A small text file put in place with the ``.npy`` outputs, by
    :func:`commit_together` (the interface of :class:`NpyWriter` it uses)."""

    def __init__(self, path, text):
        self.path = os.fspath(path)
        directory, name = os.path.split(os.path.abspath(self.path))
        self.tmp_path = scratch_path(directory, name)
        self.text = text
        self._done = False

    def finish(self):
        if self._done:
            return
        try:
            with open(self.tmp_path, "w", encoding="utf-8") as f:
                f.write(self.text)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            self.abort()
            raise
        self._done = True

    def abort(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp_path)


def _progress_bar(enabled, total, desc, unit_bytes=None):
    """The progress of a conversion: ``True`` or ``"auto"`` a bar on a
    terminal and plain lines elsewhere; ``"bar"``, ``"lines"``; ``False`` or
    ``"off"`` nothing. ``unit_bytes``: bytes a row writes (lines give the
    volume and its rate)."""
    if enabled is False or enabled is None or enabled == "off":
        return contextlib.nullcontext(None)
    mode = "auto" if enabled is True else enabled
    return Progress(total, desc, mode=mode, unit_bytes=unit_bytes)


def _encoder(encode, cats):
    """The streaming encoder of ``encode`` for the text columns ``cats``."""
    try:
        from ..preprocessing import OOCOneHotEncoder, OOCOrdinalEncoder
    except ImportError:
        raise ValueError(
            f"encode={encode!r} needs the streaming encoders "
            "(sklearn_ooc.preprocessing.OOCOrdinalEncoder, OOCOneHotEncoder), "
            "which this installation lacks; drop the text columns instead "
            f"({', '.join(repr(c) for c in cats)})"
        ) from None
    if encode == "ordinal":
        return OOCOrdinalEncoder()
    return OOCOneHotEncoder(sparse_output=False, handle_unknown="error")


def _convert_table(
    source,
    paths,
    fmt,
    prefix,
    *,
    target,
    dtype,
    chunk_rows,
    delimiter,
    header,
    columns,
    drop,
    na,
    encode,
    progress,
    overwrite,
):
    import pyarrow as pa

    from ..data import open_table

    label = os.fspath(source)
    X_path, y_path = f"{prefix}_X.npy", f"{prefix}_y.npy"
    names_path = columns_path(X_path)
    outputs = [X_path] if target is None else [X_path, y_path]
    check_outputs(outputs + [names_path], paths, overwrite=overwrite)
    dialect, options = None, {}
    if fmt == "csv":
        for path in paths:
            _check_text(path)
        dialect = _CsvDialect(paths[0], delimiter, header)
        options = {
            "sep": dialect.delimiter,
            "header": 0 if dialect.has_header else None,
        }
    widened = {}
    while True:
        try:
            with _csv_lines(dialect):
                table = open_table(
                    source, format=fmt, dtype=dict(widened) or None, **options
                )
            break
        except _Widen as widen:
            if widen.name in widened:
                raise ConversionError(
                    f"{label}: column {widen.name!r} cannot be read as numbers"
                ) from None
            # Whole numbers in the first lines, a fraction further down.
            widened[widen.name] = "float64"
    names, n_rows = table.columns, len(table)
    if n_rows == 0:
        if dialect is None:
            raise ConversionError(f"{label}: no rows of data; nothing to convert")
        hint = "" if dialect.guessed else " (pass header='no' if that line is data)"
        if len(paths) == 1:
            only = f"only the header on line {dialect.first_line}"
        else:
            only = "only header lines"
        raise ConversionError(
            f"{label}: no rows of data, {only}; nothing to convert{hint}"
        )
    target = (
        None if target is None else _column_of(target, names, label, "target", dialect)
    )
    x_names = _x_columns(names, columns, drop, target, label, dialect)
    where = _Where(table, label, dialect)
    schema = table.header().schema
    types = {name: schema.field(name).type for name in names}
    if target is not None and _kind(pa, types[target]) != "number":
        raise ConversionError(
            f"{label}: the target column {target!r} holds {types[target]}, not "
            "numbers; y is written as numbers: encode the labels first (for "
            "example with sklearn.preprocessing.LabelEncoder)"
        )
    for name in x_names:
        if _kind(pa, types[name]) is None:
            raise ConversionError(
                f"{label}: column {name!r} holds {types[name]}, which is neither "
                f"numbers nor text; leave it out (drop=[{name!r}], --drop {name})"
            )
    nums = [n for n in x_names if _kind(pa, types[n]) == "number"]
    cats = [n for n in x_names if _kind(pa, types[n]) == "category"]
    encoder, out_names = None, list(x_names)
    wanted = x_names + ([] if target is None else [target])
    position = {name: k for k, name in enumerate(names)}
    # What each chunk is checked for, so that the first problem in the file
    # (by line, then by field) is the one named.
    checks = [
        (name, position[name], na == "error" or name == target, False)
        for name in wanted
    ]
    checks = [c for c in checks if c[2]]
    if cats and encode is None:
        text_checks = [
            (name, position[name], na == "error" or name == target, name in cats)
            for name in wanted
        ]
        raise _text_column_error(
            where,
            table[wanted],
            [c for c in text_checks if c[2] or c[3]],
            cats[0],
            types[cats[0]],
            chunk_rows,
            label,
            target,
        )
    if cats:
        encoder = _encoder(encode, cats).fit(table[cats])
        out_names = nums + [str(n) for n in encoder.get_feature_names_out(cats)]
    specs = [(X_path, (n_rows, len(out_names)), dtype)]
    if target is not None:
        specs.append((y_path, (n_rows,)))
    has_names = dialect is None or dialect.has_header
    writers = []
    try:
        for spec in specs:
            writers.append(NpyWriter(*spec))
        if has_names:
            record = {"columns": out_names, "target": target, "source": label}
            writers.append(_TextOutput(names_path, json.dumps(record, indent=1)))
        view = table[wanted]
        encoded = None if encoder is None else encoder.transform(table[cats])
        desc = f"convert {os.path.basename(label)}"
        row_bytes = np.dtype(dtype).itemsize * len(out_names)
        with (
            _progress_bar(progress, n_rows, desc, row_bytes) as bar,
            _csv_lines(dialect),
        ):
            for start in range(0, n_rows, chunk_rows):
                stop = min(n_rows, start + chunk_rows)
                part = view.read_arrow(start, stop)
                block = np.empty((stop - start, len(out_names)), dtype=dtype)
                found = _first_problem(pa, part, start, checks)
                if found is not None:
                    row, bad, _ = found
                    raise _missing_error(where, row, bad, is_target=bad == target)
                for j, name in enumerate(nums):
                    block[:, j] = _as_floats(pa, part.column(name))
                if encoded is not None:
                    block[:, len(nums) :] = encoded[start:stop]
                writers[0].write(block)
                if target is not None:
                    writers[1].write(_as_floats(pa, part.column(target)))
                if bar is not None:
                    bar.update(stop - start)
        commit_together(writers, overwrite=overwrite)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    if not has_names and overwrite and os.path.lexists(names_path):
        # Names of an earlier X would describe this one.
        os.remove(names_path)
    return X_path, (None if target is None else y_path)


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


def _convert_svmlight(path, prefix, n_features, dtype, chunk_rows, progress, overwrite):
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
        _progress_bar(progress, n_rows, f"convert {os.path.basename(path)}") as bar,
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
                if bar is not None:
                    bar.update(filled)
                rows[:] = 0.0
                filled = 0
        writers[0].write(rows[:filled])
        writers[1].write(labels[:filled])
        if bar is not None:
            bar.update(filled)
    return X_path, y_path


# -- all formats ---------------------------------------------------------------


def _names(value, what):
    """A list of column keys from a name, an index, or a list of them."""
    if value is None:
        return None
    if isinstance(value, (str, numbers.Integral)):
        value = [value]
    try:
        keys = list(value)
    except TypeError:
        raise ValueError(
            f"{what} must be a list of column names or indices, got {value!r}"
        ) from None
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, (str, numbers.Integral)):
            raise ValueError(
                f"{what} must be a list of column names or indices, got {key!r} in it"
            )
    if what == "columns" and not keys:
        raise ValueError("columns is empty; leave it out to keep every column")
    return keys


def _check_arguments(dtype, chunk_rows, header, delimiter, n_features, na, encode):
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
    if na not in ("error", "nan"):
        raise ValueError(f"na must be 'error' or 'nan', got {na!r}")
    if encode not in (None, "ordinal", "onehot"):
        raise ValueError(f"encode must be None, 'ordinal' or 'onehot', got {encode!r}")
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
    columns=None,
    drop=None,
    na="error",
    encode=None,
    progress=False,
    overwrite=False,
):
    """Convert a table (Parquet, Arrow, CSV) or an svmlight file to ``.npy`` files.

    The input is read a chunk of rows at a time into
    ``{output_prefix}_X.npy`` and ``{output_prefix}_y.npy``; only
    ``chunk_rows`` rows (or one Parquet row group) are in memory at a time.
    Parquet, Arrow IPC (Feather) and CSV inputs are read through
    :func:`~sklearn_ooc.open_table`: a file, a directory or a glob pattern
    of files of one format. Their column names are written beside ``X``, to
    ``{output_prefix}_X.columns.json`` (``{"columns": [...], "target": ...}``;
    read it with :func:`read_columns`), since a ``.npy`` file cannot hold
    them.

    Every row is converted or the conversion fails: a malformed line, a
    missing value (a null, an empty CSV field, ``NA``), or a value that is
    not a number raises :class:`ConversionError` naming the file, the line
    (CSV) or row group (Parquet) and the column, and no output file is
    written or replaced: outputs are written under temporary names and
    appear only when complete, ``X``, ``y`` and the column names together.

    CSV files are read as UTF-8; the byte order mark of Excel's "CSV UTF-8"
    is dropped. Blank lines are skipped. The strings pandas reads as missing
    values (``""``, ``NA``, ``NaN``, ``null``...) are missing values.

    Parameters
    ----------
    input_path : str or os.PathLike
        A ``.parquet``, ``.feather``/``.arrow``, ``.csv`` or svmlight file,
        or a directory or glob pattern (``"data/*.parquet"``) of table files.
    output_prefix : str or os.PathLike
        Prefix of the outputs.
    target : str or int, default=None
        Tables: the column holding ``y`` (a name, or an index, negative from
        the end); ``None`` writes ``X`` only. svmlight files always give
        ``y``: their labels.
    dtype : {float32, float64}, default=float64
        Element type of ``X``; ``y`` is float64.
    chunk_rows : int, default=65536
        Rows read and written at a time (svmlight: fewer when the dense rows
        of a chunk would exceed about 64 MB).
    file_format : {'csv', 'parquet', 'arrow', 'svmlight'}, default=None
        Taken from the file names if ``None`` (``.svm``, ``.svmlight``,
        ``.libsvm`` are svmlight; ``.parquet``/``.pq`` Parquet;
        ``.feather``, ``.arrow``, ``.ipc`` Arrow; other files CSV).
    delimiter : str, default=None
        CSV field separator; sniffed from the first file if ``None``.
    n_features : int, default=None
        svmlight: the width of ``X`` (the largest index seen if ``None``).
    header : {'auto', 'yes', 'no'} or bool, default='auto'
        CSV: whether the first line names the columns. ``'auto'`` takes it
        for a header only when every field of it is a name: not a number and
        not empty or a missing-value marker such as ``NA``; otherwise it is
        data (a first line that mixes names and numbers is then an error that
        says to pass ``'yes'``). Without a header the columns are named
        ``"0"``, ``"1"``... and no names are written beside ``X``.
    columns : list of str or int, default=None
        Tables: the columns of ``X``, in this order (names, or indices);
        all but the target by default.
    drop : list of str or int, default=None
        Tables: columns left out of ``X``.
    na : {'error', 'nan'}, default='error'
        Tables: a missing value in ``X`` is an error naming its place
        (``'error'``), or is written as NaN (``'nan'``), for an imputer to
        fill. A missing target is always an error.
    encode : {None, 'ordinal', 'onehot'}, default=None
        Tables: how text (string or dictionary) columns of ``X`` become
        numbers: ``None`` refuses them (name them in ``drop``),
        ``'ordinal'`` writes each as the index of its category
        (:class:`~sklearn_ooc.preprocessing.OOCOrdinalEncoder`),
        ``'onehot'`` as one 0/1 column per category
        (:class:`~sklearn_ooc.preprocessing.OOCOneHotEncoder`); the
        categories are found in one more pass over the input. The numeric
        columns come first in ``X``, then the encoded ones, named as the
        encoder's ``get_feature_names_out`` names them.
    progress : bool or {"auto", "bar", "lines", "off"}, default=False
        Progress over the rows, on standard error: ``True`` (``"auto"``) a
        bar on a terminal and a plain line every 10 seconds elsewhere (a
        log, a pipe); ``"bar"`` or ``"lines"`` either way.
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
    >>> sorted(os.listdir(d))
    ['data.csv', 'out_X.columns.json', 'out_X.npy', 'out_y.npy']
    """
    source = os.fspath(input_path)
    dtype, chunk_rows, header = _check_arguments(
        dtype, chunk_rows, header, delimiter, n_features, na, encode
    )
    columns, drop = _names(columns, "columns"), _names(drop, "drop")
    prefix = os.fspath(output_prefix)
    if not os.path.exists(source) and not _is_glob(source):
        raise FileNotFoundError(f"{source!r} does not exist")
    if file_format == "feather":
        file_format = "arrow"
    file_format = file_format or _detect_format(source)
    if file_format not in (None, "svmlight", *_TABLE_FORMATS):
        raise ValueError(
            "file_format must be 'csv', 'parquet', 'arrow' or 'svmlight', got "
            f"{file_format!r}"
        )
    given = {
        "target": (target is not None, "table"),
        "columns": (columns is not None, "table"),
        "drop": (drop is not None, "table"),
        "na": (na != "error", "table"),
        "encode": (encode is not None, "table"),
        "delimiter": (delimiter is not None, "CSV"),
        "header": (header != "auto", "CSV"),
        "n_features": (n_features is not None, "svmlight"),
    }
    fits = {
        "svmlight": ("svmlight",),
        "csv": ("table", "CSV"),
        None: ("table", "CSV"),
        "parquet": ("table",),
        "arrow": ("table",),
    }[file_format]
    # Options of another format are refused rather than ignored: a target
    # column asked of an svmlight file would silently not be the one used.
    for name, (is_given, kind) in given.items():
        if is_given and kind not in fits:
            files = "Parquet, Arrow and CSV" if kind == "table" else kind
            read_as = file_format or "a table"
            raise ValueError(
                f"{name} applies to {files} files only, and {source!r} is read "
                f"as {read_as}; leave {name} out, or pass file_format"
            )
    if file_format == "svmlight":
        if not os.path.isfile(source):
            raise FileNotFoundError(f"{source!r} is not a file")
        _check_text(source)
        return _convert_svmlight(
            source, prefix, n_features, dtype, chunk_rows, progress, overwrite
        )
    from ..data._table import _expand

    paths, file_format = _expand(source, file_format)
    if file_format != "csv" and (delimiter is not None or header != "auto"):
        raise ValueError(
            f"delimiter and header apply to CSV files only, and {source!r} is "
            f"read as {file_format}; leave them out"
        )
    return _convert_table(
        source,
        paths,
        file_format,
        prefix,
        target=target,
        dtype=dtype,
        chunk_rows=chunk_rows,
        delimiter=delimiter,
        header=header,
        columns=columns,
        drop=drop,
        na=na,
        encode=encode,
        progress=progress,
        overwrite=overwrite,
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
