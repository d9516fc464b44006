"""Conv + ReLU fusion: a conv layer and the ReLU right after it run as one, each way.

Net pairs them (`pair_conv_relu`) whenever its layers are built or replaced. The conv's
forward then computes the ReLU's output in the same pass (the kernels' conv_relu_forward),
and a backward without act_grads runs both layers' backward as one call
(conv_relu_backward): on the Numba backend one pass over the data instead of two, and two
kernel calls fewer per pair each way. Each layer still keeps its own output and cache, so
acts, act_grads and inspection see the layers as they are, and the values are the bits of
the two layers run apart (tests/test_net.py). Why it pays: docs/BENCHMARKS.md, "Conv and ReLU
in one call".

Plain Python; layers.py hands its forward to `layer.fused` when Net set one, nothing more.
"""


def pair_conv_relu(layers):
    """Pair each conv layer of the list with the ReLU layer right after it (a ConvReLU in both
    layers' `fused`); every other layer gets fused = None, so that a list built again from
    old layers loses its old pairs."""
    for layer in layers:
        layer.fused = None
    for conv, after in zip(layers, layers[1:]):
        if conv.type == "conv" and after.type == "relu":
            conv.fused = after.fused = ConvReLU(conv, after)


class ConvReLU:
    """A conv layer and its ReLU, run as one (see the module docstring)."""

    def __init__(self, conv, relu):
        self.conv = conv
        self.relu = relu
        self.given = None  # (the conv's output, the ReLU's) from the last conv forward

    def conv_forward(self, x):
        """The conv layer's forward; keeps the ReLU's output for relu_forward."""
        conv = self.conv
        args = (x, conv.param["weight"], conv.param["bias"], conv.spec["stride"], conv.spec["padding"])
        out, act, conv.cache = conv.k.conv_relu_forward(*args)
        self.given = (out, act)
        return out

    def relu_forward(self, x):
        """The ReLU layer's forward: what the conv computed, if x is the conv's output."""
        relu = self.relu
        given, self.given = self.given, None
        if given is not None and given[0] is x:
            relu.cache = given[1]
            return given[1]
        out, relu.cache = relu.k.relu_forward(x)
        return out

    def backward(self, dact, need_dx=True):
        """Both layers' backward in one call: dact is the gradient at the ReLU's output; fills
        the conv's grads and returns the gradient at the conv's input."""
        conv = self.conv
        dx, dw, db = conv.k.conv_relu_backward(dact, self.relu.cache, conv.cache, need_dx)
        conv.grad["weight"][...] = dw
        conv.grad["bias"][...] = db
        return dx
