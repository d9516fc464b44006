"""The engine's kernels in Numba: the fast backend, same names and signatures as kernels_numpy.

Three levels, in the spirit of stumpy:
1. serial `@njit` kernels: im2col of a block of output rows, register-blocked small GEMMs,
   col2im, the max-pool and elementwise loops;
2. chunk kernels (`@njit`, `nogil`): one thread's share of a batch — a contiguous run of
   work items — writing only that share's slice of the output, and sums over the batch
   (conv dw, db) into the share's own partials, added up afterwards;
3. public functions (the API layers.py calls): check shapes, pick the dtype, allocate the
   outputs, cut the batch into chunks when the work is worth it (config.py's thresholds)
   and run them on all threads, each thread taking the next chunk when it is done.

The chunks run on worker threads (`engine/workers.py`), not in a `parallel=True` prange loop: the
kernels release the GIL, so threads give the same parallelism, while Numba's parfor pipeline
compiles every kernel a prange body calls several more times over — the first run compiled
for ~21 s of CPU with prange batch kernels against ~8-10 s now (measured on this machine).
Taking chunks one by one also keeps a thread parked by the OS from holding up the batch.

Convolution is im2col by blocks: about CONV_BLOCK_PIXELS output pixels of one image are
unrolled into a (pixels, HH*WW*C) buffer that stays in cache, and the GEMMs written here run
on it (Numba's np.dot would need SciPy). A work item is (image, block of output rows), so even
batch 1 splits over cores; nothing the size of the batch's im2col matrix is ever allocated, and
conv_backward unrolls the input again instead of caching it.

Layout as in kernels_numpy.py: activations (N, H, W, C), conv weight (F, C, HH, WW), fc weight
(out, in). Max-pool routes the gradient to the first maximum of its window (row-major), as
PyTorch and kernels_numpy do; NaN counts as a maximum, as in np.argmax. fc uses NumPy's BLAS.
Compile options come from config.py; every helper a kernel calls lives in this file, because
Numba's cache only notices edits to the file of the function it compiled.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

from . import config
from .workers import workers as _workers

NAME = "numba"

_jit = njit(**config.JIT)


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
    """Unroll output rows [ho0, ho1) of a padded image xp (Hp, Wp*C): cols[p] = the window
    of pixel p in (HH, WW, C) order, one contiguous run of WW*C values per kernel row."""
    seg = WW * C
    r = 0
    # Loops index views from 0: an index Numba cannot prove non-negative gets a wraparound
    # check, which stops LLVM from vectorising the copy (5x slower, measured).
    for ho in range(ho0, ho1):
        for wo in range(Wo):
            row = cols[r]
            b = wo * stride * C
            for i in range(HH):
                src = xp[ho * stride + i, b : b + seg]
                dst = row[i * seg : (i + 1) * seg]
                for k in range(seg):
                    dst[k] = src[k]
            r += 1


@_jit
def _gemm_nt(a, P, b, bias, out):
    """out[p, f] = bias[f] + a[p] . b[f]: a (>=P, K), b (F, K), out (>=P, F); P % 4 == F % 2 == 0.

    4 pixels x 2 filters per pass: eight running dot products that LLVM keeps in vector
    registers (the K loop is contiguous in both operands). Callers pad P and F instead of
    this kernel growing tail loops (each one more vectorised loop to compile).
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
            out[p, f] = s00 + bias[f]
            out[p, f + 1] = s01 + bias[f + 1]
            out[p + 1, f] = s10 + bias[f]
            out[p + 1, f + 1] = s11 + bias[f + 1]
            out[p + 2, f] = s20 + bias[f]
            out[p + 2, f + 1] = s21 + bias[f + 1]
            out[p + 3, f] = s30 + bias[f]
            out[p + 3, f + 1] = s31 + bias[f + 1]


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
# A work item is (image n, block of rb output rows); a chunk is a contiguous run of items.
# The P pixels of a block are padded to P4 (a multiple of 4) and the F filters to Fp (a
# multiple of 4, zero rows in w2p) so that the GEMM kernels above need no tail loops.
@_jit
def _conv_forward_chunk(xf, C, w2p, bp, F, HH, WW, stride, pad, Ho, Wo, rb, i0, i1, out2):
    """Forward items [i0, i1): the rows of out2 (N*Ho*Wo, F) of those blocks."""
    N, H, WC = xf.shape
    Fp, Kp = w2p.shape
    nblk = (Ho + rb - 1) // rb
    cap = (rb * Wo + 3) // 4 * 4
    xp = np.zeros((H + 2 * pad, WC + 2 * pad * C), dtype=xf.dtype)
    cols = np.zeros((cap, Kp), dtype=xf.dtype)  # columns >= HH*WW*C stay 0
    obuf = np.empty((cap, Fp), dtype=xf.dtype)
    cur = -1
    for item in range(i0, i1):
        n = item // nblk
        if n != cur:
            _pad_image(xf, n, C, pad, xp)
            cur = n
        ho0 = (item - n * nblk) * rb
        ho1 = min(Ho, ho0 + rb)
        P = (ho1 - ho0) * Wo
        _im2col_rows(xp, C, ho0, ho1, HH, WW, stride, Wo, cols)
        _gemm_nt(cols, (P + 3) // 4 * 4, w2p, bp, obuf)
        q0 = (n * Ho + ho0) * Wo
        for p in range(P):
            dst = out2[q0 + p]
            src = obuf[p]
            for f in range(F):
                dst[f] = src[f]


@_jit
def _conv_backward_chunk(xf, C, d2, w2p, HH, WW, stride, pad, Ho, Wo, rb, i0, i1, need_dx, dw, db, dxf):
    """Backward items [i0, i1): adds into dw (Fp, Kp) and db (Fp,); the dx of each image is
    gathered in a padded scratch image and stored into dxf[n] (N, H, W*C) when the chunk
    leaves that image."""
    N, H, WC = xf.shape
    F = d2.shape[1]
    Fp, Kp = w2p.shape
    nblk = (Ho + rb - 1) // rb
    cap = (rb * Wo + 3) // 4 * 4
    Hp, WpC = H + 2 * pad, WC + 2 * pad * C
    xp = np.zeros((Hp, WpC), dtype=xf.dtype)
    cols = np.zeros((cap, Kp), dtype=xf.dtype)
    dblk = np.zeros((cap, Fp), dtype=xf.dtype)  # (pixels, filters); the padding stays 0
    dblk_t = np.zeros((Fp, cap), dtype=xf.dtype)  # its transpose, for dcols
    dcols = np.empty((cap if need_dx else 1, Kp), dtype=xf.dtype)
    dxp = np.zeros((Hp if need_dx else 1, WpC), dtype=xf.dtype)
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
        _gemm_tn(dblk, cols, P4, Fp, dw)  # dw (Fp, Kp) += dblk.T @ cols
        if need_dx:
            _zero(dcols[:P4])
            _gemm_tn(dblk_t, w2p, Fp, P4, dcols)  # dcols (P4, Kp) = dblk @ w2p
            _col2im_rows(dcols, ho0, ho1, Wo, HH, WW, C, stride, dxp)


# -- chunk kernels: max pooling -------------------------------------------------------------
@_jit
def _max_tap(v, m, k, t):
    """(value, tap) after tap t with value v, against the best so far (m, k): strictly
    greater wins, so ties keep the first; a NaN wins once, as in np.argmax."""
    take = (v > m) | ((v != v) & (m == m))
    return (v if take else m), (t if take else k)


@_jit
def _pool_forward_chunk(xf, C, size, stride, Ho, Wo, r0, r1, out2, arg2):
    """Output rows r in [r0, r1), r = n * Ho + ho: the max of each window and which tap
    (k = i * size + j) holds it. xf (N, H, W*C); out2 and arg2 (int32) are (N*Ho, Wo*C).

    2x2 windows (nearly every net) get straight-line code that LLVM vectorises over the
    channels, 10x faster than the general loop over taps (measured).
    """
    t1, t2, t3 = np.int32(1), np.int32(2), np.int32(3)
    for r in range(r0, r1):
        n = r // Ho
        ho = r - n * Ho
        for wo in range(Wo):
            o = out2[r, wo * C : (wo + 1) * C]
            a = arg2[r, wo * C : (wo + 1) * C]
            w0 = wo * stride
            if size == 2:
                # two row views, not four tap views: fewer arrays, fewer runtime alias checks
                # for LLVM to vectorise the loop
                x0 = xf[n, ho * stride, w0 * C : (w0 + 2) * C]
                x1 = xf[n, ho * stride + 1, w0 * C : (w0 + 2) * C]
                for c in range(C):
                    m, k = _max_tap(x0[C + c], x0[c], np.int32(0), t1)
                    m, k = _max_tap(x1[c], m, k, t2)
                    m, k = _max_tap(x1[C + c], m, k, t3)
                    o[c] = m
                    a[c] = k
                continue
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
def _pool_backward_chunk(dout2, arg2, C, size, stride, Ho, Wo, by_rows, u0, u1, dxf):
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
        if tiled and size == 2:  # the common case, with a loop LLVM unrolls (2x faster)
            for ho in range(ho0, ho1):
                r = n * Ho + ho
                for wo in range(Wo):
                    g = dout2[r, wo * C : (wo + 1) * C]
                    a = arg2[r, wo * C : (wo + 1) * C]
                    for k in range(4):
                        i = k // 2
                        w = 2 * wo + k - 2 * i
                        d = dxf[n, 2 * ho + i, w * C : (w + 1) * C]
                        zero = d.dtype.type(0)
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


# -- chunk kernels: elementwise -------------------------------------------------------------
# Forward: out = f(a). Backward: out = a * f'(.) with a = dout and c = the forward output.
# One kernel per activation, so that a ReLU net never compiles tanh or exp.
@_jit
def _relu(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]  # views: loops from 0 vectorise (see im2col)
    zero = a.dtype.type(0)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] if c[i] > zero else zero
    else:
        for i in range(a.shape[0]):
            v = a[i]
            out[i] = zero if v < zero else v  # NaN passes through, as in np.maximum


