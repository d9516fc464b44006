"""The Numba backend's max-pooling chunk kernels (kernels_numba.pool_forward, pool_backward).

No public API here and nothing of convolution or activations; every helper the chunk kernels
call lives in this file (Numba's cache only notices edits to the compiled function's file).
Max-pool routes the gradient to the first maximum of its window (row-major), as PyTorch and
kernels_numpy do; NaN counts as a maximum, as in np.argmax.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange

from . import config
from ._numba_intrinsics import _at, _take  # inlined, and settled: see that file

_jit = njit(**config.JIT)
_par = njit(parallel=True, **config.JIT)


# -- chunk kernels: max pooling -------------------------------------------------------------
@_jit
def _max_tap(v, m, k, t):
    """(value, tap) after tap t with value v, against the best so far (m, k): strictly
    greater wins, so ties keep the first; a NaN wins once, as in np.argmax."""
    take = (v > m) | ((v != v) & (m == m))
    return (v if take else m), (t if take else k)


@_jit
def pool_forward_chunk(xf, C, size, stride, Ho, Wo, r0, r1, out2, arg2):
    """Output rows r in [r0, r1), r = n * Ho + ho: the max of each window and which tap
    (k = i * size + j) holds it. xf (N, H, W*C); out2 and arg2 (int32) are (N*Ho, Wo*C).

    2x2 windows (nearly every net) get straight-line code that LLVM vectorises over the
    channels, far faster than the general loop over taps, on carray views, which cost less to
    make than slices (see docs/BENCHMARKS.md, "Max pooling in Numba" and "Carray views
    instead of slices").
    """
    t1, t2, t3 = np.int32(1), np.int32(2), np.int32(3)
    H, WC = xf.shape[1], xf.shape[2]
    OW = out2.shape[1]
    for r in range(r0, r1):
        n = r // Ho
        ho = r - n * Ho
        if size == 2:
            for wo in range(Wo):
                # two row views, not four tap views: fewer arrays, fewer runtime alias checks
                # for LLVM to vectorise the loop
                base = (n * H + ho * stride) * WC + wo * stride * C
                x0 = carray(_at(xf, base), 2 * C)
                x1 = carray(_at(xf, base + WC), 2 * C)
                o = carray(_at(out2, r * OW + wo * C), C)
                a = carray(_at(arg2, r * OW + wo * C), C)
                for c in range(C):
                    m, k = _max_tap(x0[C + c], x0[c], np.int32(0), t1)
                    m, k = _max_tap(x1[c], m, k, t2)
                    m, k = _max_tap(x1[C + c], m, k, t3)
                    o[c] = m
                    a[c] = k
            continue
        for wo in range(Wo):
            o = out2[r, wo * C : (wo + 1) * C]
            a = arg2[r, wo * C : (wo + 1) * C]
            w0 = wo * stride
            for t in range(size * size):
                i = t // size
                w = w0 + t - i * size
                xr = xf[n, ho * stride + i, w * C : (w + 1) * C]
                if t == 0:
                    for c in range(C):
                        o[c] = xr[c]
                        a[c] = 0
                    continue
                for c in range(C):
                    o[c], a[c] = _max_tap(xr[c], o[c], a[c], np.int32(t))


@_jit
def _zero_rows(dxf, n, h0, h1, k0):
    """dxf[n, h0:h1, k0:] = 0."""
    for h in range(h0, h1):
        row = dxf[n, h, k0:]
        for k in range(row.shape[0]):
            row[k] = 0


@_jit
def pool_backward_chunk(dout2, arg2, C, size, stride, Ho, Wo, by_rows, u0, u1, dxf):
    """Route dout to each window's first maximum, for units [u0, u1). dxf (N, H, W*C).

    A unit is one output row (n, ho) when windows do not overlap (stride >= size), else one
    whole image; a unit writes only the dx rows that are its own. When windows tile the
    input (stride == size) each dx value is written once, so only the uncovered edge is
    zeroed first; otherwise the unit's rows are zeroed and the gradients added.
    """
    H = dxf.shape[1]
    tiled = stride == size
    for u in range(u0, u1):
        if by_rows:
            n = u // Ho
            ho0 = u - n * Ho
            ho1 = ho0 + 1
            h0 = ho0 * stride
            h1 = H if ho0 == Ho - 1 else min(H, h0 + stride)
        else:
            n, ho0, ho1, h0, h1 = u, 0, Ho, 0, H
        if tiled:
            _zero_rows(dxf, n, h0, min(h1, h0 + size), Wo * size * C)  # right edge
            _zero_rows(dxf, n, min(h1, h0 + size), h1, 0)  # bottom edge
        else:
            _zero_rows(dxf, n, h0, h1, 0)
        # the common case: a loop LLVM unrolls (docs/BENCHMARKS.md, "Max pooling in Numba")
        if tiled and size == 2:
            OW, WC = dout2.shape[1], dxf.shape[2]
            zero = dxf.dtype.type(0)
            for ho in range(ho0, ho1):
                r = n * Ho + ho
                for wo in range(Wo):
                    g = carray(_at(dout2, r * OW + wo * C), C)
                    a = carray(_at(arg2, r * OW + wo * C), C)
                    for k in range(4):
                        i = k // 2
                        d = carray(_at(dxf, (n * H + 2 * ho + i) * WC + (2 * wo + k - 2 * i) * C), C)
                        for c in range(C):
                            d[c] = g[c] if a[c] == k else zero
            continue
        # Taps outermost: a dx value shared by overlapping windows sums their gradients in
        # the order kernels_numpy does, so both backends agree to the last bit.
        for k in range(size * size):
            i = k // size
            for ho in range(ho0, ho1):
                r = n * Ho + ho
                for wo in range(Wo):
                    g = dout2[r, wo * C : (wo + 1) * C]
                    a = arg2[r, wo * C : (wo + 1) * C]
                    w = wo * stride + k - i * size
                    d = dxf[n, ho * stride + i, w * C : (w + 1) * C]
                    zero = d.dtype.type(0)
                    if tiled:
                        for c in range(C):
                            d[c] = g[c] if a[c] == k else zero
                    else:
                        for c in range(C):
                            d[c] += g[c] if a[c] == k else zero


# -- the chunk kernels on Numba's thread pool (see _numba_conv.conv_forward_par) -------------
# Chunk c is [bounds[c], bounds[c + 1]); each of the T threads takes chunks until none is left.
@_par
def pool_forward_par(T, bounds, taken, xf, C, size, stride, Ho, Wo, out2, arg2):
    for _ in prange(T):
        c = _take(taken)
        while c < bounds.shape[0] - 1:
            pool_forward_chunk(xf, C, size, stride, Ho, Wo, bounds[c], bounds[c + 1], out2, arg2)
            c = _take(taken)


@_par
def pool_backward_par(T, bounds, taken, dout2, arg2, C, size, stride, Ho, Wo, by_rows, dxf):
    for _ in prange(T):
        c = _take(taken)
        while c < bounds.shape[0] - 1:
            pool_backward_chunk(dout2, arg2, C, size, stride, Ho, Wo, by_rows, bounds[c], bounds[c + 1], dxf)
            c = _take(taken)
