"""Reading the official CIFAR-10 "python version": the .tar.gz archive or its extracted folder.

The archive holds `cifar-10-batches-py/` with six pickled dicts (`data_batch_1`..`5`,
`test_batch`), each with `b'data'`: uint8 (10000, 3072), every row a 32x32 image stored as
three planes R, G, B of 1024 row-major pixels, and `b'labels'`: 10000 ints; plus
`batches.meta` with `b'label_names'`. They were pickled by Python 2, so keys and names are bytes.

The archive is read straight from the tar (no extraction). Pickle can run arbitrary code, and
--data may point at anything, so unpickling only admits what a NumPy array needs.
Downloading lives in download.py, caching in cache.py.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from .core import DataError

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_BATCHES = tuple("data_batch_%d" % i for i in range(1, 6))
MEMBERS = TRAIN_BATCHES + ("test_batch", "batches.meta")
_FIX = (
    "Use the official CIFAR-10 python version (cifar-10-python.tar.gz, or its extracted "
    "cifar-10-batches-py/ folder) or an image folder with train/<class>/ and test/<class>/."
)


def find_batches_dir(path: Path):
    """The folder holding the extracted batches: `path` itself or `path/cifar-10-batches-py`."""
    for d in (path, path / FOLDER_NAME):
        if (d / "batches.meta").is_file() or (d / "data_batch_1").is_file():
            return d
    return None


def folder_files(folder: Path) -> list:
    """The seven member files of an extracted folder; DataError naming any that are missing."""
    missing = [m for m in MEMBERS if not (folder / m).is_file()]
    if missing:
        raise DataError("%s: missing %s. %s" % (folder, ", ".join(missing), _FIX))
    return [folder / m for m in MEMBERS]


def read_folder(folder: Path):
    """Decode an extracted `cifar-10-batches-py/` folder -> (arrays dict, classes, notes)."""
    blobs = {m: f.read_bytes() for m, f in zip(MEMBERS, folder_files(folder))}
    return _assemble(blobs, folder)


def read_archive(path: Path):
    """Decode `cifar-10-python.tar.gz` without extracting it -> (arrays dict, classes, notes)."""
    blobs = {}
    try:
        with tarfile.open(str(path), "r:*") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if member.isfile() and name in MEMBERS and name not in blobs:
                    blobs[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DataError(
            "%s: not a readable .tar.gz archive: corrupt, truncated, or another kind of file (%s). "
            "If it is CIFAR-10, delete it and download it again "
            "(https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz), or pass --data with a "
            "good copy." % (path, str(e) or type(e).__name__)
        ) from e
    missing = [m for m in MEMBERS if m not in blobs]
    if missing:
        raise DataError("%s: the archive has no %s. %s" % (path, ", ".join(missing), _FIX))
    return _assemble(blobs, path)


def _assemble(blobs: dict, where: Path):
    """Turn the seven pickles into uint8 (N, 32, 32, 3) images, int64 labels and class names."""
    meta = _unpickle(blobs["batches.meta"], "%s: batches.meta" % where)
    names = _get(meta, "label_names", "%s: batches.meta" % where)
    classes = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
    if not classes:
        raise DataError("%s: batches.meta lists no label_names. %s" % (where, _FIX))

    def split(members):
        xs, ys = [], []
        for m in members:
            x, y = _batch(blobs[m], "%s: %s" % (where, m), len(classes))
            xs.append(x)
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)

    train_x, train_y = split(TRAIN_BATCHES)
    test_x, test_y = split(("test_batch",))
    arrays = {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}
    return arrays, classes, []  # no notes: nothing is ever converted or skipped


def _batch(blob: bytes, where: str, n_classes: int):
    d = _unpickle(blob, where)
    data = _get(d, "data", where)
    labels = _get(d, "labels", where)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = "%s %s" % (data.dtype, data.shape) if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError("%s: 'data' must be uint8 (N, 3072) (32x32 RGB planes), got %s. %s" % (where, got, _FIX))
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError("%s: 'labels' are not integers (%s). %s" % (where, e, _FIX)) from e
    if y.shape != (data.shape[0],):
        raise DataError("%s: %d images but %d labels. %s" % (where, data.shape[0], y.size, _FIX))
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(
            "%s: labels must lie in 0..%d (batches.meta names %d classes), found %d..%d"
            % (where, n_classes - 1, n_classes, y.min(), y.max())
        )
    # (N, 3072) -> (N, 3, 32, 32) planes -> (N, 32, 32, 3) pixels, one contiguous copy.
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, y


def _get(d, key: str, where: str):
    """d[b'key'] as Python 2 pickled it, or d['key'] for copies re-pickled by Python 3."""
    if isinstance(d, dict):
        for k in (key.encode(), key):
            if k in d:
                return d[k]
    have = ", ".join(sorted(repr(k) for k in d)) if isinstance(d, dict) else type(d).__name__
    raise DataError("%s: no %r entry (found %s). %s" % (where, key, have, _FIX))


# What unpickling NumPy arrays and Python 2 strings needs, and nothing else.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError("refusing to load %s.%s" % (module, name))
        if module.startswith("numpy.core."):
            # NumPy 2 renamed numpy.core to numpy._core; the old name still works but warns.
            try:
                return super().find_class("numpy._core." + module[len("numpy.core.") :], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def _unpickle(blob: bytes, where: str):
    try:
        # encoding="bytes": Python 2 str (keys, label names, array buffers) stays bytes.
        return _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as e:  # unpickling bad bytes can raise almost anything
        raise DataError("%s: not a readable CIFAR-10 batch (%s: %s). %s" % (where, type(e).__name__, e, _FIX)) from e
