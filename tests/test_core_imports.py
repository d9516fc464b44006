"""app/core imports neither Panel, Bokeh nor Numba, and its modules import one another without a cycle.

The core is what the server's views and the static site's worker both stand on (docs/ARCHITECTURE.md,
"The house"): it may import the standard library, NumPy, Pillow (inside the functions that
encode PNGs), `engine` and `datasets`, and nothing else — not even inside a function, where an
import runs when the browser calls it. Read from the source (every import statement), and
checked once more in a fresh interpreter: importing app.core loads none of them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "app" / "core"
NEVER = ("panel", "bokeh", "numba", "param", "tornado")  # the server's stack and the compiler
ALLOWED = set(sys.stdlib_module_names) | {"numpy", "PIL", "engine", "datasets", "app"}


def core_modules():
    """{dotted name: path} of every module in app/core."""
    out = {}
    for path in sorted(CORE.glob("*.py")):
        name = "app.core" if path.name == "__init__.py" else "app.core." + path.stem
        out[name] = path
    return out


def imports(path, name):
    """(line, dotted name) of every import in a module, in functions and try blocks too; relative
    imports resolved, and `from a import b` giving a.b when that is a module of the core."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            modules = core_modules()
            subs = [base + "." + a.name for a in node.names if base + "." + a.name in modules]
            out += [(node.lineno, s) for s in subs] or [(node.lineno, base)]
    return out


def find_cycle(graph):
    """A cycle [a, b, ..., a] in {node: set of nodes}, or None (depth-first, three colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_core_never_imports_panel_bokeh_or_numba():
    for name, path in core_modules().items():
        for line, imported in imports(path, name):
            top = imported.split(".")[0]
            where = "%s:%d imports %s" % (path.relative_to(REPO), line, imported)
            assert top not in NEVER, where
            assert top in ALLOWED, where + " (the core imports the standard library, numpy, PIL, engine, datasets)"
            assert top != "app" or imported == "app.core" or imported.startswith("app.core."), where


def test_importing_the_core_loads_no_panel_bokeh_or_numba():
    code = "import sys, app.core; print(sorted(m for m in %r if m in sys.modules))" % (NEVER,)
    r = subprocess.run([sys.executable, "-c", code], cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", "importing app.core loaded " + r.stdout


def test_the_cores_modules_import_one_another_without_a_cycle():
    modules = core_modules()
    graph = {
        name: {imported for _, imported in imports(path, name) if imported in modules and imported != name}
        for name, path in modules.items()
    }
    assert graph["app.core"] >= {"app.core.runner", "app.core.history"}  # the graph is read, not empty
    assert graph["app.core.runner"] >= {"app.core.runner_net", "app.core.paths"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
