"""Slow, loop-based reference implementations of every kernel, for the tests only.

Written to be obviously right rather than fast: one output value at a time, in the
engine's layout — activations (N, H, W, C) channels last, conv weights (F, C, HH, WW), fc
weights (out, in) with `in` the flattened (H, W, C) volume. Everything is computed in
float64 whatever the inputs are, so a test compares a fast kernel against exact-ish values.
What does not live here: the fast kernels (engine/kernels_*.py) and any test logic.
"""

from __future__ import annotations

import math

import numpy as np


def out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def conv_case(rng, shape, F, k, stride, pad, dtype):
    """Random inputs of a conv test: x (N, H, W, C), w (F, C, k, k), b (F,) and a gradient at
    the output, dout (N, Ho, Wo, F), drawn from rng in that order, of dtype."""
    N, H, W, C = shape
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((F, C, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    dout = rng.standard_normal((N, out_size(H, k, stride, pad), out_size(W, k, stride, pad), F)).astype(dtype)
    return x, w, b, dout


# -- convolution -------------------------------------------------------------------------
def conv_forward(x, w, b, stride, pad):
    """x (N, H, W, C), w (F, C, HH, WW), b (F,) -> out (N, Ho, Wo, F), zero padding."""
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    N, H, W, C = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = out_size(H, HH, stride, pad), out_size(W, WW, stride, pad)
    out = np.zeros((N, Ho, Wo, F))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for f in range(F):
                    total = b[f]
                    for di in range(HH):
                        for dj in range(WW):
                            r, s = i * stride + di - pad, j * stride + dj - pad
                            if 0 <= r < H and 0 <= s < W:
                                total += np.dot(x[n, r, s, :], w[f, :, di, dj])  # over C
                    out[n, i, j, f] = total
    return out


def conv_backward(dout, x, w, stride, pad):
    """Gradients of conv_forward: dx (N, H, W, C), dw (F, C, HH, WW), db (F,)."""
    dout, x, w = (np.asarray(a, dtype=np.float64) for a in (dout, x, w))
    N, H, W, C = x.shape
    F, _, HH, WW = w.shape
    _, Ho, Wo, _ = dout.shape
    dx = np.zeros_like(x)
    dw = np.zeros_like(w)
    db = np.zeros(F)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for f in range(F):
                    g = dout[n, i, j, f]
                    db[f] += g
                    for di in range(HH):
                        for dj in range(WW):
                            r, s = i * stride + di - pad, j * stride + dj - pad
                            if 0 <= r < H and 0 <= s < W:
                                dw[f, :, di, dj] += g * x[n, r, s, :]
                                dx[n, r, s, :] += g * w[f, :, di, dj]
    return dx, dw, db


# -- max pooling -------------------------------------------------------------------------
def pool_argmax(x, size, stride):
    """For each window, the (row, col) of its FIRST maximum in row-major scan order.

    Returns (out (N, Ho, Wo, C), where (N, Ho, Wo, C, 2)). A later cell wins only if it is
    strictly greater, so exact ties go to the earliest cell, as in PyTorch.
    """
    x = np.asarray(x, dtype=np.float64)
    N, H, W, C = x.shape
    Ho, Wo = out_size(H, size, stride, 0), out_size(W, size, stride, 0)
    out = np.zeros((N, Ho, Wo, C))
    where = np.zeros((N, Ho, Wo, C, 2), dtype=np.int64)
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(C):
                    best, at = -math.inf, None
                    for di in range(size):
                        for dj in range(size):
                            r, s = i * stride + di, j * stride + dj
                            if at is None or x[n, r, s, c] > best:
                                best, at = x[n, r, s, c], (r, s)
                    out[n, i, j, c] = best
                    where[n, i, j, c] = at
    return out, where


def pool_forward(x, size, stride):
    return pool_argmax(x, size, stride)[0]


def pool_backward(dout, x, size, stride):
    """dx (N, H, W, C): each window's gradient added to its first maximum only."""
    dout = np.asarray(dout, dtype=np.float64)
    _, where = pool_argmax(x, size, stride)
    N, Ho, Wo, C = dout.shape
    dx = np.zeros(np.shape(x))
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                for c in range(C):
                    r, s = where[n, i, j, c]
                    dx[n, r, s, c] += dout[n, i, j, c]
    return dx


# -- element-wise activations ------------------------------------------------------------
def _elementwise(fn, *arrays):
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    flat = [a.ravel() for a in arrays]
    out = np.array([fn(*vals) for vals in zip(*flat)], dtype=np.float64)
    return out.reshape(arrays[0].shape)


def relu_forward(x):
    return _elementwise(lambda v: v if v > 0 else 0.0, x)


def relu_backward(dout, x):
    return _elementwise(lambda g, v: g if v > 0 else 0.0, dout, x)


def tanh_forward(x):
    return _elementwise(math.tanh, x)


def tanh_backward(dout, x):
    return _elementwise(lambda g, v: g * (1 - math.tanh(v) ** 2), dout, x)


def _sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def sigmoid_forward(x):
    return _elementwise(_sigmoid, x)


def sigmoid_backward(dout, x):
    return _elementwise(lambda g, v: g * _sigmoid(v) * (1 - _sigmoid(v)), dout, x)


# -- fully connected ---------------------------------------------------------------------
def fc_forward(x, w, b):
    """x (N, D), w (M, D), b (M,) -> (N, M)."""
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    N, D = x.shape
    M = w.shape[0]
    out = np.zeros((N, M))
    for n in range(N):
        for m in range(M):
            total = b[m]
            for d in range(D):
                total += x[n, d] * w[m, d]
            out[n, m] = total
    return out


def fc_backward(dout, x, w):
    """dx (N, D), dw (M, D), db (M,)."""
    dout, x, w = (np.asarray(a, dtype=np.float64) for a in (dout, x, w))
    N, D = x.shape
    M = w.shape[0]
    dx, dw, db = np.zeros((N, D)), np.zeros((M, D)), np.zeros(M)
    for n in range(N):
        for m in range(M):
            g = dout[n, m]
            db[m] += g
            for d in range(D):
                dw[m, d] += g * x[n, d]
                dx[n, d] += g * w[m, d]
    return dx, dw, db


def flatten_hwc(x):
    """(N, H, W, C) -> (N, H*W*C), the order the engine's fc layers read a volume in."""
    x = np.asarray(x)
    N, H, W, C = x.shape
    out = np.zeros((N, H * W * C), dtype=np.float64)
    for n in range(N):
        for i in range(H):
            for j in range(W):
                for c in range(C):
                    out[n, (i * W + j) * C + c] = x[n, i, j, c]
    return out


# -- softmax and cross-entropy -----------------------------------------------------------
def softmax(scores):
    scores = np.asarray(scores, dtype=np.float64)
    N, K = scores.shape
    probs = np.zeros((N, K))
    for n in range(N):
        top = max(scores[n])
        e = [math.exp(s - top) for s in scores[n]]
        total = sum(e)
        for k in range(K):
            probs[n, k] = e[k] / total
    return probs


def softmax_loss(scores, y):
    """Mean cross-entropy over the batch: (loss, probs (N, K), dscores (N, K))."""
    scores = np.asarray(scores, dtype=np.float64)
    probs = softmax(scores)
    N, K = probs.shape
    loss = 0.0
    dscores = np.zeros((N, K))
    for n in range(N):
        top = max(scores[n])
        log_total = math.log(sum(math.exp(s - top) for s in scores[n]))
        loss -= (scores[n, y[n]] - top - log_total) / N
        for k in range(K):
            dscores[n, k] = (probs[n, k] - (1.0 if k == y[n] else 0.0)) / N
    return loss, probs, dscores
