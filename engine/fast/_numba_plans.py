"""What every call of the Numba backend's level 3 shares (kernels_numba.py and
_numba_conv_calls.py; see kernels_numba.py's docstring for the three levels): how many
threads a call may use, the chunks it is cut into, the dtype its arrays are made C-contiguous
in, and the cache of per-shape plans (`_plans`), keyed on what a plan depends on besides the
shapes (`_settings`). Also the elementwise call (`_elementwise`: its check, plan and run),
which kernels_numba's ReLU, tanh and sigmoid call, and whose plan and run conv_backward uses
for a ReLU's mask, and the pooling calls' plans (compiled_pass.py makes them too).

Compiles nothing. Tests patch `_threads` here (every plan reads the thread count through it)
and config.py's thresholds at run time; both are part of a plan's key.
"""

from __future__ import annotations

import numba
import numpy as np

from . import config, parallel


def _threads():
    # numba.config's count, not numba.get_num_threads(): that one would start Numba's pool
    # on a machine where it is not used (parallel.LAYER None).
    if not config.PARALLEL_ENABLED:
        return 1
    return max(1, config.THREADS or numba.config.NUMBA_NUM_THREADS)


def _split(total, T):
    """T contiguous ranges [i0, i1) covering range(total)."""
    return [(t * total // T, (t + 1) * total // T) for t in range(T)]


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


def _settings():
    """What a call's plan depends on besides shapes: the threads and config.py's thresholds
    (tests change them at run time). Read once per public call."""
    c = config
    return (
        _threads(),
        c.MIN_PARALLEL_MACS,
        c.MIN_PARALLEL_ELEMENTS,
        c.CHUNKS_PER_THREAD,
        c.CONV_BLOCK_PIXELS,
        c.MIN_DX_BY_CONV_PIXELS,
        c.WINOGRAD,
        c.MIN_WINOGRAD_PIXELS,
    )


_plans = {}  # (what, shapes..., dtype, _settings()) -> a call's plan: its checks, shapes,
# threads and chunks worked out once per shape (a net uses a few), not at every call, one
# lookup per public call; at batch 1 working them out took ~20 us of a ~350 us step on one
# thread (docs/BENCHMARKS.md, "A call's plan made once", "The Python around a batch-1 step")


def _remember(key, plan):
    if len(_plans) > 4096:  # a long-running process that saw many shapes
        _plans.clear()
    _plans[key] = plan
    return plan


def _elementwise(kernel, par, backward, a, c=None):
    """Run an elementwise chunk kernel (and its prange wrapper) on a (and c, the cached forward
    output) of any shape."""
    a = _float(a)
    c = a if c is None else _float(c, a.dtype)
    if c.shape != a.shape:
        raise ValueError("gradient of shape %s does not match the cached output's %s" % (a.shape, c.shape))
    key = ("e", a.size, _settings())
    plan = _plans.get(key) or _remember(key, _elementwise_plan(a.size))
    return _run_elementwise(plan, kernel, par, backward, a, c)


def _elementwise_plan(size):
    """(threads, ranges) of an elementwise call over `size` values."""
    T, chunks = _plan(size, config.MIN_PARALLEL_ELEMENTS, size)
    return T, tuple(_split(size, chunks))


def _run_elementwise(plan, kernel, par, backward, a, c):
    """The elementwise call on a and c (C-contiguous, a's dtype and shape)."""
    T, ranges = plan
    out = np.empty_like(a)
    parallel.run_ranges(T, kernel, par, (backward, a.reshape(-1), c.reshape(-1), out.reshape(-1)), ranges, (), a.dtype)
    return out


def _pool_plan(x, size, stride):
    """The checks of a pool_forward call, and its (size, stride, out's shape, the reshapes'
    shapes, the chunk kernel's arguments after xf, threads, ranges)."""
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
    ranges = tuple(_split(N * Ho, chunks))
    return size, stride, (N, Ho, Wo, C), (N, H, W * C), (N * Ho, Wo * C), (C, size, stride, Ho, Wo), T, ranges


def _pool_backward_plan(x_shape, out_shape, size, stride):
    """(threads, ranges, dout's and dx's reshapes' shapes, the chunk kernel's arguments
    after arg2) of a pool_backward call."""
    N, Ho, Wo, C = out_shape
    H, W = x_shape[1:3]
    by_rows = stride >= size  # windows do not overlap: output rows own disjoint dx rows
    units = N * Ho if by_rows else N
    T, chunks = _plan(N * H * W * C, config.MIN_PARALLEL_ELEMENTS, units)
    return T, tuple(_split(units, chunks)), (N * Ho, Wo * C), (N, H, W * C), (C, size, stride, Ho, Wo, by_rows)
