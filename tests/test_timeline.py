"""The timeline's checkpoint store (app/core/timeline.py): its bounds hold over a long run, its
checkpoints are log-even plus the last few, the latest is always there, and what it hands back
is exactly what was stored.

A simulated run: the step is 16 examples, the params a few small arrays whose values say which
step they belong to."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.timeline import Timeline

BATCH = 16


def live_params(step):
    return [np.full((4, 3), step, np.float32), np.full(5, -step, np.float32)]


def run(tl, examples_end, check=None):
    """Train to examples_end, recording when due; returns how many checkpoints were recorded."""
    recorded = 0
    examples = 0
    while examples <= examples_end:
        if tl.due(examples):
            assert tl.record(examples, live_params(examples // BATCH))
            recorded += 1
            if check:
                check(tl, examples)
        examples += BATCH
    return recorded


def test_bounds_hold_over_a_long_run_and_the_first_and_latest_stay():
    size = live_params(0)[0].nbytes + live_params(0)[1].nbytes  # 68 bytes
    by_count = Timeline(max_checkpoints=12, max_bytes=10**9, keep_last=3)
    by_bytes = Timeline(max_checkpoints=64, max_bytes=9 * size + size // 2, keep_last=3)

    def check(tl, examples):
        assert len(tl) <= 12 if tl is by_count else len(tl) <= 9
        assert tl.nbytes <= tl.max_bytes
        assert tl.nbytes == size * len(tl)
        assert tl.examples()[0] == 0 and tl.examples()[-1] == examples

    for tl in (by_count, by_bytes):
        recorded = run(tl, 2_000_000, check)
        assert len(tl) == (12 if tl is by_count else 9)
        assert recorded > 2 * len(tl)  # thinned many times over, not just filled


def test_checkpoints_are_log_even_plus_the_last_few():
    tl = Timeline(max_checkpoints=32, keep_last=4)
    run(tl, 7_200_000)  # 30 minutes at 4,000 images a second
    ex = tl.examples()
    assert len(ex) == 32 and ex[0] == 0
    pos = [math.log1p(e) for e in ex]
    gaps = np.diff(pos)
    # gaps one step wide (0 to 16 to 32 examples) are as fine as a run can split them; after
    # them, up to the last few, the gaps are even within a factor of 2.5 (thinning by the
    # smallest merged gap leaves gaps between s and about 2s)
    one_step = sum(1 for a, b in zip(ex, ex[1:]) if b - a == BATCH)
    even = gaps[one_step : -tl.keep_last]
    assert even.max() / even.min() < 2.5, gaps
    # the last few are closer together than the log-even ones
    assert gaps[-tl.keep_last + 1 :].max() < even.min()


def test_at_returns_the_exact_stored_copies():
    tl = Timeline()
    live = live_params(1)
    assert tl.record(100, live)
    assert tl.record(200, live_params(2))
    live[0] += 7  # the optimizer updates the live params in place
    examples, params = tl.at(150)
    assert examples == 100
    np.testing.assert_array_equal(params[0], np.full((4, 3), 1, np.float32))
    np.testing.assert_array_equal(params[1], np.full(5, -1, np.float32))
    with pytest.raises(ValueError):
        params[0] += 1  # read-only: no reader changes the store either
    assert tl.at(10)[0] == 100 and tl.at(200)[0] == 200 and tl.at(10**9)[0] == 200
    np.testing.assert_array_equal(tl.at(999)[1][0], live_params(2)[0])


def test_due_is_cheap_and_record_refuses_what_it_cannot_keep():
    tl = Timeline(max_checkpoints=8, max_bytes=200, keep_last=2)
    with pytest.raises(LookupError):
        tl.at(0)
    assert tl.due(0)
    assert tl.record(0, live_params(0))
    assert not tl.due(0)
    assert not tl.record(0, live_params(0))  # not past the latest
    assert not tl.record(16, [np.zeros(30, np.float32)])  # 120 bytes: first and latest won't fit
    assert len(tl) == 1 and tl.too_large == 120 and not tl.due(10**9)  # not asked again
    tl.clear()
    assert len(tl) == 0 and tl.nbytes == 0 and tl.due(0) and tl.too_large is None
