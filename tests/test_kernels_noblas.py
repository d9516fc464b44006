"""The NumPy backend's no-BLAS conv GEMMs (engine/fast/noblas.py), run on CPython.

In Pyodide kernels_numpy.NO_BLAS is true and the convs go through noblas.py: im2col transposed,
einsum, dw in blocks of rows. Here NO_BLAS is switched on by hand and the blocks made small
(a few pixels per einsum, 3 rows per dw GEMM, so that there are several blocks and a shorter
last one); every gradient must match the BLAS path (NO_BLAS off) and naive.py.
"""

from __future__ import annotations

import itertools

import naive
import numpy as np
import pytest
from test_kernels import close

from engine import get_kernels
from engine.fast import noblas

DTYPES = [np.float32, np.float64]
CASES = list(itertools.product((1, 3, 5), (1, 2), (0, 2)))  # kernel, stride, padding


def inputs(case, dtype, N=5):
    k, stride, pad = case
    rng = np.random.RandomState(100 * k + 10 * stride + pad)
    H, W, C, F = rng.randint(k, 9), rng.randint(k, 9), rng.randint(1, 4), rng.randint(1, 5)
    return naive.conv_case(rng, (N, H, W, C), F, k, stride, pad, dtype)


def both_ways(monkeypatch, fn):
    """fn(kernels_numpy) with NO_BLAS on (small blocks) and off: (no_blas, blas) results."""
    kn = get_kernels("numpy")
    monkeypatch.setattr(kn, "NO_BLAS", False)
    blas = fn(kn)
    monkeypatch.setattr(kn, "NO_BLAS", True)
    return fn(kn), blas


@pytest.fixture
def small_blocks(monkeypatch, request):
    monkeypatch.setattr(noblas, "ROWS", request.param)
    monkeypatch.setattr(noblas, "DW_ROWS", 3)


@pytest.mark.parametrize("small_blocks", [1, 70], indirect=True, ids=["1px", "70px"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "k%d-s%d-p%d" % c)
def test_noblas_conv_matches_blas_and_naive(monkeypatch, small_blocks, case, dtype):
    k, stride, pad = case
    x, w, b, dout = inputs(case, dtype)

    def conv(kn):
        out, cache = kn.conv_forward(x, w, b, stride, pad)
        return (out,) + kn.conv_backward(dout, cache)

    got, blas = both_ways(monkeypatch, conv)
    expected = (naive.conv_forward(x, w, b, stride, pad),) + naive.conv_backward(dout, x, w, stride, pad)
    for g, bl, e, what in zip(got, blas, expected, ("out", "dx", "dw", "db")):
        close(g, bl, dtype, "no BLAS against BLAS: conv " + what)
        close(g, e, dtype, "no BLAS against naive: conv " + what)


@pytest.mark.parametrize("small_blocks", [1, 70], indirect=True, ids=["1px", "70px"])
@pytest.mark.parametrize("case", [(5, 1, 2), (3, 2, 1)], ids=lambda c: "k%d-s%d-p%d" % c)
def test_noblas_conv_relu_matches_blas(monkeypatch, small_blocks, case):
    """The fused conv+ReLU (the default net's convs): its ReLU taken block by block."""
    k, stride, pad = case
    x, w, b, dout = inputs(case, np.float32)

    def conv_relu(kn):
        act, cache = kn.conv_relu_forward(x, w, b, stride, pad)
        return (act,) + kn.conv_relu_backward(dout, act, cache)

    got, blas = both_ways(monkeypatch, conv_relu)
    assert (got[0] == 0).any() and (got[0] > 0).any()  # the ReLU cuts somewhere
    for g, bl, what in zip(got, blas, ("act", "dx", "dw", "db")):
        close(g, bl, np.float32, "no BLAS against BLAS: conv+ReLU " + what)


@pytest.mark.parametrize("rows", [1, 3, 64, 1000])
def test_noblas_dw_sums_every_block(rows, monkeypatch):
    """noblas.dw adds up the blocks of DW_ROWS rows: every row counts once (a block left out
    or added twice shows), with a last block shorter than the others."""
    monkeypatch.setattr(noblas, "DW_ROWS", rows)
    rng = np.random.RandomState(rows)
    M, K, F = 200, 7, 4
    colsT = rng.standard_normal((K, M)).astype(np.float32)
    d2 = rng.standard_normal((M, F)).astype(np.float32)
    expected = d2.T.astype(np.float64).dot(colsT.T.astype(np.float64))
    close(noblas.dw(d2, colsT.T), expected, np.float32, "dw")
    close(noblas.dw(d2[50:120], colsT.T[50:120]), d2[50:120].T.dot(colsT.T[50:120]), np.float32, "dw of a row slice")


def test_noblas_forward_has_the_bits_of_dot():
    """einsum "fk,km->fm" sums over K in np.dot's order: where np.dot is a plain loop (no BLAS)
    the two give the same bits; here, where dot may be BLAS's, they agree to rounding, and
    exactly on small integers."""
    rng = np.random.RandomState(0)
    x = rng.randint(-3, 4, (2, 6, 6, 3)).astype(np.float32)
    w = rng.randint(-3, 4, (4, 3, 3, 3)).astype(np.float32)
    b = rng.randint(-3, 4, 4).astype(np.float32)
    kn = get_kernels("numpy")
    windows = kn._windows(kn._pad(x, 1), 3, 1, 6, 6)
    out = np.empty((2, 6, 6, 4), np.float32)
    cols = noblas.convolve(windows, w, b, out)
    assert cols.shape == (72, 27) and cols.T.flags.c_contiguous
    np.testing.assert_array_equal(out, naive.conv_forward(x, w, b, 1, 1))
    np.testing.assert_array_equal(cols.dot(w.transpose(2, 3, 1, 0).reshape(27, 4)) + b, out.reshape(72, 4))


def test_noblas_dx_is_a_convolution_at_any_size(monkeypatch):
    """Without BLAS, dx is the convolution of dout (an einsum in noblas.convolve) however many
    output pixels the batch has: DX_BY_CONV_MAX_ROWS, the limit that OpenBLAS needs, is not
    asked; and the gradients are the same as the BLAS path's."""
    kn = get_kernels("numpy")
    monkeypatch.setattr(kn, "DX_BY_CONV_MAX_ROWS", 0)
    calls = []
    convolve = noblas.convolve
    monkeypatch.setattr(noblas, "convolve", lambda *a, **k: calls.append(a[2] is None) or convolve(*a, **k))
    x, w, b, dout = inputs((5, 1, 2), np.float32)

    def conv(kn):
        _, cache = kn.conv_forward(x, w, b, 1, 2)
        return kn.conv_backward(dout, cache)

    got, blas = both_ways(monkeypatch, conv)
    assert calls == [False, True]  # the forward (with bias), then dx (no bias)
    for g, bl, what in zip(got, blas, ("dx", "dw", "db")):
        close(g, bl, np.float32, "no BLAS against BLAS: conv " + what)
