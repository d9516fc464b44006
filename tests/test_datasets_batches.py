"""datasets/batches.py and synthetic.py: splits, seeded batching, augmentation, synthetic data.

Also the promise that `import datasets` stays light (NumPy only) for Pyodide.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import Batches, DataError, Dataset, augment_batch, synthetic_dataset, validation_split

REPO = Path(__file__).resolve().parents[1]


def _toy(n=10):
    x = np.arange(n * 2 * 2 * 3, dtype=np.uint8).reshape(n, 2, 2, 3)
    return x, np.arange(n, dtype=np.int64)


def _epoch(b):
    """All labels of one epoch, starting at an epoch boundary."""
    assert b.position == 0
    start, seen = b.epoch, []
    while b.epoch == start:
        seen.append(b.next_batch()[1])
    return np.concatenate(seen)


# -- validation_split ----------------------------------------------------------------------


def test_validation_split_takes_every_tenth_like_convnetjs():
    train, val = validation_split(25, every=10)
    assert val.tolist() == [0, 10, 20]
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(25))
    assert train.dtype == val.dtype == np.int64


def test_validation_split_is_balanced_on_class_sorted_data():
    y = np.repeat(np.arange(10), 5000)  # like the image folder: sorted by class
    _, val = validation_split(len(y))
    assert np.bincount(y[val]).tolist() == [500] * 10


def test_validation_split_zero_means_none_and_one_is_an_error():
    train, val = validation_split(7, every=0)
    assert train.tolist() == list(range(7)) and val.size == 0
    with pytest.raises(ValueError, match="every"):
        validation_split(7, every=1)


# -- Batches -------------------------------------------------------------------------------


def test_each_epoch_visits_every_row_once_in_a_new_order():
    x, y = _toy(10)
    b = Batches(x, y, batch_size=4, seed=0)
    assert len(b) == 3
    e1, e2 = _epoch(b), _epoch(b)
    assert sorted(e1.tolist()) == sorted(e2.tolist()) == list(range(10))
    assert e1.tolist() != e2.tolist()
    assert b.epoch == 2


def test_last_partial_batch_and_counters():
    x, y = _toy(10)
    b = Batches(x, y, batch_size=4, shuffle=False)
    sizes = []
    for _ in range(3):
        xb, yb = b.next_batch()
        sizes.append(len(yb))
        assert xb.shape == (len(yb), 2, 2, 3) and xb.dtype == np.uint8 and yb.dtype == np.int64
        assert np.array_equal(xb, x[yb])
    assert sizes == [4, 4, 2]
    assert (b.epoch, b.position) == (1, 0)


def test_same_seed_same_stream_other_seed_other_stream():
    x, y = _toy(50)

    def stream(seed):
        b = Batches(x, y, batch_size=8, seed=seed, augment=True)
        return [b.next_batch() for _ in range(10)]

    a, b2, c = stream(3), stream(3), stream(4)
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(a, b2))
    assert any(not np.array_equal(p[1], q[1]) for p, q in zip(a, c))


def test_augmentation_does_not_change_the_order():
    x, y = _toy(30)
    plain = Batches(x, y, batch_size=7, seed=1)
    augmented = Batches(x, y, batch_size=7, seed=1, augment=True)
    for _ in range(6):
        assert np.array_equal(plain.next_batch()[1], augmented.next_batch()[1])


def test_batch_size_can_change_between_batches():
    x, y = _toy(10)
    b = Batches(x, y, batch_size=3, shuffle=False)
    assert b.next_batch()[1].tolist() == [0, 1, 2]
    b.batch_size = 5
    assert len(b) == 2
    assert b.next_batch()[1].tolist() == [3, 4, 5, 6, 7]
    assert b.next_batch()[1].tolist() == [8, 9]
    assert b.epoch == 1
    with pytest.raises(ValueError, match="batch_size"):
        b.batch_size = 0


def test_indices_restrict_rows_and_iteration_is_next_batch():
    x, y = _toy(20)
    train, val = validation_split(20, every=10)
    b = Batches(x, y, batch_size=6, seed=0, indices=train)
    assert b.num_examples == 18
    seen = np.concatenate([yb for _, yb in (next(iter(b)) for _ in range(len(b)))])
    assert sorted(seen.tolist()) == train.tolist()
    with pytest.raises(ValueError, match="indices"):
        Batches(x, y, indices=[0, 20])


def test_batches_are_copies_of_read_only_sources():
    x, y = _toy(8)
    x.setflags(write=False)
    xb, yb = Batches(x, y, batch_size=8).next_batch()
    xb[...] = 0  # a batch is the caller's to modify
    assert x.any()
    with pytest.raises(ValueError, match="labels"):
        Batches(x, y[:5])


# -- augment_batch -------------------------------------------------------------------------


def _candidates(img, p=2):
    """Every shift in [-p, p]^2, plain and mirrored, with zero fill: the naive reference."""
    H, W, _ = img.shape
    out = []
    for src in (img, img[:, ::-1]):
        padded = np.pad(src, ((p, p), (p, p), (0, 0)))
        for oy in range(2 * p + 1):
            for ox in range(2 * p + 1):
                out.append(((oy - p, ox - p, src is not img), padded[oy : oy + H, ox : ox + W]))
    return out


def test_augment_is_a_shift_and_maybe_a_mirror_of_each_image():
    rng = np.random.default_rng(0)
    xb = rng.integers(1, 256, size=(200, 8, 8, 3)).astype(np.uint8)  # no zeros: fill is visible
    before = xb.copy()
    out = augment_batch(xb, np.random.default_rng(1))
    assert out.shape == xb.shape and out.dtype == np.uint8 and out is not xb
    assert np.array_equal(xb, before)
    seen = set()
    for img, aug in zip(xb, out):
        matches = [how for how, cand in _candidates(img) if np.array_equal(cand, aug)]
        assert matches, "augmented image is not a shift/mirror of its source"
        seen.add(matches[0])
    assert {s[:2] for s in seen} == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    assert {s[2] for s in seen} == {False, True}


def test_augment_without_shift_or_flip_is_identity_and_accepts_a_seed():
    xb = np.random.default_rng(0).integers(0, 256, size=(4, 5, 5, 3)).astype(np.uint8)
    assert np.array_equal(augment_batch(xb, 0, max_shift=0, flip=False), xb)
    assert np.array_equal(augment_batch(xb, 7), augment_batch(xb, 7))
    with pytest.raises(ValueError, match="B, H, W, C"):
        augment_batch(xb[0], 0)


# -- synthetic_dataset and Dataset ---------------------------------------------------------


def test_synthetic_dataset_shapes_balance_and_determinism():
    ds = synthetic_dataset(n_train=200, n_test=50, n_classes=10, seed=0)
    assert isinstance(ds, Dataset)
    assert ds.train_x.shape == (200, 32, 32, 3) and ds.train_x.dtype == np.uint8
    assert ds.test_x.shape == (50, 32, 32, 3) and ds.test_y.dtype == np.int64
    assert np.bincount(ds.train_y).tolist() == [20] * 10
    assert len(ds.classes) == 10 and "synthetic" in ds.source
    again = synthetic_dataset(n_train=200, n_test=50, n_classes=10, seed=0)
    assert np.array_equal(ds.train_x, again.train_x) and np.array_equal(ds.test_y, again.test_y)
    assert not np.array_equal(ds.train_x, synthetic_dataset(seed=1).train_x)


def test_synthetic_dataset_is_learnable():
    """Nearest mean colour, fit on train, must classify held-out images (a ConvNet does more)."""
    ds = synthetic_dataset(n_train=300, n_test=200, n_classes=10, seed=2)

    def chroma(x):
        m = x.reshape(len(x), -1, 3).mean(1)
        return m / m.sum(1, keepdims=True)

    centres = np.stack([chroma(ds.train_x[ds.train_y == c]).mean(0) for c in range(10)])
    pred = ((chroma(ds.test_x)[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    assert (pred == ds.test_y).mean() > 0.9


def test_dataset_rejects_inconsistent_arrays():
    x = np.zeros((4, 32, 32, 3), np.uint8)
    y = np.array([0, 1, 0, 1])
    ds = Dataset(x, y.astype(np.int32), x, y, ["a", "b"], "t")
    assert ds.train_y.dtype == np.int64
    with pytest.raises(DataError, match="labels must lie"):
        Dataset(x, y + 1, x, y, ["a", "b"], "t")
    with pytest.raises(DataError, match="uint8"):
        Dataset(x.astype(np.float32), y, x, y, ["a", "b"], "t")


def test_import_datasets_loads_neither_pillow_nor_pooch():
    code = (
        "import sys, datasets; "
        "bad = [m for m in ('PIL', 'pooch', 'requests', 'tqdm') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=str(REPO), check=True)
