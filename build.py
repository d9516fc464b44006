"""Build the static site: the dashboards with the engine training in the visitor's browser.

    python build.py [--out dist] [--pyodide-url URL | --bundle-pyodide DIR] [--data PATH]
                    [--train-images N] [--test-images N] [--snapshot FILE | --no-snapshot] [--seed S]

Writes a folder that any static host serves (or `python -m http.server -d dist`):
    index.html       the dashboard: figures made here by app.plots, filled by the page
    bench.html       this engine in Pyodide against ConvNetJS, on the same images
    site.json        what the worker needs: Pyodide's URL, data files, classes, defaults
    assets/          BokehJS (from the installed bokeh), the page and worker scripts, ConvNetJS
                     (benchmark page only)
    py/bundle.json   the Python the worker runs: static/cp_worker.py, the modules beside it that it
                     imports (cp_sections.py), and what they import of engine (the NumPy
                     backend), datasets and app.core, found by walking the imports
    data/            a seeded random subset of the data (CIFAR-10, or --data FOLDER's classes,
                     named everywhere) as raw uint8, and the pretrained snapshot when it fits
    pyodide/         with --bundle-pyodide only: Pyodide's runtime and NumPy, for a site that
                     needs no network at all (a classroom, a USB stick)
Only Pyodide comes from elsewhere (--pyodide-url, default its CDN), unless bundled. What lives where in
the browser: static/page.js (the page), static/worker.js + static/cp_worker.py (the worker).
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import time
from html import escape as html_escape
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
STATIC = ROOT / "static"
DEFAULT_PYODIDE_URL = "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/"  # `npm view pyodide version`
CONVNETJS = ROOT / "node_modules" / "convnetjs" / "build" / "convnet-min.js"
WORKER = STATIC / "cp_worker.py"  # the Python the static site runs; build.py ships what it imports
PACKAGES = ("engine", "datasets", "app")  # ours: shipped in py/bundle.json, module by module
# The one import the walk does not follow: the Numba backend. engine.get_kernels imports it only
# for backend "numba", and the browser's Runner runs "numpy" (engine.available_backends() finds
# no Numba there), so neither it nor anything it imports is shipped.
NOT_IN_BROWSER = ("engine.fast.kernels_numba",)
# Nothing shipped may import these: the server's stack and the compiler do not exist in Pyodide.
FORBIDDEN = ("bokeh", "panel", "param", "tornado", "numba")
# An import inside `try:` whose `except` catches these is optional: the module runs without it
# (engine.available_backends() asks whether Numba imports that way). It is neither shipped nor
# checked.
IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
ASSETS = ("page.js", "worker.js", "bench.js", "convnetjs-worker.js", "style.css", "sections.js", "sections.css")
ASSETS += ("runs.js", "timeline.js")  # issue 19: runs to compare, the setup link, the timeline
DEFAULTS = {"optimizer": "adadelta", "batch_size": 16, "weight_decay": 1e-4, "seed": 0, "net": "convnetjs-cifar10"}


class BuildError(Exception):
    """Something the user must fix; the message says what."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="dist", help="output folder (default: dist)")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--pyodide-url",
        default=DEFAULT_PYODIDE_URL,
        help="base URL of a Pyodide distribution with NumPy (default: %(default)s); "
        "a path relative to the site works too",
    )
    where.add_argument(
        "--bundle-pyodide",
        metavar="DIR",
        default=None,
        help="copy the Pyodide distribution in DIR (its runtime and NumPy) into the site, which then "
        "works offline: a Pyodide release's full/ folder or node_modules/@pyodide/pyodide/dist",
    )
    p.add_argument(
        "--data",
        default=None,
        help="CIFAR-10 archive, its folder or an image folder (default: $CONVNET_DATA, else the cache, else download)",
    )
    p.add_argument("--train-images", type=int, default=10000, help="training images to pack (default: 10000)")
    p.add_argument("--test-images", type=int, default=1000, help="test images to pack (default: 1000)")
    p.add_argument("--snapshot", default=None, help="pretrained snapshot to ship (default: app/pretrained/cifar10.npz)")
    p.add_argument("--no-snapshot", action="store_true", help="ship no pretrained snapshot")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset's random choice (default: 0)")
    return p.parse_args(argv)


