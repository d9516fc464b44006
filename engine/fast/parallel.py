"""Which threads run the Numba backend's chunk kernels: Numba's own pool, or engine.fast.workers.

Numba's pool (its OpenMP layer, or TBB's) runs a chunk kernel through a small `prange` wrapper
beside it (`*_par` in the _numba_*.py modules): the pool's threads spin a little before they
sleep, so starting a loop costs a fraction of handing a call to engine.fast.workers' threads,
which wait on a queue and then for the GIL (waking a sleeping thread is slow on a VM), and a
training step is faster at every batch size (see docs/BENCHMARKS.md, "Numba's pool against
our own threads").

The wrappers cost compile time: Numba's parfor pipeline links the chunk kernel into the loop
body and the loop into the wrapper, and LLVM optimises it again each time (the five a ReLU
net needs take about twice the kernels' own compile time; same entry). So a wrapper is
compiled in a background thread once it has been wanted WANTED times (a few training steps:
by then the kernels themselves are compiled, and Numba compiles one function at a time), and
the calls run on engine.fast.workers until it is ready. The first training step does not wait
for it, a test that calls a kernel a few times never compiles it, and with Numba's cache
filled (every later start) it is ready a few steps in. wait_compiled() waits for it (benchmarks);
so does the process's exit (the thread is not a daemon: killed inside LLVM, it crashed the exit).

How long a thread of the pool spins before it sleeps is OpenMP's GOMP_SPINCOUNT, read once,
when libgomp loads: config.OMP_SPINCOUNT, if set, is what the pool gets (the environment's own value
is put back at once, so that another library's OpenMP, PyTorch's, keeps its own). Long spins
win on a machine that trains and does nothing else (the engine's CLI); the app sets short ones
because it shares two cores with a browser and its server: a thread that spins holds a core
that the OS could give to the training thread a browser redraw pushed aside (config.py).

engine.fast.workers runs every call where neither layer loads (no libgomp or libtbb), where
NUMBA_THREADING_LAYER names another one (workqueue starts a loop slower still and may not be
entered by two threads at once), and with CONVNET_NUMBA_POOL=workers (config.py).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading

import numba
import numpy as np

from . import config
from .workers import capped, workers


@contextlib.contextmanager
def _spincount(spins):
    """GOMP_SPINCOUNT=spins while libgomp loads (None: leave it be)."""
    if spins is None:
        yield
        return
    before = os.environ.get("GOMP_SPINCOUNT")
    os.environ["GOMP_SPINCOUNT"] = str(int(spins))
    try:
        yield
    finally:
        if before is None:
            del os.environ["GOMP_SPINCOUNT"]
        else:
            os.environ["GOMP_SPINCOUNT"] = before


def threading_layer():
    """ "omp" or "tbb", the first that loads (or the one NUMBA_THREADING_LAYER names, if it is
    one of them), made Numba's choice; None: engine.fast.workers runs the chunks."""
    if not config.PARALLEL_ENABLED or config.POOL == "workers":
        return None
    from numba.np.ufunc import parallel

    if parallel._is_initialized:  # somebody started Numba's pool already: it is what it is
        layer = numba.threading_layer()
        return layer if layer in ("omp", "tbb") else None
    named = os.environ.get("NUMBA_THREADING_LAYER")
    for layer in [named] if named else ["omp", "tbb"]:
        if layer not in ("omp", "tbb"):
            return None
        try:
            with _spincount(config.OMP_SPINCOUNT if layer == "omp" else None):
                importlib.import_module("numba.np.ufunc.%spool" % layer)
        except ImportError:  # no libgomp / libtbb on this machine
            continue
        numba.config.THREADING_LAYER = layer
        return layer
    return None


LAYER = threading_layer()

WANTED = 16  # 1: compile at the first call, in the calling thread's time (tests)
_lock = threading.Lock()
_ready = set()  # (wrapper, dtype) compiled
_compiling = {}  # (wrapper, dtype) -> its compiling thread
_asked = {}  # (wrapper, dtype) -> times wanted before it compiles


