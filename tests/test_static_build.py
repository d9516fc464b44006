"""`python build.py`: the static site's files, without a browser (test_static_browser.py runs it).

Builds from the shared CIFAR-10 image folder (a small subset; the decoded-data cache goes to a
pytest tmp dir shared with the browser tests) and checks what the worker and the page rely on:
the packed data are a seeded random subset in the layout the engine expects, the Python bundle
is what static/cp_worker.py imports (test_static_bundle.py: no Bokeh, Panel or Numba), parses
as Python 3.8 (Pyodide 0.17) and compiles with every CPython from 3.8 to 3.14 found on this
machine, nothing but Pyodide is loaded from another host, and user errors get a message
instead of a traceback.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import DATA, REPO, require_data
from static_site import load_build


def cache_dir(tmp_path_factory):
    """One decoded-data cache for every static-site test of the session."""
    d = tmp_path_factory.getbasetemp() / "static-convnet-cache"
    d.mkdir(exist_ok=True)
    return d


def run_build(tmp_path_factory, out, *args):
    env = dict(os.environ, CONVNET_CACHE_DIR=str(cache_dir(tmp_path_factory)))
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--out", str(out), *args],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    import engine

    path = tmp_path_factory.mktemp("snap") / "pretrained.npz"
    net = engine.Net(engine.get_preset("convnetjs-cifar10"), backend="numpy", seed=7)
    engine.save_snapshot(str(path), net, classes=["c%d" % i for i in range(10)])
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory, snapshot):
    require_data()
    out = tmp_path_factory.mktemp("site") / "dist"
    r = run_build(
        tmp_path_factory,
        out,
        "--data",
        str(DATA),
        "--train-images",
        "300",
        "--test-images",
        "40",
        "--pyodide-url",
        "https://example.invalid/pyodide/v0.17.1/full",
        "--snapshot",
        str(snapshot),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return out, r.stdout


def test_build_writes_the_site(site):
    out, log = site
    for name in (
        "index.html",
        "bench.html",
        "site.json",
        "py/bundle.json",
        "data/train-images.u8",
        "data/train-labels.u8",
        "data/test-images.u8",
        "data/test-labels.u8",
        "data/pretrained.npz",
        "assets/page.js",
        "assets/worker.js",
        "assets/bench.js",
        "assets/convnetjs-worker.js",
        "assets/style.css",
    ):
        assert (out / name).is_file(), name
    import bokeh

    assert (out / "assets" / ("bokeh-%s.min.js" % bokeh.__version__)).is_file()
    assert "300 train + 40 test images" in log and "MB" in log  # says the size
    site = json.loads((out / "site.json").read_text())
    assert site["pyodide_url"] == "https://example.invalid/pyodide/v0.17.1/full/"  # a slash appended
    assert site["n_train"] == 300 and site["n_test"] == 40 and site["shape"] == [32, 32, 3]
    assert site["snapshot"] == "data/pretrained.npz"
    assert site["bytes"]["train-images.u8"] == 300 * 3072
    assert "<!--@" not in (out / "index.html").read_text() + (out / "bench.html").read_text()


def test_data_are_a_shuffled_subset_of_the_folder(site):
    out, _ = site
    x = np.fromfile(str(out / "data" / "train-images.u8"), np.uint8).reshape(300, 32, 32, 3)
    y = np.fromfile(str(out / "data" / "train-labels.u8"), np.uint8)
    assert y.max() < 10 and len(set(y.tolist())) == 10  # the folder is sorted by class: not all airplanes
    assert len(set(y[:30].tolist())) > 3
    from datasets import load_dataset

    ds = load_dataset(str(DATA), progress=False)
    # Every packed image is one of the folder's training images, with its label.
    flat = ds.train_x.reshape(len(ds.train_y), -1)
    for i in (0, 17, 299):
        hits = np.nonzero((flat[:, :64] == x[i].reshape(-1)[:64]).all(axis=1))[0]
        assert any(np.array_equal(flat[j], x[i].reshape(-1)) and ds.train_y[j] == y[i] for j in hits)


def test_bundle_is_what_the_worker_imports_in_python_38(site):
    """The site ships build.python_bundle(): test_static_bundle.py checks what that holds."""
    out, _ = site
    files = json.loads((out / "py" / "bundle.json").read_text())["files"]
    build = load_build()
    assert files == build.python_bundle()
    for name in (
        "engine/kernels_numpy.py",
        "datasets/batches.py",
        "app/core/runner.py",
        "engine/fast/numpy_threads.py",
        "cp_worker.py",
        "cp_sections.py",  # a module beside the worker, which it imports
        "app/core/casestudies.py",
    ):
        assert name in files, name
    assert "engine/fast/kernels_numba.py" not in files
    for name, source in files.items():
        ast.parse(source, filename=name, feature_version=(3, 8))  # Pyodide 0.17 is Python 3.8
        module = name[: -len(".py")].replace("/", ".")
        found = load_build().imports_in(source, module, filename=name)
        # a probe (in a try that catches ImportError: engine.available_backends()) is no need
        assert not [i for i in found if i.name.split(".")[0] == "numba" and not i.guarded], name


def cpythons():
    """{(3, minor): executable} of every CPython 3.8 .. 3.14 here: this one, those on PATH,
    pyenv's and the system's (one per minor version; pyenv's shims that fail to run are left out)."""
    found = {tuple(sys.version_info[:2]): sys.executable}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in range(8, 15):
        name = "python3.%d" % minor
        candidates = [shutil.which(name), "/usr/bin/" + name, "/usr/local/bin/" + name]
        candidates += sorted(str(p) for p in pyenv.glob("3.%d.*/bin/%s" % (minor, name)))
        for exe in candidates:
            if (3, minor) in found or not exe or not Path(exe).is_file():
                continue
            r = subprocess.run([exe, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == str(minor):
                found[(3, minor)] = exe
    return found


COMPILE_ALL = """
import json, sys, warnings
files = json.load(open(sys.argv[1], encoding="utf-8"))["files"]
errors = []
for name, source in sorted(files.items()):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a SyntaxWarning today is a later Python's SyntaxError
        try:
            compile(source, name, "exec", dont_inherit=True)
        except (SyntaxError, SyntaxWarning, DeprecationWarning) as e:
            errors.append("%s:%s: %s" % (name, getattr(e, "lineno", "?"), e))
print(json.dumps({"python": sys.version.split()[0], "files": len(files), "errors": errors}))
"""


def test_bundle_compiles_with_every_cpython_here(site):
    """The browser's Python runs on Pyodide 0.17 (3.8) up to today's (3.14): each CPython found
    compiles every file the site ships. Pyodide 314's own compile: test_static_pyodide314.py."""
    out, _ = site
    found = cpythons()
    ran = []
    for _, exe in sorted(found.items()):
        r = subprocess.run([exe, "-c", COMPILE_ALL, str(out / "py" / "bundle.json")], capture_output=True, text=True)
        assert r.returncode == 0, "%s: %s" % (exe, r.stderr)
        answer = json.loads(r.stdout)
        assert answer["errors"] == [], "Python %s (%s):\n%s" % (answer["python"], exe, "\n".join(answer["errors"]))
        ran.append(answer["python"])
    print("\ncompiled %d files with CPython %s" % (answer["files"], ", ".join(ran)))
    assert answer["files"] > 30


def test_nothing_but_pyodide_comes_from_another_host(site):
    out, _ = site
    pages = [(out / n).read_text() for n in ("index.html", "bench.html")]
    pages += [(out / "assets" / n).read_text() for n in ("page.js", "worker.js", "bench.js", "convnetjs-worker.js")]
    for text in pages:
        for url in re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", text):
            assert not re.match(r"(https?:)?//", url) or "example.invalid" in url, url
    # BokehJS is served from the site: the page loads assets/bokeh-*.min.js, not cdn.bokeh.org.
    assert 'src="assets/bokeh-' in pages[0]


def test_figures_are_named_for_the_page(site):
    out, _ = site
    html = (out / "index.html").read_text()
    figs = json.loads(re.search(r'<script type="application/json" id="cp-figures">(.*?)</script>', html, re.S).group(1))
    assert set(figs) == {"curves", "predictions", "network"}
    text = json.dumps(figs)
    names = ("cp-curves", "cp-curves-acc", "cp-pred-images", "cp-pred-bars", "cp-net-images", "cp-net-captions")
    for name in names + ("cp-net-figure",):
        assert '"name": "%s"' % name in text, name
    # the accuracy chart says what its lines average, as the app's does (app/core/history.py)
    note = re.search(r'id="cp-acc-note">(.*?)</div>', html, re.S).group(1)
    assert "validation and test: each the last 1,000 predictions" in note


def test_missing_snapshot_builds_and_says_so(tmp_path_factory):
    require_data()
    out = tmp_path_factory.mktemp("nosnap") / "dist"
    r = run_build(
        tmp_path_factory,
        out,
        "--data",
        str(DATA),
        "--train-images",
        "20",
        "--test-images",
        "10",
        "--snapshot",
        str(out.parent / "absent.npz"),
    )
    assert r.returncode == 0, r.stderr
    assert "no pretrained snapshot" in r.stdout
    assert json.loads((out / "site.json").read_text())["snapshot"] is None
    assert not (out / "data" / "pretrained.npz").exists()


def test_user_errors_get_a_message(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("errors")
    bad = tmp / "bad.npz"
    bad.write_bytes(b"not a snapshot")
    r = run_build(tmp_path_factory, tmp / "dist", "--data", str(tmp / "nowhere"))
    assert r.returncode == 2 and "no such file or directory" in r.stderr and "Traceback" not in r.stderr
    if DATA.is_dir():
        r = run_build(
            tmp_path_factory, tmp / "dist", "--data", str(DATA), "--train-images", "10", "--snapshot", str(bad)
        )
        assert r.returncode == 2 and "bad.npz" in r.stderr and "Traceback" not in r.stderr
    r = run_build(tmp_path_factory, REPO, "--data", str(DATA))
    assert r.returncode == 2 and "overwrite the project" in r.stderr


def test_a_site_built_on_a_3_class_folder_trains_and_names_its_classes(tmp_path_factory):
    """`build.py --data FOLDER` (issue 16): the folder's classes in site.json, a 3-way default
    net (layer_defs, the layer table), the header naming them, CIFAR-10's pretrained snapshot
    left out (not refused), a --snapshot of 10 classes refused naming both counts; and the
    built site's worker (run here in CPython, on the built data) trains a 3-way net whose
    predictions carry the folder's names."""
    from folders import image_folder

    import engine

    tmp = tmp_path_factory.mktemp("own-site")
    root, names = image_folder(tmp / "three", 3, per_class=20, test_per_class=5)
    out = tmp / "dist"
    r = run_build(tmp_path_factory, out, "--data", str(root), "--train-images", "45", "--test-images", "12")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no pretrained snapshot" in r.stdout
    site = json.loads((out / "site.json").read_text())
    assert site["classes"] == names and site["snapshot"] is None and site["n_train"] == 45
    assert site["layer_defs"][-1]["num_classes"] == 3
    page = (out / "index.html").read_text()
    assert "a ConvNet learning 3 classes (apple, brick, cloud)" in page

    ten = tmp / "ten.npz"
    engine.save_snapshot(str(ten), engine.Net(engine.get_preset("convnetjs-cifar10"), backend="numpy"))
    r = run_build(tmp_path_factory, tmp / "dist2", "--data", str(root), "--snapshot", str(ten))
    assert r.returncode == 2 and "classifies 10 classes but the data have 3" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr

    sys.path.insert(0, str(REPO / "static"))
    try:
        import cp_worker
    finally:
        sys.path.remove(str(REPO / "static"))
    session = cp_worker.Session(str(out), site, {"autostart": True})
    for _ in range(5):
        session.tick(200)
    runner = session.runner
    assert runner.net.num_classes == 3 and runner.snapshot()["classes"] == names
    assert runner.snapshot()["examples"] > 0
    image, label = runner.test_image(0)
    bars = session._predictions(image, label, cp_worker.Blob())["live"]
    assert sum(n in bars for n in names) == 3 and "airplane" not in bars
