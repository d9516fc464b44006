"""The Numba backend's elementwise activation chunk kernels (ReLU, tanh, sigmoid) and the
serial softmax with its cross-entropy loss.

No public API here (kernels_numba.py wraps these) and nothing of convolution or pooling.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import config
from ._numba_intrinsics import _take  # inlined, and settled: see that file

_jit = njit(**config.JIT)
_par = njit(parallel=True, **config.JIT)


# -- chunk kernels: elementwise -------------------------------------------------------------
# Forward: out = f(a). Backward: out = a * f'(.) with a = dout and c = the forward output.
# One kernel per activation, so that a ReLU net never compiles tanh or exp.
@_jit
def relu_chunk(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]  # views: loops from 0 vectorise (see _numba_intrinsics._at)
    zero = a.dtype.type(0)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] if c[i] > zero else zero
    else:
        for i in range(a.shape[0]):
            v = a[i]
            out[i] = zero if v < zero else v  # NaN passes through, as in np.maximum


@_jit
def relu_mask_chunk(d, c, i0, i1):
    """relu_chunk's backward written over its gradient d: d stays where c > 0, else 0 (the
    compiled pass, engine/fast/compiled_pass.py). One array written: relu_chunk with out
    the same array as a runs its loop a value at a time (its vector loop needs them apart)."""
    d, c = d[i0:i1], c[i0:i1]
    zero = d.dtype.type(0)
    for i in range(d.shape[0]):
        d[i] = d[i] if c[i] > zero else zero


@_jit
def tanh_chunk(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]
    one = a.dtype.type(1)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] * (one - c[i] * c[i])
    else:
        for i in range(a.shape[0]):
            out[i] = np.tanh(a[i])


@_jit
def sigmoid_chunk(backward, a, c, out, i0, i1):
    a, c, out = a[i0:i1], c[i0:i1], out[i0:i1]
    one = a.dtype.type(1)
    if backward:
        for i in range(a.shape[0]):
            out[i] = a[i] * c[i] * (one - c[i])
    else:
        for i in range(a.shape[0]):
            out[i] = one / (one + np.exp(-a[i]))


# The chunk kernels on Numba's thread pool (see _numba_conv.conv_forward_par), one per
# activation for the reason above. Chunk k is [bounds[k], bounds[k + 1]).
@_par
def relu_par(T, bounds, taken, backward, a, c, out):
    for _ in prange(T):
        k = _take(taken)
        while k < bounds.shape[0] - 1:
            relu_chunk(backward, a, c, out, bounds[k], bounds[k + 1])
            k = _take(taken)


@_par
def relu_mask_par(T, bounds, taken, d, c):
    for _ in prange(T):
        k = _take(taken)
        while k < bounds.shape[0] - 1:
            relu_mask_chunk(d, c, bounds[k], bounds[k + 1])
            k = _take(taken)


@_par
def tanh_par(T, bounds, taken, backward, a, c, out):
    for _ in prange(T):
        k = _take(taken)
        while k < bounds.shape[0] - 1:
            tanh_chunk(backward, a, c, out, bounds[k], bounds[k + 1])
            k = _take(taken)


@_par
def sigmoid_par(T, bounds, taken, backward, a, c, out):
    for _ in prange(T):
        k = _take(taken)
        while k < bounds.shape[0] - 1:
            sigmoid_chunk(backward, a, c, out, bounds[k], bounds[k + 1])
            k = _take(taken)


# -- serial kernel: softmax and its loss --------------------------------------------------
@_jit
def softmax_rows(scores, y, with_loss, probs, dscores):
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
