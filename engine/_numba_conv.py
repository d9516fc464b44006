"""The Numba backend's convolution kernels: serial im2col/GEMM/col2im kernels and the chunk
kernels that kernels_numba.conv_forward and conv_backward run on worker threads.

No public API here (that is kernels_numba.py, which checks shapes, allocates and plans the
chunks), and nothing of pooling or activations. Every helper the two chunk kernels call lives
in this file, because Numba's cache only notices edits to the file of the function it compiled.

Convolution is im2col by blocks: about CONV_BLOCK_PIXELS output pixels of one image are
unrolled into a (pixels, HH*WW*C) buffer that stays in cache, and the GEMMs written here run
on it (Numba's np.dot would need SciPy). A work item is (image, block of output rows), so even
batch 1 splits over cores; nothing the size of the batch's im2col matrix is ever allocated, and
the backward pass unrolls the input again instead of caching it. Layout: activations
(N, H, W, C) seen as (N, H, W*C), weights pre-arranged by the caller as w2p (Fp, Kp) and,
for the forward GEMM, as (Kp, 16) slices of 16 filters (w16) plus the rows left over.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import config

_jit = njit(**config.JIT)
_par = njit(parallel=True, **config.JIT)  # the prange wrappers: one per chunk kernel


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
    bounds at every call)."""
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


# -- serial kernels: convolution -----------------------------------------------------------
@_jit
def _zero(a):
    """a[...] = 0 for a C-contiguous array (a plain loop: Numba's slice assignment is slower)."""
    flat = a.reshape(-1)
    for k in range(flat.shape[0]):
        flat[k] = 0


@_jit
def _pad_image(xf, n, C, pad, xp):
    """Copy image n of xf (N, H, W*C) into the interior of xp (Hp, Wp*C), whose border is 0."""
    H, WC = xf.shape[1], xf.shape[2]
    for h in range(H):
        src = xf[n, h]
        dst = xp[h + pad, pad * C : pad * C + WC]
        for k in range(WC):
            dst[k] = src[k]


@_jit
def _im2col_rows(xp, C, ho0, ho1, HH, WW, stride, Wo, cols):
    """Unroll output rows [ho0, ho1) of a padded image xp (Hp, Wp*C + 8): cols[p] = the window
    of pixel p in (HH, WW, C) order, one contiguous run of WW*C values per kernel row.

    Each run is copied rounded up to whole vectors of 8 (16 values for conv1's 15): the few
    extra values land at the start of the next run, which overwrites them, and after the last
    run they are zeroed again. Copies without a scalar tail run 1.6x faster for C=3 (measured).
    Needs 8 spare columns at the end of xp's rows and cols (Kp) >= HH*WW*C + 7; both arrays
    C-contiguous, and ho1 <= Ho, so that every run lies inside them (no bounds checks here).
    """
    seg = WW * C
    segp = (seg + 7) // 8 * 8
    K = HH * seg
    XW, Kp = xp.shape[1], cols.shape[1]
    # Runs are carray views at raw offsets, not slices: im2col of conv1 at batch 64 1.42 ->
    # 1.02 ms, conv2 0.65 -> 0.43 ms (one thread, measured). Views from 0 also keep the
    # indices non-negative: an index Numba cannot prove non-negative gets a wraparound
    # check, which stops LLVM from vectorising the copy (5x slower, measured).
    r = 0
    for ho in range(ho0, ho1):
        for wo in range(Wo):
            b = wo * stride * C
            for i in range(HH):
                src = carray(_at(xp, (ho * stride + i) * XW + b), segp)
                dst = carray(_at(cols, r * Kp + i * seg), segp)
                for k in range(segp):
                    dst[k] = src[k]
            tail = carray(_at(cols, r * Kp + K), segp - seg)
            for k in range(segp - seg):
                tail[k] = 0
            r += 1


