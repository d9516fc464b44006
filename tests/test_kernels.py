"""Fast kernels against the loop-based references in naive.py, for both backends and dtypes.

Every kernel of engine/kernels_numpy.py and engine/fast/kernels_numba.py: fast == naive on seeded
random shapes, strides, paddings and kernel sizes; max-pool ties resolved to the first
maximum; numba == numpy on the same inputs; float32 stays float32.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import naive
import numpy as np
import pytest
from static_site import load_build
from test_architecture import modules_of, read_imports

from engine import get_kernels

DTYPES = [np.float32, np.float64]
CONV_CASES = list(itertools.product((1, 3, 5), (1, 2, 3), (0, 1, 2)))  # kernel, stride, padding
POOL_CASES = [(2, 2), (3, 2), (3, 3), (2, 1)]  # size, stride


def tol(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def close(actual, expected, dtype, what=""):
    assert actual.dtype == dtype, "%s: dtype %s, expected %s" % (what, actual.dtype, np.dtype(dtype))
    assert actual.shape == np.shape(expected), "%s: shape %s, expected %s" % (what, actual.shape, np.shape(expected))
    np.testing.assert_allclose(actual, expected, err_msg=what, **tol(dtype))


def conv_inputs(case, dtype):
    k, stride, pad = case
    rng = np.random.RandomState(1000 + CONV_CASES.index(case))
    N, H, W = rng.randint(1, 3), rng.randint(5, 9), rng.randint(5, 9)
    C, F = rng.randint(1, 4), rng.randint(1, 5)
    return naive.conv_case(rng, (N, H, W, C), F, k, stride, pad, dtype)


# -- convolution -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "k%d-s%d-p%d" % c)
def test_conv_forward_matches_naive(kernels, case, dtype):
    k, stride, pad = case
    x, w, b, _ = conv_inputs(case, dtype)
    out, _ = kernels.conv_forward(x, w, b, stride, pad)
    close(out, naive.conv_forward(x, w, b, stride, pad), dtype, "conv out")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "k%d-s%d-p%d" % c)
def test_conv_backward_matches_naive(kernels, case, dtype):
    k, stride, pad = case
    x, w, b, dout = conv_inputs(case, dtype)
    _, cache = kernels.conv_forward(x, w, b, stride, pad)
    dx, dw, db = kernels.conv_backward(dout, cache)
    ndx, ndw, ndb = naive.conv_backward(dout, x, w, stride, pad)
    close(dx, ndx, dtype, "conv dx")
    close(dw, ndw, dtype, "conv dw")
    close(db, ndb, dtype, "conv db")
    # The first layer asks for no dx; the parameter gradients must not change.
    _, cache = kernels.conv_forward(x, w, b, stride, pad)
    dx2, dw2, db2 = kernels.conv_backward(dout, cache, need_dx=False)
    assert dx2 is None
    close(dw2, ndw, dtype, "conv dw without dx")
    close(db2, ndb, dtype, "conv db without dx")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dx_by_conv", [True, False])
@pytest.mark.parametrize(
    "rows, columns, blocks", [(1, 400, (1, 1)), (40, 1, (1, 1)), (100, 1, (2, 2)), (20, 168, (2, 1))]
)
def test_numpy_conv_in_blocks_of_images_matches_naive(monkeypatch, rows, columns, blocks, dx_by_conv, dtype):
    """kernels_numpy multiplies a few images at a time when the batch is big (CONV_ROWS
    output pixels per GEMM, and in forward up to CONV_COLUMNS values a row); shrink the block
    so that small inputs take that path too (one image per GEMM, two with a shorter last
    block, or, last case, two in forward's wider blocks and one in backward's). Big batches
    also get dx tap by tap rather than as a convolution of dout (DX_BY_CONV_MAX_ROWS): both
    ways."""
    kn = get_kernels("numpy")
    monkeypatch.setattr(kn, "CONV_ROWS", rows)
    monkeypatch.setattr(kn, "CONV_COLUMNS", columns)
    # images a block, forward's and backward's, for these 7x6 outputs of 3x3x3 windows
    assert (kn._images_per_block(7 * 6, 3 * 3 * 3), kn._images_per_block(7 * 6)) == blocks
    monkeypatch.setattr(kn, "DX_BY_CONV_MAX_ROWS", 10**9 if dx_by_conv else 0)
    case = (3, 1, 1)
    rng = np.random.RandomState(rows)
    x = rng.standard_normal((5, 7, 6, 3)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    dout = rng.standard_normal((5, 7, 6, 4)).astype(dtype)
    out, cache = kn.conv_forward(x, w, b, case[1], case[2])
    close(out, naive.conv_forward(x, w, b, case[1], case[2]), dtype, "conv out")
    for got, expected, what in zip(
        kn.conv_backward(dout, cache), naive.conv_backward(dout, x, w, case[1], case[2]), ("dx", "dw", "db")
    ):
        close(got, expected, dtype, "conv " + what)


@pytest.mark.parametrize("no_blas", [True, False])
@pytest.mark.parametrize("case", [(5, 1, 2), (3, 2, 1)], ids=lambda c: "k%d-s%d-p%d" % c)
def test_numpy_dw_both_ways_matches_naive(monkeypatch, case, no_blas):
    """Without BLAS (Pyodide) conv_backward's dw copies dout's transpose contiguous and sums
    DW_ROWS rows at a time (fast/noblas.py dw; 3 rows here, so several blocks and a shorter
    last one); with OpenBLAS it is one GEMM on the strided view: both ways, the same gradients."""
    kn = get_kernels("numpy")
    monkeypatch.setattr(kn, "NO_BLAS", no_blas)
    monkeypatch.setattr(kn._noblas, "DW_ROWS", 3)
    x, w, b, dout = conv_inputs(case, np.float32)
    _, cache = kn.conv_forward(x, w, b, case[1], case[2])
    _, dw, db = kn.conv_backward(dout, cache, need_dx=False)
    close(dw, naive.conv_backward(dout, x, w, case[1], case[2])[1], np.float32, "conv dw")


def test_conv_kernel_sees_channels_last_and_pytorch_weight_layout(kernels):
    # One 1x1 filter picking channel 1 with weight 2: out[..., f] == 2 * x[..., 1] + bias.
    x = np.arange(2 * 3 * 4 * 3, dtype=np.float64).reshape(2, 3, 4, 3)
    w = np.zeros((1, 3, 1, 1))
    w[0, 1, 0, 0] = 2.0
    out, _ = kernels.conv_forward(x, w, np.array([0.5]), 1, 0)
    np.testing.assert_array_equal(out[..., 0], 2 * x[..., 1] + 0.5)
    # Kernel row 0, column 1 with padding 1 reads the pixel one row above (HH is the height).
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 1] = 1.0
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    out, _ = kernels.conv_forward(x, w, np.zeros(1), 1, 1)
    expected = np.zeros((4, 4))
    expected[1:] = x[0, :3, :, 0]
    np.testing.assert_array_equal(out[0, :, :, 0], expected)


# -- max pooling -------------------------------------------------------------------------
def pool_inputs(seed, size, stride, dtype, ties=False):
    rng = np.random.RandomState(seed)
    N, H, W, C = rng.randint(1, 3), rng.randint(size, 9), rng.randint(size, 9), rng.randint(1, 4)
    if ties:  # few distinct values: most windows hold exact ties
        x = rng.randint(0, 3, (N, H, W, C)).astype(dtype)
    else:
        x = rng.standard_normal((N, H, W, C)).astype(dtype)
    Ho, Wo = naive.out_size(H, size, stride, 0), naive.out_size(W, size, stride, 0)
    dout = rng.standard_normal((N, Ho, Wo, C)).astype(dtype)
    return x, dout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("size,stride", POOL_CASES)
def test_pool_matches_naive(kernels, size, stride, ties, dtype):
    for seed in range(3):
        x, dout = pool_inputs(100 * size + 10 * stride + seed, size, stride, dtype, ties)
        out, cache = kernels.pool_forward(x, size, stride)
        close(out, naive.pool_forward(x, size, stride), dtype, "pool out")
        dx = kernels.pool_backward(dout, cache)
        close(dx, naive.pool_backward(dout, x, size, stride), dtype, "pool dx")


def test_pool_gradient_goes_to_first_maximum_of_a_flat_window(kernels):
    # A flat 4x4 image: every 2x2 window is one exact tie; only its top-left cell gets the gradient.
    x = np.full((1, 4, 4, 2), 0.25)
    out, cache = kernels.pool_forward(x, 2, 2)
    np.testing.assert_array_equal(out, np.full((1, 2, 2, 2), 0.25))
    dout = np.arange(1.0, 9.0).reshape(1, 2, 2, 2)
    dx = kernels.pool_backward(dout, cache)
    expected = np.zeros((1, 4, 4, 2))
    expected[0, ::2, ::2, :] = dout[0]
    np.testing.assert_array_equal(dx, expected)
    assert dx.sum() == dout.sum()  # not doubled or spread over the tied cells


def test_pool_tie_order_is_row_major(kernels):
    # The max 5 sits at (0, 1) and (1, 0): row-major order picks (0, 1), column-major (1, 0).
    x = np.array([[1.0, 5.0], [5.0, 2.0]]).reshape(1, 2, 2, 1)
    _, cache = kernels.pool_forward(x, 2, 2)
    dx = kernels.pool_backward(np.ones((1, 1, 1, 1)), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_overlapping_pool_accumulates_into_a_shared_maximum(kernels):
    # 3x3 windows with stride 2 overlap; a maximum shared by all four windows gets all four gradients.
    x = np.zeros((1, 5, 5, 1))
    x[0, 2, 2, 0] = 9.0
    _, cache = kernels.pool_forward(x, 3, 2)
    dout = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 2, 2, 1)
    dx = kernels.pool_backward(dout, cache)
    assert dx[0, 2, 2, 0] == 10.0
    assert dx.sum() == 10.0


# -- activations -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_activation_matches_naive(kernels, name, dtype):
    rng = np.random.RandomState(7)
    x = (3 * rng.standard_normal((2, 5, 4, 3))).astype(dtype)
    x[0, 0, 0, :] = 0.0  # the kink of relu: its gradient there is 0, as in PyTorch
    dout = rng.standard_normal(x.shape).astype(dtype)
    out, cache = getattr(kernels, name + "_forward")(x)
    close(out, getattr(naive, name + "_forward")(x), dtype, name + " out")
    dx = getattr(kernels, name + "_backward")(dout, cache)
    close(dx, getattr(naive, name + "_backward")(dout, x), dtype, name + " dx")


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_stay_finite_at_extremes(kernels, dtype):
    x = np.array([-1000.0, -80.0, 0.0, 80.0, 1000.0], dtype=dtype).reshape(1, 1, 5, 1)
    with np.errstate(over="ignore"):
        for name in ("relu", "tanh", "sigmoid"):
            out, cache = getattr(kernels, name + "_forward")(x)
            dx = getattr(kernels, name + "_backward")(np.ones_like(x), cache)
            assert np.isfinite(out).all() and np.isfinite(dx).all(), name
        out, _ = kernels.sigmoid_forward(x)
    np.testing.assert_allclose(out.ravel()[[0, 2, 4]], [0.0, 0.5, 1.0], atol=1e-7)


# -- fully connected ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,D,M", [(1, 1, 1), (3, 7, 5), (4, 48, 10)])
def test_fc_matches_naive(kernels, N, D, M, dtype):
    rng = np.random.RandomState(N * 100 + D + M)
    x = rng.standard_normal((N, D)).astype(dtype)
    w = rng.standard_normal((M, D)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    out, cache = kernels.fc_forward(x, w, b)
    close(out, naive.fc_forward(x, w, b), dtype, "fc out")
    dx, dw, db = kernels.fc_backward(dout, cache)
    ndx, ndw, ndb = naive.fc_backward(dout, x, w)
    close(dx, ndx, dtype, "fc dx")
    close(dw, ndw, dtype, "fc dw")
    close(db, ndb, dtype, "fc db")
    _, cache = kernels.fc_forward(x, w, b)
    dx2, dw2, _ = kernels.fc_backward(dout, cache, need_dx=False)
    assert dx2 is None
    close(dw2, ndw, dtype, "fc dw without dx")


# -- softmax and its loss ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_softmax_loss_matches_naive(kernels, scale, dtype):
    rng = np.random.RandomState(11)
    scores = (scale * rng.standard_normal((6, 10))).astype(dtype)
    y = rng.randint(0, 10, 6)
    loss, probs, dscores = kernels.softmax_loss(scores, y)
    nloss, nprobs, ndscores = naive.softmax_loss(scores, y)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, nloss, **tol(dtype))
    close(probs, nprobs, dtype, "probs")
    close(dscores, ndscores, dtype, "dscores")
    close(kernels.softmax(scores), nprobs, dtype, "softmax")


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_loss_is_finite_for_huge_scores(kernels, dtype):
    scores = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 3000.0]], dtype=dtype)
    loss, probs, dscores = kernels.softmax_loss(scores, np.array([1, 2]))
    assert np.isfinite(loss) and np.isfinite(probs).all() and np.isfinite(dscores).all()
    np.testing.assert_allclose(loss, 2000.0 / 2, rtol=1e-6)


# -- numba == numpy ------------------------------------------------------------------------
def _both():
    return get_kernels("numpy"), get_kernels("numba")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "case", [(3, 1, 1), (5, 1, 2), (5, 2, 0), (3, 3, 2), (1, 2, 0)], ids=lambda c: "k%d-s%d-p%d" % c
)
def test_numba_conv_equals_numpy(case, dtype):
    kn, kb = _both()
    k, stride, pad = case
    rng = np.random.RandomState(5)
    x = rng.standard_normal((3, 12, 11, 4)).astype(dtype)
    w = rng.standard_normal((6, 4, k, k)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    out_n, cache_n = kn.conv_forward(x, w, b, stride, pad)
    out_b, cache_b = kb.conv_forward(x, w, b, stride, pad)
    close(out_b, out_n, dtype, "conv out")
    dout = rng.standard_normal(out_n.shape).astype(dtype)
    for a, e, what in zip(kb.conv_backward(dout, cache_b), kn.conv_backward(dout, cache_n), ("dx", "dw", "db")):
        close(a, e, dtype, "conv " + what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size,stride", POOL_CASES)
def test_numba_pool_equals_numpy_with_ties(size, stride, dtype):
    kn, kb = _both()
    x, dout = pool_inputs(9, size, stride, dtype, ties=True)
    out_n, cache_n = kn.pool_forward(x, size, stride)
    out_b, cache_b = kb.pool_forward(x, size, stride)
    close(out_b, out_n, dtype, "pool out")
    # Same cells chosen; overlapping windows may add their shares in another order (ulp-level).
    close(kb.pool_backward(dout, cache_b), kn.pool_backward(dout, cache_n), dtype, "pool dx")


@pytest.mark.parametrize("dtype", DTYPES)
def test_numba_elementwise_fc_and_loss_equal_numpy(dtype):
    kn, kb = _both()
    rng = np.random.RandomState(3)
    x = rng.standard_normal((2, 4, 4, 3)).astype(dtype)
    dout = rng.standard_normal(x.shape).astype(dtype)
    for name in ("relu", "tanh", "sigmoid"):
        out_n, cache_n = getattr(kn, name + "_forward")(x)
        out_b, cache_b = getattr(kb, name + "_forward")(x)
        close(out_b, out_n, dtype, name)
        close(
            getattr(kb, name + "_backward")(dout, cache_b), getattr(kn, name + "_backward")(dout, cache_n), dtype, name
        )
    x2 = x.reshape(2, -1)
    w = rng.standard_normal((10, x2.shape[1])).astype(dtype)
    b = rng.standard_normal(10).astype(dtype)
    out_n, cache_n = kn.fc_forward(x2, w, b)
    out_b, cache_b = kb.fc_forward(x2, w, b)
    close(out_b, out_n, dtype, "fc")
    d = rng.standard_normal(out_n.shape).astype(dtype)
    for a, e in zip(kb.fc_backward(d, cache_b), kn.fc_backward(d, cache_n)):
        close(a, e, dtype, "fc backward")
    y = np.array([1, 7])
    ln, pn, dn = kn.softmax_loss(out_n, y)
    lb, pb, db = kb.softmax_loss(out_n, y)
    np.testing.assert_allclose(lb, ln, **tol(dtype))
    close(pb, pn, dtype, "probs")
    close(db, dn, dtype, "dscores")


def test_both_backends_have_the_same_kernel_names():
    kn, kb = _both()
    names = {n for n in dir(kn) if n.endswith(("_forward", "_backward")) or n in ("softmax", "softmax_loss")}
    missing = sorted(n for n in names if not callable(getattr(kb, n, None)))
    assert not missing, "kernels_numba lacks %s" % missing


def test_every_numba_module_stays_out_of_the_browser_build():
    """build.py ships the engine modules static/cp_worker.py imports (tests/test_static_bundle.py):
    none of those that need Numba (the kernels are split over several files) may be among them.
    A probe (an import in a `try` that catches ImportError, as engine.available_backends() may
    do) is no need of Numba."""
    root = Path(__file__).resolve().parents[1]
    build = load_build()
    shipped = {name for name in build.python_bundle() if name.startswith("engine/")}
    paths = {m: p.relative_to(root).as_posix() for m, p in modules_of(["engine"]).items()}
    numba_modules = {
        paths[m]
        for m, found in read_imports(["engine"]).items()
        if any(i.name.split(".")[0] == "numba" and not i.guarded for i in found)
    }
    assert {"engine/fast/_numba_plans.py", "engine/fast/_numba_conv.py"} <= numba_modules  # the check sees
    assert "engine/kernels_numpy.py" in shipped
    assert not numba_modules & shipped, "need Numba but go to the browser: %s" % sorted(numba_modules & shipped)
