"""Curves that do not mislead: the running validation and test accuracies share one schedule
and window, and exact points (the whole validation and test sets on a copy of the weights)
are what those windows converge to on a net whose predictions do not change.

Plain pytest on an unthreaded Runner (one evaluator chunk per tick) over synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TINY

from app.core import Runner
from app.core.exact_eval import add_point
from app.core.history import ACC_WINDOW
from app.status import status
from datasets import synthetic_dataset


@pytest.fixture(scope="module")
def data():
    # 1000 training images: 100 held out for validation; 200 test images. Both sizes divide
    # ACC_WINDOW, so a full window holds every image of its set the same number of times.
    ds = synthetic_dataset(1000, 200, 10, seed=3)
    assert ACC_WINDOW % 100 == 0 and ACC_WINDOW % 200 == 0
    return ds


def frozen_runner(data):
    """A net that trains (steps, examples rise) but whose weights never change: SGD at lr 0."""
    return Runner(
        data, spec=TINY, backend="numpy", optimizer="sgd", lr=0.0, momentum=0.0, weight_decay=0.0,
        batch_size=32, threaded=False, eval_interval=0.0,
    )  # fmt: skip


def exact_by_hand(r, ds):
    net = r.inference_net()
    val = r._val_idx
    val_acc = np.mean(net.predict(ds.train_x[val]).argmax(1) == ds.train_y[val])
    test_acc = np.mean(net.predict(ds.test_x).argmax(1) == ds.test_y)
    return float(val_acc), float(test_acc)


def test_windows_share_a_schedule_and_converge_to_the_exact_points(data):
    r = frozen_runner(data)
    for _ in range(5):
        r.tick()
    s = r.snapshot()
    # the same number of validation and test predictions so far: the windows span the same training
    assert len(r._val_correct) == len(r.predictions.correct) > 0
    while len(r._val_correct) < ACC_WINDOW or len(r.predictions.correct) < ACC_WINDOW:
        r.tick()
    r.pause()
    for _ in range(20):  # the paused net's exact point, one chunk a tick
        r.tick()
    s = r.snapshot()
    assert s["exact_at_examples"] == s["examples"] > 0
    val_acc, test_acc = exact_by_hand(r, data)
    assert s["exact_val_acc"] == pytest.approx(val_acc, abs=1e-12)
    assert s["exact_test_acc"] == pytest.approx(test_acc, abs=1e-12)
    assert s["val_acc"] == pytest.approx(s["exact_val_acc"], abs=1e-9)
    assert s["test_acc"] == pytest.approx(s["exact_test_acc"], abs=1e-9)
    points = s["exact_points"]
    xs = [p[0] for p in points]
    assert len(points) >= 2 and xs == sorted(xs) and xs[0] <= 32 and xs[-1] == s["examples"]
    assert all(p[1:] == pytest.approx((val_acc, test_acc)) for p in points)  # frozen weights: one score
    js = status(r)
    assert js["exact_val_acc"] == s["exact_val_acc"] and js["exact_at_examples"] == s["examples"]


def test_a_new_run_drops_the_previous_runs_exact_points(data):
    r = frozen_runner(data)
    for _ in range(40):  # 16 images a tick while training: the first point within 19 ticks
        r.tick()
    before = r.snapshot()
    assert before["exact_points"]
    r.reset()
    r.pause()
    r.tick()
    s = r.snapshot()
    assert s["exact_at_examples"] in (None, 0) and all(p[0] == 0 for p in s["exact_points"])
    assert s["run_id"] == before["run_id"] + 1


def test_exact_points_stay_bounded_and_span_the_run():
    points = ()
    for i in range(1000):
        points = add_point(points, (i, 0.5, 0.5), limit=16)
        assert len(points) <= 16
    assert points[0][0] == 0 and points[-1][0] == 999


def rests_of_a_threaded_job(data, training):
    """The waits a threaded evaluator asks for between the chunks of one job (validation 100
    images, test 200, chunks of 50), each chunk 0.01 s of a fake clock (background._clock)."""
    import threading

    from app.core import background, exact_eval

    clock, rests, done = [0.0], [], threading.Event()

    class Stop(threading.Event):
        def wait(self, timeout=None):
            rests.append(round(timeout, 6))
            return False

    ev = exact_eval.ExactEvaluator(lambda *a: done.set(), threaded=True, chunk=50, training=lambda: training)
    piece = ev._piece

    def timed_piece(job, max_images):
        clock[0] += 0.01
        return piece(job, max_images)

    ev._piece, ev._stop = timed_piece, Stop()
    original, background._clock = background._clock, lambda: clock[0]
    try:
        r = frozen_runner(data)
        sets = [("val", data.train_x, r._val_idx, data.train_y[r._val_idx]), ("test", data.test_x, None, data.test_y)]
        r._publish_weights()
        assert ev.start(r.run_id, 0, r._weights, sets)
        assert done.wait(60)
    finally:
        ev.stop()
        background._clock = original
    return rests


def test_a_threaded_evaluator_rests_between_chunks_only_while_the_net_trains(data):
    """Threaded, the exact points take at most a quarter of a core from a training net: after
    each chunk the evaluator's thread waits REST_WHILE_TRAINING times the chunk's time (the
    lowest priority alone let them slow the app's training by a third); paused, it never waits."""
    from app.core.exact_eval import REST_WHILE_TRAINING

    chunks = 100 // 50 + 200 // 50
    # a rest after each chunk but the last (the job was done)
    assert rests_of_a_threaded_job(data, training=True) == [REST_WHILE_TRAINING * 0.01] * (chunks - 1)
    assert rests_of_a_threaded_job(data, training=False) == []
