"""Import of ConvNetJS's `net.toJSON()` snapshots, so a ConvNetJS user brings their nets along.

ConvNetJS stores a volume as w[((W * y) + x) * depth + d] — channels last, like our
activations — so a conv filter maps onto our (F, C, HH, WW) weight by a reshape and a
transpose, and an fc layer's weights (flattened in the same order) map over unchanged.
The imported net carries ConvNetJS's preprocessing of its CIFAR-10 demo, x/255 - 0.5.
"""

from __future__ import annotations

import json

import numpy as np

from .errors import SnapshotError
from .snapshot_format import Snapshot, make_meta

CONVNETJS_PREPROCESS = {"scale": 1.0 / 255.0, "shift": -0.5}
_SIMPLE = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}


def _values(obj, n, where):
    """A ConvNetJS Float64Array as toJSON writes it ({"0": v, ...} or a list) -> ndarray."""
    if isinstance(obj, dict):
        try:
            vals = [obj[str(i)] for i in range(n)]
        except KeyError:
            raise SnapshotError("%s: expected %d weights, found %d" % (where, n, len(obj))) from None
    elif isinstance(obj, list):
        vals = obj
    else:
        raise SnapshotError("%s: weights are missing" % where)
    try:
        arr = np.asarray(vals, dtype=np.float64)
    except (TypeError, ValueError):
        raise SnapshotError("%s: weights must be numbers" % where) from None
    if arr.shape != (n,):
        raise SnapshotError("%s: expected %d weights, found %d" % (where, n, arr.size))
    if not np.isfinite(arr).all():
        # ConvNetJS writes NaN as null: this is what a diverged net's file looks like.
        raise SnapshotError("%s: weights hold NaN or infinite values (the net had diverged)" % where)
    return arr


def _filters(L, count, size, where):
    filters = L["filters"]
    if not isinstance(filters, list) or len(filters) != count:
        raise SnapshotError(
            "%s: expected %d filters, found %s" % (where, count, len(filters) if isinstance(filters, list) else 0)
        )
    return np.stack([_values(f["w"], size, where) for f in filters])


def convnetjs_to_snapshot(data):
    """A Snapshot from the bytes (or parsed dict) of a ConvNetJS toJSON() file."""
    if isinstance(data, (bytes, bytearray, str)):
        try:
            data = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SnapshotError("not a valid ConvNetJS JSON file: %s" % e) from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or not layers:
        raise SnapshotError('not a ConvNetJS snapshot: expected {"layers": [...]} from net.toJSON()')
    spec, arrays = [], {}
    counts = {}
    scale = 1.0  # pending dropout scale, folded into the next conv/fc weights
    for i, L in enumerate(layers):
        if not isinstance(L, dict):
            raise SnapshotError("ConvNetJS layer %d is not an object" % i)
        kind = L.get("layer_type")
        if not isinstance(kind, str):
            raise SnapshotError("ConvNetJS layer %d has no layer_type" % i)
        where = "ConvNetJS layer %d (%s)" % (i, kind)
        counts[kind] = counts.get(kind, 0) + 1
        name = "%s%d" % (kind, counts[kind])
        try:
            if kind == "input":
                spec.append({"type": "input", "shape": [L["out_sy"], L["out_sx"], L["out_depth"]]})
            elif kind == "conv":
                F, k, C = L["out_depth"], L["sx"], L["in_depth"]
                if L.get("sy", k) != k:
                    raise SnapshotError("%s: only square filters are supported" % where)
                spec.append(
                    {
                        "type": "conv",
                        "name": name,
                        "out_channels": F,
                        "kernel_size": k,
                        "stride": L["stride"],
                        "padding": L["pad"],
                    }
                )
                w = _filters(L, F, k * k * C, where) * scale
                scale = 1.0
                arrays[name + ".weight"] = w.reshape(F, k, k, C).transpose(0, 3, 1, 2)  # (F, C, HH, WW)
                arrays[name + ".bias"] = _values(L["biases"]["w"], F, where)
            elif kind == "fc":
                M, D = L["out_depth"], L["num_inputs"]
                spec.append({"type": "fc", "name": name, "out_features": M})
                arrays[name + ".weight"] = _filters(L, M, D, where) * scale
                scale = 1.0
                arrays[name + ".bias"] = _values(L["biases"]["w"], M, where)
            elif kind == "pool":
                if L.get("pad", 0):
                    raise SnapshotError("%s: padded pooling is not supported" % where)
                spec.append({"type": "pool", "name": name, "kernel_size": L["sx"], "stride": L["stride"]})
            elif kind in _SIMPLE:
                if kind != "relu" and scale != 1.0:
                    raise SnapshotError("%s: a dropout before a %s layer cannot be imported" % (where, kind))
                spec.append({"type": _SIMPLE[kind], "name": name})
            elif kind == "dropout":
                # ConvNetJS scales a dropout layer's output by drop_prob at test time (and not
                # at train time); ours is the identity then. A positive scale passes through
                # relu and max-pool unchanged, so it is folded into the next layer's weights.
                p = float(L.get("drop_prob", 0.5))
                scale *= p
                spec.append({"type": "dropout", "name": name, "p": p})
            elif kind == "softmax":
                if scale != 1.0:
                    raise SnapshotError("%s: a dropout right before the softmax cannot be imported" % where)
                spec.append({"type": "softmax", "num_classes": L["out_depth"]})
            else:
                raise SnapshotError(
                    "%s: this layer type is not supported (supported: input, conv, pool, "
                    "relu, tanh, sigmoid, fc, dropout, softmax)" % where
                )
        except SnapshotError:
            raise
        # ValueError: a count that is negative, fractional or not a number (reshape, float())
        except (KeyError, TypeError, ValueError) as e:
            raise SnapshotError("%s: missing or malformed field %s" % (where, e)) from None
    meta = make_meta(spec, dict(CONVNETJS_PREPROCESS), info={"imported_from": "ConvNetJS toJSON()"})
    return Snapshot(meta, arrays)
