"""engine/fast/compiled_pass.py: a Numba net's forward and backward as a few compiled calls
give the bits of its layers run one by one (docs/ARCHITECTURE.md, "Speed")."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from engine import Net  # noqa: E402
from engine.fast import _numba_plans, config, parallel  # noqa: E402
from engine.optim import Optimizer  # noqa: E402
from engine.presets import get_preset  # noqa: E402

MIXED = [  # every kind of layer the program compiles, and Python layers before, between and after
    {"type": "input", "shape": [12, 12, 2]},
    {"type": "dropout", "p": 0.25},
    {"type": "conv", "out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "tanh"},
    {"type": "pool", "kernel_size": 3, "stride": 1},
    {"type": "conv", "out_channels": 6, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "sigmoid"},
    {"type": "fc", "out_features": 7, "activation": "relu"},
    {"type": "relu"},
    {"type": "fc", "out_features": 3},
    {"type": "softmax", "num_classes": 3},
]


@pytest.fixture(autouse=True)
def _compile_now(monkeypatch):
    monkeypatch.setattr(parallel, "WANTED", 1)  # run_ops and the wrappers compile at their first call


def _train(spec, backend_compiled, batch, steps, threads, dtype=np.float32):
    """`steps` training steps (adam) with the compiled pass on or off: the net, and per step
    (loss, probs, acts, grads)."""
    config.COMPILED_PASS = backend_compiled
    old = _numba_plans._threads
    _numba_plans._threads = lambda: threads
    try:
        net = Net(spec, backend="numba", seed=3, dtype=dtype)
        opt = Optimizer("adam", lr=0.01)
        h, w, c = net.input_shape
        rng = np.random.RandomState(batch)
        seen = []
        for _ in range(steps):
            x = net.prepare(rng.randint(0, 256, (batch, h, w, c)).astype(np.uint8))
            y = rng.randint(0, net.num_classes, batch)
            for layer in net.layers:  # each run draws the same dropout masks
                if layer.type == "dropout":
                    layer.rng = np.random.RandomState(len(seen))
            loss, probs = net.loss(x, y)
            assert (net._pass is not None) == backend_compiled, "the compiled pass did not run"
            acts = [None if a is None else a.copy() for a in net.acts]
            seen.append((loss, probs.copy(), acts, net.grads().flat.copy()))
            opt.step(net.params(), net.grads(), net.decay_mults())
        return net, seen
    finally:
        config.COMPILED_PASS = True
        _numba_plans._threads = old


def _python(code):
    """What a fresh Python process running code prints, split in words (it must exit 0)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def _same(a, b):
    for (la, pa, aa, ga), (lb, pb, ab, gb) in zip(a, b):
        assert la == lb
        assert np.array_equal(pa, pb)
        assert np.array_equal(ga, gb)
        assert len(aa) == len(ab)
        for x, y in zip(aa, ab):
            assert (x is None) == (y is None)
            assert x is None or (x.shape == y.shape and np.array_equal(x, y))


@pytest.mark.parametrize("batch", [1, 2, 4, 8, 16])
def test_cifar_net_same_bits_as_its_layers(batch):
    """Every plan the CIFAR-10 net takes (direct, Winograd, dx tiles split by rows, dx as a
    convolution) on two threads: three steps, every loss, probability, activation and gradient."""
    spec = get_preset("convnetjs-cifar10")
    _, layers = _train(spec, False, batch, 3, 2)
    net, compiled = _train(spec, True, batch, 3, 2)
    _same(layers, compiled)
    assert [s[0] == "seg" for s in net._pass.program.steps] == [True, False, False]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 3])
def test_mixed_layers_same_bits(batch, threads):
    _, layers = _train(MIXED, False, batch, 2, threads)
    net, compiled = _train(MIXED, True, batch, 2, threads)
    _same(layers, compiled)
    kinds = [s[0] for s in net._pass.program.steps]
    assert kinds == ["py", "seg", "py", "seg", "py", "py"]  # dropout, conv..sigmoid, fc+relu, relu, fc, softmax


def test_float64_same_bits():
    spec = get_preset("convnetjs-cifar10")
    _, layers = _train(spec, False, 2, 2, 2, np.float64)
    _, compiled = _train(spec, True, 2, 2, 2, np.float64)
    _same(layers, compiled)


def test_act_grads_after_a_compiled_forward():
    """A backward that keeps act_grads (the app's probe, saliency) after a compiled forward:
    the layers get their caches back and give the gradients the layers' own forward gives."""
    spec = get_preset("convnetjs-cifar10")
    image = np.random.RandomState(0).randint(0, 256, (32, 32, 3)).astype(np.uint8)
    out = {}
    for compiled in (False, True):
        config.COMPILED_PASS = compiled
        try:
            net = Net(spec, backend="numba", seed=1)
            net.forward(net.prepare(image), train=True)
            assert (net._pass is not None) == compiled
            net.backward(np.array([4]), keep_act_grads=True)
            out[compiled] = ([g.copy() for g in net.act_grads], net.grads().flat.copy(), net.saliency(image, 2))
        finally:
            config.COMPILED_PASS = True
    for a, b in zip(out[False][0], out[True][0]):
        assert np.array_equal(a, b)
    assert np.array_equal(out[False][1], out[True][1])
    assert np.array_equal(out[False][2], out[True][2])


