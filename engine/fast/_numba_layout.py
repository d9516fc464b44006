"""The Numba backend's conv weights laid out for its kernels, and their weight gradients
gathered from the threads' partials: the two steps of a conv call that run on the calling
thread, around the chunk kernels of _numba_conv.py. Nothing in _numba_conv.py calls them, so
they live apart from it (Numba's cache notices edits only in the file of the function it
compiled: a helper the chunk kernels call stays in their file)."""

from __future__ import annotations

import numpy as np
from numba import njit

from . import config
from ._numba_winograd_ir import POINTS

_jit = njit(**config.JIT)


def _winograd_g():
    """G (6, 5) of Winograd's F(2x2, 5x5) for the points _numba_winograd_ir.POINTS and
    infinity (Toom-Cook: row j is the powers of point j over the product of its differences to
    the others; infinity's row takes the kernel's last value), matching its BT and AT."""
    g = np.zeros((6, 5))
    for j, p in enumerate(POINTS):
        d = np.prod([p - q for q in POINTS if q != p])
        g[j] = [p**k / d for k in range(5)]
    g[5, 4] = 1.0
    return g


WINOGRAD_G = _winograd_g()
WINOGRAD_GT = np.ascontiguousarray(WINOGRAD_G.T)


@_jit
def _along(m, src, A, B, first, P):
    """m (X, Y) applied along the first (first) or the second axis of src, an A x B grid of
    runs of P values (run (a, b) at (a*B + b)*P): the X x B or A x X grid of the sums over y
    of m[x, y] times run (y, b) or (a, y), y in order, m's zeros skipped (G's first and last
    rows have one value each). The runs are a conv's (filter, channel) pairs: vector loops."""
    X, Y = m.shape
    dst = np.zeros((X * B if first else A * X) * P)
    for a in range(1 if first else A):
        for x in range(X):
            for y in range(Y):
                c = m[x, y]
                if c == 0:
                    continue
                for b in range(B if first else 1):
                    d0 = ((x * B + b) if first else (a * X + x)) * P
                    s0 = ((y * B + b) if first else (a * B + y)) * P
                    for q in range(P):
                        dst[np.uint64(d0 + q)] += c * src[np.uint64(s0 + q)]
    return dst


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
def arrange_winograd(w, flip, u16, uq):
    """Conv weights w (F, C, 5, 5) transformed for _numba_winograd.wino_forward_chunk: U = G w G^T
    per filter and channel, in float64, at position p = 6a + b of the 6x6: u16 (36*G, C*16)
    holds filters 16g..16g+15 of position p in row p*G + g, a channel's 16 filters side by
    side; uq (36*Gq, Q*16) the filters left over in fours, row p*Gq + gq, channels in groups
    of 4, a group's 16 lanes its 4 filters x 4 channels (4f + c), as _fwd4's wq. flip: the
    convolution that gives dx from dout instead (as arrange_weights).

    The two products run over all (filter, channel) pairs at once, the pairs innermost, so
    that they are vector loops: one pair at a time, a call took 17 us for conv2 (4 calls a
    training step; a batch-1 step takes ~210 us)."""
    F, C, HH, WW = w.shape
    Fo, Ci = (C, F) if flip else (F, C)
    G, Gq = u16.shape[0] // 36, uq.shape[0] // 36
    P = Fo * Ci
    k = np.empty(25 * P)  # the kernels, value (i, j) of pair o*Ci + c at (5i + j)*P + pair
    src = w.reshape(-1)
    for o in range(Fo):
        for c in range(Ci):
            for i in range(5):
                for j in range(5):
                    if flip:  # w[c, o, 4 - i, 4 - j]
                        s0 = ((c * C + o) * 5 + 4 - i) * 5 + 4 - j
                    else:
                        s0 = ((o * C + c) * 5 + i) * 5 + j
                    k[np.uint64((5 * i + j) * P + o * Ci + c)] = src[np.uint64(s0)]
    t = _along(WINOGRAD_G, k, 5, 5, True, P)  # G k: run 5a + j
    u = _along(WINOGRAD_G, t, 6, 5, False, P)  # (G k) G^T: run 6a + b
    o16, oq = u16.reshape(-1), uq.reshape(-1)
    R16, Rq = u16.shape[1], uq.shape[1]
    for p in range(36):
        for o in range(Fo):
            for c in range(Ci):
                v = u[np.uint64(p * P + o * Ci + c)]
                if o < 16 * G:
                    o16[np.uint64((p * G + o // 16) * R16 + c * 16 + o % 16)] = v
                else:
                    r = o - 16 * G
                    oq[np.uint64((p * Gq + r // 4) * Rq + (c // 4) * 16 + 4 * (r % 4) + c % 4)] = v


@_jit
def gather_winograd_dw(du_parts, db_parts, dw, db):
    """dw (F, C, 5, 5) = G^T dU G and db (F,) from the chunks' partials of
    _numba_winograd.wino_dw_chunk: du_parts (chunks, 36, F, Cs), db_parts (chunks, F), summed in
    float64, the pairs (f, c) innermost so that the products are vector loops (as
    arrange_winograd)."""
    F, C = dw.shape[0], dw.shape[1]
    Cs = du_parts.shape[3]
    P = F * C
    u = np.zeros(36 * P)  # dU: row 6a + b, pair f*C + c
    for q in range(du_parts.shape[0]):
        part = du_parts[q].reshape(-1)
        for p in range(36):
            for f in range(F):
                for c in range(C):
                    u[np.uint64(p * P + f * C + c)] += part[np.uint64((p * F + f) * Cs + c)]
    t = _along(WINOGRAD_GT, u, 6, 6, False, P)  # dU G: run 5a + j
    k = _along(WINOGRAD_GT, t, 6, 5, True, P)  # G^T (dU G): run 5i + j
    out = dw.reshape(-1)
    for f in range(F):
        for c in range(C):
            for r in range(25):
                out[np.uint64((f * C + c) * 25 + r)] = k[np.uint64(r * P + f * C + c)]
    for f in range(F):
        s = 0.0
        for q in range(db_parts.shape[0]):
            s += db_parts[q, f]
        db[f] = s


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
