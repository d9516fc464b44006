"""Synthetic, learnable image data for tests and demos: no files, no download, instant.

Class c is a blob of its own colour (hue c / n_classes) filled with stripes at its own angle,
at a random place on a dark noisy background, with random phase, brightness and tilt. Colour
alone separates the classes (nearest mean colour scores 100% on held-out images), so a small
ConvNet learns it quickly. Pure NumPy, Python 3.8 / NumPy 1.17 compatible (the browser worker
uses it).
"""

from __future__ import annotations

import numpy as np

from .core import Dataset

_CHUNK = 1024  # images generated at once: bounds the float64 scratch memory to ~25 MB


def synthetic_dataset(n_train: int = 200, n_test: int = 50, n_classes: int = 10, seed=0, *, size: int = 32) -> Dataset:
    """A Dataset of uint8 (N, size, size, 3) images with balanced int64 labels 0..n_classes-1."""
    if n_classes < 2:
        raise ValueError("synthetic_dataset: need at least 2 classes, got %d" % n_classes)
    if n_train < 0 or n_test < 0:
        raise ValueError("synthetic_dataset: sizes must be >= 0, got n_train=%d n_test=%d" % (n_train, n_test))
    rng = np.random.default_rng(seed)
    train_y = _balanced_labels(n_train, n_classes, rng)
    test_y = _balanced_labels(n_test, n_classes, rng)
    return Dataset(
        train_x=_images(train_y, n_classes, size, rng),
        train_y=train_y,
        test_x=_images(test_y, n_classes, size, rng),
        test_y=test_y,
        classes=["class%d" % c for c in range(n_classes)],
        source="synthetic (n_train=%d, n_test=%d, n_classes=%d, seed=%s)" % (n_train, n_test, n_classes, seed),
    )


def _balanced_labels(n, n_classes, rng):
    y = np.arange(n, dtype=np.int64) % n_classes
    rng.shuffle(y)
    return y


def _images(labels, n_classes, size, rng):
    out = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    for start in range(0, len(labels), _CHUNK):
        y = labels[start : start + _CHUNK]
        out[start : start + len(y)] = _render(y, n_classes, size, rng)
    return out


def _render(y, n_classes, size, rng):
    n = len(y)
    hue = y / float(n_classes)  # (n,)
    colour = 0.5 + 0.5 * np.cos(2 * np.pi * (hue[:, None] + np.array([0.0, 1.0, 2.0]) / 3))  # (n, 3)
    colour *= rng.uniform(0.8, 1.0, size=(n, 1))
    # Angles in steps of 3/n_classes of a half-turn, so classes of neighbouring hue differ in angle too.
    angle = np.pi * ((3 * y) % n_classes) / n_classes + rng.uniform(-0.15, 0.15, size=n)  # (n,)

    grid = (np.arange(size) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    yy = grid[None, :, None]  # (1, size, 1)
    xx = grid[None, None, :]  # (1, 1, size)
    along = xx * np.cos(angle)[:, None, None] + yy * np.sin(angle)[:, None, None]  # (n, size, size)
    stripes = 0.5 + 0.5 * np.sin(3 * np.pi * along + rng.uniform(0, 2 * np.pi, size=(n, 1, 1)))

    cy = rng.uniform(-0.4, 0.4, size=(n, 1, 1))
    cx = rng.uniform(-0.4, 0.4, size=(n, 1, 1))
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.5**2))  # (n, size, size)

    fg = (0.35 + 0.65 * stripes) * blob  # (n, size, size)
    img = 0.1 + 0.85 * fg[..., None] * colour[:, None, None, :]  # (n, size, size, 3)
    img += rng.normal(0.0, 0.04, size=img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
