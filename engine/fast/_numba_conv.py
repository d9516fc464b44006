"""The Numba backend's direct convolution kernels: register-blocked loops over the padded
image itself (an "implicit GEMM": no im2col), and the chunk kernels that
kernels_numba.conv_forward and conv_backward run on worker threads (Winograd's, for the 5x5
convolutions it suits, are in _numba_winograd.py).

No public API here (that is kernels_numba.py, whose conv calls, in _numba_conv_calls.py, check
shapes, allocate and plan the chunks), and nothing of pooling or activations. Every helper the
chunk kernels call lives in this file, because Numba's cache only notices edits to the file of
the function it compiled; the exceptions are small and settled: the intrinsics they inline
(_numba_intrinsics.py) and the padded image and chunk loop they share with Winograd's kernels
(_numba_padded.py).

A window of the input is a few contiguous runs of the padded image (one per kernel row, WW*C
values: channels are innermost), so the kernels read windows where they lie instead of
unrolling them into an im2col buffer first (that copy was a good part of conv1's forward; see
docs/BENCHMARKS.md, "Conv without im2col"). Forward: PX (16 or 4) output pixels x 16 filters
per pass (the filters past the slices of 16 four at a time), the sums in registers, and the
ReLU applied to them before they are stored. dw: 4
filters x 16 values of a kernel row per pass, summed over the pixels of a block. dx: 4 pixels
x 16 values of a kernel row, summed over the filters and added into a padded dx image. A work
item is (image, block of output rows), so even batch 1 splits over cores. Layout: activations
(N, H, W, C) seen as (N, H, W*C); weights as _numba_layout.arrange_weights lays them out.

Rows of arrays are reached through carray views of a raw pointer (_at), never by indexing an
array with fewer indices than it has dimensions: such a view carries a reference count, and
each one made in a loop costs an atomic increment and decrement: 40% of conv1's backward on
one thread, before its three views per pixel went (see docs/BENCHMARKS.md,
"Eight sums in flight on AVX-512").
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange

from . import config
from ._numba_cpu import tile_pixels
from ._numba_intrinsics import _at, _fma4x4, _stack_like, _sum4x4, _take
from ._numba_padded import SPARE, _block_of, _chunk, _pad_image

_jit = njit(**config.JIT)
_par = njit(parallel=True, **config.JIT)  # the prange wrappers: one per chunk kernel


PX = tile_pixels()  # 16 with AVX-512, else 4 (_numba_cpu.py)
ACC = 16 * PX  # a tile's sums
WIDE = PX == 16  # and the dw tiles are 4 x 5 runs (_dw_tiles5), the dx tiles keep two sets of sums


# -- serial kernels: convolution -----------------------------------------------------------
# The padded image xp (Hp, XW) holds image n with `pad` zeros around it and SPARE more zero
# columns at the end of each row, seen flat (xpf). The window of output pixel (ho, wo) starts
# at a = ho*stride*XW + wo*stride*C: its kernel row i is the run xpf[a + i*XW : ... + WW*C],
# contiguous because channels are innermost. Weight values are in the same (i, j, c) order,
# k = i*WW*C + j*C + c, so a run of the window meets a run of the weights.
# (SPARE, _numba_padded.py: a dw tile reads up to 15 values past a window's run, _dw_tiles)


@_jit
def _zero(a):
    """a[...] = 0 for a C-contiguous array (a plain loop: Numba's slice assignment is slower)."""
    flat = a.reshape(-1)
    for k in range(flat.shape[0]):
        flat[k] = 0


@_jit
def _runs4(xpf, a0, a1, a2, a3, o, seg):
    """The runs of seg values at offset o of the 4 windows starting at a0..a3 (views)."""
    return (
        carray(_at(xpf, a0 + o), seg),
        carray(_at(xpf, a1 + o), seg),
        carray(_at(xpf, a2 + o), seg),
        carray(_at(xpf, a3 + o), seg),
    )


@_jit
def _fwd16(xpf, at, XW, HH, seg, w16, g, b, out2, relu, q, nv):
    """Filters f0..f0+15 of PX output pixels whose windows start at at[:PX]: out2[q + t, f0:
    f0 + 16] = window_t . w + b for t < nv (the rest repeat the block's last pixel), with
    relu through a ReLU (conv_relu_forward keeps that one array).
    w16[g] (K, 16): the slice of filters f0 = 16g..f0+15.

    The PX x 16 sums live in a stack array that LLVM keeps in vector registers: each k
    broadcasts PX pixel values and loads one row of w for PX vector multiply-adds (float32,
    AVX-512); see PX above and docs/BENCHMARKS.md, "Conv forward: 4 pixels x 16 filters in
    registers" and "Sixteen pixels a forward tile".
    """
    f0 = 16 * g
    acc = carray(_stack_like(xpf, 256), 256)
    for t in range(ACC):
        acc[t] = 0
    for i in range(HH):
        o = i * XW
        r0, r1, r2, r3 = _runs4(xpf, at[0], at[1], at[2], at[3], o, seg)
        wi = carray(_at(w16, (g * w16.shape[1] + i * seg) * 16), seg * 16)
        if WIDE:  # a constant: one of the two loops is compiled in
            r4, r5, r6, r7 = _runs4(xpf, at[4], at[5], at[6], at[7], o, seg)
            r8, r9, r10, r11 = _runs4(xpf, at[8], at[9], at[10], at[11], o, seg)
            r12, r13, r14, r15 = _runs4(xpf, at[12], at[13], at[14], at[15], o, seg)
            for k in range(seg):
                x0 = r0[k]
                x1 = r1[k]
                x2 = r2[k]
                x3 = r3[k]
                x4 = r4[k]
                x5 = r5[k]
                x6 = r6[k]
                x7 = r7[k]
                x8 = r8[k]
                x9 = r9[k]
                x10 = r10[k]
                x11 = r11[k]
                x12 = r12[k]
                x13 = r13[k]
                x14 = r14[k]
                x15 = r15[k]
                for f in range(16):
                    wf = wi[16 * k + f]
                    acc[f] += x0 * wf
                    acc[16 + f] += x1 * wf
                    acc[32 + f] += x2 * wf
                    acc[48 + f] += x3 * wf
                    acc[64 + f] += x4 * wf
                    acc[80 + f] += x5 * wf
                    acc[96 + f] += x6 * wf
                    acc[112 + f] += x7 * wf
                    acc[128 + f] += x8 * wf
                    acc[144 + f] += x9 * wf
                    acc[160 + f] += x10 * wf
                    acc[176 + f] += x11 * wf
                    acc[192 + f] += x12 * wf
                    acc[208 + f] += x13 * wf
                    acc[224 + f] += x14 * wf
                    acc[240 + f] += x15 * wf
        else:
            for k in range(seg):
                x0 = r0[k]
                x1 = r1[k]
                x2 = r2[k]
                x3 = r3[k]
                for f in range(16):
                    wf = wi[16 * k + f]
                    acc[f] += x0 * wf
                    acc[16 + f] += x1 * wf
                    acc[32 + f] += x2 * wf
                    acc[48 + f] += x3 * wf
    # Each value stored once, 16 a vector: the f loops run to w16's last dimension (16, not a
    # constant, which LLVM would unroll into scalar code) and the bias is read from a stack copy,
    # which out2 cannot overlap (docs/BENCHMARKS.md, "A conv's outputs stored as vectors").
    nf = w16.shape[2]
    bias = carray(_stack_like(xpf, 16), 16)
    for f in range(nf):
        bias[f] = b[f0 + f]
    zero = xpf.dtype.type(0)
    for t in range(nv):
        dst = carray(_at(out2, (q + t) * out2.shape[1] + f0), 16)
        if relu:
            for f in range(nf):
                v = acc[16 * t + f] + bias[f]
                dst[f] = zero if v < zero else v  # as _numba_act.relu_chunk: NaN passes
        else:
            for f in range(nf):
                dst[f] = acc[16 * t + f] + bias[f]


@_jit
def _fwd4(xpf, at, XW, HH, Q, wq, gq, b, f0, out2, relu, q, nv):
    """Filters f0..f0+3 past the slices of 16 (conv2's 20 = 16 + 4) of PX output pixels whose
    windows start at at[:PX], as _fwd16 stores them (fewer filters where F - f0 < 4).
    wq[gq] (HH*Q, 16): a kernel row's run in Q groups of 4 values, each group's 16 lanes the 4
    filters x its 4 values (4f + c); past the run's end the weights are 0 (the values read
    there, of the next pixels or the row's spare zeros, add nothing).

    A pixel's 16 sums are one vector: each group's 4 values of the window, repeated 4 times,
    multiply the group's 16 weights, PX multiply-adds per load of the weights as in _fwd16;
    the 4 sums of each filter are added only at the end. Both steps are intrinsics
    (_numba_intrinsics.py; an edit there needs this file's cache made again): LLVM leaves
    Numba's loop for them scalar. The kernel this replaced (filters in pairs, 4 pixels'
    vectors of 16 values summed across at the end) spent half as much time on conv2's 4
    filters as _fwd16 on its 16 (docs/BENCHMARKS.md, "The filters past the slices of 16").
    """
    F = out2.shape[1]
    acc = carray(_stack_like(xpf, 256), 256)
    for t in range(ACC):
        acc[t] = 0
    for i in range(HH):
        o = i * XW
        wi = gq * wq.shape[1] * 16 + i * Q * 16
        for k4 in range(Q):
            wp = _at(wq, wi + 16 * k4)
            ok = o + 4 * k4
            for t in range(PX):
                _fma4x4(_at(acc, 16 * t), _at(xpf, at[t] + ok), wp)
    zero = xpf.dtype.type(0)
    sums = carray(_stack_like(xpf, 4), 4)
    for t in range(nv):
        _sum4x4(_at(acc, 16 * t), _at(sums, 0))
        for f in range(min(4, F - f0)):
            v = sums[f] + b[f0 + f]
            out2[q + t, f0 + f] = zero if relu and v < zero else v


@_jit
def _dw_tiles(xpf, addr, P, XW, HH, S, dblk, dw):
    """dw (Fp, HH*S) += the outer products of the P pixels' gradients dblk[:P] (P, Fp) with
    their windows, which start at addr[:P]; Fp % 4 == 0, S % 16 == 0.

    A tile is 4 filters x 16 values of one kernel row, its 64 sums in registers as in
    _fwd16 (with AVX-512, _dw_tiles5 instead). A row's run is read in whole tiles: past its
    end the tile reads the next values of the padded image, and the sums it makes of them
    land in the padding of dw's rows, which gather_dw never reads.
    """
    Fp = dblk.shape[1]
    for f in range(0, Fp, 4):
        for i in range(HH):
            for k0 in range(0, S, 16):
                acc = carray(_stack_like(xpf, 64), 64)
                for t in range(64):
                    acc[t] = 0
                off = i * XW + k0
                for j in range(P):
                    row = carray(_at(xpf, addr[j] + off), 16)
                    d = carray(_at(dblk, j * Fp + f), 4)
                    x0 = d[0]
                    x1 = d[1]
                    x2 = d[2]
                    x3 = d[3]
                    for c in range(16):
                        v = row[c]
                        acc[c] += x0 * v
                        acc[16 + c] += x1 * v
                        acc[32 + c] += x2 * v
                        acc[48 + c] += x3 * v
                for r in range(4):  # one vector each: see _dw_tiles5's last loop
                    o = carray(_at(dw, (f + r) * HH * S + i * S + k0), 16)
                    for c in range(min(16, S)):
                        o[c] += acc[16 * r + c]


@_jit
def _chunk_at(m0, t, nm, nk, XW):
    """The window offset of chunk m0 + t of a _dw_tiles5 tile (kernel row m // nk, values
    16 * (m % nk) on); a tile's chunks past its last (t >= nm) repeat its first."""
    m = m0 + (t if t < nm else 0)
    return (m // nk) * XW + 16 * (m % nk)


@_jit
def _dw_tiles5(xpf, addr, P, XW, HH, S, dblk, dw):
    """_dw_tiles with a wider tile, for AVX-512 (WIDE): 4 filters x 5 runs of 16 values of
    the window (its chunks of 16 in (kernel row, offset) order, five at a time), 20 vector
    sums: per pixel 5 loads of the window and 4 of the gradient feed 20 multiply-adds, where
    _dw_tiles' 4 x 16 needed 5 loads for 4 (docs/BENCHMARKS.md, "Dw tiles of 4 filters x 5
    runs"). Same sum order as _dw_tiles, so the same bits; products written out (see _dx_px4)."""
    Fp = dblk.shape[1]
    nk = S // 16
    total = HH * nk
    for f in range(0, Fp, 4):
        for m0 in range(0, total, 5):
            nm = min(5, total - m0)
            # the sums of chunks past the last (nm < 5) are dropped
            o0 = _chunk_at(m0, 0, nm, nk, XW)
            o1 = _chunk_at(m0, 1, nm, nk, XW)
            o2 = _chunk_at(m0, 2, nm, nk, XW)
            o3 = _chunk_at(m0, 3, nm, nk, XW)
            o4 = _chunk_at(m0, 4, nm, nk, XW)
            acc = carray(_stack_like(xpf, 320), 320)
            for t in range(320):
                acc[t] = 0
            for j in range(P):
                a = addr[j]
                r0 = carray(_at(xpf, a + o0), 16)
                r1 = carray(_at(xpf, a + o1), 16)
                r2 = carray(_at(xpf, a + o2), 16)
                r3 = carray(_at(xpf, a + o3), 16)
                r4 = carray(_at(xpf, a + o4), 16)
                d = carray(_at(dblk, j * Fp + f), 4)
                x0 = d[0]
                x1 = d[1]
                x2 = d[2]
                x3 = d[3]
                for c in range(16):
                    v = r0[c]
                    acc[c] += x0 * v
                    acc[16 + c] += x1 * v
                    acc[32 + c] += x2 * v
                    acc[48 + c] += x3 * v
                    v = r1[c]
                    acc[64 + c] += x0 * v
                    acc[80 + c] += x1 * v
                    acc[96 + c] += x2 * v
                    acc[112 + c] += x3 * v
                    v = r2[c]
                    acc[128 + c] += x0 * v
                    acc[144 + c] += x1 * v
                    acc[160 + c] += x2 * v
                    acc[176 + c] += x3 * v
                    v = r3[c]
                    acc[192 + c] += x0 * v
                    acc[208 + c] += x1 * v
                    acc[224 + c] += x2 * v
                    acc[240 + c] += x3 * v
                    v = r4[c]
                    acc[256 + c] += x0 * v
                    acc[272 + c] += x1 * v
                    acc[288 + c] += x2 * v
                    acc[304 + c] += x3 * v
            # dw's row holds chunk m at 16 * m (S = 16 * nk); c runs to min(16, S), not a constant
            # 16, so the adds are vectors (docs/BENCHMARKS.md, "A conv's outputs stored as vectors")
            for mm in range(nm):
                for r in range(4):
                    o = carray(_at(dw, (f + r) * HH * S + 16 * (m0 + mm)), 16)
                    for c in range(min(16, S)):
                        o[c] += acc[64 * mm + 16 * r + c]


@_jit
def _dx_px4(dblk, p, nv, wsc, HH, seg, dxpf, a0, a1, a2, a3, XW):
    """Add the window gradients of nv (<= 4) pixels, dblk rows p.., into the padded dx image
    (seen flat) at the windows starting at a0..a3: a tile of 4 pixels x 16 values of a kernel
    row, summed over the filters (wsc (Fp, HH*S))."""
    Fp = wsc.shape[0]
    S = wsc.shape[1] // HH
    d0 = carray(_at(dblk, p * Fp), Fp)
    d1 = carray(_at(dblk, (p + min(1, nv - 1)) * Fp), Fp)
    d2 = carray(_at(dblk, (p + min(2, nv - 1)) * Fp), Fp)
    d3 = carray(_at(dblk, (p + min(3, nv - 1)) * Fp), Fp)
    starts = (a0, a1, a2, a3)
    for i in range(HH):
        for k0 in range(0, S, 16):
            acc = carray(_stack_like(dblk, 128), 128)
            for t in range(64):
                acc[t] = 0
            f0 = 0
            # The products below repeat _dw_tiles' written out: in a helper, even one Numba
            # inlines, LLVM kept the tile's sums in memory (backward 5-7x slower).
            if WIDE:  # filters in pairs, each into its own 64 sums (Fp is a multiple of 4)
                for t in range(64, 128):
                    acc[t] = 0
                for f in range(0, Fp, 2):
                    wf = carray(_at(wsc, f * HH * S + i * S + k0), 16)
                    wg = carray(_at(wsc, (f + 1) * HH * S + i * S + k0), 16)
                    x0 = d0[f]
                    x1 = d1[f]
                    x2 = d2[f]
                    x3 = d3[f]
                    y0 = d0[f + 1]
                    y1 = d1[f + 1]
                    y2 = d2[f + 1]
                    y3 = d3[f + 1]
                    for c in range(16):
                        v = wf[c]
                        u = wg[c]
                        acc[c] += x0 * v
                        acc[16 + c] += x1 * v
                        acc[32 + c] += x2 * v
                        acc[48 + c] += x3 * v
                        acc[64 + c] += y0 * u
                        acc[80 + c] += y1 * u
                        acc[96 + c] += y2 * u
                        acc[112 + c] += y3 * u
                for t in range(min(64, 4 * S)):  # 64, not a constant: one vector a pixel
                    acc[t] += acc[64 + t]
                f0 = Fp
            for f in range(f0, Fp):
                wf = carray(_at(wsc, f * HH * S + i * S + k0), 16)
                x0 = d0[f]
                x1 = d1[f]
                x2 = d2[f]
                x3 = d3[f]
                for c in range(16):
                    v = wf[c]
                    acc[c] += x0 * v
                    acc[16 + c] += x1 * v
                    acc[32 + c] += x2 * v
                    acc[48 + c] += x3 * v
            m = min(16, seg - k0)
            for t in range(nv):
                dst = carray(_at(dxpf, starts[t] + i * XW + k0), 16)
                for c in range(m):
                    dst[c] += acc[16 * t + c]


# -- chunk kernels: convolution --------------------------------------------------------------
# A work item is (image n, block of rb output rows); chunk c is the run of items
# [bounds[c], bounds[c + 1]). Each thread of a call runs the chunk kernel once, and the kernel
# takes chunks (_take) until none is left: a thread holds the GIL once per call, not once per
# chunk (each time it does, the other thread may have to sleep until it is let go; see
# docs/BENCHMARKS.md, "One GIL hand-off per thread").
@_jit
def conv_forward_chunk(xf, C, w16, wq, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2, relu):
    """Forward the chunks this thread takes: the rows of out2 (N*Ho*Wo, F) of their blocks,
    bias b (F,); weights as arrange_weights lays them out (w16, wq). relu: each value through
    a ReLU before it is stored (conv_relu_forward's one array)."""
    N, H, WC = xf.shape
    G = w16.shape[0]
    Q = wq.shape[1] // HH  # groups of 4 values in a kernel row's run (_fwd4)
    seg = WW * C
    nblk = (Ho + rb - 1) // rb
    XW = WC + 2 * pad * C + SPARE
    xp = np.zeros((H + 2 * pad, XW), dtype=xf.dtype)
    xpf = xp.reshape(-1)
    sC = stride * C
    n = -1  # the image in xp
    at = np.zeros(16, dtype=np.int64)  # the windows of a tile's pixels (the first PX of them)
    i0, i1 = _chunk(taken, bounds)
    while i0 >= 0:
        for item in range(i0, i1):
            n, ho0, nr = _block_of(item, nblk, rb, Ho, xf, C, pad, xp, n)
            P = nr * Wo
            q0 = (n * Ho + ho0) * Wo
            # the output row and column of pixel p0, stepped along: a division per pixel per tile
            # (p // Wo, p % Wo) cost conv1's forward 13% (docs/BENCHMARKS.md, "Sixteen pixels a forward tile")
            r, wo = ho0, 0
            for p0 in range(0, P, PX):
                nv = min(PX, P - p0)
                for t in range(nv):
                    at[t] = r * stride * XW + wo * sC
                    wo += 1
                    if wo == Wo:
                        r, wo = r + 1, 0
                for t in range(nv, PX):  # past the block's end: its last pixel again
                    at[t] = at[nv - 1]
                for g in range(G):
                    _fwd16(xpf, at, XW, HH, seg, w16, g, b, out2, relu, q0 + p0, nv)
                for gq in range(wq.shape[0]):
                    _fwd4(xpf, at, XW, HH, Q, wq, gq, b, 16 * G + 4 * gq, out2, relu, q0 + p0, nv)
        i0, i1 = _chunk(taken, bounds)


@_jit
def conv_backward_chunk(
    xf, C, d2, wsc, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4, act2
):
    """Backward the chunks this thread takes: chunk c adds into its own partials dw_parts[c]
    (Fp, HH*S) and db_parts[c] (Fp,); the dx of each image is gathered in a padded scratch
    image and stored into dx4[c] (N, H, W*C) when the chunk leaves that image — or into
    dx4[0] when dx4 holds one array (chunks own whole images). wsc: arrange_weights'.
    act2 (N*Ho*Wo, F): the output of a fused ReLU, d2 then being the gradient at it (an
    array with no rows: none, d2 is the gradient at the convolution's output)."""
    N, H, WC = xf.shape
    F = d2.shape[1]
    Fp = wsc.shape[0]
    seg = WW * C
    S = wsc.shape[1] // HH
    nblk = (Ho + rb - 1) // rb
    Hp, XW = H + 2 * pad, WC + 2 * pad * C + SPARE
    xp = np.zeros((Hp, XW), dtype=xf.dtype)
    xpf = xp.reshape(-1)
    dblk = np.zeros((rb * Wo, Fp), dtype=xf.dtype)  # (pixels, filters); columns past F stay 0
    # db's sums run here and go to db_parts[c] once per chunk: the partials of neighbouring
    # chunks share cache lines, and two threads adding into them pixel by pixel kept stealing
    # those lines from each other (docs/BENCHMARKS.md, "Conv without im2col").
    dbl = np.zeros(Fp, dtype=xf.dtype)
    addr = np.empty(rb * Wo, dtype=np.int64)
    dxp = np.zeros((Hp if need_dx else 1, XW), dtype=xf.dtype)
    dxpf = dxp.reshape(-1)
    sC = stride * C
    while True:
        c = _take(taken)
        if c >= bounds.shape[0] - 1:
            return
        i0, i1 = bounds[c], bounds[c + 1]
        dw, dxf = dw_parts[c], dx4[min(c, dx4.shape[0] - 1)]
        _zero(dbl)
        cur = -1
        for item in range(i0, i1 + 1):
            n = item // nblk if item < i1 else -2
            if n != cur:
                if need_dx and cur >= 0:  # leaving image cur: store its dx
                    for h in range(H):
                        src = carray(_at(dxp, (h + pad) * XW + pad * C), WC)
                        dst = carray(_at(dxf, (cur * H + h) * WC), WC)
                        for k in range(WC):
                            dst[k] = src[k]
                    _zero(dxp)
                if n >= 0:
                    _pad_image(xf, n, C, pad, xp)
                cur = n
            if item == i1:
                for f in range(Fp):
                    db_parts[c, f] = dbl[f]
                break
            ho0 = (item - n * nblk) * rb
            ho1 = min(Ho, ho0 + rb)
            P = (ho1 - ho0) * Wo
            q0 = (n * Ho + ho0) * Wo
            zero = xf.dtype.type(0)
            for p in range(P):
                src = carray(_at(d2, (q0 + p) * F), F)
                dst = carray(_at(dblk, p * Fp), F)
                if act2.shape[0]:  # through the ReLU first, as _numba_act.relu_chunk does
                    act = carray(_at(act2, (q0 + p) * F), F)
                    for f in range(F):
                        v = src[f] if act[f] > zero else zero
                        dst[f] = v
                        dbl[f] += v
                else:
                    for f in range(F):
                        v = src[f]
                        dst[f] = v
                        dbl[f] += v
                addr[p] = (ho0 + p // Wo) * stride * XW + (p % Wo) * sC
            if WIDE:
                _dw_tiles5(xpf, addr, P, XW, HH, S, dblk, dw)
            else:
                _dw_tiles(xpf, addr, P, XW, HH, S, dblk, dw)
            if need_dx:
                for r in range(ho1 - ho0):
                    for wo in range(0, Wo, 4):
                        nv = min(4, Wo - wo)
                        p = r * Wo
                        _dx_px4(
                            dblk,
                            p + wo,
                            nv,
                            wsc,
                            HH,
                            seg,
                            dxpf,
                            addr[p + wo],
                            addr[p + min(wo + 1, Wo - 1)],
                            addr[p + min(wo + 2, Wo - 1)],
                            addr[p + min(wo + 3, Wo - 1)],
                            XW,
                        )


# -- the chunk kernels on Numba's thread pool ------------------------------------------------
# Each wrapper runs its chunk kernel once on each of T threads of Numba's OpenMP (or TBB)
# pool; the kernel takes its chunks itself. Starting such a loop costs far less than handing a
# call to engine.fast.workers' threads, whose wake-up goes through the GIL and a sleeping
# thread (parallel.run picks one of the two; docs/BENCHMARKS.md, "Numba's pool against our own
# threads").
@_par
def conv_forward_par(T, xf, C, w16, wq, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2, relu):
    for _ in prange(T):
        conv_forward_chunk(xf, C, w16, wq, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2, relu)


@_par
def conv_backward_par(
    T, xf, C, d2, wsc, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4, act2
):
    for _ in prange(T):
        conv_backward_chunk(
            xf, C, d2, wsc, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4, act2
        )
