"""Numeric Parquet column chunks decoded without pyarrow's reader.

Most numeric tables are flat columns of doubles, floats or integers with no
nulls, in plain or dictionary-encoded pages, uncompressed or compressed with
snappy (the default of pyarrow, pandas, Spark and DuckDB). pyarrow decodes
such a column through its general machinery: a call per page, definition
levels turned into a validity bitmap, then a decode that leaves room for
nulls. Here one kernel call decodes a whole column chunk: it decompresses each
page into a scratch buffer that is kept, and takes dictionary indices
straight to the values.

Anything else (nulls, nested columns, other types, encodings or codecs, a
page that does not parse) raises :class:`Unsupported`, and the caller reads
the row group with pyarrow, which also reports what is wrong with a damaged
file. The values are the same either way: both copy the bytes of the file.
"""

import threading
from collections import Counter

import numpy as np

from .._kernels import decode_chunk
from .._kernels._parquet import BAD_INDEX, OK, SCRATCH, TRUNCATED, UNSUPPORTED

#: Parquet codec (as pyarrow's metadata names it) -> whether it is snappy.
_CODECS = {"UNCOMPRESSED": False, "SNAPPY": True}
#: Physical type -> the dtype of its values and the Arrow type it reads as.
_TYPES = {
    "DOUBLE": ("<f8", "float64"),
    "FLOAT": ("<f4", "float32"),
    "INT32": ("<i4", "int32"),
    "INT64": ("<i8", "int64"),
}
#: What a failing status of :func:`decode_chunk` says.
_STATUS = {
    BAD_INDEX: "a dictionary index past the dictionary",
    TRUNCATED: "a page cut short or malformed",
    UNSUPPORTED: "a page it does not decode (nulls, another encoding)",
}

_scratch = threading.local()


class Unsupported(Exception):
    """A column chunk this module does not decode (pyarrow reads it)."""


def leaf_positions(metadata):
    """Column name -> its index in the Parquet schema, for names that are
    the path of exactly one leaf."""
    schema = metadata.schema
    paths = [schema.column(j).path for j in range(len(schema))]
    counts = Counter(paths)
    return {path: j for j, path in enumerate(paths) if counts[path] == 1}


def chunk_plan(metadata, row_group, arrow_schema, columns, positions):
    """How to decode ``columns`` of row group ``row_group``: per column, the
    byte range of its chunk, whether it is snappy-compressed, the dtype of its
    values, its maximum definition level and its Arrow type.

    ``positions`` is :func:`leaf_positions` of ``metadata``. Raises
    :class:`Unsupported` for a column that :func:`read_chunks` does not
    decode.
    """
    import pyarrow as pa

    group = metadata.row_group(row_group)
    schema = metadata.schema
    plan = []
    for name in columns:
        j = positions.get(name)
        if j is None:
            raise Unsupported(f"column {name!r} is not a flat leaf")
        leaf = schema.column(j)
        chunk = group.column(j)
        kind = _TYPES.get(chunk.physical_type)
        snappy = _CODECS.get(chunk.compression)
        field = arrow_schema.field(name)
        if (
            kind is None
            or snappy is None
            or field.type != pa.type_for_alias(kind[1])
            or leaf.max_repetition_level != 0
            or leaf.max_definition_level > 1
            or chunk.file_path
            or chunk.num_values != group.num_rows
        ):
            raise Unsupported(f"column {name!r} is not plain numeric data")
        start = chunk.data_page_offset
        if chunk.has_dictionary_page and chunk.dictionary_page_offset:
            start = min(start, chunk.dictionary_page_offset)
        plan.append(
            (
                start,
                chunk.total_compressed_size,
                snappy,
                np.dtype(kind[0]),
                leaf.max_definition_level,
                field.type,
            )
        )
    return plan


def read_chunks(whole, plan, n_rows):
    """The columns of one row group as Arrow arrays, decoded from ``whole``
    (a buffer of the whole file) as ``plan`` (:func:`chunk_plan`) says, and
    for each whether it holds only finite numbers (integers, or floats with
    no NaN and no infinity)."""
    import pyarrow as pa

    arrays, finite = [], []
    for start, size, snappy, dtype, max_definition, arrow_type in plan:
        if start < 0 or start + size > whole.size:
            raise Unsupported("a column chunk past the end of the file")
        data = np.frombuffer(whole, dtype=np.uint8, count=size, offset=start)
        # From Arrow's pool, which reuses freed memory: a fresh allocation
        # would fault its pages in again.
        buffer = pa.allocate_buffer(n_rows * dtype.itemsize)
        out = np.frombuffer(buffer, dtype=dtype)
        # A scratch buffer per thread, kept: the dictionary and the pages
        # decompressed, a few megabytes.
        scratch = getattr(_scratch, "array", None)
        if scratch is None:
            scratch = _scratch.array = np.empty(0, dtype=np.uint8)
        floating = dtype.kind == "f"
        status, need, ok = decode_chunk(
            data, snappy, max_definition, out, scratch, floating
        )
        if status == SCRATCH:
            scratch = _scratch.array = np.empty(need, dtype=np.uint8)
            status, need, ok = decode_chunk(
                data, snappy, max_definition, out, scratch, floating
            )
        if status != OK:
            raise Unsupported(_STATUS.get(status, f"status {status}"))
        arrays.append(pa.Array.from_buffers(arrow_type, n_rows, [None, buffer]))
        finite.append(bool(ok))
    return arrays, finite
