"""Image folders (train/<class>/*, test/<class>/*), the decoded cache, and the real JPEG set.

Small folders are generated PNGs (lossless, so pixels must round-trip exactly). The last test
reads /work/shared/datasets/cifar10-jpeg, which CI always has: it fails, not skips, without it.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import datasets
from datasets import DataError, load_dataset
from datasets import cache as cache_module
from datasets import folder as folder_module

SHARED_JPEG = Path(__file__).resolve().parents[2] / "shared/datasets/cifar10-jpeg"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)
    return tmp_path / "cache"


def make_folder(root: Path, classes=("cat", "ant", "bee"), n_train=3, n_test=2, seed=0):
    """PNGs of random pixels; returns the expected arrays in load order (class, then name)."""
    rng = np.random.default_rng(seed)
    want = {}
    for split, n in (("train", n_train), ("test", n_test)):
        xs, ys = [], []
        for label, c in enumerate(sorted(classes)):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 256, size=(32, 32, 3)).astype(np.uint8)
                Image.fromarray(img).save(d / ("%03d.png" % i))
                xs.append(img)
                ys.append(label)
        want[split + "_x"], want[split + "_y"] = np.stack(xs), np.array(ys)
    return want


def entries(cache: Path):
    d = cache / "decoded"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_png_folder_round_trips_with_sorted_classes(tmp_path, cache):
    want = make_folder(tmp_path / "imgs")
    ds = load_dataset(tmp_path / "imgs", progress=False)
    assert ds.classes == ["ant", "bee", "cat"]
    for k, v in want.items():
        assert np.array_equal(getattr(ds, k), v), k
    assert ds.train_y.dtype == np.int64 and "image folder" in ds.source
    assert len(entries(cache)) == 1


def test_cached_load_does_not_decode_and_a_changed_file_is_noticed(tmp_path, cache, monkeypatch):
    root = tmp_path / "imgs"
    make_folder(root)
    load_dataset(root, progress=False)
    real_decode = folder_module.decode_paths
    monkeypatch.setattr(folder_module, "decode_paths", lambda p: pytest.fail("decoded again"))
    again = load_dataset(root, progress=False)
    assert not again.train_x.flags.writeable

    target = root / "train" / "ant" / "000.png"
    Image.fromarray(np.full((32, 32, 3), 7, np.uint8)).save(target)
    os.utime(target, ns=(1, 1))  # a different mtime even on coarse-clock filesystems
    monkeypatch.setattr(folder_module, "decode_paths", real_decode)
    changed = load_dataset(root, progress=False)
    assert (changed.train_x[0] == 7).all()
    assert len(entries(cache)) == 1  # the stale entry was pruned


def test_grayscale_palette_and_rgba_become_rgb(tmp_path):
    root = tmp_path / "imgs"
    make_folder(root, classes=("a", "b"), n_train=1, n_test=1)
    gray = np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)
    Image.fromarray(gray, "L").save(root / "train" / "a" / "000.png")
    rgba = np.dstack([np.full((32, 32, 3), 50, np.uint8), np.full((32, 32), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "train" / "b" / "000.png")
    palette = Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(root / "test" / "a" / "000.png")
    ds = load_dataset(root, progress=False)
    assert np.array_equal(ds.train_x[0], np.repeat(gray[:, :, None], 3, axis=2))
    assert (ds.train_x[1] == 50).all()  # alpha dropped
    assert (ds.test_x[0] == 200).all()


def test_jpeg_variants_decode_as_pillow_does(tmp_path):
    """Plain 32x32 RGB JPEGs take a fast path; it must agree with Pillow's own decoding."""
    root = tmp_path / "imgs"
    make_folder(root, classes=("a", "b"), n_train=1, n_test=1)
    rng = np.random.default_rng(5)
    smooth = np.kron(rng.integers(0, 256, size=(8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    variants = {
        "plain.jpg": Image.fromarray(smooth),
        "gray.jpg": Image.fromarray(smooth[:, :, 0], "L"),
        "progressive.JPEG": Image.fromarray(smooth),
        "cmyk.jpg": Image.fromarray(smooth).convert("CMYK"),
    }
    for name, im in variants.items():
        im.save(root / "train" / "a" / name, "JPEG", quality=90, progressive=name.startswith("progressive"))
    fast = [n for n in variants if folder_module._is_plain_rgb_jpeg((root / "train" / "a" / n).read_bytes())]
    assert fast == ["plain.jpg"]  # both paths are exercised
    ds = load_dataset(root, progress=False)
    names = sorted(["000.png"] + list(variants))
    for i, name in enumerate(names):
        with Image.open(root / "train" / "a" / name) as im:
            assert np.array_equal(ds.train_x[i], np.asarray(im.convert("RGB"))), name


def test_other_sizes_are_centre_cropped_and_resized_with_a_warning(tmp_path):
    root = tmp_path / "imgs"
    make_folder(root, classes=("a", "b"), n_train=2, n_test=1)
    wide = np.zeros((48, 64, 3), np.uint8)
    wide[:, 8:56] = 90  # the centred 48x48 square; the strips outside are cropped away
    Image.fromarray(wide).save(root / "train" / "b" / "001.png")
    with pytest.warns(UserWarning, match=r"1 of 6 images are not 32x32 .*001.png is 64x48.*centre-cropped"):
        ds = load_dataset(root, progress=False)
    assert ds.train_x.shape == (4, 32, 32, 3)
    assert (ds.train_x[3] == 90).all()
    with pytest.warns(UserWarning, match="cached"):  # still said on later loads
        load_dataset(root, progress=False)


def test_stray_files_are_skipped_with_a_warning_and_hidden_ones_silently(tmp_path):
    root = tmp_path / "imgs"
    want = make_folder(root, classes=("a", "b"))
    (root / "train" / "a" / "README.txt").write_text("notes")
    (root / "train" / "b" / ".DS_Store").write_bytes(b"\0")
    (root / "test" / ".hidden").mkdir()
    with pytest.warns(UserWarning, match=r"skipped 1 file.*README.txt"):
        ds = load_dataset(root, progress=False)
    assert np.array_equal(ds.train_x, want["train_x"])


@pytest.mark.parametrize("payload", [b"this is not an image", "truncated"])
def test_unreadable_image_is_a_clear_error_and_nothing_is_cached(tmp_path, cache, payload):
    root = tmp_path / "imgs"
    make_folder(root, classes=("a", "b"))
    bad = root / "test" / "b" / "001.png"
    if payload == "truncated":
        payload = bad.read_bytes()[:200]
    bad.write_bytes(payload)
    with pytest.raises(DataError, match=r"test/b/001.png: not a readable PNG/JPEG image.*Remove or replace"):
        load_dataset(root, progress=False)
    assert entries(cache) == []


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: shutil.rmtree(r / "test" / "c"), r"test/ lacks c"),
        (lambda r: (r / "test" / "zebra").mkdir(), r"train/ lacks zebra"),
        (lambda r: [p.unlink() for p in (r / "train" / "b").iterdir()], r"class folder train/b has no images"),
        (lambda r: (r / "test" / "a" / "000.png").rename(r / "test" / "a" / "000.gif"), r"test/a has no images"),
    ],
)
def test_missing_or_empty_classes_are_clear_errors(tmp_path, damage, message):
    root = tmp_path / "imgs"
    make_folder(root, classes=("a", "b", "c"), n_test=1)
    damage(root)
    with pytest.raises(DataError, match=message):
        load_dataset(root, progress=False)


