"""Rows from columns: the copy of a table's column buffers into C-order rows."""

import numpy as np
from numba import njit, types
from numba.core.extending import intrinsic


@intrinsic
def _load(typingctx, address, index, like):
    """Element ``index`` of a buffer of ``like``'s dtype at ``address``."""

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(
            args[0], context.get_value_type(like.dtype).as_pointer()
        )
        return builder.load(builder.gep(pointer, [args[1]]))

    return like.dtype(address, index, like), codegen


@intrinsic
def _store_streaming(typingctx, address, index, value):
    """Element ``index`` of a buffer at ``address`` set to ``value``, past
    the caches (a non-temporal store)."""

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(args[0], context.get_value_type(value).as_pointer())
        hint = builder.module.add_metadata([context.get_constant(types.int32, 1)])
        store = builder.store(args[2], builder.gep(pointer, [args[1]]))
        store.set_metadata("nontemporal", hint)
        return context.get_dummy_value()

    return types.void(address, index, value), codegen


@intrinsic
def _fence(typingctx):
    """Orders the streaming stores before every later load or store."""

    def codegen(context, builder, sig, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


@njit(nogil=True, cache=True)
def rows_from_columns(out, addresses, lengths, bounds, streaming):
    """Fill ``out`` row by row from column buffers.

    ``out[bounds[s] + i, j]`` becomes element ``i`` of the buffer at
    ``addresses[s, j]`` (of ``out``'s dtype, ``lengths[s, j]`` elements,
    which must be ``bounds[s + 1] - bounds[s]``): part ``s`` of the rows,
    column ``j``. One pass writes each row whole, where a copy column by
    column writes every row once per column. With ``streaming``, the rows
    are stored past the caches (for an ``out`` larger than they are, which
    the next reader takes from memory anyway).

    Raises ValueError, before anything is written, if the buffers' lengths,
    ``bounds`` and ``out`` do not agree, or ``out`` is not C-contiguous.
    """
    n_parts, k = addresses.shape
    if (
        lengths.shape[0] != n_parts
        or lengths.shape[1] != k
        or bounds.shape[0] != n_parts + 1
        or out.shape[1] != k
        or bounds[0] != 0
        or bounds[n_parts] != out.shape[0]
        or out.strides[1] != out.itemsize
        or out.strides[0] != k * out.itemsize
    ):
        raise ValueError("rows_from_columns: out, bounds and the buffers differ")
    for s in range(n_parts):
        if bounds[s + 1] < bounds[s]:
            raise ValueError("rows_from_columns: bounds decrease")
        for j in range(k):
            if lengths[s, j] != bounds[s + 1] - bounds[s]:
                raise ValueError("rows_from_columns: a buffer has other rows")
    base = out.ctypes.data
    # A local copy of the part's addresses: the stores cannot alias it.
    here = np.empty(k, dtype=np.uint64)
    for s in range(n_parts):
        here[:] = addresses[s]
        start = bounds[s]
        for i in range(start, bounds[s + 1]):
            for j in range(k):
                value = _load(here[j], i - start, out)
                if streaming:
                    _store_streaming(base, i * k + j, value)
                else:
                    out[i, j] = value
    _fence()