def say(msg):
    print(msg, flush=True)


# -- data -------------------------------------------------------------------------------------
def pack_data(out, data_path, n_train, n_test, seed):
    """A seeded random subset (the image folder is sorted by class) as raw uint8 files."""
    from datasets import DataError, load_dataset

    try:
        ds = load_dataset(data_path)
    except DataError as e:
        raise BuildError(str(e)) from None
    if ds.train_x.shape[1:] != (32, 32, 3):
        raise BuildError(
            "the site's net takes 32x32x3 images but the data are %s" % "x".join(map(str, ds.train_x.shape[1:]))
        )
    if n_train < 1 or n_test < 1:
        raise BuildError("--train-images and --test-images must be at least 1")
    rng = np.random.RandomState(seed)
    train = np.sort(rng.permutation(len(ds.train_y))[:n_train])
    test = np.sort(rng.permutation(len(ds.test_y))[:n_test])
    # Sorted indices read the cache's memory map in order; the order itself is shuffled again.
    train = train[rng.permutation(len(train))]
    test = test[rng.permutation(len(test))]
    files = {
        "train-images.u8": np.ascontiguousarray(ds.train_x[train]),
        "train-labels.u8": ds.train_y[train].astype(np.uint8),
        "test-images.u8": np.ascontiguousarray(ds.test_x[test]),
        "test-labels.u8": ds.test_y[test].astype(np.uint8),
    }
    (out / "data").mkdir(parents=True, exist_ok=True)
    for name, a in files.items():
        (out / "data" / name).write_bytes(a.tobytes())
    say(
        "data: %d train + %d test images from %s (%s)"
        % (len(train), len(test), ds.source, _mb(sum(a.nbytes for a in files.values())))
    )
    return {
        "classes": list(ds.classes),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "shape": [32, 32, 3],
        "source": ds.source,
    }, files


def pack_snapshot(out, path, classes, explicit=True):
    """Copy the pretrained snapshot after checking it builds a net for this data; None if absent.

    explicit: the user named it (--snapshot), so a snapshot of other classes is an error; the
    default (CIFAR-10's) is left out, with a note, for data of other classes."""
    import engine

    if path is None or not Path(path).is_file():
        say("no pretrained snapshot (%s not found): the page will say so" % (path or "none given"))
        return None
    try:
        net, snap = engine.load_snapshot(str(path))
    except engine.SnapshotError as e:
        raise BuildError("%s: %s" % (path, e)) from None
    names = snap.classes or []
    if not explicit and (net.num_classes != len(classes) or (names and list(names) != list(classes))):
        say("no pretrained snapshot: %s classifies other classes than these data's" % path)
        return None
    if explicit and net.num_classes != len(classes):
        raise BuildError(engine.class_mismatch("--snapshot %s" % path, net.num_classes, len(classes)))
    if tuple(net.input_shape) != (32, 32, 3) or net.num_classes != len(classes):
        raise BuildError(
            "%s: the snapshot's net takes %s images into %d classes, but the data are 32x32x3 in %d"
            % (path, "x".join(map(str, net.input_shape)), net.num_classes, len(classes))
        )
    dest = out / "data" / "pretrained.npz"
    shutil.copyfile(str(path), str(dest))
    say("pretrained snapshot: %s (%s)" % (path, _mb(dest.stat().st_size)))
    return "data/pretrained.npz"


def sized_layer_defs(n_classes):
    """The default net's layer_defs (ConvNetJS's spelling, which the benchmark page feeds
    ConvNetJS too) with a softmax of the data's classes: the worker's Runner sizes its own net
    the same way (app/core/data_fit.py)."""
    import engine

    defs = engine.get_preset(DEFAULTS["net"])
    defs[-1] = dict(defs[-1], num_classes=int(n_classes))
    return defs


