"""Conv + ReLU fusion: a conv layer and the ReLU right after it run as one, each way, and keep
one array.

Net pairs them (`pair_conv_relu`) whenever its layers are built or replaced, and runs each
pair as a unit. Forward, the kernels' conv_relu_forward writes the ReLU's output and nothing
else: the conv's output (the pre-activation) is never stored, since backward needs only the
ReLU's output (its mask, relu_backward's cache). Backward without act_grads runs both
layers' backward as one call (conv_relu_backward): on the Numba backend one pass over the
data instead of two, and two kernel calls fewer per pair each way. The values are the bits
of the two layers run apart (tests/test_net.py). Why it pays: docs/BENCHMARKS.md, "Conv and
ReLU in one call"; what a training step then holds: docs/ARCHITECTURE.md, "Memory of a
training step".

An fc layer and its ReLU pair up the same way for memory, without a fused kernel: the fc's
output is dropped once the ReLU has run, and backward makes the two calls.

Only where a picture needs the pre-activation (the example being visualised, probe.py) does
Net ask for it (`keep_pre`): the pair then runs as the two layers apart, one image, outside
the training step.

Plain Python; layers.py knows nothing of it.
"""


def pair_conv_relu(layers):
    """Pair each conv or fc layer of the list with the ReLU layer right after it (a ConvReLU
    in both layers' `fused`); every other layer gets fused = None, so that a list built again
    from old layers loses its old pairs."""
    for layer in layers:
        layer.fused = None
    for conv, after in zip(layers, layers[1:]):
        if conv.type in ("conv", "fc") and after.type == "relu":
            conv.fused = after.fused = ConvReLU(conv, after)


class ConvReLU:
    """A conv (or fc) layer and its ReLU, run as one (see the module docstring); `conv` is
    the layer before the ReLU."""

    def __init__(self, conv, relu):
        self.conv = conv
        self.relu = relu

    def forward(self, x, train, keep_pre=False):
        """Both layers' forward: (the conv's output, or None unless keep_pre, the ReLU's)."""
        if keep_pre or self.conv.type == "fc":  # the two layers apart: the same bits
            pre = self.conv.forward(x, train)  # an fc's output: gone once the ReLU has run
            return (pre if keep_pre else None), self.relu.forward(pre, train)
        conv = self.conv
        args = (x, conv.param["weight"], conv.param["bias"], conv.spec["stride"], conv.spec["padding"])
        act, conv.cache = conv.k.conv_relu_forward(*args)
        self.relu.cache = act  # what relu_forward keeps: its output, whose mask backward needs
        return None, act

    def backward(self, dact, need_dx=True):
        """Both layers' backward in one call: dact is the gradient at the ReLU's output; fills
        the conv's grads and returns the gradient at the conv's input."""
        conv = self.conv
        if conv.type == "fc":  # no fused kernel: the two backward calls
            return conv.backward(self.relu.backward(dact), need_dx)
        dx, dw, db = conv.k.conv_relu_backward(dact, self.relu.cache, conv.cache, need_dx)
        conv.grad["weight"][...] = dw
        conv.grad["bias"][...] = db
        return dx
