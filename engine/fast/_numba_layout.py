"""The Numba backend's conv weights laid out for its kernels, and their weight gradients
gathered from the threads' partials: the two steps of a conv call that run on the calling
thread, around the chunk kernels of _numba_conv.py. Nothing in _numba_conv.py calls them, so
they live apart from it (Numba's cache notices edits only in the file of the function it
compiled: a helper the chunk kernels call stays in their file)."""

from __future__ import annotations

import numpy as np
from numba import njit

from . import config

_jit = njit(**config.JIT)


# Both functions index flat views with unsigned indices: a signed index that LLVM cannot prove
# non-negative (these are computed from shapes) gets NumPy's wrap-around of negative indices,
# a compare and a select per access, which made gather_dw's reorder 2x slower; arrange_weights
# gained from writing w16 in order (docs/BENCHMARKS.md, "Weight layouts with unsigned indices").
@_jit
def arrange_weights(w, flip, w16, wq, wsc):
    """Lay out conv weights w (F, C, HH, WW) for the kernels below, in (i, j, c) order k:
    w16 (G, K, 16) holds filters 16g..16g+15 as the columns of slice g, wq (Gq, HH*Q, 16) the
    filters left over in fours, each kernel row's run in Q groups of 4 values, a group's 16
    lanes its 4 filters x its 4 values (4f + c) as _numba_conv._fwd4 reads them (values past
    the run and filters past the last stay as the caller made them: zeros), and wsc
    (Fp, HH*S) each filter with every kernel row's run padded to S values, for the dx
    tiles (wsc of size 0: not wanted).

    flip: the layouts of the convolution that gives dx from dout instead (stride 1): its
    filters are w's input channels, its input channels w's filters, its kernel w's rotated
    by 180 degrees. w16 and wq both without rows: only wsc is made.
    """
    F, C, HH, WW = w.shape
    Fo, Ci = (C, F) if flip else (F, C)
    seg = WW * Ci
    G = w16.shape[0]
    K = HH * seg
    S = wsc.shape[1] // HH if wsc.size else 0
    Q = wq.shape[1] // HH
    src, o16, oq, osc = w.reshape(-1), w16.reshape(-1), wq.reshape(-1), wsc.reshape(-1)
    # w16: 16 filters' values of one k at a time, so its writes are contiguous
    so = HH * WW if flip else C * HH * WW  # from one filter of the layout to the next in w
    nf = w16.shape[2] if G else 0  # 16, not a constant: LLVM keeps the loop (see _numba_conv)
    for g in range(G):
        for i in range(HH):
            for j in range(WW):
                for c in range(Ci):
                    if flip:  # w[c, o, HH - 1 - i, WW - 1 - j]
                        s0 = ((c * C + 16 * g) * HH + HH - 1 - i) * WW + WW - 1 - j
                    else:  # w[o, c, i, j]
                        s0 = ((16 * g * C + c) * HH + i) * WW + j
                    d0 = (g * K + i * seg + j * Ci + c) * 16
                    for f in range(nf):
                        o16[np.uint64(d0 + f)] = src[np.uint64(s0 + so * f)]
    # wq and wsc: one filter at a time (wsc wants every filter, wq those past w16's)
    left = wq.shape[0] > 0
    for o in range(0 if S else 16 * G, Fo):
        gq, fq = (o - 16 * G) // 4, (o - 16 * G) % 4
        for i in range(HH):
            for j in range(WW):
                if flip:  # w[c, o, HH - 1 - i, WW - 1 - j]
                    s0, sc = (o * HH + HH - 1 - i) * WW + WW - 1 - j, C * HH * WW
                else:  # w[o, c, i, j]
                    s0, sc = (o * C * HH + i) * WW + j, HH * WW
                if left and o >= 16 * G:
                    base = ((gq * HH + i) * Q) * 16 + 4 * fq
                    for c in range(Ci):
                        kk = j * Ci + c  # within the kernel row: group kk // 4, value kk % 4
                        oq[np.uint64(base + (kk // 4) * 16 + kk % 4)] = src[np.uint64(s0 + sc * c)]
                if S:
                    d0 = o * HH * S + i * S + j * Ci
                    for c in range(Ci):
                        osc[np.uint64(d0 + c)] = src[np.uint64(s0 + sc * c)]


@_jit
def gather_dw(dw_parts, db_parts, C, HH, WW, dw, db):
    """dw (F, C, HH, WW) and db (F,): the sums over chunks of their partials, dw_parts
    (chunks, Fp, HH*S) in the dx tiles' layout (each kernel row's run padded to S) and
    db_parts (chunks, Fp); the partials of chunk 0 are overwritten."""
    F = dw.shape[0]
    R = dw_parts.shape[2]
    S = R // HH
    total, tb = dw_parts[0], db_parts[0]
    for q in range(1, dw_parts.shape[0]):
        for f in range(F):
            tb[f] += db_parts[q, f]
            for k in range(R):
                total[f, k] += dw_parts[q, f, k]
    for f in range(F):
        db[f] = tb[f]
    src, out = total.reshape(-1), dw.reshape(-1)
    K2 = HH * WW
    for f in range(F):
        for i in range(HH):
            for j in range(WW):
                s0 = f * R + i * S + j * C
                d0 = f * C * K2 + i * WW + j
                for c in range(C):
                    out[np.uint64(d0 + c * K2)] = src[np.uint64(s0 + c)]