@_jit
def _gemm_rows16(a, P, b, out):
    """out[p, :16] = a[p] @ b for p < P: a (>=P, K), b (K, 16), out (>=P, 16); P % 4 == 0.

    4 pixels x 16 filters per pass over K, the 64 sums in a stack array that LLVM keeps in
    eight vector registers (float32): each k broadcasts 4 pixel values and loads one row of
    b for 8 vector multiply-adds, with no horizontal sums at the end (the dot-product kernel
    _gemm_nt ends each of its 8 sums with one, which costs most at conv1's short K=80).
    6 pixels would need 20 registers of AVX2's 16 and spill (1.6x slower, measured).
    """
    K = a.shape[1]
    for p in range(0, P, 4):
        acc = carray(_stack_like(a, 64), 64)
        for t in range(64):
            acc[t] = 0
        a0 = a[p]
        a1 = a[p + 1]
        a2 = a[p + 2]
        a3 = a[p + 3]
        for k in range(K):
            w = b[k]
            x0 = a0[k]
            x1 = a1[k]
            x2 = a2[k]
            x3 = a3[k]
            for f in range(16):
                wf = w[f]
                acc[f] += x0 * wf
                acc[16 + f] += x1 * wf
                acc[32 + f] += x2 * wf
                acc[48 + f] += x3 * wf
        for i in range(4):
            o = out[p + i]
            for f in range(16):
                o[f] = acc[16 * i + f]


@_jit
def _gemm_nt(a, P, b, out):
    """out[p, f] = a[p] . b[f]: a (>=P, K), b (F, K), out (>=P, F); P % 4 == F % 2 == 0.

    4 pixels x 2 filters per pass: eight running dot products that LLVM keeps in vector
    registers (the K loop is contiguous in both operands). Serves the filters left over
    after the slices of 16 that _gemm_rows16 takes (conv2's 20 = 16 + 4).
    """
    K = a.shape[1]
    F = b.shape[0]
    zero = a.dtype.type(0)
    for p in range(0, P, 4):
        a0 = a[p]
        a1 = a[p + 1]
        a2 = a[p + 2]
        a3 = a[p + 3]
        for f in range(0, F, 2):
            b0 = b[f]
            b1 = b[f + 1]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for k in range(K):
                w0 = b0[k]
                w1 = b1[k]
                s00 += a0[k] * w0
                s01 += a0[k] * w1
                s10 += a1[k] * w0
                s11 += a1[k] * w1
                s20 += a2[k] * w0
                s21 += a2[k] * w1
                s30 += a3[k] * w0
                s31 += a3[k] * w1
            out[p, f] = s00
            out[p, f + 1] = s01
            out[p + 1, f] = s10
            out[p + 1, f + 1] = s11
            out[p + 2, f] = s20
            out[p + 2, f + 1] = s21
            out[p + 3, f] = s30
            out[p + 3, f + 1] = s31


@_jit
def _gemm_dw16(at, J, b, I, c):
    """c[:I] += at[:I, :J] @ b[:J]: at (>=I, >=J), b (>=J, K), c (>=I, K); I % 4 == 0, K % 16 == 0.

    dw += dout_block.T @ cols with the sums of 4 filters x 16 columns of K in registers,
    as _gemm_rows16 does (at = the transposed dout block); added into c once per tile.
    """
    K = b.shape[1]
    for i in range(0, I, 4):
        t0 = at[i]
        t1 = at[i + 1]
        t2 = at[i + 2]
        t3 = at[i + 3]
        for k0 in range(0, K, 16):
            acc = carray(_stack_like(b, 64), 64)
            for t in range(64):
                acc[t] = 0
            for j in range(J):
                row = b[j, k0 : k0 + 16]
                x0 = t0[j]
                x1 = t1[j]
                x2 = t2[j]
                x3 = t3[j]
                for f in range(16):
                    v = row[f]
                    acc[f] += x0 * v
                    acc[16 + f] += x1 * v
                    acc[32 + f] += x2 * v
                    acc[48 + f] += x3 * v
            for r in range(4):
                o = c[i + r, k0 : k0 + 16]
                for f in range(16):
                    o[f] += acc[16 * r + f]