# -- Python for the worker ----------------------------------------------------------------------
def python_bundle(root=ROOT, entry=WORKER):
    """{path in Pyodide's file system: source} of the worker and every module of ours it imports.

    Walks the imports (every `import` statement, in functions too: they run in the browser when
    called) from `entry` through the modules beside it and the PACKAGES under `root`, leaving out NOT_IN_BROWSER and
    optional imports; raises BuildError naming the module and the import if anything it would
    ship imports one of FORBIDDEN.
    """
    root = Path(root)
    files = {entry.name: entry.read_text(encoding="utf-8")}
    todo = [(entry.stem, entry, False)]
    via = {entry.stem: None}  # module -> the module that imported it first (for the error)
    while todo:
        name, path, is_package = todo.pop()
        for line, imported, statement in _imports(path, name, is_package):
            top = imported.split(".")[0]
            if top in FORBIDDEN:
                chain = [name]
                while via[chain[-1]] is not None:
                    chain.append(via[chain[-1]])
                raise BuildError(
                    "%s imports %s (line %d), which does not exist in the browser, and the static site "
                    "ships it (%s): keep Panel, Bokeh and Numba out of what %s imports (see app/core/__init__.py)"
                    % (path.relative_to(root).as_posix(), statement, line, " -> ".join(reversed(chain)), entry.name)
                )
            beside = entry.parent / (top + ".py")  # a module of the worker's own beside it (static/)
            if top not in PACKAGES and beside.is_file() and top != entry.stem:
                if top not in via:
                    via[top] = name
                    files[beside.name] = beside.read_text(encoding="utf-8")
                    todo.append((top, beside, False))
                continue
            if top not in PACKAGES or any(imported == m or imported.startswith(m + ".") for m in NOT_IN_BROWSER):
                continue
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):  # a module's packages run first: ship their __init__ too
                module = ".".join(parts[:i])
                found = _module_file(root, module)
                if found is None or module in via:
                    continue
                via[module] = name
                files[found.relative_to(root).as_posix()] = found.read_text(encoding="utf-8")
                todo.append((module, found, found.name == "__init__.py"))
    return files


def _module_file(root, module):
    """The file of one of our modules (a .py or a package's __init__.py), or None."""
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path, module, is_package):
    """(line, dotted name, module the statement names) of every import in a file but the optional
    ones; `from a import b` gives a.b (b may be a module or a name of a: the walk ships the
    packages on the way) and a."""
    found = imports_in(path.read_text(encoding="utf-8"), module, is_package, filename=str(path))
    return [(i.line, i.name, i.statement) for i in found if not i.guarded]


class Import:
    """One import statement's target: `name` absolute, `statement` (the module the statement
    names: a for `from a import b`), `line`, `lazy` (inside a function: it runs when called) and
    `guarded` (inside a `try` whose `except` catches one of IMPORT_ERRORS: an
    optional import, such as engine.available_backends()'s probe, not a need)."""

    def __init__(self, name, line, lazy, guarded, statement=None):
        self.name, self.line, self.lazy, self.guarded = name, line, lazy, guarded
        self.statement = statement or name

    def __repr__(self):
        return "Import(%r, line %d%s%s)" % (self.name, self.line, ", lazy" * self.lazy, ", guarded" * self.guarded)


def imports_in(source, name, is_package=False, modules=None, filename="<source>"):
    """[Import, ...] of every import in the source of module `name`, at module level and inside
    functions, relative ones resolved against its package. `from a import b` names a.b; given
    `modules` (the dotted names that are modules), it names a.b only if that is a module, else a.
    Also the reader of tests/test_architecture.py's import graph."""
    reader = _ImportReader(name, is_package, modules)
    reader.visit(ast.parse(source, filename=filename))
    return reader.found


def _catches_import_error(handler):
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(getattr(n, "id", getattr(n, "attr", None)) in IMPORT_ERRORS for n in names)


class _ImportReader(ast.NodeVisitor):
    def __init__(self, name, is_package, modules):
        self.package = name if is_package else name.rpartition(".")[0]
        self.modules = modules
        self.found = []
        self.depth = 0  # functions around the node
        self.guards = 0  # try bodies around the node that catch ImportError

    def _add(self, name, node, statement=None):
        self.found.append(Import(name, node.lineno, self.depth > 0, self.guards > 0, statement))

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Try(self, node):
        guarded = any(_catches_import_error(h) for h in node.handlers)
        self.guards += guarded
        for child in node.body:
            self.visit(child)
        self.guards -= guarded
        for child in node.handlers + node.orelse + node.finalbody:
            self.visit(child)

    def visit_Import(self, node):
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            if node.level - 1 >= len(parts):
                raise BuildError("line %d: a relative import above the top package" % node.lineno)
            prefix = ".".join(parts[: len(parts) - (node.level - 1)])
            base = prefix + ("." + base if base else "")
        for alias in node.names:
            sub = base + "." + alias.name
            self._add(sub if self.modules is None or sub in self.modules else base, node, base)


