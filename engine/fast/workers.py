"""Threads of our own that run the NumPy backend's shares of a batch (numpy_threads.py) and
the Numba backend's chunk kernels where Numba's OpenMP/TBB pool does not (parallel.py
says when: no such layer, or its prange wrappers not compiled yet).

Plain Python, apart from the kernels so that editing it never touches Numba's cache of the
kernel modules (_numba_*.py). The chunk kernels release the GIL (nogil), as do NumPy's ufuncs
and OpenBLAS, so these threads really run in parallel; handing them a call (a queue, then the
GIL) costs several times what Numba's pool takes (see docs/BENCHMARKS.md, "Numba's pool
against our own threads"). Python 3.8 compatible: the browser's engine imports it, and starts
no thread there (numpy_threads.threads() is 1 in Pyodide).
"""

from __future__ import annotations

import os
import queue
import threading


class Workers:
    """Daemon threads that run chunk kernels beside the calling thread.

    run(calls, T) runs the calls on the calling thread and T-1 workers, each taking the next
    call not yet taken until none is left, and returns when all are done, re-raising the
    first error. Taking calls one by one, rather than a fixed share each, keeps a thread that
    the OS has parked (the machine busy with other work) from holding everyone up: the
    others take its share. Each run has its own reply queue, so two Python threads (a
    training run and a prediction) may use the workers at once.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.inboxes = []

    @staticmethod
    def _drain(calls):
        """Run calls from the shared iterator until it is empty; the first error, or None."""
        try:
            for fn, args in calls:  # next() on a list iterator is atomic under the GIL
                fn(*args)
        except BaseException as e:  # handed to the caller of run(), who re-raises it
            return e
        return None

    @classmethod
    def _serve(cls, inbox):
        while True:
            calls, reply = inbox.get()
            reply.put(cls._drain(calls))

    def run(self, calls, T):
        helpers = min(T, len(calls)) - 1
        if helpers <= 0:
            for fn, args in calls:
                fn(*args)
            return
        with self.lock:
            while len(self.inboxes) < helpers:
                inbox = queue.SimpleQueue()
                threading.Thread(target=self._serve, args=(inbox,), name="convnet-kernels", daemon=True).start()
                self.inboxes.append(inbox)
            inboxes = self.inboxes[:helpers]
        shared = iter(calls)
        reply = queue.SimpleQueue()
        for inbox in inboxes:
            inbox.put((shared, reply))
        error = self._drain(shared)
        for _ in inboxes:
            error = error or reply.get()
        if error is not None:
            raise error


workers = Workers()

# At most this many threads for the kernels of both backends (None: no cap), for as long as it
# is set. engine/fast/tuner.py sets it around a training step. The cap changes only how many
# threads run a call's chunks (or shares), never how the call is cut into them: the chunks'
# partial sums, and so the results, are the same bits under any cap.
_cap = [None]


def cap_threads(T):
    """Run the kernels on at most T threads from now on (None: as many as they would)."""
    _cap[0] = None if T is None else max(1, int(T))


def capped(T):
    """T, or the cap if it is lower."""
    cap = _cap[0]
    return T if cap is None or T <= cap else cap


if hasattr(os, "register_at_fork"):  # a forked child has none of its parent's threads
    os.register_at_fork(after_in_child=lambda: workers.__init__())
