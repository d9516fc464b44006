"""What only the Numba backend has: its splitting of a batch into chunks run side by side.

The general kernel tests (test_kernels.py) check both backends against naive.py; here the
same inputs go through kernels_numba on 1, 2 and 3 threads (up to 4 chunks each), on either
pool of threads (engine/fast/parallel.py: Numba's, through the prange wrappers, and
engine.fast.workers) — batch 1 split by rows, bigger batches by whole images — and must give
the same results, the kernels' edge paths included (filters past the slices of 16, odd counts
of them, output rows not a multiple of 4 pixels, kernel rows not a multiple of 16 values).
Plus: an error in a chunk reaches the caller, and NaN flows through every kernel (the divergence check relies on it).
No timing here; that is `python -m engine bench`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import naive
import numpy as np
import pytest

from engine import kernels_numpy as kn
from engine.fast import _numba_conv, _numba_plans, config, parallel
from engine.fast import kernels_numba as kb


@pytest.fixture(params=["numba-pool", "workers"])
def chunks(request, monkeypatch):
    """Set how many threads every call uses, however small the work, on either pool."""
    if request.param == "workers":
        monkeypatch.setattr(parallel, "LAYER", None)
    else:
        assert parallel.LAYER in ("omp", "tbb"), "Numba's OpenMP (libgomp) or TBB layer should load here"
        monkeypatch.setattr(parallel, "WANTED", 1)  # the wrappers compile at their first call

    def use(T):
        monkeypatch.setattr(config, "MIN_PARALLEL_MACS", 0)
        monkeypatch.setattr(config, "MIN_PARALLEL_ELEMENTS", 0)
        monkeypatch.setattr(_numba_plans, "_threads", lambda T=T: T)

    return use


def tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 2, 5])
@pytest.mark.parametrize(
    "case", [(13, 3, 7, 5, 1, 2), (9, 6, 4, 3, 2, 1), (8, 5, 9, 1, 1, 0)], ids=lambda c: "H%d-C%d-F%d-k%d-s%d-p%d" % c
)
def test_conv_is_the_same_in_1_2_and_3_chunks(chunks, N, case, dtype):
    H, C, F, k, stride, pad = case
    rng = np.random.RandomState(N * 100 + H)
    x = rng.standard_normal((N, H, H + 2, C)).astype(dtype)
    w = rng.standard_normal((F, C, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    out_n, cache_n = kn.conv_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out_n.shape).astype(dtype)
    expected = kn.conv_backward(dout, cache_n)
    for T in (1, 2, 3):
        chunks(T)
        out, cache = kb.conv_forward(x, w, b, stride, pad)
        np.testing.assert_allclose(out, out_n, err_msg="out, %d chunks" % T, **tol(dtype))
        for need_dx in (True, False):
            got = kb.conv_backward(dout, cache, need_dx)
            for name, g, e in zip(("dx", "dw", "db"), got, expected):
                if name == "dx" and not need_dx:
                    assert g is None
                    continue
                assert g.dtype == dtype
                np.testing.assert_allclose(g, e, err_msg="%s, %d chunks" % (name, T), **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 3])
@pytest.mark.parametrize(
    "case",
    [(9, 4, 20, 5, 2), (8, 3, 16, 3, 1), (7, 5, 6, 3, 0), (6, 2, 3, 1, 0)],
    ids=lambda c: "H%d-C%d-F%d-k%d-p%d" % c,
)
def test_conv_dx_as_a_convolution_of_dout_matches_numpy(chunks, monkeypatch, N, case, dtype):
    """From MIN_DX_BY_CONV_PIXELS output pixels on, conv_backward gets dx (stride 1) as the
    forward convolution of dout with flipped filters; here from the first pixel, on 1 and 2
    threads, filters in slices of 16 and left over (20 = 16 + 4, 3 -> 4)."""
    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 0)
    H, C, F, k, pad = case
    rng = np.random.RandomState(N * 10 + H)
    x = rng.standard_normal((N, H, H + 1, C)).astype(dtype)
    w = rng.standard_normal((F, C, k, k)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    out_n, cache_n = kn.conv_forward(x, w, b, 1, pad)
    dout = rng.standard_normal(out_n.shape).astype(dtype)
    expected = kn.conv_backward(dout, cache_n)
    for T in (1, 2):
        chunks(T)
        _, cache = kb.conv_forward(x, w, b, 1, pad)
        for name, g, e in zip(("dx", "dw", "db"), kb.conv_backward(dout, cache), expected):
            assert g.dtype == dtype and g.shape == e.shape
            np.testing.assert_allclose(g, e, err_msg="%s, %d threads" % (name, T), **tol(dtype))


@pytest.mark.parametrize("dx_by_conv", [False, True])
@pytest.mark.parametrize("F", [17, 33])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_with_filters_past_the_slices_of_16_matches_numpy(chunks, monkeypatch, F, stride, dx_by_conv):
    """17 = a slice of 16 + 1 filter (the rows' pass takes pairs: one row of zeros), 33 = two
    slices + 1; kernel rows of 3*7 = 21 values (dw and dx tiles of 32, 11 past the run), an
    output row of 9 pixels (its last four repeat pixel 8), and dx by tiles or by convolution."""
    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 0 if dx_by_conv else 10**9)
    rng = np.random.RandomState(F * 10 + stride)
    x = rng.standard_normal((3, 10, 9 if stride == 1 else 17, 3)).astype(np.float32)
    w = rng.standard_normal((F, 3, 7, 7)).astype(np.float32)
    b = rng.standard_normal(F).astype(np.float32)
    out_n, cache_n = kn.conv_forward(x, w, b, stride, 3)
    assert out_n.shape[2] == 9
    dout = rng.standard_normal(out_n.shape).astype(np.float32)
    expected = kn.conv_backward(dout, cache_n)
    for T in (1, 2):
        chunks(T)
        out, cache = kb.conv_forward(x, w, b, stride, 3)
        np.testing.assert_allclose(out, out_n, err_msg="out, %d threads" % T, **tol(np.float32))
        for name, g, e in zip(("dx", "dw", "db"), kb.conv_backward(dout, cache), expected):
            np.testing.assert_allclose(g, e, err_msg="%s, %d threads" % (name, T), **tol(np.float32))


@pytest.mark.parametrize("N", [1, 6])
def test_conv_chunks_are_taken_once_whichever_thread_takes_them(chunks, monkeypatch, N):
    """Each thread of a conv call runs the chunk kernel once, and the kernel takes chunks from
    a shared counter until none is left. When the first thread takes them all (the others find
    none) or when three threads race for them, every chunk is done once, into its own
    partials: the same bits either way (batch 1: chunks split the image by rows; 6: whole
    images), and the values of naive.py."""
    rng = np.random.RandomState(N)
    x = rng.standard_normal((N, 11, 10, 3))
    w = rng.standard_normal((5, 3, 3, 3))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((N, 11, 10, 5))
    chunks(3)
    monkeypatch.setattr(parallel, "LAYER", None)  # the workers' run() is watched below
    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 10**9)  # one backward call: dx by tiles

    def both():
        out, cache = kb.conv_forward(x, w, b, 1, 1)
        return (out,) + kb.conv_backward(dout, cache)

    with monkeypatch.context() as m:
        counters = []

        def one_by_one(calls, T):
            assert len(calls) == T == 3
            for fn, args in calls:
                fn(*args)
                i = 11 if fn is _numba_conv.conv_backward_chunk else 12  # where (bounds, taken) sit
                counters.append((len(args[i]) - 1, int(args[i + 1][0])))

        m.setattr(parallel.workers, "run", one_by_one)
        serial = both()
        # the first thread took every chunk (the counter then reads chunks + 1), each later
        # thread one number more, finding nothing; forward and backward
        assert len(counters) == 6
        for k in (0, 3):
            c = counters[k][0]
            assert c > 1 and [t for _, t in counters[k : k + 3]] == [c + 1, c + 2, c + 3]
    expected = (naive.conv_forward(x, w, b, 1, 1),) + tuple(naive.conv_backward(dout, x, w, 1, 1))
    for name, g, e in zip(("out", "dx", "dw", "db"), serial, expected):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10, err_msg=name)
    for _ in range(20):
        for name, g, e in zip(("out", "dx", "dw", "db"), both(), serial):
            np.testing.assert_array_equal(g, e, err_msg=name)


@pytest.mark.parametrize("size,stride", [(2, 2), (3, 2), (2, 1), (2, 3), (3, 3)])
def test_pool_is_the_same_in_1_2_and_3_chunks(chunks, size, stride):
    rng = np.random.RandomState(size * 10 + stride)
    x = rng.randint(0, 3, (3, 11, 9, 5)).astype(np.float32)  # many exact ties
    out_n, cache_n = kn.pool_forward(x, size, stride)
    dout = rng.standard_normal(out_n.shape).astype(np.float32)
    dx_n = kn.pool_backward(dout, cache_n)
    for T in (1, 2, 3):
        chunks(T)
        out, cache = kb.pool_forward(x, size, stride)
        np.testing.assert_array_equal(out, out_n)
        np.testing.assert_array_equal(kb.pool_backward(dout, cache), dx_n)


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_elementwise_is_the_same_in_1_2_and_3_chunks(chunks, name):
    x = np.random.RandomState(0).standard_normal((3, 7, 5, 4))
    out_n, cache_n = getattr(kn, name + "_forward")(x)
    dx_n = getattr(kn, name + "_backward")(x, cache_n)
    for T in (1, 2, 3):
        chunks(T)
        out, cache = getattr(kb, name + "_forward")(x)
        np.testing.assert_allclose(out, out_n, rtol=1e-12)
        np.testing.assert_allclose(getattr(kb, name + "_backward")(x, cache), dx_n, rtol=1e-12)


def test_an_error_in_a_chunk_reaches_the_caller():
    def boom():
        raise RuntimeError("chunk failed")

    done = []
    calls = [(boom, ())] + [(done.append, (i,)) for i in range(5)]
    with pytest.raises(RuntimeError, match="chunk failed"):
        parallel.workers.run(calls, 2)
    parallel.workers.run([(done.append, (i,)) for i in range(5, 9)], 2)  # the workers are still alive
    assert sorted(done)[-4:] == [5, 6, 7, 8]


def test_nan_flows_through_every_kernel(chunks):
    chunks(2)
    x = np.zeros((2, 6, 6, 3), dtype=np.float32)
    x[1, 2, 3, 1] = np.nan
    w = np.ones((4, 3, 3, 3), dtype=np.float32)
    out, _ = kb.conv_forward(x, w, np.zeros(4, np.float32), 1, 1)
    assert np.isnan(out[1]).any() and not np.isnan(out[0]).any()
    relu, _ = kb.relu_forward(out)
    assert np.isnan(relu[1]).any()
    pooled, _ = kb.pool_forward(relu, 2, 2)
    assert np.isnan(pooled[1]).any() and not np.isnan(pooled[0]).any()
    loss, _, _ = kb.softmax_loss(pooled.reshape(2, -1), np.array([0, 1]))
    assert np.isnan(loss)


def test_bad_shapes_say_what_is_wrong():
    x = np.zeros((1, 4, 4, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="does not fit a 4x4 input"):
        kb.conv_forward(x, np.zeros((2, 3, 7, 7), np.float32), np.zeros(2, np.float32), 1, 0)
    with pytest.raises(ValueError, match="channels"):
        kb.conv_forward(x, np.zeros((2, 4, 3, 3), np.float32), np.zeros(2, np.float32), 1, 0)
    with pytest.raises(ValueError, match="labels must lie in"):
        kb.softmax_loss(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got -1\.\.0"):
        kb.softmax_loss(np.zeros((2, 3)), np.array([0, -1]))
    # backward: the checks hold on every call, not only on the first of a shape (plans)
    x = np.zeros((2, 16, 16, 3), dtype=np.float32)
    w, b = np.zeros((4, 3, 3, 3), np.float32), np.zeros(4, np.float32)
    for by_conv in (1, 10**9):
        config.MIN_DX_BY_CONV_PIXELS, before = by_conv, config.MIN_DX_BY_CONV_PIXELS
        try:
            act, cache = kb.conv_relu_forward(x, w, b, 1, 1)
            for _ in range(2):
                kb.conv_relu_backward(act, act, cache)
                with pytest.raises(ValueError, match=r"dout of shape \(2, 16, 15, 4\), expected \(2, 16, 16, 4\)"):
                    kb.conv_backward(act[:, :, 1:], cache)
                with pytest.raises(ValueError, match="gradient .* and ReLU output .* differ"):
                    kb.conv_relu_backward(act, act[:1], cache)
        finally:
            config.MIN_DX_BY_CONV_PIXELS = before
    out, cache = kb.pool_forward(x, 2, 2)
    for _ in range(2):
        kb.pool_backward(out, cache)
        with pytest.raises(ValueError, match=r"pool_backward: dout of shape \(1, 8, 8, 3\), expected"):
            kb.pool_backward(out[:1], cache)


def test_a_wrapper_compiles_in_the_background_once_wanted_enough(monkeypatch):
    """engine/fast/parallel.py: the first WANTED - 1 calls run on engine.fast.workers, the
    WANTED-th starts compiling the prange wrapper in a thread of its own (and still runs on the
    workers); once it is ready, calls run on Numba's pool, with the same bits."""
    assert parallel.LAYER in ("omp", "tbb")
    for name, fresh in (("_ready", set()), ("_compiling", {}), ("_asked", {}), ("WANTED", 3)):
        monkeypatch.setattr(parallel, name, fresh)
    monkeypatch.setattr(config, "MIN_PARALLEL_ELEMENTS", 0)
    monkeypatch.setattr(_numba_plans, "_threads", lambda: 2)
    on_workers = []
    run = parallel.workers.run
    monkeypatch.setattr(parallel.workers, "run", lambda calls, T: (on_workers.append(T), run(calls, T)))
    x = np.random.RandomState(1).standard_normal((4, 5, 6, 7)).astype(np.float32)
    first = [kb.relu_forward(x)[0] for _ in range(3)]
    assert on_workers == [2, 2, 2]
    assert parallel.wait_compiled(60)
    assert (kb._act.relu_par, np.dtype(np.float32)) in parallel._ready
    later = kb.relu_forward(x)[0]
    assert on_workers == [2, 2, 2]  # not on the workers this time
    for out in first:
        np.testing.assert_array_equal(out, np.maximum(x, 0))
    np.testing.assert_array_equal(later, np.maximum(x, 0))


@pytest.mark.parametrize("before", [None, "123"])
def test_the_pools_spin_count_is_set_only_while_openmp_loads(monkeypatch, before):
    """config.OMP_SPINCOUNT reaches libgomp as GOMP_SPINCOUNT while it loads; the environment
    then gets its own value back (another library's OpenMP, PyTorch's, keeps its own)."""
    if before is None:
        monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    else:
        monkeypatch.setenv("GOMP_SPINCOUNT", before)
    with parallel._spincount(3000):
        assert os.environ["GOMP_SPINCOUNT"] == "3000"
    assert os.environ.get("GOMP_SPINCOUNT") == before
    with parallel._spincount(None):
        assert os.environ.get("GOMP_SPINCOUNT") == before


def test_a_process_that_shares_its_cores_with_a_server_gets_short_spins(monkeypatch):
    """engine.fast.share_cores_with_a_server() (the app calls it) hands the pool the app's
    spin count, which it reads when it loads."""
    import engine.fast

    monkeypatch.setattr(config, "OMP_SPINCOUNT", None)
    engine.fast.share_cores_with_a_server()
    assert config.OMP_SPINCOUNT == config.APP_OMP_SPINCOUNT


def test_a_calls_plan_follows_the_threads_and_thresholds(monkeypatch):
    """kernels_numba works a call's plan out once per shape (_plans); a change of the thread
    count or of config.py's thresholds between two calls of the same shapes must still take
    effect (tests and the bench change them at run time)."""
    used = []
    run = parallel.run
    monkeypatch.setattr(config, "MIN_DX_BY_CONV_PIXELS", 10**9)  # one call each way
    monkeypatch.setattr(parallel, "run", lambda T, *a: used.append(T) or run(1, *a))
    rng = np.random.RandomState(0)
    x = rng.standard_normal((2, 12, 12, 4)).astype(np.float32)
    w = rng.standard_normal((8, 4, 3, 3)).astype(np.float32)
    b = np.zeros(8, np.float32)
    expected = kn.conv_forward(x, w, b, 1, 1)[0]
    for T, macs in [(1, 0), (2, 0), (2, 10**9), (3, 0)]:
        monkeypatch.setattr(_numba_plans, "_threads", lambda T=T: T)
        monkeypatch.setattr(config, "MIN_PARALLEL_MACS", macs)
        out, cache = kb.conv_forward(x, w, b, 1, 1)
        kb.conv_backward(np.ones_like(out), cache)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert used == [1, 1, 2, 2, 1, 1, 3, 3]


EXIT_SCRIPT = """
import threading
import numpy as np
from engine.fast import _numba_plans, config, parallel
from engine.fast import kernels_numba as kb
assert parallel.LAYER is not None
parallel.WANTED = 2
config.MIN_PARALLEL_ELEMENTS = 0
_numba_plans._threads = lambda: 2
x = np.ones((4, 8, 8, 4), np.float32)
for _ in range(2):  # the second call starts the wrapper's compile, in the background
    kb.relu_forward(x)
print([t.daemon for t in threading.enumerate() if t.name == "convnet-compile"])
"""


def test_the_process_exits_once_a_background_compile_is_done(tmp_path):
    # A process that ends while a prange wrapper compiles (a short `engine train`) waits for
    # it: killed inside LLVM at the interpreter's exit, a daemon compile thread crashed it
    # (SIGABRT or SIGSEGV) in 2 runs of 4, and left nothing in Numba's cache (parallel.py).
    root = Path(__file__).resolve().parents[1]
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-c", EXIT_SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[-2] == "[False]"  # the compile was still running at the script's end
    assert list(cache.rglob("_numba_act.relu_par-*.nbc")), "the wrapper was not compiled before the exit"
