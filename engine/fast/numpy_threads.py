"""Threads for the NumPy backend's big calls: parts of a batch side by side, OpenBLAS on one thread.

NumPy's ufuncs and OpenBLAS release the GIL, so two Python threads running two halves of a
batch really run in parallel. OpenBLAS's own threads must be off then: two callers each
starting OpenBLAS's thread pool fight over the same cores, and its skinny conv GEMMs (16-20
output channels) use two OpenBLAS threads poorly anyway. OpenBLAS's thread count is
process-wide, and setting it back to 2 after each call costs more than the call saves (its
next call re-prepares the threads; see docs/BENCHMARKS.md, "NumPy threads and OpenBLAS"), so
the first `run()` that shares work out sets it to 1 and leaves it there: from then on every
OpenBLAS call of the process runs on one thread (the NumPy backend shares out its fc layers
too; other users of BLAS in the process are slower, not wrong).

Only used where it can work: CPython with an OpenBLAS whose `set_num_threads` is found among
the loaded libraries (/proc/self/maps, Linux). Elsewhere — Pyodide (no threads), MKL, macOS's
Accelerate — `threads()` is 1 and `run()` runs every call on the calling thread, as before.
`CONVNET_NUMPY_THREADS=0` (or 1) turns it off; another number sets the threads (default:
the CPUs this process may use, at most OpenBLAS's own thread count, so that
OPENBLAS_NUM_THREADS=1 keeps the backend on one core). Plain Python; Python 3.8 compatible.

    threads() -> how many threads run() uses (1: no threading here)
    run(fn, calls, T) -> [fn(*args) for args in calls], on up to T threads
    with alone(): ... -> the calling thread's kernels run on it alone (threads() is 1 there)
    blas_threads() -> how many threads OpenBLAS runs on now (0: no OpenBLAS found)
"""

from __future__ import annotations

import contextlib
import os
import threading

from .workers import capped, workers

# (setter, getter) symbol pairs: NumPy >= 2 wheels, NumPy 1.x wheels, system OpenBLAS.
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)

_state = {"threads": None, "blas": None, "blas_off": False}  # found on first use
_lock = threading.Lock()
_here = threading.local()  # .alone: this thread runs its kernels by itself (see alone())


def _openblas_libs():
    """(ctypes, library) for each OpenBLAS this process has loaded (NumPy's); none where there
    is no /proc or no ctypes (Pyodide)."""
    try:
        import ctypes

        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except (OSError, ImportError):
        return
    for path in paths:
        try:
            yield ctypes, ctypes.CDLL(path)
        except OSError:
            continue


def _find_openblas():
    """(set_num_threads, get_num_threads) of the OpenBLAS NumPy loaded, or None."""
    for ctypes, lib in _openblas_libs():
        for set_name, get_name in _SYMBOLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


def openblas_config():
    """The OpenBLAS NumPy loaded, as it describes itself (version, build options and the
    kernels it picked for this CPU, e.g. "... SkylakeX ..."), or None where there is none
    (Pyodide, MKL, Accelerate). The kernels set NumPy's speed more than anything here does:
    OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU halves some of the conv GEMMs
    (docs/BENCHMARKS.md, "NumPy training step at batch 64: where the time goes")."""
    for ctypes, lib in _openblas_libs():
        for name in ("scipy_openblas_get_config64_", "openblas_get_config64_", "openblas_get_config"):
            get = getattr(lib, name, None)
            if get is not None:
                get.argtypes, get.restype = [], ctypes.c_char_p
                return " ".join(get().decode("ascii", "replace").split())
    return None


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads():
    """How many threads run() uses: 1 where threading is off or cannot help (see above), or
    on a thread inside alone()."""
    if getattr(_here, "alone", False):
        return 1
    if _state["threads"] is None:
        T = 1
        wanted = os.environ.get("CONVNET_NUMPY_THREADS", "").strip().lower()
        if wanted not in ("0", "1", "false", "no", "off"):
            blas = _find_openblas()
            if blas is not None:
                T = min(_cpus(), max(1, blas[1]()))
                if wanted.isdigit():
                    T = int(wanted)
                _state["blas"] = blas
        _state["threads"] = T
    return _state["threads"]


@contextlib.contextmanager
def alone():
    """The calling thread's kernels run on it alone while inside: threads() is 1 there, so they
    cut their work as on one thread and share nothing out (batch_shares.py gives each thread a
    share of a training step's images this way). OpenBLAS stays as it is: call it from a
    run() that shared work out, which has set OpenBLAS to one thread."""
    before = getattr(_here, "alone", False)
    _here.alone = True
    try:
        yield
    finally:
        _here.alone = before


def blas_threads():
    """How many threads OpenBLAS runs on now: 1 once run() has shared work out (see above) or
    where OPENBLAS_NUM_THREADS=1; 0 where no OpenBLAS is found (Pyodide, MKL, Accelerate)."""
    if _state["blas"] is None and not _state.get("blas_looked"):
        _state["blas"], _state["blas_looked"] = _find_openblas(), True
    return _state["blas"][1]() if _state["blas"] is not None else 0


def run(fn, calls, T=None):
    """[fn(*args) for args in calls], the calls shared out to up to T threads (default
    threads()) of engine.fast.workers, each taking the next call not yet taken; re-raises the
    first error. (Where threads() is 1, Pyodide included, no thread is ever started.)"""
    calls = list(calls)
    T = min(threads() if T is None else T, threads(), len(calls))
    if T <= 1:
        return [fn(*args) for args in calls]
    with _lock:
        if not _state["blas_off"]:
            _state["blas"][0](1)
            _state["blas_off"] = True
    T = capped(T)  # workers.cap_threads: the same shares on fewer threads (OpenBLAS on one all the same)
    if T <= 1:
        return [fn(*args) for args in calls]
    results = [None] * len(calls)

    def one(i, args):
        results[i] = fn(*args)

    workers.run([(one, (i, args)) for i, args in enumerate(calls)], T)
    return results
