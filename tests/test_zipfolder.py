"""datasets/zipfolder.py: a user's .zip of an image folder, unpacked safely or refused with a
message (issue 16, point 4). Each refusal below is a zip a browser could send."""

from __future__ import annotations

import stat
import zipfile

import pytest
from folders import folder_zip, image_folder, zip_bytes

from datasets import DataError, load_dataset, zipfolder
from datasets.zipfolder import extract_image_zip


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root, names = image_folder(tmp_path_factory.mktemp("z") / "f", 3, per_class=6, test_per_class=2)
    return folder_zip(root), names


def png(good):
    z = zipfile.ZipFile(__import__("io").BytesIO(good[0]))
    return z.read([n for n in z.namelist() if n.endswith(".png")][0])


def test_a_zip_of_train_and_test_unpacks_and_loads(good, tmp_path):
    data, names = good
    root, skipped = extract_image_zip(data, tmp_path / "x")
    assert skipped == 0
    ds = load_dataset(root, cache_dir=tmp_path / "cache", progress=False)
    assert ds.classes == names and len(ds.train_y) == 18 and len(ds.test_y) == 6


def test_a_folder_inside_one_top_folder_and_other_files_are_skipped_with_a_count(good, tmp_path):
    img = png(good)
    members = {"birds/train/%s/%d.png" % (c, i): img for c in ("owl", "tit") for i in range(2)}
    members.update({"birds/README.txt": b"hi", "birds/train/owl/notes.txt": b"x", "__MACOSX/._a.png": b"x"})
    members["birds/train/tit/.DS_Store"] = b"x"
    root, skipped = extract_image_zip(zip_bytes(members), tmp_path / "x")
    assert root == tmp_path / "x" and skipped == 4
    ds = load_dataset(root, cache_dir=tmp_path / "cache", progress=False)
    assert ds.classes == ["owl", "tit"] and "held out" in ds.source  # no test/: a fifth held out


def with_member(good, name, data=None, attr=None):
    img = png(good)
    members = {"train/a/1.png": img, "train/a/2.png": img, "train/b/1.png": img, "train/b/2.png": img}
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
        info = zipfile.ZipInfo(name)
        if attr is not None:
            info.external_attr = attr << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, data if data is not None else img)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, attr, words",
    [
        ("../evil.png", None, "leading out"),
        ("train/a/../../../evil.png", None, "leading out"),
        ("/etc/evil.png", None, "absolute"),
        ("C:/evil.png", None, "absolute"),
        ("train\\a\\..\\..\\evil.png", None, "absolute or malformed"),
        ("train/a/link.png", stat.S_IFLNK | 0o777, "symbolic link"),
    ],
)
def test_a_path_out_of_the_folder_or_a_link_is_refused_and_nothing_written(good, tmp_path, name, attr, words):
    data = with_member(good, name, b"/etc/passwd" if attr else None, attr)
    with pytest.raises(DataError, match=words):
        extract_image_zip(data, tmp_path / "x" / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "evil.png").exists()


def test_a_zip_bomb_is_refused_by_its_ratio(good, tmp_path):
    data = with_member(good, "train/a/bomb.png", bytes(20 * 1024 * 1024))
    with pytest.raises(DataError, match="zip bomb"):
        extract_image_zip(data, tmp_path / "x")


@pytest.mark.parametrize(
    "limit, value, words",
    [
        ("MAX_TOTAL_BYTES", 1000, "would unpack to"),
        ("MAX_MEMBERS", 3, "lists 5 files"),
        ("MAX_ZIP_BYTES", 100, "the limit"),
    ],
)
def test_size_and_count_limits_are_checked_before_extraction(good, tmp_path, monkeypatch, limit, value, words):
    monkeypatch.setattr(zipfolder, limit, value)
    with pytest.raises(DataError, match=words):
        extract_image_zip(with_member(good, "train/b/3.png"), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_not_a_zip_and_a_zip_without_train_are_refused(good, tmp_path):
    with pytest.raises(DataError, match="not a readable .zip"):
        extract_image_zip(b"PK\x03\x04 but not really", tmp_path / "x")
    with pytest.raises(DataError, match="no train/<class>/ folders.*skipped 1"):
        extract_image_zip(zip_bytes({"photos/cat.png": png(good)}), tmp_path / "y")


def test_a_single_class_or_an_empty_class_is_refused_by_the_loader(good, tmp_path):
    img = png(good)
    root, _ = extract_image_zip(zip_bytes({"train/solo/1.png": img, "train/solo/2.png": img}), tmp_path / "one")
    with pytest.raises(DataError, match="only the class 'solo'"):
        load_dataset(root, cache_dir=tmp_path / "cache")
    data = zip_bytes({"train/a/1.png": img, "train/a/2.png": img, "train/empty/": b""})
    root, _ = extract_image_zip(data, tmp_path / "empty")
    with pytest.raises(DataError, match="train/empty has no images"):
        load_dataset(root, cache_dir=tmp_path / "cache")
