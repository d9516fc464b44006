"""app/core imports neither Panel, Bokeh nor Numba, and its modules are read by the
architecture test's cycle check.

The core is what the server's views and the static site's worker both stand on (docs/ARCHITECTURE.md,
"The house"): it may import the standard library, NumPy, Pillow (inside the functions that
encode PNGs), `engine` and `datasets`, and nothing else — not even inside a function, where an
import runs when the browser calls it. Read from the source (every import statement), and
checked once more in a fresh interpreter: importing app.core loads none of them.
"""

from __future__ import annotations

import subprocess
import sys

from test_architecture import REPO, import_graph, read_imports

NEVER = ("panel", "bokeh", "numba", "param", "tornado")  # the server's stack and the compiler
ALLOWED = set(sys.stdlib_module_names) | {"numpy", "PIL", "engine", "datasets", "app"}


def test_the_core_never_imports_panel_bokeh_or_numba():
    found = read_imports(["app/core"])
    assert len(found) > 10  # the check sees the modules
    for name, imports in found.items():
        for i in imports:
            imported, top = i.name, i.name.split(".")[0]
            where = "%s line %d imports %s" % (name, i.line, imported)
            assert top not in NEVER, where
            assert top in ALLOWED, where + " (the core imports the standard library, numpy, PIL, engine, datasets)"
            assert top != "app" or imported == "app.core" or imported.startswith("app.core."), where


def test_importing_the_core_loads_no_panel_bokeh_or_numba():
    code = "import sys, app.core; print(sorted(m for m in %r if m in sys.modules))" % (NEVER,)
    r = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", "importing app.core loaded " + r.stdout


def test_the_core_stands_on_its_own_modules():
    """The core's own arrows are read (tests/test_architecture.py checks them for cycles)."""
    graph = import_graph(["app/core"])
    assert set(graph["app.core"]) >= {"app.core.runner", "app.core.history"}
    assert set(graph["app.core.runner"]) >= {"app.core.runner_net", "app.core.paths"}
