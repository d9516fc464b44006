"""Batches for the training loop: validation split, seeded shuffling, ConvNetJS augmentation.

Pure NumPy, Python 3.8 / NumPy 1.17 compatible: the browser worker (Pyodide 0.17) runs this
very file. Batches are uint8 (B, H, W, C) images and int64 (B,) labels, gathered per batch
from the full arrays by index, so the dataset itself is never copied or converted to float;
normalisation is the net's job.
"""

from __future__ import annotations

import numpy as np


def validation_split(n: int, every: int = 10):
    """Split range(n) -> (train_idx, val_idx): every `every`-th image (0, 10, 20, ...) validates.

    That is ConvNetJS's CIFAR-10 demo rule (`n % 10 === 0` is validation). Because it takes
    one in ten throughout, a class-sorted set (as image folders are) gives a balanced
    validation set. every=0 or None: no validation, (arange(n), empty).
    """
    n = int(n)
    idx = np.arange(n, dtype=np.int64)
    if not every:
        return idx, idx[:0]
    every = int(every)
    if every < 2:
        raise ValueError("validation_split: every must be >= 2 (or 0 for no validation), got %d" % every)
    is_val = idx % every == 0
    return idx[~is_val], idx[is_val]


def augment_batch(xb, rng=None, *, max_shift: int = 2, flip: bool = True):
    """ConvNetJS's augmentation: a random shift of up to `max_shift` px and a random mirror.

    xb: (B, H, W, C), any dtype. Each image independently is moved by dy, dx in
    [-max_shift, max_shift] and, with probability 1/2, flipped left-right. Pixels that move in
    from outside are 0 (black in uint8), like ConvNetJS's `augment`, which fills with 0 (there
    0 is after its normalisation, i.e. mid-grey) and torchvision's RandomCrop(padding=2).
    rng: a np.random.Generator (or a seed). Returns a new array; xb is not modified.
    """
    xb = np.asarray(xb)
    if xb.ndim != 4:
        raise ValueError("augment_batch: expected images (B, H, W, C), got shape %s" % (xb.shape,))
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    B, H, W, C = xb.shape
    p = int(max_shift)
    padded = np.zeros((B, H + 2 * p, W + 2 * p, C), dtype=xb.dtype)  # (B, H+2p, W+2p, C)
    padded[:, p : p + H, p : p + W] = xb
    oy = rng.integers(0, 2 * p + 1, size=B)  # window offset p means no shift
    ox = rng.integers(0, 2 * p + 1, size=B)
    rows = oy[:, None] + np.arange(H)  # (B, H)
    cols = ox[:, None] + np.arange(W)  # (B, W)
    if flip:
        mirrored = rng.random(B) < 0.5
        cols = np.where(mirrored[:, None], cols[:, ::-1], cols)
    # One gather does crop and mirror for the whole batch: (B, 1, 1), (B, H, 1), (B, 1, W) -> (B, H, W, C)
    return padded[np.arange(B)[:, None, None], rows[:, :, None], cols[:, None, :]]


class Batches:
    """An endless stream of (xb uint8 (B, H, W, C), yb int64 (B,)) batches, epoch after epoch.

    x, y: the full arrays (not copied); indices: the rows to use (e.g. validation_split's
    train_idx), default all. Each epoch visits every row once, in an order reshuffled each
    epoch from `seed` (shuffle=False: in order); the last batch of an epoch may be smaller.
    augment=True applies augment_batch with its own seeded generator, so switching it on does
    not change the order of images.

    Counters: `epoch` is the number of completed epochs and `position` the next row within the
    current one; both update as soon as next_batch() returns, so a loop can check
    `b.position == 0` (or a change of `b.epoch`) right after a step to detect an epoch's end.
    `batch_size` may be changed between batches; len(b) is batches per epoch at that size.
    state_dict() / load_state_dict() save and restore where the stream is (counters and both
    generators), so that a resumed run draws the very batches it would have drawn.
    """

    def __init__(
        self, x, y, batch_size: int = 64, *, seed=0, shuffle: bool = True, augment: bool = False, indices=None
    ):
        if len(x) != len(y):
            raise ValueError("Batches: %d images but %d labels" % (len(x), len(y)))
        self.x = x
        self.y = y
        if indices is None:
            indices = np.arange(len(y), dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        if indices.ndim != 1 or indices.size == 0:
            raise ValueError("Batches: indices must be a non-empty 1-D array, got shape %s" % (indices.shape,))
        if indices.min() < 0 or indices.max() >= len(y):
            raise ValueError("Batches: indices must lie in 0..%d" % (len(y) - 1))
        self.indices = indices
        self.shuffle = bool(shuffle)
        self.augment = bool(augment)
        self.batch_size = batch_size
        # Two independent streams from one seed: order and augmentation do not disturb each other.
        order_seed, augment_seed = np.random.SeedSequence(seed).spawn(2)
        self._order_rng = np.random.default_rng(order_seed)
        self._augment_rng = np.random.default_rng(augment_seed)
        self.epoch = 0
        self.position = 0
        self._order = self._new_order()

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value):
        value = int(value)
        if value < 1:
            raise ValueError("Batches: batch_size must be at least 1, got %d" % value)
        self._batch_size = value

    @property
    def num_examples(self) -> int:
        """Rows per epoch."""
        return len(self.indices)

    def __len__(self):
        return -(-self.num_examples // self._batch_size)  # ceil

    def __iter__(self):
        return self

    def __next__(self):
        return self.next_batch()

    def next_batch(self):
        """The next (xb, yb); fresh arrays, safe to modify."""
        stop = min(self.position + self._batch_size, self.num_examples)
        rows = self._order[self.position : stop]
        xb = self.x[rows]  # (B, H, W, C): a gather, i.e. a copy of B images only
        yb = np.asarray(self.y[rows], dtype=np.int64)
        if self.augment:
            xb = augment_batch(xb, self._augment_rng)
        self.position = stop
        if stop == self.num_examples:
            self.epoch += 1
            self.position = 0
            self._order = self._new_order()
        return xb, yb

    def state_dict(self):
        """Where the stream is, as JSON-ready data (plain ints and dicts)."""
        return {
            "epoch": self.epoch,
            "position": self.position,
            "batch_size": self._batch_size,
            "num_examples": self.num_examples,
            "order_rng": self._order_rng_state,  # as it was before drawing this epoch's order
            "augment_rng": self._augment_rng.bit_generator.state,
        }

    def load_state_dict(self, state):
        """Continue from a state_dict() of a Batches over the same rows."""
        if int(state["num_examples"]) != self.num_examples:
            raise ValueError(
                "Batches: the saved stream ran over %d examples, this one has %d"
                % (state["num_examples"], self.num_examples)
            )
        self._order_rng.bit_generator.state = state["order_rng"]
        self._order = self._new_order()  # the same draw as then: the same order, the same generator after
        self._augment_rng.bit_generator.state = state["augment_rng"]
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.batch_size = state["batch_size"]

    def _new_order(self):
        self._order_rng_state = self._order_rng.bit_generator.state
        if self.shuffle:
            return self.indices[self._order_rng.permutation(len(self.indices))]
        return self.indices

    def __repr__(self):
        return "Batches(%d examples, batch_size=%d, epoch=%d, position=%d, shuffle=%s, augment=%s)" % (
            self.num_examples,
            self._batch_size,
            self.epoch,
            self.position,
            self.shuffle,
            self.augment,
        )
