"""Behavioural checks of Net and Trainer, in the spirit of ConvNetJS's specs.

Probabilities sum to 1, one SGD step raises the true class's probability, a tiny batch is
overfit to 100%, a seed fixes everything, numba == numpy for a whole training step, and the
Trainer stops on divergence with the weights from before the step. Small nets, fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import Net, Optimizer, Trainer, get_preset

SMALL = [
    {"type": "input", "shape": [8, 8, 3]},
    {"type": "conv", "out_channels": 8, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "fc", "out_features": 16, "activation": "tanh"},
    {"type": "dropout", "p": 0.2},
    {"type": "fc", "out_features": 10, "activation": "sigmoid"},
    {"type": "softmax", "num_classes": 10},
]


def batch(n, shape, seed, classes=10):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n,) + tuple(shape)).astype(np.uint8), rng.randint(0, classes, n)


def copy_params(net):
    return {k: v.copy() for k, v in net.params().items()}


@pytest.mark.parametrize("net_name", ["convnetjs-cifar10", "tiny-vgg"])
def test_probabilities_sum_to_one(backend, net_name):
    net = Net(get_preset(net_name), backend=backend, seed=1)
    images, _ = batch(5, net.input_shape, seed=2)
    probs = net.predict(images)
    assert probs.shape == (5, 10) and probs.dtype == np.float32
    assert (probs >= 0).all() and (probs <= 1).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(net.predict(images[0]), probs[:1], rtol=1e-5, atol=1e-7)  # one HxWxC image too


def test_one_sgd_step_raises_the_true_class_probability(backend):
    net = Net(get_preset("convnetjs-cifar10"), backend=backend, seed=3)
    opt = Optimizer("sgd", lr=0.01)
    for label in range(3):
        image, _ = batch(1, net.input_shape, seed=10 + label)
        x = net.prepare(image)
        before = net.forward(x)[0, label]
        net.loss(x, [label])
        opt.step(net.params(), net.grads(), net.decay_mults())
        after = net.forward(x)[0, label]
        assert after > before, "class %d: %.6f -> %.6f" % (label, before, after)


def test_a_tiny_batch_overfits_to_100_percent(backend):
    net = Net(SMALL, backend=backend, seed=0)
    trainer = Trainer(net, Optimizer("adam", lr=0.01), batches=None)
    images, labels = batch(10, net.input_shape, seed=4)
    for _ in range(300):
        event = trainer.step((images, labels))
        assert event["event"] == "step"
        if net.accuracy(images, labels) == 1.0:
            break
    assert net.accuracy(images, labels) == 1.0, "not overfit after %d steps (loss %.3f)" % (
        trainer.steps,
        event["loss"],
    )


def train_a_little(backend, seed, steps=3):
    net = Net(SMALL, backend=backend, seed=seed)
    trainer = Trainer(net, Optimizer("momentum", lr=0.05, weight_decay=1e-3), batches=None)
    losses = [trainer.step(batch(6, net.input_shape, seed=20 + i))["loss"] for i in range(steps)]
    return net, losses


def test_the_same_seed_gives_identical_weights_and_losses(backend):
    a, b = Net(SMALL, backend=backend, seed=7), Net(SMALL, backend=backend, seed=7)
    for k, v in a.params().items():
        np.testing.assert_array_equal(v, b.params()[k], err_msg=k)
    net1, losses1 = train_a_little(backend, seed=7)
    net2, losses2 = train_a_little(backend, seed=7)
    assert losses1 == losses2  # dropout masks come from the seed too
    for k, v in net1.params().items():
        np.testing.assert_array_equal(v, net2.params()[k], err_msg=k)
    other = Net(SMALL, backend=backend, seed=8)
    assert not np.array_equal(other.params()["conv1.weight"], a.params()["conv1.weight"])


@pytest.mark.parametrize("spec_name", ["convnetjs-cifar10", "small"])
def test_numba_equals_numpy_for_a_training_step(spec_name):
    spec = get_preset(spec_name) if spec_name != "small" else SMALL
    nets = {b: Net(spec, backend=b, seed=11) for b in ("numpy", "numba")}
    opts = {b: Optimizer("adadelta", weight_decay=1e-3) for b in nets}
    images, labels = batch(8, nets["numpy"].input_shape, seed=12)
    results = {}
    for b, net in nets.items():
        loss, probs = net.loss(net.prepare(images), labels, train=True, keep_act_grads=True)
        grads = {k: v.copy() for k, v in net.grads().items()}
        opts[b].step(net.params(), net.grads(), net.decay_mults())
        results[b] = (loss, probs, grads, net.act_grads[0].copy(), copy_params(net))
    (l_np, p_np, g_np, dx_np, w_np), (l_nb, p_nb, g_nb, dx_nb, w_nb) = results["numpy"], results["numba"]
    assert l_nb == pytest.approx(l_np, rel=1e-5)
    np.testing.assert_allclose(p_nb, p_np, rtol=1e-4, atol=1e-6)
    for k in g_np:
        scale = np.abs(g_np[k]).max()
        np.testing.assert_allclose(g_nb[k], g_np[k], rtol=1e-3, atol=1e-4 * scale, err_msg=k)
        np.testing.assert_allclose(w_nb[k], w_np[k], rtol=1e-4, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(dx_nb, dx_np, rtol=1e-3, atol=1e-4 * np.abs(dx_np).max())


def test_a_huge_learning_rate_diverges_and_keeps_the_weights(backend):
    spec = [
        {"type": "input", "shape": [4, 4, 3]},
        {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1},
        {"type": "softmax", "num_classes": 10},
    ]
    net = Net(spec, backend=backend, seed=0)
    opt = Optimizer("sgd", lr=1e30)
    trainer = Trainer(net, opt, batches=None)
    xb, yb = batch(8, net.input_shape, seed=0)
    with np.errstate(all="ignore"):
        for _ in range(20):
            before, steps_before = copy_params(net), opt.steps
            event = trainer.step((xb, yb))
            if event["event"] == "diverged":
                break
    assert event["event"] == "diverged", "no divergence at lr 1e30"
    assert "diverged" in event["message"] and "learning rate" in event["message"]
    assert trainer.diverged == event["message"]
    assert opt.steps == steps_before  # the optimizer was not stepped
    for k, v in net.params().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
        assert np.isfinite(v).all()


def test_a_non_finite_gradient_is_named_and_nothing_is_updated(backend):
    """The Trainer checks the net's flat gradient buffer at once and then names the culprit."""
    net = Net(SMALL, backend=backend, seed=0)
    opt = Optimizer("adam")
    trainer = Trainer(net, opt, batches=None)
    loss_of = net.loss

    def loss_with_a_bad_gradient(*args, **kwargs):
        out = loss_of(*args, **kwargs)
        net.grads()["fc1.bias"][3] = np.inf  # the loss stays finite
        return out

    net.loss = loss_with_a_bad_gradient
    before = copy_params(net)
    event = trainer.step(batch(4, net.input_shape, seed=1))
    assert event["event"] == "diverged" and "the gradient of fc1.bias is not finite" in event["message"]
    assert opt.steps == 0 and opt.state == {}
    for k, v in net.params().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