# -- Pyodide in the site (--bundle-pyodide) ------------------------------------------------------
def bundle_pyodide(src, out=None):
    """Check that folder src is a Pyodide distribution with NumPy; with out, copy its runtime and
    NumPy (no other package) to out/pyodide/. Returns the site's Pyodide URL, "pyodide/".

    A distribution's package index names each package's files: pyodide-lock.json (Pyodide 0.23
    on) and repodata.json (0.21, 0.22) give a file_name; packages.json (up to 0.20) means
    NAME.js + NAME.data. The npm package `pyodide` is the core alone (no NumPy): refused.
    """
    src = Path(src).expanduser().resolve()
    use = "give a Pyodide release's full/ folder or node_modules/@pyodide/pyodide/dist"
    if not src.is_dir():
        raise BuildError("--bundle-pyodide %s: no such folder (%s)" % (src, use))
    loader = [n for n in ("pyodide.mjs", "pyodide.js") if (src / n).is_file()]
    index = [n for n in ("pyodide-lock.json", "repodata.json", "packages.json") if (src / n).is_file()]
    if not loader or not (src / "pyodide.asm.wasm").is_file() or not index:
        if (src / "dist" / "pyodide.asm.wasm").is_file():
            use = "its dist/ folder, %s, is one" % (src / "dist")
        raise BuildError(
            "--bundle-pyodide %s holds no Pyodide runtime (pyodide.js or pyodide.mjs, pyodide.asm.wasm and a "
            "package index such as pyodide-lock.json): %s" % (src, use)
        )
    try:
        meta = json.loads((src / index[0]).read_text(encoding="utf-8"))
    except ValueError as e:
        raise BuildError("--bundle-pyodide %s: %s is not JSON (%s)" % (src, index[0], e)) from None
    if "packages" in meta:  # {name: {"file_name", "version", "depends"}}; no file_name up to 0.20
        packages = {
            k.lower(): (
                p.get("version"),
                p.get("depends", []),
                [p["file_name"]] if p.get("file_name") else [k + ".js", k + ".data"],
            )
            for k, p in meta["packages"].items()
        }
    else:  # packages.json of Pyodide 0.17: {"versions": {name: v}, "dependencies": {name: [...]}}
        deps, versions = meta.get("dependencies", {}), meta.get("versions", {})
        packages = {
            k.lower(): (versions.get(k), deps.get(k, []), [k + ".js", k + ".data"]) for k in set(deps) | set(versions)
        }
    if "numpy" not in packages:
        raise BuildError("--bundle-pyodide %s has no NumPy (its %s lists no numpy package): %s" % (src, index[0], use))
    need, todo = set(), ["numpy"]
    while todo:
        name = todo.pop().lower()
        if name not in need:
            need.add(name)
            todo.extend(packages.get(name, (None, [], None))[1])
    missing = sorted(f for k in need for f in packages.get(k, (None, [], [k + ".js"]))[2] if not (src / f).is_file())
    if missing:
        raise BuildError(
            "--bundle-pyodide %s has no NumPy: %s lists it, but %s is not in the folder (the npm package "
            "`pyodide` is the core alone): %s" % (src, index[0], ", ".join(missing), use)
        )
    info = meta.get("info") or {}
    version, python = info.get("version"), info.get("python")
    for pkg in (src / "package.json", src.parent / "package.json"):  # the npm packages' own record
        if pkg.is_file():
            npm = json.loads(pkg.read_text(encoding="utf-8"))
            if npm.get("name") in ("pyodide", "@pyodide/pyodide"):
                version = npm.get("version")
                break
    others = {f for k, (_, _, fs) in packages.items() if k not in need for f in fs}
    # Everything but the other packages' files (and their NAME.whl.metadata, where there are such).
    copy = sorted(f for f in src.iterdir() if f.is_file() and f.name.replace(".metadata", "") not in others)
    if out is not None:
        dest = out / "pyodide"
        dest.mkdir(parents=True, exist_ok=True)
        for f in copy:
            shutil.copyfile(str(f), str(dest / f.name))
        say(
            "Pyodide %s%s with NumPy %s from %s: %d files (%s) in pyodide/, the site works offline"
            % (
                version or "(version not recorded)",
                " (Python %s)" % python if python else "",
                packages["numpy"][0],
                src,
                len(copy),
                _mb(sum(f.stat().st_size for f in copy)),
            )
        )
    return "pyodide/"


