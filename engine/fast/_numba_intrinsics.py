"""Three LLVM intrinsics the Numba kernels inline: a stack array (`_stack_like`), a pointer into
an array's buffer (`_at`) and an atomic chunk counter (`_take`).

_numba_conv.py and _numba_pool.py use them. Numba's cache notices edits only in the file of
the function it compiled, so an edit here needs the cache cleared (engine/fast/config.py);
they are small and settled, which is why they live apart from the kernels that inline them.
"""

from __future__ import annotations

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
