"""The compiled pass: one Numba call that runs a list of the backend's kernel calls, so that a
training step's sequence of convolutions, poolings and activations leaves the interpreter
(compiled_pass.py builds the list and says when it is used).

`run_ops(ops, fa, pa, ga, xa, fb, da, fc, ia, ja)` runs the rows of `ops` in order. A row
is one call: its code, then its arguments as integers (what each code reads is spelled out
below, and compiled_pass.py writes it in the same order). Its arrays are runs of one of seven
float buffers, named by number: 0 `fa` the forward's arena (the activations, the weights'
layouts and copies), 1 `pa` the net's flat parameters, 2 `ga` its flat gradients, 3 `xa`
the input of the forward's run of calls (the net's input, or what a Python layer gave),
4 `fb` and 6 `fc` the backward's two arenas (a layer writes in one, the next in the other),
5 `da` the gradient the backward's run of calls starts from. `ia` holds the chunks' bounds and counters (int64),
`ja` the poolings' first-maximum indices (int32).

The calls are those of kernels_numba.py and _numba_conv_calls.py, with the same arguments, in
the same order, on the same threads (`*_par` on Numba's pool where a call has T > 1): the
same bits (tests/test_compiled_pass.py). Compiled without fastmath: its own arithmetic is the
zeroing, copying and the sum over dx's partials, which must add in NumPy's order.

This file calls kernels of other files, and Numba's cache of a function keys on its own
file's text only: run_ops's cache is stamped with the text of every _numba_*.py file beside
it (`_Stamped`), so that an edited kernel compiles it again instead of loading the old
kernels with it. (Compiling it takes ~12 s: LLVM optimises the kernels it calls once more,
inside it; parallel.py does that in the background, as it does the `*_par` wrappers.)
"""

from __future__ import annotations

import hashlib
import os

from numba import njit
from numba.core import caching

from . import _numba_act as _act
from . import _numba_conv as _conv
from . import _numba_layout as _layout
from . import _numba_pool as _pool
from . import _numba_winograd as _wino

ZERO, COPY, ARRANGE, ARRANGE_WINO, CONV, WINO, CONV_BACK, GATHER, WINO_DW, GATHER_WINO = range(1, 11)
ELEM, POOL, POOL_BACK, SUM0, MASK = range(11, 16)
RELU, TANH, SIGMOID = range(3)  # ELEM's kinds


def kernels_stamp(folder):
    """A hash of the names and text of the _numba_*.py files in folder."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.startswith("_numba_") and name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.digest()


class _Stamped:
    """A cache locator of Numba's for this file only, whose source stamp is the text of every
    kernel file beside it (mixed into each of Numba's own locators, tried first, in their order)."""

    def get_source_stamp(self):
        return kernels_stamp(os.path.dirname(os.path.abspath(__file__)))

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) != os.path.abspath(__file__):
            return None
        return super().from_function(py_func, py_file)