class TinyBatches:
    """The smallest batch source a Trainer accepts: next_batch() and an epoch counter."""

    def __init__(self, images, labels, batch_size):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.epoch = 0
        self.pos = 0

    def next_batch(self):
        i = self.pos
        self.pos += self.batch_size
        if self.pos >= len(self.labels):
            self.pos = 0
            self.epoch += 1
        return self.images[i : i + self.batch_size], self.labels[i : i + self.batch_size]


def test_trainer_runs_epochs_from_a_batch_source(backend):
    net = Net(SMALL, backend=backend, seed=2)
    images, labels = batch(12, net.input_shape, seed=5)
    source = TinyBatches(images, labels, batch_size=4)
    trainer = Trainer(net, Optimizer("adam", lr=0.01), source)
    events = []
    stats = trainer.run_epoch(on_event=events.append)
    assert [e["event"] for e in events] == ["step"] * 3
    assert [e["step"] for e in events] == [1, 2, 3]
    assert [e["examples"] for e in events] == [4, 8, 12]
    assert events[-1]["epoch"] == 1 and trainer.epoch == 1
    for e in events:
        assert np.isfinite(e["loss"]) and 0 <= e["acc"] <= 1 and e["batch"] == 4
        assert e["fwd_ms"] >= 0 and e["bwd_ms"] >= 0 and e["images_per_s"] > 0
    assert stats["event"] == "epoch" and stats["epoch"] == 1
    assert stats["train_loss"] == pytest.approx(np.mean([e["loss"] for e in events]))
    assert stats["train_acc"] == pytest.approx(np.mean([e["acc"] for e in events]))
    second = trainer.run_epoch()
    assert second["epoch"] == 2 and trainer.steps == 6 and trainer.examples == 24
    assert second["train_loss"] < stats["train_loss"]  # it learns something


