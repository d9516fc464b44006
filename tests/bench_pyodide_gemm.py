"""GEMM shapes in Pyodide's BLAS-less NumPy: a measurement, not a test.

    python tests/bench_pyodide_gemm.py [--rounds 15]

Loads the npm package @pyodide/pyodide 0.17.1 (Python 3.8, NumPy 1.17, no BLAS; `npm install`)
in headless Chromium's main thread and times, interleaved round by round, the weight gradient
of each conv of the default net (convnetjs-cifar10) at batch 16 the way engine/kernels_numpy.py
can compute it: dout's (rows, F) transposed as a strided view (what OpenBLAS prefers), copied
contiguous first, or copied and summed 64 rows at a time (kernels_numpy._dw with NO_BLAS until
engine/fast/noblas.py; tests/bench_pyodide_step.py times whole steps). Prints
the best and the median ms of each, whether the first two give the same bits and how far the
blocked sum is from them. The machine is shared: compare the two columns of one run, not
runs with each other.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from static_site import run_in_pyodide_page  # noqa: E402

PYTHON = r"""
import json, time
import numpy as np
rng = np.random.RandomState(0)
out = {}
for name, M, K, F in [("conv1", 16384, 75, 16), ("conv2", 4096, 400, 20), ("conv3", 1024, 500, 20)]:
    cols = rng.randn(M, K).astype(np.float32)  # (N*Ho*Wo, HH*WW*C)
    d2 = rng.randn(M, F).astype(np.float32)  # dout as (N*Ho*Wo, F)
    def blocked(rows=64):  # kernels_numpy._dw with NO_BLAS before engine/fast/noblas.py
        dt = np.ascontiguousarray(d2.T)
        dw = dt[:, :rows].dot(cols[:rows])
        for m0 in range(rows, M, rows):
            dw += dt[:, m0 : m0 + rows].dot(cols[m0 : m0 + rows])
        return dw
    ways = {"strided d2.T": lambda: d2.T.dot(cols), "contiguous d2.T": lambda: np.ascontiguousarray(d2.T).dot(cols),
            "contiguous, 64 rows at a time": blocked}
    ref = ways["strided d2.T"]()
    same = bool(np.array_equal(ref, ways["contiguous d2.T"]()))
    blocked_err = float(np.abs(blocked() - ref).max() / np.abs(ref).max())
    times = {k: [] for k in ways}
    for _ in range(ROUNDS):
        for k, fn in ways.items():
            t = time.perf_counter()
            fn()
            times[k].append(1000 * (time.perf_counter() - t))
    out[name] = {"shape": [M, K, F], "same_bits": same, "blocked_err": blocked_err,
                 "ms": {k: [min(v), sorted(v)[len(v) // 2]] for k, v in times.items()}}
json.dumps(out)
"""

PAGE = """<!doctype html><script src="/pyodide/pyodide.js"></script><script>
window.run = async (code) => {
  await loadPyodide({ indexURL: "/pyodide/" });
  await pyodide.loadPackage("numpy");
  return pyodide.runPython(code);
};
</script>"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args()
    result = run_in_pyodide_page(
        PAGE, "(code) => window.run(code)", PYTHON.replace("ROUNDS", str(args.rounds)), 600_000
    )
    for name, r in result.items():
        (s_best, s_med), (c_best, c_med) = r["ms"]["strided d2.T"], r["ms"]["contiguous d2.T"]
        b_best, b_med = r["ms"]["contiguous, 64 rows at a time"]
        print(
            "%s dw, (F, rows) x (rows, K) = %s: strided %.1f ms (median %.1f), contiguous %.1f ms (median %.1f, "
            "same bits: %s), contiguous 64 rows at a time %.1f ms (median %.1f, relative difference %.0e): "
            "%.2fx and %.2fx the strided (medians %.2fx, %.2fx)"
            % (
                name,
                r["shape"],
                s_best,
                s_med,
                c_best,
                c_med,
                r["same_bits"],
                b_best,
                b_med,
                r["blocked_err"],
                s_best / c_best,
                s_best / b_best,
                s_med / c_med,
                s_med / b_med,
            )
        )
    print("load average %.1f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