def test_missing_split_and_single_class(tmp_path):
    # No test/ is fine (a share of train/ is held out: test_own_images.py); no train/ is not.
    (tmp_path / "only_test" / "test" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no train/ folder.*train/<class>/"):
        load_dataset(tmp_path / "only_test")
    make_folder(tmp_path / "one", classes=("solo",))
    with pytest.raises(DataError, match="at least two classes"):
        load_dataset(tmp_path / "one")


def test_interrupted_cache_write_leaves_nothing_half_written(tmp_path, cache, monkeypatch):
    root = tmp_path / "imgs"
    want = make_folder(root, classes=("a", "b"))
    real_save = np.save
    calls = []

    def failing_save(path, arr, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_save(path, arr, **kw)

    monkeypatch.setattr(cache_module.np, "save", failing_save)
    with pytest.warns(UserWarning, match="could not write the decoded-data cache.*disk full"):
        ds = load_dataset(root, progress=False)
    assert np.array_equal(ds.test_x, want["test_x"])  # the data still arrive
    assert list((cache / "decoded").iterdir()) == []  # no entry, no temporary directory
    monkeypatch.setattr(cache_module.np, "save", real_save)
    load_dataset(root, progress=False)
    assert len(entries(cache)) == 1


def test_worker_threads_give_the_same_arrays_and_the_same_errors(tmp_path):
    root = tmp_path / "imgs"
    want = make_folder(root, classes=("a", "b"), n_train=5, n_test=5)
    sc = folder_module.scan(root)
    arrays, _ = folder_module.decode(sc, progress=False, workers=2)
    for k, v in want.items():
        assert np.array_equal(arrays[k], v), k
    (root / "train" / "b" / "002.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="002.png: not a readable"):
        folder_module.decode(folder_module.scan(root), progress=False, workers=2)


@pytest.mark.slow
def test_shared_cifar10_jpeg_folder():
    assert SHARED_JPEG.is_dir(), "CI always has %s; this test must not skip" % SHARED_JPEG
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all 60,000 are 32x32 RGB JPEGs: nothing to warn about
        ds = datasets.load_dataset(SHARED_JPEG, progress=False)
    assert ds.train_x.shape == (50000, 32, 32, 3) and ds.test_x.shape == (10000, 32, 32, 3)
    assert ds.train_x.dtype == np.uint8 and ds.train_y.dtype == np.int64
    assert len(ds.classes) == 10 and ds.classes == sorted(ds.classes) and "cat" in ds.classes
    assert np.bincount(ds.train_y, minlength=10).tolist() == [5000] * 10
    assert np.bincount(ds.test_y, minlength=10).tolist() == [1000] * 10
    assert 60 < ds.test_x.mean() < 200 and ds.train_x.std() > 30  # real images, not zeros
