"""The NumPy backend's threads (engine/fast/numpy_threads.py): a batch shared out by images.

Every kernel kernels_numpy shares out (conv forward in blocks of images, conv backward in
shares of images whose dw/db parts are added up, 2x2 pooling, ReLU) against naive.py on 2
and 3 threads, however small the work (the thresholds set to 0), with batches smaller than,
equal to and bigger than the thread count, and both ways of computing dx. OpenBLAS is
replaced by a fake that records what run() sets, so these run whatever BLAS NumPy has.
Plus run() itself: results in order, errors re-raised, off when asked. No timing here.
"""

from __future__ import annotations

import threading

import naive
import numpy as np
import pytest

from engine import kernels_numpy as kn
from engine.fast import numpy_threads


class FakeBlas:
    def __init__(self):
        self.calls = []

    def set(self, n):
        self.calls.append(n)

    def get(self):
        return 2


@pytest.fixture
def threads(monkeypatch):
    """Run kernels_numpy on T threads, however small the work; returns the fake BLAS."""
    blas = FakeBlas()

    def use(T):
        monkeypatch.setattr(numpy_threads, "_state", {"threads": T, "blas": (blas.set, blas.get), "blas_off": False})
        monkeypatch.setattr(kn, "MIN_THREAD_WORK", 0)
        monkeypatch.setattr(kn, "MIN_THREAD_VALUES", 0)
        return blas

    return use


def tol(dtype):
    return {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T", [2, 3])
@pytest.mark.parametrize("N", [1, 2, 5])
@pytest.mark.parametrize("dx_by_conv", [True, False])
@pytest.mark.parametrize(
    "case", [(9, 3, 4, 5, 1, 2), (8, 4, 3, 3, 2, 1), (7, 2, 5, 1, 1, 0)], ids=lambda c: "H%d-C%d-F%d-k%d-s%d-p%d" % c
)
def test_conv_on_threads_matches_naive(threads, monkeypatch, case, dx_by_conv, N, T, dtype):
    H, C, F, k, stride, pad = case
    blas = threads(T)
    monkeypatch.setattr(kn, "CONV_ROWS", 30)  # several blocks of images, a shorter last one
    monkeypatch.setattr(kn, "CONV_COLUMNS", 1)  # forward's as well
    monkeypatch.setattr(kn, "DX_BY_CONV_MAX_ROWS", 10**9 if dx_by_conv else 0)
    rng = np.random.RandomState(N * 100 + H + T)
    x = rng.standard_normal((N, H, H + 1, C)).astype(dtype)
    w = rng.standard_normal((F, C, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    out, cache = kn.conv_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out, naive.conv_forward(x, w, b, stride, pad), err_msg="out", **tol(dtype))
    dout = rng.standard_normal(out.shape).astype(dtype)
    expected = naive.conv_backward(dout, x, w, stride, pad)
    for need_dx in (True, False):
        got = kn.conv_backward(dout, cache, need_dx)
        for name, g, e in zip(("dx", "dw", "db"), got, expected):
            if name == "dx" and not need_dx:
                assert g is None
                continue
            assert g.dtype == dtype and g.shape == e.shape, name
            np.testing.assert_allclose(g, e, err_msg="%s, need_dx=%s" % (name, need_dx), **tol(dtype))
    # OpenBLAS on one thread once the kernels share out (a batch of 1 is not), and left so
    assert blas.calls == ([1] if N > 1 else [])


@pytest.mark.parametrize("T", [2, 3])
@pytest.mark.parametrize("shape", [(1, 6, 8, 3), (2, 8, 8, 2), (5, 7, 9, 4)])
def test_pool_and_relu_on_threads_match_naive(threads, shape, T):
    threads(T)
    rng = np.random.RandomState(sum(shape) + T)
    for ties in (False, True):
        x = rng.randint(0, 3, shape).astype(np.float32) if ties else rng.standard_normal(shape).astype(np.float32)
        out, cache = kn.pool_forward(x, 2, 2)
        np.testing.assert_array_equal(out, naive.pool_forward(x, 2, 2))
        dout = rng.standard_normal(out.shape).astype(np.float32)
        np.testing.assert_allclose(kn.pool_backward(dout, cache), naive.pool_backward(dout, x, 2, 2), rtol=1e-6)
        out, cache = kn.relu_forward(x - 1)
        np.testing.assert_array_equal(out, naive.relu_forward(x - 1))
        d = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(kn.relu_backward(d, cache), naive.relu_backward(d, x - 1))


def test_run_returns_results_in_order_and_reraises(threads):
    threads(2)
    names = set()

    def square(i):
        names.add(threading.current_thread().name)
        return i * i

    assert numpy_threads.run(square, [(i,) for i in range(50)]) == [i * i for i in range(50)]
    assert numpy_threads.run(square, []) == []

    def fail(i):
        if i == 7:
            raise ValueError("call 7 failed")
        return i

    with pytest.raises(ValueError, match="call 7 failed"):
        numpy_threads.run(fail, [(i,) for i in range(20)])
    assert numpy_threads.run(square, [(3,)]) == [9]  # the helper threads still serve


def test_threads_off_when_asked(monkeypatch):
    monkeypatch.setattr(numpy_threads, "_state", {"threads": None, "blas": None, "blas_off": False})
    monkeypatch.setenv("CONVNET_NUMPY_THREADS", "0")
    assert numpy_threads.threads() == 1
    called = []
    assert numpy_threads.run(lambda i: called.append(i) or i, [(1,), (2,)]) == [1, 2]
    assert called == [1, 2]


@pytest.mark.parametrize("T", [2, 3])
@pytest.mark.parametrize("N, D, M", [(1, 40, 35), (3, 100, 10), (4, 33, 64)])
def test_fc_on_threads_matches_naive(threads, N, D, M, T):
    """fc shares out output features (forward) and input features (backward): widths that
    do not divide evenly, and too few of them to share (M=10)."""
    threads(T)
    rng = np.random.RandomState(N + D + M + T)
    x = rng.standard_normal((N, D))
    w = rng.standard_normal((M, D))
    b = rng.standard_normal(M)
    out, cache = kn.fc_forward(x, w, b)
    np.testing.assert_allclose(out, naive.fc_forward(x, w, b), rtol=1e-10)
    dout = rng.standard_normal((N, M))
    for need_dx in (True, False):
        dx, dw, db = kn.fc_backward(dout, cache, need_dx)
        ndx, ndw, ndb = naive.fc_backward(dout, x, w)
        np.testing.assert_allclose(dw, ndw, rtol=1e-10)
        np.testing.assert_allclose(db, ndb, rtol=1e-10)
        if need_dx:
            np.testing.assert_allclose(dx, ndx, rtol=1e-10)
        else:
            assert dx is None


@pytest.mark.parametrize("T", [1, 2])
def test_conv_with_float64_weights_and_an_empty_batch(threads, T):
    """dx is written into an array of dout's dtype even when the weights are float64 (NumPy's
    dot writes only into its result's dtype); a batch of 0 images gives empty gradients."""
    threads(T)
    rng = np.random.RandomState(T)
    x = rng.standard_normal((3, 6, 6, 2)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3))
    b = rng.standard_normal(4)
    out, cache = kn.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = kn.conv_backward(dout, cache)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, naive.conv_backward(dout, x, w, 1, 1)[0], rtol=1e-4, atol=1e-5)
    out, cache = kn.conv_forward(x[:0], w.astype(np.float32), b.astype(np.float32), 1, 1)
    dx, dw, db = kn.conv_backward(out, cache)
    assert out.shape == (0, 6, 6, 4) and dx.shape == (0, 6, 6, 2) and not dw.any() and not db.any()


