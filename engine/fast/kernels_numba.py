"""The engine's kernels in Numba: the fast backend, same names and signatures as
engine/kernels_numpy.py (the pair's plain half: read that one to learn what a kernel computes).

Three levels, in the spirit of stumpy:
1. serial `@njit` kernels: register-blocked loops over a padded image's windows (forward,
   dw and dx tiles of the convolution, no im2col), the max-pool and elementwise loops;
2. chunk kernels (`@njit`, `nogil`): one thread's share of a batch — a contiguous run of
   work items — writing only that share's slice of the output, and sums over the batch
   (conv dw, db) into the share's own partials, added up afterwards;
3. public functions (the API layers.py calls): check shapes, pick the dtype, allocate the
   outputs, cut the batch into chunks when the work is worth it (config.py's thresholds)
   and run them on all threads, each thread taking the next chunk when it is done.

Levels 1 and 2 live in one module per kind of layer, each with every helper its kernels call
(Numba's cache only notices edits to the file of the function it compiled):
_numba_conv.py (convolution), _numba_pool.py (max pooling), _numba_act.py (ReLU, tanh,
sigmoid, softmax). This file is level 3 and compiles nothing itself.

The chunks run on Numba's own thread pool (OpenMP's or TBB's) through a small `prange`
wrapper per chunk kernel (`*_par` beside it), or on engine.fast.workers' threads: parallel.py
picks, and says why. Either way each thread takes chunks until none is left, so a thread parked
by the OS holds up one small chunk, not half of the batch.

Layout as in kernels_numpy.py: activations (N, H, W, C), conv weight (F, C, HH, WW), fc weight
(out, in). Max-pool routes the gradient to the first maximum of its window (row-major), as
PyTorch and kernels_numpy do; NaN counts as a maximum, as in np.argmax. fc uses NumPy's BLAS.
Compile options come from config.py.
"""

from __future__ import annotations

import numba
import numpy as np

from . import _numba_act as _act
from . import _numba_conv as _conv
from . import _numba_layout as _layout
from . import _numba_optim as _optim
from . import _numba_pool as _pool
from . import config, parallel

NAME = "numba"

# Until it returns True, some calls run on engine.fast.workers while the pool's wrappers
# compile in the background (parallel.py); the bench waits for it before it times anything.
wait_compiled = parallel.wait_compiled


def _threads():
    # numba.config's count, not numba.get_num_threads(): that one would start Numba's pool
    # on a machine where it is not used (parallel.LAYER None).
    if not config.PARALLEL_ENABLED:
        return 1
    return max(1, config.THREADS or numba.config.NUMBA_NUM_THREADS)


