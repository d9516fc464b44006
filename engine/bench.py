"""`python -m engine bench`: training and inference images/s of the backends, PyTorch beside them.

Trains ConvNetJS's CIFAR-10 net (the `convnetjs-cifar10` preset) on random uint8 images of the
real shape (32x32x3, 10 classes) with the same optimizer everywhere, in one process, so that
the numbers are ratios measured under the same conditions. Each case (backend, batch) gets
warm-up steps that are not timed, then `rounds` timed windows; the rounds of all cases are
interleaved, the cases of one batch size side by side, so that a burst of load from elsewhere
on the machine hits every case alike. A case's images/s is its best window. Its ratio to
PyTorch is the median, over the rounds, of its window's rate over PyTorch's window of the same
round and batch, taken right after it: on a shared machine whose speed drifts within a
minute, the best window of one peer and the best of the other may come from different phases
of the machine, while two windows side by side see the same one. PyTorch (only if
importable) runs the same layers with `torch.set_num_threads(threads)`, in whichever layout
is fastest for it (NCHW or channels_last) and, for inference, under no_grad or
inference_mode, whichever is faster; the result says which. `--startup` also times Numba's
first run with an empty cache and a later start, each in a fresh subprocess with
NUMBA_CACHE_DIR in a temporary directory. `--cpu-time` runs every backend on one thread (in a
subprocess, OpenBLAS and OpenMP limited to one thread) and reports images per CPU-second: on
a machine busy with other work, where wall-clock rates of thread pools that spin (OpenMP,
OpenBLAS) swing widely, it varies far less, though not nothing, since the cores share caches
with the other work (docs/BENCHMARKS.md, "The bench's clocks").

    run_bench(backends, batches, seconds_per_case) -> {"cpu", "threads", "results": [...]}
    format_bench(result) -> the text table;  run(args) -> what the CLI calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from .errors import UserError
from .fast import config, numpy_blas
from .net import Net
from .optim import DEFAULTS, Optimizer
from .presets import get_preset

NET = "convnetjs-cifar10"
BACKENDS = ("numba", "numpy", "torch")
TORCH_OPTIMIZERS = ("sgd", "momentum", "adadelta")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _images(n, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8), rng.randint(0, 10, n).astype(np.int64)


# -- one case: a backend at one batch size, as a pair of step functions --------------------------
class _EngineCase:
    def __init__(self, backend, batch, optimizer):
        self.net = Net(get_preset(NET), backend=backend, seed=0)
        self.opt = Optimizer(optimizer)
        self.images, self.labels = _images(max(batch, 256))
        self.batch, self.at = batch, 0
        self.variant = {"train": backend, "infer": backend}

    def _next(self):
        i = self.at
        self.at = (i + self.batch) % (len(self.labels) - self.batch + 1)
        return self.images[i : i + self.batch], self.labels[i : i + self.batch]

    def train_step(self):
        xb, yb = self._next()
        net = self.net
        net.loss(net.prepare(xb), yb, train=True)
        self.opt.step(net.params(), net.grads(), net.decay_mults())

    def infer_step(self):
        xb, _ = self._next()
        self.net.forward(self.net.prepare(xb), train=False)


class _TorchCase:
    """The same layers in PyTorch: conv5x5 pad 2 (16) -> relu -> pool 2, conv (20), conv (20),
    each followed by relu and pool, then linear 320 -> 10 and cross-entropy."""

    def __init__(self, batch, optimizer, threads):
        import torch

        torch.set_num_threads(threads)
        self.torch, self.batch, self.at = torch, batch, 0
        images, labels = _images(max(batch, 256))
        self.images, self.labels = torch.from_numpy(images), torch.from_numpy(labels)
        self.models = {}
        for layout in ("contiguous", "channels_last"):
            torch.manual_seed(0)
            nn = torch.nn
            model = nn.Sequential(
                nn.Conv2d(3, 16, 5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(16, 20, 5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(20, 20, 5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Flatten(),
                nn.Linear(320, 10),
            )
            if layout == "channels_last":
                model = model.to(memory_format=torch.channels_last)
            self.models[layout] = (model, self._optimizer(model, optimizer))
        self.variant = {"train": "contiguous", "infer": "contiguous+no_grad"}

    def _optimizer(self, model, name):
        torch, hyper = self.torch, DEFAULTS[name]
        if name == "adadelta":
            return torch.optim.Adadelta(model.parameters(), lr=hyper["lr"], rho=hyper["rho"], eps=hyper["eps"])
        return torch.optim.SGD(model.parameters(), lr=hyper["lr"], momentum=hyper.get("momentum", 0.0))

    def _next(self, layout):
        i = self.at
        self.at = (i + self.batch) % (len(self.labels) - self.batch + 1)
        x = self.images[i : i + self.batch].permute(0, 3, 1, 2).float().mul_(1 / 255.0).sub_(0.5)
        fmt = self.torch.channels_last if layout == "channels_last" else self.torch.contiguous_format
        return x.contiguous(memory_format=fmt), self.labels[i : i + self.batch]

    def train_step(self, layout=None):
        model, opt = self.models[layout or self.variant["train"]]
        x, y = self._next(layout or self.variant["train"])
        opt.zero_grad(set_to_none=True)
        loss = self.torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    def infer_step(self, variant=None):
        layout, mode = (variant or self.variant["infer"]).split("+")
        x, _ = self._next(layout)
        with self.torch.inference_mode() if mode == "inference_mode" else self.torch.no_grad():
            self.models[layout][0](x).argmax(1)

    def choose(self, seconds):
        """Pick PyTorch's fastest layout (and inference mode) with a short trial of each."""
        for layout in self.models:  # first calls allocate and pick kernels: not part of a trial
            for _ in range(2):
                self.train_step(layout)
                self.infer_step(layout + "+no_grad")
                self.infer_step(layout + "+inference_mode")
        train = {v: _rate(lambda v=v: self.train_step(v), self.batch, seconds) for v in self.models}
        self.variant["train"] = max(train, key=train.get)
        infer = {"%s+%s" % (v, m): 0.0 for v in self.models for m in ("no_grad", "inference_mode")}
        for v in infer:
            infer[v] = _rate(lambda v=v: self.infer_step(v), self.batch, seconds)
        self.variant["infer"] = max(infer, key=infer.get)


_CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _rate(step, batch, seconds, min_steps=2):
    """Images per second (per CPU-second with --cpu-time) of `step` over a window of about
    `seconds` of wall time."""
    n, w0, t0 = 0, time.perf_counter(), _clock()
    while True:
        step()
        n += 1
        if time.perf_counter() - w0 >= seconds and n >= min_steps:
            return n * batch / max(_clock() - t0, 1e-9)


def run_bench(
    backends=BACKENDS,
    batches=(1, 4, 16, 64),
    seconds_per_case=2.0,
    threads=None,
    optimizer="adadelta",
    rounds=5,
    startup=False,
    clock="wall",
):
    """Measure every (backend, batch); see the module docstring. Returns a JSON-able dict.

    clock="cpu" divides by the process's CPU time instead of wall time: meant for one thread
    per backend (see cpu_time_bench), where it is steady on a machine busy with other work.
    """
    global _clock
    _clock = _CLOCK[clock]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError("unknown backend(s) %s — choose from %s" % (", ".join(unknown), ", ".join(BACKENDS)))
    if optimizer not in TORCH_OPTIMIZERS:
        raise ValueError("the bench runs %s, not %r" % (", ".join(TORCH_OPTIMIZERS), optimizer))
    if threads:
        config.THREADS = threads
    elif clock == "cpu":  # one thread per backend (cpu_time_bench), PyTorch's too: its other
        threads = 1  # threads' CPU time would count against it, whatever the backends asked
    elif "numba" in backends:
        from .fast._numba_plans import _threads

        threads = _threads()
    threads = threads or os.cpu_count() or 1
    result = {
        "cpu": cpu_name(),
        "threads": threads,
        "clock": clock,
        "net": NET,
        "optimizer": optimizer,
        "seconds_per_case": seconds_per_case,
        "rounds": rounds,
        "versions": {"numpy": np.__version__},
        "env": {
            k: os.environ[k]
            for k in (
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS",
            )
            if k in os.environ
        },
        # the kernels OpenBLAS picked set the NumPy backend's figures: name them beside them
        "blas": numpy_blas(),
    }
    cases = []
    for backend in backends:
        for batch in batches:
            if backend == "torch":
                try:
                    import torch
                except ImportError:
                    result["torch_skipped"] = "torch is not installed"
                    break
                result["versions"]["torch"] = torch.__version__
                case = _TorchCase(batch, optimizer, threads)
                case.choose(min(0.3, seconds_per_case / 4))
            else:
                if backend == "numba":
                    import numba

                    result["versions"]["numba"] = numba.__version__
                case = _EngineCase(backend, batch, optimizer)
            for _ in range(3):  # warm-up, untimed: compiling, caches, allocator
                case.train_step()
                case.infer_step()
            if backend == "numba":  # and until its kernels run on Numba's pool (engine/fast/parallel.py)
                from .fast.kernels_numba import wait_compiled

                deadline = time.monotonic() + 300
                while not wait_compiled(0) and time.monotonic() < deadline:
                    case.train_step()
                    case.infer_step()
            cases.append({"backend": backend, "batch": batch, "case": case, "train": [], "infer": []})
    window = seconds_per_case / rounds / 2
    cases.sort(key=lambda c: (c["batch"], c["backend"] == "torch"))  # PyTorch right after its peers
    for _ in range(rounds):
        for kind in ("train", "infer"):
            for c in cases:
                step = c["case"].train_step if kind == "train" else c["case"].infer_step
                c[kind].append(_rate(step, c["batch"], window))
    torch_of = {c["batch"]: c for c in cases if c["backend"] == "torch"}
    result["results"] = []
    for c in sorted(cases, key=lambda c: (BACKENDS.index(c["backend"]), c["batch"])):
        row = {
            "backend": c["backend"],
            "batch": c["batch"],
            "train_images_per_s": round(max(c["train"]), 1),
            "infer_images_per_s": round(max(c["infer"]), 1),
            "variant": c["case"].variant,
        }
        t = torch_of.get(c["batch"])
        if t is not None and c is not t:
            for kind in ("train", "infer"):
                row[kind + "_ratio_to_torch"] = round(paired_ratio(c[kind], t[kind]), 3)
        result["results"].append(row)
    if startup:
        result.update(measure_startup())
    return result


