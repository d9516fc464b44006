"""What build.py ships for the static site's worker: derived from static/cp_worker.py's imports.

Checked without a browser: nothing shipped imports Bokeh, Panel or Numba (every import statement
of every shipped file, read by build.imports_in, the reader tests/test_architecture.py uses too;
the last test below checks the same without any reader, by running the files); the walk does fail the
build, naming the module and the import, when a module it would ship imports one of them (a
planted import in a temporary tree); it leaves out optional imports and the Numba backend; and
the shipped files alone, in a Python where Bokeh, Panel and Numba cannot be imported, train a
step and name the rows of the batch they trained on.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from static_site import load_build

REPO = Path(__file__).resolve().parents[1]
NOT_IN_THE_BROWSER = ("bokeh", "panel", "numba")
build = load_build()


def test_nothing_the_static_site_ships_imports_bokeh_panel_or_numba():
    files = build.python_bundle()
    for name, source in files.items():
        # every import, in functions too, but those in a `try` that catches ImportError
        found = build.imports_in(source, name[: -len(".py")].replace("/", "."), filename=name)
        bad = {i.name.split(".")[0] for i in found if not i.guarded} & set(NOT_IN_THE_BROWSER)
        assert not bad, "%s (shipped to the browser) imports %s" % (name, ", ".join(sorted(bad)))


def test_the_bundle_is_the_worker_the_core_and_the_numpy_engine():
    files = build.python_bundle()
    for name in (
        "cp_worker.py",
        "cp_sections.py",
        "app/__init__.py",
        "app/core/__init__.py",
        "app/core/runner.py",
        "app/core/plot_data.py",
        "app/core/fragments.py",
        "engine/__init__.py",
        "engine/kernels_numpy.py",
        "engine/convnetjs.py",  # imported inside a function (reading a ConvNetJS snapshot): shipped too
        "datasets/batches.py",
    ):
        assert name in files, name
    assert "engine/fast/kernels_numba.py" not in files
    assert not [n for n in files if n.startswith(("app/views/", "app/teaching/")) or n in ("app/plots.py",)]
    for name, source in files.items():
        # the worker and the modules beside it (cp_sections.py) come from static/, the packages from the root
        assert source == (REPO / ("static" if "/" not in name else "") / name).read_text(), name
        ast.parse(source, filename=name, feature_version=(3, 8))  # Pyodide 0.17 is Python 3.8


def tree(tmp_path, files):
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return tmp_path


WORKER_AND_CORE = {
    "static/cp_worker.py": "import numpy as np\nfrom app.core import Runner\n",
    "app/__init__.py": "",
    "app/core/__init__.py": "from .runner import Runner\n",
}


@pytest.mark.parametrize(
    "planted, imported",
    [
        ("import numpy\nfrom bokeh.models import ColumnDataSource\n", "bokeh.models"),
        ("def view():\n    import panel as pn\n    return pn\n", "panel"),  # lazily: it runs when called
        ("from . import fast\n", "numba"),  # through another module of ours
    ],
)
def test_the_build_fails_naming_the_module_that_imports_bokeh_panel_or_numba(tmp_path, planted, imported):
    root = tree(
        tmp_path,
        dict(
            WORKER_AND_CORE,
            **{"app/core/runner.py": planted + "class Runner:\n    pass\n", "app/core/fast.py": "import numba\n"},
        ),
    )
    with pytest.raises(build.BuildError) as e:
        build.python_bundle(root, root / "static" / "cp_worker.py")
    where = "app/core/fast.py" if imported == "numba" else "app/core/runner.py"
    assert "%s imports %s (line" % (where, imported) in str(e.value)
    assert "(cp_worker -> app.core -> app.core.runner" in str(e.value)  # and who pulled it in


def test_optional_imports_and_the_numba_backend_are_not_shipped(tmp_path):
    root = tree(
        tmp_path,
        dict(
            WORKER_AND_CORE,
            **{
                "static/cp_worker.py": "import engine\nfrom app.core import Runner\n",
                "app/core/runner.py": "class Runner:\n    pass\n",
                "engine/__init__.py": "from .net import get_kernels\n",
                "engine/net.py": """
                    def available_backends():
                        try:
                            import numba  # noqa: F401
                        except ImportError:
                            return ["numpy"]
                        return ["numba", "numpy"]

                    def get_kernels(backend):
                        if backend == "numpy":
                            from . import kernels_numpy as k
                        else:
                            from .fast import kernels_numba as k
                        return k
                    """,
                "engine/kernels_numpy.py": "import numpy as np\n",
                "engine/fast/__init__.py": "",
                "engine/fast/kernels_numba.py": "import numba\nfrom . import pool\n",
                "engine/fast/pool.py": "import numba\n",
                "engine/cli.py": "import argparse\n",
            },
        ),
    )
    files = build.python_bundle(root, root / "static" / "cp_worker.py")
    assert sorted(files) == [
        "app/__init__.py",
        "app/core/__init__.py",
        "app/core/runner.py",
        "cp_worker.py",
        "engine/__init__.py",
        # not engine/fast/__init__.py: `from .fast import kernels_numba` is the Numba backend's
        "engine/kernels_numpy.py",
        "engine/net.py",
    ]


# The shipped files alone, as the worker sees them: a Python where Bokeh, Panel and Numba cannot be
# imported and our packages come from the bundle only (not from the repository or an install).
RUN_THE_BUNDLE = r"""
import importlib.abc, json, sys
home, blocked = sys.argv[1], set(sys.argv[2].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError("no %s in the browser" % name)

sys.meta_path[:] = [Block()] + [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
sys.path[:] = [home] + [p for p in sys.path if p and "__editable__" not in p]
import cp_worker
site = json.loads(open(home + "/site.json").read())
print(cp_worker.start(json.dumps({"home": home, "site": site, "options": {}})))
for _ in range(20):
    out = json.loads(cp_worker.tick(50))
    if "first_step" in out:
        break
print(json.dumps(out["first_step"]))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("engine", "datasets", "app", *blocked))))
"""


def test_the_bundle_alone_trains_a_step_without_bokeh_panel_or_numba(tmp_path):
    files = build.python_bundle()
    for name, source in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(source)
    rng = np.random.RandomState(0)
    n, m = 64, 16
    x = rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8)
    y = rng.randint(0, 10, n).astype(np.uint8)
    (tmp_path / "data").mkdir()
    x.tofile(str(tmp_path / "data" / "train-images.u8"))
    y.tofile(str(tmp_path / "data" / "train-labels.u8"))
    x[:m].tofile(str(tmp_path / "data" / "test-images.u8"))
    y[:m].tofile(str(tmp_path / "data" / "test-labels.u8"))
    site = {
        "n_train": n,
        "n_test": m,
        "shape": [32, 32, 3],
        "classes": ["c%d" % i for i in range(10)],
        "defaults": dict(build.DEFAULTS, batch_size=8),
    }
    (tmp_path / "site.json").write_text(json.dumps(site))
    r = subprocess.run(
        [sys.executable, "-c", RUN_THE_BUNDLE, str(tmp_path), ",".join(NOT_IN_THE_BROWSER)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    start, first, modules = (json.loads(line) for line in r.stdout.strip().splitlines()[-3:])
    assert start["pretrained"] is False  # no app/pretrained/ in the bundle's folder
    assert not [mod for mod in modules if mod.split(".")[0] in NOT_IN_THE_BROWSER]
    assert "app.core.runner" in modules and "engine.kernels_numpy" in modules
    rows = np.array(first["indices"])
    assert len(rows) == first["batch_size"] == 8 and len(set(rows.tolist())) == 8
    assert first["labels"] == y[rows].tolist()
    import engine

    net = engine.Net(engine.get_preset(site["defaults"]["net"]), backend="numpy", seed=first["seed"])
    loss, _ = net.loss(net.prepare(x[rows]), y[rows].astype(np.int64))
    assert first["loss"] == pytest.approx(loss, abs=1e-5)  # the step trained on exactly these rows
