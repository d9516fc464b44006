"""The NumPy backend's conv GEMMs where NumPy has no BLAS (Pyodide): shaped for its plain loops.

engine/kernels_numpy.py calls these when NO_BLAS is true. Without BLAS, np.dot sums each output
element in one loop, a chain of dependent float adds: a conv's (rows, K) x (K, F) runs at the
adds' latency. einsum's loop for `outT[f, :] += w[f, k] * colsT[k, :]` has no such chain (each
output pixel is its own sum), so a conv is computed transposed: im2col into colsT (K, rows),
einsum "fk,km->fm" into (F, rows), and out gets that transposed (docs/BENCHMARKS.md, "Conv
GEMMs without BLAS: einsum on the transposed im2col"). Both sum over K in the same order, so the
result has the same bits as np.dot's. The weight gradient reads the same colsT, in blocks of
rows (see dw).

Python 3.8 / NumPy 1.17 and up, like kernels_numpy.py.
"""

from __future__ import annotations

import numpy as np

ROWS = 4096  # output pixels per einsum call (whole images; the default net's convs in one or four)
DW_ROWS = 64  # rows of colsT per dw GEMM (see dw)


def convolve(windows, w, b, out, act=None, keep_cols=True):
    """Convolution of the (N, Ho, Wo, HH, WW, C) windows view (kernels_numpy._windows) with
    w (F, C, HH, WW), plus b (F,) unless None, written into out (N, Ho, Wo, F); with act (like
    out, or out itself) also out through a ReLU. Returns cols, the (N*Ho*Wo, K) im2col that dw
    reads, as the transposed view of a contiguous (K, N*Ho*Wo) array if keep_cols, else None
    (then colsT is made one block at a time)."""
    N, Ho, Wo, HH, WW, C = windows.shape
    F = w.shape[0]
    K, P = HH * WW * C, Ho * Wo
    wT = w.transpose(0, 2, 3, 1).reshape(F, K)  # (F, K), K in (HH, WW, C) order, as the windows
    out2 = out.reshape(N * P, F)
    act2 = act.reshape(N * P, F) if act is not None else None
    colsT = None
    if keep_cols:
        colsT = np.empty((K, N * P), dtype=windows.dtype)
        colsT.reshape(HH, WW, C, N, Ho, Wo)[...] = windows.transpose(3, 4, 5, 0, 1, 2)
    step = max(1, ROWS // P)  # images per einsum
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        rows = slice(n0 * P, n1 * P)
        if colsT is not None:
            cT = colsT[:, rows]  # (K, m)
        else:
            cT = np.empty((K, (n1 - n0) * P), dtype=windows.dtype)
            cT.reshape(HH, WW, C, n1 - n0, Ho, Wo)[...] = windows[n0:n1].transpose(3, 4, 5, 0, 1, 2)
        oT = np.einsum("fk,km->fm", wT, cT)  # (F, m)
        if b is None:
            out2[rows] = oT.T
        else:
            np.add(oT.T, b, out=out2[rows])
        if act is not None:
            np.maximum(out2[rows], 0, out=act2[rows])
    return colsT.T if colsT is not None else None


def dw(d2, cols):
    """(F, K) = d2.T @ cols for d2 (rows, F) and cols (rows, K), the transposed view that
    convolve returns (or a row slice of it).

    A weight gradient's outputs are few and its sums long, so each is a chain of adds whatever
    the shape: einsum "fm,km->fk" on dout's transpose made contiguous and colsT, DW_ROWS rows
    at a time (short chains, the block of colsT stays in cache), the blocks' gradients added up
    (docs/BENCHMARKS.md, "Conv GEMMs without BLAS: einsum on the transposed im2col")."""
    colsT = cols.T  # (K, rows)
    dt = np.ascontiguousarray(d2.T)  # (F, rows)
    R = DW_ROWS
    out = np.einsum("fm,km->fk", dt[:, :R], colsT[:, :R])
    for m0 in range(R, colsT.shape[1], R):
        out += np.einsum("fm,km->fk", dt[:, m0 : m0 + R], colsT[:, m0 : m0 + R])
    return out
