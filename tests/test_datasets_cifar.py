"""The official CIFAR-10 python format, where load_dataset looks, and the cache around it.

Archives are built here, independently of datasets/cifar.py, in the official layout: pickled
dicts with bytes keys, b'data' uint8 (N, 3072) as R, G, B planes, b'labels', batches.meta.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import datasets
from datasets import DataError, default_cache_dir, load_dataset

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
BATCHES = ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh cache directory and no $CONVNET_DATA, whatever the developer's shell has."""
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CONVNET_DATA", raising=False)
    return tmp_path / "cache"


def official_batches(n=6, seed=0, old_numpy_names=False):
    """{member name: pickled bytes} like the official archive, plus the expected arrays."""
    rng = np.random.default_rng(seed)
    blobs, expected = {}, {}
    for name in BATCHES:
        x = rng.integers(0, 256, size=(n, 32, 32, 3)).astype(np.uint8)  # (N, H, W, C)
        y = rng.integers(0, 10, size=n)
        # Row = all R values, then all G, then all B, each 32x32 row-major.
        data = np.stack([np.concatenate([img[:, :, c].ravel() for c in range(3)]) for img in x])
        d = {b"batch_label": name.encode(), b"labels": [int(v) for v in y], b"data": data,
             b"filenames": [b"img_%d.png" % i for i in range(n)]}  # fmt: skip
        blob = pickle.dumps(d, protocol=2)
        if old_numpy_names:  # what the real file says (NumPy 1.x, pickled by Python 2)
            blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        blobs[name], expected[name] = blob, (x, y)
    meta = {b"num_cases_per_batch": n, b"label_names": [c.encode() for c in CLASSES], b"num_vis": 3072}
    blobs["batches.meta"] = pickle.dumps(meta, protocol=2)
    train = [expected[b] for b in BATCHES[:5]]
    want = {
        "train_x": np.concatenate([x for x, _ in train]),
        "train_y": np.concatenate([y for _, y in train]),
        "test_x": expected["test_batch"][0],
        "test_y": expected["test_batch"][1],
    }
    return blobs, want


def write_archive(path: Path, blobs: dict, extra=()) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in list(blobs.items()) + list(extra):
            info = tarfile.TarInfo("cifar-10-batches-py/" + name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def write_folder(folder: Path, blobs: dict) -> Path:
    folder.mkdir(parents=True)
    for name, blob in blobs.items():
        (folder / name).write_bytes(blob)
    return folder


def assert_matches(ds, want):
    for k, v in want.items():
        got = getattr(ds, k)
        assert got.shape == v.shape and np.array_equal(got, v), k
    assert ds.train_y.dtype == ds.test_y.dtype == np.int64
    assert ds.classes == CLASSES


def decoded_entries(cache: Path):
    d = cache / "decoded"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# -- the format ------------------------------------------------------------------------------


@pytest.mark.parametrize("old_numpy_names", [False, True])
def test_archive_round_trips_pixels_and_labels(tmp_path, isolated, old_numpy_names):
    blobs, want = official_batches(old_numpy_names=old_numpy_names)
    archive = write_archive(tmp_path / "cifar-10-python.tar.gz", blobs, extra=[("readme.html", b"<p>")])
    ds = load_dataset(archive, download=False, progress=False)
    assert_matches(ds, want)
    assert str(archive) in ds.source and "--data" in ds.source
    assert not ds.train_x.flags.writeable  # a read-only map of the cache
    assert len(decoded_entries(isolated)) == 1


def test_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    blobs, want = official_batches()
    archive = write_archive(tmp_path / "c.tar.gz", blobs)
    load_dataset(archive, progress=False)

    def no_decoding(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(datasets.cifar, "read_archive", no_decoding)
    assert_matches(load_dataset(archive, progress=False), want)


def test_extracted_folder_and_its_parent_and_a_folder_holding_the_archive(tmp_path):
    blobs, want = official_batches()
    folder = write_folder(tmp_path / "x" / "cifar-10-batches-py", blobs)
    assert_matches(load_dataset(folder, progress=False), want)
    assert_matches(load_dataset(folder.parent, progress=False), want)
    holder = tmp_path / "downloads"
    holder.mkdir()
    write_archive(holder / "cifar-10-python.tar.gz", blobs)
    assert_matches(load_dataset(str(holder), progress=False), want)


def test_str_keys_from_a_python3_repickle_are_accepted(tmp_path):
    blobs, want = official_batches()
    for name in blobs:
        d = pickle.loads(blobs[name], encoding="bytes")
        blobs[name] = pickle.dumps({k.decode(): v for k, v in d.items()})
    assert_matches(load_dataset(write_folder(tmp_path / "b", blobs), progress=False), want)


# -- bad input: a clear DataError, and nothing cached --------------------------------------


def _damage(blobs, name, obj):
    blobs = dict(blobs)
    blobs[name] = obj if isinstance(obj, bytes) else pickle.dumps(obj, protocol=2)
    return blobs


Z2 = np.zeros((2, 3072), np.uint8)  # two black images in the official row layout


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda b: {k: v for k, v in b.items() if k != "test_batch"}, "has no test_batch"),
        (lambda b: _damage(b, "data_batch_3", b"\x80\x02garbage"), "data_batch_3: not a readable"),
        (lambda b: _damage(b, "data_batch_2", Evil()), "refusing to load"),
        (lambda b: _damage(b, "data_batch_1", {b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}), "uint8"),
        (lambda b: _damage(b, "data_batch_1", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "3072"),
        (lambda b: _damage(b, "test_batch", {b"data": Z2, b"labels": [0, 10]}), "0..9"),
        (lambda b: _damage(b, "test_batch", {b"data": Z2, b"labels": [0]}), "2 images but 1"),
        (lambda b: _damage(b, "data_batch_4", {b"data": Z2}), "no 'labels'"),
        (lambda b: _damage(b, "batches.meta", {b"label_names": []}), "no label_names"),
    ],
)
def test_bad_archives_are_clear_errors(tmp_path, isolated, make, message):
    blobs, _ = official_batches()
    archive = write_archive(tmp_path / "bad.tar.gz", make(blobs))
    with pytest.raises(DataError, match=message) as err:
        load_dataset(archive, progress=False)
    assert str(archive) in str(err.value)
    assert decoded_entries(isolated) == []


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_and_corrupt_archives(tmp_path, isolated, cut):
    blobs, _ = official_batches(n=50)
    whole = write_archive(tmp_path / "whole.tar.gz", blobs).read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole[: int(len(whole) * cut)])
    with pytest.raises(DataError, match="corrupt, truncated"):
        load_dataset(truncated, progress=False)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(DataError, match="garbage.tar.gz: not a readable .tar.gz"):
        load_dataset(garbage, progress=False)
    assert decoded_entries(isolated) == []


