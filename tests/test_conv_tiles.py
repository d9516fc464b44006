"""The Numba conv kernels' two tile widths: 16 output pixels per forward tile (dw tiles of 4
filters x 5 runs, dx tiles over pairs of filters) where the CPU has AVX-512, 4 elsewhere
(engine/fast/_numba_conv.py, PX).
The other kernel tests run the width this machine picks; here a fresh process runs each
width (CONVNET_CONV_TILE_PIXELS, with its own Numba cache: the cache does not key on it)
against the NumPy kernels, over the edges the tiles have: output rows not a multiple of the
tile, filters left over past the slices of 16 (in fours: 7 and 33 leave rows of zeros), kernel
rows shorter than 16 values and longer, not a multiple of 16 or of 4, stride 2,
and dx both by tiles and as a convolution of dout; and a case for Winograd's kernel, whose
products take NT = PX tiles. Both widths' forward outputs and dw must be the same bits (each output's sum runs in the same order whatever the tile; the dw tiles sum
the pixels in the same order).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = r"""
import numpy as np
from engine import kernels_numpy as kn
from engine.fast import _numba_conv, config
from engine.fast import kernels_numba as kb
assert _numba_conv.PX == int(PX), _numba_conv.PX
config.THREADS = 2
config.MIN_PARALLEL_MACS = 0
config.MIN_WINOGRAD_PIXELS = 0
rng = np.random.RandomState(0)
cases, dws = 0, {}
# (H, W, C, F, k, stride, pad): Wo 13, 9, 7, 5 and 33; F 20, 7, 16, 33; runs of 15, 21, 18, 60;
# the last by Winograd (forward and dx), whose products take NT = PX tiles
for H, W, C, F, k, stride, pad in [(9, 13, 3, 20, 5, 1, 2), (10, 17, 3, 7, 7, 2, 3),
                                   (6, 7, 6, 16, 3, 1, 1), (5, 5, 12, 33, 5, 1, 2), (4, 33, 4, 4, 3, 1, 1),
                                   (6, 10, 20, 20, 5, 1, 2)]:
    for relu in (False, True):
        for dx_by_conv in (False, True):
            config.MIN_DX_BY_CONV_PIXELS = 0 if dx_by_conv else 10**9
            # Winograd rounds to ~1e-6 of the products' magnitudes (tests/test_conv_winograd.py),
            # which reach ~500 in this case (500 products of standard normal values a sum)
            tol = {"rtol": 1e-4, "atol": 2e-3 if C == 20 else 1e-4}
            x = rng.standard_normal((3, H, W, C)).astype(np.float32)
            w = rng.standard_normal((F, C, k, k)).astype(np.float32)
            b = rng.standard_normal(F).astype(np.float32)
            out_n, cache_n = kn.conv_forward(x, w, b, stride, pad)
            dout = rng.standard_normal(out_n.shape).astype(np.float32)
            if relu:
                act_n = np.maximum(out_n, 0)
                act, cache = kb.conv_relu_forward(x, w, b, stride, pad)
                np.testing.assert_allclose(act, act_n, **tol)
                got = kb.conv_relu_backward(dout, act, cache)
                expected = kn.conv_backward(np.where(act_n > 0, dout, 0).astype(np.float32), cache_n)
            else:
                out, cache = kb.conv_forward(x, w, b, stride, pad)
                np.testing.assert_allclose(out, out_n, **tol)
                got = kb.conv_backward(dout, cache)
                expected = kn.conv_backward(dout, cache_n)
            for name, g, e in zip(("dx", "dw", "db"), got, expected):
                np.testing.assert_allclose(g, e, err_msg=name, **tol)
            dws["case%d" % cases] = got[1]
            dws["out%d" % cases] = act if relu else out
            cases += 1
np.savez(OUT, **dws)
print("cases", cases)
"""


@pytest.fixture(scope="module")
def widths(tmp_path_factory):
    """Each width run once, in a process of its own: {px: (the process, its dw arrays' file)}."""
    runs = {}
    for px in ("4", "16"):
        tmp = tmp_path_factory.mktemp("px" + px)
        env = dict(os.environ, CONVNET_CONV_TILE_PIXELS=px, NUMBA_CACHE_DIR=str(tmp / "numba-cache"))
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        out = tmp / "dw.npz"
        proc = subprocess.run(
            [sys.executable, "-c", "PX, OUT = %r, %r\n" % (px, str(out)) + CHECK],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        runs[px] = proc, out
    return runs


@pytest.mark.parametrize("px", ["4", "16"])
def test_each_tile_width_matches_numpy(px, widths):
    proc, _ = widths[px]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["cases", "24"]


def test_both_widths_give_the_forward_and_dw_the_same_bits(widths):
    assert all(proc.returncode == 0 for proc, _ in widths.values())
    four, sixteen = (np.load(str(widths[px][1])) for px in ("4", "16"))
    assert sorted(four.files) == sorted(sixteen.files) and len(four.files) == 48
    for name in four.files:
        assert np.array_equal(four[name], sixteen[name]), name
