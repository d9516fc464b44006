"""The decoded-array cache: decode a source once, then load it in well under a second.

Layout inside the cache directory (see core.default_cache_dir):

    decoded/<path-hash>-<content-hash>/train_x.npy, train_y.npy, test_x.npy, test_y.npy, meta.json

`<path-hash>` names the source (its resolved path), `<content-hash>` its identity: the name,
size and mtime of every file it was decoded from, plus a format version. Change one image and
the entry no longer matches, so the source is decoded again and the old entry is removed.

An entry appears all at once or not at all: it is written into a temporary directory beside
the final one and moved into place with os.replace, so an interrupted run never leaves a
half-written entry that a later run would trust. Loads use np.load(allow_pickle=False,
mmap_mode="r"): the arrays are read-only views of the files, shared through the page cache by
every process that loads them (the app, the CLI, build.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

# Bump when the decoding changes (resize policy, layout) so old entries are not trusted.
FORMAT_VERSION = 1
ARRAYS = ("train_x", "train_y", "test_x", "test_y")
_STALE_TMP_SECONDS = 24 * 3600


def content_key(kind: str, root: Path, files) -> str:
    """A hash of the source's identity: kind, and each file's relative path, size and mtime."""
    h = hashlib.sha256(("v%d %s\n" % (FORMAT_VERSION, kind)).encode())
    lines = []
    prefix = os.path.join(os.fspath(root), "") if os.path.isdir(root) else None
    for f in files:
        f = os.fspath(f)
        st = os.stat(f)
        # Paths relative to the source (slicing: os.path.relpath costs more than the stat).
        rel = f[len(prefix) :] if prefix and f.startswith(prefix) else os.path.basename(f)
        lines.append("%s\t%d\t%d\n" % (rel, st.st_size, st.st_mtime_ns))
    # One update of one big string: per-file hashing costs more than the stat calls.
    h.update("".join(lines).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _path_hash(source: Path) -> str:
    return hashlib.sha256(str(Path(source).resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def entry_dir(cache_dir: Path, source: Path, key: str) -> Path:
    return Path(cache_dir) / "decoded" / ("%s-%s" % (_path_hash(source), key[:16]))


def load(cache_dir: Path, source: Path, key: str):
    """Return (arrays dict, meta dict) for a complete matching entry, or None on a miss.

    A damaged entry (missing file, shape disagreeing with meta.json) counts as a miss; the
    caller decodes again and save() replaces it.
    """
    entry = entry_dir(cache_dir, source, key)
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        if meta.get("key") != key or meta.get("version") != FORMAT_VERSION:
            return None
        arrays = {}
        for name in ARRAYS:
            a = np.load(entry / (name + ".npy"), mmap_mode="r", allow_pickle=False)
            if list(a.shape) != meta["shapes"][name]:
                return None
            # A plain read-only ndarray over the map: no np.memmap subclass leaking into callers.
            arrays[name] = np.asarray(a)
        return arrays, meta
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(cache_dir: Path, source: Path, key: str, arrays: dict, meta: dict):
    """Write an entry atomically; return its directory, or None (with a warning) on failure.

    Failing to cache is not fatal: the data are in memory and will be decoded again next time.
    """
    entry = entry_dir(cache_dir, source, key)
    parent = entry.parent
    tmp = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-" + entry.name + "-", dir=str(parent)))
        for name in ARRAYS:
            np.save(tmp / (name + ".npy"), np.ascontiguousarray(arrays[name]), allow_pickle=False)
        meta = dict(meta, key=key, version=FORMAT_VERSION, source=str(source), created=time.time())
        meta["shapes"] = {name: list(arrays[name].shape) for name in ARRAYS}
        # meta.json last: an entry without it is never read (but os.replace below is what
        # makes the entry appear complete or not at all).
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if entry.exists():
            shutil.rmtree(entry)  # a damaged entry that load() rejected
        try:
            os.replace(str(tmp), str(entry))
        except OSError:
            # Another process finished the same entry first; both are identical, keep theirs.
            if not (entry / "meta.json").exists():
                raise
        _prune(parent, entry)
        return entry
    except OSError as e:
        warnings.warn(
            "could not write the decoded-data cache in %s (%s); the data are loaded, but will be "
            "decoded again next time. Set CONVNET_CACHE_DIR to a writable directory to fix this." % (parent, e),
            stacklevel=3,
        )
        return None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _prune(parent: Path, keep: Path):
    """Remove older entries of the same source and temporary dirs abandoned by killed runs."""
    prefix = keep.name.split("-")[0] + "-"
    now = time.time()
    for d in parent.iterdir():
        if d == keep or not d.is_dir():
            continue
        if d.name.startswith(prefix):
            shutil.rmtree(d, ignore_errors=True)
        elif d.name.startswith(".tmp-"):
            try:
                if now - d.stat().st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass
