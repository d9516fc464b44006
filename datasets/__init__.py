"""CIFAR-10 and image folders, from files on disk to uint8 batches for the engine.

    ds = load_dataset(path)                       # --data PATH, $CONVNET_DATA, cache, download
    train_idx, val_idx = validation_split(len(ds.train_y), every=10)
    for xb, yb in Batches(ds.train_x, ds.train_y, 64, seed=0, augment=True, indices=train_idx):
        ...                                       # xb uint8 (B, 32, 32, 3), yb int64 (B,)

Where things live: core.py (Dataset, DataError, cache location), load.py (finding a source),
cifar.py / folder.py (decoding), download.py, cache.py, batches.py, synthetic.py.
Knows nothing of the web. Importing this package needs only NumPy (it runs in Pyodide):
Pillow and pooch are imported by the functions that use them.
"""

from .batches import Batches, augment_batch, validation_split
from .core import DataError, Dataset, default_cache_dir
from .load import load_dataset
from .synthetic import synthetic_dataset

__all__ = [
    "Batches",
    "DataError",
    "Dataset",
    "augment_batch",
    "default_cache_dir",
    "load_dataset",
    "synthetic_dataset",
    "validation_split",
]
