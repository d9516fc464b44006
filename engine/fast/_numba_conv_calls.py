"""The Numba backend's convolution calls (level 3, see kernels_numba.py's docstring), direct
and by Winograd's F(2x2, 5x5): conv_forward, conv_relu_forward, conv_backward and
conv_relu_backward, which kernels_numba.py re-exports, and what they decide with: which
convolutions take Winograd (`winograd`), how a call of a shape is cut into chunks (its plan,
made once per shape and kept in _numba_plans._plans), and how dx is made (the dx tiles beside
dw's, or a convolution of dout). `conv_algorithms` names the choices (bench --roofline).

Compiles nothing: the chunk kernels it runs are _numba_conv.py's and _numba_winograd.py's, the
weights' layouts and dw's gathering _numba_layout.py's.
"""

from __future__ import annotations

import numpy as np

from . import _numba_act as _act
from . import _numba_conv as _conv
from . import _numba_layout as _layout
from . import _numba_winograd as _wino
from . import config, parallel
from ._numba_plans import (
    _check_volume,
    _elementwise_plan,
    _float,
    _plan,
    _plans,
    _remember,
    _run_elementwise,
    _settings,
    _split,
)


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


# Arrays of size 0 for what a call does not write (made once; not flagged read-only, which
# Numba would compile every kernel again for): act2 without a fused ReLU, wsc without the dx
# tiles, w16 and wq without the forward's layouts, dx4 without dx.
_NO_ROWS = {np.dtype(np.float32): np.empty((0, 0), np.float32), np.dtype(np.float64): np.empty((0, 0), np.float64)}
_NO_W16 = {dt: np.empty((0, 0, 16), dt) for dt in _NO_ROWS}
_NO_DX = {dt: np.empty((1, 0, 0, 0), dt) for dt in _NO_ROWS}