def test_prepare_applies_the_net_preprocessing():
    net = Net(get_preset("convnetjs-cifar10"), seed=0)
    images = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    images[0, 0, 0, 0], images[0, 5, 7, 2] = 51, 255
    x = net.prepare(images)
    assert x.dtype == np.float32 and x.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(np.unique(x), [-0.5, 51 / 255 - 0.5, 0.5], atol=1e-7)
    with pytest.raises(ValueError, match="32x32x3"):
        net.prepare(np.zeros((1, 28, 28, 3), np.uint8))


FUSED = [
    {"type": "input", "shape": [9, 10, 3]},
    {"type": "conv", "out_channels": 20, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "conv", "out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "conv", "out_channels": 5, "kernel_size": 1},  # no ReLU after it: not fused
    {"type": "conv", "out_channels": 4, "kernel_size": 1, "activation": "tanh"},  # not fused either
    {"type": "fc", "out_features": 7, "activation": "relu"},  # fused, with the fc's own kernels
    {"type": "fc", "out_features": 10},
    {"type": "softmax", "num_classes": 10},
]


class CountingKernels:
    """A kernel module that counts the calls of the layers that use it, by name."""

    def __init__(self, kernels):
        self.kernels, self.calls = kernels, []

    def __getattr__(self, name):
        fn = getattr(self.kernels, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return fn(*args, **kwargs)

        return counted


@pytest.mark.parametrize("dx_by_conv", [False, True])
@pytest.mark.parametrize("n", [1, 5])
def test_a_conv_and_its_relu_in_one_pass_give_the_bits_of_two_layers(backend, monkeypatch, n, dx_by_conv):
    """Net pairs each conv with the ReLU after it (engine/fast/fusion.py): one kernel call
    forward and, without act_grads, one backward. Against the same net with the pairs undone,
    every output, loss, gradient and act_grad is the same to the bit, on both backends (the
    Numba backend's fused kernels included, dx by tiles and by convolution). A pair keeps one
    array, the ReLU's; the conv's own output is there only when asked for (pre_activations),
    and then through the two layers apart."""
    from engine import layers
    from engine.fast import config

    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 0 if dx_by_conv else 10**9)
    # the layers' own kernel calls are counted: one by one, not through the compiled pass
    # (whose bits tests/test_compiled_pass.py compares with these)
    monkeypatch.setattr(config, "COMPILED_PASS", False)
    fused, apart = Net(FUSED, backend=backend, seed=4), Net(FUSED, backend=backend, seed=4)
    convs = [layer for layer in fused.layers if isinstance(layer, layers.Conv)]
    assert [c.fused is not None for c in convs] == [True, True, False, False]
    for conv, after in zip(fused.layers, fused.layers[1:]):
        if conv in convs and conv.fused is not None:  # the pair is the conv and the ReLU after it
            assert conv.fused.conv is conv and conv.fused.relu is after and after.fused is conv.fused
    for layer in apart.layers:
        layer.fused = None
    counting = CountingKernels(fused.kernels)
    for layer in fused.layers:
        layer.k = counting
    images, labels = batch(n, (9, 10, 3), seed=6)
    paired = [i for i, layer in enumerate(fused.layers) if layer.fused is not None and layer.fused.conv is layer]
    assert len(paired) == 3 and fused.layers[paired[-1]].type == "fc"
    for keep, pre in ((False, False), (True, False), (True, True)):
        counting.calls.clear()
        losses = []
        for net in (fused, apart):
            net.forward(net.prepare(images), train=True, pre_activations=pre)
            losses.append(net.backward(labels, keep_act_grads=keep))
        assert losses[0] == losses[1]
        assert counting.calls.count("conv_relu_forward") == (0 if pre else 2)
        assert counting.calls.count("relu_forward") == (2 if pre else 0) + 1  # + the fc's ReLU
        assert counting.calls.count("conv_relu_backward") == (0 if keep else 2)
        assert counting.calls.count("relu_backward") == (2 if keep else 0) + 1  # act_grads: layer by layer
        for i, (a, b) in enumerate(zip(fused.acts, apart.acts)):
            if i in paired and not pre:  # the ReLU's output is the pair's one array
                assert a is None and fused.acts[i + 1] is fused.layers[i + 1].cache
                # computed again for one image: BLAS may sum one row in another order
                np.testing.assert_allclose(fused.pre_activation(i, n - 1), b[n - 1 :], rtol=1e-5, atol=1e-6)
            else:
                np.testing.assert_array_equal(a, b)
        for k, g in apart.grads().items():
            np.testing.assert_array_equal(fused.grads()[k], g, err_msg=k)
        if keep:
            assert len(fused.act_grads) == len(apart.act_grads) == len(fused.acts)
            for a, b in zip(fused.act_grads, apart.act_grads):
                np.testing.assert_array_equal(a, b)
