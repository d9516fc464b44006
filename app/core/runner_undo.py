"""Undo for the Runner: the net a reset, a snapshot or a spec replaced, kept for one "Undo".

A click on "Reset weights" or a dropped file should not cost a lecture the net it spent
twenty minutes training. So the commands that replace the running net (_do_reset, _do_spec,
_do_net in runner_net.py) first hand the current net and optimizer (the objects themselves:
nothing else holds them after the swap) to _keep_for_undo, and undo() puts them back between
two steps. Undo swaps: the net it replaced is kept in turn, so a second Undo redoes. One level
only: holding more nets would multiply the memory a large net takes.

The settings follow the restored optimizer (its name, lr, momentum, weight decay), so the
controls show what trains. The curves start over, as after any change of net. Published:
`can_undo` (bool) and `undo_what` (what Undo would bring back), for the controls.
"""

from __future__ import annotations

import engine


class RunnerUndoMixin:
    """Undo for Runner (see runner.py); relies on its lock, queue, hyper and _install."""

    _undo = None  # (net, optimizer, classes, info, what) or None

    def undo(self):
        """Bring back the net and optimizer the last reset, snapshot or spec replaced.

        ValueError when there is nothing to undo; applied between two steps like every command."""
        with self._lock:
            if not self._pub.get("can_undo"):
                raise ValueError("nothing to undo: no reset, snapshot or new spec replaced the net yet")
        self._queue("undo")

    def _keep_for_undo(self, what):
        """Called in the training thread right before the running net is replaced."""
        self._undo = (self.net, self.optimizer, list(self.classes), dict(self.net_info), what)
        self._publish_undo()

    def _publish_undo(self):
        with self._lock:
            self._pub["can_undo"] = self._undo is not None
            self._pub["undo_what"] = self._undo[4] if self._undo is not None else ""

    def _do_undo(self):
        if self._undo is None:
            return
        net, optimizer, classes, info, what = self._undo
        try:  # the data may have changed since: an old net that no longer fits stays kept
            self._compatible(net.layers_spec, "the net before the %s" % what)
        except engine.SpecError as e:
            with self._lock:
                self.error = "cannot undo: %s" % e
                self._publish_status()
            return
        if net.backend != self.hyper["backend"]:
            moved = engine.Net(net.spec(), backend=self.hyper["backend"], preprocess=net.preprocess)
            moved.load_params(net.params())
            net = moved
        self._undo = (self.net, self.optimizer, list(self.classes), dict(self.net_info), "undo")
        self._install(net, optimizer, classes, info)
        with self._lock:
            self.hyper.update(
                optimizer=optimizer.name, **{k: optimizer.hyper()[k] for k in ("lr", "momentum", "weight_decay")}
            )
            self.hyper_version += 1
            self._pub["hyper"] = dict(self.hyper)
            self._pub["hyper_version"] = self.hyper_version
        self._publish_undo()