def test_a_replaced_weight_is_what_the_next_pass_uses():
    """An array put in a layer's place (not written into) makes the net bind its buffers
    again: the program of the old buffers must not run."""
    spec = get_preset("convnetjs-cifar10")
    net = Net(spec, backend="numba", seed=0)
    x = net.prepare(np.full((1, 32, 32, 3), 100, np.uint8))
    net.forward(x)
    assert net._pass is not None
    conv = net.layers[1]
    conv.param["weight"] = conv.param["weight"] * 2  # a new array
    twin = Net(spec, backend="numba", seed=0)
    twin.layers[1].param["weight"][...] *= 2
    assert np.array_equal(net.forward(x), twin.forward(x))
    assert net._pass is not None


def test_a_wrong_input_gets_the_layers_error():
    """An input of another shape than the net's runs the layers, which say what is wrong."""
    messages = []
    for compiled in (False, True):
        config.COMPILED_PASS = compiled
        try:
            net = Net(get_preset("convnetjs-cifar10"), backend="numba", seed=0)
            with pytest.raises(ValueError) as error:
                net.forward(np.zeros((1, 28, 28, 3), np.float32))
            messages.append(str(error.value))
            assert net._pass is None
        finally:
            config.COMPILED_PASS = True
    assert messages[0] == messages[1]


def test_run_ops_cache_is_stamped_with_every_kernel_file(tmp_path):
    """run_ops calls other files' kernels: its cache must go stale when any of them changes."""
    import shutil

    from engine.fast import _numba_pass

    if _numba_pass.CACHED:
        assert isinstance(_numba_pass.run_ops._cache._impl.locator, _numba_pass._Stamped)
    folder = __import__("pathlib").Path(_numba_pass.__file__).parent
    for path in folder.glob("_numba_*.py"):
        shutil.copy(path, tmp_path / path.name)
    before = _numba_pass.kernels_stamp(tmp_path)
    (tmp_path / "notes.py").write_text("# not a kernel file\n")
    assert _numba_pass.kernels_stamp(tmp_path) == before
    with open(tmp_path / "_numba_pool.py", "a") as f:
        f.write("# an edit\n")
    assert _numba_pass.kernels_stamp(tmp_path) != before


def test_a_process_whose_first_numba_call_is_the_cached_pass():
    """run_ops loaded from Numba's cache starts no thread pool; its first parallel loop in a
    process where nothing else had started one crashed it (SIGSEGV): Programs starts it."""
    _train(get_preset("convnetjs-cifar10"), True, 1, 1, 2)  # compiled here: in the cache now
    code = (
        "import numpy as np\n"
        "from engine.fast import parallel\n"
        "parallel.WANTED = 1\n"
        "from engine import Net, get_preset\n"
        "net = Net(get_preset('convnetjs-cifar10'), backend='numba', seed=0)\n"
        "loss, _ = net.loss(net.prepare(np.zeros((1, 32, 32, 3), np.uint8)), np.array([3]))\n"
        "print(net._pass is not None, np.isfinite(loss))\n"
    )
    assert _python(code) == ["True", "True"]


def test_numba_pool_never_started_from_the_training_thread():
    """Started from the thread that trains, Numba's pool left PyTorch's threads in the same
    process 13x slower (the bench's peer): the engine starts it from its compiling thread."""
    code = (
        "import threading\n"
        "import numpy as np\n"
        "from numba.np.ufunc import parallel as pool\n"
        "seen, real = [], pool._launch_threads\n"
        "def spy():\n"
        "    seen.append(threading.current_thread() is threading.main_thread())\n"
        "    return real()\n"
        "pool._launch_threads = spy\n"
        "from engine.fast import parallel\n"
        "parallel.WANTED = 1\n"
        "from engine import Net, Optimizer, get_preset\n"
        "net, opt = Net(get_preset('convnetjs-cifar10'), backend='numba', seed=0), Optimizer('adadelta')\n"
        "for _ in range(3):\n"
        "    net.loss(net.prepare(np.zeros((1, 32, 32, 3), np.uint8)), np.array([3]))\n"
        "    opt.step(net.params(), net.grads(), net.decay_mults())\n"
        "print(net._pass is not None, pool._is_initialized, len(seen) > 0, any(seen))\n"
    )
    printed = _python(code)
    if parallel.LAYER is None:
        return  # no Numba pool here: nothing to start
    assert printed == ["True", "True", "True", "False"]
