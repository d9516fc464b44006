"""What the Numba conv kernels ask of the CPU they compile for: its vector width, through
llvmlite (which Numba compiles with), so the answer is what the compiled code may use. Apart
from _numba_conv.py so that that file holds its kernels and their helpers (the static site
ships neither)."""

from __future__ import annotations

import os

from llvmlite import binding


# Output pixels per forward tile: 16 where the CPU has AVX-512, 4 otherwise. A tile's sums are
# PX x 16 values; with 512-bit registers that is PX registers, and a fused multiply-add's
# latency (4 cycles) times its throughput (2 per cycle) needs 8 independent sums in flight:
# 4 of them left half of the FMA units idle; 16 (half of AVX-512's 32 registers) ran conv2's
# forward 4-8% faster than 8, each load of the weights' row feeding twice the multiply-adds.
# On AVX2, 8 x 16 values would need 16 of its 16 registers and spill. Numba compiles PX in
# as a constant, and its cache keys on the CPU, so a cache written on one kind of CPU is not
# loaded on another (see docs/BENCHMARKS.md, "Eight sums in flight on AVX-512" and "Sixteen
# pixels a forward tile").
def tile_pixels():
    """Output pixels per tile of the Numba conv forward kernel: 16 on a CPU with AVX-512 (its
    32 vector registers hold 16 x 16 sums with room to spare), 4 otherwise. Asks llvmlite,
    which Numba compiles with, so the answer is what the compiled code may use."""
    forced = os.environ.get("CONVNET_CONV_TILE_PIXELS", "").strip()
    if forced in ("4", "16"):  # tests of the other tile; Numba's cache does not key on it, so
        return int(forced)  # such a run needs its own NUMBA_CACHE_DIR
    try:
        binding.initialize_native_target()
        return 16 if "+avx512f" in binding.get_host_cpu_features().flatten().split(",") else 4
    except Exception:  # no such query in this llvmlite: the narrow tile, right everywhere
        return 4