# -- the page -----------------------------------------------------------------------------------
def figures():
    """The dashboard's Bokeh figures as json_items, their data sources named for the page."""
    from bokeh.embed import json_item
    from bokeh.layouts import row

    import engine
    from app import plots as F
    from app.core import plot_data, probe
    from app.core.run_overlays import COLORS
    from app.core.runs import MAX_RUNS

    # A curve source per figure, each fed the same points (static/page.js): a figure repaints
    # when its source changes, and the page gives each repaint a frame of its own.
    curves, curves_acc = F.curve_source(), F.curve_source()
    curves.name, curves_acc.name = "cp-curves", "cp-curves-acc"
    exact = F.exact_source()
    exact.name = "cp-exact"
    accuracy = F.accuracy_figure(curves_acc, exact=exact)
    loss = F.loss_figure(curves)
    runs = F.run_sources(MAX_RUNS)  # the earlier runs' faint lines (static/runs.js)
    F.add_run_lines(loss, runs, "loss", COLORS)
    F.add_run_lines(accuracy, runs, "acc", COLORS)
    items = {"curves": row(loss, accuracy, sizing_mode="stretch_width")}
    pred_fig, pred_images, pred_bars = F.prediction_figure()
    pred_images.name, pred_bars.name = "cp-pred-images", "cp-pred-bars"
    items["predictions"] = pred_fig
    # The network figure's size comes from one probe of the net the page starts with.
    net = engine.Net(engine.get_preset(DEFAULTS["net"]), backend="numpy", seed=DEFAULTS["seed"])
    image = np.full((32, 32, 3), 128, np.uint8)
    data = probe(net, image, 0)
    im, cap, width, height = plot_data.network_data(data["layers"], image)
    net_fig, net_images, net_captions = F.network_figure(width, height)
    net_images.name, net_captions.name = "cp-net-images", "cp-net-captions"
    net_images.data, net_captions.data = im, cap
    # page.js resizes the figure to another net's pictures (an edited spec, a #setup= link)
    net_fig.name = "cp-net-figure"
    for r in net_fig.renderers:
        if "text" in r.data_source.data:
            r.data_source.name = "cp-net-titles"
    items["network"] = net_fig
    return {k: json_item(v) for k, v in items.items()}


def render_page(template, fill):
    """Replace every <!--@KEY@--> in a template; a placeholder left over is a bug here."""
    for key, value in fill.items():
        template = template.replace("<!--@%s@-->" % key, value)
    if "<!--@" in template:
        raise BuildError("unfilled placeholder in a page template: %s" % template[template.index("<!--@") :][:40])
    return template


def json_script(obj):
    """JSON safe inside <script type="application/json"> (no "</" can end the element)."""
    return json.dumps(obj, separators=(",", ":")).replace("</", "<\\/")


