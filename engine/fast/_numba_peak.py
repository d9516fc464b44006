"""The machine's fp32 peak as the Numba kernels see it: vector multiply-adds in registers, the
shape of a conv forward tile's inner loop, on one thread and on every CPU at once.
`python -m engine bench --roofline` divides each layer's GFLOP/s by it (engine/roofline.py).

Why not NumPy's sgemm: it runs the kernels of the BLAS NumPy ships, which may use half the
vector width the CPU has (OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU), and callers side by
side on a shared machine do not add up (see docs/BENCHMARKS.md, "The roofline's peak").
"""

from __future__ import annotations

import threading
import time

import numpy as np
from numba import carray, njit

from . import config
from ._numba_cpu import tile_pixels
from ._numba_intrinsics import _stack_like
from .numpy_threads import _cpus  # the CPUs this process may use

WIDE = tile_pixels() == 16  # AVX-512: 12 sums of 16 lanes in flight; else 5 (of AVX2's 16 registers)
ROWS = 12 if WIDE else 5
FLOPS_PER_ROUND = 2 * 16 * ROWS


@njit(**config.JIT)
def _rounds(w, xs, n):
    """n rounds of ROWS independent sums of 16 lanes, each += x * w (a multiply-add each):
    the products differ (x from xs), so LLVM keeps them as multiply-adds, and the loop over the
    16 lanes has a constant bound, so the sums stay in registers. Returns their total, so that
    nothing is optimised away."""
    acc = carray(_stack_like(w, 192), 192)
    for t in range(192):
        acc[t] = 0
    for it in range(n):
        j = (it * 12) & 63
        x0, x1, x2, x3, x4, x5 = xs[j], xs[j + 1], xs[j + 2], xs[j + 3], xs[j + 4], xs[j + 5]
        x6, x7, x8, x9, x10, x11 = xs[j + 6], xs[j + 7], xs[j + 8], xs[j + 9], xs[j + 10], xs[j + 11]
        for f in range(16):
            wf = w[f]
            acc[f] += x0 * wf
            acc[16 + f] += x1 * wf
            acc[32 + f] += x2 * wf
            acc[48 + f] += x3 * wf
            acc[64 + f] += x4 * wf
            if WIDE:  # a constant: compiled in or out
                acc[80 + f] += x5 * wf
                acc[96 + f] += x6 * wf
                acc[112 + f] += x7 * wf
                acc[128 + f] += x8 * wf
                acc[144 + f] += x9 * wf
                acc[160 + f] += x10 * wf
                acc[176 + f] += x11 * wf
    total = acc[0]
    for t in range(1, 16 * ROWS):
        total += acc[t]
    return total


def fma_peak(seconds=0.5):
    """(GFLOP/s on one thread, GFLOP/s of one thread per CPU this process may use, at once, by
    the wall clock), each run for about `seconds`."""
    w = np.full(16, 1e-3, dtype=np.float32)
    xs = np.full(80, 1e-3, dtype=np.float32)
    _rounds(w, xs, 1000)  # compiled (or loaded from the cache) before any timing
    n = 100_000
    while True:  # rounds that take about a tenth of `seconds`
        t0 = time.perf_counter()
        _rounds(w, xs, n)
        dt = time.perf_counter() - t0
        if dt >= seconds / 10 or n > 10**10:
            break
        n *= 4
    n = max(1, int(n * seconds / 10 / max(dt, 1e-9)))
    single = 0.0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:  # the best of a few runs: a busy moment misleads once
        t0 = time.perf_counter()
        _rounds(w, xs, n)
        single = max(single, FLOPS_PER_ROUND * n / (time.perf_counter() - t0) / 1e9)
    T = _cpus()
    m = max(1, int(n * 10 // 3))  # about a third of `seconds` each, all threads at once
    best = 0.0
    for _ in range(2):
        workers = [threading.Thread(target=_rounds, args=(w, xs, m)) for _ in range(T)]
        t0 = time.perf_counter()
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        best = max(best, T * FLOPS_PER_ROUND * m / (time.perf_counter() - t0) / 1e9)
    return single, best
