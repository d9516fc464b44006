"""Flat parameter buffers: all of a net's parameters in one contiguous array, all of its
gradients in another, so that an optimizer step is a few whole-array NumPy operations instead
of a Python loop over every weight and bias (the per-step cost that dominates at batch 1-4).

The layers keep working with their own arrays: bind() copies them into the flat buffer and
puts views of it back into the layers' dicts, so `layer.param["weight"]`, `net.params()` and
the flat buffer are the same memory. ParamDict is the read-only {"conv1.weight": array} dict
that Net.params() and Net.grads() return, with the buffer (`flat`) and where each array sits
in it (`layout`) attached; optim.py uses them when it finds them and loops over the dict when
not. Net (net.py) decides when to bind; nothing here knows about layers. Pure NumPy (runs in
Pyodide: Python 3.8, NumPy 1.17).
"""

from __future__ import annotations

import numpy as np


class ParamDict(dict):
    """{key: array}, read-only. `flat`: the 1-d buffer whose consecutive views the arrays are,
    or None; `layout`: ((key, start, stop, shape), ...) of those views, one tuple object per
    binding, shared by the parameters and gradients of that binding (so `is` tells that two
    ParamDicts line up, and that nothing was re-bound since)."""

    __slots__ = ("flat", "layout", "kernels")

    def __init__(self, items=(), flat=None, layout=None, kernels=None):
        dict.__init__(self, items)
        self.flat = flat
        self.layout = layout
        self.kernels = kernels  # the net's kernel module: optim.py takes its fused update, if any

    def _read_only(self, *args, **kwargs):
        raise TypeError(
            "a net's parameter dict is read-only: write into its arrays (p[...] = value) or use Net.load_params"
        )

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _read_only

    def __reduce__(self):  # copy.copy / pickle give a plain dict of the same arrays
        return dict, (dict(self),)


def make_layout(shapes):
    """((key, start, stop, shape), ...) for [(key, shape), ...] laid end to end."""
    layout, start = [], 0
    for key, shape in shapes:
        stop = start + int(np.prod(shape, dtype=np.int64))
        layout.append((key, start, stop, tuple(shape)))
        start = stop
    return tuple(layout)


def bind(owners, layout, dtype, kernels=None):
    """Copy each owner's array into one new flat buffer and put the views back in its place.

    owners: [(dict, name), ...] aligned with layout, the array being dict[name]. Returns the
    ParamDict {key: view} over the new buffer, its `kernels` the given kernel module.
    """
    size = layout[-1][2] if layout else 0
    flat = np.empty(size, dtype=dtype)
    views = []
    for (owner, name), (key, start, stop, shape) in zip(owners, layout):
        view = flat[start:stop].reshape(shape)  # a view: the slice is contiguous
        view[...] = owner[name]
        owner[name] = view
        views.append((key, view))
    return ParamDict(views, flat, layout, kernels)
