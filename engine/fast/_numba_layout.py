"""The Numba backend's conv weights laid out for its kernels, and their weight gradients
gathered from the threads' partials: the two steps of a conv call that run on the calling
thread, around the chunk kernels of _numba_conv.py. Nothing in _numba_conv.py calls them, so
they live apart from it (Numba's cache notices edits only in the file of the function it
compiled: a helper the chunk kernels call stays in their file)."""

from __future__ import annotations

from numba import njit

from . import config

_jit = njit(**config.JIT)


@_jit
def arrange_weights(w, flip, w16, wr, wsc, xl):
    """Lay out conv weights w (F, C, HH, WW) for the kernels below, in (i, j, c) order k:
    w16 (G, K, 16) holds filters 16g..16g+15 as the columns of slice g, wr (Fr, HH*RC) the
    filters left over as rows, each kernel row's run in chunks of 16 as _numba_conv._fwd_rows
    reads them, the last one from offset xl (_numba_conv._row_chunks; values no chunk owns, and
    rows past the last filter, stay as the caller made them: zeros), and wsc
    (Fp, HH*S) each filter with every kernel row's run padded to S values, for the dx
    tiles (wsc of size 0: not wanted).

    flip: the layouts of the convolution that gives dx from dout instead (stride 1): its
    filters are w's input channels, its input channels w's filters, its kernel w's rotated
    by 180 degrees. w16 and wr both without rows: only wsc is made.
    """
    F, C, HH, WW = w.shape
    Fo, Ci = (C, F) if flip else (F, C)
    seg = WW * Ci
    G = w16.shape[0]
    S = wsc.shape[1] // HH if wsc.size else 0
    forward = G + wr.shape[0] > 0  # else only wsc is wanted
    RC = wr.shape[1] // HH
    last = RC // 16 - 1
    for o in range(Fo):
        for i in range(HH):
            for j in range(WW):
                for c in range(Ci):
                    v = w[c, o, HH - 1 - i, WW - 1 - j] if flip else w[o, c, i, j]
                    k = i * seg + j * Ci + c
                    if forward and o < 16 * G:
                        w16[o // 16, k, o % 16] = v
                    elif forward:
                        kk = j * Ci + c  # within the kernel row: chunk kk // 16, or the last
                        ch = min(kk // 16, last)
                        wr[o - 16 * G, i * RC + 16 * ch + kk - (xl if ch == last else 16 * ch)] = v
                    if S:
                        wsc[o, i * S + j * Ci + c] = v


@_jit
def gather_dw(dw_parts, db_parts, C, HH, WW, dw, db):
    """dw (F, C, HH, WW) and db (F,): the sums over chunks of their partials, dw_parts
    (chunks, Fp, HH*S) in the dx tiles' layout (each kernel row's run padded to S) and
    db_parts (chunks, Fp); the partials of chunk 0 are overwritten."""
    F = dw.shape[0]
    S = dw_parts.shape[2] // HH
    total, tb = dw_parts[0], db_parts[0]
    for q in range(1, dw_parts.shape[0]):
        for f in range(F):
            tb[f] += db_parts[q, f]
            for k in range(total.shape[1]):
                total[f, k] += dw_parts[q, f, k]
    for f in range(F):
        db[f] = tb[f]
        for i in range(HH):
            for j in range(WW):
                for c in range(C):
                    dw[f, c, i, j] = total[f, i * S + j * C + c]
