"""Fixtures more than one test module uses; kept small on purpose.

The test folder goes on sys.path so that `import naive` (the loop-based references) and
`import browser` (what the end-to-end tests and benchmarks share) work however pytest was
started. Paths to the shared data and peers sit beside the repository.

    backend, kernels     every kernel backend by name, and its kernel module (engine tests)
    data, runner         a small synthetic dataset and a paused, unthreaded Runner on it
                         (the lecture and relay tests; a module may define its own)
    browser              headless Chromium, one per module (the browser tests)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = TESTS.parents[1] / "shared"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

BACKENDS = ["numpy", "numba"]


# A net that trains in milliseconds on synthetic 32x32x3 data of 10 classes (runner and view tests).
TINY = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 6, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 4},
    {"type": "softmax", "num_classes": 10},
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every backend by name; numba errors (it is not skipped) while its module is missing."""
    return request.param


@pytest.fixture
def kernels(backend):
    from engine import get_kernels

    return get_kernels(backend)


@pytest.fixture(scope="module")
def data():
    """160 training and 40 test images of 10 classes (seeded noise): a training step in milliseconds."""
    from datasets import synthetic_dataset

    return synthetic_dataset(160, 40, 10, seed=3)


@pytest.fixture
def runner(data):
    """A paused Runner on `data`, driven by tick() (no thread), that probes and evaluates every tick."""
    from app.core import Runner

    return Runner(
        data, backend="numpy", batch_size=16, threaded=False, running=False, eval_interval=0.0, vis_interval=0.0
    )


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright (tests/browser.py says why not Playwright's)."""
    from browser import chromium

    with chromium() as b:
        yield b
