"""load_dataset: find the data, decode it once, and serve it from the cache afterwards.

Where the data come from, first match wins:
1. `path` (the CLI's `--data PATH`), 2. `$CONVNET_DATA`, 3. the cache directory
(`$CONVNET_CACHE_DIR`, else e.g. ~/.cache/convnet-playground) holding `cifar-10-python.tar.gz`
or `cifar-10-batches-py/`, 4. a download of the official archive into the cache directory.
A PATH may be the official archive, its extracted folder (or a folder containing either), or an
image folder `train/<class>/*`, `test/<class>/*`.

This module and those it imports need only the standard library and NumPy (`import datasets`
runs in Pyodide); Pillow, pooch and the image-folder reader are imported when a load needs them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from . import cache, cifar
from . import download as dl  # light: pooch and requests are imported inside its functions
from .core import DATA_ENV, DataError, Dataset, default_cache_dir
from .download import ARCHIVE_NAME, CIFAR10_MD5, CIFAR10_URL


def load_dataset(
    path=None,
    *,
    download: bool = True,
    progress: bool = True,
    cache_dir=None,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    image_size: int = 32,
) -> Dataset:
    """Load CIFAR-10 (or an image folder) as uint8 arrays; see the module docstring for where from.

    path: str or Path or None (`--data`). download: fetch the official archive when nothing is
    found (False: raise DataError instead). progress: show progress bars on stderr.
    cache_dir: defaults to default_cache_dir(). url, md5: the archive to download.
    image_size: an image folder's images are decoded to image_size x image_size (16..128);
    CIFAR-10 is 32x32 only.
    The first load of a source decodes it and writes the cache; later loads map the cached
    arrays read-only, in well under a second. Raises DataError saying what to do.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    size = _check_size(image_size)
    if path is not None and str(path) != "":
        return _load_path(Path(path).expanduser(), "--data", cache_dir, progress, size)
    env = os.environ.get(DATA_ENV, "")
    if env:
        return _load_path(Path(env).expanduser(), DATA_ENV, cache_dir, progress, size)
    _cifar_size(size, "CIFAR-10")

    archive = cache_dir / ARCHIVE_NAME
    if archive.is_file():
        key = cache.content_key("cifar-archive", archive, [archive])
        ds = _from_cache(archive, key, cache_dir, _label("CIFAR-10 archive", archive, "cache"))
        if ds is not None:
            return ds
        # First use of this copy: check its MD5 (a download verifies it; pooch replaces a bad one).
        if dl.md5_of(archive) != md5:
            if not download:
                raise DataError(
                    "%s does not have the official MD5 %s: it is corrupt or incomplete. Delete it. %s"
                    % (archive, md5, dl.how_to_fix(cache_dir))
                )
            archive = dl.download_cifar10(cache_dir, url=url, md5=md5, progress=progress)
        return _load_archive(archive, cache_dir, progress, "cache")
    if (cache_dir / cifar.FOLDER_NAME).is_dir():
        return _load_path(cache_dir / cifar.FOLDER_NAME, "cache", cache_dir, progress)

    if not download:
        raise DataError(
            "No CIFAR-10 data found: no --data PATH given, %s is not set, and %s holds neither %s "
            "nor %s/. %s" % (DATA_ENV, cache_dir, ARCHIVE_NAME, cifar.FOLDER_NAME, dl.how_to_fix(cache_dir))
        )
    archive = dl.download_cifar10(cache_dir, url=url, md5=md5, progress=progress)
    return _load_archive(archive, cache_dir, progress, "downloaded")


def _check_size(size) -> int:
    from .folder import MAX_SIZE, MIN_SIZE

    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise DataError("image size must be a whole number from %d to %d, got %r" % (MIN_SIZE, MAX_SIZE, size))
    return size


def _cifar_size(size, what):
    if size != 32:
        raise DataError(
            "%s is 32x32: an image size of %d applies to image folders only — drop it, or use an "
            "image folder (train/<class>/...)" % (what, size)
        )


