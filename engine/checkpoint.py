"""Resume and checkpoints for `python -m engine train`: the state of a run, and where it goes.

A snapshot saved by `train` carries, besides the weights and the optimizer's state, the run
itself under the metadata key "run" (docs/ARCHITECTURE.md, "Snapshot format"):
    {"version": 1,
     "args":    the settings that define the run: net, epochs, batch, optimizer, lr (the base of
                the schedule), momentum, weight_decay, lr_decay, seed, train_images, augment,
                val_every (0: no validation hold-out)
     "steps", "examples":  the Trainer's counters
     "batches": the batch stream's position and both of its generators (datasets.Batches)
     "dropout_rng": {layer name: the state of its RandomState}
     "history": the epoch rows printed so far
     "best":    {"epoch", "val_acc"} of the best epoch on validation so far, or null}
`train --resume SNAPSHOT` restores all of it, so that 1 epoch + save + resume + 1 epoch gives
the very bits of a 2-epoch run (tests/test_resume.py); the learning rate follows from the
schedule and the epoch counter. A snapshot may be taken mid-epoch (Ctrl-C): the resumed run
finishes that epoch with the batches the original would have drawn.

Checkpoints: `--checkpoint DIR` writes DIR/last.npz after every epoch and DIR/best.npz when
the validation accuracy is the best so far; both are atomic (engine/atomic.py) and both
resume. InterruptGuard turns the first Ctrl-C (SIGINT) into a request the training loop
answers at the end of the step under way, by saving a checkpoint and stopping; a second
Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import numpy as np

from .atomic import write_atomic

RUN_VERSION = 1
RUN_ARGS = (
    "net",
    "epochs",
    "batch",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "lr_decay",
    "seed",
    "train_images",
    "augment",
    "val_every",
)


class Interrupted(Exception):
    """Raised by InterruptGuard.check between steps once Ctrl-C was pressed."""


class InterruptGuard:
    """`with InterruptGuard() as guard:` ... `guard.check()` after each step (see the module
    docstring). Outside the main thread signals cannot be caught, and it does nothing."""

    def __init__(self, message="interrupted: saving a checkpoint after this step (Ctrl-C again to quit at once)"):
        self.message = message
        self.requested = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(self.message, file=sys.stderr, flush=True)

    def check(self, event=None):
        """Raise Interrupted if Ctrl-C was pressed; usable as Trainer.run_epoch's on_event."""
        if self.requested:
            raise Interrupted()


# -- the run's state ---------------------------------------------------------------------
def _dropout_layers(net):
    return [layer for layer in net.layers if layer.type == "dropout"]


def run_state(args, trainer, history=(), best=None):
    """The "run" metadata of a snapshot (see the module docstring); args: {RUN_ARGS key: value}."""
    rngs = {}
    for layer in _dropout_layers(trainer.net):
        name, keys, pos, has_gauss, cached = layer.rng.get_state()
        rngs[layer.name] = [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)]
    return {
        "version": RUN_VERSION,
        "args": {k: args[k] for k in RUN_ARGS},
        "steps": trainer.steps,
        "examples": trainer.examples,
        "batches": trainer.batches.state_dict(),
        "dropout_rng": rngs,
        "history": list(history),
        "best": best,
    }


def check_run(run, where):
    """The run metadata of a snapshot, or ValueError saying why it cannot be resumed."""
    if not isinstance(run, dict):
        raise ValueError("%s holds no training run to resume (it was not saved by `python -m engine train`)" % where)
    version = run.get("version")
    if not isinstance(version, int) or version > RUN_VERSION:
        raise ValueError(
            "%s holds a training run of an unknown version (%r); upgrade ConvNet Playground" % (where, version)
        )
    missing = [k for k in ("args", "steps", "examples", "batches", "dropout_rng") if k not in run]
    missing += ["args." + k for k in RUN_ARGS if k not in (run.get("args") or {})]
    if missing:
        raise ValueError("%s: its training run is incomplete (no %s)" % (where, ", ".join(missing)))
    return run


def restore(run, trainer):
    """Put a run's counters and generators back into a Trainer (its net, its batches)."""
    trainer.steps = int(run["steps"])
    trainer.examples = int(run["examples"])
    trainer.batches.load_state_dict(run["batches"])
    saved = run["dropout_rng"]
    for layer in _dropout_layers(trainer.net):
        if layer.name not in saved:
            raise ValueError("the run has no random state for dropout layer %s" % layer.name)
        name, keys, pos, has_gauss, cached = saved[layer.name]
        layer.rng.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


# -- where snapshots go ------------------------------------------------------------------
class Checkpoints:
    """DIR/last.npz after every epoch, and DIR/best.npz when the epoch is the best on validation."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def last_path(self):
        return self.folder / "last.npz"

    @property
    def best_path(self):
        return self.folder / "best.npz"

    def save(self, data, best=False):
        """Write snapshot bytes as last.npz (and as best.npz); returns the paths written."""
        write_atomic(self.last_path, data)
        written = [self.last_path]
        if best:
            write_atomic(self.best_path, data)
            written.append(self.best_path)
        return written
