"""The engine's kernels in plain, vectorised NumPy: the mirror that runs inside Pyodide.

Every function here has a twin of the same name and signature in kernels_numba.py; layers.py
calls whichever backend the net was built with. This module never imports Numba and stays
compatible with Python 3.8 and NumPy 1.17 (no sliding_window_view, no newer keywords).

Layout: activations are (N, H, W, C) — channels last, as ConvNetJS stores a volume, so that
a conv is one GEMM whose output is already in layout. Weights keep PyTorch's shapes: conv
(F, C, HH, WW), fc (out, in). Each forward returns (out, cache); each backward takes the
cache back. Caches are private to this module.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

NAME = "numpy"

# Rows (output pixels) per GEMM in conv_forward: about a thousand (see there).
CONV_ROWS = 1024
# Up to this many output pixels in a batch, conv_backward gets dx as a convolution (see there).
DX_BY_CONV_MAX_ROWS = 4096


def _pad(x, pad):
    if pad == 0:
        return x
    N, H, W, C = x.shape
    xp = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=x.dtype)
    xp[:, pad : pad + H, pad : pad + W, :] = x
    return xp


def _windows(xp, k, stride, Ho, Wo):
    """A (N, Ho, Wo, k, k, C) strided view of every k x k window (no copy)."""
    sN, sH, sW, sC = xp.strides
    N, C = xp.shape[0], xp.shape[3]
    return as_strided(xp, (N, Ho, Wo, k, k, C), (sN, sH * stride, sW * stride, sH, sW, sC), writeable=False)


def conv_forward(x, w, b, stride, pad):
    """Convolution. x (N, H, W, C), w (F, C, HH, WW), b (F,) -> out (N, Ho, Wo, F)."""
    N, H, W, C = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = _pad(x, pad)
    windows = _windows(xp, HH, stride, Ho, Wo)  # (N, Ho, Wo, HH, WW, C), a view
    w2 = w.transpose(2, 3, 1, 0).reshape(HH * WW * C, F)  # (K, F), K in (HH, WW, C) order
    P = Ho * Wo
    step = max(1, CONV_ROWS // P)  # images per GEMM
    if N <= step:
        cols = windows.reshape(N * P, HH * WW * C)  # copy
        out = cols.dot(w2)  # (N*Ho*Wo, F)
    else:
        # A few images at a time: each block of cols is multiplied while it is still in cache,
        # and OpenBLAS runs these skinny GEMMs faster on ~1000 rows than on 16384 (conv2 at
        # batch 64: 17 -> 11 ms, measured). cols is still kept whole for the backward pass.
        cols = np.empty((N * P, HH * WW * C), dtype=x.dtype)
        out = np.empty((N * P, F), dtype=np.result_type(x.dtype, w.dtype))
        for n0 in range(0, N, step):
            n1 = min(N, n0 + step)
            block = cols[n0 * P : n1 * P]
            block.reshape(n1 - n0, Ho, Wo, HH, WW, C)[...] = windows[n0:n1]
            np.dot(block, w2, out=out[n0 * P : n1 * P])
    out += b
    return out.reshape(N, Ho, Wo, F), (x.shape, cols, w, stride, pad)


def conv_backward(dout, cache, need_dx=True):
    """Gradients of conv_forward. dout (N, Ho, Wo, F) -> dx (or None), dw, db."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    F, _, HH, WW = w.shape
    _, Ho, Wo, _ = dout.shape
    d2 = dout.reshape(N * Ho * Wo, F)
    db = d2.sum(axis=0)
    dw = d2.T.dot(cols).reshape(F, HH, WW, C).transpose(0, 3, 1, 2)  # (F, C, HH, WW)
    if not need_dx:
        return None, np.ascontiguousarray(dw), db
    if stride == 1 and HH == WW and pad <= HH - 1 and N * Ho * Wo <= DX_BY_CONV_MAX_ROWS:
        # dx is the convolution of dout, padded by HH-1-pad, with the filters flipped and
        # in/out channels swapped: one im2col GEMM instead of a GEMM and a strided add per tap
        # (measured, one thread: conv3 at batch 64 3.5 -> 2.0 ms, conv2 at batch 4
        # 1.08 -> 0.45 ms; conv2 at batch 64 no faster, and slower on two BLAS threads).
        w_flip = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # (C, F, HH, WW)
        dx, _ = conv_forward(dout, w_flip, np.zeros(C, dtype=dout.dtype), 1, HH - 1 - pad)
        return dx, np.ascontiguousarray(dw), db
    # col2im one kernel tap at a time: the tap's (F, C) slice of w turns dout into a
    # contiguous (N*Ho*Wo, C) block, added into dx at the tap's offset. Much faster than
    # one (N*Ho*Wo, HH*WW*C) GEMM followed by 25 adds from its strided slices (6x, measured).
    dxp = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=dout.dtype)
    hspan = stride * (Ho - 1) + 1
    wspan = stride * (Wo - 1) + 1
    wk = w.transpose(2, 3, 0, 1)  # (HH, WW, F, C)
    for i in range(HH):
        for j in range(WW):
            dxp[:, i : i + hspan : stride, j : j + wspan : stride, :] += d2.dot(wk[i, j]).reshape(N, Ho, Wo, C)
    dx = dxp[:, pad : pad + H, pad : pad + W, :] if pad else dxp
    return np.ascontiguousarray(dx), np.ascontiguousarray(dw), db


