"""Whole training steps of the engine inside Pyodide: a measurement, not a test.

    python tests/bench_pyodide_step.py [--steps 32] [--rounds 0] [--top 25]

Ships this checkout's Python the way the static site does (build.python_bundle: cp_worker.py and
every module of ours it imports) into the file system of Pyodide 0.17.1 (npm @pyodide/pyodide:
Python 3.8, NumPy 1.17, no BLAS) in headless Chromium's main thread, then trains the default net
(convnetjs-cifar10) at batch 16 on random images with Adadelta, as static/cp_worker.py bench()
does. Prints a cProfile of --steps steps (sorted by own time, the --top lines) and the images/s
of the profiled and of an unprofiled run.

--rounds N (N > 0) times instead, round by round in the same Pyodide, two nets: "after" with
this checkout's kernels and "before" with engine/kernels_numpy.py as it was at git revision
--before (shipped beside it as engine/kernels_numpy_before.py, with engine/fast/noblas.py of
that revision as noblas_before.py if it had one, and set as every layer's kernels),
--steps steps per round and net, and prints the best and the median images/s of each. The
machine is shared: compare the columns of one run, not runs with each other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import REPO  # noqa: E402
from static_site import load_build, run_in_pyodide_page  # noqa: E402

HOME = "/cp"  # as static/worker.js

SETUP = r"""
import sys, time, json, cProfile, pstats, io
sys.path.insert(0, HOME)
import numpy as np
import engine
from engine import kernels_numpy
assert kernels_numpy.NO_BLAS
rng = np.random.RandomState(0)
X = rng.randint(0, 256, size=(512, 32, 32, 3)).astype(np.uint8)
Y = rng.randint(0, 10, size=512).astype(np.int64)

def trainer():
    net = engine.Net(engine.get_preset("convnetjs-cifar10"), backend="numpy", seed=0)
    t = engine.Trainer(net, engine.Optimizer("adadelta", weight_decay=1e-4), None)
    t.step((X[:16], Y[:16]))  # warm-up, as bench()
    return t

def run(t, steps, first=0):
    t0 = time.perf_counter()
    for s in range(steps):
        i = (16 * (first + s)) % 512
        t.step((X[i : i + 16], Y[i : i + 16]))
    return 16 * steps / (time.perf_counter() - t0)
"""

PROFILE = r"""
t = trainer()
plain = run(t, STEPS)
prof = cProfile.Profile()
prof.enable()
t0 = time.perf_counter()
run(t, STEPS, STEPS)
profiled = 16 * STEPS / (time.perf_counter() - t0)
prof.disable()
s = io.StringIO()
pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(TOP)
json.dumps({"plain": plain, "profiled": profiled, "profile": s.getvalue()})
"""

ROUNDS = r"""
from engine import kernels_numpy_before
ts = {"after": trainer(), "before": trainer()}
for layer in ts["before"].net.layers:
    layer.k = kernels_numpy_before
ts["before"].net.kernels = kernels_numpy_before
ts["before"].step((X[:16], Y[:16]))
speed = {name: [] for name in ts}
for r in range(ROUNDS):
    for name in (["after", "before"] if r % 2 == 0 else ["before", "after"]):
        speed[name].append(run(ts[name], STEPS, r * STEPS))
json.dumps({"speed": speed})
"""

PAGE = """<!doctype html><script src="/pyodide/pyodide.js"></script><script>
window.run = async (files, home, code) => {
  await loadPyodide({ indexURL: "/pyodide/" });
  await pyodide.loadPackage("numpy");
  const FS = pyodide.FS || pyodide._module.FS;
  for (const [path, source] of Object.entries(files)) {
    const full = home + "/" + path;
    FS.mkdirTree(full.slice(0, full.lastIndexOf("/")));
    FS.writeFile(full, source);
  }
  return pyodide.runPython(code);
};
</script>"""


def git_show(rev, path):
    """The file at a git revision of this checkout, or None if it did not exist there."""
    got = subprocess.run(["git", "-C", str(REPO), "show", "%s:%s" % (rev, path)], capture_output=True, text=True)
    return got.stdout if got.returncode == 0 else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--rounds", type=int, default=0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--before", default="HEAD", help="git revision of engine/kernels_numpy.py to compare with")
    args = p.parse_args()
    files = load_build().python_bundle(root=REPO)
    setup = SETUP.replace("HOME", repr(HOME))
    if args.rounds:
        before = git_show(args.before, "engine/kernels_numpy.py")
        noblas = git_show(args.before, "engine/fast/noblas.py")
        if noblas is not None:  # the no-BLAS GEMMs of that revision too
            files["engine/fast/noblas_before.py"] = noblas
            before = before.replace("from .fast import noblas as", "from .fast import noblas_before as")
        files["engine/kernels_numpy_before.py"] = before
        code = setup + ROUNDS.replace("ROUNDS", str(args.rounds))
    else:
        code = setup + PROFILE.replace("TOP", str(args.top))
    code = code.replace("STEPS", str(args.steps))
    result = run_in_pyodide_page(PAGE, "([f, h, c]) => window.run(f, h, c)", [files, HOME, code], 1_200_000)
    if args.rounds:
        for name, v in result["speed"].items():
            s = sorted(v)
            print(
                "%-12s best %.1f images/s, median %.1f (all: %s)"
                % (name, s[-1], s[len(s) // 2], ", ".join("%.0f" % x for x in v))
            )
        ratios = sorted(a / b for a, b in zip(result["speed"]["after"], result["speed"]["before"]))
        print(
            "after / before, round by round: median %.3f (quartiles %.3f, %.3f)"
            % (ratios[len(ratios) // 2], ratios[len(ratios) // 4], ratios[3 * len(ratios) // 4])
        )
    else:
        print(result["profile"])
        print("images/s: %.1f unprofiled, %.1f profiled" % (result["plain"], result["profiled"]))
    print("load average %.1f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
