"""A hint that brings memory into cache before a kernel reads it.

A kernel that works on one chunk of rows while the next chunk is still in
memory can ask for that chunk's cache lines a few at a time: the loads then
overlap the work instead of stalling the next reader (BLAS's GEMM, which
would otherwise read the rows from memory itself).
"""

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# Bytes of a cache line on the x86 and ARM processors numba targets.
_LINE_BYTES = 64


@intrinsic
def _prefetch(typingctx, array, index):
    """LLVM's ``prefetch`` (read, keep in every level of cache) of the
    address of ``array[index]`` (1-D, contiguous). A prefetch never faults
    and changes no value."""
    if not (isinstance(array, types.Array) and array.ndim == 1):
        return None
    if not isinstance(index, types.Integer):
        return None
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.bitcast(
            builder.gep(data, [args[1]]), ir.IntType(8).as_pointer()
        )
        int32 = ir.IntType(32)
        hint = builder.module.declare_intrinsic(
            "llvm.prefetch",
            [address.type],
            ir.FunctionType(ir.VoidType(), [address.type, int32, int32, int32]),
        )
        # Read (0), highest locality (3), data cache (1).
        builder.call(
            hint,
            [
                address,
                ir.Constant(int32, 0),
                ir.Constant(int32, 3),
                ir.Constant(int32, 1),
            ],
        )
        return context.get_dummy_value()

    return sig, codegen


@njit(nogil=True, cache=True)
def prefetch_share(ahead, part, n_parts):
    """Prefetch share ``part`` of ``n_parts`` of the cache lines of ``ahead``
    (1-D, contiguous): calling it for ``part = 0 .. n_parts - 1`` asks for
    every line once, in order."""
    step = max(1, _LINE_BYTES // ahead.itemsize)
    lines = (ahead.shape[0] + step - 1) // step
    for line in range(part * lines // n_parts, (part + 1) * lines // n_parts):
        _prefetch(ahead, line * step)
