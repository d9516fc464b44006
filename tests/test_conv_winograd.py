"""The Numba backend's Winograd convolution, F(2x2, 5x5): its chunk kernels
(engine/fast/_numba_winograd.py, wino_forward_chunk and wino_dw_chunk), their vector steps
(_numba_winograd_ir.py), the filters' transforms (_numba_layout.arrange_winograd,
gather_winograd_dw) and when they run (kernels_numba.winograd).

Each case below is run through the Winograd kernels themselves (spies count their calls),
forward, with the ReLU fused, as the convolution that gives dx, and for dw and db, against the
NumPy kernels in float64: there the algorithm is exact up to rounding, so a wrong matrix or a
misplaced tile shows at once. In float32 it rounds more than the direct sum: the forward to
~1e-6 of the sum of the products' magnitudes (the direct sum ~2e-7), bounded here at 4e-6;
dw, a sum over every tile of the batch, to ~7e-6, bounded at 2e-5. The cases cover the edges of its
runs: channels 8 to 32 (runs of 16 and of 4, the wider row of V), filters in slices of 16 and
fours, blocks of fewer tiles than a product takes and of more, non-square images, padding 3.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import kernels_numpy as kn
from engine.fast import _numba_plans, _numba_winograd, config
from engine.fast import kernels_numba as kb

# (N, H, W, C, F, pad)
CASES = [
    (1, 6, 10, 8, 4, 2),  # the fewest channels, one four of filters, 15 tiles (dx: direct)
    (2, 8, 8, 16, 20, 2),  # conv2's channels and filters: a slice of 16 and a four
    (3, 4, 6, 20, 36, 2),  # channels 16 + 4, filters 16 + 16 + 4 (dx: direct)
    (1, 10, 4, 32, 16, 3),  # V's wider rows; the output larger than the input
    (2, 16, 16, 12, 8, 2),  # three runs of 4 channels; four blocks an image
    (1, 4, 40, 8, 4, 2),  # a block of 20 tiles: a full product and 4 tiles more
]


@pytest.fixture
def winograd_calls(monkeypatch):
    """Winograd at any size, on one thread, its chunk kernel's calls counted."""
    monkeypatch.setattr(config, "MIN_WINOGRAD_PIXELS", 0)
    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 0)  # dx as a convolution
    monkeypatch.setattr(_numba_plans, "_threads", lambda: 1)
    calls = []

    def spy(name, chunk):
        def counted(*args):
            calls.append(name)
            return chunk(*args)

        return counted

    for name in ("wino_forward_chunk", "wino_dw_chunk"):
        monkeypatch.setattr(_numba_winograd, name, spy(name, getattr(_numba_winograd, name)))
    return calls


