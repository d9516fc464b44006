"""Parity with PyTorch (a test-only reference): every layer's forward and gradients, a whole
ConvNetJS CIFAR-10 net (loss, every activation, every gradient), and the optimizers.

Layouts: our activations are (N, H, W, C) and PyTorch's (N, C, H, W), so tensors are permuted
on the way in and out. Our fc layers flatten a volume in (H, W, C) order and PyTorch's
flatten in (C, H, W), so the torch model permutes to channels-last before flattening; the
weights then copy over unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import Net, Optimizer, get_preset

torch = pytest.importorskip("torch")
F = torch.nn.functional


def nchw(a):
    return torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2)), requires_grad=True)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def leaf(a):
    return torch.tensor(np.asarray(a), requires_grad=True)


def close(actual, expected, what, rel=1e-9):
    """Equal up to rel times the largest magnitude of the reference (float64: near exact)."""
    expected = np.asarray(expected)
    assert np.shape(actual) == expected.shape, "%s: shape %s vs %s" % (what, np.shape(actual), expected.shape)
    atol = rel * max(float(np.abs(expected).max()) if expected.size else 0.0, 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=atol, err_msg=what)


# -- layer by layer ----------------------------------------------------------------------
@pytest.mark.parametrize("k,stride,pad", [(1, 1, 0), (3, 1, 1), (3, 2, 0), (5, 1, 2), (5, 3, 2), (3, 3, 1)])
def test_conv_matches_torch(kernels, k, stride, pad):
    rng = np.random.RandomState(k * 10 + stride + pad)
    x = rng.standard_normal((2, 9, 8, 3))
    w = rng.standard_normal((4, 3, k, k))
    b = rng.standard_normal(4)
    out, cache = kernels.conv_forward(x, w, b, stride, pad)
    xt, wt, bt = nchw(x), leaf(w), leaf(b)
    ot = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    close(out, nhwc(ot), "conv out")
    dout = rng.standard_normal(out.shape)
    ot.backward(torch.tensor(dout.transpose(0, 3, 1, 2)))
    dx, dw, db = kernels.conv_backward(dout, cache)
    close(dx, nhwc(xt.grad), "conv dx")
    close(dw, wt.grad.numpy(), "conv dw")
    close(db, bt.grad.numpy(), "conv db")


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (3, 3), (2, 1)])
def test_max_pool_matches_torch(kernels, size, stride, ties):
    rng = np.random.RandomState(size * 10 + stride)
    shape = (2, 9, 8, 3)
    x = rng.randint(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)
    out, cache = kernels.pool_forward(x, size, stride)
    xt = nchw(x)
    ot = F.max_pool2d(xt, size, stride)
    close(out, nhwc(ot), "pool out")
    dout = rng.standard_normal(out.shape)
    ot.backward(torch.tensor(dout.transpose(0, 3, 1, 2)))
    close(kernels.pool_backward(dout, cache), nhwc(xt.grad), "pool dx")


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_activation_matches_torch(kernels, name):
    rng = np.random.RandomState(2)
    x = 3 * rng.standard_normal((2, 4, 5, 3))
    x[0, 0, 0] = 0.0
    out, cache = getattr(kernels, name + "_forward")(x)
    xt = leaf(x)
    ot = getattr(torch, name)(xt)
    close(out, ot.detach().numpy(), name + " out")
    dout = rng.standard_normal(x.shape)
    ot.backward(torch.tensor(dout))
    close(getattr(kernels, name + "_backward")(dout, cache), xt.grad.numpy(), name + " dx")


def test_fc_matches_torch(kernels):
    rng = np.random.RandomState(3)
    x, w, b = rng.standard_normal((5, 12)), rng.standard_normal((7, 12)), rng.standard_normal(7)
    out, cache = kernels.fc_forward(x, w, b)
    xt, wt, bt = leaf(x), leaf(w), leaf(b)
    ot = F.linear(xt, wt, bt)
    close(out, ot.detach().numpy(), "fc out")
    dout = rng.standard_normal(out.shape)
    ot.backward(torch.tensor(dout))
    dx, dw, db = kernels.fc_backward(dout, cache)
    close(dx, xt.grad.numpy(), "fc dx")
    close(dw, wt.grad.numpy(), "fc dw")
    close(db, bt.grad.numpy(), "fc db")


def test_softmax_loss_matches_torch(kernels):
    rng = np.random.RandomState(4)
    scores = 4 * rng.standard_normal((6, 10))
    y = rng.randint(0, 10, 6)
    loss, probs, dscores = kernels.softmax_loss(scores, y)
    st = leaf(scores)
    lt = F.cross_entropy(st, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-12)
    close(probs, F.softmax(st, dim=1).detach().numpy(), "probs")
    close(dscores, st.grad.numpy(), "dscores")


def test_dropout_matches_torch_semantics():
    # Inverted dropout, as torch: identity at inference; kept values scaled by 1/(1-p) in training.
    net = Net(
        [{"type": "input", "shape": [8, 8, 4]}, {"type": "dropout", "p": 0.4}, {"type": "softmax", "num_classes": 3}],
        dtype=np.float64,
    )
    x = np.random.RandomState(0).uniform(1, 2, (3, 8, 8, 4))
    layer = net.layers[1]
    close(layer.forward(x, train=False), F.dropout(torch.tensor(x), 0.4, training=False).numpy(), "eval")
    ours = layer.forward(x, train=True) / x
    theirs = F.dropout(torch.tensor(x), 0.4, training=True).numpy() / x
    np.testing.assert_allclose(np.unique(ours.round(12)), np.unique(theirs.round(12)))


# -- a whole net -------------------------------------------------------------------------
def torch_forward(layers_spec, params, x):
    """The torch twin of a canonical spec: (activations per layer in NCHW/NC, scores)."""
    h = nchw(x)
    acts = [h]
    for layer in layers_spec[1:]:
        kind, name = layer["type"], layer["name"]
        if kind == "conv":
            h = F.conv2d(
                h, params[name + ".weight"], params[name + ".bias"], stride=layer["stride"], padding=layer["padding"]
            )
        elif kind == "pool":
            h = F.max_pool2d(h, layer["kernel_size"], layer["stride"])
        elif kind in ("relu", "tanh", "sigmoid"):
            h = getattr(torch, kind)(h)
        elif kind == "fc":
            if h.dim() == 4:
                h = h.permute(0, 2, 3, 1).flatten(1)  # flatten in our (H, W, C) order
            h = F.linear(h, params[name + ".weight"], params[name + ".bias"])
        elif kind == "dropout":
            h = F.dropout(h, layer["p"], training=False)
        elif kind == "softmax":
            scores = h
            h = F.softmax(h, dim=1)
        h.retain_grad()
        acts.append(h)
    return acts, scores


def as_ours(t):
    a = t.detach().numpy()
    return a.transpose(0, 2, 3, 1) if a.ndim == 4 else a


def random_images(n, shape, seed):
    return np.random.RandomState(seed).randint(0, 256, (n,) + shape).astype(np.uint8)


def flat_images(n, shape, seed):
    """Flat 8x8 blocks, as in JPEG skies: pooling windows hold exact ties."""
    h, w, c = shape
    blocks = np.random.RandomState(seed).randint(0, 256, (n, h // 8, w // 8, c))
    return np.repeat(np.repeat(blocks, 8, axis=1), 8, axis=2).astype(np.uint8)


# A net whose pools see exact ties in both dtypes and both libraries: inputs k/256 and conv
# weights m/64 make every conv sum exact, so a flat region gives bit-equal outputs and the
# tie-breaking rule (first maximum) is all that decides where the gradient goes.
EXACT_TIES = [
    {"type": "input", "shape": [16, 16, 3]},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "conv", "out_channels": 6, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 3, "stride": 2},
    {"type": "fc", "out_features": 8, "activation": "sigmoid"},
    {"type": "dropout", "p": 0.5},
    {"type": "softmax", "num_classes": 4},
]


def has_nonzero_tie(act, size, stride):
    """Whether some pooling window of act (N, H, W, C) holds its positive maximum twice."""
    N, H, W, C = act.shape
    for i in range(0, H - size + 1, stride):
        for j in range(0, W - size + 1, stride):
            win = act[:, i : i + size, j : j + size, :].reshape(N, -1, C)
            top = win.max(axis=1)
            if ((win == top[:, None, :]).sum(axis=1)[top > 0] > 1).any():
                return True
    return False


def build(net_name, backend, dtype):
    rng = np.random.RandomState(6)
    if net_name == "convnetjs-cifar10":
        net = Net(get_preset(net_name), backend=backend, seed=5, dtype=dtype)
        for key, p in net.params().items():
            if key.endswith(".bias"):
                p[...] = 0.1 * rng.standard_normal(p.shape)
        return net, net.prepare(random_images(4, net.input_shape, seed=7))
    net = Net(EXACT_TIES, backend=backend, seed=5, dtype=dtype, preprocess={"scale": 1 / 256, "shift": -0.5})
    for key, p in net.params().items():
        if key.startswith("conv"):
            p[...] = rng.randint(-32, 33, p.shape) / 64.0
    x = net.prepare(flat_images(4, net.input_shape, seed=7))
    net.forward(x)
    assert has_nonzero_tie(x, 2, 2) and has_nonzero_tie(net.acts[3], 3, 2), "the test lost its ties"
    return net, x


@pytest.mark.parametrize("dtype,rel", [(np.float64, 1e-8), (np.float32, 2e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("net_name", ["convnetjs-cifar10", "exact-ties"])
def test_whole_net_matches_torch(backend, net_name, dtype, rel):
    net, x = build(net_name, backend, dtype)
    y = np.array([0, 3, 1, 2])
    probs = net.forward(x, train=False, pre_activations=True)  # every layer's output, to compare
    loss = net.backward(y, keep_act_grads=True)

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    params = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in net.params().items()}
    acts, scores = torch_forward(net.layers_spec, params, x)
    lt = F.cross_entropy(scores, torch.tensor(y))
    lt.backward()

    assert loss == pytest.approx(lt.item(), rel=rel)
    close(probs, acts[-1].detach().numpy(), "probs", rel)
    for i, layer in enumerate(net.layers[:-1]):
        what = "layer %d (%s)" % (i, layer.name)
        close(net.acts[i].reshape(as_ours(acts[i]).shape), as_ours(acts[i]), what + " output", rel)
        close(net.act_grads[i].reshape(as_ours(acts[i].grad).shape), as_ours(acts[i].grad), what + " gradient", rel)
    for key, g in net.grads().items():
        close(g, params[key].grad.numpy(), key + " grad", rel)


# -- optimizers --------------------------------------------------------------------------
def torch_optimizer(name, groups, hyper):
    if name == "sgd":
        return torch.optim.SGD(groups, lr=hyper["lr"])
    if name == "momentum":
        return torch.optim.SGD(groups, lr=hyper["lr"], momentum=hyper["momentum"], dampening=0)
    if name == "nesterov":
        return torch.optim.SGD(groups, lr=hyper["lr"], momentum=hyper["momentum"], nesterov=True)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=hyper["lr"], eps=hyper["eps"], initial_accumulator_value=0, lr_decay=0)
    if name == "adadelta":
        return torch.optim.Adadelta(groups, lr=hyper["lr"], rho=hyper["rho"], eps=hyper["eps"])
    if name == "adam":
        return torch.optim.Adam(groups, lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"])
    raise AssertionError(name)


OPTIM_CASES = [
    ("sgd", {"lr": 0.1}),
    ("momentum", {"lr": 0.1, "momentum": 0.9}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9}),
    ("adagrad", {"lr": 0.1, "eps": 1e-8}),
    ("adagrad", {"lr": 0.1, "eps": 0.5}),  # a large eps shows where it is added
    ("adadelta", {"lr": 1.0, "rho": 0.95, "eps": 1e-6}),
    ("adadelta", {"lr": 0.5, "rho": 0.9, "eps": 0.1}),
    ("adam", {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}),
    ("adam", {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 0.1}),
]


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name,hyper", OPTIM_CASES, ids=["%s-%s" % (n, h.get("eps", "")) for n, h in OPTIM_CASES])
def test_optimizer_matches_torch(name, hyper, weight_decay):
    rng = np.random.RandomState(8)
    params = {
        "fc1.weight": rng.standard_normal((3, 4)),
        "fc1.bias": rng.standard_normal(3),
        "conv1.weight": rng.standard_normal((2, 3, 3, 3)),
        "conv1.bias": rng.standard_normal(2),
    }
    decay = {k: (1.0 if k.endswith(".weight") else 0.0) for k in params}
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    groups = [
        {"params": [t for k, t in tparams.items() if decay[k]], "weight_decay": weight_decay},
        {"params": [t for k, t in tparams.items() if not decay[k]], "weight_decay": 0.0},
    ]
    topt = torch_optimizer(name, groups, hyper)
    opt = Optimizer(name, weight_decay=weight_decay, **hyper)
    for step in range(6):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.step(params, grads, decay)
        for k, t in tparams.items():
            t.grad = torch.tensor(grads[k])
        topt.step()
        for k, t in tparams.items():
            close(params[k], t.detach().numpy(), "%s after step %d: %s" % (name, step + 1, k), rel=1e-10)