def _taps(x, size, stride, Ho, Wo):
    """(k, view) for every cell k = i * size + j of the windows: x[:, i::stride, j::stride] cut
    to (N, Ho, Wo, C) — strided views, no copy."""
    hspan = stride * (Ho - 1) + 1
    wspan = stride * (Wo - 1) + 1
    for k in range(size * size):
        i, j = divmod(k, size)
        yield k, x[:, i : i + hspan : stride, j : j + wspan : stride, :]


def pool_forward(x, size, stride):
    """Max pooling. x (N, H, W, C) -> out (N, Ho, Wo, C).

    Remembers the first maximum of each window (PyTorch's rule): JPEG images have flat
    regions, and an equality mask would send the gradient to every tied cell. Works on
    strided views of the window cells (no window copy): the max over the cells, then, from
    the last cell back to the first, each cell equal to the max claims the window, so the
    first one wins. (A window holding a NaN has a NaN max; its gradient is NaN anyway.)
    """
    N, H, W, C = x.shape
    Ho = (H - size) // stride + 1
    Wo = (W - size) // stride + 1
    if size == stride == 2:
        return _max_pool2(x, Ho, Wo)
    taps = list(_taps(x, size, stride, Ho, Wo))
    out = taps[0][1].copy()
    for _, v in taps[1:]:
        np.maximum(out, v, out=out)
    arg = np.full(out.shape, size * size - 1, dtype=np.int32)
    mask = np.empty(out.shape, dtype=bool)
    for k, v in taps[-2::-1]:
        np.greater_equal(v, out, out=mask)
        np.copyto(arg, k, where=mask)
    return out, (x.shape, arg, size, stride)


def pool_backward(dout, cache):
    """Gradient of pool_forward: each window's gradient goes to its first maximum."""
    x_shape, arg, size, stride = cache
    N, Ho, Wo, C = dout.shape
    if size == stride == 2:
        return _max_pool2_grad(dout, arg, x_shape)
    overlap = stride < size  # overlapping windows may share a maximum: add, do not overwrite
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k, view in _taps(dx, size, stride, Ho, Wo):
        if overlap:
            np.add(view, dout, out=view, where=arg == k)
        else:
            np.copyto(view, dout, where=arg == k)
    return dx


def _quads(x, Ho, Wo):
    """The four cells of every 2x2 window of x (N, H, W, C), stride 2: views (N, Ho, Wo, C)
    of a (N, Ho, 2, Wo, 2, C) reshape, in the order k = i * 2 + j."""
    N, C = x.shape[0], x.shape[3]
    x6 = x[:, : 2 * Ho, : 2 * Wo].reshape(N, Ho, 2, Wo, 2, C)
    return [x6[:, :, k // 2, :, k % 2] for k in range(4)]


def _max_pool2(x, Ho, Wo):
    """2x2 max pooling, stride 2 (nearly every net): the max of each row pair of cells, then of
    the two pairs, with the first maximum as (second cell > first) per pair; 2x faster than
    the general loop over cells (measured), and the taps fit in int8."""
    t0, t1, t2, t3 = _quads(x, Ho, Wo)
    top = np.maximum(t0, t1)  # (N, Ho, Wo, C)
    bottom = np.maximum(t2, t3)
    below = bottom > top  # strictly: a tie keeps the top pair, so the first maximum wins
    out = np.maximum(top, bottom, out=top)
    arg = np.greater(t1, t0).view(np.int8)  # 0 or 1: the top pair's first maximum
    arg_bottom = np.greater(t3, t2).view(np.int8)
    arg_bottom += 2
    np.copyto(arg, arg_bottom, where=below)
    return out, (x.shape, arg, 2, 2)


def _max_pool2_grad(dout, arg, x_shape):
    """Gradient of _max_pool2: each of the four cells gets dout where it held the maximum,
    0 elsewhere, written straight into dx (5x faster than masked adds into zeros, measured)."""
    N, Ho, Wo, C = dout.shape
    dx = np.empty(x_shape, dtype=dout.dtype)
    if x_shape[1] != 2 * Ho or x_shape[2] != 2 * Wo:
        dx[...] = 0  # an odd last row or column lies in no window
    for k, cell in enumerate(_quads(dx, Ho, Wo)):
        np.multiply(dout, arg == k, out=cell)
    return dx


def relu_forward(x):
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    return dout * (cache > 0)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache * cache)


def sigmoid_forward(x):
    out = 1 / (1 + np.exp(-x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def fc_forward(x, w, b):
    """Fully connected. x (N, D) (a flattened (H, W, C) volume), w (M, D), b (M,) -> (N, M)."""
    out = x.dot(w.T)
    out += b
    return out, (x, w)


def fc_backward(dout, cache, need_dx=True):
    x, w = cache
    dw = dout.T.dot(x)  # (M, D)
    db = dout.sum(axis=0)
    dx = dout.dot(w) if need_dx else None
    return dx, dw, db


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores). scores (N, K), y (N,) int -> loss, probs, dscores."""
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    probs = e / e.sum(axis=1, keepdims=True)
    logp = shifted[np.arange(N), y] - np.log(e.sum(axis=1))
    loss = -float(logp.mean())
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, probs, dscores


def softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
