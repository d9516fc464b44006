"""What the run's timeline costs (app/core/timeline.py): a measurement, not a test.

    python tests/bench_timeline.py [--preset convnetjs-cifar10] [--minutes 30] [--rate 4000] [--batch 64]

Simulates a run of the default net (its real parameters, updated in place between steps as
the optimizer does) at `rate` images a second for `minutes`, recording a checkpoint whenever
the timeline says one is due, as the Runner does after a step. Prints one JSON line: bytes per
checkpoint, checkpoints recorded, kept at the end and their bytes (the store's bound), the
time of one due() and of one record() (the copy the training thread pays), and how much of the
simulated run's training time the records took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402
from app.core.timeline import Timeline  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="convnetjs-cifar10")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=4000.0, help="images a second")
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args(argv)
    net = engine.Net(engine.get_preset(args.preset), backend="numpy", seed=0)
    params = net.params()
    names = list(params)
    live = [params[k] for k in names]
    tl = Timeline()
    end = int(args.minutes * 60 * args.rate)
    examples, recorded, record_s, due_s, steps = 0, 0, 0.0, 0.0, 0
    while examples <= end:
        t0 = time.perf_counter()
        due = tl.due(examples)
        t1 = time.perf_counter()
        due_s += t1 - t0
        if due:
            recorded += tl.record(examples, live)
            record_s += time.perf_counter() - t1
            live[0] += 1e-3  # the optimizer changes the live weights in place
        examples += args.batch
        steps += 1
    out = {
        "preset": args.preset,
        "params": int(sum(a.size for a in live)),
        "bytes_per_checkpoint": int(sum(a.nbytes for a in live)),
        "simulated_minutes": args.minutes,
        "images_per_s": args.rate,
        "steps": steps,
        "checkpoints_recorded": recorded,
        "checkpoints_kept": len(tl),
        "store_bytes": tl.nbytes,
        "max_bytes": tl.max_bytes,
        "too_large": tl.too_large,
        "first_and_last_kept": [tl.examples()[0], tl.examples()[-1]] if len(tl) else None,
        "due_us": round(1e6 * due_s / steps, 3),
        "record_us": round(1e6 * record_s / max(1, recorded), 1),
        "record_share_of_training": round(record_s / (args.minutes * 60), 8),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