def case(shape, dtype, seed=0):
    N, H, W, C, F, pad = shape
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((N, H, W, C)).astype(dtype)
    w = rng.standard_normal((F, C, 5, 5)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    Ho, Wo = H + 2 * pad - 4, W + 2 * pad - 4
    dout = rng.standard_normal((N, Ho, Wo, F)).astype(dtype)
    return x, w, b, dout, pad


@pytest.mark.parametrize("shape", CASES, ids=lambda s: "N%d-%dx%d-C%d-F%d-p%d" % s)
def test_winograd_in_float64_is_the_convolution(winograd_calls, shape):
    x, w, b, dout, pad = case(shape, np.float64)
    N, H, W, C, F, _ = shape
    assert kb.winograd(C, F, 5, 5, 1, N, H + 2 * pad - 4, W + 2 * pad - 4)
    out_n, cache_n = kn.conv_forward(x, w, b, 1, pad)
    out, cache = kb.conv_forward(x, w, b, 1, pad)
    np.testing.assert_allclose(out, out_n, rtol=1e-10, atol=1e-10)
    act, cache_r = kb.conv_relu_forward(x, w, b, 1, pad)
    np.testing.assert_array_equal(act, np.maximum(out, 0))  # the ReLU fused: the same bits
    for name, got, expected in zip(("dx", "dw", "db"), kb.conv_backward(dout, cache), kn.conv_backward(dout, cache_n)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=name)
    # forward twice, dx's convolution where its F input channels fit the runs (8 to 32), dw
    # where its F filters fit D's rows (up to 32)
    forward = 2 + kb.winograd(F, C, 5, 5, 1, N, H, W)
    assert winograd_calls.count("wino_forward_chunk") == forward
    assert winograd_calls.count("wino_dw_chunk") == (F <= 32)


@pytest.mark.parametrize("shape", CASES, ids=lambda s: "N%d-%dx%d-C%d-F%d-p%d" % s)
def test_winograd_in_float32_rounds_within_its_bound(winograd_calls, shape):
    for seed, scale in ((1, 1.0), (2, 1e-3), (3, 1e3)):
        x, w, b, dout, pad = case(shape, np.float32, seed)
        x *= np.float32(scale)
        out, cache = kb.conv_forward(x, w, b, 1, pad)
        x64, w64, b64, d64 = (a.astype(np.float64) for a in (x, w, b, dout))
        exact, cache_n = kn.conv_forward(x64, w64, b64, 1, pad)
        size, _ = kn.conv_forward(np.abs(x64), np.abs(w64), np.abs(b64), 1, pad)
        assert (np.abs(out - exact) / size).max() < 4e-6
        dw = kb.conv_backward(dout, cache)[1]
        dw_exact = kn.conv_backward(d64, cache_n)[1]
        dw_size = kn.conv_backward(np.abs(d64), kn.conv_forward(np.abs(x64), w64, b64, 1, pad)[1])[1]
        if shape[4] <= 32:
            assert (np.abs(dw - dw_exact) / dw_size).max() < 2e-5
        else:
            np.testing.assert_allclose(dw, dw_exact, rtol=1e-4, atol=1e-3)
    assert "wino_dw_chunk" in winograd_calls or shape[4] > 32


def test_winograd_gives_the_same_bits_on_any_number_of_threads(monkeypatch):
    monkeypatch.setattr(config, "MIN_WINOGRAD_PIXELS", 0)
    monkeypatch.setattr(config, "MIN_PARALLEL_MACS", 0)
    x, w, b, dout, pad = case((3, 16, 16, 20, 20, 2), np.float32)
    runs = []
    for T in (1, 2, 3):
        monkeypatch.setattr(_numba_plans, "_threads", lambda T=T: T)
        out, cache = kb.conv_relu_forward(x, w, b, 1, pad)
        runs.append((out, kb.conv_relu_backward(dout, out, cache)[0]))
    for out, dx in runs[1:]:
        np.testing.assert_array_equal(out, runs[0][0])
        np.testing.assert_array_equal(dx, runs[0][1])


def test_nan_stays_in_its_image(monkeypatch):
    monkeypatch.setattr(config, "MIN_WINOGRAD_PIXELS", 0)
    x, w, b, _, pad = case((2, 8, 8, 16, 20, 2), np.float32)
    x[1, 3, 4, 5] = np.nan
    out = kb.conv_forward(x, w, b, 1, pad)[0]
    assert np.isnan(out[1]).any() and not np.isnan(out[0]).any()


def test_which_convolutions_take_winograd(monkeypatch):
    monkeypatch.setattr(config, "MIN_WINOGRAD_PIXELS", 512)
    # the CIFAR-10 net: conv2 (16 -> 20 channels, 16x16) from batch 2, conv3 (20 -> 20,
    # 8x8) from batch 8, their dx convolutions (20 -> 16, 20 -> 20) as well; conv1 never
    assert kb.winograd(16, 20, 5, 5, 1, 2, 16, 16) and not kb.winograd(16, 20, 5, 5, 1, 1, 16, 16)
    assert kb.winograd(20, 20, 5, 5, 1, 8, 8, 8) and not kb.winograd(20, 20, 5, 5, 1, 4, 8, 8)
    assert kb.winograd(20, 16, 5, 5, 1, 64, 16, 16)
    assert not kb.winograd(3, 16, 5, 5, 1, 64, 32, 32)
    # what its runs do not take: channels not a multiple of 4 or past 32, filters not a
    # multiple of 4, another kernel or stride, an output of odd size
    for args in [(6, 20), (36, 20), (4, 20), (16, 18)]:
        assert not kb.winograd(*args, 5, 5, 1, 64, 16, 16), args
    assert not kb.winograd(16, 20, 3, 3, 1, 64, 16, 16)
    assert not kb.winograd(16, 20, 5, 5, 2, 64, 16, 16)
    assert not kb.winograd(16, 20, 5, 5, 1, 64, 15, 16)
    monkeypatch.setattr(config, "WINOGRAD", False)
    assert not kb.winograd(16, 20, 5, 5, 1, 64, 16, 16)
