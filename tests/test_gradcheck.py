"""Numerical gradient checks (central differences, float64) of every layer type through Net.

Each case is a tiny net around one layer type; the analytic gradients of Net.backward (every
parameter, and the input's via keep_act_grads) must match finite differences of the loss.
Dropout is checked in training mode with a fixed mask (its random source is reset before
every forward). The loss here is computed independently of the engine's kernels.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import Net
from engine.layers import Dropout

H = 1e-6  # step of the central differences


def conv(f, k, stride=1, pad=0, **extra):
    return dict({"type": "conv", "out_channels": f, "kernel_size": k, "stride": stride, "padding": pad}, **extra)


def inp(h, w, c):
    return {"type": "input", "shape": [h, w, c]}


NETS = {
    "conv-k3-s1-p1": [inp(5, 5, 2), conv(3, 3, 1, 1), {"type": "softmax", "num_classes": 3}],
    "conv-k3-s2-p1": [inp(6, 5, 2), conv(3, 3, 2, 1), {"type": "softmax", "num_classes": 3}],
    "conv-k5-s3-p2": [inp(7, 6, 2), conv(2, 5, 3, 2), {"type": "softmax", "num_classes": 3}],
    "conv-k1-s2-p0": [inp(5, 4, 3), conv(2, 1, 2, 0), {"type": "softmax", "num_classes": 3}],
    "conv-conv": [inp(6, 6, 2), conv(3, 3, 1, 1), conv(2, 3, 2, 0), {"type": "softmax", "num_classes": 3}],
    "pool-2-2": [
        inp(6, 6, 2),
        conv(3, 3, 1, 1),
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "softmax", "num_classes": 3},
    ],
    "pool-3-2": [
        inp(7, 7, 2),
        conv(2, 3, 1, 1),
        {"type": "pool", "kernel_size": 3, "stride": 2},
        {"type": "softmax", "num_classes": 3},
    ],
    "relu": [inp(4, 4, 2), conv(3, 3, 1, 1), {"type": "relu"}, {"type": "softmax", "num_classes": 3}],
    "tanh": [inp(4, 4, 2), conv(3, 3, 1, 1), {"type": "tanh"}, {"type": "softmax", "num_classes": 3}],
    "sigmoid": [inp(4, 4, 2), conv(3, 3, 1, 1), {"type": "sigmoid"}, {"type": "softmax", "num_classes": 3}],
    "fc-fc": [
        inp(3, 2, 2),
        {"type": "fc", "out_features": 5, "activation": "tanh"},
        {"type": "fc", "out_features": 4},
        {"type": "softmax", "num_classes": 4},
    ],
    "dropout": [
        inp(3, 3, 2),
        {"type": "fc", "out_features": 6},
        {"type": "dropout", "p": 0.5},
        {"type": "softmax", "num_classes": 3},
    ],
    "softmax": [inp(1, 1, 5), {"type": "softmax", "num_classes": 5}],
    "everything": [
        inp(8, 8, 3),
        conv(4, 3, 1, 1, activation="relu"),
        {"type": "pool", "kernel_size": 2, "stride": 2},
        conv(3, 3, 1, 1, activation="tanh"),
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "fc", "out_features": 6, "activation": "sigmoid"},
        {"type": "dropout", "p": 0.3},
        {"type": "softmax", "num_classes": 3},
    ],
}
TRAIN = {"dropout", "everything"}  # cases checked in training mode (fixed dropout mask)


def independent_loss(net, y):
    scores = net.layers[-1].scores  # (N, K) as fed to the softmax
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def forward(net, x, train, pre_activations=False):
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.rng = np.random.RandomState(42)  # the same mask on every call
    return net.forward(x, train=train, pre_activations=pre_activations)


def numerical_grad(f, arr):
    grad = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + H
        plus = f()
        arr[i] = old - H
        minus = f()
        arr[i] = old
        grad[i] = (plus - minus) / (2 * H)
    return grad


def check(analytic, numeric, what):
    assert analytic.shape == numeric.shape, what
    assert np.abs(numeric).max() > 0 or np.abs(analytic).max() == 0, what
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8, err_msg=what)


@pytest.mark.parametrize("case", sorted(NETS))
def test_gradients_match_finite_differences(backend, case):
    net = Net(NETS[case], backend=backend, seed=3, dtype=np.float64)
    train = case in TRAIN
    rng = np.random.RandomState(4)
    for key, p in net.params().items():
        if key.endswith(".bias"):  # non-zero biases so that their gradients are exercised
            p[...] = 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((3,) + net.input_shape)
    y = rng.randint(0, net.num_classes, 3)

    forward(net, x, train)
    loss = net.backward(y, keep_act_grads=True)
    assert loss == pytest.approx(independent_loss(net, y), rel=1e-12)
    grads = {k: v.copy() for k, v in net.grads().items()}
    dx = net.act_grads[0].copy()

    def f():
        forward(net, x, train)
        return independent_loss(net, y)

    for key, p in net.params().items():
        check(grads[key], numerical_grad(f, p), key)
    check(dx, numerical_grad(f, x), "input gradient")


@pytest.mark.parametrize("case", ["everything", "fc-fc"])
def test_act_grads_align_with_acts(backend, case):
    net = Net(NETS[case], backend=backend, seed=1, dtype=np.float64)
    rng = np.random.RandomState(0)
    x = rng.standard_normal((2,) + net.input_shape)
    y = np.array([0, 2])
    probs = forward(net, x, True, pre_activations=True)
    net.backward(y, keep_act_grads=True)
    assert len(net.act_grads) == len(net.acts) == len(net.layers)
    for i, (a, g) in enumerate(zip(net.acts, net.act_grads)):
        assert g.shape == a.shape, "layer %d (%s)" % (i, net.layers[i].name)
    # The softmax's row is d(loss)/d(scores) = (probs - onehot) / N; so is the fc's before it.
    expected = probs.copy()
    expected[np.arange(2), y] -= 1
    expected /= 2
    np.testing.assert_allclose(net.act_grads[-1].reshape(2, -1), expected, atol=1e-12)
    np.testing.assert_allclose(net.act_grads[-2].reshape(2, -1), expected, atol=1e-12)


def test_parameter_grads_do_not_depend_on_keep_act_grads(backend):
    net = Net(NETS["everything"], backend=backend, seed=2, dtype=np.float64)
    rng = np.random.RandomState(1)
    x = rng.standard_normal((2,) + net.input_shape)
    y = np.array([1, 0])
    forward(net, x, True)
    loss1 = net.backward(y, keep_act_grads=True)
    g1 = {k: v.copy() for k, v in net.grads().items()}
    forward(net, x, True)
    loss2 = net.backward(y, keep_act_grads=False)
    assert loss1 == loss2
    for k, v in net.grads().items():
        np.testing.assert_array_equal(v, g1[k], err_msg=k)


def test_dropout_is_identity_at_inference_and_inverted_in_training():
    net = Net(
        [inp(20, 20, 5), {"type": "dropout", "p": 0.25}, {"type": "softmax", "num_classes": 3}],
        seed=0,
        dtype=np.float64,
    )
    layer = net.layers[1]
    x = np.ones((4, 20, 20, 5))
    np.testing.assert_array_equal(layer.forward(x, train=False), x)
    out = layer.forward(x, train=True)
    kept = out != 0
    assert 0.2 < 1 - kept.mean() < 0.3  # about p of the values are dropped
    np.testing.assert_allclose(out[kept], 1 / 0.75)  # the kept ones are scaled up by 1/(1-p)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)  # same mask backwards
