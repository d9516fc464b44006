"""The training loop every front end drives: batches in, events out.

`Trainer.step()` takes one batch from a batch source (anything with `next_batch()` returning
(uint8 images (B, H, W, C), int labels (B,)) and an `epoch` counter, such as
datasets.Batches), runs forward, backward and the optimizer, and returns an event dict:
    {"event": "step", "loss", "acc", "fwd_ms", "bwd_ms", "images_per_s", "examples", "epoch", ...}
    {"event": "diverged", "message", ...}   loss or gradients not finite; nothing was updated
The app's runner, the CLI and the browser worker all call it. No threads, no printing here;
how many threads the kernels of a step run on is fast/tuner.py's choice, made by timing the
steps (all of them, or one beside other busy work; the same weights either way).
"""

from __future__ import annotations

import time

import numpy as np

from .fast.tuner import ThreadTuner


class Trainer:
    """One net, one optimizer, one batch source; see the module docstring."""

    def __init__(self, net, optimizer, batches, keep_act_grads=False, tune_threads=None):
        self.net = net
        self.optimizer = optimizer
        self.batches = batches
        self.keep_act_grads = keep_act_grads
        self.examples = 0
        self.steps = 0
        self.diverged = None  # the message of the last divergence, until reset_divergence()
        self.tuner = ThreadTuner(tune_threads)  # tune_threads None: on where there are threads to choose

    @property
    def epoch(self):
        return getattr(self.batches, "epoch", 0)

    def step(self, batch=None):
        """Train on one batch (the next from the source unless given); returns an event."""
        t0 = time.perf_counter()
        self.tuner.begin()
        event = None
        try:
            event = self._step(batch, t0)
        finally:  # the cap is lifted whatever happened; a diverged step is not timed
            done = event is not None and event["event"] == "step"
            self.tuner.end(event["batch"] if done else 0, time.perf_counter() - t0)
        return event

    def _step(self, batch, t0):
        xb, yb = batch if batch is not None else self.batches.next_batch()
        n = len(yb)
        net = self.net
        x = net.prepare(xb)
        loss, probs = net.loss(x, yb, train=True, keep_act_grads=self.keep_act_grads)
        grads = net.grads()
        bad = None
        if not np.isfinite(loss):
            bad = "the loss became %s" % ("NaN" if np.isnan(loss) else "infinite")
        elif getattr(grads, "flat", None) is None or not np.isfinite(grads.flat).all():
            # a net's gradients share one flat buffer: one check, and a look by name only on failure
            for key, g in grads.items():
                if not np.isfinite(g).all():
                    bad = "the gradient of %s is not finite" % key
                    break
        if bad is not None:
            lr = getattr(self.optimizer, "lr", None)
            self.diverged = (
                "training diverged at step %d: %s; the weights from before this step are kept"
                " — lower the learning rate (now %g) and resume" % (self.steps + 1, bad, lr)
            )
            return {
                "event": "diverged",
                "message": self.diverged,
                "step": self.steps,
                "examples": self.examples,
                "epoch": self.epoch,
            }
        self.optimizer.step(net.params(), grads, net.decay_mults())
        self.steps += 1
        self.examples += n
        seconds = time.perf_counter() - t0
        return {
            "event": "step",
            "step": self.steps,
            "epoch": self.epoch,
            "examples": self.examples,
            "batch": n,
            "loss": float(loss),
            "acc": float((probs.argmax(axis=1) == yb).mean()),
            "fwd_ms": net.fwd_ms / n,
            "bwd_ms": net.bwd_ms / n,
            "images_per_s": n / seconds if seconds > 0 else 0.0,
        }

    def run_epoch(self, on_event=None):
        """Steps until the batch source finishes its current epoch; returns epoch stats."""
        start_epoch = self.epoch
        t0 = time.perf_counter()
        n = 0
        loss_sum = acc_sum = 0.0
        while self.epoch == start_epoch:
            ev = self.step()
            if on_event is not None:
                on_event(ev)
            if ev["event"] == "diverged":
                return {"event": "diverged", "message": ev["message"], "epoch": start_epoch}
            n += ev["batch"]
            loss_sum += ev["loss"] * ev["batch"]
            acc_sum += ev["acc"] * ev["batch"]
        seconds = time.perf_counter() - t0
        return {
            "event": "epoch",
            "epoch": start_epoch + 1,
            "train_loss": loss_sum / max(n, 1),
            "train_acc": acc_sum / max(n, 1),
            "images_per_s": n / seconds if seconds > 0 else 0.0,
            "seconds": seconds,
        }
