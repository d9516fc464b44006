"""A Numba net's forward and backward as a few compiled calls instead of one Python call a
kernel: the step's sequence of calls off the interpreter.

At batch 1 a training step of the CIFAR-10 net made ~25 kernel calls from Python, and the
Python around them (the layers, the plans' look-ups, the arrays' allocation, Numba's
dispatch of each call) took about as long as the kernels (docs/BENCHMARKS.md, "A pass in
one compiled call"). Here a `Program`, made once per net and input shape, lists those calls
as rows of integers (the kernels, their arguments, where each array lies), and
_numba_pass.run_ops runs a whole run of them in one call: the forward of the convolutions,
poolings and activations in one, their backward in one.

- What runs compiled: conv (with the ReLU after it, fusion.py's pair), pooling, ReLU, tanh,
  sigmoid, with the plans kernels_numba.py and _numba_conv_calls.py make for those shapes:
  the same chunk kernels with the same arguments on the same threads, so the same bits as
  the layers' own calls (tests/test_compiled_pass.py). fc (NumPy's BLAS), dropout and softmax
  stay Python calls of their layers between the compiled runs.
- Where the arrays live: a pass's activations, the weights' layouts and the copies of the
  weights its backward uses (as conv_forward's cache does) in one arena made each forward
  (`fa`: the acts Net shows are views of it); the backward's gradients and partials in two
  made each backward (`fb`, `fc`: a layer writes in one, the layer below in the other, so
  each is written over two layers on, when what was there is dead); parameters' gradients
  are written straight into the net's flat gradient buffer.
- When: Net.forward asks `Programs.forward`, which gives None (and Net runs its layers)
  until run_ops is compiled for the net's dtype (in the background, parallel.py's
  `_wanted`, as the `*_par` wrappers are), for a forward that keeps pre-activations, where
  some call would run on engine.fast.workers (no Numba pool), and with
  config.COMPILED_PASS off. A backward after a compiled forward runs compiled unless it
  keeps act_grads; then the layers get their caches back from the arena (`restore`) and
  run as usual.
"""

from __future__ import annotations

import numpy as np

from . import _numba_pass as _p
from . import config, parallel
from ._numba_conv_calls import _backward_plan, _forward_plan
from ._numba_plans import _elementwise_plan, _pool_backward_plan, _pool_plan, _settings
from .workers import capped

WIDTH = 56  # integers a row: the longest call, CONV_BACK, reads 53
FA, PA, GA, XA, FB, DA, FC = range(7)  # the buffers, as _numba_pass numbers them
_KINDS = {"relu": _p.RELU, "tanh": _p.TANH, "sigmoid": _p.SIGMOID}
_EMPTY = {dt: np.empty(0, dt) for dt in (np.dtype(np.float32), np.dtype(np.float64))}


NONE = (FA, 0, 0)  # the run of an array a call does not get (its shape all zeros)


class _Layout:
    """Runs of one arena, each at a multiple of 16 values (64 bytes in float32). `again()`
    starts over at 0 (what was there is no longer needed); `size` is the most ever taken."""

    def __init__(self, which):
        self.which, self.at, self.size = which, 0, 0

    def take(self, n):
        off = self.at
        self.at += (int(n) + 15) // 16 * 16
        self.size = max(self.size, self.at)
        return (self.which, off, int(n))

    def again(self):
        self.at = 0


