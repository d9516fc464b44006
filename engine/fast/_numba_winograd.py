"""The Numba backend's Winograd F(2x2, 5x5) kernels: forward (and so dx, a convolution of
dout) and dw of a 5x5 convolution of stride 1, the chunk kernels kernels_numba runs where
kernels_numba.winograd() says so. The vector steps they inline are LLVM intrinsics
(_numba_winograd_ir.py, which says how the algorithm goes); the padded image and the chunk
loop come from _numba_padded.py, shared with the direct kernels (_numba_conv.py).

No public API here (_numba_conv_calls.py, behind kernels_numba.py, checks shapes,
transforms the filters and plans the chunks). Every other helper these kernels call lives in
this file: Numba's cache notices edits only in the file of the function it compiled.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, prange

from . import config
from ._numba_cpu import tile_pixels
from ._numba_intrinsics import _at, _take
from ._numba_padded import SPARE, _block_of, _chunk
from ._numba_winograd_ir import _address, _bt2d, _dt2d, _dw_product, _gemm4x4, _gemm16, _out2d

_jit = njit(**config.JIT)
_par = njit(parallel=True, **config.JIT)  # the prange wrappers: one per chunk kernel


# -- Winograd F(2x2, 5x5): a 5x5 convolution of stride 1 in tiles of 2x2 outputs --------------
# (_numba_winograd_ir.py says how; kernels_numba.winograd() says when). A work item is
# (image, block of tile rows), as the direct kernel's, and in a block NT tiles at a time go
# through the three steps: each tile's window transformed into V (per position p of the 6x6
# and channel: V[p, t, c] at p*S + t*Cs + c), the products summed over the channels into M
# (per tile, position and filter lane: M[t, p, l] at (t*36 + p)*L + l), and M transformed
# into the tile's outputs. V and M stay in L1/L2; their rows start at cache lines.
NT = tile_pixels()  # tiles per product (_numba_cpu.py): their NT sums of 16 filters stay in registers (AVX2: 4)


@_jit
def _aligned(a, n):
    """n values of a (made 64 longer) from the first that starts a cache line."""
    off = ((64 - _address(a) % 64) % 64) // a.itemsize
    return a[off : off + n]


@_jit
def wino_forward_chunk(xf, C, u16, uq, b, pad, Ho, Wo, rbt, bounds, taken, out2, relu):
    """Forward the chunks this thread takes by Winograd's F(2x2, 5x5): the rows of out2
    (N*Ho*Wo, F) of their blocks of rbt tile rows, bias b (F,), through a ReLU if relu.
    u16 (36*G, C*16) and uq (36*GQ, Q*16): the transformed filters as
    _numba_layout.arrange_winograd lays them out, 16 filters a slice and those left over in
    fours. C a multiple of 4 up to 32, F of 4, Ho and Wo even (kernels_numba checks)."""
    N, H, WC = xf.shape
    F = out2.shape[1]
    G, GQ = u16.shape[0] // 36, uq.shape[0] // 36
    Q = uq.shape[1] // 16
    Cs = 16 if C <= 16 else 32  # a row of V: runs of 16 channels (the products' stride)
    # from one position to the next in V: a line more than the rows, so that the 36 positions
    # of a tile do not fall in the same few sets of the L1 cache (a stride of 2 KB, C 20 at
    # NT 16, ran the input transform 3x slower; docs/BENCHMARKS.md, "Winograd F(2x2, 5x5)")
    S = NT * Cs + 16
    L = 16 * (G + GQ)
    XW = WC + 2 * pad * C + SPARE
    xp = np.zeros((H + 2 * pad, XW), dtype=xf.dtype)
    xpf = xp.reshape(-1)
    # not zeroed: what is read of them was written (V's rows of tiles past a block's end and
    # M's of those tiles are read and written, never used)
    V = _aligned(np.empty(36 * S + 64, dtype=xf.dtype), 36 * S)
    M = _aligned(np.empty(NT * 36 * L + 64, dtype=xf.dtype), NT * 36 * L)
    bias = _aligned(np.empty(L + 64, dtype=xf.dtype), L)
    for f in range(F):
        bias[f] = b[f]
    TW, TH = Wo // 2, Ho // 2
    nblk = (TH + rbt - 1) // rbt
    n = -1
    i0, i1 = _chunk(taken, bounds)
    while i0 >= 0:
        for item in range(i0, i1):
            n, th0, ntr = _block_of(item, nblk, rbt, TH, xf, C, pad, xp, n)
            nt = ntr * TW
            for t0 in range(0, nt, NT):
                nv = min(NT, nt - t0)
                _wino_windows(xpf, XW, C, th0, t0, nv, TW, V, S, Cs)
                for p in range(36):  # M: the products (tiles past nv: their sums are not used)
                    for g in range(G):
                        u = _at(u16, (p * G + g) * C * 16)
                        if Cs == 16:
                            _gemm16(_at(V, p * S), 16, u, C, _at(M, p * L + 16 * g), 36 * L, NT)
                        else:
                            _gemm16(_at(V, p * S), 32, u, C, _at(M, p * L + 16 * g), 36 * L, NT)
                    for g in range(GQ):
                        u = _at(uq, (p * GQ + g) * Q * 16)
                        if Cs == 16:
                            _gemm4x4(_at(V, p * S), 16, u, Q, _at(M, p * L + 16 * (G + g)), 36 * L, NT)
                        else:
                            _gemm4x4(_at(V, p * S), 32, u, Q, _at(M, p * L + 16 * (G + g)), 36 * L, NT)
                for t in range(nv):  # the outputs, each value stored once
                    th, tw = th0 + (t0 + t) // TW, (t0 + t) % TW
                    o = ((n * Ho + 2 * th) * Wo + 2 * tw) * F
                    m = t * 36 * L
                    for g in range(G):
                        _out2d(
                            _at(M, m + 16 * g),
                            6 * L,
                            L,
                            _at(out2, o + 16 * g),
                            Wo * F,
                            F,
                            _at(bias, 16 * g),
                            relu,
                            False,
                        )
                    for g in range(GQ):
                        f0 = 16 * G + 4 * g
                        _out2d(
                            _at(M, m + 16 * (G + g)), 6 * L, L, _at(out2, o + f0), Wo * F, F, _at(bias, f0), relu, True
                        )
        i0, i1 = _chunk(taken, bounds)


@_jit
def _wino_windows(xpf, XW, C, th0, t0, nv, TW, V, S, Cs):
    """V[p, t, c] of the tiles t0..t0+nv of a block whose first tile row is th0: each tile's
    6x6 window transformed, 16 channels at a time, then 4."""
    for t in range(nv):
        th, tw = th0 + (t0 + t) // TW, (t0 + t) % TW
        a0 = 2 * th * XW + 2 * tw * C
        for c0 in range(0, C - 15, 16):
            _bt2d(_at(xpf, a0 + c0), XW, C, _at(V, t * Cs + c0), S, 16)
        for c0 in range(C - C % 16, C, 4):
            _bt2d(_at(xpf, a0 + c0), XW, C, _at(V, t * Cs + c0), S, 4)


@_jit
def _dw_run(V, v0, Cs, D, d0, Fs, nv, du, a0, F, wide):
    """du[a0 + f*Cs + c] += sum over nv tiles t of D[d0 + t*Fs + f] * V[v0 + t*Cs + c] for every
    filter f and the channels c of a run of 16 (wide) or 4, 8 filters at a time, then 4 (16 at
    a time was no faster: conv2's backward at batch 64, one thread, 1.65-1.69 ms against
    1.56-1.65)."""
    for f0 in range(0, F - 7, 8):
        if wide:
            _dw_product(_at(V, v0), Cs, _at(D, d0 + f0), Fs, nv, _at(du, a0 + f0 * Cs), Cs, 8, 16)
        else:
            _dw_product(_at(V, v0), Cs, _at(D, d0 + f0), Fs, nv, _at(du, a0 + f0 * Cs), Cs, 8, 4)
    if F % 8:
        f0 = F - 4
        if wide:
            _dw_product(_at(V, v0), Cs, _at(D, d0 + f0), Fs, nv, _at(du, a0 + f0 * Cs), Cs, 4, 16)
        else:
            _dw_product(_at(V, v0), Cs, _at(D, d0 + f0), Fs, nv, _at(du, a0 + f0 * Cs), Cs, 4, 4)


@_jit
def _dw_sums(V, S, Cs, D, SD, Fs, nv, du, C, F):
    """du[p, f, c] += sum over the nv tiles of D[p, t, f] * V[p, t, c]: the products' sums in
    registers over the tiles, 16 channels (then 4) x 8 filters (then 4) at a time."""
    for p in range(36):
        for c0 in range(0, C - 15, 16):
            _dw_run(V, p * S + c0, Cs, D, p * SD, Fs, nv, du, p * F * Cs + c0, F, True)
        for c0 in range(C - C % 16, C, 4):
            _dw_run(V, p * S + c0, Cs, D, p * SD, Fs, nv, du, p * F * Cs + c0, F, False)


@_jit
def wino_dw_chunk(xf, C, d2, pad, Ho, Wo, rbt, bounds, taken, du_parts, db_parts):
    """dw's and db's partials by Winograd's F(2x2, 5x5), the transpose of its forward: chunk c
    adds into du_parts[c] (36, F, Cs), dU = sum over tiles of V * D per position p, filter f
    and channel c (V the tile's window transformed as forward, D = A dy A^T its 2x2 output
    gradient spread over the 6x6), and into db_parts[c] (F,). d2 (N*Ho*Wo, F): the gradient
    at the convolution's output. _numba_layout.gather_winograd_dw makes dw = G^T dU G."""
    N, H, WC = xf.shape
    F = d2.shape[1]
    Cs = 16 if C <= 16 else 32
    Fs = 16 if F <= 16 else 32
    S = NT * Cs + 16  # as wino_forward_chunk's V, and D's rows likewise
    SD = NT * Fs + 16
    XW = WC + 2 * pad * C + SPARE
    xp = np.zeros((H + 2 * pad, XW), dtype=xf.dtype)
    xpf = xp.reshape(-1)
    V = _aligned(np.empty(36 * S + 64, dtype=xf.dtype), 36 * S)
    D = _aligned(np.empty(36 * SD + 64, dtype=xf.dtype), 36 * SD)
    TW, TH = Wo // 2, Ho // 2
    nblk = (TH + rbt - 1) // rbt
    n = -1
    while True:
        c = _take(taken)  # its partials are chunk c's
        if c >= bounds.shape[0] - 1:
            return
        du = carray(_at(du_parts, c * 36 * F * Cs), 36 * F * Cs)
        db = carray(_at(db_parts, c * F), F)
        for item in range(bounds[c], bounds[c + 1]):
            n, th0, ntr = _block_of(item, nblk, rbt, TH, xf, C, pad, xp, n)
            nt = ntr * TW
            for t0 in range(0, nt, NT):
                nv = min(NT, nt - t0)
                _wino_windows(xpf, XW, C, th0, t0, nv, TW, V, S, Cs)
                for t in range(nv):  # D, and db
                    th, tw = th0 + (t0 + t) // TW, (t0 + t) % TW
                    o = ((n * Ho + 2 * th) * Wo + 2 * tw) * F
                    for f0 in range(0, F - 15, 16):
                        _dt2d(_at(d2, o + f0), Wo * F, F, _at(D, t * Fs + f0), SD, 16)
                    for f0 in range(F - F % 16, F, 4):
                        _dt2d(_at(d2, o + f0), Wo * F, F, _at(D, t * Fs + f0), SD, 4)
                    y00 = carray(_at(d2, o), F)
                    y01 = carray(_at(d2, o + F), F)
                    y10 = carray(_at(d2, o + Wo * F), F)
                    y11 = carray(_at(d2, o + Wo * F + F), F)
                    for f in range(F):
                        db[f] += (y00[f] + y01[f]) + (y10[f] + y11[f])
                _dw_sums(V, S, Cs, D, SD, Fs, nv, du, C, F)


# A forward tile is PX pixels of a block in row-major order, so it may span output rows (conv3's
# rows are 8 pixels, its tiles 16); the block's last tile repeats its last pixel where the
# block runs out, and only real pixels are stored. Each pixel's sums run in the same order
# whatever tile it is in, so the tiling does not change a bit.


# -- the chunk kernels on Numba's thread pool (as _numba_conv.py's) ---------------------------
@_par
def wino_forward_par(T, xf, C, u16, uq, b, pad, Ho, Wo, rbt, bounds, taken, out2, relu):
    for _ in prange(T):
        wino_forward_chunk(xf, C, u16, uq, b, pad, Ho, Wo, rbt, bounds, taken, out2, relu)


@_par
def wino_dw_par(T, xf, C, d2, pad, Ho, Wo, rbt, bounds, taken, du_parts, db_parts):
    for _ in prange(T):
        wino_dw_chunk(xf, C, d2, pad, Ho, Wo, rbt, bounds, taken, du_parts, db_parts)
