"""The summary's "memory for a training step" is a promise: what tracemalloc measures of a real
step of the default net at batch 64 on either backend lies within 15% of it (docs/
ARCHITECTURE.md, "Memory of a training step"). NumPy reports its allocations to tracemalloc,
so the count is NumPy's own, not a guess from the process's RSS; no timing is involved.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from engine import Net, Optimizer, get_preset, summarize

NET, BATCH, OPTIMIZER = "convnetjs-cifar10", 64, "adadelta"


@pytest.fixture(scope="module", params=["numpy", "numba"])
def measured(request):
    """(backend, bytes held between two steps, peak bytes during a step) of the default net,
    counted from before the net is built: weights, gradients and optimizer state included.
    Numba compiles on a first net outside the count (its compiler's memory is not the step's),
    the compiled pass (engine/fast/compiled_pass.py) included, which the step then runs;
    what its kernels allocate inside compiled code (padded copies, per-thread blocks) is scratch
    that tracemalloc does not see and the summary leaves out."""
    backend = request.param
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc is already tracing in this process")
    spec = get_preset(NET)
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (BATCH, 32, 32, 3)).astype(np.uint8)
    labels = rng.randint(0, 10, BATCH)

    def step(net, opt):
        net.loss(net.prepare(images), labels, train=True)
        opt.step(net.params(), net.grads(), net.decay_mults())

    if backend == "numba":  # compiled now, run_ops too: the step measured is the compiled pass
        from engine.fast import parallel

        wanted, parallel.WANTED = parallel.WANTED, 1
        try:
            step(Net(spec, backend=backend, seed=0), Optimizer(OPTIMIZER))
        finally:
            parallel.WANTED = wanted
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        net = Net(spec, backend=backend, seed=0)
        opt = Optimizer(OPTIMIZER)
        step(net, opt)  # the optimizer's state is made on its first step
        tracemalloc.reset_peak()
        step(net, opt)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if backend == "numba":
        assert net._pass is not None, "the step ran the layers one by one, not the compiled pass"
    return backend, held - base, peak - base


def test_a_training_step_stays_within_15_percent_of_the_summary(measured):
    backend, _, peak = measured
    estimate = summarize(get_preset(NET), batch=BATCH, optimizer=OPTIMIZER, backend=backend)["memory"]["total"]
    assert abs(peak - estimate) <= 0.15 * estimate, "%s: measured %d bytes, the summary says %d" % (
        backend,
        peak,
        estimate,
    )


def test_between_steps_the_net_holds_what_the_summary_counts(measured):
    """Between steps the net keeps its activations (one array per conv+ReLU pair), the
    backend's saved arrays, parameters, gradients and optimizer state: the summary's figures
    less the transient gradients. A pair that kept its pre-activation too would hold ~9% more
    here."""
    backend, held, _ = measured
    m = summarize(get_preset(NET), batch=BATCH, optimizer=OPTIMIZER, backend=backend)["memory"]
    kept = m["total"] - m["activation_grads"]
    assert abs(held - kept) <= 0.05 * kept, "held %d bytes, the summary counts %d" % (held, kept)


def test_the_summary_knows_where_numba_convolves_for_dx():
    from engine.fast import config
    from engine.step_memory import DX_BY_CONV_PIXELS

    assert DX_BY_CONV_PIXELS == config.MIN_DX_BY_CONV_PIXELS


def test_the_pages_memory_line_adds_up_to_the_summarys_total():
    """The app's and the static site's memory line (app/core/fragments.py): the parts it shows
    and its scratch add up to the total, and the layer table shows a pair as one row."""
    import re

    from app.core.fragments import layer_table_html, memory_html
    from engine import human_bytes

    s = summarize(get_preset("vgg16"), batch=1, optimizer="sgd")
    m = s["memory"]
    text = memory_html(m)
    shown = dict(re.findall(r"<span>([a-z ]+) <b>([^<]+)</b></span>", text))
    held = m["activations"] + m["workspace"] + m["params"] + m["param_grads"] + m["optimizer_state"]
    assert shown["scratch"] == human_bytes(m["total"] - held) and shown["total"] == human_bytes(m["total"])
    assert shown["workspace"] == human_bytes(m["workspace"]) and "numpy backend" in text
    table = layer_table_html(s)
    assert table.count("conv+relu") == 13 and table.count("fc+relu") == 2 and ">relu1<" not in table
