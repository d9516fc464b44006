"""A NumPy training step by shares of the batch (engine/fast/batch_shares.py): the same loss,
probabilities, gradients and activations as the step run whole; the same bits under any cap
of the threads; twins rebuilt when the net's layers change. OpenBLAS is replaced by a fake, so
these run whatever BLAS NumPy has; no timing here.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine import Net, Optimizer, get_preset
from engine.fast import batch_shares, numpy_threads, workers

NET = "convnetjs-cifar10"


@pytest.fixture
def on_threads(monkeypatch):
    """numpy_threads with T threads and a fake OpenBLAS (its set_num_threads calls recorded)."""
    calls = []

    def use(T):
        monkeypatch.setattr(
            numpy_threads, "_state", {"threads": T, "blas": (calls.append, lambda: 2), "blas_off": False}
        )
        return calls

    return use


def batch(n, seed=1):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8), rng.randint(0, 10, n)


def step(net, images, labels, whole=False, monkeypatch=None):
    if whole:
        monkeypatch.setattr(batch_shares, "shares", lambda *args: None)
    loss, probs = net.loss(net.prepare(images), labels, train=True)
    if whole:
        monkeypatch.undo()
    return loss, probs, {k: v.copy() for k, v in net.grads().items()}


def test_only_the_numpy_backend_on_threads_cuts_a_training_step(on_threads):
    net = Net(get_preset(NET), backend="numpy")
    on_threads(1)
    assert batch_shares.shares(net, 64, True, False) is None  # one thread: whole
    on_threads(2)
    assert batch_shares.shares(net, 64, True, False) == [(0, 32), (32, 64)]
    assert batch_shares.shares(net, 33, True, False) == [(0, 16), (16, 33)]
    assert batch_shares.shares(net, 2 * batch_shares.MIN_IMAGES - 1, True, False) is None  # too few images
    assert batch_shares.shares(net, 64, False, False) is None  # inference
    assert batch_shares.shares(net, 64, True, True) is None  # act_grads: the probe's pass
    on_threads(3)
    assert batch_shares.shares(net, 64, True, False) == [(0, 21), (21, 42), (42, 64)]


def test_a_step_by_shares_is_the_step_run_whole(on_threads, monkeypatch):
    calls = on_threads(2)
    images, labels = batch(37)  # shares of 18 and 19
    shared, whole = Net(get_preset(NET), backend="numpy"), Net(get_preset(NET), backend="numpy")
    loss, probs, grads = step(shared, images, labels)
    assert calls == [1]  # OpenBLAS set to one thread before the shares ran side by side
    assert len(shared._twins[1]) == 1
    loss0, probs0, grads0 = step(whole, images, labels, whole=True, monkeypatch=monkeypatch)
    assert abs(loss - loss0) <= 1e-6 * abs(loss0)
    np.testing.assert_allclose(probs, probs0, rtol=1e-5, atol=1e-7)
    for key in grads0:
        scale = np.abs(grads0[key]).max()
        np.testing.assert_allclose(grads[key], grads0[key], rtol=1e-4, atol=1e-6 * scale, err_msg=key)
    # every layer's output, over the whole batch, joined from the shares on first use
    assert len(shared.acts) == len(whole.acts)
    for mine, its in zip(shared.acts, whole.acts):
        assert (mine is None) == (its is None)
        if its is not None:
            assert mine.shape == its.shape
            np.testing.assert_allclose(mine, its, rtol=1e-5, atol=1e-6)
    # the optimizer's step moves both nets alike
    for net in (shared, whole):
        Optimizer("sgd", lr=0.1).step(net.params(), net.grads(), net.decay_mults())
    for key, p in whole.params().items():
        np.testing.assert_allclose(shared.params()[key], p, rtol=1e-5, atol=1e-6, err_msg=key)


def test_a_cap_of_one_thread_runs_the_shares_in_turn_with_the_same_bits(on_threads):
    on_threads(2)
    images, labels = batch(32)  # two shares of 16
    free, capped = Net(get_preset(NET), backend="numpy"), Net(get_preset(NET), backend="numpy")
    seen = []
    real = workers.workers.run
    loss, probs, grads = step(free, images, labels)
    workers.cap_threads(1)
    try:
        workers.workers.run = lambda calls, T: seen.append(threading.get_ident()) or real(calls, T)
        loss1, probs1, grads1 = step(capped, images, labels)
    finally:
        workers.workers.run = real
        workers.cap_threads(None)
    assert seen == []  # no thread but the caller's
    assert loss == loss1 and np.array_equal(probs, probs1)
    for key in grads:
        assert np.array_equal(grads[key], grads1[key]), key


def test_twins_follow_the_net_when_its_layers_or_parameters_change(on_threads):
    on_threads(2)
    images, labels = batch(32)
    net = Net(get_preset(NET), backend="numpy")
    step(net, images, labels)
    first = net._twins[1][0]
    assert first.layers[1].param is net.layers[1].param  # the net's own weights, not a copy
    assert first._params is None  # and no buffer of its own beside them
    step(net, images, labels)
    assert net._twins[1][0] is first  # kept from step to step
    net.load_params({k: v * 0.5 for k, v in net.params().items()})  # written into: the same arrays
    step(net, images, labels)
    assert net._twins[1][0] is first
    net.layers[1].param["weight"] = net.layers[1].param["weight"].copy()  # replaced: Net binds again
    net.params()
    loss, _, grads = step(net, images, labels)
    assert net._twins[1][0] is not first and net._twins[1][0].layers[1].param is net.layers[1].param
    twin = Net(get_preset(NET), backend="numpy")
    twin.load_params(net.params())
    on_threads(1)
    loss1, _, grads1 = step(twin, images, labels)
    assert abs(loss - loss1) <= 1e-6 * abs(loss1)
    np.testing.assert_allclose(grads["conv1.weight"], grads1["conv1.weight"], rtol=1e-4, atol=1e-7)


def test_a_net_with_dropout_trains_by_shares_the_same_way_each_run(on_threads):
    on_threads(2)
    spec = get_preset(NET)
    spec = spec[:-1] + [{"type": "dropout", "p": 0.5}] + spec[-1:]
    images, labels = batch(32)
    runs = []
    for _ in range(2):
        net = Net(spec, backend="numpy", seed=3)
        runs.append([step(net, images, labels)[0] for _ in range(3)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3  # fresh masks each step


def test_alone_keeps_a_threads_kernels_on_it():
    numpy_threads.threads()
    outer = numpy_threads.threads()
    seen = []

    def other():
        seen.append(numpy_threads.threads())

    with numpy_threads.alone():
        assert numpy_threads.threads() == 1
        with numpy_threads.alone():
            assert numpy_threads.threads() == 1
        assert numpy_threads.threads() == 1
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert numpy_threads.threads() == outer and seen == [outer]  # another thread: not alone
