"""Reading an image folder: `train/<class>/*` and `test/<class>/*`, PNG or JPEG.

This is how the CIFAR-10 JPEG folder the tests read is laid out (tests/test_datasets_folder.py),
and how users bring their own N-class image sets. Class names are the class folders' names,
sorted; label i is classes[i]. Images are ordered by class, then by file name (so shuffle
before taking any subset).

What happens to unusual input (the README says the same):
- No test/ folder: a seeded 20% of each class of train/ (HOLDOUT) is held out as the test
  split, and a note says so (the CLI and the page show it).
- A class folder present in only one split, an empty class folder (no .png/.jpg/.jpeg), a
  missing train/, fewer than two classes or more than MAX_CLASSES: DataError.
- A file ending in .png/.jpg/.jpeg that Pillow cannot read (truncated, or not an image at
  all): DataError naming the file. Other files (README.txt, Thumbs.db, subfolders) are skipped
  with one warning; hidden files (".DS_Store") are skipped silently.
- Grayscale, palette, RGBA or CMYK images are converted to RGB (alpha is dropped), silently.
- An image that is not SxS (S = 32 unless `size` says otherwise, 16..128) is resized, with
  one warning per load giving the count: its
  largest centred square is cropped (so nothing is stretched), then scaled to SxS with
  bicubic filtering, after applying any EXIF rotation (phone photos).

Speed: Image.open parses a JPEG's header in Python, which costs more than decoding 32x32
pixels; a plain 32x32 RGB JPEG (all of CIFAR) therefore goes straight to libjpeg via
Image.frombytes (same pixels, tested; anything else takes the general path), which is much
faster than Image.open (docs/BENCHMARKS.md, "Decoding CIFAR's JPEGs"). What remains is mostly
file reads and libjpeg, both of which release the GIL, so worker threads overlap them. Threads,
not processes: "spawn" workers re-import the caller's main module (an unguarded script breaks;
the app would re-import Panel in each), and "fork" is unsafe in a threaded server.
"""

from __future__ import annotations

import io
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test")
SIZE = 32
POOL_MIN_IMAGES = 4000  # below this, one thread: nothing to gain
DEFAULT_WORKERS = 2
CHUNK = 1000  # images per task: small enough for a live progress bar
MAX_CLASSES = 100  # more would make the page's confusion matrix and class lists unreadable
HOLDOUT = 0.2  # share of each class held out as test when a folder has no test/
MIN_SIZE, MAX_SIZE = 16, 128  # image sizes a run may use (--image-size)
_LAYOUT = (
    "An image folder needs train/<class>/ folders holding .png/.jpg/.jpeg files, and test/<class>/ "
    "folders too unless a share of train/ is to be held out as test."
)


def is_image_folder(path: Path) -> bool:
    return (path / "train").is_dir() or (path / "test").is_dir()


@dataclass
class Scan:
    """The folder's listing: what load.py keys the cache on and decode() reads."""

    root: Path
    classes: list  # list[str], sorted
    files: dict  # split -> list[str] of paths, by class then name
    labels: dict  # split -> int64 (n,)
    skipped: list  # list[str]: non-image files, relative to root
    held_out: bool = False  # no test/ folder: the test split is HOLDOUT of each class of train/

    def all_files(self):
        return self.files["train"] + self.files["test"]