class _Builder:
    def __init__(self, net, N):
        self.net, self.N = net, N
        self.dtype = net.dtype
        self.fa, self.fb, self.ja = _Layout(FA), None, 0  # fb: Program sets it, layer by layer
        self.ints = []  # ia: the chunks' bounds and counters
        self.threads = 1
        flat = net._params.flat
        self.pa0, self.ga0 = flat.ctypes.data, net._grads.flat.ctypes.data
        self.item = flat.itemsize

    def param(self, layer, name):
        p = layer.param[name]
        return (PA, (p.ctypes.data - self.pa0) // self.item, p.size)

    def grad(self, layer, name):
        g = layer.grad[name]
        return (GA, (g.ctypes.data - self.ga0) // self.item, g.size)

    def bounds(self, bounds):
        off = len(self.ints)
        self.ints.extend(int(b) for b in bounds)
        return off, len(bounds)

    def counter(self):
        self.ints.append(0)
        return len(self.ints) - 1

    def T(self, T):
        T = capped(T)
        self.threads = max(self.threads, T)
        return T


def _sized(run, n):
    """A segment's input run (XA or DA), given its length."""
    return (run[0], run[1], int(n)) if run[0] in (XA, DA) else run


def _row(*values):
    row = []
    for v in values:
        row.extend(v) if isinstance(v, tuple) else row.append(int(v))
    if len(row) > WIDTH:
        raise AssertionError("a row of %d integers" % len(row))
    return row + [0] * (WIDTH - len(row))


def _shape(spec_shape, N):
    c, h, w = spec_shape
    return (N, h, w, c)


def _conv_forward_rows(b, plan, x, w, wshape, bias, out, relu):
    """The rows of _numba_conv_calls._forward(plan, x, w, bias, relu): x, w, bias and out are
    runs, w of shape wshape (F, C, HH, WW)."""
    ws, wqs, flip, xf, outs, out2, mid, T, zeros, wino = plan
    T = b.T(T)
    if wino:
        u16, uq = b.fa.take(np.prod(ws)), b.fa.take(np.prod(wqs))
        C, pad, Ho, Wo, rbt, bounds = mid
        return [
            _row(_p.ARRANGE_WINO, w, wshape[0], wshape[1], flip, u16, ws[0], ws[1], uq, wqs[0], wqs[1]),
            _row(
                _p.WINO, T, x, *xf, C, u16, ws[0], ws[1], uq, wqs[0], wqs[1], bias, pad, Ho, Wo, rbt,
                *b.bounds(bounds), b.counter(), out, *out2, relu,
            ),
        ]  # fmt: skip
    w16, wq = b.fa.take(np.prod(ws)), b.fa.take(np.prod(wqs))
    C, HH, WW, stride, pad, Ho, Wo, rb, bounds = mid
    return [
        _row(_p.ZERO, wq),
        _row(_p.ARRANGE, w, *wshape, flip, w16, ws[0], ws[1], wq, wqs[0], wqs[1], NONE, 0, 0),
        _row(
            _p.CONV, T, x, *xf, C, w16, ws[0], ws[1], wq, wqs[0], wqs[1], bias, HH, WW, stride, pad, Ho, Wo, rb,
            *b.bounds(bounds), b.counter(), out, *out2, relu,
        ),
    ]  # fmt: skip


def _dw_dx_rows(b, plan, x, wc, wshape, d, act, need_dx, dw, db):
    """The rows of _numba_conv_calls._dw_dx: dw and db into the runs dw and db; the run of
    dx, or None."""
    T, chunks, split, mid, parts, wscs, xf, d2, dx4s, ws, xs = plan
    T = b.T(T)
    wsc = b.fb.take(np.prod(wscs))
    rows = []
    if need_dx:  # the dx tiles' weights; without dx the chunk kernel reads only wsc's shape
        rows.append(_row(_p.ZERO, wsc))
        rows.append(_row(_p.ARRANGE, wc, *wshape, 0, NONE, 0, 0, NONE, 0, 0, wsc, *wscs))
    dwp, dbp = b.fb.take(np.prod(parts[0])), b.fb.take(np.prod(parts[1]))
    rows += [_row(_p.ZERO, dwp), _row(_p.ZERO, dbp)]
    if not need_dx:
        dx4, dx4s = NONE, (1, 0, 0, 0)
    else:
        dx4 = b.fb.take(np.prod(dx4s))
        if split:
            rows.append(_row(_p.ZERO, dx4))
    C, HH, WW, stride, pad, Ho, Wo, rb, bounds = mid
    act, a2 = (NONE, (0, 0)) if act is None else (act, d2)
    rows.append(
        _row(
            _p.CONV_BACK, T, x, *xf, C, d, *d2, wsc, *wscs, HH, WW, stride, pad, Ho, Wo, rb, *b.bounds(bounds),
            b.counter(), need_dx, dwp, *parts[0], dbp, *parts[1], dx4, *dx4s, act, *a2,
        )
    )  # fmt: skip
    rows.append(_row(_p.GATHER, dwp, *parts[0], dbp, *parts[1], C, HH, WW, dw, ws[0], db))
    if not need_dx:
        return rows, None
    if not split:
        return rows, (dx4[0], dx4[1], dx4[2] // dx4s[0])
    dx = b.fb.take(np.prod(xs))
    rows.append(_row(_p.SUM0, dx4, dx4s[0], dx))
    return rows, dx


class _Conv:
    """A conv layer, with the ReLU after it if `relu` (fusion.py's pair): layers i (and i + 1)."""

    def __init__(self, b, i, relu, x):
        net = b.net
        self.i, self.relu = i, relu
        self.layer = layer = net.layers[i]
        self.xs = _shape(net.layers_spec[i]["in_shape"], b.N)
        self.x = x = _sized(x, np.prod(self.xs))
        self.wshape = layer.param["weight"].shape
        self.stride, self.pad = int(layer.spec["stride"]), int(layer.spec["padding"])
        plan = _forward_plan(self.xs, self.wshape, False, self.stride, self.pad, b.dtype)
        self.out_shape = plan[4]
        self.out = b.fa.take(np.prod(self.out_shape))
        self.wc = b.fa.take(np.prod(self.wshape))  # the weights backward uses (conv_forward's cache)
        w, bias = b.param(layer, "weight"), b.param(layer, "bias")
        self.forward_rows = [_row(_p.COPY, w, self.wc)]
        self.forward_rows += _conv_forward_rows(b, plan, x, w, self.wshape, bias, self.out, relu)

    def acts(self, fa):
        out = fa[self.out[1] : self.out[1] + self.out[2]].reshape(self.out_shape)
        return [None, out] if self.relu else [out]

    def backward_rows(self, b, d):
        """Rows of conv_backward (conv_relu_backward) from the gradient run d; the dx run or None."""
        need_dx = self.i > 1
        d = _sized(d, self.out[2])
        plan = _backward_plan(self.xs, self.wshape, self.stride, self.pad, need_dx, b.dtype)
        douts, by_conv, dw_plan, relu_plan, dx_plan, wdw = plan
        dw, db = b.grad(self.layer, "weight"), b.grad(self.layer, "bias")
        act = self.out if self.relu else None
        if not by_conv and wdw is None:
            return _dw_dx_rows(b, dw_plan, self.x, self.wc, self.wshape, d, act, need_dx, dw, db)
        rows = []
        if act is not None:  # the gradient at the convolution's output, over the ReLU's
            # (in its place where the last layer's backward wrote it: no one else reads it)
            if d[0] in (FB, FC):
                T, ranges = relu_plan
                bounds = parallel.chunks(ranges)[0]
                rows.append(_row(_p.MASK, b.T(T), d, act, *b.bounds(bounds), b.counter()))
            else:  # the gradient Net or a Python layer gave: not ours to write over
                d0, d = d, b.fb.take(np.prod(douts))
                rows.append(_elem_row(b, relu_plan, _p.RELU, True, d0, act, d))
        dx = None
        if by_conv:
            dx = b.fb.take(np.prod(self.xs))
            zeros = b.fb.take(self.wshape[1])
            rows.append(_row(_p.ZERO, zeros))
            rows += _conv_forward_rows(b, dx_plan, d, self.wc, self.wshape, zeros, dx, False)
        if wdw is not None:
            T, mid, dus, dbs, xf, d2, ws = wdw
            C, pad, Ho, Wo, rbt, bounds = mid
            dup, dbp = b.fb.take(np.prod(dus)), b.fb.take(np.prod(dbs))
            rows += [_row(_p.ZERO, dup), _row(_p.ZERO, dbp)]
            rows.append(
                _row(
                    _p.WINO_DW, b.T(T), self.x, *xf, C, d, *d2, pad, Ho, Wo, rbt, *b.bounds(bounds), b.counter(),
                    dup, *dus, dbp, *dbs,
                )
            )  # fmt: skip
            rows.append(_row(_p.GATHER_WINO, dup, *dus, dbp, *dbs, dw, ws[0], ws[1], db))
            return rows, dx
        more, _ = _dw_dx_rows(b, dw_plan, self.x, self.wc, self.wshape, d, None, False, dw, db)
        return rows + more, dx

    def restore(self, fa, ja, x):
        """The caches the layers' own backward reads (conv_forward's, relu_forward's)."""
        wc = fa[self.wc[1] : self.wc[1] + self.wc[2]].reshape(self.wshape)
        self.layer.cache = (x, wc, self.stride, self.pad)
        if self.relu:
            self.layer.fused.relu.cache = fa[self.out[1] : self.out[1] + self.out[2]].reshape(self.out_shape)


def _elem_row(b, plan, kind, backward, a, c, out):
    T, ranges = plan
    bounds = parallel.chunks(ranges)[0]
    return _row(_p.ELEM, kind, b.T(T), backward, a, c, out, *b.bounds(bounds), b.counter())


class _Act:
    """A ReLU, tanh or sigmoid layer on its own (kernels_numba's relu_forward, ...)."""

    def __init__(self, b, i, x):
        self.i = i
        self.layer = b.net.layers[i]
        self.kind = _KINDS[self.layer.type]
        self.out_shape = self.xs = _shape(b.net.layers_spec[i]["out_shape"], b.N)
        n = int(np.prod(self.out_shape))
        self.x = x = _sized(x, n)
        self.plan = _elementwise_plan(n)
        self.out = b.fa.take(n)
        self.forward_rows = [_elem_row(b, self.plan, self.kind, False, x, x, self.out)]

    def acts(self, fa):
        return [fa[self.out[1] : self.out[1] + self.out[2]].reshape(self.out_shape)]

    def backward_rows(self, b, d):
        d = _sized(d, self.out[2])
        dx = b.fb.take(self.out[2])
        return [_elem_row(b, self.plan, self.kind, True, d, self.out, dx)], dx

    def restore(self, fa, ja, x):
        self.layer.cache = self.acts(fa)[0]


class _Pool:
    def __init__(self, b, i, x):
        self.i = i
        self.layer = layer = b.net.layers[i]
        self.xs = _shape(b.net.layers_spec[i]["in_shape"], b.N)
        self.x = x = _sized(x, np.prod(self.xs))
        self.size, self.stride = int(layer.spec["kernel_size"]), int(layer.spec["stride"])
        plan = _pool_plan(np.broadcast_to(np.zeros((), b.dtype), self.xs), self.size, self.stride)
        size, stride, outs, xf, out2, head, T, ranges = plan
        self.out_shape = outs
        self.out = b.fa.take(np.prod(outs))
        self.arg, b.ja = b.ja, b.ja + (int(np.prod(outs)) + 15) // 16 * 16
        bounds = parallel.chunks(ranges)[0]
        self.forward_rows = [
            _row(_p.POOL, b.T(T), x, *xf, *head, self.out, *out2, self.arg, *b.bounds(bounds), b.counter())
        ]

    def acts(self, fa):
        return [fa[self.out[1] : self.out[1] + self.out[2]].reshape(self.out_shape)]

    def backward_rows(self, b, d):
        T, ranges, d2, xf, head = _pool_backward_plan(self.xs, self.out_shape, self.size, self.stride)
        d = _sized(d, self.out[2])
        dx = b.fb.take(np.prod(self.xs))
        bounds = parallel.chunks(ranges)[0]
        return [_row(_p.POOL_BACK, b.T(T), d, *d2, self.arg, *head, dx, *xf, *b.bounds(bounds), b.counter())], dx

    def restore(self, fa, ja, x):
        n = int(np.prod(self.out_shape))
        self.layer.cache = (self.xs, ja[self.arg : self.arg + n].reshape(self.out_shape), self.size, self.stride)


class _Segment:
    """A run of compiled layers between Python ones: one run_ops call each way."""

    def __init__(self, units, forward):
        self.units = units
        self.forward = np.array(forward, dtype=np.int64).reshape(-1, WIDTH)
        self.backward = np.zeros((0, WIDTH), dtype=np.int64)  # set by the builder
        self.dx = None  # the run of the gradient at its input, set by the builder
        self.sizes = (0, 0)  # the backward's two arenas', set by the builder


class Program:
    """A net's forward and backward at one input shape: segments of compiled calls and the
    Python layers between them (`steps`: ("seg", _Segment) or ("py", i, layer or pair, width))."""

    def __init__(self, net, N):
        b = _Builder(net, N)
        layers = net.layers
        steps, units = [], []
        x = (XA, 0, 0)
        i = 1
        while i < len(layers):
            layer, pair = layers[i], layers[i].fused
            paired = pair is not None and pair.conv is layer and i + 1 < len(layers) and pair.relu is layers[i + 1]
            if layer.type == "conv":
                unit = _Conv(b, i, paired, x)
            elif layer.type == "pool":
                unit = _Pool(b, i, x)
            elif layer.type in _KINDS and pair is None:
                unit = _Act(b, i, x)
            else:
                unit = None
            if unit is not None:
                units.append(unit)
                x = unit.out
                i += 2 if paired else 1
                continue
            if units:
                steps.append(("seg", units))
                units = []
            width = 2 if paired else 1
            steps.append(("py", i, pair if paired else layer, width))
            x = (XA, 0, 0)
            i += width
        if units:
            steps.append(("seg", units))
        self.steps = []  # the forward's rows of each segment
        segs = 0
        for step in steps:
            if step[0] == "seg":
                units = step[1]
                fwd = [row for unit in units for row in unit.forward_rows]
                self.steps.append(("seg", _Segment(units, fwd)))
                segs += 1
            else:
                self.steps.append(step)
        for step in reversed(self.steps):  # the backward's: the same segments, last first
            if step[0] != "seg":
                continue
            seg = step[1]
            d, rows = (DA, 0, 0), []
            # a layer's gradients and partials in one arena, the next layer's in the other:
            # what a layer wrote is dead once the next one has read it, so an arena is
            # written over from its start two layers on (the layers one by one free it)
            sides = (_Layout(FB), _Layout(FC))
            for k, unit in enumerate(reversed(seg.units)):
                b.fb = sides[k % 2]
                b.fb.again()
                more, d = unit.backward_rows(b, d)
                rows += more
                if d is None:
                    break
            seg.backward = np.array(rows, dtype=np.int64).reshape(-1, WIDTH)
            seg.dx = d
            seg.sizes = (sides[0].size, sides[1].size)
        self.segments = segs
        self.fa, self.ja = b.fa.size, b.ja
        self.ia = np.array(b.ints or [0], dtype=np.int64)
        self.threads = b.threads
        self.dtype = b.dtype
        self.ready = False  # run_ops compiled for it (Programs.get)


class Pass:
    """What a compiled forward leaves for its backward: the arena, the pool indices and each
    segment's input."""

    __slots__ = ("program", "fa", "ja", "inputs")

    def __init__(self, program, fa, ja, inputs):
        self.program, self.fa, self.ja, self.inputs = program, fa, ja, inputs


def _forward(net, program, x, train):
    """Net.forward through the program: (the acts list, the Pass its backward needs)."""
    fa = np.empty(program.fa, dtype=program.dtype)
    ja = np.empty(program.ja, dtype=np.int32)
    pa, ga, ia = net._params.flat, net._grads.flat, program.ia
    none = _EMPTY[program.dtype]
    acts, inputs = [x], []
    for step in program.steps:
        if step[0] == "seg":
            units = step[1].units
            if not (x.flags.c_contiguous and x.flags.writeable and x.dtype == program.dtype):
                x = np.array(x, dtype=program.dtype, order="C")
            inputs.append(x)
            _p.run_ops(step[1].forward, fa, pa, ga, x.reshape(-1), none, none, none, ia, ja)
            for unit in units:
                acts += unit.acts(fa)
            x = acts[-1]
            continue
        _, i, layer, width = step
        if width == 2:
            pre, x = layer.forward(x, train)
            acts += [pre, x]
        else:
            x = layer.forward(x, train)
            acts.append(x)
    return acts, Pass(program, fa, ja, inputs)


def _backward(net, state, dout):
    """Net.backward_scores through the program (without act_grads): fills net's grads."""
    program = state.program
    pa, ga, ia = net._params.flat, net._grads.flat, program.ia
    seg_index = program.segments
    for step in reversed(program.steps):
        if step[0] == "seg":
            seg = step[1]
            seg_index -= 1
            if not (dout.flags.c_contiguous and dout.flags.writeable and dout.dtype == program.dtype):
                dout = np.array(dout, dtype=program.dtype, order="C")  # run_ops is compiled for these
            x = state.inputs[seg_index].reshape(-1)
            # new arenas each run of calls: dout may be a view of the last one's (a Python
            # layer's backward may hand its gradient on as it is)
            fb, fc = np.empty(seg.sizes[0], program.dtype), np.empty(seg.sizes[1], program.dtype)
            _p.run_ops(seg.backward, state.fa, pa, ga, x, fb, dout.reshape(-1), fc, ia, state.ja)
            if seg.dx is None:
                return
            d = seg.dx
            dout = (fb if d[0] == FB else fc)[d[1] : d[1] + d[2]].reshape(seg.units[0].xs)
            continue
        _, i, layer, width = step
        if i == len(net.layers) - 1:  # the softmax: Net.backward did it
            continue
        need_dx = i > 1
        dout = layer.backward(dout, need_dx)
        if dout is None:
            return


def _restore(net, state):
    """Give every compiled layer the cache its own backward reads (a backward that keeps
    act_grads runs the layers)."""
    seg_index = 0
    for step in state.program.steps:
        if step[0] != "seg":
            continue
        x = state.inputs[seg_index]
        seg_index += 1
        for unit in step[1].units:
            x = x.reshape(unit.xs)
            unit.restore(state.fa, state.ja, x)
            x = state.fa[unit.out[1] : unit.out[1] + unit.out[2]]


class Programs:
    """A net's programs, one per input shape, and whether run_ops is ready for them."""

    def __init__(self, net):
        self.net = net
        self.by_key = {}

    def get(self, x):
        """The program for input x, or None: Net then runs its layers."""
        if not config.COMPILED_PASS or not len(x):
            return None
        key = (x.shape, _settings(), capped(1 << 20))
        program = self.by_key.get(key, False)
        if program is False:
            program = self._make(x)
            if len(self.by_key) > 64:
                self.by_key.clear()
            self.by_key[key] = program
        if program is None or program.ready:
            return program
        # run_ops compiled for these types yet? (it compiles in the background meanwhile)
        none, ops = _EMPTY[program.dtype], program.ia[:1].reshape(1, 1)
        args = (ops, none, none, none, none, none, none, none, program.ia, np.empty(0, np.int32))
        program.ready = parallel._wanted(_p.run_ops, args, program.dtype)
        return program if program.ready else None

    def forward(self, program, x, train):
        """Net.forward through the program: (acts, the Pass its backward needs)."""
        return _forward(self.net, program, x, train)

    def backward(self, state, dout):
        """Net.backward_scores through the program, without act_grads."""
        _backward(self.net, state, dout)

    def restore(self, state):
        """The layers' caches from the pass, for a backward that runs them."""
        _restore(self.net, state)

    def _make(self, x):
        net = self.net
        if x.shape[1:] != tuple(net.input_shape) or x.dtype != net.dtype:
            return None
        program = Program(net, x.shape[0])
        if program.threads > 1 and parallel.LAYER is None:
            return None  # those calls run on engine.fast.workers' threads, which run_ops cannot reach
        if not any(step[0] == "seg" for step in program.steps):
            return None
        return program