def _forward_plan(x_shape, w_shape, flip, stride, pad, dtype):
    """The plan of a convolution of x (N, H, W, C) by weights w (F, C, HH, WW) (flip: by the
    convolution that gives dx from dout, whose filters are w's input channels; stride 1):
    the weights' layouts' shapes and the chunk kernel's arguments but the arrays, by
    Winograd's F(2x2, 5x5) where winograd() says so, else directly."""
    N, H, W, _ = x_shape  # x has Ci channels
    F, C, HH, WW = w_shape
    Fo, Ci = (C, F) if flip else (F, C)
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    macs = N * Ho * Wo * Fo * HH * WW * Ci
    zeros = np.zeros(Fo, dtype=dtype)  # the bias of dx's convolution (flip): none
    if winograd(Ci, Fo, HH, WW, stride, N, Ho, Wo):
        T, _, rbt, bounds = _winograd_blocks(N, Ho, Wo, macs)
        G, Gq = Fo // 16, (Fo % 16) // 4
        return (
            (36 * G, Ci * 16),  # u16
            (36 * Gq, (Ci // 4) * 16),  # uq
            flip,
            (N, H, W * Ci),
            (N, Ho, Wo, Fo),
            (N * Ho * Wo, Fo),
            (Ci, pad, Ho, Wo, rbt, bounds),
            T,
            zeros,
            True,
        )
    T, chunks, rb, nblk = _conv_plan(N, Ho, Wo, macs)
    G = Fo // 16
    return (
        (G, HH * WW * Ci, 16),  # w16
        ((Fo - 16 * G + 3) // 4, HH * ((WW * Ci + 3) // 4), 16),  # wq: _fwd4's filters in fours
        flip,
        (N, H, W * Ci),
        (N, Ho, Wo, Fo),
        (N * Ho * Wo, Fo),
        (Ci, HH, WW, stride, pad, Ho, Wo, rb, parallel.chunks(_split(N * nblk, chunks))[0]),
        T,
        zeros,
        False,
    )


def winograd(C, F, HH, WW, stride, N, Ho, Wo):
    """Whether a convolution of N images' C input channels into F runs by Winograd's
    F(2x2, 5x5) (_numba_winograd.wino_forward_chunk; its dw too, wino_dw_chunk, where
    F <= 32): a 5x5 kernel of stride 1, outputs in whole 2x2 tiles, channels and filters in
    the runs its vector steps take (C a multiple of 4 from 8 to 32, F of 4), at least
    config.MIN_WINOGRAD_PIXELS outputs per channel, and config.WINOGRAD. In the CIFAR-10 net
    from batch 2 (conv2) and 8 (conv3): forward, dx and dw; conv1's 3 channels stay direct.
    36 multiply-adds per tile where the direct kernel does 100 (docs/BENCHMARKS.md,
    "Winograd F(2x2, 5x5)")."""
    return (
        config.WINOGRAD
        and N * Ho * Wo >= config.MIN_WINOGRAD_PIXELS
        and stride == 1
        and HH == WW == 5
        and Ho % 2 == 0
        and Wo % 2 == 0
        and C % 4 == 0
        and 8 <= C <= 32
        and F % 4 == 0
    )


def _winograd_blocks(N, Ho, Wo, macs):
    """(threads, chunks, tile rows per work item, the chunks' bounds) of a Winograd call: a
    work item is (image, block of about CONV_BLOCK_PIXELS outputs in whole tile rows)."""
    rbt = max(1, config.CONV_BLOCK_PIXELS // (4 * (Wo // 2)))
    nblk = (Ho // 2 + rbt - 1) // rbt
    T, chunks = _plan(macs, config.MIN_PARALLEL_MACS, N * nblk)
    return T, chunks, rbt, parallel.chunks(_split(N * nblk, chunks))[0]


def conv_algorithms(x_shape, w_shape, stride, pad, dtype=np.float32):
    """How this backend computes a convolution of x (N, H, W, C) by w (F, C, HH, WW):
    {"forward": "winograd" or "direct", "dx": "winograd", "direct" (a convolution of dout)
    or "tiles" (the dx tiles, beside dw's), "dw": "winograd" or "tiles"}, at this moment's
    settings (bench --roofline)."""
    forward = _forward_plan(tuple(x_shape), tuple(w_shape), False, int(stride), int(pad), dtype)
    back = _backward_plan(tuple(x_shape), tuple(w_shape), int(stride), int(pad), True, dtype)
    dx = ("winograd" if back[4][-1] else "direct") if back[1] else "tiles"
    dw = "winograd" if back[5] is not None else "tiles"
    return {"forward": "winograd" if forward[-1] else "direct", "dx": dx, "dw": dw}


def _forward(plan, x, w, b, relu):
    """The convolution of x by w (laid out here by arrange_weights or arrange_winograd), bias
    b (F,) (None: zeros), through a ReLU if relu: the chunk kernel stores each value once,
    through the ReLU, so one array is ever written."""
    ws, wqs, flip, xf, outs, out2, mid, T, zeros, wino = plan
    dtype = x.dtype
    out = np.empty(outs, dtype=dtype)
    taken = np.zeros(1, dtype=np.int64)
    b = zeros if b is None else b
    if wino:
        u16 = np.empty(ws, dtype=dtype)
        uq = np.empty(wqs, dtype=dtype)
        _layout.arrange_winograd(w, flip, u16, uq)
        C, pad, Ho, Wo, rbt, bounds = mid
        args = (x.reshape(xf), C, u16, uq, b, pad, Ho, Wo, rbt, bounds, taken, out.reshape(out2), relu)
        parallel.run(T, _wino.wino_forward_chunk, _wino.wino_forward_par, args, dtype)
        return out
    w16 = np.empty(ws, dtype=dtype)
    wq = np.zeros(wqs, dtype=dtype)
    _layout.arrange_weights(w, flip, w16, wq, _NO_ROWS[dtype])
    C, HH, WW, stride, pad, Ho, Wo, rb, bounds = mid
    args = (x.reshape(xf), C, w16, wq, b, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, out.reshape(out2), relu)
    parallel.run(T, _conv.conv_forward_chunk, _conv.conv_forward_par, args, dtype)
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
    key = ("cf", x.shape, w.shape, b.shape, stride, pad, x.dtype, _settings())
    plan = _plans.get(key)
    if plan is None:  # the checks, once per shape
        _check_conv(x, w, b, stride, pad)
        plan = _remember(key, _forward_plan(x.shape, w.shape, False, int(stride), int(pad), x.dtype))
    out = _forward(plan, x, w, b, relu)
    # the dx tiles' layout (wsc) is made by conv_backward, and only where it runs them: at
    # batch 4 and up every conv of the CIFAR-10 net gets dx by a convolution instead
    return out, (x, w.copy(), int(stride), int(pad))


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
    dtype = x.dtype
    dout = _float(dout, dtype)
    need_dx = bool(need_dx)
    key = ("cb", x.shape, w.shape, stride, pad, need_dx, dtype, _settings())
    plan = _plans.get(key) or _remember(key, _backward_plan(x.shape, w.shape, stride, pad, need_dx, dtype))
    douts, by_conv, dw_plan, relu_plan, dx_plan, wdw = plan
    if dout.shape != douts:
        raise ValueError("conv_backward: dout of shape %s, expected %s" % (dout.shape, douts))
    if not by_conv and wdw is None:
        return _dw_dx(dw_plan, x, w, dout, act, need_dx)
    # With stride 1, dx is the convolution of dout, padded by HH-1-pad, with the filters
    # rotated and in/out channels swapped: the forward kernel, whose sums run over HH*WW*F
    # values, instead of the dx tiles, whose sums run over F only.
    if act is not None:  # dx and Winograd's dw need the gradient at the convolution's output
        dout = _run_elementwise(relu_plan, _act.relu_chunk, _act.relu_par, True, dout, act)
    dx = _forward(dx_plan, dout, w, None, False) if by_conv else None
    if wdw is not None:
        return (dx,) + _winograd_dw(wdw, x, dout)
    return (dx,) + _dw_dx(dw_plan, x, w, dout, None, False)[1:]


def _dw_dx(plan, x, w, dout, act, need_dx):
    """One call of the dw (and, if need_dx, dx) tiles: (dx or None, dw, db)."""
    T, chunks, split, mid, parts, wscs, xf, d2, dx4s, ws, xs = plan
    dtype = x.dtype
    # wsc: the dx tiles' weights; without dx the chunk kernel reads only its shape (Fp, HH*S)
    if need_dx:
        wsc = np.zeros(wscs, dtype=dtype)
        _layout.arrange_weights(w, False, _NO_W16[dtype], _NO_W16[dtype], wsc)
    else:
        wsc = np.empty(wscs, dtype=dtype)
    dw_parts = np.zeros(parts[0], dtype=dtype)
    db_parts = np.zeros(parts[1], dtype=dtype)
    if not need_dx:
        dx4 = _NO_DX[dtype]
    elif split:
        dx4 = np.zeros(dx4s, dtype=dtype)
    else:
        dx4 = np.empty(dx4s, dtype=dtype)  # chunks own whole images: one array
    C, HH, WW, stride, pad, Ho, Wo, rb, bounds = mid
    taken = np.zeros(1, dtype=np.int64)
    act2 = _NO_ROWS[dtype] if act is None else act.reshape(d2)
    args = (x.reshape(xf), C, dout.reshape(d2), wsc, HH, WW, stride, pad, Ho, Wo, rb, bounds, taken, need_dx)
    parallel.run(T, _conv.conv_backward_chunk, _conv.conv_backward_par, args + (dw_parts, db_parts, dx4, act2), dtype)
    dw = np.empty(ws, dtype=dtype)
    db = np.empty(ws[0], dtype=dtype)
    _layout.gather_dw(dw_parts, db_parts, C, HH, WW, dw, db)
    if not need_dx:
        return None, dw, db
    dx = dx4.sum(axis=0) if split else dx4[0]
    return dx.reshape(xs), dw, db


def _backward_plan(x_shape, w_shape, stride, pad, need_dx, dtype):
    """(dout's shape, by_conv, the dw call's plan, relu_backward's, dx's forward plan,
    Winograd's dw plan or None) of a conv_backward call: by_conv, dx as a convolution of dout
    (a forward call, and dw by Winograd or a dw call without dx); else the dx tiles beside
    dw's, or without dx dw by Winograd where it suits."""
    N, H, W, C = x_shape
    F, _, HH, WW = w_shape
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    by_conv = need_dx and stride == 1 and HH == WW and pad <= HH - 1 and N * Ho * Wo >= config.MIN_DX_BY_CONV_PIXELS
    douts = (N, Ho, Wo, F)
    wdw = _winograd_dw_plan(x_shape, w_shape, stride, pad) if by_conv or not need_dx else None
    relu = _elementwise_plan(N * Ho * Wo * F)
    if not by_conv:
        return douts, False, _dw_plan(x_shape, w_shape, stride, pad, need_dx), relu, None, wdw
    dx_plan = _forward_plan(douts, w_shape, True, 1, HH - 1 - pad, dtype)
    return douts, True, _dw_plan(x_shape, w_shape, stride, pad, False), relu, dx_plan, wdw


def _winograd_dw_plan(x_shape, w_shape, stride, pad):
    """The plan of dw by Winograd (_numba_winograd.wino_dw_chunk), or None where winograd() does
    not take the convolution or its filters pass 32 (D's rows)."""
    N, H, W, C = x_shape
    F, _, HH, WW = w_shape
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    if not (winograd(C, F, HH, WW, stride, N, Ho, Wo) and F <= 32):
        return None
    T, chunks, rbt, bounds = _winograd_blocks(N, Ho, Wo, N * Ho * Wo * F * HH * WW * C)
    Cs = 16 if C <= 16 else 32  # wino_dw_chunk's rows of dU
    return T, (C, pad, Ho, Wo, rbt, bounds), (chunks, 36, F, Cs), (chunks, F), (N, H, W * C), (N * Ho * Wo, F), w_shape


def _winograd_dw(plan, x, dout):
    """dw and db by Winograd: the chunks' partials of dU, then dw = G^T dU G."""
    T, mid, dus, dbs, xf, d2, ws = plan
    dtype = x.dtype
    du_parts = np.zeros(dus, dtype=dtype)
    db_parts = np.zeros(dbs, dtype=dtype)
    C, pad, Ho, Wo, rbt, bounds = mid
    taken = np.zeros(1, dtype=np.int64)
    args = (x.reshape(xf), C, dout.reshape(d2), pad, Ho, Wo, rbt, bounds, taken, du_parts, db_parts)
    parallel.run(T, _wino.wino_dw_chunk, _wino.wino_dw_par, args, dtype)
    dw = np.empty(ws, dtype=dtype)
    db = np.empty(ws[0], dtype=dtype)
    _layout.gather_winograd_dw(du_parts, db_parts, dw, db)
    return dw, db


def _dw_plan(x_shape, w_shape, stride, pad, need_dx):
    """The dw (and dx) tiles' call: threads, chunks, split (fewer images than threads: chunks
    split images by rows, each with its own dx partial), the chunk kernel's arguments but the
    arrays, the partials' shapes and the reshapes' shapes."""
    N, H, W, C = x_shape
    F, _, HH, WW = w_shape
    Ho, Wo = _conv_geometry(H, W, HH, WW, stride, pad)
    T, chunks, rb, nblk = _conv_plan(N, Ho, Wo, (1 + need_dx) * N * Ho * Wo * F * HH * WW * C)
    split = N < T
    if split:
        ranges = _split(N * nblk, chunks)
    else:  # whole images per chunk
        chunks = min(chunks, N)
        ranges = [(i0 * nblk, i1 * nblk) for i0, i1 in _split(N, chunks)]
    bounds = parallel.chunks(ranges)[0]
    Fp, S = (F + 3) // 4 * 4, (WW * C + 15) // 16 * 16
    return (
        T,
        chunks,
        split,
        (C, HH, WW, stride, pad, Ho, Wo, rb, bounds),
        ((chunks, Fp, HH * S), (chunks, Fp)),
        (Fp, HH * S),  # wsc
        (N, H, W * C),
        (N * Ho * Wo, F),
        (chunks if split else 1, N, H, W * C),
        (F, C, HH, WW),
        x_shape,
    )
