"""Shared low-level helpers for the kernels: LLVM intrinsics and fast-math flags.

No imports of ``vmr``; numpy/numba only.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

# Fast-math flags that let LLVM reorder and vectorise float reductions, but WITHOUT
# ``nnan``/``ninf``: the wrappers detect NaN/inf rows from the scores, which ``nnan`` would
# allow LLVM to fold away.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@intrinsic
def half_to_float(typingctx, x):
    """uint16 holding an IEEE half -> float32 (``fpext half``; vcvtph2ps with F16C).

    Numba has no float16 arithmetic on CPU, so float16 matrices are viewed as uint16 and
    converted here, exactly (subnormals, inf and NaN included).
    """
    if x != types.uint16:
        return None

    def codegen(context, builder, sig, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return types.float32(types.uint16), codegen


@intrinsic
def popcount64(typingctx, x):
    """Population count of a uint64 (``llvm.ctpop``; vpopcntq where available)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


def n_chunks(n, per_thread=4):
    """How many work chunks to split ``n`` items into for the parallel kernels."""
    import numba

    return int(max(1, min(n, per_thread * numba.get_num_threads())))


@njit(cache=True)
def chunk_bounds(n, nchunks):
    b = np.empty(nchunks + 1, np.int64)
    for c in range(nchunks + 1):
        b[c] = (n * c) // nchunks
    return b


@njit(cache=True, inline="always")
def not_finite(v):
    """NaN/inf test that survives our fast-math flags (np.isfinite under 'afn' does not)."""
    return not (abs(v) < np.inf)


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Prefetch the cache lines of row ``i`` of a C-contiguous 2-D array (``llvm.prefetch``).

    Used where rows are visited in a data-dependent order (rerank of prefilter candidates),
    to overlap the TLB/DRAM latency of the next rows with work on the current one.
    """
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        from numba.core import cgutils

        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], sig.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx, zero],
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        base = builder.bitcast(ptr, i8p)
        ncols = builder.extract_value(ary.shape, 1)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(aryty.dtype)))
        nbytes = builder.mul(ncols, itemsize)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32),
                                               ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        i32 = ir.IntType(32)
        # unrolled over up to 16 lines (1 KiB rows), guarded by the row length
        for line in range(16):
            off = context.get_constant(types.intp, 64 * line)
            with builder.if_then(builder.icmp_signed("<", off, nbytes), likely=True):
                builder.call(fn, [builder.gep(base, [off]), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen
