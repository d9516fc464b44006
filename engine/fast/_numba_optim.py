"""The Numba backend's optimizer steps: one pass over a net's flat parameter buffer
(engine/params.py) per step, instead of the ~10 whole-array NumPy operations of optim.py's
_update (each a pass of its own: what a step of batch 1-4 feels; see docs/BENCHMARKS.md,
"Optimizer step in one compiled pass").

Each kernel computes optim.py's formula value by value with the same float operations in
the same order, and is compiled without fastmath (no fused multiply-adds, no reordering), so
its results equal the NumPy path's bit for bit (tests/test_optim_flat.py). Hyperparameters
arrive as scalars of the buffer's dtype, made by the caller exactly as _update makes them.
decay: the weight-decay vector of optim.py (g + decay * p), or an empty array for none.

No public API here: kernels_numba.optim_update calls these.
"""

from __future__ import annotations

import math

from numba import njit

_jit = njit(cache=True, nogil=True, error_model="numpy")  # no fastmath: see above


@_jit
def _grad(g, decay, p, i):
    if decay.shape[0] == 0:
        return g[i]
    return g[i] + decay[i] * p[i]


@_jit
def sgd(p, g, decay, lr):
    for i in range(p.shape[0]):
        p[i] -= lr * _grad(g, decay, p, i)


@_jit
def momentum(p, g, decay, v, lr, mu):
    for i in range(p.shape[0]):
        gi = _grad(g, decay, p, i)
        vi = v[i] * mu
        vi -= lr * gi
        v[i] = vi
        p[i] += vi


@_jit
def nesterov(p, g, decay, v, lr, mu):
    for i in range(p.shape[0]):
        gi = _grad(g, decay, p, i)
        vi = v[i] * mu
        vi += gi
        v[i] = vi
        p[i] -= lr * (gi + mu * vi)


@_jit
def adagrad(p, g, decay, s, lr, eps):
    for i in range(p.shape[0]):
        gi = _grad(g, decay, p, i)
        si = s[i] + gi * gi
        s[i] = si
        p[i] -= lr * gi / (math.sqrt(si) + eps)


@_jit
def adadelta(p, g, decay, sq, dl, lr, rho, one_minus_rho, eps):
    for i in range(p.shape[0]):
        gi = _grad(g, decay, p, i)
        s = sq[i] * rho
        s += one_minus_rho * gi * gi
        sq[i] = s
        delta = math.sqrt((dl[i] + eps) / (s + eps)) * gi
        d = dl[i] * rho
        d += one_minus_rho * delta * delta
        dl[i] = d
        p[i] -= lr * delta


@_jit
def adam(p, g, decay, m, v, lr, b1, one_minus_b1, b2, one_minus_b2, c1, c2, eps):
    for i in range(p.shape[0]):
        gi = _grad(g, decay, p, i)
        mi = m[i] * b1
        mi += one_minus_b1 * gi
        m[i] = mi
        vi = v[i] * b2
        vi += one_minus_b2 * gi * gi
        v[i] = vi
        p[i] -= lr * (mi / c1) / (math.sqrt(vi / c2) + eps)