def _start_pool():
    """Start Numba's pool from this thread (the compiling one), before a wrapper or run_ops
    is compiled or loaded from the cache. A function loaded from the cache whose parallel
    loops are its callees' (compiled_pass's run_ops) does not start it, and its first loop
    then took the process down (SIGSEGV). Never from the thread that trains: started there,
    the pool left PyTorch's two threads in the same process (the bench's peer) 13x slower
    at batch 1 for good (docs/BENCHMARKS.md, "A pass in one compiled call")."""
    if LAYER is None:
        return
    from numba.np.ufunc import parallel as pool

    start = getattr(pool, "_launch_threads", None)
    if start is not None:
        start()


def _compile(key, wrapper, signature):
    try:
        _start_pool()
        wrapper.compile(signature)
    except Exception:  # noqa: BLE001 - stays on engine.fast.workers, which gives the same results
        return
    with _lock:
        _ready.add(key)


def _wanted(wrapper, args, dtype):
    """Is the wrapper compiled for these argument types? If not, compile it in the background."""
    key = (wrapper, np.dtype(dtype))
    if key in _ready:
        return True
    with _lock:
        _asked[key] = n = _asked.get(key, 0) + 1
        if n >= WANTED and key not in _compiling:
            signature = tuple(numba.typeof(a) for a in args)
            # not a daemon: Python's exit waits for it. A daemon thread still inside LLVM when
            # the interpreter tears down took the process with it (SIGABRT or SIGSEGV, exit
            # 134/139, in 2 runs of 4 of a short training that ended while wrappers compiled)
            t = threading.Thread(target=_compile, args=(key, wrapper, signature), name="convnet-compile", daemon=False)
            _compiling[key] = t
            t.start()
    if WANTED <= 1:  # compile at the first call, and use it (tests)
        _compiling[key].join()
        return key in _ready
    return False


def wait_compiled(timeout=None):
    """Wait until the wrappers compiling in the background are ready (or failed); True if
    every wrapper wanted so far is compiled."""
    with _lock:
        threads = list(_compiling.values())
    for t in threads:
        t.join(timeout)
    with _lock:
        return all(key in _ready for key in _asked)


def run(T, chunk, wrapper, args, dtype):
    """Run a chunk kernel that takes its chunks itself (args hold its bounds and taken
    counter) on T threads (fewer under workers.cap_threads: the same chunks, the same bits):
    wrapper(T, *args) on Numba's pool once compiled, else on engine.fast.workers."""
    T = capped(T)
    if T == 1:
        chunk(*args)
    elif LAYER is not None and _wanted(wrapper, (T,) + args, dtype):
        wrapper(T, *args)
    else:
        workers.run([(chunk, args)] * T, T)


_bounds = {}  # tuple(bounds) -> its int64 array: the few splits a net uses, made once (never
# written to; not flagged read-only, which Numba would compile every kernel again for)


def chunks(ranges):
    """(bounds, taken) for a kernel that takes its chunks itself: chunk c is
    [bounds[c], bounds[c + 1]), and taken[0] counts the chunks taken so far (_numba_intrinsics._take)."""
    bounds = _bounds.get(ranges) if type(ranges) is tuple else None  # a plan's ranges: made once
    if bounds is None:
        key = tuple([i0 for i0, _ in ranges] + [ranges[-1][1]])
        bounds = _bounds.get(key)
        if bounds is None:
            if len(_bounds) > 4096:  # a long-running process that saw many shapes
                _bounds.clear()
            bounds = _bounds[key] = np.array(key, dtype=np.int64)
        if type(ranges) is tuple:
            _bounds[ranges] = bounds
    return bounds, np.zeros(1, dtype=np.int64)


def run_ranges(T, chunk, wrapper, head, ranges, tail, dtype):
    """Run a chunk kernel called as chunk(*head, i0, i1, *tail) for each [i0, i1) of ranges on
    T threads (or the cap's); on Numba's pool, wrapper(T, bounds, taken, *head, *tail) takes them one by one."""
    T = capped(T)
    if T == 1:
        for i0, i1 in ranges:
            chunk(*head, i0, i1, *tail)
        return
    if LAYER is not None:
        args = (T,) + chunks(ranges) + tuple(head) + tuple(tail)
        if _wanted(wrapper, args, dtype):
            wrapper(*args)
            return
    workers.run([(chunk, tuple(head) + (i0, i1) + tuple(tail)) for i0, i1 in ranges], T)
