"""The house's arrows, checked (docs/ARCHITECTURE.md, "The house" and "Speed").

Imports are read with `ast`, never run: every `import` and `from ... import`, at module level
and inside functions (a lazy import is an arrow too: it runs sooner or later), relative ones
resolved against the module's package. `import_graph(packages)` turns them into a graph of
the packages' own modules and `find_cycle(graph)` names a cycle in it; PACKAGES lists the
folders whose modules may not import each other in a circle.

- No import cycle inside PACKAGES.
- What the browser runs (engine without its Numba backend and command line, and datasets)
  never imports Numba, Bokeh or Panel, and importing it never imports what stays behind.
- The thread pools are reached only through the kernel modules: layers and net never import
  them, nor does anything else outside engine/fast/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from static_site import load_build

build = load_build()  # build.py's import reader (build.imports_in) reads for both
REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["engine", "datasets", "app/core"]  # folders under REPO: no import cycle among their modules

# engine's modules the browser never runs: the Numba backend (its kernels, its thread pool and
# its compile options) and the command line. Everything else of engine and datasets is shipped.
NOT_IN_BROWSER = {
    "engine.__main__",
    "engine.cli",
    "engine.bench",
    "engine.fast.config",
    "engine.fast.parallel",
    "engine.fast.kernels_numba",
    "engine.fast._numba_act",
    "engine.fast._numba_conv",
    "engine.fast._numba_conv_calls",
    "engine.fast._numba_cpu",
    "engine.fast._numba_intrinsics",
    "engine.fast._numba_layout",
    "engine.fast._numba_optim",
    "engine.fast._numba_peak",
    "engine.fast._numba_plans",
    "engine.fast._numba_pool",
    "engine.fast._numba_padded",
    "engine.fast._numba_winograd",
    "engine.fast._numba_winograd_ir",
    "engine.fast._numba_pass",
    "engine.fast.compiled_pass",
}
NEVER_IN_BROWSER = ("numba", "llvmlite", "bokeh", "panel")
THREAD_POOLS = ("engine.fast.workers", "engine.fast.parallel", "engine.fast.numpy_threads")
KERNEL_MODULES = ("engine.kernels_numpy", "engine.fast.kernels_numba")


def modules_of(packages, root=REPO):
    """{dotted module name: path} of every .py file under the package folders."""
    found = {}
    for folder in packages:
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def read_imports(packages, root=REPO):
    """{module: [build.Import, ...]} for every module of the packages: name, line, lazy (inside a
    function: a lazy import is an arrow too) and guarded (a probe in a `try` that catches
    ImportError, such as engine.available_backends(), not a need)."""
    modules = modules_of(packages, root)
    return {
        name: build.imports_in(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", modules, str(path))
        for name, path in modules.items()
    }


def import_graph(packages, root=REPO):
    """{module: sorted modules of the packages it imports}, lazy imports included."""
    imports = read_imports(packages, root)
    return {m: sorted({i.name for i in found if i.name in imports and i.name != m}) for m, found in imports.items()}


def find_cycle(graph):
    """A cycle of the graph as [a, b, ..., a], or None; the same graph always gives the same one."""
    state = {}  # node -> 1 on the current path, 2 done
    path = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


# -- the checks can fail ------------------------------------------------------------------------
def test_find_cycle_names_the_cycle_of_a_small_graph():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None  # a diamond is no cycle
    assert find_cycle({"d": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_import_graph_sees_relative_and_lazy_imports(tmp_path):
    """A package whose loader imports its format lazily, inside a function, and whose format
    imports the loader back (the shape of the old snapshot <-> convnetjs cycle)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .loader import load\n")
    (pkg / "loader.py").write_text("def load():\n    from .sub import fmt\n    return fmt\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "fmt.py").write_text("import os\nfrom ..loader import load\nfrom pkg import sub\n")
    graph = import_graph(["pkg"], root=tmp_path)
    assert graph == {
        "pkg": ["pkg.loader"],
        "pkg.loader": ["pkg.sub.fmt"],
        "pkg.sub": [],
        "pkg.sub.fmt": ["pkg.loader", "pkg.sub"],
    }
    assert find_cycle(graph) == ["pkg.loader", "pkg.sub.fmt", "pkg.loader"]
    lazy = {i.name: i.lazy for i in read_imports(["pkg"], root=tmp_path)["pkg.loader"]}
    assert lazy == {"pkg.sub.fmt": True}


def test_a_probe_in_a_try_is_not_a_need(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "__init__.py").write_text(
        "try:\n    import numba\nexcept ImportError:\n    numba = None\ntry:\n    import bokeh\nfinally:\n    pass\n"
    )
    found = read_imports(["p"], root=tmp_path)["p"]
    assert [(i.name, i.guarded) for i in found] == [("numba", True), ("bokeh", False)]


# -- the house ----------------------------------------------------------------------------------
def test_no_import_cycle_in_the_packages():
    graph = import_graph(PACKAGES)
    assert len(graph) > 20  # the check sees the modules
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_what_the_browser_runs_never_imports_numba_bokeh_or_panel():
    imports = read_imports(["engine", "datasets"])
    assert not NOT_IN_BROWSER - set(imports), "no such modules: %s" % sorted(NOT_IN_BROWSER - set(imports))
    browser = sorted(set(imports) - NOT_IN_BROWSER)
    assert {"engine", "engine.net", "engine.kernels_numpy", "engine.fast.numpy_threads", "datasets"} <= set(browser)
    bad = [
        "%s line %d: %s" % (m, i.line, i.name)
        for m in browser
        for i in imports[m]
        if i.name.split(".")[0] in NEVER_IN_BROWSER and not i.guarded
    ]
    assert not bad, "the browser runs these modules, which import what it does not have: %s" % bad
    # Importing them imports nothing that stays behind (a function may: engine.get_kernels("numba")).
    bad = [
        "%s line %d: %s" % (m, i.line, i.name)
        for m in browser
        for i in imports[m]
        if i.name in NOT_IN_BROWSER and not i.lazy
    ]
    assert not bad, "importing these modules imports what the browser does not get: %s" % bad


def test_only_the_kernels_and_the_fast_seam_reach_the_thread_pools():
    imports = read_imports(["engine", "datasets"])
    bad = [
        "%s line %d: %s" % (m, i.line, i.name)
        for m, found in imports.items()
        if not m.startswith("engine.fast") and m not in KERNEL_MODULES
        for i in found
        if i.name in THREAD_POOLS
    ]
    assert not bad, "thread pools reached from outside engine/fast/ and the kernels: %s" % bad
    layers = [i.name for i in imports["engine.layers"] if i.name.startswith("engine.fast")]
    assert not layers, "engine/layers.py reads like cs231n: it imports nothing of engine/fast/ (%s)" % layers


def test_no_two_modules_share_a_name():
    """A module's name says what it holds: no two files of the project share one (a reader who
    meets `figures` or `layers` must know which), __init__ and __main__ aside."""
    seen = {}
    for folder in ("engine", "datasets", "app", "static", "tests"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "__pycache__" in path.parts or path.name in ("__init__.py", "__main__.py"):
                continue
            seen.setdefault(path.name, []).append(path.relative_to(REPO).as_posix())
    assert len(seen) > 50
    twins = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not twins, "modules sharing a name: %s" % twins


# -- what the code cites ------------------------------------------------------------------------
def _cited_headings(doc):
    """{heading: first file citing it} of every `docs/<doc>, "Heading"` in the project's code
    (comments joined up across lines)."""
    cited = {}
    files = list(modules_of(["engine", "datasets", "app", "tests"]).values())
    files += [REPO / "build.py", REPO / "static" / "cp_worker.py"] + sorted((REPO / "static").glob("*.js"))
    for path in files:
        text = re.sub(r"\s*\n\s*(#\s*|//\s*)?", " ", path.read_text(encoding="utf-8"))
        for ref in re.findall(r'docs/%s,? "([^"]+)"(?: and "([^"]+)")?' % re.escape(doc), text):
            for heading in filter(None, ref):
                cited.setdefault(heading, path.relative_to(REPO).as_posix())
    return cited


@pytest.mark.parametrize("doc, at_least", [("BENCHMARKS.md", 20), ("ARCHITECTURE.md", 3)])
def test_the_sections_the_code_cites_exist(doc, at_least):
    """A measured figure lives in docs/BENCHMARKS.md and a comment points at its entry by
    heading ("see docs/BENCHMARKS.md, 'Conv without im2col'"); the house's rules are cited by
    their section of docs/ARCHITECTURE.md: every heading cited exists."""
    headings = set(re.findall(r"^#+ (.+?)\s*$", (REPO / "docs" / doc).read_text(), re.M))
    cited = _cited_headings(doc)
    assert len(cited) >= at_least  # the check sees the citations
    missing = {h: where for h, where in cited.items() if h not in headings}
    assert not missing, "cited but not in docs/%s: %s" % (doc, missing)


def test_the_code_cites_only_files_of_the_repository():
    """The design file the team keeps outside the repository is never cited from code (the
    project's own docs/ARCHITECTURE.md is), nor is the folder beside the repository."""
    outside = re.compile(r"\bDESIGN\.md\b|\.\./shared/(DESIGN|STYLE)")
    files = list(modules_of(["engine", "datasets", "app", "tests"]).values())
    files += [REPO / "build.py"] + sorted((REPO / "static").glob("*.*"))
    bad = [p.relative_to(REPO).as_posix() for p in files if outside.search(p.read_text(encoding="utf-8"))]
    assert len(files) > 100
    assert not bad, "cite docs/ARCHITECTURE.md instead of the team's design files in %s" % bad
