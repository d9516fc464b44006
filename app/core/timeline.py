"""The timeline of a run: the net's weights at checkpoints spaced evenly in log(examples seen),
plus the last few, in a bounded store.

The Runner (server) and the static site's worker both keep one, so this file stays Panel-free
and runs in Pyodide (Python 3.8, NumPy 1.17). Scrubbing, drawing and branching are their
business; this is only the store.

    tl = Timeline(max_checkpoints=64, max_bytes=50_000_000, keep_last=4)
    if tl.due(examples):                  # cheap: one comparison
        tl.record(examples, params)       # copies taken; thins the store to its bounds
    tl.examples()                         # [0, 16, 32, ..., latest]
    examples, params = tl.at(12_000)      # the stored checkpoint nearest at or before 12,000

Spacing. Positions are log(1 + examples), so the first checkpoint may be the untrained net at 0.
A checkpoint is due when the run has moved a quarter (1 / keep_last) of the even log spacing
the store would have if full, so the newest checkpoints subdivide the latest interval: the last
few are close together, the older ones log-even. When a bound is exceeded the store drops the
checkpoint whose removal leaves the most even log spacing: the one whose neighbours are
closest (the smallest merged gap); never the first, never the latest, and not the last
`keep_last` unless only those are left to drop.

Stored arrays are read-only copies: `at` hands them out without copying, and nobody can change
them in place (neither the live params, which the optimizer updates, nor a reader).
"""

from __future__ import annotations

import bisect
import math

import numpy as np

MAX_CHECKPOINTS = 64
MAX_BYTES = 50_000_000
KEEP_LAST = 4


def _pos(examples):
    return math.log1p(examples)


class Timeline:
    """See the module docstring."""

    def __init__(self, max_checkpoints=MAX_CHECKPOINTS, max_bytes=MAX_BYTES, keep_last=KEEP_LAST):
        if max_checkpoints < 2:
            raise ValueError("Timeline: max_checkpoints must be at least 2 (the first and the latest)")
        self.max_checkpoints = int(max_checkpoints)
        self.max_bytes = int(max_bytes)
        self.keep_last = max(1, int(keep_last))
        self.clear()

    def clear(self):
        self._examples = []  # ascending
        self._params = []  # a list of read-only arrays per checkpoint
        self._sizes = []
        self.nbytes = 0
        self._next_due = 0
        self.too_large = None  # bytes of a checkpoint refused as more than half of max_bytes

    def __len__(self):
        return len(self._examples)

    def examples(self):
        return list(self._examples)

    def due(self, examples):
        """Is a checkpoint wanted at this examples count? One comparison."""
        return examples >= self._next_due

    def record(self, examples, params):
        """Store a copy of `params` (a list of arrays) as the net at `examples`. Returns False
        (storing nothing) if `examples` is not past the latest checkpoint or one checkpoint is
        more than half of max_bytes (the first and the latest must both fit: `too_large` then
        says its size, and nothing is due any more until clear())."""
        examples = int(examples)
        if self._examples and examples <= self._examples[-1]:
            return False
        size = sum(int(p.nbytes) for p in params)
        if 2 * size > self.max_bytes:
            self.too_large = size
            self._next_due = math.inf
            return False
        stored = []
        for p in params:
            c = np.array(p, copy=True)
            c.flags.writeable = False
            stored.append(c)
        self._examples.append(examples)
        self._params.append(stored)
        self._sizes.append(size)
        self.nbytes += size
        while len(self._examples) > 2 and (len(self._examples) > self.max_checkpoints or self.nbytes > self.max_bytes):
            self._drop(self._thinnest())
        self._next_due = self._due_after(examples)
        return True

    def at(self, examples):
        """(examples, params) of the stored checkpoint nearest at or before `examples` (the first
        one if `examples` is before it). The arrays are the stored read-only copies."""
        if not self._examples:
            raise LookupError("the timeline is empty: no checkpoint recorded yet")
        i = max(0, bisect.bisect_right(self._examples, examples) - 1)
        return self._examples[i], list(self._params[i])

    # --- thinning -------------------------------------------------------------------------

    def _capacity(self):
        """How many checkpoints the bounds allow at today's checkpoint size."""
        size = self._sizes[-1] if self._sizes else 0
        by_bytes = self.max_bytes // size if size else self.max_checkpoints
        return max(2, min(self.max_checkpoints, by_bytes))

    def _due_after(self, latest):
        """The examples count at which the next checkpoint is due: latest moved on by
        1/keep_last of the even log spacing a full store would have."""
        first = self._examples[0]
        n = self._capacity()
        spacing = (_pos(latest) - _pos(first)) / max(1, n - 1)
        step = spacing / self.keep_last
        return max(latest + 1, int(math.ceil(math.expm1(_pos(latest) + step))))

    def _thinnest(self):
        """Index of the checkpoint whose removal leaves the most even log spacing."""
        n = len(self._examples)
        last = n - 1
        candidates = range(1, max(1, n - self.keep_last))
        if not candidates:
            candidates = range(1, last)
        pos = [_pos(e) for e in self._examples]
        best, best_gap = None, None
        for i in candidates:
            gap = pos[i + 1] - pos[i - 1]
            if best_gap is None or gap < best_gap:
                best, best_gap = i, gap
        return best

    def _drop(self, i):
        self.nbytes -= self._sizes[i]
        del self._examples[i], self._params[i], self._sizes[i]