def paired_ratio(rates, peer_rates):
    """The median over rounds of rates[i] / peer_rates[i] (windows taken side by side)."""
    ratios = sorted(a / b for a, b in zip(rates, peer_rates) if b > 0)
    if not ratios:
        return float("nan")
    mid = len(ratios) // 2
    return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2


# -- Numba's first run and later starts, in fresh processes --------------------------------------
_STARTUP_SCRIPT = """
import time
t0 = time.perf_counter()
import numpy as np
from engine import Net, Optimizer, get_preset
net = Net(get_preset("convnetjs-cifar10"), backend="numba", seed=0)
opt = Optimizer("adadelta")
rng = np.random.RandomState(0)
x = net.prepare(rng.randint(0, 256, (16, 32, 32, 3)).astype(np.uint8))
net.loss(x, rng.randint(0, 10, 16))
opt.step(net.params(), net.grads(), net.decay_mults())
net.forward(x[:1])
first = time.perf_counter() - t0
from engine.fast.kernels_numba import wait_compiled  # noqa: E402
while not wait_compiled(0):  # train on while the pool's wrappers compile (True at once without the pool)
    net.loss(x, rng.randint(0, 10, 16))
print(first, time.perf_counter() - t0)
"""


def measure_startup():
    """Seconds from `import engine` to a finished training step and a 1-image forward on the
    Numba backend, with an empty cache (compiling everything) and then with that cache; and,
    training on, until the kernels run on Numba's pool (engine/fast/parallel.py compiles its
    wrappers in the background)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory(prefix="convnet-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        times = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _STARTUP_SCRIPT], env=env, cwd=root, capture_output=True, text=True, check=True
            )
            times.append([float(v) for v in out.stdout.strip().splitlines()[-1].split()])
    return {
        "compile_seconds_cold": round(times[0][0], 2),
        "start_seconds_warm": round(times[1][0], 2),
        "pool_ready_seconds_cold": round(times[0][1], 2),
        "pool_ready_seconds_warm": round(times[1][1], 2),
    }


# -- text output and the CLI ------------------------------------------------------------------
def format_bench(result):
    """The table: images/s per batch and backend, and each engine backend's ratio to PyTorch."""
    rows = {(r["backend"], r["batch"]): r for r in result["results"]}
    backends = [b for b in BACKENDS if any(k[0] == b for k in rows)]
    batches = sorted({k[1] for k in rows})
    ratios = [b for b in backends if b != "torch"] if "torch" in backends else []
    unit = "images per CPU-second, one thread each" if result.get("clock") == "cpu" else "images/s"
    lines = [
        "%s, %s, %s, %d threads — %s (best of %d windows; x torch: median of paired windows)"
        % (
            result.get("net", NET),
            result.get("optimizer", ""),
            result["cpu"],
            result["threads"],
            unit,
            result.get("rounds", 3),
        )
    ]
    for kind, key in (("train", "train_images_per_s"), ("infer", "infer_images_per_s")):
        head = "%-6s %5s" % (kind, "batch") + "".join("%10s" % b for b in backends)
        head += "".join("%12s" % ("%s/torch" % b) for b in ratios)
        lines += ["", head]
        for batch in batches:
            line = "%-6s %5d" % ("", batch)
            for b in backends:
                r = rows.get((b, batch))
                line += "%10.0f" % r[key] if r else "%10s" % "-"
            t = rows.get(("torch", batch))
            for b in ratios:
                r = rows.get((b, batch))
                ratio = r.get(kind + "_ratio_to_torch") if r else None
                if ratio is None and r and t and t[key]:  # a result from before paired ratios
                    ratio = r[key] / t[key]
                line += "%11.2fx" % ratio if ratio is not None else "%12s" % "-"
            lines.append(line)
    torch_rows = [r for r in result["results"] if r["backend"] == "torch"]
    if torch_rows:
        lines += [
            "",
            "torch's fastest variant per batch: "
            + ", ".join(
                "%d: train %s, infer %s" % (r["batch"], r["variant"]["train"], r["variant"]["infer"])
                for r in torch_rows
            ),
        ]
    if result.get("torch_skipped"):
        lines += ["", "torch skipped: " + result["torch_skipped"]]
    if "compile_seconds_cold" in result:
        lines += [
            "",
            "numba first run (empty cache, compiling): %.1f s; later starts: %.1f s"
            % (result["compile_seconds_cold"], result["start_seconds_warm"]),
            "kernels on Numba's thread pool (its wrappers compiled in the background, training on"
            " meanwhile) after: %.1f s; later starts: %.1f s"
            % (result["pool_ready_seconds_cold"], result["pool_ready_seconds_warm"]),
        ]
    if result.get("env"):
        lines += ["environment: " + " ".join("%s=%s" % kv for kv in sorted(result["env"].items()))]
    if result.get("blas"):
        lines += ["NumPy's BLAS: " + result["blas"]]
    return "\n".join(lines)


