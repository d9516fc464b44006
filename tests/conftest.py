"""Shared fixtures for the engine tests; kept small on purpose.

The test folder goes on sys.path so that `import naive` (the loop-based references) works
however pytest was started. Paths to the shared data and peers sit beside the repository.
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


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Every backend by name; numba errors (it is not skipped) while its module is missing."""
    return request.param


@pytest.fixture
def kernels(backend):
    from engine import get_kernels

    return get_kernels(backend)
