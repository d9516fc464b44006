"""The optimizers' flat path (a net's parameters in one buffer, engine/params.py) against their
dict path (one array at a time, which test_torch_parity.py checks against torch.optim).

Bit for bit the same updates and state for all six optimizers, on both backends (the
Numba backend's flat path is a compiled kernel of its own), with hyperparameters changed
mid-run and a parameter array replaced mid-run; the arrays of net.params() stay the layers'
live arrays; state stays one array per parameter and slot; the cached dicts are read-only.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine import Net, Optimizer
from engine.optim import DEFAULTS, SLOTS

SPEC = [
    {"type": "input", "shape": [6, 6, 2]},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "fc", "out_features": 5, "activation": "tanh"},
    {"type": "fc", "out_features": 3},
    {"type": "softmax", "num_classes": 3},
]
HYPER = {"momentum": {"momentum": 0.8}, "nesterov": {"momentum": 0.7}, "adadelta": {"eps": 1e-3}}


def random_grads(params, rng):
    return {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_flat_path_equals_dict_path_bit_for_bit(name, weight_decay, dtype, backend):
    """numba: the backend's one-pass kernel (engine/fast/_numba_optim.py) takes the step; numpy: optim.py's
    whole-array operations. Both must give the dict path's bits."""
    net = Net(SPEC, seed=1, dtype=dtype, backend=backend)
    params, grads, decay = net.params(), net.grads(), net.decay_mults()
    assert params.flat is not None and grads.layout is params.layout  # the flat path will be taken
    assert hasattr(params.kernels, "optim_update") == (backend == "numba")
    ref = {k: v.copy() for k, v in params.items()}  # plain dicts: the loop over arrays
    opt_flat = Optimizer(name, weight_decay=weight_decay, **HYPER.get(name, {}))
    opt_ref = Optimizer(name, weight_decay=weight_decay, **HYPER.get(name, {}))
    rng = np.random.RandomState(2)
    for step in range(8):
        g = random_grads(ref, rng)
        for k, v in g.items():
            grads[k][...] = v
        if step == 3:  # hyperparameters change while training runs
            for o in (opt_flat, opt_ref):
                o.set(lr=o.lr * 0.5, weight_decay=2 * weight_decay)
        if step in (4, 5, 6):  # and each of the others alone (optim.py keeps the scalars it made)
            for o in (opt_flat, opt_ref):
                k = ("momentum", "rho", "eps")[step - 4]
                o.set(**{k: getattr(o, k) * 0.9, "beta1": o.beta1 * 0.9 if step == 4 else None})
        mults = net.decay_mults() if step < 5 else {k: 0.5 for k in decay}  # new multipliers: the vector follows
        opt_flat.step(net.params(), net.grads(), mults)
        opt_ref.step(ref, g, dict(mults))
        for k, v in ref.items():
            np.testing.assert_array_equal(params[k], v, err_msg="%s step %d: %s" % (name, step, k))
    assert list(opt_flat.state) == list(opt_ref.state)  # same keys, in the same order
    for k, v in opt_ref.state.items():
        assert opt_flat.state[k].dtype == v.dtype
        np.testing.assert_array_equal(opt_flat.state[k], v, err_msg=k)