def _int_list(text):
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ValueError("--batches takes positive integers separated by commas, got %r" % (text,))
    return values


def cpu_time_bench(backends, batches, seconds_per_case=2.0):
    """The bench with one thread per backend, in images per CPU-second, run in a subprocess
    (OpenBLAS and OpenMP read their thread counts when they load). On a machine busy with
    other work, wall-clock rates of multi-threaded code swing by 10x (spinning threads wait
    for a core someone else holds); CPU time of single-threaded code stays put."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CONVNET_NUMBA_PARALLEL="0"
    )
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [
        sys.executable,
        "-m",
        "engine.bench",
        "--json",
        "--clock",
        "cpu",
        "--backends",
        ",".join(backends),
        "--batches",
        ",".join(map(str, batches)),
        "--seconds",
        str(seconds_per_case),
    ]
    out = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_arguments(parser):
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backends", default="numba,numpy,torch")
    parser.add_argument("--batches", default="1,4,16,64")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per case")
    parser.add_argument("--rounds", type=int, default=5, help="timed windows per case (the seconds split among them)")
    parser.add_argument("--startup", action="store_true", help="also time Numba's cold compile and warm start")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="one thread per backend, images per CPU-second: steady on a busy machine",
    )
    parser.add_argument("--clock", choices=sorted(_CLOCK), default="wall", help=argparse.SUPPRESS)
    parser.add_argument(
        "--roofline",
        action="store_true",
        help="per layer and pass: GFLOP/s and its share of the fp32 peak measured in the same run (engine/roofline.py)",
    )


def run(args):
    """Run the bench for parsed CLI args (json, backends, batches, seconds, startup, cpu_time)
    and print it; returns the result dict."""
    try:
        batches = _int_list(args.batches)
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        seconds = getattr(args, "seconds", 2.0)
        if getattr(args, "rounds", 5) < 1:
            raise ValueError("--rounds takes a positive integer, got %r" % (args.rounds,))
        if getattr(args, "roofline", False):
            from .roofline import format_roofline, run_roofline

            engines = [b for b in backends if b != "torch"]
            unknown = [b for b in engines if b not in BACKENDS]
            if unknown or not engines:
                raise ValueError("--roofline times the engine's backends (numba, numpy), got %s" % args.backends)
            result = run_roofline(engines, batches, seconds, cpu=cpu_name())
            print(json.dumps(result) if args.json else format_roofline(result))
            return result
        if getattr(args, "cpu_time", False):
            unknown = [b for b in backends if b not in BACKENDS]
            if unknown:
                raise ValueError("unknown backend(s) %s — choose from %s" % (", ".join(unknown), ", ".join(BACKENDS)))
            result = cpu_time_bench(backends, batches, seconds)
            if getattr(args, "startup", False):
                result.update(measure_startup())
        else:
            result = run_bench(
                backends,
                batches,
                seconds_per_case=seconds,
                threads=getattr(args, "threads", None),
                rounds=getattr(args, "rounds", 5),
                startup=getattr(args, "startup", False),
                clock=getattr(args, "clock", "wall"),
            )
    except ValueError as e:
        raise UserError("bench: %s (e.g. --backends numba,numpy,torch --batches 1,4,16,64)" % e) from None
    print(json.dumps(result) if args.json else format_bench(result))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m engine.bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
