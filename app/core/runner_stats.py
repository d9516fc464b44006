"""What the Runner measures and shows between two steps: step statistics, running accuracies
on small validation and test chunks (and the stream of test predictions), and the
visualisation probe of one example (a fixed test image, a chosen one, or an upload).

Split from runner.py (the thread and its commands) to keep both short. _probe, _evaluate and
_record_step run in the training thread; set_vis_example, show_test_image and test_image are
commands any thread may call.
"""

from __future__ import annotations

import time

import numpy as np

from .exact_eval import EXACT_EVERY_EPOCHS, TICK_CHUNK, add_point
from .history import EVAL_CHUNK
from .probe import probe, weight_grads


class RunnerStatsMixin:
    """Statistics and visualisation for Runner (see runner.py); relies on its lock and fields."""

    def set_vis_example(self, image=None, label=None, caption=None):
        """Show this uint8 (H, W, C) image in the visualisation; None: back to the fixed example."""
        if image is not None:
            image = np.ascontiguousarray(image, dtype=np.uint8)
            if tuple(image.shape) != tuple(self._shape()):
                raise ValueError(
                    "the image is %s but the net takes %s"
                    % ("x".join(map(str, image.shape)), "x".join(map(str, self._shape())))
                )
        self._queue("vis", None if image is None else ("image", image, label, caption or "uploaded image"))

    def show_test_image(self, index):
        """Visualise test image `index` (and keep visualising it as training goes on)."""
        self.test_image(index)  # raises for a bad index
        self._queue("vis_test", int(index))

    def _do_vis_test(self, index):
        self._vis_example = ("test", index)
        self._vis_dirty = True
        self._view_again()

    def _do_vis(self, example):
        self._vis_example = example
        self._vis_dirty = True
        self._view_again()

    def _vis_input(self):
        """(image, label, caption) of the example the visualisation shows."""
        ex = self._vis_example
        index = ex[1] if ex is not None and ex[0] == "test" else self._fixed_index
        if ex is not None and ex[0] == "image":
            return ex[1:]
        if self.dataset is not None and index is not None and index < len(self.dataset.test_y):
            image, label = np.asarray(self.dataset.test_x[index]), int(self.dataset.test_y[index])
            return image, label, "test image #%d%s" % (index, " (the fixed example)" if ex is None else "")
        return np.full(self._shape(), 128, np.uint8), None, "a grey image (no data)"

    def _probe(self):
        self._vis_dirty = False
        self._last_vis = time.monotonic()
        if self._view is not None:  # a moment of the timeline is shown (runner_timeline.py)
            return
        image, label, caption = self._vis_input()
        grads = weight_grads(self.net)
        data = probe(self.net, image, label, grads)
        data.update(image=image, caption=caption, classes=self.classes)
        self._publish_weights()
        with self._lock:
            if self._pub.get("timeline_view") is None:  # not replaced by a moment meanwhile
                self._vis = data
                self._vis_version += 1

    def _evaluate(self, n_val=EVAL_CHUNK, n_test=EVAL_CHUNK, n_matrix=128):
        """Running accuracies: a chunk of validation and test images, round-robin, the same
        number of each so both windows span the same training; and the next n_matrix test
        images of the rolling confusion matrix (a pass over 10,000 in ~80 s)."""
        self._last_eval = time.monotonic()
        self._publish_weights()  # uploads are predicted with weights at most a second old
        ds = self.dataset
        if ds is None:
            return
        net = self.net
        if len(self._val_idx):
            pos = self._val_pos
            idx = self._val_idx[np.arange(pos, pos + n_val) % len(self._val_idx)]
            self._val_pos = (pos + n_val) % len(self._val_idx)
            pred = net.predict(ds.train_x[idx]).argmax(axis=1)
            self._val_correct.extend((pred == ds.train_y[idx]).tolist())
        if len(self._test_order):
            pos = self._test_pos
            idx = self._test_order[np.arange(pos, pos + n_test) % len(self._test_order)]
            self._test_pos = (pos + n_test) % len(self._test_order)
            images = np.asarray(ds.test_x[idx])
            probs = net.predict(images)
            with self._lock:
                for i, img, p in zip(idx, images, probs):
                    self.predictions.add(i, img, int(ds.test_y[i]), p)
                self._pub["val_acc"] = float(np.mean(self._val_correct)) if self._val_correct else float("nan")
                self._pub["test_acc"] = self.predictions.accuracy
                self._pub["test_seen"] = len(self.predictions.correct)
        if self._evaluation is not None:
            self._evaluation.update(net, n_matrix, step=self._pub.get("steps"))

    def _record_step(self, ev):
        now = time.monotonic()
        a = 0.05  # EMA weight per step, as ConvNetJS's windowed averages
        s = self._stats
        s["loss_smooth"] = ev["loss"] if s["loss_smooth"] is None else (1 - a) * s["loss_smooth"] + a * ev["loss"]
        s["fwd_ms"] = ev["fwd_ms"] if s["fwd_ms"] is None else 0.9 * s["fwd_ms"] + 0.1 * ev["fwd_ms"]
        s["bwd_ms"] = ev["bwd_ms"] if s["bwd_ms"] is None else 0.9 * s["bwd_ms"] + 0.1 * ev["bwd_ms"]
        self._train_correct.append((ev["acc"] * ev["batch"], ev["batch"]))
        self._rate.append((now, ev["examples"]))
        while len(self._rate) > 2 and now - self._rate[0][0] > 3.0:
            self._rate.popleft()
        (t0, e0), (t1, e1) = self._rate[0], self._rate[-1]
        rate = (e1 - e0) / (t1 - t0) if t1 > t0 else ev["images_per_s"]
        train_acc = sum(c for c, _ in self._train_correct) / max(1, sum(n for _, n in self._train_correct))
        b = self.batches
        with self._lock:
            p = self._pub
            p.update(
                examples=ev["examples"],
                steps=ev["step"],
                epoch=b.epoch + b.position / max(1, b.num_examples),
                loss=ev["loss"],
                loss_smooth=s["loss_smooth"],
                train_acc=train_acc,
                fwd_ms=s["fwd_ms"],
                bwd_ms=s["bwd_ms"],
                images_per_s=rate,
                step_images_per_s=ev["images_per_s"],
            )
            self.history.offer(
                examples=ev["examples"],
                loss=ev["loss"],
                loss_smooth=s["loss_smooth"],
                train_acc=train_acc,
                val_acc=p.get("val_acc", np.nan),
                test_acc=p.get("test_acc", np.nan),
            )
            p["history_id"] = self.history.next_id - 1

    def _maybe_exact(self):
        """Start an exact point when due (the training thread): at a run's start, every
        EXACT_EVERY_EPOCHS of training, and for a paused net whose weights it has not scored.
        Unthreaded, evaluate one chunk of the job in flight (see exact_eval.py)."""
        ex = self._exact
        ds = self.dataset
        if ds is not None and not ex.busy:
            examples = self._pub.get("examples", 0)
            last = self._exact_last
            every = EXACT_EVERY_EPOCHS * max(1, len(self.batches.indices))
            paused = not self.running and not self._steps_pending
            if last is None or examples - last >= every or (paused and examples != last):
                self._publish_weights()
                sets = [
                    ("val", ds.train_x, self._val_idx, ds.train_y[self._val_idx]),
                    ("test", ds.test_x, None, ds.test_y),
                ]
                if ex.start(self.run_id, examples, self._weights, sets):
                    self._exact_last = examples
        if not self.threaded:
            ex.work(TICK_CHUNK if self.running else None)

    def _exact_done(self, run_id, examples, val_acc, test_acc):
        """An exact point is ready (the evaluator's thread): published if its run still runs."""
        with self._lock:
            if run_id != self.run_id:
                return
            p = self._pub
            p.update(exact_val_acc=val_acc, exact_test_acc=test_acc, exact_at_examples=examples)
            p["exact_points"] = add_point(p.get("exact_points", ()), (examples, val_acc, test_acc))
