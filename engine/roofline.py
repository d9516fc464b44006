"""`python -m engine bench --roofline`: per layer and pass, GFLOP/s and its share of this
machine's peak, so that the next speed-up is chosen from a table, not a guess.

In one run: a short fp32 peak probe (vector multiply-adds in registers, compiled by Numba for
this CPU, on one thread and on every CPU at once, the faster kept: engine/fast/_numba_peak.py;
without Numba, NumPy's sgemm on square matrices, on BLAS's threads; once before the cases and
once after, the better kept), then, per engine backend and batch size, the
convnetjs-cifar10 net's forward and backward pass timed unit by unit (a conv fused with its
ReLU is one unit, as Net runs it), the best of several passes per unit. A conv's flops are
2*Ho*Wo*F*HH*WW*C per image forward, twice that backward (dw and dx; the first layer needs no
dx), an fc's 2*D*M each; pooling, activations and the loss count no flops (they are bound by
memory, not arithmetic): their rows give the time and its share of the pass only. A pass
that runs Winograd's F(2x2, 5x5) (the Numba backend's conv2 and conv3, forward, dx and dw,
from batch 2 and 8: kernels_numba.winograd) is marked W: its GFLOP/s still count the direct
convolution's flops, of which Winograd does 36 multiply-adds in 100, so its share of the
peak may pass 100%.

    run_roofline(backends, batches, seconds, cpu=name) -> {"cpu", "peak_gflops", "probe", "results": [...]}
    format_roofline(result) -> the text table.
"""

from __future__ import annotations

import time

import numpy as np

from .net import Net
from .presets import get_preset

NET = "convnetjs-cifar10"
PROBE_N = 1024  # sgemm of two 1024x1024 float32 matrices: 2.1 GFLOP a call


