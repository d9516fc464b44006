"""The NumPy backend's training step by shares of the batch: each thread runs the whole net on
its images.

numpy_threads.py shares each big kernel call out by images: a step of the default net makes
~15 such calls each way, and at each the threads meet (the faster waits for the slower, then
both wait for a core to wake them). Here a training step is cut once instead: each thread
takes a share of the batch through every layer, forward and backward, its kernels on that
thread alone, and the threads meet once, when the step's gradients are added up. On the
2-core machine two processes, each training half a batch on one core, trained ~1.2x faster
together than one process training the whole batch on two threads call by call
(docs/BENCHMARKS.md, "The NumPy step by shares of the batch").

The net runs the first share itself; each other share runs on a twin: a Net of the same spec
whose layers read the net's own parameter arrays and keep their own gradients and saved
arrays. The step's gradient is the mean over the batch: each share's mean, weighted by its
share of the images. The twins are built on first use and again whenever the net's layers
or parameter arrays were replaced (Net binds them again: `net._bound` changes). A dropout
layer of a twin draws its masks from a generator of its own, seeded once from the net's.

Only for the NumPy kernels on threads (`kernels.SHARES_BATCH`, numpy_threads.threads() > 1)
and batches of at least MIN_IMAGES per thread; the shares depend on those alone, never on
the cap workers.cap_threads sets (tuner.py): under a cap of one thread the shares run one
after the other on the calling thread, with the same bits. Plain Python 3.8: the browser
gets it, where numpy_threads.threads() is 1 and no step is ever shared.
"""

from __future__ import annotations

import numpy as np

from . import numpy_threads

# Images per thread below which a step is not cut (each kernel call shares out as before):
# two shares of 8 images trained no faster than a batch of 16 whole (docs/BENCHMARKS.md, same
# entry).
MIN_IMAGES = 16


def shares(net, n, train, keep_act_grads):
    """[(start, stop), ...] of images for each thread, or None: the step runs whole."""
    if not train or keep_act_grads or not getattr(net.kernels, "SHARES_BATCH", False):
        return None
    T = min(numpy_threads.threads(), n // MIN_IMAGES)
    if T <= 1:
        return None
    return [(n * t // T, n * (t + 1) // T) for t in range(T)]


def loss(net, x, y, cuts):
    """Net.loss(x, y, train=True) by shares (see the module docstring): (loss, probs), with
    net.grads() the batch's gradients and net.acts the whole batch's (Net joins the shares'
    outputs when asked)."""
    twins = _twins(net, len(cuts) - 1)
    nets = [net] + twins
    y = np.asarray(y)

    def one(member, a, b):
        with numpy_threads.alone():  # this thread's kernels run on it alone
            probs = member.forward(x[a:b], train=True)
            return member.backward(y[a:b]), probs

    results = numpy_threads.run(one, [(m, a, b) for m, (a, b) in zip(nets, cuts)], len(cuts))
    weights = [(b - a) / float(len(x)) for a, b in cuts]  # each share's part of the batch
    flat = net.grads().flat
    flat *= flat.dtype.type(weights[0])
    for twin, weight in zip(twins, weights[1:]):
        flat += twin._grads.flat * flat.dtype.type(weight)  # never twin.grads(): see _twin
    net.join_shares([twin.acts for twin in twins])
    value = sum(r[0] * weight for r, weight in zip(results, weights))
    return value, np.concatenate([r[1] for r in results])


def _twins(net, count):
    """count twins of net (see the module docstring), kept on the net until it binds again."""
    bound = net._bound
    kept = getattr(net, "_twins", None)
    if kept is None or kept[0] is not bound or len(kept[1]) < count:
        made = [_twin(net, k) for k in range(count)]
        net._twins = kept = (bound, made)
    return kept[1][:count]


def _twin(net, k):
    """A twin whose layers hold the net's own parameter dicts. Nothing may call its params()
    or grads(): finding arrays it did not bind, it would bind them again, into the net's dicts."""
    twin = type(net)(net.spec(), backend=net.backend, seed=net.seed, dtype=net.dtype, preprocess=net.preprocess)
    for mine, its in zip(net.layers, twin.layers):
        its.param = mine.param  # the same dict: arrays the net binds again are seen here too
        if hasattr(mine, "rng"):  # dropout
            its.rng = np.random.RandomState(mine.rng.randint(2**31 - 1) + k)
    twin._params = twin._bound = None  # its own parameter buffer goes (VGG-16's: 553 MB)
    return twin
