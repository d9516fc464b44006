"""engine/fast/tuner.py: the thread count a training step runs on, chosen by timing the steps.

The tuner is driven here by simulated steps whose speed depends on the setting they ran under
(what workers.cap_threads held during the step), so each test is a machine whose two settings
train at known rates; and the cap is checked to change the threads only, never the bits.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import Net, Optimizer, Trainer, get_preset
from engine.fast import tuner as tn
from engine.fast import workers

ALONE = {tn.ALL: 19000.0, tn.ONE: 11000.0}  # images/s: an idle 2-core machine
BUSY = {tn.ALL: 7500.0, tn.ONE: 10000.0}  # beside other busy work (the app's, measured)


def run(tuner, world, seconds, batch=64):
    """Steps for `seconds` of simulated training time under world(t) -> {setting: images/s};
    returns the step-seconds spent under each setting."""
    t, spent = 0.0, {tn.ALL: 0.0, tn.ONE: 0.0}
    while t < seconds:
        tuner.begin()
        setting = workers._cap[0]
        step = batch / world(t)[setting]
        tuner.end(batch, step)
        assert workers._cap[0] is None  # lifted between steps
        spent[setting] += step
        t += step
    return spent


@pytest.fixture(autouse=True)
def no_cap_left():
    yield
    workers.cap_threads(None)


def test_alone_it_keeps_all_threads_and_compares_ever_more_rarely():
    tuner = tn.ThreadTuner(enabled=True)
    spent = run(tuner, lambda t: ALONE, 600.0)
    assert tuner.setting is tn.ALL and tuner.switches == 0
    assert tuner.interval == tn.LONGEST
    assert 10 <= tuner.comparisons <= 30  # 2, 4, 8, 16 s apart, then every 30 s
    assert spent[tn.ONE] / 600.0 < 0.02  # the slower setting's share of the time: its probes only


def test_beside_busy_work_it_takes_one_thread_within_seconds():
    tuner = tn.ThreadTuner(enabled=True)
    spent = run(tuner, lambda t: BUSY, 5.0)
    assert tuner.setting is tn.ONE and tuner.switches == 1
    spent = run(tuner, lambda t: BUSY, 300.0)
    assert tuner.setting is tn.ONE and tuner.switches == 1  # and keeps it
    assert spent[tn.ALL] / 300.0 < 0.03


def test_it_follows_the_machine_both_ways():
    tuner = tn.ThreadTuner(enabled=True)
    run(tuner, lambda t: ALONE, 200.0)  # compares only every 30 s by now
    assert tuner.setting is tn.ALL and tuner.interval == tn.LONGEST
    # busy work starts: the steps slow down past DROP, so it compares at once, not 30 s later
    before = tuner.comparisons
    run(tuner, lambda t: BUSY, 3.0)
    assert tuner.setting is tn.ONE and tuner.comparisons == before + 1
    # the busy work ends: one thread is no slower than it was, so only the next regular
    # comparison finds out, at most LONGEST later
    run(tuner, lambda t: ALONE, tn.LONGEST + 5.0)
    assert tuner.setting is tn.ALL and tuner.switches == 2


def test_a_noisy_machine_within_the_margin_keeps_the_setting():
    rng = np.random.default_rng(0)
    tuner = tn.ThreadTuner(enabled=True)
    # both settings equally fast, each step's speed off by up to 3%
    run(tuner, lambda t: {s: 10000.0 * (1 + rng.uniform(-0.03, 0.03)) for s in (tn.ALL, tn.ONE)}, 300.0)
    assert tuner.setting is tn.ALL and tuner.switches == 0


def test_off_it_never_caps(monkeypatch):
    tuner = tn.ThreadTuner(enabled=False)
    spent = run(tuner, lambda t: BUSY, 30.0)
    assert spent[tn.ONE] == 0.0 and tuner.comparisons == 0
    monkeypatch.setenv("CONVNET_TUNE_THREADS", "0")
    assert not tn.enabled_by_default() and not tn.ThreadTuner().enabled


def test_a_step_that_does_not_count_is_not_timed():
    tuner = tn.ThreadTuner(enabled=True)
    for _ in range(1000):  # diverged steps: 0 images
        tuner.begin()
        tuner.end(0, 1.0)
    assert tuner.comparisons == 0 and workers._cap[0] is None


def test_the_cap_changes_the_threads_not_the_bits(backend):
    """A training step under a cap of one thread gives the bits of one on all threads: the
    calls are cut into the same chunks (shares), only fewer threads take them. ConvNetJS's
    CIFAR-10 net at batch 32: each of its convolutions is big enough to be shared out."""
    spec = get_preset("convnetjs-cifar10")
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 32)
    weights = []
    for cap in (None, 1):
        net = Net(spec, backend=backend, seed=5)
        trainer = Trainer(net, Optimizer("adadelta", weight_decay=1e-3), batches=None, tune_threads=False)
        workers.cap_threads(cap)
        for _ in range(2):
            trainer.step((images, labels))
        workers.cap_threads(None)
        weights.append({k: v.copy() for k, v in net.params().items()})
    for k, v in weights[0].items():
        np.testing.assert_array_equal(v, weights[1][k], err_msg=k)


def test_the_cap_runs_calls_on_fewer_threads(monkeypatch):
    """Under a cap of one, a NumPy call's shares run on the calling thread, not handed to
    workers (Numba's chunks likewise: parallel.run and run_ranges take the capped count)."""
    from engine.fast import numpy_threads, parallel

    handed = []

    class Spy:
        def run(self, calls, T):
            handed.append(T)
            for fn, args in calls:
                fn(*args)

    monkeypatch.setitem(numpy_threads._state, "threads", 2)  # as on a 2-core machine with OpenBLAS
    monkeypatch.setitem(numpy_threads._state, "blas", (lambda n: None, lambda: 1))
    monkeypatch.setattr(numpy_threads, "workers", Spy())
    calls = [(i,) for i in range(8)]
    assert numpy_threads.run(lambda i: i * i, calls, 2) == [i * i for i in range(8)]
    assert handed == [2]
    workers.cap_threads(1)
    assert numpy_threads.run(lambda i: i * i, calls, 2) == [i * i for i in range(8)]
    assert handed == [2]  # not handed out again
    ran = []
    parallel.run_ranges(2, lambda i0, i1: ran.append((i0, i1)), None, (), [(0, 3), (3, 8)], (), np.float32)
    assert ran == [(0, 3), (3, 8)]  # on this thread, in order: no wrapper, no workers


def test_a_trainer_lifts_the_cap_when_its_step_fails():
    net = Net([{"type": "input", "shape": [4, 4, 1]}, {"type": "softmax", "num_classes": 2}])
    trainer = Trainer(net, Optimizer("sgd"), batches=None, tune_threads=True)
    trainer.tuner._phase = "other"  # this step would run capped
    with pytest.raises(ValueError, match="do not fit"):
        trainer.step((np.zeros((2, 9, 9, 1), np.uint8), np.zeros(2, int)))  # the wrong image size
    assert workers._cap[0] is None