@_jit
def _gemm_tn(a, b, J, I, c):
    """c[:I] += a[:J, :I].T @ b[:J]: a (>=J, >=I), b (>=J, K), c (>=I, K); J % 4 == I % 2 == 0.

    Serves both conv gradients: dw += dout_block.T @ cols and dcols = dout_block @ w2 (with
    a = the transposed dout block). 4 rows of b x 2 rows of c per pass over K: each loaded
    row of c takes 4 multiply-adds.
    """
    K = b.shape[1]
    for j in range(0, J, 4):
        b0 = b[j]
        b1 = b[j + 1]
        b2 = b[j + 2]
        b3 = b[j + 3]
        for i in range(0, I, 2):
            a00 = a[j, i]
            a10 = a[j + 1, i]
            a20 = a[j + 2, i]
            a30 = a[j + 3, i]
            a01 = a[j, i + 1]
            a11 = a[j + 1, i + 1]
            a21 = a[j + 2, i + 1]
            a31 = a[j + 3, i + 1]
            c0 = c[i]
            c1 = c[i + 1]
            for k in range(K):
                x0 = b0[k]
                x1 = b1[k]
                x2 = b2[k]
                x3 = b3[k]
                c0[k] += a00 * x0 + a10 * x1 + a20 * x2 + a30 * x3
                c1[k] += a01 * x0 + a11 * x1 + a21 * x2 + a31 * x3


@_jit
def _col2im_rows(dc, ho0, ho1, Wo, HH, WW, C, stride, dxp):
    """Add the window gradients of output rows [ho0, ho1) into the padded image dxp (Hp, Wp*C)."""
    seg = WW * C
    r = 0
    for ho in range(ho0, ho1):
        for wo in range(Wo):
            row = dc[r]
            base = wo * stride * C
            for i in range(HH):
                dst = dxp[ho * stride + i, base : base + seg]
                src = row[i * seg : (i + 1) * seg]
                for k in range(seg):
                    dst[k] += src[k]
            r += 1


# -- chunk kernels: convolution --------------------------------------------------------------
# A work item is (image n, block of rb output rows); chunk c is the run of items
# [bounds[c], bounds[c + 1]). Each thread of a call runs the chunk kernel once, and the kernel
# takes chunks (_take) until none is left: a thread holds the GIL once per call, not once per
# chunk (each time it does, the other thread may have to sleep until it is let go, ~50 us).
# The P pixels of a block are padded to P4 (a multiple of 4) and the F filters to Fp (a
# multiple of 4, zero rows in w2p) so that the GEMM kernels above need no tail loops.
@_jit
def conv_forward_chunk(xf, C, w16, wr, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2):
    """Forward the chunks this thread takes: the rows of out2 (N*Ho*Wo, F) of their blocks,
    bias b (F,).

    The weights come as (Kp, 16) slices of 16 filters, w16 (G, Kp, 16), and the filters
    left over as rows, wr (Fr, Kp) with Fr % 4 == 0 (zero rows past F; Fr may be 0).
    """
    N, H, WC = xf.shape
    F = out2.shape[1]
    G = w16.shape[0]
    Fr, Kp = wr.shape
    nblk = (Ho + rb - 1) // rb
    cap = (rb * Wo + 3) // 4 * 4
    xp = np.zeros((H + 2 * pad, WC + 2 * pad * C + 8), dtype=xf.dtype)  # 8 spare: see _im2col_rows
    cols = np.zeros((cap, Kp), dtype=xf.dtype)  # columns >= HH*WW*C stay 0
    obuf = np.empty((G, cap, 16), dtype=xf.dtype)
    rbuf = np.empty((cap, Fr), dtype=xf.dtype)
    cur = -1
    while True:
        c = _take(taken)
        if c >= bounds.shape[0] - 1:
            return
        for item in range(bounds[c], bounds[c + 1]):
            n = item // nblk
            if n != cur:
                _pad_image(xf, n, C, pad, xp)
                cur = n
            ho0 = (item - n * nblk) * rb
            ho1 = min(Ho, ho0 + rb)
            P = (ho1 - ho0) * Wo
            P4 = (P + 3) // 4 * 4  # rows P..P4 of cols hold stale values; their outputs are dropped
            _im2col_rows(xp, C, ho0, ho1, HH, WW, stride, Wo, cols)
            for g in range(G):
                _gemm_rows16(cols, P4, w16[g], obuf[g])
            _gemm_nt(cols, P4, wr, rbuf)
            q0 = (n * Ho + ho0) * Wo
            for p in range(P):
                dst = out2[q0 + p]
                for g in range(G):
                    src = obuf[g, p]
                    for f in range(16):
                        dst[16 * g + f] = src[f] + b[16 * g + f]
                src = rbuf[p]
                for f in range(F - 16 * G):
                    dst[16 * G + f] = src[f] + b[16 * G + f]