def _load_path(p: Path, origin: str, cache_dir: Path, progress: bool, size: int = 32) -> Dataset:
    from . import folder  # it imports multiprocessing: not at `import datasets` time

    given = "%s=%s" % (origin, p) if origin == DATA_ENV else "%s %s" % (origin, p)
    if not p.exists():
        raise DataError(
            "%s: no such file or directory. Point it at cifar-10-python.tar.gz, its extracted "
            "cifar-10-batches-py/ folder, or an image folder with train/<class>/ and test/<class>/." % given
        )
    if p.is_file():
        _cifar_size(size, str(p))
        return _load_archive(p, cache_dir, progress, origin)
    batches = cifar.find_batches_dir(p)
    if batches is not None:
        _cifar_size(size, str(batches))
        files = cifar.folder_files(batches)
        label = _label("CIFAR-10 folder", batches, origin)
        return _decoded("cifar-folder", batches, files, lambda: cifar.read_folder(batches), cache_dir, label)
    if folder.is_image_folder(p):
        sc = folder.scan(p)
        label = _label("image folder", p, origin) + ", %d classes" % len(sc.classes)
        if sc.held_out:
            label += ", no test/ folder: %d%% of each class held out as test" % round(100 * folder.HOLDOUT)

        def decode():
            arrays, notes = folder.decode(sc, progress=progress, size=size)
            return arrays, sc.classes, notes

        # The key names the size and the split: a 64x64 decode or a held-out split is its own entry.
        kind = "image-folder" + ("-%d" % size if size != 32 else "") + ("-heldout" if sc.held_out else "")
        return _decoded(kind, p, sc.all_files(), decode, cache_dir, label)
    if (p / ARCHIVE_NAME).is_file():
        _cifar_size(size, str(p / ARCHIVE_NAME))
        return _load_archive(p / ARCHIVE_NAME, cache_dir, progress, origin)
    listing = sorted(x.name for x in p.iterdir())
    raise DataError(
        "%s: not a CIFAR-10 archive or folder, nor an image folder (it holds: %s). Expected "
        "cifar-10-python.tar.gz, the extracted cifar-10-batches-py/ folder, or train/<class>/ and "
        "test/<class>/ folders of .png/.jpg/.jpeg images."
        % (given, ", ".join(listing[:8]) + (", ..." if len(listing) > 8 else "") or "nothing")
    )


def _load_archive(archive: Path, cache_dir: Path, progress: bool, origin: str) -> Dataset:
    label = _label("CIFAR-10 archive", archive, origin)
    return _decoded("cifar-archive", archive, [archive], lambda: cifar.read_archive(archive), cache_dir, label)


def _label(what: str, p: Path, origin: str) -> str:
    how = {"cache": "from the cache directory", "downloaded": "downloaded", DATA_ENV: "via $" + DATA_ENV}
    return "%s %s (%s)" % (what, p, how.get(origin, "via " + origin))


def _from_cache(root, key, cache_dir, label):
    """The Dataset from a complete cache entry for this source as it is now, or None."""
    hit = cache.load(cache_dir, root, key)
    if hit is None:
        return None
    arrays, meta = hit
    for note in meta.get("notes", []):
        # The decode warned once; later loads repeat it so a resized image is never a secret.
        warnings.warn(note + " (decoded earlier; cached)", stacklevel=4)
    return Dataset(classes=meta["classes"], source=label, root=str(root), **arrays)


def _decoded(kind, root, files, decode, cache_dir, label) -> Dataset:
    """The cached arrays for this source, decoding (and caching) them first if needed."""
    key = cache.content_key(kind, root, files)
    ds = _from_cache(root, key, cache_dir, label)
    if ds is not None:
        return ds
    arrays, classes, notes = decode()
    meta = {"kind": kind, "classes": classes, "notes": notes}
    hit = None
    if cache.save(cache_dir, root, key, arrays, meta) is not None:
        # Serve the read-only maps of what was just written: the same arrays every later
        # load gets, and the decoded copy is freed.
        hit = cache.load(cache_dir, root, key)
    if hit is None:
        for a in arrays.values():
            a.setflags(write=False)
        hit = arrays, meta
    arrays, meta = hit
    return Dataset(classes=meta["classes"], source=label, root=str(root), **arrays)
