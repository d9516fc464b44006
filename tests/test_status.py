"""GET /status.json (app/status.py): the run's numbers as JSON, NaN as null, no session needed."""

from __future__ import annotations

import json

from app.core import Runner
from app.status import FIELDS, status
from datasets import synthetic_dataset


def test_status_is_the_published_numbers_as_json():
    runner = Runner(
        synthetic_dataset(64, 16, 10, seed=1), backend="numpy", batch_size=16, threaded=False, running=False
    )
    before = json.loads(json.dumps(status(runner), allow_nan=False))  # no NaN: strict JSON
    assert set(before) == set(FIELDS) | {"timeline"}
    assert before["timeline"]["checkpoints"] == [0] and before["timeline"]["viewing"] is None
    assert before["status"] == "paused" and before["examples"] == 0 and before["loss"] is None
    runner.step()
    runner.tick()
    after = status(runner)
    assert after["examples"] == 16 and after["steps"] == 1 and isinstance(after["loss"], float)
    assert after["backend"] == "numpy"
