"""The "Data" card's numbers and HTML, and opening a new data source for the Runner.

data_summary(ds): the dataset's name and path, its classes with their image counts, a few
sample images per class, and a warning for a class with far fewer images than the others (the
net will rarely predict it, and its accuracy is measured on few images). data_card_html(summary)
draws it: bars for the counts, a grid of samples. open_folder(path) and open_zip(data, work_dir)
check a new source in the caller's thread (a listing only, fast) and return a loader for
Runner.load_data, which decodes in the training thread; what is not a usable image folder is a
DataError saying why, before anything of the run changes.

Panel-free (app/core): the server's Data card (app/views/data.py) and tests read it.
"""

from __future__ import annotations

import shutil
import tempfile
from html import escape
from pathlib import Path

import numpy as np

from datasets import DataError, load_dataset

from .fragments import png_data_uri

SAMPLES_PER_CLASS = 6
SMALL_CLASS_SHARE = 0.25  # a class under this share of the median class is "far fewer"


def data_summary(ds, samples=SAMPLES_PER_CLASS, seed=0):
    """A plain dict for the Data card, from a Dataset (or the lecture mirror's test-only copy)."""
    classes = list(ds.classes)
    k = len(classes)
    train_y = getattr(ds, "train_y", None)
    train = (
        np.bincount(np.asarray(train_y).astype(np.intp), minlength=k) if train_y is not None else np.zeros(k, np.int64)
    )
    test = np.bincount(np.asarray(ds.test_y).astype(np.intp), minlength=k)
    total = train + test
    rng = np.random.default_rng(seed)
    pool_x, pool_y = (ds.train_x, train_y) if train_y is not None else (ds.test_x, ds.test_y)
    pool_y = np.asarray(pool_y)
    sample = {}
    for c, name in enumerate(classes):
        idx = np.flatnonzero(pool_y == c)
        pick = np.sort(rng.choice(idx, size=min(samples, len(idx)), replace=False)) if len(idx) else idx
        sample[name] = np.asarray(pool_x[pick])  # (s, H, W, 3)
    median = float(np.median(total)) if k else 0.0
    small = [c for c in range(k) if total[c] < SMALL_CLASS_SHARE * median]
    warning = ""
    if small:
        warning = (
            "%s %s far fewer images than the others (median %d per class): the net will rarely "
            "predict %s, and %s accuracy rests on few test images. Add images, or merge classes."
            % (
                ", ".join("%s (%d)" % (classes[c], total[c]) for c in small),
                "has" if len(small) == 1 else "have",
                round(median),
                "it" if len(small) == 1 else "them",
                "its" if len(small) == 1 else "their",
            )
        )
    root = getattr(ds, "root", "") or ""
    return {
        "name": Path(root).name if root else (getattr(ds, "source", "") or "data"),
        "path": root,
        "source": getattr(ds, "source", ""),
        "classes": classes,
        "train": [int(v) for v in train],
        "test": [int(v) for v in test],
        "shape": [int(s) for s in ds.test_x.shape[1:]],
        "samples": sample,
        "warning": warning,
    }


def learning_title(classes):
    """What a page's header says the net learns: CIFAR-10, or the data's own classes."""
    from .paths import CIFAR10_CLASSES

    classes = [str(c) for c in classes or []]
    if not classes or classes == CIFAR10_CLASSES:
        return "CIFAR-10"
    return "%d classes (%s)" % (len(classes), ", ".join(classes[:5]) + (", …" if len(classes) > 5 else ""))


def data_card_html(s):
    """The card's body: name, path, one bar per class (train + test counts), sample grid."""
    most = max([t + u for t, u in zip(s["train"], s["test"])] or [1]) or 1
    rows = []
    for name, t, u in zip(s["classes"], s["train"], s["test"]):
        pics = "".join(
            '<img src="%s" width="28" height="28" style="image-rendering:pixelated;margin:1px">' % png_data_uri(im)
            for im in s["samples"].get(name, [])
        )
        rows.append(
            '<div class="cp-data-class"><div class="cp-bar"><span class="fill" style="width:%.1f%%;'
            'background:#9ec5fe"></span><span class="t">%s: %d train, %d test</span></div>'
            '<div class="cp-data-samples">%s</div></div>' % (100.0 * (t + u) / most, escape(name), t, u, pics)
        )
    warn = '<p class="cp-data-warning" style="color:#b54708">%s</p>' % escape(s["warning"]) if s["warning"] else ""
    return (
        '<div class="cp-data"><p><b>%s</b> — %d classes, %s images<br><span class="cp-dim">%s</span></p>%s%s</div>'
        % (
            escape(s["name"]),
            len(s["classes"]),
            "x".join(map(str, s["shape"])),
            escape(s["source"] or s["path"]),
            warn,
            "".join(rows),
        )
    )


def open_folder(path, image_size=32):
    """A loader for an image folder on this machine; DataError now if it is not one."""
    from datasets import folder

    p = Path(str(path)).expanduser()
    if not str(path).strip():
        raise DataError("type the path of an image folder (one holding train/<class>/ folders)")
    if not p.is_dir():
        raise DataError("%s: no such folder on the server's machine" % p)
    try:
        if not folder.is_image_folder(p):
            raise DataError("%s: not an image folder: it has no train/<class>/ folders of images" % p)
        folder.scan(p)  # the layout, now: single or empty classes are refused before the run stops
    except PermissionError as e:
        raise DataError("%s: not readable (%s)" % (p, e.strerror)) from None
    return lambda: load_dataset(p, progress=False, image_size=image_size)


class ZipArea:
    """The folder that holds the last uploaded zip's images (one at a time: a new upload
    replaces the previous one once it has been unpacked and checked)."""

    def __init__(self, base=None):
        self.base = base
        self.current = None

    def open_zip(self, data, image_size=32):
        """A loader for an uploaded zip's image folder; DataError now for a refused zip."""
        from datasets import folder
        from datasets.zipfolder import extract_image_zip

        work = Path(tempfile.mkdtemp(prefix="convnet-upload-", dir=self.base))
        try:
            root, skipped = extract_image_zip(data, work / "data")
            folder.scan(root)
        except DataError as e:
            shutil.rmtree(work, ignore_errors=True)
            # The user knows their zip, not our temporary folder: name the zip's own layout.
            raise DataError(
                str(e).replace(str(work / "data") + "/", "").replace(str(work / "data"), "the zip")
            ) from None
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        if self.current is not None:
            shutil.rmtree(self.current, ignore_errors=True)
        self.current = work
        return (lambda: load_dataset(root, progress=False, image_size=image_size)), skipped