def write_pages(out, site):
    import bokeh

    import engine
    from app.core import fragments
    from app.core.data_card import learning_title
    from app.core.history import ACCURACY_NOTE
    from app.core.run_overlays import RUNS_CSS

    bokeh_js = "bokeh-%s.min.js" % bokeh.__version__
    summary = engine.summarize(site["layer_defs"], batch=DEFAULTS["batch_size"], optimizer=DEFAULTS["optimizer"])
    css = fragments.CSS + RUNS_CSS  # the runs table: the same classes as the app's
    common = {"BOKEH_JS": "assets/" + bokeh_js, "CSS": css, "VERSION": bokeh.__version__}
    page = render_page(
        (STATIC / "index.html").read_text(encoding="utf-8"),
        dict(
            common,
            FIGURES=json_script(figures()),
            SITE=json_script(site),
            LAYER_TABLE=fragments.layer_table_html(summary),
            MEMORY=fragments.memory_html(summary["memory"]),
            STATS=fragments.stats_html({}),
            ACCURACY_NOTE=html_escape(ACCURACY_NOTE),
            LEARNING=html_escape(learning_title(site["classes"])),
            OPTIMIZERS="".join(
                '<option value="%s"%s>%s</option>' % (k, " selected" if k == DEFAULTS["optimizer"] else "", k)
                for k in engine.OPTIMIZER_DEFAULTS
            ),
        ),
    )
    (out / "index.html").write_text(page, encoding="utf-8")
    bench = render_page((STATIC / "bench.html").read_text(encoding="utf-8"), dict(common, SITE=json_script(site)))
    (out / "bench.html").write_text(bench, encoding="utf-8")
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        str(Path(bokeh.__file__).parent / "server" / "static" / "js" / "bokeh.min.js"), str(assets / bokeh_js)
    )
    for name in ASSETS:
        shutil.copyfile(str(STATIC / name), str(assets / name))
    if CONVNETJS.is_file():
        shutil.copyfile(str(CONVNETJS), str(assets / "convnet-min.js"))
    else:
        say("ConvNetJS not found at %s (run `npm install`): the benchmark page will run the engine only" % CONVNETJS)


def build(args):
    t0 = time.time()
    if args.bundle_pyodide:
        bundle_pyodide(args.bundle_pyodide)  # refuse a folder that cannot serve before the long work
    sys.path.insert(0, str(ROOT))
    from app.core.paths import check_packages

    problem = check_packages()
    if problem:
        raise BuildError(problem)
    import engine

    bundle = python_bundle()  # first: a module the browser cannot import fails the build at once
    out = Path(args.out).resolve()
    if out == ROOT or out in ROOT.parents:
        raise BuildError("--out %s would overwrite the project; choose an empty folder such as dist" % out)
    if out.exists() and any(out.iterdir()):
        if not (out / "site.json").is_file():
            raise BuildError(
                "--out %s is not empty and holds no earlier build (no site.json): choose another "
                "folder or empty it" % out
            )
        shutil.rmtree(str(out))
    out.mkdir(parents=True, exist_ok=True)
    info, files = pack_data(out, args.data, args.train_images, args.test_images, args.seed)
    snap_src = None if args.no_snapshot else (args.snapshot or str(ROOT / "app" / "pretrained" / "cifar10.npz"))
    snapshot = pack_snapshot(out, snap_src, info["classes"], explicit=bool(args.snapshot))
    (out / "py").mkdir()
    (out / "py" / "bundle.json").write_text(json.dumps({"files": bundle}), encoding="utf-8")
    pyodide_url = args.pyodide_url if args.pyodide_url.endswith("/") else args.pyodide_url + "/"
    if args.bundle_pyodide:
        pyodide_url = bundle_pyodide(args.bundle_pyodide, out)
    site = dict(
        info,
        pyodide_url=pyodide_url,
        snapshot=snapshot,
        defaults=DEFAULTS,
        optimizers=engine.OPTIMIZER_DEFAULTS,
        layer_defs=sized_layer_defs(len(info["classes"])),
        data={name: "data/" + name for name in files},
        convnetjs=CONVNETJS.is_file(),
        bytes=dict(
            {name: int(a.nbytes) for name, a in files.items()},
            **({"pretrained.npz": (out / snapshot).stat().st_size} if snapshot else {}),
        ),
        built=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    (out / "site.json").write_text(json.dumps(site, indent=1), encoding="utf-8")
    write_pages(out, site)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    say(
        "wrote %s: %s in %d files, %.1f s; Pyodide from %s"
        % (out, _mb(size), sum(1 for f in out.rglob("*") if f.is_file()), time.time() - t0, pyodide_url)
    )
    say("serve it with: python -m http.server -d %s 8000  (then open http://127.0.0.1:8000/)" % args.out)
    return out


def _mb(n):
    return "%.1f MB" % (n / 1e6)


def main(argv=None):
    args = parse_args(argv)
    try:
        build(args)
    except BuildError as e:
        print("build.py: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