def scan(root: Path, *, seed: int = 0) -> Scan:
    """List the folder and check its layout; DataError says what is wrong and where.

    No test/ folder: a seeded HOLDOUT share of each class's images (sorted by name, then
    shuffled with `seed`) becomes the test split, and Scan.held_out says so."""
    if not (root / "train").is_dir():
        raise DataError("%s: no train/ folder. %s" % (root, _LAYOUT))
    held_out = not (root / "test").is_dir()
    splits = ("train",) if held_out else SPLITS
    found = {}
    for s in splits:
        with os.scandir(root / s) as it:
            found[s] = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    if held_out:
        found["test"] = found["train"]
    if not found["train"]:
        raise DataError("%s: train/ has no class folders. %s" % (root, _LAYOUT))
    only_train = sorted(set(found["train"]) - set(found["test"]))
    only_test = sorted(set(found["test"]) - set(found["train"]))
    if only_train or only_test:
        parts = []
        if only_train:
            parts.append("test/ lacks %s" % ", ".join(only_train))
        if only_test:
            parts.append("train/ lacks %s" % ", ".join(only_test))
        raise DataError(
            "%s: train/ and test/ must have the same class folders, but %s. Add the missing "
            "folders (with images) or remove the extra ones." % (root, "; ".join(parts))
        )
    classes = found["train"]
    if len(classes) < 2:
        raise DataError("%s: found only the class %r; a classifier needs at least two classes." % (root, classes[0]))

    if len(classes) > MAX_CLASSES:
        raise DataError(
            "%s: %d class folders; the playground trains up to %d classes. Merge or remove some."
            % (root, len(classes), MAX_CLASSES)
        )

    files = {s: [] for s in SPLITS}
    labels = {s: [] for s in SPLITS}
    skipped = []
    rng = np.random.RandomState(seed)
    for s in splits:
        for label, c in enumerate(classes):
            d = root / s / c
            images = []
            for n in sorted(os.listdir(d)):
                if n.lower().endswith(IMAGE_SUFFIXES):
                    images.append(n)
                elif not n.startswith("."):
                    skipped.append("%s/%s/%s" % (s, c, n))
            where = "%s/%s" % (s, c) if not held_out else "train/%s" % c
            if not images or (held_out and len(images) < 2):
                raise DataError(
                    "%s: class folder %s has %s. Add images, or remove the class%s."
                    % (
                        root,
                        where,
                        "no images (.png/.jpg/.jpeg)"
                        if not images
                        else "only one image (with no test/ "
                        "folder, each class needs two: one to train on, one held out to test)",
                        "" if held_out else " from both train/ and test/",
                    )
                )
            prefix = os.path.join(str(d), "")
            paths = [prefix + n for n in images]
            if held_out:
                # A seeded share per class, so every class is tested and a rerun holds out the same.
                order = rng.permutation(len(paths))
                k = min(len(paths) - 1, max(1, int(round(HOLDOUT * len(paths)))))
                test = set(order[:k].tolist())
                for split, keep in (("test", True), ("train", False)):
                    chosen = [p for i, p in enumerate(paths) if (i in test) == keep]
                    files[split] += chosen
                    labels[split] += [label] * len(chosen)
            else:
                files[s] += paths
                labels[s] += [label] * len(paths)
    labels = {s: np.asarray(v, dtype=np.int64) for s, v in labels.items()}
    return Scan(root, classes, files, labels, skipped, held_out)


def decode(sc: Scan, *, progress: bool = True, workers=None, size: int = SIZE):
    """Decode every image of a scanned folder to size x size -> (arrays dict, notes: warnings given)."""
    paths = sc.all_files()
    x, resized = _decode_all(paths, progress, workers, size)
    n_train = len(sc.files["train"])
    arrays = {"train_x": x[:n_train], "train_y": sc.labels["train"], "test_x": x[n_train:], "test_y": sc.labels["test"]}
    notes = []
    if sc.skipped:
        notes.append(
            "%s: skipped %d file(s) that are not .png/.jpg/.jpeg images (e.g. %s)."
            % (sc.root, len(sc.skipped), sc.skipped[0])
        )
    if resized:
        path, w, h = resized[0]
        notes.append(
            "%s: %d of %d images are not %dx%d (e.g. %s is %dx%d); they were centre-cropped to a "
            "square and resized to %dx%d." % (sc.root, len(resized), len(paths), size, size, path, w, h, size, size)
        )
    for note in notes:
        warnings.warn(note, stacklevel=3)
    return arrays, notes


