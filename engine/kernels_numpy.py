"""The engine's kernels in plain, vectorised NumPy: the mirror that runs inside Pyodide.

Every function here has a twin of the same name and signature in engine/fast/kernels_numba.py;
layers.py calls whichever backend the net was built with. This module never imports Numba and
stays compatible with Python 3.8 and NumPy 1.17 (no sliding_window_view, no newer keywords).
Big calls are cut into shares of the batch that engine/fast/numpy_threads.py runs side by side
(`_threads.run(fn, shares, T)`: the same as calling fn on each share in turn, which is what it
does in Pyodide).

Layout: activations are (N, H, W, C) — channels last, as ConvNetJS stores a volume, so that
a conv is one GEMM whose output is already in layout. Weights keep PyTorch's shapes: conv
(F, C, HH, WW), fc (out, in). Each forward returns (out, cache); each backward takes the
cache back. Caches are private to this module.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .fast import noblas as _noblas
from .fast import numpy_threads as _threads

NAME = "numpy"

# Rows (output pixels) per GEMM in conv_forward: about a thousand, or for a conv of narrow
# im2col columns (few input channels) as many as make about CONV_ROWS x CONV_COLUMNS values,
# 1.6 MB in float32 (see _images_per_block); in backward, about a thousand.
CONV_ROWS = 1024
CONV_COLUMNS = 400
# Up to this many output pixels in a batch, conv_backward gets dx as a convolution (see there;
# without BLAS at any size).
DX_BY_CONV_MAX_ROWS = 4096
# Calls with less work than this run on the calling thread alone (a hand-off to another thread
# costs more than it saves); bigger ones are shared out to numpy_threads's threads:
# multiply-adds of a conv, values read by pooling and ReLU (docs/BENCHMARKS.md, "NumPy threads
# and OpenBLAS").
MIN_THREAD_WORK = 2000000
MIN_THREAD_VALUES = 100000
# Pyodide's NumPy has no BLAS: its dot is a plain loop, so the conv GEMMs are shaped for that
# there (engine/fast/noblas.py, called from _convolve and _dw); with OpenBLAS that shaping only
# costs.
NO_BLAS = sys.platform == "emscripten"
# A training step on this backend's threads runs by shares of the batch, a share per thread
# (engine/fast/batch_shares.py): one meeting of the threads a step instead of one per call.
SHARES_BATCH = True


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
    return _convolve(x, w, b, stride, pad, _threads.threads())


def _convolve(x, w, b, stride, pad, T, out=None, act=None):
    """conv_forward on up to T threads, into `out` (N, Ho, Wo, F) if given. b=None: no bias,
    and nothing kept for dw (the cache's saved is None; conv_backward's dx needs none). act
    (like out, or out itself): also out through a ReLU, block by block while the block is in
    cache."""
    N, H, W, C = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    xp = _pad(x, pad)
    windows = _windows(xp, HH, stride, Ho, Wo)  # (N, Ho, Wo, HH, WW, C), a view
    if NO_BLAS:  # Pyodide: the GEMM transposed, for NumPy's loops without BLAS (fast/noblas.py)
        if out is None:
            out = np.empty((N, Ho, Wo, F), dtype=np.result_type(x.dtype, w.dtype))
        return out, (x.shape, _noblas.convolve(windows, w, b, out, act, b is not None), w, stride, pad)
    K = HH * WW * C
    w2 = w.transpose(2, 3, 1, 0).reshape(K, F)  # (K, F), K in (HH, WW, C) order
    # With OpenBLAS, the im2col columns get a last column of ones and w2 the bias as its last
    # row: the GEMM adds the bias, and conv_backward's dw GEMM yields db, instead of a pass
    # over out and a slow column sum of dout (docs/BENCHMARKS.md, "NumPy bias in the GEMM").
    ones = b is not None
    if ones:
        w2 = np.concatenate([w2, np.reshape(b, (1, F)).astype(w2.dtype)])  # (K + 1, F)
    P = Ho * Wo
    # A few images at a time: each block of im2col columns is made and multiplied while it is
    # still in cache, and OpenBLAS runs these skinny GEMMs faster on ~1000 rows than on 16384
    # (docs/BENCHMARKS.md, "NumPy conv forward in blocks"). The columns are not kept:
    # conv_backward makes them again from the windows, block by block ("NumPy columns made
    # again in backward").
    T = _parallel(T, N * P * F * K)
    # forward (a bias) may take more rows a block for narrow columns; dx's convolution
    # (no bias), inside backward, keeps to CONV_ROWS rows, as dw does
    step = _images_per_block(P, K if b is not None else None)
    if T > 1:  # at least one block per thread (conv3 at batch 16 is one block of 1024 rows)
        step = max(1, min(step, -(-N // T)))
    if out is None:
        out = np.empty((N, Ho, Wo, F), dtype=np.result_type(x.dtype, w.dtype))
    out4, out = out, out.reshape(N * P, F)
    act2 = act.reshape(N * P, F) if act is not None else None

    def block(n0, n1):
        rows = slice(n0 * P, n1 * P)
        np.dot(_im2col(windows, n0, n1, ones), w2, out=out[rows])
        if act is not None:
            np.maximum(out[rows], 0, out=act2[rows])

    _threads.run(block, [(n0, min(N, n0 + step)) for n0 in range(0, N, step)], T)
    return out4, (x.shape, windows if b is not None else None, w, stride, pad)


def _images_per_block(P, K=None):
    """Images per block of im2col rows, for images of P output pixels: about CONV_ROWS rows;
    given the columns' width K (a forward call), as many more as a block has room for up to
    CONV_COLUMNS values a row. conv1 of the CIFAR-10 net (76 columns) then multiplies 5
    images of 1024 pixels a call instead of 1: fewer, bigger calls, 2-4% faster a training
    step (docs/BENCHMARKS.md, "NumPy conv1 forward in blocks of five images"). Backward keeps
    blocks of CONV_ROWS rows: its blocks are alive at the step's peak of memory, forward's
    before backward's gradients exist."""
    wide = 1 if K is None else max(1, CONV_COLUMNS // (K + 1))
    return max(1, CONV_ROWS * wide // P)


def _im2col(windows, n0, n1, ones):
    """The im2col columns of images [n0, n1) of a windows view (_windows): (rows, K), or
    (rows, K + 1) with a last column of ones (see _convolve)."""
    _, Ho, Wo, HH, WW, C = windows.shape
    K = HH * WW * C
    cols = np.empty(((n1 - n0) * Ho * Wo, K + 1 if ones else K), dtype=windows.dtype)
    cols[:, :K].reshape(n1 - n0, Ho, Wo, HH, WW, C)[...] = windows[n0:n1]  # a view: splits axes only
    if ones:
        cols[:, K] = 1
    return cols


def _parallel(T, work):
    """T for a call of `work` multiply-adds (or values), 1 if it is too small to share."""
    return T if work >= MIN_THREAD_WORK else 1


def conv_backward(dout, cache, need_dx=True):
    """Gradients of conv_forward. dout (N, Ho, Wo, F) -> dx (or None), dw, db."""
    return _conv_backward(dout, cache, need_dx, None)


def _conv_backward(dout, cache, need_dx, act):
    """conv_backward; with act (conv_relu_forward's), dout is the gradient at act.

    With threads (numpy_threads.py), each takes a share of the images: its part of dw and
    db, and its images' dx (and the ReLU's mask of its images); the parts of dw and db are
    added up here.
    """
    x_shape, saved, w, stride, pad = cache
    N, H, W, C = x_shape
    F, _, HH, WW = w.shape
    _, Ho, Wo, _ = dout.shape
    P = Ho * Wo
    T = max(1, min(N, _parallel(_threads.threads(), 2 * N * P * F * HH * WW * C)))
    dx = np.empty(x_shape, dtype=dout.dtype) if need_dx else None
    blas1 = T > 1 or (not NO_BLAS and _threads.blas_threads() == 1)  # OpenBLAS on one thread (see _conv_dx)

    K = HH * WW * C
    ones = not NO_BLAS  # a bias, so with BLAS a column of ones: db comes with dw (see _convolve)

    def part(n0, n1):
        d = dout[n0:n1] if act is None else np.multiply(dout[n0:n1], act[n0:n1] > 0)  # as relu_backward
        d2 = d.reshape((n1 - n0) * P, F)
        dw = _dw(d2, saved, n0, n1, P)  # (F, K), or (F, K + 1) with db last
        if need_dx:
            _conv_dx(d, w, stride, pad, dx[n0:n1], blas1)
        return dw, None if ones else d2.sum(axis=0)

    parts = _threads.run(part, [(N * t // T, N * (t + 1) // T) for t in range(T)], T)
    dw, db = parts[0]
    for dw_t, db_t in parts[1:]:
        dw += dw_t
        if not ones:
            db += db_t
    if ones:
        dw, db = dw[:, :K], np.ascontiguousarray(dw[:, K])
    dw = dw.reshape(F, HH, WW, C).transpose(0, 3, 1, 2)  # (F, C, HH, WW)
    return dx, np.ascontiguousarray(dw), db


def _dw(d2, saved, n0, n1, P):
    """(F, K) = d2.T @ cols for d2 (rows, F) of images [n0, n1) of P pixels each, cols their
    im2col columns. With BLAS, saved is _convolve's windows view, and the columns (with their
    column of ones: dw's last column is db) are made again a block at a time, each multiplied
    while in cache, instead of being kept from forward and read back from memory
    (docs/BENCHMARKS.md, "NumPy columns made again in backward"). Without BLAS (Pyodide, NO_BLAS) saved is the transposed im2col view that
    fast/noblas.py's convolve kept, and noblas.dw sums it in blocks of rows."""
    if NO_BLAS:
        return _noblas.dw(d2, saved[n0 * P : n1 * P])
    step = _images_per_block(P)
    dw = None
    for m0 in range(n0, n1, step) or [n0]:  # no images: one empty block, dw's zeros
        m1 = min(n1, m0 + step)
        part = d2[(m0 - n0) * P : (m1 - n0) * P].T.dot(_im2col(saved, m0, m1, True))
        if dw is None:
            dw = part
        else:
            dw += part
    return dw


def _conv_dx(dout, w, stride, pad, dx, blas1=False):
    """dx of conv_forward for dout (N, Ho, Wo, F), written into dx (N, H, W, C); one thread.
    blas1: OpenBLAS runs on one thread for this call (engine/fast/numpy_threads.py shares the
    batch out, or OPENBLAS_NUM_THREADS=1)."""
    N, H, W, C = dx.shape
    F, _, HH, WW = w.shape
    _, Ho, Wo, _ = dout.shape
    by_conv = NO_BLAS or blas1 or N * Ho * Wo <= DX_BY_CONV_MAX_ROWS
    if stride == 1 and HH == WW and pad <= HH - 1 and by_conv:
        # dx is the convolution of dout, padded by HH-1-pad, with the filters flipped and
        # in/out channels swapped: one im2col GEMM instead of a GEMM and a strided add per tap,
        # faster on one BLAS thread, slower on two (docs/BENCHMARKS.md, "NumPy dx as a
        # convolution"); without BLAS faster at any size ("Conv GEMMs without BLAS").
        w_flip = w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]  # (C, F, HH, WW)
        if dx.dtype == np.result_type(dout.dtype, w.dtype):
            _convolve(dout, w_flip, None, 1, HH - 1 - pad, 1, dx)
        else:  # np.dot writes only into an array of its result's dtype
            dx[...] = _convolve(dout, w_flip, None, 1, HH - 1 - pad, 1)[0]
        return
    # col2im one kernel tap at a time: the tap's (F, C) slice of w turns dout into a
    # contiguous (N*Ho*Wo, C) block, added into dx at the tap's offset. Much faster than
    # one (N*Ho*Wo, HH*WW*C) GEMM followed by 25 adds from its strided slices (see
    # docs/BENCHMARKS.md, "NumPy col2im one tap at a time").
    d2 = dout.reshape(N * Ho * Wo, F)
    dxp = np.zeros((N, H + 2 * pad, W + 2 * pad, C), dtype=dout.dtype) if pad else dx
    if not pad:
        dx[...] = 0
    hspan = stride * (Ho - 1) + 1
    wspan = stride * (Wo - 1) + 1
    wk = w.transpose(2, 3, 0, 1)  # (HH, WW, F, C)
    for i in range(HH):
        for j in range(WW):
            dxp[:, i : i + hspan : stride, j : j + wspan : stride, :] += d2.dot(wk[i, j]).reshape(N, Ho, Wo, C)
    if pad:
        dx[...] = dxp[:, pad : pad + H, pad : pad + W, :]


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
    the two pairs, with the first maximum as (second cell > first) per pair: faster than the
    general loop over cells (docs/BENCHMARKS.md, "NumPy 2x2 max pooling"), and the taps fit
    in int8. Images are shared out to numpy_threads's threads when there are enough values."""
    N, C = x.shape[0], x.shape[3]
    out = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    arg = np.empty((N, Ho, Wo, C), dtype=np.int8)

    def part(n0, n1):
        t0, t1, t2, t3 = _quads(x[n0:n1], Ho, Wo)
        top = np.maximum(t0, t1)  # (n, Ho, Wo, C)
        bottom = np.maximum(t2, t3)
        below = bottom > top  # strictly: a tie keeps the top pair, so the first maximum wins
        np.maximum(top, bottom, out=out[n0:n1])
        # arg = 2 * below + (below ? the bottom pair's first maximum : the top pair's), chosen
        # with bit operations: np.copyto(..., where=below) took longer than all the rest
        # together (docs/BENCHMARKS.md, "NumPy 2x2 max pooling").
        a = arg[n0:n1]
        first = a.view(np.bool_)
        np.greater(t1, t0, out=first)  # the top pair's first maximum: 0 or 1
        pick = np.greater(t3, t2)  # the bottom pair's
        np.bitwise_xor(pick, first, out=pick)
        np.bitwise_and(pick, below, out=pick)
        np.bitwise_xor(first, pick, out=first)  # below ? the bottom pair's : the top pair's
        np.add(a, below.view(np.int8), out=a)
        np.add(a, below.view(np.int8), out=a)

    _by_images(part, N, x.size)
    return out, (x.shape, arg, 2, 2)


def _by_images(fn, N, values):
    """fn(n0, n1) over images [0, N): in one call, or a share per thread for many values."""
    T = max(1, min(N, _threads.threads() if values >= MIN_THREAD_VALUES else 1))
    _threads.run(fn, [(N * t // T, N * (t + 1) // T) for t in range(T)], T)


def _max_pool2_grad(dout, arg, x_shape):
    """Gradient of _max_pool2: each of the four cells gets dout where it held the maximum,
    0 elsewhere, written straight into dx (faster than masked adds into zeros: same entry)."""
    N, Ho, Wo, C = dout.shape
    dx = np.empty(x_shape, dtype=dout.dtype)

    def part(n0, n1):
        if x_shape[1] != 2 * Ho or x_shape[2] != 2 * Wo:
            dx[n0:n1] = 0  # an odd last row or column lies in no window
        for k, cell in enumerate(_quads(dx[n0:n1], Ho, Wo)):
            np.multiply(dout[n0:n1], arg[n0:n1] == k, out=cell)

    _by_images(part, N, dx.size)
    return dx


def conv_relu_forward(x, w, b, stride, pad):
    """conv_forward and relu_forward of its output in one call: (act, cache), where act is the
    ReLU's output, taken in place block by block as the conv's GEMMs finish; the conv's own
    output is not kept (a conv followed by a ReLU calls this: engine/fast/fusion.py)."""
    N, H, W, _ = x.shape
    F, _, HH, WW = w.shape
    shape = (N, (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1, F)
    act = np.empty(shape, dtype=np.result_type(x.dtype, w.dtype))
    _, cache = _convolve(x, w, b, stride, pad, _threads.threads(), out=act, act=act)
    return act, cache


def conv_relu_backward(dact, act, cache, need_dx=True):
    """Gradients of conv_relu_forward from dact, the gradient at its act: the ReLU's mask is
    taken in each thread's share of the images."""
    return _conv_backward(dact, cache, need_dx, act)


def relu_forward(x):
    out = np.empty_like(x)
    N = x.shape[0]
    _by_images(lambda n0, n1: np.maximum(x[n0:n1], 0, out=out[n0:n1]), N, x.size)
    return out, out


def relu_backward(dout, cache):
    dx = np.empty_like(dout)
    N = dout.shape[0]
    _by_images(lambda n0, n1: np.multiply(dout[n0:n1], cache[n0:n1] > 0, out=dx[n0:n1]), N, dout.size)
    return dx


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
    """Fully connected. x (N, D) (a flattened (H, W, C) volume), w (M, D), b (M,) -> (N, M).
    Big layers are shared out to the threads by output features."""
    N, D = x.shape
    M = w.shape[0]
    out = np.empty((N, M), dtype=np.result_type(x.dtype, w.dtype))

    def part(m0, m1):
        out[:, m0:m1] = x.dot(w[m0:m1].T)
        out[:, m0:m1] += b[m0:m1]

    _by_columns(part, M, N * M * D)
    return out, (x, w)


def fc_backward(dout, cache, need_dx=True):
    """Gradients of fc_forward; big layers are shared out to the threads by input features."""
    x, w = cache
    N, D = x.shape
    M = w.shape[0]
    dw = np.empty((M, D), dtype=np.result_type(dout.dtype, x.dtype))
    dx = np.empty((N, D), dtype=np.result_type(dout.dtype, w.dtype)) if need_dx else None

    def part(d0, d1):
        dw[:, d0:d1] = dout.T.dot(x[:, d0:d1])  # (M, d)
        if need_dx:
            dx[:, d0:d1] = dout.dot(w[:, d0:d1])

    _by_columns(part, D, (2 if need_dx else 1) * N * M * D)
    return dx, dw, dout.sum(axis=0)


def _by_columns(fn, n, work):
    """fn(j0, j1) over columns [0, n): in one call, or a share per thread for big work
    (shares of whole SIMD vectors' worth of columns)."""
    T = _parallel(_threads.threads(), work)
    T = max(1, min(T, n // 16))
    _threads.run(
        fn, [((n * t // T) // 16 * 16, (n * (t + 1) // T) // 16 * 16 if t < T - 1 else n) for t in range(T)], T
    )


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
