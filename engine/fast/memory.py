"""The C allocator's settings for training: keep the memory a step frees for the next step.

A training step allocates and frees the same few-megabyte arrays (activations, gradients,
scratch) every time. glibc's malloc gives big freed blocks back to the OS (blocks over its
mmap threshold are unmapped, and a free heap top over the trim threshold is cut), so the next
step faults the same pages in again and the kernel zeroes them: time in the OS kernel instead
of ours (see docs/BENCHMARKS.md, "Keeping freed memory"). Raising both thresholds keeps the
memory with the process; a step then reuses what the last one freed. The setting is
process-wide: PyTorch in the same process (the bench) is left with the same allocator settings
as the engine.

Nothing here but that one setting. Plain Python and harmless elsewhere: it does nothing but
on Linux with glibc (not in Pyodide, not on macOS or Windows), and never fails.
"""

from __future__ import annotations

import sys

# mallopt parameters (glibc's malloc.h) and the values set
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD = 64 << 20  # keep up to 64 MB of free heap top (glibc: 128 KB, rising to 64 MB)
MMAP_THRESHOLD = 32 << 20  # blocks under 32 MB come from the heap (glibc's own ceiling when it adapts)

_result = None  # what the first call returned


def keep_freed_memory():
    """Set glibc's trim and mmap thresholds, once per process; True if they were set."""
    global _result
    if _result is None:
        _result = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                _result = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
                _result = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and _result
            except (OSError, AttributeError):  # not glibc (musl has no mallopt), or no ctypes
                pass
    return _result
