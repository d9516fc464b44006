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
_numba_conv.py (convolution), _numba_winograd.py (Winograd's convolution; its vector steps are
LLVM intrinsics in _numba_winograd_ir.py), _numba_pool.py (max pooling), _numba_act.py (ReLU, tanh,
sigmoid, softmax). Level 3 is this file and two beside it, none of which compiles anything:
_numba_conv_calls.py (the convolution's calls and their plans, direct and Winograd; this file
re-exports them, with `winograd` and `conv_algorithms`), _numba_plans.py (what every call
shares: the threads, the chunks, the dtype, the cache of plans). Here: pooling, the
elementwise layers, fc, softmax and the optimizer's step. This module is the backend
(engine.get_kernels hands it to the layers).

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

import numpy as np

from . import _numba_act as _act
from . import _numba_optim as _optim
from . import _numba_pool as _pool
from . import parallel
from ._numba_conv_calls import (  # noqa: F401 (the backend's conv calls, re-exported)
    _conv_backward,  # kernels_numpy has one too: the pair's names match (tests/test_kernels.py)
    conv_algorithms,
    conv_backward,
    conv_forward,
    conv_relu_backward,
    conv_relu_forward,
    winograd,
)
from ._numba_plans import _elementwise, _float, _plans, _pool_backward_plan, _pool_plan, _remember, _settings

NAME = "numba"

# Until it returns True, some calls run on engine.fast.workers while the pool's wrappers
# compile in the background (parallel.py); the bench waits for it before it times anything.
wait_compiled = parallel.wait_compiled


# -- public API -------------------------------------------------------------------------------
def pool_forward(x, size, stride):
    """Max pooling. x (N, H, W, C) -> out (N, Ho, Wo, C), cache (first maximum of each window)."""
    x = _float(x)
    key = ("pf", x.shape, size, stride, _settings())
    plan = _plans.get(key) or _remember(key, _pool_plan(x, size, stride))
    size, stride, outs, xf, out2, head, T, ranges = plan
    out = np.empty(outs, dtype=x.dtype)
    arg = np.empty(outs, dtype=np.int32)  # tap k = i * size + j; int32 vectorises with float32
    tail = (out.reshape(out2), arg.reshape(out2))
    parallel.run_ranges(
        T, _pool.pool_forward_chunk, _pool.pool_forward_par, (x.reshape(xf),) + head, ranges, tail, x.dtype
    )
    return out, (x.shape, arg, size, stride)


def pool_backward(dout, cache):
    """Gradient of pool_forward: each window's gradient goes to its first maximum."""
    x_shape, arg, size, stride = cache
    dout = _float(dout)
    if dout.shape != arg.shape:
        raise ValueError("pool_backward: dout of shape %s, expected %s" % (dout.shape, arg.shape))
    key = ("pb", x_shape, size, stride, _settings())
    plan = _plans.get(key) or _remember(key, _pool_backward_plan(x_shape, arg.shape, size, stride))
    T, ranges, d2, xf, head = plan
    dx = np.empty(x_shape, dtype=dout.dtype)
    head = (dout.reshape(d2), arg.reshape(d2)) + head
    parallel.run_ranges(
        T, _pool.pool_backward_chunk, _pool.pool_backward_par, head, ranges, (dx.reshape(xf),), dx.dtype
    )
    return dx


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
    if y.size and y.view(np.uint64).max() >= scores.shape[1]:  # one pass: -1 is 2**64 - 1 unsigned
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


def compiled_programs(net):
    """The net's forward and backward as a few compiled calls (compiled_pass.py), which
    Net asks for each pass."""
    from .compiled_pass import Programs  # it imports this module

    return Programs(net)


def softmax(scores):
    scores = _float(scores)
    if scores.ndim != 2:
        raise ValueError("softmax: scores must be (N, K), got shape %s" % (scores.shape,))
    probs = np.empty_like(scores)
    _act.softmax_rows(scores, np.zeros(0, dtype=np.int64), False, probs, probs)
    return probs
