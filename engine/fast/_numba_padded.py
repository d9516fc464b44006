"""The padded image the Numba conv kernels read (direct and Winograd), and the loop by which
their chunk kernels take work: one copy for _numba_conv.py and _numba_winograd.py.

Numba's cache notices edits only in the file of the function it compiled: after editing this
file, delete engine/fast/__pycache__/_numba_conv*.nbi/.nbc and _numba_winograd*.nbi/.nbc (see
config.py). It is small and settled, which is why it lives apart from the kernels.

The padded image xp (Hp, XW) holds image n with `pad` zeros around it and SPARE more zero
columns at the end of each row (XW = W*C + 2*pad*C + SPARE), channels innermost.
"""

from __future__ import annotations

from numba import carray, njit

from . import config
from ._numba_intrinsics import _at, _take

_jit = njit(**config.JIT)

SPARE = 16  # zeros past each padded row: a dw tile reads up to 15 values past a window's run


@_jit
def _pad_image(xf, n, C, pad, xp):
    """Copy image n of xf (N, H, W*C) into the interior of xp (Hp, XW), whose border is 0."""
    H, WC = xf.shape[1], xf.shape[2]
    XW = xp.shape[1]
    for h in range(H):
        src = carray(_at(xf, (n * H + h) * WC), WC)
        dst = carray(_at(xp, (h + pad) * XW + pad * C), WC)
        for k in range(WC):
            dst[k] = src[k]


@_jit
def _chunk(taken, bounds):
    """The work items [i0, i1) of the next chunk this thread takes, or (-1, -1) when every
    chunk is taken."""
    c = _take(taken)
    if c >= bounds.shape[0] - 1:
        return -1, -1
    return bounds[c], bounds[c + 1]


@_jit
def _block_of(item, nblk, rb, rows, xf, C, pad, xp, cur):
    """(image, first row, rows) of work item `item`: nblk blocks of rb of an image's `rows`
    rows (of outputs, or of tiles), the image padded into xp unless it is there already
    (image cur; -1: none yet)."""
    n = item // nblk
    if n != cur:
        _pad_image(xf, n, C, pad, xp)
    r0 = (item - n * nblk) * rb
    return n, r0, min(rows, r0 + rb) - r0