def _sgemm_rate(seconds, n):
    """The best fp32 GFLOP/s of one caller's sgemm calls over `seconds` (at least 3 calls)."""
    rng = np.random.RandomState(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.dot(a, b, out=out)  # warm: BLAS threads started, pages touched
    best, calls, t_end = 0.0, 0, time.perf_counter() + seconds
    while calls < 3 or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        np.dot(a, b, out=out)
        dt = time.perf_counter() - t0
        best = max(best, 2.0 * n**3 / dt / 1e9 if dt > 0 else 0.0)
        calls += 1
    return best


def peak_probe(seconds=0.5, n=PROBE_N):
    """(the machine's fp32 GFLOP/s, what measured it): Numba's multiply-adds on one thread or
    every CPU at once, whichever is faster; without Numba, sgemm on BLAS's own threads. (Adding
    up the best rates of sgemm callers side by side, as this did before, read 363-549 GFLOP/s
    on one machine in one evening: docs/BENCHMARKS.md, "The roofline's peak".)"""
    try:
        from .fast._numba_peak import fma_peak
    except ImportError:  # no Numba: BLAS is the fastest code this process has
        return _sgemm_rate(seconds, n), "numpy sgemm %dx%d" % (n, n)
    single, together = fma_peak(seconds)
    return max(single, together), "fp32 multiply-adds compiled by Numba, one thread %.0f GFLOP/s" % single


def _units(net):
    """[(name, kind, layers)] in forward order: a fused conv+ReLU pair is one unit."""
    units, layers, i = [], net.layers, 1
    while i < len(layers) - 1:  # the softmax is timed with the loss
        layer, pair = layers[i], layers[i].fused
        if pair is not None and pair.conv is layer and i + 1 < len(layers) and pair.relu is layers[i + 1]:
            units.append((layer.name + "+" + pair.relu.name, "conv+relu", (layer, pair.relu)))
            i += 2
        else:
            units.append((layer.name, layer.type, (layer,)))
            i += 1
    return units


def _flops(layer, first):
    """(forward, backward) flops per image of a conv or fc layer; (0, 0) for the rest."""
    spec = layer.spec
    if spec["type"] == "conv":
        f, ho, wo = spec["out_shape"]
        c = spec["in_shape"][0]
        k = spec["kernel_size"]
        fwd = 2 * ho * wo * f * k * k * c
        return fwd, fwd * (1 if first else 2)
    if spec["type"] == "fc":
        c, h, w = spec["in_shape"]
        fwd = 2 * c * h * w * spec["out_features"]
        return fwd, fwd * (1 if first else 2)
    return 0, 0


def _time_passes(net, x, y, units, seconds):
    """Best seconds per (unit, pass) over repeated forward+backward passes."""
    best = {}
    t_end = time.perf_counter() + seconds
    passes = 0
    while passes < 3 or time.perf_counter() < t_end:
        for layer in net.layers:
            layer.cache = None
        h = x
        for name, kind, layers in units:
            t0 = time.perf_counter()
            if kind == "conv+relu":
                h = layers[0].fused.forward(h, True)[1]
            else:
                h = layers[0].forward(h, True)
            dt = time.perf_counter() - t0
            best[(name, "forward")] = min(best.get((name, "forward"), dt), dt)
        t0 = time.perf_counter()
        softmax = net.layers[-1]
        softmax.forward(h, True)
        _, _, dout = net.kernels.softmax_loss(softmax.scores, y)
        dout = dout.reshape(h.shape)
        dt = time.perf_counter() - t0
        best[("softmax+loss", "forward")] = min(best.get(("softmax+loss", "forward"), dt), dt)
        for j, (name, kind, layers) in reversed(list(enumerate(units))):
            t0 = time.perf_counter()
            if kind == "conv+relu":
                dout = layers[0].fused.backward(dout, j > 0)
            else:
                dout = layers[0].backward(dout, j > 0)
            dt = time.perf_counter() - t0
            best[(name, "backward")] = min(best.get((name, "backward"), dt), dt)
        passes += 1
    return best, passes


def run_roofline(backends, batches, seconds=1.0, peak_seconds=0.5, cpu=""):
    """The roofline table's data (cpu: the machine's name, for the record); see the module
    docstring."""
    peak, probe = peak_probe(peak_seconds)
    results = []
    for backend in backends:
        for batch in batches:
            net = Net(get_preset(NET), backend=backend, seed=0)
            rng = np.random.RandomState(0)
            images = rng.randint(0, 256, (batch,) + net.input_shape).astype(np.uint8)
            y = rng.randint(0, net.num_classes, batch).astype(np.int64)
            x = net.prepare(images)
            net.loss(x, y, train=True)  # warm: compiled kernels, pools, pages
            wait = getattr(net.kernels, "wait_compiled", None)
            if wait is not None:
                wait()
            units = _units(net)
            best, passes = _time_passes(net, x, y, units, seconds)
            total = sum(best.values())
            flops = [_flops(layers[0], j == 0) for j, (_, _, layers) in enumerate(units)]
            results.append({"backend": backend, "batch": batch, "passes": passes, "seconds": best, "flops": flops})
            results[-1]["units"] = [u[0] for u in units]
            results[-1]["winograd"] = _winograd_passes(net, units, batch)
    # a second probe after the cases: on a shared machine one short probe may catch a busy moment
    again, probe_again = peak_probe(peak_seconds)
    if again > peak:
        peak, probe = again, probe_again
    for case in results:  # the rows in the order they run: forward, the loss, backward
        best, flops, names, batch = case.pop("seconds"), case.pop("flops"), case.pop("units"), case["batch"]
        wino = case.pop("winograd")
        total = sum(best.values())
        order = [(u, "forward", batch * f[0]) for u, f in zip(names, flops)] + [("softmax+loss", "forward", 0)]
        order += [(u, "backward", batch * f[1]) for u, f in reversed(list(zip(names, flops)))]
        case["rows"] = [_row(name, which, n, best[(name, which)], peak, total) for name, which, n in order]
        for r in case["rows"]:
            r["winograd"] = (r["layer"], r["pass"]) in wino
    return {
        "cpu": cpu,
        "peak_gflops": peak,
        "probe": probe,
        "results": results,
    }


def _winograd_passes(net, units, batch):
    """{(unit, pass)} whose convolution runs by Winograd (forward, or backward's dx or dw), asked of
    the backend (kernels_numba.conv_algorithms; the NumPy backend has no such algorithm)."""
    ask = getattr(net.kernels, "conv_algorithms", None)
    found = set()
    for j, (name, _, layers) in enumerate(units):
        spec = layers[0].spec
        if ask is None or spec["type"] != "conv":
            continue
        c, h, w = spec["in_shape"]
        k = spec["kernel_size"]
        how = ask((batch, h, w, c), (spec["out_shape"][0], c, k, k), spec["stride"], spec["padding"])
        if how["forward"] == "winograd":
            found.add((name, "forward"))
        if (j > 0 and how["dx"] == "winograd") or how["dw"] == "winograd":
            found.add((name, "backward"))
    return found


def _row(name, which, flops, seconds, peak, total):
    gflops = flops / seconds / 1e9 if flops and seconds > 0 else None
    return {
        "layer": name,
        "pass": which,
        "ms": 1000 * seconds,
        "mflop": flops / 1e6,
        "gflops": gflops,
        "peak_fraction": gflops / peak if gflops is not None and peak > 0 else None,
        "time_fraction": seconds / total if total > 0 else 0.0,
    }


def format_roofline(result):
    """The roofline as a text table per backend and batch."""
    lines = [
        "%s; fp32 peak %.0f GFLOP/s (%s)" % (result["cpu"], result["peak_gflops"], result["probe"]),
    ]
    for case in result["results"]:
        lines.append("")
        lines.append("%s, batch %d (best of %d passes)" % (case["backend"], case["batch"], case["passes"]))
        head = "%-18s %-10s %9s %9s %9s %8s %8s" % ("layer", "pass", "ms", "MFLOP", "GFLOP/s", "of peak", "of step")
        lines += [head, "-" * len(head)]
        for r in case["rows"]:
            lines.append(
                "%-18s %-10s %9.3f %9.2f %9s %8s %7.0f%%"
                % (
                    r["layer"],
                    r["pass"] + (" W" if r["winograd"] else ""),
                    r["ms"],
                    r["mflop"],
                    "-" if r["gflops"] is None else "%.1f" % r["gflops"],
                    "-" if r["peak_fraction"] is None else "%.0f%%" % (100 * r["peak_fraction"]),
                    100 * r["time_fraction"],
                )
            )
    if any(r["winograd"] for case in result["results"] for r in case["rows"]):
        lines.append("")
        lines.append("W: the pass runs Winograd's F(2x2, 5x5) (backward: for dx and dw); its GFLOP/s count")
        lines.append("the direct convolution's flops, of which Winograd does 36 multiply-adds in 100.")
    return "\n".join(lines)
