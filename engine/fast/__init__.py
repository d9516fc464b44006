"""What is here exists only for speed: a reader learning how a layer works never needs it.

The layers (engine/layers.py) and the NumPy kernels (engine/kernels_numpy.py) say what a
ConvNet computes. This package computes the same faster, with the same results (the tests
compare them value for value or bit for bit):

    kernels_numba.py  the Numba backend: kernels_numpy.py's names and signatures, compiled.
                      Its convolution's calls and their plans are _numba_conv_calls.py, what
                      every call shares (threads, chunks, the plans' cache) _numba_plans.py.
                      Its loops live in _numba_conv.py, _numba_winograd.py, _numba_pool.py,
                      _numba_act.py and _numba_optim.py, each with every helper its kernels
                      call (Numba's cache only notices edits to the compiled function's own
                      file; the small settled exceptions say so at their top).
    config.py         the Numba kernels' compile options and thread thresholds.
    parallel.py       which threads run the Numba kernels' chunks: Numba's OpenMP/TBB pool,
                      or workers.py where that pool does not load.
    workers.py        threads of our own, beside the calling thread.
    numpy_threads.py  the NumPy backend's big calls shared out to workers.py's threads.
    batch_shares.py   the NumPy backend's training step by shares of the batch, one a thread.
    tuner.py          all threads or one for a training step, whichever trains faster now.
    fusion.py         a conv and the ReLU after it run as one call each way (Net pairs them).
    compiled_pass.py  a Numba net's forward and backward as a few compiled calls of its
                      kernels (_numba_pass.py runs them), not one Python call a kernel.
    memory.py         glibc keeps the memory a training step frees, for the next step.

The browser (Pyodide) gets fusion.py, memory.py, workers.py, numpy_threads.py, batch_shares.py
and tuner.py: plain Python 3.8 that starts no thread there. The Numba modules, parallel.py and config.py stay
behind; this file imports none of them at import time (docs/ARCHITECTURE.md, "Speed").
"""

from .fusion import pair_conv_relu
from .memory import keep_freed_memory

__all__ = ["keep_freed_memory", "numpy_blas", "pair_conv_relu", "share_cores_with_a_server"]


def share_cores_with_a_server():
    """Let the Numba backend's OpenMP threads go to sleep soon after a kernel, for a process
    that shares its cores with a server and a browser (the app), or with whatever else runs
    on a laptop (`engine train`): a spinning thread holds a core the OS could give to the
    training thread that other work pushed aside. Call it before the first Numba net is
    built: the pool reads it once, when it loads (parallel.py)."""
    from . import config

    config.OMP_SPINCOUNT = config.APP_OMP_SPINCOUNT


def numpy_blas():
    """The OpenBLAS NumPy loaded as it names itself, with the kernels it runs on this CPU, or
    None (the bench prints it beside the NumPy backend's figures): numpy_threads.py asks it,
    imported only here, so that a caller outside this package reaches no thread pool."""
    from .numpy_threads import openblas_config

    return openblas_config()