@_jit
def _tanh(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]
    one = a.dtype.type(1)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] * (one - c[i] * c[i])
    else:
        for i in range(a.shape[0]):
            out[i] = np.tanh(a[i])


@_jit
def _sigmoid(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]
    one = a.dtype.type(1)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] * c[i] * (one - c[i])
    else:
        for i in range(a.shape[0]):
            out[i] = one / (one + np.exp(-a[i]))


# -- serial kernel: softmax and its loss --------------------------------------------------
@_jit
def _softmax(scores, y, with_loss, probs, dscores):
    """probs = softmax(scores) row by row; with_loss: also dscores and the mean cross-entropy
    against labels y. Sums run in float64; the max is subtracted first, so huge scores stay
    finite, and a NaN score makes its row NaN."""
    N, K = scores.shape
    loss = 0.0
    for n in range(N):
        s = scores[n]
        m = s[0]
        for k in range(1, K):
            if s[k] > m or s[k] != s[k]:
                m = s[k]
        total = 0.0
        for k in range(K):
            e = np.exp(s[k] - m)
            probs[n, k] = e
            total += e
        inv = 1.0 / total
        for k in range(K):
            probs[n, k] *= inv
        if with_loss:
            loss += np.log(total) + m - s[y[n]]
            for k in range(K):
                dscores[n, k] = probs[n, k] / N
            dscores[n, y[n]] -= 1.0 / N
    return loss / max(N, 1)