def _decode_all(paths, progress, workers, size):
    out = np.empty((len(paths), size, size, 3), np.uint8)  # (N, S, S, 3)
    resized = []
    bar = _bar(len(paths), progress)
    starts = range(0, len(paths), CHUNK)
    if workers is None:
        workers = DEFAULT_WORKERS if len(paths) >= POOL_MIN_IMAGES else 1
    with ThreadPoolExecutor(max(1, workers)) as ex:
        futures = [ex.submit(decode_paths, paths[s : s + CHUNK], size) for s in starts]
        try:
            for s, f in zip(starts, futures):
                x, r = f.result()
                out[s : s + len(x)] = x
                resized.extend(r)
                bar.update(len(x))
        except BaseException:
            for f in futures:  # after a DataError (or Ctrl-C), do not decode the rest
                f.cancel()
            raise
        finally:
            bar.close()
    return out, resized


def decode_paths(paths, size=SIZE):
    """Decode images to uint8 (n, size, size, 3) -> (array, [(path, w, h) of resized ones]).

    Module-level so worker processes can run it.
    """
    from PIL import Image

    out = np.empty((len(paths), size, size, 3), np.uint8)
    resized = []
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
            if size == SIZE and _is_plain_rgb_jpeg(data):
                try:
                    # Straight to libjpeg, skipping Image.open's Python header parsing (see the
                    # module docstring), same pixels. Any doubt: the general path decides.
                    out[i] = np.asarray(Image.frombytes("RGB", (SIZE, SIZE), data, "jpeg", "RGB", ""))
                    continue
                except (ValueError, OSError):
                    pass
            out[i], original = _decode_general(data, size)
            if original is not None:
                resized.append((path,) + original)
        except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ... on bad files
            raise DataError(
                "%s: not a readable PNG/JPEG image (%s: %s). Remove or replace this file." % (path, type(e).__name__, e)
            ) from None
    return out, resized


def _decode_general(data: bytes, size: int = SIZE):
    """Any PNG/JPEG -> (uint8 (size, size, 3), original (w, h) if it was resized, else None)."""
    from PIL import Image, ImageOps

    # Naming the formats skips probing every plugin Pillow knows (docs/BENCHMARKS.md,
    # "Decoding CIFAR's JPEGs").
    with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as im:
        if im.mode == "P":
            im = im.convert("RGBA")  # palette transparency needs RGBA first
        if im.mode != "RGB":
            im = im.convert("RGB")  # grayscale, RGBA (alpha dropped), CMYK, ...
        if im.size == (size, size):
            return np.asarray(im), None
        original = im.size
        im = ImageOps.exif_transpose(im)
        w, h = im.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        # crop() first: resize(box=...) would let the filter see pixels outside the box.
        return np.asarray(im.crop(box).resize((size, size), Image.Resampling.BICUBIC)), original


_SOF = {0xC0, 0xC1}  # baseline and extended sequential; progressive and others go the general way


def _is_plain_rgb_jpeg(data: bytes) -> bool:
    """A sequential 3-channel 32x32 JPEG without an Adobe colour-transform segment?"""
    if data[:2] != b"\xff\xd8":
        return False
    i, n = 2, len(data)
    while i + 4 <= n and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _SOF:
            return i + 10 <= n and data[i + 5 : i + 10] == b"\x00\x20\x00\x20\x03"  # H=32, W=32, 3 channels
        other_frame = 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)  # C4/C8/CC are not frames
        if marker == 0xEE or other_frame or marker == 0xDA:
            return False  # Adobe APP14, another frame type, or scan data before any frame header
        i += 2 + ((data[i + 2] << 8) | data[i + 3])
    return False


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _bar(total, progress):
    if not progress or total < POOL_MIN_IMAGES:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        print("Decoding %d images (once; later loads read the cache)..." % total, file=sys.stderr)
        return _NoBar()
    return tqdm(total=total, unit="img", desc="decoding images (once)", file=sys.stderr)
