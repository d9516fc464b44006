"""The Dataset record, the DataError exception and where the cache lives.

Everything else in datasets/ produces or consumes these. This module is pure Python + NumPy
(Python 3.8 / NumPy 1.17 compatible) because `import datasets` must work inside Pyodide.
Reading files, decoding images and downloading live in cifar.py, folder.py and download.py.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Environment variables users (and tests) set; named once here so messages quote them exactly.
DATA_ENV = "CONVNET_DATA"
CACHE_ENV = "CONVNET_CACHE_DIR"
APP_NAME = "convnet-playground"


class DataError(ValueError):
    """Input data is missing or unusable. The message says what, where, and what to do."""


def default_cache_dir() -> Path:
    """The directory for downloads and decoded arrays (never inside the repository).

    `$CONVNET_CACHE_DIR` if set; otherwise the platform's user cache directory:
    `$XDG_CACHE_HOME/convnet-playground` (default `~/.cache/convnet-playground`) on Linux,
    `~/Library/Caches/convnet-playground` on macOS, `%LOCALAPPDATA%\\convnet-playground` on
    Windows. The directory is not created here.
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        # The XDG spec says a relative value is invalid and must be ignored.
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / APP_NAME


@dataclass(repr=False)
class Dataset:
    """Images as uint8 (N, H, W, 3) and labels as int64 (N,), for a train and a test split.

    The arrays may be read-only memory maps of the cache (see cache.py): index them to get a
    batch (a fresh, writable copy); never convert the whole set to float.
    """

    train_x: np.ndarray  # uint8 (N, 32, 32, 3)
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray  # uint8 (M, 32, 32, 3)
    test_y: np.ndarray  # int64 (M,)
    classes: list  # list[str]; label i is classes[i]
    source: str = ""  # human-readable: where the data came from
    root: str = ""  # the folder or archive read ("" for data made in memory)

    def __post_init__(self):
        self.classes = [str(c) for c in self.classes]
        if not self.classes:
            raise DataError("Dataset %s: no classes" % (self.source or "(unnamed)"))
        for split in ("train", "test"):
            x = getattr(self, split + "_x")
            y = getattr(self, split + "_y")
            where = "Dataset %s, %s split" % (self.source or "(unnamed)", split)
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
                raise DataError("%s: images must be uint8 (N, H, W, 3), got %s %s" % (where, x.dtype, x.shape))
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise DataError("%s: %d images but labels of shape %s" % (where, x.shape[0], y.shape))
            if y.dtype != np.int64:
                setattr(self, split + "_y", y.astype(np.int64))
            if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                raise DataError(
                    "%s: labels must lie in 0..%d (one per class), found %d..%d"
                    % (where, len(self.classes) - 1, y.min(), y.max())
                )
        if self.train_x.shape[1:] != self.test_x.shape[1:]:
            raise DataError(
                "Dataset %s: train images are %s but test images are %s"
                % (self.source, self.train_x.shape[1:], self.test_x.shape[1:])
            )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self):
        shape = "x".join(str(s) for s in self.train_x.shape[1:])
        return "Dataset(train=%d, test=%d, images %s, %d classes, source=%r)" % (
            len(self.train_y),
            len(self.test_y),
            shape,
            len(self.classes),
            self.source,
        )
