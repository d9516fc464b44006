"""Where the app finds things, and which of our packages it is really running.

One place for: the repository root, the pretrained snapshot that ships with the project, the
default kernel backend (numba when it imports, else numpy), the class names to fall back on
when a snapshot carries none, and the check that `engine` and `datasets` are this repository's
packages (Hugging Face's `datasets` has the same name). Nothing here imports Panel.
"""

from __future__ import annotations

import importlib
from pathlib import Path

APP_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = APP_DIR.parent
PRETRAINED = APP_DIR / "pretrained" / "cifar10.npz"

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def pretrained_path():
    """The shipped pretrained snapshot's path, or None when it is not there (yet)."""
    return PRETRAINED if PRETRAINED.is_file() else None


def available_backends():
    """Kernel backends that run here, fastest first: ["numba", "numpy"] or ["numpy"]."""
    import engine

    return engine.available_backends()


def default_backend():
    return available_backends()[0]


def class_names(n, preferred=None):
    """n class names: `preferred` if it has n entries, CIFAR-10's for n == 10, else class0..."""
    if preferred and len(preferred) == n:
        return [str(c) for c in preferred]
    if n == len(CIFAR10_CLASSES):
        return list(CIFAR10_CLASSES)
    return ["class%d" % i for i in range(n)]


def check_packages():
    """None if `engine` and `datasets` are this repository's packages, else a message saying why not.

    Importing by these generic names can pick up another installed package (Hugging Face's
    `datasets`, above all); training against it would fail in confusing ways later.
    """
    problems = []
    for name in ("engine", "datasets"):
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            problems.append("cannot import %r (%s)" % (name, e))
            continue
        where = Path(getattr(mod, "__file__", "") or "").resolve().parent
        if where != REPO_ROOT / name:
            problems.append("the %r package imported is %s, not this project's %s" % (name, where, REPO_ROOT / name))
    if not problems:
        return None
    return (
        "ConvNet Playground cannot start: %s. Another package with the same name shadows ours "
        "(Hugging Face's `datasets` does). Run from the repository root (cd %s && python -m app), "
        "or install the project into its own environment: python -m venv .venv && "
        ".venv/bin/pip install -e ." % ("; ".join(problems), REPO_ROOT)
    )
