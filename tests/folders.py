"""Generated image folders for the tests of "your own images" (issue 16): small, learnable PNGs.

`image_folder(root, n_classes, ...)` writes datasets.synthetic_dataset's images (a blob of a
class's own colour and stripe angle) as `train/<class>/*.png` and, unless `test=False`,
`test/<class>/*.png`, under class names that are not CIFAR's, so a test can tell the data's
names from a fallback. `size` other than 32 writes images of that size (the loader resizes).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from datasets import synthetic_dataset

NAMES = ["apple", "brick", "cloud", "daisy", "ember", "fern", "grape", "honey", "iris", "jade", "kiwi", "lime"]


def class_names(n):
    return NAMES[:n] if n <= len(NAMES) else ["c%03d" % i for i in range(n)]


def image_folder(root, n_classes, *, per_class=40, test_per_class=10, test=True, size=32, seed=0):
    """Write the folder and return (root, class names)."""
    from PIL import Image

    root = Path(root)
    names = class_names(n_classes)
    ds = synthetic_dataset(per_class * n_classes, test_per_class * n_classes, n_classes, seed, size=size)
    splits = [("train", ds.train_x, ds.train_y)] + ([("test", ds.test_x, ds.test_y)] if test else [])
    for split, x, y in splits:
        for k, name in enumerate(names):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in np.flatnonzero(y == k):
                Image.fromarray(x[i]).save(d / ("%04d.png" % i))
    return root, names


def zip_bytes(members):
    """A .zip in memory of {name: bytes}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def folder_zip(root):
    """A .zip of an image folder (train/<class>/..., test/<class>/...) as bytes."""
    root = Path(root)
    return zip_bytes({str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()})