def _threads():
    # numba.config's count, not numba.get_num_threads(): that one would start Numba's own
    # thread pool, which these kernels never use.
    if not config.PARALLEL_ENABLED:
        return 1
    return max(1, config.THREADS or numba.config.NUMBA_NUM_THREADS)


def _split(total, T):
    """T contiguous ranges [i0, i1) covering range(total)."""
    return [(t * total // T, (t + 1) * total // T) for t in range(T)]


# -- public API -------------------------------------------------------------------------------
def _float(a, dtype=None):
    """A C-contiguous float32/float64 array: `dtype` if given, else a's own (ints -> float64)."""
    a = np.asarray(a)
    if dtype is None:
        dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(a, dtype=dtype)


def _plan(work, threshold, units):
    """(threads, chunks) for a call: one thread below `threshold` of work, else all of them
    and CHUNKS_PER_THREAD chunks each (never more chunks than units of work)."""
    T = _threads() if work >= threshold else 1
    if T == 1 or units <= 1:
        return 1, 1
    return T, min(units, T * config.CHUNKS_PER_THREAD)


def _check_volume(x, what):
    if x.ndim != 4:
        raise ValueError("%s: expected a 4-d (N, H, W, C) array, got shape %s" % (what, x.shape))


def _conv_geometry(H, W, HH, WW, stride, pad):
    """Output size and rows per work item (about CONV_BLOCK_PIXELS pixels)."""
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    rb = max(1, min(Ho, config.CONV_BLOCK_PIXELS // max(Wo, 1)))
    return Ho, Wo, rb


def conv_forward(x, w, b, stride, pad):
    """Convolution. x (N, H, W, C), w (F, C, HH, WW), b (F,) -> out (N, Ho, Wo, F), cache."""
    x = _float(x)
    _check_volume(x, "conv_forward")
    w = _float(w, x.dtype)
    b = _float(b, x.dtype)
    N, H, W, C = x.shape
    if w.ndim != 4 or w.shape[1] != C:
        raise ValueError(
            "conv_forward: weight of shape %s does not fit an input with %d channels "
            "— expected (F, %d, HH, WW)" % (w.shape, C, C)
        )
    F, _, HH, WW = w.shape
    if b.shape != (F,):
        raise ValueError("conv_forward: bias of shape %s, expected (%d,)" % (b.shape, F))
    stride, pad = int(stride), int(pad)
    if stride < 1 or pad < 0:
        raise ValueError("conv_forward: stride must be >= 1 and padding >= 0, got %d and %d" % (stride, pad))
    Ho, Wo, rb = _conv_geometry(H, W, HH, WW, stride, pad)
    if Ho < 1 or Wo < 1:
        raise ValueError(
            "conv_forward: kernel %dx%d does not fit a %dx%d input with padding %d "
            "— use more padding or a smaller kernel" % (HH, WW, H, W, pad)
        )
    K = HH * WW * C
    Fp = (F + 3) // 4 * 4
    Kp = (K + 7) // 8 * 8  # whole vectors: no scalar remainder in the GEMMs' K loops (+15% at K=75)
    w2p = np.zeros((Fp, Kp), dtype=x.dtype)  # K in (HH, WW, C) order; the padding stays 0
    w2p[:F, :K] = w.transpose(0, 2, 3, 1).reshape(F, K)
    bp = np.zeros(Fp, dtype=x.dtype)
    bp[:F] = b
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    xf, out2 = x.reshape(N, H, W * C), out.reshape(N * Ho * Wo, F)
    items = N * ((Ho + rb - 1) // rb)
    T, chunks = _plan(N * Ho * Wo * F * K, config.MIN_PARALLEL_MACS, items)
    _workers.run(
        [
            (_conv_forward_chunk, (xf, C, w2p, bp, F, HH, WW, stride, pad, Ho, Wo, rb, i0, i1, out2))
            for i0, i1 in _split(items, chunks)
        ],
        T,
    )
    return out, (x, w2p, (F, C, HH, WW), stride, pad)


def conv_backward(dout, cache, need_dx=True):
    """Gradients of conv_forward. dout (N, Ho, Wo, F) -> dx (N, H, W, C) or None, dw, db.

    Chunks add into their own dw, db partials, summed here. With at least as many images as
    chunks, a chunk owns whole images and writes their dx directly; with fewer (batch 1),
    chunks split images by rows and each fills its own dx partial.
    """
    x, w2p, (F, C, HH, WW), stride, pad = cache
    N, H, W, _ = x.shape
    dout = _float(dout, x.dtype)
    Ho, Wo, rb = _conv_geometry(H, W, HH, WW, stride, pad)
    if dout.shape != (N, Ho, Wo, F):
        raise ValueError("conv_backward: dout of shape %s, expected %s" % (dout.shape, (N, Ho, Wo, F)))
    Fp, Kp = w2p.shape
    K = HH * WW * C
    nblk = (Ho + rb - 1) // rb
    T, chunks = _plan(2 * N * Ho * Wo * F * K, config.MIN_PARALLEL_MACS, N * nblk)
    split = N < T  # fewer images than threads: chunks split images by rows
    if split:
        ranges = _split(N * nblk, chunks)
    else:  # whole images per chunk
        chunks = min(chunks, N)
        ranges = [(i0 * nblk, i1 * nblk) for i0, i1 in _split(N, chunks)]
    need_dx = bool(need_dx)
    dw_parts = np.zeros((chunks, Fp, Kp), dtype=x.dtype)
    db_parts = np.zeros((chunks, Fp), dtype=x.dtype)
    if not need_dx:
        dx4 = np.empty((chunks, 0, 0, 0), dtype=x.dtype)
    elif split:
        dx4 = np.zeros((chunks, N, H, W * C), dtype=x.dtype)
    else:
        dx4 = np.empty((1, N, H, W * C), dtype=x.dtype)
    xf, d2 = x.reshape(N, H, W * C), dout.reshape(N * Ho * Wo, F)
    _workers.run(
        [
            (
                _conv_backward_chunk,
                (
                    xf,
                    C,
                    d2,
                    w2p,
                    HH,
                    WW,
                    stride,
                    pad,
                    Ho,
                    Wo,
                    rb,
                    i0,
                    i1,
                    need_dx,
                    dw_parts[t],
                    db_parts[t],
                    dx4[t if split else 0],
                ),
            )
            for t, (i0, i1) in enumerate(ranges)
        ],
        T,
    )
    dw = dw_parts.sum(axis=0) if chunks > 1 else dw_parts[0]
    db = db_parts.sum(axis=0) if chunks > 1 else db_parts[0]
    dw = np.ascontiguousarray(dw[:F, :K].reshape(F, HH, WW, C).transpose(0, 3, 1, 2))  # (F, C, HH, WW)
    db = np.ascontiguousarray(db[:F])
    if not need_dx:
        return None, dw, db
    dx = dx4.sum(axis=0) if split else dx4[0]
    return dx.reshape(N, H, W, C), dw, db


def pool_forward(x, size, stride):
    """Max pooling. x (N, H, W, C) -> out (N, Ho, Wo, C), cache (first maximum of each window)."""
    x = _float(x)
    _check_volume(x, "pool_forward")
    size, stride = int(size), int(stride)
    N, H, W, C = x.shape
    if size < 1 or stride < 1:
        raise ValueError("pool_forward: size and stride must be >= 1, got %d and %d" % (size, stride))
    if size > H or size > W:
        raise ValueError("pool_forward: a %dx%d window does not fit a %dx%d input" % (size, size, H, W))
    Ho = (H - size) // stride + 1
    Wo = (W - size) // stride + 1
    out = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    arg = np.empty((N, Ho, Wo, C), dtype=np.int32)  # tap k = i * size + j; int32 vectorises with float32
    T, chunks = _plan(x.size, config.MIN_PARALLEL_ELEMENTS, N * Ho)
    xf, out2, arg2 = x.reshape(N, H, W * C), out.reshape(N * Ho, Wo * C), arg.reshape(N * Ho, Wo * C)
    _workers.run(
        [(_pool_forward_chunk, (xf, C, size, stride, Ho, Wo, r0, r1, out2, arg2)) for r0, r1 in _split(N * Ho, chunks)],
        T,
    )
    return out, (x.shape, arg, size, stride)


def pool_backward(dout, cache):
    """Gradient of pool_forward: each window's gradient goes to its first maximum."""
    x_shape, arg, size, stride = cache
    dout = _float(dout)
    if dout.shape != arg.shape:
        raise ValueError("pool_backward: dout of shape %s, expected %s" % (dout.shape, arg.shape))
    N, Ho, Wo, C = dout.shape
    H, W = x_shape[1:3]
    dx = np.empty(x_shape, dtype=dout.dtype)
    by_rows = stride >= size  # windows do not overlap: output rows own disjoint dx rows
    units = N * Ho if by_rows else N
    T, chunks = _plan(dx.size, config.MIN_PARALLEL_ELEMENTS, units)
    dout2, arg2, dxf = dout.reshape(N * Ho, Wo * C), arg.reshape(N * Ho, Wo * C), dx.reshape(N, H, W * C)
    _workers.run(
        [
            (_pool_backward_chunk, (dout2, arg2, C, size, stride, Ho, Wo, by_rows, u0, u1, dxf))
            for u0, u1 in _split(units, chunks)
        ],
        T,
    )
    return dx


def _elementwise(kernel, backward, a, c=None):
    """Run an elementwise chunk kernel on a (and c, the cached forward output) of any shape."""
    a = _float(a)
    c = a if c is None else _float(c, a.dtype)
    if c.shape != a.shape:
        raise ValueError("gradient of shape %s does not match the cached output's %s" % (a.shape, c.shape))
    out = np.empty_like(a)
    af, cf, of = a.reshape(-1), c.reshape(-1), out.reshape(-1)
    T, chunks = _plan(a.size, config.MIN_PARALLEL_ELEMENTS, a.size)
    _workers.run([(kernel, (backward, af, cf, of, i0, i1)) for i0, i1 in _split(a.size, chunks)], T)
    return out


def relu_forward(x):
    out = _elementwise(_relu, False, x)
    return out, out


def relu_backward(dout, cache):
    return _elementwise(_relu, True, dout, cache)


def tanh_forward(x):
    out = _elementwise(_tanh, False, x)
    return out, out


def tanh_backward(dout, cache):
    return _elementwise(_tanh, True, dout, cache)


def sigmoid_forward(x):
    out = _elementwise(_sigmoid, False, x)
    return out, out


def sigmoid_backward(dout, cache):
    return _elementwise(_sigmoid, True, dout, cache)


def fc_forward(x, w, b):
    """Fully connected. x (N, D), w (M, D), b (M,) -> (N, M): one BLAS GEMM (NumPy's)."""
    x = _float(x)
    w = _float(w, x.dtype)
    out = x.dot(w.T)
    out += b
    return out, (x, w)


def fc_backward(dout, cache, need_dx=True):
    x, w = cache
    dout = _float(dout, x.dtype)
    dw = dout.T.dot(x)  # (M, D)
    db = dout.sum(axis=0)
    dx = dout.dot(w) if need_dx else None
    return dx, dw, db


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores). scores (N, K), y (N,) int -> loss, probs, dscores."""
    scores = _float(scores)
    y = np.ascontiguousarray(y, dtype=np.int64)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError("softmax_loss: scores %s and labels %s do not fit (N, K) and (N,)" % (scores.shape, y.shape))
    if y.size and (y.min() < 0 or y.max() >= scores.shape[1]):
        raise ValueError("softmax_loss: labels must lie in [0, %d), got %d..%d" % (scores.shape[1], y.min(), y.max()))
    probs = np.empty_like(scores)
    dscores = np.empty_like(scores)
    loss = _softmax(scores, y, True, probs, dscores)
    return float(loss), probs, dscores


def softmax(scores):
    scores = _float(scores)
    if scores.ndim != 2:
        raise ValueError("softmax: scores must be (N, K), got shape %s" % (scores.shape,))
    probs = np.empty_like(scores)
    _softmax(scores, np.zeros(0, dtype=np.int64), False, probs, probs)
    return probs