def _split(total, T):
    """T contiguous ranges [i0, i1) covering range(total)."""
    return [(t * total // T, (t + 1) * total // T) for t in range(T)]


# -- public API -------------------------------------------------------------------------------
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float(a, dtype=None):
    """A C-contiguous float32/float64 array: `dtype` if given, else a's own (ints -> float64)."""
    if type(a) is np.ndarray and a.flags.c_contiguous and (a.dtype == dtype or dtype is None and a.dtype in _FLOATS):
        # what layers pass (~30 arguments a step) goes through untouched, without asarray's
        # checks (docs/BENCHMARKS.md, "When a call is shared out")
        return a
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
    """Output size (Ho, Wo)."""
    return (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1


def _conv_plan(N, Ho, Wo, macs):
    """(threads, chunks, rows per work item, items per image) of a conv call of `macs`
    multiply-adds; an item has about CONV_BLOCK_PIXELS output pixels. (Smaller items, so
    that conv3 of the CIFAR-10 net at batch 1, one item of 8x8, ran on both threads, gained
    nothing: docs/BENCHMARKS.md, "When a call is shared out".)"""
    rb = max(1, min(Ho, config.CONV_BLOCK_PIXELS // max(Wo, 1)))
    nblk = (Ho + rb - 1) // rb
    T, chunks = _plan(macs, config.MIN_PARALLEL_MACS, N * nblk)
    return T, chunks, rb, nblk


def _settings():
    """What a call's plan depends on besides shapes: the threads and config.py's thresholds
    (tests change them at run time)."""
    c = config
    return (
        _threads(),
        c.MIN_PARALLEL_MACS,
        c.MIN_PARALLEL_ELEMENTS,
        c.CHUNKS_PER_THREAD,
        c.CONV_BLOCK_PIXELS,
        c.MIN_DX_BY_CONV_PIXELS,
    )


_plans = {}  # (what, shapes..., _settings()) -> a call's plan: computed once per shape (a net
# uses a few), not at every call; at batch 1 working them out took ~20 us of a ~350 us step
# on one thread (docs/BENCHMARKS.md, "A call's plan made once")


def _remember(key, plan):
    if len(_plans) > 4096:  # a long-running process that saw many shapes
        _plans.clear()
    _plans[key] = plan
    return plan


def _weights(w, flip, dtype, tiles=False):
    """arrange_weights' layouts of w (F, C, HH, WW): (w16, wr) for the forward kernel; flip:
    those of the convolution that gives dx from dout; tiles: wsc, the dx tiles' layout,
    instead (its own call: the forward's layouts are then not made)."""
    key = ("w", w.shape, flip, tiles)
    shapes = _plans.get(key)
    if shapes is None:
        F, C, HH, WW = w.shape
        Fo, Ci = (C, F) if flip else (F, C)
        G = 0 if tiles else Fo // 16
        RC = (WW * Ci + 15) // 16 * 16  # a kernel row's run in chunks of 16 (_fwd_rows; wsc's S too)
        shapes = _remember(
            key,
            (
                (G, HH * WW * Ci, 16),
                (0 if tiles else (Fo - 16 * G + 1) // 2 * 2, HH * RC),  # _fwd_rows takes filters in pairs
                ((Fo + 3) // 4 * 4, HH * RC) if tiles else (0, 0),
                _conv._row_chunks(WW * Ci)[1],
            ),
        )
    w16 = np.empty(shapes[0], dtype=dtype)
    wr = np.zeros(shapes[1], dtype=dtype)
    wsc = np.zeros(shapes[2], dtype=dtype)
    _layout.arrange_weights(w, flip, w16, wr, wsc, shapes[3])
    return wsc if tiles else (w16, wr)


_NO_ROWS = {np.dtype(np.float32): np.empty((0, 0), np.float32), np.dtype(np.float64): np.empty((0, 0), np.float64)}


def _forward(x, w16, wr, b, F, HH, WW, stride, pad, relu=False):
    """The convolution of x (N, H, W, C) with weights laid out by _weights, bias b (F,),
    (N, Ho, Wo, F); with relu, through a ReLU: the chunk kernel stores each value once,
    through the ReLU, so one array is ever written."""
    N, H, W, C = x.shape
    key = ("f", x.shape, F, HH, WW, stride, pad, _settings())
    plan = _plans.get(key)
    if plan is None:
        Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
        T, chunks, rb, nblk = _conv_plan(N, Ho, Wo, N * Ho * Wo * F * HH * WW * C)
        plan = _remember(key, (Ho, Wo, T, rb, parallel.chunks(_split(N * nblk, chunks))[0]))
    Ho, Wo, T, rb, bounds = plan
    out = np.empty((N, Ho, Wo, F), dtype=x.dtype)
    xf, out2 = x.reshape(N, H, W * C), out.reshape(N * Ho * Wo, F)
    taken = np.zeros(1, dtype=np.int64)
    args = (xf, C, w16, wr, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out2, bool(relu))
    parallel.run(T, _conv.conv_forward_chunk, _conv.conv_forward_par, args, x.dtype)
    return out


def conv_forward(x, w, b, stride, pad):
    """Convolution. x (N, H, W, C), w (F, C, HH, WW), b (F,) -> out (N, Ho, Wo, F), cache."""
    return _conv_forward(x, w, b, stride, pad, False)


def conv_relu_forward(x, w, b, stride, pad):
    """conv_forward and relu_forward of its output in one pass: (act, cache), act the ReLU's
    output, the same values as the two calls; the conv's own output is never stored."""
    return _conv_forward(x, w, b, stride, pad, True)


def _conv_forward(x, w, b, stride, pad, relu):
    x = _float(x)
    w = _float(w, x.dtype)
    b = _float(b, x.dtype)
    key = ("cf", x.shape, w.shape, b.shape, stride, pad)
    if key not in _plans:  # the checks, once per shape
        _check_conv(x, w, b, stride, pad)
        _remember(key, (int(stride), int(pad)))
    stride, pad = _plans[key]
    F, _, HH, WW = w.shape
    w16, wr = _weights(w, False, x.dtype)
    out = _forward(x, w16, wr, b, F, HH, WW, stride, pad, relu)
    # the dx tiles' layout (wsc) is made by conv_backward, and only where it runs them: at
    # batch 4 and up every conv of the CIFAR-10 net gets dx by a convolution instead
    return out, (x, w.copy(), stride, pad)


def _check_conv(x, w, b, stride, pad):
    _check_volume(x, "conv_forward")
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
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    if Ho < 1 or Wo < 1:
        raise ValueError(
            "conv_forward: kernel %dx%d does not fit a %dx%d input with padding %d "
            "— use more padding or a smaller kernel" % (HH, WW, H, W, pad)
        )


def conv_relu_backward(dact, act, cache, need_dx=True):
    """Gradients of conv_relu_forward from dact, the gradient at its act: relu_backward and
    conv_backward in one pass, the same values as the two calls."""
    act = _float(act, cache[0].dtype)
    if act.shape != np.shape(dact):
        raise ValueError("conv_relu_backward: gradient %s and ReLU output %s differ" % (np.shape(dact), act.shape))
    return _conv_backward(dact, cache, need_dx, act)


def conv_backward(dout, cache, need_dx=True):
    """Gradients of conv_forward. dout (N, Ho, Wo, F) -> dx (N, H, W, C) or None, dw, db."""
    return _conv_backward(dout, cache, need_dx, None)


def _conv_backward(dout, cache, need_dx, act):
    """conv_backward; with act (a fused ReLU's output), dout is the gradient at act.

    Chunks add into their own dw, db partials, summed here. With at least as many images as
    chunks, a chunk owns whole images and writes their dx directly; with fewer (batch 1),
    chunks split images by rows and each fills its own dx partial.
    """
    x, w, stride, pad = cache
    N, H, W, C = x.shape
    F, _, HH, WW = w.shape
    dout = _float(dout, x.dtype)
    need_dx = bool(need_dx)
    key = ("b", x.shape, w.shape, stride, pad, need_dx, _settings())
    plan = _plans.get(key) or _remember(key, _backward_plan(N, H, W, C, F, HH, WW, stride, pad, need_dx))
    Ho, Wo, by_conv, T, chunks, rb, split, bounds, Fp, S = plan
    if dout.shape != (N, Ho, Wo, F):
        raise ValueError("conv_backward: dout of shape %s, expected %s" % (dout.shape, (N, Ho, Wo, F)))
    if by_conv:
        # With stride 1, dx is the convolution of dout, padded by HH-1-pad, with the filters
        # rotated and in/out channels swapped: the forward kernel, whose sums run over
        # HH*WW*F values, instead of the dx tiles, whose sums run over F only.
        if act is not None:  # dx needs the gradient at the convolution's output itself
            dout = relu_backward(dout, act)
        w16, wr = _weights(w, True, x.dtype)
        dx = _forward(dout, w16, wr, np.zeros(C, dtype=x.dtype), C, HH, WW, 1, HH - 1 - pad)
        return (dx,) + _conv_backward(dout, cache, False, None)[1:]
    # wsc: the dx tiles' weights; without dx the chunk kernel reads only its shape (Fp, HH*S)
    wsc = _weights(w, False, x.dtype, tiles=True) if need_dx else np.empty((Fp, HH * S), dtype=x.dtype)
    dw_parts = np.zeros((chunks, Fp, HH * S), dtype=x.dtype)
    db_parts = np.zeros((chunks, Fp), dtype=x.dtype)
    if not need_dx:
        dx4 = np.empty((chunks, 0, 0, 0), dtype=x.dtype)
    elif split:
        dx4 = np.zeros((chunks, N, H, W * C), dtype=x.dtype)
    else:
        dx4 = np.empty((1, N, H, W * C), dtype=x.dtype)  # chunks own whole images: one array
    xf, d2 = x.reshape(N, H, W * C), dout.reshape(N * Ho * Wo, F)
    taken = np.zeros(1, dtype=np.int64)
    act2 = _NO_ROWS[x.dtype] if act is None else act.reshape(N * Ho * Wo, F)
    args = (xf, C, d2, wsc, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx, dw_parts, db_parts, dx4, act2)
    parallel.run(T, _conv.conv_backward_chunk, _conv.conv_backward_par, args, x.dtype)
    dw = np.empty((F, C, HH, WW), dtype=x.dtype)
    db = np.empty(F, dtype=x.dtype)
    _layout.gather_dw(dw_parts, db_parts, C, HH, WW, dw, db)
    if not need_dx:
        return None, dw, db
    dx = dx4.sum(axis=0) if split else dx4[0]
    return dx.reshape(N, H, W, C), dw, db


def _backward_plan(N, H, W, C, F, HH, WW, stride, pad, need_dx):
    """(Ho, Wo, by_conv, threads, chunks, rb, split, bounds, Fp, S) of a conv_backward call:
    by_conv, dx as a convolution of dout (a forward call and a dw call without dx); split,
    fewer images than threads (chunks split images by rows, each with its own dx partial)."""
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    by_conv = need_dx and stride == 1 and HH == WW and pad <= HH - 1 and N * Ho * Wo >= config.MIN_DX_BY_CONV_PIXELS
    T, chunks, rb, nblk = _conv_plan(N, Ho, Wo, (1 + need_dx) * N * Ho * Wo * F * HH * WW * C)
    split = N < T
    if split:
        ranges = _split(N * nblk, chunks)
    else:  # whole images per chunk
        chunks = min(chunks, N)
        ranges = [(i0 * nblk, i1 * nblk) for i0, i1 in _split(N, chunks)]
    bounds = parallel.chunks(ranges)[0]
    return Ho, Wo, by_conv, T, chunks, rb, split, bounds, (F + 3) // 4 * 4, (WW * C + 15) // 16 * 16


def pool_forward(x, size, stride):
    """Max pooling. x (N, H, W, C) -> out (N, Ho, Wo, C), cache (first maximum of each window)."""
    x = _float(x)
    key = ("pf", x.shape, size, stride, _settings())
    plan = _plans.get(key) or _remember(key, _pool_plan(x, size, stride))
    size, stride, Ho, Wo, T, ranges = plan
    N, H, W, C = x.shape
    out = np.empty((N, Ho, Wo, C), dtype=x.dtype)
    arg = np.empty((N, Ho, Wo, C), dtype=np.int32)  # tap k = i * size + j; int32 vectorises with float32
    xf, out2, arg2 = x.reshape(N, H, W * C), out.reshape(N * Ho, Wo * C), arg.reshape(N * Ho, Wo * C)
    head = (xf, C, size, stride, Ho, Wo)
    parallel.run_ranges(T, _pool.pool_forward_chunk, _pool.pool_forward_par, head, ranges, (out2, arg2), x.dtype)
    return out, (x.shape, arg, size, stride)


def _pool_plan(x, size, stride):
    """The checks of a pool_forward call, and its (size, stride, Ho, Wo, threads, ranges)."""
    _check_volume(x, "pool_forward")
    size, stride = int(size), int(stride)
    N, H, W, C = x.shape
    if size < 1 or stride < 1:
        raise ValueError("pool_forward: size and stride must be >= 1, got %d and %d" % (size, stride))
    if size > H or size > W:
        raise ValueError("pool_forward: a %dx%d window does not fit a %dx%d input" % (size, size, H, W))
    Ho = (H - size) // stride + 1
    Wo = (W - size) // stride + 1
    T, chunks = _plan(x.size, config.MIN_PARALLEL_ELEMENTS, N * Ho)
    return size, stride, Ho, Wo, T, tuple(_split(N * Ho, chunks))


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
    key = ("pb", x_shape, size, stride, _settings())
    plan = _plans.get(key)
    if plan is None:
        units = N * Ho if by_rows else N
        T, chunks = _plan(dx.size, config.MIN_PARALLEL_ELEMENTS, units)
        plan = _remember(key, (T, tuple(_split(units, chunks))))
    T, ranges = plan
    dout2, arg2, dxf = dout.reshape(N * Ho, Wo * C), arg.reshape(N * Ho, Wo * C), dx.reshape(N, H, W * C)
    head = (dout2, arg2, C, size, stride, Ho, Wo, by_rows)
    parallel.run_ranges(T, _pool.pool_backward_chunk, _pool.pool_backward_par, head, ranges, (dxf,), dx.dtype)
    return dx


def _elementwise(kernel, par, backward, a, c=None):
    """Run an elementwise chunk kernel (and its prange wrapper) on a (and c, the cached forward
    output) of any shape."""
    a = _float(a)
    c = a if c is None else _float(c, a.dtype)
    if c.shape != a.shape:
        raise ValueError("gradient of shape %s does not match the cached output's %s" % (a.shape, c.shape))
    out = np.empty_like(a)
    af, cf, of = a.reshape(-1), c.reshape(-1), out.reshape(-1)
    T, chunks = _plan(a.size, config.MIN_PARALLEL_ELEMENTS, a.size)
    parallel.run_ranges(T, kernel, par, (backward, af, cf, of), _split(a.size, chunks), (), a.dtype)
    return out


def relu_forward(x):
    out = _elementwise(_act.relu_chunk, _act.relu_par, False, x)
    return out, out


def relu_backward(dout, cache):
    return _elementwise(_act.relu_chunk, _act.relu_par, True, dout, cache)


def tanh_forward(x):
    out = _elementwise(_act.tanh_chunk, _act.tanh_par, False, x)
    return out, out


def tanh_backward(dout, cache):
    return _elementwise(_act.tanh_chunk, _act.tanh_par, True, dout, cache)


def sigmoid_forward(x):
    out = _elementwise(_act.sigmoid_chunk, _act.sigmoid_par, False, x)
    return out, out


def sigmoid_backward(dout, cache):
    return _elementwise(_act.sigmoid_chunk, _act.sigmoid_par, True, dout, cache)


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
    loss = _act.softmax_rows(scores, y, True, probs, dscores)
    return float(loss), probs, dscores


def optim_update(name, p, g, decay, slots, hyper):
    """One optimizer step over a net's flat buffers, in place: optim.py's formula for `name`
    in one compiled pass (_numba_optim.py), bit for bit what optim.py's NumPy path gives.
    hyper: optim.py's scalars of p's dtype (see Optimizer._fused_args); decay: the weight
    decay vector, or None."""
    decay = p[:0] if decay is None else decay
    getattr(_optim, name)(p, g, decay, *(tuple(slots) + tuple(hyper)))


def softmax(scores):
    scores = _float(scores)
    if scores.ndim != 2:
        raise ValueError("softmax: scores must be (N, K), got shape %s" % (scores.shape,))
    probs = np.empty_like(scores)
    _act.softmax_rows(scores, np.zeros(0, dtype=np.int64), False, probs, probs)
    return probs