def test_params_are_the_layers_live_arrays_in_one_buffer():
    net = Net(SPEC, seed=0)
    params, grads = net.params(), net.grads()
    assert net.params() is params and net.grads() is grads and net.decay_mults() is net.decay_mults()
    assert list(params) == ["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert params.flat.size == sum(v.size for v in params.values()) and params.flat.dtype == np.float32
    for layer in net.layers:
        for name, p in layer.param.items():
            key = "%s.%s" % (layer.name, name)
            assert params[key] is p and grads[key] is layer.grad[name]
            assert np.shares_memory(p, params.flat) and np.shares_memory(layer.grad[name], grads.flat)
            assert p.flags.c_contiguous
    before = {k: v.copy() for k, v in params.items()}
    for g in grads.values():
        g[...] = 1.0
    Optimizer("sgd", lr=0.1).step(net.params(), net.grads(), net.decay_mults())
    for layer in net.layers:  # the layers compute with what the optimizer changed
        for name, p in layer.param.items():
            np.testing.assert_allclose(p, before["%s.%s" % (layer.name, name)] - 0.1, rtol=1e-6)


def test_replacing_a_parameter_array_binds_again_and_keeps_the_optimizer_state():
    net = Net(SPEC, seed=3)
    ref = {k: v.copy() for k, v in net.params().items()}
    opt_flat, opt_ref = Optimizer("adam"), Optimizer("adam")
    rng = np.random.RandomState(4)
    for step in range(6):
        if step == 3:  # someone replaces an array instead of writing into it
            conv = net.layers[1]
            conv.param["weight"] = conv.param["weight"] * 2
            ref["conv1.weight"] = ref["conv1.weight"] * 2
        g = random_grads(ref, rng)
        for k, v in g.items():
            net.grads()[k][...] = v
        opt_flat.step(net.params(), net.grads(), net.decay_mults())
        opt_ref.step(ref, g, net.decay_mults())
    params = net.params()
    assert params["conv1.weight"] is net.layers[1].param["weight"]
    assert np.shares_memory(params["conv1.weight"], params.flat)
    for k, v in ref.items():
        np.testing.assert_array_equal(params[k], v, err_msg=k)
    for k, v in opt_ref.state.items():
        np.testing.assert_array_equal(opt_flat.state[k], v, err_msg=k)


def test_one_optimizer_on_another_net_keeps_the_state_of_the_keys_they_share():
    """As the dict path does: a key both nets have keeps its state, a new key starts from 0."""
    grown = SPEC[:-1] + [{"type": "fc", "out_features": 3}, SPEC[-1]]  # fc3 after fc2
    rng = np.random.RandomState(7)
    opt_flat, opt_ref = Optimizer("adadelta"), Optimizer("adadelta")
    for spec in (SPEC, grown, SPEC):
        net = Net(spec, seed=8)
        ref = {k: v.copy() for k, v in net.params().items()}
        for _ in range(3):
            g = random_grads(ref, rng)
            for k, v in g.items():
                net.grads()[k][...] = v
            opt_flat.step(net.params(), net.grads(), net.decay_mults())
            opt_ref.step(ref, g, net.decay_mults())
        for k, v in ref.items():
            np.testing.assert_array_equal(net.params()[k], v, err_msg=k)
    assert list(opt_flat.state) == list(opt_ref.state)
    for k, v in opt_ref.state.items():
        np.testing.assert_array_equal(opt_flat.state[k], v, err_msg=k)


def test_state_is_one_array_per_parameter_and_slot_and_survives_a_reload():
    net = Net(SPEC, seed=5)
    opt = Optimizer("adadelta")
    rng = np.random.RandomState(6)
    for g in net.grads().values():
        g[...] = rng.standard_normal(g.shape)
    opt.step(net.params(), net.grads(), net.decay_mults())
    config, arrays = opt.state_dict()
    expected = ["optim.%s.%s" % (k, s) for k in net.params() for s in SLOTS["adadelta"]]
    assert list(arrays) == expected
    for key, a in arrays.items():
        assert a.shape == net.params()[key[len("optim.") : key.rindex(".")]].shape
    twin = Net(SPEC, seed=5)
    twin.load_params({k: v.copy() for k, v in net.params().items()})
    opt2 = Optimizer("adadelta")
    opt2.load_state_dict(config, {k: v.copy() for k, v in arrays.items()})
    for n, o in ((net, opt), (twin, opt2)):
        for g in n.grads().values():
            g[...] = 0.5
        o.step(n.params(), n.grads(), n.decay_mults())
    for k, v in net.params().items():
        np.testing.assert_array_equal(twin.params()[k], v, err_msg=k)


def test_a_state_of_the_wrong_shape_is_refused_with_a_clear_message():
    net = Net(SPEC, seed=0)
    opt = Optimizer("momentum")
    opt.load_state_dict({"name": "momentum"}, {"optim.fc2.bias.velocity": np.zeros(7, np.float32)})
    with pytest.raises(ValueError, match="fc2.bias.velocity has shape"):
        opt.step(net.params(), net.grads(), net.decay_mults())


def test_the_cached_dicts_are_read_only_and_copy_to_plain_dicts():
    net = Net(SPEC, seed=0)
    params = net.params()
    for change in (
        lambda d: d.__setitem__("conv1.weight", np.zeros(1)),
        lambda d: d.pop("conv1.weight"),
        lambda d: d.update({}),
        lambda d: d.clear(),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change(params)
    assert len(params) == 6
    for plain in (dict(params), copy.copy(params), params.copy()):
        assert type(plain) is dict and plain.keys() == params.keys()
        plain["extra"] = np.zeros(1)  # a copy is the caller's to change
    assert "extra" not in net.params()