def test_missing_member_in_an_extracted_folder(tmp_path):
    blobs, _ = official_batches()
    del blobs["data_batch_5"]
    with pytest.raises(DataError, match="missing data_batch_5"):
        load_dataset(write_folder(tmp_path / "cifar-10-batches-py", blobs), progress=False)


# -- where load_dataset looks --------------------------------------------------------------


def test_data_flag_beats_env_beats_cache_dir(tmp_path, isolated, monkeypatch):
    (b1, w1), (b2, w2), (b3, w3) = (official_batches(seed=s) for s in (1, 2, 3))
    flag = write_archive(tmp_path / "flag.tar.gz", b1)
    env = write_folder(tmp_path / "env" / "cifar-10-batches-py", b2)
    write_folder(isolated / "cifar-10-batches-py", b3)
    assert_matches(load_dataset(progress=False, download=False), w3)
    monkeypatch.setenv("CONVNET_DATA", str(env))
    ds = load_dataset(progress=False, download=False)
    assert_matches(ds, w2)
    assert "CONVNET_DATA" in ds.source
    assert_matches(load_dataset(flag, progress=False), w1)
    assert_matches(load_dataset("", progress=False), w2)  # an empty --data means "not given"


def test_missing_paths_say_where_they_came_from(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"--data .*nope: no such file"):
        load_dataset(tmp_path / "nope")
    monkeypatch.setenv("CONVNET_DATA", str(tmp_path / "gone"))
    with pytest.raises(DataError, match=r"CONVNET_DATA=.*gone: no such file"):
        load_dataset()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=r"not a CIFAR-10 archive or folder.*notes.txt"):
        load_dataset(tmp_path / "odd")


def test_nothing_found_without_download_says_what_to_do(isolated):
    with pytest.raises(DataError) as err:
        load_dataset(download=False)
    msg = str(err.value)
    for needle in ("No CIFAR-10 data found", str(isolated), "--data PATH", "CONVNET_DATA", "cifar-10-python.tar.gz"):
        assert needle in msg


def test_archive_in_the_cache_dir_is_checked_against_its_md5(isolated):
    blobs, want = official_batches()
    isolated.mkdir()
    archive = write_archive(isolated / "cifar-10-python.tar.gz", blobs)
    with pytest.raises(DataError, match="official MD5"):
        load_dataset(download=False)  # our small archive is not the official file
    md5 = datasets.download.md5_of(archive)
    ds = load_dataset(download=False, md5=md5, progress=False)
    assert_matches(ds, want)
    assert "cache directory" in ds.source
    assert_matches(load_dataset(download=False), want)  # cached: the MD5 is not recomputed


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVNET_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("CONVNET_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert default_cache_dir() == tmp_path / "xdg" / "convnet-playground"
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert default_cache_dir() == Path.home() / ".cache" / "convnet-playground"
    repo = Path(__file__).resolve().parents[1]
    assert repo not in default_cache_dir().parents
