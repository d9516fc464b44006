"""Compile and threading options of the Numba kernels, in one place (kernels_numba.py, the
_numba_*.py modules beside it and parallel.py read them).

Nothing else lives here, and this module does not import Numba.

- `JIT` is the keyword dict for `numba.njit`. `cache=True` writes the machine code beside the
  source (engine/fast/__pycache__/_numba_*.nbi/.nbc), so only the first run after an install
  pays for compiling. `nogil=True` lets the kernels of one batch run on several threads.
- fastmath: only the flags that let LLVM vectorise reductions and fuse multiply-adds
  ("reassoc", "contract") plus "nsz" and "arcp". Not "nnan"/"ninf": with those LLVM may assume
  that no NaN exists and fold it away, and the training loop's divergence check (a NaN loss
  pauses the run) relies on NaN flowing through every kernel.
- Numba's cache index keys on a function's bytecode and signature, not on these options: after
  editing them, delete engine/fast/__pycache__/*.nbi and *.nbc so that nothing stale is loaded.
- Threads: a batch is split into chunks that THREADS threads take (default: Numba's
  NUMBA_NUM_THREADS, i.e. the CPUs this process may use), on Numba's OpenMP/TBB pool or on
  engine.fast.workers (POOL; parallel.py). `CONVNET_NUMBA_PARALLEL=0` runs every kernel on
  the calling thread only.
"""

from __future__ import annotations

import os

JIT = {
    "cache": True,
    "nogil": True,
    "fastmath": {"reassoc", "contract", "nsz", "arcp"},
    "error_model": "numpy",  # x / 0 gives inf or NaN, as NumPy does, with no check per division
}

PARALLEL_ENABLED = os.environ.get("CONVNET_NUMBA_PARALLEL", "1").strip().lower() not in ("0", "false", "no", "off")
THREADS = None  # None: numba.config.NUMBA_NUM_THREADS; the bench sets it for --threads
# Which threads run the chunks (parallel.LAYER): "numba", Numba's OpenMP or TBB pool where
# one loads, else engine.fast.workers; "workers", engine.fast.workers always.
POOL = os.environ.get("CONVNET_NUMBA_POOL", "numba").strip().lower()
# How many times a thread of Numba's OpenMP pool spins before it sleeps (GOMP_SPINCOUNT for
# that pool only); None: OpenMP's default (300,000). Read once, when the pool loads. The app
# sets APP_OMP_SPINCOUNT (engine.fast.share_cores_with_a_server): beside a browser, short
# spins leave the cores to whoever needs them, which costs a training alone a little (see
# docs/BENCHMARKS.md, "OpenMP spin count beside a browser").
OMP_SPINCOUNT = None
APP_OMP_SPINCOUNT = 3000

# Below these sizes one thread does it all: handing work to another thread costs more than it
# saves (it costs less on Numba's pool than on engine.fast.workers). Convolutions: every conv
# of the CIFAR-10 net runs on 2 threads even at batch 1 (its smallest, conv3's forward, has
# 640k); pooling and elementwise gained nothing from a lower threshold (see
# docs/BENCHMARKS.md, "When a call is shared out").
MIN_PARALLEL_MACS = 500_000  # conv multiply-adds in one call (2x for a backward)
MIN_PARALLEL_ELEMENTS = 200_000  # values read by a pooling or elementwise call
# Above them, a call is cut into this many chunks per thread and threads take chunks as they
# finish: a thread parked by the OS (others' work on a shared machine) then holds up only
# one small chunk, not half of the batch.
CHUNKS_PER_THREAD = 4

# conv_backward computes dx as a convolution of dout (stride 1) from this many output
# pixels in the batch on (conv2 at batch 1, conv3 at batch 4); below, one call does dw and dx
# together (its dx tiles): a second hand-off to the threads costs more than it saves on the
# smallest calls, and the tiles lose on bigger ones (see docs/BENCHMARKS.md, "Numba dx as a
# convolution").
MIN_DX_BY_CONV_PIXELS = 256

# 5x5 convolutions of stride 1 by Winograd's F(2x2, 5x5) where kernels_numba.winograd()
# allows (its outputs differ from the direct sum's in the last bits, as any other order of
# the sum would); CONVNET_WINOGRAD=0 runs every convolution directly (benchmarks compare).
WINOGRAD = os.environ.get("CONVNET_WINOGRAD", "1").strip().lower() not in ("0", "false", "no", "off")
# ... from this many output pixels in the batch on: its filters' transform costs ~3x the
# direct kernel's layout (~12 us against 3.3 for conv2), which a call of fewer pixels does
# not win back (conv2 at batch 1, 256 pixels, lost 2 us; conv3 at batch 4 broke even).
MIN_WINOGRAD_PIXELS = 512

# A Numba net's forward and backward as a few compiled calls of its kernels instead of one
# Python call each (compiled_pass.py); CONVNET_COMPILED_PASS=0 runs the layers one by one
# (benchmarks and tests compare the two).
COMPILED_PASS = os.environ.get("CONVNET_COMPILED_PASS", "1").strip().lower() not in ("0", "false", "no", "off")

# Output pixels per work item of the conv kernels (whole output rows): the dw tiles sum
# over a block's pixels, and a batch-1 image must still split into chunks for both threads.
CONV_BLOCK_PIXELS = 64
