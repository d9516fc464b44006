"""Sizing a net to its data: the input volume and the classifier's class count.

The presets are written for CIFAR-10 (32x32x3 in, 10 classes out); a user's image folder may
have 2 to 100 classes and another image size. `fit_spec` rewrites a spec's input shape and its
classifier (the fc in front of the softmax, and the softmax) and lets shape inference size
everything in between, so every preset trains on any folder without edits. `class_mismatch`
is the one message every front end gives when a spec or snapshot the user chose explicitly
does not fit the data: it names both numbers and what to do (a net the user wrote is never
resized behind their back, and never trains a silent 10-way head on 3 classes).

What does not live here: validation and shape inference themselves (spec.py).
"""

from __future__ import annotations

from .errors import SpecError
from .spec import normalize, to_json


def fit_spec(spec, num_classes=None, input_shape=None):
    """Canonical layers of `spec` with its classifier sized to `num_classes` and its input to
    `input_shape` ([H, W, C]); None keeps what the spec says. SpecError if the layers do not
    fit the new input (a kernel larger than what reaches it, say)."""
    layers = [dict(layer) for layer in to_json(normalize(spec))]
    if input_shape is not None:
        layers[0]["shape"] = [int(s) for s in input_shape]
    if num_classes is not None:
        n = int(num_classes)
        # normalize() guarantees an fc right before the softmax: the scores layer.
        layers[-2]["out_features"] = n
        layers[-1]["num_classes"] = n
    return normalize(layers)


def class_mismatch(what, net_classes, data_classes):
    """The message for a net (`what`: "the snapshot x.npz", "the net spec.json") whose class
    count differs from the data's, or None when they agree."""
    if int(net_classes) == int(data_classes):
        return None
    return (
        "%s classifies %d classes but the data have %d — use data with %d classes, or train a "
        "new net on these data (a preset is sized to the data's classes; in a spec file set the "
        'softmax\'s "num_classes" to %d)' % (what, net_classes, data_classes, net_classes, data_classes)
    )


def check_classes(what, net_classes, data_classes):
    """SpecError with class_mismatch's message when the counts differ."""
    msg = class_mismatch(what, net_classes, data_classes)
    if msg:
        raise SpecError(msg)