def _stamped_cache():
    """Put the stamped locators first in Numba's list; False where Numba's caching module is
    not as known (run_ops is then compiled in every process, never cached)."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list) or not all(hasattr(c, "get_source_stamp") for c in classes):
        return False
    if not any(issubclass(c, _Stamped) for c in classes):
        classes[:0] = [type("Stamped" + c.__name__, (_Stamped, c), {}) for c in list(classes)]
    return True


CACHED = _stamped_cache()


@njit(nogil=True, error_model="numpy")
def _buf(fa, pa, ga, xa, fb, da, fc, which):
    if which == 0:
        return fa
    if which == 1:
        return pa
    if which == 2:
        return ga
    if which == 3:
        return xa
    if which == 4:
        return fb
    if which == 5:
        return da
    return fc


@njit(nogil=True, error_model="numpy")
def _run(r, k, fa, pa, ga, xa, fb, da, fc):
    """The 1-d run of r[k] (the buffer) at offset r[k + 1], r[k + 2] values long."""
    return _buf(fa, pa, ga, xa, fb, da, fc, r[k])[r[k + 1] : r[k + 1] + r[k + 2]]


@njit(nogil=True, error_model="numpy")
def _chunks(r, k, ia):
    """The chunks' bounds of a call, at offset r[k] of ia, r[k + 1] of them, and its counter
    of chunks taken, at r[k + 2], set to 0."""
    taken = ia[r[k + 2] : r[k + 2] + 1]
    taken[0] = 0
    return ia[r[k] : r[k] + r[k + 1]], taken


@njit(nogil=True, error_model="numpy")
def _elem(kind, T, backward, bounds, taken, a, c, out):
    if T > 1:
        if kind == RELU:
            _act.relu_par(T, bounds, taken, backward, a, c, out)
        elif kind == TANH:
            _act.tanh_par(T, bounds, taken, backward, a, c, out)
        else:
            _act.sigmoid_par(T, bounds, taken, backward, a, c, out)
        return
    for i in range(bounds.shape[0] - 1):
        if kind == RELU:
            _act.relu_chunk(backward, a, c, out, bounds[i], bounds[i + 1])
        elif kind == TANH:
            _act.tanh_chunk(backward, a, c, out, bounds[i], bounds[i + 1])
        else:
            _act.sigmoid_chunk(backward, a, c, out, bounds[i], bounds[i + 1])


@njit(nogil=True, error_model="numpy", cache=CACHED)
def run_ops(ops, fa, pa, ga, xa, fb, da, fc, ia, ja):
    for i in range(ops.shape[0]):
        r = ops[i]
        op = r[0]
        if op == ZERO:  # run
            _run(r, 1, fa, pa, ga, xa, fb, da, fc)[:] = 0
        elif op == COPY:  # from run, to run
            _run(r, 4, fa, pa, ga, xa, fb, da, fc)[:] = _run(r, 1, fa, pa, ga, xa, fb, da, fc)
        elif op == ARRANGE:  # w run, F, C, HH, WW, flip, w16 run, G, K, wq run, q0, q1, wsc run, s0, s1
            w = _run(r, 1, fa, pa, ga, xa, fb, da, fc).reshape((r[4], r[5], r[6], r[7]))
            w16 = _run(r, 9, fa, pa, ga, xa, fb, da, fc).reshape((r[12], r[13], 16))
            wq = _run(r, 14, fa, pa, ga, xa, fb, da, fc).reshape((r[17], r[18], 16))
            wsc = _run(r, 19, fa, pa, ga, xa, fb, da, fc).reshape((r[22], r[23]))
            _layout.arrange_weights(w, r[8] != 0, w16, wq, wsc)
        elif op == ARRANGE_WINO:  # w run, F, C, flip, u16 run, u0, u1, uq run, q0, q1
            w = _run(r, 1, fa, pa, ga, xa, fb, da, fc).reshape((r[4], r[5], 5, 5))
            u16 = _run(r, 7, fa, pa, ga, xa, fb, da, fc).reshape((r[10], r[11]))
            uq = _run(r, 12, fa, pa, ga, xa, fb, da, fc).reshape((r[15], r[16]))
            _layout.arrange_winograd(w, r[6] != 0, u16, uq)
        elif op == CONV:
            # T, x run, N, H, WC, C, w16 run, G, K, wq run, q0, q1, b run, HH, WW, stride,
            # pad, Ho, Wo, rb, bounds (offset, count), taken, out run, rows, Fo, relu
            T = r[1]
            xf = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6], r[7]))
            w16 = _run(r, 9, fa, pa, ga, xa, fb, da, fc).reshape((r[12], r[13], 16))
            wq = _run(r, 14, fa, pa, ga, xa, fb, da, fc).reshape((r[17], r[18], 16))
            b = _run(r, 19, fa, pa, ga, xa, fb, da, fc)
            bounds, taken = _chunks(r, 29, ia)
            out2 = _run(r, 32, fa, pa, ga, xa, fb, da, fc).reshape((r[35], r[36]))
            a = (xf, r[8], w16, wq, b, r[22], r[23], r[24], r[25], r[26], r[27], r[28], bounds, taken, out2, r[37] != 0)
            if T > 1:
                _conv.conv_forward_par(T, *a)
            else:
                _conv.conv_forward_chunk(*a)
        elif op == WINO:
            # T, x run, N, H, WC, C, u16 run, u0, u1, uq run, q0, q1, b run, pad, Ho, Wo,
            # rbt, bounds (offset, count), taken, out run, rows, Fo, relu
            T = r[1]
            xf = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6], r[7]))
            u16 = _run(r, 9, fa, pa, ga, xa, fb, da, fc).reshape((r[12], r[13]))
            uq = _run(r, 14, fa, pa, ga, xa, fb, da, fc).reshape((r[17], r[18]))
            b = _run(r, 19, fa, pa, ga, xa, fb, da, fc)
            bounds, taken = _chunks(r, 26, ia)
            out2 = _run(r, 29, fa, pa, ga, xa, fb, da, fc).reshape((r[32], r[33]))
            a = (xf, r[8], u16, uq, b, r[22], r[23], r[24], r[25], bounds, taken, out2, r[34] != 0)
            if T > 1:
                _wino.wino_forward_par(T, *a)
            else:
                _wino.wino_forward_chunk(*a)
        elif op == CONV_BACK:
            # T, x run, N, H, WC, C, d run, rows, F, wsc run, s0, s1, HH, WW, stride, pad,
            # Ho, Wo, rb, bounds (offset, count), taken, need_dx, dw_parts run, p0, p1, p2,
            # db_parts run, b0, b1, dx4 run, x0, x1, x2, x3, act run, a0, a1
            T = r[1]
            xf = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6], r[7]))
            d2 = _run(r, 9, fa, pa, ga, xa, fb, da, fc).reshape((r[12], r[13]))
            wsc = _run(r, 14, fa, pa, ga, xa, fb, da, fc).reshape((r[17], r[18]))
            bounds, taken = _chunks(r, 26, ia)
            dwp = _run(r, 30, fa, pa, ga, xa, fb, da, fc).reshape((r[33], r[34], r[35]))
            dbp = _run(r, 36, fa, pa, ga, xa, fb, da, fc).reshape((r[39], r[40]))
            dx4 = _run(r, 41, fa, pa, ga, xa, fb, da, fc).reshape((r[44], r[45], r[46], r[47]))
            act2 = _run(r, 48, fa, pa, ga, xa, fb, da, fc).reshape((r[51], r[52]))
            a = (xf, r[8], d2, wsc, r[19], r[20], r[21], r[22], r[23], r[24], r[25], bounds, taken, r[29] != 0)
            if T > 1:
                _conv.conv_backward_par(T, *a, dwp, dbp, dx4, act2)
            else:
                _conv.conv_backward_chunk(*a, dwp, dbp, dx4, act2)
        elif op == GATHER:  # dw_parts run, p0, p1, p2, db_parts run, b0, b1, C, HH, WW, dw run, F, db run
            dwp = _run(r, 1, fa, pa, ga, xa, fb, da, fc).reshape((r[4], r[5], r[6]))
            dbp = _run(r, 7, fa, pa, ga, xa, fb, da, fc).reshape((r[10], r[11]))
            dw = _run(r, 15, fa, pa, ga, xa, fb, da, fc).reshape((r[18], r[12], r[13], r[14]))
            db = _run(r, 19, fa, pa, ga, xa, fb, da, fc)
            _layout.gather_dw(dwp, dbp, r[12], r[13], r[14], dw, db)
        elif op == WINO_DW:
            # T, x run, N, H, WC, C, d run, rows, F, pad, Ho, Wo, rbt, bounds (offset,
            # count), taken, du_parts run, u0, u1, u2, u3, db_parts run, b0, b1
            T = r[1]
            xf = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6], r[7]))
            d2 = _run(r, 9, fa, pa, ga, xa, fb, da, fc).reshape((r[12], r[13]))
            bounds, taken = _chunks(r, 18, ia)
            dup = _run(r, 21, fa, pa, ga, xa, fb, da, fc).reshape((r[24], r[25], r[26], r[27]))
            dbp = _run(r, 28, fa, pa, ga, xa, fb, da, fc).reshape((r[31], r[32]))
            a = (xf, r[8], d2, r[14], r[15], r[16], r[17], bounds, taken, dup, dbp)
            if T > 1:
                _wino.wino_dw_par(T, *a)
            else:
                _wino.wino_dw_chunk(*a)
        elif op == GATHER_WINO:  # du_parts run, u0, u1, u2, u3, db_parts run, b0, b1, dw run, F, C, db run
            dup = _run(r, 1, fa, pa, ga, xa, fb, da, fc).reshape((r[4], r[5], r[6], r[7]))
            dbp = _run(r, 8, fa, pa, ga, xa, fb, da, fc).reshape((r[11], r[12]))
            dw = _run(r, 13, fa, pa, ga, xa, fb, da, fc).reshape((r[16], r[17], 5, 5))
            db = _run(r, 18, fa, pa, ga, xa, fb, da, fc)
            _layout.gather_winograd_dw(dup, dbp, dw, db)
        elif op == ELEM:  # kind, T, backward, a run, c run, out run, bounds (offset, count), taken
            bounds, taken = _chunks(r, 13, ia)
            a = _run(r, 4, fa, pa, ga, xa, fb, da, fc)
            c = _run(r, 7, fa, pa, ga, xa, fb, da, fc)
            out = _run(r, 10, fa, pa, ga, xa, fb, da, fc)
            _elem(r[1], r[2], r[3] != 0, bounds, taken, a, c, out)
        elif op == POOL:
            # T, x run, N, H, WC, C, size, stride, Ho, Wo, out run, rows, WoC, arg offset,
            # bounds (offset, count), taken
            T = r[1]
            xf = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6], r[7]))
            out2 = _run(r, 13, fa, pa, ga, xa, fb, da, fc).reshape((r[16], r[17]))
            arg2 = ja[r[18] : r[18] + r[16] * r[17]].reshape((r[16], r[17]))
            bounds, taken = _chunks(r, 19, ia)
            if T > 1:
                _pool.pool_forward_par(T, bounds, taken, xf, r[8], r[9], r[10], r[11], r[12], out2, arg2)
            else:
                for c in range(bounds.shape[0] - 1):
                    _pool.pool_forward_chunk(xf, r[8], r[9], r[10], r[11], r[12], bounds[c], bounds[c + 1], out2, arg2)
        elif op == POOL_BACK:
            # T, d run, rows, WoC, arg offset, C, size, stride, Ho, Wo, by_rows, dx run, N,
            # H, WC, bounds (offset, count), taken
            T = r[1]
            d2 = _run(r, 2, fa, pa, ga, xa, fb, da, fc).reshape((r[5], r[6]))
            arg2 = ja[r[7] : r[7] + r[5] * r[6]].reshape((r[5], r[6]))
            dxf = _run(r, 14, fa, pa, ga, xa, fb, da, fc).reshape((r[17], r[18], r[19]))
            bounds, taken = _chunks(r, 20, ia)
            if T > 1:
                _pool.pool_backward_par(T, bounds, taken, d2, arg2, r[8], r[9], r[10], r[11], r[12], r[13] != 0, dxf)
            else:
                for c in range(bounds.shape[0] - 1):
                    _pool.pool_backward_chunk(
                        d2, arg2, r[8], r[9], r[10], r[11], r[12], r[13] != 0, bounds[c], bounds[c + 1], dxf
                    )
        elif op == MASK:  # T, d run, c run, bounds (offset, count), taken: a ReLU's backward over d
            bounds, taken = _chunks(r, 8, ia)
            d = _run(r, 2, fa, pa, ga, xa, fb, da, fc)
            c = _run(r, 5, fa, pa, ga, xa, fb, da, fc)
            if r[1] > 1:
                _act.relu_mask_par(r[1], bounds, taken, d, c)
            else:
                for k in range(bounds.shape[0] - 1):
                    _act.relu_mask_chunk(d, c, bounds[k], bounds[k + 1])
        elif op == SUM0:  # parts run, count, out run: out = parts[0] + parts[1] + ..., in that order
            parts = _run(r, 1, fa, pa, ga, xa, fb, da, fc)
            out = _run(r, 5, fa, pa, ga, xa, fb, da, fc)
            n = out.shape[0]
            out[:] = parts[:n]
            for k in range(1, r[4]):
                part = parts[k * n : (k + 1) * n]
                for j in range(n):
                    out[j] += part[j]