@_jit
def conv_backward_chunk(
    xf, C, d2, w2p, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4
):
    """Backward the chunks this thread takes: chunk c adds into its own partials dw_parts[c]
    (Fp, Kp) and db_parts[c] (Fp,); the dx of each image is gathered in a padded scratch
    image and stored into dx4[c] (N, H, W*C) when the chunk leaves that image — or into
    dx4[0] when dx4 holds one array (chunks own whole images)."""
    N, H, WC = xf.shape
    F = d2.shape[1]
    Fp, Kp = w2p.shape
    nblk = (Ho + rb - 1) // rb
    cap = (rb * Wo + 3) // 4 * 4
    Hp, WpC = H + 2 * pad, WC + 2 * pad * C
    xp = np.zeros((Hp, WpC + 8), dtype=xf.dtype)  # 8 spare: see _im2col_rows
    cols = np.zeros((cap, Kp), dtype=xf.dtype)
    dblk = np.zeros((cap, Fp), dtype=xf.dtype)  # (pixels, filters); the padding stays 0
    dblk_t = np.zeros((Fp, cap), dtype=xf.dtype)  # its transpose, for dcols
    dcols = np.empty((cap if need_dx else 1, Kp), dtype=xf.dtype)
    dxp = np.zeros((Hp if need_dx else 1, WpC), dtype=xf.dtype)
    while True:
        c = _take(taken)
        if c >= bounds.shape[0] - 1:
            return
        i0, i1 = bounds[c], bounds[c + 1]
        dw, db, dxf = dw_parts[c], db_parts[c], dx4[min(c, dx4.shape[0] - 1)]
        cur = -1
        for item in range(i0, i1 + 1):
            n = item // nblk if item < i1 else -2
            if n != cur:
                if need_dx and cur >= 0:  # leaving image cur: store its dx
                    for h in range(H):
                        src = dxp[h + pad, pad * C : pad * C + WC]
                        dst = dxf[cur, h]
                        for k in range(WC):
                            dst[k] = src[k]
                    _zero(dxp)
                if n >= 0:
                    _pad_image(xf, n, C, pad, xp)
                cur = n
            if item == i1:
                break
            ho0 = (item - n * nblk) * rb
            ho1 = min(Ho, ho0 + rb)
            P = (ho1 - ho0) * Wo
            P4 = (P + 3) // 4 * 4
            q0 = (n * Ho + ho0) * Wo
            _im2col_rows(xp, C, ho0, ho1, HH, WW, stride, Wo, cols)
            for p in range(P):
                src = d2[q0 + p]
                for f in range(F):
                    v = src[f]
                    dblk[p, f] = v
                    dblk_t[f, p] = v
                    db[f] += v
            for p in range(P, P4):  # padding pixels: zero, so that they add nothing to dw
                _zero(dblk[p])
                _zero(cols[p])
                for f in range(Fp):
                    dblk_t[f, p] = 0
            if Kp % 16 == 0:
                _gemm_dw16(dblk_t, P4, cols, Fp, dw)  # dw (Fp, Kp) += dblk.T @ cols
            else:
                _gemm_tn(dblk, cols, P4, Fp, dw)
            if need_dx:
                _zero(dcols[:P4])
                _gemm_tn(dblk_t, w2p, Fp, P4, dcols)  # dcols (P4, Kp) = dblk @ w2p
                _col2im_rows(dcols, ho0, ho1, Wo, HH, WW, C, stride, dxp)


# -- the chunk kernels on Numba's thread pool ------------------------------------------------
# Each wrapper runs its chunk kernel once on each of T threads of Numba's OpenMP (or TBB)
# pool; the kernel takes its chunks itself. Starting such a loop costs ~5 us against ~35 us
# for handing a call to engine.workers' threads, whose wake-up goes through the GIL and a
# sleeping thread (kernels_numba._run picks one of the two).
@_par
def conv_forward_par(T, xf, C, w16, wr, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2):
    for _ in prange(T):
        conv_forward_chunk(xf, C, w16, wr, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2)


@_par
def conv_backward_par(
    T, xf, C, d2, w2p, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4
):
    for _ in prange(T):
        conv_backward_chunk(
            xf, C, d2, w2p, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4
        )
