"""Your own images (issue 16): image folders of 2 to 100 classes, with or without test/, at any
image size, through the data loader, the CLI (train, eval) and the engine's net sizing.

The folders are generated PNGs (tests/folders.py): a blob of each class's own colour, learnable
in a few seconds, under class names that are not CIFAR's. The app's Runner and pages: see
test_own_images_app.py; the static site: test_static_build.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from folders import image_folder
from test_cli import engine, user_error

import engine as eng
from datasets import DataError, load_dataset


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """{name: (root, class names)}: 2, 3 and 12 classes with test/, 3 without."""
    base = tmp_path_factory.mktemp("own")
    return {
        "c2": image_folder(base / "c2", 2),
        "c3": image_folder(base / "c3", 3),
        "c12": image_folder(base / "c12", 12, per_class=30),
        "c3_no_test": image_folder(base / "c3nt", 3, test=False),
    }


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


# -- the loader -----------------------------------------------------------------------------
def test_a_folder_without_test_holds_out_a_seeded_fifth_of_each_class(folders, cache):
    root, names = folders["c3_no_test"]
    ds = load_dataset(root, cache_dir=cache)
    assert ds.classes == names
    train = np.bincount(ds.train_y, minlength=3)
    test = np.bincount(ds.test_y, minlength=3)
    assert (train + test == 40).all() and (test == 8).all(), (train, test)
    assert "held out" in ds.source
    again = load_dataset(root, cache_dir=cache.parent / "other-cache")  # decoded afresh: same split
    assert np.array_equal(again.test_x, ds.test_x)


def test_more_than_a_hundred_classes_is_refused(tmp_path, cache):
    for i in range(101):
        (tmp_path / "f" / "train" / ("c%03d" % i)).mkdir(parents=True)
    with pytest.raises(DataError, match="101 class folders.*up to 100"):
        load_dataset(tmp_path / "f", cache_dir=cache)


def test_a_class_of_one_image_without_test_is_refused(tmp_path, cache):
    root, _ = image_folder(tmp_path / "f", 2, per_class=3, test=False)
    for p in sorted((root / "train" / "apple").iterdir())[1:]:
        p.unlink()
    with pytest.raises(DataError, match="train/apple has only one image"):
        load_dataset(root, cache_dir=cache)


def test_image_size_decodes_at_that_size_and_cifar_refuses_it(folders, cache, tmp_path):
    ds = load_dataset(folders["c3"][0], cache_dir=cache, image_size=48)
    assert ds.train_x.shape[1:] == (48, 48, 3)
    assert load_dataset(folders["c3"][0], cache_dir=cache).train_x.shape[1:] == (32, 32, 3)
    with pytest.raises(DataError, match="from 16 to 128"):
        load_dataset(folders["c3"][0], cache_dir=cache, image_size=8)
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"not read: the size is refused first")
    with pytest.raises(DataError, match="32x32: an image size of 64 applies to image folders only"):
        load_dataset(archive, cache_dir=cache, image_size=64)


# -- sizing a net to the data ------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["convnetjs-cifar10", "tiny-vgg"])
@pytest.mark.parametrize("n, size", [(2, 32), (12, 16), (100, 64)])
def test_fit_spec_sizes_a_preset_classifier_and_input(preset, n, size):
    layers = eng.fit_spec(eng.get_preset(preset), n, [size, size, 3])
    assert layers[0]["shape"] == [size, size, 3]
    assert layers[-1]["num_classes"] == n and layers[-2]["out_features"] == n
    net = eng.Net(eng.to_json(layers), backend="numpy", seed=0)
    assert net.predict(np.zeros((2, size, size, 3), np.uint8)).shape == (2, n)


def test_class_mismatch_names_both_numbers_and_what_to_do():
    msg = eng.class_mismatch("the snapshot s.npz", 10, 3)
    assert "10" in msg and "3" in msg and "num_classes" in msg
    assert eng.class_mismatch("x", 3, 3) is None


# -- the CLI --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["c2", "c3", "c12", "c3_no_test"])
def test_cli_trains_a_head_of_the_data_classes_and_eval_names_them(folders, name, cache, tmp_path):
    root, names = folders[name]
    snap = tmp_path / "s.npz"
    r = engine("train", "--data", root, "--epochs", 4, "--backend", "numpy", "--json", "--save", snap, cache=cache)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[-1]["test_acc"] > 1.0 / len(names) + 0.2, rows
    s = eng.read_snapshot(snap)
    assert s.classes == names and s.build("numpy").num_classes == len(names)

    r = engine("eval", snap, "--data", root, "--backend", "numpy", cache=cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("data: image folder")
    assert ("held out" in r.stdout) == (name == "c3_no_test")
    for n in names:
        assert n in r.stdout
    r = engine("eval", snap, "--data", root, "--backend", "numpy", "--json", cache=cache)
    assert sorted(json.loads(r.stdout)["per_class"]) == sorted(names)


def test_cli_refuses_a_snapshot_or_spec_of_another_class_count(folders, cache, tmp_path):
    snap = tmp_path / "twelve.npz"
    eng.save_snapshot(snap, eng.Net(eng.to_json(eng.fit_spec(eng.get_preset("lenet5"), 12)), backend="numpy"))
    user_error(engine("eval", snap, "--data", folders["c3"][0], cache=cache), "12 classes", "have 3")
    spec = tmp_path / "ten.json"
    spec.write_text(json.dumps(eng.get_preset("convnetjs-cifar10")))
    r = engine("train", "--data", folders["c3"][0], "--net", spec, "--epochs", 1, cache=cache)
    user_error(r, "10 classes", "have 3", '"num_classes" to 3')


def test_cli_trains_at_another_image_size(folders, cache):
    r = engine(
        "train", "--data", folders["c2"][0], "--epochs", 1, "--image-size", 48, "--backend", "numpy", cache=cache
    )
    assert r.returncode == 0, r.stderr
    assert "resized to 48x48" in r.stderr
    r = engine("train", "--data", folders["c2"][0], "--image-size", 200, cache=cache)
    assert r.returncode == 2 and "16 to 128" in r.stderr and "Traceback" not in r.stderr


def test_the_app_refuses_an_image_size_out_of_range_in_one_line():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "app", "--image-size", "300", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("--image-size: must be from 16 to 128, got '300'")
