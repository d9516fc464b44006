"""The LLVM intrinsics the Numba kernels inline: a stack array (`_stack_like`), a pointer into
an array's buffer (`_at`), an atomic chunk counter (`_take`), and the two vector steps of the
conv forward's filters past the slices of 16 that LLVM does not make of Numba code
(`_fma4x4`, `_sum4x4`).

_numba_conv.py and _numba_pool.py use them. Numba's cache notices edits only in the file of
the function it compiled, so an edit here needs the cache cleared (engine/fast/config.py);
they are small and settled, which is why they live apart from the kernels that inline them.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _stack_like(typingctx, a, n):
    """A pointer to n values of a's dtype on the stack; n must be a literal. Indexed only by
    constants once LLVM unrolls the loops over it, such an array lives in registers."""
    if not isinstance(n, types.IntegerLiteral):
        return None
    dtype = a.dtype

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(builder, context.get_value_type(dtype), size=n.literal_value)

    return types.CPointer(dtype)(a, n), codegen


@intrinsic
def _at(typingctx, a, off):
    """A pointer to value `off` of a C-contiguous array's buffer (no bounds check): for
    carray views of short runs, which cost less to make than slices (those clamp their
    bounds at every call). Loops over such a view index from 0, which Numba knows is not
    negative: an index it cannot prove non-negative gets a wraparound check, which stops
    LLVM from vectorising the loop (see docs/BENCHMARKS.md, "Carray views instead of slices")."""
    dtype = a.dtype

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.gep(ary.data, [args[1]])

    return types.CPointer(dtype)(a, types.intp), codegen


@intrinsic
def _take(typingctx, taken):
    """The number of the next chunk: taken[0] before an atomic taken[0] += 1, so that each of
    the threads running a chunk kernel on the same `taken` gets chunks no other one gets."""

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        one = context.get_constant(types.int64, 1)
        return builder.atomic_rmw("add", ary.data, one, "monotonic")

    return types.int64(taken), codegen


@intrinsic
def _fma4x4(typingctx, acc, x, w):
    """acc[l] += x[l % 4] * w[l] for l < 16, on pointers to the same dtype: 4 values of x
    repeated over a vector of 16 (one broadcast load), one vector multiply-add. What
    _numba_conv._fwd4's scalar code could not get from LLVM: written with l % 4 as an index,
    the loop stayed scalar."""
    if not (isinstance(acc, types.CPointer) and acc == x == w):
        return None

    def codegen(context, builder, signature, args):
        pacc, px, pw = args
        scalar = context.get_value_type(signature.args[0].dtype)
        v4, v16 = ir.VectorType(scalar, 4), ir.VectorType(scalar, 16)
        align = context.get_abi_sizeof(scalar)
        xs = builder.load(builder.bitcast(px, v4.as_pointer()), align=align)
        xs = builder.shuffle_vector(
            xs,
            ir.Constant(v4, ir.Undefined),
            ir.Constant(ir.VectorType(ir.IntType(32), 16), [lane % 4 for lane in range(16)]),
        )
        ws = builder.load(builder.bitcast(pw, v16.as_pointer()), align=align)
        pa = builder.bitcast(pacc, v16.as_pointer())
        # fmuladd, not fma: fused where the CPU has FMA, a multiply and an add where it has not
        # (llvm.fma would call the C library's fmaf there, value by value)
        name = "llvm.fmuladd.v16f%d" % (8 * align)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16, [v16] * 3), name)
        total = builder.call(fma, [xs, ws, builder.load(pa, align=align)])
        builder.store(total, pa, align=align)
        return context.get_dummy_value()

    return types.void(acc, x, w), codegen


@intrinsic
def _sum4x4(typingctx, acc, out):
    """out[f] = (acc[4f] + acc[4f + 1]) + (acc[4f + 2] + acc[4f + 3]) for f < 4, in that order:
    the adds carry no fast-math flags, so LLVM cannot reorder them, and the kernels' loops
    compiled with and without a ReLU give the same bits (a sum written in Numba under
    "reassoc" was summed in one order in one and in another in the other)."""
    if not (isinstance(acc, types.CPointer) and acc == out):
        return None

    def codegen(context, builder, signature, args):
        pacc, pout = args
        scalar = context.get_value_type(signature.args[0].dtype)
        v4, v16 = ir.VectorType(scalar, 4), ir.VectorType(scalar, 16)
        align = context.get_abi_sizeof(scalar)
        v = builder.load(builder.bitcast(pacc, v16.as_pointer()), align=align)
        i32x4 = ir.VectorType(ir.IntType(32), 4)
        p = [
            builder.shuffle_vector(v, ir.Constant(v16, ir.Undefined), ir.Constant(i32x4, [4 * f + c for f in range(4)]))
            for c in range(4)
        ]
        total = builder.fadd(builder.fadd(p[0], p[1]), builder.fadd(p[2], p[3]))
        builder.store(total, builder.bitcast(pout, v4.as_pointer()), align=align)
        return context.get_dummy_value()

    return types.void(acc, out), codegen
