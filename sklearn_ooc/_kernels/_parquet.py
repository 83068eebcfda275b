"""Parquet pages: the column chunks of flat numeric columns, decoded.

:func:`decode_chunk` walks a column chunk's pages (their Thrift compact
headers, :func:`page_header`), decompresses snappy pages and decodes plain
values, dictionary indices (:func:`dictionary_values`) and definition levels
(:func:`levels_equal`).

Indices and levels use Parquet's run-length / bit-packed hybrid (``RLE`` in
the format): a sequence of runs, each opened by a ULEB128 header. An odd
header ``2m + 1`` is ``m`` groups of 8 values of ``bit_width`` bits packed
from the low bit of each byte up; an even header ``2m`` is one value repeated
``m`` times, stored in ``ceil(bit_width / 8)`` little-endian bytes. A
bit-packed run may hold more values than are left (the last group is padded).

The kernels return a status rather than raising (their caller leaves what
they do not decode to pyarrow): ``OK``, ``BAD_INDEX`` (a dictionary index
past the dictionary), ``TRUNCATED`` (runs that end before ``n`` values, a
malformed header) and the statuses below. No byte outside ``data[pos:end]``
is read.
"""

import numpy as np
from numba import njit, types
from numba.core.extending import intrinsic

OK = 0
BAD_INDEX = 1
TRUNCATED = 2
#: Returned by :func:`levels_equal` when some level differs.
DIFFERENT = 3
#: Returned by :func:`decode_chunk`: a page it does not decode (another
#: encoding, a null, a page header it does not know).
UNSUPPORTED = 4
#: Returned by :func:`decode_chunk` with the scratch bytes it needs.
SCRATCH = 5


@intrinsic
def _load_u64(typingctx, address):
    """The 8 bytes at ``address`` (any alignment) as a little-endian uint64."""

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(
            args[0], context.get_value_type(types.uint64).as_pointer()
        )
        return builder.load(pointer, align=1)

    return types.uint64(address), codegen


@njit(nogil=True, cache=True)
def _header(data, pos, end):
    """A run's ULEB128 header at ``pos``: ``(header, next pos)``, or
    ``(-1, pos)`` if it is cut short or longer than 63 bits."""
    value = np.int64(0)
    shift = 0
    while pos < end and shift < 63:
        byte = np.int64(data[pos])
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return np.int64(-1), pos


@njit(nogil=True, cache=True)
def _little_endian(data, pos, nbytes):
    value = np.int64(0)
    for b in range(nbytes):
        value |= np.int64(data[pos + b]) << (8 * b)
    return value


@njit(nogil=True, cache=True)
def _copy(target, at, source, pos, size):
    """``target[at:at + size] = source[pos:pos + size]``, as a loop over
    views (numba compiles the slice assignment, and a loop over offset
    indices that might be negative, to much slower code)."""
    into = target[at : at + size]
    values = source[pos : pos + size]
    for k in range(size):
        into[k] = values[k]


@njit(nogil=True, cache=True)
def _packed(data, bitpos, bit_width, mask):
    """The value of ``bit_width`` bits at bit ``bitpos`` of ``data``, read a
    byte at a time (for the end of a page, where 8 bytes are not left)."""
    byte = bitpos >> 3
    shift = bitpos & 7
    word = _little_endian(data, byte, (shift + bit_width + 7) // 8)
    return (word >> shift) & mask


@njit(nogil=True, cache=True)
def _run(data, pos, end, bit_width):
    """The run at ``data[pos:end]``: ``(count, value, body, next)``, a
    ``count`` of -1 if it is cut short. A bit-packed run has ``value`` -1
    and its values from byte ``body`` on; a repeated run has its ``value``."""
    header, pos = _header(data, pos, end)
    if header < 0:
        return -1, -1, pos, pos
    if header & 1:
        count = (header >> 1) * 8
        if pos + (count * bit_width + 7) // 8 > end:
            return -1, -1, pos, pos
        return count, -1, pos, pos + (count * bit_width) // 8
    nbytes = (bit_width + 7) // 8
    if pos + nbytes > end:
        return -1, -1, pos, pos
    return header >> 1, _little_endian(data, pos, nbytes), pos, pos + nbytes


@njit(nogil=True, cache=True)
def dictionary_values(out, at, data, pos, end, bit_width, dictionary, n):
    """``out[at:at + n]`` = ``dictionary`` at the ``n`` indices of
    ``bit_width`` bits encoded in ``data[pos:end]``; a status.

    ``out``, ``data`` (uint8) and ``dictionary`` are 1-D and contiguous.
    """
    if (
        bit_width < 0
        or bit_width > 32
        or at < 0
        or n < 0
        or at + n > out.shape[0]
        or pos < 0
        or end > data.shape[0]
        or data.strides[0] != 1
    ):
        return TRUNCATED
    size = dictionary.shape[0]
    if size == 0 and n > 0:
        return BAD_INDEX
    mask = (np.int64(1) << bit_width) - 1
    base = data.ctypes.data
    i = 0
    while i < n:
        count, value, body, pos = _run(data, pos, end, bit_width)
        if count < 0:
            return TRUNCATED
        take = min(count, n - i)
        if value >= 0:
            if value >= size:
                return BAD_INDEX
            out[at + i : at + i + take] = dictionary[value]
            i += take
            continue
        # Values whose 8 bytes lie before ``end`` are read with one load.
        fast = 0
        if end - body >= 8:
            fast = take
            if bit_width:
                fast = min(take, ((end - 8 - body) * 8) // bit_width + 1)
        into = out[at + i : at + i + take]
        # Unsigned: no index can be negative, none needs wrapping.
        first = np.uint64(base) + np.uint64(body)
        width = np.uint64(bit_width)
        umask = np.uint64(mask)
        last = np.uint64(size - 1)
        largest = np.uint64(0)
        for k in range(fast):
            b = np.uint64(k) * width
            word = _load_u64(first + (b >> np.uint64(3)))
            index = (word >> (b & np.uint64(7))) & umask
            largest = max(largest, index)
            into[k] = dictionary[min(index, last)]
        if fast and largest > last:
            return BAD_INDEX
        bitpos = np.int64(body) * 8
        for k in range(fast, take):
            index = _packed(data, bitpos + k * bit_width, bit_width, mask)
            if index >= size:
                return BAD_INDEX
            into[k] = dictionary[index]
        i += take
    return OK


@njit(nogil=True, cache=True)
def levels_equal(data, pos, end, bit_width, level, n):
    """Whether the ``n`` levels encoded in ``data[pos:end]`` all equal
    ``level``: ``OK``, ``DIFFERENT`` or ``TRUNCATED``.

    Definition levels that all equal the column's maximum say that a page
    has no nulls.
    """
    if bit_width < 0 or bit_width > 32 or pos < 0 or end > data.shape[0] or n < 0:
        return TRUNCATED
    mask = (np.int64(1) << bit_width) - 1
    i = 0
    while i < n:
        count, value, body, pos = _run(data, pos, end, bit_width)
        if count < 0:
            return TRUNCATED
        take = min(count, n - i)
        if value >= 0:
            if value != level:
                return DIFFERENT
        else:
            bitpos = np.int64(body) * 8
            for k in range(take):
                if _packed(data, bitpos + k * bit_width, bit_width, mask) != level:
                    return DIFFERENT
        i += take
    return OK


# -- Thrift compact protocol: page headers ----------------------------------

# The slots of ``fields`` where page_header puts the fields it reads.
_N_FIELDS = 14
_TYPE, _USIZE, _CSIZE, _COUNT, _ENCODING, _LEVEL_ENCODING = 0, 1, 2, 3, 4, 5
_NULLS, _DEF_BYTES, _REP_BYTES, _COMPRESSED = 6, 7, 8, 9
_DICT_COUNT, _DICT_ENCODING, _REP_ENCODING, _ROWS = 10, 11, 12, 13
_MAX_DEPTH = 16


def _slots():
    """``slots[struct, field id]``: the slot of a field, or -1. Struct 0 is
    the PageHeader; 5, 7 and 8 (its field ids) are its data page, dictionary
    page and data page v2 headers (parquet.thrift)."""
    slots = np.full((9, 9), -1, dtype=np.int64)
    slots[0, 1:4] = _TYPE, _USIZE, _CSIZE
    slots[5, 1:5] = _COUNT, _ENCODING, _LEVEL_ENCODING, _REP_ENCODING
    slots[7, 1:3] = _DICT_COUNT, _DICT_ENCODING
    slots[8, 1:7] = _COUNT, _NULLS, _ROWS, _ENCODING, _DEF_BYTES, _REP_BYTES
    slots[8, 7] = _COMPRESSED
    return slots


_SLOTS = _slots()


@njit(nogil=True, cache=True)
def _slot(context, field):
    if 0 <= context < _SLOTS.shape[0] and 0 <= field < _SLOTS.shape[1]:
        return _SLOTS[context, field]
    return -1


@njit(nogil=True, cache=True)
def page_header(data, pos, end, fields):
    """Read the page header at ``data[pos:end]`` into ``fields`` (-1 where
    absent); the position after it, or -1 if it does not parse."""
    for k in range(_N_FIELDS):
        fields[k] = -1
    fields[_COMPRESSED] = 1
    is_list = np.zeros(_MAX_DEPTH, dtype=np.bool_)
    context = np.full(_MAX_DEPTH, -1, dtype=np.int64)
    last = np.zeros(_MAX_DEPTH, dtype=np.int64)
    left = np.zeros(_MAX_DEPTH, dtype=np.int64)
    element = np.zeros(_MAX_DEPTH, dtype=np.int64)
    depth = 0
    context[0] = 0
    while depth >= 0:
        if pos >= end:
            return -1
        field = -1
        if is_list[depth]:
            if left[depth] == 0:
                depth -= 1
                continue
            left[depth] -= 1
            kind = element[depth]
            if kind == 1 or kind == 2:  # a boolean element is one byte
                pos += 1
                continue
        else:
            head = np.int64(data[pos])
            pos += 1
            if head == 0:
                depth -= 1
                continue
            kind = head & 15
            if head >> 4:
                field = last[depth] + (head >> 4)
            else:
                value, pos = _header(data, pos, end)
                if value < 0:
                    return -1
                field = (value >> 1) ^ -(value & 1)
            last[depth] = field
        slot = _slot(context[depth], field) if field >= 0 else -1
        # A field of another type than parquet.thrift gives it is skipped, as
        # Thrift's generated readers skip it (the field is then missing).
        if kind == 1 or kind == 2:
            if slot == _COMPRESSED:
                fields[slot] = 1 if kind == 1 else 0
        elif kind == 3:
            pos += 1
        elif kind == 4 or kind == 5 or kind == 6:
            value, pos = _header(data, pos, end)
            if value < 0:
                return -1
            value = (value >> 1) ^ -(value & 1)
            if kind == 5 and (value < -(2**31) or value >= 2**31):
                return -1
            if kind == 5 and slot >= 0 and slot != _COMPRESSED:
                fields[slot] = value
        elif kind == 7:
            pos += 8
        elif kind == 8:
            size, pos = _header(data, pos, end)
            if size < 0:
                return -1
            pos += size
        elif kind == 9 or kind == 10 or kind == 12:
            depth += 1
            if depth == _MAX_DEPTH:
                return -1
            last[depth] = 0
            context[depth] = -1
            is_list[depth] = kind != 12
            if kind == 12:
                if context[depth - 1] == 0 and (field == 5 or field == 7 or field == 8):
                    context[depth] = field
            else:
                if pos >= end:
                    return -1
                head = np.int64(data[pos])
                pos += 1
                size = head >> 4
                if size == 15:
                    size, pos = _header(data, pos, end)
                    if size < 0:
                        return -1
                left[depth] = size
                element[depth] = head & 15
        else:  # maps and unknown types: no page header holds them
            return -1
    return pos if pos <= end else -1


# -- snappy -----------------------------------------------------------------


@njit(nogil=True, cache=True)
def _unsnappy(source, pos, end, target, at, size):
    """Decompress the raw snappy block ``source[pos:end]`` into
    ``target[at:at + size]``; a status."""
    length, pos = _header(source, pos, end)
    if length != size or at < 0 or at + size > target.shape[0]:
        return TRUNCATED
    out = at
    stop = at + size
    while pos < end:
        tag = np.int64(source[pos])
        pos += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if pos + extra > end:
                    return TRUNCATED
                length = _little_endian(source, pos, extra)
                pos += extra
            length += 1
            if pos + length > end or out + length > stop:
                return TRUNCATED
            _copy(target, out, source, pos, length)
            pos += length
            out += length
            continue
        if kind == 1:
            if pos + 1 > end:
                return TRUNCATED
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | np.int64(source[pos])
            pos += 1
        else:
            extra = 2 if kind == 2 else 4
            if pos + extra > end:
                return TRUNCATED
            length = (tag >> 2) + 1
            offset = _little_endian(source, pos, extra)
            pos += extra
        if offset <= 0 or offset > out - at or out + length > stop:
            return TRUNCATED
        # Byte by byte: a copy may overlap what it writes.
        for k in range(length):
            target[out + k] = target[out - offset + k]
        out += length
    return OK if out == stop else TRUNCATED


# -- column chunks ------------------------------------------------------------

_DATA_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 2, 3
_PLAIN, _PLAIN_DICTIONARY, _RLE, _RLE_DICTIONARY = 0, 2, 3, 8


@njit(nogil=True, cache=True)
def _below(bits, mask):
    """Whether no ``bits & mask`` reaches ``mask``. A maximum, not an early
    exit: the loop vectorizes."""
    top = mask ^ mask
    for b in bits:
        top = max(top, b & mask)
    return top != mask


@njit(nogil=True, cache=True)
def _finite(values, start, size, itemsize):
    """Whether the ``size`` bytes of floats (of ``itemsize`` bytes) at
    ``values[start:]`` hold no NaN and no infinity (whose exponent bits are
    all set)."""
    if itemsize == 8:
        bits = values[start : start + size].view(np.uint64)
        return _below(bits, np.uint64(0x7FF0000000000000))
    return _below(values[start : start + size].view(np.uint32), np.uint32(0x7F800000))


@njit(nogil=True, cache=True)
def _page_values(page, start, stop, levels, count, encoding, dictionary, out, at):
    """The ``count`` values of the data page ``page[start:stop]`` (after its
    definition levels if ``levels``) into ``out[at:]``; a status."""
    itemsize = out.itemsize
    if levels:
        if stop - start < 4:
            return TRUNCATED
        length = _little_endian(page, start, 4)
        if start + 4 + length > stop:
            return TRUNCATED
        status = levels_equal(page, start + 4, start + 4 + length, 1, 1, count)
        if status == DIFFERENT:
            return UNSUPPORTED
        if status != OK:
            return status
        start += 4 + length
    if encoding == _PLAIN:
        size = count * itemsize
        if start + size > stop:
            return TRUNCATED
        values = out.view(np.uint8)
        _copy(values, at * itemsize, page, start, size)
        return OK
    if start >= stop:
        return TRUNCATED
    return dictionary_values(
        out, at, page, start + 1, stop, np.int64(page[start]), dictionary, count
    )


@njit(nogil=True, cache=True)
def decode_chunk(data, snappy, max_definition, out, scratch, floating):
    """Decode a column chunk (``data``: its bytes, from its first page) of
    ``out.shape[0]`` values into ``out``: ``(status, scratch bytes needed,
    finite)``.

    With ``floating`` (``out`` holds floats), ``finite`` says that no value
    is a NaN or an infinity, checked while the pages are in cache: every
    plain page's values and every entry of the dictionary (a NaN entry that
    no value uses makes it False too). Without, it is True.

    Plain and dictionary-encoded pages (v1 or v2), uncompressed or
    ``snappy``, of a flat column (``max_definition`` 0 or 1) with no nulls.
    ``scratch`` (uint8) holds the dictionary and decompressed pages; when it
    is too small the status is ``SCRATCH`` and nothing is decoded.
    """
    n = out.shape[0]
    itemsize = out.itemsize
    end = data.shape[0]
    fields = np.empty(_N_FIELDS, dtype=np.int64)
    if max_definition < 0 or max_definition > 1 or out.strides[0] != itemsize:
        return UNSUPPORTED, 0, False
    # First the headers: every page decodable, and the scratch it needs.
    pos = 0
    seen = 0
    dictionary_bytes = 0
    largest = 0
    while seen < n:
        body = page_header(data, pos, end, fields)
        usize, csize, count = fields[_USIZE], fields[_CSIZE], fields[_COUNT]
        if body < 0 or usize < 0 or csize < 0 or body + csize > end:
            return TRUNCATED, 0, False
        kind = fields[_TYPE]
        encoding = fields[_ENCODING]
        if kind == _DICTIONARY_PAGE:
            encoding = fields[_DICT_ENCODING]
            if dictionary_bytes or (
                encoding != _PLAIN and encoding != _PLAIN_DICTIONARY
            ):
                return UNSUPPORTED, 0, False
            size = fields[_DICT_COUNT] * itemsize
            if size < 0 or size > (usize if snappy else csize):
                return TRUNCATED, 0, False
            stored = usize if snappy else csize
            # Rounded up: the pages after it stay aligned.
            dictionary_bytes = stored + (-stored) % 8
        elif kind == _DATA_PAGE or kind == _DATA_PAGE_V2:
            if (
                encoding != _PLAIN
                and encoding != _PLAIN_DICTIONARY
                and encoding != _RLE_DICTIONARY
            ):
                return UNSUPPORTED, 0, False
            # Every field parquet.thrift requires, as pyarrow's reader does.
            if kind == _DATA_PAGE_V2:
                if (
                    fields[_ROWS] != count
                    or fields[_NULLS] < 0
                    or fields[_DEF_BYTES] < 0
                    or fields[_REP_BYTES] < 0
                    or fields[_DEF_BYTES] + fields[_REP_BYTES] > min(usize, csize)
                ):
                    return TRUNCATED, 0, False
                if fields[_NULLS] != 0 or fields[_REP_BYTES] != 0:
                    return UNSUPPORTED, 0, False
                if not max_definition and fields[_DEF_BYTES] != 0:
                    return TRUNCATED, 0, False
            else:
                if fields[_LEVEL_ENCODING] < 0 or fields[_REP_ENCODING] < 0:
                    return TRUNCATED, 0, False
                if max_definition and fields[_LEVEL_ENCODING] != _RLE:
                    return UNSUPPORTED, 0, False
            if count < 0 or seen + count > n:
                return TRUNCATED, 0, False
            seen += count
            largest = max(largest, usize)
        pos = body + csize
    need = dictionary_bytes + (largest if snappy else 0)
    if scratch.shape[0] < need:
        return SCRATCH, need, False
    # Then the values, page by page.
    dictionary = scratch[:0].view(out.dtype)
    finite = True
    dictionary_finite = True
    values = out.view(np.uint8)
    pos = 0
    at = 0
    while at < n:
        body = page_header(data, pos, end, fields)
        kind = fields[_TYPE]
        usize, csize, count = fields[_USIZE], fields[_CSIZE], fields[_COUNT]
        pos = body + csize
        if kind == _DICTIONARY_PAGE:
            # Copied to the scratch when not compressed: aligned there.
            if snappy:
                status = _unsnappy(data, body, pos, scratch, 0, usize)
                if status != OK:
                    return status, 0, False
            else:
                _copy(scratch, 0, data, body, csize)
            dictionary = scratch[: fields[_DICT_COUNT] * itemsize].view(out.dtype)
            if floating:
                dictionary_finite = _finite(
                    scratch, 0, fields[_DICT_COUNT] * itemsize, itemsize
                )
            continue
        if kind != _DATA_PAGE and kind != _DATA_PAGE_V2:
            continue
        skip = 0
        levels = kind == _DATA_PAGE and max_definition > 0
        if kind == _DATA_PAGE_V2:
            skip = fields[_DEF_BYTES]
            if max_definition:
                # Not compressed in a v2 page; all at the maximum (no nulls).
                status = levels_equal(data, body, body + skip, 1, 1, count)
                if status != OK:
                    return (UNSUPPORTED if status == DIFFERENT else status), 0, False
        if snappy and (kind == _DATA_PAGE or fields[_COMPRESSED] != 0):
            size = usize - skip
            status = _unsnappy(data, body + skip, pos, scratch, dictionary_bytes, size)
            if status != OK:
                return status, 0, False
            status = _page_values(
                scratch,
                dictionary_bytes,
                dictionary_bytes + size,
                levels,
                count,
                fields[_ENCODING],
                dictionary,
                out,
                at,
            )
        else:
            status = _page_values(
                data,
                body + skip,
                pos,
                levels,
                count,
                fields[_ENCODING],
                dictionary,
                out,
                at,
            )
        if status != OK:
            return status, 0, False
        if fields[_ENCODING] != _PLAIN:
            finite = finite and dictionary_finite
        elif floating and finite:
            finite = _finite(values, at * itemsize, count * itemsize, itemsize)
        at += count
    return OK, 0, finite