@pytest.mark.parametrize("blas_threads", [1, 2])
def test_dx_is_a_convolution_wherever_openblas_runs_on_one_thread(monkeypatch, blas_threads):
    """With the batch not shared out, conv backward's dx of many pixels is a convolution of
    dout where OpenBLAS runs on one thread (OPENBLAS_NUM_THREADS=1), and tap by tap where it
    runs on two (kernels_numpy._conv_dx); both give naive's dx."""
    monkeypatch.setattr(numpy_threads, "_state", {"threads": 1, "blas": (None, lambda: blas_threads), "blas_off": True})
    monkeypatch.setattr(kn, "DX_BY_CONV_MAX_ROWS", 0)
    convolved = []
    convolve = kn._convolve
    monkeypatch.setattr(
        kn, "_convolve", lambda x, w, b, *a, **k: convolved.append(b is None) or convolve(x, w, b, *a, **k)
    )
    rng = np.random.RandomState(blas_threads)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    out, cache = kn.conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, _, _ = kn.conv_backward(dout, cache)
    assert convolved == [False, True] if blas_threads == 1 else convolved == [False]
    np.testing.assert_allclose(dx, naive.conv_backward(dout, x, w, 1, 1)[0], rtol=1e-4, atol=1e-5)


def test_openblas_config_names_the_kernels_numpy_runs():
    """What the bench prints beside NumPy's figures: the OpenBLAS that NumPy loaded, asked
    through its own symbol, with the kernels it picked (the ones OPENBLAS_CORETYPE forces,
    where the environment sets it)."""
    import os

    config = numpy_threads.openblas_config()
    assert config is not None and config.startswith("OpenBLAS ")
    assert np.__config__.CONFIG["Build Dependencies"]["blas"]["version"] in config
    forced = os.environ.get("OPENBLAS_CORETYPE", "")
    assert forced.lower() in config.lower()
